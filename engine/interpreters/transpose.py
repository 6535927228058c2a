"""Transposition: run a linear jaxpr backwards, turning output cotangents into input
cotangents. Each linear primitive's transpose rule says how."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import core, events
from ..ad_util import Zero, add_tangents, instantiate
from ..core import Literal
from ..events import active as _listening
from .tracing import trace_to_jaxpr


class UndefinedPrimal:
    """Stands for a linear input of an equation while transposing it."""

    __slots__ = ("aval",)

    def __init__(self, aval: core.ShapedArray) -> None:
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval})"


def is_undefined_primal(x: Any) -> bool:
    return type(x) is UndefinedPrimal


class _Pass:
    """A backward pass as the event stream sees it (an id for ``TraceStarted``)."""

    interpreter = "transpose"
    parent = None
    debug_name = None

    def __init__(self, jaxpr):
        self.jaxpr = jaxpr


# (has_refs(jaxpr), transpose(backward_pass, jaxpr, ...)), set by engine/state
ref_transpose_hook: Any = None


def backward_pass(
    jaxpr: core.Jaxpr,
    consts: Sequence[Any],
    linear_args: Sequence[Any],
    cotangents_out: Sequence[Any],
    initial_cts: Sequence[Any] | None = None,
) -> list[Any]:
    """Transpose ``jaxpr``. ``linear_args`` holds an UndefinedPrimal for each linear
    input and a value for each non-linear one; returns the cotangent of every input
    (``Zero`` where nothing flowed). ``initial_cts`` (per input, None for none) seeds
    the cotangents that inputs' contributions are added to as they arrive (a loop's
    running sums, as JAX's accumulators start from them).

    Emits (when someone listens) a "transpose" ``TraceStarted`` / ``TraceFinished``
    around the pass, a "forward" phase while the non-linear equations are evaluated,
    ``TransposeRuleStarted`` / ``EqnTransposed`` around each transpose rule, and
    ``CotangentWritten`` for each cotangent contribution (inside an "accumulate" phase
    when it is added to an earlier one)."""
    if ref_transpose_hook is not None and ref_transpose_hook[0](jaxpr):
        # tangent refs (engine/state): the discharged program is transposed
        return ref_transpose_hook[1](
            backward_pass, jaxpr, consts, linear_args, cotangents_out, initial_cts
        )
    if not _listening:
        return _backward_pass(jaxpr, consts, linear_args, cotangents_out, initial_cts, False)
    p = _Pass(jaxpr)
    call = events.trace_started(p, jaxpr)  # type: ignore[arg-type]
    try:
        observed = call is not None
        return _backward_pass(jaxpr, consts, linear_args, cotangents_out, initial_cts, observed)
    finally:
        events.trace_finished(p, call)  # type: ignore[arg-type]


def _backward_pass(jaxpr, consts, linear_args, cotangents_out, initial_cts, observed):
    primal_env, ct_env = {}, {}
    for v, ct in zip(jaxpr.invars, initial_cts or ()):
        if ct is not None:
            ct_env[v] = ct

    def read_primal(v):
        if type(v) is Literal:
            return v.val
        x = primal_env.get(v)
        return _undefined(v) if x is None else x

    def write_ct(v, ct, eqn=None, index=None):
        if type(v) is Literal or ct is None or type(ct) is Zero:
            return
        if not observed:
            ct_env[v] = add_tangents(ct_env[v], ct) if v in ct_env else ct
            return
        accumulated = v in ct_env
        if accumulated:
            phase = events.begin(
                events.PhaseStarted,
                interpreter="transpose",
                phase="accumulate",
                info={"var": v, "eqn": eqn, "index": index},
            )
            ct_env[v] = add_tangents(ct_env[v], ct)
            events.end(events.PhaseFinished, phase, interpreter="transpose", phase="accumulate")
        else:
            ct_env[v] = ct
        events.emit(
            events.CotangentWritten,
            var=v,
            value=ct,
            total=ct_env[v],
            accumulated=accumulated,
            eqn=eqn,
            index=index,
        )

    for v, x in zip(jaxpr.constvars, consts):
        primal_env[v] = x
    linear_vars = set()
    for v, x in zip(jaxpr.invars, linear_args):
        if is_undefined_primal(x):
            linear_vars.add(v)
        # a linear input reads as the caller's UndefinedPrimal, whose type may differ
        # from the binder's in weakness (JAX's accumulators carry the caller's type)
        primal_env[v] = x

    # Equations whose inputs are all non-linear are evaluated forward first.
    forward = None
    if observed:
        forward = events.begin(events.PhaseStarted, interpreter="transpose", phase="forward")
    linear_eqns = []
    for i, eqn in enumerate(jaxpr.eqns):
        if any(type(v) is not Literal and v in linear_vars for v in eqn.invars):
            linear_eqns.append((i, eqn))
            linear_vars.update(eqn.outvars)
        else:
            with core.source_info_context(eqn.source_info):
                outs = eqn.primitive.bind(*map(read_primal, eqn.invars), **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
            primal_env.update(zip(eqn.outvars, outs))
    if observed:
        events.end(events.PhaseFinished, forward, interpreter="transpose", phase="forward")

    for v, ct in zip(jaxpr.outvars, cotangents_out):
        write_ct(v, ct)

    for i, eqn in reversed(linear_eqns):
        cts_in = [ct_env.pop(v, None) for v in eqn.outvars]
        if all(c is None for c in cts_in):
            continue
        prim = eqn.primitive
        if prim.transpose is None:
            raise NotImplementedError(
                f"Transpose rule (for reverse-mode differentiation) for "
                f"'{prim.name}' not implemented"
            )
        invals = [read_primal(v) for v in eqn.invars]
        call = None
        if observed:
            call = events.begin(
                events.TransposeRuleStarted,
                eqn=eqn,
                index=i,
                primitive=prim.name,
                cts_in=tuple(cts_in),
                source_info=eqn.source_info,
            )
        with core.source_info_context(eqn.source_info):
            if prim.multiple_results:
                cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts_in)]
                cts_out = prim.transpose(cts, *invals, **eqn.params)
            else:
                cts_out = prim.transpose(cts_in[0], *invals, **eqn.params)
        if observed:
            events.end(
                events.EqnTransposed,
                call,
                eqn=eqn,
                index=i,
                primitive=prim.name,
                cts_in=tuple(cts_in),
                cts_out=tuple(cts_out),
            )
        for v, x, ct in zip(eqn.invars, invals, cts_out):
            if is_undefined_primal(x):
                write_ct(v, ct, eqn, i)

    return [
        ct_env.get(v, Zero(v.aval)) if v in linear_vars or is_undefined_primal(x) else None
        for v, x in zip(jaxpr.invars, linear_args)
    ]


def _undefined(v):
    return UndefinedPrimal(v.aval)


def transpose_jaxpr(closed: core.ClosedJaxpr, linear_flags: Sequence[bool]) -> core.ClosedJaxpr:
    """A jaxpr that computes the transpose: (non-linear inputs, output cotangents) ->
    cotangents of the linear inputs (zeros instantiated)."""
    in_avals = closed.in_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear_flags) if not lin]
    ct_avals = closed.out_avals
    n_nl = len(nonlin_avals)

    def transposed(*args):
        nonlin, cts = args[:n_nl], args[n_nl:]
        it = iter(nonlin)
        lin_args = [
            UndefinedPrimal(a) if lin else next(it) for a, lin in zip(in_avals, linear_flags)
        ]
        cts_out = backward_pass(closed.jaxpr, closed.consts, lin_args, list(cts))
        return [instantiate(ct) for ct, lin in zip(cts_out, linear_flags) if lin]

    return trace_to_jaxpr(
        transposed, nonlin_avals + ct_avals, debug_name=f"transpose({closed.jaxpr.debug_name})"
    )
