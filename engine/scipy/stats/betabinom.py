"""The beta-binomial distribution (``jax.scipy.stats.betabinom``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import betaln
from ._util import args, c


def logpmf(k, n, a, b, loc=0):
    k, n, a, b, loc = args("betabinom.logpmf", k, n, a, b, loc)
    y = lax.sub(lax.floor(k), loc)
    one, zero = c(y, 1), c(y, 0)
    log_comb = lax.neg(lax.add(lax.log1p(n), betaln(lax.add(lax.sub(n, y), one), lax.add(y, one))))
    log_betas = lax.sub(betaln(lax.add(y, a), lax.add(lax.sub(n, y), b)), betaln(a, b))
    log_p = lax.add(log_comb, log_betas)
    log_p = jnp.where(
        jnp.logical_and(lax.eq(y, zero), lax.eq(n, zero)), lax.full_like(log_p, 0), log_p
    )
    outside = jnp.logical_or(
        jnp.logical_or(lax.lt(y, lax.neg(loc)), lax.gt(y, n)), lax.le(lax.add(y, a), zero)
    )
    log_p = jnp.where(outside, lax.full_like(log_p, -np.inf), log_p)
    bad = jnp.logical_or(jnp.logical_or(lax.lt(n, zero), lax.le(a, zero)), lax.le(b, zero))
    return jnp.where(bad, lax.full_like(log_p, np.nan), log_p)


def pmf(k, n, a, b, loc=0):
    return lax.exp(logpmf(k, n, a, b, loc))
