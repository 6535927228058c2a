"""Shape manipulation: reshape, transpose, joining and splitting, broadcasting, tiling,
flipping, rolling and padding."""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import core, dtypes, lax
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    asarray,
    canonicalize_axis,
    check_arraylike,
    concrete_value,
    ndim_of,
    promote_dtypes,
    shape_of,
)
from .ufuncs import remainder

__all__ = [
    "reshape",
    "ravel",
    "transpose",
    "permute_dims",
    "matrix_transpose",
    "swapaxes",
    "moveaxis",
    "rollaxis",
    "concatenate",
    "concat",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "split",
    "array_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "unstack",
    "squeeze",
    "expand_dims",
    "broadcast_to",
    "broadcast_arrays",
    "broadcast_shapes",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "tile",
    "repeat",
    "flip",
    "fliplr",
    "flipud",
    "rot90",
    "roll",
    "pad",
    "append",
    "resize",
]


def _prod(xs):
    p = math.prod(xs)
    return p if hasattr(p, "_is_symbolic_dim") else int(p)  # symbolic: engine.export


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """``a`` with a new shape; one entry may be -1 (inferred)."""
    if newshape is not None:
        shape = newshape
    check_arraylike("reshape", a)
    if order != "C":
        raise NotImplementedError("jnp.reshape supports only order='C'")
    a = as_operand(a)
    new = _infer_shape(shape_of(a), shape)
    return lax.reshape(as_array(a), new)


def _infer_shape(old, shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    elif getattr(shape, "ndim", None) == 0:  # a 0-d array: JAX reads it as [size]
        shape = [shape]
    if _traced_shape(shape):
        raise TypeError(
            f"Shapes must be 1D sequences of concrete values of integer type, got {shape!r}.\n"
            "If using `jit`, try using `static_argnums` or applying `jit` to smaller "
            f"subfunctions.{core.user_line_note()}"
        )
    shape = tuple(
        (d if hasattr(d, "_is_symbolic_dim") else operator.index(d))
        if not isinstance(d, core.Tracer)
        else int(concrete_value(d, "reshape's shape"))
        for d in shape
    )
    size = _prod(old)
    if builtins.sum(d == -1 for d in shape) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = _prod([d for d in shape if d != -1])
        if known == 0 or size % known:
            raise TypeError(
                f"cannot reshape array of shape {old} (size {size}) into shape "
                f"{shape} because the product of specified axis sizes ({known}) "
                f"does not evenly divide {size}"
            )
        shape = tuple(size // known if d == -1 else d for d in shape)
    if _prod(shape) != size:
        raise TypeError(
            f"cannot reshape array of shape {old} (size {size}) into shape {shape} "
            f"(size {_prod(shape)})"
        )
    return shape


def _traced_shape(shape) -> bool:
    """Whether a shape holds (or is) a traced value that has no concrete value."""
    parts = [shape] if isinstance(shape, core.Tracer) else shape
    return any(isinstance(d, core.Tracer) and d.to_concrete_value() is None for d in parts)


def ravel(a, order="C"):
    check_arraylike("ravel", a)
    a = as_operand(a)
    return lax.reshape(as_array(a), (_prod(shape_of(a)),))


flatten = ravel  # for the Array.flatten method (NumPy has no function of this name)


def transpose(a, axes=None):
    check_arraylike("transpose", a)
    a = as_array(as_operand(a))
    nd = ndim_of(a)
    if axes is None:
        perm = tuple(range(nd))[::-1]
    else:
        perm = tuple(canonicalize_axis(ax, nd) for ax in axes)
        if sorted(perm) != list(range(nd)):
            raise TypeError(
                "transpose permutation isn't a permutation of operand dimensions, got "
                f"permutation {tuple(axes)} for operand shape {shape_of(a)}."
            )
    if perm == tuple(range(nd)):
        return a
    return lax.transpose(a, perm)


def permute_dims(a, /, axes):
    return transpose(a, axes)


def matrix_transpose(x, /):
    check_arraylike("matrix_transpose", x)
    nd = ndim_of(x)
    if nd < 2:
        raise ValueError(f"x must be at least two-dimensional for matrix_transpose; got ndim={nd}")
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def swapaxes(a, axis1, axis2):
    check_arraylike("swapaxes", a)
    nd = ndim_of(a)
    perm = list(range(nd))
    i, j = canonicalize_axis(axis1, nd), canonicalize_axis(axis2, nd)
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(a, perm)


def moveaxis(a, source, destination):
    check_arraylike("moveaxis", a)
    nd = ndim_of(a)
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"Inconsistent number of elements: {len(src)} vs {len(dst)}")
    src = tuple(canonicalize_axis(s, nd) for s in src)
    dst = tuple(canonicalize_axis(d, nd) for d in dst)
    perm = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(a, perm)


def rollaxis(a, axis, start=0):
    nd = ndim_of(a)
    axis = canonicalize_axis(axis, nd)
    if not -nd <= start <= nd:
        raise ValueError(f"start={start} must satisfy {-nd}<=start<={nd}")
    start = start + nd if start < 0 else start
    if start > axis:
        start -= 1
    return moveaxis(a, axis, start)


# ---------------------------------------------------------------------------- joining


def _check_sequence(name, arrays):
    if isinstance(arrays, (core.Tracer,)) or hasattr(arrays, "aval"):
        return [arrays[i] for i in range(shape_of(arrays)[0])]
    if isinstance(arrays, np.ndarray):
        return list(arrays)
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name} requires a sequence of arrays, got {type(arrays).__name__}")
    check_arraylike(name, *arrays)
    return list(arrays)


