"""The Cauchy distribution (``jax.scipy.stats.cauchy``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args, c


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("cauchy.logpdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return lax.neg(lax.add(lax.log(lax.mul(c(x, np.pi), scale)), lax.log1p(lax.mul(z, z))))


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = args("cauchy.cdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    return lax.add(c(x, 0.5), lax.mul(lax.div(c(x, 1.0), c(x, np.pi)), jnp.arctan(z)))


def logcdf(x, loc=0, scale=1):
    return lax.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = args("cauchy.sf", x, loc, scale)
    return cdf(-x, -loc, scale)


def logsf(x, loc=0, scale=1):
    x, loc, scale = args("cauchy.logsf", x, loc, scale)
    return logcdf(-x, -loc, scale)


def ppf(q, loc=0, scale=1):
    q, loc, scale = args("cauchy.ppf", q, loc, scale)
    unit = lax.tan(lax.sub(lax.mul(c(q, np.pi), q), c(q, np.pi / 2)))
    return lax.add(lax.mul(unit, scale), loc)


def isf(q, loc=0, scale=1):
    q, loc, scale = args("cauchy.isf", q, loc, scale)
    unit = lax.tan(lax.sub(c(q, np.pi / 2), lax.mul(c(q, np.pi), q)))
    return lax.add(lax.mul(unit, scale), loc)
