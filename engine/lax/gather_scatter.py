"""gather and the scatter family (scatter, scatter-add, -sub, -mul, -min, -max).

XLA's gather takes, for each index vector in ``start_indices`` (whose last axis is the
index vector), a slice of ``slice_sizes`` out of ``operand``; scatter is its mirror image,
combining windows of ``updates`` into ``operand``. Out-of-bounds behaviour is a param
(``mode``): XLA itself clamps gathers and drops scatters; FILL_OR_DROP gathers are masked
after the fact and CLIP scatters clamp their indices first.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, tangent_aval
from ..interpreters.tracing import trace_to_jaxpr
from ..interpreters.transpose import is_undefined_primal
from . import elementwise as ew
from .structural import broadcast_in_dim_p, full

__all__ = [
    "GatherDimensionNumbers",
    "ScatterDimensionNumbers",
    "GatherScatterMode",
    "gather",
    "scatter",
    "scatter_add",
    "scatter_sub",
    "scatter_mul",
    "scatter_min",
    "scatter_max",
    "gather_p",
    "scatter_p",
    "scatter_add_p",
    "scatter_sub_p",
    "scatter_mul_p",
    "scatter_min_p",
    "scatter_max_p",
]


class GatherDimensionNumbers(NamedTuple):
    """How operand, start_indices and output dimensions of a gather relate. The index
    vector is always the last axis of ``start_indices``."""

    offset_dims: tuple
    collapsed_slice_dims: tuple
    start_index_map: tuple
    operand_batching_dims: tuple = ()
    start_indices_batching_dims: tuple = ()


class ScatterDimensionNumbers(NamedTuple):
    """How operand, scatter_indices and updates dimensions of a scatter relate."""

    update_window_dims: tuple
    inserted_window_dims: tuple
    scatter_dims_to_operand_dims: tuple
    operand_batching_dims: tuple = ()
    scatter_indices_batching_dims: tuple = ()


class GatherScatterMode(enum.Enum):
    """Out-of-bounds handling. CLIP: clamp indices so the whole window is in bounds.
    FILL_OR_DROP: out-of-bounds gather windows read ``fill_value``, out-of-bounds scatter
    windows are dropped. PROMISE_IN_BOUNDS: XLA's native behaviour (gathers clamp,
    scatters drop)."""

    CLIP = enum.auto()
    FILL_OR_DROP = enum.auto()
    PROMISE_IN_BOUNDS = enum.auto()

    @staticmethod
    def from_any(s):
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s == "fill" or s == "drop":
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f'Unknown gather mode "{s}"')


def _ints(xs):
    # NumPy integers stay as they are: JAX keeps them (np.int64(1) in jaxprs)
    return tuple(
        x if hasattr(x, "_is_symbolic_dim") or isinstance(x, np.integer) else int(x) for x in xs
    )


def _canon_gather_dnums(d):
    return GatherDimensionNumbers(*(_ints(f) for f in d))


def _canon_scatter_dnums(d):
    return ScatterDimensionNumbers(*(_ints(f) for f in d))


def _as_operand(x):
    if dtypes.is_python_scalar(x):
        return core.python_scalar_operand(x)
    return x


# ---------------------------------------------------------------------------- shape checks


def _check_dims(dims, rank, op, name, need_sorted=True):
    for d in dims:
        if not 0 <= d < rank:
            raise TypeError(
                f"{op} dimension_numbers.{name} must have values in the range "
                f"[0, {rank}); got {name}={dims}."
            )
    if len(set(dims)) != len(dims):
        raise TypeError(
            f"{op} dimension_numbers.{name} must not contain duplicates; got {name}={dims}."
        )
    if need_sorted and list(dims) != sorted(dims):
        raise TypeError(f"{op} dimension_numbers.{name} must be sorted; got {name}={dims}.")


def _check_indices(op, indices, index_map_len, map_name):
    if not dtypes.is_int(indices.dtype):
        raise TypeError(f"{op} indices must have an integer type; got {indices.dtype.name}.")
    if indices.ndim < 1:
        raise TypeError(
            f"{op} indices must have rank >= 1 (the last axis is the index "
            f"vector); got indices of shape {indices.shape}."
        )
    if indices.shape[-1] != index_map_len:
        raise TypeError(
            f"{op} dimension_numbers.{map_name} must have one entry per index "
            f"vector component; got {map_name} of length {index_map_len} for "
            f"indices of shape {indices.shape}."
        )


def _check_batching(op, operand, indices, obd, ibd, ibd_name):
    _check_dims(obd, operand.ndim, op, "operand_batching_dims")
    _check_dims(ibd, indices.ndim - 1, op, ibd_name, need_sorted=False)
    if len(obd) != len(ibd):
        raise TypeError(
            f"{op} requires operand_batching_dims and {ibd_name} to have the same "
            f"length; got {obd} and {ibd}."
        )
    for o, i in zip(obd, ibd):
        if operand.shape[o] != indices.shape[i]:
            raise TypeError(
                f"{op} operand batching dimension {o} (size {operand.shape[o]}) "
                f"and indices batching dimension {i} (size {indices.shape[i]}) "
                "must have the same size."
            )


def _gather_shape(operand, indices, dnums, slice_sizes):
    op = "gather"
    _check_indices(op, indices, len(dnums.start_index_map), "start_index_map")
    if len(slice_sizes) != operand.ndim:
        raise TypeError(
            f"gather slice_sizes must have the same length as operand.shape; got "
            f"slice_sizes={slice_sizes} for operand shape {operand.shape}."
        )
    for i, (s, n) in enumerate(zip(slice_sizes, operand.shape)):
        if not 0 <= s <= n:
            raise TypeError(
                f"gather slice_sizes must be between 0 and the operand dimension "
                f"size; got slice_sizes[{i}]={s} for operand shape {operand.shape}."
            )
    _check_dims(dnums.collapsed_slice_dims, operand.ndim, op, "collapsed_slice_dims")
    _check_dims(dnums.start_index_map, operand.ndim, op, "start_index_map", need_sorted=False)
    _check_batching(
        op,
        operand,
        indices,
        dnums.operand_batching_dims,
        dnums.start_indices_batching_dims,
        "start_indices_batching_dims",
    )
    if set(dnums.collapsed_slice_dims) & set(dnums.operand_batching_dims):
        raise TypeError(
            "gather collapsed_slice_dims and operand_batching_dims must be disjoint; "
            f"got {dnums.collapsed_slice_dims} and {dnums.operand_batching_dims}."
        )
    if set(dnums.start_index_map) & set(dnums.operand_batching_dims):
        raise TypeError(
            "gather start_index_map and operand_batching_dims must be disjoint; "
            f"got {dnums.start_index_map} and {dnums.operand_batching_dims}."
        )
    for d in dnums.collapsed_slice_dims + dnums.operand_batching_dims:
        if slice_sizes[d] > 1:
            raise TypeError(
                f"gather slice_sizes must be <= 1 in collapsed and batching "
                f"dimensions; got slice_sizes[{d}]={slice_sizes[d]}."
            )
    dropped = set(dnums.collapsed_slice_dims) | set(dnums.operand_batching_dims)
    offset_sizes = [s for i, s in enumerate(slice_sizes) if i not in dropped]
    batch_shape = indices.shape[:-1]
    out_rank = len(batch_shape) + len(dnums.offset_dims)
    _check_dims(dnums.offset_dims, out_rank, op, "offset_dims")
    if len(offset_sizes) != len(dnums.offset_dims):
        raise TypeError(
            f"gather: offset_dims {dnums.offset_dims} must have one entry per "
            f"uncollapsed slice dimension; slice_sizes={slice_sizes}, "
            f"collapsed_slice_dims={dnums.collapsed_slice_dims}."
        )
    offs, bats = iter(offset_sizes), iter(batch_shape)
    return tuple(next(offs) if d in dnums.offset_dims else next(bats) for d in range(out_rank))


def _window_sizes(operand_shape, updates_shape, dnums):
    """Per operand dimension, the size of the window a scatter writes."""
    inserted = set(dnums.inserted_window_dims) | set(dnums.operand_batching_dims)
    wins = iter(updates_shape[d] for d in dnums.update_window_dims)
    return tuple(1 if i in inserted else next(wins) for i in range(len(operand_shape)))


def _scatter_check(name, operand, indices, updates, dnums):
    _check_indices(
        name, indices, len(dnums.scatter_dims_to_operand_dims), "scatter_dims_to_operand_dims"
    )
    if updates.dtype != operand.dtype:
        raise TypeError(
            f"{name} requires operand and updates to have the same dtype; got "
            f"{operand.dtype.name} and {updates.dtype.name}."
        )
    _check_dims(dnums.update_window_dims, updates.ndim, name, "update_window_dims")
    _check_dims(dnums.inserted_window_dims, operand.ndim, name, "inserted_window_dims")
    _check_dims(
        dnums.scatter_dims_to_operand_dims,
        operand.ndim,
        name,
        "scatter_dims_to_operand_dims",
        need_sorted=False,
    )
    _check_batching(
        name,
        operand,
        indices,
        dnums.operand_batching_dims,
        dnums.scatter_indices_batching_dims,
        "scatter_indices_batching_dims",
    )
    n_window = (
        len(dnums.update_window_dims)
        + len(dnums.inserted_window_dims)
        + len(dnums.operand_batching_dims)
    )
    if n_window != operand.ndim:
        raise TypeError(
            f"{name}: update_window_dims, inserted_window_dims and "
            f"operand_batching_dims must together cover the operand's "
            f"{operand.ndim} dimensions; got {dnums}."
        )
    for d, (w, n) in enumerate(
        zip(_window_sizes(operand.shape, updates.shape, dnums), operand.shape)
    ):
        if w > n:
            raise TypeError(
                f"{name}: window size {w} of operand dimension {d} exceeds its "
                f"size {n} (updates shape {updates.shape}, operand shape "
                f"{operand.shape})."
            )
    scatter_dims = [
        updates.shape[d] for d in range(updates.ndim) if d not in dnums.update_window_dims
    ]
    if tuple(scatter_dims) != indices.shape[:-1]:
        raise TypeError(
            f"{name}: the updates' scatter dimensions {tuple(scatter_dims)} must "
            f"match the indices' batch shape {indices.shape[:-1]} (updates shape "
            f"{updates.shape}, indices shape {indices.shape})."
        )
    return ShapedArray(operand.shape, operand.dtype, operand.weak_type)


def _inverse_gather(dnums, operand_shape, updates_shape):
    """The gather that reads back what a scatter with ``dnums`` wrote (same windows)."""
    g = GatherDimensionNumbers(
        offset_dims=dnums.update_window_dims,
        collapsed_slice_dims=dnums.inserted_window_dims,
        start_index_map=dnums.scatter_dims_to_operand_dims,
        operand_batching_dims=dnums.operand_batching_dims,
        start_indices_batching_dims=dnums.scatter_indices_batching_dims,
    )
    return g, _window_sizes(operand_shape, updates_shape, dnums)


def _scatter_of_gather(dnums):
    return ScatterDimensionNumbers(
        update_window_dims=dnums.offset_dims,
        inserted_window_dims=dnums.collapsed_slice_dims,
        scatter_dims_to_operand_dims=dnums.start_index_map,
        operand_batching_dims=dnums.operand_batching_dims,
        scatter_indices_batching_dims=dnums.start_indices_batching_dims,
    )


# ---------------------------------------------------------------------------- gather

gather_p = Primitive("gather")


def _default_fill(dtype):
    if dtypes.is_inexact(dtype):
        return np.nan
    if dtype == np.bool_:
        return True
    if dtypes.is_unsigned(dtype):
        return int(np.iinfo(dtype).max)
    return int(np.iinfo(dtype).min)


def gather(
    operand,
    start_indices,
    dimension_numbers,
    slice_sizes,
    *,
    unique_indices=False,
    indices_are_sorted=False,
    mode=None,
    fill_value=None,
):
    """XLA's Gather: one slice of ``slice_sizes`` per index vector of ``start_indices``."""
    operand = _as_operand(operand)
    mode = GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else GatherScatterMode.from_any(mode)
    if mode == GatherScatterMode.FILL_OR_DROP:
        if fill_value is None:
            fill_value = _default_fill(core.get_aval(operand).dtype)
    else:
        fill_value = None
    return gather_p.bind(
        operand,
        start_indices,
        dimension_numbers=_canon_gather_dnums(dimension_numbers),
        slice_sizes=tuple(d if hasattr(d, "_is_symbolic_dim") else int(d) for d in slice_sizes),
        unique_indices=bool(unique_indices),
        indices_are_sorted=bool(indices_are_sorted),
        mode=mode,
        fill_value=fill_value,
    )


