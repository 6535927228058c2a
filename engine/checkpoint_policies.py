"""``checkpoint_name`` (the ``name`` primitive) and the rematerialization policies
(``jax.checkpoint_policies``): what a checkpointed function may save, recompute or
offload. Re-exported by ``engine.ad_checkpoint``, whose partial-evaluation rule asks
them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from . import core, tree_util
from .core import Jaxpr, Primitive, Var


def _lit(v) -> bool:
    return type(v) is core.Literal


# ---------------------------------------------------------------------------- name

name_p = Primitive("name")


def checkpoint_name(x: Any, name: str) -> Any:
    """Tag every array of ``x`` with ``name``, for policies such as
    ``save_only_these_names`` (the identity otherwise)."""
    return tree_util.tree_map(lambda v: name_p.bind(v, name=name), x)


name_p.def_impl(lambda x, *, name: x)
name_p.def_abstract_eval(lambda aval, *, name: aval)
name_p.def_jvp(lambda primals, tangents, *, name: (name_p.bind(primals[0], name=name), tangents[0]))
name_p.def_transpose(lambda ct, x, *, name: [ct])
name_p.def_batch(lambda size, vals, dims, *, name: (name_p.bind(vals[0], name=name), dims[0]))
name_p.def_lowering(lambda ctx, x, *, name: x)


# ---------------------------------------------------------------------------- policies
#
# A policy is called as ``policy(primitive, *in_avals, **params)`` for each known
# equation whose result the tangent work reads, and answers whether that result may be
# saved (True) or must be recomputed (False).


class SaveableType:
    """What a policy may return to save a value (as ``True``)."""

    def __repr__(self):
        return "Saveable"


class RecomputeType:
    """What a policy may return to recompute a value (as ``False``)."""

    def __repr__(self):
        return "Recompute"


Saveable = SaveableType()
Recompute = RecomputeType()


@dataclasses.dataclass(frozen=True)
class Offloadable:
    """A policy's answer "save this value in another memory kind": it is moved from
    ``src`` to ``dst`` after the forward pass and back before the backward pass."""

    src: Any
    dst: Any


def policy_saves(policy, prim, avals, params) -> bool:
    """Ask ``policy`` about one equation; True: save its result (perhaps offloaded, see
    ``offload_residuals``), False: recompute it."""
    ans = policy(prim, *avals, **params)
    if isinstance(ans, Offloadable):
        return True
    if ans is Saveable:
        return True
    if ans is Recompute:
        return False
    return bool(ans)


def everything_saveable(*_, **__) -> bool:
    return True


def nothing_saveable(*_, **__) -> bool:
    return False


def _is_dot(prim) -> bool:
    return getattr(prim, "name", None) == "dot_general"


@dataclasses.dataclass(frozen=True)
class DotsSaveable:
    only_if_no_batch_dims: bool = False

    def __call__(self, prim, *_, **params) -> bool:
        if not _is_dot(prim):
            return False
        if not self.only_if_no_batch_dims:
            return True
        (_, _), (lhs_b, rhs_b) = params["dimension_numbers"]
        return not lhs_b and not rhs_b


dots_saveable = checkpoint_dots = DotsSaveable(False)
dots_with_no_batch_dims_saveable = checkpoint_dots_with_no_batch_dims = DotsSaveable(True)


@dataclasses.dataclass(frozen=True)
class SaveOnlyTheseNames:
    saveable_names: frozenset

    def __call__(self, prim, *_, **params) -> bool:
        return prim is name_p and params["name"] in self.saveable_names


@dataclasses.dataclass(frozen=True)
class SaveAnyNamesButThese:
    names: frozenset

    def __call__(self, prim, *_, **params) -> bool:
        return prim is name_p and params["name"] not in self.names


def save_only_these_names(*names: str) -> SaveOnlyTheseNames:
    """Save only the values tagged by ``checkpoint_name`` with one of ``names``."""
    return SaveOnlyTheseNames(frozenset(names))


def save_any_names_but_these(*names: str) -> SaveAnyNamesButThese:
    """Save every named value except those named ``names`` (unnamed ones are recomputed)."""
    return SaveAnyNamesButThese(frozenset(names))


def save_anything_except_these_names(*names: str) -> Callable[..., bool]:
    """Meant to save every value except those tagged with one of ``names``; JAX 0.10.2's
    saves everything (the names are ignored), and so does this one, to match it."""
    return lambda *_, **__: True


def save_from_both_policies(policy_1: Callable, policy_2: Callable) -> Callable[..., bool]:
    """Save what either policy saves."""

    def policy(prim, *avals, **params):
        return policy_saves(policy_1, prim, avals, params) or policy_saves(
            policy_2, prim, avals, params
        )

    return policy


def offload_dot_with_no_batch_dims(offload_src: str, offload_dst: str) -> Callable:
    """As ``dots_with_no_batch_dims_saveable``, but such dots' results are offloaded
    (from memory kind ``offload_src`` to ``offload_dst``) instead of kept."""

    def policy(prim, *_, **params):
        if _is_dot(prim):
            (_, _), (lhs_b, rhs_b) = params["dimension_numbers"]
            if not lhs_b and not rhs_b:
                return Offloadable(src=offload_src, dst=offload_dst)
        return Recompute

    return policy


def save_and_offload_only_these_names(
    *, names_which_can_be_saved, names_which_can_be_offloaded, offload_src, offload_dst
) -> Callable:
    """As ``save_only_these_names``, and the values named in
    ``names_which_can_be_offloaded`` are offloaded instead of recomputed."""
    saved, offloaded = set(names_which_can_be_saved), set(names_which_can_be_offloaded)
    both = saved & offloaded
    if both:
        raise ValueError(
            "The names should be exclusive and should not intersect in "
            "`names_which_can_be_saved` and `names_which_can_be_offloaded`. Got "
            f"names_which_can_be_saved={saved}, names_which_can_be_offloaded={offloaded} "
            f"and the intersection={both}"
        )

    def policy(prim, *_, **params):
        if prim is name_p and params["name"] in saved:
            return Saveable
        if prim is name_p and params["name"] in offloaded:
            return Offloadable(src=offload_src, dst=offload_dst)
        return Recompute

    return policy


def offload_residuals(split: dict[str, Any], policy) -> dict[str, Any]:
    """Residuals whose equation ``policy`` offloads: moved to the ``dst`` memory right
    after that equation, and back to ``src`` before the first staged equation that
    reads them (JAX's ``device_put`` equations; the residual passed is the moved one)."""
    if policy is None:
        return split
    from .sharding.placement import NO_SOURCE, mem_kind_to_space, transfer_eqn

    residuals = split["residuals"]
    producer = {v: e for e in split["known"] for v in e.outvars}
    moves: dict[Var, tuple[Var, Offloadable]] = {}
    for r in residuals:
        e = producer.get(r)
        if e is None:
            continue
        ans = policy(e.primitive, *[x.aval for x in e.invars], **e.params)
        if isinstance(ans, Offloadable):
            moves[r] = (Var(r.aval.update(memory_space=mem_kind_to_space(ans.dst))), ans)
    if not moves:
        return split

    known = []
    for e in split["known"]:
        known.append(e)
        for v in e.outvars:
            if v in moves:
                moved, ans = moves[v]
                known.append(transfer_eqn(v, moved, ans.dst, NO_SOURCE))
    staged = split["staged"]
    eqns, pending = [], dict(moves)
    for e in staged.eqns:
        for v in e.invars:
            if not _lit(v) and v in pending:
                moved, ans = pending.pop(v)
                eqns.append(transfer_eqn(moved, v, ans.src, NO_SOURCE))
        eqns.append(e)
    for v, (moved, ans) in pending.items():  # (read by the staged outputs only)
        eqns.append(transfer_eqn(moved, v, ans.src, NO_SOURCE))
    new_res = [moves[r][0] if r in moves else r for r in residuals]
    n = len(residuals)
    invars = new_res + list(staged.invars[n:])
    staged = Jaxpr(staged.constvars, invars, staged.outvars, eqns, staged.debug_name)
    return dict(split, known=known, residuals=new_res, staged=staged)


class _Policies:
    """``jax.checkpoint_policies``: the policies by name."""

    everything_saveable = staticmethod(everything_saveable)
    nothing_saveable = staticmethod(nothing_saveable)
    dots_saveable = dots_saveable
    checkpoint_dots = checkpoint_dots
    dots_with_no_batch_dims_saveable = dots_with_no_batch_dims_saveable
    checkpoint_dots_with_no_batch_dims = checkpoint_dots_with_no_batch_dims
    save_only_these_names = staticmethod(save_only_these_names)
    save_any_names_but_these = staticmethod(save_any_names_but_these)
    save_anything_except_these_names = staticmethod(save_anything_except_these_names)
    save_from_both_policies = staticmethod(save_from_both_policies)
    offload_dot_with_no_batch_dims = staticmethod(offload_dot_with_no_batch_dims)
    save_and_offload_only_these_names = staticmethod(save_and_offload_only_these_names)

    def __repr__(self):
        return "<module 'checkpoint_policies'>"


checkpoint_policies = _Policies()
