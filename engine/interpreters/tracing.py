"""Tracing a Python function into a jaxpr: every primitive bound on a ``JaxprTrace``
becomes an equation, with the user's source line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import core, dtypes, events
from ..config import config
from ..core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Tracer, Var
from ..events import active as _listening

# primitive -> rule(args, params): the value an equation on host constants (NumPy values,
# Python scalars) has, or None to record the equation; as JAX's const_fold_rules, so
# such an equation never appears in a jaxpr
const_fold_rules: dict[core.Primitive, Callable[[Sequence[Any], dict], Any]] = {}


class JaxprTracer(Tracer):
    # ``aval`` a slot, not a property: the numpy layer reads it several times an op
    __slots__ = ("aval", "var")
    aval: core.ShapedArray

    def __init__(self, trace: JaxprTrace, aval: core.ShapedArray, var: Var) -> None:
        self._trace, self.aval, self.var = trace, aval, var

    def __repr__(self) -> str:
        return f"JitTracer({self.aval.str_long()})"


class JaxprTrace(core.Trace):
    """Records primitives into equations. Values from outside (closed-over arrays or
    tracers of enclosing transformations) become constants of the jaxpr.

    Emits ``events.EqnEmitted`` for each equation recorded; its ``TraceFinished`` carries
    the ClosedJaxpr built (or, when tracing raised, the equations recorded so far)."""

    interpreter = "jaxpr"

    def __init__(self, debug_name: str | None = None) -> None:
        self.eqns: list[JaxprEqn] = []
        self.invars: list[Var] = []
        self.const_vars: dict[int, tuple[Var, Any]] = {}  # id(value) -> (Var, value)
        self.debug_name = debug_name
        self.result: ClosedJaxpr | None = None
        super().__init__(parent=None)

    def new_arg(self, aval: core.ShapedArray) -> JaxprTracer:
        v = Var(aval)
        self.invars.append(v)
        return JaxprTracer(self, aval, v)

    def to_atom(self, x: Any) -> Var | Literal:
        if type(x) is np.ndarray and not x.shape:  # a scalar constant: the common literal
            aval = core.get_aval(x)
            return Literal(_scalar_value(x, aval), aval)
        if isinstance(x, JaxprTracer) and x._trace is self:
            return x.var
        if isinstance(x, Tracer):
            if not x._trace.valid:
                raise core.escaped_tracer_error(x)
            if isinstance(x, JaxprTracer) and not x._trace.valid:
                raise core.escaped_tracer_error(x)
            return self._const_var(x, x.aval)
        aval = core.get_aval(x)
        if aval.shape == () and _inlinable(x):
            return Literal(_scalar_value(x, aval), aval)
        return self._const_var(x, aval)

    def _const_var(self, x, aval):
        entry = self.const_vars.get(id(x))
        if entry is None:
            entry = self.const_vars[id(x)] = (Var(aval), x)
        return entry[0]

    def process_primitive(
        self, primitive: core.Primitive, args: Sequence[Any], params: dict
    ) -> Any:
        fold = const_fold_rules.get(primitive)
        if fold is not None:
            folded = fold(args, params)
            if folded is not None:
                return folded
        atoms = [
            x.var if type(x) is JaxprTracer and x._trace is self else self.to_atom(x) for x in args
        ]
        out_avals = primitive.abstract_eval(*[a.aval for a in atoms], **params)
        src = core.current_source_info(skip=1)  # this frame is the engine's
        if primitive.multiple_results:
            outvars = [Var(a) for a in out_avals]
            outs: Any = [JaxprTracer(self, a, v) for a, v in zip(out_avals, outvars)]
        else:
            var = Var(out_avals)
            outvars = [var]
            outs = JaxprTracer(self, out_avals, var)
        eqn = JaxprEqn(primitive, atoms, outvars, params, src)
        self.eqns.append(eqn)
        if _listening:
            events.eqn_emitted(self, eqn)
        return outs

    def partial_jaxpr(self) -> Jaxpr:
        """What has been recorded so far, as a Jaxpr without outputs."""
        consts = [v for v, _ in self.const_vars.values()]
        return Jaxpr(consts, list(self.invars), [], list(self.eqns), self.debug_name)

    def invalidate(self) -> None:
        if self.valid and _listening:
            done = self.result is not None
            jaxpr: Any = self.result
            if not done and events.wanted(events.TraceFinished):
                jaxpr = self.partial_jaxpr()
            events.trace_finished(self, self._event_call, jaxpr, done)
        self.valid = False

    def to_closed_jaxpr(self, in_tracers: Sequence[Any], outs: Sequence[Any]) -> ClosedJaxpr:
        outvars = [self.to_atom(x) for x in outs]
        constvars = [v for v, _ in self.const_vars.values()]
        consts = [x for _, x in self.const_vars.values()]
        jaxpr = Jaxpr(
            constvars,
            [t.var for t in in_tracers],
            outvars,
            _drop_unused(self.eqns, outvars),
            self.debug_name,
        )
        self.result = ClosedJaxpr(jaxpr, consts)
        return self.result


def _drop_unused(eqns, outvars):
    """Mark outputs nobody reads as ``_`` (as JAX prints them). Equations are kept:
    they were traced, and a learner should see them."""
    used = {v for v in outvars if type(v) is Var}
    for e in eqns:
        used.update(v for v in e.invars if type(v) is Var)
    for e in eqns:
        if any(v not in used for v in e.outvars):
            e.outvars = [v if v in used else core.UnreadVar(v.aval) for v in e.outvars]
    return eqns


def _inlinable(x):
    if dtypes.is_python_scalar(x) or isinstance(x, (np.generic, np.ndarray, core.WeakScalar)):
        return True
    # a concrete engine Array (typed keys stay constants, as in JAX)
    return hasattr(x, "_buf") and not dtypes.is_extended(x.aval.dtype)


def _scalar_value(x, aval):
    """A literal's value: a weakly typed scalar stays weak when the jaxpr is re-run.
    A weak Python float keeps its unrounded value, as JAX's literals do."""
    if aval.weak_type and dtypes.is_inexact(aval.dtype) and not dtypes.is_complex(aval.dtype):
        raw = x.value if type(x) is core.WeakScalar else x
        if type(raw) is float:
            return core.WeakScalar(raw, aval.dtype)
    val = np.asarray(x).astype(aval.dtype)
    if aval.weak_type:
        return core.WeakScalar(val.item(), aval.dtype)
    return val


