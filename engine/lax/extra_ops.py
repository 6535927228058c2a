"""Smaller ``lax`` primitives and helpers: ``mulhi``, ``optimization_barrier``,
``rng_bit_generator``, ``rng_uniform``, ``empty``, ``dce_sink`` (each primitive with
its rules beside it), and the plain functions ``broadcast_like``, ``broadcast_shapes``,
``dtype``, ``shape_as_value``, ``index_take``, ``batch_matmul``, ``platform_dependent``,
``composite``, ``stage``, plus the ``RandomAlgorithm`` enum and typing aliases."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes
from ..ad_util import Zero, instantiate
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import tangent_aval, zero_jvp
from ._base import aval_of, naryop

__all__ = [
    "mulhi",
    "mulhi_p",
    "optimization_barrier",
    "optimization_barrier_p",
    "rng_bit_generator",
    "rng_bit_generator_p",
    "rng_uniform",
    "rng_uniform_p",
    "RandomAlgorithm",
    "empty",
    "dce_sink",
    "dce_sink_p",
    "broadcast_like",
    "broadcast_shapes",
    "dtype",
    "shape_as_value",
    "index_take",
    "batch_matmul",
    "platform_dependent",
    "composite",
    "stage",
    "scatter_apply",
    "ragged_dot",
    "DotDimensionNumbers",
    "PrecisionLike",
]

DotDimensionNumbers = tuple  # ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))
PrecisionLike = Any


# ---------------------------------------------------------------------------- mulhi


def _mulhi_fn(x, y):
    """The high half of the full product, from engine ops (widening for <= 32 bits,
    32-bit halves for 64)."""
    from . import add, bitwise_and, mul, select_n, shift_right_logical, sub
    from . import convert_element_type as cvt
    from .structural import full_like

    dt = aval_of(x).dtype
    bits = dt.itemsize * 8
    signed = not dtypes.is_unsigned(dt)
    if bits <= 32:
        wide = np.dtype(np.int64 if signed else np.uint64)
        p = mul(cvt(x, wide), cvt(y, wide))
        return cvt(shift_right_logical(p, full_like(p, bits)) if not signed else _sra(p, bits), dt)
    u = np.dtype(np.uint64)
    a, b = cvt(x, u), cvt(y, u)
    m32 = full_like(a, 0xFFFFFFFF)
    s32 = full_like(a, 32)
    a0, a1 = bitwise_and(a, m32), shift_right_logical(a, s32)
    b0, b1 = bitwise_and(b, m32), shift_right_logical(b, s32)
    p00, p01, p10, p11 = mul(a0, b0), mul(a0, b1), mul(a1, b0), mul(a1, b1)
    mid = add(add(shift_right_logical(p00, s32), bitwise_and(p01, m32)), bitwise_and(p10, m32))
    hi = add(
        add(p11, shift_right_logical(p01, s32)),
        add(shift_right_logical(p10, s32), shift_right_logical(mid, s32)),
    )
    if signed:
        zero = full_like(x, 0)
        from . import lt

        hi = sub(hi, select_n(lt(x, zero), full_like(b, 0), b))
        hi = sub(hi, select_n(lt(y, zero), full_like(a, 0), a))
    return cvt(hi, dt)


def _sra(p, bits):
    from . import shift_right_arithmetic
    from .structural import full_like

    return shift_right_arithmetic(p, full_like(p, bits))


def _mulhi_lower(ctx, x, y):
    from .linalg_ffi import lower_fun

    out = ctx.avals_out[0]  # the operands arrive broadcast to the output shape
    avals = [ShapedArray(out.shape, a.dtype) for a in ctx.avals_in]
    return lower_fun(ctx, _mulhi_fn, [x, y], avals, None, False)


mulhi_p = naryop("mulhi", ("int",), _mulhi_lower)
zero_jvp(mulhi_p)


def mulhi(x, y, /):
    """The high half of the product of two integers of the same type (as if computed
    at twice the width)."""
    return mulhi_p.bind(x, y)


# ---------------------------------------------------------------------------- optimization_barrier

optimization_barrier_p = Primitive("optimization_barrier", multiple_results=True)


def optimization_barrier(operand, /):
    """The identity on a pytree of arrays that XLA may not move computations across."""
    from ..tree_util import tree_flatten, tree_unflatten

    leaves, tree = tree_flatten(operand)
    return tree_unflatten(tree, optimization_barrier_p.bind(*leaves))


optimization_barrier_p.def_abstract_eval(lambda *xs: list(xs))
optimization_barrier_p.def_lowering(
    lambda ctx, *xs: list(hlo.OptimizationBarrierOp(list(xs)).results)
)
optimization_barrier_p.def_batch(
    lambda size, vals, dims: (optimization_barrier_p.bind(*vals), list(dims))
)


def _barrier_jvp(primals, tangents):
    # primals and tangents behind separate barriers, so linearization can split them
    nz = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    outs = optimization_barrier_p.bind(*primals)
    touts = optimization_barrier_p.bind(*[tangents[i] for i in nz]) if nz else []
    t_out = [Zero(tangent_aval(aval_of(p))) for p in primals]
    for k, i in enumerate(nz):
        t_out[i] = touts[k]
    return outs, t_out


optimization_barrier_p.def_jvp(_barrier_jvp)


def _barrier_transpose(cts, *xs):
    from ..interpreters.transpose import is_undefined_primal

    live = [
        i for i, (c, x) in enumerate(zip(cts, xs)) if is_undefined_primal(x) and type(c) is not Zero
    ]
    outs = optimization_barrier_p.bind(*[instantiate(cts[i]) for i in live]) if live else []
    res = [None] * len(xs)
    for k, i in enumerate(live):
        res[i] = outs[k]
    return res


optimization_barrier_p.def_transpose(_barrier_transpose)


# ---------------------------------------------------------------------------- rng_bit_generator


class RandomAlgorithm(enum.IntEnum):
    """XLA's bit-generator algorithms."""

    RNG_DEFAULT = 0
    RNG_THREE_FRY = 1
    RNG_PHILOX = 2

    def __str__(self):
        return self.name


