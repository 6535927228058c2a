"""StableHLO text with debug info (``Lowered.mlir_text``) -> Python objects.

Every op of the engine's lowering carries a location ``loc("<prim>.eqn<path>"(...))``
wrapping the user's function name and file location. This module parses the module's
functions and ops (nested regions included), and resolves each op's location through
the ``#locN = loc(...)`` alias table into: the equation tag, the names around it, and
the file/line/column.

Which equation made an op is data the engine hands over, not something read back from
the location text: given the lowering's ``LoweringInfo`` (``Lowered.lowering_info``),
each op gets ``eqn_key`` = (primitive, equation path, tag) from it, by position in the
module (the engine's op ids are the ones this parser assigns). Without it (StableHLO
from elsewhere, e.g. real JAX), ``op.tag`` falls back to the tag-shaped location name.

    m = parse_mlir_module(lowered.mlir_text, lowered.lowering_info)
    for op in m.ops(): print(op.id, op.name, op.eqn_key, op.location.line)
"""

from __future__ import annotations

import re

EQN_TAG = re.compile(r"^(?:.*/)?(?P<prim>[^/]+)\.eqn(?P<path>\d+(?:_s?\d+)*)$")


def parse_eqn_tag(name):
    """``"mul.eqn3_1"`` -> ``("mul", (3, 1))``; ``"sin.eqn4_s1_0"`` -> ``("sin", (4, "s1", 0))``
    (``s1``: the second sub-jaxpr of equation 4); None if ``name`` is not an equation tag."""
    m = EQN_TAG.match(name or "")
    if m is None:
        return None
    return m.group("prim"), tuple(
        x if x.startswith("s") else int(x) for x in m.group("path").split("_")
    )


# ---------------------------------------------------------------------------- locations


class Location:
    """A resolved MLIR location. ``kind``: unknown | file | name | callsite | fused.
    ``child`` is the wrapped location of a name; ``callee``/``caller`` of a callsite;
    ``parts`` of a fused location."""

    __slots__ = ("kind", "name", "file", "line", "column", "child", "callee", "caller", "parts")

    def __init__(
        self,
        kind,
        name=None,
        file=None,
        line=None,
        column=None,
        child=None,
        callee=None,
        caller=None,
        parts=(),
    ):
        self.kind, self.name, self.file, self.line, self.column = kind, name, file, line, column
        self.child, self.callee, self.caller, self.parts = child, callee, caller, tuple(parts)

    def names(self):
        """The names wrapping the location, outermost first (tag, then function name)."""
        out, loc = [], self
        while loc is not None:
            if loc.kind == "name":
                out.append(loc.name)
                loc = loc.child
            elif loc.kind == "callsite":
                loc = loc.callee
            elif loc.kind == "fused":
                for p in loc.parts:
                    out.extend(p.names())
                break
            else:
                break
        return out

    @property
    def tag(self):
        """The first equation tag among the names, e.g. ``"sin.eqn0_1"``; None if none."""
        for n in self.names():
            if parse_eqn_tag(n):
                return n
        return None

    def file_location(self):
        """The innermost file location (file, line, column) reachable, or None."""
        loc = self
        while loc is not None:
            if loc.kind == "file":
                return loc.file, loc.line, loc.column
            if loc.kind == "name":
                loc = loc.child
            elif loc.kind == "callsite":
                loc = loc.callee
            elif loc.kind == "fused":
                for p in loc.parts:
                    r = p.file_location()
                    if r is not None:
                        return r
                return None
            else:
                return None
        return None

    @property
    def function(self):
        """The name just around the file location (the engine puts the Python function there)."""
        loc, last = self, None
        while loc is not None and loc.kind == "name":
            last, loc = loc.name, loc.child
        return last if last is not None and not parse_eqn_tag(last) else None

    def __repr__(self):
        fl = self.file_location()
        where = f"{fl[0]}:{fl[1]}" if fl else "?"
        return f"Location({self.tag or self.kind} @ {where})"

    def to_dict(self):
        fl = self.file_location()
        return {
            "tag": self.tag,
            "names": self.names(),
            "file": fl[0] if fl else None,
            "line": fl[1] if fl else None,
            "column": fl[2] if fl else None,
        }


UNKNOWN = Location("unknown")


