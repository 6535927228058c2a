"""engine.scipy.special (and the lax special primitives under it) against jax.scipy.special
and SciPy: values over ranges with edge cases (0, negatives, inf, nan), first- and
second-order gradients, vmap, float32 and float64."""

import numpy as np
import pytest
import scipy.special as ss

import engine
import engine.lax as elax
import engine.scipy.special as esp
from tests.helpers import assert_close, real_jax

jax, _ = real_jax()
import jax.scipy.special as jsp  # noqa: E402

from tests.helpers import x64_both as x64  # noqa: E402

EDGES = [0.0, -0.0, 1.0, 2.0, 0.5, 1e-3, -3.0, 30.0, 150.0, -150.0, np.inf, -np.inf, np.nan]
REAL = np.concatenate([np.linspace(-5, 5, 21), EDGES])
POS = np.concatenate(
    [np.linspace(0.01, 20, 15), [0.0, 1.0, 2.0, 1e-3, 70.0, 200.0, np.inf, np.nan]]
)
UNIT = np.concatenate([np.linspace(0.001, 0.999, 15), [0.0, 1.0, -0.1, 1.1, np.nan, 1e-7]])
A, B = (m.ravel() for m in np.meshgrid(POS, POS, indexing="ij"))
PAIR = (A, B)
PAIR_SIGNED = tuple(m.ravel() for m in np.meshgrid(REAL[::2], POS, indexing="ij"))

