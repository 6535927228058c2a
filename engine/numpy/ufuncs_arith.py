"""Elementwise arithmetic: ``add`` to ``power``, division and remainders, signs and
absolute values. Each promotes its inputs as JAX does (weak types, rank promotion), then
binds the lax primitives; compositions follow JAX's formulas."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    broadcast_all,
    check_arraylike,
    dtype_of,
    promote_args,
    promote_args_inexact,
    promote_args_numeric,
)
from .ufuncs_logic import _const, _select, _where, _zero, where

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "mod",
    "fmod",
    "divmod",
    "power",
    "pow",
    "float_power",
    "negative",
    "positive",
    "abs",
    "absolute",
    "fabs",
    "sign",
    "square",
    "reciprocal",
]


# ---------------------------------------------------------------------------- arithmetic


def add(x1, x2, /):
    x1, x2 = promote_args("add", x1, x2)
    return lax.bitwise_or(x1, x2) if dtype_of(x1) == np.bool_ else lax.add(x1, x2)


def subtract(x1, x2, /):
    x1, x2 = promote_args("subtract", x1, x2)
    return lax.sub(x1, x2)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}  # V: bfloat16 and kin
_SCALAR_KIND = {bool: "b", int: "i", float: "f", complex: "c"}


def _array_converts(x1, x2):
    """Whether an array operand is converted before the op: the two arrays' dtypes
    differ, or an array is of a lower kind than a Python scalar operand (bool * 2.0)."""
    d1, d2 = getattr(x1, "dtype", None), getattr(x2, "dtype", None)
    if d1 is not None and d2 is not None:
        return d1 != d2
    if d1 is None and d2 is None:
        return False
    array_dtype, scalar = (d1, x2) if d1 is not None else (d2, x1)
    kind = _SCALAR_KIND.get(type(scalar))
    return kind is not None and _KIND_RANK.get(array_dtype.kind, 2) < _KIND_RANK[kind]


def _array_converts_to_inexact(x1, x2):
    if _array_converts(x1, x2):
        return True
    return any(
        d is not None and not dtypes.is_inexact(d)
        for d in (getattr(x1, "dtype", None), getattr(x2, "dtype", None))
    )


# JAX compiles each jnp ufunc whole (jit(inline=True)): eagerly, a conversion and the op
# are one XLA computation, which XLA's simplifier may rewrite (False * nan and False / 0
# give 0 there, NaN op by op); without a conversion op by op gives the same values.
@as_jax_jits("multiply", inline=True, compiled_if=_array_converts)
def multiply(x1, x2, /):
    x1, x2 = promote_args("multiply", x1, x2)
    return lax.bitwise_and(x1, x2) if dtype_of(x1) == np.bool_ else lax.mul(x1, x2)


@as_jax_jits("true_divide", inline=True, compiled_if=_array_converts_to_inexact)
def true_divide(x1, x2, /):
    x1, x2 = promote_args_inexact("true_divide", x1, x2)
    return lax.div(x1, x2)


divide = true_divide


@as_jax_jits("floor_divide")
def floor_divide(x1, x2, /):
    x1, x2 = promote_args_numeric("floor_divide", x1, x2)
    dt = dtype_of(x1)
    if dtypes.is_unsigned(dt):
        return lax.div(x1, x2)
    if dtypes.is_int(dt):
        quotient = lax.div(x1, x2)
        fix = lax.bitwise_and(
            lax.ne(lax.sign(x1), lax.sign(x2)), lax.ne(lax.rem(x1, x2), _zero(x1))
        )
        return _where(fix, lax.sub(quotient, _const(quotient, 1)), quotient)
    if dtypes.is_complex(dt):
        raise TypeError("floor_divide does not support complex-valued inputs")
    return _float_divmod(x1, x2)[0]


def _float_divmod(x1, x2):
    mod = lax.rem(x1, x2)
    safe = where(lax.eq(x2, _zero(x2)), x1, lax.sub(x1, mod))
    div = lax.div(safe, x2)
    ind = lax.bitwise_and(lax.ne(mod, _zero(mod)), lax.ne(lax.sign(x2), lax.sign(mod)))
    mod = _select(ind, lax.add(mod, x2), mod)
    div = _select(ind, lax.sub(div, _const(div, 1)), div)
    return lax.round(div), mod  # away from zero, as JAX (div is integral but for rounding error)


@as_jax_jits("remainder")
def remainder(x1, x2, /):
    x1, x2 = promote_args_numeric("remainder", x1, x2)
    if dtypes.is_int(dtype_of(x2)):
        x2 = _where(lax.eq(x2, _zero(x2)), lax.full_like(x2, 1), x2)
    trunc_mod = lax.rem(x1, x2)
    nonzero = lax.ne(trunc_mod, _zero(trunc_mod))
    do_plus = lax.bitwise_and(
        lax.ne(lax.lt(trunc_mod, _zero(trunc_mod)), lax.lt(x2, _zero(x2))), nonzero
    )
    return _select(do_plus, lax.add(trunc_mod, x2), trunc_mod)


mod = remainder


@as_jax_jits("fmod")
def fmod(x1, x2, /):
    check_arraylike("fmod", x1, x2)
    # as JAX: a zero integer divisor becomes 1 only when the operands' own result type is
    # an integer; bools promote to int first and XLA's ``x % 0`` gives ``x``
    if dtypes.is_int(dtypes.result_type(x1, x2)):
        x2 = as_operand(x2)
        x2 = _where(lax.eq(x2, _zero(x2)), lax.full_like(x2, 1), x2)
    x1, x2 = promote_args_numeric("fmod", x1, x2)
    return lax.rem(x1, x2)


@as_jax_jits("divmod")
def divmod(x1, x2, /):  # noqa: A001 - NumPy's name
    x1, x2 = promote_args_numeric("divmod", x1, x2)
    if dtypes.is_int(dtype_of(x1)):
        return floor_divide(x1, x2), remainder(x1, x2)
    return _float_divmod(x1, x2)


def _static_integer(x):
    """``x`` as a Python int if it is a concrete integer scalar (not traced), else None."""
    if isinstance(x, np.bool_) or isinstance(x, core.Tracer):
        return None
    if isinstance(x, (int, np.integer)):  # a Python bool too (operator.index takes it, as JAX)
        return int(x)
    # a concrete 0-d integer array is static too (JAX: core.is_concrete + operator.index)
    if isinstance(x, (Array, np.ndarray)) and x.ndim == 0 and np.dtype(x.dtype).kind in "iu":
        return int(x)
    return None


def power(x1, x2, /):
    """``x1 ** x2``. A static integer exponent gives ``integer_pow`` (as in JAX)."""
    check_arraylike("power", x1, x2)
    n = _static_integer(x2)
    if n is not None:
        # the exponent takes no part in promotion: int8 ** 2 stays int8
        x1 = as_operand(x1)
        if dtype_of(x1) == np.bool_:
            x1 = lax.convert_element_type(x1, dtypes.default_int_dtype())
        return lax.integer_pow(x1, n)
    p1, p2 = promote_args_numeric("power", x1, x2)
    if dtypes.is_int(dtype_of(p1)):
        return _integer_power(p1, p2)
    if dtypes.is_inexact(dtype_of(x1)) and dtypes.is_int(dtype_of(x2)):
        # float base, integer exponent: lax.pow takes them unpromoted (as JAX), so a weak
        # base with a strong integer exponent gives a strong result
        return lax.pow(*broadcast_all(as_operand(x1), as_operand(x2)))
    return lax.pow(p1, p2)


def _integer_power(x1, x2):
    """Square-and-multiply over the exponent's low 6 bits, as JAX computes it (more bits
    would overflow for any base > 1): so ``2 ** 70 == 64`` and a negative exponent reads
    its two's-complement bits (NumPy raises for those; JAX gives these values)."""
    zero, one = np.asarray(0, dtype_of(x2)), np.asarray(1, dtype_of(x2))
    # pow(0, n) is 0 for n != 0, 1 for n == 0
    acc = _select(lax.bitwise_and(lax.eq(x1, zero), lax.ne(x2, zero)), zero, one)
    for _ in range(6):
        acc = _select(lax.ne(lax.bitwise_and(x2, one), zero), lax.mul(acc, x1), acc)
        x1 = lax.mul(x1, x1)
        x2 = lax.shift_right_logical(x2, one)
    return acc


