"""``shard_map``: run a function on each block of its arguments over a mesh of devices,
with collectives over the mesh axes.

The body is traced once, on one block's shapes, with the mesh's manual axes bound as
named axes; ``shard_map_p`` carries that jaxpr. Its values come from running the body
as nested named batches, one per manual mesh axis, which is exactly the semantics of
"every device runs the body on its block" (collectives become reductions, gathers and
permutations along the batch axes): see engine/lax/parallel.py. The program is compiled
once per signature; its outputs are laid out over the mesh as out_specs say.

With check_vma=True (the default) the body's values are typed with the manual mesh
axes they may vary over (``aval.vma``, printed f32[3]{V:i}; engine/lax/parallel.py has
the rules): out_specs are checked against those types, and differentiation follows
them (pvary and psum transpose to each other). With check_vma=False, differentiation
follows pmap-style rules: output cotangents of values replicated over a mesh axis are
divided by its size, and input cotangents are summed over the axes an input is
replicated on. Batching and partial evaluation transform the body jaxpr.

Called outside any transformation, a shard_map runs its body eagerly, op by op, on
every device's block (engine/shard_map_eager.py), as JAX does.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import sdy

from . import core, tree_util
from .core import ClosedJaxpr, Primitive
from .interpreters import batching, lowering
from .interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr
from .sharding import AbstractMesh, Mesh, NamedSharding, P, PartitionSpec, spmd
from .sharding.constraint import current_lowering_mesh
from .sharding.mesh import get_mesh

__all__ = ["shard_map", "smap", "shard_map_p"]


# ---------------------------------------------------------------------------- specs


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


# ---------------------------------------------------------------------------- variance


def _check_out_vma(f, mesh, manual, out_vmas: Sequence[frozenset], out_specs) -> None:
    """JAX's check_vma: an out_spec may leave out a manual mesh axis (claim the output is
    the same on every member along it) only where the output's type is invariant over
    that axis."""
    for spec, varying in zip(out_specs, out_vmas):
        unmentioned = [a for a in mesh.axis_names if a in manual and a not in _spec_names(spec)]
        bad = [a for a in unmentioned if a in varying]
        if not bad:
            continue
        if len(unmentioned) > 1:
            detail = (
                f"out_specs is {spec} which implies that the corresponding output value is "
                f"only varying across mesh axes {{{','.join(map(str, _spec_names(spec)))}}} "
                f"and not {{{','.join(map(str, bad))}}}, but it was inferred to be possibly "
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


# ---------------------------------------------------------------------------- the API


class _TracingBody(threading.local):
    def __init__(self) -> None:
        self.mesh: Any = None  # the mesh of the shard_map whose body is being traced


_tracing = _TracingBody()


class _Infer:
    """in_specs' default: the specs of the arguments' shardings (Explicit meshes only)."""

    def __repr__(self) -> str:
        return "Infer"


Infer = _Infer()


def shard_map(
    f: Callable | None = None,
    /,
    *,
    out_specs: Any,
    in_specs: Any = Infer,
    mesh: Mesh | AbstractMesh | None = None,
    axis_names: Any = frozenset(),
    check_vma: bool = True,
) -> Any:
    """Map ``f`` over blocks of its arguments laid out over ``mesh`` by ``in_specs``;
    its results' blocks are put together by ``out_specs``. Inside, collectives
    (``lax.psum`` and friends) act over the mesh axes named in ``axis_names`` (all of
    them by default)."""
    if f is None:
        return lambda g: shard_map(
            g,
            out_specs=out_specs,
            in_specs=in_specs,
            mesh=mesh,
            axis_names=axis_names,
            check_vma=check_vma,
        )
    if not callable(f):
        raise TypeError(
            f"shard_map requires a callable for its first argument, but got {f} of type {type(f)}."
        )

    def resolve(args):
        """The mesh, its manual axes and the arguments with their specs, checked."""
        the_mesh, manual = _mesh_and_axes(mesh, axis_names)
        explicit = _all_explicit(the_mesh, manual)
        if in_specs is Infer and not explicit:
            types = ", ".join(str(_axis_type(the_mesh, a)) for a in sorted(manual, key=str))
            raise TypeError(
                "shard_map in_specs argument must be a pytree of `jax.sharding.PartitionSpec` "
                f"instances, but it was `None` when axis_names={manual} are of type {types}"
            )
        if in_specs is not Infer:
            _check_specs("in", in_specs, manual)
        _check_specs("out", out_specs, manual)
        all_flat, in_tree = tree_util.tree_flatten(args)
        if in_specs is Infer:
            if any(core.is_tracer(x) and x.aval.sharding is None for x in all_flat):
                raise NotImplementedError(
                    "shard_map without in_specs on a traced argument whose type carries no "
                    "sharding (made by an operation with no sharding rule in the engine): "
                    "pass in_specs= (e.g. the specs the arguments were device_put with)"
                )
            all_specs = [_manual_spec(_input_spec(x), manual) for x in all_flat]
        else:
            all_specs = _broadcast_specs("in", in_specs, args)
            if explicit and manual == frozenset(the_mesh.axis_names):
                _check_explicit_inputs(all_flat, all_specs)
        _refuse_unreduced(all_flat, all_specs, out_specs)
        flat = [x for x, s in zip(all_flat, all_specs) if s is not None]
        specs_flat = [s for s in all_specs if s is not None]
        avals = [core.get_aval(x) for x in flat]
        _check_rank("in", f, specs_flat, avals)
        _check_divisible(f, the_mesh, specs_flat, avals)
        return the_mesh, manual, all_flat, in_tree, all_specs, flat, specs_flat, avals

    def prepare(resolved):
        """(inputs, shard_map_p's params, output tree): the body traced on one block."""
        the_mesh, manual, all_flat, in_tree, all_specs, flat, specs_flat, avals = resolved
        sizes = dict(the_mesh.shape)
        block_avals = [  # (a block's type carries no sharding: its axes are Manual)
            a.update(
                shape=_block_shape(a.shape, s, sizes),
                # a value varies over the axes its spec splits it on, and (in a nested
                # shard_map) over the enclosing body's axes it already varied over
                vma=a.vma | frozenset(_spec_names(s)) if check_vma else frozenset(),
                sharding=None,
            )
            for a, s in zip(avals, specs_flat)
        ]
        out_info: dict[str, Any] = {}

        def body(*blocks):
            it = iter(blocks)
            leaves = [x if s is None else next(it) for x, s in zip(all_flat, all_specs)]
            outs = f(*tree_util.tree_unflatten(in_tree, leaves))
            out_flat, out_tree = tree_util.tree_flatten(outs)
            out_info["tree"] = out_tree
            out_info["specs"] = specs = _broadcast_specs("out", out_specs, outs)
            if check_vma:
                out_flat = [par.vary_to_spec(x, sp) for x, sp in zip(out_flat, specs)]
            return out_flat

        from .lax import parallel as par

        frames = [(a, sizes[a]) for a in the_mesh.axis_names if a in manual]
        outer = _tracing.mesh
        if outer is not None and outer != the_mesh:
            raise ValueError(
                f"The context mesh {outer!r} should match the mesh passed to shard_map "
                f"{the_mesh!r} (a shard_map inside another runs on the same mesh)"
            )
        _tracing.mesh = the_mesh
        try:
            with (
                batching.extend_axis_env(frames),
                par.manual_axes_context(
                    manual | par.enclosing_manual_axes(), check_vma, the_mesh.axis_names
                ),
            ):
                jaxpr = trace_to_jaxpr(body, block_avals, f"shmap_body({_fun_name(f)})")
        finally:
            _tracing.mesh = outer
        outs_specs = tuple(out_info["specs"])
        _check_rank("out", f, outs_specs, jaxpr.out_avals)
        if check_vma:
            _check_out_vma(f, the_mesh, manual, [a.vma for a in jaxpr.out_avals], outs_specs)
        jaxpr, consts = convert_constvars_to_invars(jaxpr)
        params = dict(
            jaxpr=jaxpr,
            mesh=the_mesh,
            in_specs=(P(),) * len(consts) + tuple(specs_flat),
            out_specs=outs_specs,
            manual_axes=tuple(a for a in the_mesh.axis_names if a in manual),
            check_vma=check_vma,
            printed_mesh=_printed_mesh(the_mesh, par.enclosing_manual_axes())
            if mesh is None
            else None,
        )
        return list(consts) + flat, params, out_info["tree"]

    def wrapped(*args):
        resolved = resolve(args)
        the_mesh, manual, all_flat, in_tree, all_specs = resolved[:5]
        if _runs_eagerly(the_mesh, all_flat):
            from .shard_map_eager import run_eagerly

            return run_eagerly(
                f, the_mesh, manual, check_vma, all_flat, in_tree, all_specs, out_specs
            )
        ins, params, out_tree = prepare(resolved)
        return tree_util.tree_unflatten(out_tree, shard_map_p.bind(*ins, **params))

    # (its program: jit(shard_map(...)).lower(*args), partitioned over the mesh as JAX's)
    wrapped.__name__ = _fun_name(f)
    wrapped.__wrapped__ = f  # type: ignore[attr-defined]
    return wrapped


def _printed_mesh(mesh: Any, enclosing_manual: frozenset) -> AbstractMesh:
    """What a jaxpr shows for a shard_map given its mesh by the context (JAX's param is
    the abstract mesh, on which an enclosing shard_map's axes are Manual)."""
    from .sharding import AxisType

    am = mesh.abstract_mesh
    if not enclosing_manual:
        return am
    types = [
        AxisType.Manual if n in enclosing_manual else t
        for n, t in zip(am.axis_names, am.axis_types)
    ]
    return AbstractMesh(
        am.axis_sizes,
        am.axis_names,
        tuple(types),
        _device_kind=am._device_kind,
        _platform=am._platform,
    )


def _runs_eagerly(mesh: Any, args: Sequence[Any]) -> bool:
    """A shard_map called outside any transformation, on a mesh of devices, runs its
    body eagerly (as JAX does); under jit, grad, vmap, ... it is traced."""
    from . import runtime

    here = runtime.process_index()
    return (
        type(core.current_trace()) is core.EvalTrace
        and isinstance(mesh, Mesh)
        and _tracing.mesh is None
        and not any(core.is_tracer(x) for x in args)
        # over several processes each runs its own devices' part: the compiled program
        and all(getattr(d, "process_index", here) == here for d in mesh.devices.flat)
    )


def smap(
    f: Callable | None = None, /, *, in_axes: Any = Infer, out_axes: Any, axis_name: Any
) -> Any:
    """shard_map over one axis of the context mesh, with vmap-style ``in_axes`` and
    ``out_axes`` (the position of the split axis; None: replicated)."""
    if f is None:
        return lambda g: smap(g, in_axes=in_axes, out_axes=out_axes, axis_name=axis_name)
    if isinstance(axis_name, (list, tuple)):
        raise TypeError(f"smap axis_name should be a `str` or a `Hashable`, but got {axis_name}")
    if in_axes is not None and in_axes is not Infer and not isinstance(in_axes, (int, tuple)):
        raise TypeError(
            "smap in_axes must be an int, None, jax.sharding.Infer, or a tuple of entries "
            f"corresponding to the positional arguments passed to the function, but got {in_axes}."
        )
    if in_axes is not Infer and not all(
        isinstance(leaf, int) for leaf in tree_util.tree_leaves(in_axes)
    ):
        raise TypeError(
            "smap in_axes must be an int, None, jax.sharding.Infer, or (nested) container "
            f"with those types as leaves, but got {in_axes}."
        )
    if not all(isinstance(leaf, int) for leaf in tree_util.tree_leaves(out_axes)):
        raise TypeError(
            "smap out_axes must be an int, None, or (nested) container with those types as "
            f"leaves, but got {out_axes}."
        )

    def to_spec(axis):
        return P() if axis is None else P(*([None] * axis + [axis_name]))

    is_none = lambda x: x is None  # noqa: E731
    in_specs = Infer if in_axes is Infer else tree_util.tree_map(to_spec, in_axes, is_leaf=is_none)
    out_specs = tree_util.tree_map(to_spec, out_axes, is_leaf=is_none)
    return shard_map(
        f, in_specs=in_specs, out_specs=out_specs, axis_names={axis_name}, check_vma=True
    )


def _axis_type(mesh: Any, name: Any) -> Any:
    return dict(zip(mesh.axis_names, mesh.axis_types))[name]


def _all_explicit(mesh: Any, manual: frozenset) -> bool:
    from .sharding import AxisType

    return all(_axis_type(mesh, a) == AxisType.Explicit for a in manual)


def _input_spec(x: Any) -> PartitionSpec:
    """The spec of an argument's sharding (P() for one on a single device); a traced
    argument's is the sharding in its type (Explicit axes)."""
    sharding = x.aval.sharding if core.is_tracer(x) else getattr(x, "sharding", None)
    spec = getattr(sharding, "spec", None)
    return spec if isinstance(spec, PartitionSpec) else P()


def _manual_spec(spec: PartitionSpec, manual: frozenset) -> PartitionSpec:
    out = []
    for d in range(len(spec)):
        names = tuple(a for a in _spec_axes(spec, d) if a in manual)
        out.append(None if not names else names[0] if len(names) == 1 else names)
    return P(*out)


def _padded(spec: PartitionSpec, ndim: int) -> PartitionSpec:
    entries = tuple(spec) + (None,) * (ndim - len(spec))
    return P(*entries, unreduced=spec.unreduced, reduced=spec.reduced)


def _refuse_unreduced(flat: Sequence[Any], in_specs: Sequence[Any], out_specs: Any) -> None:
    """The body's types do not model unreduced or reduced axes (JAX's body sees the
    per-device partial sums typed {U:X} and its psum binds unreduced_psum): refuse rather
    than hand the body the summed value, which psum would count once per device."""
    for x, spec in zip(flat, in_specs):
        if spec is None:
            continue
        typed = _input_spec(x)
        for what, shown in (("in_specs entry", spec), ("argument type", typed)):
            if shown.unreduced or shown.reduced:
                from .sharding.arrays import typeof

                raise NotImplementedError(
                    f"shard_map with an unreduced or reduced {what} ({shown} for an "
                    f"argument of type {typeof(x)}) is not implemented "
                    "in the engine: the body would see the summed value, not each device's "
                    "partial sum. Reshard the argument to a plain layout first (e.g. "
                    "jax.sharding.reshard(x, P(None, None))) and drop unreduced= from in_specs"
                )
    for spec in tree_util.tree_leaves(out_specs, is_leaf=_is_spec):
        if isinstance(spec, PartitionSpec) and (spec.unreduced or spec.reduced):
            raise NotImplementedError(
                f"shard_map with an unreduced or reduced out_specs entry ({spec}) is not "
                "implemented in the engine (JAX casts the body's result with "
                "vary_unreduced_cast); reduce inside the body with psum and use a plain "
                "out_spec"
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


def _mesh_and_axes(mesh: Any, axis_names: Any) -> tuple[Any, frozenset]:
    if mesh is None:
        mesh = get_mesh()
        if mesh is None:
            raise ValueError(
                "The context mesh cannot be empty. Use `jax.set_mesh(mesh)` to enter "
                "into a mesh context"
            )
    if not isinstance(mesh, (Mesh, AbstractMesh)):
        raise TypeError(
            "shard_map requires a `jax.sharding.Mesh` or a `jax.sharding.AbstractMesh` "
            f"instance for its second argument, but got {mesh} of type {type(mesh)}."
        )
    context = get_mesh()
    if context is not None and context is not mesh and _tracing.mesh is None:
        if context.abstract_mesh != mesh.abstract_mesh:
            raise ValueError(
                f"The context mesh {context.abstract_mesh!r} should match the mesh passed "
                f"to shard_map {mesh!r}"
            )
        if isinstance(mesh, AbstractMesh):
            mesh = context  # the devices of the context mesh run it
    if mesh.empty:
        raise ValueError(f"shard_map requires a non-empty mesh. Got {mesh}")
    if not isinstance(axis_names, (set, frozenset)):
        raise TypeError(
            "`axis_names` argument of shard_map should be of type `frozenset` or `set`. "
            f"Got type: {type(axis_names)}"
        )
    manual = frozenset(axis_names) or frozenset(mesh.axis_names)
    if not manual <= set(mesh.axis_names):
        raise ValueError(
            f"jax.shard_map requires axis_names={manual} to be a subset of "
            f"mesh.axis_names={frozenset(mesh.axis_names)}"
        )
    return mesh, manual


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


# ---------------------------------------------------------------------------- the primitive

shard_map_p = Primitive("shard_map", multiple_results=True)
shard_map_p.subjaxprs_rule = lambda p: (p["jaxpr"],)


class _Shown:
    """A param value printed as given text (JAX's spelling of the mesh and axes)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _pp_shard_map(p: dict) -> dict:
    mesh = p["mesh"]
    mesh = p.get("printed_mesh") or mesh
    short = getattr(mesh, "_short_repr", None)
    axes = ", ".join(repr(a) for a in p["manual_axes"])
    return {
        "check_vma": p["check_vma"],
        "in_specs": p["in_specs"],
        "jaxpr": p["jaxpr"],
        "mesh": _Shown(short()) if short else mesh,
        "newly_manual_axes": _Shown(f"frozenset({{{axes}}})"),
        "out_specs": p["out_specs"],
    }


shard_map_p.pp_params = _pp_shard_map


@shard_map_p.def_abstract_eval
def _shard_map_abstract_eval(*avals, jaxpr, mesh, in_specs, out_specs, **params):
    sizes = dict(mesh.shape)
    return [
        a.update(shape=_global_shape(a.shape, s, sizes), vma=a.vma - set(params["manual_axes"]))
        for a, s in zip(jaxpr.out_avals, out_specs)
    ]


def _to_blocks(x: Any, spec: PartitionSpec, manual: Sequence[Any], sizes: dict):
    """x (global) -> (array whose leading axes are the manual mesh axes its spec names,
    in mesh order, then one block's axes; those mesh axes)."""
    from . import lax

    shape = core.get_aval(x).shape
    split_shape: list[int] = []
    where: dict[Any, int] = {}
    for d, n in enumerate(shape):
        names = _spec_axes(spec, d)
        for a in names:
            where[a] = len(split_shape)
            split_shape.append(sizes[a])
        split_shape.append(n // math.prod(sizes[a] for a in names))
    named = [a for a in manual if a in where]
    if not named:
        return x, named
    lead = [where[a] for a in named]
    rest = [i for i in range(len(split_shape)) if i not in lead]
    y = lax.reshape(x, tuple(split_shape))
    return lax.transpose(y, tuple(lead + rest)), named


def _from_blocks(y: Any, spec: PartitionSpec, manual: Sequence[Any], sizes: dict):
    """The inverse of _to_blocks for an output batched over every manual axis (leading,
    in mesh order): replicated axes keep member 0's value; named ones are concatenated."""
    from . import lax

    mentioned = _spec_names(spec)
    for i in reversed(range(len(manual))):
        if manual[i] not in mentioned:
            y = lax.index_in_dim(y, 0, i, keepdims=False)
    lead = [a for a in manual if a in mentioned]
    block = core.get_aval(y).shape[len(lead) :]
    perm, merged = [], []
    for d, n in enumerate(block):
        names = _spec_axes(spec, d)
        perm += [lead.index(a) for a in names] + [len(lead) + d]
        merged.append(n * math.prod(sizes[a] for a in names))
    if not lead:
        return y
    return lax.reshape(lax.transpose(y, tuple(perm)), tuple(merged))


def _run_body(args, *, jaxpr, mesh, in_specs, out_specs, manual_axes):
    """Every member's body at once: one named batch axis per manual mesh axis."""
    sizes = dict(mesh.shape)
    blocked = [_to_blocks(x, s, manual_axes, sizes) for x, s in zip(args, in_specs)]
    vals = [b for b, _ in blocked]
    named = [n for _, n in blocked]
    n_out = len(jaxpr.out_avals)

    def level(k, *xs):
        if k == len(manual_axes):
            return core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *xs)
        axis = manual_axes[k]
        dims = [0 if axis in nm else None for nm in named]
        return batching.batch_flat(
            lambda *ys: level(k + 1, *ys), sizes[axis], xs, dims, [0] * n_out, axis
        )

    outs = level(0, *vals)
    return [_from_blocks(y, s, manual_axes, sizes) for y, s in zip(outs, out_specs)]


_compiled: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()


def _program(params: dict) -> ClosedJaxpr:
    """The whole shard_map as one jaxpr on global arrays (cached per body and specs)."""
    key = (params["mesh"], params["in_specs"], params["out_specs"], params["manual_axes"])
    per = _compiled.setdefault(params["jaxpr"], {})
    closed = per.get(key)
    if closed is None:
        sizes = dict(params["mesh"].shape)
        in_avals = [
            a.update(shape=_global_shape(a.shape, s, sizes))
            for a, s in zip(params["jaxpr"].in_avals, params["in_specs"])
        ]
        body_params = {k: v for k, v in params.items() if k not in ("check_vma", "printed_mesh")}
        closed = trace_to_jaxpr(
            lambda *xs: _run_body(xs, **body_params),
            in_avals,
            params["jaxpr"].jaxpr.debug_name,
        )
        per[key] = closed
    return closed


@shard_map_p.def_impl
def _shard_map_impl(*args, **params):
    mesh = params["mesh"]
    if isinstance(mesh, Mesh):
        return _run_spmd(args, params)
    from .jit import bind_jit

    program = _program(params)
    program, consts = convert_constvars_to_invars(program)
    return bind_jit(consts + list(args), program, "shard_map")


class _LoweringMode(threading.local):
    def __init__(self) -> None:
        self.spmd = False


_mode = _LoweringMode()


@shard_map_p.def_lowering
def _shard_map_lowering(ctx, *args, **params):
    # a module lowered for the mesh (shard_map's own program, or a jit partitioned over
    # it: engine/sharding/constraint.py) gets the manual computation itself
    if _mode.spmd or current_lowering_mesh() == params["mesh"]:
        return _manual_computation(ctx, args, **params)
    # inside another program compiled for one device: every member's body at once
    return lowering.call_function(ctx, _program(params), "shmap_body", args)


# ---------------------------------------------------------------------------- SPMD


def _sdy_sharding(spec: PartitionSpec, ndim: int) -> str:
    dims = ", ".join(
        "{" + ", ".join(f'"{a}"' for a in _spec_axes(spec, d)) + "}" for d in range(ndim)
    )
    return f"<@{spmd.MESH_NAME}, [{dims}]>"


def _per_value(specs, avals) -> ir.Attribute:
    items = ", ".join(_sdy_sharding(s, a.ndim) for s, a in zip(specs, avals))
    return ir.Attribute.parse(f"#sdy.sharding_per_value<[{items}]>")


def _manual_computation(ctx, args, *, jaxpr, mesh, in_specs, out_specs, manual_axes, **_):
    """``sdy.manual_computation``: XLA splits the arguments as in_specs say, runs the body
    on each device's blocks (collectives across devices) and puts the results together
    as out_specs say, as JAX 0.10.2 lowers shard_map with Shardy."""
    from .lax import parallel_lowering

    manual = ", ".join(f'"{a}"' for a in manual_axes)
    op = sdy.ManualComputationOp(
        [lowering.ir_type(a) for a in ctx.avals_out],
        list(args),
        _per_value(in_specs, ctx.avals_in),
        _per_value(out_specs, ctx.avals_out),
        ir.Attribute.parse(f"#sdy<manual_axes{{{manual}}}>"),
    )
    block = op.regions[0].blocks.append(*[lowering.ir_type(a) for a in jaxpr.in_avals])
    with ir.InsertionPoint(block), parallel_lowering.spmd_lowering(mesh, manual_axes):
        consts = [lowering.constant(np.asarray(c), core.get_aval(c)) for c in jaxpr.consts]
        outs = lowering.jaxpr_subcomp(
            ctx.module_ctx, jaxpr.jaxpr, consts, list(block.arguments), ctx.eqn_path
        )
        sdy.ReturnOp(outs)
    return list(op.results)


# (body's text, params) -> (module text, executable, out avals). A shard_map called
# eagerly traces its body on each call (closed-over values may change); its program is
# compiled once per distinct body and layout.
_spmd_programs: dict[Any, tuple] = {}
_SPMD_CACHE_SIZE = 64


def spmd_module_text(params: dict) -> str:
    """The StableHLO module (Shardy-annotated) that runs a shard_map over its mesh."""
    return _spmd_program(params)[0]


def _spmd_program(params: dict):
    jaxpr = params["jaxpr"]
    key = (str(jaxpr), tuple(map(str, jaxpr.in_avals)), tuple(map(str, jaxpr.out_avals)))
    key += tuple((k, v) for k, v in params.items() if k != "jaxpr")
    entry = _spmd_programs.get(key)
    if entry is None:
        from . import runtime

        mesh, in_specs, out_specs = params["mesh"], params["in_specs"], params["out_specs"]
        sizes = dict(mesh.shape)
        in_avals = [
            a.update(shape=_global_shape(a.shape, s, sizes))
            for a, s in zip(params["jaxpr"].in_avals, in_specs)
        ]
        outer = trace_to_jaxpr(
            lambda *xs: shard_map_p.bind(*xs, **params),
            in_avals,
            params["jaxpr"].jaxpr.debug_name,
        )
        _mode.spmd, prev = True, _mode.spmd
        try:
            module, mctx, _ = lowering.lower_jaxpr_with_info(outer, "main")
        finally:
            _mode.spmd = prev
        with mctx:
            spmd.annotate_module(
                module,
                mesh,
                in_specs,
                [a.ndim for a in in_avals],
                out_specs,
                [a.ndim for a in outer.out_avals],
            )
            text = lowering.module_to_text(module)
        # XLA runs host callbacks (debug.print) on one device only: such bodies run as
        # every member's body at once on one device, then are laid out over the mesh
        exe = (
            None
            if runtime.HOST_CALLBACKS_ATTR in text
            else runtime.compile_spmd(text, mesh._group, outer.out_avals)
        )
        if len(_spmd_programs) >= _SPMD_CACHE_SIZE:
            del _spmd_programs[next(iter(_spmd_programs))]
        entry = _spmd_programs[key] = (text, exe, outer.out_avals)
    return entry


def _run_spmd(args, params):
    from .sharding.arrays import put, wrap

    _, exe, out_avals = _spmd_program(params)
    mesh = params["mesh"]
    if exe is None:
        from .jit import bind_jit

        program, consts = convert_constvars_to_invars(_program(params))
        outs = bind_jit(consts + list(args), program, "shard_map")
        return [put(o, NamedSharding(mesh, s)) for o, s in zip(outs, params["out_specs"])]
    placed = [put(x, NamedSharding(mesh, s)) for x, s in zip(args, params["in_specs"])]
    outs = exe([x._buf for x in placed])
    return [
        wrap(b, a, mesh._group, NamedSharding(mesh, s))
        for b, a, s in zip(outs, out_avals, params["out_specs"])
    ]


# JVP, partial evaluation, transposition and batching of shard_map_p
from . import shard_map_rules  # noqa: E402,F401