@gather_p.def_abstract_eval
def _gather_abstract_eval(
    operand,
    indices,
    *,
    dimension_numbers,
    slice_sizes,
    unique_indices,
    indices_are_sorted,
    mode,
    fill_value,
):
    shape = _gather_shape(operand, indices, dimension_numbers, slice_sizes)
    return ShapedArray(shape, operand.dtype, operand.weak_type)


def _gather_jvp(
    primals,
    tangents,
    *,
    dimension_numbers,
    slice_sizes,
    unique_indices,
    indices_are_sorted,
    mode,
    fill_value,
):
    operand, indices = primals
    t = tangents[0]
    params = dict(
        dimension_numbers=dimension_numbers,
        slice_sizes=slice_sizes,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
        mode=mode,
    )
    out = gather_p.bind(operand, indices, fill_value=fill_value, **params)
    if type(t) is Zero:
        return out, Zero(tangent_aval(core.get_aval(out)))
    fill = 0 if mode == GatherScatterMode.FILL_OR_DROP else None
    return out, gather_p.bind(t, indices, fill_value=fill, **params)


gather_p.def_jvp(_gather_jvp)


def _gather_transpose(
    ct,
    operand,
    indices,
    *,
    dimension_numbers,
    slice_sizes,
    unique_indices,
    indices_are_sorted,
    mode,
    fill_value,
):
    assert is_undefined_primal(operand) and not is_undefined_primal(indices)
    if type(ct) is Zero:
        return [Zero(operand.aval), None]
    sharding = getattr(operand.aval, "sharding", None)
    if sharding is None:
        zeros = full(operand.aval.shape, 0, core.get_aval(ct).dtype)
    else:  # typed as the operand, as JAX's
        zeros = broadcast_in_dim_p.bind(
            np.zeros((), core.get_aval(ct).dtype),
            shape=operand.aval.shape,
            broadcast_dimensions=(),
            sharding=sharding,
        )
    out = scatter_add(
        zeros,
        indices,
        ct,
        _scatter_of_gather(dimension_numbers),
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
        mode=mode,
    )
    return [out, None]


