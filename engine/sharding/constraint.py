"""``lax.with_sharding_constraint`` and ``reshard``: pin an intermediate value's layout.

Inside a partitioned jit the ``sharding_constraint`` equation lowers to Shardy's
``sdy.sharding_constraint`` (as JAX 0.10.2 lowers it); eagerly it moves the value to the
layout. A jitted function with a constraint and no sharded input runs over the
constraint's mesh, as in JAX."""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from jaxlib.mlir import ir
from jaxlib.mlir.dialects import sdy

from .. import core, tree_util
from ..core import Primitive
from ..interpreters.jvp import deflinear
from .mesh import AbstractMesh, AxisType, Mesh, get_mesh
from .named import UNCONSTRAINED, NamedSharding, PartitionSpec, check_rank, spec_from_hlo

sharding_constraint_p = Primitive("sharding_constraint")
# jax.reshard: the same layout change, a primitive of its own as in JAX's jaxprs (whose
# printer leaves out its sharding: the result's type shows it)
reshard_p = Primitive("reshard")
reshard_p.pp_params = lambda p: {}
sharding_constraint_p.pp_params = lambda p: {
    "layout": None,
    "sharding": p["sharding"],
    "unconstrained_dims": frozenset(),
}


def _as_sharding(s, what: str) -> NamedSharding:
    if isinstance(s, PartitionSpec):
        from .in_types import concrete_mesh_for, context_abstract_mesh

        abstract = context_abstract_mesh()
        mesh = get_mesh() if abstract is None else concrete_mesh_for(abstract)
        if mesh is None:
            raise ValueError(
                f"{what} got the PartitionSpec {s!r} but no mesh is set: use "
                "jax.set_mesh(mesh) or pass NamedSharding(mesh, spec)"
            )
        return NamedSharding(mesh, s)
    if not isinstance(s, NamedSharding):
        raise NotImplementedError(f"{what} with a sharding other than NamedSharding: {s!r}")
    return on_context_mesh(s)


def on_context_mesh(s: NamedSharding) -> NamedSharding:
    """A NamedSharding over an AbstractMesh placed on the concrete mesh in context (as
    JAX resolves one under ``set_mesh``); with none, it stays abstract: the program
    it is in (or the value it constrains) supplies the devices."""
    if isinstance(s.mesh, Mesh) or get_mesh() is None:
        return s
    from .in_types import concrete_mesh_for

    return NamedSharding(concrete_mesh_for(s.mesh), s.spec)


def _on_value_mesh(x, s: NamedSharding) -> NamedSharding:
    """Eagerly, an abstract-mesh sharding is placed on the mesh of the array it
    constrains (JAX's sharding_constraint impl): its errors where that cannot be."""
    if isinstance(s.mesh, Mesh):
        return s
    s = on_context_mesh(s)
    if isinstance(s.mesh, Mesh):
        return s
    aval = core.get_aval(x)
    shape = f"{aval.dtype.name}[{','.join(map(str, aval.shape))}]"
    have = getattr(x, "sharding", None)
    if have is None or isinstance(x, core.Tracer):
        raise ValueError(
            "Target sharding contains a `jax.sharding.AbstractMesh` which requires the input "
            f"passed should be a `jax.Array`. Got {type(x)} with shape {shape}"
        )
    if not isinstance(have, NamedSharding) or not isinstance(have.mesh, Mesh):
        raise TypeError(
            "The sharding on the input must be a `NamedSharding` since the target sharding "
            f"has an `AbstractMesh` in it. Got sharding type {type(have)} for shape "
            f"{shape}"
        )
    if have.mesh.shape_tuple != s.mesh.shape_tuple:
        raise ValueError(
            f"Mesh shape of the input {have.mesh.shape_tuple} does not match the mesh shape "
            f"of the target sharding {s.mesh.shape_tuple} for shape {shape}"
        )
    mesh = have.mesh
    if mesh.axis_types != s.mesh.axis_types:
        mesh = Mesh(mesh.devices, mesh.axis_names, s.mesh.axis_types)
    return NamedSharding(mesh, s.spec)


