"""Forward-mode differentiation: each value carries a tangent, each primitive's JVP rule
computes the output tangent. Tangents that are known to be zero stay symbolic (``Zero``)
so no work is spent on them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .. import core, dtypes, events
from ..ad_util import Zero, add_tangents, instantiate, zeros_like_aval  # noqa: F401
from ..core import Tracer
from ..events import active as _listening


def tangent_aval(aval: core.ShapedArray) -> core.ShapedArray:
    """Integers and bools have float0 tangents, as in JAX."""
    if dtypes.is_inexact(aval.dtype):
        return aval
    return aval.update(dtype=dtypes.float0, weak_type=False)


class _RuleContext(threading.local):
    linearizing = False


_rules = _RuleContext()


def linearizing() -> bool:
    """Whether the JVP rule running now is linearizing (grad, vjp, linearize): jit, cond
    and scan then differentiate their bodies as JAX's linearize rules do, with tangents
    computed without the tangent inputs as symbolic zeros. Set around the rules of
    higher-order primitives (those with sub-jaxprs) only, the ones that read it: the
    rule of a first-order primitive runs with no per-equation bookkeeping."""
    return _rules.linearizing


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any) -> None:
        self._trace, self.primal, self.tangent = trace, primal, tangent

    @property
    def aval(self) -> core.ShapedArray:
        return core.get_aval(self.primal)

    def to_concrete_value(self) -> Any:
        return core.concrete_or_none(self.primal)

    def __repr__(self) -> str:
        # As JAX's: under grad the tangent is being linearized (a partial-eval tracer).
        tangent = self.tangent
        if getattr(getattr(tangent, "_trace", None), "interpreter", "") == "partial_eval":
            return f"GradTracer(primal={self.primal!s}, typeof(tangent)={tangent.aval.str_short()})"
        return f"JVPTracer(primal={self.primal!s}, tangent={tangent!s})"


class LinearizeTracer(JVPTracer):
    """A JVPTracer whose tangent is being linearized (under grad, vjp, linearize): JAX's
    ``ad.LinearizeTracer``, a type of its own."""

    __slots__ = ()


# Their public home is ``engine.interpreters.ad``, as JAX's ``ad.JVPTracer`` (code that
# tells tracers apart by their type's name, as JAX's primitives tutorial does, sees it so).
JVPTracer.__module__ = LinearizeTracer.__module__ = "engine.interpreters.ad"


class JVPTrace(core.Trace):
    """Each value is a (primal, tangent) pair; primitives run their JVP rules.

    Emits ``events.RuleStarted`` / ``RuleApplied`` around each bind (``rule`` "jvp", or
    None when every tangent is a symbolic zero and the bind goes to the parent as is)."""

    interpreter = "jvp"
    # set when the tangents are being linearized (grad, vjp, linearize): whether a tangent
    # was computed without the tangent inputs (then it is a symbolic zero, as in JAX)
    symbolic_zero: Callable[[Any], bool] | None = None

    def lift(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, JVPTracer) and x._trace is self:
            return x.primal, x.tangent
        if isinstance(x, Tracer) and not x._trace.valid:
            raise core.escaped_tracer_error(x)
        return x, Zero(tangent_aval(core.get_aval(x)))

    def process_primitive(
        self, primitive: core.Primitive, args: Sequence[Any], params: dict
    ) -> Any:
        primals, tangents = zip(*map(self.lift, args)) if args else ((), ())
        # (a new ref gets a tangent ref even from a constant, as in JAX)
        all_zero = all(type(t) is Zero for t in tangents) and not getattr(
            primitive, "always_jvp", False
        )
        call = None
        if _listening:
            call = events.rule_started(
                self,
                primitive,
                params,
                None if all_zero else "jvp",
                primals,
                zeros=[type(t) is Zero for t in tangents],
                impl=None if all_zero else primitive.jvp,
            )
        if all_zero:
            with core.set_current_trace(self.parent):
                out = primitive.bind(*primals, **params)
            if call is not None:
                n = len(out) if primitive.multiple_results else 1
                events.rule_applied(call, self, primitive, None, out, zeros=[True] * n)
            return out
        rule = primitive.jvp
        if rule is None:
            raise NotImplementedError(
                f"Differentiation rule for '{primitive.name}' not implemented"
            )
        if primitive.subjaxprs_rule is None:  # (a first-order rule: it never reads it)
            with core.set_current_trace(self.parent):
                primal_out, tangent_out = rule(primals, tangents, **params)
        else:
            for t in tangents if self.symbolic_zero is not None else ():  # (refs: engine/state)
                if type(t) is not Zero and getattr(type(getattr(t, "aval", None)), "is_ref", False):
                    raise NotImplementedError(
                        f"differentiating '{primitive.name}' over an array ref it takes or "
                        "closes over is not supported yet (read the ref's value outside it, "
                        "or pass values in and out of the loop or branch)"
                    )
            prev, _rules.linearizing = _rules.linearizing, self.symbolic_zero is not None
            try:
                with core.set_current_trace(self.parent):
                    primal_out, tangent_out = rule(primals, tangents, **params)
            finally:
                _rules.linearizing = prev
        if call is not None:
            t_outs = tangent_out if primitive.multiple_results else [tangent_out]
            events.rule_applied(
                call, self, primitive, "jvp", primal_out, zeros=[type(t) is Zero for t in t_outs]
            )
        if primitive.multiple_results:
            return [self.pack(p, t) for p, t in zip(primal_out, tangent_out)]
        return self.pack(primal_out, tangent_out)

    def pack(self, primal: Any, tangent: Any) -> Any:
        if type(tangent) is Zero:
            return primal
        if self.symbolic_zero is not None:
            if self.symbolic_zero(tangent):
                # As JAX's linearize: a tangent computed without the tangent inputs
                # (integer_pow y=0's zeros) is a symbolic zero, so later primitives are
                # not differentiated.
                return primal
            return LinearizeTracer(self, primal, tangent)
        return JVPTracer(self, primal, tangent)


def jvp_flat(
    flat_fun: Callable[..., Sequence[Any]],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    instantiate_zeros: bool = True,
    linearize_trace: Any = None,
) -> tuple[list[Any], list[Any]]:
    """Run ``flat_fun`` on (primal, tangent) pairs; tangents may be ``Zero``. With
    ``linearize_trace`` (the partial evaluation trace whose unknowns are the tangents),
    tangents that do not depend on the tangent inputs become symbolic zeros."""
    trace = JVPTrace(parent=core.current_trace())
    if linearize_trace is not None:
        trace.symbolic_zero = lambda t: not linearize_trace.is_unknown(t)
    kind = JVPTracer if linearize_trace is None else LinearizeTracer
    in_tracers = [
        kind(trace, p, t) if type(t) is not Zero else p for p, t in zip(primals, tangents)
    ]
    try:
        with core.set_current_trace(trace):
            outs = flat_fun(*in_tracers)
        primals_out, tangents_out = [], []
        for x in outs:
            p, t = trace.lift(x)
            primals_out.append(p)
            tangents_out.append(instantiate(t) if instantiate_zeros else t)
    finally:
        trace.invalidate()
    return primals_out, tangents_out


# ---------------------------------------------------------------------------- rule helpers


def defjvp(primitive: core.Primitive, *jvp_fns: Callable[..., Any] | None) -> Callable[..., Any]:
    """A JVP rule from one function per operand: ``fn(tangent, *primals, **params)``
    gives that operand's contribution to the output tangent (None: not differentiable)."""

    def rule(primals, tangents, **params):
        ans = primitive.bind(*primals, **params)
        out = Zero(tangent_aval(core.get_aval(ans)))
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and type(t) is not Zero:
                out = add_tangents(out, fn(t, *primals, **params))
        return ans, out

    primitive.def_jvp(rule)
    return rule


