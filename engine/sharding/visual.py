"""Which device holds which block of an array: as data (``sharding_blocks``, for views
that draw it) and as a text grid (``visualize_array_sharding``, like JAX's, which needs
the ``rich`` package; this one prints plain text)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from jaxlib import xla_client as xc
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, runtime, tree_util
from ..core import Primitive


@dataclasses.dataclass(frozen=True)
class ShardBlock:
    """One distinct block of an array: its index ranges per dimension ((start, stop))
    and the ids of the devices holding a copy of it."""

    ranges: tuple
    device_ids: tuple
    platform: str


def sharding_blocks(shape: Sequence[int], sharding: Any) -> list[ShardBlock]:
    """The distinct blocks of an array of ``shape`` under ``sharding``, in index order."""
    shape = tuple(shape)
    blocks: dict = {}
    platform = "cpu"
    for device, index in sharding.devices_indices_map(shape).items():
        ranges = tuple(s.indices(n)[:2] for s, n in zip(index, shape))
        blocks.setdefault(ranges, []).append(device.id)
        platform = device.platform
    return [ShardBlock(r, tuple(sorted(ids)), platform) for r, ids in sorted(blocks.items())]


def _label(block: ShardBlock) -> str:
    return f"{block.platform.upper()} {','.join(map(str, block.device_ids))}"


def visualize_sharding(shape: Sequence[int], sharding: Any, *, cell_width: int = 0) -> str:
    """A text grid of ``sharding_blocks`` for a 1-d or 2-d shape (printed and returned)."""
    shape = tuple(shape)
    if len(shape) > 2:
        raise ValueError(
            f"visualize_sharding only works for shapes with 1 or 2 dimensions, got {shape}"
        )
    blocks = sharding_blocks(shape, sharding)
    if len(shape) == 0:
        text = f"[{_label(blocks[0])}]"
        print(text)
        return text
    if len(shape) == 1:  # one row, as JAX draws a vector
        rows, cols = [None], sorted({b.ranges[0] for b in blocks})
        by_pos = {(None, b.ranges[0]): b for b in blocks}
    else:
        rows = sorted({b.ranges[0] for b in blocks})
        cols = sorted({b.ranges[1] for b in blocks})
        by_pos = {(b.ranges[0], b.ranges[1]): b for b in blocks}
    width = max(cell_width, max(len(_label(b)) for b in blocks) + 2)
    line = "+" + "+".join("-" * width for _ in cols) + "+"
    out = [line]
    for r in rows:
        out.append("|" + "|".join(_label(by_pos[(r, c)]).center(width) for c in cols) + "|")
        out.append(line)
    text = "\n".join(out)
    print(text)
    return text


def visualize_array_sharding(arr: Any, **kwargs: Any) -> str:
    """Print which device holds which block of ``arr`` (an Array of rank 1 or 2)."""
    if isinstance(arr, core.Tracer):
        raise NotImplementedError(
            "visualize_array_sharding of a traced value: call it on a concrete Array"
        )
    return visualize_sharding(arr.shape, arr.sharding, **kwargs)


def inspect_array_sharding(value: Any, *, callback: Callable[[Any], None]) -> None:
    """Call ``callback(sharding)`` for each array in the pytree ``value``: now for
    concrete arrays; inside ``jit``, when XLA's partitioner has chosen the layout (at
    compile time), as JAX does."""
    for leaf in tree_util.tree_leaves(value):
        inspect_sharding_p.bind(leaf, callback=callback)


inspect_sharding_p = Primitive("inspect_sharding", multiple_results=True)
inspect_sharding_p.effectful = True  # reports something: never drop it


@inspect_sharding_p.def_impl
def _inspect_impl(x, *, callback):
    callback(x.sharding)
    return []


inspect_sharding_p.def_abstract_eval(lambda x, *, callback: [])


def _inspect_jvp(primals, tangents, *, callback):
    return inspect_sharding_p.bind(*primals, callback=callback), []


inspect_sharding_p.def_jvp(_inspect_jvp)


def _inspect_batch(size, vals, dims, *, callback):
    raise NotImplementedError("inspect_array_sharding under vmap")


inspect_sharding_p.def_batch(_inspect_batch)

_keepalive: list = []  # the partitioner's callbacks must outlive the compile


@inspect_sharding_p.def_lowering
def _inspect_lowering(ctx, x, *, callback):
    from .arrays import GSPMDSharding
    from .constraint import current_lowering_mesh
    from .named import NamedSharding, spec_from_hlo

    mesh = current_lowering_mesh()
    ndim = len(ctx.avals_in[0].shape)
    if mesh is None:  # a one-device program: replicated, known now
        callback(GSPMDSharding((runtime.default_device(),), xc.HloSharding.replicate()))
        return []

    def on_partition(hlo):
        spec = spec_from_hlo(mesh, hlo, ndim)
        callback(
            NamedSharding(mesh, spec)
            if spec is not None
            else GSPMDSharding(mesh._flat_devices, hlo)
        )

    _keepalive.append(on_partition)
    hlo.CustomCallOp(
        [x.type],
        [x],
        call_target_name=ir.StringAttr.get("InspectSharding"),
        has_side_effect=ir.BoolAttr.get(True),
        api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 1),
        called_computations=ir.ArrayAttr.get([]),
        backend_config=ir.StringAttr.get(xc.encode_inspect_sharding_callback(on_partition)),
    )
    return []
