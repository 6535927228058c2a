"""shard_map's transformation rules (engine/shard_map.py): JVP, partial evaluation,
transposition and batching, each making a new shard_map from a transformed body.

As JAX's rules for shard_map with pmap-style collectives: output cotangents of values
replicated over a mesh axis are divided by its size, and input cotangents are summed
over the mesh axes an input is replicated on. Residuals of partial evaluation leave the
known shard_map stacked over every manual axis (one block per member)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from . import core, dtypes
from .core import ClosedJaxpr
from .interpreters import batching
from .interpreters import jaxpr_transforms as jt
from .interpreters import partial_eval as pe
from .interpreters.jvp import Zero, instantiate, tangent_aval
from .interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr
from .interpreters.transpose import UndefinedPrimal, backward_pass, is_undefined_primal
from .shard_map import _spec_names, shard_map_p
from .sharding import P
from .sharding.in_types import use_abstract_mesh

# ---------------------------------------------------------------------------- JVP


def _shard_map_jvp(primals, tangents, *, jaxpr, in_specs, out_specs, **params):
    nonzeros = tuple(type(t) is not Zero for t in tangents)
    with _in_body(params):
        new, out_nz = jt.jvp_jaxpr(jaxpr, nonzeros, (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    tans = [t for t in tangents if type(t) is not Zero]
    t_specs = [s for s, nz in zip(in_specs, nonzeros) if nz]
    out_t_specs = [s for s, nz in zip(out_specs, out_nz) if nz]
    outs = shard_map_p.bind(
        *consts,
        *primals,
        *tans,
        jaxpr=new,
        in_specs=(P(),) * len(consts) + tuple(in_specs) + tuple(t_specs),
        out_specs=tuple(out_specs) + tuple(out_t_specs),
        **params,
    )
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [
        next(touts) if nz else Zero(tangent_aval(core.get_aval(p)))
        for nz, p in zip(out_nz, outs[:n])
    ]


def _frames(params: dict) -> list[tuple[Any, int]]:
    sizes = dict(params["mesh"].shape)
    return [(a, sizes[a]) for a in params["manual_axes"]]


@contextlib.contextmanager
def _in_body(params: dict) -> Iterator[None]:
    """While a shard_map body is transformed: its named axes bound, and its values typed
    with the axes they vary over when it is check_vma."""
    from .lax import parallel as par
    from .shard_map import _printed_mesh

    manual = frozenset(params["manual_axes"]) | par.enclosing_manual_axes()
    mesh = params["mesh"]
    with (
        batching.extend_axis_env(_frames(params)),
        par.manual_axes_context(
            manual, params["check_vma"], mesh.axis_names, _printed_mesh(mesh, manual)
        ),
        use_abstract_mesh(_printed_mesh(mesh, manual)),
    ):
        yield


shard_map_p.def_jvp(_shard_map_jvp)


# ---------------------------------------------------------------------------- partial eval


def _shard_map_partial_eval(trace, args, unknowns, params):
    """Known blocks run now; as in JAX, the residuals come first out of the known
    shard_map, each concatenated along its first axis over the manual axes it varies
    over (scalars as one-element blocks), and enter the unknown one the same way. A
    residual that is a known input or a known result is passed on as that value."""
    jaxpr, in_specs, out_specs = params["jaxpr"], params["in_specs"], params["out_specs"]
    rest = {k: v for k, v in params.items() if k not in ("jaxpr", "in_specs", "out_specs")}
    with _in_body(params):
        known_j, unknown_j, out_unknowns, nres = pe.partial_eval_jaxpr(jaxpr, unknowns)
        known_j, kconsts = convert_constvars_to_invars(known_j)
        n_out = len(known_j.out_avals) - nres
        in_fwd, out_fwd = _forwarded_residuals(known_j.jaxpr, len(kconsts), n_out, nres)
        new = [i is None and o is None for i, o in zip(in_fwd, out_fwd)]
        res_avals = known_j.out_avals[n_out:]
        scalar = [not a.shape and n for a, n in zip(res_avals, new)]
        known_j = _residuals_first(known_j, new, scalar)
    known_in = tuple(s for s, u in zip(in_specs, unknowns) if not u)
    known_out = tuple(s for s, u in zip(out_specs, out_unknowns) if not u)
    new_specs = tuple(_residual_spec(a, params) for a, n in zip(res_avals, new) if n)
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with core.set_current_trace(trace.parent):
        known_outs = shard_map_p.bind(
            *kconsts,
            *known_args,
            jaxpr=known_j,
            in_specs=(P(),) * len(kconsts) + known_in,
            out_specs=new_specs + known_out,
            **rest,
        )
    n_new = len(new_specs)
    new_res, known_vals = iter(known_outs[:n_new]), known_outs[n_new:]
    new_spec_it = iter(new_specs)
    residuals, res_specs = [], []
    for i, o in zip(in_fwd, out_fwd):
        if i is not None:
            residuals.append(known_args[i])
            res_specs.append(known_in[i])
        elif o is not None:
            residuals.append(known_vals[o])
            res_specs.append(known_out[o])
        else:
            residuals.append(next(new_res))
            res_specs.append(next(new_spec_it))
    with _in_body(params):
        unknown_j = _scalar_residuals_unpromoted(unknown_j, scalar)
    ins = [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(args, unknowns) if u]
    unknown_specs = tuple(res_specs) + tuple(s for s, u in zip(in_specs, unknowns) if u)
    unknown_outs = trace.record(
        shard_map_p,
        ins,
        dict(
            jaxpr=unknown_j,
            in_specs=unknown_specs,
            out_specs=tuple(s for s, u in zip(out_specs, out_unknowns) if u),
            **rest,
        ),
    )
    it_k, it_u = iter(known_vals), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in out_unknowns]


def _forwarded_residuals(known, n_consts: int, n_out: int, nres: int) -> tuple[list, list]:
    """For each residual: the index of the known input it is (else None), and of the
    known result it is (else None), as JAX's in_fwd/out_fwd."""
    inputs = {id(v): i for i, v in enumerate(known.invars[n_consts:])}
    results: dict[int, int] = {}
    for k, v in enumerate(known.outvars[:n_out]):
        results.setdefault(id(v), k)
    in_fwd: list[int | None] = []
    out_fwd: list[int | None] = []
    for v in known.outvars[n_out:]:
        i = inputs.get(id(v)) if isinstance(v, core.Var) else None
        in_fwd.append(i)
        out_fwd.append(results.get(id(v)) if i is None and isinstance(v, core.Var) else None)
    return in_fwd, out_fwd


