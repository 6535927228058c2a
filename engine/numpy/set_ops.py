"""Set operations: ``unique`` (with JAX's static ``size=``/``fill_value``, so it traces),
the array-API ``unique_all/counts/inverse/values``, and ``intersect1d``, ``setdiff1d``,
``setxor1d``, ``union1d``. One sort-based routine computes everything: sort, mark
the first of each run of equal values, and compact the marks with ``nonzero(size=)``.
Without ``size`` the number of unique values is read from a concrete array."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import dtypes

__all__ = [
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "intersect1d",
    "setdiff1d",
    "setxor1d",
    "union1d",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


class _UniqueAllResult(NamedTuple):
    values: object
    indices: object
    inverse_indices: object
    counts: object


class _UniqueCountsResult(NamedTuple):
    values: object
    counts: object


class _UniqueInverseResult(NamedTuple):
    values: object
    inverse_indices: object


def _static_size(mask, size, what):
    from ._util import concrete_value

    if size is not None:
        return int(size)
    m = concrete_value(
        mask,
        f"The error arose in {what}(). When jit-compiling {what}(), the size argument "
        "must be specified.",
    )
    return int(np.asarray(m).sum())


def _unique_1d(a, size, fill_value, equal_nan, what="jnp.unique"):
    """values, first indices, inverse (into the flat input), counts of the flat ``a``."""
    jnp = _jnp()
    idt = dtypes.default_int_dtype()
    n = a.shape[0]
    if n == 0:
        z = jnp.zeros((0 if size is None else int(size),), idt)
        vals = jnp.zeros(z.shape, a.dtype)
        if fill_value is not None:
            vals = jnp.full(z.shape, fill_value, a.dtype)
        return vals, z, jnp.zeros((0,), idt), z
    perm = jnp.argsort(a, stable=True)
    s = a[perm]
    diff = s[1:] != s[:-1]
    if equal_nan and dtypes.is_inexact(a.dtype):
        diff = diff & ~(jnp.isnan(s[1:]) & jnp.isnan(s[:-1]))
    mask = jnp.concatenate([jnp.ones((1,), bool), diff])
    size = _static_size(mask, size, what)
    (ind,) = jnp.nonzero(mask, size=size, fill_value=n)
    valid = ind < n
    safe = jnp.where(valid, ind, 0)
    fill = s[0] if fill_value is None else jnp.asarray(fill_value, a.dtype)
    vals = jnp.where(valid, s[safe], fill)
    first = jnp.where(valid, perm[safe], perm[0]).astype(idt)
    inv_sorted = (jnp.cumsum(mask) - 1).astype(idt)
    inverse = jnp.zeros((n,), idt).at[perm].set(inv_sorted)
    counts = jnp.zeros((max(n, size),), idt).at[inv_sorted].add(1)[:size]
    counts = jnp.where(valid, counts, 0)
    return vals, first, inverse, counts


def unique(
    ar,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    *,
    equal_nan=True,
    size=None,
    fill_value=None,
    sorted=True,
):
    """Sorted unique elements of ``ar`` (optionally first indices, inverse, counts).
    Give a static ``size`` to trace it: the result is cut or padded with
    ``fill_value`` (default: the smallest value)."""
    from ._util import check_arraylike
    from .statistics import unique as _unique_axis

    jnp = _jnp()
    check_arraylike("unique", ar)
    if not sorted:
        raise ValueError("jnp.unique: sorted=False is not implemented")
    if axis is not None:
        return _unique_axis(
            ar, return_index, return_inverse, return_counts, axis, equal_nan=equal_nan, size=size
        )
    a = jnp.asarray(ar)
    vals, first, inverse, counts = _unique_1d(jnp.ravel(a), size, fill_value, equal_nan)
    out = [vals]
    if return_index:
        out.append(first)
    if return_inverse:
        out.append(jnp.reshape(inverse, a.shape))
    if return_counts:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def unique_all(x, /, *, size=None, fill_value=None):
    v, i, inv, c = unique(x, True, True, True, size=size, fill_value=fill_value)
    return _UniqueAllResult(v, i, inv, c)


def unique_counts(x, /, *, size=None, fill_value=None):
    v, c = unique(x, return_counts=True, size=size, fill_value=fill_value)
    return _UniqueCountsResult(v, c)


def unique_inverse(x, /, *, size=None, fill_value=None):
    v, inv = unique(x, return_inverse=True, size=size, fill_value=fill_value)
    return _UniqueInverseResult(v, inv)


def unique_values(x, /, *, size=None, fill_value=None):
    return unique(x, size=size, fill_value=fill_value)


def _sorted_with_mask(values, keep, size, fill_value, what):
    """The ``keep``-marked entries of sorted ``values``, padded to ``size``."""
    jnp = _jnp()
    size = _static_size(keep, size, what)
    (ind,) = jnp.nonzero(keep, size=size, fill_value=values.shape[0])
    valid = ind < values.shape[0]
    safe = jnp.where(valid, ind, 0)
    if fill_value is None:  # the first selected value (or 0 when none is)
        fill = jnp.where(valid[0], values[safe[0]], 0) if size else jnp.zeros((), values.dtype)
    else:
        fill = jnp.asarray(fill_value, values.dtype)
    return jnp.where(valid, values[safe], fill), ind, valid


def union1d(ar1, ar2, *, size=None, fill_value=None):
    """Sorted unique values in either array."""
    jnp = _jnp()
    a = jnp.concatenate([jnp.ravel(jnp.asarray(ar1)), jnp.ravel(jnp.asarray(ar2))])
    return unique(a, size=size, fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """Sorted unique values of ``ar1`` not in ``ar2`` (padded with ``fill_value``,
    default 0)."""
    jnp = _jnp()
    a1 = jnp.ravel(jnp.asarray(ar1))
    a2 = jnp.ravel(jnp.asarray(ar2))
    a1, a2 = jnp.asarray(a1), jnp.asarray(a2).astype(a1.dtype)
    if a1.shape[0] == 0:
        return jnp.zeros((0 if size is None else size,), a1.dtype)
    s = jnp.sort(a1)
    first = jnp.concatenate([jnp.ones((1,), bool), s[1:] != s[:-1]])
    keep = first & ~jnp.isin(s, a2)
    vals, _, valid = _sorted_with_mask(
        s, keep, size, 0 if fill_value is None else fill_value, "setdiff1d"
    )
    return vals


def setxor1d(ar1, ar2, assume_unique=False, *, size=None, fill_value=None):
    """Sorted values in exactly one of the arrays."""
    jnp = _jnp()
    a1 = jnp.ravel(jnp.asarray(ar1))
    a2 = jnp.ravel(jnp.asarray(ar2))
    if not assume_unique:
        a1 = unique(a1, size=None if size is None else a1.shape[0], fill_value=None)
        a2 = unique(a2, size=None if size is None else a2.shape[0], fill_value=None)
        if size is not None:
            raise NotImplementedError("setxor1d with size= requires assume_unique=True")
    aux = jnp.sort(jnp.concatenate([a1, a2.astype(a1.dtype)]))
    if aux.shape[0] == 0:
        return aux
    neq = aux[1:] != aux[:-1]
    t = jnp.concatenate([jnp.ones((1,), bool), neq, jnp.ones((1,), bool)])
    keep = t[1:] & t[:-1]
    vals, _, _ = _sorted_with_mask(aux, keep, size, fill_value, "setxor1d")
    return vals


def intersect1d(ar1, ar2, assume_unique=False, return_indices=False, *, size=None, fill_value=None):
    """Sorted values in both arrays (and, with ``return_indices``, their first indices)."""
    jnp = _jnp()
    idt = dtypes.default_int_dtype()
    a1 = jnp.ravel(jnp.asarray(ar1))
    a2 = jnp.ravel(jnp.asarray(ar2))
    if not assume_unique:
        if return_indices:
            a1, i1 = unique(a1, return_index=True, size=a1.shape[0] if size is not None else None)
            a2, i2 = unique(a2, return_index=True, size=a2.shape[0] if size is not None else None)
        else:
            a1 = unique(a1, size=a1.shape[0] if size is not None else None)
            a2 = unique(a2, size=a2.shape[0] if size is not None else None)
    else:
        i1 = jnp.arange(a1.shape[0], dtype=idt)
        i2 = jnp.arange(a2.shape[0], dtype=idt)
    n1 = a1.shape[0]
    aux = jnp.concatenate([a1, a2.astype(a1.dtype)])
    order = jnp.argsort(aux, stable=True)
    aux = aux[order]
    if aux.shape[0] == 0:
        out = aux
        return (out, jnp.zeros((0,), idt), jnp.zeros((0,), idt)) if return_indices else out
    # with duplicates padded by unique(size=), a value can repeat; count a match once
    eq = aux[1:] == aux[:-1]
    from_both = (order[:-1] < n1) & (order[1:] >= n1)
    keep = jnp.concatenate([eq & from_both, jnp.zeros((1,), bool)])
    if size is not None and not assume_unique:
        first = jnp.concatenate([jnp.ones((1,), bool), aux[1:] != aux[:-1]])
        keep = keep & first
    vals, ind, valid = _sorted_with_mask(aux, keep, size, fill_value, "intersect1d")
    if not return_indices:
        return vals
    safe = jnp.where(valid, ind, 0)
    j1 = order[safe]
    j2 = order[jnp.minimum(safe + 1, aux.shape[0] - 1)] - n1
    r1 = jnp.where(valid, i1[j1], 0).astype(idt)
    r2 = jnp.where(valid, i2[jnp.clip(j2, 0, max(a2.shape[0] - 1, 0))], 0).astype(idt)
    return vals, r1, r2
