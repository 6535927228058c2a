"""The series- and rational-approximation-based functions of ``engine.scipy.special``:
ndtr, ndtri, log_ndtr, zeta, expi, expn, exp1, spence, bernoulli, hyp1f1, erfcx, dawsn.

The rational approximations use Cephes' published coefficients, as JAX does. Iterations
that JAX runs per element (``vectorize`` + ``while_loop``) run here on whole arrays with
converged elements frozen, which gives each element the same sequence of updates."""

from __future__ import annotations

import operator

import numpy as np

from .. import api, core, dtypes, lax
from .. import numpy as jnp
from ..numpy._util import as_array, dtype_of, promote_args_inexact, weak_scalar
from . import _custom


def _args(name, *xs):
    return tuple(as_array(x) for x in promote_args_inexact(name, *xs))


def _c(x, v):
    return weak_scalar(v, dtype_of(x))


def _poly(coeffs, x):
    """Horner's rule, highest power first (numpy.polyval's order)."""
    acc = lax.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * x + _c(x, c)
    return acc


def _float_only(name, x):
    dt = dtype_of(x)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"x.dtype={dt} is not supported, see docstring for supported types.")


def _masked_loop(step, init, active_fn, max_steps):
    """Run ``step`` on a tuple of arrays while any element is active (at most
    ``max_steps`` times); an element's entries stop changing once it is inactive."""

    def cond(carry):
        i, state = carry
        return (i < max_steps) & jnp.any(active_fn(state))

    def body(carry):
        i, state = carry
        active = active_fn(state)
        new = step(state)
        return i + 1, tuple(jnp.where(active, n, o) for n, o in zip(new, state))

    return lax.while_loop(cond, body, (np.int32(0), tuple(init)))[1]


# ---------------------------------------------------------------------------- normal


def ndtr(x):
    """The standard normal CDF."""
    x = jnp.asarray(x)
    _float_only("ndtr", x)
    return _ndtr(x)


def _ndtr(x):
    half_sqrt_2 = _c(x, 0.5 * np.sqrt(2.0))
    w = x * half_sqrt_2
    z = lax.abs(w)
    y = jnp.where(
        z < half_sqrt_2,
        _c(x, 1.0) + lax.erf(w),
        jnp.where(w > 0, _c(x, 2.0) - lax.erfc(z), lax.erfc(z)),
    )
    return _c(x, 0.5) * y


_NDTRI_P0 = (-59.96335010141079, 98.00107541859997, -56.67628574690703, 13.931260938727968,
             -1.2391658386738125)  # fmt: skip
_NDTRI_Q0 = (1.0, 1.9544885833814176, 4.676279128988815, 86.36024213908905,
             -225.46268785411937, 200.26021238006066, -82.03722561683334, 15.90562251262117,
             -1.1833162112133)  # fmt: skip
_NDTRI_P1 = (4.0554489230596245, 31.525109459989388, 57.16281922464213, 44.08050738932008,
             14.684956192885803, 2.1866330685079025, -0.1402560791713545,
             -0.03504246268278482, -0.0008574567851546854)  # fmt: skip
_NDTRI_Q1 = (1.0, 15.779988325646675, 45.39076351288792, 41.3172038254672, 15.04253856929075,
             2.504649462083094, -0.14218292285478779, -0.03808064076915783,
             -0.0009332594808954574)  # fmt: skip
_NDTRI_P2 = (3.2377489177694603, 6.915228890689842, 3.9388102529247444, 1.3330346081580755,
             0.20148538954917908, 0.012371663481782003, 0.00030158155350823543,
             2.6580697468673755e-06, 6.239745391849833e-09)  # fmt: skip
_NDTRI_Q2 = (1.0, 6.02427039364742, 3.6798356385616087, 1.3770209948908132,
             0.21623699359449663, 0.013420400608854318, 0.00032801446468212774,
             2.8924786474538068e-06, 6.790194080099813e-09)  # fmt: skip


