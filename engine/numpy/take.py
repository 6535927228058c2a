"""``take`` and ``take_along_axis`` with JAX's semantics (modes, fill values)."""

from __future__ import annotations

import operator

import numpy as np

from .. import core, dtypes, lax
from ..lax import GatherDimensionNumbers, GatherScatterMode
from ._jitted import as_jax_jits
from ._util import _broadcast_shapes
from .indexing import _as_array, _convert_index, _index_dtype, _normalize, _sequence_to_array


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


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """``arr`` indexed along ``axis`` by ``indices`` (same rank, broadcast against arr in
    the other axes). Out-of-bounds indices read ``fill_value`` unless mode='clip'."""
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
    if len(shape) != len(idx_shape):
        raise ValueError(
            "indices and arr must have the same number of dimensions; "
            f"{len(idx_shape)} vs. {len(shape)}"
        )
    axis = _canonical_axis(axis, len(shape), "take_along_axis")
    size = shape[axis]
    others = [1 if d == axis else s for d, s in enumerate(shape)]
    try:
        out_shape = tuple(_broadcast_shapes(idx_shape, tuple(others)))
    except ValueError:
        raise ValueError(
            f"take_along_axis: indices of shape {idx_shape} cannot be broadcast "
            f"against array of shape {shape} outside axis {axis}"
        ) from None
    dtype = core.get_aval(a).dtype
    if size == 0 or 0 in out_shape:
        return lax.full(out_shape, 0, dtype)
    indices = _convert_index(
        _normalize(indices, size) if mode != "promise_in_bounds" else indices, _index_dtype(shape)
    )
    indices = lax.broadcast_to_shape(indices, out_shape)
    # Pair every other axis of a with the same axis of the indices (XLA batching dims);
    # a is broadcast where it has size 1 but the indices do not.
    a_shape = tuple(size if d == axis else n for d, n in enumerate(out_shape))
    a = lax.broadcast_in_dim(a, a_shape, tuple(range(len(shape)))) if a_shape != shape else a
    batch = tuple(d for d in range(len(shape)) if d != axis)
    dnums = GatherDimensionNumbers(
        offset_dims=(),
        collapsed_slice_dims=(axis,),
        start_index_map=(axis,),
        operand_batching_dims=batch,
        start_indices_batching_dims=batch,
    )
    return lax.gather(
        a,
        lax.expand_dims(indices, (len(shape),)),
        dnums,
        (1,) * len(shape),
        mode="fill" if mode is None else mode,
        fill_value=fill_value,
    )
