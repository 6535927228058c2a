"""The Laplace distribution (``jax.scipy.stats.laplace``)."""

from __future__ import annotations

from ... import lax
from ._util import args, c


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("laplace.logpdf", x, loc, scale)
    dist = lax.div(lax.abs(lax.sub(x, loc)), scale)
    return lax.neg(lax.add(dist, lax.log(lax.mul(c(x, 2), scale))))


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = args("laplace.cdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    below = lax.mul(c(x, 0.5), lax.exp(z))
    above = lax.sub(c(x, 1), lax.mul(c(x, 0.5), lax.exp(lax.neg(z))))
    return lax.select(lax.le(z, c(x, 0)), below, above)
