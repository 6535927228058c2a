"""``lax.linalg`` decompositions beyond cholesky/lu: geqrf, householder_product, qr,
eigh, svd, eig, schur, hessenberg and tridiagonal_solve, each with its rules."""

from __future__ import annotations

import enum

import numpy as np

from .. import dtypes
from ..interpreters.jvp import Zero, tangent_aval
from . import linalg_ffi as ffi
from .linalg_base import (
    FLOAT_COMPLEX,
    H,
    T,
    aval,
    diag_matrix,
    diag_part,
    eye,
    linalg_primitive,
    mm,
    same_dtype,
    symmetrize,
    to_dtype,
    tril,
    triu,
)

__all__ = [
    "geqrf",
    "geqp3",
    "householder_product",
    "qr",
    "eigh",
    "svd",
    "SvdAlgorithm",
    "EighImplementation",
    "geqrf_p",
    "geqp3_p",
    "householder_product_p",
    "qr_p",
    "eigh_p",
    "svd_p",
]


class SvdAlgorithm(enum.Enum):
    DEFAULT = "default"
    QR = "QR"
    JACOBI = "Jacobi"
    POLAR = "polar"
    DIVIDE_AND_CONQUER = "divide_and_conquer"


class EighImplementation(enum.Enum):
    QR = "qr"
    JACOBI = "jacobi"
    QDWH = "qdwh"


def _real_dtype(dtype):
    return dtypes.real_dtype(dtype) if dtypes.is_complex(dtype) else np.dtype(dtype)


def _complex_dtype(dtype):
    return np.dtype(np.complex128) if _real_dtype(dtype) == np.float64 else np.dtype(np.complex64)


def _gpu_or_cpu_target(ctx, cpu_base, gpu_name, what):
    dtype = ctx.avals_in[0].dtype
    if ctx.platform == "cpu":
        return ffi.lapack_target(cpu_base, dtype)
    if ffi.gpu_platform(ctx.platform) and gpu_name is not None:
        return ffi.require_target(gpu_name, ctx.platform, what)
    raise NotImplementedError(f"{what} is not implemented on {ctx.platform}")


# ---------------------------------------------------------------------------- geqrf / householder


def geqrf(a):
    """Householder QR in LAPACK's packed form: (r and reflectors, taus)."""
    return tuple(geqrf_p.bind(a))


geqrf_p = linalg_primitive(
    "geqrf",
    [FLOAT_COMPLEX],
    (2,),
    lambda s: (s, (min(s),)),
    lambda d: (d, d),
    multiple_results=True,
)


@geqrf_p.def_lowering
def _geqrf_lowering(ctx, a):
    target = _gpu_or_cpu_target(ctx, "geqrf_ffi", "cusolver_geqrf_ffi", "geqrf")
    return ffi.ffi_call(target, [a], ctx.avals_in, ctx.avals_out, aliases={0: 0})


def geqp3(a, jpvt, *, use_magma=None):
    """Column-pivoted Householder QR (CPU): (packed r, jpvt (1-based), taus)."""
    return tuple(geqp3_p.bind(a, jpvt, use_magma=use_magma))


geqp3_p = linalg_primitive(
    "geqp3",
    [FLOAT_COMPLEX, ("sint",)],
    (2, 1),
    lambda s, j, **_: (s, j, (min(s),)),
    lambda d, jd, **_: (d, np.int32, d),
    multiple_results=True,
)


@geqp3_p.def_lowering
def _geqp3_lowering(ctx, a, jpvt, *, use_magma):
    target = _gpu_or_cpu_target(ctx, "geqp3_ffi", None, "qr(pivoting=True)")
    return ffi.ffi_call(target, [a, jpvt], ctx.avals_in, ctx.avals_out, aliases={0: 0, 1: 1})


def householder_product(a, taus):
    """The unitary matrix that geqrf's reflectors (columns of ``a``, ``taus``) form."""
    return householder_product_p.bind(a, taus)