def _mlir_unescape(s):
    """MLIR string escapes: ``\\\\``, ``\\"`` and ``\\XX`` hex bytes."""
    if "\\" not in s:
        return s
    out, i, n = bytearray(), 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d in '\\"':
                out += d.encode()
                i += 2
                continue
            if d == "n":
                out += b"\n"
                i += 2
                continue
            if i + 2 < n and all(x in "0123456789abcdefABCDEF" for x in s[i + 1 : i + 3]):
                out.append(int(s[i + 1 : i + 3], 16))
                i += 3
                continue
        out += c.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="replace")


_DIGITS = re.compile(r"\d+")
_ALIAS_REF = re.compile(r"#[\w$.\-]+")
_RANGE_END = re.compile(r"\s*(\d*)(:\d+)?")


class _LocParser:
    """Recursive descent over the text inside ``loc(...)``; alias references stay
    unresolved (``("alias", "#loc3")``) until the table is complete."""

    def __init__(self, text):
        self.s, self.i = text, 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def peek(self, t):
        self.ws()
        return self.s.startswith(t, self.i)

    def eat(self, t):
        if not self.peek(t):
            raise ValueError(f"expected {t!r} at {self.s[self.i : self.i + 40]!r}")
        self.i += len(t)

    def string(self):
        self.eat('"')
        j, n = self.i, len(self.s)
        while j < n and self.s[j] != '"':
            j += 2 if self.s[j] == "\\" else 1
        raw = self.s[self.i : j]
        self.i = j + 1
        return _mlir_unescape(raw)

    def number(self):
        self.ws()
        m = _DIGITS.match(self.s, self.i)
        if m is None:
            raise ValueError(f"expected a number at {self.s[self.i : self.i + 40]!r}")
        self.i = m.end()
        return int(m.group())

    def loc(self):
        """One location (without the ``loc(`` wrapper)."""
        self.ws()
        s = self.s
        if s.startswith("unknown", self.i):
            self.i += len("unknown")
            return UNKNOWN
        if s.startswith("#", self.i):
            m = _ALIAS_REF.match(s, self.i)
            self.i = m.end()
            return ("alias", m.group())
        if s.startswith("loc(", self.i):
            self.i += 4
            r = self.loc()
            self.eat(")")
            return r
        if s.startswith("callsite(", self.i):
            self.i += len("callsite(")
            callee = self.loc()
            self.eat("at")
            caller = self.loc()
            self.eat(")")
            return ("callsite", callee, caller)
        if s.startswith("fused", self.i):
            self.i += len("fused")
            if self.peek("<"):  # fused<metadata>[...]: skip the metadata
                depth = 0
                while True:
                    c = s[self.i]
                    depth += c == "<"
                    depth -= c == ">"
                    self.i += 1
                    if depth == 0:
                        break
            self.eat("[")
            parts = [self.loc()]
            while self.peek(","):
                self.eat(",")
                parts.append(self.loc())
            self.eat("]")
            return ("fused", parts)
        if s.startswith('"', self.i):
            text = self.string()
            if self.peek(":"):
                self.eat(":")
                line = self.number()
                col = None
                if self.peek(":"):
                    self.eat(":")
                    col = self.number()
                if self.peek("to"):  # a range: "f":1:2 to 3:4 (or to :4)
                    self.eat("to")
                    m = _RANGE_END.match(s, self.i)
                    self.i = m.end()
                return Location("file", file=text, line=line, column=col)
            if self.peek("("):
                self.eat("(")
                child = self.loc()
                self.eat(")")
                return ("name", text, child)
            return ("name", text, UNKNOWN)
        raise ValueError(f"unrecognised location at {s[self.i : self.i + 40]!r}")


class _Resolver:
    def __init__(self, raw_aliases):
        self.raw = raw_aliases
        self.done = {}

    def __call__(self, node):
        if isinstance(node, Location):
            return node
        kind = node[0]
        if kind == "alias":
            name = node[1]
            if name not in self.done:
                self.done[name] = UNKNOWN  # guards against cycles
                raw = self.raw.get(name)
                self.done[name] = UNKNOWN if raw is None else self(raw)
            return self.done[name]
        if kind == "name":
            return Location("name", name=node[1], child=self(node[2]))
        if kind == "callsite":
            return Location("callsite", callee=self(node[1]), caller=self(node[2]))
        if kind == "fused":
            return Location("fused", parts=[self(p) for p in node[1]])
        raise ValueError(node)


