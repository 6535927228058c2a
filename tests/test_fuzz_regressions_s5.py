"""Regression tests for the differential fuzzer's findings of session 5 (long-profile seeds
named in each test; scripts/fuzz_long.py --seed N reruns one). Each compares the engine
with real JAX 0.10.2 on the same inputs."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import engine  # noqa: E402
import engine.lax as elax  # noqa: E402
import engine.nn as enn  # noqa: E402
import engine.numpy as ejnp  # noqa: E402
from tests.fuzz_compare import check_case, draw_case  # noqa: E402
from tests.fuzz_programs import RandomChooser  # noqa: E402
from tests.helpers import assert_close, real_jax  # noqa: E402


def _outcome(fn):
    """(value, None) or (None, the exception) of ``fn()``."""
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        return None, e


@pytest.mark.parametrize("seed", [330877, 331192, 331737, 351767])
def test_long_profile_seed_matches_jax(seed):
    case = draw_case(RandomChooser(seed), max_ops=6)
    assert check_case(case) == []


# ---------------------------------------------------------------- seed 330877: cummin on 0-d


@pytest.mark.parametrize("name", ["cummin", "cummax", "cumprod", "cumlogsumexp"])
@pytest.mark.parametrize("axis, reverse, ndim", [(0, False, 0), (3, False, 1), (-1, False, 1)])
def test_cumulative_grad_checks_the_axis_as_jax(name, axis, reverse, ndim):
    # grad of lax.cummin on a 0-d operand raised IndexError from the engine's scan; JAX's
    # rule runs associative_scan, which raises ValueError naming the dimension
    jx, _ = real_jax()
    x = np.array(0.75 if ndim == 0 else [3, 1, 2, 0.5], np.float32)

    def loss(L):
        return lambda a: getattr(L, name)(a, axis=axis, reverse=reverse).sum()

    got, got_err = _outcome(lambda: engine.grad(loss(elax))(x))
    want, want_err = _outcome(lambda: jx.grad(loss(jx.lax))(x))
    if want_err is None:
        assert got_err is None, got_err
        assert_close(got, want)
    else:
        assert type(got_err) is type(want_err), (got_err, want_err)
        assert "out of bounds for array of dimension" in str(want_err)
        assert f"axis {axis} is out of bounds for array of dimension {ndim}" in str(got_err)


@pytest.mark.parametrize("name", ["cummin", "cumprod"])
def test_reversed_cumulative_grad_with_negative_axis_fails_as_jax(name):
    # JAX reverses before checking the axis: rev rejects the negative dimension
    jx, _ = real_jax()
    x = np.array([3, 1, 2], np.float32)
    _, got = _outcome(lambda: engine.jvp(lambda a: getattr(elax, name)(a, -1, True), (x,), (x,)))
    _, want = _outcome(lambda: jx.jvp(lambda a: getattr(jx.lax, name)(a, -1, True), (x,), (x,)))
    assert type(got) is type(want) is TypeError
    assert "nonnegative" in str(got) and "nonnegative" in str(want)


# ------------------------------------------- seed 331192: linearize's known tangents are zeros


def _nextafter_of_constant_power(jnp):
    # integer_pow[y=0]'s tangent does not depend on the input tangent: under linearize it
    # is a symbolic zero and nextafter (no JVP rule) is never differentiated
    def f(x):
        y = jnp.square(x**0)
        return jnp.nextafter(-1.0, y).sum()

    return f


@pytest.mark.parametrize("api", ["grad", "vjp", "linearize", "vmap_grad"])
def test_linearize_treats_tangents_made_without_the_input_as_zero(api):
    jx, jnp = real_jax()
    x = np.array([1.5, 2.0, -0.5], np.float32)
    fe, fj = _nextafter_of_constant_power(ejnp), _nextafter_of_constant_power(jnp)
    if api == "grad":
        got, want = engine.grad(fe)(x), jx.grad(fj)(x)
    elif api == "vjp":
        got = engine.vjp(fe, x)[1](np.float32(1))
        want = jx.vjp(fj, x)[1](np.float32(1))
    elif api == "linearize":
        got = engine.linearize(fe, x)[1](x)
        want = jx.linearize(fj, x)[1](x)
    else:
        got, want = engine.vmap(engine.grad(fe))(x[None]), jx.vmap(jx.grad(fj))(x[None])
    assert_close(got, want)


def _wrapped(E, lax, where):
    """The same function inside a jit, cond, scan, loop or remat: JAX's jit, cond and
    scan linearize their bodies (zeros stay symbolic); while and remat run a plain JVP."""
    g = _nextafter_of_constant_power(E.numpy)
    return {
        "jit": E.jit(g),
        "jit in jit": E.jit(lambda x: E.jit(g)(x) * 2),
        "cond": lambda x: lax.cond(True, g, lambda x: x.sum(), x),
        "switch": lambda x: lax.switch(0, [g, lambda x: x.sum()], x),
        "scan": lambda x: lax.scan(lambda c, _: (c + g(x), None), 0.0, None, length=2)[0],
        "fori": lambda x: lax.fori_loop(0, 2, lambda i, c: c + g(x), 0.0),
        "while": lambda x: lax.while_loop(
            lambda c: c[0] < x.sum().astype(int), lambda c: (c[0] + 1, c[1] + g(x)), (0, 0.0)
        )[1],
        "remat": E.checkpoint(g),
    }[where]


@pytest.mark.parametrize(
    "where", ["jit", "jit in jit", "cond", "switch", "scan", "fori", "while", "remat"]
)
def test_grad_through_higher_order_primitives_zeros_as_jax(where):
    jx, _ = real_jax()
    x = np.array([1.5, 2.0], np.float32)
    got, got_err = _outcome(lambda: engine.grad(_wrapped(engine, elax, where))(x))
    want, want_err = _outcome(lambda: jx.grad(_wrapped(jx, jx.lax, where))(x))
    if want_err is None:
        assert got_err is None, got_err
        assert_close(got, want)
    else:
        assert type(got_err) is type(want_err) is NotImplementedError, (got_err, want_err)


def test_plain_jvp_still_differentiates_a_materialised_zero_as_jax():
    jx, jnp = real_jax()
    x = np.array([1.5, 2.0], np.float32)
    fe, fj = _nextafter_of_constant_power(ejnp), _nextafter_of_constant_power(jnp)
    for wrap_e, wrap_j in [(lambda f: f, lambda f: f), (engine.jit, jx.jit)]:
        _, got = _outcome(lambda: engine.jvp(wrap_e(fe), (x,), (x,)))
        _, want = _outcome(lambda: jx.jvp(wrap_j(fj), (x,), (x,)))
        assert type(got) is type(want) is NotImplementedError
        assert "Differentiation rule for 'nextafter' not implemented" in str(got)


def test_grad_jaxpr_of_a_zero_tangent_is_jaxs():
    # the zero tangent is known work (broadcast_in_dim in the primal part), nothing linear
    jx, jnp = real_jax()
    x = np.array([1.5, 2.0], np.float32)
    got = engine.make_jaxpr(engine.grad(_nextafter_of_constant_power(ejnp)))(x)
    want = jx.make_jaxpr(jx.grad(_nextafter_of_constant_power(jnp)))(x)
    assert [e.primitive.name for e in got.jaxpr.eqns] == [e.primitive.name for e in want.jaxpr.eqns]


# ------------------------------------------------ seed 331737: f16 gelu under grad(jvp)


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("x_shape", [(), (3,)])
def test_add_and_sub_jvp_jaxprs_are_jaxs(op, x_shape):
    # with a rank-0 y the tangents combine unbroadcast, as JAX's (no broadcast_in_dim)
    jx, _ = real_jax()
    x, y = np.full(x_shape, 1.5, np.float32), np.float32(0.25)

    def jvps(E, L):
        fn = getattr(L, op)
        return {
            "both": lambda a, b: E.jvp(fn, (a, b), (a * 3, b)),
            "x only": lambda a, b: E.jvp(lambda p: fn(p, b), (a,), (a * 3,)),
            "y only": lambda a, b: E.jvp(lambda q: fn(a, q), (b,), (b,)),
        }

    for (label, fe), fj in zip(jvps(engine, elax).items(), jvps(jx, jx.lax).values()):
        got, want = engine.make_jaxpr(fe)(x, y), jx.make_jaxpr(fj)(x, y)
        names = [[e.primitive.name for e in j.jaxpr.eqns] for j in (got, want)]
        assert names[0] == names[1], label
        assert_close(fe(x, y), fj(x, y))


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_vmap_of_grad_of_mismatched_ranks_raises_as_jax(op):
    # seed 351767: JAX's batching rule lets vmap(lax.add) of ranks 3 and 1 through, but
    # the tangents then meet in the primitive unbatched and its shape rule raises
    jx, _ = real_jax()
    a, b = np.ones((2, 4, 2, 1), np.float16), np.ones((2, 1), np.float16)

    def f(E, L):
        return E.vmap(E.grad(lambda x, y: getattr(L, op)(x, y).sum(), argnums=(0, 1)))

    got, got_err = _outcome(lambda: f(engine, elax)(a, b))
    want, want_err = _outcome(lambda: f(jx, jx.lax)(a, b))
    assert type(got_err) is type(want_err) is TypeError, (got_err, want_err)
    assert "must have the same number of dimensions" in str(got_err)
    assert_close(engine.vmap(getattr(elax, op))(a, b), jx.vmap(getattr(jx.lax, op))(a, b))


def test_f16_gelu_of_silu_under_grad_of_jvp_is_jaxs_to_the_bit():
    # the transposed gelu's cotangents were summed in another order than JAX's: 4 ulp apart
    jx, _ = real_jax()
    x, t = np.float16(-0.830078125), np.float16(-1.9453125)

    def f(E, nn):
        def primal_and_tangent(a):
            out, tan = E.jvp(lambda v: nn.gelu(nn.silu(v)), (a,), (t,))
            return out + tan

        return E.grad(primal_and_tangent)

    got, want = f(engine, enn)(x), f(jx, jx.nn)(x)
    assert np.asarray(got).dtype == np.float16
    assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (got, want)
