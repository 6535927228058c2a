"""``lax.linalg``: matrix decompositions and solves as primitives (JAX's names, params
and rules). This module holds cholesky, triangular_solve, lu and
lu_pivots_to_permutation; ``linalg_decompositions`` holds qr, eigh, svd, eig, schur,
hessenberg and tridiagonal_solve. On CPU they lower to jaxlib's LAPACK FFI kernels, on
a CUDA plugin to its cuSOLVER kernels (``linalg_ffi``)."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import chlo
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..interpreters.jvp import Zero, defjvp2, tangent_aval
from ..interpreters.transpose import is_undefined_primal
from . import linalg_ffi as ffi
from .linalg_base import (
    FLOAT_COMPLEX,
    T,
    aval,
    eye,
    linalg_primitive,
    mm,
    same_dtype,
    symmetrize,
    tril,
    triu,
)

__all__ = [
    "cholesky",
    "triangular_solve",
    "lu",
    "lu_pivots_to_permutation",
    "cholesky_p",
    "triangular_solve_p",
    "lu_p",
    "lu_pivots_to_permutation_p",
]


# ---------------------------------------------------------------------------- cholesky


def cholesky(x, *, symmetrize_input: bool = True):
    """Lower-triangular L with x = L L^H (NaNs where x is not positive definite)."""
    if symmetrize_input:
        x = symmetrize(x)
    return tril(cholesky_p.bind(x))


def _cholesky_shape(shape):
    if shape[0] != shape[1]:
        raise ValueError(f"The input to cholesky must be a square matrix. Got shape {shape}.")
    return shape


cholesky_p = linalg_primitive("cholesky", [FLOAT_COMPLEX], (2,), _cholesky_shape, same_dtype)


def _cholesky_jvp(primals, tangents):
    # L' = L phi(L^-1 A' L^-H), phi = lower triangle with half the diagonal
    # (Murray 2016, arXiv:1602.07527).
    from .elementwise import _const, add, div
    from .structural import expand_dims

    (x,), (sigma_dot,) = primals, tangents
    L = tril(cholesky_p.bind(x))
    n = aval(x).shape[-1]
    tmp = triangular_solve(
        L, sigma_dot, left_side=False, transpose_a=True, conjugate_a=True, lower=True
    )
    inner = triangular_solve(L, tmp, left_side=True, transpose_a=False, lower=True)
    half = add(_const(1, inner), eye(aval(inner).dtype, n))
    phi = div(tril(inner), expand_dims(half, tuple(range(aval(inner).ndim - 2))))
    return L, mm(L, phi)


cholesky_p.def_jvp(_cholesky_jvp)


@cholesky_p.def_lowering
def _cholesky_lowering(ctx, x):
    a_in = ctx.avals_in[0]
    batch = a_in.shape[:-2]
    avals_out = [a_in, ffi.info_aval(batch)]
    if ctx.platform == "cpu":
        target = ffi.lapack_target("potrf_ffi", a_in.dtype)
        attrs = {"uplo": ffi.char_attr("L")}
    elif ffi.gpu_platform(ctx.platform) and "cusolver_potrf_ffi" in _gpu_targets(ctx):
        target, attrs = "cusolver_potrf_ffi", {"lower": ffi.bool_attr(True)}
    else:
        return hlo.cholesky(x, lower=ir.BoolAttr.get(True))
    out, info = ffi.ffi_call(target, [x], [a_in], avals_out, attrs, aliases={0: 0})
    return ffi.nan_where_not_ok(out, ctx.avals_out[0], ffi.ok_where(info, batch), batch)


def _gpu_targets(ctx):
    from .. import runtime

    return runtime.linalg_targets("cuda")


# ---------------------------------------------------------------------------- triangular_solve


def triangular_solve(
    a,
    b,
    *,
    left_side: bool = False,
    lower: bool = False,
    transpose_a: bool = False,
    conjugate_a: bool = False,
    unit_diagonal: bool = False,
):
    """Solve op(a) x = b (left_side) or x op(a) = b for triangular ``a``."""
    from .structural import expand_dims, squeeze

    conjugate_a = bool(conjugate_a) and dtypes.is_complex(aval(a).dtype)
    singleton = np.ndim(b) == np.ndim(a) - 1
    if singleton:
        b = expand_dims(b, (np.ndim(b) if left_side else np.ndim(b) - 1,))
    out = triangular_solve_p.bind(
        a,
        b,
        left_side=bool(left_side),
        lower=bool(lower),
        transpose_a=bool(transpose_a),
        conjugate_a=conjugate_a,
        unit_diagonal=bool(unit_diagonal),
    )
    if singleton:
        nd = aval(out).ndim
        out = squeeze(out, (nd - 1,) if left_side else (nd - 2,))
    return out


def _triangular_solve_shape(a_shape, b_shape, *, left_side=False, **_):
    if a_shape[0] != a_shape[1]:
        raise ValueError(
            f"The first input to triangular_solve must be a square matrix. Got shape {a_shape}."
        )
    common = -2 if left_side else -1
    if a_shape[-1] != b_shape[common]:
        raise ValueError(
            f"Incompatible shapes for arguments to triangular_solve: {a_shape} and {b_shape}."
        )
    return b_shape


def _triangular_solve_dtype(a_dtype, b_dtype, **_):
    if a_dtype != b_dtype:
        raise TypeError(
            "triangular_solve requires arguments to have the same dtypes, got "
            f"{np.dtype(a_dtype).name}, {np.dtype(b_dtype).name}."
        )
    return a_dtype


triangular_solve_p = linalg_primitive(
    "triangular_solve",
    [FLOAT_COMPLEX, FLOAT_COMPLEX],
    (2, 2),
    _triangular_solve_shape,
    _triangular_solve_dtype,
)


def _triangular_solve_jvp_a(g_a, ans, a, b, *, left_side, lower, transpose_a, conjugate_a, **kw):
    from .elementwise import conj, neg

    m, n = aval(b).shape[-2:]
    k = 1 if kw["unit_diagonal"] else 0
    g_a = tril(g_a, -k) if lower else triu(g_a, k)
    g_a = neg(g_a)
    g_a = T(g_a) if transpose_a else g_a
    g_a = conj(g_a) if conjugate_a else g_a
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a)
    params.update(conjugate_a=conjugate_a, unit_diagonal=kw["unit_diagonal"])

    def a_inverse(rhs):
        return triangular_solve_p.bind(a, rhs, **params)

    if left_side:
        return a_inverse(mm(g_a, ans)) if m > n else mm(a_inverse(g_a), ans)
    return a_inverse(mm(ans, g_a)) if m < n else mm(ans, a_inverse(g_a))


defjvp2(
    triangular_solve_p,
    _triangular_solve_jvp_a,
    lambda g_b, ans, a, b, **params: triangular_solve_p.bind(a, g_b, **params),
)


def _triangular_solve_transpose(ct, a, b, *, transpose_a, **params):
    # linear in b only: b's cotangent solves with op(a) transposed
    if is_undefined_primal(a):
        raise ValueError("triangular_solve is not linear in its first argument")
    if type(ct) is Zero:
        return [None, None]
    return [None, triangular_solve_p.bind(a, ct, transpose_a=not transpose_a, **params)]


triangular_solve_p.def_transpose(_triangular_solve_transpose)


def _triangular_solve_batch(size, vals, dims, **params):
    from .structural import reshape

    (a, b), (da, db) = vals, dims
    from ..interpreters.batching import move_batch_axis

    if da is None:
        # fold the vmapped axis into b's free dimension: one solve for the whole batch
        bv = aval(b)
        if params["left_side"]:
            b = move_batch_axis(size, db, bv.ndim - 1, b)
            s = aval(b).shape
            out = triangular_solve_p.bind(a, reshape(b, s[:-2] + (s[-2] * s[-1],)), **params)
            return reshape(out, s), bv.ndim - 1
        b = move_batch_axis(size, db, bv.ndim - 2, b)
        s = aval(b).shape
        out = triangular_solve_p.bind(a, reshape(b, s[:-3] + (s[-3] * s[-2], s[-1])), **params)
        return reshape(out, s), bv.ndim - 2
    a = move_batch_axis(size, da, 0, a)
    b = move_batch_axis(size, db, 0, b)
    return triangular_solve_p.bind(a, b, **params), 0


triangular_solve_p.def_batch(_triangular_solve_batch)


def _triangular_solve_hlo(a, b, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    if conjugate_a and not transpose_a:
        a = chlo.conj(a)
        conjugate_a = False
    kind = ("ADJOINT" if conjugate_a else "TRANSPOSE") if transpose_a else "NO_TRANSPOSE"
    return hlo.triangular_solve(
        a,
        b,
        ir.BoolAttr.get(left_side),
        ir.BoolAttr.get(lower),
        ir.BoolAttr.get(unit_diagonal),
        hlo.TransposeAttr.get(kind),
    )


@triangular_solve_p.def_lowering
def _triangular_solve_lowering(
    ctx, a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal
):
    a_in, b_in = ctx.avals_in
    if ctx.platform != "cpu" or np.dtype(a_in.dtype) not in ffi._LAPACK_PREFIX:
        return _triangular_solve_hlo(
            a, b, left_side, lower, transpose_a, conjugate_a, unit_diagonal
        )
    if conjugate_a and not transpose_a:
        a = chlo.conj(a)
        conjugate_a = False
    trans = ("C" if conjugate_a else "T") if transpose_a else "N"
    attrs = {
        "side": ffi.char_attr("L" if left_side else "R"),
        "uplo": ffi.char_attr("L" if lower else "U"),
        "trans_x": ffi.char_attr(trans),
        "diag": ffi.char_attr("U" if unit_diagonal else "N"),
    }
    target = ffi.lapack_target("trsm_ffi", a_in.dtype)
    (out,) = ffi.ffi_call(target, [a, b], [a_in, b_in], [ctx.avals_out[0]], attrs, {1: 0})
    return out


# ---------------------------------------------------------------------------- lu


def lu(x):
    """LU with partial pivoting: (lu, pivots, permutation) with P x = L U."""
    return tuple(lu_p.bind(x))


def _lu_shape(shape):
    m, n = shape
    return shape, (min(m, n),), (m,)


def _lu_dtype(dtype):
    return dtype, np.int32, np.int32


lu_p = linalg_primitive("lu", [FLOAT_COMPLEX], (2,), _lu_shape, _lu_dtype, multiple_results=True)


def _lu_jvp_inner(lu_, a_dot, permutation):
    # L' = L tril(L^-1 P A' U^-1, -1), U' = triu(L^-1 P A' U^-1) U
    # (de Hoog, Anderssen and Lukas: differentiation of triangular factorizations)
    from .elementwise import _const, add
    from .slicing import slice
    from .structural import pad

    m, n = aval(a_dot).shape
    k = min(m, n)
    dtype = aval(a_dot).dtype
    zero = _const(0, lu_)
    low = pad(tril(slice(lu_, (0, 0), (m, k)), -1), zero, ((0, 0, 0), (0, m - k, 0)))
    low = add(low, eye(dtype, m))
    u_eye = pad(eye(dtype, n - k), zero, ((k, 0, 0), (k, 0, 0)))
    up = add(pad(triu(slice(lu_, (0, 0), (k, n))), zero, ((0, n - k, 0), (0, 0, 0))), u_eye)
    la = triangular_solve(low, a_dot[permutation], left_side=True, lower=True, unit_diagonal=True)
    lau = triangular_solve(up, la, left_side=False, lower=False)
    return add(mm(low, tril(lau, -1)), mm(triu(lau), up))


def _lu_jvp(primals, tangents):
    from ..api import vmap

    (a,), (a_dot,) = primals, tangents
    lu_, pivots, perm = lu_p.bind(a)
    fn = _lu_jvp_inner
    for _ in aval(a).shape[:-2]:
        fn = vmap(fn)
    lu_dot = fn(lu_, a_dot, perm)
    zeros = [Zero(tangent_aval(aval(pivots))), Zero(tangent_aval(aval(perm)))]
    return [lu_, pivots, perm], [lu_dot, *zeros]


lu_p.def_jvp(_lu_jvp)


@lu_p.def_lowering
def _lu_lowering(ctx, x):
    a_in = ctx.avals_in[0]
    lu_aval, piv_aval, perm_aval = ctx.avals_out
    batch = a_in.shape[:-2]
    m = a_in.shape[-2]
    if ctx.platform == "cpu":
        target = ffi.lapack_target("getrf_ffi", a_in.dtype)
    elif ffi.gpu_platform(ctx.platform):
        target = ffi.require_target("cusolver_getrf_ffi", ctx.platform, "lu")
    else:
        raise NotImplementedError(f"lu is not implemented on {ctx.platform}")
    avals_out = [a_in, piv_aval, ffi.info_aval(batch)]
    out, piv, info = ffi.ffi_call(target, [x], [a_in], avals_out, aliases={0: 0})
    piv = hlo.subtract(piv, ffi.lowering.full_like_aval(1, piv_aval))  # 1-based -> 0-based
    out = ffi.nan_where_not_ok(out, lu_aval, ffi.ok_where(info, batch, "GE"), batch)
    perm = ffi.lower_fun(
        ctx,
        lambda p: _pivots_to_permutation(p, m),
        [piv],
        [piv_aval],
        multiple_results=False,
    )
    return [out, piv, perm]


# ---------------------------------------------------------------------------- pivots


def lu_pivots_to_permutation(pivots, permutation_size: int):
    """The permutation that the row swaps ``pivots`` (as LAPACK's getrf) make."""
    return lu_pivots_to_permutation_p.bind(pivots, permutation_size=int(permutation_size))


def _pivots_shape(shape, *, permutation_size):
    (k,) = shape
    if not permutation_size >= k:
        raise ValueError(
            f"Output permutation size {permutation_size} has to exceed the trailing "
            f"dimension of the pivots. Got pivots size {k}"
        )
    return (permutation_size,)


lu_pivots_to_permutation_p = linalg_primitive(
    "lu_pivots_to_permutation",
    [("sint",)],
    (1,),
    _pivots_shape,
    lambda d, **_: np.int32,
)


def _pivots_to_permutation(swaps, m):
    """Apply swap i <-> swaps[..., i] for i = 0..k-1 to iota(m), batched elementwise."""
    from ..sharding.named import PartitionSpec
    from .control_flow import fori_loop
    from .convert import convert_element_type
    from .logic import eq, select
    from .reductions import reduce_sum
    from .structural import broadcast_in_dim, broadcasted_iota

    shape = aval(swaps).shape
    k = shape[-1]
    batch = shape[:-1]
    nb = len(batch)
    typed = aval(swaps).sharding  # the permutation takes the swaps' batch layout, as JAX's
    batch_layout = None
    if typed is not None:
        spec = typed.spec._normalized(nb + 1)[:nb]
        batch_layout = typed.with_spec(PartitionSpec(*spec, None))
    perm0 = broadcasted_iota(np.int32, batch + (m,), nb, out_sharding=batch_layout)
    if m == 0 or k == 0:
        return perm0
    pos = broadcasted_iota(np.int32, batch + (m,), nb)
    kpos = broadcasted_iota(np.int32, batch + (k,), nb)

    def pick(x, idx, onehot_iota):
        # x[..., idx] for a per-batch index idx (shape batch)
        hit = eq(onehot_iota, broadcast_in_dim(idx, aval(onehot_iota).shape, tuple(range(nb))))
        return reduce_sum(select(hit, x, _zeros_like(x)), (nb,))

    def body(i, perm):
        # the loop index is a weak default int (int64 under x64, as JAX's fori_loop)
        i_b = broadcast_in_dim(convert_element_type(i, np.int32), batch, ())
        j = pick(swaps, i_b, kpos)
        pi = pick(perm, i_b, pos)
        pj = pick(perm, j, pos)
        full = aval(perm).shape
        at_i = eq(pos, broadcast_in_dim(i_b, full, tuple(range(nb))))
        at_j = eq(pos, broadcast_in_dim(j, full, tuple(range(nb))))
        perm = select(at_i, broadcast_in_dim(pj, full, tuple(range(nb))), perm)
        return select(at_j, broadcast_in_dim(pi, full, tuple(range(nb))), perm)

    return fori_loop(np.int32(0), np.int32(k), body, perm0)


def _zeros_like(x):
    from .structural import full_like

    return full_like(x, 0)


@lu_pivots_to_permutation_p.def_lowering
def _pivots_lowering(ctx, pivots, *, permutation_size):
    return ffi.lower_fun(
        ctx,
        lambda p: _pivots_to_permutation(p, permutation_size),
        [pivots],
        ctx.avals_in,
        multiple_results=False,
    )


from .linalg_decompositions import *  # noqa: E402,F401,F403
from .linalg_decompositions import __all__ as _decomp_all  # noqa: E402
from .linalg_extra import *  # noqa: E402,F401,F403
from .linalg_extra import __all__ as _extra_all  # noqa: E402
from .linalg_general import *  # noqa: E402,F401,F403
from .linalg_general import __all__ as _general_all  # noqa: E402
from .linalg_qdwh import qdwh  # noqa: E402,F401

__all__ = __all__ + list(_decomp_all) + list(_general_all) + list(_extra_all) + ["qdwh"]
