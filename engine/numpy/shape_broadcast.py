"""NumPy broadcasting (``broadcast_to``, ``broadcast_arrays``), ``tile`` and ``repeat``,
typed as JAX 0.10.2's under a mesh with Explicit axes: a broadcast takes the operands'
merged sharding or its ``out_sharding``, and ``repeat`` runs in ``auto_axes``."""

from __future__ import annotations

import builtins
import functools
import operator

import numpy as np

from .. import core, lax
from ..sharding.in_types import type_sharding
from ..sharding.mesh import Mesh
from ..sharding.named import NamedSharding, PartitionSpec
from ._util import (
    as_array,
    as_operand,
    canonicalize_axis,
    check_arraylike,
    concrete_value,
    dtype_of,
    ndim_of,
    shape_of,
)

__all__ = ["broadcast_shapes", "broadcast_to", "broadcast_arrays", "tile", "repeat"]


# ---------------------------------------------------------------------------- broadcasting


def broadcast_shapes(*shapes):
    return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))


def broadcast_to(array, shape, *, out_sharding=None):
    check_arraylike("broadcast_to", array)
    array = as_operand(array)
    shape = (
        (shape,)
        if isinstance(shape, (int, np.integer))
        else tuple(d if hasattr(d, "_is_symbolic_dim") else operator.index(d) for d in shape)
    )
    sharding = None
    if out_sharding is not None:
        from ..sharding.constraint import canonicalize_sharding

        sharding = canonicalize_sharding(out_sharding, "jnp.broadcast_to")
    return _broadcast_to(array, shape, sharding)


def _broadcast_to(array, shape, sharding):
    """JAX's ``lax.broadcast_to``: ``array`` broadcast to ``shape`` (and, given a
    sharding, typed with it; a sharded axis of the operand must keep its mesh axis)."""
    aval = core.get_aval(array)
    old = aval.shape
    typed = None if sharding is None else type_sharding(sharding, len(shape))
    if old == shape and (typed is None or aval.sharding == typed):
        return as_array(array)
    nlead = len(shape) - len(old)
    fits = nlead >= 0 and not builtins.any(o != 1 and o != n for o, n in zip(old, shape[nlead:]))
    if fits and typed is not None:
        mine = aval.sharding.spec._normalized(len(old)) if aval.sharding else (None,) * len(old)
        want = typed.spec._normalized(len(shape))[nlead:]
        fits = builtins.all(a in (None, w) for a, w in zip(mine, want))
    if not fits:
        wanted = aval.update(shape=shape, sharding=typed, weak_type=False)
        given = aval.update(weak_type=False)
        raise ValueError(
            f"Incompatible types for broadcasting: input type={given.str_long()} and "
            f"requested type={wanted.str_long()}"
        )
    return lax.broadcast_in_dim(array, shape, tuple(range(nlead, len(shape))), out_sharding=typed)


def broadcast_arrays(*args):
    """Each operand broadcast to the common shape, typed with the operands' merged
    sharding (JAX's ``_broadcast_arrays``)."""
    check_arraylike("broadcast_arrays", *args)
    args = [as_operand(a) for a in args]
    avals = [core.get_aval(a) for a in args]
    shape = np.broadcast_shapes(*(a.shape for a in avals))
    if builtins.all(a.shape == avals[0].shape for a in avals):
        return [as_array(a) for a in args]
    sharding = lax.broadcast_shardings(*avals)
    return [_broadcast_to(a, tuple(shape), sharding) for a in args]


# ---------------------------------------------------------------------------- tile, repeat


