"""StableHLO ops whose static attributes (window sizes, padding) depend on symbolic
dimensions. JAX emits these as operands computed from the dimension variables: the
``stablehlo.dynamic_reduce_window`` custom call (its reducer a private function), which
jaxlib's shape refinement turns back into ``reduce_window`` once the shapes are known."""

from __future__ import annotations

import re
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


_EQN_TAG = re.compile(r'loc\("(?:[^"]*/)?([A-Za-z_0-9]+)\.eqn[0-9_]*"')


def _module_of_insertion_point() -> Any:
    op = ir.InsertionPoint.current.block.owner
    while op is not None and op.name != "builtin.module":
        op = op.parent
    return op


def emit_reduce_window(
    out_avals: Sequence[Any],
    operands: Sequence[Any],
    inits: Sequence[Any],
    scalar_avals: Sequence[Any],
    body: Callable,
    window_dimensions: Sequence[Any],
    window_strides: Sequence[Any],
    padding: Sequence[tuple[Any, Any]],
    base_dilation: Sequence[Any],
    window_dilation: Sequence[Any],
    reducer_name: str = "generic_reduce_window_reducer",
) -> list:
    """A reduce_window whose window parameters or padding hold symbolic dimensions, as
    JAX's ``mlir.reduce_window`` lowers it: the reducer as a private function (first in
    the module) and ``stablehlo.dynamic_reduce_window`` with int32 parameter tensors
    (the padding ``i32[N, 2]``)."""
    from .poly_lowering import shape_tensor

    int2d = lowering.ir_type(ShapedArray((1, 2), np.int32))
    pad = hlo.concatenate([hlo.reshape(int2d, shape_tensor(lohi)) for lohi in padding], 0)
    scalar_types = [lowering.ir_type(a) for a in scalar_avals]
    module = _module_of_insertion_point()
    # JAX builds the reducer (a public function) while lowering the equation out of
    # context: its locations are "prim:" around the bare primitive's name
    m = _EQN_TAG.search(str(ir.Location.current))
    prim = m.group(1) if m else "reduce_window"
    where = ir.Location.name(f"{prim}:", childLoc=ir.Location.name(prim))
    with where, ir.InsertionPoint.at_block_begin(module.regions[0].blocks[0]):
        fn = func_dialect.FuncOp(reducer_name, ir.FunctionType.get(scalar_types * 2, scalar_types))
    name = ir.StringAttr(ir.SymbolTable(module).insert(fn)).value  # renamed if taken
    block = fn.add_entry_block([where] * (2 * len(scalar_types)))
    with where, ir.InsertionPoint(block):
        hlo.return_(list(body(*block.arguments)))
    i32 = ir.IntegerType.get_signless(32)
    op = hlo.CustomCallOp(
        [lowering.ir_type(a) for a in out_avals],
        [
            *operands,
            *inits,
            shape_tensor(window_dimensions),
            shape_tensor(window_strides),
            shape_tensor(base_dilation),
            shape_tensor(window_dilation),
            pad,
        ],
        "stablehlo.dynamic_reduce_window",
        has_side_effect=ir.BoolAttr.get(False),
        backend_config=ir.StringAttr.get(""),
        api_version=ir.IntegerAttr.get(i32, 2),
        called_computations=ir.ArrayAttr.get([ir.FlatSymbolRefAttr.get(name)]),
    )
    return list(op.results)
