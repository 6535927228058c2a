"""``jnp.linalg`` decompositions and solves, on top of ``lax.linalg`` (JAX's semantics:
det/slogdet through LU, solve with NumPy 2 batching, pinv through the SVD, lstsq with
JAX's rcond)."""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

from .. import core, dtypes, lax
from ..lax import linalg as lax_linalg
from ..lax.linalg_solve_helpers import solve as _lu_solve_custom
from ._util import as_array, check_arraylike, promote_dtypes_inexact


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class EigResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


def _inexact(name, *args):
    check_arraylike(name, *args)
    return [as_array(a) for a in promote_dtypes_inexact(*args)]


def _H(x):
    from .ufuncs import conj

    return conj(_mT(x))


def _mT(x):
    n = x.ndim
    return lax.transpose(x, (*range(n - 2), n - 1, n - 2))


def _mm(a, b):
    from .linalg_ops import matmul

    return matmul(a, b, precision=lax.Precision.HIGHEST)


# ---------------------------------------------------------------------------- decompositions


def cholesky(a, *, upper=False, symmetrize_input=True):
    (a,) = _inexact("jnp.linalg.cholesky", a)
    L = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(L) if upper else L


def svd(a, full_matrices=True, compute_uv=True, hermitian=False, subset_by_index=None):
    (a,) = _inexact("jnp.linalg.svd", a)
    if hermitian:
        from .indexing import take_along_axis

        w, v = lax_linalg.eigh(a, subset_by_index=subset_by_index)
        s = lax.abs(v)
        if not compute_uv:
            return lax.rev(lax.sort(s, dimension=-1), (s.ndim - 1,))
        sign = lax.sign(v)
        idxs = lax.broadcasted_iota(
            np.int32, s.shape, s.ndim - 1, out_sharding=core.get_aval(s).sharding
        )
        s, idxs, sign = lax.sort((s, idxs, sign), dimension=-1, num_keys=1)
        s, idxs, sign = (lax.rev(t, (s.ndim - 1,)) for t in (s, idxs, sign))
        u = take_along_axis(w, idxs[..., None, :], axis=-1)
        vh = _H(u * sign[..., None, :].astype(u.dtype))
        return SVDResult(u, s, vh)
    if compute_uv:
        u, s, vh = lax_linalg.svd(
            a, full_matrices=full_matrices, compute_uv=True, subset_by_index=subset_by_index
        )
        return SVDResult(u, s, vh)
    return lax_linalg.svd(
        a, full_matrices=full_matrices, compute_uv=False, subset_by_index=subset_by_index
    )


def svdvals(x, /):
    return svd(x, compute_uv=False, hermitian=False)


def eig(a):
    (a,) = _inexact("jnp.linalg.eig", a)
    w, v = lax_linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a):
    (a,) = _inexact("jnp.linalg.eigvals", a)
    return lax_linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]


def _uplo_lower(UPLO):
    if UPLO is None or UPLO == "L":
        return True
    if UPLO == "U":
        return False
    raise ValueError(f"UPLO must be one of None, 'L', or 'U', got {UPLO}")


def eigh(a, UPLO=None, symmetrize_input=True):
    check_arraylike("jnp.linalg.eigh", a)
    lower = _uplo_lower(UPLO)
    (a,) = _inexact("jnp.linalg.eigh", a)
    v, w = lax_linalg.eigh(a, lower=lower, symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):
    return eigh(a, UPLO, symmetrize_input=symmetrize_input)[0]


def qr(a, mode="reduced"):
    (a,) = _inexact("jnp.linalg.qr", a)
    if mode == "raw":
        r, taus = lax_linalg.geqrf(a)
        return QRResult(_mT(r), taus)
    if mode in ("reduced", "r", "full"):
        full_matrices = False
    elif mode == "complete":
        full_matrices = True
    else:
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    q, r = lax_linalg.qr(a, pivoting=False, full_matrices=full_matrices)
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------------------- solves and inverses


