"""jax_debug_key_reuse against real JAX 0.10.2: the same programs raise KeyReuseError
with the same message phrase, and the programs JAX accepts run."""

import types

import numpy as np
import pytest

import engine
from tests.helpers import real_jax


def _namespaces():
    jax, jnp = real_jax()
    eng = types.SimpleNamespace(
        jit=engine.jit, vmap=engine.vmap, grad=engine.grad, random=engine.random, lax=engine.lax
    )
    ref = types.SimpleNamespace(
        jit=jax.jit, vmap=jax.vmap, grad=jax.grad, random=jax.random, lax=jax.lax
    )
    return eng, ref


@pytest.fixture
def checking():
    jax, _ = real_jax()
    engine.config.update("jax_debug_key_reuse", True)
    jax.config.update("jax_debug_key_reuse", True)
    yield
    engine.config.update("jax_debug_key_reuse", False)
    jax.config.update("jax_debug_key_reuse", False)


def _eager_twice(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.random.uniform(k)


def _jit_twice(m):
    m.jit(lambda k: m.random.normal(k) + m.random.uniform(k))(m.random.key(0))


def _split_then_use(m):
    k = m.random.key(0)
    m.random.split(k)
    m.random.normal(k)


def _clone(m):
    k = m.random.key(0)
    m.random.normal(m.random.clone(k))
    m.random.normal(k)


def _user_jit_twice(m):
    g = m.jit(lambda k: m.random.normal(k))
    k = m.random.key(0)
    g(k)
    g(k)


def _slices(m):
    ks = m.random.split(m.random.key(0))
    m.random.normal(ks[0])
    m.random.normal(ks[1])
    m.random.normal(ks[0])


def _slices_in_jit_ok(m):
    ks = m.random.split(m.random.key(0))
    m.jit(lambda ks: m.random.normal(ks[0]) + m.random.normal(ks[1]))(ks)


def _slices_in_jit_bad(m):
    ks = m.random.split(m.random.key(0))
    m.jit(lambda ks: m.random.normal(ks[0]) + m.random.normal(ks[0]))(ks)


def _unpack(m):
    k1, k2 = m.random.split(m.random.key(0))
    m.random.normal(k1)
    m.random.normal(k2)
    m.random.normal(k1)


def _reshape_slice(m):
    ks = m.random.split(m.random.key(0), 4).reshape(2, 2)
    m.random.normal(ks[0, 0])
    m.random.normal(ks[0, 0])


def _key_data_wrap(m):
    k = m.random.key(0)
    d = m.random.key_data(k)
    m.random.normal(k)
    m.random.normal(m.random.wrap_key_data(d))
    m.random.normal(m.random.wrap_key_data(d))


def _key_data_after_consume(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.random.key_data(k)


def _key_data_wrap_in_jit(m):
    m.jit(
        lambda k: m.random.normal(m.random.wrap_key_data(m.random.key_data(k))) + m.random.normal(k)
    )(m.random.key(0))


def _vmap_twice(m):
    ks = m.random.split(m.random.key(0), 3)
    f = m.vmap(m.random.normal)
    f(ks)
    f(ks)


def _vmap_in_jit(m):
    ks = m.random.split(m.random.key(0), 3)
    m.jit(lambda ks: m.vmap(m.random.normal)(ks) + m.vmap(m.random.uniform)(ks))(ks)


def _vmap_body_twice(m):
    ks = m.random.split(m.random.key(0), 3)
    m.vmap(lambda k: m.random.normal(k) + m.random.uniform(k))(ks)


def _scan_split_carry(m):
    def body(k, _):
        k, sub = m.random.split(k)
        return k, m.random.normal(sub)

    m.lax.scan(body, m.random.key(0), None, length=3)


def _scan_reused_carry(m):
    m.lax.scan(lambda k, _: (k, m.random.normal(k)), m.random.key(0), None, length=3)


def _scan_closed_over_key(m):
    k = m.random.key(0)
    m.lax.scan(lambda c, _: (c, m.random.normal(k)), 0.0, None, length=3)


def _scan_over_keys(m):
    ks = m.random.split(m.random.key(0), 3)
    m.lax.scan(lambda c, k: (c, m.random.normal(k)), 0.0, ks)


def _scan_over_keys_then_use(m):
    ks = m.random.split(m.random.key(0), 3)
    m.lax.scan(lambda c, k: (c, m.random.normal(k)), 0.0, ks)
    m.random.normal(ks[0])


def _cond_each_branch_once(m):
    k = m.random.key(0)
    m.lax.cond(True, lambda k: m.random.normal(k), lambda k: m.random.uniform(k), k)


def _cond_then_use(m):
    k = m.random.key(0)
    m.lax.cond(True, lambda k: m.random.normal(k), lambda k: 0.0, k)
    m.random.normal(k)


def _cond_branch_twice(m):
    k = m.random.key(0)
    m.lax.cond(True, lambda k: m.random.normal(k) + m.random.normal(k), lambda k: 0.0, k)


def _cond_in_jit_then_use(m):
    def f(k):
        return m.lax.cond(True, lambda k: m.random.normal(k), lambda k: 0.0, k) + m.random.normal(k)

    m.jit(f)(m.random.key(0))


def _fori_closed_over_key(m):
    k = m.random.key(0)
    m.lax.fori_loop(0, 3, lambda i, c: c + m.random.normal(k), 0.0)


def _fori_split_carry(m):
    def body(i, c):
        k, s = c
        k, sub = m.random.split(k)
        return k, s + m.random.normal(sub)

    m.lax.fori_loop(0, 3, body, (m.random.key(0), 0.0))


def _fori_reused_carry(m):
    m.lax.fori_loop(0, 3, lambda i, c: (c[0], c[1] + m.random.normal(c[0])), (m.random.key(0), 0.0))


def _while_reused_carry(m):
    m.lax.while_loop(
        lambda c: c[1] < 3,
        lambda c: (c[0], c[1] + m.random.normal(c[0])),
        (m.random.key(0), 0.0),
    )


def _legacy_keys_unchecked(m):
    k = m.random.PRNGKey(0)
    m.random.normal(k)
    m.random.normal(k)


def _fold_in_does_not_consume(m):
    k = m.random.key(0)
    m.random.fold_in(k, 1)
    m.random.fold_in(k, 2)
    m.random.normal(k)


def _jit_forwarded_fresh(m):
    k = m.random.key(0)
    k2 = m.jit(lambda k: k)(k)
    m.random.normal(k)
    m.random.normal(k2)


def _jit_forwarded_consumed(m):
    k = m.random.key(0)
    m.random.normal(k)
    k2 = m.jit(lambda k: k)(k)
    m.random.normal(k2)


def _equality_does_not_consume(m):
    k = m.random.key(0)
    m.random.normal(k)
    k == k  # noqa: B015


def _bits_then_randint(m):
    k = m.random.key(0)
    m.random.bits(k)
    m.random.randint(k, (2,), 0, 3)


def _grad_then_use(m):
    k = m.random.key(0)
    m.grad(lambda x: x * m.random.normal(k))(1.0)
    m.random.normal(k)


def _jit_in_jit(m):
    g = m.jit(lambda k: m.random.normal(k))
    m.jit(lambda k: g(k) + g(k))(m.random.key(0))


def _clone_in_jit(m):
    m.jit(lambda k: m.random.normal(m.random.clone(k)) + m.random.normal(k))(m.random.key(0))


def _closure_in_jit_called_twice(m):
    k = m.random.key(0)
    g = m.jit(lambda x: x + m.random.normal(k))
    g(1.0)
    g(1.0)


CASES = [
    _eager_twice,
    _jit_twice,
    _split_then_use,
    _clone,
    _user_jit_twice,
    _slices,
    _slices_in_jit_ok,
    _slices_in_jit_bad,
    _unpack,
    _reshape_slice,
    _key_data_wrap,
    _key_data_after_consume,
    _key_data_wrap_in_jit,
    _vmap_twice,
    _vmap_in_jit,
    _vmap_body_twice,
    _scan_split_carry,
    _scan_reused_carry,
    _scan_closed_over_key,
    _scan_over_keys,
    _scan_over_keys_then_use,
    _cond_each_branch_once,
    _cond_then_use,
    _cond_branch_twice,
    _cond_in_jit_then_use,
    _fori_closed_over_key,
    _fori_split_carry,
    _fori_reused_carry,
    _while_reused_carry,
    _legacy_keys_unchecked,
    _fold_in_does_not_consume,
    _jit_forwarded_fresh,
    _jit_forwarded_consumed,
    _equality_does_not_consume,
    _bits_then_randint,
    _grad_then_use,
    _jit_in_jit,
    _clone_in_jit,
    _closure_in_jit_called_twice,
]


def _outcome(fn, m):
    """None when ``fn`` runs, else (error class name, first line up to a ':' detail)."""
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        first = str(e).splitlines()[0]
        return type(e).__name__, first.split(":")[0].rstrip(". ")
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__.lstrip("_"))
def test_same_outcome_as_jax(checking, case):
    eng, ref = _namespaces()
    expected = _outcome(case, ref)
    assert _outcome(case, eng) == expected


def test_reuse_cases_do_raise(checking):
    # guard against a vacuous comparison: JAX raises in these
    eng, _ = _namespaces()
    for case in (_eager_twice, _jit_twice, _scan_reused_carry, _while_reused_carry, _slices):
        with pytest.raises(engine.errors.KeyReuseError):
            case(eng)


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__.lstrip("_"))
def test_flag_off_accepts_everything(case):
    assert not engine.config.jax_debug_key_reuse
    eng, _ = _namespaces()
    assert _outcome(case, eng) is None


def test_values_unchanged_by_checking():
    jax, _ = real_jax()
    off = np.asarray(engine.random.normal(engine.random.split(engine.random.key(3))[1], (4,)))
    with engine.debug_key_reuse():
        on = np.asarray(engine.random.normal(engine.random.split(engine.random.key(3))[1], (4,)))
        assert engine.config.jax_debug_key_reuse
    assert not engine.config.jax_debug_key_reuse
    with jax.debug_key_reuse(True):
        ref = np.asarray(jax.random.normal(jax.random.split(jax.random.key(3))[1], (4,)))
    np.testing.assert_array_equal(on, off)
    np.testing.assert_allclose(on, ref, rtol=1e-6)


def test_context_manager_matches_jax():
    jax, _ = real_jax()
    with engine.debug_key_reuse(True), jax.debug_key_reuse(True):
        for m in _namespaces():
            with pytest.raises(Exception) as info:
                _eager_twice(m)
            assert type(info.value).__name__ == "KeyReuseError"
            assert "Previously-consumed key passed to jit-compiled function at index 0" in str(
                info.value
            )
    assert _outcome(_eager_twice, _namespaces()[0]) is None
