"""The engine's event stream: what each interpreter did, announced by the interpreter itself.

The interpreters (``engine/interpreters/``) emit typed events as they work: a trace
started or finished, an equation emitted, a primitive's rule applied, a partial-eval
decision, an equation transposed and the cotangents it wrote, a batching rule applied,
an equation lowered. A view (the notebook's steppers, a test, a script) records them::

    from engine import events

    with events.listen(kinds=(events.EqnEmitted, events.RuleStarted)) as rec:
        engine.make_jaxpr(engine.grad(f))(x)
    for ev in rec.of(events.EqnEmitted):
        print(ev.primitive, [b.primitive for b in rec.ancestors(ev, events.RuleStarted)])

Spans and call ids
------------------
Some events come in pairs that open and close a *span*: ``TraceStarted`` /
``TraceFinished``, ``RuleStarted`` / ``RuleApplied``, ``TransposeRuleStarted`` /
``EqnTransposed``, ``PhaseStarted`` / ``PhaseFinished``. Both events of a pair carry the
same ``call`` id; every event carries ``parent``, the call id of the innermost span open
(on its thread) when it was emitted. So an equation emitted by ``sin``'s JVP rule under
``vmap`` has as ancestors the JVP rule's span, then the batching rule's span, and so on:
``Recording.ancestors(event)`` walks them. A point event (``EqnEmitted``,
``CotangentWritten``...) has a ``call`` id of its own. Ids are unique in the process.
A span whose rule raised has a begin event and no end event.

Listeners and threads
---------------------
``listen()`` returns a ``Recording``, a context manager. Listeners nest (each receives
every event it asked for) and are per thread: a listener entered on thread A receives
only thread A's events, unless it was created with ``all_threads=True``; every event
carries its ``thread`` (``threading.get_ident()``).

Cost when nobody listens
------------------------
``active`` is a module-level list, non-empty exactly while some listener is entered on
any thread. Every emit site in the engine is guarded by one truthiness test of it
(``if _listening: ...``, with ``from engine.events import active as _listening``), and
only past that test are event fields computed; the emit helpers then check that a
listener exists on this thread (or for all threads) and wants the event's type before
building the event object. ``active`` is mutated in place, never rebound.

Adding an event type (custom_jvp, checkpoint, shard_map...)
-----------------------------------------------------------
1. Declare a dataclass here deriving from ``Event`` (a point event), or a pair deriving
   from ``Begin`` and ``End`` for something with a duration; give it a ``kind`` string and
   document its fields. Example: ``CustomRuleApplied(Event)`` with the user's rule
   function name and source line, or ``RematDecision(Event)`` with saved vs recomputed.
2. Emit it where the transformation does the work, guarded by ``if _listening:``, through
   the generic ``emit(cls, **fields)`` / ``begin(cls, **fields)`` / ``end(cls, call,
   **fields)`` (``wanted(cls)`` says whether a listener on this thread wants it, before
   computing costly fields). Nothing else changes: listeners, nesting, threads and the ancestry of
   events (``Recording``) are generic, so existing steppers keep working and a new
   stepper asks for the new kind with ``listen(kinds=(NewEvent, ...))``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from .core import Jaxpr, JaxprEqn, Primitive, Trace
    from .source_info import SourceInfo

__all__ = [
    "active",
    "listen",
    "Recording",
    "Event",
    "Begin",
    "End",
    "TraceStarted",
    "TraceFinished",
    "EqnEmitted",
    "RuleStarted",
    "RuleApplied",
    "PartialEvalDecision",
    "ResidualsCreated",
    "TransposeRuleStarted",
    "EqnTransposed",
    "CotangentWritten",
    "PhaseStarted",
    "PhaseFinished",
    "EqnLowered",
    "CustomRuleStarted",
    "CustomRuleApplied",
    "RematDecision",
    "emit",
    "begin",
    "end",
    "current_call",
    "wanted",
    "trace_id",
    "event_types",
]

# ---------------------------------------------------------------------------- the events


@dataclass(eq=False)
class Event:
    """Base of every event. ``call``: this event's id (for a begin/end pair, the span's
    id, shared by both); ``parent``: the innermost span open on ``thread`` when it was
    emitted (None at top level); ``thread``: the emitting thread's ``get_ident()``."""

    kind: ClassVar[str] = "event"
    call: int
    parent: int | None
    thread: int


