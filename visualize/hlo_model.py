"""XLA HLO text -> Python objects.

Parses what ``Lowered.as_text(dialect="hlo")`` (before optimization) and
``Compiled.as_text()`` (after optimization) print: the module header, the source tables
(FileNames, FunctionNames, FileLocations, StackFrames), and every computation with its
instructions: shapes (tuples and layouts included), operands, attributes, metadata and
the computations each instruction calls.

    m = parse_hlo_module(compiled.as_text())
    m.entry.root, m.fusions(), m.instruction("add_tanh_fusion").metadata.source_line
"""

from __future__ import annotations

import re

# Attributes whose value names other computations.
CALLED_COMPUTATION_KEYS = (
    "calls",
    "to_apply",
    "condition",
    "body",
    "branch_computations",
    "true_computation",
    "false_computation",
    "called_computations",
)

_NAME = r"[A-Za-z0-9_.\-]+"
_SECTION_TITLES = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")


# ---------------------------------------------------------------------------- lexing helpers


def _strip_comments(text):
    """Drop ``/*...*/`` comments (XLA prints ``/*index=5*/`` in long lists) outside strings."""
    if "/*" not in text:
        return text
    out, i, n, quote = [], 0, len(text), False
    while i < n:
        c = text[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                quote = False
        elif c == '"':
            quote = True
            out.append(c)
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _match_close(text, start):
    """Index of the bracket closing the one at ``text[start]`` (strings respected)."""
    depth, i, n, quote = 0, start, len(text), False
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced brackets in HLO text: {text[start : start + 80]!r}")


def split_top_level(text, sep=","):
    """Split on ``sep`` outside brackets and strings."""
    parts, depth, quote, start, i, n = [], 0, False, 0, 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    if last:
        parts.append(last)
    return parts


def unescape(s):
    """Undo XLA's C escaping of a quoted string's body (``\\"``, ``\\\\``, ``\\n``, octal bytes)."""
    if "\\" not in s:
        return s
    out, i, n = bytearray(), 0, len(s)
    simple = {"n": b"\n", "t": b"\t", "r": b"\r", '"': b'"', "'": b"'", "\\": b"\\"}
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d in simple:
                out += simple[d]
                i += 2
                continue
            if d in "01234567":
                j = i + 1
                while j < n and j < i + 4 and s[j] in "01234567":
                    j += 1
                out.append(int(s[i + 1 : j], 8) & 0xFF)
                i = j
                continue
            if d == "x":
                j = i + 2
                while j < n and s[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(int(s[i + 2 : j], 16) & 0xFF)
                i = j
                continue
        out += c.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="replace")


def _unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return unescape(v[1:-1])
    return v


# ---------------------------------------------------------------------------- shapes


class HloShape:
    """An HLO shape: an array ``dtype[dims]{layout}`` or a tuple of shapes."""

    __slots__ = ("text", "dtype", "dims", "layout", "tuple_shapes", "dynamic")

    def __init__(self, text, dtype=None, dims=(), layout=None, tuple_shapes=None, dynamic=()):
        self.text = text
        self.dtype, self.dims, self.layout = dtype, tuple(dims), layout
        self.tuple_shapes = tuple_shapes
        self.dynamic = tuple(dynamic)  # True where a dim is printed as ``<=N`` (a bound)

    @property
    def is_tuple(self):
        return self.tuple_shapes is not None

    def leaves(self):
        if self.is_tuple:
            return [leaf for s in self.tuple_shapes for leaf in s.leaves()]
        return [self]

    def __eq__(self, other):
        return isinstance(other, HloShape) and self.text == other.text

    def __hash__(self):
        return hash(self.text)

    def __repr__(self):
        return f"HloShape({self.text})"

    def __str__(self):
        return self.text

    def to_dict(self):
        if self.is_tuple:
            return {"tuple": [s.to_dict() for s in self.tuple_shapes]}
        return {
            "dtype": self.dtype,
            "dims": list(self.dims),
            "layout": None if self.layout is None else list(self.layout),
        }


_ARRAY_SHAPE = re.compile(r"([a-z][a-z0-9]*)\[([^\]]*)\](?:\{([^}]*)\})?")


def parse_shape(text):
    text = _strip_comments(text).strip()
    if text.startswith("("):
        inner = text[1 : _match_close(text, 0)]
        return HloShape(text, tuple_shapes=[parse_shape(p) for p in split_top_level(inner)])
    m = _ARRAY_SHAPE.fullmatch(text)
    if m is None:
        return HloShape(text, dtype=text)  # e.g. token[] without brackets in odd printers
    dtype, dims_s, layout_s = m.groups()
    dims, dynamic = [], []
    for d in (x.strip() for x in dims_s.split(",") if x.strip()):
        dynamic.append(d.startswith("<="))
        d = d.lstrip("<=")
        dims.append(int(d) if d.isdigit() else d)
    layout = None
    if layout_s is not None:
        minor_to_major = layout_s.split(":", 1)[0]
        layout = tuple(int(x) for x in minor_to_major.split(",") if x.strip().isdigit())
    return HloShape(text, dtype, dims, layout, dynamic=dynamic)


# ---------------------------------------------------------------------------- metadata


class SourceFrame:
    __slots__ = ("file", "line", "function", "column", "end_line", "end_column")

    def __init__(self, file, line, function=None, column=None, end_line=None, end_column=None):
        self.file, self.line, self.function = file, line, function
        self.column, self.end_line, self.end_column = column, end_line, end_column

    def __repr__(self):
        return f"{self.file}:{self.line} ({self.function})"

    def to_dict(self):
        return {"file": self.file, "line": self.line, "function": self.function}


class HloMetadata:
    """An instruction's ``metadata={...}``. ``stack`` is the resolved call stack
    (innermost frame first) when the instruction has a ``stack_frame_id``."""

    __slots__ = (
        "op_name",
        "op_type",
        "source_file",
        "source_line",
        "stack_frame_id",
        "stack",
        "raw",
    )

    def __init__(self, raw):
        self.raw = raw
        self.op_name = raw.get("op_name")
        self.op_type = raw.get("op_type")
        self.source_file = raw.get("source_file")
        line = raw.get("source_line")
        self.source_line = int(line) if line is not None and str(line).isdigit() else None
        sf = raw.get("stack_frame_id")
        self.stack_frame_id = int(sf) if sf is not None and str(sf).isdigit() else None
        self.stack = []

    @property
    def source(self):
        """(file, line) of the innermost user frame, or None."""
        if self.source_file is not None and self.source_line is not None:
            return self.source_file, self.source_line
        if self.stack:
            return self.stack[0].file, self.stack[0].line
        return None

    def __repr__(self):
        return f"HloMetadata(op_name={self.op_name!r}, source={self.source})"

    def to_dict(self):
        return {
            "op_name": self.op_name,
            "source": self.source,
            "stack": [f.to_dict() for f in self.stack],
        }


_META_ITEM = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_metadata(text):
    """``{op_name="a" source_line=3}`` -> HloMetadata."""
    body = text.strip()
    if body.startswith("{"):
        body = body[1:-1]
    return HloMetadata({k: _unquote(v) for k, v in _META_ITEM.findall(body)})


# ---------------------------------------------------------------------------- instructions


class HloInstruction:
    __slots__ = (
        "name",
        "opcode",
        "shape",
        "operands",
        "attributes",
        "metadata",
        "literal",
        "parameter_number",
        "is_root",
        "computation",
        "called",
        "text",
        "line",
    )

    def __init__(
        self,
        name,
        opcode,
        shape,
        operands,
        attributes,
        metadata,
        literal=None,
        parameter_number=None,
        is_root=False,
        text="",
        line=None,
    ):
        self.name, self.opcode, self.shape = name, opcode, shape
        self.operands = operands  # operand instruction names, in order
        self.attributes = attributes  # raw attribute strings by key (metadata excluded)
        self.metadata = metadata  # HloMetadata (empty when none printed)
        self.literal = literal  # a constant's payload text
        self.parameter_number = parameter_number
        self.is_root = is_root
        self.computation = None  # name of the computation it belongs to
        self.called = _called_computations(attributes)
        self.text = text  # the instruction's line as printed
        self.line = line  # 0-based line number in the module text

    @property
    def fusion_kind(self):
        return self.attributes.get("kind") if self.opcode == "fusion" else None

    @property
    def backend_config(self):
        v = self.attributes.get("backend_config")
        return None if v is None else _unquote(v)

    @property
    def custom_call_target(self):
        v = self.attributes.get("custom_call_target")
        return None if v is None else _unquote(v)

    def __repr__(self):
        return f"<HloInstruction %{self.name} = {self.shape} {self.opcode}>"

    def to_dict(self):
        return {
            "name": self.name,
            "opcode": self.opcode,
            "shape": self.shape.text,
            "operands": list(self.operands),
            "attributes": dict(self.attributes),
            "metadata": self.metadata.to_dict(),
            "fusion_kind": self.fusion_kind,
            "called": list(self.called),
            "computation": self.computation,
            "is_root": self.is_root,
            "line": self.line,
        }


def _called_computations(attributes):
    names = []
    for key in CALLED_COMPUTATION_KEYS:
        v = attributes.get(key)
        if v is None:
            continue
        v = v.strip()
        if v.startswith("{"):
            v = v[1:-1]
        names.extend(p.strip().lstrip("%") for p in split_top_level(v) if p.strip())
    return names


_INSTR_HEAD = re.compile(r"\s*(ROOT\s+)?%?(" + _NAME + r")\s*=\s*")


def parse_instruction(line, line_no=None):
    clean = _strip_comments(line).rstrip()
    m = _INSTR_HEAD.match(clean)
    if m is None:
        raise ValueError(f"not an HLO instruction: {line!r}")
    is_root, name = bool(m.group(1)), m.group(2)
    i = m.end()
    if clean[i] == "(":
        j = _match_close(clean, i) + 1
    else:
        j = clean.index(" ", i)
    shape = parse_shape(clean[i:j])
    rest = clean[j:].lstrip()
    p = rest.index("(")
    opcode = rest[:p].strip()
    close = _match_close(rest, p)
    inside = rest[p + 1 : close]
    operands, literal, param_no = [], None, None
    if opcode == "constant":
        literal = inside.strip()
    elif opcode == "parameter":
        param_no = int(inside.strip())
    else:
        for part in split_top_level(inside):
            token = part.split()[-1] if part.split() else part
            operands.append(token.lstrip("%"))
    attributes, metadata = {}, HloMetadata({})
    tail = rest[close + 1 :].strip()
    if tail.startswith(","):
        tail = tail[1:]
    for part in split_top_level(tail):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq:
            attributes[key] = ""
        elif key == "metadata":
            metadata = parse_metadata(value)
        else:
            attributes[key] = value.strip()
    return HloInstruction(
        name,
        opcode,
        shape,
        operands,
        attributes,
        metadata,
        literal,
        param_no,
        is_root,
        text=line.strip(),
        line=line_no,
    )


# ---------------------------------------------------------------------------- computations / module


class HloComputation:
    __slots__ = (
        "name",
        "params",
        "result_shape",
        "instructions",
        "is_entry",
        "is_fusion",
        "callers",
        "attributes",
        "line",
    )

    def __init__(self, name, params, result_shape, is_entry=False, attributes=None, line=None):
        self.name = name
        self.params = params  # [(name, HloShape)] from the signature
        self.result_shape = result_shape
        self.instructions = []
        self.is_entry = is_entry
        self.is_fusion = False  # set once a fusion instruction is seen calling it
        self.callers = []  # names of instructions that call it
        self.attributes = attributes or {}
        self.line = line

    @property
    def root(self):
        for ins in self.instructions:
            if ins.is_root:
                return ins
        return self.instructions[-1] if self.instructions else None

    def __iter__(self):
        return iter(self.instructions)

    def __len__(self):
        return len(self.instructions)

    def __repr__(self):
        kind = "ENTRY " if self.is_entry else ("fused " if self.is_fusion else "")
        return f"<HloComputation {kind}%{self.name}: {len(self.instructions)} instructions>"

    def to_dict(self):
        return {
            "name": self.name,
            "is_entry": self.is_entry,
            "is_fusion": self.is_fusion,
            "params": [(n, s.text) for n, s in self.params],
            "result_shape": self.result_shape.text if self.result_shape else None,
            "instructions": [i.name for i in self.instructions],
            "root": self.root.name if self.root else None,
            "callers": list(self.callers),
        }


class HloModule:
    """A parsed HLO module. Instruction names are unique across a module (XLA's
    name uniquer is module-wide), so ``instruction(name)`` needs no computation."""

    def __init__(self, name, attributes, computations, tables, text):
        self.name = name
        self.attributes = attributes
        self.computations = computations  # {name: HloComputation}, in printed order
        self.file_names, self.function_names, self.file_locations, self.stack_frames = tables
        self.text = text
        self.entry = next((c for c in computations.values() if c.is_entry), None)
        self._by_name = {}
        self.duplicate_names = []
        for comp in computations.values():
            for ins in comp.instructions:
                if ins.name in self._by_name:
                    self.duplicate_names.append(ins.name)
                else:
                    self._by_name[ins.name] = ins
        self._link_calls()
        for ins in self._by_name.values():
            ins.metadata.stack = self.resolve_stack(ins.metadata.stack_frame_id)

    def _link_calls(self):
        for comp in self.computations.values():
            for ins in comp.instructions:
                for callee in ins.called:
                    c = self.computations.get(callee)
                    if c is None:
                        continue
                    c.callers.append(ins.name)
                    if ins.opcode == "fusion":
                        c.is_fusion = True

    # -- queries
    def instruction(self, name):
        return self._by_name[name.lstrip("%")]

    def __contains__(self, name):
        return name.lstrip("%") in self._by_name

    def instructions(self):
        """Every instruction, computation by computation, in printed order."""
        return [i for c in self.computations.values() for i in c.instructions]

    def fusions(self):
        """Every fusion instruction (in any computation)."""
        return [i for i in self.instructions() if i.opcode == "fusion"]

    def fused_computations(self):
        return [c for c in self.computations.values() if c.is_fusion]

    def computation_of(self, name):
        return self.computations[self.instruction(name).computation]

    def called_closure(self, ins):
        """Names of all computations ``ins`` calls, transitively (fused bodies, reducers...)."""
        seen, todo = [], list(ins.called)
        while todo:
            c = todo.pop()
            if c in seen or c not in self.computations:
                continue
            seen.append(c)
            for sub in self.computations[c].instructions:
                todo.extend(sub.called)
        return seen

    def is_embedded(self, comp):
        """Whether a computation runs only as part of its callers: a fused computation,
        or the ``to_apply`` of a reduce/map/sort/scatter. The others (the entry, while
        bodies and conditions, conditional branches, ``call`` targets) hold top-level
        instructions of their own."""
        if isinstance(comp, str):
            comp = self.computations[comp]
        if comp.is_entry or not comp.callers:
            return False
        for caller in comp.callers:
            ci = self._by_name.get(caller)
            if ci is None or ci.opcode in ("while", "conditional", "call", "async-start"):
                return False
        return True

    def kernels_of(self, name):
        """The top-level instructions that execute instruction ``name``: itself when it
        sits in a non-embedded computation, else (transitively) the instructions calling
        its computation, e.g. the fusion whose fused computation holds it. A computation
        shared by several callers (a reducer) gives several."""
        ins = self.instruction(name)
        result, seen, todo = [], set(), [ins]
        while todo:
            i = todo.pop(0)
            comp = self.computations[i.computation]
            if not self.is_embedded(comp):
                if i.name not in seen:
                    seen.add(i.name)
                    result.append(i.name)
                continue
            for caller in comp.callers:
                if caller not in seen:
                    todo.append(self._by_name[caller])
        return result

    def fusions_of(self, name):
        """The top-level fusion instructions holding instruction ``name`` (itself if it is one)."""
        return [k for k in self.kernels_of(name) if self._by_name[k].opcode == "fusion"]

    def fusion_of(self, name):
        owners = self.fusions_of(name)
        return owners[0] if owners else None

    def top_level_instructions(self):
        """Instructions of non-embedded computations: what runs as its own step."""
        return [
            i for c in self.computations.values() if not self.is_embedded(c) for i in c.instructions
        ]

    def resolve_stack(self, frame_id):
        """The call stack of a ``stack_frame_id``, innermost frame first."""
        frames, seen = [], set()
        while frame_id and frame_id in self.stack_frames and frame_id not in seen:
            seen.add(frame_id)
            loc_id, parent = self.stack_frames[frame_id]
            loc = self.file_locations.get(loc_id)
            if loc is not None:
                frames.append(
                    SourceFrame(
                        self.file_names.get(loc["file_name_id"]),
                        loc.get("line"),
                        self.function_names.get(loc.get("function_name_id")),
                        loc.get("column"),
                        loc.get("end_line"),
                        loc.get("end_column"),
                    )
                )
            frame_id = parent
        return frames

    def counts(self):
        ins = self.instructions()
        return {
            "computations": len(self.computations),
            "instructions": len(ins),
            "fusions": sum(1 for i in ins if i.opcode == "fusion"),
            "fused_computations": len(self.fused_computations()),
            "entry_instructions": len(self.entry.instructions) if self.entry else 0,
        }

    def __repr__(self):
        c = self.counts()
        return (
            f"<HloModule {self.name}: {c['computations']} computations, "
            f"{c['instructions']} instructions, {c['fusions']} fusions>"
        )

    def to_dict(self):
        return {
            "name": self.name,
            "entry": self.entry.name if self.entry else None,
            "computations": [c.to_dict() for c in self.computations.values()],
            "instructions": {i.name: i.to_dict() for i in self.instructions()},
            "counts": self.counts(),
        }


_COMP_HEAD = re.compile(r"(ENTRY\s+)?%?(" + _NAME + r")\s*")


def _parse_computation_header(line, line_no):
    clean = _strip_comments(line).strip()
    m = _COMP_HEAD.match(clean)
    is_entry, name = bool(m.group(1)), m.group(2)
    i = m.end()
    params, result_shape, attributes = [], None, {}
    if i < len(clean) and clean[i] == "(":
        close = _match_close(clean, i)
        for p in split_top_level(clean[i + 1 : close]):
            pname, _, pshape = p.partition(":")
            params.append((pname.strip().lstrip("%"), parse_shape(pshape)))
        rest = clean[close + 1 :].strip()
        if rest.startswith("->"):
            rest = rest[2:].strip()
            body = rest[:-1].strip() if rest.endswith("{") else rest
            parts = split_top_level(body)
            result_shape = parse_shape(parts[0]) if parts else None
            for extra in parts[1:]:
                k, _, v = extra.partition("=")
                attributes[k.strip()] = v.strip()
    return HloComputation(name, params, result_shape, is_entry, attributes, line_no)


def _parse_table_row(line):
    num, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if rest.startswith("{"):
        return int(num), {
            k: (int(v) if v.lstrip("-").isdigit() else _unquote(v))
            for k, v in _META_ITEM.findall(rest[1:-1])
        }
    return int(num), _unquote(rest)


def parse_hlo_module(text):
    """Parse one HLO module's text. (A text holding several modules: ``parse_hlo_modules``.)"""
    modules = parse_hlo_modules(text)
    if not modules:
        raise ValueError("no 'HloModule' header in the text")
    return modules[0]


def parse_hlo_modules(text):
    lines = text.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln.startswith("HloModule ")]
    out = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out.append(_parse_module_lines(lines, s, e))
    return out


