"""The logistic distribution (``jax.scipy.stats.logistic``)."""

from __future__ import annotations

from ... import lax
from ... import numpy as jnp
from ..special import expit, logit
from ._util import args, c


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("logistic.logpdf", x, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    half = lax.div(z, c(z, 2))
    return lax.sub(lax.mul(c(z, -2), jnp.logaddexp(half, lax.neg(half))), lax.log(scale))


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = args("logistic.cdf", x, loc, scale)
    return expit(lax.div(lax.sub(x, loc), scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = args("logistic.sf", x, loc, scale)
    return expit(lax.neg(lax.div(lax.sub(x, loc), scale)))


def ppf(x, loc=0, scale=1):
    x, loc, scale = args("logistic.ppf", x, loc, scale)
    return lax.add(lax.mul(logit(x), scale), loc)


def isf(x, loc=0, scale=1):
    x, loc, scale = args("logistic.isf", x, loc, scale)
    return lax.add(lax.mul(lax.neg(logit(x)), scale), loc)
