"""Shared helpers of ``engine.numpy``: turning inputs into arrays, NumPy-style dtype
promotion (with weak types), rank promotion and axis handling."""

from __future__ import annotations

import builtins
import operator
import types

import numpy as np

from .. import core, dispatch, dtypes, errors, lax
from ..array import Array
from ..config import config
from ..transfer_guard import sites as _tg


def is_array_like(x):
    return (
        isinstance(x, (Array, core.Tracer, np.ndarray, np.generic, core.WeakScalar))
        or dtypes.is_python_scalar(x)
        or hasattr(x, "__jax_array__")
    )


def check_arraylike(fun_name, *args):
    for i, a in enumerate(args):
        if not is_array_like(a):
            _raise_not_arraylike(fun_name, a, i)


def aval(x):
    return core.get_aval(x)


def dtype_of(x):
    return core.get_aval(x).dtype


def ndim_of(x):
    return len(core.get_aval(x).shape)


def shape_of(x):
    return core.get_aval(x).shape


# ---------------------------------------------------------------------------- dtype promotion


def promote_dtypes(*args):
    """Convert arguments to their common dtype (JAX's lattice, weak types respected)."""
    if len(args) < 2:
        return tuple(as_operand(a) for a in args)
    avals = [core.get_aval(a) for a in args]
    first = avals[0]
    same = all(a.dtype == first.dtype and a.weak_type == first.weak_type for a in avals[1:])
    # weak bools promote to a strong bool (JAX's lattice has no weak bool)
    if same and not (first.weak_type and first.dtype == np.bool_):
        return tuple(as_operand(a) for a in args)
    dtype, weak = _result_type(args, avals)
    return tuple(convert(a, av, dtype, weak) for a, av in zip(args, avals))


_promotion_cache = {}


def _result_type(args, avals):
    """dtypes.lattice_result_type, memoized on the operands' (kind, dtype, weak) keys."""
    key = (config.jax_enable_x64,) + tuple(
        (type(a) if dtypes.is_python_scalar(a) else None, av.dtype, av.weak_type)
        for a, av in zip(args, avals)
    )
    hit = _promotion_cache.get(key)
    if hit is None:
        if len(_promotion_cache) > 4096:
            _promotion_cache.clear()
        hit = _promotion_cache[key] = dtypes.lattice_result_type(*args)
    return hit


def convert(x, aval_, dtype, weak):
    """``x`` as ``dtype`` (a Python number stays a weakly typed literal of that dtype)."""
    if type(x) is core.WeakScalar:
        if not weak and aval_.dtype == dtype:
            return x
        x = x.value
    if dtypes.is_python_scalar(x):
        if weak and dtype != np.bool_:  # True + 1: a weak int, as in JAX
            if type(x) is float and dtypes.is_inexact(dtype) and not dtypes.is_complex(dtype):
                # JAX keeps the Python value when the result stays weak (a jaxpr
                # prints 0.1:f32[], not 0.10000000149011612); XLA rounds it.
                return core.WeakScalar(x, dtype)
            return weak_scalar(x, dtype)
        return strong_scalar(x, dtype)
    if aval_.dtype == dtype and aval_.weak_type == weak:
        return x
    return lax.convert_element_type(x, dtype, weak)


def _to_dtype(args, dtype):
    avals = [core.get_aval(a) for a in args]
    # a weak bool counts as strong in promotion, as in JAX's lattice
    weak = all(a.weak_type and a.dtype != np.bool_ for a in avals)
    return tuple(convert(a, av, dtype, weak) for a, av in zip(args, avals))


def to_inexact_dtype(dtype):
    """The float type an integer/bool dtype computes in: float64 for 64-bit integers,
    float32 for narrower ones (canonicalized); inexact dtypes are unchanged."""
    dtype = np.dtype(dtype)
    if dtypes.is_inexact(dtype):
        return dtype
    return dtypes.canonicalize_dtype(np.float64 if dtype.itemsize == 8 else np.float32)


def promote_dtypes_inexact(*args):
    """Promote, then (if the result is not inexact) to a float type: int32 -> float32,
    int64 -> float64, as in JAX."""
    if len(args) > 1:
        avals = [core.get_aval(a) for a in args]
        dtype, weak = _result_type(args, avals)
        if not dtypes.is_inexact(dtype):
            # straight to the float type, as JAX: int8 array / 300 must not wrap 300 to int8
            return tuple(
                convert(a, av, to_inexact_dtype(dtype), weak) for a, av in zip(args, avals)
            )
    args = promote_dtypes(*args)
    dt = core.get_aval(args[0]).dtype
    if not dtypes.is_inexact(dt):
        return _to_dtype(args, to_inexact_dtype(dt))
    return args


def promote_dtypes_numeric(*args):
    """Promote, then bool to the default integer type."""
    args = promote_dtypes(*args)
    if core.get_aval(args[0]).dtype == np.bool_:
        return _to_dtype(args, dtypes.default_int_dtype())
    return args