def ndtri(p):
    """The inverse of ndtr (Cephes' rational approximations)."""
    p = jnp.asarray(p)
    _float_only("ndtri", p)
    dt = dtype_of(p).type
    flip = p > _c(p, -np.expm1(-2.0))
    mcp = jnp.where(flip, _c(p, 1.0) - p, p)
    mcp = jnp.where(mcp == 0, lax.full_like(p, 0.5), mcp)
    w = mcp - _c(p, 0.5)
    ww = lax.square(w)
    x_big = w + w * ww * (_poly(_NDTRI_P0, ww) / _poly(_NDTRI_Q0, ww))
    x_big = x_big * _c(p, -np.sqrt(2.0 * np.pi))
    z = lax.sqrt(_c(p, -2.0) * lax.log(mcp))
    first = z - lax.log(z) / z
    rz = _c(z, 1.0) / z
    x_small = first - _poly(_NDTRI_P2, rz) / _poly(_NDTRI_Q2, rz) / z
    x_other = first - _poly(_NDTRI_P1, rz) / _poly(_NDTRI_Q1, rz) / z
    x = jnp.where(mcp > _c(p, dt(np.exp(-2.0))), x_big, jnp.where(z >= 8, x_small, x_other))
    x = jnp.where(p > _c(p, dt(1.0 - np.exp(-2.0))), x, -x)
    x = jnp.where(p == 0, lax.full_like(p, -np.inf), x)
    return jnp.where(p == 1, lax.full_like(p, np.inf), x)


def _norm_logpdf(x):
    return _c(x, -0.5) * lax.square(x) - _c(x, np.log(np.sqrt(2 * np.pi)))


def _log_ndtr_impl(x, *, series_order):
    f64 = dtype_of(x) == np.float64
    lower, upper = (-20.0, 8.0) if f64 else (-10.0, 5.0)
    above = x > upper
    arg = jnp.where(above, -x, lax.max(x, lax.full_like(x, lower)))
    res = _ndtr(arg)
    low_x = lax.min(x, lax.full_like(x, lower))
    tail = _log_ndtr_lower(low_x, series_order)
    return jnp.where(above, -res, jnp.where(x > lower, lax.log(res), tail))


def _log_ndtr_lower(x, series_order):
    x2 = lax.square(x)
    log_scale = _c(x, -0.5) * x2 - lax.log(-x) - _c(x, 0.5 * np.log(2.0 * np.pi))
    # asymptotic series 1 + sum_n (-1)^n (2n-1)!! / x^(2n)
    series = lax.full_like(x, 1.0)
    if series_order > 0:
        even, odd = lax.full_like(x, 0.0), lax.full_like(x, 0.0)
        x2n = x2
        for n in range(1, series_order + 1):
            y = _c(x, float(np.prod(np.arange(2 * n - 1, 1, -2)))) / x2n
            if n % 2:
                odd = odd + y
            else:
                even = even + y
            x2n = x2n * x2
        series = _c(x, 1.0) + even - odd
    return log_scale + lax.log(series)


_log_ndtr_p = _custom.elementwise(
    "log_ndtr",
    _log_ndtr_impl,
    lambda g, ans, x, *, series_order: g * lax.exp(_norm_logpdf(x) - ans),
)


def log_ndtr(x, series_order=3):
    """log of the standard normal CDF, with an asymptotic series far in the left tail."""
    if not isinstance(series_order, int):
        raise TypeError("series_order must be a Python integer.")
    if series_order < 0:
        raise ValueError("series_order must be non-negative.")
    if series_order > 30:
        raise ValueError("series_order must be <= 30.")
    x = jnp.asarray(x)
    dt = dtype_of(x)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"x.dtype={dt} is not supported.")
    return _log_ndtr_p.bind(x, series_order=series_order)


# ---------------------------------------------------------------------------- zeta