@dataclass(eq=False)
class Begin(Event):
    """Opens a span; the matching ``End`` has the same ``call``."""

    kind: ClassVar[str] = "begin"


@dataclass(eq=False)
class End(Event):
    """Closes the span ``call``; ``parent`` is the span's own parent."""

    kind: ClassVar[str] = "end"


# -- traces


@dataclass(eq=False)
class TraceStarted(Begin):
    """An interpreter started: a trace was created, or a backward pass began.

    ``interpreter``: "jaxpr", "jvp", "partial_eval", "batching" or "transpose";
    ``trace``: an id for it (``RuleStarted.trace`` and ``EqnEmitted.trace`` refer to it);
    ``trace_type``: its class name ("JVPTrace", ..., "backward_pass");
    ``parent_trace``: the trace it computes on (None for jaxpr traces and backward passes);
    ``name``: the debug name (a jaxpr trace's function name) or None;
    ``info``: interpreter details (batching: ``axis_size``, ``axis_name``);
    ``jaxpr``: for a backward pass, the linear jaxpr it transposes, else None."""

    kind: ClassVar[str] = "trace_started"
    interpreter: str
    trace: int
    trace_type: str
    parent_trace: int | None
    name: str | None = None
    info: dict[str, Any] | None = None
    jaxpr: Jaxpr | None = None


@dataclass(eq=False)
class TraceFinished(End):
    """The interpreter finished (its trace was invalidated; the backward pass returned).

    For a jaxpr trace ``jaxpr`` is what it recorded: the ClosedJaxpr when tracing
    completed (``completed``), else the equations recorded so far as a Jaxpr without
    outputs (the function raised)."""

    kind: ClassVar[str] = "trace_finished"
    interpreter: str
    trace: int
    jaxpr: Any = None
    completed: bool = True


@dataclass(eq=False)
class EqnEmitted(Event):
    """An equation was added to a jaxpr being built.

    ``interpreter``: "jaxpr" (recorded while tracing) or "partial_eval" (an unknown
    equation of a linear/unknown jaxpr, emitted when that jaxpr is assembled);
    ``trace``: the recording trace's id; ``eqn``: the JaxprEqn (the same object that ends
    up in the jaxpr, so ``jaxpr.eqns.index`` finds it); ``source_info``: the user's line;
    ``origin``: the span that caused it (for "jaxpr", the same as ``parent``; for
    "partial_eval", the ``RuleStarted`` span that decided to record it)."""

    kind: ClassVar[str] = "eqn_emitted"
    interpreter: str
    trace: int
    eqn: JaxprEqn
    primitive: str
    source_info: SourceInfo | None
    origin: int | None = None


# -- rules


@dataclass(eq=False)
class RuleStarted(Begin):
    """A primitive was bound on a transforming interpreter (jvp, partial_eval, batching).

    ``rule``: which rule handles it: "jvp", "batch", "partial_eval" (the primitive's own
    partial-eval rule), "record" (recorded as an unknown equation), or None when the
    interpreter passes the bind straight to its parent trace (no nonzero tangent, no
    batched operand, all operands known).
    ``inputs``: the values the rule receives (JVP: primals; batching: the unbatched
    values; partial_eval: the operands); ``in_avals``: the operands' avals as the user's
    program sees them; ``zeros`` (jvp: which tangents are symbolic zeros), ``dims``
    (batching: each operand's batch axis or None), ``known`` (partial_eval: which
    operands are known) are None for other interpreters. ``source_info``: user's line;
    ``rule_impl``: the function that implements the rule, as ``module:qualname`` (e.g.
    the shared elementwise batcher, or a primitive's own rule), None when passed through."""

    kind: ClassVar[str] = "rule_started"
    interpreter: str
    trace: int
    primitive: str
    params: dict[str, Any]
    rule: str | None
    inputs: tuple[Any, ...]
    in_avals: tuple[Any, ...]
    zeros: tuple[bool, ...] | None = None
    dims: tuple[int | None, ...] | None = None
    known: tuple[bool, ...] | None = None
    source_info: SourceInfo | None = None
    rule_impl: str | None = None


