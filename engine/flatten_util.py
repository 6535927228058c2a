"""``ravel_pytree``, as ``jax.flatten_util``: a pytree of arrays as one 1-D array (its
leaves' values in tree order, promoted to their common dtype) and the function that
cuts such a vector back into the pytree."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import core, dtypes, lax
from .tree_util import tree_flatten, tree_unflatten


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(flat, unravel)``: ``flat`` is every leaf raveled and concatenated, of the
    leaves' promoted dtype (an empty tree gives an empty float32 vector);
    ``unravel(flat)`` rebuilds the tree with each leaf's shape and dtype."""
    leaves, treedef = tree_flatten(pytree)
    flat, unravel_leaves = _ravel_leaves(leaves)
    return flat, functools.partial(_unravel_pytree, treedef, unravel_leaves)


def _unravel_pytree(treedef, unravel_leaves, flat):
    return tree_unflatten(treedef, unravel_leaves(flat))


def _ravel_leaves(leaves: list[Any]) -> tuple[Any, Callable[[Any], list[Any]]]:
    if not leaves:
        return lax.full((0,), 0, np.float32), lambda _: []
    avals = [core.get_aval(x) for x in leaves]
    from_dtypes = tuple(a.dtype for a in avals)
    to_dtype = dtypes.result_type(*from_dtypes)
    sizes = tuple(int(np.prod(a.shape, dtype=np.int64)) for a in avals)
    shapes = tuple(a.shape for a in avals)
    if all(dt == to_dtype for dt in from_dtypes):
        # One dtype: no conversions, so unravel accepts a vector of any dtype (as JAX).
        flat = lax.concatenate([lax.reshape(x, (n,)) for x, n in zip(leaves, sizes)], 0)
        return flat, functools.partial(_unravel_one_dtype, sizes, shapes)
    parts = [
        lax.reshape(lax.convert_element_type(x, to_dtype), (n,)) for x, n in zip(leaves, sizes)
    ]
    flat = lax.concatenate(parts, 0)
    return flat, functools.partial(_unravel_converting, sizes, shapes, from_dtypes, to_dtype)


def _split(flat, sizes, shapes):
    return [lax.reshape(c, s) for c, s in zip(lax.split(flat, sizes), shapes)]


def _unravel_one_dtype(sizes, shapes, flat):
    return _split(flat, sizes, shapes)


def _unravel_converting(sizes, shapes, from_dtypes, to_dtype, flat):
    dt = core.get_aval(flat).dtype
    if dt != to_dtype:
        raise TypeError(
            f"unravel function given array of dtype {dt}, but expected dtype {to_dtype}"
        )
    return [
        lax.convert_element_type(c, d) for c, d in zip(_split(flat, sizes, shapes), from_dtypes)
    ]
