"""Links across the stages of one program:

    Python line <-> jaxpr equations <-> StableHLO ops <-> HLO instructions (before
    optimization) <-> HLO instructions and fusions (after optimization)

How each link is made, and how sure it is:

- line <-> equation: the equation's recorded source location (exact).
- equation <-> StableHLO op: the engine's lowering says which equation produced each
  op (``Lowered.lowering_info``, attached to the parsed module as ``op.eqn_key``); exact,
  and nothing is read back from the location text. Ops of a nested ``jit``'s private
  function belong to every call of that function (the function is emitted once).
- equation <-> HLO instruction: XLA's ``op_name`` metadata, which keeps the tag. After
  inlining, XLA prefixes the call's tag (``jit.eqn2/sin.eqn0_0``), which tells the
  calls apart; an instruction merged from several ops lists several tags
  (``mul.eqn23;broadcast_in_dim.eqn22``). Where an instruction has no ``op_name`` the
  instruction's name is read instead (``mul_eqn3.0``), if it still has the tag's form.
  Instructions XLA made with neither (constants, broadcasts, tuples, parameters of
  fused computations) stay unlinked: ``unlinked()`` lists them.
- fusion -> equations: the union over every instruction inside it (its fused
  computation and what that calls), many-to-one; an equation XLA split over several
  fusions maps to each of them.
"""

from __future__ import annotations

import re

from .hlo_model import HloModule, parse_hlo_module
from .jaxpr_model import FUNCTION_CALL_PRIMITIVES, JaxprModel, eqn_id
from .mlir_model import MlirModule, parse_eqn_tag, parse_mlir_module

_NAME_TAG = re.compile(r"^(?P<prim>[A-Za-z][\w\-]*?)_eqn(?P<path>\d+(?:_s?\d+)*)(?:\.\d+)?$")

STAGES = ("hlo", "hlo_opt")


def _unique(items):
    return list(dict.fromkeys(items))


def _norm_prim(p):
    return p.replace(".", "_").replace("-", "_")


