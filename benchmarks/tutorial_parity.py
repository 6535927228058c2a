"""JAX's tutorials, each cell through the engine and through real JAX: a table of how many
cells per tutorial show what JAX shows.

    .venv/bin/python benchmarks/tutorial_parity.py --jax-repo PATH/TO/jax [--tag jax-v0.10.2]
    .venv/bin/python benchmarks/tutorial_parity.py PATH/TO/docs/jaxpr.md [...] [-v]

With ``--jax-repo`` the tutorials in :data:`TUTORIALS` are read from a clone of jax-ml/jax
at the tag (``git show``, nothing checked out); otherwise from the paths given. Cells run
and compare as in ``tutorial_cells.py`` (its runner, imported). Each tutorial runs in its
own process, so one tutorial's config (``jax_enable_x64``) or caches never reach the next.
Pages written as doctests (``>>>`` prompts in ```python blocks: aot.md, default_dtypes.md)
become one cell per prompt, with a preamble cell that imports what JAX's doctest run
provides. Cells known to differ for a reason that is not an engine bug carry a note
(:data:`NOTES`); cells that need a network or a data set are skipped (:data:`SKIP`).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tutorial_cells import Cell, compare, read_cells, report, run, where

# Under docs/ at the tag. advanced_autodiff.md is only a table of contents (no cells), and
# working-with-pytrees.md does not exist at jax-v0.10.2 (pytrees.md holds that text).
TUTORIALS = [
    "key-concepts.md",
    "jit-compilation.md",
    "automatic-differentiation.md",
    "automatic-vectorization.md",
    "jaxpr.md",
    "control-flow.md",
    "random-numbers.md",
    "pytrees.md",
    "custom_pytrees.md",
    "stateful-computations.md",
    "tracing.md",
    "aot.md",
    "buffer_donation.md",
    "higher-order.md",
    "jacobian-vector-products.md",
    "complex-differentiation.md",
    "default_dtypes.md",
    "notebooks/autodiff_cookbook.md",
    "notebooks/Common_Gotchas_in_JAX.md",
    "notebooks/thinking_in_jax.md",
    "notebooks/Writing_custom_interpreters_in_Jax.md",
    "notebooks/Neural_Network_and_Data_Loading.md",
    "notebooks/autodiff_remat.md",
    "autodidax2_part1.md",
    "array_refs.md",
    "jax-primitives.md",
    "notebooks/host-offloading.md",
    "notebooks/layout.md",
    "distributed_data_loading.md",
    "export/export.md",
    "export/shape_poly.md",
    "persistent_compilation_cache.md",
    "debugging/checkify_guide.md",
    "debugging/print_breakpoint.md",
    "internals/constants.md",
    "benchmarking.md",
    "direct_linearize_migration.md",
    "migrate_pmap.md",
    "multi_process.md",
    "debugging.md",
    "debugging/flags.md",
    "external-callbacks.md",
    "gradient-checkpointing.md",
    "notebooks/Custom_derivative_rules_for_Python_code.md",
    "notebooks/convolutions.md",
    "notebooks/vmapped_log_probs.md",
    # _tutorials/{advanced-compilation,advanced-debugging,parallelism,
    # profiling-and-performance,simple-neural-network}.md are placeholders (a note, no cells)
]

# Pages whose examples are ```python blocks (doctests or plain), not executed cells.
BLOCK_PAGES = {
    "aot.md",
    "buffer_donation.md",
    "default_dtypes.md",
    "export.md",
    "shape_poly.md",
    "persistent_compilation_cache.md",
    "checkify_guide.md",
    "print_breakpoint.md",
    "constants.md",
    "benchmarking.md",
    "direct_linearize_migration.md",
    "migrate_pmap.md",
    "multi_process.md",
}

# What JAX's doctest run (or the page's prose) assumes is imported.
PREAMBLE = "import jax\nimport jax.numpy as jnp\nimport numpy as np\n"
PREAMBLES = {
    "buffer_donation.md": PREAMBLE + "from typing import List\nfrom jax import Array\n",
}

# Why a cell differs though the engine is right, by file:line of the cell (as printed).
NOTES: dict[str, str] = {
    "thinking_in_jax.md:102": (
        "type(x) names the class: the engine's is engine.array.Array, JAX's is jaxlib's "
        "C++ ArrayImpl"
    ),
    "buffer_donation.md:62": (
        "JAX's C++ dispatch path (a cache hit) hands the deleted buffer to PJRT, which "
        "raises ValueError 'INVALID_ARGUMENT: ... Buffer has been deleted or donated'; "
        "the engine checks first and raises what JAX's Python path raises (RuntimeError "
        "'Array has been deleted', as in the next cell)"
    ),
    "custom_pytrees.md:233": (
        "both fail, as the tutorial says, but at different points: JAX's jacobian first "
        "unflattens the argument's structure with None leaves (an internal step), so "
        "MyTree(None) raises ValueError from jnp.asarray(None); the engine fails later, "
        "at the tree of trees the tutorial describes (MyTree(MyTree(...)), a TypeError)"
    ),
    "Writing_custom_interpreters_in_Jax.md:77": (
        "prints jaxpr variables' reprs, which hold object ids (JAX: Var(id=1400...)); "
        "ids differ from run to run"
    ),
    **{
        f"jax-primitives.md:{line}": (
            "the lowering rule prints its context: JAX's LoweringRuleContext repr spells out "
            "JAX's own ModuleContext (jax._src.interpreters.mlir.JaxIrContext, its lowering "
            "cache, TokenSet, ...); everything else the cell prints is the same"
        )
        for line in (311, 317, 395, 595)
    },
    "jax-primitives.md:533": (
        "the lowering rule prints its context (JAX's ModuleContext repr, see :311); and under "
        "jit JAX hands the rules its constants (full_like's 0.0, grad's 1.0 seed) as "
        "JitTracers that become literals, the engine as values (same jaxpr)"
    ),
    "jax-primitives.md:275": (
        "JAX chains a jax._src.source_info_util.JaxStackTraceBeforeTransformation (the "
        "equation's traceback) as the cause of a lowering error; the engine names the line "
        "in a note"
    ),
    "jax-primitives.md:414": (
        "JAX's printed traceback chain shows its own files (jax/_src/interpreters/ad.py's "
        "KeyError) and the caller's frames, and its first linearize of the primitive "
        "re-binds the linear jaxpr's two equations (two more shape-rule calls); the error "
        "itself is the same"
    ),
    **{
        f"jax-primitives.md:{line}": (
            "same error and traceback; the engine's filtered-traceback note is its own "
            "wording and names the user's line (engine/traceback_util.py)"
        )
        for line in (233, 328, 541)
    },
    "gradient-checkpointing.md:382": (
        "both fail at the import of jax._src.test_util (JAX's private test helpers, for "
        "jtu.create_mesh): JAX's imports absl, which this environment lacks "
        "(ModuleNotFoundError); the engine has no such private module (ImportError). The "
        "cell only defines a function the page never calls"
    ),
}

# Cells not run, by file:line, and why.
SKIP: dict[str, str] = {
    **{
        f"Neural_Network_and_Data_Loading.md:{line}": (
            "needs torch/torchvision and downloads MNIST (no network here)"
        )
        for line in (189, 210, 219, 237)
    },
}


# ---------------------------------------------------------------------------- reading


def _complete(src: str) -> bool:
    try:
        ast.parse(src)
    except SyntaxError:
        return False
    return True


def read_block_cells(path: str | Path) -> list[Cell]:
    """The examples of a page written as ```python blocks: a doctest block gives one cell per
    ``>>>`` prompt (its expected output dropped; ``+SKIP`` examples left out), a plain block
    gives one cell."""
    lines = Path(path).read_text().splitlines()
    cells: list[Cell] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```") or lines[i].strip() not in ("```python", "```"):
            i += 1
            continue
        fence, i = lines[i].strip(), i + 1
        start = i
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        body = lines[start:i]
        i += 1
        if any(ln.startswith(">>>") for ln in body):
            cells += _doctest_cells(body, str(path), start)
        elif fence == "```python":
            cells.append(Cell(len(cells), "\n".join(body), str(path), start))
    for n, c in enumerate(cells):
        c.index = n
    return cells


