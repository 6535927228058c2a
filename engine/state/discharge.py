"""Taking refs out of a jaxpr (JAX's ``discharge_state``): each ref becomes the value it
holds, threaded through the program; a ref input becomes a value input whose final
value is an extra output. XLA sees only the discharged program; ``jit`` writes the
extra outputs back into the caller's ``Ref`` buffers (donated, so updated in place).

Also here: the checks a jitted call makes on refs (JAX's errors for a ref passed twice,
passed and closed over, or returned)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import core
from ..ad_util import zeros_like_aval
from ..core import ClosedJaxpr, Jaxpr, Literal
from ..interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr
from .primitives import (
    addupdate_p,
    addupdate_value,
    empty_ref_p,
    free_ref_p,
    freeze_p,
    get_p,
    get_value,
    new_ref_p,
    swap_p,
    swap_value,
)
from .types import AbstractRef, Ref

# ---------------------------------------------------------------------------- detection

_has_refs_memo: weakref.WeakKeyDictionary[Jaxpr, bool] = weakref.WeakKeyDictionary()


def jaxpr_has_refs(jaxpr: Jaxpr) -> bool:
    """Whether ``jaxpr`` (or one nested in it) takes, makes or uses a ref."""
    found = _has_refs_memo.get(jaxpr)
    if found is None:
        found = _has_refs_memo[jaxpr] = _scan_refs(jaxpr)
    return found


def _scan_refs(jaxpr: Jaxpr) -> bool:
    if any(type(v.aval) is AbstractRef for v in (*jaxpr.constvars, *jaxpr.invars)):
        return True
    for eqn in jaxpr.eqns:
        if getattr(eqn.primitive, "ref_primitive", False):
            return True
        for sub in eqn.primitive.subjaxprs(eqn.params):
            j = sub.jaxpr if isinstance(sub, ClosedJaxpr) else sub
            if isinstance(j, Jaxpr) and jaxpr_has_refs(j):
                return True
    return False


_ref_eqns_memo: weakref.WeakKeyDictionary[Jaxpr, bool] = weakref.WeakKeyDictionary()


def jaxpr_has_ref_eqns(jaxpr: Jaxpr) -> bool:
    """Whether ``jaxpr`` (or one nested in it) has a ref operation (a linearized
    program's tangent refs; a ref it only passes on, a custom rule's residual, is not)."""
    return core.any_nested_eqn(jaxpr, _is_ref_eqn, _ref_eqns_memo)


def _is_ref_eqn(eqn) -> bool:
    return getattr(eqn.primitive, "ref_primitive", False)


def closed_has_refs(closed: ClosedJaxpr) -> bool:
    return jaxpr_has_refs(closed.jaxpr) or any(type(c) is Ref for c in closed.consts)


# ---------------------------------------------------------------------------- discharge


class _Cell:
    """A ref while discharging: the value it holds now."""

    __slots__ = ("val",)

    def __init__(self, val: Any) -> None:
        self.val = val


def _r_new_ref(ins, params):
    return [_Cell(ins[0])]


def _r_get(ins, params):
    cell, *idx = ins
    return [get_value(cell.val, idx, params["tree"])]


def _r_swap(ins, params):
    cell, val, *idx = ins
    cell.val, old = swap_value(cell.val, val, idx, params["tree"])
    return [old]


def _r_addupdate(ins, params):
    cell, val, *idx = ins
    cell.val = addupdate_value(cell.val, val, idx, params["tree"])
    return []


def _r_freeze(ins, params):
    return [ins[0].val]


def _r_empty_ref(ins, params):
    return [_Cell(zeros_like_aval(params["ty"]))]


def _r_free_ref(ins, params):
    return []


_RULES: dict[core.Primitive, Callable[[list, dict], list]] = {
    new_ref_p: _r_new_ref,
    get_p: _r_get,
    swap_p: _r_swap,
    addupdate_p: _r_addupdate,
    freeze_p: _r_freeze,
    empty_ref_p: _r_empty_ref,
    free_ref_p: _r_free_ref,
}

_discharged: weakref.WeakKeyDictionary[Jaxpr, ClosedJaxpr] = weakref.WeakKeyDictionary()


def discharge(closed: ClosedJaxpr) -> ClosedJaxpr:
    """``closed`` without refs: each ref input becomes an input of its value type, and
    the final values of the ref inputs (in order) follow the outputs (cached)."""
    if not closed.consts:
        hit = _discharged.get(closed.jaxpr)
        if hit is not None:
            return hit
    jaxpr = closed.jaxpr
    is_ref = [type(a) is AbstractRef for a in jaxpr.in_avals]
    in_avals = [a.inner_aval if r else a for a, r in zip(jaxpr.in_avals, is_ref)]

    def fun(*args):
        ins = [_Cell(x) if r else x for x, r in zip(args, is_ref)]
        outs = _eval(jaxpr, closed.consts, ins)
        return outs + [c.val for c in ins if type(c) is _Cell]

    out = trace_to_jaxpr(fun, in_avals, debug_name=jaxpr.debug_name)
    if not closed.consts:
        _discharged[jaxpr] = out
    return out


def _eval(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any]) -> list[Any]:
    env: dict[Any, Any] = {}

    def read(v):
        return v.val if type(v) is Literal else env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x  # (a program run by jit has no Ref constants left: see _runnable_form)
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        rule = _RULES.get(eqn.primitive)
        with core.source_info_context(eqn.source_info):
            if rule is not None:
                outs = rule(ins, eqn.params)
            elif eqn.primitive.name == "jit" and (
                any(type(x) is _Cell for x in ins) or closed_has_refs(eqn.params["jaxpr"])
            ):
                outs = _discharge_jit(eqn, ins)
            elif eqn.primitive.name in _LOOPS and any(type(x) is _Cell for x in ins):
                outs = _LOOPS[eqn.primitive.name](eqn, ins)
            elif any(type(x) is _Cell for x in ins):
                raise NotImplementedError(
                    f"array refs passed to '{eqn.primitive.name}' cannot be compiled yet "
                    "(the engine discharges refs through jit and scan only)"
                )
            else:
                params = eqn.params
                if any(
                    jaxpr_has_refs(getattr(s, "jaxpr", s)) for s in eqn.primitive.subjaxprs(params)
                ):
                    params = {k: _discharged_param(v, eqn.primitive) for k, v in params.items()}
                outs = eqn.primitive.bind(*ins, **params)
                if not eqn.primitive.multiple_results:
                    outs = [outs]
        for v, x in zip(eqn.outvars, outs):
            env[v] = x
    return [read(v) for v in jaxpr.outvars]


def _discharged_param(v, prim):
    """A sub-jaxpr parameter with its internal refs discharged (its signature kept)."""
    if isinstance(v, tuple):
        return tuple(_discharged_param(x, prim) for x in v)
    if not isinstance(v, (ClosedJaxpr, Jaxpr)):
        return v
    closed = v if isinstance(v, ClosedJaxpr) else ClosedJaxpr(v, [])
    if not closed_has_refs(closed):
        return v
    if any(type(a) is AbstractRef for a in closed.in_avals) or any(
        type(c) is Ref for c in closed.consts
    ):
        raise NotImplementedError(
            f"array refs passed into '{prim.name}' cannot be compiled yet (the engine "
            "discharges refs through jit, scan, cond and while_loop)"
        )
    new = discharge(closed)
    if isinstance(v, Jaxpr):
        if new.consts:
            raise NotImplementedError(f"discharging array refs inside '{prim.name}'")
        return new.jaxpr
    return new


def _discharge_jit(eqn, ins):
    inner = eqn.params["jaxpr"]
    if any(type(c) is Ref for c in inner.consts):
        inner, consts = convert_constvars_to_invars(inner)
        ins = [_Cell(c._array) if type(c) is Ref else c for c in consts] + list(ins)
    new = discharge(inner)
    new, new_consts = convert_constvars_to_invars(new)
    vals = new_consts + [x.val if type(x) is _Cell else x for x in ins]
    params = dict(eqn.params, jaxpr=new, donated_invars=(False,) * len(vals))
    outs = eqn.primitive.bind(*vals, **params)
    n = len(inner.out_avals)
    cells = [x for x in ins if type(x) is _Cell]
    for c, v in zip(cells, outs[n:]):
        c.val = v
    return outs[:n]


def _strong(x):
    from ..lax import convert_element_type

    a = core.get_aval(x)
    return convert_element_type(x, a.dtype, weak_type=False) if a.weak_type else x


def _discharge_scan(eqn, ins):
    """A scan whose body uses refs it closes over: each such ref's value becomes a
    carry of the loop (its final value the ref's new value)."""
    p = eqn.params
    nc, ncar = p["num_consts"], p["num_carry"]
    consts, carry, xs = ins[:nc], ins[nc : nc + ncar], ins[nc + ncar :]
    if any(type(x) is _Cell for x in (*carry, *xs)):
        raise NotImplementedError("array refs as scan carries or scanned-over values")
    body = p["jaxpr"]
    ref_ix = [i for i, c in enumerate(consts) if type(c) is _Cell]
    plain = [i for i in range(nc) if type(consts[i]) is not _Cell]
    dbody = discharge(body)
    n_out = len(body.out_avals)
    avals = body.in_avals
    in_avals = (
        [avals[i] for i in plain]
        + [avals[i].inner_aval.strip_weak_type() for i in ref_ix]
        + list(avals[nc:])
    )
    k, r = len(plain), len(ref_ix)

    def new_body(*a):
        cs: list[Any] = [None] * nc
        for i, v in zip(plain, a[:k]):
            cs[i] = v
        for i, v in zip(ref_ix, a[k : k + r]):
            cs[i] = v
        outs = core.eval_jaxpr(dbody.jaxpr, dbody.consts, *cs, *a[k + r :])
        finals = [_strong(v) for v in outs[n_out:]]
        return finals + list(outs[:n_out])

    nb = trace_to_jaxpr(new_body, in_avals, debug_name=body.jaxpr.debug_name)
    nb, nb_consts = convert_constvars_to_invars(nb)
    cells = [consts[i] for i in ref_ix]
    ops = [*nb_consts, *[consts[i] for i in plain], *[_strong(c.val) for c in cells], *carry, *xs]
    params = dict(
        p,
        jaxpr=nb,
        num_consts=len(nb_consts) + k,
        num_carry=r + ncar,
        linear=(False,) * len(ops),
    )
    outs = eqn.primitive.bind(*ops, **params)
    for c, v in zip(cells, outs[:r]):
        c.val = v
    return outs[r:]


def _refs_as_values(
    closed: ClosedJaxpr,
    cell_of: list[Any],
    cells: list[_Cell],
    n_ref_out,
    keep_weak=False,
    final_avals=None,
):
    """A jaxpr taking (its non-ref inputs..., the values of ``cells``) in place of
    ``closed``'s ref inputs (``cell_of[i]``: input i's cell, or None) and returning
    (the cells' new values, its outputs) when ``n_ref_out`` (else its outputs alone).
    The values are strongly typed (a loop's carries), or with ``keep_weak`` of the
    types the cells hold now and returned as ``final_avals`` (a cond's branches: the
    first branch's types, as JAX's cond); ``natural`` gets the types returned."""
    d = discharge(closed)
    n_out = len(closed.out_avals)
    plain = [i for i, c in enumerate(cell_of) if c is None]
    ref_pos = {id(c): k for k, c in enumerate(cells)}
    natural: list[Any] = []
    val_avals = [core.get_aval(c.val) for c in cells]
    if not keep_weak:
        val_avals = [a.strip_weak_type() for a in val_avals]
    avals = [closed.in_avals[i] for i in plain] + val_avals

    def fun(*a):
        vals = list(a[len(plain) :])
        ins: list[Any] = [None] * len(cell_of)
        for i, v in zip(plain, a):
            ins[i] = v
        for i, c in enumerate(cell_of):
            if c is not None:
                ins[i] = vals[ref_pos[id(c)]]
        outs = core.eval_jaxpr(d.jaxpr, d.consts, *ins)
        finals = iter(outs[n_out:])
        for c in cell_of:
            if c is not None:
                vals[ref_pos[id(c)]] = next(finals)
        if keep_weak and final_avals is None:
            natural[:] = [core.get_aval(v) for v in vals]
        else:
            vals = [_like(v, a) for v, a in zip(vals, final_avals or val_avals)]
        return (vals if n_ref_out else []) + list(outs[:n_out])

    new, consts = convert_constvars_to_invars(trace_to_jaxpr(fun, avals, closed.jaxpr.debug_name))
    return new, consts, natural


def _like(x, aval):
    from ..lax import convert_element_type

    a = core.get_aval(x)
    if a.weak_type != aval.weak_type:
        return convert_element_type(x, aval.dtype, weak_type=aval.weak_type)
    return x


def _distinct_cells(xs):
    seen: dict[int, _Cell] = {}
    for x in xs:
        if type(x) is _Cell:
            seen.setdefault(id(x), x)
    return list(seen.values())


def _discharge_cond(eqn, ins):
    """A cond whose branches use refs: each branch returns the refs' new values too."""
    index, ops = ins[0], ins[1:]
    cells = _distinct_cells(ops)
    cell_of = [x if type(x) is _Cell else None for x in ops]
    plain = [x for x in ops if type(x) is not _Cell]
    branches, extra = [], []
    first = None
    for b in eqn.params["branches"]:
        nb, consts, natural = _refs_as_values(b, cell_of, cells, True, True, first)
        first = natural if first is None else first
        branches.append(nb)
        extra.append(consts)
    if any(extra):  # (constants of the branches: each branch takes all, uses its own)
        raise NotImplementedError("array refs in cond branches that close over arrays")
    vals = [c.val for c in cells]
    outs = eqn.primitive.bind(index, *plain, *vals, **dict(eqn.params, branches=tuple(branches)))
    for c, v in zip(cells, outs[: len(cells)]):
        c.val = v
    return outs[len(cells) :]


def _discharge_while(eqn, ins):
    """A while loop whose condition or body uses refs: their values become carries."""
    p = eqn.params
    nc, nb = p["cond_nconsts"], p["body_nconsts"]
    cconsts, bconsts, carry = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    if any(type(x) is _Cell for x in carry):
        raise NotImplementedError("array refs as while_loop carries")
    cells = _distinct_cells([*cconsts, *bconsts])
    n = len(cells)
    ccell = [x if type(x) is _Cell else None for x in cconsts] + [None] * len(carry)
    bcell = [x if type(x) is _Cell else None for x in bconsts] + [None] * len(carry)
    cond, cc, _ = _refs_as_values(p["cond_jaxpr"], ccell, cells, False)
    body, bc, _ = _refs_as_values(p["body_jaxpr"], bcell, cells, True)
    # the condition reads the refs' values from the carry: put them after its consts
    cplain = [x for x in cconsts if type(x) is not _Cell]
    bplain = [x for x in bconsts if type(x) is not _Cell]
    cond = _move_inputs(cond, len(cc) + len(cplain) + len(carry), n, len(cc) + len(cplain))
    body = _move_inputs(body, len(bc) + len(bplain) + len(carry), n, len(bc) + len(bplain))
    vals = [_strong(c.val) for c in cells]
    outs = eqn.primitive.bind(
        *cc,
        *cplain,
        *bc,
        *bplain,
        *vals,
        *carry,
        **dict(
            p,
            cond_jaxpr=cond,
            body_jaxpr=body,
            cond_nconsts=len(cc) + len(cplain),
            body_nconsts=len(bc) + len(bplain),
        ),
    )
    for c, v in zip(cells, outs[:n]):
        c.val = v
    return outs[n:]


def _move_inputs(closed: ClosedJaxpr, start: int, count: int, to: int) -> ClosedJaxpr:
    """``closed`` with its inputs ``start:start+count`` moved to position ``to``."""
    j = closed.jaxpr
    v = list(j.invars)
    moved, rest = v[start : start + count], v[:start] + v[start + count :]
    invars = rest[:to] + moved + rest[to:]
    return ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns, j.debug_name), closed.consts)


