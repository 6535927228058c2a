"""Lowering with symbolic dimensions, and bringing exported modules into a module.

An exported polymorphic module follows JAX's calling convention: its public ``@main``
takes arrays with dynamic (``?``) dimensions and computes each dimension variable itself
(``stablehlo.get_dimension_size`` of an argument dimension that is that variable). While
such a module is lowered, ``current_env`` maps each variable to its ``tensor<i64>``
value, which the lowering's hooks (``engine/interpreters/lowering.py``: ``ir_type`` and
``broadcast_to``) use for dynamic types and ``dynamic_broadcast_in_dim``.

A module that calls a polymorphic exported function gets its shapes refined (jaxlib's
``refine_polymorphic_shapes``) before it is compiled, as JAX does."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, runtime
from ..interpreters import lowering
from . import dim_divmod, shape_poly

_state = threading.local()
_jaxlib_serialize = runtime.portable_artifact_serializer()


def current_env() -> dict | None:
    return getattr(_state, "env", None)


@contextlib.contextmanager
def dim_env(env: dict) -> Iterator[None]:
    prev = current_env()
    _state.env = env
    try:
        yield
    finally:
        _state.env = prev


def ir_shape(shape: Sequence[Any]) -> list[int]:
    """The MLIR shape of ``shape``: symbolic dimensions become dynamic (``?``)."""
    dyn = ir.ShapedType.get_dynamic_size()
    return [d if isinstance(d, int) else dyn for d in shape]


def dim_dtype() -> Any:
    """The dtype of a dimension's value: int32, or int64 under x64 (JAX's
    ``core.dim_value_dtype``)."""
    from .. import dtypes

    return np.dtype(dtypes.default_int_dtype())


def _dim_type() -> Any:
    return lowering.ir_type(core.ShapedArray((), dim_dtype()))


class _I64:
    """A dimension's value (a scalar tensor of ``dim_dtype()``) with the arithmetic
    ``shape_poly.evaluate`` needs.

    ``weak``: a dimension variable's own value (or sums and products of them), as JAX
    traces them while lowering a shape (weakly typed): meeting an integer constant, JAX
    first converts it to the strong type (a ``convert`` to the same type), and names
    each op after its primitive ("convert_element_type", "mul", "add")."""

    def __init__(self, v: Any, weak: bool = False, named: bool = False) -> None:
        self.v, self.weak, self.named = v, weak, named

    @staticmethod
    def lift(x: Any) -> _I64:
        if isinstance(x, _I64):
            return x
        if isinstance(x, _LazySize):
            return x.value()
        c = hlo.constant(ir.DenseElementsAttr.get(np.array(x, dim_dtype())))
        return _I64(getattr(c, "result", c))

    def _binary(self, prim: str, op: Any, o: Any, reverse: bool = False) -> _I64:
        other_weak = isinstance(o, _I64) and o.weak
        both_weak = self.weak and other_weak
        named = self.named or (isinstance(o, _I64) and o.named)
        a = self
        if self.weak and not both_weak:  # converted before the constant is made, as JAX
            a = _I64(_named("convert_element_type", lambda: hlo.convert(self.v.type, self.v)))
        b = other = _I64.lift(o)
        if other_weak and not both_weak:
            b = _I64(_named("convert_element_type", lambda: hlo.convert(other.v.type, other.v)))
        if reverse:
            a, b = b, a
        return _I64(_named(prim, lambda: op(a.v, b.v), named), both_weak, named)

    def __add__(self, o: Any) -> _I64:
        if isinstance(o, int) and o == 0:
            return self
        return self._binary("add", hlo.add, o)

    __radd__ = __add__

    def __mul__(self, o: Any) -> _I64:
        if isinstance(o, int) and o == 1:
            return self
        return self._binary("mul", hlo.multiply, o)

    __rmul__ = __mul__

    def __sub__(self, o: Any) -> _I64:
        if isinstance(o, int) and o == 0:
            return self
        return self._binary("sub", hlo.subtract, o)

    def __rsub__(self, o: Any) -> _I64:
        return self._binary("sub", hlo.subtract, o, reverse=True)

    def minmax(self, kind: str, o: Any) -> _I64:
        op = hlo.maximum if kind == "max" else hlo.minimum
        return self._binary(kind, op, o)

    def _divmod(self, o: Any, reverse: bool = False) -> tuple[_I64, _I64]:
        a, b = self, _I64.lift(o)
        if reverse:
            a, b = b, a
        q, r = dim_divmod.divmod_values(a.v, b.v, (a.weak, b.weak))
        named = a.named or b.named
        return _I64(q, named=named), _I64(r, named=named)

    def __floordiv__(self, o: Any) -> _I64:
        if dim_divmod.active():  # JAX's calls of jnp.divmod's functions
            return self._divmod(o)[0]
        a, b = self.v, _I64.lift(o).v
        # floor division: truncated division, minus one when the signs differ and inexact
        q = hlo.divide(a, b)
        r = hlo.remainder(a, b)
        zero = _I64.lift(0).v
        scalar = core.ShapedArray((), dim_dtype())
        inexact = lowering.compare(r, zero, "NE", scalar)
        r_neg = lowering.compare(r, zero, "LT", scalar)
        b_neg = lowering.compare(b, zero, "LT", scalar)
        signs = lowering.compare(r_neg, b_neg, "NE", core.ShapedArray((), np.bool_))
        fix = hlo.and_(inexact, signs)
        return _I64(hlo.select(fix, hlo.subtract(q, _I64.lift(1).v), q))

    def __rfloordiv__(self, o: Any) -> _I64:
        if dim_divmod.active():
            return self._divmod(o, reverse=True)[0]
        return _I64.lift(o) // self

    def __mod__(self, o: Any) -> _I64:
        if dim_divmod.active():
            return self._divmod(o)[1]
        q = self // o
        return _I64(hlo.subtract(self.v, hlo.multiply(q.v, _I64.lift(o).v)))

    def __rmod__(self, o: Any) -> _I64:
        if dim_divmod.active():
            return self._divmod(o, reverse=True)[1]
        return _I64.lift(o) % self


def _named(prim: str, make: Any, named: bool = True) -> Any:
    """``make()``'s op under a location naming ``prim`` around the current one (turned
    into JAX's ``jit(f)/prim`` by ``locations.apply_jax_locations``)."""
    if not named:
        return make()
    with ir.Location.name(prim, childLoc=ir.Location.current):
        return make()


