"""Structured control flow: ``cond``/``switch``, ``while_loop``/``fori_loop`` and ``scan``.

Each takes Python functions, traces them to jaxprs (the primitive's parameters), and
its rules transform those jaxprs: JVP, partial evaluation (so ``grad`` works through
``cond`` and ``scan``), transposition, batching and lowering to StableHLO's
``case``/``while``."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes, tree_util
from ..core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray, Var
from ..interpreters import batching, lowering
from ..interpreters import jaxpr_transforms as jt
from ..interpreters import partial_eval as pe
from ..interpreters import transpose as tr
from ..interpreters.jvp import Zero, instantiate, tangent_aval
from ..interpreters.tracing import trace_to_jaxpr

__all__ = [
    "cond",
    "switch",
    "while_loop",
    "fori_loop",
    "scan",
    "map",
    "cond_p",
    "while_p",
    "scan_p",
]


# ---------------------------------------------------------------------------- shared helpers


def _trace_fun(fun, in_tree, avals, name, splat=True, traced_for="a control-flow primitive"):
    """Trace a pytree function; returns (ClosedJaxpr, out_tree). ``splat``: the tree is
    the tuple of positional arguments (else the single argument)."""
    store = []

    def flat_fun(*flat):
        tree = tree_util.tree_unflatten(in_tree, flat)
        out = fun(*tree) if splat else fun(tree)
        leaves, out_tree = tree_util.tree_flatten(out)
        store.append(out_tree)
        core.check_traced_outputs(fun, leaves, traced_for)
        return [_as_operand(x) for x in leaves]

    closed = trace_to_jaxpr(flat_fun, avals, debug_name=name)
    return closed, store[0]


def _as_operand(x):
    if dtypes.is_python_scalar(x):
        return core.python_scalar_operand(x)
    return x


def _join_consts(closed_list):
    """Turn each jaxpr's consts into leading inputs shared by all: every jaxpr takes
    (consts of jaxpr 0, ..., consts of jaxpr n-1, *args)."""
    consts = [c for cj in closed_list for c in cj.consts]
    out, offset = [], 0
    for cj in closed_list:
        n = len(cj.consts)
        j = cj.jaxpr
        before = [Var(core.get_aval(c)) for c in consts[:offset]]
        after = [Var(core.get_aval(c)) for c in consts[offset + n :]]
        out.append(
            ClosedJaxpr(
                Jaxpr([], before + j.constvars + after + j.invars, j.outvars, j.eqns, j.debug_name),
                [],
            )
        )
        offset += n
    return out, consts


def _no_consts(closed):
    (j,), consts = _join_consts([closed])
    return j, consts


def _avals_str(avals):
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _jvp_jaxpr_nz(closed, nonzeros, instantiate_out):
    return jt.jvp_jaxpr(closed, tuple(nonzeros), tuple(instantiate_out))


def _batch_jaxpr_nz(closed, size, in_dims, instantiate_out):
    return jt.batch_jaxpr(closed, size, tuple(in_dims), tuple(instantiate_out))


def _permute_jaxpr(closed, in_order, out_order):
    """Same jaxpr, inputs and outputs reordered (``in_order[i]``: old index of new input i)."""
    j = closed.jaxpr
    return ClosedJaxpr(
        Jaxpr(
            j.constvars,
            [j.invars[i] for i in in_order],
            [j.outvars[i] for i in out_order],
            j.eqns,
            j.debug_name,
        ),
        closed.consts,
    )


def _zeros(aval):
    from .structural import full

    return full(aval.shape, 0, aval.dtype)


def _promote_weak_carry(init_avals, out_avals, what):
    """Carry types must match; a weak input may take its output's strong type."""
    new = []
    for a, b in zip(init_avals, out_avals):
        if a.weak_type and a.shape == b.shape and a.dtype != b.dtype:
            # a weak init (fori_loop(0, n, lambda i, c: c + 0.5, 0)) takes the promoted
            # type, as JAX's _promote_weak_typed_input; the caller retraces the body
            new.append(a.update(dtype=dtypes.result_type(a, b), weak_type=False))
            continue
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise TypeError(
                f"{what} carry input and carry output must have equal types, but they "
                f"differ: input carry {_avals_str(init_avals)} and output carry "
                f"{_avals_str(out_avals)}."
            )
        # Only weak types differ: the types match (JAX's ``core.typematch`` ignores weak
        # types), so the init is kept as is and the body is not traced a second time.
        new.append(a)
    return new


def _convert_to(values, avals):
    from .convert import convert_element_type

    out = []
    for v, a in zip(values, avals):
        va = core.get_aval(v)
        out.append(v if va == a else convert_element_type(v, a.dtype, a.weak_type))
    return out


# ============================================================================ cond / switch

cond_p = Primitive("cond", multiple_results=True)
cond_p.subjaxprs_rule = lambda p: p["branches"]
cond_p.pp_params = lambda p: {"branches": p["branches"]}


def switch(index, branches, *operands):
    """``branches[clamp(index)](*operands)``, staged as one ``cond`` equation."""
    from .convert import convert_element_type
    from .logic import clamp

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
    from .convert import convert_element_type

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
        from .logic import ne

        pred = ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, np.int32)
    return _bind_cond(index, [false_fun, true_fun], operands, "cond")


