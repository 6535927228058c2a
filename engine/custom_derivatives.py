"""Custom differentiation rules: ``custom_jvp``, ``custom_vjp``, ``custom_gradient``,
``closure_convert`` and ``linear_transpose`` (JAX's ``jax.custom_derivatives``).

As in JAX, a call of a ``custom_jvp`` function binds the ``custom_jvp_call`` primitive,
which carries the primal function as a closed jaxpr (``call_jaxpr``) and the user's rule
as a callable (``jvp``). Each interpreter processes it with the rules declared beside it
here: evaluation and lowering run ``call_jaxpr``; the JVP rule runs the user's rule on
the primals and tangents (so partial evaluation and transposition only ever see the
rule's own equations); batching batches ``call_jaxpr`` and wraps the rule in ``vmap``.

A ``custom_vjp`` call binds ``custom_vjp_call`` (``call_jaxpr`` plus the user's ``fwd``
and ``bwd``). Its JVP rule runs ``fwd`` on the primals, in the known part of a
linearization, and binds ``custom_lin`` on the residuals and the input tangents: a
linear primitive whose transpose rule calls the user's ``bwd``. Evaluating
``custom_lin`` (a plain ``jvp`` of a ``custom_vjp`` function) raises JAX's error.

While a rule runs under differentiation the engine emits ``events.CustomRuleStarted`` /
``CustomRuleApplied`` naming the rule and where it is defined.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import core, dtypes, events
from .ad_util import Zero, instantiate
from .core import ClosedJaxpr, Primitive
from .events import active as _listening
from .interpreters import batching, lowering
from .interpreters import jaxpr_transforms as jt
from .interpreters.batching import BatchTrace
from .interpreters.jvp import JVPTrace, tangent_aval
from .interpreters.partial_eval import PartialEvalTrace
from .interpreters.tracing import trace_to_jaxpr
from .interpreters.transpose import UndefinedPrimal, backward_pass
from .source_info import SourceInfo
from .tree_util import tree_flatten, tree_map, tree_structure, tree_unflatten

__all__ = [
    "SymbolicZero",
    "closure_convert",
    "custom_gradient",
    "custom_jvp",
    "custom_jvp_call_p",
    "custom_lin_p",
    "custom_vjp",
    "custom_vjp_call_p",
    "CustomVJPPrimal",
    "custom_vjp_primal_tree_values",
    "linear_call",
    "linear_call_p",
    "linear_transpose",
    "zero_from_primal",
]


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
    if type(x) is core.WeakScalar or dtypes.is_python_scalar(x):
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


# ============================================================================ custom_jvp

custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.pp_params = lambda p: _pp_params(p, ("jvp",))
custom_jvp_call_p.subjaxprs_rule = lambda p: (p["call_jaxpr"],)


@custom_jvp_call_p.def_abstract_eval
def _custom_jvp_call_abstract_eval(*avals, call_jaxpr, **_):
    return call_jaxpr.out_avals


@custom_jvp_call_p.def_impl
def _custom_jvp_call_impl(*args, call_jaxpr, **_):
    return core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


@custom_jvp_call_p.def_lowering
def _custom_jvp_call_lowering(ctx, *args, call_jaxpr, **_):
    return lowering.lower_jaxpr_inline(ctx, call_jaxpr, args)


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts, symbolic_zeros, name):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise CustomJVPException()
    ps, ts = list(primals[num_consts:]), list(tangents[num_consts:])
    if not symbolic_zeros:
        ts = [_instantiate(t) for t in ts]
    outs, touts = jvp(ps, ts)
    return list(outs), list(touts)


custom_jvp_call_p.def_jvp(_custom_jvp_call_jvp)


def _custom_jvp_call_batch(size, vals, dims, *, call_jaxpr, jvp, num_consts, symbolic_zeros, name):
    n_out = len(call_jaxpr.out_avals)
    new_jaxpr, _ = jt.batch_jaxpr(call_jaxpr, size, tuple(dims), (True,) * n_out)
    new_jaxpr, consts = _hoist(new_jaxpr)
    pdims = list(dims[num_consts:])

    def batched_jvp(ps, ts):
        t_dims = [None if type(t) is Zero else d for t, d in zip(ts, pdims)]
        n = len(ps)

        def flat(*args):
            outs, touts = jvp(list(args[:n]), list(args[n:]))
            return list(outs) + [_instantiate(t) for t in touts]

        res = batching.batch_flat(
            flat, size, list(ps) + list(ts), pdims + t_dims, [0] * (2 * n_out)
        )
        return res[:n_out], res[n_out:]

    outs = custom_jvp_call_p.bind(
        *consts,
        *vals,
        call_jaxpr=new_jaxpr,
        jvp=_Rule(batched_jvp, jvp.__name__),
        num_consts=num_consts + len(consts),
        symbolic_zeros=symbolic_zeros,
        name=name,
    )
    return outs, [0] * n_out


custom_jvp_call_p.def_batch(_custom_jvp_call_batch)


def _hoist(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    j = closed.jaxpr
    if not j.constvars:
        return closed, []
    return ClosedJaxpr(
        core.Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_name), []
    ), list(closed.consts)


class custom_jvp:
    """A function with a custom JVP rule (``jax.custom_jvp``).

    ``@custom_jvp def f(x): ...`` then ``@f.defjvp def f_jvp(primals, tangents): return
    f(*primals), tangent_out`` (or ``f.defjvps(lambda t, ans, x: ..., ...)``, one per
    argument). ``nondiff_argnums`` are passed to the rule first, as Python values."""

    def __init__(
        self,
        fun: Callable[..., Any],
        nondiff_argnums: Sequence[int] = (),
    ) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = _resolve_argnums(fun, nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None
        self.symbolic_zeros = False

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    def defjvp(self, jvp: Callable[..., Any], symbolic_zeros: bool = False) -> Callable[..., Any]:
        """Set the rule: ``jvp(*nondiff_args, primals, tangents) -> (primal_out,
        tangent_out)``. With ``symbolic_zeros=True`` zero tangents arrive as
        ``SymbolicZero`` objects, and the rule may return them."""
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One rule per argument: ``jvp_i(tangent_i, primal_out, *primals)`` gives that
        argument's contribution to the output tangent (None: it contributes nothing)."""
        if self.nondiff_argnums:
            raise TypeError("Can't use ``defjvps`` with ``nondiff_argnums``.")

        def jvp(primals, tangents):
            primal_out = self(*primals)
            zeros = zero_from_primal(primal_out)
            outs = [
                fn(t, primal_out, *primals)
                for fn, t in zip(jvps, tangents)
                if fn is not None and type(t) is not SymbolicZero
            ]
            total = functools.reduce(lambda a, b: tree_map(lambda x, y: x + y, a, b), outs, zeros)
            return primal_out, total

        jvp.__name__ = "jvp"
        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _fun_name(self.fun)
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using defjvp.")
        args = _bind_positional(self.fun, args, kwargs, "custom_jvp")
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        nd = self.nondiff_argnums
        flat, in_tree = tree_flatten(tuple(dyn))
        _check_leaves(name, flat, "an argument")

        def primal(*dyn_args):
            return self.fun(*_merge_nondiff(static, dyn_args, nd))

        out_tree_box: list[Any] = []
        jvp_flat = _make_jvp_flat(self, static, in_tree, out_tree_box, name)
        rule = _Rule(jvp_flat, _fun_name(self.jvp))

        trace, how, vals = _decide(flat)
        if how == "eval":
            return primal(*dyn)
        with core.set_current_trace(trace):
            if how == "jvp":
                outs = _jvp_directly(trace, vals, rule, self.symbolic_zeros, name)
                return tree_unflatten(out_tree_box[0], outs)
            avals = [core.get_aval(x) for x in vals]
            call_jaxpr, consts, out_tree = _trace_flat(primal, in_tree, avals, name)
            out_tree_box += [out_tree, call_jaxpr.out_avals]
            outs = custom_jvp_call_p.bind(
                *consts,
                *vals,
                call_jaxpr=call_jaxpr,
                jvp=rule,
                num_consts=len(consts),
                symbolic_zeros=self.symbolic_zeros,
                name=name,
            )
        return tree_unflatten(out_tree, outs)


