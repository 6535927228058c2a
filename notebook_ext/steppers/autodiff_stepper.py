"""The autodiff stepper's model: how ``grad`` (or ``vjp``, ``jvp``) turns ``f`` into its
derivative, stage by stage, each stage traced to a jaxpr (abstractly, as ``make_jaxpr``
does) while the engine's listeners report what each interpreter did:

1. ``jvp``: the JVP interpreter runs each primitive's JVP rule: the primal equations
   and the tangent equations it emitted, side by side;
2. ``partial_eval``: ``linearize`` = JVP with known primals and unknown tangents: known
   work runs now (the *known* jaxpr), unknown work is recorded (the *linear* jaxpr);
   known values the linear jaxpr needs are its constants, the *residuals*;
3. ``transpose``: the linear jaxpr run backwards from the output cotangent, each of its
   equations transposed by its primitive's rule, cotangents accumulating;
4. ``final``: ``make_jaxpr(grad(f))``, every equation marked forward or backward.
"""

from __future__ import annotations

import numpy as np

from engine import core, dtypes, events, tree_util
from engine.interpreters import jvp as jvp_mod
from engine.interpreters import partial_eval as pe
from engine.interpreters import transpose as tr
from engine.interpreters.tracing import JaxprTracer, trace_to_jaxpr

from . import custom_rules_view as crv
from .base import Stepper, arg_aval, check_argnums, flatten_fun, fun_name
from .events import JVPStep, PEStep, RematInfo, Residual, TransposeStep
from .jaxpr_text import JaxprText
from .recording import (
    TraceNames,
    error_info,
    outermost_child,
    record,
    rule_spans,
    source_line,
    top_trace,
)

STAGES = ("jvp", "partial_eval", "transpose", "final")


def _run(build_fun, in_avals, name, progress, phase, recordings=None):
    """Trace ``build_fun`` (flat tracers -> flat outputs) to a jaxpr while recording the
    engine's events; returns (closed jaxpr, id of the top jaxpr trace, recording).
    ``recordings`` (a list) gets the recording first, so it is kept when tracing fails."""
    tick = (lambda n: progress(n, None, phase)) if progress else None
    with record(None, tick) as rec:
        if recordings is not None:
            recordings.append(rec)
        closed = trace_to_jaxpr(build_fun, list(in_avals), debug_name=name)
    return closed, top_trace(rec).trace, rec


def _top_eqns(rec, top, text):
    """(event, index in ``text``) of each equation the top trace recorded."""
    for ev in rec.of(events.EqnEmitted):
        if ev.interpreter == "jaxpr" and ev.trace == top:
            i = text.index.get(id(ev.eqn))
            if i is not None:
                yield ev, i


def _rules_on(rec, ev, interpreter, top):
    """The rule spans around ``ev`` of ``interpreter`` traces that compute on ``top``,
    innermost first."""
    out = []
    for b in rule_spans(rec, ev):
        if b.interpreter == interpreter:
            t = rec.traces.get(b.trace)
            if t is not None and t.parent_trace == top:
                out.append(b)
    return out


class _Args:
    """The arguments split into the differentiated ones (``argnums``) and the rest."""

    def __init__(self, f, args, argnums):
        self.f, self.args = f, tuple(args)
        self.nums = check_argnums(argnums, len(args))
        self.flat, self.tree = tree_util.tree_flatten(self.args)
        self.avals = [arg_aval(x) for x in self.flat]
        dyn = tuple(self.args[i] for i in self.nums)
        self.dyn_flat, self.dyn_tree = tree_util.tree_flatten(dyn)
        self.dyn_avals = [arg_aval(x) for x in self.dyn_flat]

    def dyn_fun(self, leaves, store):
        """(flat function of the differentiated leaves, those leaves) for traced ``leaves``."""
        full = list(tree_util.tree_unflatten(self.tree, leaves))
        dyn = tuple(full[i] for i in self.nums)
        dyn_flat, dyn_tree = tree_util.tree_flatten(dyn)

        def f_partial(*d):
            a = list(full)
            for i, x in zip(self.nums, d):
                a[i] = x
            return self.f(*a)

        return flatten_fun(f_partial, dyn_tree, store), dyn_flat


