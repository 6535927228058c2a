"""``lax.custom_linear_solve`` and ``lax.custom_root``: solvers whose derivatives come
from the problem they solve rather than from differentiating the solver's iterations
(JAX's implicit-differentiation helpers).

``custom_linear_solve`` binds the ``custom_linear_solve`` primitive, which carries four
closed jaxprs (``matvec``, ``vecmat``, ``solve``, ``transpose_solve``), each taking its
constants first. It is linear in the right-hand side: its JVP solves again for
``b_dot - (d matvec) x``, and its transpose is the same primitive with ``matvec`` and
``vecmat`` (and ``solve`` and ``transpose_solve``) swapped, so reverse mode never
differentiates the solver. ``custom_root`` is a ``custom_jvp`` function whose rule
applies the user's ``tangent_solve`` to the linearized root equation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .. import core
from ..ad_util import Zero, instantiate
from ..core import ClosedJaxpr, Primitive
from ..interpreters import batching, lowering
from ..interpreters import jaxpr_transforms as jt
from ..interpreters.jvp import jvp_flat
from ..interpreters.tracing import trace_to_jaxpr
from ..tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["custom_linear_solve", "custom_root", "custom_linear_solve_p"]


class _LinearSolveTuple(NamedTuple):
    matvec: Any
    vecmat: Any
    solve: Any
    transpose_solve: Any


def _hoist(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """A jaxpr taking its constants as leading inputs, and those constants."""
    j = closed.jaxpr
    jaxpr = core.Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns, j.debug_name)
    return ClosedJaxpr(jaxpr, []), list(closed.consts)


def _trace(fun: Callable[..., Any], tree: Any, avals: list, name: str, what: str):
    """Trace ``fun`` (a pytree of the b's structure -> the same structure)."""
    box: list[Any] = []

    def flat(*xs):
        out = fun(tree_unflatten(tree, list(xs)))
        leaves, out_tree = tree_flatten(out)
        box.append(out_tree)
        return leaves

    closed = trace_to_jaxpr(flat, avals, name)
    if box[0] != tree:
        raise TypeError(
            f"{what} output must have the same pytree structure as its input: "
            f"expected {tree}, got {box[0]}"
        )
    for a, b in zip(closed.out_avals, avals):
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise TypeError(
                f"{what} output must have the same shape and dtype as its input: expected "
                f"{b.str_short()}, got {a.str_short()}"
            )
    return _hoist(closed)


# ---------------------------------------------------------------------------- the primitive

custom_linear_solve_p = Primitive("custom_linear_solve", multiple_results=True)
custom_linear_solve_p.subjaxprs_rule = lambda p: tuple(j for j in p["jaxprs"] if j is not None)


def _split(args, const_lengths):
    out, i = [], 0
    for n in const_lengths:
        out.append(list(args[i : i + n]))
        i += n
    return _LinearSolveTuple(*out), list(args[i:])


@custom_linear_solve_p.def_abstract_eval
def _cls_abstract_eval(*avals, const_lengths, jaxprs):
    return jaxprs.solve.out_avals


@custom_linear_solve_p.def_impl
def _cls_impl(*args, const_lengths, jaxprs):
    consts, b = _split(args, const_lengths)
    return core.eval_jaxpr(jaxprs.solve.jaxpr, [], *consts.solve, *b)


@custom_linear_solve_p.def_lowering
def _cls_lowering(ctx, *args, const_lengths, jaxprs):
    consts, b = _split(args, const_lengths)
    return lowering.lower_jaxpr_inline(ctx, jaxprs.solve, list(consts.solve) + list(b))


def _cls_jvp(primals, tangents, *, const_lengths, jaxprs):
    consts, b = _split(primals, const_lengths)
    consts_dot, b_dot = _split(tangents, const_lengths)
    x = custom_linear_solve_p.bind(*primals, const_lengths=const_lengths, jaxprs=jaxprs)
    rhs: list[Any] = list(b_dot)
    if any(type(t) is not Zero for t in consts_dot.matvec):
        n = len(consts.matvec)

        def matvec_of_consts(*cs):
            return core.eval_jaxpr(jaxprs.matvec.jaxpr, [], *cs, *x)

        _, mv_dot = jvp_flat(matvec_of_consts, consts.matvec, consts_dot.matvec[:n])
        from .. import lax

        rhs = [lax.neg(m) if type(r) is Zero else lax.sub(r, m) for r, m in zip(rhs, mv_dot)]
    if all(type(r) is Zero for r in rhs):
        return x, [Zero(core.get_aval(v)) for v in x]
    rhs = [instantiate(r) for r in rhs]
    n_consts = sum(const_lengths)
    x_dot = custom_linear_solve_p.bind(
        *primals[:n_consts], *rhs, const_lengths=const_lengths, jaxprs=jaxprs
    )
    return x, x_dot


custom_linear_solve_p.def_jvp(_cls_jvp)


def _cls_transpose(cts, *args, const_lengths, jaxprs):
    if jaxprs.transpose_solve is None:
        raise TypeError(
            "transpose_solve required for backwards mode automatic differentiation of "
            "custom_linear_solve"
        )
    consts, b = _split(args, const_lengths)
    swapped_consts = _LinearSolveTuple(
        consts.vecmat, consts.matvec, consts.transpose_solve, consts.solve
    )
    swapped = _LinearSolveTuple(jaxprs.vecmat, jaxprs.matvec, jaxprs.transpose_solve, jaxprs.solve)
    lengths = _LinearSolveTuple(*(len(c) for c in swapped_consts))
    cts = [instantiate(c) for c in cts]
    flat_consts = [c for group in swapped_consts for c in group]
    cts_b = custom_linear_solve_p.bind(*flat_consts, *cts, const_lengths=lengths, jaxprs=swapped)
    return [None] * sum(const_lengths) + list(cts_b)


custom_linear_solve_p.def_transpose(_cls_transpose)


def _cls_batch(size, vals, dims, *, const_lengths, jaxprs):
    consts, b = _split(vals, const_lengths)
    cdims, bdims = _split(dims, const_lengths)
    b = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(b, bdims)]
    new_jaxprs, new_consts = [], []
    for j, cs, ds in zip(jaxprs, consts, cdims):
        if j is None:
            new_jaxprs.append(None)
            new_consts.append([])
            continue
        nb, _ = jt.batch_jaxpr(j, size, tuple(ds) + (0,) * len(b), (True,) * len(j.out_avals))
        nb, hoisted = _hoist(nb)
        new_jaxprs.append(nb)
        new_consts.append(hoisted + list(cs))
    lengths = _LinearSolveTuple(*(len(c) for c in new_consts))
    flat_consts = [c for group in new_consts for c in group]
    outs = custom_linear_solve_p.bind(
        *flat_consts, *b, const_lengths=lengths, jaxprs=_LinearSolveTuple(*new_jaxprs)
    )
    return outs, [0] * len(outs)