_RNG_ATTR = {0: "DEFAULT", 1: "THREE_FRY", 2: "PHILOX"}

rng_bit_generator_p = Primitive("rng_bit_generator", multiple_results=True)


def rng_bit_generator(
    key, shape, dtype=np.uint32, algorithm=RandomAlgorithm.RNG_DEFAULT, *, out_sharding=None
):
    """XLA's stateless bit generator: ``(new_key, bits of shape and dtype)`` from a
    uint32 key (shape ``(4,)``, or ``(2,)`` for three-fry)."""
    shape = tuple(int(d) for d in shape)
    dt = np.dtype(dtype)
    if dt not in (
        np.dtype(np.uint8),
        np.dtype(np.uint16),
        np.dtype(np.uint32),
        np.dtype(np.uint64),
    ):
        raise TypeError(f"rng_bit_generator: unsupported dtype {dt}")
    return tuple(
        rng_bit_generator_p.bind(
            key,
            algorithm=RandomAlgorithm(algorithm),
            dtype=dt,
            out_sharding=out_sharding,
            shape=shape,
        )
    )


@rng_bit_generator_p.def_abstract_eval
def _rbg_abstract_eval(key, *, algorithm, dtype, out_sharding, shape):
    if key.dtype != np.uint32:
        raise TypeError(f"rng_bit_generator: key dtype must be uint32, got {key.dtype}")
    return [ShapedArray(key.shape, key.dtype), ShapedArray(shape, dtype)]


