"""Partial evaluation: run what can be computed now (the "known" values, e.g. primals),
and record the rest (the "unknown" values, e.g. tangents) as a jaxpr. Known values used
by recorded equations become the jaxpr's constants: the residuals."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import core, dtypes, events
from ..ad_util import Zero
from ..core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Tracer, Var
from ..events import active as _listening
from .jvp import jvp_flat, tangent_aval
from .tracing import JaxprTrace, _inlinable, _scalar_value

_recipe_order = itertools.count()


class _EqnRecipe:
    __slots__ = (
        "primitive",
        "in_tracers",
        "params",
        "out_tracers",
        "source_info",
        "origin",
        "order",
    )

    def __init__(self, primitive, in_tracers, params, source_info, origin=None):
        self.primitive, self.in_tracers, self.params = primitive, in_tracers, params
        self.source_info = source_info
        self.out_tracers = []
        self.origin = origin  # the event span that recorded it (when someone listens)
        # recording order: the jaxpr lists equations as they were recorded, as JAX's
        # linearize emits them (a dependency-first walk would reorder independent ones)
        self.order = next(_recipe_order)


class PETracer(Tracer):
    """An unknown value. ``recipe`` is how it is made: ('arg',), ('const', value) or
    ('eqn', _EqnRecipe)."""

    __slots__ = ("_aval", "recipe")

    def __init__(self, trace: PartialEvalTrace, aval: core.ShapedArray, recipe: tuple) -> None:
        self._trace, self._aval, self.recipe = trace, aval, recipe

    @property
    def aval(self) -> core.ShapedArray:
        return self._aval


# JAX's name for an unknown of partial evaluation (``pe.JaxprTracer``), which code telling
# tracers apart by their type's name (as JAX's primitives tutorial does) reads
PETracer.__name__ = PETracer.__qualname__ = "JaxprTracer"


class PartialEvalTrace(core.Trace):
    """Known values are the parent trace's own values; unknown ones are PETracers.

    Emits ``events.RuleStarted`` / ``RuleApplied`` around each bind (``rule`` None for
    known work run now, "partial_eval" for a primitive's own rule, "record" for an
    equation recorded for later) with a ``PartialEvalDecision`` inside; ``to_jaxpr``
    emits ``EqnEmitted`` for each recorded equation and ``ResidualsCreated``."""

    interpreter = "partial_eval"

    def new_unknown(self, aval: core.ShapedArray) -> PETracer:
        return PETracer(self, aval, ("arg",))

    def is_unknown(self, x: Any) -> bool:
        if isinstance(x, PETracer) and x._trace is self:
            return True
        if isinstance(x, Tracer) and not x._trace.valid:
            raise core.escaped_tracer_error(x)
        return False

    def instantiate_const(self, x: Any) -> PETracer:
        if self.is_unknown(x):
            return x
        return PETracer(self, core.get_aval(x), ("const", x))

    def process_primitive(
        self, primitive: core.Primitive, args: Sequence[Any], params: dict
    ) -> Any:
        unknown = [self.is_unknown(x) for x in args]
        if not any(unknown):
            if not _listening:
                with core.set_current_trace(self.parent):
                    return primitive.bind(*args, **params)
            call = self._decided(primitive, args, params, unknown, None)
            with core.set_current_trace(self.parent):
                out = primitive.bind(*args, **params)
            n = len(out) if primitive.multiple_results else 1
            events.rule_applied(call, self, primitive, None, out, known=[True] * n)
            return out
        rule = "partial_eval" if primitive.partial_eval is not None else "record"
        call = self._decided(primitive, args, params, unknown, rule) if _listening else None
        if primitive.partial_eval is not None:
            out = primitive.partial_eval(self, args, unknown, params)
        else:
            out = self.record(primitive, [self.instantiate_const(x) for x in args], params)
        if call is not None:
            outs = out if primitive.multiple_results else [out]
            events.rule_applied(
                call, self, primitive, rule, out, known=[not self.is_unknown(x) for x in outs]
            )
        return out

    def _decided(self, primitive, args, params, unknown, rule):
        """Open the rule's event span and announce the decision."""
        known = [not u for u in unknown]
        impl = primitive.partial_eval if rule == "partial_eval" else None
        call = events.rule_started(self, primitive, params, rule, args, known=known, impl=impl)
        if call is not None:
            events.emit(
                events.PartialEvalDecision,
                trace=events.trace_id(self),
                primitive=primitive.name,
                known=rule is None,
                in_known=tuple(known),
                residual_inputs=() if rule is None else tuple(i for i, k in enumerate(known) if k),
            )
        return call

    def record(self, primitive: core.Primitive, in_tracers: Sequence[Any], params: dict) -> Any:
        """Record an equation on unknown inputs; returns its unknown outputs."""
        out_avals = primitive.abstract_eval(*[t.aval for t in in_tracers], **params)
        origin = events.current_call() if _listening else None
        recipe = _EqnRecipe(primitive, in_tracers, params, core.current_source_info(), origin)
        if primitive.multiple_results:
            outs = [PETracer(self, a, ("eqn", recipe)) for a in out_avals]
        else:
            outs = [PETracer(self, out_avals, ("eqn", recipe))]
        recipe.out_tracers = outs
        if getattr(primitive, "effectful", False):  # (kept though no output is read)
            self.__dict__.setdefault("effect_recipes", []).append(recipe)
        return outs if primitive.multiple_results else outs[0]

    def to_jaxpr(
        self, in_tracers: Sequence[Any], out_tracers: Sequence[Any]
    ) -> tuple[Jaxpr, list[Any]]:
        """The recorded work from ``in_tracers`` to ``out_tracers`` as a jaxpr whose
        constvars are the residuals; returns (Jaxpr, residual values)."""
        out_tracers = [self.instantiate_const(x) for x in out_tracers]
        var_of: dict[int, Var] = {}
        constvars: list[Var] = []
        consts: list[Any] = []
        eqns: list[JaxprEqn] = []
        const_ids: dict[int, Var] = {}

        def var(t):
            v = var_of.get(id(t))
            if v is None:
                v = var_of[id(t)] = Var(t.aval)
            return v

        invars = [var(t) for t in in_tracers]
        in_ids = {id(t) for t in in_tracers}

        def atom(t):
            v = var_of.get(id(t))
            if v is not None:
                return v
            kind = t.recipe[0]
            if kind == "arg":
                raise core.escaped_tracer_error(t)
            assert kind == "const"
            val = t.recipe[1]
            cid = id(val)
            if not isinstance(val, Tracer) and t.aval.shape == () and _inlinable(val):
                # a known scalar stays a literal (``div t 128.0``), not a residual,
                # as JAX's partial evaluation writes it
                v = var_of[id(t)] = Literal(_scalar_value(val, t.aval), t.aval)  # type: ignore[assignment]
            elif cid in const_ids:
                v = var_of[id(t)] = const_ids[cid]
            else:
                v = var(t)
                const_ids[cid] = v
                constvars.append(v)
                consts.append(val)
            return v

        recipes = {}
        effects = self.__dict__.get("effect_recipes", ())
        for r in effects:  # a ref write nobody reads is still part of the program
            recipes[id(r)] = r
        roots = list(out_tracers) + [t for r in effects for t in r.in_tracers]
        for t in _toposort([t for t in roots if isinstance(t, PETracer)]):
            if t.recipe[0] == "arg" and id(t) not in in_ids:
                raise core.escaped_tracer_error(t)
            if t.recipe[0] == "eqn":
                recipes[id(t.recipe[1])] = t.recipe[1]
        for r in sorted(recipes.values(), key=lambda r: r.order):
            ins: list[Any] = [atom(x) for x in r.in_tracers]
            outs = [var(x) for x in r.out_tracers]
            eqn = JaxprEqn(r.primitive, ins, outs, r.params, r.source_info)
            eqns.append(eqn)
            if _listening:
                events.eqn_emitted(self, eqn, "partial_eval", r.origin)
        outvars = [atom(t) for t in out_tracers]
        jaxpr = Jaxpr(constvars, invars, outvars, eqns)
        # as JAX's tangent trace (auto DCE): dead equations and the residuals only they
        # read go before anyone is told which residuals were made
        jaxpr, consts = dce_consts(jaxpr, consts)
        if _listening:
            events.emit(
                events.ResidualsCreated,
                trace=events.trace_id(self),
                values=tuple(consts),
                avals=tuple(v.aval for v in jaxpr.constvars),
            )
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


