"""The jaxpr IR: variables, literals, equations, jaxprs and closed jaxprs (and the
weakly typed scalar a literal can hold). Re-exported by ``engine.core``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes
from .avals import ShapedArray

if TYPE_CHECKING:
    from .core import Primitive
    from .source_info import SourceInfo


class WeakScalar:
    """A Python scalar given a concrete dtype but still weakly typed (as ``2.0`` is in
    ``f16_array * 2.0``). Becomes a literal when traced, a cached buffer when run."""

    __slots__ = ("value", "aval")

    def __init__(self, value: Any, dtype: Any) -> None:
        self.value = value
        self.aval = ShapedArray((), dtype, weak_type=True)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype or self.aval.dtype)

    def __repr__(self):
        return f"WeakScalar({self.value!r}, {self.aval.dtype.name})"

    def __str__(self):  # as the weakly typed rank-0 array it stands for prints
        return str(np.asarray(self.value, self.aval.dtype))


class Var:
    """A variable of a jaxpr (bound once, by an input or an equation's output)."""

    __slots__ = ("aval", "suffix")

    def __init__(self, aval: ShapedArray, suffix: str = "") -> None:
        self.aval = aval
        self.suffix = suffix

    def __repr__(self):
        return f"Var(id={id(self)}):{self.aval.str_long().lstrip('~')}"


class DropVar(Var):
    """An output nobody reads; printed as ``_``."""

    __slots__ = ()

    def __repr__(self):
        return "_"


class UnreadVar(DropVar):
    """An output nobody read when it was traced: JAX's printer writes ``_`` for it only
    in the top-level jaxpr; in a nested one it has a name."""

    __slots__ = ()

    __repr__ = Var.__repr__


class Literal:
    """A constant operand written in the jaxpr's text (a scalar)."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray) -> None:
        self.val, self.aval = val, aval

    def __repr__(self):
        return f"Literal({literal_value_text(self.val)})"


def literal_value_text(val: Any) -> str:
    """A literal's value as JAX's ``Literal.__repr__`` shows it: a weakly typed Python
    int or complex as JAX's typed scalar (``TypedInt(2, dtype=int32)``), a weak float as
    the Python float, any other value as its Python scalar (``format`` of a 0-d array)."""
    if type(val) is WeakScalar:
        dtype_name = val.aval.dtype.name
        if dtypes.is_int(val.aval.dtype):
            return f"TypedInt({int(val.value)}, dtype={dtype_name})"
        if dtypes.is_complex(val.aval.dtype):
            return f"TypedComplex({complex(val.value)}, dtype={dtype_name})"
        return str(float(val.value))
    return f"{val}"


class JaxprEqn:
    """One equation: ``outvars = primitive[params] invars``, with the user's source line."""

    __slots__ = ("primitive", "invars", "outvars", "params", "source_info")

    def __init__(
        self,
        primitive: Primitive,
        invars: list[Var | Literal],
        outvars: list[Var],
        params: dict[str, Any],
        source_info: SourceInfo | None = None,
    ) -> None:
        self.primitive, self.invars, self.outvars = primitive, invars, outvars
        self.params, self.source_info = params, source_info

    def replace(self, **kw: Any) -> JaxprEqn:
        new = JaxprEqn(self.primitive, self.invars, self.outvars, self.params, self.source_info)
        for k, v in kw.items():
            setattr(new, k, v)
        return new

    def __repr__(self):
        from .pretty import pp_eqn_str

        return pp_eqn_str(self)


class Jaxpr:
    """A program: constvars and invars, equations, outvars (Vars or Literals)."""

    __slots__ = ("constvars", "invars", "outvars", "eqns", "debug_name", "__weakref__")

    def __init__(
        self,
        constvars: Sequence[Var],
        invars: Sequence[Var],
        outvars: Sequence[Var | Literal],
        eqns: Sequence[JaxprEqn],
        debug_name: str | None = None,
    ) -> None:
        self.constvars, self.invars = list(constvars), list(invars)
        self.outvars, self.eqns = list(outvars), list(eqns)
        self.debug_name = debug_name

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self):
        from .pretty import pp_jaxpr

        return pp_jaxpr(self)

    __repr__ = __str__

    def pretty_print(self, **kw):
        from .pretty import pp_jaxpr

        return pp_jaxpr(self, **kw)


class ClosedJaxpr:
    """A jaxpr with values for its constvars."""

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]) -> None:
        assert len(jaxpr.constvars) == len(consts)
        self.jaxpr, self.consts = jaxpr, list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)
    # JAX's name for the constvars' values (what its "Writing custom interpreters" reads)
    literals = property(lambda self: self.consts)

    def __str__(self):
        return str(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self, **kw):
        return self.jaxpr.pretty_print(**kw)


def any_nested_eqn(jaxpr: Jaxpr, pred: Any, memo: Any) -> bool:
    """Whether ``pred(eqn)`` holds for an equation of ``jaxpr`` or of a jaxpr nested in
    one of its equations; ``memo`` (a weak dict kept per predicate) remembers each
    jaxpr's answer."""
    found = memo.get(jaxpr)
    if found is None:
        found = any(
            pred(eqn)
            or any(
                isinstance(j := getattr(sub, "jaxpr", sub), Jaxpr) and any_nested_eqn(j, pred, memo)
                for sub in eqn.primitive.subjaxprs(eqn.params)
            )
            for eqn in jaxpr.eqns
        )
        memo[jaxpr] = found
    return found
