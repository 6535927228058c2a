"""``scan`` and ``map``: the ``scan`` primitive with its JVP, partial-eval, transpose,
batching and lowering (a StableHLO ``while`` over the scanned axis) rules."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

from ... import core, tree_util
from ...core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray
from ...interpreters import batching, lowering
from ...interpreters import partial_eval as pe
from ...interpreters import transpose as tr
from ...interpreters.jvp import Zero, instantiate, linearizing, tangent_aval
from ...interpreters.tracing import trace_to_jaxpr
from .common import (
    as_operand,
    batch_jaxpr_nz,
    carry_components,
    convert_to,
    jvp_jaxpr_nz,
    no_consts,
    permute_jaxpr,
    promote_weak_carry,
    zeros,
)

__all__ = ["scan", "map", "scan_p"]

scan_p = Primitive("scan", multiple_results=True)
scan_p.subjaxprs_rule = lambda p: (p["jaxpr"],)
scan_p.pp_params = lambda p: {
    k: p[k] for k in ("jaxpr", "length", "num_carry", "num_consts", "reverse", "unroll")
}


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns the final
    carry and the stacked ``y``s."""
    xs_flat, xs_tree = tree_util.tree_flatten(xs)
    xs_flat = [as_operand(x) for x in xs_flat]
    lengths = {core.get_aval(x).shape[0] for x in xs_flat if core.get_aval(x).ndim}
    if any(core.get_aval(x).ndim == 0 for x in xs_flat):
        raise ValueError("scan got value with no leading axis to scan over.")
    if length is not None:
        lengths.add(length if hasattr(length, "_is_symbolic_dim") else int(length))
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
    raw_init = list(init_flat)  # a forwarded carry is returned as the value given
    init_flat = [as_operand(x) for x in init_flat]
    carry_avals = [core.get_aval(x) for x in init_flat]
    from ..sharding_rules import scanned_slice_types

    x_avals = scanned_slice_types([core.get_aval(x) for x in xs_flat])

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
            return [as_operand(v) for v in c_leaves + y_leaves]

        closed = trace_to_jaxpr(flat_body, list(c_avals) + x_avals, getattr(f, "__name__", "body"))
        return closed, store[0]

    closed, (c_tree, y_tree, nc) = trace(carry_avals)
    if c_tree != init_tree:
        raise TypeError(
            "scan body function carry input and carry output must have the same pytree "
            f"structure, but they differ: input {init_tree} and output {c_tree}."
        )
    components = carry_components(f, init_tree)
    new_avals = promote_weak_carry(
        carry_avals, closed.out_avals[:nc], "scan body function", components
    )
    if new_avals != carry_avals:
        raw_init = [r if a == b else None for r, a, b in zip(raw_init, carry_avals, new_avals)]
        init_flat, carry_avals = convert_to(init_flat, new_avals), new_avals
        raw_init = [c if r is None else r for r, c in zip(raw_init, init_flat)]
        closed, (c_tree, y_tree, nc) = trace(carry_avals)
        promote_weak_carry(carry_avals, closed.out_avals[:nc], "scan body function", components)
    closed, consts = no_consts(closed)
    carry_out, ys_out = _bind_forwarding(
        closed,
        consts,
        init_flat,
        raw_init,
        xs_flat,
        nc,
        n,
        bool(reverse),
        (max(n, 1) if unroll else 1) if isinstance(unroll, bool) else int(unroll),
    )
    return tree_util.tree_unflatten(c_tree, carry_out), tree_util.tree_unflatten(y_tree, ys_out)