def concatenate(arrays, axis=0, dtype=None):
    """Join arrays along an existing axis (``axis=None``: of their flattened forms)."""
    if _is_array(arrays):
        return _concatenate_array(arrays, axis, dtype)
    arrays = _check_sequence("concatenate", arrays)
    if not arrays:
        raise ValueError("Need at least one array to concatenate.")
    if axis is None:
        return concatenate([ravel(a) for a in arrays], 0, dtype)
    if any(ndim_of(a) == 0 for a in arrays):
        raise ValueError("Zero-dimensional arrays cannot be concatenated.")
    arrays = _promote_for_join(arrays, dtype, "concatenate")
    ax = canonicalize_axis(axis, ndim_of(arrays[0]))
    if len(arrays) == 1:
        return as_array(arrays[0])
    return lax.concatenate([as_array(a) for a in arrays], ax)


def concat(arrays, /, *, axis=0):
    """The Array API's concatenate (an array argument joins its leading axis)."""
    if isinstance(arrays, core.Tracer):
        # JAX's check_arraylike(*arrays) iterates the array: one slice and squeeze per
        # row, unused, which its jaxprs keep
        for i in range(len(arrays)):
            lax.squeeze(lax.slice_in_dim(arrays, i, i + 1, axis=0), (0,))
    return concatenate(arrays, axis=axis)


def _is_array(x):
    from ..array import Array

    return isinstance(x, (np.ndarray, Array, core.Tracer))


def _concatenate_array(arr, axis, dtype):
    """An array's leading axis joined into ``axis`` by one reshape, as JAX's fast path."""
    arr = asarray(arr, dtype=dtype)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError("Need at least one array to concatenate.")
    if axis is None:
        return lax.reshape(arr, (arr.size,))
    if arr.ndim == 1:
        raise ValueError("Zero-dimensional arrays cannot be concatenated.")
    axis = canonicalize_axis(axis, arr.ndim - 1)
    shape = arr.shape[1 : axis + 1] + (arr.shape[0] * arr.shape[axis + 1],) + arr.shape[axis + 2 :]
    return lax.reshape(arr, shape, [*range(1, axis + 1), 0, *range(axis + 1, arr.ndim)])


def _promote_for_join(arrays, dtype, name):
    if dtype is not None:
        dt = dtypes.canonicalize_user_dtype(dtype, name)
        return [lax.convert_element_type(as_operand(a), dt) for a in arrays]
    return list(promote_dtypes(*arrays)) if len(arrays) > 1 else [as_operand(arrays[0])]


