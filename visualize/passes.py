"""XLA's compilation, pass by pass.

``compile_with_passes(f, *args)`` compiles ``f`` with XLA keeping the module after every
optimization pass (per compile, through compile options: no environment variables, no
restart), reads XLA's dump folder and turns it into a ``PassTimeline``:

    t = compile_with_passes(train_step, params, x, y)
    [s.label for s in t.passes]          # the passes that changed the module, in order
    t.fusion_passes()[0].diff.fused      # instructions the fusion pass moved into fusions
    print(t.passes[3].text_diff)         # unified diff of one pass
    t.memory_usage.total_bytes, t.buffer_assignment.allocations, t.live_range.peak_bytes
    t.kernels[0].disassembly()           # machine code of one fused kernel (objdump)

How XLA names its dump files (jaxlib 0.10.2, CPU; read from XLA's pass pipeline code and
checked here): ``module_NNNN.<module>.NNNN.<pipeline>.after_<pass>.before_<next>.txt``.
With ``xla_dump_hlo_pass_re=".*"`` (what ``engine`` sets) XLA writes one file when a
pipeline starts and one after each pass *that reported a change*; any other pattern
writes one after every pass it matches, changed or not. Either way this module keeps a
step only where the module text differs from the previous dump, so passes that changed
nothing (or reported a change that the printed module does not show) are skipped.
``<pass>.<step>.txt`` files without ``after_``/``before_`` are dumps taken in the middle
of a pass (copy insertion writes three).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

from .hlo_model import parse_hlo_module

_STEP_FILE = re.compile(r"(\d{4})\.(.+)\.txt")
_BETWEEN_PASSES = re.compile(r"(.+?)\.after_(.+)\.before_(.+)")
_AFTER_OPT = re.compile(r"(?:(\w+?)_)?after_optimizations\.txt")
_PIPELINE_START = "pipeline-start"


# ---------------------------------------------------------------------------- entry points


def compile_with_passes(f, *args, compiler_options=None, dump_dir=None, **kwargs):
    """Compile ``f`` on these arguments (or a ``Lowered`` stage, with no arguments) with
    XLA's per-pass dump, and return the ``PassTimeline``.

    ``dump_dir``: keep XLA's files there (it must be empty or new); by default they go to
    a temporary folder that is removed once read, so nothing accumulates on disk.
    """
    lowered = _as_lowered(f, args, kwargs)
    keep = dump_dir is not None
    if keep:
        os.makedirs(dump_dir, exist_ok=True)
        if os.listdir(dump_dir):
            raise ValueError(
                f"dump_dir {dump_dir!r} is not empty; XLA's files from another "
                "compile would mix with this one's. Pass an empty or new folder."
            )
    else:
        dump_dir = tempfile.mkdtemp(prefix="glassjax_passes_")
    try:
        start = time.perf_counter()
        compiled = lowered.compile(
            compiler_options=compiler_options, dump_passes=True, dump_dir=dump_dir
        )
        wall = time.perf_counter() - start
        timeline = read_dump(dump_dir, compiled_text=compiled.as_text())
    finally:
        if not keep:
            shutil.rmtree(dump_dir, ignore_errors=True)
    timeline.compiled = compiled
    timeline.lowered = lowered
    timeline.timings["compile_wall_s"] = wall
    timeline.dump_dir = dump_dir if keep else None
    if not keep:
        # The Compiled stage points at the folder we just removed.
        compiled.dump_dir = None
    return timeline


def _as_lowered(f, args, kwargs):
    if hasattr(f, "compile") and hasattr(f, "mlir_text"):  # already a Lowered stage
        if args or kwargs:
            raise TypeError("compile_with_passes(lowered) takes no example arguments")
        return f
    if not callable(f):
        raise TypeError(
            f"compile_with_passes needs a function, a jit-wrapped function or a "
            f"Lowered stage, got {type(f).__name__}"
        )
    if not hasattr(f, "lower"):
        import engine

        f = engine.jit(f)
    return f.lower(*args, **kwargs)


def read_dump(dump_dir, compiled_text=None):
    """A ``PassTimeline`` from a folder XLA dumped one compile into (all read into memory,
    so the folder may be removed afterwards)."""
    names = sorted(os.listdir(dump_dir))
    prefix = _module_prefix(names)
    own = [n for n in names if n.startswith(prefix)]
    path = lambda n: os.path.join(dump_dir, n)  # noqa: E731
    mtime = lambda n: os.stat(path(n)).st_mtime_ns / 1e9  # noqa: E731

    before_name = prefix + "before_optimizations.txt"
    before_text = _read(path(before_name))
    after_name, platform = None, None
    for n in own:
        m = _AFTER_OPT.fullmatch(n[len(prefix) :])
        if m:
            after_name, platform = n, m.group(1)
    after_text = _read(path(after_name)) if after_name else None

    dumps = []
    for n in own:
        m = _STEP_FILE.fullmatch(n[len(prefix) :])
        if m:
            dumps.append(_dump_entry(int(m.group(1)), m.group(2), n, _read(path(n)), mtime(n)))
    dumps.sort(key=lambda d: d["seq"])

    steps, skipped, parsed = [], [], {}  # parsed: text -> HloModule, shared by steps
    prev_text, prev_label, prev_time = before_text, "before_optimizations", mtime(before_name)
    for d in dumps:
        if d["text"] == prev_text:
            skipped.append(d)
        else:
            steps.append(
                PassStep(len(steps), d, prev_text, prev_label, d["mtime"] - prev_time, parsed)
            )
            prev_text, prev_label = d["text"], d["label"]
        prev_time = d["mtime"]
    if after_text is not None and after_text != prev_text:
        final = {
            "seq": None,
            "file": after_name,
            "pipeline": None,
            "pass_name": "(final)",
            "next_pass": None,
            "kind": "final",
            "step": None,
            "text": after_text,
            "mtime": mtime(after_name),
            "label": "after the last dumped pass (work outside any dumped pass)",
        }
        steps.append(
            PassStep(len(steps), final, prev_text, prev_label, final["mtime"] - prev_time, parsed)
        )

    timeline = PassTimeline(
        module_name=prefix.split(".", 1)[1].rstrip("."),
        platform=platform,
        before_optimizations=before_text,
        after_optimizations=after_text,
        passes=steps,
        dumps=dumps,
        skipped=skipped,
        compiled_text=compiled_text,
    )
    timeline.every_pass_dumped = _every_pass_dumped(path(prefix + "debug_options"))
    base = prefix + (f"{platform}_" if platform else "")
    timeline.buffer_assignment = _optional(
        path(base + "after_optimizations-buffer-assignment.txt"), BufferAssignment
    )
    timeline.memory_usage = _optional(
        path(base + "after_optimizations-memory-usage-report.txt"), MemoryUsageReport
    )
    timeline.live_range = _optional(path(base + "after_optimizations-live-range.txt"), LiveRange)
    timeline.kernels = _read_kernels(dump_dir, own, prefix)
    codegen_files = [n for n in own if n.endswith((".o", ".ll", ".ptx"))]
    timeline.timings = {
        "hlo_passes_s": (mtime(after_name) - mtime(before_name)) if after_name else None,
        "codegen_s": (max(mtime(n) for n in codegen_files) - mtime(after_name))
        if codegen_files and after_name
        else None,
        "note": "from the dump files' modification times: wall-clock, dump writing included",
    }
    return timeline


def _module_prefix(names):
    """'module_0000.<name>.' of the (last) module whose optimization was dumped."""
    candidates = [
        n[: -len("before_optimizations.txt")]
        for n in names
        if n.startswith("module_") and n.endswith(".before_optimizations.txt")
    ]
    if not candidates:
        raise ValueError(
            "no XLA dump found (no module_*.before_optimizations.txt); was the "
            "program compiled with dump_passes=True?"
        )
    return sorted(candidates)[-1]


def _dump_entry(seq, rest, name, text, mtime):
    m = _BETWEEN_PASSES.fullmatch(rest)
    if m:
        pipeline, after, before = m.groups()
        kind = "pipeline-start" if after == _PIPELINE_START else "pass"
        label = (
            f"{pipeline}: start (changed by work between pipelines, outside any dumped pass)"
            if kind == "pipeline-start"
            else after
        )
        return {
            "seq": seq,
            "file": name,
            "pipeline": pipeline,
            "pass_name": after,
            "next_pass": before,
            "kind": kind,
            "step": None,
            "text": text,
            "mtime": mtime,
            "label": label,
        }
    pass_name, _, step = rest.partition(".")
    return {
        "seq": seq,
        "file": name,
        "pipeline": None,
        "pass_name": pass_name,
        "next_pass": None,
        "kind": "during-pass",
        "step": step.replace("_", " "),
        "text": text,
        "mtime": mtime,
        "label": f"{pass_name} ({step.replace('_', ' ')})",
    }


def _every_pass_dumped(debug_options_path):
    """Whether XLA wrote a file after every pass (a pass regex other than '.*'), which
    shows also the passes that changed nothing; with '.*' only changed passes appear.
    None when the dump has no debug_options file."""
    if not os.path.exists(debug_options_path):
        return None
    m = re.search(r'xla_dump_hlo_pass_re:\s*"(.*)"', _read(debug_options_path))
    return bool(m) and m.group(1) != ".*"


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _optional(path, cls):
    return cls(_read(path)) if os.path.exists(path) else None


# ---------------------------------------------------------------------------- the timeline


class PassTimeline:
    """XLA's compile of one module: ``before_optimizations`` text, ``passes`` (the steps
    that changed the module, in order), ``after_optimizations`` text, then the final
    ``buffer_assignment``, ``memory_usage`` and ``live_range`` reports and the generated
    ``kernels`` (object code, LLVM IR). ``skipped`` holds the dumps that changed nothing."""

    def __init__(
        self,
        module_name,
        platform,
        before_optimizations,
        after_optimizations,
        passes,
        dumps,
        skipped,
        compiled_text=None,
    ):
        self.module_name = module_name
        self.platform = platform
        self.before_optimizations = before_optimizations
        self.after_optimizations = after_optimizations
        self.passes = passes
        self.dumps = dumps
        self.skipped = skipped
        self.compiled_text = compiled_text
        self.compiled = self.lowered = self.dump_dir = None
        self.buffer_assignment = self.memory_usage = self.live_range = None
        self.kernels = []
        self.timings = {}
        self.every_pass_dumped = None

    def __len__(self):
        return len(self.passes)

    def __iter__(self):
        return iter(self.passes)

    def __getitem__(self, i):
        return self.passes[i]

    def __repr__(self):
        return (
            f"<PassTimeline {self.module_name}: {len(self.passes)} changing passes of "
            f"{len(self.dumps)} dumps, {len(self.kernels)} kernels>"
        )

    @property
    def pass_names(self):
        return [s.pass_name for s in self.passes]

    def find(self, name):
        """Steps whose pass name equals ``name`` (or contains it, if none equals it)."""
        exact = [s for s in self.passes if s.pass_name == name]
        return exact or [s for s in self.passes if name in (s.pass_name or "")]

    def fusion_passes(self):
        """Steps that fused instructions (created fusions or moved instructions into one)."""
        return [s for s in self.passes if s.is_fusion_pass]

    def final_matches_compiled(self):
        """Whether the dump's optimized module is the executable's ``as_text()``: equal
        line by line once each ``backend_config`` JSON is printed with sorted keys (the
        two printers order its keys differently)."""
        if self.compiled_text is None or self.after_optimizations is None:
            return None
        return canonical_hlo_text(self.after_optimizations) == canonical_hlo_text(
            self.compiled_text
        )

    def kernel(self, name):
        for k in self.kernels:
            if k.name == name or name in k.symbols_by_name:
                return k
        raise KeyError(
            f"no generated kernel named {name!r}; kernels: {[k.name for k in self.kernels]}"
        )

    def to_dict(self, include_text=False):
        return {
            "module": self.module_name,
            "platform": self.platform,
            "passes": [s.to_dict(include_text) for s in self.passes],
            "skipped": [
                {
                    "seq": d["seq"],
                    "pipeline": d["pipeline"],
                    "pass": d["pass_name"],
                    "kind": d["kind"],
                }
                for d in self.skipped
            ],
            "every_pass_dumped": self.every_pass_dumped,
            "buffer_assignment": _to_dict(self.buffer_assignment),
            "memory_usage": _to_dict(self.memory_usage),
            "live_range": _to_dict(self.live_range),
            "kernels": [k.to_dict() for k in self.kernels],
            "timings": dict(self.timings),
            "final_matches_compiled": self.final_matches_compiled(),
            **(
                {
                    "before_optimizations": self.before_optimizations,
                    "after_optimizations": self.after_optimizations,
                }
                if include_text
                else {}
            ),
        }


def _to_dict(report):
    return report.to_dict() if report is not None else None


class PassStep:
    """One step that changed the module: ``pipeline``, ``pass_name`` (the pass after which
    XLA dumped), ``next_pass``, ``kind`` ('pass', 'pipeline-start' for changes made
    between pipelines, 'during-pass', 'final'), ``text`` (the module after it),
    ``previous_text``; ``diff`` (structural) and ``text_diff`` (unified) on demand.
    ``elapsed_s`` is the wall time since the previous dump file was written (passes that
    changed nothing and the dump I/O included): a rough guide, not a pass timer."""

    def __init__(self, index, dump, previous_text, previous_label, elapsed_s, parsed=None):
        self.index = index
        self.seq = dump["seq"]
        self.file = dump["file"]
        self.pipeline = dump["pipeline"]
        self.pass_name = dump["pass_name"]
        self.next_pass = dump["next_pass"]
        self.kind = dump["kind"]
        self.step = dump["step"]
        self.label = dump["label"]
        self.text = dump["text"]
        self.previous_text = previous_text
        self.previous_label = previous_label
        self.elapsed_s = elapsed_s
        self._diff = self._text_diff = None
        self._parsed = {} if parsed is None else parsed
        self.diff_error = None

    def __repr__(self):
        where = f"{self.pipeline}/" if self.pipeline else ""
        return f"<PassStep {self.index}: {where}{self.pass_name} ({self.kind})>"

    def _parse(self, text):
        if text not in self._parsed:
            self._parsed[text] = parse_hlo_module(text)
        return self._parsed[text]

    @property
    def module(self):
        """The module after this step, parsed (shared with the next step's
        ``previous_module``)."""
        return self._parse(self.text)

    @property
    def previous_module(self):
        return self._parse(self.previous_text)

    @property
    def diff(self):
        """The ``StructuralDiff`` from the previous dump, or None if either module did
        not parse (``diff_error`` says why)."""
        if self._diff is None and self.diff_error is None:
            try:
                self._diff = structural_diff(self.previous_module, self.module)
            except Exception as e:  # a dump the HLO parser does not understand
                self.diff_error = f"{type(e).__name__}: {e}"
        return self._diff

    @property
    def text_diff(self):
        if self._text_diff is None:
            self._text_diff = "\n".join(
                difflib.unified_diff(
                    self.previous_text.splitlines(),
                    self.text.splitlines(),
                    fromfile=self.previous_label,
                    tofile=self.label,
                    lineterm="",
                )
            )
        return self._text_diff

    @property
    def is_fusion_pass(self):
        d = self.diff
        return bool(d and (d.fused or d.fusions_created))

    def to_dict(self, include_text=False):
        d = self.diff
        out = {
            "index": self.index,
            "seq": self.seq,
            "pipeline": self.pipeline,
            "pass": self.pass_name,
            "next_pass": self.next_pass,
            "kind": self.kind,
            "step": self.step,
            "label": self.label,
            "file": self.file,
            "elapsed_s": self.elapsed_s,
            "is_fusion_pass": self.is_fusion_pass,
            "diff": d.to_dict() if d else None,
            "diff_error": self.diff_error,
        }
        if include_text:
            out["text"] = self.text
            out["text_diff"] = self.text_diff
        return out


# ---------------------------------------------------------------------------- structural diff


class StructuralDiff:
    """What one pass did to the module's instructions.

    - ``added`` / ``removed``: instruction names new in / gone from the module (clones
      made by fusion and fused computations' parameters are not counted as added).
    - ``fused``: instructions that left their computation and reappear inside a fused
      computation. XLA clones an instruction into the fusion under a new name with the
      same stem (``add_eqn2.7`` -> ``add_eqn2.0``), so clones are matched on name stem,
      opcode, shape without layout, ``op_name`` metadata and constant value, and then
      on operands (a fusion parameter must carry the original operand). ``exact`` is
      False where a clone still fits several removed instructions (identical
      broadcasts of one constant, say). One instruction may be duplicated into several
      fusions (``into`` lists them all).
    - ``copied``: instructions that stayed where they were and were also copied into
      fusions (constants and broadcasts that each fusion recomputes).
    - ``fusions_created``: new fusion instructions, with kind and what went in.
    - ``rewritten``: same name, different opcode / operands / shape / attributes /
      computation (``changes`` says which).
    - ``reordered``: computations whose surviving instructions were put in a new order
      (the scheduler does this); ``header_changed``: the module line changed (e.g.
      ``is_scheduled=true``).
    """

    def __init__(self):
        self.added, self.removed, self.fused, self.rewritten = [], [], [], []
        self.copied, self.fusions_created = [], []
        self.computations_added, self.computations_removed = [], []
        self.reordered = []
        self.header_changed = False

    def __bool__(self):
        return bool(
            self.added
            or self.removed
            or self.fused
            or self.rewritten
            or self.computations_added
            or self.computations_removed
        )

    def summary(self):
        parts = []
        if self.fused:
            kinds = sorted({k for f in self.fused for k in f["fusion_kinds"] if k})
            parts.append(
                f"fused {len(self.fused)} instructions into "
                f"{len({i for f in self.fused for i in f['into']})} fusions"
                + (f" ({', '.join(kinds)})" if kinds else "")
            )
        for name in ("copied", "added", "removed", "rewritten"):
            items = getattr(self, name)
            if items:
                parts.append(f"{name} {len(items)}")
        if self.reordered:
            parts.append(f"reordered {len(self.reordered)} computations")
        if self.header_changed:
            parts.append("module header changed")
        return "; ".join(parts) or "no instruction-level change (metadata or formatting)"

    def __repr__(self):
        return f"<StructuralDiff {self.summary()}>"

    def to_dict(self):
        return {
            "added": self.added,
            "removed": self.removed,
            "fused": self.fused,
            "copied": self.copied,
            "rewritten": self.rewritten,
            "fusions_created": self.fusions_created,
            "computations_added": self.computations_added,
            "computations_removed": self.computations_removed,
            "reordered": self.reordered,
            "header_changed": self.header_changed,
            "summary": self.summary(),
        }


def _stem(name):
    return re.sub(r"\.\d+$", "", name)


def _shape_key(shape):
    return re.sub(r"\{[^{}]*\}", "", shape.text)


def _clone_key(ins):
    return (
        _stem(ins.name),
        ins.opcode,
        _shape_key(ins.shape),
        ins.metadata.op_name,
        ins.literal if ins.opcode == "constant" else None,
    )


def _could_be_copy(original, clone, before, after, removed):
    """Whether ``clone`` (inside a fused computation of ``after``) can be a copy of
    ``original`` (of ``before``), operand by operand: a fusion parameter must carry the
    original operand (or a value that was itself fused away); an operand inside the
    fusion must be a value fused away, or a copy of the original operand."""
    if len(original.operands) != len(clone.operands):
        return False
    comp = after.computations[clone.computation]
    params = {i.name: i.parameter_number for i in comp.instructions if i.opcode == "parameter"}
    for was, now in zip(original.operands, clone.operands):
        if was in removed or was == now:
            continue
        if now not in params:
            if (
                was in before
                and now in after
                and _clone_key(before.instruction(was)) == _clone_key(after.instruction(now))
            ):
                continue
            return False
        sources = {
            after.instruction(c).operands[params[now]]
            for c in comp.callers
            if c in after and params[now] < len(after.instruction(c).operands)
        }
        if was not in sources:
            return False
    return True


def _in_fusion(module, ins):
    comp = module.computations.get(ins.computation)
    return comp is not None and comp.is_fusion


def _describe(ins):
    return {
        "name": ins.name,
        "opcode": ins.opcode,
        "shape": ins.shape.text,
        "computation": ins.computation,
        "op_name": ins.metadata.op_name,
    }


def structural_diff(before, after):
    """Compare two parsed ``HloModule``s (before and after a pass)."""
    d = StructuralDiff()
    old = {i.name: i for i in before.instructions()}
    new = {i.name: i for i in after.instructions()}
    d.computations_added = [c for c in after.computations if c not in before.computations]
    d.computations_removed = [c for c in before.computations if c not in after.computations]

    removed = [i for n, i in old.items() if n not in new]
    removed_names = {i.name for i in removed}
    by_key = {}
    for ins in old.values():
        by_key.setdefault(_clone_key(ins), []).append(ins)
    copies_of, ambiguous, matched_clones = {}, set(), set()
    for n, ins in new.items():
        if n in old or ins.opcode == "parameter" or not _in_fusion(after, ins):
            continue
        candidates = [
            r
            for r in by_key.get(_clone_key(ins), ())
            if _could_be_copy(r, ins, before, after, removed_names)
        ]
        gone = [r for r in candidates if r.name in removed_names]
        candidates = gone or candidates  # prefer what left the module over what stayed
        for r in candidates:
            copies_of.setdefault(r.name, []).append(ins)
            if len(candidates) > 1:
                ambiguous.add(r.name)
        if candidates:
            matched_clones.add(n)

    for n, copies in copies_of.items():
        if n in removed_names:
            continue
        into = []
        for c in copies:
            into.extend(f for f in after.fusions_of(c.name) if f not in into)
        d.copied.append(
            {
                **_describe(old[n]),
                "into": into,
                "as": [c.name for c in copies],
                "exact": n not in ambiguous,
            }
        )

    fused_into = {}
    for ins in removed:
        copies = copies_of.get(ins.name)
        if not copies:
            continue
        into = []
        for c in copies:
            into.extend(f for f in after.fusions_of(c.name) if f not in into)
        for f in into:
            fused_into.setdefault(f, []).append(ins.name)
        d.fused.append(
            {
                **_describe(ins),
                "into": into,
                "fusion_kinds": [new[f].fusion_kind if f in new else None for f in into],
                "as": [c.name for c in copies],
                "exact": ins.name not in ambiguous,
            }
        )

    # Instructions that kept their name but moved into a fused computation.
    for n, ins in new.items():
        o = old.get(n)
        if o is None or o.computation == ins.computation:
            continue
        if _in_fusion(after, ins) and not _in_fusion(before, o):
            into = after.fusions_of(n)
            for f in into:
                fused_into.setdefault(f, []).append(n)
            d.fused.append(
                {
                    **_describe(o),
                    "into": into,
                    "fusion_kinds": [new[f].fusion_kind for f in into if f in new],
                    "as": [n],
                    "exact": True,
                }
            )

    fused_names = {f["name"] for f in d.fused}
    d.removed = [_describe(i) for i in removed if i.name not in fused_names]
    for n, ins in new.items():
        if n in old or n in matched_clones:
            continue
        if ins.opcode == "parameter" and _in_fusion(after, ins):
            continue
        d.added.append(_describe(ins))
        if ins.opcode == "fusion":
            d.fusions_created.append(
                {
                    "name": n,
                    "kind": ins.fusion_kind,
                    "computation": ins.computation,
                    "calls": list(ins.called),
                    "fused": fused_into.get(n, []),
                    "size": sum(
                        len(after.computations[c]) for c in ins.called if c in after.computations
                    ),
                }
            )
    for n, ins in new.items():
        o = old.get(n)
        if o is None or n in fused_names:
            continue
        changes = []
        if o.opcode != ins.opcode:
            changes.append("opcode")
        if o.operands != ins.operands:
            changes.append("operands")
        if o.shape.text != ins.shape.text:
            changes.append("shape")
        if _canonical_attributes(o) != _canonical_attributes(ins):
            changes.append("attributes")
        if o.computation != ins.computation:
            changes.append("computation")
        if ins.opcode == "fusion" and _fused_body(before, o) != _fused_body(after, ins):
            changes.append("fused computation")
        if changes:
            d.rewritten.append(
                {**_describe(ins), "changes": changes, "before": o.text, "after": ins.text}
            )
    for name, comp in after.computations.items():
        if name in before.computations:
            kept = [i.name for i in comp.instructions if i.name in old]
            was = [i.name for i in before.computations[name].instructions if i.name in new]
            if kept != was and sorted(kept) == sorted(was):
                d.reordered.append(name)
    d.header_changed = (before.name, before.attributes) != (after.name, after.attributes)
    return d


def _canonical_attributes(ins):
    attrs = dict(ins.attributes)
    attrs.pop("calls", None)  # the fused computation's name; compared by body instead
    if "backend_config" in attrs:
        attrs["backend_config"] = _canonical_json(attrs["backend_config"])
    return attrs


def _fused_body(module, ins):
    return sorted(
        (i.opcode, _shape_key(i.shape))
        for c in ins.called
        if c in module.computations
        for i in module.computations[c]
    )


def _canonical_json(text):
    body = text.strip()
    quoted = body.startswith('"')
    if quoted:
        body = body[1:-1].replace('\\"', '"')
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return text


_BACKEND_CONFIG = re.compile(r"backend_config=(\{.*?\})(?=, \w+=|$)")


def canonical_hlo_text(text):
    """HLO text with each ``backend_config`` JSON's keys sorted and trailing spaces
    dropped, for comparing two printers' output of the same module."""
    lines = []
    for line in text.strip().splitlines():
        line = _BACKEND_CONFIG.sub(
            lambda m: "backend_config=" + _canonical_json(m.group(1)), line.rstrip()
        )
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------- final reports

_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def _parse_size(text):
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B)\s*", text)
    if not m:
        return None
    return int(round(float(m.group(1)) * _SIZE_UNITS.get(m.group(2), 1)))


