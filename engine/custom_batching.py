"""Custom batching rules, as ``jax.custom_batching``: ``custom_vmap`` lets a function say
how ``vmap`` batches it (``f.def_vmap(rule)``, ``rule(axis_size, in_batched, *args) ->
(out, out_batched)``); ``sequential_vmap`` batches a function by a loop over the batch.

The call is one ``custom_vmap_call`` equation holding the function's jaxpr (what runs
and lowers) and the rule (what vmap uses, also through jit). Its derivative is the
function's own: the primal keeps the custom call, so vmap of grad uses the rule for
the primal part and the primitives' batching rules for the tangent part (JAX batches
the tangent part through the JVP of the rule instead; the values agree)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from . import core, lax
from .core import ClosedJaxpr, Primitive
from .interpreters import batching, lowering
from .interpreters import jvp as jvp_mod
from .interpreters.tracing import trace_to_jaxpr
from .tree_util import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten

__all__ = ["custom_vmap", "sequential_vmap"]

custom_vmap_p = Primitive("custom_vmap_call", multiple_results=True)
custom_vmap_p.subjaxprs_rule = lambda p: (p["call"],)
custom_vmap_p.pp_params = lambda p: {
    "call": p["call"],
    "in_tree": p["rule"].in_tree,
    "out_tree": p["rule"].out_tree,
    "rule": p["rule"],
}


class _Rule:
    """The user's rule as an equation parameter, with the argument and output trees."""

    def __init__(
        self, user_rule: Callable[..., Any], rule: Callable[..., Any], in_tree: Any, out_tree: Any
    ) -> None:
        self.user_rule, self.rule, self.in_tree, self.out_tree = user_rule, rule, in_tree, out_tree

    @property
    def name(self) -> str:
        return getattr(self.user_rule, "__name__", "<unnamed rule>")

    def __str__(self) -> str:  # as JAX prints the equation's rule parameter
        return str(self.user_rule)

    __repr__ = __str__


@custom_vmap_p.def_abstract_eval
def _abstract_eval(*avals, call, rule):
    return call.out_avals


@custom_vmap_p.def_impl
def _impl(*args, call, rule):
    return core.eval_jaxpr(call.jaxpr, call.consts, *args)


@custom_vmap_p.def_lowering
def _lowering(ctx, *args, call, rule):
    return lowering.lower_jaxpr_inline(ctx, call, args)


def _batch(axis_size, vals, dims, *, call, rule):
    vals = [
        batching.bdim_at_front(axis_size, v, d) if d is not None else v for v, d in zip(vals, dims)
    ]
    args = tree_unflatten(rule.in_tree, vals)
    in_batched = tree_unflatten(rule.in_tree, [d is not None for d in dims])
    out, out_batched = rule.rule(axis_size, list(in_batched), *args)
    name = rule.name
    out_tree, spec_tree = tree_structure(out), tree_structure(out_batched)
    if out_tree != spec_tree:
        raise ValueError(
            f"structure of output value and output batching specification returned by "
            f"custom vmap rule ({name}) do not match.\nOutput values: {out_tree}\n"
            f"Batching spec: {spec_tree}"
        )
    if out_tree != rule.out_tree:
        raise ValueError(
            f"structure of output returned by custom vmap rule ({name}) does not match "
            f"that of original custom-vmapped function.\nOriginal output: {rule.out_tree}\n"
            f"Rule output: {out_tree}"
        )
    outs, batched = tree_leaves(out), tree_leaves(out_batched)
    for x, b, a in zip(outs, batched, call.out_avals):
        want = ((axis_size,) if b else ()) + a.shape
        got = core.get_aval(x)
        if got.shape != want or got.dtype != a.dtype:
            raise ValueError(
                f"custom vmap rule ({name}) returned a {got.str_short()} output where the "
                f"batched function's output is {core.ShapedArray(want, a.dtype).str_short()}"
            )
    return outs, [0 if b else None for b in batched]


custom_vmap_p.def_batch(_batch)


