"""The varying-manual-axes types of check_vma shard_map bodies, as JAX 0.10.2's: every
value's type names the manual mesh axes it may vary over (``aval.vma``, printed
f32[3]{V:i}). Collectives compute it themselves (psum makes a value invariant over its
axes, axis_index varies over its axis, pvary adds axes: engine/lax/parallel.py); every
other primitive's result varies over the union of its operands' axes, after core's bind
has inserted pvary on the operands that vary over fewer (JAX's implicit pcast).

pvary (invariant -> varying, a no-op at run time) and psum_invariant (a psum whose
result is invariant) transpose to each other.

A value may also be unreduced (each member holds a share of the sum) or reduced over
manual axes, written in its type's sharding spec ({U:X}, {R:X}). The casts between
these states and the collectives out of them, each beside its transpose:
unreduced_psum / preduced, vary_unreduced_cast / reduced_vary_cast,
unreduced_reduce_scatter / all_gather_reduced.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .. import core
from ..core import Primitive
from ..interpreters import batching
from ..interpreters.jvp import deflinear
from . import elementwise as ew
from .reductions import reduce_sum
from .structural import full_like


class _VmaContext(threading.local):
    def __init__(self) -> None:
        self.manual: frozenset = frozenset()  # the axes the enclosing shard_map made manual
        self.check = False  # whether its body is typed with varying axes (check_vma)
        self.mesh: Any = None  # its mesh as its body sees it (manual axes Manual)


_vma = _VmaContext()


@contextlib.contextmanager
def manual_axes_context(
    manual: frozenset, check_vma: bool, mesh_axis_names: Sequence[Any] = (), body_mesh: Any = None
) -> Iterator[None]:
    """While a shard_map body is traced or run: its manual axes, and whether values are
    typed with the axes they vary over (then bind matches operands' varying axes)."""
    prev = _vma.manual, _vma.check, _vma.mesh
    _vma.manual, _vma.check = frozenset(manual), bool(check_vma)
    _vma.mesh = body_mesh if body_mesh is not None else prev[2]
    if mesh_axis_names:
        core.note_axis_order(mesh_axis_names)
    core.vma_bodies += bool(check_vma)
    try:
        yield
    finally:
        core.vma_bodies -= bool(check_vma)
        _vma.manual, _vma.check, _vma.mesh = prev


def enclosing_manual_axes() -> frozenset:
    """The mesh axes made manual by the shard_map bodies around the code running now."""
    return _vma.manual


def checking_vma() -> bool:
    """Whether the code running now is a check_vma=True shard_map body."""
    return _vma.check


def vma_of(x: Any) -> frozenset:
    return core.get_aval(x).vma


def pvary_missing(x: Any, axes: Any) -> Any:
    """x made varying over those of ``axes`` it does not vary over already."""
    missing = set(axes) - vma_of(x)
    return pvary_p.bind(x, axes=core.order_axes(missing)) if missing else x


def _match_vma(args: Sequence[Any]) -> Sequence[Any]:
    """Operands made to vary over the same axes (JAX's implicit pcast to 'varying')."""
    if not _vma.check:
        return args
    vmas = [vma_of(x) for x in args]
    union = frozenset().union(*vmas)
    if all(v == union for v in vmas):
        return args
    return [_vary_missing(x, union) for x in args]


def _vary_missing(x: Any, axes: frozenset) -> Any:
    """JAX's implicit pcast: a value reduced over exactly the axes it lacks is cast from
    reduced to varying (reduced_vary_cast), any other is pvary'd."""
    missing = set(axes) - vma_of(x)
    if missing and ur_axes(core.get_aval(x))[1] == missing:
        return reduced_vary_cast_p.bind(x, axes=core.order_axes(missing))
    return pvary_missing(x, axes)


core.match_vma_hook = _match_vma


def vary_to_spec(x: Any, spec: Any) -> Any:
    """A shard_map output made varying over the mesh axes its out_spec names, and
    unreduced over its unreduced axes (JAX's implicit pvary and vary_unreduced_cast on
    outputs under check_vma)."""
    from ..shard_map import _spec_names

    if not core.is_tracer(x):
        return x
    x = pvary_missing(x, _spec_names(spec))
    unreduced = set(spec.unreduced) - ur_axes(core.get_aval(x))[0]
    return vary_unreduced_cast(x, tuple(unreduced)) if unreduced else x


def collective_vma(x: Any, axes: Sequence[Any]) -> Any:
    """A collective's operand made varying over its axes first (under check_vma)."""
    return pvary_missing(x, axes) if _vma.check and core.is_tracer(x) else x


# ---------------------------------------------------------------------------- pvary, psum_invariant

pvary_p = Primitive("pvary")
pvary_p.computes_vma = True


def _pvary_abstract_eval(x, *, axes):
    _check_not_ur(x, axes, "pvary")
    return x.update(vma=x.vma | set(axes))


pvary_p.def_abstract_eval(_pvary_abstract_eval)


def _pvary_impl(x, *, axes):
    raise ValueError("pvary should be called under jax.shard_map.")


pvary_p.def_impl(_pvary_impl)
# Values are the same on every member, so each member's copy is x itself; the
# cotangent of an invariant value is the sum of every member's (pvary and psum transpose
# to each other, as JAX's types have it).
deflinear(pvary_p, lambda ct, x, *, axes: [psum_invariant_p.bind(ct, axes=axes)])


def _pvary_rule(size, frame, vals, dims, *, axes):
    if frame in axes:
        return vals[0], dims[0]
    return pvary_p.bind(vals[0], axes=axes), dims[0]


batching.collective_batchers[pvary_p] = (lambda params: tuple(params["axes"]), _pvary_rule)
pvary_p.def_lowering(lambda ctx, x, *, axes: x)


def _outside_shard_map(x, *, axes):
    raise NameError(
        f"Found an unbound axis name: {axes[0]}. To fix this, please call psum under "
        "`jax.shard_map`."
    )


# psum of a varying value under check_vma: its transpose is pvary (psum's is psum)
psum_invariant_p = Primitive("psum_invariant")
psum_invariant_p.computes_vma = True
psum_invariant_p.def_impl(_outside_shard_map)


def _psum_invariant_abstract_eval(x, *, axes):
    _check_not_ur(x, axes, "psum_invariant")
    return x.update(vma=x.vma - set(axes))


psum_invariant_p.def_abstract_eval(_psum_invariant_abstract_eval)


def _psum_invariant_rule(size, frame, vals, dims, *, axes):
    (x,), (d,) = vals, dims
    if frame not in axes:
        return psum_invariant_p.bind(x, axes=axes), d
    rest = tuple(a for a in axes if a != frame)
    y = ew.mul(x, full_like(x, size)) if d is None else reduce_sum(x, (d,))
    return (psum_invariant_p.bind(y, axes=rest) if rest else y), None


batching.collective_batchers[psum_invariant_p] = (
    lambda params: tuple(params["axes"]),
    _psum_invariant_rule,
)
deflinear(psum_invariant_p, lambda ct, x, *, axes: [pvary_p.bind(ct, axes=axes)])


def axes_state(leaf: Any, axes: Sequence[Any], api_name: str) -> str:
    """'varying', 'unreduced', 'reduced' or 'invarying': how ``leaf`` stands over all of
    ``axes`` (JAX's error where it stands differently over some of them)."""
    aval = core.get_aval(leaf)
    unreduced, reduced = ur_axes(aval)
    states = {
        "varying"
        if a in aval.vma
        else "unreduced"
        if a in unreduced
        else "reduced"
        if a in reduced
        else "invarying"
        for a in axes
    }
    if len(states) > 1:
        raise ValueError(
            f"{api_name} can only accept axis_name which corresponds to one of varying, "
            "unreduced, reduced or invarying state of the input. Got input type: "
            f"{aval.str_long()}, axes: {tuple(axes)} and input state: {states}"
        )
    (state,) = states
    return state


def pvary_leaf(leaf: Any, axes: tuple[Any, ...]) -> Any:
    already = set(axes) & vma_of(leaf)
    if already:
        raise ValueError(
            "pvary is a invariant->variant collective. This means that the axis names "
            "mentioned in `axes` passed to `pvary` must not be present in "
            f"`jax.typeof(inp).mat.varying`. Got axes={axes} and "
            f"jax.typeof(inp)={core.get_aval(leaf)}"
        )
    return pvary_p.bind(leaf, axes=core.order_axes(axes))


# ---------------------------------------------------------------------------- unreduced / reduced
#
# In a check_vma body a value may also be unreduced over manual axes (each member holds a
# partial sum: an in_spec with unreduced=, or a varying value cast with pcast) or reduced
# over them (replicated, its cotangent unreduced). As the engine's Explicit-mesh types do,
# the type says so in its sharding's spec (over the body's mesh, on which the manual axes
# are Manual), printed {U:X} / {R:X} after the varying axes.


def ur_axes(aval: Any) -> tuple[frozenset, frozenset]:
    """(unreduced, reduced) mesh axes of a type."""
    s = getattr(aval, "sharding", None)
    if s is None:
        return frozenset(), frozenset()
    return frozenset(s.spec.unreduced), frozenset(s.spec.reduced)


def with_ur(aval: Any, unreduced: frozenset, reduced: frozenset, vma: frozenset) -> Any:
    """``aval`` unreduced and reduced over those axes and varying over ``vma`` (a body
    type with neither, split over no Explicit axis, carries no sharding)."""
    from ..sharding.named import NamedSharding, PartitionSpec

    s = aval.sharding
    entries = tuple(s.spec._normalized(aval.ndim)) if s is not None else (None,) * aval.ndim
    mesh = s.mesh if s is not None else _vma.mesh
    sharding = None
    if unreduced or reduced or any(e is not None for e in entries):
        spec = PartitionSpec(*entries, unreduced=unreduced, reduced=reduced)
        sharding = NamedSharding(mesh, spec)
    return aval.update(sharding=sharding, vma=frozenset(vma))


def _ordered(axes: Any) -> tuple:
    if not isinstance(axes, tuple):
        axes = (axes,)
    return core.order_axes(axes)


def _bind_each(prim: Primitive, x: Any, axes: Any) -> Any:
    from .. import tree_util

    if not axes:
        return x
    if not _vma.check and set(_ordered(axes)) <= _vma.manual:
        return x  # a check_vma=False body has no such types to cast
    ordered = _ordered(axes)
    return tree_util.tree_map(lambda leaf: prim.bind(leaf, axes=ordered), x)


def _raise_outside(name: str):
    def impl(x, *, axes):
        raise ValueError(f"{name} should be called under jax.shard_map.")

    return impl


def _self_typed(prim: Primitive, rule) -> None:
    from . import sharding_rules

    prim.computes_vma = True
    prim.def_abstract_eval(rule)
    # the rule types the result's sharding itself (its unreduced/reduced axes)
    sharding_rules.TYPED_BY_THEMSELVES.add(prim.name)


# unreduced_psum: Unreduced -> Invariant (the all-reduce of the partial sums)
unreduced_psum_p = Primitive("unreduced_psum")


def _unreduced_psum_abstract_eval(x, *, axes):
    unreduced, reduced = ur_axes(x)
    if not unreduced:
        raise ValueError(
            f"unreduced_psum only accepts inputs that are unreduced. Got {x.str_short()}"
        )
    if not unreduced & set(axes):
        raise ValueError(
            "unreduced_psum is a Unreduced -> Invariant collective. This means that the "
            f"axes={axes} passed to `unreduced_psum` must be present in "
            f"jax.typeof(x).mat.unreduced={unreduced}"
        )
    if x.vma & set(axes):
        raise ValueError(
            "unreduced_psum's input cannot be varying across the  axis_name provided. Got "
            f"x={x.str_short()} and axes={axes}"
        )
    return with_ur(x, unreduced - set(axes), reduced, x.vma)


_self_typed(unreduced_psum_p, _unreduced_psum_abstract_eval)
unreduced_psum_p.def_impl(_outside_shard_map)


def unreduced_psum(x: Any, axes: Any) -> Any:
    from .. import tree_util

    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    return tree_util.tree_map(lambda leaf: unreduced_psum_p.bind(leaf, axes=axes), x)


# preduced: Invariant -> Reduced, a no-op at run time (unreduced_psum's transpose)
preduced_p = Primitive("preduced")


def _preduced_abstract_eval(x, *, axes):
    unreduced, reduced = ur_axes(x)
    if x.vma & set(axes):
        raise ValueError(
            "preduced is a Invariant->Reduced collective. This means that the axis names "
            "mentioned in `axes` passed to `preduced` must not be present in "
            f"`jax.typeof(inp).mat.varying`. Got axes={axes} and "
            f"jax.typeof(inp).mat.varying={x.vma}"
        )
    if reduced & set(axes):
        raise ValueError(
            "preduced input cannot be reduced across the axis_name provided. Got "
            f"x={x.str_short()} and axis_name={axes}"
        )
    return with_ur(x, unreduced, reduced | set(axes), x.vma)


_self_typed(preduced_p, _preduced_abstract_eval)
preduced_p.def_impl(_raise_outside("preduced"))


def preduced(x: Any, axes: Any) -> Any:
    return _bind_each(preduced_p, x, axes)


# vary_unreduced_cast: Varying -> Unreduced, a no-op (each member's value is its share)
vary_unreduced_cast_p = Primitive("vary_unreduced_cast_p")


def _vary_unreduced_cast_abstract_eval(x, *, axes):
    unreduced, reduced = ur_axes(x)
    _check_not_ur(x, axes, "vary_unreduced_cast")
    if not x.vma:
        raise ValueError(
            f"vary_unreduced_cast only accepts inputs that are varying. Got {x.str_short()}"
        )
    if not x.vma & set(axes):
        raise ValueError(
            "vary_unreduced_cast is a Varying->Unreduced collective. This means that the "
            "axis names mentioned in `axes` passed to `vary_unreduced_cast` must be present "
            f"in `jax.typeof(x).mat.varying`. Got axes={axes} and "
            f"jax.typeof(x).mat.varying={x.vma}"
        )
    return with_ur(x, unreduced | set(axes), reduced, x.vma - set(axes))


_self_typed(vary_unreduced_cast_p, _vary_unreduced_cast_abstract_eval)
vary_unreduced_cast_p.def_impl(_raise_outside("vary_unreduced_cast"))


def vary_unreduced_cast(x: Any, axes: Any) -> Any:
    return _bind_each(vary_unreduced_cast_p, x, axes)


# reduced_vary_cast: Reduced -> Varying, a no-op (vary_unreduced_cast's transpose)
reduced_vary_cast_p = Primitive("reduced_vary_cast_p")


def _reduced_vary_cast_abstract_eval(x, *, axes):
    unreduced, reduced = ur_axes(x)
    if not reduced:
        raise ValueError(
            f"reduced_vary_cast only accepts inputs that are reduced. Got {x.str_short()}"
        )
    if not reduced & set(axes):
        raise ValueError(
            "reduced_vary_cast is a Reduced->Varying collective. This means that the axis "
            "names mentioned in `axes` passed to `reduced_vary_cast` must be present in "
            f"`jax.typeof(x).mat.reduced`. Got axes={axes} and "
            f"jax.typeof(x).mat.reduced={reduced}"
        )
    if x.vma & set(axes):
        raise ValueError(
            "reduced_vary_cast input cannot be varying across the axis_name provided. Got "
            f"x={x.str_short()} and axis_name={axes}"
        )
    return with_ur(x, unreduced, reduced - set(axes), x.vma | set(axes))


_self_typed(reduced_vary_cast_p, _reduced_vary_cast_abstract_eval)
reduced_vary_cast_p.def_impl(_raise_outside("reduced_vary_cast"))


def reduced_vary_cast(x: Any, axes: Any) -> Any:
    return _bind_each(reduced_vary_cast_p, x, axes)


def _check_not_ur(x: Any, axes: Any, name: str) -> None:
    unreduced, reduced = ur_axes(x)
    for what, have in (("unreduced", unreduced), ("reduced", reduced)):
        if have & set(axes):
            raise ValueError(
                f"{name} cannot accept args which are {what}. Got {x.str_short()} and "
                f"axes={set(axes)}"
            )


deflinear(unreduced_psum_p, lambda ct, x, *, axes: [preduced(ct, axes)])
deflinear(preduced_p, lambda ct, x, *, axes: [unreduced_psum(ct, axes)])
deflinear(vary_unreduced_cast_p, lambda ct, x, *, axes: [reduced_vary_cast(ct, axes)])
deflinear(reduced_vary_cast_p, lambda ct, x, *, axes: [vary_unreduced_cast(ct, axes)])


# Every member's body at once (a shard_map run as nested named batches): an unreduced
# value holds each member's share of the sum, so unreduced_psum sums them over its batch
# axis; the casts change only the type. Under a plain vmap they are refused, as JAX's.
def _unreduced_psum_rule(size, frame, vals, dims, *, axes):
    (x,), (d,) = vals, dims
    if frame not in axes:
        if frame is None:  # a plain vmap
            raise NotImplementedError
        return unreduced_psum_p.bind(x, axes=axes), d
    rest = tuple(a for a in axes if a != frame)
    y = ew.mul(x, full_like(x, size)) if d is None else reduce_sum(x, (d,))
    return (unreduced_psum_p.bind(y, axes=rest) if rest else y), None


def _cast_rule(prim: Primitive):
    def rule(size, frame, vals, dims, *, axes):
        (x,), (d,) = vals, dims
        if frame not in axes:
            if frame is None:  # a plain vmap
                raise NotImplementedError
            return prim.bind(x, axes=axes), d
        rest = tuple(a for a in axes if a != frame)
        return (prim.bind(x, axes=rest) if rest else x), d

    return rule


batching.collective_batchers[unreduced_psum_p] = (
    lambda params: tuple(params["axes"]),
    _unreduced_psum_rule,
)
for _p in (preduced_p, vary_unreduced_cast_p, reduced_vary_cast_p):
    batching.collective_batchers[_p] = (lambda params: tuple(params["axes"]), _cast_rule(_p))
    _p.def_lowering(lambda ctx, x, *, axes: x)


def _typed_by_themselves() -> None:
    from . import sharding_rules

    # their results keep the operand's sharding (with its unreduced/reduced axes)
    sharding_rules.TYPED_BY_THEMSELVES.update({pvary_p.name, psum_invariant_p.name})


_typed_by_themselves()


# ---------------------------------------------------------------------------- scatter / gather
#
# unreduced_reduce_scatter: Unreduced -> Varying (psum_scatter of partial sums: each
# member keeps its block of the sum); all_gather_reduced: Varying -> Reduced (all_gather
# with to='reduced'). Each is the other's transpose.

unreduced_reduce_scatter_p = Primitive("unreduced_reduce_scatter")


def _unreduced_reduce_scatter_abstract_eval(x, *, axis_name, scatter_dimension, axis_size, tiled):
    unreduced, reduced = ur_axes(x)
    if not unreduced:
        raise ValueError(
            f"unreduced_psum_scatter only accepts inputs that are unreduced. Got {x.str_short()}"
        )
    if not unreduced & set(axis_name):
        raise ValueError(
            "unreduced_psum_scatter is a Unreduced -> Varying collective. This means that "
            f"the axis_name={axis_name} passed to `unreduced_psum_scatter` must be present "
            f"in jax.typeof(x).mat.unreduced={unreduced}"
        )
    if x.vma & set(axis_name):
        raise ValueError(
            "unreduced_psum_scatter's input cannot be varying across the axis_name "
            f"provided. Got x={x.str_short()} and axis_name={axis_name}"
        )
    shape = list(x.shape)
    n = shape[scatter_dimension]
    if tiled:
        if n % axis_size:
            raise ValueError(
                f"tiled reduce_scatter operand scatter dimension size {n} must be divisible "
                f"by shard_count {axis_size}"
            )
        shape[scatter_dimension] = n // axis_size
    else:
        if n != axis_size:
            raise ValueError(
                f"reduce_scatter operand scatter dimension size {n} must match shard count "
                f"{axis_size}"
            )
        del shape[scatter_dimension]
    out = x.update(shape=tuple(shape), sharding=None)
    return with_ur(out, unreduced - set(axis_name), reduced, x.vma | set(axis_name))


_self_typed(unreduced_reduce_scatter_p, _unreduced_reduce_scatter_abstract_eval)
unreduced_reduce_scatter_p.def_impl(_raise_outside("unreduced_psum_scatter"))


def unreduced_psum_scatter(x: Any, axis_name: Any, *, scatter_dimension=0, tiled=False) -> Any:
    from .. import tree_util

    axes = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    size = 1
    for a in axes:
        size *= batching.axis_frame_size(a) or 1
    return tree_util.tree_map(
        lambda leaf: unreduced_reduce_scatter_p.bind(
            leaf, axis_name=axes, scatter_dimension=scatter_dimension, axis_size=size, tiled=tiled
        ),
        x,
    )


all_gather_reduced_p = Primitive("all_gather_reduced")


def _all_gather_reduced_abstract_eval(x, *, all_gather_dimension, axis_name, axis_size, tiled):
    unreduced, reduced = ur_axes(x)
    if not x.vma:
        raise ValueError(
            f"all_gather_reduced only accepts inputs that are varying. Got {x.str_short()}"
        )
    if not x.vma & set(axis_name):
        raise ValueError(
            "all_gather_reduced is a Varying -> Reduced collective. This means that the "
            f"axis_name={axis_name} passed to `all_gather_reduced` must be present in "
            f"jax.typeof(x).mat.varying={x.vma}"
        )
    if reduced & set(axis_name):
        raise ValueError(
            "all_gather_reduced's input cannot be reduced across the axis_name provided. "
            f"Got x={x.str_short()} and axis_name={axis_name}"
        )
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= axis_size
    else:
        shape.insert(all_gather_dimension, axis_size)
    out = x.update(shape=tuple(shape), sharding=None)
    return with_ur(out, unreduced, reduced | set(axis_name), x.vma - set(axis_name))


_self_typed(all_gather_reduced_p, _all_gather_reduced_abstract_eval)
all_gather_reduced_p.def_impl(_raise_outside("all_gather_reduced"))


def all_gather_reduced(x: Any, axis_name: Any, *, axis: int = 0, tiled: bool = False) -> Any:
    from .. import tree_util

    axes = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    size = 1
    for a in axes:
        size *= batching.axis_frame_size(a) or 1

    def bind(leaf):
        nd = core.get_aval(leaf).ndim
        dim = axis % (nd if tiled else nd + 1)
        return all_gather_reduced_p.bind(
            leaf, all_gather_dimension=dim, axis_name=axes, axis_size=size, tiled=tiled
        )

    return tree_util.tree_map(bind, x)


deflinear(
    unreduced_reduce_scatter_p,
    lambda ct, x, *, axis_name, scatter_dimension, axis_size, tiled: [
        all_gather_reduced(ct, axis_name, axis=scatter_dimension, tiled=tiled)
    ],
)
deflinear(
    all_gather_reduced_p,
    lambda ct, x, *, all_gather_dimension, axis_name, axis_size, tiled: [
        unreduced_psum_scatter(ct, axis_name, scatter_dimension=all_gather_dimension, tiled=tiled)
    ],
)


# As every member's body at once: the sum of the members' shares scattered (as
# reduce_scatter's rule), and the members' blocks gathered (as all_gather's).
def _unreduced_scatter_rule(size, frame, vals, dims, *, axis_name, **params):
    from .parallel import _other_axis, _reduce_scatter_rule

    if frame not in axis_name:
        if frame is None:
            raise NotImplementedError(
                "Please file an issue at https://github.com/jax-ml/jax/issues"
            )
        lost = 0 if params["tiled"] else -1
        full = dict(params, axis_name=axis_name)
        return _other_axis(
            unreduced_reduce_scatter_p, vals[0], dims[0], full, ("scatter_dimension",), lost
        )
    return _reduce_scatter_rule(
        size, frame, vals, dims, axis_name=axis_name, axis_index_groups=None, **params
    )


def _gather_reduced_rule(size, frame, vals, dims, *, axis_name, **params):
    from .parallel import _all_gather_rule, _other_axis

    if frame not in axis_name:
        if frame is None:
            raise NotImplementedError(
                "Please file an issue at https://github.com/jax-ml/jax/issues"
            )
        gained = 0 if params["tiled"] else 1
        full = dict(params, axis_name=axis_name)
        return _other_axis(
            all_gather_reduced_p, vals[0], dims[0], full, ("all_gather_dimension",), gained
        )
    return _all_gather_rule(
        size, frame, vals, dims, axis_name=axis_name, axis_index_groups=None, **params
    )


batching.collective_batchers[unreduced_reduce_scatter_p] = (
    lambda params: tuple(params["axis_name"]),
    _unreduced_scatter_rule,
)
batching.collective_batchers[all_gather_reduced_p] = (
    lambda params: tuple(params["axis_name"]),
    _gather_reduced_rule,
)
