"""IPython line magics for the widgets (registered by ``%load_ext notebook_ext``):

    %explore step(params, x, y)              # the explorer (options: --tabs, --side)
    %fusion_stepper step(params, x, y)       # XLA's passes (--all: show unchanged ones)
    %launch step(params, x, y)               # the device launcher
    %jit_session                             # the session inspector

The line is one call, written as in Python; the function and every argument are
evaluated in the notebook's namespace, and the call itself is not made: the widget
traces it.
"""

from __future__ import annotations

import ast

_CAPTURE = "__glassjax_capture_call__"


def parse_call(line, namespace):
    """``"f(x, y=2)"`` -> (f, (x,), {"y": 2}), evaluated in ``namespace``."""
    from IPython.core.error import UsageError

    text = line.strip()
    if not text:
        raise UsageError("give a call to look at, e.g.  %explore f(x)")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise UsageError(f"not a Python call: {text!r} ({e.msg})") from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise UsageError(f"expected a call such as f(x), got {text!r}")
    fun_expr = ast.Expression(call.func)
    packed = ast.Expression(
        ast.Call(func=ast.Name(id=_CAPTURE, ctx=ast.Load()), args=call.args, keywords=call.keywords)
    )
    ast.fix_missing_locations(fun_expr)
    ast.fix_missing_locations(packed)
    fun = eval(compile(fun_expr, "<magic>", "eval"), namespace)
    args, kwargs = eval(
        compile(packed, "<magic>", "eval"), namespace, {_CAPTURE: lambda *a, **k: (a, k)}
    )
    return fun, args, kwargs


def _split_flags(line, known):
    flags, rest = set(), line.strip()
    while rest.startswith("-"):
        word, _, rest = rest.partition(" ")
        if word not in known:
            from IPython.core.error import UsageError

            raise UsageError(f"unknown option {word}; known: {', '.join(sorted(known))}")
        flags.add(word)
        rest = rest.strip()
    return flags, rest


def explore_magic(shell, line):
    """%explore [--tabs|--side] f(x, ...): the explorer of f at these arguments."""
    from .explorer import explore

    flags, rest = _split_flags(line, {"--tabs", "--side"})
    fun, args, kwargs = parse_call(rest, shell.user_ns)
    layout = "tabs" if "--tabs" in flags else "side" if "--side" in flags else "auto"
    return explore(fun, *args, layout=layout, **kwargs)


def fusion_stepper_magic(shell, line):
    """%fusion_stepper [--all] f(x, ...): step through XLA's passes compiling f."""
    from .fusion_stepper import fusion_stepper

    flags, rest = _split_flags(line, {"--all"})
    fun, args, kwargs = parse_call(rest, shell.user_ns)
    return fusion_stepper(fun, *args, show_unchanged="--all" in flags, **kwargs)


def launch_magic(shell, line):
    """%launch f(x, ...): run f's compiled program on any device, timed."""
    from .launcher import launcher

    fun, args, kwargs = parse_call(line, shell.user_ns)
    return launcher(fun, *args, **kwargs)


def session_magic(shell, line):
    """%jit_session: every function jitted in this kernel, each openable."""
    from .session import session

    return session()


MAGICS = {
    "explore": explore_magic,
    "fusion_stepper": fusion_stepper_magic,
    "launch": launch_magic,
    "jit_session": session_magic,
}


def _bind(ip, fn):
    def magic(line):
        return fn(ip, line)

    magic.__doc__ = fn.__doc__
    return magic


def register(ip):
    for name, fn in MAGICS.items():
        ip.register_magic_function(_bind(ip, fn), "line", name)


def unregister(ip):
    for name in MAGICS:
        ip.magics_manager.magics["line"].pop(name, None)
