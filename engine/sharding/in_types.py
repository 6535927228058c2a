"""Sharding in types (JAX's "explicit sharding"): the sharding a value's type carries,
the abstract mesh in context (``use_abstract_mesh``), switching mesh axes between
Explicit and Auto (``auto_axes``, ``explicit_axes``), and ``mesh_cast``, the primitive
that changes a value's type sharding without moving data.

A type's sharding is a NamedSharding over an AbstractMesh naming only Explicit axes,
one entry per dimension (``float32[8@X,4]``). Values over meshes with no Explicit axis
carry none (``ShapedArray.sharding is None``), so nothing changes for them."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import core, tree_util
from ..core import Primitive
from ..interpreters.jvp import deflinear
from .mesh import AbstractMesh, AxisType, Mesh, get_mesh
from .named import NamedSharding, PartitionSpec

# ---------------------------------------------------------------------------- the context


class _AbstractMeshes(threading.local):
    def __init__(self):
        self.stack: list = []


_abstract = _AbstractMeshes()


def context_abstract_mesh() -> AbstractMesh | None:
    """The mesh ``use_abstract_mesh`` (or auto_axes/explicit_axes) set, or None."""
    stack = _abstract.stack
    return stack[-1] if stack else None


@contextlib.contextmanager
def use_abstract_mesh(mesh: AbstractMesh) -> Iterator[None]:
    """Trace the body under ``mesh`` (axis sizes, names and types may change; the total
    number of devices may not)."""
    if not isinstance(mesh, AbstractMesh):
        raise ValueError(f"Expected mesh of type `AbstractMesh`. Got {type(mesh)}")
    outer = _current_abstract()
    if not outer.empty and outer.size != mesh.size:
        raise ValueError(
            f"use_abstract_mesh: the new mesh's size ({mesh.size}) must equal the size of "
            f"the mesh in context ({outer.size}). Got {mesh} and {outer}"
        )
    _abstract.stack.append(mesh)
    try:
        yield
    finally:
        _abstract.stack.pop()


def _current_abstract() -> AbstractMesh:
    mesh = context_abstract_mesh()
    if mesh is not None:
        return mesh
    concrete = get_mesh()
    return AbstractMesh((), ()) if concrete is None else concrete.abstract_mesh


def concrete_mesh_for(abstract: AbstractMesh) -> Mesh:
    """A concrete Mesh with ``abstract``'s axes over the devices of the mesh in context
    (in their order), as JAX's programs under ``use_abstract_mesh`` place values."""
    base = get_mesh()
    if base is None:
        raise ValueError(
            f"a PartitionSpec over the abstract mesh {abstract} needs a concrete mesh in "
            "context: use jax.set_mesh(mesh)"
        )
    if base.abstract_mesh == abstract:
        return base
    return _reshaped(base, abstract)


@functools.lru_cache(maxsize=64)
def _reshaped(base: Mesh, abstract: AbstractMesh) -> Mesh:
    if abstract.axis_names == base.axis_names and abstract.axis_sizes == base.axis_sizes:
        return Mesh(base.devices, base.axis_names, abstract.axis_types)
    devices = np.array(base._flat_devices, dtype=object).reshape(abstract.axis_sizes)
    return Mesh(devices, abstract.axis_names, abstract.axis_types)


# ---------------------------------------------------------------------------- type shardings


def type_sharding(sharding: Any, ndim: int) -> NamedSharding | None:
    """The sharding a value laid out as ``sharding`` carries in its type: its Explicit
    axes over the abstract mesh, one entry per dimension (None when the mesh has no
    Explicit axis)."""
    if not isinstance(sharding, NamedSharding):
        return None
    mesh = sharding.mesh.abstract_mesh
    explicit = {a for a, t in zip(mesh.axis_names, mesh.axis_types) if t == AxisType.Explicit}
    if not explicit:
        return None
    entries = []
    for d in range(ndim):
        axes = tuple(a for a in sharding.spec._axes_of(d) if a in explicit)
        entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    unreduced = frozenset(sharding.spec.unreduced) & explicit
    reduced = frozenset(sharding.spec.reduced) & explicit
    return NamedSharding(mesh, PartitionSpec(*entries, unreduced=unreduced, reduced=reduced))


def replicated_type(mesh: AbstractMesh, ndim: int) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(*[None] * ndim))