def solve(a, b):
    """a x = b; b is [..., m] (a vector per matrix, (m,m),(m)->(m)) or [..., m, n];
    batch dimensions broadcast as in NumPy 2."""
    from .shape_ops import broadcast_to

    a, b = _inexact("jnp.linalg.solve", a, b)
    if a.ndim < 2:
        raise ValueError(f"left hand array must be at least two dimensional; got a.shape={a.shape}")
    if a.shape[-1] != a.shape[-2]:
        raise ValueError(
            f"The arguments to solve must have shapes a=[..., m, m] and b=[..., m, k] or "
            f"b=[..., m]; got a={a.shape} and b={b.shape}"
        )
    if b.ndim > 1 and a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"Invalid shapes for solve: {a.shape}, {b.shape}. Prior to JAX v0.5.0, this "
            "would have been treated as a batched 1-dimensional solve. To recover this "
            "behavior, use solve(a, b[..., None]).squeeze(-1)."
        )
    m = a.shape[-1]
    if b.ndim == 1:
        if b.shape[0] != m:
            raise ValueError(
                f"inconsistent size for core dimension 'm': {b.shape[0]} vs {m} on "
                "vectorized function with excluded=frozenset() and "
                "signature='(m,m),(m)->(m)'"
            )
        return _lu_solve_custom(a, broadcast_to(b, a.shape[:-1]))
    if b.shape[-2] != m:
        raise ValueError(
            f"inconsistent size for core dimension 'm': {b.shape[-2]} vs {m} on "
            "vectorized function with excluded=frozenset() and "
            "signature='(m,m),(m,n)->(m,n)'"
        )
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = broadcast_to(a, batch + a.shape[-2:])
    b = broadcast_to(b, batch + b.shape[-2:])
    return _lu_solve_custom(a, b)


def inv(a):
    from .creation import eye

    check_arraylike("jnp.linalg.inv", a)
    a = as_array(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Argument to inv must have shape [..., n, n], got {a.shape}.")
    (a,) = _inexact("jnp.linalg.inv", a)
    return solve(a, lax.broadcast(eye(a.shape[-1], dtype=a.dtype), a.shape[:-2]))


def _slogdet_lu(a):
    from .creation import arange, asarray
    from .reductions import any as any_
    from .reductions import count_nonzero, prod
    from .reductions import sum as sum_
    from .ufuncs import abs as abs_
    from .ufuncs import log, real, where

    dtype = a.dtype
    lu_, pivot, _ = lax_linalg.lu(a)
    diag = _diag(lu_)
    is_zero = any_(diag == asarray(0, dtype), axis=-1)
    iota = lax.expand_dims(arange(a.shape[-1], dtype=pivot.dtype), tuple(range(pivot.ndim - 1)))
    parity = count_nonzero(pivot != iota, axis=-1)
    if dtypes.is_complex(dtype):
        sign = prod(diag / abs_(diag).astype(diag.dtype), axis=-1)
    else:
        sign = asarray(1, dtype)
        parity = parity + count_nonzero(diag < 0, axis=-1)
    sign = where(is_zero, asarray(0, dtype), sign * (-2 * (parity % 2) + 1).astype(dtype))
    logdet = where(is_zero, asarray(-np.inf, dtype), sum_(log(abs_(diag)).astype(dtype), axis=-1))
    return sign, real(logdet)


def _diag(x):
    from .misc import diagonal

    return diagonal(x, 0, -2, -1)


def _slogdet_small(a):
    from .ufuncs import abs as abs_
    from .ufuncs import log, real, sign

    if a.shape[-1] == 1:
        d = a[..., 0, 0]
    else:
        d = a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    return sign(d), real(log(abs_(d)))


def _slogdet_qr(a):
    from .reductions import prod
    from .reductions import sum as sum_
    from .ufuncs import abs as abs_
    from .ufuncs import log, sign, where

    if dtypes.is_complex(a.dtype):
        raise NotImplementedError("slogdet method='qr' not implemented for complex inputs")
    n = a.shape[-1]
    r, taus = lax_linalg.geqrf(a)
    d = _diag(r)
    log_abs = sum_(log(abs_(d)), axis=-1)
    sign_diag = prod(sign(d), axis=-1)
    sign_taus = prod(where(taus[..., : n - 1] != 0, -1, 1), axis=-1).astype(sign_diag.dtype)
    return sign_diag * sign_taus, log_abs


def slogdet(a, *, method=None):
    (a,) = _inexact("jnp.linalg.slogdet", a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"Argument to slogdet() must have shape [..., n, n], got {a.shape}")
    if method is None or method == "lu":
        if a.shape[-1] in (1, 2):
            return SlogdetResult(*_slogdet_small(a))
        return SlogdetResult(*_custom("slogdet_lu")(a))
    if method == "qr":
        return SlogdetResult(*_custom("slogdet_qr")(a))
    raise ValueError(
        f"Unknown slogdet method '{method}'. Supported methods are 'lu' (`None`), and 'qr'."
    )


def det(a):
    """The determinant: closed forms for 2x2 and 3x3 (as JAX), else sign * exp(logdet)
    through LU, with JAX's custom JVP (a cofactor solve, finite at singular a)."""
    (a,) = _inexact("jnp.linalg.det", a)
    if a.ndim >= 2 and a.shape[-2:] == (2, 2):
        return a[..., 0, 0] * a[..., 1, 1] - a[..., 0, 1] * a[..., 1, 0]
    if a.ndim >= 2 and a.shape[-2:] == (3, 3):
        return (
            a[..., 0, 0] * a[..., 1, 1] * a[..., 2, 2]
            + a[..., 0, 1] * a[..., 1, 2] * a[..., 2, 0]
            + a[..., 0, 2] * a[..., 1, 0] * a[..., 2, 1]
            - a[..., 0, 2] * a[..., 1, 1] * a[..., 2, 0]
            - a[..., 0, 0] * a[..., 1, 2] * a[..., 2, 1]
            - a[..., 0, 1] * a[..., 1, 0] * a[..., 2, 2]
        )
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2]:
        return _custom("det")(a)
    raise ValueError(f"Argument to _det() must have shape [..., n, n], got {a.shape}")


