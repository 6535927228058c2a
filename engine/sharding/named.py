"""Shardings: how an array's elements are laid out over devices.

``NamedSharding(mesh, PartitionSpec(...))`` splits array dimensions over named mesh
axes; ``SingleDeviceSharding(device)`` keeps the whole array on one device. Each can
say which block of the array a device holds, and turn itself into what XLA reads: an
``HloSharding`` for jaxlib's runtime and a Shardy ``#sdy.sharding`` attribute for
lowering."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxlib import xla_client as xc

from .mesh import AbstractMesh, Mesh


class DuplicateSpecError(Exception):
    """A PartitionSpec maps one mesh axis to two array dimensions (JAX's class)."""


class IndivisibleError(ValueError):
    """An array dimension does not split evenly over its mesh axes (JAX's class, raised
    where jit checks its in_shardings)."""


class _Unconstrained:
    def __repr__(self) -> str:
        return "UNCONSTRAINED"


UNCONSTRAINED = _Unconstrained()


def _canonical_entry(entry):
    if entry is None or entry is UNCONSTRAINED or isinstance(entry, str):
        return entry
    if isinstance(entry, (tuple, list)):
        entry = tuple(entry)
        for name in entry:
            if not isinstance(name, str):
                raise TypeError(
                    f"PartitionSpec entries must be None, a mesh axis name or a tuple of "
                    f"names; got {name!r} in {entry!r}"
                )
        return entry[0] if len(entry) == 1 else entry
    raise TypeError(
        f"PartitionSpec entries must be None, a mesh axis name or a tuple of names; got {entry!r}"
    )


class PartitionSpec:
    """One entry per array dimension: ``None`` (not split), a mesh axis name, or a tuple
    of names (split over their product, major first). Shorter than the array's rank
    means the remaining dimensions are not split."""

    __slots__ = ("_partitions", "unreduced", "reduced")

    def __init__(self, *partitions: Any, unreduced: Any = frozenset(), reduced: Any = frozenset()):
        self._partitions = tuple(_canonical_entry(p) for p in partitions)
        self.unreduced = frozenset(unreduced)
        self.reduced = frozenset(reduced)
        if self.reduced:
            from .unreduced import install_reduced_reshard

            install_reduced_reshard()

    @property
    def partitions(self) -> tuple:
        """The entries, one per leading dimension (without unreduced/reduced axes)."""
        return self._partitions

    def __len__(self) -> int:
        return len(self._partitions)

    def __iter__(self):
        return iter(self._partitions)

    def __getitem__(self, i):
        return self._partitions[i]

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, PartitionSpec)
            and self._partitions == other._partitions
            and self.unreduced == other.unreduced
            and self.reduced == other.reduced
        )

    def __hash__(self) -> int:
        return hash((self._partitions, self.unreduced, self.reduced))

    def __repr__(self) -> str:
        parts = repr(self._partitions)[1:-1]
        extra = []
        if self.unreduced:
            extra.append(f"unreduced={set(self.unreduced)!r}")
        if self.reduced:
            extra.append(f"reduced={set(self.reduced)!r}")
        if not extra:
            return f"P({parts})"
        # as JAX's: "P(None, unreduced=...)" after one entry, not "P(None,, ...)"
        parts = "" if not parts else f"{parts} " if parts.endswith(",") else f"{parts}, "
        return f"P({parts}{', '.join(extra)})"

    __str__ = __repr__

    def _normalized(self, ndim: int) -> tuple:
        return self._partitions + (None,) * (ndim - len(self._partitions))

    def _axes_of(self, dim: int) -> tuple:
        """The mesh axes dimension ``dim`` is split over, major first."""
        if dim >= len(self._partitions):
            return ()
        entry = self._partitions[dim]
        if entry is None or entry is UNCONSTRAINED:
            return ()
        return (entry,) if isinstance(entry, str) else entry

    def _used_axes(self) -> list:
        return [a for d in range(len(self._partitions)) for a in self._axes_of(d)]


P = PartitionSpec


# the kinds a sharding over an AbstractMesh may name (no devices to ask), as JAX's
_VALID_KINDS = ("device", "pinned_host", "unpinned_host")


