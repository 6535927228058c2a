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

from . import core, dtypes
from .core import Primitive, ShapedArray
from .interpreters import batching, lowering

# ---------------------------------------------------------------------------- symbolic zeros


class Zero:
    """A symbolic zero tangent (or cotangent) of the given aval: no array is made until
    one is needed (``instantiate``)."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray) -> None:
        self.aval = aval

    def __repr__(self) -> str:
        return f"Zero({self.aval})"


_zeros_maker: Callable[[ShapedArray], Any] | None = None


def register_zeros_maker(maker: Callable[[ShapedArray], Any]) -> None:
    """Called by ``engine.lax`` on import: ``maker(aval)`` builds a zero array."""
    global _zeros_maker
    _zeros_maker = maker


def zeros_like_aval(aval: ShapedArray) -> Any:
    """A zero array of ``aval`` (float0 zeros are host values: they carry no data;
    while a jaxpr is being staged they are a ``broadcast_in_dim`` of a float0 literal,
    as JAX writes them, not a constant captured by the program)."""
    if aval.dtype == dtypes.float0:
        if core.current_trace().interpreter == "jaxpr" and _zeros_maker is not None:
            return _zeros_maker(aval)
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


def _add_any_shape(x: ShapedArray, y: ShapedArray) -> tuple[int, ...]:
    """Equal shapes, or lax's implicit broadcasts (a rank-0 operand, or equal ranks with
    size-1 dimensions), which accumulations of cotangents meet (scan's carries)."""
    if x.shape == y.shape or not y.shape:
        return x.shape
    if not x.shape:
        return y.shape
    if len(x.shape) == len(y.shape) and all(
        a == b or a == 1 or b == 1 for a, b in zip(x.shape, y.shape)
    ):
        return tuple(a if b == 1 else b for a, b in zip(x.shape, y.shape))
    raise TypeError(f"add_any got incompatible shapes: {x.str_short()} and {y.str_short()}.")


@add_any_p.def_abstract_eval
def _add_any_abstract_eval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    if x.dtype != y.dtype:
        raise TypeError(f"add_any adds values of one dtype, got {x.dtype.name} and {y.dtype.name}.")
    return ShapedArray(_add_any_shape(x, y), x.dtype, x.weak_type)  # JAX: the first operand's type


@add_any_p.def_lowering
def _add_any_lowering(ctx: Any, x: Any, y: Any) -> Any:
    shape = ctx.avals_out[0].shape
    x, y = (lowering.broadcast_to(v, a, shape) for v, a in zip((x, y), ctx.avals_in))
    return hlo.add(x, y)


def _add_any_jvp(primals: list, tangents: list) -> tuple:
    # as JAX's linear_jvp: a Zero tangent beside a nonzero one is instantiated (under
    # grad, the zeros are computed with the primals and become a residual)
    a, b = tangents
    if type(a) is Zero and type(b) is Zero:
        return add_any(*primals), a
    return add_any(*primals), add_any(instantiate(a), instantiate(b))


add_any_p.def_jvp(_add_any_jvp)
add_any_p.def_transpose(lambda ct, x, y: [ct, ct])


def _add_any_batch(size: int, vals: list, dims: list) -> tuple:
    # both operands must have one type: an unbatched one is broadcast to the batch size
    # (the elementwise size-1 broadcasting of lax does not apply to add_any)
    x, y = vals
    dx, dy = dims
    if dx is None or dy is None:
        d = dx if dx is not None else dy
        x, y = (batching.move_batch_axis(size, dx, d, x), batching.move_batch_axis(size, dy, d, y))
        return add_any(x, y), d
    return add_any(x, batching.move_batch_axis(size, dy, dx, y)), dx


add_any_p.def_batch(_add_any_batch)
