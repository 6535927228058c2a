"""Lowering jaxprs to StableHLO through ``jaxlib.mlir``.

Every equation's ops carry a named MLIR location ``<primitive>.eqn<path>`` wrapped
around the user's file location, so XLA's HLO names and metadata point back both to
the equation (exactly) and to the Python line.

The lowering also hands its reader data, not text to parse back: ``LoweringInfo`` maps
each equation's path to the MLIR ops it produced (op names and ids, in the order the
module prints them) and its source info, and each op to its equation. When someone
listens (``engine.events``), every lowered equation is announced as ``EqnLowered``."""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes, events, runtime
from ..config import config
from ..core import JaxprEqn, Literal
from ..events import active as _listening
from ..source_info import SourceInfo

# ---------------------------------------------------------------------------- types and constants


def ir_element_type(dtype):
    dtype = np.dtype(dtype)
    kind = dtype.kind  # the common kinds first: comparing with float0 or bfloat16 is slow
    if kind == "f":
        size = dtype.itemsize
        return (
            ir.F32Type.get() if size == 4 else ir.F64Type.get() if size == 8 else ir.F16Type.get()
        )
    if kind == "i":
        return ir.IntegerType.get_signless(8 * dtype.itemsize)
    if kind == "b":
        return ir.IntegerType.get_signless(1)
    if kind == "u":
        return ir.IntegerType.get_unsigned(8 * dtype.itemsize)
    if kind == "c":
        return ir.ComplexType.get(ir_element_type(dtypes.real_dtype(dtype)))
    if dtype == dtypes.float0:
        return ir.IntegerType.get_signless(1)
    if dtype == dtypes.bfloat16:
        return ir.BF16Type.get()
    raise TypeError(f"cannot lower dtype {dtype}")


# (context, {(shape, dtype): its tensor type}) for the context last lowered in: a
# program meets the same few types thousands of times. One tuple, read once, so threads
# lowering in different contexts never take each other's types.
_type_cache: tuple[Any, dict] = (None, {})


def ir_type(aval):
    return tensor_type(aval.shape, aval.dtype)


def tensor_type(shape, dtype):
    """The ranked tensor type of ``shape`` and ``dtype`` in the current MLIR context."""
    context = ir.Context.current
    cache = _type_cache
    if cache[0] is not context:
        cache = _new_type_cache(context)
    key = (shape, dtype)
    try:
        t = cache[1].get(key)
    except TypeError:  # a shape given as a list
        t = key = None
    if t is not None:
        return t
    if isinstance(dtype, dtypes.ExtendedDType):  # a typed key: its physical data
        return tensor_type(tuple(shape) + dtype.physical_shape, dtype.physical_dtype)
    try:
        t = ir.RankedTensorType.get(shape, ir_element_type(dtype))
    except Exception:
        if all(type(d) is int for d in shape):
            raise
        # symbolic dimensions (shape-polymorphic export) are dynamic ("?") in MLIR
        from ..export.poly_lowering import ir_shape

        return ir.RankedTensorType.get(ir_shape(shape), ir_element_type(dtype))
    if key is not None:
        cache[1][key] = t
    return t


def _new_type_cache(context):
    global _type_cache
    cache = _type_cache = (context, {})
    return cache


def release_type_cache(context):
    """Forget the types of ``context`` (its types hold it alive, and with it every
    attribute it uniqued, such as embedded constants) once its module is lowered."""
    global _type_cache
    if _type_cache[0] is context:
        _type_cache = (None, {})


def op_result(name, result_type, operands, attributes=None):
    """The result of a new single-result operation ``name`` at the current insertion
    point and location: what the generated builders (``hlo.add(...)``) make, at a
    quarter of their cost (they spend ~3 us a call in Python)."""
    return ir.Operation.create(name, (result_type,), operands, attributes).result


