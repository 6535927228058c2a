"""Which device holds which block of an array: as data (``sharding_blocks``, for views
that draw it) and as a text grid (``visualize_array_sharding``, like JAX's, which needs
the ``rich`` package; this one prints plain text)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from .. import core, tree_util


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
    """Call ``callback(sharding)`` for each array in the pytree ``value``."""
    for leaf in tree_util.tree_leaves(value):
        if isinstance(leaf, core.Tracer):
            raise NotImplementedError(
                "inspect_array_sharding inside a transformation (JAX reports the sharding "
                "XLA chose at compile time; the engine does not yet): call it on the "
                "jitted function's concrete outputs, or read Compiled.output_shardings"
            )
        callback(leaf.sharding)
