"""``while_loop`` and ``fori_loop``: the ``while`` primitive with its JVP, partial-eval,
batching and lowering rules; ``fori_loop`` with static bounds is a ``scan``."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from ... import core, dtypes, tree_util
from ...core import ClosedJaxpr, Jaxpr, Primitive, Var
from ...interpreters import batching, lowering
from ...interpreters import partial_eval as pe
from ...interpreters.jvp import Zero, instantiate, tangent_aval
from .common import (
    as_operand,
    avals_str,
    batch_jaxpr_nz,
    carry_components,
    convert_to,
    jvp_jaxpr_nz,
    no_consts,
    permute_jaxpr,
    promote_weak_carry,
    trace_fun,
    zeros,
)
from .scan_map import scan

__all__ = ["while_loop", "fori_loop", "while_p"]

while_p = Primitive("while", multiple_results=True)
while_p.subjaxprs_rule = lambda p: (p["cond_jaxpr"], p["body_jaxpr"])


def while_loop(cond_fun, body_fun, init_val):
    """Repeat ``init_val = body_fun(init_val)`` while ``cond_fun(init_val)``. Forward-mode
    differentiable and batchable; reverse mode needs ``scan`` (or fori_loop with
    static bounds)."""
    flat, in_tree = tree_util.tree_flatten(init_val)
    flat = [as_operand(x) for x in flat]
    avals = [core.get_aval(x) for x in flat]

    def trace_body(avals):
        name = getattr(body_fun, "__name__", "body")
        return trace_fun(body_fun, in_tree, avals, name, splat=False, traced_for="while_loop")

    body, body_tree = trace_body(avals)
    if body_tree != in_tree:
        raise TypeError(
            "while_loop body function carry input and carry output must have the same "
            f"pytree structure, but they differ: input {in_tree} and output {body_tree}."
        )
    what, components = "while_loop body function", carry_components(body_fun, in_tree)
    new_avals = promote_weak_carry(avals, body.out_avals, what, components)
    if new_avals != avals:
        flat, avals = convert_to(flat, new_avals), new_avals
        body, _ = trace_body(avals)
        promote_weak_carry(avals, body.out_avals, what, components)  # match now
    condj, cond_tree = trace_fun(
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
            f"{avals_str(condj.out_avals)}."
        )
    condj, cconsts = no_consts(condj)
    body, bconsts = no_consts(body)
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


def _split_operands(seq, cond_nconsts, body_nconsts):
    """A while's operand list (or anything parallel to it) as (cond consts, body consts,
    carry)."""
    nc, nb = cond_nconsts, body_nconsts
    seq = list(seq)
    return seq[:nc], seq[nc : nc + nb], seq[nc + nb :]


@while_p.def_abstract_eval
def _while_abstract_eval(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    return body_jaxpr.out_avals


def _while_jvp(primals, tangents, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    cconsts, bconsts, carry = _split_operands(primals, nc, nb)
    _, bconst_tans, carry_tans = _split_operands(tangents, nc, nb)
    bconst_nz = [type(t) is not Zero for t in bconst_tans]
    carry_nz = [type(t) is not Zero for t in carry_tans]
    while True:
        _, out_nz = jvp_jaxpr_nz(body_jaxpr, bconst_nz + carry_nz, [False] * len(carry))
        new = [a or b for a, b in zip(carry_nz, out_nz)]
        if new == carry_nz:
            break
        carry_nz = new
    jb, _ = jvp_jaxpr_nz(body_jaxpr, bconst_nz + carry_nz, carry_nz)
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
    jb = permute_jaxpr(jb, order, list(range(len(jb.out_avals))))
    jb, jconsts = no_consts(jb)
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
    btans = [t for t, nz in zip(bconst_tans, bconst_nz) if nz]
    ctans = [instantiate(t) if nz else None for t, nz in zip(carry_tans, carry_nz)]
    ctans = [t if type(t) is not Zero else zeros(t.aval) for t in ctans if t is not None]
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
        "using fori_loop with static start/stop."
    )


while_p.def_transpose(_while_transpose)


def _while_partial_eval(trace, args, unknowns, params):
    """As JAX's: while the predicate is known, a loop over the known carries runs now,
    and the whole loop is recorded for the unknown ones (recomputing the known part).
    So ``linearize`` works, and ``grad`` raises only if a cotangent reaches the loop
    (its transpose rule); a loop whose outputs nothing uses is simply dropped."""
    cond_jaxpr, body_jaxpr = params["cond_jaxpr"], params["body_jaxpr"]
    nc, nb = params["cond_nconsts"], params["body_nconsts"]
    cond_uk, body_uk, carry_uk = _split_operands(unknowns, nc, nb)
    while True:
        _, _, out_uk, _ = pe.partial_eval_jaxpr(body_jaxpr, body_uk + carry_uk, carry_uk)
        new = [a or b for a, b in zip(carry_uk, out_uk)]
        if new == carry_uk:
            break
        carry_uk = new
    cond_known, _, (pred_uk,), _ = pe.partial_eval_jaxpr(cond_jaxpr, cond_uk + carry_uk)
    everything = [trace.instantiate_const(x) for x in args]
    if pred_uk or all(carry_uk):
        return trace.record(while_p, everything, params)
    body_known, _, _, _ = pe.partial_eval_jaxpr(body_jaxpr, body_uk + carry_uk, carry_uk)
    n_known = len(carry_uk) - sum(carry_uk)
    cond_known = _first_outputs(cond_known, 1)
    body_known = _first_outputs(body_known, n_known)
    known_args = [x for x, u in zip(args, cond_uk + body_uk + carry_uk) if not u]
    with core.set_current_trace(trace.parent):
        known_outs = while_p.bind(
            *known_args,
            cond_jaxpr=cond_known,
            body_jaxpr=body_known,
            cond_nconsts=nc - sum(cond_uk),
            body_nconsts=nb - sum(body_uk),
        )
    unknown_outs = trace.record(while_p, everything, params)
    it_k = iter(known_outs)
    return [u_out if u else next(it_k) for u, u_out in zip(carry_uk, unknown_outs)]


def _first_outputs(closed, n):
    """``closed`` returning only its first ``n`` outputs (its residuals dropped)."""
    j = closed.jaxpr
    return ClosedJaxpr(
        Jaxpr(j.constvars, j.invars, j.outvars[:n], j.eqns, j.debug_name), closed.consts
    )


while_p.partial_eval = _while_partial_eval


def _while_batch(size, vals, dims, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    """As JAX's: find which carries the batch reaches; with a batched predicate every
    carry is batched (at 0) and the predicate stays batched in the jaxpr (the lowering
    loops while any element continues and keeps finished elements' values); otherwise
    batched carries sit after the predicate's axes. Consts keep their batch axes."""
    from ...interpreters.jaxpr_transforms import batch_jaxpr_axes

    nc, nb = cond_nconsts, body_nconsts
    cd, bd, carry_d = _split_operands(dims, nc, nb)
    carry_vals = _split_operands(vals, nc, nb)[2]
    cb, bb = [d is not None for d in cd], [d is not None for d in bd]
    carry_b = [d is not None for d in carry_d]
    while True:
        _, out_b = batch_jaxpr_nz(
            body_jaxpr, size, [0 if b else None for b in bb + carry_b], carry_b
        )
        new = [a or b for a, b in zip(carry_b, out_b)]
        if new == carry_b:
            break
        carry_b = new
    _, (pred_b,) = batch_jaxpr_nz(
        cond_jaxpr, size, [0 if b else None for b in cb + carry_b], [False]
    )
    if pred_b:
        carry_dims = [0] * len(carry_b)
        pred_dims = (0,)
    else:
        rank = len(cond_jaxpr.out_avals[0].shape)
        carry_dims = [rank if b else None for b in carry_b]
        pred_dims = (None,)
    bj = batch_jaxpr_axes(body_jaxpr, size, tuple(bd + carry_dims), tuple(carry_dims))
    cj = batch_jaxpr_axes(cond_jaxpr, size, tuple(cd + carry_dims), pred_dims)
    ema = batching.current_explicit_mesh_axis()
    carry = [
        v if dst is None else batching.move_batch_axis(size, d, dst, v, mesh_axis=ema)
        for v, d, dst in zip(carry_vals, carry_d, carry_dims)
    ]
    cconsts, bconsts, _ = _split_operands(vals, nc, nb)
    cj, cc = no_consts(cj)
    bj, bc = no_consts(bj)
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


while_p.def_batch(_while_batch)


@while_p.def_lowering
def _while_lowering(ctx, *args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    types = [lowering.ir_type(a) for a in ctx.avals_in]
    op = hlo.WhileOp(types, list(args))
    pred_aval = cond_jaxpr.out_avals[0]
    cblock = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(cblock):
        cconsts, _, carry = _split_operands(cblock.arguments, nc, nb)
        (pred,) = lowering.lower_jaxpr_inline(ctx, cond_jaxpr, cconsts + carry, sub=1)
        if pred_aval.shape:  # a batched predicate (vmap): loop while any element goes on
            pred = _any(pred, pred_aval)
        hlo.return_([pred])
    bblock = op.regions[1].blocks.append(*types)
    with ir.InsertionPoint(bblock):
        cconsts, bconsts, carry = _split_operands(bblock.arguments, nc, nb)
        new = list(lowering.lower_jaxpr_inline(ctx, body_jaxpr, bconsts + carry, sub=0))
        if pred_aval.shape:  # elements whose predicate is false keep their values
            (pred,) = lowering.lower_jaxpr_inline(ctx, cond_jaxpr, cconsts + carry, sub=1)
            new = [
                _select_where(pred, pred_aval, n, c, a)
                for n, c, a in zip(new, carry, body_jaxpr.out_avals)
            ]
        hlo.return_(cconsts + bconsts + new)
    return list(op.results)[nc + nb :]


def _any(pred, pred_aval):
    """The logical or of all of ``pred``'s elements (a scalar)."""
    scalar = pred_aval.update(shape=(), sharding=None)
    init = lowering.constant(np.asarray(False), scalar)
    op = hlo.ReduceOp([lowering.ir_type(scalar)], [pred], [init], list(range(len(pred_aval.shape))))
    block = op.regions[0].blocks.append(lowering.ir_type(scalar), lowering.ir_type(scalar))
    with ir.InsertionPoint(block):
        hlo.return_([hlo.or_(*block.arguments)])
    return op.result


def _select_where(pred, pred_aval, new, old, aval):
    """``new`` where the (leading-axes) predicate holds, else ``old``."""
    aval = core.physical_aval(aval)  # typed keys select their data whole
    if aval.shape != pred_aval.shape:
        bool_aval = aval.update(dtype=np.bool_, weak_type=False)
        pred = lowering.broadcast_in_dim(pred, bool_aval, list(range(len(pred_aval.shape))))
    return hlo.select(pred, new, old)


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """``for i in range(lower, upper): val = body_fun(i, val)``. With concrete bounds it
    is a ``scan`` (reverse-differentiable) whose index starts as a Python int, so it is
    weakly typed as in JAX; otherwise a ``while`` on the bounds' common type."""
    from ..convert import convert_element_type
    from ..elementwise import add
    from ..logic import lt

    if not callable(body_fun):
        raise TypeError("lax.fori_loop: body_fun argument should be callable.")
    # a symbolic bound (engine.export) is a traced value: the loop is a while_loop
    lower, upper = (
        b.__jax_array__() if hasattr(b, "_is_symbolic_dim") else b for b in (lower, upper)
    )
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

        def step(loop_carry, _):  # (JAX's name, in carry-type errors)
            i, x = loop_carry
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

    def body_f(loop_carry):
        i, hi, x = loop_carry
        return (add(i, _one_like(i)), hi, body_fun(i, x))

    _, _, out = while_loop(cond_f, body_f, (lower, upper, init_val))
    return out


def _one_like(x):
    """1 of ``x``'s dtype and weak type (lax ops take no Python scalars)."""
    aval = core.get_aval(x)
    if aval.weak_type:
        return core.WeakScalar(1, aval.dtype)
    return np.ones((), aval.dtype)
