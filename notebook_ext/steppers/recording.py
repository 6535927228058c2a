"""Recording what the engine did, through its public event stream (``engine.events``).

The interpreters announce their work as typed events (a trace started, an equation
emitted, a rule applied, an equation transposed...), each with the call id of the span
it happened in. A stepper traces a function inside ``record(...)`` and reads the
``events.Recording`` afterwards: ``handlers(rec, eqn_event)`` gives the interpreters
that handled the bind which emitted an equation (outermost first: for
``grad(vmap(f))`` a ``sin`` shows up as BatchTrace(sin) -> JVPTrace(sin) ->
PartialEvalTrace(cos) -> JaxprTrace(cos)), ``TraceNames`` short labels for the traces.
Nothing here reads Python frames or the engine's private attributes; nothing is
recorded when no one listens.
"""

from __future__ import annotations

import ast
import linecache
import os
import traceback
from collections.abc import Callable, Iterable

from engine import events, source_info
from visualize.cells import cell_label

from .events import ErrorInfo, Handler, SourceLine

# the steppers' own frames are never "the user's line"
source_info.register_internal_dir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_PROGRESS_EVERY = 256


def record(
    kinds: Iterable[type[events.Event]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> events.Recording:
    """A listener for ``kinds`` (None: every event) on this thread; ``progress(n)`` is
    called every few hundred events with the number recorded so far."""
    on_event = None
    if progress is not None:
        count = [0]

        def on_event(ev: events.Event) -> None:
            count[0] += 1
            if count[0] % _PROGRESS_EVERY == 0:
                progress(count[0])

    return events.listen(kinds, on_event=on_event)


def top_trace(rec: events.Recording) -> events.TraceStarted | None:
    """The outermost jaxpr trace of a recording (the one the stepper traced)."""
    for ev in rec.of(events.TraceStarted):
        if ev.interpreter == "jaxpr":
            return ev
    return None


def traced_jaxpr(rec: events.Recording, trace: int):
    """What a jaxpr trace recorded: its ClosedJaxpr, or the equations so far (a Jaxpr
    without outputs) when tracing failed; None if it never finished."""
    start = rec.traces.get(trace)
    fin = rec.end_of(start.call) if start is not None else None
    return fin.jaxpr if isinstance(fin, events.TraceFinished) else None


# ---------------------------------------------------------------------------- naming traces


class TraceNames:
    """Short, stable labels for the traces seen in one recording: ``JVPTrace#1``,
    numbered per kind in the order the traces started."""

    def __init__(self, rec: events.Recording):
        self.rec = rec
        self._labels: dict[int, str] = {}
        counts: dict[str, int] = {}
        for ev in rec.of(events.TraceStarted):
            n = counts[ev.trace_type] = counts.get(ev.trace_type, 0) + 1
            self._labels[ev.trace] = f"{ev.trace_type}#{n}"

    def __call__(self, trace: int) -> str:
        return self._labels.get(trace, f"trace#{trace}")

    def kind(self, trace: int) -> str:
        t = self.rec.traces.get(trace)
        return t.trace_type if t is not None else "?"

    def handler(self, ev: events.RuleStarted) -> Handler:
        """The interpreter of a rule span as a Handler."""
        extra = ""
        t = self.rec.traces.get(ev.trace)
        if t is not None and t.info and "axis_size" in t.info:
            extra = f"axis_size={t.info['axis_size']}"
        return Handler(self(ev.trace), self.kind(ev.trace), ev.primitive, extra)

    def chain(self, trace: int) -> list[str]:
        """The trace and the traces it computes on, innermost first."""
        return [self(t.trace) for t in self.rec.trace_chain(trace)]


def rule_spans(rec: events.Recording, ev: events.Event) -> list[events.RuleStarted]:
    """The rule spans around ``ev``, innermost first."""
    return list(rec.ancestors(ev, events.RuleStarted))


def handlers(rec: events.Recording, names: TraceNames, ev: events.EqnEmitted) -> list[Handler]:
    """Who handled the bind that emitted an equation, outermost first, ending with the
    jaxpr trace that recorded it."""
    out = [names.handler(b) for b in reversed(rule_spans(rec, ev))]
    out.append(Handler(names(ev.trace), names.kind(ev.trace), ev.primitive))
    return out


def outermost_child(rec: events.Recording, ev: events.Event, interpreter: str):
    """(outermost TraceStarted of ``interpreter`` around ``ev``, the span just inside
    it on the way to ``ev`` (None if ``ev`` is directly in it)); (None, None) if
    ``ev`` is not inside such a trace."""
    chain = list(rec.ancestors(ev))
    for k in range(len(chain) - 1, -1, -1):
        b = chain[k]
        if isinstance(b, events.TraceStarted) and b.interpreter == interpreter:
            return b, chain[k - 1] if k > 0 else None
    return None, None


# ---------------------------------------------------------------------------- source lines


def source_line(info) -> SourceLine | None:
    """A SourceLine from an engine SourceInfo (or None)."""
    if info is None:
        return None
    text = linecache.getline(info.file, info.line).rstrip("\n")
    return SourceLine(info.file, info.line, info.function, text, cell_label(info.file))


class SourceBlocks:
    """The source of the functions that emitted equations, each stored once:
    ``blocks[key] = (file, first_line, [lines])``; ``key_for(file, line, function)``
    finds the function (by its definition in the file) or a window of lines."""

    def __init__(self):
        self.blocks = {}
        self._defs = {}  # file -> [(first, last, name)] of its function definitions

    def key_for(self, file, line, function=None):
        if function and not function.startswith("<"):
            best = None
            for first, last, name in self._functions(file):
                if name == function and first <= line <= last:
                    if best is None or first >= best[0]:
                        best = (first, last)  # the innermost definition
            if best is not None:
                key = f"{file}:{best[0]}"
                if key not in self.blocks:
                    lines = [
                        linecache.getline(file, n).rstrip("\n") for n in range(best[0], best[1] + 1)
                    ]
                    self.blocks[key] = (file, best[0], lines)
                return key
        return self._window(file, line)

    def _functions(self, file):
        defs = self._defs.get(file)
        if defs is None:
            defs = self._defs[file] = []
            try:
                tree = ast.parse("".join(linecache.getlines(file)))
            except (SyntaxError, ValueError):
                return defs
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    defs.append((first, node.end_lineno or node.lineno, node.name))
        return defs

    def _window(self, file, line, context=4):
        first = max(1, line - context)
        lines = [linecache.getline(file, n).rstrip("\n") for n in range(first, line + context + 1)]
        while lines and not lines[-1] and len(lines) > line - first + 1:
            lines.pop()
        if not any(lines):
            return None
        key = f"{file}:{first}~"
        self.blocks.setdefault(key, (file, first, lines))
        return key


# ---------------------------------------------------------------------------- errors


def error_info(exc, fun=None):
    """ErrorInfo for an exception raised while tracing: type, message, and the
    innermost user frame of its traceback (else where ``fun`` is defined)."""
    tb = exc.__traceback__
    user = None
    for fs in traceback.extract_tb(tb):
        if not source_info.is_internal(fs.filename):
            user = fs
    src = None
    if user is not None:
        text = (user.line or linecache.getline(user.filename, user.lineno)).rstrip("\n")
        src = SourceLine(user.filename, user.lineno, user.name, text, cell_label(user.filename))
    else:
        code = getattr(getattr(fun, "__wrapped__", fun), "__code__", None)
        if code is not None:
            line = code.co_firstlineno
            text = linecache.getline(code.co_filename, line).rstrip("\n")
            src = SourceLine(
                code.co_filename, line, code.co_name, text, cell_label(code.co_filename)
            )
    text = "".join(traceback.format_exception(type(exc), exc, tb, limit=-12))
    return ErrorInfo(type(exc).__name__, str(exc), src, text)
