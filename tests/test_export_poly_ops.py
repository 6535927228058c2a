"""Shape-polymorphic export of common jnp/lax operations against jax.export (0.10.2):
slicing with negative/None bounds and steps, integer and array indexing, .at[] updates,
take/take_along_axis, cumulative reductions, and more (control flow, gradients,
convolutions and shape errors: tests/test_export_poly_control.py). Each case is
exported by the engine and by JAX with a symbolic batch dimension; the result avals
must print alike, the engine's artifact must run in JAX and JAX's in the engine, with
two batch sizes, and every value must equal JAX's."""

import re

import numpy as np
import pytest

import engine
import engine.numpy as jnp
from engine import export, lax
from tests.helpers import assert_close, real_jax


def jx():
    jax, jjnp = real_jax()
    from jax import export as jexport

    return jax, jjnp, jexport


# name -> (source of f(x) in terms of jnp / lax / nn / np, polymorphic spec)
CASES = {
    "slice_1_m1": ("x[1:-1]", "b, 4"),
    "slice_steps": ("(x[::2], x[1::3], x[1:-1:2], x[2:], x[:-3], x[-2:])", "b, 4"),
    "slice_reversed": ("(x[::-1], x[-1::-2], x[:, ::-1])", "b, 4"),
    "getitem_int": ("(x[0], x[-1], x[:, 2])", "b, 4"),
    "slice_symbolic_bounds": ("(x[:, : x.shape[0]], x[:, : x.shape[0] // 2])", "b, 4"),
    "getitem_array": ("x[np.array([0, 2, -1])]", "b, 4"),
    "getitem_traced": ("x[jnp.argmax(x, axis=0), jnp.arange(4)]", "b, 4"),
    "take_axis1": ("jnp.take(x, np.array([0, 1, 3]), axis=1)", "b, 4"),
    "take_along_axis": ("jnp.take_along_axis(x, jnp.argsort(x, axis=1), axis=1)", "b, 4"),
    "at_set_row": ("x.at[0].set(1.0)", "b, 4"),
    "at_add_column": ("x.at[:, 1].add(2.0)", "b, 4"),
    "at_set_traced": ("x.at[jnp.argmax(x, axis=0), jnp.arange(4)].set(0.0)", "b, 4"),
    "at_min_slice": ("x.at[1:].min(0.0)", "b, 4"),
    "cumsum": ("(jnp.cumsum(x, axis=0), jnp.cumsum(x, axis=1))", "b, 4"),
    "cumprod_cummax": ("(jnp.cumprod(x, axis=0), lax.cummax(x, axis=0))", "b, 4"),
    "cumsum_reverse": ("lax.cumsum(x, axis=0, reverse=True)", "b, 4"),
    "var_std": ("(jnp.var(x, axis=0), jnp.std(x), jnp.var(x, axis=0, ddof=1))", "b, 4"),
    "diff": ("jnp.diff(x, axis=0)", "b, 4"),
    "roll": ("(jnp.roll(x, 1, axis=0), jnp.roll(x, -2, axis=0))", "b, 4"),
    "stack_tile": ("(jnp.stack([x, x], axis=1), jnp.tile(x, (2, 1)))", "b, 4"),
    "broadcast_split": (
        "(jnp.broadcast_to(x[:, :1], (x.shape[0], 4)) + x, jnp.split(x, 2, axis=1))",
        "b, 4",
    ),
    "average": ("(jnp.average(x, axis=0), jnp.average(x, axis=0, returned=True))", "b, 4"),
    "eye_median_percentile": (
        "(jnp.eye(x.shape[0]) @ x, jnp.median(x, axis=0), jnp.percentile(x, 30.0, axis=0),"
        " jnp.nanmedian(x, axis=0))",
        "b, 4",
    ),
    "reduce_window": (
        "(lax.reduce_window(x, 0.0, lax.add, (2, 1), (1, 1), 'VALID'),"
        " lax.reduce_window(x, -np.inf, lax.max, (3, 1), (1, 1), 'SAME'))",
        "b, 4",
    ),
}


def _functions(source):
    jax, jjnp, _ = jx()
    ours = eval(  # noqa: S307 - test-local source strings
        "lambda x: " + source, {"jnp": jnp, "lax": lax, "np": np, "jax": engine}
    )
    theirs = eval(  # noqa: S307
        "lambda x: " + source, {"jnp": jjnp, "lax": jax.lax, "np": np, "jax": jax}
    )
    return ours, theirs


def _avals_text(exp):
    return [(a.dtype.name, [str(d) for d in a.shape]) for a in exp.out_avals]


def _export_both(source, spec):
    jax, _, jexport = jx()
    f, fj = _functions(source)
    ours = export.export(engine.jit(f))(
        engine.ShapeDtypeStruct(export.symbolic_shape(spec), np.float32)
    )
    theirs = jexport.export(jax.jit(fj))(
        jax.ShapeDtypeStruct(jexport.symbolic_shape(spec), np.float32)
    )
    return f, fj, ours, theirs


def check_round_trips(source, spec):
    """Result avals as JAX's; the engine's artifact called in JAX with two batch sizes,
    JAX's called in the engine (eagerly and under jit), the engine's own; values as JAX's."""
    jax, _, jexport = jx()
    _, fj, ours, theirs = _export_both(source, spec)
    assert _avals_text(ours) == _avals_text(theirs)
    ours_in_jax = jexport.deserialize(ours.serialize())
    jax_in_ours = export.deserialize(theirs.serialize())
    assert _avals_text(ours_in_jax) == _avals_text(theirs)
    xs = {n: np.random.RandomState(n).randn(n, 4).astype(np.float32) for n in (3, 7)}
    expected = {n: jax.jit(fj)(x) for n, x in xs.items()}
    for n in (3, 7):
        assert_close(ours_in_jax.call(xs[n]), expected[n], rtol=1e-5, atol=1e-5)
    assert_close(ours.call(xs[7]), expected[7], rtol=1e-5, atol=1e-5)
    assert_close(jax_in_ours.call(xs[3]), expected[3], rtol=1e-5, atol=1e-5)
    assert_close(engine.jit(jax_in_ours.call)(xs[7]), expected[7], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_round_trips_both_ways_like_jax(name):
    check_round_trips(*CASES[name])


def _dynamic_ops(text):
    """The dynamic-shape StableHLO ops a module uses (ops and custom-call targets)."""
    ops = set(re.findall(r"stablehlo\.(dynamic_\w+|real_dynamic_slice)", text))
    return ops | set(re.findall(r"custom_call @(stablehlo\.\w+)", text))


@pytest.mark.parametrize(
    "source, ops",
    [
        ("jnp.cumsum(x, axis=0)", {"stablehlo.dynamic_reduce_window", "dynamic_reduce_window"}),
        ("jnp.take(x, np.array([0, 1, 3]), axis=1)", {"dynamic_gather"}),
        (
            "lax.conv_general_dilated(x.T[None], np.ones((2, 4, 3), np.float32), (2,), 'SAME')",
            {"dynamic_conv"},
        ),
    ],
)
def test_the_same_dynamic_ops_as_jax(source, ops):
    _, _, ours, theirs = _export_both(source, "b, 4")
    mine, jaxs = _dynamic_ops(ours.mlir_module()), _dynamic_ops(theirs.mlir_module())
    assert ops <= mine and ops <= jaxs, (mine, jaxs)
