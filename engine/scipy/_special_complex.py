"""The complex-argument functions of ``engine.scipy.special``: gamma and loggamma
(Lanczos, g = 7, with the reflection formula; loggamma on SciPy's principal branch via an
upward recurrence), and the Faddeeva function wofz (Weideman's rational approximation),
which also gives erfcx of complex arguments."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as jnp
from ..numpy._util import dtype_of, weak_scalar
from . import _custom

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)  # fmt: skip


def _lanczos_loggamma(z):
    reflect = jnp.real(z) < 0.5
    zl = jnp.where(reflect, 1.0 - z, z)
    zz = zl - 1.0
    nd = zz.ndim
    coeffs = jnp.asarray(_LANCZOS, dtype=z.dtype)
    ks = lax.expand_dims(jnp.arange(1, 9, dtype=z.dtype), tuple(range(nd)))
    series = coeffs[0] + jnp.sum(
        lax.expand_dims(coeffs[1:], tuple(range(nd))) / (lax.expand_dims(zz, (nd,)) + ks),
        axis=-1,
    )
    t = zz + _LANCZOS_G + 0.5
    half_log_2pi = jnp.asarray(0.5 * np.log(2.0 * np.pi), dtype=z.dtype)
    direct = half_log_2pi + (zz + 0.5) * jnp.log(t) - t + jnp.log(series)
    z_safe = jnp.where(reflect, z, jnp.full_like(z, 0.5))
    log_pi = jnp.log(jnp.asarray(np.pi, dtype=z.dtype))
    reflected = log_pi - jnp.log(jnp.sin(np.pi * z_safe)) - direct
    return jnp.where(reflect, reflected, direct)


def _poles_or_nan(z):
    is_pole = (jnp.imag(z) == 0) & (jnp.real(z) == jnp.floor(jnp.real(z))) & (jnp.real(z) <= 0)
    return is_pole | jnp.isnan(z)


def complex_gamma(z):
    bad = _poles_or_nan(z)
    z_safe = jnp.where(bad, jnp.ones_like(z), z)
    nan = jnp.full_like(z, complex(np.nan, np.nan))
    return jnp.where(bad, nan, jnp.exp(_lanczos_loggamma(z_safe)))


def complex_loggamma(z):
    """log Gamma(z) on SciPy's branch: shift Re z above 1/2 by the recurrence
    log Gamma(z) = log Gamma(z + n) - sum_k log(z + k)."""
    bad = _poles_or_nan(z)
    z_safe = jnp.where(bad, jnp.ones_like(z), z)
    n = jnp.maximum(0, jnp.ceil(0.5 - jnp.real(z_safe)).astype(int))

    def body(state):
        k, acc = state
        mask = k < n
        zk = jnp.where(mask, z_safe + k, jnp.ones_like(z_safe))
        return k + 1, acc + jnp.where(mask, jnp.log(zk), jnp.zeros_like(acc))

    _, acc = lax.while_loop(
        lambda s: jnp.any(s[0] < n), body, (jnp.array(0, n.dtype), jnp.zeros_like(z_safe))
    )
    out = _lanczos_loggamma(z_safe + n) - acc
    return jnp.where(bad, jnp.full_like(z, complex(np.nan, np.nan)), out)


# ---------------------------------------------------------------------------- wofz

_WOFZ_L = 4.756828460010884
_WOFZ_C = (-1.3034426067909105e-12, 3.741183837373847e-12, 8.030427700497756e-12,
           -2.154359355749088e-11, -5.544244996323793e-11, 1.165824698850374e-10,
           4.1537441121999766e-10, -5.231020211492061e-10, -3.2080151339721323e-09,
           8.124886421653591e-10, 2.3797556530014025e-08, 2.2930438438915445e-08,
           -1.4813078929137642e-07, -4.1840763750512053e-07, 4.2558331397138446e-07,
           4.401531731283225e-06, 6.821031944357515e-06, -2.1409619201999998e-05,
           -0.0001307544925457942, -0.00024532980270038237, 0.00039259136070109705,
           0.004519541105349309, 0.0190061557848455, 0.05730440352983728, 0.14060716226893755,
           0.2954445107150874, 0.5460139720639338, 0.9019254893648001, 1.345544169234545,
           1.8256696296324815, 2.2635372999002676, 2.5722534081245696)  # fmt: skip


def _real_c(z, v):
    return weak_scalar(v, np.finfo(dtype_of(z)).dtype)


def _wofz_upper(z):
    re = lax.real(z)
    big_l = lax.complex(lax.full_like(re, _WOFZ_L), lax.full_like(re, 0.0))
    iz = lax.complex(lax.neg(lax.imag(z)), re)
    denom = big_l - iz
    zz = (big_l + iz) / denom
    p = jnp.polyval(jnp.asarray(_WOFZ_C, dtype=zz.dtype), zz)
    inv_sqrt_pi = lax.complex(lax.full_like(re, 1.0 / np.sqrt(np.pi)), lax.full_like(re, 0.0))
    return 2 * p / (denom * denom) + inv_sqrt_pi / denom


def _wofz_impl(z):
    upper = lax.ge(lax.imag(z), lax.full_like(lax.real(z), 0.0))
    zu = lax.select(upper, z, lax.neg(z))
    wu = _wofz_upper(zu)
    # w(-z) = 2 exp(-z^2) - w(z) reflects the lower half plane
    return lax.select(upper, wu, 2 * lax.exp(lax.neg(z * z)) - wu)


def _wofz_jvp(g, ans, z):
    re = lax.real(z)
    two_i_over_sqrt_pi = lax.complex(
        lax.full_like(re, 0.0), lax.full_like(re, 2.0 / np.sqrt(np.pi))
    )
    return g * (lax.neg(2 * z * ans) + two_i_over_sqrt_pi)


_wofz_p = _custom.elementwise("wofz", _wofz_impl, _wofz_jvp, kinds=("complex",))


def wofz(z):
    return _wofz_p.bind(z)


# ---------------------------------------------------------------------------- sph_harm_y


def _recurrence_masks(l_max, dtype):
    """The normalized three-term recurrence coefficients, laid out so that step i of
    the recurrence updates entry (m, l) with l = m + i (constants, built with NumPy in
    the working dtype)."""
    dt = np.dtype(dtype)
    m, l_ = np.meshgrid(
        np.arange(l_max + 1, dtype=dt), np.arange(l_max + 1, dtype=dt), indexing="ij"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        c0, c1, c2, c3 = l_ * l_, m * m, dt.type(2.0) * l_, (l_ - 1) * (l_ - 1)
        d0 = np.sqrt((dt.type(4.0) * c0 - 1) / (c0 - c1))
        d1 = np.sqrt((c2 + 1) * (c3 - c1) / ((c2 - 3) * (c0 - c1)))
    d0 = np.where(np.triu(np.ones_like(d0, bool), 1), d0, 0).astype(dt)
    d1 = np.where(np.triu(np.ones_like(d1, bool), 2), d1, 0).astype(dt)
    i, j, k = np.ogrid[: l_max + 1, : l_max + 1, : l_max + 1]
    diag = (i + j - k == 0).astype(dt)
    return d0[None] * diag, d1[None] * diag


def _associated_legendre(l_max, x):
    """Normalized associated Legendre functions P[m, l, :] at x, l, m <= l_max."""
    dt = x.dtype
    n = x.shape[0]
    p = jnp.zeros((l_max + 1, l_max + 1, n), dtype=dt)
    a_idx = jnp.arange(1, l_max + 1, dtype=dt)
    b_idx = jnp.arange(l_max, dtype=dt)
    start = 0.5 / jnp.sqrt(np.pi)
    f_a = jnp.cumprod(-1 * jnp.sqrt(1.0 + 0.5 / a_idx))
    f_b = jnp.sqrt(2.0 * b_idx + 3.0)
    p = p.at[0, 0].set(start)
    y = jnp.cumprod(jnp.broadcast_to(jnp.sqrt(1.0 - x * x), (l_max, n)), axis=0)
    diag = start * (f_a[:, None] * y)
    idx = np.arange(l_max + 1)
    p = p.at[idx[1:], idx[1:]].set(diag)
    off = (f_b[:, None] * x[None, :]) * p[idx[:l_max], idx[:l_max]]
    p = p.at[idx[:l_max], idx[:l_max] + 1].set(off)
    d0, d1 = _recurrence_masks(l_max, dt)
    for i in range(2, l_max + 1):
        h = d0[i][:, :, None] * (jnp.roll(p, 1, axis=1) * x[None, None, :])
        p = p + (h - d1[i][:, :, None] * jnp.roll(p, 2, axis=1))
    return p


def sph_harm_y(n, m, theta, phi, diff_n=None, n_max=None):
    """Spherical harmonics Y_n^m at polar angle ``theta`` and azimuth ``phi`` (complex);
    ``n_max`` (the largest degree) must be static under jit."""
    from ..numpy._util import static_int

    if diff_n is not None:
        raise NotImplementedError(
            "The 'diff_n' argument to jax.scipy.special.sph_harm_y is not supported."
        )
    if jnp.isscalar(theta):
        theta = jnp.array([theta])
    if n_max is None:
        n_max = np.max(np.asarray(n))
    n_max = static_int(
        n_max,
        "The `n_max` argument of `jnp.scipy.special.sph_harm` must be statically specified "
        "to use `sph_harm` within JAX transformations.",
    )
    n, m = jnp.asarray(n), jnp.asarray(m)
    theta, phi = jnp.asarray(theta), jnp.asarray(phi)
    legendre = _associated_legendre(n_max, jnp.cos(theta))
    mi = jnp.clip(jnp.abs(m), 0, n_max)
    ni = jnp.clip(n, 0, n_max)
    cols = jnp.clip(jnp.arange(n.shape[0] if n.ndim else 1), 0, legendre.shape[2] - 1)
    val = legendre[mi, ni, cols]
    angle = jnp.abs(m) * phi
    harm = lax.complex(val * jnp.cos(angle), val * jnp.sin(angle))
    return jnp.where(m < 0, (-1.0) ** jnp.abs(m) * jnp.conjugate(harm), harm)
