"""engine.lax reductions, argmax/argmin, cumulative reductions, sort/top_k and dot_general
against jax.lax: eager and jit values (ties, NaNs, zeros), jvp, grad, second derivatives,
vmap with the batch axis in each position, jaxpr text, and error messages. Hypothesis
draws reduction axes and dot_general dimension numbers."""

import numpy as np
import pytest
from helpers import assert_close, real_jax
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

F32, I32, BOOL = np.float32, np.int32, np.bool_
TOL = dict(rtol=2e-5, atol=2e-5)
GRAD_TOL = dict(rtol=1e-4, atol=1e-4)


def rand(shape, dtype=F32, seed=0):
    r = np.random.RandomState(seed)
    if dtype == BOOL:
        return r.rand(*shape) > 0.5
    if np.issubdtype(dtype, np.integer):
        return r.randint(-3, 4, size=shape).astype(dtype)
    return r.uniform(-2, 2, size=shape).astype(dtype)


def both(name):
    """The same lax function from the engine and from JAX."""
    return getattr(lax, name), getattr(jlax, name)


def check_values(fe, fj, *args, tol=TOL):
    expected = fj(*args)
    assert_close(fe(*args), expected, **tol)
    assert_close(engine.jit(fe)(*args), expected, **tol)


def check_jaxpr(fe, fj, *args):
    assert str(engine.make_jaxpr(fe)(*args)) == str(jax.make_jaxpr(fj)(*args))


def check_jvp_grad(fe, fj, x, seed=1, tol=GRAD_TOL):
    """jvp and grad under jit (one compile each instead of one per eager op)."""
    t = rand(x.shape, x.dtype, seed)
    jvp_e = engine.jit(lambda v, dv: engine.jvp(fe, (v,), (dv,)))
    jvp_j = jax.jit(lambda v, dv: jax.jvp(fj, (v,), (dv,)))
    assert_close(jvp_e(x, t), jvp_j(x, t), **tol)
    w = rand(np.shape(fj(x)), F32, seed + 1)
    assert_close(
        engine.jit(engine.grad(lambda v: (fe(v) * w).sum()))(x),
        jax.jit(jax.grad(lambda v: (fj(v) * w).sum()))(x),
        **tol,
    )


def check_vmap(fe, fj, args, in_axes, tol=TOL):
    assert_close(
        engine.vmap(fe, in_axes=in_axes)(*args), jax.vmap(fj, in_axes=in_axes)(*args), **tol
    )


def check_error(fe, fj):
    """Both raise the same exception type; ours opens with JAX's first line."""
    with pytest.raises(Exception) as ej:
        fj()
    with pytest.raises(type(ej.value)) as ee:
        fe()
    assert str(ee.value).splitlines()[0] == str(ej.value).splitlines()[0]


# ---------------------------------------------------------------------------- reductions

REDUCERS = {
    "reduce_sum": [F32, I32],
    "reduce_max": [F32, I32, BOOL],
    "reduce_min": [F32, I32, BOOL],
    "reduce_prod": [F32, I32],
    "reduce_and": [BOOL, I32],
    "reduce_or": [BOOL, I32],
    "reduce_xor": [BOOL, I32],
}
CASES = [(n, d) for n, ds in REDUCERS.items() for d in ds]


@pytest.mark.parametrize("name,dtype", CASES, ids=[f"{n}-{np.dtype(d).name}" for n, d in CASES])
def test_reduce_values_and_jaxpr(name, dtype):
    fe, fj = both(name)
    x = rand((3, 4, 2), dtype)
    check_values(lambda v: fe(v, (0, 2)), lambda v: fj(v, (0, 2)), x)
    check_values(lambda v: fe(v, ()), lambda v: fj(v, ()), x)
    check_jaxpr(lambda v: fe(v, (1,)), lambda v: fj(v, (1,)), x)


