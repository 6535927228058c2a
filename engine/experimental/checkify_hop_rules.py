"""checkify's rules for higher-order primitives (JAX's): the body of a ``jit``, ``cond``,
``scan``, ``while``, ``remat`` or custom-derivative call is checkified into a new jaxpr
that takes and returns the error value's leaves, and the primitive is bound on it.

Loops and branches need an error of one structure in and out: the body is first
traced to find which kinds of error it adds (its "effects"), the incoming error gets
placeholders for those, and the body is traced again with that error. Constants a
checkified body closes over (the shapes an index check compares with) become leading
operands, as the engine's control-flow primitives take their bodies without constants.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import core
from ..ad_checkpoint import remat_p
from ..custom_derivatives import custom_jvp_call_p, custom_vjp_call_p
from ..custom_rules_base import _Rule
from ..interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr
from ..jit import jit_p
from ..lax.control_flow.cond_switch import cond_p
from ..lax.control_flow.scan_map import scan_p
from ..lax.control_flow.while_fori import while_p
from ..tree_util import tree_flatten, tree_unflatten
from .checkify_core import (
    Error,
    checkify_jaxpr,
    checkify_jaxpr_flat,
    error_checks,
    typeof,
    zeros_tangent,
)

# closed jaxpr -> [((enabled, avals, err_at), err_tree, result)]: a body checkified again
# with an error of the same structure is the same jaxpr (no new codes), as JAX's cache
_cache: weakref.WeakKeyDictionary[Any, list] = weakref.WeakKeyDictionary()


def checkify_body(
    closed: core.ClosedJaxpr,
    enabled_errors: frozenset,
    err_tree: Any,
    avals: Sequence[core.ShapedArray],
    err_at: int = 0,
) -> tuple[core.ClosedJaxpr, Any, set]:
    """``closed`` checkified, traced on ``avals``: (jaxpr returning the error's leaves then
    the outputs, that output treedef, the error's effects). The error's leaves are the
    traced arguments from ``err_at`` on (the primitive's constants come first)."""
    key = (enabled_errors, tuple(avals), err_at)
    entries = _cache.setdefault(closed, [])
    for k, tree, v in entries:
        if k == key and tree == err_tree:
            return v
    box: dict[str, Any] = {}
    n = err_tree.num_leaves

    def fun(*args):
        ins = [*args[err_at : err_at + n], *args[:err_at], *args[err_at + n :]]
        error, out = checkify_jaxpr_flat(
            closed.jaxpr, closed.consts, enabled_errors, err_tree, *ins
        )
        box["effects"] = set(error._pred)
        leaves, box["tree"] = tree_flatten((error, out))
        return leaves

    new = trace_to_jaxpr(fun, list(avals), closed.jaxpr.debug_name)
    result = (new, box["tree"], box["effects"])
    entries.append((key, err_tree, result))
    return result


def _avals(xs: Sequence[Any]) -> list[core.ShapedArray]:
    return [typeof(x) for x in xs]


def _merged(error: Error, closed, enabled, avals_of: Callable[[Any], list], err_at=0):
    """``error`` with placeholders for every effect ``closed`` adds, and its treedef."""
    _, err_tree = tree_flatten(error)
    _, _, effects = checkify_body(closed, enabled, err_tree, avals_of(error), err_at)
    merged = error._add_placeholder_effects(effects)
    return merged, tree_flatten(merged)


# ---------------------------------------------------------------------------- jit


def jit_error_check(error, enabled_errors, *vals_in, jaxpr, name, donated_invars, **params):
    err_vals, err_tree = tree_flatten(error)
    checked, out_tree, _ = checkify_body(
        jaxpr, enabled_errors, err_tree, _avals([*err_vals, *vals_in])
    )
    # (the constants the checks compare with stay the called jaxpr's, as in JAX's)
    donated = (False,) * len(err_vals) + tuple(donated_invars)
    outs = jit_p.bind(
        *err_vals, *vals_in, jaxpr=checked, name=name, donated_invars=donated, **params
    )
    return tree_unflatten(out_tree, outs)


error_checks[jit_p] = jit_error_check


# ---------------------------------------------------------------------------- cond


def cond_error_check(error, enabled_errors, index, *ops, branches, **params):
    effects: set = set()
    err_vals, err_tree = tree_flatten(error)
    for br in branches:
        effects |= checkify_body(br, enabled_errors, err_tree, _avals([*err_vals, *ops]))[2]
    merged = error._add_placeholder_effects(effects)
    err_vals, err_tree = tree_flatten(merged)
    avals = _avals([*err_vals, *ops])
    new_branches, out_trees = [], []
    for br in branches:
        checked, tree, _ = checkify_body(br, enabled_errors, err_tree, avals)
        new_branches.append(checked)
        out_trees.append(tree)
    # (a branch keeps the constants its checks compare with, as JAX's)
    outs = cond_p.bind(index, *err_vals, *ops, branches=tuple(new_branches), **params)
    err0, out = tree_unflatten(out_trees[0], outs)
    metadata = dict(err0._metadata)
    for tree in out_trees[1:]:
        metadata.update(tree_unflatten(tree, outs)[0]._metadata)
    return err0._replace(_metadata=metadata), out


error_checks[cond_p] = cond_error_check


# ---------------------------------------------------------------------------- scan


def scan_error_check(
    error, enabled_errors, *in_flat, jaxpr, num_consts, num_carry, length, **params
):
    consts, carry, xs = (
        list(in_flat[:num_consts]),
        list(in_flat[num_consts : num_consts + num_carry]),
        list(in_flat[num_consts + num_carry :]),
    )
    xs_avals = [core.mapped_aval(length, 0, typeof(x)) for x in xs]

    def avals_of(err):  # scan takes (consts, error, carry, xs)
        leaves = tree_flatten(err)[0]
        return [*_avals(consts), *_avals(leaves), *_avals(carry), *xs_avals]

    merged, (err_vals, err_tree) = _merged(error, jaxpr, enabled_errors, avals_of, num_consts)
    checked, out_tree, _ = checkify_body(
        jaxpr, enabled_errors, err_tree, avals_of(merged), num_consts
    )
    operands = [*consts, *err_vals, *carry, *xs]
    linear = params.pop("linear", None)
    if linear is not None:
        params["linear"] = (False,) * len(operands)
    outs = scan_p.bind(
        *operands,
        jaxpr=checked,
        num_consts=num_consts,
        num_carry=len(err_vals) + num_carry,
        length=length,
        **params,
    )
    return tree_unflatten(out_tree, outs)


error_checks[scan_p] = scan_error_check


# ---------------------------------------------------------------------------- while


def _while_body(cond_jaxpr, body_jaxpr, cond_nconsts):
    """The body followed by the next test (its checks run; its value is dropped)."""
    from ..lax.extra_ops import dce_sink

    def body(*c_consts_and_vals):
        c_consts = c_consts_and_vals[:cond_nconsts]
        vals = c_consts_and_vals[cond_nconsts:]
        out = core.jaxpr_as_fun(body_jaxpr)(*vals)
        dce_sink(core.jaxpr_as_fun(cond_jaxpr)(*c_consts, *out))
        return out

    avals = [*cond_jaxpr.in_avals[:cond_nconsts], *body_jaxpr.in_avals]
    return trace_to_jaxpr(body, avals, body_jaxpr.jaxpr.debug_name)


def while_loop_error_check(
    error, enabled_errors, *in_flat, cond_nconsts, cond_jaxpr, body_nconsts, body_jaxpr
):
    if cond_jaxpr.out_avals[0].shape:
        raise ValueError(
            "Checkify does not support batched while-loops (checkify-of-vmap-of-while). \n"
            "Hint: if possible, move the vmap to the outer level to get "
            "vmap-of-checkify-of-while."
        )
    c_consts = list(in_flat[:cond_nconsts])
    b_consts = list(in_flat[cond_nconsts : cond_nconsts + body_nconsts])
    carry = list(in_flat[cond_nconsts + body_nconsts :])
    # the first test's checks
    error, _ = checkify_jaxpr(cond_jaxpr, enabled_errors, error, *c_consts, *carry)
    body = _while_body(cond_jaxpr, body_jaxpr, cond_nconsts)
    n_consts = cond_nconsts + body_nconsts

    def avals_of(err):  # the body takes (c_consts, b_consts, error, carry)
        leaves = tree_flatten(err)[0]
        return [*_avals(c_consts), *_avals(b_consts), *_avals(leaves), *_avals(carry)]

    error, (err_vals, err_tree) = _merged(error, body, enabled_errors, avals_of, n_consts)
    # traced afresh, as JAX's does (so its checks take the same codes as JAX's)
    body = _while_body(cond_jaxpr, body_jaxpr, cond_nconsts)
    checked_body, body_out_tree, _ = checkify_body(
        body, enabled_errors, err_tree, avals_of(error), n_consts
    )
    # the test takes (c_consts, error, carry) and returns no error
    cond_avals = [*_avals(c_consts), *_avals(err_vals), *_avals(carry)]
    checked_cond, _, _ = checkify_body(
        cond_jaxpr, enabled_errors, err_tree, cond_avals, cond_nconsts
    )
    checked_cond = _drop_leading_outputs(checked_cond, len(err_vals))
    outs = while_p.bind(
        *c_consts,
        *c_consts,
        *b_consts,
        *err_vals,
        *carry,
        cond_nconsts=cond_nconsts,
        cond_jaxpr=checked_cond,
        body_nconsts=cond_nconsts + body_nconsts,
        body_jaxpr=checked_body,
    )
    return tree_unflatten(body_out_tree, outs)


def _drop_leading_outputs(closed: core.ClosedJaxpr, n: int) -> core.ClosedJaxpr:
    j = closed.jaxpr
    return core.ClosedJaxpr(
        core.Jaxpr(j.constvars, j.invars, j.outvars[n:], j.eqns, j.debug_name), closed.consts
    )


error_checks[while_p] = while_loop_error_check


# ---------------------------------------------------------------------------- remat


def remat_error_check(error, enabled_errors, *vals_in, jaxpr, prevent_cse, **params):
    from ..ad_checkpoint import _closed

    err_vals, err_tree = tree_flatten(error)
    checked, out_tree, _ = checkify_body(
        _closed(jaxpr), enabled_errors, err_tree, _avals([*err_vals, *vals_in])
    )
    checked, consts = convert_constvars_to_invars(checked)
    n_new = len(consts) + len(err_vals)
    if isinstance(prevent_cse, tuple):
        prevent_cse = (True,) * n_new + prevent_cse
    outs = remat_p.bind(
        *consts, *err_vals, *vals_in, jaxpr=checked.jaxpr, prevent_cse=prevent_cse, **params
    )
    return tree_unflatten(out_tree, outs)


error_checks[remat_p] = remat_error_check


# ---------------------------------------------------------------------------- custom_jvp / custom_vjp


def _custom_call_parts(error, enabled_errors, vals, call_jaxpr, num_consts):
    """The call's jaxpr checkified (as JAX's, the error it takes as it is, its constants
    kept), taking (consts, error, args) and returning (error, outputs); and a function
    giving, from the error leaves taken, the error leaves a rule's results forward (the
    same error, with placeholders for what the body adds)."""
    consts, args = list(vals[:num_consts]), list(vals[num_consts:])
    err_vals, err_tree = tree_flatten(error)
    avals = [*_avals(consts), *_avals(err_vals), *_avals(args)]
    checked, out_tree, effects = checkify_body(
        call_jaxpr, enabled_errors, err_tree, avals, num_consts
    )

    def forwarded(leaves):
        err = tree_unflatten(err_tree, list(leaves))._add_placeholder_effects(effects)
        return tree_flatten(err)[0]

    return checked, consts, err_vals, args, out_tree, forwarded


def custom_jvp_call_rule(error, enabled_errors, *vals, call_jaxpr, jvp, num_consts, **params):
    checked, consts, err_vals, args, out_tree, forwarded = _custom_call_parts(
        error, enabled_errors, vals, call_jaxpr, num_consts
    )
    n_err = len(err_vals)

    def checked_jvp(ps, ts):
        # No checks in the rule (checkify-of-jvp checks what it computes): the error
        # flows through, its tangents zero.
        outs, touts = jvp(list(ps[n_err:]), list(ts[n_err:]))
        errs = forwarded(ps[:n_err])
        return [*errs, *outs], [*(zeros_tangent(e) for e in errs), *touts]

    outs = custom_jvp_call_p.bind(
        *consts,
        *err_vals,
        *args,
        call_jaxpr=checked,
        jvp=_Rule(checked_jvp, jvp.__name__),
        num_consts=num_consts,
        **params,
    )
    return tree_unflatten(out_tree, outs)


error_checks[custom_jvp_call_p] = custom_jvp_call_rule


def custom_vjp_call_rule(error, enabled_errors, *vals, call_jaxpr, fwd, bwd, num_consts, **params):
    checked, consts, err_vals, args, out_tree, forwarded = _custom_call_parts(
        error, enabled_errors, vals, call_jaxpr, num_consts
    )
    n_err = len(err_vals)

    def checked_fwd(ps, perturbed):
        # fwd is not checkified (as in JAX): the error flows through
        outs, res, bwd_flat = fwd(list(ps[n_err:]), list(perturbed[n_err:]))
        errs = forwarded(ps[:n_err])

        def checked_bwd(res_, cts):
            return [None] * n_err + list(bwd_flat(res_, list(cts[len(errs) :])))

        return [*errs, *outs], res, checked_bwd

    outs = custom_vjp_call_p.bind(
        *consts,
        *err_vals,
        *args,
        call_jaxpr=checked,
        fwd=_Rule(checked_fwd, fwd.__name__),
        bwd=bwd,
        num_consts=num_consts,
        **params,
    )
    return tree_unflatten(out_tree, outs)


error_checks[custom_vjp_call_p] = custom_vjp_call_rule


# ---------------------------------------------------------------------------- shard_map


def shard_map_error_check(error, enabled_errors, *vals_in, jaxpr, in_specs, out_specs, **params):
    """The body checkified; the error goes in replicated and comes out with a leading
    axis split over every mesh axis: one error per member, a mapped Error (JAX's)."""
    from .. import lax
    from ..shard_map import shard_map_p
    from ..shard_map_rules import _in_body
    from ..sharding import P

    mesh = params.get("mesh")
    if mesh is None:
        raise ValueError("Mesh must be provided for shard_map with checkify.")
    err_vals, err_tree = tree_flatten(error)
    n_err = len(err_vals)
    with _in_body(params):
        checked, out_tree, _ = checkify_body(
            jaxpr, enabled_errors, err_tree, [*_avals(err_vals), *jaxpr.in_avals]
        )
        n_out_err = out_tree.num_leaves - len(out_specs)

        def expand_errors_leading_dim(*xs):
            outs = core.eval_jaxpr(checked.jaxpr, checked.consts, *xs)
            errs = [lax.expand_dims(e, [0]) for e in outs[:n_out_err]]
            return [*errs, *outs[n_out_err:]]

        body = trace_to_jaxpr(expand_errors_leading_dim, checked.in_avals, jaxpr.jaxpr.debug_name)
    body, consts = convert_constvars_to_invars(body)
    outs = shard_map_p.bind(
        *consts,
        *err_vals,
        *vals_in,
        jaxpr=body,
        in_specs=(P(),) * (len(consts) + n_err) + tuple(in_specs),
        out_specs=(P(tuple(mesh.axis_names)),) * n_out_err + tuple(out_specs),
        **params,
    )
    return tree_unflatten(out_tree, outs)


def _register_shard_map() -> None:
    from ..shard_map import shard_map_p

    error_checks[shard_map_p] = shard_map_error_check


_register_shard_map()
