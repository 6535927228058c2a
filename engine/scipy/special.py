"""``engine.scipy.special``: JAX's ``jax.scipy.special`` (real arguments).

Gamma and beta family, error functions, logistic, entropies, Bessel i0/i1, zeta and
polygamma, normal distribution functions, exponential integrals, spence, bernoulli, poch,
hyp1f1, logsumexp, softmax. Functions whose derivative JAX writes by hand (xlogy, xlog1py,
entr's x log x, logit, zeta, log_ndtr, poch, expi, expn, erfcx, hyp1f1) have that
derivative here as well, through the primitives of ``_custom``. Series-based functions
live in ``_special_series``."""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from .. import numpy as jnp
from ..numpy._util import as_array, dtype_of, promote_args_inexact, weak_scalar
from . import _custom, _special_complex
from ._special_extra import bessel_jn, fresnel, hyp2f1, owens_t, sici  # noqa: F401
from ._special_series import (  # noqa: F401
    bernoulli,
    dawsn,
    erfcx,
    exp1,
    expi,
    expn,
    hyp1f1,
    log_ndtr,
    ndtr,
    ndtri,
    spence,
    zeta,
)

__all__ = [
    "bernoulli",
    "bessel_jn",
    "beta",
    "betainc",
    "betaln",
    "boxcox",
    "boxcox1p",
    "comb",
    "dawsn",
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp1",
    "expi",
    "expit",
    "expn",
    "factorial",
    "fresnel",
    "gamma",
    "gammainc",
    "gammaincc",
    "gammaln",
    "gammasgn",
    "hyp1f1",
    "hyp2f1",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "kl_div",
    "log_ndtr",
    "log_softmax",
    "loggamma",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "owens_t",
    "poch",
    "polygamma",
    "rel_entr",
    "sici",
    "softmax",
    "spence",
    "sph_harm_y",
    "xlog1py",
    "wofz",
    "xlogy",
    "zeta",
]


def _args(name, *xs):
    return tuple(as_array(x) for x in promote_args_inexact(name, *xs))


def _c(x, v):
    return weak_scalar(v, dtype_of(x))


def _real_only(name, x):
    if dtypes.is_complex(dtype_of(x)):
        raise ValueError(f"{name} does not support complex-valued inputs.")


# ---------------------------------------------------------------------------- gamma family


def gammaln(x):
    """log |Gamma(x)|."""
    (x,) = _args("gammaln", x)
    return lax.lgamma(x)


def gammasgn(x):
    """The sign of Gamma(x): NaN at the poles (non-positive integers) and at -inf."""
    (x,) = _args("gammasgn", x)
    _real_only("gammasgn", x)
    floor_x = lax.floor(x)
    negative = x < 0
    is_nan = negative & (x == floor_x) | jnp.isnan(x)
    is_neg = negative & (jnp.fmod(floor_x, 2) != 0) | (x == 0) & jnp.signbit(x)
    one = lax.full_like(x, 1)
    return jnp.where(is_nan, lax.full_like(x, np.nan), jnp.where(is_neg, -one, one))


def loggamma(x):
    """log Gamma(x) on its principal branch; for real x, NaN where x <= 0."""
    (x,) = _args("loggamma", x)
    if dtypes.is_complex(dtype_of(x)):
        return _special_complex.complex_loggamma(x)
    return jnp.where(x > 0, lax.lgamma(x), lax.full_like(x, np.nan))


def gamma(x):
    """Gamma(x) = sign * exp(log |Gamma(x)|) (real arguments)."""
    (x,) = _args("gamma", x)
    if dtypes.is_complex(dtype_of(x)):
        return _special_complex.complex_gamma(x)
    return gammasgn(x) * lax.exp(lax.lgamma(x))


def digamma(x):
    (x,) = _args("digamma", x)
    return lax.digamma(x)


