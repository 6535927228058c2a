"""Debugging flags and scopes, as JAX 0.10.2 has them.

- ``jax_debug_nans`` / ``jax_debug_infs``: every eager primitive's floating outputs
  are checked (``FloatingPointError: invalid value (nan) encountered in log``, with the
  user's line); a jitted function whose outputs hold a NaN/Inf is run again op by op
  (``disable_jit``) so the primitive that made it is named.
- ``ensure_compile_time_eval()``: inside ``jit``, operations on concrete values run now
  (their results are concrete), operations on traced values are recorded as usual.
- ``named_scope(name)`` / ``named_call(fun, name=...)``: the names become the name
  stack of the equations traced inside (``SourceInfo.name_stack``), the prefix of
  their StableHLO location names, and so of XLA's ``op_name`` metadata.
- ``checking_leaks()`` / ``jax_check_tracer_leaks``: a tracer still referenced when its
  trace ends raises, naming where it was made.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import core
from .config import config

logger = logging.getLogger("engine.debugging")

# ---------------------------------------------------------------------------- NaN / Inf checks


def _bad_kind(x: Any) -> str | None:
    """ "nan" or "inf" if ``x`` (an array) holds a value the flags look for."""
    dt = getattr(x, "dtype", None)
    if dt is None or np.dtype(dt).kind not in "fc":
        return None
    v = np.asarray(x)
    if config.jax_debug_nans and np.isnan(v).any():
        return "nan"
    if config.jax_debug_infs and np.isinf(v).any():
        return "inf"
    return None


def check_primitive_outputs(prim: core.Primitive, outs: Sequence[Any]) -> None:
    """Raise FloatingPointError if an eager primitive produced a NaN/Inf the flags ask
    about (called by ``dispatch`` only while a flag is on)."""
    for x in outs:
        kind = _bad_kind(x)
        if kind is not None:
            src = core.current_source_info()
            where = f"\nThe problem arose at {src}." if src is not None else ""
            raise FloatingPointError(f"invalid value ({kind}) encountered in {prim.name}{where}")


def check_jit_outputs(
    name: str, fun: Callable[..., Any], args: Any, kwargs: Any, outs: Any
) -> None:
    """After a jitted call: if its outputs hold a NaN/Inf, run ``fun`` again op by op
    (with jit disabled) so the primitive that made it raises; if none does, say so as
    JAX does."""
    from . import tree_util

    kind = next((k for k in map(_bad_kind, tree_util.tree_leaves(outs)) if k), None)
    if kind is None:
        return
    # JAX's note, word for word (its text says "nan" for Infs too), on stdout as JAX's
    print(
        "Invalid nan value encountered in the output of a jax.jit function. "
        "Calling the de-optimized version."
    )
    # the arguments as given (NumPy and Python values stay so), and jit left on as JAX's:
    # a jit called inside checks its own outputs, so its note prints again
    fun(*args, **kwargs)
    raise FloatingPointError(
        f"{(f'jit({name})', kind)}. Because "
        "jax_config.debug_nans.value and/or config.jax_debug_infs is set, the de-optimized "
        "function (i.e., the function as if the `jit` decorator were removed) was called in "
        "an attempt to get a more precise error message. However, the de-optimized function "
        "did not produce invalid values during its execution. This behavior can result from "
        "`jit` optimizations causing the invalid value to be produced. It may also arise from "
        "having nan/inf literals as inputs or outputs, like "
        "`jax.jit(lambda ...: jax.numpy.nan)(...)`. \n\nIt may be possible to avoid the "
        "invalid value by removing the `jit` decorator, at the cost of losing optimizations."
    )


@contextlib.contextmanager
def debug_nans(value: bool = True) -> Iterator[None]:
    """``with debug_nans():`` turns ``jax_debug_nans`` on for the block."""
    old = config.jax_debug_nans
    config.update("jax_debug_nans", value)
    try:
        yield
    finally:
        config.update("jax_debug_nans", old)


@contextlib.contextmanager
def debug_infs(value: bool = True) -> Iterator[None]:
    """``with debug_infs():`` turns ``jax_debug_infs`` on for the block."""
    old = config.jax_debug_infs
    config.update("jax_debug_infs", value)
    try:
        yield
    finally:
        config.update("jax_debug_infs", old)


# ---------------------------------------------------------------------------- compile-time eval


class _CompileTimeEvalTrace(core.EvalTrace):
    """Runs primitives on concrete values now; hands those with traced operands to the
    innermost trace they belong to (so they are recorded as usual)."""

    interpreter = "eval"

    def __init__(self, outer: core.Trace) -> None:
        super().__init__()
        self.outer = outer

    def process_primitive(self, primitive, args, params):
        traces = [x._trace for x in args if isinstance(x, core.Tracer)]
        if not traces:
            return primitive.impl(*args, **params)
        target = _innermost(traces)
        if not target.valid:
            raise core.escaped_tracer_error(next(x for x in args if isinstance(x, core.Tracer)))
        with core.set_current_trace(target):
            return primitive.bind(*args, **params)


def _innermost(traces: list[core.Trace]) -> core.Trace:
    best = traces[0]
    for t in traces[1:]:
        p = t.parent
        while p is not None and p is not best:
            p = p.parent
        if p is best:  # t sits inside best
            best = t
    return best


@contextlib.contextmanager
def ensure_compile_time_eval() -> Iterator[None]:
    """Inside ``jit``, compute on concrete values now instead of recording them::

    @jax.jit
    def f(x):
        with jax.ensure_compile_time_eval():
            y = jnp.sin(3.0)  # a concrete Array, computed while tracing
        return x + y
    """
    with core.set_current_trace(_CompileTimeEvalTrace(core.current_trace())):
        yield


# ---------------------------------------------------------------------------- name scopes


@contextlib.contextmanager
def named_scope(name: str) -> Iterator[None]:
    """Name the equations traced inside: ``outer/inner/sin`` in their name stack, their
    StableHLO location and XLA's ``op_name``."""
    if not isinstance(name, str):
        raise TypeError("named_scope name argument must be a string.")
    ctx = core._ctx
    old = ctx.name_stack
    ctx.name_stack = f"{old}/{name}" if old else name
    try:
        yield
    finally:
        ctx.name_stack = old