def _jvp_directly(trace: JVPTrace, vals: Sequence[Any], rule: _Rule, symbolic_zeros: bool, name):
    """What ``JVPTrace.process_primitive`` does for ``custom_jvp_call``, without a jaxpr
    of the primal function."""
    primals, tangents = zip(*map(trace.lift, vals)) if vals else ((), ())
    params = {"name": name, "jvp": rule, "symbolic_zeros": symbolic_zeros}
    call = None
    if _listening:
        call = events.rule_started(
            trace,
            custom_jvp_call_p,
            params,
            "jvp",
            primals,
            zeros=[type(t) is Zero for t in tangents],
            impl=_custom_jvp_call_jvp,
        )
    ts = list(tangents) if symbolic_zeros else [_instantiate(t) for t in tangents]
    with core.set_current_trace(trace.parent):
        outs, touts = rule(list(primals), ts)
    if call is not None:
        events.rule_applied(
            call, trace, custom_jvp_call_p, "jvp", outs, zeros=[type(t) is Zero for t in touts]
        )
    return [trace.pack(p, t) for p, t in zip(outs, touts)]


def _make_jvp_flat(cj: custom_jvp, static, in_tree, out_tree_box, name):
    """The user's rule on flat primals and tangents (Zero where symbolic), checked."""
    user_rule = cj.jvp
    jvp_name = _fun_name(user_rule)
    nd_count = len(static)

    def jvp_flat(primals: Sequence[Any], tangents: Sequence[Any]):
        py_p = tree_unflatten(in_tree, [_user_value(p) for p in primals])
        py_t = tree_unflatten(in_tree, [_to_symbolic(t) for t in tangents])
        span = _RuleSpan("jvp", name, user_rule, "custom_jvp_call") if _listening else None
        pair = user_rule(*static[:nd_count], py_p, py_t)
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(
                f"Custom JVP rule {jvp_name} for function {name} must produce a pair "
                "(list or tuple of length two) representing primal and tangent outputs, "
                f"but got {pair}."
            )
        p_out, t_out = pair
        outs, out_tree = tree_flatten(p_out)
        touts, out_tree2 = tree_flatten(t_out, is_leaf=lambda x: type(x) is SymbolicZero)
        if out_tree != out_tree2:
            raise TypeError(
                f"Custom JVP rule {jvp_name} for function {name} must produce primal and "
                "tangent outputs with equal container (pytree) structures, but got "
                f"{out_tree} and {out_tree2} respectively."
            )
        if out_tree_box and out_tree_box[0] != out_tree:
            raise TypeError(
                f"Custom JVP rule {jvp_name} for function {name} must produce a pair "
                "(list or tuple of length two) where the first element represents the "
                "primal output (equal in value to the output of the custom_jvp-decorated "
                f"function {name}, and in particular of the same container/pytree "
                f"structure), but instead the JVP rule output's first element had "
                f"container/pytree structure:\n    {out_tree}\nwhile the custom_jvp-"
                f"decorated function {name} had output container/pytree structure:\n"
                f"    {out_tree_box[0]}."
            )
        if not out_tree_box:
            out_tree_box.append(out_tree)
        elif len(out_tree_box) > 1:
            _check_primal_outs(outs, out_tree, out_tree_box[1], "JVP", jvp_name, name)
        _check_tangents(outs, touts)
        touts = [_from_symbolic(t) for t in touts]
        if span is not None:
            span.done(list(outs) + list(touts))
        return outs, touts

    return jvp_flat


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


