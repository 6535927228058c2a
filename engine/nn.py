"""``engine.nn``: the activation functions and helpers of ``jax.nn``.

Where JAX defines a derivative by hand (relu's is 0 at 0, relu6's is 0 at both kinks),
the same values come from ``where`` here; softmax, log_softmax and logsumexp subtract a
``stop_gradient``-ed maximum for numerical stability, as JAX does."""
from __future__ import annotations

import math

import numpy as np

from . import dtypes
from . import lax
from . import numpy as jnp
from .numpy._util import (as_array, as_operand, check_arraylike, dtype_of, promote_args_inexact,
                          reduction_axes, shape_of, weak_scalar)

__all__ = ['relu', 'relu6', 'sigmoid', 'log_sigmoid', 'softplus', 'soft_sign', 'silu',
           'swish', 'gelu', 'elu', 'celu', 'selu', 'leaky_relu', 'hard_tanh', 'hard_sigmoid',
           'hard_silu', 'hard_swish', 'glu', 'mish', 'tanh', 'softmax', 'log_softmax',
           'logsumexp', 'one_hot', 'standardize', 'normalize', 'initializers']

tanh = jnp.tanh


def _float_arg(name, x):
    check_arraylike(name, x)
    (x,) = promote_args_inexact(name, x)
    return as_array(x)


def _c(x, v):
    return weak_scalar(v, dtype_of(x))


def relu(x):
    """``max(x, 0)``, with derivative 0 at 0 (as JAX defines it)."""
    check_arraylike("relu", x)
    x = as_array(as_operand(x))
    return jnp.where(lax.gt(x, _c(x, 0)), x, lax.full_like(x, 0))


def relu6(x):
    """``min(max(x, 0), 6)``; the derivative is 0 at both kinks."""
    x = _float_arg("relu6", x)
    inside = lax.bitwise_and(lax.gt(x, _c(x, 0)), lax.lt(x, _c(x, 6)))
    return jnp.where(inside, x, jnp.where(lax.ge(x, _c(x, 6)), lax.full_like(x, 6),
                                          lax.full_like(x, 0)))


def sigmoid(x):
    return lax.logistic(_float_arg("sigmoid", x))


def log_sigmoid(x):
    return lax.neg(softplus(lax.neg(_float_arg("log_sigmoid", x))))


def softplus(x):
    """``log(1 + exp(x))``, computed as ``logaddexp(x, 0)``."""
    return jnp.logaddexp(_float_arg("softplus", x), 0)


def soft_sign(x):
    x = _float_arg("soft_sign", x)
    return lax.div(x, lax.add(lax.abs(x), _c(x, 1)))


def silu(x):
    x = _float_arg("silu", x)
    return lax.mul(x, lax.logistic(x))


swish = silu


def gelu(x, approximate=True):
    """Gaussian error linear unit; ``approximate`` uses the tanh form (JAX's default)."""
    x = _float_arg("gelu", x)
    if approximate:
        cdf = lax.mul(_c(x, 0.5), lax.add(_c(x, 1.0), lax.tanh(lax.mul(
            _c(x, math.sqrt(2 / math.pi)),
            lax.add(x, lax.mul(_c(x, 0.044715), lax.integer_pow(x, 3)))))))
        return lax.mul(x, cdf)
    cdf = lax.add(lax.erf(lax.div(x, _c(x, math.sqrt(2)))), _c(x, 1))
    return lax.div(lax.mul(x, cdf), _c(x, 2))


def elu(x, alpha=1.0):
    x = _float_arg("elu", x)
    positive = lax.gt(x, _c(x, 0))
    safe_x = jnp.where(positive, lax.full_like(x, 0), x)
    return jnp.where(positive, x, jnp.multiply(alpha, lax.expm1(safe_x)))


def celu(x, alpha=1.0):
    x = _float_arg("celu", x)
    return jnp.maximum(x, 0.0) + jnp.multiply(alpha, lax.expm1(
        jnp.minimum(jnp.true_divide(x, alpha), 0.0)))


def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return jnp.multiply(scale, elu(x, alpha))


def leaky_relu(x, negative_slope=0.01):
    x = _float_arg("leaky_relu", x)
    return jnp.where(lax.ge(x, _c(x, 0)), x, jnp.multiply(negative_slope, x))


def hard_tanh(x):
    x = _float_arg("hard_tanh", x)
    return jnp.where(lax.gt(x, _c(x, 1)), lax.full_like(x, 1),
                     jnp.where(lax.lt(x, _c(x, -1)), lax.full_like(x, -1), x))


def hard_sigmoid(x):
    return lax.div(relu6(jnp.add(x, 3.0)), _c(_float_arg("hard_sigmoid", x), 6))


def hard_silu(x):
    x = _float_arg("hard_silu", x)
    return lax.mul(x, hard_sigmoid(x))


hard_swish = hard_silu


def mish(x):
    x = _float_arg("mish", x)
    return lax.mul(x, lax.tanh(softplus(x)))