def check_memory_kind(devices: Sequence[Any], memory_kind: Any) -> str | None:
    """``memory_kind`` if the first device can address it (None: the default memory's
    kind), else JAX's ValueError listing the kinds it can."""
    if not devices:
        return memory_kind
    device = devices[0]
    try:
        kinds = [m.kind for m in device.addressable_memories()]
        default = device.default_memory().kind
    except Exception:  # a client without memories: only the default
        return memory_kind
    if memory_kind is None:
        return default
    if memory_kind not in kinds:
        kind = device.device_kind
        raise ValueError(
            f"Could not find memory addressable by device {kind}. Device {kind} can address "
            f"the following memory kinds: {', '.join(kinds)}. Got memory kind: {memory_kind}"
        )
    return memory_kind


class Sharding:
    """Base of the engine's shardings (what ``x.sharding`` returns)."""

    memory_kind: str | None = "device"

    def with_memory_kind(self, kind: str) -> Sharding:
        raise NotImplementedError(f"{type(self).__name__}.with_memory_kind")

    @property
    def device_set(self) -> set:
        return set(self._device_assignment)

    @property
    def num_devices(self) -> int:
        return len(self._device_assignment)

    @property
    def addressable_devices(self) -> set:
        return self.device_set

    @property
    def is_fully_addressable(self) -> bool:
        return True

    def addressable_devices_indices_map(self, shape: Sequence[int]) -> dict:
        return self.devices_indices_map(shape)

    def shard_shape(self, shape: Sequence[int]) -> tuple:
        raise NotImplementedError

    def devices_indices_map(self, shape: Sequence[int]) -> dict:
        raise NotImplementedError


class SingleDeviceSharding(Sharding):
    """The whole array on one device."""

    def __init__(self, device: Any, *, memory_kind: str | None = None):
        self._device = device
        self._device_assignment = (device,)
        if memory_kind is not None:
            self.memory_kind = check_memory_kind((device,), memory_kind)

    def with_memory_kind(self, kind: str) -> SingleDeviceSharding:
        return SingleDeviceSharding(self._device, memory_kind=kind)

    @property
    def device(self):
        return self._device

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def shard_shape(self, shape: Sequence[int]) -> tuple:
        return tuple(shape)

    def devices_indices_map(self, shape: Sequence[int]) -> dict:
        return {self._device: (slice(None),) * len(shape)}

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, SingleDeviceSharding)
            and other._device == self._device
            and other.memory_kind == self.memory_kind
        )

    def __hash__(self) -> int:
        return hash(("single", self._device, self.memory_kind))

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})"


