"""Abstract values: ``ShapedArray`` (shape, dtype, weak type, sharding, varying manual
axes, memory space) and the text of their types as JAX prints them. Re-exported by
``engine.core``, where the rest of the IR lives."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dtypes

# Mesh axis names in the order of the last mesh a shard_map body used: varying axes
# print and pvary names its axes in mesh order, as JAX's do.
_axis_rank: dict[Any, int] = {}


def _canonical_dim(d: Any) -> Any:
    # symbolic dimensions (engine.export.symbolic_shape) stay as they are
    return d if hasattr(d, "_is_symbolic_dim") else int(d)


_KEEP: Any = object()  # ShapedArray.update: keep the sharding


def canonical_shape(shape: Sequence[Any]) -> tuple:
    """``shape`` as a tuple of Python ints (and symbolic dimensions, kept as they are)."""
    return tuple(d if type(d) is int else _canonical_dim(d) for d in shape)


class MemorySpace(enum.Enum):
    """Which memory of its device a value lives in, as JAX's types say (``Device``, the
    default, or ``Host``: printed ``f32<host>[3]``)."""

    Device = "device"
    Host = "host"
    Any = "any"

    def __repr__(self) -> str:
        return f"MemorySpace.{self.name}"


def memory_space_suffix(space: Any) -> str:
    """``<host>`` after a dtype for a value in host memory (nothing for device memory)."""
    return "" if space is MemorySpace.Device else f"<{space.name.lower()}>"


class ShapedArray:
    """An abstract value: shape, dtype and weak-typedness (a Python scalar's type), and
    optionally the sharding of JAX's sharding-in-types (a NamedSharding over an
    AbstractMesh naming only Explicit axes; None where the value has none, which is
    every value outside an Explicit mesh)."""

    __slots__ = ("shape", "dtype", "weak_type", "sharding", "vma", "_hash", "memory_space")
    array_abstraction_level = 1

    shape: tuple[int, ...]
    dtype: np.dtype | dtypes.ExtendedDType
    weak_type: bool
    sharding: Any

    def __init__(
        self,
        shape: Sequence[int],
        dtype: Any,
        weak_type: bool = False,
        sharding: Any = None,
        *,
        vma: frozenset = frozenset(),
        memory_space: Any = None,
    ) -> None:
        self.memory_space = MemorySpace.Device if memory_space is None else memory_space
        self.shape = tuple(d if type(d) is int else _canonical_dim(d) for d in shape)
        # (extended dtypes, typed PRNG keys' key<fry>, are no NumPy dtypes)
        self.dtype = (
            dtype if isinstance(dtype, (np.dtype, dtypes.ExtendedDType)) else np.dtype(dtype)
        )
        self.weak_type = bool(weak_type)
        self.vma = vma  # the manual mesh axes it may vary over (shard_map)
        self.sharding = sharding
        self._hash = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # an int, or a symbolic dimension (export)

    def update(
        self,
        shape: Sequence[int] | None = None,
        dtype: Any = None,
        weak_type: bool | None = None,
        sharding: Any = _KEEP,
        vma: frozenset | None = None,
        memory_space: Any = None,
    ) -> ShapedArray:
        if sharding is _KEEP:
            # a sharding describes the old dimensions: a new shape drops it
            keep = shape is None or canonical_shape(shape) == self.shape
            sharding = self.sharding if keep else None
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
            sharding,
            vma=self.vma if vma is None else frozenset(vma),
            memory_space=self.memory_space if memory_space is None else memory_space,
        )

    def strip_weak_type(self) -> ShapedArray:
        if not self.weak_type:
            return self
        return ShapedArray(
            self.shape,
            self.dtype,
            False,
            self.sharding,
            vma=self.vma,
            memory_space=self.memory_space,
        )

    def __eq__(self, other):
        return (
            type(other) is ShapedArray
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
            and self.vma == other.vma
            and self.sharding == other.sharding
            and self.memory_space is other.memory_space
        )

    def __hash__(self):
        h = self._hash
        if h is None:  # the sharding is left out: equal avals still hash equal
            h = self._hash = hash((self.shape, self.dtype, self.weak_type))
        return h

    def _dims_text(self) -> str:
        if self.sharding is None:
            return ",".join(map(str, self.shape))
        return sharded_dims_text(self.shape, self.sharding)

    @property
    def manual_axis_type(self) -> ManualAxisType:
        """JAX's ``typeof(x).manual_axis_type``: ``.varying`` is the set of manual mesh
        axes a value inside a check_vma shard_map body may vary over; ``.unreduced`` and
        ``.reduced`` those of its type's unreduced/reduced axes that are Manual there."""
        s = self.sharding
        if s is None or not (s.spec.unreduced or s.spec.reduced):
            return ManualAxisType(varying=self.vma)
        manual = {a for a, t in zip(s.mesh.axis_names, s.mesh.axis_types) if t.name == "Manual"}
        return ManualAxisType(
            varying=self.vma,
            unreduced=frozenset(s.spec.unreduced) & manual,
            reduced=frozenset(s.spec.reduced) & manual,
        )

    mat = manual_axis_type

    def str_short(self) -> str:
        name = dtypes.short_name(self.dtype) + memory_space_suffix(self.memory_space)
        if self.sharding is None:
            dims = ",".join(map(str, self.shape))
            return f"{name}[{dims}]{vma_suffix(self.vma)}"
        dims = self._dims_text()
        return f"{name}[{dims}]{axes_suffix(self.vma, self.sharding)}"

    def str_long(self) -> str:
        """As JAX prints a type in a tracer's repr: ``~float32[3]`` (``~``: weak)."""
        weak = "~" if self.weak_type else ""
        suffix = axes_suffix(self.vma, self.sharding)
        name = self.dtype.name.replace("void", "float0")  # float0's NumPy name is 'void'
        name += memory_space_suffix(self.memory_space)
        return f"{weak}{name}[{self._dims_text()}]{suffix}"

    def __repr__(self):
        w = ", weak_type=True" if self.weak_type else ""
        if self.sharding is not None:
            return f"ShapedArray({self.str_long().lstrip('~')}{w})"
        name = self.dtype.name.replace("void", "float0") + memory_space_suffix(self.memory_space)
        return f"ShapedArray({name}[{self._dims_text()}]{vma_suffix(self.vma)}{w})"

    __str__ = str_long  # JAX's str(aval): ~float32[3]