_LOOPS: dict[str, Callable[..., list]] = {
    "scan": _discharge_scan,
    "cond": _discharge_cond,
    "while": _discharge_while,
}


# ---------------------------------------------------------------------------- running


_runnable: weakref.WeakKeyDictionary[ClosedJaxpr, tuple] = weakref.WeakKeyDictionary()


def _runnable_form(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any], ClosedJaxpr, list[Any]]:
    """(closed with its constants as leading inputs, those constants, its discharged
    form with constants as inputs, the discharged form's constants), cached."""
    hit = _runnable.get(closed)
    if hit is None:
        conv, consts = convert_constvars_to_invars(closed)
        new, new_consts = convert_constvars_to_invars(discharge(conv))
        hit = _runnable[closed] = (conv, consts, new, new_consts)
    return hit


def jit_impl(args: Sequence[Any], closed: ClosedJaxpr, name: str, donated, bind) -> list[Any]:
    """Run a jitted program that uses refs: discharge it, run it with the refs' buffers
    (donated) and put each ref's final value back into its ``Ref``."""
    closed, consts, new, new_consts = _runnable_form(closed)
    if closed_has_refs(new):
        raise NotImplementedError(f"array refs in '{name}' could not be discharged")
    args = list(consts) + list(args)
    donated = (False,) * len(consts) + tuple(donated)
    is_ref = [type(a) is AbstractRef for a in closed.in_avals]
    for x, r in zip(args, is_ref):
        if r and type(x) is not Ref:
            raise TypeError(f"expected a Ref argument, got {type(x)}")
    consts = new_consts
    vals = consts + [x._array if r else x for x, r in zip(args, is_ref)]
    don = (False,) * len(consts) + tuple(d or r for d, r in zip(donated, is_ref))
    outs = bind(vals, new, name, don)
    n = len(closed.out_avals)
    refs = [x for x, r in zip(args, is_ref) if r]
    for ref, v in zip(refs, outs[n:]):
        ref._array = v
    return outs[:n]