# (2k)! / B_{2k}, the Euler-Maclaurin correction terms' denominators
_BERNOULLI_COEFS = (12, -720, 30240, -1209600, 47900160, -1307674368000 / 691, 74724249600,
                    -10670622842880000 / 3617, 5109094217170944000 / 43867,
                    -802857662698291200000 / 174611, 14101100039391805440000 / 77683,
                    -1693824136731743669452800000 / 236364091,
                    186134520519971831808000000 / 657931,
                    -37893265687455865519472640000000 / 3392780147,
                    759790291646040068357842010112000000 / 1723168255201,
                    -134196726836183700385281186201600000000 / 7709321041217)  # fmt: skip


def _zeta_series(s, a):
    """Euler-Maclaurin summation of the Hurwitz zeta function: JAX differentiates this
    expansion to get zeta's derivative."""
    dt = dtype_of(a)
    n = 8 if dt == np.float32 else 16
    nd = len(a.shape)
    s_, a_ = jnp.expand_dims(s, -1), jnp.expand_dims(a, -1)
    k = jnp.expand_dims(np.arange(n, dtype=dt), tuple(range(nd)))
    head = jnp.sum((a_ + k) ** (-s_), -1)
    a_n = a + _c(a, n)
    integral = lax.div(a_n ** (_c(s, 1) - s), s - _c(s, 1))
    t0 = a_n ** (-s)
    m = jnp.expand_dims(np.arange(2 * n, dtype=dt), tuple(range(nd)))
    t1 = jnp.cumprod((s_ + m) / (a_ + _c(a, n)), -1)[..., ::2]
    t1 = jnp.clip(t1, max=np.finfo(dt).max)
    coefs = np.expand_dims(np.array(_BERNOULLI_COEFS[:n], dtype=dt), tuple(range(nd)))
    tail = t0 * (_c(t0, 0.5) + jnp.sum(t1 / coefs, -1))
    return head + integral + tail


def _zeta_jvp_x(g, ans, x, q):
    return api.jvp(lambda x_: _zeta_series(x_, q), (x,), (g,))[1]


def _zeta_jvp_q(g, ans, x, q):
    return api.jvp(lambda q_: _zeta_series(x, q_), (q,), (g,))[1]


_zeta_p = _custom.elementwise("zeta", lax.zeta, _zeta_jvp_x, _zeta_jvp_q)


def zeta(x, q=None):
    """The Hurwitz zeta function sum_n (n + q)^-x (``q`` is required, as in JAX)."""
    if q is None:
        raise NotImplementedError(
            "Riemann zeta function not implemented; pass q != None to compute the Hurwitz "
            "Zeta function."
        )
    x, q = _args("zeta", x, q)
    return _zeta_p.bind(x, q)


# ---------------------------------------------------------------------------- exponential integrals

