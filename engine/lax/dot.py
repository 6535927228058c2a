"""dot_general (with preferred element type)."""
from __future__ import annotations

__all__ = []
