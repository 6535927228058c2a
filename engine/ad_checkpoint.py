"""Rematerialization: ``checkpoint`` / ``remat``, its policies, ``checkpoint_name`` and
``print_saved_residuals``, with the ``remat2`` primitive and all its rules beside it.

``checkpoint(f)`` traces ``f`` to a jaxpr and binds ``remat2`` on it. Evaluated, jitted
or batched, the equation is just its jaxpr. Differentiated, its partial-evaluation rule
is the point: of the known (primal) work, only what the policy calls saveable is kept
as a residual; every other known value the tangent work needs is recomputed inside a
new ``remat2[differentiated=True]`` equation of the linear jaxpr, so the backward pass
runs the forward computation again instead of holding its intermediates in memory."""

from __future__ import annotations

import functools
import inspect
import threading
import types
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import core, events, tree_util
from .checkpoint_policies import (  # noqa: F401 - policies are part of this module's API
    DotsSaveable,
    Offloadable,
    Recompute,
    Saveable,
    checkpoint_dots,
    checkpoint_dots_with_no_batch_dims,
    checkpoint_name,
    checkpoint_policies,
    dots_saveable,
    dots_with_no_batch_dims_saveable,
    everything_saveable,
    name_p,
    nothing_saveable,
    offload_dot_with_no_batch_dims,
    offload_residuals,
    policy_saves,
    save_and_offload_only_these_names,
    save_any_names_but_these,
    save_anything_except_these_names,
    save_from_both_policies,
    save_only_these_names,
)
from .config import config
from .core import ClosedJaxpr, Jaxpr, Primitive, Var
from .events import active as _listening
from .interpreters import jaxpr_transforms as jt
from .interpreters import jvp as jvp_mod
from .interpreters import lowering, transpose
from .interpreters import partial_eval as pe
from .interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr

__all__ = [
    "checkpoint",
    "remat",
    "checkpoint_name",
    "checkpoint_policies",
    "print_saved_residuals",
    "saved_residuals",
    "remat_p",
    "name_p",
    "Saveable",
    "Recompute",
    "Offloadable",
]

# ---------------------------------------------------------------------------- the primitive

remat_p = Primitive("remat2", multiple_results=True)
remat_p.subjaxprs_rule = lambda p: (p["jaxpr"],)


def _pp_remat_params(params):
    # JAX prints a function policy as Python's repr with the address masked
    out = {k: params[k] for k in sorted(params)}
    pol = out.get("policy")
    if isinstance(pol, types.FunctionType):
        out["policy"] = f"<function {pol.__qualname__} at 0xXXXXXXXXXXXX>"
    return out


remat_p.pp_params = _pp_remat_params

_closed_of: weakref.WeakKeyDictionary[Jaxpr, ClosedJaxpr] = weakref.WeakKeyDictionary()


def _closed(jaxpr: Jaxpr) -> ClosedJaxpr:
    """The param's open jaxpr as a ClosedJaxpr (one per jaxpr, so transforms memoize)."""
    c = _closed_of.get(jaxpr)
    if c is None:
        c = _closed_of[jaxpr] = ClosedJaxpr(jaxpr, [])
    return c


def _cse_flags(prevent_cse, n: int):
    """``prevent_cse`` for an equation of ``n`` operands: a per-operand tuple that no
    longer lines up (a transformation changed the operands) becomes one flag."""
    if isinstance(prevent_cse, tuple) and len(prevent_cse) != n:
        return any(prevent_cse)
    return prevent_cse


def _bind(args, closed: ClosedJaxpr, prevent_cse, differentiated, policy):
    closed, consts = convert_constvars_to_invars(closed)
    return remat_p.bind(
        *consts,
        *args,
        jaxpr=closed.jaxpr,
        prevent_cse=_cse_flags(prevent_cse, len(consts) + len(args)),
        differentiated=differentiated,
        policy=policy,
    )


@remat_p.def_abstract_eval
def _remat_abstract_eval(*avals, jaxpr, **_):
    return [v.aval for v in jaxpr.outvars]