@dataclass(eq=False)
class RuleApplied(End):
    """The rule of the matching ``RuleStarted`` returned. ``outputs`` (always a tuple,
    also for a single-result primitive): JVP primal outputs, batched values, or the
    operands' results; ``zeros`` / ``dims`` / ``known`` describe the outputs."""

    kind: ClassVar[str] = "rule_applied"
    interpreter: str
    trace: int
    primitive: str
    rule: str | None
    outputs: tuple[Any, ...]
    out_avals: tuple[Any, ...]
    zeros: tuple[bool, ...] | None = None
    dims: tuple[int | None, ...] | None = None
    known: tuple[bool, ...] | None = None


@dataclass(eq=False)
class PartialEvalDecision(Event):
    """Partial evaluation decided what to do with a primitive (inside its RuleStarted
    span): ``known`` True: all operands known, run it now; False: record it for later.
    ``in_known``: per operand; ``residual_inputs``: indices of the known operands an
    unknown equation reads (they become residuals of the unknown jaxpr; for a
    primitive with its own partial-eval rule, such as scan's, the known operands it was
    given: the rule decides which residuals it makes, see ``ResidualsCreated``)."""

    kind: ClassVar[str] = "pe_decision"
    trace: int
    primitive: str
    known: bool
    in_known: tuple[bool, ...]
    residual_inputs: tuple[int, ...]


@dataclass(eq=False)
class ResidualsCreated(Event):
    """A partial-eval trace assembled its unknown jaxpr: ``values`` are the known values
    it reads (its constants, the residuals), ``avals`` their types."""

    kind: ClassVar[str] = "residuals_created"
    trace: int
    values: tuple[Any, ...]
    avals: tuple[Any, ...]


# -- transposition


@dataclass(eq=False)
class TransposeRuleStarted(Begin):
    """The backward pass is about to run ``eqn``'s transpose rule. ``index``: the
    equation's position in the jaxpr being transposed (the enclosing "transpose"
    TraceStarted's ``jaxpr``); ``cts_in``: the cotangent of each output (None: none)."""

    kind: ClassVar[str] = "transpose_started"
    eqn: JaxprEqn
    index: int
    primitive: str
    cts_in: tuple[Any, ...]
    source_info: SourceInfo | None = None


@dataclass(eq=False)
class EqnTransposed(End):
    """``eqn``'s transpose rule returned ``cts_out``: a cotangent per operand (None for
    a non-linear operand, a ``Zero`` where nothing flows)."""

    kind: ClassVar[str] = "eqn_transposed"
    eqn: JaxprEqn
    index: int
    primitive: str
    cts_in: tuple[Any, ...]
    cts_out: tuple[Any, ...]


@dataclass(eq=False)
class CotangentWritten(Event):
    """A cotangent contribution was written for linear variable ``var``: ``value`` the
    contribution, ``total`` the variable's cotangent after it (``accumulated``: added to
    an earlier one with ``add_any``), ``eqn``/``index`` the transposed equation it came
    from (None for the output cotangents the pass starts from)."""

    kind: ClassVar[str] = "cotangent_written"
    var: Any
    value: Any
    total: Any
    accumulated: bool
    eqn: JaxprEqn | None
    index: int | None


# -- phases of an interpreter's own work


