"""Typed PRNG keys (``key<fry>``) as an extended dtype, and the ``random_*`` primitives,
against real JAX: jaxpr text, values, types and errors."""

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
import engine.random as er

jax, jnp = real_jax()
jr = jax.random


def _data(k, mod):
    return np.asarray(mod.random.key_data(k))


def _same_keys(ek, jk):
    assert str(ek.dtype) == str(jk.dtype) == "key<fry>"
    assert ek.shape == jk.shape
    np.testing.assert_array_equal(_data(ek, engine), _data(jk, jax))


# ---------------------------------------------------------------------------- the dtype


def test_key_dtype_and_type():
    ek, jk = er.key(0), jr.key(0)
    assert str(engine.typeof(ek)) == str(jax.typeof(jk)) == "key<fry>[]"
    assert repr(ek.dtype) == repr(jk.dtype)
    assert ek.dtype.itemsize == jk.dtype.itemsize
    for name in ("prng_key", "extended"):
        assert enp.issubdtype(ek.dtype, getattr(engine.dtypes, name))
        assert jnp.issubdtype(jk.dtype, getattr(jax.dtypes, name))
    assert enp.issubdtype(ek.dtype, enp.integer) == jnp.issubdtype(jk.dtype, jnp.integer)
    assert er.key_dtype() == ek.dtype
    assert repr(ek) == repr(jk)
    assert str(er.split(ek, 3)) == str(jr.split(jk, 3))
    assert isinstance(ek, er.PRNGKeyArray) and not isinstance(er.PRNGKey(0), er.PRNGKeyArray)


def test_key_impl_and_data_round_trip():
    ek, jk = er.key(7), jr.key(7)
    assert er.key_impl(ek) == jr.key_impl(jk) == "threefry2x32"
    raw = np.array([[1, 2], [3, 4]], np.uint32)
    _same_keys(er.wrap_key_data(raw), jr.wrap_key_data(raw))
    np.testing.assert_array_equal(np.asarray(er.PRNGKey(5)), np.asarray(jr.PRNGKey(5)))


def test_numpy_conversion_and_arithmetic_errors():
    ek, jk = er.key(0), jr.key(0)
    for mod, k in ((np, ek), (np, jk)):
        with pytest.raises(TypeError, match="cannot be converted to a NumPy array"):
            mod.asarray(k)


def test_shape_ops_on_key_arrays():
    ek, jk = er.split(er.key(3), 6), jr.split(jr.key(3), 6)
    ops = [
        lambda k, m: k[1:4],
        lambda k, m: k[2],
        lambda k, m: k.reshape(2, 3),
        lambda k, m: k.reshape(2, 3).T,
        lambda k, m: m.numpy.concatenate([k, k[:2]]),
        lambda k, m: m.numpy.broadcast_to(k[0], (3,)),
        lambda k, m: k[::-1],
        lambda k, m: m.numpy.stack([k[0], k[1]]),
    ]
    for op in ops:
        _same_keys(op(ek, engine), op(jk, jax))
        _same_keys(engine.jit(lambda k: op(k, engine))(ek), jax.jit(lambda k: op(k, jax))(jk))
        e_text = str(engine.make_jaxpr(lambda k: op(k, engine))(ek))
        j_text = str(jax.make_jaxpr(lambda k: op(k, jax))(jk))
        assert e_text == j_text


def test_key_equality():
    ek, jk = er.split(er.key(3), 4), jr.split(jr.key(3), 4)
    np.testing.assert_array_equal(np.asarray(ek == ek[0]), np.asarray(jk == jk[0]))
    np.testing.assert_array_equal(np.asarray(ek != ek[::-1]), np.asarray(jk != jk[::-1]))
    assert str(engine.make_jaxpr(lambda k: k == k)(ek)) == str(jax.make_jaxpr(lambda k: k == k)(jk))


# ---------------------------------------------------------------------------- jaxprs

JAXPR_CASES = {
    "normal": lambda R, k: R.normal(k, (3,)),
    "uniform": lambda R, k: R.uniform(k, (2,)),
    "uniform_bounds": lambda R, k: R.uniform(k, (2, 2), minval=-1.0, maxval=2.0),
    "split": lambda R, k: R.split(k),
    "split_shape": lambda R, k: R.split(k, (2, 3)),
    "fold_in": lambda R, k: R.fold_in(k, 3),
    "bits": lambda R, k: R.bits(k, (2,)),
    "bits8": lambda R, k: R.bits(k, (4,), np.uint8),
    "key_data": lambda R, k: R.key_data(k),
    "normal_complex": lambda R, k: R.normal(k, (2,), np.complex64),
    "bernoulli": lambda R, k: R.bernoulli(k, 0.3, (3,)),
    "exponential": lambda R, k: R.exponential(k, (3,)),
    "permutation": lambda R, k: R.permutation(k, 5),
    "gamma": lambda R, k: R.gamma(k, 2.0, (3,)),
}


@pytest.mark.parametrize("name", sorted(JAXPR_CASES))
@pytest.mark.parametrize("typed", [False, True])
def test_jaxpr_text_matches_jax(name, typed):
    f = JAXPR_CASES[name]
    ek = er.key(0) if typed else er.PRNGKey(0)
    jk = jr.key(0) if typed else jr.PRNGKey(0)
    e_text = str(engine.make_jaxpr(lambda k: f(er, k))(ek))
    j_text = str(jax.make_jaxpr(lambda k: f(jr, k))(jk))
    assert e_text == j_text


