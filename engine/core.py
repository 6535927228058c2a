"""The engine's core: primitives and the trace context, with the abstract values
(``engine.avals``) and the jaxpr IR (``engine.jaxpr_ir``) re-exported.

Transformations are interpreters ("traces"). Exactly one trace is current at any time;
``Primitive.bind`` hands the operation to it. A trace that needs to compute on its
inputs' underlying values (a JVP trace computing primals, a batching trace computing
on batched values) does so with its parent trace made current, so traces compose in
any order and depth without a global level counter.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import dtypes, errors, events, traceback_util
from .events import active as _listening
from .source_info import user_frame

if TYPE_CHECKING:
    pass

# ---------------------------------------------------------------------------- avals

from .avals import (  # noqa: F401 - the avals are part of core's API
    _KEEP,
    ManualAxisType,
    MemorySpace,
    ShapedArray,
    ShardingTypeError,
    _axes_part,
    _axis_rank,
    _canonical_dim,
    _with_operands_vma,
    axes_suffix,
    canonical_shape,
    memory_space_suffix,
    note_axis_order,
    order_axes,
    physical_aval,
    sharded_dims_text,
    vma_suffix,
)
from .jaxpr_ir import (  # noqa: F401 - the IR is part of core's API
    ClosedJaxpr,
    DropVar,
    Jaxpr,
    JaxprEqn,
    Literal,
    UnreadVar,
    Var,
    WeakScalar,
    any_nested_eqn,
    literal_value_text,
)

# How many check_vma shard_map bodies are being traced or run now (any thread): while
# there are some, bind makes operands vary over the same manual axes (match_vma_hook,
# set by engine.lax.parallel: JAX's implicit pvary).
vma_bodies = 0
match_vma_hook: Callable[[Sequence[Any]], Sequence[Any]] | None = None
# Set (by engine.sharding.unreduced) once a reduced type exists: a binary operation in
# REDUCED_BINARY reshards a scalar operand to the other's reduced axes (JAX's
# insert_reduced_reshard).
reduced_reshard_hook: Callable[[Sequence[Any]], Sequence[Any]] | None = None
REDUCED_BINARY: frozenset = frozenset()


def python_scalar_operand(x: Any) -> Any:
    """A Python scalar as a lax operand: int/float/complex weakly typed, bool strongly
    (JAX never makes a Python bool weak)."""
    if type(x) is bool:
        return np.bool_(x)
    return WeakScalar(x, dtypes.python_scalar_dtype(x))


# (Python scalar type or NumPy dtype, x64 on) -> the rank-0 aval of such a value, shared
# (avals are immutable): literals are the values tracing meets most
_scalar_avals: dict[tuple[Any, bool], ShapedArray] = {}


def get_aval(x: Any) -> ShapedArray:
    """The abstract value of a tracer, Array, NumPy value or Python scalar."""
    if isinstance(x, Tracer):
        return x.aval
    kind = type(x)
    if (kind is np.ndarray and not x.shape) or kind in _SCALAR_TYPES:
        key = (x.dtype if kind is np.ndarray else kind, dtypes.config.jax_enable_x64)
        aval = _scalar_avals.get(key)
        if aval is None:
            aval = _scalar_avals[key] = _get_aval(x)
        return aval
    return _get_aval(x)


_SCALAR_TYPES = frozenset({bool, int, float, complex})


def _get_aval(x: Any) -> ShapedArray:
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if dtypes.is_python_scalar(x):
        # JAX: Python int/float/complex are weakly typed, bool is not
        return ShapedArray((), dtypes.python_scalar_dtype(x), weak_type=type(x) is not bool)
    if isinstance(x, (np.ndarray, np.generic)):
        if errors.is_invalid_numpy_dtype(x.dtype):
            raise TypeError(errors.invalid_dtype_message(x.dtype))
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype))
    if hasattr(x, "__jax_array__"):
        return get_aval(x.__jax_array__())
    raise TypeError(f"Argument '{x!s}' of type {type(x)} is not a valid JAX type")


def valid_array_value(x: Any) -> bool:
    if isinstance(x, Tracer) or hasattr(x, "aval"):
        return True
    return dtypes.is_python_scalar(x) or isinstance(x, (np.ndarray, np.generic))


def fun_location(fun: Any) -> str:
    """'name at file:line' of the user's function (through wrappers and partials), as
    JAX's errors name it; just the name when it has no Python code."""
    for _ in range(100):
        inner = getattr(fun, "__wrapped__", None) or getattr(fun, "func", None)
        if inner is None or not callable(inner):
            break
        fun = inner
    code = getattr(fun, "__code__", None)
    name = getattr(fun, "__name__", type(fun).__name__)
    return f"{name} at {code.co_filename}:{code.co_firstlineno}" if code is not None else name


