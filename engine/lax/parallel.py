"""Collectives over named axes (psum, pmean, pmax, pmin, all_gather, psum_scatter,
all_to_all, ppermute, pbroadcast, axis_index, axis_size, pcast) with their rules, and
the varying-manual-axes types of check_vma shard_map bodies.

A named axis is bound by ``vmap(..., axis_name=)``, ``shard_map`` (its mesh axes) or
``pmap``. Under vmap a collective's batching rule computes it on the whole batch (psum
over the vmapped axis is a reduce_sum over the batch axis). ``shard_map`` runs its
body the same way, with one nested batch axis per mesh axis, so these rules are also
what gives a shard_map its values on any number of devices.

Differentiation follows JAX's rules: psum transposes to psum (pmap-style, without
varying-axis types), psum_invariant (a psum in a check_vma shard_map body) to pvary and
back, all_gather to psum_scatter and back, ppermute to the inverse permutation,
all_to_all to the swapped all_to_all. A psum (psum_scatter) of a value unreduced over
its axes binds unreduced_psum (unreduced_reduce_scatter); pcast and all_gather's to=
reach the reduced/unreduced types (engine/lax/parallel_vma.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import core, tree_util
from ..core import Primitive, ShapedArray
from ..interpreters import batching
from ..interpreters.jvp import deflinear
from . import elementwise as ew
from .convert import convert_element_type
from .logic import eq, select
from .parallel_vma import (  # noqa: F401  (the varying-axes machinery, re-exported)
    all_gather_reduced,
    all_gather_reduced_p,
    axes_state,
    checking_vma,
    collective_vma,
    enclosing_manual_axes,
    manual_axes_context,
    preduced,
    preduced_p,
    psum_invariant_p,
    pvary_leaf,
    pvary_p,
    reduced_vary_cast,
    reduced_vary_cast_p,
    unreduced_psum,
    unreduced_psum_p,
    unreduced_psum_scatter,
    unreduced_reduce_scatter_p,
    vary_to_spec,
    vary_unreduced_cast,
    vary_unreduced_cast_p,
)
from .reductions import reduce_max, reduce_min, reduce_sum
from .structural import broadcast_in_dim, full_like, iota, reshape, transpose

__all__ = [
    "psum",
    "pmean",
    "pmax",
    "pmin",
    "all_gather",
    "psum_scatter",
    "all_to_all",
    "pswapaxes",
    "ppermute",
    "pshuffle",
    "pbroadcast",
    "pcast",
    "axis_index",
    "axis_size",
    "psum_p",
    "pmax_p",
    "pmin_p",
    "all_gather_p",
    "reduce_scatter_p",
    "all_to_all_p",
    "ppermute_p",
    "pbroadcast_p",
    "axis_index_p",
    "pvary_p",
    "psum_invariant_p",
    "unreduced_psum_p",
    "preduced_p",
    "vary_unreduced_cast_p",
    "reduced_vary_cast_p",
    "unreduced_reduce_scatter_p",
    "all_gather_reduced_p",
]


# ---------------------------------------------------------------------------- axis names


def _as_axes(axis_name: Any) -> tuple[Any, ...]:
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _check_axis_names(axes: tuple[Any, ...], api_name: str) -> None:
    for name in axes:
        if isinstance(name, int):
            raise NotImplementedError(
                f"{api_name} over a positional (integer) axis is not implemented; "
                "reduce positional axes with lax.reduce_sum and friends"
            )
        if batching.axis_frame_size(name) is None:
            raise NameError(
                f"Found an unbound axis name: {name}. To fix this, please call "
                f"{api_name} under `jax.shard_map`."
            )


def _no_groups(axis_index_groups: Any, api_name: str) -> None:
    if axis_index_groups is not None:
        raise NotImplementedError(f"{api_name} with axis_index_groups is not implemented")


def _no_groups_in_vmap(axis_index_groups: Any, api_name: str) -> None:
    if axis_index_groups is not None:
        raise NotImplementedError(
            f"axis_index_groups not supported in vmap collectives ({api_name}); they run "
            "inside shard_map and pmap"
        )


def _groups(axis_index_groups: Any) -> tuple[tuple[int, ...], ...] | None:
    """Validated axis_index_groups (members reduced together), as tuples."""
    if axis_index_groups is None:
        return None
    groups = tuple(tuple(int(i) for i in g) for g in axis_index_groups)
    members = [i for g in groups for i in g]
    if sorted(members) != list(range(len(members))):
        raise ValueError("axis_index_groups must cover all indices exactly once")
    if len({len(g) for g in groups}) != 1:
        raise ValueError("axis_index_groups must all be the same size")
    return groups


def _group_size(axes: tuple[Any, ...], groups: Any) -> int:
    if groups is not None:
        if axis_size(axes) != sum(len(g) for g in groups):
            raise ValueError(
                f"axis_index_groups {groups} do not cover the {axis_size(axes)} members of "
                f"axis {axes}"
            )
        return len(groups[0])
    return axis_size(axes)


def axis_size(axis_name: Any) -> int:
    """The size of the named axis (a product over a tuple of names), a Python int."""
    axes = _as_axes(axis_name)
    _check_axis_names(axes, "axis_size")
    return math.prod(batching.axis_frame_size(n) for n in axes)  # type: ignore[misc]


def _collective_axes(key: str):
    return lambda params: _as_axes(params[key])


def _impl_outside(name: str):
    """Eager evaluation reaches a collective only when no named axis took it."""

    def impl(*args, **params):
        axes = params.get("axes", params.get("axis_name"))
        first = _as_axes(axes)[0]
        raise NameError(
            f"Found an unbound axis name: {first}. To fix this, please call {name} "
            "under `jax.shard_map`."
        )

    return impl


def _moveaxis(x: Any, src: int, dst: int) -> Any:
    nd = core.get_aval(x).ndim
    src, dst = src % nd, dst % nd
    if src == dst:
        return x
    perm = [i for i in range(nd) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def _split_axis(x: Any, axis: int, factor: int) -> Any:
    shape = list(core.get_aval(x).shape)
    shape[axis : axis + 1] = [factor, shape[axis] // factor]
    return reshape(x, tuple(shape))


def _fold_axis(x: Any, axis: int) -> Any:
    """Merge axis and axis+1 into one."""
    shape = list(core.get_aval(x).shape)
    shape[axis : axis + 2] = [shape[axis] * shape[axis + 1]]
    return reshape(x, tuple(shape))


def _broadcast_batch(x: Any, size: int, d: int | None) -> tuple[Any, int]:
    if d is not None:
        return x, d
    return batching.move_batch_axis(size, None, 0, x), 0


def _other_axis(
    prim: Primitive, x: Any, d: int | None, params: dict, dim_params: tuple, rank_change: int
) -> tuple[Any, int | None]:
    """A collective over named axes other than the one being batched: it runs on the
    batched value as it is, its dimension params (``dim_params``) shifted past the
    batch axis ``d``. ``rank_change`` (+1, -1 or 0) is how many dimensions the
    collective adds at (or removes from) ``params[dim_params[0]]``; a batch axis after
    that position moves with it."""
    if d is None:
        return prim.bind(x, **params), None
    shifted = {k: params[k] + (d <= params[k]) for k in dim_params}
    out_d = d + rank_change if d > params[dim_params[0]] else d
    return prim.bind(x, **{**params, **shifted}), out_d


def _take_along(x: Any, indices: np.ndarray, axis: int) -> Any:
    """x with axis ``axis`` reindexed by a static index list (a static gather)."""
    from .slicing import index_in_dim
    from .structural import concatenate

    parts = [index_in_dim(x, int(i), axis, keepdims=True) for i in indices]
    return parts[0] if len(parts) == 1 else concatenate(parts, axis)


# ---------------------------------------------------------------------------- psum, pmax, pmin


def _allreduce_abstract_eval(x: ShapedArray, *, axes, axis_index_groups) -> ShapedArray:
    return x.update(vma=x.vma - set(axes)) if x.vma else x


def _make_allreduce(name: str, reduce_batch, if_unbatched) -> Primitive:
    prim = Primitive(name)
    prim.computes_vma = True
    prim.def_abstract_eval(_allreduce_abstract_eval)
    prim.def_impl(_impl_outside(name))

    def rule(size, frame, vals, dims, *, axes, axis_index_groups):
        (x,), (d,) = vals, dims
        if frame not in axes:
            return prim.bind(x, axes=axes, axis_index_groups=axis_index_groups), d
        _no_groups_in_vmap(axis_index_groups, name)
        rest = tuple(a for a in axes if a != frame)
        y = if_unbatched(x, size) if d is None else reduce_batch(x, (d,))
        if rest:
            y = prim.bind(y, axes=rest, axis_index_groups=None)
        return y, None

    batching.collective_batchers[prim] = (_collective_axes("axes"), rule)
    return prim


def _scale(x, size):
    return ew.mul(x, full_like(x, size))


psum_p = _make_allreduce("psum", reduce_sum, _scale)
pmax_p = _make_allreduce("pmax", reduce_max, lambda x, size: x)
pmin_p = _make_allreduce("pmin", reduce_min, lambda x, size: x)


def _psum_transpose(ct, x, *, axes, axis_index_groups):
    return [psum_p.bind(ct, axes=axes, axis_index_groups=axis_index_groups)]


deflinear(psum_p, _psum_transpose)


def _reduce_leaves(x, axis_name, axis_index_groups, prim, api_name):
    axes = _as_axes(axis_name)
    if not axes:
        return x
    _check_axis_names(axes, api_name)
    groups = _groups(axis_index_groups)
    size = _group_size(axes, groups)

    def bind(leaf):
        if prim is psum_p and core.get_aval(leaf).dtype == np.bool_:
            leaf = convert_element_type(leaf, np.int32)
        if prim is psum_p and not core.is_tracer(leaf):
            # a constant is the same on every member: the sum is a multiple of it
            return size * leaf
        if prim is psum_p and checking_vma() and core.is_tracer(leaf):
            # (some varying, some not: JAX's error)
            if axes_state(leaf, axes, "jax.lax.psum") == "unreduced":
                if groups is not None:
                    raise NotImplementedError
                return unreduced_psum(leaf, axes)
        leaf = collective_vma(leaf, axes)
        if prim is psum_p and checking_vma():
            if groups is not None:
                raise NotImplementedError(
                    "psum with axis_index_groups inside a check_vma=True shard_map; pass "
                    "check_vma=False"
                )
            return psum_invariant_p.bind(leaf, axes=axes)
        return prim.bind(leaf, axes=axes, axis_index_groups=groups)

    return tree_util.tree_map(bind, x)


def psum(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """All-reduce sum of ``x`` (a pytree) over the named axis or axes."""
    return _reduce_leaves(x, axis_name, axis_index_groups, psum_p, "psum")


def pmax(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """All-reduce maximum of ``x`` over the named axis or axes."""
    return _reduce_leaves(x, axis_name, axis_index_groups, pmax_p, "pmax")


def pmin(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """All-reduce minimum of ``x`` over the named axis or axes."""
    return _reduce_leaves(x, axis_name, axis_index_groups, pmin_p, "pmin")


def pmean(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """All-reduce mean of ``x`` over the named axis or axes."""
    total = psum(x, axis_name, axis_index_groups=axis_index_groups)
    n = _group_size(_as_axes(axis_name), _groups(axis_index_groups))
    return tree_util.tree_map(lambda v: v / n, total)


# ---------------------------------------------------------------------------- axis_index

axis_index_p = Primitive("axis_index")
axis_index_p.def_impl(_impl_outside("axis_index"))


axis_index_p.computes_vma = True


class _Unremembered(dict):
    """A shape memo that keeps nothing: axis_index's type depends on the body it is in
    (varying over its axis only in a check_vma one), not on its params alone."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


