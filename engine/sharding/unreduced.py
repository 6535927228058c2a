"""Unreduced and reduced axes through operations, as JAX 0.10.2's ``ur_rule``s: a value
unreduced over mesh axis X holds per-device partial sums (a dot over an X-sharded
contraction with ``out_sharding=P(..., unreduced={'X'})``); a reduced one is replicated
over X and its cotangent is unreduced. Only linear operations may carry unreduced values
through; anything else must reshard (reduce) first."""

from __future__ import annotations

from typing import Any

from .. import core
from ..core import ShardingTypeError

# operations that keep their (one) operand's unreduced and reduced axes
_PASS_THROUGH = frozenset(
    {
        "transpose",
        "squeeze",
        "pad",
        "reduce_precision",
        "broadcast_in_dim",
        "copy",
        "copy_p",
        "slice",
        "dynamic_slice",
        "split",
    }
)


def _u(aval) -> frozenset:
    s = getattr(aval, "sharding", None)
    return frozenset(s.spec.unreduced) if s is not None else frozenset()


def _r(aval) -> frozenset:
    s = getattr(aval, "sharding", None)
    return frozenset(s.spec.reduced) if s is not None else frozenset()


def carries_any(avals) -> bool:
    return any(_u(a) or _r(a) for a in avals)


def _nary_reduced(avals) -> frozenset:
    specs = {r for a in avals if (r := _r(a))}
    if len(specs) > 1:
        raise ShardingTypeError(
            f"All inputs should be reduced across the same mesh axes. Got specs: {specs}"
        )
    reduced = next(iter(specs)) if specs else frozenset()
    for a in avals if reduced else ():
        s = getattr(a, "sharding", None)
        if s is None:
            continue
        used = frozenset(s.spec._used_axes())
        if (frozenset(s.mesh.axis_names) - used - s.spec.unreduced - s.spec.reduced) & reduced:
            raise ShardingTypeError(
                "Inputs cannot be replicated on the same axes that another input is reduced "
                f"on. Got input type: {a.str_short()} and reduced spec: {reduced}"
            )
        if used & reduced:
            raise ShardingTypeError(
                "Inputs cannot be sharded/varying on the same axes that another input is "
                "reduced on. Reshard the input which is reduced to be sharded on the mesh "
                "axes it is reduced on via `jax.sharding.reshard(inp, jax.P(...))`. Got "
                f"input type: {a.str_short()} and reduced spec: {reduced}"
            )
    return reduced


def _same_sharding(avals, message: str) -> tuple[frozenset, frozenset]:
    """The operands' one (unreduced, reduced) pair: JAX's sharding rules compare the
    whole sharding, these axes included (untyped operands aside)."""
    typed = [a for a in avals if getattr(a, "sharding", None) is not None]
    if len({(_u(a), _r(a)) for a in typed}) > 1:
        raise ShardingTypeError(message + ", ".join(str(a.sharding) for a in typed))
    return (_u(typed[0]), _r(typed[0])) if typed else (frozenset(), frozenset())


def _add(x, y) -> tuple[frozenset, frozenset]:
    reduced = _nary_reduced((x, y))
    xu, yu = _u(x), _u(y)
    if xu and yu:
        if xu != yu:
            raise ShardingTypeError(
                "lhs and rhs to `add` must be unreduced along the same mesh axes. "
                f"Got lhs={xu}, rhs={yu}"
            )
        return xu, reduced
    if xu or yu:
        lhs, rhs = ("lhs", "rhs") if xu else ("rhs", "lhs")
        raise ShardingTypeError(
            f"{lhs} is unreduced while {rhs} is not. `add` operation does not allow this "
            "because there will be implicit communication. Please reduce "
            f"{lhs} via `reshard` before calling `add`."
        )
    return frozenset(), reduced


def _mul(x, y) -> tuple[frozenset, frozenset]:
    reduced = _nary_reduced((x, y))
    xu, yu = _u(x), _u(y)
    if xu and yu:
        raise ShardingTypeError(
            "lhs and rhs to `mul` cannot be unreduced since mul is bilinear. "
            f"Got lhs={xu}, rhs={yu}"
        )
    if xu and xu != _r(y):
        raise ShardingTypeError(
            f"RHS should be reduced along the same axes LHS is unreduced on. Got lhs={x} "
            f"and rhs={y}"
        )
    if yu and _r(x) != yu:
        raise ShardingTypeError(
            f"LHS should be reduced along the same axes RHS is unreduced on. Got lhs={x} "
            f"and rhs={y}"
        )
    unreduced = xu or yu
    return unreduced, (frozenset() if unreduced else reduced)


def _flat_axes(entries) -> list:
    return [a for e in entries if e is not None for a in ((e,) if isinstance(e, str) else e)]


def _dot_general(lhs, rhs, dimension_numbers, out_sharding) -> frozenset:
    if _u(lhs) or _u(rhs):
        raise ShardingTypeError(
            "lhs or rhs passed to dot_general cannot be unreduced. Got "
            f"lhs=ShapedArray({lhs.str_short()}) and rhs=ShapedArray({rhs.str_short()})"
        )
    if out_sharding is None or not out_sharding.spec.unreduced:
        return frozenset()
    (lhs_contracting, rhs_contracting), _ = dimension_numbers
    lhs_spec = tuple(lhs.sharding.spec._normalized(len(lhs.shape))[i] for i in lhs_contracting)
    rhs_spec = tuple(rhs.sharding.spec._normalized(len(rhs.shape))[i] for i in rhs_contracting)
    if lhs_spec != rhs_spec:
        raise ShardingTypeError(
            "lhs and rhs contracting dims should be sharded identically when out_sharding "
            "provided to dot_general mentions unreduced_axes. Got "
            f"lhs_contracting_spec={lhs_spec}, rhs_contracting_spec={rhs_spec}"
        )
    if frozenset(out_sharding.spec.unreduced) != frozenset(_flat_axes(lhs_spec)):
        raise ShardingTypeError(
            "out_sharding's unreduced axes should be equal to the contracting specs. Got "
            f"unreduced axes={frozenset(out_sharding.spec.unreduced)} and "
            f"contracting spec={lhs_spec}"
        )
    return frozenset(out_sharding.spec.unreduced)


