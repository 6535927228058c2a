"""The geometric distribution on 1, 2, ... (``jax.scipy.stats.geom``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import xlog1py
from ._util import args, c


def logpmf(k, p, loc=0):
    k, p, loc = args("geom.logpmf", k, p, loc)
    x = lax.sub(k, loc)
    log_p = xlog1py(lax.sub(x, c(x, 1)), -p) + lax.log(p)
    return jnp.where(lax.le(x, c(x, 0)), lax.full_like(log_p, -np.inf), log_p)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))
