"""A minimal FlatBuffers encoder and decoder: just what the export format needs
(tables of scalars, strings, scalar vectors, table vectors, nested tables).

The encoder lays objects out front to back: a table's vtable, then the table, then its
children, so every offset it writes points forward (as the format requires of uoffsets).
The decoder reads any conforming buffer, whichever way it was laid out."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

_SCALAR = {
    "bool": ("<B", 1),
    "u8": ("<B", 1),
    "i8": ("<b", 1),
    "u16": ("<H", 2),
    "i16": ("<h", 2),
    "u32": ("<I", 4),
    "i32": ("<i", 4),
}


@dataclass
class Table:
    """fields: {slot: (kind, value)}; kind is a scalar kind, or "obj" for a child
    (``Table``, ``Str``, ``ScalarVec``, ``TableVec``)."""

    fields: dict = field(default_factory=dict)

    def scalar(self, slot: int, kind: str, value: int) -> Table:
        self.fields[slot] = (kind, int(value))
        return self

    def child(self, slot: int, obj: Any) -> Table:
        if obj is not None:
            self.fields[slot] = ("obj", obj)
        return self


@dataclass
class Str:
    data: bytes


@dataclass
class ScalarVec:
    kind: str
    values: Any  # a list of ints, or bytes for a "u8" vector


@dataclass
class TableVec:
    items: list  # of Table or Str


def _align(buf: bytearray, n: int) -> None:
    buf.extend(b"\0" * (-len(buf) % n))


def encode(root: Table) -> bytes:
    buf = bytearray(b"\0" * 4)
    pos = _place(buf, root)
    struct.pack_into("<I", buf, 0, pos)
    return bytes(buf)


def _place(buf: bytearray, obj: Any) -> int:
    if isinstance(obj, Str):
        _align(buf, 4)
        pos = len(buf)
        buf += struct.pack("<I", len(obj.data)) + obj.data + b"\0"
        return pos
    if isinstance(obj, ScalarVec):
        fmt, size = _SCALAR[obj.kind]
        _align(buf, max(4, size))
        pos = len(buf)
        buf += struct.pack("<I", len(obj.values))
        if isinstance(obj.values, (bytes, bytearray)):
            buf += obj.values  # a byte vector (the serialized module), as it is
        else:
            buf += struct.pack(f"<{len(obj.values)}{fmt[1:]}", *obj.values)
        return pos
    if isinstance(obj, TableVec):
        _align(buf, 4)
        pos = len(buf)
        buf += struct.pack("<I", len(obj.items))
        slots = []
        for _ in obj.items:
            slots.append(len(buf))
            buf += b"\0\0\0\0"
        for at, item in zip(slots, obj.items):
            child = _place(buf, item)
            struct.pack_into("<I", buf, at, child - at)
        return pos
    if isinstance(obj, Table):
        return _place_table(buf, obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _place_table(buf: bytearray, t: Table) -> int:
    # inline layout: the soffset to the vtable, then fields, largest first
    def size_of(kind: str) -> int:
        return 4 if kind == "obj" else _SCALAR[kind][1]

    order = sorted(t.fields, key=lambda s: (-size_of(t.fields[s][0]), s))
    offsets: dict[int, int] = {}
    cursor = 4
    for s in order:
        n = size_of(t.fields[s][0])
        cursor += -cursor % n
        offsets[s] = cursor
        cursor += n
    inline_size = cursor + (-cursor % 4)
    nslots = max(t.fields) + 1 if t.fields else 0
    vtable = struct.pack("<HH", 4 + 2 * nslots, inline_size)
    vtable += b"".join(struct.pack("<H", offsets.get(s, 0)) for s in range(nslots))
    _align(buf, 2)
    vt_pos = len(buf)
    buf += vtable
    _align(buf, 4)
    pos = len(buf)
    buf += b"\0" * inline_size
    struct.pack_into("<i", buf, pos, pos - vt_pos)
    children = []
    for s, (kind, value) in t.fields.items():
        at = pos + offsets[s]
        if kind == "obj":
            children.append((at, value))
        else:
            struct.pack_into(_SCALAR[kind][0], buf, at, value)
    for at, child in children:
        cpos = _place(buf, child)
        struct.pack_into("<I", buf, at, cpos - at)
    return pos


# ---------------------------------------------------------------------------- decoding


class View:
    """A table in a buffer; fields read by slot number."""

    __slots__ = ("buf", "pos", "_vt", "_vt_size")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self._vt = pos - struct.unpack_from("<i", buf, pos)[0]
        self._vt_size = struct.unpack_from("<H", buf, self._vt)[0]

    @staticmethod
    def root(buf: bytes) -> View:
        if len(buf) < 8:
            raise ValueError("serialized Exported is too short to be a flatbuffer")
        return View(buf, struct.unpack_from("<I", buf, 0)[0])

    def _field(self, slot: int) -> int:
        off = 4 + 2 * slot
        if off >= self._vt_size:
            return 0
        return struct.unpack_from("<H", self.buf, self._vt + off)[0]

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, kind: str, default: int = 0) -> int:
        o = self._field(slot)
        if not o:
            return default
        return struct.unpack_from(_SCALAR[kind][0], self.buf, self.pos + o)[0]

    def _target(self, slot: int) -> int | None:
        o = self._field(slot)
        if not o:
            return None
        at = self.pos + o
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def string(self, slot: int) -> str | None:
        at = self._target(slot)
        return None if at is None else _read_str(self.buf, at)

    def table(self, slot: int) -> View | None:
        at = self._target(slot)
        return None if at is None else View(self.buf, at)

    def scalars(self, slot: int, kind: str) -> list:
        at = self._target(slot)
        if at is None:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        fmt, size = _SCALAR[kind]
        return [struct.unpack_from(fmt, self.buf, at + 4 + i * size)[0] for i in range(n)]

    def bytes_(self, slot: int) -> bytes:
        at = self._target(slot)
        if at is None:
            return b""
        n = struct.unpack_from("<I", self.buf, at)[0]
        return bytes(self.buf[at + 4 : at + 4 + n])

    def _offsets(self, slot: int) -> list[int]:
        at = self._target(slot)
        if at is None:
            return []
        n = struct.unpack_from("<I", self.buf, at)[0]
        out = []
        for i in range(n):
            p = at + 4 + 4 * i
            out.append(p + struct.unpack_from("<I", self.buf, p)[0])
        return out

    def tables(self, slot: int) -> list[View]:
        return [View(self.buf, p) for p in self._offsets(slot)]

    def strings(self, slot: int) -> list[str]:
        return [_read_str(self.buf, p) for p in self._offsets(slot)]


def _read_str(buf: bytes, at: int) -> str:
    n = struct.unpack_from("<I", buf, at)[0]
    return bytes(buf[at + 4 : at + 4 + n]).decode("utf-8")
