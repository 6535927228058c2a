"""``jax.scipy.linalg`` on ``lax.linalg``: cholesky, cho_factor/cho_solve, lu,
lu_factor/lu_solve, qr, qr_multiply, svd, eigh, solve, solve_triangular,
solve_sylvester, inv, det, expm (scaling and squaring with JAX's Pade orders),
expm_frechet, polar, sqrtm, schur, hessenberg, block_diag, toeplitz, hankel,
circulant, hilbert. The functions JAX compiles are compiled here too."""

from __future__ import annotations

import numpy as np

from .. import lax
from .. import numpy as jnp
from ..lax import linalg as lax_linalg
from ..lax.linalg_solve_helpers import lu_solve as _lu_solve
from ..numpy import linalg as jnp_linalg
from ..numpy._util import as_array, promote_dtypes, promote_dtypes_inexact

__all__ = [
    "block_diag",
    "cho_factor",
    "cho_solve",
    "cholesky",
    "circulant",
    "det",
    "eigh",
    "expm",
    "expm_frechet",
    "hankel",
    "hessenberg",
    "hilbert",
    "inv",
    "lu",
    "lu_factor",
    "lu_solve",
    "polar",
    "qr",
    "qr_multiply",
    "schur",
    "solve",
    "solve_sylvester",
    "solve_triangular",
    "sqrtm",
    "svd",
    "toeplitz",
]


def _inexact(*args):
    return [as_array(a) for a in promote_dtypes_inexact(*[jnp.asarray(a) for a in args])]


def _mH(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _batched_tri_solve(a, b, **kw):
    """triangular_solve with b [..., n] or [..., n, k]; batch dims of a and b broadcast."""
    vector = b.ndim == 1 or (a.ndim == b.ndim + 1 and a.shape[-1] == b.shape[-1])
    if vector:
        b = b[..., None]
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    x = lax_linalg.triangular_solve(a, b, left_side=True, **kw)
    return x[..., 0] if vector else x


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    (a,) = _inexact(a)
    L = lax_linalg.cholesky(a if lower else _mH(a), symmetrize_input=False)
    return L if lower else _mH(L)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    return _cho_solve(c, b, bool(lower))


def _cho_solve(c, b, lower):
    c, b = _inexact(c, b)
    b = _batched_tri_solve(c, b, lower=lower, transpose_a=not lower, conjugate_a=not lower)
    return _batched_tri_solve(c, b, lower=lower, transpose_a=lower, conjugate_a=lower)


def svd(
    a,
    full_matrices=True,
    compute_uv=True,
    overwrite_a=False,
    check_finite=True,
    lapack_driver="gesdd",
):
    (a,) = _inexact(a)
    return lax_linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)


def det(a, overwrite_a=False, check_finite=True):
    return jnp_linalg.det(a)


def inv(a, overwrite_a=False, check_finite=True):
    return jnp_linalg.inv(a)


def eigh(
    a,
    b=None,
    lower=True,
    eigvals_only=False,
    overwrite_a=False,
    overwrite_b=False,
    turbo=True,
    eigvals=None,
    type=1,
    check_finite=True,
):
    if b is not None:
        raise NotImplementedError("Only the b=None case of eigh is implemented")
    if type != 1:
        raise NotImplementedError("Only the type=1 case of eigh is implemented.")
    if eigvals is not None:
        raise NotImplementedError("Only the eigvals=None case of eigh is implemented.")
    (a,) = _inexact(a)
    v, w = lax_linalg.eigh(a, lower=lower)
    return w if eigvals_only else (w, v)


def schur(a, output="real"):
    if output not in ("real", "complex"):
        raise ValueError(
            f"Expected 'output' to be either 'real' or 'complex', got output={output!r}."
        )
    a = jnp.asarray(a)
    if output == "complex":
        a = a.astype(np.complex128 if a.dtype in (np.float64, np.complex128) else np.complex64)
    return lax_linalg.schur(a)


