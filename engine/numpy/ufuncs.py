"""Elementwise functions: arithmetic, math, comparisons, logic and bitwise ops, ``where``
and ``clip``. Each promotes its inputs as JAX does (weak types, rank promotion), then
binds the lax primitives; compositions follow JAX's formulas."""

from __future__ import annotations

import operator

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ..custom_derivatives import custom_jvp
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
    promote_dtypes,
    promote_shapes,
    weak_scalar,
)

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
    "sqrt",
    "cbrt",
    "square",
    "reciprocal",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "asin",
    "acos",
    "atan",
    "atan2",
    "asinh",
    "acosh",
    "atanh",
    "floor",
    "ceil",
    "round",
    "around",
    "rint",
    "trunc",
    "fix",
    "isfinite",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "signbit",
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
    "real",
    "imag",
    "conj",
    "conjugate",
    "angle",
    "logaddexp",
    "logaddexp2",
    "nextafter",
    "hypot",
    "copysign",
    "deg2rad",
    "rad2deg",
    "radians",
    "degrees",
    "heaviside",
    "sinc",
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


# ---------------------------------------------------------------------------- arithmetic


def add(x1, x2, /):
    x1, x2 = promote_args("add", x1, x2)
    return lax.bitwise_or(x1, x2) if dtype_of(x1) == np.bool_ else lax.add(x1, x2)


def subtract(x1, x2, /):
    x1, x2 = promote_args("subtract", x1, x2)
    return lax.sub(x1, x2)


def _eager() -> bool:
    """Whether ops run now (eagerly, maybe under jvp, vmap or grad's partial evaluation)
    rather than into a jaxpr: where JAX's jit(inline=True) functions run as a jit call."""
    from ..interpreters.batching import BatchTrace
    from ..interpreters.jvp import JVPTrace
    from ..interpreters.partial_eval import PartialEvalTrace

    trace = core.current_trace()
    while type(trace) in (JVPTrace, BatchTrace, PartialEvalTrace):
        trace = trace.parent
    return type(trace) is core.EvalTrace


def compiled_when_eager(fn, static_argnames=()):
    """``fn`` that runs under jit when ``_eager()`` (JAX compiles these jnp functions
    whole: one XLA computation, whose fusion may round or simplify differently from op
    by op) and inline otherwise, so jaxprs show its equations as JAX's do."""
    jitted = None

    def wrapper(*args, **kwargs):
        nonlocal jitted
        if not _eager():
            return fn(*args, **kwargs)
        if jitted is None:
            from ..jit import jit

            jitted = jit(fn, static_argnames=static_argnames)
        return jitted(*args, **kwargs)

    return wrapper


def _compiled_whole_when_eager(fn, converts):
    """JAX compiles each jnp ufunc whole (``jit(inline=True)``): eagerly, a conversion
    and the op are one XLA computation, which XLA's simplifier may rewrite (``False *
    nan`` and ``False / 0`` give 0 there, NaN op by op). So when ``converts(x1, x2)``
    (the operands need a conversion first) and nothing is being staged, ``fn`` runs
    under jit; in jaxprs it stays inline, as JAX's."""
    jitted = None

    def wrapper(x1, x2, /):
        nonlocal jitted
        if converts(x1, x2) and _eager():
            if jitted is None:
                from ..jit import jit

                jitted = jit(fn)
            return jitted(x1, x2)
        return fn(x1, x2)

    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


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


def _multiply(x1, x2, /):
    x1, x2 = promote_args("multiply", x1, x2)
    return lax.bitwise_and(x1, x2) if dtype_of(x1) == np.bool_ else lax.mul(x1, x2)


def _true_divide(x1, x2, /):
    x1, x2 = promote_args_inexact("true_divide", x1, x2)
    return lax.div(x1, x2)


_multiply.__name__ = "multiply"
_true_divide.__name__ = "true_divide"
multiply = _compiled_whole_when_eager(_multiply, _array_converts)
true_divide = _compiled_whole_when_eager(_true_divide, _array_converts_to_inexact)


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
        return _select(fix, lax.sub(quotient, _const(quotient, 1)), quotient)
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


