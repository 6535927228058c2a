"""Shared pieces of the linear-algebra primitives: how one is declared (dtype and
batched-shape rules, batching over leading dimensions), and the small matrix helpers
their JVP rules use (triangles, conjugate transpose, identity, batched matmul)."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching
from ._base import check_dtypes

FLOAT_COMPLEX = ("float", "complex")


def linalg_primitive(name, kinds, ranks, shape_rule, dtype_rule, multiple_results=False):
    """A primitive over batches of matrices: operand ``i`` has ``ranks[i]`` core
    dimensions after the same leading batch dimensions. ``shape_rule(*core_shapes,
    **params)`` and ``dtype_rule(*dtypes, **params)`` give the core output shape(s)
    and dtype(s). Batching moves the vmapped axis in front of the batch dimensions."""
    p = Primitive(name, multiple_results=multiple_results)

    def abstract_eval(*avals, **params):
        for aval, k in zip(avals, kinds):
            check_dtypes(name, [aval], k)
        batch, cores = [], []
        for i, (rank, aval) in enumerate(zip(ranks, avals)):
            if aval.ndim < rank:
                raise TypeError(
                    f"Input {i} to {name} must have rank at least {rank}, but got "
                    f"shape={aval.shape}"
                )
            batch.append(tuple(aval.shape[: aval.ndim - rank]))
            cores.append(tuple(aval.shape[aval.ndim - rank :]))
        if any(len(b) != len(batch[0]) for b in batch):
            raise TypeError(
                f"All inputs to {name} must have the same number of batch dimensions, "
                f"but got {[len(b) for b in batch]} batch dimensions for the inputs."
            )
        shapes = shape_rule(*cores, **params)
        out_dtypes = dtype_rule(*[a.dtype for a in avals], **params)
        weak = all(a.weak_type for a in avals)
        if multiple_results:
            return [
                ShapedArray(batch[0] + tuple(s), np.dtype(d), weak)
                for s, d in zip(shapes, out_dtypes)
            ]
        return ShapedArray(batch[0] + tuple(shapes), np.dtype(out_dtypes), weak)

    p.def_abstract_eval(abstract_eval)

    def batch_rule(size, vals, dims, **params):
        vals = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(vals, dims)]
        out = p.bind(*vals, **params)
        return out, ([0] * len(out) if multiple_results else 0)

    p.def_batch(batch_rule)
    return p


def same_dtype(dtype, *_, **__):
    return dtype


# ---------------------------------------------------------------------------- matrix helpers


def aval(x):
    return core.get_aval(x)


def T(x):
    """Swap the last two axes."""
    from .structural import transpose

    n = aval(x).ndim
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def H(x):
    """Conjugate transpose (plain transpose for real matrices)."""
    from .elementwise import conj

    x = T(x)
    return conj(x) if dtypes.is_complex(aval(x).dtype) else x


def symmetrize(x):
    """(x + x^H) / 2."""
    from .elementwise import _const, add, div

    return div(add(x, H(x)), _const(2, x))


def tri_mask(n, m, k):
    """Boolean (n, m) mask of j <= i + k (JAX's lax._tri)."""
    from .elementwise import add
    from .logic import ge
    from .structural import broadcasted_iota

    rows = add(broadcasted_iota(np.int32, (n, m), 0), np.asarray(k, np.int32))
    cols = broadcasted_iota(np.int32, (n, m), 1)
    return ge(rows, cols)


def _masked(m, mask, keep_where_true):
    from .logic import select
    from .structural import broadcast_in_dim, full_like

    shape = aval(m).shape
    if len(shape) > 2:
        mask = broadcast_in_dim(mask, shape, (len(shape) - 2, len(shape) - 1))
    zeros = full_like(m, 0)
    return select(mask, m, zeros) if keep_where_true else select(mask, zeros, m)


def tril(m, k=0):
    *_, n, c = aval(m).shape
    return _masked(m, tri_mask(n, c, k), True)


def triu(m, k=0):
    *_, n, c = aval(m).shape
    return _masked(m, tri_mask(n, c, k - 1), False)


def eye(dtype, n, m=None):
    from .convert import convert_element_type
    from .logic import eq
    from .structural import broadcasted_iota

    m = n if m is None else m
    return convert_element_type(
        eq(broadcasted_iota(np.int32, (n, m), 0), broadcasted_iota(np.int32, (n, m), 1)), dtype
    )


def expand_to(x, ndim):
    """Prepend size-1 axes up to rank ``ndim``."""
    from .structural import expand_dims

    k = ndim - aval(x).ndim
    return expand_dims(x, tuple(range(k))) if k > 0 else x


def mm(a, b):
    """Batched matrix product at HIGHEST precision, broadcasting the batch dims."""
    from .dot import Precision, dot_general
    from .structural import broadcast_in_dim

    aa, ba = aval(a), aval(b)
    batch = tuple(np.broadcast_shapes(aa.shape[:-2], ba.shape[:-2]))
    nb = len(batch)
    if aa.shape[:-2] != batch:
        a = broadcast_in_dim(a, batch + aa.shape[-2:], tuple(range(nb + 2 - aa.ndim, nb + 2)))
    if ba.shape[:-2] != batch:
        b = broadcast_in_dim(b, batch + ba.shape[-2:], tuple(range(nb + 2 - ba.ndim, nb + 2)))
    bd = tuple(range(nb))
    return dot_general(a, b, (((nb + 1,), (nb,)), (bd, bd)), precision=Precision.HIGHEST)


def diag_part(x):
    """The main diagonal of the last two axes: (..., n, m) -> (..., min(n, m))."""
    from ..numpy import diagonal

    return diagonal(x, 0, -2, -1)


def diag_matrix(s):
    """(..., k) -> (..., k, k) with s on the diagonal."""
    from .elementwise import mul
    from .structural import broadcast_in_dim

    k = aval(s).shape[-1]
    shape = aval(s).shape + (k,)
    nd = len(shape)
    return mul(
        broadcast_in_dim(s, shape, tuple(range(nd - 1))),
        broadcast_in_dim(eye(aval(s).dtype, k), shape, (nd - 2, nd - 1)),
    )


def to_dtype(x, dtype):
    from .convert import convert_element_type

    return x if aval(x).dtype == np.dtype(dtype) else convert_element_type(x, dtype)