def tile(A, reps):
    """``A`` repeated ``reps[i]`` times along axis i (``reps`` may have more entries than
    ``A`` has axes, and vice versa)."""
    check_arraylike("tile", A)
    reps = (
        (reps,) if isinstance(reps, (int, np.integer)) else tuple(operator.index(r) for r in reps)
    )
    A = as_array(as_operand(A))
    nd = builtins.max(len(reps), ndim_of(A))
    A = lax.broadcast_to_rank(A, nd)
    reps = (1,) * (nd - len(reps)) + reps
    lax_tile = getattr(lax, "tile", None)
    if lax_tile is not None:
        return lax_tile(A, reps)
    shape = shape_of(A)
    inter = []
    dims = []
    for i, (r, s) in enumerate(zip(reps, shape)):
        inter += [r, s]
        dims.append(2 * i + 1)
    out = lax.broadcast_in_dim(A, tuple(inter), tuple(dims))
    return lax.reshape(out, tuple(r * s for r, s in zip(reps, shape)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None, out_sharding=None):
    """Repeat each element ``repeats`` times (a scalar, or one count per element), as
    JAX's: a static ``repeats`` gives the result's length, else ``total_repeat_length``
    does (the last element repeated or the tail cut to fit). Under a mesh with Explicit
    axes it runs in ``auto_axes`` (the result typed ``out_sharding``, else as ``a``; a
    sharded repeated axis needs ``out_sharding``)."""
    if isinstance(repeats, (int, np.integer)) or hasattr(repeats, "_is_symbolic_dim"):
        check_arraylike("repeat", a)
    else:
        check_arraylike("repeat", a, repeats)
    a = as_array(as_operand(a))
    if axis is None:
        from .shape_ops import ravel

        a = ravel(a)
        axis = 0
    body = functools.partial(_repeat, axis=axis, total_repeat_length=total_repeat_length)
    if out_sharding is None:
        from ..sharding.mesh import get_abstract_mesh

        mesh = get_abstract_mesh()
        if mesh.empty or not builtins.any(t.name == "Explicit" for t in mesh.axis_types):
            return body(repeats, a)
        aval = core.get_aval(a)
        entries = aval.sharding.spec._normalized(aval.ndim) if aval.sharding else ()
        ax = canonicalize_axis(axis, aval.ndim)
        if entries and entries[ax] is not None:
            raise ValueError("Please pass sharding to `jnp.repeat` via `out_sharding` parameter.")
        out_sharding = aval.sharding or NamedSharding(mesh, PartitionSpec())
    return _auto_repeat(body, repeats, a, out_sharding, total_repeat_length)


def _auto_repeat(body, repeats, a, out_sharding, total_repeat_length):
    from ..sharding.constraint import canonicalize_sharding
    from ..sharding.in_types import auto_axes

    if isinstance(out_sharding, NamedSharding) and not isinstance(out_sharding.mesh, Mesh):
        from ..sharding.in_types import concrete_mesh_for  # a's type: over the mesh set

        out_sharding = NamedSharding(concrete_mesh_for(out_sharding.mesh), out_sharding.spec)
    out_sharding = canonicalize_sharding(out_sharding, "repeat")
    mesh = out_sharding.mesh
    axes = tuple(n for n, t in zip(mesh.axis_names, mesh.axis_types) if t.name == "Explicit")
    if total_repeat_length is None:  # static repeats: the body closes over them
        return auto_axes(functools.partial(body, repeats), out_sharding=out_sharding, axes=axes)(a)
    return auto_axes(body, out_sharding=out_sharding, axes=axes)(repeats, a)


def _repeat(repeats, a, *, axis, total_repeat_length=None):
    """JAX's algorithm: a broadcast for a static scalar count; else the start of each
    element's block scattered into zeros, a cumsum of that, and a take."""
    from .creation import array, zeros
    from .reductions import cumsum
    from .shape_ops import ravel, reshape, roll
    from .take import take

    ax = operator.index(axis)
    shape = shape_of(a)
    if total_repeat_length is None:
        reps = np.asarray(
            concrete_value(
                repeats,
                "When jit-compiling jnp.repeat, the total number of repeats must be static. "
                "To fix this, either specify a static value for `repeats`, or pass a static "
                "value to `total_repeat_length`.",
            )
        )
        if reps.ndim == 0 and shape:
            ax = canonicalize_axis(ax, len(shape))
            r = int(reps)
            out_shape = shape[: ax + 1] + (r,) + shape[ax + 1 :]
            dims = tuple(i for i in range(len(shape) + 1) if i != ax + 1)
            out = lax.broadcast_in_dim(a, out_shape, dims)
            return lax.reshape(out, shape[:ax] + (shape[ax] * r,) + shape[ax + 1 :])
        reps = np.ravel(reps)
        if shape:
            reps = np.broadcast_to(reps, [shape[ax]])
        total_repeat_length = int(np.sum(reps))
        counts = reps
    else:
        total_repeat_length = operator.index(total_repeat_length)
        counts = ravel(repeats)
        if shape:
            counts = broadcast_to(counts, [shape[ax]])
    if not shape:
        if np.shape(counts) == (1,):
            from .creation import full

            return full([total_repeat_length], a)
        raise ValueError(
            "`repeat` with a scalar parameter `a` is only implemented for scalar values of "
            "the parameter `repeats`."
        )
    if total_repeat_length == 0:
        out_shape = list(shape)
        out_shape[ax] = 0
        return reshape(array([], dtype=dtype_of(a)), out_shape)
    if shape[ax] == 0:
        return a
    exclusive = roll(counts, shift=1).at[0].set(0)
    starts = cumsum(exclusive)
    blocks = zeros([total_repeat_length], dtype="int32").at[starts].add(1)
    return take(a, cumsum(blocks) - 1, axis=ax)