@pytest.mark.parametrize("name", ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"])
def test_reduce_jvp_grad_vmap(name):
    fe, fj = both(name)
    x = rand((3, 4))
    check_jvp_grad(lambda v: fe(v, (1,)), lambda v: fj(v, (1,)), x)
    check_jvp_grad(lambda v: fe(v, (0, 1)), lambda v: fj(v, (0, 1)), x)
    x3 = rand((2, 3, 4))
    for ax in (0, 1, 2):
        check_vmap(lambda v: fe(v, (0,)), lambda v: fj(v, (0,)), (x3,), ax)


def test_reduce_max_min_ties_split_tangent_evenly():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 1.0], [0.0, 0.0, 0.0, 0.0]], F32)
    for name in ("reduce_max", "reduce_min"):
        fe, fj = both(name)
        check_jvp_grad(lambda v: fe(v, (1,)), lambda v: fj(v, (1,)), x)
        check_jaxpr(
            lambda v, t: engine.jvp(lambda u: fe(u, (1,)), (v,), (t,)),
            lambda v, t: jax.jvp(lambda u: fj(u, (1,)), (v,), (t,)),
            x,
            x,
        )


def test_reduce_max_min_nan():
    x = np.array([[1.0, np.nan, 3.0], [2.0, 0.0, -1.0]], F32)
    for name in ("reduce_max", "reduce_min"):
        fe, fj = both(name)
        check_values(lambda v: fe(v, (1,)), lambda v: fj(v, (1,)), x)


def test_reduce_prod_with_zeros_first_and_second_order():
    x = np.array([[1.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.0, 1.0], [1.5, -2.0, 0.5, 3.0]], F32)
    fe, fj = both("reduce_prod")
    check_jvp_grad(lambda v: fe(v, (1,)), lambda v: fj(v, (1,)), x)
    v = rand((4,), F32, 3)
    h_e = engine.jit(lambda u, du: engine.jvp(engine.grad(lambda a: fe(a, (0,))), (u,), (du,))[1])(
        x[0], v
    )
    h_j = jax.jvp(jax.grad(lambda u: fj(u, (0,))), (x[0],), (v,))[1]
    assert_close(h_e, h_j, **GRAD_TOL)


def test_reduce_logical_and_weak_types():
    x = rand((3, 4), np.uint8) + np.uint8(250)
    check_values(lambda v: lax.reduce_and(v, (1,)), lambda v: jlax.reduce_and(v, (1,)), x)
    w = jnp.asarray(2.0)  # a weakly typed scalar
    for name in ("reduce_max", "reduce_sum"):
        fe, fj = both(name)
        assert fe(engine.numpy.asarray(2.0), ()).weak_type == fj(w, ()).weak_type


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_reduce_random_axes(data):
    rank = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    axes = tuple(data.draw(st.permutations(range(rank)))[: data.draw(st.integers(0, rank))])
    name = data.draw(st.sampled_from(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]))
    fe, fj = both(name)
    x = rand(shape, F32, data.draw(st.integers(0, 100)))
    assert_close(fe(x, axes), fj(x, axes), **TOL)
    t = rand(shape, F32, 7)
    assert_close(
        engine.jit(lambda v, dv: engine.jvp(lambda u: fe(u, axes), (v,), (dv,)))(x, t),
        jax.jit(lambda v, dv: jax.jvp(lambda u: fj(u, axes), (v,), (dv,)))(x, t),
        **GRAD_TOL,
    )


def test_reduce_errors():
    x = rand((2, 3))
    check_error(lambda: lax.reduce_max(x, (2,)), lambda: jlax.reduce_max(x, (2,)))
    check_error(lambda: lax.reduce_max(x, (0, 0)), lambda: jlax.reduce_max(x, (0, 0)))
    check_error(lambda: lax.reduce_and(x, (0,)), lambda: jlax.reduce_and(x, (0,)))
    check_error(lambda: lax.reduce_sum(x > 0, (0,)), lambda: jlax.reduce_sum(x > 0, (0,)))
    check_error(lambda: lax.reduce_prod(x > 0, (0,)), lambda: jlax.reduce_prod(x > 0, (0,)))


