"""Sharding rules of gather and the scatter family, as JAX 0.10.2's: the result takes
the operand's shardings where each index query reads (or writes) whole, unsliced
dimensions or replicated ones, and the indices' shardings along their batch dimensions;
where that would need collectives the rule gives no sharding and the primitive raises,
naming the ``out_sharding`` argument that says what the result should be.

The rules register themselves in ``sharding_rules.RULES`` (imported from there)."""

from __future__ import annotations

from ..core import ShardingTypeError
from .sharding_rules import _entries, rule

_SCATTERS = ("scatter", "scatter-add", "scatter-sub", "scatter-mul", "scatter-min", "scatter-max")


def _gather_entries(operand, indices, dnums, slice_sizes) -> list | None:
    op, idx = _entries(operand), list(_entries(indices))
    if all(e is None for e in op) and all(e is None for e in idx):
        return [None] * (len(dnums.offset_dims) + len(indices.shape) - 1)
    # each query must find its whole window on every device: the dimensions it indexes
    # into are read whole or are replicated
    if any(slice_sizes[d] != operand.shape[d] and op[d] is not None for d in dnums.start_index_map):
        return None
    batch_pairs = list(zip(dnums.operand_batching_dims, dnums.start_indices_batching_dims))
    if any(op[o] is not None and idx[i] is not None and op[o] != idx[i] for o, i in batch_pairs):
        return None
    # sharded query dimensions (not batch ones) would need the operand gathered
    batch = set(dnums.start_indices_batching_dims)
    if any(e is not None for i, e in enumerate(idx) if i not in batch):
        return None
    for o, i in batch_pairs:
        idx[i] = idx[i] if idx[i] is not None else op[o]
    window = iter(
        op[d]
        for d in range(len(operand.shape))
        if d not in dnums.collapsed_slice_dims and d not in dnums.operand_batching_dims
    )
    queries = iter(idx)
    offset = set(dnums.offset_dims)
    rank = len(dnums.offset_dims) + len(indices.shape) - 1
    return [next(window) if d in offset else next(queries) for d in range(rank)]


@rule("gather")
def _gather(name, avals, outs, type_mesh, *, dimension_numbers, slice_sizes, **_):
    operand, indices = avals
    entries = _gather_entries(operand, indices, dimension_numbers, slice_sizes)
    if entries is None:
        raise ShardingTypeError(
            "Use `.at[...].get(out_sharding=)` to provide output PartitionSpec for the "
            "gather indexing as out sharding could not be resolved unambiguously (or would "
            f"require collectives on inputs). Got operand={operand!r}, indices={indices!r}"
        )
    return entries


def _updates_batch_dims(dnums, updates) -> list:
    """The updates dimension matching each indices batching dimension: the updates'
    non-window dimensions are the indices' query dimensions, in order."""
    queries = [d for d in range(len(updates.shape)) if d not in dnums.update_window_dims]
    return [queries[i] for i in dnums.scatter_indices_batching_dims]


def _scatter_entries(operand, indices, updates, dnums) -> list | None:
    op, idx, upd = _entries(operand), _entries(indices), _entries(updates)
    if all(e is None for e in op + idx + upd):
        return [None] * len(operand.shape)
    upd_batch = _updates_batch_dims(dnums, updates)
    skipped = set(dnums.inserted_window_dims) | set(dnums.operand_batching_dims)
    operand_window = [d for d in range(len(operand.shape)) if d not in skipped]
    pairs = list(zip(dnums.update_window_dims, operand_window))
    if updates.sharding is None:
        # updates made without a type (jnp's .at[] broadcasting a scalar) take the
        # layout JAX's .at[] gives them: the operand's along the window
        upd = tuple(dict((u, op[o]) for u, o in pairs).get(d) for d in range(len(upd)))
    triples = list(zip(dnums.operand_batching_dims, dnums.scatter_indices_batching_dims, upd_batch))
    for o, i, u in triples:
        if len({e for e in (op[o], idx[i], upd[u]) if e is not None}) > 1:
            return None
    # a window dimension is written whole with the operand's sharding, or is replicated
    for u, o in pairs:
        whole = updates.shape[u] == operand.shape[o] and upd[u] == op[o]
        if not whole and not (upd[u] is None and op[o] is None):
            return None
    if any(op[d] is not None for d in dnums.inserted_window_dims):
        return None
    # queries that may write the same window must see every update and index
    window, batch = set(dnums.update_window_dims), set(upd_batch)
    if any(e is not None for d, e in enumerate(upd) if d not in window and d not in batch):
        return None
    index_batch = set(dnums.scatter_indices_batching_dims)
    if any(e is not None for d, e in enumerate(idx[:-1]) if d not in index_batch):
        return None
    if idx[-1] is not None:  # the index vector itself
        return None
    out = list(op)
    for o, i, u in triples:
        if out[o] is None:
            out[o] = idx[i] if idx[i] is not None else upd[u]
    for u, o in pairs:
        if out[o] is None:
            out[o] = upd[u]
    return out


@rule(*_SCATTERS)
def _scatter(name, avals, outs, type_mesh, *, dimension_numbers, **_):
    operand, indices, updates = avals
    entries = _scatter_entries(operand, indices, updates, dimension_numbers)
    if entries is None:
        raise ShardingTypeError(
            "Use `.at[...].set/add/mul/...(out_sharding=)` to provide output PartitionSpec "
            "for the scatter update as out sharding could not be resolved unambiguously (or "
            "would require collectives on inputs). Got "
            f"operand={operand!r}, indices={indices!r}, updates={updates!r}"
        )
    return entries
