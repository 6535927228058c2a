"""Elementwise arithmetic and math primitives, each with its rules beside it.

Operands of the binary primitives share a dtype; their shapes are equal, rank 0, or of
equal rank with size-1 dimensions (which broadcast), as in JAX. JVP rules therefore give
tangents of the *output* shape, and transposes sum cotangents back to operand shapes."""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np
from jaxlib.mlir.dialects import chlo
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..ad_util import add_any, add_any_p  # declared with AD, which needs it
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, defjvp, defjvp2, deflinear, tangent_aval, zero_jvp
from ..interpreters.transpose import is_undefined_primal
from ._base import (
    aval_of,
    broadcasting_lowering,
    check_dtype,
    elementwise_shape,
    hide_none,
    naryop,
    plain,
    unbroadcast,
)

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "rem",
    "neg",
    "sign",
    "abs",
    "max",
    "min",
    "pow",
    "integer_pow",
    "square",
    "reciprocal",
    "sqrt",
    "rsqrt",
    "cbrt",
    "exp",
    "exp2",
    "log",
    "log1p",
    "expm1",
    "tanh",
    "logistic",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "asinh",
    "acosh",
    "atanh",
    "floor",
    "ceil",
    "round",
    "is_finite",
    "real",
    "imag",
    "conj",
    "complex",
    "add_any",
    "RoundingMethod",
    "AccuracyMode",
    "Tolerance",
    "add_p",
    "sub_p",
    "mul_p",
    "div_p",
    "rem_p",
    "neg_p",
    "sign_p",
    "abs_p",
    "max_p",
    "min_p",
    "pow_p",
    "integer_pow_p",
    "square_p",
    "sqrt_p",
    "rsqrt_p",
    "cbrt_p",
    "exp_p",
    "exp2_p",
    "log_p",
    "log1p_p",
    "expm1_p",
    "tanh_p",
    "logistic_p",
    "sin_p",
    "cos_p",
    "tan_p",
    "asin_p",
    "acos_p",
    "atan_p",
    "atan2_p",
    "sinh_p",
    "cosh_p",
    "asinh_p",
    "acosh_p",
    "atanh_p",
    "floor_p",
    "ceil_p",
    "round_p",
    "is_finite_p",
    "real_p",
    "imag_p",
    "conj_p",
    "complex_p",
    "add_any_p",
]


_float = ("float",)
_complex = ("complex",)
_inexact = ("float", "complex")
_num = ("int", "float", "complex")
_int_float = ("int", "float")
_any = ("bool", "int", "float", "complex")
_signed = ("float", "complex", "sint")
_real_floats = (np.dtype(np.float32), np.dtype(np.float64))

# ---------------------------------------------------------------------------- rule builders

# The builder and its parts live in _base (one for every elementwise primitive); these
# names stay importable from here for the modules that use them.
_plain = plain
_broadcasting_lowering = broadcasting_lowering
_hide_none = hide_none


def _const(v, x):
    """A weakly typed scalar of ``x``'s dtype (prints as a literal), rounded to it."""
    dtype = aval_of(x).dtype
    if type(v) is float:
        v = np.asarray(v, dtype).item()
    return core.WeakScalar(v, dtype)


def _one(x):
    """JAX's ``_one``: 1 of ``x``'s dtype; for ``x`` typed over a mesh, resharded onto it."""
    from ..sharding.in_types import scalar_like

    return scalar_like(_const(1, x), x)


def _bcast_tangent(t, ans):
    """A tangent of a size-1/scalar operand, broadcast to the output's shape."""
    from .structural import broadcast_to_shape

    return broadcast_to_shape(t, aval_of(ans).shape)


def _is_complex(x):
    return dtypes.is_complex(aval_of(x).dtype)


def promote_scalars(*args):
    """Python scalars as lax binds them: unchanged, i.e. weakly typed values of their
    default dtype (``1.0`` is a weak float32), as in JAX, whose lax functions never
    promote (``lax.add(jnp.int32(1), 1.0)`` is a TypeError). Kept for callers of the
    old name."""
    return args