def hessenberg(a, *, calc_q=False, overwrite_a=False, check_finite=True):
    (a,) = _inexact(a)
    n = a.shape[-1]
    if n == 0:
        return (a, a) if calc_q else a
    packed, taus = lax_linalg.hessenberg(a)
    h = jnp.triu(packed, -1)
    if not calc_q:
        return h
    # Q = I (+) householder_product of the reflectors below the subdiagonal
    sub = packed[..., 1:, :-1]
    q = lax_linalg.householder_product(sub, taus)
    batch = a.shape[:-2]
    eye = jnp.broadcast_to(jnp.eye(n, dtype=a.dtype), batch + (n, n))
    q = eye.at[..., 1:, 1:].set(q)
    return h, q


def lu_factor(a, overwrite_a=False, check_finite=True):
    (a,) = _inexact(a)
    lu_, pivots, _ = lax_linalg.lu(a)
    return lu_, pivots


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    lu_, pivots = lu_and_piv
    lu_, b = _inexact(lu_, b)
    m = lu_.shape[-2]
    perm = lax_linalg.lu_pivots_to_permutation(pivots, m)
    return _lu_solve(lu_, perm, b, trans=trans)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p l u (or (p l, u) with permute_l)."""
    (a,) = _inexact(a)
    lu_, _, permutation = lax_linalg.lu(a)
    dtype = a.dtype
    m, n = a.shape[-2:]
    p = jnp.real(
        (permutation[..., None, :] == jnp.arange(m, dtype=permutation.dtype)[:, None]).astype(dtype)
    )
    k = min(m, n)
    l = jnp.tril(lu_, -1)[..., :, :k] + jnp.eye(m, k, dtype=dtype)  # noqa: E741
    u = jnp.triu(lu_)[..., :k, :]
    if permute_l:
        return jnp.matmul(p, l, precision=lax.Precision.HIGHEST), u
    return p, l, u


def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    if mode in ("full", "r"):
        full_matrices = True
    elif mode == "economic":
        full_matrices = False
    else:
        raise ValueError(f"Unsupported QR decomposition mode '{mode}'")
    (a,) = _inexact(a)
    q, r, *p = lax_linalg.qr(a, pivoting=pivoting, full_matrices=full_matrices)
    if mode == "r":
        return (r, p[0]) if pivoting else (r,)
    return (q, r, p[0]) if pivoting else (q, r)


def solve(
    a,
    b,
    lower=False,
    overwrite_a=False,
    overwrite_b=False,
    debug=False,
    check_finite=True,
    assume_a="gen",
):
    valid = ["gen", "sym", "her", "pos"]
    if assume_a not in valid:
        raise ValueError(f"Expected assume_a to be one of {valid}; got {assume_a!r}")
    if assume_a != "pos":
        return jnp_linalg.solve(a, b)
    a, b = _inexact(a, b)
    if not (
        a.ndim >= 2
        and b.ndim in (a.ndim, a.ndim - 1)
        and a.shape[-1] == a.shape[-2] == b.shape[a.ndim - 2]
    ):
        raise ValueError(
            "The arguments to solve must have shapes a=[..., m, m] and b=[..., m, k] or "
            f"b=[..., m]; got a={a.shape} and b={b.shape}"
        )
    from ..api import vmap
    from ..lax.custom_solve import custom_linear_solve
    from ..lax.linalg_solve_helpers import _broadcasted_matvec

    factors = cho_factor(lax.stop_gradient(a), lower=lower)

    def custom_solve(x):
        return custom_linear_solve(
            lambda y: _broadcasted_matvec(a, y),
            x,
            solve=lambda _, y: cho_solve(factors, y),
            symmetric=True,
        )

    if a.ndim == b.ndim + 1:
        return custom_solve(b)
    return vmap(custom_solve, b.ndim - 1, max(a.ndim, b.ndim) - 1)(b)


def solve_triangular(
    a,
    b,
    trans=0,
    lower=False,
    unit_diagonal=False,
    overwrite_b=False,
    debug=None,
    check_finite=True,
):
    if trans in (0, "N"):
        transpose_a, conjugate_a = False, False
    elif trans in (1, "T"):
        transpose_a, conjugate_a = True, False
    elif trans in (2, "C"):
        transpose_a, conjugate_a = True, True
    else:
        raise ValueError(f"Invalid 'trans' value {trans}")
    a, b = _inexact(a, b)
    return _batched_tri_solve(
        a,
        b,
        lower=lower,
        transpose_a=transpose_a,
        conjugate_a=conjugate_a,
        unit_diagonal=unit_diagonal,
    )


def block_diag(*arrs):
    """The arrays (at most 2-D each) along the diagonal of one matrix."""
    if len(arrs) == 0:
        arrs = (jnp.zeros((1, 0)),)
    arrs = tuple(promote_dtypes(*[jnp.asarray(a) for a in arrs]))
    bad = [i for i, a in enumerate(arrs) if np.ndim(a) > 2]
    if bad:
        raise ValueError(
            "Arguments to jax.scipy.linalg.block_diag must have at most 2 dimensions, got "
            f"{arrs[bad[0]]} at argument {bad[0]}."
        )
    arrs = [jnp.atleast_2d(a) for a in arrs]
    dtype = arrs[0].dtype
    total = sum(a.shape[1] for a in arrs)
    padded, col = [], 0
    for a in arrs:
        cols = a.shape[1]
        padded.append(lax.pad(a, np.zeros((), dtype), ((0, 0, 0), (col, total - cols - col, 0))))
        col += cols
    return jnp.concatenate(padded, axis=0)


# ---------------------------------------------------------------------------- expm

_PADE = {
    3: (120.0, 60.0, 12.0, 1.0),
    5: (30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0),
    7: (17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0),
    9: (
        17643225600.0,
        8821612800.0,
        2075673600.0,
        302702400.0,
        30270240.0,
        2162160.0,
        110880.0,
        3960.0,
        90.0,
        1.0,
    ),
    13: (
        64764752532480000.0,
        32382376266240000.0,
        7771770303897600.0,
        1187353796428800.0,
        129060195264000.0,
        10559470521600.0,
        670442572800.0,
        33522128640.0,
        1323241920.0,
        40840800.0,
        960960.0,
        16380.0,
        182.0,
        1.0,
    ),
}


def _dot(a, b):
    return jnp.dot(a, b, precision=lax.Precision.HIGHEST)


def _pade(order):
    b = _PADE[order]

    def approx(A):
        ident = jnp.eye(*A.shape, dtype=A.dtype)
        A2 = _dot(A, A)
        if order == 13:
            A4 = _dot(A2, A2)
            A6 = _dot(A4, A2)
            U = _dot(
                A,
                _dot(A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
                + b[7] * A6
                + b[5] * A4
                + b[3] * A2
                + b[1] * ident,
            )
            V = (
                _dot(A6, b[12] * A6 + b[10] * A4 + b[8] * A2)
                + b[6] * A6
                + b[4] * A4
                + b[2] * A2
                + b[0] * ident
            )
            return U, V
        powers = [ident, A2]
        while len(powers) < (order + 1) // 2:
            powers.append(_dot(powers[-1], A2))
        odd = sum(b[2 * i + 1] * p for i, p in enumerate(powers))
        even = sum(b[2 * i] * p for i, p in enumerate(powers))
        return _dot(A, odd), even

    return approx


def _calc_P_Q(A):
    A_L1 = jnp_linalg.norm(A, 1)
    if A.dtype in (np.float64, np.complex128):
        maxnorm = 5.371920351148152
        conds = (
            1.495585217958292e-002,
            2.539398330063230e-001,
            9.504178996162932e-001,
            2.097847961257068e000,
        )
        orders = (3, 5, 7, 9, 13)
    elif A.dtype in (np.float32, np.complex64):
        maxnorm = 3.925724783138660
        conds = (4.258730016922831e-001, 1.880152677804762e000)
        orders = (3, 5, 7)
    else:
        raise TypeError(f"A.dtype={A.dtype} is not supported.")
    n_squarings = jnp.maximum(0, jnp.floor(jnp.log2(A_L1 / maxnorm)))
    A = A / (2**n_squarings).astype(A.dtype)
    idx = jnp.sum(jnp.asarray(conds, dtype=A_L1.dtype) <= A_L1).astype(np.int32)
    U, V = lax.switch(idx, [_pade(o) for o in orders], A)
    return U + V, -U + V, n_squarings


def expm(A, *, upper_triangular=False, max_squarings=16):
    """Matrix exponential: Pade approximant of order 3..13 (by the 1-norm) with scaling
    and squaring, as JAX does; NaNs where more than max_squarings would be needed."""
    (A,) = _inexact(A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"Expected A to be a (batched) square matrix, got A.shape={A.shape}.")
    if A.ndim > 2:
        from ..api import vmap

        fn = lambda x: expm(x, upper_triangular=upper_triangular, max_squarings=max_squarings)  # noqa: E731
        for _ in A.shape[:-2]:
            fn = vmap(fn)
        return fn(A)
    P, Q, n_squarings = _calc_P_Q(A)

    def compute(args):
        A, P, Q = args
        R = solve_triangular(Q, P) if upper_triangular else jnp_linalg.solve(Q, P)

        def step(c, i):
            return lax.cond(i < n_squarings, lambda x: _dot(x, x), lambda x: x, c), None

        R, _ = lax.scan(step, R, jnp.arange(max_squarings, dtype=n_squarings.dtype))
        return R

    def nan(args):
        return jnp.full_like(args[0], np.nan)

    return lax.cond(n_squarings > max_squarings, nan, compute, (A, P, Q))


# ---------------------------------------------------------------------------- more of scipy.linalg


def expm_frechet(A, E, *, method=None, compute_expm=True):
    """The Frechet derivative of expm at A in direction E (a JVP of expm)."""
    from ..api import jvp

    A, E = jnp.asarray(A), jnp.asarray(E)
    if A.ndim < 2 or A.shape[-2] != A.shape[-1]:
        raise ValueError(f"expected A to be a (batched) square matrix, got A.shape={A.shape}")
    if E.ndim < 2 or E.shape[-2] != E.shape[-1]:
        raise ValueError(f"expected E to be a (batched) square matrix, got E.shape={E.shape}")
    if A.shape != E.shape:
        raise ValueError(
            f"expected A and E to be the same shape, got A.shape={A.shape} E.shape={E.shape}"
        )
    expm_A, frechet = jvp(lambda x: expm(x), (A,), (E,))
    return (expm_A, frechet) if compute_expm else frechet


def qr_multiply(
    a, c, mode="right", pivoting=False, conjugate=False, overwrite_a=False, overwrite_c=False
):
    """Q @ c (mode='left') or c @ Q (mode='right') for a's QR, without forming Q."""
    a, c = _inexact(a, c)
    if mode not in ("right", "left"):
        raise ValueError(f"mode must be 'right' or 'left', got {mode!r}")
    onedim = c.ndim == 1
    if onedim:
        c = c[:, None] if mode == "left" else c[None, :]
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "left" and c.shape[-2] != k:
        raise ValueError(
            f"Array shapes are not compatible for Q @ c operation: a has shape {tuple(a.shape)} "
            f"so Q has {k} columns, but c has {c.shape[-2]} rows (expected {k})."
        )
    if mode == "right" and c.shape[-1] != m:
        raise ValueError(
            f"Array shapes are not compatible for c @ Q operation: a has shape {tuple(a.shape)} "
            f"so Q has {m} rows, but c has {c.shape[-1]} columns (expected {m})."
        )
    batch = tuple(np.broadcast_shapes(a.shape[:-2], c.shape[:-2]))
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    c = jnp.broadcast_to(c, batch + c.shape[-2:])
    p = None
    if pivoting:
        r, p, taus = lax_linalg.geqp3(a, jnp.zeros(a.shape[:-2] + (n,), dtype=np.int32))
        p = p - 1
    else:
        r, taus = lax_linalg.geqrf(a)
    if m > n and mode == "left":
        zeros = jnp.zeros(c.shape[:-2] + (m - k,) + c.shape[-1:], dtype=c.dtype)
        c = jnp.concatenate([c, zeros], axis=-2)
    if conjugate:
        c = jnp.swapaxes(c, -1, -2)
    left = (mode == "left") != conjugate
    cq = lax_linalg.ormqr(r, taus, c, left=left, transpose=conjugate)
    if conjugate:
        cq = jnp.swapaxes(cq, -1, -2)
    if mode == "right":
        cq = cq[..., :k]
    if onedim:
        cq = cq.ravel()
    r = jnp.triu(r[..., :k, :])
    return (cq, r, p) if pivoting else (cq, r)


