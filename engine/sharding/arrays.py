"""Sharded arrays: putting values onto a mesh, reading their shards, building them from
per-device pieces, and ``typeof``.

A sharded ``Array`` wraps one jaxlib array made of per-device buffers; its ``_device``
is the runtime's ``DeviceGroup`` of its mesh (so every array of one mesh shares a
placement, as one-device arrays share a device) and its sharding is read from the
buffer's layout and that mesh."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import core, dtypes, runtime
from .mesh import AbstractMesh, Mesh
from .named import (
    NamedSharding,
    PartitionSpec,
    Sharding,
    SingleDeviceSharding,
    check_rank,
    spec_from_hlo,
)
from .placement import mem_kind_to_space


@dataclasses.dataclass(frozen=True)
class Shard:
    """One device's block of an array: ``data`` is that block as a one-device Array."""

    device: Any
    index: tuple
    replica_id: int
    data: Any

    def __repr__(self) -> str:
        return (
            f"Shard(device={self.device!r}, index={self.index}, replica_id={self.replica_id}, "
            f"data={self.data})"
        )


class GSPMDSharding(Sharding):
    """A layout XLA chose that no PartitionSpec over the array's mesh describes."""

    def __init__(self, devices: tuple, hlo):
        self._device_assignment = tuple(devices)
        self._hlo = hlo

    @property
    def is_fully_replicated(self) -> bool:
        return self._hlo.is_replicated()

    def devices_indices_map(self, shape: Sequence[int]) -> dict:
        indices = runtime.hlo_device_indices(self._hlo, shape)
        if indices is None:
            return {d: (slice(None),) * len(shape) for d in self._device_assignment}
        return {self._device_assignment[p]: idx for p, idx in indices.items()}

    def shard_shape(self, shape: Sequence[int]) -> tuple:
        index = next(iter(self.devices_indices_map(shape).values()))
        return tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, GSPMDSharding)
            and self._device_assignment == other._device_assignment
            and self._hlo == other._hlo
        )

    def __hash__(self) -> int:
        return hash((self._device_assignment, str(self._hlo)))

    def __repr__(self) -> str:
        return f"GSPMDSharding({self._hlo}, memory_kind=device)"


def mesh_of_group(group: runtime.DeviceGroup) -> Mesh:
    if group.meshes:
        return group.meshes[-1]
    return Mesh(np.array(group.devices, dtype=object), ("_",))


def sharding_of_buffer(buf, group: runtime.DeviceGroup, ndim: int) -> Sharding:
    """The NamedSharding (over the latest mesh on ``group`` that describes it) of a
    jaxlib array; a GSPMDSharding if no mesh does."""
    hlo = runtime.hlo_of_buffer(buf)
    kind = runtime.buffer_memory_kind(buf)
    for mesh in reversed(group.meshes):
        spec = spec_from_hlo(mesh, hlo, ndim)
        if spec is not None:
            return NamedSharding(mesh, spec, memory_kind=None if kind == "device" else kind)
    return GSPMDSharding(group.devices, hlo)


def _laid_out_otherwise(aval, sharding) -> bool:
    typed = aval.sharding
    if typed is None or type(sharding) is not NamedSharding:
        return False
    have, want = sharding.spec, typed.spec
    if have._partitions == want._partitions:  # (the usual case, checked first: cheap)
        return False
    if want.unreduced or want.reduced or have.unreduced:
        return False
    mesh = sharding.mesh
    if mesh.abstract_mesh != typed.mesh:
        return False
    from .mesh import AxisType

    explicit = [a for a, t in zip(mesh.axis_names, mesh.axis_types) if t == AxisType.Explicit]
    return any(
        tuple(a for a in have._axes_of(d) if a in explicit) != want._axes_of(d)
        for d in range(len(aval.shape))
    )


