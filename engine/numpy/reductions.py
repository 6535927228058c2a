"""Reductions (``sum``, ``mean``, ``max``, ``var``, ...) and cumulative reductions, with
NumPy's ``axis``/``keepdims``/``dtype``/``initial``/``where`` arguments and JAX's dtype
rules: small integers and bools sum in the default integer type, float16/bfloat16 are
accumulated in float32, and results are never weakly typed."""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ..transfer_guard import jitted_in_jax
from ._jitted import as_jax_jits
from ._util import (
    as_operand,
    canonicalize_axis,
    check_arraylike,
    dtype_of,
    promote_dtypes_inexact,
    reduction_axes,
    shape_of,
    to_inexact_dtype,
    weak_scalar,
)
from .shape_ops import broadcast_to
from .ufuncs import multiply, subtract, true_divide, where
from .ufuncs import where as where_fn

__all__ = [
    "sum",
    "prod",
    "max",
    "min",
    "amax",
    "amin",
    "mean",
    "average",
    "var",
    "std",
    "all",
    "any",
    "argmax",
    "argmin",
    "cumsum",
    "cumprod",
    "cumulative_sum",
    "cumulative_prod",
    "nansum",
    "nanprod",
    "nanmax",
    "nanmin",
    "nanmean",
    "nanvar",
    "nanstd",
    "nanargmax",
    "nanargmin",
    "nancumsum",
    "nancumprod",
    "ptp",
    "count_nonzero",
]


def _upcast_f16(dtype):
    if dtype in (dtypes.float16, dtypes.bfloat16):
        return dtypes.float32
    return dtype


def _strong(x):
    """JAX's reductions drop weak types: convert a weakly typed operand first."""
    aval = core.get_aval(x)
    if aval.weak_type:
        return lax.convert_element_type(x, aval.dtype, False)
    return x


def _default_accumulator(dtype):
    """sum/prod's default result dtype: bools and narrow integers widen."""
    if dtype == np.bool_:
        return dtypes.default_int_dtype()
    if dtypes.is_unsigned(dtype) and dtype.itemsize < dtypes.default_uint_dtype().itemsize:
        return dtypes.default_uint_dtype()
    if dtypes.is_int(dtype) and dtype.itemsize < dtypes.default_int_dtype().itemsize:
        return dtypes.default_int_dtype()
    return dtype


def _where_fill(mask, a, fill):
    # a strong constant, as JAX's reduction init values (np.array(init, a.dtype))
    return where(mask, a, np.asarray(fill, dtype_of(a)))


def _reduce(
    name,
    a,
    axis,
    dtype,
    keepdims,
    initial,
    where,
    *,
    lax_reduce,
    combine,
    identity,
    widen=False,
    upcast_f16=False,
    bool_reduce=None,
    bool_as_int=False,
):
    """The shared recipe: convert, mask with ``where``, reduce, apply ``initial``, keep
    dims, convert to the result dtype. ``bool_as_int``: booleans become the default
    integer first (JAX's sum and prod count them: bool -> int32 -> float32 for a float
    ``dtype``)."""
    check_arraylike(name, a)
    a = as_operand(a)
    if bool_as_int and dtype_of(a) == np.bool_:
        a = lax.convert_element_type(a, dtypes.default_int_dtype())
    in_dtype = dtype_of(a)
    if dtype is not None:
        result_dtype = dtypes.canonicalize_user_dtype(dtype, name)
    else:
        result_dtype = _default_accumulator(in_dtype) if widen else in_dtype
    # float16/bfloat16 accumulate in float32, unless the caller chose the dtype
    comp_dtype = _upcast_f16(result_dtype) if upcast_f16 and dtype is None else result_dtype
    if bool_reduce is not None and comp_dtype == np.bool_:
        lax_reduce = bool_reduce
    a = lax.convert_element_type(a, result_dtype, False)
    a = lax.convert_element_type(a, comp_dtype, False)
    ndim = len(shape_of(a))
    axes = reduction_axes(axis, ndim)
    if where is not None:
        a = _where_fill(where, a, identity(comp_dtype))
    if identity is None or identity(comp_dtype) is None:
        if initial is None and where is None and builtins.any(shape_of(a)[ax] == 0 for ax in axes):
            raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    out = lax_reduce(a, axes)
    if initial is not None:
        init = (
            lax.convert_element_type(as_operand(initial), comp_dtype, False)
            if not dtypes.is_python_scalar(initial)
            else weak_scalar(initial, comp_dtype)
        )
        out = combine(init, out)
    if keepdims:
        out = lax.expand_dims(out, axes)
    return lax.convert_element_type(out, result_dtype, False)


