"""The binomial distribution (``jax.scipy.stats.binom``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import gammaln, xlog1py, xlogy
from ._util import args, c


def logpmf(k, n, p, loc=0):
    k, n, p, loc = args("binom.logpmf", k, n, p, loc)
    y = lax.sub(k, loc)
    one, zero = c(y, 1), c(y, 0)
    log_comb = lax.sub(gammaln(n + one), lax.add(gammaln(y + one), gammaln(n - y + one)))
    kernel = lax.add(xlogy(y, p), xlog1py(lax.sub(n, y), lax.neg(p)))
    log_p = lax.add(log_comb, kernel)
    # certain outcomes (y == n == 0, or a zero kernel: p in {0, 1} at the end) get log 1
    certain = jnp.logical_or(
        jnp.logical_and(lax.eq(y, zero), lax.eq(n, zero)), lax.eq(kernel, zero)
    )
    log_p = jnp.where(certain, lax.full_like(log_p, 0), log_p)
    inside = lax.ge(k, loc) & lax.lt(k, loc + n + one)
    return jnp.where(inside, log_p, lax.full_like(log_p, -np.inf))


def pmf(k, n, p, loc=0):
    return lax.exp(logpmf(k, n, p, loc))