def _bind_forwarding(closed, consts, init_flat, raw_init, xs_flat, nc, length, reverse, unroll):
    """Bind ``scan`` as JAX's ``lax.scan`` does: a carry the body returns unchanged is
    read-only, so it becomes a const and the result is the init value itself; a ``y``
    that is an ``x`` slice unchanged is not stacked again, the result is that ``xs``."""
    ncon, nxs = len(consts), len(xs_flat)
    fwd = _jaxpr_forwarding(closed.jaxpr)
    carry_fwd, ext_fwd = fwd[:nc], fwd[nc:]
    num_ys = len(ext_fwd)
    to_const = [f == ncon + i for i, f in enumerate(carry_fwd)]
    args = list(init_flat) + list(xs_flat)
    new_consts: list = []
    if any(to_const):
        j = closed.jaxpr
        keep = [not m for m in to_const] + [True] * num_ys
        moved = [False] * ncon + to_const + [False] * nxs
        invars = [v for v, m in zip(j.invars, moved) if m] + [
            v for v, m in zip(j.invars, moved) if not m
        ]
        outvars = [v for v, k in zip(j.outvars, keep) if k]
        closed = ClosedJaxpr(Jaxpr(j.constvars, invars, outvars, j.eqns, j.debug_name), [])
        new_consts = [o for o, m in zip(init_flat, to_const) if m]
        raw_moved = [r for r, m in zip(raw_init, to_const) if m]
        args = [a for a, m in zip(args, to_const + [False] * nxs) if not m]
        consts = new_consts + list(consts)
        nc -= len(new_consts)
    # ext_fwd's input indices still hold: moving carries to consts keeps consts + carries
    ext_to_ext = [
        f - len(consts) if f is not None and f >= nc + len(consts) else None for f in ext_fwd
    ]
    j = closed.jaxpr
    keep = [True] * nc + [f is None for f in ext_to_ext]
    if not all(keep):
        outvars = [v for v, k in zip(j.outvars, keep) if k]
        closed = ClosedJaxpr(Jaxpr(j.constvars, j.invars, outvars, j.eqns, j.debug_name), [])
    outs = scan_p.bind(
        *consts,
        *args,
        jaxpr=closed,
        length=length,
        reverse=reverse,
        num_consts=len(consts),
        num_carry=nc,
        unroll=unroll,
        linear=(False,) * (len(consts) + len(args)),
    )
    carry_out, rest = list(outs[:nc]), iter(outs[nc:])
    ys_out = [next(rest) if f is None else _put_if_numpy(args[f]) for f in ext_to_ext]
    if new_consts:
        moved_it, kept_it = iter(raw_moved), iter(carry_out)
        carry_out = [next(moved_it) if m else next(kept_it) for m in to_const]
    return carry_out, ys_out


def _put_if_numpy(x):
    """JAX's _maybe_put: a NumPy ``xs`` forwarded to ``ys`` comes back as an Array."""
    if isinstance(x, np.ndarray):
        from ...dispatch import device_put_value

        return device_put_value(x)
    return x


def _jaxpr_forwarding(jaxpr):
    """Per output, the input it is unchanged (else None), as JAX's pe._jaxpr_forwarding:
    through outvars that are invars and no-op convert_element_type/broadcast_in_dim."""
    fwds: dict = {v: v for v in jaxpr.invars}
    for eqn in jaxpr.eqns:
        rule = _FORWARDING_RULES.get(eqn.primitive.name)
        if rule is None:
            continue
        invars = [a if type(a) is core.Literal else fwds.get(a, a) for a in eqn.invars]
        for o, idx in zip(eqn.outvars, rule(eqn, invars)):
            if idx is not None:
                fwds[o] = invars[idx]
    where = {v: i for i, v in enumerate(jaxpr.invars)}
    return [
        None if type(v) is core.Literal or v not in fwds else where.get(fwds[v])
        for v in jaxpr.outvars
    ]


def _convert_fwd(eqn, invars):
    a = invars[0].aval
    p = eqn.params
    same = (
        isinstance(a.dtype, np.dtype)  # not a key type (JAX: no extended dtype)
        and a.dtype == p["new_dtype"]
        and a.weak_type == p["weak_type"]
        and (p["sharding"] is None or p["sharding"] == getattr(a, "sharding", None))
    )
    return [0 if same else None]


def _broadcast_fwd(eqn, invars):
    a = invars[0].aval
    p = eqn.params
    same = tuple(p["shape"]) == tuple(a.shape) and (
        p.get("sharding") is None or p["sharding"] == getattr(a, "sharding", None)
    )
    return [0 if same else None]


_FORWARDING_RULES = {"convert_element_type": _convert_fwd, "broadcast_in_dim": _broadcast_fwd}