def _identity_of(value):
    def fn(dtype):
        if dtype == np.bool_:
            return np.bool_(value)
        return weak_scalar(value, dtype)

    return fn


def _extreme(which, dtype):
    """-inf/+inf for floats, the integer type's min/max otherwise (identities of max/min)."""
    if dtype == np.bool_:
        return np.bool_(which == "min_id")
    if dtypes.is_inexact(dtype):
        return weak_scalar(-np.inf if which == "max_id" else np.inf, dtype)
    info = np.iinfo(dtype)
    return np.asarray(info.min if which == "max_id" else info.max, dtype)


def _compilable(a, axis, dtype=None, keepdims=False, *_):
    """Whether an eager reduction without ``initial``/``where`` may run as one cached
    jit call (JAX's ``_reduce_sum`` and kin are ``jit(inline=True)``): an engine array
    and static arguments that hash as JAX's do. Other calls run op by op, with the same
    values and errors. (Calls with ``initial`` or ``where`` skip the jit: a
    Python-scalar ``initial`` keeps its weak type only op by op.)"""
    if type(a) is not Array:
        return False
    if axis is not None and type(axis) is not int:
        if type(axis) is not tuple or not builtins.all(type(ax) is int for ax in axis):
            return False
    return dtype is None or isinstance(dtype, (type, np.dtype, str))


def _sum_body(a, axis, dtype, keepdims, promote_integers, initial=None, where=None):
    return _reduce(
        "sum",
        a,
        axis,
        dtype,
        keepdims,
        initial,
        where,
        lax_reduce=lax.reduce_sum,
        combine=lax.add,
        identity=_identity_of(0),
        widen=promote_integers,
        upcast_f16=True,
        bool_reduce=lax.reduce_or,
        bool_as_int=True,
    )


_reduce_sum = as_jax_jits(
    "_reduce_sum",
    ("axis", "dtype", "keepdims", "promote_integers"),
    inline=True,
    compiled_if=_compilable,
)(_sum_body)


def sum(
    a,
    axis=None,
    dtype=None,
    out=None,
    keepdims=False,
    initial=None,
    where=None,  # noqa: A001
    promote_integers=True,
):
    _no_out(out, "sum")
    if initial is None and where is None:
        return _reduce_sum(a, axis, dtype, keepdims, promote_integers)
    return _sum_body(a, axis, dtype, keepdims, promote_integers, initial, where)


def prod(
    a,
    axis=None,
    dtype=None,
    out=None,
    keepdims=False,
    initial=None,
    where=None,
    promote_integers=True,
):
    _no_out(out, "prod")
    if initial is None and where is None:
        return _reduce_prod(a, axis, dtype, keepdims, promote_integers)
    return _prod_body(a, axis, dtype, keepdims, promote_integers, initial, where)


def _prod_body(a, axis, dtype, keepdims, promote_integers, initial=None, where=None):
    return _reduce(
        "prod",
        a,
        axis,
        dtype,
        keepdims,
        initial,
        where,
        lax_reduce=lax.reduce_prod,
        combine=lax.mul,
        identity=_identity_of(1),
        widen=promote_integers,
        upcast_f16=True,
        bool_reduce=lax.reduce_and,
        bool_as_int=True,
    )


