"""The one rule builder for elementwise primitives, and the dtype/shape checks it shares
with the rest of ``engine.lax``.

An elementwise primitive (``naryop``) gets, beside its declaration: a shape/dtype rule
that behaves as JAX's (accepted dtype kinds per operand, operands of one dtype unless a
rule says otherwise, broadcastable shapes, the output weakly typed only if every operand
is), a lowering that broadcasts operands to the output shape, and the broadcasting
batching rule. Python scalars are bound as they are: weakly typed values of their default
dtype (``1.0`` is a weak float32), so ``lax.add(jnp.int32(1), 1.0)`` is an error, as in
JAX; ``jnp`` functions are the ones that promote."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering

# ---------------------------------------------------------------------------- shapes


def broadcast_shapes_lax(name, *shapes):
    """Operands of an elementwise primitive: equal shapes, rank-0 scalars, or equal rank
    with size-1 dimensions (which broadcast)."""
    ranked = [s for s in shapes if len(s) > 0]
    if not ranked:
        return ()
    rank = len(ranked[0])
    if any(len(s) != rank for s in ranked):
        raise TypeError(
            f"{name} got incompatible shapes for broadcasting: {', '.join(map(str, shapes))}."
        )
    out = []
    for dims in zip(*ranked):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise TypeError(
                f"{name} got incompatible shapes for broadcasting: {', '.join(map(str, shapes))}."
            )
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def elementwise_shape(name, avals):
    """The output shape of an elementwise primitive (JAX's messages on a mismatch)."""
    if len(avals) == 1 or all(a.shape == avals[0].shape for a in avals):
        return avals[0].shape
    ranks = {a.ndim for a in avals if a.ndim > 0}
    if len(ranks) > 1:
        raise TypeError(
            f"{name}: arrays must have the same number of dimensions, got "
            f"{{{', '.join(map(str, sorted(ranks)))}}}"
        )
    return broadcast_shapes_lax(name, *[a.shape for a in avals])


# ---------------------------------------------------------------------------- dtypes

# Accepted dtype kinds, named in errors as JAX names them (NumPy's abstract type names).
_KIND_NAMES = {
    "float": "floating",
    "complex": "complexfloating",
    "int": "integer",
    "bool": "bool",
    "uint": "unsignedinteger",
    "sint": "signedinteger",
}

_KIND_TESTS = {
    "float": dtypes.is_float,
    "complex": dtypes.is_complex,
    "int": dtypes.is_int,
    "uint": dtypes.is_unsigned,
    "sint": lambda d: dtypes.is_int(d) and not dtypes.is_unsigned(d),
    "bool": lambda d: d == np.bool_,
}

_accepted_memo: dict = {}


def _accepts(dtype, kinds):
    """Whether ``dtype`` is one of ``kinds`` (kind names from ``_KIND_NAMES`` or exact
    NumPy dtypes), memoized: it runs for every operand of every equation traced."""
    key = (dtype, kinds)
    r = _accepted_memo.get(key)
    if r is None:
        r = _accepted_memo[key] = dtype != dtypes.float0 and any(
            dtype == k if isinstance(k, np.dtype) else _KIND_TESTS[k](dtype) for k in kinds
        )
    return r


_FLOAT0_HELP = (
    "float0s do not support any operations by design, because they are not compatible "
    "with non-trivial vector spaces. No implicit dtype conversion is done. You can use "
    "np.zeros_like(arr, dtype=np.float) to cast a float0 array to a regular zeros array. \n"
    "If you didn't expect to get a float0 you might have accidentally taken a gradient "
    "with respect to an integer argument."
)


def check_dtype(name, dtype, kinds, pos=None):
    """Raise JAX's TypeError unless ``dtype`` is one of ``kinds``. ``pos``: the operand's
    position, named in the message for primitives of several operands."""
    if _accepts(dtype, kinds):
        return
    if dtype == dtypes.float0:
        where = "a float0 array" if pos is None else f"a float0 at position {pos}"
        raise TypeError(f"Called {name} with {where}. {_FLOAT0_HELP}")
    names = ", ".join(k.name if isinstance(k, np.dtype) else _KIND_NAMES[k] for k in kinds)
    if pos is None:
        raise TypeError(
            f"{name} does not accept dtype {dtype.name}. Accepted dtypes are subtypes of {names}."
        )
    raise TypeError(
        f"{name} does not accept dtype {dtype.name} at position {pos}. Accepted "
        f"dtypes at position {pos} are subtypes of {names}."
    )


def check_dtypes(name, avals, kinds):
    """Every operand's dtype is one of ``kinds`` (the message names no position)."""
    if kinds is None:
        return
    for a in avals:
        check_dtype(name, a.dtype, kinds)


# The jnp function that promotes, named in the "same dtypes" error, keyed by primitive
# name exactly as JAX keys it (so, as in JAX, `and` or `lt` get no tip).
_JNP_EQUIVALENTS = {
    "abs": "fabs",
    "acos": "arccos",
    "acosh": "arccosh",
    "add": "add",
    "asin": "arcsin",
    "asinh": "arcsinh",
    "atan": "arctan",
    "atan2": "arctan2",
    "atanh": "arctanh",
    "cbrt": "cbrt",
    "ceil": "ceil",
    "concatenate": "concatenate",
    "cos": "cos",
    "cosh": "cosh",
    "div": "divide",
    "eq": "equal",
    "exp": "exp",
    "expm1": "expm1",
    "floor": "floor",
    "log": "log",
    "log1p": "log1p",
    "max": "maximum",
    "min": "minimum",
    "mul": "multiply",
    "ne": "not_equal",
    "neg": "negative",
    "nextafter": "nextafter",
    "pow": "float_power",
    "round": "round",
    "select": "where",
    "shift_left": "left_shift",
    "shift_right_logical": "right_shift",
    "shift_right_arithmetic": "right_shift",
    "sign": "sign",
    "sin": "sin",
    "sinh": "sinh",
    "sqrt": "sqrt",
    "sub": "subtract",
    "tan": "tan",
    "tanh": "tanh",
}


def check_same_dtypes(name, avals):
    """JAX's error when operands that must share a dtype do not, with its tip."""
    if len(avals) < 2 or all(a.dtype == avals[0].dtype for a in avals[1:]):
        return
    tip = _JNP_EQUIVALENTS.get(name)
    tip = (
        f" (Tip: jnp.{tip} is a similar function that does automatic type promotion on inputs)."
        if tip
        else ""
    )
    raise TypeError(
        f"lax.{name} requires arguments to have the same dtypes, got "
        f"{', '.join(a.dtype.name for a in avals)}.{tip}"
    )


# ---------------------------------------------------------------------------- the builder


def naryop_rule(name, kinds, result_dtype=None, require_same=True):
    """Shape/dtype rule of an elementwise primitive, as JAX's ``naryop``/``unop``.

    ``kinds``: the accepted dtype kinds (or exact dtypes) of every operand, or a list of
    them, one per operand. ``result_dtype(dtype, **params)`` gives the output dtype from
    the first operand's (default: the same). Operands must share a dtype when
    ``require_same`` (and no ``out_dtype`` param is given). The output is weakly typed
    only if every operand is, whatever its dtype."""

    def rule(*avals, **params):
        per_arg = kinds if isinstance(kinds, list) else [kinds] * len(avals)
        positional = len(avals) > 1
        for i, (a, k) in enumerate(zip(avals, per_arg)):
            check_dtype(name, a.dtype, k, i if positional else None)
        if require_same and params.get("out_dtype") is None:
            check_same_dtypes(name, avals)
        shape = elementwise_shape(name, avals)
        dtype = avals[0].dtype if result_dtype is None else result_dtype(avals[0].dtype, **params)
        return ShapedArray(shape, np.dtype(dtype), all(a.weak_type for a in avals))

    return rule


def hide_none(params):
    """Params JAX leaves out of the printed jaxpr while they are None."""
    return {k: v for k, v in params.items() if v is not None}


# JAX lowers comparisons without constraining their (boolean) result
_COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "eq_to", "le_to", "lt_to"})


