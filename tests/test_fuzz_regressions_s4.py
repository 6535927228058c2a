"""Regression tests for the differential fuzzer's findings of session 4 (long-profile seeds
named in each test; scripts/fuzz_long.py --seed N reruns one). Each compares the engine
with real JAX 0.10.2 on the same inputs."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import engine  # noqa: E402
import engine.numpy as ejnp  # noqa: E402
from tests.helpers import assert_close, real_jax  # noqa: E402


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_derivative_at_infinity_is_jaxs_rule(name):
    # seed 300916: grad of logaddexp(x, c) at x = +inf was 0 (autodiff of the formula);
    # JAX's custom JVP reads +inf as 0 there and gives 1.
    jx, jnp = real_jax()
    x = np.array([np.inf, -np.inf, 1.5, -0.0, np.nan], np.float32)
    c = np.float32(1.65)
    for argnums in (0, 1):
        got = engine.vmap(engine.grad(getattr(ejnp, name), argnums=argnums))(x, x[::-1])
        want = jx.vmap(jx.grad(getattr(jnp, name), argnums=argnums))(x, x[::-1])
        assert_close(got, want)
    got = engine.jvp(lambda a: getattr(ejnp, name)(a, c), (x,), (np.ones_like(x),))
    want = jx.jvp(lambda a: getattr(jnp, name)(a, c), (x,), (np.ones_like(x),))
    assert_close(got, want)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_jaxpr_is_jaxs_custom_jvp(name):
    jx, jnp = real_jax()
    args = (np.float32(1), np.float32(2))
    got = engine.make_jaxpr(engine.grad(getattr(ejnp, name), argnums=(0, 1)))(*args)
    want = jx.make_jaxpr(jx.grad(getattr(jnp, name), argnums=(0, 1)))(*args)
    assert f"jvp=_{name}_jvp" in str(got)
    assert _primitives(got.jaxpr) == _primitives(want.jaxpr)


def _primitives(jaxpr) -> list:
    """The equations' primitive names in order, a custom_jvp_call's body nested."""
    names: list = []
    for eqn in jaxpr.eqns:
        names.append(eqn.primitive.name)
        if "call_jaxpr" in eqn.params:
            names.append(_primitives(eqn.params["call_jaxpr"].jaxpr))
    return names


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_complex_logaddexp_wraps_the_phase_as_jax(name):
    jx, jnp = real_jax()
    r = np.random.RandomState(0)
    x = (r.randn(8) + 1j * r.randn(8)).astype(np.complex64)
    y = (3 * r.randn(8) + 4j * r.randn(8)).astype(np.complex64)
    got = engine.jvp(getattr(ejnp, name), (x, y), (y, x))
    want = jx.jvp(getattr(jnp, name), (x, y), (y, x))
    assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_ldexp_and_frexp_derivatives_are_jaxs(dtype):
    # seed 300480: jvp of ldexp(x, 1) at x = -inf was 2 t (the engine multiplied by
    # 2 ** n); JAX passes zeros and infinities through (tangent t) and differentiates
    # the mantissa of frexp by its custom rule t * 2 ** -e.
    jx, jnp = real_jax()
    r = np.random.RandomState(1)
    x = (3 * r.randn(12)).astype(dtype)
    x[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-4]
    t = r.randn(12).astype(dtype)
    n = np.array([1, -3, 200, 5, 0, 1, -130, 40, 2, 3, -1, 7], np.int32)
    got = engine.jvp(lambda a: ejnp.ldexp(a, n), (x,), (t,))
    want = jx.jvp(lambda a: jnp.ldexp(a, n), (x,), (t,))
    assert_close(got, want, rtol=1e-3)
    got = engine.jvp(ejnp.frexp, (x,), (t,))
    want = jx.jvp(jnp.frexp, (x,), (t,))
    assert_close(got[:1], want[:1], rtol=1e-3)
    assert_close(got[1][0], want[1][0], rtol=1e-3)


def test_frexp_of_a_subnormal_eagerly_is_one_computation():
    # eagerly, op by op, XLA's CPU flushes the subnormal to 0 between ops and frexp gave
    # (1e-40, 0); JAX compiles frexp whole and gives (0.5, -149)
    jx, jnp = real_jax()
    x = np.array([1e-40, -3e-39, 1.0], np.float32)
    assert_close(ejnp.frexp(x), jnp.frexp(x))
    assert_close(ejnp.ldexp(x, np.int32(3)), jnp.ldexp(x, np.int32(3)))


def test_integer_power_reads_the_exponents_low_six_bits_as_jax():
    # seed 302497: int ** int with negative or >= 64 exponents was NumPy-like (0) in the
    # engine, an accepted divergence; JAX's square-and-multiply reads 6 bits. Now equal.
    jx, jnp = real_jax()
    base = np.array([[3], [-2], [0], [1], [-1], [7]], np.int32)
    exp = np.array([[-3, -1, 0, 1, 63, 64, 70, -64]], np.int32)
    for b, e in ((base, exp), (base.astype(np.int8), exp.astype(np.int8)), (base, exp > 0)):
        got, want = ejnp.power(b, e), jnp.power(b, e)
        assert_close(got, want)
        assert bool(got.weak_type) == bool(want.weak_type)
    u = np.arange(6, dtype=np.uint8)
    assert_close(engine.jit(ejnp.power)(u[:, None], u * 20), jx.jit(jnp.power)(u[:, None], u * 20))


@pytest.mark.parametrize("method", ["min", "max"])
def test_scatter_extremal_derivative_is_jaxs_rule(method):
    # seeds 300007, 300555, 302060: x.at[...].min/max under grad gave 0 where JAX's rule
    # (counts gathered at each update's target) gives nan, for a nan operand or update;
    # ties (operand and repeated updates equal to the result) share the tangent as JAX's.
    jx, jnp = real_jax()
    x = np.array([1.0, np.nan, 3.0, -np.inf, 2.0, 0.5], np.float32)
    idx = np.array([0, 0, 2, 1, 4, 4])
    upd = np.array([1.0, 1.0, 5.0, 2.0, 2.0, np.nan], np.float32)

    def f(api_np, a, u):
        return getattr(api_np.asarray(a).at[idx], method)(u)

    for argnums in ((0,), (1,), (0, 1)):
        got = engine.grad(lambda a, u: ejnp.sum(f(ejnp, a, u)), argnums=argnums)(x, upd)
        want = jx.grad(lambda a, u: jnp.sum(f(jnp, a, u)), argnums=argnums)(x, upd)
        assert_close(got, want)
    got = engine.jvp(lambda a, u: f(ejnp, a, u), (x, upd), (x + 1, upd - 1))
    want = jx.jvp(lambda a, u: f(jnp, a, u), (x, upd), (x + 1, upd - 1))
    assert_close(got, want)


def test_fmod_of_bools_by_false_is_xlas_remainder():
    # seed 301757: JAX replaces a zero divisor by 1 only when the operands' own result
    # type is an integer; bools promote to int afterwards and XLA's x % 0 gives x
    jx, jnp = real_jax()
    b = np.array([False, True])
    for args in ((True, b), (b, b[::-1]), (np.array([1, -3], np.int8), 0), (3, b)):
        got, want = ejnp.fmod(*args), jnp.fmod(*args)
        assert_close(got, want)
        assert bool(got.weak_type) == bool(want.weak_type)


def test_std_and_var_eagerly_are_one_computation_as_jax():
    # seed 300048: grad(jvp(std)) un-jitted differed from JAX in the last bits (32 ulp
    # through the cancellation): JAX compiles std whole, the engine ran it op by op.
    # Under jit both were equal; now eager runs std/var under jit too: the same bits.
    jx, jnp = real_jax()
    x = np.array([-0.5954655408859253, -1.2669997215270996, -0.08338263630867004], np.float32)
    t = np.array([0.1, 0.2, 0.3], np.float32)

    def loss(api, np_api):
        def f(v):
            p, tt = api.jvp(np_api.std, (v,), (t,))
            return np_api.log1p(p) + p + tt + tt / (1 + p)

        return api.grad(f)

    np.testing.assert_array_equal(np.asarray(loss(engine, ejnp)(x)), np.asarray(loss(jx, jnp)(x)))
    m = np.arange(12, dtype=np.float32).reshape(3, 4) ** 1.5
    w = m > 3
    for kw in ({}, {"ddof": 1}, {"axis": [0]}, {"axis": 1, "keepdims": True}, {"where": w}):
        for name in ("std", "var"):
            got, want = getattr(ejnp, name)(m, **kw), getattr(jnp, name)(m, **kw)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
            assert got.dtype == want.dtype and bool(got.weak_type) == bool(want.weak_type)
    got = engine.vmap(lambda r: ejnp.var(r, ddof=1))(m)
    np.testing.assert_array_equal(
        np.asarray(got), np.asarray(jx.vmap(lambda r: jnp.var(r, ddof=1))(m))
    )


def test_pow_jvp_with_integer_exponents_broadcasts_as_jax():
    # seed 320176: jvp(vmap(lax.pow(x, int8[1]))) raised a select shape error; JAX's rule
    # brings x and y to their common shape first
    jx, _ = real_jax()
    x = np.array([65504.0, 0.91, 0.0, -2.0], np.float32)
    for n in (np.array([6], np.int8), np.array([0], np.int32), np.array([-1], np.int32)):

        def f(lax, v, n=n):
            return lax.pow(v.reshape(1), n)

        got = engine.jvp(engine.vmap(lambda v: f(engine.lax, v)), (x,), (x + 1,))
        want = jx.jvp(jx.vmap(lambda v: f(jx.lax, v)), (x,), (x + 1,))
        assert_close(got, want)


@pytest.mark.parametrize("name", ["clz", "population_count"])
def test_bit_counts_have_no_derivative_rule_as_jax(name):
    # seeds 320022, 320607: JAX defines no JVP for clz/population_count, so grad of one
    # (of a float) raises NotImplementedError before its dtype is checked
    jx, _ = real_jax()
    x = np.array([1.5], np.float32)
    for api in (engine, jx):
        with pytest.raises(NotImplementedError, match=f"Differentiation rule for '{name}'"):
            api.grad(lambda v, api=api: getattr(api.lax, name)(v).sum())(x)
    n = np.array([3, 5], np.int32)
    assert_close(getattr(engine.lax, name)(n), getattr(jx.lax, name)(n))


def test_matmul_of_a_weak_float_and_int8_is_weak_as_jax():
    # seed 321209: weak f32 @ int8 promotes to weak f32; dot_general alone gave a strong
    # result; JAX's matmul/dot/tensordot convert it to the promoted weak type
    jx, jnp = real_jax()
    b = np.array([[-4, 3, -20], [-5, 2, 13]], np.int8)
    for fn in (
        lambda m: m.matmul(m.full((3, 2), 1.5), b),
        lambda m: m.dot(m.full((3, 2), 1.5), b),
        lambda m: m.tensordot(m.full((3, 2), 1.5), b, 1),
        lambda m: m.matmul(m.full((3, 2), 1.5), b, preferred_element_type=np.float32),
    ):
        got, want = fn(ejnp), fn(jnp)
        assert_close(got, want)
        assert bool(got.weak_type) == bool(want.weak_type)
    got = engine.make_jaxpr(lambda a: ejnp.matmul(a, b))(ejnp.full((3, 2), 1.0))
    want = jx.make_jaxpr(lambda a: jnp.matmul(a, b))(jnp.full((3, 2), 1.0))
    assert str(got) == str(want)


def test_select_under_vmap_checks_case_shapes_as_unbatched():
    # seed 320758: vmap of lax.select(pred, x, 300) broadcast the scalar case silently;
    # JAX raises a TypeError for it unbatched (and fails an internal assert batched: an
    # accepted divergence, see KNOWN_DIVERGENCES in tests/fuzz_compare.py)
    jx, _ = real_jax()
    x = np.ones((3, 2), np.int32)
    with pytest.raises(TypeError, match="select cases must have the same shapes"):
        jx.lax.select(x[0] > 0, x[0], 300)
    with pytest.raises(TypeError, match="select cases must have the same shapes"):
        engine.vmap(lambda v: engine.lax.select(v > 0, v, 300))(x)
    for f in (
        lambda api: api.vmap(lambda v: api.lax.select(v > 0, v, v * 2))(x),
        lambda api: api.vmap(lambda v, w: api.lax.select(w, v, v * 2), in_axes=(0, None))(x, True),
    ):
        assert_close(f(engine), f(jx))


def test_cumlogsumexp_derivative_at_infinity_is_jaxs():
    # seed 321700: cumlogsumexp's JVP scans with logaddexp; JAX's combine is logaddexp
    # with its custom JVP (+inf read as 0), the engine's its own formula
    jx, _ = real_jax()
    x = np.array([[np.inf, 1.5, 0.0], [-np.inf, -1.0, np.nan], [2.0, np.inf, -0.5]], np.float32)
    t = np.arange(9, dtype=np.float32).reshape(3, 3) / 4 - 1
    for axis, reverse in ((0, False), (1, True)):
        got = engine.jit(
            lambda v: engine.jvp(lambda u: engine.lax.cumlogsumexp(u, axis, reverse), (v,), (t,))
        )(x)
        want = jx.jit(
            lambda v: jx.jvp(lambda u: jx.lax.cumlogsumexp(u, axis, reverse), (v,), (t,))
        )(x)
        assert_close(got, want)


def test_logistic_and_silu_round_as_jax_in_low_precision():
    # seed 321851: logistic lowered to stablehlo.logistic rounds bf16/f16 differently from
    # JAX's 1 / (1 + exp(-x)); and nn.silu is jitted in JAX (a call boundary that keeps
    # its bf16 result rounded inside an outer jit): both now as JAX's, bit for bit
    import ml_dtypes

    jx, jnp = real_jax()
    for dt in (ml_dtypes.bfloat16, np.float16, np.float32):
        x = np.linspace(-30, 30, 41).astype(dt)
        np.testing.assert_array_equal(
            np.asarray(engine.lax.logistic(x)), np.asarray(jx.lax.logistic(x))
        )
    x = np.array([[-0.51171875, -0.6953125, -2.59375]], ml_dtypes.bfloat16)
    y = np.array([[-2.64, -2.86, -np.inf]], np.float32)
    got = engine.grad(
        engine.jit(lambda a, b: ejnp.logaddexp(engine.nn.silu(a), b).sum()), argnums=(0, 1)
    )(x, y)
    want = jx.grad(jx.jit(lambda a, b: jnp.logaddexp(jx.nn.silu(a), b).sum()), argnums=(0, 1))(x, y)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
    assert str(engine.make_jaxpr(engine.nn.silu)(x)) == str(jx.make_jaxpr(jx.nn.silu)(x))
