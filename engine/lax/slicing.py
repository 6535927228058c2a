"""slice, dynamic_slice and dynamic_update_slice, and the ``*_in_dim`` helpers on them.

Under ``vmap`` with batched start indices dynamic_slice / dynamic_update_slice become a
gather / scatter, by JAX's batching rules (so their jaxprs print as JAX's)."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import Zero, instantiate, tangent_aval
from ..interpreters.transpose import is_undefined_primal
from ._base import aval_of
from .structural import (
    broadcast,
    broadcast_in_dim,
    concatenate,
    expand_dims,
    full,
    pad,
    reshape,
    squeeze,
)

__all__ = [
    "slice",
    "dynamic_slice",
    "dynamic_update_slice",
    "slice_in_dim",
    "index_in_dim",
    "dynamic_slice_in_dim",
    "dynamic_index_in_dim",
    "dynamic_update_slice_in_dim",
    "dynamic_update_index_in_dim",
    "slice_p",
    "dynamic_slice_p",
    "dynamic_update_slice_p",
]

# ---------------------------------------------------------------------------- slice

slice_p = Primitive("slice")


def slice(operand, start_indices, limit_indices, strides=None):
    """``operand[start:limit:stride]`` in every dimension, with static bounds."""
    return slice_p.bind(
        operand,
        start_indices=core.canonical_shape(start_indices),
        limit_indices=core.canonical_shape(limit_indices),
        strides=None if strides is None else tuple(int(s) for s in strides),
    )


def _sliced_size(start, limit, stride):
    if not (type(start) is int and type(limit) is int):  # symbolic: as jnp's slices print it
        from ..export.shape_poly import max_dim

        return max_dim(0, limit - start + stride - 1) // stride
    n = -(-(limit - start) // stride)
    return n if n >= 0 else 0  # max(0, n), decidable for symbolic sizes


@slice_p.def_abstract_eval
def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    shape = x.shape
    if len(start_indices) != x.ndim:
        raise TypeError(
            f"slice start_indices must have length equal to the number of "
            f"dimensions of the operand, got start_indices {start_indices} for "
            f"operand shape {shape}."
        )
    if len(limit_indices) != x.ndim:
        raise TypeError(
            f"slice limit_indices must have the same length as start_indices, got "
            f"start_indices {start_indices} and limit_indices {limit_indices}."
        )
    if strides is not None and len(strides) != x.ndim:
        raise TypeError(
            f"slice strides must have length equal to the number of dimensions of "
            f"the operand, got strides {strides} for operand shape {shape}."
        )
    if any(s < 0 for s in start_indices):
        raise TypeError(
            f"slice start_indices must be greater than or equal to zero, got "
            f"start_indices {start_indices}."
        )
    if any(l > n for l, n in zip(limit_indices, shape)):
        raise TypeError(
            f"slice limit_indices must be less than or equal to operand shape, got "
            f"limit_indices {limit_indices} for operand shape {shape}."
        )
    if any(l < s for s, l in zip(start_indices, limit_indices)):
        raise TypeError(
            f"slice limit_indices must be greater than or equal to start_indices, "
            f"got start_indices {start_indices} and limit_indices {limit_indices}."
        )
    strides = strides or (1,) * x.ndim
    if any(s <= 0 for s in strides):
        raise TypeError(f"slice strides must be positive, got {strides}")
    out = tuple(_sliced_size(*a) for a in zip(start_indices, limit_indices, strides))
    return ShapedArray(out, x.dtype, x.weak_type)


@slice_p.def_lowering
def _slice_lowering(ctx, x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * len(start_indices)
    return lowering.slice_op(x, ctx.avals_out[0], start_indices, limit_indices, strides)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    # Scatter back with zeros: edge padding before/after, interior padding between strides.
    shape, out = x.aval.shape, aval_of(ct).shape
    strides = strides or (1,) * len(shape)
    if not all(type(d) is int for d in (*shape, *out, *start_indices)):
        return [_symbolic_slice_transpose(ct, shape, start_indices, strides)]
    config = []
    for n, lo, m, s in zip(shape, start_indices, out, strides):
        used = m + max(m - 1, 0) * (s - 1)
        config.append((lo, n - lo - used, s - 1))
    return [pad(ct, np.zeros((), aval_of(ct).dtype), tuple(config))]


def _symbolic_slice_transpose(ct, shape, starts, strides):
    """With symbolic sizes (engine.export): the cotangent spread by its strides
    (static interior padding), written into zeros of the operand's shape at the starts."""
    dtype = aval_of(ct).dtype
    idx = [i if type(i) is int else i.__jax_array__() for i in starts]
    if all(s == 1 for s in strides):
        return dynamic_update_slice(full(shape, 0, dtype), ct, idx, allow_negative_indices=False)
    # interleave s - 1 zeros after each element of a strided axis (m -> m*s elements),
    # write into zeros with s more room, then cut back to the operand's shape
    for axis, s in enumerate(strides):
        if s == 1:
            continue
        cts = aval_of(ct).shape
        gap = full(cts[: axis + 1] + (s - 1,) + cts[axis + 1 :], 0, dtype)
        spread = concatenate([expand_dims(ct, (axis + 1,)), gap], axis + 1)
        ct = reshape(spread, cts[:axis] + (cts[axis] * s,) + cts[axis + 1 :])
    room = tuple(n + s for n, s in zip(shape, strides))
    placed = dynamic_update_slice(full(room, 0, dtype), ct, idx, allow_negative_indices=False)
    return slice(placed, (0,) * len(shape), shape)


