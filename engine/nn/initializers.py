"""``engine.nn.initializers``: JAX's weight initializers, ``init(key, shape, dtype)``.

Each one draws from ``engine.random`` in the same order and with the same arithmetic as
JAX, so that the same key gives bit-identical weights. ``variance_scaling`` is the one
general form: the others fix its ``scale``, ``mode`` and ``distribution``."""

from __future__ import annotations

import math
import typing

import numpy as np

from .. import dtypes, random
from .. import numpy as jnp

__all__ = [
    "Initializer",
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


@typing.runtime_checkable
class Initializer(typing.Protocol):
    """The protocol every initializer follows: ``init(key, shape, dtype=None)``."""

    def __call__(self, key, shape, dtype=None, out_sharding=None): ...


def _dtype(dtype):
    if dtype is None:
        return dtypes.default_float_dtype()
    return dtypes.canonicalize_user_dtype(dtype, "nn.initializers")


def _no_sharding(out_sharding, name):
    if out_sharding is not None:
        raise NotImplementedError(f"nn.initializers.{name}: out_sharding is not supported")


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def zeros(key, shape, dtype=None, out_sharding=None):
    """An array of zeros (``key`` is ignored)."""
    _no_sharding(out_sharding, "zeros")
    return jnp.zeros(shape, _dtype(dtype))


def ones(key, shape, dtype=None, out_sharding=None):
    """An array of ones (``key`` is ignored)."""
    _no_sharding(out_sharding, "ones")
    return jnp.ones(shape, _dtype(dtype))


def constant(value, dtype=None):
    """An initializer filling every element with ``value``."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "constant")
        return jnp.full(shape, value, dtype=_dtype(dtype))

    return init


def uniform(scale=1e-2, dtype=None):
    """Uniform on ``[0, scale)``."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "uniform")
        dt = _dtype(dtype)
        return random.uniform(key, shape, dt) * jnp.array(scale, dt)

    return init


def normal(stddev=1e-2, dtype=None):
    """Normal with mean 0 and standard deviation ``stddev``."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "normal")
        dt = _dtype(dtype)
        return random.normal(key, shape, dt) * jnp.array(stddev, dt)

    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """A standard normal truncated to ``(lower, upper)``, then scaled by ``stddev``
    (no variance correction for the truncation)."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "truncated_normal")
        dt = _dtype(dtype)
        return random.truncated_normal(key, lower, upper, shape, dt) * jnp.array(stddev, dt)

    return init


def _size(shape, axes):
    if isinstance(axes, (int, np.integer)):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def _compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out): the input/output sizes times the receptive field (every axis
    not named as input, output or batch)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(
            f"Can't compute input and output sizes of a {len(shape)}-dimensional weights "
            "tensor with the default in_axis=-2: give a shape of at least 2 dimensions "
            "or pass in_axis explicitly."
        )
    in_size = _size(shape, in_axis)
    out_size = _size(shape, out_axis)
    batch_size = _size(shape, batch_axis)
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _complex_parts(key, shape, dtype):
    key_r, key_theta = random.split(key)
    real = dtypes.real_dtype(dtype)
    cdt = dtypes.to_complex_dtype(real)
    u_r = random.uniform(key_r, shape, real).astype(cdt)
    theta = 2 * np.pi * random.uniform(key_theta, shape, real).astype(cdt)
    return u_r, theta, cdt


def _complex_uniform(key, shape, dtype):
    """Uniform on the unit-variance disk of the complex plane."""
    u_r, theta, _ = _complex_parts(key, shape, dtype)
    return jnp.sqrt(2 * u_r) * jnp.exp(1j * theta)


def _complex_truncated_normal(key, upper, shape, dtype):
    """A complex normal whose modulus is truncated at ``upper``."""
    u_r, theta, cdt = _complex_parts(key, shape, dtype)
    t = (1 - jnp.exp(jnp.array(-(upper**2), cdt))) * u_r
    return jnp.sqrt(-jnp.log(1 - t)) * jnp.exp(1j * theta)


