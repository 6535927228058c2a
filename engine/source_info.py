"""The user's source location of each traced equation: the first frame outside the engine."""

import os
import sys
from typing import Any

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Frames from these files are the engine's own, never the user's.
_internal_prefixes = [_ENGINE_DIR]


def register_internal_dir(path):
    """Let a layer above the engine (visualize, notebook_ext) hide its frames too
    (registering a folder twice is harmless)."""
    prefix = os.path.abspath(path) + os.sep
    if prefix in _internal_prefixes:
        return
    _internal_prefixes.append(prefix)
    _internal_cache.clear()
    _internal_code.clear()


def is_internal(filename):
    """Whether code in ``filename`` is the engine's (or a registered layer's), never
    the user's."""
    return _is_internal(filename)


class SourceInfo:
    """Where an equation came from: the user's file, line and function, and the
    ``named_scope`` names around it (``name_stack``, "outer/inner"; "" when none)."""

    __slots__ = ("file", "line", "function", "name_stack", "_code", "_lasti")

    def __init__(self, file, line, function, name_stack="", code=None, lasti=-1):
        self.file, self.line, self.function = file, line, function
        self.name_stack = name_stack
        self._code, self._lasti = code, lasti  # the column is computed only when asked for

    def in_scope(self, scope):
        """This location inside the named scope ``scope`` (outermost first)."""
        stack = f"{scope}/{self.name_stack}" if self.name_stack else scope
        return SourceInfo(self.file, self.line, self.function, stack, self._code, self._lasti)

    def summary(self):
        """``file:line:column (qualified name)``, as JAX's ``print_saved_residuals`` and
        its error messages place a value (``file:line (function)`` when the column is
        unknown)."""
        column = self.column
        if column is None:
            return repr(self)
        return f"{self.file}:{self.line}:{column} ({self.qualname})"

    @property
    def qualname(self):
        """The function's qualified name (``outer.<locals>.f``), as JAX's summaries give it."""
        return self._code.co_qualname if self._code is not None else self.function

    @property
    def column(self):
        """0-based column where the call on ``line`` starts (as JAX's locations give it),
        or None when unknown."""
        if self._code is None or self._lasti < 0:
            return None
        positions = _positions.get(self._code)
        if positions is None:
            if len(_positions) > 1024:
                _positions.clear()
            positions = _positions[self._code] = list(self._code.co_positions())
        i = self._lasti // 2
        return positions[i][2] if i < len(positions) else None

    def __repr__(self):
        return f"{self.file}:{self.line} ({self.function})"

    def __eq__(self, other):
        return isinstance(other, SourceInfo) and (
            self.file,
            self.line,
            self.function,
            self.name_stack,
        ) == (other.file, other.line, other.function, other.name_stack)

    def __hash__(self):
        return hash((self.file, self.line, self.function, self.name_stack))


_internal_cache: dict[str, bool] = {}
# code object -> its co_positions(), one entry per 2-byte code unit
_positions: dict[Any, list] = {}


def _is_internal(filename):
    r = _internal_cache.get(filename)
    if r is None:
        if len(_internal_cache) > 4096:
            _internal_cache.clear()
        r = filename.startswith(tuple(_internal_prefixes)) or filename.startswith("<frozen ")
        r = r or os.path.basename(filename) in ("contextlib.py", "functools.py")
        _internal_cache[filename] = r
    return r


_internal_code: dict[Any, bool] = {}  # code object -> is it the engine's (cached per code object)


def user_frame(depth_limit=64, skip=0):
    """SourceInfo of the innermost frame that is not engine code, or None. ``skip``:
    how many frames above the caller's are known to be the engine's (each frame
    looked at costs ~0.1 us)."""
    f = sys._getframe(1 + skip)
    n = 0
    get = _internal_code.get
    while f is not None and n < depth_limit:
        code = f.f_code
        internal = get(code)
        if internal is None:
            if len(_internal_code) > 8192:
                _internal_code.clear()
            internal = _internal_code[code] = _is_internal(code.co_filename)
        if not internal:
            return SourceInfo(code.co_filename, f.f_lineno, code.co_name, "", code, f.f_lasti)
        f = f.f_back
        n += 1
    return None
