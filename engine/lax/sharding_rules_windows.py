"""Sharding rules of convolution and the windowed reductions, as JAX 0.10.2's: the
result keeps the (lhs) operand's sharding as long as each resized sharded dimension
still splits evenly; a convolution over a sharded kernel or a sharded feature dimension
needs ``out_sharding``.

The rules register themselves in ``sharding_rules.RULES`` (imported from there)."""

from __future__ import annotations

from ..core import ShardingTypeError
from .sharding_rules import _entries, _keep_for_new_shape, rule, same_layout, voting


@rule("conv_general_dilated")
def _conv(name, avals, outs, type_mesh, *, dimension_numbers, out_sharding=None, **_):
    if out_sharding is not None:
        return out_sharding
    lhs, rhs = avals
    feature_dim = dimension_numbers[0][1]
    if any(e is not None for e in _entries(rhs)) or _entries(lhs)[feature_dim] is not None:
        raise ShardingTypeError(
            "Please specify the output sharding via `out_sharding` parameter of "
            "`conv_general_dilated`"
        )
    # (the lhs's entries as they are, dimension for dimension, even where the output
    # spec orders its dimensions otherwise: JAX's rule)
    return _keep_for_new_shape("conv_general_dilated", lhs, outs[0])


@rule("reduce_window_sum", "reduce_window_max", "reduce_window_min")
def _reduce_window(name, avals, outs, type_mesh, **_):
    return _keep_for_new_shape("reduce_window", avals[0], outs[0])


@rule("reduce_window")
def _reduce_window_generic(name, avals, outs, type_mesh, **_):
    entries = _keep_for_new_shape("reduce_window", avals[0], outs[0])
    return [entries for _ in outs]


@rule("select_and_gather_add")
def _select_and_gather_add(name, avals, outs, type_mesh, **_):
    tangents, operand = avals
    if not same_layout(tangents, operand):
        raise ShardingTypeError(
            "select_and_gather_add tangents and operand shardings must match, got "
            f"{tangents.sharding} and {operand.sharding}."
        )
    return _keep_for_new_shape("reduce_window", voting(avals)[-1], outs[0])


@rule("select_and_scatter_add")
def _select_and_scatter_add(name, avals, outs, type_mesh, **_):
    return list(_entries(avals[1]))  # (source, operand): the operand's


@rule("select_and_scatter")
def _select_and_scatter(name, avals, outs, type_mesh, **_):
    return list(_entries(avals[0]))  # (operand, source, init_value)