@remat_p.def_impl
def _remat_impl(*args, jaxpr, **_):
    return core.eval_jaxpr(jaxpr, (), *args)


def _remat_jvp(primals, tangents, *, jaxpr, prevent_cse, differentiated, policy):
    nonzeros = tuple(type(t) is not jvp_mod.Zero for t in tangents)
    n_out = len(jaxpr.outvars)
    new, out_nz = jt.jvp_jaxpr(_closed(jaxpr), nonzeros, (False,) * n_out)
    tans = [t for t in tangents if type(t) is not jvp_mod.Zero]
    outs = _bind(list(primals) + tans, new, prevent_cse, differentiated, policy)
    touts = iter(outs[n_out:])
    return outs[:n_out], [
        next(touts) if nz else jvp_mod.Zero(jvp_mod.tangent_aval(v.aval))
        for nz, v in zip(out_nz, jaxpr.outvars)
    ]


remat_p.def_jvp(_remat_jvp)


def _lit(v) -> bool:
    return type(v) is core.Literal


def _policy_name(policy) -> str:
    if policy is None:
        return "None"
    return getattr(policy, "__name__", None) or repr(policy)


def _effectful(eqn) -> bool:
    return bool(getattr(eqn.primitive, "effectful", False))


def _dce(eqns, live: set) -> list:
    """The equations (in order) that the ``live`` variables need."""
    kept = []
    for e in reversed(eqns):
        if _effectful(e) or any(v in live for v in e.outvars):
            kept.append(e)
            live.update(v for v in e.invars if not _lit(v))
    return list(reversed(kept))


def _reduce_precision_residuals(eqns: list, residuals: Sequence[Var]) -> list:
    """As JAX: a saved float value the known side also reads goes through
    ``reduce_precision`` to its own type, so forward and backward see the same bits
    (XLA may otherwise keep it in excess precision on one side only)."""
    from . import dtypes
    from .lax.convert import reduce_precision_p

    used = {v for e in eqns for v in e.invars if not _lit(v)}
    eqns = list(eqns)
    for v in residuals:
        dt = v.aval.dtype
        if not dtypes.issubdtype(dt, np.floating) or v not in used:
            continue
        idx = next((i for i, e in enumerate(eqns) if v in e.outvars), None)
        if idx is None:
            continue
        fi = dtypes.finfo(dt)
        params = dict(exponent_bits=int(fi.nexp), mantissa_bits=int(fi.nmant))
        e = eqns[idx]
        if e.primitive is reduce_precision_p and e.params == params:
            continue
        fresh = Var(v.aval)
        eqns[idx] = e.replace(outvars=[fresh if o is v else o for o in e.outvars])
        eqns.insert(idx + 1, core.JaxprEqn(reduce_precision_p, [fresh], [v], params, e.source_info))
    return eqns


