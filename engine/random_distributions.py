"""Continuous distributions of ``engine.random`` that are transforms of uniform or
normal draws (exponential, laplace, logistic, cauchy, pareto, lognormal, weibull_min,
rayleigh, wald, triangular, maxwell, double_sided_maxwell, rademacher), and the two
that need a matrix factorization (multivariate_normal, orthogonal). Each follows JAX's
formula step for step so that the samples are bit-exact."""

from __future__ import annotations

import numpy as np

from . import core, dtypes, lax
from . import numpy as jnp
from .jit import jit
from .random import (
    _canonical_shape,
    _check_shape,
    _float_dtype,
    _key_data_of,
    _normal,
    _normal_real,
    _uniform,
)
from .random_choice import _bernoulli
from .random_gamma import _broadcast_param_shape, _check_safe_cast, _concrete_index, _keys

__all__ = [
    "exponential",
    "laplace",
    "logistic",
    "cauchy",
    "pareto",
    "lognormal",
    "weibull_min",
    "rayleigh",
    "wald",
    "triangular",
    "maxwell",
    "double_sided_maxwell",
    "rademacher",
    "multivariate_normal",
    "orthogonal",
]


def _sampler(name, fn, static=(1, 2)):
    """A public ``name(key, shape=(), dtype=None)`` over ``fn(data, shape, dtype)``."""
    jitted = jit(fn, static_argnums=static)

    def sample(key, shape=(), dtype=None):
        data, _ = _key_data_of(name, key)
        dtype = _float_dtype(name, dtype)
        shape = _canonical_shape(shape)
        _check_shape(name, shape)
        return jitted(data, shape, dtype)

    sample.__name__ = sample.__qualname__ = name
    return sample


def _eps_const(attr, dtype):
    return float(getattr(dtypes.finfo(dtype), attr))


def _exponential(data, shape, dtype):
    u = _uniform(data, 0.0, 1.0, shape, dtype)
    return lax.neg(lax.log1p(lax.neg(u)))


def _laplace(data, shape, dtype):
    u = _uniform(data, -1.0 + _eps_const("epsneg", dtype), 1.0, shape, dtype)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def _logistic(data, shape, dtype):
    x = _uniform(data, _eps_const("tiny", dtype), 1.0, shape, dtype)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cauchy(data, shape, dtype):
    u = _uniform(data, _eps_const("eps", dtype), 1.0, shape, dtype)
    return lax.tan(lax.mul(np.array(np.pi, dtype), lax.sub(u, np.array(0.5, dtype))))


exponential = _sampler("exponential", _exponential)
exponential.__doc__ = "Exponential(1) samples: -log(1 - u)."
laplace = _sampler("laplace", _laplace)
laplace.__doc__ = "Laplace(0, 1) samples."
logistic = _sampler("logistic", _logistic)
logistic.__doc__ = "Logistic(0, 1) samples: log(u / (1 - u))."
cauchy = _sampler("cauchy", _cauchy)
cauchy.__doc__ = "Cauchy(0, 1) samples: tan(pi (u - 1/2))."


def _maxwell(data, shape, dtype):
    return jnp.linalg.norm(_normal_real(data, shape + (3,), dtype), axis=-1)


maxwell = _sampler("maxwell", _maxwell)
maxwell.__doc__ = "Maxwell samples: the norm of three standard normals."


# ---------------------------------------------------------------------------- with parameters


def _pareto(data, b, shape, dtype):
    b = lax.convert_element_type(b, dtype)
    return lax.exp(jnp.divide(_exponential(data, shape, dtype), b))


_pareto_jit = jit(_pareto, static_argnums=(2, 3))


def pareto(key, b, shape=None, dtype=None):
    """Pareto(b) samples: exp(Exponential / b)."""
    data, _ = _key_data_of("pareto", key)
    dtype = _float_dtype("pareto", dtype)
    shape = _broadcast_param_shape("pareto", shape, b)
    _check_safe_cast("pareto", dtype, b)
    return _pareto_jit(data, b, shape, dtype)


def _lognormal(data, sigma, shape, dtype):
    sigma = lax.convert_element_type(sigma, dtype)
    return lax.exp(jnp.multiply(_normal(data, shape, dtype), sigma))


_lognormal_jit = jit(_lognormal, static_argnums=(2, 3))