# ---------------------------------------------------------------------------- argmax / argmin


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_ties_nans_dtypes(name):
    fe, fj = both(name)
    nan = np.nan
    cases = [
        np.array([[1.0, nan, 3.0, nan, -0.0, 0.0], [0.0, -0.0, 3.0, 3.0, 1.0, -4.0]], F32),
        np.array([[2, 5, 5, 2], [7, 7, 7, 7]], I32),
        np.array([[False, True, True], [False, False, False]]),
    ]
    for x in cases:
        for axis in (0, 1):
            check_values(lambda v: fe(v, axis, np.int32), lambda v: fj(v, axis, np.int32), x)
    check_values(lambda v: fe(v, 1, np.int8), lambda v: fj(v, 1, np.int8), cases[0])
    check_jaxpr(lambda v: fe(v, 0, np.int32), lambda v: fj(v, 0, np.int32), cases[0])
    x3 = rand((2, 3, 4))
    for ax in (0, 1, 2):
        check_vmap(lambda v: fe(v, 1, np.int32), lambda v: fj(v, 1, np.int32), (x3,), ax)
    # piecewise constant: a float input still differentiates (to zero) through it
    assert_close(
        engine.grad(lambda v: (fe(v, 0, np.int32) * v[0]).sum())(x3[0]),
        jax.grad(lambda v: (fj(v, 0, np.int32) * v[0]).sum())(x3[0]),
    )


def test_argmax_errors():
    x = rand((2, 3))
    check_error(lambda: lax.argmax(x, 2, np.int32), lambda: jlax.argmax(x, 2, np.int32))
    check_error(lambda: lax.argmax(x, 0, np.float32), lambda: jlax.argmax(x, 0, np.float32))
    e = np.zeros((0, 3), F32)
    check_error(lambda: lax.argmin(e, 0, np.int32), lambda: jlax.argmin(e, 0, np.int32))


# ---------------------------------------------------------------------------- cumulative

CUMS = ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"]


@pytest.mark.parametrize("name", CUMS)
def test_cumulative_values_jaxpr_vmap(name):
    fe, fj = both(name)
    x = rand((3, 5))
    for axis in (0, 1):
        for reverse in (False, True):
            check_values(lambda v: fe(v, axis, reverse), lambda v: fj(v, axis, reverse), x)
    if name != "cumlogsumexp":
        xi = rand((3, 5), I32)
        check_values(lambda v: fe(v, 1), lambda v: fj(v, 1), xi)
    check_jaxpr(lambda v: fe(v, 1, True), lambda v: fj(v, 1, True), x)
    x3 = rand((2, 3, 4))
    for ax in (0, 1, 2):
        check_vmap(lambda v: fe(v, 1, True), lambda v: fj(v, 1, True), (x3,), ax)
    # the batch axis stays in place: no transposes before the op
    check_jaxpr(
        engine.vmap(lambda v: fe(v, 1), in_axes=2), jax.vmap(lambda v: fj(v, 1), in_axes=2), x3
    )


@pytest.mark.parametrize("name", CUMS)
def test_cumulative_jvp_grad_with_zeros_and_ties(name):
    fe, fj = both(name)
    check_jvp_grad(lambda v: fe(v, 1), lambda v: fj(v, 1), rand((3, 5)))
    check_jvp_grad(lambda v: fe(v, 0, True), lambda v: fj(v, 0, True), rand((5, 2), F32, 4))
    special = np.array(
        [[1.0, 0.0, 2.0, 0.0, 3.0], [2.0, 2.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0]], F32
    )
    check_jvp_grad(lambda v: fe(v, 1), lambda v: fj(v, 1), special)


def test_cumulative_second_order():
    x = np.array([1.0, 0.0, 2.0, -1.5, 3.0], F32)
    v = rand((5,), F32, 2)
    for name in ("cumprod", "cumlogsumexp", "cummax"):
        fe, fj = both(name)
        he = engine.jit(
            engine.grad(lambda u: (engine.grad(lambda w: (fe(w * w) * x).sum())(u) * v).sum())
        )(x)
        hj = jax.jit(jax.grad(lambda u: (jax.grad(lambda w: (fj(w * w) * x).sum())(u) * v).sum()))(
            x
        )
        assert_close(he, hj, **GRAD_TOL)


