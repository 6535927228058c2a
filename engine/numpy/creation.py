"""Making arrays: ``array``/``asarray``, filled arrays, ranges, ``eye``, ``meshgrid``."""

from __future__ import annotations

import builtins
import types
import operator

import numpy as np

from .. import core, dispatch, dtypes, lax
from ..array import Array
from ._util import as_array, check_arraylike, concrete_value, ndim_of, shape_of, to_inexact_dtype

__all__ = [
    "array",
    "asarray",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "identity",
    "meshgrid",
    "tri",
    "copy",
    "astype",
    "from_dlpack",
    "frombuffer",
]

_object_dtype = np.dtype(object)


def _user_dtype(dtype, fun_name):
    return None if dtype is None else dtypes.canonicalize_user_dtype(dtype, fun_name)


def array(object, dtype=None, copy=True, order="K", ndmin=0):
    """An Array from a value: Arrays, tracers, NumPy values, Python scalars and (nested)
    lists/tuples of them. Python scalars are weakly typed; lists are not."""
    dtype = _user_dtype(dtype, "array")
    if hasattr(object, "__jax_array__") and not isinstance(object, (Array, core.Tracer)):
        object = object.__jax_array__()
    if isinstance(object, core.WeakScalar):
        object = object.value
    if isinstance(object, (Array, core.Tracer)):
        out = object
    elif isinstance(object, (list, tuple)):
        out = _from_sequence(object, dtype)
    elif dtypes.is_python_scalar(object):
        _check_int_range(object, dtype)
        dt = dtype if dtype is not None else dtypes.python_scalar_dtype(object)
        weak = dtype is None and type(object) is not bool
        out = dispatch.device_put_value(np.asarray(object).astype(dt), None, weak_type=weak)
    elif object is None:
        raise ValueError("None is not a valid value for jnp.array")
    else:
        if isinstance(object, types.GeneratorType):
            raise TypeError(
                f"Value {object!r} with dtype object is not a valid JAX array type. "
                "Only arrays of numeric types are supported by JAX."
            )
        val = np.asarray(object)
        if val.dtype == _object_dtype:
            raise TypeError("JAX only supports number and bool dtypes, got dtype object in array")
        target = dtype if dtype is not None else dtypes.canonicalize_dtype(val.dtype)
        out = dispatch.device_put_value(val.astype(target, copy=False))
    if dtype is not None and core.get_aval(out).dtype != dtype:
        out = lax.convert_element_type(out, dtype)
    if ndmin and ndim_of(out) < ndmin:
        out = lax.broadcast_to_rank(out, ndmin)
    return out


def _check_int_range(x, dtype):
    if type(x) is int:
        dt = (
            dtype
            if dtype is not None and dtypes.is_int(dtype)
            else (dtypes.default_int_dtype() if dtype is None else None)
        )
        if dt is not None:
            info = np.iinfo(dt)
            if not info.min <= x <= info.max:
                raise OverflowError(f"Python int {x} too large to convert to {dt.name}")


def _leaves(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            yield from _leaves(x)
        else:
            yield x


def _from_sequence(seq, dtype):
    leaves = list(_leaves(seq))
    if builtins.any(x is None for x in leaves):
        raise ValueError("None is not a valid value for jnp.array")
    traced = any(isinstance(x, (Array, core.Tracer)) for x in leaves)
    if not traced:
        if dtype is None and not builtins.all(dtypes.is_python_scalar(x) for x in leaves):
            dtype = dtypes.result_type(*leaves)  # NumPy scalars keep their width
        val = np.asarray(seq) if dtype is None else np.asarray(seq, dtype)
        if val.dtype == _object_dtype:
            raise TypeError(
                "JAX only supports number and bool dtypes, got dtype object in "
                "array (ragged or unsupported values)"
            )
        target = dtype if dtype is not None else dtypes.canonicalize_dtype(val.dtype)
        return dispatch.device_put_value(val.astype(target, copy=False))
    if dtype is None:
        dtype = dtypes.result_type(*leaves) if leaves else dtypes.default_float_dtype()
    return _stack_nested(seq, dtype)


def _stack_nested(seq, dtype):
    if isinstance(seq, (list, tuple)):
        parts = [_stack_nested(x, dtype) for x in seq]
        shapes = {shape_of(p) for p in parts}
        if len(shapes) > 1:
            raise ValueError(
                f"setting an array element with a sequence: inhomogeneous shapes {sorted(shapes)}"
            )
        parts = [
            lax.broadcast_in_dim(p, (1,) + shape_of(p), tuple(range(1, ndim_of(p) + 1)))
            for p in parts
        ]
        if not parts:
            return dispatch.device_put_value(np.zeros((0,), dtype))
        return lax.concatenate(parts, 0) if len(parts) > 1 else parts[0]
    if isinstance(seq, (Array, core.Tracer)):
        return lax.convert_element_type(seq, dtype)
    return dispatch.device_put_value(np.asarray(seq).astype(dtype))


def asarray(a, dtype=None, order=None, *, copy=None):
    return array(a, dtype=dtype, copy=bool(copy), order=order)


def copy(a, order=None):
    return array(a, copy=True)


def astype(x, dtype, /, *, copy=False, device=None):
    check_arraylike("astype", x)
    return lax.convert_element_type(x, dtypes.canonicalize_user_dtype(dtype, "astype"))


def from_dlpack(x, *, device=None, copy=None):
    return array(np.from_dlpack(x))


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    return array(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset))