def toeplitz(c, r=None):
    """The Toeplitz matrix with first column c and first row r (batched over leading
    dimensions)."""
    c = jnp.atleast_1d(jnp.asarray(c))
    r = jnp.conjugate(c) if r is None else jnp.atleast_1d(jnp.asarray(r))
    c, r = promote_dtypes(c, r)
    m, n = c.shape[-1], r.shape[-1]
    batch = tuple(np.broadcast_shapes(c.shape[:-1], r.shape[:-1]))
    if m == 0 or n == 0:
        return jnp.empty(batch + (m, n), dtype=c.dtype)
    c = jnp.broadcast_to(c, batch + (m,))
    r = jnp.broadcast_to(r, batch + (n,))
    elems = jnp.concatenate((jnp.flip(c, -1), r[..., 1:]), axis=-1)
    idx = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return elems[..., idx]


def hankel(c, r=None):
    """The Hankel matrix with first column c and last row r (zeros below the
    anti-diagonal when r is None)."""
    c = jnp.asarray(c)
    r = jnp.zeros_like(c) if r is None else jnp.asarray(r)
    if c.ndim == 0:
        raise ValueError("hankel: c must be at least 1-dimensional, got a scalar.")
    if r.ndim == 0:
        raise ValueError("hankel: r must be at least 1-dimensional, got a scalar.")
    c, r = promote_dtypes(c, r)
    m, n = c.shape[-1], r.shape[-1]
    batch = tuple(np.broadcast_shapes(c.shape[:-1], r.shape[:-1]))
    if m == 0 or n == 0:
        return jnp.empty(batch + (m, n), dtype=c.dtype)
    v = jnp.concatenate(
        (jnp.broadcast_to(c, batch + (m,)), jnp.broadcast_to(r, batch + (n,))[..., 1:]), axis=-1
    )
    return v[..., np.arange(m)[:, None] + np.arange(n)[None, :]]