def dim_value(d: Any) -> Any:
    """A scalar tensor (``dim_dtype()``) holding dimension ``d`` under the current
    environment."""
    env = current_env()
    if env is None and isinstance(d, shape_poly.DimExpr):
        raise NotImplementedError(
            f"symbolic dimension '{d}' met outside a shape-polymorphic export lowering"
        )
    values = {k: _I64(v, weak=True, named=True) for k, v in (env or {}).items()}
    return _I64.lift(shape_poly.evaluate(d, values)).v


def convert_to(t: Any, v: Any) -> Any:
    """``v`` as type ``t`` (no op when it already is)."""
    return v if v.type == t else hlo.convert(t, v)


def shape_tensor(shape: Sequence[Any], dtype: Any = np.int32) -> Any:
    """A 1-D tensor of ``shape``'s dimensions for dynamic_* ops: JAX's int32 (a static
    dimension a ``tensor<1xi32>`` constant, a symbolic one its value reshaped), joined
    by one concatenate."""
    dtype = np.dtype(dtype)
    scalar = lowering.ir_type(core.ShapedArray((), dtype))
    t1 = lowering.ir_type(core.ShapedArray((1,), dtype))
    # JAX first evaluates every dimension as a value (a static one as a scalar constant
    # it then leaves unused: the writer drops it, but it decides where the kept
    # constants land and which location they keep), then builds the tensor
    values = []
    for d in shape:
        if isinstance(d, shape_poly.DimExpr):
            values.append(dim_value(d))
        else:
            _I64.lift(int(d))
            values.append(d)
    parts = []
    for d, v in zip(shape, values):
        if isinstance(d, shape_poly.DimExpr):
            parts.append(hlo.reshape(t1, convert_to(scalar, v)))
        else:
            parts.append(hlo.constant(ir.DenseElementsAttr.get(np.array([d], dtype))))
    if not parts:
        return hlo.constant(ir.DenseElementsAttr.get(np.zeros((0,), dtype)))
    return parts[0] if len(parts) == 1 else hlo.concatenate(parts, 0)