_reduce_prod = as_jax_jits(
    "_reduce_prod",
    ("axis", "dtype", "keepdims", "promote_integers"),
    inline=True,
    compiled_if=_compilable,
)(_prod_body)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    _no_out(out, "max")
    _check_where_initial("max", where, initial)
    if initial is None and where is None:
        return _reduce_max(a, axis, None, keepdims)
    return _max_body(a, axis, None, keepdims, initial, where)


def _max_body(a, axis, dtype, keepdims, initial=None, where=None):
    return _reduce(
        "max",
        a,
        axis,
        None,
        keepdims,
        initial,
        where,
        lax_reduce=lax.reduce_max,
        combine=lax.max,
        identity=lambda dt: _extreme("max_id", dt) if where is not None else None,
    )


_reduce_max = as_jax_jits(
    "_reduce_max", ("axis", "keepdims"), inline=True, compiled_if=_compilable
)(_max_body)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):  # noqa: A001
    _no_out(out, "min")
    _check_where_initial("min", where, initial)
    if initial is None and where is None:
        return _reduce_min(a, axis, None, keepdims)
    return _min_body(a, axis, None, keepdims, initial, where)


def _min_body(a, axis, dtype, keepdims, initial=None, where=None):
    return _reduce(
        "min",
        a,
        axis,
        None,
        keepdims,
        initial,
        where,
        lax_reduce=lax.reduce_min,
        combine=lax.min,
        identity=lambda dt: _extreme("min_id", dt) if where is not None else None,
    )


_reduce_min = as_jax_jits(
    "_reduce_min", ("axis", "keepdims"), inline=True, compiled_if=_compilable
)(_min_body)


amax = max
amin = min


def _check_where_initial(name, where, initial):
    if where is not None and initial is None:
        raise ValueError(
            f"reduction operation {name} does not have an identity, so to use a "
            "where mask one has to specify 'initial'"
        )


def _no_out(out, name):
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to jnp.{name} is not supported.")