def _bind2(p, x, y, **params):
    return p.bind(x, y, **params)


# ---------------------------------------------------------------------------- accuracy


class AccuracyMode(enum.Enum):
    HIGHEST = 1
    DEFAULT = 2


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Requested accuracy of a transcendental op: the result may differ from the exact
    one by ``atol + rtol * |exact|`` or by ``ulps`` units in the last place."""

    atol: float = 0.0
    rtol: float = 0.0
    ulps: int = 0

    def __post_init__(self):
        if self.atol < 0 or self.rtol < 0 or self.ulps < 0:
            raise ValueError("Tolerances must be non-negative.")


def _check_accuracy(accuracy):
    if accuracy is None or isinstance(accuracy, (Tolerance, AccuracyMode)):
        return accuracy
    raise NotImplementedError(f"Accuracy {accuracy} not supported")


def _accuracy_attr(accuracy):
    if isinstance(accuracy, Tolerance):
        return hlo.ResultAccuracyAttr.get(
            float(accuracy.atol), float(accuracy.rtol), int(accuracy.ulps), "TOLERANCE"
        )
    return hlo.ResultAccuracyAttr.get(0.0, 0.0, 0, accuracy.name)


def _accurate(hlo_fn):
    """Lowering of an op that takes an ``accuracy`` param (StableHLO result_accuracy)."""

    build = lowering.simple_op(hlo_fn)

    def lower(ctx, x, *, accuracy):
        if accuracy is None:
            return build(lowering.ir_type(ctx.avals_out[0]), x)
        return hlo_fn(x, result_accuracy=_accuracy_attr(accuracy))

    return lower


def _unop_acc(name, kinds, hlo_fn):
    return naryop(name, kinds, _accurate(hlo_fn))


# ---------------------------------------------------------------------------- add / sub / neg

add_p = naryop("add", _num, _plain(hlo.add))
sub_p = naryop("sub", _num, _plain(hlo.subtract))
neg_p = naryop("neg", _num, _plain(hlo.negate))


def add(x, y):
    return add_p.bind(x, y)


def sub(x, y):
    return sub_p.bind(x, y)


def neg(x):
    return neg_p.bind(x)


def _add_transpose(ct, x, y):
    return [
        unbroadcast(ct, None, x.aval) if is_undefined_primal(x) else None,
        unbroadcast(ct, None, y.aval) if is_undefined_primal(y) else None,
    ]


def _sub_transpose(ct, x, y):
    return [
        unbroadcast(ct, None, x.aval) if is_undefined_primal(x) else None,
        unbroadcast(neg(ct), None, y.aval) if is_undefined_primal(y) else None,
    ]


def _add_sub_jvp(primitive, negate_y):
    """As JAX's _add_jvp/_sub_jvp: with two nonzero tangents the output tangent is the
    primitive itself on them (``add``, not ``add_any``, in the jaxpr)."""

    def rule(primals, tangents):
        ans = primitive.bind(*primals)
        xdot, ydot = tangents
        if type(xdot) is Zero and type(ydot) is Zero:
            return ans, Zero(tangent_aval(aval_of(ans)))
        if type(xdot) is Zero:
            return ans, _bcast_tangent(neg(ydot) if negate_y else ydot, ans)
        if type(ydot) is Zero:
            return ans, _bcast_tangent(xdot, ans)
        # unbroadcast, as JAX's: the tangents have the operands' shapes, which the
        # primitive accepted (under vmap JAX's batching rule accepts more: then it raises)
        return ans, primitive.bind(xdot, ydot)

    primitive.def_jvp(rule)


_add_sub_jvp(add_p, False)
add_p.def_transpose(_add_transpose)
_add_sub_jvp(sub_p, True)
sub_p.def_transpose(_sub_transpose)
deflinear(neg_p, lambda ct, x: [neg(ct)])


# ---------------------------------------------------------------------------- mul / div / rem


def _mul_lowering(ctx, x, y, *, out_dtype):
    if out_dtype is not None:
        shape = ctx.avals_out[0].shape
        x = lowering.convert(x, ctx.avals_in[0].update(shape=shape), out_dtype)
        y = lowering.convert(y, ctx.avals_in[1].update(shape=shape), out_dtype)
    return hlo.multiply(x, y)


mul_p = naryop(
    "mul",
    _num,
    _mul_lowering,
    result_dtype=lambda d, out_dtype: d if out_dtype is None else out_dtype,
)
div_p = naryop("div", _num, _plain(hlo.divide))
rem_p = naryop("rem", _int_float, _plain(hlo.remainder))


def mul(x, y, *, out_dtype=None):
    if out_dtype is not None:
        out_dtype = dtypes.canonicalize_dtype(out_dtype)
    return mul_p.bind(x, y, out_dtype=out_dtype)


def div(x, y):
    """Division; integers round toward zero."""
    return div_p.bind(x, y)


def rem(x, y):
    """Remainder with the sign of ``x`` (C's fmod)."""
    return rem_p.bind(x, y)


def _mul_jvp_x(g, x, y, *, out_dtype):
    return mul(g, y, out_dtype=out_dtype)


def _mul_jvp_y(g, x, y, *, out_dtype):
    return mul(x, g, out_dtype=out_dtype)


defjvp(mul_p, _mul_jvp_x, _mul_jvp_y)


def _mul_transpose(ct, x, y, *, out_dtype):
    from .convert import convert_element_type

    if is_undefined_primal(x) and is_undefined_primal(y):
        raise ValueError("mul is not linear in both operands at once")
    x_linear = is_undefined_primal(x)
    undef, other = (x, y) if x_linear else (y, x)
    if out_dtype is not None:
        other = convert_element_type(other, aval_of(ct).dtype)
    res = mul(ct, other) if x_linear else mul(other, ct)  # JAX's operand order
    if out_dtype is not None:
        res = convert_element_type(res, undef.aval.dtype)
    res = unbroadcast(res, None, undef.aval)
    return [res, None] if x_linear else [None, res]


mul_p.def_transpose(_mul_transpose)
defjvp(div_p, lambda g, x, y: div(g, y), lambda g, x, y: mul(mul(neg(g), x), integer_pow(y, -2)))


def _div_transpose(ct, x, y):
    if is_undefined_primal(y):
        raise ValueError("div is not linear in its divisor")
    return [unbroadcast(div(ct, y), None, x.aval), None]


div_p.def_transpose(_div_transpose)


def _trunc(x):
    return mul(sign(x), floor(abs(x)))


defjvp2(
    rem_p,
    lambda g, ans, x, y: _bcast_tangent(g, ans),
    lambda g, ans, x, y: mul(neg(g), _trunc(div(x, y))),
)


# ---------------------------------------------------------------------------- sign / abs / square


def _sign_lowering(ctx, x):
    aval = ctx.avals_out[0]
    if not dtypes.is_unsigned(aval.dtype):
        return hlo.sign(x)
    is_zero = lowering.compare(x, lowering.full_like_aval(0, aval), "EQ", aval)
    return hlo.select(is_zero, lowering.full_like_aval(0, aval), lowering.full_like_aval(1, aval))


sign_p = naryop("sign", _num, _sign_lowering)
abs_p = naryop("abs", _signed, _plain(hlo.abs), result_dtype=dtypes.real_dtype)


def _square_lowering(ctx, x):
    if dtypes.is_inexact(ctx.avals_out[0].dtype):
        return chlo.square(x)
    return hlo.multiply(x, x)


square_p = naryop("square", _num, _square_lowering)
# JAX's square lowering (chlo.square, or x * x) writes no constraint on its result
square_p.def_lowering(broadcasting_lowering(_square_lowering, constrain_result=False))


def sign(x):
    return sign_p.bind(x)


def abs(x):  # noqa: A001 - lax's name
    return abs_p.bind(x)


def square(x):
    return square_p.bind(x)


def reciprocal(x):
    return integer_pow(x, -1)


zero_jvp(sign_p)


def _abs_jvp(g, ans, x):
    from .convert import convert_element_type
    from .logic import eq, ge, select

    if _is_complex(x):
        # d|z| = Re(conj(z) dz) / |z|, taken as 0 at z = 0
        mag = convert_element_type(ans, aval_of(x).dtype)
        safe = select(eq(mag, _const(0, mag)), _bcast_scalar(1, mag), mag)
        return real(mul(g, div(conj(x), safe)))
    return select(ge(x, _const(0, x)), g, neg(g))


def _bcast_scalar(v, like):
    from .structural import full_like

    return full_like(like, v)


defjvp2(abs_p, _abs_jvp)
defjvp(square_p, lambda g, x: mul(g, mul(_const(2, x), x)))


# ---------------------------------------------------------------------------- max / min


def _minmax_lowering(hlo_fn, direction):
    def lower(ctx, x, y):
        aval = ctx.avals_out[0]
        if not dtypes.is_complex(aval.dtype):
            return hlo_fn(x, y)
        # complex numbers order lexicographically: real part, then imaginary part
        ra = aval.update(dtype=dtypes.real_dtype(aval.dtype))
        rt = [lowering.ir_type(ra)]
        rx, ry = hlo.real(x, results=rt), hlo.real(y, results=rt)
        ix, iy = hlo.imag(x, results=rt), hlo.imag(y, results=rt)
        by_imag = hlo.select(lowering.compare(ix, iy, direction, ra), x, y)
        by_real = hlo.select(lowering.compare(rx, ry, direction, ra), x, y)
        return hlo.select(lowering.compare(rx, ry, "EQ", ra), by_imag, by_real)

    return lower


max_p = naryop("max", _any, _minmax_lowering(hlo.maximum, "GT"))
min_p = naryop("min", _any, _minmax_lowering(hlo.minimum, "LT"))


def max(x, y):  # noqa: A001 - lax's name
    return max_p.bind(x, y)


def min(x, y):  # noqa: A001
    return min_p.bind(x, y)


def _eq_meet(a, b):
    """a == b, the lower-precision operand converted first (JAX's ``_eq_meet``)."""
    from .convert import convert_element_type
    from .logic import eq

    da, db = aval_of(a).dtype, aval_of(b).dtype
    if da != db:
        if np.promote_types(da, db) == da:
            a = convert_element_type(a, db)
        else:
            b = convert_element_type(b, da)
    return eq(a, b)


def _pick_weight(ans, mine, other):
    """1 where ``mine`` is the result, 1/2 where both are (ties share the tangent); built
    as JAX's ``_balanced_eq``: select(mine == ans, 1, 0) / select(other == ans, 2, 1)."""
    from .filled import full_like
    from .logic import select

    def filled(v):
        return full_like(ans, v)

    return div(
        select(_eq_meet(mine, ans), filled(1), filled(0)),
        select(_eq_meet(other, ans), filled(2), filled(1)),
    )


defjvp2(
    max_p,
    lambda g, ans, x, y: mul(g, _pick_weight(ans, x, y)),
    lambda g, ans, x, y: mul(g, _pick_weight(ans, y, x)),
)
defjvp2(
    min_p,
    lambda g, ans, x, y: mul(g, _pick_weight(ans, x, y)),
    lambda g, ans, x, y: mul(g, _pick_weight(ans, y, x)),
)


# ---------------------------------------------------------------------------- pow / integer_pow


def _pow_rule(x, y):
    if not dtypes.is_inexact(x.dtype):
        check_dtype("pow", x.dtype, _inexact, 0)
    check_dtype("pow", y.dtype, _num, 1)
    if dtypes.is_inexact(y.dtype) and y.dtype != x.dtype:
        raise TypeError(
            "the first argument to pow must have an inexact dtype (float or "
            "complex), and the second argument must have an inexact or integer "
            "dtype, and two inexact dtypes must match, but got "
            f"{x.dtype.name} and {y.dtype.name} respectively."
        )
    shape = elementwise_shape("pow", (x, y))
    return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type)