def dynamic_broadcast(x: Any, out_aval: Any, dims: Sequence[int]) -> Any:
    return hlo.dynamic_broadcast_in_dim(
        lowering.ir_type(out_aval), x, shape_tensor(out_aval.shape), list(dims)
    )


# ---------------------------------------------------------------------------- dimensions as values

dim_as_value_p = core.Primitive("dim_as_value")


@dim_as_value_p.def_abstract_eval
def _dim_as_value_abstract_eval(*, dim: Any) -> core.ShapedArray:
    from .. import dtypes

    return core.ShapedArray((), dtypes.default_int_dtype(), weak_type=True)


def _dim_as_value_lowering(ctx: Any, *, dim: Any) -> Any:
    return convert_to(lowering.ir_type(ctx.avals_out[0]), dim_value(dim))


dim_as_value_p.lowering = _dim_as_value_lowering


@dim_as_value_p.def_impl
def _dim_as_value_impl(*, dim: Any) -> Any:
    # a symbolic dimension has no value outside an export (JAX's primitive has no impl)
    raise NotImplementedError(
        "Evaluation rule for 'dim_as_value' is not implemented. It seems that you are "
        "using shape polymorphism outside jax.export."
    )


def dimension_as_value(d: Any) -> Any:
    """A symbolic dimension as a (traced) integer scalar, e.g. the divisor of a mean
    over a polymorphic batch; an int stays an int."""
    if not isinstance(d, shape_poly.DimExpr):
        return d
    return dim_as_value_p.bind(dim=d)


# ---------------------------------------------------------------------------- export lowering


def _dim_values(avals: Sequence[Any], args: Sequence[Any], sizes: dict | None = None) -> dict:
    """Each dimension variable's value (``dim_dtype()``), solved from the arguments'
    dimension sizes (``stablehlo.get_dimension_size``; ``sizes`` already read)."""
    pairs = []
    for i, (a, x) in enumerate(zip(avals, args)):
        for j, d in enumerate(a.shape):
            if isinstance(d, shape_poly.DimExpr):
                got = sizes.get((i, j)) if sizes else None
                pairs.append((d, got if got is not None else _LazySize(x, j)))
    env = shape_poly.solve_dim_vars(pairs)
    missing = [v for v in shape_poly.all_dim_vars([a.shape for a in avals]) if v not in env]
    if missing:
        raise ValueError(
            f"Cannot solve for values of dimension variables {missing}. We can only solve "
            "linear uni-variate constraints (an input dimension like 'b' or '2*b + 1')."
        )
    return {k: _I64.lift(v).v for k, v in env.items()}


class _LazySize:
    """An argument's dimension size, read (``get_dimension_size``, as ``dim_dtype()``)
    on first use; later uses share that op."""

    def __init__(self, x: Any, dim: int, i64: Any = None) -> None:
        self.x, self.dim = x, dim
        self._v: _I64 | None = None

    def value(self) -> _I64:
        if self._v is None:
            with ir.Location.name("dimension_size"):  # JAX's location for it
                size = hlo.get_dimension_size(self.x, self.dim)
                self._v = _I64(convert_to(_dim_type(), size), weak=True, named=True)
        return self._v

    def __sub__(self, o: Any) -> _I64:
        return self.value() - o

    def __add__(self, o: Any) -> _I64:
        return self.value() + o


# calls whose body is lowered as a function of its own; custom rules are no longer
# needed once a program is lowered
_INLINED = ("jit", "custom_jvp_call", "custom_vjp_call", "closed_call")


def _sub_jaxprs(params: dict) -> Iterator[Any]:
    for v in params.values():
        for x in v if type(v) is tuple else (v,):
            if isinstance(x, core.ClosedJaxpr):
                yield x


def _has_nested_calls(jaxpr: Any) -> bool:
    return any(
        e.primitive.name in _INLINED
        or any(_has_nested_calls(j.jaxpr) for j in _sub_jaxprs(e.params))
        for e in jaxpr.eqns
    )