def _jvp(primals, tangents, *, call, rule):
    outs = custom_vmap_p.bind(*primals, call=call, rule=rule)
    _, t_outs = jvp_mod.jvp_flat(
        lambda *xs: core.eval_jaxpr(call.jaxpr, call.consts, *xs),
        primals,
        tangents,
        instantiate_zeros=False,
    )
    return outs, t_outs


custom_vmap_p.def_jvp(_jvp)


class custom_vmap:  # noqa: N801 (JAX's name)
    """A function with its own batching rule: ``f = custom_vmap(fun)``, then
    ``@f.def_vmap def rule(axis_size, in_batched, *args): return out, out_batched``.

    ``in_batched`` is a list (one entry per argument) of pytrees of bools; batched
    arguments arrive with the batch axis first. ``out_batched`` says which outputs the
    rule returns batched (batch axis first)."""

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vmap_rule: Callable[..., Any] | None = None

    def def_vmap(self, vmap_rule: Callable[..., Any]) -> Callable[..., Any]:
        self.vmap_rule = vmap_rule
        return vmap_rule

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.fun, "__name__", type(self.fun).__name__)
        if kwargs:
            try:
                bound = inspect.signature(self.fun).bind(*args, **kwargs)
                bound.apply_defaults()
            except TypeError as e:
                raise TypeError(
                    "The input arguments to the custom_vmap-decorated function "
                    f"{name} could not be resolved to positional-only arguments. "
                    f"Binding failed with the error:\n{e}"
                ) from e
            if bound.kwargs:
                raise TypeError(
                    "The input arguments to the custom_vmap-decorated function "
                    f"{name} could not be resolved to positional-only arguments."
                )
            args = bound.args
        if self.vmap_rule is None:
            raise AttributeError(
                f"No batching rule defined for custom_vmap function {name} using def_vmap."
            )
        flat, in_tree = tree_flatten(args)
        store: list[Any] = []

        def flat_fun(*xs):
            out = self.fun(*tree_unflatten(in_tree, list(xs)))
            leaves, tree = tree_flatten(out)
            store.append(tree)
            return leaves

        closed = trace_to_jaxpr(flat_fun, [core.get_aval(x) for x in flat], name)
        out_tree = store[0]
        j = closed.jaxpr
        # closed-over values become leading inputs, never batched
        call = ClosedJaxpr(core.Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, name), [])
        n = len(closed.consts)
        rule = _Rule(
            self.vmap_rule, _skip_consts(self.vmap_rule), _with_consts_tree(in_tree, n), out_tree
        )
        outs = custom_vmap_p.bind(*closed.consts, *flat, call=call, rule=rule)
        return tree_unflatten(out_tree, outs)


def _with_consts_tree(in_tree: Any, n_consts: int) -> Any:
    """The tree of (consts tuple, args tuple) the rule wrapper receives."""
    return tree_structure(([0] * n_consts, tree_unflatten(in_tree, [0] * in_tree.num_leaves)))


def _skip_consts(user_rule: Callable[..., Any]) -> Callable[..., Any]:
    def rule(axis_size, in_batched, consts, args):
        if any(tree_leaves(in_batched[0])):
            raise NotImplementedError(
                "custom_vmap: a value the function closes over is batched; pass it as an "
                "argument instead"
            )
        return user_rule(axis_size, list(in_batched[1]), *args)

    rule.__name__ = getattr(user_rule, "__name__", "<unnamed rule>")
    return rule


def sequential_vmap(f: Callable[..., Any]) -> custom_vmap:
    """``f`` batched by a loop (``lax.map``) over the batched arguments: for functions
    that do not batch natively (callbacks, say)."""
    f = custom_vmap(f)

    @f.def_vmap
    def rule(axis_size, in_batched, *args):
        flat_args, tree = tree_flatten(list(args))
        flat_batched = tree_leaves(in_batched)
        mapped = [a for a, b in zip(flat_args, flat_batched) if b]

        def one(xs):
            it = iter(xs)
            full = [next(it) if b else a for a, b in zip(flat_args, flat_batched)]
            return f(*tree_unflatten(tree, full))

        out = lax.map(one, mapped)
        return out, tree_map(lambda _: True, out)

    return f
