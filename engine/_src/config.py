"""``jax._src.config``'s flag objects, which JAX's export page uses as context managers:
``with config.jax_export_calling_convention_version(9): ...``. Each name is one of
``engine.config``'s flags (JAX's flag name, or its Python name without ``jax_``, as
``enable_x64``); ``.value`` reads it and calling it gives a context manager that sets it
for the ``with`` block (or decorates a function)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..config import config as _config

_NO_VALUE = object()


class State:
    """One flag: its ``value``, and ``state(new_value)`` to set it for a block."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def value(self) -> Any:
        return getattr(_config, self._name)

    def __call__(self, new_val: Any = _NO_VALUE) -> _StateContext:
        if new_val is _NO_VALUE:
            raise TypeError(
                f"Context manager for {self._name} config option requires an argument "
                "representing the new value for the config option."
            )
        return _StateContext(self._name, new_val)

    def __repr__(self) -> str:
        return f"State({self._name}={self.value!r})"


class _StateContext:
    __slots__ = ("_name", "_new", "_prev")

    def __init__(self, name: str, new_val: Any) -> None:
        self._name, self._new = name, new_val

    def __enter__(self) -> None:
        self._prev = getattr(_config, self._name)
        _config.update(self._name, self._new)

    def __exit__(self, *exc: Any) -> None:
        _config.update(self._name, self._prev)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _StateContext(self._name, self._new):
                return func(*args, **kwargs)

        return wrapper


def __getattr__(name: str) -> State:
    for flag in (name, f"jax_{name}"):
        if flag in _config._values:
            return State(flag)
    raise AttributeError(f"module 'jax._src.config' has no attribute {name!r}")


config = _config
