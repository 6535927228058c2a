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

Over an Explicit mesh, an in_spec (or argument type) with ``unreduced={'X'}`` hands the
body each device's partial sum, typed {U:X} (its sharding's spec, over the body's mesh
where the manual axes are Manual); psum over X then binds unreduced_psum, an out_spec
with unreduced casts a varying result with vary_unreduced_cast_p, and pcast moves
between invariant, varying, reduced and unreduced (engine/lax/parallel_vma.py). Their
cotangents swap unreduced and reduced. Run as nested batches, an unreduced block is
held whole by member 0 (the others hold zeros) and an unreduced result is the sum of
the members'. A partial-manual body keeps the Explicit axes it does not make manual in
its types (f32[2,6@Y]{V:X}).

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
from .shard_map_checks import (  # noqa: F401  (re-exported: the rules and eager use them)
    _axis_type,
    _block_aval,
    _block_shape,
    _broadcast_specs,
    _check_divisible,
    _check_explicit_inputs,
    _check_out_vma,
    _check_rank,
    _check_specs,
    _check_unreduced,
    _fun_name,
    _global_shape,
    _input_spec,
    _is_spec,
    _padded,
    _spec_axes,
    _spec_names,
)
from .sharding import AbstractMesh, Mesh, NamedSharding, P, PartitionSpec, spmd
from .sharding.constraint import current_lowering_mesh
from .sharding.in_types import use_abstract_mesh
from .sharding.mesh import get_mesh

__all__ = ["shard_map", "smap", "shard_map_p"]


# ---------------------------------------------------------------------------- the API
# (specs and their checks: engine/shard_map_checks.py)


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
            _check_unreduced("in", the_mesh, manual, in_specs)
        _check_specs("out", out_specs, manual)
        _check_unreduced("out", the_mesh, manual, out_specs)
        all_flat, in_tree = tree_util.tree_flatten(args)
        if in_specs is Infer:
            if any(core.is_tracer(x) and x.aval.sharding is None for x in all_flat):
                raise NotImplementedError(
                    "shard_map without in_specs on a traced argument whose type carries no "
                    "sharding (made by an operation with no sharding rule in the engine): "
                    "pass in_specs= (e.g. the specs the arguments were device_put with)"
                )
            all_specs = [_manual_spec(_input_spec(x), manual) for x in all_flat]
            _check_unreduced("in", the_mesh, manual, all_specs)
        else:
            all_specs = _broadcast_specs("in", in_specs, args)
            if explicit and manual == frozenset(the_mesh.axis_names):
                _check_explicit_inputs(all_flat, all_specs)
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
        from .lax import parallel as par

        all_manual = manual | par.enclosing_manual_axes()
        body_mesh = _printed_mesh(the_mesh, all_manual)
        block_avals = [
            _block_aval(a, s, sizes, check_vma, body_mesh, all_manual)
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
                par.manual_axes_context(all_manual, check_vma, the_mesh.axis_names, body_mesh),
                # (the body's ambient mesh, as JAX's: its manual axes Manual)
                use_abstract_mesh(body_mesh),
            ):
                jaxpr = trace_to_jaxpr(body, block_avals, f"shmap_body({_fun_name(f)})")
        finally:
            _tracing.mesh = outer
        outs_specs = tuple(out_info["specs"])
        _check_rank("out", f, outs_specs, jaxpr.out_avals)
        if check_vma:
            _check_out_vma(f, the_mesh, manual, jaxpr.out_avals, outs_specs)
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


def _all_explicit(mesh: Any, manual: frozenset) -> bool:
    from .sharding import AxisType

    return all(_axis_type(mesh, a) == AxisType.Explicit for a in manual)


