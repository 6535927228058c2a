"""``jit`` over a mesh: which layout each input gets (``in_shardings``, or the sharding
a committed input already has, or replicated), the ``SpmdTarget`` that keys the compile
cache and stands for the devices in the stage objects, and running a partitioned call.

A jit call runs over a mesh when its ``in_shardings``/``out_shardings`` name one or an
argument is already sharded; otherwise it stays on the one-device path untouched."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import core, runtime, tree_util
from .arrays import host_value, put
from .mesh import Mesh, get_mesh
from .named import (
    IndivisibleError,
    NamedSharding,
    PartitionSpec,
    Sharding,
    SingleDeviceSharding,
    spec_from_hlo,
)


class SpmdTarget:
    """Where a partitioned program runs and how its inputs are laid out: the mesh, one
    NamedSharding per dynamic input leaf, and the user's ``out_shardings``. Stands in
    for the device in jit's cache keys and stage objects."""

    __slots__ = (
        "mesh",
        "in_shardings",
        "out_shardings",
        "unspecified",
        "_key",
        "group",
        "_out_given",
        "_first_in",
        "_source",
        "_explicit_context",
    )

    def __init__(
        self, mesh: Mesh, in_shardings: tuple, out_shardings: Any, unspecified: tuple = ()
    ):
        self.mesh = mesh
        self.in_shardings = tuple(in_shardings)
        self.out_shardings = out_shardings
        # inputs neither given a sharding nor sharded: left unannotated (replicated)
        self.unspecified = tuple(unspecified) or (False,) * len(self.in_shardings)
        self.group = mesh._group
        try:
            hash(out_shardings)
            out_key = out_shardings
        except TypeError:
            out_key = repr(out_shardings)
        # under set_mesh of this mesh's Explicit axes untyped results are laid out
        # replicated (JAX's types): a program of its own
        self._explicit_context = _all_explicit_context(mesh)
        self._key = (mesh, self.in_shardings, out_key, self.unspecified, self._explicit_context)
        self._out_given: list | None = None  # the given out_shardings' specs, once lowered
        self._first_in: tuple | None = None  # (first given input sharding, its rank)
        # what chose the mesh, as JAX's device errors say (worked out on an error only)
        self._source: Any = lambda: "ARG_SHARDING "

    platform = property(lambda self: self.group.platform)
    client = property(lambda self: self.group.client)
    devices = property(lambda self: self.group.devices)

    def __eq__(self, other) -> bool:
        return type(other) is SpmdTarget and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"SpmdTarget({self.mesh._short_repr()}, {len(self.in_shardings)} inputs)"

    def out_specs(self, out_tree, out_avals) -> list:
        """The PartitionSpec of each output leaf from ``out_shardings``, else from the
        sharding its type carries (Explicit axes), else None (XLA's choice)."""
        from .spmd import typed_out_specs

        typed = typed_out_specs(self.mesh, out_avals) or [None] * len(out_avals)
        if self._explicit_context:
            # under set_mesh of Explicit axes JAX types every value: an untyped result
            # here is one JAX types replicated (a NumPy argument's), laid out so
            typed = [
                PartitionSpec(*[None] * len(a.shape)) if t is None and a.sharding is None else t
                for t, a in zip(typed, out_avals)
            ]
        if self.out_shardings is None:
            return typed
        per_leaf = _broadcast_prefix(self.out_shardings, out_tree, "out_shardings")
        specs = [
            t if s is None else self._spec(s, a) for s, a, t in zip(per_leaf, out_avals, typed)
        ]
        self._out_given = [None if s is None else p for s, p in zip(per_leaf, specs)]
        return specs

    def memory_kinds(self, out_tree, kept) -> tuple:
        """(each kept argument's memory kind, each result's given one; None where its
        sharding is unspecified)."""
        ins = [
            None if self.unspecified[i] else self.in_shardings[i].memory_kind
            for i in (range(len(self.in_shardings)) if kept is None else kept)
        ]
        outs: list = []
        if self.out_shardings is not None:
            per_leaf = _broadcast_prefix(self.out_shardings, out_tree, "out_shardings")
            outs = [getattr(s, "memory_kind", None) for s in per_leaf]
        else:
            outs = [None] * out_tree.num_leaves
        return ins, outs

    def _spec(self, s, aval) -> PartitionSpec:
        s = _on_mesh(_as_named(s, "out_shardings"), self.mesh)
        if len(s.spec) > len(aval.shape):
            _rank_error(s, aval)
        _check_divisible(s, aval)
        if s.mesh._flat_devices != self.mesh._flat_devices:
            raise ValueError(
                f"Received incompatible devices for jitted computation. Got {self._source()}"
                f"with device ids {[d.id for d in self.mesh._flat_devices]} on platform CPU "
                "and explicit output sharding with device ids "
                f"{[d.id for d in s.mesh._flat_devices]} on platform CPU"
            )
        return s.spec