def circulant(c):
    """The circulant matrix whose first column is c."""
    c = jnp.atleast_1d(jnp.asarray(c))
    n = c.shape[-1]
    return c[..., (np.arange(n)[:, None] - np.arange(n)[None, :]) % n]


def hilbert(n):
    """The n x n Hilbert matrix 1 / (i + j + 1)."""
    a = lax.broadcasted_iota(np.float64, (n, 1), 0)
    return 1 / (a + a.T + 1)


def polar(a, side="right", *, method="qdwh", eps=None, max_iterations=None):
    """a = u p (side='right') or p u (side='left') with unitary u and Hermitian
    positive semi-definite p, by QDWH iteration or from the SVD."""
    from ..api import vmap

    arr = jnp.asarray(a)
    if arr.ndim < 2:
        raise ValueError("The input `a` must be at least a 2-D array.")
    if side not in ("right", "left"):
        raise ValueError("The argument `side` must be either 'right' or 'left'.")
    fn = lambda x: _polar_2d(x, side, method, eps, max_iterations)  # noqa: E731
    for _ in arr.shape[:-2]:
        fn = vmap(fn)
    return fn(arr)


def _polar_2d(a, side, method, eps, max_iterations):
    m, n = a.shape
    hp = lax.Precision.HIGHEST
    if method == "qdwh":
        if m >= n and side == "right":
            unitary, posdef, _, _ = lax_linalg.qdwh(a, eps=eps, max_iterations=max_iterations)
        elif m < n and side == "left":
            unitary, posdef, _, _ = lax_linalg.qdwh(_mH(a), eps=eps, max_iterations=max_iterations)
            unitary, posdef = _mH(unitary), _mH(posdef)
        else:
            raise NotImplementedError(
                "method='qdwh' only supports mxn matrices where m < n where side='right' and "
                f"m >= n side='left', got {a.shape} with side={side!r}"
            )
    elif method == "svd":
        u, s, vh = lax_linalg.svd(a, full_matrices=False)
        s = s.astype(u.dtype)[None, :]
        unitary = jnp.matmul(u, vh, precision=hp)
        if side == "right":
            posdef = jnp.matmul(_mH(vh) * s, vh, precision=hp)
        else:
            posdef = jnp.matmul(u * s, _mH(u), precision=hp)
    else:
        raise ValueError(f"Unknown polar decomposition method {method}.")
    return unitary, posdef