def _householder_shape(a_shape, taus_shape):
    m, n = a_shape
    if m < n:
        raise ValueError(
            "The first argument to householder_product must have at least as many rows "
            f"as columns, got shape {a_shape}"
        )
    if taus_shape[0] > min(m, n):
        raise ValueError(
            "The second argument to householder_product must not have more rows than "
            "the minimum of the first argument's rows and columns."
        )
    return a_shape


householder_product_p = linalg_primitive(
    "householder_product",
    [FLOAT_COMPLEX, FLOAT_COMPLEX],
    (2, 1),
    _householder_shape,
    same_dtype,
)


@householder_product_p.def_lowering
def _householder_lowering(ctx, a, taus):
    base = "ungqr_ffi" if dtypes.is_complex(ctx.avals_in[0].dtype) else "orgqr_ffi"
    target = _gpu_or_cpu_target(ctx, base, "cusolver_orgqr_ffi", "householder_product")
    return ffi.ffi_call(target, [a, taus], ctx.avals_in, ctx.avals_out, aliases={0: 0})[0]


# ---------------------------------------------------------------------------- qr


def qr(x, *, pivoting: bool = False, full_matrices: bool = True, use_magma=None):
    """x = q r with unitary q and upper-triangular r (and column permutation p)."""
    outs = qr_p.bind(
        x, pivoting=bool(pivoting), full_matrices=bool(full_matrices), use_magma=use_magma
    )
    return tuple(outs)


def _qr_shape(shape, *, pivoting, full_matrices, **_):
    m, n = shape
    k = m if full_matrices else min(m, n)
    return ((m, k), (k, n), (n,)) if pivoting else ((m, k), (k, n))


def _qr_dtype(dtype, *, pivoting, **_):
    return (dtype, dtype, np.int32) if pivoting else (dtype, dtype)


qr_p = linalg_primitive("qr", [FLOAT_COMPLEX], (2,), _qr_shape, _qr_dtype, multiple_results=True)


def _qr_impl(a, *, pivoting, full_matrices):
    from .elementwise import _const, sub
    from .slicing import slice
    from .structural import broadcast_in_dim, full, pad

    shape = aval(a).shape
    *batch, m, n = shape
    batch = tuple(batch)
    nb = len(batch)
    dtype = aval(a).dtype
    if m == 0 or n == 0:
        k = m if full_matrices else min(m, n)
        q = broadcast_in_dim(eye(dtype, m, k), batch + (m, k), (nb, nb + 1))
        r = full(batch + (k, n), 0, dtype)
        return [q, r, full(batch + (n,), 0, np.int32)] if pivoting else [q, r]
    p = None
    if pivoting:
        r, p, taus = geqp3(a, full(batch + (n,), 0, np.int32))
        p = sub(p, _const(1, p))
    else:
        r, taus = geqrf(a)

    def last2(x, rows, cols):
        return slice(x, (0,) * (nb + 2), batch + (rows, cols))

    if m < n:
        q = householder_product(last2(r, m, m), taus)
    elif full_matrices:
        q = pad(r, _const(0, r), [(0, 0, 0)] * (nb + 1) + [(0, m - n, 0)])
        q = householder_product(q, taus)
    else:
        q = householder_product(r, taus)
        r = last2(r, n, n)
    r = triu(r)
    return [q, r, p] if pivoting else [q, r]


@qr_p.def_lowering
def _qr_lowering(ctx, a, *, pivoting, full_matrices, use_magma):
    return ffi.lower_fun(
        ctx,
        lambda x: _qr_impl(x, pivoting=pivoting, full_matrices=full_matrices),
        [a],
        ctx.avals_in,
    )


def _thin_qr_jvp(q, r, dx):
    from .elementwise import add, mul, real, sub
    from .structural import expand_dims

    dx_rinv = _tri_solve(r, dx)  # right-side solve
    qt_dx_rinv = mm(H(q), dx_rinv)
    low = tril(qt_dx_rinv, -1)
    do = sub(low, H(low))  # skew-symmetric
    n = aval(r).shape[-1]
    if dtypes.is_complex(aval(do).dtype):
        eye_n = expand_dims(eye(aval(do).dtype, n), tuple(range(aval(do).ndim - 2)))
        im = sub(qt_dx_rinv, to_dtype(real(qt_dx_rinv), aval(do).dtype))
        do = add(do, mul(eye_n, im))
    dq = add(mm(q, sub(do, qt_dx_rinv)), dx_rinv)
    dr = mm(sub(qt_dx_rinv, do), r)
    return dq, dr


