"""NumPy indexing on engine arrays: ``x[idx]``, ``x.at[idx].set/add/...``, ``take`` and
``take_along_axis``, with JAX's semantics.

Every index is first parsed against the array's shape. A read tries, in order, a static
``slice`` (ints, slices, None, Ellipsis, all known in bounds), a ``dynamic_slice`` (scalar
array indices as well) and finally one ``gather``. Updates always scatter. Reads that
go out of bounds are clamped; updates out of bounds are dropped (``mode`` changes this).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .. import core, dtypes, errors, lax
from ..array import Array
from ..key_reuse import checking as _key_reuse_checking
from ..lax import GatherDimensionNumbers, GatherScatterMode
from ..sharding.in_types import auto_axes
from ..sharding.mesh import AxisType
from ..transfer_guard import sites as _tg
from ._util import check_arraylike
from .creation import array, asarray

NONE, ELLIPSIS, SLICE, INT, BOOL, ARRAY = "none", "ellipsis", "slice", "int", "bool", "array"


class _Index(NamedTuple):
    kind: str
    value: object
    axes: tuple  # the axes of x this index consumes


# ---------------------------------------------------------------------------- parsing


def _is_int_scalar(i):
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def _aval_or_none(i):
    if isinstance(i, (Array, core.Tracer, np.ndarray, np.generic)):
        return core.get_aval(i)
    return None


def _kind(i):
    if i is None:
        return NONE
    if i is Ellipsis:
        return ELLIPSIS
    if isinstance(i, slice):
        return SLICE
    if _is_int_scalar(i):
        return INT
    if isinstance(i, (bool, np.bool_)):
        return BOOL
    aval = _aval_or_none(i)
    if aval is not None:
        if aval.dtype == np.bool_:
            return BOOL
        if dtypes.is_int(aval.dtype):
            return ARRAY
        raise TypeError(
            f"Indexer must have integer or boolean type, got indexer with type {aval.dtype.name}"
        )
    if isinstance(i, str):
        raise TypeError(f"JAX does not support string indexing; got idx={i!r}")
    if isinstance(i, Sequence):
        if not i:
            return ARRAY
        dt = np.asarray(i).dtype if not _has_arrays(i) else core.get_aval(_jnp_array(i)).dtype
        if dt == np.bool_:
            return BOOL
        if np.issubdtype(dt, np.integer):
            return ARRAY
        raise TypeError(f"Indexer must have integer or boolean type, got indexer with type {dt}")
    if isinstance(i, (float, complex)):
        raise TypeError(
            f"Indexer must have integer or boolean type, got indexer with type "
            f"{np.dtype(type(i)).name}"
        )
    raise IndexError(
        "only integers, slices (`:`), ellipsis (`...`), newaxis (`None`) and "
        f"integer or boolean arrays are valid indices. Got {i}"
    )


def _has_arrays(seq):
    return any(
        isinstance(e, (Array, core.Tracer)) or (isinstance(e, Sequence) and _has_arrays(e))
        for e in seq
    )


def _jnp_array(x):

    return array(x)


def _as_tuple(idx):
    """A non-tuple sequence is not an index in JAX (NumPy's old heuristics are gone)."""
    if isinstance(idx, tuple):
        return idx
    if isinstance(idx, Sequence) and not isinstance(idx, str):
        unpackable = any(
            isinstance(i, (Sequence, slice))
            or i is None
            or i is Ellipsis
            or (isinstance(i, (np.ndarray, Array, core.Tracer)) and np.ndim(i) != 0)
            for i in idx
        )
        hint = "arr[tuple(seq)]" if unpackable else "arr[array(seq)]"
        raise TypeError(
            "Using a non-tuple sequence for multidimensional indexing is not "
            f"allowed; use `{hint}` instead of `arr[seq]`. See "
            "https://github.com/jax-ml/jax/issues/4564 for more information."
        )
    return (idx,)


def _parse(idx, shape):
    idx = _as_tuple(idx)
    kinds = [_kind(i) for i in idx]
    if kinds.count(ELLIPSIS) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = [
        0 if k in (NONE, ELLIPSIS) else (np.ndim(i) if k == BOOL else 1) for i, k in zip(idx, kinds)
    ]
    total = sum(used)
    if total > len(shape):
        raise IndexError(
            f"Too many indices: array is {len(shape)}-dimensional, but {total} were indexed"
        )
    if ELLIPSIS in kinds:
        used[kinds.index(ELLIPSIS)] = len(shape) - total
    out, axis = [], 0
    for i, k, n in zip(idx, kinds, used):
        if isinstance(i, Sequence) and k in (ARRAY, BOOL) and not isinstance(i, str):
            i = _sequence_to_array(i)
        out.append(_Index(k, i, tuple(range(axis, axis + n))))
        axis += n
    return out


def _sequence_to_array(seq):
    if not seq:
        return np.zeros((0,), np.int32)
    if _has_arrays(seq):
        return _jnp_array(seq)
    arr = np.asarray(seq)
    return arr.astype(dtypes.canonicalize_dtype(arr.dtype))


def _expand_ellipsis(parsed, ndim):
    """Replace Ellipsis by full slices and add the implicit trailing ones."""
    out, used = [], 0
    for p in parsed:
        used += len(p.axes)
        if p.kind == ELLIPSIS:
            out.extend(_Index(SLICE, slice(None), (a,)) for a in p.axes)
        else:
            out.append(p)
    out.extend(_Index(SLICE, slice(None), (a,)) for a in range(used, ndim))
    return out


def _static_int(v, what="Slice entries"):
    if v is None or hasattr(v, "_is_symbolic_dim"):  # symbolic bounds (engine.export)
        return v
    c = core.concrete_or_none(v)
    if c is None:
        raise IndexError(f"{what} must be static integers. Got {v}")
    try:
        return operator.index(c)
    except TypeError:
        return operator.index(np.asarray(c).item())


def _is_dim_expr(d):
    return hasattr(d, "_is_symbolic_dim")


def _slice_indices(s, size):
    """(start, stop, step, length) of a slice with static entries."""
    s = slice(_static_int(s.start), _static_int(s.stop), _static_int(s.step))
    if any(_is_dim_expr(d) for d in (size, s.start, s.stop)):  # symbolic (engine.export)
        from ..export.shape_poly import slice_indices

        return slice_indices(s.start, s.stop, s.step, size)
    start, stop, step = s.indices(size)
    return start, stop, step, len(range(start, stop, step))


def _slice_bounds(start, stop, step, n):
    """(low, high) bounds of a slice with ``n`` elements (the reversed range for a
    negative step), or None when symbolic bounds leave them undecided (then it is
    gathered, as JAX does)."""
    from ..export.shape_poly import InconclusiveDimensionOperation

    try:
        if step > 0:
            if step == 1 and not (type(start) is int and type(stop) is int):
                return start, start + n  # exactly n elements, whatever the bounds
            return start, stop if stop >= start else start
        if not n:
            return None if type(start) is not int else (start + 1, start + 1)
        lo = start + step * (n - 1)
        return (lo, start + 1) if lo >= 0 else None
    except InconclusiveDimensionOperation:
        return None


def _concrete_slice(p):
    """A slice index whose entries are all known (so it can be sliced statically)."""
    try:
        for v in (p.value.start, p.value.stop, p.value.step):
            _static_int(v)
    except (IndexError, TypeError):
        return False
    return True


# ---------------------------------------------------------------------------- static slice


class _StaticPlan(NamedTuple):
    starts: tuple
    limits: tuple
    strides: tuple | None
    rev: tuple
    squeeze: tuple
    newaxis: tuple


def _static_plan(parsed, shape, mode):
    """Plan x[idx] as slice + rev + squeeze + expand_dims, or None if it cannot be."""
    if mode not in (None, GatherScatterMode.PROMISE_IN_BOUNDS, GatherScatterMode.CLIP):
        return None
    if any(p.kind not in (INT, SLICE, NONE, ELLIPSIS) for p in parsed):
        return None
    if any(p.kind == SLICE and not _concrete_slice(p) for p in parsed):
        return None
    clip = mode == GatherScatterMode.CLIP
    starts, limits, strides, rev, squeeze, newaxis = [], [], [], [], [], []
    for p in _expand_ellipsis(parsed, len(shape)):
        if p.kind == NONE:
            newaxis.append(len(starts) - len(squeeze) + len(newaxis))
            continue
        (axis,) = p.axes
        size = shape[axis]
        if p.kind == INT:
            i = int(p.value)
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {axis} with size 0")
            i = i + size if i < 0 else i
            if not 0 <= i < size:
                if not clip:
                    return None  # out of bounds: the dynamic slice clamps
                i = min(max(i, 0), size - 1)
            starts.append(i)
            limits.append(i + 1)
            strides.append(1)
            squeeze.append(axis)
        else:
            start, stop, step, n = _slice_indices(p.value, size)
            if not all(type(d) is int for d in (size, start, stop, n)):
                bounds = _slice_bounds(start, stop, step, n)
                if bounds is None:
                    return None
                lo, hi = bounds
            elif step > 0:
                lo, hi = start, stop if stop >= start else start
            else:
                lo = start + step * (n - 1) if n else min(max(start + 1, 0), size)
                hi = start + 1 if n else lo
            starts.append(lo)
            limits.append(hi)
            strides.append(abs(step))
            if step < 0:
                rev.append(axis)
    return _StaticPlan(
        tuple(starts),
        tuple(limits),
        None if all(s == 1 for s in strides) else tuple(strides),
        tuple(rev),
        tuple(squeeze),
        tuple(newaxis),
    )


def _apply_static(arr, plan):
    shape = core.get_aval(arr).shape
    trivial = plan.strides is None and all(
        (a, b) == (0, n) for a, b, n in zip(plan.starts, plan.limits, shape)
    )
    out = arr if trivial else lax.slice(arr, plan.starts, plan.limits, plan.strides)
    if plan.rev:
        out = lax.rev(out, plan.rev)
    if plan.squeeze:
        out = lax.squeeze(out, plan.squeeze)
    if plan.newaxis:
        out = lax.expand_dims(out, plan.newaxis)
    return out


# ---------------------------------------------------------------------------- dynamic slice


def _dynamic_plan(parsed, shape, mode):
    """Plan x[idx] as dynamic_slice (+ rev/squeeze/expand_dims) when every index is a
    scalar (static or traced), None, or a unit-step static slice; else None."""
    if mode not in (None, GatherScatterMode.PROMISE_IN_BOUNDS, GatherScatterMode.CLIP):
        return None
    for p in parsed:
        if p.kind == BOOL:
            return None
        if p.kind == ARRAY and np.ndim(p.value) != 0:
            return None
        if p.kind == SLICE:
            if not _concrete_slice(p) or _static_int(p.value.step) not in (None, 1, -1):
                return None
    starts, sizes, rev, squeeze, newaxis = [], [], [], [], []
    trivial = True
    for p in _expand_ellipsis(parsed, len(shape)):
        if p.kind == NONE:
            newaxis.append(len(starts) - len(squeeze) + len(newaxis))
            continue
        (axis,) = p.axes
        size = shape[axis]
        if p.kind in (INT, ARRAY):
            if size == 0:
                raise IndexError(f"index is out of bounds for axis {axis} with size 0")
            trivial = False
            starts.append(p.value)
            sizes.append(1)
            squeeze.append(axis)
        else:
            start, stop, step, n = _slice_indices(p.value, size)
            if p.value != slice(None):
                trivial = False
            if step < 0:
                starts.append(stop + 1 if n else 0)
                sizes.append(n)
                rev.append(axis)
            else:
                starts.append(start)
                sizes.append(n)
    return starts, tuple(sizes), tuple(rev), tuple(squeeze), tuple(newaxis), trivial


def _apply_dynamic(arr, plan):
    starts, sizes, rev, squeeze, newaxis, trivial = plan
    out = arr
    if not trivial:
        if len(starts) > 1:
            idt = _index_dtype(core.get_aval(arr).shape)
            starts = [_convert_index(s, idt) for s in starts]
        out = lax.dynamic_slice(arr, starts, sizes)
    if rev:
        out = lax.rev(out, rev)
    if squeeze:
        out = lax.squeeze(out, squeeze)
    if newaxis:
        out = lax.expand_dims(out, newaxis)
    return out


# ---------------------------------------------------------------------------- gather plan


def _index_dtype(shape):
    # symbolic dimensions index with int32, as JAX's
    small = all(type(d) is not int or d < 2**31 for d in shape)
    return np.dtype(np.int32) if small else np.dtype(np.int64)


def _index_value(d, idt):
    """An int or a symbolic dimension as an index scalar of dtype ``idt``."""
    if type(d) is int or isinstance(d, np.integer):
        return np.asarray(d, idt)
    return lax.convert_element_type(d.__jax_array__(), idt)


def _is_numpy(v):
    return isinstance(v, (np.ndarray, np.generic, int))


def _convert_index(v, idt):
    if _is_numpy(v):
        return np.asarray(v).astype(idt) if not isinstance(v, int) else np.asarray(v, idt)
    return lax.convert_element_type(v, idt)


def _normalize(v, size):
    """Wrap negative indices (i + size where i < 0), in the index's own dtype."""
    if isinstance(v, int):
        return v + size if v < 0 else v
    aval = core.get_aval(v)
    if dtypes.is_unsigned(aval.dtype):
        return v
    if _is_numpy(v) and type(size) is int:
        v = np.asarray(v)
        return np.where(v < 0, v + np.asarray(size).astype(v.dtype), v)
    if _is_numpy(v) and not np.any(np.asarray(v) < 0):
        return v
    if type(size) is not int:  # a symbolic dimension: a traced value
        size = _index_value(size, aval.dtype)
    elif aval.weak_type and not aval.shape:
        size = core.WeakScalar(size, aval.dtype)
    else:  # JAX's lax._const: strong unless the index is a weak scalar
        size = np.asarray(size, aval.dtype)
    return lax.select(lax.lt(v, core.WeakScalar(0, aval.dtype)), lax.add(v, size), v)


def _expand_bools(parsed, shape):
    """Boolean arrays become the integer arrays of their True positions (they must be
    concrete); scalar booleans stay (they add an axis)."""
    out = []
    for pos, p in enumerate(parsed):
        if p.kind != BOOL:
            out.append(p)
            continue
        val = core.concrete_or_none(p.value) if isinstance(p.value, core.Tracer) else p.value
        if val is None:
            raise errors.NonConcreteBooleanIndexError(
                f"Array boolean indices must be concrete; got {core.get_aval(p.value)}\n\n"
                "Boolean indexing makes the output's shape depend on the values. Use "
                "jnp.where(mask, x, fill) for a fixed-shape result, or index outside jit."
            )
        val = np.asarray(val)
        if val.ndim == 0:
            out.append(_Index(BOOL, bool(val), ()))
            continue
        expected = [shape[a] for a in p.axes]
        if not all(s in (0, e) for s, e in zip(val.shape, expected)):
            raise IndexError(
                "boolean index did not match shape of indexed array in index "
                f"{pos}: got {val.shape}, expected {expected}"
            )
        for where, axis in zip(np.nonzero(val), p.axes):
            out.append(_Index(ARRAY, where.astype(dtypes.canonicalize_dtype(np.int64)), (axis,)))
    return out


def _insert_scalar_bools(items, shape):
    """Each scalar boolean becomes an index array arange(b) into a new unit axis of x
    (NumPy's semantics: True adds an axis of length 1, False one of length 0).
    Returns the new items, the padded shape and the inserted axes."""
    new_items, new_shape, inserted, axis = [], [], [], 0
    shape = list(shape)
    for p in items:
        if p.kind == BOOL:
            inserted.append(axis)
            new_shape.append(1)
            new_items.append(_Index(ARRAY, np.arange(int(p.value), dtype=np.int32), (axis,)))
            axis += 1
            continue
        n = len(p.axes)
        new_items.append(p._replace(axes=tuple(range(axis, axis + n))))
        new_shape.extend(shape[:n])
        del shape[:n]
        axis += n
    return new_items, tuple(new_shape + shape), tuple(inserted)


def _same_dim(a, b):
    """Whether two dimensions are known to be equal (False when undecided)."""
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an inconclusive symbolic comparison
        return False


def _strided_range(start, step, n, idt):
    """``start + step * arange(n)`` as indices (traced when ``start`` or ``n`` is symbolic)."""
    if type(start) is int and type(n) is int:
        return (start + step * np.arange(n)).astype(idt)
    vals = lax.iota(idt, n)
    if step != 1:
        vals = lax.mul(vals, lax.full_like(vals, step))
    return lax.add(vals, lax.broadcast_in_dim(_index_value(start, idt), (n,), ()))


class _GatherPlan(NamedTuple):
    slice_shape: tuple  # shape of x[idx]
    slice_sizes: tuple  # gather's slice_sizes
    indices: object  # gather's start indices (last axis: index vector)
    dnums: GatherDimensionNumbers
    advanced: bool  # advanced indexing (indices may repeat / be unsorted)
    reversed_dims: tuple  # gather output axes to reverse (negative-step slices)
    newaxis_dims: tuple  # axes of x[idx] that None added
    bool_dims: tuple  # unit axes added to x for scalar boolean indices
    empty_indices: bool  # nothing to gather: x[idx] is x (up to rev/newaxis)
    slice_entries: tuple  # x[idx]'s sharding spec, as JAX's index_to_gather makes it


def _gather_plan(parsed, shape, normalize=True, x_entries=None):
    for p in parsed:
        if p.kind == SLICE:
            for v in (p.value.start, p.value.stop, p.value.step):
                _static_int(v)
    adv_pos = [n for n, p in enumerate(parsed) if p.kind in (INT, ARRAY)]
    contiguous = all(b - a == 1 for a, b in zip(adv_pos, adv_pos[1:]))
    items = _expand_ellipsis(parsed, len(shape))
    items, shape, bool_dims = _insert_scalar_bools(items, shape)
    x_entries = list(x_entries or (None,) * (len(shape) - len(bool_dims)))
    for d in bool_dims:
        x_entries.insert(d, None)
    idt = _index_dtype(shape)

    def prepared(p):
        v = p.value
        if normalize:
            v = _normalize(v, shape[p.axes[0]])
        return _convert_index(v, idt)

    advanced = any(p.kind == ARRAY and np.ndim(p.value) > 0 for p in items)
    adv = [(n, p) for n, p in enumerate(items) if p.kind in (INT, ARRAY)] if advanced else []
    block_at = (adv[0][0] if contiguous else 0) if adv else None

    comps = []  # (index array, first index-batch axis it spans)
    batch_shape = []  # index batch shape (without the index-vector axis)
    offset_dims, collapsed, index_map, slice_sizes = [], [], [], []
    y_shape, newaxis, reversed_dims, y_entries = [], [], [], []
    g_axis = 0  # axis of the gather's output
    x_axis = 0
    for pos, p in enumerate(items):
        if pos == block_at:
            arrs = [prepared(q) for _, q in adv]
            bshape = np.broadcast_shapes(*[core.get_aval(a).shape for a in arrs])
            start = len(batch_shape)
            for a in arrs:
                comps.append((_broadcast_index(a, bshape), start))
            batch_shape.extend(bshape)
            for _, q in adv:
                index_map.append(q.axes[0])
                collapsed.append(q.axes[0])
            y_shape.extend(bshape)
            y_entries.extend(_spec_entries(comps[-len(arrs)][0], len(bshape)))
            g_axis += len(bshape)
        if adv and p.kind in (INT, ARRAY):
            slice_sizes.append(1)
            x_axis += 1
            continue
        if p.kind in (INT, ARRAY):  # a scalar index, no advanced indexing
            if shape[x_axis] == 0:
                raise IndexError(f"index is out of bounds for axis {x_axis} with size 0")
            comps.append((prepared(p), len(batch_shape)))
            collapsed.append(x_axis)
            index_map.append(x_axis)
            slice_sizes.append(1)
            x_axis += 1
        elif p.kind == NONE:
            newaxis.append(len(y_shape))
            y_shape.append(1)
            y_entries.append(None)
        else:
            size = shape[x_axis]
            start, stop, step, n = _slice_indices(p.value, size)
            y_shape.append(n)
            y_entries.append(x_entries[x_axis])
            if step == 1:
                if not _same_dim(n, size):
                    comps.append((_index_value(start, idt), len(batch_shape)))
                    index_map.append(x_axis)
                slice_sizes.append(n)
                offset_dims.append(g_axis)
            else:
                if step < 0:
                    lo = start + step * (n - 1)
                    reversed_dims.append(g_axis)
                    vals = _strided_range(lo, -step, n, idt)
                else:
                    vals = _strided_range(start, step, n, idt)
                comps.append((vals, len(batch_shape)))
                batch_shape.append(n)
                index_map.append(x_axis)
                collapsed.append(x_axis)
                slice_sizes.append(1)
            g_axis += 1
            x_axis += 1

    full = tuple(batch_shape) + (1,)
    if not comps:
        indices = np.zeros((0,), idt)
    elif len(comps) == 1 and np.ndim(comps[0][0]) == len(batch_shape):
        c = comps[0][0]
        indices = lax.expand_dims(c, (len(batch_shape),))
    else:
        parts = [lax.broadcast_in_dim(c, full, tuple(range(s, s + np.ndim(c)))) for c, s in comps]
        indices = lax.concatenate(parts, len(batch_shape))
    dnums = GatherDimensionNumbers(
        offset_dims=tuple(offset_dims),
        collapsed_slice_dims=tuple(sorted(collapsed)),
        start_index_map=tuple(index_map),
    )
    return _GatherPlan(
        tuple(y_shape),
        tuple(slice_sizes),
        indices,
        dnums,
        bool(adv),
        tuple(reversed_dims),
        tuple(newaxis),
        bool_dims,
        not comps,
        tuple(y_entries),
    )


def _spec_entries(x, ndim):
    s = getattr(core.get_aval(x), "sharding", None) if not _is_numpy(x) else None
    return tuple(s.spec._normalized(ndim)) if s is not None else (None,) * ndim


def _broadcast_index(a, shape):
    if _is_numpy(a):
        return np.broadcast_to(np.asarray(a), shape)
    return lax.broadcast_to_shape(a, shape)


# ---------------------------------------------------------------------------- reads


def _as_array(x, fun_name):

    check_arraylike(fun_name, x)
    if isinstance(x, (Array, core.Tracer)):
        return x

    return asarray(x.value if isinstance(x, core.WeakScalar) else x)


def _getitem(x, idx):
    """``x[idx]`` with NumPy's semantics, as JAX implements them."""
    out = _rewriting_take(x, idx)
    if _key_reuse_checking[0] and dtypes.is_extended(getattr(x, "dtype", None)):
        from .. import key_reuse  # typed keys: the rows read are consumed

        key_reuse.index_key(x, out, idx if isinstance(idx, tuple) else (idx,), x.shape)
    return out


def _rewriting_take(
    arr,
    idx,
    indices_are_sorted=False,
    unique_indices=False,
    mode=None,
    fill_value=None,
    normalize_indices=True,
    out_sharding=None,
):
    arr = _as_array(arr, "getitem")
    shape = core.get_aval(arr).shape
    if mode is not None:
        mode = GatherScatterMode.from_any(mode)
    parsed = _parse(idx, shape)
    if normalize_indices and not _partial_on_many_devices(arr, parsed, shape):
        plan = _static_plan(parsed, shape, mode)
        if plan is not None:
            if _tg.h2d and type(arr) is Array:  # JAX puts static indices on the device
                _tg.check_static_index(idx, shape, arr._device)
            return _apply_static(arr, plan)
        plan = _dynamic_plan(parsed, shape, mode)
        if plan is not None:
            return _apply_dynamic(arr, plan)
    parsed = _expand_bools(parsed, shape)
    options = (normalize_indices, indices_are_sorted, unique_indices, mode, fill_value)
    if out_sharding is None:
        return _gather(parsed, *options, arr)
    # as JAX's: gathered with the mesh's Explicit axes made Auto, then resharded; the
    # index arrays go in as arguments so that their types lose those axes too
    leaves = [i for i, p in enumerate(parsed) if isinstance(p.value, (Array, core.Tracer))]

    def gather_with(arr, *values):
        given = dict(zip(leaves, values))
        at = [p._replace(value=given[i]) if i in given else p for i, p in enumerate(parsed)]
        return _gather(at, *options, arr)

    run = auto_axes(gather_with, out_sharding=out_sharding, axes=_explicit_axes(out_sharding))
    return run(arr, *[parsed[i].value for i in leaves])


def _partial_on_many_devices(arr, parsed, shape):
    """JAX reads part of an array laid out over several devices by a gather, never a
    (static or dynamic) slice, which would not keep its sharding."""
    if type(arr) is not Array or arr.sharding.num_devices == 1:
        return False
    for p in parsed:
        if p.kind == INT:
            return True
        if p.kind == SLICE:
            try:
                _, _, step, n = _slice_indices(p.value, shape[p.axes[0]])
            except (TypeError, ValueError, IndexError):
                return True
            if abs(step) != 1 or n != shape[p.axes[0]]:
                return True
    return False


def _explicit_axes(sharding):
    mesh = sharding.mesh.abstract_mesh
    return tuple(n for n, t in zip(mesh.axis_names, mesh.axis_types) if t == AxisType.Explicit)


def _gather(parsed, normalize_indices, indices_are_sorted, unique_indices, mode, fill_value, arr):
    shape = core.get_aval(arr).shape
    plan = _gather_plan(parsed, shape, normalize_indices)
    if fill_value is not None:
        fv = core.concrete_or_none(fill_value)
        if fv is None:
            raise errors.ConcretizationTypeError(
                "fill_value argument to indexed get() must be a concrete value"
            )
        if np.ndim(fv) != 0:
            raise ValueError("fill_value argument to indexed get() must be a scalar")
        fill_value = np.asarray(fv).item()
    y = arr
    if plan.bool_dims:
        y = lax.expand_dims(y, plan.bool_dims)
    if any(d == 0 for d in plan.slice_shape):
        aval = core.get_aval(arr)
        return lax.convert_element_type(
            lax.full(plan.slice_shape, 0, aval.dtype), aval.dtype, aval.weak_type
        )
    if not plan.empty_indices:
        y = lax.gather(
            y,
            plan.indices,
            plan.dnums,
            plan.slice_sizes,
            unique_indices=unique_indices or not plan.advanced,
            indices_are_sorted=indices_are_sorted or not plan.advanced,
            mode=mode,
            fill_value=fill_value,
        )
    if plan.reversed_dims:
        y = lax.rev(y, plan.reversed_dims)
    if plan.newaxis_dims:
        y = lax.expand_dims(y, plan.newaxis_dims)
    return y


# The .at[] update helpers and take/take_along_axis live beside this module (importing
# them here keeps their names where they always were).
from .index_update import _IndexUpdateHelper, _IndexUpdateRef  # noqa: E402, F401
from .take import take, take_along_axis  # noqa: E402, F401
