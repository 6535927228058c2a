"""Helpers built on custom differentiation (exported by ``engine.custom_derivatives``):
``closure_convert``, ``custom_gradient``, ``linear_transpose``, ``linear_call`` (a
primitive with the user's transpose) and ``custom_vjp_primal_tree_values``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import core, dtypes
from .ad_util import Zero
from .core import Primitive
from .custom_rules_base import (  # noqa: F401
    _fun_name,
    _hoist,
    _instantiate,
    _trace_flat,
)
from .custom_vjp_rules import CustomVJPPrimal, custom_vjp
from .interpreters import batching, lowering
from .interpreters import jaxpr_transforms as jt
from .interpreters.jvp import tangent_aval
from .interpreters.transpose import UndefinedPrimal, backward_pass
from .tree_util import tree_flatten, tree_map, tree_structure, tree_unflatten

# ============================================================================ helpers built on them


def closure_convert(fun: Callable[..., Any], *example_args: Any) -> tuple[Callable[..., Any], list]:
    """``fun`` with the traced values it closes over made explicit: returns
    ``(converted, consts)`` with ``converted(*args, *consts) == fun(*args)``."""
    flat, in_tree = tree_flatten(example_args)
    avals = [core.get_aval(x) for x in flat]
    name = _fun_name(fun)
    closed, consts, out_tree = _trace_flat(fun, in_tree, avals, name)
    n_consts = len(consts)
    hoist = [
        core.is_tracer(c) or (hasattr(c, "dtype") and dtypes.is_inexact(c.dtype) and np.ndim(c) > 0)
        for c in consts
    ]
    hoisted = [c for c, h in zip(consts, hoist) if h]
    kept = [c for c, h in zip(consts, hoist) if not h]

    def converted(*args: Any) -> Any:
        n_h = len(hoisted)
        real, hv = args[: len(args) - n_h], args[len(args) - n_h :]
        xs, tree2 = tree_flatten(tuple(real))
        if tree2 != in_tree:
            raise TypeError(
                "The inputs to the closure produced by closure_convert must have the same "
                "Pytree structure as the example arguments passed when closure_convert was "
                f"called. Expected {in_tree}, but got {tree2}"
            )
        h_it, k_it = iter(hv), iter(kept)
        cs = [next(h_it) if h else next(k_it) for h in hoist]
        outs = core.eval_jaxpr(closed.jaxpr, [], *cs, *xs)
        return tree_unflatten(out_tree, outs)

    converted.__name__ = name
    del n_consts
    return converted, hoisted


def custom_gradient(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun(*args) -> (out, vjp)`` where ``vjp(out_cotangent) -> input cotangents``
    (a tuple, or one value for one argument): a function differentiated by ``vjp``."""

    @custom_vjp
    def wrapped(*args):
        out, _ = fun(*args)
        return out

    def fwd(*args):
        out, vjp = fun(*args)
        ct_example = tree_map(lambda x: _instantiate(Zero(tangent_aval(core.get_aval(x)))), out)
        conv, consts = closure_convert(vjp, ct_example)
        key = _stash(conv, len(consts))
        return out, (key, consts)

    def bwd(res, ct):
        key, consts = res
        conv, _ = _stash_get(key)
        cts = conv(ct, *consts)
        if not isinstance(cts, (tuple, list)):
            cts = (cts,)
        return tuple(cts)

    functools.update_wrapper(wrapped, fun)
    wrapped.defvjp(fwd, bwd)
    fwd.__name__ = f"{_fun_name(fun)}_fwd"
    bwd.__name__ = f"{_fun_name(fun)}_bwd"
    return wrapped


class _StashKey:
    """A residual leaf-less token: its id names a converted vjp (an empty pytree node)."""

    def __init__(self, item: Any) -> None:
        self.item = item


def _flatten_stash(k):
    return (), k.item


def _unflatten_stash(aux, children):
    return _StashKey(aux)


def _register_stash() -> None:
    from .tree_util import register_pytree_node

    register_pytree_node(_StashKey, _flatten_stash, _unflatten_stash)


