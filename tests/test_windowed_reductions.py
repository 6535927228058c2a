"""lax.reduce_window (monoid fast paths and the generic variadic primitive), the max-pool
gradient primitives, lax.reduce, associative_scan, approx_max_k/approx_min_k, cumulative
reductions, multi-operand sort and stable argsort against real JAX: values, first and
second derivatives, vmap, x64, jaxpr text and bad input."""

import numpy as np
import pytest
from helpers import assert_close, real_jax
from helpers import x64_both as x64

import engine
import engine.numpy as ejnp
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

TOL = dict(rtol=1e-5, atol=1e-5)
GRAD_TOL = dict(rtol=2e-4, atol=2e-4)


def rand(shape, dtype=np.float32, seed=0):
    r = np.random.RandomState(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return r.randint(-5, 6, size=shape).astype(dtype)
    return r.uniform(-2, 2, size=shape).astype(dtype)


MONOIDS = {
    "sum": (lax.add, jlax.add, 0.0),
    "max": (lax.max, jlax.max, -np.inf),
    "min": (lax.min, jlax.min, np.inf),
}
# window_dimensions, strides, padding, base_dilation, window_dilation
WINDOWS = {
    "pool": ((1, 1, 2, 2), (1, 1, 2, 2), "VALID", None, None),
    "same": ((1, 1, 3, 3), (1, 1, 2, 1), "SAME", None, None),
    "padded_base_dilated": (
        (1, 1, 3, 2),
        (1, 1, 1, 2),
        ((0, 0), (0, 0), (1, 2), (0, 1)),
        (1, 1, 2, 1),
        None,
    ),
    "window_dilated": ((1, 1, 2, 2), (1, 1, 1, 1), "VALID", None, (1, 1, 2, 1)),
}


def _rw(mod, op, init, window):
    wd, ws, pad, bd, wdl = window
    return lambda x: mod.reduce_window(x, init, op, wd, ws, pad, bd, wdl)


@pytest.mark.parametrize("monoid", list(MONOIDS))
@pytest.mark.parametrize("window", list(WINDOWS))
def test_monoid_reduce_window_matches_jax(monoid, window):
    eop, jop, init = MONOIDS[monoid]
    fe, fj = _rw(lax, eop, init, WINDOWS[window]), _rw(jlax, jop, init, WINDOWS[window])
    x = rand((2, 3, 7, 6))
    assert_close(fe(x), fj(x), **TOL)
    assert_close(engine.jit(fe)(x), fj(x), **TOL)
    xb = np.stack([x, x + 1], 1)
    assert_close(engine.vmap(fe, 1)(xb), jax.vmap(fj, 1)(xb), **TOL)
    if monoid != "sum" and window == "window_dilated":
        return  # JAX: no VJP for max-pool with window dilation
    loss_e = lambda x: (fe(x) ** 2).sum()  # noqa: E731
    loss_j = lambda x: (fj(x) ** 2).sum()  # noqa: E731
    assert_close(engine.grad(loss_e)(x), jax.grad(loss_j)(x), **GRAD_TOL)
    assert_close(
        engine.vmap(engine.grad(loss_e), 1)(xb), jax.vmap(jax.grad(loss_j), 1)(xb), **GRAD_TOL
    )
    small = x[:1, :1, :4, :4]
    he = engine.hessian(lambda x: (fe(x) ** 3).sum())(small)
    hj = jax.hessian(lambda x: (fj(x) ** 3).sum())(small)
    assert_close(he, hj, rtol=1e-3, atol=1e-3)


def test_max_pool_gradient_jaxpr_equals_jax():
    x = rand((2, 3, 7, 6))
    fe = lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")  # noqa: E731
    fj = lambda x: jlax.reduce_window(x, -np.inf, jlax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")  # noqa: E731
    for te, tj in ((fe, fj), (engine.grad(lambda x: fe(x).sum()), jax.grad(lambda x: fj(x).sum()))):
        assert str(engine.make_jaxpr(te)(x)) == str(jax.make_jaxpr(tj)(x))
    text = str(engine.make_jaxpr(engine.grad(lambda x: fe(x).sum()))(x))
    assert "select_and_scatter_add" in text


def test_integer_and_x64_reduce_window():
    xi = rand((5, 6), np.int32)
    lo = np.iinfo(np.int32).min
    assert_close(
        lax.reduce_window(xi, lo, lax.max, (2, 2), (1, 1), "VALID"),
        jlax.reduce_window(xi, lo, jlax.max, (2, 2), (1, 1), "VALID"),
    )
    with x64():
        x = rand((4, 6), np.float64)
        fe = lambda x: lax.reduce_window(x, 0.0, lax.add, (2, 3), (1, 2), "SAME")  # noqa: E731
        fj = lambda x: jlax.reduce_window(x, 0.0, jlax.add, (2, 3), (1, 2), "SAME")  # noqa: E731
        assert fe(x).dtype == np.float64
        assert_close(fe(x), fj(x), rtol=1e-13, atol=1e-13)
        assert_close(
            engine.grad(lambda x: (fe(x) ** 2).sum())(x),
            jax.grad(lambda x: (fj(x) ** 2).sum())(x),
            rtol=1e-12,
            atol=1e-12,
        )


def test_generic_and_variadic_reduce_window():
    x = rand((2, 3, 5, 4))
    t = np.ones_like(x)
    fe = lambda x: lax.reduce_window(x, 1.0, lax.mul, (1, 1, 2, 2), (1, 1, 1, 1), "SAME")  # noqa: E731
    fj = lambda x: jlax.reduce_window(x, 1.0, jlax.mul, (1, 1, 2, 2), (1, 1, 1, 1), "SAME")  # noqa: E731
    assert_close(fe(x), fj(x), **TOL)
    assert str(engine.make_jaxpr(fe)(x)) == str(jax.make_jaxpr(fj)(x))
    assert_close(engine.jvp(fe, (x,), (t,)), jax.jvp(fj, (x,), (t,)), **GRAD_TOL)
    xb = np.stack([x, -x])
    assert_close(engine.vmap(fe)(xb), jax.vmap(fj)(xb), **TOL)

    def pair(mod):
        def f(x):
            comb = lambda a, b: (mod.max(a[0], b[0]), mod.add(a[1], b[1]))  # noqa: E731
            return mod.reduce_window(
                (x, 2 * x), (-np.inf, 0.0), comb, (1, 1, 2, 2), (1, 1, 1, 1), "SAME"
            )

        return f

    assert_close(pair(lax)(x), pair(jlax)(x), **TOL)
    assert_close(engine.vmap(pair(lax))(xb), jax.vmap(pair(jlax))(xb), **TOL)
    prod = lambda f: lambda x: f(x)[0] * f(x)[1]  # noqa: E731
    assert_close(
        engine.jvp(prod(pair(lax)), (x,), (t,)), jax.jvp(prod(pair(jlax)), (x,), (t,)), **GRAD_TOL
    )


def test_reduce_window_bad_input():
    x = rand((4, 5))
    with pytest.raises(TypeError, match="wrong number of window_dimensions"):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1,), "VALID")
    with pytest.raises(TypeError, match="wrong number of window_dimensions"):
        jlax.reduce_window(x, 0.0, jlax.add, (2,), (1,), "VALID")
    with pytest.raises(RuntimeError, match="Unrecognized padding type"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")
    with pytest.raises(ValueError, match="same tree structure"):
        lax.reduce_window((x, x), (0.0,), lambda a, b: a, (2, 2), (1, 1), "VALID")


def test_lax_reduce_monoid_generic_and_variadic():
    x = rand((4, 5, 3))
    assert str(engine.make_jaxpr(lambda x: lax.reduce(x, 0.0, lax.add, (0, 2)))(x)) == str(
        jax.make_jaxpr(lambda x: jlax.reduce(x, 0.0, jlax.add, (0, 2)))(x)
    )
    comb = lambda a, b: a * b + np.float32(0.1) * a  # noqa: E731
    fe = lambda x: lax.reduce(x, np.float32(1.0), comb, (1,))  # noqa: E731
    fj = lambda x: jlax.reduce(x, np.float32(1.0), comb, (1,))  # noqa: E731
    assert_close(fe(x), fj(x), **TOL)
    assert_close(
        engine.grad(lambda x: fe(x).sum())(x), jax.grad(lambda x: fj(x).sum())(x), **GRAD_TOL
    )
    assert_close(engine.vmap(fe, 2)(x), jax.vmap(fj, 2)(x), **TOL)

    def argmax_pair(mod):
        def f(x):
            idx = mod.broadcasted_iota(np.int32, x.shape, 1)

            def comb(a, b):
                pick = mod.ge(a[0], b[0])
                return mod.select(pick, a[0], b[0]), mod.select(pick, a[1], b[1])

            return mod.reduce((x, idx), (np.float32(-np.inf), np.int32(0)), comb, (1,))

        return f

    assert_close(argmax_pair(lax)(x), argmax_pair(jlax)(x))
    assert_close(engine.vmap(argmax_pair(lax))(x), jax.vmap(argmax_pair(jlax))(x))
    g = engine.grad(lambda x: argmax_pair(lax)(x)[0].sum())(x)
    assert_close(g, jax.grad(lambda x: x.max(1).sum())(x), **TOL)


@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan(reverse):
    x = rand((6, 5, 3))
    for axis in (0, 1, 2):
        assert_close(
            lax.associative_scan(lax.add, x, reverse, axis),
            jlax.associative_scan(jlax.add, x, reverse, axis),
            **TOL,
        )

        def affine(mod):
            return lambda x: mod.associative_scan(
                lambda a, b: (a[0] * b[0], a[1] * b[0] + b[1]), (x, 2 * x), reverse, axis
            )

        assert_close(affine(lax)(x), affine(jlax)(x), **TOL)
        assert_close(
            engine.grad(lambda x: affine(lax)(x)[1].sum())(x),
            jax.grad(lambda x: affine(jlax)(x)[1].sum())(x),
            **GRAD_TOL,
        )
    xb = np.random.RandomState(1).rand(7, 5) > 0.5
    assert_close(
        lax.associative_scan(lax.bitwise_or, xb, reverse),
        jlax.associative_scan(jlax.bitwise_or, xb, reverse),
    )


@pytest.mark.parametrize("name", ["approx_max_k", "approx_min_k"])
def test_approx_top_k_is_exact_on_cpu_as_jax(name):
    fe, fj = getattr(lax, name), getattr(jlax, name)
    y = rand((3, 50), seed=4)
    for dim in (-1, 0):
        assert_close(fe(y, 2, reduction_dimension=dim), fj(y, 2, reduction_dimension=dim))
        le = lambda y: (fe(y, 2, reduction_dimension=dim)[0] ** 2).sum()  # noqa: E731
        lj = lambda y: (fj(y, 2, reduction_dimension=dim)[0] ** 2).sum()  # noqa: E731
        assert_close(engine.grad(le)(y), jax.grad(lj)(y), **GRAD_TOL)
        yb = np.stack([y, 2 * y], 1)
        assert_close(
            engine.vmap(lambda y: fe(y, 2, reduction_dimension=dim)[0], 1)(yb),
            jax.vmap(lambda y: fj(y, 2, reduction_dimension=dim)[0], 1)(yb),
        )


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp"])
def test_cumulative_ops_lower_as_jax_and_differentiate(name):
    fe, fj = getattr(lax, name), getattr(jlax, name)
    x = rand((4, 5, 3), seed=5)
    for reverse in (False, True):
        assert_close(fe(x, 1, reverse), fj(x, 1, reverse), rtol=1e-5, atol=1e-5)
        assert str(engine.make_jaxpr(lambda x: fe(x, 1, reverse))(x)) == str(
            jax.make_jaxpr(lambda x: fj(x, 1, reverse))(x)
        )
        assert_close(
            engine.grad(lambda x: (fe(x, 1, reverse) ** 2).sum())(x),
            jax.grad(lambda x: (fj(x, 1, reverse) ** 2).sum())(x),
            rtol=1e-3,
            atol=1e-3,
        )
    # as JAX (on CPU): a reduce_window over the whole prefix
    hlo = engine.jit(lambda x: fe(x, 1)).lower(x).as_text()
    assert "reduce_window" in hlo


def test_multi_operand_sort_and_stable_argsort():
    r = np.random.RandomState(6)
    k1, k2, v = r.randint(0, 3, (4, 6)), rand((4, 6), seed=7), rand((4, 6), seed=8)
    assert_close(lax.sort((k1, k2, v), 1, True, 2), jlax.sort((k1, k2, v), 1, True, 2))
    assert_close(lax.sort((k1, v), 0, True, 1), jlax.sort((k1, v), 0, True, 1))
    for desc in (False, True):
        assert_close(
            ejnp.argsort(k1, axis=1, stable=True, descending=desc),
            jnp.argsort(k1, axis=1, stable=True, descending=desc),
        )
    assert_close(lax.top_k(k2, 3), jlax.top_k(k2, 3))


def test_reduction_computation_is_traced_once_and_may_not_close_over_tracers():
    from engine.lax import generic_reductions

    x = rand((4, 6))
    comb = lambda a, b: a * b + np.float32(0.5)  # noqa: E731
    lax.reduce_window(x, 1.0, comb, (2, 2), (1, 1), "SAME")
    n = len(generic_reductions._COMPUTATION_CACHE)
    lax.reduce_window(x, 1.0, comb, (2, 2), (1, 1), "SAME")
    assert len(generic_reductions._COMPUTATION_CACHE) == n

    def closes_over(s):
        return lax.reduce_window(x, 1.0, lambda a, b: a * b * s, (2, 2), (1, 1), "SAME")

    with pytest.raises(NotImplementedError, match="can't close over traced values"):
        engine.jit(closes_over)(2.0)


def test_generic_select_and_scatter_and_shape_tuple():
    from jax._src.lax.windowed_reductions import _select_and_scatter as jsas

    from engine.lax.windowed_reductions import _select_and_scatter as esas

    x, src = rand((6, 8), seed=9), rand((3, 4), seed=10)
    for pick, comb, init, pad, win in (
        ("ge", "add", 0.0, ((0, 0), (0, 0)), (2, 2)),
        ("le", "mul", 1.0, ((1, 0), (1, 0)), (3, 3)),
    ):
        got = esas(
            x, getattr(lax, pick), win, (2, 2), pad, src, np.float32(init), getattr(lax, comb)
        )
        want = jsas(
            x, getattr(jlax, pick), win, (2, 2), pad, src, np.float32(init), getattr(jlax, comb)
        )
        assert_close(got, want, **TOL)
    args = ((7, 8), (2, 3), (2, 1), ((0, 1), (1, 1)))
    assert lax.reduce_window_shape_tuple(*args) == jlax.reduce_window_shape_tuple(*args)


def test_argument_errors_name_the_users_line():
    x = rand((4, 5))
    with pytest.raises(RuntimeError) as e:
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")
    assert "Unrecognized padding type" in str(e.value)
    assert "test_windowed_reductions.py" in str(e.value)
    with pytest.raises(ValueError) as e:
        lax.reduce((x, x), (0.0,), lambda a, b: a, (0,))
    assert "same tree structure" in str(e.value) and "test_windowed_reductions.py" in str(e.value)