def _tri_solve(r, b):
    from .linalg import triangular_solve

    return triangular_solve(r, b)


def _qr_jvp(primals, tangents, *, pivoting, full_matrices, use_magma):
    from ..numpy import take
    from .elementwise import sub
    from .slicing import slice
    from .structural import concatenate, full

    (x,), (dx,) = primals, tangents
    outs = qr_p.bind(x, pivoting=pivoting, full_matrices=full_matrices, use_magma=use_magma)
    q, r = outs[0], outs[1]
    *batch, m, n = aval(x).shape
    batch = tuple(batch)
    nb = len(batch)
    if pivoting:
        dx = take(dx, outs[2], axis=-1) if nb == 0 else _take_cols(dx, outs[2])

    def sl(v, r0, r1, c0, c1):
        s = aval(v).shape
        return slice(v, (0,) * nb + (r0, c0), s[:-2] + (r1, c1))

    if m < n:
        x2, dx1, dx2 = sl(x, 0, m, m, n), sl(dx, 0, m, 0, m), sl(dx, 0, m, m, n)
        dq, dr1 = _thin_qr_jvp(q, sl(r, 0, m, 0, m), dx1)
        dr2 = _add(mm(H(dq), x2), mm(H(q), dx2))
        dr = concatenate((dr1, dr2), nb + 1)
    else:
        q_mn = sl(q, 0, m, 0, n) if full_matrices else q
        r_nn = sl(r, 0, n, 0, n) if full_matrices else r
        dq, dr = _thin_qr_jvp(q_mn, r_nn, dx)
        if full_matrices and m != n:
            from .linalg import lu
            from .linalg_solve_helpers import lu_solve

            q_nn, q_pn, q_mp = sl(q_mn, 0, n, 0, n), sl(q_mn, n, m, 0, n), sl(q, 0, m, n, m)
            dq_nn, dq_pn = sl(dq, 0, n, 0, n), sl(dq, n, m, 0, n)
            lu_, _, perm = lu(sub(q_nn, eye(aval(q_nn).dtype, n)))
            z_pn_h = lu_solve(lu_, perm, H(q_pn), trans=2)
            z_pn = H(z_pn_h)
            dq_mp = sub(
                mm(dq, z_pn_h),
                mm(_add(q_mn, mm(q_mp, z_pn)), H(sub(dq_pn, mm(z_pn, dq_nn)))),
            )
            dq = concatenate((dq, dq_mp), nb + 1)
            dr = concatenate((dr, full(batch + (m - n, n), 0, aval(dr).dtype)), nb)
    tangents_out = [dq, dr]
    if pivoting:
        tangents_out.append(Zero(tangent_aval(aval(outs[2]))))
    return list(outs), tangents_out


def _take_cols(x, p):
    from ..numpy import take_along_axis
    from .structural import broadcast_in_dim

    s = aval(x).shape
    idx = broadcast_in_dim(p, s, tuple(range(len(s) - 2)) + (len(s) - 1,))
    return take_along_axis(x, idx, axis=-1)


def _add(a, b):
    from .elementwise import add

    return add(a, b)


qr_p.def_jvp(_qr_jvp)


# ---------------------------------------------------------------------------- eigh


def eigh(
    x,
    *,
    lower: bool = True,
    symmetrize_input: bool = True,
    sort_eigenvalues: bool = True,
    subset_by_index=None,
    implementation=None,
):
    """Eigenvectors v (columns) and ascending real eigenvalues w of Hermitian x."""
    if symmetrize_input:
        x = symmetrize(x)
    v, w = eigh_p.bind(
        x,
        lower=bool(lower),
        sort_eigenvalues=bool(sort_eigenvalues),
        subset_by_index=None if subset_by_index is None else tuple(subset_by_index),
        algorithm=implementation,
    )
    return v, w


