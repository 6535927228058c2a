"""``jax.interpreters.mlir``: lowering rules for primitives defined outside the engine.

``register_lowering(p, rule, platform=None)`` makes ``rule`` the lowering the engine's
StableHLO emitter (``lowering.py``) runs for ``p``'s equations, as JAX's: the rule gets a
:class:`LoweringRuleContext` (``avals_in``, ``avals_out``, ``module_context``, ...) and one
MLIR value per operand, builds ops with jaxlib's dialects (``hlo.AddOp``, ...) at the
current insertion point, and returns one value per result. A rule given for a platform
applies when lowering for that platform only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, runtime
from . import lowering

LoweringRule = Callable[..., Sequence[Any]]

# JAX's platform names for the backends' (a rule for "gpu" serves CUDA and ROCm)
_PLATFORM_ALIASES = {"gpu": ("cuda", "rocm")}
_KNOWN_PLATFORMS = frozenset({"cpu", "cuda", "rocm", "tpu", "gpu"})


@dataclasses.dataclass
class LoweringRuleContext:
    """What a lowering rule learns about the equation it lowers."""

    module_context: Any
    primitive: core.Primitive | None
    avals_in: Sequence[core.ShapedArray]
    avals_out: Sequence[core.ShapedArray]
    platforms: Sequence[str] | None = None
    # the emitter's own context for the equation (lower_fun emits through it)
    engine_ctx: Any = dataclasses.field(default=None, repr=False, compare=False)

    def replace(self, **changes: Any) -> LoweringRuleContext:
        return dataclasses.replace(self, **changes)


def _flatten_results(outs: Any) -> list[Any]:
    """A rule's results (a value, op or sequence of them) as a flat list of values."""
    if isinstance(outs, (ir.OpView, ir.Operation)):
        return list(outs.results)
    if isinstance(outs, ir.Value):
        return [outs]
    flat: list[Any] = []
    for o in outs:
        if isinstance(o, (ir.Value, ir.OpView, ir.Operation)):
            flat.extend(_flatten_results(o))
        else:  # JAX allows a sequence of values per result
            seq = list(o)
            if len(seq) != 1:
                raise NotImplementedError(
                    "a lowering rule gave several MLIR values for one result (an aval "
                    "lowered to several IR types); the engine lowers one value per result"
                )
            flat.append(seq[0])
    return flat