@dataclass(eq=False)
class PhaseStarted(Begin):
    """A stretch of an interpreter's work that is not a primitive's rule, so that the
    equations it emits can be told apart. Phases today: interpreter "transpose",
    ``phase`` "forward" (evaluating the non-linear equations before the backward sweep)
    and "accumulate" (adding a cotangent contribution: ``info`` has ``var``, ``eqn``)."""

    kind: ClassVar[str] = "phase_started"
    interpreter: str
    phase: str
    info: dict[str, Any] | None = None


@dataclass(eq=False)
class PhaseFinished(End):
    kind: ClassVar[str] = "phase_finished"
    interpreter: str
    phase: str


# -- lowering


@dataclass(eq=False)
class EqnLowered(Event):
    """An equation was lowered to StableHLO (emitted by ``interpreters/lowering.py``).

    ``eqn_path``: the equation's path (its index, then indices inside sub-jaxprs, as in
    the ``<primitive>.eqn<path>`` MLIR location tags); ``tag``: that tag; ``function``:
    the MLIR function it was lowered into; ``ops``: the names of the MLIR operations
    it produced, in order (``"stablehlo.sine"``); ``op_ids``: an id per op, unique in
    the module being lowered; ``source_info``: the user's line; ``eqn``: the JaxprEqn."""

    kind: ClassVar[str] = "eqn_lowered"
    eqn_path: tuple[Any, ...]
    primitive: str
    ops: tuple[str, ...]
    op_ids: tuple[Any, ...] = ()
    tag: str = ""
    function: str = ""
    source_info: SourceInfo | None = None
    eqn: JaxprEqn | None = None


# -- custom differentiation rules


@dataclass(eq=False)
class CustomRuleStarted(Begin):
    """A user's custom differentiation rule is about to run (``engine.custom_jvp`` /
    ``custom_vjp``, emitted by ``engine/custom_derivatives.py``). Equations the rule
    emits have this span as an ancestor.

    ``rule_kind``: "jvp" (a ``custom_jvp`` rule), "fwd" or "bwd" (a ``custom_vjp``
    rule); ``function``: the custom function's name; ``rule``: the rule function's name;
    ``source_info``: where the rule is defined (file, first line, name); ``primitive``:
    "custom_jvp_call" or "custom_vjp_call"."""

    kind: ClassVar[str] = "custom_rule_started"
    rule_kind: str = ""
    function: str = ""
    rule: str = ""
    source_info: SourceInfo | None = None
    primitive: str = ""


@dataclass(eq=False)
class CustomRuleApplied(End):
    """The user's custom rule of the matching ``CustomRuleStarted`` returned (same
    fields; ``out_avals``: the types of what it produced, flattened)."""

    kind: ClassVar[str] = "custom_rule_applied"
    rule_kind: str = ""
    function: str = ""
    rule: str = ""
    source_info: SourceInfo | None = None
    primitive: str = ""
    out_avals: tuple[Any, ...] = ()


@dataclass(eq=False)
class RematDecision(Event):
    """Partial evaluation of a ``checkpoint`` (``remat2``) equation split its jaxpr by
    the policy (``engine/ad_checkpoint.py``): ``saved``: the known values kept as
    residuals, each ``(description, aval)`` as ``print_saved_residuals`` words it;
    ``recomputed``: the known equations copied into the backward (differentiated)
    jaxpr to compute again there; ``known_eqns``: those run now; ``policy``: its name."""

    kind: ClassVar[str] = "remat_decision"
    trace: int = 0
    policy: str = ""
    saved: tuple[Any, ...] = ()
    recomputed: tuple[Any, ...] = ()
    known_eqns: tuple[Any, ...] = ()


def event_types() -> dict[str, type[Event]]:
    """Every event class by its ``kind`` (subclasses declared elsewhere included)."""
    out: dict[str, type[Event]] = {}
    stack: list[type[Event]] = [Event]
    while stack:
        cls = stack.pop()
        out[cls.kind] = cls
        stack.extend(cls.__subclasses__())
    return out


