"""SPMD lowering of the collectives (engine/lax/parallel.py).

Inside a shard_map lowered for its mesh (engine/shard_map.py), each device runs the body
on its block and collectives become XLA's: all_reduce, all_gather, reduce_scatter,
all_to_all and collective_permute over the devices that differ only in the named mesh
axes (groups of partition ids, numbered in the mesh's row-major order), with a channel
and global device ids, as JAX writes them.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from .parallel import (
    all_gather_p,
    all_to_all_p,
    axis_index_p,
    pbroadcast_p,
    pmax_p,
    pmin_p,
    ppermute_p,
    psum_invariant_p,
    psum_p,
    reduce_scatter_p,
    unreduced_psum_p,
)
from .parallel_vma import all_gather_reduced_p, unreduced_reduce_scatter_p


class _SpmdContext(threading.local):
    def __init__(self) -> None:
        self.mesh: Any = None
        self.manual: frozenset = frozenset()  # the mesh axes manual where lowering now


_spmd = _SpmdContext()


@contextlib.contextmanager
def spmd_lowering(mesh: Any, manual_axes: Sequence[Any] = ()) -> Iterator[None]:
    """Collectives lowered inside talk across ``mesh``'s devices (``manual_axes``: the
    axes the enclosing manual computation made manual, added to those already)."""
    prev = _spmd.mesh, _spmd.manual
    _spmd.mesh = mesh
    _spmd.manual = (_spmd.manual if prev[0] == mesh else frozenset()) | frozenset(manual_axes)
    try:
        yield
    finally:
        _spmd.mesh, _spmd.manual = prev


def _lowering_mesh(name: str) -> Any:
    if _spmd.mesh is None:
        raise NotImplementedError(
            f"{name} can only be compiled inside a shard_map lowered for its mesh; "
            "under vmap or pmap-style batching it is computed by its batching rule"
        )
    return _spmd.mesh


def _replica_groups(axes: Sequence[Any], name: str, axis_index_groups: Any = None) -> np.ndarray:
    mesh = _lowering_mesh(name)
    names = list(mesh.axis_names)
    ids = np.arange(mesh.size).reshape(mesh.axis_sizes)
    moved = [names.index(a) for a in axes]
    rest = [i for i in range(len(names)) if i not in moved]
    groups = ids.transpose(rest + moved).reshape(-1, math.prod(mesh.axis_sizes[i] for i in moved))
    if axis_index_groups is not None:
        groups = np.array([[g[i] for i in sub] for g in groups for sub in axis_index_groups])
    return groups


def _groups_attr(groups: np.ndarray) -> ir.DenseIntElementsAttr:
    return ir.DenseIntElementsAttr.get(np.ascontiguousarray(groups, dtype=np.int64))


def _channel() -> Any:
    return hlo.ChannelHandle.get(1, 1)  # a device-to-device channel


def _scalar_region(op: Any, dtype: Any, combine) -> None:
    scalar = lowering.ir_type(ShapedArray((), dtype))
    block = op.regions[0].blocks.append(scalar, scalar)
    with ir.InsertionPoint(block):
        out = combine(*block.arguments)
        if _explicit_axes_outside():
            # (the combiner is a typed op there: JAX constrains it, replicated)
            from jaxlib.mlir.dialects import sdy

            from ..sharding.spmd import MESH_NAME

            attr = ir.Attribute.parse(f"#sdy.sharding<@{MESH_NAME}, []>")
            out = sdy.ShardingConstraintOp(out, attr).result
        hlo.return_([out])


def _explicit_axes_outside() -> bool:
    """Whether the manual computation being lowered leaves some Explicit mesh axes to the
    partitioner (a partial-manual shard_map)."""
    mesh = _spmd.mesh
    if mesh is None:
        return False
    types = dict(zip(mesh.axis_names, getattr(mesh, "axis_types", ())))
    return any(
        a not in _spmd.manual and getattr(types.get(a), "name", "") == "Explicit"
        for a in mesh.axis_names
    )


def _combiner(prim: Primitive, dtype: Any):
    if prim in (
        psum_p,
        psum_invariant_p,
        unreduced_psum_p,
        reduce_scatter_p,
        unreduced_reduce_scatter_p,
    ):
        return hlo.or_ if dtype == np.bool_ else hlo.add
    if prim is pmax_p:
        return hlo.or_ if dtype == np.bool_ else hlo.maximum
    return hlo.and_ if dtype == np.bool_ else hlo.minimum


def _all_reduce(
    prim: Primitive, x: Any, aval: ShapedArray, axes: Sequence[Any], groups=None
) -> Any:
    op = hlo.AllReduceOp(
        [x.type],
        [x],
        replica_groups=_groups_attr(_replica_groups(axes, prim.name, groups)),
        channel_handle=_channel(),
        use_global_device_ids=True,
    )
    _scalar_region(op, aval.dtype, _combiner(prim, aval.dtype))
    return op.result


def _allreduce_lowering(prim: Primitive):
    def rule(ctx, x, *, axes, axis_index_groups):
        return _all_reduce(prim, x, ctx.avals_in[0], axes, axis_index_groups)

    prim.def_lowering(rule)


for _prim in (psum_p, pmax_p, pmin_p):
    _allreduce_lowering(_prim)


@psum_invariant_p.def_lowering
def _psum_invariant_lowering(ctx, x, *, axes):
    return _all_reduce(psum_invariant_p, x, ctx.avals_in[0], axes)


@unreduced_psum_p.def_lowering
def _unreduced_psum_lowering(ctx, x, *, axes):  # the all-reduce of the members' shares
    return _all_reduce(unreduced_psum_p, x, ctx.avals_in[0], axes)


def _axis_index_value(name: Any) -> Any:
    """This device's index along mesh axis ``name``, from its partition id (int32)."""
    mesh = _lowering_mesh("axis_index")
    auto = [a for a in mesh.axis_names if a not in _spmd.manual]
    if auto:  # partition_id means something only where every axis is manual (as JAX)
        return _in_fully_manual(mesh, auto, lambda: _axis_index_value(name))
    names = list(mesh.axis_names)
    pos = names.index(name)
    stride = math.prod(mesh.axis_sizes[pos + 1 :])
    u32 = ShapedArray((), np.uint32)
    pid = hlo.PartitionIdOp().result
    div = hlo.divide(pid, lowering.constant(np.uint32(stride), u32))
    idx = hlo.remainder(div, lowering.constant(np.uint32(mesh.axis_sizes[pos]), u32))
    return lowering.convert(idx, u32, np.int32)


