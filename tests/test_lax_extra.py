"""lax names added for the rest of jax.lax: tile, split, stack, unstack (linear
primitives: values, jaxpr text, transposes through grad, vmap, jit), mulhi (every
integer width, x64), optimization_barrier, rng_bit_generator (bit-exact with JAX for
each algorithm and dtype), rng_uniform, empty, dce_sink and the plain helpers
(broadcast_like, broadcast_shapes, dtype, shape_as_value, index_take, batch_matmul,
platform_dependent, composite, stage) against real JAX 0.10.2."""

import numpy as np
import pytest
from helpers import assert_close, real_jax
from helpers import x64_both as x64

import engine
import engine.numpy as ejnp
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7 - 1


def same_jaxpr(fe, fj, *args):
    assert str(engine.make_jaxpr(fe)(*args)) == str(jax.make_jaxpr(fj)(*args))


SHAPE_CASES = [
    ("tile", lambda m, x: m.tile(x, (2, 1, 3))),
    ("tile0", lambda m, x: m.tile(x, (1, 0, 1))),
    ("split", lambda m, x: m.split(x, (1, 3), axis=2)),
    ("split_neg", lambda m, x: m.split(x, (0, 2, 1), axis=-2)),
    ("stack", lambda m, x: m.stack([x, 2 * x, -x], 1)),
    ("stack_last", lambda m, x: m.stack([x, x], -1)),
    ("unstack", lambda m, x: m.unstack(x, 2)),
    ("unstack0", lambda m, x: m.unstack(x)),
]