def partial_eval_jaxpr(
    closed: ClosedJaxpr, in_unknowns: Sequence[bool], instantiate: bool | Sequence[bool] = False
) -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
    """Split a jaxpr into a known part, run now, and an unknown part, run later.

    Returns (known_jaxpr, unknown_jaxpr, out_unknowns, num_residuals):
    known_jaxpr: known inputs -> known outputs + residuals;
    unknown_jaxpr: residuals + unknown inputs -> unknown outputs.
    """
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
    # as JAX's linearize_jaxpr: the known side keeps its outputs, not its dead equations
    kj, kconsts = dce_consts(known_closed.jaxpr, known_closed.consts)
    known_closed = ClosedJaxpr(kj, kconsts)
    # residuals become leading inputs of the unknown jaxpr
    ujaxpr = Jaxpr(
        [], ujaxpr.constvars + ujaxpr.invars, ujaxpr.outvars, ujaxpr.eqns, closed.jaxpr.debug_name
    )
    return known_closed, ClosedJaxpr(ujaxpr, []), out_unknowns, len(residuals)


def forward_input_residuals(
    known: ClosedJaxpr, num_res: int, consts: Sequence[Any] = ()
) -> tuple[ClosedJaxpr, list]:
    """Drop the residual outputs of ``known`` that are its own inputs, or constants whose
    values are among ``consts`` (the split jaxpr's own, as JAX's in_fwd_res). Returns the
    jaxpr and, per residual, its index in ``[*consts, *inputs]`` (None when still an
    output)."""
    j = known.jaxpr
    n_out = len(j.outvars) - num_res
    where = {v: len(consts) + i for i, v in enumerate(j.invars)}
    if consts and j.constvars:
        ids = {id(c): i for i, c in enumerate(consts)}
        for v, c in zip(j.constvars, known.consts):
            if id(c) in ids:
                where[v] = ids[id(c)]
    fwd = [where.get(v) if type(v) is Var else None for v in j.outvars[n_out:]]
    if all(f is None for f in fwd):
        return known, fwd
    outvars = j.outvars[:n_out] + [v for v, f in zip(j.outvars[n_out:], fwd) if f is None]
    new = Jaxpr(j.constvars, j.invars, outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(new, known.consts), fwd


def forward_input_outputs(known: ClosedJaxpr, num_out: int) -> tuple[ClosedJaxpr, list]:
    """Drop the first ``num_out`` outputs of ``known`` that are its own inputs (JAX's
    input-to-output forwarding of a jit's known outputs). Returns the jaxpr and, per one
    of those outputs, the index of the input it is (None when still an output)."""
    j = known.jaxpr
    where = {v: i for i, v in enumerate(j.invars)}
    fwd = [where.get(v) if type(v) is Var else None for v in j.outvars[:num_out]]
    if all(f is None for f in fwd):
        return known, fwd
    outvars = [v for v, f in zip(j.outvars[:num_out], fwd) if f is None] + j.outvars[num_out:]
    new = Jaxpr(j.constvars, j.invars, outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(new, known.consts), fwd


def forward_output_residuals(known: ClosedJaxpr, num_out: int) -> tuple[ClosedJaxpr, list]:
    """Drop the residual outputs of ``known`` (those after its first ``num_out``) that
    are one of those outputs. Returns the jaxpr and, per residual, the index of the
    output it is (None when still an output of its own)."""
    j = known.jaxpr
    first: dict[Var, int] = {}
    for i, v in enumerate(j.outvars[:num_out]):
        if type(v) is Var:
            first.setdefault(v, i)
    fwd = [first.get(v) if type(v) is Var else None for v in j.outvars[num_out:]]
    if all(f is None for f in fwd):
        return known, fwd
    outvars = j.outvars[:num_out] + [v for v, f in zip(j.outvars[num_out:], fwd) if f is None]
    new = Jaxpr(j.constvars, j.invars, outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(new, known.consts), fwd


def linearize_flat(
    flat_fun: Callable[..., Sequence[Any]], primals: Sequence[Any]
) -> tuple[list[Any], ClosedJaxpr]:
    """JVP of ``flat_fun`` with known primals and unknown tangents, partially evaluated.

    Returns (primal outputs, linear ClosedJaxpr: tangents -> output tangents). The
    primal work runs now on the current trace; the tangent work is the jaxpr, whose
    constants are the residuals it needs from the primal computation."""
    trace = PartialEvalTrace(parent=core.current_trace())
    tangents_in = [trace.new_unknown(tangent_aval(core.get_aval(p))) for p in primals]
    # an integer primal's float0 tangent is a symbolic zero inside (as JAX's linearize);
    # the linear jaxpr still takes it as an input
    given = [Zero(t.aval) if t.aval.dtype == dtypes.float0 else t for t in tangents_in]
    try:
        with core.set_current_trace(trace):
            primals_out, tangents_out = jvp_flat(flat_fun, primals, given, linearize_trace=trace)
        for p in primals_out:
            if trace.is_unknown(p):
                raise RuntimeError("a primal output depends on a tangent input (internal error)")
        jaxpr, residuals = trace.to_jaxpr(tangents_in, tangents_out)
    finally:
        trace.invalidate()
    return primals_out, ClosedJaxpr(jaxpr, residuals)


# ---------------------------------------------------------------------------- dead code

# primitive -> rule(used_outputs, eqn) -> (used_inputs, new eqn or None): a higher-order
# primitive drops the outputs nothing reads from its sub-jaxprs (scan's unused per-step
# tangents), as JAX's dce_rules
DceRule = Callable[[list[bool], JaxprEqn], tuple[list[bool], "JaxprEqn | None"]]
dce_rules: dict[core.Primitive, DceRule] = {}

# equations kept even when nothing reads their outputs (they act on the world)
_EFFECTFUL = frozenset({"io_callback", "debug_callback", "debug_print", "dce_sink"})


def _own_effects(eqn: JaxprEqn) -> bool:
    return eqn.primitive.name in _EFFECTFUL or getattr(eqn.primitive, "effectful", False)


def has_effects(eqn: JaxprEqn) -> bool:
    """Whether ``eqn`` (or an equation of one of its sub-jaxprs) has a side effect."""
    return _own_effects(eqn) or any(
        isinstance(j := getattr(sub, "jaxpr", sub), Jaxpr)
        and core.any_nested_eqn(j, _own_effects, _effects_memo)
        for sub in eqn.primitive.subjaxprs(eqn.params)
    )


_effects_memo: weakref.WeakKeyDictionary[Jaxpr, bool] = weakref.WeakKeyDictionary()


def dce_jaxpr(
    jaxpr: Jaxpr, used_outputs: Sequence[bool], instantiate: bool | Sequence[bool] = False
) -> tuple[Jaxpr, list[bool]]:
    """Drop the outputs not in ``used_outputs`` and every equation and input nothing
    left reads (inputs named by ``instantiate`` are kept). Returns (the jaxpr, its
    constvars unchanged, and which inputs it kept)."""
    if isinstance(instantiate, bool):
        instantiate = [instantiate] * len(jaxpr.invars)
    # memoized per jaxpr, as JAX's (weakref_lru_cache): two calls of one nested jit
    # pruned alike share their jaxpr, printed once (``let inner = ...``)
    key = (tuple(used_outputs), tuple(instantiate))
    memo = _dce_memo.get(jaxpr)
    if memo is None:
        memo = _dce_memo[jaxpr] = {}
    hit = memo.get(key)
    if hit is None:
        outvars = [v for v, u in zip(jaxpr.outvars, used_outputs) if u]
        eqns, live, _ = dce_eqns(jaxpr.eqns, outvars)
        used = [v in live or inst for v, inst in zip(jaxpr.invars, instantiate)]
        invars = [v for v, u in zip(jaxpr.invars, used) if u]
        hit = memo[key] = (Jaxpr(jaxpr.constvars, invars, outvars, eqns, jaxpr.debug_name), used)
    return hit[0], list(hit[1])


_dce_memo: weakref.WeakKeyDictionary[Jaxpr, dict] = weakref.WeakKeyDictionary()


def dce_consts(jaxpr: Jaxpr, consts: Sequence[Any]) -> tuple[Jaxpr, list[Any]]:
    """Every output and input kept; constvars (residuals) that nothing reads any more
    dropped with their values, as JAX prunes a linearized jaxpr's residuals."""
    eqns, live, _ = dce_eqns(jaxpr.eqns, jaxpr.outvars)
    keep = [v in live for v in jaxpr.constvars]
    new = Jaxpr(
        [v for v, k in zip(jaxpr.constvars, keep) if k],
        jaxpr.invars,
        jaxpr.outvars,
        eqns,
        jaxpr.debug_name,
    )
    return new, [c for c, k in zip(consts, keep) if k]


def _dce_changed(eqn: JaxprEqn, new: JaxprEqn) -> bool:
    """Whether a DCE rule dropped anything (else the original equation stays, the one
    listeners were told about)."""
    if len(new.invars) != len(eqn.invars) or len(new.outvars) != len(eqn.outvars):
        return True
    rule = eqn.primitive.subjaxprs_rule
    if rule is None:
        return False
    subs = zip(rule(eqn.params), rule(new.params))
    return any(_jaxpr_of(a).eqns != _jaxpr_of(b).eqns for a, b in subs)


def _jaxpr_of(sub: Any) -> Jaxpr:
    return sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub


def dce_eqns(
    eqns: Sequence[JaxprEqn], outvars: Sequence[Any]
) -> tuple[list[JaxprEqn], set, list[int]]:
    """JAX's dead-code walk (``_dce_jaxpr``) over ``eqns``, last to first, from the
    ``outvars`` in use: an equation nothing reads goes unless it has effects; one with a
    DCE rule (a nested jit, cond, scan, remat, custom_jvp/vjp call) is replaced by what
    the rule makes of it, which prunes its sub-jaxprs and can stop reading an input.
    Returns (the equations kept, the variables read, each kept equation's index in
    ``eqns``). An equation the rule left as it was stays the same object (the one
    listeners were told about); ``nested_eqn_indices`` maps a replaced one's
    sub-jaxprs back to the original's."""
    live = {v for v in outvars if type(v) is Var}
    kept: list[JaxprEqn] = []
    indices: list[int] = []
    for i in range(len(eqns) - 1, -1, -1):
        eqn = eqns[i]
        used = [v in live for v in eqn.outvars]
        if not any(used) and not has_effects(eqn):
            continue
        if eqn.primitive in dce_rules:
            # As JAX's: a rule runs even when every output is used, so the sub-jaxprs lose
            # their dead equations (a cond branch's unused empty2 residual slot) and a
            # nested call the inputs only those read; and when none is but it has effects
            # (only the effects stay). Effects stay live.
            used_in, new = dce_rules[eqn.primitive](used, eqn)
            if new is not None:
                live.update(v for v, u in zip(eqn.invars, used_in) if u and type(v) is Var)
                kept.append(new if _dce_changed(eqn, new) else eqn)
                indices.append(i)
                continue
        live.update(v for v in eqn.invars if type(v) is Var)
        kept.append(eqn)
        indices.append(i)
    kept.reverse()
    indices.reverse()
    return kept, live, indices


def nested_eqn_indices(old: JaxprEqn, new: JaxprEqn) -> dict[Jaxpr, tuple[int, ...]]:
    """For each sub-jaxpr of ``new`` (a DCE rule's rewrite of ``old``) that lost
    equations, at any depth: each of its equations' index in ``old``'s matching
    sub-jaxpr. DCE only removes, so a kept equation is the next one of the original's
    with its primitive that shares an output with it (or that has no outputs)."""
    out: dict[Jaxpr, tuple[int, ...]] = {}
    rule = old.primitive.subjaxprs_rule
    if rule is None or new is old:
        return out
    for a, b in zip(rule(old.params), rule(new.params)):
        ja, jb = _jaxpr_of(a), _jaxpr_of(b)
        if ja is jb or not isinstance(jb, Jaxpr) or jb in out:
            continue
        idx: list[int] = []
        k = 0
        for e in jb.eqns:
            while k < len(ja.eqns) and not _same_eqn(ja.eqns[k], e):
                k += 1
            if k == len(ja.eqns):  # not a pure removal: no mapping for this one
                break
            idx.append(k)
            out.update(nested_eqn_indices(ja.eqns[k], e))
            k += 1
        else:
            if len(idx) != len(ja.eqns):
                out[jb] = tuple(idx)
    return out


def _same_eqn(old: JaxprEqn, new: JaxprEqn) -> bool:
    if old is new:
        return True
    if old.primitive is not new.primitive:
        return False
    if not new.outvars:
        return not old.outvars and old.source_info is new.source_info
    outs = set(old.outvars)
    return any(v in outs for v in new.outvars)