def test_cumulative_errors():
    x = rand((2, 3))
    check_error(lambda: lax.cumsum(x, 2), lambda: jlax.cumsum(x, 2))
    check_error(lambda: lax.cumsum(x, -1), lambda: jlax.cumsum(x, -1))
    check_error(lambda: lax.cummax(x > 0, 0), lambda: jlax.cummax(x > 0, 0))


# ---------------------------------------------------------------------------- sort / top_k


def test_sort_values_nan_and_signed_zero():
    x = np.array(
        [
            [np.nan, 1.0, -np.inf, np.inf, -0.0, 0.0, -np.nan, -1.0],
            [0.0, -0.0, 0.0, -0.0, 2.0, 2.0, 1.0, 1.0],
        ],
        F32,
    )
    check_values(lambda v: lax.sort(v), lambda v: jlax.sort(v), x)
    assert_close(1 / lax.sort(x[1:]), 1 / jlax.sort(x[1:]))  # stable: -0.0 == 0.0
    check_values(lambda v: lax.sort(v, 0), lambda v: jlax.sort(v, 0), x)
    check_values(lambda v: lax.sort(v), lambda v: jlax.sort(v), rand((3, 6), I32))
    check_values(lambda v: lax.sort(v), lambda v: jlax.sort(v), rand((3, 6), BOOL))
    check_jaxpr(lambda v: lax.sort(v), lambda v: jlax.sort(v), x)


def test_sort_multiple_operands_and_keys():
    k = rand((3, 6), I32)
    v = rand((3, 6))
    for num_keys in (1, 2):
        fe = lambda a, b: lax.sort((a, b), dimension=1, num_keys=num_keys)  # noqa: E731
        fj = lambda a, b: jlax.sort((a, b), dimension=1, num_keys=num_keys)  # noqa: E731
        check_values(fe, fj, k, v)
        check_jaxpr(fe, fj, k, v)
    check_values(
        lambda a, b: lax.sort_key_val(a, b, 0), lambda a, b: jlax.sort_key_val(a, b, 0), k, v
    )
    check_jaxpr(lambda a, b: lax.sort_key_val(a, b), lambda a, b: jlax.sort_key_val(a, b), k, v)


def test_sort_jvp_grad_vmap():
    x = rand((3, 5))
    check_jvp_grad(lambda v: lax.sort(v), lambda v: jlax.sort(v), x)
    check_jvp_grad(lambda v: lax.sort(v, 0), lambda v: jlax.sort(v, 0), x)
    # values follow their keys; keys with ties
    keys = np.array(
        [[2.0, 1.0, 2.0, 0.0, 1.0], [3.0, 3.0, 3.0, 3.0, 3.0], [1.0, 0.0, 1.0, 0.0, 1.0]], F32
    )
    check_jvp_grad(
        lambda v: lax.sort_key_val(keys, v, 1)[1], lambda v: jlax.sort_key_val(keys, v, 1)[1], x
    )
    check_jvp_grad(
        lambda v: lax.sort_key_val(v, v * v)[1], lambda v: jlax.sort_key_val(v, v * v)[1], x
    )
    x3 = rand((2, 3, 4))
    for ax in (0, 1, 2):
        check_vmap(lambda v: lax.sort(v, 0), lambda v: jlax.sort(v, 0), (x3,), ax)
        k3 = rand((2, 3, 4), I32, 5)
        check_vmap(
            lambda a, b: lax.sort_key_val(a, b),
            lambda a, b: jlax.sort_key_val(a, b),
            (k3, np.take(x3, 0, axis=ax)),
            (ax, None),
        )
    check_jaxpr(
        engine.vmap(lambda v: lax.sort(v, 0), in_axes=1),
        jax.vmap(lambda v: jlax.sort(v, 0), in_axes=1),
        x3,
    )
    check_vmap(
        lambda v: engine.grad(lambda u: (lax.sort(u) * u).sum())(v),
        lambda v: jax.grad(lambda u: (jlax.sort(u) * u).sum())(v),
        (x3,),
        1,
    )


