"""Process-wide event listeners, as ``jax.monitoring``: code records events (a name and
keyword tags), durations, time spans and scalars; registered listeners receive them.

The engine records ``/jax/core/compile/backend_compile_duration`` (seconds in XLA's
compiler for each jit compile), JAX's name for the same measurement. Recording with no
listener registered costs one list check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "clear_event_listeners",
    "record_event",
    "record_event_duration_secs",
    "record_event_time_span",
    "record_scalar",
    "register_event_duration_secs_listener",
    "register_event_listener",
    "register_event_time_span_listener",
    "register_scalar_listener",
    "unregister_event_duration_listener",
    "unregister_event_listener",
    "unregister_event_time_span_listener",
    "unregister_scalar_listener",
]

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"

_event_listeners: list[Callable[..., None]] = []
_duration_listeners: list[Callable[..., None]] = []
_time_span_listeners: list[Callable[..., None]] = []
_scalar_listeners: list[Callable[..., None]] = []


def record_event(event: str, **kwargs: str | int) -> None:
    """Tell every event listener ``listener(event, **kwargs)``."""
    for fn in list(_event_listeners):
        fn(event, **kwargs)


def record_event_duration_secs(event: str, duration: float, **kwargs: str | int) -> None:
    """Tell every duration listener ``listener(event, duration_seconds, **kwargs)``."""
    for fn in list(_duration_listeners):
        fn(event, duration, **kwargs)


def record_event_time_span(
    event: str, start_time: float, end_time: float, **kwargs: str | int
) -> None:
    """Tell every time-span listener ``listener(event, start, end, **kwargs)``."""
    for fn in list(_time_span_listeners):
        fn(event, start_time, end_time, **kwargs)


def record_scalar(key: str, value: float | int, **kwargs: str | int) -> None:
    """Tell every scalar listener ``listener(key, value, **kwargs)``."""
    for fn in list(_scalar_listeners):
        fn(key, value, **kwargs)


def register_event_listener(callback: Callable[..., None]) -> None:
    _event_listeners.append(callback)


def register_event_duration_secs_listener(callback: Callable[..., None]) -> None:
    _duration_listeners.append(callback)


def register_event_time_span_listener(callback: Callable[..., None]) -> None:
    _time_span_listeners.append(callback)


def register_scalar_listener(callback: Callable[..., None]) -> None:
    _scalar_listeners.append(callback)


def _unregister(listeners: list[Callable[..., None]], callback: Any, kind: str) -> None:
    if callback not in listeners:
        raise AssertionError(f"{kind} listener {callback!r} is not registered")
    listeners.remove(callback)


def unregister_event_listener(callback: Callable[..., None]) -> None:
    _unregister(_event_listeners, callback, "event")


def unregister_event_duration_listener(callback: Callable[..., None]) -> None:
    _unregister(_duration_listeners, callback, "event duration")


def unregister_event_time_span_listener(callback: Callable[..., None]) -> None:
    _unregister(_time_span_listeners, callback, "event time span")


def unregister_scalar_listener(callback: Callable[..., None]) -> None:
    _unregister(_scalar_listeners, callback, "scalar")


def clear_event_listeners() -> None:
    """Remove every listener of every kind."""
    for listeners in (
        _event_listeners,
        _duration_listeners,
        _time_span_listeners,
        _scalar_listeners,
    ):
        listeners.clear()
