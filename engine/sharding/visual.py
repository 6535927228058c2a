"""Which device holds which block of an array: as data (``sharding_blocks``, for views
that draw it) and as a text grid (``visualize_array_sharding``: the grid JAX draws with
the ``rich`` package on a plain-text console, drawn here without it)."""

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


_HEIGHT_TO_WIDTH = 2.5  # a text row is about 2.5 columns tall


def _label(block: ShardBlock) -> str:
    return f"{block.platform.upper()} {','.join(map(str, block.device_ids))}"


def _cell_padding(
    entry_len, width_frac, height_frac, base_width, base_height, min_width, max_width
):
    """(top, right, bottom, left) blank padding around a block's label, sized (as
    JAX does) in proportion to the block's share of the array."""
    width = int(width_frac * base_width * _HEIGHT_TO_WIDTH)
    height = 1 if height_frac is None else int(height_frac * base_height)
    width = min(max(width, min_width), max_width)
    left, extra = divmod(width - entry_len - 2, 2)
    top, extra_v = divmod(height - 2, 2)
    return max(top, 0), max(left + extra, 0), max(top + extra_v, 0), max(left, 0)


def visualize_sharding(
    shape: Sequence[int],
    sharding: Any,
    *,
    use_color: bool = True,
    scale: float = 1.0,
    min_width: int = 9,
    max_width: int = 80,
    color_map: Any = None,
) -> None:
    """Print a grid of which device holds which block of an array of ``shape`` (1-d or
    2-d), laid out as JAX's (which draws it with ``rich``) prints it to a plain-text
    console: box-drawing lines, each block's size in proportion to its share of the
    array. ``use_color`` and ``color_map`` are accepted and ignored (no colours)."""
    shape = tuple(shape)
    if len(shape) not in (1, 2):
        raise ValueError("`visualize_sharding` only works for shapes with 1 and 2 dimensions.")
    blocks = sharding_blocks(shape, sharding)
    base_height = int(10 * scale)
    base_width = int(base_height * (shape[1] if len(shape) == 2 else 1) / shape[0])
    rows = sorted({b.ranges[0] for b in blocks}) if len(shape) == 2 else [None]
    cols = sorted({b.ranges[-1] for b in blocks})
    cells = {}
    for b in blocks:
        (r0, r1), (c0, c1) = b.ranges if len(shape) == 2 else ((0, 1), b.ranges[0])
        n_cols = shape[-1]
        height_frac = (r1 - r0) / shape[0] if len(shape) == 2 else None
        entry = _label(b)
        pad = _cell_padding(
            len(entry),
            (c1 - c0) / n_cols,
            height_frac,
            base_width,
            base_height,
            min_width,
            max_width,
        )
        cells[(b.ranges[0] if len(shape) == 2 else None, b.ranges[-1])] = (entry, pad)
    col_width = [
        max(len(e) + p[1] + p[3] for (r, c), (e, p) in cells.items() if c == col) for col in cols
    ]
    out = ["┌" + "┬".join("─" * w for w in col_width) + "┐"]
    for i, r in enumerate(rows):
        rendered = [_render_cell(*cells[(r, c)], w) for c, w in zip(cols, col_width)]
        height = max(len(lines) for lines in rendered)
        for k in range(height):
            parts = [
                lines[k] if k < len(lines) else " " * w for lines, w in zip(rendered, col_width)
            ]
            out.append("│" + "│".join(parts) + "│")
        if i < len(rows) - 1:
            out.append("├" + "┼".join("─" * w for w in col_width) + "┤")
    out.append("└" + "┴".join("─" * w for w in col_width) + "┘")
    print("\n".join(out))


def _render_cell(entry: str, pad: tuple, width: int) -> list[str]:
    top, right, bottom, left = pad
    inner = width - left - right
    lpad = (inner - len(entry)) // 2
    line = " " * left + " " * lpad + entry + " " * (inner - len(entry) - lpad) + " " * right
    blank = " " * width
    return [blank] * top + [line] + [blank] * bottom


def visualize_array_sharding(arr: Any, **kwargs: Any) -> None:
    """Print which device holds which block of ``arr`` (an Array of rank 1 or 2); the
    keywords are ``visualize_sharding``'s."""
    if isinstance(arr, core.Tracer):
        raise NotImplementedError(
            "visualize_array_sharding of a traced value: call it on a concrete Array"
        )
    visualize_sharding(arr.shape, arr.sharding, **kwargs)


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
