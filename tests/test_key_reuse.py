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
        jit=engine.jit,
        vmap=engine.vmap,
        grad=engine.grad,
        checkpoint=engine.checkpoint,
        random=engine.random,
        lax=engine.lax,
        custom_jvp=engine.custom_jvp,
        custom_vjp=engine.custom_vjp,
    )
    ref = types.SimpleNamespace(
        jit=jax.jit,
        vmap=jax.vmap,
        grad=jax.grad,
        checkpoint=jax.checkpoint,
        random=jax.random,
        lax=jax.lax,
        custom_jvp=jax.custom_jvp,
        custom_vjp=jax.custom_vjp,
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


def _cond_after_consume(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.lax.cond(True, lambda k: m.random.normal(k), lambda k: 0.0, k)


def _scan_after_consume(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.lax.scan(lambda c, _: (m.random.split(c)[0], 0.0), k, None, length=2)


def _while_split_carry(m):
    def body(c):
        k, i = c
        k, _ = m.random.split(k)
        return k, i + 1

    m.lax.while_loop(lambda c: c[1] < 3, body, (m.random.key(0), 0))


def _while_cond_and_body_share_key(m):
    m.lax.while_loop(
        lambda c: (m.random.uniform(c[0]) < 3) & (c[1] < 3),
        lambda c: (m.random.split(c[0])[0], c[1] + 1),
        (m.random.key(0), 0),
    )


def _permutation_then_choice(m):
    k = m.random.key(0)
    m.random.permutation(k, 5)
    m.random.choice(k, 5)


def _gamma_then_bernoulli(m):
    k = m.random.key(0)
    m.random.gamma(k, 1.0)
    m.random.bernoulli(k)


def _checkpoint_then_use(m):
    k = m.random.key(0)
    m.checkpoint(lambda x: x * m.random.normal(k))(1.0)
    m.random.normal(k)


def _checkpoint_in_jit(m):
    m.jit(lambda k: m.checkpoint(lambda k: m.random.normal(k))(k) + m.random.normal(k))(
        m.random.key(0)
    )


def _vmap_split_then_use(m):
    ks = m.random.split(m.random.key(0), 3)
    m.vmap(lambda k: m.random.split(k))(ks)
    m.random.normal(ks[0])


def _jit_split_outputs_fresh(m):
    ks = m.jit(lambda k: m.random.split(k))(m.random.key(0))
    m.random.normal(ks[0])
    m.random.normal(ks[1])


def _normal_then_split(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.random.split(k)


def _split_after_normal_in_jit(m):
    m.jit(lambda k: (m.random.normal(k), m.random.split(k)))(m.random.key(0))


def _consumed_key_to_non_consuming_jit(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.jit(lambda k: m.random.key_data(k))(k)


def _fold_in_after_consume(m):
    k = m.random.key(0)
    m.random.normal(k)
    m.random.fold_in(k, 3)


def _slice_of_slice(m):
    ks = m.random.split(m.random.key(0), 4)
    m.random.normal(ks[1:3][0])
    m.random.normal(ks[1])


def _disjoint_slice_ranges(m):
    ks = m.random.split(m.random.key(0), 4)
    m.vmap(m.random.normal)(ks[:2])
    m.vmap(m.random.normal)(ks[2:])
    m.random.normal(ks[1])


def _grad_consumes_twice(m):
    k = m.random.key(0)
    m.grad(lambda x: x * m.random.normal(k) + m.random.normal(k))(1.0)


def _fori_fold_in_in_jit(m):
    def f(k):
        return m.lax.fori_loop(0, 3, lambda i, c: c + m.random.normal(m.random.fold_in(k, i)), 0.0)

    m.jit(f)(m.random.key(0))


def _traced_index_twice(m):
    f = m.jit(lambda ks, i: m.random.normal(ks[i]) + m.random.normal(ks[i]))
    f(m.random.split(m.random.key(0)), 0)


def _traced_then_static_index(m):
    f = m.jit(lambda ks, i: m.random.normal(ks[i]) + m.random.normal(ks[0]))
    f(m.random.split(m.random.key(0)), 0)


def _cond_closure_in_jit(m):
    def f(k):
        return m.lax.cond(True, lambda: m.random.normal(k), lambda: 0.0) + m.random.normal(k)

    m.jit(f)(m.random.key(0))


def _switch_then_use(m):
    k = m.random.key(0)
    branches = [lambda k: m.random.normal(k), lambda k: m.random.uniform(k), lambda k: 0.0]
    m.lax.switch(1, branches, k)
    m.random.normal(k)


def _vmap_closure_then_use(m):
    k = m.random.key(0)
    m.vmap(lambda x: x + m.random.normal(k))(np.ones(3, np.float32))
    m.random.normal(k)


def _jit_returns_consumed_key(m):
    _, k2 = m.jit(lambda k: (m.random.normal(k), k))(m.random.key(0))
    m.random.normal(k2)


def _scan_final_carry_twice(m):
    body = lambda k, _: (m.random.split(k)[0], 0.0)  # noqa: E731
    c, _ = m.lax.scan(body, m.random.key(0), None, length=2)
    m.random.normal(c)
    m.random.normal(c)


# custom_jvp / custom_vjp: called eagerly the function runs op by op (each use checked);
# traced, JAX never looks inside it: the call consumes its key operands whole


def _custom_jvp_of(m, body):
    f = m.custom_jvp(body)
    f.defjvp(lambda primals, tangents: (f(*primals), 0.0))
    return f


def _custom_vjp_of(m, body, fwd=None):
    f = m.custom_vjp(body)
    f.defvjp(fwd or (lambda x, k: (f(x, k), None)), lambda res, g: (g, None))
    return f


def _custom_jvp_twice_eager(m):
    _custom_jvp_of(m, lambda k: m.random.normal(k) + m.random.normal(k))(m.random.key(0))


def _custom_jvp_twice_in_jit(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k) + m.random.normal(k))
    m.jit(f)(m.random.key(0))


def _custom_jvp_then_use(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k))
    k = m.random.key(0)
    f(k)
    m.random.normal(k)


def _custom_jvp_then_use_in_jit(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k))
    m.jit(lambda k: f(k) + m.random.normal(k))(m.random.key(0))


def _custom_jvp_key_data_then_use_in_jit(m):
    f = _custom_jvp_of(m, lambda k: m.random.key_data(k).sum().astype("float32"))
    m.jit(lambda k: f(k) + m.random.normal(k))(m.random.key(0))


def _custom_jvp_key_data_then_use_eager(m):
    f = _custom_jvp_of(m, lambda k: m.random.key_data(k).sum().astype("float32"))
    k = m.random.key(0)
    f(k)
    m.random.normal(k)


def _custom_jvp_after_consume(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k))
    k = m.random.key(0)
    m.random.normal(k)
    f(k)


def _custom_jvp_closure_under_grad(m):
    k = m.random.key(0)
    f = m.custom_jvp(lambda x: x * m.random.normal(k))
    f.defjvp(lambda primals, tangents: (f(*primals), tangents[0]))
    m.grad(f)(1.0)
    m.random.normal(k)


def _custom_jvp_closure_in_jit(m):
    def g(k):
        f = m.custom_jvp(lambda x: x * m.random.normal(k))
        f.defjvp(lambda primals, tangents: (f(*primals), tangents[0]))
        return f(1.0) + m.random.normal(k)

    m.jit(g)(m.random.key(0))


def _custom_jvp_once_in_jit_ok(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k))
    m.jit(lambda k: f(k) * 2.0)(m.random.key(0))