def _doctest_cells(body: list[str], path: str, first_line: int) -> list[Cell]:
    cells: list[Cell] = []
    src: list[str] | None = None
    line = 0
    for k, ln in enumerate(body):
        stripped = ln.rstrip()
        if stripped.startswith(">>>"):
            if src is not None:
                cells.append(Cell(0, "\n".join(src), path, line))
            src, line = [stripped[4:]], first_line + k + 1
        elif (
            src is not None
            and (stripped.startswith("... ") or stripped == "...")
            and not _complete("\n".join(src))
        ):
            src.append(stripped[4:])
        elif src is not None:  # expected output ends the example
            cells.append(Cell(0, "\n".join(src), path, line))
            src = None
    if src is not None:
        cells.append(Cell(0, "\n".join(src), path, line))
    return [
        c
        for c in cells
        if "doctest: +SKIP" not in c.source and not c.source.lstrip().startswith("#")
    ]


def tutorial_cells(path: str | Path) -> list[Cell]:
    name = Path(path).name
    cells = read_block_cells(path) if name in BLOCK_PAGES else read_cells(path)
    if name in BLOCK_PAGES:
        cells.insert(0, Cell(0, PREAMBLES.get(name, PREAMBLE), str(path), 0, ("preamble",)))
    for n, c in enumerate(cells):
        c.index = n
    return cells


