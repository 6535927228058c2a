"""JAX's debugging tutorials (docs/debugging.md, and docs/debugging/flags.md and
docs/debugging/print_breakpoint.md in jax-ml/jax, tag jax-v0.10.2) cell by cell through
the engine and through real JAX.

    .venv/bin/python benchmarks/tutorial_debugging.py PATH/debugging.md [PATH/flags.md ...] [-v]
    .venv/bin/python benchmarks/tutorial_debugging.py --python-blocks PATH/print_breakpoint.md

The tutorials' text is read from the given paths (see tutorial_cells.py for how cells
run and compare). ``--python-blocks`` also runs the ```python blocks, which JAX's docs
show without running (print_breakpoint.md has only those). Exit status 0 when every cell
run gives JAX's output.
"""

from __future__ import annotations

import sys

from tutorial_cells import main

TITLE = "Debugging (jax.debug, debug flags), engine vs JAX"

# Why a cell differs, by file:line of its fence (the tutorials at jax-v0.10.2).
NOTES: dict[str, str] = {
    "debugging.md:92": (
        "timing/scheduling: lax.map's unordered prints come in the order XLA schedules them; "
        "the engine's are in program order (x, y per element, what the tutorial's text "
        "describes), JAX 0.10.2's module runs each y print before its x print"
    ),
    "flags.md:44": (
        "the same exception (class and message), but: JAX also prints its de-optimization "
        "note (JAX's eager ops are jit functions); the engine's message adds the user's line "
        "('The problem arose at file:line (f)'), and its traceback-filtering note is in its "
        "own words"
    ),
    "flags.md:63": "JAX prints its de-optimization note twice: its eager ops are jit functions too",
    # print_breakpoint.md's ```python blocks (run with --python-blocks)
    "print_breakpoint.md:51": (
        "timing/scheduling: as debugging.md:92 (lax.map's unordered prints in XLA's order "
        "in JAX, in program order in the engine); vmap's prints are the same"
    ),
    "print_breakpoint.md:245": (
        "needs an interactive debugger: a breakpoint is reached; JAX's jdb prompt reads EOF "
        "here and quits, the engine raises NotImplementedError (both end in JaxRuntimeError)"
    ),
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], TITLE, NOTES))