def pinv(a, rtol=None, hermitian=False, *, rcond=None):
    """Moore-Penrose pseudo-inverse through the SVD (singular values below
    rtol * largest are dropped), with JAX's custom JVP (valid at rank-deficient a)."""
    if rcond is not None:
        if rtol is not None:
            raise ValueError("pinv: only one of rtol and rcond may be specified.")
        rtol = rcond
    return _pinv_custom()(a, rtol, hermitian)


def _pinv_impl(a, rtol=None, hermitian=False):
    from .creation import asarray, empty
    from .ufuncs import conj, where

    (a,) = _inexact("jnp.linalg.pinv", a)
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return empty(a.shape[:-2] + (n, m), a.dtype)
    arr = conj(a)
    if rtol is None:
        rtol = 10.0 * max(m, n) * asarray(dtypes.finfo(arr.dtype).eps)
    rtol = asarray(rtol)
    u, s, vh = svd(arr, full_matrices=False, hermitian=hermitian)
    rtol = lax.expand_dims(rtol[..., None], tuple(range(s.ndim - rtol.ndim - 1)))
    cutoff = rtol * s[..., 0:1]
    s = where(s > cutoff, s, np.inf).astype(u.dtype)
    res = _mm(_mT(vh), _mT(u) / s[..., None])
    return lax.convert_element_type(res, arr.dtype)


def _pinv_jvp(rtol, hermitian, primals, tangents):
    # the derivative of the pseudo-inverse (Golub and Pereyra 1973, eq. 4.12)
    (a,), (a_dot,) = primals, tangents
    p = _pinv_impl(a, rtol, hermitian)
    a, a_dot = _inexact("jnp.linalg.pinv", a, a_dot)
    if hermitian:
        a, a_dot = (a + _H(a)) / 2, (a_dot + _H(a_dot)) / 2
    m, n = a.shape[-2:]
    if m >= n:
        s = _mm(_mm(p, _H(p)), _H(a_dot))
        t = _mm(_mm(_H(a_dot), _H(p)), p)
        p_dot = -_mm(_mm(p, a_dot), p) + s - _mm(_mm(s, a), p) + t - _mm(_mm(p, a), t)
    else:
        s = _mm(p, _mm(_H(p), _H(a_dot)))
        t = _mm(_H(a_dot), _mm(_H(p), p))
        p_dot = -_mm(p, _mm(a_dot, p)) + s - _mm(s, _mm(a, p)) + t - _mm(p, _mm(a, t))
    return p, p_dot