@rng_bit_generator_p.def_lowering
def _rbg_lowering(ctx, key, *, algorithm, dtype, out_sharding, shape):
    key_aval, out_aval = ctx.avals_out
    state, state_aval = key, key_aval
    if key_aval.shape and key_aval.shape[-1] % 2 == 0:
        # XLA's generators take a u64 state: pairs of u32 words, bitcast (as JAX does)
        pairs = key_aval.shape[:-1] + (key_aval.shape[-1] // 2, 2)
        state_aval = ShapedArray(pairs[:-1], np.dtype(np.uint64))
        state = hlo.bitcast_convert(
            lowering.ir_type(state_aval),
            hlo.reshape(lowering.ir_type(ShapedArray(pairs, key_aval.dtype)), key),
        )
    op = hlo.RngBitGeneratorOp(
        lowering.ir_type(state_aval),
        lowering.ir_type(out_aval),
        hlo.RngAlgorithmAttr.get(_RNG_ATTR[int(algorithm)]),
        state,
    )
    new_state, bits = op.results
    if state is not key:
        pairs = key_aval.shape[:-1] + (key_aval.shape[-1] // 2, 2)
        new_state = hlo.reshape(
            lowering.ir_type(key_aval),
            hlo.bitcast_convert(lowering.ir_type(ShapedArray(pairs, key_aval.dtype)), new_state),
        )
    return [new_state, bits]


zero_jvp(rng_bit_generator_p)


def _rbg_batch(size, vals, dims, *, shape, **params):
    """As JAX: the first key of the batch generates bits for the whole batch (shape
    ``(size, *shape)``), and only that key is advanced."""
    from .slicing import dynamic_update_index_in_dim, index_in_dim

    keys = batching.move_batch_axis(size, dims[0], 0, vals[0])
    new_key, bits = rng_bit_generator_p.bind(
        index_in_dim(keys, 0, 0, keepdims=False), shape=(size,) + tuple(shape), **params
    )
    return [dynamic_update_index_in_dim(keys, new_key, 0, 0), bits], [0, 0]


rng_bit_generator_p.def_batch(_rbg_batch)


# ---------------------------------------------------------------------------- rng_uniform

rng_uniform_p = Primitive("rng_uniform")


def rng_uniform(a, b, shape):
    """Stateful uniform numbers in ``[a, b)`` from XLA's RNG (not reproducible across
    backends; prefer ``engine.random``)."""
    return rng_uniform_p.bind(a, b, shape=tuple(int(d) for d in shape))


@rng_uniform_p.def_abstract_eval
def _rng_uniform_abstract_eval(a, b, *, shape):
    if a.dtype != b.dtype:
        raise ValueError(
            f"Arguments to rng_uniform must have identical dtypes, got {a.dtype} and {b.dtype}."
        )
    if a.shape != () or b.shape != ():
        raise ValueError(f"Arguments to rng_uniform must be scalars; got {a.shape} and {b.shape}.")
    return ShapedArray(shape, a.dtype, a.weak_type and b.weak_type)


@rng_uniform_p.def_lowering
def _rng_uniform_lowering(ctx, a, b, *, shape):
    s = lowering.constant(np.array(shape, np.int64), ShapedArray((len(shape),), np.dtype(np.int64)))
    return hlo.rng(a, b, s, hlo.RngDistributionAttr.get("UNIFORM"))


zero_jvp(rng_uniform_p)


# ---------------------------------------------------------------------------- empty, dce_sink

empty_p = Primitive("empty")


def empty(shape, dtype, *, out_sharding=None):
    """An array of ``shape`` and ``dtype`` whose contents do not matter (zeros here)."""
    return empty_p.bind(
        dtype=dtypes.canonicalize_dtype(dtype),
        out_sharding=out_sharding,
        shape=tuple(int(d) for d in shape),
    )


empty_p.def_abstract_eval(lambda *, dtype, out_sharding, shape: ShapedArray(shape, dtype))
empty_p.def_lowering(
    lambda ctx, *, dtype, out_sharding, shape: lowering.full_like_aval(0, ctx.avals_out[0])
)
zero_jvp(empty_p)

dce_sink_p = Primitive("dce_sink", multiple_results=True)


def dce_sink(val, *, prevent_mlir_dce=False):
    """Consume the arrays of ``val`` so dead-code elimination of the jaxpr keeps them."""
    from ..tree_util import tree_leaves

    for leaf in tree_leaves(val):
        dce_sink_p.bind(leaf, prevent_mlir_dce=prevent_mlir_dce)


dce_sink_p.def_abstract_eval(lambda x, *, prevent_mlir_dce: [])
dce_sink_p.def_lowering(lambda ctx, x, *, prevent_mlir_dce: [])
dce_sink_p.def_impl(lambda x, *, prevent_mlir_dce: [])
dce_sink_p.def_batch(lambda size, vals, dims, **p: (dce_sink_p.bind(vals[0], **p), []))
dce_sink_p.def_jvp(lambda primals, tangents, **p: (dce_sink_p.bind(*primals, **p), []))


# ---------------------------------------------------------------------------- plain helpers


def broadcast_shapes(*shapes):
    """NumPy's broadcasting of shapes (rank promotion included)."""
    return tuple(int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes]))


def broadcast_like(arr, like_arr):
    """``arr`` broadcast (trailing dimensions aligned) to the shape of ``like_arr``."""
    from .structural import broadcast_in_dim

    a, like = aval_of(arr), aval_of(like_arr)
    shape = like.shape
    return broadcast_in_dim(arr, shape, tuple(range(len(shape) - a.ndim, len(shape))))


def dtype(x):
    """The canonical dtype of ``x`` (Python scalars: their default dtypes)."""
    return dtypes.canonicalize_dtype(dtypes.dtype_of(x))


def shape_as_value(shape):
    """A shape as an int array."""
    from ..numpy import asarray

    return asarray(np.array(shape, dtypes.canonicalize_dtype(np.int64)))


def index_take(src, idxs, axes):
    """``src`` indexed along ``axes`` by the rows of ``idxs`` (one row per axis, indices
    taken modulo the axis size)."""
    from .. import numpy as jnp

    src = jnp.asarray(src)
    idxs = jnp.asarray(idxs)
    axes = tuple(int(a) for a in axes)
    index = [slice(None)] * src.ndim
    for i, ax in enumerate(axes):
        index[ax] = jnp.mod(idxs[i], src.shape[ax])
    rest = [d for d in range(src.ndim) if d not in axes]
    moved = jnp.transpose(src, axes + tuple(rest))
    return moved[tuple(index[ax] for ax in axes)]


