"""StableHLO ops whose static attributes (window sizes, padding) depend on symbolic
dimensions. JAX emits these as operands computed from the dimension variables: the
``stablehlo.dynamic_reduce_window`` custom call (its reducer a private function), which
jaxlib's shape refinement turns back into ``reduce_window`` once the shapes are known."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from ..core import ShapedArray
from ..interpreters import lowering
from .poly_lowering import dim_value


def dim_vector(vals: Sequence[Any], dtype: Any = np.int32) -> Any:
    """A 1-D tensor of ``vals`` (ints or symbolic dimensions), of ``dtype``."""
    elt = lowering.ir_element_type(np.dtype(dtype))
    t1 = ir.RankedTensorType.get([1], elt)
    scalar = ir.RankedTensorType.get([], elt)
    parts = []
    for v in vals:
        if type(v) is int or isinstance(v, np.integer):
            parts.append(hlo.constant(ir.DenseElementsAttr.get(np.array([v], dtype))))
        else:
            parts.append(hlo.reshape(t1, hlo.convert(scalar, dim_value(v))))
    if not parts:
        return hlo.constant(ir.DenseElementsAttr.get(np.zeros((0,), dtype)))
    return parts[0] if len(parts) == 1 else hlo.concatenate(parts, 0)


def _reducer(ctx: Any, name: str, scalar: ShapedArray, body_fn: Callable) -> str:
    """A private ``func.func`` (a, b) -> body_fn(a, b) on scalars, made once per module."""
    key = ("dynamic_reduce_window", name, scalar.dtype.name)
    sym = ctx.module_ctx.symbols.get(key)
    if sym is not None:
        return sym
    sym = f"{name}_{scalar.dtype.name}_reducer"
    t = lowering.ir_type(scalar)
    with ir.InsertionPoint(ctx.module_ctx.module.body):
        fn = func_dialect.FuncOp(sym, ir.FunctionType.get([t, t], [t]))
    fn.attributes["sym_visibility"] = ir.StringAttr.get("private")
    block = fn.add_entry_block()
    with ir.InsertionPoint(block):
        func_dialect.ReturnOp([body_fn(*block.arguments)])
    ctx.module_ctx.symbols[key] = sym
    return sym


def dynamic_reduce_window(
    ctx: Any,
    x: Any,
    init: Any,
    out_aval: ShapedArray,
    window: Sequence[Any],
    padding: Sequence[tuple[Any, Any]],
    body_fn: Callable,
    name: str = "reduce_window",
) -> Any:
    """``reduce_window`` with unit strides and dilations whose window or padding holds
    symbolic dimensions, as JAX lowers it (``stablehlo.dynamic_reduce_window``)."""
    scalar = out_aval.update(shape=(), weak_type=False)
    rank = len(window)
    ones = [1] * rank
    flat_pad = [p for pair in padding for p in pair]
    pad = hlo.reshape(
        ir.RankedTensorType.get([rank, 2], ir.IntegerType.get_signless(32)), dim_vector(flat_pad)
    )
    operands = [x, init, dim_vector(window), dim_vector(ones), dim_vector(ones)]
    operands += [dim_vector(ones), pad]
    sym = _reducer(ctx, name, scalar, body_fn)
    op = hlo.CustomCallOp(
        [lowering.ir_type(out_aval)],
        operands,
        "stablehlo.dynamic_reduce_window",
        api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 2),
        called_computations=ir.ArrayAttr.get([ir.FlatSymbolRefAttr.get(sym)]),
    )
    return op.result
