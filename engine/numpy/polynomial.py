"""NumPy's legacy polynomial functions (coefficients highest degree first) with JAX's
dtype rules: ``polyval``/``polyadd``/``polysub`` promote, the others go inexact."""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits

__all__ = [
    "poly",
    "polyadd",
    "polysub",
    "polymul",
    "polydiv",
    "polyder",
    "polyint",
    "polyval",
    "polyfit",
    "roots",
    "trim_zeros",
    "vander",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _promote(*args, inexact=False):
    from ._util import promote_dtypes, promote_dtypes_inexact

    args = [_jnp().asarray(a) if not isinstance(a, (int, float, complex)) else a for a in args]
    return (promote_dtypes_inexact if inexact else promote_dtypes)(*args)


def _1d(name, a):
    a = _jnp().asarray(a)
    if a.ndim != 1:
        raise ValueError(f"{name} input must be 1-dimensional, got shape {a.shape}")
    return a


def trim_zeros(filt, trim="fb"):
    """``filt`` without its leading (``'f'``) and/or trailing (``'b'``) zeros (needs a
    concrete array)."""
    from ._util import concrete_value

    jnp = _jnp()
    a = _1d("trim_zeros", filt)
    v = np.asarray(concrete_value(a, "Error arose in the `filt` argument of trim_zeros()"))
    nz = np.flatnonzero(v)
    if nz.size == 0:
        return a[:0]
    start = int(nz[0]) if "f" in trim.lower() else 0
    stop = int(nz[-1]) + 1 if "b" in trim.lower() else v.shape[0]
    return jnp.asarray(a)[start:stop]


def _trim_leading(a):
    from ._util import concrete_value

    v = np.asarray(concrete_value(a, "trim_leading_zeros=True needs a concrete array"))
    nz = np.flatnonzero(v)
    return a[int(nz[0]) :] if nz.size else a[:1]


@as_jax_jits("polyval", ("unroll",))
def polyval(p, x, *, unroll=16):
    """Horner's evaluation of the polynomial ``p`` at ``x``: a ``scan`` over the
    coefficients, as JAX's."""
    from .. import lax
    from ._util import _broadcast_shapes, _check_broadcastable, check_arraylike, promote_dtypes

    check_arraylike("polyval", p, x)
    p, x = promote_dtypes(p, x)
    _check_broadcastable("polyval", [np.shape(p)[1:], np.shape(x)])
    shape = _broadcast_shapes(np.shape(p)[1:], np.shape(x))
    y = lax.full_like(x, 0, shape=shape, dtype=x.dtype)
    y, _ = lax.scan(lambda y, c: (y * x + c, None), y, p, unroll=unroll)
    return y


def _pad_front(a, n):
    jnp = _jnp()
    return jnp.concatenate([jnp.zeros((n - a.shape[0],), a.dtype), a]) if a.shape[0] < n else a


@as_jax_jits("polyadd")
def polyadd(a1, a2):
    """The sum of two polynomials: the shorter coefficient array added into the tail of
    the longer along the first axis (any rank, as JAX's)."""
    from ._util import check_arraylike, promote_dtypes

    check_arraylike("polyadd", a1, a2)
    a1, a2 = promote_dtypes(a1, a2)
    a1, a2 = _jnp().asarray(a1), _jnp().asarray(a2)
    if a2.shape[0] <= a1.shape[0]:
        return a1.at[-a2.shape[0] :].add(a2)
    return a2.at[-a1.shape[0] :].add(a1)


@as_jax_jits("polysub")
def polysub(a1, a2):
    """The difference of two polynomials (``polyadd`` of the negated second)."""
    from ._util import check_arraylike, promote_dtypes

    check_arraylike("polysub", a1, a2)
    a1, a2 = promote_dtypes(a1, a2)
    return polyadd(a1, -_jnp().asarray(a2))


def polymul(a1, a2, *, trim_leading_zeros=False):
    jnp = _jnp()
    a1, a2 = _promote(jnp.atleast_1d(a1), jnp.atleast_1d(a2), inexact=True)
    if trim_leading_zeros:
        a1, a2 = _trim_leading(a1), _trim_leading(a2)
    if a1.shape[0] == 0:
        a1 = jnp.zeros((1,), a1.dtype)
    if a2.shape[0] == 0:
        a2 = jnp.zeros((1,), a2.dtype)
    return jnp.convolve(a1, a2, mode="full")


def polydiv(u, v, *, trim_leading_zeros=False):
    """Quotient and remainder of ``u / v`` (long division)."""
    jnp = _jnp()
    u, v = _promote(_1d("polydiv", u), _1d("polydiv", v), inexact=True)
    m, n = u.shape[0] - 1, v.shape[0] - 1
    scale = 1.0 / v[0]
    q = jnp.zeros((max(m - n + 1, 1),), u.dtype)
    for k in range(m - n + 1):
        d = scale * u[k]
        q = q.at[k].set(d)
        u = u.at[k : k + n + 1].add(-d * v)
    if trim_leading_zeros:
        u = _trim_leading(u)
    return q, u


def polyder(p, m=1):
    jnp = _jnp()
    (p,) = _promote(_1d("polyder", p), inexact=True)
    m = int(m)
    if m < 0:
        raise ValueError("Order of derivative must be positive")
    if m == 0:
        return p
    n = p.shape[0]
    k = np.arange(n - 1, m - 1, -1)
    coef = np.ones_like(k, dtype=np.float64)
    for j in range(m):
        coef = coef * (k - j)
    return p[: n - m] * jnp.asarray(coef, p.dtype)


def polyint(p, m=1, k=None):
    jnp = _jnp()
    m = int(m)
    if m < 0:
        raise ValueError(f"Order of integral must be positive (see polyder), got {m}")
    k = 0 if k is None else k
    (p,) = _promote(_1d("polyint", p), inexact=True)
    if m == 0:
        return p
    kv = jnp.asarray(k, p.dtype)
    kv = jnp.broadcast_to(jnp.ravel(kv), (m,)) if kv.size in (0, 1) else kv
    if kv.shape != (m,):
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or m.")
    for j in range(m):
        powers = np.arange(p.shape[0], 0, -1).astype(np.float64)
        p = jnp.concatenate([p / jnp.asarray(powers, p.dtype), kv[j : j + 1]])
    return p


def poly(seq_of_zeros):
    """The monic polynomial with the given roots (or a square matrix's eigenvalues)."""
    jnp = _jnp()
    a = jnp.asarray(seq_of_zeros)
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] != 0:
        a = jnp.linalg.eigvals(a)
    elif a.ndim != 1:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    (a,) = _promote(a, inexact=True)
    if a.shape[0] == 0:
        return jnp.ones((), a.dtype)
    out = jnp.ones((1,), a.dtype)
    for i in range(a.shape[0]):
        out = jnp.convolve(out, jnp.stack([jnp.ones((), a.dtype), -a[i]]), mode="full")
    return out


