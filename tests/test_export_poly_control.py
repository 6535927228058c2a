"""Shape-polymorphic export against jax.export (0.10.2), continued: control flow
(scan/map over a symbolic length, fori_loop with a symbolic bound, while/cond bodies),
gradients, convolutions, and the errors JAX gives for bad call shapes (shape
assertions) and inconclusive dimension comparisons."""

import numpy as np
import pytest

import engine
import engine.numpy as jnp
from engine import export
from tests.helpers import assert_close
from tests.test_export_poly_ops import _avals_text, _functions, check_round_trips, jx

CASES = {
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


@pytest.mark.parametrize("name", list(CASES))
def test_round_trips_both_ways_like_jax(name):
    check_round_trips(*CASES[name])


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