_register_stash()


def _stash(conv: Callable[..., Any], n: int) -> _StashKey:
    return _StashKey((conv, n))


def _stash_get(key: _StashKey) -> tuple[Callable[..., Any], int]:
    return key.item


def linear_transpose(fun: Callable[..., Any], *primals: Any, reduce_axes: tuple = ()) -> Callable:
    """The transpose of the linear function ``fun`` at the types of ``primals``:
    ``f_t(out_cotangent) -> tuple of input cotangents``."""
    flat, in_tree = tree_flatten(primals)
    in_avals = [core.get_aval(x).strip_weak_type() for x in flat]
    name = _fun_name(fun)
    for a in in_avals:
        if not dtypes.is_inexact(a.dtype):
            raise TypeError(
                f"linear_transpose only supports [float or complex] -> [float or complex], and integer -> integer functions, but got {a.dtype} input."
            )
    closed, consts, out_tree = _trace_flat(lambda *a: fun(*a), in_tree, in_avals, name)
    out_avals = closed.out_avals

    def transposed(*out_cotangent: Any) -> Any:
        ct = out_cotangent[0] if len(out_cotangent) == 1 else out_cotangent
        cts, tree = tree_flatten(ct)
        if tree != out_tree:
            raise TypeError(
                f"cotangent tree does not match function output, expected {out_tree} but got {tree}"
            )
        for c, a in zip(cts, out_avals):
            ca = core.get_aval(c)
            if (ca.shape, np.dtype(ca.dtype)) != (a.shape, a.dtype):
                raise TypeError(
                    f"cotangent type does not match function output, expected "
                    f"{a.str_short()} but got {ca.str_short()}"
                )
        lin = [UndefinedPrimal(a) for a in in_avals]
        n_c = len(consts)
        res = backward_pass(closed.jaxpr, [], list(consts) + lin, list(cts))[n_c:]
        return tree_unflatten(
            in_tree,
            [
                _instantiate(r) if r is not None else _instantiate(Zero(a))
                for r, a in zip(res, in_avals)
            ],
        )

    return transposed


def custom_vjp_primal_tree_values(tree: Any) -> Any:
    """The values of a pytree of ``CustomVJPPrimal``s (what a ``symbolic_zeros=True`` fwd
    rule receives)."""
    return tree_map(
        lambda x: x.value if isinstance(x, CustomVJPPrimal) else x,
        tree,
        is_leaf=lambda x: isinstance(x, CustomVJPPrimal),
    )


# ============================================================================ linear_call

linear_call_p = Primitive("linear_call", multiple_results=True)
linear_call_p.subjaxprs_rule = lambda p: (p["callee"], p["transpose"])


@linear_call_p.def_abstract_eval
def _linear_call_abstract_eval(*avals, callee, **_):
    return callee.out_avals


def _linear_call_split(args, num_callee_consts, num_transpose_consts):
    a, b = num_callee_consts, num_callee_consts + num_transpose_consts
    return list(args[:a]), list(args[a:b]), list(args[b:])


@linear_call_p.def_impl
def _linear_call_impl(*args, callee, num_callee_consts, num_transpose_consts, **_):
    cc, _, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    return core.eval_jaxpr(callee.jaxpr, [], *cc, *rest)


@linear_call_p.def_lowering
def _linear_call_lowering(ctx, *args, callee, num_callee_consts, num_transpose_consts, **_):
    cc, _, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    return lowering.lower_jaxpr_inline(ctx, callee, cc + rest)


def _linear_call_jvp(primals, tangents, **params):
    outs = linear_call_p.bind(*primals, **params)
    n_fixed = params["num_callee_consts"] + params["num_transpose_consts"] + params["num_res"]
    lin_t = tangents[n_fixed:]
    if all(type(t) is Zero for t in lin_t):
        return outs, [Zero(tangent_aval(core.get_aval(o))) for o in outs]
    touts = linear_call_p.bind(*primals[:n_fixed], *[_instantiate(t) for t in lin_t], **params)
    return outs, touts


