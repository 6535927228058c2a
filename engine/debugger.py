"""``jax.debug.breakpoint``: stop a (possibly transformed, compiled) program and inspect
the values of the user's Python frames at that point, as JAX 0.10.2 does.

When ``breakpoint()`` is called the Python stack is captured (the engine's own frames
left out unless ``filter_frames=False``): each frame's file, line, source and locals.
Locals that are traced values become the operands of one ``debug_callback``; everything
else is kept as it was. When the program reaches the callback (eagerly, or while the
compiled program runs; once per element under ``vmap``) the frames are rebuilt with the
values the callback received and handed to the debugger: by default the text one,
``CliDebugger``, a ``cmd.Cmd`` with the prompt ``(jdb)``."""

from __future__ import annotations

import cmd
import dataclasses
import inspect
import pprint
import sys
import threading
import traceback
from collections.abc import Callable
from typing import IO, Any

from . import callbacks, core, tree_util
from .traceback_util import is_engine_file

# ---------------------------------------------------------------------------- frames


class _CantFlatten:
    def __repr__(self) -> str:
        return "<cant_flatten>"


cant_flatten = _CantFlatten()


@dataclasses.dataclass(frozen=True)
class DebuggerFrame:
    """One Python frame as the debugger shows it: ``source`` is the lines of the
    enclosing code object (``inspect.getsource``) and ``offset`` the index of the
    current line in it (None where no source could be read)."""

    filename: str
    locals: dict[str, Any]
    globals: dict[str, Any]
    code_context: Any
    source: list[str]
    lineno: int
    offset: int | None

    @classmethod
    def from_frameinfo(cls, frame_info: inspect.FrameInfo) -> DebuggerFrame:
        try:
            _, start = inspect.getsourcelines(frame_info.frame)
            source = inspect.getsource(frame_info.frame).split("\n")
            # a module's source starts at line 0 (getsourcelines), a function's at its
            # first line (1-based), offsets are 0-based
            offset: int | None = frame_info.lineno - max(start, 1)
            if offset is not None and offset >= len(source):  # e.g. code from eval()
                source, offset = [], None
        except OSError:
            source, offset = [], None
        return cls(
            filename=frame_info.filename,
            locals=frame_info.frame.f_locals,
            globals={},
            code_context=frame_info.code_context,
            source=source,
            lineno=frame_info.lineno,
            offset=offset,
        )


def _flatten_namespace(ns: dict[str, Any]) -> tuple[list[str], list[Any], list[Any]]:
    """(names, their tree structures, all leaves in order); a value that cannot be
    flattened is replaced by ``cant_flatten``."""
    names, trees, leaves = [], [], []
    for name, value in ns.items():
        try:
            ls, tree = tree_util.tree_flatten(value)
        except Exception:
            ls, tree = tree_util.tree_flatten(cant_flatten)
        names.append(name)
        trees.append(tree)
        leaves.append(ls)
    return names, trees, leaves


class _CapturedFrames:
    """The frames with their traced leaves taken out (the callback's operands) and the
    rest kept; ``rebuild`` puts the values the callback received back in place."""

    def __init__(self, frames: list[DebuggerFrame]) -> None:
        self.frames = frames
        # per frame, per namespace: (names, tree structures, (kept leaves, traced mask))
        self.layout: list[list[tuple[list[str], list[Any], list[tuple[list, list]]]]] = []
        self.traced: list[Any] = []
        for f in frames:
            per_frame: list[tuple[list[str], list[Any], list[tuple[list, list]]]] = []
            for ns in (f.locals, f.globals):
                names, trees, leaves = _flatten_namespace(ns)
                kept: list[tuple[list, list]] = []
                for ls in leaves:
                    mask = [isinstance(x, core.Tracer) for x in ls]
                    self.traced += [x for x, m in zip(ls, mask) if m]
                    kept.append(([None if m else x for x, m in zip(ls, mask)], mask))
                per_frame.append((names, trees, kept))
            self.layout.append(per_frame)

    def rebuild(self, values: list[Any]) -> list[DebuggerFrame]:
        it = iter(values)
        out = []
        for f, per_frame in zip(self.frames, self.layout):
            namespaces = []
            for names, trees, kept in per_frame:
                ns = {}
                for name, tree, (ls, mask) in zip(names, trees, kept):
                    full = [next(it) if m else x for x, m in zip(ls, mask)]
                    ns[name] = tree_util.tree_unflatten(tree, full)
                namespaces.append(ns)
            out.append(dataclasses.replace(f, locals=namespaces[0], globals=namespaces[1]))
        return out