class BufferAssignment:
    """XLA's final buffer assignment: ``allocations``, each with its size, kind
    (parameter, output, temp, thread-local, constant, live-out) and the HLO values it
    holds (instruction, offset, size, shape)."""

    _ALLOC = re.compile(r"allocation (\d+): size (\d+)(?:, (.*))?:\s*$")
    _VALUE = re.compile(
        r"\s*value: <(\d+) ([^ {]+)(\{[^}]*\})? @(\d+)> "
        r"\(size=(\d+),offset=(\d+)\): (.*)$"
    )

    def __init__(self, text):
        self.text = text
        self.allocations = []
        current = None
        for line in text.splitlines():
            m = self._ALLOC.match(line)
            if m:
                flags = m.group(3) or ""
                param = re.search(r"parameter (\d+)", flags)
                current = {
                    "index": int(m.group(1)),
                    "size": int(m.group(2)),
                    "kind": self._kind(flags),
                    "parameter": int(param.group(1)) if param else None,
                    "maybe_live_out": "maybe-live-out" in flags,
                    "attributes": flags,
                    "values": [],
                }
                self.allocations.append(current)
                continue
            m = self._VALUE.match(line)
            if m and current is not None:
                current["values"].append(
                    {
                        "id": int(m.group(1)),
                        "instruction": m.group(2),
                        "index": m.group(3) or "{}",
                        "size": int(m.group(5)),
                        "offset": int(m.group(6)),
                        "shape": m.group(7).strip(),
                    }
                )

    @staticmethod
    def _kind(flags):
        if "parameter" in flags:
            return "parameter"
        if "output shape" in flags:
            return "output"
        for word, kind in (
            ("preallocated-temp", "temp"),
            ("thread-local", "thread-local"),
            ("constant", "constant"),
            ("maybe-live-out", "live-out"),
        ):
            if word in flags:
                return kind
        return "other"

    @property
    def total_bytes(self):
        return sum(a["size"] for a in self.allocations)

    def bytes_by_kind(self):
        out = {}
        for a in self.allocations:
            out[a["kind"]] = out.get(a["kind"], 0) + a["size"]
        return out

    def allocation_of(self, instruction):
        for a in self.allocations:
            if any(v["instruction"] == instruction for v in a["values"]):
                return a
        return None

    def __repr__(self):
        return f"<BufferAssignment {len(self.allocations)} allocations, {self.total_bytes} bytes>"

    def to_dict(self):
        return {
            "allocations": self.allocations,
            "total_bytes": self.total_bytes,
            "bytes_by_kind": self.bytes_by_kind(),
        }


