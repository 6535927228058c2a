"""The command line: ``python -m visualize report`` writes the static HTML report of a
function defined in a script (or an importable module).

    python -m visualize report train.py:step --args 'params, np.ones((128, 784)), y' -o step.html
    python -m visualize report train.py:step     # the script defines example_args

``--args`` is Python, read as the inside of a call (``a, b, key=value``) and evaluated
in the script's namespace, with ``np``/``numpy``, ``engine`` and ``jnp`` (engine.numpy)
available. Without ``--args`` the script must define ``example_args``: a tuple of
arguments, or a function returning one (``example_kwargs`` likewise, optional).
The script is loaded as a module (its ``if __name__ == "__main__":`` block does not run).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time


def _load(target):
    """'path/to/script.py:fn' or 'package.module:fn' -> (the function, its module)."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise SystemExit(f"error: expected SCRIPT.py:FUNCTION or MODULE:FUNCTION, got {target!r}")
    if where.endswith(".py") or os.path.exists(where):
        path = os.path.abspath(where)
        if not os.path.isfile(path):
            raise SystemExit(f"error: no such script: {where}")
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # the script's own imports
        mod_name = "__glassjax_script__"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"error: {where} defines no {name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SystemExit(f"error: {where}:{name} is not callable")
    return obj, module


def _namespace(module):
    import numpy as np

    import engine
    import engine.numpy as jnp

    ns = {"np": np, "numpy": np, "engine": engine, "jnp": jnp}
    ns.update(vars(module))
    return ns


def _arguments(module, args_text):
    if args_text is not None:
        ns = _namespace(module)
        ns["__glassjax_call__"] = lambda *a, **k: (a, k)
        try:
            return eval(f"__glassjax_call__({args_text})", ns)  # the user's own expression
        except SyntaxError as e:
            raise SystemExit(f"error: --args is not valid Python call arguments: {e}") from None
    if not hasattr(module, "example_args"):
        raise SystemExit(
            "error: give the example arguments with --args '...', or define "
            "example_args (a tuple, or a function returning one) in the script"
        )
    args = module.example_args
    args = args() if callable(args) else args
    kwargs = getattr(module, "example_kwargs", {})
    kwargs = kwargs() if callable(kwargs) else kwargs
    return tuple(args) if isinstance(args, (tuple, list)) else (args,), dict(kwargs)


def _report_command(opts):
    from .report import report

    start = time.perf_counter()
    fn, module = _load(opts.target)
    args, kwargs = _arguments(module, opts.args)
    r = report(
        fn,
        *args,
        path=opts.output,
        title=opts.title,
        theme=opts.theme,
        device=opts.device,
        repeats=opts.repeats,
        profile=not opts.no_profile,
        passes=not opts.no_passes,
        **kwargs,
    )
    total = time.perf_counter() - start
    phases = ", ".join(f"{k[:-2].replace('_', ' ')} {v:.2f} s" for k, v in r.timings.items())
    print(f"wrote {r.path} ({r.size_bytes / 1e6:.2f} MB) in {total:.2f} s ({phases})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m visualize", description="Glassjax's renderers from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "report",
        help="write the static HTML report of a function",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("target", help="SCRIPT.py:FUNCTION or MODULE:FUNCTION")
    rep.add_argument("--args", help="the example arguments, as Python call arguments")
    rep.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="where to write the page (default: report.html)",
    )
    rep.add_argument("--title", help="the page's title")
    rep.add_argument(
        "--theme",
        choices=("light", "dark"),
        help="fix the theme (default: follow the system, with a toggle in the page)",
    )
    rep.add_argument("--device", help="platform to compile and time on (cpu, gpu, ...)")
    rep.add_argument("--repeats", type=int, default=30, help="timed runs (0: do not time)")
    rep.add_argument("--no-profile", action="store_true", help="skip per-kernel times")
    rep.add_argument("--no-passes", action="store_true", help="skip the pass-by-pass compile")
    opts = parser.parse_args(argv)
    if opts.command == "report":
        return _report_command(opts)
    return 2


if __name__ == "__main__":
    sys.exit(main())