def _bind_cond(index, funs, operands, what):
    flat, in_tree = tree_util.tree_flatten(operands)
    flat = [_as_operand(x) for x in flat]
    avals = [core.get_aval(x) for x in flat]
    traced = [
        _trace_fun(f, in_tree, avals, getattr(f, "__name__", "branch"), traced_for=what)
        for f in funs
    ]
    out_tree = traced[0][1]
    # Messages name the branches in the order the user wrote them (cond: true_fun
    # first, though it is branch 1 internally), so no one misreads which one is wrong.
    names = (
        ["false_fun", "true_fun"] if what == "cond" else [f"branch {i}" for i in range(len(funs))]
    )
    shown = [1, 0] if what == "cond" else list(range(len(funs)))
    outs_avals = [c.out_avals for c, _ in traced]

    def where(i, j):  # the user's lines, as JAX gives them
        return "".join(f"\n{names[k]} is {core.fun_location(funs[k])}" for k in (i, j))

    for i, j in zip(shown, shown[1:]):
        if traced[i][1] != traced[j][1]:
            raise TypeError(
                f"{what} branch outputs must have the same pytree structure, but they "
                f"differ: {names[i]} returns {traced[i][1]} and {names[j]} returns "
                f"{traced[j][1]}.{where(i, j)}"
            )
    for i, j in zip(shown, shown[1:]):
        a_i, a_j = outs_avals[i], outs_avals[j]
        if [(a.shape, a.dtype) for a in a_i] != [(a.shape, a.dtype) for a in a_j]:
            raise TypeError(
                f"{what} branches must have equal output types, but {names[i]} returns "
                f"{_avals_str(a_i)} and {names[j]} returns {_avals_str(a_j)}.{where(i, j)}"
            )
    strong = [not all(o[i].weak_type for o in outs_avals) for i in range(len(outs_avals[0]))]
    if any(any(o[i].weak_type for o in outs_avals) and s for i, s in enumerate(strong)):

        def fix(f):
            def g(*a):
                leaves, t = tree_util.tree_flatten(f(*a))
                from .convert import convert_element_type

                leaves = [
                    convert_element_type(_as_operand(x), core.get_aval(_as_operand(x)).dtype)
                    if s
                    else x
                    for x, s in zip(leaves, strong)
                ]
                return tree_util.tree_unflatten(t, leaves)

            return g

        traced = [
            _trace_fun(fix(f), in_tree, avals, getattr(f, "__name__", "branch")) for f in funs
        ]
    branches, consts = _join_consts([c for c, _ in traced])
    outs = cond_p.bind(index, *consts, *flat, branches=tuple(branches))
    return tree_util.tree_unflatten(out_tree, outs)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *ops, branches):
    if index.dtype != np.int32 or index.shape != ():
        raise TypeError(f"cond index must be an int32 scalar, got {index.str_short()}")
    return branches[0].out_avals


def _cond_jvp(primals, tangents, branches):
    index, *ops = primals
    nonzeros = [type(t) is not Zero for t in tangents[1:]]
    n_out = len(branches[0].out_avals)
    out_nz = [False] * n_out
    for b in branches:
        _, nz = _jvp_jaxpr_nz(b, nonzeros, [False] * n_out)
        out_nz = [x or y for x, y in zip(out_nz, nz)]
    jb = [_jvp_jaxpr_nz(b, nonzeros, out_nz)[0] for b in branches]
    jb, consts = _join_consts(jb)
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
    all_res = [a for r in res_avals for a in r]
    known_avals = [core.get_aval(x) for x, u in zip(ops, op_uk) if not u]
    n_known_out = n_out - sum(out_uk)

    known_branches = []
    for i, (kj, _, _, _nres) in enumerate(splits):

        def known_fun(*a, kj=kj, i=i):
            outs = core.eval_jaxpr(kj.jaxpr, kj.consts, *a)
            kouts, res = outs[:n_known_out], outs[n_known_out:]
            pads = [[_zeros(x) for x in r] for r in res_avals]
            pads[i] = res
            return kouts + [x for p in pads for x in p]

        known_branches.append(trace_to_jaxpr(known_fun, known_avals, kj.jaxpr.debug_name))
    known_branches, kconsts = _join_consts(known_branches)
    known_ops = [x for x, u in zip(ops, op_uk) if not u]
    with core.set_current_trace(trace.parent):
        kouts = cond_p.bind(index, *kconsts, *known_ops, branches=tuple(known_branches))
    known_vals, residuals = kouts[:n_known_out], kouts[n_known_out:]

    unknown_branches = []
    offsets = np.cumsum([0] + [len(r) for r in res_avals])
    for i, (_, uj, _, nres) in enumerate(splits):
        j = uj.jaxpr
        own = j.invars[:nres]
        res_vars = [Var(a) for a in all_res]
        res_vars[offsets[i] : offsets[i + 1]] = own
        unknown_branches.append(
            ClosedJaxpr(
                Jaxpr(j.constvars, res_vars + j.invars[nres:], j.outvars, j.eqns, j.debug_name),
                uj.consts,
            )
        )
    unknown_branches, uconsts = _join_consts(unknown_branches)
    ins = [trace.instantiate_const(index)] + [trace.instantiate_const(c) for c in uconsts]
    ins += [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(ops, op_uk) if u]
    uouts = trace.record(cond_p, ins, dict(branches=tuple(unknown_branches)))
    it_k, it_u = iter(known_vals), iter(uouts)
    return [next(it_u) if u else next(it_k) for u in out_uk]


cond_p.partial_eval = _cond_partial_eval


def _cond_transpose(cts, index, *ops, branches):
    if tr.is_undefined_primal(index):
        raise ValueError("cond is not linear in its index")
    linear = [tr.is_undefined_primal(x) for x in ops]
    tb = [jt.transpose_jaxpr(b, tuple(linear)) for b in branches]
    tb, consts = _join_consts(tb)
    nonlin = [x for x in ops if not tr.is_undefined_primal(x)]
    cts = [instantiate(ct) if type(ct) is not Zero else _zeros(ct.aval) for ct in cts]
    outs = iter(cond_p.bind(index, *consts, *nonlin, *cts, branches=tuple(tb)))
    return [None] + [next(outs) if lin else None for lin in linear]


cond_p.def_transpose(_cond_transpose)


