"""The tracing stepper's model: every equation emitted while ``f`` is traced to a jaxpr,
in order, with the user's line, the interpreters that handled the bind, and the jaxpr
as it grows. The last step's jaxpr text is ``str(make_jaxpr(f)(*args))``."""

from __future__ import annotations

import engine
from engine import core, events, pretty

from .base import Stepper, fun_name
from .events import EqnStep
from .jaxpr_text import JaxprText
from .recording import (
    SourceBlocks,
    TraceNames,
    error_info,
    handlers,
    record,
    source_line,
    top_trace,
    traced_jaxpr,
)

_KINDS = (events.TraceStarted, events.TraceFinished, events.RuleStarted, events.EqnEmitted)


class TraceStepper(Stepper):
    """``TraceStepper(f, *args, **kwargs)``: records the tracing of ``f`` (as
    ``make_jaxpr(f)(*args, **kwargs)`` does) and steps through it.

    - ``steps``: [EqnStep], one per equation recorded by any jaxpr trace (the top-level
      one and those of sub-jaxprs, e.g. a scan's body), in the order they were emitted;
    - ``jaxpr``: the ClosedJaxpr (None if tracing failed); ``text``: its JaxprText;
    - ``jaxpr_text(k)``: the jaxpr after step k (the full text at the last step);
    - ``sources``: {key: (file, first line, [lines])}, the functions the steps came from;
    - ``error``: ErrorInfo if ``f`` failed to trace (the steps up to the failure remain).
    """

    title = "Tracing"

    def __init__(self, f, *args, progress=None, **kwargs):
        super().__init__()
        self.fun_name = fun_name(f)
        self.jaxpr = None
        blocks = SourceBlocks()
        self.sources = blocks.blocks
        tick = (lambda n: progress(n, None, "tracing")) if progress else None
        rec = record(_KINDS, tick)
        try:
            with rec:
                self.jaxpr = engine.make_jaxpr(f)(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - shown in the view, never raised
            self.error = error_info(e, f)
        top = top_trace(rec)
        if top is None:
            self.text = None
            return
        got = self.jaxpr if self.jaxpr is not None else traced_jaxpr(rec, top.trace)
        self.text = JaxprText(got)
        self._build(rec, top, blocks, progress)

    def _build(self, rec, top, blocks, progress):
        names = TraceNames(rec)
        text = self.text
        nested = text.nested() if self.jaxpr is not None else {}
        inner_names = {}  # trace -> pretty.Names for equations not in the final jaxpr
        top_count = 0
        emitted = [e for e in rec.of(events.EqnEmitted) if e.interpreter == "jaxpr"]
        total = len(emitted)
        for k, ev in enumerate(emitted):
            eqn = ev.eqn
            is_top = ev.trace == top.trace
            top_index = text.index.get(id(eqn)) if is_top else None
            if is_top:
                top_count += 1
                line = pretty.pp_eqn(eqn, text.names, 0)
                where = None
            elif id(eqn) in nested:
                line = pretty.pp_eqn(eqn, text.names, 0)
                where = nested[id(eqn)].split("_")[0]
            else:
                nm = inner_names.get(ev.trace)
                if nm is None:
                    nm = inner_names[ev.trace] = pretty.Names()
                    inner = traced_jaxpr(rec, ev.trace)
                    inner = inner.jaxpr if isinstance(inner, core.ClosedJaxpr) else inner
                    for v in list(inner.invars) if inner is not None else []:
                        nm(v)
                line = pretty.pp_eqn(eqn, nm, 0)
                where = None
            src = source_line(ev.source_info)
            key = blocks.key_for(src.file, src.line, src.function) if src is not None else None
            self.steps.append(
                EqnStep(
                    index=k,
                    primitive=ev.primitive,
                    text=line,
                    in_avals=[a.aval.str_short() for a in eqn.invars],
                    out_avals=[v.aval.str_short() for v in eqn.outvars],
                    source=src,
                    source_key=key,
                    handlers=handlers(rec, names, ev),
                    trace_chain=names.chain(ev.trace),
                    trace=names(ev.trace),
                    top=is_top,
                    top_index=top_index,
                    top_count=top_count,
                    nested_in=where,
                )
            )
            if progress and k % 512 == 511:
                progress(k + 1, total, "building steps")

    # -- queries
    def jaxpr_text(self, k=None):
        """The jaxpr after step k (default: the current one). At the last step of a
        successful trace this is ``str(make_jaxpr(f)(*args))``."""
        if self.text is None:
            return ""
        if not self.steps:
            return self.text.text if self.jaxpr is not None else self.text.prefix(0, False)
        k = self.position if k is None else k
        step = self.steps[k]
        last = k == len(self.steps) - 1
        return self.text.prefix(step.top_count, complete=last and self.jaxpr is not None)

    def window(self, k=None, size=40):
        """(first index, [(top-level index, eqn text)]) for the growing jaxpr's view."""
        k = self.position if k is None else k
        count = self.steps[k].top_count if self.steps else len(self.text or ())
        return self.text.window(count, size)

    def inner_so_far(self, k=None, limit=40):
        """For a step inside a sub-jaxpr: the equations its trace recorded so far."""
        k = self.position if k is None else k
        step = self.steps[k]
        if step.top:
            return []
        out = []
        for s in reversed(self.steps[: k + 1]):
            if s.trace == step.trace:
                out.append(s.text)
                if len(out) >= limit:
                    break
        return out[::-1]

    def state(self, k=None):
        k = self.position if k is None else k
        step = self.steps[k] if self.steps else None
        last = not self.steps or k == len(self.steps) - 1
        return {
            "position": k,
            "count": len(self.steps),
            "step": step,
            "source": step.source if step else None,
            "source_block": self.sources.get(step.source_key) if step else None,
            "handlers": [str(h) for h in step.handlers] if step else [],
            "top_count": step.top_count if step else len(self.text or ()),
            "complete": bool(last and self.jaxpr is not None),
            "error": self.error if last else None,
        }
