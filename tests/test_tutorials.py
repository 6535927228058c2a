"""Every notebook in tutorials/ runs top to bottom in a fresh kernel, and is stored clean.

The kernel is this very Python (a kernelspec written for the test, so the notebooks run
against the engine under test, never some other installed kernel). The notebooks'
code cells assert their own results against NumPy, closed forms and finite
differences, so a notebook that runs is a notebook whose numbers are right. A failure
names the notebook, the cell, its source and the error."""

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="install the [test] extra")
nbclient = pytest.importorskip("nbclient", reason="install the [test] extra")
pytest.importorskip("ipykernel", reason="install the [test] extra")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
EXPECTED = {
    "01_from_python_to_jaxpr.ipynb",
    "02_how_grad_works.ipynb",
    "03_vmap_and_batching_rules.ipynb",
    "04_jit_to_xla_fusion.ipynb",
    "05_control_flow.ipynb",
    "06_prng_and_threefry.ipynb",
    "07_custom_derivatives.ipynb",
    "08_memory_and_remat.ipynb",
    "09_training_with_stax.ipynb",
    "10_writing_an_interpreter.ipynb",
    "11_sharding_on_8_cpus.ipynb",
}
KERNEL_NAME = "glassjax-tutorials-test"
CELL_TIMEOUT_S = 300  # a hang guard, not a speed check (each notebook takes seconds)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(p):
    return p.name


def test_the_tutorials_are_there():
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


def test_readme_lists_every_notebook():
    readme = (TUTORIALS / "README.md").read_text()
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"tutorials/README.md does not list {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or execution counts; "
        "clear them before committing (Edit > Clear Outputs of All Cells)"
    )
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "import engine as jax" in sources and "import engine.numpy as jnp" in sources
    assert "import jax" not in sources.replace("import engine as jax", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_ends_with_checked_exercises(path):
    """At least two exercises, each a cell tagged `solution` followed by a code cell that
    asserts what the solution defines (so running the notebook checks every answer)."""
    cells = nbformat.read(path, as_version=4).cells
    solutions = [i for i, c in enumerate(cells) if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) >= 2, f"{path.name}: {len(solutions)} solution cells"
    for i in solutions:
        assert cells[i].cell_type == "code"
        check = next((c for c in cells[i + 1 :] if c.cell_type == "code"), None)
        assert check is not None and ("assert" in check.source), (
            f"{path.name}: the solution in cell {i} has no checking cell after it"
        )
    assert solutions[0] > len(cells) // 2, f"{path.name}: exercises belong at the end"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec for sys.executable, with the checkout on its path and a private
    IPython dir (no user profile or startup files)."""
    base = tmp_path_factory.mktemp("kernels")
    spec = base / KERNEL_NAME
    spec.mkdir()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (glassjax tests)",
                "language": "python",
                "env": {
                    "PYTHONPATH": path,
                    "IPYTHONDIR": str(base / "ipython"),
                    "JUPYTER_PLATFORM_DIRS": "1",
                },
            }
        )
    )
    return base


def _failure(path, nb, index, err):
    src = nb.cells[index].source if index is not None else "(unknown cell)"
    detail = getattr(err, "traceback", None) or str(err)
    if getattr(err, "ename", None):
        detail = f"{err.ename}: {err.evalue}\n\n{detail}"
    return (
        f"{path.name}: cell {index} failed\n"
        f"---- cell source ----\n{src}\n"
        f"---- error ----\n{ANSI.sub('', detail)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs(path, kernel_dir):
    nb = nbformat.read(path, as_version=4)  # executed in memory; the file is never written
    km = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    started = []
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(TUTORIALS)}},
        on_cell_execute=lambda cell, cell_index: started.append(cell_index),
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        pytest.fail(_failure(path, nb, started[-1] if started else None, err), pytrace=False)

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "some cells did not run"
    # the widgets produced views (not errors) in the kernel
    mimes = {k for c in code for o in c.outputs for k in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