def all(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    _no_out(out, "all")
    return _reduce(
        "all",
        a,
        axis,
        np.bool_,
        keepdims,
        None,
        where,
        lax_reduce=lax.reduce_and,
        combine=lax.bitwise_and,
        identity=lambda dt: np.bool_(True),
    )


def any(a, axis=None, out=None, keepdims=False, *, where=None):  # noqa: A001
    _no_out(out, "any")
    return _reduce(
        "any",
        a,
        axis,
        np.bool_,
        keepdims,
        None,
        where,
        lax_reduce=lax.reduce_or,
        combine=lax.bitwise_or,
        identity=lambda dt: np.bool_(False),
    )


# ---------------------------------------------------------------------------- mean, var, std


def _count(a, axes, where):
    """Number of elements reduced: a Python int, or an array when ``where`` is given."""
    if where is None:
        shape = shape_of(a)
        return math.prod(shape[ax] for ax in axes)  # an int, or a symbolic dimension

    mask = broadcast_to(as_operand(where), shape_of(a))
    counts = lax.convert_element_type(mask, dtypes.default_int_dtype())
    return counts


def _mean_dtypes(a, dtype, name):
    if dtype is None:
        result = to_inexact_dtype(dtype_of(a))
        return result, _upcast_f16(result)
    result = dtypes.canonicalize_user_dtype(dtype, name)
    return result, result


@jitted_in_jax(1)  # JAX jits it: its constants are no transfers
def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    """``sum / count``, accumulated in float32 for float16 inputs."""
    _no_out(out, "mean")
    if where is None:
        return _mean_jitted(a, axis, dtype, keepdims)
    return _mean(a, axis, dtype, keepdims, where)


def _mean(a, axis, dtype, keepdims, where=None):
    check_arraylike("mean", a)
    a = as_operand(a)
    result_dtype, comp = _mean_dtypes(a, dtype, "mean")
    axes = reduction_axes(axis, len(shape_of(a)))
    count = _count(a, axes, where)
    if where is not None:
        count = sum(lax.convert_element_type(count, comp), axis=axis, keepdims=keepdims)
        total = sum(a, axis=axis, dtype=comp, keepdims=keepdims, where=where)
        return lax.convert_element_type(lax.div(total, count), result_dtype)
    total = sum(a, axis=axis, dtype=comp, keepdims=keepdims)
    if type(count) is not int:  # a symbolic batch size (engine.export): a traced value
        count = lax.convert_element_type(count.__jax_array__(), comp)
    else:
        count = weak_scalar(count, comp)
    out = lax.div(total, count)
    return lax.convert_element_type(out, result_dtype)


_mean_jitted = as_jax_jits(
    "_mean", ("axis", "dtype", "keepdims"), inline=True, compiled_if=_compilable
)(_mean)


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """The (``weights``-)weighted mean along ``axis``; with ``returned``, also the sum of
    the weights (broadcast to the mean's shape)."""
    return _average(a, tuple(axis) if isinstance(axis, list) else axis, weights, returned, keepdims)


@as_jax_jits("_average", ("axis", "returned", "keepdims"), inline=True)
def _average(a, axis=None, weights=None, returned=False, keepdims=False):
    nd = len(np.shape(a))
    if axis is None:
        axes = tuple(range(nd))
    else:  # in the caller's order (the weights' axes follow it)
        axes = tuple(
            canonicalize_axis(ax, nd) for ax in (axis if isinstance(axis, tuple) else (axis,))
        )
    if weights is None:
        check_arraylike("average", a)
        (a,) = promote_dtypes_inexact(a)
        avg = mean(a, axis=axis, keepdims=keepdims)
        n = math.prod(shape_of(a)[ax] for ax in axes)  # an int, or a symbolic dimension
        if type(n) is int:
            weights_sum = lax.full((), n, dtype_of(avg))
        else:
            weights_sum = lax.convert_element_type(n.__jax_array__(), dtype_of(avg))
    else:
        check_arraylike("average", a, weights)
        a, weights = promote_dtypes_inexact(a, weights)
        if shape_of(a) != shape_of(weights):
            if axis is None:
                raise ValueError("Axis must be specified when shapes of a and weights differ.")
            if shape_of(weights) != tuple(shape_of(a)[ax] for ax in axes):
                raise ValueError(
                    "Shape of weights must be consistent with shape of a along specified axis."
                )
            new_shape = tuple(d if i in axes else 1 for i, d in enumerate(shape_of(a)))
            order = tuple(int(i) for i in np.argsort(axes))
            weights = lax.reshape(
                weights, new_shape, None if order == tuple(range(len(order))) else order
            )
        weights_sum = sum(weights, axis=axis, keepdims=keepdims)
        avg = true_divide(sum(multiply(a, weights), axis=axis, keepdims=keepdims), weights_sum)
    if returned:
        if shape_of(avg) != shape_of(weights_sum):
            weights_sum = broadcast_to(weights_sum, shape_of(avg))
        return avg, weights_sum
    return avg


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    """Mean squared deviation from the mean, divided by ``count - ddof`` (NaN when that is
    not positive)."""
    _no_out(out, "var")
    check_arraylike("var", a)
    if correction is not None:
        ddof = correction
    # a list axis becomes a tuple: static arguments are hashed
    axis = tuple(axis) if isinstance(axis, list) else axis
    return _var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where)