def physical_aval(aval: ShapedArray) -> ShapedArray:
    """The aval of the data under an extended-dtype aval (a key<fry>[3] is u32[3,2])."""
    dt = aval.dtype
    if not isinstance(dt, dtypes.ExtendedDType):
        return aval
    return ShapedArray(aval.shape + dt.physical_shape, dt.physical_dtype, vma=aval.vma)


class ShardingTypeError(Exception):
    """Shardings in types that no rule can combine (JAX's ``core.ShardingTypeError``)."""


def sharded_dims_text(shape: Sequence[Any], sharding: Any) -> str:
    """``8@X,4``: JAX's form of a shape whose dimensions are split over mesh axes."""
    dims = []
    spec = sharding.spec
    for d, n in enumerate(shape):
        entry = spec[d] if d < len(spec) else None
        if entry is None:
            dims.append(str(n))
        elif isinstance(entry, tuple):
            dims.append(f"{n}@({','.join(entry)})")
        else:
            dims.append(f"{n}@{entry}")
    return ",".join(dims)


def _axes_part(letter: str, names: Sequence[str]) -> str:
    return f"{letter}:" + (names[0] if len(names) == 1 else f"({','.join(names)})")


def axes_suffix(vma: frozenset, sharding: Any) -> str:
    """JAX's ``{V:i, U:X, R:Y}`` after a type: the manual axes it varies over, then the
    mesh axes it is unreduced and reduced over, each part only when not empty."""
    parts = [_axes_part("V", [str(n) for n in order_axes(vma)])] if vma else []
    spec = sharding.spec if sharding is not None else None
    for letter, axes in (
        ("U", getattr(spec, "unreduced", ())),
        ("R", getattr(spec, "reduced", ())),
    ):
        if axes:
            parts.append(_axes_part(letter, [a for a in sharding.mesh.axis_names if a in axes]))
    return "{" + ", ".join(parts) + "}" if parts else ""


class ManualAxisType:
    """The manual-axes part of a type, as JAX's: the mesh axes a value varies over
    (``varying``), and those it is unreduced/reduced over in a shard_map body."""

    __slots__ = ("varying", "unreduced", "reduced")

    def __init__(
        self,
        *,
        varying: Any = frozenset(),
        unreduced: Any = frozenset(),
        reduced: Any = frozenset(),
    ) -> None:
        self.varying = frozenset(varying)
        self.unreduced = frozenset(unreduced)
        self.reduced = frozenset(reduced)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ManualAxisType) and (
            (self.varying, self.unreduced, self.reduced)
            == (other.varying, other.unreduced, other.reduced)
        )

    def __hash__(self) -> int:
        return hash((self.varying, self.unreduced, self.reduced))

    def __repr__(self) -> str:
        return (
            f"ManualAxisType(varying={self.varying}, unreduced={self.unreduced}, "
            f"reduced={self.reduced})"
        )


def note_axis_order(names: Sequence[Any]) -> None:
    for i, name in enumerate(names):
        _axis_rank[name] = i


def order_axes(names: Any) -> tuple:
    """``names`` in mesh order (names of no known mesh last, by their text)."""
    return tuple(sorted(names, key=lambda n: (_axis_rank.get(n, len(_axis_rank)), str(n))))


def vma_suffix(vma: frozenset) -> str:
    """``{V:i}`` / ``{V:(i,j)}`` after a type that varies over manual axes; else ''."""
    if not vma:
        return ""
    names = [str(n) for n in order_axes(vma)]
    return "{V:" + (names[0] if len(names) == 1 else f"({','.join(names)})") + "}"


def _with_operands_vma(avals: Sequence[Any], out: Any) -> Any:
    """A primitive's result types varying over every axis its operands vary over."""
    vma: frozenset = frozenset()
    for a in avals:
        v = getattr(a, "vma", None)
        if v:
            vma = vma | v
    if not vma:
        return out
    if isinstance(out, (list, tuple)):
        return type(out)(o.update(vma=vma) for o in out)
    return out.update(vma=vma)
