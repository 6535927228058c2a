"""Sharding rules of the shape-changing primitives beside reshape, as JAX 0.10.2's:
split, stack, tile, top_k, fft and the generic reduce; and select_n, stricter than the
elementwise broadcasting rule (its cases and ``which`` must agree). Each keeps the operand's shardings
where its dimensions are kept whole, and raises JAX's ShardingTypeError where a sharded
dimension would have to be cut unevenly, repeated or searched across devices.

The rules register themselves in ``sharding_rules.RULES`` (imported from there)."""

from __future__ import annotations

from ..core import ShardingTypeError
from ..sharding.named import NamedSharding, PartitionSpec
from .sharding_rules import _entries, _keep_for_new_shape, _long, rule, voting


@rule("split")
def _split(name, avals, outs, type_mesh, **_):
    return [_keep_for_new_shape("split", avals[0], o) for o in outs]


@rule("stack")
def _stack(name, avals, outs, type_mesh, *, axis, **_):
    typed = voting(avals)
    if any(_entries(a) != _entries(typed[0]) for a in typed):
        shown = ", ".join(str(_shown(a, type_mesh)) for a in avals)
        raise ShardingTypeError(
            f"All operands should have the same sharding. Got shardings {shown}"
        )
    entries = list(_entries(typed[0]))
    entries.insert(axis, None)
    return entries


@rule("tile")
def _tile(name, avals, outs, type_mesh, *, reps, **_):
    x = avals[0]
    for i, (r, e) in enumerate(zip(reps, _entries(x))):
        if r != 1 and e is not None:
            raise ShardingTypeError(
                f"Operand cannot be sharded on dimension {i} when the tiling is non-trivial. "
                f"Got input type: {_long(x)} with reps: {tuple(reps)}"
            )
    return list(_entries(x))  # JAX's result keeps the operand's sharding


@rule("top_k")
def _top_k(name, avals, outs, type_mesh, *, axis, **_):
    x = avals[0]
    entries = list(_entries(x))
    if entries[axis] is not None:
        raise ShardingTypeError(
            "The input should be unsharded over the axis along which to compute the top_k "
            f"values. Got input type={_long(x)} and axis={axis}"
        )
    return [entries, entries]


@rule("reduce")
def _reduce(name, avals, outs, type_mesh, *, dimensions, **_):
    operands = avals[: len(avals) // 2]
    drop = set(dimensions)
    return [[e for i, e in enumerate(_entries(a)) if i not in drop] for a in operands]


@rule("select_n")
def _select_n(name, avals, outs, type_mesh, **_):
    """JAX's rule wants the cases and ``which`` typed alike, and JAX's jnp broadcasts
    operands to one merged sharding before selecting; the engine's jnp broadcasts each
    alone, so here a dimension takes the one mesh axis its operands name, and two
    different axes on one dimension are JAX's error."""
    which, cases = avals[0], avals[1:]
    case_entries = [_entries(c) for c in cases]
    merged: list = [None] * len(case_entries[0])
    for entries in case_entries:
        if _conflict(merged, entries):
            shown = ", ".join(str(_shown(c, type_mesh)) for c in cases)
            raise ShardingTypeError(f"select cases must have the same shardings, got [{shown}].")
        merged = [m if m is not None else e for m, e in zip(merged, entries)]
    if which.shape:
        if _conflict(merged, _entries(which)):
            raise ShardingTypeError(
                "select `which` must be scalar or have the same sharding as cases, got "
                f"`which` sharding {_shown(which, type_mesh)} but case sharding "
                f"{_shown(cases[0], type_mesh)}."
            )
        merged = [m if m is not None else w for m, w in zip(merged, _entries(which))]
    return merged


def _conflict(a, b) -> bool:
    return any(x is not None and y is not None and x != y for x, y in zip(a, b))


def _shown(aval, mesh) -> NamedSharding:
    return aval.sharding or NamedSharding(mesh, PartitionSpec(*[None] * aval.ndim))


@rule("fft")
def _fft(name, avals, outs, type_mesh, **_):
    """JAX's fft keeps its operand's sharding as it is, even on a transformed dimension
    whose length changes (rfft, irfft): there it must still split evenly."""
    entries = _entries(avals[0])
    NamedSharding(type_mesh, PartitionSpec(*entries)).shard_shape(outs[0].shape)
    return list(entries)