def _eigh_shape(shape, *, subset_by_index, **_):
    if shape[0] != shape[-1]:
        raise ValueError(
            "Argument to symmetric eigendecomposition must have shape [..., n, n], "
            f"got shape {shape}"
        )
    n = shape[0]
    d = n if subset_by_index is None else subset_by_index[1] - subset_by_index[0]
    return (n, d), (d,)


eigh_p = linalg_primitive(
    "eigh",
    [FLOAT_COMPLEX],
    (2,),
    _eigh_shape,
    lambda d, **_: (d, _real_dtype(d)),
    multiple_results=True,
)


@eigh_p.def_lowering
def _eigh_lowering(ctx, x, *, lower, sort_eigenvalues, subset_by_index, algorithm):
    a_in = ctx.avals_in[0]
    v_aval, w_aval = ctx.avals_out
    n = a_in.shape[-1]
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        raise NotImplementedError("subset_by_index not supported on CPU and GPU")
    batch = a_in.shape[:-2]
    if ctx.platform == "cpu":
        base = "heevd_ffi" if dtypes.is_complex(a_in.dtype) else "syevd_ffi"
        target = ffi.lapack_target(base, a_in.dtype)
        attrs = {"mode": ffi.char_attr("V"), "uplo": ffi.char_attr("L" if lower else "U")}
    elif ffi.gpu_platform(ctx.platform):
        target = ffi.require_target("cusolver_syevd_ffi", ctx.platform, "eigh")
        algo = 0 if algorithm is None else (2 if algorithm == EighImplementation.JACOBI else 1)
        attrs = {"lower": ffi.bool_attr(lower), "algorithm": ffi.u8_attr(algo)}
    else:
        raise NotImplementedError(f"eigh is not implemented on {ctx.platform}")
    avals_out = [v_aval, w_aval, ffi.info_aval(batch)]
    v, w, info = ffi.ffi_call(target, [x], [a_in], avals_out, attrs, aliases={0: 0})
    ok = ffi.ok_where(info, batch)
    return [
        ffi.nan_where_not_ok(v, v_aval, ok, batch),
        ffi.nan_where_not_ok(w, w_aval, ok, batch),
    ]


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues, subset_by_index, algorithm):
    # nondegenerate perturbation theory: dv = v (F * v^H da v), dw = diag(v^H da v)
    from .elementwise import add, integer_pow, mul, real, sub
    from .structural import broadcast_in_dim, expand_dims

    (a,), (a_dot,) = primals, tangents
    n = aval(a).shape[-1]
    if subset_by_index is not None and tuple(subset_by_index) != (0, n):
        raise NotImplementedError("Derivatives not defined for partial eigen decomposition.")
    v, w_real = eigh_p.bind(
        symmetrize(a),
        lower=lower,
        sort_eigenvalues=sort_eigenvalues,
        subset_by_index=subset_by_index,
        algorithm=algorithm,
    )
    dtype = aval(a).dtype
    w = to_dtype(w_real, dtype)
    nd = aval(w).ndim
    shape = aval(w).shape + (n,)
    eye_n = eye(dtype, n)
    w_row = broadcast_in_dim(w, shape, tuple(range(nd - 1)) + (nd,))
    w_col = broadcast_in_dim(w, shape, tuple(range(nd)))
    eye_b = expand_dims(eye_n, tuple(range(nd - 1)))
    fmat = sub(integer_pow(sub(add(eye_b, w_row), w_col), -1), eye_b)
    vdag_adot_v = mm(mm(H(v), a_dot), v)
    dv = mm(v, mul(fmat, vdag_adot_v))
    dw = diag_part(real(vdag_adot_v) if dtypes.is_complex(dtype) else vdag_adot_v)
    return [v, w_real], [dv, dw]


eigh_p.def_jvp(_eigh_jvp)


# ---------------------------------------------------------------------------- svd


