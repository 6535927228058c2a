"""The batching stepper's model: ``make_jaxpr(vmap(f, in_axes))(*args)`` traced while
the batching interpreter reports each rule it applied: the operands with their batch
axes (``@0``, or unbatched), the results with theirs, and the equations the rule emitted
into the batched jaxpr."""

from __future__ import annotations

import numpy as np

import engine
from engine import core, events
from engine.interpreters.tracing import JaxprTracer

from .base import Stepper, fun_name
from .events import BatchStep, Value
from .jaxpr_text import JaxprText
from .recording import (
    TraceNames,
    error_info,
    record,
    rule_spans,
    source_line,
    top_trace,
    traced_jaxpr,
)


class VmapStepper(Stepper):
    """``VmapStepper(f, in_axes, *args, out_axes=0)``.

    ``steps``: [BatchStep] in the order the primitives were bound (rules applied, and
    binds with no batched operand, which pass through unchanged); ``jaxpr`` /
    ``text``: the batched jaxpr (== ``make_jaxpr(vmap(f, in_axes))(*args)``);
    ``dims``: {variable name in that jaxpr: batch axis or None}; ``error``."""

    title = "Batching"

    def __init__(self, f, in_axes, *args, out_axes=0, progress=None):
        super().__init__()
        self.fun_name = fun_name(f)
        self.in_axes = in_axes
        self.jaxpr = self.text = None
        self.dims = {}
        tick = (lambda n: progress(n, None, "batching")) if progress else None
        rec = record(None, tick)
        try:
            vf = engine.vmap(f, in_axes=in_axes, out_axes=out_axes)
            with rec:
                self.jaxpr = engine.make_jaxpr(vf)(*args)
        except Exception as e:  # noqa: BLE001 - shown in the view, never raised
            self.error = error_info(e, f)
        top = top_trace(rec)
        if top is not None:
            got = self.jaxpr if self.jaxpr is not None else traced_jaxpr(rec, top.trace)
            self.text = JaxprText(got)
            self._build(rec, top)

    def _value(self, x, dim, size):
        aval = core.get_aval(x)
        if isinstance(x, JaxprTracer) and id(x.var) in self._known_vars:
            name = self.text.name(x.var)
        elif isinstance(x, core.Tracer):
            name = "\u00b7"  # a value of another trace (a sub-jaxpr's)
        else:
            name = repr(np.asarray(x).item()) if aval.shape == () else "const"
        per = aval if dim is None else core.mapped_aval(size, dim, aval)
        return Value(name, aval.str_short(), dim, per.str_short())

    def _build(self, rec, top):
        text = self.text
        known = set()
        j = text.jaxpr
        for v in list(j.constvars) + list(j.invars):
            known.add(id(v))
        for e in j.eqns:
            known.update(id(v) for v in e.outvars)
        self._known_vars = known
        names = TraceNames(rec)
        by_call = {}
        for ev in rec.events:
            if isinstance(ev, events.RuleStarted) and ev.interpreter == "batching":
                step = by_call[ev.call] = BatchStep(
                    index=len(by_call),
                    primitive=ev.primitive,
                    source=source_line(ev.source_info),
                    rule=ev.rule is not None,
                    trace=names(ev.trace),
                    ins=[],
                    outs=[],
                )
                if ev.rule is None:
                    continue  # described by the equation it passes through (below)
                t = rec.traces.get(ev.trace)
                size = t.info["axis_size"] if t is not None and t.info else None
                end = rec.end_of(ev.call)
                step.ins = [self._value(x, d, size) for x, d in zip(ev.inputs, ev.dims)]
                if isinstance(end, events.RuleApplied):
                    step.outs = [self._value(x, d, size) for x, d in zip(end.outputs, end.dims)]
                for v in step.ins + step.outs:
                    if v.name not in ("\u00b7", "const"):
                        self.dims.setdefault(v.name, v.dim)
            elif isinstance(ev, events.EqnEmitted) and ev.interpreter == "jaxpr":
                eqn = ev.eqn
                on_top = ev.trace == top.trace
                for b in rule_spans(rec, ev):
                    step = by_call.get(b.call) if b.interpreter == "batching" else None
                    if step is None:
                        continue
                    if not step.rule and on_top and not step.ins and not step.outs:
                        step.ins = [self._plain(v) for v in eqn.invars]
                        step.outs = [self._plain(v) for v in eqn.outvars]
                    i = text.index.get(id(eqn)) if on_top else None
                    if i is not None:
                        step.eqns.append(i)
                    else:
                        step.nested_eqns += 1
        self.steps = list(by_call.values())
        # inputs of the batched jaxpr: their in_axes
        for v in j.invars:
            self.dims.setdefault(text.name(v), None)
        del self._known_vars

    def _plain(self, v):
        """An unbatched operand or result of an equation that passed through."""
        name = self.text.name(v)
        if type(v) is core.Literal:
            name = name.rsplit(":", 1)[0]
        a = v.aval.str_short()
        return Value(name, a, None, a)

    def jaxpr_text(self):
        return self.text.text if self.text is not None else ""

    def state(self, k=None):
        k = self.position if k is None else k
        step = self.steps[k] if self.steps else None
        return {
            "position": k,
            "count": len(self.steps),
            "step": step,
            "ins": [str(v) for v in step.ins] if step else [],
            "outs": [str(v) for v in step.outs] if step else [],
            "error": self.error,
        }