linear_call_p.def_jvp(_linear_call_jvp)


@linear_call_p.def_transpose
def _linear_call_transpose(
    cts, *args, callee, transpose, num_callee_consts, num_transpose_consts, num_res
):
    cc, tc, rest = _linear_call_split(args, num_callee_consts, num_transpose_consts)
    res = rest[:num_res]
    cts_lin = linear_call_p.bind(
        *tc,
        *cc,
        *res,
        *[_instantiate(c) for c in cts],
        callee=transpose,
        transpose=callee,
        num_callee_consts=num_transpose_consts,
        num_transpose_consts=num_callee_consts,
        num_res=num_res,
    )
    return [None] * (num_callee_consts + num_transpose_consts + num_res) + list(cts_lin)


@linear_call_p.def_batch
def _linear_call_batch(
    size, vals, dims, *, callee, transpose, num_callee_consts, num_transpose_consts, num_res
):
    vals = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(vals, dims)]
    cc, tc, rest = _linear_call_split(vals, num_callee_consts, num_transpose_consts)
    n_ct = len(callee.out_avals)
    bc, _ = jt.batch_jaxpr(callee, size, (0,) * (len(cc) + len(rest)), (True,) * n_ct)
    n_t_in = len(tc) + num_res + n_ct
    bt, _ = jt.batch_jaxpr(transpose, size, (0,) * n_t_in, (True,) * len(transpose.out_avals))
    bc, bc_consts = _hoist(bc)
    bt, bt_consts = _hoist(bt)
    outs = linear_call_p.bind(
        *bc_consts,
        *cc,
        *bt_consts,
        *tc,
        *rest,
        callee=bc,
        transpose=bt,
        num_callee_consts=len(bc_consts) + len(cc),
        num_transpose_consts=len(bt_consts) + len(tc),
        num_res=num_res,
    )
    return outs, [0] * len(outs)


def linear_call(
    fun: Callable[..., Any], fun_transpose: Callable[..., Any], residual_args: Any, linear_args: Any
) -> Any:
    """Call ``fun(residual_args, linear_args)``, linear in ``linear_args``, whose
    transpose is ``fun_transpose(residual_args, out_cotangent)`` (JAX's ``linear_call``)."""
    res_flat, res_tree = tree_flatten(residual_args)
    lin_flat, lin_tree = tree_flatten(linear_args)
    n_res = len(res_flat)
    res_avals = [core.get_aval(x) for x in res_flat]
    lin_avals = [core.get_aval(x) for x in lin_flat]
    name = _fun_name(fun)
    tree_in = tree_structure((residual_args, linear_args))
    callee, c_consts, out_tree = _trace_flat(
        lambda r, l: fun(r, l), tree_in, res_avals + lin_avals, name
    )
    del n_res
    ct_avals = [tangent_aval(a) for a in callee.out_avals]
    ct_example = tree_unflatten(out_tree, [_instantiate(Zero(a)) for a in ct_avals])
    t_tree_in = tree_structure((residual_args, ct_example))
    t_box: list[Any] = []

    def t_fun(r, ct):
        out = fun_transpose(r, ct)
        t_box.append(tree_structure(out))
        return out

    transpose, t_consts, t_out_tree = _trace_flat(
        t_fun, t_tree_in, res_avals + ct_avals, _fun_name(fun_transpose)
    )
    if t_out_tree != lin_tree:
        raise TypeError(
            "transpose output pytree structure must match that of linear inputs, got output "
            f"structure {t_out_tree} for linear inputs structure {lin_tree}."
        )
    outs = linear_call_p.bind(
        *c_consts,
        *t_consts,
        *res_flat,
        *lin_flat,
        callee=callee,
        transpose=transpose,
        num_callee_consts=len(c_consts),
        num_transpose_consts=len(t_consts),
        num_res=len(res_flat),
    )
    return tree_unflatten(out_tree, outs)
