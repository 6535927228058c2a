"""Mutable array references: the ``Ref`` value, its abstract value ``AbstractRef``
(printed ``Ref{f32[3]}`` in jaxprs, ``Ref{float32[3]}`` in messages, as JAX's), and the
static description of a NumPy-style index into one (``Indexer``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import core


class AbstractRef:
    """The type of a mutable array reference holding a value of type ``inner_aval``."""

    __slots__ = ("inner_aval", "memory_space", "kind")
    is_ref = True

    def __init__(self, inner_aval: core.ShapedArray, memory_space: Any = None, kind: Any = None):
        self.inner_aval = inner_aval
        self.memory_space = memory_space
        self.kind = kind

    shape = property(lambda self: self.inner_aval.shape)
    dtype = property(lambda self: self.inner_aval.dtype)
    weak_type = property(lambda self: self.inner_aval.weak_type)
    sharding = property(lambda self: self.inner_aval.sharding)
    vma = property(lambda self: self.inner_aval.vma)
    ndim = property(lambda self: len(self.inner_aval.shape))
    size = property(lambda self: math.prod(self.inner_aval.shape))

    def update(self, inner_aval=None, **kw: Any) -> AbstractRef:
        """A new AbstractRef; ``shape=``, ``dtype=``, ... update the inner aval (as
        mapping an aval for vmap does)."""
        inner = self.inner_aval if inner_aval is None else inner_aval
        if kw:
            inner = inner.update(**kw)
        return AbstractRef(inner, self.memory_space, self.kind)

    def strip_weak_type(self) -> AbstractRef:
        return self.update(self.inner_aval.strip_weak_type())

    def str_short(self) -> str:
        return self._text(self.inner_aval.str_short())

    def str_long(self) -> str:
        """As JAX writes the type in its messages: ``Ref{float32[3]}``."""
        return self._text(self.inner_aval.str_long().lstrip("~"))

    def _text(self, inner: str) -> str:
        if self.memory_space is not None:
            return f"Ref<{self.memory_space}>{{{inner}}}"
        return f"Ref{{{inner}}}"

    def __repr__(self) -> str:
        return self.str_long()

    __str__ = __repr__

    def __eq__(self, other):
        return (
            type(other) is AbstractRef
            and self.inner_aval == other.inner_aval
            and self.memory_space == other.memory_space
        )

    def __hash__(self):
        return hash((AbstractRef, self.inner_aval, self.memory_space))


def is_ref_aval(aval: Any) -> bool:
    return type(aval) is AbstractRef


class _RefMeta(type):
    """``isinstance(x, Ref)`` also holds for a tracer standing for a ref, as in JAX."""

    def __instancecheck__(cls, inst):
        return type.__instancecheck__(cls, inst) or (
            isinstance(inst, core.Tracer) and type(inst.aval) is AbstractRef
        )


class Ref(metaclass=_RefMeta):
    """A mutable array reference (made by ``engine.new_ref``). Read it with
    ``ref[idx]``, write it with ``ref[idx] = v`` or ``ref[idx] += v``."""

    __slots__ = ("_aval", "_array", "__weakref__")

    def __init__(self, aval: AbstractRef, buf: Any) -> None:
        self._aval = aval
        self._array = buf  # the engine Array holding the current value (replaced on writes)

    def __repr__(self) -> str:
        return "Ref" + repr(self._array)[5:]

    aval = property(lambda self: self._aval)
    shape = property(lambda self: self._aval.shape)
    dtype = property(lambda self: self._aval.dtype)
    ndim = property(lambda self: self._aval.ndim)
    size = property(lambda self: self._aval.size)
    weak_type = property(lambda self: self._aval.weak_type)
    sharding = property(lambda self: self._array.sharding)
    committed = property(lambda self: True)

    def __len__(self) -> int:
        return _len(self._aval)

    def __getitem__(self, idx):
        from .primitives import ref_get

        return ref_get(self, idx)

    def __setitem__(self, idx, value):
        from .primitives import ref_set

        ref_set(self, idx, value)

    def get(self, idx=()):
        return self[idx]

    def set(self, value, idx=()):
        self[idx] = value

    def swap(self, value, idx=()):
        from .primitives import ref_swap

        return ref_swap(self, idx, value)

    def addupdate(self, x, idx=()):
        from .primitives import ref_addupdate

        ref_addupdate(self, idx, x)

    def unsafe_buffer_pointer(self) -> int:
        return self._array._buf.unsafe_buffer_pointer()

    @property
    def at(self):
        raise NotImplementedError("Ref.at (transformed ref views) is not implemented")


def _len(aval: AbstractRef) -> int:
    if not aval.shape:
        raise TypeError("len() of unsized object")
    return aval.shape[0]


# ---------------------------------------------------------------------------- indexing


class Indexer:
    """A NumPy-style index into a ref of ``shape``, as JAX's NDIndexer: per dimension
    either a static slice ``(start, size, stride)`` or an integer index taken from the
    equation's index operands (scalars or arrays, broadcast together)."""

    __slots__ = ("entries", "shape")

    def __init__(self, entries: tuple, shape: tuple) -> None:
        self.entries = entries  # per dim: ("s", start, size, stride) or ("i",)
        self.shape = shape

    def __eq__(self, other):
        return type(other) is Indexer and (self.entries, self.shape) == (
            other.entries,
            other.shape,
        )

    def __hash__(self):
        return hash((self.entries, self.shape))

    def __repr__(self):
        return f"Indexer({self.entries})"

    @property
    def n_operands(self) -> int:
        return sum(e[0] == "i" for e in self.entries)

    def result_shape(self, operand_shapes: list[tuple]) -> tuple:
        int_shape = np.broadcast_shapes(*operand_shapes) if operand_shapes else ()
        is_int = [e[0] == "i" for e in self.entries]
        slice_shape = tuple(e[2] for e in self.entries if e[0] == "s")
        where = [i for i, b in enumerate(is_int) if b]
        if not where:
            return slice_shape
        contiguous = where == list(range(where[0], where[-1] + 1))
        if not contiguous:
            return tuple(int_shape) + slice_shape
        pos = sum(1 for e in self.entries[: where[0]] if e[0] == "s")
        return slice_shape[:pos] + tuple(int_shape) + slice_shape[pos:]

    def numpy_index(self, operands: list[Any]) -> tuple:
        """The index as a NumPy/jnp indexing tuple (operands in place of int indices)."""
        it = iter(operands)
        out = []
        for e in self.entries:
            if e[0] == "i":
                out.append(next(it))
            else:
                _, start, size, stride = e
                out.append(slice(start, start + (size - 1) * stride + 1 if size else start, stride))
        return tuple(out)

    def text(self, operand_texts: list[str]) -> str:
        it = iter(operand_texts)
        parts = []
        for e, dim in zip(self.entries, self.shape):
            if e[0] == "i":
                parts.append(next(it))
                continue
            _, start, size, stride = e
            end = start + size
            s = f"{'' if start == 0 else start}:{'' if end == dim else end}"
            parts.append(s if stride == 1 else f"{s}:{stride}")
        return "[" + ",".join(parts) + "]"