def _all_explicit_context(mesh: Mesh) -> bool:
    from .mesh import AxisType

    context = get_mesh()
    return (
        context is not None
        and context._flat_devices == mesh._flat_devices
        and all(t == AxisType.Explicit for t in context.axis_types)
    )


def _is_sharding(x) -> bool:
    return x is None or isinstance(x, (Sharding, PartitionSpec))


def _as_named(s, what: str = "in_shardings") -> NamedSharding:
    if isinstance(s, PartitionSpec):
        mesh = get_mesh()
        if mesh is None:
            raise RuntimeError(
                "jit requires a non-empty mesh in context if you are passing "
                f"`PartitionSpec`s to {what}. You can define a context mesh via "
                f"`jax.set_mesh(mesh)`. Alternatively, provide `Sharding`s to {what} and "
                "then the mesh context manager is not required."
            )
        return NamedSharding(mesh, s)
    if not isinstance(s, NamedSharding):
        raise NotImplementedError(
            f"jit shardings other than NamedSharding/PartitionSpec over a mesh: got {s!r}"
        )
    from .constraint import on_context_mesh

    return on_context_mesh(s)  # (over an AbstractMesh and no mesh in context: abstract)


def _on_mesh(s: NamedSharding, mesh: Mesh) -> NamedSharding:
    """An abstract-mesh sharding placed on the devices of the program's ``mesh``."""
    if isinstance(s.mesh, Mesh):
        return s
    from .in_types import _reshaped

    if s.mesh.size != mesh.size:
        raise ValueError(
            f"Received incompatible devices for jitted computation. Got a sharding over "
            f"{s.mesh!r} ({s.mesh.size} devices) and arguments with device ids "
            f"{[d.id for d in mesh._flat_devices]}"
        )
    return NamedSharding(_reshaped(mesh, s.mesh), s.spec)


def _only_abstract_error() -> ValueError:
    return ValueError(
        "Passing lowering_platforms via jax.export or jit(f).trace(*args).lower("
        "lowering_platforms=...) is required when only AbstractMesh exists in a jitted "
        "computation. Got context mesh: Mesh()"
    )


def _broadcast_prefix(prefix, tree, what: str) -> list:
    """One entry of ``prefix`` (a pytree prefix of ``tree`` with shardings as leaves)
    per leaf of ``tree``."""
    if _is_sharding(prefix):
        return [prefix] * tree.num_leaves
    prefix_leaves, prefix_tree = tree_util.tree_flatten(prefix, is_leaf=_is_sharding)
    try:
        subtrees = prefix_tree.flatten_up_to(tree_util.tree_unflatten(tree, [0] * tree.num_leaves))
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"pytree structure error: pjit {what} should be a pytree prefix of the "
            f"values it describes: {e}"
        ) from None
    out = []
    for s, sub in zip(prefix_leaves, subtrees):
        out.extend([s] * len(tree_util.tree_leaves(sub)))
    return out


def _in_sharding_leaves(in_shardings, in_tree, n_leaves) -> list:
    if in_shardings is None:
        return [None] * n_leaves
    args_tree, kwargs_tree = tree_util.treedef_children(in_tree)
    if kwargs_tree.num_leaves and not _is_sharding(in_shardings):
        raise ValueError("pjit does not support kwargs when in_shardings is specified.")
    if not _is_sharding(in_shardings) and not isinstance(in_shardings, (tuple, list)):
        in_shardings = (in_shardings,)
    if not _is_sharding(in_shardings):
        in_shardings = tuple(in_shardings)
        n_args = len(tree_util.treedef_children(args_tree))
        if len(in_shardings) != n_args:
            raise ValueError(
                "pjit in_shardings specification must be a tree prefix of the positional "
                "arguments tuple. In particular, pjit in_shardings must either be a "
                "Sharding, a PartitionSpec, or a tuple of length equal to the number of "
                "positional arguments. But pjit in_shardings is the wrong length: got a "
                f"tuple or list of length {len(in_shardings)} for an args tuple of length "
                f"{n_args}."
            )
    per_args = _broadcast_prefix(in_shardings, args_tree, "in_shardings")
    return per_args + [None] * kwargs_tree.num_leaves


