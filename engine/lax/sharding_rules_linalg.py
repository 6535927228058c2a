"""Sharding rules of the linear-algebra primitives, as JAX 0.10.2's: each operand's
leading (batch) dimensions may be sharded, alike for every operand, and its matrix (or
vector) dimensions must be replicated; results keep the batch sharding. Triangular
solves may also shard ``b``'s non-contracting dimension.

The rules register themselves in ``sharding_rules.RULES`` (imported from there)."""

from __future__ import annotations

from ..core import ShardingTypeError
from ..sharding.named import PartitionSpec
from .sharding_rules import _entries, rule, voting

# the number of core (non-batch) dimensions of each operand (JAX's declarations)
CORE_RANKS = {
    "cholesky": (2,),
    "eig": (2,),
    "eigh": (2,),
    "hessenberg": (2,),
    "householder_product": (2, 1),
    "ormqr": (2, 1, 2),
    "lu": (2,),
    "lu_pivots_to_permutation": (1,),
    "geqrf": (2,),
    "geqp3": (2, 1),
    "qr": (2,),
    "schur": (2,),
    "svd": (2,),
    "symmetric_product": (2, 2),
    "tridiagonal": (2,),
    "tridiagonal_solve": (1, 1, 1, 2),
}


def _batch_entries(name, avals) -> tuple:
    ranks = CORE_RANKS[name]
    batch = []
    for i, (rank, aval) in enumerate(zip(ranks, avals)):
        entries = _entries(aval)
        split = len(entries) - rank
        if any(e is not None for e in entries[split:]):
            raise ShardingTypeError(
                f"Input {i} to {name} must be unsharded on non-batch dimensions, but got "
                f"{PartitionSpec(*entries)}."
            )
        if any(aval is v for v in voting(avals)):
            batch.append(entries[:split])
    if any(b != batch[0] for b in batch[1:]):
        raise ShardingTypeError(
            f"All inputs to {name} must have the same batch sharding, but got {batch}."
        )
    return batch[0]


@rule(*CORE_RANKS)
def _linalg(name, avals, outs, type_mesh, **_):
    batch = list(_batch_entries(name, avals))
    results = [batch + [None] * (len(o.shape) - len(batch)) for o in outs]
    return results[0] if name in _ONE_RESULT else results


_ONE_RESULT = {
    "cholesky",
    "householder_product",
    "ormqr",
    "lu_pivots_to_permutation",
    "symmetric_product",
    "tridiagonal_solve",
}


@rule("triangular_solve")
def _triangular_solve(name, avals, outs, type_mesh, *, left_side, transpose_a, **_):
    a, b = avals
    ae, be = _entries(a), _entries(b)
    a_batch, a_core = ae[:-2], ae[-2:]
    b_batch, b_core = be[:-2], be[-2:]
    if a.sharding is not None and b.sharding is not None and a_batch != b_batch:
        raise ShardingTypeError(
            "All inputs to triangular_solve must have the same batch sharding, but got "
            f"{a_batch} and {b_batch}."
        )
    if a_core[left_side ^ transpose_a] is not None:
        raise ShardingTypeError(
            "triangular solve input `a` must be unsharded on the contracting axis, but got "
            f"{PartitionSpec(*ae)} with left_side={left_side} and transpose_a={transpose_a}."
        )
    if b_core[not left_side] is not None:
        raise ShardingTypeError(
            "triangular solve input `b` must be unsharded on the contracting axis, but got "
            f"{PartitionSpec(*be)} with left_side={left_side} and transpose_a={transpose_a}."
        )
    core = [a_core[transpose_a], b_core[1]] if left_side else [b_core[0], a_core[not transpose_a]]
    batch = a_batch if a.sharding is not None else b_batch
    return [*batch, *core]
