"""Count-valued distributions of ``engine.random``: poisson (Knuth's product of
uniforms for lam < 10, Hormann's transformed rejection otherwise), binomial (inversion
by geometric waiting times where n*p <= 10, Hormann's BTRS otherwise), multinomial (a
scan of conditional binomials) and geometric; plus ``clone``. Each rejection loop runs
until every element is accepted, drawing fresh keys per round exactly as JAX does."""

from __future__ import annotations

import numpy as np

from . import core, dtypes, lax
from . import numpy as jnp
from .jit import jit
from .random import _canonical_shape, _check_shape, _key_data_of, _split, _uniform
from .random_gamma import _broadcast_param_shape, _keys

__all__ = ["poisson", "binomial", "multinomial", "geometric", "clone"]


def _isnan(x):
    return lax.ne(x, x)


# ---------------------------------------------------------------------------- poisson


def _poisson_knuth(data, lam, shape, dtype, max_iters):
    def body(carry):
        i, k, rng, log_prod = carry
        rng, sub = _keys(rng, 2)
        k = lax.select(log_prod > -lam, k + 1, k)
        u = _uniform(sub, 0.0, 1.0, shape, np.dtype(np.float32))
        return i + 1, k, rng, log_prod + jnp.log(u)

    def cond(carry):
        i, log_prod = carry[0], carry[3]
        return jnp.any(log_prod > -lam) & (i < max_iters)

    k_init = lax.full_like(lam, 0, dtype, shape)
    log_init = lax.full_like(lam, 0, np.float32, shape)
    k = lax.while_loop(cond, body, (_zero_count(), k_init, data, log_init))[1]
    return (k - 1).astype(dtype)


def _zero_count():
    return jnp.asarray(0)


def _poisson_rejection(data, lam, shape, dtype, max_iters):
    log_lam = lax.log(lam)
    b = 0.931 + 2.53 * lax.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2)

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = _keys(key, 3)
        u = _uniform(sub0, 0.0, 1.0, shape, lam.dtype) - 0.5
        v = _uniform(sub1, 0.0, 1.0, shape, lam.dtype)
        u_shifted = 0.5 - abs(u)
        k = lax.floor((2 * a / u_shifted + b) * u + lam + 0.43)
        s = lax.log(v * inv_alpha / (a / (u_shifted * u_shifted) + b))
        t = -lam + k * log_lam - lax.lgamma(k + 1)
        accept1 = (u_shifted >= 0.07) & (v <= v_r)
        reject = (k < 0) | ((u_shifted < 0.013) & (v > u_shifted))
        accept = accept1 | (~reject & (s <= t))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, key

    def cond(carry):
        i, _, accepted, _ = carry
        return jnp.any(~accepted) & (i < max_iters)

    k_init = lax.full_like(lam, -1, lam.dtype, shape)
    accepted = lax.full_like(lam, False, np.dtype(bool), shape)
    k = lax.while_loop(cond, body, (_zero_count(), k_init, accepted, data))[1]
    return k.astype(dtype)


def _poisson(data, lam, shape, dtype):
    use_knuth = _isnan(lam) | (lam < 10)
    lam_knuth = lax.select(use_knuth, lam, lax.full_like(lam, 0.0))
    lam_rejection = lax.select(use_knuth, lax.full_like(lam, 1e5), lam)
    max_iters = dtype.type(np.iinfo(dtype).max)
    result = lax.select(
        use_knuth,
        _poisson_knuth(data, lam_knuth, shape, dtype, max_iters),
        _poisson_rejection(data, lam_rejection, shape, dtype, max_iters),
    )
    return lax.select(lam == 0, jnp.zeros_like(result), result)