def _group_of(x):
    return x._device if type(getattr(x, "_device", None)) is runtime.DeviceGroup else None


def _aval_text(aval) -> str:
    return f"{aval.dtype.name}[{','.join(map(str, aval.shape))}]"


def _typed_text(aval) -> str:
    """A type as JAX's device errors print it (``float32[8@X,4]``)."""
    dims = aval._dims_text() if hasattr(aval, "_dims_text") else ",".join(map(str, aval.shape))
    return f"{aval.dtype.name}[{dims}]"


class _ArgNames:
    """JAX's debug names of a call's argument leaves (``argument a of f``), worked out
    only when an error needs one."""

    def __init__(self, fun, opts, flat, in_tree):
        self.fun, self.opts, self.flat, self.in_tree = fun, opts, flat, in_tree
        self._names: list | None = None

    def __call__(self, i: int) -> str:
        fun = getattr(self.fun, "__qualname__", getattr(self.fun, "__name__", "fun"))
        if self._names is None:
            self._names = []
            if not self.opts.static_argnums and not self.opts.static_argnames:
                from ..export.locations import jax_arg_names
                from ..jit_options import try_signature

                args, kwargs = tree_util.tree_unflatten(self.in_tree, list(self.flat))
                try:
                    self._names = jax_arg_names(try_signature(self.fun), args, kwargs, self.opts)
                except Exception:  # (a name is only decoration on the error)
                    self._names = []
        name = self._names[i] if i < len(self._names) else str(i)
        return f"argument {name} of {fun}"


def _incompatible(name, i, a, ids_a, j, b, ids_b) -> ValueError:
    return ValueError(
        "Received incompatible devices for jitted computation. Got "
        f"{name(i)} with shape {_typed_text(a)} and with device ids {ids_a} on "
        f"platform CPU and {name(j)} with shape {_typed_text(b)} and with device "
        f"ids {ids_b} on platform CPU"
    )