def _custom_jvp_jit_inside_twice(m):
    g = m.jit(lambda k: m.random.normal(k) + m.random.normal(k))
    m.jit(_custom_jvp_of(m, lambda k: g(k)))(m.random.key(0))


def _custom_vjp_twice_eager(m):
    f = _custom_vjp_of(m, lambda x, k: x * (m.random.normal(k) + m.random.normal(k)))
    f(1.0, m.random.key(0))


def _custom_vjp_twice_in_jit(m):
    f = _custom_vjp_of(m, lambda x, k: x * (m.random.normal(k) + m.random.normal(k)))
    m.jit(f)(1.0, m.random.key(0))


def _custom_vjp_then_use(m):
    f = _custom_vjp_of(m, lambda x, k: x * m.random.normal(k))
    k = m.random.key(0)
    f(1.0, k)
    m.random.normal(k)


def _custom_vjp_then_use_in_jit(m):
    f = _custom_vjp_of(m, lambda x, k: x * m.random.normal(k))
    m.jit(lambda x, k: f(x, k) + m.random.normal(k))(1.0, m.random.key(0))


def _custom_vjp_grad_then_use(m):
    f = _custom_vjp_of(m, lambda x, k: x * m.random.normal(k))
    k = m.random.key(0)
    m.grad(f)(1.0, k)
    m.random.normal(k)


def _custom_vjp_fwd_twice_under_grad(m):
    f = _custom_vjp_of(
        m,
        lambda x, k: x * m.random.normal(k),
        lambda x, k: (x * m.random.normal(k) * m.random.uniform(k), None),
    )
    m.grad(f)(1.0, m.random.key(0))


def _custom_vjp_key_data_then_use_in_jit(m):
    f = _custom_vjp_of(m, lambda x, k: x * m.random.key_data(k).sum())
    m.jit(lambda x, k: f(x, k) + m.random.normal(k))(1.0, m.random.key(0))