def wrap(buf, aval, group: runtime.DeviceGroup, sharding: Sharding | None = None):
    """An engine Array of a sharded jaxlib array (``sharding`` if known)."""
    from ..array import Array

    kind = getattr(sharding, "memory_kind", None)
    if kind is not None and aval.memory_space is not mem_kind_to_space(kind):
        aval = aval.update(memory_space=mem_kind_to_space(kind))  # (its type says where)
    if sharding is not None and aval.sharding is None:
        from .in_types import typed_aval

        aval = typed_aval(aval, sharding)
    elif _laid_out_otherwise(aval, sharding):
        # a result placed by jit's out_shardings is typed as laid out (JAX's typeof reads
        # the array's sharding); unreduced and reduced types are kept as they are
        from .in_types import typed_aval

        aval = typed_aval(aval.update(sharding=None), sharding)
    x = Array(buf, aval, group, True)
    if sharding is not None:
        x._sharding = sharding
    return x


def host_value(x) -> np.ndarray:
    from ..array import Array

    if isinstance(x, Array):
        return np.asarray(x._value(explicit=True))
    return np.asarray(x)


def put(x: Any, sharding: Any, *, weak_type: bool | None = None):
    """``device_put(x, sharding)`` for one leaf."""
    from .. import dispatch
    from ..array import Array

    if isinstance(sharding, SingleDeviceSharding):
        y = dispatch.device_put_value(x, sharding.device, committed=True, explicit=True)
        kind = sharding.memory_kind
        if kind is not None and runtime.buffer_memory_kind(y._buf) != kind:
            aval = y.aval.update(memory_space=mem_kind_to_space(kind))  # (its type says so)
            y = Array(runtime.copy_to_memory(y._buf, kind), aval, y._device, True)
        return y
    if isinstance(sharding, PartitionSpec):
        from .mesh import get_mesh

        mesh = get_mesh()
        if mesh is None:
            raise ValueError(
                "device_put with a PartitionSpec needs a mesh: use jax.set_mesh(mesh) or "
                "pass NamedSharding(mesh, spec)"
            )
        sharding = NamedSharding(mesh, sharding)
    if not isinstance(sharding, NamedSharding):
        raise TypeError(f"device_put expects a Device or Sharding, got {sharding!r}")
    if not isinstance(sharding.mesh, Mesh):
        # (JAX's words, even under set_mesh: device_put needs the devices themselves)
        raise ValueError(
            "is_fully_addressable is not implemented for `jax.sharding.AbstractMesh`. "
            f"device_put needs a NamedSharding over a concrete Mesh, got {sharding!r}"
        )
    if isinstance(x, core.Tracer):
        raise NotImplementedError(
            "device_put of a traced value onto a NamedSharding (use "
            "lax.with_sharding_constraint inside jit)"
        )
    if isinstance(x, Array) and hasattr(x.aval.dtype, "physical_shape"):
        # typed keys: their data placed (the key axes whole on each device), wrapped again
        data = put(Array(x._buf, core.physical_aval(x.aval), x._device, x._committed), sharding)
        return Array(data._buf, x.aval, data._device, data._committed)
    if isinstance(x, Array):
        aval = x.aval
        if x._device is sharding.mesh._group and getattr(x, "sharding", None) == sharding:
            return x
    else:
        aval = core.get_aval(x)
        if weak_type is not None:
            aval = aval.update(weak_type=weak_type)
    ndim = len(aval.shape)
    _check_layout(sharding, tuple(aval.shape))
    if _holds_partial_sums(x):  # (a reshard sums them by a program: _put_unreduced)
        raise NotImplementedError(
            "device_indices_map doesn't work with unreduced. Please file a bug at "
            "https://github.com/jax-ml/jax/issues"
        )
    if sharding.spec.unreduced:
        return _put_unreduced(x, sharding, aval)
    value = host_value(x)
    if value.dtype != aval.dtype:
        value = value.astype(aval.dtype)
    group = sharding.mesh._group
    hlo = sharding._hlo_sharding(ndim)
    kind = sharding.memory_kind
    buf = runtime.put_sharded(
        value,
        group,
        hlo,
        runtime._Aval(aval.shape, aval.dtype, aval.weak_type),
        memory_kind=None if kind == "device" else kind,
    )
    return wrap(buf, aval.update(sharding=None), group, sharding)  # typed anew