class MemoryUsageReport:
    """XLA's memory-usage report: per memory space the exact total bytes and the
    allocations as XLA prints them, largest first (size rounded to 0.1 KiB/MiB as
    printed, offset, number of values, their shapes). Exact per-allocation sizes are in
    ``BufferAssignment``."""

    def __init__(self, text):
        self.text = text
        self.spaces = []
        space = None
        for line in text.splitlines():
            m = re.match(r"Memory Space: (.*?) \(color=(\d+)\)", line)
            if m:
                space = {
                    "name": m.group(1),
                    "color": int(m.group(2)),
                    "total_bytes": None,
                    "allocations": [],
                }
                self.spaces.append(space)
                continue
            m = re.match(r"Total bytes: (\d+)", line)
            if m and space is not None:
                space["total_bytes"] = int(m.group(1))
                continue
            parts = [p.strip() for p in line.split(";")]
            if space is not None and len(parts) == 5 and parts[0] != "cumulative_size":
                if not parts[2].isdigit():
                    continue
                space["allocations"].append(
                    {
                        "size": _parse_size(parts[1]),
                        "size_text": parts[1],
                        "offset": int(parts[2]),
                        "values": int(parts[3]) if parts[3].isdigit() else None,
                        "shapes": parts[4],
                    }
                )

    @property
    def total_bytes(self):
        return sum(s["total_bytes"] or 0 for s in self.spaces)

    def __repr__(self):
        return f"<MemoryUsageReport {len(self.spaces)} memory spaces, {self.total_bytes} bytes>"

    def to_dict(self):
        return {"spaces": self.spaces, "total_bytes": self.total_bytes}


