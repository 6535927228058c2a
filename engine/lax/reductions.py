"""Reductions over axes (reduce_sum/max/min/prod/and/or/xor) and argmax/argmin, with the
scalar-body helpers that cumulative.py and sorting.py share."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import deflinear, jvp_flat, zero_jvp
from . import elementwise as ew
from ._base import aval_of
from .convert import convert_element_type
from .logic import eq
from .slicing import slice_in_dim
from .structural import (
    broadcast_in_dim,
    full,
    pad,
    reshape,
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
    "reduce_sum_p",
    "reduce_max_p",
    "reduce_min_p",
    "reduce_prod_p",
    "reduce_and_p",
    "reduce_or_p",
    "reduce_xor_p",
    "argmax_p",
    "argmin_p",
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
    op = hlo.ReduceOp([lowering.ir_type(aval_out)], [x], [init_v], [int(a) for a in axes])
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
        # NumPy integers, as JAX's reducer_batcher builds them (np.int64(1) in jaxprs)
        axes = tuple(np.where(np.less(axes, d), axes, np.add(axes, 1)))
        return bind(x, axes, **params), d - sum(int(a < d) for a in axes)

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
    # NumPy integers, as JAX's np.delete(np.arange(...)) gives (its jaxprs print them)
    kept = tuple(np.int64(i) for i in range(len(shape)) if i not in axes)
    if x.aval.sharding is not None:  # the cotangent gets its operand's type, as JAX's
        from .sharding_rules import placed_as_typed
        from .structural import broadcast_in_dim_p

        out = broadcast_in_dim_p.bind(
            ct, shape=shape, broadcast_dimensions=kept, sharding=x.aval.sharding
        )
        return [placed_as_typed(out, x.aval.sharding)]
    if not axes:
        return [broadcast_in_dim(ct, shape, kept)]
    from .structural import broadcast_in_dim_p

    # bound directly: the wrapper would make the dimensions Python ints
    return [broadcast_in_dim_p.bind(ct, shape=shape, broadcast_dimensions=kept, sharding=None)]


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
        # as JAX's (inline=False): one private function per operand type and params
        key = (name, ctx.avals_in[0], axes, np.dtype(index_dtype))
        return _private_call(
            ctx, name, key, [x], lambda x: _argminmax_body(ctx, x, axes[0], pick_greater)
        )

    lower.__wrapped__ = lower  # type: ignore[attr-defined]  (constrains its own results)

    p.def_abstract_eval(abstract_eval)
    p.def_lowering(lower)
    p.def_batch(
        _reduce_batch_rule(
            lambda x, axes, index_dtype: p.bind(x, axes=axes, index_dtype=index_dtype)
        )
    )
    zero_jvp(p)
    return p


def _private_call(ctx, name, key, args, build):
    """A call to the module's private function ``name`` (emitted by ``build`` the first
    time ``key`` is seen), named as MLIR's symbol table names them (argmax, argmax_0)."""
    from jaxlib.mlir.dialects import func

    mctx = ctx.module_ctx
    if any(type(d) is not int for a in ctx.avals_in for d in a.shape):
        # symbolic dimensions (export): the body reads their values from the caller
        return build(*args)
    sym = mctx.symbols.get(key)
    out_types = [lowering.ir_type(a) for a in ctx.avals_out]
    if sym is None:
        table = getattr(mctx, "symbol_table", None)
        if table is None:
            table = mctx.symbol_table = ir.SymbolTable(mctx.module.operation)
        in_types = [lowering.ir_type(a) for a in ctx.avals_in]
        with ir.InsertionPoint(mctx.module.body):
            fn = func.FuncOp(name, ir.FunctionType.get(in_types, out_types))
        fn.attributes["sym_visibility"] = ir.StringAttr.get("private")
        sym = ir.StringAttr(table.insert(fn)).value
        mctx.symbols[key] = sym
        block = fn.add_entry_block()
        with ir.InsertionPoint(block):
            func.ReturnOp([build(*block.arguments)])
    return func.CallOp(out_types, ir.FlatSymbolRefAttr.get(sym), list(args)).results[0]


def _max_identity(dtype, greater):
    """JAX's _get_max_identity (greater) / _get_min_identity."""
    if dtypes.is_inexact(dtype):
        info = dtypes.finfo(dtype)
        if np.isinf(np.asarray(np.inf).astype(dtype)):
            return -np.inf if greater else np.inf
        return info.min if greater else info.max
    return _lowest(dtype) if greater else _highest(dtype)


def _argminmax_body(ctx, x, axis, pick_greater):
    """JAX's _compute_argminmax: a variadic reduce of (values, iota) whose reducer picks
    the greater (smaller) value, a NaN first, and the lower index on ties. Over an
    Explicit mesh each step carries the Shardy constraint JAX's traced ops get: the iota
    and the results their types, the scalar body its replicated type (its arguments, of
    no mesh, are constrained where an elementwise op reads them)."""
    from ..sharding.constraint import constrain_to_type
    from ..sharding.named import NamedSharding, PartitionSpec

    x_aval, out_aval = ctx.avals_in[0], ctx.avals_out[0]
    index_dtype = out_aval.dtype
    idx_aval = x_aval.update(dtype=index_dtype, weak_type=False)
    typed = out_aval.sharding
    scalar_type = None if typed is None else NamedSharding(typed.mesh, PartitionSpec())

    def pin(v, sharding, ndim):
        return v if sharding is None else constrain_to_type(v, sharding, ndim)

    idx = pin(lowering.iota(idx_aval, axis), x_aval.sharding, x_aval.ndim)
    vs = x_aval.update(shape=(), weak_type=False, sharding=None)
    ids = idx_aval.update(shape=(), sharding=None)
    init_v = lowering.constant(np.asarray(_max_identity(vs.dtype, pick_greater), vs.dtype), vs)
    init_i = lowering.constant(np.asarray(0, index_dtype), ids)
    op = hlo.ReduceOp(
        [lowering.ir_type(out_aval.update(dtype=vs.dtype)), lowering.ir_type(out_aval)],
        [x, idx],
        [init_v, init_i],
        [axis],
    )

    def scalar(v):
        return pin(v, scalar_type, 0)

    def compare(a, b, direction, aval):
        return lowering.compare(scalar(a), scalar(b), direction, aval)

    def body(op_val, op_idx, acc_val, acc_idx):
        better = compare(op_val, acc_val, "GT" if pick_greater else "LT", vs)
        pick_val = scalar(hlo.or_(better, compare(op_val, op_val, "NE", vs)))
        tie = compare(op_val, acc_val, "EQ", vs)
        first = compare(op_idx, acc_idx, "LT", ids)
        pick_idx = scalar(hlo.or_(pick_val, scalar(hlo.and_(tie, first))))
        return [
            scalar(hlo.select(pick_val, op_val, acc_val)),
            scalar(hlo.select(pick_idx, op_idx, acc_idx)),
        ]

    _scalar_body(op, body, [vs, ids, vs, ids])
    ndim = len(out_aval.shape)
    pin(op.results[0], typed, ndim)  # (JAX's type for the values too; unused)
    return pin(op.results[1], typed, ndim)


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
