"""The Dirichlet distribution (``jax.scipy.stats.dirichlet``); the simplex axis is axis 0."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import gammaln, xlogy
from ._util import c


def _on_simplex(x):
    return jnp.all(x > 0, axis=0) & (abs(jnp.sum(x, axis=0) - 1) < 1e-6)


def logpdf(x, alpha):
    from ...numpy._util import as_array, promote_dtypes_inexact

    x, alpha = (as_array(v) for v in promote_dtypes_inexact(x, alpha))
    if alpha.ndim != 1:
        raise ValueError(f"`alpha` must be one-dimensional; got alpha.shape={alpha.shape}")
    if x.shape[0] not in (alpha.shape[0], alpha.shape[0] - 1):
        raise ValueError(
            "`x` must have either the same number of entries as `alpha` or one entry fewer; "
            f"got x.shape={x.shape}, alpha.shape={alpha.shape}"
        )
    one = c(x, 1)
    if x.shape[0] != alpha.shape[0]:
        x = jnp.concatenate([x, lax.sub(one, x.sum(0, keepdims=True))], axis=0)
    log_norm = jnp.sum(gammaln(alpha)) - gammaln(jnp.sum(alpha))
    if x.ndim > 1:
        alpha = lax.broadcast_in_dim(alpha, alpha.shape + (1,) * (x.ndim - 1), (0,))
    log_p = lax.sub(jnp.sum(xlogy(lax.sub(alpha, one), x), axis=0), log_norm)
    return jnp.where(_on_simplex(x), log_p, lax.full_like(log_p, -np.inf))


def pdf(x, alpha):
    return lax.exp(logpdf(x, alpha))


__all__ = ["logpdf", "pdf"]