def _select(pred, on_true, on_false):
    """lax.select with its operands broadcast to one shape (as jnp.where does)."""
    pred, on_true, on_false = broadcast_all(*promote_shapes("where", pred, on_true, on_false))
    return lax.select_n(pred, on_false, on_true)


@as_jax_jits("remainder")
def remainder(x1, x2, /):
    x1, x2 = promote_args_numeric("remainder", x1, x2)
    if dtypes.is_int(dtype_of(x2)):
        x2 = _select(lax.eq(x2, _zero(x2)), _const(x2, 1), x2)
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
        x2 = _select(lax.eq(x2, _zero(x2)), lax.full_like(x2, 1), x2)
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


def _inexact_unary(name, lax_fn):
    def fn(x, /):
        (x,) = promote_args_inexact(name, x)
        return lax_fn(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` (integer inputs become the default float type)."
    return fn


sqrt = _inexact_unary("sqrt", lax.sqrt)
cbrt = _inexact_unary("cbrt", lax.cbrt)
exp = _inexact_unary("exp", lax.exp)
exp2 = _inexact_unary("exp2", lax.exp2)
expm1 = _inexact_unary("expm1", lax.expm1)
log = _inexact_unary("log", lax.log)
log1p = _inexact_unary("log1p", lax.log1p)
sin = _inexact_unary("sin", lax.sin)
cos = _inexact_unary("cos", lax.cos)
tan = _inexact_unary("tan", lax.tan)
arcsin = asin = _inexact_unary("arcsin", lax.asin)
arccos = acos = _inexact_unary("arccos", lax.acos)
arctan = atan = _inexact_unary("arctan", lax.atan)
sinh = _inexact_unary("sinh", lax.sinh)
cosh = _inexact_unary("cosh", lax.cosh)
tanh = _inexact_unary("tanh", lax.tanh)
arcsinh = asinh = _inexact_unary("arcsinh", lax.asinh)
arccosh = as_jax_jits("arccosh")(_inexact_unary("arccosh", lax.acosh))
acosh = arccosh
arctanh = atanh = _inexact_unary("arctanh", lax.atanh)


def log2(x, /):
    (x,) = promote_args_inexact("log2", x)
    return lax.div(lax.log(x), lax.log(_strong(x, 2)))


def log10(x, /):
    (x,) = promote_args_inexact("log10", x)
    return lax.mul(lax.log(x), _strong(x, 1 / np.log(10)))


def arctan2(x1, x2, /):
    x1, x2 = promote_args_inexact("arctan2", x1, x2)
    return lax.atan2(x1, x2)


atan2 = arctan2


# ---------------------------------------------------------------------------- rounding


def floor(x, /):
    (x,) = promote_args("floor", x)
    return as_array(x) if _is_int_or_bool(dtype_of(x)) else lax.floor(x)


def ceil(x, /):
    (x,) = promote_args("ceil", x)
    return as_array(x) if _is_int_or_bool(dtype_of(x)) else lax.ceil(x)


@as_jax_jits("round", ("decimals",))
def round(a, decimals=0, out=None):  # noqa: A001 - NumPy's name
    check_arraylike("round", a)
    decimals = operator.index(decimals)
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.round is not supported.")
    a = as_operand(a)
    dt = dtype_of(a)
    if dt == np.bool_:
        raise ValueError("data type <class 'numpy.bool'> not inexact")
    if _is_int_or_bool(dt):
        if decimals >= 0:
            return as_array(a)
        factor = 10 ** (-decimals)
        f = lax.convert_element_type(a, dtypes.default_float_dtype())
        f = lax.mul(_round_float(lax.div(f, _const(f, factor)), 0), _const(f, factor))
        return lax.convert_element_type(f, dt)
    if dtypes.is_complex(dt):
        return lax.complex(_round_float(lax.real(a), decimals), _round_float(lax.imag(a), decimals))
    return _round_float(a, decimals)


def _round_float(x, decimals):
    if decimals == 0:
        return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)
    factor = _const(x, 10.0**decimals)
    return lax.div(lax.round(lax.mul(x, factor), lax.RoundingMethod.TO_NEAREST_EVEN), factor)


@as_jax_jits("around", ("decimals",))
def around(a, decimals=0, out=None):
    """``round``, by NumPy's older name."""
    return round(a, decimals, out)


@as_jax_jits("rint")
def rint(x, /):
    check_arraylike("rint", x)
    x = as_operand(x)
    if not dtypes.is_inexact(dtype_of(x)):
        return lax.convert_element_type(x, dtypes.default_float_dtype())
    if dtypes.is_complex(dtype_of(x)):
        return lax.complex(rint(lax.real(x)), rint(lax.imag(x)))
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


@as_jax_jits("trunc")
def trunc(x, /):
    (x,) = promote_args("trunc", x)
    if _is_int_or_bool(dtype_of(x)):
        return as_array(x)
    return where(lax.lt(x, _zero(x)), lax.ceil(x), lax.floor(x))


def fix(x, out=None):
    return trunc(x)


# ---------------------------------------------------------------------------- float predicates


def isfinite(x, /):
    check_arraylike("isfinite", x)
    x = as_operand(x)
    dt = dtype_of(x)
    if dtypes.is_float(dt):
        return lax.is_finite(x)
    if dtypes.is_complex(dt):
        return lax.bitwise_and(lax.is_finite(lax.real(x)), lax.is_finite(lax.imag(x)))
    return as_array(lax.full_like(x, True, np.bool_))


def isnan(x, /):
    check_arraylike("isnan", x)
    x = as_operand(x)
    return lax.ne(x, x)


@as_jax_jits("isinf")
def isinf(x, /):
    check_arraylike("isinf", x)
    x = as_operand(x)
    dt = dtype_of(x)
    # a strong inf, as JAX's: the bool result is never weakly typed
    if dtypes.is_float(dt):
        return lax.eq(lax.abs(x), _strong(x, np.inf))
    if dtypes.is_complex(dt):
        re, im = lax.real(x), lax.imag(x)
        return lax.bitwise_or(
            lax.eq(lax.abs(re), _strong(re, np.inf)), lax.eq(lax.abs(im), _strong(im, np.inf))
        )
    return as_array(lax.full_like(x, False, np.bool_))


def _isinf_signed(name, value):
    def fn(x, /):
        check_arraylike(name, x)
        x = as_operand(x)
        dt = dtype_of(x)
        if dtypes.is_complex(dt):
            raise ValueError(f"jnp.{name} does not support complex-valued inputs.")
        if dtypes.is_float(dt):
            return lax.eq(x, _strong(x, value))  # strong, as JAX's: a bool never weak
        return as_array(lax.full_like(x, False, np.bool_))

    fn.__name__ = name
    return fn


isposinf = _isinf_signed("isposinf", np.inf)
isneginf = _isinf_signed("isneginf", -np.inf)


@as_jax_jits("signbit")
def signbit(x, /):
    (x,) = promote_args("signbit", x)
    dt = dtype_of(x)
    if dtypes.is_int(dt):
        return lax.lt(x, _strong(x, 0))
    if dt == np.bool_:
        return as_array(lax.full_like(x, False, np.bool_))
    if not dtypes.is_float(dt):
        raise ValueError(f"jnp.signbit is not well defined for {dt}")
    bits = dt.itemsize * 8
    int_dt = np.dtype(f"int{bits}")
    as_int = lax.bitcast_convert_type(x, int_dt)
    return lax.convert_element_type(
        lax.shift_right_arithmetic(as_int, weak_scalar(bits - 1, int_dt)), np.bool_
    )


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
    if np.ndim(condition) == 0:  # select takes a scalar predicate unbroadcast
        x, y = broadcast_all(*promote_shapes("where", x, y))
    else:
        condition, x, y = broadcast_all(*promote_shapes("where", condition, x, y))
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


# ---------------------------------------------------------------------------- complex parts


def real(val, /):
    check_arraylike("real", val)
    val = as_operand(val)
    return lax.real(val) if dtypes.is_complex(dtype_of(val)) else as_array(val)


def imag(val, /):
    check_arraylike("imag", val)
    val = as_operand(val)
    return lax.imag(val) if dtypes.is_complex(dtype_of(val)) else as_array(lax.full_like(val, 0))


def conjugate(x, /):
    check_arraylike("conjugate", x)
    x = as_operand(x)
    return lax.conj(x) if dtypes.is_complex(dtype_of(x)) else as_array(x)


conj = conjugate


@as_jax_jits("angle", ("deg",))
def angle(z, deg=False):
    check_arraylike("angle", z)
    z = as_operand(z)
    if dtypes.is_complex(dtype_of(z)):
        re, im = lax.real(z), lax.imag(z)
    else:
        (re,) = promote_args_inexact("angle", z)
        re = lax.convert_element_type(re, dtype_of(re), False)
        im = lax.full_like(re, 0)
    out = lax.atan2(im, re)
    return rad2deg(out) if deg else out


# ---------------------------------------------------------------------------- composites


def logaddexp(x1, x2, /):
    """``log(exp(x1) + exp(x2))`` without overflow."""
    x1, x2 = promote_args_inexact("logaddexp", x1, x2)
    return _logaddexp(x1, x2)


def logaddexp2(x1, x2, /):
    x1, x2 = promote_args_inexact("logaddexp2", x1, x2)
    return _logaddexp2(x1, x2)


def _logaddexp_impl(x1, x2):
    """``max + log1p(exp(-|x1 - x2|))``; NaNs and same-signed infinities give ``x1 + x2``."""
    if dtypes.is_complex(dtype_of(x1)):
        return _complex_logaddexp(x1, x2, lax.exp, np.pi)
    amax, delta = lax.max(x1, x2), lax.sub(x1, x2)
    is_nan, total = lax.ne(delta, delta), lax.add(x1, x2)
    smooth = lax.add(amax, lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
    return lax.select_n(is_nan, smooth, total)


def _logaddexp2_impl(x1, x2):
    if dtypes.is_complex(dtype_of(x1)):
        return _complex_logaddexp(x1, x2, lax.exp2, np.pi / np.log(2))
    amax, delta = lax.max(x1, x2), lax.sub(x1, x2)
    is_nan, total = lax.ne(delta, delta), lax.add(x1, x2)
    scaled = lax.mul(_lax_const(amax, 1 / np.log(2)), lax.log1p(lax.exp2(lax.neg(lax.abs(delta)))))
    return lax.select_n(is_nan, lax.add(amax, scaled), total)


def _finite_or_zero(x):
    """``x`` with +inf replaced by 0: the derivative rules below stay finite (JAX's rule)."""
    real = lax.real(x) if dtypes.is_complex(dtype_of(x)) else x
    is_inf = lax.eq(real, _lax_const(real, np.inf))
    return lax.select_n(is_inf, x, lax.full_like(x, 0))


def _logaddexp_tangent(exp_fn, x1, x2, t1, t2, out):
    # d/dx1 log(e^x1 + e^x2) = e^(x1 - out), with +inf read as 0 so that the derivative
    # at an infinite operand is e^0 = 1, as JAX's hand-written rule gives.
    d1 = exp_fn(lax.sub(_finite_or_zero(x1), _finite_or_zero(out)))
    d2 = exp_fn(lax.sub(_finite_or_zero(x2), _finite_or_zero(out)))
    return lax.add(lax.mul(t1, d1), lax.mul(t2, d2))


def _logaddexp_jvp(primals, tangents):
    out = _logaddexp(*primals)
    return out, _logaddexp_tangent(lax.exp, *primals, *tangents, out)


def _logaddexp2_jvp(primals, tangents):
    out = _logaddexp2(*primals)
    return out, _logaddexp_tangent(lax.exp2, *primals, *tangents, out)


_logaddexp_impl.__name__ = "logaddexp"
_logaddexp2_impl.__name__ = "logaddexp2"
_logaddexp = custom_jvp(_logaddexp_impl)
_logaddexp.defjvp(_logaddexp_jvp)
_logaddexp2 = custom_jvp(_logaddexp2_impl)
_logaddexp2.defjvp(_logaddexp2_jvp)


def _complex_logaddexp(x1, x2, exp_fn, half_period):
    """``amax + log1p(exp(x1 + x2 - 2 amax))`` (``amax`` the lexicographic max), its
    imaginary part wrapped into ``[-half_period, half_period]`` as JAX's."""
    amax = lax.max(x1, x2)
    delta = lax.sub(lax.add(x1, x2), lax.mul(amax, _lax_const(amax, 2)))
    log_term = lax.log1p(exp_fn(delta))
    if exp_fn is lax.exp2:
        log_term = lax.mul(_lax_const(amax, 1 / np.log(2)), log_term)
    out = lax.add(amax, log_term)
    imag = lax.imag(out)
    a, two_a = _lax_const(imag, half_period), _lax_const(imag, 2 * half_period)
    rem = lax.rem(lax.add(imag, a), two_a)
    rem = lax.select_n(lax.lt(rem, _lax_const(imag, 0)), rem, lax.add(rem, two_a))
    return lax.complex(lax.real(out), lax.sub(rem, a))


def nextafter(x1, x2, /):
    x1, x2 = promote_args_inexact("nextafter", x1, x2)
    return lax.nextafter(x1, x2)


@as_jax_jits("hypot")
def hypot(x1, x2, /):
    x1, x2 = promote_args_inexact("hypot", x1, x2)
    if dtypes.is_complex(dtype_of(x1)):
        raise ValueError(
            "jnp.hypot is not well defined for complex-valued inputs. Please "
            "convert to real values first, such as by using abs(x)"
        )
    x1, x2 = lax.abs(x1), lax.abs(x2)
    any_inf = lax.bitwise_or(lax.eq(x1, _const(x1, np.inf)), lax.eq(x2, _const(x2, np.inf)))
    big, small = lax.max(x1, x2), lax.min(x1, x2)
    is_zero = lax.eq(big, _zero(big))
    safe_big = _select(is_zero, lax.full_like(big, 1), big)
    out = lax.mul(big, lax.sqrt(lax.add(_const(big, 1), lax.square(lax.div(small, safe_big)))))
    out = _select(is_zero, big, out)
    return _select(any_inf, _lax_const(out, np.inf), out)


@as_jax_jits("copysign")
def copysign(x1, x2, /):
    x1, x2 = promote_args_inexact("copysign", x1, x2)
    if dtypes.is_complex(dtype_of(x1)):
        raise TypeError("copysign does not support complex-valued inputs")
    return where(signbit(x2), lax.neg(lax.abs(x1)), lax.abs(x1))


def deg2rad(x, /):
    (x,) = promote_args_inexact("deg2rad", x)
    return lax.mul(x, _const(x, np.pi / 180))


def rad2deg(x, /):
    (x,) = promote_args_inexact("rad2deg", x)
    return lax.mul(x, _const(x, 180 / np.pi))


radians = deg2rad
degrees = rad2deg


@as_jax_jits("heaviside")
def heaviside(x1, x2, /):
    x1, x2 = promote_args_inexact("heaviside", x1, x2)
    negative, positive = lax.lt(x1, _zero(x1)), lax.gt(x1, _zero(x1))
    at_zero = where(lax.ne(x1, x1), x1, x2)  # NaN stays NaN
    return where(negative, _lax_const(x1, 0), where(positive, _lax_const(x1, 1), at_zero))


@as_jax_jits("sinc")
def sinc(x, /):
    """``sin(pi x) / (pi x)``, 1 at 0, where every derivative is its Maclaurin term
    (a custom JVP rule, as JAX's)."""
    (x,) = promote_args_inexact("sinc", x)
    is_zero = lax.eq(x, _zero(x))
    pi_x = lax.mul(_lax_const(x, np.pi), x)
    safe = where(is_zero, _lax_const(x, 1), pi_x)
    return where(is_zero, _sinc_maclaurin(0, pi_x), lax.div(lax.sin(safe), safe))


def _sinc_maclaurin_impl(k, x):
    """The k-th derivative of sin(x)/x at 0 (shaped like x; its JVP gives the next)."""
    zero = lax.mul(x, _zero(x))
    if k % 2:
        return zero
    return lax.add(zero, _lax_const(x, (-1) ** (k // 2) / (k + 1)))


def _sinc_maclaurin_jvp(k, primals, tangents):
    (x,), (t,) = primals, tangents
    return _sinc_maclaurin(k, x), lax.mul(_sinc_maclaurin(k + 1, x), t)


_sinc_maclaurin_impl.__name__ = "_sinc_maclaurin"  # custom_jvp_call[name=...] as JAX's
_sinc_maclaurin = custom_jvp(_sinc_maclaurin_impl, nondiff_argnums=(0,))
_sinc_maclaurin.defjvp(_sinc_maclaurin_jvp)
