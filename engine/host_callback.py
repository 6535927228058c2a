"""The custom call that runs a Python function on the host while a compiled program
runs (jaxlib's FFI targets ``xla_ffi_python_{cpu,gpu}_callback``), and how ordered
callbacks keep program order: a token threaded from one to the next, across regions
and calls. Used by the callback primitives' lowering rules (``engine/callbacks.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from . import runtime
from .core import ShapedArray
from .interpreters import lowering


def _block_key(block: Any) -> Any:
    try:
        hash(block)
        return block
    except TypeError:
        return id(block)


def emit_python_callback(
    ctx: lowering.RuleContext,
    host_fn: Callable[..., Any],
    operands: Sequence[Any],
    result_avals: Sequence[ShapedArray],
    *,
    has_side_effect: bool,
    ordered: bool = False,
) -> list[Any]:
    """Emit a custom call that runs ``host_fn(*numpy operands) -> tuple of results`` on
    the host. ``ordered``: thread a token through the callback (one chain per block),
    so XLA keeps program order. Unordered ones (JAX's unordered debug callbacks) take no
    token: XLA orders them as it schedules the program, as it does JAX's."""
    mctx = ctx.module_ctx
    callbacks = getattr(mctx, "host_callbacks", None)
    if callbacks is None:
        callbacks = mctx.host_callbacks = []
        key = runtime.register_host_callbacks(callbacks)
        mctx.module.operation.attributes[runtime.HOST_CALLBACKS_ATTR] = ir.StringAttr.get(key)
    target = runtime.python_callback_target(ctx.platform)
    operands = list(operands)
    in_avals = list(ctx.avals_in)
    result_types = [lowering.ir_type(a) for a in result_avals]
    layouts_in = [_layout(a) for a in in_avals]
    layouts_out = [_layout(a) for a in result_avals]
    token = None
    if ordered:
        tokens = mctx.__dict__.setdefault("callback_tokens", {})
        here = ir.InsertionPoint.current.block
        block = _block_key(here)
        token, after = _order_inputs(mctx, here, tokens)
        operands.insert(0, token)
        result_types.insert(0, hlo.TokenType.get())
        layouts_in.insert(0, _empty_layout())
        layouts_out.insert(0, _empty_layout())
        operands += after
        layouts_in += [_empty_layout()] * len(after)
        inner, n_after = host_fn, len(after)

        def host_fn(tok, *args):
            return (tok, *inner(*args[: len(args) - n_after]))

    index = len(callbacks)
    callbacks.append(host_fn)
    op = hlo.CustomCallOp(
        result_types,
        operands,
        target,
        has_side_effect=has_side_effect,
        backend_config=ir.StringAttr.get(""),
        api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 1),
        operand_layouts=ir.ArrayAttr.get(layouts_in),
        result_layouts=ir.ArrayAttr.get(layouts_out),
    )
    op.attributes["mhlo.backend_config"] = ir.DictAttr.get(
        {"index": ir.IntegerAttr.get(ir.IntegerType.get_unsigned(64), index)}
    )
    results = list(op.results)
    if ordered:
        tokens[block] = results.pop(0)
    return results


def _order_inputs(mctx: Any, here: Any, tokens: dict) -> tuple[Any, list[Any]]:
    """The token an ordered callback emitted in block ``here`` takes, and scalars it must
    also wait for, so XLA keeps program order across control flow:

    - into a region (a while/cond/case body): the first callback there takes the token
      of the nearest enclosing block that has one (MLIR lets a region capture it; XLA
      threads it through the loop or branch);
    - out of one: an op of this block that holds callbacks (a loop, a conditional, a
      call of a function with callbacks) since the last callback here hands one element
      of its first result to the next callback here, so that callback waits for it.
    Every block (and every called function) starts its own chain otherwise."""
    key = _block_key(here)
    token = tokens.get(key)
    path = _enclosing_ops(here)
    effectful = mctx.__dict__.setdefault("callback_ops", [])
    waits = []
    if token is None:
        for op, parent in path:
            # what the enclosing block ran before this op, the region waits for too
            with ir.InsertionPoint(op):
                waits += _waits(mctx, parent, effectful, upto=op)
            token = tokens.get(_block_key(parent))
            if token is not None:
                break
    if token is None:
        token = hlo.create_token()
    for op, _parent in path:
        if not any(op == o for o in effectful):
            effectful.append(op)
    if not path:  # a function body: a call of this function holds callbacks
        mctx.__dict__.setdefault("callback_functions", set()).add(mctx.function)
    return token, waits + _waits(mctx, here, effectful)


def _enclosing_ops(block: Any) -> list[tuple[Any, Any]]:
    """(op, the block holding it) from ``block``'s owner outwards, up to the function."""
    out = []
    while True:
        owner = block.owner
        if owner is None or owner.operation.name == "func.func":
            return out
        op = owner.operation
        block = op.block
        out.append((op, block))


def _waits(mctx: Any, here: Any, effectful: list, upto: Any = None) -> list[Any]:
    """Scalars from the ops of block ``here`` holding callbacks, from the last callback
    emitted here (or the block's start) to its end, or to ``upto`` (excluded)."""
    seen = mctx.__dict__.setdefault("callback_seen", {})
    key = _block_key(here)
    start = seen.get(key, 0)
    functions = mctx.__dict__.get("callback_functions", set())
    ops = [o.operation for o in here.operations]
    if upto is not None:
        ops = ops[: next((i for i, o in enumerate(ops) if o == upto), len(ops))]
    else:
        seen[key] = len(ops) + 1  # the callback about to be emitted
    waits = []
    for op in ops[start:]:
        holds = any(op == o for o in effectful)
        if not holds and op.name == "func.call" and functions:
            callee = ir.FlatSymbolRefAttr(op.attributes["callee"]).value
            holds = callee in functions
        if holds:
            waits += _one_element(op)
    return waits


def _one_element(op: Any) -> list[Any]:
    """A scalar read from each of the op's non-empty tensor results: a data dependence
    on the op at the cost of one element per result (several, because XLA may fold a
    result it can compute, e.g. a loop's final counter, and drop that dependence)."""
    out = []
    for r in op.results:
        try:
            t = ir.RankedTensorType(r.type)
        except ValueError:  # a token
            continue
        shape = list(t.shape)
        if 0 in shape:
            continue
        if shape:
            one = hlo.slice(r, [0] * len(shape), [1] * len(shape), [1] * len(shape))
            r = hlo.reshape(ir.RankedTensorType.get([], t.element_type), one)
        out.append(r)
    return out


def _layout(aval: ShapedArray) -> Any:
    dims = np.arange(len(aval.shape) - 1, -1, -1, dtype=np.int64)
    return ir.DenseElementsAttr.get(dims, type=ir.IndexType.get())


def _empty_layout() -> Any:
    return ir.DenseElementsAttr.get(np.zeros((0,), np.int64), type=ir.IndexType.get())
