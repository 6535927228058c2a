"""Typed PRNG keys: the ``key<fry>`` dtype and the ``random_*`` primitives.

A typed key array has an extended dtype (:class:`KeyTy`, printed ``key<fry>``) in its
aval; its data is a ``uint32`` array with the implementation's key shape (``(2,)`` for
threefry) appended to the key array's own shape. Concrete key arrays are engine
``Array`` objects whose aval says ``key<fry>[...]`` and whose buffer holds that data, so
``jit``, eager dispatch and ``vmap`` carry them like any array; lowering gives a key
aval its physical tensor type (``engine.interpreters.lowering.tensor_type``), and the
structural primitives that JAX lets key arrays through (slice, squeeze, reshape,
broadcast_in_dim, transpose, concatenate, select_n, dynamic slices, gather, copy) lower
on that data with the key axis kept whole at the end.

The primitives, as JAX names them: ``random_seed``, ``random_bits``, ``random_split``,
``random_fold_in``, ``random_wrap``, ``random_unwrap`` and ``random_clone``. Each lowers
by tracing the threefry implementation (``engine.lax.random_bits``) over the key data
and emitting it inline, so values are bit for bit those of JAX's threefry2x32 in its
partitionable counter layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import core, dtypes, lax
from .array import Array
from .core import Primitive, ShapedArray
from .interpreters import batching, lowering
from .interpreters.jvp import zero_jvp
from .interpreters.tracing import trace_to_jaxpr
from .lax.random_bits import iota_2x32_shape, threefry2x32

__all__ = [
    "PRNGImpl",
    "KeyTy",
    "threefry_prng_impl",
    "is_key_dtype",
    "random_seed",
    "random_bits",
    "random_split",
    "random_fold_in",
    "random_wrap",
    "random_unwrap",
    "random_clone",
]

_UINT_BY_BITS = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


# ---------------------------------------------------------------------------- the threefry implementation
# Each function works on key data with leading key axes ``ks``: ``data`` is u32[*ks, 2].


def _words(data: Any) -> tuple[Any, Any]:
    n = core.get_aval(data).ndim - 1
    return (
        lax.index_in_dim(data, 0, axis=n, keepdims=False),
        lax.index_in_dim(data, 1, axis=n, keepdims=False),
    )


def _hash_counters(data: Any, shape: tuple) -> tuple[Any, Any]:
    """threefry2x32 under each key over the 64-bit row-major counters of ``shape``."""
    k1, k2 = _words(data)
    ks = core.get_aval(k1).shape
    hi, lo = iota_2x32_shape(shape)
    if ks and shape:  # (keys, counters) broadcast as ks + (1,)*len(shape), (1,)*len(ks) + shape
        k1 = lax.reshape(k1, ks + (1,) * len(shape))
        k2 = lax.reshape(k2, ks + (1,) * len(shape))
        hi = lax.reshape(hi, (1,) * len(ks) + shape)
        lo = lax.reshape(lo, (1,) * len(ks) + shape)
    elif ks:
        hi, lo = lax.full(ks, 0, np.uint32), lax.full(ks, 0, np.uint32)
    return threefry2x32(k1, k2, hi, lo)


def _stack_words(y1: Any, y2: Any) -> Any:
    n = core.get_aval(y1).ndim
    return lax.concatenate([lax.expand_dims(y1, (n,)), lax.expand_dims(y2, (n,))], n)


def _threefry_seed(seeds: Any) -> Any:
    """Key data for integer seeds: (bits 63..32, bits 31..0) of each seed's value."""
    aval = core.get_aval(seeds)
    low = lax.convert_element_type(seeds, np.uint32)
    if aval.dtype.itemsize == 8:
        high = lax.convert_element_type(
            lax.shift_right_logical(seeds, np.array(32, aval.dtype)), np.uint32
        )
    else:
        high = lax.full(aval.shape, 0, np.uint32)
    return _stack_words(high, low)


def _threefry_split(data: Any, shape: tuple) -> Any:
    return _stack_words(*_hash_counters(data, shape))


def _threefry_fold_in(data: Any, msgs: Any) -> Any:
    k1, k2 = _words(data)
    zeros = lax.full(core.get_aval(msgs).shape, 0, np.uint32)
    return _stack_words(*threefry2x32(k1, k2, zeros, msgs))