axis_index_p._shape_memo = _Unremembered()


@axis_index_p.def_abstract_eval
def _axis_index_abstract_eval(*, axis_name):
    varying = checking_vma() and axis_name in enclosing_manual_axes()
    return ShapedArray((), np.int32, vma=frozenset([axis_name]) if varying else frozenset())


def _axis_index_rule(size, frame, vals, dims, *, axis_name):
    return iota(np.int32, size), 0


batching.collective_batchers[axis_index_p] = (_collective_axes("axis_name"), _axis_index_rule)


def axis_index(axis_name: Any) -> Any:
    """This member's index along the named axis (row-major over a tuple of names)."""
    axes = _as_axes(axis_name)
    _check_axis_names(axes, "axis_index")
    if len(axes) == 1:
        return axis_index_p.bind(axis_name=axes[0])
    index, inner = None, 1
    for name in reversed(axes):
        term = ew.mul(axis_index_p.bind(axis_name=name), np.int32(inner))
        index = term if index is None else ew.add(index, term)
        inner *= axis_size(name)
    return index


# ---------------------------------------------------------------------------- ppermute

ppermute_p = Primitive("ppermute")
ppermute_p.def_impl(_impl_outside("ppermute"))
ppermute_p.def_abstract_eval(lambda x, *, axis_name, perm: x)
ppermute_p.computes_vma = True


