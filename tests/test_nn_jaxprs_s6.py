"""Every public ``jax.nn`` function has JAX 0.10.2's structure (its ``jit`` boundaries,
names, static arguments, ``inline=True``, ``custom_jvp`` rules): ``make_jaxpr`` of it, of
its grad and of its jvp print exactly JAX's text, and its values are JAX's. Also the
pieces under them made to match: ``custom_jvp.defjvps``' sum of tangents, the JVP rules of
select_n, logaddexp, acosh and atanh, and reduce_sum's transpose."""

import warnings

import numpy as np
import pytest

import engine
import engine.nn as enn
from tests.helpers import real_jax

jax, jnp = real_jax()

X = np.array([[-2.0, -0.5, 0.3, 1.5], [0.7, 2.5, -1.2, 0.0]], np.float32)
POS = np.array([[0.2, 0.5, 1.0, 2.0], [3.0, 0.7, 0.05, 6.0]], np.float32)  # log1mexp's domain
MASK = np.array([[True, False, True, True], [False, True, True, True]])


def _elementwise(name, **kw):
    return (name, lambda nn: lambda x: getattr(nn, name)(x, **kw), X, True)


# (id, function of the nn module, input, whether a weak Python float input applies)
CASES = [
    _elementwise("identity"),
    _elementwise("relu"),
    _elementwise("relu6"),
    _elementwise("sigmoid"),
    _elementwise("log_sigmoid"),
    _elementwise("softplus"),
    _elementwise("soft_sign"),
    _elementwise("silu"),
    _elementwise("swish"),
    _elementwise("gelu"),
    ("gelu_exact", lambda nn: lambda x: nn.gelu(x, approximate=False), X, True),
    _elementwise("elu"),
    ("elu_alpha", lambda nn: lambda x: nn.elu(x, 0.5), X, True),
    _elementwise("celu"),
    ("celu_alpha", lambda nn: lambda x: nn.celu(x, alpha=2.0), X, True),
    _elementwise("selu"),
    _elementwise("leaky_relu"),
    ("leaky_relu_slope", lambda nn: lambda x: nn.leaky_relu(x, 0.2), X, True),
    _elementwise("hard_tanh"),
    _elementwise("hard_sigmoid"),
    _elementwise("hard_silu"),
    _elementwise("hard_swish"),
    _elementwise("mish"),
    _elementwise("tanh"),
    _elementwise("squareplus"),
    ("squareplus_b", lambda nn: lambda x: nn.squareplus(x, 2.0), X, True),
    _elementwise("sparse_plus"),
    _elementwise("sparse_sigmoid"),
    ("log1mexp", lambda nn: nn.log1mexp, POS, True),
    ("glu", lambda nn: nn.glu, X, False),
    ("glu_axis0", lambda nn: lambda x: nn.glu(x, axis=0), X, False),
    ("softmax", lambda nn: nn.softmax, X, False),
    ("softmax_axis0", lambda nn: lambda x: nn.softmax(x, axis=0), X, False),
    ("softmax_where", lambda nn: lambda x: nn.softmax(x, where=MASK), X, False),
    ("log_softmax", lambda nn: nn.log_softmax, X, False),
    ("log_softmax_axes", lambda nn: lambda x: nn.log_softmax(x, axis=(0, 1)), X, False),
    ("log_softmax_where", lambda nn: lambda x: nn.log_softmax(x, where=MASK), X, False),
    ("logsumexp", lambda nn: nn.logsumexp, X, True),
    ("logsumexp_axis", lambda nn: lambda x: nn.logsumexp(x, axis=1, keepdims=True), X, False),
    ("logmeanexp", lambda nn: nn.logmeanexp, X, True),
    ("logmeanexp_axis", lambda nn: lambda x: nn.logmeanexp(x, axis=1), X, False),
    (
        "logmeanexp_where",
        lambda nn: lambda x: nn.logmeanexp(x, axis=1, where=MASK, keepdims=True),
        X,
        False,
    ),
    ("standardize", lambda nn: nn.standardize, X, False),
    (
        "standardize_stable",
        lambda nn: lambda x: nn.standardize(x, axis=0, algorithm="stable"),
        X,
        False,
    ),
    (
        "standardize_given",
        lambda nn: lambda x: nn.standardize(x, mean=0.5, variance=2.0, epsilon=1e-3),
        X,
        False,
    ),
    ("standardize_where", lambda nn: lambda x: nn.standardize(x, where=MASK), X, False),
]


