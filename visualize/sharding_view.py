"""Which device holds which block of an array, as data and as interactive HTML.

    m = array_sharding_model(x)          # from x.addressable_shards (public API)
    m = sharding_model((8, 16), s)       # from a sharding's devices_indices_map
    [(t.ranges, [c.device_id for c in t.cells]) for t in m.tiles]
    html = sharding_html(x)              # a grid like visualize_array_sharding: hover or
                                         # click a block for its devices, shard indices
                                         # and shard shape

A *tile* is one distinct block of the array; each *cell* of it is one device's copy
(``shard_index`` is its position in ``addressable_shards``; ``replica_id`` tells copies
of the same block apart).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
from collections.abc import Sequence
from typing import Any

_uids = itertools.count()


@dataclasses.dataclass(frozen=True)
class ShardCell:
    device_id: int
    platform: str
    shard_index: int | None  # position in addressable_shards (None: not addressable)
    replica_id: int | None


@dataclasses.dataclass
class ShardTile:
    ranges: tuple[tuple[int, int], ...]  # (start, stop) per dimension
    cells: list[ShardCell]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in self.ranges)

    @property
    def device_ids(self) -> tuple[int, ...]:
        return tuple(sorted(c.device_id for c in self.cells))

    def index_text(self) -> str:
        return "[" + ", ".join(f"{a}:{b}" for a, b in self.ranges) + "]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index_text(),
            "shape": list(self.shape),
            "cells": [dataclasses.asdict(c) for c in self.cells],
        }


@dataclasses.dataclass
class ShardingModel:
    shape: tuple[int, ...]
    dtype: str | None
    sharding_text: str
    tiles: list[ShardTile]

    @property
    def num_devices(self) -> int:
        return sum(len(t.cells) for t in self.tiles)

    @property
    def is_fully_replicated(self) -> bool:
        return len(self.tiles) == 1

    def _repr_html_(self) -> str:
        return sharding_html(self)


def _ranges(index: Sequence[slice], shape: Sequence[int]) -> tuple[tuple[int, int], ...]:
    return tuple((s.indices(n)[0], s.indices(n)[1]) for s, n in zip(index, shape))


def _group(shape, entries) -> list[ShardTile]:
    tiles: dict = {}
    for ranges, cell in entries:
        tiles.setdefault(ranges, []).append(cell)
    return [
        ShardTile(r, sorted(cells, key=lambda c: (c.replica_id or 0, c.device_id)))
        for r, cells in sorted(tiles.items())
    ]


def array_sharding_model(arr: Any) -> ShardingModel:
    """The tiles of a concrete array, read from its public ``addressable_shards``."""
    if not hasattr(arr, "addressable_shards"):
        raise TypeError(
            f"array_sharding_model needs a concrete Array (with addressable_shards), "
            f"got {type(arr).__name__}; inside jit use sharding_model(shape, sharding)"
        )
    shape = tuple(arr.shape)
    entries = [
        (
            _ranges(s.index, shape),
            ShardCell(s.device.id, s.device.platform, i, getattr(s, "replica_id", None)),
        )
        for i, s in enumerate(arr.addressable_shards)
    ]
    return ShardingModel(shape, str(arr.dtype), str(arr.sharding), _group(shape, entries))


def sharding_model(shape: Sequence[int], sharding: Any, dtype: Any = None) -> ShardingModel:
    """The tiles of an array of ``shape`` laid out by ``sharding`` (any sharding with
    ``devices_indices_map``); no shard indices, as no array exists."""
    shape = tuple(int(d) for d in shape)
    entries = [
        (_ranges(index, shape), ShardCell(d.id, d.platform, None, None))
        for d, index in sharding.devices_indices_map(shape).items()
    ]
    return ShardingModel(
        shape, None if dtype is None else str(dtype), str(sharding), _group(shape, entries)
    )


# ---------------------------------------------------------------------------- HTML


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _hue(i: int) -> int:
    return (i * 137) % 360  # golden-angle steps: neighbours differ


def _tile_info(t: ShardTile, dtype: str | None) -> str:
    kind = f"{dtype}" if dtype else ""
    shape = f"{kind}[{','.join(map(str, t.shape))}]"
    rows = [f"block {t.index_text()} \u2192 shard shape {shape}"]
    for c in t.cells:
        shard = "" if c.shard_index is None else f", shard {c.shard_index}"
        rep = "" if c.replica_id is None else f", replica {c.replica_id}"
        rows.append(f"{c.platform.upper()} device {c.device_id}{shard}{rep}")
    return "\n".join(rows)


def _label(t: ShardTile) -> str:
    ids = t.device_ids
    if len(ids) > 4:
        return f"{t.cells[0].platform.upper()} {ids[0]}\u2026{ids[-1]} ({len(ids)})"
    return f"{t.cells[0].platform.upper()} {','.join(map(str, ids))}"


def _grid(model: ShardingModel) -> str:
    shape = model.shape
    if len(shape) == 1:
        shape2, tiles2 = (1, shape[0]), [((0, 1), t.ranges[0], t) for t in model.tiles]
    elif len(shape) == 2:
        shape2, tiles2 = shape, [(t.ranges[0], t.ranges[1], t) for t in model.tiles]
    else:
        shape2 = (1, 1)
        tiles2 = [((0, 1), (0, 1), t) for t in model.tiles]
    rows = sorted({r for r, _, _ in tiles2})
    cols = sorted({c for _, c, _ in tiles2})
    if len(rows) * len(cols) != len(tiles2):  # blocks that do not form a grid
        return ""

    def sizes(spans, total):
        return " ".join(f"minmax(1.6em, {max(b - a, 1) / max(total, 1):.4f}fr)" for a, b in spans)

    out = [
        f'<div class="gjs-grid" style="grid-template-columns: {sizes(cols, shape2[1])}; '
        f'grid-template-rows: {sizes(rows, shape2[0])}">'
    ]
    for i, t in enumerate(model.tiles):
        out.append(
            f'<div class="gjs-tile" tabindex="0" data-tile="{i}" '
            f'style="background: hsl({_hue(i)} 60% 55% / 0.35)" '
            f'title="{_e(_tile_info(t, model.dtype))}">{_e(_label(t))}</div>'
        )
    out.append("</div>")
    return "".join(out)


def _table(model: ShardingModel) -> str:
    out = [
        '<table class="gjs-table"><thead><tr><th>block</th><th>shard shape</th>'
        "<th>devices (shard index)</th></tr></thead><tbody>"
    ]
    for i, t in enumerate(model.tiles):
        devs = ", ".join(
            f"{c.device_id}" + ("" if c.shard_index is None else f" ({c.shard_index})")
            for c in t.cells
        )
        out.append(
            f'<tr class="gjs-tile" tabindex="0" data-tile="{i}" '
            f'title="{_e(_tile_info(t, model.dtype))}"><td>{_e(t.index_text())}</td>'
            f"<td>{_e(t.shape)}</td><td>{_e(devs)}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


SHARDING_CSS = """
.gjs-view { font-family: var(--gj-ui-font, sans-serif); font-size: 12px; margin: 4px 0; }
.gjs-title { font-family: var(--gj-font, monospace); margin-bottom: 3px; }
.gjs-grid { display: grid; gap: 2px; width: min(100%, 520px); height: 220px; }
.gjs-grid.gjs-vector { height: 48px; }
.gjs-tile { display: flex; align-items: center; justify-content: center; cursor: pointer;
  border: 1px solid #8888; border-radius: 3px; overflow: hidden; white-space: nowrap;
  font-family: var(--gj-font, monospace); }
