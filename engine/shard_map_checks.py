"""shard_map's specs and types (engine/shard_map.py): how a spec splits a shape, the
checks JAX makes of in_specs and out_specs (ranks, divisibility, manual axes, unreduced
and reduced axes, an out_spec's claim of replication against the result's type), and a
block's type in the body."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import core, tree_util
from .sharding import NamedSharding, P, PartitionSpec


def _spec_axes(spec: PartitionSpec, dim: int) -> tuple[Any, ...]:
    if dim >= len(spec):
        return ()
    entry = spec[dim]
    if entry is None:
        return ()
    return tuple(entry) if isinstance(entry, tuple) else (entry,)


def _spec_names(spec: PartitionSpec) -> set[Any]:
    return {a for d in range(len(spec)) for a in _spec_axes(spec, d)}


def _block_shape(shape: Sequence[int], spec: PartitionSpec, sizes: dict) -> tuple[int, ...]:
    return tuple(n // math.prod(sizes[a] for a in _spec_axes(spec, d)) for d, n in enumerate(shape))


def _global_shape(shape: Sequence[int], spec: PartitionSpec, sizes: dict) -> tuple[int, ...]:
    return tuple(n * math.prod(sizes[a] for a in _spec_axes(spec, d)) for d, n in enumerate(shape))


def _fun_name(f: Any) -> str:
    return getattr(f, "__name__", str(f))


def _check_specs(kind: str, specs: Any, manual: frozenset) -> None:
    # a None in in_specs marks an argument the body closes over (not split, not traced)
    leaves = [x for x in tree_util.tree_leaves(specs, is_leaf=_is_spec) if x is not None]
    bad_type = [x for x in leaves if not isinstance(x, PartitionSpec)]
    if bad_type:
        raise TypeError(
            f"shard_map {kind}_specs argument must be a pytree of "
            f"`jax.sharding.PartitionSpec` instances, but got {bad_type[0]!r} of type "
            f"{type(bad_type[0]).__name__}. Check the {kind}_specs values passed to shard_map."
        )
    for p in leaves:
        for name in _spec_names(p):
            if name not in manual:
                raise ValueError(
                    f"shard_map {kind}_specs argument must refer to an axis marked as "
                    f"manual ({set(manual)}), but {kind}_specs entry {p} refers to "
                    f"{name!r}. Check the {kind}_specs values passed to shard_map."
                )


def _check_rank(kind: str, f: Any, specs: Sequence[PartitionSpec], avals) -> None:
    for spec, aval in zip(specs, avals):
        if len(spec) > aval.ndim:
            where = "the passed args" if kind == "in" else f"{_fun_name(f)}(*args)"
            raise ValueError(
                f"shard_map applied to the function '{_fun_name(f)}' was given an "
                f"{kind}_specs entry which is too long to be compatible with the "
                f"corresponding {kind}put value from the function: {kind}_specs entry "
                f"{spec} has length {len(spec)}, but {where} has a value of shape "
                f"{aval.str_short()}, which has rank {aval.ndim} (and {aval.ndim} < "
                f"{len(spec)}). Entries in {kind}_specs must be of length no greater "
                f"than the number of axes in the corresponding {kind}put value."
            )


def _check_divisible(f: Any, mesh: Any, specs, avals) -> None:
    sizes = dict(mesh.shape)
    for spec, aval in zip(specs, avals):
        for d in range(len(spec)):
            names = _spec_axes(spec, d)
            total = math.prod(sizes[n] for n in names)
            if names and aval.shape[d] % total:
                axis = f"axes {names}" if len(names) > 1 else f"axis '{names[0]}'"
                raise ValueError(
                    f"shard_map applied to the function '{_fun_name(f)}' was given "
                    "argument arrays with axis sizes that are not evenly divisible by "
                    f"the corresponding mesh axis sizes: the mesh given has shape "
                    f"{tuple(sizes.values())} with corresponding axis names "
                    f"{mesh.axis_names}; the passed argument of shape {aval.str_short()} "
                    f"corresponds to in_specs entry {spec}, which maps array axis {d} "
                    f"(of size {aval.shape[d]}) to mesh {axis} (of size {total}), but "
                    f"{total} does not evenly divide {aval.shape[d]}."
                )


def _check_out_vma(f, mesh, manual, out_avals, out_specs) -> None:
    """JAX's check_vma: an out_spec may leave out a manual mesh axis (claim the output is
    the same on every member along it) only where the output's type is neither varying,
    unreduced nor reduced over that axis; its unreduced and reduced axes must be the
    output's."""
    from .lax.parallel_vma import ur_axes

    for spec, aval in zip(out_specs, out_avals):
        unreduced, reduced = ur_axes(aval)
        varying = aval.vma
        named = _spec_names(spec) | spec.unreduced | spec.reduced
        unmentioned = [a for a in mesh.axis_names if a not in named]
        bad = [a for a in unmentioned if a in manual and a in varying | unreduced | reduced]
        if not bad:
            for what, have in (("unreduced", unreduced), ("reduced", reduced)):
                if frozenset(getattr(spec, what)) != have:
                    raise ValueError(
                        f"out_specs passed to shard_map should be equal to the {what} "
                        f"present on the out_aval. Got out_specs={spec} and "
                        f"out_aval={aval.str_short()}"
                    )
            continue
        if len(unmentioned) > 1:
            diff = [a for a in unmentioned if a in varying]
            detail = (
                f"out_specs is {spec} which implies that the corresponding output value is "
                f"only varying across mesh axes "
                f"{{{','.join(map(str, core.order_axes(_spec_names(spec))))}}} "
                f"and not {{{','.join(map(str, diff))}}}, but it was inferred to be possibly "
                f"varying over {{{','.join(map(str, core.order_axes(varying)))}}}"
            )
        else:
            detail = (
                f"out_specs is {spec} which implies that the corresponding output value is "
                f"replicated across mesh axis '{unmentioned[0]}', but could not infer "
                "replication over any axes"
            )
        raise ValueError(
            f"shard_map applied to the function '{_fun_name(f)}' was given out_specs which "
            "require replication which can't be statically inferred given the mesh:\n\n"
            f"The mesh given has shape {tuple(mesh.shape.values())} with corresponding "
            f"axis names {mesh.axis_names}.\n\n{detail}\n\nCheck if these output values "
            "are meant to be replicated over those mesh axes. If not, consider revising "
            "the corresponding out_specs entries. If so, consider disabling the check by "
            "passing the check_vma=False argument to `jax.shard_map`."
        )