# ---------------------------------------------------------------------------- running


def run_one(path: str, verbose: bool) -> tuple[int, int, int]:
    """Runs one tutorial in this process; prints its per-cell report. Returns (matching,
    run, skipped) cell counts."""
    cells = tutorial_cells(path)
    skip = {c.index: SKIP[where(c)] for c in cells if where(c) in SKIP}
    for c in cells:
        if "skip-execution" in c.tags:
            skip.setdefault(c.index, "tagged skip-execution in JAX's docs")
    eng = run(cells, "engine", set(skip))
    ref = run(cells, "jax", set(skip))
    rows = compare(cells, eng, ref, skip, NOTES)
    same, ran = report(f"== {Path(path).name}", rows, verbose)
    explained = sum(r.verdict in ("DIFFERS", "ERROR") and bool(r.note) for r in rows)
    print("RESULT " + json.dumps([same, ran, len(rows) - ran, explained]))
    return same, ran, len(rows) - ran


def _from_repo(repo: str, tag: str, into: Path) -> list[str]:
    paths = []
    for rel in TUTORIALS:
        text = subprocess.run(
            ["git", "-C", repo, "show", f"{tag}:docs/{rel}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        dest = into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        paths.append(str(dest))
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="tutorial markdown files from jax-ml/jax's docs/")
    ap.add_argument("--jax-repo", help="a clone of jax-ml/jax to read TUTORIALS from")
    ap.add_argument("--tag", default="jax-v0.10.2", help="the tag to read (default %(default)s)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show both outputs per cell")
    ap.add_argument("-q", "--quiet", action="store_true", help="print the table only")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per tutorial")
    args = ap.parse_args(argv)
    if args.one:
        run_one(args.paths[0], args.verbose)
        return 0
    with tempfile.TemporaryDirectory(prefix="tutorial_parity_") as tmp:
        paths = list(args.paths)
        if args.jax_repo:
            paths += _from_repo(args.jax_repo, args.tag, Path(tmp))
        if not paths:
            ap.error("give tutorial paths or --jax-repo")
        table = [_child(p, args) for p in paths]
    print(f"\n{'tutorial':<42} {'match':>7} {'run':>4}  differ(explained)  skipped")
    total_same = total_ran = 0
    for name, result in table:
        if result is None:
            print(f"{name:<42} {'failed':>7}")
            continue
        same, ran, skipped, explained = result
        total_same, total_ran = total_same + same, total_ran + ran
        print(f"{name:<42} {same:>7} {ran:>4}  {ran - same:>6}({explained})  {skipped:>12}")
    print(f"{'all':<42} {total_same:>7} {total_ran:>4}")
    return 0 if total_same == total_ran and all(r for _, r in table) else 1


def _child(path: str, args) -> tuple[str, list[int] | None]:
    cmd = [sys.executable, __file__, "--one", path] + (["-v"] if args.verbose else [])
    name = Path(path).name
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"== {name}: timed out after {args.timeout} s")
        return name, None
    out = proc.stdout
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not args.quiet:
        print(re.sub(r"^RESULT .*\n?", "", out, flags=re.M), end="")
        if proc.returncode or m is None:
            print(proc.stderr[-3000:])
    sys.stdout.flush()
    return name, json.loads(m.group(1)) if m else None


if __name__ == "__main__":
    sys.exit(main())
