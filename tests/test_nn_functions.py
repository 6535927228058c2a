"""The rest of jax.nn, differential against JAX: squareplus, sparse_plus/sigmoid,
log1mexp (whose derivative JAX defines by hand), logmeanexp, identity, standardize's
algorithms, masked softmax gradients, dot_product_attention with every masking option,
grouped heads, bias, residuals, gradients and vmap, and the public name list."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from helpers import x64_both as x64

import engine  # noqa: E402
import engine.nn as enn  # noqa: E402
import engine.numpy as enp  # noqa: E402
from tests.test_numpy import assert_same  # noqa: E402

EDGES = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, np.log(2.0), 1e-6, 30.0], np.float32)
X = np.random.RandomState(0).uniform(-3, 3, (3, 4)).astype(np.float32)
NEW = ["squareplus", "sparse_plus", "sparse_sigmoid", "log1mexp", "identity", "logmeanexp"]


def test_public_names_are_jax_s():
    names = {n for n in dir(jax.nn) if not n.startswith("_")}
    assert names <= set(dir(enn)), names - set(dir(enn))
    inits = {n for n in dir(jax.nn.initializers) if not n.startswith("_")}
    assert inits <= set(dir(enn.initializers)), inits - set(dir(enn.initializers))


@pytest.mark.parametrize("name", NEW)
def test_values_and_grads(name):
    fe, fj = getattr(enn, name), getattr(jax.nn, name)
    xs = [X] if name == "log1mexp" else [X, EDGES]
    xs += [np.abs(X) + 0.1, EDGES[3:]] if name == "log1mexp" else []
    for x in xs:
        assert_same(fe(x), fj(x), rtol=1e-6)
        assert_same(engine.jit(fe)(x), jax.jit(fj)(x), rtol=1e-6)
        wx = np.linspace(0.5, 2.0, x.size, dtype=np.float32).reshape(x.shape)
        out_w = wx if name != "logmeanexp" else 1.0
        ge = engine.grad(lambda x: enp.sum(fe(x) * out_w))(x)
        gj = jax.grad(lambda x: jnp.sum(fj(x) * out_w))(x)
        assert_same(ge, gj, rtol=1e-5, atol=1e-6)
    assert_same(engine.vmap(fe)(X), jax.vmap(fj)(X), rtol=1e-6)


def test_second_derivatives():
    for name in ("squareplus", "log1mexp", "sparse_plus"):
        fe, fj = getattr(enn, name), getattr(jax.nn, name)
        x = np.abs(X[0]) + 0.2
        assert_same(
            engine.hessian(lambda x: enp.sum(fe(x)))(x),
            jax.hessian(lambda x: jnp.sum(fj(x)))(x),
            rtol=1e-5,
            atol=1e-6,
        )


def test_options():
    mask = X > -1
    assert_same(enn.squareplus(X, b=1.5), jax.nn.squareplus(X, b=1.5))
    assert_same(enn.squareplus(2.0), jax.nn.squareplus(2.0))
    for kw in (
        {"axis": 1},
        {"axis": (0, 1), "keepdims": True},
        {"axis": 0, "where": mask},
        {"axis": 1, "keepdims": True, "where": mask},
    ):
        assert_same(enn.logmeanexp(X, **kw), jax.nn.logmeanexp(X, **kw), rtol=1e-6)
    for kw in ({"algorithm": "stable"}, {"algorithm": "stable", "axis": 0, "where": mask}):
        assert_same(enn.standardize(X, **kw), jax.nn.standardize(X, **kw), rtol=1e-5)
    with pytest.raises(ValueError, match="Unknown algorithm"):
        enn.standardize(X, algorithm="bogus")
    assert_same(enn.identity(3), jax.nn.identity(3))
    assert_same(
        enn.scaled_dot_general(X, X.T, (((1,), (0,)), ((), ()))),
        jax.nn.scaled_dot_general(X, X.T, (((1,), (0,)), ((), ()))),
    )


def test_masked_softmax_gradients():
    """Masked-out entries are replaced before exp (as JAX does), so huge masked values
    leave the gradient finite."""
    x = X.copy()
    x[0, 0] = 1e30
    mask = np.ones_like(x, bool)
    mask[0, 0] = False
    for name in ("softmax", "log_softmax"):
        fe, fj = getattr(enn, name), getattr(jax.nn, name)
        w = np.linspace(0.5, 2, x.size, dtype=np.float32).reshape(x.shape)
        ge = engine.grad(lambda x: enp.sum(enp.where(mask, fe(x, where=mask), 0) * w))(x)
        gj = jax.grad(lambda x: jnp.sum(jnp.where(mask, fj(x, where=mask), 0) * w))(x)
        assert_same(ge, gj, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- attention

B, T, S, N, K, H = 2, 5, 6, 4, 2, 8
R = np.random.RandomState(1)
Q = R.randn(B, T, N, H).astype(np.float32)
KEY = R.randn(B, S, K, H).astype(np.float32)
V = R.randn(B, S, K, H).astype(np.float32)
BIAS = R.randn(1, N, T, S).astype(np.float32)
MASK = R.rand(B, 1, T, S) > 0.3
QLEN = np.array([3, 5], np.int32)
KVLEN = np.array([6, 2], np.int32)

ATTENTION_CASES = {
    "plain": {},
    "bias": {"bias": BIAS},
    "bias-per-batch": {"bias": R.randn(B, 1, 1, S).astype(np.float32)},
    "mask": {"mask": MASK},
    "mask-per-head": {"mask": R.rand(1, N, T, S) > 0.5},
    "causal": {"is_causal": True},
    "seq-lengths": {"query_seq_lengths": QLEN, "key_value_seq_lengths": KVLEN},
    "q-lengths": {"query_seq_lengths": QLEN},
    "window": {"local_window_size": 1},
    "window-causal-all": {
        "local_window_size": (2, 0),
        "is_causal": True,
        "bias": BIAS,
        "mask": MASK,
    },
    "scale-xla": {"scale": 0.3, "implementation": "xla"},
    "residual": {"return_residual": True, "is_causal": True},
}


@pytest.mark.parametrize("case", list(ATTENTION_CASES))
def test_attention_values(case):
    kw = ATTENTION_CASES[case]
    assert_same(
        enn.dot_product_attention(Q, KEY, V, **kw),
        jax.nn.dot_product_attention(Q, KEY, V, **kw),
        rtol=2e-5,
        atol=2e-6,
    )


def test_attention_shapes_dtypes_and_grads():
    # 3-d inputs (no batch), multi-head-attention with N == K, bfloat16
    assert_same(
        enn.dot_product_attention(Q[0], KEY[0], V[0]),
        jax.nn.dot_product_attention(Q[0], KEY[0], V[0]),
        rtol=2e-5,
        atol=2e-6,
    )
    qf, kf, vf = Q[:, :, :2], KEY, V
    assert_same(
        enn.dot_product_attention(qf, kf, vf, is_causal=True),
        jax.nn.dot_product_attention(qf, kf, vf, is_causal=True),
        rtol=2e-5,
        atol=2e-6,
    )
    bf = [a.astype(jnp.bfloat16) for a in (Q, KEY, V)]
    out_e = enn.dot_product_attention(*bf, mask=MASK)
    out_j = jax.nn.dot_product_attention(*bf, mask=MASK)
    assert out_e.dtype == out_j.dtype
    np.testing.assert_allclose(
        np.asarray(out_e, np.float32), np.asarray(out_j, np.float32), rtol=2e-2, atol=2e-2
    )

    def loss(nn, np_):
        return lambda q, k, v, b: np_.sum(
            nn.dot_product_attention(q, k, v, bias=b, is_causal=True, key_value_seq_lengths=KVLEN)
            ** 2
        )

    ge = engine.jit(engine.grad(loss(enn, enp), argnums=(0, 1, 2, 3)))(Q, KEY, V, BIAS)
    gj = jax.jit(jax.grad(loss(jax.nn, jnp), argnums=(0, 1, 2, 3)))(Q, KEY, V, BIAS)
    assert_same(ge, gj, rtol=1e-4, atol=1e-5)
    ve = engine.vmap(lambda q: enn.dot_product_attention(q, KEY[0], V[0]))(Q)
    vj = jax.vmap(lambda q: jax.nn.dot_product_attention(q, KEY[0], V[0]))(Q)
    assert_same(ve, vj, rtol=2e-5, atol=2e-6)


def test_attention_errors():
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        enn.dot_product_attention(Q[:, :, :3], KEY, V)
    with pytest.raises(ValueError, match="mask dtype should be bool"):
        enn.dot_product_attention(Q, KEY, V, mask=MASK.astype(np.float32))
    with pytest.raises(ValueError, match="value shape should be"):
        enn.dot_product_attention(Q, KEY, V[:, :3])
    with pytest.raises(ValueError, match="Unsupported implementation"):
        enn.dot_product_attention(Q, KEY, V, implementation="bogus")
    with pytest.raises(NotImplementedError, match="cuDNN"):
        enn.dot_product_attention(Q, KEY, V, implementation="cudnn")


ALL = [
    "relu", "relu6", "sigmoid", "log_sigmoid", "softplus", "soft_sign", "silu", "gelu",
    "elu", "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_silu", "mish",
    "softmax", "log_softmax", "logsumexp", "standardize", *NEW,
]  # fmt: skip


def test_float64_with_x64():
    with x64():
        x = np.abs(X.astype(np.float64)) + 0.1

        def everything(lib, nn, np_):
            def f(x):  # values and gradients of every function, one compiled program
                outs = [getattr(nn, n)(x) for n in ALL]
                grads = [lib.grad(lambda x, n=n: np_.sum(getattr(nn, n)(x) * x))(x) for n in ALL]
                return outs, grads

            return lib.jit(f)

        (out_e, grad_e) = everything(engine, enn, enp)(x)
        (out_j, grad_j) = everything(jax, jax.nn, jnp)(x)
        assert_same(out_e, out_j, rtol=1e-12, atol=1e-14)
        assert_same(grad_e, grad_j, rtol=1e-10, atol=1e-12)
        q, k, v = (a.astype(np.float64) for a in (Q, KEY, V))
        kw = {"bias": BIAS.astype(np.float64), "is_causal": True, "key_value_seq_lengths": KVLEN}
        assert_same(
            enn.dot_product_attention(q, k, v, **kw),
            jax.nn.dot_product_attention(q, k, v, **kw),
            rtol=1e-6,
        )
