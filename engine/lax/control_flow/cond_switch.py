"""``cond`` and ``switch``: the ``cond`` primitive (one staged equation over a list of
branch jaxprs) with its JVP, partial-eval, transpose, batching and lowering rules."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from ... import core, dtypes, tree_util
from ...core import ClosedJaxpr, Jaxpr, Primitive, Var
from ...interpreters import batching, lowering
from ...interpreters import jaxpr_transforms as jt
from ...interpreters import partial_eval as pe
from ...interpreters import transpose as tr
from ...interpreters.jvp import Zero, instantiate, linearizing, tangent_aval
from ...interpreters.tracing import trace_to_jaxpr
from .common import (
    as_operand,
    avals_str,
    batch_jaxpr_nz,
    empty_like,
    join_consts,
    jvp_jaxpr_nz,
    trace_fun,
    zeros,
)

__all__ = ["cond", "switch", "cond_p"]

cond_p = Primitive("cond", multiple_results=True)
cond_p.subjaxprs_rule = lambda p: p["branches"]
cond_p.pp_params = lambda p: {"branches": p["branches"]}


def switch(index, branches, *operands):
    """``branches[clamp(index)](*operands)``, staged as one ``cond`` equation."""
    from ..convert import convert_element_type
    from ..logic import clamp

    branches = list(branches)
    if not branches:
        raise ValueError("Empty branch sequence")
    idx_aval = core.get_aval(index)
    if idx_aval.shape != ():
        raise TypeError(f"Branch index must be scalar, got {index} of shape {idx_aval.shape}.")
    if not (dtypes.is_int(idx_aval.dtype) or idx_aval.dtype == np.bool_):
        raise TypeError(f"Index type must be an integer, got {idx_aval.dtype.name}.")
    if len(branches) == 1:
        return branches[0](*operands)
    index = convert_element_type(index, np.int32)
    index = clamp(np.int32(0), index, np.int32(len(branches) - 1))
    return _bind_cond(index, branches, operands, "switch")


def cond(pred, true_fun, false_fun, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)``, with both branches
    staged (use this instead of Python ``if`` on traced values)."""
    from ..convert import convert_element_type

    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("lax.cond: true_fun and false_fun arguments should be callable.")
    try:
        aval = core.get_aval(pred)
    except TypeError:
        raise TypeError(f"Pred must be a scalar, got {pred} of type {type(pred)}") from None
    if aval.shape != ():
        raise TypeError(f"Pred must be a scalar, got {pred} of shape {aval.shape}.")
    if aval.dtype != np.bool_ and not (dtypes.is_int(aval.dtype) or dtypes.is_float(aval.dtype)):
        raise TypeError(f"Pred type must be either boolean or number, got {aval.dtype.name}.")
    if aval.dtype != np.bool_:
        from ..logic import ne

        pred = ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, np.int32)
    return _bind_cond(index, [false_fun, true_fun], operands, "cond")