def _inline_in_param(v: Any) -> Any:
    if type(v) is tuple and any(isinstance(x, core.ClosedJaxpr) for x in v):  # branches
        return tuple(_inline_in_param(x) for x in v)
    return inline_nested_calls(v) if isinstance(v, core.ClosedJaxpr) else v


def inline_nested_calls(closed: Any) -> Any:
    """``closed`` retraced with its nested ``jit`` calls inlined: a nested function
    would need the dimension variables passed in (JAX's dimension arguments), so a
    polymorphic export emits one function instead."""
    if not _has_nested_calls(closed.jaxpr):
        return closed
    from .. import api

    def run(jaxpr: Any, consts: Any, *args: Any) -> list:
        env: dict = {}

        def read(v: Any) -> Any:
            return v.val if type(v) is core.Literal else env[v]

        env.update(zip(jaxpr.constvars, consts))
        env.update(zip(jaxpr.invars, args))
        for eqn in jaxpr.eqns:
            ins = [read(v) for v in eqn.invars]
            if eqn.primitive.name in _INLINED:
                inner = eqn.params.get("jaxpr") or eqn.params["call_jaxpr"]
                outs = run(inner.jaxpr, inner.consts, *ins)
            else:  # control flow: its bodies inlined too
                params = {k: _inline_in_param(v) for k, v in eqn.params.items()}
                outs = eqn.primitive.bind(*ins, **params)
                if not eqn.primitive.multiple_results:
                    outs = [outs]
            env.update(zip(eqn.outvars, outs))
        return [read(v) for v in jaxpr.outvars]

    specs = [api.ShapeDtypeStruct(a.shape, a.dtype, a.weak_type) for a in closed.in_avals]
    return api.make_jaxpr(lambda *xs: run(closed.jaxpr, closed.consts, *xs))(*specs)


def lower_for_export(
    closed: Any,
    name: str,
    platforms: Sequence[str],
    arg_names: Sequence[str] | None = None,
    shape_assertions: bool = True,
    loc_names: Sequence[str] | None = None,
    result_names: Sequence[str] | None = None,
    annotate: Any = None,
) -> tuple[ir.Module, ir.Context, list]:
    """A module whose public ``@main`` computes ``closed`` (consts embedded), with
    dynamic dimensions for the symbolic ones, each computed from the arguments.
    ``platforms`` are lowering platforms ('cpu', 'gpu', 'tpu'); with several, ``@main``
    takes the platform's index first and runs that platform's lowering (JAX's
    convention). ``annotate(module)``, when given, adds a partitioned program's mesh
    and shardings before the module is verified."""
    ctx = runtime.make_mlir_context()
    avals = closed.in_avals
    if not all(shape_poly.is_constant_shape(a.shape) for a in avals):
        closed = inline_nested_calls(closed)
    with ctx, ir.Location.unknown():
        module = ir.Module.create()
        module.operation.attributes["sym_name"] = ir.StringAttr.get(
            lowering._symbol_name(f"jit_{name}").rstrip("_")  # as JAX's (jit__lambda)
        )
        mctx = lowering.ModuleContext(module, platforms[0], name)
        mctx.shape_checks = None
        mctx.export_names = (loc_names, result_names)
        if shape_assertions and not all(shape_poly.is_constant_shape(a.shape) for a in avals):
            from .shape_assertions import shape_checks

            names = arg_names or [f"args[{i}]" for i in range(len(avals))]
            mctx.shape_checks = (shape_checks(avals, names), names)
        if len(platforms) == 1 or _lowers_alike(closed, name, platforms):
            # several platforms whose lowerings agree: JAX's one @main, its platform
            # index first (a global constant it does not use)
            mctx.platform_arg = len(platforms) > 1
            uses_dims = _emit_function(mctx, "main", closed, public=True)
            uses_dims = uses_dims or mctx.platform_arg
        else:
            names = []
            for k, platform in enumerate(platforms):
                # nested functions are lowered again per platform, under fresh names
                mctx.symbols = {(k, key): sym for key, sym in mctx.symbols.items()}
                mctx.platform = platform
                names.append(f"_main_{k}_{platform}")
                uses_dims = _emit_function(mctx, names[-1], closed, public=False)
            _emit_platform_dispatch(module, closed, names, mctx.shape_checks)
        module.operation.attributes["jax.uses_shape_polymorphism"] = ir.BoolAttr.get(uses_dims)
        i32 = ir.IntegerType.get_signless(32)
        module.operation.attributes["mhlo.num_partitions"] = ir.IntegerAttr.get(i32, 1)
        module.operation.attributes["mhlo.num_replicas"] = ir.IntegerAttr.get(i32, 1)
        if getattr(mctx, "needs_shape_refinement", False) and not uses_dims:
            # a static program calling a polymorphic export: make every shape static
            module = refine_module(module, ctx)
        if annotate is not None:
            annotate(module)
        try:
            module.operation.verify()
        except ir.MLIRError as e:
            detail = str(e).splitlines()[1] if len(str(e).splitlines()) > 1 else str(e)
            raise NotImplementedError(
                "the exported module does not verify; with symbolic dimensions this means "
                f"a lowering rule needs static shapes: {detail.strip()}"
            ) from None
    return module, ctx, mctx.eqn_records