# JAX compiles var and std whole (jit[name=_var] / jit[name=_std]; eagerly one XLA
# computation, so a derivative's last bits agree); ddof is an argument of it, as in JAX
@as_jax_jits("_var", ("axis", "dtype", "keepdims"))
def _var(a, axis, dtype, ddof, keepdims, where):
    a = as_operand(a)
    in_dtype = dtype_of(a)
    if dtype is None:
        result_dtype = dtypes.real_dtype(to_inexact_dtype(in_dtype))
        comp = _upcast_f16(to_inexact_dtype(in_dtype))
    else:
        result_dtype = dtypes.canonicalize_user_dtype(dtype, "var")
        comp = _upcast_f16(result_dtype)
    a = lax.convert_element_type(a, comp, False)
    axes = reduction_axes(axis, len(shape_of(a)))
    centered = lax.sub(a, mean(a, axis, dtype=comp, keepdims=True, where=where))
    if dtypes.is_complex(comp):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        centered = lax.square(centered)
    real_comp = dtypes.real_dtype(comp)
    if where is None:
        n = math.prod(shape_of(a)[ax] for ax in axes)  # an int, or a symbolic dimension
        n = (
            weak_scalar(n, real_comp)
            if type(n) is int
            else lax.convert_element_type(n.__jax_array__(), real_comp)
        )
        normalizer = lax.sub(n, lax.convert_element_type(as_operand(ddof), real_comp))
    else:
        normalizer = sum(
            lax.convert_element_type(_count(a, axes, where), real_comp),
            axis=axis,
            keepdims=keepdims,
        )
        normalizer = lax.sub(normalizer, lax.convert_element_type(as_operand(ddof), real_comp))
    total = sum(centered, axis, keepdims=keepdims, where=where)
    result = lax.convert_element_type(lax.div(total, normalizer), result_dtype)

    return where_fn(
        lax.gt(normalizer, weak_scalar(0, real_comp)), result, weak_scalar(np.nan, real_comp)
    )


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(out, "std")
    check_arraylike("std", a)
    if correction is not None:
        ddof = correction
    axis = tuple(axis) if isinstance(axis, list) else axis
    return _std(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where)


@as_jax_jits("_std", ("axis", "dtype", "keepdims"))
def _std(a, axis, dtype, ddof, keepdims, where):
    # through var's jit: a jit[name=_var] inside jit[name=_std], as JAX's
    return lax.sqrt(_var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where))


# ---------------------------------------------------------------------------- argmax, argmin


def _arg_reduce(name, lax_fn, a, axis, keepdims):
    check_arraylike(name, a)
    a = as_operand(a)
    shape = shape_of(a)
    if axis is None:
        if 0 in shape:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        a = lax.reshape(a, (math.prod(shape),))  # an int, or a symbolic size
        out = lax_fn(a, 0, dtypes.default_int_dtype())
        if keepdims:
            out = lax.expand_dims(out, tuple(range(len(shape))))
        return out
    ax = canonicalize_axis(axis, len(shape))
    if shape[ax] == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    out = lax_fn(a, ax, dtypes.default_int_dtype())
    if keepdims:
        out = lax.expand_dims(out, (ax,))
    return out


def argmax(a, axis=None, out=None, keepdims=None):
    _no_out(out, "argmax")
    return _arg_reduce("argmax", lax.argmax, a, axis, keepdims)


def argmin(a, axis=None, out=None, keepdims=None):
    _no_out(out, "argmin")
    return _arg_reduce("argmin", lax.argmin, a, axis, keepdims)


# ---------------------------------------------------------------------------- cumulative


def _cumulative(name, lax_fn, a, axis, dtype, reverse=False, nan_fill=None, promote=False):
    check_arraylike(name, a)
    a = as_operand(a)
    if axis is None or not shape_of(a):
        typed = getattr(core.get_aval(a), "sharding", None)
        if typed is not None and builtins.any(e is not None for e in typed.spec):
            raise core.ShardingTypeError(  # JAX's check before flattening
                f"The input should be fully replicated when axis is not specified to {name}. "
                f"Got input type={core.get_aval(a).str_long()}"
            )
    a = _strong(a)
    if axis is None:
        a = lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),))
        axis = 0
    ax = canonicalize_axis(axis, len(shape_of(a)))
    if nan_fill is not None:  # nancumsum/nancumprod: after the flattening, as JAX's
        a = where(lax.ne(a, a), np.asarray(nan_fill, dtype_of(a)), a)
    in_dtype = dtype_of(a)
    if dtype is not None and np.dtype(dtype) == np.bool_:
        # a boolean result accumulates the operand's truth values in an integer type
        if in_dtype != np.bool_:
            a = lax.ne(a, lax.full((), 0, in_dtype))
        out = lax_fn(lax.convert_element_type(a, _promote_integer(np.bool_)), ax, reverse=reverse)
        return lax.convert_element_type(out, np.bool_)
    if dtype is not None:
        target = dtypes.canonicalize_user_dtype(dtype, name)
    elif promote or in_dtype == np.bool_:
        target = _promote_integer(in_dtype)
    else:
        target = in_dtype
    a = lax.convert_element_type(a, target)
    return lax_fn(a, ax, reverse=reverse)