def named_call(fun: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
    """``fun`` whose equations carry ``name`` (default: its ``__name__``) in their
    name stack."""
    scope = name if name is not None else getattr(fun, "__name__", "named_call")

    @functools.wraps(fun)
    def named(*args: Any, **kwargs: Any) -> Any:
        with named_scope(scope):
            return fun(*args, **kwargs)

    return named


# ---------------------------------------------------------------------------- tracer leaks


@contextlib.contextmanager
def check_tracer_leaks(value: bool = True) -> Iterator[None]:
    """Set ``jax_check_tracer_leaks`` for the block."""
    old = config.jax_check_tracer_leaks
    config.update("jax_check_tracer_leaks", value)
    try:
        yield
    finally:
        config.update("jax_check_tracer_leaks", old)


def checking_leaks() -> contextlib.AbstractContextManager[None]:
    """Turn on ``jax_check_tracer_leaks`` for the block."""
    return check_tracer_leaks(True)


def check_leaked_tracers(trace: core.Trace, name: str | None = None) -> None:
    """Raise if a tracer of ``trace`` (just finished) is still referenced, naming what
    holds it (as JAX's leak checker does)."""
    gc.collect()
    leaked = [o for o in gc.get_objects() if isinstance(o, core.Tracer) and o._trace is trace]
    if not leaked:
        return
    lines = []
    for t in leaked[:3]:
        holders = [r for r in gc.get_referrers(t) if r is not leaked]
        lines.append(
            f"{t._short_repr()} is referred to by "
            + (", ".join(f"<{type(r).__name__} {id(r)}>" for r in holders[:3]) or "nothing known")
        )
    where = f" while tracing the function {name}" if name else ""
    del leaked
    raise Exception(
        f"Leaked trace {type(trace).__name__}{where}. Leaked tracer(s):\n\n"
        + "\n".join(lines)
        + "\nA function transformed by jit, grad, vmap or similar stored one of its traced "
        "values outside (in a global, a list or an attribute); return it instead."
    )


def effects_barrier() -> None:
    """Wait for pending host callbacks. The engine's callbacks run while their program
    executes (each call blocks until its callbacks ran), so there is nothing to wait for."""
    return None