def _check_tangents(outs: Sequence[Any], touts: Sequence[Any]) -> None:
    p_avals = [core.get_aval(x).strip_weak_type() for x in outs]
    expected = [tangent_aval(a) for a in p_avals]
    got = [
        (t.aval if type(t) is SymbolicZero else core.get_aval(t)).strip_weak_type() for t in touts
    ]
    bad = [
        (p, e, g)
        for p, e, g in zip(p_avals, expected, got)
        if (e.shape, e.dtype) != (g.shape, g.dtype)
    ]
    if not bad:
        return
    if len(p_avals) == 1:
        p, e, g = bad[0]
        raise TypeError(
            "Custom JVP rule must produce primal and tangent outputs with corresponding "
            f"shapes and dtypes. Expected {_long(e)} (tangent type of "
            f"{_long(p)}) but got {_long(g)}."
        )
    lines = "\n".join(
        f"  primal {p.str_short()} with tangent {g.str_short()}, expecting tangent {e.str_short()}"
        for p, e, g in bad
    )
    raise TypeError(
        "Custom JVP rule must produce primal and tangent outputs with corresponding "
        f"shapes and dtypes, but got:\n{lines}"
    )


# ============================================================================ custom_vjp

custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.pp_params = lambda p: _pp_params(p, ("bwd", "fwd"))
custom_vjp_call_p.subjaxprs_rule = lambda p: (p["call_jaxpr"],)


@custom_vjp_call_p.def_abstract_eval
def _custom_vjp_call_abstract_eval(*avals, call_jaxpr, **_):
    return call_jaxpr.out_avals


@custom_vjp_call_p.def_impl
def _custom_vjp_call_impl(*args, call_jaxpr, **_):
    return core.eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts, *args)


@custom_vjp_call_p.def_lowering
def _custom_vjp_call_lowering(ctx, *args, call_jaxpr, **_):
    return lowering.lower_jaxpr_inline(ctx, call_jaxpr, args)


def _custom_vjp_call_jvp(
    primals, tangents, *, call_jaxpr, fwd, bwd, num_consts, symbolic_zeros, name
):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise CustomVJPException()
    ps, ts = list(primals[num_consts:]), list(tangents[num_consts:])
    outs, res, bwd_flat = fwd(ps, [type(t) is not Zero for t in ts])
    out_avals = tuple(tangent_aval(core.get_aval(x)) for x in outs)
    touts = custom_lin_p.bind(
        *res,
        *[_instantiate(t) for t in ts],
        num_res=len(res),
        bwd=bwd_flat,
        out_avals=out_avals,
        symbolic_zeros=symbolic_zeros,
    )
    return list(outs), list(touts)


custom_vjp_call_p.def_jvp(_custom_vjp_call_jvp)


