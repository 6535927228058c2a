"""What automatic differentiation itself needs from the array world, and nothing more
(JAX's ``ad_util``): the symbolic ``Zero`` tangent, zeros of an aval, and ``add_any``,
the primitive that adds two tangents or cotangents of one variable.

The interpreters (``jvp``, ``partial_eval``, ``transpose``) import this module and never
``engine.lax``: lax imports the interpreters to register its rules beside each
primitive, so this small module is what keeps the import graph acyclic. Materialized
zeros are a ``broadcast_in_dim`` of a literal, which lax owns: lax registers its zeros
maker here when it is imported (``register_zeros_maker``), as JAX's lax fills
``ad_util``'s table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from . import dtypes
from .core import Primitive, ShapedArray
from .interpreters import batching

# ---------------------------------------------------------------------------- symbolic zeros


class Zero:
    """A symbolic zero tangent (or cotangent) of the given aval: no array is made until
    one is needed (``instantiate``)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray) -> None:
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


_zeros_maker: Callable[[ShapedArray], Any] | None = None


def register_zeros_maker(maker: Callable[[ShapedArray], Any]) -> None:
    """Called by ``engine.lax`` on import: ``maker(aval)`` builds a zero array."""
    global _zeros_maker
    _zeros_maker = maker


def zeros_like_aval(aval: ShapedArray) -> Any:
    """A zero array of ``aval`` (float0 zeros are host values: they carry no data)."""
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    if _zeros_maker is None:
        raise RuntimeError("engine.lax has not registered its zeros maker (import engine)")
    return _zeros_maker(aval)


def instantiate(t: Any) -> Any:
    """``t`` itself, or zeros of its aval where it is a symbolic ``Zero``."""
    return zeros_like_aval(t.aval) if type(t) is Zero else t


# ---------------------------------------------------------------------------- add_any

# Adds two tangents (or cotangents) of one variable; JAX's ``add_jaxvals``/``add_any``.
add_any_p = Primitive("add_any")


def add_any(x: Any, y: Any) -> Any:
    return add_any_p.bind(x, y)


add_jaxvals = add_any


def add_tangents(a: Any, b: Any) -> Any:
    """``a + b`` where either may be a symbolic ``Zero`` (then no equation is made)."""
    if type(a) is Zero:
        return b
    if type(b) is Zero:
        return a
    return add_any(a, b)


@add_any_p.def_abstract_eval
def _add_any_abstract_eval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    if x.shape != y.shape or x.dtype != y.dtype:
        raise TypeError(
            f"add_any adds values of one type, got {x.str_short()} and {y.str_short()}."
        )
    return ShapedArray(x.shape, x.dtype, x.weak_type and y.weak_type)


@add_any_p.def_lowering
def _add_any_lowering(ctx: Any, x: Any, y: Any) -> Any:
    return hlo.add(x, y)


def _add_any_jvp(primals: list, tangents: list) -> tuple:
    return add_any(*primals), add_tangents(*tangents)


add_any_p.def_jvp(_add_any_jvp)
add_any_p.def_transpose(lambda ct, x, y: [ct, ct])
batching.broadcast_batcher(add_any_p)