def stack(arrays, axis=0, out=None, dtype=None):
    """Join arrays of one shape along a new axis."""
    if _is_array(arrays):
        if not len(arrays):
            raise ValueError("Need at least one array to stack.")
        axis = canonicalize_axis(axis, ndim_of(arrays))
        return concatenate(expand_dims(arrays, axis + 1), axis=axis, dtype=dtype)
    arrays = _check_sequence("stack", arrays)
    if not arrays:
        raise ValueError("Need at least one array to stack.")
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError("All input arrays must have the same shape.")
    arrays = [as_array(a) for a in _promote_for_join(arrays, dtype, "stack")]
    nd = ndim_of(arrays[0])
    ax = canonicalize_axis(axis, nd + 1)
    lax_stack = getattr(lax, "stack", None)
    if lax_stack is not None:
        return lax_stack(arrays, ax)
    return concatenate([lax.expand_dims(a, (ax,)) for a in arrays], ax)


@as_jax_jits("atleast_1d")
def atleast_1d(*arys):
    out = [
        as_array(as_operand(a)) if ndim_of(a) >= 1 else lax.broadcast_to_rank(as_operand(a), 1)
        for a in arys
    ]
    return out[0] if len(out) == 1 else out


@as_jax_jits("atleast_2d")
def atleast_2d(*arys):
    out = []
    for a in arys:
        a = as_operand(a)
        out.append(as_array(a) if ndim_of(a) >= 2 else lax.broadcast_to_rank(a, 2))
    return out[0] if len(out) == 1 else out