def lognormal(key, sigma=np.float32(1.0), shape=None, dtype=None):
    """exp(sigma * normal) samples."""
    data, _ = _key_data_of("lognormal", key)
    dtype = _float_dtype("lognormal", dtype, ("float", "complex"))
    shape = _broadcast_param_shape("lognormal", shape, sigma)
    _check_safe_cast("lognormal", dtype, sigma)
    return _lognormal_jit(data, sigma, shape, dtype)


def _weibull_min(data, scale, concentration, shape, dtype):
    u = _uniform(data, 0, 1, shape, dtype)
    return jnp.multiply(
        jnp.power(jnp.negative(jnp.log1p(jnp.negative(u))), jnp.divide(1.0, concentration)), scale
    )


_weibull_min_jit = jit(_weibull_min, static_argnums=(3, 4))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull samples: scale * (-log(1 - u)) ** (1 / concentration)."""
    data, _ = _key_data_of("weibull_min", key)
    dtype = _float_dtype("weibull_min", dtype)
    return _weibull_min_jit(data, scale, concentration, _canonical_shape(shape), dtype)


def _rayleigh(data, scale, shape, dtype):
    u = _uniform(data, 0.0, 1.0, shape, dtype)
    scale = lax.broadcast_to_shape(lax.convert_element_type(scale, dtype), shape)
    return lax.mul(scale, lax.sqrt(lax.mul(lax.log(u), np.array(-2, dtype))))


_rayleigh_jit = jit(_rayleigh, static_argnums=(2, 3))


def rayleigh(key, scale, shape=None, dtype=None):
    """Rayleigh(scale) samples: scale * sqrt(-2 log u)."""
    data, _ = _key_data_of("rayleigh", key)
    dtype = _float_dtype("rayleigh", dtype)
    shape = _broadcast_param_shape("rayleigh", shape, scale)
    _check_safe_cast("rayleigh", dtype, scale)
    return _rayleigh_jit(data, scale, shape, dtype)


def _wald(data, mean, shape, dtype):
    k1, k2 = _keys(data, 2)
    mean = lax.broadcast_to_shape(lax.convert_element_type(mean, dtype), shape)
    v = _normal_real(k1, shape, dtype)
    z = _uniform(k2, 0.0, 1.0, shape, dtype)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    sqrt_term = lax.sqrt(4 * mean * y + mean_sq * y_sq)
    x = mean + mean_sq * y / 2 - mean / 2 * sqrt_term
    return lax.select(lax.le(z, mean / (mean + x)), x, mean_sq / x)


_wald_jit = jit(_wald, static_argnums=(2, 3))


def wald(key, mean, shape=None, dtype=None):
    """Wald (inverse Gaussian, scale 1) samples."""
    data, _ = _key_data_of("wald", key)
    dtype = _float_dtype("wald", dtype)
    shape = _broadcast_param_shape("wald", shape, mean)
    _check_safe_cast("wald", dtype, mean)
    return _wald_jit(data, mean, shape, dtype)


def _triangular(data, left, mode, right, shape, dtype):
    left, mode, right = (
        lax.broadcast_to_shape(lax.convert_element_type(v, dtype), shape)
        for v in (left, mode, right)
    )
    fc = (mode - left) / (right - left)
    u = _uniform(data, 0.0, 1.0, shape, dtype)
    out1 = left + lax.sqrt(u * (right - left) * (mode - left))
    out2 = right - lax.sqrt((1 - u) * (right - left) * (right - mode))
    return lax.select(u < fc, out1, out2)


_triangular_jit = jit(_triangular, static_argnums=(4, 5))


def triangular(key, left, mode, right, shape=None, dtype=None):
    """Triangular(left, mode, right) samples by inverting the CDF."""
    data, _ = _key_data_of("triangular", key)
    dtype = _float_dtype("triangular", dtype)
    shape = _broadcast_param_shape("triangular", shape, left, mode, right)
    _check_safe_cast("triangular", dtype, left, mode, right)
    return _triangular_jit(data, left, mode, right, shape, dtype)


def _rademacher(data, shape, dtype):
    b = lax.convert_element_type(
        _bernoulli(data, np.array(0.5, dtypes.default_float_dtype()), shape, "low"), dtype
    )
    return lax.convert_element_type(2 * b - 1, dtype)


_rademacher_jit = jit(_rademacher, static_argnums=(1, 2))


def rademacher(key, shape=(), dtype=None):
    """-1 or +1 with equal probability."""
    data, _ = _key_data_of("rademacher", key)
    dtype = dtypes.canonicalize_user_dtype(int if dtype is None else dtype, "rademacher")
    return _rademacher_jit(data, _canonical_shape(shape), dtype)


def _double_sided_maxwell(data, loc, scale, shape, dtype):
    params_shape = tuple(np.broadcast_shapes(np.shape(loc), np.shape(scale)))
    if not shape:
        shape = params_shape
    shape = shape + params_shape
    k_m, k_r = _keys(data, 2)
    m = _maxwell(k_m, shape, dtype)
    sign = _rademacher(k_r, shape, dtype)
    return sign * m * scale + loc


_double_sided_maxwell_jit = jit(_double_sided_maxwell, static_argnums=(3, 4))


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Double-sided Maxwell samples: a random sign times a Maxwell sample, scaled and shifted."""
    data, _ = _key_data_of("double_sided_maxwell", key)
    dtype = _float_dtype("double_sided_maxwell", dtype)
    return _double_sided_maxwell_jit(data, loc, scale, _canonical_shape(shape), dtype)