def _slice_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    out = slice_p.bind(x, **params)
    if type(t) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, slice_p.bind(t, **params)


slice_p.def_jvp(_slice_jvp)
slice_p.def_transpose(_slice_transpose)


def _slice_batch(size, vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(d, 0)
    limits.insert(d, size)
    if strides is not None:
        strides = list(strides)
        strides.insert(d, 1)
        strides = tuple(strides)
    return slice(x, starts, limits, strides), d


slice_p.def_batch(_slice_batch)


def _static_bound(i):
    """An int, or a symbolic dimension (shape-polymorphic export) as it is."""
    return i if hasattr(i, "_is_symbolic_dim") else int(i)


def slice_in_dim(operand, start_index, limit_index, stride=1, axis=0):
    """``slice`` along one axis; None bounds mean the ends, negative ones count from the end."""
    shape = core.get_aval(operand).shape
    axis = int(axis)
    n = shape[axis]
    start = 0 if start_index is None else _static_bound(start_index)
    limit = n if limit_index is None else _static_bound(limit_index)
    start = start + n if start < 0 else start
    limit = limit + n if limit < 0 else limit
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return slice(operand, starts, limits, strides)


def index_in_dim(operand, index, axis=0, keepdims=True):
    """The ``index``-th entry along ``axis`` (a static index)."""
    shape = core.get_aval(operand).shape
    index, axis = int(index), int(axis)
    n = shape[axis]
    wrapped = index + n if index < 0 else index
    if not 0 <= wrapped < n:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {n}")
    out = slice_in_dim(operand, wrapped, wrapped + 1, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# ---------------------------------------------------------------------------- start indices


def _index_dtype(i):
    return np.dtype(dtypes.dtype_of(i))


def _split_indices(start_indices):
    """A sequence of scalar indices from a sequence or a 1-D array of them."""
    if isinstance(start_indices, (tuple, list)):
        return list(start_indices)
    aval = core.get_aval(start_indices)
    if aval.ndim != 1:
        raise ValueError(f"Slice indices must be a 1D sequence, got {aval.shape}")
    if isinstance(start_indices, np.ndarray):
        return list(start_indices)
    return [index_in_dim(start_indices, k, keepdims=False) for k in range(aval.shape[0])]


def _normalize_indices(operand, start_indices, allow_negative_indices):
    """Count negative start indices from the end of their dimension, as JAX does: static
    indices now, traced ones with ``select_n(i < 0, i, i + n)``."""
    from .convert import convert_element_type
    from .elementwise import add
    from .logic import lt, select_n

    shape = core.get_aval(operand).shape
    if len(start_indices) != len(shape):
        raise ValueError(
            f"Length of slice indices must match number of operand dimensions "
            f"({len(start_indices)} vs {shape})"
        )
    idx = _split_indices(start_indices)
    if isinstance(allow_negative_indices, bool):
        allow_negative_indices = [allow_negative_indices] * len(idx)
    out = []
    for i, n, allow in zip(idx, shape, allow_negative_indices):
        dtype = _index_dtype(i)
        if dtypes.is_unsigned(dtype):
            out.append(i)
        elif isinstance(i, (int, np.integer)):
            if int(i) < 0 and not allow:
                raise ValueError(
                    f"Index {i} is out of bounds for dimension {n} if allow_negative_indices=False"
                )
            out.append(np.asarray(int(i) + n if int(i) < 0 else int(i), dtype))
        elif allow:
            negative = lt(i, np.asarray(0, dtype))
            strong = convert_element_type(i, dtype, False) if dtypes.is_weakly_typed(i) else i
            size = (  # a symbolic dimension (engine.export) as a traced value
                np.asarray(n).astype(dtype)
                if type(n) is int
                else convert_element_type(n.__jax_array__(), dtype)
            )
            out.append(select_n(negative, i, add(strong, size)))
        else:
            out.append(i)
    return out


def _check_indices(name, indices, ndim):
    if len(indices) != ndim:
        raise TypeError(
            f"{name} start_indices must have length equal to the number of "
            f"dimensions of the operand, got {len(indices)} indices for an operand "
            f"of rank {ndim}."
        )
    if any(i.ndim != 0 for i in indices):
        raise TypeError(
            f"start_indices arguments to {name} must be scalars, got indices "
            f"({', '.join(repr(i) for i in indices)})"
        )
    kinds = [i.dtype for i in indices]
    if any(not dtypes.is_int(k) for k in kinds) or len(set(kinds)) > 1:
        raise TypeError(
            f"index arguments to {name} must be integers of the same type, got: "
            f"{', '.join(k.name for k in kinds)}"
        )


def _zero_index(indices):
    dtype = aval_of(indices[0]).dtype if indices else np.dtype(np.int32)
    return np.zeros((), dtype)


# ---------------------------------------------------------------------------- dynamic_slice

dynamic_slice_p = Primitive("dynamic_slice")


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """The slice of ``slice_sizes`` at traced ``start_indices``; starts are clamped so
    that the slice stays in bounds."""
    idx = _normalize_indices(operand, start_indices, allow_negative_indices)
    return dynamic_slice_p.bind(operand, *idx, slice_sizes=tuple(int(s) for s in slice_sizes))


def _check_slice_sizes(name, shape, sizes):
    if len(sizes) != len(shape):
        raise TypeError(
            f"{name} slice_sizes must have the same length as the operand rank, got "
            f"slice_sizes {sizes} for operand shape {shape}."
        )
    if not all(n >= s for s, n in zip(sizes, shape)):  # JAX's comparison, if symbolic
        raise TypeError(
            f"slice slice_sizes must be less than or equal to operand shape, got "
            f"slice_sizes {sizes} for operand shape {shape}."
        )
    if any(s < 0 for s in sizes):
        raise TypeError(
            f"slice slice_sizes must be greater than or equal to zero, got slice_sizes of {sizes}."
        )


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x, *indices, slice_sizes):
    _check_indices("dynamic_slice", indices, x.ndim)
    _check_slice_sizes("dynamic_slice", x.shape, slice_sizes)
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


@dynamic_slice_p.def_lowering
def _dynamic_slice_lowering(ctx, x, *indices, slice_sizes):
    return hlo.dynamic_slice(x, list(indices), list(slice_sizes))


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *idx = primals
    out = dynamic_slice_p.bind(x, *idx, slice_sizes=slice_sizes)
    t = tangents[0]
    if type(t) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, dynamic_slice_p.bind(t, *idx, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *idx, slice_sizes):
    if any(is_undefined_primal(i) for i in idx):
        raise ValueError("dynamic_slice is not linear in its start indices")
    aval = x.aval
    zeros = full(aval.shape, 0, aval.dtype, sharding=aval.sharding)  # typed as JAX's
    return [dynamic_update_slice_p.bind(zeros, ct, *idx)] + [None] * len(idx)


dynamic_slice_p.def_jvp(_dynamic_slice_jvp)
dynamic_slice_p.def_transpose(_dynamic_slice_transpose)


def _batch_dynamic_slice_indices(size, indices, dims):
    """The start indices as one index array for a gather/scatter (JAX's
    ``_batch_dynamic_slice_indices``): shape (n,) when none is batched, else (B, n)."""
    if not indices:
        return np.array([], "int32"), None
    if all(d is None for d in dims):
        return concatenate([broadcast(i, (1,)) for i in indices], 0), None
    out_s = None
    first = next(i for i, d in zip(indices, dims) if d is not None)
    typed = aval_of(first).sharding
    if typed is not None:  # the batch axis keeps the batched index's mesh axis
        from ..sharding.named import PartitionSpec

        d0 = next(d for d in dims if d is not None)
        entry = typed.spec[d0] if d0 < len(typed.spec) else None
        out_s = type(typed)(typed.mesh, PartitionSpec(entry, None))
    cols = [
        broadcast_in_dim(i, (size, 1), (0,) if d is not None else (), out_sharding=out_s)
        for i, d in zip(indices, dims)
    ]
    return concatenate(cols, 1), 0


def _dynamic_slice_batch(size, vals, dims, *, slice_sizes):
    # As JAX: a dynamic_slice is a gather, batched by gather's rule.
    from .gather_scatter import GatherDimensionNumbers, GatherScatterMode, _gather_batch

    (x, *idx), (xd, *idd) = vals, dims
    nd = len(idx)
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(range(nd)), collapsed_slice_dims=(), start_index_map=tuple(range(nd))
    )
    index, index_d = _batch_dynamic_slice_indices(size, idx, idd)
    return _gather_batch(
        size,
        (x, index),
        (xd, index_d),
        dimension_numbers=dnums,
        slice_sizes=slice_sizes,
        unique_indices=True,
        indices_are_sorted=True,
        mode=GatherScatterMode.CLIP,
        fill_value=None,
    )


