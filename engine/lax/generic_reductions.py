"""lax.reduce (variadic, any computation), lax.associative_scan (pytree parallel prefix
scan) and approx_max_k / approx_min_k (lowered exactly, as XLA's CPU fallback computes).

``lax.reduce`` with a monoid it recognises (add/mul/max/min/bitwise and/or/xor with the
identity as init value) becomes reduce_sum & co, as in JAX; anything else binds the
``reduce`` primitive, whose JVP is a pairwise tree of the computation."""

from __future__ import annotations

import re

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes, tree_util
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, jvp_flat, tangent_aval
from ..interpreters.tracing import trace_to_jaxpr

__all__ = [
    "reduce",
    "associative_scan",
    "approx_max_k",
    "approx_min_k",
    "reduce_p",
    "approx_top_k_p",
]


# ---------------------------------------------------------------------------- lax.reduce

reduce_p = Primitive("reduce", multiple_results=True)


_COMPUTATION_CACHE = {}


def trace_scalar_computation(computation, init_avals, tree, name):
    """Trace ``computation(acc_tree, x_tree)`` on scalars of ``init_avals``' dtypes:
    (ClosedJaxpr, out_tree). Cached per (computation, avals, tree), as JAX caches its
    reduction jaxprs, so an eager call with the same computation reuses its program."""
    from .sharding_rules import explicit_ambient_mesh

    scalars = tuple(a.update(shape=(), weak_type=False) for a in init_avals)
    mesh = explicit_ambient_mesh()
    try:
        key = (computation, scalars, tree, name, mesh)
        hit = _COMPUTATION_CACHE.get(key)
    except TypeError:
        key, hit = None, None
    if hit is not None:
        return hit
    store = []
    n = len(scalars)

    def flat_fun(*args):
        from ..numpy._util import as_operand

        a = tree_util.tree_unflatten(tree, args[:n])
        b = tree_util.tree_unflatten(tree, args[n:])
        outs, out_tree = tree_util.tree_flatten(computation(a, b))
        store.append(out_tree)
        return [as_operand(o) for o in outs]

    closed = trace_to_jaxpr(flat_fun, list(scalars) * 2, debug_name=name)
    if any(core.is_tracer(c) for c in closed.consts):
        raise NotImplementedError(
            "Reduction computations can't close over traced values: pass them as "
            "operands instead (or compute them outside the transformation)."
        )
    if mesh is not None:
        closed = _typed_over(closed, mesh)
    out = (closed, store[0])
    if key is not None:
        if len(_COMPUTATION_CACHE) > 256:
            _COMPUTATION_CACHE.clear()
        _COMPUTATION_CACHE[key] = out
    return out


def _typed_over(closed, mesh):
    """``closed`` as JAX traces a reduction body under an Explicit mesh: its arguments
    (and literals) have no mesh; an n-ary operation on such scalars (JAX's broadcasting
    and select rules) gives a result typed replicated over the mesh, a unary one its
    operand's type. Lowering then constrains an untyped operand where a typed
    elementwise operation reads it, as JAX's."""
    from ..sharding.named import NamedSharding, PartitionSpec

    replicated = NamedSharding(mesh, PartitionSpec())
    jaxpr = closed.jaxpr
    renamed: dict = {}

    def read(v):
        return v if isinstance(v, core.Literal) else renamed.get(v, v)

    eqns = []
    for eqn in jaxpr.eqns:
        invars = [read(v) for v in eqn.invars]
        nary = len(invars) > 1 or eqn.primitive.name == "select_n"
        typed = nary or any(getattr(v.aval, "sharding", None) is not None for v in invars)
        simple = not eqn.primitive.multiple_results and not eqn.primitive.subjaxprs(eqn.params)
        outs = []
        for v in eqn.outvars:
            untyped = v.aval.shape == () and v.aval.sharding is None
            if not (typed and simple and untyped) or isinstance(v, core.DropVar):
                outs.append(v)
                continue
            renamed[v] = core.Var(v.aval.update(sharding=replicated), v.suffix)
            outs.append(renamed[v])
        eqns.append(eqn.replace(invars=invars, outvars=outs))
    typed = core.Jaxpr(
        jaxpr.constvars, jaxpr.invars, [read(v) for v in jaxpr.outvars], eqns, jaxpr.debug_name
    )
    return core.ClosedJaxpr(typed, closed.consts)


