"""Shared helpers of ``engine.scipy.stats``."""

from __future__ import annotations

import numpy as np

from ... import lax
from ...numpy._util import as_array, dtype_of, promote_args_inexact, weak_scalar
from .. import _custom


def args(name, *xs):
    """NumPy-style promotion to a common inexact dtype, as arrays."""
    return tuple(as_array(x) for x in promote_args_inexact(name, *xs))


def c(x, v):
    """A weakly typed scalar of ``x``'s dtype."""
    return weak_scalar(v, dtype_of(x))


def _log1mexp_impl(x):
    from ... import numpy as jnp

    small = x < c(x, float(np.log(2.0)))
    return jnp.where(small, jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


_log1mexp_p = _custom.elementwise("log1mexp", _log1mexp_impl, lambda g, ans, x: g / lax.expm1(x))


def log1mexp(x):
    """log(1 - exp(-x)) for x >= 0, with JAX's derivative g / expm1(x)."""
    return _log1mexp_p.bind(x)
