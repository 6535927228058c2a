"""Comparisons, logical/bitwise and shift primitives, select_n and clamp."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, defjvp, tangent_aval, zero_jvp
from ..interpreters.transpose import is_undefined_primal
from ._base import aval_of, check_dtype, check_same_dtypes, naryop, plain

__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "shift_left",
    "shift_right_logical",
    "shift_right_arithmetic",
    "population_count",
    "clz",
    "select_n",
    "select",
    "clamp",
    "eq_p",
    "ne_p",
    "lt_p",
    "le_p",
    "gt_p",
    "ge_p",
    "and_p",
    "or_p",
    "xor_p",
    "not_p",
    "shift_left_p",
    "shift_right_logical_p",
    "shift_right_arithmetic_p",
    "population_count_p",
    "clz_p",
    "select_n_p",
    "clamp_p",
]

_any = ("int", "float", "complex", "bool")
_ordered = ("int", "float", "bool")  # complex values have no order
_bool_or_int = ("int", "bool")
_int = ("int",)


# ---------------------------------------------------------------------------- comparisons


def _bool_result(dtype, **params):
    return np.dtype(np.bool_)


def _compare_op(name, direction, kinds, total_order=False):
    def lower(ctx, x, y):
        # floats compare with IEEE semantics (NaN is unordered: only `ne` is true), or
        # in XLA's total order for JAX's sort comparators; bool compares as unsigned.
        return lowering.compare(x, y, direction, ctx.avals_in[0], total_order)

    p = naryop(name, kinds, lower, result_dtype=_bool_result)
    zero_jvp(p)
    return p


eq_p = _compare_op("eq", "EQ", _any)
ne_p = _compare_op("ne", "NE", _any)
lt_p = _compare_op("lt", "LT", _ordered)
le_p = _compare_op("le", "LE", _ordered)
gt_p = _compare_op("gt", "GT", _ordered)
ge_p = _compare_op("ge", "GE", _ordered)
# JAX's sort comparators' primitives (floats in XLA's total order)
eq_to_p = _compare_op("eq_to", "EQ", _any, total_order=True)
le_to_p = _compare_op("le_to", "LE", _ordered, total_order=True)
lt_to_p = _compare_op("lt_to", "LT", _ordered, total_order=True)


def eq(x, y):
    return eq_p.bind(x, y)


def ne(x, y):
    return ne_p.bind(x, y)


def lt(x, y):
    return lt_p.bind(x, y)


def le(x, y):
    return le_p.bind(x, y)


def gt(x, y):
    return gt_p.bind(x, y)


def ge(x, y):
    return ge_p.bind(x, y)


# ---------------------------------------------------------------------------- logical / bitwise

# On bool these are the logical operations; on integers they act bit by bit.
and_p = naryop("and", _bool_or_int, plain(hlo.and_))
or_p = naryop("or", _bool_or_int, plain(hlo.or_))
xor_p = naryop("xor", _bool_or_int, plain(hlo.xor))
not_p = naryop("not", _bool_or_int, plain(hlo.not_))
for _p in (and_p, or_p, xor_p, not_p):
    zero_jvp(_p)


def bitwise_and(x, y):
    return and_p.bind(x, y)


def bitwise_or(x, y):
    return or_p.bind(x, y)


def bitwise_xor(x, y):
    return xor_p.bind(x, y)


def bitwise_not(x):
    return not_p.bind(x)


# ---------------------------------------------------------------------------- shifts and bit counts

# Shift amounts are read as unsigned: an amount >= the bit width (or negative) gives 0 for
# the left and logical right shifts and the sign fill for the arithmetic one (XLA's rule).
shift_left_p = naryop("shift_left", _int, plain(hlo.shift_left))
shift_right_logical_p = naryop("shift_right_logical", _int, plain(hlo.shift_right_logical))
shift_right_arithmetic_p = naryop("shift_right_arithmetic", _int, plain(hlo.shift_right_arithmetic))
population_count_p = naryop("population_count", _int, plain(hlo.popcnt))
clz_p = naryop("clz", _int, plain(hlo.count_leading_zeros))
# population_count and clz have no JVP rule in JAX: differentiating one (of a float, so
# before its dtype is checked) raises NotImplementedError, as JAX's does
for _p in (shift_left_p, shift_right_logical_p, shift_right_arithmetic_p):
    zero_jvp(_p)


def shift_left(x, y):
    return shift_left_p.bind(x, y)


def shift_right_logical(x, y):
    return shift_right_logical_p.bind(x, y)


def shift_right_arithmetic(x, y):
    return shift_right_arithmetic_p.bind(x, y)


def population_count(x):
    return population_count_p.bind(x)


def clz(x):
    return clz_p.bind(x)


# ---------------------------------------------------------------------------- batching helper


def _to_full_batched(size, v, d, full_shape, keep_scalar, mesh_axis=None):
    """Bring an operand of a select/clamp to ``full_shape`` = (size, *per-example shape) with
    the batch axis in front. An unbatched rank-0 operand stays rank 0 when ``keep_scalar``
    (the primitive broadcasts it); a batched per-example scalar is broadcast along axis 0.
    An unbatched operand of the per-example shape gets the batch axis as JAX's
    bdim_at_front gives it (split over ``mesh_axis``)."""
    from .structural import broadcast_in_dim

    ndim = aval_of(v).ndim
    if d is None:
        if ndim == 0 and keep_scalar:
            return v
        lead = len(full_shape) - ndim
        if lead == 1:
            return batching.move_batch_axis(size, None, 0, v, mesh_axis=mesh_axis)
        return broadcast_in_dim(v, full_shape, tuple(range(lead, len(full_shape))))
    v = batching.move_batch_axis(size, d, 0, v)
    if ndim == 1 and len(full_shape) > 1:
        v = broadcast_in_dim(v, full_shape, (0,))
    return v


def _per_example_shape(vals, dims, positions):
    """The widest per-example shape among the operands at ``positions``."""
    shape = ()
    for i in positions:
        s = list(aval_of(vals[i]).shape)
        if dims[i] is not None:
            del s[dims[i]]
        if len(s) > len(shape):
            shape = tuple(s)
    return shape


# ---------------------------------------------------------------------------- select_n

select_n_p = Primitive("select_n")


def select_n(which, *cases):
    """``cases[which]`` elementwise; ``which`` is bool (at most 2 cases) or an integer,
    a scalar or of the cases' shape."""
    if not cases:
        raise ValueError("select_n() must have at least one case")
    return select_n_p.bind(which, *cases)