def _name_of(text, x):
    """A traced value's name in ``text`` (its jaxpr), or a short description."""
    if x is None:
        return None
    if type(x) is jvp_mod.Zero:
        return "0"
    if isinstance(x, JaxprTracer):
        return f"{text.name(x.var)}:{x.aval.str_short()}"
    try:
        aval = core.get_aval(x)
    except TypeError:
        return type(x).__name__
    if aval.shape == ():
        return f"{np.asarray(x).item()!r}:{aval.str_short()}"
    return f"const:{aval.str_short()}"


class GradStepper(Stepper):
    """``GradStepper(f, *args, mode="grad", argnums=0)``; ``mode``: "grad", "vjp" or "jvp".

    ``stages``: the stage names present; ``stage_steps[stage]``: its steps
    (JVPStep / PEStep / TransposeStep; "final" has none); ``steps``: all of them in
    stage order (``stage_of(k)``). Jaxprs: ``jvp_jaxpr`` (primals, tangents -> primal and
    tangent outputs), ``known_jaxpr`` (primals -> primal outputs + residuals),
    ``linear_jaxpr`` (ClosedJaxpr whose constvars are the residuals), ``transpose_jaxpr``
    (residuals[, output cotangents] -> input cotangents), ``final_jaxpr`` (==
    ``make_jaxpr(grad(f))(*args)``); each with a ``JaxprText`` in ``texts[stage]``.
    ``eqn_kinds[stage]``: per equation, "primal"/"tangent", "known", "linear" or
    "forward"/"backward"/"other". ``residuals``: [Residual]; ``saved_residuals``: them
    as ``print_saved_residuals`` prints them. ``error``: ErrorInfo from the first stage
    that failed (later stages are then absent).

    Custom rules and checkpoints: a step's ``custom_rules`` ([CustomRuleRun]) names the
    user's ``custom_jvp`` rule / ``custom_vjp`` ``fwd`` / ``bwd`` (and its line) that ran
    inside it (JVP and transpose steps, with the equations it emitted) or that bound its
    primitive (partial-eval steps); ``remat`` (RematInfo) on the partial-eval and
    transpose steps of a ``checkpoint`` lists what its policy saved and what the
    backward pass recomputes.
    """

    title = "Autodiff"

    def __init__(self, f, *args, mode="grad", argnums=0, progress=None):
        super().__init__()
        if mode not in ("grad", "vjp", "jvp"):
            raise ValueError(f"mode must be 'grad', 'vjp' or 'jvp', got {mode!r}")
        self.mode, self.fun_name = mode, fun_name(f)
        self.stages = []
        self.stage_steps = {}
        self.texts = {}
        self.eqn_kinds = {}
        self.residuals = []
        self.saved_residuals = []
        self.residual_sources = []
        self.final_notes = {}  # final jaxpr equation index -> where it came from
        self.jvp_jaxpr = self.known_jaxpr = self.linear_jaxpr = None
        self.transpose_jaxpr = self.final_jaxpr = None
        self._progress, self._argnums = progress, argnums
        self._recordings = []
        try:
            self._a = _Args(f, args, argnums)
            self._stage_jvp()
            if mode != "jvp":
                self._stage_partial_eval()
                self._stage_transpose()
            self._stage_final()
        except Exception as e:  # noqa: BLE001 - shown in the view, never raised
            self.error = error_info(e, f)
            if self._recordings:
                self.error.custom_rule = crv.failing_rule(self._recordings[-1])
        self._recordings = []  # the steps hold what they need, as plain data
        self.steps = [s for st in self.stages for s in self.stage_steps.get(st, [])]
        self._offsets = {}
        n = 0
        for st in self.stages:
            self._offsets[st] = n
            n += len(self.stage_steps.get(st, []))

    # ------------------------------------------------------------------ stage 1: JVP
    def _stage_jvp(self):
        a = self._a
        n = len(a.flat)
        tan_avals = [jvp_mod.tangent_aval(x) for x in a.dyn_avals]
        has_t = [dtypes.is_inexact(x.dtype) for x in a.dyn_avals]

        def fun(*ins):
            store = []
            flat_fun, dyn = a.dyn_fun(list(ins[:n]), store)
            it = iter(ins[n:])
            tans = [next(it) if h else jvp_mod.Zero(t) for h, t in zip(has_t, tan_avals)]
            po, to = jvp_mod.jvp_flat(flat_fun, dyn, tans)
            return list(po) + list(to)

        in_avals = list(a.avals) + [t for t, h in zip(tan_avals, has_t) if h]
        closed, top, rec = _run(
            fun, in_avals, f"jvp({self.fun_name})", self._progress, "JVP", self._recordings
        )
        self.jvp_jaxpr = closed
        text = self.texts["jvp"] = JaxprText(closed)
        # tangent equations: those that depend on a tangent input
        tangent_vars = set(closed.jaxpr.invars[n:])
        kinds = []
        for e in closed.jaxpr.eqns:
            t = any(type(v) is core.Var and v in tangent_vars for v in e.invars)
            if t:
                tangent_vars.update(e.outvars)
            kinds.append("tangent" if t else "primal")
        self.eqn_kinds["jvp"] = kinds
        # the equations each bind on the top JVP trace emitted (innermost such span)
        emitted = {}
        for ev, i in _top_eqns(rec, top, text):
            spans = _rules_on(rec, ev, "jvp", top)
            if spans:  # (else emitted outside any JVP rule: instantiating a zero output)
                emitted.setdefault(spans[0].call, []).append((ev, i))
        steps, by_call = [], {}
        for b in rec.of(events.RuleStarted):
            t = rec.traces.get(b.trace)
            if b.interpreter != "jvp" or t is None or t.parent_trace != top:
                continue  # another interpreter, or a sub-jaxpr's JVP (a scan body's)
            eqns = emitted.get(b.call, [])
            if b.rule is None and not eqns:
                continue  # passed through and left nothing in the jaxpr
            step = JVPStep(
                index=len(steps),
                primitive=b.primitive,
                source=source_line(b.source_info),
                rule=b.rule is not None,
                primal_in=[a.str_short() for a in b.in_avals],
                tangent_in_zero=list(b.zeros),
                primal_out=[],
                tangent_out_zero=[],
            )
            end = rec.end_of(b.call)
            if isinstance(end, events.RuleApplied):
                step.primal_out = [a.str_short() for a in end.out_avals]
                step.tangent_out_zero = list(end.zeros)
            for _, i in eqns:
                (step.tangent_eqns if kinds[i] == "tangent" else step.primal_eqns).append(i)
            steps.append(step)
            by_call[b.call] = step

        def index(ev):
            return text.index.get(id(ev.eqn)) if ev.trace == top else None

        for step, run in crv.rules_inside(rec, by_call, index):
            step.custom_rules.append(run)
            if run.rule_kind == "fwd":
                run.note = crv.bwd_note(text, step.primal_eqns + step.tangent_eqns)
        self._add_stage("jvp", steps)

    # ------------------------------------------------------------------ stage 2: partial eval
    def _stage_partial_eval(self):
        a = self._a
        holder = []

        def fun(*ins):
            store = []
            flat_fun, dyn = a.dyn_fun(list(ins), store)
            po, lin = pe.linearize_flat(flat_fun, dyn)
            holder.append((len(po), lin))
            return list(po) + list(lin.consts)

        closed, top, rec = _run(
            fun,
            list(a.avals),
            f"linearize({self.fun_name})",
            self._progress,
            "partial evaluation",
            self._recordings,
        )
        n_out, lin = holder[0]
        self.known_jaxpr, self.linear_jaxpr = closed, lin
        self.num_primal_out = n_out
        ktext = self.texts["partial_eval"] = JaxprText(closed)
        ltext = self.texts["linear"] = JaxprText(lin)
        self.eqn_kinds["partial_eval"] = ["known"] * len(closed.jaxpr.eqns)
        self.eqn_kinds["linear"] = ["linear"] * len(lin.jaxpr.eqns)
        names = TraceNames(rec)
        steps, by_call, begins = [], {}, {}
        for b in rec.of(events.RuleStarted):
            t = rec.traces.get(b.trace)
            if b.interpreter != "partial_eval" or t is None or t.parent_trace != top:
                continue  # partial evaluation of a sub-jaxpr (a scan's body)
            via = [names.handler(h) for h in reversed(rule_spans(rec, b))]
            step = by_call[b.call] = PEStep(
                index=len(steps),
                primitive=b.primitive,
                source=source_line(b.source_info),
                known=b.rule is None,
                via=via,
            )
            bound = crv.rule_binding(rec, b)
            if bound is not None:
                step.custom_rules.append(bound)
            begins[b.call] = b
            steps.append(step)

        def step_of(call):
            """The top partial-eval step whose span holds span ``call``."""
            while call is not None:
                step = by_call.get(call)
                if step is not None:
                    return step
                begin = rec.begin_of(call)
                call = begin.parent if begin is not None else None
            return None

        for ev in rec.of(events.EqnEmitted):
            if ev.interpreter == "partial_eval":
                i = ltext.index.get(id(ev.eqn))
                step = step_of(ev.origin) if i is not None else None
                if step is not None:
                    step.linear_eqns.append(i)
                    step.link = "recorded"
        for ev, i in _top_eqns(rec, top, ktext):
            spans = _rules_on(rec, ev, "partial_eval", top)
            step = by_call.get(spans[0].call) if spans else None
            if step is not None:
                step.known_eqns.append(i)
        self._residuals(closed, lin, ktext, ltext, steps)
        arg_names = crv.argument_names(a.f, a.args)
        self.residual_sources = [
            crv.residual_source(r, ktext, arg_names)[1] for r in self.residuals
        ]
        self.saved_residuals = crv.saved_residual_lines(ktext, self.residuals, arg_names)
        for ev in rec.of(events.RematDecision):
            call = crv.owner(rec, ev, {c: c for c in by_call})
            if call is None:
                continue  # a checkpoint inside a sub-jaxpr (a scan body's)
            step = by_call[call]
            if call == ev.parent and step.primitive == crv.REMAT_PRIMITIVE:
                operands = [
                    ktext.name(x.var) if isinstance(x, JaxprTracer) else None
                    for x in begins[call].inputs
                ]
                info = crv.remat_info(ev, operands)
            else:  # inside the step's own rule (a jit's partial eval)
                info = crv.remat_info(ev, [], nested_in=step.primitive)
            step.remat = crv.merge_remat(step.remat, info)
        self._add_stage("partial_eval", steps)

    def _residuals(self, known, lin, ktext, ltext, steps):
        produced = {}
        for i, e in enumerate(known.jaxpr.eqns):
            for v in e.outvars:
                produced[v] = i
        kin = set(known.jaxpr.invars)
        by_eqn = {}
        for r, (v, c) in enumerate(zip(lin.jaxpr.constvars, lin.consts)):
            kv = c.var if isinstance(c, JaxprTracer) else None
            if kv is not None and kv in produced:
                kind, by, kname = "eqn", produced[kv], ktext.name(kv)
            elif kv is not None and kv in kin:
                kind, by, kname = "input", None, ktext.name(kv)
            else:
                kind, by = "constant", None
                kname = ktext.name(kv) if kv is not None else (_name_of(ktext, c) or "?")
            self.residuals.append(
                Residual(
                    index=r,
                    aval=v.aval.str_short(),
                    linear_name=ltext.name(v),
                    known_name=kname,
                    produced_by=by,
                    kind=kind,
                )
            )
            if by is not None:
                by_eqn.setdefault(by, []).append(r)
        for s in steps:
            for i in s.known_eqns:
                s.residuals.extend(by_eqn.get(i, ()))

    # ------------------------------------------------------------------ stage 3: transpose
    def _stage_transpose(self):
        lin = self.linear_jaxpr
        ltext = self.texts["linear"]
        is_res = [isinstance(c, core.Tracer) for c in lin.consts]
        res_avals = [core.get_aval(c) for c, t in zip(lin.consts, is_res) if t]
        out_avals = [jvp_mod.tangent_aval(v.aval) for v in lin.jaxpr.outvars]
        grad_mode = self.mode == "grad"
        if grad_mode:
            aval = self._primal_out_aval()
            seed = core.WeakScalar(1, aval.dtype) if aval.weak_type else np.ones((), aval.dtype)
        n_res = len(res_avals)

        def fun(*ins):
            it = iter(ins[:n_res])
            consts = [next(it) if t else c for c, t in zip(lin.consts, is_res)]
            cts = [seed] if grad_mode else list(ins[n_res:])
            undefined = [tr.UndefinedPrimal(v.aval) for v in lin.jaxpr.invars]
            cts_in = tr.backward_pass(lin.jaxpr, consts, undefined, cts)
            return [
                jvp_mod.instantiate(ct) if ct is not None else jvp_mod.zeros_like_aval(v.aval)
                for ct, v in zip(cts_in, lin.jaxpr.invars)
            ]

        in_avals = res_avals + ([] if grad_mode else out_avals)
        closed, top, rec = _run(
            fun,
            in_avals,
            f"transpose({self.fun_name})",
            self._progress,
            "transpose",
            self._recordings,
        )
        self.transpose_jaxpr = closed
        text = self.texts["transpose"] = JaxprText(closed)
        kinds = ["other"] * len(closed.jaxpr.eqns)
        linear_vars = set(lin.jaxpr.invars)
        for e in lin.jaxpr.eqns:
            linear_vars.update(e.outvars)
        top_eqns = {id(ev): i for ev, i in _top_eqns(rec, top, text)}
        steps, pending, nested, contrib, by_call = [], {}, 0, {}, {}
        for ev in rec.events:
            if isinstance(ev, events.EqnTransposed):
                begin = rec.begin_of(ev.parent)
                if not isinstance(begin, events.TraceStarted) or begin.jaxpr is not lin.jaxpr:
                    nested += 1  # transposed inside a rule (a scan's body)
                    continue
                eqn, cts_out = ev.eqn, ev.cts_out
                written, outs = [], []
                for v, ct in zip(eqn.invars, cts_out):
                    outs.append(_name_of(text, ct))
                    w = (
                        type(v) is core.Var
                        and v in linear_vars
                        and ct is not None
                        and type(ct) is not jvp_mod.Zero
                    )
                    written.append(ltext.name(v) if w else None)
                    if w:
                        contrib.setdefault(ltext.name(v), []).append(_name_of(text, ct))
                emitted = pending.pop(ev.call, [])
                step = TransposeStep(
                    index=len(steps),
                    primitive=ev.primitive,
                    forward_eqn=ev.index,
                    forward_text=ltext.eqn_text(ev.index),
                    source=source_line(eqn.source_info),
                    cts_in=[_name_of(text, c) for c in ev.cts_in],
                    cts_out=outs,
                    written_to=written,
                    emitted_eqns=emitted,
                    nested_steps=nested,
                    cotangents={w: list(contrib[w]) for w in written if w is not None},
                )
                for j in emitted:
                    kinds[j] = "backward"
                steps.append(step)
                by_call[ev.call] = step
                nested = 0
            elif id(ev) in top_eqns:
                j = top_eqns[id(ev)]
                bpass, child = outermost_child(rec, ev, "transpose")
                if bpass is None:
                    continue  # outside the backward pass
                if isinstance(child, events.PhaseStarted) and child.phase == "accumulate":
                    kinds[j] = "accumulate"
                    if steps:
                        steps[-1].accumulate_eqns.append(j)
                elif isinstance(child, events.PhaseStarted) and child.phase == "forward":
                    kinds[j] = "forward"
                elif child is not None:
                    pending.setdefault(child.call, []).append(j)
        self.eqn_kinds["transpose"] = kinds
        by_event = {}
        for ev, i in _top_eqns(rec, top, text):
            by_event[id(ev)] = i
        for step, run in crv.rules_inside(rec, by_call, lambda ev: by_event.get(id(ev))):
            step.custom_rules.append(run)
        remats = {c for c, step in by_call.items() if step.primitive == crv.REMAT_PRIMITIVE}
        recomputed = crv.recomputation_events(rec, remats)
        for call in remats:
            by_call[call].remat = self._remat_backward(by_call[call], recomputed[call])
        self._add_stage("transpose", steps)

    def _remat_backward(self, step, recomputed):
        """A checkpoint's transpose: the residuals it reads and what it recomputes."""
        lin = self.linear_jaxpr.jaxpr
        ltext = self.texts["linear"]
        policy = ""
        for pe_step in self.stage_steps.get("partial_eval", []):
            if pe_step.remat is not None and step.forward_eqn in pe_step.linear_eqns:
                policy = pe_step.remat.policy
        res_index = {v: r for r, v in enumerate(lin.constvars)}
        saved = []
        for v in lin.eqns[step.forward_eqn].invars:
            r = res_index.get(v) if type(v) is core.Var else None
            if r is not None:
                src = self.residual_sources[r] if r < len(self.residual_sources) else ""
                saved.append(f"{ltext.name(v)}:{self.residuals[r].aval} {src}".rstrip())
        return RematInfo(
            policy=policy,
            saved=saved,
            recomputed=[crv.eqn_label(ev.eqn) for ev in recomputed],
        )

    def _primal_out_aval(self):
        return self.known_jaxpr.jaxpr.outvars[0].aval

    # ------------------------------------------------------------------ stage 4: final
    def _stage_final(self):
        a = self._a
        import engine

        if self.mode == "jvp":
            self.final_jaxpr = self.jvp_jaxpr
            self.texts["final"] = self.texts["jvp"]
            self.eqn_kinds["final"] = list(self.eqn_kinds["jvp"])
            self._add_stage("final", [])
            return
        if self.mode == "grad":
            g = engine.grad(a.f, argnums=self._argnums)
            build = flatten_fun(g, a.tree, [])
            in_avals = list(a.avals)
            name = a.f
        else:
            n = len(a.flat)
            out_avals = [
                jvp_mod.tangent_aval(x) for x in self.known_jaxpr.out_avals[: self.num_primal_out]
            ]

            def build(*ins):
                flat_fun, dyn = a.dyn_fun(list(ins[:n]), [])
                _, vjp_fun = engine.vjp(flat_fun, *dyn)
                return list(vjp_fun(list(ins[n:])))

            in_avals = list(a.avals) + out_avals
            name = a.f
        closed, top, rec = _run(
            build, in_avals, fun_name(name), self._progress, "final", self._recordings
        )
        self.final_jaxpr = closed
        text = self.texts["final"] = JaxprText(closed)
        kinds = ["other"] * len(closed.jaxpr.eqns)
        for ev, j in _top_eqns(rec, top, text):
            if outermost_child(rec, ev, "transpose")[0] is not None:
                kinds[j] = "backward"
            elif any(b.interpreter == "partial_eval" for b in rule_spans(rec, ev)):
                kinds[j] = "forward"
            self._final_note(rec, ev, j)
        self.eqn_kinds["final"] = kinds
        self._add_stage("final", [])

    def _final_note(self, rec, ev, j):
        """Mark a final equation a user's custom rule emitted, or a checkpoint's
        recomputation in the backward pass."""
        rule = next(rec.ancestors(ev, events.CustomRuleStarted), None)
        if rule is not None:
            self.final_notes[j] = f"{rule.rule_kind} rule {rule.rule} of {rule.function}"
        elif ev.primitive == crv.REMAT_PRIMITIVE and ev.eqn.params.get("differentiated"):
            self.final_notes[j] = "checkpoint: recomputes its forward values, then backward"

    # ------------------------------------------------------------------ helpers
    def _add_stage(self, stage, steps):
        self.stages.append(stage)
        self.stage_steps[stage] = steps

    def stage_of(self, k):
        """(stage, index within the stage) of global step k."""
        for st in reversed(self.stages):
            off = self._offsets.get(st, 0)
            if k >= off and self.stage_steps.get(st):
                return st, k - off
        return (self.stages[0], 0) if self.stages else (None, 0)

    def stage_start(self, stage):
        return self._offsets.get(stage, 0)

    def cotangents(self, k):
        """{linear var: [contributions]} after transpose step k (of that stage)."""
        table = {}
        for s in self.stage_steps.get("transpose", [])[: k + 1]:
            table.update(s.cotangents)
        return table

    def state(self, k=None):
        k = self.position if k is None else k
        stage, i = self.stage_of(k)
        step = self.steps[k] if self.steps else None
        return {
            "position": k,
            "count": len(self.steps),
            "stage": stage,
            "stage_index": i,
            "stage_count": len(self.stage_steps.get(stage, [])),
            "step": step,
            "error": self.error,
        }