dynamic_slice_p.def_batch(_dynamic_slice_batch)


# ---------------------------------------------------------------------------- dynamic_update_slice

dynamic_update_slice_p = Primitive("dynamic_update_slice")


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """``operand`` with ``update`` written at traced ``start_indices`` (clamped so the
    update fits)."""
    idx = _normalize_indices(operand, start_indices, allow_negative_indices)
    return dynamic_update_slice_p.bind(operand, update, *idx)


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x, update, *indices):
    if x.dtype != update.dtype:
        raise TypeError(
            f"lax.dynamic_update_slice requires arguments to have the same dtypes, "
            f"got {x.dtype.name}, {update.dtype.name}."
        )
    if update.ndim != x.ndim:
        raise TypeError(
            f"dynamic_update_slice update must have the same rank as operand, got "
            f"update shape {update.shape} for operand shape {x.shape}."
        )
    if any(u > n for u, n in zip(update.shape, x.shape)):
        raise TypeError(
            f"dynamic_update_slice update shape must be smaller than operand shape, "
            f"got update shape {update.shape} for operand shape {x.shape}."
        )
    _check_indices("dynamic_update_slice", indices, x.ndim)
    weak = x.weak_type and update.weak_type and all(i.weak_type for i in indices)
    return ShapedArray(x.shape, x.dtype, weak)


