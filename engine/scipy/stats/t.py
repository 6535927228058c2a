"""Student's t distribution (``jax.scipy.stats.t``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ._util import args, c


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = args("t.logpdf", x, df, loc, scale)
    z = lax.div(lax.sub(x, loc), scale)
    half_df = lax.div(df, c(x, 2))
    half_df1 = lax.add(half_df, c(x, 0.5))
    log_norm = lax.div(lax.log(lax.mul(lax.mul(lax.mul(scale, scale), c(x, np.pi)), df)), c(x, 2))
    log_norm = lax.sub(lax.add(lax.lgamma(half_df), log_norm), lax.lgamma(half_df1))
    quad = lax.div(lax.mul(z, z), df)
    return lax.neg(lax.add(log_norm, lax.mul(half_df1, lax.log1p(quad))))


def pdf(x, df, loc=0, scale=1):
    return lax.exp(logpdf(x, df, loc, scale))
