"""A sharded program before and after XLA's SPMD partitioner.

    v = partitioning(jit(step), params, x)      # committed sharded arguments, or a jit
                                                # with in_shardings/out_shardings
    v.annotations        # the sharding annotations in the lowered StableHLO, with lines
    v.inputs, v.outputs  # per argument/result: global shape, spec, per-device shape
    v.collectives        # what the partitioner inserted, each with its mesh axes and
                         # the user's line it came from
    v.counts()           # {"all-reduce": 1, "all-gather": 2, ...}
    v.passes             # the partitioner's steps of XLA's pass timeline

Everything is read from public stage objects: ``Lowered.mlir_text`` (Shardy's ``sdy``
annotations, as JAX 0.10.2 lowers), ``Compiled.as_text()`` (XLA's partitioned and
optimized module, whose shapes are per device), ``Compiled.input_shardings`` /
``output_shardings`` and the ``PassTimeline`` of ``compile_with_passes``.

Replica groups of a partitioned module count *partitions* (``use_global_device_ids``
with one replica): partition ``i`` runs on the mesh's ``i``-th device in row-major order,
so a group maps back to the mesh axes along which its members differ.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine import tree_util

from .hlo_model import HloModule, parse_hlo_module
from .mlir_model import parse_mlir_module

COLLECTIVE_KINDS = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "collective-permute",
    "collective-broadcast",
    "ragged-all-to-all",
)
# Pipelines and passes of XLA that shard, partition or rewrite collectives.
PARTITIONER_PASS = re.compile(
    r"spmd|shard|sdy|partition|collective|all-reduce|all-gather|reduce-scatter|all-to-all",
    re.IGNORECASE,
)


def collective_kind(opcode: str) -> str | None:
    """The collective an HLO opcode performs (``all-gather-start`` -> ``all-gather``), or
    None; ``-done`` halves of async pairs are None so that each collective counts once."""
    if opcode.endswith("-done"):
        return None
    base = opcode[: -len("-start")] if opcode.endswith("-start") else opcode
    return base if base in COLLECTIVE_KINDS else None


def num_partitions(hlo_text: str) -> int:
    """``num_partitions`` from an HLO module's header line (1 when not printed)."""
    m = re.search(r"\bnum_partitions=(\d+)", hlo_text.split("\n", 1)[0])
    return int(m.group(1)) if m else 1


def count_collectives(module: HloModule | str) -> dict[str, int]:
    """How many of each collective a (partitioned) HLO module holds, in any computation."""
    parsed = parse_hlo_module(module) if isinstance(module, str) else module
    counts: dict[str, int] = {}
    for ins in parsed.instructions():
        kind = collective_kind(ins.opcode)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------- groups

_MESH_GROUPS = re.compile(r"mesh\[([^\]]*)\]\s*\{([^}]*)\}(.*)")
_IOTA = re.compile(r"\[([\d,\s]+)\]<=\[([\d,\s]+)\](?:T\(([\d,\s]+)\))?")


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_replica_groups(text: str | None) -> list[tuple[int, ...]]:
    """``{{0,1},{2,3}}`` or XLA's iota form ``[2,2]<=[4]`` / ``[2,4]<=[4,2]T(1,0)`` ->
    a list of groups of partition ids. Empty when ``text`` is None or ``{}``."""
    if not text:
        return []
    text = text.strip()
    m = _IOTA.fullmatch(text)
    if m:
        shape, dims = _ints(m.group(1)), _ints(m.group(2))
        ids = np.arange(int(np.prod(dims))).reshape(dims)
        if m.group(3):
            ids = ids.transpose(_ints(m.group(3)))
        return [tuple(int(i) for i in row) for row in ids.reshape(shape[0], -1)]
    m = _MESH_GROUPS.fullmatch(text)
    if m:
        return _mesh_form_groups(text, m)
    if not text.startswith("{"):
        raise ValueError(f"replica groups {text!r} are in none of XLA's list, iota or mesh forms")
    return [tuple(_ints(g)) for g in re.findall(r"\{([\d,\s]*)\}", text[1:-1])]


