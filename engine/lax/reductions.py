"""Reductions (reduce_sum/max/min/prod/and/or), argmax/argmin, cumulative ops, sort."""
from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core
from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import deflinear
from ._base import aval_of

__all__ = ['reduce_sum', 'reduce_sum_p']



def _reduce_shape(x, axes, name):
    for a in axes:
        if not 0 <= a < x.ndim:
            raise ValueError(f"{name}: axis {a} is out of bounds for array of dimension {x.ndim}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: duplicate value in 'axes': {axes}")
    return tuple(s for i, s in enumerate(x.shape) if i not in axes)


def _lower_reduce(ctx, x, axes, init, body_fn):
    """stablehlo.reduce over ``axes`` with a scalar body ``body_fn(a, b)``."""
    aval_in, aval_out = ctx.avals_in[0], ctx.avals_out[0]
    scalar = aval_in.update(shape=())
    init_v = lowering.constant(np.asarray(init, aval_in.dtype), scalar)
    op = hlo.ReduceOp([lowering.ir_type(aval_out)], [x], [init_v], list(axes))
    st = lowering.ir_type(scalar)
    block = op.regions[0].blocks.append(st, st)
    with ir.InsertionPoint(block):
        hlo.return_([body_fn(*block.arguments)])
    return op.result


reduce_sum_p = Primitive("reduce_sum")
reduce_sum_p.pp_params = lambda p: {"axes": p["axes"], "out_sharding": None}


def reduce_sum(x, axes):
    axes = tuple(int(a) for a in axes)
    return reduce_sum_p.bind(x, axes=axes, out_sharding=None)


@reduce_sum_p.def_abstract_eval
def _reduce_sum_abstract_eval(x, *, axes, out_sharding):
    return ShapedArray(_reduce_shape(x, axes, "reduce_sum"), x.dtype, x.weak_type)


@reduce_sum_p.def_lowering
def _reduce_sum_lowering(ctx, x, *, axes, out_sharding):
    return _lower_reduce(ctx, x, axes, 0, hlo.add)


def _reduce_sum_transpose(ct, x, *, axes, out_sharding):
    from .structural import broadcast_in_dim
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, kept)]


deflinear(reduce_sum_p, _reduce_sum_transpose)


def _reduce_sum_batch(size, vals, dims, *, axes, out_sharding):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    return reduce_sum(x, tuple(a + 1 for a in axes)), 0


reduce_sum_p.def_batch(_reduce_sum_batch)
