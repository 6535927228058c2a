"""The chi-squared distribution (``jax.scipy.stats.chi2``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import gammainc, gammaincc
from ._util import args, c


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = args("chi2.logpdf", x, df, loc, scale)
    one, two = c(x, 1), c(x, 2)
    y = lax.div(lax.sub(x, loc), scale)
    half_df = lax.div(df, two)
    kernel = lax.sub(lax.mul(lax.sub(half_df, one), lax.log(y)), lax.div(y, two))
    log_norm = lax.neg(lax.add(lax.lgamma(half_df), lax.div(lax.mul(lax.log(two), df), two)))
    log_p = lax.add(lax.sub(log_norm, lax.log(scale)), kernel)
    return jnp.where(lax.lt(x, loc), lax.full_like(log_p, -np.inf), log_p)


def pdf(x, df, loc=0, scale=1):
    return lax.exp(logpdf(x, df, loc, scale))


def _half_y(x, loc, scale):
    z = lax.div(lax.sub(x, loc), lax.mul(scale, c(scale, 2)))
    return lax.clamp(c(x, 0), z, c(x, np.inf))


def cdf(x, df, loc=0, scale=1):
    x, df, loc, scale = args("chi2.cdf", x, df, loc, scale)
    return gammainc(lax.div(df, c(scale, 2)), _half_y(x, loc, scale))


def logcdf(x, df, loc=0, scale=1):
    return lax.log(cdf(x, df, loc, scale))


def sf(x, df, loc=0, scale=1):
    x, df, loc, scale = args("chi2.sf", x, df, loc, scale)
    return gammaincc(lax.div(df, c(scale, 2)), _half_y(x, loc, scale))


def logsf(x, df, loc=0, scale=1):
    return lax.log(sf(x, df, loc, scale))
