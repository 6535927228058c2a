"""Tracebacks that end in the user's code, not in the engine's (JAX's traceback filtering).

An exception that escapes a public entry point (a jitted call, ``grad``/``vmap``/...
wrappers, ``make_jaxpr``) is rewritten there, once, at the outermost such boundary on
the stack. What happens depends on ``config.jax_traceback_filtering`` (or the
``JAX_TRACEBACK_FILTERING`` environment variable), with JAX's modes:

- ``off``: nothing changes; every engine frame is shown.
- ``tracebackhide``: engine frames get ``__tracebackhide__ = True`` in their locals,
  which IPython (and pytest) honour when printing.
- ``remove_frames``: engine frames are dropped from the traceback; the complete one is
  kept as the exception's ``__cause__`` (an ``UnfilteredStackTrace``), one scroll away.
- ``quiet_remove_frames``: engine frames are dropped and a short note says how to get
  them back.
- ``auto`` (default): ``tracebackhide`` under IPython, ``quiet_remove_frames`` otherwise.

When the error was raised inside the engine while it ran the user's function (a shape
mismatch found while tracing, say), a note names the innermost user line involved, so
the message itself points at the user's code.

Boundaries cost nothing on the normal path: an entry point wraps its body in
``try``/``except Exception as e: traceback_util.filter_exception(e); raise`` and registers its code
object with :func:`register_boundary`, so nested boundaries can tell they are nested.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable
from typing import Any, TypeVar

from .config import config

_F = TypeVar("_F", bound=Callable[..., Any])

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))
_MODES = ("off", "tracebackhide", "remove_frames", "quiet_remove_frames", "auto")

_SIMPLIFIED_NOTE = (
    "--------------------\n"
    "Engine-internal frames were removed from the traceback of this exception. "
    "Set JAX_TRACEBACK_FILTERING=off (or "
    'engine.config.update("jax_traceback_filtering", "off")) to see them.'
)
_UNFILTERED_NOTE = (
    "The stack trace above includes the engine's internal frames: it is the original "
    "exception, unmodified. The stack trace below shows only your frames.\n"
    "--------------------"
)


class UnfilteredStackTrace(Exception):
    """Carries the complete traceback of an exception whose own was filtered."""


UnfilteredStackTrace.__module__ = "engine.errors"

_boundary_codes: set = set()
_lock = threading.Lock()
_last_mode = ["auto"]


def _check_mode(name, value):
    if name != "jax_traceback_filtering":
        return
    if value not in _MODES:
        config.update(name, _last_mode[0])
        raise ValueError(
            f"jax_traceback_filtering must be one of {', '.join(_MODES)}; got {value!r}"
        )
    _last_mode[0] = value


_initial = os.environ.get("JAX_TRACEBACK_FILTERING", "auto").strip().lower() or "auto"
config.define("jax_traceback_filtering", _initial if _initial in _MODES else "auto")
_last_mode[0] = config.jax_traceback_filtering
config.on_change(_check_mode)


def register_boundary(fn):
    """Mark ``fn`` (a function or method whose body calls :func:`filter_exception`) as an API
    boundary; returns ``fn``."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is not None:
        with _lock:
            _boundary_codes.add(code)
    return fn


def is_engine_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return False
    try:
        path = os.path.abspath(filename)
    except (TypeError, ValueError):
        return False
    return path == _ENGINE_DIR or path.startswith(_ENGINE_DIR + os.sep)


def _include(frame) -> bool:
    return not is_engine_file(frame.f_code.co_filename)


def _walk(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _under_outer_boundary(tb) -> bool:
    """Whether a boundary frame calls the frame ``tb`` starts in (so that one filters)."""
    frame = tb.tb_frame.f_back if tb is not None else None
    while frame is not None:
        if frame.f_code in _boundary_codes:
            return True
        frame = frame.f_back
    return False


def _running_under_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        return ipython.get_ipython() is not None
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def mode() -> str:
    value = config.jax_traceback_filtering
    if value == "auto":
        return "tracebackhide" if _running_under_ipython() else "quiet_remove_frames"
    return value


def filter_traceback(tb):
    """``tb`` without engine frames (a new chain of traceback objects; may be None)."""
    kept = [t for t in _walk(tb) if _include(t.tb_frame)]
    out = None
    for t in reversed(kept):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def _user_line_note(tb):
    """A note naming the innermost user line, when the error was raised in the engine."""
    entries = list(_walk(tb))
    if not entries or _include(entries[-1].tb_frame):
        return None  # raised by the user's own code: its line is the traceback's last
    where = None
    for t in reversed(entries):
        if _include(t.tb_frame):
            where = (t.tb_frame.f_code, t.tb_lineno)
            break
    if where is None:  # nothing of the user's ran below the boundary: name the call site
        frame = entries[0].tb_frame.f_back
        while frame is not None and not _include(frame):
            frame = frame.f_back
        if frame is None:
            return None
        where = (frame.f_code, frame.f_lineno)
    code, line = where
    return f"(raised while running your code at {code.co_filename}:{line}, in {code.co_name})"


def _names_line(e, note):
    where = note.split(" at ", 1)[1].split(",", 1)[0]
    return where in str(e)
    return None


def filter_exception(e: BaseException):
    """Rewrite ``e``'s traceback in place, per the filtering mode. A boundary calls it as
    ``except Exception as e: traceback_util.filter_exception(e); raise`` (a bare
    ``raise`` adds no frame of the boundary's own)."""
    tb = e.__traceback__
    if tb is None or _under_outer_boundary(tb):
        return
    how = mode()
    if how == "off":
        return
    note = _user_line_note(tb)
    if note is not None and not _names_line(e, note) and note not in getattr(e, "__notes__", ()):
        e.add_note(note)
    if how == "tracebackhide":
        for t in _walk(tb):
            if not _include(t.tb_frame):
                try:
                    t.tb_frame.f_locals["__tracebackhide__"] = True
                except Exception:  # noqa: BLE001 - frames of some builtins refuse it
                    pass
        return
    filtered = filter_traceback(tb)
    if how == "quiet_remove_frames":
        if _SIMPLIFIED_NOTE not in getattr(e, "__notes__", ()):
            e.add_note(_SIMPLIFIED_NOTE)
    elif how == "remove_frames":
        text = "".join(traceback.format_exception_only(type(e), e)).strip()
        unfiltered = UnfilteredStackTrace(f"{text}\n\n{_UNFILTERED_NOTE}")
        unfiltered.__traceback__ = tb
        unfiltered.__cause__ = e.__cause__
        unfiltered.__context__ = e.__context__
        unfiltered.__suppress_context__ = e.__suppress_context__
        e.__cause__ = unfiltered
        e.__context__ = None
    e.with_traceback(filtered)


def api_boundary(fun: _F) -> _F:
    """``fun`` wrapped as a public entry point: exceptions leave it filtered."""

    @functools.wraps(fun)
    def api_boundary_call(*args, **kwargs):
        try:
            return fun(*args, **kwargs)
        except Exception as e:
            filter_exception(e)
            raise

    return api_boundary_call  # type: ignore[return-value]


register_boundary(api_boundary(lambda: None))  # the wrappers share one code object
