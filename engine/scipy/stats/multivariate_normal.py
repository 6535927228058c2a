"""The multivariate normal distribution (``jax.scipy.stats.multivariate_normal``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ...numpy._util import as_array, promote_dtypes_inexact


def logpdf(x, mean, cov, allow_singular=None):
    """log N(x; mean, cov); ``cov`` a scalar (isotropic) or matrices, batched like ``x``."""
    if allow_singular is not None:
        raise NotImplementedError("allow_singular argument of multivariate_normal.logpdf")
    x, mean, cov = (as_array(v) for v in promote_dtypes_inexact(x, mean, cov))
    log_2pi = np.log(2 * np.pi)
    if not mean.shape:
        return -1 / 2 * jnp.square(x - mean) / cov - 1 / 2 * (log_2pi + jnp.log(cov))
    n = mean.shape[-1]
    y = x - mean
    if not cov.shape:
        quad = jnp.einsum("...i,...i->...", y, y)
        return -1 / 2 * quad / cov - n / 2 * (log_2pi + jnp.log(cov))
    if cov.ndim < 2 or cov.shape[-2:] != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes")
    chol = lax.linalg.cholesky(cov)
    batch = np.broadcast_shapes(chol.shape[:-2], y.shape[:-1])
    chol_b = jnp.broadcast_to(chol, batch + (n, n))
    y_b = jnp.broadcast_to(y, batch + (n,))[..., None]
    # whitened residual: solve L z = y
    z = lax.linalg.triangular_solve(chol_b, y_b, left_side=True, lower=True)[..., 0]
    half_log_det = jnp.log(jnp.diagonal(chol, axis1=-1, axis2=-2)).sum(-1)
    return -1 / 2 * jnp.einsum("...i,...i->...", z, z) - n / 2 * log_2pi - half_log_det


def pdf(x, mean, cov):
    return lax.exp(logpdf(x, mean, cov))