_EXPINT = (
    # (A, B) of Cephes' ei.c for 0 < x <= 2 (in x) ...
    ((-5.350447357812543, 218.50491688166133, -4176.572384826693, 55411.76756393557,
      -331338.13311781443, 1592627.1633849454),
     (1.0, -52.505479591128626, 1259.6161867867906, -17565.495819735348, 149306.2117002726,
      -729494.9239640528, 1592627.1633849454)),
    # ... and for (2, 4], (4, 8], (8, 16], (16, 32], (32, 64], (64, inf) (in 1 / x)
    ((0.019818085032596897, -1.2716456259849176, -2.0881603356812284, 2.7555445091879367,
      -0.44095070487016, 0.046656238059358916, -0.0015450426796734852, 7.059980605299618e-05),
     (1.0, 1.4764986709149215, 0.5629177174822436, 0.16990178978793072, 0.02291647179034212,
      0.0044501504397287525, 0.00017274396122065214, 3.953167195549672e-05)),
    ((-1.3732153758712087, -0.7084559133740839, 1.580806855547941, -0.2601500427425623,
      0.029946746941137137, -0.001038086040188744, 4.371064420753005e-05,
      2.141783679522603e-06),
     (1.0, 0.8585231423622028, 0.4483285822873995, 0.07687932158124476, 0.024498682410218877,
      0.0008832165941927797, 0.00045909522995113536, -4.729848351866523e-06,
      2.66519553739071e-06)),
    ((-2.1069346016919166, 1.7327338696646881, -0.2423619178935842, 0.02322724180937566,
      0.00023728804404931798, -8.343219561192553e-05, 1.3634087956052505e-05,
      -3.655412321999254e-07, 1.4649417339759612e-08, 6.17640786371036e-10),
     (1.0, -0.2298062239901678, 0.11050770414740378, -0.015665429666307924,
      0.002761106850817353, -0.00020891480122840484, 1.7085289388076754e-05,
      -4.4593117963566865e-07, 1.3946349303538475e-08, 6.150865933977338e-10)),
    ((-0.24581193676740204, -0.14833822533220778, 0.07248291795735552, -0.013483156873809405,
      0.001342775069788637, -7.942465637159712e-05, 2.644179518984236e-06,
      -4.239473659313765e-08),
     (1.0, -0.10442259084438711, -0.26764531281014026, 0.09695000254621984,
      -0.01601745692712991, 0.001496414899205908, -8.462452563778485e-05,
      2.7289384034767266e-06, -4.239462431819542e-08)),
    ((0.12125611181054567, -0.5823133179043894, 0.2348887314557017, -0.030400343181132484,
      0.0015100821468651906, -2.5231370954995714e-05),
     (1.0, -1.002252150365854, 0.2928709694872224, -0.03337004338674008,
      0.0015605448811273888, -2.5231370936032347e-05)),
    ((-0.7657847078286127, 0.6886192415566705, -0.2132598113545206, 0.033461075523841935,
      -0.003076541477344756, 0.00017471193164549074, -6.1037116822741705e-06,
      1.218032765428652e-07, -1.0860761027932903e-09),
     (1.0, -1.8888028686623086, 1.066691687211409, -0.27519159823063805,
      0.039308526882338234, -0.003414684558602365, 0.00018668443707035555,
      -6.345146083130515e-06, 1.239754287483207e-07, -1.0860761027931265e-09)),
)  # fmt: skip


def _expi_pos(x):
    a, b = _EXPINT[0]
    out = x * (_poly(a, x) / _poly(b, x)) + _c(x, np.euler_gamma) + jnp.log(x)
    w = _c(x, 1.0) / x
    for i in range(6):  # (2^(i+1), 2^(i+2)] for i < 5; the last piece covers the rest
        a, b = _EXPINT[i + 1]
        f = w * (_poly(a, w) / _poly(b, w)) + _c(x, 1.0)
        piece = jnp.exp(x) * w * f
        inside = x > 2.0 ** (i + 1) if i == 5 else (x > 2.0 ** (i + 1)) & (x <= 2.0 ** (i + 2))
        out = jnp.where(inside, piece, out)
    # x == 0 and NaN fall to the last piece, as in JAX's piecewise
    outside = ~((x > 0) & (x <= 2.0) | (x > 2.0))
    a, b = _EXPINT[6]
    last = jnp.exp(x) * w * (w * (_poly(a, w) / _poly(b, w)) + _c(x, 1.0))
    return jnp.where(outside, last, out)


def _expi_impl(x):
    neg = x < 0
    safe_neg = jnp.where(neg, x, lax.full_like(x, -1.0))
    return jnp.where(neg, -_expn_impl(lax.full_like(x, 1.0), -safe_neg), _expi_pos(x))


_expi_p = _custom.elementwise("expi", _expi_impl, lambda g, ans, x: jnp.exp(x) / x * g)


def expi(x):
    """The exponential integral Ei(x)."""
    (x,) = _args("expi", x)
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError("expi does not support complex-valued inputs.")
    return _expi_p.bind(x)


