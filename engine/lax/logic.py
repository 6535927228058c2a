"""Comparisons, logical and bitwise primitives, select_n and clamp."""
from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core
from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, zero_jvp, instantiate
from ..interpreters.transpose import is_undefined_primal
from ._base import binop, broadcast_shapes_lax, aval_of
from .elementwise import promote_scalars

__all__ = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'select_n', 'select', 'eq_p', 'ne_p', 'lt_p', 'le_p', 'gt_p', 'ge_p', 'select_n_p']


_any = ("bool", "int", "float", "complex")


def _compare_op(name, direction):
    p = binop(name, _any, None, result_dtype=lambda d: np.dtype(np.bool_))

    def lower(ctx, x, y):
        shape = ctx.avals_out[0].shape
        x = lowering.broadcast_to(x, ctx.avals_in[0], shape)
        y = lowering.broadcast_to(y, ctx.avals_in[1], shape)
        return lowering.compare(x, y, direction, ctx.avals_in[0])

    p.def_lowering(lower)
    zero_jvp(p)
    return p


eq_p = _compare_op("eq", "EQ")
ne_p = _compare_op("ne", "NE")
lt_p = _compare_op("lt", "LT")
le_p = _compare_op("le", "LE")
gt_p = _compare_op("gt", "GT")
ge_p = _compare_op("ge", "GE")


def eq(x, y):
    return eq_p.bind(*promote_scalars(x, y))


def ne(x, y):
    return ne_p.bind(*promote_scalars(x, y))


def lt(x, y):
    return lt_p.bind(*promote_scalars(x, y))


def le(x, y):
    return le_p.bind(*promote_scalars(x, y))


def gt(x, y):
    return gt_p.bind(*promote_scalars(x, y))


def ge(x, y):
    return ge_p.bind(*promote_scalars(x, y))


# ---------------------------------------------------------------------------- select_n

select_n_p = Primitive("select_n")


def select_n(which, *cases):
    """``cases[which]`` elementwise; ``which`` is bool (2 cases) or int32."""
    return select_n_p.bind(which, *cases)


def select(pred, on_true, on_false):
    """lax.select: ``on_true`` where pred, else ``on_false``."""
    return select_n_p.bind(pred, on_false, on_true)


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n must have at least one case")
    if any(c.dtype != cases[0].dtype for c in cases):
        raise TypeError("select_n cases must have the same dtypes, got "
                        f"{', '.join(c.dtype.name for c in cases)}.")
    if any(c.shape != cases[0].shape for c in cases):
        raise TypeError("select_n cases must have the same shapes, got "
                        f"{', '.join(str(c.shape) for c in cases)}.")
    if which.shape and which.shape != cases[0].shape:
        raise TypeError("select_n `which` must be scalar or have the same shape as cases, got "
                        f"`which` shape {which.shape} but case shape {cases[0].shape}.")
    if which.dtype != np.bool_ and not dtypes.is_int(which.dtype):
        raise TypeError(f"select_n `which` must be boolean or integer type, got {which.dtype.name}.")
    if which.dtype == np.bool_ and len(cases) > 2:
        raise TypeError("select_n with boolean `which` cannot have more than 2 cases")
    return ShapedArray(cases[0].shape, cases[0].dtype, all(c.weak_type for c in cases))


@select_n_p.def_lowering
def _select_n_lowering(ctx, which, *cases):
    wa = ctx.avals_in[0]
    shape = ctx.avals_out[0].shape
    which = lowering.broadcast_to(which, wa, shape)
    wa = wa.update(shape=shape)

    def build(lo, hi):
        if hi - lo == 1:
            return cases[lo]
        mid = (lo + hi) // 2
        if wa.dtype == np.bool_:
            pred = which
        else:
            pred = lowering.compare(which, lowering.full_like_aval(mid, wa), "LT", wa)
        return hlo.select(pred, build(lo, mid), build(mid, hi))
    return build(0, len(cases))


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n(which, *cases)
    ts = tangents[1:]
    if all(type(t) is Zero for t in ts):
        return out, Zero(aval_of(out))
    ts = [instantiate(t) for t in ts]
    return out, select_n(which, *ts)


select_n_p.def_jvp(_select_n_jvp)


def _select_n_transpose(ct, which, *cases):
    from .structural import full_like
    if is_undefined_primal(which):
        raise ValueError("select_n is not linear in its predicate")
    zeros = full_like(ct, 0)
    outs = [None]
    for i, c in enumerate(cases):
        if is_undefined_primal(c):
            branches = [zeros] * len(cases)
            branches[i] = ct
            outs.append(select_n(which, *branches))
        else:
            outs.append(None)
    return outs


select_n_p.def_transpose(_select_n_transpose)


def _select_n_batch(size, vals, dims):
    from ..interpreters.batching import move_batch_axis
    which, *cases = vals
    wd, *cds = dims
    case_aval = next(core.get_aval(c) for c, d in zip(cases, cds) if True)
    # move everything to a leading batch axis and broadcast scalars / unbatched values
    out_shape = None
    new = []
    for v, d in zip(vals, dims):
        new.append(move_batch_axis(size, d, 0, v) if d is not None else v)
    ranks = [core.get_aval(v).ndim for v in new]
    full_shape = None
    for v, d in zip(new[1:], dims[1:]):
        if d is not None:
            full_shape = core.get_aval(v).shape
            break
    if full_shape is None:  # only `which` is batched
        base = core.get_aval(new[1]).shape
        full_shape = (size,) + base
    from .structural import broadcast_to_shape, broadcast_in_dim
    fixed = []
    for i, (v, d) in enumerate(zip(new, dims)):
        a = core.get_aval(v)
        if i == 0 and a.ndim == 0:
            fixed.append(v)
            continue
        if d is None:
            fixed.append(broadcast_in_dim(v, full_shape, tuple(range(len(full_shape) - a.ndim, len(full_shape)))))
        elif i == 0 and a.ndim == 1 and len(full_shape) > 1:
            fixed.append(broadcast_in_dim(v, full_shape, (0,)))
        else:
            fixed.append(v)
    return select_n(*fixed), 0


select_n_p.def_batch(_select_n_batch)