def roots(p, *, strip_zeros=True):
    """The roots of ``p``: eigenvalues of its companion matrix (complex)."""
    jnp = _jnp()
    (p,) = _promote(jnp.atleast_1d(p), inexact=True)
    if p.ndim != 1:
        raise ValueError("Input must be a rank-1 array.")
    if strip_zeros:
        from ._util import concrete_value

        v = np.asarray(
            concrete_value(p, "The argument to roots() must be concrete when strip_zeros=True")
        )
        nz = np.flatnonzero(v)
        if nz.size == 0:
            return jnp.zeros(
                (0,),
                dtypes.to_complex_dtype(p.dtype)
                if hasattr(dtypes, "to_complex_dtype")
                else np.complex64,
            )
        trailing = v.shape[0] - 1 - int(nz[-1])
        p = p[int(nz[0]) : int(nz[-1]) + 1]
    else:
        trailing = 0
    n = p.shape[0] - 1
    if n < 1:
        r = jnp.zeros((0,), p.dtype) + 0j
    else:
        comp = jnp.diag(jnp.ones((n - 1,), p.dtype), -1) if n > 1 else jnp.zeros((1, 1), p.dtype)
        comp = comp.at[0, :].set(-p[1:] / p[0])
        r = jnp.linalg.eigvals(comp)
    if trailing:
        r = jnp.concatenate([jnp.zeros((trailing,), r.dtype), r])
    return r


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least-squares polynomial fit of degree ``deg`` (``deg`` static)."""
    jnp = _jnp()
    deg = int(deg)
    x, y = _promote(jnp.asarray(x), jnp.asarray(y), inexact=True)
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if x.ndim != 1:
        raise TypeError("expected 1D vector for x")
    if x.size == 0:
        raise TypeError("expected non-empty vector for x")
    if y.ndim < 1 or y.ndim > 2:
        raise TypeError("expected 1D or 2D array for y")
    if x.shape[0] != y.shape[0]:
        raise TypeError("expected x and y to have same length")
    order = deg + 1
    if rcond is None:
        rcond = x.shape[0] * float(dtypes.finfo(x.dtype).eps)
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        (w,) = _promote(jnp.asarray(w), inexact=True)
        if w.ndim != 1:
            raise TypeError("expected a 1-d array for weights")
        if w.shape[0] != y.shape[0]:
            raise TypeError("expected w and y to have the same length")
        lhs = lhs * w[:, None]
        rhs = rhs * w if rhs.ndim == 1 else rhs * w[:, None]
    scale = jnp.sqrt((lhs * lhs).sum(axis=0))
    lhs = lhs / scale[None, :]
    c, resids, rank, s = jnp.linalg.lstsq(lhs, rhs, rcond)
    c = (c.T / scale).T
    if full:
        return c, resids, rank, s, rcond
    if cov:
        Vbase = jnp.linalg.inv(lhs.T @ lhs)
        Vbase = Vbase / jnp.outer(scale, scale)
        if cov == "unscaled":
            fac = 1
        else:
            if x.shape[0] <= order:
                raise ValueError(
                    "the number of data points must exceed order to scale the covariance matrix"
                )
            fac = resids / (x.shape[0] - order)
            fac = fac[0] if fac.ndim > 0 and y.ndim == 1 else fac
        if y.ndim == 1:
            return c, Vbase * fac
        return c, Vbase[:, :, None] * fac
    return c


@as_jax_jits("vander", ("N", "increasing"))
def vander(x, N=None, increasing=False):
    """Columns of powers of ``x`` (decreasing unless ``increasing``); the exponents are
    an iota of ``x``'s dtype, as JAX's."""
    from .. import lax
    from ._util import concrete_value

    jnp = _jnp()
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError("x must be a one-dimensional array")
    N = (
        x.shape[0]
        if N is None
        else operator.index(concrete_value(N, "'N' argument of jnp.vander()"))
    )
    if N < 0:
        raise ValueError("N must be nonnegative")
    iota = lax.iota(x.dtype, N)
    if not increasing:
        iota = lax.sub(np.array(N - 1, x.dtype), iota)
    return jnp.power(x[..., None], lax.expand_dims(iota, (0,)))
