"""What ``custom_jvp`` and ``custom_vjp`` share (see ``engine/custom_derivatives.py``):
JAX's errors, ``SymbolicZero``, the rule wrapper a primitive carries as a parameter,
the ``CustomRuleStarted`` / ``CustomRuleApplied`` event span around a user's rule,
argument handling (``nondiff_argnums``, keywords), tracing the custom function to a
jaxpr, and the decision of how a custom call meets the current trace."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from . import core, dtypes, events
from .ad_util import Zero, instantiate
from .core import ClosedJaxpr, Primitive
from .events import active as _listening
from .interpreters import lowering
from .interpreters.batching import BatchTrace
from .interpreters.jvp import JVPTrace, tangent_aval
from .interpreters.partial_eval import PartialEvalTrace
from .interpreters.tracing import trace_to_jaxpr
from .source_info import SourceInfo
from .tree_util import tree_flatten, tree_map, tree_unflatten


class CustomJVPException(Exception):
    """Differentiating a ``custom_jvp`` function with respect to a closed-over value."""

    def __init__(self) -> None:
        super().__init__(
            "Detected differentiation of a custom_jvp function with respect to a "
            "closed-over value. That isn't supported because the custom JVP rule only "
            "specifies how to differentiate the custom_jvp function with respect to "
            "explicit input parameters. Try passing the closed-over value into the "
            "custom_jvp function as an argument, and adapting the custom_jvp rule."
        )


class CustomVJPException(Exception):
    """Differentiating a ``custom_vjp`` function with respect to a closed-over value."""

    def __init__(self) -> None:
        super().__init__(
            "Detected differentiation of a custom_vjp function with respect to a "
            "closed-over value. That isn't supported because the custom VJP rule only "
            "specifies how to differentiate the custom_vjp function with respect to "
            "explicit input parameters. Try passing the closed-over value into the "
            "custom_vjp function as an argument, and adapting the custom_vjp fwd and "
            "bwd rules."
        )


# ---------------------------------------------------------------------------- symbolic zeros


class SymbolicZero:
    """A zero tangent (or cotangent) given to a rule declared with ``symbolic_zeros=True``
    in place of an array of zeros; a rule may also return one."""

    def __init__(self, aval: core.ShapedArray) -> None:
        self.aval = aval

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"SymbolicZero({self.aval.str_short()})"

    def instantiate(self) -> Any:
        return _instantiate(Zero(self.aval))

    @staticmethod
    def from_primal_value(val: Any) -> SymbolicZero:
        return SymbolicZero(tangent_aval(core.get_aval(val).strip_weak_type()))


def zero_from_primal(val: Any, symbolic_zeros: bool = False) -> Any:
    """Zeros shaped like the tangent of ``val`` (a pytree): ``SymbolicZero``s if asked."""

    def one(x):
        z = SymbolicZero.from_primal_value(x)
        return z if symbolic_zeros else z.instantiate()

    return tree_map(one, val)


def _to_symbolic(t: Any) -> Any:
    return SymbolicZero(t.aval) if type(t) is Zero else _user_value(t)


def _instantiate(t: Any) -> Any:
    """Zeros for a symbolic ``Zero``, weakly typed where its aval is (as JAX's)."""
    if type(t) is not Zero:
        return t
    aval = t.aval
    if aval.weak_type and aval.dtype != dtypes.float0:
        from . import lax

        return lax.full_like(core.WeakScalar(0, aval.dtype), 0, shape=aval.shape)
    return instantiate(t)


def _user_value(x: Any) -> Any:
    """A value as a user's rule should see it: an array (never an engine-internal weak
    scalar or a bare Python number), a tracer, or a ``SymbolicZero``."""
    if type(x) is core.WeakScalar or dtypes.is_python_scalar(x) or type(x) is np.ndarray:
        from .dispatch import device_put_value

        return device_put_value(x)
    return x


def _from_symbolic(t: Any) -> Any:
    if type(t) is SymbolicZero:
        return Zero(t.aval)
    return t


# ---------------------------------------------------------------------------- helpers


def _fun_name(f: Any) -> str:
    f = getattr(f, "func", f) if isinstance(f, functools.partial) else f
    return getattr(f, "__name__", type(f).__name__)


def _rule_source(f: Any) -> SourceInfo | None:
    f = inspect.unwrap(f.func if isinstance(f, functools.partial) else f)
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    return SourceInfo(code.co_filename, code.co_firstlineno, code.co_name)


class _Rule:
    """A rule as a primitive's parameter: callable, printed as the user's function name."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn, self.__name__ = fn, name

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.__name__


class _RuleSpan:
    """Emit ``CustomRuleStarted`` / ``CustomRuleApplied`` around a user's rule."""

    __slots__ = ("fields", "call")

    def __init__(self, rule_kind: str, function: str, rule: Any, primitive: str) -> None:
        self.fields = dict(
            rule_kind=rule_kind,
            function=function,
            rule=_fun_name(rule),
            source_info=_rule_source(rule),
            primitive=primitive,
        )
        self.call = events.begin(events.CustomRuleStarted, **self.fields)

    def done(self, outs: Sequence[Any]) -> None:
        avals = tuple(_aval_or_none(x) for x in outs)
        events.end(events.CustomRuleApplied, self.call, out_avals=avals, **self.fields)


def _aval_or_none(x: Any) -> Any:
    if type(x) in (Zero, SymbolicZero):
        return x.aval
    try:
        return core.get_aval(x)
    except TypeError:
        return None


def _resolve_argnums(fun: Callable[..., Any], nondiff_argnums: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted(set(int(i) for i in nondiff_argnums)))


def _bind_positional(fun: Callable[..., Any], args: tuple, kwargs: dict, kind: str) -> tuple:
    """Resolve keyword arguments to positions, as JAX does before binding."""
    if not kwargs:
        return args
    try:
        sig = inspect.signature(fun)
        ba = sig.bind(*args, **kwargs)
        ba.apply_defaults()
    except TypeError as e:
        raise TypeError(
            f"The input arguments to the {kind} function {_fun_name(fun)} could not be "
            f"resolved to positional-only arguments. Binding failed with the error:\n{e}"
        ) from None
    return ba.args + tuple(ba.kwargs.values())


def _split_nondiff(args: tuple, nondiff: tuple[int, ...]) -> tuple[list[Any], list[Any]]:
    for i in nondiff:
        if i >= len(args):
            raise TypeError(
                f"nondiff_argnums {nondiff} out of range for a call with {len(args)} arguments"
            )
    static = [args[i] for i in nondiff]
    dyn = [a for i, a in enumerate(args) if i not in nondiff]
    return static, dyn


def _merge_nondiff(static: Sequence[Any], dyn: Sequence[Any], nondiff: tuple[int, ...]) -> list:
    out: list[Any] = []
    s, d = iter(static), iter(dyn)
    for i in range(len(static) + len(dyn)):
        out.append(next(s) if i in nondiff else next(d))
    return out


def _check_leaves(name: str, leaves: Sequence[Any], what: str) -> None:
    for x in leaves:
        if not core.valid_array_value(x):
            raise TypeError(
                f"Custom derivative function {name} got {what} of type "
                f"{type(x).__name__}, which is not a valid JAX type."
            )


def _trace_flat(
    fun: Callable[..., Any], in_tree: Any, in_avals: Sequence[core.ShapedArray], name: str
) -> tuple[ClosedJaxpr, list[Any], Any]:
    """Trace ``fun`` (on pytrees) at ``in_avals``; returns (jaxpr taking consts as
    leading inputs, consts, out_tree)."""
    store: list[Any] = []

    def flat(*xs):
        out = fun(*tree_unflatten(in_tree, list(xs)))
        leaves, tree = tree_flatten(out)
        _check_leaves(name, leaves, "an output")
        store.append(tree)
        return leaves

    closed = trace_to_jaxpr(flat, list(in_avals), name)
    j = closed.jaxpr
    jaxpr = core.Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, name)
    return ClosedJaxpr(jaxpr, []), list(closed.consts), store[0]


