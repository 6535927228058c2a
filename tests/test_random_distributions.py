"""engine.random's distributions against real JAX 0.10.2: bit-exact samples on several
keys and shapes (x32 and x64, raw and typed keys, eager, under jit and under vmap),
gradients of gamma/loggamma/beta/dirichlet samples in their parameters, the gamma-family
lax primitives, JAX's error classes for bad input, and the public surface."""

import numpy as np
import pytest
from helpers import real_jax
from test_random import assert_bits_equal, x64_mode

import engine
import engine.lax as el
import engine.numpy as ejnp
import engine.random as er

jax, jnp = real_jax()
jr = jax.random
KEYS = (0, 7, 1234)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request):
    with x64_mode(request.param):
        yield request.param


def _float():
    """float32, or float64 when x64 is on (the default float of the mode)."""
    return np.dtype(jnp.zeros(()).dtype)


def _arr(vals):
    return np.asarray(vals, _float())


# name -> fn(random module, key); each draws with JAX's default dtypes of the mode
CASES = {
    "gamma": lambda R, k: R.gamma(k, _arr([0.3, 1.0, 2.5, 10.0]), (3, 4)),
    "gamma_scalar_a": lambda R, k: R.gamma(k, 0.5, (5,)),
    "gamma_tiny_a": lambda R, k: R.gamma(k, _arr([1e-3, 0.05])),
    "loggamma": lambda R, k: R.loggamma(k, _arr([0.01, 0.3, 1.0, 2.5]), (2, 4)),
    "beta": lambda R, k: R.beta(k, 0.5, _arr([1.0, 2.0, 3.0]), (2, 3)),
    "dirichlet": lambda R, k: R.dirichlet(k, _arr([0.5, 1.0, 2.0]), (4,)),
    "dirichlet_batch": lambda R, k: R.dirichlet(k, _arr([[0.5, 1.0], [3.0, 0.1]])),
    "chisquare": lambda R, k: R.chisquare(k, 3.0, (6,)),
    "f": lambda R, k: R.f(k, 3.0, _arr([5.0, 1.0, 9.0]), (3,)),
    "t": lambda R, k: R.t(k, _arr([1.0, 4.0, 30.0])),
    "generalized_normal": lambda R, k: R.generalized_normal(k, 1.5, (6,)),
    "ball": lambda R, k: R.ball(k, 3, 2, (4,)),
    "ball_p1": lambda R, k: R.ball(k, 2, 1.0, (3,)),
    "exponential": lambda R, k: R.exponential(k, (7,)),
    "laplace": lambda R, k: R.laplace(k, (2, 3)),
    "logistic": lambda R, k: R.logistic(k, (7,)),
    "cauchy": lambda R, k: R.cauchy(k, (7,)),
    "pareto": lambda R, k: R.pareto(k, _arr([2.0, 0.5]), (3, 2)),
    "lognormal": lambda R, k: R.lognormal(k, 0.5, (7,)),
    "weibull_min": lambda R, k: R.weibull_min(k, 2.0, 1.5, (7,)),
    "rayleigh": lambda R, k: R.rayleigh(k, 2.0, (7,)),
    "wald": lambda R, k: R.wald(k, _arr([0.5, 2.0])),
    "triangular": lambda R, k: R.triangular(k, 0.0, 0.3, 1.0, (7,)),
    "maxwell": lambda R, k: R.maxwell(k, (7,)),
    "double_sided_maxwell": lambda R, k: R.double_sided_maxwell(k, 1.0, 2.0, (7,)),
    "rademacher": lambda R, k: R.rademacher(k, (7,)),
    "poisson": lambda R, k: R.poisson(
        k, np.array([0.0, 0.5, 3.0, 9.9, 10.0, 50.0, 1000.0], np.float32), (2, 7)
    ),
    "poisson_scalar": lambda R, k: R.poisson(k, 4.0, (5,)),
    "binomial": lambda R, k: R.binomial(
        k, _arr([5.0, 20.0, 100.0, 1000.0]), _arr([0.1, 0.3, 0.6, 0.9]), (3, 4)
    ),
    "binomial_edge": lambda R, k: R.binomial(k, _arr([0.0, np.inf, -1.0, 3.0]), _arr(0.5)),
    "multinomial": lambda R, k: R.multinomial(k, 20.0, _arr([0.2, 0.3, 0.5])),
    "multinomial_batch": lambda R, k: R.multinomial(
        k, _arr([5.0, 50.0]), _arr([[0.1, 0.9], [0.6, 0.4]]), shape=(2, 2)
    ),
    "geometric": lambda R, k: R.geometric(k, 0.3, (7,)),
    "multivariate_normal": lambda R, k: R.multivariate_normal(
        k, _arr([0.0, 1.0]), _arr([[2.0, 0.5], [0.5, 1.0]]), (3,)
    ),
    "multivariate_normal_eigh": lambda R, k: R.multivariate_normal(
        k, _arr([0.0, 1.0]), _arr([[2.0, 0.5], [0.5, 1.0]]), (3,), method="eigh"
    ),
    "multivariate_normal_svd": lambda R, k: R.multivariate_normal(
        k, _arr([0.0, 1.0]), _arr([[2.0, 0.5], [0.5, 1.0]]), (3,), method="svd"
    ),
    "orthogonal": lambda R, k: R.orthogonal(k, 3),
    "orthogonal_wide": lambda R, k: R.orthogonal(k, 2, (2,), m=4),
    "gumbel": lambda R, k: R.gumbel(k, (5,)),
    "categorical": lambda R, k: R.categorical(k, _arr([[0.1, 2.0, -1.0], [0.0, 0.0, 0.0]])),
    "choice_p": lambda R, k: R.choice(k, 5, (3,), p=_arr([0.1, 0.2, 0.3, 0.2, 0.2])),
    "choice_no_replace_p": lambda R, k: R.choice(
        k, 5, (3,), replace=False, p=_arr([0.1, 0.2, 0.3, 0.2, 0.2])
    ),
    "choice_no_replace": lambda R, k: R.choice(k, _arr([1.0, 2.0, 3.0, 4.0]), (2,), False),
    "permutation": lambda R, k: R.permutation(k, 10),
    "truncated_normal": lambda R, k: R.truncated_normal(k, -1.0, 2.0, (5,)),
    "bernoulli": lambda R, k: R.bernoulli(k, 0.3, (5,)),
    "randint": lambda R, k: R.randint(k, (5,), 0, 10),
    "bits": lambda R, k: R.bits(k, (3,)),
}