def _parse_module_lines(lines, start, end):
    header = _strip_comments(lines[start])[len("HloModule ") :]
    parts = split_top_level(header)
    name = parts[0].strip()
    attributes = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attributes[k.strip()] = v.strip()
    tables = {t: {} for t in _SECTION_TITLES}
    computations = {}
    section, comp = None, None
    for i in range(start + 1, end):
        line = lines[i]
        stripped = line.strip()
        if comp is not None:
            if stripped == "}":
                computations[comp.name] = comp
                comp = None
            elif stripped:
                ins = parse_instruction(line, i)
                ins.computation = comp.name
                comp.instructions.append(ins)
            continue
        if not stripped:
            section = None
            continue
        if stripped in _SECTION_TITLES:
            section = stripped
            continue
        if section is not None:
            num, row = _parse_table_row(stripped)
            tables[section][num] = row
            continue
        if stripped.endswith("{"):
            comp = _parse_computation_header(stripped, i)
    if comp is not None:
        raise ValueError(f"computation %{comp.name} is not closed")
    frames = {}
    for num, row in tables["StackFrames"].items():
        # XLA prints parent_frame_id one above the parent's id (0 printed as 1 = no
        # parent): frames printed "{... parent_frame_id=5}" inlined into frame 4's call.
        parent = row.get("parent_frame_id", 0)
        parent = parent - 1 if isinstance(parent, int) else 0
        frames[num] = (row.get("file_location_id"), parent if parent != num else 0)
    return HloModule(
        name,
        attributes,
        computations,
        (tables["FileNames"], tables["FunctionNames"], tables["FileLocations"], frames),
        "\n".join(lines[start:end]),
    )


# Public names for the renderers.
match_close = _match_close
