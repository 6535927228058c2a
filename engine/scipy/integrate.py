"""``engine.scipy.integrate``: ``trapezoid``, as JAX has it."""

from __future__ import annotations

from ..numpy import trapezoid as _trapezoid

__all__ = ["trapezoid"]


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at sample points
    ``x`` (or spacing ``dx``)."""
    return _trapezoid(y, x, dx, axis)