def _expn_series(x, n):
    """E_n(x) for x <= 1: the power series (Cephes' expn.c)."""
    eps = float(np.finfo(dtype_of(x)).eps)
    one, zero = _c(x, 1.0), _c(x, 0.0)
    psi = lax.digamma(n) - jnp.log(x)  # -gamma - log x + sum_{i<n} 1/i
    n1 = jnp.where(n == 1, n + n, n)
    init = (
        -x,
        lax.full_like(x, 0.0),
        lax.full_like(x, 1.0),
        one - n,
        jnp.where(n == 1, lax.full_like(x, 0.0), one / (one - n1)),
        lax.full_like(x, np.inf),
    )

    def step(s):
        z, xk, yk, pk, ans, _ = s
        xk = xk + one
        yk = yk * z / xk
        pk = pk + one
        ans = ans + jnp.where(pk != zero, yk / pk, lax.full_like(x, 0.0))
        t = jnp.where(ans != zero, abs(yk / ans), lax.full_like(x, 1.0))
        return z, xk, yk, pk, ans, t

    z, _, _, _, ans, _ = _masked_loop(step, init, lambda s: (x > 0) & (s[5] > eps), 10000)
    return z ** (n - one) * psi / jnp.exp(lax.lgamma(n)) - ans


def _expn_fraction(x, n):
    """E_n(x) for x > 1: the continued fraction (Cephes' expn.c)."""
    eps = float(np.finfo(dtype_of(x)).eps)
    big = _c(x, 1.4411518807585587e17)
    one = _c(x, 1.0)
    init = (
        lax.full_like(x, 1.0),  # k
        lax.full_like(x, 1.0),  # pkm2
        x,  # qkm2
        lax.full_like(x, 1.0),  # pkm1
        x + n,  # qkm1
        one / (x + n),  # ans
        lax.full_like(x, np.inf),  # t
        lax.full_like(x, 0.0),  # r
    )

    def step(s):
        k, pkm2, qkm2, pkm1, qkm1, ans, t, r = s
        k = k + one
        odd = jnp.fmod(k, 2) == 1
        yk = jnp.where(odd, lax.full_like(x, 1.0), x)
        xk = jnp.where(odd, n + (k - one) / _c(x, 2), k / _c(x, 2))
        pk = pkm1 * yk + pkm2 * xk
        qk = qkm1 * yk + qkm2 * xk
        nz = qk != 0
        r = jnp.where(nz, pk / qk, r)
        t = jnp.where(nz, abs((ans - r) / r), lax.full_like(x, 1.0))
        ans = jnp.where(nz, r, ans)
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        is_big = abs(pk) > big
        pkm2, pkm1, qkm2, qkm1 = (jnp.where(is_big, v / big, v) for v in (pkm2, pkm1, qkm2, qkm1))
        return k, pkm2, qkm2, pkm1, qkm1, ans, t, r

    out = _masked_loop(step, init, lambda s: (x > 0) & (s[6] > eps), 10000)
    return out[5] * jnp.exp(-x)


def _expn_large_n(x, n):
    one = _c(x, 1.0)
    xk = x + n
    yk = one / (xk * xk)
    ans = yk * n * (_c(x, 6) * x * x - _c(x, 8) * n * x + n * n)
    ans = yk * (ans + n * (n - _c(x, 2) * x))
    ans = yk * (ans + n)
    return (ans + one) * jnp.exp(-x) / xk


def _expn_impl(n, x):
    one = lax.full_like(x, 1.0)
    n1 = jnp.where(n == 1, n + n, n)
    small = x <= 1
    series_x = jnp.where(small & (x > 0) | jnp.isnan(x), x, one)
    series = _expn_series(series_x, jnp.where(n > 0, n, one))
    frac = _expn_fraction(jnp.where(small, one + one, x), n)
    # JAX's piecewise: the last condition that holds picks the value
    pieces = [
        ((n < 0) | (x < 0), lax.full_like(x, np.nan)),
        ((x == 0) & (n < 2), lax.full_like(x, np.inf)),
        ((x == 0) & (n >= 2), one / n1),
        ((n == 0) & (x >= 0), jnp.exp(-x) / x),
        (n >= 5000, _expn_large_n(x, n)),
        (x > 1, frac),
    ]
    out = series
    done = jnp.zeros(x.shape, bool)
    for cond, val in reversed(pieces):
        out = jnp.where(cond & ~done, val, out)
        done = done | cond
    return out