def _axis_type(mesh: Any, name: Any) -> Any:
    return dict(zip(mesh.axis_names, mesh.axis_types))[name]


def _input_spec(x: Any) -> PartitionSpec:
    """The spec of an argument's sharding (P() for one on a single device); a traced
    argument's is the sharding in its type (Explicit axes)."""
    sharding = x.aval.sharding if core.is_tracer(x) else getattr(x, "sharding", None)
    spec = getattr(sharding, "spec", None)
    return spec if isinstance(spec, PartitionSpec) else P()


def _padded(spec: PartitionSpec, ndim: int) -> PartitionSpec:
    entries = tuple(spec) + (None,) * (ndim - len(spec))
    return P(*entries, unreduced=spec.unreduced, reduced=spec.reduced)


def _check_unreduced(kind: str, mesh: Any, manual: frozenset, specs: Any) -> None:
    """unreduced=/reduced= in specs: JAX allows them only in a full-manual shard_map over
    Explicit mesh axes."""
    from .sharding import AxisType

    full_manual = frozenset(mesh.axis_names) == manual
    for s in tree_util.tree_leaves(specs, is_leaf=_is_spec):
        if not isinstance(s, PartitionSpec) or not (s.unreduced or s.reduced):
            continue
        if not full_manual:
            raise NotImplementedError(
                f"unreduced/reduced can only be passed to {kind}_specs when shard_map is in "
                f"full manual mode. Got mesh axis names {mesh.axis_names}, manual_axes: "
                f"{manual}, specs: {s}. Please file a bug at "
                "https://github.com/jax-ml/jax/issues."
            )
        for what in ("unreduced", "reduced"):
            if not all(_axis_type(mesh, u) == AxisType.Explicit for u in getattr(s, what)):
                raise ValueError(
                    f"{what} in {kind}_specs {s} can only be used when the mesh passed to "
                    f"shard_map contains axis names all of type `Explicit`. Got mesh {mesh}"
                )


def _block_aval(aval, spec, sizes, check_vma, body_mesh, manual):
    """One block's type in the body: split as ``spec`` says, varying over the axes it is
    split on (check_vma), unreduced/reduced as the argument is, and split over the
    argument's Explicit axes that stay outside the body's manual ones."""
    from .lax.parallel_vma import ur_axes

    unreduced, reduced = ur_axes(aval)
    for what, have in (("unreduced", unreduced), ("reduced", reduced)):
        if frozenset(getattr(spec, what)) != have:
            raise ValueError(
                f"in_specs containing {what} {spec} passed to shard_map should be equal to "
                f"the {what} present on the in_aval {aval.str_short()}"
            )
    entries: list[Any] = [None] * aval.ndim
    if aval.sharding is not None:
        for d in range(aval.ndim):
            kept = tuple(a for a in aval.sharding.spec._axes_of(d) if a not in manual)
            entries[d] = None if not kept else kept[0] if len(kept) == 1 else kept
    if not check_vma:
        unreduced = reduced = frozenset()
    sharding = None
    if unreduced or reduced or any(e is not None for e in entries):
        sharding = NamedSharding(
            body_mesh, PartitionSpec(*entries, unreduced=unreduced, reduced=reduced)
        )
    return aval.update(
        shape=_block_shape(aval.shape, spec, sizes),
        # a value varies over the axes its spec splits it on, and (in a nested
        # shard_map) over the enclosing body's axes it already varied over
        vma=aval.vma | frozenset(_spec_names(spec)) if check_vma else frozenset(),
        sharding=sharding,
    )


def _check_explicit_inputs(flat: Sequence[Any], specs: Sequence[Any]) -> None:
    """On a mesh of Explicit axes, in_specs must say how the arguments are laid out (a
    traced argument's layout is its type's: replicated when it carries none)."""
    for x, spec in zip(flat, specs):
        if spec is None:
            continue
        ndim = core.get_aval(x).ndim
        have_spec = _input_spec(x)
        want = _padded(spec, ndim)
        have = _padded(have_spec, ndim)
        if want != have:
            from .sharding.arrays import typeof

            raise ValueError(
                f"in_specs passed to shard_map: {want} does not match the specs of the "
                f"input: {have} for arg: {typeof(x)}. `in_specs` is an optional argument "
                "so you can omit specifying it and shard_map will infer the in_specs from "
                "the arguments. If you want to reshard your inputs, you can use `jax.reshard` "
                "on the arguments and then pass those args to shard_map."
            )


def _is_spec(x: Any) -> bool:
    return x is None or isinstance(x, PartitionSpec)


def _broadcast_specs(kind: str, specs: Any, tree: Any) -> list[Any]:
    try:
        return tree_util.tree_leaves(
            tree_util.tree_broadcast(specs, tree, is_leaf=_is_spec), is_leaf=_is_spec
        )
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"shard_map {kind}_specs must be a tree prefix of the "
            f"{'arguments' if kind == 'in' else 'outputs'}: {e}"
        ) from None
