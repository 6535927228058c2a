"""The multinomial distribution (``jax.scipy.stats.multinomial``)."""

from __future__ import annotations

import numpy as np

from ... import dtypes, lax
from ... import numpy as jnp
from ...numpy._util import as_array, promote_args_numeric
from ..special import gammaln, xlogy
from ._util import args


def logpmf(x, n, p):
    (p,) = args("multinomial.logpmf", p)
    x, n = (as_array(v) for v in promote_args_numeric("multinomial.logpmf", x, n))
    if not dtypes.is_int(x.dtype):
        raise ValueError(
            f"x and n must be of integer type; got x.dtype={x.dtype}, n.dtype={n.dtype}"
        )
    x, n = x.astype(p.dtype), n.astype(p.dtype)
    log_p = gammaln(n + 1) + jnp.sum(xlogy(x, p) - gammaln(x + 1), axis=-1)
    return jnp.where(jnp.equal(jnp.sum(x), n), log_p, lax.full_like(log_p, -np.inf))


def pmf(x, n, p):
    return lax.exp(logpmf(x, n, p))
