"""Functions that pick, drop, insert or place elements, with JAX's semantics (arrays are
immutable: ``put``/``place``/``put_along_axis``/``fill_diagonal`` need
``inplace=False`` and return a new array): ``block``, ``choose``, ``compress``,
``extract``, ``delete``, ``insert``, ``place``, ``put``, ``put_along_axis``,
``piecewise``, ``apply_along_axis``, ``apply_over_axes``, ``partition`` and
``argpartition`` (through ``lax.top_k``, so the order inside each side is JAX's)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits

__all__ = [
    "block",
    "choose",
    "compress",
    "extract",
    "delete",
    "insert",
    "place",
    "put",
    "put_along_axis",
    "piecewise",
    "apply_along_axis",
    "apply_over_axes",
    "partition",
    "argpartition",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _concrete(x, msg):
    from ._util import concrete_value

    return np.asarray(concrete_value(x, msg))


def _inplace_error(name):
    return ValueError(
        f"jax.numpy.{name} cannot modify arrays in-place, because JAX arrays are immutable. "
        f"Pass inplace=False to instead return an updated array."
    )


# ---------------------------------------------------------------------------- block


def _block_depth(x):
    if isinstance(x, list):
        if not x:
            raise ValueError("Lists cannot be empty")
        depths = {_block_depth(y) for y in x}
        if len(depths) != 1:
            raise ValueError("List depths are mismatched")
        return depths.pop() + 1
    if isinstance(x, tuple):
        raise TypeError("jax.numpy.block does not allow tuples, got " + repr(x))
    return 0


@as_jax_jits("block")
def block(arrays):
    """Assemble an array from nested lists of blocks (the innermost list joins along
    the last axis)."""
    jnp = _jnp()
    depth = _block_depth(arrays)

    def leaves(x):
        return [y for z in x for y in leaves(z)] if isinstance(x, list) else [jnp.asarray(x)]

    ndim = max([depth] + [a.ndim for a in leaves(arrays)])

    def rec(x, d):
        if not isinstance(x, list):
            a = jnp.asarray(x)
            return jnp.reshape(a, (1,) * (ndim - a.ndim) + a.shape)
        return jnp.concatenate([rec(y, d + 1) for y in x], axis=ndim - depth + d)

    return rec(arrays, 0)


# ---------------------------------------------------------------------------- selecting


def choose(a, choices, out=None, mode="raise"):
    """``choices[a[i]][i]`` for every ``i`` (``mode``: 'raise' needs concrete ``a``;
    'wrap' or 'clip' trace)."""
    jnp = _jnp()
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.choose is not supported.")
    a = jnp.asarray(a)
    if not dtypes.is_int(a.dtype):
        raise ValueError("jnp.choose index array must be of integer type")
    choices = [jnp.asarray(c) for c in choices]
    n = len(choices)
    if mode == "raise":
        v = _concrete(
            a,
            "The error occurred because jnp.choose was jit-compiled with "
            "mode='raise'. Use mode='wrap' or mode='clip' instead.",
        )
        if np.any((v < 0) | (v >= n)):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = a % n
    elif mode == "clip":
        a = jnp.clip(a, 0, n - 1)
    else:
        raise ValueError(f"mode={mode!r} not understood. Must be 'raise', 'wrap', or 'clip'")
    arrs = jnp.broadcast_arrays(a, *choices)
    a, stacked = arrs[0], jnp.stack(arrs[1:], 0)
    return jnp.take_along_axis(stacked, a[None], axis=0)[0]


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """The slices of ``a`` along ``axis`` where ``condition`` is true (a static ``size``
    pads with ``fill_value`` and traces)."""
    jnp = _jnp()
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.compress is not supported.")
    cond = jnp.asarray(condition)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1D array")
    a = jnp.asarray(a)
    if axis is None:
        axis, a = 0, jnp.ravel(a)
    axis = axis % a.ndim
    a = jnp.moveaxis(a, axis, 0)
    n = a.shape[0]
    if size is not None and not 0 < size <= n:
        raise ValueError(
            "size must be positive and not greater than the size of the array axis;"
            f" got size={size} for a.shape[axis]={n}"
        )
    c = cond.astype(bool)
    if c.shape[0] < n:
        c = jnp.concatenate([c, jnp.zeros((n - c.shape[0],), bool)])
    elif c.shape[0] > n:
        if np.any(_concrete(c[n:], "compress condition longer than the axis")):
            raise ValueError(
                "compress: condition is longer than the array and selects past its end"
            )
        c = c[:n]
    (ind,) = jnp.nonzero(c, size=size, fill_value=n)
    if size is None:
        out_ = a[ind]
    else:
        valid = jnp.reshape(ind < n, (-1,) + (1,) * (a.ndim - 1))
        out_ = jnp.where(valid, a[jnp.minimum(ind, n - 1)], jnp.asarray(fill_value, a.dtype))
    return jnp.moveaxis(out_, 0, axis)


def extract(condition, arr, *, size=None, fill_value=0):
    """The elements of ``arr`` where ``condition`` (flattened) is true."""
    jnp = _jnp()
    cond = jnp.ravel(jnp.asarray(condition)).astype(bool)
    return compress(cond, jnp.ravel(jnp.asarray(arr)), size=size, fill_value=fill_value)


# ---------------------------------------------------------------------------- delete/insert


def _axis_and_array(arr, axis):
    jnp = _jnp()
    a = jnp.asarray(arr)
    if axis is None:
        return jnp.ravel(a), 0
    return a, axis % max(a.ndim, 1)


def delete(arr, obj, axis=None, *, assume_unique_indices=False):
    """``arr`` without the entries ``obj`` (an int, slice or index array) along ``axis``."""
    jnp = _jnp()
    a, axis = _axis_and_array(arr, axis)
    n = a.shape[axis]
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, (bool, np.bool_)):
        from ._util import canonicalize_axis

        # a static integer: the slices before and after it, concatenated (JAX's case 1)
        i = canonicalize_axis(obj, n)
        idx = (slice(None),) * axis
        return jnp.concatenate([a[idx + (slice(0, i),)], a[idx + (slice(i + 1, None),)]], axis=axis)
    if isinstance(obj, slice):
        drop = np.arange(n)[obj]
    else:
        o = jnp.asarray(obj)
        if assume_unique_indices:
            if not dtypes.is_int(o.dtype):
                raise ValueError(
                    "jnp.delete(..., assume_unique_indices=True) requires integer indices"
                )
            o = jnp.where(o < 0, o + n, o)
            mask_idx = jnp.arange(n - o.size)
            shift = (mask_idx[:, None] >= (jnp.sort(o.ravel()) - jnp.arange(o.size))[None, :]).sum(
                1
            )
            return jnp.take(a, mask_idx + shift, axis=axis)
        ov = _concrete(
            o, "jnp.delete(arr, obj): obj must be concrete (or pass assume_unique_indices=True)"
        )
        if ov.dtype == np.bool_:
            if ov.shape != (n,):
                raise ValueError(
                    "np.delete(arr, obj): for boolean indices, obj must be one-dimensional with length matching specified axis."
                )
            drop = np.flatnonzero(ov)
        else:
            if not np.issubdtype(ov.dtype, np.integer):
                raise IndexError(
                    "np.delete(): only integers, slices, and boolean arrays are valid indices"
                )
            drop = ov.ravel()
            if np.any((drop < -n) | (drop >= n)):
                raise IndexError(f"index out of bounds for axis {axis} with size {n}")
            drop = drop % n if n else drop
    keep = np.setdiff1d(np.arange(n), drop)
    return jnp.take(a, jnp.asarray(keep.astype(dtypes.default_int_dtype())), axis=axis)


def insert(arr, obj, values, axis=None):
    """``arr`` with ``values`` inserted before the indices ``obj`` along ``axis`` (as
    JAX's: the indices may be traced; the inserted values' positions come from a
    scatter-add of their ranks, the old values' from a sized ``nonzero``)."""
    from .. import core
    from ._util import canonicalize_axis, check_arraylike, concrete_value

    jnp = _jnp()
    check_arraylike("insert", arr, 0 if isinstance(obj, slice) else obj, values)
    # a host value stays one (jnp.array below converts it on the host), as JAX's
    # ensure_arraylike gives a folded constant while tracing
    a, values_arr = jnp.asarray(arr), values
    if axis is None:
        a = jnp.ravel(a)
        axis = 0
    axis = canonicalize_axis(concrete_value(axis, "axis argument of jnp.insert()"), a.ndim)
    if isinstance(obj, slice):
        indices = jnp.arange(*obj.indices(a.shape[axis]))
    else:
        indices = jnp.asarray(obj)
    if indices.ndim > 1:
        raise ValueError(
            f"jnp.insert(): obj must be a slice, a one-dimensional array, or a scalar; got {obj}"
        )
    if not dtypes.is_int(indices.dtype):
        if indices.size == 0 and not isinstance(obj, (core.Tracer, jnp.ndarray)):
            indices = indices.astype(int)
        else:
            raise ValueError(f"jnp.insert(): index array must be integer typed; got {obj}")
    values_arr = jnp.array(values_arr, ndmin=a.ndim, dtype=a.dtype, copy=False)
    if indices.size == 1:
        index = jnp.ravel(indices)[0]
        if indices.ndim == 0:
            values_arr = jnp.moveaxis(values_arr, 0, axis)
        indices = jnp.full(values_arr.shape[axis], index)
    n_input = a.shape[axis]
    n_insert = jnp.broadcast_shapes(indices.shape, (values_arr.shape[axis],))[0]
    out_shape = list(a.shape)
    out_shape[axis] += n_insert
    out = jnp.zeros_like(a, shape=tuple(out_shape))
    indices = jnp.where(indices < 0, indices + n_input, indices)
    indices = jnp.clip(indices, 0, n_input)
    values_ind = indices.at[jnp.argsort(indices)].add(jnp.arange(n_insert, dtype=indices.dtype))
    arr_mask = jnp.ones(n_input + n_insert, dtype=bool).at[values_ind].set(False)
    arr_ind = jnp.where(arr_mask, size=n_input)[0]
    out = out.at[(slice(None),) * axis + (values_ind,)].set(values_arr)
    return out.at[(slice(None),) * axis + (arr_ind,)].set(a)


# ---------------------------------------------------------------------------- placing


def place(arr, mask, vals, *, inplace=True):
    """A copy of ``arr`` whose entries where ``mask`` holds are ``vals`` (cycled)."""
    jnp = _jnp()
    if inplace:
        raise _inplace_error("place")
    a = jnp.asarray(arr)
    m = jnp.ravel(jnp.asarray(mask)).astype(bool)
    v = jnp.ravel(jnp.asarray(vals)).astype(a.dtype)
    if m.shape[0] != a.size:
        raise ValueError("place: arr and mask must be the same size")
    if v.size == 0:
        raise ValueError("Cannot place values from an empty array")
    which = (jnp.cumsum(m) - 1) % v.size
    flat = jnp.where(m, v[which], jnp.ravel(a))
    return jnp.reshape(flat, a.shape)


def put(a, ind, v, mode=None, *, inplace=True):
    """A copy of ``a`` with the flat positions ``ind`` set to ``v`` (``mode``: 'clip'
    (default) or 'wrap')."""
    jnp = _jnp()
    if inplace:
        raise _inplace_error("put")
    a = jnp.asarray(a)
    ind = jnp.ravel(jnp.asarray(ind))
    v = jnp.ravel(jnp.asarray(v)).astype(a.dtype)
    if ind.size == 0 or v.size == 0:
        return a
    v = jnp.resize(v, ind.shape) if v.shape != ind.shape else v
    n = a.size
    if mode is None or mode == "clip":
        ind = jnp.clip(ind, 0, n - 1)
    elif mode == "wrap":
        ind = ind % n
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode to jnp.put is not supported.")
    else:
        raise ValueError(f"mode should be one of 'wrap' or 'clip'; got mode={mode!r}")
    return jnp.reshape(jnp.ravel(a).at[ind].set(v), a.shape)


@as_jax_jits("put_along_axis", ("axis", "inplace", "mode"))
def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """A copy of ``arr`` with ``values`` written at ``indices`` along ``axis``, the
    converse of ``take_along_axis``: ``arr.at[idx].set`` with sparse index grids for the
    other axes, as JAX's."""
    jnp = _jnp()
    if inplace:
        raise _inplace_error("put_along_axis")
    a, idx, values = jnp.asarray(arr), jnp.asarray(indices), jnp.asarray(values)
    original_shape = a.shape
    if axis is None:
        a = a.ravel()
    ax = 0 if axis is None else axis
    if a.ndim != idx.ndim:
        raise ValueError(
            "put_along_axis arguments 'arr' and 'indices' must have same ndim. Got "
            f"arr.ndim={a.ndim} and indices.ndim={idx.ndim}."
        )
    try:
        values = jnp.broadcast_to(values, idx.shape)
    except ValueError:
        raise ValueError(
            "put_along_axis argument 'values' must be broadcastable to 'indices'. Got "
            f"values.shape={values.shape} and indices.shape={idx.shape}."
        ) from None
    grid = list(jnp.indices(a.shape, sparse=True))
    grid[ax % a.ndim] = idx
    result = a.at[tuple(grid)].set(values, mode=mode)
    return result.reshape(original_shape) if axis is None else result


# ---------------------------------------------------------------------------- functional


def piecewise(x, condlist, funclist, *args, **kw):
    """``funclist[i](x)`` where ``condlist[i]`` holds (a last extra function or value is
    the default); every function is evaluated on all of ``x``, as under JAX's switch."""
    jnp = _jnp()
    x = jnp.asarray(x)
    if (
        isinstance(condlist, (bool, np.bool_))
        or np.ndim(condlist) == 0
        or (
            not isinstance(condlist, (list, tuple))
            and jnp.asarray(condlist).ndim == x.ndim
            and x.ndim > 0
        )
        and not isinstance(condlist, (list, tuple))
    ):
        condlist = [condlist]
    conds = [jnp.asarray(c).astype(bool) for c in condlist]
    nc, nf = len(conds), len(funclist)
    if nf == nc + 1:
        default = funclist[-1]
        funclist = funclist[:-1]
    elif nf == nc:
        default = 0
    else:
        raise ValueError(
            f"with {nc} condition(s), either {nc} or {nc + 1} functions are expected; got {nf}"
        )

    def val(f):
        r = f(x, *args, **kw) if callable(f) else f
        return jnp.broadcast_to(jnp.asarray(r).astype(x.dtype), x.shape)

    out = val(default)
    for c, f in zip(conds, funclist):
        out = jnp.where(c, val(f), out)
    return out


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``func1d`` applied to each 1-d slice of ``arr`` along ``axis`` (through ``vmap``)."""
    from ..api import vmap

    jnp = _jnp()
    arr = jnp.asarray(arr)
    nd = arr.ndim
    axis = axis % nd if nd else 0
    f = lambda a: func1d(a, *args, **kwargs)  # noqa: E731
    for i in range(1, nd - axis):
        f = vmap(f, in_axes=i, out_axes=-1)
    for _ in range(axis):
        f = vmap(f, in_axes=0, out_axes=0)
    return f(arr)


def apply_over_axes(func, a, axes):
    """``func(a, axis)`` applied for each axis in turn, keeping the rank."""
    jnp = _jnp()
    a = jnp.asarray(a)
    for ax in axes:
        b = func(a, ax)
        b = jnp.asarray(b)
        if b.ndim == a.ndim - 1:
            b = jnp.expand_dims(b, ax)
        elif b.ndim != a.ndim:
            raise ValueError("function is not returning an array of the correct shape")
        a = b
    return a


def _partition_operand(a, kth, axis, name):
    """``a`` as an array with ``axis`` swapped last, and ``kth`` made nonnegative
    (JAX's canonicalize_axis checks of both)."""
    from ._util import canonicalize_axis

    jnp = _jnp()
    arr = jnp.asarray(a)
    if dtypes.issubdtype(arr.dtype, np.complexfloating):
        raise NotImplementedError(f"jnp.{name} for complex dtype is not implemented.")
    axis = canonicalize_axis(axis, arr.ndim)
    kth = canonicalize_axis(kth, arr.shape[axis])
    return arr.swapaxes(axis, -1), kth, axis


@as_jax_jits("partition", ("kth", "axis"))
def partition(a, kth, axis=-1):
    """``a`` with the ``kth`` smallest value at position ``kth`` along ``axis``, smaller
    ones before it and larger ones after it (two ``top_k``, as JAX's)."""
    from ..lax import concatenate, top_k

    arr, kth, axis = _partition_operand(a, kth, axis, "partition")
    if dtypes.issubdtype(arr.dtype, np.unsignedinteger):  # so that 0 sorts first
        bottom = -top_k(-(arr + 1), kth + 1)[0] - 1
    else:
        bottom = -top_k(-arr, kth + 1)[0]
    top = top_k(arr, arr.shape[-1] - kth - 1)[0]
    return concatenate([bottom, top], arr.ndim - 1).swapaxes(-1, axis)


@as_jax_jits("argpartition", ("kth", "axis"))
def argpartition(a, kth, axis=-1):
    """The indices that would ``partition`` ``a`` (the top ones found through a proxy,
    so that duplicates of the pivot are not taken twice)."""
    from ..api import vmap
    from ..lax import concatenate, full, top_k

    arr, kth, axis = _partition_operand(a, kth, axis, "argpartition")
    if dtypes.issubdtype(arr.dtype, np.unsignedinteger):
        bottom_ind = top_k(-(arr + 1), kth + 1)[1]
    else:
        bottom_ind = top_k(-arr, kth + 1)[1]
    zero_at = lambda p, i: p.at[i].set(0)  # noqa: E731
    for _ in range(arr.ndim - 1):
        zero_at = vmap(zero_at)
    proxy = zero_at(full(arr.shape, 1.0), bottom_ind)
    top_ind = top_k(proxy, arr.shape[-1] - kth - 1)[1]
    return concatenate([bottom_ind, top_ind], arr.ndim - 1).swapaxes(-1, axis)
