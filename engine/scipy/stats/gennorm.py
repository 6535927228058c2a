"""The generalized normal distribution (``jax.scipy.stats.gennorm``)."""

from __future__ import annotations

from ... import lax
from ._util import args


def logpdf(x, beta):
    x, beta = args("gennorm.logpdf", x, beta)
    return lax.log(0.5 * beta) - lax.lgamma(1 / beta) - lax.abs(x) ** beta


def cdf(x, beta):
    x, beta = args("gennorm.cdf", x, beta)
    return 0.5 * (1 + lax.sign(x) * lax.igamma(1 / beta, lax.abs(x) ** beta))


def pdf(x, beta):
    return lax.exp(logpdf(x, beta))