@as_jax_jits("cumsum", ("axis", "dtype"))
def cumsum(a, axis=None, dtype=None, out=None):
    _no_out(out, "cumsum")
    return _cumulative("cumsum", lax.cumsum, a, axis, dtype)


@as_jax_jits("cumprod", ("axis", "dtype"))
def cumprod(a, axis=None, dtype=None, out=None):
    _no_out(out, "cumprod")
    return _cumulative("cumprod", lax.cumprod, a, axis, dtype)


def _promote_integer(dtype):
    """cumulative_sum's accumulator: bools and integers narrower than the default
    integer (unsigned: the default unsigned) widen to it, as JAX's."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return dtypes.default_int_dtype()
    if np.issubdtype(dtype, np.integer):
        wide = np.dtype(
            dtypes.default_uint_dtype()
            if np.issubdtype(dtype, np.unsignedinteger)
            else dtypes.default_int_dtype()
        )
        if dtype.itemsize < wide.itemsize:
            return wide
    return dtype


@as_jax_jits("_cumsum_with_promotion", ("axis", "dtype"))
def _cumsum_with_promotion(a, axis=None, dtype=None):
    return _cumulative("_cumsum_with_promotion", lax.cumsum, a, axis, dtype, promote=True)


def _cumulative_api(name, noun, x, axis, dtype):
    check_arraylike(name, x)
    nd = len(shape_of(x))
    if nd == 0:
        raise ValueError(
            f"The input must be non-scalar to take a cumulative {noun}, however a "
            "scalar value or scalar array was given."
        )
    if axis is None:
        if nd > 1:
            raise ValueError(
                f"The input array has rank {nd}, however axis was not set to an "
                "explicit value. The axis argument is only optional for "
                "one-dimensional arrays."
            )
        axis = 0
    axis = canonicalize_axis(axis, nd)
    if dtype is not None:
        dtype = dtypes.canonicalize_user_dtype(dtype, name)
    return axis, dtype


def _with_initial(out, identity, axis):
    # JAX's: a slab of the identity concatenated in front (not a pad)
    slab = list(shape_of(out))
    slab[axis] = 1
    return lax.concatenate([lax.full(tuple(slab), identity, dtype_of(out)), out], axis)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    axis, dtype = _cumulative_api("cumulative_sum", "sum", x, axis, dtype)
    out = _cumsum_with_promotion(x, axis=axis, dtype=dtype)
    return _with_initial(out, 0, axis) if include_initial else out


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    axis, dtype = _cumulative_api("cumulative_prod", "product", x, axis, dtype)
    out = _cumulative("cumulative_prod", lax.cumprod, x, axis, dtype)
    return _with_initial(out, 1, axis) if include_initial else out


# ---------------------------------------------------------------------------- NaN-aware


def _nan_to(a, value):

    a = as_operand(a)
    if not dtypes.is_inexact(dtype_of(a)):
        return a
    # the fill is a constant of a's dtype (not a weak scalar), as JAX's
    return where(lax.ne(a, a), np.asarray(value, dtype_of(a)), a)


@as_jax_jits("nansum", ("axis", "dtype", "keepdims"))
def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    check_arraylike("nansum", a)
    return sum(_nan_to(a, 0), axis, dtype, out, keepdims, initial, where)


@as_jax_jits("nanprod", ("axis", "dtype", "keepdims"))
def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    check_arraylike("nanprod", a)
    return prod(_nan_to(a, 1), axis, dtype, out, keepdims, initial, where)


def _nan_extreme(name, reducer, a, axis, out, keepdims, initial, where):
    check_arraylike(name, a)
    a = as_operand(a)
    if not dtypes.is_inexact(dtype_of(a)):
        return reducer(a, axis, out, keepdims, initial, where)
    fill = -np.inf if name == "nanmax" else np.inf
    res = reducer(_nan_to(a, fill), axis, out, keepdims, initial, where)
    if initial is not None:  # an all-NaN slice gives ``initial``, as JAX's
        return res
    all_nan = all(lax.ne(a, a), axis=axis, keepdims=keepdims)
    return where_fn(all_nan, np.asarray(np.nan, dtype_of(res)), res)


@as_jax_jits("nanmax", ("axis", "keepdims"))
def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _nan_extreme("nanmax", max, a, axis, out, keepdims, initial, where)


@as_jax_jits("nanmin", ("axis", "keepdims"))
def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _nan_extreme("nanmin", min, a, axis, out, keepdims, initial, where)


@as_jax_jits("nanmean", ("axis", "dtype", "keepdims"))
def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """``nansum / (number of non-NaN elements)``."""
    check_arraylike("nanmean", a)
    a = as_operand(a)
    if not dtypes.is_inexact(dtype_of(a)):
        return mean(a, axis, dtype, out, keepdims, where=where)
    result_dtype = (
        dtype_of(a) if dtype is None else dtypes.canonicalize_user_dtype(dtype, "nanmean")
    )
    not_nan = lax.bitwise_not(lax.ne(a, a))
    count = sum(not_nan, axis, dtype=result_dtype, keepdims=keepdims, where=where)
    return lax.div(nansum(a, axis, result_dtype, keepdims=keepdims, where=where), count)


@as_jax_jits("nanvar", ("axis", "dtype", "keepdims"))
def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None):
    """``var`` of the non-NaN values: NaNs count as centered zeros and leave the count."""
    check_arraylike("nanvar", a)
    if dtype is not None:
        dtype = dtypes.canonicalize_user_dtype(dtype, "nanvar")
    _no_out(out, "nanvar")
    a = as_operand(a)
    comp, dtype = _var_promote_types(dtype_of(a), dtype)
    a = lax.convert_element_type(a, comp)
    if mean is None:
        a_mean = nanmean(a, axis, dtype=comp, keepdims=True, where=where)
    else:
        check_arraylike("nanvar", mean)
        a_mean = lax.convert_element_type(as_operand(mean), comp)
    # zero where NaN (not a NaN-propagating square): gradients stay finite
    centered = where_fn(lax.ne(a, a), 0, lax.sub(a, a_mean))
    if dtypes.is_complex(dtype_of(centered)):
        centered = lax.real(lax.mul(centered, lax.conj(centered)))
    else:
        centered = lax.square(centered)
    normalizer = sum(lax.bitwise_not(lax.ne(a, a)), axis=axis, keepdims=keepdims, where=where)
    normalizer = subtract(normalizer, ddof)
    normalizer_mask = lax.le(normalizer, np.zeros((), dtype_of(normalizer)))
    result = sum(centered, axis, keepdims=keepdims, where=where)
    result = where_fn(normalizer_mask, np.nan, result)
    divisor = where_fn(normalizer_mask, 1, normalizer)
    result = lax.div(result, lax.convert_element_type(divisor, dtype_of(result)))
    return lax.convert_element_type(result, dtype)


def _var_promote_types(a_dtype, dtype):
    """(computation dtype, result dtype) of var-like reductions, as JAX's."""
    if dtype is not None:
        if not dtypes.is_complex(dtype) and dtypes.is_complex(a_dtype):
            raise ValueError(
                "jax.numpy.var does not yet support real dtype parameters when computing the "
                "variance of an array of complex values. The semantics of numpy.var seem "
                "unclear in this case. Please comment on "
                "https://github.com/jax-ml/jax/issues/2283 if this behavior is important to you."
            )
        comp = dtype
    elif not dtypes.is_inexact(a_dtype):
        dtype = comp = to_inexact_dtype(a_dtype)
    else:
        dtype, comp = dtypes.real_dtype(a_dtype), a_dtype
    return _upcast_f16(comp), np.dtype(dtype)