def _emit_function(mctx: Any, fname: str, closed: Any, public: bool) -> bool:
    """Emit ``closed`` as ``fname``; True if it uses dimension variables. A public
    polymorphic function is JAX's wrapper: it reads the dimension variables from its
    arguments' sizes, checks its callers' shapes, then calls the computation,
    ``_wrapped_jax_export_main``, which takes the variables' values first (each marked
    ``jax.global_constant``): shape refinement meets a failing assertion before any op
    whose refined shape would be invalid."""
    avals = closed.in_avals
    dim_vars = shape_poly.all_dim_vars([a.shape for a in avals])
    if public and dim_vars:
        inner = "_wrapped_jax_export_main"
        lead = _platform_types(mctx)
        in_types = lead + [lowering.ir_type(a) for a in avals]
        out_types = [lowering.ir_type(a) for a in closed.out_avals]
        with ir.InsertionPoint(mctx.module.body):  # first in the module, as JAX's
            fn = func_dialect.FuncOp(fname, ir.FunctionType.get(in_types, out_types))
        fn.attributes["sym_visibility"] = ir.StringAttr.get("public")
        fn.arg_attrs = ir.ArrayAttr.get(
            (_platform_attrs() if lead else []) + [ir.DictAttr.get({}) for _ in avals]
        )
        _name_function(mctx, fn)
        _emit_body(mctx, inner, closed, public=False, dim_vars=dim_vars)
        block = fn.add_entry_block()
        with ir.InsertionPoint(block), dim_divmod.context(mctx.module, [], []):
            index, args = list(block.arguments)[: len(lead)], list(block.arguments)[len(lead) :]
            sizes = _arg_sizes(avals, args)
            checks = getattr(mctx, "shape_checks", None)
            if checks and checks[0]:
                _emit_checks(checks, avals, sizes)
            env = _dim_values(avals, args, sizes)
            dims = [env[v] for v in dim_vars]
            call = func_dialect.CallOp(
                out_types, ir.FlatSymbolRefAttr.get(inner), index + dims + args
            )
            func_dialect.ReturnOp(list(call.results))
        first = mctx.module.body.operations[0]
        if first.operation != fn.operation:  # a rule put a function first (a reducer)
            fn.operation.move_before(first)
        return True
    return _emit_body(mctx, fname, closed, public)


