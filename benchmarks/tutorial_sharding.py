"""JAX's sharding tutorials, cell by cell, through the engine and through real JAX.

The tutorials are read from MyST markdown files given on the command line (they are not
copied into this repository): JAX 0.10.2's "Introduction to parallel programming"
(docs/parallel.md; docs/sharded-computation.md redirects there) and its shard_map
tutorial (docs/notebooks/shard_map.md), both from jax-ml/jax at tag jax-v0.10.2.

Each tutorial runs twice, in two fresh subprocesses: once with every ``import jax...``
redirected to ``engine...`` and once with real JAX. Each starts with 8 CPU devices
(``jax_num_cpu_devices`` set before the first cell, as the tutorial's own setup cell
does) and keeps one namespace from cell to cell, as a notebook does. A cell's record is
what it printed, the repr of its last expression (as a notebook shows it) and, where
it raised, the exception's class and message. The records are compared cell by cell.

JAX's ``visualize_array_sharding`` needs the ``rich`` package; pass its location with
``--jax-path DIR`` (added to the JAX run's ``sys.path``) when the environment lacks it
(``pip install --target DIR rich``); without it those cells differ only in JAX's
"requires `rich`" error.

    .venv/bin/python benchmarks/tutorial_sharding.py PATH.md [PATH.md ...] [-v]

Prints one line per cell (file:line of its fence; exact / close / DIFFERS / ERROR /
both-raise), the known reason for a cell that differs (NOTES) or both outputs, and a
summary per tutorial; exit status 0 when every cell matches.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NUM_DEVICES = 8


def read_cells(path: str) -> list[tuple[int, str]]:
    """The code cells of a MyST markdown notebook, in order, without their option lines:
    (1-based line of the fence, source)."""
    cells, current, fence = [], None, 0
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if current is None:
            if line.startswith("```{code-cell}"):
                current, fence = [], number
            continue
        if line.startswith("```") and line.strip() == "```":
            cells.append((fence, _strip_options(current)))
            current = None
        else:
            current.append(line)
    return cells


def _strip_options(lines: list[str]) -> str:
    if lines and lines[0].strip() == "---":  # a YAML options block
        end = lines.index("---", 1)
        lines = lines[end + 1 :]
    while lines and lines[0].startswith(":"):  # ":tags: [...]" short options
        lines = lines[1:]
    return "\n".join(lines)


_NEEDS_RICH = (
    "JAX's visualize_array_sharding needs the rich package (not in .venv): JAX raises "
    "ValueError; with rich on --jax-path the cell equals JAX's"
)

# Why a cell is known to differ, by file:line of its code-cell fence at tag jax-v0.10.2
# (docs/parallel.md, docs/notebooks/shard_map.md; sharded-computation.md at d3f9ee6^).
NOTES: dict[str, str] = {
    "parallel.md:92": _NEEDS_RICH,
    "parallel.md:207": _NEEDS_RICH,
    "parallel.md:229": _NEEDS_RICH,
    "parallel.md:235": _NEEDS_RICH,
    "parallel.md:254": _NEEDS_RICH,
    "shard_map.md:104": _NEEDS_RICH,
    "shard_map.md:136": _NEEDS_RICH,
    "shard_map.md:454": (
        "JAX's message names its internal wrapper '_rem_singleton' (its eager shard_map "
        "moves results through one) as the function; the engine names the user's "
        "('<lambda>'); the rest is identical"
    ),
}

# ------------------------------------------------------------------------------ worker side


def _importer(backend: str):
    real = builtins.__import__

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        if backend == "engine" and level == 0 and (name == "jax" or name.startswith("jax.")):
            name = "engine" + name[3:]
        return real(name, globals, locals, fromlist, level)

    return imp


def _display(val) -> str:
    """What a notebook shows for a cell's last expression."""
    return f"Out: {val!r}"


def run_cells(backend: str, cells: list[str]) -> list[dict]:
    if backend == "engine":
        import engine

        engine.config.update("jax_num_cpu_devices", NUM_DEVICES)
    else:
        import jax

        jax.config.update("jax_num_cpu_devices", NUM_DEVICES)
    bi = dict(vars(builtins))
    bi["__import__"] = _importer(backend)
    ns = {"__builtins__": bi, "__name__": "__main__"}
    records = []
    for src in cells:
        tree = ast.parse(textwrap.dedent(src))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        buf = io.StringIO()
        rec = {"kind": "ok"}
        try:
            with contextlib.redirect_stdout(buf):
                exec(compile(tree, "<cell>", "exec"), ns)
                if last is not None:
                    val = eval(compile(last, "<cell>", "eval"), ns)
                    if val is not None:
                        print(_display(val))
        except Exception as e:  # a failing cell is recorded; the next ones still run
            rec = {"kind": "error", "error": f"{type(e).__name__}: {e}"}
            rec["where"] = "".join(traceback.format_exception(e)[-3:])
        rec["out"] = buf.getvalue()
        records.append(rec)
    return records


