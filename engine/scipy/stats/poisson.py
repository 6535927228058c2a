"""The Poisson distribution (``jax.scipy.stats.poisson``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ..special import entr, gammaincc, gammaln, xlogy
from ._util import args, c


def logpmf(k, mu, loc=0):
    k, mu, loc = args("poisson.logpmf", k, mu, loc)
    x = lax.sub(k, loc)
    log_p = xlogy(x, mu) - gammaln(x + c(x, 1)) - mu
    bad = jnp.logical_or(lax.lt(x, c(k, 0)), lax.ne(jnp.round(k), k))
    return jnp.where(bad, lax.full_like(log_p, -np.inf), log_p)


def pmf(k, mu, loc=0):
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = args("poisson.logpmf", k, mu, loc)
    x = lax.sub(k, loc)
    p = gammaincc(jnp.floor(c(x, 1) + x), mu)
    return jnp.where(lax.lt(x, c(k, 0)), lax.full_like(p, 0), p)


def _entropy_sum(mu, max_k, upper):
    k = jnp.arange(max_k, dtype=mu.dtype)[:, None]
    probs = pmf(k, mu, 0)
    probs = jnp.where(k < upper.astype(k.dtype)[None, :], probs, lax.full_like(probs, 0))
    return jnp.sum(entr(probs), axis=0)


def entropy(mu, loc=0):
    """The entropy: a direct sum over k for mu < 100, an asymptotic expansion beyond."""
    mu, loc = args("poisson.entropy", mu, loc)
    out_shape = jnp.broadcast_shapes(mu.shape, loc.shape)
    flat = jnp.ravel(mu)
    small = _entropy_sum(flat, 35, jnp.ceil(flat + 20))
    medium = _entropy_sum(flat, 250, jnp.ceil(flat + 10 * jnp.sqrt(flat) + 20))
    large = 0.5 * jnp.log(2 * np.pi * np.e * flat) - 1.0 / (12 * flat)
    out = jnp.where(flat < 100, medium, large)
    out = jnp.where(flat < 10, small, out)
    out = jnp.where(flat == 0, jnp.zeros_like(flat), out)
    return jnp.broadcast_to(jnp.reshape(out, mu.shape), out_shape)