def _custom_vjp_call_batch(
    size, vals, dims, *, call_jaxpr, fwd, bwd, num_consts, symbolic_zeros, name
):
    # Every operand is batched at axis 0 (unbatched ones broadcast), so the batched
    # bwd's cotangents have the operands' shapes.
    vals = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(vals, dims)]
    n_out = len(call_jaxpr.out_avals)
    new_jaxpr, _ = jt.batch_jaxpr(call_jaxpr, size, (0,) * len(vals), (True,) * n_out)
    new_jaxpr, consts = _hoist(new_jaxpr)

    def batched_fwd(ps, perturbed):
        box: dict[str, Any] = {}

        def flat(*args):
            outs, res, bwd_flat = fwd(list(args), perturbed)
            box.update(n_res=len(res), bwd=bwd_flat)
            return list(outs) + list(res)

        r = batching.batch_flat(
            flat, size, list(ps), [0] * len(ps), lambda: [0] * (n_out + box["n_res"])
        )
        outs, res = r[:n_out], r[n_out:]
        n_res = box["n_res"]

        def batched_bwd(res_, cts):
            def flatb(*args):
                cts_in = box["bwd"](list(args[:n_res]), list(args[n_res:]))
                return [_instantiate(c) for c in cts_in]

            out = batching.batch_flat(
                flatb,
                size,
                list(res_) + [_instantiate(c) for c in cts],
                [0] * (n_res + len(cts)),
                [0] * len(ps),
            )
            return out

        return outs, res, batched_bwd

    outs = custom_vjp_call_p.bind(
        *consts,
        *vals,
        call_jaxpr=new_jaxpr,
        fwd=_Rule(batched_fwd, fwd.__name__),
        bwd=bwd,
        num_consts=num_consts + len(consts),
        symbolic_zeros=symbolic_zeros,
        name=name,
    )
    return outs, [0] * n_out


custom_vjp_call_p.def_batch(_custom_vjp_call_batch)


# -- custom_lin: linear in the tangents, its transpose is the user's bwd

custom_lin_p = Primitive("custom_lin", multiple_results=True)
_JVP_OF_VJP = "can't apply forward-mode autodiff (jvp) to a custom_vjp function."


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract_eval(*avals, out_avals, **_):
    return list(out_avals)


@custom_lin_p.def_impl
def _custom_lin_impl(*args, **_):
    raise TypeError(_JVP_OF_VJP)


@custom_lin_p.def_lowering
def _custom_lin_lowering(ctx, *args, **_):
    raise TypeError(_JVP_OF_VJP)


def _custom_lin_jvp(primals, tangents, **_):
    raise TypeError(_JVP_OF_VJP)


custom_lin_p.def_jvp(_custom_lin_jvp)


@custom_lin_p.def_batch
def _custom_lin_batch(size, vals, dims, **_):
    raise TypeError(_JVP_OF_VJP)


@custom_lin_p.def_transpose
def _custom_lin_transpose(cts, *invals, num_res, bwd, out_avals, symbolic_zeros):
    res = list(invals[:num_res])
    if symbolic_zeros:
        cts = list(cts)
    else:
        cts = [_instantiate(c) for c in cts]
    cts_in = bwd(res, cts)
    return [None] * num_res + list(cts_in)