def _modules(key_kind, seed):
    if key_kind == "typed":
        return er.key(seed), jr.key(seed)
    return er.PRNGKey(seed), jr.PRNGKey(seed)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bit_exact(name, x64):
    case = CASES[name]
    for seed in KEYS:
        ek, jk = _modules("raw", seed)
        assert_bits_equal(case(er, ek), case(jr, jk))


@pytest.mark.parametrize(
    "name", ["gamma", "beta", "dirichlet", "poisson", "binomial", "t", "multinomial", "ball"]
)
def test_typed_keys_and_jit(name):
    case = CASES[name]
    ek, jk = _modules("typed", 3)
    expected = case(jr, jk)
    assert_bits_equal(case(er, ek), expected)
    assert_bits_equal(engine.jit(lambda k: case(er, k))(ek), jax.jit(lambda k: case(jr, k))(jk))


@pytest.mark.parametrize(
    "name", ["gamma", "loggamma", "beta", "dirichlet", "poisson", "binomial", "f", "wald"]
)
def test_vmap_over_keys(name, x64):
    case = CASES[name]
    eks, jks = er.split(er.PRNGKey(5), 3), jr.split(jr.PRNGKey(5), 3)
    expected = jax.vmap(lambda k: case(jr, k))(jks)
    assert_bits_equal(engine.vmap(lambda k: case(er, k))(eks), expected)
    # one XLA program for the whole batch: compare with JAX's program (XLA may fuse and
    # round a chain of divisions differently than op-by-op)
    jitted = engine.jit(engine.vmap(lambda k: case(er, k)))
    assert_bits_equal(jitted(eks), jax.jit(jax.vmap(lambda k: case(jr, k)))(jks))