def _identity(x):
    return x


def _holds_partial_sums(x) -> bool:
    """An unreduced Array: its devices hold partial sums, moved by a program (as JAX's)."""
    from ..array import Array

    if not isinstance(x, Array) or type(x._device) is not runtime.DeviceGroup:
        return False
    return bool(getattr(getattr(x.sharding, "spec", None), "unreduced", None))


def _put_unreduced(x, sharding: NamedSharding, aval):
    """``x`` made unreduced over some mesh axes, as JAX does it: a partitioned identity
    whose result is annotated unreduced, so XLA's partitioner decides which part of the
    value each device keeps (the rest zero-filled; the parts sum to the value)."""
    from ..array import Array
    from ..jit import jit

    if not (isinstance(x, Array) and x._device is sharding.mesh._group):
        x = put(x, NamedSharding(sharding.mesh, PartitionSpec(*sharding.spec)))
    out = jit(_identity, out_shardings=sharding)(x)
    return wrap(out._buf, aval.update(sharding=None), sharding.mesh._group, sharding)


def _check_layout(sharding: NamedSharding, shape: tuple):
    if len(sharding.spec) > len(shape):
        raise ValueError(
            f"One of device_put args is incompatible with its sharding annotation "
            f"{sharding!r}: Sharding {sharding!r} is only valid for values of rank at least "
            f"{len(sharding.spec)}, but was applied to a value of rank {len(shape)}."
        )
    check_rank(sharding, len(shape))
    # as JAX: the value's type (its Explicit axes) is checked first, with the typed
    # spec in the message; a split over Auto axes fails at the layout (IndivisibleError)
    from .in_types import type_sharding
    from .jit_shardings import check_divisible_shape

    typed = type_sharding(sharding, len(shape))
    if typed is not None:
        typed.shard_shape(shape)
    check_divisible_shape(sharding, shape)


def addressable_shards(x) -> list:
    """The shards of Array ``x`` (one for a one-device array)."""
    from ..array import Array

    if type(x._device) is not runtime.DeviceGroup:
        index = (slice(None),) * x.ndim
        return [Shard(x._device, index, 0, x)]
    sharding = x.sharding
    make = Shard
    if getattr(getattr(sharding, "spec", None), "unreduced", None):
        # each device holds a partial sum of its block of the partitions
        make = _PartialSumShard
        sharding = NamedSharding(sharding.mesh, PartitionSpec(*sharding.spec.partitions))
    indices = sharding.devices_indices_map(x.shape)
    group = x._device
    seen: dict = {}
    out = []
    for device, buf in zip(runtime.addressable(group.devices), runtime.shard_buffers(x._buf)):
        index = indices[device]
        key = tuple((s.start, s.stop) for s in index)
        replica = seen.get(key, 0)
        seen[key] = replica + 1
        # from the index, not buf.aval: jaxlib leaves a split-off buffer's aval None
        # where it cannot import jax
        shape = tuple(len(range(*s.indices(n))) for s, n in zip(index, x.shape))
        aval = core.ShapedArray(shape, x.dtype, x.weak_type)
        out.append(make(device, index, replica, Array(buf, aval, device, True)))
    return out


class _PartialSumShard(Shard):
    """A shard of an unreduced array: its data is a partial sum, with no index into the
    array's value (reading ``index`` raises JAX's error)."""

    def __getattribute__(self, name: str) -> Any:
        if name == "index":
            raise NotImplementedError(
                "device_indices_map doesn't work with unreduced. Please file a bug at "
                "https://github.com/jax-ml/jax/issues"
            )
        return super().__getattribute__(name)