def _pow_lowering(ctx, x, y):
    a_out = ctx.avals_out[0]
    a_y = ctx.avals_in[1].update(shape=a_out.shape)
    if a_y.dtype != a_out.dtype:
        y = lowering.convert(y, a_y, a_out.dtype)
    return hlo.power(x, y)


pow_p = Primitive("pow")
pow_p.def_abstract_eval(_pow_rule)
pow_p.def_lowering(_broadcasting_lowering(_pow_lowering))
batching.broadcast_batcher(pow_p)


def pow(x, y):  # noqa: A001 - lax's name
    """``x ** y``; ``y`` may be an integer array. Two inexact operands share a dtype;
    Python scalars are weak values of their default dtype, as in JAX."""
    return pow_p.bind(x, y)


def _pow_jvp_x(g, ans, x, y):
    from .convert import convert_element_type
    from .logic import eq, select
    from .structural import broadcast_in_dim

    dt = aval_of(x).dtype
    if dtypes.is_inexact(aval_of(y).dtype):
        return mul(g, mul(y, pow(x, sub(y, _const(1, y)))))
    # integer exponents, as JAX: both operands at their common shape, and the y == 0 term
    # exactly 0 (even at x == 0); y == 0 replaced by 1 in the other branch
    y = convert_element_type(y, dt)
    x_shape, y_shape = aval_of(x).shape, aval_of(y).shape
    if x_shape != y_shape:
        shape = np.broadcast_shapes(x_shape, y_shape)
        x, y = (
            v
            if s == shape
            else broadcast_in_dim(v, shape, tuple(range(len(shape) - len(s), len(shape))))
            for v, s in ((x, x_shape), (y, y_shape))
        )
    is_zero = eq(y, _const(0, y))
    y_safe = select(is_zero, _bcast_scalar(1, y), y)
    jac = select(is_zero, _bcast_scalar(0, y), mul(y_safe, pow(x, sub(y, _const(1, y)))))
    return mul(g, jac)