def split_by_policy(jaxpr: Jaxpr, in_unknowns: Sequence[bool], policy) -> dict[str, Any]:
    """Split ``jaxpr`` for partial evaluation under ``policy`` (as JAX does).

    Returns a dict: ``known`` (the known equations the known outputs and residuals
    need, in order), ``known_in``, ``known_outvars``, ``out_unknowns``, ``residuals``
    (results of known equations the policy saves and the unknown side reads),
    ``staged_args`` (indices of the operands, known or not, the unknown side reads
    directly), ``recomputed`` (known equations copied into the unknown side) and
    ``staged`` (the unknown side: residuals + those operands -> unknown outputs)."""
    policy = policy or nothing_saveable
    unknown: set[Var] = {v for v, u in zip(jaxpr.invars, in_unknowns) if u}
    eqn_unknown = []
    for eqn in jaxpr.eqns:
        u = any(not _lit(v) and v in unknown for v in eqn.invars)
        eqn_unknown.append(u)
        if u:
            unknown.update(eqn.outvars)
    out_unknowns = [not _lit(v) and v in unknown for v in jaxpr.outvars]
    needed = {v for v, u in zip(jaxpr.outvars, out_unknowns) if u}
    staged_rev, recomputed_rev = [], []
    residual_set: set[Var] = set()
    for eqn, u in zip(reversed(jaxpr.eqns), reversed(eqn_unknown)):
        # a side effect (a debug print) happens in the forward pass and again in the
        # recomputation, as in JAX
        if not _effectful(eqn) and not any(v in needed for v in eqn.outvars):
            continue
        if not u:
            avals = [v.aval for v in eqn.invars]
            if not _effectful(eqn) and policy_saves(policy, eqn.primitive, avals, eqn.params):
                residual_set.update(v for v in eqn.outvars if v in needed)
                continue
            recomputed_rev.append(eqn)
        staged_rev.append(eqn)
        needed.update(v for v in eqn.invars if not _lit(v))
    residuals = [v for e in jaxpr.eqns for v in e.outvars if v in residual_set]
    residuals = list(dict.fromkeys(residuals))
    staged_args = [i for i, v in enumerate(jaxpr.invars) if v in needed]
    staged = Jaxpr(
        [],
        residuals + [jaxpr.invars[i] for i in staged_args],
        [v for v, u in zip(jaxpr.outvars, out_unknowns) if u],
        list(reversed(staged_rev)),
        jaxpr.debug_name,
    )
    known_outvars = [v for v, u in zip(jaxpr.outvars, out_unknowns) if not u]
    live = {v for v in known_outvars if not _lit(v)} | set(residuals)
    known = _dce([e for e, u in zip(jaxpr.eqns, eqn_unknown) if not u], live)
    split = dict(
        known=known,
        known_in=[v for v, u in zip(jaxpr.invars, in_unknowns) if not u],
        known_consts=([], []),
        known_outvars=known_outvars,
        out_unknowns=out_unknowns,
        residuals=residuals,
        staged_args=staged_args,
        recomputed=list(reversed(recomputed_rev)),
        staged=staged,
        source=jaxpr,
    )
    split = offload_residuals(split, policy)
    split["known"] = _reduce_precision_residuals(split["known"], split["residuals"])
    return split


def _describe(v: Var, jaxpr: Jaxpr) -> str:
    if v in jaxpr.invars:
        return f"from input {jaxpr.invars.index(v)}"
    for e in jaxpr.eqns:
        if v in e.outvars:
            return _eqn_source(e)
    return "from a constant"


def _eqn_source(e) -> str:
    src = e.source_info.summary() if e.source_info is not None else "<unknown>"
    if e.primitive is name_p:
        return f"named '{e.params['name']}' from {src}"
    if e.primitive.name == "jit":
        return f"output of jitted function '{e.params['name']}' from {src}"
    return f"output of {e.primitive.name} from {src}"


def _inline_remat(eqn, alias: dict) -> list:
    """A known checkpoint equation copied into a recomputation runs its jaxpr inline
    there (as JAX's); any other equation is copied as it is. Outputs that are just an
    input or a literal go into ``alias`` (result var -> what it equals)."""

    def a(v):
        return v if _lit(v) else alias.get(v, v)

    if eqn.primitive is not remat_p or eqn.params["differentiated"]:
        return [eqn.replace(invars=[a(v) for v in eqn.invars])]
    inner = eqn.params["jaxpr"]
    produced = {v for e in inner.eqns for v in e.outvars}
    env: dict[Any, Any] = dict(zip(inner.invars, [a(v) for v in eqn.invars]))
    for o, v in zip(eqn.outvars, inner.outvars):
        if not _lit(v) and v in produced and v not in env:
            env[v] = o
    out = []
    for e in inner.eqns:
        ins = [v if _lit(v) else env[v] for v in e.invars]
        outs = []
        for v in e.outvars:
            if v not in env:
                env[v] = Var(v.aval)
            outs.append(env[v])
        out.append(e.replace(invars=ins, outvars=outs))
    for o, v in zip(eqn.outvars, inner.outvars):
        src = v if _lit(v) else env[v]
        if src is not o:
            alias[o] = src
    return out


_nested = threading.local()  # .depth: how many split_nested calls are under way here


