"""The gamma distribution (``jax.scipy.stats.gamma``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import gammainc, gammaincc, gammaln, xlogy
from ._util import args, c


def logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = args("gamma.logpdf", x, a, loc, scale)
    ok = lax.ge(x, loc)
    one = c(x, 1)
    y = jnp.where(ok, lax.div(lax.sub(x, loc), scale), lax.full_like(x, 1))
    kernel = lax.sub(xlogy(lax.sub(a, one), y), y)
    log_p = lax.sub(kernel, lax.add(gammaln(a), lax.log(scale)))
    return jnp.where(ok, log_p, lax.full_like(log_p, -np.inf))


def pdf(x, a, loc=0, scale=1):
    return lax.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = args("gamma.cdf", x, a, loc, scale)
    y = lax.clamp(c(x, 0), lax.div(lax.sub(x, loc), scale), c(x, np.inf))
    return gammainc(a, y)


def logcdf(x, a, loc=0, scale=1):
    return lax.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    x, a, loc, scale = args("gamma.sf", x, a, loc, scale)
    y = lax.div(lax.sub(x, loc), scale)
    q = gammaincc(a, y)
    return jnp.where(lax.lt(y, c(y, 0)), lax.full_like(q, 1), q)


def logsf(x, a, loc=0, scale=1):
    return lax.log(sf(x, a, loc, scale))
