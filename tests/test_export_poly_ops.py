"""Shape-polymorphic export of common jnp/lax operations against jax.export (0.10.2):
slicing with negative/None bounds and steps, integer and array indexing, .at[] updates,
take/take_along_axis, cumulative reductions, convolutions, and more. Each case is
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
    "reduce_window": (
        "(lax.reduce_window(x, 0.0, lax.add, (2, 1), (1, 1), 'VALID'),"
        " lax.reduce_window(x, -np.inf, lax.max, (3, 1), (1, 1), 'SAME'))",
        "b, 4",
    ),
    "dims_as_values": (
        "(x.shape[0] + jnp.arange(3), jnp.arange(3) * x.shape[0], jnp.arange(3) < x.shape[0],"
        " x.shape[0] - jnp.arange(3), x * x.shape[0])",
        "b, 4",
    ),
    "while_over_rows": (
        "lax.while_loop(lambda c: c[0] < c[1].shape[0],"
        " lambda c: (c[0] + 1, c[1].at[c[0]].set(c[0] * 1.0)), (0, x))[1]",
        "b, 4",
    ),
    "cond_symbolic_branches": (
        "lax.cond(x.sum() > 0, lambda y: jnp.cumsum(y, axis=0), lambda y: y[::-1], x)",
        "b, 4",
    ),
    "grad_of_slices": (
        "jax.grad(lambda y: (y[1:-1] ** 2).sum() + (y[::-2] * 3).sum()"
        " + (y[1:-1:2, ::3] ** 2).sum() + jnp.diff(y, axis=0).sum())(x)",
        "b, 4",
    ),
    "grad_of_gathers": (
        "jax.grad(lambda y: jnp.take(y, np.array([0, 1, 3]), axis=1).sum()"
        " + (y.at[0].set(2.0) * y).sum() + y[jnp.argmax(y, axis=0), jnp.arange(4)].sum())(x)",
        "b, 4",
    ),
    "dynamic_slices_traced": (
        "(lax.dynamic_slice(x, (jnp.argmax(x[:, 0]) - 1, 0), (1, 4)),"
        " lax.dynamic_update_slice(x, jnp.ones((1, 4)), (jnp.argmax(x[:, 0]) - 1, 0)),"
        " jnp.argmax(x), jnp.argmin(x, keepdims=True))",
        "b, 4",
    ),
    "scan_over_batch": (
        "(lax.scan(lambda c, r: (c + r, c * r), jnp.zeros(4, np.float32), x),"
        " lax.scan(lambda c, r: (c + r, c * r), jnp.zeros(4, np.float32), x, reverse=True),"
        " lax.map(lambda r: r.sum(), x))",
        "b, 4",
    ),
    "scan_symbolic_rows": ("lax.scan(lambda c, r: (c + r.sum(), r * 2), 0.0, x.T)", "b, 4"),
    "fori_symbolic_upper": (
        "lax.fori_loop(0, x.shape[0], lambda i, c: c + x[i], jnp.zeros(4, np.float32))",
        "b, 4",
    ),
    "grad_of_scan": (
        "jax.grad(lambda y: lax.scan(lambda c, r: (c * r, c), jnp.ones(4, np.float32), y)[0]"
        ".sum())(x)",
        "b, 4",
    ),
    "jitted_ops_in_bodies": (
        "(lax.scan(lambda c, r: (c + jnp.cumsum(r), c), jnp.zeros(4, np.float32), x),"
        " lax.while_loop(lambda c: c[0] < 3,"
        " lambda c: (c[0] + 1, jnp.cumsum(c[1], axis=0)), (0, x))[1])",
        "b, 4",
    ),
    "conv_batch": (
        "lax.conv_general_dilated(x[:, None, :], np.ones((2, 1, 3), np.float32), (1,), 'SAME')",
        "b, 4",
    ),
    "conv_spatial": (
        "(lax.conv_general_dilated(x.T[None], np.ones((2, 4, 3), np.float32), (1,), 'VALID'),"
        " lax.conv_general_dilated(x.T[None], np.ones((2, 4, 3), np.float32), (2,), 'SAME'),"
        " lax.conv_general_dilated(x.T[None], np.ones((2, 4, 2), np.float32), (1,),"
        " ((1, 2),), rhs_dilation=(2,)))",
        "b, 4",
    ),
    "conv_2d_nhwc": (
        "lax.conv_general_dilated(x.reshape(x.shape[0], 2, 2, 1),"
        " np.ones((2, 2, 1, 3), np.float32), (1, 1), 'SAME',"
        " dimension_numbers=('NHWC', 'HWIO', 'NHWC'))",
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


@pytest.mark.parametrize("name", list(CASES))
def test_round_trips_both_ways_like_jax(name):
    jax, _, jexport = jx()
    source, spec = CASES[name]
    _, fj, ours, theirs = _export_both(source, spec)
    assert _avals_text(ours) == _avals_text(theirs)
    ours_in_jax = jexport.deserialize(ours.serialize())
    jax_in_ours = export.deserialize(theirs.serialize())
    assert _avals_text(ours_in_jax) == _avals_text(theirs)
    for batch in (3, 7):
        x = np.random.RandomState(batch).randn(batch, 4).astype(np.float32)
        expected = jax.jit(fj)(x)
        assert_close(ours.call(x), expected, rtol=1e-5, atol=1e-5)
        assert_close(ours_in_jax.call(x), expected, rtol=1e-5, atol=1e-5)
        assert_close(jax_in_ours.call(x), expected, rtol=1e-5, atol=1e-5)
        assert_close(engine.jit(jax_in_ours.call)(x), expected, rtol=1e-5, atol=1e-5)


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


def test_cumsum_grad_over_symbolic_axis_runs_in_jax():
    jax, jjnp, jexport = jx()

    def loss(x):
        return jnp.sum(jnp.cumsum(x, axis=0) ** 2)

    exp = export.export(engine.jit(engine.grad(loss)))(
        engine.ShapeDtypeStruct(export.symbolic_shape("b, 4"), np.float32)
    )
    theirs = jexport.deserialize(exp.serialize())
    for batch in (2, 5):
        x = np.random.RandomState(batch).randn(batch, 4).astype(np.float32)
        expected = jax.grad(lambda x: jjnp.sum(jjnp.cumsum(x, axis=0) ** 2))(x)
        assert_close(theirs.call(x), expected, rtol=1e-5, atol=1e-5)
        assert_close(exp.call(x), expected, rtol=1e-5, atol=1e-5)


def _first_line(run):
    with pytest.raises(ValueError) as info:
        run()
    return str(info.value).splitlines()[0]


def test_shape_assertion_failures_like_jax():
    """Shapes that break an artifact's constraints fail with JAX's class and message,
    called directly; through serialization (JAX keeps no constraints there) the module's
    shape assertions fail in JAX's shape refinement, for either side's artifact."""
    jax, _, jexport = jx()
    scope = export.symbolic_shape("b, 4", constraints=("b >= 3",))
    jscope = jexport.symbolic_shape("b, 4", constraints=("b >= 3",))
    f, fj = _functions("jnp.cumsum(x[1:-1], axis=0)")
    ours = export.export(engine.jit(f))(engine.ShapeDtypeStruct(scope, np.float32))
    theirs = jexport.export(jax.jit(fj))(jax.ShapeDtypeStruct(jscope, np.float32))
    assert _avals_text(ours) == _avals_text(theirs)
    assert ours.mlir_module().count("@shape_assertion") == 2
    for batch, phrase in ((2, "symbolic shape constraint b >= 3"), (0, "Expected value >= 1")):
        x = np.ones((batch, 4), np.float32)
        expected = _first_line(lambda: theirs.call(x))
        assert phrase in expected
        assert _first_line(lambda: ours.call(x)) == expected
    x = np.ones((2, 4), np.float32)
    refining = _first_line(lambda: jexport.deserialize(theirs.serialize()).call(x))
    assert refining.startswith("Error refining shapes")
    assert _first_line(lambda: jexport.deserialize(ours.serialize()).call(x)) == refining
    ours_of_jax = _first_line(lambda: export.deserialize(theirs.serialize()).call(x))
    assert ours_of_jax.startswith("Error refining shapes")


@pytest.mark.parametrize(
    "specs, shapes",
    [
        (("2*b + 1, 4",), [(6, 4)]),  # division remainder
        (("b, 4", "b, 4"), [(3, 4), (2, 4)]),  # inconsistent sizes
    ],
)
def test_call_shape_errors_like_jax(specs, shapes):
    jax, _, jexport = jx()
    ours = export.export(engine.jit(lambda *xs: [jnp.sum(x) for x in xs]))(
        *export.symbolic_args_specs((np.zeros((1, 4), np.float32),) * len(specs), specs)
    )
    theirs = jexport.export(jax.jit(lambda *xs: [x.sum() for x in xs]))(
        *jexport.symbolic_args_specs((np.zeros((1, 4), np.float32),) * len(specs), specs)
    )
    args = [np.ones(s, np.float32) for s in shapes]
    expected = _first_line(lambda: theirs.call(*args))
    assert _first_line(lambda: ours.call(*args)) == expected
    assert _first_line(lambda: jexport.deserialize(ours.serialize()).call(*args)) == _first_line(
        lambda: jexport.deserialize(theirs.serialize()).call(*args)
    )


@pytest.mark.parametrize(
    "source",
    [
        "lax.dynamic_slice_in_dim(x, 1, 2, axis=0)",
        "jnp.zeros((x.shape[0] - 3,))",
        "x[x.shape[0] - 2 :]",
        "x if x.shape[0] > 2 else -x",
    ],
)
def test_inconclusive_comparisons_raise_like_jax(source):
    jax, _, jexport = jx()
    f, fj = _functions(source)

    def failure(run):
        try:
            run()
        except Exception as e:  # noqa: BLE001 - the class and message are compared
            return type(e).__name__, str(e).splitlines()[0]
        return None

    theirs = failure(
        lambda: jexport.export(jax.jit(fj))(
            jax.ShapeDtypeStruct(jexport.symbolic_shape("b, 4"), np.float32)
        )
    )
    ours = failure(
        lambda: export.export(engine.jit(f))(
            engine.ShapeDtypeStruct(export.symbolic_shape("b, 4"), np.float32)
        )
    )
    assert theirs is not None and ours is not None, (theirs, ours)
    assert ours[0] == theirs[0]
    if theirs[0] == "InconclusiveDimensionOperation":
        assert ours[1] == theirs[1]