def check_traced_outputs(fun: Any, leaves: Sequence[Any], traced_for: str) -> None:
    """JAX's TypeError for an output leaf that is not an array (a string, None, ...)."""
    for i, x in enumerate(leaves):
        if not valid_array_value(x):
            at = f" at output component [{i}]" if len(leaves) > 1 else ""
            raise TypeError(
                f"function {fun_location(fun)} traced for {traced_for} returned a value of "
                f"type {type(x)}{at}, which is not a valid JAX type"
            )


def dims_as_values(leaves: Sequence[Any]) -> list[Any]:
    """Symbolic dimensions among a traced function's outputs as their traced values (JAX
    counts a dimension among the Python scalar types, so ``lambda x: x.shape[0]`` is a
    valid function to trace under a shape-polymorphic export)."""
    shape_poly = sys.modules.get(f"{__package__}.export.shape_poly")  # no DimExpr before
    if shape_poly is None:
        return list(leaves)
    return [x.__jax_array__() if isinstance(x, shape_poly.DimExpr) else x for x in leaves]


# ---------------------------------------------------------------------------- the IR


def jaxpr_as_fun(closed: ClosedJaxpr) -> Callable[..., list[Any]]:
    return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """Interpret a jaxpr by binding each equation on the current trace."""
    env: dict[Var, Any] = {}

    def read(v):
        return v.val if type(v) is Literal else env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"jaxpr takes {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for eqn in jaxpr.eqns:
        with source_info_context(eqn.source_info):
            outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
        if not eqn.primitive.multiple_results:
            outs = (outs,)
        for v, x in zip(eqn.outvars, outs):
            env[v] = x
    return [read(v) for v in jaxpr.outvars]


# ---------------------------------------------------------------------------- type checking


JaxprTypeError = errors.JaxprTypeError  # one class, public as engine.errors.JaxprTypeError


def check_jaxpr(jaxpr: Jaxpr) -> None:
    """Check that every variable is defined once before use and every equation's
    output types are what its primitive's shape rule gives."""
    defined = set()

    def use(v, where):
        if type(v) is Literal:
            return v.aval
        if v not in defined:
            raise JaxprTypeError(f"variable {v} used before definition in {where}")
        return v.aval

    for v in list(jaxpr.constvars) + list(jaxpr.invars):
        if v in defined:
            raise JaxprTypeError(f"variable {v} bound twice")
        defined.add(v)
    for eqn in jaxpr.eqns:
        in_avals = [use(v, eqn.primitive.name) for v in eqn.invars]
        for sub in eqn.primitive.subjaxprs(eqn.params):
            check_jaxpr(sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub)
        outs = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        if len(outs) != len(eqn.outvars):
            raise JaxprTypeError(
                f"{eqn.primitive.name}: {len(outs)} outputs, jaxpr binds {len(eqn.outvars)}"
            )
        for a, v in zip(outs, eqn.outvars):
            if (a.shape, a.dtype) != (v.aval.shape, v.aval.dtype):
                raise JaxprTypeError(
                    f"{eqn.primitive.name} produces {a.str_short()} but its output "
                    f"variable is typed {v.aval.str_short()}"
                )
            if v in defined:
                raise JaxprTypeError(f"variable {v} bound twice")
            defined.add(v)
    for out in jaxpr.outvars:
        use(out, "outputs")