def spec_on_mesh(sharding: NamedSharding, mesh: Mesh, ndim: int) -> PartitionSpec | None:
    """A type sharding's layout as a PartitionSpec over the concrete ``mesh`` a program
    runs on (None when that mesh cannot express it)."""
    from .named import spec_from_hlo

    src = sharding.mesh
    if src.axis_names == mesh.axis_names and src.axis_sizes == mesh.axis_sizes:
        spec = sharding.spec
        return PartitionSpec(
            *spec._normalized(ndim), unreduced=spec.unreduced, reduced=spec.reduced
        )
    if src.size != mesh.size:
        return None
    concrete = _reshaped(mesh, src.abstract_mesh)
    hlo = NamedSharding(concrete, PartitionSpec(*sharding.spec))._hlo_sharding(ndim)
    return spec_from_hlo(mesh, hlo, ndim)


def typed_aval(aval: core.ShapedArray, sharding: Any) -> core.ShapedArray:
    """``aval`` carrying the type of a value laid out as ``sharding`` (unchanged over a
    mesh with no Explicit axis)."""
    t = type_sharding(sharding, len(aval.shape))
    if t is None or aval.sharding == t:
        return aval
    return aval.update(sharding=t)


def scalar_like(value: Any, x: Any) -> Any:
    """JAX's ``lax._one(x)`` (``full_like(x, shape=(), fill_value=...)`` over x's mesh,
    replicated): for ``x`` whose type carries a sharding, ``value`` resharded onto that
    mesh (``reshard 1.0:f32[]``); else ``value`` itself (a literal)."""
    aval = core.get_aval(x)
    typed = aval.sharding
    if typed is None:
        return value
    from .constraint import reshard_p

    try:
        mesh = concrete_mesh_for(typed.mesh)
    except ValueError:  # no mesh in context to place it on
        return value
    if not aval.weak_type:
        value = np.asarray(getattr(value, "value", value), aval.dtype)
    return reshard_p.bind(value, sharding=NamedSharding(mesh, PartitionSpec()))


# ---------------------------------------------------------------------------- mesh_cast

mesh_cast_p = Primitive("mesh_cast")
mesh_cast_p.pp_params = lambda p: {"dst_sharding": p["dst_sharding"]}


def mesh_cast(x: Any, dst_sharding: NamedSharding | None) -> Any:
    """``x`` with its type's sharding replaced by ``dst_sharding`` (None: no sharding in
    the type, as under Auto axes). Moves no data."""
    aval = core.get_aval(x)
    if aval.sharding == dst_sharding:
        return x
    return mesh_cast_p.bind(x, dst_sharding=dst_sharding, src_sharding=aval.sharding)


@mesh_cast_p.def_impl
def _mesh_cast_impl(x, *, dst_sharding, src_sharding):
    from ..array import Array

    if type(x) is not Array:
        from .. import dispatch

        x = dispatch.device_put_value(x, None)
    return Array(x._buf, x.aval.update(sharding=dst_sharding), x._device, x._committed)


mesh_cast_p.def_abstract_eval(
    lambda x, *, dst_sharding, src_sharding: x.update(sharding=dst_sharding)
)
deflinear(
    mesh_cast_p,
    lambda ct, x, *, dst_sharding, src_sharding: [
        mesh_cast_p.bind(ct, dst_sharding=src_sharding, src_sharding=dst_sharding)
    ],
)


@mesh_cast_p.def_batch
def _mesh_cast_batch(size, vals, dims, *, dst_sharding, src_sharding):
    (x,), (d,) = vals, dims

    def widen(s):
        if s is None or d is None:
            return s
        parts = list(s.spec)
        parts.insert(d, None)
        return NamedSharding(s.mesh, PartitionSpec(*parts))

    return mesh_cast_p.bind(
        x, dst_sharding=widen(dst_sharding), src_sharding=widen(src_sharding)
    ), d


mesh_cast_p.def_lowering(lambda ctx, x, **_: x)


# ---------------------------------------------------------------------------- auto / explicit


def _switched_mesh(axes: Any, to: AxisType, api: str, shardings: Any = None):
    """(mesh in context, that mesh with ``axes`` switched to ``to``, the axes), or None
    when neither the context nor ``shardings`` names a mesh."""
    current = _current_abstract()
    given = AbstractMesh((), ())
    for s in tree_util.tree_leaves(shardings):
        if isinstance(s, NamedSharding):
            if not given.empty and given != s.mesh.abstract_mesh:
                raise ValueError(
                    f"Shardings passed to {api} should have the same mesh. Got one mesh "
                    f"{given} and another {s.mesh}"
                )
            given = s.mesh.abstract_mesh
    if given.empty and current.empty:
        return None
    if not given.empty and not current.empty and given != current:
        raise ValueError(
            f"Context mesh {current} must match the mesh passed to shardings {given}. "
            "Recommended approach is to use `jax.set_mesh` context manager."
        )
    mesh = current if not current.empty else given
    names = mesh.axis_names if axes is None else axes if isinstance(axes, tuple) else (axes,)
    types = dict(zip(mesh.axis_names, mesh.axis_types))
    for a in names:
        if a not in types:
            raise ValueError(f"axis {a!r} is not an axis of the mesh in context: {mesh}")
        if types[a] == AxisType.Manual:
            raise NotImplementedError(
                "Going from `Manual` AxisType to `Auto` or `Explicit` AxisType is not "
                "allowed. Please file a bug at https://github.com/jax-ml/jax/issues with "
                "your use case"
            )
    new_types = tuple(to if n in names else t for n, t in zip(mesh.axis_names, mesh.axis_types))
    new = AbstractMesh(
        mesh.axis_sizes,
        mesh.axis_names,
        new_types,
        _device_kind=mesh._device_kind,
        _platform=mesh._platform,
    )
    return mesh, new, tuple(names)