def _pow_jvp_y(g, ans, x, y):
    from .logic import eq, select

    # log x with x == 0 replaced by 1: d/dy 0**y is 0 where the power is finite
    safe_x = select(eq(x, _const(0, x)), _bcast_scalar(1, x), x)
    return mul(g, mul(log(safe_x), ans))


defjvp2(pow_p, _pow_jvp_x, _pow_jvp_y)


integer_pow_p = Primitive("integer_pow")


@integer_pow_p.def_abstract_eval
def _integer_pow_rule(x, *, y):
    check_dtype("integer_pow", x.dtype, _num)
    if y < 0 and dtypes.is_int(x.dtype):
        shape = ",".join(map(str, x.shape))
        raise TypeError(
            f"Integers cannot be raised to negative powers, got "
            f"integer_pow({x.dtype.name}[{shape}], {y})"
        )
    return ShapedArray(x.shape, x.dtype, x.weak_type)


batching.broadcast_batcher(integer_pow_p)


def integer_pow(x, y):
    return integer_pow_p.bind(x, y=int(y))


def _integer_pow_lowering(ctx, x, *, y):
    aval = ctx.avals_in[0]
    if y == 0:
        return lowering.full_like_aval(1, aval)
    n = -y if y < 0 else y
    acc = None
    base = x
    while n:  # square-and-multiply
        if n & 1:
            acc = base if acc is None else hlo.multiply(acc, base)
        n >>= 1
        if n:
            base = hlo.multiply(base, base)
    if y < 0:
        acc = hlo.divide(lowering.full_like_aval(1, aval), acc)
    return acc