def _cond_batch(size, vals, dims, branches):
    from .logic import select_n
    from .structural import broadcast_in_dim

    index, *ops = vals
    idim, *odims = dims
    n_out = len(branches[0].out_avals)
    if idim is None:
        bb = [_batch_jaxpr_nz(b, size, odims, [True] * n_out)[0] for b in branches]
        bb, consts = _join_consts(bb)
        return cond_p.bind(index, *consts, *ops, branches=tuple(bb)), [0] * n_out
    # a batched index: run every branch on the whole batch, then select elementwise. As
    # in JAX, branch i sees the elements that take another branch through stop_gradient,
    # so an untaken branch adds nothing to a gradient (log's 1/x at x = 0 stays out).
    from .logic import eq
    from .misc import stop_gradient

    index = batching.move_batch_axis(size, idim, 0, index)
    ops = [batching.bdim_at_front(size, x, d) for x, d in zip(ops, odims)]
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
    from .structural import broadcast_in_dim

    shape = core.get_aval(x).shape
    return pred if len(shape) == 1 else broadcast_in_dim(pred, shape, (0,))


cond_p.def_batch(_cond_batch)


@cond_p.def_lowering
def _cond_lowering(ctx, index, *ops, branches):
    out_types = [lowering.ir_type(a) for a in ctx.avals_out]
    case = hlo.CaseOp(out_types, index, num_branches=len(branches))
    for i, b in enumerate(branches):
        block = case.regions[i].blocks.append()
        with ir.InsertionPoint(block):
            hlo.return_(lowering.lower_jaxpr_inline(ctx, b, ops, sub=i))
    return list(case.results)


# ============================================================================ while_loop

while_p = Primitive("while", multiple_results=True)
while_p.subjaxprs_rule = lambda p: (p["cond_jaxpr"], p["body_jaxpr"])


def while_loop(cond_fun, body_fun, init_val):
    """Repeat ``init_val = body_fun(init_val)`` while ``cond_fun(init_val)``. Forward-mode
    differentiable and batchable; reverse mode needs ``scan`` (or fori_loop with
    static bounds)."""
    flat, in_tree = tree_util.tree_flatten(init_val)
    flat = [_as_operand(x) for x in flat]
    avals = [core.get_aval(x) for x in flat]
    body, body_tree = _trace_fun(
        body_fun,
        in_tree,
        avals,
        getattr(body_fun, "__name__", "body"),
        splat=False,
        traced_for="while_loop",
    )
    if body_tree != in_tree:
        raise TypeError(
            "while_loop body function carry input and carry output must have the same "
            f"pytree structure, but they differ: input {in_tree} and output {body_tree}."
        )
    new_avals = _promote_weak_carry(avals, body.out_avals, "while_loop body function")
    if new_avals != avals:
        flat, avals = _convert_to(flat, new_avals), new_avals
        body, _ = _trace_fun(
            body_fun,
            in_tree,
            avals,
            getattr(body_fun, "__name__", "body"),
            splat=False,
            traced_for="while_loop",
        )
        _promote_weak_carry(avals, body.out_avals, "while_loop body function")  # match now
    condj, cond_tree = _trace_fun(
        cond_fun,
        in_tree,
        avals,
        getattr(cond_fun, "__name__", "cond"),
        splat=False,
        traced_for="while_loop",
    )
    if (
        len(condj.out_avals) != 1
        or condj.out_avals[0].shape != ()
        or condj.out_avals[0].dtype != np.bool_
    ):
        raise TypeError(
            f"cond_fun must return a boolean scalar, but got output type(s) "
            f"{_avals_str(condj.out_avals)}."
        )
    condj, cconsts = _no_consts(condj)
    body, bconsts = _no_consts(body)
    outs = while_p.bind(
        *cconsts,
        *bconsts,
        *flat,
        cond_jaxpr=condj,
        body_jaxpr=body,
        cond_nconsts=len(cconsts),
        body_nconsts=len(bconsts),
    )
    return tree_util.tree_unflatten(in_tree, outs)