def _device_assignment_error(aval, sharding: NamedSharding, devices: int = 1) -> ValueError:
    """JAX's error for a value typed over an all-Explicit mesh whose size is not the
    program's device count (one: no mesh in context and no sharded input)."""
    mesh = sharding.mesh
    names = ", ".join(repr(a) for a in mesh.axis_names)
    names = f"({names},)" if len(mesh.axis_names) == 1 else f"({names})"
    return ValueError(
        f"Length of device assignment {devices} is not equal to the size of the mesh "
        f"{mesh.size} of aval {aval.str_short()}({{Explicit: {names}}}). Please enter your "
        "`jit` into a mesh context via `jax.set_mesh`."
    )


def canonicalize_sharding(sharding: Any, api_name: str) -> NamedSharding | None:
    """An ``out_sharding=`` argument as JAX's APIs take it (einsum, dot_general): None, a
    NamedSharding over the mesh in context, or a PartitionSpec over that mesh; every axis
    it names must be Explicit there."""
    from .in_types import _current_abstract

    if sharding is None or (isinstance(sharding, NamedSharding) and sharding.mesh.empty):
        return None
    if not isinstance(sharding, (NamedSharding, PartitionSpec)):
        raise TypeError(
            f"`out_sharding` argument of {api_name} only supports instances of "
            f"`NamedSharding` or `PartitionSpec`. Got {sharding} of type: {type(sharding)}"
        )
    current = _current_abstract()
    if isinstance(sharding, PartitionSpec):
        if current.empty:
            raise ValueError(
                "Using PartitionSpec when you are not under a mesh context is not allowed. "
                "Please pass a NamedSharding instance or enter into a mesh context via "
                f"`jax.set_mesh`. Got {sharding}"
            )
        sharding = _as_sharding(sharding, api_name)
    else:
        given = sharding.mesh.abstract_mesh
        all_auto = all(t == AxisType.Auto for t in given.axis_types + current.axis_types)
        if not all_auto and not current.empty and given != current:
            raise ValueError(
                f"Context mesh {current} should match the mesh of sharding {given} passed "
                f"to {api_name}."
            )
    types = dict(zip(sharding.mesh.axis_names, sharding.mesh.axis_types))
    spec = sharding.spec
    for axis in [*spec._used_axes(), *sorted(spec.unreduced), *sorted(spec.reduced)]:
        if types.get(axis) in (AxisType.Auto, AxisType.Manual):
            raise ValueError(
                f"PartitionSpec passed to {api_name} cannot contain axis names that are of "
                f"type Auto or Manual. Got PartitionSpec: {spec} with axis name: {axis} of "
                f"type: AxisType.{types[axis].name}."
            )
    return sharding


def check_type_divisible(sharding: NamedSharding, shape: tuple) -> None:
    """Raise JAX's error when a result typed ``sharding`` cannot split ``shape`` evenly."""
    sizes = dict(zip(sharding.mesh.axis_names, sharding.mesh.axis_sizes))
    for dim, n in enumerate(shape[: len(sharding.spec)]):
        axes = sharding.spec._axes_of(dim)
        if not axes:
            continue
        parts = 1
        for a in axes:
            parts *= sizes[a]
        if n % parts:
            raise ValueError(
                f"Sharding spec {axes} implies that array axis {dim} is partitioned {parts} "
                f"times, but does not evenly divide the dimension size {n}. Got shape: "
                f"{tuple(shape)} and sharding NamedSharding(mesh="
                f"{sharding.mesh.abstract_mesh!r}, spec={sharding.spec!r})"
            )


def _check(s: NamedSharding, aval, *, uneven_ok: bool = False):
    """The rank, then (unless ``uneven_ok``) an even split, as JAX checks it: the type
    (its Explicit axes: ValueError 'Sharding spec ... does not evenly divide') before
    the layout (IndivisibleError)."""
    from .in_types import type_sharding
    from .jit_shardings import check_divisible_shape

    shape = tuple(aval.shape)
    check_rank(s, len(shape))
    if uneven_ok:
        return
    typed = type_sharding(s, len(shape))
    if typed is not None:
        typed.shard_shape(shape)
    check_divisible_shape(s, shape)