def _bind_cond(index, funs, operands, what):
    flat, in_tree = tree_util.tree_flatten(operands)
    flat = [as_operand(x) for x in flat]
    avals = [core.get_aval(x) for x in flat]
    # one trace per function object, as JAX's tracing cache: cond(p, f, f, x) holds one
    # branch jaxpr twice (printed once, as `let jaxpr = ...`)
    by_fun: dict = {}
    for f in funs:
        if id(f) not in by_fun:
            name = getattr(f, "__name__", "branch")
            by_fun[id(f)] = trace_fun(f, in_tree, avals, name, traced_for=what)
    traced = [by_fun[id(f)] for f in funs]
    out_tree = traced[0][1]
    # Messages name the branches in the order the user wrote them (cond: true_fun
    # first, though it is branch 1 internally), so no one misreads which one is wrong;
    # switch compares branch 0 with each other one, named as JAX's ('branch1').
    names = (
        ["false_fun", "true_fun"]
        if what == "cond"
        else ["branch 0"] + [f"branch{i}" for i in range(1, len(funs))]
    )
    pairs = [(1, 0)] if what == "cond" else [(0, k) for k in range(1, len(funs))]
    outs_avals = [c.out_avals for c, _ in traced]

    def where(i, j):  # the user's lines, as JAX gives them
        return "".join(f"\n{names[k]} is {core.fun_location(funs[k])}" for k in (i, j))

    for i, j in pairs:
        if traced[i][1] != traced[j][1]:
            raise TypeError(
                f"{what} branch outputs must have the same pytree structure, but they "
                f"differ: {names[i]} returns {traced[i][1]} and {names[j]} returns "
                f"{traced[j][1]}.{where(i, j)}"
            )
    from ..sharding_rules import same_layout

    for i, j in pairs:
        a_i, a_j = outs_avals[i], outs_avals[j]
        if [(a.shape, a.dtype) for a in a_i] != [(a.shape, a.dtype) for a in a_j]:
            raise TypeError(
                f"{what} branches must have equal output types, but {names[i]} returns "
                f"{avals_str(a_i)} and {names[j]} returns {avals_str(a_j)}.{where(i, j)}"
            )
        for x, y in zip(a_i, a_j):
            if x.vma != y.vma:  # manual axes they vary over (check_vma shard_map body)
                raise TypeError(
                    f"{what} branches must have equal output types but they differ.\n"
                    f"{where(i, j)}\n\nThe output of {names[i]} has type {x.str_long()} "
                    f"but the corresponding output of {names[j]} has type {y.str_long()}, so "
                    "the manual axis types do not match.\n\nThis might be fixed by applying "
                    "`jax.lax.pcast(..., to='varying')` to the output of the branch that varies "
                    "over fewer axes.\nSee https://docs.jax.dev/en/latest/notebooks/"
                    f"shard_map.html#scan-vma for more information.\n\nRevise {names[i]} "
                    f"and/or {names[j]} so that all output types match."
                )
            if not same_layout(x, y):  # shardings over Explicit mesh axes
                raise TypeError(
                    f"{what} branches must have equal output types but they differ.\n"
                    f"{where(i, j)}\n\nThe output of {names[i]} has type {x.str_long()} "
                    f"but the corresponding output of {names[j]} has type {y.str_long()}.\n\n"
                    f"Revise {names[i]} and/or {names[j]} so that all output types match."
                )
    # As JAX's: the result has branch 0's types (branches may differ in weak type alone),
    # and an output every branch forwards from the same operand is that operand.
    branches, consts = _join_branch_consts([c for c, _ in traced])
    in_fwd = _common_forwarding([b.jaxpr for b in branches])
    keep = [f is None for f in in_fwd]
    branches = _per_distinct(branches, lambda b: _keep_outputs(b, keep))
    outs = iter(cond_p.bind(index, *consts, *flat, branches=tuple(branches)))
    operands = [*consts, *flat]
    outs = [next(outs) if f is None else _forwarded(operands[f]) for f in in_fwd]
    return tree_util.tree_unflatten(out_tree, outs)


def _per_distinct(branches, transform):
    """``transform`` of each branch, once per distinct branch object, so branches that
    were one jaxpr stay one (as JAX's jaxpr-transform caches keep them)."""
    done: dict = {}
    for b in branches:
        if id(b) not in done:
            done[id(b)] = transform(b)
    return [done[id(b)] for b in branches]


def _join_branch_consts(closed_list):
    """The branches' consts as leading inputs every branch takes, each distinct const
    once, as JAX's _merge_common_consts: a branch reads its own const through the input
    of that const's first occurrence (whichever branch it came from). Without consts, a
    branch object repeated stays one object."""
    closed_list = list(closed_list)
    consts = [c for cj in closed_list for c in cj.consts]
    if not consts:
        bare = _per_distinct(closed_list, lambda cj: join_consts([cj])[0][0])
        return bare, []
    first_pos: dict = {}
    for pos, c in enumerate(consts):
        first_pos.setdefault(id(c), pos)
    distinct = sorted(first_pos.values())
    out, offset = [], 0
    for cj in closed_list:
        j, n = cj.jaxpr, len(cj.consts)
        at_pos = [
            j.constvars[p - offset] if offset <= p < offset + n else Var(core.get_aval(consts[p]))
            for p in range(len(consts))
        ]
        canonical = {v: at_pos[first_pos[id(consts[p])]] for p, v in enumerate(at_pos)}
        renamed = {v: w for v, w in canonical.items() if v is not w}
        eqns, outvars = j.eqns, j.outvars
        if renamed:
            eqns = [e.replace(invars=_renamed(e.invars, renamed)) for e in eqns]
            outvars = _renamed(outvars, renamed)
        invars = [at_pos[p] for p in distinct] + list(j.invars)
        out.append(ClosedJaxpr(Jaxpr([], invars, outvars, eqns, j.debug_name), []))
        offset += n
    return out, [consts[p] for p in distinct]


def _renamed(atoms, renamed):
    return [renamed.get(x, x) if type(x) is Var else x for x in atoms]


def _common_forwarding(jaxprs):
    """Per output, the input index every jaxpr returns there unchanged (else None)."""
    per_jaxpr = []
    for j in jaxprs:
        where = {v: i for i, v in enumerate(j.invars)}
        per_jaxpr.append([where.get(v) if type(v) is Var else None for v in j.outvars])
    return [f[0] if len(set(f)) == 1 else None for f in zip(*per_jaxpr)]


def _keep_outputs(closed, keep):
    j = closed.jaxpr
    outvars = [v for v, k in zip(j.outvars, keep) if k]
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars, outvars, j.eqns, j.debug_name), closed.consts)