def _sqrtm_triu(T):
    """The upper-triangular square root of an upper-triangular T, column by column."""
    diag = jnp.sqrt(jnp.diagonal(T))
    n = diag.shape[0]
    U = jnp.diag(diag)

    def i_loop(step, data):
        j, U = data
        i = j - 1 - step
        s = lax.fori_loop(i + 1, j, lambda k, val: val + U[i, k] * U[k, j], jnp.zeros((), T.dtype))
        value = jnp.where(T[i, j] == s, jnp.zeros((), T.dtype), (T[i, j] - s) / (diag[i] + diag[j]))
        return j, U.at[i, j].set(value)

    def j_loop(j, U):
        return lax.fori_loop(0, j, i_loop, (j, U))[1]

    return lax.fori_loop(0, n, j_loop, U)


def sqrtm(A, blocksize=1):
    """The principal matrix square root through the complex Schur form."""
    if blocksize > 1:
        raise NotImplementedError("Blocked version is not implemented yet.")
    T, Z = schur(A, output="complex")
    R = _sqrtm_triu(T)
    return jnp.matmul(
        jnp.matmul(Z, R, precision=lax.Precision.HIGHEST), _mH(Z), precision=lax.Precision.HIGHEST
    )


def _sylvester_triangular(R, S, F):
    """Solve R Y + Y S = F for upper-triangular R and lower-triangular S, one entry at a
    time from the bottom-right corner (a scan over the m*n entries)."""
    m, n = F.shape

    def step(y_flat, idx):
        i, j = idx // n, idx % n
        Y = y_flat.reshape((m, n))
        row = jnp.sum(jnp.where(jnp.arange(m) > i, R[i, :] * Y[:, j], 0))
        col = jnp.sum(jnp.where(jnp.arange(n) > j, Y[i, :] * S[:, j], 0))
        val = (F[i, j] - (row + col)) / (R[i, i] + S[j, j])
        return y_flat.at[i * n + j].set(val), None

    y, _ = lax.scan(step, jnp.zeros((m * n,), F.dtype), jnp.arange(m * n - 1, -1, -1))
    return y.reshape((m, n))