_poisson_jit = jit(_poisson, static_argnums=(2, 3))


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) counts."""
    data, _ = _key_data_of("poisson", key)
    dtype = dtypes.canonicalize_user_dtype(int if dtype is None else dtype, "poisson")
    if shape is None:
        shape = core.get_aval(lam).shape if core.valid_array_value(lam) else np.shape(lam)
    else:
        shape = _canonical_shape(shape)
    lam = jnp.broadcast_to(lam, shape)
    lam = lax.convert_element_type(lam, np.float32)
    return _poisson_jit(data, lam, shape, dtype)


# ---------------------------------------------------------------------------- binomial

_STIRLING_TAIL = (
    0.0810614667953272,
    0.0413406959554092,
    0.0276779256849983,
    0.02079067210376509,
    0.0166446911898211,
    0.0138761288230707,
    0.0118967099458917,
    0.0104112652619720,
    0.00925546218271273,
    0.00833056343336287,
)


def _stirling_approx_tail(k):
    """log(k!) minus Stirling's approximation: tabulated for k <= 9, a series beyond."""
    table = jnp.array(_STIRLING_TAIL, dtype=k.dtype)
    use_table = k <= 9
    k = lax.clamp(np.array(0.0, k.dtype), k, np.array(9.0, k.dtype))
    kp1sq = (k + 1) * (k + 1)
    approx = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)
    k = jnp.floor(k)
    return lax.select(use_table, table[jnp.asarray(k, dtype="int32")], approx)


def _binomial_inversion(data, count, prob, shape, dtype, max_iters):
    log1minusprob = jnp.log1p(-prob)

    def body(carry):
        i, num_geom, geom_sum, key = carry
        sub, key = _keys(key, 2)
        num_geom_out = lax.select(geom_sum <= count, num_geom + 1, num_geom)
        u = _uniform(sub, 0.0, 1.0, shape, prob.dtype)
        geom = jnp.ceil(jnp.log(u) / log1minusprob)
        return i + 1, num_geom_out, geom_sum + geom, key

    def cond(carry):
        i, geom_sum = carry[0], carry[2]
        return jnp.any(geom_sum <= count) & (i < max_iters)

    zeros = lax.full_like(prob, 0, prob.dtype, shape)
    k = lax.while_loop(cond, body, (_zero_count(), zeros, zeros, data))[1]
    return (k - 1).astype(dtype)


def _btrs(data, count, prob, shape, dtype, max_iters):
    stddev = jnp.sqrt(count * prob * (1 - prob))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * prob
    c = count * prob + 0.5
    v_r = 0.92 - 4.2 / b
    r = prob / (1 - prob)
    alpha = (2.83 + 5.1 / b) * stddev
    m = jnp.floor((count + 1) * prob)

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = _keys(key, 3)
        u = _uniform(sub0, 0.0, 1.0, shape, prob.dtype)
        v = _uniform(sub1, 0.0, 1.0, shape, prob.dtype)
        u = u - 0.5
        us = 0.5 - jnp.abs(u)
        accept1 = (us >= 0.07) & (v <= v_r)
        k = jnp.floor((2 * a / us + b) * u + c)
        reject = (k < 0) | (k > count)
        v = jnp.log(v * alpha / (a / (us * us) + b))
        ub = (
            (m + 0.5) * jnp.log((m + 1) / (r * (count - m + 1)))
            + (count + 1) * jnp.log((count - m + 1) / (count - k + 1))
            + (k + 0.5) * jnp.log(r * (count - k + 1) / (k + 1))
            + _stirling_approx_tail(m)
            + _stirling_approx_tail(count - m)
            - _stirling_approx_tail(k)
            - _stirling_approx_tail(count - k)
        )
        accept = accept1 | (~reject & (v <= ub))
        return i + 1, lax.select(accept, k, k_out), accepted | accept, key

    def cond(carry):
        i, accepted = carry[0], carry[2]
        return jnp.any(~accepted) & (i < max_iters)

    k_init = lax.full_like(prob, -1, prob.dtype, shape)
    init = (_zero_count(), k_init, jnp.full(shape, False, bool), data)
    return lax.while_loop(cond, body, init)[1].astype(dtype)


