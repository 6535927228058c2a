"""The Pareto distribution (``jax.scipy.stats.pareto``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args, c


def _below(x, loc, scale):
    return lax.lt(x, lax.add(loc, scale))


def logpdf(x, b, loc=0, scale=1):
    x, b, loc, scale = args("pareto.logpdf", x, b, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    log_p = lax.neg(lax.add(lax.log(lax.div(scale, b)), lax.mul(lax.add(b, c(x, 1)), lax.log(z))))
    return jnp.where(_below(x, loc, scale), lax.full_like(log_p, -np.inf), log_p)


def pdf(x, b, loc=0, scale=1):
    return lax.exp(logpdf(x, b, loc, scale))


def cdf(x, b, loc=0, scale=1):
    x, b, loc, scale = args("pareto.cdf", x, b, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    p = lax.sub(c(x, 1), lax.pow(z, lax.neg(b)))
    return jnp.where(_below(x, loc, scale), lax.full_like(p, 0), p)


def logcdf(x, b, loc=0, scale=1):
    x, b, loc, scale = args("pareto.logcdf", x, b, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    val = lax.log1p(lax.neg(lax.pow(z, lax.neg(b))))
    return jnp.where(_below(x, loc, scale), lax.full_like(val, -np.inf), val)


def logsf(x, b, loc=0, scale=1):
    x, b, loc, scale = args("pareto.logsf", x, b, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    val = lax.neg(lax.mul(b, lax.log(z)))
    return jnp.where(_below(x, loc, scale), lax.full_like(val, 0), val)


def sf(x, b, loc=0, scale=1):
    return lax.exp(logsf(x, b, loc, scale))


def ppf(q, b, loc=0, scale=1):
    q, b, loc, scale = args("pareto.ppf", q, b, loc, scale)
    one = c(q, 1)
    val = lax.add(loc, lax.mul(scale, lax.pow(lax.sub(one, q), lax.neg(lax.div(one, b)))))
    bad = jnp.isnan(q) | (q < 0) | (q > 1)
    return jnp.where(bad, lax.full_like(val, np.nan), val)