@as_jax_jits("atleast_3d")
def atleast_3d(*arys):
    out = []
    for a in arys:
        a = as_array(as_operand(a))
        nd = ndim_of(a)
        if nd == 0:
            a = lax.reshape(a, (1, 1, 1))
        elif nd == 1:
            a = lax.expand_dims(a, (0, 2))
        elif nd == 2:
            a = lax.expand_dims(a, (2,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def _as_list(name, tup):
    tup = _check_sequence(name, tup)
    return [as_operand(a) for a in tup]


def _is_array(tup):
    return isinstance(tup, (np.ndarray, core.Tracer)) or hasattr(tup, "_buf")


def _rows_through(fn, tup):
    """``fn`` mapped over an array's rows with vmap (one jit equation, as JAX's
    stacking functions do for an array argument)."""
    from ..api import vmap

    return vmap(fn)(as_operand(tup))


def _concatenate_rows(arr, axis, dtype=None):
    """Concatenate the rows of one array along ``axis`` (one reshape, as JAX's)."""
    arr = as_array(arr, dtype=dtype) if dtype is not None else as_operand(arr)
    shape = shape_of(arr)
    if len(shape) == 0 or shape[0] == 0:
        raise ValueError("Need at least one array to concatenate.")
    if len(shape) == 1:
        raise ValueError("Zero-dimensional arrays cannot be concatenated.")
    ax = canonicalize_axis(axis, len(shape) - 1)
    new = shape[1 : ax + 1] + (shape[0] * shape[ax + 1],) + shape[ax + 2 :]
    return lax.reshape(arr, new, [*range(1, ax + 1), 0, *range(ax + 1, len(shape))])


def hstack(tup, dtype=None):
    if _is_array(tup):
        arrs = _rows_through(atleast_1d, tup)
        return _concatenate_rows(arrs, 0 if ndim_of(arrs) == 2 else 1, dtype)
    arrs = [atleast_1d(a) for a in _as_list("hstack", tup)]
    return concatenate(arrs, 0 if ndim_of(arrs[0]) == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    if _is_array(tup):
        return _concatenate_rows(_rows_through(atleast_2d, tup), 0, dtype)
    return concatenate([atleast_2d(a) for a in _as_list("vstack", tup)], 0, dtype=dtype)


def dstack(tup, dtype=None):
    if _is_array(tup):
        return _concatenate_rows(_rows_through(atleast_3d, tup), 2, dtype)
    return concatenate([atleast_3d(a) for a in _as_list("dstack", tup)], 2, dtype=dtype)


def column_stack(tup):
    if _is_array(tup):
        if ndim_of(tup) >= 3:
            return _concatenate_rows(tup, 1)
        return _concatenate_rows(_rows_through(lambda r: atleast_2d(r).T, tup), 1)
    arrs = []
    for a in _as_list("column_stack", tup):
        if ndim_of(a) < 2:
            a = lax.reshape(as_array(a), (_prod(shape_of(a)), 1))
        arrs.append(a)
    return concatenate(arrs, 1)


@as_jax_jits("append", ("axis",))
def append(arr, values, axis=None):
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


# ---------------------------------------------------------------------------- splitting


def _split_pieces(size, indices_or_sections, name, strict):
    """(start, length) of each piece: ``n`` equal sections, or cuts at the given indices."""
    if np.ndim(indices_or_sections) == 0 and not isinstance(indices_or_sections, (list, tuple)):
        n = operator.index(np.asarray(concrete_value(indices_or_sections, name)).item())
        if n <= 0:
            raise ValueError("number sections must be larger than 0.")
        if strict and size % n:
            raise ValueError("array split does not result in an equal division")
        q, r = divmod(size, n)
        lengths = [q + 1] * r + [q] * (n - r)
        starts = [int(x) for x in np.cumsum([0] + lengths[:-1])]
        return list(zip(starts, lengths))
    cuts = np.asarray(concrete_value(indices_or_sections, name)).reshape(-1)
    bounds = (
        [0]
        + [builtins.min(builtins.max(int(i) + size if i < 0 else int(i), 0), size) for i in cuts]
        + [size]
    )
    return [(a, builtins.max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:])]


def _split(name, ary, indices_or_sections, axis, strict):
    check_arraylike(name, ary)
    ary = as_array(as_operand(ary))
    ax = canonicalize_axis(axis, ndim_of(ary))
    pieces = _split_pieces(shape_of(ary)[ax], indices_or_sections, name, strict)
    lax_split = getattr(lax, "split", None)
    offsets = np.cumsum([0] + [n for _, n in pieces[:-1]])
    if lax_split is not None and builtins.all(s == o for (s, _), o in zip(pieces, offsets)):
        # JAX's sizes are NumPy integers (its jaxprs print sizes=(np.int64(1), ...)),
        # which lax.split would turn into ints
        sizes = tuple(np.int64(n) if isinstance(n, (int, np.integer)) else n for _, n in pieces)
        return list(lax.split_p.bind(ary, sizes=sizes, axis=ax))
    return [lax.slice_in_dim(ary, s, s + n, axis=ax) for s, n in pieces]


def split(ary, indices_or_sections, axis=0):
    return _split("split", ary, indices_or_sections, axis, True)


def array_split(ary, indices_or_sections, axis=0):
    return _split("array_split", ary, indices_or_sections, axis, False)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0 if ndim_of(ary) == 1 else 1)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 2)


def unstack(x, /, *, axis=0):
    check_arraylike("unstack", x)
    x = as_array(as_operand(x))
    ax = canonicalize_axis(axis, ndim_of(x))
    return tuple(lax.unstack(x, axis=ax))


# ---------------------------------------------------------------------------- size-1 axes


