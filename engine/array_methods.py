"""Operators and methods shared by ``Array`` and tracers, routed to ``engine.numpy``."""

from __future__ import annotations

import numpy as np

from . import core, dispatch, runtime
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


# ``a op b`` on two Arrays, eagerly, is the hottest path there is. The first call with
# given operand avals runs the engine.numpy function (promotion, checks, bind) while
# dispatch notes the eager ops it runs; if that was exactly one op on (a, b), the operator
# remembers its executable, and later calls with the same avals and device run it at once
# (an inline cache: one slot per operator, valid while dispatch's gate is unchanged).
_ctx, _eval_trace = core._ctx, core.eval_trace
_gate, _recorder = dispatch._gate, dispatch._recorder
_EMPTY = (None,) * 8
_new_array = object.__new__


def _fast_binary(name):
    slow = _binary(name)
    # (gate, aval of self, aval of other, device, dispatch entry, its out aval, execute,
    # result handlers)
    slot = [_EMPTY]

    def op(self, other):
        c = slot[0]
        if (
            c[0] is _gate[0]
            and type(other) is Array
            and self.aval is c[1]
            and other.aval is c[2]
            and (device := self._device) is c[3]
            and other._device is device
            and _ctx.trace is _eval_trace
            and not self._buf.is_deleted()  # (PJRT logs to stderr on a deleted one)
            and not other._buf.is_deleted()
        ):
            c[4].hits += 1
            try:
                outs = c[6]([self._buf, other._buf]).consume_with_handlers(c[7])
            except Exception:
                dispatch.check_not_deleted((self, other))
                raise
            out = _new_array(Array)  # Array(...) without an __init__ frame
            out._buf, out.aval, out._device = outs[0], c[5], device
            out._committed, out._npy = self._committed or other._committed, None
            return out
        if type(other) is not Array or _ctx.trace is not _eval_trace or _recorder[0] is not None:
            return slow(self, other)
        return _fill(slot, slow, self, other)

    op.__name__ = slow.__name__
    return op


def _fill(slot, slow, a, b):
    """``slow(a, b)``, filling ``slot`` if it ran as one eager op on exactly (a, b)."""
    gate = _gate[0]
    notes = _recorder[0] = []
    try:
        out = slow(a, b)
    finally:
        _recorder[0] = None
    if len(notes) == 1 and gate is _gate[0]:
        prim, args, entry, device, result = notes[0]
        if (
            result is out
            and len(args) == 2
            and args[0] is a
            and args[1] is b
            and entry.execute is not None
            and device is a._device
            and type(device) is not runtime.DeviceGroup
        ):
            slot[0] = (
                gate,
                a.aval,
                b.aval,
                device,
                entry,
                entry.out_avals[0],
                entry.execute,
                entry.handlers,
            )
    return out


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


# Operators whose engine.numpy function reads no operand's value (``**`` does: a concrete
# integer exponent becomes integer_pow), so the avals alone decide what runs.
_CACHEABLE = {"add", "sub", "mul", "truediv", "matmul", "and", "or", "xor"}


def _install(cls, binary=_binary):
    for short, name in _BINARY.items():
        setattr(cls, f"__{short}__", (binary if short in _CACHEABLE else _binary)(name))
        setattr(cls, f"__r{short}__", _binary(name, reflected=True))
    for short, name in _COMPARE.items():
        setattr(cls, f"__{short}__", binary(name))
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


def _astype(x, dtype, copy=False, device=None):
    return _jnp().astype(x, dtype, copy=copy, device=device)


_install(Array, _fast_binary)
_install(core.Tracer)
