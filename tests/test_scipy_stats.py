"""engine.scipy.stats against jax.scipy.stats (and SciPy): values over ranges with edge cases,
gradients, vmap, float32 and float64."""

import numpy as np
import pytest
import scipy.stats as sps

import engine
import engine.scipy.stats as est
from tests.helpers import assert_close, real_jax

jax, _ = real_jax()
import jax.scipy.stats as jst  # noqa: E402

from tests.helpers import x64_both as x64  # noqa: E402

R = np.random.RandomState(0)
REAL = np.concatenate(
    [np.linspace(-6, 6, 13), [0.0, -0.0, 0.3, 40.0, -40.0, np.inf, -np.inf, np.nan]]
)
POS = np.concatenate([np.linspace(0.05, 9, 9), [0.0, 1.0, 1e-3, 60.0, np.inf, np.nan, -1.0]])
UNIT = np.concatenate([np.linspace(0.01, 0.99, 9), [0.0, 1.0, -0.1, 1.5, np.nan, 1e-6]])
COUNT = np.array([0.0, 1.0, 2.0, 3.0, 7.0, 15.0, -1.0, 2.5, np.nan])


def _grid(*cols):
    """All combinations of the columns, flattened (a small Cartesian product)."""
    mesh = np.meshgrid(*cols, indexing="ij")
    return [m.ravel() for m in mesh]


# (module, functions, argument columns): every combination is tested
CASES = [
    ("norm", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], [REAL, [0.0, 1.5], [1.0, 0.5]]),
    ("norm", ["ppf", "isf"], [UNIT, [0.0, 1.5], [1.0, 0.5]]),
    ("t", ["logpdf", "pdf"], [REAL, [1.0, 2.5, 30.0], [0.0, -1.0], [1.0, 2.0]]),
    (
        "cauchy",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [REAL, [0.0, 1.0], [1.0, 3.0]],
    ),
    ("cauchy", ["ppf", "isf"], [UNIT, [0.0, 1.0], [1.0, 3.0]]),
    ("laplace", ["logpdf", "pdf", "cdf"], [REAL, [0.0, 1.0], [1.0, 0.5]]),
    ("logistic", ["logpdf", "pdf", "cdf", "sf"], [REAL, [0.0, 1.0], [1.0, 0.5]]),
    ("logistic", ["ppf", "isf"], [UNIT, [0.0, 1.0], [1.0, 0.5]]),
    ("uniform", ["logpdf", "pdf", "cdf"], [REAL, [0.0, -1.0], [1.0, 4.0]]),
    ("uniform", ["ppf"], [UNIT, [0.0, -1.0], [1.0, 4.0]]),
    ("expon", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"], [REAL, [0.0, 1.0], [1.0, 2.0]]),
    ("expon", ["ppf"], [UNIT, [0.0, 1.0], [1.0, 2.0]]),
    (
        "beta",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [UNIT, [0.5, 2.0, 5.0], [0.7, 3.0], [0.0], [1.0, 2.0]],
    ),
    ("beta", ["logpdf"], [[0.3], [-1.0, 0.0], [2.0], [0.0], [1.0, 0.0]]),
    (
        "gamma",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [POS, [0.5, 1.0, 3.5], [0.0, -1.0], [1.0, 2.0]],
    ),
    (
        "chi2",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [POS, [1.0, 2.0, 7.0], [0.0], [1.0, 2.0]],
    ),
    ("poisson", ["logpmf", "pmf", "cdf"], [COUNT, [0.5, 3.0, 12.0], [0.0, 1.0]]),
    ("bernoulli", ["logpmf", "pmf"], [COUNT, [0.0, 0.3, 1.0], [0.0, 1.0]]),
    ("bernoulli", ["cdf", "ppf"], [np.concatenate([UNIT, COUNT]), [0.0, 0.3, 1.0, 1.2]]),
    ("binom", ["logpmf", "pmf"], [COUNT, [0.0, 5.0, 10.0], [0.0, 0.3, 1.0], [0.0, 1.0]]),
    ("geom", ["logpmf", "pmf"], [COUNT, [0.2, 1.0], [0.0, 1.0]]),
    ("nbinom", ["logpmf", "pmf"], [COUNT, [1.0, 4.5], [0.3, 0.8], [0.0, 1.0]]),
    (
        "pareto",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [POS + 1, [1.0, 3.0], [0.0, 0.5], [1.0, 2.0]],
    ),
    ("pareto", ["ppf"], [UNIT, [1.0, 3.0], [0.0, 0.5], [1.0, 2.0]]),
    ("vonmises", ["logpdf", "pdf"], [REAL[:16], [0.0, 0.5, 4.0, 50.0]]),
    ("gennorm", ["logpdf", "pdf", "cdf"], [REAL[:17], [0.5, 1.0, 2.0, 8.0]]),
    (
        "truncnorm",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [REAL[:17], [-1.0, 0.5, -10.0], [2.0, 8.0], [0.0, 1.0], [1.0, 2.0]],
    ),
    (
        "gumbel_r",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [REAL[:17], [0.0, 1.0], [1.0, 2.0, -1.0]],
    ),
    ("gumbel_r", ["ppf"], [UNIT, [0.0, 1.0], [1.0, 2.0]]),
    (
        "gumbel_l",
        ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"],
        [REAL[:17], [0.0, 1.0], [1.0, 2.0, -1.0]],
    ),
    ("gumbel_l", ["ppf"], [UNIT, [0.0, 1.0], [1.0, 2.0]]),
    ("wrapcauchy", ["logpdf", "pdf"], [REAL, [0.0, 0.3, 0.9, 1.0]]),
    (
        "betabinom",
        ["logpmf", "pmf"],
        [COUNT, [0.0, 6.0, 10.0], [0.5, 2.0], [1.0, 3.0], [0.0, 1.0]],
    ),
]