class custom_vjp:
    """A function with a custom VJP rule (``jax.custom_vjp``).

    ``@custom_vjp def f(x): ...``; ``f.defvjp(f_fwd, f_bwd)`` with ``f_fwd(*args) ->
    (out, residuals)`` (residuals any pytree of arrays) and ``f_bwd(*nondiff_args,
    residuals, out_cotangent) -> tuple of input cotangents`` (None: zero)."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = _resolve_argnums(fun, nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.symbolic_zeros = False
        self.optimize_remat = False

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    def defvjp(
        self,
        fwd: Callable[..., Any],
        bwd: Callable[..., Any],
        symbolic_zeros: bool = False,
        optimize_remat: bool = False,
    ) -> None:
        self.fwd, self.bwd = fwd, bwd
        self.symbolic_zeros = symbolic_zeros
        self.optimize_remat = optimize_remat

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _fun_name(self.fun)
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using defvjp.")
        args = _bind_positional(self.fun, args, kwargs, "custom_vjp")
        static, dyn = _split_nondiff(args, self.nondiff_argnums)
        nd = self.nondiff_argnums
        flat, in_tree = tree_flatten(tuple(dyn))
        _check_leaves(name, flat, "an argument")

        def primal(*dyn_args):
            return self.fun(*_merge_nondiff(static, dyn_args, nd))

        out_tree_box: list[Any] = []
        in_avals = [core.get_aval(x) for x in flat]
        fwd_flat = _make_fwd_flat(self, static, in_tree, in_avals, out_tree_box, name)
        fwd_rule = _Rule(fwd_flat, _fun_name(self.fwd))
        bwd_rule = _Rule(self.bwd, _fun_name(self.bwd))

        trace, how, vals = _decide(flat)
        if how == "eval":
            return primal(*dyn)
        with core.set_current_trace(trace):
            if how == "jvp":
                outs = _vjp_jvp_directly(trace, vals, fwd_rule, bwd_rule, self.symbolic_zeros, name)
                return tree_unflatten(out_tree_box[0], outs)
            avals = [core.get_aval(x) for x in vals]
            call_jaxpr, consts, out_tree = _trace_flat(primal, in_tree, avals, name)
            out_tree_box += [out_tree, call_jaxpr.out_avals]
            outs = custom_vjp_call_p.bind(
                *consts,
                *vals,
                call_jaxpr=call_jaxpr,
                fwd=fwd_rule,
                bwd=bwd_rule,
                num_consts=len(consts),
                symbolic_zeros=self.symbolic_zeros,
                name=name,
            )
        return tree_unflatten(out_tree, outs)


def _vjp_jvp_directly(trace: JVPTrace, vals, fwd_rule, bwd_rule, symbolic_zeros, name):
    primals, tangents = zip(*map(trace.lift, vals)) if vals else ((), ())
    params = {"name": name, "fwd": fwd_rule, "bwd": bwd_rule, "symbolic_zeros": symbolic_zeros}
    call = None
    if _listening:
        call = events.rule_started(
            trace,
            custom_vjp_call_p,
            params,
            "jvp",
            primals,
            zeros=[type(t) is Zero for t in tangents],
            impl=_custom_vjp_call_jvp,
        )
    with core.set_current_trace(trace.parent):
        outs, touts = _custom_vjp_call_jvp(
            primals,
            tangents,
            call_jaxpr=None,
            fwd=fwd_rule,
            bwd=bwd_rule,
            num_consts=0,
            symbolic_zeros=symbolic_zeros,
            name=name,
        )
    if call is not None:
        events.rule_applied(
            call, trace, custom_vjp_call_p, "jvp", outs, zeros=[type(t) is Zero for t in touts]
        )
    return [trace.pack(p, t) for p, t in zip(outs, touts)]


class CustomVJPPrimal:
    """What a ``symbolic_zeros=True`` fwd rule receives per argument: the ``value`` and
    whether it is ``perturbed`` (has a nonzero tangent)."""

    def __init__(self, value: Any, perturbed: bool) -> None:
        self.value, self.perturbed = value, perturbed

    def __repr__(self) -> str:
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def _make_fwd_flat(cv: custom_vjp, static, in_tree, in_avals, out_tree_box, name):
    user_fwd, user_bwd = cv.fwd, cv.bwd
    fwd_name = _fun_name(user_fwd)
    nd = cv.nondiff_argnums
    symbolic = cv.symbolic_zeros

    def fwd_flat(primals: Sequence[Any], perturbed: Sequence[bool]):
        if symbolic:
            leaves = [CustomVJPPrimal(_user_value(p), z) for p, z in zip(primals, perturbed)]
        else:
            leaves = [_user_value(p) for p in primals]
        py_args = tree_unflatten(in_tree, leaves)
        span = _RuleSpan("fwd", name, user_fwd, "custom_vjp_call") if _listening else None
        pair = user_fwd(*_merge_nondiff(static, py_args, nd))
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(
                f"Custom VJP fwd rule {fwd_name} for function {name} must produce a pair "
                "(list or tuple of length two) where the first element represents the "
                f"primal output (equal to the output of the custom_vjp-decorated function "
                f"{name}) and the second element represents residuals (i.e. values stored "
                "from the forward pass for use on the backward pass), but instead the fwd "
                f"rule {fwd_name} produced {pair}."
            )
        py_out, py_res = pair
        outs, out_tree = tree_flatten(py_out)
        res, res_tree = tree_flatten(py_res)
        _check_leaves(name, res, "a residual")
        if out_tree_box and out_tree_box[0] != out_tree:
            raise TypeError(
                f"Custom VJP fwd rule {fwd_name} for function {name} must produce a pair "
                "(list or tuple of length two) where the first element represents the "
                f"primal output (equal to the output of the custom_vjp-decorated function "
                f"{name}) and the second element represents residuals (i.e. values stored "
                "from the forward pass for use on the backward pass), but instead the fwd "
                f"rule output's first element had container/pytree structure:\n"
                f"    {out_tree}\nwhile the custom_vjp-decorated function {name} had "
                f"output container/pytree structure:\n    {out_tree_box[0]}."
            )
        if not out_tree_box:
            out_tree_box.append(out_tree)
        elif len(out_tree_box) > 1:
            _check_primal_outs(outs, out_tree, out_tree_box[1], "VJP fwd", fwd_name, name)
        if span is not None:
            span.done(list(outs) + list(res))
        bwd_flat = _make_bwd_flat(
            user_bwd, static, res_tree, out_tree, in_tree, in_avals, name, symbolic
        )
        return outs, res, bwd_flat

    return fwd_flat


def _make_bwd_flat(user_bwd, static, res_tree, out_tree, in_tree, in_avals, name, symbolic):
    def bwd_flat(res: Sequence[Any], cts: Sequence[Any]) -> list[Any]:
        py_res = tree_unflatten(res_tree, [_user_value(r) for r in res])
        py_cts = tree_unflatten(
            out_tree, [_to_symbolic(c) if symbolic else _user_value(c) for c in cts]
        )
        span = _RuleSpan("bwd", name, user_bwd, "custom_vjp_call") if _listening else None
        cts_in = user_bwd(*static, py_res, py_cts)
        flat = _flatten_bwd_output(cts_in, in_tree, in_avals)
        if span is not None:
            span.done(flat)
        return flat

    bwd_flat.__name__ = _fun_name(user_bwd)
    return bwd_flat


def _flatten_bwd_output(cts_in: Any, in_tree: Any, in_avals) -> list[Any]:
    """The bwd rule's output as one cotangent per flat input (``Zero`` for None)."""
    n_args = len(tree_unflatten(in_tree, [None] * in_tree.num_leaves))
    arg_trees = [tree_structure(a) for a in tree_unflatten(in_tree, [0] * in_tree.num_leaves)]
    if isinstance(cts_in, list) and len(cts_in) == n_args:
        cts_in = tuple(cts_in)
    if not isinstance(cts_in, tuple) or len(cts_in) != n_args:
        raise _bwd_structure_error(cts_in, in_tree)
    out: list[Any] = []
    for ct, tree in zip(cts_in, arg_trees):
        if ct is None:
            out.extend([None] * tree.num_leaves)
            continue
        leaves, t2 = tree_flatten(ct, is_leaf=lambda x: x is None or type(x) is SymbolicZero)
        if t2 != tree:
            if tree.num_leaves == len(leaves):
                try:
                    leaves = tree.flatten_up_to(ct)
                except Exception:
                    raise _bwd_structure_error(cts_in, in_tree) from None
            else:
                raise _bwd_structure_error(cts_in, in_tree)
        out.extend(leaves)
    results: list[Any] = []
    for i, (ct, a) in enumerate(zip(out, in_avals)):
        ct_aval = tangent_aval(a.strip_weak_type())
        if ct is None or ct_aval.dtype == dtypes.float0:
            results.append(Zero(ct_aval))
        elif type(ct) is SymbolicZero:
            results.append(Zero(ct.aval))
        else:
            got = core.get_aval(ct)
            if (got.shape, got.dtype) != (ct_aval.shape, ct_aval.dtype):
                raise ValueError(
                    "Custom VJP bwd rule must produce an output with the same type as the "
                    f"args tuple of the primal function, but at output[{i}] the bwd rule "
                    f"produced an output of type {got.str_short()} corresponding to an "
                    f"input of type {a.str_short()}"
                )
            results.append(ct)
    return results


