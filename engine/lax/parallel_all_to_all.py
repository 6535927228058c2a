"""all_to_all and pswapaxes (engine/lax/parallel.py's collectives): split one axis of
each member's value into blocks sent to the members of a named axis, concatenated along
another axis; under vmap, a transpose of the batch axis with the split one."""

from __future__ import annotations

from typing import Any

from .. import core, tree_util
from ..core import Primitive
from ..interpreters import batching
from ..interpreters.jvp import deflinear
from .parallel import (
    _as_axes,
    _broadcast_batch,
    _check_axis_names,
    _collective_axes,
    _fold_axis,
    _group_size,
    _groups,
    _impl_outside,
    _moveaxis,
    _no_groups_in_vmap,
    _other_axis,
    _split_axis,
    collective_vma,
)
from .structural import expand_dims, squeeze, transpose

all_to_all_p = Primitive("all_to_all")
all_to_all_p.computes_vma = True
all_to_all_p.def_impl(_impl_outside("all_to_all"))
# The group size is a param (JAX reads it from the axis environment instead) so that the
# shape rule depends on params and avals only; it is not printed, as JAX prints none.
all_to_all_p.pp_params = lambda p: {
    "axis_index_groups": p["axis_index_groups"],
    "axis_name": p["axis_name"][0] if len(p["axis_name"]) == 1 else p["axis_name"],
    "concat_axis": p["concat_axis"],
    "split_axis": p["split_axis"],
    "tiled": p["tiled"],
}


@all_to_all_p.def_abstract_eval
def _all_to_all_abstract_eval(
    x, *, split_axis, concat_axis, axis_name, axis_index_groups, axis_size, tiled
):
    shape = list(x.shape)
    shape[split_axis] //= axis_size
    shape[concat_axis] *= axis_size
    return x.update(shape=tuple(shape))


def _all_to_all_rule(
    size,
    frame,
    vals,
    dims,
    *,
    split_axis,
    concat_axis,
    axis_name,
    axis_index_groups,
    axis_size,
    tiled,
):
    (x,), (d,) = vals, dims
    if frame not in axis_name:
        params = dict(
            split_axis=split_axis,
            concat_axis=concat_axis,
            axis_name=axis_name,
            axis_index_groups=axis_index_groups,
            axis_size=axis_size,
            tiled=tiled,
        )
        return _other_axis(all_to_all_p, x, d, params, ("split_axis", "concat_axis"), 0)
    _no_groups_in_vmap(axis_index_groups, "all_to_all")
    if len(axis_name) > 1:
        raise NotImplementedError("all_to_all over several named axes under vmap")
    x, d = _broadcast_batch(x, size, d)
    # member k's block j along split_axis goes to member j, at block k of concat_axis
    if split_axis == concat_axis:
        axis = split_axis + (d <= split_axis)
        x = _split_axis(x, axis, size)
        d2 = d + (axis <= d)
        perm = list(range(core.get_aval(x).ndim))
        perm[d2], perm[axis] = perm[axis], perm[d2]
        return _fold_axis(transpose(x, tuple(perm)), axis), d
    x = _fold_axis(_moveaxis(x, d, concat_axis), concat_axis)
    return _split_axis(x, split_axis, size), split_axis


batching.collective_batchers[all_to_all_p] = (_collective_axes("axis_name"), _all_to_all_rule)


def _all_to_all_transpose(ct, x, *, split_axis, concat_axis, **params):
    return [all_to_all_p.bind(ct, split_axis=concat_axis, concat_axis=split_axis, **params)]


deflinear(all_to_all_p, _all_to_all_transpose)


def all_to_all(
    x: Any,
    axis_name: Any,
    split_axis: int,
    concat_axis: int,
    *,
    axis_index_groups: Any = None,
    tiled: bool = False,
) -> Any:
    """Split ``x`` along ``split_axis`` into one block per member, send block j to
    member j, and put the blocks received along ``concat_axis``."""
    axes = _as_axes(axis_name)
    _check_axis_names(axes, "all_to_all")
    groups = _groups(axis_index_groups)
    n = _group_size(axes, groups)

    def bind(leaf, split_axis=split_axis, concat_axis=concat_axis):

        shape = core.get_aval(leaf).shape
        if tiled:
            if shape[split_axis] % n != 0:
                raise ValueError(
                    f"The size of all_to_all split_axis ({shape[split_axis]}) has to be "
                    f"divisible by the size of the named axis {axis_name} ({n})"
                )
        else:
            if n != shape[split_axis]:
                raise ValueError(
                    "all_to_all requires the size of the mapped axis axis_name to equal "
                    f"x.shape[split_axis], but they are {n} and {shape[split_axis]} "
                    "respectively."
                )
            if split_axis < concat_axis:
                concat_axis += 1
                leaf = expand_dims(leaf, (concat_axis,))
            elif split_axis > concat_axis:
                leaf = expand_dims(leaf, (concat_axis,))
                split_axis += 1
        out = all_to_all_p.bind(
            collective_vma(leaf, axes),
            split_axis=split_axis,
            concat_axis=concat_axis,
            axis_name=axes,
            axis_index_groups=groups,
            axis_size=n,
            tiled=tiled,
        )
        if not tiled and split_axis != concat_axis:
            out = squeeze(out, (split_axis,))
        return out

    return tree_util.tree_map(bind, x)


def pswapaxes(x: Any, axis_name: Any, axis: int, *, axis_index_groups: Any = None) -> Any:
    """Swap the named axis with positional axis ``axis`` (an all_to_all)."""
    return all_to_all(x, axis_name, axis, axis, axis_index_groups=axis_index_groups)