def with_sharding_constraint(x: Any, shardings: Any) -> Any:
    """``x`` (a pytree) laid out as ``shardings`` (one, or a matching pytree)."""
    leaves, tree = tree_util.tree_flatten(x)
    if isinstance(shardings, (NamedSharding, PartitionSpec)):
        per_leaf = [shardings] * len(leaves)
    else:
        per_leaf = tree_util.tree_leaves(
            shardings, is_leaf=lambda s: isinstance(s, (NamedSharding, PartitionSpec))
        )
        if len(per_leaf) != len(leaves):
            raise ValueError(
                f"with_sharding_constraint got {len(per_leaf)} shardings for {len(leaves)} arrays"
            )
    from .mesh import get_abstract_mesh

    context = get_abstract_mesh()
    all_explicit = not context.empty and all(t == AxisType.Explicit for t in context.axis_types)
    outs = []
    for leaf, s in zip(leaves, per_leaf):
        s = _as_sharding(s, "with_sharding_constraint")
        aval = core.get_aval(leaf)
        # inside a program JAX lets a constraint split unevenly (XLA pads); eagerly the
        # value is put there, which must split evenly
        _check(s, aval, uneven_ok=all_explicit or isinstance(leaf, core.Tracer))
        if all_explicit:
            _assert_same_sharding(aval, s)  # over Explicit axes: an assertion, as JAX
            outs.append(leaf)
            continue
        _check_auto_axes(s)
        outs.append(sharding_constraint_p.bind(leaf, sharding=s))
    return tree_util.tree_unflatten(tree, outs)


def _assert_same_sharding(aval, s: NamedSharding) -> None:
    # (an untyped value under an all-Explicit mesh is replicated there, as JAX types it)
    ndim = len(aval.shape)
    have = aval.sharding.spec if aval.sharding is not None else PartitionSpec(*[None] * ndim)
    want = PartitionSpec(*s.spec._normalized(len(aval.shape)))
    for x, y in zip(have._normalized(len(aval.shape)), want):
        if y is not UNCONSTRAINED and x != y:
            raise AssertionError(
                "`with_sharding_constraint` acts as an assert when all axes of mesh are of "
                f"type `Explicit`. The array sharding: {have} did not match the sharding "
                f"provided: {want}. Please use `jax.sharding.reshard` to shard your input to "
                "the sharding you want."
            )


def _check_auto_axes(s: NamedSharding) -> None:
    types = dict(zip(s.mesh.axis_names, s.mesh.axis_types))
    if any(types[a] != AxisType.Auto for a in s.spec._used_axes()):
        raise ValueError(
            "The spec of NamedSharding passed to with_sharding_constraint can only refer to "
            f"Auto axes of the mesh. Got spec={s.spec} and mesh={s.mesh.abstract_mesh}. You "
            "probably meant to use `reshard` API?"
        )


def constrain(x: Any, sharding: Any) -> Any:
    """``x`` (a pytree) laid out as ``sharding``, its type following it where the mesh's
    axes are Explicit (auto_axes' and explicit_axes' boundary, JAX's mesh_cast)."""
    leaves, tree = tree_util.tree_flatten(x)
    outs = []
    for leaf, s in zip(leaves, _per_leaf(sharding, len(leaves), "out_sharding")):
        s = _as_sharding(s, "out_sharding")
        _check(s, core.get_aval(leaf))
        s = _typed_spec(s, core.get_aval(leaf).ndim)
        outs.append(sharding_constraint_p.bind(leaf, sharding=s))
    return tree_util.tree_unflatten(tree, outs)


def _typed_spec(s: NamedSharding, ndim: int) -> NamedSharding:
    """Over a mesh with Explicit axes a typed result's sharding has one entry per
    dimension (JAX reads it from the type: P('X', None), not P('X',))."""
    if not any(t == AxisType.Explicit for t in s.mesh.axis_types) or len(s.spec) >= ndim:
        return s
    spec = PartitionSpec(*s.spec._normalized(ndim), unreduced=s.spec.unreduced)
    return NamedSharding(s.mesh, spec)


def _per_leaf(shardings: Any, n: int, what: str) -> list:
    """One sharding per leaf: ``shardings`` itself, or the leaves of a matching pytree."""
    if isinstance(shardings, (NamedSharding, PartitionSpec)):
        return [shardings] * n
    leaves = tree_util.tree_leaves(
        shardings, is_leaf=lambda s: isinstance(s, (NamedSharding, PartitionSpec))
    )
    if len(leaves) != n:
        raise ValueError(f"{what} got {len(leaves)} shardings for {n} arrays")
    return leaves