# ---------------------------------------------------------------------------- primitives


F = TypeVar("F", bound=Callable[..., Any])


apply_primitive = None  # engine.dispatch.apply_primitive (set there: no import per op)

# every primitive made, the engine's and users' (the rule tables iterate over them)
all_primitives: weakref.WeakSet[Primitive] = weakref.WeakSet()


class Primitive:
    """A primitive operation. Its rules are attached where it is declared:

    ``impl`` (eager), ``abstract_eval`` (shape/dtype rule), ``jvp``, ``transpose``
    (linear primitives only), ``batch`` and ``lowering`` (to StableHLO). Higher-order
    primitives may also set ``partial_eval`` and ``subjaxprs``.
    """

    multiple_results = False
    # how the printer shows params (set per primitive where needed)
    pp_params: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    pp_alias_subjaxpr: Any = None
    # collectives type their results' varying manual axes themselves
    computes_vma = False
    # device_put types its results' memory space itself (others: their operands')
    computes_memory_space = False

    def __init__(self, name: str, multiple_results: bool = False) -> None:
        self.name = name
        self.multiple_results = multiple_results
        # Declared by the engine itself, or by a user (jax.extend.core.Primitive)? A user's
        # primitive has no eager impl unless given one, and its rules may have side effects
        # (so its shape rule runs on every bind, as JAX's do).
        self.engine_declared = sys._getframe(1).f_globals.get("__name__", "").startswith("engine")
        all_primitives.add(self)
        self.impl_rule: Callable[..., Any] | None = None
        self.abstract_eval_rule: Callable[..., Any] | None = None
        self.jvp: Callable[..., Any] | None = None
        self.transpose: Callable[..., Any] | None = None
        self.batch: Callable[..., Any] | None = None
        self.lowering: Callable[..., Any] | None = None
        self.partial_eval: Callable[..., Any] | None = None
        self.subjaxprs_rule: Callable[..., Any] | None = None
        self._shape_memo: dict[Any, Any] = {}

    def __repr__(self):
        return self.name

    def bind(self, *args: Any, **params: Any) -> Any:
        try:
            if vma_bodies and len(args) > 1 and not self.computes_vma:
                if self.subjaxprs_rule is None and match_vma_hook is not None:
                    args = tuple(match_vma_hook(args))
            if reduced_reshard_hook is not None and len(args) == 2:
                if self.name in REDUCED_BINARY:
                    args = tuple(reduced_reshard_hook(args))
            return _ctx.trace.process_primitive(self, args, params)
        except Exception as e:  # an eager op's error leaves with the engine's frames filtered
            if self.engine_declared:  # (a user's primitive errs in its own rules, as JAX's)
                traceback_util.filter_exception(e)
            raise

    def impl(self, *args, **params):
        if self.impl_rule is not None:
            return self.impl_rule(*args, **params)
        if not self.engine_declared:
            raise NotImplementedError(f"Evaluation rule for '{self.name}' not implemented")
        if apply_primitive is None:  # engine.dispatch sets it when it loads
            from . import dispatch  # noqa: F401
        return apply_primitive(self, args, params)

    def abstract_eval(self, *avals: ShapedArray, **params: Any) -> Any:
        # Shape rules are pure: remember their answers for avals and params seen before
        # (tracing a long program meets the same few signatures again and again).
        ambient = None
        if ambient_mesh_hook is not None and self.name in AMBIENT_TYPED:
            # a result made from untyped operands takes the Explicit ambient mesh's type
            ambient = ambient_mesh_hook()
        try:
            key = (avals, tuple(params.items()), ambient) if self.engine_declared else None
            out = self._shape_memo.get(key) if key is not None else None
        except TypeError:  # an unhashable param
            key, out = None, None
        if out is not None:
            return out
        if self.abstract_eval_rule is None:
            raise NotImplementedError(f"Abstract evaluation for '{self.name}' not implemented")
        if self.subjaxprs_rule is None and not getattr(self, "takes_refs", False):
            _reject_refs(self, avals)
        try:
            out = self.abstract_eval_rule(*avals, **params)
        except (TypeError, ValueError) as e:
            raise _annotate(e, self, avals) from None
        if not self.computes_vma and self.subjaxprs_rule is None:
            out = _with_operands_vma(avals, out)
        if not self.computes_memory_space and self.subjaxprs_rule is None:
            out = _with_operands_memory_space(self, avals, out)
        if sharding_rule_hook is not None:
            # operands with shardings in their types, or an explicit result sharding
            if params.get("sharding") is not None or params.get("out_sharding") is not None:
                out = sharding_rule_hook(self, avals, out, params)
            else:
                for a in avals:
                    if getattr(a, "sharding", None) is not None:
                        out = sharding_rule_hook(self, avals, out, params)
                        break
                else:
                    if ambient is not None:
                        out = sharding_rule_hook(self, avals, out, params, ambient)
        if key is not None:
            if len(self._shape_memo) > 2048:
                self._shape_memo.clear()
            self._shape_memo[key] = out
        return out

    def subjaxprs(self, params):
        return self.subjaxprs_rule(params) if self.subjaxprs_rule else ()

    # decorators used beside each declaration
    def def_impl(self, f: F) -> F:
        self.impl_rule = f
        return f

    def def_abstract_eval(self, f: F) -> F:
        self.abstract_eval_rule = f
        return f

    def def_jvp(self, f: F) -> F:
        self.jvp = f
        return f

    def def_transpose(self, f: F) -> F:
        self.transpose = f
        return f

    def def_batch(self, f: F) -> F:
        self.batch = f
        return f

    def def_lowering(self, f: F) -> F:
        self.lowering = f
        return f


