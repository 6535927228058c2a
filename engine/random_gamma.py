"""Gamma sampling for ``engine.random``: the ``random_gamma`` primitive and the
distributions built on it (gamma, loggamma, beta, dirichlet, chisquare, f, t,
generalized_normal, ball).

Each value of ``a`` gets its own key (the key split ``a.size`` ways, per key when the
key itself is batched) and its own Marsaglia-Tsang rejection loop, as in JAX, so the
samples match JAX's bit for bit. ``a < 1`` samples ``a + 1`` and multiplies by
``u ** (1/a)``. The derivative of a sample with respect to ``a`` is implicit: hold the
sample's CDF fixed (``lax.random_gamma_grad``)."""

from __future__ import annotations

import functools
import math

import numpy as np

from . import core, dtypes, lax
from . import numpy as jnp
from .core import Primitive, ShapedArray
from .interpreters import batching, lowering
from .interpreters.jvp import defjvp2
from .interpreters.tracing import trace_to_jaxpr
from .jit import jit
from .random import (
    _canonical_shape,
    _check_shape,
    _float_dtype,
    _key_data_of,
    _normal_real,
    _split,
    _uniform,
)

__all__ = [
    "gamma",
    "loggamma",
    "beta",
    "dirichlet",
    "chisquare",
    "f",
    "t",
    "generalized_normal",
    "ball",
    "random_gamma_p",
]


def _keys(data, n):
    """``n`` subkeys of one key, as a list."""
    ks = _split(data, (n,))
    return [lax.index_in_dim(ks, i, keepdims=False) for i in range(n)]


def _const(v, dtype):
    return np.array(v, dtype)


def _aval(x):
    return core.get_aval(x)


# ---------------------------------------------------------------------------- one sample


def _gamma_one(data, alpha, log_space):
    """One Gamma(alpha, 1) sample (or its log) by Marsaglia and Tsang's method."""
    dtype = _aval(alpha).dtype
    zero, one, two, minus_one = (_const(v, dtype) for v in (0, 1, 2, -1))
    half, third, squeeze = _const(0.5, dtype), _const(1 / 3, dtype), _const(0.0331, dtype)
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, third)
    c = lax.div(third, lax.sqrt(d))

    def rejected(state):
        _, x2, v3, u = state
        squeeze_fails = lax.ge(u, lax.sub(one, lax.mul(squeeze, lax.mul(x2, x2))))
        log_fails = lax.ge(
            lax.log(u),
            lax.add(lax.mul(x2, half), lax.mul(d, lax.add(lax.sub(one, v3), lax.log(v3)))),
        )
        return lax.bitwise_and(squeeze_fails, log_fails)

    def propose(state):
        def next_normal(kxv):
            k, sub = _keys(kxv[0], 2)
            x = _normal_real(sub, (), dtype)
            return k, x, lax.add(one, lax.mul(x, c))

        k, x_key, u_key = _keys(state[0], 3)
        _, x, v = lax.while_loop(
            lambda kxv: lax.le(kxv[2], zero), next_normal, (x_key, zero, minus_one)
        )
        u = _uniform(u_key, 0.0, 1.0, (), dtype)
        return k, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    k, sub = _keys(data, 2)
    _, _, v3, _ = lax.while_loop(rejected, propose, (k, zero, one, two))
    if log_space:
        u = _uniform(sub, 0.0, 1.0, (), dtype)
        log_u = lax.neg(lax.neg(lax.log1p(lax.neg(u))))  # -(exponential sample)
        no_boost = lax.bitwise_or(boost_mask, lax.eq(log_u, zero))
        log_boost = lax.select(no_boost, zero, lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v3)), log_boost)
    u = lax.sub(one, _uniform(sub, 0.0, 1.0, (), dtype))
    boost = lax.select(boost_mask, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v3), boost)


def _gamma_impl(data, a, *, log_space):
    from .api import vmap

    key_shape = _aval(data).shape  # typed keys
    a_shape = _aval(a).shape
    split_count = math.prod(a_shape[len(key_shape) :])
    keys = lax.reshape(data, (math.prod(key_shape),))
    keys = vmap(lambda k: _split(k, (split_count,)))(keys)
    keys = lax.reshape(keys, (math.prod(a_shape),))
    alphas = lax.reshape(a, (math.prod(a_shape),))
    samples = vmap(functools.partial(_gamma_one, log_space=log_space))(keys, alphas)
    return lax.reshape(samples, a_shape)


# ---------------------------------------------------------------------------- the primitive

random_gamma_p = Primitive("random_gamma")


@random_gamma_p.def_abstract_eval
def _random_gamma_abstract_eval(key, a, *, log_space):
    return ShapedArray(a.shape, a.dtype, a.weak_type)


@random_gamma_p.def_lowering
def _random_gamma_lowering(ctx, key, a, *, log_space):
    avals = [ShapedArray(v.shape, v.dtype) for v in ctx.avals_in]
    closed = trace_to_jaxpr(
        lambda k, x: [_gamma_impl(k, x, log_space=log_space)], avals, "random_gamma"
    )
    return lowering.lower_jaxpr_inline(ctx, closed, [key, a])[0]