def _mesh_form_groups(text: str, m: re.Match) -> list[tuple[int, ...]]:
    """``mesh['a'=4,'b'=2] {'b'}``: one group per position of the other axes, holding
    the partitions along the named ones (row-major partition ids)."""
    axes = [(n, int(k)) for n, k in re.findall(r"'([^']+)'=(\d+)", m.group(1))]
    chosen = re.findall(r"'([^']+)'", m.group(2))
    names = [n for n, _ in axes]
    if m.group(3).strip() or any(c not in names for c in chosen) or re.search(r"[():]", m.group(2)):
        raise ValueError(f"replica groups {text!r}: this mesh form is not understood here")
    ids = np.arange(int(np.prod([k for _, k in axes]))).reshape([k for _, k in axes])
    picked = [names.index(c) for c in chosen]
    rest = [a for a in range(len(names)) if a not in picked]
    size = int(np.prod([axes[a][1] for a in picked], dtype=int))
    return [tuple(int(i) for i in row) for row in ids.transpose(rest + picked).reshape(-1, size)]


def mesh_axes_of_groups(
    groups: Sequence[Sequence[int]], axis_names: Sequence[str], axis_sizes: Sequence[int]
) -> tuple[str, ...] | None:
    """The mesh axes a collective's groups span: the smallest set of axes such that each
    group is exactly the partitions that differ only along them. None if no set does
    (groups that do not follow the mesh)."""
    size = int(np.prod(axis_sizes)) if axis_sizes else 1
    want = {frozenset(g) for g in groups}
    if not want:  # one group of everyone
        want = {frozenset(range(size))}
    ids = np.arange(size).reshape(tuple(axis_sizes))
    n = len(axis_names)
    for r in range(n + 1):
        for axes in itertools.combinations(range(n), r):
            rest = [a for a in range(n) if a not in axes]
            moved = ids.transpose(rest + list(axes)).reshape(
                -1, int(np.prod([axis_sizes[a] for a in axes], dtype=int))
            )
            if {frozenset(int(i) for i in row) for row in moved} == want:
                return tuple(axis_names[a] for a in axes)
    return None


def mesh_axes_of_pairs(
    pairs: Sequence[Sequence[int]], axis_names: Sequence[str], axis_sizes: Sequence[int]
) -> tuple[str, ...]:
    """The mesh axes along which a collective-permute's (source, target) pairs move."""
    moved: set[int] = set()
    for s, t in pairs:
        cs, ct = np.unravel_index(s, axis_sizes), np.unravel_index(t, axis_sizes)
        moved.update(a for a in range(len(axis_names)) if cs[a] != ct[a])
    return tuple(axis_names[a] for a in sorted(moved))


# ---------------------------------------------------------------------------- the model


@dataclasses.dataclass
class Annotation:
    """A sharding annotation in the lowered StableHLO: on an argument or result of
    ``@main`` (``where`` = 'argument 0', 'result 0'), a ``sdy.sharding_constraint`` op or a
    shard_map's ``sdy.manual_computation`` (``where`` = op name and id), with the mesh
    axes it names (a shard_map's: its manual axes) and its source line."""

    where: str
    text: str
    axes: tuple[str, ...]
    source: tuple[str, int] | None = None
    line: int | None = None  # 0-based line in the StableHLO text


@dataclasses.dataclass
class ArrayLayout:
    """One argument or result: its global shape, its sharding and the shape each device
    holds in the partitioned module."""

    kind: str  # "argument" or "result"
    index: int
    dtype: str
    global_shape: tuple[int, ...]
    spec: str | None
    per_device_shape: tuple[int, ...] | None
    hlo_sharding: str | None = None
    sharding: Any = None  # the Sharding object (Compiled.input_shardings/output_shardings)


@dataclasses.dataclass
class Collective:
    """A collective instruction of the partitioned module."""

    name: str
    kind: str
    opcode: str
    shape: str  # per-device result shape
    operand_shapes: list[str]
    groups: list[tuple[int, ...]]  # partition ids; pairs for collective-permute
    mesh_axes: tuple[str, ...] | None
    op_name: str | None  # the equation it came from, e.g. "dot_general.eqn0"
    source: tuple[str, int, str | None] | None  # (file, line, function)
    caused_by: list[Annotation]
    line: int | None  # 0-based line in the partitioned module's text
    text: str

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["caused_by"] = [a.where for a in self.caused_by]
        return d


