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