def _explicit_part(spec: PartitionSpec, mesh: AbstractMesh, ndim: int) -> PartitionSpec:
    """``spec`` naming only ``mesh``'s Explicit axes (the type a value has there)."""
    explicit = {a for a, t in zip(mesh.axis_names, mesh.axis_types) if t == AxisType.Explicit}
    entries = []
    for d in range(ndim):
        axes = tuple(a for a in spec._axes_of(d) if a in explicit)
        entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(
        *entries,
        unreduced=frozenset(spec.unreduced) & explicit,
        reduced=frozenset(spec.reduced) & explicit,
    )


def _type_spec(x: Any) -> PartitionSpec:
    aval = core.get_aval(x)
    return aval.sharding.spec if aval.sharding is not None else PartitionSpec(*[None] * aval.ndim)


def _resharded_to_types(tree: Any, mesh: AbstractMesh) -> Any:
    from .constraint import reshard

    def one(x):
        return reshard(x, _explicit_part(_type_spec(x), mesh, core.get_aval(x).ndim))

    return tree_util.tree_map(one, tree)


def _run_auto(fun: Callable, args, kwargs, axes, out_sharding):
    from .constraint import reshard

    switch = _switched_mesh(axes, AxisType.Auto, "auto_axes", out_sharding)
    if switch is None:
        return fun(*args, **kwargs)
    outer, inner, names = switch
    if {a for a, t in zip(outer.axis_names, outer.axis_types) if t == AxisType.Auto} == set(names):
        return fun(*args, **kwargs)
    with use_abstract_mesh(inner):
        args = _resharded_to_types(args, inner)
        out = fun(*args, **kwargs)
    return reshard(out, out_sharding)


def _run_explicit(fun: Callable, args, kwargs, axes, in_sharding):
    from .constraint import reshard

    switch = _switched_mesh(axes, AxisType.Explicit, "explicit_axes")
    if switch is None:
        raise ValueError(
            "Context mesh cannot be empty. Please use `jax.set_mesh` API to enter into a "
            "mesh context when using `explicit_axes` API."
        )
    outer, inner, _ = switch
    with use_abstract_mesh(inner):
        args = reshard(args, in_sharding)
        out = fun(*args, **kwargs)
    return _resharded_to_types(out, outer)


def _axis_type_switch(fun: Callable, axes: Any, sharding: Any, keyword: str, run: Callable):
    """``fun`` wrapped to run with mesh axes switched by ``run``; the sharding it needs
    comes from the decorator or, when that gave none, from the call's ``keyword``."""

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        given = sharding
        if given is None:
            if keyword not in kwargs:
                raise TypeError(f"Missing required keyword argument: '{keyword}'")
            given = kwargs.pop(keyword)
        return run(fun, args, kwargs, axes, given)

    return wrapped


def auto_axes(f=None, /, *, axes: str | tuple[str, ...] | None = None, out_sharding=None):
    """``f`` run with the mesh's ``axes`` (all by default) switched to Auto: its arguments
    lose those axes from their types, the compiler chooses its intermediates' layouts,
    and the result is resharded to ``out_sharding`` (given here or to the wrapped call)."""
    if f is None:
        return lambda g: _axis_type_switch(g, axes, out_sharding, "out_sharding", _run_auto)
    return _axis_type_switch(f, axes, out_sharding, "out_sharding", _run_auto)


def explicit_axes(f=None, /, *, axes: str | tuple[str, ...] | None = None, in_sharding=None):
    """``f`` run with the mesh's ``axes`` (all by default) switched to Explicit: its
    arguments are resharded to ``in_sharding`` (given here or to the wrapped call) and
    carry it in their types; the results go back to the caller's axis types."""
    if f is None:
        return lambda g: _axis_type_switch(g, axes, in_sharding, "in_sharding", _run_explicit)
    return _axis_type_switch(f, axes, in_sharding, "in_sharding", _run_explicit)
