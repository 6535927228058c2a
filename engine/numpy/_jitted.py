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
  eagerly the function still runs as one compiled computation.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


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
    name: str, static_argnames: Iterable[str] = (), *, inline: bool = False
) -> Callable[[F], F]:
    """Decorator: run the function under ``jit`` named ``name`` with JAX's
    ``static_argnames`` (or, with ``inline=True``, compiled when eager and inline in
    jaxprs), as JAX's ``@jit`` of that ``jax.numpy`` function does."""

    def decorate(fn: F) -> F:
        # JAX's names that this engine function lacks (a newer option) cannot be passed
        params = inspect.signature(fn).parameters
        static = tuple(n for n in static_argnames if n in params)
        if inline:
            from .ufuncs_arith import compiled_when_eager

            run = compiled_when_eager(_renamed(fn, name), static_argnames=static)
            return functools.wraps(fn)(run)  # type: ignore[return-value]
        jitted = None

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
