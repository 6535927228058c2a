"""``engine.nn``: the activation functions and helpers of ``jax.nn``.

Where JAX defines a derivative by hand (relu's is 0 at 0, relu6's is 0 at both kinks,
log1mexp's is ``1 / expm1(x)``), so does this module, with ``custom_jvp`` as JAX;
softmax, log_softmax and logsumexp subtract a ``stop_gradient``-ed maximum for numerical
stability, as JAX does."""

from __future__ import annotations

import operator
import warnings

import numpy as np

from .. import dtypes, lax
from .. import numpy as jnp
from ..custom_derivatives import custom_jvp
from ..jit import jit
from ..numpy._jitted import as_jax_jits
from ..numpy._util import (
    as_array,
    as_operand,
    canonicalize_axis,
    check_arraylike,
    dtype_of,
    promote_args_inexact,
    reduction_axes,
    shape_of,
    static_int,
)
from ..scipy.special import logsumexp  # jax.nn.logsumexp is the same function

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


def _arr(name, x):
    check_arraylike(name, x)
    return as_array(as_operand(x))


# Each function below has JAX 0.10.2's structure: the same ``jit`` boundaries (names,
# static arguments, ``inline``), the same ``custom_jvp`` rules and the same operations in
# the same order, so that its jaxprs (and those of its grad and jvp) print as JAX's.


@jit
def identity(x):
    """Returns ``x`` as an array (the identity activation)."""
    return _arr("identity", x)


@custom_jvp
@jit
def relu(x):
    """``max(x, 0)``, with derivative 0 at 0 (a custom JVP rule, as JAX defines it)."""
    return jnp.maximum(x, 0)


relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))


@jit
def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth relu."""
    check_arraylike("squareplus", x, b)
    x, b = as_array(as_operand(x)), as_operand(b)  # a default b stays a weak literal
    y = x + jnp.sqrt(jnp.square(x) + b)
    return y / 2


@jit
def softplus(x):
    """``log(1 + exp(x))``, computed as ``logaddexp(x, 0)``."""
    return jnp.logaddexp(x, 0)


@jit
def sparse_plus(x):
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)^2 / 4`` in between."""
    x = _arr("sparse_plus", x)
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


@jit
def soft_sign(x):
    """``x / (|x| + 1)``."""
    x = _arr("soft_sign", x)
    return x / (jnp.abs(x) + 1)


@as_jax_jits("sigmoid", inline=True)
def sigmoid(x):
    """``1 / (1 + exp(-x))`` (lax.logistic; integer inputs are rejected, as in JAX)."""
    return lax.logistic(x)


@jit
def sparse_sigmoid(x):
    """``clip(x + 1, 0, 2) / 2``, the derivative of ``sparse_plus``."""
    return 0.5 * jnp.clip(x + 1.0, 0.0, 2.0)


@jit
def silu(x):
    """``x * sigmoid(x)``."""
    x = _arr("silu", x)
    return x * sigmoid(x)


swish = silu


@jit
def mish(x):
    """``x * tanh(softplus(x))``."""
    x = _arr("mish", x)
    return x * jnp.tanh(softplus(x))


@jit
def log_sigmoid(x):
    """``-softplus(-x)``."""
    x = _arr("log_sigmoid", x)
    return -softplus(-x)


@jit
def elu(x, alpha=1.0):
    """``x`` above 0, ``alpha * (exp(x) - 1)`` at or below."""
    x = _arr("elu", x)
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.where(x > 0, 0.0, x)))


@jit
def leaky_relu(x, negative_slope=1e-2):
    """``x`` at or above 0, ``negative_slope * x`` below."""
    x = _arr("leaky_relu", x)
    return jnp.where(x >= 0, x, negative_slope * x)


@jit
def hard_tanh(x):
    """``x`` clipped to [-1, 1]."""
    x = _arr("hard_tanh", x)
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


@jit
def celu(x, alpha=1.0):
    """``max(x, 0) + alpha * expm1(min(x, 0) / alpha)``."""
    return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


