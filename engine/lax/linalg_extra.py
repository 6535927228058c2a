"""The rest of JAX's ``lax.linalg``: ormqr (Q from geqrf applied without forming it),
tridiagonal (Householder reduction of a Hermitian matrix), symmetric_product
(alpha A A^T + beta C) and cholesky_update (rank-1 update by Givens rotations)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from . import linalg_ffi as ffi
from .linalg_base import FLOAT_COMPLEX, T, aval, linalg_primitive, mm, same_dtype, tril

__all__ = [
    "ormqr",
    "tridiagonal",
    "symmetric_product",
    "cholesky_update",
    "ormqr_p",
    "tridiagonal_p",
    "symmetric_product_p",
    "cholesky_update_p",
]


def _real_dtype(dtype):
    return dtypes.real_dtype(dtype) if dtypes.is_complex(dtype) else np.dtype(dtype)


# ---------------------------------------------------------------------------- ormqr


def ormqr(a, taus, c, *, left=True, transpose=False):
    """Q @ c, Q^H @ c, c @ Q or c @ Q^H for the Q that geqrf's (a, taus) represent."""
    return ormqr_p.bind(a, taus, c, left=bool(left), transpose=bool(transpose))


def _ormqr_shape(a_shape, taus_shape, c_shape, *, left, transpose):
    m = a_shape[0]
    if left and c_shape[0] != m:
        raise ValueError(
            "ormqr with left=True expects c to have the same number of rows as the "
            f"Householder matrix a. Got a shape {a_shape} and c shape {c_shape}."
        )
    if not left and c_shape[1] != m:
        raise ValueError(
            "ormqr with left=False expects c to have the same number of columns as the "
            f"Householder matrix a has rows. Got a shape {a_shape} and c shape {c_shape}."
        )
    return c_shape


ormqr_p = linalg_primitive(
    "ormqr", [FLOAT_COMPLEX] * 3, (2, 1, 2), _ormqr_shape, lambda d, *_, **__: d
)


@ormqr_p.def_lowering
def _ormqr_lowering(ctx, a, taus, c, *, left, transpose):
    dtype = ctx.avals_in[0].dtype
    if ctx.platform == "cpu":
        target = ffi.lapack_target("unmqr_ffi" if dtypes.is_complex(dtype) else "ormqr_ffi", dtype)
    elif ffi.gpu_platform(ctx.platform):
        target = ffi.require_target("cusolver_ormqr_ffi", ctx.platform, "ormqr")
    else:
        raise NotImplementedError(f"ormqr is not implemented on {ctx.platform}")
    attrs = {"left": ffi.bool_attr(left), "transpose": ffi.bool_attr(transpose)}
    return ffi.ffi_call(target, [a, taus, c], ctx.avals_in, ctx.avals_out, attrs, {2: 0})[0]


# ---------------------------------------------------------------------------- tridiagonal


def tridiagonal(a, *, lower=True):
    """(packed a, diagonal d, off-diagonal e, taus) of the Householder reduction of a
    Hermitian matrix to real symmetric tridiagonal form."""
    return tuple(tridiagonal_p.bind(a, lower=bool(lower)))


def _tridiagonal_shape(shape, **_):
    if shape[0] != shape[1] or shape[1] == 0:
        raise ValueError(f"The input to tridiagonal must be a square matrix. Got shape {shape}.")
    n = shape[0]
    return shape, (n,), (n - 1,), (n - 1,)


tridiagonal_p = linalg_primitive(
    "tridiagonal",
    [FLOAT_COMPLEX],
    (2,),
    _tridiagonal_shape,
    lambda d, **_: (d, _real_dtype(d), _real_dtype(d), d),
    multiple_results=True,
)


@tridiagonal_p.def_lowering
def _tridiagonal_lowering(ctx, a, *, lower):
    a_in = ctx.avals_in[0]
    batch = a_in.shape[:-2]
    if ctx.platform == "cpu":
        base = "hetrd_ffi" if dtypes.is_complex(a_in.dtype) else "sytrd_ffi"
        target = ffi.lapack_target(base, a_in.dtype)
        attrs = {"uplo": ffi.char_attr("L" if lower else "U")}
    elif ffi.gpu_platform(ctx.platform):
        target = ffi.require_target("cusolver_sytrd_ffi", ctx.platform, "tridiagonal")
        attrs = {"lower": ffi.bool_attr(lower)}
    else:
        raise NotImplementedError(f"tridiagonal is not implemented on {ctx.platform}")
    avals_out = [*ctx.avals_out, ffi.info_aval(batch)]
    *outs, info = ffi.ffi_call(target, [a], [a_in], avals_out, attrs, aliases={0: 0})
    ok = ffi.ok_where(info, batch)
    return [ffi.nan_where_not_ok(x, av, ok, batch) for x, av in zip(outs, ctx.avals_out)]