def eager_apply(prim: core.Primitive, args: Sequence[Any], params: dict) -> Any:
    """An eager primitive given ``Ref`` operands (a loop closing over a ref): run as a
    one-equation jitted program, as JAX dispatches it."""
    from ..jit import bind_jit

    avals = [core.get_aval(x) for x in args]
    check_no_aliased_ref_args(prim.name, args, avals, lambda i: f"args[{i}]")

    def one(*xs):
        out = prim.bind(*xs, **params)
        return list(out) if prim.multiple_results else [out]

    closed = trace_to_jaxpr(one, avals, debug_name=prim.name)
    outs = jit_impl(args, closed, prim.name, (False,) * len(args), bind_jit)
    return outs if prim.multiple_results else outs[0]


def transpose_hook(backward_pass, jaxpr, consts, linear_args, cts, initial_cts):
    """Transpose a linear jaxpr that uses refs (a linearized program's tangent refs):
    transpose its discharged form, whose operations are all pure."""
    from . import transpose

    if transpose.handles(jaxpr):  # as JAX's: ref operations transpose to ref operations
        return transpose.backward_pass(jaxpr, consts, linear_args, cts, initial_cts)
    if any(type(v.aval) is AbstractRef for v in jaxpr.invars):
        raise NotImplementedError("transposing a linear program that takes array refs")
    new = discharge(ClosedJaxpr(jaxpr, consts))
    return backward_pass(new.jaxpr, new.consts, linear_args, cts, initial_cts)


