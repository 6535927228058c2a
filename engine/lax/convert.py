"""Dtype conversions: convert_element_type, bitcast_convert_type, reduce_precision."""

from __future__ import annotations

import operator
import warnings

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering, tracing
from ..interpreters.jvp import Zero, deflinear, tangent_aval, zero_jvp
from ._base import check_dtypes

__all__ = [
    "convert_element_type",
    "bitcast_convert_type",
    "reduce_precision",
    "convert_element_type_p",
    "bitcast_convert_type_p",
    "reduce_precision_p",
]


# ---------------------------------------------------------------------------- convert_element_type

convert_element_type_p = Primitive("convert_element_type")
convert_element_type_p.pp_params = lambda p: {
    "new_dtype": p["new_dtype"],
    "weak_type": p["weak_type"],
}


def convert_element_type(operand, new_dtype, weak_type=False):
    """Elementwise cast to ``new_dtype`` (canonicalized: 64-bit types need x64).

    Float to integer truncates toward zero (out-of-range values saturate, NaN gives 0);
    to bool is ``!= 0``; complex to real keeps the real part. Returns ``operand`` itself
    when neither dtype nor weak type change. ``weak_type`` is for the engine's own
    promotion code; lax's public signature has only the first two arguments."""
    new_dtype = dtypes.canonicalize_user_dtype(new_dtype, "convert_element_type")
    weak_type = bool(weak_type)
    if dtypes.is_python_scalar(operand):
        old_dtype = dtypes.python_scalar_dtype(operand)
        if not weak_type and not _nonfinite_to_int(operand, new_dtype):
            # a Python scalar converts on the host (a literal in jaxprs), as in JAX
            from ..dispatch import device_put_value

            _warn_if_complex_to_real(old_dtype, new_dtype)
            with warnings.catch_warnings():  # NumPy's own warning would repeat ours
                warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
                return device_put_value(dtypes.host_convert(np.asarray(operand), new_dtype))
        operand = core.WeakScalar(operand, old_dtype)
    aval = core.get_aval(operand)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return operand
    _warn_if_complex_to_real(aval.dtype, new_dtype)
    return convert_element_type_p.bind(
        operand, new_dtype=new_dtype, weak_type=weak_type, sharding=None
    )


def _nonfinite_to_int(x, new_dtype):
    return (
        isinstance(x, (float, complex))
        and not np.isfinite(x)
        and (dtypes.is_int(new_dtype) or new_dtype == np.bool_)
    )


def _warn_if_complex_to_real(old, new):
    if dtypes.is_complex(old) and not dtypes.is_complex(new):
        warnings.warn(
            "Casting complex values to real discards the imaginary part",
            np.exceptions.ComplexWarning,
            stacklevel=3,
        )


@convert_element_type_p.def_abstract_eval
def _convert_abstract_eval(x, *, new_dtype, weak_type, sharding):
    return ShapedArray(x.shape, new_dtype, weak_type)


@convert_element_type_p.def_lowering
def _convert_lowering(ctx, x, *, new_dtype, weak_type, sharding):
    # as JAX's convert_hlo: a convert even between equal types (a weak scalar made
    # strong), and to bool by x != 0 followed by the convert
    a_in, a_out = ctx.avals_in[0], ctx.avals_out[0]
    if dtypes.is_complex(a_in.dtype) and not dtypes.is_complex(a_out.dtype):
        x = hlo.real(x)  # the imaginary part is dropped (also for -> bool)
        a_in = a_in.update(dtype=dtypes.real_dtype(a_in.dtype))
    if a_out.dtype == np.bool_:
        zero = lowering.full_like_aval(0, a_in.update(shape=()))
        zero = lowering.broadcast_in_dim(zero, a_in, [])  # JAX's mlir.full_like_aval
        x = lowering.compare(x, zero, "NE", a_in)
    return hlo.convert(lowering.ir_type(a_out), x)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type, sharding):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(
        x, new_dtype=new_dtype, weak_type=weak_type, sharding=sharding
    )
    out_t_aval = tangent_aval(core.get_aval(out))
    if (
        type(t) is Zero
        or out_t_aval.dtype == dtypes.float0
        or core.get_aval(t).dtype == dtypes.float0
    ):
        return out, Zero(out_t_aval)
    return out, convert_element_type_p.bind(
        t, new_dtype=new_dtype, weak_type=weak_type, sharding=sharding
    )


convert_element_type_p.def_jvp(_convert_jvp)


def _convert_transpose(ct, x, *, new_dtype, weak_type, sharding):
    old = x.aval
    if type(ct) is Zero:
        return [Zero(tangent_aval(old))]
    if tangent_aval(old).dtype == dtypes.float0:
        return [Zero(tangent_aval(old))]
    return [
        convert_element_type_p.bind(
            ct, new_dtype=old.dtype, weak_type=old.weak_type, sharding=sharding
        )
    ]


convert_element_type_p.def_transpose(_convert_transpose)


