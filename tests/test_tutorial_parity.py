"""Regressions found by running JAX's tutorials cell by cell through the engine and JAX
(benchmarks/tutorial_*.py), each checked against real JAX 0.10.2 on code of our own."""

import contextlib
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as ejnp
from engine.ad_checkpoint import checkpoint_name as e_checkpoint_name
from engine.ad_checkpoint import print_saved_residuals as e_print_saved_residuals

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def mods():
    jax, jnp = real_jax()
    from jax.ad_checkpoint import checkpoint_name, print_saved_residuals

    E = SimpleNamespace(
        jax=engine, jnp=ejnp, name=e_checkpoint_name, residuals=e_print_saved_residuals
    )
    J = SimpleNamespace(jax=jax, jnp=jnp, name=checkpoint_name, residuals=print_saved_residuals)
    return E, J


def _printed(fn, *args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue()


def _stack_of_tanh(m, depth):
    """A closure made inside a function (so its qualified name has ``<locals>``) with
    several calls on one line (so only the column tells them apart)."""

    def body(x):
        for _ in range(depth):
            x = m.jnp.tanh(m.jnp.sin(x))
        return m.name(x * 2.0, name="scaled")

    return body


@pytest.mark.parametrize("wrap", ["plain", "checkpoint", "save_only_these_names"])
def test_print_saved_residuals_says_file_line_column_and_qualified_name(mods, wrap):
    def run(m):
        f = _stack_of_tanh(m, 2)
        if wrap == "checkpoint":
            f = m.jax.checkpoint(f)
        elif wrap == "save_only_these_names":
            pol = m.jax.checkpoint_policies.save_only_these_names("scaled")
            f = m.jax.checkpoint(lambda x: _stack_of_tanh(m, 2)(x) ** 2, policy=pol)
        return _printed(m.residuals, f, 0.5)

    E, J = mods
    ours, theirs = run(E), run(J)
    assert "_stack_of_tanh.<locals>.body" in theirs or wrap != "plain"  # the oracle's form
    assert ours == theirs


def test_source_column_is_the_calls_start_on_a_line_with_several_calls(mods):
    E, J = mods

    def run(m):
        def two_on_a_line(x):
            return m.jnp.sin(x) * m.jnp.cos(x)

        return _printed(m.residuals, two_on_a_line, 1.0)

    ours, theirs = run(E), run(J)
    assert ours.count(":") == theirs.count(":") and ours == theirs


# ---------------------------------------------------------------------------- the runner

_TUTORIAL = """\
A tiny notebook in MyST form, written for this test.

```{code-cell}
:id: one
import jax
import jax.numpy as jnp

def cube_then_sum(v):
  return jnp.sum(v ** 3)

jax.grad(cube_then_sum)(jnp.arange(3.))
```

```{code-cell}
:tags: [skip-execution]

jax.debug.breakpoint()
```

```{code-cell}
---
tags: [raises-exception]
---
jnp.ones(3) + jnp.ones(4)
```

```python
print("shown, not run by default", jax.jit(cube_then_sum)(jnp.ones(2)))
```
"""


def test_tutorial_runner_reads_cells_and_compares_both_runs(tmp_path, mods):
    sys.path.insert(0, str(BENCH))
    try:
        import tutorial_cells
    finally:
        sys.path.remove(str(BENCH))
    md = tmp_path / "tiny.md"
    md.write_text(_TUTORIAL)
    cells = tutorial_cells.read_cells(md)
    assert [c.tags for c in cells] == [(), ("skip-execution",), ("raises-exception",)]
    assert len(tutorial_cells.read_cells(md, python_blocks=True)) == 4
    skip = {1}
    eng = tutorial_cells.run(cells, "engine", skip)
    ref = tutorial_cells.run(cells, "jax", skip)
    assert eng[0].text == ref[0].text == "Out: Array([ 0.,  3., 12.], dtype=float32)\n"
    # the same class and key phrase as JAX's (shapes that do not broadcast)
    assert ref[2].error.startswith("TypeError: add got incompatible shapes for broadcasting")
    rows = tutorial_cells.compare(cells, eng, ref, {1: "needs a prompt"}, {})
    assert [r.verdict for r in rows] == ["exact", "skipped", "exact"]


# ---------------------------------------------------------------------------- breakpoint


def _guarded_divide(m):
    def stop_if_nonfinite(z):
        m.jax.lax.cond(
            m.jnp.isfinite(z).all(), lambda z: None, lambda z: m.jax.debug.breakpoint(), z
        )

    @m.jax.jit
    def divide(x, y):
        z = x / y
        stop_if_nonfinite(z)
        return z

    return divide


def test_breakpoint_in_a_branch_not_taken_lets_the_program_run(mods):
    E, J = mods
    ours, theirs = _guarded_divide(E)(2.0, 1.0), _guarded_divide(J)(2.0, 1.0)
    assert float(ours) == float(theirs) == 2.0
    assert ours.dtype == theirs.dtype and ours.weak_type == theirs.weak_type


def test_breakpoint_reached_enters_the_debugger(mods):
    """The branch taken: jdb reads 'EOF' from an empty stdin and quits, as JAX's does
    (tests/test_debugger_s7.py compares whole sessions)."""
    outs, errors = [], []
    for m in mods:
        out, old = io.StringIO(), sys.stdin
        sys.stdin = io.StringIO("")
        try:
            with contextlib.redirect_stdout(out), pytest.raises(Exception) as e:
                _guarded_divide(m)(2.0, 0.0).block_until_ready()
                m.jax.effects_barrier()
        finally:
            sys.stdin = old
        outs.append(out.getvalue())
        errors.append(type(e.value).__name__)
    assert outs[0] == outs[1] == "Entering jdb:\n(jdb) "
    assert errors[0] == errors[1] == "JaxRuntimeError"


# ---------------------------------------------------------------------------- Array repr


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.jnp.sin(m.jnp.arange(5.0)),  # the dtype does not fit on the values' line
        lambda m: m.jnp.arange(5.0) * 0.1234567,  # it just fits
        lambda m: m.jnp.arange(40.0).reshape(4, 10) / 7,  # wrapped rows
        lambda m: m.jnp.arange(100),  # wrapped values
        lambda m: m.jnp.zeros(0),  # empty, one axis
        lambda m: m.jnp.zeros((0, 3), dtype=m.jnp.int32),
        lambda m: m.jnp.arange(7.0) + 1.5,  # strong
        lambda m: m.jnp.asarray([0.5, -2.0, 3.25, 1e-3, 7.0]) * 2.0,
        lambda m: m.jax.grad(lambda x, y: x * 3.0, (0, 1))(1.0, 2.0)[1],  # weak scalar
    ],
)
def test_array_repr_wraps_as_jax(mods, make):
    E, J = mods
    assert repr(make(E)) == repr(make(J))


