"""Device meshes: ``Mesh`` (devices laid out on named axes), ``AbstractMesh`` (the same
axes without devices), ``AxisType``, ``make_mesh`` and the ambient mesh of ``set_mesh``."""

from __future__ import annotations

import enum
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import runtime


class AxisType(enum.Enum):
    """How a mesh axis is partitioned: by XLA (Auto), by the user's types (Explicit), or
    by hand inside ``shard_map`` (Manual)."""

    Auto = enum.auto()
    Explicit = enum.auto()
    Manual = enum.auto()

    def __repr__(self) -> str:
        return self.name


def _axis_names(names) -> tuple:
    return (names,) if isinstance(names, str) else tuple(names)


def _axis_types(names: tuple, types, default: AxisType) -> tuple:
    if types is None:
        return (default,) * len(names)
    if isinstance(types, AxisType):
        types = (types,)
    types = tuple(types)
    if len(types) != len(names):
        raise ValueError(
            f"Number of axis names ({len(names)}) should match the number of "
            f"axis_types ({len(types)}). Got axis_names={names} and axis_types={types}"
        )
    for t in types:
        if not isinstance(t, AxisType):
            raise TypeError(f"axis_types must be AxisType values, got {t!r}")
    return types


def _check_unique(names: tuple):
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"Mesh axis names must be unique, got duplicates {dup} in {names}")


class _BaseMesh:
    axis_names: tuple
    axis_sizes: tuple
    axis_types: tuple

    @property
    def shape(self) -> OrderedDict:
        return OrderedDict(zip(self.axis_names, self.axis_sizes))

    @property
    def shape_tuple(self) -> tuple:
        return tuple(zip(self.axis_names, self.axis_sizes))

    @property
    def size(self) -> int:
        return math.prod(self.axis_sizes)

    @property
    def empty(self) -> bool:
        return not self.axis_names

    def axis_size(self, name) -> int:
        return self.shape[name]

    def _short_axes(self) -> str:
        return ", ".join(f"'{n}': {s}" for n, s in zip(self.axis_names, self.axis_sizes))

    def _axis_types_text(self) -> str:
        inner = ", ".join(repr(t) for t in self.axis_types)
        return f"({inner},)" if len(self.axis_types) == 1 else f"({inner})"


class AbstractMesh(_BaseMesh):
    """A mesh's axis names, sizes and types, without devices (what tracing sees)."""

    def __init__(
        self,
        axis_sizes: Sequence[int],
        axis_names: Sequence[str],
        axis_types: Any = None,
        *,
        _device_kind: str | None = None,
        _platform: str | None = None,
    ):
        self.axis_sizes = tuple(int(s) for s in axis_sizes)
        self.axis_names = _axis_names(axis_names)
        if len(self.axis_sizes) != len(self.axis_names):
            raise ValueError(
                f"AbstractMesh needs as many axis sizes as names, got {self.axis_sizes} "
                f"and {self.axis_names}"
            )
        _check_unique(self.axis_names)
        self.axis_types = _axis_types(self.axis_names, axis_types, AxisType.Auto)
        self._device_kind, self._platform = _device_kind, _platform

    def _key(self):
        return (self.axis_sizes, self.axis_names, self.axis_types)

    def __eq__(self, other) -> bool:
        return isinstance(other, AbstractMesh) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def abstract_mesh(self) -> AbstractMesh:
        return self

    def __repr__(self) -> str:
        if self.empty:
            return "AbstractMesh((), axis_types=())"
        extra = ""
        if self._platform is not None:
            extra = f", device_kind={self._device_kind}, num_cores=None, platform={self._platform}"
        return f"AbstractMesh({self._short_axes()}, axis_types={self._axis_types_text()}{extra})"