tr.gjs-tile { display: table-row; }
.gjs-tile:hover, .gjs-tile:focus, .gjs-tile.gjs-sel { outline: 2px solid #0969da; }
.gjs-detail { white-space: pre; font-family: var(--gj-font, monospace); min-height: 2.5em;
  margin-top: 4px; color: inherit; }
.gjs-table { border-collapse: collapse; } .gjs-table td, .gjs-table th {
  border: 1px solid #8886; padding: 1px 6px; }
"""

_SCRIPT = """(function(){var v=document.getElementById(%s);if(!v)return;
var info=JSON.parse(v.querySelector('script.gjs-data').textContent);
var d=v.querySelector('.gjs-detail');
function show(t,pin){d.textContent=info[+t.dataset.tile];if(pin){
v.querySelectorAll('.gjs-sel').forEach(function(x){x.classList.remove('gjs-sel');});
t.classList.add('gjs-sel');}}
v.querySelectorAll('.gjs-tile').forEach(function(t){
t.addEventListener('mouseenter',function(){show(t,false);});
t.addEventListener('focus',function(){show(t,false);});
t.addEventListener('click',function(){show(t,true);});});})();"""


def sharding_html(
    x: Any,
    sharding: Any = None,
    *,
    title: str | None = None,
    uid: str | None = None,
    styles: bool = True,
) -> str:
    """An interactive HTML view of ``x``'s layout: ``x`` an Array, a ``ShardingModel``,
    or a shape with ``sharding``. Rank 1 and 2 draw a grid scaled to the blocks' sizes;
    other ranks (or blocks that do not form a grid) list the blocks in a table. Every
    block's title (hover) and the detail line (hover, focus, click) give its index
    ranges, shard shape and each device's id, shard index and replica id."""
    if isinstance(x, ShardingModel):
        model = x
    elif sharding is not None:
        model = sharding_model(x, sharding)
    else:
        model = array_sharding_model(x)
    uid = uid or f"gjs-{next(_uids)}"
    grid = _grid(model) if len(model.shape) in (1, 2) else ""
    if grid and len(model.shape) == 1:
        grid = grid.replace('class="gjs-grid"', 'class="gjs-grid gjs-vector"', 1)
    body = grid or _table(model)
    dtype = model.dtype or ""
    head = (
        title if title is not None else f"{dtype}{list(model.shape)} \u2014 {model.sharding_text}"
    )
    data = json.dumps([_tile_info(t, model.dtype) for t in model.tiles], ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    style = f"<style>{SHARDING_CSS}</style>" if styles else ""
    script = _SCRIPT % json.dumps(uid).replace("<", "\\u003c")
    return (
        f'{style}<div class="gjs-view" id="{_e(uid)}"><div class="gjs-title">{_e(head)}</div>'
        f"{body}"
        f'<div class="gjs-detail">hover or click a block</div>'
        f'<script type="application/json" class="gjs-data">{data}</script>'
        f"<script>{script}</script></div>"
    )
