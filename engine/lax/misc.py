"""stop_gradient, clamp, bitcast_convert_type and other small primitives."""
from __future__ import annotations

__all__ = []
