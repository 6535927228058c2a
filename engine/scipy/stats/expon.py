"""The exponential distribution (``jax.scipy.stats.expon``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("expon.logpdf", x, loc, scale)
    log_p = lax.neg(lax.add(lax.div(lax.sub(x, loc), scale), lax.log(scale)))
    return jnp.where(lax.lt(x, loc), lax.full_like(log_p, -np.inf), log_p)


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = args("expon.cdf", x, loc, scale)
    neg_z = lax.div(lax.sub(loc, x), scale)
    return jnp.where(lax.lt(x, loc), jnp.zeros_like(neg_z), lax.neg(lax.expm1(neg_z)))


def logcdf(x, loc=0, scale=1):
    return lax.log1p(lax.neg(sf(x, loc, scale)))


def logsf(x, loc=0, scale=1):
    x, loc, scale = args("expon.sf", x, loc, scale)
    neg_z = lax.div(lax.sub(loc, x), scale)
    return jnp.where(lax.lt(x, loc), jnp.zeros_like(neg_z), neg_z)


def sf(x, loc=0, scale=1):
    return lax.exp(logsf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = args("expon.ppf", q, loc, scale)
    val = lax.sub(loc, lax.mul(scale, lax.log1p(lax.neg(q))))
    bad = jnp.isnan(q) | (q < 0) | (q > 1)
    return jnp.where(bad, lax.full_like(val, np.nan), val)
