"""The Bernoulli distribution (``jax.scipy.stats.bernoulli``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import xlog1py, xlogy
from ._util import args, c


def logpmf(k, p, loc=0):
    k, p, loc = args("bernoulli.logpmf", k, p, loc)
    one = c(k, 1)
    x = lax.sub(k, loc)
    log_p = xlogy(x, p) + xlog1py(lax.sub(one, x), -p)
    outside = jnp.logical_or(lax.lt(x, c(k, 0)), lax.gt(x, one))
    return jnp.where(outside, lax.full_like(log_p, -np.inf), log_p)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))


def _bad_p(p):
    return jnp.isnan(p) | (p < c(p, 0)) | (p > c(p, 1))


def cdf(k, p):
    k, p = args("bernoulli.cdf", k, p)
    zero, one = lax.full_like(p, 0), lax.full_like(p, 1)
    out = jnp.where(lax.ge(k, c(k, 1)), one, zero)
    out = jnp.where(jnp.logical_and(lax.ge(k, c(k, 0)), lax.lt(k, c(k, 1))), one - p, out)
    out = jnp.where(lax.lt(k, c(k, 0)), zero, out)
    return jnp.where(jnp.isnan(k) | _bad_p(p), lax.full_like(p, np.nan), out)


def ppf(q, p):
    q, p = args("bernoulli.ppf", q, p)
    out = jnp.where(lax.le(q, c(q, 1) - p), lax.full_like(q, 0), lax.full_like(q, 1))
    bad = jnp.isnan(q) | _bad_p(p) | (q < c(q, 0)) | (q > c(q, 1))
    return jnp.where(bad, lax.full_like(out, np.nan), out)