_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Samples with variance ``scale / n``, ``n`` the fan picked by ``mode``; the
    truncated normal is cut at two standard deviations and rescaled to that variance,
    the uniform is an interval (a disk for complex dtypes)."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "variance_scaling")
        shape = _shape(shape)
        dt = _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        if mode == "fan_in":
            denominator = fan_in
        elif mode == "fan_out":
            denominator = fan_out
        elif mode == "fan_avg":
            denominator = (fan_in + fan_out) / 2
        elif mode == "fan_geo_avg":
            denominator = (fan_in * fan_out) ** 0.5
        else:
            raise ValueError(
                f"invalid mode for variance scaling initializer: {mode} (one of {_MODES})"
            )
        variance = jnp.array(scale / denominator, dtype=dt)
        floating = dtypes.issubdtype(dt, np.floating)
        if distribution == "truncated_normal":
            if floating:
                stddev = jnp.sqrt(variance) / jnp.array(0.87962566103423978, dt)
                return random.truncated_normal(key, -2, 2, shape, dt) * stddev
            stddev = jnp.sqrt(variance) / jnp.array(0.95311164380491208, dt)
            return _complex_truncated_normal(key, 2, shape, dt) * stddev
        if distribution == "normal":
            return random.normal(key, shape, dt) * jnp.sqrt(variance)
        if distribution == "uniform":
            if floating:
                return random.uniform(key, shape, dt, -1) * jnp.sqrt(3 * variance)
            return _complex_uniform(key, shape, dt) * jnp.sqrt(variance)
        raise ValueError(
            f"invalid distribution for variance scaling initializer: {distribution} "
            f"(one of {_DISTRIBUTIONS})"
        )

    return init


def _preset(scale, mode, distribution, doc):
    def make(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
        return variance_scaling(
            scale, mode, distribution, in_axis=in_axis, out_axis=out_axis,
            batch_axis=batch_axis, dtype=dtype,
        )  # fmt: skip

    make.__doc__ = doc
    return make


glorot_uniform = _preset(1.0, "fan_avg", "uniform", "variance_scaling(1, 'fan_avg', 'uniform')")
glorot_uniform.__name__ = "glorot_uniform"
glorot_normal = _preset(
    1.0, "fan_avg", "truncated_normal", "variance_scaling(1, 'fan_avg', 'truncated_normal')"
)
glorot_normal.__name__ = "glorot_normal"
lecun_uniform = _preset(1.0, "fan_in", "uniform", "variance_scaling(1, 'fan_in', 'uniform')")
lecun_uniform.__name__ = "lecun_uniform"
lecun_normal = _preset(
    1.0, "fan_in", "truncated_normal", "variance_scaling(1, 'fan_in', 'truncated_normal')"
)
lecun_normal.__name__ = "lecun_normal"
he_uniform = _preset(2.0, "fan_in", "uniform", "variance_scaling(2, 'fan_in', 'uniform')")
he_uniform.__name__ = "he_uniform"
he_normal = _preset(
    2.0, "fan_in", "truncated_normal", "variance_scaling(2, 'fan_in', 'truncated_normal')"
)
he_normal.__name__ = "he_normal"
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Uniformly distributed orthogonal matrices (orthonormal rows or columns, whichever
    side is smaller), reshaped to ``shape`` with the columns along ``column_axis``."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "orthogonal")
        shape = _shape(shape)
        dt = _dtype(dtype)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        if any(d == 0 for d in shape):
            return jnp.zeros(shape, dtype=dt)
        if not hasattr(random, "orthogonal"):
            raise NotImplementedError("nn.initializers.orthogonal needs random.orthogonal")
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = random.orthogonal(key, n_rows, (), dt, n_cols)
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        q = jnp.moveaxis(q, -1, column_axis)
        return jnp.array(scale, dt) * q

    return init


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Convolution kernels (3, 4 or 5 dimensions) that are zero except at the spatial
    centre, which holds an orthogonal matrix (in_features x out_features)."""

    def init(key, shape, dtype=dtype, out_sharding=None):
        _no_sharding(out_sharding, "delta_orthogonal")
        shape = _shape(shape)
        dt = _dtype(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        ortho = orthogonal(scale=scale, column_axis=column_axis, dtype=dt)(key, shape[-2:])
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        return jnp.zeros(shape, dtype=dt).at[centre + (Ellipsis,)].set(ortho)

    return init