def _ppermute_rule(size, frame, vals, dims, *, axis_name, perm):
    (x,), (d,) = vals, dims
    if frame not in axis_name:
        return ppermute_p.bind(x, axis_name=axis_name, perm=perm), d
    rest = tuple(a for a in axis_name if a != frame)
    if rest:
        raise NotImplementedError("ppermute over several named axes under vmap")
    x, d = _broadcast_batch(x, size, d)
    source = np.zeros(size, np.int64)
    received = np.zeros(size, bool)
    for src, dst in perm:
        source[dst], received[dst] = src, True
    y = _take_along(x, source, d)
    if not received.all():  # members nobody sends to receive zeros
        shape = core.get_aval(y).shape
        mask = broadcast_in_dim(np.asarray(received), shape, (d,))
        y = select(mask, y, full_like(y, 0))
    return y, d


batching.collective_batchers[ppermute_p] = (_collective_axes("axis_name"), _ppermute_rule)


def _ppermute_transpose(ct, x, *, axis_name, perm):
    inverse = tuple((dst, src) for src, dst in perm)
    return [ppermute_p.bind(ct, axis_name=axis_name, perm=inverse)]


deflinear(ppermute_p, _ppermute_transpose)


def ppermute(x: Any, axis_name: Any, perm: Any) -> Any:
    """Send each member's ``x`` to another: ``perm`` lists (source, destination) pairs;
    members no one sends to get zeros."""
    axes = _as_axes(axis_name)
    _check_axis_names(axes, "ppermute")
    n = axis_size(axes)
    given = tuple((int(s), int(d)) for s, d in perm)
    if any(not -n <= i < n for pair in given for i in pair):
        raise ValueError(
            f"ppermute indices must lie in [-{n}, {n}) for axis {axis_name}, got {given}"
        )
    perm = tuple((s % n, d % n) for s, d in given)  # negative indices count from the end
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute sources and destinations must be unique, got {given}.")
    return tree_util.tree_map(
        lambda leaf: ppermute_p.bind(collective_vma(leaf, axes), axis_name=axes, perm=perm), x
    )