def trace_to_jaxpr(
    flat_fun: Callable[..., Sequence[Any]],
    in_avals: Sequence[core.ShapedArray],
    debug_name: str | None = None,
) -> ClosedJaxpr:
    """Trace ``flat_fun`` (flat list of arrays -> flat list of arrays) on abstract
    inputs. Returns the ClosedJaxpr; the trace is invalidated so leaked tracers are caught."""
    trace = JaxprTrace(debug_name)
    in_tracers = [trace.new_arg(a) for a in in_avals]
    try:
        with core.set_current_trace(trace):
            outs = flat_fun(*in_tracers)
        closed = trace.to_closed_jaxpr(in_tracers, outs)
    finally:
        trace.invalidate()
    if getattr(config, "jax_enable_checks", False):  # engine/environment.py
        core.check_jaxpr(closed.jaxpr)
    if config.jax_check_tracer_leaks:  # engine/debugging.py
        from ..debugging import check_leaked_tracers

        del in_tracers, outs
        check_leaked_tracers(trace, debug_name)
    return closed


def convert_constvars_to_invars(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """(consts; args) -> (; consts + args): how jit binds a jaxpr that closed over values."""
    j = closed.jaxpr
    if not j.constvars:
        return closed, []
    return ClosedJaxpr(
        Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_name), []
    ), closed.consts