def _has_own_partial_eval(jaxpr: Jaxpr) -> bool:
    """Whether an equation needs its primitive's own partial-eval rule (a nested
    checkpoint, jit, scan, ...: one equation whose outputs may split known/unknown)."""
    return any(
        e.primitive.partial_eval is not None or e.primitive.subjaxprs_rule is not None
        for e in jaxpr.eqns
    )


def split_nested(jaxpr: Jaxpr, in_unknowns: Sequence[bool], policy) -> dict[str, Any]:
    """``split_by_policy`` for jaxprs with higher-order equations: partially evaluate
    with the engine's interpreter (each nested primitive by its own rule), then move
    every residual the policy does not save back to the unknown side, recomputed from
    the saved ones. Returns the same dict."""
    from .interpreters import partial_eval as pe

    policy = policy or nothing_saveable
    _nested.depth = getattr(_nested, "depth", 0) + 1
    try:
        kj, uj, out_unknowns, nres = pe.partial_eval_jaxpr(_closed(jaxpr), list(in_unknowns))
    finally:
        _nested.depth -= 1
    kx, ux = kj.jaxpr, uj.jaxpr
    n_known = len(kx.outvars) - nres
    res_atoms = kx.outvars[n_known:]
    producer = {v: e for e in kx.eqns for v in e.outvars}
    frontier: set[Any] = set()
    recompute: set[int] = set()
    stack = [v for v in reversed(res_atoms) if not _lit(v)]
    seen: set[Any] = set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        e = producer.get(v)
        if e is None or policy_saves(policy, e.primitive, [x.aval for x in e.invars], e.params):
            frontier.add(v)
            continue
        recompute.add(id(e))
        stack.extend(x for x in reversed(e.invars) if not _lit(x))
    order = list(kx.constvars) + [v for e in kx.eqns for v in e.outvars]
    residuals = [v for v in dict.fromkeys(order) if v in frontier]
    recomputed = [e for e in kx.eqns if id(e) in recompute]
    sub = dict(zip(ux.invars[:nres], res_atoms))

    def s(v):
        return v if _lit(v) else sub.get(v, v)

    alias: dict[Any, Any] = {}
    staged_eqns = [x for e in recomputed for x in _inline_remat(e, alias)]

    def s2(v):
        v = s(v)
        return v if _lit(v) else alias.get(v, v)

    staged_eqns += [e.replace(invars=[s2(v) for v in e.invars]) for e in ux.eqns]
    staged_out = [s2(v) for v in ux.outvars]
    used = {v for e in staged_eqns for v in e.invars if not _lit(v)}
    used.update(v for v in staged_out if not _lit(v))
    k_vars, u_vars = iter(kx.invars), iter(ux.invars[nres:])
    arg_vars = [next(u_vars) if u else next(k_vars) for u in in_unknowns]
    staged_args = [i for i, v in enumerate(arg_vars) if v in used]
    staged = Jaxpr(
        [],
        residuals + [arg_vars[i] for i in staged_args],
        staged_out,
        staged_eqns,
        jaxpr.debug_name,
    )
    known_outvars = list(kx.outvars[:n_known])
    live = {v for v in known_outvars if not _lit(v)} | set(residuals)
    known = _dce(list(kx.eqns), live)
    split = dict(
        known=known,
        known_in=list(kx.invars),
        known_consts=(list(kx.constvars), list(kj.consts)),
        known_outvars=known_outvars,
        out_unknowns=list(out_unknowns),
        residuals=residuals,
        staged_args=staged_args,
        recomputed=recomputed,
        staged=staged,
        source=kx,
    )
    split = offload_residuals(split, policy)
    split["known"] = _reduce_precision_residuals(split["known"], split["residuals"])
    return split