_PINV = []


def _pinv_custom():
    if not _PINV:
        from ..custom_derivatives import custom_jvp

        f = custom_jvp(_pinv_impl, nondiff_argnums=(1, 2))
        f.defjvp(_pinv_jvp)
        _PINV.append(f)
    return _PINV[0]


def lstsq(a, b, rcond=None, *, numpy_resid=False):
    """Least squares through the SVD: (x, residuals, rank, singular values)."""
    from .creation import asarray, empty, zeros
    from .ufuncs import where

    a, b = _inexact("jnp.linalg.lstsq", a, b)
    if a.shape[0] != b.shape[0]:
        raise ValueError("Leading dimensions of input arrays must match")
    b_ndim = b.ndim
    if b_ndim == 1:
        b = b[:, None]
    if a.ndim != 2:
        raise TypeError(f"{a.ndim}-dimensional array given. Array must be two-dimensional")
    if b.ndim != 2:
        raise TypeError(f"{b.ndim}-dimensional array given. Array must be one or two-dimensional")
    m, n = a.shape
    dtype = a.dtype
    if a.size == 0:
        s = empty(0, dtype=dtype)
        rank = asarray(0, dtype=int)
        x = zeros((n, *b.shape[1:]), dtype=dtype)
    else:
        eps = float(dtypes.finfo(dtype).eps)
        rcond = eps * max(n, m) if rcond is None else where(asarray(rcond) < 0, eps, rcond)
        u, s, vt = svd(a, full_matrices=False)
        mask = (s > 0) & (s >= asarray(rcond, dtype=s.dtype) * s[0])
        rank = mask.sum()
        safe_s = where(mask, s, 1).astype(dtype)
        s_inv = where(mask, 1 / safe_s, 0)[:, None]
        x = _mm(_H(vt), s_inv * _mm(_H(u), b))
    if numpy_resid and (rank < n or m <= n):
        resid = asarray([])
    else:
        from .linalg import norm

        resid = norm(b - _mm(a, x), axis=0) ** 2
    if b_ndim == 1:
        x = x.ravel()
    return x, resid, rank, s


# ---------------------------------------------------------------------------- the rest