class SourceMap:
    def __init__(
        self,
        jaxpr: JaxprModel,
        mlir: MlirModule | None = None,
        hlo: HloModule | None = None,
        hlo_opt: HloModule | None = None,
    ):
        self.jaxpr, self.mlir = jaxpr, mlir
        self.modules = {"hlo": hlo, "hlo_opt": hlo_opt}
        # equations (by primitive and tag path) whose lowering calls a private function
        # of theirs: a nested jit, and a scan whose body the lowering emits as one
        self._calling = {
            (op.eqn_key[0], tuple(op.eqn_key[1]))
            for op in (mlir.ops() if mlir is not None else ())
            if op.callee is not None and op.eqn_key is not None
        }
        self._call_scope = {e.id: self._enclosing_call(e.id) for e in jaxpr.all_eqns}
        # equation <-> line
        self.line_eqns = {}
        for e in jaxpr.all_eqns:
            if e.source is not None:
                self.line_eqns.setdefault((e.source[0], e.source[1]), []).append(e.id)
        # equation <-> StableHLO op
        self.mlir_op_eqns, self.eqn_mlir_ops = {}, {}
        if mlir is not None:
            self._link_mlir()
        # equation <-> HLO instruction, per stage
        self.inst_eqns = {s: {} for s in STAGES}  # name -> [eqn ids]
        self.inst_link_kind = {s: {} for s in STAGES}  # name -> "op_name" | "name"
        self.eqn_insts = {s: {} for s in STAGES}
        self.unresolved_op_names = {s: [] for s in STAGES}
        self.kernel_eqns = {s: {} for s in STAGES}  # top-level instruction -> [eqn ids]
        self.eqn_kernels = {s: {} for s in STAGES}
        for stage in STAGES:
            if self.modules[stage] is not None:
                self._link_hlo(stage)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, traced, lowered=None, compiled=None):
        """From the engine's stage objects: ``jit(f).trace(...)``, ``.lower()``,
        ``.compile()`` (the later ones optional)."""
        if lowered is None and compiled is not None:
            lowered = compiled.lowered
        jm = JaxprModel(traced.jaxpr)
        mm = (
            parse_mlir_module(lowered.mlir_text, lowered.lowering_info)
            if lowered is not None
            else None
        )
        pre = parse_hlo_module(lowered.as_text(dialect="hlo")) if lowered is not None else None
        post = parse_hlo_module(compiled.as_text()) if compiled is not None else None
        return cls(jm, mm, pre, post)

    def _enclosing_call(self, eid):
        """The nearest enclosing function-call equation (``jit``), or None for main."""
        for a in self.jaxpr.ancestors(eid):
            e = self.jaxpr.eqn(a)
            if (
                e.primitive in FUNCTION_CALL_PRIMITIVES
                or (e.primitive, e.tag_path) in self._calling
            ):
                return a
        return None

    def _function_instances(self):
        """{function name: [call equation ids that run it]} (main: [None])."""
        mlir = self.mlir
        memo = {}

        def instances(fname, guard=()):
            if fname in memo:
                return memo[fname]
            if fname == "main" or fname in guard:
                memo[fname] = [None]
                return memo[fname]
            out = []
            for op in mlir.callers_of(fname):
                if op.eqn_key is None:
                    continue
                prim, path, _ = op.eqn_key
                for outer in instances(op.function, guard + (fname,)):
                    for e in self.jaxpr.eqns_for_tag(prim, path):
                        if self._call_scope[e.id] == outer and e.id not in out:
                            out.append(e.id)
            memo[fname] = out
            return out

        return {f: instances(f) for f in mlir.functions}

    def _link_mlir(self):
        fn_instances = self._function_instances()
        for op in self.mlir.ops():
            if op.eqn_key is None:
                continue
            prim, path, _ = op.eqn_key
            scopes = fn_instances.get(op.function, [None])
            eqns = []
            for e in self.jaxpr.eqns_for_tag(prim, path):
                # an op of the function's body, or one the function itself carries
                # (its return, embedded consts) under the call that emitted it
                if self._call_scope[e.id] in scopes or e.id in scopes:
                    eqns.append(e.id)
            if eqns:
                self.mlir_op_eqns[op.id] = eqns
                for eid in eqns:
                    self.eqn_mlir_ops.setdefault(eid, []).append(op.id)

    def resolve_op_name(self, op_name):
        """The equations an HLO ``op_name`` names: ``"jit.eqn2/sin.eqn0_0"`` -> ["2_0"].
        Empty when no segment is an equation tag of this jaxpr."""
        out = []
        for alternative in op_name.split(";"):
            scope = None
            found = []
            for seg in alternative.split("/"):
                parsed = parse_eqn_tag(seg.strip())
                if parsed is None:
                    continue
                cands = self.jaxpr.eqns_for_tag(*parsed)
                if scope is not None:
                    cands = [e for e in cands if any(self.jaxpr.is_within(e.id, s) for s in scope)]
                found = [e.id for e in cands]
                if found:
                    scope = found
            for eid in found:
                if eid not in out:
                    out.append(eid)
        return out

    def _call_chain(self, eid):
        """(file, line) of the equation, then of each enclosing call: what XLA's stack
        frames hold after inlining (innermost first)."""
        chain = [self.line_for_eqn(eid)]
        chain += [
            self.line_for_eqn(a)
            for a in self.jaxpr.ancestors(eid)
            if self.jaxpr.eqn(a).primitive in FUNCTION_CALL_PRIMITIVES
        ]
        return chain

    def _match_stack(self, eqns, stack):
        """Of several candidate equations (a function shared by calls that XLA's op_name
        prefix does not tell apart), keep those whose call chain is the instruction's
        stack; all of them when none or every one matches."""
        frames = [(f.file, f.line) for f in stack]
        kept = [e for e in eqns if self._call_chain(e)[: len(frames)] == frames]
        return kept or eqns

    def _eqns_from_name(self, name):
        m = _NAME_TAG.match(name)
        if m is None:
            return []
        path = tuple(x if x.startswith("s") else int(x) for x in m.group("path").split("_"))
        prim = m.group("prim")
        return [
            e.id for e in self.jaxpr.by_tag_path.get(path, ()) if _norm_prim(e.primitive) == prim
        ]

    def _link_hlo(self, stage):
        module = self.modules[stage]
        inst_eqns, kinds = self.inst_eqns[stage], self.inst_link_kind[stage]
        for ins in module.instructions():
            op_name = ins.metadata.op_name
            eqns, kind = [], None
            if op_name:
                eqns, kind = self.resolve_op_name(op_name), "op_name"
                if not eqns:
                    self.unresolved_op_names[stage].append((ins.name, op_name))
                elif len(eqns) > 1 and len(ins.metadata.stack) > 1:
                    eqns = self._match_stack(eqns, ins.metadata.stack)
            else:
                eqns, kind = self._eqns_from_name(ins.name), "name"
            if eqns:
                inst_eqns[ins.name] = eqns
                kinds[ins.name] = kind
                for eid in eqns:
                    self.eqn_insts[stage].setdefault(eid, []).append(ins.name)
        acc = {}  # kernel -> {eqn id: None}, ordered
        for ins in module.instructions():
            eqns = inst_eqns.get(ins.name, ())
            for k in module.kernels_of(ins.name):
                d = acc.setdefault(k, {})
                for eid in eqns:
                    d[eid] = None
        kernel_eqns = self.kernel_eqns[stage]
        for k, d in acc.items():
            kernel_eqns[k] = list(d)
        for k, eqns in kernel_eqns.items():
            for eid in eqns:
                self.eqn_kernels[stage].setdefault(eid, []).append(k)

    # ------------------------------------------------------------------ queries
    def _stage(self, optimized):
        return "hlo_opt" if optimized else "hlo"

    def eqns_for_line(self, file, line):
        return list(self.line_eqns.get((file, int(line)), ()))

    def lines(self):
        """Every (file, line) that produced an equation."""
        return sorted(self.line_eqns)

    def line_for_eqn(self, eid):
        e = self.jaxpr.eqn(eid)
        return (e.source[0], e.source[1]) if e.source else None

    def _with_nested(self, eid, nested):
        eid = eqn_id(eid)
        if not nested:
            return [eid]
        return [eid] + self.jaxpr.descendants(eid)

    def _collect(self, table, eid, nested):
        if not nested:
            return list(table.get(eqn_id(eid), ()))
        return _unique(x for e in self._with_nested(eid, nested) for x in table.get(e, ()))

    def mlir_ops_for_eqn(self, eid, nested=False):
        """StableHLO ops emitted for ``eid`` (``nested=True``: and for the equations
        inside its sub-jaxprs, e.g. a ``jit`` call's body)."""
        return self._collect(self.eqn_mlir_ops, eid, nested)

    def eqns_for_mlir_op(self, op_id):
        return list(self.mlir_op_eqns.get(op_id, ()))

    def hlo_for_eqn(self, eid, optimized=True, nested=False):
        """HLO instructions (any computation) whose metadata names equation ``eid``
        (``nested=True``: or an equation inside it)."""
        return self._collect(self.eqn_insts[self._stage(optimized)], eid, nested)

    def kernels_for_eqn(self, eid, optimized=True, nested=False):
        """Top-level instructions (fusions and unfused ops) holding work of ``eid``."""
        return self._collect(self.eqn_kernels[self._stage(optimized)], eid, nested)

    def fusions_for_eqn(self, eid, nested=False):
        m = self.modules["hlo_opt"]
        return [
            k
            for k in self.kernels_for_eqn(eid, nested=nested)
            if m.instruction(k).opcode == "fusion"
        ]

    def eqns_for_instruction(self, name, optimized=True):
        """The equations an instruction's own metadata names (not what it contains)."""
        return list(self.inst_eqns[self._stage(optimized)].get(name, ()))

    def eqns_for_kernel(self, name, optimized=True):
        """For a top-level instruction, e.g. a fusion: the equations of everything in it."""
        return list(self.kernel_eqns[self._stage(optimized)].get(name, ()))

    def _lines_of_eqns(self, eqns):
        return _unique(ln for ln in map(self.line_for_eqn, eqns) if ln is not None)

    def mlir_ops_for_line(self, file, line):
        return _unique(o for e in self.eqns_for_line(file, line) for o in self.mlir_ops_for_eqn(e))

    def hlo_for_line(self, file, line, optimized=True):
        return _unique(
            n for e in self.eqns_for_line(file, line) for n in self.hlo_for_eqn(e, optimized)
        )

    def kernels_for_line(self, file, line, optimized=True):
        return _unique(
            k for e in self.eqns_for_line(file, line) for k in self.kernels_for_eqn(e, optimized)
        )

    def fusions_for_line(self, file, line):
        m = self.modules["hlo_opt"]
        return [k for k in self.kernels_for_line(file, line) if m.instruction(k).opcode == "fusion"]

    def lines_for_instruction(self, name, optimized=True):
        """Source lines of an instruction: through the equations it is linked to, and
        (for a fusion or reduce) the ones inside it; plus the line XLA's own metadata
        gives, which comes from the same locations. Sorted (file, line) pairs."""
        stage = self._stage(optimized)
        module = self.modules[stage]
        ins = module.instruction(name)
        eqns = _unique(
            list(self.inst_eqns[stage].get(name, ())) + list(self.kernel_eqns[stage].get(name, ()))
        )
        lines = set(self._lines_of_eqns(eqns))
        src = ins.metadata.source
        if src is not None:
            lines.add((src[0], int(src[1])))
        return sorted(lines)

    def unlinked(self):
        """What has no partner, and why (never papered over):

        - ``eqns_without_mlir``: equations whose lowering emitted no op (e.g. an
          identity such as ``integer_pow[y=1]`` or a same-dtype convert).
        - ``eqns_without_hlo`` / ``eqns_without_hlo_opt``: {id: reason} for equations
          with no instruction naming them or an equation inside them; reason
          ``"dead"`` (its result is never used, so XLA removed it), ``"no_ops"`` (no
          StableHLO op), or ``"no_metadata"`` (XLA kept no instruction naming it, e.g.
          a dot folded into a transpose that kept only the transpose's name).
        - ``mlir_ops_without_eqn``: op ids with no equation tag (function returns,...).
        - ``hlo_without_eqn`` / ``hlo_opt_without_eqn``: {name: reason}: ``"parameter"``
          (of the entry or of a fused computation) or ``"no_metadata"`` (made by XLA,
          e.g. a constant or broadcast it created or folded, or a tuple).
        - ``unresolved_op_names``: (instruction, op_name) whose tags name no equation
          of this jaxpr (should be empty).
        """
        out = {"eqns_without_mlir": [], "mlir_ops_without_eqn": []}
        if self.mlir is not None:
            out["eqns_without_mlir"] = [
                e.id for e in self.jaxpr.all_eqns if not self.mlir_ops_for_eqn(e.id, nested=True)
            ]
            out["mlir_ops_without_eqn"] = [
                o.id for o in self.mlir.ops() if o.id not in self.mlir_op_eqns
            ]
        for stage in STAGES:
            module = self.modules[stage]
            if module is None:
                continue
            reasons = {}
            for e in self.jaxpr.all_eqns:
                if self.hlo_for_eqn(e.id, stage == "hlo_opt", nested=True):
                    continue  # linked itself, or through the equations inside it
                if not e.live:
                    reasons[e.id] = "dead"
                elif self.mlir is not None and e.id not in self.eqn_mlir_ops:
                    reasons[e.id] = "no_ops"
                else:
                    reasons[e.id] = "no_metadata"
            out[f"eqns_without_{stage}"] = reasons
            out[f"{stage}_without_eqn"] = {
                i.name: "parameter" if i.opcode == "parameter" else "no_metadata"
                for i in module.instructions()
                if i.name not in self.inst_eqns[stage]
            }
            out[f"unresolved_op_names_{stage}"] = list(self.unresolved_op_names[stage])
        return out

    def to_dict(self):
        """Everything, JSON-able (tuples become lists, (file, line) keys "file:line")."""

        def key(fl):
            return f"{fl[0]}:{fl[1]}"

        lines = {}
        for fl in self.lines():
            entry = {"file": fl[0], "line": fl[1], "eqns": self.eqns_for_line(*fl)}
            if self.mlir is not None:
                entry["mlir_ops"] = self.mlir_ops_for_line(*fl)
            for stage in STAGES:
                if self.modules[stage] is not None:
                    opt = stage == "hlo_opt"
                    entry[stage] = self.hlo_for_line(*fl, optimized=opt)
                    entry[f"{stage}_kernels"] = self.kernels_for_line(*fl, optimized=opt)
            lines[key(fl)] = entry
        eqns = {}
        for e in self.jaxpr.all_eqns:
            entry = {
                "primitive": e.primitive,
                "tag": e.tag,
                "line": key(e.source[:2]) if e.source else None,
                "mlir_ops": self.mlir_ops_for_eqn(e.id),
            }
            for stage in STAGES:
                if self.modules[stage] is not None:
                    entry[stage] = list(self.eqn_insts[stage].get(e.id, ()))
                    entry[f"{stage}_kernels"] = list(self.eqn_kernels[stage].get(e.id, ()))
            eqns[e.id] = entry
        out = {
            "lines": lines,
            "eqns": eqns,
            "mlir_ops": {k: list(v) for k, v in self.mlir_op_eqns.items()},
        }
        for stage in STAGES:
            module = self.modules[stage]
            if module is None:
                continue
            insts = {}
            for ins in module.instructions():
                insts[ins.name] = {
                    "eqns": list(self.inst_eqns[stage].get(ins.name, ())),
                    "via": self.inst_link_kind[stage].get(ins.name),
                    "kernels": module.kernels_of(ins.name),
                    "lines": [
                        key(fl)
                        for fl in self.lines_for_instruction(ins.name, optimized=stage == "hlo_opt")
                    ],
                }
            out[stage] = {
                "instructions": insts,
                "kernels": {k: list(v) for k, v in self.kernel_eqns[stage].items()},
            }
        out["unlinked"] = self.unlinked()
        return out

    def __repr__(self):
        parts = [f"{len(self.line_eqns)} lines", f"{len(self.jaxpr.all_eqns)} eqns"]
        if self.mlir is not None:
            parts.append(f"{len(self.mlir_op_eqns)} linked StableHLO ops")
        for stage in STAGES:
            if self.modules[stage] is not None:
                parts.append(f"{len(self.inst_eqns[stage])} linked {stage} instructions")
        return f"<SourceMap: {', '.join(parts)}>"