# ---------------------------------------------------------------------------- symmetric_product


def symmetric_product(a_matrix, c_matrix, *, alpha=1.0, beta=0.0, symmetrize_output=False):
    """alpha A A^T + beta C (only the lower triangle is guaranteed unless
    symmetrize_output)."""
    from .elementwise import add

    out = symmetric_product_p.bind(a_matrix, c_matrix, alpha=alpha, beta=beta)
    if symmetrize_output:
        out = add(tril(out), T(tril(out, -1)))
    return out


def _symmetric_product_shape(a_shape, c_shape, **_):
    if a_shape[0] != c_shape[1] or c_shape[0] != c_shape[1]:
        raise ValueError(
            "symmetric_update expects a rectangular matrix of shape (m, n) and a square "
            f"matrix of shape (n, n). Got shapes {a_shape} and {c_shape}."
        )
    return c_shape


symmetric_product_p = linalg_primitive(
    "symmetric_product",
    [("float",), ("float",)],
    (2, 2),
    _symmetric_product_shape,
    lambda d, *_, **__: d,
)


def _symmetric_product_fn(a, c, *, alpha, beta):
    from .elementwise import _const, add, mul

    return add(mul(_const(alpha, a), mm(a, T(a))), mul(_const(beta, c), c))


@symmetric_product_p.def_lowering
def _symmetric_product_lowering(ctx, a, c, *, alpha, beta):
    return ffi.lower_fun(
        ctx,
        lambda a, c: _symmetric_product_fn(a, c, alpha=alpha, beta=beta),
        [a, c],
        ctx.avals_in,
        None,
        False,
    )


def _symmetric_product_jvp(primals, tangents, *, alpha, beta):
    from ..interpreters.jvp import instantiate
    from .elementwise import _const, add, mul

    (a, c), (da, dc) = primals, tangents
    out = symmetric_product_p.bind(a, c, alpha=alpha, beta=beta)
    da, dc = instantiate(da), instantiate(dc)
    ad = mm(da, T(a))
    t = add(mul(_const(alpha, a), add(ad, T(ad))), mul(_const(beta, c), dc))
    return out, t


symmetric_product_p.def_jvp(_symmetric_product_jvp)


# ---------------------------------------------------------------------------- cholesky_update


def cholesky_update(r_matrix, w_vector):
    """The upper-triangular R' with R'^T R' = R^T R + w w^T, in O(n^2)."""
    return cholesky_update_p.bind(r_matrix, w_vector)


def _cholesky_update_shape(r_shape, w_shape):
    if r_shape[0] != r_shape[1] or w_shape[0] != r_shape[1]:
        raise ValueError(
            "Rank-1 update to Cholesky decomposition takes a square matrix and a vector of "
            f"the same size as input. Got shapes {r_shape} and {w_shape} instead"
        )
    return r_shape


cholesky_update_p = linalg_primitive(
    "cholesky_update", [("float",), ("float",)], (2, 1), _cholesky_update_shape, same_dtype
)


def _cholesky_update_fn(R, z):
    """Givens rotations zeroing z against each row of R in turn."""
    from .. import numpy as jnp
    from .control_flow import cond

    def rotation(x, y):
        def nonzero(x, y):
            d = jnp.maximum(jnp.abs(x), jnp.abs(y))
            x, y = x / d, y / d
            rh = 1 / jnp.sqrt(x**2 + y**2)
            return x * rh, -y * rh

        one, zero = np.array(1.0, aval(x).dtype), np.array(0.0, aval(x).dtype)
        return cond(y == 0, lambda x, y: (jnp.asarray(one), jnp.asarray(zero)), nonzero, x, y)

    n = aval(z).shape[0]
    for k in range(n):
        c, s = rotation(R[k, k], z[k])
        row = R[k, :]
        row, z = c * row - s * z, c * z + s * row
        R = R.at[k, :].set(row)
    return R


@cholesky_update_p.def_lowering
def _cholesky_update_lowering(ctx, r, w):
    from ..api import vmap

    fn = _cholesky_update_fn
    for _ in range(ctx.avals_in[0].ndim - 2):
        fn = vmap(fn)
    return ffi.lower_fun(ctx, fn, [r, w], ctx.avals_in, None, False)