def _pp_params(params: dict, rules: tuple[str, ...]) -> dict:
    """As JAX prints these equations: ``name`` first, then the rest sorted, with
    ``num_consts`` only when nonzero."""
    shown = {"name": params["name"], "call_jaxpr": params["call_jaxpr"]}
    for r in rules:
        shown[r] = params[r]
    if params["num_consts"]:
        shown["num_consts"] = params["num_consts"]
    shown["symbolic_zeros"] = params["symbolic_zeros"]
    return {"name": shown.pop("name"), **dict(sorted(shown.items()))}


def _peel(trace: core.Trace, args: Sequence[Any]) -> str:
    """How the current trace would treat a custom call on ``args``: "pass" (nothing
    of this trace's is involved: go to the parent), "jvp" (a JVP trace with a nonzero
    tangent) or "bind" (stage the primitive)."""
    if trace is core.eval_trace:
        return "eval"
    if isinstance(trace, JVPTrace):
        zero = all(type(trace.lift(x)[1]) is Zero for x in args)
        return "pass" if zero else "jvp"
    if isinstance(trace, PartialEvalTrace):
        return "bind" if any(trace.is_unknown(x) for x in args) else "pass"
    if isinstance(trace, BatchTrace):
        return "bind" if any(trace.lift(x)[1] is not None for x in args) else "pass"
    return "bind"