class NamedSharding(Sharding):
    """``mesh`` plus a ``PartitionSpec`` naming which mesh axes split which dimension."""

    def __init__(self, mesh: Mesh | AbstractMesh, spec: PartitionSpec, *, memory_kind: Any = None):
        if not isinstance(mesh, (Mesh, AbstractMesh)):
            raise TypeError(f"NamedSharding expects a Mesh, got {type(mesh).__name__}")
        if not isinstance(spec, PartitionSpec):
            raise TypeError(
                f"NamedSharding expects a PartitionSpec (jax.P), got {type(spec).__name__} {spec!r}"
            )
        self.mesh, self.spec = mesh, spec
        self._device_assignment = mesh._flat_devices if isinstance(mesh, Mesh) else ()
        if isinstance(mesh, AbstractMesh):
            if memory_kind is not None and memory_kind not in _VALID_KINDS:
                raise ValueError(
                    f"Got invalid memory kind: {memory_kind}. Valid memory kinds are: "
                    f"{', '.join(_VALID_KINDS)}"
                )
            self.memory_kind = memory_kind  # as JAX: none for a sharding on an abstract mesh
        elif memory_kind is not None:
            self.memory_kind = check_memory_kind(self._device_assignment, memory_kind)
        check_spec_axes(mesh, spec)

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        return (
            isinstance(other, NamedSharding)
            and self.mesh == other.mesh
            and self.spec == other.spec
            and self.memory_kind == other.memory_kind
        )

    def __hash__(self) -> int:
        return hash((self.mesh, self.spec, self.memory_kind))

    def __repr__(self) -> str:
        mesh = self.mesh._short_repr() if isinstance(self.mesh, Mesh) else repr(self.mesh)
        memory = "" if self.memory_kind is None else f", memory_kind={self.memory_kind}"
        return f"NamedSharding(mesh={mesh}, spec={self.spec!r}{memory})"

    def with_spec(self, spec: PartitionSpec) -> NamedSharding:
        return NamedSharding(self.mesh, spec, memory_kind=self._given_kind())

    def with_memory_kind(self, kind: str) -> NamedSharding:
        return NamedSharding(self.mesh, self.spec, memory_kind=kind)

    def _given_kind(self) -> str | None:
        return None if self.memory_kind == "device" else self.memory_kind

    def _parts_per_dim(self, ndim: int) -> list:
        sizes = self.mesh.shape
        return [math.prod(sizes[a] for a in self.spec._axes_of(d)) for d in range(ndim)]

    @property
    def is_fully_replicated(self) -> bool:
        sizes = self.mesh.shape
        return all(sizes[a] == 1 for a in self.spec._used_axes())

    def shard_shape(self, shape: Sequence[int]) -> tuple:
        check_rank(self, len(shape))
        out = []
        for d, (n, parts) in enumerate(zip(shape, self._parts_per_dim(len(shape)))):
            if n % parts:
                raise ValueError(uneven_message(self, tuple(shape), d, parts))
            out.append(n // parts)
        return tuple(out)

    def devices_indices_map(self, shape: Sequence[int]) -> dict:
        shape = tuple(shape)
        block = self.shard_shape(shape)
        if self.spec.unreduced:  # each device holds a partial sum, not a block
            raise NotImplementedError(
                "device_indices_map doesn't work with unreduced. Please file a bug at "
                "https://github.com/jax-ml/jax/issues"
            )
        coords = _device_coords(self.mesh)
        sizes = self.mesh.shape
        out = {}
        for device, coord in coords.items():
            index = []
            for d in range(len(shape)):
                axes = self.spec._axes_of(d)
                if not axes:
                    index.append(slice(None))
                    continue
                i = 0
                for a in axes:
                    i = i * sizes[a] + coord[a]
                index.append(slice(i * block[d], (i + 1) * block[d]))
            out[device] = tuple(index)
        return out

    # -- what XLA reads
    def _hlo_sharding(self, ndim: int):
        """jaxlib's HloSharding: the mesh's device grid transposed so that each array
        dimension's axes come first (in order), the unused axes last (replicated)."""
        return _hlo_sharding(self.mesh, self.spec, ndim)

    def _sdy_text(self, ndim: int, mesh_name: str = "mesh") -> str:
        dims = []
        for d in range(ndim):
            axes = self.spec._axes_of(d)
            dims.append("{" + ", ".join(f'"{a}"' for a in axes) + "}")
        return f"#sdy.sharding<@{mesh_name}, [{', '.join(dims)}]>"


def check_spec_axes(mesh, spec: PartitionSpec):
    names = set(mesh.axis_names)
    used = spec._used_axes()
    for a in used:
        if a not in names:
            raise ValueError(
                f"Resource axis: {a} of {spec!r} is not found in mesh: {tuple(mesh.axis_names)}."
            )
    seen = set()
    for a in used:
        if a in seen:
            raise DuplicateSpecError(
                "A single NamedSharding spec specification can map every mesh axis to at "
                f"most one positional dimension, but {spec!r} has duplicate entries for `{a}`"
            )
        seen.add(a)


def check_rank(sharding: NamedSharding, ndim: int):
    if len(sharding.spec) > ndim:
        raise ValueError(
            f"One of device_put args was given the sharding of {sharding!r}, which implies "
            f"that the global size of its dimension {len(sharding.spec) - 1} should be "
            f"divisible by its partition count, but the array has rank {ndim}: the "
            f"PartitionSpec {sharding.spec!r} has more entries than the array has dimensions."
        )


def uneven_message(sharding: NamedSharding, shape: tuple, dim: int, parts: int) -> str:
    mesh = sharding.mesh.abstract_mesh
    spec = sharding.spec
    # as JAX's: the axes of that dimension, and the spec with one entry per dimension
    padded = PartitionSpec(
        *spec._normalized(len(shape)), unreduced=spec.unreduced, reduced=spec.reduced
    )
    return (
        f"Sharding spec {spec._axes_of(dim)} implies that array axis {dim} is partitioned "
        f"{parts} times, but does not evenly divide the dimension size {shape[dim]}. Got "
        f"shape: {shape} and sharding NamedSharding(mesh={mesh!r}, spec={padded!r})"
    )


def _device_coords(mesh: Mesh) -> dict:
    return _coords_cached(mesh)


@functools.lru_cache(maxsize=64)
def _coords_cached(mesh: Mesh) -> dict:
    out = {}
    for idx in np.ndindex(*mesh.axis_sizes):
        out[mesh.devices[idx]] = dict(zip(mesh.axis_names, idx))
    return out


@functools.lru_cache(maxsize=256)
def _hlo_sharding(mesh: Mesh, spec: PartitionSpec, ndim: int):
    names = list(mesh.axis_names)
    sizes = mesh.shape
    order, dims = [], []
    for d in range(ndim):
        axes = spec._axes_of(d)
        order.extend(names.index(a) for a in axes)
        dims.append(math.prod(sizes[a] for a in axes))
    # unreduced axes (of size > 1, as JAX's) are a subgroup of their own, as XLA's
    unreduced = [i for i, a in enumerate(names) if a in spec.unreduced and sizes[a] > 1]
    rest = [i for i in range(len(names)) if i not in order and i not in unreduced]
    replicated = math.prod(mesh.axis_sizes[i] for i in rest)
    # Positions in the mesh's device tuple: the logical ids of a program whose device
    # assignment is that tuple (and of jaxlib's sharding over it).
    ids = np.arange(mesh.size).reshape(mesh.axis_sizes)
    ids = np.transpose(ids, order + unreduced + rest).reshape(-1)
    op = xc.OpSharding()
    if all(n == 1 for n in dims) and not unreduced:
        op.type = xc.OpSharding.Type.REPLICATED
        return xc.HloSharding.from_proto(op)
    op.type = xc.OpSharding.Type.OTHER
    op.tile_assignment_devices = [int(i) for i in ids]
    if unreduced:
        subgroups = [math.prod(mesh.axis_sizes[i] for i in unreduced)]
        op.last_tile_dims = [xc.OpSharding.Type.UNREDUCED]
        if replicated > 1:
            subgroups.append(replicated)
            op.last_tile_dims = [xc.OpSharding.Type.UNREDUCED, xc.OpSharding.Type.REPLICATED]
        op.tile_assignment_dimensions = dims + subgroups
        return xc.HloSharding.from_proto(op)
    op.tile_assignment_dimensions = dims + ([replicated] if replicated > 1 else [])
    op.replicate_on_last_tile_dim = replicated > 1
    return xc.HloSharding.from_proto(op)


def spec_from_hlo(mesh: Mesh, hlo, ndim: int) -> PartitionSpec | None:
    """The PartitionSpec over ``mesh`` whose layout is ``hlo`` (trailing unsplit
    dimensions dropped, as JAX prints them), or None if none is."""
    return _spec_from_hlo(mesh, str(hlo), ndim, hlo)


@functools.lru_cache(maxsize=512)
def _spec_from_hlo(mesh, text, ndim, hlo):
    # Over Explicit axes JAX's types give every dimension an entry (P('x', None)).
    explicit = any(t.name == "Explicit" for t in mesh.axis_types)
    if hlo.is_replicated():
        return PartitionSpec(*([None] * ndim)) if explicit else PartitionSpec()
    axes = [a for a, n in zip(mesh.axis_names, mesh.axis_sizes) if n > 1]
    # an axis is unreduced (-2), replicated (-1) or splits a dimension
    unreduced_hlo = hlo.is_unreduced() or xc.OpSharding.Type.UNREDUCED in hlo.subgroup_types()
    lowest = -2 if unreduced_hlo else -1
    for assignment in _assignments(len(axes), ndim, lowest):
        entries = [[] for _ in range(ndim)]
        for a, d in zip(axes, assignment):
            if d >= 0:
                entries[d].append(a)
        unreduced = frozenset(a for a, d in zip(axes, assignment) if d == -2)
        for entry_orders in _orders(entries):
            spec = _trimmed(entry_orders, keep_rank=explicit, unreduced=unreduced)
            if _hlo_sharding(mesh, spec, ndim) == hlo:
                return spec
    return None


def _assignments(n_axes, ndim, lowest=-1):
    if n_axes == 0:
        yield ()
        return
    for rest in _assignments(n_axes - 1, ndim, lowest):
        for d in range(lowest, ndim):
            yield (d, *rest)


def _orders(entries):
    yield from itertools.product(*(itertools.permutations(e) for e in entries))


def _trimmed(entries, keep_rank: bool = False, unreduced=frozenset()) -> PartitionSpec:
    parts = [None if not e else (e[0] if len(e) == 1 else tuple(e)) for e in entries]
    while parts and parts[-1] is None and not keep_rank:
        parts.pop()
    return PartitionSpec(*parts, unreduced=unreduced)


def make_single_device_sharding(device: Any) -> SingleDeviceSharding:
    return SingleDeviceSharding(device)