def concrete_scalar_init(inits):
    """The one initial value of a reduction as a NumPy scalar when it is concrete (None
    when there are several, or it is traced or not a scalar): what decides whether a
    computation with it is a known monoid."""
    if len(inits) != 1:
        return None
    val = core.concrete_or_none(inits[0])
    if val is None or np.shape(val) != ():
        return None
    return np.asarray(val)


def _monoid(computation, inits):
    from .. import lax
    from . import reductions as r

    val = concrete_scalar_init(inits)
    if val is None:
        return None
    dtype = val.dtype
    intlike = dtype == np.bool_ or dtypes.is_int(dtype)
    if computation is lax.add:
        return r.reduce_sum if val == 0 else None
    if computation is lax.mul:
        return r.reduce_prod if val == 1 else None
    if computation is lax.max:
        return r.reduce_max if val == r._lowest(dtype) else None
    if computation is lax.min:
        return r.reduce_min if val == r._highest(dtype) else None
    if intlike and computation is lax.bitwise_or:
        return r.reduce_or if val == np.zeros((), dtype) else None
    if intlike and computation is lax.bitwise_and:
        return r.reduce_and if val == np.asarray(-1).astype(dtype) else None
    if intlike and computation is lax.bitwise_xor:
        return r.reduce_xor if val == np.zeros((), dtype) else None
    return None


def reduce(operands, init_values, computation, dimensions, out_sharding=None):
    """Reduce ``operands`` (a pytree of equal-shape arrays) over ``dimensions`` with the
    scalar ``computation(accumulator_tree, value_tree) -> tree``, starting at
    ``init_values``."""
    from .convolution import user_errors

    with user_errors(reduce_p, *tree_util.tree_leaves(operands)):
        return _reduce(operands, init_values, computation, dimensions)


def flatten_operands_and_inits(operands, init_values):
    """(operand leaves, their tree, init leaves, their tree), checked to match."""
    flat, tree = tree_util.tree_flatten(operands)
    inits, init_tree = tree_util.tree_flatten(init_values)
    if tree != init_tree:
        raise ValueError(
            f"Operands must have the same tree structure as init_values: {tree} vs. {init_tree}"
        )
    if len(flat) != len(inits):
        raise ValueError(
            f"Must have same total number of operands as init_values:  {len(flat)} vs. {len(inits)}"
        )
    return flat, tree, inits, init_tree


def _reduce(operands, init_values, computation, dimensions):
    from ..numpy._util import as_operand
    from .convert import convert_element_type

    flat, tree, inits, init_tree = flatten_operands_and_inits(operands, init_values)
    dimensions = tuple(int(d) for d in dimensions)
    monoid = _monoid(computation, inits)
    if monoid is not None:
        x = as_operand(flat[0])
        weak = core.get_aval(x).weak_type and core.get_aval(as_operand(inits[0])).weak_type
        out = monoid(x, dimensions)
        if core.get_aval(out).weak_type != weak:
            out = convert_element_type(out, core.get_aval(out).dtype, weak_type=weak)
        return tree_util.tree_unflatten(tree, [out])
    flat = [as_operand(x) for x in flat]
    inits = [as_operand(v) for v in inits]
    closed, out_tree = trace_scalar_computation(
        computation, [core.get_aval(v) for v in inits], init_tree, "reduce comp"
    )
    outs = reduce_p.bind(
        *flat, *inits, computation=computation, jaxpr=closed, dimensions=dimensions
    )
    return tree_util.tree_unflatten(out_tree, outs)