integer_pow_p.def_lowering(_integer_pow_lowering)


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        return _bcast_scalar(0, g)
    # x**1 is x itself: JAX's jaxpr has no integer_pow[y=1] there
    return mul(g, mul(_const(y, x), x if y == 2 else integer_pow(x, y - 1)))


defjvp(integer_pow_p, _integer_pow_jvp)


# ---------------------------------------------------------------------------- exponentials, logs


def _exp2_lowering(ctx, x, *, accuracy):
    log2 = lowering.full_like_aval(math.log(2), ctx.avals_out[0])
    return _accurate(hlo.exponential)(ctx, hlo.multiply(log2, x), accuracy=accuracy)


exp_p = _unop_acc("exp", _inexact, hlo.exponential)
exp2_p = naryop("exp2", _inexact, _exp2_lowering)
log_p = _unop_acc("log", _inexact, hlo.log)
log1p_p = _unop_acc("log1p", _inexact, hlo.log_plus_one)
expm1_p = _unop_acc("expm1", _inexact, hlo.exponential_minus_one)


def _logistic_lowering(ctx, x, *, accuracy):
    # as JAX lowers it on every platform (its traced logistic_impl), 1 / (1 + exp(-x)),
    # not stablehlo.logistic (whose float16/bfloat16 results round differently): each
    # step, and each broadcast 1, carries the result type's constraint over a mesh
    from ..sharding.constraint import constrain_to_type

    out = ctx.avals_out[0]
    scalar = out.update(shape=(), weak_type=False, sharding=None)

    def pinned(v):
        return constrain_to_type(v, out.sharding, len(out.shape))

    def one():
        return pinned(lowering.broadcast_to(lowering.full_like_aval(1, scalar), scalar, out.shape))

    e = pinned(hlo.exponential(pinned(hlo.negate(x))))
    denominator = pinned(hlo.add(one(), e))
    return hlo.divide(one(), denominator)