def _both(make, x, transform):
    out = []
    for m, nn in ((jax, jax.nn), (engine, enn)):
        out.append(str(transform(m, make(nn), x)))
    return out


def _plain(m, f, x):
    return m.make_jaxpr(f)(x)


def _grad(m, f, x):
    return m.make_jaxpr(m.grad(lambda a: f(a).sum()))(x)


def _jvp(m, f, x):
    return m.make_jaxpr(lambda a, t: m.jvp(f, (a,), (t,)))(x, x)


@pytest.mark.parametrize("kind", ["plain", "grad", "jvp"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_jaxpr_is_jaxs(case, kind):
    name, make, x, _ = case
    transform = {"plain": _plain, "grad": _grad, "jvp": _jvp}[kind]
    ours, theirs = _both(make, x, transform)[::-1]
    assert ours == theirs


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=[c[0] for c in CASES if c[3]])
def test_weak_python_float_jaxpr_and_value(case):
    name, make, _, _ = case
    v = 1.25
    ours, theirs = _both(make, v, _plain)[::-1]
    assert ours == theirs
    got, want = make(enn)(v), make(jax.nn)(v)
    assert got.dtype == want.dtype and got.weak_type == want.weak_type
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_values_and_grads_are_jaxs(case):
    _, make, x, _ = case
    for fn in (
        lambda m, nn: make(nn)(x),
        lambda m, nn: m.grad(lambda a: make(nn)(a).sum())(x),
        lambda m, nn: m.jvp(make(nn), (x,), (np.ones_like(x),))[1],
        lambda m, nn: m.jit(make(nn))(x),
    ):
        want = fn(jax, jax.nn)
        got = fn(engine, enn)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-6, atol=1e-7)


# jit names, static arguments and inline=True as JAX's: the outermost equation of each
JITTED = [
    "identity", "relu", "squareplus", "softplus", "sparse_plus", "soft_sign", "sparse_sigmoid",
    "silu", "mish", "log_sigmoid", "elu", "leaky_relu", "hard_tanh", "celu", "selu", "glu",
    "logmeanexp", "log_softmax", "standardize", "relu6", "hard_sigmoid", "hard_silu",
    "log1mexp",
]  # fmt: skip


@pytest.mark.parametrize("name", JITTED + ["sigmoid", "gelu", "softmax"])
def test_outer_equation_is_jaxs(name):
    x = POS if name == "log1mexp" else X
    eqns = {}
    for m, nn in ((jax, jax.nn), (engine, enn)):
        e = m.make_jaxpr(getattr(nn, name))(x).jaxpr.eqns
        # (JAX's custom_jvp_call has no name parameter: compare jit names only)
        eqns[m] = [
            (q.primitive.name, q.params.get("name") if q.primitive.name == "jit" else None)
            for q in e
        ]
    assert eqns[engine] == eqns[jax]
    if name in JITTED:  # custom_jvp around a jit, or the jit itself
        assert eqns[engine][0][0] in ("jit", "custom_jvp_call")
    if name == "sigmoid":  # jit(inline=True): no call boundary in a trace
        assert eqns[engine] == [("logistic", None)]


