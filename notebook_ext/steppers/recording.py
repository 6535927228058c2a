"""Recording the engine's step events while a function is traced.

The engine calls listeners (class-level lists on its traces) as it works:

- ``JaxprTrace.listeners``: ``fn(trace, eqn)`` after each equation is recorded;
- ``JVPTrace.listeners``: ``fn(trace, primitive, primals, tangents, primal_out, tangent_out)``
  after a JVP rule ran;
- ``PartialEvalTrace.listeners``: ``fn(trace, primitive, known, params)`` before a
  primitive is run now (known) or recorded for later (unknown);
- ``transpose.listeners``: ``fn(eqn, cts_in, cts_out)`` after an equation is transposed;
- ``BatchTrace.listeners``: ``fn(trace, primitive, vals, dims, out, out_dims)`` after a
  batching rule ran.

A ``Recorder`` installs the ones asked for, for one ``with`` block on one thread, and
keeps what they report as ``Raw`` entries (engine objects, converted to plain data by
each stepper once tracing is over). Each equation also notes, from the Python stack,
which interpreters are handling the ``bind`` that emitted it (innermost first): a rule
of an outer interpreter binds on the inner one, so for ``grad(vmap(f))`` a ``sin``
shows up as BatchTrace(sin) -> JVPTrace(sin) -> PartialEvalTrace(cos) -> JaxprTrace(cos).
Walking the stack costs O(depth) per event; nothing is recorded when no one listens.
"""

from __future__ import annotations

import linecache
import os
import sys
import threading
import traceback

from engine import core
from engine import source_info as _si
from engine.interpreters import batching, jvp, partial_eval, transpose
from engine.interpreters.tracing import JaxprTrace

from .events import ErrorInfo, Handler, SourceLine

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # notebook_ext/
if os.path.abspath(_HERE) + os.sep not in _si._internal_prefixes:
    # the steppers' own frames are never "the user's line"
    _si.register_internal_dir(_HERE)
    _si._internal_cache.clear()

_BACKWARD_CODE = transpose.backward_pass.__code__
_PROGRESS_EVERY = 256


class Raw:
    """One listener call: ``kind`` ('eqn', 'jvp', 'pe', 'transpose', 'batch'), its
    sequence number, the listener's arguments, and the stack context."""

    __slots__ = ("kind", "seq", "args", "handlers", "backward", "code")

    def __init__(self, kind, seq, args, handlers=(), backward=None, code=None):
        self.kind, self.seq, self.args = kind, seq, args
        self.handlers = handlers  # ((trace, primitive, params, ruled), ...) innermost first
        self.backward = backward  # (outermost backward_pass frame id, its callee's name)
        self.code = code  # (code object, line) of the user's frame

    def source(self):
        """The user's line when the event happened (a SourceLine, or None)."""
        if self.code is None:
            return None
        code, line = self.code
        return source_line(_si.SourceInfo(code.co_filename, line, code.co_name))


def _stack(frame):
    """(handlers innermost first, backward-pass info, user's (code, line)) from ``frame`` up.

    A handler is (trace, primitive name, params, ruled): ``params`` is the bind's own
    keyword dict (a new object per bind, kept alive by the recording, so it identifies
    the call); ``ruled`` is False where the interpreter passed the bind straight to its
    parent (no operand of its own: all tangents zero, no batched operand, all known)."""
    handlers = []
    backward = None
    user = None
    child = None
    f = frame
    is_internal = _si._is_internal
    while f is not None:
        code = f.f_code
        if code.co_name == "process_primitive":
            loc = f.f_locals
            tr = loc.get("self")
            if isinstance(tr, core.Trace):
                prim = loc.get("primitive")
                if isinstance(tr, partial_eval.PartialEvalTrace):
                    ruled = any(loc.get("unknown") or ())
                else:
                    ruled = "rule" in loc
                handlers.append((tr, getattr(prim, "name", "?"), loc.get("params"), ruled))
        elif code is _BACKWARD_CODE:
            backward = (id(f), child.co_name if child is not None else None)
        elif user is None and not is_internal(code.co_filename):
            user = (code, f.f_lineno)
        child = code
        f = f.f_back
    return tuple(handlers), backward, user