def _forwarded(x):
    """An operand returned as a result: an array, as JAX's lax.asarray makes it."""
    if isinstance(x, core.Tracer):
        return x
    from ...dispatch import device_put_value

    return device_put_value(x)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *ops, branches):
    if index.dtype != np.int32 or index.shape != ():
        raise TypeError(f"cond index must be an int32 scalar, got {index.str_short()}")
    from ..sharding_rules import first_typed

    return first_typed([b.out_avals for b in branches])


def _cond_jvp(primals, tangents, branches):
    index, *ops = primals
    nonzeros = [type(t) is not Zero for t in tangents[1:]]
    n_out = len(branches[0].out_avals)
    out_nz = [False] * n_out
    lin = linearizing()  # as JAX's cond linearization: tangents made without inputs are zeros
    for b in branches:
        _, nz = jvp_jaxpr_nz(b, nonzeros, [False] * n_out, lin)
        out_nz = [x or y for x, y in zip(out_nz, nz)]
    jb = _per_distinct(branches, lambda b: jvp_jaxpr_nz(b, nonzeros, out_nz, lin)[0])
    jb, consts = _join_branch_consts(jb)
    tans = [t for t in tangents[1:] if type(t) is not Zero]
    outs = cond_p.bind(index, *consts, *ops, *tans, branches=tuple(jb))
    primals_out, tans_out = outs[:n_out], iter(outs[n_out:])
    return primals_out, [
        next(tans_out) if nz else Zero(tangent_aval(a))
        for nz, a in zip(out_nz, branches[0].out_avals)
    ]


cond_p.def_jvp(_cond_jvp)


def _cond_partial_eval(trace, args, unknowns, params):
    branches = params["branches"]
    if unknowns[0]:
        return trace.record(cond_p, [trace.instantiate_const(x) for x in args], params)
    index, ops = args[0], args[1:]
    op_uk = list(unknowns[1:])
    n_out = len(branches[0].out_avals)
    out_uk = [False] * n_out
    for b in branches:
        _, _, uk, _ = pe.partial_eval_jaxpr(b, op_uk)
        out_uk = [x or y for x, y in zip(out_uk, uk)]
    splits = [pe.partial_eval_jaxpr(b, op_uk, instantiate=out_uk) for b in branches]
    res_avals = [s[0].out_avals[len(s[0].out_avals) - s[3] :] for s in splits]
    all_res, slots = _merge_branch_residuals(res_avals)
    known_avals = [core.get_aval(x) for x, u in zip(ops, op_uk) if not u]
    n_known_out = n_out - sum(out_uk)

    known_branches = []
    for i, (kj, _, _, _nres) in enumerate(splits):

        def known_fun(*a, kj=kj, i=i):
            outs = core.eval_jaxpr(kj.jaxpr, kj.consts, *a)
            kouts, res = outs[:n_known_out], outs[n_known_out:]
            filled = [empty_like(r) for r in all_res]
            for slot, x in zip(slots[i], res):
                filled[slot] = x
            return kouts + filled

        known_branches.append(trace_to_jaxpr(known_fun, known_avals, kj.jaxpr.debug_name))
    known_branches, kconsts = _join_branch_consts(known_branches)
    known_ops = [x for x, u in zip(ops, op_uk) if not u]
    with core.set_current_trace(trace.parent):
        kouts = cond_p.bind(index, *kconsts, *known_ops, branches=tuple(known_branches))
    known_vals, residuals = kouts[:n_known_out], kouts[n_known_out:]

    unknown_branches = []
    res_vars = [Var(a) for a in all_res]
    for i, (_, uj, _, nres) in enumerate(splits):
        j = uj.jaxpr
        branch_res = list(res_vars)
        for slot, v in zip(slots[i], j.invars[:nres]):
            branch_res[slot] = v
        unknown_branches.append(
            ClosedJaxpr(
                Jaxpr(j.constvars, branch_res + j.invars[nres:], j.outvars, j.eqns, j.debug_name),
                uj.consts,
            )
        )
    unknown_branches, uconsts = _join_branch_consts(unknown_branches)
    ins = [trace.instantiate_const(index)] + [trace.instantiate_const(c) for c in uconsts]
    ins += [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(ops, op_uk) if u]
    uouts = trace.record(cond_p, ins, dict(branches=tuple(unknown_branches)))
    it_k, it_u = iter(known_vals), iter(uouts)
    return [next(it_u) if u else next(it_k) for u in out_uk]


cond_p.partial_eval = _cond_partial_eval