def resolve_target(fun, opts, flat, in_tree, avals) -> SpmdTarget | None:
    """The SpmdTarget of a call (None when nothing in it is sharded)."""
    from ..array import Array

    in_user, out_user = opts.shardings
    user = _in_sharding_leaves(in_user, in_tree, len(flat))
    sharded_args = [
        i
        for i, x in enumerate(flat)
        if _group_of(x) is not None
        or (type(x) is not Array and isinstance(getattr(x, "sharding", None), NamedSharding))
    ]
    if not sharded_args and all(s is None for s in user) and out_user is None:
        return None
    user = [None if s is None else _as_named(s) for s in user]
    mesh = None
    for s in user:
        if s is not None and isinstance(s.mesh, Mesh):
            mesh = s.mesh
            break
    if mesh is None and sharded_args:
        mesh = flat[sharded_args[0]].sharding.mesh
    if mesh is None:
        out_leaves = [
            _as_named(s, "out_shardings")
            for s in tree_util.tree_leaves(out_user, is_leaf=_is_sharding)
            if s is not None
        ]
        concrete = [s.mesh for s in out_leaves if isinstance(s.mesh, Mesh)]
        if concrete:
            mesh = concrete[0]
        elif out_leaves or any(s is not None for s in user):
            # shardings over an AbstractMesh name no devices (as JAX's jit refuses them)
            raise _only_abstract_error()
        else:
            return None
    if not isinstance(mesh, Mesh):
        raise TypeError(f"jit needs shardings over a concrete Mesh, got {mesh!r}")
    user = [None if s is None else _on_mesh(s, mesh) for s in user]
    name = _ArgNames(fun, opts, flat, in_tree)
    ids = [d.id for d in mesh._flat_devices]
    devices = set(mesh._flat_devices)
    order = mesh._flat_devices  # (a tuple: JAX compares device assignments in order)
    if sharded_args and all(s is None for s in user):
        first_arg = sharded_args[0]

        def source() -> str:
            return f"{name(first_arg)} with shape {_typed_text(avals[first_arg])} and "

    else:

        def source() -> str:
            return "ARG_SHARDING "

    context = get_mesh()
    if context is not None and context is not mesh and context._flat_devices != order:
        raise ValueError(
            f"Received incompatible devices for jitted computation. Got {source()}with device "
            f"ids {ids} on platform CPU and jit's context mesh with device ids "
            f"{[d.id for d in context._flat_devices]} on platform CPU"
        )
    shardings, unspecified = [], []
    for i, (x, s, aval) in enumerate(zip(flat, user, avals)):
        unspecified.append(False)
        have = x.sharding if _group_of(x) is not None else None
        if s is not None and have is not None and not _same_layout(have, s, aval):
            # (before the devices, as JAX: a given sharding the argument does not have)
            raise ValueError(
                "Sharding passed to jit does not match the sharding on the respective "
                f"arg. Got jit sharding: {s!r},\narg sharding: {have!r} for arg type: "
                f"{_aval_text(aval)}"
            )
        if s is not None and set(s.mesh._flat_devices) != devices:
            raise ValueError(
                "Received incompatible devices for jitted computation. Got ARG_SHARDING "
                f"with device ids {ids} on platform CPU and ARG_SHARDING with device ids "
                f"{[d.id for d in s.mesh._flat_devices]} on platform CPU"
            )
        if (
            have is None
            and type(x) is not Array
            and isinstance(getattr(x, "sharding", None), NamedSharding)
        ):
            have = x.sharding  # a ShapeDtypeStruct with a sharding (jit(f).lower(...))
        if have is not None and have._device_assignment != order:
            j = sharded_args[0] if sharded_args[0] != i else i
            first = flat[j]
            raise _incompatible(
                name,
                j,
                first.aval,
                [d.id for d in first.sharding._device_assignment],
                i,
                aval,
                [d.id for d in have._device_assignment],
            )
        if have is None and type(x) is Array and x._committed and x._device not in devices:
            raise _incompatible(name, i, aval, [x._device.id], -1, aval, ids)
        if have is None and type(x) is Array and x._committed and len(devices) > 1:
            other = sharded_args[0] if sharded_args else None
            if other is not None:
                raise _incompatible(name, other, flat[other].aval, ids, i, aval, [x._device.id])
        if s is not None:
            if len(s.spec) > len(aval.shape):
                _rank_error(s, aval)
            _check_divisible(s, aval)
            if have is not None and not _same_layout(have, s, aval):
                raise ValueError(
                    "Sharding passed to jit does not match the sharding on the respective "
                    f"arg. Got jit sharding: {s!r},\narg sharding: {have!r} for arg type: "
                    f"{_aval_text(aval)}"
                )
            if s.mesh != mesh:
                s = NamedSharding(mesh, s.spec, memory_kind=s._given_kind())
            shardings.append(s)
        elif have is not None and isinstance(have, NamedSharding):
            spec = have.spec
            if have.mesh != mesh:
                spec = spec_from_hlo(mesh, have._hlo_sharding(len(aval.shape)), len(aval.shape))
            spec = spec if spec is not None else PartitionSpec()
            shardings.append(NamedSharding(mesh, spec, memory_kind=have._given_kind()))
        else:
            shardings.append(NamedSharding(mesh, PartitionSpec()))
            unspecified[-1] = True
    target = SpmdTarget(mesh, tuple(shardings), out_user, tuple(unspecified))
    target._source = source
    first = next((i for i, u in enumerate(unspecified) if not u), None)
    if first is not None:  # (JAX's orig_in_s, for the output shardings)
        target._first_in = (shardings[first], len(avals[first].shape))
    return target


def _check_divisible(s: NamedSharding, aval):
    check_divisible_shape(s, tuple(aval.shape))


def check_divisible_shape(s: NamedSharding, shape: tuple) -> None:
    """JAX's IndivisibleError where ``s`` cannot split ``shape`` evenly."""
    parts = s._parts_per_dim(len(shape))
    for d, (n, k) in enumerate(zip(shape, parts)):
        if n % k:
            raise IndivisibleError(
                f"Sharding {s!r} implies that array axis {d} is partitioned {k} times, but "
                f"the dimension size is {n} (full shape: {shape}, per-dimension "
                f"tiling factors: {parts} should evenly divide the shape)"
            )


def _rank_error(s, aval):
    raise ValueError(
        f"One of pjit arguments with pytree key path args is incompatible with its sharding "
        f"annotation {s!r}: Sharding {s!r} is only valid for values of rank at least "
        f"{len(s.spec)}, but was applied to a value of rank {len(aval.shape)}"
    )