# ---------------------------------------------------------------------------- registry

Debugger = Callable[..., None]  # (frames, thread_id, **kwargs) -> None
_debugger_registry: dict[str, tuple[int, Debugger]] = {}


def register_debugger(name: str, debugger: Debugger, priority: int) -> None:
    """Make ``debugger`` available as ``breakpoint(backend=name)``; without a backend
    the one of highest priority is used."""
    if name in _debugger_registry:
        raise ValueError(f'Debugger with name "{name}" already registered.')
    _debugger_registry[name] = (priority, debugger)


def get_debugger(backend: str | None = None) -> Debugger:
    """The debugger registered as ``backend``; an unknown or absent name gives the one
    of highest priority."""
    if backend is not None and backend in _debugger_registry:
        return _debugger_registry[backend][1]
    ranked = sorted(_debugger_registry.values(), key=lambda pd: -pd[0])
    if not ranked:
        raise ValueError("No debuggers registered!")
    return ranked[0][1]


debug_lock = threading.Lock()

# ---------------------------------------------------------------------------- the text debugger


class CliDebugger(cmd.Cmd):
    """The text debugger: commands read from ``stdin`` (the terminal by default),
    answers written to ``stdout``. A line that is no command is evaluated in the
    current frame."""

    prompt = "(jdb) "

    def __init__(
        self,
        frames: list[DebuggerFrame],
        thread_id: int | None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        completekey: str = "tab",
    ) -> None:
        super().__init__(completekey=completekey, stdin=stdin, stdout=stdout)
        self.use_rawinput = stdin is None
        self.frames = frames
        self.frame_index = 0
        self.thread_id = thread_id
        self.intro = "Entering jdb:"

    def current_frame(self) -> DebuggerFrame:
        return self.frames[self.frame_index]

    def evaluate(self, expr: str) -> Any:
        frame = self.current_frame()
        return eval(expr, {}, {**frame.globals, **frame.locals})

    def _say(self, *parts: Any) -> None:
        print(*parts, file=self.stdout)

    def _error_message(self) -> None:
        etype, value = sys.exc_info()[:2]
        self._say("***", traceback.format_exception_only(etype, value)[-1].strip())

    def _show(self, expr: str, fmt: Callable[[Any], str]) -> None:
        try:
            self._say(fmt(self.evaluate(expr)))
        except BaseException:
            self._error_message()

    def default(self, line: str) -> None:
        """Evaluates an expression."""
        self._show(line, repr)

    def print_backtrace(self) -> None:
        lines = ["Traceback:"]
        for frame in reversed(self.frames):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}')
            if frame.offset is None:
                lines.append("    <no source>")
            else:
                lines.append("    " + frame.source[frame.offset].strip())
        self._say("\n".join(lines))

    def print_context(self, num_lines: int = 2) -> None:
        frame = self.current_frame()
        lines = [f"> {frame.filename}({frame.lineno})"]
        for i, text in enumerate(frame.source):
            assert frame.offset is not None
            if frame.offset - 1 - num_lines <= i <= frame.offset + num_lines:
                lines.append(("->  " if i == frame.offset else "    ") + text)
        self._say("\n".join(lines))

    # The commands (``help`` prints the texts of _HELP, below).

    def do_p(self, arg: str) -> None:
        self._show(arg, repr)

    def do_pp(self, arg: str) -> None:
        self._show(arg, pprint.pformat)

    def do_up(self, arg: str, /) -> None:
        if self.frame_index == len(self.frames) - 1:
            self._say("At topmost frame.")
        else:
            self.frame_index += 1
        self.print_context()

    do_u = do_up

    def do_down(self, arg: str, /) -> None:
        if self.frame_index == 0:
            self._say("At bottommost frame.")
        else:
            self.frame_index -= 1
        self.print_context()

    do_d = do_down

    def do_list(self, arg: str) -> None:
        self.print_context(num_lines=5)

    do_l = do_list

    def do_continue(self, arg: str) -> bool:
        return True

    do_c = do_cont = do_continue

    def do_quit(self, arg: str) -> None:
        sys.exit(0)

    do_q = do_EOF = do_exit = do_quit

    def do_where(self, arg: str) -> None:
        self.print_backtrace()

    do_w = do_bt = do_where

    def run(self) -> None:
        while True:
            try:
                self.cmdloop()
                return
            except KeyboardInterrupt:
                print("--KeyboardInterrupt--", file=sys.stdout)


