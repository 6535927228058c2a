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

from engine import core, dtypes, tree_util
from engine.api import _check_argnums, _flatten_fun
from engine.interpreters import jvp as jvp_mod
from engine.interpreters import partial_eval as pe
from engine.interpreters import transpose as tr
from engine.interpreters.tracing import JaxprTrace, JaxprTracer

from .base import Stepper, fun_name
from .events import JVPStep, PEStep, Residual, TransposeStep
from .jaxpr_text import JaxprText
from .recording import Recorder, TraceNames, error_info, source_line

STAGES = ("jvp", "partial_eval", "transpose", "final")


def _run(kinds, build_fun, in_avals, name, progress, phase):
    """Trace ``build_fun`` (flat tracers -> flat outputs) on a fresh JaxprTrace with the
    given listeners; returns (closed jaxpr, top trace, recorder)."""
    tick = (lambda n: progress(n, None, phase)) if progress else None
    rec = Recorder(kinds, tick)
    trace = JaxprTrace(name)
    ins = [trace.new_arg(a) for a in in_avals]
    try:
        with rec:
            with core.set_current_trace(trace):
                outs = build_fun(*ins)
            closed = trace.to_closed_jaxpr(ins, outs)
    finally:
        trace.invalidate()
    return closed, trace, rec