# ---------------------------------------------------------------------------- filled arrays


def _shape(shape, fun_name):
    if (
        isinstance(shape, (Array, core.Tracer))
        and ndim_of(shape) == 0
        or isinstance(shape, (int, np.integer))
    ):
        shape = (shape,)
    try:
        out = tuple(
            operator.index(s)
            if not isinstance(s, core.Tracer)
            else int(concrete_value(s, f"{fun_name}'s shape"))
            for s in shape
        )
    except TypeError:
        raise TypeError(
            f"Shapes must be 1D sequences of concrete values of integer type, got {shape}."
        ) from None
    if any(d < 0 for d in out):
        raise ValueError(f"negative dimensions are not allowed, got {out}")
    return out


def zeros(shape, dtype=None, *, device=None):
    dtype = _user_dtype(dtype, "zeros") or dtypes.default_float_dtype()
    return lax.full(_shape(shape, "zeros"), 0, dtype)


def ones(shape, dtype=None, *, device=None):
    dtype = _user_dtype(dtype, "ones") or dtypes.default_float_dtype()
    return lax.full(_shape(shape, "ones"), 1, dtype)


empty = zeros


def full(shape, fill_value, dtype=None, *, device=None):
    check_arraylike("full", fill_value)
    dtype = _user_dtype(dtype, "full")
    shape = _shape(shape, "full")
    if ndim_of(fill_value) == 0:
        return lax.full(shape, fill_value, dtype)
    return broadcast_array(asarray(fill_value, dtype=dtype), shape)