gather_p.def_transpose(_gather_transpose)


def _shift(dims):
    # NumPy integers, as JAX's rules build them with np.add (np.int64(1) in jaxprs)
    return tuple(np.add(1, dims))


def _gather_batch(
    size,
    vals,
    dims,
    *,
    dimension_numbers,
    slice_sizes,
    unique_indices,
    indices_are_sorted,
    mode,
    fill_value,
):
    operand, indices = vals
    od, idim = dims
    dn = dimension_numbers
    params = dict(mode=mode, fill_value=fill_value)
    if idim is None:
        # The batch axis becomes one more (full-size) window axis, at the front.
        operand = batching.move_batch_axis(size, od, 0, operand)
        new = GatherDimensionNumbers(
            offset_dims=(0,) + _shift(dn.offset_dims),
            collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
            start_index_map=_shift(dn.start_index_map),
            operand_batching_dims=_shift(dn.operand_batching_dims),
            start_indices_batching_dims=dn.start_indices_batching_dims,
        )
        return gather_p.bind(
            operand,
            indices,
            dimension_numbers=new,
            slice_sizes=(size,) + slice_sizes,
            unique_indices=unique_indices,
            indices_are_sorted=indices_are_sorted,
            **params,
        ), 0
    indices = batching.move_batch_axis(size, idim, 0, indices)
    if od is None:
        # One more batch axis of indices; the output's first batch axis is it.
        new = dn._replace(
            offset_dims=tuple(1 + d for d in dn.offset_dims),  # JAX's: keeps Python ints
            start_indices_batching_dims=_shift(dn.start_indices_batching_dims),
        )
        return gather_p.bind(
            operand,
            indices,
            dimension_numbers=new,
            slice_sizes=slice_sizes,
            unique_indices=False,
            indices_are_sorted=False,
            **params,
        ), 0
    # Both batched: pair them up as XLA batching dimensions.
    operand = batching.move_batch_axis(size, od, 0, operand)
    new = GatherDimensionNumbers(
        offset_dims=_shift(dn.offset_dims),
        collapsed_slice_dims=_shift(dn.collapsed_slice_dims),
        start_index_map=_shift(dn.start_index_map),
        operand_batching_dims=(0,) + _shift(dn.operand_batching_dims),
        start_indices_batching_dims=(0,) + _shift(dn.start_indices_batching_dims),
    )
    return gather_p.bind(
        operand,
        indices,
        dimension_numbers=new,
        slice_sizes=(1 if size else 0,) + slice_sizes,
        unique_indices=unique_indices,
        indices_are_sorted=indices_are_sorted,
        **params,
    ), 0


