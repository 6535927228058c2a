"""slice, dynamic_slice, dynamic_update_slice, pad, concatenate, rev, iota ..."""
from __future__ import annotations

__all__ = []