pow = power  # noqa: A001 - NumPy's name


def float_power(x1, x2, /):
    check_arraylike("float_power", x1, x2)
    x1, x2 = promote_args_inexact("float_power", x1, x2)
    return lax.pow(x1, x2)


def negative(x, /):
    check_arraylike("negative", x)
    return lax.neg(as_operand(x))


def positive(x, /):
    check_arraylike("positive", x)
    return as_array(as_operand(x))


def abs(x, /):  # noqa: A001 - NumPy's name
    check_arraylike("abs", x)
    x = as_operand(x)
    dt = dtype_of(x)
    if dtypes.is_unsigned(dt) or dt == np.bool_:
        return as_array(x)
    return lax.abs(x)


absolute = abs


def fabs(x, /):
    (x,) = promote_args_inexact("fabs", x)
    if dtypes.is_complex(dtype_of(x)):
        raise TypeError("ufunc 'fabs' does not support complex dtypes")
    return lax.abs(x)


def sign(x, /):
    check_arraylike("sign", x)
    return lax.sign(as_operand(x))


def square(x, /):
    (x,) = promote_args_numeric("square", x)
    return lax.square(x)


def reciprocal(x, /):
    (x,) = promote_args_inexact("reciprocal", x)
    return lax.integer_pow(x, -1)