class _PlatformRules:
    """The engine-side lowering of a primitive with rules registered here: picks the rule
    of the platform lowered for (else the platform-independent one, else the rule the
    engine declared), calls it JAX's way and hands its values to the emitter.

    As JAX's lowering cache: within one module a rule runs once per distinct operand types
    and parameters, into a function of its own, whose body each such equation then gets
    inlined (or, for a rule registered with ``inline=False``, calls)."""

    def __init__(self, prim: core.Primitive, fallback: Callable[..., Any] | None) -> None:
        self.prim, self.fallback = prim, fallback
        self.rules: dict[str | None, tuple[LoweringRule, bool]] = {}
        self.cacheable = True

    def __call__(self, ctx: Any, *args: Any, **params: Any) -> Any:
        platform = ctx.platform
        entry = self.rules.get(platform, self.rules.get(None))
        if entry is None:
            if self.fallback is not None:
                return self.fallback(ctx, *args, **params)
            raise NotImplementedError(
                f"MLIR translation rule for primitive '{self.prim.name}' not found for "
                f"platform {platform}"
            )
        rule, inline = entry
        key = None
        if self.cacheable:
            key = (self.prim, platform, tuple(ctx.avals_in), tuple(params.items()))
            try:
                hash(key)
            except TypeError:  # an unhashable parameter: lowered in place, each time
                key = None
        if key is None:
            outs = self._run(rule, ctx, args, params)
        else:
            outs = self._cached_call(rule, inline, key, ctx, args, params)
        return outs if self.prim.multiple_results else outs[0]

    def _run(self, rule: LoweringRule, ctx: Any, args: Sequence[Any], params: dict) -> list:
        rule_ctx = LoweringRuleContext(
            module_context=ctx.module_ctx,
            primitive=self.prim,
            avals_in=tuple(ctx.avals_in),
            avals_out=list(ctx.avals_out),
            engine_ctx=ctx,
        )
        outs = _flatten_results(rule(rule_ctx, *args, **params))
        if len(outs) != len(ctx.avals_out):
            raise ValueError(
                f"Output of translation rule for '{self.prim.name}' must have "
                f"{len(ctx.avals_out)} values; got {len(outs)}"
            )
        return outs

    def _cached_call(self, rule, inline, key, ctx, args, params) -> list:
        mctx = ctx.module_ctx
        fn: Any = mctx.lowering_cache.get(key)
        if fn is None:
            in_types = [lowering.ir_type(a) for a in ctx.avals_in]
            out_types = [lowering.ir_type(a) for a in ctx.avals_out]
            ftype = ir.FunctionType.get(in_types, out_types)
            if inline:  # a function outside the module, only ever inlined
                fn = func_dialect.FuncOp(self.prim.name, ftype, ip=False)  # type: ignore[arg-type]
            else:
                with ir.InsertionPoint(mctx.module.body):
                    fn = func_dialect.FuncOp(self.prim.name, ftype)
                fn.attributes["sym_visibility"] = ir.StringAttr.get("private")
                lowering.module_symbol_table(mctx).insert(fn)
            block = fn.add_entry_block()
            with ir.InsertionPoint(block), ir.Location.name(self.prim.name):
                func_dialect.ReturnOp(self._run(rule, ctx, list(block.arguments), params))
            mctx.lowering_cache[key] = fn
        if not inline:
            name = ir.StringAttr(fn.attributes["sym_name"]).value
            out_types = [lowering.ir_type(a) for a in ctx.avals_out]
            call = func_dialect.CallOp(out_types, ir.FlatSymbolRefAttr.get(name), list(args))
            return list(call.results)
        outs = runtime.inline_func_call(fn, args)
        # The inliner names the inlined ops' location after the equation's and the body's:
        # tell the lowering's op-to-equation map (LoweringInfo) it is this equation's too.
        aliases: dict[str, Any] = {}
        for v in outs:
            owner = v.owner
            if isinstance(owner, ir.OpView):
                owner = owner.operation
            if isinstance(owner, ir.Operation):
                aliases.setdefault(str(owner.location), owner.location)
        for path, prim, tag, _loc, function, eqn in reversed(mctx.eqn_records):
            if path == ctx.eqn_path:
                for alias in aliases.values():
                    mctx.eqn_records.append((path, prim, tag, alias, function, eqn))
                break
        return outs


def register_lowering(
    prim: core.Primitive,
    rule: LoweringRule,
    platform: str | None = None,
    inline: bool = True,
    cacheable: bool = True,
) -> None:
    """Make ``rule(ctx, *operand_values, **params) -> [result values]`` the lowering of
    ``prim`` (on ``platform`` only, when given: "cpu", "cuda", "rocm", "tpu" or "gpu")."""
    if platform is not None and platform not in _KNOWN_PLATFORMS:
        raise NotImplementedError(
            f"Registering an MLIR lowering rule for primitive {prim} for an unknown "
            f"platform {platform}. Known platforms are: {', '.join(sorted(_KNOWN_PLATFORMS))}."
        )
    table = prim.lowering
    if not isinstance(table, _PlatformRules):
        table = _PlatformRules(prim, table)
        prim.lowering = table
    for name in _PLATFORM_ALIASES.get(platform, (platform,)):  # type: ignore[arg-type]
        table.rules[name] = (rule, inline)
    table.cacheable = table.cacheable and cacheable


def aval_to_ir_type(aval: core.ShapedArray) -> Any:
    """The MLIR tensor type of ``aval``."""
    return lowering.ir_type(aval)


def aval_to_ir_types(aval: core.ShapedArray) -> tuple[Any, ...]:
    return (lowering.ir_type(aval),)


def dtype_to_ir_type(dtype: Any) -> Any:
    return lowering.ir_element_type(np.dtype(dtype))


def ir_constant(val: Any) -> Any:
    """A ``stablehlo.constant`` holding ``val`` (a NumPy array or scalar)."""
    arr = np.asarray(val)
    return lowering.constant(arr, core.ShapedArray(arr.shape, arr.dtype))