@pytest.mark.parametrize("name,f", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_shape_primitives(name, f):
    fe, fj = (lambda x: f(lax, x)), (lambda x: f(jlax, x))
    assert_close(fe(X), fj(X))
    same_jaxpr(fe, fj, X)
    assert_close(engine.jit(fe)(X), jax.jit(fj)(X))

    def loss(m, fn):
        def g(x):
            outs = fn(x)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            return sum(((o * (i + 1)) ** 2).sum() for i, o in enumerate(outs[:2]))

        return g

    assert_close(engine.grad(loss(lax, fe))(X), jax.grad(loss(jlax, fj))(X), rtol=1e-5)
    t = np.ones_like(X)
    assert_close(engine.jvp(fe, (X,), (t,)), jax.jvp(fj, (X,), (t,)))
    for axis in (0, 1, 2):
        assert_close(
            engine.vmap(fe, in_axes=axis)(np.moveaxis(np.stack([X, 2 * X]), 0, axis)),
            jax.vmap(fj, in_axes=axis)(np.moveaxis(np.stack([X, 2 * X]), 0, axis)),
        )


def test_shape_primitives_transpose_and_errors():
    # linear_transpose goes straight to the transpose rules
    fe = lambda x: lax.tile(x, (2, 1, 1))  # noqa: E731
    fj = lambda x: jlax.tile(x, (2, 1, 1))  # noqa: E731
    ct = np.arange(48, dtype=np.float32).reshape(4, 3, 4)
    assert_close(engine.linear_transpose(fe, X)(ct), jax.linear_transpose(fj, X)(ct))
    fe = lambda x: lax.split(x, (1, 1), axis=0)  # noqa: E731
    fj = lambda x: jlax.split(x, (1, 1), axis=0)  # noqa: E731
    cts = [np.ones((1, 3, 4), np.float32), 2 * np.ones((1, 3, 4), np.float32)]
    assert_close(engine.linear_transpose(fe, X)(cts), jax.linear_transpose(fj, X)(cts))
    with pytest.raises(ValueError):
        lax.split(X, (1, 1), axis=1)
    with pytest.raises(ValueError):
        lax.tile(X, (1, 2))
    with pytest.raises(TypeError):
        lax.stack([X, X[0]])
    assert lax.tile(np.int32(3) * np.ones(2, np.int32), (2,)).dtype == np.int32


@pytest.mark.parametrize(
    "dt", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_mulhi(dt):
    with x64():
        info = np.iinfo(dt)
        r = np.random.RandomState(0)
        x = np.concatenate(
            [
                np.array([info.min, info.max, 0, 1], dt),
                r.randint(info.min, int(info.max), 40, dtype=dt),
            ]
        )
        y = np.concatenate(
            [
                np.array([info.max, info.max, 5, info.min], dt),
                r.randint(info.min, int(info.max), 40, dtype=dt),
            ]
        )
        assert_close(lax.mulhi(x, y), jlax.mulhi(x, y))
        assert_close(engine.jit(lax.mulhi)(x, y), jax.jit(jlax.mulhi)(x, y))
        assert_close(
            engine.vmap(lax.mulhi, (0, None))(x[:3, None], y[:1]),
            jax.vmap(jlax.mulhi, (0, None))(x[:3, None], y[:1]),
        )
    same_jaxpr(lax.mulhi, jlax.mulhi, np.uint32(3), np.uint32(5))
    with pytest.raises(TypeError):
        lax.mulhi(1.0, 2.0)


def test_optimization_barrier():
    fe = lambda x: lax.optimization_barrier((x, 2 * x))  # noqa: E731
    fj = lambda x: jlax.optimization_barrier((x, 2 * x))  # noqa: E731
    assert_close(fe(X), fj(X))
    same_jaxpr(fe, fj, X)
    assert "optimization_barrier" in engine.jit(fe).lower(X).as_text()
    ge = engine.grad(lambda x: (lax.optimization_barrier(x * x) * x).sum())
    gj = jax.grad(lambda x: (jlax.optimization_barrier(x * x) * x).sum())
    assert_close(ge(X), gj(X))
    assert_close(engine.vmap(fe)(X), jax.vmap(fj)(X))
    assert_close(engine.jvp(fe, (X,), (X,)), jax.jvp(fj, (X,), (X,)))


KEYS = [np.array([1, 2, 3, 4], np.uint32), np.array([0, 0, 0, 42], np.uint32)]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("alg", ["RNG_DEFAULT", "RNG_THREE_FRY", "RNG_PHILOX"])
def test_rng_bit_generator_bit_exact(dtype, alg):
    with x64():
        for key in KEYS:
            for shape in [(5,), (2, 3)]:
                e = lax.rng_bit_generator(key, shape, dtype, getattr(lax.RandomAlgorithm, alg))
                j = jlax.rng_bit_generator(key, shape, dtype, getattr(jlax.RandomAlgorithm, alg))
                assert_close(e, j)
        fe = lambda k: lax.rng_bit_generator(k, (3,), dtype)  # noqa: E731
        fj = lambda k: jlax.rng_bit_generator(k, (3,), dtype)  # noqa: E731
        assert_close(engine.jit(fe)(KEYS[0]), jax.jit(fj)(KEYS[0]))
        keys = np.stack(KEYS)
        assert_close(engine.vmap(fe)(keys), jax.vmap(fj)(keys))


def test_rng_bit_generator_jaxpr_and_grad():
    same_jaxpr(
        lambda k: lax.rng_bit_generator(k, (2, 3)),
        lambda k: jlax.rng_bit_generator(k, (2, 3)),
        KEYS[0],
    )
    with pytest.raises(TypeError):
        lax.rng_bit_generator(np.zeros(4, np.int32), (2,))


def test_rng_uniform_and_empty_and_dce_sink():
    u = np.asarray(lax.rng_uniform(np.float32(1.0), np.float32(3.0), (100,)))
    assert u.shape == (100,) and u.dtype == np.float32 and (u >= 1).all() and (u < 3).all()
    same_jaxpr(
        lambda a, b: lax.rng_uniform(a, b, (3,)),
        lambda a, b: jlax.rng_uniform(a, b, (3,)),
        np.float32(0),
        np.float32(1),
    )
    with pytest.raises(ValueError):
        lax.rng_uniform(np.float32(0), np.ones(2, np.float32), (3,))
    e = lax.empty((2, 3), np.float32)
    assert e.shape == (2, 3) and e.dtype == np.float32
    assert engine.jit(lambda: lax.empty((4,), np.int32))().shape == (4,)
    same_jaxpr(lambda x: lax.dce_sink(x), lambda x: jlax.dce_sink(x), X)
    assert lax.dce_sink(X) is None
    assert engine.jit(lambda x: (lax.dce_sink(x), x + 1)[1])(X).shape == X.shape


def test_helpers():
    assert lax.broadcast_shapes((2, 1), (3,)) == jlax.broadcast_shapes((2, 1), (3,))
    assert lax.broadcast_shapes((1, 4), (5, 1, 1)) == jlax.broadcast_shapes((1, 4), (5, 1, 1))
    for v in (1.0, 1, True, np.float16(1), X, 1j):
        assert lax.dtype(v) == jlax.dtype(v)
    assert_close(lax.shape_as_value((2, 3)), jlax.shape_as_value((2, 3)))
    assert_close(lax.broadcast_like(1.0, X), jlax.broadcast_like(1.0, X))
    assert_close(lax.broadcast_like(X[0, 0], X), jlax.broadcast_like(X[0, 0], X))
    same_jaxpr(lambda x: lax.broadcast_like(1.0, x), lambda x: jlax.broadcast_like(1.0, x), X)
    idx = np.array([[0, 1, -1], [3, 0, 5]], np.int32)
    assert_close(lax.index_take(X, idx, (0, 2)), jlax.index_take(X, idx, (0, 2)))
    assert_close(lax.index_take(X, idx[:1], (1,)), jlax.index_take(X, idx[:1], (1,)))
    a, b = X, np.swapaxes(X, 1, 2)
    assert_close(lax.batch_matmul(a, b), jlax.batch_matmul(a, b), rtol=1e-5)
    same_jaxpr(lambda a, b: lax.batch_matmul(a, b), lambda a, b: jlax.batch_matmul(a, b), a, b)
    with pytest.raises(ValueError):
        lax.batch_matmul(X, X[0])
    fe = lambda x: lax.platform_dependent(x, cpu=ejnp.sin, default=ejnp.cos)  # noqa: E731
    fj = lambda x: jlax.platform_dependent(x, cpu=jnp.sin, default=jnp.cos)  # noqa: E731
    assert_close(fe(X), fj(X))
    assert_close(engine.jit(fe)(X), jax.jit(fj)(X))
    assert_close(
        lax.platform_dependent(X, tpu=ejnp.sin, default=ejnp.cos),
        jlax.platform_dependent(X, tpu=jnp.sin, default=jnp.cos),
    )
    ce = lax.composite(lambda x, y: x * y + 1, name="my.fma")
    cj = jlax.composite(lambda x, y: x * y + 1, name="my.fma")
    assert_close(ce(X, X), cj(X, X))
    # JAX has no JVP for composites; the engine's composite is its decomposition
    assert_close(engine.grad(lambda x: ce(x, x).sum())(X), 2 * X)
    assert_close(lax.stage(X), jlax.stage(X))
    same_jaxpr(lax.stage, jlax.stage, X)
    assert int(lax.RandomAlgorithm.RNG_PHILOX) == int(jlax.RandomAlgorithm.RNG_PHILOX)


def test_ragged_dot():
    lhs = np.arange(20, dtype=np.float32).reshape(5, 4) / 10
    rhs = np.arange(24, dtype=np.float32).reshape(3, 4, 2) / 10 - 1
    for gs in ([1, 3, 1], [0, 2, 3], [2, 2, 0], [1, 1, 1]):
        gs = np.array(gs, np.int32)
        assert_close(lax.ragged_dot(lhs, rhs, gs), jlax.ragged_dot(lhs, rhs, gs), rtol=1e-5)
        assert_close(
            engine.jit(lax.ragged_dot)(lhs, rhs, gs),
            jax.jit(jlax.ragged_dot)(lhs, rhs, gs),
            rtol=1e-5,
        )
        ge = engine.grad(lambda a, b: (lax.ragged_dot(a, b, gs) ** 2).sum(), (0, 1))(lhs, rhs)
        gj = jax.grad(lambda a, b: (jlax.ragged_dot(a, b, gs) ** 2).sum(), (0, 1))(lhs, rhs)
        assert_close(ge, gj, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        lax.ragged_dot(lhs, rhs[0], np.array([5], np.int32))


def test_scatter_apply():
    dn_e = lax.ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    dn_j = jlax.ScatterDimensionNumbers(
        update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    op = np.arange(5, dtype=np.float32)
    idx = np.array([[1], [3], [1]], np.int32)
    fe = lambda o: lax.scatter_apply(o, idx, lambda x: x * 2 + 1, dn_e, update_shape=(3,))  # noqa: E731
    fj = lambda o: jlax.scatter_apply(o, idx, lambda x: x * 2 + 1, dn_j, update_shape=(3,))  # noqa: E731
    assert_close(fe(op), fj(op))
    assert_close(engine.jit(fe)(op), jax.jit(fj)(op))
    oi = np.arange(5, dtype=np.int32)
    ge = lax.scatter_apply(oi, idx, lambda x: -x, dn_e, update_shape=(3,), mode="clip")
    gj = jlax.scatter_apply(oi, idx, lambda x: -x, dn_j, update_shape=(3,), mode="clip")
    assert_close(ge, gj)