def _threefry_random_bits(data: Any, bit_width: int, shape: tuple) -> Any:
    if math.prod(shape) > 2**64:
        raise NotImplementedError("random bits array of size exceeding 2 ** 64")
    y1, y2 = _hash_counters(data, shape)
    if bit_width == 64:
        u64 = dtypes.uint64
        high = lax.convert_element_type(y1, u64)
        low = lax.convert_element_type(y2, u64)
        return lax.bitwise_or(lax.shift_left(high, np.array(32, u64)), low)
    out = lax.bitwise_xor(y1, y2)
    if bit_width == 32:
        return out
    return lax.convert_element_type(out, _UINT_BY_BITS[bit_width])


class PRNGImpl:
    """A PRNG implementation: its key shape, its functions on key data, and its names
    (``name`` as ``key_impl`` returns it; ``tag`` as dtypes and jaxprs print it)."""

    def __init__(
        self,
        name: str,
        tag: str,
        key_shape: tuple,
        seed: Callable[..., Any],
        split: Callable[..., Any],
        fold_in: Callable[..., Any],
        random_bits: Callable[..., Any],
    ) -> None:
        self.name, self.tag, self.key_shape = name, tag, key_shape
        self.seed, self.split, self.fold_in, self.random_bits = seed, split, fold_in, random_bits

    def __repr__(self) -> str:
        return self.tag

    __str__ = __repr__


threefry_prng_impl = PRNGImpl(
    "threefry2x32",
    "fry",
    (2,),
    _threefry_seed,
    _threefry_split,
    _threefry_fold_in,
    _threefry_random_bits,
)
_IMPLS = {"threefry2x32": threefry_prng_impl}


def resolve_impl(spec: Any) -> PRNGImpl:
    """The implementation an ``impl=`` argument names (None: the default, threefry)."""
    if spec is None or spec is threefry_prng_impl:
        return threefry_prng_impl
    if isinstance(spec, KeyTy):
        return spec._impl
    if isinstance(spec, str) and spec in _IMPLS:
        return _IMPLS[spec]
    if str(spec) in ("key<fry>", "fry"):
        return threefry_prng_impl
    if spec in ("rbg", "unsafe_rbg"):
        raise NotImplementedError(
            f"the {spec} PRNG implementation is not available in this engine (only threefry2x32)"
        )
    raise ValueError(
        f'unrecognized PRNG implementation "{spec}". Did you mean one of: "threefry2x32"?'
    )


# ---------------------------------------------------------------------------- the key dtype


class KeyTy(dtypes.ExtendedDType):
    """The dtype of typed keys of one implementation: ``key<fry>`` for threefry."""

    type = dtypes.prng_key
    physical_dtype = dtypes.uint32

    def __init__(self, impl: PRNGImpl) -> None:
        self._impl = impl
        self.name = f"key<{impl.tag}>"
        self.physical_shape = impl.key_shape
        self.itemsize = 4 * math.prod(impl.key_shape)

    def __eq__(self, other: Any) -> bool:
        return type(other) is KeyTy and other._impl is self._impl

    def __hash__(self) -> int:
        return hash((KeyTy, self._impl.name))


_KEY_TYPES = {threefry_prng_impl: KeyTy(threefry_prng_impl)}


def key_dtype_of(impl: PRNGImpl) -> KeyTy:
    return _KEY_TYPES[impl]


def is_key_dtype(dtype: Any) -> bool:
    return type(dtype) is KeyTy


def _key_aval(shape: tuple, impl: PRNGImpl, like: ShapedArray | None = None) -> ShapedArray:
    vma = like.vma if like is not None else frozenset()
    return ShapedArray(shape, _KEY_TYPES[impl], vma=vma)


def _check_key(name: str, aval: ShapedArray) -> PRNGImpl:
    if type(aval.dtype) is not KeyTy:
        raise TypeError(f"{name} accepts a typed PRNG key array; got dtype {aval.dtype}")
    return aval.dtype._impl


# ---------------------------------------------------------------------------- lowering by tracing the implementation


def _lower_impl(fn: Callable[..., Any], multiple: bool = False) -> Callable[..., Any]:
    """A lowering rule emitting ``fn`` (engine ops on the physical data) inline."""

    def rule(ctx, *args, **params):
        avals = [core.physical_aval(a) for a in ctx.avals_in]
        closed = trace_to_jaxpr(lambda *xs: [fn(*xs, **params)], avals)
        outs = lowering.lower_jaxpr_inline(ctx, closed, list(args))
        return outs if multiple else outs[0]

    return rule


def _front(size: int, x: Any, d: int | None) -> Any:
    return batching.move_batch_axis(size, d, 0, x)


# ---------------------------------------------------------------------------- random_seed

random_seed_p = Primitive("random_seed")


def random_seed(seeds: Any, impl: PRNGImpl) -> Any:
    return random_seed_p.bind(seeds, impl=impl)