def _convert_fold(args, params):
    """While tracing, a conversion to the operand's own type is no equation, and a
    scalar host constant converts on the host (as JAX's forwarding and folding rules):
    the jaxpr gets the operand or the converted literal."""
    (c,) = args
    if params["sharding"] is not None:
        return None
    aval = core.get_aval(c)
    if aval.dtype == params["new_dtype"] and aval.weak_type == params["weak_type"]:
        return c  # nothing to convert: forwarded, as JAX's forwarding rule
    if not isinstance(c, _HOST_SCALAR_TYPES):
        return None
    value = np.asarray(c)
    if value.shape or value.dtype == object or not isinstance(params["new_dtype"], np.dtype):
        return None
    if value.dtype.kind == "c" and not dtypes.is_complex(params["new_dtype"]):
        value = value.real
    out = dtypes.host_convert(value, params["new_dtype"])
    if params["weak_type"]:
        return core.WeakScalar(out.item(), out.dtype)
    return out


_HOST_SCALAR_TYPES = (np.ndarray, np.generic, core.WeakScalar, int, float, complex)
tracing.const_fold_rules[convert_element_type_p] = _convert_fold
batching.broadcast_batcher(convert_element_type_p)


# ---------------------------------------------------------------------------- bitcast_convert_type

bitcast_convert_type_p = Primitive("bitcast_convert_type")


def bitcast_convert_type(operand, new_dtype):
    """Reinterpret the bits as ``new_dtype``. A narrower type adds a trailing axis of
    size old_bits // new_bits; a wider one consumes a trailing axis of size
    new_bits // old_bits."""
    new_dtype = dtypes.canonicalize_user_dtype(new_dtype, "bitcast_convert_type")
    return bitcast_convert_type_p.bind(operand, new_dtype=new_dtype)


def _bitcast_shape(shape, old, new):
    old_bits, new_bits = 8 * old.itemsize, 8 * new.itemsize
    if old_bits == new_bits:
        return shape
    if old_bits > new_bits:
        return shape + (old_bits // new_bits,)
    last = shape[-1] if shape else 1
    if last * old_bits != new_bits:
        raise ValueError(
            f"Attempting to convert array of shape {shape} from {old} of size "
            f"{old_bits} bits to {new} of size {new_bits}, bits but "
            f"{last} * {old_bits} != {new_bits}"
        )
    return shape[:-1]


@bitcast_convert_type_p.def_abstract_eval
def _bitcast_abstract_eval(x, *, new_dtype):
    old = x.dtype
    if old != new_dtype and any(d == np.bool_ or dtypes.is_complex(d) for d in (old, new_dtype)):
        raise TypeError(
            "lax.bitcast_convert_type does not support bool or complex values "
            "unless the operand and destination types match. Got operand "
            f"dtype={old}, new_dtype={new_dtype!r}. Consider using the arr.view() "
            "method instead."
        )
    return ShapedArray(_bitcast_shape(x.shape, old, np.dtype(new_dtype)), new_dtype, False)


@bitcast_convert_type_p.def_lowering
def _bitcast_lowering(ctx, x, *, new_dtype):
    return hlo.bitcast_convert(lowering.ir_type(ctx.avals_out[0]), x)


def _bitcast_batch(size, vals, dims, *, new_dtype):
    (x,), (d,) = vals, dims
    if core.get_aval(x).dtype.itemsize != np.dtype(new_dtype).itemsize:
        x, d = batching.move_batch_axis(size, d, 0, x), 0  # the trailing axis changes
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), d


zero_jvp(bitcast_convert_type_p)
bitcast_convert_type_p.def_batch(_bitcast_batch)


# ---------------------------------------------------------------------------- reduce_precision

reduce_precision_p = Primitive("reduce_precision")


def reduce_precision(operand, exponent_bits, mantissa_bits):
    """Round to the nearest value with the given exponent/mantissa widths, in the same
    dtype (e.g. (5, 10) emulates float16, (8, 7) bfloat16)."""
    try:
        exponent_bits = operator.index(exponent_bits)
        mantissa_bits = operator.index(mantissa_bits)
    except TypeError as e:
        raise TypeError(
            f"reduce_precision: exponent_bits and mantissa_bits must be Python "
            f"integers known while tracing ({e})"
        ) from None
    return reduce_precision_p.bind(
        operand, exponent_bits=exponent_bits, mantissa_bits=mantissa_bits
    )


@reduce_precision_p.def_abstract_eval
def _reduce_precision_abstract_eval(x, *, exponent_bits, mantissa_bits):
    check_dtypes("reduce_precision", (x,), ("float",))
    if exponent_bits < 1:
        raise ValueError(f"reduce_precision: exponent_bits must be positive; got {exponent_bits}")
    if mantissa_bits < 0:
        raise ValueError(
            f"reduce_precision: mantissa_bits must be non-negative; got {mantissa_bits}"
        )
    return x


@reduce_precision_p.def_lowering
def _reduce_precision_lowering(ctx, x, *, exponent_bits, mantissa_bits):
    return hlo.reduce_precision(x, exponent_bits, mantissa_bits)


# JAX treats it as linear: tangents and cotangents are rounded the same way.
deflinear(reduce_precision_p, lambda ct, x, **params: [reduce_precision_p.bind(ct, **params)])
batching.broadcast_batcher(reduce_precision_p)