def typed_seed(seed: Any, aval: Any) -> Any:
    """grad's seed cotangent as JAX makes it for a result whose type carries a sharding:
    resharded to that mesh, replicated (its unreduced and reduced axes swapped)."""
    typed = getattr(aval, "sharding", None)
    if typed is None:
        return seed
    from .in_types import concrete_mesh_for

    try:
        mesh = concrete_mesh_for(typed.mesh)
    except ValueError:  # no mesh in context to place it on: left as it is
        return seed
    spec = PartitionSpec(unreduced=typed.spec.reduced, reduced=typed.spec.unreduced)
    return reshard_p.bind(seed, sharding=NamedSharding(mesh, spec))


def _prefix_leaves(shardings: Any, x: Any) -> list:
    """One sharding per leaf of ``x``: ``shardings`` itself, or a tree prefix of ``x``
    whose leaves are shardings (each standing for the leaves below it)."""
    if isinstance(shardings, (NamedSharding, PartitionSpec)):
        return [shardings] * len(tree_util.tree_leaves(x))
    out: list = []

    def spread(s, sub):
        out.extend([s] * len(tree_util.tree_leaves(sub)))

    tree_util.tree_map(
        spread, shardings, x, is_leaf=lambda s: isinstance(s, (NamedSharding, PartitionSpec))
    )
    return out


def apply_out_sharding(x: Any, out_sharding: Any) -> Any:
    """What an ``out_sharding=`` argument (random.normal, matmul with batch axes, ...)
    does where the primitive does not take it: the result is laid out so (eagerly: put
    there) and, over Explicit axes, its type says so."""
    return x if out_sharding is None else constrain(x, out_sharding)


def reshard(x: Any, out_shardings: Any) -> Any:
    """``x`` moved to ``out_shardings``; the mesh axes named must be Explicit (as JAX)."""
    leaves, tree = tree_util.tree_flatten(x)
    outs = []
    for leaf, given in zip(leaves, _prefix_leaves(out_shardings, x)):
        s = _as_sharding(given, "reshard")
        types = dict(zip(s.mesh.axis_names, s.mesh.axis_types))
        for a in s.spec._used_axes():
            if types[a] != AxisType.Explicit:
                raise ValueError(
                    "PartitionSpec passed to reshard cannot contain axis names that are of "
                    f"type Auto or Manual. Got PartitionSpec: {s.spec!r} with axis name: {a} "
                    f"of type: AxisType.{types[a].name}."
                )
        _check(s, core.get_aval(leaf))
        outs.append(reshard_p.bind(leaf, sharding=_typed_spec(s, core.get_aval(leaf).ndim)))
    return tree_util.tree_unflatten(tree, outs)


@sharding_constraint_p.def_impl
def _impl(x, *, sharding):
    from .arrays import put

    return put(x, _open_dims_kept(x, _on_value_mesh(x, sharding)))


def _open_dims_kept(x, s: NamedSharding) -> NamedSharding:
    """Eagerly, an UNCONSTRAINED dimension (a vmapped constraint's batch axis) keeps
    the value's layout there, as XLA's choice for it does under jit."""
    ndim = len(core.get_aval(x).shape)
    parts = list(s.spec._normalized(ndim))
    if not any(p is UNCONSTRAINED for p in parts):
        return s
    have = getattr(x, "sharding", None)
    mine = have.spec if isinstance(have, NamedSharding) and have.mesh == s.mesh else None
    used = {a for d, p in enumerate(parts) if p is not UNCONSTRAINED for a in s.spec._axes_of(d)}
    for d, p in enumerate(parts):
        if p is UNCONSTRAINED:
            axes = mine._axes_of(d) if mine is not None else ()
            parts[d] = axes if axes and not used & set(axes) else None
    return NamedSharding(s.mesh, PartitionSpec(*parts, unreduced=s.spec.unreduced))