@as_jax_jits("nanstd", ("axis", "dtype", "keepdims"))
def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None):
    check_arraylike("nanstd", a)
    if dtype is not None:
        dtype = dtypes.canonicalize_user_dtype(dtype, "nanstd")
    _no_out(out, "nanstd")
    return lax.sqrt(
        nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where, mean=mean)
    )


def nanargmax(a, axis=None, out=None, keepdims=None):
    """The index of the largest non-NaN value (-1 where a slice is all NaN)."""
    return _nanarg("nanargmax", _nanargmax, a, axis, out, keepdims)


def nanargmin(a, axis=None, out=None, keepdims=None):
    """The index of the smallest non-NaN value (-1 where a slice is all NaN)."""
    return _nanarg("nanargmin", _nanargmin, a, axis, out, keepdims)


def _nanarg(name, body, a, axis, out, keepdims):
    if out is not None:
        raise NotImplementedError(f"The 'out' argument to jnp.{name} is not supported.")
    check_arraylike(name, a)
    return body(
        as_operand(a), None if axis is None else operator.index(axis), keepdims=bool(keepdims)
    )


@as_jax_jits("_nanargmax", ("axis", "keepdims"))
def _nanargmax(a, axis=None, keepdims=False):
    if not dtypes.is_inexact(dtype_of(a)):
        return argmax(a, axis=axis, keepdims=keepdims)
    nan_mask = lax.ne(a, a)
    res = argmax(where(nan_mask, -np.inf, a), axis=axis, keepdims=keepdims)
    return where(all(nan_mask, axis=axis, keepdims=keepdims), -1, res)