# JAX 0.10.2's sharding rules for these read the operand's spec by unpacking or indexing
# it, which a spec with unreduced/reduced axes refuses (a ValueError, not a rule)
_UNPACK_SPEC = frozenset(
    {"reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or", "reduce_xor"}
)
_INDEX_SPEC = frozenset(
    {"argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"}
)


def _refused_spec(name: str) -> ValueError:
    if name in _UNPACK_SPEC:
        return ValueError(
            "Using *pspec is dangerous when PartitionSpec has non-empty unreduced/reduced "
            "set. Please use *spec.partitions"
        )
    return ValueError(
        "Using pspec[...] is dangerous when PartitionSpec has non-empty unreduced/reduced "
        "set. Please use spec.partitions[...]"
    )


def _check_reshape(aval, new_sizes) -> None:
    # JAX 0.10.2 keeps an unsplit operand's spec as it is and then trims it to the new
    # rank by indexing, which a spec with unreduced/reduced axes refuses
    spec = aval.sharding.spec
    if len(new_sizes) < len(aval.shape) and not spec._used_axes():
        raise ValueError(
            "Using pspec[...] is dangerous when PartitionSpec has non-empty "
            "unreduced/reduced set. Please use spec.partitions[...]"
        )


def unreduced_and_reduced(
    name: str, avals: tuple, params: dict, elementwise: bool
) -> tuple[frozenset, frozenset]:
    """The result's (unreduced, reduced) axes, or JAX's error for ``name``."""
    if name in ("add", "add_any"):
        return _add(*avals)
    if name == "mul":
        return _mul(*avals)
    if name in _UNPACK_SPEC or name in _INDEX_SPEC:
        raise _refused_spec(name)
    if name == "reshape":
        _check_reshape(avals[0], params["new_sizes"])
    if name in _PASS_THROUGH or name in ("convert_element_type", "reshape"):
        return _u(avals[0]), _r(avals[0])
    if name == "reduce_sum":
        given: Any = params.get("out_sharding")
        if given is not None and given.spec.unreduced:
            return frozenset(given.spec.unreduced), _r(avals[0])
        return _u(avals[0]), _r(avals[0])
    if name == "select_n":
        return _same_sharding(avals[1:], "select cases must have the same shardings, got ")
    if name in ("concatenate", "stack"):
        return _same_sharding(avals, "All operands should have the same sharding. Got shardings ")
    if name == "dot_general":
        lhs, rhs = avals
        unreduced = _dot_general(lhs, rhs, params["dimension_numbers"], params.get("out_sharding"))
        return unreduced, frozenset()  # (JAX 0.10.2 propagates no reduced through a dot)
    if elementwise:
        if any(_u(a) for a in avals):
            raise NotImplementedError(
                f"unreduced rule for {name} is not implemented. Please file an issue at "
                "https://github.com/jax-ml/jax/issues"
            )
        return frozenset(), (_r(avals[0]) if len(avals) == 1 else _nary_reduced(avals))
    raise NotImplementedError(
        f"unreduced/reduced rule for {name} is not implemented. Please file an issue at "
        "https://github.com/jax-ml/jax/issues"
    )


# ---------------------------------------------------------------------------- scalars

# the binary operations whose lax functions call JAX 0.10.2's insert_reduced_reshard
_REDUCED_BINARY = frozenset(
    {
        "add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2", "nextafter",
        "complex", "and", "or", "xor", "shift_left", "shift_right_arithmetic",
        "shift_right_logical", "eq", "ne", "ge", "gt", "le", "lt", "mulhi", "add_any",
        "pad",
    }
)  # fmt: skip


def install_reduced_reshard() -> None:
    """Called when a reduced type first appears: from then on binary operations reshard
    their scalar operands as JAX's (nothing is checked before)."""
    if core.reduced_reshard_hook is None:
        core.REDUCED_BINARY = _REDUCED_BINARY
        core.reduced_reshard_hook = insert_reduced_reshard


def insert_reduced_reshard(args):
    """JAX's insert_reduced_reshard: over a mesh whose axes are all Explicit, a scalar
    operand replicated over the axes the other operand is reduced on is resharded to be
    reduced on them too (``reshard 2.0:f32[]`` typed ``f32[]{R:X}``)."""
    from .mesh import AxisType, get_abstract_mesh

    mesh = get_abstract_mesh()
    if mesh.empty or any(t != AxisType.Explicit for t in mesh.axis_types):
        return args
    avals = [core.get_aval(a) for a in args]
    reduced = frozenset().union(*(_r(a) for a in avals))
    if not reduced:
        return args
    from .constraint import reshard
    from .named import PartitionSpec

    out = []
    for x, aval in zip(args, avals):
        s = aval.sharding
        taken = (
            frozenset(s.spec._used_axes()) | s.spec.unreduced | s.spec.reduced
            if s is not None
            else frozenset()
        )
        if not aval.shape and not (reduced & taken):
            x = reshard(x, PartitionSpec(reduced=reduced))
        out.append(x)
    return out