def test_vmap_over_gamma_parameters():
    a = np.array([0.2, 1.0, 3.0, 40.0], np.float32)
    ek, jk = er.key(9), jr.key(9)
    assert_bits_equal(
        engine.vmap(lambda x: er.gamma(ek, x))(a), jax.vmap(lambda x: jr.gamma(jk, x))(a)
    )
    keys_e, keys_j = er.split(ek, 4), jr.split(jk, 4)
    assert_bits_equal(
        engine.vmap(lambda k, x: er.beta(k, x, 2.0, (2,)))(keys_e, a),
        jax.vmap(lambda k, x: jr.beta(k, x, 2.0, (2,)))(keys_j, a),
    )


def test_random_gamma_is_one_equation():
    key = er.PRNGKey(0)
    jaxpr = engine.make_jaxpr(lambda a: er.gamma(key, a))(np.ones(3, np.float32))
    # (after the raw key's random_wrap, as in JAX)
    assert jaxpr.jaxpr.eqns[0].primitive.name == "random_wrap"
    inner = jaxpr.jaxpr.eqns[1].params["jaxpr"]
    assert [e.primitive.name for e in inner.jaxpr.eqns] == ["random_gamma"]
    assert "random_gamma[log_space=False]" in str(jaxpr)


# ---------------------------------------------------------------------------- gradients

GRAD_CASES = {
    "gamma": lambda R, N, k, a: N.sum(R.gamma(k, a)),
    "loggamma": lambda R, N, k, a: N.sum(R.loggamma(k, a)),
    "beta_a": lambda R, N, k, a: N.sum(R.beta(k, a, 2.0)),
    "beta_b": lambda R, N, k, a: N.sum(R.beta(k, 1.5, a) ** 2),
    "dirichlet": lambda R, N, k, a: N.sum(R.dirichlet(k, a) * N.arange(4.0)),
    "chisquare": lambda R, N, k, a: N.sum(R.chisquare(k, a)),
    "t": lambda R, N, k, a: N.sum(R.t(k, a)),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_sample_gradients(name, x64):
    fn = GRAD_CASES[name]
    a = np.array([0.3, 1.0, 2.5, 12.0], _float())
    for seed in (1, 2):
        got = engine.grad(lambda x: fn(er, ejnp, er.key(seed), x))(a)
        want = jax.grad(lambda x: fn(jr, jnp, jr.key(seed), x))(a)
        rtol = 1e-5 if np.dtype(_float()) == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=1e-30)


def test_gamma_gradient_under_jit_and_vmap():
    a = np.array([0.5, 2.0, 7.0], np.float32)
    g = engine.jit(engine.vmap(engine.grad(lambda x, k: er.gamma(k, x)), (0, 0)))
    gj = jax.jit(jax.vmap(jax.grad(lambda x, k: jr.gamma(k, x)), (0, 0)))
    got = g(a, er.split(er.key(0), 3))
    want = gj(a, jr.split(jr.key(0), 3))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


# ---------------------------------------------------------------------------- lax primitives

A = np.array([0.1, 0.5, 1.0, 2.5, 7.0, 30.0, 0.0, -1.0, 3.0, 200.0, np.nan], np.float32)
X = np.array([0.3, 2.0, 1.0, 0.5, 9.0, 25.0, 1.0, 1.0, 0.0, 190.0, 1.0], np.float32)