class LiveRange:
    """XLA's buffer live ranges: the schedule, each buffer's [start, end] step, and the
    peak (its step, bytes and the buffers live there)."""

    def __init__(self, text):
        self.text = text
        self.schedule, self.ranges, self.peak_buffers = [], {}, []
        self.peak_step = self.peak_bytes = None
        section = None
        for line in text.splitlines():
            s = line.strip()
            if s == "InstructionSequence:":
                section = "seq"
            elif s == "BufferLiveRange:":
                section = "ranges"
            elif s.startswith("Live ranges at"):
                section = "peak"
                m = re.search(r"at (\d+)", s)
                self.peak_step = int(m.group(1)) if m else None
            elif s.startswith("Stack trace breakdown for peak usage:"):
                section = None
                digits = re.sub(r"[^\d]", "", s.split(":", 1)[1])
                self.peak_bytes = int(digits) if digits else None
            elif section == "seq" and re.match(r"\d+:", s):
                self.schedule.append(s.split(":", 1)[1])
            elif section == "ranges" and re.match(r".+:\d+-\d+$", s):
                name, _, span = s.rpartition(":")
                a, b = span.split("-")
                self.ranges[name] = (int(a), int(b))
            elif section == "peak":
                m = re.match(r"(.+?): (\d+) bytes", s)
                if m:
                    self.peak_buffers.append({"buffer": m.group(1), "bytes": int(m.group(2))})
        if self.peak_bytes is None and self.peak_buffers:
            self.peak_bytes = sum(b["bytes"] for b in self.peak_buffers)

    def __repr__(self):
        return f"<LiveRange {len(self.schedule)} steps, peak {self.peak_bytes} bytes>"

    def to_dict(self):
        return {
            "schedule": self.schedule,
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "peak_step": self.peak_step,
            "peak_bytes": self.peak_bytes,
            "peak_buffers": self.peak_buffers,
        }


