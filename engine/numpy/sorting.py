"""Sorting: ``sort``, ``argsort``, ``lexsort``, ``searchsorted``."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
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
from .indexing import take

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


def searchsorted(a, v, side="left", sorter=None, *, method="compare_all"):
    """Insertion indices of ``v`` in the sorted 1-D ``a``, by counting the elements of ``a``
    below (``side='left'``) or at-or-below (``'right'``) each query."""
    check_arraylike("searchsorted", a, v)
    if side not in ("left", "right"):
        raise ValueError(f"{side!r} is an invalid value for keyword 'side'")
    if ndim_of(a) != 1:
        raise ValueError("a should be 1-dimensional")
    if sorter is not None:
        a = take(a, sorter)
    a, v = promote_dtypes(a, v)
    a, v = as_array(a), as_array(v)
    vshape = shape_of(v)
    n = shape_of(a)[0]
    ab = lax.broadcast_in_dim(a, vshape + (n,), (len(vshape),))
    vb = lax.broadcast_in_dim(v, vshape + (n,), tuple(range(len(vshape))))
    below = lax.lt(ab, vb) if side == "left" else lax.le(ab, vb)
    idt = dtypes.default_int_dtype()
    return lax.reduce_sum(lax.convert_element_type(below, idt), (len(vshape),))