def promote_dtypes_complex(*args):
    args = promote_dtypes(*args)
    dt = core.get_aval(args[0]).dtype
    if not dtypes.is_complex(dt):
        cdt = dtypes.canonicalize_dtype(
            dtypes.to_complex_dtype(dt if dtypes.is_inexact(dt) else dtypes.default_float_dtype())
        )
        return _to_dtype(args, cdt)
    return args


# ---------------------------------------------------------------------------- rank promotion


def promote_shapes(fun_name, *args):
    """Rank promotion: prepend size-1 axes so every operand has the same rank (rank-0
    operands are left alone; lax broadcasts them)."""
    if len(args) < 2:
        return args
    shapes = [core.get_aval(a).shape for a in args]
    # one rank among the non-scalars: lax broadcasts these (and its shape rule raises
    # JAX's TypeError "add got incompatible shapes for broadcasting" on a mismatch)
    if len({len(s) for s in shapes if s}) <= 1:
        return args
    nd = max(len(s) for s in shapes)
    _check_broadcastable(fun_name, shapes)
    if all(len(s) in (0, nd) for s in shapes):
        return args
    out = []
    for a, s in zip(args, shapes):
        if s and len(s) < nd:
            a = lax.broadcast_to_rank(a, nd)
        out.append(a)
    return tuple(out)


def _broadcast_shapes(*shapes):
    if all(type(d) is int for s in shapes for d in s):
        return np.broadcast_shapes(*shapes)
    from ..export.shape_poly import broadcast_shapes  # symbolic dimensions

    return broadcast_shapes(*shapes)


def _check_broadcastable(fun_name, shapes):
    try:
        _broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"Incompatible shapes for broadcasting: shapes={[tuple(s) for s in shapes]}"
        ) from None


def _same_avals(args):
    """Fast path: every argument an engine array/tracer of one shape, dtype and weak type."""
    first = None
    for a in args:
        t = type(a)
        if t is not Array and not isinstance(a, core.Tracer):
            return False
        if first is None:
            first = a.aval
            if first.weak_type and first.dtype == np.bool_:
                return False  # a weak bool promotes to a strong one
        elif a.aval != first:
            return False
    return True


def promote_args(fun_name, *args):
    if _same_avals(args):
        return args
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes(*args))


def promote_args_inexact(fun_name, *args):
    if _same_avals(args) and dtypes.is_inexact(args[0].aval.dtype):
        return args
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_inexact(*args))


def promote_args_numeric(fun_name, *args):
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_numeric(*args))


def promote_args_complex(fun_name, *args):
    check_arraylike(fun_name, *args)
    return promote_shapes(fun_name, *promote_dtypes_complex(*args))


_strong_scalars = {}


def strong_scalar(x, dtype):
    """A Python number as a strongly typed scalar of ``dtype``: a NumPy scalar (a literal
    when traced); run eagerly, a cached device array, so hot loops skip the transfer."""
    value = dtypes.python_scalar_as(x, dtype)
    if core.current_trace() is not core.eval_trace:
        return value
    key = (type(x), value.tobytes(), value.dtype)  # by bits: 0.0 == -0.0 in Python
    arr = _strong_scalars.get(key)
    if arr is None:
        if len(_strong_scalars) > 1024:
            _strong_scalars.clear()
        arr = _strong_scalars[key] = dispatch.device_put_value(value)
    elif _tg.h2d:  # a cached scalar still counts as a transfer, as in JAX (which has no cache)
        _tg.check_host_to_device(arr.aval, arr._device)
    return arr


def weak_scalar(x, dtype):
    """A Python number as a weakly typed literal of ``dtype`` (its value rounded to it)."""
    dtype = np.dtype(dtype)
    if type(x) is int:
        dtypes.check_python_int(x)  # JAX converts it to the default int type first
    if dtypes.is_complex(dtype):
        return core.WeakScalar(complex(np.asarray(x, dtype).item()), dtype)
    if dtypes.is_inexact(dtype):
        return core.WeakScalar(float(np.asarray(x, dtype).item()), dtype)
    return core.WeakScalar(int(dtypes.python_scalar_as(x, dtype)), dtype)


def as_array(x):
    """``x`` as an Array or tracer (for results that pass an input through)."""
    if isinstance(x, (Array, core.Tracer)):
        return x
    if type(x) is core.WeakScalar:
        return dispatch.device_put_value(x)
    return asarray(x)


def as_operand(x):
    """A value the lax layer accepts: Python scalars become weakly typed scalars."""
    if dtypes.is_python_scalar(x):
        if type(x) is bool:
            return np.bool_(x)
        if type(x) is int:
            dtypes.check_python_int(x)
        return core.WeakScalar(x, dtypes.python_scalar_dtype(x))
    if hasattr(x, "__jax_array__") and not isinstance(x, (Array, core.Tracer)):
        return x.__jax_array__()
    return x


def ensure_array(fun_name, x, pos=0):
    """Check that ``x`` is array-like and make it an operand for lax."""
    if not is_array_like(x):
        _raise_not_arraylike(fun_name, x, pos)
    return as_operand(x)


def _raise_not_arraylike(fun_name, x, pos):
    raise TypeError(
        f"{fun_name} requires ndarray or scalar arguments, got {type(x)} at position {pos}."
    )