def _solve_sylvester_2d(A, B, C, method, tol):
    m, n = C.shape
    hp = lax.Precision.HIGHEST
    if method == "schur":
        R, U = schur(A, output="complex")
        S, V = schur(_mH(B), output="complex")
        F = jnp.matmul(jnp.matmul(_mH(U), C.astype(R.dtype), precision=hp), V, precision=hp)
        Y = _sylvester_triangular(R, _mH(S), F)
        X = jnp.matmul(jnp.matmul(U, Y, precision=hp), _mH(V), precision=hp)
    elif method == "eigen":
        RA, UA = jnp_linalg.eig(A)
        RB, UB = jnp_linalg.eig(B)
        F = jnp_linalg.solve(UA, jnp.matmul(C.astype(RA.dtype), UB, precision=hp))
        Y = F / (RA[:, None] + RB[None, :])
        X = jnp.matmul(
            jnp.matmul(UA[:m, :m], Y[:m, :n], precision=hp),
            jnp_linalg.inv(UB)[:n, :n],
            precision=hp,
        )
    else:
        raise ValueError(
            f'Unrecognized method {method}. The two valid methods are either "schur" or "eigen".'
        )
    if not jnp.iscomplexobj(C):
        X = X.real
    singular = jnp.any(
        jnp.abs(jnp_linalg.eigvals(A)[:, None] + jnp_linalg.eigvals(B)[None, :]) < tol
    )
    return jnp.where(singular, jnp.full_like(X, np.nan), X)