def _remat_partial_eval(trace, args, unknowns, params):
    jaxpr, policy = params["jaxpr"], params["policy"]
    if _has_own_partial_eval(jaxpr):
        split = split_nested(jaxpr, unknowns, policy)
    else:
        split = split_by_policy(jaxpr, unknowns, policy)
    constvars, consts = split["known_consts"]
    known_j = Jaxpr(
        constvars,
        split["known_in"],
        split["known_outvars"] + split["residuals"],
        split["known"],
        jaxpr.debug_name,
    )
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with core.set_current_trace(trace.parent):
        if getattr(_nested, "depth", 0) and known_j.eqns:
            # inside another checkpoint's split the known side stays a checkpoint of
            # its own (as JAX's jaxpr-level rule keeps it), for the outer policy to see
            known_j, kc = convert_constvars_to_invars(ClosedJaxpr(known_j, consts))
            known_outs = _bind(list(kc) + known_args, known_j, params["prevent_cse"], False, policy)
        else:
            # at the top the known work runs now, inline (as JAX's rule does)
            known_outs = core.eval_jaxpr(known_j, consts, *known_args)
    nres = len(split["residuals"])
    n_known = len(known_outs) - nres
    known_vals, residuals = known_outs[:n_known], known_outs[n_known:]
    if _listening:
        src = split["source"]
        saved = [(_describe(v, src), v.aval) for v in split["residuals"]]
        saved += [
            (f"from the argument at index {i}", core.get_aval(args[i]))
            for i in split["staged_args"]
            if not unknowns[i]
        ]
        events.emit(
            events.RematDecision,
            trace=events.trace_id(trace),
            policy=_policy_name(policy),
            saved=tuple(saved),
            recomputed=tuple(split["recomputed"]),
            known_eqns=tuple(split["known"]),
        )
    unknown_outs: list[Any] = []
    if any(split["out_unknowns"]):
        ins = [trace.instantiate_const(r) for r in residuals]
        ins += [trace.instantiate_const(args[i]) for i in split["staged_args"]]
        pcse = params["prevent_cse"]
        if isinstance(pcse, tuple):
            pcse = (True,) * nres + tuple(pcse[i] for i in split["staged_args"])
        new_params = dict(params, jaxpr=split["staged"], differentiated=True, prevent_cse=pcse)
        unknown_outs = trace.record(remat_p, ins, new_params)
    it_k, it_u = iter(known_vals), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in split["out_unknowns"]]


remat_p.partial_eval = _remat_partial_eval


def _remat_transpose(cts, *args, jaxpr, prevent_cse, differentiated, policy):
    linear = tuple(transpose.is_undefined_primal(x) for x in args)
    tj = jt.transpose_jaxpr(_closed(jaxpr), linear)
    nonlin = [x for x in args if not transpose.is_undefined_primal(x)]
    cts = [jvp_mod.instantiate(c) for c in cts]
    outs = iter(_bind(nonlin + cts, tj, prevent_cse, True, policy))
    return [next(outs) if lin else None for lin in linear]


remat_p.def_transpose(_remat_transpose)


def _remat_batch(size, vals, dims, *, jaxpr, prevent_cse, differentiated, policy):
    new, out_b = jt.batch_jaxpr(_closed(jaxpr), size, tuple(dims), (False,) * len(jaxpr.outvars))
    outs = _bind(list(vals), new, prevent_cse, differentiated, policy)
    return outs, [0 if b else None for b in out_b]


remat_p.def_batch(_remat_batch)