def _random_gamma_batch(size, vals, dims, *, log_space):
    k, a = (batching.bdim_at_front(size, v, d) for v, d in zip(vals, dims))
    return random_gamma_p.bind(k, a, log_space=log_space), 0


random_gamma_p.batch = _random_gamma_batch


def _gamma_grad(sample, a, *, log_space):
    samples = lax.reshape(sample, (_aval(sample).size,))
    alphas = lax.reshape(a, (_aval(a).size,))
    if log_space:
        samples = lax.exp(samples)
        tiny = lax.full_like(samples, float(dtypes.finfo(_aval(samples).dtype).tiny))
        samples = lax.select(lax.eq(samples, lax.full_like(samples, 0)), tiny, samples)

        def grad_one(args):
            alpha, s = args
            return lax.div(lax.random_gamma_grad(alpha, s), s)
    else:

        def grad_one(args):
            return lax.random_gamma_grad(*args)

    grads = lax.map(grad_one, (alphas, samples))
    return lax.reshape(grads, _aval(a).shape)


defjvp2(
    random_gamma_p,
    None,
    lambda t, ans, key, a, *, log_space: lax.mul(t, _gamma_grad(ans, a, log_space=log_space)),
)


# ---------------------------------------------------------------------------- gamma, loggamma


def _gamma(data, a, shape, dtype, log_space=False):
    a_shape = _aval(a).shape
    if shape is None:
        shape = a_shape
    else:
        _check_shape("gamma", shape, a_shape)
    a = lax.convert_element_type(a, dtype)
    if a_shape != shape:
        a = lax.broadcast_to_shape(a, shape)
    return random_gamma_p.bind(data, a, log_space=log_space)


_gamma_jit = jit(_gamma, static_argnums=(2, 3, 4))


def _shape_or_none(shape):
    return None if shape is None else _canonical_shape(shape)


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a, 1) samples (Marsaglia-Tsang), differentiable in ``a``."""
    data, _ = _key_data_of("gamma", key)
    dtype = _float_dtype("gamma", dtype)
    return _gamma_jit(data, a, _shape_or_none(shape), dtype, False)


def loggamma(key, a, shape=None, dtype=None):
    """log of Gamma(a, 1) samples, accurate for small ``a``."""
    data, _ = _key_data_of("loggamma", key)
    dtype = _float_dtype("gamma", dtype)
    return _gamma_jit(data, a, _shape_or_none(shape), dtype, True)


# ---------------------------------------------------------------------------- built on gamma


def _check_safe_cast(name, dtype, *args):
    for arg in args:
        if dtypes.is_python_scalar(arg):
            continue
        src = dtypes.dtype_of(arg)
        if dtypes.result_type(src, dtype) != dtype:
            raise dtypes.TypePromotionError(
                f"In arguments to {name}, cannot safely cast argument of type {src} to {dtype}"
            )


def _broadcast_param_shape(name, shape, *args):
    shapes = [np.shape(a) if not core.valid_array_value(a) else _aval(a).shape for a in args]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    shape = _canonical_shape(shape)
    _check_shape(name, shape, *shapes)
    return shape


def _beta(data, a, b, shape, dtype):
    key_a, key_b = _keys(data, 2)
    a = lax.broadcast_to_shape(lax.convert_element_type(a, dtype), shape)
    b = lax.broadcast_to_shape(lax.convert_element_type(b, dtype), shape)
    log_ga = _gamma(key_a, a, shape, dtype, True)
    log_gb = _gamma(key_b, b, shape, dtype, True)
    log_max = lax.max(log_ga, log_gb)
    ga = lax.exp(lax.sub(log_ga, log_max))
    gb = lax.exp(lax.sub(log_gb, log_max))
    return lax.div(ga, lax.add(ga, gb))


_beta_jit = jit(_beta, static_argnums=(3, 4))


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) samples, as Gamma(a) / (Gamma(a) + Gamma(b)) computed in log space."""
    data, _ = _key_data_of("beta", key)
    dtype = _float_dtype("beta", dtype)
    _check_safe_cast("beta", dtype, a, b)
    shape = _broadcast_param_shape("beta", shape, a, b)
    return _beta_jit(data, a, b, shape, dtype)


