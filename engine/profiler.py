"""Profiling through jaxlib's profiler (XLA's TSL profiler), as ``jax.profiler``:
``start_trace(dir)`` / ``stop_trace()`` (or ``with trace(dir):``) record host and device
activity and write TensorBoard/XProf files (``plugins/profile/<run>/<host>.xplane.pb``)
under ``dir``; ``TraceAnnotation`` / ``StepTraceAnnotation`` / ``annotate_function``
name spans on that timeline; ``ProfileData`` reads a written profile back in Python.

``device_memory_profile`` gives the live buffers and executables as a gzipped pprof
protocol buffer (``pprof`` reads it). Not here: Perfetto traces and links."""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jaxlib._profile_data as _profile_data
import jaxlib._profiler as _profiler

from . import runtime
from .version import __version__

__all__ = [
    "ProfileData",
    "ProfileEvent",
    "ProfileOptions",
    "ProfilePlane",
    "StepTraceAnnotation",
    "TraceAnnotation",
    "annotate_function",
    "device_memory_profile",
    "register_subprocess",
    "save_device_memory_profile",
    "start_server",
    "start_trace",
    "stop_server",
    "stop_trace",
    "trace",
]

ProfileOptions = _profiler.ProfileOptions
ProfileData = _profile_data.ProfileData
ProfileEvent = _profile_data.ProfileEvent
ProfilePlane = _profile_data.ProfilePlane


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: Any = None
        self.log_dir: str | None = None
        self.server: Any = None


_state = _State()


def start_trace(
    log_dir: os.PathLike | str,
    create_perfetto_link: bool = False,
    create_perfetto_trace: bool = False,
    profiler_options: _profiler.ProfileOptions | None = None,
) -> None:
    """Start recording a profile, written to ``log_dir`` by :func:`stop_trace`.
    RuntimeError if a trace is already running."""
    if create_perfetto_link or create_perfetto_trace:
        raise NotImplementedError(
            "engine.profiler writes XProf/TensorBoard files only; Perfetto traces "
            "(create_perfetto_link / create_perfetto_trace) are not implemented"
        )
    with _state.lock:
        if _state.session is not None:
            raise RuntimeError(
                "Profile has already been started. Only one profile may be run at a time."
            )
        runtime.devices()  # backends first, so their tracers join the session
        _profiler.clear_metadata()
        _profiler.set_metadata("glassjax_version", __version__)
        _state.session = _profiler.ProfilerSession(profiler_options or ProfileOptions())
        _state.log_dir = str(log_dir)


def stop_trace() -> None:
    """Stop the running trace and write it under the ``log_dir`` given to
    :func:`start_trace`. RuntimeError if no trace is running."""
    with _state.lock:
        if _state.session is None:
            raise RuntimeError("No profile started")
        session, log_dir = _state.session, _state.log_dir
        _state.session = _state.log_dir = None
        session.stop_and_export(log_dir)
        _profiler.clear_metadata()


@contextlib.contextmanager
def trace(
    log_dir: os.PathLike | str,
    create_perfetto_link: bool = False,
    create_perfetto_trace: bool = False,
    profiler_options: _profiler.ProfileOptions | None = None,
) -> Iterator[None]:
    """``with trace(dir):`` profiles the block (start_trace ... stop_trace)."""
    start_trace(log_dir, create_perfetto_link, create_perfetto_trace, profiler_options)
    try:
        yield
    finally:
        stop_trace()


class TraceAnnotation(_profiler.TraceMe):
    """``with TraceAnnotation("name", **tags):`` shows the block as a span named
    ``name`` on the profile's host timeline (free when nothing is being traced)."""


class StepTraceAnnotation(TraceAnnotation):
    """A TraceAnnotation marking one training step (``step_num=...``), which XProf's
    step-time analysis groups by."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, _r=1, **kwargs)


def annotate_function(
    func: Callable[..., Any] | None = None, name: str | None = None, **kwargs: Any
) -> Any:
    """Decorator: every call of ``func`` is a TraceAnnotation (named ``name`` or the
    function's qualified name)."""
    if func is None:
        return functools.partial(annotate_function, name=name, **kwargs)
    label = name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "function")

    @functools.wraps(func)
    def wrapper(*args: Any, **kw: Any) -> Any:
        with TraceAnnotation(label, **kwargs):
            return func(*args, **kw)

    return wrapper


def start_server(port: int) -> Any:
    """Start a profiler server on ``port`` (for TensorBoard/XProf to capture from)."""
    if _state.server is not None:
        raise ValueError("Only one profiler server can be active at a time.")
    _state.server = _profiler.start_server(port)
    return _state.server


def stop_server() -> None:
    """Stop the server started by :func:`start_server`."""
    if _state.server is None:
        raise ValueError("No active profiler server.")
    _state.server = None  # jaxlib stops it when the last reference goes


def register_subprocess(pid: int, port: int) -> Any:
    """Have a profile started in this process also collect from the subprocess ``pid``
    (which runs a profiler server on ``port``)."""
    return _profiler.register_subprocess(pid, port)


def device_memory_profile(backend: str | None = None) -> bytes:
    """The memory held on ``backend``'s devices (arrays and executables, with the
    Python stacks that made them) as a gzipped pprof protocol buffer."""
    client = runtime.devices(backend)[0].client
    return gzip.compress(client.heap_profile())


def save_device_memory_profile(filename: os.PathLike | str, backend: str | None = None) -> None:
    """Write :func:`device_memory_profile` to ``filename``."""
    with open(filename, "wb") as f:
        f.write(device_memory_profile(backend))