def solve_sylvester(A, B, C, *, method="schur", tol=1e-8):
    """X with A X + X B = C (NaNs where A and -B share an eigenvalue within tol)."""
    from ..api import vmap

    A, B, C = _inexact(A, B, C)
    m, n = C.shape[-2:]
    if A.shape[-2:] != (m, m) or B.shape[-2:] != (n, n):
        raise ValueError(
            f"Incompatible shapes for Sylvester equation:\nA: {A.shape}\nB: {B.shape}\nC: {C.shape}"
        )
    batch = tuple(np.broadcast_shapes(A.shape[:-2], B.shape[:-2], C.shape[:-2]))
    A, B, C = (jnp.broadcast_to(x, batch + x.shape[-2:]) for x in (A, B, C))
    fn = lambda a, b, c: _solve_sylvester_2d(a, b, c, method, tol)  # noqa: E731
    for _ in batch:
        fn = vmap(fn)
    return fn(A, B, C)


def _jit_as_jax():
    """Compile what JAX compiles: one executable per signature (fast eager calls) and a
    ``jit[name=...]`` equation in jaxprs."""
    from ..jit import jit

    g = globals()
    for name, static in (
        ("_cho_solve", ("lower",)),
        ("svd", ("full_matrices", "compute_uv", "overwrite_a", "check_finite", "lapack_driver")),
        (
            "eigh",
            (
                "lower",
                "eigvals_only",
                "overwrite_a",
                "overwrite_b",
                "turbo",
                "eigvals",
                "type",
                "check_finite",
            ),
        ),
        ("schur", ("output",)),
        ("lu_factor", ("overwrite_a", "check_finite")),
        ("lu_solve", ("trans", "overwrite_b", "check_finite")),
        ("lu", ("permute_l", "overwrite_a", "check_finite")),
        ("qr", ("overwrite_a", "lwork", "mode", "pivoting", "check_finite")),
        ("solve", ("lower", "overwrite_a", "overwrite_b", "debug", "check_finite", "assume_a")),
        (
            "solve_triangular",
            ("trans", "lower", "unit_diagonal", "overwrite_b", "debug", "check_finite"),
        ),
        ("expm", ("upper_triangular", "max_squarings")),
        ("expm_frechet", ("method", "compute_expm")),
        ("polar", ("side", "method", "eps", "max_iterations")),
        ("sqrtm", ("blocksize",)),
        ("solve_sylvester", ("method", "tol")),
    ):
        g[name] = jit(g[name], static_argnames=static)


_jit_as_jax()