@random_seed_p.def_abstract_eval
def _random_seed_abstract_eval(seeds_aval, *, impl):
    if not dtypes.is_int(seeds_aval.dtype):
        raise TypeError(f"PRNG key seed must be an integer; got {seeds_aval.str_short()}")
    return _key_aval(seeds_aval.shape, impl)


random_seed_p.def_lowering(_lower_impl(lambda seeds, *, impl: impl.seed(seeds)))
random_seed_p.def_batch(lambda size, vals, dims, *, impl: (random_seed(vals[0], impl), dims[0]))
zero_jvp(random_seed_p)


# ---------------------------------------------------------------------------- random_bits

random_bits_p = Primitive("random_bits")


def random_bits(keys: Any, bit_width: int, shape: tuple) -> Any:
    return random_bits_p.bind(keys, bit_width=bit_width, shape=shape)


@random_bits_p.def_abstract_eval
def _random_bits_abstract_eval(keys_aval, *, bit_width, shape):
    _check_key("random_bits", keys_aval)
    return ShapedArray((*keys_aval.shape, *shape), _UINT_BY_BITS[bit_width])


def _random_bits_physical(data, *, bit_width, shape):
    return threefry_prng_impl.random_bits(data, bit_width, shape)


random_bits_p.def_lowering(_lower_impl(_random_bits_physical))
random_bits_p.def_batch(
    lambda size, vals, dims, **params: (
        random_bits_p.bind(_front(size, vals[0], dims[0]), **params),
        0,
    )
)
zero_jvp(random_bits_p)


# ---------------------------------------------------------------------------- random_split

random_split_p = Primitive("random_split")


def random_split(keys: Any, shape: tuple) -> Any:
    return random_split_p.bind(keys, shape=shape)


@random_split_p.def_abstract_eval
def _random_split_abstract_eval(keys_aval, *, shape):
    impl = _check_key("random_split", keys_aval)
    return _key_aval((*keys_aval.shape, *shape), impl)


random_split_p.def_lowering(_lower_impl(lambda data, *, shape: _threefry_split(data, shape)))
random_split_p.def_batch(
    lambda size, vals, dims, *, shape: (
        random_split_p.bind(_front(size, vals[0], dims[0]), shape=shape),
        0,
    )
)
zero_jvp(random_split_p)


# ---------------------------------------------------------------------------- random_fold_in

random_fold_in_p = Primitive("random_fold_in")


def random_fold_in(keys: Any, msgs: Any) -> Any:
    return random_fold_in_p.bind(keys, msgs)


@random_fold_in_p.def_abstract_eval
def _random_fold_in_abstract_eval(keys_aval, msgs_aval):
    impl = _check_key("random_fold_in", keys_aval)
    if keys_aval.shape != msgs_aval.shape:
        raise TypeError(
            "random_fold_in: keys and messages must have equal shapes, got "
            f"{keys_aval.shape} and {msgs_aval.shape}"
        )
    return _key_aval(keys_aval.shape, impl)


random_fold_in_p.def_lowering(_lower_impl(_threefry_fold_in))


@random_fold_in_p.def_batch
def _random_fold_in_batch(size, vals, dims):
    keys, msgs = (_front(size, v, d) for v, d in zip(vals, dims))
    return random_fold_in_p.bind(keys, msgs), 0


zero_jvp(random_fold_in_p)


# ---------------------------------------------------------------------------- random_wrap / random_unwrap

random_wrap_p = Primitive("random_wrap")
random_unwrap_p = Primitive("random_unwrap")


def check_key_data(aval: ShapedArray, impl: PRNGImpl) -> None:
    """JAX's errors for data that cannot be the data of ``impl``'s keys."""
    n = len(impl.key_shape)
    if aval.ndim < n:
        raise TypeError(
            "JAX encountered invalid PRNG key data: expected key_data.ndim >= "
            f"{n}; got ndim={aval.ndim}"
        )
    if aval.shape[-n:] != impl.key_shape:
        raise TypeError(
            "JAX encountered invalid PRNG key data: expected key_data.shape to "
            f"end with {impl.key_shape}; got shape={aval.shape} for impl={impl.name}"
        )
    if aval.dtype != np.uint32:
        raise TypeError(
            "JAX encountered invalid PRNG key data: expected key_data.dtype = "
            f"uint32; got dtype={aval.dtype}"
        )


def random_wrap(base: Any, impl: PRNGImpl) -> Any:
    return random_wrap_p.bind(base, impl=impl)


@random_wrap_p.def_abstract_eval
def _random_wrap_abstract_eval(base_aval, *, impl):
    check_key_data(base_aval, impl)
    return _key_aval(base_aval.shape[: base_aval.ndim - len(impl.key_shape)], impl, base_aval)