gather_p.def_batch(_gather_batch)


def _hlo_const(val, dtype, shape=()):
    return lowering.constant(np.full(shape, val, dtype), ShapedArray(shape, dtype))


def _index_dtype(dtype):
    """A signed integer type wide enough for both the indices and the operand's sizes."""
    dtype = np.dtype(dtype)
    if dtype.itemsize == 8 or (dtypes.is_unsigned(dtype) and dtype.itemsize >= 4):
        return np.dtype(np.int64)
    return np.dtype(np.int32)


def _static(shape):
    return all(type(d) is int for d in shape)


def _dim_vector(vals, dtype):
    """A 1-D constant of ``vals``; computed from the dimension variables when some are
    symbolic (a shape-polymorphic export)."""
    if _static(vals):
        return _hlo_const_vec(np.asarray(vals, np.int64).astype(dtype), dtype)
    from ..export.poly_lowering import shape_tensor

    t = ir.RankedTensorType.get([len(vals)], lowering.ir_element_type(np.dtype(dtype)))
    return hlo.convert(t, shape_tensor(vals))


def _splat(val, aval):
    """A constant ``val`` of ``aval`` (broadcast at run time if its shape is symbolic)."""
    if _static(aval.shape):
        return _hlo_const(val, aval.dtype, aval.shape)
    return lowering.broadcast_in_dim(_hlo_const(val, aval.dtype), aval, [])


