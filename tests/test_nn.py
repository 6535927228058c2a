"""engine.nn differential against jax.nn: values, dtypes and weak types under jit,
gradients (including JAX's chosen derivatives at the kinks of relu and relu6), vmap,
the numerically stable softmax/logsumexp on large inputs, and jaxpr text."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import engine  # noqa: E402
import engine.nn as enn  # noqa: E402
import engine.numpy as enp  # noqa: E402
from tests.test_numpy import assert_same  # noqa: E402

X = np.random.RandomState(0).uniform(-3, 3, (3, 4)).astype(np.float32)
KINKS = np.array([[-1.0, 0.0, 1.0, 6.0, 7.0, 3.0, -0.0, 6.0]], np.float32)

ACTIVATIONS = [
    "relu",
    "relu6",
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "soft_sign",
    "silu",
    "swish",
    "gelu",
    "elu",
    "celu",
    "selu",
    "leaky_relu",
    "hard_tanh",
    "hard_sigmoid",
    "hard_silu",
    "mish",
    "tanh",
    "softmax",
    "log_softmax",
    "logsumexp",
    "standardize",
    "glu",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
    "log1mexp",
    "logmeanexp",
    "identity",
]


def _accepts(fn, x):
    try:
        jax.eval_shape(fn, x)
    except Exception:
        return False
    return True


def _both(fn_name, **kw):
    return (
        lambda *a: getattr(enn, fn_name)(*a, **kw),
        lambda *a: getattr(jax.nn, fn_name)(*a, **kw),
    )


def test_activation_values():
    """All activations on float32, float16, int and Python-scalar inputs, one jitted
    program per library."""
    names = [n for n in ACTIVATIONS if n != "glu"]
    ints = np.arange(-3, 3, dtype=np.int32)
    int_ok = [n for n in names if _accepts(getattr(jax.nn, n), ints)]
    scalar_ok = [n for n in names if _accepts(getattr(jax.nn, n), 1.5)]
    assert "relu" in int_ok and "sigmoid" not in int_ok

    def make(mod, nn):
        def f(x, h, i):
            outs = []
            for n in names:
                fn = getattr(nn, n)
                outs += [fn(x), fn(h), fn(KINKS)]
                outs += [fn(i)] if n in int_ok else []
                outs += [fn(1.5)] if n in scalar_ok else []
            return outs

        return f

    for n in set(names) - set(int_ok):
        with pytest.raises(TypeError):
            getattr(enn, n)(ints)
    args = (X, X.astype(np.float16), ints)
    out_e = engine.jit(make(enp, enn))(*args)
    out_j = jax.jit(make(jnp, jax.nn))(*args)
    assert_same(out_e, out_j, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_grads(name):
    fe, fj = _both(name)
    for x in (X, KINKS) if name not in ("glu", "standardize") else (X,):
        shape = jax.eval_shape(fj, x).shape
        wx = np.linspace(0.5, 2.0, int(np.prod(shape)), dtype=np.float32).reshape(shape)
        g_e = engine.jit(engine.grad(lambda x: enp.sum(fe(x) * wx)))(x)
        g_j = jax.jit(jax.grad(lambda x: jnp.sum(fj(x) * wx)))(x)
        assert_same(g_e, g_j, rtol=1e-4, atol=1e-5)


def test_kink_derivatives_match_jax_choices():
    """relu'(0) = 0; relu6' is 0 at 0 and at 6 (JAX's custom derivatives)."""
    for name in ("relu", "relu6"):
        fe, fj = _both(name)
        g_e = engine.grad(lambda x: enp.sum(fe(x)))(KINKS)
        g_j = jax.grad(lambda x: jnp.sum(fj(x)))(KINKS)
        assert_same(g_e, g_j)


def test_options():
    x = X
    mask = x > -1
    cases = [
        ("gelu", (x,), {"approximate": False}),
        ("elu", (x,), {"alpha": 0.5}),
        ("celu", (x,), {"alpha": 2.0}),
        ("leaky_relu", (x,), {"negative_slope": 0.2}),
        ("softmax", (x,), {"axis": 0}),
        ("softmax", (x,), {"axis": (0, 1)}),
        ("softmax", (x,), {"where": mask}),
        ("log_softmax", (x,), {"axis": 0}),
        ("log_softmax", (x,), {"where": mask}),
        ("logsumexp", (x,), {"axis": 1}),
        ("logsumexp", (x,), {"axis": (0, 1), "keepdims": True}),
        ("logsumexp", (x,), {"axis": 0, "b": np.abs(x)}),
        ("logsumexp", (x,), {"axis": 1, "b": x, "return_sign": True}),
        ("logsumexp", (x,), {"where": mask, "axis": 1}),
        ("standardize", (x,), {"axis": 0}),
        ("standardize", (x,), {"axis": None}),
        ("standardize", (x,), {"mean": 0.5, "variance": 2.0}),
        ("glu", (x.T,), {"axis": 0}),
        ("one_hot", (np.array([0, 2, 1, 5, -1]), 4), {}),
        ("one_hot", (np.array([[0, 2], [1, 3]]), 4), {"axis": 0}),
        ("one_hot", (np.array([0, 2]), 3), {"dtype": jnp.int32}),
        ("one_hot", (np.array([0, 2]), 3), {"dtype": jnp.bfloat16}),
    ]
    for name, args, kw in cases:
        e_kw = {k: (getattr(enp, v.dtype.name) if k == "dtype" else v) for k, v in kw.items()}
        assert_same(
            getattr(enn, name)(*args, **e_kw),
            getattr(jax.nn, name)(*args, **kw),
            rtol=1e-5,
            atol=1e-6,
        )


def test_stable_on_large_inputs():
    big = np.array([[1000.0, 1001.0, -1000.0], [-np.inf, 0.0, 1.0]], np.float32)
    for name in ("softmax", "log_softmax", "logsumexp"):
        fe, fj = _both(name)
        assert_same(fe(big), fj(big), rtol=1e-5)
        assert np.all(np.isfinite(np.asarray(fe(big[:1]))))
    all_neg_inf = np.full((2,), -np.inf, np.float32)
    assert_same(enn.logsumexp(all_neg_inf), jax.nn.logsumexp(all_neg_inf))
    g_e = engine.grad(lambda x: enn.logsumexp(x))(big[0])
    g_j = jax.grad(lambda x: jax.nn.logsumexp(x))(big[0])
    assert_same(g_e, g_j, rtol=1e-5)


def test_vmap_and_jvp():
    for name in ("softmax", "logsumexp", "gelu", "standardize"):
        fe, fj = _both(name)
        assert_same(engine.vmap(fe)(X), jax.vmap(fj)(X), rtol=1e-5, atol=1e-6)
        assert_same(engine.vmap(fe, in_axes=1)(X), jax.vmap(fj, in_axes=1)(X), rtol=1e-5, atol=1e-6)
        t = np.ones_like(X)
        assert_same(engine.jvp(fe, (X,), (t,)), jax.jvp(fj, (X,), (t,)), rtol=1e-5, atol=1e-5)
    he = engine.hessian(lambda x: enn.logsumexp(x))(X[0])
    hj = jax.hessian(lambda x: jax.nn.logsumexp(x))(X[0])
    assert_same(he, hj, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "logsumexp", "gelu", "sigmoid", "tanh"])