class PartitioningView:
    """The module before partitioning (``before``: StableHLO text with annotations) and
    after (``after``: XLA's optimized HLO text, ``module``: parsed), with ``inputs``,
    ``outputs``, ``annotations``, ``collectives`` and ``passes`` (partitioner steps of
    the timeline, when one was given)."""

    def __init__(self, lowered: Any, compiled: Any, timeline: Any = None) -> None:
        self.fun_name = getattr(lowered, "fun_name", "f")
        self.before = lowered.as_text(debug_info=True)
        self.after = compiled.as_text()
        self.module = parse_hlo_module(self.after)
        self.num_partitions = num_partitions(self.after)
        self.mesh = _mesh_of(compiled)
        self.axis_names = tuple(self.mesh.axis_names) if self.mesh is not None else ()
        self.axis_sizes = tuple(self.mesh.shape.values()) if self.mesh is not None else ()
        self.annotations = sharding_annotations(
            self.before, getattr(lowered, "lowering_info", None)
        )
        self.inputs, self.outputs = _layouts(compiled, self.module)
        found = [self._collective(i) for i in self.module.instructions()]
        self.collectives: list[Collective] = [c for c in found if c is not None]
        self.timeline = timeline
        self.passes = partitioner_passes(timeline) if timeline is not None else []

    @property
    def is_partitioned(self) -> bool:
        return self.num_partitions > 1

    def counts(self) -> dict[str, int]:
        return count_collectives(self.module)

    def device_of_partition(self, partition: int) -> int | None:
        """The device id partition ``partition`` runs on (the mesh's row-major order)."""
        if self.mesh is None:
            return None
        return int(np.asarray(self.mesh.device_ids).reshape(-1)[partition])

    def _collective(self, ins: Any) -> Collective | None:
        kind = collective_kind(ins.opcode)
        if kind is None:
            return None
        if kind == "collective-permute":
            groups = parse_replica_groups(ins.attributes.get("source_target_pairs"))
            axes = (
                mesh_axes_of_pairs(groups, self.axis_names, self.axis_sizes)
                if self.axis_names
                else None
            )
        else:
            groups = parse_replica_groups(ins.attributes.get("replica_groups"))
            axes = (
                mesh_axes_of_groups(groups, self.axis_names, self.axis_sizes)
                if self.axis_names
                else None
            )
        frame = ins.metadata.stack[0] if ins.metadata.stack else None
        source = (frame.file, frame.line, frame.function) if frame is not None else None
        if source is None and ins.metadata.source is not None:
            source = (*ins.metadata.source, None)
        caused = [a for a in self.annotations if axes and set(a.axes) & set(axes)]
        operand_shapes = [
            self.module.instruction(o).shape.text for o in ins.operands if o in self.module
        ]
        return Collective(
            name=ins.name,
            kind=kind,
            opcode=ins.opcode,
            shape=ins.shape.text,
            operand_shapes=operand_shapes,
            groups=groups,
            mesh_axes=axes,
            op_name=ins.metadata.op_name,
            source=source,
            caused_by=caused,
            line=ins.line,
            text=ins.text,
        )

    def _repr_html_(self) -> str:
        from .partitioning_html import partitioning_html

        return partitioning_html(self)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}: {n}" for k, n in self.counts().items()) or "no collectives"
        return f"<PartitioningView {self.fun_name} over {self.num_partitions} partitions: {counts}>"


def _mesh_of(compiled: Any) -> Any:
    leaves = tree_util.tree_leaves((compiled.input_shardings, compiled.output_shardings))
    for s in leaves:
        mesh = getattr(s, "mesh", None)
        if mesh is not None and getattr(mesh, "axis_names", None):
            return mesh
    return None


_SDY_DIMS = re.compile(r'"([^"]+)"')
_SDY_SHARDING = re.compile(r"#sdy\.sharding<@[^,>]+, \[.*?\]>")


def _sdy_annotation(where: str, segment: str, line: int) -> Annotation | None:
    m = _SDY_SHARDING.search(segment)
    if m is None:
        return None
    axes = tuple(dict.fromkeys(_SDY_DIMS.findall(m.group(0).split("[", 1)[1])))
    return Annotation(where, m.group(0), axes, None, line)


