"""``tile``, ``split``, ``stack`` and ``unstack`` as primitives (JAX 0.10.2 binds each as
one equation), with shape rules, linear JVPs and transposes, batching and lowering."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from ..ad_util import Zero, instantiate
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import deflinear
from ..interpreters.transpose import is_undefined_primal
from ._base import aval_of

__all__ = ["tile", "split", "stack", "unstack", "tile_p", "split_p", "stack_p", "unstack_p"]


def _aval(x):
    return x.aval if is_undefined_primal(x) else aval_of(x)


def _zeros_if_zero(ct, aval):
    from .structural import full

    if type(ct) is not Zero:
        return instantiate(ct)
    typed = getattr(ct.aval, "sharding", None) if ct.aval.shape == aval.shape else None
    return full(aval.shape, 0, aval.dtype, sharding=typed)


# ---------------------------------------------------------------------------- tile

tile_p = Primitive("tile")


def tile(operand, reps):
    """``operand`` repeated ``reps[i]`` times along each axis ``i``."""
    reps = tuple(int(r) for r in reps)
    return tile_p.bind(operand, reps=reps)


@tile_p.def_abstract_eval
def _tile_abstract_eval(x, *, reps):
    if len(reps) != x.ndim:
        raise ValueError(
            f"len(reps) must be equal to operand.ndim, got reps={reps} for operand shape {x.shape}"
        )
    if any(r < 0 for r in reps):
        raise ValueError(f"reps must be non-negative, got {reps}")
    return ShapedArray(tuple(d * r for d, r in zip(x.shape, reps)), x.dtype, x.weak_type)


@tile_p.def_lowering
def _tile_lowering(ctx, x, *, reps):
    a, out = ctx.avals_in[0], ctx.avals_out[0]
    inter = tuple(v for r, d in zip(reps, a.shape) for v in (r, d))
    dims = [2 * i + 1 for i in range(a.ndim)]
    if a.sharding is not None:
        return _tile_lowering_typed(x, a, out, reps)
    b = lowering.broadcast_in_dim(x, ShapedArray(inter, a.dtype), dims)  # dynamic if symbolic
    return lowering.reshape(b, out)


def _tile_lowering_typed(x, a, out, reps):
    """As JAX's: a size-1 dimension before each, broadcast, merged; each step
    constrained to the operand's layout (its sharding lands on the kept dimensions)."""
    from ..sharding.constraint import constrain_to_type
    from ..sharding.named import NamedSharding, PartitionSpec

    spec = [e for d in a.sharding.spec._normalized(a.ndim) for e in (None, d)]
    typed = NamedSharding(a.sharding.mesh, PartitionSpec(*spec))
    ones = ShapedArray(tuple(v for d in a.shape for v in (1, d)), a.dtype)
    inter = ShapedArray(tuple(v for r, d in zip(reps, a.shape) for v in (r, d)), a.dtype)
    y = constrain_to_type(lowering.reshape(x, ones), typed, 2 * a.ndim)
    y = lowering.broadcast_in_dim(y, inter, list(range(2 * a.ndim)))
    y = constrain_to_type(y, typed, 2 * a.ndim)
    return lowering.reshape(y, out)


def _tile_transpose(ct, x, *, reps):
    from .reductions import reduce_sum
    from .structural import reshape

    a = _aval(x)
    ct = _zeros_if_zero(ct, ShapedArray(tuple(d * r for d, r in zip(a.shape, reps)), a.dtype))
    inter = tuple(v for r, d in zip(reps, a.shape) for v in (r, d))
    typed = None
    if a.sharding is not None:  # each kept dimension keeps its sharding, as JAX's
        from ..sharding.named import NamedSharding, PartitionSpec

        spec = [e for d in a.sharding.spec._normalized(a.ndim) for e in (None, d)]
        typed = NamedSharding(a.sharding.mesh, PartitionSpec(*spec))
    ct = reshape(ct, inter, out_sharding=typed)
    return [reduce_sum(ct, tuple(2 * i for i in range(a.ndim)))]


deflinear(tile_p, _tile_transpose)


def _tile_batch(size, vals, dims, *, reps):
    x, d = vals[0], dims[0]
    if d is None:
        return tile(x, reps), None
    return tile(x, reps[:d] + (1,) + reps[d:]), d


tile_p.def_batch(_tile_batch)


# ---------------------------------------------------------------------------- split

split_p = Primitive("split", multiple_results=True)


def split(operand, sizes, axis=0):
    """Pieces of ``operand`` of the given ``sizes`` along ``axis``."""
    from .structural import canonicalize_axis

    sizes = tuple(int(s) for s in sizes)
    axis = canonicalize_axis(axis, aval_of(operand).ndim)
    return split_p.bind(operand, sizes=sizes, axis=axis)


@split_p.def_abstract_eval
def _split_abstract_eval(x, *, sizes, axis):
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    if any(s < 0 for s in sizes):
        raise ValueError(f"Sizes passed to split must be nonnegative, got {list(sizes)}")
    if x.ndim and sum(sizes) != x.shape[axis]:
        raise ValueError(
            f"Sum of sizes {sum(sizes)} must be equal to dimension {axis} of the operand "
            f"shape {x.shape}"
        )
    return [
        ShapedArray(x.shape[:axis] + (s,) + x.shape[axis + 1 :], x.dtype, x.weak_type)
        for s in sizes
    ]


