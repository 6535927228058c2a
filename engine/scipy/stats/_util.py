"""Shared helpers of ``engine.scipy.stats``."""

from __future__ import annotations

from ...numpy._util import as_array, dtype_of, promote_args_inexact, weak_scalar


def args(name, *xs):
    """NumPy-style promotion to a common inexact dtype, as arrays."""
    return tuple(as_array(x) for x in promote_args_inexact(name, *xs))


def c(x, v):
    """A weakly typed scalar of ``x``'s dtype."""
    return weak_scalar(v, dtype_of(x))