def test_jaxpr_text_matches_jax(name):
    fe, fj = _both(name)
    x = np.ones(3, np.float32)
    assert str(engine.make_jaxpr(fe)(x)) == str(jax.make_jaxpr(fj)(x))


def test_one_hot_jaxpr_body_matches_jax():
    """JAX wraps one_hot in a nested jit named _one_hot; so does the engine: the text is
    JAX's."""
    i = np.ones(3, np.int32)
    ours = str(engine.make_jaxpr(lambda i: enn.one_hot(i, 3))(i))
    theirs = str(jax.make_jaxpr(lambda i: jax.nn.one_hot(i, 3))(i))
    assert ours == theirs


def test_initializers():
    ei, ji = enn.initializers, jax.nn.initializers
    assert_same(ei.zeros(None, (2, 3)), ji.zeros(None, (2, 3)))
    assert_same(ei.ones(None, (2,), enp.int32), ji.ones(None, (2,), jnp.int32))
    assert_same(ei.constant(1.5)(None, (2,)), ji.constant(1.5)(None, (2,)))


def test_errors():
    with pytest.raises(TypeError, match="requires ndarray or scalar arguments, got <class 'list'>"):
        enn.relu([1.0, -1.0])
    with pytest.raises(TypeError):
        enn.softmax([1.0, 2.0])