def simple_op(hlo_fn):
    """``build(result_type, *operands)``: the op ``hlo_fn(*operands, results=[result_type])``
    makes, for a generated builder such as ``hlo.add``. The first call runs ``hlo_fn``
    and reads its op's name; when that op has no attributes or regions and one result,
    later calls build it by name (``op_result``)."""
    name = None
    generated = getattr(hlo_fn, "__module__", "").startswith("jaxlib.mlir.dialects.")

    def build(result_type, *operands):
        nonlocal name
        if name is not None:
            return op_result(name, result_type, operands)
        value = hlo_fn(*operands, results=[result_type])
        op = value.owner
        if generated and not len(op.attributes) and not len(op.regions) and len(op.results) == 1:
            name = op.name
        return value

    return build


def _splat_attr(elt, dtype, x):
    if dtype == np.bool_:
        return ir.BoolAttr.get(bool(x))
    if dtype.kind == "u" and dtype.itemsize == 8:
        # IntegerAttr takes a signed 64-bit value: pass uint64 as its bit pattern.
        return ir.IntegerAttr.get(elt, int(np.array(x, np.uint64).view(np.int64)))
    if dtype.kind in "iu":
        return ir.IntegerAttr.get(elt, int(x))
    return ir.FloatAttr.get(elt, float(x))


def _dense_attr(val, aval):
    dtype = aval.dtype
    if not aval.shape and dtype.kind in "biuf" and dtype != dtypes.float0:
        # a scalar (most literals): its splat straight away, no array work
        x = np.asarray(val).astype(dtype)[()]
        elt = ir_element_type(dtype)
        return ir.DenseElementsAttr.get_splat(
            ir.RankedTensorType.get((), elt), _splat_attr(elt, dtype, x)
        )
    if dtype == dtypes.float0:
        dtype = np.dtype(np.bool_)
        val = np.zeros(aval.shape, np.bool_)
    val = np.asarray(val)
    if val.dtype != dtype:
        val = val.astype(dtype)
    val = np.broadcast_to(val, aval.shape)
    elt = ir_element_type(dtype)
    t = ir.RankedTensorType.get(aval.shape, elt)
    flat = val.reshape(-1)
    if dtype.kind != "c" and flat.size and (flat == flat[0]).all():
        return ir.DenseElementsAttr.get_splat(t, _splat_attr(elt, dtype, flat[0]))
    val = np.ascontiguousarray(val)
    if dtype == dtypes.bfloat16:
        val = val.view(np.uint16)
    return ir.DenseElementsAttr.get(val, type=elt, shape=aval.shape)


def constant(val, aval):
    """A stablehlo.constant of ``aval`` holding ``val`` (splat when uniform)."""
    attr = _dense_attr(val, aval)
    return op_result("stablehlo.constant", attr.type, (), {"value": attr})


def closed_over_constants(consts, avals):
    """The stablehlo.constant of each closed-over const, made once per distinct object
    (as JAX's ``lower_jaxpr_to_fun``). A NumPy array with zero strides (``np.broadcast_to``)
    becomes the constant of its collapsed value and a broadcast_in_dim, as JAX's
    ``_ndarray_constant_handler``; an engine Array is embedded by its value."""
    made: dict[int, Any] = {}
    for c, aval in zip(consts, avals):
        if id(c) not in made:
            made[id(c)] = _closed_over_constant(c, aval)
    return [made[id(c)] for c in consts]


config.define(
    "jax_captured_constants_warn_bytes",
    int(os.environ.get("JAX_CAPTURED_CONSTANTS_WARN_BYTES", 2 * 10**9)),
)