@while_p.def_abstract_eval
def _while_abstract_eval(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    return body_jaxpr.out_avals


def _while_jvp(primals, tangents, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = primals[:nc], primals[nc : nc + nb], primals[nc + nb :]
    bconst_nz = [type(t) is not Zero for t in tangents[nc : nc + nb]]
    carry_nz = [type(t) is not Zero for t in tangents[nc + nb :]]
    while True:
        _, out_nz = _jvp_jaxpr_nz(body_jaxpr, bconst_nz + carry_nz, [False] * len(carry))
        new = [a or b for a, b in zip(carry_nz, out_nz)]
        if new == carry_nz:
            break
        carry_nz = new
    jb, _ = _jvp_jaxpr_nz(body_jaxpr, bconst_nz + carry_nz, carry_nz)
    n_bt = sum(bconst_nz)
    n_ct = sum(carry_nz)
    nb_total = nb + n_bt
    # reorder inputs to (bconsts, bconst tangents, carry, carry tangents)
    order = (
        list(range(nb))
        + list(range(nb + len(carry), nb + len(carry) + n_bt))
        + list(range(nb, nb + len(carry)))
        + list(range(nb + len(carry) + n_bt, nb + len(carry) + n_bt + n_ct))
    )
    jb = _permute_jaxpr(jb, order, list(range(len(jb.out_avals))))
    jb, jconsts = _no_consts(jb)
    carry_t_avals = [tangent_aval(core.get_aval(c)) for c, nz in zip(carry, carry_nz) if nz]
    cj = cond_jaxpr.jaxpr
    cond_ext = ClosedJaxpr(
        Jaxpr(
            cj.constvars,
            cj.invars + [Var(a) for a in carry_t_avals],
            cj.outvars,
            cj.eqns,
            cj.debug_name,
        ),
        cond_jaxpr.consts,
    )
    btans = [t for t, nz in zip(tangents[nc : nc + nb], bconst_nz) if nz]
    ctans = [instantiate(t) if nz else None for t, nz in zip(tangents[nc + nb :], carry_nz)]
    ctans = [t if type(t) is not Zero else _zeros(t.aval) for t in ctans if t is not None]
    outs = while_p.bind(
        *cconsts,
        *jconsts,
        *bconsts,
        *btans,
        *carry,
        *ctans,
        cond_jaxpr=cond_ext,
        body_jaxpr=jb,
        cond_nconsts=nc,
        body_nconsts=len(jconsts) + nb_total,
    )
    n = len(carry)
    tans = iter(outs[n:])
    return outs[:n], [
        next(tans) if nz else Zero(tangent_aval(core.get_aval(c))) for c, nz in zip(carry, carry_nz)
    ]


while_p.def_jvp(_while_jvp)


def _while_transpose(cts, *args, **params):
    raise ValueError(
        "Reverse-mode differentiation does not work for lax.while_loop or "
        "lax.fori_loop with dynamic start/stop values. Try using lax.scan, or "
        "fori_loop with static (Python int) bounds."
    )


while_p.def_transpose(_while_transpose)


def _while_partial_eval(trace, args, unknowns, params):
    _while_transpose(None)


while_p.partial_eval = _while_partial_eval


def _while_batch(size, vals, dims, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    from .logic import select_n
    from .reductions import reduce_or
    from .structural import broadcast_in_dim

    nc, nb = cond_nconsts, body_nconsts
    cd, bd, carry_d = dims[:nc], dims[nc : nc + nb], dims[nc + nb :]
    carry_b = [d is not None for d in carry_d]
    while True:
        _, out_b = _batch_jaxpr_nz(
            body_jaxpr, size, list(bd) + [0 if b else None for b in carry_b], carry_b
        )
        new = [a or b for a, b in zip(carry_b, out_b)]
        _, pred_b = _batch_jaxpr_nz(
            cond_jaxpr, size, list(cd) + [0 if b else None for b in new], [False]
        )
        if pred_b[0]:
            new = [True] * len(new)
        if new == carry_b:
            break
        carry_b = new
    vals = list(vals)
    carry = [
        batching.move_batch_axis(size, d, 0, v) if b else v
        for v, d, b in zip(vals[nc + nb :], carry_d, carry_b)
    ]
    carry_dims = [0 if b else None for b in carry_b]
    bj, _ = _batch_jaxpr_nz(body_jaxpr, size, list(bd) + carry_dims, carry_b)
    cj, pred_b = _batch_jaxpr_nz(cond_jaxpr, size, list(cd) + carry_dims, [False])
    cconsts, bconsts = vals[:nc], vals[nc : nc + nb]
    if not pred_b[0]:
        cj, cc = _no_consts(cj)
        bj, bc = _no_consts(bj)
        outs = while_p.bind(
            *cc,
            *cconsts,
            *bc,
            *bconsts,
            *carry,
            cond_jaxpr=cj,
            body_jaxpr=bj,
            cond_nconsts=len(cc) + nc,
            body_nconsts=len(bc) + nb,
        )
        return outs, carry_dims
    # A batched predicate: loop while any element continues; finished elements keep
    # their values (every carry is batched here).
    n_cc = len(cconsts)

    def cond_any(*a):
        (pred,) = core.eval_jaxpr(cj.jaxpr, cj.consts, *a)
        return [reduce_or(pred, (0,))]

    def body_sel(*a):
        cc, bc, c = a[:n_cc], a[n_cc : n_cc + nb], a[n_cc + nb :]
        (pred,) = core.eval_jaxpr(cj.jaxpr, cj.consts, *cc, *c)
        new = core.eval_jaxpr(bj.jaxpr, bj.consts, *bc, *c)
        out = []
        for x_new, x_old in zip(new, c):
            shape = core.get_aval(x_new).shape
            out.append(select_n(broadcast_in_dim(pred, shape, (0,)), x_old, x_new))
        return out

    cavals = [core.get_aval(x) for x in cconsts]
    bavals = [core.get_aval(x) for x in bconsts]
    carry_avals = [core.get_aval(x) for x in carry]
    cjax, cc = _no_consts(trace_to_jaxpr(cond_any, cavals + carry_avals, "cond"))
    bjax, bc = _no_consts(trace_to_jaxpr(body_sel, cavals + bavals + carry_avals, "body"))
    outs = while_p.bind(
        *cc,
        *cconsts,
        *bc,
        *cconsts,
        *bconsts,
        *carry,
        cond_jaxpr=cjax,
        body_jaxpr=bjax,
        cond_nconsts=len(cc) + nc,
        body_nconsts=len(bc) + nc + nb,
    )
    return outs, carry_dims


while_p.def_batch(_while_batch)


@while_p.def_lowering
def _while_lowering(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    types = [lowering.ir_type(a) for a in ctx.avals_in]
    op = hlo.WhileOp(types, list(args))
    cblock = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(cblock):
        a = list(cblock.arguments)
        (pred,) = lowering.lower_jaxpr_inline(ctx, cond_jaxpr, a[:nc] + a[nc + nb :], sub=1)
        hlo.return_([pred])
    bblock = op.regions[1].blocks.append(*types)
    with ir.InsertionPoint(bblock):
        a = list(bblock.arguments)
        new = lowering.lower_jaxpr_inline(ctx, body_jaxpr, a[nc : nc + nb] + a[nc + nb :], sub=0)
        hlo.return_(a[: nc + nb] + list(new))
    return list(op.results)[nc + nb :]


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """``for i in range(lower, upper): val = body_fun(i, val)``. With concrete bounds it
    is a ``scan`` (reverse-differentiable) whose index starts as a Python int, so it is
    weakly typed as in JAX; otherwise a ``while`` on the bounds' common type."""
    from .convert import convert_element_type
    from .elementwise import add
    from .logic import lt

    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    lo_dt = dtypes.canonicalize_dtype(dtypes.dtype_of(lower))
    hi_dt = dtypes.canonicalize_dtype(dtypes.dtype_of(upper))
    # differing bounds are allowed only when both are signed ints and exactly one is a
    # weakly typed (Python) scalar, which then takes the other's type
    dt = lo_dt
    if lo_dt != hi_dt:
        signed = all(np.issubdtype(d, np.signedinteger) for d in (lo_dt, hi_dt))
        lo_weak, hi_weak = dtypes.is_weakly_typed(lower), dtypes.is_weakly_typed(upper)
        if not (signed and lo_weak != hi_weak):
            raise TypeError(
                "lower and upper arguments to fori_loop must have equal types, "
                f"got {lo_dt.name} and {hi_dt.name}"
            )
        dt = hi_dt if lo_weak else lo_dt
    lo_c, hi_c = core.concrete_or_none(lower), core.concrete_or_none(upper)
    static = all(
        isinstance(v, (int, np.integer))
        or (v is not None and not isinstance(v, core.Tracer) and np.ndim(v) == 0)
        for v in (lo_c, hi_c)
    )
    if static and lo_c is not None and hi_c is not None:
        lo, hi = int(np.asarray(lo_c)), int(np.asarray(hi_c))

        def step(carry, _):
            i, x = carry
            return (i + 1, body_fun(i, x)), None

        length = max(hi - lo, 0)
        (_, out), _ = scan(
            step,
            (lo, init_val),
            None,
            length=length,
            unroll=1 if unroll in (None, False) else unroll,
        )
        return out
    if unroll is not None and unroll is not False and unroll != 1:
        raise ValueError(
            "Can only use `unroll` in `fori_loop` if the loop bounds are statically known."
        )
    if lo_dt != dt:
        lower = convert_element_type(lower, dt)
    if hi_dt != dt:
        upper = convert_element_type(upper, dt)

    def cond_f(c):
        return lt(c[0], c[1])

    def body_f(c):
        i, hi, x = c
        return (add(i, _one_like(i)), hi, body_fun(i, x))

    _, _, out = while_loop(cond_f, body_f, (lower, upper, init_val))
    return out


def _one_like(x):
    """1 of ``x``'s dtype and weak type (lax ops take no Python scalars)."""
    aval = core.get_aval(x)
    if aval.weak_type:
        return core.WeakScalar(1, aval.dtype)
    return np.ones((), aval.dtype)


# ============================================================================ scan

scan_p = Primitive("scan", multiple_results=True)
scan_p.subjaxprs_rule = lambda p: (p["jaxpr"],)
scan_p.pp_params = lambda p: {
    k: p[k] for k in ("jaxpr", "length", "num_carry", "num_consts", "reverse", "unroll")
}


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final
    carry and the stacked ``y``s."""
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    xs_flat = [_as_operand(x) for x in xs_flat]
    lengths = {core.get_aval(x).shape[0] for x in xs_flat if core.get_aval(x).ndim}
    if any(core.get_aval(x).ndim == 0 for x in xs_flat):
        raise ValueError("scan got value with no leading axis to scan over.")
    if length is not None:
        lengths.add(int(length))
    if len(lengths) > 1:
        sizes = sorted({core.get_aval(x).shape[0] for x in xs_flat})
        if length is not None:
            raise ValueError(
                f"scan got `length` argument of {length} which disagrees with leading axis "
                f"sizes {sizes}."
            )
        raise ValueError(
            "scan got values with different leading axis sizes: "
            f"{', '.join(str(n) for n in sizes)}."
        )
    if not lengths:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    n = lengths.pop()
    init_flat, init_tree = tree_util.tree_flatten(init)
    init_flat = [_as_operand(x) for x in init_flat]
    carry_avals = [core.get_aval(x) for x in init_flat]
    x_avals = [core.mapped_aval(n, 0, core.get_aval(x)) for x in xs_flat]

    def body(carry_flat, x_flat):
        carry = tree_util.tree_unflatten(init_tree, carry_flat)
        x = tree_util.tree_unflatten(xs_tree, x_flat)
        return f(carry, x)

    def trace(c_avals):
        store = []

        def flat_body(*a):
            out = body(list(a[: len(c_avals)]), list(a[len(c_avals) :]))
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(
                    f"scan body output must be a pair (carry, y), got {type(out).__name__}."
                )
            c, y = out
            c_leaves, c_tree = tree_util.tree_flatten(c)
            y_leaves, y_tree = tree_util.tree_flatten(y)
            core.check_traced_outputs(f, c_leaves + y_leaves, "scan")
            store.append((c_tree, y_tree, len(c_leaves)))
            return [_as_operand(v) for v in c_leaves + y_leaves]

        closed = trace_to_jaxpr(flat_body, list(c_avals) + x_avals, getattr(f, "__name__", "body"))
        return closed, store[0]

    closed, (c_tree, y_tree, nc) = trace(carry_avals)
    if c_tree != init_tree:
        raise TypeError(
            "scan body function carry input and carry output must have the same pytree "
            f"structure, but they differ: input {init_tree} and output {c_tree}."
        )
    new_avals = _promote_weak_carry(carry_avals, closed.out_avals[:nc], "scan body function")
    if new_avals != carry_avals:
        init_flat, carry_avals = _convert_to(init_flat, new_avals), new_avals
        closed, (c_tree, y_tree, nc) = trace(carry_avals)
        _promote_weak_carry(carry_avals, closed.out_avals[:nc], "scan body function")
    closed, consts = _no_consts(closed)
    outs = scan_p.bind(
        *consts,
        *init_flat,
        *xs_flat,
        jaxpr=closed,
        length=n,
        reverse=bool(reverse),
        num_consts=len(consts),
        num_carry=nc,
        unroll=int(unroll) if unroll is not True else n,
        linear=(False,) * (len(consts) + nc + len(xs_flat)),
    )
    return tree_util.tree_unflatten(c_tree, outs[:nc]), tree_util.tree_unflatten(y_tree, outs[nc:])


def map(f, xs):  # noqa: A001 - lax's name
    """``jnp.stack([f(x) for x in xs])`` as a scan."""
    _, ys = scan(lambda c, x: (c, f(x)), (), xs)
    return ys


@scan_p.def_abstract_eval
def _scan_abstract_eval(*args, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    outs = jaxpr.out_avals
    ys = [core.unmapped_aval(length, 0, a) for a in outs[num_carry:]]
    return list(outs[:num_carry]) + ys


def _bind_scan(consts, carry, xs, jaxpr, length, reverse, unroll):
    jaxpr, jc = _no_consts(jaxpr)
    consts = list(jc) + list(consts)
    ops = consts + list(carry) + list(xs)
    return scan_p.bind(
        *ops,
        jaxpr=jaxpr,
        length=length,
        reverse=reverse,
        num_consts=len(consts),
        num_carry=len(carry),
        unroll=unroll,
        linear=(False,) * len(ops),
    )


def _scan_jvp(primals, tangents, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    nx = len(primals) - nc - ncar
    const_nz = [type(t) is not Zero for t in tangents[:nc]]
    carry_nz = [type(t) is not Zero for t in tangents[nc : nc + ncar]]
    xs_nz = [type(t) is not Zero for t in tangents[nc + ncar :]]
    n_y = len(jaxpr.out_avals) - ncar
    while True:
        _, out_nz = _jvp_jaxpr_nz(jaxpr, const_nz + carry_nz + xs_nz, [False] * (ncar + n_y))
        new = [a or b for a, b in zip(carry_nz, out_nz[:ncar])]
        if new == carry_nz:
            break
        carry_nz = new
    jj, out_nz = _jvp_jaxpr_nz(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * n_y)
    ys_nz = out_nz[ncar:]
    n_ct, n_cart, n_xt, n_yt = sum(const_nz), sum(carry_nz), sum(xs_nz), sum(ys_nz)
    P = nc + ncar + nx
    # inputs of jj: consts, carry, xs, const_t, carry_t, xs_t -> scan layout
    in_order = (
        list(range(nc))
        + list(range(P, P + n_ct))
        + list(range(nc, nc + ncar))
        + list(range(P + n_ct, P + n_ct + n_cart))
        + list(range(nc + ncar, P))
        + list(range(P + n_ct + n_cart, P + n_ct + n_cart + n_xt))
    )
    # outputs of jj: carry, ys, carry_t, ys_t -> (carry, carry_t, ys, ys_t)
    Q = ncar + n_y
    out_order = (
        list(range(ncar))
        + list(range(Q, Q + n_cart))
        + list(range(ncar, Q))
        + list(range(Q + n_cart, Q + n_cart + n_yt))
    )
    jj = _permute_jaxpr(jj, in_order, out_order)
    consts, carry, xs = primals[:nc], primals[nc : nc + ncar], primals[nc + ncar :]
    ct = [t for t, nz in zip(tangents[:nc], const_nz) if nz]
    cart = [
        instantiate(t) if type(t) is not Zero else _zeros(t.aval)
        for t, nz in zip(tangents[nc : nc + ncar], carry_nz)
        if nz
    ]
    xt = [t for t, nz in zip(tangents[nc + ncar :], xs_nz) if nz]
    outs = _bind_scan(
        list(consts) + ct, list(carry) + cart, list(xs) + xt, jj, length, reverse, unroll
    )
    carry_out, carry_t = outs[:ncar], iter(outs[ncar : ncar + n_cart])
    ys, ys_t = outs[ncar + n_cart : ncar + n_cart + n_y], iter(outs[ncar + n_cart + n_y :])
    avals_out = _scan_abstract_eval(
        *[core.get_aval(p) for p in primals],
        jaxpr=jaxpr,
        length=length,
        reverse=reverse,
        num_consts=nc,
        num_carry=ncar,
        unroll=unroll,
        linear=linear,
    )
    t_out = [
        next(carry_t) if nz else Zero(tangent_aval(a)) for nz, a in zip(carry_nz, avals_out[:ncar])
    ]
    t_out += [next(ys_t) if nz else Zero(tangent_aval(a)) for nz, a in zip(ys_nz, avals_out[ncar:])]
    return list(carry_out) + list(ys), t_out


scan_p.def_jvp(_scan_jvp)


def _scan_partial_eval(trace, args, unknowns, params):
    jaxpr, length, reverse = params["jaxpr"], params["length"], params["reverse"]
    nc, ncar, unroll = params["num_consts"], params["num_carry"], params["unroll"]
    n_y = len(jaxpr.out_avals) - ncar
    const_uk, carry_uk, xs_uk = (
        list(unknowns[:nc]),
        list(unknowns[nc : nc + ncar]),
        list(unknowns[nc + ncar :]),
    )
    while True:
        _, _, out_uk, _ = pe.partial_eval_jaxpr(jaxpr, const_uk + carry_uk + xs_uk)
        new = [a or b for a, b in zip(carry_uk, out_uk[:ncar])]
        if new == carry_uk:
            break
        carry_uk = new
    kj, uj, out_uk, nres = pe.partial_eval_jaxpr(
        jaxpr, const_uk + carry_uk + xs_uk, instantiate=carry_uk + [False] * n_y
    )
    ys_uk = out_uk[ncar:]
    consts, carry, xs = args[:nc], args[nc : nc + ncar], args[nc + ncar :]
    k_consts = [c for c, u in zip(consts, const_uk) if not u]
    k_carry = [c for c, u in zip(carry, carry_uk) if not u]
    k_xs = [x for x, u in zip(xs, xs_uk) if not u]
    n_kc, n_kcar = len(k_consts), len(k_carry)
    n_ky = n_y - sum(ys_uk)
    # Residuals that are loop-invariant (a known const, a literal, a jaxpr const) are
    # passed to the unknown scan as consts; the others are stacked per iteration.
    kjj = kj.jaxpr
    res_vars = kjj.outvars[n_kcar + n_ky :]
    invariant = {}  # residual index -> value
    for r, v in enumerate(res_vars):
        if type(v) is core.Literal:
            invariant[r] = v.val
        elif v in kjj.constvars:
            invariant[r] = kj.consts[kjj.constvars.index(v)]
        elif v in kjj.invars[:n_kc]:
            invariant[r] = k_consts[kjj.invars.index(v)]
    ext = [r for r in range(nres) if r not in invariant]
    known_body = ClosedJaxpr(
        Jaxpr(
            kjj.constvars,
            kjj.invars,
            kjj.outvars[: n_kcar + n_ky] + [res_vars[r] for r in ext],
            kjj.eqns,
            kjj.debug_name,
        ),
        kj.consts,
    )
    with core.set_current_trace(trace.parent):
        kouts = _bind_scan(k_consts, k_carry, k_xs, known_body, length, reverse, unroll)
    k_carry_out, k_ys, ext_res = (
        kouts[:n_kcar],
        kouts[n_kcar : n_kcar + n_ky],
        kouts[n_kcar + n_ky :],
    )
    # unknown body inputs: residuals, then unknown consts, carry, xs -> scan layout
    ujj = uj.jaxpr
    inv = sorted(invariant)
    n_uc, n_ucar = sum(const_uk), sum(carry_uk)
    in_order = (
        inv
        + [nres + i for i in range(n_uc)]
        + [nres + n_uc + i for i in range(n_ucar)]
        + ext
        + [nres + n_uc + n_ucar + i for i in range(len(ujj.invars) - nres - n_uc - n_ucar)]
    )
    ubody = _permute_jaxpr(uj, in_order, list(range(len(ujj.outvars))))
    ubody, ucs = _no_consts(ubody)
    u_consts = list(ucs) + [invariant[r] for r in inv] + [c for c, u in zip(consts, const_uk) if u]
    u_carry = [c for c, u in zip(carry, carry_uk) if u]
    u_xs = list(ext_res) + [x for x, u in zip(xs, xs_uk) if u]
    ins = [trace.instantiate_const(x) for x in u_consts + u_carry + u_xs]
    uouts = trace.record(
        scan_p,
        ins,
        dict(
            jaxpr=ubody,
            length=length,
            reverse=reverse,
            num_consts=len(u_consts),
            num_carry=len(u_carry),
            unroll=unroll,
            linear=(False,) * len(ins),
        ),
    )
    u_carry_out, u_ys = uouts[: len(u_carry)], uouts[len(u_carry) :]
    kc, uc = iter(k_carry_out), iter(u_carry_out)
    ky, uy = iter(k_ys), iter(u_ys)
    return [next(uc) if u else next(kc) for u in carry_uk] + [
        next(uy) if u else next(ky) for u in ys_uk
    ]


scan_p.partial_eval = _scan_partial_eval


def _scan_transpose(cts, *args, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    consts, carry, xs = args[:nc], args[nc : nc + ncar], args[nc + ncar :]
    is_lin = tr.is_undefined_primal
    # A carry that is not an UndefinedPrimal here is a known value (e.g. an instantiated
    # zero tangent) sitting in a linear position: treat it as linear, drop its cotangent.
    const_lin = [is_lin(c) for c in consts]
    xs_lin = [is_lin(x) for x in xs]
    res_consts = [c for c, l in zip(consts, const_lin) if not l]
    res_xs = [x for x, l in zip(xs, xs_lin) if not l]
    lin_const_avals = [c.aval for c, l in zip(consts, const_lin) if l]
    carry_avals = [c.aval if is_lin(c) else core.get_aval(c) for c in carry]
    body_in = jaxpr.in_avals
    x_avals = body_in[nc + ncar :]
    res_x_avals = [a for a, l in zip(x_avals, xs_lin) if not l]
    y_avals = jaxpr.out_avals[ncar:]
    n_rc, n_lc, n_rx = len(res_consts), len(lin_const_avals), len(res_x_avals)

    def body_t(*a):
        rc = a[:n_rc]
        acc = a[n_rc : n_rc + n_lc]
        ct_carry = a[n_rc + n_lc : n_rc + n_lc + ncar]
        rx = a[n_rc + n_lc + ncar : n_rc + n_lc + ncar + n_rx]
        ct_y = a[n_rc + n_lc + ncar + n_rx :]
        it_rc, it_rx = iter(rc), iter(rx)
        lin_args = (
            [tr.UndefinedPrimal(a_) if l else next(it_rc) for a_, l in zip(body_in[:nc], const_lin)]
            + [tr.UndefinedPrimal(a_) for a_ in body_in[nc : nc + ncar]]
            + [tr.UndefinedPrimal(a_) if l else next(it_rx) for a_, l in zip(x_avals, xs_lin)]
        )
        cts_in = tr.backward_pass(jaxpr.jaxpr, jaxpr.consts, lin_args, list(ct_carry) + list(ct_y))
        c_cts = [ct for ct, l in zip(cts_in[:nc], const_lin) if l]
        new_acc = []
        for acc_i, ct in zip(acc, c_cts):
            from .elementwise import add_any

            new_acc.append(acc_i if type(ct) is Zero or ct is None else add_any(acc_i, ct))
        carry_cts = [_inst(ct, a_) for ct, a_ in zip(cts_in[nc : nc + ncar], carry_avals)]
        x_cts = [_inst(ct, a_) for ct, a_, l in zip(cts_in[nc + ncar :], x_avals, xs_lin) if l]
        return new_acc + carry_cts + x_cts

    bt = trace_to_jaxpr(
        body_t,
        list(body_in[:nc][i] for i in range(nc) if not const_lin[i])
        + lin_const_avals
        + carry_avals
        + res_x_avals
        + list(y_avals),
        f"transpose({jaxpr.jaxpr.debug_name})",
    )
    ct_carry = [_inst(ct, a) for ct, a in zip(cts[:ncar], carry_avals)]
    ct_ys = [_inst(ct, core.unmapped_aval(length, 0, a)) for ct, a in zip(cts[ncar:], y_avals)]
    acc0 = [_zeros(a) for a in lin_const_avals]
    outs = _bind_scan(res_consts, acc0 + ct_carry, res_xs + ct_ys, bt, length, not reverse, unroll)
    acc, carry_ct, xs_ct = outs[:n_lc], outs[n_lc : n_lc + ncar], outs[n_lc + ncar :]
    it_acc, it_x = iter(acc), iter(xs_ct)
    return (
        [next(it_acc) if l else None for l in const_lin]
        + list(carry_ct)
        + [next(it_x) if l else None for l in xs_lin]
    )


def _inst(ct, aval):
    if ct is None or type(ct) is Zero:
        return _zeros(aval)
    return ct


scan_p.def_transpose(_scan_transpose)


def _scan_batch(size, vals, dims, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    cd, card, xd = dims[:nc], dims[nc : nc + ncar], dims[nc + ncar :]
    consts, carry, xs = vals[:nc], vals[nc : nc + ncar], vals[nc + ncar :]
    n_y = len(jaxpr.out_avals) - ncar
    # xs: scan axis is 0, so the batch axis goes to 1 (0 inside the body)
    xs = [batching.move_batch_axis(size, d, 1, x) if d is not None else x for x, d in zip(xs, xd)]
    x_body_dims = [0 if d is not None else None for d in xd]
    carry_b = [d is not None for d in card]
    while True:
        _, out_b = _batch_jaxpr_nz(
            jaxpr,
            size,
            list(cd) + [0 if b else None for b in carry_b] + x_body_dims,
            carry_b + [False] * n_y,
        )
        new = [a or b for a, b in zip(carry_b, out_b[:ncar])]
        if new == carry_b:
            break
        carry_b = new
    bj, out_b = _batch_jaxpr_nz(
        jaxpr,
        size,
        list(cd) + [0 if b else None for b in carry_b] + x_body_dims,
        carry_b + [False] * n_y,
    )
    carry = [
        batching.move_batch_axis(size, d, 0, c) if b else c for c, d, b in zip(carry, card, carry_b)
    ]
    outs = _bind_scan(consts, carry, xs, bj, length, reverse, unroll)
    out_dims = [0 if b else None for b in carry_b] + [1 if b else None for b in out_b[ncar:]]
    return outs, out_dims


scan_p.def_batch(_scan_batch)


@scan_p.def_lowering
def _scan_lowering(ctx, *args, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    i32 = ShapedArray((), np.int32)
    y_avals = ctx.avals_out[ncar:]
    ys0 = [lowering.constant(np.zeros((), a.dtype), a) for a in y_avals]
    if length == 0:  # no iteration: a loop body slicing 1 of 0 rows would not verify
        return list(args[nc : nc + ncar]) + ys0
    state = [lowering.constant(np.int32(0), i32)] + list(args) + ys0
    state_avals = [i32] + list(ctx.avals_in) + list(y_avals)
    types = [lowering.ir_type(a) for a in state_avals]
    op = hlo.WhileOp(types, state)
    cblock = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(cblock):
        limit = lowering.constant(np.int32(length), i32)
        hlo.return_([lowering.compare(cblock.arguments[0], limit, "LT", i32)])
    bblock = op.regions[1].blocks.append(*types)
    with ir.InsertionPoint(bblock):
        a = list(bblock.arguments)
        i = a[0]
        n_in = len(ctx.avals_in)
        ops = a[1 : 1 + n_in]
        ys = a[1 + n_in :]
        consts, carry, xs = ops[:nc], ops[nc : nc + ncar], ops[nc + ncar :]
        idx = i
        if reverse:
            idx = hlo.subtract(lowering.constant(np.int32(length - 1), i32), i)
        zero = lowering.constant(np.int32(0), i32)
        x_slices = []
        for x, xa in zip(xs, ctx.avals_in[nc + ncar :]):
            sl_aval = xa.update(shape=(1,) + xa.shape[1:])
            s = hlo.dynamic_slice(x, [idx] + [zero] * (xa.ndim - 1), [1] + list(xa.shape[1:]))
            x_slices.append(hlo.reshape(lowering.ir_type(xa.update(shape=xa.shape[1:])), s))
            del sl_aval
        outs = lowering.lower_jaxpr_inline(ctx, jaxpr, list(consts) + list(carry) + x_slices)
        new_carry, y_vals = outs[:ncar], outs[ncar:]
        new_ys = []
        for acc, y, ya in zip(ys, y_vals, y_avals):
            y1 = hlo.reshape(lowering.ir_type(ya.update(shape=(1,) + ya.shape[1:])), y)
            new_ys.append(hlo.dynamic_update_slice(acc, y1, [idx] + [zero] * (ya.ndim - 1)))
        one = lowering.constant(np.int32(1), i32)
        hlo.return_([hlo.add(i, one)] + list(consts) + list(new_carry) + list(xs) + new_ys)
    results = list(op.results)
    n_in = len(ctx.avals_in)
    return results[1 + nc : 1 + nc + ncar] + results[1 + n_in :]