_expn_p = _custom.elementwise(
    "expn", _expn_impl, None, lambda g, ans, n, x: -g * _expn_p.bind(n - _c(n, 1), x)
)


def expn(n, x):
    """The generalized exponential integral E_n(x) (``n`` is not differentiated)."""
    n, x = _args("expn", n, x)
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError("expn does not support complex-valued inputs.")
    return _expn_p.bind(n, x)


def exp1(x):
    """E_1(x)."""
    (x,) = _args("exp1", x)
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError("exp1 does not support complex-valued inputs.")
    return _expn_p.bind(lax.full_like(x, 1.0), x)


# ---------------------------------------------------------------------------- spence

_SPENCE_A = (4.6512858607399003e-05, 0.007315890452380947, 0.13384763957830903,
             0.8796913117545303, 2.7114985119655346, 4.256971560081218, 3.297713409852251, 1.0)  # fmt: skip
_SPENCE_B = (0.0006909904889125533, 0.02540437639325444, 0.2829748606025681,
             1.4117259775183106, 3.6380053334513707, 5.03278880143317, 3.547713409852251, 1.0)  # fmt: skip


def spence(x):
    """Spence's function (dilogarithm) int_1^x log(t) / (1 - t) dt, for x >= 0."""
    x = jnp.asarray(x)
    _float_only("spence", x)
    one = _c(x, 1.0)
    # the series sees a safe argument where a constant is returned, so no NaN reaches the
    # gradient there (JAX's piecewise runs only the chosen branch for a scalar)
    special = (x < 0.0) | (x == 0.0) | (x == 1.0)
    xs = jnp.where(special, lax.full_like(x, 0.5), x)
    inv = xs > 2.0
    x2 = jnp.where(inv, one / xs, xs)
    gt15, lt05 = x2 > 1.5, x2 < 0.5
    inv = inv | gt15
    w = jnp.where(gt15, one / x2 - one, jnp.where(lt05, -x2, x2 - one))
    y = -w * _poly(_SPENCE_A, w) / _poly(_SPENCE_B, w)
    y = jnp.where(lt05, _c(x, np.pi**2 / 6.0) - jnp.log(x2) * jnp.log(one - x2) - y, y)
    y = jnp.where(inv, _c(x, -0.5) * jnp.log(x2) ** 2 - y, y)
    y = jnp.where(x == 0.0, lax.full_like(x, np.pi**2 / 6), y)
    y = jnp.where(x == 1.0, lax.full_like(x, 0.0), y)
    return jnp.where(x < 0.0, lax.full_like(x, np.nan), y)


# ---------------------------------------------------------------------------- bernoulli, hyp1f1


def bernoulli(n):
    """The Bernoulli numbers B_0 ... B_n (``n`` a static int)."""
    if core.is_tracer(n):
        from ..numpy._util import static_int

        n = static_int(n, "Argument n of bernoulli")
    n = operator.index(n)
    if n < 0:
        raise ValueError("n must be a non-negative integer.")
    b3 = jnp.array([1, -1 / 2, 1 / 6])
    if n < 3:
        return b3[: n + 1]
    bn = jnp.zeros(n + 1).at[:3].set(b3)
    m = jnp.arange(4, n + 1, 2, dtype=bn.dtype)
    # B_m = (-1)^(m/2+1) 2 m! / (2 pi)^m zeta(m), the product built up term by term
    q1 = 1.0 / np.pi**2 * jnp.cumprod(-(m - 1) * m / 4 / np.pi**2)
    k = jnp.arange(2, 50, dtype=bn.dtype)
    q2 = jnp.sum(k[:, None] ** (-m[None, :]), axis=0)
    return bn.at[4::2].set(q1 * (1 + q2))


