"""Transformations of whole jaxprs (used by higher-order primitives: jit, cond, while,
scan): JVP, batching and transposition of a jaxpr, producing a new jaxpr. Results are
memoized on the jaxpr object, so a jitted body is transformed once."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from .. import core, dtypes
from . import batching
from . import transpose as tr
from .jvp import JVPTrace, JVPTracer, Zero, instantiate, tangent_aval
from .tracing import JaxprTrace, JaxprTracer, trace_to_jaxpr


def memo_on_jaxpr(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Memoize ``fn(closed, *key)`` per ClosedJaxpr (weakly held) and hashable key."""
    cache: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()

    @functools.wraps(fn)
    def memoized(closed, *key):
        per = cache.setdefault(closed, {})
        out = per.get(key)
        if out is None:
            out = per[key] = fn(closed, *key)
        return out

    return memoized


def _is_float0(aval):
    return aval.dtype == dtypes.float0


class _TangentDependence:
    """While a jaxpr is traced: whether a value was computed without the tangent inputs
    (the equations recorded since the last question are scanned once, forwards)."""

    def __init__(self, trace: JaxprTrace, tangent_inputs: list[Any]) -> None:
        self.trace, self.scanned = trace, 0
        self.dependent = {t.var for t in tangent_inputs}

    def independent(self, tangent: Any) -> bool:
        if not (isinstance(tangent, JaxprTracer) and tangent._trace is self.trace):
            return True
        eqns, dependent = self.trace.eqns, self.dependent
        for eqn in eqns[self.scanned :]:
            if any(type(v) is core.Var and v in dependent for v in eqn.invars):
                dependent.update(eqn.outvars)
        self.scanned = len(eqns)
        return tangent.var not in dependent


@memo_on_jaxpr
def jvp_jaxpr(
    closed: core.ClosedJaxpr,
    nonzeros: tuple[bool, ...],
    instantiate_out: tuple[bool, ...],
    linearize: bool = False,
) -> tuple[core.ClosedJaxpr, tuple[bool, ...]]:
    """JVP of a jaxpr: inputs (primals, tangents of the ``nonzeros`` inputs), outputs
    (primal outs, tangents that are nonzero or asked for by ``instantiate_out``).
    Integer outputs (float0 tangents) never get a tangent output. With ``linearize`` (as
    JAX's linearize_jaxpr), tangents computed without the tangent inputs are symbolic
    zeros. Returns (ClosedJaxpr, out_nonzeros)."""
    avals = closed.in_avals
    tan_avals = [tangent_aval(a) for a, nz in zip(avals, nonzeros) if nz]
    n = len(avals)
    out_nz = []

    def fun(*args):
        primals, tans = args[:n], iter(args[n:])
        tangents = [next(tans) if nz else Zero(tangent_aval(a)) for a, nz in zip(avals, nonzeros)]
        trace = JVPTrace(parent=core.current_trace())
        if linearize:
            trace.symbolic_zero = _TangentDependence(core.current_trace(), args[n:]).independent
        ins = [
            JVPTracer(trace, p, t) if type(t) is not Zero else p for p, t in zip(primals, tangents)
        ]
        try:
            with core.set_current_trace(trace):
                outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *ins)
            pouts, touts = [], []
            for x, inst in zip(outs, instantiate_out):
                p, t = trace.lift(x)
                pouts.append(p)
                if _is_float0(tangent_aval(core.get_aval(p))) or (type(t) is Zero and not inst):
                    out_nz.append(False)
                else:
                    out_nz.append(True)
                    touts.append(instantiate(t))
        finally:
            trace.invalidate()
        return pouts + touts

    jaxpr = trace_to_jaxpr(fun, list(avals) + tan_avals, f"jvp({closed.jaxpr.debug_name})")
    return jaxpr, tuple(out_nz)


