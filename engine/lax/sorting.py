"""sort (one or several operands, lexicographic keys) and top_k, with the gather that
carries tangents along a permutation."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import chlo
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, tangent_aval
from ._base import aval_of
from .gather_scatter import GatherDimensionNumbers, gather
from .reductions import _batched_axis, _scalar_body
from .structural import broadcasted_iota, reshape

__all__ = ["sort", "sort_key_val", "top_k", "sort_p", "top_k_p"]

sort_p = Primitive("sort", multiple_results=True)


def _canonical_axis(axis, ndim):
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """Sort along ``dimension``; with several operands, all are ordered by the first
    ``num_keys`` of them (lexicographically). NaNs sort last; -0.0 equals 0.0."""
    if isinstance(operand, (list, tuple)):
        if not 1 <= num_keys <= len(operand):
            raise ValueError(
                f"num_keys={num_keys} must be between 1 and len(operand)={len(operand)}"
            )
        if not operand:
            raise TypeError("sort requires at least one operand")
        dim = _canonical_axis(int(dimension), len(np.shape(operand[0])))
        return tuple(
            sort_p.bind(*operand, dimension=dim, is_stable=bool(is_stable), num_keys=int(num_keys))
        )
    if num_keys != 1:
        raise ValueError(f"num_keys={num_keys} must equal 1 for a single operand.")
    dim = _canonical_axis(int(dimension), len(np.shape(operand)))
    return sort_p.bind(operand, dimension=dim, is_stable=bool(is_stable), num_keys=1)[0]


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    k, v = sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
    return k, v


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    shapes = [o.shape for o in operands]
    if any(s != shapes[0] for s in shapes):
        raise TypeError(
            f"Arguments to sort must have equal shapes, got: {' '.join(map(str, shapes))}"
        )
    if not 0 <= dimension < len(shapes[0]):
        raise ValueError(
            f"axis {dimension} is out of bounds for array of dimension {len(shapes[0])}"
        )
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"num_keys={num_keys} must be between 1 and len(operand)={len(operands)}")
    return [ShapedArray(o.shape, o.dtype, o.weak_type) for o in operands]


def _key_less(a, b, aval):
    """(a < b, a == b) for one scalar key in sort's order: NaN after everything, NaNs
    equal to each other, -0.0 equal to 0.0; complex by real part, then imaginary."""
    if dtypes.is_complex(aval.dtype):
        part = aval.update(dtype=dtypes.real_dtype(aval.dtype))
        lt_r, eq_r = _key_less(hlo.real(a), hlo.real(b), part)
        lt_i, eq_i = _key_less(hlo.imag(a), hlo.imag(b), part)
        return hlo.or_(lt_r, hlo.and_(eq_r, lt_i)), hlo.and_(eq_r, eq_i)
    lt = lowering.compare(a, b, "LT", aval)
    eq = lowering.compare(a, b, "EQ", aval)
    if dtypes.is_float(aval.dtype):
        a_nan = lowering.compare(a, a, "NE", aval)
        b_nan = lowering.compare(b, b, "NE", aval)
        lt = hlo.or_(lt, hlo.and_(b_nan, hlo.not_(a_nan)))
        eq = hlo.or_(eq, hlo.and_(a_nan, b_nan))
    return lt, eq


@sort_p.def_lowering
def _sort_lowering(ctx, *operands, dimension, is_stable, num_keys):
    op = hlo.SortOp(
        [lowering.ir_type(a) for a in ctx.avals_out],
        list(operands),
        dimension=dimension,
        is_stable=is_stable,
    )
    scalars = [a.update(shape=(), weak_type=False) for a in ctx.avals_in]
    arg_avals = [s for s in scalars for _ in range(2)]

    def body(*args):
        less = None
        for k in reversed(range(num_keys)):  # lexicographic, built from the last key
            lt, eq = _key_less(args[2 * k], args[2 * k + 1], scalars[k])
            less = lt if less is None else hlo.or_(lt, hlo.and_(eq, less))
        return [less]

    _scalar_body(op, body, arg_avals)
    return list(op.results)


def _take_along_indices(idx, axis):
    """A function ``t -> out`` with ``out[..., i, ...] = t[..., idx[..., i, ...], ...]``
    along ``axis``: a gather whose other axes pair up as batch dimensions."""
    shape = aval_of(idx).shape
    others = tuple(i for i in range(len(shape)) if i != axis)
    dnums = GatherDimensionNumbers(
        offset_dims=(),
        collapsed_slice_dims=(axis,),
        start_index_map=(axis,),
        operand_batching_dims=others,
        start_indices_batching_dims=others,
    )
    indices = reshape(idx, shape + (1,))
    return lambda t: gather(t, indices, dnums, (1,) * len(shape), mode="promise_in_bounds")


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = aval_of(primals[0]).shape
    iota = broadcasted_iota(np.int32, shape, dimension, out_sharding=aval_of(primals[0]).sharding)
    *outs, perm = sort_p.bind(
        *primals, iota, dimension=dimension, is_stable=is_stable, num_keys=num_keys
    )
    take = _take_along_indices(perm, dimension)
    return outs, [t if type(t) is Zero else take(t) for t in tangents]


sort_p.def_jvp(_sort_jvp)


def _sort_batch(size, vals, dims, *, dimension, is_stable, num_keys):
    d = next(d for d in dims if d is not None)
    # an unbatched operand typed on an Explicit mesh (an iota) is broadcast to a batched
    # operand's layout, as JAX's batching does: sort wants its operands' layouts equal
    typed = next((aval_of(v).sharding for v, dv in zip(vals, dims) if dv is not None), None)
    vals = [
        _broadcast_as(size, d, v, typed)
        if dv is None and typed is not None and aval_of(v).sharding is not None
        else batching.move_batch_axis(size, dv, d, v)
        for v, dv in zip(vals, dims)
    ]
    return sort_p.bind(
        *vals, dimension=_batched_axis(dimension, d), is_stable=is_stable, num_keys=num_keys
    ), [d] * len(vals)


sort_p.def_batch(_sort_batch)


def _broadcast_as(size, d, x, sharding):
    from .structural import broadcast_in_dim_p

    shape = list(aval_of(x).shape)
    shape.insert(d, size)
    dims = tuple(i for i in range(len(shape)) if i != d)
    return broadcast_in_dim_p.bind(
        x, shape=tuple(shape), broadcast_dimensions=dims, sharding=sharding
    )


# ---------------------------------------------------------------------------- top_k

top_k_p = Primitive("top_k", multiple_results=True)


def top_k(operand, k, *, axis=-1):
    """The ``k`` largest entries along ``axis`` (descending) and their indices."""
    ndim = len(np.shape(operand))
    axis = _canonical_axis(int(axis), ndim)
    if k < 0:
        raise ValueError(f"k argument to top_k must be nonnegative, got {k}")
    return list(top_k_p.bind(operand, k=int(k), axis=axis))  # a list, as JAX returns


@top_k_p.def_abstract_eval
def _top_k_abstract_eval(x, *, k, axis):
    if k < 0:
        raise ValueError(f"k argument to top_k must be nonnegative, got {k}")
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {x.ndim}")
    if x.shape[axis] < k:
        raise ValueError(
            f"k argument to top_k must be no larger than size along axis; got "
            f"k={k} with shape={list(x.shape)} and axis={axis}"
        )
    shape = list(x.shape)
    shape[axis] = k
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, np.int32)]


@top_k_p.def_lowering
def _top_k_lowering(ctx, x, *, k, axis):
    aval = ctx.avals_in[0]
    last = aval.ndim - 1
    perm = None
    if axis != last:
        perm = list(range(aval.ndim))
        perm[axis], perm[last] = last, axis
        x = hlo.transpose(x, perm)
    shape = list(aval.shape)
    if perm is not None:
        shape = [shape[p] for p in perm]
    shape[-1] = k
    types = [
        lowering.ir_type(ShapedArray(shape, aval.dtype)),
        lowering.ir_type(ShapedArray(shape, np.int32)),
    ]
    vals, idx = chlo.TopKOp(x, k, results=types).results
    if perm is not None:
        vals, idx = hlo.transpose(vals, perm), hlo.transpose(idx, perm)
    return [vals, idx]


def _top_k_jvp(primals, tangents, *, k, axis):
    (x,), (t,) = primals, tangents
    vals, idx = top_k_p.bind(x, k=k, axis=axis)
    return [vals, idx], [_take_along_indices(idx, axis)(t), Zero(tangent_aval(aval_of(idx)))]


top_k_p.def_jvp(_top_k_jvp)


def _top_k_batch(size, vals, dims, *, k, axis):
    (x,), (d,) = vals, dims
    return top_k_p.bind(x, k=k, axis=_batched_axis(axis, d)), [d, d]


top_k_p.def_batch(_top_k_batch)