def sharding_annotations(text: str, lowering_info: Any = None) -> list[Annotation]:
    """The sharding annotations of a StableHLO module's text (with debug info, for
    source lines): ``@main``'s argument and result ``sdy.sharding``, sharding
    constraints and reshards, and shard_maps' manual computations."""
    out: list[Annotation] = []
    lines = text.splitlines()
    for no, line in enumerate(lines):
        if "func.func public @main(" not in line:
            continue
        head, _, results = line.partition(") -> ")
        # one segment per argument / result: its type and attribute dictionary
        for seg in re.split(r"(?=%arg\d+: )", head):
            m = re.match(r"%arg(\d+): ", seg)
            a = _sdy_annotation(f"argument {m.group(1)}", seg, no) if m else None
            if a is not None:
                out.append(a)
        for i, seg in enumerate(re.split(r"(?=tensor<)", results)[1:]):
            a = _sdy_annotation(f"result {i}", seg, no)
            if a is not None:
                out.append(a)
        break
    module = parse_mlir_module(text, lowering_info)
    for op in module.ops():
        if op.name in ("sdy.sharding_constraint", "sdy.reshard"):
            m = re.search(r"<@\w+, \[.*?\]>", op.text)
            spec = m.group(0) if m else op.text
            axes = tuple(dict.fromkeys(_SDY_DIMS.findall(spec)))
        elif op.name == "sdy.manual_computation":  # a shard_map: its specs and manual axes
            m = re.search(r"in_shardings=.*?manual_axes=\{[^}]*\}", op.text)
            spec = m.group(0) if m else op.text
            manual = re.search(r"manual_axes=\{([^}]*)\}", spec)
            axes = tuple(_SDY_DIMS.findall(manual.group(1))) if manual else ()
        else:
            continue
        fl = op.location.file_location()
        source = (fl[0], fl[1]) if fl is not None else None
        out.append(Annotation(f"{op.name} {op.id}", spec, axes, source, op.line))
    return out


def _layouts(compiled: Any, module: HloModule) -> tuple[list[ArrayLayout], list[ArrayLayout]]:
    entry = module.entry
    params = sorted(
        (i for i in entry.instructions if i.opcode == "parameter"),
        key=lambda i: i.parameter_number,
    )
    root = next(i for i in entry.instructions if i.is_root)
    results = root.shape.tuple_shapes if root.shape.is_tuple else [root.shape]
    ins_sh = tree_util.tree_leaves(compiled.input_shardings)
    outs_sh = tree_util.tree_leaves(compiled.output_shardings)
    in_avals = list(compiled.lowered.traced.in_avals)
    out_avals = list(compiled.out_avals)
    params = params[max(len(params) - len(ins_sh), 0) :]  # hoisted constants come first

    def layout(kind, i, sharding, aval, hlo_ins, shape):
        spec = getattr(sharding, "spec", None)
        gshape = tuple(getattr(aval, "shape", ())) if aval is not None else ()
        dtype = str(getattr(aval, "dtype", shape.dtype if shape is not None else ""))
        per = tuple(shape.dims) if shape is not None and not shape.is_tuple else None
        return ArrayLayout(
            kind,
            i,
            dtype,
            gshape,
            None if spec is None else str(spec),
            per,
            None if hlo_ins is None else hlo_ins.attributes.get("sharding"),
            sharding,
        )

    inputs = [
        layout(
            "argument",
            i,
            s,
            in_avals[i] if i < len(in_avals) else None,
            params[i] if i < len(params) else None,
            params[i].shape if i < len(params) else None,
        )
        for i, s in enumerate(ins_sh)
    ]
    outputs = [
        layout(
            "result",
            i,
            s,
            out_avals[i] if i < len(out_avals) else None,
            None,
            results[i] if i < len(results) else None,
        )
        for i, s in enumerate(outs_sh)
    ]
    return inputs, outputs


def partitioner_passes(timeline: Any) -> list:
    """The steps of a ``PassTimeline`` that belong to XLA's sharding and partitioning
    pipelines (sharding propagation, Shardy, SPMD partitioning and its cleanup,
    collective rewrites)."""
    return [
        s
        for s in timeline.passes
        if PARTITIONER_PASS.search(f"{s.pipeline or ''} {s.pass_name or ''}")
    ]


def partitioning(f: Any, *args: Any, passes: bool = True, **kwargs: Any) -> PartitioningView:
    """The ``PartitioningView`` of ``f`` (a function, a ``jit`` of one, or a ``Lowered``
    stage with no arguments) on these arguments. ``passes=False`` compiles once without
    XLA's per-pass dump (no ``passes``)."""
    from .passes import _as_lowered, compile_with_passes

    lowered = _as_lowered(f, args, kwargs)
    if passes:
        timeline = compile_with_passes(lowered)
        return PartitioningView(lowered, timeline.compiled, timeline)
    return PartitioningView(lowered, lowered.compile())
