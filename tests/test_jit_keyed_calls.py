"""Calls with static or keyword arguments take the keyed fast path (one dict lookup by
static values, argument tree and avals): the same results, counts and retracing as the
general path, and as JAX."""

import numpy as np
from helpers import real_jax

import engine
import engine.numpy as enp


def test_static_and_keyword_calls_count_and_retrace_as_jax():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which, m):
        def f(x, n, *, scale):
            traces[which] += 1
            return m.sum(x**n) * scale

        return f

    ef = engine.jit(make("engine", enp), static_argnums=1)
    jf = jax.jit(make("jax", jnp), static_argnums=1)
    x = np.arange(4.0, dtype=np.float32)
    calls = [(x, 2, 1.0), (x, 2, 3.0), (x, 3, 1.0), (x, 2, 2.0), (x[:3], 2, 1.0), (x, 3, 5.0)]
    for a, n, s in calls:
        np.testing.assert_allclose(ef(a, n, scale=s), jf(a, n, scale=s), rtol=1e-6)
    assert traces["engine"] == traces["jax"] == 3
    assert ef.compile_count == 3 and ef.cache_hits == len(calls) - 3


def test_keyed_path_follows_config_changes_and_deleted_inputs():
    f = engine.jit(lambda x, k: x * k, static_argnames="k")
    x = enp.ones(3)
    assert f(x, k=2).dtype == np.float32
    with engine.enable_x64(True):
        y = f(enp.ones(3, dtype=np.float64), k=2)
        assert y.dtype == np.float64
    assert f(x, k=2).dtype == np.float32
    g = engine.jit(lambda x, k: x + k, static_argnames="k", donate_argnums=0)
    z = enp.ones(3)
    g(z, k=1)
    try:
        g(z, k=1)
    except RuntimeError as e:
        assert "Array has been deleted" in str(e)
    else:
        raise AssertionError("a donated input was reused")


def test_debug_nans_still_checks_static_calls():
    f = engine.jit(lambda x, k: enp.log(x) * k, static_argnames="k")
    x = enp.asarray([-1.0, 1.0])
    f(x, k=1)  # fills the keyed path
    with engine.debug_nans(True):
        try:
            f(x, k=1)
        except FloatingPointError:
            pass
        else:
            raise AssertionError("debug_nans missed a nan of a static-argument call")