logistic_p = naryop("logistic", _inexact, _logistic_lowering)
sqrt_p = _unop_acc("sqrt", _inexact, hlo.sqrt)
rsqrt_p = _unop_acc("rsqrt", _inexact, hlo.rsqrt)
cbrt_p = _unop_acc("cbrt", _float, hlo.cbrt)


def exp(x, *, accuracy=None):
    return exp_p.bind(x, accuracy=_check_accuracy(accuracy))


def exp2(x, *, accuracy=None):
    return exp2_p.bind(x, accuracy=_check_accuracy(accuracy))


def log(x, *, accuracy=None):
    return log_p.bind(x, accuracy=_check_accuracy(accuracy))


def log1p(x, *, accuracy=None):
    return log1p_p.bind(x, accuracy=_check_accuracy(accuracy))


def expm1(x, *, accuracy=None):
    return expm1_p.bind(x, accuracy=_check_accuracy(accuracy))


def logistic(x, *, accuracy=None):
    return logistic_p.bind(x, accuracy=_check_accuracy(accuracy))


def sqrt(x, *, accuracy=None):
    return sqrt_p.bind(x, accuracy=_check_accuracy(accuracy))


def rsqrt(x, *, accuracy=None):
    return rsqrt_p.bind(x, accuracy=_check_accuracy(accuracy))


def cbrt(x, *, accuracy=None):
    return cbrt_p.bind(x, accuracy=_check_accuracy(accuracy))