def _in_bounds_mask(indices, idx_aval, upper):
    """bool[batch...]: every component of the index vector within [0, upper[k]]."""
    idt = _index_dtype(idx_aval.dtype)
    idx = lowering.convert(indices, idx_aval, idt)
    a = idx_aval.update(dtype=idt)
    zero = _splat(0, a)
    ub = lowering.broadcast_in_dim(_dim_vector(upper, idt), a, [a.ndim - 1])
    ok = hlo.and_(lowering.compare(idx, zero, "GE", a), lowering.compare(idx, ub, "LE", a))
    # all() over the index vector: reduce with `and` from True
    bool_aval = ShapedArray(a.shape[:-1], np.bool_)
    scalar = lowering.ir_type(ShapedArray((), np.bool_))
    red = hlo.ReduceOp(
        [lowering.ir_type(bool_aval)], [ok], [_hlo_const(True, np.bool_)], [a.ndim - 1]
    )
    block = red.regions[0].blocks.append(scalar, scalar)
    with ir.InsertionPoint(block):
        hlo.return_([hlo.and_(*block.arguments)])
    return red.result


def _hlo_const_vec(vals, dtype):
    vals = np.asarray(vals, dtype)
    return lowering.constant(vals, ShapedArray(vals.shape, dtype))


@gather_p.def_lowering
def _gather_lowering(
    ctx,
    operand,
    indices,
    *,
    dimension_numbers,
    slice_sizes,
    unique_indices,
    indices_are_sorted,
    mode,
    fill_value,
):
    op_aval, idx_aval = ctx.avals_in
    out_aval = ctx.avals_out[0]
    if _static(out_aval.shape) and out_aval.size == 0:
        return lowering.full_like_aval(0, out_aval)
    dn = dimension_numbers
    hdn = hlo.GatherDimensionNumbers.get(
        offset_dims=list(dn.offset_dims),
        collapsed_slice_dims=list(dn.collapsed_slice_dims),
        operand_batching_dims=list(dn.operand_batching_dims),
        start_indices_batching_dims=list(dn.start_indices_batching_dims),
        start_index_map=list(dn.start_index_map),
        index_vector_dim=idx_aval.ndim - 1,
    )
    if _static(slice_sizes):
        out = hlo.gather(
            operand,
            indices,
            hdn,
            list(slice_sizes),
            indices_are_sorted=ir.BoolAttr.get(indices_are_sorted),
            results=[lowering.ir_type(out_aval)],
        )
    else:  # symbolic slice sizes, as JAX lowers them
        out = hlo.dynamic_gather(
            operand,
            indices,
            _dim_vector(slice_sizes, _index_dtype(idx_aval.dtype)),
            hdn,
            indices_are_sorted=ir.BoolAttr.get(indices_are_sorted),
            results=[lowering.ir_type(out_aval)],
        )
    if mode != GatherScatterMode.FILL_OR_DROP:
        return out  # XLA clamps the start indices: CLIP and PROMISE_IN_BOUNDS
    upper = [op_aval.shape[d] - slice_sizes[d] for d in dn.start_index_map]
    mask = _in_bounds_mask(indices, idx_aval, upper)
    batch_pos = [d for d in range(out_aval.ndim) if d not in dn.offset_dims]
    mask = lowering.broadcast_in_dim(mask, out_aval.update(dtype=np.bool_), batch_pos)
    fill = _splat(np.asarray(fill_value).astype(out_aval.dtype), out_aval)
    return hlo.select(mask, out, fill)