# ---------------------------------------------------------------------------- generated code

_ELF_MACHINES = {3: "x86", 62: "x86-64", 40: "ARM", 183: "AArch64", 243: "RISC-V", 21: "PowerPC64"}


class KernelCode:
    """One kernel XLA generated: its ``name`` (the fused instruction it runs), LLVM IR
    before and after LLVM's optimizations, and the object file (``symbols`` with their
    sizes, ``disassembly()`` through ``objdump`` where binutils is installed). On GPU
    the dump holds PTX instead (``ptx``)."""

    def __init__(self, name):
        self.name = name
        self.object_file = None
        self.object_bytes = None
        self.llvm_ir = None
        self.llvm_ir_optimized = None
        self.ptx = None
        self.platform = None
        self.symbols = []
        self._disassembly = {}

    @property
    def symbols_by_name(self):
        return {s["name"]: s for s in self.symbols}

    @property
    def code_size(self):
        """Bytes of machine code in the object's function symbols."""
        return sum(s["size"] for s in self.symbols if s["type"] == "function")

    def disassembly(self, syntax="intel"):
        """objdump's disassembly of the object file, or None where objdump is missing
        (see ``disassembly_note``)."""
        if self.object_bytes is None:
            return None
        if syntax not in self._disassembly:
            self._disassembly[syntax] = disassemble(
                self.object_bytes, self.object_file, syntax, self.platform
            )
        return self._disassembly[syntax]

    @property
    def disassembly_note(self):
        if self.object_bytes is None:
            return "no object file in the dump for this kernel"
        if objdump_path() is None:
            return (
                "objdump not found (Debian/Ubuntu package 'binutils'); only the symbol "
                "list and sizes are shown"
            )
        return None

    def __repr__(self):
        return f"<KernelCode {self.name}: {self.code_size} bytes of {self.platform}>"

    def to_dict(self, include_code=False):
        out = {
            "name": self.name,
            "platform": self.platform,
            "object_file": self.object_file,
            "object_size": len(self.object_bytes) if self.object_bytes else None,
            "code_size": self.code_size,
            "symbols": self.symbols,
            "has_llvm_ir": self.llvm_ir is not None,
            "has_ptx": self.ptx is not None,
            "disassembly_note": self.disassembly_note,
        }
        if include_code:
            out.update(
                llvm_ir=self.llvm_ir,
                llvm_ir_optimized=self.llvm_ir_optimized,
                ptx=self.ptx,
                disassembly=self.disassembly(),
            )
        return out