def make_array_from_callback(
    shape: Sequence[int], sharding: Sharding, data_callback: Callable[[tuple], Any]
):
    """An array of ``shape`` laid out as ``sharding``, each device's block made by
    ``data_callback(index)``."""
    shape = tuple(shape)
    if isinstance(sharding, SingleDeviceSharding):
        value = np.asarray(data_callback((slice(None),) * len(shape)))
        return put(value, sharding)
    _check_layout(sharding, shape)
    group = sharding.mesh._group
    blocks, dtype = [], None
    for device in runtime.addressable(group.devices):
        index = sharding.devices_indices_map(shape)[device]
        block = np.asarray(host_value(data_callback(index)))
        dtype = dtypes.canonicalize_dtype(block.dtype) if dtype is None else dtype
        blocks.append(runtime.device_put(block.astype(dtype, copy=False), device))
    expect = sharding.shard_shape(shape)
    for b in blocks:
        if tuple(b.aval.shape) != expect:
            raise ValueError(
                f"make_array_from_callback: data_callback returned a block of shape "
                f"{tuple(b.aval.shape)}, expected {expect} for sharding {sharding!r}"
            )
    aval = core.ShapedArray(shape, np.dtype(dtype))
    buf = runtime.assemble(
        runtime._Aval(shape, np.dtype(dtype)), group, sharding._hlo_sharding(len(shape)), blocks
    )
    return wrap(buf, aval, group, sharding)


def make_array_from_single_device_arrays(shape: Sequence[int], sharding: Sharding, arrays: list):
    """An array of ``shape`` laid out as ``sharding`` from one one-device Array per
    device (each on its device, holding that device's block)."""
    shape = tuple(shape)
    if isinstance(sharding, SingleDeviceSharding):
        if len(arrays) != 1:
            raise ValueError(f"expected 1 array for {sharding!r}, got {len(arrays)}")
        return arrays[0]
    _check_layout(sharding, shape)
    group = sharding.mesh._group
    local = runtime.addressable(group.devices)  # all of them in a one-process run
    if len(arrays) != len(local):
        raise ValueError(
            f"make_array_from_single_device_arrays: got {len(arrays)} arrays for a sharding "
            f"over {len(local)} devices of this process"
        )
    by_device = {a._device: a for a in arrays}
    expect = sharding.shard_shape(shape)
    bufs = []
    for device in local:
        a = by_device.get(device)
        if a is None:
            raise ValueError(f"no array on {device} among the single-device arrays")
        if tuple(a.shape) != expect:
            raise ValueError(
                f"make_array_from_single_device_arrays: the array on {device} has shape "
                f"{tuple(a.shape)}, expected {expect} for sharding {sharding!r}"
            )
        bufs.append(a._buf)
    dtype = arrays[0].dtype
    aval = core.ShapedArray(shape, dtype, arrays[0].weak_type)
    buf = runtime.assemble(
        runtime._Aval(shape, dtype, aval.weak_type), group, sharding._hlo_sharding(len(shape)), bufs
    )
    return wrap(buf, aval, group, sharding)


def make_array_from_process_local_data(
    sharding: Sharding, local_data: Any, global_shape: Sequence[int] | None = None
):
    """In one process the local data is the whole array: ``device_put(data, sharding)``."""
    if runtime.process_index() != 0 or len(runtime.local_devices()) != len(runtime.devices()):
        from ..distributed import array_from_process_local_data

        return array_from_process_local_data(sharding, local_data, global_shape)
    value = host_value(local_data)
    if global_shape is not None and tuple(global_shape) != value.shape:
        raise ValueError(
            f"make_array_from_process_local_data: global_shape {tuple(global_shape)} differs "
            f"from the data's shape {value.shape} in a single-process run"
        )
    return put(value, sharding)