def squeeze(a, axis=None):
    check_arraylike("squeeze", a)
    a = as_array(as_operand(a))
    shape = shape_of(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = tuple(
            canonicalize_axis(ax, len(shape))
            for ax in (axis if isinstance(axis, (tuple, list)) else (axis,))
        )
        for ax in axes:
            if shape[ax] != 1:
                raise ValueError(
                    "cannot select an axis to squeeze out which has size not "
                    f"equal to one, got shape={shape} and dimensions={axes}"
                )
    return lax.squeeze(a, axes) if axes else a


def expand_dims(a, axis):
    check_arraylike("expand_dims", a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return lax.expand_dims(as_array(as_operand(a)), tuple(axes))


@as_jax_jits("resize", ("new_shape",))
def resize(a, new_shape):
    check_arraylike("resize", a)
    new_shape = _index_tuple(new_shape)
    if any(n < 0 for n in new_shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    flat = ravel(a)
    n, m = shape_of(flat)[0], _prod(new_shape)
    if n == 0 or m == 0:  # JAX's zeros_like(a, shape=new_shape)
        return as_array(lax.full_like(flat, 0, None, new_shape))
    return reshape(tile(flat, -(-m // n))[:m], new_shape)


# ---------------------------------------------------------------------------- flip, roll


def _axes_or_all(axis, nd):
    if axis is None:
        return tuple(range(nd))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(canonicalize_axis(ax, nd) for ax in axes)


@as_jax_jits("_flip", ("axis",))
def flip(m, axis=None):
    check_arraylike("flip", m)
    m = as_array(as_operand(m))
    axes = _axes_or_all(axis, ndim_of(m))
    return lax.rev(m, axes) if axes else m


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


@as_jax_jits("rot90", ("k", "axes"))
def rot90(m, k=1, axes=(0, 1)):
    check_arraylike("rot90", m)
    ax1, ax2 = (canonicalize_axis(ax, ndim_of(m)) for ax in axes)
    if ax1 == ax2:
        raise ValueError("Axes must be different")
    k = k % 4
    if k == 0:
        return as_array(as_operand(m))
    if k == 2:
        return flip(flip(m, ax1), ax2)
    perm = list(range(ndim_of(m)))
    perm[ax1], perm[ax2] = perm[ax2], perm[ax1]
    if k == 1:
        return transpose(flip(m, ax2), perm)
    return flip(transpose(m, perm), ax2)


def _index_tuple(x):
    """JAX's _ensure_index_tuple: an index, or a sequence of them, as a tuple."""
    try:
        return (operator.index(x),)
    except TypeError:
        return tuple(operator.index(i) for i in x)


def roll(a, shift, axis=None):
    """Shift elements along axes, wrapping around: static shifts slice and concatenate
    (``jit[name=_roll_static]``), traced ones take a dynamic slice of the array doubled
    (``jit[name=_roll_dynamic]``), as JAX's."""
    check_arraylike("roll", a)
    arr = as_array(as_operand(a))
    if axis is None:
        return reshape(roll(ravel(arr), shift, 0), shape_of(arr))
    axes = tuple(canonicalize_axis(ax, ndim_of(arr)) for ax in _index_tuple(axis))
    try:
        shifts = _index_tuple(shift)
    except TypeError:
        return _roll_dynamic(arr, as_array(as_operand(shift)), axes)
    return _roll_static(arr, shifts, axes)


@as_jax_jits("_roll_static", ("shift", "axis"))
def _roll_static(a, shift, axis):
    for ax, s in zip(*np.broadcast_arrays(axis, shift)):
        n = shape_of(a)[ax]
        if n == 0:
            continue
        i = (-s) % n
        a = lax.concatenate(
            [lax.slice_in_dim(a, i, n, axis=ax), lax.slice_in_dim(a, 0, i, axis=ax)], int(ax)
        )
    return a


@as_jax_jits("_roll_dynamic", ("axis",))
def _roll_dynamic(a, shift, axis):
    b_shape = broadcast_shapes(shape_of(shift), np.shape(axis))
    if len(b_shape) != 1:
        raise ValueError("'shift' and 'axis' arguments to roll must be scalars or 1D arrays")
    shifts = broadcast_to(shift, b_shape)
    for k, i in enumerate(np.broadcast_to(axis, b_shape)):
        # JAX iterates over the shifts array: a slice and a squeeze for each element
        x = lax.squeeze(lax.slice_in_dim(shifts, k, k + 1, axis=0), (0,))
        n = asarray(shape_of(a)[i], dtype=np.int32)
        x = remainder(lax.convert_element_type(x, np.int32), lax.max(n, np.int32(1)))
        doubled = lax.concatenate([a, a], int(i))
        a = lax.dynamic_slice_in_dim(doubled, n - x, shape_of(a)[i], axis=int(i))
    return a


# pad lives beside (JAX's modes under one jit named _pad)
from .padding import pad  # noqa: E402

# broadcasting, tile and repeat live beside (they type their results over a mesh)
from .shape_broadcast import (  # noqa: E402
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    repeat,
    tile,
)
