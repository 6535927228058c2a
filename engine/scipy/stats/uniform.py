"""The uniform distribution on [loc, loc + scale] (``jax.scipy.stats.uniform``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args


def logpdf(x, loc=0, scale=1):
    x, loc, scale = args("uniform.logpdf", x, loc, scale)
    outside = jnp.logical_or(lax.gt(x, lax.add(loc, scale)), lax.lt(x, loc))
    log_p = lax.neg(lax.log(scale))
    return jnp.where(outside, lax.full_like(log_p, -np.inf), log_p)


def pdf(x, loc=0, scale=1):
    return lax.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = args("uniform.cdf", x, loc, scale)
    hi = lax.add(loc, scale)
    inside = lax.ge(x, loc) & lax.le(x, hi)
    ramp = lax.div(lax.sub(x, loc), scale)
    zero, one = lax.full_like(ramp, 0), lax.full_like(ramp, 1)
    # the first condition that holds picks the value; none (NaN): 0
    return jnp.where(
        lax.lt(x, loc), zero, jnp.where(lax.gt(x, hi), one, jnp.where(inside, ramp, zero))
    )


def ppf(q, loc=0, scale=1):
    q, loc, scale = args("uniform.ppf", q, loc, scale)
    val = lax.add(loc, lax.mul(scale, q))
    bad = jnp.isnan(q) | (q < 0) | (q > 1)
    return jnp.where(bad, lax.full_like(val, np.nan), val)