def _with_operands_memory_space(prim: Primitive, avals: Sequence[Any], out: Any) -> Any:
    """JAX's default memory-space rule: the non-scalar operands must share one memory
    space (JAX's ValueError otherwise), which the results take."""
    prev = None
    for a in avals:
        if getattr(a, "shape", ()) == () or not hasattr(a, "memory_space"):
            continue
        if prev is not None and prev.memory_space is not a.memory_space:
            raise ValueError(
                f"memory_space of all inputs passed to `{prim.name}` must be the same. Got "
                f"one operand with type: {_type_text(prev)} and another operand with type: "
                f"{_type_text(a)}"
            )
        prev = a
    if prev is None or prev.memory_space is MemorySpace.Device:
        return out
    space = prev.memory_space
    if isinstance(out, ShapedArray):
        return out.update(memory_space=space)
    if isinstance(out, (list, tuple)):
        return type(out)(
            o.update(memory_space=space) if isinstance(o, ShapedArray) else o for o in out
        )
    return out


def _type_text(aval: Any) -> str:
    return aval.str_long().lstrip("~")  # (JAX's str_short: long dtype names, no weak mark)


class RuleTable(MutableMapping):
    """JAX's per-transformation rule dicts (``ad.primitive_jvps``, ``batching.
    primitive_batchers``, ...) as views of the rules each primitive holds: setting
    ``table[p] = rule`` sets the rule the engine's interpreter runs for ``p``. ``to_engine``
    adapts a rule written to JAX's calling convention to the engine's, ``from_engine`` the
    reverse (for reading a rule the engine declared)."""

    def __init__(
        self,
        attr: str,
        to_engine: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
        from_engine: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
    ) -> None:
        self.attr, self.to_engine, self.from_engine = attr, to_engine, from_engine

    def __getitem__(self, prim: Primitive) -> Callable[..., Any]:
        rule = getattr(prim, self.attr, None) if isinstance(prim, Primitive) else None
        if rule is None:
            raise KeyError(prim)
        given = getattr(rule, "_given_rule", None)
        if given is not None:
            return given
        return self.from_engine(rule) if self.from_engine is not None else rule

    def __setitem__(self, prim: Primitive, rule: Callable[..., Any]) -> None:
        if self.to_engine is not None:
            adapted = self.to_engine(rule)
            adapted._given_rule = rule  # type: ignore[attr-defined]
            rule = adapted
        setattr(prim, self.attr, rule)

    def __delitem__(self, prim: Primitive) -> None:
        if getattr(prim, self.attr, None) is None:
            raise KeyError(prim)
        setattr(prim, self.attr, None)

    def __iter__(self) -> Iterator[Primitive]:
        return iter([p for p in list(all_primitives) if getattr(p, self.attr, None) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Set by engine.lax.sharding_rules: (primitive, in avals, out aval(s), params) -> the
# out aval(s) with their shardings, for operands that carry shardings in their types.
sharding_rule_hook: Callable[..., Any] | None = None
# Also set there: () -> the ambient abstract mesh when it has Explicit axes, else None;
# it types the results of the (operandless) primitives named in AMBIENT_TYPED.
ambient_mesh_hook: Callable[[], Any] | None = None
AMBIENT_TYPED: set[str] = set()


def _reject_refs(prim, avals):
    """An array ref given where an array is expected (``jnp.sin(ref)`` under jit)."""
    for i, a in enumerate(avals):
        if getattr(type(a), "is_ref", False):
            raise TypeError(
                f"{prim.name} requires ndarray or scalar arguments, got a mutable array "
                f"reference of type {a.str_long()} at position {i}; read its value first "
                "(ref[...])"
            )


def _annotate(err, prim, avals):
    """Add the primitive, its operand types and the user's line to a shape/dtype error."""
    if getattr(err, "_engine_annotated", False):
        return err
    src = current_source_info()
    ops = ", ".join(a.str_short() for a in avals)
    where = f"\nThe problem arose at {src}." if src is not None else ""
    try:
        new = type(err)(f"{err}\n(in primitive '{prim.name}' with operands {ops}){where}")
        new._engine_annotated = True
    except Exception:
        return err
    return new


# ---------------------------------------------------------------------------- traces


class Trace:
    """An interpreter for primitives. ``parent`` computes on the values underneath.

    Creating a trace emits ``events.TraceStarted`` and ``invalidate()`` emits
    ``events.TraceFinished`` (when someone listens); ``interpreter`` names it there."""

    interpreter = "trace"
    _event_call = None

    def __init__(self, parent: Trace | None = None) -> None:
        self.parent = parent
        self.valid = True
        if _listening:
            self._event_call = events.trace_started(self)

    def process_primitive(self, primitive: Primitive, args: Sequence[Any], params: dict) -> Any:
        raise NotImplementedError

    def event_info(self) -> dict[str, Any] | None:
        """Details for ``TraceStarted.info`` (e.g. a batching trace's axis size)."""
        return None

    def invalidate(self) -> None:
        if self.valid and _listening:
            events.trace_finished(self, self._event_call)
        self.valid = False

    def __repr__(self):
        return f"{type(self).__name__}"


class EvalTrace(Trace):
    """The bottom trace: runs primitives eagerly on concrete values (emits no events)."""

    interpreter = "eval"

    def __init__(self) -> None:
        self.parent = None
        self.valid = True

    def process_primitive(self, primitive, args, params):
        for x in args:
            if isinstance(x, Tracer):
                raise escaped_tracer_error(x, primitive)
        if primitive.impl_rule is None and apply_primitive is not None:
            if primitive.engine_declared:
                return apply_primitive(primitive, args, params)  # impl's work, one frame less
        return primitive.impl(*args, **params)


class _Context(threading.local):
    def __init__(self):
        self.trace = eval_trace  # one bottom trace shared by every thread
        self.source_info = None
        self.name_stack = ""  # the named_scope names around the code being traced


eval_trace = EvalTrace()
_ctx = _Context()


def current_trace() -> Trace:
    return _ctx.trace


@contextlib.contextmanager
def set_current_trace(trace: Trace | None) -> Iterator[Trace | None]:
    prev = _ctx.trace
    _ctx.trace = trace
    try:
        yield trace
    finally:
        _ctx.trace = prev


@contextlib.contextmanager
def source_info_context(info):
    """While re-binding equations of an existing jaxpr, keep their original source lines."""
    prev = _ctx.source_info
    _ctx.source_info = info if info is not None else prev
    try:
        yield
    finally:
        _ctx.source_info = prev


def current_source_info(skip: int = 0):
    """The source info of the equation being recorded: the user's innermost frame (or
    the one set by ``source_info_context``), inside the current named scopes. ``skip``:
    how many frames above the caller's are known to be the engine's."""
    ctx = _ctx
    info = ctx.source_info
    if info is None:
        info = user_frame(skip=1 + skip)  # this function's frame is the engine's
    if ctx.name_stack and info is not None:
        info = info.in_scope(ctx.name_stack)
    return info


def user_line_note() -> str:
    """'\nThe problem arose at file:line (function).' for the user's current line, or ''."""
    src = current_source_info()
    return f"\nThe problem arose at {src}." if src is not None else ""


def escaped_tracer_error(tracer, primitive=None):
    where = f" while evaluating {primitive.name}" if primitive is not None else ""
    return errors.UnexpectedTracerError(
        f"Encountered an unexpected tracer{where}: {tracer._short_repr()} belongs to a "
        f"{type(tracer._trace).__name__} that has already finished. A function "
        "transformed by jit, grad, vmap or similar saved one of its intermediate values "
        "outside (in a global, a list or an attribute); return it as an output instead."
        f"{user_line_note()}"
    )


# JAX's wording (users and tests match on it); Array.__setitem__ raises it too.
IMMUTABLE_SETITEM = (
    "JAX arrays are immutable and do not support in-place item assignment. Instead of "
    "x[idx] = y, use x = x.at[idx].set(y) or another .at[] method: "
    "https://docs.jax.dev/en/latest/_autosummary/jax.numpy.ndarray.at.html"
)


class Tracer:
    """A value that stands in for an array while a trace records or transforms work."""

    __slots__ = ("_trace", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, trace):
        self._trace = trace

    @property
    def aval(self):
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def to_concrete_value(self):
        """The concrete value underneath, when one is known (e.g. a JVP primal), else None."""
        return None

    def _short_repr(self):
        return f"Traced<{self.aval.str_short()}>"

    def __repr__(self):
        return f"{self._short_repr()}with<{type(self._trace).__name__}>"

    def _type_str(self):
        """As JAX prints a traced array's type in these messages: float32[2,3]."""
        return f"{self.dtype.name}[{','.join(str(d) for d in self.shape)}]"

    def _concrete_or_raise(self, err_cls, headline, advice):
        v = self.to_concrete_value()
        if v is not None:
            return v
        raise err_cls(f"{headline}{user_line_note()}\n{advice}")

    def _needs_concrete(self, what):
        """JAX's ConcretizationTypeError headline, then what asked for the value."""
        return self._concrete_or_raise(
            errors.ConcretizationTypeError,
            "Abstract tracer value encountered where concrete value is expected: traced "
            f"array with shape {self._type_str()}",
            f"{what} needs the value, which is not known while tracing. To change the dtype "
            "use x.astype(...) or jnp.asarray(x, dtype); to branch on it use lax.cond or "
            "jnp.where; or mark the argument static (jit(f, static_argnums=...)).",
        )

    def __bool__(self):
        return bool(
            self._concrete_or_raise(
                errors.TracerBoolConversionError,
                f"Attempted boolean conversion of traced array with shape {self._type_str()}.",
                "Python's if/while/and/or/not need the value, which is not known while "
                "tracing. Use lax.cond, lax.while_loop or jnp.where on traced values, or mark "
                "the argument static (jit(f, static_argnums=...)) if it is a Python value.",
            )
        )

    def __int__(self):
        return int(self._needs_concrete("int()"))

    def __index__(self):
        return self._concrete_or_raise(
            errors.TracerIntegerConversionError,
            f"The __index__() method was called on traced array with shape {self._type_str()}",
            "A traced value cannot be a Python index, size or range bound: its value is not "
            "known while tracing. Use lax.dynamic_slice or x.at[...] for traced positions, "
            "lax.fori_loop for a traced trip count, or mark the argument static.",
        ).__index__()

    def __float__(self):
        return float(self._needs_concrete("float()"))

    def __complex__(self):
        return complex(self._needs_concrete("complex()"))

    def item(self, *args):
        return np.asarray(self._needs_concrete("item()")).item(*args)

    def tolist(self):
        return np.asarray(self._needs_concrete("tolist()")).tolist()

    def __array__(self, dtype=None, copy=None):
        raise errors.TracerArrayConversionError(
            f"The numpy.ndarray conversion method __array__() was called on traced array "
            f"{self._short_repr()}. NumPy cannot run on traced values: use engine.numpy "
            "(jnp) functions instead of numpy functions inside transformed code."
            f"{user_line_note()}"
        )

    def __hash__(self):
        raise TypeError(f"unhashable type: traced array {self._short_repr()}")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __setitem__(self, idx, value):
        raise TypeError(IMMUTABLE_SETITEM)


def is_tracer(x: Any) -> bool:
    return isinstance(x, Tracer)


def concrete_or_none(x: Any) -> Any:
    """A concrete value for x if one is known without running anything, else None."""
    if isinstance(x, Tracer):
        return x.to_concrete_value()
    return x


def mapped_aval(size, axis, aval):
    shape = list(aval.shape)
    del shape[axis]
    return aval.update(shape=tuple(shape), sharding=_spec_edited(aval, axis, None, delete=True))


def unmapped_aval(size, axis, aval, explicit_mesh_axis=None):
    """``aval`` with a new axis of ``size`` at ``axis``; a typed aval (or, under vmap of a
    value sharded over Explicit ``explicit_mesh_axis``, any aval on that mesh) keeps its
    sharding, the new axis split over ``explicit_mesh_axis`` as JAX's."""
    shape = list(aval.shape)
    shape.insert(axis, size)
    sharding = _spec_edited(aval, axis, explicit_mesh_axis, delete=False)
    return aval.update(shape=tuple(shape), sharding=sharding)


def _spec_edited(aval, axis, entry, delete):
    s = aval.sharding
    if s is None:
        if entry is None or ambient_mesh_hook is None:
            return None
        mesh = ambient_mesh_hook()  # an untyped value is replicated over the ambient mesh
        if mesh is None:
            return None
        from .sharding.named import NamedSharding, PartitionSpec

        s = NamedSharding(mesh, PartitionSpec(*[None] * aval.ndim))
    parts = list(s.spec._normalized(aval.ndim))
    if delete:
        del parts[axis]
    else:
        parts.insert(axis, entry)
    spec = type(s.spec)(*parts, unreduced=s.spec.unreduced, reduced=s.spec.reduced)
    return type(s)(s.mesh, spec)


# An eager primitive is a public entry point too (engine/traceback_util.py).
traceback_util.register_boundary(Primitive.bind)
