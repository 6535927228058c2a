"""Index helpers: ``mgrid``/``ogrid``/``r_``/``c_``/``s_``/``index_exp``, ``ix_``,
``indices``, the triangle and diagonal index functions, ``ravel_multi_index``/
``unravel_index`` and ``fill_diagonal``, with JAX's semantics (results are arrays of
the default int or float dtype; ``fill_diagonal`` returns a new array)."""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes

__all__ = [
    "mgrid",
    "ogrid",
    "r_",
    "c_",
    "s_",
    "index_exp",
    "ix_",
    "indices",
    "diag_indices",
    "diag_indices_from",
    "tril_indices",
    "triu_indices",
    "tril_indices_from",
    "triu_indices_from",
    "mask_indices",
    "ravel_multi_index",
    "unravel_index",
    "fill_diagonal",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _slice_points(s):
    """One axis of a grid from a slice: ``arange`` or, for an imaginary step, ``linspace``."""
    jnp = _jnp()
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    if isinstance(step, complex):
        return jnp.linspace(start, s.stop, int(abs(step)), endpoint=True)
    return jnp.arange(start, s.stop, step)


class _Grid:
    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        jnp = _jnp()
        if isinstance(key, slice):
            return _slice_points(key)
        axes = [_slice_points(k) for k in key]
        dt = dtypes.result_type(*axes)
        axes = [a.astype(dt) for a in axes]
        if self.sparse:
            n = len(axes)
            return [
                jnp.reshape(a, (1,) * i + (-1,) + (1,) * (n - i - 1)) for i, a in enumerate(axes)
            ]
        if not axes:
            return jnp.array([], dt)
        return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), 0)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


class _Concat:
    """``r_`` (``axis=0``) and ``c_`` (``axis=-1``, 1-d inputs made 2-d columns)."""

    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        jnp = _jnp()
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        items = list(key)
        matrix = None
        if items and isinstance(items[0], str):
            spec = items.pop(0)
            if spec in ("r", "c"):
                matrix = spec
            else:
                parts = [int(p) for p in spec.split(",")]
                axis = parts[0]
                if len(parts) > 1:
                    ndmin = parts[1]
                if len(parts) > 2:
                    trans1d = parts[2]
        arrs = []
        for it in items:
            if isinstance(it, slice):
                a = _slice_points(it)
            elif isinstance(it, str):
                raise ValueError("string directive must be placed at the beginning")
            else:
                a = jnp.asarray(it)
            if a.ndim < ndmin:
                a = jnp.array(a, copy=False, ndmin=ndmin)
                if trans1d != -1 and np.ndim(it) < ndmin:
                    # move the original axes so that they end at position trans1d
                    t = trans1d % ndmin
                    orig = list(range(ndmin - max(np.ndim(it), 1), ndmin))
                    rest = [d for d in range(ndmin) if d not in orig]
                    start = t - len(orig) + 1
                    perm = rest[:start] + orig + rest[start:]
                    a = jnp.transpose(a, perm)
            arrs.append(a)
        out = jnp.concatenate(arrs, axis=axis)
        if matrix == "r" and out.ndim == 1:
            out = out[None, :]
        elif matrix == "c" and out.ndim == 1:
            out = out[:, None]
        return out

    def __len__(self):
        return 0


r_ = _Concat(0, 1, -1)
c_ = _Concat(-1, 2, 0)
s_ = np.s_
index_exp = np.index_exp


def ix_(*args):
    """Open-mesh index arrays from 1-d sequences (booleans are not accepted, as in JAX)."""
    jnp = _jnp()
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = jnp.asarray(a)
        if a.ndim != 1:
            raise ValueError(
                f"Arguments to jax.numpy.ix_ must be 1-dimensional, got shape {a.shape}"
            )
        if a.dtype == np.bool_:
            raise TypeError("Boolean arguments to jax.numpy.ix_ are not supported.")
        out.append(jnp.reshape(a, (1,) * i + (a.shape[0],) + (1,) * (n - i - 1)))
    return tuple(out)


def indices(dimensions, dtype=None, sparse=False):
    """The grid of indices of an array of shape ``dimensions``."""
    jnp = _jnp()
    from ..lax import broadcast_in_dim, iota

    dtype = dtypes.canonicalize_dtype(dtype or dtypes.default_int_dtype())
    dimensions = tuple(int(d) for d in dimensions)
    n = len(dimensions)
    outs = []
    for i, d in enumerate(dimensions):
        # an iota broadcast into place, as JAX's (one equation more than a broadcasted iota)
        s = (1,) * i + (d,) + (1,) * (n - i - 1) if sparse else dimensions
        outs.append(broadcast_in_dim(iota(dtype, d), s, (i,)))
    return tuple(outs) if sparse else jnp.stack(outs, 0) if outs else jnp.zeros((0,), dtype)


def diag_indices(n, ndim=2):
    """Indices of the main diagonal of an ``ndim``-dimensional ``n x ... x n`` array."""
    n, ndim = int(n), int(ndim)
    if n < 0:
        raise ValueError(f"n argument to diag_indices must be nonnegative, got {n}")
    if ndim < 0:
        raise ValueError(f"ndim argument to diag_indices must be nonnegative, got {ndim}")
    return (_jnp().arange(n),) * ndim