defjvp2(exp_p, lambda g, ans, x, accuracy: mul(g, ans))
defjvp2(exp2_p, lambda g, ans, x, accuracy: mul(_const(math.log(2), ans), mul(g, ans)))
defjvp(log_p, lambda g, x, accuracy: div(g, x))
defjvp(log1p_p, lambda g, x, accuracy: div(g, add(x, _one(x))))
defjvp2(expm1_p, lambda g, ans, x, accuracy: mul(g, add(ans, _one(ans))))
# sigma' = sigma (1 - sigma): no overflow for large |x|, unlike exp(-x) / (1 + exp(-x))**2
defjvp2(logistic_p, lambda g, ans, x, accuracy: mul(g, mul(ans, sub(_one(ans), ans))))
defjvp2(sqrt_p, lambda g, ans, x, accuracy: mul(g, div(_const(0.5, ans), ans)))
defjvp2(rsqrt_p, lambda g, ans, x, accuracy: mul(g, mul(_const(-0.5, ans), div(ans, x))))
defjvp2(cbrt_p, lambda g, ans, x, accuracy: mul(g, mul(_const(1 / 3, ans), integer_pow(ans, -2))))


# ---------------------------------------------------------------------------- trigonometric

sin_p = _unop_acc("sin", _inexact, hlo.sine)
cos_p = _unop_acc("cos", _inexact, hlo.cosine)
tan_p = _unop_acc("tan", _inexact, hlo.tan)
tanh_p = _unop_acc("tanh", _inexact, hlo.tanh)
asin_p = naryop("asin", _inexact, _plain(chlo.asin))
acos_p = naryop("acos", _inexact, _plain(chlo.acos))
atan_p = naryop("atan", _inexact, _plain(chlo.atan))
sinh_p = naryop("sinh", _inexact, _plain(chlo.sinh))
cosh_p = naryop("cosh", _inexact, _plain(chlo.cosh))
asinh_p = naryop("asinh", _inexact, _plain(chlo.asinh))
acosh_p = naryop("acosh", _inexact, _plain(chlo.acosh))
atanh_p = naryop("atanh", _inexact, _plain(chlo.atanh))
atan2_p = naryop("atan2", _inexact, _plain(hlo.atan2))


def sin(x, *, accuracy=None):
    return sin_p.bind(x, accuracy=_check_accuracy(accuracy))


def cos(x, *, accuracy=None):
    return cos_p.bind(x, accuracy=_check_accuracy(accuracy))


def tan(x, *, accuracy=None):
    return tan_p.bind(x, accuracy=_check_accuracy(accuracy))


def tanh(x, *, accuracy=None):
    return tanh_p.bind(x, accuracy=_check_accuracy(accuracy))


def asin(x):
    return asin_p.bind(x)


def acos(x):
    return acos_p.bind(x)


def atan(x):
    return atan_p.bind(x)


def sinh(x):
    return sinh_p.bind(x)


def cosh(x):
    return cosh_p.bind(x)


def asinh(x):
    return asinh_p.bind(x)


def acosh(x):
    return acosh_p.bind(x)


def atanh(x):
    return atanh_p.bind(x)


def atan2(x, y):
    """The angle of the point (y, x): arctan(x / y) in the right quadrant."""
    return atan2_p.bind(x, y)


def _one_minus_sq(x):
    return sub(_const(1, x), square(x))


defjvp(sin_p, lambda g, x, accuracy: mul(g, cos(x, accuracy=accuracy)))
defjvp(cos_p, lambda g, x, accuracy: neg(mul(g, sin(x, accuracy=accuracy))))
defjvp2(tan_p, lambda g, ans, x, accuracy: mul(g, add(_const(1, ans), square(ans))))
# tanh' = (1 + t)(1 - t): keeps precision where t is near +-1
defjvp2(tanh_p, lambda g, ans, x, accuracy: mul(add(g, mul(g, ans)), sub(_one(x), ans)))
defjvp(asin_p, lambda g, x: mul(g, rsqrt(_one_minus_sq(x))))
defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(_one_minus_sq(x)))))
defjvp(atan_p, lambda g, x: div(g, add(_const(1, x), square(x))))
defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(square(x), _one(x)))))
# JAX's formulas (x**2 - 1 for acosh; 1/(1 + x) * (g / (1 - x)) for atanh)
defjvp(acosh_p, lambda g, x: mul(g, rsqrt(sub(square(x), _one(x)))))
defjvp(atanh_p, lambda g, x: mul(reciprocal(add(_one(x), x)), div(g, sub(_one(x), x))))