# ---------------------------------------------------------------------------- scatters

_update_jaxprs: dict = {}


def _update_jaxpr(name, dtype):
    """The scalar combiner jaxpr a scatter carries (as JAX prints it), made once per dtype."""
    key = (name, np.dtype(dtype))
    j = _update_jaxprs.get(key)
    if j is None:
        fn = {"add": ew.add, "sub": ew.sub, "mul": ew.mul, "min": ew.min, "max": ew.max}[name]
        aval = ShapedArray((), dtype)
        j = _update_jaxprs[key] = trace_to_jaxpr(lambda a, b: [fn(a, b)], [aval, aval]).jaxpr
    return j


def _scatter_bind(
    p,
    operand,
    indices,
    updates,
    dimension_numbers,
    indices_are_sorted,
    unique_indices,
    mode,
    combiner,
):
    operand, updates = _as_operand(operand), _as_operand(updates)
    dtype = core.get_aval(operand).dtype
    jaxpr = None if combiner is None else _update_jaxpr(combiner, dtype)
    return p.bind(
        operand,
        indices,
        updates,
        dimension_numbers=_canon_scatter_dnums(dimension_numbers),
        indices_are_sorted=bool(indices_are_sorted),
        mode=GatherScatterMode.from_any(mode),
        unique_indices=bool(unique_indices),
        update_consts=(),
        update_jaxpr=jaxpr,
    )


def _declare(name, combiner):
    p = Primitive(name)

    def fn(
        operand,
        scatter_indices,
        updates,
        dimension_numbers,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
    ):
        return _scatter_bind(
            p,
            operand,
            scatter_indices,
            updates,
            dimension_numbers,
            indices_are_sorted,
            unique_indices,
            mode,
            combiner,
        )

    @p.def_abstract_eval
    def _abstract_eval(operand, indices, updates, *, dimension_numbers, **params):
        return _scatter_check(name, operand, indices, updates, dimension_numbers)

    p.def_lowering(_scatter_lowering)
    p.def_batch(lambda *a, **kw: _scatter_batch(p, *a, **kw))
    return p, fn


def _clamp_indices(indices, idx_aval, upper):
    idt = idx_aval.dtype
    if _static(upper):
        upper = np.minimum(np.asarray(upper, np.int64), np.iinfo(idt).max).astype(idt)
    ub = lowering.broadcast_in_dim(_dim_vector(upper, idt), idx_aval, [idx_aval.ndim - 1])
    return hlo.clamp(_splat(0, idx_aval), indices, ub)