def diag_indices_from(arr):
    a = _jnp().asarray(arr)
    if a.ndim < 2:
        raise ValueError("input array must be at least 2-d")
    if len(set(a.shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return diag_indices(a.shape[0], a.ndim)


def _host_int_pair(r):
    idt = dtypes.default_int_dtype()
    return tuple(_jnp().asarray(np.asarray(x).astype(idt)) for x in r)


def _triu_size(n, m, k):
    if k < 0:
        return n * m - _triu_size(m, n, 1 - k)
    if k >= m:
        return 0
    mk = min(n, m - k)
    return mk * (mk + 1) // 2 + mk * (m - k - mk)


def _tri_indices(name, n, k, m):
    """The nonzero positions of tril/triu of ones((n, m)), with their static count, as
    JAX's (so its jaxprs show the tril/triu and nonzero equations)."""
    from ._util import concrete_value

    jnp = _jnp()
    n = operator.index(concrete_value(n, f"n argument of jnp.{name}_indices"))
    k = operator.index(concrete_value(k, f"k argument of jnp.{name}_indices"))
    m = n if m is None else operator.index(concrete_value(m, f"m argument of jnp.{name}_indices"))
    if name == "triu":
        mask, size = jnp.triu(jnp.ones((n, m)), k=k), _triu_size(n, m, k)
    else:
        mask, size = jnp.tril(jnp.ones((n, m)), k=k), _triu_size(m, n, -k)
    return jnp.nonzero(mask, size=size)


def tril_indices(n, k=0, m=None):
    return _tri_indices("tril", n, k, m)


def triu_indices(n, k=0, m=None):
    return _tri_indices("triu", n, k, m)


def tril_indices_from(arr, k=0):
    s = np.shape(arr)
    if len(s) != 2:
        raise ValueError("Only 2-D inputs are accepted")
    return tril_indices(s[0], k, s[1])


def triu_indices_from(arr, k=0):
    s = np.shape(arr)
    if len(s) != 2:
        raise ValueError("Only 2-D inputs are accepted")
    return triu_indices(s[0], k, s[1])


def mask_indices(n, mask_func, k=0, *, size=None):
    """Indices where ``mask_func(ones((n, n)), k)`` is nonzero."""
    jnp = _jnp()
    i, j = jnp.nonzero(mask_func(jnp.ones((n, n)), k), size=size)
    return i, j


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of the index arrays ``multi_index`` into an array of shape ``dims``.
    ``mode='raise'`` needs concrete indices; ``'clip'`` and ``'wrap'`` are traceable."""
    jnp = _jnp()
    dims = tuple(int(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"parameter multi_index must be a sequence of length {len(dims)}")
    if order not in ("C", "F"):
        raise ValueError("only 'C' or 'F' order is permitted")
    idx = [jnp.asarray(i) for i in multi_index]
    for i in idx:
        if not dtypes.is_int(i.dtype):
            raise TypeError("only int indices permitted")
    if mode == "raise":
        from ._util import concrete_value

        for i, d in zip(idx, dims):
            v = np.asarray(
                concrete_value(i, "The error arose in ravel_multi_index() with mode='raise'")
            )
            if np.any(v < 0) or np.any(v >= d):
                raise ValueError("invalid entry in coordinates array")
    elif mode == "clip":
        idx = [jnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [i % d for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"invalid mode={mode!r}. Expected 'raise', 'wrap', or 'clip'")
    if order == "F":
        idx, dims = idx[::-1], dims[::-1]
    strides = np.cumprod((1,) + dims[::-1][:-1])[::-1]
    out = 0
    for i, s in zip(idx, strides):
        out = out + i * int(s)
    return jnp.asarray(out)


def unravel_index(indices, shape):
    """The coordinate arrays of flat ``indices`` into an array of ``shape`` (out-of-range
    indices are clipped, as in JAX)."""
    jnp = _jnp()
    idx = jnp.asarray(indices)
    if not dtypes.is_int(idx.dtype):
        raise TypeError("only int indices permitted")
    shape = list(shape) if isinstance(shape, (tuple, list)) else [shape]
    if any(np.ndim(s) != 0 for s in shape):
        raise ValueError("unravel_index: shape should be a scalar or 1D sequence.")
    # as JAX's (so its jaxpr is JAX's): divmod from the last axis, then what is left
    # over clips to the last (or, below -1, the first) index of each axis
    out: list = [0] * len(shape)
    for i, s in reversed(list(enumerate(shape))):
        idx, out[i] = jnp.divmod(idx, s)
    oob_pos = idx > 0
    oob_neg = jnp.asarray(False) if dtypes.issubdtype(idx.dtype, np.unsignedinteger) else idx < -1
    return tuple(jnp.where(oob_pos, s - 1, jnp.where(oob_neg, 0, i)) for s, i in zip(shape, out))


def fill_diagonal(a, val, wrap=False, *, inplace=True):
    """A copy of ``a`` with its main diagonal set to ``val`` (JAX requires
    ``inplace=False``: arrays are immutable)."""
    jnp = _jnp()
    if inplace:
        raise NotImplementedError("JAX arrays are immutable, must use inplace=False")
    if wrap:
        raise NotImplementedError("wrap=True is not implemented, must use wrap=False")
    a = jnp.asarray(a)
    if a.ndim < 2:
        raise ValueError("array must be at least 2-d")
    if a.ndim > 2 and not all(n == a.shape[0] for n in a.shape[1:]):
        raise ValueError("All dimensions of input must be of equal length")
    n = min(a.shape)
    idx = jnp.arange(n)
    val = jnp.resize(jnp.ravel(jnp.asarray(val)), (n,))
    return a.at[(idx,) * a.ndim].set(val.astype(a.dtype))
