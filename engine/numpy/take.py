"""``take`` and ``take_along_axis`` with JAX's semantics (modes, fill values)."""

from __future__ import annotations

import operator

import numpy as np

from .. import core, dtypes, lax
from ..lax import GatherDimensionNumbers, GatherScatterMode
from ._jitted import as_jax_jits
from ._util import _broadcast_shapes
from .indexing import _as_array, _index_dtype, _normalize, _sequence_to_array


def _canonical_axis(axis, ndim, fun_name):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fun_name}: axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim if ndim else 0


def _index_operand(indices, fun_name):
    if isinstance(indices, (list, tuple)):
        indices = _sequence_to_array(list(indices))
    indices = _as_array(indices, fun_name)
    if not dtypes.is_int(core.get_aval(indices).dtype):
        dt = core.get_aval(indices).dtype.name
        if fun_name == "take":  # JAX's take raises a ValueError, take_along_axis a TypeError
            raise ValueError(f"indices must have an integer type (take got {dt})")
        raise TypeError(f"{fun_name} indices must be of integer type, got {dt}")
    return indices


def take(
    a,
    indices,
    axis=None,
    out=None,
    mode=None,
    unique_indices=False,
    indices_are_sorted=False,
    fill_value=None,
):
    """Elements of ``a`` at ``indices`` along ``axis`` (the flattened array if None).
    Out-of-bounds indices read ``fill_value`` (NaN for inexact types) unless ``mode`` is
    'clip' or 'wrap'. Runs under ``jit[name=_take]`` as JAX's."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.take is not supported.")
    a = _as_array(a, "take")
    indices = _index_operand(indices, "take")
    return _take(
        a,
        indices,
        None if axis is None else operator.index(axis),
        None,
        mode,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
        fill_value=fill_value,
    )


@as_jax_jits("_take", ("axis", "mode", "unique_indices", "indices_are_sorted", "fill_value"))
def _take(
    a,
    indices,
    axis=None,
    out=None,
    mode=None,
    unique_indices=False,
    indices_are_sorted=False,
    fill_value=None,
):
    from .ufuncs_arith import remainder
    from .ufuncs_logic import _where

    if axis is None:
        a = lax.reshape(a, (core.get_aval(a).size,))
        axis = 0
    shape = core.get_aval(a).shape
    axis = _canonical_axis(axis, len(shape), "take")
    idx_aval = core.get_aval(indices)
    if mode is None or mode == "fill":
        gmode = GatherScatterMode.FILL_OR_DROP
        # gather takes no negative indices: they are wrapped here
        n = core.WeakScalar(shape[axis], idx_aval.dtype)
        indices = _where(
            lax.lt(indices, core.WeakScalar(0, idx_aval.dtype)), lax.add(indices, n), indices
        )
    elif mode == "raise":
        raise NotImplementedError("The 'raise' mode to jnp.take is not supported.")
    elif mode == "wrap":
        indices = remainder(indices, np.array(shape[axis], idx_aval.dtype))
        gmode = GatherScatterMode.PROMISE_IN_BOUNDS
    elif mode == "clip":
        gmode = GatherScatterMode.CLIP
    else:
        raise ValueError(f"Invalid mode '{mode}' for np.take")
    if shape[axis] == 0:
        if idx_aval.size != 0:
            raise IndexError("Cannot do a non-empty jnp.take() from an empty axis.")
        return a
    nd = idx_aval.ndim
    if idx_aval.size == 0:
        out_shape = shape[:axis] + idx_aval.shape + shape[axis + 1 :]
        return lax.full(out_shape, 0, core.get_aval(a).dtype)
    sizes = list(shape)
    sizes[axis] = 1
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(range(axis)) + tuple(range(axis + nd, len(shape) + nd - 1)),
        collapsed_slice_dims=(axis,),
        start_index_map=(axis,),
    )
    return lax.gather(
        a,
        lax.expand_dims(indices, (nd,)),
        dnums,
        tuple(sizes),
        mode=gmode,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
        fill_value=fill_value,
    )


@as_jax_jits("take_along_axis", ("axis", "mode", "fill_value", "wrap_negative_indices"))
def take_along_axis(
    arr, indices, axis=-1, mode=None, fill_value=None, *, wrap_negative_indices=None
):
    """``arr`` indexed along ``axis`` by ``indices`` (same rank, broadcast against arr in
    the other axes), as JAX's: one gather, the other axes paired as batching dimensions
    (or sliced whole where the indices have size 1). Out-of-bounds indices read
    ``fill_value`` unless mode='clip'."""
    a = _as_array(arr, "take_along_axis")
    indices = _index_operand(indices, "take_along_axis")
    idx_shape = core.get_aval(indices).shape
    if axis is None:
        if len(idx_shape) != 1:
            raise ValueError(
                f"take_along_axis indices must be 1D if axis=None, got shape {idx_shape}"
            )
        a = lax.reshape(a, (core.get_aval(a).size,))
        axis = 0
    shape = core.get_aval(a).shape
    rank = len(shape)
    if rank != len(idx_shape):
        raise ValueError(
            f"indices and arr must have the same number of dimensions; {len(idx_shape)} vs. {rank}"
        )
    axis = _canonical_axis(axis, rank, "take_along_axis")
    axis_size = shape[axis]
    arr_shape = tuple(1 if d == axis else n for d, n in enumerate(shape))
    try:
        out_shape = tuple(_broadcast_shapes(idx_shape, arr_shape))
    except ValueError:
        raise ValueError(
            f"take_along_axis: indices of shape {idx_shape} cannot be broadcast "
            f"against array of shape {shape} outside axis {axis}"
        ) from None
    dtype = core.get_aval(a).dtype
    if axis_size == 0:
        return lax.full(out_shape, 0, dtype)
    if wrap_negative_indices is None:  # JAX's legacy default
        wrap_negative_indices = mode != "promise_in_bounds"
    idx_dtype = core.get_aval(indices).dtype
    if wrap_negative_indices:
        idx_dtype = _index_dtype((axis_size,))
    indices = lax.convert_element_type(indices, idx_dtype)
    if wrap_negative_indices:
        indices = _normalize(indices, axis_size)
    if mode == "one_hot":  # a boolean one-hot contracted against arr, as JAX's
        return _take_one_hot(a, indices, axis, axis_size, dtype)
    index_dims = [i for i, n in enumerate(idx_shape) if i == axis or n != 1]
    gather_indices = lax.reshape(indices, tuple(out_shape[i] for i in index_dims) + (1,))
    slice_sizes, offset_dims, start_index_map, collapsed = [], [], [], []
    operand_batching, indices_batching, squeezed = [], [], []
    new_i = j = 0
    for i in range(rank):
        if i == axis:
            slice_sizes.append(1)
            start_index_map.append(new_i)
            collapsed.append(new_i)
            new_i += 1
            j += 1
        elif idx_shape[i] == 1:  # the whole axis of arr, no iota index
            offset_dims.append(i)
            slice_sizes.append(arr_shape[i])
            new_i += 1
        elif arr_shape[i] == 1:  # broadcast against the indices: squeezed away
            squeezed.append(i)
            j += 1
        else:
            slice_sizes.append(0 if arr_shape[i] == 0 else 1)
            operand_batching.append(new_i)
            indices_batching.append(j)
            new_i += 1
            j += 1
    a = lax.squeeze(a, tuple(squeezed))
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(offset_dims),
        collapsed_slice_dims=tuple(collapsed),
        start_index_map=tuple(start_index_map),
        operand_batching_dims=tuple(operand_batching),
        start_indices_batching_dims=tuple(indices_batching),
    )
    return lax.gather(
        a,
        gather_indices,
        dnums,
        tuple(slice_sizes),
        mode="fill" if mode is None else mode,
        fill_value=fill_value,
    )


def _take_one_hot(a, indices, axis, axis_size, dtype):
    import string

    from ..nn import one_hot
    from .linalg_ops import einsum

    hot = one_hot(indices, axis_size, dtype=np.bool_)
    if len(core.get_aval(a).shape) == 1:
        return einsum("...b,b->...", hot, a, preferred_element_type=dtype)
    if axis > len(string.ascii_letters) - 2:
        raise ValueError("One Hot indexing is only supported for up to 50 leading dimensions.")
    labels = string.ascii_letters[:axis]
    eq = labels + "y...z," + labels + "z...->" + labels + "y..."
    return einsum(eq, hot, a, precision=lax.Precision.HIGHEST, preferred_element_type=dtype)