def _scatter_lowering(
    ctx,
    operand,
    indices,
    updates,
    *,
    dimension_numbers,
    indices_are_sorted,
    mode,
    unique_indices,
    update_consts,
    update_jaxpr,
):
    op_aval, idx_aval, upd_aval = ctx.avals_in
    out_aval = ctx.avals_out[0]
    dn = dimension_numbers
    if mode == GatherScatterMode.CLIP:
        wins = _window_sizes(op_aval.shape, upd_aval.shape, dn)
        upper = [op_aval.shape[d] - wins[d] for d in dn.scatter_dims_to_operand_dims]
        indices = _clamp_indices(indices, idx_aval, upper)
    hdn = hlo.ScatterDimensionNumbers.get(
        update_window_dims=list(dn.update_window_dims),
        inserted_window_dims=list(dn.inserted_window_dims),
        input_batching_dims=list(dn.operand_batching_dims),
        scatter_indices_batching_dims=list(dn.scatter_indices_batching_dims),
        scattered_dims_to_operand_dims=list(dn.scatter_dims_to_operand_dims),
        index_vector_dim=idx_aval.ndim - 1,
    )
    op = hlo.ScatterOp(
        [lowering.ir_type(out_aval)],
        [operand],
        indices,
        [updates],
        hdn,
        indices_are_sorted=ir.BoolAttr.get(indices_are_sorted),
        unique_indices=ir.BoolAttr.get(unique_indices),
    )
    scalar = lowering.ir_type(ShapedArray((), out_aval.dtype))
    block = op.update_computation.blocks.append(scalar, scalar)
    with ir.InsertionPoint(block):
        if update_jaxpr is None:
            outs = [block.arguments[1]]
        else:
            outs = lowering.jaxpr_subcomp(
                ctx.module_ctx,
                update_jaxpr,
                list(update_consts),
                list(block.arguments),
                ctx.eqn_path,
            )
        hlo.return_(outs)
    return op.result


def _scatter_batch(p, size, vals, dims, *, dimension_numbers, **params):
    operand, indices, updates = vals
    od, idim, ud = dims
    dn = dimension_numbers
    ema = batching.current_explicit_mesh_axis()  # JAX broadcasts these over vmap's mesh axes
    operand = batching.move_batch_axis(size, od, 0, operand, mesh_axis=ema)
    updates = batching.move_batch_axis(size, ud, 0, updates, mesh_axis=ema)
    if idim is None:
        new = ScatterDimensionNumbers(
            update_window_dims=(0,) + _shift(dn.update_window_dims),
            inserted_window_dims=_shift(dn.inserted_window_dims),
            scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
            operand_batching_dims=_shift(dn.operand_batching_dims),
            scatter_indices_batching_dims=dn.scatter_indices_batching_dims,
        )
    else:
        indices = batching.move_batch_axis(size, idim, 0, indices, mesh_axis=ema)
        new = ScatterDimensionNumbers(
            update_window_dims=_shift(dn.update_window_dims),
            inserted_window_dims=_shift(dn.inserted_window_dims),
            scatter_dims_to_operand_dims=_shift(dn.scatter_dims_to_operand_dims),
            operand_batching_dims=(0,) + _shift(dn.operand_batching_dims),
            scatter_indices_batching_dims=(0,) + _shift(dn.scatter_indices_batching_dims),
        )
    return p.bind(operand, indices, updates, dimension_numbers=new, **params), 0


scatter_p, scatter = _declare("scatter", None)
scatter_add_p, scatter_add = _declare("scatter-add", "add")
scatter_sub_p, scatter_sub = _declare("scatter-sub", "sub")
scatter_mul_p, scatter_mul = _declare("scatter-mul", "mul")
scatter_min_p, scatter_min = _declare("scatter-min", "min")
scatter_max_p, scatter_max = _declare("scatter-max", "max")
scatter.__doc__ = "XLA's Scatter where updates replace operand values."
scatter_add.__doc__ = "XLA's Scatter where updates are added to operand values."


# The AD rules live beside this module; importing it registers them.
from . import scatter_ad as _scatter_ad  # noqa: E402, F401