def _bwd_structure_error(cts_in: Any, in_tree: Any) -> TypeError:
    try:
        tree2 = tree_structure(cts_in)
    except Exception:
        tree2 = type(cts_in).__name__
    return TypeError(
        "Custom VJP bwd rule must produce an output with the same container (pytree) "
        "structure as the args tuple of the primal function, and in particular must "
        "produce a tuple of length equal to the number of arguments to the primal "
        f"function, but got bwd output structure {tree2} for primal input structure "
        f"{in_tree}."
    )


# ============================================================================ helpers built on them


def closure_convert(fun: Callable[..., Any], *example_args: Any) -> tuple[Callable[..., Any], list]:
    """``fun`` with the traced values it closes over made explicit: returns
    ``(converted, consts)`` with ``converted(*args, *consts) == fun(*args)``."""
    flat, in_tree = tree_flatten(example_args)
    avals = [core.get_aval(x) for x in flat]
    name = _fun_name(fun)
    closed, consts, out_tree = _trace_flat(fun, in_tree, avals, name)
    n_consts = len(consts)
    hoist = [
        core.is_tracer(c) or (hasattr(c, "dtype") and dtypes.is_inexact(c.dtype) and np.ndim(c) > 0)
        for c in consts
    ]
    hoisted = [c for c, h in zip(consts, hoist) if h]
    kept = [c for c, h in zip(consts, hoist) if not h]

    def converted(*args: Any) -> Any:
        n_h = len(hoisted)
        real, hv = args[: len(args) - n_h], args[len(args) - n_h :]
        xs, tree2 = tree_flatten(tuple(real))
        if tree2 != in_tree:
            raise TypeError(
                "The inputs to the closure produced by closure_convert must have the same "
                "Pytree structure as the example arguments passed when closure_convert was "
                f"called. Expected {in_tree}, but got {tree2}"
            )
        h_it, k_it = iter(hv), iter(kept)
        cs = [next(h_it) if h else next(k_it) for h in hoist]
        outs = core.eval_jaxpr(closed.jaxpr, [], *cs, *xs)
        return tree_unflatten(out_tree, outs)

    converted.__name__ = name
    del n_consts
    return converted, hoisted


