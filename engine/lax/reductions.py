"""Reductions (reduce_sum/max/min/prod/and/or/xor), argmax/argmin, cumulative reductions
(cumsum/cumprod/cummax/cummin/cumlogsumexp), sort and top_k."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import chlo
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, deflinear, jvp_flat, tangent_aval, zero_jvp
from . import elementwise as ew
from ._base import aval_of
from .convert import convert_element_type
from .gather_scatter import GatherDimensionNumbers, gather
from .logic import eq
from .slicing import slice_in_dim
from .structural import (
    broadcast_in_dim,
    broadcasted_iota,
    concatenate,
    full,
    pad,
    reshape,
    rev,
    squeeze,
)

__all__ = [
    "reduce_sum",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
    "reduce_and",
    "reduce_or",
    "reduce_xor",
    "argmax",
    "argmin",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "cumlogsumexp",
    "sort",
    "sort_key_val",
    "top_k",
    "reduce_sum_p",
    "reduce_max_p",
    "reduce_min_p",
    "reduce_prod_p",
    "reduce_and_p",
    "reduce_or_p",
    "reduce_xor_p",
    "argmax_p",
    "argmin_p",
    "cumsum_p",
    "cumprod_p",
    "cummax_p",
    "cummin_p",
    "cumlogsumexp_p",
    "sort_p",
    "top_k_p",
]


# ---------------------------------------------------------------------------- shared helpers


def _is_number(dtype):
    return dtypes.is_int(dtype) or dtypes.is_inexact(dtype)


def _check_kind(name, dtype, ok, accepted):
    if not ok(dtype):
        raise TypeError(
            f"{name} does not accept dtype {np.dtype(dtype).name}. Accepted dtypes "
            f"are subtypes of {accepted}."
        )


def _reduce_shape(x, axes):
    if any(not 0 <= a < x.ndim for a in axes):
        raise ValueError(
            f"reduction axes {axes} contains out-of-bounds indices for "
            f"{x.dtype.name}[{','.join(map(str, x.shape))}]."
        )
    if len(set(axes)) != len(axes):
        raise ValueError(f"duplicate value in 'axes' of reduction: {axes}")
    return tuple(s for i, s in enumerate(x.shape) if i not in axes)


def _scalar_body(op, body_fn, scalar_avals):
    """Fill ``op``'s single region with a block of the given scalar arguments whose
    results are ``body_fn(*block_args)``."""
    types = [lowering.ir_type(a) for a in scalar_avals]
    block = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(block):
        outs = body_fn(*block.arguments)
        hlo.return_(list(outs) if isinstance(outs, (list, tuple)) else [outs])


def _lower_reduce(ctx, x, axes, init, body_fn):
    """stablehlo.reduce over ``axes`` with a scalar body ``body_fn(a, b)``."""
    aval_in, aval_out = ctx.avals_in[0], ctx.avals_out[0]
    scalar = aval_in.update(shape=(), weak_type=False)
    init_v = lowering.constant(np.asarray(init, aval_in.dtype), scalar)
    op = hlo.ReduceOp([lowering.ir_type(aval_out)], [x], [init_v], list(axes))
    _scalar_body(op, body_fn, [scalar, scalar])
    return op.result


def _bool_or(fn_bool, fn_other):
    """Pick a scalar combiner by dtype (bool max/min are or/and)."""
    return lambda dtype: fn_bool if dtype == np.bool_ else fn_other


def _lowest(dtype):
    if dtype == np.bool_:
        return False
    if dtypes.is_float(dtype):
        return -np.inf
    return dtypes.iinfo(dtype).min


def _highest(dtype):
    if dtype == np.bool_:
        return True
    if dtypes.is_float(dtype):
        return np.inf
    return dtypes.iinfo(dtype).max


def _all_ones(dtype):
    if dtype == np.bool_:
        return True
    return -1 if not dtypes.is_unsigned(dtype) else dtypes.iinfo(dtype).max


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _batched_axis(axis, bdim):
    """Where an operand axis sits once a batch axis is inserted at ``bdim``."""
    return axis + 1 if axis >= bdim else axis


def _reduce_batch_rule(bind):
    """The batch axis stays where it is (no transposes); reduced axes shift around it."""

    def rule(size, vals, dims, *, axes, **params):
        (x,), (d,) = vals, dims
        axes = tuple(_batched_axis(a, d) for a in axes)
        return bind(x, axes, **params), d - sum(a < d for a in axes)

    return rule


# ---------------------------------------------------------------------------- reduce_sum

reduce_sum_p = Primitive("reduce_sum")
reduce_sum_p.pp_params = lambda p: {"axes": p["axes"], "out_sharding": None}


def reduce_sum(operand, axes, *, out_sharding=None):
    axes = tuple(int(a) for a in axes)
    return reduce_sum_p.bind(operand, axes=axes, out_sharding=None)


@reduce_sum_p.def_abstract_eval
def _reduce_sum_abstract_eval(x, *, axes, out_sharding):
    _check_kind("reduce_sum", x.dtype, _is_number, "number")
    return ShapedArray(_reduce_shape(x, axes), x.dtype, x.weak_type)


@reduce_sum_p.def_lowering
def _reduce_sum_lowering(ctx, x, *, axes, out_sharding):
    return _lower_reduce(ctx, x, axes, 0, hlo.add)


def _reduce_sum_transpose(ct, x, *, axes, out_sharding):
    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    if x.aval.sharding is not None:  # the cotangent gets its operand's type, as JAX's
        from .sharding_rules import placed_as_typed
        from .structural import broadcast_in_dim_p

        out = broadcast_in_dim_p.bind(
            ct, shape=shape, broadcast_dimensions=kept, sharding=x.aval.sharding
        )
        return [placed_as_typed(out, x.aval.sharding)]
    return [broadcast_in_dim(ct, shape, kept)]


deflinear(reduce_sum_p, _reduce_sum_transpose)
reduce_sum_p.def_batch(
    _reduce_batch_rule(lambda x, axes, **params: reduce_sum_p.bind(x, axes=axes, **params))
)


# ---------------------------------------------------------------------------- max/min/prod/logical


def _reducer(name, check, init_fn, combiner):
    """A reduction primitive whose only param is ``axes``."""
    p = Primitive(name)

    def abstract_eval(x, *, axes):
        check(x.dtype)
        return ShapedArray(_reduce_shape(x, axes), x.dtype, x.weak_type)

    def lower(ctx, x, *, axes):
        dtype = ctx.avals_in[0].dtype
        return _lower_reduce(ctx, x, axes, init_fn(dtype), combiner(dtype))

    p.def_abstract_eval(abstract_eval)
    p.def_lowering(lower)
    p.def_batch(_reduce_batch_rule(lambda x, axes: p.bind(x, axes=axes)))
    return p


def _check_ordered(name):
    def check(dtype):
        _check_kind(
            name,
            dtype,
            lambda d: d == np.bool_ or dtypes.is_int(d) or dtypes.is_float(d),
            "bool, integer, floating",
        )

    return check


def _check_logical(dtype):
    if not (dtype == np.bool_ or dtypes.is_int(dtype)):
        raise TypeError(
            f"logical reduction requires operand dtype bool or int, got {np.dtype(dtype).name}."
        )


reduce_max_p = _reducer(
    "reduce_max", _check_ordered("reduce_max"), _lowest, _bool_or(hlo.or_, hlo.maximum)
)
reduce_min_p = _reducer(
    "reduce_min", _check_ordered("reduce_min"), _highest, _bool_or(hlo.and_, hlo.minimum)
)
reduce_prod_p = _reducer(
    "reduce_prod",
    lambda d: _check_kind("reduce_prod", d, _is_number, "number"),
    lambda d: 1,
    lambda d: hlo.multiply,
)
reduce_and_p = _reducer("reduce_and", _check_logical, _all_ones, lambda d: hlo.and_)
reduce_or_p = _reducer("reduce_or", _check_logical, lambda d: 0, lambda d: hlo.or_)
reduce_xor_p = _reducer("reduce_xor", _check_logical, lambda d: 0, lambda d: hlo.xor)


def _axes(axes):
    return tuple(int(a) for a in axes)


def reduce_max(operand, axes):
    return reduce_max_p.bind(operand, axes=_axes(axes))


def reduce_min(operand, axes):
    return reduce_min_p.bind(operand, axes=_axes(axes))


def reduce_prod(operand, axes):
    return reduce_prod_p.bind(operand, axes=_axes(axes))


def reduce_and(operand, axes):
    return reduce_and_p.bind(operand, axes=_axes(axes))


def reduce_or(operand, axes):
    return reduce_or_p.bind(operand, axes=_axes(axes))


def reduce_xor(operand, axes):
    return reduce_xor_p.bind(operand, axes=_axes(axes))


for _p in (reduce_and_p, reduce_or_p, reduce_xor_p):
    zero_jvp(_p)


def _chooser_jvp(p):
    """max/min: the tangent at the chosen element; tied elements share it evenly."""

    def rule(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = p.bind(x, axes=axes)
        x_aval = aval_of(x)
        at_ans = convert_element_type(
            eq(x, reshape(ans, _keepdims_shape(x_aval.shape, axes))), x_aval.dtype
        )
        counts = reduce_sum(at_ans, axes)
        return ans, ew.div(reduce_sum(ew.mul(t, at_ans), axes), counts)

    p.def_jvp(rule)


_chooser_jvp(reduce_max_p)
_chooser_jvp(reduce_min_p)


def _reduce_prod_jvp(primals, tangents, *, axes):
    """Through a pairwise product tree (exact where operands are zero, unlike dividing
    the product by each operand)."""
    (x,), (t,) = primals, tangents
    outs, touts = jvp_flat(lambda v: [_prod_tree(v, axes)], [x], [t])
    return outs[0], touts[0]


def _prod_tree(x, axes):
    aval = aval_of(x)
    kept = tuple(i for i in range(aval.ndim) if i not in axes)
    n = int(np.prod([aval.shape[a] for a in axes], dtype=np.int64))
    x = reshape(x, (n,) + tuple(aval.shape[i] for i in kept), tuple(axes) + kept)
    if n == 0:
        return full(tuple(aval.shape[i] for i in kept), 1, aval.dtype)
    one = np.asarray(1, aval.dtype)
    while n > 1:
        half = (n + 1) // 2
        first = slice_in_dim(x, 0, half, axis=0)
        second = slice_in_dim(x, half, n, axis=0)
        if n - half < half:
            pad_cfg = ((0, half - (n - half), 0),) + ((0, 0, 0),) * len(kept)
            second = pad(second, one, pad_cfg)
        x = ew.mul(first, second)
        n = half
    return squeeze(x, (0,))


reduce_prod_p.def_jvp(_reduce_prod_jvp)


# ---------------------------------------------------------------------------- argmax / argmin


def _arg_reducer(name, pick_greater):
    p = Primitive(name)

    def abstract_eval(x, *, axes, index_dtype):
        if not dtypes.is_int(index_dtype):
            raise TypeError(
                f"index_dtype must be an integer type, but got {np.dtype(index_dtype).name}"
            )
        if x.dtype != np.bool_ and not dtypes.is_int(x.dtype) and not dtypes.is_float(x.dtype):
            raise TypeError(
                f"{name} does not accept dtype {x.dtype.name}. Accepted dtypes are "
                f"subtypes of integer, floating, bool."
            )
        (axis,) = axes
        if not 0 <= axis < x.ndim:
            raise ValueError(f"Invalid axis {axis} for operand shape {x.shape}")
        if x.shape[axis] == 0:
            raise ValueError(
                f"argmin and argmax require non-empty reduced dimension. "
                f"operand.shape={x.shape} axis={axis}"
            )
        return ShapedArray(_reduce_shape(x, axes), index_dtype)

    def lower(ctx, x, *, axes, index_dtype):
        x_aval, out_aval = ctx.avals_in[0], ctx.avals_out[0]
        (axis,) = axes
        idx_aval = x_aval.update(dtype=index_dtype, weak_type=False)
        idx = lowering.iota(idx_aval, axis)
        vs = x_aval.update(shape=(), weak_type=False)
        ids = idx_aval.update(shape=())
        init_v = lowering.constant(
            np.asarray((_lowest if pick_greater else _highest)(vs.dtype), vs.dtype), vs
        )
        init_i = lowering.constant(np.asarray(0, index_dtype), ids)
        op = hlo.ReduceOp(
            [lowering.ir_type(out_aval.update(dtype=vs.dtype)), lowering.ir_type(out_aval)],
            [x, idx],
            [init_v, init_i],
            [axis],
        )

        def body(av, ai, bv, bi):
            direction = "GT" if pick_greater else "LT"
            better = lowering.compare(av, bv, direction, vs)
            tie = lowering.compare(av, bv, "EQ", vs)
            if dtypes.is_float(vs.dtype):  # a NaN wins; among NaNs, the first
                a_nan = lowering.compare(av, av, "NE", vs)
                b_nan = lowering.compare(bv, bv, "NE", vs)
                better = hlo.or_(better, hlo.and_(a_nan, hlo.not_(b_nan)))
                tie = hlo.or_(tie, hlo.and_(a_nan, b_nan))
            first = lowering.compare(ai, bi, "LT", ids)
            pick_a = hlo.or_(better, hlo.and_(tie, first))
            return [hlo.select(pick_a, av, bv), hlo.select(pick_a, ai, bi)]

        _scalar_body(op, body, [vs, ids, vs, ids])
        return op.results[1]

    p.def_abstract_eval(abstract_eval)
    p.def_lowering(lower)
    p.def_batch(
        _reduce_batch_rule(
            lambda x, axes, index_dtype: p.bind(x, axes=axes, index_dtype=index_dtype)
        )
    )
    zero_jvp(p)
    return p


argmax_p = _arg_reducer("argmax", True)
argmin_p = _arg_reducer("argmin", False)


def argmax(operand, axis, index_dtype):
    """Index of the largest element along ``axis`` (the first one on ties; NaN is largest)."""
    return argmax_p.bind(
        operand, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype)
    )


def argmin(operand, axis, index_dtype):
    """Index of the smallest element along ``axis`` (the first one on ties; NaN is smallest)."""
    return argmin_p.bind(
        operand, axes=(int(axis),), index_dtype=dtypes.canonicalize_dtype(index_dtype)
    )


# ---------------------------------------------------------------------------- cumulative reductions


def _logaddexp_scalar(a, b, aval):
    """log(exp(a) + exp(b)) without overflow; infinities pass through."""
    big, small = hlo.maximum(a, b), hlo.minimum(a, b)
    inf = lowering.constant(np.asarray(np.inf, aval.dtype), aval)
    is_inf = lowering.compare(hlo.abs(big), inf, "EQ", aval)
    res = hlo.add(big, hlo.log_plus_one(hlo.exponential(hlo.subtract(small, big))))
    return hlo.select(is_inf, big, res)


def _cumulative(name, check, init_fn, combiner):
    p = Primitive(name)

    def abstract_eval(x, *, axis, reverse):
        if axis < 0:
            raise ValueError("XLA operations do not allow negative axes")
        if axis >= x.ndim:
            raise ValueError(f"axis {axis} is out of bounds for array of shape {x.shape}")
        check(x.dtype)
        return ShapedArray(x.shape, x.dtype, x.weak_type)

    def lower(ctx, x, *, axis, reverse):
        aval = ctx.avals_in[0]
        n = aval.shape[axis]
        if type(n) is int and n == 0:
            return x
        scalar = aval.update(shape=(), weak_type=False)
        init = lowering.constant(np.asarray(init_fn(aval.dtype), aval.dtype), scalar)
        fn = combiner(aval.dtype)
        if type(n) is not int:  # a symbolic axis (shape-polymorphic export)
            from ..export.dynamic_ops import dynamic_reduce_window

            window = [n if d == axis else 1 for d in range(aval.ndim)]
            edge = (0, n - 1) if reverse else (n - 1, 0)
            pads = [edge if d == axis else (0, 0) for d in range(aval.ndim)]
            body = lambda a, b: fn(a, b, scalar)  # noqa: E731
            return dynamic_reduce_window(ctx, x, init, ctx.avals_out[0], window, pads, body, name)
        window = [1] * aval.ndim
        window[axis] = n
        padding = np.zeros((aval.ndim, 2), np.int64)
        padding[axis] = (0, n - 1) if reverse else (n - 1, 0)
        pad_attr = ir.DenseIntElementsAttr.get(
            padding, type=ir.RankedTensorType.get([aval.ndim, 2], ir.IntegerType.get_signless(64))
        )
        op = hlo.ReduceWindowOp(
            [lowering.ir_type(ctx.avals_out[0])],
            [x],
            [init],
            window,
            window_strides=[1] * aval.ndim,
            padding=pad_attr,
        )
        _scalar_body(op, lambda a, b: fn(a, b, scalar), [scalar, scalar])
        return op.result

    def batch(size, vals, dims, *, axis, reverse):
        (x,), (d,) = vals, dims
        return p.bind(x, axis=_batched_axis(axis, d), reverse=reverse), d

    p.def_abstract_eval(abstract_eval)
    p.def_lowering(lower)
    p.def_batch(batch)
    return p


def _num_check(name):
    return lambda d: _check_kind(name, d, _is_number, "number")


def _real_number_check(name):
    def check(dtype):
        _check_kind(name, dtype, _is_number, "number")
        _check_kind(name, dtype, lambda d: not dtypes.is_complex(d), "integer, floating")

    return check


cumsum_p = _cumulative(
    "cumsum", _num_check("cumsum"), lambda d: 0, lambda d: lambda a, b, s: hlo.add(a, b)
)
cumprod_p = _cumulative(
    "cumprod", _num_check("cumprod"), lambda d: 1, lambda d: lambda a, b, s: hlo.multiply(a, b)
)
cummax_p = _cumulative(
    "cummax", _real_number_check("cummax"), _lowest, lambda d: lambda a, b, s: hlo.maximum(a, b)
)
cummin_p = _cumulative(
    "cummin", _real_number_check("cummin"), _highest, lambda d: lambda a, b, s: hlo.minimum(a, b)
)
cumlogsumexp_p = _cumulative(
    "cumlogsumexp",
    lambda d: _check_kind("cumlogsumexp", d, dtypes.is_float, "floating"),
    lambda d: -np.inf,
    lambda d: _logaddexp_scalar,
)


def cumsum(operand, axis=0, reverse=False):
    """Cumulative sum along ``axis`` (from the end when ``reverse``)."""
    return cumsum_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cumprod(operand, axis=0, reverse=False):
    return cumprod_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cummax(operand, axis=0, reverse=False):
    return cummax_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cummin(operand, axis=0, reverse=False):
    return cummin_p.bind(operand, axis=int(axis), reverse=bool(reverse))


def cumlogsumexp(operand, axis=0, reverse=False):
    return cumlogsumexp_p.bind(operand, axis=int(axis), reverse=bool(reverse))


deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [cumsum(ct, axis, not reverse)])


def _scan_jvp(combine):
    """Differentiate through a parallel prefix scan built from differentiable ops, so
    every order of derivative is defined (and zeros/ties behave like the scan's ops)."""

    def rule(primals, tangents, *, axis, reverse):
        outs, touts = jvp_flat(
            lambda v: [_prefix_scan(combine, v, axis, reverse)], list(primals), list(tangents)
        )
        return outs[0], touts[0]

    return rule


cumprod_p.def_jvp(_scan_jvp(ew.mul))
cummax_p.def_jvp(_scan_jvp(ew.max))
cummin_p.def_jvp(_scan_jvp(ew.min))


def _logaddexp_as_jax(a, b):
    """JAX's combine for cumlogsumexp's derivative: logaddexp with its own custom JVP
    (+inf read as 0), so infinite inputs get JAX's tangents."""
    from ..numpy.ufuncs import _logaddexp as logaddexp

    return logaddexp(a, b)


cumlogsumexp_p.def_jvp(_scan_jvp(_logaddexp_as_jax))


def _prefix_scan(fn, elem, axis, reverse):
    """Inclusive prefix scan of ``elem`` along ``axis`` with an associative ``fn``, by the
    odd/even recursion: combine neighbouring pairs, scan the half-size result, then fill
    in the even positions. O(n) work, O(log n) depth, made only of slices, pads and fn."""
    if reverse:
        return rev(_prefix_scan(fn, rev(elem, (axis,)), axis, False), (axis,))
    n = aval_of(elem).shape[axis]
    if n < 2:
        return elem
    return _scan(fn, elem, axis)


def _scan(fn, x, axis):
    n = aval_of(x).shape[axis]
    if n < 2:
        return x
    # prefixes ending at odd positions: scan the sums of neighbouring pairs
    odd = _scan(fn, fn(slice_in_dim(x, 0, -1, 2, axis), slice_in_dim(x, 1, None, 2, axis)), axis)
    # each even position (after the first) adds its own element to the odd prefix before it
    before = slice_in_dim(odd, 0, -1, 1, axis) if n % 2 == 0 else odd
    even = fn(before, slice_in_dim(x, 2, None, 2, axis))
    even = concatenate([slice_in_dim(x, 0, 1, 1, axis), even], axis)
    return _interleave(even, odd, axis)


def _interleave(a, b, axis):
    """a0, b0, a1, b1, ... along ``axis`` (len(a) == len(b) or len(b) + 1)."""
    na, nb = aval_of(a).shape[axis], aval_of(b).shape[axis]
    ndim = aval_of(a).ndim
    zero = np.asarray(0, aval_of(a).dtype)
    cfg_a = [(0, 0, 0)] * ndim
    cfg_a[axis] = (0, 1 if na == nb else 0, 1)
    cfg_b = [(0, 0, 0)] * ndim
    cfg_b[axis] = (1, 0 if na == nb else 1, 1)
    return ew.add(pad(a, zero, tuple(cfg_a)), pad(b, zero, tuple(cfg_b)))


# ---------------------------------------------------------------------------- sort

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
    iota = broadcasted_iota(np.int32, shape, dimension)
    *outs, perm = sort_p.bind(
        *primals, iota, dimension=dimension, is_stable=is_stable, num_keys=num_keys
    )
    take = _take_along_indices(perm, dimension)
    return outs, [t if type(t) is Zero else take(t) for t in tangents]


sort_p.def_jvp(_sort_jvp)


def _sort_batch(size, vals, dims, *, dimension, is_stable, num_keys):
    d = next(d for d in dims if d is not None)
    vals = [batching.move_batch_axis(size, dv, d, v) for v, dv in zip(vals, dims)]
    return sort_p.bind(
        *vals, dimension=_batched_axis(dimension, d), is_stable=is_stable, num_keys=num_keys
    ), [d] * len(vals)


sort_p.def_batch(_sort_batch)


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