def svd(x, *, full_matrices=True, compute_uv=True, subset_by_index=None, algorithm=None):
    """Singular values s (descending) and, with compute_uv, (u, s, vh): x = u diag(s) vh."""
    outs = svd_p.bind(
        x,
        full_matrices=bool(full_matrices),
        compute_uv=bool(compute_uv),
        subset_by_index=None if subset_by_index is None else tuple(subset_by_index),
        algorithm=algorithm,
    )
    if compute_uv:
        s, u, vh = outs
        return u, s, vh
    return outs[0]


def _svd_shape(shape, *, full_matrices, compute_uv, subset_by_index, **_):
    m, n = shape
    rank = min(m, n)
    if subset_by_index is not None:
        if full_matrices and tuple(subset_by_index) != (0, rank):
            raise ValueError("full_matrices and subset_by_index cannot both be set")
        rank = min(rank, subset_by_index[1] - subset_by_index[0])
    if compute_uv:
        return (rank,), (m, m if full_matrices else rank), (n if full_matrices else rank, n)
    return ((rank,),)


def _svd_dtype(dtype, *, compute_uv, **_):
    return (_real_dtype(dtype), dtype, dtype) if compute_uv else (_real_dtype(dtype),)


svd_p = linalg_primitive("svd", [FLOAT_COMPLEX], (2,), _svd_shape, _svd_dtype, True)


def _empty_svd(a, *, full_matrices, compute_uv):
    from .structural import broadcast_in_dim, full

    *batch, m, n = aval(a).shape
    batch = tuple(batch)
    s = full(batch + (0,), 0, _real_dtype(aval(a).dtype))
    if not compute_uv:
        return [s]
    dtype = aval(a).dtype
    if full_matrices:
        size = max(m, n)
        nb = len(batch)
        u = broadcast_in_dim(eye(dtype, size), batch + (size, size), (nb, nb + 1))
    else:
        u = full(batch + (m, n), 0, dtype)
    v = full(batch + (0, 0), 0, dtype)
    if m < n:
        u, v = v, u
    return [s, u, v]


