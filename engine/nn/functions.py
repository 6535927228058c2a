"""``engine.nn``: the activation functions and helpers of ``jax.nn``.

Where JAX defines a derivative by hand (relu's is 0 at 0, relu6's is 0 at both kinks,
log1mexp's is ``1 / expm1(x)``), so does this module, with ``custom_jvp`` as JAX;
softmax, log_softmax and logsumexp subtract a ``stop_gradient``-ed maximum for numerical
stability, as JAX does."""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..jit import jit
from ..numpy._jitted import as_jax_jits
from ..numpy._util import (
    as_array,
    as_operand,
    check_arraylike,
    dtype_of,
    promote_args_inexact,
    reduction_axes,
    shape_of,
    weak_scalar,
)
from ..transfer_guard import jitted_in_jax

__all__ = [
    "identity",
    "relu",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
    "log1mexp",
    "logmeanexp",
    "scaled_dot_general",
    "scaled_matmul",
    "get_scaled_dot_general_config",
    "relu6",
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "soft_sign",
    "silu",
    "swish",
    "gelu",
    "elu",
    "celu",
    "selu",
    "leaky_relu",
    "hard_tanh",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "glu",
    "mish",
    "tanh",
    "softmax",
    "log_softmax",
    "logsumexp",
    "one_hot",
    "standardize",
    "normalize",
]

tanh = jnp.tanh


def _float_arg(name, x):
    check_arraylike(name, x)
    (x,) = promote_args_inexact(name, x)
    return as_array(x)


def _c(x, v):
    return weak_scalar(v, dtype_of(x))


def _arr(name, x):
    check_arraylike(name, x)
    return as_array(as_operand(x))


def identity(x):
    """Returns ``x`` as an array (the identity activation)."""
    return _arr("identity", x)


@custom_jvp
@jit
def relu(x):
    """``max(x, 0)``, with derivative 0 at 0 (a custom JVP rule, as JAX defines it)."""
    return jnp.maximum(_arr("relu", x), 0)


relu.defjvps(lambda g, ans, x: lax.select(lax.gt(x, _c(x, 0)), g, lax.full_like(g, 0)))


@custom_jvp
@jit
def relu6(x):
    """``min(max(x, 0), 6)``; the derivative is 0 at both kinks (a custom JVP rule, as
    JAX defines it)."""
    return jnp.minimum(jnp.maximum(_arr("relu6", x), 0), 6.0)