def test_one_hot_jaxprs_and_values():
    idx = np.array([0, 2, 3, 5, -1], np.int32)
    for kw in ({}, {"axis": 0}, {"dtype": np.int32}, {"dtype": jnp.bfloat16, "axis": -1}):
        j = jax.make_jaxpr(lambda a: jax.nn.one_hot(a, 4, **kw))(idx)
        e = engine.make_jaxpr(lambda a: enn.one_hot(a, 4, **kw))(idx)
        assert str(e) == str(j)
        want, got = jax.nn.one_hot(idx, 4, **kw), enn.one_hot(idx, 4, **kw)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_one_hot_float_input_warns_as_jax():
    for nn in (jax.nn, enn):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            nn.one_hot(np.array([0.0, 1.0], np.float32), 3)
        assert any(
            issubclass(r.category, DeprecationWarning)
            and "should be integer-typed" in str(r.message)
            for r in w
        )


def test_standardize_unknown_algorithm_is_jaxs_error():
    msgs = []
    for nn in (jax.nn, enn):
        with pytest.raises(ValueError) as info:
            nn.standardize(X, algorithm="exact")
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_glu_odd_axis_is_jaxs_error():
    for nn in (jax.nn, enn):
        with pytest.raises(AssertionError, match="axis size must be divisible by 2"):
            nn.glu(X[:, :3])


def test_defjvps_two_arguments_sum_as_jax():
    def make(m):
        @m.custom_jvp
        def f(x, y):
            return m.numpy.sin(x) * y

        f.defjvps(
            lambda xd, o, x, y: m.numpy.cos(x) * xd * y,
            lambda yd, o, x, y: m.numpy.sin(x) * yd,
        )
        return f

    x = np.float32(0.7)
    for prog in (
        lambda m, f: m.make_jaxpr(lambda a, b: m.jvp(f, (a, b), (a, b)))(x, x),
        lambda m, f: m.make_jaxpr(m.grad(f, argnums=(0, 1)))(x, x),
    ):
        assert str(prog(engine, make(engine))) == str(prog(jax, make(jax)))


@pytest.mark.parametrize(
    "name, x",
    [
        ("arccosh", np.array([1.5, 2.0, 3.0], np.float32)),
        ("arctanh", np.array([-0.5, 0.1, 0.7], np.float32)),
    ],
)
def test_acosh_atanh_jvp_are_jaxs(name, x):
    for prog in (_plain, _grad, _jvp):
        ours = prog(engine, getattr(engine.numpy, name), x)
        theirs = prog(jax, getattr(jnp, name), x)
        assert str(ours) == str(theirs)
    c = (x + 0.5j).astype(np.complex64)
    for v in (x, c):
        want = jax.jvp(getattr(jnp, name), (v,), (v,))[1]
        got = engine.jvp(getattr(engine.numpy, name), (v,), (v,))[1]
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_reduce_sum_transpose_and_select_jvp_are_jaxs():
    def progs(m):
        return [
            m.make_jaxpr(m.grad(lambda a: (m.numpy.sum(a, 1) ** 2).sum()))(X),
            m.make_jaxpr(lambda a, t: m.jvp(lambda z: m.numpy.where(z > 0, z, 2 * z), (a,), (t,)))(
                X, X
            ),
        ]

    assert [str(p) for p in progs(engine)] == [str(p) for p in progs(jax)]


def test_jnp_array_of_a_tracer_is_jaxs():
    """jnp.array copies a tracer unless copy=False; a given dtype makes it strong."""

    def progs(m, n):
        return [
            m.make_jaxpr(
                lambda a: (
                    n.copy(a),
                    n.array(a),
                    n.array(a, dtype=np.int32),
                    n.array(a, copy=False),
                    n.asarray(a),
                )
            )(X),
            m.make_jaxpr(lambda a: (n.array(a), n.array(a, dtype=np.float32)))(1.0),
        ]

    assert [str(p) for p in progs(engine, engine.numpy)] == [str(p) for p in progs(jax, jnp)]
    got, want = (
        engine.numpy.array(engine.numpy.asarray(1.0), dtype=np.float32),
        jnp.array(jnp.asarray(1.0), dtype=np.float32),
    )
    assert got.weak_type == want.weak_type and got.dtype == want.dtype
