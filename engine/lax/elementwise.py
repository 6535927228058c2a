"""Elementwise arithmetic and math primitives, each with its rules beside it."""
from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core
from .. import dtypes
from ..core import Primitive
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, defjvp, defjvp2, deflinear, zero_jvp, instantiate
from ..interpreters.transpose import is_undefined_primal
from ._base import binop, unop, unbroadcast, aval_of

__all__ = ['add', 'sub', 'mul', 'div', 'neg', 'add_any', 'integer_pow', 'sin', 'cos', 'exp', 'log', 'tanh', 'max', 'min', 'promote_scalars', 'add_p', 'sub_p', 'mul_p', 'div_p', 'neg_p', 'add_any_p', 'integer_pow_p', 'sin_p', 'cos_p', 'exp_p', 'log_p', 'tanh_p', 'max_p', 'min_p']


_float = ("float",)
_inexact = ("float", "complex")
_num = ("int", "float", "complex")
_any = ("bool", "int", "float", "complex")


def promote_scalars(*args):
    """Give Python scalars the dtype of the array operands (staying weakly typed), as
    JAX's lax functions do; with only scalars, each gets its default dtype."""
    dtype = None
    for a in args:
        if not dtypes.is_python_scalar(a):
            dtype = core.get_aval(a).dtype
            break
    if dtype is None:
        return args
    return tuple(core.WeakScalar(a, dtype) if dtypes.is_python_scalar(a) else a for a in args)


def _bind2(p, x, y):
    x, y = promote_scalars(x, y)
    return p.bind(x, y)


# ---------------------------------------------------------------------------- add / sub / neg

add_p = binop("add", _num, hlo.add)
sub_p = binop("sub", _num, hlo.subtract)
neg_p = unop("neg", _num, hlo.negate)
add_any_p = binop("add_any", _num, hlo.add)  # adds tangents; JAX's name for it


def add(x, y):
    return _bind2(add_p, x, y)


def sub(x, y):
    return _bind2(sub_p, x, y)


def neg(x):
    return neg_p.bind(x)


def add_any(x, y):
    return add_any_p.bind(x, y)


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, None, x.aval) if is_undefined_primal(x) else None,
            unbroadcast(ct, None, y.aval) if is_undefined_primal(y) else None]


def _sub_transpose(ct, x, y):
    return [unbroadcast(ct, None, x.aval) if is_undefined_primal(x) else None,
            unbroadcast(neg(ct), None, y.aval) if is_undefined_primal(y) else None]


def _bcast_tangent(t, ans):
    """A tangent of a size-1/scalar operand, broadcast to the output's shape."""
    from .structural import broadcast_to_shape
    return broadcast_to_shape(t, aval_of(ans).shape)


defjvp2(add_p, lambda g, ans, x, y: _bcast_tangent(g, ans), lambda g, ans, x, y: _bcast_tangent(g, ans))
add_p.def_transpose(_add_transpose)
defjvp2(sub_p, lambda g, ans, x, y: _bcast_tangent(g, ans), lambda g, ans, x, y: _bcast_tangent(neg(g), ans))
sub_p.def_transpose(_sub_transpose)
deflinear(neg_p, lambda ct, x: [neg(ct)])
defjvp2(add_any_p, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
add_any_p.def_transpose(lambda ct, x, y: [ct, ct])


# ---------------------------------------------------------------------------- mul / div

mul_p = binop("mul", _num, hlo.multiply)
div_p = binop("div", _num, hlo.divide)


def mul(x, y):
    return _bind2(mul_p, x, y)


def div(x, y):
    return _bind2(div_p, x, y)


defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))


def _mul_transpose(ct, x, y):
    if is_undefined_primal(x):
        return [unbroadcast(mul(ct, y), None, x.aval), None]
    return [None, unbroadcast(mul(x, ct), None, y.aval)]


mul_p.def_transpose(_mul_transpose)
defjvp(div_p, lambda g, x, y: div(g, y),
       lambda g, x, y: mul(mul(neg(g), x), integer_pow(y, -2)))


def _div_transpose(ct, x, y):
    assert is_undefined_primal(x) and not is_undefined_primal(y)
    return [unbroadcast(div(ct, y), None, x.aval), None]


div_p.def_transpose(_div_transpose)


# ---------------------------------------------------------------------------- integer_pow

integer_pow_p = Primitive("integer_pow")
integer_pow_p.def_abstract_eval(
    lambda x, *, y: core.ShapedArray(x.shape, x.dtype, x.weak_type))
batching.broadcast_batcher(integer_pow_p)


def integer_pow(x, y):
    return integer_pow_p.bind(x, y=int(y))


def _integer_pow_lowering(ctx, x, *, y):
    aval = ctx.avals_in[0]
    if y == 0:
        return lowering.full_like_aval(1, aval)
    is_recip = y < 0
    n = -y if is_recip else y
    acc = None
    base = x
    while n:
        if n & 1:
            acc = base if acc is None else hlo.multiply(acc, base)
        n >>= 1
        if n:
            base = hlo.multiply(base, base)
    if is_recip:
        acc = hlo.divide(lowering.full_like_aval(1, aval), acc)
    return acc


integer_pow_p.def_lowering(_integer_pow_lowering)


def _integer_pow_jvp(g, x, *, y):
    if y == 0:
        from .structural import full_like
        return full_like(g, 0)
    return mul(g, mul(_const(y, x), integer_pow(x, y - 1)))


def _const(v, x):
    return core.WeakScalar(v, aval_of(x).dtype)


defjvp(integer_pow_p, _integer_pow_jvp)


# ---------------------------------------------------------------------------- transcendental starters

sin_p = unop("sin", _inexact, hlo.sine)
cos_p = unop("cos", _inexact, hlo.cosine)
exp_p = unop("exp", _inexact, hlo.exponential)
log_p = unop("log", _inexact, hlo.log)
tanh_p = unop("tanh", _inexact, hlo.tanh)


def sin(x):
    return sin_p.bind(x)


def cos(x):
    return cos_p.bind(x)


def exp(x):
    return exp_p.bind(x)


def log(x):
    return log_p.bind(x)


def tanh(x):
    return tanh_p.bind(x)


defjvp(sin_p, lambda g, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
defjvp(log_p, lambda g, x: div(g, x))
defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(_const(1, ans), mul(ans, ans))))


# ---------------------------------------------------------------------------- max / min

max_p = binop("max", _any, hlo.maximum)
min_p = binop("min", _any, hlo.minimum)


def max(x, y):  # noqa: A001 - lax's name
    return _bind2(max_p, x, y)


def min(x, y):  # noqa: A001
    return _bind2(min_p, x, y)


def _max_jvp_x(g, ans, x, y):
    from .logic import eq
    from .convert import convert_element_type
    dt = aval_of(ans).dtype
    wx = convert_element_type(eq(x, ans), dt)
    wy = convert_element_type(eq(y, ans), dt)
    return mul(_bcast_tangent(g, ans), div(wx, add(wx, wy)))


def _max_jvp_y(g, ans, x, y):
    from .logic import eq
    from .convert import convert_element_type
    dt = aval_of(ans).dtype
    wx = convert_element_type(eq(x, ans), dt)
    wy = convert_element_type(eq(y, ans), dt)
    return mul(_bcast_tangent(g, ans), div(wy, add(wx, wy)))


defjvp2(max_p, _max_jvp_x, _max_jvp_y)
defjvp2(min_p, _max_jvp_x, _max_jvp_y)