def _kernel_name(file_stem):
    name = file_stem
    if name.startswith("__compute_module_"):
        name = name[len("__compute_module_") :]
    if name.endswith("_kernel_module"):
        name = name[: -len("_kernel_module")]
    return name


def _read_kernels(dump_dir, own, prefix):
    kernels = {}

    def get(stem):
        name = _kernel_name(stem)
        if name not in kernels:
            kernels[name] = KernelCode(name)
        return kernels[name]

    for n in own:
        rest = n[len(prefix) :]
        full = os.path.join(dump_dir, n)
        if rest.startswith("obj-file.") and rest.endswith(".o"):
            k = get(rest[len("obj-file.") : -2])
            with open(full, "rb") as fh:
                k.object_bytes = fh.read()
            k.object_file = rest
            machine, k.symbols = elf_symbols(k.object_bytes)
            k.platform = (
                f"{machine} ELF object (XLA {_platform_word(own, prefix)})"
                if machine
                else "unknown object format"
            )
        elif rest.endswith(".ir-no-opt.ll"):
            get(rest[: -len(".ir-no-opt.ll")]).llvm_ir = _read(full)
        elif rest.endswith(".ir-with-opt.ll"):
            get(rest[: -len(".ir-with-opt.ll")]).llvm_ir_optimized = _read(full)
        elif rest.endswith(".ptx"):
            k = get(rest[: -len(".ptx")])
            k.ptx = _read(full)
            k.platform = k.platform or "PTX assembly (NVIDIA virtual ISA)"
    return sorted(kernels.values(), key=lambda k: k.name)


