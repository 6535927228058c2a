"""Partial evaluation: run what can be computed now (the "known" values, e.g. primals),
and record the rest (the "unknown" values, e.g. tangents) as a jaxpr. Known values used
by recorded equations become the jaxpr's constants: the residuals."""

from __future__ import annotations

from .. import core
from ..core import ClosedJaxpr, Jaxpr, JaxprEqn, Tracer, Var


class _EqnRecipe:
    __slots__ = ("primitive", "in_tracers", "params", "out_tracers", "source_info")

    def __init__(self, primitive, in_tracers, params, source_info):
        self.primitive, self.in_tracers, self.params = primitive, in_tracers, params
        self.source_info = source_info
        self.out_tracers = []


class PETracer(Tracer):
    """An unknown value. ``recipe`` is how it is made: ('arg',), ('const', value) or
    ('eqn', _EqnRecipe)."""

    __slots__ = ("_aval", "recipe")

    def __init__(self, trace, aval, recipe):
        self._trace, self._aval, self.recipe = trace, aval, recipe

    @property
    def aval(self):
        return self._aval


class PartialEvalTrace(core.Trace):
    """Known values are the parent trace's own values; unknown ones are PETracers."""

    listeners = []  # (trace, primitive, known: bool, params)

    def new_unknown(self, aval):
        return PETracer(self, aval, ("arg",))

    def is_unknown(self, x):
        if isinstance(x, PETracer) and x._trace is self:
            return True
        if isinstance(x, Tracer) and not x._trace.valid:
            raise core.escaped_tracer_error(x)
        return False

    def instantiate_const(self, x):
        if self.is_unknown(x):
            return x
        return PETracer(self, core.get_aval(x), ("const", x))

    def process_primitive(self, primitive, args, params):
        unknown = [self.is_unknown(x) for x in args]
        if not any(unknown):
            if PartialEvalTrace.listeners:
                for fn in PartialEvalTrace.listeners:
                    fn(self, primitive, True, params)
            with core.set_current_trace(self.parent):
                return primitive.bind(*args, **params)
        if PartialEvalTrace.listeners:
            for fn in PartialEvalTrace.listeners:
                fn(self, primitive, False, params)
        if primitive.partial_eval is not None:
            return primitive.partial_eval(self, args, unknown, params)
        return self.record(primitive, [self.instantiate_const(x) for x in args], params)

    def record(self, primitive, in_tracers, params):
        """Record an equation on unknown inputs; returns its unknown outputs."""
        out_avals = primitive.abstract_eval(*[t.aval for t in in_tracers], **params)
        recipe = _EqnRecipe(primitive, in_tracers, params, core.current_source_info())
        if primitive.multiple_results:
            outs = [PETracer(self, a, ("eqn", recipe)) for a in out_avals]
        else:
            outs = [PETracer(self, out_avals, ("eqn", recipe))]
        recipe.out_tracers = outs
        return outs if primitive.multiple_results else outs[0]

    def to_jaxpr(self, in_tracers, out_tracers):
        """The recorded work from ``in_tracers`` to ``out_tracers`` as a jaxpr whose
        constvars are the residuals; returns (Jaxpr, residual values)."""
        out_tracers = [self.instantiate_const(x) for x in out_tracers]
        var_of = {}
        constvars, consts, eqns = [], [], []
        const_ids = {}

        def var(t):
            v = var_of.get(id(t))
            if v is None:
                v = var_of[id(t)] = Var(t.aval)
            return v

        invars = [var(t) for t in in_tracers]
        in_ids = {id(t) for t in in_tracers}
        seen_recipes = set()
        for t in _toposort(out_tracers):
            kind = t.recipe[0]
            if kind == "arg":
                if id(t) not in in_ids:
                    raise core.escaped_tracer_error(t)
            elif kind == "const":
                val = t.recipe[1]
                cid = id(val)
                if cid in const_ids:
                    var_of[id(t)] = const_ids[cid]
                else:
                    v = var(t)
                    const_ids[cid] = v
                    constvars.append(v)
                    consts.append(val)
            else:
                r = t.recipe[1]
                if id(r) in seen_recipes:
                    continue
                seen_recipes.add(id(r))
                ins = [var(x) for x in r.in_tracers]
                outs = [var(x) for x in r.out_tracers]
                eqns.append(JaxprEqn(r.primitive, ins, outs, r.params, r.source_info))
        jaxpr = Jaxpr(constvars, invars, [var(t) for t in out_tracers], eqns)
        return jaxpr, consts