def _emit_body(
    mctx: Any, fname: str, closed: Any, public: bool, dim_vars: Sequence[str] = ()
) -> bool:
    """``closed`` as ``fname``: with ``dim_vars``, it takes those variables' values
    first; otherwise it computes any it needs from its arguments' sizes."""
    avals = closed.in_avals
    dim_t = _dim_type()
    lead = _platform_types(mctx)
    in_types = lead + [dim_t] * len(dim_vars) + [lowering.ir_type(a) for a in avals]
    out_types = [lowering.ir_type(a) for a in closed.out_avals]
    with ir.InsertionPoint(mctx.module.body):
        fn = func_dialect.FuncOp(fname, ir.FunctionType.get(in_types, out_types))
    fn.attributes["sym_visibility"] = ir.StringAttr.get("public" if public else "private")
    if dim_vars or lead or public:  # JAX's @main always has them ([{}, ...] or [])
        fn.arg_attrs = ir.ArrayAttr.get(
            (_platform_attrs() if lead else [])
            + [ir.DictAttr.get({"jax.global_constant": ir.StringAttr.get(v)}) for v in dim_vars]
            + [ir.DictAttr.get({}) for _ in avals]
        )
    _name_function(mctx, fn)
    block = fn.add_entry_block()
    _name_arguments(mctx, block)
    outer, mctx.function = mctx.function, fname
    first = len(lead) + len(dim_vars)
    args = list(block.arguments)[first:]
    try:
        with ir.InsertionPoint(block), contextlib.ExitStack() as stack:
            if dim_vars:
                env = dict(zip(dim_vars, list(block.arguments)[len(lead) : first]))
                stack.enter_context(dim_divmod.context(mctx.module, list(env.values()), dim_vars))
            else:
                env = _dim_values(avals, args)
            with dim_env(env):
                consts = [lowering.constant(np.asarray(c), core.get_aval(c)) for c in closed.consts]
                outs = lowering.jaxpr_subcomp(mctx, closed.jaxpr, consts, args)
                func_dialect.ReturnOp(outs)
    finally:
        mctx.function = outer
    return bool(env)


def _platform_types(mctx: Any) -> list:
    """``[tensor<i32>]`` when the function takes JAX's platform index first."""
    if not getattr(mctx, "platform_arg", False):
        return []
    return [ir.RankedTensorType.get([], ir.IntegerType.get_signless(32))]


def _platform_attrs() -> list:
    return [ir.DictAttr.get({"jax.global_constant": ir.StringAttr.get("_platform_index")})]


def _lowers_alike(closed: Any, name: str, platforms: Sequence[str]) -> bool:
    """Whether ``closed`` lowers to the same module for each of ``platforms`` (then JAX
    emits a single body: no rule of it depends on the platform)."""
    texts = set()
    for p in platforms:
        try:
            module, _ctx, _ = lower_for_export(closed, name, (p,), shape_assertions=False)
        except Exception:  # a platform this program cannot be lowered for alone
            return False
        texts.add(module.operation.get_asm(enable_debug_info=False))
    return len(texts) == 1


def _arg_sizes(avals: Sequence[Any], args: Sequence[Any]) -> dict:
    """(argument, axis) -> its size, read now (all first, in order, as JAX's wrapper)."""
    sizes = {}
    for i, (a, x) in enumerate(zip(avals, args)):
        for j, d in enumerate(a.shape):
            if isinstance(d, shape_poly.DimExpr):
                sizes[(i, j)] = _LazySize(x, j)
                sizes[(i, j)].value()
    return sizes


def _name_function(mctx: Any, fn: Any) -> None:
    """JAX's ``jax.result_info`` on each result."""
    names = getattr(mctx, "export_names", (None, None))[1]
    if names:
        fn.result_attrs = ir.ArrayAttr.get(
            [ir.DictAttr.get({"jax.result_info": ir.StringAttr.get(n)}) for n in names]
        )


def _name_arguments(mctx: Any, block: Any) -> None:
    """JAX's ``loc("x")`` on each array argument (the trailing ones)."""
    names = getattr(mctx, "export_names", (None, None))[0]
    if not names:
        return
    args = list(block.arguments)[-len(names) :] if len(names) <= len(block.arguments) else []
    for arg, n in zip(args, names):
        arg.set_location(ir.Location.name(n) if n else ir.Location.unknown())


def _emit_checks(checks_and_names: Any, avals: Sequence[Any], sizes: Any) -> None:
    """The shape assertions of a polymorphic module, on its arguments' sizes (a dict
    from ``_arg_sizes``, or the arguments themselves)."""
    from .shape_assertions import emit_shape_assertions

    checks, names = checks_and_names
    if not isinstance(sizes, dict):
        sizes = _arg_sizes(avals, sizes)
    emit_shape_assertions(
        checks, {f"{names[i]}.shape[{j}]": size.value().v for (i, j), size in sizes.items()}
    )