class ShapedArrayWithSharding(core.ShapedArray):
    """What ``typeof`` returns: the aval printed as JAX prints one (``float32[8,4]``,
    ``~float32[]`` for a weak type), with the mesh axes splitting each dimension over
    Explicit axes (``float32[8@x,4]``). Equal to the plain aval of the same type."""

    def __init__(
        self, shape, dtype, weak_type=False, sharding=None, vma=frozenset(), memory_space=None
    ):
        super().__init__(shape, dtype, weak_type, vma=vma, memory_space=memory_space)
        self.sharding = sharding

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, core.ShapedArray)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
            and _on_a_mesh(getattr(other, "sharding", None)) == _on_a_mesh(self.sharding)
        )

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def _text(self, short_dtypes: bool = False) -> str:
        sharding = self.sharding
        name = (
            dtypes.short_name(self.dtype)
            if short_dtypes
            else self.dtype.name.replace("void", "float0")
        )
        name += core.memory_space_suffix(self.memory_space)  # (float32<host>[3])
        if not isinstance(sharding, NamedSharding):
            return f"{name}[{','.join(map(str, self.shape))}]{core.vma_suffix(self.vma)}"
        mesh = sharding.mesh
        explicit = {a for a, t in zip(mesh.axis_names, mesh.axis_types) if t.name == "Explicit"}
        entries = []
        for d in range(len(self.shape)):
            axes = [a for a in sharding.spec._axes_of(d) if a in explicit]
            entries.append(None if not axes else axes[0] if len(axes) == 1 else tuple(axes))
        spec = sharding.spec
        shown = NamedSharding(
            mesh, PartitionSpec(*entries, unreduced=spec.unreduced, reduced=spec.reduced)
        )
        dims = core.sharded_dims_text(self.shape, shown)
        # JAX's {V:i, U:X, R:Y}: manual axes it varies over (shard_map), unreduced, reduced
        return f"{name}[{dims}]{core.axes_suffix(self.vma, shown)}"

    def str_short(self, short_dtypes: bool = False, **kwargs) -> str:
        return self._text(short_dtypes)

    def __str__(self) -> str:
        return ("~" if self.weak_type else "") + self._text()

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self._text()}{weak})"


def _on_a_mesh(sharding: Any) -> Any:
    """A type's sharding, with none on an empty mesh (JAX's default) read as None."""
    mesh = getattr(sharding, "mesh", None)
    return None if mesh is None or mesh.empty else sharding


def typeof(x: Any) -> core.ShapedArray:
    """The abstract value of ``x``, printed as JAX's; for an array on a mesh it shows
    the sharding."""
    from ..array import Array
    from .in_types import context_abstract_mesh, replicated_type
    from .mesh import get_abstract_mesh

    a = x.aval if isinstance(x, (Array, core.Tracer)) else core.get_aval(x)
    if getattr(type(a), "is_ref", False):  # an array ref's type (engine/state)
        return a
    sharding = a.sharding
    if sharding is None and isinstance(x, Array) and type(x._device) is runtime.DeviceGroup:
        sharding = _type_sharding(x.sharding, x.ndim, context_abstract_mesh())
    if sharding is None:  # no sharding in the type: replicated over the mesh in context
        sharding = replicated_type(get_abstract_mesh(), len(a.shape))
    return ShapedArrayWithSharding(
        a.shape, a.dtype, a.weak_type, sharding, vma=a.vma, memory_space=a.memory_space
    )


def _type_sharding(sharding: Any, ndim: int, context: AbstractMesh | None = None) -> Any:
    """The sharding a type carries, as JAX's: on the abstract mesh (``context`` where it
    has the same axes: auto_axes switches their types), one entry per dimension, naming
    only the Explicit axes (Auto axes are the compiler's business)."""
    if not isinstance(sharding, NamedSharding):
        return sharding
    from .mesh import AxisType

    mesh = sharding.mesh.abstract_mesh
    if context is not None and context.axis_names == mesh.axis_names:
        mesh = context
    types = dict(zip(mesh.axis_names, mesh.axis_types))
    entries = []
    for d in range(ndim):
        axes = tuple(a for a in sharding.spec._axes_of(d) if types[a] == AxisType.Explicit)
        entries.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return NamedSharding(mesh, PartitionSpec(*entries))