@as_jax_jits("_nanargmin", ("axis", "keepdims"))
def _nanargmin(a, axis=None, keepdims=False):
    if not dtypes.is_inexact(dtype_of(a)):
        return argmin(a, axis=axis, keepdims=keepdims)
    nan_mask = lax.ne(a, a)
    res = argmin(where(nan_mask, np.inf, a), axis=axis, keepdims=keepdims)
    return where(all(nan_mask, axis=axis, keepdims=keepdims), -1, res)


@as_jax_jits("nancumsum", ("axis", "dtype"))
def nancumsum(a, axis=None, dtype=None, out=None):
    _no_out(out, "nancumsum")
    return _cumulative("nancumsum", lax.cumsum, a, axis, dtype, nan_fill=0)


@as_jax_jits("nancumprod", ("axis", "dtype"))
def nancumprod(a, axis=None, dtype=None, out=None):
    _no_out(out, "nancumprod")
    return _cumulative("nancumprod", lax.cumprod, a, axis, dtype, nan_fill=1)


# ---------------------------------------------------------------------------- others


@as_jax_jits("_ptp", ("axis", "keepdims"))
def ptp(a, axis=None, out=None, keepdims=False):
    _no_out(out, "ptp")
    return lax.sub(max(a, axis, keepdims=keepdims), min(a, axis, keepdims=keepdims))


@as_jax_jits("count_nonzero", ("axis", "keepdims"))
def count_nonzero(a, axis=None, keepdims=False):
    check_arraylike("count_nonzero", a)
    a = as_operand(a)
    zero = np.bool_(False) if dtype_of(a) == np.bool_ else weak_scalar(0, dtype_of(a))
    return sum(lax.ne(a, zero), axis=axis, dtype=dtypes.default_int_dtype(), keepdims=keepdims)