def test_top_k():
    x = np.array([[1.0, np.nan, 3.0, -0.0, 0.0, 3.0], [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]], F32)
    check_values(lambda v: lax.top_k(v, 6), lambda v: jlax.top_k(v, 6), x)
    y = rand((4, 5))
    check_values(lambda v: lax.top_k(v, 2, axis=0), lambda v: jlax.top_k(v, 2, axis=0), y)
    check_jaxpr(lambda v: lax.top_k(v, 2), lambda v: jlax.top_k(v, 2), y)
    check_jvp_grad(lambda v: lax.top_k(v, 3)[0], lambda v: jlax.top_k(v, 3)[0], y)
    check_jvp_grad(lambda v: lax.top_k(v, 2, axis=0)[0], lambda v: jlax.top_k(v, 2, axis=0)[0], y)
    x3 = rand((2, 3, 4))
    for ax in (0, 1, 2):
        check_vmap(lambda v: lax.top_k(v, 2), lambda v: jlax.top_k(v, 2), (x3,), ax)
    check_jaxpr(
        engine.vmap(lambda v: lax.top_k(v, 2), in_axes=1),
        jax.vmap(lambda v: jlax.top_k(v, 2), in_axes=1),
        x3,
    )


def test_sort_top_k_errors():
    x = rand((2, 3))
    check_error(lambda: lax.sort(x, dimension=2), lambda: jlax.sort(x, dimension=2))
    check_error(lambda: lax.sort((x, x[0]), dimension=0), lambda: jlax.sort((x, x[0]), dimension=0))
    check_error(lambda: lax.sort((x, x), num_keys=3), lambda: jlax.sort((x, x), num_keys=3))
    check_error(lambda: lax.sort(x, num_keys=0), lambda: jlax.sort(x, num_keys=0))
    check_error(lambda: lax.top_k(x, 4), lambda: jlax.top_k(x, 4))
    check_error(lambda: lax.top_k(x, -1), lambda: jlax.top_k(x, -1))


# ---------------------------------------------------------------------------- dot_general

MATMUL = (([1], [0]), ([], []))
BMM = (([2], [1]), ([0], [0]))


def test_dot_general_values_and_jaxpr():
    a, b = rand((2, 3)), rand((3, 4), F32, 1)
    check_values(
        lambda x, y: lax.dot_general(x, y, MATMUL),
        lambda x, y: jlax.dot_general(x, y, MATMUL),
        a,
        b,
    )
    p, q = rand((2, 3, 4)), rand((2, 4, 5), F32, 1)
    check_values(
        lambda x, y: lax.dot_general(x, y, BMM), lambda x, y: jlax.dot_general(x, y, BMM), p, q
    )
    check_jaxpr(
        lambda x, y: lax.dot_general(x, y, BMM), lambda x, y: jlax.dot_general(x, y, BMM), p, q
    )
    # contracting several dims, batch dims not leading, free dims in operand order
    dn = (([3, 0], [0, 2]), ([1], [3]))
    l, r = rand((2, 3, 4, 5)), rand((5, 6, 2, 3), F32, 2)
    check_values(
        lambda x, y: lax.dot_general(x, y, dn), lambda x, y: jlax.dot_general(x, y, dn), l, r
    )
    for ia, ib in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4))]:
        check_values(lambda x, y: lax.dot(x, y), lambda x, y: jlax.dot(x, y), rand(ia), rand(ib))
    check_values(
        lambda x, y: lax.dot(x, y), lambda x, y: jlax.dot(x, y), rand((2, 3), I32), rand((3,), I32)
    )
    check_values(
        lambda x, y: lax.dot(x, y),
        lambda x, y: jlax.dot(x, y),
        rand((2, 3), BOOL),
        rand((3, 2), BOOL),
    )