# what ``help <command>`` prints: cmd.Cmd shows a command's docstring as it is, so these
# carry the indentation JAX's show
_HELP = {
    "do_p": "p expression\n    Evaluates and prints the value of an expression\n    ",
    "do_pp": "pp expression\n    Evaluates and pretty-prints the value of an expression\n    ",
    "do_up": "u(p)\n    Move up a stack frame.\n    ",
    "do_down": "d(own)\n    Move down a stack frame.\n    ",
    "do_list": "l(ist)\n    List source code for the current file.\n    ",
    "do_continue": "c(ont(inue))\n    Continue the program's execution.\n    ",
    "do_quit": "q(uit)\n(exit)\n    Quit the debugger. The program is given an exit command.\n    ",
    "do_where": (
        "w(here)\n    Prints a stack trace with the most recent frame on the bottom.\n"
        "    'bt' is an alias for this command.\n    "
    ),
}
for _name, _text in _HELP.items():
    getattr(CliDebugger, _name).__doc__ = _text


def run_cli_debugger(frames: list[DebuggerFrame], thread_id: int | None, **kwargs: Any) -> None:
    CliDebugger(frames, thread_id, **kwargs).run()


register_debugger("cli", run_cli_debugger, -1)

# ---------------------------------------------------------------------------- breakpoint


def breakpoint(  # noqa: A001 - JAX's name
    *,
    backend: str | None = None,
    filter_frames: bool = True,
    num_frames: int | None = None,
    ordered: bool = False,
    token: Any = None,
    **kwargs: Any,
) -> Any:
    """Stop here when the program runs and open a debugger on the Python frames of
    this call (their traced values as computed at this point).

    ``backend``: a registered debugger's name (default: the text debugger).
    ``filter_frames``: leave out the engine's own frames. ``num_frames``: keep only
    the innermost frames. ``ordered``: keep program order with other ordered debug
    callbacks. ``token``: a pytree of arrays the breakpoint waits for and returns
    unchanged (use the result, or the breakpoint is dropped with it); exclusive with
    ``ordered``. Other keywords go to the debugger (the text one takes ``stdin``,
    ``stdout`` and ``completekey``)."""
    if token is not None and ordered:
        raise ValueError("`ordered` and `token` are mutually exclusive arguments.")
    infos = inspect.stack()[1:]
    if filter_frames:
        infos = [fi for fi in infos if not is_engine_file(fi.frame.f_code.co_filename)]
    frames = [DebuggerFrame.from_frameinfo(fi) for fi in infos]
    del infos
    if num_frames is not None:
        frames = frames[:num_frames]
    captured = _CapturedFrames(frames)

    def _breakpoint_callback(*values: Any) -> None:
        rebuilt = captured.rebuild(list(values))
        thread_id = None
        if threading.current_thread() is not threading.main_thread():
            thread_id = threading.get_ident()
        debugger = get_debugger(backend=backend)
        with debug_lock:  # callbacks may run on several threads at once
            debugger(rebuilt, thread_id, **kwargs)

    if token is None:
        callbacks.debug_callback(_breakpoint_callback, *captured.traced, ordered=ordered)
        return None
    from .lax import stop_gradient

    token, traced = stop_gradient((token, captured.traced))

    def _with_token(x: Any, *values: Any) -> Any:
        _breakpoint_callback(*values)
        return x

    return callbacks.pure_callback(_with_token, token, token, *traced)