def pshuffle(x: Any, axis_name: Any, perm: Any) -> Any:
    """Member i receives the value of member ``perm[i]``."""
    if set(perm) != set(range(len(perm))):
        raise ValueError(f"`perm` does not represent a permutation: {perm}")
    return ppermute(x, axis_name, list(zip(perm, range(len(perm)))))


# ---------------------------------------------------------------------------- pbroadcast

pbroadcast_p = Primitive("pbroadcast")
pbroadcast_p.def_impl(_impl_outside("pbroadcast"))
pbroadcast_p.def_abstract_eval(lambda x, *, axis_name, source: x)
pbroadcast_p.computes_vma = True


def _pbroadcast_rule(size, frame, vals, dims, *, axis_name, source):
    (x,), (d,) = vals, dims
    if frame not in axis_name:
        return pbroadcast_p.bind(x, axis_name=axis_name, source=source), d
    if len(axis_name) > 1:
        raise NotImplementedError("pbroadcast batcher only supports a single axis")
    if d is None:
        return x, None
    return _take_along(x, np.full(size, source), d), d


batching.collective_batchers[pbroadcast_p] = (_collective_axes("axis_name"), _pbroadcast_rule)


def _pbroadcast_transpose(ct, x, *, axis_name, source):
    is_source = eq(axis_index(axis_name), np.int32(source))
    total = psum_p.bind(ct, axes=axis_name, axis_index_groups=None)
    shape = core.get_aval(ct).shape
    mask = broadcast_in_dim(is_source, shape, ())
    return [select(mask, total, full_like(ct, 0))]


deflinear(pbroadcast_p, _pbroadcast_transpose)


def pbroadcast(x: Any, axis_name: Any, source: int) -> Any:
    """Every member gets member ``source``'s value of ``x``."""
    axes = _as_axes(axis_name)
    _check_axis_names(axes, "pbroadcast")
    return tree_util.tree_map(
        lambda leaf: pbroadcast_p.bind(
            collective_vma(leaf, axes), axis_name=axes, source=int(source)
        ),
        x,
    )


# ---------------------------------------------------------------------------- all_gather

all_gather_p = Primitive("all_gather")
all_gather_p.computes_vma = True
all_gather_p.def_impl(_impl_outside("all_gather"))