def _hyp_loop(a, b, x, update, init_term, init_sum):
    """sum over k of term_k, term_{k+1} = term_k * update(k): stops per element when the
    term is below eps relative to the sum, or after 250 terms."""
    eps = float(np.finfo(dtype_of(x)).eps)

    def step(s):
        total, k, term = s
        total, term = update(total, k, term)
        return total, k + _c(k, 1), term

    def active(s):
        total, k, term = s
        return (k < 250) & (lax.abs(term) / lax.abs(total) > eps)

    init = (init_sum, lax.full_like(x, 1.0), init_term)
    return _masked_loop(step, init, active, 251)[0]


def _hyp1f1_value(a, b, x):
    one = _c(x, 1.0)

    def series_update(total, k, term):
        return total + term, term * ((a + k) / (b + k) * x / (k + one))

    def asym_update(total, k, term):
        return total + term, term * ((b - a + k) * (one - a + k) / (k + one) / x)

    ones = lax.full_like(x, 1.0)
    series = _hyp_loop(a, b, x, series_update, a / b * x, ones)
    safe_x = jnp.where(lax.abs(x) < 100, lax.full_like(x, 100.0), x)
    asym = _hyp_loop(a, b, safe_x, asym_update, (b - a) * (one - a) / safe_x, ones)
    from .special import gamma

    asym = gamma(b) / gamma(a) * lax.exp(safe_x) * safe_x ** (a - b) * asym
    result = jnp.where(lax.abs(x) < 100, series, asym)
    result = jnp.where((b == 0) & (a != 0), lax.full_like(x, np.inf), result)
    result = jnp.where((a == b) & (a != 0), lax.exp(x), result)
    return jnp.where(a == 0, ones, result)


def _hyp1f1_da(a, b, x):
    def update(total, k, term):
        d = lax.digamma(a + k) - lax.digamma(a)
        return total + term * d, term * ((a + k) / (b + k) * x / (k + _c(k, 1)))

    return _hyp_loop(a, b, x, update, a / b * x, lax.full_like(x, 0.0))


def _hyp1f1_db(a, b, x):
    def update(total, k, term):
        d = lax.digamma(b) - lax.digamma(b + k)
        return total + term * d, term * ((a + k) / (b + k) * x / (k + _c(k, 1)))

    return _hyp_loop(a, b, x, update, a / b * x, lax.full_like(x, 0.0))


_hyp1f1_p = _custom.elementwise(
    "hyp1f1",
    _hyp1f1_value,
    lambda g, ans, a, b, x: _hyp1f1_da(a, b, x) * g,
    lambda g, ans, a, b, x: _hyp1f1_db(a, b, x) * g,
    lambda g, ans, a, b, x: a / b * _hyp1f1_p.bind(a + _c(a, 1), b + _c(b, 1), x) * g,
)


def hyp1f1(a, b, x):
    """The confluent hypergeometric function 1F1(a; b; x) (Kummer's M)."""
    a, b, x = _args("hyp1f1", a, b, x)
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError("hyp1f1 does not support complex-valued inputs.")
    return _hyp1f1_p.bind(a, b, x)


# ---------------------------------------------------------------------------- erfcx, dawsn


def _erfcx_impl(x):
    nterms = 9 if dtype_of(x) == np.float64 else 5
    coeffs = (7918.06640625, -1055.7421875, 162.421875, -29.53125, 6.5625, -1.875, 0.75, -0.5,
              1.0)[-nterms:]  # fmt: skip
    threshold = float(np.sqrt(np.log(np.finfo(dtype_of(x)).max)))
    large = x > threshold
    safe_x = lax.select(large, lax.full_like(x, 1.0), x)
    direct = lax.exp(lax.square(safe_x)) * lax.erfc(safe_x)
    asym = _poly(coeffs, _c(x, 1.0) / lax.square(x)) / (x * _c(x, np.sqrt(np.pi)))
    return lax.select(large, asym, direct)