class _Computation:
    """A reduction's computation as JAX prints the parameter: ``str`` of the function
    with its address masked (``<function f at 0xXXXXXXXXXXXX>``)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __str__(self) -> str:
        return re.sub(r" at 0x([0-9a-fA-F]+)", lambda m: " at 0x" + "X" * len(m[1]), str(self.fn))


reduce_p.pp_params = lambda p: {
    "computation": _Computation(p["computation"]),
    "dimensions": p["dimensions"],
    "jaxpr": p["jaxpr"],
}


@reduce_p.def_abstract_eval
def _reduce_abstract_eval(*avals, computation, jaxpr, dimensions):
    n = len(avals) // 2
    ops, inits = avals[:n], avals[n:]
    if any(i.shape != () for i in inits):
        raise ValueError(f"reduce found non-scalar initial value: {[i.shape for i in inits]}")
    if any(o.dtype != i.dtype for o, i in zip(ops, inits)):
        raise TypeError(
            "reduce operand dtypes should match corresponding initial value dtypes, got "
            f"operands={list(ops)} and initial_values={list(inits)}"
        )
    for o in ops:
        if any(not 0 <= d < o.ndim for d in dimensions):
            raise ValueError(f"reduce dimensions {dimensions} out of range for shape {o.shape}")
    if any(o.shape != ops[0].shape for o in ops):
        raise ValueError(f"reduce operands must have equal shapes, got {[o.shape for o in ops]}")
    return [
        ShapedArray(
            tuple(s for i, s in enumerate(o.shape) if i not in dimensions),
            o.dtype,
            o.weak_type and iv.weak_type,
        )
        for o, iv in zip(ops, inits)
    ]


@reduce_p.def_lowering
def _reduce_lowering(ctx, *args, computation, jaxpr, dimensions):
    n = len(args) // 2
    scalars = [a.update(shape=(), weak_type=False) for a in ctx.avals_in[n:]]
    op = hlo.ReduceOp(
        [lowering.ir_type(a) for a in ctx.avals_out],
        list(args[:n]),
        list(args[n:]),
        list(dimensions),
    )
    types = [lowering.ir_type(a) for a in scalars] * 2
    block = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(block):
        outs = lowering.lower_jaxpr_inline(ctx, jaxpr, list(block.arguments))
        hlo.return_(list(outs))
    return list(op.results)


def _reduce_tree(fn, xs, inits, rest_shape):
    """Reduce axis 0 of each of ``xs`` by halving: combine the first half with the
    second (padded with the init values when odd) until one row is left."""
    from .slicing import slice_in_dim
    from .structural import full, pad, squeeze

    while core.get_aval(xs[0]).shape[0] > 1:
        n = core.get_aval(xs[0]).shape[0]
        half = (n + 1) // 2
        first = [slice_in_dim(x, 0, half) for x in xs]
        second = [slice_in_dim(x, half, None) for x in xs]
        if n - half != half:
            cfg = ((0, 1, 0),) + ((0, 0, 0),) * len(rest_shape)
            second = [pad(x, i, cfg) for x, i in zip(second, inits)]
        xs = fn(first, second)
    if core.get_aval(xs[0]).shape[0] == 0:
        return [full(rest_shape, i, core.get_aval(i).dtype) for i in inits]
    return [squeeze(x, (0,)) for x in xs]


def _reduce_jvp(primals, tangents, *, computation, jaxpr, dimensions):
    from .structural import reshape

    n = len(primals) // 2
    xs, inits = list(primals[:n]), list(primals[n:])
    txs, tinits = list(tangents[:n]), tangents[n:]
    if any(type(t) is not Zero for t in tinits):
        raise NotImplementedError(
            "Gradient of general lax.reduce with non-zero tangents for initial values to "
            "reduction not implemented"
        )
    shape = core.get_aval(xs[0]).shape
    rest = tuple(i for i in range(len(shape)) if i not in dimensions)
    count = int(np.prod([shape[d] for d in dimensions], dtype=np.int64))
    new_shape = (count,) + tuple(shape[i] for i in rest)
    perm = tuple(dimensions) + rest
    xs = [reshape(x, new_shape, perm) for x in xs]
    txs = [
        Zero(tangent_aval(core.get_aval(x))) if type(t) is Zero else reshape(t, new_shape, perm)
        for x, t in zip(xs, txs)
    ]

    def combine(a, b):
        # the scalar computation, elementwise over arrays: eval its jaxpr under vmap
        from ..api import vmap

        f = lambda *args: core.eval_jaxpr(jaxpr.jaxpr, jaxpr.consts, *args)  # noqa: E731
        for _ in range(len(new_shape)):
            f = vmap(f)
        return f(*a, *b)

    outs, touts = jvp_flat(
        lambda *v: _reduce_tree(combine, list(v), inits, new_shape[1:]),
        xs,
        txs,
    )
    return outs, touts


reduce_p.def_jvp(_reduce_jvp)


def _reduce_batch(size, vals, dims, *, computation, jaxpr, dimensions):
    n = len(vals) // 2
    if any(d is not None for d in dims[n:]):
        raise NotImplementedError("reduce batching is not implemented for batched init values")
    ops = [
        batching.move_batch_axis(size, d, 0, v) if d is not None else _bcast_front(v, size)
        for v, d in zip(vals[:n], dims[:n])
    ]
    outs = reduce_p.bind(
        *ops,
        *vals[n:],
        computation=computation,
        jaxpr=jaxpr,
        dimensions=tuple(d + 1 for d in dimensions),
    )
    return outs, [0] * n


def _bcast_front(v, size):
    from .structural import broadcast_in_dim

    shape = core.get_aval(v).shape
    return broadcast_in_dim(v, (size,) + shape, tuple(range(1, len(shape) + 1)))


reduce_p.def_batch(_reduce_batch)


# ---------------------------------------------------------------------------- associative_scan


def associative_scan(fn, elems, reverse=False, axis=0):
    """Inclusive scan of ``elems`` (a pytree of arrays sharing the size of ``axis``) with
    an associative, elementwise ``fn(a_tree, b_tree) -> tree``: O(n) work, O(log n)
    depth, by the odd/even recursion JAX uses."""
    from ..numpy._util import as_operand
    from .slicing import slice_in_dim
    from .structural import concatenate, rev

    flat, tree = tree_util.tree_flatten(elems)
    flat = [as_operand(x) for x in flat]
    if not flat:
        return elems
    ndim = len(core.get_aval(flat[0]).shape)
    axis = axis + ndim if axis < 0 else axis
    if reverse:
        flat = [rev(x, (axis,)) for x in flat]

    def combine(a, b):
        out = fn(tree_util.tree_unflatten(tree, a), tree_util.tree_unflatten(tree, b))
        leaves, out_tree = tree_util.tree_flatten(out)
        if out_tree != tree:
            raise ValueError(
                "The fn of associative_scan must return a tree of the same structure as "
                f"elems: got {out_tree}, expected {tree}"
            )
        return [as_operand(x) for x in leaves]

    sizes = {core.get_aval(x).shape[axis] for x in flat}
    if len(sizes) != 1:
        raise ValueError(
            f"Array inputs to associative_scan must have the same first dimension. (saw: "
            f"{[core.get_aval(x).shape for x in flat]})"
        )

    def scan(xs):
        n = core.get_aval(xs[0]).shape[axis]
        if n < 2:
            return xs
        pairs = combine(
            [slice_in_dim(x, 0, -1, 2, axis) for x in xs],
            [slice_in_dim(x, 1, None, 2, axis) for x in xs],
        )
        odd = scan(pairs)
        if n % 2 == 0:
            even = combine(
                [slice_in_dim(o, 0, -1, 1, axis) for o in odd],
                [slice_in_dim(x, 2, None, 2, axis) for x in xs],
            )
        else:
            even = combine(odd, [slice_in_dim(x, 2, None, 2, axis) for x in xs])
        even = [concatenate([slice_in_dim(x, 0, 1, 1, axis), e], axis) for x, e in zip(xs, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan(flat)
    if reverse:
        out = [rev(x, (axis,)) for x in out]
    return tree_util.tree_unflatten(tree, out)


def _interleave(a, b, axis):
    """a0, b0, a1, b1, ... along ``axis`` (len(a) == len(b) or len(b) + 1)."""
    from . import elementwise as ew
    from .logic import bitwise_or
    from .structural import pad

    aa, ab = core.get_aval(a), core.get_aval(b)
    na, nb = aa.shape[axis], ab.shape[axis]
    zero = np.zeros((), aa.dtype)
    cfg_a = [(0, 0, 0)] * aa.ndim
    cfg_a[axis] = (0, 1 if na == nb else 0, 1)
    cfg_b = [(0, 0, 0)] * aa.ndim
    cfg_b[axis] = (1, 0 if na == nb else 1, 1)
    combine = bitwise_or if aa.dtype == np.bool_ else ew.add
    return combine(pad(a, zero, tuple(cfg_a)), pad(b, zero, tuple(cfg_b)))


# ---------------------------------------------------------------------------- approx_max_k

approx_top_k_p = Primitive("approx_top_k", multiple_results=True)


def approx_max_k(
    operand,
    k,
    reduction_dimension=-1,
    recall_target=0.95,
    reduction_input_size_override=-1,
    aggregate_to_topk=True,
):
    """The ``k`` largest entries along ``reduction_dimension`` and their indices. XLA's
    CPU/GPU fallback is exact; so is this."""
    return _approx(
        operand,
        k,
        reduction_dimension,
        recall_target,
        True,
        reduction_input_size_override,
        aggregate_to_topk,
    )


def approx_min_k(
    operand,
    k,
    reduction_dimension=-1,
    recall_target=0.95,
    reduction_input_size_override=-1,
    aggregate_to_topk=True,
):
    return _approx(
        operand,
        k,
        reduction_dimension,
        recall_target,
        False,
        reduction_input_size_override,
        aggregate_to_topk,
    )


def _approx(operand, k, dim, recall, is_max, override, aggregate):
    if not aggregate:
        raise NotImplementedError(
            "approx_max_k/approx_min_k with aggregate_to_topk=False (TPU's partial "
            "reduction) is not supported; use aggregate_to_topk=True"
        )
    return approx_top_k_p.bind(
        operand,
        k=int(k),
        reduction_dimension=int(dim),
        recall_target=float(recall),
        is_max_k=bool(is_max),
        reduction_input_size_override=int(override),
        aggregate_to_topk=bool(aggregate),
    )


@approx_top_k_p.def_abstract_eval
def _approx_abstract_eval(x, *, k, reduction_dimension, is_max_k, **_):
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if x.ndim == 0:
        raise TypeError(f"approx_top_k operand must have >= 1 dimension, got {x.shape}")
    dims = list(x.shape)
    if dims[reduction_dimension] < k:
        raise ValueError(
            f"k must be smaller than the size of reduction_dim {dims[reduction_dimension]}, got {k}"
        )
    if not dtypes.is_float(x.dtype):
        raise ValueError("operand must be a floating type")
    dims[reduction_dimension] = k
    return [ShapedArray(tuple(dims), x.dtype, x.weak_type), ShapedArray(tuple(dims), np.int32)]


@approx_top_k_p.def_lowering
def _approx_lowering(ctx, x, *, k, reduction_dimension, is_max_k, **_):
    aval = ctx.avals_in[0]
    dim = reduction_dimension % aval.ndim
    idx_aval = aval.update(dtype=np.dtype(np.int32), weak_type=False)
    iota = hlo.iota(lowering.ir_type(idx_aval), dim)
    op = hlo.SortOp(
        [lowering.ir_type(aval), lowering.ir_type(idx_aval)],
        [x, iota],
        dimension=dim,
        is_stable=True,
    )
    scalar = aval.update(shape=(), weak_type=False)
    st = lowering.ir_type(scalar)
    it = lowering.ir_type(idx_aval.update(shape=()))
    block = op.regions[0].blocks.append(st, st, it, it)
    with ir.InsertionPoint(block):
        a, b = block.arguments[0], block.arguments[1]
        hlo.return_([lowering.compare(a, b, "GT" if is_max_k else "LT", scalar)])
    limits = list(aval.shape)
    limits[dim] = k
    zeros, ones = [0] * aval.ndim, [1] * aval.ndim
    return [hlo.slice(r, zeros, limits, ones) for r in op.results]


def _approx_jvp(primals, tangents, **params):
    from .sorting import _take_along_indices

    (x,), (t,) = primals, tangents
    vals, idx = approx_top_k_p.bind(x, **params)
    dim = params["reduction_dimension"] % core.get_aval(x).ndim
    if type(t) is Zero:
        t_out = Zero(tangent_aval(core.get_aval(vals)))
    else:
        t_out = _take_along_indices(idx, dim)(t)
    return [vals, idx], [t_out, Zero(tangent_aval(core.get_aval(idx)))]


def _approx_batch(size, vals, dims, *, reduction_dimension, **params):
    (x,), (d,) = vals, dims
    ndim = core.get_aval(x).ndim
    axes = [i for i in range(ndim) if i != d]
    new_dim = axes[reduction_dimension % (ndim - 1)]
    return approx_top_k_p.bind(x, reduction_dimension=new_dim, **params), [d, d]


approx_top_k_p.def_jvp(_approx_jvp)
approx_top_k_p.def_batch(_approx_batch)