def parse_location(text, aliases=None):
    """``loc(...)`` text -> Location (aliases: {'#loc3': parsed node})."""
    p = _LocParser(text.strip())
    node = p.loc()
    return _Resolver(aliases or {})(node)


# ---------------------------------------------------------------------------- ops and functions


class MlirOp:
    """One operation. ``id`` is ``"<function>:<index>"`` (index in the function's op
    order, nested region ops included), stable for a given module text."""

    __slots__ = (
        "id",
        "name",
        "results",
        "operands",
        "result_types",
        "location",
        "function",
        "parent",
        "depth",
        "line",
        "end_line",
        "text",
        "callee",
        "eqn_key",
        "_has_data",
        "_loc_node",
    )

    def __init__(
        self,
        name,
        results,
        operands,
        result_types,
        loc_node,
        function,
        parent,
        depth,
        line,
        end_line,
        text,
        callee=None,
    ):
        self.id = None
        self.name = name  # e.g. "stablehlo.sine", "call", "func.return"
        self.results = results  # ["%0"] or ["%5#0", "%5#1"]
        self.operands = operands  # value names referenced, e.g. ["%arg0", "%3#1"]
        self.result_types = result_types  # ["tensor<16x4xf32>"]
        self._loc_node = loc_node
        self.location = UNKNOWN
        self.function = function  # name of the func.func holding it
        self.parent = parent  # id of the op whose region holds it, or None
        self.depth, self.line, self.end_line = depth, line, end_line
        self.text = text  # the op's first line as printed, without loc(...)
        self.callee = callee  # for call ops: the called function's name
        # (primitive, equation path, tag) of the equation that made it, from the
        # engine's lowering data; None if no equation did (or no data was given)
        self.eqn_key = None
        self._has_data = False

    @property
    def tag(self):
        """The tag of the equation that made this op (``"sin.eqn0"``), None if none."""
        if self._has_data:
            return self.eqn_key[2] if self.eqn_key is not None else None
        return self.location.tag

    @property
    def is_terminator(self):
        return self.name in ("func.return", "return", "stablehlo.return")

    def __repr__(self):
        return f"<MlirOp {self.id} {self.name} @ {self.tag}>"

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "results": self.results,
            "operands": self.operands,
            "result_types": self.result_types,
            "location": self.location.to_dict(),
            "function": self.function,
            "parent": self.parent,
            "line": self.line,
            "end_line": self.end_line,
            "callee": self.callee,
        }


class MlirFunction:
    __slots__ = (
        "name",
        "visibility",
        "arg_types",
        "result_types",
        "ops",
        "location",
        "line",
        "end_line",
        "_loc_node",
        "arg_locations",
    )

    def __init__(self, name, visibility, arg_types, result_types, line):
        self.name, self.visibility = name, visibility
        self.arg_types, self.result_types = arg_types, result_types
        self.ops = []
        self.location = UNKNOWN
        self._loc_node = None
        self.arg_locations = []
        self.line, self.end_line = line, None

    @property
    def tag(self):
        return self.location.tag

    def __repr__(self):
        return f"<MlirFunction @{self.name}: {len(self.ops)} ops>"

    def to_dict(self):
        return {
            "name": self.name,
            "visibility": self.visibility,
            "arg_types": self.arg_types,
            "result_types": self.result_types,
            "ops": [o.id for o in self.ops],
            "location": self.location.to_dict(),
            "line": self.line,
            "end_line": self.end_line,
        }


class MlirModule:
    def __init__(self, name, functions, aliases, text):
        self.name = name
        self.functions = functions  # {name: MlirFunction}, in printed order
        self.aliases = aliases  # {"#loc3": Location}
        self.text = text
        self._by_id = {op.id: op for f in functions.values() for op in f.ops}
        self.has_lowering_data = False  # eqn_key set from the engine's LoweringInfo

    def ops(self):
        return [op for f in self.functions.values() for op in f.ops]

    def op(self, op_id):
        return self._by_id[op_id]

    @property
    def main(self):
        return self.functions.get("main")

    def callers_of(self, fn_name):
        return [op for op in self.ops() if op.callee == fn_name]

    def display_text(self):
        """The module as ``as_text()`` shows it without debug info: ``#loc`` lines and
        ``loc(...)`` suffixes dropped. Returns (text, {op id: 0-based line in that text})."""
        lines = self.text.split("\n")
        keep, new_index = [], {}
        for i, ln in enumerate(lines):
            if ln.startswith("#"):
                continue
            new_index[i] = len(keep)
            keep.append(_strip_locs(ln))
        return "\n".join(keep), {op.id: new_index.get(op.line) for op in self.ops()}

    def __repr__(self):
        return f"<MlirModule @{self.name}: {len(self.functions)} functions, {len(self._by_id)} ops>"

    def to_dict(self):
        return {
            "name": self.name,
            "functions": [f.to_dict() for f in self.functions.values()],
            "ops": {op.id: op.to_dict() for op in self.ops()},
        }