def batch_matmul(lhs, rhs, precision=None):
    """Matrix products over all leading (batch) dimensions."""
    from .dot import dot_general

    la, ra = aval_of(lhs), aval_of(rhs)
    if la.ndim < 2 or ra.ndim < 2 or la.ndim != ra.ndim:
        raise ValueError(
            f"Arguments to batch_matmul must be at least 2D and have the same rank, got {la.ndim} and {ra.ndim}."
        )
    batch = tuple(range(la.ndim - 2))
    return dot_general(
        lhs, rhs, (((la.ndim - 1,), (ra.ndim - 2,)), (batch, batch)), precision=precision
    )


def platform_dependent(*args, default=None, **per_platform):
    """Call the function for the platform of the default backend (``cuda``/``rocm``
    also match ``gpu``), else ``default``. The choice is made when tracing."""
    from ..runtime import default_backend

    plat = default_backend()
    names = {plat} | ({"gpu"} if plat in ("cuda", "rocm") else set())
    for name, fn in per_platform.items():
        if name in names or (name == "gpu" and plat in ("cuda", "rocm")):
            return fn(*args)
    if default is None:
        raise NotImplementedError(
            f"platform_dependent: no function for platform {plat!r} and no default"
        )
    return default(*args)


def composite(decomposition, name, version=0):
    """Mark ``decomposition`` as the composite op ``name``; here it is traced inline
    (the values are the decomposition's)."""
    import functools

    @functools.wraps(decomposition)
    def wrapped(*args, **kwargs):
        return decomposition(*args, **kwargs)

    wrapped.composite_name = name
    wrapped.composite_version = version
    return wrapped


def scatter_apply(
    operand,
    scatter_indices,
    func,
    dimension_numbers,
    *,
    update_shape=(),
    indices_are_sorted=False,
    unique_indices=False,
    mode=None,
):
    """``operand`` with ``func`` applied at each scattered position (once per
    occurrence of an index): a ``scatter`` whose update computation is ``func``."""
    from ..interpreters.tracing import trace_to_jaxpr
    from .gather_scatter import GatherScatterMode, _canon_scatter_dnums, scatter_p
    from .structural import full

    dt = aval_of(operand).dtype
    scalar = ShapedArray((), dt)
    closed = trace_to_jaxpr(lambda x, _: [func(x)], [scalar, scalar])
    if closed.consts:
        raise NotImplementedError("scatter_apply: func must not close over arrays")
    return scatter_p.bind(
        operand,
        scatter_indices,
        full(tuple(update_shape), 0, dt),
        dimension_numbers=_canon_scatter_dnums(dimension_numbers),
        indices_are_sorted=bool(indices_are_sorted),
        mode=GatherScatterMode.from_any(mode),
        unique_indices=bool(unique_indices),
        update_consts=(),
        update_jaxpr=closed.jaxpr,
    )


def ragged_dot(
    lhs,
    rhs,
    group_sizes,
    precision=None,
    preferred_element_type=None,
    group_offset=None,
    out_sharding=None,
):
    """``lhs[m, k]`` times ``rhs[g, k, n]``, row ``i`` of ``lhs`` using the group it
    falls in (``group_sizes[g]`` consecutive rows each; rows past the groups give 0)."""
    from .. import numpy as jnp
    from .dot import dot_general

    if group_offset is not None:
        raise NotImplementedError("ragged_dot: group_offset is not supported")
    la, ra = aval_of(lhs), aval_of(rhs)
    if la.ndim != 2 or ra.ndim != 3 or la.shape[1] != ra.shape[1]:
        raise ValueError(
            f"ragged_dot expects lhs [m, k] and rhs [g, k, n]; got {la.shape} and {ra.shape}"
        )
    ends = jnp.cumsum(jnp.asarray(group_sizes))
    starts = ends - jnp.asarray(group_sizes)
    rows = jnp.arange(la.shape[0])
    mask = (rows[None, :] >= starts[:, None]) & (rows[None, :] < ends[:, None])  # [g, m]
    per_group = dot_general(
        lhs,
        rhs,
        (((1,), (1,)), ((), ())),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )  # [m, g, n]
    out = jnp.where(jnp.transpose(mask)[:, :, None], per_group, jnp.zeros((), per_group.dtype))
    return out.sum(axis=1).astype(per_group.dtype)


def stage(x, /):
    """The identity (a staging hint for the compiler)."""
    return x


del ir