def make_indexer(idx: Any, shape: tuple) -> tuple[Indexer | None, list[Any]]:
    """(Indexer or None for the whole ref, the integer index operands) for ``ref[idx]``."""
    if idx is None or idx is Ellipsis:
        return None, []
    if not isinstance(idx, tuple):
        idx = (idx,)
    if not idx:
        return None, []
    n_ell = sum(i is Ellipsis for i in idx)
    if n_ell > 1:
        raise ValueError("Only one ellipsis is supported.")
    if n_ell:
        p = next(i for i, x in enumerate(idx) if x is Ellipsis)
        idx = idx[:p] + (slice(None),) * (len(shape) - len(idx) + 1) + idx[p + 1 :]
    if len(idx) > len(shape):
        raise ValueError(f"`indices` must not be longer than `shape`: indices={idx}, shape={shape}")
    idx = idx + (slice(None),) * (len(shape) - len(idx))
    entries, operands = [], []
    for i, d in zip(idx, shape):
        if isinstance(i, slice):
            start, stop, step = i.indices(d)
            size = max(0, -(-(stop - start) // step)) if step > 0 else 0
            if step <= 0:
                raise NotImplementedError("a ref slice with a non-positive step")
            entries.append(("s", start, size, step))
        elif i is None:
            raise NotImplementedError("ref indexing with None (a new axis)")
        else:
            if type(i) is int:
                i = np.int32(i)
            elif isinstance(i, (list, np.ndarray)) and not isinstance(i, np.generic):
                i = np.asarray(i, np.int32) if np.asarray(i).dtype.kind in "iu" else i
            aval = core.get_aval(i)
            if aval.dtype.kind not in "iu":
                raise IndexError(f"ref indices must be integers or slices, got {aval.str_short()}")
            entries.append(("i",))
            operands.append(i)
    return Indexer(tuple(entries), tuple(shape)), operands