def _decide(flat: Sequence[Any]) -> tuple[core.Trace, str, list[Any]]:
    """How to process a custom call on ``flat``: "eval" (no trace below involves the
    arguments: call the function as it is, on the current trace), "jvp" (the current
    trace is a JVP trace with a nonzero tangent: apply the rule at once, without a
    jaxpr of the function, which may then branch on concrete values as in JAX), or
    "bind" (trace the function and bind the primitive on the current trace, which
    hands it down the traces with any closed-over values as explicit operands).
    Traces that do not involve the arguments are passed over as JAX does (a JVP trace
    further down then applies the rule), so a rule closing over their tracers fails as
    in JAX. Returns (trace, how, the arguments as that trace sees them)."""
    top = trace = core.current_trace()
    vals = list(flat)
    while True:
        how = _peel(trace, vals)
        if how == "eval":
            return top, "eval", list(flat)
        if how == "pass":
            vals = [_unwrap(trace, x) for x in vals]
            trace = trace.parent
            continue
        if how == "jvp":
            return trace, "jvp", vals
        return top, "bind", list(flat)


def _unwrap(trace: core.Trace, x: Any) -> Any:
    """A value as the parent of ``trace`` sees it (for "pass")."""
    if isinstance(trace, JVPTrace):
        return trace.lift(x)[0]
    if isinstance(trace, BatchTrace):
        return trace.lift(x)[0]
    return x


def _hoist(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    j = closed.jaxpr
    if not j.constvars:
        return closed, []
    return ClosedJaxpr(
        core.Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_name), []
    ), list(closed.consts)


def _check_primal_outs(outs, out_tree, expected, kind, rule_name, name) -> None:
    """The rule's primal outputs have the custom function's shapes and dtypes."""
    got = [core.get_aval(x) for x in outs]
    if all((a.shape, a.dtype) == (b.shape, b.dtype) for a, b in zip(got, expected)):
        return
    deco = "custom_jvp" if kind == "JVP" else "custom_vjp"
    ours = tree_unflatten(out_tree, [a.str_short() for a in got])
    theirs = tree_unflatten(out_tree, [a.str_short() for a in expected])
    raise TypeError(
        f"Custom {kind} rule {rule_name} for function {name} must produce a pair (list or "
        "tuple of length two) where the first element represents the primal output "
        f"(equal in value to the output of the {deco}-decorated function {name}, and in "
        "particular with leaves of the same shape/dtype), but instead the "
        f"{kind.split()[0]} rule output's first element had shapes/dtypes of:\n"
        f"    {str(ours).replace(chr(39), '')}\nwhile the {deco}-decorated function "
        f"{name} had output shapes/dtypes of:\n    {str(theirs).replace(chr(39), '')}"
    )


def _long(a: core.ShapedArray) -> str:
    """An aval as JAX writes it in these messages (``float32[3]``)."""
    return f"{a.dtype.name}[{','.join(map(str, a.shape))}]"


# ---------------------------------------------------------------------------- what custom_jvp and custom_vjp share