@pytest.mark.parametrize("name", ["igamma", "igammac", "igamma_grad_a", "random_gamma_grad"])
def test_gamma_family_lax_functions(name, x64):
    dt = _float()
    a, x = A.astype(dt), X.astype(dt)
    ef, jf = getattr(el, name), getattr(jax.lax, name)
    assert_bits_equal(ef(a, x), jf(a, x))
    assert_bits_equal(engine.jit(ef)(a, x), jax.jit(jf)(a, x))
    assert_bits_equal(
        engine.vmap(ef, (0, None))(a[:4], dt.type(2.0)),
        jax.vmap(jf, (0, None))(a[:4], dt.type(2.0)),
    )


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_igamma_derivatives(name):
    ef, jf = getattr(el, name), getattr(jax.lax, name)
    a, x = np.float32(1.7), np.float32(2.2)
    for argnum in (0, 1):
        got = engine.grad(ef, argnum)(a, x)
        want = jax.grad(jf, argnum)(a, x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    jaxpr = str(engine.make_jaxpr(ef)(A, X))
    assert f" = {name} a b" in jaxpr  # one equation, lowered from lax code


def test_igamma_float16_computes_in_float32():
    a, x = A[:6].astype(np.float16), X[:6].astype(np.float16)
    assert_bits_equal(el.igamma(a, x), jax.lax.igamma(a, x))


# ---------------------------------------------------------------------------- bad input

BAD = {
    "gamma_negative_shape": (lambda R: R.gamma(R.PRNGKey(0), 1.0, (-2,)), TypeError, "(-2,)"),
    "poisson_negative_shape": (lambda R: R.poisson(R.PRNGKey(0), 1.0, (-2,)), TypeError, "(-2,)"),
    "gamma_incompatible_shape": (
        lambda R: R.gamma(R.PRNGKey(0), np.ones(3), (2,)),
        ValueError,
        "Incompatible shapes for broadcasting",
    ),
    "gamma_int_dtype": (
        lambda R: R.gamma(R.PRNGKey(0), 1.0, dtype=np.int32),
        ValueError,
        "must be a float dtype",
    ),
    "key_float_data": (
        lambda R: R.gamma(np.zeros(2, np.float32), 1.0),
        TypeError,
        "expected key_data.dtype = uint32",
    ),
    "key_bad_shape": (
        lambda R: R.exponential(np.zeros(3, np.uint32)),
        TypeError,
        "expected key_data.shape to end with (2,)",
    ),
    "key_python_int": (lambda R: R.beta(3, 1.0, 1.0), TypeError, "invalid PRNG key data"),
    "batched_key": (
        lambda R: R.poisson(R.split(R.PRNGKey(0), 3), 1.0),
        ValueError,
        "accepts a single key",
    ),
    "choice_p_wrong_size": (
        lambda R: R.choice(R.PRNGKey(0), 5, (2,), p=np.ones(4) / 4),
        ValueError,
        "p must be None or a 1D vector",
    ),
    "choice_too_many": (
        lambda R: R.choice(R.PRNGKey(0), 3, (5,), replace=False),
        ValueError,
        "Cannot take a larger sample",
    ),
    "bernoulli_int_p": (
        lambda R: R.bernoulli(R.PRNGKey(0), 1),
        TypeError,
        "must have a floating dtype",
    ),
    "mvn_method": (
        lambda R: R.multivariate_normal(R.PRNGKey(0), np.zeros(2), np.eye(2), method="qr"),
        ValueError,
        "method must be one of",
    ),
    "mvn_cov_shape": (
        lambda R: R.multivariate_normal(R.PRNGKey(0), np.zeros(2), np.eye(3)),
        ValueError,
        "requires cov.shape == (..., n, n)",
    ),
    "dirichlet_scalar_alpha": (
        lambda R: R.dirichlet(R.PRNGKey(0), 1.0),
        ValueError,
        "requires alpha.ndim >= 1",
    ),
    "binomial_int_dtype": (
        lambda R: R.binomial(R.PRNGKey(0), 5, 0.5, dtype=np.int32),
        ValueError,
        "must be a float dtype",
    ),
    "geometric_float_dtype": (
        lambda R: R.geometric(R.PRNGKey(0), 0.5, dtype=np.float32),
        ValueError,
        "must be an int dtype",
    ),
    "beta_unsafe_cast": (
        lambda R: R.beta(R.PRNGKey(0), np.ones(2, np.float32), 1.0, dtype=np.float16),
        ValueError,  # TypePromotionError, in JAX and here
        "cannot safely cast",
    ),
    "categorical_axis": (
        lambda R: R.categorical(R.PRNGKey(0), np.zeros((2, 3)), axis=2),
        IndexError,
        "2",
    ),
    "wrap_key_data_shape": (
        lambda R: R.wrap_key_data(np.zeros(3, np.uint32)),
        TypeError,
        "expected key_data.shape to end with (2,)",
    ),
    "key_impl_unknown": (
        lambda R: R.key(0, impl="foo"),
        ValueError,
        'unrecognized PRNG implementation "foo"',
    ),
    "multinomial_list": (
        lambda R: R.multinomial(R.PRNGKey(0), 5.0, [0.5, 0.5]),
        TypeError,
        "multinomial requires ndarray or scalar arguments",
    ),
}


def _error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return e
    raise AssertionError("no error raised")


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_errors(name):
    fn, cls, phrase = BAD[name]
    ours, theirs = _error_of(lambda: fn(er)), _error_of(lambda: fn(jr))
    assert isinstance(theirs, cls), theirs
    assert isinstance(ours, cls), ours
    assert phrase in str(ours), str(ours)
    assert type(ours).__name__ == type(theirs).__name__


def test_negative_shape_is_a_type_error_everywhere():
    # (JAX itself fails inside MLIR for most samplers; the engine names the shape)
    for fn in (er.normal, er.uniform, er.exponential, er.laplace, er.cauchy):
        with pytest.raises(TypeError, match="non-negative"):
            fn(er.PRNGKey(0), (2, -3))


@pytest.mark.parametrize("fn", ["ball", "orthogonal"])
def test_traced_dimension_is_a_concretization_error(fn):
    for R, jit, exc in (
        (er, engine.jit, engine.errors.ConcretizationTypeError),
        (jr, jax.jit, jax.errors.ConcretizationTypeError),
    ):
        with pytest.raises(exc, match=f"jax.random.{fn}"):
            jit(lambda n, R=R: getattr(R, fn)(R.PRNGKey(0), n))(3)


# ---------------------------------------------------------------------------- keys, surface


def test_typed_key_helpers():
    k = er.key(11)
    assert str(er.key_dtype()) == "key<fry>" and k.dtype == er.key_dtype()
    assert er.key_impl(k) == "threefry2x32"
    assert_bits_equal(er.key_data(er.clone(k)), jr.key_data(jr.clone(jr.key(11))))
    data = np.array([[1, 2], [3, 4]], np.uint32)
    wrapped = er.wrap_key_data(data)
    assert wrapped.shape == (2,)
    assert_bits_equal(
        er.key_data(er.split(wrapped[1])), jr.key_data(jr.split(jr.wrap_key_data(data)[1]))
    )
    assert_bits_equal(
        er.key_data(er.fold_in(wrapped[0], 5)),
        jr.key_data(jr.fold_in(jr.wrap_key_data(data)[0], 5)),
    )
    assert_bits_equal(
        er.gamma(er.wrap_key_data(data[0]), 2.0, (3,)),
        jr.gamma(jr.wrap_key_data(data[0]), 2.0, (3,)),
    )


def test_every_public_name_of_jax_random_exists():
    public = {n for n in dir(jr) if not n.startswith("_")}
    missing = sorted(n for n in public if not hasattr(er, n))
    assert not missing, missing
    assert er.random_gamma_p.name == "random_gamma"


def test_vmapped_log_probs_tutorial_matches_jax():
    """JAX's autobatching-for-Bayesian-inference tutorial (a few SGD steps) through
    benchmarks/tutorial_vmapped_log_probs.py: every output equals JAX's."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tutorial_vmapped_log_probs.py"
    spec = importlib.util.spec_from_file_location("tutorial_vmapped_log_probs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report = mod.compare(steps=21, verbose=False)
    assert report["first_epsilon"][1] and report["unbatched_error"][1]
    for name, (diff, _) in report.items():
        assert diff < 1e-4, (name, diff)