_erfcx_p = _custom.elementwise(
    "erfcx",
    _erfcx_impl,
    lambda g, ans, x: g * (_c(x, 2) * x * ans - _c(x, 2.0 / np.sqrt(np.pi))),
)


def erfcx(x):
    """The scaled complementary error function exp(x**2) erfc(x) (real arguments)."""
    (x,) = _args("erfcx", x)
    if dtypes.is_complex(dtype_of(x)):
        from ._special_complex import wofz

        return wofz(lax.complex(lax.neg(lax.imag(x)), lax.real(x)))  # erfcx(z) = w(i z)
    return _erfcx_p.bind(x)


_DAWSN = (
    ((1.1368149897175597e-11, 8.492622676674738e-10, 1.9443420417555306e-08,
      9.531517412544844e-07, 3.078283098749132e-06, 0.00035251336852028877,
      -0.0008501498467244109, 0.04226182230055466, -0.09174803717734524, 1.0),
     (2.403720730667626e-11, 1.488646813684934e-09, 5.212652810105416e-08,
      1.2725847827318697e-06, 2.324902498207895e-05, 0.00032552474182605793,
      0.003488058146571626, 0.027944853119882897, 0.15887424196012057, 0.5749186294893204,
      1.0)),
    ((0.5089551564179009, -0.24475441814269785, 0.09415123353035344, -0.021871125514203903,
      0.003662076123295692, -0.0004232091144603888, 3.5964130479389666e-05,
      -2.1464035171996896e-06, 9.100107800763914e-08, -2.4027452082825098e-09,
      3.592333854409284e-11),
     (1.0, -0.6318398698733682, 0.2367067882282487, -0.053180636700322324,
      0.008480417185862954, -0.0009479967684866654, 7.810255929445524e-05,
      -4.558751532524426e-06, 1.8910035811142186e-07, -4.913246913319206e-09,
      7.184664032357345e-11)),
    ((-0.5905928605347732, 0.6292352427243688, -0.17285897538038814, 0.016483704782518965,
      -0.0004868276130204627),
     (1.0, -2.698200571975449, 1.7327079904594784, -0.3937085822819395, 0.03442789240412334,
      -0.0009736552260409412)),
)  # fmt: skip


def _dawsn_impl(x):
    ax = lax.abs(x)
    one = _c(x, 1.0)
    r1 = ax < 3.25
    r2 = (ax >= 3.25) & (ax < 6.25)
    r3 = ax >= 6.25
    ones = lax.full_like(x, 1.0)
    t = one / lax.square(ax)
    a1 = lax.select(r1, ax, ones)
    (an, ad), (bn, bd), (cn, cd) = _DAWSN
    v1 = a1 * _poly(an, lax.square(a1)) / _poly(ad, lax.square(a1))
    t2, a2 = lax.select(r2, t, ones), lax.select(r2, ax, ones)
    v2 = _c(x, 0.5) / a2 * (one + t2 * _poly(bn, t2) / _poly(bd, t2))
    t3, a3 = lax.select(r3, t, ones), lax.select(r3, ax, ones)
    v3 = _c(x, 0.5) / a3 * (one + t3 * _poly(cn, t3) / _poly(cd, t3))
    return jnp.sign(x) * lax.select(r1, v1, lax.select(ax < 6.25, v2, v3))


_dawsn_p = _custom.elementwise(
    "dawsn", _dawsn_impl, lambda g, ans, x: g * (_c(x, 1.0) - _c(x, 2.0) * x * ans)
)


def dawsn(x):
    """Dawson's integral exp(-x**2) int_0^x exp(t**2) dt."""
    (x,) = _args("dawsn", x)
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError("dawsn does not support complex-valued inputs.")
    return _dawsn_p.bind(x)