def _call_primitive(name: str, rules: tuple[str, ...]) -> Primitive:
    """A ``custom_jvp_call`` / ``custom_vjp_call`` primitive carrying the function as
    ``call_jaxpr`` (evaluated and lowered as it is) and the user's ``rules``."""
    prim = Primitive(name, multiple_results=True)
    prim.pp_params = lambda p: _pp_params(p, rules)
    prim.subjaxprs_rule = lambda p: (p["call_jaxpr"],)

    @prim.def_abstract_eval
    def _abstract_eval(*avals, call_jaxpr, **_):
        return call_jaxpr.out_avals

    @prim.def_impl
    def _impl(*args, call_jaxpr, **_):
        return core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)

    @prim.def_lowering
    def _lowering(ctx, *args, call_jaxpr, **_):
        return lowering.lower_jaxpr_inline(ctx, call_jaxpr, args)

    return prim


def _rule_directly(
    trace: JVPTrace,
    vals: Sequence[Any],
    primitive: Primitive,
    params: dict,
    impl: Callable[..., Any],
    apply: Callable[[Sequence[Any], Sequence[Any]], tuple[Any, Any]],
    instantiate_tangents: bool = False,
) -> list[Any]:
    """What ``JVPTrace.process_primitive`` does for ``primitive``, without a jaxpr of the
    custom function: ``apply(primals, tangents)`` on the parent trace, with the rule
    events around it."""
    primals, tangents = zip(*map(trace.lift, vals)) if vals else ((), ())
    call = None
    if _listening:
        call = events.rule_started(
            trace,
            primitive,
            params,
            "jvp",
            primals,
            zeros=[type(t) is Zero for t in tangents],
            impl=impl,
        )
    ts = [_instantiate(t) for t in tangents] if instantiate_tangents else tangents
    with core.set_current_trace(trace.parent):
        outs, touts = apply(primals, ts)
    if call is not None:
        events.rule_applied(
            call, trace, primitive, "jvp", outs, zeros=[type(t) is Zero for t in touts]
        )
    return [trace.pack(p, t) for p, t in zip(outs, touts)]


class _CustomFunction:
    """What ``custom_jvp`` and ``custom_vjp`` share: wrapping ``fun`` (bound as a method
    like a function), resolving a call's arguments, and processing the call on the
    current trace."""

    fun: Callable[..., Any]
    nondiff_argnums: tuple[int, ...]
    symbolic_zeros: bool

    def _wrap(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int]) -> None:
        functools.update_wrapper(cast(Any, self), fun)
        self.fun = fun
        self.nondiff_argnums = _resolve_argnums(fun, nondiff_argnums)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(cast(Any, self), obj)

    def _arguments(self, args: tuple, kwargs: dict, kind: str, name: str):
        """(nondiff args, the others, their flat leaves, their tree, the function of the
        others alone)."""
        args = _bind_positional(self.fun, args, kwargs, kind)
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        nd = self.nondiff_argnums
        flat, in_tree = tree_flatten(tuple(dyn))
        _check_leaves(name, flat, "an argument")

        def primal(*dyn_args):
            return self.fun(*_merge_nondiff(static, dyn_args, nd))

        return static, dyn, flat, in_tree, primal

    def _process(
        self,
        flat: list[Any],
        dyn: list[Any],
        in_tree: Any,
        primal: Callable[..., Any],
        out_tree_box: list[Any],
        name: str,
        primitive: Primitive,
        rules: dict[str, Any],
        directly: Callable[[JVPTrace, list[Any]], list[Any]],
    ) -> Any:
        """Call the function as it is, apply its rule at once (``directly``), or bind
        ``primitive`` with ``rules``, as ``_decide`` says."""
        trace, how, vals = _decide(flat)
        if how == "eval":
            return primal(*dyn)
        with core.set_current_trace(trace):
            if how == "jvp":
                outs = directly(trace, vals)  # type: ignore[arg-type]
                return tree_unflatten(out_tree_box[0], outs)
            avals = [core.get_aval(x) for x in vals]
            call_jaxpr, consts, out_tree = _trace_flat(primal, in_tree, avals, name)
            out_tree_box += [out_tree, call_jaxpr.out_avals]
            outs = primitive.bind(
                *consts,
                *vals,
                call_jaxpr=call_jaxpr,
                **rules,
                num_consts=len(consts),
                symbolic_zeros=self.symbolic_zeros,
                name=name,
            )
        return tree_unflatten(out_tree, outs)
