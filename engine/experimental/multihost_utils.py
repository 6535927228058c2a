"""``jax.experimental.multihost_utils``: moving host values between the processes of a
distributed job, through XLA collectives over a mesh of every process's devices (rows:
processes, columns: each process's local devices), as JAX does it."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import runtime, tree_util
from ..array import Array
from ..environment import process_count


def _process_mesh():
    from ..sharding.mesh import Mesh

    everywhere = runtime.devices()
    count = max(d.process_index for d in everywhere) + 1
    by_process = sorted(everywhere, key=lambda d: (d.process_index, d.id))
    grid = np.array(by_process, dtype=object).reshape(count, len(everywhere) // count)
    return Mesh(grid, ("processes", "local_devices"))


def _stacked_over_processes(value: np.ndarray):
    """A global array of shape (processes, *value.shape) whose row p is process p's
    ``value`` (each process's devices all hold its row)."""
    from ..sharding.arrays import make_array_from_single_device_arrays
    from ..sharding.named import NamedSharding, PartitionSpec

    mesh = _process_mesh()
    sharding = NamedSharding(mesh, PartitionSpec("processes"))
    row = np.expand_dims(value, 0)
    local = [_one_device_array(row, d) for d in runtime.local_devices()]
    return make_array_from_single_device_arrays(
        (mesh.shape["processes"],) + value.shape, sharding, local
    )


def _one_device_array(value: np.ndarray, device) -> Array:
    from .. import core

    buf = runtime.device_put(value, device)
    return Array(buf, core.ShapedArray(value.shape, value.dtype), device, True)


def _identity(v: Any) -> Any:
    return v


def _replicated(x: Any, fun: Callable[[Any], Any] = _identity) -> np.ndarray:
    """``fun(x)`` computed over x's mesh with a replicated result; this process's copy."""
    from ..jit import jit
    from ..sharding.named import NamedSharding, PartitionSpec

    out: Any = jit(fun, out_shardings=NamedSharding(x.sharding.mesh, PartitionSpec()))(x)
    return np.asarray(out.addressable_shards[0].data)


def _host_value(x: Any) -> np.ndarray:
    from .. import dtypes

    value = np.asarray(x)
    return value.astype(dtypes.canonicalize_dtype(value.dtype), copy=False)


def _is_global(x: Any) -> bool:
    return isinstance(x, Array) and not x.is_fully_addressable


def _allgather_leaf(x: Any, tiled: bool) -> np.ndarray:
    if _is_global(x):
        if not tiled:
            raise ValueError(
                "Gathering global non-fully-addressable arrays only supports tiled=True"
            )
        return _replicated(x)
    value = _host_value(x)
    if process_count() == 1:
        return value if tiled else np.expand_dims(value, 0)
    stacked = _stacked_over_processes(value)
    out = _replicated(stacked)
    if tiled and value.ndim > 0:
        return out.reshape((-1,) + value.shape[1:])
    return out


def process_allgather(in_tree: Any, tiled: bool = False) -> Any:
    """Every process's leaves of ``in_tree`` (same shapes on all), gathered into NumPy
    arrays on every process: stacked on a new leading axis, or concatenated along the
    first one with ``tiled=True`` (scalars are always stacked). An array already
    spanning all processes comes back whole (only with ``tiled=True``)."""
    return tree_util.tree_map(lambda x: _allgather_leaf(x, tiled), in_tree)


def broadcast_one_to_all(in_tree: Any, is_source: bool | None = None) -> Any:
    """Process 0's leaves of ``in_tree`` (or the leaves of whichever process passes
    ``is_source=True``), as NumPy arrays on every process; shapes must agree."""
    if process_count() == 1:
        return tree_util.tree_map(np.asarray, in_tree)
    if is_source is None:
        is_source = runtime.process_index() == 0

    def leaf(x: Any) -> np.ndarray:
        value = _host_value(x)
        stacked = _stacked_over_processes(value if is_source else np.zeros_like(value))
        return _replicated(stacked, lambda v: v.sum(0, dtype=v.dtype))

    return tree_util.tree_map(leaf, in_tree)


def assert_equal(in_tree: Any, fail_message: str = "") -> None:
    """Raise AssertionError unless every process passed the same leaves."""
    gathered = process_allgather(in_tree, tiled=True)
    count = process_count()

    def expected(x: Any) -> np.ndarray:
        if _is_global(x):
            return _replicated(x)
        value = _host_value(x)
        value = np.expand_dims(value, 0) if value.ndim == 0 else value
        return np.concatenate([value] * count)

    want = tree_util.tree_map(expected, in_tree)
    same = tree_util.tree_map(lambda a, b: bool(np.all(np.equal(a, b))), want, gathered)
    if not all(tree_util.tree_leaves(same)):
        raise AssertionError(f"{fail_message}. Expected: {gathered}; got: {in_tree}.")


def sync_global_devices(name: str) -> None:
    """A barrier across all processes (and their devices); every process must pass the
    same ``name``, or it raises AssertionError."""
    h = np.uint32(zlib.crc32(name.encode()))
    assert_equal(h, f"sync_global_devices name mismatch ('{name}')")


def _per_leaf(fun: Any, tree: Any, global_mesh: Any, pspecs: Any) -> Any:
    from ..sharding.named import PartitionSpec

    if pspecs is None:
        raise ValueError(
            "`None` is not a valid input to the pspecs argument. Please use "
            "jax.sharding.PartitionSpec() if you wanted to replicate your input."
        )
    leaves, treedef = tree_util.tree_flatten(tree)
    is_spec = lambda s: isinstance(s, PartitionSpec)  # noqa: E731
    specs = tree_util.tree_leaves(
        tree_util.tree_broadcast(pspecs, tree, is_leaf=is_spec), is_leaf=is_spec
    )
    return treedef.unflatten([fun(x, global_mesh, s) for x, s in zip(leaves, specs)])


def host_local_array_to_global_array(local_inputs: Any, global_mesh: Any, pspecs: Any) -> Any:
    """Each process's arrays (its block under ``pspecs`` over ``global_mesh.local_mesh``)
    as one global array per leaf over ``global_mesh``."""
    from ..distributed import array_from_process_local_data
    from ..sharding.named import NamedSharding

    def leaf(x: Any, mesh: Any, spec: Any) -> Any:
        if _is_global(x):
            return x
        return array_from_process_local_data(NamedSharding(mesh, spec), x)

    return _per_leaf(leaf, local_inputs, global_mesh, pspecs)


def global_array_to_host_local_array(global_inputs: Any, global_mesh: Any, pspecs: Any) -> Any:
    """The inverse: each global array's blocks held by this process, as one array over
    ``global_mesh.local_mesh``."""
    from ..distributed import to_local

    return _per_leaf(lambda x, mesh, spec: to_local(x), global_inputs, global_mesh, pspecs)