# ---------------------------------------------------------------------------- checks


def check_no_aliased_ref_args(fun: Any, flat: Sequence[Any], avals, arg_name) -> None:
    seen: dict[int, int] = {}
    where = fun if isinstance(fun, str) else core.fun_location(fun)
    for i, (x, a) in enumerate(zip(flat, avals)):
        if type(a) is not AbstractRef:
            continue
        j = seen.setdefault(id(x), i)
        if j != i:
            raise ValueError(
                "only one reference to a mutable array may be passed as an argument to a "
                f"function, but when tracing {where} for jit the mutable "
                f"array reference of type {a.str_long()} appeared at both {arg_name(j)} "
                f"and {arg_name(i)}."
            )


def check_no_closed_over_ref_args(fun: Any, consts: Sequence[Any], flat, arg_name) -> None:
    closed = {id(c) for c in consts if type(core.get_aval(c)) is AbstractRef}
    if not closed:
        return
    for i, x in enumerate(flat):
        if id(x) in closed:
            raise ValueError(
                f"when tracing {core.fun_location(fun)} for jit, a mutable array reference "
                f"of type {core.get_aval(x).str_long()} was both closed over and passed as "
                f"the argument {arg_name(i)}"
            )


def check_no_returned_refs(fun: Any, jaxpr: Jaxpr, arg_name, n_out_leaves: int) -> None:
    for i, v in enumerate(jaxpr.outvars):
        if type(v.aval) is not AbstractRef:
            continue
        loc = f" at output tree path result[{i}]" if n_out_leaves > 1 else ""
        origin = ""
        eqn = next((e for e in jaxpr.eqns if v in e.outvars), None)
        if eqn is not None and eqn.primitive is new_ref_p:
            origin = (
                f"\n\nThe returned mutable array was created on line {eqn.source_info.summary()}."
                if eqn.source_info is not None
                else ""
            )
        elif v in jaxpr.invars:
            origin = (
                "\n\nThe returned mutable array was passed in as the argument "
                f"{arg_name(jaxpr.invars.index(v))}."
            )
        raise ValueError(
            f"function {core.fun_location(fun)} traced for jit returned a mutable array "
            f"reference of type {v.aval.str_long()}{loc}, but mutable array references "
            f"cannot be returned.{origin}"
        )