def _remat_dce(used_outputs, eqn):
    """JAX's remat_dce: the checkpointed jaxpr keeps the outputs something reads and
    the equations and inputs they need (so jit can drop an argument only it read)."""
    if not any(used_outputs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    body, used_in = pe.dce_jaxpr(eqn.params["jaxpr"], used_outputs)
    pcse = eqn.params["prevent_cse"]
    if isinstance(pcse, tuple):
        pcse = tuple(p for p, u in zip(pcse, used_in) if u)
    new = eqn.replace(
        invars=[v for v, u in zip(eqn.invars, used_in) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
        params=dict(eqn.params, jaxpr=body, prevent_cse=pcse),
    )
    return used_in, new


pe.dce_rules[remat_p] = _remat_dce


@remat_p.def_lowering
def _remat_lowering(ctx, *args, jaxpr, prevent_cse, differentiated, policy):
    # As JAX: the recomputation of a differentiated checkpoint reads its inputs through
    # an optimization barrier, so XLA cannot merge it with the forward pass's copy (CSE)
    # and so undo the rematerialization.
    args = list(args)
    if differentiated and prevent_cse:
        from jaxlib.mlir.dialects import stablehlo as hlo

        if isinstance(prevent_cse, bool):
            flags = [True] * len(args)
        else:
            flags = list(prevent_cse)
        idx = [i for i, f in enumerate(flags) if f]
        if idx:
            res = hlo.OptimizationBarrierOp([args[i] for i in idx]).results
            for i, r in zip(idx, res):
                args[i] = r
    return lowering.lower_jaxpr_inline(ctx, _closed(jaxpr), args)


# ---------------------------------------------------------------------------- the API


def checkpoint(
    fun: Callable | None = None,
    *,
    prevent_cse: bool = True,
    policy: Callable[..., bool] | None = None,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Iterable[str] = (),
    concrete: Any = None,
) -> Callable:
    """Make ``fun`` recompute its intermediates in the backward pass instead of saving
    them (those the ``policy`` calls saveable are still saved). As ``jax.checkpoint``."""
    if fun is None:
        return functools.partial(
            checkpoint,
            prevent_cse=prevent_cse,
            policy=policy,
            static_argnums=static_argnums,
            static_argnames=static_argnames,
        )
    if concrete not in (None, False):
        raise NotImplementedError(
            "The 'concrete' option to jax.checkpoint / jax.remat is deprecated; "
            "use static_argnums instead"
        )
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    static_argnums = tuple(static_argnums)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    static_argnames = tuple(static_argnames)
    if not isinstance(prevent_cse, bool):
        prevent_cse = tuple(bool(p) for p in prevent_cse)
    name = getattr(fun, "__name__", "checkpoint")

    @functools.wraps(fun)
    def fun_remat(*args, **kwargs):
        n = len(args)
        statics = {i % n if n else i for i in static_argnums}
        for i in statics:
            if i >= n:
                raise ValueError(
                    f"static_argnums {static_argnums} out of range for {n} positional arguments"
                )
        dyn_args = [a for i, a in enumerate(args) if i not in statics]
        static_kw = {k: v for k, v in kwargs.items() if k in static_argnames}
        dyn_kw = {k: v for k, v in kwargs.items() if k not in static_argnames}
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kw))
        out_tree: list[Any] = []

        def flat_fun(*flat):
            d_args, d_kw = tree_util.tree_unflatten(in_tree, list(flat))
            it = iter(d_args)
            full = [args[i] if i in statics else next(it) for i in range(n)]
            out = fun(*full, **d_kw, **static_kw)
            out_leaves, tree = tree_util.tree_flatten(out)
            out_tree.append(tree)
            return out_leaves

        avals = [core.get_aval(x) for x in leaves]

        def trace():
            return trace_to_jaxpr(flat_fun, avals, name), out_tree[0]

        static_vals = [(i, args[i]) for i in sorted(statics)] + sorted(static_kw.items())
        key = (n, in_tree, tuple(avals), _Hashably.of(static_vals), config.trace_context_id)
        closed, tree = _traced(fun, key, trace)
        outs = _bind(leaves, closed, prevent_cse, False, policy)
        return tree_util.tree_unflatten(tree, outs)

    return fun_remat


class _Hashably:
    """A static argument in a cache key: by value where it hashes, else by identity."""

    __slots__ = ("val", "hash", "by_value")

    def __init__(self, val: Any) -> None:
        self.val = val
        try:
            self.hash, self.by_value = hash(val), True
        except TypeError:
            self.hash, self.by_value = id(val), False

    @classmethod
    def of(cls, items: list) -> tuple:
        return tuple((k, cls(v)) for k, v in items)

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, _Hashably):
            return False
        if self.by_value and other.by_value:
            return bool(self.val == other.val)
        return self.val is other.val


# Traced jaxprs per function (weakly keyed), as JAX's remat caches its trace: a later
# call with the same argument structure, avals, static values and config reuses the
# first trace, so a global the function reads that was redefined since is not seen.
_trace_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_trace_cache_lock = threading.Lock()
_TRACES_PER_FUNCTION = 64