def _custom_vjp_in_jit_twice_called(m):
    f = m.jit(_custom_vjp_of(m, lambda x, k: x * m.random.normal(k)))
    k = m.random.key(0)
    f(1.0, k)
    f(1.0, k)


def _custom_vjp_second_operand_index(m):
    f = _custom_vjp_of(m, lambda x, k: x * m.random.normal(k))
    m.jit(lambda x, k: m.random.normal(k) + f(x, k))(1.0, m.random.key(0))


# keys[0] of one key is a squeeze in JAX (a forward, no slice): eagerly the result starts
# with the keys' consumed flags (a copy); in a jaxpr it is the same key


def _single_key_index_then_whole(m):
    ks = m.random.split(m.random.key(0), 1)
    m.random.normal(ks[0])
    m.vmap(m.random.normal)(ks)


def _single_key_index_twice(m):
    ks = m.random.split(m.random.key(0), 1)
    m.random.normal(ks[0])
    m.random.normal(ks[0])


def _consumed_then_single_key_index(m):
    ks = m.random.split(m.random.key(0), 1)
    m.vmap(m.random.normal)(ks)
    m.random.normal(ks[0])


def _single_key_index_then_whole_in_jit(m):
    m.jit(lambda ks: m.random.normal(ks[0]) + m.vmap(m.random.normal)(ks))(
        m.random.split(m.random.key(0), 1)
    )


def _reshape_then_original(m):
    ks = m.random.split(m.random.key(0), 4)
    m.vmap(m.vmap(m.random.normal))(ks.reshape(2, 2))
    m.vmap(m.random.normal)(ks)


FORWARD_CASES = [
    _single_key_index_then_whole,
    _single_key_index_twice,
    _consumed_then_single_key_index,
    _single_key_index_then_whole_in_jit,
    _reshape_then_original,
]


def _custom_jvp_under_vmap_twice(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k) + m.random.normal(k))
    m.vmap(f)(m.random.split(m.random.key(0), 3))


def _custom_jvp_under_vmap_then_use(m):
    ks = m.random.split(m.random.key(0), 3)
    m.vmap(_custom_jvp_of(m, lambda k: m.random.normal(k)))(ks)
    m.vmap(m.random.normal)(ks)


def _custom_jvp_under_vmap_in_jit_then_use(m):
    f = _custom_jvp_of(m, lambda k: m.random.normal(k))
    m.jit(lambda ks: m.vmap(f)(ks) + m.vmap(m.random.normal)(ks))(
        m.random.split(m.random.key(0), 3)
    )


def _custom_jvp_grad_in_jit_then_use(m):
    g = m.custom_jvp(lambda x, k: x * m.random.normal(k))
    g.defjvp(lambda primals, tangents: (g(*primals), tangents[0]))
    m.jit(lambda k: m.grad(lambda x: g(x, k))(1.0) + m.random.normal(k))(m.random.key(0))


def _custom_jvp_nondiff_key_under_grad(m):
    f = m.custom_jvp(lambda k, x: x * m.random.normal(k), nondiff_argnums=(0,))
    f.defjvp(lambda k, primals, tangents: (f(k, *primals), tangents[0]))
    k = m.random.key(0)
    m.grad(lambda x: f(k, x))(1.0)
    m.random.normal(k)


def _custom_jvp_returns_its_key_in_jit(m):
    f = m.custom_jvp(lambda k: (k, 1.0))
    f.defjvp(lambda primals, tangents: (f(*primals), (tangents[0], 0.0)))
    m.jit(lambda k: m.random.normal(f(k)[0]) + m.random.normal(k))(m.random.key(0))


def _custom_jvp_returns_its_key_eager(m):
    f = m.custom_jvp(lambda k: (k, 1.0))
    f.defjvp(lambda primals, tangents: (f(*primals), (tangents[0], 0.0)))
    k = m.random.key(0)
    k2, _ = f(k)
    m.random.normal(k2)
    m.random.normal(k)


def _custom_jvp_new_key_result_used_once_in_jit(m):
    # JAX's default rule: a staged call's key results come out consumed
    f = m.custom_jvp(lambda k: (m.random.split(k)[0], 1.0))
    f.defjvp(lambda primals, tangents: (f(*primals), (tangents[0], 0.0)))
    m.jit(lambda k: m.random.normal(f(k)[0]))(m.random.key(0))


def _custom_jvp_new_key_result_used_once_eager(m):
    f = m.custom_jvp(lambda k: (m.random.split(k)[0], 1.0))
    f.defjvp(lambda primals, tangents: (f(*primals), (tangents[0], 0.0)))
    m.random.normal(f(m.random.key(0))[0])