def broadcast_array(x, shape):
    from .shape_ops import broadcast_to

    return broadcast_to(x, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    check_arraylike("full_like", a, fill_value)
    dtype = _user_dtype(dtype, "full_like")
    if shape is not None:
        shape = _shape(shape, "full_like")
    if ndim_of(fill_value) == 0:
        return as_array(lax.full_like(a, fill_value, dtype, shape))
    out_shape = shape_of(a) if shape is None else shape
    return broadcast_array(asarray(fill_value, dtype=dtype or core.get_aval(a).dtype), out_shape)


def zeros_like(a, dtype=None, shape=None, *, device=None):
    check_arraylike("zeros_like", a)
    return as_array(
        lax.full_like(
            a,
            0,
            _user_dtype(dtype, "zeros_like"),
            None if shape is None else _shape(shape, "zeros_like"),
        )
    )


def ones_like(a, dtype=None, shape=None, *, device=None):
    check_arraylike("ones_like", a)
    return as_array(
        lax.full_like(
            a,
            1,
            _user_dtype(dtype, "ones_like"),
            None if shape is None else _shape(shape, "ones_like"),
        )
    )


empty_like = zeros_like


# ---------------------------------------------------------------------------- ranges


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values: an ``iota``, scaled by ``step`` and shifted by ``start``."""
    dtype = _user_dtype(dtype, "arange")
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None:
            concrete_value(v, f"arange's {name} argument")
    args = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        dtype = dtypes.result_type(*args)
    if stop is None and step is None:
        size = int(np.ceil(np.asarray(concrete_value(start, "arange"))))
        return lax.iota(dtype, builtins.max(size, 0))
    vals = [
        np.asarray(concrete_value(v, "arange")).item() if v is not None else None
        for v in (start, stop, step)
    ]
    size = len(np.arange(vals[0], vals[1], 1 if vals[2] is None else vals[2]))
    out = lax.iota(dtype, size)
    if step is not None and vals[2] != 1:
        out = lax.mul(
            core.WeakScalar(vals[2], dtype)
            if dtypes.is_python_scalar(vals[2])
            else np.asarray(vals[2], dtype),
            out,
        )
    return lax.add(
        np.asarray(vals[0], dtype)
        if not dtypes.is_python_scalar(vals[0])
        else core.WeakScalar(vals[0], dtype),
        out,
    )


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` as ``start*(1-t) + stop*t``."""
    num = (
        operator.index(concrete_value(num, "linspace's num argument").item())
        if isinstance(num, (Array, core.Tracer))
        else operator.index(num)
    )
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    check_arraylike("linspace", start, stop)
    dtype = _user_dtype(dtype, "linspace")
    if dtype is None:
        dtype = to_inexact_dtype(dtypes.result_type(start, stop))
    comp = to_inexact_dtype(dtype)
    start = lax.convert_element_type(asarray(start), comp)
    stop = lax.convert_element_type(asarray(stop), comp)
    bshape = np.broadcast_shapes(shape_of(start), shape_of(stop))
    start, stop = lax.broadcast_to_shape(start, bshape), lax.broadcast_to_shape(stop, bshape)
    out_shape = list(bshape)
    axis = axis % (len(bshape) + 1) if axis < 0 else axis
    out_shape.insert(axis, num)
    div = num - 1 if endpoint else num
    step = None
    if num > 1:
        step = lax.div(lax.sub(stop, start), core.WeakScalar(float(div), comp))
        iota_shape = [1] * len(bshape)
        iota_shape.insert(axis, div)
        t = lax.div(
            lax.broadcasted_iota(comp, tuple(iota_shape), axis), core.WeakScalar(float(div), comp)
        )
        expand = tuple(out_shape[:axis]) + (1,) + tuple(out_shape[axis + 1 :])
        start_e = lax.reshape(start, expand)
        stop_e = lax.reshape(stop, expand)
        out = lax.add(lax.mul(start_e, lax.sub(core.WeakScalar(1.0, comp), t)), lax.mul(stop_e, t))
        if endpoint:
            out = lax.concatenate(
                [out, lax.broadcast_in_dim(stop, expand, _skip(len(expand), axis))], axis
            )
    elif num == 1:
        out = lax.broadcast_in_dim(start, tuple(out_shape), _skip(len(out_shape), axis))
        step = lax.full_like(start, np.nan) if retstep else None
    else:
        out = lax.full(tuple(out_shape), 0, comp)
        step = lax.full_like(start, np.nan) if retstep else None
    if dtypes.is_int(dtype):
        out = lax.floor(out)
    out = lax.convert_element_type(out, dtype)
    if retstep:
        return out, lax.convert_element_type(step, dtype) if step is not None else step
    return out


def _skip(ndim, axis):
    return tuple(i for i in range(ndim) if i != axis)


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    from .ufuncs import power

    dtype = _user_dtype(dtype, "logspace")
    comp = dtypes.result_type(start, stop, dtypes.default_float_dtype())
    lin = linspace(start, stop, num, endpoint=endpoint, dtype=comp, axis=axis)
    out = power(asarray(base, dtype=comp), lin)
    return out if dtype is None else lax.convert_element_type(out, dtype)


def eye(N, M=None, k=0, dtype=None, *, device=None):
    """Ones on the ``k``-th diagonal: ``iota_row + k == iota_col``."""
    dtype = _user_dtype(dtype, "eye") or dtypes.default_float_dtype()
    N = operator.index(N)
    M = N if M is None else operator.index(M)
    if N < 0 or M < 0:
        raise ValueError(f"negative dimensions are not allowed, got {N} and {M}")
    k = operator.index(k)
    idt = dtypes.default_int_dtype()
    rows = lax.broadcasted_iota(idt, (N, M), 0)
    cols = lax.broadcasted_iota(idt, (N, M), 1)
    return lax.convert_element_type(lax.eq(lax.add(rows, core.WeakScalar(k, idt)), cols), dtype)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the ``k``-th diagonal."""
    dtype = _user_dtype(dtype, "tri") or dtypes.default_float_dtype()
    M = N if M is None else M
    idt = dtypes.default_int_dtype()
    rows = lax.broadcasted_iota(idt, (N, M), 0)
    cols = lax.broadcasted_iota(idt, (N, M), 1)
    return lax.convert_element_type(lax.ge(lax.add(rows, core.WeakScalar(k, idt)), cols), dtype)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    check_arraylike("meshgrid", *xi)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for indexing are 'xy' and 'ij', got {indexing}")
    args = [asarray(x) for x in xi]
    if any(ndim_of(a) != 1 for a in args):
        raise ValueError(
            f"Arguments to jax.numpy.meshgrid must be 1D, got shapes {[shape_of(a) for a in args]}"
        )
    sizes = [shape_of(a)[0] for a in args]
    if indexing == "xy" and len(args) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    n = len(args)
    out = []
    for i, a in enumerate(args):
        dim = i
        if indexing == "xy" and n >= 2 and i < 2:
            dim = 1 - i
        if sparse:
            shape = [1] * n
            shape[dim] = shape_of(a)[0]
            out.append(lax.reshape(a, tuple(shape)))
        else:
            out.append(lax.broadcast_in_dim(a, tuple(sizes), (dim,)))
    return out
