"""Elementwise math: exponentials, logarithms, trigonometry, rounding, float predicates
(``isnan``, ``signbit``, ...), complex parts and composites (``logaddexp``, ``hypot``,
``sinc``, ...), as JAX composes them from lax primitives."""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes, lax
from ..custom_derivatives import custom_jvp
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    check_arraylike,
    dtype_of,
    promote_args,
    promote_args_inexact,
    weak_scalar,
)
from .ufuncs_logic import (
    _const,
    _is_int_or_bool,
    _lax_const,
    _strong,
    _where,
    _zero,
    where,
)

__all__ = [
    "sqrt",
    "cbrt",
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
    # (each term multiplied before the next is made: JAX's order of equations)
    term1 = lax.mul(t1, exp_fn(lax.sub(_finite_or_zero(x1), _finite_or_zero(out))))
    term2 = lax.mul(t2, exp_fn(lax.sub(_finite_or_zero(x2), _finite_or_zero(out))))
    return lax.add(term1, term2)


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
    any_inf = lax.bitwise_or(isposinf(x1), isposinf(x2))
    big, small = lax.max(x1, x2), lax.min(x1, x2)
    is_zero = lax.eq(big, _zero(big))
    safe_big = _where(lax.eq(big, _zero(big)), lax.full_like(big, 1), big)
    out = lax.mul(big, lax.sqrt(lax.add(_const(big, 1), lax.square(lax.div(small, safe_big)))))
    out = _where(is_zero, big, out)
    return _where(any_inf, _lax_const(out, np.inf), out)


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