# ---------------------------------------------------------------------------- text scanning


def _scan_top_level(line, start=0):
    """Yield (index, char, depth) for chars outside strings."""
    depth, quote, i, n = 0, False, start, len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quote = False
            i += 1
            continue
        if c == '"':
            quote = True
        elif c in "([{<":
            depth += 1
        elif c in ")]}>":
            if c == ">" and i > 0 and line[i - 1] == "-":  # the "->" arrow
                i += 1
                continue
            depth -= 1
        yield i, c, depth
        i += 1


def _trailing_loc(line):
    """(text before, loc text) if ``line`` ends with a ``loc(...)``. Scans backwards
    from the final ``)``; MLIR escapes quotes inside strings as ``\\22``, so a quote
    always opens or closes a string."""
    s = line.rstrip()
    if not s.endswith(")"):
        return None
    depth, quote = 0, False
    for i in range(len(s) - 1, -1, -1):
        c = s[i]
        if c == '"':
            quote = not quote
        elif quote:
            continue
        elif c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
            if depth == 0:
                if s[max(0, i - 3) : i] == "loc":
                    return s[: i - 3].rstrip(), s[i - 3 :]
                return None
    return None


_SIMPLE_LOC = re.compile(r"\s*loc\((?:#[\w$.\-]+|unknown)\)")