@sharding_constraint_p.def_abstract_eval
def _abstract_eval(x, *, sharding):
    from .in_types import typed_aval

    # over Explicit axes the value's type carries the new layout (JAX's reshard);
    # over Auto axes only the compiler sees it
    return typed_aval(x, sharding)


deflinear(
    sharding_constraint_p,
    lambda ct, x, *, sharding: [sharding_constraint_p.bind(ct, sharding=sharding)],
)


@sharding_constraint_p.def_batch
def _batch(size, vals, dims, *, sharding, prim=sharding_constraint_p):
    """The batch axis split over vmap's ``spmd_axis_name`` (a sharding constraint, as
    JAX's) or its Explicit mesh axes (reshard: JAX's get_sharding_for_vmap)."""
    from ..interpreters import batching

    (x,), (d,) = vals, dims
    if d is None:
        return prim.bind(x, sharding=sharding), None
    spmd = batching.current_spmd_axis_name()
    if prim is reshard_p:
        entry = batching.current_explicit_mesh_axis()
    else:  # without spmd_axis_name the batch axis is left to the partitioner
        entry = UNCONSTRAINED if spmd is None else spmd
        if spmd is not None and set(spmd) & set(sharding.spec._used_axes()):
            raise ValueError(
                f"vmap spmd_axis_name {spmd} cannot appear in with_sharding_constraint "
                f"spec, but got spec {sharding.spec}"
            )
    spec = sharding.spec
    parts = list(spec._normalized(len(core.get_aval(x).shape) - 1))
    parts.insert(d, entry)
    new = PartitionSpec(*parts, unreduced=spec.unreduced, reduced=spec.reduced)
    return prim.bind(x, sharding=NamedSharding(sharding.mesh, new)), d


# -- lowering: only a module lowered for a mesh (engine/stages.py sets it) gets the op;
# elsewhere (a one-device program) the constraint is the identity.

_lowering = threading.local()


@contextlib.contextmanager
def lowering_for_mesh(mesh: Mesh | None):
    old = getattr(_lowering, "mesh", None)
    _lowering.mesh = mesh
    try:
        yield
    finally:
        _lowering.mesh = old


def current_lowering_mesh() -> Mesh | None:
    """The mesh the module being lowered is partitioned over (None: one device)."""
    return getattr(_lowering, "mesh", None)


@sharding_constraint_p.def_lowering
def _lower(ctx, x, *, sharding):
    from .spmd import sharding_attr_text

    mesh = getattr(_lowering, "mesh", None)
    if mesh is None:
        return x
    ndim = len(ctx.avals_in[0].shape)
    spec = sharding.spec
    if isinstance(sharding.mesh, AbstractMesh):
        # over the program's mesh (JAX lowers the abstract sharding as it stands)
        if sharding.mesh.shape_tuple != mesh.shape_tuple:
            raise ValueError(
                f"with_sharding_constraint over {sharding.mesh!r} inside a program over "
                f"{mesh!r}: the mesh shapes differ"
            )
    elif sharding.mesh != mesh and tuple(sharding.mesh._flat_devices) != tuple(mesh._flat_devices):
        raise ValueError(
            "Received incompatible devices for jitted computation. Got the program's mesh "
            f"with device ids {[d.id for d in mesh._flat_devices]} on platform CPU and "
            "sharding_constraint inside jit with device ids "
            f"{[d.id for d in sharding.mesh._flat_devices]} on platform CPU"
        )
    elif sharding.mesh != mesh:
        spec = spec_from_hlo(mesh, sharding._hlo_sharding(ndim), ndim)
        if spec is None:
            raise ValueError(
                f"with_sharding_constraint over {sharding.mesh!r} inside a program over "
                f"{mesh!r}: the layouts cannot be expressed on one mesh"
            )
    attr = ir.Attribute.parse(sharding_attr_text(spec, ndim))
    return sdy.ShardingConstraintOp(x, attr).result