def _residual_spec(aval, params: dict) -> P:
    """JAX's ``nospec``: the manual axes (in mesh order) a residual varies over, or all of
    them without varying types."""
    mesh_order = params["mesh"].axis_names
    if params["check_vma"]:
        varying: frozenset = getattr(aval, "vma", frozenset())
        names = tuple(a for a in mesh_order if a in varying)
    else:
        names = tuple(a for a in mesh_order if a in params["manual_axes"])
    return P(names) if names else P()


def _residuals_first(known: ClosedJaxpr, new: list, scalar: list) -> ClosedJaxpr:
    """``known`` returning its new residuals (scalars as one-element blocks) first."""
    from . import lax

    nres = len(scalar)

    def fun(*xs):
        outs = core.eval_jaxpr(known.jaxpr, known.consts, *xs)
        n = len(outs) - nres
        res = [
            lax.expand_dims(r, (0,)) if s else r
            for r, s, keep in zip(outs[n:], scalar, new)
            if keep
        ]
        return res + outs[:n]

    return trace_to_jaxpr(fun, known.in_avals, known.jaxpr.debug_name)


def _scalar_residuals_unpromoted(unknown: ClosedJaxpr, scalar: list) -> ClosedJaxpr:
    from . import lax

    nres = len(scalar)
    if not any(scalar):
        return unknown
    avals = [a.update(shape=(1,)) if s else a for a, s in zip(unknown.in_avals, scalar)]
    avals += unknown.in_avals[nres:]

    def fun(*xs):
        res = [lax.squeeze(r, (0,)) if s else r for r, s in zip(xs, scalar)]
        return core.eval_jaxpr(unknown.jaxpr, unknown.consts, *res, *xs[nres:])

    return trace_to_jaxpr(fun, avals, unknown.jaxpr.debug_name)


shard_map_p.partial_eval = _shard_map_partial_eval


# ---------------------------------------------------------------------------- transpose


