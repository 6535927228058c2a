"""Operators and methods shared by ``Array`` and tracers, routed to ``engine.numpy``."""

from __future__ import annotations

import numpy as np

from . import core
from .array import Array


def _jnp():
    from . import numpy as jnp

    return jnp


_OPERAND_TYPES = (
    Array,
    core.Tracer,
    core.WeakScalar,
    int,
    float,
    complex,
    bool,
    np.ndarray,
    np.generic,
)


def _binary(name, reflected=False):
    fn = None

    def op(self, other):
        nonlocal fn
        if fn is None:
            fn = getattr(_jnp(), name)
        if not isinstance(other, _OPERAND_TYPES):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)

    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


def _unary(name):
    def op(self):
        return getattr(_jnp(), name)(self)

    return op


def _method(name):
    def m(self, *args, **kwargs):
        return getattr(_jnp(), name)(self, *args, **kwargs)

    m.__name__ = name
    return m


_BINARY = {
    "add": "add",
    "sub": "subtract",
    "mul": "multiply",
    "truediv": "true_divide",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "pow": "power",
    "matmul": "matmul",
    "and": "bitwise_and",
    "or": "bitwise_or",
    "xor": "bitwise_xor",
    "lshift": "left_shift",
    "rshift": "right_shift",
    "divmod": "divmod",
}
_COMPARE = {
    "eq": "equal",
    "ne": "not_equal",
    "lt": "less",
    "le": "less_equal",
    "gt": "greater",
    "ge": "greater_equal",
}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "abs", "invert": "invert"}
_METHODS = [
    "sum",
    "mean",
    "max",
    "min",
    "prod",
    "var",
    "std",
    "argmax",
    "argmin",
    "any",
    "all",
    "cumsum",
    "cumprod",
    "squeeze",
    "clip",
    "round",
    "ravel",
    "flatten",
    "dot",
    "conj",
    "conjugate",
    "repeat",
    "take",
    "sort",
    "argsort",
    "nonzero",
    "swapaxes",
    "trace",
    "diagonal",
    "ptp",
]


def _install(cls):
    for short, name in _BINARY.items():
        setattr(cls, f"__{short}__", _binary(name))
        setattr(cls, f"__r{short}__", _binary(name, reflected=True))
    for short, name in _COMPARE.items():
        setattr(cls, f"__{short}__", _binary(name))
    for short, name in _UNARY.items():
        setattr(cls, f"__{short}__", _unary(name))
    for name in _METHODS:
        setattr(cls, name, _method(name))
    cls.__getitem__ = lambda self, idx: _jnp()._getitem(self, idx)
    cls.T = property(lambda self: _jnp().transpose(self))
    cls.mT = property(lambda self: _jnp().swapaxes(self, -1, -2))
    cls.real = property(lambda self: _jnp().real(self))
    cls.imag = property(lambda self: _jnp().imag(self))
    cls.at = property(lambda self: _jnp()._IndexUpdateHelper(self))
    cls.reshape = lambda self, *shape, order="C": _jnp().reshape(
        self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
    )
    cls.transpose = lambda self, *axes: _jnp().transpose(
        self, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None
    )
    cls.astype = _astype


def _astype(x, dtype):
    from . import dtypes, lax

    return lax.convert_element_type(x, dtypes.canonicalize_user_dtype(dtype, "astype"))


_install(Array)
_install(core.Tracer)