def batch_jaxpr(
    closed: core.ClosedJaxpr,
    size: int,
    in_dims: tuple[int | None, ...],
    instantiate_out: tuple[bool, ...],
) -> tuple[core.ClosedJaxpr, tuple[bool, ...]]:
    """Batch a jaxpr whose inputs are batched at ``in_dims`` (None: unbatched). Outputs
    are batched at axis 0, or left unbatched where possible and not instantiated.
    Returns (ClosedJaxpr, out_batched). Inside a named vmap the axis name is part of
    the memo key: collectives over it batch differently from those over others."""
    jaxpr, dims = _batch(closed, size, in_dims, "instantiate", tuple(instantiate_out))
    return jaxpr, tuple(d is not None for d in dims)


def batch_jaxpr_keep_axes(
    closed: core.ClosedJaxpr, size: int, in_dims: tuple[int | None, ...]
) -> tuple[core.ClosedJaxpr, tuple[int | None, ...]]:
    """Batch a jaxpr leaving each output's batch axis where the body puts it (None:
    unbatched), as JAX's batch_jaxpr2 (its jit batching rule). Returns (ClosedJaxpr,
    out_dims)."""
    return _batch(closed, size, in_dims, "keep", ())


def batch_jaxpr_axes(
    closed: core.ClosedJaxpr,
    size: int,
    in_dims: tuple[int | None, ...],
    out_dims: tuple[int | None, ...],
) -> core.ClosedJaxpr:
    """Batch a jaxpr with each output's batch axis moved to ``out_dims`` (unbatched
    outputs broadcast there; None: the output must come out unbatched), as JAX's
    batch_jaxpr_axes."""
    return _batch(closed, size, in_dims, "axes", tuple(out_dims))[0]


def _batch(closed, size, in_dims, mode, spec):
    axis_name, ema = batching.current_rule_axis_name(), batching.current_rule_ema()
    mesh_axis, spmd = batching.checked_ema(ema), batching.current_spmd_axis_name()
    names = (axis_name, ema, spmd)
    return _batch_jaxpr(closed, size, tuple(in_dims), mode, spec, names, mesh_axis)


@memo_on_jaxpr
def _batch_jaxpr(closed, size, in_dims, mode, spec, names, mesh_axis):
    # names: the vmap's axis name, Explicit mesh axes and spmd_axis_name
    # mode "instantiate": spec[i] says whether output i is batched (at 0) even when
    # unbatched; "keep": outputs keep their axes; "axes": spec[i] is where output i goes.
    # mesh_axis: the Explicit mesh axes batched inputs and broadcast outputs are split
    # over (as JAX's unmapped_aval and matchaxis with AxisData.explicit_mesh_axis)
    avals = [
        a if d is None else core.unmapped_aval(size, d, a, mesh_axis)
        for a, d in zip(closed.in_avals, in_dims)
    ]
    out_dims = []

    def place(v, d, i):
        if mode == "keep":
            return v, d
        if mode == "instantiate":
            dst = 0 if d is not None or spec[i] else None
        else:
            dst = spec[i]
        if dst is None:
            if d is not None:
                raise ValueError("vmap has mapped output but out_axes is None")
            return v, None
        return batching.move_batch_axis(size, d, dst, v, mesh_axis=mesh_axis), dst

    def fun(*args):
        trace = batching.BatchTrace(core.current_trace(), size, *names)
        ins = [
            batching.BatchTracer(trace, v, d) if d is not None else v for v, d in zip(args, in_dims)
        ]
        try:
            with core.set_current_trace(trace):
                outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *ins)
            res = []
            for i, x in enumerate(outs):
                v, d = place(*trace.lift(x), i)
                res.append(v)
                out_dims.append(d)
        finally:
            trace.invalidate()
        return res

    return trace_to_jaxpr(fun, avals, closed.jaxpr.debug_name), tuple(out_dims)


@memo_on_jaxpr
def transpose_jaxpr(closed: core.ClosedJaxpr, linear: tuple[bool, ...]) -> core.ClosedJaxpr:
    return tr.transpose_jaxpr(closed, linear)
