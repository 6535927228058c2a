"""The ``jit`` wrapping JAX gives many ``jax.numpy`` functions, given to the engine's.

JAX decorates functions such as ``clip``, ``cumsum`` or ``_var`` with ``jit`` (some
with ``static_argnames``, some ``inline=True``): their jaxprs show one
``jit[name=clip jaxpr={...}]`` equation, and eagerly they run as one XLA computation.
``as_jax_jits(name, static_argnames=..., inline=...)`` decorates an engine function the
same way, so that both its jaxpr and its eager values match JAX's.

- ``name`` is the jit's name as JAX's jaxprs print it (``_var`` for ``var``'s body).
- ``static_argnames`` are the arguments JAX's decorator makes static: they select
  the trace (a traced ``axis`` is an error there) and are hashed.
- ``inline=True``: no ``jit`` equation in jaxprs (the body's equations appear inline);
  eagerly the function still runs as one compiled computation, whose fusion may round
  or simplify differently from op by op (``False * nan`` is 0 there).
- ``compiled_if`` (with ``inline=True``): a test of the positional arguments; eagerly,
  only calls it accepts run compiled, the others op by op (``multiply`` compiles only
  when an operand is converted first: a single ``mul`` gives the same values either
  way, and op by op is faster).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .. import core

F = TypeVar("F", bound=Callable[..., Any])


_TRANSPARENT_TRACES: tuple[type, ...] = ()


def _eager() -> bool:
    """Whether ops run now (eagerly, maybe under jvp, vmap or grad's partial evaluation)
    rather than into a jaxpr: where JAX's jit(inline=True) functions run as a jit call."""
    global _TRANSPARENT_TRACES
    trace: core.Trace | None = core.current_trace()
    if type(trace) is core.EvalTrace:  # the common eager case, without the imports below
        return True
    if not _TRANSPARENT_TRACES:
        from ..interpreters.batching import BatchTrace
        from ..interpreters.jvp import JVPTrace
        from ..interpreters.partial_eval import PartialEvalTrace

        _TRANSPARENT_TRACES = (JVPTrace, BatchTrace, PartialEvalTrace)
    while trace is not None and type(trace) in _TRANSPARENT_TRACES:
        trace = trace.parent
    return type(trace) is core.EvalTrace


def _renamed(fn: Callable, name: str) -> Callable:
    """A copy of ``fn`` named ``name`` (same code, defaults and signature): the jit's
    name in jaxprs, while the public function keeps its own name."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = name
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


def as_jax_jits(
    name: str,
    static_argnames: Iterable[str] = (),
    *,
    inline: bool = False,
    compiled_if: Callable[..., bool] | None = None,
) -> Callable[[F], F]:
    """Decorator: run the function under ``jit`` named ``name`` with JAX's
    ``static_argnames`` (or, with ``inline=True``, compiled when eager and inline in
    jaxprs), as JAX's ``@jit`` of that ``jax.numpy`` function does."""
    if compiled_if is not None and not inline:
        raise ValueError("compiled_if applies to inline jits only")

    def decorate(fn: F) -> F:
        # JAX's names that this engine function lacks (a newer option) cannot be passed
        params = inspect.signature(fn).parameters
        static = tuple(n for n in static_argnames if n in params)
        jitted = None
        if inline:

            @functools.wraps(fn)
            def inline_wrapper(*args: Any, **kwargs: Any) -> Any:
                nonlocal jitted
                if (compiled_if is None or compiled_if(*args)) and _eager():
                    if jitted is None:
                        from ..jit import jit

                        jitted = jit(_renamed(fn, name), static_argnames=static)
                    return jitted(*args, **kwargs)
                return fn(*args, **kwargs)

            return inline_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal jitted
            if jitted is None:
                from ..jit import jit

                jitted = jit(_renamed(fn, name), static_argnames=static)
            return jitted(*args, **kwargs)

        wrapper.jitted_name = name  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