@pytest.mark.parametrize(
    "lhs_dtype,rhs_dtype,preferred",
    [
        (np.int8, np.int8, np.int32),
        (jnp.bfloat16, jnp.bfloat16, np.float32),
        (np.float32, np.float32, np.float32),
        (np.int8, np.float32, None),
        (I32, BOOL, None),
        (np.uint8, np.int8, None),
        (np.float16, jnp.bfloat16, None),
    ],
)
def test_dot_general_preferred_and_mixed_dtypes(lhs_dtype, rhs_dtype, preferred):
    a = rand((2, 3), np.dtype(lhs_dtype))
    b = rand((3, 4), np.dtype(rhs_dtype), 1)
    fe = lambda x, y: lax.dot_general(x, y, MATMUL, preferred_element_type=preferred)  # noqa
    fj = lambda x, y: jlax.dot_general(x, y, MATMUL, preferred_element_type=preferred)  # noqa
    check_values(fe, fj, a, b, tol=dict(rtol=1e-2, atol=1e-2))
    check_jaxpr(fe, fj, a, b)


def test_dot_general_precision_param():
    a, b = rand((2, 3)), rand((3, 2))
    for prec in (None, "highest", jlax.Precision.HIGH, ("float32", "bfloat16")):
        ours = prec if not isinstance(prec, jlax.Precision) else lax.Precision[prec.name]
        fe = lambda x, y: lax.dot_general(x, y, MATMUL, precision=ours)  # noqa: E731
        fj = lambda x, y: jlax.dot_general(x, y, MATMUL, precision=prec)  # noqa: E731
        check_jaxpr(fe, fj, a, b)
        check_values(fe, fj, a, b)
    assert lax.Precision("tensorfloat32") is lax.Precision.HIGH
    assert repr(lax.Precision.HIGHEST) == repr(jlax.Precision.HIGHEST)


def test_dot_general_jvp_grad():
    p, q = rand((2, 3, 4)), rand((2, 4, 5), F32, 1)
    tp, tq = rand((2, 3, 4), F32, 2), rand((2, 4, 5), F32, 3)
    fe = lambda x, y: lax.dot_general(x, y, BMM)  # noqa: E731
    fj = lambda x, y: jlax.dot_general(x, y, BMM)  # noqa: E731
    assert_close(engine.jvp(fe, (p, q), (tp, tq)), jax.jvp(fj, (p, q), (tp, tq)), **GRAD_TOL)
    check_jaxpr(
        lambda *a: engine.jvp(fe, a[:2], a[2:]), lambda *a: jax.jvp(fj, a[:2], a[2:]), p, q, tp, tq
    )
    ge = engine.grad(lambda x, y: (fe(x, y) * fe(x, y)).sum(), argnums=(0, 1))
    gj = jax.grad(lambda x, y: (fj(x, y) * fj(x, y)).sum(), argnums=(0, 1))
    assert_close(ge(p, q), gj(p, q), **GRAD_TOL)
    check_jaxpr(
        engine.grad(lambda x, y: fe(x, y).sum(), argnums=(0, 1)),
        jax.grad(lambda x, y: fj(x, y).sum(), argnums=(0, 1)),
        p,
        q,
    )
    # bf16 operands accumulated in f32: cotangents come back in bf16
    a, b = rand((2, 3), jnp.bfloat16), rand((3, 2), jnp.bfloat16, 1)
    fe2 = lambda x, y: lax.dot_general(x, y, MATMUL, preferred_element_type=F32).sum()  # noqa
    fj2 = lambda x, y: jlax.dot_general(x, y, MATMUL, preferred_element_type=F32).sum()  # noqa
    assert_close(
        engine.grad(fe2, argnums=(0, 1))(a, b),
        jax.grad(fj2, argnums=(0, 1))(a, b),
        rtol=1e-2,
        atol=1e-2,
    )
    check_jaxpr(engine.grad(fe2, argnums=(0, 1)), jax.grad(fj2, argnums=(0, 1)), a, b)