class Mesh(_BaseMesh):
    """``devices`` (an array of jaxlib devices) with one name per array axis."""

    def __init__(self, devices: Any, axis_names: Any, axis_types: Any = None):
        if not isinstance(devices, np.ndarray):
            devices = np.array(devices, dtype=object)
        names = _axis_names(axis_names)
        if devices.ndim != len(names):
            raise ValueError(
                "Mesh requires the ndim of its first argument (`devices`) to equal the "
                "length of its second argument (`axis_names`), but got "
                f"devices.ndim == {devices.ndim} and len(axis_names) == {len(names)}."
            )
        _check_unique(names)
        flat = tuple(devices.flat)
        if len(set(flat)) != len(flat):
            raise ValueError(f"Mesh devices must be distinct, got {list(flat)}")
        self.devices = devices
        self.devices.flags.writeable = False
        self.axis_names = names
        self.axis_sizes = tuple(devices.shape)
        self.axis_types = _axis_types(names, axis_types, AxisType.Auto)
        self._flat_devices = flat
        self._abstract = None
        self._hash = None

    def _key(self):
        return (self.axis_names, self.axis_sizes, self.axis_types, self._flat_devices)

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        return isinstance(other, Mesh) and self._key() == other._key()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._key())
        return self._hash

    @property
    def _group(self) -> runtime.DeviceGroup:
        """The runtime's placement for arrays and programs over this mesh's devices."""
        return runtime.DeviceGroup(self._flat_devices, self)

    @property
    def device_ids(self) -> np.ndarray:
        return np.vectorize(lambda d: d.id, otypes=[int])(self.devices)

    @property
    def local_devices(self) -> list:
        """The mesh's devices this process holds (all of them in a one-process run)."""
        return runtime.addressable(self._flat_devices)

    @property
    def is_multi_process(self) -> bool:
        return len(self.local_devices) != len(self._flat_devices)

    @property
    def local_mesh(self) -> Mesh:
        """The block of this mesh held by this process, as a mesh of the same axes."""
        mine = np.vectorize(lambda d: d.process_index == d.client.process_index(), otypes=[bool])(
            self.devices
        )
        where = np.nonzero(mine)
        box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in where)
        if not where[0].size or mine[box].size != int(mine.sum()):
            raise ValueError(
                "this process's devices do not form one block of the mesh, so it has no local mesh"
            )
        return Mesh(self.devices[box], self.axis_names, self.axis_types)

    @property
    def abstract_mesh(self) -> AbstractMesh:
        if self._abstract is None:
            first = self._flat_devices[0] if self._flat_devices else None
            self._abstract = AbstractMesh(
                self.axis_sizes,
                self.axis_names,
                self.axis_types,
                _device_kind=getattr(first, "device_kind", None),
                _platform=None if first is None else first.platform,
            )
        return self._abstract

    def __enter__(self) -> Mesh:
        _state.stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _state.stack.pop()

    def __repr__(self) -> str:
        return (
            f"Mesh(axis_sizes={self.axis_sizes}, axis_names={self.axis_names}, "
            f"axis_types={self._axis_types_text()})"
        )

    def _short_repr(self) -> str:
        return f"Mesh({self._short_axes()}, axis_types={self._axis_types_text()})"

    def __str__(self) -> str:
        return "Mesh()" if self.empty else self._short_repr()


def make_mesh(
    axis_shapes: Sequence[int],
    axis_names: Sequence[str],
    axis_types: Any = None,
    *,
    devices: Sequence[Any] | None = None,
) -> Mesh:
    """A mesh of ``axis_shapes`` over the first ``prod(axis_shapes)`` devices; its axes
    are Explicit unless ``axis_types`` says otherwise (as in JAX 0.10.2)."""
    axis_shapes = tuple(int(s) for s in axis_shapes)
    names = _axis_names(axis_names)
    if len(axis_shapes) != len(names):
        raise ValueError(
            "Mesh requires the ndim of its first argument (`devices`) to equal the "
            "length of its second argument (`axis_names`), but got "
            f"devices.ndim == {len(axis_shapes)} and len(axis_names) == {len(names)}."
        )
    devices = list(runtime.devices() if devices is None else devices)
    need = math.prod(axis_shapes)
    if len(devices) < need:
        raise ValueError(
            f"Number of devices {len(devices)} must be >= the product of mesh_shape {axis_shapes}"
        )
    grid = np.empty(need, dtype=object)
    grid[:] = devices[:need]
    types = _axis_types(names, axis_types, AxisType.Explicit)
    return Mesh(grid.reshape(axis_shapes), names, types)


class _MeshState(threading.local):
    def __init__(self):
        self.stack: list = []


_state = _MeshState()


def get_mesh() -> Mesh | None:
    """The mesh set by ``set_mesh`` (or ``with mesh:``), or None."""
    stack = _state.stack
    return stack[-1] if stack else None


def get_abstract_mesh() -> AbstractMesh:
    """The mesh tracing sees: set by ``use_abstract_mesh`` (or auto_axes/explicit_axes),
    else the abstract mesh of the concrete mesh in context."""
    from .in_types import context_abstract_mesh

    override = context_abstract_mesh()
    if override is not None:
        return override
    mesh = get_mesh()
    return AbstractMesh((), ()) if mesh is None else mesh.abstract_mesh


class set_mesh:  # noqa: N801  (a class, as JAX's, so a notebook shows the same object)
    """Make ``mesh`` the ambient mesh now; as a context manager (``with set_mesh(mesh):``),
    until exit."""

    def __init__(self, mesh: Mesh):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"set_mesh expects a Mesh, got {type(mesh).__name__}")
        self.mesh = mesh
        self._previous = list(_state.stack)
        _state.stack[:] = [mesh]

    def __enter__(self) -> None:  # as JAX's: ``with set_mesh(m) as v`` binds None
        return None

    def __exit__(self, *exc) -> None:
        _state.stack[:] = self._previous


def iter_mesh_devices(mesh: Mesh) -> Iterator:
    return iter(mesh._flat_devices)