def _warn_large_constants(consts) -> None:
    """JAX's warning when a function's closed-over consts reach
    ``jax_captured_constants_warn_bytes`` (-1: never)."""
    threshold = config.jax_captured_constants_warn_bytes
    if threshold == -1:
        return
    total = sum(getattr(c, "nbytes", 0) for c in consts)
    if total < threshold:
        return
    if total <= 0:
        size = "0.00B"
    else:
        exponent = min(math.floor(math.log(total, 1000)), 4)
        size = f"{total / 1000**exponent:.2f}{('', 'K', 'M', 'G', 'T')[exponent]}B"
    warnings.warn(
        f"A large amount of constants were captured during lowering ({size} total). If "
        "this is intentional, disable this warning by setting "
        "JAX_CAPTURED_CONSTANTS_WARN_BYTES=-1. To obtain a report of where these "
        "constants were encountered, set JAX_CAPTURED_CONSTANTS_REPORT_FRAMES=-1.",
        stacklevel=2,
    )


def _closed_over_constant(c, aval):
    if isinstance(aval.dtype, dtypes.ExtendedDType):  # typed keys: their physical data
        return constant(c._value(), core.physical_aval(aval))
    val = c if isinstance(c, np.ndarray) else np.asarray(c)
    if (
        isinstance(c, np.ndarray)
        and val.size
        and 0 in val.strides
        and val.dtype != dtypes.float0
        and val.dtype == aval.dtype
    ):
        zero = [i for i, st in enumerate(val.strides) if st == 0]
        kept = [i for i in range(val.ndim) if i not in zero]
        small = val[tuple(0 if i in zero else slice(None) for i in range(val.ndim))]
        small_aval = core.ShapedArray(small.shape, small.dtype)
        return broadcast_in_dim(
            constant(np.array(small), small_aval),
            core.ShapedArray(val.shape, val.dtype),
            kept,
        )
    return constant(val, aval)


def _literal_constant(mctx, lit):
    """A literal's stablehlo.constant. Its attribute is made once per module for each
    value (``x * 2.0`` in a loop): NumPy scalars by their bytes, weakly typed Python
    values by value (not float zeros and NaNs, as -0.0 == 0.0 and NaN != NaN)."""
    key = None
    val = lit.val
    if type(val) is np.ndarray and not val.shape:
        key = (lit.aval.dtype, val.dtype, val.tobytes())
    elif type(val) is core.WeakScalar:
        raw = val.value
        kind = type(raw)
        if (kind is float and raw == raw and raw != 0.0) or kind is int or kind is bool:
            key = (lit.aval.dtype, kind, raw)
    entry = mctx.literal_attrs.get(key) if key is not None else None
    if entry is None:
        attr = _dense_attr(val, lit.aval)
        entry = ((attr.type,), {"value": attr})
        if key is not None:
            mctx.literal_attrs[key] = entry
    return ir.Operation.create("stablehlo.constant", entry[0], (), entry[1]).result


def full_like_aval(val, aval):
    return constant(np.asarray(val, aval.dtype), aval)


# ---------------------------------------------------------------------------- op helpers for rules


def broadcast_to(x, aval_in, shape):
    """Broadcast a rank-0 or same-rank-with-size-1 value to ``shape``."""
    shape_in = aval_in.shape
    if shape_in == shape or tuple(shape_in) == tuple(shape):
        return x
    if not shape_in:
        dims = []
    else:
        dims = list(range(len(shape) - len(shape_in), len(shape)))
        if any(d != 1 and d != s for d, s in zip(shape_in, shape[len(shape) - len(shape_in) :])):
            raise TypeError(f"cannot broadcast {aval_in.str_short()} to {shape}")
    if not all(type(d) is int for d in shape):
        from ..export.poly_lowering import dynamic_broadcast

        return dynamic_broadcast(x, aval_in.update(shape=shape), dims)
    return op_result(
        "stablehlo.broadcast_in_dim",
        tensor_type(tuple(shape), aval_in.dtype),
        (x,),
        {"broadcast_dimensions": ir.DenseI64ArrayAttr.get(dims)},
    )