def _dirichlet(data, alpha, shape, dtype):
    from .nn import softmax

    a_shape = _aval(alpha).shape
    if len(a_shape) < 1:
        raise ValueError(f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == {len(a_shape)}")
    if shape is None:
        shape = a_shape[:-1]
    else:
        _check_shape("dirichlet", shape, a_shape[:-1])
    alpha = lax.convert_element_type(alpha, dtype)
    log_g = _gamma(data, alpha, shape + a_shape[-1:], dtype, True)
    return softmax(log_g, -1)


_dirichlet_jit = jit(_dirichlet, static_argnums=(2, 3))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) samples along the last axis (normalized log-gamma samples)."""
    data, _ = _key_data_of("dirichlet", key)
    dtype = _float_dtype("dirichlet", dtype)
    return _dirichlet_jit(data, alpha, _shape_or_none(shape), dtype)


def _chisquare(data, df, shape, dtype):
    df = lax.convert_element_type(df, dtype)
    two = _const(2, dtype)
    log_g = _gamma(data, lax.div(df, two), shape, dtype, True)
    return lax.mul(lax.exp(log_g), two)


_chisquare_jit = jit(_chisquare, static_argnums=(2, 3))


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square(df) samples: 2 * Gamma(df / 2)."""
    data, _ = _key_data_of("chisquare", key)
    dtype = _float_dtype("chisquare", dtype)
    shape = _broadcast_param_shape("chisquare", shape, df)
    _check_safe_cast("chisquare", dtype, df)
    return _chisquare_jit(data, df, shape, dtype)


def _f(data, dfnum, dfden, shape, dtype):
    dfden = lax.convert_element_type(dfden, dtype)
    dfnum = lax.convert_element_type(dfnum, dtype)
    key_dfd, key_dfn = _keys(data, 2)
    num = lax.div(_chisquare(key_dfn, dfnum, shape, dtype), dfnum)
    den = lax.div(_chisquare(key_dfd, dfden, shape, dtype), dfden)
    return lax.div(num, den)


def _bdiv(x, y):
    from .random import _broadcasting

    return _broadcasting(lax.div, x, y)


_f_jit = jit(_f, static_argnums=(3, 4))


def f(key, dfnum, dfden, shape=None, dtype=None):
    """F(dfnum, dfden) samples: ratio of scaled chi-square samples."""
    data, _ = _key_data_of("f", key)
    dtype = _float_dtype("f", dtype)
    shape = _broadcast_param_shape("f", shape, dfnum, dfden)
    _check_safe_cast("f", dtype, dfnum, dfden)
    return _f_jit(data, dfnum, dfden, shape, dtype)


def _t(data, df, shape, dtype):
    df = lax.convert_element_type(df, dtype)
    key_n, key_g = _keys(data, 2)
    n = _normal_real(key_n, shape, dtype)
    half_df = lax.div(df, _const(2, dtype))
    g = _gamma(key_g, half_df, shape, dtype)
    return lax.mul(n, lax.sqrt(_bdiv(half_df, g)))


_t_jit = jit(_t, static_argnums=(2, 3))


def t(key, df, shape=None, dtype=None):
    """Student's t(df) samples: normal * sqrt(df/2 / Gamma(df/2))."""
    data, _ = _key_data_of("t", key)
    dtype = _float_dtype("t", dtype)
    shape = _broadcast_param_shape("t", shape, df)
    _check_safe_cast("t", dtype, df)
    return _t_jit(data, df, shape, dtype)


def _generalized_normal(data, p, shape, dtype):
    from .random_distributions import _rademacher

    k1, k2 = _keys(data, 2)
    inv_p = jnp.divide(1, p)
    g = _gamma(k1, inv_p, shape, dtype)
    r = _rademacher(k2, shape, dtype)
    return jnp.multiply(r, jnp.power(g, inv_p))


_generalized_normal_jit = jit(_generalized_normal, static_argnums=(2, 3))


def generalized_normal(key, p, shape=(), dtype=None):
    """Samples with density proportional to exp(-|x|**p)."""
    shape = _canonical_shape(shape)
    data, _ = _key_data_of("generalized_normal", key)
    dtype = _float_dtype("generalized_normal", dtype)
    _check_shape("generalized_normal", shape)
    return _generalized_normal_jit(data, p, shape, dtype)


def _ball(data, p, d, shape, dtype):
    from .random_distributions import _exponential

    k1, k2 = _keys(data, 2)
    g = _generalized_normal(k1, p, (*shape, d), dtype)
    e = _exponential(k2, shape, dtype)
    total = jnp.add(jnp.sum(jnp.power(jnp.abs(g), p), -1), e)
    return jnp.divide(g, jnp.power(total, jnp.divide(1, p))[..., None])


_ball_jit = jit(_ball, static_argnums=(2, 3, 4))


def ball(key, d, p=2, shape=(), dtype=None):
    """Points uniform in the unit ``p``-norm ball of dimension ``d``."""
    shape = _canonical_shape(shape)
    data, _ = _key_data_of("ball", key)
    dtype = _float_dtype("ball", dtype)
    _check_shape("ball", shape)
    return _ball_jit(data, p, _concrete_index(d, "ball"), shape, dtype)


def _concrete_index(n, fname):
    import operator

    from .errors import ConcretizationTypeError

    if isinstance(n, core.Tracer):
        aval = _aval(n)
        dims = ",".join(map(str, aval.shape))
        raise ConcretizationTypeError(
            "Abstract tracer value encountered where concrete value is expected: "
            f"traced array with shape {aval.dtype.name}[{dims}]\n"
            f"The error occurred in jax.random.{fname}()"
        )
    return operator.index(n)
