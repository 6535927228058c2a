"""``digitize``, ``histogram``, ``histogram_bin_edges``, ``histogram2d`` and
``histogramdd`` as JAX 0.10.2 computes them (so their jaxprs are JAX's): bins by
``searchsorted`` (a value equal to the last edge falls in the last bin), counts by a
scatter-add, so they trace and jit when the number of bins is static."""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits
from ._util import check_arraylike, concrete_value, promote_dtypes_inexact, to_inexact_dtype

__all__ = ["digitize", "histogram", "histogram_bin_edges", "histogram2d", "histogramdd"]


def _jnp():
    from .. import numpy as jnp

    return jnp


@as_jax_jits("digitize", ("right", "method"))
def digitize(x, bins, right=False, *, method=None):
    """Indices of the bins (monotonic, increasing or decreasing) each ``x`` falls in."""
    jnp = _jnp()
    check_arraylike("digitize", x, bins)
    x, bins_arr = jnp.asarray(x), jnp.asarray(bins)
    right = bool(concrete_value(right, "right argument of jnp.digitize()"))
    if bins_arr.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array; got bins={bins}")
    if bins_arr.shape[0] == 0:
        return jnp.zeros_like(x, dtype=np.int32)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    return jnp.where(
        bins_arr[-1] >= bins_arr[0],
        jnp.searchsorted(bins_arr, x, side=side, **kw),
        bins_arr.shape[0] - jnp.searchsorted(bins_arr[::-1], x, side=side, **kw),
    )


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The edges ``histogram`` would use (``weights`` is ignored, as in NumPy)."""
    jnp = _jnp()
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    check_arraylike("histogram_bin_edges", a, bins)
    arr = jnp.asarray(a)
    dtype = to_inexact_dtype(arr.dtype)
    if np.ndim(bins) == 1:
        return jnp.asarray(bins, dtype=dtype)
    n = operator.index(concrete_value(bins, "bins argument of histogram_bin_edges"))
    if range is None:
        range = [arr.min(), arr.max()]
    range = jnp.asarray(range, dtype=dtype)
    if np.shape(range) != (2,):
        raise ValueError(f"`range` must be either None or a sequence of scalars, got {range}")
    lo = jnp.where(jnp.ptp(range) == 0, range[0] - 0.5, range[0])
    hi = jnp.where(jnp.ptp(range) == 0, range[1] + 0.5, range[1])
    return jnp.linspace(lo, hi, n + 1, dtype=dtype)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """Counts (or summed weights) of ``a`` in ``bins`` and the bin edges."""
    jnp = _jnp()
    if weights is None:
        check_arraylike("histogram", a, bins)
        (a,) = promote_dtypes_inexact(jnp.asarray(a))
        weights = jnp.ones_like(a)
    else:
        check_arraylike("histogram", a, bins, weights)
        if np.shape(a) != np.shape(weights):
            raise ValueError("weights should have the same shape as a.")
        a, weights = promote_dtypes_inexact(jnp.asarray(a), jnp.asarray(weights))
    edges = histogram_bin_edges(a, bins, range, weights)
    idx = jnp.searchsorted(edges, a, side="right")
    idx = jnp.where(a == edges[-1], len(edges) - 1, idx)
    counts = jnp.zeros(len(edges), weights.dtype).at[idx].add(weights)[1:]
    if density:
        counts = counts / jnp.diff(edges) / counts.sum()
    return counts, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """The 2-d histogram of ``x`` and ``y`` and its two edge arrays."""
    jnp = _jnp()
    check_arraylike("histogram2d", x, y)
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n != 1 and n != 2:  # one array of edges, for both axes
        edges = jnp.asarray(bins)
        bins = [edges, edges]
    sample = jnp.transpose(jnp.asarray([x, y]))
    hist, edges = histogramdd(sample, bins, range, weights, density)
    return hist, edges[0], edges[1]


def _ravel_clipped(idx, dims):
    """ravel_multi_index(idx, dims, mode='clip') as JAX's computes it."""
    jnp = _jnp()
    dtype = dtypes.result_type(int, *idx)
    idx = [jnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    strides = np.cumprod((1,) + dims[1:][::-1])[::-1]
    out = jnp.array(0, dtype=dtype)
    for i, s in zip(idx, strides):
        out = out + i.astype(dtype) * int(s)
    return out


def _open_mesh(arrays):
    """jnp.ix_ of 1-D arrays as JAX builds it: each broadcast into its axis."""
    from .. import lax

    n = len(arrays)
    out = []
    for i, a in enumerate(arrays):
        shape = [1] * n
        shape[i] = a.shape[0]
        if a.size == 0:  # an integer index type, as NumPy's
            out.append(lax.full(shape, np.zeros((), np.intp)))
        else:
            out.append(lax.broadcast_in_dim(a, shape, (i,)))
    return out


def histogramdd(sample, bins=10, range=None, weights=None, density=None):
    """The ``D``-dimensional histogram of an ``(N, D)`` sample and its ``D`` edge arrays."""
    jnp = _jnp()
    if weights is None:
        check_arraylike("histogramdd", sample)
        (sample,) = promote_dtypes_inexact(jnp.asarray(sample))
    else:
        check_arraylike("histogramdd", sample, weights)
        if np.shape(weights) != np.shape(sample)[:1]:
            raise ValueError("should have one weight for each sample.")
        sample, weights = promote_dtypes_inexact(jnp.asarray(sample), jnp.asarray(weights))
    N, D = np.shape(sample)
    if range is not None and (
        len(range) != D or any(r is not None and np.shape(r)[0] != 2 for r in range)
    ):
        raise ValueError(
            f"For sample.shape={(N, D)}, range must be a sequence "
            f"of {D} pairs or Nones; got range={range}"
        )
    try:
        per_dim = list(bins)
    except TypeError:
        per_dim = D * [bins]
    else:
        if len(per_dim) != D:
            raise ValueError("should be a bin for each dimension.")
    idxs, edges = [], []
    for i in builtins.range(D):
        r = None if range is None else range[i]
        e = histogram_bin_edges(sample[:, i], per_dim[i], r, weights)
        ix = jnp.searchsorted(e, sample[:, i], side="right")
        ix = jnp.where(sample[:, i] == e[-1], ix - 1, ix)
        idxs.append(ix)
        edges.append(e)
    nbins = tuple(len(e) + 1 for e in edges)
    dedges = [jnp.diff(e) for e in edges]
    flat = _ravel_clipped(tuple(idxs), nbins)
    hist = jnp.bincount(flat, weights, length=math.prod(nbins))
    hist = jnp.reshape(hist, nbins)
    hist = hist[D * (slice(1, -1),)]
    if density:
        hist = hist.astype(sample.dtype)
        hist /= hist.sum()
        for norm in _open_mesh(dedges):
            hist /= norm
    return hist, edges