def broadcasting_lowering(lower, constrain_result=True):
    """Wrap ``lower(ctx, *operands, **params)`` so it sees operands already broadcast
    to the output shape (rank-0 and size-1 operands are implicit broadcasts in lax)."""

    def rule(ctx, *args, **params):
        out = ctx.avals_out[0]
        shape = out.shape
        avals_in = ctx.avals_in
        typed = getattr(out, "sharding", None)
        if typed is None:
            for a in avals_in:
                if a.shape != shape:  # most operands already have the output's shape
                    args = [lowering.broadcast_to(x, a, shape) for x, a in zip(args, avals_in)]
                    break
            return lower(ctx, *args, **params)
        from ..sharding.constraint import constrain_to_type

        # as JAX's multi_broadcast_in_dim: a broadcast operand, or one of the result's
        # shape typed otherwise (a literal, say), carries the result type's layout
        args = [
            constrain_to_type(lowering.broadcast_to(x, a, shape), typed, len(shape))
            if a.shape != shape
            else x
            if _keeps_layout(a, typed)
            else constrain_to_type(x, typed, len(shape))
            for x, a in zip(args, avals_in)
        ]
        result = lower(ctx, *args, **params)
        if not constrain_result:
            return result
        if isinstance(result, (list, tuple)):
            return [constrain_to_type(r, typed, len(shape)) for r in result]
        return constrain_to_type(result, typed, len(shape))

    return rule