def _same_layout(have, want: NamedSharding, aval) -> bool:
    if have == want:
        return True
    if not isinstance(have, NamedSharding):
        return False
    nd = len(aval.shape)
    return have.mesh._flat_devices == want.mesh._flat_devices and have._hlo_sharding(
        nd
    ) == want._hlo_sharding(nd)


def place(x, sharding: NamedSharding, group):
    """The jaxlib array of ``x`` laid out as ``sharding`` (moved if it is not)."""
    keys = hasattr(getattr(x, "dtype", None), "physical_shape")  # typed keys: their data
    if type(getattr(x, "_device", None)) is runtime.DeviceGroup and x._device is group:
        hlo = runtime.hlo_of_buffer(x._buf)
        if hlo == sharding._hlo_sharding(x.ndim + (len(x.dtype.physical_shape) if keys else 0)):
            return x._buf
    if isinstance(x, core.Tracer):
        raise TypeError("a traced value cannot be an argument of a partitioned call here")
    weak = getattr(x, "weak_type", None)
    if weak is None and not isinstance(x, np.ndarray):
        weak = core.get_aval(x).weak_type
    if type(getattr(x, "_device", None)) is runtime.DeviceGroup and not keys:
        x = host_value(x)
    return put(x, sharding, weak_type=weak)._buf


def input_shardings(target: SpmdTarget, exe, in_avals) -> list:
    """NamedSharding of each parameter (closed-over constants first) of a compiled
    partitioned program: as annotated, or as XLA chose for unannotated ones."""
    hlos = exe.input_hlo_shardings
    if len(hlos) != len(in_avals):
        n = len(in_avals) - len(target.in_shardings)
        return [NamedSharding(target.mesh, PartitionSpec())] * n + list(target.in_shardings)
    out = []
    for hlo, aval in zip(hlos, in_avals):
        spec = spec_from_hlo(target.mesh, hlo, len(core.physical_aval(aval).shape))
        if spec is None:
            raise NotImplementedError(
                f"XLA laid out an input as {hlo}, which no PartitionSpec over "
                f"{target.mesh!r} describes"
            )
        kind = "pinned_host" if aval.memory_space is core.MemorySpace.Host else None
        out.append(NamedSharding(target.mesh, spec, memory_kind=kind))  # (host: its type's)
    return out


def output_shardings(target: SpmdTarget, exe, out_avals) -> list:
    """NamedSharding of each output leaf of a compiled partitioned program (in the
    memory XLA writes it to)."""
    out = _placed_output_shardings(target, exe, out_avals)
    kinds = getattr(exe, "output_memory_kinds", None) or ["device"] * len(out)
    return [
        s.with_memory_kind(k) if isinstance(s, NamedSharding) and s.memory_kind != k else s
        for s, k in zip(out, kinds)
    ]


def _placed_output_shardings(target: SpmdTarget, exe, out_avals) -> list:
    from .arrays import GSPMDSharding

    out: list = []
    given = target._out_given or [None] * len(out_avals)
    for hlo, aval, want in zip(exe.output_hlo_shardings, out_avals, given):
        aval = core.physical_aval(aval)  # (typed keys: their data's layout)
        if want is not None:
            # the out_shardings the user gave, as JAX keeps them (P('X', None) stays so)
            s = NamedSharding(target.mesh, want)
            if s._hlo_sharding(len(aval.shape)) == hlo:
                out.append(s)
                continue
        if _same_as_first_input(target, hlo, aval):
            out.append(target._first_in[0])  # as JAX: that sharding itself
            continue
        spec = spec_from_hlo(target.mesh, hlo, len(aval.shape))
        if spec is not None and aval.sharding is None and not target._explicit_context:
            # an untyped result's spec is read from XLA's layout as JAX reads it: no
            # trailing unsplit dimensions (P('X',)), whatever the mesh's axis types
            parts = list(spec.partitions)
            while parts and parts[-1] is None:
                parts.pop()
            spec = PartitionSpec(*parts, unreduced=spec.unreduced, reduced=spec.reduced)
        reduced = aval.sharding.spec.reduced if aval.sharding is not None else None
        if spec is not None and reduced:  # (XLA's layout has no reduced axes: the type's)
            spec = PartitionSpec(*spec.partitions, unreduced=spec.unreduced, reduced=reduced)
        out.append(
            NamedSharding(target.mesh, spec)
            if spec is not None
            else GSPMDSharding(target.group.devices, hlo)
        )
    return out


