"""Sorting: ``sort``, ``argsort``, ``lexsort``, ``searchsorted``."""

from __future__ import annotations

import functools
import math

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ..lax import logic as lax_logic
from . import reductions
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    canonicalize_axis,
    check_arraylike,
    dtype_of,
    ndim_of,
    promote_dtypes,
    shape_of,
)
from .shape_ops import ravel

__all__ = ["sort", "argsort", "lexsort", "searchsorted", "sort_complex"]


def _flatten_if_none(a, axis):
    a = as_array(as_operand(a))
    if axis is None:
        return lax.reshape(a, (int(np.prod(shape_of(a), dtype=np.int64)),)), 0
    return a, canonicalize_axis(axis, ndim_of(a))


@as_jax_jits("sort", ("axis", "kind", "order", "stable", "descending"))
def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Sorted copy along ``axis`` (NaNs last); ``descending`` reverses the result."""
    check_arraylike("sort", a)
    if order is not None:
        raise ValueError("The 'order' argument to sort is not supported.")
    a, ax = _flatten_if_none(a, axis)
    out = lax.sort(a, dimension=ax, is_stable=stable)
    return lax.rev(out, (ax,)) if descending else out


@as_jax_jits("argsort", ("axis", "kind", "order", "stable", "descending", "dtype"))
def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """Indices that sort ``a`` along ``axis``: a sort of (a, iota) keyed on ``a``. With
    ``descending``, equal elements keep their original order."""
    check_arraylike("argsort", a)
    if order is not None:
        raise ValueError("The 'order' argument to argsort is not supported.")
    a, ax = _flatten_if_none(a, axis)
    idt = dtypes.default_int_dtype()
    iota = lax.broadcasted_iota(idt, shape_of(a), ax, out_sharding=core.get_aval(a).sharding)
    if descending:
        a, iota = lax.rev(a, (ax,)), lax.rev(iota, (ax,))
    _, idx = lax.sort((a, iota), dimension=ax, is_stable=stable, num_keys=1)
    return lax.rev(idx, (ax,)) if descending else idx


@as_jax_jits("lexsort", ("axis",))
def lexsort(keys, axis=-1):
    """Indices sorting by the last key first, then the one before it, and so on."""
    if isinstance(keys, (Array, core.Tracer, np.ndarray)):
        # an array's rows, as iterating over a JAX array gives them (index_in_dim)
        check_arraylike("lexsort", keys)
        keys = as_operand(keys)
        if ndim_of(keys) == 0:
            raise TypeError("iteration over a 0-d array")
        keys = [lax.index_in_dim(keys, i, 0, keepdims=False) for i in range(shape_of(keys)[0])]
    keys = list(keys)
    check_arraylike("lexsort", *keys)
    if not keys:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    keys = [as_array(as_operand(k)) for k in keys]
    shapes = {shape_of(k) for k in keys}
    if len(shapes) != 1:
        raise ValueError("all keys need to be the same shape")
    ax = canonicalize_axis(axis, ndim_of(keys[0]))
    iota = lax.broadcasted_iota(dtypes.default_int_dtype(), shape_of(keys[0]), ax)
    out = lax.sort(tuple(keys[::-1]) + (iota,), dimension=ax, is_stable=True, num_keys=len(keys))
    return out[-1]


@as_jax_jits("sort_complex")
def sort_complex(a):
    """``a`` sorted along its last axis (complex values by real part, then imaginary), as
    a complex array."""
    check_arraylike("sort_complex", a)
    a = as_operand(a)
    a = lax.sort(a, dimension=ndim_of(a) - 1)
    dt = dtype_of(a)
    if not dtypes.is_complex(dt):
        cdt = dtypes.canonicalize_dtype(
            dtypes.to_complex_dtype(dt if dtypes.is_inexact(dt) else dtypes.default_float_dtype())
        )
        a = lax.convert_element_type(a, cdt)
    return a


def _canonical_for_sort(x):
    """JAX's sort key of a float: -0 as 0 and every NaN as the one NaN."""
    zero = np.zeros((), dtype_of(x))
    out = lax.select(lax.eq(x, zero), lax.full_like(x, 0), x)
    return lax.select(lax.ne(x, x), lax.full_like(out, np.nan), out)


def _sort_keys(x):
    dt = dtype_of(x)
    if dtypes.is_complex(dt):
        return [_canonical_for_sort(lax.real(x)), _canonical_for_sort(lax.imag(x))]
    if dtypes.is_inexact(dt):
        return [_canonical_for_sort(x)]
    return [x]