def _strip_locs(line):
    """Remove every top-level ``loc(...)`` (op locations and argument locations)."""
    if '"' not in line:  # fast path: alias or unknown locations only, no strings
        line = _SIMPLE_LOC.sub("", line)
        if "loc(" not in line:
            return line
    out, i, n, quote = [], 0, len(line), False
    while i < n:
        c = line[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(line[i + 1])
                i += 2
                continue
            if c == '"':
                quote = False
            i += 1
            continue
        if c == '"':
            quote = True
        elif line.startswith("loc(", i) and (
            i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")
        ):
            depth, j, q = 0, i + 3, False
            while j < n:
                d = line[j]
                if q:
                    if d == "\\":
                        j += 2
                        continue
                    if d == '"':
                        q = False
                elif d == '"':
                    q = True
                elif d == "(":
                    depth += 1
                elif d == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            while out and out[-1] == " ":
                out.pop()
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


_RESULTS = re.compile(r"^\s*((?:%[\w.$\-#]+(?::\d+)?)(?:\s*,\s*%[\w.$\-#]+(?::\d+)?)*)\s*=\s*")
_OPNAME = re.compile(r'^\s*(?:"([\w.$\-]+)"|([A-Za-z_][\w.$\-]*))')
_VALUE = re.compile(r"%[\w.$\-]+(?:#\d+)?")
_FUNC = re.compile(r"^\s*func\.func\s+(?:(public|private|nested)\s+)?@([\w.$\-]+)\s*\(")


def _expand_results(spec):
    out = []
    for r in spec.split(","):
        r = r.strip()
        name, _, count = r.partition(":")
        if count:
            out.extend(f"{name}#{k}" for k in range(int(count)))
        else:
            out.append(name)
    return out


def _split_types(text):
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        close = None
        for i, c, d in _scan_top_level(text):
            if c == ")" and d == 0:
                close = i
                break
        if close == len(text) - 1:
            text = text[1:-1]
    parts, start = [], 0
    for i, c, d in _scan_top_level(text):
        if c == "," and d == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    if last:
        parts.append(last)
    return parts


def _result_types(signature_text, n_results=None):
    """Result types from an op's trailing ``: type`` or ``: (ins) -> outs``."""
    colon = None
    if (
        '"' not in signature_text
        and signature_text.count(" : ") == 1
        and not signature_text.startswith(":")
    ):
        colon = signature_text.index(" : ") + 1  # the common case, no scan needed
    else:
        for i, c, d in _scan_top_level(signature_text):
            if c == ":" and d == 0 and (i == 0 or signature_text[i - 1] == " "):
                colon = i
    if colon is None:
        return []
    sig = signature_text[colon + 1 :].strip()
    arrow = None
    for i, c, d in _scan_top_level(sig):
        if c == "-" and d == 0 and sig.startswith("->", i):
            arrow = i
    if arrow is not None:
        return _split_types(sig[arrow + 2 :])
    types = _split_types(sig)
    # pretty forms list operand types (select: "tensor<i1>, tensor<f32>"); the result
    # types are the last ones
    return (
        types if n_results is None or len(types) == n_results else types[len(types) - n_results :]
    )


def _operands(clean, results):
    """Value names an op reads: every %name in its header (``clean``: locations
    stripped) except the ones it defines (results, ``%arg: type`` block arguments,
    ``%iterArg = %x`` bindings)."""
    defined = set(r.split("#")[0] for r in results)
    out = []
    for m in _VALUE.finditer(clean):
        v = m.group()
        after = clean[m.end() : m.end() + 3]
        if v.split("#")[0] in defined or after.startswith(":") or after.startswith(" ="):
            continue
        out.append(v)
    return out


def parse_mlir_module(text, lowering=None):
    """Parse StableHLO text with debug info. ``lowering``: the engine's ``LoweringInfo``
    for that module (``Lowered.lowering_info``), which says which equation made each op."""
    module = _parse_mlir_text(text)
    if lowering is not None:
        attach_lowering(module, lowering)
    return module


def _norm_op_name(name):
    # the printer's short forms of func ops
    return name[5:] if name.startswith("func.") else name


def attach_lowering(module, lowering):
    """Give each op of ``module`` its ``eqn_key`` from the engine's ``LoweringInfo``.

    Ops are matched by position: both number a function's ops in pre-order, and a
    parsed op's region ops follow it. Where the printer elided a region (a reduction's
    body printed as ``applies stablehlo.add``) the parsed op has no children while the
    lowered one does; those lowered ops are skipped. Op names are checked on the way, so
    a module that is not the lowering's own gets no links rather than wrong ones."""
    by_parent = {}
    for op in lowering.ops.values():
        by_parent.setdefault((op.function, op.parent), []).append(op)
    eqns = lowering.eqns
    for fname, fn in module.functions.items():
        parsed_children = {}
        for op in fn.ops:
            op._has_data = True
            parsed_children.setdefault(op.parent, []).append(op)

        def align(parsed_parent, lowered_parent, fname=fname, parsed_children=parsed_children):
            mine = parsed_children.get(parsed_parent, [])
            theirs = by_parent.get((fname, lowered_parent), [])
            if len(mine) != len(theirs):
                return
            for p, lo in zip(mine, theirs):
                if _norm_op_name(p.name) != _norm_op_name(lo.name):
                    return
            for p, lo in zip(mine, theirs):
                if lo.eqn_path is not None and lo.eqn_path in eqns:
                    e = eqns[lo.eqn_path]
                    p.eqn_key = (e.primitive, e.path, e.tag)
                if p.id in parsed_children:
                    align(p.id, lo.id)

        align(None, None)
    module.has_lowering_data = True
    return module


def _parse_mlir_text(text):
    lines = text.split("\n")
    raw_aliases = {}
    for ln in lines:
        if ln.startswith("#") and " = loc(" in ln:
            name, _, loc = ln.partition(" = ")
            raw_aliases[name.strip()] = _LocParser(loc.strip()).loc()
    resolve = _Resolver(raw_aliases)
    module_name = None
    functions = {}
    fn = None
    stack = []  # open region-holding ops: [op, ...]
    pending = None  # (start line, accumulated header text) of an op whose header spans lines

    def finish(op_text, loc_text):
        results, rest = [], op_text
        m = _RESULTS.match(rest)
        if m:
            results = _expand_results(m.group(1))
            rest = rest[m.end() :]
        m = _OPNAME.match(rest)
        name = (m.group(1) or m.group(2)) if m else rest.split()[0]
        callee = None
        if name in ("call", "func.call"):
            cm = re.search(r"@([\w.$\-]+)", rest)
            callee = cm.group(1) if cm else None
        node = _LocParser(loc_text).loc() if loc_text else UNKNOWN
        return name, results, rest, callee, node

    def add_op(header, start, end, loc_text, opens_region=False):
        name, results, rest, callee, node = finish(header, loc_text)
        head_clean = _strip_locs(header)
        first_line = head_clean.split("\n")[0].strip()
        # an op opening regions states its types on its first line (or on its last)
        sig_text = first_line if opens_region else head_clean
        types = _result_types(sig_text, len(results))
        parent = stack[-1] if stack else None
        op = MlirOp(
            name,
            results,
            _operands(head_clean, results),
            types,
            node,
            fn.name,
            parent,
            len(stack),
            start,
            end,
            first_line,
            callee,
        )
        fn.ops.append(op)
        return op

    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        if fn is None:
            m = re.match(r"^module(?:\s+@([\w.$\-]+))?", s)
            if m and module_name is None:
                module_name = m.group(1)
                continue
            fm = _FUNC.match(ln)
            if fm:
                sig = _strip_locs(s)
                visibility, name = fm.group(1) or "public", fm.group(2)
                open_i = sig.index("(")
                close = next(k for k, c, d in _scan_top_level(sig, open_i) if c == ")" and d == 0)
                args = [
                    a.partition(":")[2].strip().split(" {")[0]
                    for a in _split_types(sig[open_i + 1 : close])
                ]
                after = sig[close + 1 :].rstrip("{").strip()
                results = _split_types(after[2:].strip()) if after.startswith("->") else []
                results = [r.split(" {")[0].strip() for r in results]
                fn = MlirFunction(name, visibility, args, results, i)
                raw_open = s.index("(")
                raw_close = next(
                    k for k, c, d in _scan_top_level(s, raw_open) if c == ")" and d == 0
                )
                for a in _split_types(s[raw_open + 1 : raw_close]):
                    tl = _trailing_loc(a)
                    fn.arg_locations.append(_LocParser(tl[1]).loc() if tl else UNKNOWN)
                functions[name] = fn
            continue
        # inside a function
        if pending is not None:
            start, acc = pending
            acc = acc + "\n" + ln
            if s.endswith("{"):
                op = add_op(acc, start, i, None, opens_region=True)
                stack.append(op)
                pending = None
            else:
                tl = _trailing_loc(ln)
                if tl is not None:
                    body = acc[: len(acc) - len(ln)] + tl[0]
                    add_op(body, start, i, tl[1])
                    pending = None
                else:
                    pending = (start, acc)
            continue
        if s.startswith("}"):
            if s.endswith("{"):  # "} do {", "}, {": the next region of the same op
                continue
            tl = _trailing_loc(s)
            if stack:
                op = stack.pop()
                op.end_line = i
                if tl is not None:
                    op._loc_node = _LocParser(tl[1]).loc()
                    # generic form closes with "}) : (types) -> types loc(...)"
                    if not op.result_types:
                        op.result_types = _result_types(
                            _strip_locs(tl[0]).lstrip("}) "), len(op.results)
                        )
            else:  # closes the function
                fn._loc_node = _LocParser(tl[1]).loc() if tl else UNKNOWN
                fn.end_line = i
                fn = None
            continue
        if s.startswith("^"):  # block label with arguments
            continue
        if s.endswith("{"):
            op = add_op(ln, i, None, None, opens_region=True)
            stack.append(op)
            continue
        tl = _trailing_loc(ln)
        if tl is not None:
            add_op(tl[0], i, i, tl[1])
        else:
            pending = (i, ln)
    # number ops, resolve locations
    for f in functions.values():
        f.location = resolve(f._loc_node) if f._loc_node is not None else UNKNOWN
        f.arg_locations = [resolve(a) for a in f.arg_locations]
        for k, op in enumerate(f.ops):
            op.id = f"{f.name}:{k}"
        for op in f.ops:
            op.location = resolve(op._loc_node)
            op.parent = op.parent.id if op.parent is not None else None
    aliases = {k: resolve(v) for k, v in raw_aliases.items()}
    return MlirModule(module_name, functions, aliases, text)


# Public names for the renderers.
strip_locs = _strip_locs