# ---------------------------------------------------------------------------- listening

E = TypeVar("E", bound=Event)

active: list[Recording] = []  # every entered listener, any thread; mutate in place only
_all_threads: list[Recording] = []
_ids = itertools.count(1)
_generation = 0  # bumped when the last listener leaves: threads drop stale span stacks
_lock = threading.Lock()


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.listeners: list[Recording] = []
        self.stack: list[int] = []
        self.generation = _generation


_tls = _ThreadState()


class Recording:
    """A listener: ``with events.listen(kinds=...) as rec:`` records into ``rec.events``.

    Queries: ``of(kind)`` (events of a type, subclasses included), ``begin_of(call)`` /
    ``end_of(call)`` (a span's events), ``ancestors(event, kind=None)`` (the begin events
    of the spans enclosing ``event``, innermost first), ``traces`` ({trace id:
    TraceStarted}), ``trace_chain(trace_id)`` (a trace and the traces it computes on)."""

    def __init__(
        self,
        kinds: Iterable[type[Event] | str] | None = None,
        all_threads: bool = False,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.events: list[Event] = []
        self.all_threads = all_threads
        self.on_event = on_event
        self._kinds: tuple[type[Event], ...] | None = None
        if kinds is not None:
            table = event_types()
            self._kinds = tuple(table[k] if isinstance(k, str) else k for k in kinds)
        self._wants: dict[type, bool] = {}
        self._begins: dict[int, Begin] = {}
        self._ends: dict[int, End] = {}
        self.traces: dict[int, TraceStarted] = {}
        self._thread: int | None = None
        # the entering thread's own listener list and span stack (not the thread-local
        # object, whose attributes differ per reading thread)
        self._home: tuple[list[Recording], list[int]] | None = None
        self._entered = False

    def wants(self, cls: type[Event]) -> bool:
        w = self._wants.get(cls)
        if w is None:
            w = self._wants[cls] = self._kinds is None or issubclass(cls, self._kinds)
        return w

    def _receive(self, ev: Event) -> None:
        self.events.append(ev)
        if isinstance(ev, Begin):
            self._begins[ev.call] = ev
            if isinstance(ev, TraceStarted):
                self.traces[ev.trace] = ev
        elif isinstance(ev, End):
            self._ends[ev.call] = ev
        if self.on_event is not None:
            self.on_event(ev)

    # -- context manager
    def __enter__(self) -> Recording:
        if self._entered:
            raise RuntimeError("this Recording is already listening")
        self._entered = True
        self._thread = threading.get_ident()
        st = _state()
        self._home = (st.listeners, st.stack)
        with _lock:
            if self.all_threads:
                _all_threads.append(self)
            else:
                st.listeners.append(self)
            active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        global _generation
        with _lock:
            _remove(active, self)
            home = self._home
            if self.all_threads:
                _remove(_all_threads, self)
            elif home is not None:
                _remove(home[0], self)  # the entering thread's, wherever we exit
            if not active:
                _generation += 1
        here = threading.get_ident() == self._thread
        if home is not None and here and not home[0] and not _all_threads:
            home[1].clear()  # no listener left on this thread: no span to remember
        self._home = None
        self._entered = False

    # -- queries
    def of(self, kind: type[E] | str) -> list[E]:
        cls = event_types()[kind] if isinstance(kind, str) else kind
        return [e for e in self.events if isinstance(e, cls)]  # type: ignore[misc]

    def begin_of(self, call: int | None) -> Begin | None:
        return self._begins.get(call) if call is not None else None

    def end_of(self, call: int | None) -> End | None:
        return self._ends.get(call) if call is not None else None

    def ancestors(self, ev: Event, kind: type[E] | None = None) -> Iterator[E]:
        """The recorded begin events of the spans around ``ev``, innermost first (for a
        begin or end event, the spans around its own span)."""
        p = ev.parent
        seen = 0
        while p is not None and seen < 10_000:
            b = self._begins.get(p)
            if b is None:
                return
            if kind is None or isinstance(b, kind):
                yield b  # type: ignore[misc]
            p = b.parent
            seen += 1

    def trace_chain(self, trace: int | None) -> list[TraceStarted]:
        """The trace's TraceStarted, then those of the traces it computes on."""
        out: list[TraceStarted] = []
        while trace is not None and len(out) < 256:
            t = self.traces.get(trace)
            if t is None:
                break
            out.append(t)
            trace = t.parent_trace
        return out

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)


