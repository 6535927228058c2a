"""A jitted call with an argument that has no abstract value (a string, an arbitrary
object, a Python int too large for the default integer type) raises JAX's error, naming
the function and the argument's path, on every call path: the first call, a call after
the function's caches are warm, the keyed paths, ``trace`` and ``lower``. Compared with
real JAX 0.10.2 on the same function object: the exception class and the message's first
line exactly (object addresses aside)."""

import re

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp


def f(x, y=None):
    return x


def star(a, *rest, **kw):
    return a


class Opaque:
    pass


def _first_line(e):
    return re.sub(r" at 0x[0-9a-f]+", " at 0x", str(e).split("\n")[0])


def _same_error(call_engine, call_jax):
    with pytest.raises(Exception) as je:
        call_jax()
    with pytest.raises(Exception) as ee:
        call_engine()
    assert type(ee.value) is type(je.value), (ee.value, je.value)
    assert _first_line(ee.value) == _first_line(je.value)
    return ee.value


BAD_CALLS = [
    (f, {}, ("abc",), {}),
    (f, {}, (Opaque(),), {}),
    (f, {}, ({"a": 1.0, "b": {"c": "s"}},), {}),
    (f, {}, (1.0,), {"y": "s"}),
    (f, {}, ([1.0, object()],), {}),
    (f, {}, (np.array(["a"]),), {}),
    (f, {}, (1.0, (1, "x")), {}),
    (f, {}, (None, b"x"), {}),
    (f, {"static_argnums": 1}, ("x", 2), {}),
    (f, {"static_argnames": "x"}, (2,), {"y": ["s"]}),
    (star, {}, (1.0, "x"), {}),
    (star, {}, (1.0, 2.0, {"k": Opaque()}), {}),
    (star, {}, (1.0,), {"k": "v", "b": 2.0}),
]


@pytest.mark.parametrize("fun, options, args, kwargs", BAD_CALLS)
def test_non_array_argument_names_its_path_as_jax(fun, options, args, kwargs):
    jax, jnp = real_jax()
    ef, jf = engine.jit(fun, **options), jax.jit(fun, **options)
    err = _same_error(lambda: ef(*args, **kwargs), lambda: jf(*args, **kwargs))
    assert "static_argnums" in str(err)  # what to do instead
    _same_error(lambda: ef.trace(*args, **kwargs), lambda: jf.trace(*args, **kwargs))
    _same_error(lambda: ef.lower(*args, **kwargs), lambda: jf.lower(*args, **kwargs))


def test_warm_caches_give_the_same_error():
    jax, jnp = real_jax()
    ef, jf = engine.jit(f), jax.jit(f)
    eg, jg = engine.jit(f, static_argnums=1), jax.jit(f, static_argnums=1)
    for _ in range(2):  # fills the inline caches
        ef(enp.ones(2)), jf(jnp.ones(2))
        ef(enp.ones(2), 1.0), jf(jnp.ones(2), 1.0)
        eg(enp.ones(2), 3), jg(jnp.ones(2), 3)
    _same_error(lambda: ef("a"), lambda: jf("a"))
    _same_error(lambda: ef(enp.ones(2), "a"), lambda: jf(jnp.ones(2), "a"))
    _same_error(lambda: eg("a", 3), lambda: jg("a", 3))
    _same_error(lambda: eg(enp.ones(2), 3, Opaque()), lambda: jg(jnp.ones(2), 3, Opaque()))


def test_int_out_of_range_is_jax_overflow_error():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x * k), jax.jit(lambda x, k: x * k)
    for _ in range(2):  # the keyed inline cache holds (Array, int) after the first
        np.testing.assert_array_equal(ef(enp.ones(2), 3), jf(jnp.ones(2), 3))
        _same_error(lambda: ef(enp.ones(2), 2**40), lambda: jf(jnp.ones(2), 2**40))
        _same_error(
            lambda: ef(enp.ones(2), k=-(2**31) - 1), lambda: jf(jnp.ones(2), k=-(2**31) - 1)
        )
    np.testing.assert_array_equal(ef(enp.ones(2), 2**31 - 1), jf(jnp.ones(2), 2**31 - 1))


def test_int_range_follows_x64():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x + k), jax.jit(lambda x, k: x + k)
    for cfg in (engine.config, jax.config):
        cfg.update("jax_enable_x64", True)
    try:
        ex, jx = enp.arange(2), jnp.arange(2)
        np.testing.assert_array_equal(ef(ex, 2**40), jf(jx, 2**40))
        _same_error(lambda: ef(ex, 2**63), lambda: jf(jx, 2**63))
    finally:
        for cfg in (engine.config, jax.config):
            cfg.update("jax_enable_x64", False)


@pytest.mark.parametrize("bad", [[1, 2], (1, [2]), {"a": 1}, {3}])
def test_unhashable_static_argument_is_jax_value_error(bad):
    """JAX's two lines: what could not be hashed, and Python's own TypeError."""
    jax, jnp = real_jax()
    ef, jf = engine.jit(f, static_argnums=1), jax.jit(f, static_argnums=1)
    eg, jg = engine.jit(f, static_argnames="y"), jax.jit(f, static_argnames="y")
    ef(1.0, 2), jf(1.0, 2)  # warm
    for e, j in (
        (lambda: ef(1.0, bad), lambda: jf(1.0, bad)),
        (lambda: eg(1.0, y=bad), lambda: jg(1.0, y=bad)),
    ):
        with pytest.raises(ValueError) as je:
            j()
        with pytest.raises(ValueError) as ee:
            e()
        assert str(ee.value).split("\n")[:2] == str(je.value).split("\n")[:2]