def test_gradient_of_an_unused_weak_input_is_a_weak_zero(mods):
    def run(m):
        @m.jax.custom_vjp
        def h(x, y):
            return x**2

        h.defvjp(lambda x, y: (x**2, x), lambda x, g: (2 * x * g, None))
        plain = m.jax.grad(lambda x, y: x * 2.0, (0, 1))(1.0, 2.0)
        via_vjp = m.jax.vjp(lambda x, y: x * 2.0, 1.0, 2.0)[1](1.0)
        return [*plain, *via_vjp, *m.jax.grad(h, (0, 1))(1.0, 2.0)]

    E, J = mods
    ours, theirs = run(E), run(J)
    for a, b in zip(ours, theirs):
        assert (float(a), a.dtype, a.weak_type) == (float(b), b.dtype, b.weak_type)


# ---------------------------------------------------------------------------- linspace


@pytest.mark.parametrize(
    "args",
    [
        (0, 10, 1000),  # the custom-derivatives tutorial's plot axis
        (-3.0, 7.5, 333, False),
        (0.1, 0.9, 77),
    ],
)
def test_linspace_values_bit_equal_to_jax(mods, args):
    E, J = mods
    ours, theirs = E.jnp.linspace(*args), J.jnp.linspace(*args)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert [
        e.params.get("name") for e in E.jax.make_jaxpr(lambda: E.jnp.linspace(*args))().eqns
    ] == ["_linspace"]