def _emit_platform_dispatch(
    module: ir.Module, closed: Any, names: Sequence[str], checks: Any = None
) -> None:
    """``@main(platform_index, *args)``: a case over the per-platform functions."""
    i32 = ir.RankedTensorType.get([], ir.IntegerType.get_signless(32))
    in_types = [lowering.ir_type(a) for a in closed.in_avals]
    out_types = [lowering.ir_type(a) for a in closed.out_avals]
    with ir.InsertionPoint(module.body):
        fn = func_dialect.FuncOp("main", ir.FunctionType.get([i32, *in_types], out_types))
    fn.attributes["sym_visibility"] = ir.StringAttr.get("public")
    block = fn.add_entry_block()
    with ir.InsertionPoint(block):
        if checks and checks[0]:
            _emit_checks(checks, closed.in_avals, list(block.arguments[1:]))
        case = hlo.CaseOp(out_types, block.arguments[0], num_branches=len(names))
        for k, fname in enumerate(names):
            branch = case.regions[k].blocks.append()
            with ir.InsertionPoint(branch):
                call = func_dialect.CallOp(
                    out_types, ir.FlatSymbolRefAttr.get(fname), list(block.arguments[1:])
                )
                hlo.return_(list(call.results))
        func_dialect.ReturnOp(list(case.results))


def serialize_module(module: ir.Module) -> bytes:
    """The module as a StableHLO portable artifact (the version JAX targets: about
    four weeks old, so that older consumers can read it)."""
    target = hlo.get_version_from_compatibility_requirement(
        hlo.StablehloCompatibilityRequirement.WEEK_4
    )
    with module.context:
        if _jaxlib_serialize is not None:  # jaxlib's, as JAX: it hoists constants
            return bytes(_jaxlib_serialize(module, target, True))
        return bytes(hlo.serialize_portable_artifact(module, target, True))


def deserialize_module(data: bytes, context: ir.Context) -> ir.Module:
    return hlo.deserialize_portable_artifact(context, data)


# ---------------------------------------------------------------------------- calling


def merge_and_call(
    ctx: Any,
    exported: Any,
    args: Sequence[Any],
    platform_index: int | None,
    mesh: Any = None,
) -> list:
    """Copy the exported module's functions into the module being lowered (renamed),
    then call its ``@main``; arguments and results get converted between the caller's
    static types and the callee's (possibly dynamic) ones."""
    mctx = ctx.module_ctx
    context = mctx.module.context
    sub = deserialize_module(exported.mlir_module_serialized, context)
    count = getattr(mctx, "exported_calls", 0)
    mctx.exported_calls = count + 1
    prefix = lowering._symbol_name(f"call_exported_{exported.fun_name}_{count}")
    # a partitioned callee's mesh: the caller's (``mesh``) where its axes are the same
    # (the caller's @mesh is added when it is annotated), else its own, renamed
    mesh_name = "mesh"
    for op in list(sub.body.operations):
        if op.operation.name == "sdy.mesh":
            if mesh is not None and _mesh_axes(op) == list(zip(mesh.axis_names, mesh.axis_sizes)):
                op.operation.erase()
            else:
                mesh_name = f"{prefix}_{ir.StringAttr(op.attributes['sym_name']).value}"
    named = [op for op in sub.body.operations if "sym_name" in op.attributes]
    renames = []
    for op in named:
        old = ir.StringAttr(op.attributes["sym_name"]).value
        renames.append((op, old, prefix if old == "main" else f"{prefix}_{old}"))
    # through temporary names: a new name may be an old one (a nested export's prefix)
    for k, (op, old, _) in enumerate(renames):
        ir.SymbolTable.replace_all_symbol_uses(old, f"__renaming_{k}", sub.operation)
        op.attributes["sym_name"] = ir.StringAttr.get(f"__renaming_{k}")
    for k, (op, _, new) in enumerate(renames):
        ir.SymbolTable.replace_all_symbol_uses(f"__renaming_{k}", new, sub.operation)
        op.attributes["sym_name"] = ir.StringAttr.get(new)
    main = _find(sub, prefix)
    main.attributes["sym_visibility"] = ir.StringAttr.get("private")
    callee_type = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
    for op in list(sub.body.operations):
        mctx.module.body.append(op)
    operands = []
    if platform_index is not None:
        operands.append(
            hlo.convert(
                callee_type.inputs[0],
                hlo.constant(ir.DenseElementsAttr.get(np.array(platform_index, np.int32))),
            )
        )
    shardings = exported._in_named_shardings if exported.nr_devices > 1 else None
    if mesh is not None and shardings is not None:  # JAX's wrap_with_sharding
        args = _constrained(args, shardings, ctx.avals_in, mesh_name)
    kept = [a for i, a in enumerate(args) if i in exported.module_kept_var_idx]
    for a, t in zip(kept, callee_type.inputs[len(operands) :]):
        operands.append(a if a.type == t else hlo.convert(t, a))
    call = func_dialect.CallOp(
        list(callee_type.results), ir.FlatSymbolRefAttr.get(prefix), operands
    )
    outs = []
    for r, aval in zip(call.results, ctx.avals_out):
        t = lowering.ir_type(aval)
        outs.append(r if r.type == t else hlo.convert(t, r))
    if any(not shape_poly.is_constant_shape(a.shape) for a in exported.in_avals):
        mctx.needs_shape_refinement = True
    if mesh is not None and shardings is not None:
        outs = _constrained(outs, exported._out_named_shardings, ctx.avals_out, mesh_name)
    return outs