@split_p.def_lowering
def _split_lowering(ctx, x, *, sizes, axis):
    a = ctx.avals_in[0]
    outs, start = [], 0
    for s in sizes:
        s = int(s) if isinstance(s, np.integer) else s  # jnp.split's np.int64 sizes, as JAX's
        lo = [0] * a.ndim
        hi = list(a.shape)
        lo[axis], hi[axis] = start, start + s
        out = a.update(shape=tuple(h - lo_ for lo_, h in zip(lo, hi)))
        outs.append(lowering.slice_op(x, out, lo, hi, [1] * a.ndim))  # dynamic if symbolic
        start += s
    return outs


def _split_transpose(cts, x, *, sizes, axis):
    from .structural import concatenate

    a = _aval(x)
    pieces = [
        _zeros_if_zero(ct, ShapedArray(a.shape[:axis] + (s,) + a.shape[axis + 1 :], a.dtype))
        for ct, s in zip(cts, sizes)
    ]
    return [concatenate(pieces, axis)]


deflinear(split_p, _split_transpose)


def _split_batch(size, vals, dims, *, sizes, axis):
    x, d = vals[0], dims[0]
    new_axis = axis + (d <= axis)
    return split_p.bind(x, sizes=sizes, axis=new_axis), [d] * len(sizes)


split_p.def_batch(_split_batch)


# ---------------------------------------------------------------------------- stack

stack_p = Primitive("stack")


def stack(operands, axis=0):
    """Arrays of one shape and dtype joined along a new ``axis``."""
    operands = tuple(operands)
    if not operands:
        raise ValueError("stack requires a non-empty sequence of arrays")
    nd = aval_of(operands[0]).ndim + 1
    axis = int(axis)
    if not -nd <= axis < nd:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {nd}")
    return stack_p.bind(*operands, axis=axis % nd)


@stack_p.def_abstract_eval
def _stack_abstract_eval(*xs, axis):
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(
            "lax.stack requires arguments to have the same dtypes, got "
            f"{', '.join(x.dtype.name for x in xs)}."
        )
    if len({x.shape for x in xs}) > 1:
        raise TypeError(
            f"lax.stack requires arrays of one shape, got {', '.join(str(x.shape) for x in xs)}."
        )
    s = xs[0].shape
    return ShapedArray(s[:axis] + (len(xs),) + s[axis:], xs[0].dtype, all(x.weak_type for x in xs))


@stack_p.def_lowering
def _stack_lowering(ctx, *xs, axis):
    a = ctx.avals_in[0]
    one = ShapedArray(a.shape[:axis] + (1,) + a.shape[axis:], a.dtype)
    return hlo.concatenate([lowering.reshape(x, one) for x in xs], axis)  # dynamic if symbolic


def _stack_transpose(ct, *xs, axis):
    a = _aval(xs[0])
    out = ShapedArray(a.shape[:axis] + (len(xs),) + a.shape[axis:], a.dtype)
    pieces = unstack(_zeros_if_zero(ct, out), axis)
    return [p if is_undefined_primal(x) else None for p, x in zip(pieces, xs)]


deflinear(stack_p, _stack_transpose)


def _stack_batch(size, vals, dims, *, axis):
    xs = [batching.move_batch_axis(size, d, 0, x) for x, d in zip(vals, dims)]
    return stack_p.bind(*xs, axis=axis + 1), 0


stack_p.def_batch(_stack_batch)


# ---------------------------------------------------------------------------- unstack

unstack_p = Primitive("unstack", multiple_results=True)


def unstack(x, axis=0):
    """The slices of ``x`` along ``axis``, that axis removed."""
    from .structural import canonicalize_axis

    axis = canonicalize_axis(axis, aval_of(x).ndim)
    return tuple(unstack_p.bind(x, axis=axis))


@unstack_p.def_abstract_eval
def _unstack_abstract_eval(x, *, axis):
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    s = x.shape[:axis] + x.shape[axis + 1 :]
    return [ShapedArray(s, x.dtype, x.weak_type) for _ in range(x.shape[axis])]


@unstack_p.def_lowering
def _unstack_lowering(ctx, x, *, axis):
    a = ctx.avals_in[0]
    outs = []
    for i, out in enumerate(ctx.avals_out):
        lo = [0] * a.ndim
        hi = list(a.shape)
        lo[axis], hi[axis] = i, i + 1
        outs.append(hlo.reshape(lowering.ir_type(out), hlo.slice(x, lo, hi, [1] * a.ndim)))
    return outs


def _unstack_transpose(cts, x, *, axis):
    a = _aval(x)
    piece = ShapedArray(a.shape[:axis] + a.shape[axis + 1 :], a.dtype)
    return [stack([_zeros_if_zero(c, piece) for c in cts], axis)]


deflinear(unstack_p, _unstack_transpose)


def _unstack_batch(size, vals, dims, *, axis):
    x, d = vals[0], dims[0]
    n = aval_of(x).shape[axis + (d <= axis)]
    return unstack_p.bind(x, axis=axis + (d <= axis)), [d - (d > axis)] * n


unstack_p.def_batch(_unstack_batch)
