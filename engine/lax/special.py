"""Special functions: erf, erfc, erf_inv, lgamma, digamma, nextafter ..."""
from __future__ import annotations

__all__ = []