def matrix_power(a, n):
    from .creation import eye
    from .shape_ops import broadcast_to

    check_arraylike("jnp.linalg.matrix_power", a)
    arr = as_array(a)
    if arr.ndim < 2:
        raise TypeError(
            f"{arr.ndim}-dimensional array given. Array must be at least two-dimensional"
        )
    if arr.shape[-2] != arr.shape[-1]:
        raise TypeError("Last 2 dimensions of the array must be square")
    try:
        n = operator.index(n)
    except TypeError as err:
        raise TypeError(f"exponent must be an integer, got {n}") from err
    if n == 0:
        return broadcast_to(eye(arr.shape[-2], dtype=arr.dtype), arr.shape)
    if n < 0:
        arr = inv(arr)
        n = abs(n)
    if n == 1:
        return arr
    if n == 2:
        return arr @ arr
    if n == 3:
        return (arr @ arr) @ arr
    z = result = None
    while n > 0:
        z = arr if z is None else (z @ z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else (result @ z)
    return result


def matrix_rank(M, rtol=None, *, hermitian=False, tol=None):
    from .creation import asarray
    from .reductions import sum as sum_
    from .shape_ops import expand_dims

    check_arraylike("jnp.linalg.matrix_rank", M)
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: only one of tol or rtol may be specified.")
        rtol = tol
    (M,) = _inexact("jnp.linalg.matrix_rank", M)
    if M.ndim < 2:
        return (M != 0).any().astype(np.int32)
    S = svd(M, full_matrices=False, compute_uv=False, hermitian=hermitian)
    if rtol is None:
        rtol = S.max(-1) * np.asarray(max(M.shape[-2:]), S.dtype) * dtypes.finfo(S.dtype).eps
    rtol = asarray(rtol)
    rtol = expand_dims(rtol, rtol.ndim)
    return sum_(S > rtol, axis=-1)


def cond(x, p=None):
    from .ufuncs import isnan, where

    check_arraylike("cond", x)
    arr = as_array(x)
    if arr.ndim < 2:
        raise ValueError(
            f"jnp.linalg.cond: input array must be at least 2D; got arr.shape={arr.shape}"
        )
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise ValueError(
            f"jnp.linalg.cond: input array must not be empty; got arr.shape={arr.shape}"
        )
    if p is None or p == 2:
        s = svdvals(x)
        return s[..., 0] / s[..., -1]
    if p == -2:
        s = svdvals(x)
        r = s[..., -1] / s[..., 0]
    else:
        from .linalg import norm

        if arr.shape[-2] != arr.shape[-1]:
            raise ValueError(
                f"jnp.linalg.cond: for p={p}, array must be square; got arr.shape={arr.shape}"
            )
        r = norm(x, ord=p, axis=(-2, -1)) * norm(inv(x), ord=p, axis=(-2, -1))
    return where(isnan(r) & ~isnan(arr).any(axis=(-2, -1)), np.inf, r)


def tensorinv(a, ind=2):
    check_arraylike("tensorinv", a)
    arr = as_array(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"ind must be a positive integer; got ind={ind}")
    contracting, batch = arr.shape[:ind], arr.shape[ind:]
    flat = (math.prod(contracting), math.prod(batch))
    if flat[0] != flat[1]:
        raise ValueError(
            "tensorinv is only possible when the product of the first `ind` dimensions "
            f"equals that of the remaining dimensions. got arr.shape={arr.shape} with ind={ind}."
        )
    return inv(arr.reshape(flat)).reshape(*batch, *contracting)


def tensorsolve(a, b, axes=None):
    from .shape_ops import moveaxis

    check_arraylike("tensorsolve", a, b)
    a_arr, b_arr = as_array(a), as_array(b)
    if axes is not None:
        a_arr = moveaxis(a_arr, axes, len(axes) * (a_arr.ndim - 1,))
    out_shape = a_arr.shape[b_arr.ndim :]
    if a_arr.shape[: b_arr.ndim] != b_arr.shape:
        raise ValueError(
            "After moving axes to end, leading shape of a must match shape of b. got "
            f"a.shape={a_arr.shape}, b.shape={b_arr.shape}"
        )
    if b_arr.size != math.prod(out_shape):
        raise ValueError(
            "Input arrays must have prod(a.shape[:b.ndim]) == prod(a.shape[b.ndim:]); got "
            f"a.shape={a_arr.shape}, b.ndim={b_arr.ndim}."
        )
    a_arr = a_arr.reshape(b_arr.size, math.prod(out_shape))
    return solve(a_arr, b_arr.ravel()).reshape(out_shape)


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices (first/last may be vectors)."""
    from .linalg_ops import einsum

    check_arraylike("jnp.linalg.multi_dot", *arrays)
    arrs = [as_array(a) for a in arrays]
    if len(arrs) < 2:
        raise ValueError(f"multi_dot requires at least two arrays; got len(arrays)={len(arrs)}")
    if not (
        arrs[0].ndim in (1, 2) and arrs[-1].ndim in (1, 2) and all(a.ndim == 2 for a in arrs[1:-1])
    ):
        raise ValueError(
            "multi_dot: input arrays must all be two-dimensional, except for the first and "
            "last array which may be 1 or 2 dimensional. Got array shapes "
            f"{[a.shape for a in arrs]}"
        )
    if any(a.shape[-1] != b.shape[0] for a, b in zip(arrs[:-1], arrs[1:])):
        raise ValueError(
            "multi_dot: last dimension of each array must match first dimension of following "
            f"array. Got array shapes {[a.shape for a in arrs]}"
        )
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(arrs) >= len(letters):
        out = arrs[0]
        for a in arrs[1:]:
            out = _mm(out, a) if precision is None else einsum("...i,i...", out, a)
        return out
    axes = [[i, i + 1] for i in range(len(arrs))]
    if arrs[0].ndim == 1:
        axes[0] = axes[0][1:]
    if arrs[-1].ndim == 1:
        axes[-1] = axes[-1][:1]
    ins = ["".join(letters[i] for i in ax) for ax in axes]
    counts = {}
    for term in ins:
        for c in term:
            counts[c] = counts.get(c, 0) + 1
    out = "".join(c for c in sorted(counts, key=letters.index) if counts[c] == 1)
    return einsum(",".join(ins) + "->" + out, *arrs, optimize="auto", precision=precision)


# ---------------------------------------------------------------------------- custom JVPs


def _det_lu(a):
    from .ufuncs import exp

    sign, logdet = slogdet(a)
    return sign * exp(logdet).astype(sign.dtype)


def _slogdet_jvp(primals, tangents):
    from .creation import zeros_like
    from .misc import trace
    from .ufuncs import real

    (x,), (g,) = primals, tangents
    sign, ans = slogdet(x)
    ans_dot = trace(solve(x, g), axis1=-1, axis2=-2)
    if dtypes.is_complex(x.dtype):
        sign_dot = (ans_dot - real(ans_dot).astype(ans_dot.dtype)) * sign
        ans_dot = real(ans_dot)
    else:
        sign_dot = zeros_like(sign)
    return (sign, ans), (sign_dot, ans_dot)


def _cofactor_solve(a, b):
    """(det(a), adj(a) b) for square a, robust where a is singular (JAX's _cofactor_solve:
    LU with the last pivot replaced so the solve stays finite)."""
    from .creation import arange, ones, zeros_like
    from .indexing import take_along_axis
    from .misc import diagonal
    from .reductions import any as any_
    from .reductions import count_nonzero, cumprod
    from .shape_ops import broadcast_to, concatenate
    from .ufuncs import isinf, isnan, logical_or, where

    a, b = _inexact("jnp.linalg._cofactor_solve", a, b)
    n = a.shape[-1]
    if n == 1:
        return a[..., 0, 0], b
    lu_, pivots, permutation = lax_linalg.lu(a)
    dtype = a.dtype
    batch = tuple(np.broadcast_shapes(lu_.shape[:-2], b.shape[:-2]))
    x = broadcast_to(b, batch + b.shape[-2:])
    lu_ = broadcast_to(lu_, batch + lu_.shape[-2:])
    diag = diagonal(lu_, 0, -2, -1)
    iota = lax.expand_dims(arange(n, dtype=pivots.dtype), tuple(range(pivots.ndim - 1)))
    parity = count_nonzero(pivots != iota, axis=-1)
    sign = (-2 * (parity % 2) + 1).astype(dtype)
    partial_det = cumprod(diag, axis=-1) * sign[..., None]
    lu_ = lu_.at[..., -1, -1].set(1.0 / partial_det[..., -2])
    permutation = broadcast_to(permutation, batch + (n,))
    d = ones(x.shape[:-1], x.dtype)
    d = lax_linalg.triangular_solve(lu_, d, left_side=True, lower=False)
    d = any_(logical_or(isnan(d), isinf(d)), axis=-1)
    d = broadcast_to(d[..., None, None], x.shape)
    x = where(d, zeros_like(x), x)
    x = take_along_axis(x, broadcast_to(permutation[..., None], x.shape[:-1] + (1,)), axis=-2)
    x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
    x = concatenate((x[..., :-1, :] * partial_det[..., -1, None, None], x[..., -1:, :]), axis=-2)
    x = lax_linalg.triangular_solve(lu_, x, left_side=True, lower=False)
    x = where(d, zeros_like(x), x)
    return partial_det[..., -1], x


def _det_jvp(primals, tangents):
    from .misc import trace

    (x,), (g,) = primals, tangents
    y, z = _cofactor_solve(x, g)
    return y, trace(z, axis1=-1, axis2=-2)


_CUSTOM = {}


def _custom(name):
    """JAX's custom-JVP functions, made on first use (custom_derivatives imports jit)."""
    if name not in _CUSTOM:
        from ..custom_derivatives import custom_jvp

        impl, rule = {
            "det": (_det_lu, _det_jvp),
            "slogdet_lu": (_slogdet_lu, _slogdet_jvp),
            "slogdet_qr": (_slogdet_qr, _slogdet_jvp),
        }[name]
        f = custom_jvp(impl)
        f.defjvp(rule)
        _CUSTOM[name] = f
    return _CUSTOM[name]