def _binomial(data, count, prob, shape, dtype):
    from .numpy._util import promote_dtypes_inexact

    if shape is None:
        shape = tuple(np.broadcast_shapes(np.shape(count), np.shape(prob)))
    else:
        _check_shape("binomial", shape, np.shape(count), np.shape(prob))
    (prob,) = promote_dtypes_inexact(prob)
    count = lax.convert_element_type(count, prob.dtype)
    count = jnp.broadcast_to(count, shape)
    prob = jnp.broadcast_to(prob, shape)
    p_lt_half = prob < 0.5
    q = lax.select(p_lt_half, prob, 1.0 - prob)
    count_nan_or_neg = _isnan(count) | (count < 0.0)
    count_inf = jnp.isinf(count)
    q_is_nan = _isnan(q)
    q_l_0 = q < 0.0
    q = lax.select(q_is_nan | q_l_0, lax.full_like(q, 0.01), q)
    use_inversion = count_nan_or_neg | (count * q <= 10.0)
    count = jnp.floor(count)
    count_inv = lax.select(use_inversion, count, lax.full_like(count, 0.0))
    count_btrs = lax.select(use_inversion, lax.full_like(count, 1e4), count)
    q_btrs = lax.select(use_inversion, lax.full_like(q, 0.5), q)
    max_iters = dtype.type(np.finfo(dtype).max)
    samples = lax.select(
        use_inversion,
        _binomial_inversion(data, count_inv, q, shape, dtype, max_iters),
        _btrs(data, count_btrs, q_btrs, shape, dtype, max_iters),
    )
    invalid = q_l_0 | q_is_nan | count_nan_or_neg
    samples = lax.select(invalid, jnp.full_like(samples, np.nan, dtype), samples)
    samples = lax.select(count_inf & ~invalid, jnp.full_like(samples, np.inf, dtype), samples)
    return lax.select(
        p_lt_half | count_nan_or_neg | q_is_nan | count_inf,
        samples,
        count.astype(dtype) - samples,
    )


_binomial_jit = jit(_binomial, static_argnums=(3, 4))


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial(n, p) counts (as floats, so that n may be infinite or NaN)."""
    from .numpy._util import check_arraylike

    data, _ = _key_data_of("binomial", key)
    check_arraylike("binomial", n, p)
    dtype = dtypes.canonicalize_user_dtype(float if dtype is None else dtype, "binomial")
    if not dtypes.is_float(dtype):
        raise ValueError(f"dtype argument to `binomial` must be a float dtype, got {dtype}")
    shape = None if shape is None else _canonical_shape(shape)
    return _binomial_jit(data, n, p, shape, dtype)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Multinomial(n, p) counts over the last axis of ``p``, by sequential binomials."""
    from .numpy._util import check_arraylike, promote_dtypes_inexact

    data, _ = _key_data_of("multinomial", key)
    check_arraylike("multinomial", n, p)
    n, p = promote_dtypes_inexact(n, p)
    if shape is None:
        shape = p.shape
    shape = _canonical_shape(shape)
    n = jnp.broadcast_to(n, shape[:-1])
    p = jnp.broadcast_to(p, shape)

    def step(remainder, ratio_key):
        ratio, k = ratio_key
        count = _binomial_jit(k, remainder, jnp.clip(ratio, 0, 1), None, remainder.dtype)
        return remainder - count, count

    p = jnp.moveaxis(p, -1, 0)
    remaining = lax.cumsum(p, 0, reverse=True)
    ratios = p / jnp.where(remaining == 0, 1, remaining)
    keys = _split(data, (ratios.shape[0],))
    _, counts = lax.scan(step, n, (ratios, keys), unroll=unroll)
    dtype = dtypes.default_float_dtype() if dtype is None else dtype  # astype(None) is float
    return jnp.moveaxis(counts, 0, -1).astype(dtype)


# ---------------------------------------------------------------------------- geometric


def _geometric(data, p, shape, dtype):
    from .numpy._util import promote_dtypes_inexact

    (p,) = promote_dtypes_inexact(p)
    u = _uniform(data, 0.0, 1.0, shape, p.dtype)
    u = jnp.where(u == 0, 1, u)
    log_one_minus_p = jnp.broadcast_to(lax.log1p(-p), shape)
    g = lax.floor(lax.div(lax.log(u), log_one_minus_p)) + 1
    return g.astype(dtype)


_geometric_jit = jit(_geometric, static_argnums=(2, 3))


def geometric(key, p, shape=None, dtype=None):
    """The number of Bernoulli(p) trials up to and including the first success."""
    data, _ = _key_data_of("geometric", key)
    dtype = dtypes.canonicalize_user_dtype(int if dtype is None else dtype, "geometric")
    if not dtypes.is_int(dtype):
        raise ValueError(f"dtype argument to `geometric` must be an int dtype, got {dtype}")
    shape = _broadcast_param_shape("geometric", shape, p)
    return _geometric_jit(data, p, shape, dtype)


# ---------------------------------------------------------------------------- clone


def clone(key):
    """The same keys, unconsumed as far as ``jax_debug_key_reuse`` is concerned."""
    from . import prng

    return prng.random_clone(key)