@dynamic_update_slice_p.def_lowering
def _dynamic_update_slice_lowering(ctx, x, update, *indices):
    return hlo.dynamic_update_slice(x, update, list(indices))


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *idx = primals
    out = dynamic_update_slice_p.bind(x, update, *idx)
    tx, tu = tangents[:2]
    if type(tx) is Zero and type(tu) is Zero:
        return out, Zero(tangent_aval(aval_of(out)))
    return out, dynamic_update_slice_p.bind(instantiate(tx), instantiate(tu), *idx)


def _dynamic_update_slice_transpose(ct, x, update, *idx):
    if any(is_undefined_primal(i) for i in idx):
        raise ValueError("dynamic_update_slice is not linear in its start indices")
    ct_x = ct_u = None
    u_aval = update.aval if is_undefined_primal(update) else aval_of(update)
    if is_undefined_primal(x):
        zeros = full(u_aval.shape, 0, aval_of(ct).dtype, sharding=u_aval.sharding)
        ct_x = dynamic_update_slice_p.bind(ct, zeros, *idx)
    if is_undefined_primal(update):
        ct_u = dynamic_slice_p.bind(ct, *idx, slice_sizes=u_aval.shape)
    return [ct_x, ct_u] + [None] * len(idx)


dynamic_update_slice_p.def_jvp(_dynamic_update_slice_jvp)
dynamic_update_slice_p.def_transpose(_dynamic_update_slice_transpose)


