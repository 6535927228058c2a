"""The left-skewed Gumbel distribution (``jax.scipy.stats.gumbel_l``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import xlog1py, xlogy
from ._util import args, c


def _valid(scale, val):
    return jnp.where(lax.gt(scale, c(scale, 0)), val, lax.full_like(val, np.nan))


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_l.logpdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return _valid(scale, lax.add(xlogy(c(scale, -1), scale), lax.sub(z, lax.exp(z))))


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_l.logcdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return _valid(scale, lax.log(-lax.expm1(lax.neg(lax.exp(z)))))


def cdf(x, loc=0, scale=1):
    return lax.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = args("gumbel_l.ppf", p, loc, scale)
    inside = lax.bitwise_and(lax.gt(p, c(p, 0)), lax.lt(p, c(p, 1)))
    q = lax.add(loc, lax.mul(scale, lax.log(xlog1py(c(p, -1), lax.neg(p)))))
    return jnp.where(inside, q, lax.full_like(q, np.nan))


def logsf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_l.logsf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return _valid(scale, lax.neg(lax.exp(z)))


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))