PARAMS = [
    pytest.param(mod, fn, cols, id=f"{mod}.{fn}-{i}")
    for i, (mod, fns, cols) in enumerate(CASES)
    for fn in fns
]


def _tol(x64_on):
    return dict(rtol=1e-10, atol=1e-12) if x64_on else dict(rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
@pytest.mark.parametrize("mod,fn,cols", PARAMS)
def test_values_match_jax(mod, fn, cols, x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        args = [a.astype(dt) for a in _grid(*[np.asarray(c, np.float64) for c in cols])]
        expected = jax.jit(getattr(getattr(jst, mod), fn))(*args)
        actual = engine.jit(getattr(getattr(est, mod), fn))(*args)
        assert_close(actual, expected, **_tol(x64_on))


# (module, function, a point inside the support, the continuous arguments)
GRAD_CASES = [
    ("norm", "logpdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("norm", "cdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("norm", "logcdf", (-7.0, 0.5, 1.5), (0, 1, 2)),
    ("norm", "logsf", (2.0, 0.5, 1.5), (0, 1, 2)),
    ("norm", "ppf", (0.2, 0.5, 1.5), (0, 1, 2)),
    ("t", "logpdf", (0.3, 3.0, 0.5, 1.5), (0, 1, 2, 3)),
    ("cauchy", "logpdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("cauchy", "cdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("laplace", "logpdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("laplace", "cdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("logistic", "logpdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("logistic", "ppf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("expon", "logpdf", (2.3, 0.5, 1.5), (0, 1, 2)),
    ("expon", "cdf", (2.3, 0.5, 1.5), (0, 1, 2)),
    ("beta", "logpdf", (0.3, 2.0, 3.0), (0, 1, 2)),
    ("beta", "cdf", (0.3, 2.0, 3.0), (0,)),
    ("gamma", "logpdf", (2.3, 1.5), (0, 1)),
    ("gamma", "cdf", (2.3, 1.5), (0, 1)),
    ("chi2", "logpdf", (2.3, 3.0), (0, 1)),
    ("chi2", "sf", (2.3, 3.0), (0, 1)),
    ("poisson", "logpmf", (3.0, 2.5), (1,)),
    ("bernoulli", "logpmf", (1.0, 0.3), (1,)),
    ("bernoulli", "logpmf", (0.0, 0.3), (1,)),
    ("binom", "logpmf", (3.0, 10.0, 0.3), (2,)),
    ("geom", "logpmf", (3.0, 0.3), (1,)),
    ("nbinom", "logpmf", (3.0, 4.5, 0.3), (1, 2)),
    ("pareto", "logpdf", (3.0, 2.5), (0, 1)),
    ("vonmises", "logpdf", (0.3, 2.0), (0, 1)),
    ("gennorm", "logpdf", (0.3, 1.5), (0, 1)),
    ("truncnorm", "logpdf", (0.3, -1.0, 2.0), (0, 1, 2)),
    ("truncnorm", "logcdf", (0.3, -1.0, 2.0), (0, 1, 2)),
    ("gumbel_r", "logsf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("gumbel_l", "logcdf", (0.3, 0.5, 1.5), (0, 1, 2)),
    ("wrapcauchy", "logpdf", (0.3, 0.5), (0, 1)),
]


@pytest.mark.parametrize("mod,fn,point,argnums", GRAD_CASES, ids=lambda v: str(v))
def test_gradients_match_jax(mod, fn, point, argnums):
    point = tuple(np.float32(p) for p in point)
    jf, ef = getattr(getattr(jst, mod), fn), getattr(getattr(est, mod), fn)
    assert_close(
        engine.grad(ef, argnums)(*point), jax.grad(jf, argnums)(*point), rtol=1e-4, atol=1e-6
    )
    # second order in the first continuous argument
    a0 = argnums[0]
    assert_close(
        engine.grad(engine.grad(ef, a0), a0)(*point),
        jax.grad(jax.grad(jf, a0), a0)(*point),
        rtol=2e-4,
        atol=1e-5,
    )


def test_vmap_and_jit():
    x = np.linspace(-2, 2, 7).astype(np.float32)
    locs = np.linspace(-1, 1, 3).astype(np.float32)
    f = lambda loc: est.norm.logpdf(x, loc, 2.0)  # noqa: E731
    g = lambda loc: jst.norm.logpdf(x, loc, 2.0)  # noqa: E731
    assert_close(engine.vmap(f)(locs), jax.vmap(g)(locs))
    assert_close(engine.jit(engine.vmap(f))(locs), jax.vmap(g)(locs))
    h = lambda a: est.gamma.cdf(x + 3, a)  # noqa: E731
    k = lambda a: jst.gamma.cdf(x + 3, a)  # noqa: E731
    assert_close(engine.vmap(h)(locs + 2), jax.vmap(k)(locs + 2))


def test_against_scipy():
    x = np.linspace(0.05, 0.95, 7)
    with x64(True):
        assert_close(est.beta.cdf(x, 2.0, 3.5), sps.beta.cdf(x, 2.0, 3.5), rtol=1e-10)
        assert_close(est.t.logpdf(x, 3.0), sps.t.logpdf(x, 3.0), rtol=1e-10)
        assert_close(est.chi2.sf(x * 10, 4.0), sps.chi2.sf(x * 10, 4.0), rtol=1e-10)
        assert_close(est.poisson.cdf(3.0, x * 5), sps.poisson.cdf(3.0, x * 5), rtol=1e-10)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_multivariate_normal(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        r = np.random.RandomState(1)
        a = r.randn(3, 3)
        cov = (a @ a.T + 3 * np.eye(3)).astype(dt)
        mean = r.randn(3).astype(dt)
        x = r.randn(5, 3).astype(dt)
        tol = _tol(x64_on) if x64_on else dict(rtol=1e-5, atol=1e-5)
        for args in [(x, mean, cov), (x, mean, dt(2.0)), (x[:, 0], mean[0], dt(2.0))]:
            assert_close(
                est.multivariate_normal.logpdf(*args), jst.multivariate_normal.logpdf(*args), **tol
            )
            assert_close(
                est.multivariate_normal.pdf(*args), jst.multivariate_normal.pdf(*args), **tol
            )
        covs = np.stack([cov, 2 * cov])
        assert_close(
            est.multivariate_normal.logpdf(x[:2], mean, covs),
            jst.multivariate_normal.logpdf(x[:2], mean, covs),
            **tol,
        )
        gx = engine.grad(lambda m: est.multivariate_normal.logpdf(x, m, cov).sum())(mean)
        jx = jax.grad(lambda m: jst.multivariate_normal.logpdf(x, m, cov).sum())(mean)
        assert_close(gx, jx, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_dirichlet(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        alpha = np.array([0.5, 2.0, 3.0], dt)
        x = np.array([[0.2, 0.3], [0.3, 0.3], [0.5, 0.4]], dt)
        tol = _tol(x64_on) if x64_on else dict(rtol=1e-5, atol=1e-5)
        assert_close(est.dirichlet.logpdf(x, alpha), jst.dirichlet.logpdf(x, alpha), **tol)
        assert_close(est.dirichlet.pdf(x[:2], alpha), jst.dirichlet.pdf(x[:2], alpha), **tol)
        bad = np.array([0.5, 0.6, -0.1], dt)
        assert_close(est.dirichlet.logpdf(bad, alpha), jst.dirichlet.logpdf(bad, alpha))
        ga = engine.grad(lambda a: est.dirichlet.logpdf(x, a).sum())(alpha)
        ja = jax.grad(lambda a: jst.dirichlet.logpdf(x, a).sum())(alpha)
        assert_close(ga, ja, **tol)
        with pytest.raises(ValueError, match="one-dimensional"):
            est.dirichlet.logpdf(x, alpha[None])


def test_multinomial():
    p = np.array([0.2, 0.5, 0.3], np.float32)
    for x, n in [([1, 2, 0], 3), ([0, 0, 4], 4), ([1, 1, 1], 4)]:
        x = np.array(x, np.int32)
        assert_close(est.multinomial.logpmf(x, n, p), jst.multinomial.logpmf(x, n, p), rtol=1e-6)
        assert_close(est.multinomial.pmf(x, n, p), jst.multinomial.pmf(x, n, p), rtol=1e-6)
    x = np.array([1, 2, 0], np.int32)
    g_e = engine.grad(lambda q: est.multinomial.logpmf(x, 3, q))(p)
    assert_close(g_e, jax.grad(lambda q: jst.multinomial.logpmf(x, 3, q))(p), rtol=1e-6)
    with pytest.raises(ValueError, match="integer type"):
        est.multinomial.logpmf(x.astype(np.float32), 3, p)


def test_module_names_match_jax():
    wanted = {n for n in dir(jst) if not n.startswith("_")}
    have = {n for n in dir(est) if not n.startswith("_")}
    missing = wanted - have
    assert not missing, missing
    for name in (have & wanted) - {"mode", "rankdata", "sem", "ModeResult", "gaussian_kde"}:
        jmod, emod = getattr(jst, name), getattr(est, name)
        for fn in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf", "logpmf", "pmf"):
            assert hasattr(emod, fn) == hasattr(jmod, fn), (name, fn)


def test_mode_rankdata_sem():
    r = np.random.RandomState(0)
    a = r.randint(0, 4, size=(6, 5)).astype(np.float32)
    a[2, 1] = np.nan
    for kw in [
        dict(),
        dict(axis=1),
        dict(axis=None),
        dict(keepdims=True),
        dict(axis=-1, keepdims=True),
    ]:
        assert_close(tuple(est.mode(a, **kw)), tuple(jst.mode(a, **kw)))
    assert_close(
        tuple(est.mode(np.array([2, 2, 1, 1, 3]))), tuple(jst.mode(np.array([2, 2, 1, 1, 3])))
    )
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0], np.float32)
    for method in ["average", "min", "max", "dense", "ordinal"]:
        assert_close(est.rankdata(x, method), jst.rankdata(x, method))
        assert_close(est.rankdata(a, method, axis=1), jst.rankdata(a, method, axis=1))
    assert_close(est.rankdata(a), jst.rankdata(a))
    with pytest.raises(ValueError, match="unknown method"):
        est.rankdata(x, "mean")
    for kw in [
        dict(),
        dict(axis=None),
        dict(axis=1, ddof=0),
        dict(nan_policy="omit"),
        dict(keepdims=True),
    ]:
        assert_close(est.sem(a, **kw), jst.sem(a, **kw), rtol=1e-6)


def test_gaussian_kde():
    r = np.random.RandomState(0)
    data = r.randn(2, 30).astype(np.float32)
    w = r.rand(30).astype(np.float32)
    pts = r.randn(2, 7).astype(np.float32)
    tol = dict(rtol=1e-5, atol=1e-6)
    for kw in [dict(), dict(bw_method="silverman"), dict(bw_method=0.3, weights=w)]:
        kj, ke = jst.gaussian_kde(data, **kw), est.gaussian_kde(data, **kw)
        assert_close(ke.covariance, kj.covariance, **tol)
        assert_close(ke(pts), kj(pts), **tol)
        assert_close(ke.logpdf(pts), kj.logpdf(pts), **tol)
        mean, cov = np.zeros(2, np.float32), np.eye(2, dtype=np.float32)
        assert_close(ke.integrate_gaussian(mean, cov), kj.integrate_gaussian(mean, cov), **tol)
        other_j, other_e = jst.gaussian_kde(data[:, :10]), est.gaussian_kde(data[:, :10])
        assert_close(ke.integrate_kde(other_e), kj.integrate_kde(other_j), **tol)
    kj, ke = jst.gaussian_kde(data[0]), est.gaussian_kde(data[0])
    assert_close(ke.integrate_box_1d(-1.0, 0.5), kj.integrate_box_1d(-1.0, 0.5), **tol)
    assert_close(
        ke.resample(engine.random.key(0), (5,)), kj.resample(jax.random.key(0), (5,)), **tol
    )
    assert_close(engine.jit(lambda k, p: k(p))(ke, data[0, :4]), kj(data[0, :4]), **tol)
    with pytest.raises(ValueError, match="bw_method"):
        est.gaussian_kde(data, bw_method="nope")
    with pytest.raises(NotImplementedError, match="1D box"):
        ke.integrate_box(0.0, 1.0)