@random_wrap_p.def_impl
def _random_wrap_impl(base, *, impl):
    # the key data's buffer is the key array's buffer: no copy, no dispatch
    if type(base) is not Array:
        from .dispatch import device_put_value

        base = device_put_value(base)
    aval = random_wrap_p.abstract_eval(base.aval, impl=impl)  # (memoized: one aval object)
    return Array(base._buf, aval, base._device, base._committed)


random_wrap_p.def_lowering(lambda ctx, x, *, impl: x)


@random_wrap_p.def_batch
def _random_wrap_batch(size, vals, dims, *, impl):
    return random_wrap_p.bind(_front(size, vals[0], dims[0]), impl=impl), 0


zero_jvp(random_wrap_p)


def random_unwrap(keys: Any) -> Any:
    return random_unwrap_p.bind(keys)


@random_unwrap_p.def_abstract_eval
def _random_unwrap_abstract_eval(keys_aval):
    _check_key("random_unwrap", keys_aval)
    return core.physical_aval(keys_aval)


@random_unwrap_p.def_impl
def _random_unwrap_impl(keys):
    aval = random_unwrap_p.abstract_eval(keys.aval)
    return Array(keys._buf, aval, keys._device, keys._committed)


random_unwrap_p.def_lowering(lambda ctx, x: x)
random_unwrap_p.def_batch(lambda size, vals, dims: (random_unwrap(vals[0]), dims[0]))
zero_jvp(random_unwrap_p)


# ---------------------------------------------------------------------------- random_clone

random_clone_p = Primitive("random_clone")


def random_clone(keys: Any) -> Any:
    return random_clone_p.bind(keys)


random_clone_p.def_abstract_eval(lambda keys_aval: keys_aval)


@random_clone_p.def_impl
def _random_clone_impl(keys):
    # a new array object over the same buffer: a key with its own key-reuse state
    if type(keys) is not Array:
        return keys
    return Array(keys._buf, keys.aval, keys._device, keys._committed)


random_clone_p.def_lowering(lambda ctx, x: x)
random_clone_p.def_batch(lambda size, vals, dims: (random_clone(vals[0]), dims[0]))
zero_jvp(random_clone_p)


# ---------------------------------------------------------------------------- structural primitives on key arrays
# Their lowering rules run on the physical data: the params gain the trailing key axes
# (kept whole), and the rule sees physical avals.


def _extra(ctx):
    for a in ctx.avals_out:
        if type(a.dtype) is KeyTy:
            return a.dtype.physical_shape
    for a in ctx.avals_in:
        if type(a.dtype) is KeyTy:
            return a.dtype.physical_shape
    return None


def _on_key_data(prim: Primitive, adjust: Callable[..., Any]) -> None:
    """Wrap ``prim``'s lowering: on key arrays, ``adjust(ctx, extra, args, params)``
    gives the (args, params) of the same rule on the physical data."""
    rule = prim.lowering

    def lower(ctx, *args, **params):
        extra = _extra(ctx)
        if extra is None:
            return rule(ctx, *args, **params)
        args, params = adjust(ctx, extra, list(args), dict(params))
        phys = lowering.RuleContext(
            ctx.module_ctx,
            [core.physical_aval(a) for a in ctx.avals_in],
            [core.physical_aval(a) for a in ctx.avals_out],
            ctx.eqn_path,
            ctx.source_info,
        )
        return rule(phys, *args, **params)

    prim.def_lowering(lower)


def _same(ctx, extra, args, params):
    return args, params


def _slice_adjust(ctx, extra, args, params):
    n = len(extra)
    params["start_indices"] = tuple(params["start_indices"]) + (0,) * n
    params["limit_indices"] = tuple(params["limit_indices"]) + tuple(extra)
    if params.get("strides") is not None:
        params["strides"] = tuple(params["strides"]) + (1,) * n
    return args, params


def _reshape_adjust(ctx, extra, args, params):
    if params.get("dimensions") is not None:
        nd = ctx.avals_in[0].ndim
        params["dimensions"] = tuple(params["dimensions"]) + tuple(range(nd, nd + len(extra)))
    params["new_sizes"] = tuple(params["new_sizes"]) + tuple(extra)
    return args, params


def _broadcast_adjust(ctx, extra, args, params):
    nd = len(params["shape"])
    params["broadcast_dimensions"] = tuple(params["broadcast_dimensions"]) + tuple(
        range(nd, nd + len(extra))
    )
    params["shape"] = tuple(params["shape"]) + tuple(extra)
    return args, params