def _keeps_layout(aval, typed) -> bool:
    sharding = getattr(aval, "sharding", None)
    if sharding is None:
        return False
    return bool(sharding.spec.unreduced or sharding.spec.reduced) or sharding == typed


def plain(hlo_fn):
    """Lowering that applies one StableHLO/CHLO op, naming the output type."""
    build = lowering.simple_op(hlo_fn)
    return lambda ctx, *args, **params: build(lowering.ir_type(ctx.avals_out[0]), *args)


def naryop(name, kinds, lower, result_dtype=None, require_same=True):
    """Declare an elementwise primitive with its shape/dtype rule (``naryop_rule``), its
    batching rule and its lowering ``lower(ctx, *operands_at_output_shape, **params)``.
    The caller adds the JVP (and transpose) rules beside it."""
    p = Primitive(name)
    p.def_abstract_eval(naryop_rule(name, kinds, result_dtype, require_same))
    p.def_lowering(broadcasting_lowering(lower, constrain_result=name not in _COMPARISONS))
    batching.broadcast_batcher(p)
    p.pp_params = hide_none
    return p


def unop(name, kinds, hlo_fn, result_dtype=None):
    """``naryop`` whose lowering is the single op ``hlo_fn``."""
    return naryop(name, kinds, plain(hlo_fn), result_dtype)


binop = unop  # the same builder: the operand count comes from the call


# ---------------------------------------------------------------------------- helpers


def aval_of(x):
    return core.get_aval(x)


def unbroadcast(x, aval_out_shape, aval_target):
    """Sum ``x`` (of the broadcast output shape) back down to an operand's shape:
    the transpose of the implicit broadcasting an elementwise primitive does."""
    from .reductions import reduce_sum
    from .structural import reshape

    shape = tuple(aval_target.shape)
    xshape = tuple(aval_of(x).shape)
    target_sharding = getattr(aval_target, "sharding", None)
    if xshape == shape and aval_of(x).sharding == target_sharding:
        return x
    if shape == ():
        return reduce_sum(x, tuple(range(len(xshape))))
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, xshape)) if a == 1 and b != 1)
    if target_sharding is not None:  # the cotangent gets its operand's type (as JAX)
        from .sharding_rules import placed_as_typed
        from .structural import reshape_p

        y = reduce_sum(x, axes) if axes else x
        y = reshape_p.bind(y, new_sizes=shape, dimensions=None, sharding=target_sharding)
        return placed_as_typed(y, target_sharding)
    if not axes:
        return x
    return reshape(reduce_sum(x, axes), shape)