def map(f, xs):  # noqa: A001 - lax's name
    """``jnp.stack([f(x) for x in xs])`` as a scan."""
    _, ys = scan(lambda c, x: (c, f(x)), (), xs)
    return ys


@scan_p.def_abstract_eval
def _scan_abstract_eval(*args, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    outs = jaxpr.out_avals
    from ..sharding_rules import stacked_type

    ys = [stacked_type(length, a) for a in outs[num_carry:]]
    return list(outs[:num_carry]) + ys


def _bind_scan(consts, carry, xs, jaxpr, length, reverse, unroll):
    jaxpr, jc = no_consts(jaxpr)
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
    lin = linearizing()  # as JAX's scan linearization: tangents made without inputs are zeros
    while True:
        _, out_nz = jvp_jaxpr_nz(jaxpr, const_nz + carry_nz + xs_nz, [False] * (ncar + n_y), lin)
        new = [a or b for a, b in zip(carry_nz, out_nz[:ncar])]
        if new == carry_nz:
            break
        carry_nz = new
    jj, out_nz = jvp_jaxpr_nz(jaxpr, const_nz + carry_nz + xs_nz, carry_nz + [False] * n_y, lin)
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
    jj = permute_jaxpr(jj, in_order, out_order)
    consts, carry, xs = primals[:nc], primals[nc : nc + ncar], primals[nc + ncar :]
    ct = [t for t, nz in zip(tangents[:nc], const_nz) if nz]
    cart = [
        instantiate(t) if type(t) is not Zero else zeros(t.aval)
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
    # Residuals that are loop-invariant (a known const, a literal, a jaxpr const, or
    # computed from those alone: hoisted out of the loop, as JAX's) are passed to the
    # unknown scan as consts; a known xs the body hands on unchanged is passed as it is
    # (not stacked again, as JAX forwards it); the others are stacked per iteration by
    # the known scan.
    kjj = kj.jaxpr
    res_vars = kjj.outvars[n_kcar + n_ky :]
    invariant = {}  # residual index -> value
    forwarded = {}  # residual index -> known xs operand
    for r, v in enumerate(res_vars):
        if type(v) is core.Literal:
            invariant[r] = v.val
        elif v in kjj.constvars:
            invariant[r] = kj.consts[kjj.constvars.index(v)]
        elif v in kjj.invars[:n_kc]:
            invariant[r] = k_consts[kjj.invars.index(v)]
        elif v in kjj.invars[n_kc + n_kcar :]:
            x = k_xs[kjj.invars.index(v) - n_kc - n_kcar]
            if not isinstance(x, np.ndarray):  # (JAX forwards no NumPy array either)
                forwarded[r] = x
    computed = [r for r in range(nres) if r not in invariant and r not in forwarded]
    known_body = ClosedJaxpr(
        Jaxpr(
            kjj.constvars,
            kjj.invars,
            kjj.outvars[: n_kcar + n_ky] + [res_vars[r] for r in computed],
            kjj.eqns,
            kjj.debug_name,
        ),
        kj.consts,
    )
    known_body, body_consts, hoisted = _hoist_invariants(
        trace.parent, known_body, k_consts, len(computed)
    )
    for r, value in zip(computed, hoisted):
        if value is not _LOOP_VARIANT:
            invariant[r] = value
    ext = [r for r in range(nres) if r not in invariant]
    stacked = [r for r in ext if r not in forwarded]
    if known_body.out_avals or any(pe.has_effects(e) for e in known_body.jaxpr.eqns):
        with core.set_current_trace(trace.parent):
            kouts = _bind_scan(body_consts, k_carry, k_xs, known_body, length, reverse, unroll)
    else:
        kouts = []
    k_carry_out, k_ys = kouts[:n_kcar], kouts[n_kcar : n_kcar + n_ky]
    stacked_res = dict(zip(stacked, kouts[n_kcar + n_ky :]))
    ext_res = [forwarded[r] if r in forwarded else stacked_res[r] for r in ext]
    # unknown body inputs: residuals, then unknown consts, carry, xs -> scan layout
    # (invariant residuals, unknown consts, unknown carry, unknown xs, extensive residuals)
    ujj = uj.jaxpr
    inv = sorted(invariant)
    n_uc, n_ucar = sum(const_uk), sum(carry_uk)
    n_ux = len(ujj.invars) - nres - n_uc - n_ucar
    in_order = (
        inv
        + [nres + i for i in range(n_uc)]
        + [nres + n_uc + i for i in range(n_ucar)]
        + [nres + n_uc + n_ucar + i for i in range(n_ux)]
        + ext
    )
    ubody = permute_jaxpr(uj, in_order, list(range(len(ujj.outvars))))
    ubody, ucs = no_consts(ubody)
    u_consts = list(ucs) + [invariant[r] for r in inv] + [c for c, u in zip(consts, const_uk) if u]
    u_carry = [c for c, u in zip(carry, carry_uk) if u]
    u_xs = [x for x, u in zip(xs, xs_uk) if u] + ext_res
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

_LOOP_VARIANT = object()


def _hoist_invariants(parent, body, consts, num_res):
    """JAX's known-scan hoisting: run the work of ``body`` (consts, carry, xs -> outs +
    ``num_res`` residuals) that depends on its consts alone once, on ``parent``, outside
    the loop. Returns (the body left to loop over, taking new consts first; those
    consts; per residual its loop-invariant value or _LOOP_VARIANT)."""
    n_c = len(consts)
    if any(pe.has_effects(e) for e in body.jaxpr.eqns):
        # (an effect, e.g. a debug callback, runs once per step: nothing moves out)
        return body, list(consts), [_LOOP_VARIANT] * num_res
    trace = pe.PartialEvalTrace(parent=parent)
    try:
        loop_in = [trace.new_unknown(a) for a in body.in_avals[n_c:]]
        with core.set_current_trace(trace):
            outs = core.eval_jaxpr(body.jaxpr, body.consts, *consts, *loop_in)
        n_out = len(outs) - num_res
        res = outs[n_out:]
        varying = [trace.is_unknown(x) for x in res]
        kept = list(outs[:n_out]) + [x for x, v in zip(res, varying) if v]
        jaxpr, new_consts = trace.to_jaxpr(loop_in, kept)
    finally:
        trace.invalidate()
    loop_body = ClosedJaxpr(
        Jaxpr([], jaxpr.constvars + jaxpr.invars, jaxpr.outvars, jaxpr.eqns, body.jaxpr.debug_name),
        [],
    )
    return loop_body, new_consts, [_LOOP_VARIANT if v else x for x, v in zip(res, varying)]


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
    # the transposed loop carries the cotangents' types, as JAX's (a weak carry whose
    # output is strong gets a strong cotangent, with no conversion back to weak)
    ct_carry = [
        _inst(ct, c.aval if is_lin(c) else core.get_aval(c)) for ct, c in zip(cts[:ncar], carry)
    ]
    carry_avals = [core.get_aval(ct) for ct in ct_carry]
    body_in = jaxpr.in_avals
    x_avals = body_in[nc + ncar :]
    res_x_avals = [a for a, l in zip(x_avals, xs_lin) if not l]
    y_avals = jaxpr.out_avals[ncar:]
    # a per-step output whose cotangent is a symbolic zero stays out of the transposed
    # loop (an instantiated 0 would meet the body's residuals: 0 * nan = nan), as JAX's
    # ct_ys_is_zeros
    ys_zero = [ct is None or type(ct) is Zero for ct in cts[ncar:]]
    n_rc, n_lc, n_cty = len(res_consts), len(lin_const_avals), len(ys_zero) - sum(ys_zero)

    # transposed loop: consts (residuals), carry (const cotangent sums, carry
    # cotangents), xs (per-step output cotangents, then per-step residuals), as JAX's
    def body_t(*a):
        rc = a[:n_rc]
        acc = a[n_rc : n_rc + n_lc]
        ct_carry = a[n_rc + n_lc : n_rc + n_lc + ncar]
        it_ct_y = iter(a[n_rc + n_lc + ncar : n_rc + n_lc + ncar + n_cty])
        rx = a[n_rc + n_lc + ncar + n_cty :]
        ct_y = [Zero(a_) if z else next(it_ct_y) for a_, z in zip(y_avals, ys_zero)]
        it_rc, it_rx = iter(rc), iter(rx)
        lin_args = (
            [tr.UndefinedPrimal(a_) if l else next(it_rc) for a_, l in zip(body_in[:nc], const_lin)]
            + [tr.UndefinedPrimal(a_) for a_ in carry_avals]
            + [tr.UndefinedPrimal(a_) if l else next(it_rx) for a_, l in zip(x_avals, xs_lin)]
        )
        # a linear const's running sum is where its cotangents add up, as they arrive
        it_acc = iter(acc)
        acc_in = [next(it_acc) if l else None for l in const_lin]
        cts_in = tr.backward_pass(
            jaxpr.jaxpr, jaxpr.consts, lin_args, list(ct_carry) + list(ct_y), acc_in
        )
        new_acc = [
            acc_i if type(ct) is Zero or ct is None else ct
            for acc_i, ct in zip(acc, [ct for ct, l in zip(cts_in[:nc], const_lin) if l])
        ]
        carry_cts = [_inst(ct, a_) for ct, a_ in zip(cts_in[nc : nc + ncar], carry_avals)]
        x_cts = [_inst(ct, a_) for ct, a_, l in zip(cts_in[nc + ncar :], x_avals, xs_lin) if l]
        return new_acc + carry_cts + x_cts

    bt = trace_to_jaxpr(
        body_t,
        list(body_in[:nc][i] for i in range(nc) if not const_lin[i])
        + lin_const_avals
        + carry_avals
        + [a for a, z in zip(y_avals, ys_zero) if not z]
        + res_x_avals,
        f"transpose({jaxpr.jaxpr.debug_name})",
    )
    ct_ys = [ct for ct, z in zip(cts[ncar:], ys_zero) if not z]
    acc0 = [zeros(a) for a in lin_const_avals]
    # residuals and cotangents the transposed body no longer reads are not passed in
    n_x_in = n_cty + len(res_xs)
    body, used = pe.dce_jaxpr(
        bt.jaxpr,
        [True] * len(bt.out_avals),
        [False] * n_rc + [True] * (n_lc + ncar) + [False] * n_x_in,
    )
    bt = ClosedJaxpr(body, bt.consts)
    res_consts = [c for c, u in zip(res_consts, used[:n_rc]) if u]
    x_in = [x for x, u in zip(ct_ys + res_xs, used[n_rc + n_lc + ncar :]) if u]
    outs = _bind_scan(res_consts, acc0 + ct_carry, x_in, bt, length, not reverse, unroll)
    acc, carry_ct, xs_ct = outs[:n_lc], outs[n_lc : n_lc + ncar], outs[n_lc + ncar :]
    it_acc, it_x = iter(acc), iter(xs_ct)
    return (
        [next(it_acc) if l else None for l in const_lin]
        + list(carry_ct)
        + [next(it_x) if l else None for l in xs_lin]
    )


def _inst(ct, aval):
    if ct is None:
        return zeros(aval)
    if type(ct) is Zero:
        return zeros(ct.aval)
    return ct


scan_p.def_transpose(_scan_transpose)


def _scan_batch(size, vals, dims, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    cd, card, xd = dims[:nc], dims[nc : nc + ncar], dims[nc + ncar :]
    consts, carry, xs = vals[:nc], vals[nc : nc + ncar], vals[nc + ncar :]
    n_y = len(jaxpr.out_avals) - ncar
    # inside the body every batched value has its batch axis first (consts and carry at
    # 0 outside too; xs at 1, after the scanned axis)
    const_dims = [0 if d is not None else None for d in cd]
    x_body_dims = [0 if d is not None else None for d in xd]
    carry_b = [d is not None for d in card]
    while True:
        in_dims = const_dims + [0 if b else None for b in carry_b] + x_body_dims
        bj, out_b = batch_jaxpr_nz(jaxpr, size, in_dims, carry_b + [False] * n_y)
        new = [a or b for a, b in zip(carry_b, out_b[:ncar])]
        if new == carry_b:
            break
        carry_b = new
    # operands in JAX's order: consts, then the initial carry, then xs
    ema = batching.current_explicit_mesh_axis()
    consts = [
        batching.move_batch_axis(size, d, 0, c) if d is not None else c for c, d in zip(consts, cd)
    ]
    carry = [
        batching.move_batch_axis(size, d, 0, c, mesh_axis=ema) if b else c
        for c, d, b in zip(carry, card, carry_b)
    ]
    xs = [batching.move_batch_axis(size, d, 1, x) if d is not None else x for x, d in zip(xs, xd)]
    outs = _bind_scan(consts, carry, xs, bj, length, reverse, unroll)
    out_dims = [0 if b else None for b in carry_b] + [1 if b else None for b in out_b[ncar:]]
    return outs, out_dims


scan_p.def_batch(_scan_batch)


def _zeros(aval):
    """Zeros of ``aval``, broadcast at run time when its shape is symbolic (export)."""
    zero = np.zeros((), aval.dtype)
    if all(type(d) is int for d in aval.shape):
        return lowering.constant(zero, aval)
    return lowering.broadcast_in_dim(lowering.constant(zero, aval.update(shape=())), aval, [])


def _index_value(d):
    """An int32 scalar of ``d``, an int or a symbolic dimension (export)."""
    i32 = ShapedArray((), np.int32)
    if type(d) is int:
        return lowering.constant(np.int32(d), i32)
    from ...export.poly_lowering import dim_value

    return hlo.convert(lowering.ir_type(i32), dim_value(d))


def _row(x, xa, idx, zero):
    """Row ``idx`` of ``x`` (kept as a leading axis of 1); a real_dynamic_slice when the
    row's other sizes are symbolic."""
    if all(type(d) is int for d in xa.shape[1:]):
        return hlo.dynamic_slice(x, [idx] + [zero] * (xa.ndim - 1), [1] + list(xa.shape[1:]))
    from ...export.poly_lowering import shape_tensor

    i64 = ir.RankedTensorType.get([1], ir.IntegerType.get_signless(64))
    start = hlo.concatenate(
        [hlo.reshape(i64, hlo.convert(ir.RankedTensorType.get([], i64.element_type), idx))]
        + [hlo.reshape(i64, hlo.constant(ir.DenseElementsAttr.get(np.int64(0))))] * (xa.ndim - 1),
        0,
    )
    sizes = shape_tensor((1,) + tuple(xa.shape[1:]), np.int64)
    ones = shape_tensor((1,) * xa.ndim, np.int64)
    row = xa.update(shape=(1,) + tuple(xa.shape[1:]))
    return hlo.real_dynamic_slice(lowering.ir_type(row), x, start, hlo.add(start, sizes), ones)


def _orders_callbacks(jaxpr: Jaxpr) -> bool:
    """Whether an equation of ``jaxpr`` (or of its sub-jaxprs) is a host callback kept in
    program order by a token (``ordered_by_token(params)``, set by engine.callbacks)."""
    for eqn in jaxpr.eqns:
        ordered = getattr(eqn.primitive, "ordered_by_token", None)
        if ordered is not None and ordered(eqn.params):
            return True
        rule = eqn.primitive.subjaxprs_rule
        for sub in rule(eqn.params) if rule is not None else ():
            j = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
            if isinstance(j, Jaxpr) and _orders_callbacks(j):
                return True
    return False


@scan_p.def_lowering
def _scan_lowering(ctx, *args, jaxpr, length, reverse, num_consts, num_carry, unroll, linear):
    nc, ncar = num_consts, num_carry
    i32 = ShapedArray((), np.int32)
    y_avals = [core.physical_aval(a) for a in ctx.avals_out[ncar:]]  # typed keys: data
    ys0 = [_zeros(a) for a in y_avals]
    if type(length) is int and length == 0:  # no iteration: a body slicing 1 of 0 rows
        return list(args[nc : nc + ncar]) + ys0
    # JAX's loop state order: xs, consts, the counter, carry, ys (XLA schedules the
    # body's independent callbacks by it)
    n_in = len(ctx.avals_in)
    order = [*range(nc + ncar, n_in), *range(nc)]  # xs, consts: before the counter
    state = [args[k] for k in order] + [lowering.constant(np.int32(0), i32)]
    state += list(args[nc : nc + ncar]) + ys0
    state_avals = [ctx.avals_in[k] for k in order] + [i32]
    state_avals += list(ctx.avals_in[nc : nc + ncar]) + list(y_avals)
    i_pos = len(order)
    types = [lowering.ir_type(a) for a in state_avals]
    op = hlo.WhileOp(types, state)
    cblock = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(cblock):
        limit = _index_value(length)
        hlo.return_([lowering.compare(cblock.arguments[i_pos], limit, "LT", i32)])
    bblock = op.regions[1].blocks.append(*types)
    with ir.InsertionPoint(bblock):
        a = list(bblock.arguments)
        i = a[i_pos]
        n_x = n_in - nc - ncar
        xs, consts = a[:n_x], a[n_x:i_pos]
        carry, ys = a[i_pos + 1 : i_pos + 1 + ncar], a[i_pos + 1 + ncar :]
        idx = i
        if reverse:
            idx = hlo.subtract(_index_value(length - 1), i)
        zero = lowering.constant(np.int32(0), i32)
        x_slices = []
        for x, xa in zip(xs, [core.physical_aval(a) for a in ctx.avals_in[nc + ncar :]]):
            sl_aval = xa.update(shape=(1,) + xa.shape[1:])
            s = _row(x, xa, idx, zero)
            x_slices.append(lowering.reshape(s, xa.update(shape=xa.shape[1:])))
            del sl_aval
        body_args = list(consts) + list(carry) + x_slices
        # inline where its token chain continues the enclosing one, or where symbolic
        # dimensions (shape-polymorphic export) come from the enclosing function
        from ...export.poly_lowering import current_env

        symbolic = bool(current_env()) or any(
            type(d) is not int for a in state_avals for d in a.shape
        )
        if symbolic or _orders_callbacks(jaxpr.jaxpr):
            outs = lowering.lower_jaxpr_inline(ctx, jaxpr, body_args)
        else:
            # a call of a private function, as JAX's (XLA orders the body's independent
            # side effects, e.g. unordered prints, by the call's structure)
            body = lowering.lower_function(ctx.module_ctx, "closed_call", jaxpr, path=ctx.eqn_path)
            outs = func_dialect.CallOp(
                [lowering.ir_type(a) for a in jaxpr.out_avals],
                ir.FlatSymbolRefAttr.get(ir.StringAttr(body.name).value),
                body_args,
            ).results
        new_carry, y_vals = outs[:ncar], outs[ncar:]
        new_ys = []
        for acc, y, ya in zip(ys, y_vals, y_avals):
            y1 = lowering.reshape(y, ya.update(shape=(1,) + ya.shape[1:]))
            new_ys.append(hlo.dynamic_update_slice(acc, y1, [idx] + [zero] * (ya.ndim - 1)))
        one = lowering.constant(np.int32(1), i32)
        hlo.return_(list(xs) + list(consts) + [hlo.add(i, one)] + list(new_carry) + new_ys)
    results = list(op.results)
    return results[i_pos + 1 :]


def _scan_dce(used_outputs, eqn):
    """Keep the carries and per-step outputs something reads, and what they need: a
    carry stays if its next value or anything kept reads it (JAX's scan DCE rule)."""
    p = eqn.params
    jaxpr, nc, ncar = p["jaxpr"], p["num_consts"], p["num_carry"]
    n_x = len(eqn.invars) - nc - ncar
    used_carry, used_ys = list(used_outputs[:ncar]), list(used_outputs[ncar:])
    while True:
        inst = [False] * nc + used_carry + [False] * n_x
        body, used_in = pe.dce_jaxpr(jaxpr.jaxpr, used_carry + used_ys, inst)
        new = [a or b for a, b in zip(used_carry, used_in[nc : nc + ncar])]
        if new == used_carry:
            break
        used_carry = new
    if not any(used_carry) and not any(used_ys):
        return [False] * len(eqn.invars), None
    new_eqn = eqn.replace(
        invars=[v for v, u in zip(eqn.invars, used_in) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_carry + used_ys) if u],
        params=dict(
            p,
            jaxpr=ClosedJaxpr(body, jaxpr.consts),
            num_consts=sum(used_in[:nc]),
            num_carry=sum(used_carry),
            linear=tuple(l for l, u in zip(p["linear"], used_in) if u),
        ),
    )
    return used_in, new_eqn


pe.dce_rules[scan_p] = _scan_dce
