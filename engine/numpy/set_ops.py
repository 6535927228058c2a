"""Set operations: ``unique`` (with JAX's static ``size=``/``fill_value``, so it traces),
the array-API ``unique_all/counts/inverse/values``, and ``intersect1d``, ``setdiff1d``,
``setxor1d``, ``union1d``. One sort-based routine computes everything: sort, mark
the first of each run of equal values, and compact the marks with ``nonzero(size=)``.
Without ``size`` the number of unique values is read from a concrete array."""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits

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


_UNIQUE_SIZE_HINT = (
    "To make jnp.unique() compatible with JIT and other transforms, you can specify "
    "a concrete value for the size argument, which will determine the output size."
)


@as_jax_jits("_unique_sorted_mask", ("axis", "equal_nan"))
def _unique_sorted_mask(ar, axis, equal_nan):
    """ar sorted lexicographically along ``axis`` (moved first), a mask of the first of
    each run of equal slices, and the sorting permutation."""
    from .. import lax

    jnp = _jnp()
    aux = jnp.moveaxis(ar, axis, 0)
    if dtypes.is_complex(aux.dtype):  # NaN only in the imaginary part sorts as NaN
        aux = jnp.where(jnp.isnan(aux), np.asarray(np.nan, aux.dtype), aux)
    size, *out_shape = aux.shape
    if math.prod(out_shape) == 0:
        size = 1
        perm = jnp.zeros(1, dtype=int)
    else:
        perm = jnp.lexsort(aux.reshape(size, math.prod(out_shape)).T[::-1])
    aux = aux[perm]
    if aux.size:
        if dtypes.is_inexact(aux.dtype) and equal_nan:

            def neq(x, y):
                return lax.ne(x, y) & ~(jnp.isnan(x) & jnp.isnan(y))
        else:
            neq = lax.ne
        ones = jnp.ones(size, dtype=bool)
        mask = ones.at[1:].set(jnp.any(neq(aux[1:], aux[:-1]), tuple(range(1, aux.ndim))))
    else:
        mask = jnp.zeros(size, dtype=bool)
    return aux, mask, perm


def _unique(
    ar,
    axis,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    equal_nan=True,
    size=None,
    fill_value=None,
):
    from .. import lax
    from ._util import canonicalize_axis, concrete_value

    jnp = _jnp()
    axis = canonicalize_axis(axis, ar.ndim)
    if ar.shape[axis] == 0 and size and fill_value is None:
        raise ValueError(
            "jnp.unique: for zero-sized input with nonzero size argument, fill_value must be "
            "specified"
        )
    aux, mask, perm = _unique_sorted_mask(ar, axis, equal_nan)
    if size is None:
        ind = jnp.asarray(
            concrete_value(mask, "The error arose in jnp.unique(). " + _UNIQUE_SIZE_HINT)
        )
    else:
        ind = jnp.nonzero(mask, size=size)[0]
    result = aux[ind] if aux.size else aux
    if size is not None and fill_value is not None:
        if not isinstance(fill_value, (list, tuple)):  # a host value converts on the host
            fill_value = lax.convert_element_type(fill_value, result.dtype)
        else:
            fill_value = jnp.asarray(fill_value).astype(result.dtype)
        if result.shape[0]:
            valid = lax.expand_dims(jnp.arange(size) < mask.sum(), tuple(range(1, result.ndim)))
            result = jnp.where(valid, result, fill_value)
        else:
            result = jnp.full_like(result, fill_value, shape=(size, *result.shape[1:]))
    result = jnp.moveaxis(result, 0, axis)
    ret = (result,)
    if return_index:
        ret += (perm[ind] if aux.size else perm,)
    if return_inverse:
        if aux.size:
            imask = jnp.cumsum(mask) - 1
            inv_idx = jnp.zeros(mask.shape, dtype=int).at[perm].set(imask)
        else:
            inv_idx = jnp.zeros(ar.shape[axis], dtype=int)
        ret += (inv_idx,)
    if return_counts:
        if aux.size:
            if size is None:
                idx = jnp.append(jnp.nonzero(mask)[0], mask.size)
            else:
                idx = jnp.nonzero(mask, size=size + 1)[0]
                idx = idx.at[1:].set(jnp.where(idx[1:], idx[1:], mask.size))
            ret += (jnp.diff(idx),)
        elif ar.shape[axis]:
            ret += (jnp.full((1,), ar.shape[axis], dtype=int),)
        else:
            ret += (jnp.empty(0, dtype=int),)
    return ret[0] if len(ret) == 1 else ret


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
    """Sorted unique elements of ``ar`` (optionally first indices, inverse, counts),
    along ``axis`` when given. Give a static ``size`` to trace it: the result is cut or
    padded with ``fill_value`` (default: the smallest value)."""
    from ._util import check_arraylike, concrete_value

    jnp = _jnp()
    check_arraylike("unique", ar)
    arr = jnp.asarray(ar)
    if size is None:
        concrete_value(
            arr, "The error arose for the first argument of jnp.unique(). " + _UNIQUE_SIZE_HINT
        )
    else:
        size = operator.index(
            concrete_value(
                size,
                "The error arose for the size argument of jnp.unique(). " + _UNIQUE_SIZE_HINT,
            ).item()
        )
    arr_shape = arr.shape
    if axis is None:
        axis_int = 0
        arr = arr.flatten()
    else:
        from ._util import canonicalize_axis

        axis_int = canonicalize_axis(axis, arr.ndim)
    result = _unique(
        arr,
        axis_int,
        return_index,
        return_inverse,
        return_counts,
        equal_nan=equal_nan,
        size=size,
        fill_value=fill_value,
    )
    if return_inverse and axis is None:
        i = 2 if return_index else 1
        result = (*result[:i], result[i].reshape(arr_shape), *result[i + 1 :])
    return result


def unique_all(x, /, *, size=None, fill_value=None):
    _check("unique_all", x)
    v, i, inv, c = unique(
        x,
        return_index=True,
        return_inverse=True,
        return_counts=True,
        equal_nan=False,
        size=size,
        fill_value=fill_value,
    )
    return _UniqueAllResult(values=v, indices=i, inverse_indices=inv, counts=c)


def unique_counts(x, /, *, size=None, fill_value=None):
    _check("unique_counts", x)
    v, c = unique(x, return_counts=True, equal_nan=False, size=size, fill_value=fill_value)
    return _UniqueCountsResult(values=v, counts=c)


def unique_inverse(x, /, *, size=None, fill_value=None):
    _check("unique_inverse", x)
    v, inv = unique(x, return_inverse=True, equal_nan=False, size=size, fill_value=fill_value)
    return _UniqueInverseResult(values=v, inverse_indices=inv)


def unique_values(x, /, *, size=None, fill_value=None):
    _check("unique_values", x)
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def _check(name, x):
    from ._util import check_arraylike

    check_arraylike(name, x)


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