@all_gather_p.def_abstract_eval
def _all_gather_abstract_eval(
    x, *, all_gather_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    shape = list(x.shape)
    if tiled:
        shape[all_gather_dimension] *= axis_size
    else:
        shape.insert(all_gather_dimension, axis_size)
    return x.update(shape=tuple(shape))


def _all_gather_rule(
    size, frame, vals, dims, *, all_gather_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    (x,), (d,) = vals, dims
    params = dict(
        all_gather_dimension=all_gather_dimension,
        axis_name=axis_name,
        axis_index_groups=axis_index_groups,
        axis_size=axis_size,
        tiled=tiled,
    )
    if frame not in axis_name:
        gained = 0 if tiled else 1  # an untiled gather inserts a dimension
        return _other_axis(all_gather_p, x, d, params, ("all_gather_dimension",), gained)
    dim = all_gather_dimension
    _no_groups_in_vmap(axis_index_groups, "all_gather")
    if len(axis_name) > 1:
        raise NotImplementedError("all_gather over several named axes under vmap")
    x, d = _broadcast_batch(x, size, d)
    y = _moveaxis(x, d, dim)
    if tiled:
        y = _fold_axis(y, dim)
    return y, None


batching.collective_batchers[all_gather_p] = (_collective_axes("axis_name"), _all_gather_rule)


def _all_gather_transpose(
    ct, x, *, all_gather_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    return [
        reduce_scatter_p.bind(
            ct,
            scatter_dimension=all_gather_dimension,
            axis_name=axis_name,
            axis_index_groups=axis_index_groups,
            axis_size=axis_size,
            tiled=tiled,
        )
    ]


deflinear(all_gather_p, _all_gather_transpose)


def _canonical_axis(axis: int, ndim: int, api_name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{api_name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def all_gather(
    x: Any,
    axis_name: Any,
    *,
    axis_index_groups: Any = None,
    axis: int = 0,
    tiled: bool = False,
    to: str = "varying",
) -> Any:
    """Gather every member's ``x``: stacked along a new axis ``axis`` (concatenated
    along the existing ``axis`` when ``tiled``); ``to='reduced'`` types the result
    reduced over the axes (all_gather_reduced)."""
    allowed = {"varying", "reduced", "invarying"}
    if to not in allowed:
        raise ValueError(
            "Got unexpected `to` value for `jax.lax.all_gather`. Allowed `to` values are: "
            f"{allowed}"
        )
    axes = _as_axes(axis_name)
    if to == "reduced":
        if axis_index_groups is not None:
            raise NotImplementedError
        return all_gather_reduced(x, axes, axis=axis, tiled=tiled) if axes else x
    if to == "invarying":
        raise NotImplementedError("all_gather(to='invarying') (all_gather_invariant)")
    if not axes:
        return x
    _check_axis_names(axes, "all_gather")
    groups = _groups(axis_index_groups)
    n = _group_size(axes, groups)

    def bind(leaf):
        nd = core.get_aval(leaf).ndim
        dim = _canonical_axis(axis, nd if tiled else nd + 1, "all_gather")
        return all_gather_p.bind(
            collective_vma(leaf, axes),
            all_gather_dimension=dim,
            axis_name=axes,
            axis_index_groups=groups,
            axis_size=n,
            tiled=tiled,
        )

    return tree_util.tree_map(bind, x)


# ---------------------------------------------------------------------------- psum_scatter

reduce_scatter_p = Primitive("reduce_scatter")
reduce_scatter_p.computes_vma = True
reduce_scatter_p.def_impl(_impl_outside("psum_scatter"))


@reduce_scatter_p.def_abstract_eval
def _reduce_scatter_abstract_eval(
    x, *, scatter_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    shape = list(x.shape)
    if shape[scatter_dimension] % axis_size if tiled else shape[scatter_dimension] != axis_size:
        raise ValueError(
            f"psum_scatter: the scattered dimension has size {shape[scatter_dimension]}, "
            f"which {'is not a multiple of' if tiled else 'does not equal'} the size "
            f"{axis_size} of axis {axis_name}"
        )
    if tiled:
        shape[scatter_dimension] //= axis_size
    else:
        del shape[scatter_dimension]
    return x.update(shape=tuple(shape))


def _reduce_scatter_rule(
    size, frame, vals, dims, *, scatter_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    (x,), (d,) = vals, dims
    params = dict(
        scatter_dimension=scatter_dimension,
        axis_name=axis_name,
        axis_index_groups=axis_index_groups,
        axis_size=axis_size,
        tiled=tiled,
    )
    if frame not in axis_name:
        lost = 0 if tiled else -1  # an untiled scatter removes its dimension
        return _other_axis(reduce_scatter_p, x, d, params, ("scatter_dimension",), lost)
    dim = scatter_dimension
    _no_groups_in_vmap(axis_index_groups, "psum_scatter")
    if len(axis_name) > 1:
        raise NotImplementedError("psum_scatter over several named axes under vmap")
    y = _scale(x, size) if d is None else reduce_sum(x, (d,))
    if tiled:
        y = _split_axis(y, dim, size)
    return y, dim


batching.collective_batchers[reduce_scatter_p] = (
    _collective_axes("axis_name"),
    _reduce_scatter_rule,
)


def _reduce_scatter_transpose(
    ct, x, *, scatter_dimension, axis_name, axis_index_groups, axis_size, tiled
):
    return [
        all_gather_p.bind(
            ct,
            all_gather_dimension=scatter_dimension,
            axis_name=axis_name,
            axis_index_groups=axis_index_groups,
            axis_size=axis_size,
            tiled=tiled,
        )
    ]


deflinear(reduce_scatter_p, _reduce_scatter_transpose)


def psum_scatter(
    x: Any,
    axis_name: Any,
    *,
    scatter_dimension: int = 0,
    axis_index_groups: Any = None,
    tiled: bool = False,
) -> Any:
    """psum, of which each member keeps only its block along ``scatter_dimension``."""
    axes = _as_axes(axis_name)
    if not axes:
        return x
    _check_axis_names(axes, "psum_scatter")
    groups = _groups(axis_index_groups)
    n = _group_size(axes, groups)

    def bind(leaf):
        dim = _canonical_axis(scatter_dimension, core.get_aval(leaf).ndim, "psum_scatter")
        if checking_vma() and core.is_tracer(leaf):
            if axes_state(leaf, axes, "jax.lax.psum_scatter") == "unreduced":
                if groups is not None:
                    raise NotImplementedError
                return unreduced_psum_scatter(leaf, axes, scatter_dimension=dim, tiled=tiled)
        return reduce_scatter_p.bind(
            collective_vma(leaf, axes),
            scatter_dimension=dim,
            axis_name=axes,
            axis_index_groups=groups,
            axis_size=n,
            tiled=tiled,
        )

    return tree_util.tree_map(bind, x)


# ---------------------------------------------------------------------------- pcast / pvary

_PCAST_TO = ("unreduced", "reduced", "varying")


def pcast(x: Any, axis_name: Any, *, to: str) -> Any:
    """Change a value's type over named axes: invariant -> varying (pvary) or reduced
    (preduced), varying -> unreduced, reduced -> varying; all no-ops at run time."""
    if isinstance(axis_name, (set, frozenset)):
        raise TypeError(f"axis_name={axis_name} must be a tuple or a str. Got {axis_name}")
    axes = _as_axes(axis_name)
    if not axis_name:
        return x
    if to not in _PCAST_TO:
        raise ValueError(f"Got unexpected `to` value. Allowed `to` values are: {set(_PCAST_TO)}")
    _check_axis_names(axes, "pcast")
    if not checking_vma() and set(axes) <= enclosing_manual_axes():
        return x  # a check_vma=False shard_map body has no varying types to cast

    def cast(leaf):
        from_ = axes_state(leaf, axes, "jax.lax.pcast")
        if (from_, to) == ("invarying", "varying"):
            return pvary_leaf(leaf, axes)
        if (from_, to) == ("invarying", "reduced"):
            return preduced(leaf, axes)
        if (from_, to) == ("varying", "unreduced"):
            return vary_unreduced_cast(leaf, axes)
        if (from_, to) == ("reduced", "varying"):
            return reduced_vary_cast(leaf, axes)
        raise ValueError(f"Unsupported pcast from={from_}, to={to!r}")

    return tree_util.tree_map(cast, x)


# all_to_all (and pswapaxes) live beside these, and the SPMD lowering rules (inside a
# shard_map lowered for its mesh) after them
from .parallel_all_to_all import all_to_all, all_to_all_p, pswapaxes  # noqa: E402,F401,I001
from . import parallel_lowering  # noqa: E402,F401,I001