def _dynamic_update_slice_batch(size, vals, dims):
    # As JAX: a dynamic_update_slice is a scatter, batched by vmapping lax.scatter.
    from ..api import vmap
    from .gather_scatter import GatherScatterMode, ScatterDimensionNumbers, scatter

    (x, update, *idx), (xd, ud, *idd) = vals, dims
    nd = len(idx)
    dnums = ScatterDimensionNumbers(
        update_window_dims=tuple(range(nd)),
        inserted_window_dims=(),
        scatter_dims_to_operand_dims=tuple(range(nd)),
    )
    index, index_d = _batch_dynamic_slice_indices(size, idx, idd)

    def one(x, i, u):
        return scatter(
            x,
            i,
            u,
            dnums,
            indices_are_sorted=True,
            unique_indices=True,
            mode=GatherScatterMode.CLIP,
        )

    return vmap(one, in_axes=(xd, index_d, ud), out_axes=0)(x, index, update), 0


dynamic_update_slice_p.def_batch(_dynamic_update_slice_batch)


# ---------------------------------------------------------------------------- *_in_dim helpers


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *, allow_negative_indices=True):
    """``dynamic_slice`` along one axis, taking the other axes whole."""
    shape = core.get_aval(operand).shape
    axis = int(axis)
    starts = [_index_dtype(start_index).type(0)] * len(shape)
    sizes = list(shape)
    starts[axis], sizes[axis] = start_index, int(slice_size)
    allow = [False] * len(shape)
    allow[axis] = allow_negative_indices
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow)


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *, allow_negative_indices=True):
    """``dynamic_update_slice`` at ``start_index`` along one axis (0 along the others)."""
    ndim = core.get_aval(operand).ndim
    axis = int(axis)
    starts = [_index_dtype(start_index).type(0)] * ndim
    starts[axis] = start_index
    allow = [False] * ndim
    allow[axis] = allow_negative_indices
    return dynamic_update_slice(operand, update, starts, allow_negative_indices=allow)


def _dynamic_index_in_dim(operand, index, axis=0, keepdims=True, allow_negative_indices=True):
    out = dynamic_slice_in_dim(
        operand, index, 1, axis, allow_negative_indices=allow_negative_indices
    )
    return out if keepdims else squeeze(out, (axis,))


def _dynamic_update_index_in_dim(operand, update, index, axis, allow_negative_indices=True):
    ndim = core.get_aval(operand).ndim
    if core.get_aval(update).ndim != ndim:
        update = expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(
        operand, update, index, axis, allow_negative_indices=allow_negative_indices
    )


_jitted = {}


def _jit(fun, name):
    """JAX runs these two helpers as nested ``jit`` calls (visible in jaxprs)."""
    f = _jitted.get(name)
    if f is None:
        from ..jit import JitFunction

        fun.__name__ = name
        f = _jitted[name] = JitFunction(
            fun, static_argnames=("axis", "keepdims", "allow_negative_indices")
        )
    return f


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    """The entry at traced ``index`` along ``axis`` (kept as a size-1 axis if keepdims)."""
    return _jit(_dynamic_index_in_dim, "dynamic_index_in_dim")(
        operand, index, axis=axis, keepdims=keepdims, allow_negative_indices=allow_negative_indices
    )


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    """Write ``update`` (with or without the size-1 ``axis``) at traced ``index``."""
    return _jit(_dynamic_update_index_in_dim, "dynamic_update_index_in_dim")(
        operand, update, index, axis=axis, allow_negative_indices=allow_negative_indices
    )