def broadcast_in_dim(x, out_aval, dims):
    """stablehlo.broadcast_in_dim, or its dynamic form when ``out_aval`` has symbolic
    dimensions (a shape-polymorphic export)."""
    if not all(type(d) is int for d in out_aval.shape):
        from ..export.poly_lowering import dynamic_broadcast

        return dynamic_broadcast(x, out_aval, dims)
    return op_result(
        "stablehlo.broadcast_in_dim",
        ir_type(out_aval),
        (x,),
        {"broadcast_dimensions": ir.DenseI64ArrayAttr.get(list(dims))},
    )


def reshape(x, out_aval):
    """stablehlo.reshape, or dynamic_reshape when ``out_aval`` has symbolic dimensions."""
    if not all(type(d) is int for d in out_aval.shape):
        from ..export.poly_lowering import shape_tensor

        return hlo.dynamic_reshape(ir_type(out_aval), x, shape_tensor(out_aval.shape))
    return op_result("stablehlo.reshape", ir_type(out_aval), (x,))


def slice_op(x, out_aval, starts, limits, strides):
    """stablehlo.slice, or real_dynamic_slice when a bound is symbolic."""
    if not all(type(i) is int for i in (*starts, *limits)):
        from ..export.poly_lowering import shape_tensor

        return hlo.real_dynamic_slice(
            ir_type(out_aval), x, shape_tensor(starts), shape_tensor(limits), shape_tensor(strides)
        )
    return hlo.slice(x, list(starts), list(limits), list(strides))


def iota(out_aval, dimension):
    """stablehlo.iota, or dynamic_iota when ``out_aval`` has symbolic dimensions."""
    if not all(type(d) is int for d in out_aval.shape):
        from ..export.poly_lowering import shape_tensor

        return hlo.dynamic_iota(ir_type(out_aval), shape_tensor(out_aval.shape), dimension)
    return hlo.iota(ir_type(out_aval), dimension)


def convert(x, aval_in, dtype):
    dtype = np.dtype(dtype)
    if aval_in.dtype == dtype:
        return x
    return op_result("stablehlo.convert", tensor_type(aval_in.shape, dtype), (x,))


def compare(x, y, direction, aval, total_order=False):
    """``hlo.compare`` typed for ``aval``: floats with IEEE semantics, or in XLA's total
    order (-NaN < -inf < ... < -0 < 0 < ... < inf < NaN) with ``total_order``."""
    kind = (
        ("TOTALORDER" if total_order else "FLOAT")
        if dtypes.is_inexact(aval.dtype)
        else (
            "UNSIGNED" if (dtypes.is_unsigned(aval.dtype) or aval.dtype == np.bool_) else "SIGNED"
        )
    )
    return hlo.compare(
        x,
        y,
        hlo.ComparisonDirectionAttr.get(direction),
        compare_type=hlo.ComparisonTypeAttr.get(kind),
    )


# ---------------------------------------------------------------------------- contexts


class ModuleContext:
    def __init__(self, module, platform, name):
        self.module = module
        self.platform = platform
        self.name = name
        self.symbols = {}  # id(jaxpr) -> function name
        self.symbol_table = None  # see module_symbol_table
        self.keepalive = []
        self.eqn_count = 0
        self.locations = {}  # SourceInfo -> its MLIR location
        # a literal's key (see _literal_constant) -> its constant's (result types, attributes)
        self.literal_attrs = {}
        self.function = name  # the func.func being emitted
        # one (path, primitive, tag, location, function, eqn) per lowered equation
        self.eqn_records = []
        # a sub-jaxpr pruned of dead code -> its equations' indices in the traced one
        self.eqn_indices = {}
        # (primitive, platform, avals in, params) -> the function a lowering rule registered
        # through engine.interpreters.mlir was emitted into (see mlir._PlatformRules)
        self.lowering_cache = {}


class RuleContext:
    __slots__ = ("module_ctx", "avals_in", "avals_out", "eqn_path", "source_info")

    def __init__(self, module_ctx, avals_in, avals_out, eqn_path, source_info):
        self.module_ctx, self.avals_in, self.avals_out = module_ctx, avals_in, avals_out
        self.eqn_path, self.source_info = eqn_path, source_info

    @property
    def platform(self):
        return self.module_ctx.platform