def _same_as_first_input(target: SpmdTarget, hlo, aval) -> bool:
    """Whether XLA laid an untyped output out as the first input given a sharding, over
    the mesh in context: JAX then returns that input's sharding."""
    if target._first_in is None:
        return False
    s, ndim = target._first_in
    if ndim != len(aval.shape):
        return False
    if getattr(aval, "sharding", None) is not None:
        return False  # (a typed result's sharding is its type's, as JAX's)
    from .mesh import get_abstract_mesh

    return get_abstract_mesh() == s.mesh.abstract_mesh and s._hlo_sharding(ndim) == hlo


def single_device_shardings(device, n: int) -> list:
    return [SingleDeviceSharding(device)] * n


def constrained_target(closed, n_leaves: int, out_user) -> SpmdTarget | None:
    """A call with no sharded input whose function constrains a value's sharding runs
    over the constraint's mesh, its inputs replicated (as JAX)."""
    from .constraint import constraint_mesh

    mesh = constraint_mesh(closed)
    context = get_mesh()
    if mesh is None:
        # a result typed over the mesh in context (an out_sharding= of einsum or dot)
        # is laid out over that mesh, as JAX runs every jit under set_mesh
        typed = [getattr(a, "sharding", None) for a in closed.out_avals]
        if context is None or not any(t is not None and t.mesh.size > 1 for t in typed):
            return None
        mesh = context
    elif context is not None and set(context._flat_devices) == set(mesh._flat_devices):
        # the mesh in context, as JAX's device assignment (a first constraint inside
        # auto_axes is over that mesh with its axes switched to Auto)
        mesh = context
    replicated = (NamedSharding(mesh, PartitionSpec()),) * n_leaves
    return SpmdTarget(mesh, replicated, out_user, (True,) * n_leaves)


def check_compiled_shardings(name: str, flat, avals, required) -> None:
    """A Compiled object called with sharded arrays laid out otherwise than it was
    compiled for: JAX's error, listing each mismatch."""
    bad = []
    for i, (x, aval, want) in enumerate(zip(flat, avals, required)):
        if _group_of(x) is None:
            continue
        have = x.sharding
        if not _same_layout(have, want, aval):
            bad.append(
                f"Argument {i} with shape {_aval_text(aval)}:\n  Passed sharding: {have!r}\n"
                f"  Required sharding: {want!r}"
            )
    if bad:
        raise ValueError(
            "Computation was compiled for input shardings that disagree with the shardings "
            f"of arguments passed to it. Here are the {len(bad)} mismatches:\n" + "\n".join(bad)
        )


class ConstrainedProgram:
    """A jaxpr bound by a transformation (``jit`` inside ``grad``...) that constrains
    shardings: lowered with its constraints, compiled over their mesh, and run with its
    inputs placed as XLA's partitioner chose."""

    def __init__(self, closed, mesh: Mesh, name: str, donated: tuple = ()):
        from ..interpreters import lowering
        from . import spmd
        from .constraint import lowering_for_mesh

        n = len(closed.in_avals)
        self.target = SpmdTarget(
            mesh, (NamedSharding(mesh, PartitionSpec()),) * n, None, (True,) * n
        )
        group = self.group = mesh._group
        with lowering_for_mesh(mesh):
            module, _ = lowering.lower_jaxpr_to_module(
                closed, name, runtime.platform_of(group), donated=donated
            )
        spmd.annotate_module(
            module,
            mesh,
            [None] * n,
            [len(a.shape) for a in closed.in_avals],
            None,
            [len(a.shape) for a in closed.out_avals],
        )
        self.out_avals = closed.out_avals
        text = lowering.module_to_text(module, debug_info=True)
        self.exe = runtime.compile_spmd(text, group, self.out_avals)
        self.in_shardings = input_shardings(self.target, self.exe, closed.in_avals)
        self.out_shardings = output_shardings(self.target, self.exe, self.out_avals)

    def __call__(self, args) -> list:
        from .. import dispatch
        from .arrays import wrap

        bufs = [place(x, s, self.group) for x, s in zip(args, self.in_shardings)]
        outs = dispatch.execute(self.exe, args, bufs)
        return [
            wrap(b, a, self.group, s) for b, a, s in zip(outs, self.out_avals, self.out_shardings)
        ]