def _shard_map_transpose(cts, *args, jaxpr, in_specs, out_specs, **params):
    from .lax import parallel as par

    sizes = dict(params["mesh"].shape)
    manual = params["manual_axes"]
    linear = tuple(is_undefined_primal(x) for x in args)
    ct_specs = [_ct_spec(s) for s in out_specs]

    def unmentioned(spec):
        return tuple(a for a in manual if a not in _spec_names(spec))

    # pmap-style (check_vma=False): an output replicated over an axis gets each member's
    # share of its cotangent (divided before the transposed shard_map, as JAX's), and an
    # input replicated over one the sum of its members'. With varying types
    # (check_vma=True) the body's pvary/psum transposes do that.
    pmap_style = not params["check_vma"]
    if pmap_style:
        for i, (c, s) in enumerate(zip(cts, ct_specs)):
            n = math.prod(sizes[a] for a in unmentioned(s))
            if type(c) is not Zero and n != 1 and core.get_aval(c).dtype.kind in "fc":
                cts[i] = c / n
    cts = [instantiate(c) if type(c) is Zero else c for c in cts]
    in_avals = jaxpr.in_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    # a cotangent is reduced where its primal is unreduced, and the other way round
    ct_avals = [_ct_aval(a) for a in jaxpr.out_avals]
    with _in_body(params):
        n_nl = len(nonlin_avals)

        def body(*xs):
            nonlin, out_cts = xs[:n_nl], list(xs[n_nl:])
            it = iter(nonlin)
            primals = [UndefinedPrimal(a) if lin else next(it) for a, lin in zip(in_avals, linear)]
            outs = [
                instantiate(ct)
                for ct, lin in zip(
                    backward_pass(jaxpr.jaxpr, jaxpr.consts, primals, out_cts), linear
                )
                if lin
            ]
            lin_specs = [_ct_spec(s) for s, lin in zip(in_specs, linear) if lin]
            return [
                par.psum_p.bind(o, axes=unmentioned(s), axis_index_groups=None)
                if pmap_style and unmentioned(s) and core.get_aval(o).dtype != dtypes.float0
                else par.vary_to_spec(o, s)
                for o, s in zip(outs, lin_specs)
            ]

        def cts_first(*xs):  # JAX's transposed shard_map takes the cotangents first
            return body(*xs[len(cts) :], *xs[: len(cts)])

        avals = ct_avals + nonlin_avals
        new = trace_to_jaxpr(cts_first, avals, f"transpose({jaxpr.jaxpr.debug_name})")
    new, consts = convert_constvars_to_invars(new)
    nonlin_args = [x for x in args if not is_undefined_primal(x)]
    nonlin_specs = tuple(s for s, lin in zip(in_specs, linear) if not lin)
    outs = iter(
        shard_map_p.bind(
            *consts,
            *cts,
            *nonlin_args,
            jaxpr=new,
            in_specs=(P(),) * len(consts) + tuple(ct_specs) + nonlin_specs,
            out_specs=tuple(_ct_spec(s) for s, lin in zip(in_specs, linear) if lin),
            **params,
        )
    )
    return [next(outs) if lin else None for lin in linear]


def _ct_spec(spec: Any) -> Any:
    """The spec of a cotangent: unreduced and reduced axes swapped (JAX's to_ct_spec)."""
    if not spec.unreduced and not spec.reduced:
        return spec
    return P(*spec, unreduced=spec.reduced, reduced=spec.unreduced)


def _ct_aval(aval: Any) -> Any:
    from .lax.parallel_vma import ur_axes, with_ur

    unreduced, reduced = ur_axes(aval)
    if not unreduced and not reduced:
        return aval
    return with_ur(aval, reduced, unreduced, aval.vma)


shard_map_p.def_transpose(_shard_map_transpose)


# ---------------------------------------------------------------------------- batching


def _shard_map_batch(size, vals, dims, *, jaxpr, in_specs, out_specs, **params):
    vals = [
        batching.move_batch_axis(size, d, 0, v) if d is not None else v for v, d in zip(vals, dims)
    ]
    in_dims = tuple(0 if d is not None else None for d in dims)
    with _in_body(params):
        new, out_b = jt.batch_jaxpr(jaxpr, size, in_dims, (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    new_in = tuple(_lead(s) if d is not None else s for s, d in zip(in_specs, in_dims))
    new_out = tuple(_lead(s) if b else s for s, b in zip(out_specs, out_b))
    outs = shard_map_p.bind(
        *consts,
        *vals,
        jaxpr=new,
        in_specs=(P(),) * len(consts) + new_in,
        out_specs=new_out,
        **params,
    )
    return outs, [0 if b else None for b in out_b]


def _lead(spec: Any) -> Any:
    """``spec`` with an unsplit leading (batch) dimension."""
    return P(None, *spec, unreduced=spec.unreduced, reduced=spec.reduced)


shard_map_p.def_batch(_shard_map_batch)


# -- dead code: JAX's _shard_map_dce


def _shard_map_dce(used_outputs, eqn):
    """The body keeps the outputs something reads and what they (and its effects)
    need; the specs of the inputs and outputs that go go with them."""
    if not any(used_outputs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    p = eqn.params
    body, used_in = pe.dce_jaxpr(p["jaxpr"].jaxpr, used_outputs)
    if not any(used_in) and not any(used_outputs) and not pe.has_effects(eqn):
        return used_in, None
    params = dict(
        p,
        jaxpr=ClosedJaxpr(body, p["jaxpr"].consts),
        in_specs=tuple(s for s, u in zip(p["in_specs"], used_in) if u),
        out_specs=tuple(s for s, u in zip(p["out_specs"], used_outputs) if u),
    )
    new = eqn.replace(
        invars=[v for v, u in zip(eqn.invars, used_in) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
        params=params,
    )
    return used_in, new


pe.dce_rules[shard_map_p] = _shard_map_dce