def _toposort(out_tracers):
    """Tracers in dependency order (inputs first), iteratively to survive deep graphs."""
    order, visited = [], set()
    stack = [(t, False) for t in reversed(out_tracers)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        if t.recipe[0] == "eqn":
            r = t.recipe[1]
            # all outputs of a multi-result equation come after all its inputs
            for x in reversed(r.in_tracers):
                if id(x) not in visited:
                    stack.append((x, False))
    return order


def partial_eval_jaxpr(closed, in_unknowns, instantiate=False):
    """Split a jaxpr into a known part, run now, and an unknown part, run later.

    Returns (known_jaxpr, unknown_jaxpr, out_unknowns, num_residuals):
    known_jaxpr: known inputs -> known outputs + residuals;
    unknown_jaxpr: residuals + unknown inputs -> unknown outputs.
    """
    from .tracing import JaxprTrace

    known_trace = JaxprTrace(debug_name=closed.jaxpr.debug_name)
    avals = closed.in_avals
    known_in = [known_trace.new_arg(a) for a, u in zip(avals, in_unknowns) if not u]
    pe = PartialEvalTrace(parent=known_trace)
    unknown_in = [pe.new_unknown(a) for a, u in zip(avals, in_unknowns) if u]
    it_k, it_u = iter(known_in), iter(unknown_in)
    args = [next(it_u) if u else next(it_k) for u in in_unknowns]
    try:
        with core.set_current_trace(pe):
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *args)
        if isinstance(instantiate, bool):
            instantiate = [instantiate] * len(outs)
        out_unknowns = [pe.is_unknown(x) or inst for x, inst in zip(outs, instantiate)]
        unknown_outs = [x for x, u in zip(outs, out_unknowns) if u]
        known_outs = [x for x, u in zip(outs, out_unknowns) if not u]
        ujaxpr, residuals = pe.to_jaxpr(unknown_in, unknown_outs)
    finally:
        pe.invalidate()
    try:
        with core.set_current_trace(known_trace):
            known_closed = known_trace.to_closed_jaxpr(known_in, known_outs + residuals)
    finally:
        known_trace.invalidate()
    # residuals become leading inputs of the unknown jaxpr
    ujaxpr = Jaxpr(
        [], ujaxpr.constvars + ujaxpr.invars, ujaxpr.outvars, ujaxpr.eqns, closed.jaxpr.debug_name
    )
    return known_closed, ClosedJaxpr(ujaxpr, []), out_unknowns, len(residuals)


def linearize_flat(flat_fun, primals):
    """JVP of ``flat_fun`` with known primals and unknown tangents, partially evaluated.

    Returns (primal outputs, linear ClosedJaxpr: tangents -> output tangents). The
    primal work runs now on the current trace; the tangent work is the jaxpr, whose
    constants are the residuals it needs from the primal computation."""
    from .jvp import jvp_flat, tangent_aval

    trace = PartialEvalTrace(parent=core.current_trace())
    tangents_in = [trace.new_unknown(tangent_aval(core.get_aval(p))) for p in primals]
    try:
        with core.set_current_trace(trace):
            primals_out, tangents_out = jvp_flat(flat_fun, primals, tangents_in)
        for p in primals_out:
            if trace.is_unknown(p):
                raise RuntimeError("a primal output depends on a tangent input (internal error)")
        jaxpr, residuals = trace.to_jaxpr(tangents_in, tangents_out)
    finally:
        trace.invalidate()
    return primals_out, ClosedJaxpr(jaxpr, residuals)