def defjvp2(primitive: core.Primitive, *jvp_fns: Callable[..., Any] | None) -> Callable[..., Any]:
    """Like defjvp, but each function also receives the primal output first:
    ``fn(tangent, ans, *primals, **params)``."""

    def rule(primals, tangents, **params):
        ans = primitive.bind(*primals, **params)
        out = Zero(tangent_aval(core.get_aval(ans)))
        for fn, t in zip(jvp_fns, tangents):
            if fn is not None and type(t) is not Zero:
                out = add_tangents(out, fn(t, ans, *primals, **params))
        return ans, out

    primitive.def_jvp(rule)
    return rule


def deflinear(
    primitive: core.Primitive, transpose_rule: Callable[..., Any] | None = None
) -> Callable[..., Any]:
    """A primitive linear in all operands: its JVP applies it to the tangents."""

    def rule(primals, tangents, **params):
        ans = primitive.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            t_out = (
                Zero(tangent_aval(core.get_aval(ans)))
                if not primitive.multiple_results
                else [Zero(tangent_aval(core.get_aval(a))) for a in ans]
            )
            return ans, t_out
        return ans, primitive.bind(*map(instantiate, tangents), **params)

    primitive.def_jvp(rule)
    if transpose_rule is not None:
        primitive.def_transpose(transpose_rule)
    return rule


def zero_jvp(primitive: core.Primitive) -> Callable[..., Any]:
    """Piecewise-constant primitives (floor, sign, comparisons): zero derivative."""

    def rule(primals, tangents, **params):
        ans = primitive.bind(*primals, **params)
        if primitive.multiple_results:
            return ans, [Zero(tangent_aval(core.get_aval(a))) for a in ans]
        return ans, Zero(tangent_aval(core.get_aval(ans)))

    primitive.def_jvp(rule)
    return rule
