"""The normal distribution truncated to [a, b] in standard units (``jax.scipy.stats.truncnorm``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import log_ndtr, logsumexp, ndtr
from . import norm
from ._util import args


def _log_diff(x, y):
    """log(exp(x) - exp(y)), stably."""
    return logsumexp(jnp.array([x, y]), b=jnp.array([jnp.ones_like(x), -jnp.ones_like(y)]), axis=0)


def _log_mass(a, b):
    """log(ndtr(b) - ndtr(a)), through whichever tail keeps precision."""
    a, b = jnp.broadcast_arrays(jnp.array(a), jnp.array(b))
    left, right = b <= 0, a > 0
    central = ~(left | right)
    a_tail = jnp.where(right, -b, a)
    b_tail = jnp.where(right, -a, b)
    tail = _log_diff(log_ndtr(b_tail), log_ndtr(a_tail))
    middle = jnp.log1p(-ndtr(a) - ndtr(-b))
    return jnp.where(central, middle, tail)


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("truncnorm.logpdf", x, a, b, loc, scale)
    val = lax.sub(norm.logpdf(x, loc, scale), _log_mass(a, b))
    z = lax.div(lax.sub(x, loc), scale)
    val = jnp.where((z < a) | (z > b), lax.full_like(val, -np.inf), val)
    return jnp.where(a >= b, lax.full_like(val, np.nan), val)


def pdf(x, a, b, loc=0, scale=1):
    return lax.exp(logpdf(x, a, b, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("truncnorm.logcdf", x, a, b, loc, scale)
    x, a, b = jnp.broadcast_arrays(x, a, b)
    z = lax.div(lax.sub(x, loc), scale)
    total = _log_mass(a, b)
    log_cdf = _log_mass(a, z) - total
    log_sf = _log_mass(z, b) - total
    # the first condition that holds picks: z >= b, z <= a, near 1 (via the sf), z > a
    out = jnp.where(z > a, log_cdf, lax.full_like(log_cdf, 0))
    out = jnp.where(log_cdf > -0.1, jnp.log1p(-jnp.exp(log_sf)), out)
    out = jnp.where(z <= a, lax.full_like(out, -np.inf), out)
    out = jnp.where(z >= b, lax.full_like(out, 0), out)
    return jnp.where(a >= b, lax.full_like(out, np.nan), out)


def cdf(x, a, b, loc=0, scale=1):
    return lax.exp(logcdf(x, a, b, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


def sf(x, a, b, loc=0, scale=1):
    return lax.exp(logsf(x, a, b, loc, scale))