def _in_fully_manual(mesh: Any, auto: Sequence[Any], scalar_fn) -> Any:
    """``scalar_fn()`` (an int32 scalar, the same on every device of each group) computed
    inside a nested manual computation over the still automatic mesh axes."""
    from jaxlib.mlir.dialects import sdy

    from ..sharding.spmd import MESH_NAME

    i32 = lowering.ir_type(ShapedArray((), np.int32))
    manual = ", ".join(f'"{a}"' for a in auto)
    op = sdy.ManualComputationOp(
        [i32],
        [],
        ir.Attribute.parse("#sdy.sharding_per_value<[]>"),
        ir.Attribute.parse(f"#sdy.sharding_per_value<[<@{MESH_NAME}, []>]>"),
        ir.Attribute.parse(f"#sdy<manual_axes{{{manual}}}>"),
    )
    block = op.regions[0].blocks.append()
    with ir.InsertionPoint(block), spmd_lowering(mesh, auto):
        sdy.ReturnOp([scalar_fn()])
    return op.results[0]


@axis_index_p.def_lowering
def _axis_index_lowering(ctx, *, axis_name):
    return _axis_index_value(axis_name)


@all_gather_p.def_lowering
def _all_gather_lowering(
    ctx, x, *, all_gather_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    aval_in, aval_out = ctx.avals_in[0], ctx.avals_out[0]
    if not tiled:  # gather into a new axis of size 1, then tile along it
        shape = list(aval_in.shape)
        shape.insert(all_gather_dimension, 1)
        one = aval_in.update(shape=tuple(shape))
        dims = [i for i in range(len(shape)) if i != all_gather_dimension]
        x = hlo.broadcast_in_dim(lowering.ir_type(one), x, dims)
    op = hlo.AllGatherOp(
        [lowering.ir_type(aval_out)],
        [x],
        all_gather_dim=all_gather_dimension,
        replica_groups=_groups_attr(_replica_groups(axis_name, "all_gather", axis_index_groups)),
        channel_handle=_channel(),
        use_global_device_ids=True,
    )
    return op.results[0]


@reduce_scatter_p.def_lowering
def _reduce_scatter_lowering(
    ctx, x, *, scatter_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    aval_in, aval_out = ctx.avals_in[0], ctx.avals_out[0]
    shape = list(aval_in.shape)
    shape[scatter_dimension] //= axis_size
    tiled_aval = aval_in.update(shape=tuple(shape))
    op = hlo.ReduceScatterOp(
        lowering.ir_type(tiled_aval),
        x,
        scatter_dimension,
        _groups_attr(_replica_groups(axis_name, "psum_scatter", axis_index_groups)),
        channel_handle=_channel(),
        use_global_device_ids=True,
    )
    _scalar_region(op, aval_in.dtype, _combiner(reduce_scatter_p, aval_in.dtype))
    if tiled:
        return op.result
    return hlo.reshape(lowering.ir_type(aval_out), op.result)


@unreduced_reduce_scatter_p.def_lowering
def _unreduced_reduce_scatter_lowering(ctx, x, **params):  # (the shares' sum, scattered)
    return _reduce_scatter_lowering(ctx, x, axis_index_groups=None, **params)


@all_gather_reduced_p.def_lowering
def _all_gather_reduced_lowering(ctx, x, **params):
    return _all_gather_lowering(ctx, x, axis_index_groups=None, **params)


@all_to_all_p.def_lowering
def _all_to_all_lowering(
    ctx, x, *, split_axis, concat_axis, axis_name, axis_index_groups, axis_size, tiled
):
    groups = _replica_groups(axis_name, "all_to_all", axis_index_groups)
    op = hlo.AllToAllOp(
        [x],
        split_axis,
        concat_axis,
        groups.shape[1],
        _groups_attr(groups),
        channel_handle=_channel(),
    )
    return op.results[0]


@ppermute_p.def_lowering
def _ppermute_lowering(ctx, x, *, axis_name, perm):
    groups = _replica_groups(axis_name, "ppermute")
    pairs = np.array(
        [[grp[src], grp[dst]] for grp in groups for src, dst in perm], dtype=np.int64
    ).reshape(-1, 2)
    return hlo.CollectivePermuteOp(
        x, ir.DenseIntElementsAttr.get(pairs), channel_handle=_channel()
    ).result


@pbroadcast_p.def_lowering
def _pbroadcast_lowering(ctx, x, *, axis_name, source):
    # the source's block, summed with zeros from everyone else (XLA's
    # collective_broadcast is lowered on GPU only)
    aval = ctx.avals_in[0]
    if len(axis_name) != 1:
        raise NotImplementedError("pbroadcast over several named axes")
    idx = _axis_index_value(axis_name[0])
    i32 = ShapedArray((), np.int32)
    is_source = lowering.compare(idx, lowering.constant(np.int32(source), i32), "EQ", i32)
    mask = lowering.broadcast_to(is_source, ShapedArray((), np.bool_), aval.shape)
    zeros = lowering.full_like_aval(0, aval)
    masked = hlo.select(mask, x, zeros)
    return _all_reduce(psum_p, masked, aval, axis_name)