def _sort_comparator(x, y, or_equal):
    """x < y (or x <= y) in JAX's sort order: NaNs last, complex values by (real, imag)."""
    p = None
    for xk, yk in zip(_sort_keys(x)[::-1], _sort_keys(y)[::-1]):
        if p is None:
            p = (lax_logic.le_to_p if or_equal else lax_logic.lt_to_p).bind(xk, yk)
        else:
            p = lax.bitwise_or(
                lax_logic.lt_to_p.bind(xk, yk),
                lax.bitwise_and(lax_logic.eq_to_p.bind(xk, yk), p),
            )
    return p


@as_jax_jits("_searchsorted_scan_impl", ("side", "dtype", "unrolled"))
def _searchsorted_scan_impl(sorted_arr, query, side, dtype, unrolled):
    """Binary search: ceil(log2(n + 1)) halvings of [low, high) in a scan, per query
    value (a vmap over the query's axes, as JAX's)."""
    from ..api import vmap
    from ..lax.control_flow import scan

    (n,) = shape_of(sorted_arr)
    if n == 0:
        return lax.full(shape_of(query), 0, dtype)
    if ndim_of(query) > 0:
        inner = functools.partial(
            _searchsorted_scan_impl, side=side, dtype=dtype, unrolled=unrolled
        )
        return vmap(inner, in_axes=(None, 0))(sorted_arr, query)
    unsigned = np.uint64 if np.dtype(dtype).itemsize == 8 else np.uint32

    def body(state, _):
        low, high = state
        mid = low + (high - low) // 2
        go_left = _sort_comparator(query, sorted_arr[mid], or_equal=side == "left")
        return (lax.select(go_left, low, mid), lax.select(go_left, mid, high)), ()

    levels = int(np.ceil(np.log2(n + 1)))
    init = (unsigned(0), unsigned(n))
    carry, _ = scan(body, init, (), length=levels, unroll=levels if unrolled else 1)
    return lax.convert_element_type(carry[1], dtype)


@as_jax_jits("_searchsorted_sort_impl", ("side", "dtype"))
def _searchsorted_sort_impl(sorted_arr, query, side, dtype):
    """Ranks by co-sorting the queries with the sorted array."""
    total = math.prod(shape_of(sorted_arr)) + math.prod(shape_of(query))
    working = np.int32 if total <= np.iinfo(np.int32).max else np.int64

    def rank(x):
        idx = lax.iota(working, shape_of(x)[0])
        zeros = lax.full_like(idx, 0)
        return zeros.at[lax.sort_key_val(x, idx)[1]].set(idx)

    nq = math.prod(shape_of(query))
    if side == "left":
        index = rank(lax.concatenate([ravel(query), sorted_arr], 0))[:nq]
    else:
        index = rank(lax.concatenate([sorted_arr, ravel(query)], 0))[shape_of(sorted_arr)[0] :]
    out = lax.reshape(lax.sub(index, rank(ravel(query))), shape_of(query))
    return lax.convert_element_type(out, dtype)


@as_jax_jits("_searchsorted_compare_all_impl", ("side", "dtype"))
def _searchsorted_compare_all_impl(sorted_arr, query, side, dtype):
    """Counts, per query value, the sorted elements before it."""
    from ..api import vmap

    def before(x, q):
        return _sort_comparator(x, q, or_equal=side == "right")

    comparisons = vmap(before, in_axes=(0, None))(sorted_arr, query)
    return reductions.sum(comparisons, axis=0, dtype=dtype)


_SEARCH_METHODS = {
    "compare_all": _searchsorted_compare_all_impl,
    "scan": functools.partial(_searchsorted_scan_impl, unrolled=False),
    "scan_unrolled": functools.partial(_searchsorted_scan_impl, unrolled=True),
    "sort": _searchsorted_sort_impl,
}


@as_jax_jits("searchsorted", ("side", "method"))
def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Insertion indices of ``v`` in the sorted 1-D ``a`` (JAX's methods: a scan-based
    binary search, its unrolled form, a co-sort, or comparing all pairs)."""
    if sorter is None:
        check_arraylike("searchsorted", a, v)
    else:
        check_arraylike("searchsorted", a, v, sorter)
    if ndim_of(a) != 1:
        raise ValueError("a should be 1-dimensional")
    a, v = promote_dtypes(a, v)
    a, v = as_array(a), as_array(v)
    if sorter is not None:
        a = a[sorter]
    n = shape_of(a)[0]
    if isinstance(n, int):  # a symbolic length: the default integer, as JAX's
        dtype = np.dtype(np.int32 if n <= np.iinfo(np.int32).max else np.int64)
    else:
        dtype = np.dtype(dtypes.default_int_dtype())
    dtype = dtypes.canonicalize_dtype(dtype)
    if side not in ("left", "right"):
        raise ValueError(f"invalid argument side={side!r}, expected 'left' or 'right'")
    if method not in _SEARCH_METHODS:
        raise ValueError(
            f"invalid argument method={method!r}, expected one of {list(_SEARCH_METHODS)}"
        )
    return _SEARCH_METHODS[method](a, v, side=side, dtype=dtype)
