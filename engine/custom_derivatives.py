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

This module holds ``custom_jvp`` and exports every name; ``custom_vjp`` lives in
``custom_vjp_rules.py``, what both share in ``custom_rules_base.py``, and the helpers
built on them (``closure_convert``, ``custom_gradient``, ``linear_transpose``,
``linear_call``) in ``custom_transforms.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from . import core
from .ad_util import Zero, add_tangents
from .custom_rules_base import (  # noqa: F401
    CustomJVPException,
    SymbolicZero,
    _bind_positional,
    _call_primitive,
    _check_leaves,
    _check_primal_outs,
    _CustomFunction,
    _decide,
    _from_symbolic,
    _fun_name,
    _hoist,
    _instantiate,
    _long,
    _merge_nondiff,
    _pp_params,
    _resolve_argnums,
    _Rule,
    _rule_directly,
    _RuleSpan,
    _split_nondiff,
    _to_symbolic,
    _trace_flat,
    _user_value,
    zero_from_primal,
)
from .events import active as _listening
from .interpreters import batching
from .interpreters import jaxpr_transforms as jt
from .interpreters import partial_eval as pe
from .interpreters.jvp import JVPTrace, tangent_aval
from .tree_util import tree_flatten, tree_map, tree_unflatten

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


# ============================================================================ custom_jvp

custom_jvp_call_p = _call_primitive("custom_jvp_call", ("jvp",))


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


def _custom_jvp_call_dce(used_outs, eqn):
    """JAX's custom_jvp_call DCE rule: the function's jaxpr loses the outputs nothing
    reads and the equations only they needed, but keeps every input (the JVP rule may
    read them); the rule's results are cut to the same outputs."""
    from .interpreters import partial_eval as pe

    if not any(used_outs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    p = eqn.params
    call = p["call_jaxpr"]
    body, _ = pe.dce_jaxpr(call.jaxpr, used_outs, True)
    jvp = p["jvp"]

    def dce_jvp(ps, ts):
        outs, touts = jvp(ps, ts)
        return (
            [o for o, u in zip(outs, used_outs) if u],
            [t for t, u in zip(touts, used_outs) if u],
        )

    params = dict(
        p, call_jaxpr=core.ClosedJaxpr(body, call.consts), jvp=_Rule(dce_jvp, jvp.__name__)
    )
    new = eqn.replace(outvars=[v for v, u in zip(eqn.outvars, used_outs) if u], params=params)
    return [True] * len(eqn.invars), new


pe.dce_rules[custom_jvp_call_p] = _custom_jvp_call_dce


class custom_jvp(_CustomFunction):
    """A function with a custom JVP rule (``jax.custom_jvp``).

    ``@custom_jvp def f(x): ...`` then ``@f.defjvp def f_jvp(primals, tangents): return
    f(*primals), tangent_out`` (or ``f.defjvps(lambda t, ans, x: ..., ...)``, one per
    argument). ``nondiff_argnums`` are passed to the rule first, as Python values."""

    def __init__(
        self,
        fun: Callable[..., Any],
        nondiff_argnums: Sequence[int] = (),
    ) -> None:
        self._wrap(fun, nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None
        self.symbolic_zeros = False

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
            outs = [
                fn(t, primal_out, *primals)
                for fn, t in zip(jvps, tangents)
                if fn is not None and type(t) is not SymbolicZero
            ]
            if not outs:
                return primal_out, zero_from_primal(primal_out)
            # as JAX's _sum_tangents: the first contribution, then add_any (no zeros first)
            total = functools.reduce(lambda a, b: tree_map(add_tangents, a, b), outs)
            return primal_out, total

        jvp.__name__ = "jvp"
        self.defjvp(jvp)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _fun_name(self.fun)
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using defjvp.")
        static, dyn, flat, in_tree, primal = self._arguments(args, kwargs, "custom_jvp", name)
        out_tree_box: list[Any] = []
        jvp_flat = _make_jvp_flat(self, static, in_tree, out_tree_box, name)
        rule = _Rule(jvp_flat, _fun_name(self.jvp))
        return self._process(
            flat,
            dyn,
            in_tree,
            primal,
            out_tree_box,
            name,
            custom_jvp_call_p,
            {"jvp": rule},
            lambda trace, vals: _jvp_directly(trace, vals, rule, self.symbolic_zeros, name),
        )


def _jvp_directly(trace: JVPTrace, vals: Sequence[Any], rule: _Rule, symbolic_zeros: bool, name):
    """What ``JVPTrace.process_primitive`` does for ``custom_jvp_call``, without a jaxpr
    of the primal function."""
    params = {"name": name, "jvp": rule, "symbolic_zeros": symbolic_zeros}
    return _rule_directly(
        trace,
        vals,
        custom_jvp_call_p,
        params,
        _custom_jvp_call_jvp,
        lambda primals, tangents: rule(list(primals), list(tangents)),
        instantiate_tangents=not symbolic_zeros,
    )


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


# ---------------------------------------------------------------------------- the rest of JAX's names

from .custom_rules_base import (  # noqa: E402,F401
    CustomVJPException,
)
from .custom_transforms import (  # noqa: E402,F401
    closure_convert,
    custom_gradient,
    custom_vjp_primal_tree_values,
    linear_call,
    linear_call_p,
    linear_transpose,
)
from .custom_vjp_rules import (  # noqa: E402,F401
    CustomVJPPrimal,
    custom_lin_p,
    custom_vjp,
    custom_vjp_call_p,
)
