"""Cumulative reductions along one axis (cumsum/cumprod/cummax/cummin/cumlogsumexp):
lowered as reduce_window, differentiated through a parallel prefix scan."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import deflinear, jvp_flat
from . import elementwise as ew
from ._base import aval_of
from .reductions import _batched_axis, _check_kind, _highest, _is_number, _lowest, _scalar_body
from .slicing import slice_in_dim
from .structural import concatenate, pad, rev

__all__ = [
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "cumlogsumexp",
    "cumsum_p",
    "cumprod_p",
    "cummax_p",
    "cummin_p",
    "cumlogsumexp_p",
]


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
    # as JAX's associative_scan: reversed first, then the axis checked (its message)
    ndim = aval_of(elem).ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    axis %= ndim
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