def _merge_branch_residuals(res_avals_per_branch):
    """One list of residual slots for all branches, as JAX's: a branch's k-th residual
    of a type shares the slot of every other branch's k-th residual of that type.
    Returns (slot avals, per branch the slot of each of its residuals)."""
    slot_of: dict = {}
    per_branch = []
    for avals in res_avals_per_branch:
        seen: dict = {}
        slots = []
        for a in avals:
            key = (a, seen.get(a, 0))
            seen[a] = key[1] + 1
            slots.append(slot_of.setdefault(key, len(slot_of)))
        per_branch.append(slots)
    return [a for a, _ in slot_of], per_branch


def _cond_transpose(cts, index, *ops, branches):
    if tr.is_undefined_primal(index):
        raise ValueError("cond is not linear in its index")
    linear = [tr.is_undefined_primal(x) for x in ops]
    # not shared, unlike jvp and vmap: JAX's branches reach transposition split apart
    # by linearization
    tb = [jt.transpose_jaxpr(b, tuple(linear)) for b in branches]
    tb, consts = join_consts(tb)
    nonlin = [x for x in ops if not tr.is_undefined_primal(x)]
    cts = [instantiate(ct) if type(ct) is not Zero else zeros(ct.aval) for ct in cts]
    outs = iter(cond_p.bind(index, *consts, *nonlin, *cts, branches=tuple(tb)))
    return [None] + [next(outs) if lin else None for lin in linear]


cond_p.def_transpose(_cond_transpose)


def _cond_batch(size, vals, dims, branches):
    from ..logic import select_n
    from ..structural import broadcast_in_dim

    index, *ops = vals
    idim, *odims = dims
    n_out = len(branches[0].out_avals)
    if idim is None:
        bb = _per_distinct(branches, lambda b: batch_jaxpr_nz(b, size, odims, [True] * n_out)[0])
        bb, consts = _join_branch_consts(bb)
        return cond_p.bind(index, *consts, *ops, branches=tuple(bb)), [0] * n_out
    # a batched index: run every branch on the whole batch, then select elementwise. As
    # in JAX, branch i sees the elements that take another branch through stop_gradient,
    # so an untaken branch adds nothing to a gradient (log's 1/x at x = 0 stays out).
    from ..logic import eq
    from ..misc import stop_gradient

    ema = batching.current_explicit_mesh_axis()
    index = batching.move_batch_axis(size, idim, 0, index)
    ops = [batching.bdim_at_front(size, x, d, mesh_axis=ema) for x, d in zip(ops, odims)]
    per_branch = []
    for i, b in enumerate(branches):
        taken = eq(index, np.array(i, core.get_aval(index).dtype))
        masked = []
        for x in ops:
            stopped = stop_gradient(x)
            masked.append(select_n(_bcast_to(taken, x), stopped, x))
        per_branch.append(
            batching.batch_flat(core.jaxpr_as_fun(b), size, masked, [0] * len(ops), [0] * n_out)
        )
    outs = []
    for k in range(n_out):
        cases = [pb[k] for pb in per_branch]
        shape = core.get_aval(cases[0]).shape
        which = broadcast_in_dim(index, shape, (0,))
        outs.append(select_n(which, *cases))
    return outs, [0] * n_out


def _bcast_to(pred, x):
    from ..structural import broadcast_in_dim

    shape = core.get_aval(x).shape
    return pred if len(shape) == 1 else broadcast_in_dim(pred, shape, (0,))


cond_p.def_batch(_cond_batch)


def _cond_dce(used_outputs, eqn):
    """Keep the outputs something reads and the operands any branch needs for them (as
    JAX's cond DCE rule): a linearized cond loses the tangents of unused outputs, whose
    zero cotangents would otherwise meet the residuals (0 * nan = nan)."""
    branches = eqn.params["branches"]
    n_ops = len(eqn.invars) - 1
    used_ops = [False] * n_ops
    for b in branches:
        _, used = pe.dce_jaxpr(b.jaxpr, used_outputs)
        used_ops = [a or u for a, u in zip(used_ops, used)]
    if not any(used_outputs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    new_branches = tuple(
        _per_distinct(
            branches,
            lambda b: ClosedJaxpr(pe.dce_jaxpr(b.jaxpr, used_outputs, used_ops)[0], b.consts),
        )
    )
    new_eqn = eqn.replace(
        invars=[eqn.invars[0]] + [v for v, u in zip(eqn.invars[1:], used_ops) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
        params=dict(eqn.params, branches=new_branches),
    )
    return [True] + used_ops, new_eqn


pe.dce_rules[cond_p] = _cond_dce


@cond_p.def_lowering
def _cond_lowering(ctx, index, *ops, branches):
    out_types = [lowering.ir_type(a) for a in ctx.avals_out]
    case = hlo.CaseOp(out_types, index, num_branches=len(branches))
    for i, b in enumerate(branches):
        block = case.regions[i].blocks.append()
        with ir.InsertionPoint(block):
            hlo.return_(lowering.lower_jaxpr_inline(ctx, b, ops, sub=i))
    return list(case.results)