VALUE_CASES = [
    *[
        (name, (REAL,))
        for name in [
            "gammaln",
            "gammasgn",
            "loggamma",
            "gamma",
            "digamma",
            "factorial",
            "erf",
            "erfc",
            "expit",
            "entr",
            "i0",
            "i0e",
            "i1",
            "i1e",
            "ndtr",
            "log_ndtr",
            "erfcx",
            "dawsn",
            "expi",
            "exp1",
            "spence",
        ]
    ],
    *[(name, (UNIT,)) for name in ["erfinv", "logit", "ndtri"]],
    *[
        (name, PAIR)
        for name in [
            "betaln",
            "beta",
            "xlogy",
            "xlog1py",
            "rel_entr",
            "kl_div",
            "comb",
            "poch",
            "gammainc",
            "gammaincc",
            "zeta",
            "boxcox",
            "boxcox1p",
        ]
    ],
    *[(name, PAIR_SIGNED) for name in ["xlogy", "xlog1py", "beta", "betaln", "poch", "kl_div"]],
    ("betainc", (A, B, np.resize(UNIT, A.shape))),
    ("expn", (np.repeat([0.0, 1.0, 2.0, 3.0, 5.0, -1.0], POS.size), np.tile(POS, 6))),
    (
        "hyp1f1",
        tuple(
            m.ravel() for m in np.meshgrid([0.0, 0.5, 2.0], [0.5, 1.5, 2.0], np.linspace(-4, 30, 9))
        ),
    ),
]


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
@pytest.mark.parametrize("name,args", VALUE_CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_values_match_jax(name, args, x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        args = tuple(a.astype(dt) for a in args)
        expected = jax.jit(getattr(jsp, name))(*args)
        actual = engine.jit(getattr(esp, name))(*args)
        tol = dict(rtol=1e-11, atol=1e-12) if x64_on else dict(rtol=2e-5, atol=1e-6)
        assert_close(actual, expected, **tol)


@pytest.mark.parametrize(
    "name,args",
    [
        ("gammaln", (REAL,)),
        ("i0e", (REAL,)),
        ("betainc", (A[:40], B[:40], np.resize(UNIT, 40))),
        ("xlogy", PAIR_SIGNED),
        ("log_ndtr", (REAL,)),
        ("expn", (np.repeat([1.0, 2.0], POS.size), np.tile(POS, 2))),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_eager_values_match_jax(name, args):
    """The same functions run op by op (no jit)."""
    args = tuple(a.astype(np.float32) for a in args)
    assert_close(getattr(esp, name)(*args), getattr(jsp, name)(*args), rtol=2e-5, atol=1e-6)


def test_against_scipy():
    x = np.linspace(0.1, 6, 9)
    with x64(True):
        for name in [
            "gammaln",
            "digamma",
            "i0",
            "i0e",
            "i1",
            "i1e",
            "erfcx",
            "dawsn",
            "expi",
            "exp1",
            "spence",
            "ndtr",
        ]:
            assert_close(getattr(esp, name)(x), getattr(ss, name)(x), rtol=1e-9, atol=1e-12)
        assert_close(esp.betainc(2.0, 3.0, x / 7), ss.betainc(2.0, 3.0, x / 7), rtol=1e-10)
        assert_close(esp.gammainc(2.5, x), ss.gammainc(2.5, x), rtol=1e-10)
        assert_close(esp.zeta(x + 1.5, 2.0), ss.zeta(x + 1.5, 2.0), rtol=1e-10)
        assert_close(esp.polygamma(2, x), ss.polygamma(2, x), rtol=1e-9)
        assert_close(esp.hyp1f1(0.5, 1.5, x), ss.hyp1f1(0.5, 1.5, x), rtol=1e-9)
        assert_close(esp.ndtri(x / 7), ss.ndtri(x / 7), rtol=1e-10)
        assert_close(esp.bernoulli(12), ss.bernoulli(12), rtol=1e-10)
        assert_close(esp.multigammaln(x + 2, 3), ss.multigammaln(x + 2, 3), rtol=1e-10)


# (function, points, argnums): first- and second-order gradients against jax.grad
GRAD_CASES = [
    *[
        (name, [(-2.5,), (-0.3,), (0.0,), (0.7,), (3.2,), (12.0,)], 0)
        for name in ["gammaln", "digamma", "erf", "erfc", "expit", "i0", "i0e", "i1", "i1e"]
    ],
    *[
        (name, [(-12.0,), (-2.5,), (-0.3,), (0.7,), (3.2,), (9.0,)], 0)
        for name in ["ndtr", "log_ndtr", "erfcx", "dawsn", "expi", "gamma"]
    ],
    *[
        (name, [(0.3,), (1.0,), (2.5,), (7.0,), (0.0,)], 0)
        for name in ["entr", "spence", "factorial"]
    ],
    *[(name, [(0.1,), (0.5,), (0.93,)], 0) for name in ["erfinv", "logit", "ndtri"]],
    *[
        (name, [(0.5, 2.0), (0.0, 3.0), (2.0, 0.5), (3.0, 1.5), (0.0, 0.0), (1.0, 0.0)], an)
        for name in ["xlogy", "xlog1py", "rel_entr", "kl_div"]
        for an in (0, 1)
    ],
    *[
        (name, [(0.5, 2.0), (2.0, 0.5), (3.0, 1.5)], an)
        for name in ["betaln", "beta", "poch", "zeta", "comb", "boxcox", "gammainc", "gammaincc"]
        for an in (0, 1)
    ],
    ("betainc", [(2.0, 3.0, 0.3), (0.5, 0.5, 0.9)], 2),
    ("hyp1f1", [(0.5, 1.5, 2.0), (2.0, 3.0, -1.5), (1.2, 0.7, 4.0)], 0),
    ("hyp1f1", [(0.5, 1.5, 2.0), (2.0, 3.0, -1.5), (1.2, 0.7, 4.0)], 1),
    ("hyp1f1", [(0.5, 1.5, 2.0), (2.0, 3.0, -1.5), (1.2, 0.7, 4.0)], 2),
]


@pytest.mark.parametrize("name,points,argnum", GRAD_CASES, ids=lambda v: str(v))
def test_gradients_match_jax(name, points, argnum):
    ef, jf = getattr(esp, name), getattr(jsp, name)
    # JAX has no second derivative of igamma in a (igamma_grad_a has no JVP rule), nor of
    # hyp1f1 in a or b (their derivative series are while loops)
    second = not (name in ("gammainc", "gammaincc", "hyp1f1") and argnum in (0, 1))
    eg1, jg1 = engine.grad(ef, argnum), jax.grad(jf, argnum)
    eg2, jg2 = engine.grad(eg1, argnum), jax.grad(jg1, argnum)
    for p in points:
        p = tuple(np.float32(v) for v in p)
        assert_close(eg1(*p), jg1(*p), rtol=1e-4, atol=1e-6)
        if second:
            assert_close(eg2(*p), jg2(*p), rtol=5e-4, atol=1e-5)


def test_expn_gradient_is_minus_expn_of_n_minus_1():
    # JAX cannot differentiate its own expn/exp1 here; the derivative is d/dx E_n = -E_{n-1}
    for n, x in [(2.0, 0.5), (3.0, 2.5), (1.0, 0.1)]:
        g = engine.grad(esp.expn, 1)(np.float32(n), np.float32(x))
        np.testing.assert_allclose(g, -ss.expn(int(n) - 1, x), rtol=1e-5)
    g = engine.grad(esp.exp1)(np.float32(0.7))
    np.testing.assert_allclose(g, -np.exp(-0.7) / 0.7, rtol=1e-5)


def test_polygamma_and_multigammaln():
    x = np.linspace(0.5, 5, 6).astype(np.float32)
    for n in (0, 1, 3):
        assert_close(esp.polygamma(n, x), jsp.polygamma(n, x), rtol=1e-5)
    assert_close(
        engine.grad(lambda v: esp.polygamma(1, v))(np.float32(2.5)),
        jax.grad(lambda v: jsp.polygamma(1, v))(np.float32(2.5)),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="integer type"):
        esp.polygamma(1.0, x)
    assert_close(esp.multigammaln(x + 2, 4), jsp.multigammaln(x + 2, 4), rtol=1e-5)
    assert_close(esp.bernoulli(15), jsp.bernoulli(15), rtol=1e-5)
    assert_close(esp.bernoulli(2), jsp.bernoulli(2))


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_logsumexp(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        a = np.array([[1.0, 2.0, -np.inf, 0.5], [-np.inf] * 4, [3.0, 1.0, 2.0, 0.0]], dt)
        b = np.array([1.0, 0.0, 2.0, -0.5], dt)
        where = np.array([True, True, False, True])
        tol = dict(rtol=1e-12) if x64_on else dict(rtol=1e-6)
        for kw in [
            {},
            dict(axis=1),
            dict(axis=0, keepdims=True),
            dict(axis=1, b=b),
            dict(axis=1, b=b, return_sign=True),
            dict(axis=1, where=where),
            dict(axis=(0, 1), b=np.abs(b)),
        ]:
            assert_close(esp.logsumexp(a, **kw), jsp.logsumexp(a, **kw), **tol)
        ga = engine.grad(lambda v, w: esp.logsumexp(v, b=w), (0, 1))(a[2], np.abs(b))
        ja = jax.grad(lambda v, w: jsp.logsumexp(v, b=w), (0, 1))(a[2], np.abs(b))
        assert_close(ga, ja, **tol)
        assert_close(esp.softmax(a[2]), jsp.softmax(a[2]), **tol)
        assert_close(esp.log_softmax(a[2]), jsp.log_softmax(a[2]), **tol)


def test_vmap_and_jit_compose():
    x = np.linspace(0.2, 3, 5).astype(np.float32)
    y = np.linspace(0.5, 2, 5).astype(np.float32)
    for name in ["xlogy", "betaln", "zeta", "gammainc", "poch"]:
        ef, jf = getattr(esp, name), getattr(jsp, name)
        assert_close(engine.vmap(ef)(x, y), jax.vmap(jf)(x, y), rtol=1e-5)
        assert_close(
            engine.vmap(ef, (None, 0))(x[0], y), jax.vmap(jf, (None, 0))(x[0], y), rtol=1e-5
        )
        assert_close(
            engine.jit(engine.vmap(engine.grad(ef, 1)))(x, y),
            jax.vmap(jax.grad(jf, 1))(x, y),
            rtol=1e-4,
        )
    assert_close(engine.vmap(esp.log_ndtr)(x - 10), jax.vmap(jsp.log_ndtr)(x - 10), rtol=1e-5)
    u = np.array([0.2, 0.5, 0.7], np.float32)
    assert_close(
        engine.vmap(lambda t: esp.betainc(2.0, 3.0, t))(u),
        jax.vmap(lambda t: jsp.betainc(2.0, 3.0, t))(u),
        rtol=1e-5,
    )


def test_lax_primitives():
    x = np.linspace(-10, 10, 9).astype(np.float32)
    assert_close(elax.bessel_i0e(x), jax.lax.bessel_i0e(x), rtol=1e-6)
    assert_close(elax.bessel_i1e(x), jax.lax.bessel_i1e(x), rtol=1e-6)
    a, b, u = np.float32(2.0), np.float32(3.0), np.linspace(0, 1, 5).astype(np.float32)
    assert_close(elax.betainc(a, b, u), jax.lax.betainc(a, b, u), rtol=1e-6)
    for f, jf in [(elax.bessel_i0e, jax.lax.bessel_i0e), (elax.bessel_i1e, jax.lax.bessel_i1e)]:
        for v in (0.0, 0.5, -3.0):
            assert_close(engine.grad(f)(np.float32(v)), jax.grad(jf)(np.float32(v)), rtol=1e-5)
    with pytest.raises(ValueError, match="Betainc gradient"):
        engine.grad(elax.betainc)(a, b, np.float32(0.3))
    # the jaxprs name JAX's primitives
    text = str(engine.make_jaxpr(lambda t: elax.betainc(a, b, t) + elax.bessel_i0e(t))(u))
    assert "regularized_incomplete_beta" in text and "bessel_i0e" in text
    with x64(True):
        x = np.linspace(-30, 30, 13)
        assert_close(elax.bessel_i0e(x), jax.lax.bessel_i0e(x), rtol=1e-13)


def test_errors_like_jax():
    with pytest.raises(NotImplementedError, match="Riemann zeta"):
        esp.zeta(2.0)
    with pytest.raises(NotImplementedError, match="exact=True"):
        esp.factorial(3, exact=True)
    with pytest.raises(TypeError, match="series_order"):
        esp.log_ndtr(1.0, series_order=2.0)
    with pytest.raises(ValueError, match="non-negative"):
        esp.bernoulli(-1)
    with pytest.raises(TypeError, match="not supported"):
        esp.ndtr(np.array([1, 2], np.int32))


def test_names_match_jax():
    wanted = {n for n in dir(jsp) if not n.startswith("_")}
    have = {n for n in esp.__all__}
    assert have <= wanted
    assert wanted == have, wanted ^ have


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_owens_t_sici_fresnel_bessel_jn(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        tol = dict(rtol=1e-11, atol=1e-12) if x64_on else dict(rtol=2e-5, atol=1e-6)
        h = np.array([-2.0, -0.5, 0.0, 0.3, 1.0, 3.0, np.nan, 10.0, 0.2], dt)
        a = np.array([0.5, 1.0, 2.0, -3.0, 0.0, 0.7, 1.0, 20.0, np.inf], dt)
        assert_close(esp.owens_t(h, a), jsp.owens_t(h, a), **tol)
        x = np.array(
            [-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 6.0, 50.0, 2e9, np.inf, -np.inf, np.nan], dt
        )
        assert_close(esp.sici(x), jsp.sici(x), **tol)
        assert_close(esp.fresnel(x), jsp.fresnel(x), **tol)
        for i in (0, 1):
            g_e = engine.grad(lambda t, i=i: esp.fresnel(t)[i])(dt(1.2))
            assert_close(g_e, jax.grad(lambda t, i=i: jsp.fresnel(t)[i])(dt(1.2)), rtol=1e-5)
        z = np.array([0.5, 1.0, 3.0, 10.0, 25.0], dt)
        for v in (0, 3):
            assert_close(esp.bessel_jn(z, v=v), jsp.bessel_jn(z, v=v), **tol)
        assert_close(esp.bessel_jn(z, v=2, n_iter=30), jsp.bessel_jn(z, v=2, n_iter=30), **tol)
        p = (dt(0.7), dt(1.5))
        for i in (0, 1):
            assert_close(engine.grad(esp.owens_t, i)(*p), jax.grad(jsp.owens_t, i)(*p), rtol=1e-5)
        for i in (0, 1):
            g_e = engine.grad(lambda t, i=i: esp.sici(t)[i])(dt(2.0))
            assert_close(g_e, jax.grad(lambda t, i=i: jsp.sici(t)[i])(dt(2.0)), rtol=1e-5)
        g_e = engine.grad(lambda t: esp.bessel_jn(t, v=2)[2].sum())(z[3:])
        g_j = jax.grad(lambda t: jsp.bessel_jn(t, v=2)[2].sum())(z[3:])
        assert_close(g_e, g_j, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_hyp2f1(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        grid = np.meshgrid(
            [0.5, 1.0, -2.0, 2.5, 0.0, -3.0],
            [1.5, -1.0, 0.3, 2.0],
            [2.0, 0.5, -1.0, 3.5, 4.5],
            [-0.5, 0.0, 0.3, 0.95, 1.0, 1.5],
            indexing="ij",
        )
        args = [m.ravel().astype(dt) for m in grid]
        tol = dict(rtol=1e-11, atol=1e-12) if x64_on else dict(rtol=2e-5, atol=1e-6)
        assert_close(engine.jit(esp.hyp2f1)(*args), jax.jit(jsp.hyp2f1)(*args), **tol)
        p = tuple(dt(v) for v in (0.5, 1.5, 2.5, 0.3))
        for i in range(4):
            assert_close(engine.grad(esp.hyp2f1, i)(*p), jax.grad(jsp.hyp2f1, i)(*p), rtol=1e-5)
        x = np.linspace(-0.9, 0.9, 7)
        if x64_on:
            assert_close(esp.hyp2f1(0.5, 1.5, 2.5, x), ss.hyp2f1(0.5, 1.5, 2.5, x), rtol=1e-10)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_complex_arguments(x64_on):
    with x64(x64_on):
        ct = np.complex128 if x64_on else np.complex64
        rt = np.float64 if x64_on else np.float32
        r = np.random.RandomState(0)
        z = (r.randn(12) * 4 + 1j * r.randn(12) * 3).astype(ct)
        z = np.concatenate([z, np.array([0, -1, -2.5, 1, 3j, -3 - 1e-3j, complex(np.nan, 0)], ct)])
        tol = dict(rtol=1e-11, atol=1e-12) if x64_on else dict(rtol=2e-5, atol=1e-6)
        for name in ["gamma", "loggamma", "wofz", "erfcx"]:
            assert_close(getattr(esp, name)(z), getattr(jsp, name)(z), **tol)
        assert_close(esp.wofz(rt(0.7)), jsp.wofz(rt(0.7)), **tol)
        for name in ["wofz", "gamma"]:  # complex loggamma loops: JAX has no reverse mode

            def f(t, lib, name=name):
                return getattr(lib, name)(t * (1.0 + 0.5j)).real

            assert_close(
                engine.grad(lambda t: f(t, esp))(rt(1.3)),
                jax.grad(lambda t: f(t, jsp))(rt(1.3)),
                rtol=1e-4,
            )


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_sph_harm_y(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        n = np.array([0, 1, 2, 3, 4, 4, 2])
        m = np.array([0, -1, 2, 1, -3, 4, 0])
        th = np.linspace(0.1, 3.0, 7).astype(dt)
        ph = np.linspace(-2, 2, 7).astype(dt)
        tol = dict(rtol=1e-12, atol=1e-14) if x64_on else dict(rtol=1e-5, atol=1e-6)
        assert_close(esp.sph_harm_y(n, m, th, ph), jsp.sph_harm_y(n, m, th, ph), **tol)
        assert_close(
            esp.sph_harm_y(n, m, th, ph, n_max=6), jsp.sph_harm_y(n, m, th, ph, n_max=6), **tol
        )
        if x64_on:
            assert_close(esp.sph_harm_y(n, m, th, ph), ss.sph_harm_y(n, m, th, ph), rtol=1e-10)
        with pytest.raises(NotImplementedError, match="diff_n"):
            esp.sph_harm_y(n, m, th, ph, diff_n=1)


def test_float16_and_bfloat16():
    x = np.array([0.5, 1.0, 3.0], np.float16)
    for name, args in [
        ("i0e", (x,)),
        ("xlogy", (x, x)),
        ("betainc", (x, x, x / 4)),
        ("logit", (x / 4,)),
    ]:
        assert_close(getattr(esp, name)(*args), getattr(jsp, name)(*args), rtol=1e-3)
    with pytest.raises(TypeError, match="not supported"):
        esp.log_ndtr(x)
    xb = engine.numpy.array([1.0, 2.0], dtype=engine.numpy.bfloat16)
    jb = jax.numpy.array([1.0, 2.0], dtype=jax.numpy.bfloat16)
    assert_close(esp.i0e(xb), jsp.i0e(jb), rtol=1e-2)


@pytest.mark.parametrize("name", ["erfcx", "dawsn", "xlog1py", "xlogy", "entr", "logit"])
def test_grad_of_python_float_matches_jax(name):
    """Hand-written derivatives work on a Python-number input (weakly typed), as JAX's."""
    import jax as real

    ours = getattr(engine.scipy.special, name)
    theirs = getattr(real.scipy.special, name)
    if name.startswith("xlog"):
        a = engine.grad(lambda y: ours(2.0, y))(0.5)
        b = real.grad(lambda y: theirs(2.0, y))(0.5)
    else:
        a, b = engine.grad(ours)(0.25), real.grad(theirs)(0.25)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    assert a.dtype == b.dtype and a.weak_type == b.weak_type