def _mesh_axes(op: Any) -> list:
    text = str(op.operation.attributes["mesh"])
    return [(n, int(k)) for n, k in re.findall(r'"([^"]+)"=(\d+)', text)]


def _constrained(values: Sequence[Any], shardings: Any, avals: Sequence[Any], mesh: str) -> list:
    """Each value under an ``sdy.sharding_constraint`` to its exported sharding over
    the mesh ``mesh`` names; unspecified ones as they are."""
    from jaxlib.mlir.dialects import sdy

    out = []
    for v, s, aval in zip(values, shardings, avals):
        if s is not None:
            attr = ir.Attribute.parse(s._sdy_text(len(aval.shape), mesh))
            v = sdy.ShardingConstraintOp(v, attr).result
        out.append(v)
    return out


def _find(module: ir.Module, name: str) -> Any:
    for op in module.body.operations:
        if "sym_name" in op.attributes and ir.StringAttr(op.attributes["sym_name"]).value == name:
            return op
    raise ValueError(f"the exported module has no function '{name}'")


def refine_module(module: ir.Module, context: ir.Context) -> ir.Module:
    """The module with every dynamic shape made static from @main's static arguments."""
    refine = runtime_refine()
    _add_lowering_mesh(module, context)
    with context:
        data = lowering.module_to_text(module, debug_info=True).encode()
        try:
            refined = refine(data, enable_shape_assertions=True, validate_static_shapes=True)
        except Exception as e:  # noqa: BLE001 - jaxlib's runtime error, reworded as JAX's
            raise ValueError(f"Error refining shapes. {_assertion_message(str(e))}") from None
        return ir.Module.parse(refined)


def _add_lowering_mesh(module: ir.Module, context: ir.Context) -> None:
    """A partitioned program's ``sdy.mesh`` first in its module (before it is annotated
    for its mesh): the shardings of a partitioned export it calls name it."""
    from ..sharding.constraint import current_lowering_mesh
    from ..sharding.spmd import mesh_text

    mesh = current_lowering_mesh()
    if mesh is None or any(op.operation.name == "sdy.mesh" for op in module.body.operations):
        return
    with context, ir.Location.unknown():
        op = ir.Operation.parse(mesh_text(mesh))
        op.location = ir.Location.unknown()
        ir.InsertionPoint.at_block_begin(module.body).insert(op)


def _assertion_message(text: str) -> str:
    """The failed shape assertion's own message in jaxlib's refinement error."""
    marker = text.find('"shape_assertion"')
    if marker >= 0:
        start = text.find(": ", text.find(")):", marker))
        if start >= 0:
            return text[start + 2 :].strip()
    return text.strip()


def runtime_refine() -> Any:
    import jaxlib

    fn = getattr(
        getattr(getattr(jaxlib, "_jax", None), "mlir", None), "refine_polymorphic_shapes", None
    )
    if fn is None:
        raise NotImplementedError(
            "this jaxlib has no refine_polymorphic_shapes; calling shape-polymorphic "
            "exported functions needs it"
        )
    return fn
