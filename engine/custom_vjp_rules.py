"""``custom_vjp`` (JAX's ``jax.custom_vjp``), exported by ``engine.custom_derivatives``.

A call binds ``custom_vjp_call`` (the function as ``call_jaxpr``, the user's ``fwd`` and
``bwd``). Its JVP rule runs ``fwd`` on the primals, in the known part of a
linearization, and binds ``custom_lin`` on the residuals and the input tangents: a
primitive linear in the tangents whose transpose rule calls the user's ``bwd``.
Evaluating ``custom_lin`` (a plain ``jvp`` of a ``custom_vjp`` function) raises JAX's
error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from . import core, dtypes
from .ad_util import Zero
from .core import Primitive
from .custom_rules_base import (  # noqa: F401
    CustomVJPException,
    SymbolicZero,
    _bind_positional,
    _call_primitive,
    _check_leaves,
    _check_primal_outs,
    _CustomFunction,
    _decide,
    _fun_name,
    _hoist,
    _instantiate,
    _merge_nondiff,
    _pp_params,
    _resolve_argnums,
    _Rule,
    _rule_directly,
    _RuleSpan,
    _split_nondiff,
    _to_symbolic,
    _trace_flat,
    _user_value,
)
from .events import active as _listening
from .interpreters import batching
from .interpreters import jaxpr_transforms as jt
from .interpreters import partial_eval as pe
from .interpreters.jvp import JVPTrace, tangent_aval
from .tree_util import tree_flatten, tree_structure, tree_unflatten

# ============================================================================ custom_vjp

custom_vjp_call_p = _call_primitive("custom_vjp_call", ("bwd", "fwd"))


def _custom_vjp_call_jvp(
    primals, tangents, *, call_jaxpr, fwd, bwd, num_consts, symbolic_zeros, name
):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise CustomVJPException()
    ps, ts = list(primals[num_consts:]), list(tangents[num_consts:])
    outs, res, bwd_flat = fwd(ps, [type(t) is not Zero for t in ts])
    out_avals = tuple(tangent_aval(core.get_aval(x)) for x in outs)
    touts = custom_lin_p.bind(
        *res,
        *[_instantiate(t) for t in ts],
        num_res=len(res),
        bwd=bwd_flat,
        out_avals=out_avals,
        symbolic_zeros=symbolic_zeros,
    )
    return list(outs), list(touts)


custom_vjp_call_p.def_jvp(_custom_vjp_call_jvp)


def _custom_vjp_call_batch(
    size, vals, dims, *, call_jaxpr, fwd, bwd, num_consts, symbolic_zeros, name
):
    # Every operand is batched at axis 0 (unbatched ones broadcast), so the batched
    # bwd's cotangents have the operands' shapes.
    vals = [batching.move_batch_axis(size, d, 0, v) for v, d in zip(vals, dims)]
    n_out = len(call_jaxpr.out_avals)
    new_jaxpr, _ = jt.batch_jaxpr(call_jaxpr, size, (0,) * len(vals), (True,) * n_out)
    new_jaxpr, consts = _hoist(new_jaxpr)

    def batched_fwd(ps, perturbed):
        box: dict[str, Any] = {}

        def flat(*args):
            outs, res, bwd_flat = fwd(list(args), perturbed)
            box.update(n_res=len(res), bwd=bwd_flat)
            return list(outs) + list(res)

        r = batching.batch_flat(
            flat, size, list(ps), [0] * len(ps), lambda: [0] * (n_out + box["n_res"])
        )
        outs, res = r[:n_out], r[n_out:]
        n_res = box["n_res"]

        def batched_bwd(res_, cts):
            def flatb(*args):
                cts_in = box["bwd"](list(args[:n_res]), list(args[n_res:]))
                return [_instantiate(c) for c in cts_in]

            out = batching.batch_flat(
                flatb,
                size,
                list(res_) + [_instantiate(c) for c in cts],
                [0] * (n_res + len(cts)),
                [0] * len(ps),
            )
            return out

        return outs, res, batched_bwd

    outs = custom_vjp_call_p.bind(
        *consts,
        *vals,
        call_jaxpr=new_jaxpr,
        fwd=_Rule(batched_fwd, fwd.__name__),
        bwd=bwd,
        num_consts=num_consts + len(consts),
        symbolic_zeros=symbolic_zeros,
        name=name,
    )
    return outs, [0] * n_out


custom_vjp_call_p.def_batch(_custom_vjp_call_batch)


def _custom_vjp_call_dce(used_outs, eqn):
    """JAX's custom_vjp_call DCE rule: the function's jaxpr loses the outputs nothing
    reads and the equations only they needed, keeping every input; fwd's outputs are
    cut to the same ones and bwd gets zero cotangents for the others."""
    if not any(used_outs) and not pe.has_effects(eqn):
        return [False] * len(eqn.invars), None
    p = eqn.params
    call = p["call_jaxpr"]
    body, _ = pe.dce_jaxpr(call.jaxpr, used_outs, True)
    fwd, symbolic = p["fwd"], p["symbolic_zeros"]
    ct_avals = [tangent_aval(a) for a in call.out_avals]

    def dce_fwd(ps, perturbed):
        outs, res, bwd_flat = fwd(ps, perturbed)

        def dce_bwd(res_, cts):
            it = iter(cts)
            full = [
                next(it) if u else (Zero(a) if symbolic else _instantiate(Zero(a)))
                for u, a in zip(used_outs, ct_avals)
            ]
            return bwd_flat(res_, full)

        return [o for o, u in zip(outs, used_outs) if u], res, dce_bwd

    params = dict(
        p, call_jaxpr=core.ClosedJaxpr(body, call.consts), fwd=_Rule(dce_fwd, fwd.__name__)
    )
    new = eqn.replace(outvars=[v for v, u in zip(eqn.outvars, used_outs) if u], params=params)
    return [True] * len(eqn.invars), new


pe.dce_rules[custom_vjp_call_p] = _custom_vjp_call_dce


# -- custom_lin: linear in the tangents, its transpose is the user's bwd

custom_lin_p = Primitive("custom_lin", multiple_results=True)
_JVP_OF_VJP = "can't apply forward-mode autodiff (jvp) to a custom_vjp function."


@custom_lin_p.def_abstract_eval
def _custom_lin_abstract_eval(*avals, out_avals, **_):
    return list(out_avals)


@custom_lin_p.def_impl
def _custom_lin_impl(*args, **_):
    raise TypeError(_JVP_OF_VJP)


@custom_lin_p.def_lowering
def _custom_lin_lowering(ctx, *args, **_):
    raise TypeError(_JVP_OF_VJP)


def _custom_lin_jvp(primals, tangents, **_):
    raise TypeError(_JVP_OF_VJP)


custom_lin_p.def_jvp(_custom_lin_jvp)


@custom_lin_p.def_batch
def _custom_lin_batch(size, vals, dims, **_):
    raise TypeError(_JVP_OF_VJP)


@custom_lin_p.def_transpose
def _custom_lin_transpose(cts, *invals, num_res, bwd, out_avals, symbolic_zeros):
    res = list(invals[:num_res])
    if symbolic_zeros:
        cts = list(cts)
    else:
        cts = [_instantiate(c) for c in cts]
    cts_in = bwd(res, cts)
    return [None] * num_res + list(cts_in)


class custom_vjp(_CustomFunction):
    """A function with a custom VJP rule (``jax.custom_vjp``).

    ``@custom_vjp def f(x): ...``; ``f.defvjp(f_fwd, f_bwd)`` with ``f_fwd(*args) ->
    (out, residuals)`` (residuals any pytree of arrays) and ``f_bwd(*nondiff_args,
    residuals, out_cotangent) -> tuple of input cotangents`` (None: zero)."""

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        self._wrap(fun, nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        self.symbolic_zeros = False
        self.optimize_remat = False

    def defvjp(
        self,
        fwd: Callable[..., Any],
        bwd: Callable[..., Any],
        symbolic_zeros: bool = False,
        optimize_remat: bool = False,
    ) -> None:
        self.fwd, self.bwd = fwd, bwd
        self.symbolic_zeros = symbolic_zeros
        self.optimize_remat = optimize_remat

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _fun_name(self.fun)
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using defvjp.")
        static, dyn, flat, in_tree, primal = self._arguments(args, kwargs, "custom_vjp", name)
        out_tree_box: list[Any] = []
        in_avals = [core.get_aval(x) for x in flat]
        fwd_flat = _make_fwd_flat(self, static, in_tree, in_avals, out_tree_box, name)
        fwd_rule = _Rule(fwd_flat, _fun_name(self.fwd))
        bwd_rule = _Rule(self.bwd, _fun_name(self.bwd))
        return self._process(
            flat,
            dyn,
            in_tree,
            primal,
            out_tree_box,
            name,
            custom_vjp_call_p,
            {"fwd": fwd_rule, "bwd": bwd_rule},
            lambda trace, vals: _vjp_jvp_directly(
                trace, vals, fwd_rule, bwd_rule, self.symbolic_zeros, name
            ),
        )


def _vjp_jvp_directly(trace: JVPTrace, vals, fwd_rule, bwd_rule, symbolic_zeros, name):
    params = {"name": name, "fwd": fwd_rule, "bwd": bwd_rule, "symbolic_zeros": symbolic_zeros}
    return _rule_directly(
        trace,
        vals,
        custom_vjp_call_p,
        params,
        _custom_vjp_call_jvp,
        lambda primals, tangents: _custom_vjp_call_jvp(
            primals,
            tangents,
            call_jaxpr=None,
            fwd=fwd_rule,
            bwd=bwd_rule,
            num_consts=0,
            symbolic_zeros=symbolic_zeros,
            name=name,
        ),
    )


class CustomVJPPrimal:
    """What a ``symbolic_zeros=True`` fwd rule receives per argument: the ``value`` and
    whether it is ``perturbed`` (has a nonzero tangent)."""

    def __init__(self, value: Any, perturbed: bool) -> None:
        self.value, self.perturbed = value, perturbed

    def __repr__(self) -> str:
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def _make_fwd_flat(cv: custom_vjp, static, in_tree, in_avals, out_tree_box, name):
    user_fwd, user_bwd = cv.fwd, cv.bwd
    fwd_name = _fun_name(user_fwd)
    nd = cv.nondiff_argnums
    symbolic = cv.symbolic_zeros

    def fwd_flat(primals: Sequence[Any], perturbed: Sequence[bool]):
        if symbolic:
            leaves = [CustomVJPPrimal(_user_value(p), z) for p, z in zip(primals, perturbed)]
        else:
            leaves = [_user_value(p) for p in primals]
        py_args = tree_unflatten(in_tree, leaves)
        span = _RuleSpan("fwd", name, user_fwd, "custom_vjp_call") if _listening else None
        pair = user_fwd(*_merge_nondiff(static, py_args, nd))
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(
                f"Custom VJP fwd rule {fwd_name} for function {name} must produce a pair "
                "(list or tuple of length two) where the first element represents the "
                f"primal output (equal to the output of the custom_vjp-decorated function "
                f"{name}) and the second element represents residuals (i.e. values stored "
                "from the forward pass for use on the backward pass), but instead the fwd "
                f"rule {fwd_name} produced {pair}."
            )
        py_out, py_res = pair
        outs, out_tree = tree_flatten(py_out)
        res, res_tree = tree_flatten(py_res)
        _check_leaves(name, res, "a residual")
        if out_tree_box and out_tree_box[0] != out_tree:
            raise TypeError(
                f"Custom VJP fwd rule {fwd_name} for function {name} must produce a pair "
                "(list or tuple of length two) where the first element represents the "
                f"primal output (equal to the output of the custom_vjp-decorated function "
                f"{name}) and the second element represents residuals (i.e. values stored "
                "from the forward pass for use on the backward pass), but instead the fwd "
                f"rule output's first element had container/pytree structure:\n"
                f"    {out_tree}\nwhile the custom_vjp-decorated function {name} had "
                f"output container/pytree structure:\n    {out_tree_box[0]}."
            )
        if not out_tree_box:
            out_tree_box.append(out_tree)
        elif len(out_tree_box) > 1:
            _check_primal_outs(outs, out_tree, out_tree_box[1], "VJP fwd", fwd_name, name)
        if span is not None:
            span.done(list(outs) + list(res))
        bwd_flat = _make_bwd_flat(
            user_bwd, static, res_tree, out_tree, in_tree, in_avals, name, symbolic
        )
        return outs, res, bwd_flat

    return fwd_flat


def _make_bwd_flat(user_bwd, static, res_tree, out_tree, in_tree, in_avals, name, symbolic):
    def bwd_flat(res: Sequence[Any], cts: Sequence[Any]) -> list[Any]:
        py_res = tree_unflatten(res_tree, [_user_value(r) for r in res])
        py_cts = tree_unflatten(
            out_tree, [_to_symbolic(c) if symbolic else _user_value(c) for c in cts]
        )
        span = _RuleSpan("bwd", name, user_bwd, "custom_vjp_call") if _listening else None
        cts_in = user_bwd(*static, py_res, py_cts)
        try:
            flat = _flatten_bwd_output(cts_in, in_tree, in_avals)
        except (TypeError, ValueError) as e:
            where = core.fun_location(user_bwd)
            raise type(e)(f"{e}\nThe bwd rule is {where}.") from None
        if span is not None:
            span.done(flat)
        return flat

    bwd_flat.__name__ = _fun_name(user_bwd)
    return bwd_flat


def _flatten_bwd_output(cts_in: Any, in_tree: Any, in_avals) -> list[Any]:
    """The bwd rule's output as one cotangent per flat input (``Zero`` for None)."""
    n_args = len(tree_unflatten(in_tree, [None] * in_tree.num_leaves))
    arg_trees = [tree_structure(a) for a in tree_unflatten(in_tree, [0] * in_tree.num_leaves)]
    if isinstance(cts_in, list) and len(cts_in) == n_args:
        cts_in = tuple(cts_in)
    if not isinstance(cts_in, tuple) or len(cts_in) != n_args:
        raise _bwd_structure_error(cts_in, in_tree)
    out: list[Any] = []
    for ct, tree in zip(cts_in, arg_trees):
        if ct is None:
            out.extend([None] * tree.num_leaves)
            continue
        leaves, t2 = tree_flatten(ct, is_leaf=lambda x: x is None or type(x) is SymbolicZero)
        if t2 != tree:
            if tree.num_leaves == len(leaves):
                try:
                    leaves = tree.flatten_up_to(ct)
                except Exception:
                    raise _bwd_structure_error(cts_in, in_tree) from None
            else:
                raise _bwd_structure_error(cts_in, in_tree)
        out.extend(leaves)
    results: list[Any] = []
    for i, (ct, a) in enumerate(zip(out, in_avals)):
        ct_aval = tangent_aval(a.strip_weak_type())
        if ct is None or ct_aval.dtype == dtypes.float0:
            results.append(Zero(ct_aval))
        elif type(ct) is SymbolicZero:
            results.append(Zero(ct.aval))
        else:
            got = core.get_aval(ct)
            if (got.shape, got.dtype) != (ct_aval.shape, ct_aval.dtype):
                raise ValueError(
                    "Custom VJP bwd rule must produce an output with the same type as the "
                    f"args tuple of the primal function, but at output[{i}] the bwd rule "
                    f"produced an output of type {got.str_short()} corresponding to an "
                    f"input of type {a.str_short()}"
                )
            results.append(ct)
    return results


def _bwd_structure_error(cts_in: Any, in_tree: Any) -> TypeError:
    try:
        tree2 = tree_structure(cts_in)
    except Exception:
        tree2 = type(cts_in).__name__
    return TypeError(
        "Custom VJP bwd rule must produce an output with the same container (pytree) "
        "structure as the args tuple of the primal function, and in particular must "
        "produce a tuple of length equal to the number of arguments to the primal "
        f"function, but got bwd output structure {tree2} for primal input structure "
        f"{in_tree}."
    )