def polygamma(n, x):
    """The n-th derivative of digamma; ``n`` must have an integer dtype."""
    n_dtype = dtypes.python_scalar_dtype(n) if dtypes.is_python_scalar(n) else dtype_of(n)
    if not dtypes.is_int(n_dtype):
        raise ValueError(
            f"Argument `n` to polygamma must be of integer type. Got dtype {dtype_of(n)}."
        )
    n, x = _args("polygamma", n, x)
    _real_only("polygamma", x)
    return lax.polygamma(n, x)


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension ``d`` (a static int)."""
    from ..numpy._util import static_int

    d = static_int(d, "d argument of multigammaln")
    a, d_ = _args("multigammaln", a, d)
    const = _c(a, 0.25) * d_ * (d_ - _c(a, 1)) * _c(a, np.log(np.pi))
    b = jnp.arange(d, dtype=dtype_of(d_)) / _c(a, 2)
    nd = len(a.shape)
    terms = gammaln(jnp.expand_dims(a, -1) - jnp.expand_dims(b, tuple(range(nd))))
    return jnp.sum(terms, axis=-1) + const


def factorial(n, exact=False):
    """n! = Gamma(n + 1) (0 for negative n); ``exact=True`` is not supported."""
    if exact:
        raise NotImplementedError("factorial with exact=True")
    (n,) = _args("factorial", n)
    return jnp.where(n < 0, lax.full_like(n, 0), lax.exp(lax.lgamma(n + _c(n, 1))))


def comb(N, k, *, repetition=False):
    """The number of combinations of N things taken k at a time (through gammaln)."""
    N, k = _args("comb", N, k)
    if repetition:
        result = comb(N + k - _c(N, 1), k)
        return jnp.where((k == 0) & (N >= 0), lax.full_like(result, 1), result)
    ok = (k <= N) & (N >= 0) & (k >= 0)
    zero = lax.full_like(N, 0)
    safe_n, safe_k = jnp.where(ok, N, zero), jnp.where(ok, k, zero)
    one = _c(N, 1)
    result = lax.exp(gammaln(safe_n + one) - gammaln(safe_k + one) - gammaln(safe_n + one - safe_k))
    return jnp.where(ok, result, zero)


def _algdiv(a, b):
    """log Gamma(b) - log Gamma(a + b) for large b (DiDonato & Morris' ALGDIV)."""
    h = a / b
    c = h / (_c(h, 1) + h)
    x2 = c * c
    d = b + (a - _c(a, 0.5))
    s = [None, _c(c, 1)]
    for _ in range(5):  # s3, s5, ..., s11
        s.append(_c(c, 1) + (c + x2 * s[-1]))
    s3, s5, s7, s9, s11 = s[2:]
    t = (_c(b, 1) / b) ** 2
    coeffs = (
        0.833333333333333e-01,
        -0.277777777760991e-02,
        0.793650666825390e-03,
        -0.595202931351870e-03,
        0.837308034031215e-03,
        -0.165322962780713e-02,
    )
    w = _c(t, coeffs[5]) * s11 * t + _c(t, coeffs[4]) * s9
    w = (w * t + _c(t, coeffs[3]) * s7) * t + _c(t, coeffs[2]) * s5
    w = (w * t + _c(t, coeffs[1]) * s3) * t + _c(t, coeffs[0])
    w = w * (c / b)
    u = d * lax.log1p(a / b)
    v = a * (lax.log(b) - _c(b, 1))
    return jnp.where(u <= v, w - v - u, w - u - v)


def betaln(a, b):
    """log |B(a, b)|; for b >= 8 with DiDonato & Morris' correction, as JAX."""
    a, b = _args("betaln", a, b)
    a, b = jnp.minimum(a, b), jnp.maximum(a, b)
    small_b = lax.lgamma(a) + (lax.lgamma(b) - lax.lgamma(a + b))
    large_b = lax.lgamma(a) + _algdiv(a, b)
    return jnp.where(b < 8, small_b, large_b)


def beta(a, b):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b)."""
    a, b = _args("beta", a, b)
    _real_only("beta", a)
    sign = gammasgn(a) * gammasgn(b) * gammasgn(a + b)
    return sign * lax.exp(betaln(a, b))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    a, b, x = _args("betainc", a, b, x)
    _real_only("betainc", x)
    return lax.betainc(a, b, x)


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    a, x = _args("gammainc", a, x)
    return lax.igamma(a, x)


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    a, x = _args("gammaincc", a, x)
    return lax.igammac(a, x)


def poch(z, m):
    """The Pochhammer symbol (z)_m = Gamma(z + m) / Gamma(z) (1 where m == 0)."""
    z, m = _args("poch", z, m)
    _real_only("poch", z)
    return _poch_p.bind(z, m)


def _poch_impl(z, m):
    return jnp.where(m == 0, lax.full_like(z, 1), gamma(z + m) / gamma(z))


_poch_p = _custom.elementwise(
    "poch",
    _poch_impl,
    lambda g, ans, z, m: (lax.digamma(z + m) - lax.digamma(z)) * poch(z, m) * g,
    lambda g, ans, z, m: lax.digamma(z + m) * poch(z, m) * g,
)


# ---------------------------------------------------------------------------- error functions


def erf(x):
    (x,) = _args("erf", x)
    return lax.erf(x)


def erfc(x):
    (x,) = _args("erfc", x)
    return lax.erfc(x)


def erfinv(x):
    (x,) = _args("erfinv", x)
    return lax.erf_inv(x)


# ---------------------------------------------------------------------------- logistic, logs


def _logit_impl(x):
    return lax.log(lax.div(x, lax.sub(_c(x, 1), x)))


_logit_p = _custom.elementwise(
    "logit", _logit_impl, lambda g, ans, x: lax.div(g, lax.mul(x, lax.sub(_c(x, 1), x)))
)


def logit(x):
    """log(x / (1 - x)), the inverse of expit."""
    (x,) = _args("logit", x)
    return _logit_p.bind(x)


def expit(x):
    """1 / (1 + exp(-x))."""
    (x,) = _args("expit", x)
    return lax.logistic(x)


def _xlogy_impl(x, y):
    keep = (x != 0) | jnp.isnan(y)
    return jnp.where(keep, lax.mul(x, lax.log(y)), lax.full_like(x, 0))


def _xlog1py_impl(x, y):
    keep = (x != 0) | jnp.isnan(y)
    return jnp.where(keep, lax.mul(x, lax.log1p(y)), lax.full_like(x, 0))


_xlogy_p = _custom.elementwise(
    "xlogy",
    _xlogy_impl,
    lambda g, ans, x, y: g * lax.log(y),
    lambda g, ans, x, y: g * x / y,
)
_xlog1py_p = _custom.elementwise(
    "xlog1py",
    _xlog1py_impl,
    lambda g, ans, x, y: g * lax.log1p(y),
    lambda g, ans, x, y: g * x / (_c(y, 1) + y),
)
_xlogx_p = _custom.elementwise(
    "xlogx",
    lambda x: _xlogy_impl(x, x),
    lambda g, ans, x: g * (lax.log(x) + _c(x, 1)),
)


def xlogy(x, y):
    """x * log(y), taken as 0 where x == 0 (unless y is NaN)."""
    x, y = _args("xlogy", x, y)
    return _xlogy_p.bind(x, y)


def xlog1py(x, y):
    """x * log1p(y), taken as 0 where x == 0 (unless y is NaN)."""
    x, y = _args("xlog1py", x, y)
    return _xlog1py_p.bind(x, y)


def entr(x):
    """-x log x for x >= 0 (0 at 0), -inf for x < 0."""
    (x,) = _args("entr", x)
    _real_only("entr", x)
    return lax.select(lax.lt(x, _c(x, 0)), lax.full_like(x, -np.inf), lax.neg(_xlogx_p.bind(x)))


def rel_entr(p, q):
    """p log(p / q) for p, q > 0; 0 where p == 0 and q >= 0; inf otherwise."""
    p, q = _args("rel_entr", p, q)
    _real_only("rel_entr", p)
    zero = _c(p, 0)
    both_positive = (p > zero) & (q > zero)
    p_zero = (p == zero) & (q >= zero)
    one = lax.full_like(p, 1)
    safe_p, safe_q = jnp.where(both_positive, p, one), jnp.where(both_positive, q, one)
    val = _xlogx_p.bind(safe_p) - _xlogy_p.bind(safe_p, safe_q)
    other = jnp.where(p_zero, lax.full_like(p, 0), lax.full_like(p, np.inf))
    return jnp.where(both_positive, val, other)


def kl_div(p, q):
    """rel_entr(p, q) - p + q."""
    p, q = _args("kl_div", p, q)
    _real_only("kl_div", p)
    return rel_entr(p, q) - p + q


def boxcox(x, lmbda):
    """(x**lmbda - 1) / lmbda, and log(x) where lmbda == 0."""
    x, lmbda = _args("boxcox", x, lmbda)
    return _boxcox(jnp.log(x), lmbda)


def boxcox1p(x, lmbda):
    """boxcox(1 + x, lmbda), accurate for small x."""
    x, lmbda = _args("boxcox1p", x, lmbda)
    return _boxcox(jnp.log1p(x), lmbda)


def _boxcox(log_x, lmbda):
    is_zero = lmbda == 0
    safe = jnp.where(is_zero, jnp.ones_like(lmbda), lmbda)
    return jnp.where(is_zero, log_x, jnp.expm1(safe * log_x) / safe)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """log(sum(b * exp(a))) along ``axis``, shifted by the (stop-gradient) maximum; with
    ``return_sign`` also the sign of the sum; NaN for a negative sum otherwise."""
    if where is not None:
        a = jnp.where(where, a, 0)
    if b is not None:
        a, b = _args("logsumexp", a, b)
        a = jnp.where(b != 0, a, lax.full_like(a, -np.inf))
    else:
        (a,) = _args("logsumexp", a)
    from ..numpy._util import reduction_axes

    nd = len(a.shape)
    axes = reduction_axes(axis, nd)
    real_a = lax.real(a) if dtypes.is_complex(dtype_of(a)) else a
    amax = jnp.max(real_a, axis=axes, keepdims=keepdims, where=where, initial=-np.inf)
    amax = lax.stop_gradient(lax.select(jnp.isfinite(amax), amax, lax.full_like(amax, 0)))
    amax_kept = amax if keepdims else lax.expand_dims(amax, axes)
    exp_a = lax.exp(lax.sub(a, amax_kept.astype(dtype_of(a))))
    if b is not None:
        exp_a = lax.mul(exp_a, b)
    sumexp = jnp.sum(exp_a, axis=axes, keepdims=keepdims, where=where)
    sign = lax.sign(sumexp)
    if return_sign or not dtypes.is_complex(dtype_of(a)):
        sumexp = abs(sumexp)
    out = lax.add(lax.log(sumexp), amax.astype(dtype_of(sumexp)))
    if return_sign:
        return out, sign
    if b is not None and not dtypes.is_complex(dtype_of(out)):
        out = jnp.where(sign < 0, lax.full_like(out, np.nan), out)
    return out


def softmax(x, /, *, axis=None):
    from .. import nn

    return nn.softmax(x, axis=axis)


def log_softmax(x, /, *, axis=None):
    from .. import nn

    return nn.log_softmax(x, axis=axis)


sph_harm_y = _special_complex.sph_harm_y


def wofz(z):
    """The Faddeeva function w(z) = exp(-z**2) erfc(-i z) (complex result)."""
    from ..numpy._util import promote_args_complex

    (z,) = (as_array(v) for v in promote_args_complex("wofz", z))
    return _special_complex.wofz(z)


# ---------------------------------------------------------------------------- Bessel


def i0e(x):
    """exp(-|x|) I0(x)."""
    (x,) = _args("i0e", x)
    return lax.bessel_i0e(x)


def i0(x):
    """The modified Bessel function of the first kind, order 0."""
    (x,) = _args("i0", x)
    return lax.mul(lax.exp(lax.abs(x)), lax.bessel_i0e(x))


def i1e(x):
    """exp(-|x|) I1(x)."""
    (x,) = _args("i1e", x)
    return lax.bessel_i1e(x)


def i1(x):
    """The modified Bessel function of the first kind, order 1."""
    (x,) = _args("i1", x)
    return lax.mul(lax.exp(lax.abs(x)), lax.bessel_i1e(x))
