"""``pmap``, as JAX 0.10.2 has it: ``jit`` of a ``shard_map`` over a one-axis mesh of
the first ``n`` devices, where ``n`` is the mapped axis's size. Each member gets its
arguments with the mapped axis squeezed out; its results get a mapped axis back at
``out_axes``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import core, distributed, tree_util

__all__ = ["pmap"]

_DEFAULT_AXIS_NAME = "_internal_pmap_axis_name"


def _index_tuple(x: int | Iterable[int]) -> tuple[int, ...]:
    return (int(x),) if isinstance(x, (int, np.integer)) else tuple(int(i) for i in x)


def _spec(axis_name: Any, axis: int | None):
    from .sharding import P

    return P() if axis is None else P(*([None] * axis + [axis_name]))


def pmap(
    fun: Callable,
    axis_name: Any = None,
    *,
    in_axes: Any = 0,
    out_axes: Any = 0,
    static_broadcasted_argnums: int | Iterable[int] = (),
    devices: Sequence[Any] | None = None,
    backend: str | None = None,
    axis_size: int | None = None,
    donate_argnums: int | Iterable[int] = (),
) -> Callable:
    """Map ``fun`` over axis ``in_axes`` of its arguments, one member per device; inside,
    collectives over ``axis_name`` act across the members."""
    if not callable(fun):
        raise TypeError(f"Expected a callable value, got {fun}")
    if devices is not None:
        if not devices:
            raise ValueError("'devices' argument to pmap must be non-empty, or None.")
        devices = tuple(devices)
    name = _DEFAULT_AXIS_NAME if axis_name is None else axis_name
    static = _index_tuple(static_broadcasted_argnums)
    donate = _index_tuple(donate_argnums)
    # donated positions count among the dynamic arguments only
    donate = tuple(d - sum(s < d for s in static) for d in donate if d not in static)
    for what, axes in (("in_axes", in_axes), ("out_axes", out_axes)):
        leaves = tree_util.tree_leaves(axes)
        if not all(type(leaf) is int for leaf in leaves):
            raise TypeError(
                f"pmap {what} must be an int, None, or (nested) container with those "
                f"types as leaves, but got {axes}."
            )
    cache: dict[Any, Callable] = {}

    def prepare(args, kwargs):
        """(flat dynamic arguments, the runner compiled for their signature)."""
        if static and max(static) >= len(args):
            raise ValueError(
                f"pmapped function has static_broadcasted_argnums={static} but was called "
                f"with only {len(args)} positional argument{'s' if len(args) > 1 else ''}. "
                "All static broadcasted arguments must be passed positionally."
            )
        static_vals = tuple((i, args[i]) for i in static)
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        flat, tree = tree_util.tree_flatten((dyn, kwargs))
        axes_flat = _in_axes_flat(in_axes, dyn, kwargs)
        size = _mapped_size(flat, axes_flat)
        if axis_size is not None and axis_size != size:
            raise ValueError(
                f"Specified axis_size {axis_size} doesn't match received axis_size {size}."
            )
        from . import devices as all_devices

        if devices is None and distributed.spans_processes(backend):
            # each process maps its own members; the program spans every process's devices
            _check_split(name, flat, axes_flat, size)
            mesh_devices = distributed.pmap_devices(size, backend)
        else:
            mesh_devices = (devices if devices is not None else tuple(all_devices()))[:size]
            _check_split(name, flat, axes_flat, len(mesh_devices))
        try:
            key = (static_vals, tree, tuple(axes_flat), mesh_devices)
            hash(key)
        except TypeError as e:
            raise ValueError(
                f"Non-hashable static arguments are not supported: {e}. Static arguments "
                "of pmap (static_broadcasted_argnums) must be hashable."
            ) from None
        runner = cache.get(key)
        if runner is None:
            runner = cache[key] = _build(
                fun, name, static_vals, tree, axes_flat, out_axes, mesh_devices, donate
            )
        return flat, runner

    @functools.wraps(fun)
    def pmapped(*args, **kwargs):
        flat, runner = prepare(args, kwargs)
        return runner(*flat)

    def lower(*args, **kwargs):
        """The jit of the shard_map a call on these arguments runs, lowered."""
        flat, runner = prepare(args, kwargs)
        return runner.jitted.lower(*flat)

    pmapped.lower = lower  # type: ignore[attr-defined]
    return pmapped


def _in_axes_flat(in_axes: Any, dyn: tuple, kwargs: dict) -> list[int | None]:
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, tuple) and len(in_axes) != len(dyn):
        raise ValueError(
            "pmap in_axes specification must be a tree prefix of the corresponding value, "
            f"got specification {in_axes} for value tree of {len(dyn)} positional arguments."
        )
    full = (
        in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(dyn),
        {k: 0 for k in kwargs},
    )
    return tree_util.tree_leaves(
        tree_util.tree_broadcast(full, (dyn, kwargs), is_leaf=lambda x: x is None),
        is_leaf=lambda x: x is None,
    )


def _mapped_size(flat: Sequence[Any], axes: Sequence[int | None]) -> int:
    for x, ax in zip(flat, axes):
        if ax is not None:
            shape = core.get_aval(x).shape
            if not -len(shape) <= ax < len(shape):
                raise ValueError(
                    f"pmap was requested to map its argument along axis {ax}, which implies "
                    f"that its rank should be at least {ax + 1 if ax >= 0 else -ax}, but is "
                    f"only {len(shape)} (its shape is {shape})"
                )
            return int(shape[ax])
    raise ValueError("pmap requires at least one argument with a mapped axis.")


def _check_split(name: Any, flat: Sequence[Any], axes: Sequence[int | None], n: int) -> None:
    """Every mapped axis must split evenly over the devices (JAX's IndivisibleError)."""
    for x, ax in zip(flat, axes):
        if ax is None:
            continue
        shape = core.get_aval(x).shape
        if shape[ax] % n:
            factors = [1] * len(shape)
            factors[ax] = n
            raise ValueError(
                f"Sharding NamedSharding(mesh=Mesh('{name}': {n}), spec={_spec(name, ax)}) "
                f"implies that array axis {ax} is partitioned {n} times, but the dimension "
                f"size is {shape[ax]} (full shape: {shape}, per-dimension tiling factors: "
                f"{factors} should evenly divide the shape)"
            )


def _build(fun, name, static_vals, tree, axes_flat, out_axes, mesh_devices, donate):
    from . import lax
    from .jit import jit
    from .shard_map import shard_map
    from .sharding import Mesh

    mesh = Mesh(np.array(mesh_devices, dtype=object), (name,))
    in_specs = tuple(_spec(name, ax) for ax in axes_flat)

    def _fun(*flat_args):
        members = [
            x if ax is None else lax.squeeze(x, (ax,)) for x, ax in zip(flat_args, axes_flat)
        ]
        dyn, kwargs = tree_util.tree_unflatten(tree, members)
        args, it = [], iter(dyn)
        static = dict(static_vals)
        for i in range(len(dyn) + len(static)):
            args.append(static[i] if i in static else next(it))
        out = fun(*args, **kwargs)
        axes = tree_util.tree_leaves(
            tree_util.tree_broadcast(out_axes, out, is_leaf=lambda x: x is None),
            is_leaf=lambda x: x is None,
        )
        leaves, out_tree = tree_util.tree_flatten(out)
        leaves = [x if ax is None else lax.expand_dims(x, (ax,)) for x, ax in zip(leaves, axes)]
        return tree_util.tree_unflatten(out_tree, leaves)

    out_specs = tree_util.tree_map(
        lambda ax: _spec(name, ax), out_axes, is_leaf=lambda x: x is None
    )
    mapped = shard_map(
        _fun,
        mesh=mesh,
        in_specs=in_specs,
        out_specs=out_specs,
        check_vma=False,
        axis_names={name},
    )
    jitted = jit(mapped, donate_argnums=donate)

    def run(*flat_args):
        from .sharding import NamedSharding
        from .sharding.arrays import put

        if mesh.is_multi_process:
            ins = [distributed.to_global(x, mesh, spec) for x, spec in zip(flat_args, in_specs)]
            return tree_util.tree_map(distributed.to_local, jitted(*ins))
        # one SPMD program over the mesh's devices (a jit of a shard_map runs over its mesh)
        out = jitted(*flat_args)
        # laid out over the mesh as JAX's out_shardings put them
        specs = tree_util.tree_broadcast(out_specs, out, is_leaf=lambda x: x is None)
        return tree_util.tree_map(
            lambda x, spec: x if core.is_tracer(x) else put(x, NamedSharding(mesh, spec)),
            out,
            specs,
        )

    run.jitted = jitted  # type: ignore[attr-defined]
    return run