class Recorder:
    """``with Recorder(kinds) as rec: ...`` records listener events into ``rec.raw``.

    ``kinds``: any of 'eqn', 'jvp', 'pe', 'transpose', 'batch'. ``progress(n)`` is called
    every few hundred events with the number recorded so far."""

    def __init__(self, kinds=("eqn",), progress=None):
        self.kinds = set(kinds)
        self.raw = []
        self.progress = progress
        self._thread = None
        self._installed = []

    # -- listeners
    def _ok(self):
        return threading.get_ident() == self._thread

    def _add(self, raw):
        self.raw.append(raw)
        if self.progress is not None and len(self.raw) % _PROGRESS_EVERY == 0:
            self.progress(len(self.raw))

    def _event(self, kind, args):
        handlers, backward, user = _stack(sys._getframe(2))
        self._add(Raw(kind, len(self.raw), args, handlers, backward, user))

    def on_eqn(self, trace, eqn):
        if self._ok():
            self._event("eqn", (trace, eqn, core.current_trace()))

    def on_jvp(self, trace, primitive, primals, tangents, primal_out, tangent_out):
        if self._ok():
            self._event("jvp", (trace, primitive, primals, tangents, primal_out, tangent_out))

    def on_pe(self, trace, primitive, known, params):
        if self._ok():
            self._event("pe", (trace, primitive, known, params))

    def on_transpose(self, eqn, cts_in, cts_out):
        if self._ok():
            caller = sys._getframe(1)  # backward_pass: its jaxpr tells nested passes apart
            jaxpr = caller.f_locals.get("jaxpr") if caller.f_code is _BACKWARD_CODE else None
            self._event("transpose", (eqn, cts_in, cts_out, jaxpr))

    def on_batch(self, trace, primitive, vals, dims, out, out_dims):
        if self._ok():
            self._event("batch", (trace, primitive, vals, dims, out, out_dims))

    # -- install / remove
    def __enter__(self):
        self._thread = threading.get_ident()
        table = {
            "eqn": (JaxprTrace.listeners, self.on_eqn),
            "jvp": (jvp.JVPTrace.listeners, self.on_jvp),
            "pe": (partial_eval.PartialEvalTrace.listeners, self.on_pe),
            "transpose": (transpose.listeners, self.on_transpose),
            "batch": (batching.BatchTrace.listeners, self.on_batch),
        }
        for k in self.kinds:
            lst, fn = table[k]
            lst.append(fn)
            self._installed.append((lst, fn))
        return self

    def __exit__(self, *exc):
        for lst, fn in self._installed:
            try:
                lst.remove(fn)
            except ValueError:
                pass
        self._installed = []
        return False

    def of(self, kind):
        return [r for r in self.raw if r.kind == kind]


# ---------------------------------------------------------------------------- naming traces


class TraceNames:
    """Short, stable labels for the traces seen in one recording: ``JVPTrace#1``."""

    def __init__(self):
        self._ids = {}
        self._objs = []  # keep the traces alive so ids are not reused while naming

    def __call__(self, trace):
        n = self._ids.get(id(trace))
        if n is None:
            kind = type(trace).__name__
            n = sum(1 for t in self._objs if type(t).__name__ == kind) + 1
            self._ids[id(trace)] = n
            self._objs.append(trace)
        return f"{type(trace).__name__}#{n}"

    def handler(self, entry):
        trace, prim = entry[0], entry[1]
        extra = ""
        if isinstance(trace, batching.BatchTrace):
            extra = f"axis_size={trace.axis_size}"
        return Handler(self(trace), type(trace).__name__, prim, extra)

    def chain(self, trace):
        """The trace and its parents (``.parent``), innermost first."""
        out = []
        while trace is not None and len(out) < 64:
            out.append(self(trace))
            trace = getattr(trace, "parent", None)
        return out


# ---------------------------------------------------------------------------- source lines


def source_line(info):
    """A SourceLine from an engine SourceInfo (or None)."""
    if info is None:
        return None
    text = linecache.getline(info.file, info.line).rstrip("\n")
    return SourceLine(info.file, info.line, info.function, text)


class SourceBlocks:
    """The source of the functions that emitted equations, each stored once:
    ``blocks[key] = (file, first_line, [lines])``; ``key_for(code, line)``."""

    def __init__(self):
        self.blocks = {}
        self._by_code = {}

    def key_for(self, file, line, code=None):
        if code is not None and code.co_filename == file:
            key = self._by_code.get(code)
            if key is None:
                key = self._by_code[code] = self._block_of_code(code)
            if key is not None:
                first, lines = self.blocks[key][1], self.blocks[key][2]
                if first <= line < first + len(lines):
                    return key
        return self._window(file, line)

    def _block_of_code(self, code):
        import inspect

        try:
            lines, first = inspect.getsourcelines(code)
        except (OSError, TypeError, IndexError):
            return None
        if code.co_name == "<module>" or not lines:
            return None
        key = f"{code.co_filename}:{first}"
        self.blocks[key] = (code.co_filename, first, [ln.rstrip("\n") for ln in lines])
        return key

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
        if not _si._is_internal(fs.filename):
            user = fs
    src = None
    if user is not None:
        text = (user.line or linecache.getline(user.filename, user.lineno)).rstrip("\n")
        src = SourceLine(user.filename, user.lineno, user.name, text)
    else:
        code = getattr(getattr(fun, "__wrapped__", fun), "__code__", None)
        if code is not None:
            line = code.co_firstlineno
            text = linecache.getline(code.co_filename, line).rstrip("\n")
            src = SourceLine(code.co_filename, line, code.co_name, text)
    text = "".join(traceback.format_exception(type(exc), exc, tb, limit=-12))
    return ErrorInfo(type(exc).__name__, str(exc), src, text)