# ---------------------------------------------------------------------------- linear algebra


def _linalg(name):
    fn = getattr(jnp.linalg, name, None)
    if fn is None:
        raise NotImplementedError(f"engine.numpy.linalg.{name} is not available yet")
    return fn


def _multivariate_normal(data, mean, cov, shape, dtype, method):
    if np.ndim(mean) < 1:
        raise ValueError(
            f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == {np.ndim(mean)}"
        )
    if np.ndim(cov) < 2:
        raise ValueError(
            f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == {np.ndim(cov)}"
        )
    n = mean.shape[-1]
    if cov.shape[-2:] != (n, n):
        raise ValueError(
            f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, "
            f"but got cov.shape == {cov.shape}."
        )
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean.shape[:-1], cov.shape[:-2]))
    else:
        _check_shape("normal", shape, mean.shape[:-1], cov.shape[:-2])
    if method == "svd":
        u, s, _ = _linalg("svd")(cov)
        factor = u * jnp.sqrt(s[..., None, :])
    elif method == "eigh":
        w, v = _linalg("eigh")(cov)
        factor = v * jnp.sqrt(w[..., None, :])
    else:
        factor = _linalg("cholesky")(cov)
    z = _normal(data, shape + mean.shape[-1:], dtype)
    return mean + jnp.einsum("...ij,...j->...i", factor, z)


_multivariate_normal_jit = jit(_multivariate_normal, static_argnums=(3, 4, 5))


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """Normal samples with mean ``mean`` and covariance ``cov`` (factored by
    ``method``: 'cholesky', 'eigh' or 'svd')."""
    from .numpy._util import promote_dtypes_inexact

    data, _ = _key_data_of("multivariate_normal", key)
    mean, cov = promote_dtypes_inexact(mean, cov)
    if method not in {"svd", "eigh", "cholesky"}:
        raise ValueError("method must be one of {'svd', 'eigh', 'cholesky'}")
    dtype = (
        core.get_aval(mean).dtype if dtype is None else _float_dtype("multivariate_normal", dtype)
    )
    if not dtypes.is_float(dtype):
        raise ValueError(
            f"dtype argument to `multivariate_normal` must be a float dtype, got {dtype}"
        )
    shape = None if shape is None else _canonical_shape(shape)
    return _multivariate_normal_jit(data, mean, cov, shape, dtype, method)


def _orthogonal(data, n, m, shape, dtype):
    z = _normal(data, (*shape, max(n, m), min(n, m)), dtype)
    q, r = _linalg("qr")(z)
    d = jnp.diagonal(r, axis1=-2, axis2=-1)
    x = q * jnp.expand_dims(jnp.sign(d), -2)
    return jnp.swapaxes(x, -1, -2) if n < m else x


_orthogonal_jit = jit(_orthogonal, static_argnums=(1, 2, 3, 4))


def orthogonal(key, n, shape=(), dtype=None, m=None):
    """Haar-random ``n x m`` matrices with orthonormal columns (or rows): the QR of a
    normal matrix with the signs of R's diagonal folded into Q."""
    m_ = n if m is None else m
    shape = _canonical_shape(shape)
    data, _ = _key_data_of("orthogonal", key)
    dtype = dtypes.canonicalize_user_dtype(float if dtype is None else dtype, "orthogonal")
    _check_shape("orthogonal", shape)
    n = _concrete_index(n, "orthogonal")
    m_ = _concrete_index(m_, "orthogonal")
    return _orthogonal_jit(data, n, m_, shape, dtype)
