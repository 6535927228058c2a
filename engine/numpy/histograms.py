"""``digitize``, ``histogram``, ``histogram_bin_edges``, ``histogram2d`` and
``histogramdd`` as JAX computes them: bins by ``searchsorted`` (a value equal to the
last edge falls in the last bin), counts by a scatter-add, so they trace and jit when
the number of bins is static."""

from __future__ import annotations

import operator

import numpy as np

from .. import dtypes

__all__ = ["digitize", "histogram", "histogram_bin_edges", "histogram2d", "histogramdd"]


def _jnp():
    from .. import numpy as jnp

    return jnp


def digitize(x, bins, right=False, *, method=None):
    """Indices of the bins (monotonic, increasing or decreasing) each ``x`` falls in."""
    jnp = _jnp()
    x, bins = jnp.asarray(x), jnp.asarray(bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be a 1-dimensional array; got bins={bins}")
    idt = dtypes.default_int_dtype()
    if bins.shape[0] == 0:
        return jnp.zeros(x.shape, idt)
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    up = jnp.searchsorted(bins, x, side=side, **kw)
    down = bins.shape[0] - jnp.searchsorted(bins[::-1], x, side=side, **kw)
    return jnp.where(bins[-1] >= bins[0], up, down).astype(idt)


def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """The edges ``histogram`` would use (``weights`` is ignored, as in NumPy)."""
    from ._util import promote_dtypes_inexact

    jnp = _jnp()
    if isinstance(bins, str):
        raise NotImplementedError("string values for `bins` not implemented.")
    (a,) = promote_dtypes_inexact(jnp.ravel(jnp.asarray(a)))
    dt = a.dtype
    if np.ndim(bins) == 1:
        return jnp.asarray(bins, dt)
    bins = operator.index(bins)
    if range is None:
        lo, hi = a.min(), a.max()
    else:
        lo, hi = (jnp.asarray(r, dt) for r in range)
        if np.ndim(range) != 1 or len(range) != 2:
            raise ValueError(f"`range` must be a tuple of two values; got {range}")
    same = lo == hi
    lo = jnp.where(same, lo - 0.5, lo)
    hi = jnp.where(same, hi + 0.5, hi)
    return jnp.linspace(lo, hi, bins + 1, dtype=dt)


def histogram(a, bins=10, range=None, weights=None, density=None):
    """Counts (or summed weights) of ``a`` in ``bins`` and the bin edges."""
    from ._util import promote_dtypes_inexact

    jnp = _jnp()
    if weights is None:
        (a,) = promote_dtypes_inexact(jnp.asarray(a))
        weights = jnp.ones_like(a)
    else:
        a, weights = promote_dtypes_inexact(jnp.asarray(a), jnp.asarray(weights))
        if weights.shape != a.shape:
            raise ValueError("weights should have the same shape as a.")
    a, weights = jnp.ravel(a), jnp.ravel(weights)
    edges = histogram_bin_edges(a, bins, range, weights)
    idx = jnp.searchsorted(edges, a, side="right")
    idx = jnp.where(a == edges[-1], edges.shape[0] - 1, idx)
    counts = jnp.zeros(edges.shape, weights.dtype).at[idx].add(weights)[1:]
    if density:
        widths = jnp.diff(edges)
        counts = counts / widths / counts.sum()
    return counts, edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):
    """The ``D``-dimensional histogram of an ``(N, D)`` sample and its ``D`` edge arrays."""
    from ._util import promote_dtypes_inexact

    jnp = _jnp()
    if weights is None:
        (sample,) = promote_dtypes_inexact(jnp.asarray(sample))
    else:
        sample, weights = promote_dtypes_inexact(jnp.asarray(sample), jnp.asarray(weights))
        if weights.shape != sample.shape[:1]:
            raise ValueError("should have one weight for each sample.")
    if sample.ndim != 2:
        raise ValueError(f"sample must be 2-dimensional, got shape {sample.shape}")
    N, D = sample.shape
    if isinstance(bins, int) or np.ndim(bins) == 0 and not isinstance(bins, (list, tuple)):
        bins = [bins] * D
    if len(bins) != D:
        raise ValueError("should be a bin for each dimension.")
    ranges = [None] * D if range is None else range
    if len(ranges) != D:
        raise ValueError("should be a range for each dimension.")
    edges, idxs, nbins = [], [], []
    for i in builtins_range(D):
        e = histogram_bin_edges(sample[:, i], bins[i], ranges[i], weights)
        ix = jnp.searchsorted(e, sample[:, i], side="right")
        ix = jnp.where(sample[:, i] == e[-1], e.shape[0] - 1, ix)
        edges.append(e)
        idxs.append(ix)
        nbins.append(e.shape[0] + 1)
    from .index_tricks import ravel_multi_index

    flat = ravel_multi_index(tuple(idxs), tuple(nbins), mode="clip")
    hist = jnp.bincount(flat, weights, length=int(np.prod(nbins)))
    hist = jnp.reshape(hist, tuple(nbins))
    hist = hist[(slice(1, -1),) * D]
    if density:
        hist = hist / hist.sum()
        for i in builtins_range(D):
            shape = [1] * D
            shape[i] = nbins[i] - 2
            hist = hist / jnp.reshape(jnp.diff(edges[i]), shape)
    return hist, edges


builtins_range = range


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):
    """The 2-d histogram of ``x`` and ``y`` and its two edge arrays."""
    jnp = _jnp()
    from ._util import promote_dtypes_inexact

    x, y = promote_dtypes_inexact(jnp.asarray(x), jnp.asarray(y))
    try:
        n = len(bins)
    except TypeError:
        n = 1
    if n == 2:
        bins = list(bins)
    elif n == 1 or np.ndim(bins) == 1:
        bins = [bins, bins]
    sample = jnp.stack([x, y], axis=1)
    hist, edges = histogramdd(sample, bins, range, weights, density)
    return hist, edges[0], edges[1]