def broadcast_all(*args):
    """Broadcast operands (already of one rank or rank 0) to their common shape."""
    shapes = [shape_of(a) for a in args]
    _check_broadcastable("broadcast", shapes)
    shape = _broadcast_shapes(*shapes)
    if all(tuple(s) == tuple(shape) for s in shapes):
        return args
    # as JAX's _broadcast_arrays: every operand takes the operands' merged sharding
    sharding = lax.broadcast_shardings(*[core.get_aval(a) for a in args])
    return tuple(lax.broadcast_to_shape(a, shape, sharding) for a in args)


# ---------------------------------------------------------------------------- axes


def canonicalize_axis(axis, ndim):
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"'{type(axis).__name__}' object cannot be interpreted as an integer"
        ) from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim if ndim else axis


def reduction_axes(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(canonicalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"duplicate value in 'axis': {tuple(axis)}")
        return tuple(sorted(axes))
    return (canonicalize_axis(axis, ndim),)


def static_int(x, what):
    """A Python int from a static value, with a JAX-like error for traced ones."""
    if isinstance(x, core.Tracer):
        v = x.to_concrete_value()
        if v is None:
            raise errors.ConcretizationTypeError(
                f"{what} must be a concrete (static) value; got a traced array with shape "
                f"{x.shape} and dtype {x.dtype}."
            )
        x = v
    return operator.index(np.asarray(x).item() if isinstance(x, (Array, np.ndarray)) else x)


def concrete_value(x, what):
    """The NumPy value of a static (non-traced) argument, or a ConcretizationTypeError."""
    if isinstance(x, core.Tracer):
        v = x.to_concrete_value()
        if v is None:
            raise errors.ConcretizationTypeError(
                f"Abstract tracer value encountered where concrete value is expected: {what} "
                f"requires a concrete value, got a traced array with shape {x.shape} and "
                f"dtype {x.dtype}. The size of an array must be known at trace time."
                f"{core.user_line_note()}"
            )
        x = v
    return np.asarray(x)


# ---------------------------------------------------------------------------- array / asarray
# Here, below every other module of engine.numpy: they all turn inputs into arrays.

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
    if isinstance(object, core.Tracer):  # copied unless told not to, as JAX's
        out = lax.copy_p.bind(object) if copy else object
    elif isinstance(object, Array):  # immutable: the same buffers serve
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
        if not isinstance(object, np.ndarray) and (
            val.dtype == _object_dtype or errors.is_invalid_numpy_dtype(val.dtype)
        ):  # JAX's words for a value that is not an array (a string, a class instance)
            raise TypeError(
                f"Value '{object}' with dtype {val.dtype} is not a valid JAX array type. "
                "Only arrays of numeric types are supported by JAX."
            )
        if errors.is_invalid_numpy_dtype(val.dtype):
            raise TypeError(errors.invalid_dtype_message(val.dtype, "jnp.array", "a JAX value"))
        target = dtype if dtype is not None else dtypes.canonicalize_dtype(val.dtype)
        out = dispatch.device_put_value(val.astype(target, copy=False))
    if dtype is not None and (core.get_aval(out).dtype != dtype or core.get_aval(out).weak_type):
        out = lax.convert_element_type(out, dtype)  # a given dtype is strong
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
                if dtype is None:
                    raise OverflowError(f"Python int {x} too large to convert to {dt.name}")
                raise OverflowError(f"Python integer {x} out of bounds for {dt.name}")


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
        if target != val.dtype and val.size and dtypes.is_int(target) and val.dtype.kind in "iu":
            info = np.iinfo(target)
            for bad in (val.min(), val.max()):
                if not info.min <= bad <= info.max:
                    raise OverflowError(f"Python integer {bad} out of bounds for {target.name}")
        return dispatch.device_put_value(val.astype(target, copy=False))
    if dtype is None:
        dtype = dtypes.result_type(*leaves) if leaves else dtypes.default_float_dtype()
    return _stack_nested(seq, dtype)


def _stack_nested(seq, dtype):
    if isinstance(seq, (list, tuple)):
        parts = []  # each element converted, then given its leading axis (JAX's order)
        for x in seq:
            p = _stack_nested(x, dtype)
            if parts and shape_of(p) != shape_of(parts[0])[1:]:
                raise ValueError(
                    "setting an array element with a sequence: inhomogeneous shapes "
                    f"{sorted({shape_of(parts[0])[1:], shape_of(p)})}"
                )
            parts.append(
                lax.broadcast_in_dim(p, (1,) + shape_of(p), tuple(range(1, ndim_of(p) + 1)))
            )
        if not parts:
            return dispatch.device_put_value(np.zeros((0,), dtype))
        return lax.concatenate(parts, 0) if len(parts) > 1 else parts[0]
    if isinstance(seq, (Array, core.Tracer)):
        return lax.convert_element_type(seq, dtype)
    return dispatch.device_put_value(np.asarray(seq).astype(dtype))


def asarray(a, dtype=None, order=None, *, copy=None):
    return array(a, dtype=dtype, copy=bool(copy), order=order)