def _transpose_adjust(ctx, extra, args, params):
    nd = len(params["permutation"])
    params["permutation"] = tuple(params["permutation"]) + tuple(range(nd, nd + len(extra)))
    return args, params


def _select_n_adjust(ctx, extra, args, params):
    which_aval, out = ctx.avals_in[0], ctx.avals_out[0]
    if which_aval.ndim:  # the predicate holds for a key's every word
        phys = core.physical_aval(out)
        args[0] = lowering.broadcast_in_dim(
            args[0], phys.update(dtype=which_aval.dtype), list(range(which_aval.ndim))
        )
    return args, params


def _dynamic_slice_adjust(ctx, extra, args, params):
    idx_aval = ctx.avals_in[1] if len(ctx.avals_in) > 1 else ShapedArray((), np.int32)
    zero = lowering.full_like_aval(0, idx_aval.update(shape=(), weak_type=False))
    args = args + [zero] * len(extra)
    params["slice_sizes"] = tuple(params["slice_sizes"]) + tuple(extra)
    return args, params


def _dynamic_update_slice_adjust(ctx, extra, args, params):
    idx_aval = ctx.avals_in[2] if len(ctx.avals_in) > 2 else ShapedArray((), np.int32)
    zero = lowering.full_like_aval(0, idx_aval.update(shape=(), weak_type=False))
    return args + [zero] * len(extra), params


def _gather_adjust(ctx, extra, args, params):
    dn = params["dimension_numbers"]
    out_nd = ctx.avals_out[0].ndim
    params["dimension_numbers"] = dn._replace(
        offset_dims=tuple(dn.offset_dims) + tuple(range(out_nd, out_nd + len(extra)))
    )
    params["slice_sizes"] = tuple(params["slice_sizes"]) + tuple(extra)
    return args, params


def _install_structural_rules() -> None:
    from .lax import gather_scatter, logic, slicing, structural

    _on_key_data(slicing.slice_p, _slice_adjust)
    _on_key_data(structural.squeeze_p, _same)
    _on_key_data(structural.reshape_p, _reshape_adjust)
    _on_key_data(structural.broadcast_in_dim_p, _broadcast_adjust)
    _on_key_data(structural.transpose_p, _transpose_adjust)
    _on_key_data(structural.concatenate_p, _same)
    _on_key_data(structural.rev_p, _same)
    _on_key_data(logic.select_n_p, _select_n_adjust)
    _on_key_data(slicing.dynamic_slice_p, _dynamic_slice_adjust)
    _on_key_data(slicing.dynamic_update_slice_p, _dynamic_update_slice_adjust)
    _on_key_data(gather_scatter.gather_p, _gather_adjust)


_install_structural_rules()


def _install_comparisons() -> None:
    """``eq``/``ne`` of key arrays of one dtype: whether the keys' data are equal."""
    from .lax import logic

    for prim, combine in ((logic.eq_p, lax.reduce_and), (logic.ne_p, lax.reduce_or)):
        shape_rule, rule = prim.abstract_eval_rule, prim.lowering

        def abstract_eval(*avals, _shape_rule=shape_rule, _name=prim.name, **params):
            if not any(type(a.dtype) is KeyTy for a in avals):
                return _shape_rule(*avals, **params)
            if avals[0].dtype != avals[1].dtype:
                raise TypeError(
                    f"{_name} does not accept dtypes {avals[0].dtype}, {avals[1].dtype}."
                )
            return _shape_rule(*(a.update(dtype=np.uint32) for a in avals), **params)

        def lower(ctx, x, y, _rule=rule, _prim=prim, _combine=combine, **params):
            if type(ctx.avals_in[0].dtype) is not KeyTy:
                return _rule(ctx, x, y, **params)
            n = len(ctx.avals_in[0].dtype.physical_shape)

            def physical(a, b):
                sa, sb = core.get_aval(a).shape, core.get_aval(b).shape
                if len(sa) != len(sb):  # a key scalar against key arrays: its data broadcast
                    shape = sa if len(sa) > len(sb) else sb
                    lo = b if len(sa) > len(sb) else a
                    dims = tuple(range(len(shape) - n, len(shape)))
                    lo = lax.broadcast_in_dim(lo, shape, dims)
                    a, b = (a, lo) if len(sa) > len(sb) else (lo, b)
                same = _prim.bind(a, b)
                nd = core.get_aval(same).ndim
                return _combine(same, tuple(range(nd - n, nd)))

            return _lower_impl(physical)(ctx, x, y)

        prim.def_abstract_eval(abstract_eval)
        prim.def_lowering(lower)


_install_comparisons()
