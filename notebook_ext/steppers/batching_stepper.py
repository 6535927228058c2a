"""The batching stepper's model: ``make_jaxpr(vmap(f, in_axes))(*args)`` traced while
the batching interpreter reports each rule it applied: the operands with their batch
axes (``@0``, or unbatched), the results with theirs, and the equations the rule emitted
into the batched jaxpr."""

from __future__ import annotations

import numpy as np

from engine import core
from engine.api import _flatten_fun
from engine.interpreters.batching import BatchTrace
from engine.interpreters.tracing import JaxprTrace, JaxprTracer

from .base import Stepper, flat_avals, fun_name
from .events import BatchStep, Value
from .jaxpr_text import JaxprText
from .recording import Recorder, TraceNames, error_info


class VmapStepper(Stepper):
    """``VmapStepper(f, in_axes, *args, out_axes=0)``.

    ``steps``: [BatchStep] in the order the primitives were bound (rules applied, and
    binds with no batched operand, which pass through unchanged); ``jaxpr`` /
    ``text``: the batched jaxpr (== ``make_jaxpr(vmap(f, in_axes))(*args)``);
    ``dims``: {variable name in that jaxpr: batch axis or None}; ``error``."""

    title = "Batching"

    def __init__(self, f, in_axes, *args, out_axes=0, progress=None):
        super().__init__()
        import engine

        self.fun_name = fun_name(f)
        self.in_axes = in_axes
        self.jaxpr = self.text = None
        self.dims = {}
        tick = (lambda n: progress(n, None, "batching")) if progress else None
        rec = Recorder(("eqn", "batch"), tick)
        trace = None
        try:
            flat, in_tree, avals = flat_avals(args)
            vf = engine.vmap(f, in_axes=in_axes, out_axes=out_axes)
            trace = JaxprTrace(self.fun_name)
            ins = [trace.new_arg(a) for a in avals]
            flat_fun = _flatten_fun(vf, in_tree, [])
            with rec:
                with core.set_current_trace(trace):
                    outs = flat_fun(*ins)
                self.jaxpr = trace.to_closed_jaxpr(ins, outs)
        except Exception as e:  # noqa: BLE001 - shown in the view, never raised
            self.error = error_info(e, f)
        finally:
            if trace is not None:
                trace.invalidate()
        if trace is not None:
            from .jaxpr_text import partial_jaxpr

            self.text = JaxprText(self.jaxpr if self.jaxpr is not None else partial_jaxpr(trace))
            self._build(rec.raw, trace)

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

    def _build(self, raw, top):
        text = self.text
        known = set()
        j = text.jaxpr
        for v in list(j.constvars) + list(j.invars):
            known.add(id(v))
        for e in j.eqns:
            known.update(id(v) for v in e.outvars)
        self._known_vars = known
        names = TraceNames()
        names(top)
        by_call = {}
        for r in raw:
            if r.kind == "batch":
                trace, prim, vals, dims, out, out_dims = r.args
                params = r.handlers[0][2] if r.handlers else None
                step = by_call.get(id(params))
                if step is None:
                    step = self._new_step(prim.name, r, names(trace), True)
                    by_call[id(params)] = step
                size = trace.axis_size
                outs = list(out) if prim.multiple_results else [out]
                odims = list(out_dims) if prim.multiple_results else [out_dims]
                step.rule = True
                step.ins = [self._value(x, d, size) for x, d in zip(vals, dims)]
                step.outs = [self._value(x, d, size) for x, d in zip(outs, odims)]
                for v in step.ins + step.outs:
                    if v.name not in ("\u00b7", "const"):
                        self.dims.setdefault(v.name, v.dim)
            elif r.kind == "eqn":
                trace, eqn, _ = r.args
                for h in r.handlers:
                    if not isinstance(h[0], BatchTrace):
                        continue
                    step = by_call.get(id(h[2]))
                    if step is None:
                        step = self._new_step(h[1], r, names(h[0]), False)
                        by_call[id(h[2])] = step
                        if not h[3] and trace is top:
                            step.ins = [self._plain(v) for v in eqn.invars]
                            step.outs = [self._plain(v) for v in eqn.outvars]
                    i = text.index.get(id(eqn)) if trace is top else None
                    if i is not None:
                        step.eqns.append(i)
                    else:
                        step.nested_eqns += 1
        self.steps = sorted(by_call.values(), key=lambda s: s.index)
        for k, s in enumerate(self.steps):
            s.index = k
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

    @staticmethod
    def _new_step(prim, r, trace_label, rule):
        return BatchStep(
            index=r.seq,
            primitive=prim,
            source=r.source(),
            rule=rule,
            trace=trace_label,
            ins=[],
            outs=[],
        )

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