def _manual_spec(spec: PartitionSpec, manual: frozenset) -> PartitionSpec:
    out = []
    for d in range(len(spec)):
        names = tuple(a for a in _spec_axes(spec, d) if a in manual)
        out.append(None if not names else names[0] if len(names) == 1 else names)
    return P(*out, unreduced=spec.unreduced, reduced=spec.reduced)


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
    outs = [
        a.update(
            shape=_global_shape(a.shape, s, sizes),
            vma=a.vma - set(params["manual_axes"]),
            sharding=None,
        )
        for a, s in zip(jaxpr.out_avals, out_specs)
    ]
    # results unreduced/reduced, or split over Explicit axes the body kept (partial
    # manual), are typed here; the others by the sharding rule from out_specs alone
    if any(a.sharding is not None for a in jaxpr.out_avals) or any(
        s.unreduced or s.reduced for s in out_specs
    ):
        from .lax import parallel as par

        outer = _printed_mesh(mesh, par.enclosing_manual_axes())
        outs = [
            o.update(sharding=_unsharded_type(outer, s, a))
            for o, a, s in zip(outs, jaxpr.out_avals, out_specs)
        ]
    return outs


def _unsharded_type(outer: Any, spec: PartitionSpec, body_aval: Any) -> Any:
    """A result's type sharding: split over its out_spec's axes and the Explicit axes its
    body type was split over, unreduced/reduced as its out_spec says (JAX's)."""
    from .sharding.in_types import type_sharding

    full = result_spec(spec, body_aval)
    return type_sharding(NamedSharding(outer, full), body_aval.ndim)


def result_spec(spec: PartitionSpec, body_aval: Any) -> PartitionSpec:
    """A result's layout: its out_spec's axes, then the Explicit axes its body type is
    split over (a partial-manual body's)."""
    body = body_aval.sharding
    if body is None:
        return spec
    entries = []
    for d in range(body_aval.ndim):
        axes = _spec_axes(spec, d) + tuple(body.spec._axes_of(d))
        entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return P(*entries, unreduced=spec.unreduced, reduced=spec.reduced)


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
    y = x
    if named:
        lead = [where[a] for a in named]
        rest = [i for i in range(len(split_shape)) if i not in lead]
        y = lax.transpose(lax.reshape(x, tuple(split_shape)), tuple(lead + rest))
    # a value unreduced over a manual axis: member 0 holds it all, the others zeros (each
    # member's share of the sum)
    for a in [a for a in manual if a in spec.unreduced]:
        i = sum(1 for b in named if manual.index(b) < manual.index(a))
        y = lax.expand_dims(y, (i,))
        config = [(0, 0, 0)] * core.get_aval(y).ndim
        config[i] = (0, sizes[a] - 1, 0)
        y = lax.pad(y, lax.full((), 0, core.get_aval(y).dtype), config)
        named.insert(i, a)
    return y, named


def _from_blocks(y: Any, spec: PartitionSpec, manual: Sequence[Any], sizes: dict):
    """The inverse of _to_blocks for an output batched over every manual axis (leading,
    in mesh order): replicated axes keep member 0's value; named ones are concatenated."""
    from . import lax

    mentioned = _spec_names(spec)
    for i in reversed(range(len(manual))):
        if manual[i] in spec.unreduced:  # the members' shares summed
            y = lax.reduce_sum(y, (i,))
        elif manual[i] not in mentioned:
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


def _sdy_sharding(spec: PartitionSpec, ndim: int, mesh: Any = None) -> str:
    dims = ", ".join(
        "{" + ", ".join(f'"{a}"' for a in _spec_axes(spec, d)) + "}" for d in range(ndim)
    )
    extra = ""
    if spec.unreduced:
        order = list(mesh.axis_names) if mesh is not None else sorted(spec.unreduced, key=str)
        names = [a for a in order if a in spec.unreduced]
        extra = ", unreduced={" + ", ".join(f'"{a}"' for a in names) + "}"
    return f"<@{spmd.MESH_NAME}, [{dims}]{extra}>"


def _per_value(specs, avals, mesh=None) -> ir.Attribute:
    # (typed keys: the sharding of their data, whose key axes are unsplit)
    avals = [core.physical_aval(a) for a in avals]
    items = ", ".join(_sdy_sharding(s, a.ndim, mesh) for s, a in zip(specs, avals))
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
        _per_value(in_specs, ctx.avals_in, mesh),
        _per_value(out_specs, ctx.avals_out, mesh),
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