def _atan2_denominator(x, y):
    return add(square(x), square(y))


defjvp(
    atan2_p,
    lambda g, x, y: mul(g, div(y, _atan2_denominator(x, y))),
    lambda g, x, y: mul(g, div(neg(x), _atan2_denominator(x, y))),
)


# ---------------------------------------------------------------------------- rounding


class RoundingMethod(enum.IntEnum):
    """How lax.round breaks ties: away from zero (C's round) or to the even neighbour."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_lowering(ctx, x, *, rounding_method):
    if rounding_method == RoundingMethod.TO_NEAREST_EVEN:
        return hlo.round_nearest_even(x)
    return hlo.round_nearest_afz(x)


floor_p = naryop("floor", _float, _plain(hlo.floor))
ceil_p = naryop("ceil", _float, _plain(hlo.ceil))
round_p = naryop("round", _float, _round_lowering)
is_finite_p = naryop(
    "is_finite", _float, _plain(hlo.is_finite), result_dtype=lambda d: np.dtype(np.bool_)
)


def floor(x):
    return floor_p.bind(x)


def ceil(x):
    return ceil_p.bind(x)


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001 - lax's name
    return round_p.bind(x, rounding_method=RoundingMethod(rounding_method))


def is_finite(x):
    return is_finite_p.bind(x)


for _p in (floor_p, ceil_p, round_p, is_finite_p):
    zero_jvp(_p)


# ---------------------------------------------------------------------------- complex numbers


def _conj_lowering(ctx, x, *, input_dtype):
    a_out = ctx.avals_out[0]
    if not dtypes.is_complex(input_dtype):
        return hlo.complex(x, lowering.full_like_aval(0, ctx.avals_in[0].update(shape=a_out.shape)))
    rt = [lowering.ir_type(a_out.update(dtype=dtypes.real_dtype(a_out.dtype)))]
    return hlo.complex(hlo.real(x, results=rt), hlo.negate(hlo.imag(x, results=rt)))


real_p = naryop("real", _complex, _plain(hlo.real), result_dtype=dtypes.real_dtype)
imag_p = naryop("imag", _complex, _plain(hlo.imag), result_dtype=dtypes.real_dtype)
conj_p = naryop(
    "conj",
    (_real_floats[0], "complex", _real_floats[1]),
    _conj_lowering,
    result_dtype=lambda d, input_dtype: dtypes.to_complex_dtype(d),
)
complex_p = naryop(
    "complex", _real_floats, _plain(hlo.complex), result_dtype=dtypes.to_complex_dtype
)


def real(x):
    return real_p.bind(x)


def imag(x):
    return imag_p.bind(x)


def conj(x):
    return conj_p.bind(x, input_dtype=aval_of(x).dtype)


def complex(x, y):  # noqa: A001 - lax's name
    """``x + 1j * y``."""
    return complex_p.bind(x, y)


def _zeros_scalar(x):
    return np.zeros((), aval_of(x).dtype)


deflinear(real_p, lambda ct, x: [complex(ct, _zeros_scalar(ct))])
deflinear(imag_p, lambda ct, x: [complex(_zeros_scalar(ct), neg(ct))])


def _conj_transpose(ct, x, *, input_dtype):
    return [conj(ct) if dtypes.is_complex(input_dtype) else real(ct)]


deflinear(conj_p, _conj_transpose)


def _complex_transpose(ct, x, y):
    return [
        unbroadcast(real(ct), None, x.aval) if is_undefined_primal(x) else None,
        unbroadcast(neg(imag(ct)), None, y.aval) if is_undefined_primal(y) else None,
    ]


deflinear(complex_p, _complex_transpose)
