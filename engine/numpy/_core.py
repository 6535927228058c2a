"""A starter set of jnp functions (creation, arithmetic, sum); the rest of the surface
lives in sibling modules."""
from __future__ import annotations

import numpy as np

from .. import core
from .. import dispatch
from .. import dtypes
from .. import lax
from ..array import Array
from ._util import as_operand, check_arraylike, promote_args, promote_args_inexact


def asarray(a, dtype=None, copy=None):
    return array(a, dtype=dtype, copy=False)


def array(object, dtype=None, copy=True, ndmin=0):
    if dtype is not None:
        dtype = dtypes.canonicalize_user_dtype(dtype, "array")
    if isinstance(object, core.Tracer):
        out = object
    elif isinstance(object, Array):
        out = object
    elif isinstance(object, (list, tuple)) and any(
            isinstance(x, (core.Tracer, Array)) or isinstance(x, (list, tuple)) for x in object):
        leaves = [array(x) for x in object]
        if any(isinstance(x, core.Tracer) for x in leaves) or any(isinstance(x, Array) for x in leaves):
            from . import stack
            out = stack(leaves)
        else:
            out = dispatch.device_put_value(np.asarray([np.asarray(x) for x in leaves]))
    else:
        if isinstance(object, core.WeakScalar):
            object = object.value
        weak = dtypes.is_python_scalar(object)
        val = np.asarray(object)
        if val.dtype == object_dtype:
            raise TypeError(f"jnp.array: cannot convert {type(object).__name__} to an array")
        target = dtypes.canonicalize_dtype(val.dtype) if dtype is None else dtype
        if weak and dtype is None:
            target = dtypes.python_scalar_dtype(object)
        out = dispatch.device_put_value(val.astype(target), None, weak_type=weak and dtype is None)
    if dtype is not None and core.get_aval(out).dtype != dtype:
        out = lax.convert_element_type(out, dtype)
    if ndmin and core.get_aval(out).ndim < ndmin:
        shape = core.get_aval(out).shape
        out = lax.reshape(out, (1,) * (ndmin - len(shape)) + shape)
    return out


object_dtype = np.dtype(object)


def zeros(shape, dtype=None):
    return lax.full(_shape(shape), 0, dtypes.canonicalize_user_dtype(dtype or dtypes.default_float_dtype(), "zeros"))


def ones(shape, dtype=None):
    return lax.full(_shape(shape), 1, dtypes.canonicalize_user_dtype(dtype or dtypes.default_float_dtype(), "ones"))


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def add(x, y):
    x, y = promote_args("add", x, y)
    return lax.add(x, y)


def subtract(x, y):
    x, y = promote_args("subtract", x, y)
    return lax.sub(x, y)


def multiply(x, y):
    x, y = promote_args("multiply", x, y)
    return lax.mul(x, y)


def true_divide(x, y):
    x, y = promote_args_inexact("true_divide", x, y)
    return lax.div(x, y)


divide = true_divide


def negative(x):
    check_arraylike("negative", x)
    return lax.neg(as_operand(x))


def sin(x):
    (x,) = promote_args_inexact("sin", x)
    return lax.sin(as_operand(x))


def cos(x):
    (x,) = promote_args_inexact("cos", x)
    return lax.cos(as_operand(x))


def exp(x):
    (x,) = promote_args_inexact("exp", x)
    return lax.exp(as_operand(x))


def log(x):
    (x,) = promote_args_inexact("log", x)
    return lax.log(as_operand(x))


def tanh(x):
    (x,) = promote_args_inexact("tanh", x)
    return lax.tanh(as_operand(x))


def sum(a, axis=None, dtype=None, keepdims=False):
    check_arraylike("sum", a)
    a = as_operand(a)
    aval = core.get_aval(a)
    axes = tuple(range(aval.ndim)) if axis is None else tuple(
        ax % aval.ndim for ax in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if dtype is not None:
        a = lax.convert_element_type(a, dtype)
    elif aval.dtype == np.bool_ or (dtypes.is_int(aval.dtype) and aval.dtype.itemsize < 4):
        a = lax.convert_element_type(a, dtypes.default_int_dtype() if not dtypes.is_unsigned(aval.dtype) else dtypes.default_uint_dtype())
    out = lax.reduce_sum(a, axes)
    if keepdims:
        out = lax.expand_dims(out, axes)
    return out