def glu(x, axis=-1):
    """First half of ``x`` along ``axis`` gated by the sigmoid of the second half."""
    check_arraylike("glu", x)
    x = as_array(as_operand(x))
    n = shape_of(x)[axis]
    if n % 2:
        raise AssertionError("axis size must be divisible by 2")
    ax = axis % len(shape_of(x))
    a = lax.slice_in_dim(x, 0, n // 2, axis=ax)
    b = lax.slice_in_dim(x, n // 2, n, axis=ax)
    return lax.mul(a, sigmoid(b))


# ---------------------------------------------------------------------------- softmax family

def _stable_max(x, axis, where, initial=-np.inf):
    """The maximum along ``axis`` (kept), with -inf where everything is masked."""
    return jnp.max(x, axis, where=where, initial=initial, keepdims=True)


def softmax(x, axis=-1, where=None, initial=None):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""
    x = _float_arg("softmax", x)
    x_max = _stable_max(x, axis, where)
    unnormalized = lax.exp(lax.sub(x, lax.stop_gradient(x_max)))
    total = jnp.sum(unnormalized, axis, where=where, keepdims=True)
    result = lax.div(unnormalized, total)
    if where is not None:
        result = jnp.where(where, result, lax.full_like(result, 0))
    return result


def log_softmax(x, axis=-1, where=None, initial=None):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``."""
    x = _float_arg("log_softmax", x)
    x_max = _stable_max(x, axis, where)
    shifted = lax.sub(x, lax.stop_gradient(x_max))
    shifted_lse = lax.log(jnp.sum(lax.exp(shifted), axis, where=where, keepdims=True))
    result = lax.sub(shifted, shifted_lse)
    if where is not None:
        result = jnp.where(where, result, lax.full_like(result, -np.inf))
    return result


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` along ``axis``, shifted by the (stop-gradient) maximum;
    with ``return_sign`` also the sign of the sum (for negative ``b``)."""
    check_arraylike("logsumexp", a)
    if b is not None:
        a, b = promote_args_inexact("logsumexp", a, b)
        a, b = jnp.broadcast_arrays(a, b)
    else:
        (a,) = promote_args_inexact("logsumexp", a)
    a = as_array(a)
    nd = len(shape_of(a))
    axes = reduction_axes(axis, nd)
    amax = jnp.max(a, axis=axes, where=where, initial=-np.inf)
    amax = lax.stop_gradient(jnp.where(jnp.isfinite(amax), amax, lax.full_like(amax, 0)))
    amax_kept = lax.expand_dims(amax, axes)
    exp_a = lax.exp(lax.sub(a, amax_kept))
    if b is not None:
        exp_a = lax.mul(exp_a, b)
    sumexp = jnp.sum(exp_a, axis=axes, where=where, keepdims=keepdims)
    sign = lax.sign(sumexp)
    if return_sign or not dtypes.is_complex(dtype_of(sumexp)):
        sumexp = lax.abs(sumexp)
    out = lax.add(lax.log(sumexp), amax_kept if keepdims else amax)
    if return_sign:
        return out, sign
    if b is not None and not dtypes.is_complex(dtype_of(out)):
        out = jnp.where(lax.lt(sign, _c(sign, 0)), lax.full_like(out, np.nan), out)
    return out


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """``x[..., None] == arange(num_classes)``, as ``dtype`` (default float)."""
    check_arraylike("one_hot", x)
    num_classes = int(num_classes)
    dtype = dtypes.default_float_dtype() if dtype is None else \
        dtypes.canonicalize_user_dtype(dtype, "one_hot")
    x = as_array(as_operand(x))
    nd = len(shape_of(x))
    out_axis = axis % (nd + 1)
    out_shape = list(shape_of(x))
    out_shape.insert(out_axis, num_classes)
    lhs = lax.expand_dims(x, (out_axis,))
    rhs_shape = [1] * (nd + 1)
    rhs_shape[out_axis] = num_classes
    rhs = lax.broadcasted_iota(dtype_of(x), tuple(rhs_shape), out_axis)
    return lax.convert_element_type(jnp.equal(lhs, rhs), dtype)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """``(x - mean) / sqrt(variance + epsilon)`` with mean and variance along ``axis``."""
    x = _float_arg("standardize", x)
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        variance = jnp.subtract(jnp.mean(jnp.square(x), axis, keepdims=True, where=where),
                                jnp.square(mean))
        variance = jnp.clip(variance, 0)  # rounding can make it slightly negative
    return jnp.multiply(jnp.subtract(x, mean), lax.rsqrt(jnp.add(variance, epsilon)))


normalize = standardize


# ---------------------------------------------------------------------------- initializers

class _Initializers:
    """``nn.initializers``: functions ``init(key, shape, dtype) -> Array``. Those that
    draw random numbers need ``engine.random``."""

    @staticmethod
    def zeros(key, shape, dtype=None):
        return jnp.zeros(shape, dtype or dtypes.default_float_dtype())

    @staticmethod
    def ones(key, shape, dtype=None):
        return jnp.ones(shape, dtype or dtypes.default_float_dtype())

    @staticmethod
    def constant(value, dtype=None):
        def init(key, shape, dtype=dtype):
            return jnp.full(shape, value, dtype or dtypes.default_float_dtype())
        return init


initializers = _Initializers()
