"""Elementwise comparisons, logic and bitwise ops, ``maximum``/``minimum`` (and the
NaN-ignoring ``fmax``/``fmin``), ``clip`` and ``where``; with the small constant helpers
the other ufunc modules share (``ufuncs_arith``, ``ufuncs_math``)."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    broadcast_all,
    check_arraylike,
    dtype_of,
    promote_args,
    promote_args_numeric,
    promote_dtypes,
    promote_shapes,
    weak_scalar,
)

__all__ = [
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "clip",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_invert",
    "invert",
    "left_shift",
    "right_shift",
    "bitwise_left_shift",
    "bitwise_right_shift",
]


def _is_int_or_bool(dt):
    return dtypes.is_int(dt) or dt == np.bool_


def _zero(x):
    return weak_scalar(0, dtype_of(x)) if dtype_of(x) != np.bool_ else np.bool_(False)


def _const(x, v):
    """A weakly typed literal ``v`` of ``x``'s dtype."""
    return weak_scalar(v, dtype_of(x))


def _strong(x, v):
    """A strongly typed literal ``v`` of ``x``'s dtype (the result becomes strong)."""
    return np.asarray(v, dtype_of(x))


def _lax_const(x, v):
    """``v`` as a constant like ``x``: weak if ``x`` is a weakly typed scalar, else strong
    (JAX's rule for the constants inside its compositions)."""
    aval = core.get_aval(x)
    if aval.weak_type and not aval.shape:
        return weak_scalar(v, aval.dtype)
    return np.asarray(v, aval.dtype)


def _select(pred, on_true, on_false):
    """lax.select with its operands broadcast to one shape (as jnp.where does)."""
    pred, on_true, on_false = broadcast_all(*promote_shapes("where", pred, on_true, on_false))
    return lax.select_n(pred, on_false, on_true)


# ---------------------------------------------------------------------------- min/max, clip, where


def maximum(x1, x2, /):
    x1, x2 = promote_args("maximum", x1, x2)
    return lax.max(x1, x2)


def minimum(x1, x2, /):
    x1, x2 = promote_args("minimum", x1, x2)
    return lax.min(x1, x2)


@as_jax_jits("fmax")
def fmax(x1, x2):
    """The larger of two values, ignoring a NaN in either."""
    x1, x2 = promote_args("fmax", x1, x2)
    return where(lax.bitwise_or(greater(x1, x2), lax.ne(x2, x2)), x1, x2)


@as_jax_jits("fmin")
def fmin(x1, x2):
    x1, x2 = promote_args("fmin", x1, x2)
    return where(lax.bitwise_or(less(x1, x2), lax.ne(x2, x2)), x1, x2)


_NO_ARG = object()


@as_jax_jits("clip")
def clip(
    arr=None,
    /,
    min=None,
    max=None,
    *,
    a=_NO_ARG,
    a_min=_NO_ARG,  # noqa: A002
    a_max=_NO_ARG,
):
    """Limit values to ``[min, max]``: ``minimum(max, maximum(min, arr))``."""
    if a is not _NO_ARG:
        arr = a
    if a_min is not _NO_ARG:
        min = a_min  # noqa: A001
    if a_max is not _NO_ARG:
        max = a_max  # noqa: A001
    check_arraylike("clip", arr)
    if any(dtypes.is_complex(dtype_of(v)) for v in (arr, min, max) if v is not None):
        raise ValueError(
            "Clip received a complex value either through the input or the min/max "
            "keywords. Complex values have no ordering and cannot be clipped. "
            "Please convert to a real value or array by taking the real or "
            "imaginary components via jax.numpy.real/imag respectively."
        )
    out = as_operand(arr)
    if min is not None:
        out = maximum(min, out)
    if max is not None:
        out = minimum(max, out)
    return as_array(out)


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """``x`` where ``condition`` holds, else ``y``. (``jnp.where``, in ``misc``, adds the
    one-argument form, ``nonzero``, which needs modules above this one.)"""
    if x is None or y is None:
        raise ValueError(
            "Either both or neither of the x and y arguments should be provided "
            f"to jax.numpy.where, got {x} and {y}."
        )
    check_arraylike("where", condition, x, y)
    return _where(condition, x, y)


@as_jax_jits("_where")
def _where(condition, x, y):
    condition = as_operand(condition)
    if dtype_of(condition) != np.bool_:
        condition = lax.ne(condition, _zero(condition))
    x, y = promote_dtypes(x, y)
    # each operand broadcast once to the common shape (no rank promotion first, as JAX's)
    if np.ndim(condition) == 0:  # select takes a scalar predicate unbroadcast
        x, y = broadcast_all(x, y)
    else:
        condition, x, y = broadcast_all(condition, x, y)
    if 0 in np.shape(x):
        return x
    return lax.select_n(condition, y, x)


# ---------------------------------------------------------------------------- comparisons


def _comparison(name, lax_fn, ordered=False):
    def fn(x1, x2, /):
        x1, x2 = promote_args(name, x1, x2)
        if ordered and dtypes.is_complex(dtype_of(x1)):
            # NumPy orders complex numbers lexicographically: real parts, then imaginary
            re1, re2 = lax.real(x1), lax.real(x2)
            return lax.select_n(
                lax.eq(re1, re2), lax_fn(re1, re2), lax_fn(lax.imag(x1), lax.imag(x2))
            )
        return lax_fn(x1, x2)

    fn.__name__ = fn.__qualname__ = name
    return fn


equal = _comparison("equal", lax.eq)
not_equal = _comparison("not_equal", lax.ne)
less = _comparison("less", lax.lt, True)
less_equal = _comparison("less_equal", lax.le, True)
greater = _comparison("greater", lax.gt, True)
greater_equal = _comparison("greater_equal", lax.ge, True)


# ---------------------------------------------------------------------------- logic and bits


def _to_bool(x):
    # JAX's zero here is weak for a weakly typed scalar (Python or 0-d array): the bool follows it
    if dtype_of(x) == np.bool_:
        return x
    return lax.ne(x, _zero(x) if type(x) is core.WeakScalar else _lax_const(x, 0))


def _logical(name, lax_fn):
    def fn(*args):
        args = promote_args(name, *args)
        return lax_fn(*(_to_bool(a) for a in args))

    fn.__name__ = fn.__qualname__ = name
    return fn


logical_and = _logical("logical_and", lax.bitwise_and)
logical_or = _logical("logical_or", lax.bitwise_or)
logical_xor = _logical("logical_xor", lax.bitwise_xor)
logical_not = _logical("logical_not", lax.bitwise_not)


def _bitwise(name, lax_fn):
    def fn(*args):
        args = promote_args(name, *args)
        dt = dtype_of(args[0])
        if not _is_int_or_bool(dt):
            raise TypeError(f"{name} requires integer or boolean arguments, got {dt.name}")
        return lax_fn(*args)

    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = _bitwise("bitwise_and", lax.bitwise_and)
bitwise_or = _bitwise("bitwise_or", lax.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", lax.bitwise_xor)
bitwise_not = invert = bitwise_invert = _bitwise("bitwise_not", lax.bitwise_not)


def left_shift(x1, x2, /):
    x1, x2 = promote_args_numeric("left_shift", x1, x2)
    return lax.shift_left(x1, x2)


bitwise_left_shift = left_shift


def right_shift(x1, x2, /):
    x1, x2 = promote_args_numeric("right_shift", x1, x2)
    if dtypes.is_unsigned(dtype_of(x1)):
        return lax.shift_right_logical(x1, x2)
    return lax.shift_right_arithmetic(x1, x2)


bitwise_right_shift = right_shift