def _reshard_transpose(ct, x, *, sharding):
    """The cotangent goes back to the input's layout (its type's, where it has one)."""
    src = getattr(getattr(x, "aval", None), "sharding", None)
    if src is None:
        # an input with no Explicit axes in its type (inside auto_axes' Auto region): as
        # JAX, the cotangent is resharded to that untyped layout, which drops its type's
        # Explicit axes and lowers to nothing
        return [reshard_p.bind(ct, sharding=_all_auto(sharding))]
    from .in_types import concrete_mesh_for

    mesh = sharding.mesh if sharding.mesh.abstract_mesh == src.mesh else None
    if mesh is None:
        try:
            mesh = concrete_mesh_for(src.mesh)
        except ValueError:
            return [ct]
    # a cotangent's type swaps the primal's unreduced and reduced axes (JAX's
    # primal_sharding_to_cotangent_sharding): an unreduced primal's cotangent is reduced
    spec = PartitionSpec(*src.spec, unreduced=src.spec.reduced, reduced=src.spec.unreduced)
    return [reshard_p.bind(ct, sharding=NamedSharding(mesh, spec))]


def _all_auto(sharding: NamedSharding) -> NamedSharding:
    """A replicated sharding over ``sharding``'s mesh with every axis Auto."""
    mesh = sharding.mesh
    auto = (AxisType.Auto,) * len(mesh.axis_names)
    if isinstance(mesh, Mesh):
        return NamedSharding(Mesh(mesh.devices, mesh.axis_names, auto), PartitionSpec())
    abstract = AbstractMesh(
        mesh.axis_sizes,
        mesh.axis_names,
        auto,
        _device_kind=mesh._device_kind,
        _platform=mesh._platform,
    )
    return NamedSharding(abstract, PartitionSpec())


@reshard_p.def_impl
def _reshard_impl(x, *, sharding):
    from .in_types import type_sharding

    aval = core.get_aval(x)
    have = getattr(x, "sharding", None)
    if not isinstance(sharding.mesh, Mesh):
        # an abstract mesh and none in context: the array's own mesh, as JAX's
        # reshard takes its devices from its operand
        if not (
            isinstance(have, NamedSharding) and have.mesh.shape_tuple == sharding.mesh.shape_tuple
        ):
            raise _device_assignment_error(
                aval.update(sharding=type_sharding(sharding, aval.ndim)), sharding
            )
        sharding = _on_value_mesh(x, sharding)
    if type_sharding(sharding, aval.ndim) is None and isinstance(have, NamedSharding):
        # onto a mesh with no Explicit axis a reshard lowers to nothing (as JAX's): the
        # value keeps its layout, now over the destination mesh's axis types
        mesh = sharding.mesh
        if have.mesh.axis_names == mesh.axis_names and have.mesh.devices.tolist() == (
            mesh.devices.tolist()
        ):
            return _impl(x, sharding=NamedSharding(mesh, have.spec))
    from .arrays import _holds_partial_sums, _put_unreduced

    if _holds_partial_sums(x):  # a program sums them (device_put refuses, as JAX's)
        out = _put_unreduced(x, sharding, aval)
    else:
        out = _impl(x, sharding=sharding)
    want = type_sharding(sharding, aval.ndim)
    if core.get_aval(out).sharding != want:
        # the layout was already there (an eager unreduced value holds its sum): only
        # the type changes, as the reshard's result type says
        from .in_types import _mesh_cast_impl

        out = _mesh_cast_impl(out, dst_sharding=want, src_sharding=aval.sharding)
    return out


@reshard_p.def_abstract_eval
def _reshard_abstract_eval(x, *, sharding):
    from .in_types import type_sharding

    # the type is the new layout's Explicit part (none when its mesh has no Explicit axis)
    return x.update(sharding=type_sharding(sharding, len(x.shape)))


@reshard_p.def_lowering
def _lower_reshard(ctx, x, *, sharding):
    from .in_types import type_sharding

    ndim = len(ctx.avals_out[0].shape)
    typed = type_sharding(sharding, ndim)
    mesh = getattr(_lowering, "mesh", None)
    explicit = typed is not None and all(t == AxisType.Explicit for t in typed.mesh.axis_types)
    if explicit and mesh is None and isinstance(sharding.mesh, AbstractMesh):
        if sharding.mesh.size > 1:
            # a one-device program cannot hold a value typed over several devices
            raise _device_assignment_error(ctx.avals_out[0], sharding)
    elif explicit and mesh is not None and typed.mesh.size != mesh.size:
        raise _device_assignment_error(ctx.avals_out[0], sharding, mesh.size)
    return constrain_to_type(x, typed, ndim)