custom_linear_solve_p.def_batch(_cls_batch)


# ---------------------------------------------------------------------------- user API


def custom_linear_solve(
    matvec: Callable[[Any], Any],
    b: Any,
    solve: Callable[[Callable[[Any], Any], Any], Any],
    transpose_solve: Callable[[Callable[[Any], Any], Any], Any] | None = None,
    symmetric: bool = False,
    has_aux: bool = False,
) -> Any:
    """Solve ``matvec(x) == b`` with ``solve(matvec, b)``, differentiated implicitly:
    derivatives solve the same system again (``transpose_solve(vecmat, ct)`` in reverse
    mode; ``symmetric=True`` reuses ``solve``) instead of differentiating ``solve``."""
    if has_aux:
        raise NotImplementedError("custom_linear_solve(has_aux=True) is not supported yet")
    from ..custom_derivatives import linear_transpose

    b_flat, tree = tree_flatten(b)
    avals = [core.get_aval(x).strip_weak_type() for x in b_flat]
    matvec_j, mv_consts = _trace(matvec, tree, avals, "matvec", "matvec")
    solve_j, s_consts = _trace(lambda y: solve(matvec, y), tree, avals, "solve", "solve")
    if symmetric:
        vecmat_j, vm_consts = matvec_j, mv_consts
        tsolve_j, ts_consts = solve_j, s_consts
    else:
        example = tree_unflatten(tree, [instantiate(Zero(a)) for a in avals])

        def vecmat(y):
            (out,) = linear_transpose(matvec, example)(y)
            return out

        vecmat_j, vm_consts = _trace(vecmat, tree, avals, "vecmat", "vecmat")
        if transpose_solve is None:
            tsolve_j, ts_consts = None, []
        else:
            tsolve_j, ts_consts = _trace(
                lambda y: transpose_solve(vecmat, y),
                tree,
                avals,
                "transpose_solve",
                "transpose_solve",
            )
    jaxprs = _LinearSolveTuple(matvec_j, vecmat_j, solve_j, tsolve_j)
    groups = _LinearSolveTuple(mv_consts, vm_consts, s_consts, ts_consts)
    lengths = _LinearSolveTuple(*(len(g) for g in groups))
    flat_consts = [c for g in groups for c in g]
    out = custom_linear_solve_p.bind(*flat_consts, *b_flat, const_lengths=lengths, jaxprs=jaxprs)
    return tree_unflatten(tree, out)


def custom_root(
    f: Callable[[Any], Any],
    initial_guess: Any,
    solve: Callable[[Callable[[Any], Any], Any], Any],
    tangent_solve: Callable[[Callable[[Any], Any], Any], Any],
    has_aux: bool = False,
) -> Any:
    """Find a root of ``f`` with ``solve(f, initial_guess)``, differentiated implicitly:
    the solution's tangent is ``-tangent_solve(g, df/dparams)`` with ``g`` the
    linearization of ``f`` at the solution (the solver itself is never differentiated)."""
    from ..api import jvp
    from ..custom_derivatives import closure_convert, custom_jvp

    f_conv, f_consts = closure_convert(f, initial_guess)
    n = len(f_consts)

    def root(*args):
        cs, guess = args[:n], args[n]
        return solve(lambda x: f_conv(x, *cs), guess)

    root.__name__ = "_custom_root"
    root_c = custom_jvp(root)

    def root_jvp(primals, tangents):
        cs, guess = list(primals[:n]), primals[n]
        cs_dot = [
            instantiate(t) if type(t).__name__ != "SymbolicZero" else t.instantiate()
            for t in tangents[:n]
        ]
        out = root_c(*cs, guess)
        sol, aux = out if has_aux else (out, None)
        if n:
            _, rhs = jvp(lambda *c: f_conv(sol, *c), tuple(cs), tuple(cs_dot))
        else:
            rhs = tree_map(lambda x: x * 0, sol)

        def linearized(x):
            return jvp(lambda s: f_conv(s, *cs), (sol,), (x,))[1]

        sol_dot = tree_map(lambda t: -t, tangent_solve(linearized, rhs))
        if has_aux:
            aux_dot = tree_map(lambda a: instantiate(Zero(core.get_aval(a))), aux)
            return out, (sol_dot, aux_dot)
        return out, sol_dot

    root_c.defjvp(root_jvp)
    return root_c(*f_consts, initial_guess)