def _traced(fun: Callable, key: tuple, trace: Callable[[], tuple]) -> tuple:
    if any(isinstance(k.val, core.Tracer) for _, k in key[3]):
        return trace()
    try:
        with _trace_cache_lock:
            per_fun = _trace_cache.setdefault(fun, {})
            hit = per_fun.get(key)
    except TypeError:  # fun not weakly referable, or a key part not hashable
        return trace()
    if hit is None:
        hit = trace()
        # a jaxpr closed over another trace's values belongs to that trace only
        if not any(isinstance(c, core.Tracer) for c in hit[0].consts):
            with _trace_cache_lock:
                if len(per_fun) >= _TRACES_PER_FUNCTION:
                    per_fun.pop(next(iter(per_fun)))
                per_fun[key] = hit
    return hit


remat = checkpoint


# ---------------------------------------------------------------------------- saved residuals


def _arg_names(f, args, kwargs) -> list[str]:
    try:
        bound = inspect.signature(f).bind(*args, **kwargs)
        named = list(bound.arguments.items())
    except (TypeError, ValueError):
        named = [(f"args[{i}]", a) for i, a in enumerate(args)] + list(kwargs.items())
    names = []
    for pname, val in named:
        for path, _ in tree_util.tree_flatten_with_path(val)[0]:
            names.append(pname + tree_util.keystr(path))
    return names


def saved_residuals(f: Callable, *args, **kwargs) -> list[tuple[core.ShapedArray, str]]:
    """What reverse-mode differentiation of ``f`` at ``args`` keeps from the forward
    pass: ``(aval, where it comes from)`` per residual, as ``jax.ad_checkpoint`` words it."""
    from .api import make_jaxpr
    from .interpreters import partial_eval as pe

    leaves, in_tree = tree_util.tree_flatten((args, kwargs))

    def flat_f(*flat):
        a, kw = tree_util.tree_unflatten(in_tree, list(flat))
        return tree_util.tree_leaves(f(*a, **kw))

    def residuals_of(*flat):
        _, lin = pe.linearize_flat(flat_f, list(flat))
        return [c for c in lin.consts if isinstance(c, core.Tracer)]

    closed = make_jaxpr(residuals_of)(*leaves)
    jaxpr = closed.jaxpr
    names = _arg_names(f, args, kwargs)
    if len(names) != len(jaxpr.invars):
        names = [f"at flattened index {i}" for i in range(len(jaxpr.invars))]
    # a jitted call's output that is just one of its inputs is that input (JAX forwards
    # such values around the call instead of returning them from it)
    fwd: dict[Any, Any] = {}
    for e in jaxpr.eqns:
        if e.primitive.name == "reduce_precision":  # look through it, as JAX does
            src = e.invars[0]
            if type(src) is not core.Literal:
                fwd[e.outvars[0]] = fwd.get(src, src)
            continue
        sub = e.params.get("jaxpr") if e.primitive.name == "jit" else None
        if sub is None:
            continue
        inner = sub.jaxpr
        for o, io_ in zip(e.outvars, inner.outvars):
            if type(io_) is not core.Literal and io_ in inner.invars:
                src = e.invars[inner.invars.index(io_)]
                if type(src) is not core.Literal:
                    fwd[o] = fwd.get(src, src)
    res = {fwd.get(v, v) for v in jaxpr.outvars if type(v) is not core.Literal}
    out = []
    for v in jaxpr.constvars:
        if v in res:
            out.append((v.aval, "from a constant"))
    for i, v in enumerate(jaxpr.invars):
        if v in res:
            out.append((v.aval, f"from the argument {names[i]}"))
    for e in jaxpr.eqns:
        for v in e.outvars:
            if v in res:
                out.append((v.aval, _eqn_source(e)))
    return out


def print_saved_residuals(f: Callable, *args, **kwargs) -> None:
    """Print each residual ``f``'s gradient saves: its type and where it comes from."""
    for aval, src in saved_residuals(f, *args, **kwargs):
        print(f"{aval.str_short()} {src}")