relu6.defjvps(
    lambda g, ans, x: lax.select(
        lax.bitwise_and(lax.gt(x, _c(x, 0)), lax.lt(x, _c(x, 6))), g, lax.full_like(g, 0)
    )
)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` (lax.logistic; integer inputs are rejected, as in JAX)."""
    return lax.logistic(_arr("sigmoid", x))


def log_sigmoid(x):
    return jnp.negative(softplus(jnp.negative(_arr("log_sigmoid", x))))


def softplus(x):
    """``log(1 + exp(x))``, computed as ``logaddexp(x, 0)``."""
    return jnp.logaddexp(_arr("softplus", x), 0)


def soft_sign(x):
    x = _arr("soft_sign", x)
    return jnp.true_divide(x, jnp.add(jnp.abs(x), 1))


@as_jax_jits("silu")  # jitted in JAX: a call boundary that keeps a bf16 result rounded
def silu(x):
    x = _arr("silu", x)
    return jnp.multiply(x, sigmoid(x))


swish = silu


def gelu(x, approximate=True):
    """Gaussian error linear unit; ``approximate`` uses the tanh form (JAX's default)."""
    x = _float_arg("gelu", x)
    dt = dtype_of(x)
    if approximate:
        sqrt_2_over_pi = np.asarray(np.sqrt(2 / np.pi), dt)
        cdf = jnp.multiply(
            0.5,
            jnp.add(
                1.0,
                jnp.tanh(
                    jnp.multiply(
                        sqrt_2_over_pi, jnp.add(x, jnp.multiply(0.044715, jnp.power(x, 3)))
                    )
                ),
            ),
        )
        return jnp.multiply(x, cdf)
    sqrt_half = np.asarray(np.sqrt(0.5), dt)
    out = jnp.true_divide(jnp.multiply(x, lax.erfc(jnp.multiply(jnp.negative(x), sqrt_half))), 2)
    return lax.convert_element_type(out, dt)


def elu(x, alpha=1.0):
    x = _arr("elu", x)
    positive = jnp.greater(x, 0)
    safe_x = jnp.where(positive, 0.0, x)
    return jnp.where(positive, x, jnp.multiply(alpha, jnp.expm1(safe_x)))


def celu(x, alpha=1.0):
    x = _arr("celu", x)
    return jnp.add(
        jnp.maximum(x, 0.0),
        jnp.multiply(alpha, jnp.expm1(jnp.true_divide(jnp.minimum(x, 0.0), alpha))),
    )


def selu(x):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return jnp.multiply(scale, elu(x, alpha))


def leaky_relu(x, negative_slope=0.01):
    x = _arr("leaky_relu", x)
    return jnp.where(jnp.greater_equal(x, 0), x, jnp.multiply(negative_slope, x))


def hard_tanh(x):
    x = _arr("hard_tanh", x)
    return jnp.where(jnp.greater(x, 1), 1, jnp.where(jnp.less(x, -1), -1, x))


def hard_sigmoid(x):
    return jnp.true_divide(relu6(jnp.add(_arr("hard_sigmoid", x), 3.0)), 6.0)


def hard_silu(x):
    x = _arr("hard_silu", x)
    return jnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def mish(x):
    x = _arr("mish", x)
    return jnp.multiply(x, jnp.tanh(softplus(x)))


def glu(x, axis=-1):
    """First half of ``x`` along ``axis`` gated by the sigmoid of the second half."""
    x = _arr("glu", x)
    if shape_of(x)[axis] % 2:
        raise AssertionError("axis size must be divisible by 2")
    a, b = jnp.split(x, 2, axis)
    return jnp.multiply(a, sigmoid(b))


# ---------------------------------------------------------------------------- softmax family


def _stable_max(x, axis, where, initial=-np.inf):
    """The maximum along ``axis`` (kept), with -inf where everything is masked."""
    return jnp.max(x, axis, where=where, initial=initial, keepdims=True)


def softmax(x, axis=-1, where=None, initial=None):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""
    x = _float_arg("softmax", x)
    x_max = _stable_max(x, axis, where)
    if where is not None:
        x = jnp.where(where, x, lax.full_like(x, -np.inf))
    unnormalized = lax.exp(lax.sub(x, lax.stop_gradient(x_max)))
    total = jnp.sum(unnormalized, axis, where=where, keepdims=True)
    result = lax.div(unnormalized, total)
    if where is not None:
        result = jnp.where(where, result, lax.full_like(result, 0))
    return result


@jitted_in_jax(1)  # JAX jits it: its constants are no transfers
def log_softmax(x, axis=-1, where=None, initial=None):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``."""
    x = _float_arg("log_softmax", x)
    x_max = _stable_max(x, axis, where)
    if where is not None:
        x = jnp.where(where, x, lax.full_like(x, -np.inf))
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
    amax = lax.stop_gradient(lax.select(jnp.isfinite(amax), amax, lax.full_like(amax, 0)))
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
    dtype = (
        dtypes.default_float_dtype()
        if dtype is None
        else dtypes.canonicalize_user_dtype(dtype, "one_hot")
    )
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


def standardize(
    x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *, algorithm="fast"
):
    """``(x - mean) / sqrt(variance + epsilon)`` with mean and variance along ``axis``;
    ``algorithm="fast"`` takes the variance as E[x^2] - E[x]^2, ``"stable"`` as
    E[(x - mean)^2]."""
    x = _arr("standardize", x)
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None and algorithm == "stable":
        variance = jnp.mean(jnp.square(jnp.subtract(x, mean)), axis, keepdims=True, where=where)
    elif variance is None:
        variance = jnp.subtract(
            jnp.mean(jnp.square(x), axis, keepdims=True, where=where), jnp.square(mean)
        )
        variance = jnp.clip(variance, 0)  # rounding can make it slightly negative
    return jnp.multiply(jnp.subtract(x, mean), lax.rsqrt(jnp.add(variance, epsilon)))


normalize = standardize


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu."""
    check_arraylike("squareplus", x, b)
    return jnp.true_divide(jnp.add(x, jnp.sqrt(jnp.add(jnp.square(x), b))), 2)


def sparse_plus(x):
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)^2 / 4`` in between."""
    x = _arr("sparse_plus", x)
    quad = jnp.true_divide(lax.integer_pow(jnp.add(x, 1.0), 2), 4)
    return jnp.where(jnp.less_equal(x, -1.0), 0.0, jnp.where(jnp.greater_equal(x, 1.0), x, quad))


def sparse_sigmoid(x):
    """``clip(x + 1, 0, 2) / 2``, the derivative of ``sparse_plus``."""
    return jnp.multiply(0.5, jnp.clip(jnp.add(_arr("sparse_sigmoid", x), 1.0), 0.0, 2.0))


@custom_jvp
@jit
def log1mexp(x):
    """``log(1 - exp(-x))``, through ``expm1`` below ``log(2)`` and ``log1p`` above,
    with JAX's custom derivative ``1 / expm1(x)``."""
    x = _float_arg("log1mexp", x)
    return jnp.where(
        jnp.less(x, jnp.log(2.0)),
        jnp.log(jnp.negative(jnp.expm1(jnp.negative(x)))),
        jnp.log1p(jnp.negative(jnp.exp(jnp.negative(x)))),
    )


log1mexp.defjvps(lambda g, ans, x: lax.div(g, jnp.expm1(x)))


def logmeanexp(x, axis=None, where=None, keepdims=False):
    """``log(mean(exp(x)))`` along ``axis``: ``logsumexp`` minus the log of the count."""
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    x = _arr("logmeanexp", x)
    shape = shape_of(x)
    if where is None:
        axes = reduction_axes(axis, len(shape))
        count = float(np.prod([shape[a] for a in axes]))
        count = jnp.full(shape_of(lse), count, dtype_of(lse))
    else:
        mask = jnp.broadcast_to(where, shape)
        count = jnp.sum(mask, axis=axis, keepdims=keepdims, dtype=dtype_of(lse))
    return jnp.subtract(lse, jnp.log(count))


def scaled_dot_general(
    lhs, rhs, dimension_numbers, preferred_element_type=np.float32, configs=None,
    implementation=None,
):  # fmt: skip
    """With ``configs=None``, ``lax.dot_general``; block-scaled (mxfp8/nvfp4) configs
    need cuDNN and are not available here."""
    if configs is not None:
        raise NotImplementedError(
            "nn.scaled_dot_general with block-scale configs needs cuDNN's kernels; "
            "call it with configs=None (a plain lax.dot_general)"
        )
    return lax.dot_general(
        lhs, rhs, dimension_numbers, preferred_element_type=preferred_element_type
    )


def scaled_matmul(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
    """Block-scaled matmul: a cuDNN kernel in JAX, not available here."""
    raise NotImplementedError(
        "nn.scaled_matmul lowers to cuDNN's block-scaled matmul, which this engine does not "
        "provide; dequantize (lhs * lhs_scales, rhs * rhs_scales) and use jnp.einsum"
    )


class BlockScaleConfig:
    """What ``get_scaled_dot_general_config`` describes: a block-scaled format."""

    def __init__(self, mode, block_size, data_type, scale_type, global_scale, infer_only):
        self.mode, self.block_size = mode, block_size
        self.data_type, self.scale_type = data_type, scale_type
        self.global_scale, self.infer_only = global_scale, infer_only

    def __repr__(self):
        return f"BlockScaleConfig(mode={self.mode!r}, block_size={self.block_size})"


def get_scaled_dot_general_config(mode, global_scale=None):
    """The block-scale configuration of ``'nvfp4'`` or ``'mxfp8'``."""
    import ml_dtypes

    if mode == "nvfp4":
        return BlockScaleConfig(
            "nvfp4", 16, np.dtype(ml_dtypes.float4_e2m1fn), np.dtype(ml_dtypes.float8_e4m3fn),
            jnp.ones((1,), np.float32) if global_scale is None else global_scale, False,
        )  # fmt: skip
    if mode == "mxfp8":
        return BlockScaleConfig(
            "mxfp8", 32, np.dtype(ml_dtypes.float8_e4m3fn),
            np.dtype(ml_dtypes.float8_e8m0fnu), None, False,
        )  # fmt: skip
    raise ValueError(f"Unsupported mode: {mode}")