class _Args:
    """The arguments split into the differentiated ones (``argnums``) and the rest."""

    def __init__(self, f, args, argnums):
        self.f, self.args = f, tuple(args)
        self.nums = _check_argnums(argnums, len(args), "grad")
        self.flat, self.tree = tree_util.tree_flatten(self.args)
        from engine.jit import _arg_aval

        self.avals = [_arg_aval(x) for x in self.flat]
        dyn = tuple(self.args[i] for i in self.nums)
        self.dyn_flat, self.dyn_tree = tree_util.tree_flatten(dyn)
        self.dyn_avals = [_arg_aval(x) for x in self.dyn_flat]

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

        return _flatten_fun(f_partial, dyn_tree, store), dyn_flat


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
    "forward"/"backward"/"other". ``residuals``: [Residual]. ``error``: ErrorInfo from
    the first stage that failed (later stages are then absent).
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
        self.jvp_jaxpr = self.known_jaxpr = self.linear_jaxpr = None
        self.transpose_jaxpr = self.final_jaxpr = None
        self._progress, self._argnums = progress, argnums
        try:
            self._a = _Args(f, args, argnums)
            self._stage_jvp()
            if mode != "jvp":
                self._stage_partial_eval()
                self._stage_transpose()
            self._stage_final()
        except Exception as e:  # noqa: BLE001 - shown in the view, never raised
            self.error = error_info(e, f)
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
            ("eqn", "jvp"), fun, in_avals, f"jvp({self.fun_name})", self._progress, "JVP"
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
        # a step per bind the JVP trace handled, keyed by the bind's params dict (alive
        # while the recording is, so its id names the call)
        steps, by_call = [], {}
        for r in rec.raw:
            if r.kind == "jvp":
                trace, prim, primals, tangents, p_out, t_out = r.args
                if trace.parent is not top:
                    continue  # a sub-jaxpr's JVP (e.g. a scan body's)
                params = r.handlers[0][2] if r.handlers else None
                step = by_call.get(id(params))
                if step is None:
                    step = by_call[id(params)] = self._jvp_step(len(steps), prim.name, r, True)
                    steps.append(step)
                step.rule = True
                multi = prim.multiple_results
                p_out = list(p_out) if multi else [p_out]
                t_out = list(t_out) if multi else [t_out]
                step.primal_in = [core.get_aval(x).str_short() for x in primals]
                step.tangent_in_zero = [type(t) is jvp_mod.Zero for t in tangents]
                step.primal_out = [core.get_aval(x).str_short() for x in p_out]
                step.tangent_out_zero = [type(t) is jvp_mod.Zero for t in t_out]
            elif r.kind == "eqn":
                trace, eqn, _ = r.args
                if trace is not top:
                    continue
                i = text.index.get(id(eqn))
                if i is None:
                    continue
                h = next(
                    (
                        h
                        for h in r.handlers
                        if isinstance(h[0], jvp_mod.JVPTrace) and h[0].parent is top
                    ),
                    None,
                )
                if h is None:
                    continue  # emitted outside any JVP rule (instantiating a zero output)
                step = by_call.get(id(h[2]))
                if step is None:
                    step = by_call[id(h[2])] = self._jvp_step(len(steps), h[1], r, h[3])
                    steps.append(step)
                    if not h[3]:  # passed through: no JVP event will describe it
                        step.primal_in = [v.aval.str_short() for v in eqn.invars]
                        step.primal_out = [v.aval.str_short() for v in eqn.outvars]
                        step.tangent_in_zero = [True] * len(eqn.invars)
                        step.tangent_out_zero = [True] * len(eqn.outvars)
                        step.source = source_line(eqn.source_info)
                (step.tangent_eqns if kinds[i] == "tangent" else step.primal_eqns).append(i)
        self._add_stage("jvp", steps)

    @staticmethod
    def _jvp_step(index, prim, r, rule):
        return JVPStep(
            index=index,
            primitive=prim,
            source=r.source(),
            rule=rule,
            primal_in=[],
            tangent_in_zero=[],
            primal_out=[],
            tangent_out_zero=[],
        )

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
            ("eqn", "pe"),
            fun,
            list(a.avals),
            f"linearize({self.fun_name})",
            self._progress,
            "partial evaluation",
        )
        n_out, lin = holder[0]
        self.known_jaxpr, self.linear_jaxpr = closed, lin
        self.num_primal_out = n_out
        ktext = self.texts["partial_eval"] = JaxprText(closed)
        ltext = self.texts["linear"] = JaxprText(lin)
        self.eqn_kinds["partial_eval"] = ["known"] * len(closed.jaxpr.eqns)
        self.eqn_kinds["linear"] = ["linear"] * len(lin.jaxpr.eqns)
        lin_by_params = {}
        for i, e in enumerate(lin.jaxpr.eqns):
            lin_by_params.setdefault(id(e.params), i)
        names = TraceNames()
        steps, by_call = [], {}
        for r in rec.raw:
            if r.kind == "pe":
                trace, prim, known, params = r.args
                if trace.parent is not top:
                    continue  # partial evaluation of a sub-jaxpr (a scan's body)
                via = [names.handler(h) for h in reversed(r.handlers[1:])]
                src = r.source()
                step = PEStep(
                    index=len(steps), primitive=prim.name, source=src, known=known, via=via
                )
                if not known and id(params) in lin_by_params:
                    step.linear_eqns.append(lin_by_params.pop(id(params)))
                    step.link = "params"
                steps.append(step)
                by_call[id(params)] = step
            elif r.kind == "eqn":
                trace, eqn, _ = r.args
                if trace is not top:
                    continue
                i = ktext.index.get(id(eqn))
                h = next(
                    (
                        h
                        for h in r.handlers
                        if isinstance(h[0], pe.PartialEvalTrace) and h[0].parent is top
                    ),
                    None,
                )
                if i is None or h is None:
                    continue
                step = by_call.get(id(h[2]))
                if step is not None:
                    step.known_eqns.append(i)
        # equations a primitive's own partial-eval rule recorded (new params): by order
        left = sorted(lin_by_params.values())
        for step in steps:
            if not left:
                break
            if not step.known and not step.linear_eqns:
                j = next(
                    (j for j in left if lin.jaxpr.eqns[j].primitive.name == step.primitive), None
                )
                if j is not None:
                    left.remove(j)
                    step.linear_eqns.append(j)
                    step.link = "order"
        self._residuals(closed, lin, ktext, ltext, steps)
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
            ("eqn", "transpose"),
            fun,
            in_avals,
            f"transpose({self.fun_name})",
            self._progress,
            "transpose",
        )
        self.transpose_jaxpr = closed
        text = self.texts["transpose"] = JaxprText(closed)
        kinds = ["other"] * len(closed.jaxpr.eqns)
        linear_vars = set(lin.jaxpr.invars)
        for e in lin.jaxpr.eqns:
            linear_vars.update(e.outvars)
        lin_index = {id(e): i for i, e in enumerate(lin.jaxpr.eqns)}
        steps, pending, nested, contrib = [], [], 0, {}
        for r in rec.raw:
            if r.kind == "transpose":
                eqn, cts_in, cts_out, jaxpr = r.args
                if jaxpr is not lin.jaxpr:
                    nested += 1
                    continue
                i = lin_index[id(eqn)]
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
                step = TransposeStep(
                    index=len(steps),
                    primitive=eqn.primitive.name,
                    forward_eqn=i,
                    forward_text=ltext.eqn_text(i),
                    source=source_line(eqn.source_info),
                    cts_in=[_name_of(text, c) for c in cts_in],
                    cts_out=outs,
                    written_to=written,
                    emitted_eqns=pending,
                    nested_steps=nested,
                    cotangents={w: list(contrib[w]) for w in written if w is not None},
                )
                for j in pending:
                    kinds[j] = "backward"
                steps.append(step)
                pending, nested = [], 0
            elif r.kind == "eqn":
                trace, eqn, _ = r.args
                j = text.index.get(id(eqn)) if trace is top else None
                if j is None or r.backward is None:
                    continue
                callee = r.backward[1]
                if callee == "write_ct":
                    kinds[j] = "accumulate"
                    if steps:
                        steps[-1].accumulate_eqns.append(j)
                elif callee == "bind":
                    kinds[j] = "forward"
                else:
                    pending.append(j)
        self.eqn_kinds["transpose"] = kinds
        self._add_stage("transpose", steps)

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
            build = _flatten_fun(g, a.tree, [])
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
        closed, top, rec = _run(("eqn",), build, in_avals, fun_name(name), self._progress, "final")
        self.final_jaxpr = closed
        text = self.texts["final"] = JaxprText(closed)
        kinds = ["other"] * len(closed.jaxpr.eqns)
        for r in rec.raw:
            trace, eqn, _ = r.args
            j = text.index.get(id(eqn)) if trace is top else None
            if j is None:
                continue
            if r.backward is not None:
                kinds[j] = "backward"
            elif any(isinstance(h[0], pe.PartialEvalTrace) for h in r.handlers):
                kinds[j] = "forward"
        self.eqn_kinds["final"] = kinds
        self._add_stage("final", [])

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
