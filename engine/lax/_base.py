"""Shared shape/dtype rules and rule-builders for the primitives in ``engine.lax``."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering


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


_KIND_NAMES = {
    "float": "floating",
    "complex": "complexfloating",
    "int": "integer",
    "bool": "bool",
    "uint": "unsignedinteger",
    "sint": "signedinteger",
}


def _accepts(dtype, kinds):
    for k in kinds:
        if k == "float" and dtypes.is_float(dtype):
            return True
        if k == "complex" and dtypes.is_complex(dtype):
            return True
        if k == "int" and dtypes.is_int(dtype):
            return True
        if k == "uint" and dtypes.is_unsigned(dtype):
            return True
        if k == "sint" and dtypes.is_int(dtype) and not dtypes.is_unsigned(dtype):
            return True
        if k == "bool" and dtype == np.bool_:
            return True
    return False


def check_dtypes(name, avals, kinds):
    for a in avals:
        if kinds is not None and not _accepts(a.dtype, kinds):
            accepted = ", ".join(_KIND_NAMES[k] for k in kinds)
            raise TypeError(
                f"{name} does not accept dtype {a.dtype.name}. Accepted dtypes are "
                f"subtypes of {accepted}."
            )


def naryop_abstract_eval(name, kinds, result_dtype=None):
    """Shape rule of an elementwise primitive: same dtypes, broadcastable shapes;
    the output is weak only if every operand is."""

    def rule(*avals, **params):
        check_dtypes(name, avals, kinds)
        if len({a.dtype for a in avals}) > 1:
            raise TypeError(
                f"lax.{name} requires arguments to have the same dtypes, got "
                f"{', '.join(a.dtype.name for a in avals)}."
            )
        shape = broadcast_shapes_lax(name, *[a.shape for a in avals])
        dtype = avals[0].dtype if result_dtype is None else result_dtype(avals[0].dtype)
        weak = all(a.weak_type for a in avals) and result_dtype is None
        return ShapedArray(shape, dtype, weak)

    return rule


def unop(name, kinds, hlo_fn, result_dtype=None):
    """Declare an elementwise unary primitive with its shape rule, batching rule and
    lowering. The caller adds the JVP (and transpose) rules beside it."""
    p = Primitive(name)
    p.def_abstract_eval(naryop_abstract_eval(name, kinds, result_dtype))
    p.def_lowering(lowering.elementwise(hlo_fn))
    batching.broadcast_batcher(p)
    return p


def binop(name, kinds, hlo_fn, result_dtype=None):
    p = Primitive(name)
    p.def_abstract_eval(naryop_abstract_eval(name, kinds, result_dtype))
    p.def_lowering(lowering.elementwise(hlo_fn))
    batching.broadcast_batcher(p)
    return p


def aval_of(x):
    return core.get_aval(x)


def unbroadcast(x, aval_out_shape, aval_target):
    """Sum ``x`` (of the broadcast output shape) back down to an operand's shape:
    the transpose of the implicit broadcasting an elementwise primitive does."""
    from .reductions import reduce_sum
    from .structural import reshape

    shape = tuple(aval_target.shape)
    xshape = tuple(aval_of(x).shape)
    if xshape == shape:
        return x
    if shape == ():
        return reduce_sum(x, tuple(range(len(xshape))))
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, xshape)) if a == 1 and b != 1)
    if not axes:
        return x
    return reshape(reduce_sum(x, axes), shape)


def as_weak_scalar_dtype(x, dtype):
    """A Python scalar as a NumPy scalar of ``dtype`` (keeps literal printing)."""
    return np.asarray(x, dtype)