def _worker(backend: str, path: str, out: str) -> None:
    records = run_cells(backend, [src for _, src in read_cells(path)])
    Path(out).write_text(json.dumps(records))


# ------------------------------------------------------------------------------ comparing

_NUM = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?|nan|-?inf")
_ADDR = re.compile(r" at 0x[0-9a-f]+")
# a default object repr names the module that implements the class: keep only the class
_MODULE_PATH = re.compile(r"<(?:[A-Za-z_][\w]*\.)+(\w+ object at 0x)")


def compare_text(ours: str, theirs: str) -> str:
    """'exact' (object addresses aside), 'close' (the same text but for float digits
    within rtol 1e-4, the last printed digit of a float32), or 'DIFFERS'."""
    ours, theirs = (_ADDR.sub(" at 0x…", _MODULE_PATH.sub(r"<\1", t)) for t in (ours, theirs))
    if ours == theirs:
        return "exact"
    a, b = _NUM.findall(ours), _NUM.findall(theirs)
    norm = lambda s: re.sub(r"\s+", " ", _NUM.sub("#", s)).strip()  # noqa: E731
    if norm(ours) == norm(theirs) and len(a) == len(b):
        fa, fb = [float(x) for x in a], [float(x) for x in b]
        if np.allclose(fa, fb, rtol=1e-4, atol=1e-6, equal_nan=True):
            return "close"
    return "DIFFERS"


def compare_cell(eng: dict, ref: dict) -> str:
    if eng["kind"] == "error" and ref["kind"] != "error":
        return "ERROR"
    if eng["kind"] != ref["kind"]:
        return "DIFFERS"  # JAX raised, the engine did not
    verdict = compare_text(eng["out"], ref["out"])
    if eng["kind"] == "error" and verdict != "DIFFERS":
        same_class = eng["error"].split(":")[0] == ref["error"].split(":")[0]
        verdict = "both-raise" if same_class else "DIFFERS"
    return verdict


def run_backend(backend: str, path: str, jax_path: str | None, timeout: float) -> list[dict]:
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(REPO))
    if backend == "jax" and jax_path:
        env["PYTHONPATH"] += os.pathsep + jax_path
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "records.json")
        cmd = [sys.executable, __file__, "--worker", backend, path, "--out", out]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"the {backend} run of {path} failed:\n{proc.stderr[-4000:]}")
        return json.loads(Path(out).read_text())


def report(path: str, jax_path: str | None, verbose: bool, timeout: float) -> bool:
    cells = read_cells(path)
    eng = run_backend("engine", path, jax_path, timeout)
    ref = run_backend("jax", path, jax_path, timeout)
    counts: dict[str, int] = {}
    explained = 0
    print(f"== {path}")
    for i, ((fence, src), e, j) in enumerate(zip(cells, eng, ref), start=1):
        verdict = compare_cell(e, j)
        counts[verdict] = counts.get(verdict, 0) + 1
        first = next((ln for ln in src.splitlines() if ln.strip()), "")
        where = f"{Path(path).name}:{fence}"
        print(f"cell {i:2d} {where:22s} {verdict:10s} {textwrap.shorten(first, 50)}")
        note = NOTES.get(where) if verdict in ("DIFFERS", "ERROR") else None
        if note:
            explained += 1
            print(f"    known: {note}")
        if verbose or (verdict in ("DIFFERS", "ERROR") and not note):
            shown = [f"engine:\n{e['out']}{e.get('error', '')}"]
            shown.append(f"jax:\n{j['out']}{j.get('error', '')}")
            if verbose and e["kind"] == "error":
                shown.append(f"engine raised at:\n{e['where']}")
            print(textwrap.indent("\n".join(shown), "    | "))
    matched = sum(counts.get(k, 0) for k in ("exact", "close", "both-raise"))
    print(
        f"{matched}/{len(cells)} cells match JAX; {len(cells) - matched} differ "
        f"({explained} with a known reason) {counts}\n"
    )
    return matched == len(cells)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="tutorial .md files (MyST)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--jax-path", help="a folder added to the JAX run's path (for rich)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.paths[0], args.out)
        return 0
    ok = [report(p, args.jax_path, args.verbose, args.timeout) for p in args.paths]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