@jit
def selu(x):
    """``scale * elu(x, alpha)`` with the self-normalizing constants."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return scale * elu(x, alpha)


def gelu(x, approximate=True):
    """Gaussian error linear unit; ``approximate`` uses the tanh form (JAX's default).
    Not jitted, as in JAX."""
    (x,) = promote_args_inexact("gelu", x)
    x = as_array(x)
    dt = dtype_of(x)
    if approximate:
        sqrt_2_over_pi = np.sqrt(2 / np.pi).astype(dt)
        cdf = 0.5 * (1.0 + jnp.tanh(sqrt_2_over_pi * (x + 0.044715 * (x**3))))
        return x * cdf
    sqrt_half = np.sqrt(0.5).astype(dt)
    return jnp.array(0.5 * x * (lax.erfc(-x * sqrt_half)), dtype=dt)


@jit(static_argnames=("axis",))
def glu(x, axis=-1):
    """First half of ``x`` along ``axis`` gated by the sigmoid of the second half."""
    x = _arr("glu", x)
    if shape_of(x)[axis] % 2:
        raise AssertionError("axis size must be divisible by 2")
    x1, x2 = jnp.split(x, 2, axis)
    return x1 * sigmoid(x2)


# ---------------------------------------------------------------------------- softmax family


@jit(static_argnames=("axis", "keepdims"))
def logmeanexp(x, axis=None, where=None, keepdims=False):
    """``log(mean(exp(x)))`` along ``axis``: ``logsumexp`` minus the log of the count."""
    lse = logsumexp(x, axis=axis, where=where, keepdims=keepdims)
    shape = shape_of(x)
    if where is None:
        axes = reduction_axes(axis, len(shape))
        count = lax.convert_element_type(int(np.prod([shape[a] for a in axes])), dtype_of(lse))
    else:
        count = jnp.sum(
            jnp.broadcast_to(where, shape), axis, dtype=dtype_of(lse), keepdims=keepdims
        )
    return lse - jnp.log(count)


@jit(static_argnames=("axis",))
def log_softmax(x, axis=-1, where=None):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``."""
    x = _arr("log_softmax", x)
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    shifted = x_safe - lax.stop_gradient(x_max)
    shifted_logsumexp = jnp.log(jnp.sum(jnp.exp(shifted), axis, where=where, keepdims=True))
    result = shifted - shifted_logsumexp
    if where is not None:
        return jnp.where(where, result, -np.inf)
    return result


def softmax(x, axis=-1, where=None):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``. Not jitted, as in JAX; the
    maximum is a ``stop_gradient`` (JAX's default, ``jax_softmax_custom_jvp=False``)."""
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    unnormalized = jnp.exp(x_safe - lax.stop_gradient(x_max))
    result = unnormalized / jnp.sum(unnormalized, axis, where=where, keepdims=True)
    if where is not None:
        result = jnp.where(where, result, 0)
    return result


@jit(static_argnames=("num_classes", "dtype", "axis"))
def _one_hot(x, num_classes, *, dtype, axis):
    nd = len(shape_of(x))
    try:
        out_axis = canonicalize_axis(axis, nd + 1)
    except TypeError:  # a named axis (under vmap/shard_map): compare with its index
        size = lax.axis_size(axis)
        if num_classes != size:
            raise ValueError(
                f"Expected num_classes to match the size of axis {axis}, "
                f"but {num_classes} != {size}"
            ) from None
        return jnp.asarray(x == lax.axis_index(axis), dtype=dtype)
    lhs = lax.expand_dims(x, (operator.index(axis),))
    rhs_shape = [1] * nd
    rhs_shape.insert(out_axis, num_classes)
    rhs = lax.broadcasted_iota(dtype_of(x), rhs_shape, out_axis)
    return (lhs == rhs).astype(dtype)


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """``x[..., None] == arange(num_classes)``, as ``dtype`` (default float)."""
    num_classes = static_int(
        num_classes, "The error arose in jax.nn.one_hot argument `num_classes`."
    )
    x = jnp.asarray(x)
    if not jnp.issubdtype(dtype_of(x), np.integer):
        warnings.warn(
            f"jax.nn.one_hot input should be integer-typed; got dtype={dtype_of(x)}",
            DeprecationWarning,
            stacklevel=2,
        )
    dtype = dtypes.default_float_dtype() if dtype is None else dtype
    return _one_hot(x, num_classes, dtype=dtype, axis=axis)


@jit(static_argnames=("axis", "algorithm"))
def standardize(
    x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *, algorithm="fast"
):
    """``(x - mean) / sqrt(variance + epsilon)`` with mean and variance along ``axis``;
    ``algorithm="fast"`` takes the variance as E[x^2] - E[x]^2, ``"stable"`` as
    E[(x - mean)^2]."""
    check_arraylike("standardize", x)
    for v in (mean, variance, where):
        if v is not None:
            check_arraylike("standardize", v)
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "stable":
            variance = jnp.mean(jnp.square(jnp.subtract(x, mean)), axis, keepdims=True, where=where)
        elif algorithm == "fast":
            variance = jnp.mean(jnp.square(x), axis, keepdims=True, where=where) - jnp.square(mean)
            variance = jnp.clip(variance, 0)  # rounding can make it slightly negative
        else:
            raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    return jnp.subtract(x, mean) * lax.rsqrt(variance + epsilon)


normalize = standardize


@custom_jvp
@jit
def relu6(x):
    """``min(max(x, 0), 6)``; the derivative is 0 at both kinks (a custom JVP rule, as
    JAX defines it)."""
    return jnp.minimum(jnp.maximum(x, 0), 6.0)


relu6.defjvps(lambda g, ans, x: lax.select((x > 0) & (x < 6), g, lax.full_like(g, 0)))


@jit
def hard_sigmoid(x):
    """``relu6(x + 3) / 6``."""
    return relu6(x + 3.0) / 6.0


@jit
def hard_silu(x):
    """``x * hard_sigmoid(x)``."""
    x = _arr("hard_silu", x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


@custom_jvp
@jit
def log1mexp(x):
    """``log(1 - exp(-x))``, through ``expm1`` below ``log(2)`` and ``log1p`` above,
    with JAX's custom derivative ``1 / expm1(x)``."""
    x = _arr("log1mexp", x)
    c = jnp.log(2.0)
    return jnp.where(x < c, jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


log1mexp.defjvps(lambda g, ans, x: g / jnp.expm1(x))


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
