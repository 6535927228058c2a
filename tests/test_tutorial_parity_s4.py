"""Regressions found by running JAX's tutorials through the engine and real JAX
(benchmarks/tutorial_parity.py), each checked against JAX 0.10.2 on cases of our own."""

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import real_jax

import engine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def jx():
    return real_jax()


def _header(text: str) -> list[str]:
    """The module line and @main's signature line of a StableHLO module's text."""
    lines = text.splitlines()
    return [lines[0], next(ln for ln in lines if "func.func public @main" in ln)]


@pytest.mark.parametrize(
    "make, uses_arg",
    [
        (lambda: lambda v: (v, {"w": v * 3.0, "z": [v - 1.0]}), True),
        (lambda: lambda v: v * 2.0, True),
        (lambda: lambda v: None, False),
    ],
    ids=["pytree", "single", "none"],
)
def test_lowered_text_has_module_attributes_and_result_names(jx, make, uses_arg):
    jax, _ = jx
    x = np.arange(3.0, dtype=np.float32)
    ours = _header(engine.jit(make()).lower(x).as_text())
    theirs = _header(jax.jit(make()).lower(x).as_text())
    assert ours[0] == theirs[0]  # module name (JAX cuts trailing '_') and attributes
    if uses_arg:  # JAX drops unused arguments from @main (keep_unused=False): not done
        assert ours[1] == theirs[1]


def test_lowered_text_module_name_of_a_named_function(jx):
    jax, _ = jx

    def scale_(v):  # trailing underscore: JAX's name loses it
        return v * 4

    x = np.ones((2,), np.int32)
    assert _header(engine.jit(scale_).lower(x).as_text()) == _header(
        jax.jit(scale_).lower(x).as_text()
    )


def test_unsortable_dict_keys_error_as_jax(jx):
    jax, _ = jx
    tree = {2: 1.0, "b": 2.0, (1,): 3.0}
    with pytest.raises(ValueError) as theirs:
        jax.tree.leaves(tree)
    with pytest.raises(ValueError) as ours:
        engine.tree.leaves(tree)
    assert str(ours.value).startswith(str(theirs.value))
    assert isinstance(ours.value.__cause__, TypeError)


def test_sortable_mixed_number_keys_still_flatten(jx):
    jax, _ = jx
    tree = {3: "c", 1.5: "a", 2: "b"}
    assert engine.tree.leaves(tree) == jax.tree.leaves(tree)


def test_doctest_page_reader_splits_prompts(tmp_path):
    sys.path.insert(0, str(BENCH))
    from tutorial_parity import tutorial_cells

    page = tmp_path / "aot.md"
    page.write_text(
        "Text\n\n```python\n>>> def g(v):\n...   return v + 1\n>>> g(2)\n3\n\n"
        ">>> g(1)  # doctest: +SKIP\n2\n```\n\n```\noutput only\n```\n"
        "```python\nw = 5\n```\n"
    )
    cells = tutorial_cells(page)
    assert [c.source for c in cells[1:]] == ["def g(v):\n  return v + 1", "g(2)", "w = 5"]
    assert "import jax" in cells[0].source  # the doctest run's imports
    assert [c.index for c in cells] == [0, 1, 2, 3]