def i32_attr(i: int) -> Any:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(32), i)


def i64_attr(i: int) -> Any:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), i)


def dense_int_array(xs: Sequence[int]) -> Any:
    return ir.DenseI64ArrayAttr.get([int(x) for x in xs])


def _layouts(layouts: Sequence[Sequence[int]]) -> Any:
    index = ir.IndexType.get()
    arrays: list[Any] = [np.atleast_1d(np.asarray(lay, np.int64)) for lay in layouts]
    return ir.ArrayAttr.get([ir.DenseIntElementsAttr.get(a, type=index) for a in arrays])


def custom_call(
    call_target_name: str,
    *,
    result_types: Sequence[Any],
    operands: Sequence[Any],
    backend_config: str | bytes | Mapping[str, Any] | None = "",
    has_side_effect: bool = False,
    result_shapes: Sequence[Any] | None = None,
    called_computations: Sequence[str] = (),
    api_version: int = 2,
    operand_output_aliases: Mapping[int, int] | None = None,
    operand_layouts: Sequence[Sequence[int]] | None = None,
    result_layouts: Sequence[Sequence[int]] | None = None,
    extra_attributes: Mapping[str, Any] | None = None,
) -> Any:
    """A ``stablehlo.custom_call @call_target_name`` op (its ``.results`` are the values),
    with JAX's attributes: a dict ``backend_config`` goes to ``mhlo.backend_config``
    (api_version 1), a string to ``backend_config``."""
    if result_shapes is not None:
        raise NotImplementedError(
            "mlir.custom_call(result_shapes=...): dynamically shaped custom-call results "
            "are not built in this engine"
        )
    config_dict = None
    if backend_config is None:
        config_attr = ir.StringAttr.get("")
    elif isinstance(backend_config, (str, bytes)):
        config_attr = ir.StringAttr.get(backend_config)
    elif isinstance(backend_config, Mapping):
        config_attr, config_dict, api_version = ir.StringAttr.get(""), backend_config, 1
    else:
        raise ValueError(f"custom_call backend_config unexpected type: {backend_config}")
    attributes = {
        "call_target_name": ir.StringAttr.get(call_target_name),
        "has_side_effect": ir.BoolAttr.get(has_side_effect),
        "backend_config": config_attr,
        "api_version": i32_attr(api_version),
        "called_computations": ir.ArrayAttr.get(
            [ir.FlatSymbolRefAttr.get(name) for name in called_computations]
        ),
    }
    if operand_output_aliases is not None:
        attributes["output_operand_aliases"] = ir.ArrayAttr.get(
            [
                hlo.OutputOperandAlias.get(
                    output_tuple_indices=[o] if len(result_types) > 1 else [],
                    operand_index=i,
                    operand_tuple_indices=[],
                )
                for i, o in operand_output_aliases.items()
            ]
        )
    if operand_layouts is not None:
        attributes["operand_layouts"] = _layouts(operand_layouts)
    if result_layouts is not None:
        attributes["result_layouts"] = _layouts(result_layouts)
    attributes.update(extra_attributes or {})
    op = hlo.CustomCallOp.build_generic(
        results=list(result_types), operands=list(operands), attributes=attributes
    )
    if config_dict is not None:
        op.operation.attributes["mhlo.backend_config"] = ir.DictAttr.get(dict(config_dict))
    return op


def lower_fun(fun: Callable[..., Any], multiple_results: bool = True) -> LoweringRule:
    """A lowering rule that traces ``fun`` (written with the engine's ops) on the
    equation's operand types and emits its jaxpr inline."""
    from .tracing import trace_to_jaxpr

    def rule(ctx: LoweringRuleContext, *args: Any, **params: Any) -> list[Any]:
        def flat(*xs: Any) -> list[Any]:
            out = fun(*xs, **params)
            return list(out) if multiple_results else [out]

        closed = trace_to_jaxpr(flat, list(ctx.avals_in))
        return lowering.lower_jaxpr_inline(ctx.engine_ctx, closed, args)

    return rule