def test_seeding_jaxprs():
    for ctor in ("key", "PRNGKey"):
        e = str(engine.make_jaxpr(lambda: getattr(er, ctor)(0))())
        j = str(jax.make_jaxpr(lambda: getattr(jr, ctor)(0))())
        assert e == j
        e = str(engine.make_jaxpr(lambda s: getattr(er, ctor)(s))(np.int32(3)))
        j = str(jax.make_jaxpr(lambda s: getattr(jr, ctor)(s))(np.int32(3)))
        assert e == j
    raw = np.array([0, 5], np.uint32)
    assert str(engine.make_jaxpr(er.wrap_key_data)(raw)) == str(
        jax.make_jaxpr(jr.wrap_key_data)(raw)
    )


def test_vmap_and_grad_jaxprs():
    ek, jk = er.split(er.key(1), 4), jr.split(jr.key(1), 4)
    e = engine.make_jaxpr(engine.vmap(lambda k: er.normal(k, (2,))))(ek)
    j = jax.make_jaxpr(jax.vmap(lambda k: jr.normal(k, (2,))))(jk)
    assert str(e) == str(j)
    e = engine.make_jaxpr(engine.vmap(lambda k: er.split(k)))(ek)
    j = jax.make_jaxpr(jax.vmap(lambda k: jr.split(k)))(jk)
    assert str(e) == str(j)


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize("typed", [False, True])
def test_values_bit_exact(typed):
    ek = er.key(42) if typed else er.PRNGKey(42)
    jk = jr.key(42) if typed else jr.PRNGKey(42)
    for f in JAXPR_CASES.values():
        e, j = f(er, ek), f(jr, jk)
        if enp.issubdtype(e.dtype, engine.dtypes.prng_key):
            _same_keys(e, j)
        else:
            np.testing.assert_array_equal(np.asarray(e), np.asarray(j))
        e = engine.jit(lambda k, f=f: f(er, k))(ek)
        j = jax.jit(lambda k, f=f: f(jr, k))(jk)
        if enp.issubdtype(e.dtype, engine.dtypes.prng_key):
            _same_keys(e, j)
        else:
            np.testing.assert_array_equal(np.asarray(e), np.asarray(j))


def test_keys_through_jit_vmap_and_batched_primitives():
    ek, jk = er.split(er.key(5), 3), jr.split(jr.key(5), 3)
    _same_keys(engine.jit(lambda k: k)(ek), jax.jit(lambda k: k)(jk))
    _same_keys(engine.vmap(er.split)(ek), jax.vmap(jr.split)(jk))
    _same_keys(
        engine.vmap(er.fold_in)(ek, np.arange(3, dtype=np.uint32)),
        jax.vmap(jr.fold_in)(jk, np.arange(3, dtype=np.uint32)),
    )
    np.testing.assert_array_equal(
        np.asarray(engine.vmap(lambda k: er.bits(k, (2,)))(ek)),
        np.asarray(jax.vmap(lambda k: jr.bits(k, (2,)))(jk)),
    )
    np.testing.assert_array_equal(
        np.asarray(engine.vmap(lambda k: er.normal(k, (2,)), in_axes=0, out_axes=1)(ek)),
        np.asarray(jax.vmap(lambda k: jr.normal(k, (2,)), in_axes=0, out_axes=1)(jk)),
    )
    # closed-over keys become constants of the compiled program
    k0e, k0j = er.key(9), jr.key(9)
    np.testing.assert_array_equal(
        np.asarray(engine.jit(lambda: er.normal(k0e, (2,)))()),
        np.asarray(jax.jit(lambda: jr.normal(k0j, (2,)))()),
    )


def test_grad_through_programs_holding_keys():
    ek, jk = er.key(0), jr.key(0)
    e = engine.grad(lambda x, k: x * er.normal(k))(1.5, ek)
    j = jax.grad(lambda x, k: x * jr.normal(k))(1.5, jk)
    np.testing.assert_array_equal(np.asarray(e), np.asarray(j))
    e_text = engine.make_jaxpr(engine.grad(lambda x, k: x * er.normal(k)))(1.5, ek)
    j_text = jax.make_jaxpr(jax.grad(lambda x, k: x * jr.normal(k)))(1.5, jk)
    assert str(e_text) == str(j_text)
    # keys have float0 tangents
    _, e_t = engine.jvp(lambda k: er.split(k), (ek,), (np.zeros((), engine.dtypes.float0),))
    _, j_t = jax.jvp(lambda k: jr.split(k), (jk,), (np.zeros((), jax.dtypes.float0),))
    assert e_t.dtype == j_t.dtype and e_t.shape == j_t.shape


def test_errors():
    with pytest.raises(TypeError, match="invalid PRNG key data"):
        er.wrap_key_data(np.zeros(3, np.uint32))
    with pytest.raises(TypeError, match="invalid PRNG key data"):
        jr.wrap_key_data(np.zeros(3, np.uint32))
    with pytest.raises(ValueError, match="accepts a single key"):
        er.normal(er.split(er.key(0)), ())
    with pytest.raises(ValueError, match="accepts a single key"):
        jr.normal(jr.split(jr.key(0)), ())
    with pytest.raises(TypeError, match="scalar seed, but was given a PRNG key"):
        er.key(er.key(0))
    with pytest.raises(TypeError, match="scalar seed, but was given a PRNG key"):
        jr.key(jr.key(0))


def test_clone_is_random_clone():
    for e_key, j_key in ((er.key(0), jr.key(0)), (er.PRNGKey(0), jr.PRNGKey(0))):
        assert str(engine.make_jaxpr(er.clone)(e_key)) == str(jax.make_jaxpr(jr.clone)(j_key))
    _same_keys(er.clone(er.key(4)), jr.clone(jr.key(4)))
