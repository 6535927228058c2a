"""The negative binomial distribution (``jax.scipy.stats.nbinom``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import gammaln, xlogy
from ._util import args, c


def logpmf(k, n, p, loc=0):
    k, n, p, loc = args("nbinom.logpmf", k, n, p, loc)
    one = c(k, 1)
    y = lax.sub(k, loc)
    log_comb = lax.sub(lax.sub(gammaln(lax.add(y, n)), gammaln(n)), gammaln(lax.add(y, one)))
    log_p = lax.add(log_comb, lax.add(xlogy(n, p), xlogy(y, lax.sub(one, p))))
    return jnp.where(lax.lt(k, loc), lax.full_like(log_p, -np.inf), log_p)


def pmf(k, n, p, loc=0):
    return lax.exp(logpmf(k, n, p, loc))
