"""The beta distribution on [loc, loc + scale] (``jax.scipy.stats.beta``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import betainc, betaln, xlog1py, xlogy
from ._util import args, c


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("beta.logpdf", x, a, b, loc, scale)
    one = c(x, 1)
    y = lax.div(lax.sub(x, loc), scale)
    kernel = lax.add(xlogy(lax.sub(a, one), y), xlog1py(lax.sub(b, one), lax.neg(y)))
    log_p = lax.sub(lax.add(lax.neg(betaln(a, b)), kernel), lax.log(scale))
    outside = jnp.logical_or(lax.gt(x, lax.add(loc, scale)), lax.lt(x, loc))
    out = jnp.where(outside, lax.full_like(log_p, -np.inf), log_p)
    zero = c(a, 0)
    bad = jnp.logical_or(jnp.logical_or(lax.le(a, zero), lax.le(b, zero)), lax.le(scale, zero))
    return jnp.where(bad, lax.full_like(out, np.nan), out)


def pdf(x, a, b, loc=0, scale=1):
    return lax.exp(logpdf(x, a, b, loc, scale))


def _unit(x, loc, scale):
    return lax.clamp(c(x, 0), lax.div(lax.sub(x, loc), scale), c(x, 1))


def cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("beta.cdf", x, a, b, loc, scale)
    return betainc(a, b, _unit(x, loc, scale))


def logcdf(x, a, b, loc=0, scale=1):
    return lax.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = args("beta.sf", x, a, b, loc, scale)
    return betainc(b, a, c(x, 1) - _unit(x, loc, scale))


def logsf(x, a, b, loc=0, scale=1):
    return lax.log(sf(x, a, b, loc, scale))
