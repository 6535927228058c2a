"""JAX's "External callbacks" tutorial (docs/external-callbacks.md in jax-ml/jax, tag
jax-v0.10.2) cell by cell through the engine and through real JAX.

    .venv/bin/python benchmarks/tutorial_callbacks.py PATH/external-callbacks.md [-v]

The tutorial's text is read from the given path (see tutorial_cells.py for how cells run
and compare; IPython magics such as ``%xmode`` are dropped). The ``jax.debug`` tutorials
are run by tutorial_debugging.py. Exit status 0 when every cell run gives JAX's output.
"""

from __future__ import annotations

import sys

from tutorial_cells import main

TITLE = "External callbacks, engine vs JAX"

# Why a cell differs, by file:line of its fence (the tutorial at jax-v0.10.2); none known.
NOTES: dict[str, str] = {}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], TITLE, NOTES))
