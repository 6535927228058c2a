"""Shared helpers of ``engine.numpy``: turning inputs into arrays, NumPy-style dtype
promotion (with weak types) and rank promotion."""
from __future__ import annotations

import numpy as np

from .. import core
from .. import dtypes
from .. import lax
from ..array import Array


def is_array_like(x):
    return isinstance(x, (Array, core.Tracer, np.ndarray, np.generic, core.WeakScalar)) or \
        dtypes.is_python_scalar(x)


def check_arraylike(fun_name, *args):
    for i, a in enumerate(args):
        if not is_array_like(a):
            if isinstance(a, (list, tuple)):
                raise TypeError(f"{fun_name} requires ndarray or scalar arguments, got "
                                f"{type(a).__name__} at position {i}. Convert it with "
                                "jnp.asarray first.")
            raise TypeError(f"{fun_name} requires ndarray or scalar arguments, got "
                            f"{type(a).__name__} at position {i}.")


def promote_dtypes(*args):
    """Convert arguments to their common dtype (JAX's lattice, weak types respected)."""
    if len(args) < 2:
        return args
    avals = [core.get_aval(a) for a in args]
    first = avals[0]
    if all(a.dtype == first.dtype and a.weak_type == first.weak_type for a in avals[1:]):
        return args
    dtype, weak = dtypes.lattice_result_type(*args)
    return tuple(_convert(a, av, dtype, weak) for a, av in zip(args, avals))


def _convert(x, aval, dtype, weak):
    if dtypes.is_python_scalar(x):
        return core.WeakScalar(x, dtype) if weak or True else x
    if aval.dtype == dtype and aval.weak_type == weak:
        return x
    return lax.convert_element_type(x, dtype, weak)


def promote_dtypes_inexact(*args):
    """Promote, then to the default float type if the result is not inexact."""
    if len(args) == 1 and type(args[0]) is Array and dtypes.is_inexact(args[0].aval.dtype):
        return args
    args = promote_dtypes(*args)
    avals = [core.get_aval(a) for a in args]
    dt = avals[0].dtype
    if not dtypes.is_inexact(dt):
        weak = all(a.weak_type for a in avals)
        fdt = dtypes.default_float_dtype()
        return tuple(_convert(a, av, fdt, weak) for a, av in zip(args, avals))
    return args


def promote_shapes(*args):
    """Rank promotion: prepend size-1 axes so every operand has the same rank (rank-0
    operands are left alone; lax broadcasts them)."""
    if len(args) < 2:
        return args
    shapes = [core.get_aval(a).shape for a in args]
    ranks = {len(s) for s in shapes if s}
    if len(ranks) <= 1:
        nd = max(ranks) if ranks else 0
        _check_broadcastable(shapes)
        return args
    nd = max(ranks)
    _check_broadcastable(shapes)
    out = []
    for a, s in zip(args, shapes):
        if s and len(s) < nd:
            a = lax.broadcast_in_dim(a, (1,) * (nd - len(s)) + s, tuple(range(nd - len(s), nd)))
        out.append(a)
    return tuple(out)


def _check_broadcastable(shapes):
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"Incompatible shapes for broadcasting: shapes={[tuple(s) for s in shapes]}") from None


def promote_args(fun_name, *args):
    if len(args) == 2 and type(args[0]) is Array and type(args[1]) is Array and \
            args[0].aval == args[1].aval:
        return args
    check_arraylike(fun_name, *args)
    return promote_shapes(*promote_dtypes(*args))


def promote_args_inexact(fun_name, *args):
    if len(args) == 1 and type(args[0]) is Array and dtypes.is_inexact(args[0].aval.dtype):
        return args
    check_arraylike(fun_name, *args)
    return promote_shapes(*promote_dtypes_inexact(*args))


def as_operand(x):
    """A value the lax layer accepts: Python scalars become weakly typed scalars."""
    if dtypes.is_python_scalar(x):
        return core.WeakScalar(x, dtypes.python_scalar_dtype(x))
    return x