def _platform_word(own, prefix):
    for n in own:
        m = _AFTER_OPT.fullmatch(n[len(prefix) :])
        if m and m.group(1):
            return m.group(1).upper()
    return "backend"


def elf_symbols(data):
    """(machine, symbols) of an ELF64 little-endian object, read with the standard
    library: each symbol's name, section, type, offset and size. ``(None, [])`` for
    anything else."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None, []
    machine = _ELF_MACHINES.get(struct.unpack_from("<H", data, 18)[0], "unknown")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]

    def cstr(offset):
        end = data.index(b"\0", offset)
        return data[offset:end].decode("utf-8", "replace")

    shstr = sections[shstrndx][4] if shstrndx < shnum else 0
    names = [cstr(shstr + s[0]) if shstr else "" for s in sections]
    symbols = []
    for s in sections:
        if s[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[s[6]][4]
        for off in range(s[4], s[4] + s[5], 24):
            st_name, st_info, _, st_shndx, st_value, st_size = struct.unpack_from(
                "<IBBHQQ", data, off
            )
            kind = {1: "object", 2: "function"}.get(st_info & 0xF)
            if kind is None or not st_name:
                continue
            symbols.append(
                {
                    "name": cstr(strtab + st_name),
                    "type": kind,
                    "section": names[st_shndx] if st_shndx < len(names) else None,
                    "offset": st_value,
                    "size": st_size,
                    "binding": {0: "local", 1: "global", 2: "weak"}.get(st_info >> 4),
                }
            )
    return machine, symbols


def objdump_path():
    return shutil.which("objdump") or shutil.which("llvm-objdump")


def disassemble(object_bytes, label="kernel.o", syntax="intel", platform=None):
    """``objdump -d`` of an object file's bytes, or None where objdump is missing."""
    tool = objdump_path()
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="glassjax_obj_") as tmp:
        path = os.path.join(tmp, "kernel.o")
        with open(path, "wb") as fh:
            fh.write(object_bytes)
        cmd = [tool, "-d", "--no-show-raw-insn", "-C"]
        if syntax == "intel" and platform and "x86" in platform:
            cmd += ["-M", "intel"]
        proc = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return f"objdump failed: {proc.stderr.strip()}"
    return proc.stdout.replace(path, label or "kernel.o").strip() + "\n"