@svd_p.def_lowering
def _svd_lowering(ctx, x, *, full_matrices, compute_uv, subset_by_index, algorithm):
    a_in = ctx.avals_in[0]
    *batch, m, n = a_in.shape
    batch = tuple(batch)
    k = min(m, n)
    if subset_by_index is not None and tuple(subset_by_index) != (0, k):
        raise NotImplementedError("subset_by_index not implemented for CPU and GPU")
    if m == 0 or n == 0:
        return ffi.lower_fun(
            ctx,
            lambda a: _empty_svd(a, full_matrices=full_matrices, compute_uv=compute_uv),
            [x],
            ctx.avals_in,
        )
    s_aval = ctx.avals_out[0]
    info = ffi.info_aval(batch)
    if ctx.platform == "cpu":
        if algorithm is None or algorithm in (
            SvdAlgorithm.DEFAULT,
            SvdAlgorithm.DIVIDE_AND_CONQUER,
        ):
            target = ffi.lapack_target("gesdd_ffi", a_in.dtype)
        elif algorithm == SvdAlgorithm.QR:
            target = ffi.lapack_target("gesvd_ffi", a_in.dtype)
        else:
            raise NotImplementedError(
                "The SVD Jacobi and Polar algorithms are not implemented on CPU."
            )
        mode = "N" if not compute_uv else ("A" if full_matrices else "S")
        if compute_uv:
            u_aval, vt_aval = ctx.avals_out[1:]
        else:
            u_aval = a_in.update(shape=batch + (m, m if full_matrices else k))
            vt_aval = a_in.update(shape=batch + (n if full_matrices else k, n))
        avals_out = [a_in, s_aval, u_aval, vt_aval, info]
        _, s, u, vt, st = ffi.ffi_call(
            target, [x], [a_in], avals_out, {"mode": ffi.char_attr(mode)}, aliases={0: 0}
        )
    elif ffi.gpu_platform(ctx.platform):
        # cuSOLVER gesvd works on m >= n: a wide matrix is solved transposed (row-major)
        target = ffi.require_target("cusolver_gesvd_ffi", ctx.platform, "svd")
        transposed = m < n
        if compute_uv:
            u_aval, vt_aval = ctx.avals_out[1:]
        else:
            u_aval = vt_aval = a_in.update(shape=())
        outs_avals = [a_in, s_aval, vt_aval, u_aval, info] if transposed else None
        avals_out = outs_avals or [a_in, s_aval, u_aval, vt_aval, info]
        attrs = {
            "full_matrices": ffi.bool_attr(full_matrices),
            "compute_uv": ffi.bool_attr(compute_uv),
            "transposed": ffi.bool_attr(transposed),
        }
        _, s, u, vt, st = ffi.ffi_call(
            target, [x], [a_in], avals_out, attrs, aliases={0: 0}, column_major=not transposed
        )
        if transposed:
            u, vt = vt, u
    else:
        raise NotImplementedError(f"svd is not implemented on {ctx.platform}")
    ok = ffi.ok_where(st, batch)
    out = [ffi.nan_where_not_ok(s, s_aval, ok, batch)]
    if compute_uv:
        out.append(ffi.nan_where_not_ok(u, ctx.avals_out[1], ok, batch))
        out.append(ffi.nan_where_not_ok(vt, ctx.avals_out[2], ok, batch))
    return out


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv, subset_by_index, algorithm):
    from .elementwise import _const, add, div, mul, real, sub
    from .logic import eq
    from .structural import broadcast_in_dim, expand_dims

    (a,), (da,) = primals, tangents
    s, U, Vt = svd_p.bind(
        a,
        full_matrices=False,
        compute_uv=True,
        subset_by_index=subset_by_index,
        algorithm=algorithm,
    )
    m, n = aval(a).shape[-2:]
    if compute_uv and full_matrices and m != n:
        raise NotImplementedError(
            "Singular value decomposition JVP not implemented for full matrices"
        )
    dtype = aval(a).dtype
    Ut, V = H(U), H(Vt)
    dS = mm(mm(Ut, da), V)
    ds = diag_part(real(dS) if dtypes.is_complex(dtype) else dS)
    if not compute_uv:
        return [s], [ds]
    k = aval(s).shape[-1]
    nd = aval(s).ndim
    shape = aval(s).shape + (k,)
    s_row = broadcast_in_dim(s, shape, tuple(range(nd - 1)) + (nd,))  # s_dim
    s_col = T(s_row)
    s_diffs = mul(add(s_row, s_col), sub(s_row, s_col))
    eye_s = expand_dims(eye(aval(s).dtype, k), tuple(range(nd - 1)))
    F = sub(div(_const(1, s_diffs), add(s_diffs, eye_s)), eye_s)
    s_row_c = to_dtype(s_row, dtype)
    dSS = mul(s_row_c, dS)
    SdS = mul(T(s_row_c), dS)
    s_zeros = to_dtype(eq(s, _const(0, s)), aval(s).dtype)
    s_inv = sub(div(_const(1, s), add(s, s_zeros)), s_zeros)
    s_inv_mat = diag_matrix(s_inv)
    dUdV_diag = mul(mul(_const(0.5, dS), sub(dS, H(dS))), to_dtype(s_inv_mat, dtype))
    Fc = to_dtype(F, dtype)
    dU = mm(U, add(mul(Fc, add(dSS, H(dSS))), dUdV_diag))
    dV = mm(V, mul(Fc, add(SdS, H(SdS))))
    s_dim = to_dtype(expand_dims(s, (nd - 1,)), dtype)  # (..., 1, k)
    if m > n:
        dAV = mm(da, V)
        dU = add(dU, div(sub(dAV, mm(U, mm(Ut, dAV))), s_dim))
    if n > m:
        dAHU = mm(H(da), U)
        dV = add(dV, div(sub(dAHU, mm(V, mm(Vt, dAHU))), s_dim))
    return [s, U, Vt], [ds, dU, H(dV)]


svd_p.def_jvp(_svd_jvp)