def select(pred, on_true, on_false):
    """lax.select: ``on_true`` where pred, else ``on_false``."""
    return select_n_p.bind(pred, on_false, on_true)


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select must have at least one case")
    if any(c.shape != cases[0].shape for c in cases):
        raise TypeError(
            "select cases must have the same shapes, got "
            f"[{', '.join(str(c.shape) for c in cases)}]."
        )
    if which.shape and which.shape != cases[0].shape:
        raise TypeError(
            "select `which` must be scalar or have the same shape as cases, got "
            f"`which` shape {which.shape} but case shape {cases[0].shape}."
        )
    check_same_dtypes("select", cases)
    if which.dtype != np.bool_ and not dtypes.is_int(which.dtype):
        raise TypeError(f"select `which` must be boolean or integer type, got {which.dtype.name}.")
    if which.dtype == np.bool_ and len(cases) > 2:
        raise TypeError("select with boolean `which` cannot have > 2 cases.")
    return ShapedArray(cases[0].shape, cases[0].dtype, all(c.weak_type for c in cases))


@select_n_p.def_lowering
def _select_n_lowering(ctx, which, *cases):
    wa = ctx.avals_in[0]
    shape = ctx.avals_out[0].shape
    which = lowering.broadcast_to(which, wa, shape)
    wa = wa.update(shape=shape)

    def build(lo, hi):  # binary search on `which` over cases[lo:hi]
        if hi - lo == 1:
            return cases[lo]
        if wa.dtype == np.bool_:
            return hlo.select(which, cases[1], cases[0])
        mid = (lo + hi) // 2
        pred = lowering.compare(which, lowering.full_like_aval(mid, wa), "LT", wa)
        return hlo.select(pred, build(lo, mid), build(mid, hi))

    return build(0, len(cases))


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    ts = tangents[1:]
    if all(type(t) is Zero for t in ts):
        return out, Zero(tangent_aval(aval_of(out)))
    from .structural import full_like

    # as JAX's: one zeros from the first nonzero tangent, made even when none is Zero
    z = full_like(next(t for t in ts if type(t) is not Zero), 0)
    return out, select_n(which, *[z if type(t) is Zero else t for t in ts])


select_n_p.def_jvp(_select_n_jvp)


def _select_n_transpose(ct, which, *cases):
    from .structural import full_like

    if is_undefined_primal(which):
        raise ValueError("select_n is not linear in its predicate `which`")
    if type(ct) is Zero:
        return [None] + [Zero(c.aval) if is_undefined_primal(c) else None for c in cases]
    zeros = full_like(ct, 0)
    w_aval = aval_of(which)
    outs = [None]
    for i, c in enumerate(cases):
        if not is_undefined_primal(c):
            outs.append(None)
        elif w_aval.dtype == np.bool_:
            outs.append(select_n(which, *[ct if j == i else zeros for j in range(len(cases))]))
        else:  # an integer predicate: each case's own mask (eq which i), as JAX's rule
            i_c = i if (w_aval.weak_type and not w_aval.shape) else np.asarray(i, w_aval.dtype)
            outs.append(select_n(eq(which, i_c), zeros, ct))
    return outs