def _remove(lst: list[Recording], x: Recording) -> None:
    for i in range(len(lst) - 1, -1, -1):
        if lst[i] is x:
            del lst[i]
            return


def listen(
    kinds: Iterable[type[Event] | str] | None = None,
    *,
    all_threads: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> Recording:
    """A listener for the events of ``kinds`` (event classes or their ``kind`` strings;
    None: every event), emitted on the entering thread (or on every thread, with
    ``all_threads``). ``on_event(event)`` is called after each event is recorded."""
    return Recording(kinds, all_threads=all_threads, on_event=on_event)


# ---------------------------------------------------------------------------- emitting


def _state() -> _ThreadState:
    st = _tls
    if st.generation != _generation:
        st.stack.clear()
        st.generation = _generation
    return st


def _receivers(st: _ThreadState, cls: type[Event]) -> list[Recording]:
    rs = st.listeners
    if _all_threads:
        rs = rs + _all_threads
    return [r for r in rs if r.wants(cls)]


def _here(st: _ThreadState) -> bool:
    return bool(st.listeners or _all_threads)


def _deliver(
    st: _ThreadState, cls: type[Event], call: int, parent: int | None, fields: dict
) -> None:
    rs = _receivers(st, cls)
    if rs:
        ev = cls(call=call, parent=parent, thread=threading.get_ident(), **fields)
        for r in rs:
            r._receive(ev)


def emit(cls: type[Event], **fields: Any) -> int | None:
    """Emit a point event; returns its call id (None when no listener on this thread)."""
    st = _state()
    if not _here(st):
        return None
    call = next(_ids)
    _deliver(st, cls, call, st.stack[-1] if st.stack else None, fields)
    return call


def begin(cls: type[Begin], **fields: Any) -> int | None:
    """Open a span (emit its begin event); returns the call id to pass to ``end``."""
    st = _state()
    if not _here(st):
        return None
    call = next(_ids)
    parent = st.stack[-1] if st.stack else None
    st.stack.append(call)
    _deliver(st, cls, call, parent, fields)
    return call


def end(cls: type[End], call: int | None, **fields: Any) -> None:
    """Close span ``call`` (spans left open inside it, by a rule that raised, close too)."""
    if call is None:
        return
    st = _state()
    stack = st.stack
    if call in stack:
        while stack and stack.pop() != call:
            pass
    if _here(st):
        _deliver(st, cls, call, stack[-1] if stack else None, fields)


def current_call() -> int | None:
    """The innermost open span on this thread (None when none, or nobody listens)."""
    st = _state()
    return st.stack[-1] if st.stack else None


def trace_id(trace: Trace) -> int:
    """A process-unique id for a trace (assigned on first use)."""
    tid = trace.__dict__.get("_event_trace_id")
    if tid is None:
        tid = trace.__dict__["_event_trace_id"] = next(_ids)
    return tid


# ---------------------------------------------------------------------------- the engine's emit helpers
# Called by the interpreters past their ``if _listening:`` test; each computes its
# event's fields only when a listener on this thread wants the event.


def _aval(x: Any) -> Any:
    from .core import get_aval

    try:
        return get_aval(x)
    except TypeError:
        return None


def wanted(cls: type[Event]) -> bool:
    """Whether a listener on this thread wants events of ``cls``: an emitter whose
    fields are costly to compute checks this (after ``if _listening:``) first."""
    st = _state()
    return bool(_receivers(st, cls)) if _here(st) else False


_wanted = wanted


def trace_started(trace: Trace, jaxpr: Jaxpr | None = None) -> int | None:
    st = _state()
    if not _here(st):
        return None
    if not _receivers(st, TraceStarted):
        return begin(TraceStarted)  # the span still counts for ancestry
    parent = getattr(trace, "parent", None)
    return begin(
        TraceStarted,
        interpreter=getattr(trace, "interpreter", type(trace).__name__),
        trace=trace_id(trace),
        trace_type=type(trace).__name__,
        parent_trace=trace_id(parent) if parent is not None else None,
        name=getattr(trace, "debug_name", None),
        info=trace.event_info() if hasattr(trace, "event_info") else None,
        jaxpr=jaxpr,
    )


def trace_finished(
    trace: Trace, call: int | None, jaxpr: Any = None, completed: bool = True
) -> None:
    end(
        TraceFinished,
        call,
        interpreter=getattr(trace, "interpreter", type(trace).__name__),
        trace=trace_id(trace),
        jaxpr=jaxpr,
        completed=completed,
    )


def eqn_emitted(
    trace: Trace, eqn: JaxprEqn, interpreter: str = "jaxpr", origin: int | None = None
) -> None:
    if not _wanted(EqnEmitted):
        return
    emit(
        EqnEmitted,
        interpreter=interpreter,
        trace=trace_id(trace),
        eqn=eqn,
        primitive=eqn.primitive.name,
        source_info=eqn.source_info,
        origin=origin if origin is not None else current_call(),
    )


def rule_started(
    trace: Trace,
    primitive: Primitive,
    params: dict[str, Any],
    rule: str | None,
    inputs: Iterable[Any],
    in_avals: Iterable[Any] | None = None,
    *,
    zeros: Iterable[bool] | None = None,
    dims: Iterable[int | None] | None = None,
    known: Iterable[bool] | None = None,
    impl: Callable[..., Any] | None = None,
) -> int | None:
    st = _state()
    if not _here(st):
        return None
    if not _receivers(st, RuleStarted):
        return begin(RuleStarted)  # keep the span (for ancestry) without building fields
    from .core import current_source_info

    inputs = tuple(inputs)
    return begin(
        RuleStarted,
        interpreter=trace.interpreter,
        trace=trace_id(trace),
        primitive=primitive.name,
        params=params,
        rule=rule,
        inputs=inputs,
        in_avals=tuple(in_avals) if in_avals is not None else tuple(map(_aval, inputs)),
        zeros=tuple(zeros) if zeros is not None else None,
        dims=tuple(dims) if dims is not None else None,
        known=tuple(known) if known is not None else None,
        source_info=current_source_info(),
        rule_impl=_qualname(impl) if impl is not None else None,
    )


def _qualname(fn: Any) -> str:
    mod = getattr(fn, "__module__", None) or "?"
    return f"{mod}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def rule_applied(
    call: int | None,
    trace: Trace,
    primitive: Primitive,
    rule: str | None,
    outputs: Any,
    *,
    zeros: Iterable[bool] | None = None,
    dims: Any = None,
    known: Iterable[bool] | None = None,
) -> None:
    if call is None:
        return
    if not _wanted(RuleApplied):
        end(RuleApplied, call)
        return
    multi = primitive.multiple_results
    outs = tuple(outputs) if multi else (outputs,)
    if dims is not None:
        dims = tuple(dims) if multi else (dims,)
    end(
        RuleApplied,
        call,
        interpreter=trace.interpreter,
        trace=trace_id(trace),
        primitive=primitive.name,
        rule=rule,
        outputs=outs,
        out_avals=tuple(map(_aval, outs)),
        zeros=tuple(zeros) if zeros is not None else None,
        dims=dims,
        known=tuple(known) if known is not None else None,
    )
