"""Runs a JAX tutorial (a MyST markdown file from jax-ml/jax's docs/) cell by cell through
the engine and through real JAX, and compares what each cell shows.

The tutorial is read from the path given on the command line; nothing of its text lives in
this repository. Each code cell runs twice, in two namespaces that persist from cell to
cell as in a notebook: once with every ``import jax...`` redirected to ``engine...``, once
with real JAX. A cell's record is what it printed (stdout, then stderr, where logging
writes), the repr of its last expression (as a notebook shows it, ``;`` silencing it) and,
where it raised, the exception's class and first line. Plotting and ``rich`` tables are
replaced by stand-ins that print what would be drawn (the same stand-ins for both runs).

The per-tutorial scripts (``tutorial_remat.py``, ``tutorial_debugging.py``, ...) call
:func:`main` with their notes on the cells known to differ, and say why. The tutorials'
files come from a clone of jax-ml/jax at the tag of the installed JAX, e.g.
``git -C jax show jax-v0.10.2:docs/gradient-checkpointing.md > /tmp/gradient-checkpointing.md``.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import functools
import importlib
import io
import logging
import random
import re
import sys
import tempfile
import textwrap
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass
class Cell:
    index: int  # position among the runnable cells, from 0
    source: str
    path: str
    line: int  # 1-based line of the fence in the markdown file
    tags: tuple[str, ...] = ()


@dataclass
class Record:
    text: str  # stdout, stderr and the shown value
    error: str | None = None  # "Class: first line"


@dataclass
class Row:
    cell: Cell
    verdict: str  # exact / close / DIFFERS / ERROR / skipped
    note: str = ""
    engine: Record | None = None
    jax: Record | None = None
    extra: dict = field(default_factory=dict)


_FENCE = re.compile(r"^```\{code-cell\}")
_PY_FENCE = re.compile(r"^```python\s*$")


def read_cells(path: str | Path, python_blocks: bool = False) -> list[Cell]:
    """The code cells of a MyST notebook, in order (``python_blocks``: plain ```python
    blocks too, which JAX's docs show but do not execute)."""
    lines = Path(path).read_text().splitlines()
    cells: list[Cell] = []
    i = 0
    while i < len(lines):
        is_cell = bool(_FENCE.match(lines[i]))
        if not (is_cell or (python_blocks and _PY_FENCE.match(lines[i]))):
            i += 1
            continue
        start, i, tags = i + 1, i + 1, ()
        if is_cell and i < len(lines) and lines[i].strip() == "---":  # YAML options block
            i += 1
            while i < len(lines) and lines[i].strip() != "---":
                tags += _tags(lines[i])
                i += 1
            i += 1
        while is_cell and i < len(lines) and lines[i].startswith(":"):  # short options
            tags += _tags(lines[i])
            i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        cells.append(Cell(len(cells), "\n".join(body), str(path), start, tags))
    return cells


def _tags(option_line: str) -> tuple[str, ...]:
    m = re.match(r"\s*:?tags:\s*\[(.*)\]", option_line)
    return tuple(t.strip().strip("'\"") for t in m.group(1).split(",")) if m else ()


# ---------------------------------------------------------------------------- stand-ins


class _Pyplot(types.ModuleType):
    """matplotlib.pyplot: prints a sample of what would be plotted."""

    def plot(self, *arrays, **kwargs):
        for a in arrays:
            a = np.asarray(a)
            sample = a[:: max(1, a.shape[0] // 9)] if a.ndim else a
            print(f"plot {a.shape} {a.dtype}: {np.array2string(sample, precision=5)}")

    def __getattr__(self, name):
        if name.startswith("__"):  # inspect.getmodule probes __file__ on every module
            raise AttributeError(name)
        return lambda *a, **k: None


class _Table:
    def __init__(self, *args, **kwargs):
        self.rows: list[tuple[str, ...]] = []

    def add_row(self, *cells):
        self.rows.append(tuple(str(c) for c in cells))


class _Console:
    def print(self, *objs):
        for obj in objs:
            for row in getattr(obj, "rows", [[str(obj)]]):
                for text in row:
                    print(text)


def _stand_in_modules() -> dict[str, types.ModuleType]:
    mpl, plt = types.ModuleType("matplotlib"), _Pyplot("matplotlib.pyplot")
    mpl.pyplot = plt
    rich = types.ModuleType("rich")
    console, table, text = (types.ModuleType(f"rich.{n}") for n in ("console", "table", "text"))
    console.Console, table.Table = _Console, _Table
    text.Text = type("Text", (), {"from_ansi": staticmethod(lambda s: s)})
    rich.console, rich.table, rich.text = console, table, text
    return {
        "matplotlib": mpl,
        "matplotlib.pyplot": plt,
        "rich": rich,
        "rich.console": console,
        "rich.table": table,
        "rich.text": text,
    }


# ---------------------------------------------------------------------------- running


def _importer(backend: str):
    real = builtins.__import__

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        if backend == "engine" and level == 0 and (name == "jax" or name.startswith("jax.")):
            name = "engine" + name[3:]
        return real(name, globals, locals, fromlist, level)

    return imp


def _barrier(backend: str) -> None:
    mod = sys.modules.get("engine" if backend == "engine" else "jax")
    if mod is not None and hasattr(mod, "effects_barrier"):
        mod.effects_barrier()


def _strip_magics(src: str) -> str:
    return "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))


def run(cells: list[Cell], backend: str, skip: set[int]) -> dict[int, Record]:
    """Each cell's record under one backend ("engine" or "jax"), in one namespace."""
    # the engine turns jaxlib's Python tracebacks off when imported before JAX, and JAX's
    # source locations (print_saved_residuals, errors) are read from them
    import jaxlib

    enable = getattr(getattr(jaxlib, "_jax", None), "set_tracebacks_enabled", None)
    if enable is not None:
        enable(True)
    bi = dict(vars(builtins))
    bi["__import__"] = _importer(backend)
    ns: dict = {"__builtins__": bi, "__name__": "__main__"}
    saved = {k: sys.modules.get(k) for k in _stand_in_modules()}
    # logging.warning() installs a root handler on the stream of the moment (this run's)
    root_handlers = logging.root.handlers[:]
    sys.modules.update(_stand_in_modules())
    records = {}
    # unseeded np.random draws in a tutorial: the same for both runs (importing JAX draws
    # from numpy's global generator, so the backend is imported first)
    importlib.import_module("engine.numpy" if backend == "engine" else "jax.numpy")
    np.random.seed(0)
    random.seed(0)
    saved_show = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        for cell in cells:
            if cell.index in skip:
                continue
            records[cell.index] = _run_cell(cell, backend, ns)
    finally:
        warnings.showwarning = saved_show
        logging.root.handlers[:] = root_handlers
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return records


_LIBRARY_FILE = re.compile(r"[/\\](?:site-packages[/\\]jax(?:lib)?|engine)[/\\]")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Python's warning line, but a warning raised inside JAX or the engine is said to come
    from "<library>" (which library file warns is not what a tutorial shows)."""
    if _LIBRARY_FILE.search(str(filename)):
        text = f"<library>: {category.__name__}: {message}\n"
    else:
        text = warnings.formatwarning(message, category, filename, lineno, line)
    (file or sys.stderr).write(text)


@functools.cache
def _cell_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="tutorial_cells_"))


def _run_cell(cell: Cell, backend: str, ns: dict) -> Record:
    src = _strip_magics(textwrap.dedent(cell.source))
    # a real file, as ipykernel writes, the same for both runs: source lines compare equal
    filename = str(_cell_dir() / f"cell{cell.index}.py")
    Path(filename).write_text(src)
    out, err = io.StringIO(), io.StringIO()
    error = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        old_stdin, sys.stdin = sys.stdin, io.StringIO("")  # a debugger prompt reads EOF
        try:
            tree = ast.parse(src, filename)
            last = None
            silenced = src.rstrip().endswith(";")
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, filename, "exec"), ns)
            if last is not None:
                val = eval(compile(last, filename, "eval"), ns)
                _barrier(backend)
                if val is not None and not silenced:
                    print(f"Out: {val!r}")
            _barrier(backend)
        except BaseException as e:  # noqa: BLE001 - a failing cell is recorded, the next runs
            if isinstance(e, KeyboardInterrupt):
                raise
            with contextlib.suppress(Exception):
                _barrier(backend)
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            error = f"{type(e).__name__}: {first}"
        finally:
            sys.stdin = old_stdin
    text = out.getvalue()
    if err.getvalue():
        text += "[stderr]\n" + err.getvalue()
    return Record(text, error)


# ---------------------------------------------------------------------------- comparing

_NUM = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?|nan|-?inf")
_ADDR = re.compile(r" at 0x[0-9a-f]+")


# a traceback's frame in JAX's or the engine's own files (with its source and caret
# lines): which internal function of which library called what is not what a page shows
_LIBRARY_FRAME = re.compile(
    r'^  File "[^"]*' + _LIBRARY_FILE.pattern + r'[^"]*", line \d+, in .*\n(?:    .*\n)*', re.M
)


def _normalize(text: str) -> str:
    text = _LIBRARY_FRAME.sub('  File "<library>"\n', _ADDR.sub(" at 0x…", text))
    return re.sub(r'(?:  File "<library>"\n)+', '  File "<library>"\n', text)


def compare_text(ours: str, theirs: str) -> str:
    """'exact' (object addresses aside), 'close' (the same text but for the last digits of
    floats: values within rtol 1e-4), or 'DIFFERS'."""
    ours, theirs = _normalize(ours), _normalize(theirs)
    if ours == theirs:
        return "exact"
    a, b = _NUM.findall(ours), _NUM.findall(theirs)
    squash = lambda s: re.sub(r"\s+", "", _NUM.sub("#", s))  # noqa: E731 - numpy pads by width
    if len(a) == len(b) and squash(ours) == squash(theirs):
        fa, fb = [float(x) for x in a], [float(x) for x in b]
        if np.allclose(fa, fb, rtol=1e-4, atol=1e-6, equal_nan=True):
            return "close"
    return "DIFFERS"


def _same_error(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    # the class and the key phrase: the first line up to where user-specific parts start
    return a.split(":")[0] == b.split(":")[0] and a[:60] == b[:60]


def where(cell: Cell) -> str:
    """``file.md:line`` of the cell's fence: how the scripts' notes name a cell."""
    return f"{Path(cell.path).name}:{cell.line}"


def compare(cells, eng, ref, skip: dict[int, str], notes: dict[str, str]) -> list[Row]:
    rows = []
    for cell in cells:
        if cell.index in skip:
            rows.append(Row(cell, "skipped", skip[cell.index]))
            continue
        e, j = eng[cell.index], ref[cell.index]
        if e.error is not None and j.error is None:
            verdict = "ERROR"
        elif not _same_error(e.error, j.error):
            verdict = "DIFFERS"
        else:
            verdict = compare_text(e.text, j.text)
        note = notes.get(where(cell), "") if verdict in ("DIFFERS", "ERROR") else ""
        rows.append(Row(cell, verdict, note, e, j))
    return rows


def report(title: str, rows: list[Row], verbose: bool = False) -> tuple[int, int]:
    """Prints one line per cell and a summary; returns (matching, run) cell counts."""
    print(title)
    for r in rows:
        first = textwrap.shorten(
            r.cell.source.strip().splitlines()[0] if r.cell.source.strip() else "", 50
        )
        print(f"cell {r.cell.index:2d} {r.verdict:8s} {where(r.cell):<36} {first}")
        if r.note:
            print(f"         why: {r.note}")
        if r.engine is not None and (verbose or r.verdict in ("DIFFERS", "ERROR")):
            e, j = r.engine, r.jax
            shown = f"engine:\n{e.text}{e.error or ''}\njax:\n{j.text}{j.error or ''}"
            print(textwrap.indent(shown, "    | "))
    ran = [r for r in rows if r.verdict != "skipped"]
    same = sum(r.verdict in ("exact", "close") for r in ran)
    explained = sum(r.verdict in ("DIFFERS", "ERROR") and bool(r.note) for r in ran)
    print(
        f"\n{same}/{len(ran)} cells run give JAX's output; {len(ran) - same} differ "
        f"({explained} with a known reason); {len(rows) - len(ran)} skipped"
    )
    return same, len(ran)


def main(
    argv: list[str] | None,
    title: str,
    notes: dict[str, str] | None = None,
    skip: dict[int, str] | None = None,
    python_blocks: bool = False,
) -> int:
    """Command line of a per-tutorial script: ``script.py PATH.md [PATH.md ...] [-v]``.

    ``notes``: why a cell is known to differ, by ``file.md:line`` of its fence (as the
    report prints it); ``skip``: cells not run (by index), and why.
    Cells tagged ``skip-execution`` in JAX's docs are skipped too (JAX's docs never run them).
    """
    ap = argparse.ArgumentParser(description=title)
    ap.add_argument("paths", nargs="+", help="the tutorial's markdown file(s), from jax-ml/jax")
    ap.add_argument("-v", "--verbose", action="store_true", help="show both outputs per cell")
    ap.add_argument(
        "--python-blocks",
        action="store_true",
        default=python_blocks,
        help="also run the ```python blocks (shown, not executed, in JAX's docs)",
    )
    args = ap.parse_args(argv)
    cells: list[Cell] = []
    for p in args.paths:
        for c in read_cells(p, python_blocks=args.python_blocks):
            c.index = len(cells)
            cells.append(c)
    skip = dict(skip or {})
    for c in cells:
        if "skip-execution" in c.tags:
            skip.setdefault(
                c.index, "tagged skip-execution in JAX's docs (needs a debugger prompt)"
            )
    eng = run(cells, "engine", set(skip))
    ref = run(cells, "jax", set(skip))
    rows = compare(cells, eng, ref, skip, notes or {})
    same, ran = report(title, rows, args.verbose)
    return 0 if same == ran else 1
