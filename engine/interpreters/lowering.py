"""Lowering jaxprs to StableHLO through ``jaxlib.mlir``.

Every equation's ops carry a named MLIR location ``<primitive>.eqn<path>`` wrapped
around the user's file location, so XLA's HLO names and metadata point back both to
the equation (exactly) and to the Python line."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes, runtime
from ..core import Literal

# ---------------------------------------------------------------------------- types and constants


def ir_element_type(dtype):
    dtype = np.dtype(dtype)
    if dtype == dtypes.float0 or dtype == np.bool_:
        return ir.IntegerType.get_signless(1)
    if dtype == dtypes.bfloat16:
        return ir.BF16Type.get()
    kind = dtype.kind
    if kind == "f":
        return {2: ir.F16Type.get, 4: ir.F32Type.get, 8: ir.F64Type.get}[dtype.itemsize]()
    if kind == "i":
        return ir.IntegerType.get_signless(8 * dtype.itemsize)
    if kind == "u":
        return ir.IntegerType.get_unsigned(8 * dtype.itemsize)
    if kind == "c":
        return ir.ComplexType.get(ir_element_type(dtypes.real_dtype(dtype)))
    raise TypeError(f"cannot lower dtype {dtype}")


def ir_type(aval):
    return ir.RankedTensorType.get(aval.shape, ir_element_type(aval.dtype))


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
    if dtype == np.bool_:
        return ir.DenseElementsAttr.get(
            np.packbits(val, bitorder="little"), type=elt, shape=aval.shape
        )
    if dtype == dtypes.bfloat16:
        val = val.view(np.uint16)
    return ir.DenseElementsAttr.get(val, type=elt, shape=aval.shape)


def constant(val, aval):
    """A stablehlo.constant of ``aval`` holding ``val`` (splat when uniform)."""
    return hlo.constant(_dense_attr(val, aval))


def full_like_aval(val, aval):
    return constant(np.asarray(val, aval.dtype), aval)


# ---------------------------------------------------------------------------- op helpers for rules


def broadcast_to(x, aval_in, shape):
    """Broadcast a rank-0 or same-rank-with-size-1 value to ``shape``."""
    if tuple(aval_in.shape) == tuple(shape):
        return x
    out = aval_in.update(shape=shape)
    if aval_in.ndim == 0:
        dims = []
    else:
        dims = list(range(len(shape) - aval_in.ndim, len(shape)))
        if any(
            d != 1 and d != s for d, s in zip(aval_in.shape, shape[len(shape) - aval_in.ndim :])
        ):
            raise TypeError(f"cannot broadcast {aval_in.str_short()} to {shape}")
    return hlo.broadcast_in_dim(ir_type(out), x, dims)


def convert(x, aval_in, dtype):
    if aval_in.dtype == np.dtype(dtype):
        return x
    return hlo.convert(ir_type(aval_in.update(dtype=dtype)), x)


def compare(x, y, direction, aval):
    kind = (
        "FLOAT"
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
        self.keepalive = []
        self.eqn_count = 0
        self.locations = {}  # SourceInfo -> its MLIR location


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
    loc = cache.get(source_info) if cache is not None else None
    if loc is None:
        if source_info is not None:
            loc = ir.Location.file(source_info.file, source_info.line, 1)
            # a frame around the file location carries the function name into HLO's stack
            loc = ir.Location.name(source_info.function, childLoc=loc)
        else:
            loc = ir.Location.unknown()
        if cache is not None:
            cache[source_info] = loc
    if tag is not None:
        loc = ir.Location.name(tag, childLoc=loc)
    return loc


def jaxpr_subcomp(mctx, jaxpr, consts, args, path=()):
    """Emit the ops of ``jaxpr`` at the current insertion point; returns its outputs."""
    env = {}

    def read(v):
        if type(v) is Literal:
            return constant(v.val, v.aval)
        return env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for i, eqn in enumerate(jaxpr.eqns):
        prim = eqn.primitive
        if prim.lowering is None:
            raise NotImplementedError(f"No lowering rule for primitive '{prim.name}'")
        eqn_path = path + (i,)
        with _location(eqn.source_info, eqn_tag(prim.name, eqn_path), mctx.locations):
            ins = [read(v) for v in eqn.invars]
            ctx = RuleContext(
                mctx,
                [v.aval for v in eqn.invars],
                [v.aval for v in eqn.outvars],
                eqn_path,
                eqn.source_info,
            )
            outs = prim.lowering(ctx, *ins, **eqn.params)
        mctx.eqn_count += 1
        if not prim.multiple_results:
            outs = [outs]
        outs = [o.result if isinstance(o, ir.OpView) else o for o in outs]
        if len(outs) != len(eqn.outvars):
            raise RuntimeError(
                f"lowering of {prim.name} produced {len(outs)} values, expected {len(eqn.outvars)}"
            )
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def lower_function(mctx, name, closed, public=False, path=(), arg_attrs=None, result_names=None):
    """Emit ``closed`` as a func.func; its consts are embedded as constants."""
    jaxpr = closed.jaxpr
    in_types = [ir_type(a) for a in closed.in_avals]
    out_types = [ir_type(a) for a in closed.out_avals]
    with ir.InsertionPoint(mctx.module.body):
        fn = func_dialect.FuncOp(name, ir.FunctionType.get(in_types, out_types))
    fn.attributes["sym_visibility"] = ir.StringAttr.get("public" if public else "private")
    if arg_attrs:
        fn.arg_attrs = ir.ArrayAttr.get([ir.DictAttr.get(a) for a in arg_attrs])
    if result_names:
        fn.result_attrs = ir.ArrayAttr.get(
            [ir.DictAttr.get({"jax.result_info": ir.StringAttr.get(n)}) for n in result_names]
        )
    block = fn.add_entry_block()
    with ir.InsertionPoint(block):
        consts = [constant(np.asarray(c), core.get_aval(c)) for c in closed.consts]
        outs = jaxpr_subcomp(mctx, jaxpr, consts, list(block.arguments), path)
        func_dialect.ReturnOp(outs)
    return fn


def lower_jaxpr_to_module(
    closed, name="main", platform="cpu", donated=(), arg_names=None, result_names=None
):
    """A StableHLO module whose public @main computes ``closed``."""
    ctx = runtime.make_mlir_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.create()
        module.operation.attributes["sym_name"] = ir.StringAttr.get(_symbol_name(f"jit_{name}"))
        mctx = ModuleContext(module, platform, name)
        attrs = None
        if donated:
            attrs = [
                {"jax.buffer_donor": ir.BoolAttr.get(True)} if i in donated else {}
                for i in range(len(closed.in_avals))
            ]
        lower_function(
            mctx, "main", closed, public=True, arg_attrs=attrs, result_names=result_names
        )
    return module, ctx


def module_to_text(module, debug_info=True):
    return module.operation.get_asm(enable_debug_info=debug_info)


def _symbol_name(name):
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name)


def call_function(ctx, closed, name, args):
    """Lower a nested jaxpr once per module as a private function and call it."""
    mctx = ctx.module_ctx
    key = id(closed.jaxpr)
    sym = mctx.symbols.get(key)
    if sym is None:
        sym = _symbol_name(name)
        taken = set(mctx.symbols.values())
        base, n = sym, 0
        while sym in taken or sym == "main":
            n += 1
            sym = f"{base}_{n}"
        mctx.symbols[key] = sym
        mctx.keepalive.append(closed)
        lower_function(mctx, sym, closed, path=ctx.eqn_path)
    out_types = [ir_type(a) for a in ctx.avals_out]
    return func_dialect.CallOp(out_types, ir.FlatSymbolRefAttr.get(sym), list(args)).results


def lower_jaxpr_inline(ctx, closed, args, sub=None):
    """Emit a sub-jaxpr's ops inline (for control-flow bodies). ``sub`` numbers the
    sub-jaxpr (in printed order) when the equation has several, so tags stay unique:
    ``sin.eqn4_s1_0`` is equation 0 of the second sub-jaxpr of equation 4."""
    consts = [constant(np.asarray(c), core.get_aval(c)) for c in closed.consts]
    path = ctx.eqn_path + ((f"s{sub}",) if sub is not None else ())
    return jaxpr_subcomp(ctx.module_ctx, closed.jaxpr, consts, list(args), path)
