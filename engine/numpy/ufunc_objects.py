"""JAX's built-in ``jnp.ufunc`` objects: ``jnp.add``, ``jnp.multiply``, ``jnp.maximum``,
... are ``ufunc`` instances whose call is the plain elementwise function and whose
``reduce``/``accumulate``/``at`` use the matching reductions, cumulative functions and
``.at[]`` updates where one exists (the generic methods otherwise)."""

from __future__ import annotations

import numpy as np

from . import ufuncs as _u
from .vectorize_ufunc import ufunc

__all__ = [
    "add",
    "subtract",
    "multiply",
    "maximum",
    "minimum",
    "logical_and",
    "logical_or",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "logaddexp",
    "logaddexp2",
    "negative",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _reducer(name):
    def reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=None, where=None):
        kw = {"axis": axis, "keepdims": keepdims, "out": out}
        if dtype is not None:
            kw["dtype"] = dtype
        if initial is not None:
            kw["initial"] = initial
        if where is not None:
            kw["where"] = where
        return getattr(_jnp(), name)(a, **kw)

    return reduce


def _accumulator(name):
    def accumulate(a, axis=0, dtype=None, out=None):
        jnp = _jnp()
        if name == "cummax":
            from ..lax import cummax

            return cummax(jnp.asarray(a), axis=axis % max(jnp.ndim(a), 1))
        return getattr(jnp, name)(a, axis=axis, dtype=dtype)

    return accumulate


def _at(method):
    def at(a, indices, b=None, /, *, inplace=True):
        if inplace:
            raise NotImplementedError(
                "jnp.ufunc.at does not support inplace=True, because JAX arrays are immutable. "
                "Use inplace=False to return an updated array."
            )
        ref = _jnp().asarray(a).at[indices]
        return getattr(ref, method)(b)

    return at


def _make(fn, nin, identity=None, reduce=None, accumulate=None, at=None):
    return ufunc(
        fn,
        nin,
        1,
        name=fn.__name__,
        identity=identity,
        call=fn,
        reduce=None if reduce is None else _reducer(reduce),
        accumulate=None if accumulate is None else _accumulator(accumulate),
        at=None if at is None else _at(at),
    )


add = _make(_u.add, 2, 0, "sum", "cumsum", "add")
subtract = _make(_u.subtract, 2)
multiply = _make(_u.multiply, 2, 1, "prod", "cumprod", "multiply")
maximum = _make(_u.maximum, 2, None, "max", "cummax", "max")
minimum = _make(_u.minimum, 2, None, "min", None, "min")
logical_and = _make(_u.logical_and, 2, True, "all")
logical_or = _make(_u.logical_or, 2, False, "any")
logical_xor = _make(_u.logical_xor, 2, False)
bitwise_and = _make(_u.bitwise_and, 2, -1)
bitwise_or = _make(_u.bitwise_or, 2, 0)
bitwise_xor = _make(_u.bitwise_xor, 2, 0)
logaddexp = _make(_u.logaddexp, 2, -np.inf)
logaddexp2 = _make(_u.logaddexp2, 2, -np.inf)
negative = _make(_u.negative, 1)