select_n_p.def_transpose(_select_n_transpose)


def _select_n_batch(size, vals, dims):
    which, *cases = vals
    wd, *cds = dims
    # one example's operands must pass select's own shape checks (JAX's batching rule
    # asserts this instead, an AssertionError; the engine raises the unbatched TypeError)
    per_example = []
    for v, d in zip(vals, dims):
        a = aval_of(v)
        shape = a.shape if d is None else a.shape[:d] + a.shape[d + 1 :]
        per_example.append(ShapedArray(shape, a.dtype, a.weak_type))
    select_n_p.abstract_eval(*per_example)
    w_ndim, c_ndim = aval_of(which).ndim, aval_of(cases[0]).ndim
    if all(d == wd for d in cds) and w_ndim == c_ndim:
        return select_n(which, *cases), wd
    if wd is None and w_ndim == 0 and all(d is not None and d == cds[0] for d in cds):
        return select_n(which, *cases), cds[0]
    shape = (size,) + _per_example_shape(vals, dims, range(1, len(vals)))
    ema = batching.current_explicit_mesh_axis()
    which = _to_full_batched(size, which, wd, shape, keep_scalar=True, mesh_axis=ema)
    cases = [
        _to_full_batched(size, c, d, shape, keep_scalar=False, mesh_axis=ema)
        for c, d in zip(cases, cds)
    ]
    return select_n(which, *cases), 0


select_n_p.def_batch(_select_n_batch)


# ---------------------------------------------------------------------------- clamp

clamp_p = Primitive("clamp")


def clamp(min, x, max):  # noqa: A002 - lax's names
    """``min`` where x < min, ``max`` where x > max, else x; min/max are scalars or
    of x's shape."""
    return clamp_p.bind(min, x, max)


@clamp_p.def_abstract_eval
def _clamp_abstract_eval(lo, x, hi):
    for i, a in enumerate((lo, x, hi)):
        check_dtype("clamp", a.dtype, _any, i)
    check_same_dtypes("clamp", (lo, x, hi))
    if lo.shape and lo.shape != x.shape:
        raise TypeError(
            "clamp requires min.shape == operand.shape or min.shape == (), got "
            f"min.shape={lo.shape}, operand.shape={x.shape}."
        )
    if hi.shape and hi.shape != x.shape:
        raise TypeError(
            "clamp requires max.shape == operand.shape or max.shape == (), got "
            f"max.shape={hi.shape}, operand.shape={x.shape}."
        )
    return ShapedArray(x.shape, x.dtype, lo.weak_type and x.weak_type and hi.weak_type)


@clamp_p.def_lowering
def _clamp_lowering(ctx, lo, x, hi):
    return hlo.clamp(lo, x, hi)  # rank-0 bounds broadcast implicitly


def _where_else_zero(pred, g, x):
    """``g`` (broadcast to x's shape) where pred, else 0."""
    from .structural import broadcast_to_shape, full_like

    g = broadcast_to_shape(g, aval_of(x).shape)
    return select(pred, g, full_like(g, 0))


# JAX's convention: at ties (x == min or x == max) no operand gets the tangent.
defjvp(
    clamp_p,
    lambda g, lo, x, hi: _where_else_zero(bitwise_and(gt(lo, x), lt(lo, hi)), g, x),
    lambda g, lo, x, hi: _where_else_zero(bitwise_and(gt(x, lo), lt(x, hi)), g, x),
    lambda g, lo, x, hi: _where_else_zero(lt(hi, x), g, x),
)


def _clamp_batch(size, vals, dims):
    (lo, x, hi), (dlo, dx, dhi) = vals, dims
    ndims = [aval_of(v).ndim for v in vals]
    if dlo == dx == dhi and len(set(ndims)) == 1:
        return clamp_p.bind(lo, x, hi), dx
    if dlo is None and dhi is None and ndims[0] == ndims[2] == 0:
        return clamp_p.bind(lo, x, hi), dx
    shape = (size,) + _per_example_shape(vals, dims, range(3))
    lo = _to_full_batched(size, lo, dlo, shape, keep_scalar=True)
    hi = _to_full_batched(size, hi, dhi, shape, keep_scalar=True)
    x = _to_full_batched(size, x, dx, shape, keep_scalar=False)
    return clamp_p.bind(lo, x, hi), 0


clamp_p.def_batch(_clamp_batch)
