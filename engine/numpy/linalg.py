"""``jnp.linalg``: JAX's 31 functions. Norms and products are here; the
decompositions and solves (cholesky, qr, svd, eigh, eig, solve, inv, det, slogdet,
pinv, lstsq, ...) are in ``linalg_decomp`` on top of ``lax.linalg``."""

from __future__ import annotations

import numpy as np

from .. import dtypes, lax
from ._util import (
    as_array,
    canonicalize_axis,
    check_arraylike,
    ndim_of,
    promote_args_inexact,
    weak_scalar,
)
from .linalg_decomp import (  # noqa: F401,E402
    EighResult,
    EigResult,
    QRResult,
    SlogdetResult,
    SVDResult,
    cholesky,
    cond,
    det,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    inv,
    lstsq,
    matrix_power,
    matrix_rank,
    multi_dot,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    tensorinv,
    tensorsolve,
)
from .linalg_ops import cross, matmul, outer, tensordot, vecdot  # noqa: F401
from .misc import diagonal as _diagonal
from .misc import trace as _trace
from .shape_ops import matrix_transpose  # noqa: F401

__all__ = [
    "cholesky",
    "cond",
    "det",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensorinv",
    "tensorsolve",
    "norm",
    "vector_norm",
    "matrix_norm",
    "cross",
    "matmul",
    "outer",
    "tensordot",
    "vecdot",
    "matrix_transpose",
    "trace",
    "diagonal",
]


def _abs(x):
    return lax.abs(x)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """``sum(|x|**ord) ** (1/ord)`` over ``axis`` (all axes when None); ord may be inf,
    -inf or 0 (the count of non-zeros)."""
    from .reductions import max as max_
    from .reductions import min as min_
    from .reductions import sum as sum_
    from .shape_ops import ravel, reshape

    (x,) = promote_args_inexact("jnp.linalg.vector_norm", x)
    x = as_array(x)
    if axis is None:
        out = vector_norm(ravel(x), axis=0, ord=ord)
        return reshape(out, (1,) * ndim_of(x)) if keepdims else out
    a = _abs(x)
    if ord == 2:
        return lax.sqrt(
            sum_(
                lax.real(lax.mul(x, lax.conj(x))) if dtypes.is_complex(x.dtype) else lax.mul(x, x),
                axis=axis,
                keepdims=keepdims,
            )
        )
    if ord == np.inf:
        return max_(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min_(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        nz = lax.convert_element_type(lax.ne(x, lax.full_like(x, 0)), a.dtype)
        return sum_(nz, axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum_(a, axis=axis, keepdims=keepdims)
    p = weak_scalar(ord, a.dtype)
    return lax.pow(
        sum_(lax.pow(a, p), axis=axis, keepdims=keepdims), lax.div(weak_scalar(1.0, a.dtype), p)
    )


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (1-D or an int axis) and the Frobenius / 1 / inf / nuclear-free matrix
    norms (2-D or a pair of axes)."""
    from .reductions import max as max_
    from .reductions import min as min_
    from .reductions import sum as sum_

    check_arraylike("jnp.linalg.norm", x)
    (x,) = promote_args_inexact("jnp.linalg.norm", x)
    x = as_array(x)
    nd = ndim_of(x)
    if axis is None:
        if ord is None:
            return vector_norm(x, axis=None, keepdims=keepdims)
        axis = tuple(range(nd))
    if isinstance(axis, int) or (isinstance(axis, tuple) and len(axis) == 1):
        ax = axis if isinstance(axis, int) else axis[0]
        return vector_norm(x, axis=ax, keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axis) != 2:
        raise ValueError("Invalid axis for norm.")
    r, c = (canonicalize_axis(a, nd) for a in axis)
    if ord in (None, "fro", "f"):
        return vector_norm(x, axis=(r, c), keepdims=keepdims, ord=2)
    a = _abs(x)
    if ord in (1, -1):
        col = sum_(a, axis=r, keepdims=True)
        red = max_ if ord == 1 else min_
        out = red(col, axis=c, keepdims=True)
    elif ord in (np.inf, -np.inf):
        row = sum_(a, axis=c, keepdims=True)
        red = max_ if ord == np.inf else min_
        out = red(row, axis=r, keepdims=True)
    elif ord in ("nuc", 2, -2):
        from .linalg_decomp import svd as _svd
        from .shape_ops import expand_dims, moveaxis

        s = _svd(moveaxis(x, (r, c), (-2, -1)), compute_uv=False)
        y = max_(s, axis=-1) if ord == 2 else (min_(s, axis=-1) if ord == -2 else sum_(s, axis=-1))
        return expand_dims(y, (r, c)) if keepdims else y
    else:
        raise ValueError(f"Invalid order '{ord}' for matrix norm.")
    if not keepdims:
        out = lax.squeeze(out, (r, c))
    return out


def trace(x, /, *, offset=0, dtype=None):
    return _trace(x, offset, -2, -1, dtype)


def diagonal(x, /, *, offset=0):
    return _diagonal(x, offset, -2, -1)


def _jit_as_jax():
    """Compile the functions JAX compiles (one executable per signature, and a
    ``jit[name=...]`` equation in jaxprs, as JAX shows)."""
    from ..jit import jit
    from . import linalg_decomp as d

    g = globals()
    for fn, static in (
        (d.cholesky, ("upper", "symmetrize_input")),
        (d.svd, ("full_matrices", "compute_uv", "hermitian", "subset_by_index")),
        (d.matrix_power, ("n",)),
        (d.matrix_rank, ("hermitian",)),
        (d.slogdet, ("method",)),
        (d.det, ()),
        (d.eigvals, ()),
        (d.eigh, ("UPLO", "symmetrize_input")),
        (d.eigvalsh, ("UPLO", "symmetrize_input")),
        (d.inv, ()),
        (d.qr, ("mode",)),
        (d.solve, ()),
        (d.cond, ("p",)),
        (norm, ("ord", "axis", "keepdims")),
        (d.pinv, ("hermitian",)),
    ):
        g[fn.__name__] = jit(fn, static_argnames=static)
    jitted_lstsq = jit(d.lstsq, static_argnames=("numpy_resid",))

    def lstsq(a, b, rcond=None, *, numpy_resid=False):
        # numpy_resid decides the residuals' shape from the rank: not compiled, as in JAX
        if numpy_resid:
            return d.lstsq(a, b, rcond, numpy_resid=True)
        return jitted_lstsq(a, b, rcond)

    lstsq.__doc__ = d.lstsq.__doc__
    g["lstsq"] = lstsq


_jit_as_jax()