@pytest.mark.parametrize("in_axes", [(0, 0), (1, 2), (2, None), (None, 1), (0, None), (None, 0)])
def test_dot_general_vmap(in_axes):
    base_l, base_r = (2, 3, 4), (2, 4, 5)
    ext = lambda shape, ax, s: rand(
        shape
        if ax is None
        # noqa: E731
        else shape[:ax] + (6,) + shape[ax:],
        F32,
        s,
    )
    l, r = ext(base_l, in_axes[0], 0), ext(base_r, in_axes[1], 1)
    fe = lambda x, y: lax.dot_general(x, y, BMM)  # noqa: E731
    fj = lambda x, y: jlax.dot_general(x, y, BMM)  # noqa: E731
    check_vmap(fe, fj, (l, r), in_axes)
    check_jaxpr(engine.vmap(fe, in_axes=in_axes), jax.vmap(fj, in_axes=in_axes), l, r)
    ge = lambda x, y: engine.grad(lambda u, w: (fe(u, w) * fe(u, w)).sum(), (0, 1))(x, y)  # noqa
    gj = lambda x, y: jax.grad(lambda u, w: (fj(u, w) * fj(u, w)).sum(), (0, 1))(x, y)  # noqa
    check_vmap(ge, gj, (l, r), in_axes, tol=GRAD_TOL)


@st.composite
def dot_problems(draw):
    """Random shapes and dimension numbers: each operand's axes are a shuffled mix of
    batch, contracting and free axes."""
    nb, nc = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    nl, nr = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    size = st.integers(1, 3)
    bs = [draw(size) for _ in range(nb)]
    cs = [draw(size) for _ in range(nc)]
    ls = [draw(size) for _ in range(nl)]
    rs = [draw(size) for _ in range(nr)]

    def layout(free):
        roles = (
            [("b", i) for i in range(nb)]
            + [("c", i) for i in range(nc)]
            + [("f", i) for i in range(len(free))]
        )
        return draw(st.permutations(roles))

    lroles, rroles = layout(ls), layout(rs)
    sizes = {"b": bs, "c": cs}

    def shape(roles, free):
        return tuple((free if r == "f" else sizes[r])[i] for r, i in roles)

    def where(roles, kind, n):
        return [roles.index((kind, i)) for i in range(n)]

    dn = (
        (where(lroles, "c", nc), where(rroles, "c", nc)),
        (where(lroles, "b", nb), where(rroles, "b", nb)),
    )
    return shape(lroles, ls), shape(rroles, rs), dn


@settings(max_examples=12, deadline=None)
@given(problem=dot_problems(), seed=st.integers(0, 1000))
def test_dot_general_random_dimension_numbers(problem, seed):
    lshape, rshape, dn = problem
    l, r = rand(lshape, F32, seed), rand(rshape, F32, seed + 1)
    fe = lambda x, y: lax.dot_general(x, y, dn)  # noqa: E731
    fj = lambda x, y: jlax.dot_general(x, y, dn)  # noqa: E731
    expected = fj(l, r)
    assert_close(fe(l, r), expected, **TOL)
    w = rand(expected.shape, F32, seed + 2)
    value_and_grads_e = engine.jit(engine.value_and_grad(lambda x, y: (fe(x, y) * w).sum(), (0, 1)))
    value_and_grads_j = jax.jit(jax.value_and_grad(lambda x, y: (fj(x, y) * w).sum(), (0, 1)))
    assert_close(value_and_grads_e(l, r), value_and_grads_j(l, r), **GRAD_TOL)


def test_dot_general_errors():
    x = rand((2, 3))
    bad = [
        (([1], [1]), ([0], [1])),
        (([0], [1]), ([], [])),
        (([1], [1]), ([1], [1])),
        (([3], [1]), ([], [])),
        (([1, 1], [1, 1]), ([], [])),
        (([1], [1]), ([0], [])),
    ]
    for dn in bad:
        check_error(lambda: lax.dot_general(x, x, dn), lambda: jlax.dot_general(x, x, dn))
    check_error(lambda: lax.dot(x, x), lambda: jlax.dot(x, x))
    i8 = x.astype(np.int32)
    check_error(
        lambda: lax.dot_general(i8, i8.T, MATMUL, preferred_element_type=np.int8),
        lambda: jlax.dot_general(i8, i8.T, MATMUL, preferred_element_type=np.int8),
    )