# ---------------------------------------------------------------------------- jit calls


def any_ref_avals(avals: Sequence[Any]) -> bool:
    return any(type(a) is AbstractRef for a in avals)


def call_with_refs(jf: Any, args, kwargs, static, flat, in_tree, avals) -> Any:
    """A call of JitFunction ``jf`` that passes, closes over or makes refs: JAX's checks,
    then (eagerly) the discharged program runs and updates the refs; inside a jaxpr
    being built the call is a ``jit`` equation on the refs; under another transformation
    the body runs in place (its refs transformed equation by equation)."""
    from ..config import config as _config
    from ..interpreters import batching
    from ..jit import bind_jit
    from ..jit_arguments import _leaf_name

    opts = jf._opts

    def arg_name(i):
        return _leaf_name(i, jf._signature, opts, args, kwargs)

    if any_ref_avals(avals):
        check_no_aliased_ref_args(jf.fun, flat, avals, arg_name)
    ctx = _config.trace_context_id
    trace = core._ctx.trace
    if trace is not core.eval_trace:
        named = batching.axis_env_key()
        ctx = (ctx, named) if named else ctx
    rec = jf._cache.jaxpr(jf.fun, opts, static, in_tree, avals, ctx)
    check_no_closed_over_ref_args(jf.fun, rec.closed.consts, flat, arg_name)
    check_no_returned_refs(jf.fun, rec.closed.jaxpr, arg_name, len(rec.closed.jaxpr.outvars))
    if trace is not core.eval_trace and trace.interpreter not in ("jaxpr", "batching"):
        return jf.fun(*args, **kwargs)  # (differentiated: the body's refs, in place)
    closed, lead, trail = _staged(rec.closed)
    outs = bind_jit(lead + list(flat) + trail, closed, jf.__name__)
    return _tree_unflatten(rec.out_tree, outs)


