"""The right-skewed Gumbel distribution (``jax.scipy.stats.gumbel_r``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import xlogy
from ._util import args, c, log1mexp


def _valid(scale, val):
    return jnp.where(lax.gt(scale, c(scale, 0)), val, lax.full_like(val, np.nan))


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_r.logpdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    val = lax.add(xlogy(c(scale, -1), scale), lax.neg(lax.add(z, lax.exp(lax.neg(z)))))
    return _valid(scale, val)


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def logcdf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_r.logcdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return _valid(scale, lax.neg(lax.exp(lax.neg(z))))


def cdf(x, loc=0, scale=1):
    return lax.exp(logcdf(x, loc, scale))


def ppf(p, loc=0, scale=1):
    p, loc, scale = args("gumbel_r.ppf", p, loc, scale)
    inside = lax.bitwise_and(lax.gt(p, c(p, 0)), lax.lt(p, c(p, 1)))
    q = lax.sub(loc, lax.mul(scale, lax.log(xlogy(c(p, -1), p))))
    return jnp.where(inside, q, lax.full_like(q, np.nan))


def sf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_r.sf", x, loc, scale)
    neg_z = lax.div(lax.sub(loc, x), scale)
    return _valid(scale, lax.sub(c(x, 1), lax.exp(lax.neg(lax.exp(neg_z)))))


def logsf(x, loc=0, scale=1):
    x, loc, scale = args("gumbel_r.logsf", x, loc, scale)
    neg_z = lax.div(lax.sub(loc, x), scale)
    return _valid(scale, log1mexp(lax.exp(neg_z)))
