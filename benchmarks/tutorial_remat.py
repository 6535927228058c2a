"""JAX's "Gradient checkpointing with jax.checkpoint" tutorial (docs/gradient-checkpointing.md
in jax-ml/jax, tag jax-v0.10.2) cell by cell through the engine and through real JAX.

    .venv/bin/python benchmarks/tutorial_remat.py PATH/TO/gradient-checkpointing.md [-v]

The tutorial's text is read from the given path (see tutorial_cells.py for how cells run
and compare). Exit status 0 when every cell run gives JAX's output.
"""

from __future__ import annotations

import sys

from tutorial_cells import main

TITLE = "Gradient checkpointing (jax.checkpoint), engine vs JAX"

# Why a cell differs, by file:line of its fence (the tutorial at jax-v0.10.2).
NOTES: dict[str, str] = {
    "gradient-checkpointing.md:350": (
        "JAX's cell reuses JAX's cached trace of `loss` from cell 18, made before cell 19 "
        "redefined the global `predict` with checkpoint_name, so JAX sees no names and saves "
        "none; the engine retraces and saves 'layer0_output' (what JAX saves too when `loss` "
        "was not traced before: checked in a fresh process)"
    ),
    "gradient-checkpointing.md:382": (
        "JAX-only internals: the cell imports jax._src.test_util (the engine has no _src; "
        "real JAX fails on it here too, for want of absl); it only defines a function"
    ),
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], TITLE, NOTES))