_staged_memo: weakref.WeakKeyDictionary[ClosedJaxpr, tuple] = weakref.WeakKeyDictionary()


def _staged(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any], list[Any]]:
    """The jaxpr a call binds, as JAX's pjit stages it: closed-over refs become trailing
    inputs, closed-over tracers leading ones; constant arrays stay its constants."""
    hit = _staged_memo.get(closed)
    if hit is not None:
        return hit
    j = closed.jaxpr
    kinds = [
        "ref"
        if type(core.get_aval(c)) is AbstractRef
        else "arg"
        if isinstance(c, core.Tracer)
        else "const"
        for c in closed.consts
    ]

    def pick(kind):
        return [v for v, k in zip(j.constvars, kinds) if k == kind], [
            c for c, k in zip(closed.consts, kinds) if k == kind
        ]

    (cvars, cvals), (avars, avals), (rvars, rvals) = pick("const"), pick("arg"), pick("ref")
    new = Jaxpr(cvars, avars + j.invars + rvars, j.outvars, j.eqns, j.debug_name)
    hit = _staged_memo[closed] = (ClosedJaxpr(new, cvals), avals, rvals)
    return hit


def _tree_unflatten(tree, leaves):
    from .. import tree_util

    return tree_util.tree_unflatten(tree, leaves)
