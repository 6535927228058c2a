"""Solves built on the decompositions: ``lu_solve`` (with JAX's trans=0/1/2) and a
general ``solve``: LU of stop_gradient(a) inside ``custom_linear_solve`` (as JAX), so
derivatives reuse the factorization instead of differentiating it."""

from __future__ import annotations

import math

import numpy as np

from .linalg_base import aval


def _lu_solve_core(lu_, permutation, b, trans):
    from .linalg import triangular_solve
    from .sorting import sort_key_val
    from .structural import iota, reshape

    m = aval(lu_).shape[0]
    bshape = aval(b).shape
    x = reshape(b, (m, math.prod(bshape[1:])))
    if trans == 0:
        x = x[permutation, :]
        x = triangular_solve(lu_, x, left_side=True, lower=True, unit_diagonal=True)
        x = triangular_solve(lu_, x, left_side=True, lower=False)
    elif trans in (1, 2):
        conj = trans == 2
        x = triangular_solve(
            lu_, x, left_side=True, lower=False, transpose_a=True, conjugate_a=conj
        )
        x = triangular_solve(
            lu_,
            x,
            left_side=True,
            lower=True,
            unit_diagonal=True,
            transpose_a=True,
            conjugate_a=conj,
        )
        _, ind = sort_key_val(permutation, iota(np.int32, aval(permutation).shape[0]))
        x = x[ind, :]
    else:
        raise ValueError(f"'trans' value must be 0, 1, or 2, got {trans}")
    return reshape(x, bshape)


def lu_solve(lu_, permutation, b, trans=0):
    """Solve a x = b (trans=0), a^T x = b (1) or a^H x = b (2) from ``lu(a)``; ``b`` is
    [..., m] or [..., m, k]; batch dimensions broadcast."""
    from ..api import vmap
    from .structural import broadcast_in_dim, expand_dims, squeeze

    la, pa, ba = aval(lu_), aval(permutation), aval(b)
    if la.ndim < 2 or la.shape[-1] != la.shape[-2]:
        raise ValueError(
            f"last two dimensions of LU decomposition must be equal, got shape {la.shape}"
        )
    if ba.ndim < 1:
        raise ValueError(f"b matrix must have rank >= 1, got shape {ba.shape}")
    rhs_vector = la.ndim == ba.ndim + 1
    if rhs_vector:
        if ba.shape[-1] != la.shape[-1]:
            raise ValueError(
                "When LU decomposition matrix and b have the same number of dimensions, "
                f"last axis of LU decomposition matrix (shape {la.shape}) and b array "
                f"(shape {ba.shape}) must match"
            )
        b = expand_dims(b, (ba.ndim,))
    elif ba.shape[-2] != la.shape[-1]:
        raise ValueError(
            "When LU decomposition matrix and b different numbers of dimensions, last axis "
            f"of LU decomposition matrix (shape {la.shape}) and second to last axis of b "
            f"array (shape {ba.shape}) must match"
        )
    bshape = aval(b).shape
    batch = tuple(np.broadcast_shapes(la.shape[:-2], pa.shape[:-1], bshape[:-2]))

    def to(x, core):
        s = aval(x).shape
        full = batch + s[len(s) - core :]
        if s == full:
            return x
        return broadcast_in_dim(x, full, tuple(range(len(full) - len(s), len(full))))

    lu_, permutation, b = to(lu_, 2), to(permutation, 1), to(b, 2)

    def fn(lu_, permutation, b):
        return _lu_solve_core(lu_, permutation, b, trans)

    for _ in batch:
        fn = vmap(fn)
    x = fn(lu_, permutation, b)
    return squeeze(x, (aval(x).ndim - 1,)) if rhs_vector else x


def _broadcasted_matvec(a, x):
    """(..., n, m) @ (..., m) -> (..., n), batch dims broadcast."""
    from .dot import Precision, dot_general
    from .structural import broadcast_in_dim

    aa, xa = aval(a), aval(x)
    batch = tuple(np.broadcast_shapes(aa.shape[:-2], xa.shape[:-1]))
    nb = len(batch)
    a = broadcast_in_dim(a, batch + aa.shape[-2:], tuple(range(nb + 2 - aa.ndim, nb + 2)))
    x = broadcast_in_dim(x, batch + xa.shape[-1:], tuple(range(nb + 1 - xa.ndim, nb + 1)))
    bd = tuple(range(nb))
    return dot_general(a, x, (((nb + 1,), (nb,)), (bd, bd)), precision=Precision.HIGHEST)


def solve(a, b):
    """a x = b with a [..., m, m] and b [..., m] or [..., m, k] (b's batch dims as a's)."""
    from ..api import vmap
    from .custom_solve import custom_linear_solve
    from .linalg import lu
    from .misc import stop_gradient

    aa, ba = aval(a), aval(b)
    if not (
        aa.ndim >= 2
        and ba.ndim in (aa.ndim, aa.ndim - 1)
        and aa.shape[-1] == aa.shape[-2] == ba.shape[aa.ndim - 2]
    ):
        raise ValueError(
            "The arguments to solve must have shapes a=[..., m, m] and b=[..., m, k] or "
            f"b=[..., m]; got a={aa.shape} and b={ba.shape}"
        )
    lu_, _, perm = lu(stop_gradient(a))

    def custom_solve(x):
        return custom_linear_solve(
            lambda y: _broadcasted_matvec(a, y),
            x,
            solve=lambda _, y: lu_solve(lu_, perm, y, trans=0),
            transpose_solve=lambda _, y: lu_solve(lu_, perm, y, trans=1),
        )

    if aa.ndim == ba.ndim + 1:
        return custom_solve(b)
    return vmap(custom_solve, ba.ndim - 1, max(aa.ndim, ba.ndim) - 1)(b)