def constrain_to_type(x, typed: NamedSharding | None, ndim: int):
    """``x`` with a Shardy constraint saying the layout its type carries, as JAX lowers a
    typed result (``lower_with_sharding_in_types``): nothing outside a partitioned
    program or over a mesh with no Explicit axis; over a mesh mixing Auto and Explicit
    axes every dimension stays open to the Auto axes and the unused Explicit ones are
    pinned replicated."""
    from .in_types import spec_on_mesh
    from .spmd import MESH_NAME

    mesh = getattr(_lowering, "mesh", None)
    if mesh is None or typed is None:
        return x
    spec = spec_on_mesh(typed, mesh, ndim)
    if spec is None:
        return x
    # (spec_on_mesh keeps the partitions only; an unreduced value's constraint says so)
    same_names = tuple(typed.mesh.axis_names) == tuple(mesh.axis_names)
    unreduced = set(spec.unreduced) | (set(typed.spec.unreduced) if same_names else set())
    types = dict(zip(typed.mesh.axis_names, typed.mesh.axis_types))
    # in a shard_map body the Manual axes are not constrained (none in a full-manual one)
    manual = {a for a, t in types.items() if t == AxisType.Manual}
    if manual and AxisType.Explicit not in types.values():
        return x
    unreduced -= manual
    mixed = any(t == AxisType.Auto for t in types.values())
    open_ = ", ?" if mixed else ""
    dims = []
    for d in range(ndim):
        axes = ", ".join(f'"{a}"' for a in spec._axes_of(d))
        dims.append("{" + (axes + open_ if axes else "?" if mixed else "") + "}")
    extra = ""
    if mixed:
        used = set(spec._used_axes()) | unreduced | set(spec.reduced)
        replicated = [
            a for a in mesh.axis_names if types.get(a) == AxisType.Explicit and a not in used
        ]
        if replicated:
            extra += ", replicated={" + ", ".join(f'"{a}"' for a in replicated) + "}"
    if unreduced:
        extra += ", unreduced={" + ", ".join(f'"{a}"' for a in sorted(unreduced)) + "}"
    attr = ir.Attribute.parse(f"#sdy.sharding<@{MESH_NAME}, [{', '.join(dims)}]{extra}>")
    return sdy.ShardingConstraintOp(x, attr).result


deflinear(reshard_p, _reshard_transpose)


@reshard_p.def_batch
def _reshard_batch(size, vals, dims, *, sharding):
    return _batch(size, vals, dims, sharding=sharding, prim=reshard_p)


_constraint_meshes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def constraint_mesh(closed) -> Mesh | None:
    """The mesh of the first sharding constraint in ``closed`` (nested jaxprs too);
    remembered per jaxpr."""
    try:
        return _constraint_meshes[closed]
    except (KeyError, TypeError):
        pass
    mesh = _find_constraint_mesh(closed)
    try:
        _constraint_meshes[closed] = mesh
    except TypeError:
        pass
    return mesh


def _find_constraint_mesh(closed) -> Mesh | None:
    seen = set()

    def walk(jaxpr):
        if id(jaxpr) in seen:
            return None
        seen.add(id(jaxpr))
        for eqn in jaxpr.eqns:
            if eqn.primitive is sharding_constraint_p or eqn.primitive is reshard_p:
                if isinstance(eqn.params["sharding"].mesh, Mesh):  # (abstract: no devices)
                    return eqn.params["sharding"].mesh
                continue
            # a shard_map over a concrete mesh (engine/shard_map.py) runs over it too
            if eqn.primitive.name == "shard_map" and isinstance(eqn.params["mesh"], Mesh):
                return eqn.params["mesh"]
            for sub in _subjaxprs(eqn):
                found = walk(sub)
                if found is not None:
                    return found
        return None

    return walk(getattr(closed, "jaxpr", closed))


def _subjaxprs(eqn):
    for v in eqn.params.values():
        for item in v if isinstance(v, (tuple, list)) else (v,):
            inner = getattr(item, "jaxpr", None)
            if inner is not None and hasattr(inner, "eqns"):
                yield inner
            elif hasattr(item, "eqns"):
                yield item