def custom_gradient(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun(*args) -> (out, vjp)`` where ``vjp(out_cotangent) -> input cotangents``
    (a tuple, or one value for one argument): a function differentiated by ``vjp``."""

    @custom_vjp
    def wrapped(*args):
        out, _ = fun(*args)
        return out

    def fwd(*args):
        out, vjp = fun(*args)
        ct_example = tree_map(lambda x: _instantiate(Zero(tangent_aval(core.get_aval(x)))), out)
        conv, consts = closure_convert(vjp, ct_example)
        key = _stash(conv, len(consts))
        return out, (key, consts)

    def bwd(res, ct):
        key, consts = res
        conv, _ = _stash_get(key)
        cts = conv(ct, *consts)
        if not isinstance(cts, (tuple, list)):
            cts = (cts,)
        return tuple(cts)

    functools.update_wrapper(wrapped, fun)
    wrapped.defvjp(fwd, bwd)
    fwd.__name__ = f"{_fun_name(fun)}_fwd"
    bwd.__name__ = f"{_fun_name(fun)}_bwd"
    return wrapped


class _StashKey:
    """A residual leaf-less token: its id names a converted vjp (an empty pytree node)."""

    def __init__(self, item: Any) -> None:
        self.item = item


def _flatten_stash(k):
    return (), k.item


def _unflatten_stash(aux, children):
    return _StashKey(aux)


def _register_stash() -> None:
    from .tree_util import register_pytree_node

    register_pytree_node(_StashKey, _flatten_stash, _unflatten_stash)


_register_stash()


def _stash(conv: Callable[..., Any], n: int) -> _StashKey:
    return _StashKey((conv, n))


def _stash_get(key: _StashKey) -> tuple[Callable[..., Any], int]:
    return key.item


def linear_transpose(fun: Callable[..., Any], *primals: Any, reduce_axes: tuple = ()) -> Callable:
    """The transpose of the linear function ``fun`` at the types of ``primals``:
    ``f_t(out_cotangent) -> tuple of input cotangents``."""
    flat, in_tree = tree_flatten(primals)
    in_avals = [core.get_aval(x).strip_weak_type() for x in flat]
    name = _fun_name(fun)
    for a in in_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(
                f"linear_transpose only supports [float or complex] -> [float or complex], and integer -> integer functions, but got {a.dtype} input."
            )
    closed, consts, out_tree = _trace_flat(lambda *a: fun(*a), in_tree, in_avals, name)
    out_avals = closed.out_avals

    def transposed(*out_cotangent: Any) -> Any:
        ct = out_cotangent[0] if len(out_cotangent) == 1 else out_cotangent
        cts, tree = tree_flatten(ct)
        if tree != out_tree:
            raise TypeError(
                f"cotangent tree does not match function output, expected {out_tree} but got {tree}"
            )
        for c, a in zip(cts, out_avals):
            ca = core.get_aval(c)
            if (ca.shape, np.dtype(ca.dtype)) != (a.shape, a.dtype):
                raise TypeError(
                    f"cotangent type does not match function output, expected "
                    f"{a.str_short()} but got {ca.str_short()}"
                )
        lin = [UndefinedPrimal(a) for a in in_avals]
        n_c = len(consts)
        res = backward_pass(closed.jaxpr, [], list(consts) + lin, list(cts))[n_c:]
        return tree_unflatten(
            in_tree,
            [
                _instantiate(r) if r is not None else _instantiate(Zero(a))
                for r, a in zip(res, in_avals)
            ],
        )

    return transposed


def custom_vjp_primal_tree_values(tree: Any) -> Any:
    """The values of a pytree of ``CustomVJPPrimal``s (what a ``symbolic_zeros=True`` fwd
    rule receives)."""
    return tree_map(
        lambda x: x.value if isinstance(x, CustomVJPPrimal) else x,
        tree,
        is_leaf=lambda x: isinstance(x, CustomVJPPrimal),
    )


# ============================================================================ linear_call

linear_call_p = Primitive("linear_call", multiple_results=True)
linear_call_p.subjaxprs_rule = lambda p: (p["callee"], p["transpose"])


@linear_call_p.def_abstract_eval
def _linear_call_abstract_eval(*avals, callee, **_):
    return callee.out_avals


def _linear_call_split(args, num_callee_consts, num_transpose_consts):
    a, b = num_callee_consts, num_callee_consts + num_transpose_consts
    return list(args[:a]), list(args[a:b]), list(args[b:])


@linear_call_p.def_impl
def _linear_call_impl(*args, callee, num_callee_consts, num_transpose_consts, **_):
    cc, _, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    return core.eval_jaxpr(callee.jaxpr, [], *cc, *rest)


@linear_call_p.def_lowering
def _linear_call_lowering(ctx, *args, callee, num_callee_consts, num_transpose_consts, **_):
    cc, _, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    return lowering.lower_jaxpr_inline(ctx, callee, cc + rest)


def _linear_call_jvp(primals, tangents, **params):
    outs = linear_call_p.bind(*primals, **params)
    n_fixed = params["num_callee_consts"] + params["num_transpose_consts"] + params["num_res"]
    lin_t = tangents[n_fixed:]
    if all(type(t) is Zero for t in lin_t):
        return outs, [Zero(tangent_aval(core.get_aval(o))) for o in outs]
    touts = linear_call_p.bind(*primals[:n_fixed], *[_instantiate(t) for t in lin_t], **params)
    return outs, touts


linear_call_p.def_jvp(_linear_call_jvp)


@linear_call_p.def_transpose
def _linear_call_transpose(
    cts, *args, callee, transpose, num_callee_consts, num_transpose_consts, num_res
):
    cc, tc, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    res = rest[:num_res]
    cts_lin = linear_call_p.bind(
        *tc,
        *cc,
        *res,
        *[_instantiate(c) for c in cts],
        callee=transpose,
        transpose=callee,
        num_callee_consts=num_transpose_consts,
        num_transpose_consts=num_callee_consts,
        num_res=num_res,
    )
    return [None] * (num_callee_consts + num_transpose_consts + num_res) + list(cts_lin)


@linear_call_p.def_batch
def _linear_call_batch(
    size, vals, dims, *, callee, transpose, num_callee_consts, num_transpose_consts, num_res
):
    vals = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(vals, dims)]
    cc, tc, rest = _linear_call_split(vals, num_callee_consts, num_transpose_consts)
    n_ct = len(callee.out_avals)
    bc, _ = jt.batch_jaxpr(callee, size, (0,) * (len(cc) + len(rest)), (True,) * n_ct)
    n_t_in = len(tc) + num_res + n_ct
    bt, _ = jt.batch_jaxpr(transpose, size, (0,) * n_t_in, (True,) * len(transpose.out_avals))
    bc, bc_consts = _hoist(bc)
    bt, bt_consts = _hoist(bt)
    outs = linear_call_p.bind(
        *bc_consts,
        *cc,
        *bt_consts,
        *tc,
        *rest,
        callee=bc,
        transpose=bt,
        num_callee_consts=len(bc_consts) + len(cc),
        num_transpose_consts=len(bt_consts) + len(tc),
        num_res=num_res,
    )
    return outs, [0] * len(outs)


def linear_call(
    fun: Callable[..., Any], fun_transpose: Callable[..., Any], residual_args: Any, linear_args: Any
) -> Any:
    """Call ``fun(residual_args, linear_args)``, linear in ``linear_args``, whose
    transpose is ``fun_transpose(residual_args, out_cotangent)`` (JAX's ``linear_call``)."""
    res_flat, res_tree = tree_flatten(residual_args)
    lin_flat, lin_tree = tree_flatten(linear_args)
    n_res = len(res_flat)
    res_avals = [core.get_aval(x) for x in res_flat]
    lin_avals = [core.get_aval(x) for x in lin_flat]
    name = _fun_name(fun)
    tree_in = tree_structure((residual_args, linear_args))
    callee, c_consts, out_tree = _trace_flat(
        lambda r, l: fun(r, l), tree_in, res_avals + lin_avals, name
    )
    del n_res
    ct_avals = [tangent_aval(a) for a in callee.out_avals]
    ct_example = tree_unflatten(out_tree, [_instantiate(Zero(a)) for a in ct_avals])
    t_tree_in = tree_structure((residual_args, ct_example))
    t_box: list[Any] = []

    def t_fun(r, ct):
        out = fun_transpose(r, ct)
        t_box.append(tree_structure(out))
        return out

    transpose, t_consts, t_out_tree = _trace_flat(
        t_fun, t_tree_in, res_avals + ct_avals, _fun_name(fun_transpose)
    )
    if t_out_tree != lin_tree:
        raise TypeError(
            "transpose output pytree structure must match that of linear inputs, got output "
            f"structure {t_out_tree} for linear inputs structure {lin_tree}."
        )
    outs = linear_call_p.bind(
        *c_consts,
        *t_consts,
        *res_flat,
        *lin_flat,
        callee=callee,
        transpose=transpose,
        num_callee_consts=len(c_consts),
        num_transpose_consts=len(t_consts),
        num_res=len(res_flat),
    )
    return tree_unflatten(out_tree, outs)