def _custom_vjp_under_vmap_twice(m):
    f = _custom_vjp_of(m, lambda x, k: x * (m.random.normal(k) + m.random.normal(k)))
    m.vmap(f)(np.ones(3, np.float32), m.random.split(m.random.key(0), 3))


def _custom_vjp_under_vmap_then_use(m):
    ks = m.random.split(m.random.key(0), 3)
    m.vmap(_custom_vjp_of(m, lambda x, k: x * m.random.normal(k)))(np.ones(3, np.float32), ks)
    m.vmap(m.random.normal)(ks)


CUSTOM_CASES = [
    _custom_jvp_twice_eager,
    _custom_jvp_twice_in_jit,
    _custom_jvp_then_use,
    _custom_jvp_then_use_in_jit,
    _custom_jvp_key_data_then_use_in_jit,
    _custom_jvp_key_data_then_use_eager,
    _custom_jvp_after_consume,
    _custom_jvp_closure_under_grad,
    _custom_jvp_closure_in_jit,
    _custom_jvp_once_in_jit_ok,
    _custom_jvp_jit_inside_twice,
    _custom_vjp_twice_eager,
    _custom_vjp_twice_in_jit,
    _custom_vjp_then_use,
    _custom_vjp_then_use_in_jit,
    _custom_vjp_grad_then_use,
    _custom_vjp_fwd_twice_under_grad,
    _custom_vjp_key_data_then_use_in_jit,
    _custom_vjp_in_jit_twice_called,
    _custom_vjp_second_operand_index,
    _custom_jvp_under_vmap_twice,
    _custom_jvp_under_vmap_then_use,
    _custom_jvp_under_vmap_in_jit_then_use,
    _custom_jvp_grad_in_jit_then_use,
    _custom_jvp_nondiff_key_under_grad,
    _custom_jvp_returns_its_key_in_jit,
    _custom_jvp_returns_its_key_eager,
    _custom_jvp_new_key_result_used_once_in_jit,
    _custom_jvp_new_key_result_used_once_eager,
    _custom_vjp_under_vmap_twice,
    _custom_vjp_under_vmap_then_use,
]


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
    _cond_after_consume,
    _scan_after_consume,
    _while_split_carry,
    _while_cond_and_body_share_key,
    _permutation_then_choice,
    _gamma_then_bernoulli,
    _checkpoint_then_use,
    _checkpoint_in_jit,
    _vmap_split_then_use,
    _jit_split_outputs_fresh,
    _normal_then_split,
    _split_after_normal_in_jit,
    _consumed_key_to_non_consuming_jit,
    _fold_in_after_consume,
    _slice_of_slice,
    _disjoint_slice_ranges,
    _grad_consumes_twice,
    _fori_fold_in_in_jit,
    _traced_index_twice,
    _traced_then_static_index,
    _cond_closure_in_jit,
    _switch_then_use,
    _vmap_closure_then_use,
    _jit_returns_consumed_key,
    _scan_final_carry_twice,
    *CUSTOM_CASES,
    *FORWARD_CASES,
]


def _outcome(fn, m):
    """None when ``fn`` runs, else (error class name, first line up to a ':' detail)."""
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        first = str(e).splitlines()[0]
        return type(e).__name__, first.split(":")[0].rstrip(". ")
    return None


def test_custom_function_cases_cover_both_outcomes(checking):
    # JAX raises in some and accepts others: neither half of the comparison is vacuous
    _, ref = _namespaces()
    outcomes = [_outcome(case, ref) for case in CUSTOM_CASES]
    assert outcomes.count(None) >= 4
    assert sum(o is not None and o[0] == "KeyReuseError" for o in outcomes) >= 10


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


# one program per construct that raises with the flag on
REUSING = [
    _eager_twice,
    _jit_twice,
    _user_jit_twice,
    _slices,
    _vmap_in_jit,
    _scan_reused_carry,
    _cond_branch_twice,
    _fori_reused_carry,
    _while_cond_and_body_share_key,
    _closure_in_jit_called_twice,
]


@pytest.mark.parametrize("case", REUSING, ids=lambda f: f.__name__.lstrip("_"))
def test_flag_off_accepts_reuse(case):
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


def test_environment_variable_turns_checking_on():
    import subprocess
    import sys

    code = (
        "import engine\n"
        "k = engine.random.key(0)\n"
        "engine.random.normal(k)\n"
        "try:\n"
        "    engine.random.normal(k)\n"
        "except engine.errors.KeyReuseError as e:\n"
        "    print('raised', e)\n"
    )
    env = {**__import__("os").environ, "JAX_DEBUG_KEY_REUSE": "1", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "raised Previously-consumed key passed to jit-compiled function at index 0" in (
        out.stdout
    ), out.stderr