def eqn_tag(prim_name, path):
    return f"{prim_name}.eqn{'_'.join(map(str, path))}"


def _location(source_info, tag=None, cache=None):
    """The MLIR location of an equation's ops: its tag around the user's source line.
    ``cache`` (one per module) reuses the source part, shared by many equations."""
    key = (
        (source_info.file, source_info.line, source_info.function)
        if source_info is not None
        else None
    )
    loc = cache.get(key) if cache is not None else None
    if loc is None:
        if source_info is not None:
            loc = ir.Location.file(source_info.file, source_info.line, 1)
            # a frame around the file location carries the function name into HLO's stack
            loc = ir.Location.name(source_info.function, childLoc=loc)
        else:
            loc = ir.Location.unknown()
        if cache is not None:
            cache[key] = loc
    if tag is not None:
        loc = ir.Location.name(tag, childLoc=loc)
    return loc


def jaxpr_subcomp(mctx, jaxpr, consts, args, path=(), eqn_indices=None):
    """Emit the ops of ``jaxpr`` at the current insertion point; returns its outputs.
    ``eqn_indices``: each equation's index in the jaxpr it was pruned from (dead code
    removed before lowering keeps the traced jaxpr's equation paths)."""
    env = {}

    def read(v):
        if type(v) is Literal:
            return _literal_constant(mctx, v)
        return env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    tag_prefix = f"{'_'.join(map(str, path))}_" if path else ""  # eqn_tag's, per equation
    records, locations, function = mctx.eqn_records, mctx.locations, mctx.function
    if eqn_indices is None and mctx.eqn_indices:
        eqn_indices = mctx.eqn_indices.get(jaxpr)
    numbered = enumerate(jaxpr.eqns) if eqn_indices is None else zip(eqn_indices, jaxpr.eqns)
    for i, eqn in numbered:
        prim = eqn.primitive
        if prim.lowering is None:
            raise NotImplementedError(
                f"MLIR translation rule for primitive '{prim.name}' not found for "
                f"platform {mctx.platform}"
            )
        eqn_path = path + (i,)
        tag = f"{prim.name}.eqn{tag_prefix}{i}"
        src = eqn.source_info
        scope = getattr(src, "name_stack", "")  # named_scope: XLA's op_name prefix
        # _location's work, inline: this runs for every equation
        base = locations.get((src.file, src.line, src.function) if src is not None else None)
        if base is None:
            base = _location(src, None, locations)
        loc = ir.Location.name(f"{scope}/{tag}" if scope else tag, childLoc=base)
        records.append((eqn_path, prim.name, tag, loc, function, eqn))
        invars, outvars = eqn.invars, eqn.outvars
        with loc:
            ins = [_literal_constant(mctx, v) if type(v) is Literal else env[v] for v in invars]
            ctx = RuleContext(
                mctx, [v.aval for v in invars], [v.aval for v in outvars], eqn_path, src
            )
            outs = prim.lowering(ctx, *ins, **eqn.params)
        mctx.eqn_count += 1
        if not prim.multiple_results:
            if len(outvars) == 1:
                env[outvars[0]] = outs.result if isinstance(outs, ir.OpView) else outs
                continue
            outs = [outs]
        outs = [o.result if isinstance(o, ir.OpView) else o for o in outs]
        if len(outs) != len(outvars):
            raise RuntimeError(
                f"lowering of {prim.name} produced {len(outs)} values, expected {len(outvars)}"
            )
        env.update(zip(outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def lower_function(
    mctx,
    name,
    closed,
    public=False,
    path=(),
    arg_attrs=None,
    result_names=None,
    eqn_indices=None,
):
    """Emit ``closed`` as a func.func; its consts are embedded as constants."""
    jaxpr = closed.jaxpr
    _warn_large_constants(closed.consts)
    in_types = [ir_type(a) for a in closed.in_avals]
    out_types = [ir_type(a) for a in closed.out_avals]
    with ir.InsertionPoint(mctx.module.body):
        fn = func_dialect.FuncOp(name, ir.FunctionType.get(in_types, out_types))
    fn.attributes["sym_visibility"] = ir.StringAttr.get("public" if public else "private")
    name = ir.StringAttr(module_symbol_table(mctx).insert(fn)).value
    if arg_attrs is not None:
        fn.arg_attrs = ir.ArrayAttr.get([ir.DictAttr.get(a) for a in arg_attrs])
    if result_names:
        fn.result_attrs = ir.ArrayAttr.get(
            [ir.DictAttr.get({"jax.result_info": ir.StringAttr.get(n)}) for n in result_names]
        )
    block = fn.add_entry_block()
    outer, mctx.function = mctx.function, name
    try:
        with ir.InsertionPoint(block):
            avals = [v.aval for v in jaxpr.constvars]
            consts = closed_over_constants(closed.consts, avals)
            outs = jaxpr_subcomp(mctx, jaxpr, consts, list(block.arguments), path, eqn_indices)
            func_dialect.ReturnOp(outs)
    finally:
        mctx.function = outer
    return fn


def lower_jaxpr_to_module(
    closed, name="main", platform="cpu", donated=(), arg_names=None, result_names=None
):
    """A StableHLO module whose public @main computes ``closed``: (module, MLIR context).
    ``lower_jaxpr_with_info`` also returns what became of each equation."""
    module, ctx, _ = lower_jaxpr_with_info(
        closed, name, platform, donated, arg_names=arg_names, result_names=result_names
    )
    return module, ctx


def lower_jaxpr_with_info(
    closed: core.ClosedJaxpr,
    name: str = "main",
    platform: str = "cpu",
    donated: Sequence[int] = (),
    arg_names: Sequence[str] | None = None,
    result_names: Sequence[str] | None = None,
    eqn_indices: Sequence[int] | None = None,
    aliases: dict[int, int] | None = None,
    sub_eqn_indices: dict | None = None,
) -> tuple[ir.Module, ir.Context, LoweringInfo]:
    """(module, MLIR context, ``LoweringInfo``): the StableHLO module whose public @main
    computes ``closed``, and the map between its equations and the module's ops (built
    on first use, or at once when someone listens for ``events.EqnLowered``)."""
    ctx = runtime.make_mlir_context()
    try:
        with ctx, ir.Location.unknown():
            module = ir.Module.create()
            # JAX names the module after "jit(name)", odd characters as "_", trailing ones cut
            module.operation.attributes["sym_name"] = ir.StringAttr.get(
                _symbol_name(f"jit_{name}").rstrip("_")
            )
            mctx = ModuleContext(module, platform, name)
            if sub_eqn_indices:  # (the same for sub-jaxprs pruned of dead code)
                mctx.eqn_indices.update(sub_eqn_indices)
            # JAX's @main always carries its arguments' attributes ([{}, ...] or [])
            attrs: list[dict] = [{} for _ in closed.in_avals]
            if donated:
                # a donated argument that ``aliases`` pairs with a result is aliased to it
                # (JAX's tf.aliasing_output); any other is a donor XLA may reuse
                aliases = aliases or {}
                i32 = ir.IntegerType.get_signless(32)
                attrs = [
                    (
                        {"tf.aliasing_output": ir.IntegerAttr.get(i32, aliases[i])}
                        if i in aliases
                        else {"jax.buffer_donor": ir.BoolAttr.get(True)}
                    )
                    if i in donated
                    else {}
                    for i in range(len(closed.in_avals))
                ]
            lower_function(
                mctx,
                "main",
                closed,
                public=True,
                arg_attrs=attrs,
                result_names=result_names,
                eqn_indices=eqn_indices,
            )
    finally:
        release_type_cache(ctx)
    if getattr(mctx, "needs_shape_refinement", False):  # it calls a polymorphic export
        from ..export.poly_lowering import refine_module

        module = refine_module(module, ctx)
    info = LoweringInfo(module, ctx, mctx.eqn_records)
    if _listening:
        _announce(info)
    return module, ctx, info


def mark_single_device(module) -> None:
    """JAX's module attributes for a program on one device (a mesh's annotation sets its
    own)."""
    with module.context:
        i32 = ir.IntegerType.get_signless(32)
        module.operation.attributes["mhlo.num_partitions"] = ir.IntegerAttr.get(i32, 1)
        module.operation.attributes["mhlo.num_replicas"] = ir.IntegerAttr.get(i32, 1)


def module_to_text(module, debug_info=True):
    return module.operation.get_asm(enable_debug_info=debug_info)


def _symbol_name(name):
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)


def module_symbol_table(mctx):
    """The module's MLIR symbol table: every private function is inserted through it, so
    a repeated name is made unique as JAX's are (``inner``, ``inner_0``, ``inner_1``: one
    counter per module) and the user's name is kept as written (``"<lambda>"``)."""
    table = mctx.symbol_table
    if table is None:
        table = mctx.symbol_table = ir.SymbolTable(mctx.module.operation)
    return table


def call_function(ctx, closed, name, args):
    """Lower a nested jaxpr once per module as a private function and call it."""
    mctx = ctx.module_ctx
    key = id(closed.jaxpr)
    sym = mctx.symbols.get(key)
    if sym is None:
        mctx.keepalive.append(closed)
        sym = lower_function(mctx, name, closed, path=ctx.eqn_path).name.value
        mctx.symbols[key] = sym
    out_types = [ir_type(a) for a in ctx.avals_out]
    return func_dialect.CallOp(out_types, ir.FlatSymbolRefAttr.get(sym), list(args)).results


def lower_jaxpr_inline(ctx, closed, args, sub=None):
    """Emit a sub-jaxpr's ops inline (for control-flow bodies). ``sub`` numbers the
    sub-jaxpr (in printed order) when the equation has several, so tags stay unique:
    ``sin.eqn4_s1_0`` is equation 0 of the second sub-jaxpr of equation 4."""
    consts = [_closed_over_constant(c, core.get_aval(c)) for c in closed.consts]
    path = ctx.eqn_path + ((f"s{sub}",) if sub is not None else ())
    return jaxpr_subcomp(ctx.module_ctx, closed.jaxpr, consts, list(args), path)


# ---------------------------------------------------------------------------- what each equation became


@dataclasses.dataclass(frozen=True)
class LoweredOp:
    """One MLIR operation of a lowered module.

    ``id``: ``"<function>:<k>"``, the k-th operation of that func.func in pre-order (the
    order the module prints them; an operation's region ops follow it, although the
    printer's compact forms may elide such a region, e.g. a reduction's body).
    ``parent``: the id of the operation whose region holds it (None at the function's
    top level). ``eqn_path``: the equation it belongs to (None for ops no equation
    made, such as the function's return or its embedded constants)."""

    id: str
    name: str
    function: str
    parent: str | None
    eqn_path: tuple | None


@dataclasses.dataclass(frozen=True)
class EqnLowering:
    """What one equation became: the ops it produced (ids, in printed order)."""

    path: tuple
    primitive: str
    tag: str
    function: str
    source_info: SourceInfo | None
    eqn: JaxprEqn
    op_ids: tuple[str, ...]


class LoweringInfo:
    """The map between a lowered module's equations and its MLIR ops.

    ``eqns``: {eqn path: ``EqnLowering``} (the path as in the ``<prim>.eqn<path>``
    location tags: indices, with ``"s<k>"`` for the k-th sub-jaxpr of an equation);
    ``ops``: {op id: ``LoweredOp``}, every op of every function in printed order;
    ``functions``: the func.func names in printed order. Built from the module's
    operations and the locations the lowering gave them (no text is parsed), on first
    use: lowering for execution alone never pays for it."""

    def __init__(self, module: ir.Module, context: ir.Context, records: list) -> None:
        self._module, self._context, self._records = module, context, records
        self._eqns: dict[tuple, EqnLowering] | None = None
        self._ops: dict[str, LoweredOp] = {}
        self._functions: list[str] = []

    @property
    def eqns(self) -> dict[tuple, EqnLowering]:
        if self._eqns is None:
            self._build()
        assert self._eqns is not None
        return self._eqns

    @property
    def ops(self) -> dict[str, LoweredOp]:
        self.eqns  # noqa: B018 - builds on first use
        return self._ops

    @property
    def functions(self) -> list[str]:
        self.eqns  # noqa: B018
        return self._functions

    def ops_of(self, path: Sequence[Any]) -> list[LoweredOp]:
        """The ops equation ``path`` produced, in printed order."""
        e = self.eqns.get(tuple(path))
        return [self._ops[i] for i in e.op_ids] if e is not None else []

    def eqn_of(self, op_id: str) -> EqnLowering | None:
        """The equation that produced op ``op_id`` (None if none did)."""
        op = self.ops.get(op_id)
        return self.eqns.get(op.eqn_path) if op is not None and op.eqn_path is not None else None

    def __repr__(self) -> str:
        return f"<LoweringInfo: {len(self.eqns)} equations, {len(self.ops)} ops>"

    def _build(self) -> None:
        # Each equation's ops carry the location object the lowering made for it; MLIR
        # uniques locations, so equal printed forms are the same location.
        by_loc: dict[str, tuple] = {}
        for path, _prim, _tag, loc, _fn, _eqn in self._records:
            by_loc.setdefault(str(loc), path)
        op_ids: dict[tuple, list[str]] = {}
        with self._context:
            for fop in self._module.body.operations:
                fname = ir.StringAttr(fop.attributes["sym_name"]).value
                self._functions.append(fname)
                self._walk_function(fop.operation, fname, by_loc, op_ids)
        eqns: dict[tuple, EqnLowering] = {}
        for path, prim, tag, _loc, fn, eqn in self._records:
            if path not in eqns:
                ids = tuple(op_ids.get(path, ()))
                eqns[path] = EqnLowering(path, prim, tag, fn, eqn.source_info, eqn, ids)
        self._eqns = eqns

    def _walk_function(self, fop: Any, fname: str, by_loc: dict, op_ids: dict) -> None:
        k = 0
        parents: list[tuple[Any, str]] = []  # (operation, id) of the open region holders

        def visit(op: Any) -> Any:
            nonlocal k
            op = op.operation
            if op == fop:
                return ir.WalkResult.ADVANCE
            while parents and not _is_ancestor(parents[-1][0], op):
                parents.pop()
            oid = f"{fname}:{k}"
            k += 1
            path = by_loc.get(str(op.location))
            parent = parents[-1][1] if parents else None
            self._ops[oid] = LoweredOp(oid, op.name, fname, parent, path)
            if path is not None:
                op_ids.setdefault(path, []).append(oid)
            if len(op.regions):
                parents.append((op, oid))
            return ir.WalkResult.ADVANCE

        fop.walk(visit, walk_order=ir.WalkOrder.PRE_ORDER)


def _is_ancestor(holder: Any, op: Any) -> bool:
    p = op.parent
    while p is not None:
        if p == holder:
            return True
        p = p.parent
    return False


def _announce(info: LoweringInfo) -> None:
    """Emit ``EqnLowered`` for each equation of a module just lowered."""
    if not events.wanted(events.EqnLowered):
        return
    for e in info.eqns.values():
        events.emit(
            events.EqnLowered,
            eqn_path=e.path,
            primitive=e.primitive,
            ops=tuple(info.ops[i].name for i in e.op_ids),
            op_ids=e.op_ids,
            tag=e.tag,
            function=e.function,
            source_info=e.source_info,
            eqn=e.eqn,
        )
