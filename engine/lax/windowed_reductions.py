"""Windowed reductions: reduce_window (the sum/max/min primitives JAX uses for monoids,
and the generic variadic one with any computation), and the two primitives behind the
max-pool gradient: select_and_gather_add (the JVP of reduce_window_max/min: the tangent
at each window's chosen element) and its transpose select_and_scatter_add."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes, tree_util
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import Zero, defjvp, deflinear, jvp_flat, tangent_aval
from .convolution import _dilate, _vjp_lhs_padding, padtype_to_pads
from .logic import ge_p, le_p
from .slicing import slice as _slice
from .structural import pad

__all__ = [
    "reduce_window",
    "reduce_window_p",
    "reduce_window_sum_p",
    "reduce_window_max_p",
    "reduce_window_min_p",
    "select_and_scatter_add_p",
    "select_and_gather_add_p",
    "select_and_scatter_p",
    "reduce_window_shape_tuple",
]

_WINDOW_PARAMS = (
    "window_dimensions",
    "window_strides",
    "padding",
    "base_dilation",
    "window_dilation",
)


# ---------------------------------------------------------------------------- shapes


def _check_shapelike(name, what, xs, non_zero=False):
    if any(int(x) < 0 for x in xs):
        raise TypeError(f"{name} {what} must have every element be nonnegative, got {xs}.")
    if non_zero and any(int(x) == 0 for x in xs):
        raise TypeError(f"{name} {what} must have every element be positive, got {xs}.")


def reduce_window_shape_tuple(
    operand_shape,
    window_dimensions,
    window_strides,
    padding,
    base_dilation=None,
    window_dilation=None,
):
    if base_dilation is not None:
        operand_shape = _dilate(operand_shape, base_dilation)
    if window_dilation is not None:
        window_dimensions = _dilate(window_dimensions, window_dilation)
    out = []
    for n, (lo, hi), k, s in zip(operand_shape, padding, window_dimensions, window_strides):
        padded = n + lo + hi
        if not isinstance(padded, int):  # symbolic (engine.export): JAX's form
            from ..export.shape_poly import max_dim

            out.append(max_dim((padded - k) // s + 1, 0))
            continue
        out.append(0 if padded < k else (padded - k) // s + 1)
    return tuple(out)


def _window_shape(x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    _check_shapelike("reduce_window", "window_dimensions", window_dimensions, True)
    _check_shapelike("reduce_window", "window_strides", window_strides, True)
    _check_shapelike("reduce_window", "base_dilation", base_dilation)
    _check_shapelike("reduce_window", "window_dilation", window_dilation)
    if x.ndim != len(window_dimensions):
        raise TypeError(
            "reduce_window got the wrong number of window_dimensions for operand: got "
            f"operand shape {x.shape} with window_dimensions {window_dimensions}."
        )
    for name, xs in (
        ("window_strides", window_strides),
        ("base_dilation", base_dilation),
        ("window_dilation", window_dilation),
    ):
        if len(xs) != len(window_dimensions):
            raise TypeError(
                f"reduce_window got inconsistent {name} and window_dimensions: got "
                f"{name} {xs} and window_dimensions {window_dimensions}."
            )
    if len(padding) != len(window_dimensions):
        raise TypeError(
            f"reduce_window got inconsistent padding and window_dimensions: got padding "
            f"{padding} and window_dimensions {window_dimensions}."
        )
    return reduce_window_shape_tuple(
        x.shape, window_dimensions, window_strides, padding, base_dilation, window_dilation
    )


def _pad_attr(padding):
    pads = np.asarray(padding, np.int64).reshape(len(padding), 2)
    return ir.DenseIntElementsAttr.get(
        pads, type=ir.RankedTensorType.get([len(padding), 2], ir.IntegerType.get_signless(64))
    )


def _emit_reduce_window(
    out_avals,
    operands,
    inits,
    scalar_avals,
    body,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
    reducer_name="generic_reduce_window_reducer",
):
    """stablehlo.reduce_window with a scalar body ``body(*accs, *xs) -> outs``."""
    if not all(type(p) is int for pair in padding for p in pair):  # symbolic (export)
        from ..export.dynamic_ops import emit_reduce_window

        return emit_reduce_window(
            out_avals, operands, inits, scalar_avals, body, window_dimensions,
            window_strides, padding, base_dilation, window_dilation, reducer_name,
        )  # fmt: skip
    op = hlo.ReduceWindowOp(
        [lowering.ir_type(a) for a in out_avals],
        list(operands),
        list(inits),
        list(window_dimensions),
        window_strides=list(window_strides),
        base_dilations=list(base_dilation),
        window_dilations=list(window_dilation),
        padding=_pad_attr(padding),
    )
    types = [lowering.ir_type(a) for a in scalar_avals] * 2
    block = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(block):
        hlo.return_(list(body(*block.arguments)))
    return list(op.results)


def _identity(kind, dtype):
    if kind == "sum":
        return 0
    big = kind == "min"
    if dtype == np.bool_:
        return big
    if dtypes.is_float(dtype):
        return np.inf if big else -np.inf
    info = dtypes.iinfo(dtype)
    return info.max if big else info.min


# ---------------------------------------------------------------------------- sum / max / min


def _monoid_primitive(kind, combine):
    p = Primitive(f"reduce_window_{kind}")

    def abstract_eval(x, **params):
        if kind == "sum" and not (dtypes.is_int(x.dtype) or dtypes.is_inexact(x.dtype)):
            raise TypeError(
                f"operand to reduce_window_sum must have a number dtype, got {x.dtype.name}"
            )
        return ShapedArray(_window_shape(x, **params), x.dtype, x.weak_type)

    def lower(ctx, x, **params):
        aval = ctx.avals_in[0]
        scalar = aval.update(shape=(), weak_type=False)
        init = lowering.constant(np.asarray(_identity(kind, aval.dtype), aval.dtype), scalar)
        fn = combine(aval.dtype)
        return _emit_reduce_window(
            ctx.avals_out, [x], [init], [scalar], lambda a, b: [fn(a, b)], **params,
            reducer_name=f"reduce_window_{aval.dtype}_reducer",
        )[0]  # fmt: skip

    def batch(size, vals, dims, **params):
        (x,), (d,) = vals, dims
        new = {}
        for k in _WINDOW_PARAMS:
            v = list(params[k])
            v.insert(d, (0, 0) if k == "padding" else 1)
            new[k] = tuple(v)
        return p.bind(x, **new), d

    p.def_abstract_eval(abstract_eval)
    p.def_lowering(lower)
    p.def_batch(batch)
    return p


reduce_window_sum_p = _monoid_primitive("sum", lambda d: hlo.or_ if d == np.bool_ else hlo.add)
reduce_window_max_p = _monoid_primitive("max", lambda d: hlo.or_ if d == np.bool_ else hlo.maximum)
reduce_window_min_p = _monoid_primitive("min", lambda d: hlo.and_ if d == np.bool_ else hlo.minimum)


def _reduce_window_sum(
    x, window_dimensions, window_strides, padding, base_dilation=None, window_dilation=None
):
    n = len(window_dimensions)
    return reduce_window_sum_p.bind(
        x,
        window_dimensions=tuple(window_dimensions),
        window_strides=tuple(window_strides),
        padding=tuple(tuple(p) for p in padding),
        base_dilation=tuple(base_dilation or (1,) * n),
        window_dilation=tuple(window_dilation or (1,) * n),
    )


def _reduce_window_sum_transpose(ct, x, **params):
    shape = x.aval.shape
    pads = _vjp_lhs_padding(
        shape,
        params["window_dimensions"],
        params["window_strides"],
        core.get_aval(ct).shape,
        params["padding"],
        params["base_dilation"],
        params["window_dilation"],
    )
    cfg = tuple((lo, hi, s - 1) for (lo, hi), s in zip(pads, params["window_strides"]))
    padded = pad(ct, np.zeros((), core.get_aval(ct).dtype), cfg)
    out = _reduce_window_sum(
        padded,
        params["window_dimensions"],
        params["base_dilation"],
        [(0, 0)] * len(shape),
        (1,) * len(shape),
        params["window_dilation"],
    )
    return [out]


deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


def _chooser_jvp(select_prim):
    def fn(g, x, **params):
        return _select_and_gather_add(g, x, select_prim, **params)

    return fn


defjvp(reduce_window_max_p, _chooser_jvp(ge_p))
defjvp(reduce_window_min_p, _chooser_jvp(le_p))


# ---------------------------------------------------------------------------- select_and_gather_add

select_and_gather_add_p = Primitive("select_and_gather_add")


def _select_and_gather_add(t, x, select_prim, **params):
    return select_and_gather_add_p.bind(t, x, select_prim=select_prim, **params)


@select_and_gather_add_p.def_abstract_eval
def _sga_abstract_eval(t, x, *, select_prim, **params):
    if t.shape != x.shape:
        raise TypeError(
            "select_and_gather_add tangents and operand shapes must match, got "
            f"{t.shape} and {x.shape}."
        )
    return ShapedArray(_window_shape(x, **params), t.dtype)


@select_and_gather_add_p.def_lowering
def _sga_lowering(ctx, t, x, *, select_prim, **params):
    # a pair reduction: keep the (operand, tangent) pair whose operand wins the comparison
    x_aval = ctx.avals_in[1]
    scalar = x_aval.update(shape=(), weak_type=False)
    direction = "GE" if select_prim is ge_p else "LE"
    init_x = lowering.constant(
        np.asarray(_identity("max" if direction == "GE" else "min", scalar.dtype), scalar.dtype),
        scalar,
    )
    init_t = lowering.constant(np.asarray(0, scalar.dtype), scalar)
    out = ctx.avals_out[0]

    def body(ax, at, bx, bt):
        pick = lowering.compare(ax, bx, direction, scalar)
        return [hlo.select(pick, ax, bx), hlo.select(pick, at, bt)]

    return _emit_reduce_window(
        [out.update(dtype=scalar.dtype), out],
        [x, t],
        [init_x, init_t],
        [scalar, scalar],
        body,
        **params,
    )[1]


def _sga_jvp(primals, tangents, *, select_prim, **params):
    (t, x), (gt, _) = primals, tangents
    out = _select_and_gather_add(t, x, select_prim, **params)
    if type(gt) is Zero:
        return out, Zero(tangent_aval(core.get_aval(out)))
    return out, _select_and_gather_add(gt, x, select_prim, **params)


def _sga_transpose(
    ct,
    t,
    x,
    *,
    select_prim,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    if any(d != 1 for d in window_dilation):
        raise NotImplementedError(
            "VJP not implemented for select_and_gather (MaxPool) with window dilation, "
            f"got window_dilation={window_dilation}."
        )
    if type(ct) is Zero:
        return [None, None]
    dilated = any(d != 1 for d in base_dilation)
    if dilated:
        ident = _identity("max" if select_prim is ge_p else "min", core.get_aval(x).dtype)
        x = pad(
            x,
            np.asarray(ident, core.get_aval(x).dtype),
            tuple((0, 0, d - 1) for d in base_dilation),
        )
    out = _select_and_scatter_add(ct, x, select_prim, window_dimensions, window_strides, padding)
    if dilated:
        shape = core.get_aval(out).shape
        out = _slice(out, (0,) * len(shape), shape, base_dilation)
    return [out, None]


def _front_batch(bind_fn, n_window_params):
    """Batch rule: batch axes to the front, windows of size 1 along them."""

    def rule(size, vals, dims, **params):
        from ..interpreters.batching import move_batch_axis

        vals = [
            move_batch_axis(size, d, 0, v) if d is not None else _broadcast_front(v, size)
            for v, d in zip(vals, dims)
        ]
        new = dict(params)
        for k in n_window_params:
            new[k] = ((0, 0) if k == "padding" else 1,) + tuple(params[k])
        return bind_fn(*vals, **new), 0

    return rule


def _broadcast_front(v, size):
    from .structural import broadcast_in_dim

    shape = core.get_aval(v).shape
    return broadcast_in_dim(v, (size,) + shape, tuple(range(1, len(shape) + 1)))


select_and_gather_add_p.def_jvp(_sga_jvp)
select_and_gather_add_p.def_transpose(_sga_transpose)
select_and_gather_add_p.def_batch(
    _front_batch(lambda t, x, **p: select_and_gather_add_p.bind(t, x, **p), _WINDOW_PARAMS)
)


# ---------------------------------------------------------------------------- select_and_scatter_add

select_and_scatter_add_p = Primitive("select_and_scatter_add")
_SSA_PARAMS = ("window_dimensions", "window_strides", "padding")


def _select_and_scatter_add(source, x, select_prim, window_dimensions, window_strides, padding):
    return select_and_scatter_add_p.bind(
        source,
        x,
        select_prim=select_prim,
        window_dimensions=tuple(window_dimensions),
        window_strides=tuple(window_strides),
        padding=tuple(tuple(p) for p in padding),
    )


@select_and_scatter_add_p.def_abstract_eval
def _ssa_abstract_eval(source, x, *, select_prim, window_dimensions, window_strides, padding):
    if len(window_dimensions) != len(window_strides):
        raise TypeError(
            "select_and_scatter got inconsistent window_strides and window_dimensions: "
            f"got window_strides {window_strides} and window_dimensions {window_dimensions}."
        )
    return ShapedArray(x.shape, source.dtype)


@select_and_scatter_add_p.def_lowering
def _ssa_lowering(ctx, source, x, *, select_prim, window_dimensions, window_strides, padding):
    # As JAX on CPU/GPU: pad the operand with the selection's identity, scatter with no
    # padding, then cut the padding off.
    x_aval = ctx.avals_in[1]
    scalar = x_aval.update(shape=(), weak_type=False)
    direction = "GE" if select_prim is ge_p else "LE"
    ident = _identity("max" if direction == "GE" else "min", scalar.dtype)
    if any(lo or hi for lo, hi in padding):
        padded_shape = tuple(n + lo + hi for n, (lo, hi) in zip(x_aval.shape, padding))
        x = hlo.pad(
            x,
            lowering.constant(np.asarray(ident, scalar.dtype), scalar),
            [lo for lo, _ in padding],
            [hi for _, hi in padding],
            [0] * len(padding),
        )
    else:
        padded_shape = x_aval.shape
    out_type = lowering.ir_type(x_aval.update(shape=padded_shape, weak_type=False))
    op = hlo.SelectAndScatterOp(
        out_type,
        x,
        source,
        lowering.constant(np.asarray(0, scalar.dtype), scalar),
        window_dimensions=list(window_dimensions),
        window_strides=list(window_strides),
        padding=_pad_attr([(0, 0)] * len(padding)),
    )
    st = lowering.ir_type(scalar)
    sel = op.select.blocks.append(st, st)
    with ir.InsertionPoint(sel):
        hlo.return_([lowering.compare(sel.arguments[0], sel.arguments[1], direction, scalar)])
    sc = op.scatter.blocks.append(st, st)
    with ir.InsertionPoint(sc):
        comb = hlo.or_ if scalar.dtype == np.bool_ else hlo.add
        hlo.return_([comb(sc.arguments[0], sc.arguments[1])])
    out = op.result
    if padded_shape != x_aval.shape:
        out = hlo.slice(
            out,
            [lo for lo, _ in padding],
            [lo + n for n, (lo, _) in zip(x_aval.shape, padding)],
            [1] * len(padding),
        )
    return out


def _ssa_jvp(primals, tangents, *, select_prim, **params):
    (s, x), (gs, _) = primals, tangents
    out = select_and_scatter_add_p.bind(s, x, select_prim=select_prim, **params)
    if type(gs) is Zero:
        return out, Zero(tangent_aval(core.get_aval(out)))
    return out, select_and_scatter_add_p.bind(gs, x, select_prim=select_prim, **params)


def _ssa_transpose(ct, s, x, *, select_prim, window_dimensions, window_strides, padding):
    if type(ct) is Zero:
        return [None, None]
    ones = (1,) * len(window_dimensions)
    out = _select_and_gather_add(
        ct,
        x,
        select_prim,
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
        base_dilation=ones,
        window_dilation=ones,
    )
    return [out, None]


select_and_scatter_add_p.def_jvp(_ssa_jvp)
select_and_scatter_add_p.def_transpose(_ssa_transpose)
select_and_scatter_add_p.def_batch(
    _front_batch(lambda s, x, **p: select_and_scatter_add_p.bind(s, x, **p), _SSA_PARAMS)
)


# ---------------------------------------------------------------------------- generic reduce_window

reduce_window_p = Primitive("reduce_window", multiple_results=True)


def _scalar_jaxpr(computation, init_avals, init_tree, name):
    """Trace ``computation(acc_tree, x_tree)`` on scalars: (jaxpr, consts, out_tree)."""
    from .generic_reductions import trace_scalar_computation

    closed, out_tree = trace_scalar_computation(computation, init_avals, init_tree, name)
    return closed.jaxpr, tuple(closed.consts), out_tree


def _as_init(v, like):
    if dtypes.is_python_scalar(v):
        return np.asarray(v, core.get_aval(like).dtype)
    return v


def _monoid_reducer(computation, inits):
    from .. import lax as _lax
    from .generic_reductions import concrete_scalar_init

    val = concrete_scalar_init(inits)
    if val is None:
        return None
    if computation is _lax.add:
        return reduce_window_sum_p if val == 0 else None
    if computation is _lax.max:
        return reduce_window_max_p if val == _identity("max", val.dtype) else None
    if computation is _lax.min:
        return reduce_window_min_p if val == _identity("min", val.dtype) else None
    return None


def reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides=None,
    padding="VALID",
    base_dilation=None,
    window_dilation=None,
):
    """Reduce each window of ``operand`` (a pytree of arrays) with ``computation``,
    starting from ``init_value``: pooling, running sums, cumulative reductions."""
    from .convolution import user_errors

    with user_errors(reduce_window_p, *tree_util.tree_leaves(operand)):
        return _reduce_window(
            operand,
            init_value,
            computation,
            window_dimensions,
            window_strides,
            padding,
            base_dilation,
            window_dilation,
        )


def _reduce_window(
    operand,
    init_value,
    computation,
    window_dimensions,
    window_strides,
    padding,
    base_dilation,
    window_dilation,
):
    from ..numpy._util import as_operand
    from .generic_reductions import flatten_operands_and_inits

    flat, tree, inits, init_tree = flatten_operands_and_inits(operand, init_value)
    if not flat:
        raise ValueError("reduce_window must have at least one operand.")
    flat = [as_operand(x) for x in flat]
    inits = [as_operand(_as_init(v, x)) for v, x in zip(inits, flat)]
    window_dimensions = tuple(int(d) for d in window_dimensions)
    n = len(window_dimensions)
    window_strides = (1,) * n if window_strides is None else tuple(int(s) for s in window_strides)
    base_dilation = (1,) * n if base_dilation is None else tuple(int(d) for d in base_dilation)
    window_dilation = (
        (1,) * n if window_dilation is None else tuple(int(d) for d in window_dilation)
    )
    shape = core.get_aval(flat[0]).shape
    if isinstance(padding, str):
        padding = padtype_to_pads(
            shape, _dilate(window_dimensions, window_dilation), window_strides, padding
        )
    # a symbolic pad (SAME over a symbolic dimension, under engine.export) stays symbolic
    from ..export.shape_poly import is_symbolic_dim

    padding = tuple(tuple(p if is_symbolic_dim(p) else int(p) for p in lh) for lh in padding)
    params = dict(
        window_dimensions=window_dimensions,
        window_strides=window_strides,
        padding=padding,
        base_dilation=base_dilation,
        window_dilation=window_dilation,
    )
    monoid = _monoid_reducer(computation, inits)
    if monoid is not None:
        return tree_util.tree_unflatten(tree, [monoid.bind(flat[0], **params)])
    init_avals = [core.get_aval(v) for v in inits]
    jaxpr, consts, out_tree = _scalar_jaxpr(
        computation, init_avals, init_tree, "reduce_window comp"
    )
    if out_tree != tree:
        raise ValueError(
            "reduce_window output must have the same tree structure as the operands "
            f"{tree} vs. {out_tree}"
        )
    outs = reduce_window_p.bind(*flat, *inits, jaxpr=jaxpr, consts=consts, **params)
    return tree_util.tree_unflatten(tree, outs)


@reduce_window_p.def_abstract_eval
def _rw_abstract_eval(*avals, jaxpr, consts, **params):
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if any(o.dtype != i.dtype for o, i in zip(ops, inits)):
        raise TypeError(
            "reduce_window got inconsistent dtypes for operands and init_values: got "
            f"operand dtypes {[o.dtype for o in ops]} and init_value dtypes "
            f"{[i.dtype for i in inits]}."
        )
    if any(i.shape != () for i in inits):
        raise TypeError(
            "reduce_window expected init_values to be scalars but init_values have "
            f"shapes {[i.shape for i in inits]}."
        )
    shape = _window_shape(ops[0], **params)
    return [ShapedArray(shape, o.dtype) for o in ops]


@reduce_window_p.def_lowering
def _rw_lowering(ctx, *args, jaxpr, consts, **params):
    n = len(args) // 2
    scalars = [a.update(shape=(), weak_type=False) for a in ctx.avals_in[n:]]
    mctx = ctx.module_ctx

    def body(*xs):
        cs = [lowering.constant(np.asarray(c), core.get_aval(c)) for c in consts]
        return lowering.jaxpr_subcomp(mctx, jaxpr, cs, list(xs), ctx.eqn_path + ("s0",))

    return _emit_reduce_window(ctx.avals_out, args[:n], args[n:], scalars, body, **params)


def _rw_jvp(primals, tangents, *, jaxpr, consts, **params):
    n = len(primals) // 2
    xs, inits = primals[:n], primals[n:]
    txs, tinits = tangents[:n], tangents[n:]
    if not all(type(t) is Zero for t in tinits):
        raise TypeError("reduce_window jvp does not support non-zero init_value_tangent.")
    txs = [
        t if type(t) is not Zero else np.zeros(core.get_aval(x).shape, core.get_aval(x).dtype)
        for t, x in zip(txs, xs)
    ]
    zero_inits = [np.zeros((), core.get_aval(i).dtype) for i in inits]

    def pair_fn(left, right):
        (pl, tl), (pr, tr) = left, right
        outs, touts = jvp_flat(
            lambda *a: core.eval_jaxpr(jaxpr, list(consts), *a),
            list(pl) + list(pr),
            list(tl) + list(tr),
        )
        return (tuple(outs), tuple(touts))

    outs = reduce_window(
        (tuple(xs), tuple(txs)),
        (tuple(inits), tuple(zero_inits)),
        pair_fn,
        params["window_dimensions"],
        params["window_strides"],
        params["padding"],
        params["base_dilation"],
        params["window_dilation"],
    )
    return list(outs[0]), list(outs[1])


def _rw_batch(size, vals, dims, *, jaxpr, consts, **params):
    from ..interpreters.batching import move_batch_axis

    n = len(vals) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("reduce_window batching is not implemented for initial values")
    ops = [
        move_batch_axis(size, d, 0, v) if d is not None else _broadcast_front(v, size)
        for v, d in zip(vals[:n], dims[:n])
    ]
    new = {k: ((0, 0) if k == "padding" else 1,) + tuple(params[k]) for k in _WINDOW_PARAMS}
    outs = reduce_window_p.bind(*ops, *vals[n:], jaxpr=jaxpr, consts=consts, **new)
    return outs, [0] * n


reduce_window_p.def_jvp(_rw_jvp)
reduce_window_p.def_batch(_rw_batch)


# ---------------------------------------------------------------------------- select_and_scatter

select_and_scatter_p = Primitive("select_and_scatter")


def _select_and_scatter(
    operand, select, window_dimensions, window_strides, padding, source, init_value, scatter
):
    """XLA's SelectAndScatter with any ``select(a, b) -> bool`` and ``scatter(a, b)``:
    each window of ``operand`` picks one element with ``select``; ``source``'s entry
    for that window is combined into it with ``scatter``, starting from ``init_value``.
    (lax's max-pool gradient uses the select_and_scatter_add primitive instead.)"""
    from ..numpy._util import as_operand
    from .generic_reductions import trace_scalar_computation

    init_value = as_operand(init_value)
    aval = core.get_aval(init_value)
    leaf = tree_util.tree_flatten(0)[1]
    sel, _ = trace_scalar_computation(select, [aval], leaf, "select")
    sca, _ = trace_scalar_computation(scatter, [aval], leaf, "scatter")
    return select_and_scatter_p.bind(
        operand,
        source,
        init_value,
        select_jaxpr=sel.jaxpr,
        select_consts=tuple(sel.consts),
        scatter_jaxpr=sca.jaxpr,
        scatter_consts=tuple(sca.consts),
        window_dimensions=tuple(int(d) for d in window_dimensions),
        window_strides=tuple(int(s) for s in window_strides),
        padding=tuple((int(lo), int(hi)) for lo, hi in padding),
    )


@select_and_scatter_p.def_abstract_eval
def _sas_abstract_eval(operand, source, init_value, *, window_dimensions, window_strides, **_):
    _check_shapelike("select_and_scatter", "window_dimensions", window_dimensions)
    _check_shapelike("select_and_scatter", "window_strides", window_strides)
    if len(window_dimensions) != len(window_strides):
        raise TypeError(
            "select_and_scatter got inconsistent window_strides and window_dimensions: "
            f"got window_strides {window_strides} and window_dimensions {window_dimensions}."
        )
    return ShapedArray(operand.shape, operand.dtype)


@select_and_scatter_p.def_lowering
def _sas_lowering(
    ctx,
    operand,
    source,
    init_value,
    *,
    select_jaxpr,
    select_consts,
    scatter_jaxpr,
    scatter_consts,
    window_dimensions,
    window_strides,
    padding,
):
    scalar = ctx.avals_in[0].update(shape=(), weak_type=False)
    op = hlo.SelectAndScatterOp(
        lowering.ir_type(ctx.avals_out[0]),
        operand,
        source,
        init_value,
        window_dimensions=list(window_dimensions),
        window_strides=list(window_strides),
        padding=_pad_attr(padding),
    )
    st = lowering.ir_type(scalar)
    for region, jaxpr, consts, tag in (
        (op.select, select_jaxpr, select_consts, "s0"),
        (op.scatter, scatter_jaxpr, scatter_consts, "s1"),
    ):
        block = region.blocks.append(st, st)
        with ir.InsertionPoint(block):
            cs = [lowering.constant(np.asarray(c), core.get_aval(c)) for c in consts]
            outs = lowering.jaxpr_subcomp(
                ctx.module_ctx, jaxpr, cs, list(block.arguments), ctx.eqn_path + (tag,)
            )
            hlo.return_(list(outs))
    return op.result
