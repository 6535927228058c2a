"""Eager ``shard_map`` (called outside ``jit``, ``grad``, ``vmap``): the body runs op by op
on every device's block at once, as JAX 0.10.2 runs it, so Python code in the body sees
per-device values: ``print(x)`` shows each device's block, ``jax.typeof(x)`` its
varying manual axes, and a value invariant over every manual axis is concrete.

A traced value holds one block per member of the manual axes, stacked along leading
axes (one per manual mesh axis, in mesh order). Each primitive runs on those stacks as
nested named batches, one per manual axis: the same rules (engine/lax/parallel.py) that
give a compiled shard_map its values, so eager and compiled results agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import core, tree_util
from .interpreters import batching


class ShardMapTrace(core.Trace):
    """Values are stacks of every member's block (leading axes: the manual mesh axes)."""

    interpreter = "shard_map"

    def __init__(self, parent: core.Trace, mesh: Any, manual: tuple, check_vma: bool) -> None:
        self.mesh = mesh
        self.manual = manual  # in mesh order
        self.check_vma = check_vma
        self.sizes = dict(mesh.shape)
        super().__init__(parent)

    def lift(self, x: Any) -> tuple[Any, int | None]:
        """(stack, 0) for this trace's values; (x, None) for a value from outside the
        body, which is the same on every member."""
        if isinstance(x, ShardMapTracer) and x._trace is self:
            return x.val, 0
        if isinstance(x, core.Tracer) and not x._trace.valid:
            raise core.escaped_tracer_error(x)
        return x, None

    def process_primitive(self, primitive: core.Primitive, args: Sequence[Any], params: dict):
        vals, dims = zip(*map(self.lift, args)) if args else ((), ())
        avals = [x.aval if isinstance(x, core.Tracer) else core.get_aval(x) for x in args]
        out_avals = primitive.abstract_eval(*avals, **params)
        many = primitive.multiple_results
        n_out = len(out_avals) if many else 1
        with core.set_current_trace(self.parent):
            outs = self._run(primitive, list(vals), list(dims), params, n_out)
        out_avals = out_avals if many else [out_avals]
        for a in out_avals:
            self._check_explicit(a)
        tracers = [self.wrap(v, a.vma, a.sharding) for v, a in zip(outs, out_avals)]
        return tracers if many else tracers[0]

    def _run(self, primitive, vals, dims, params, n_out) -> list[Any]:
        """Every member's result at once: one named batch per manual axis."""
        from .lax import parallel

        manual = self.manual

        def level(k, *xs):
            if k == len(manual):
                out = primitive.bind(*xs, **params)
                return out if primitive.multiple_results else [out]
            axis = manual[k]
            in_dims = [0 if d is not None else None for d in dims]
            return batching.batch_flat(
                lambda *ys: level(k + 1, *ys), self.sizes[axis], xs, in_dims, [0] * n_out, axis
            )

        with parallel.manual_axes_context(frozenset(), False):  # running, not typing
            return level(0, *vals)

    def _check_explicit(self, aval: Any) -> None:
        """JAX runs each primitive of an eager body as a shard_map whose out_specs is its
        result's type: unreduced/reduced over non-Explicit axes is refused there."""
        s = getattr(aval, "sharding", None)
        if s is None:
            return
        types = dict(zip(self.mesh.axis_names, self.mesh.axis_types))
        for what in ("unreduced", "reduced"):
            axes = getattr(s.spec, what)
            if axes and any(types[a].name != "Explicit" for a in axes):
                from .sharding import P

                varying = tuple(a for a in self.mesh.axis_names if a in aval.vma)
                spec = P(varying or None, **{what: axes})
                raise ValueError(
                    f"{what} in out_specs {spec} can only be used when the mesh passed to "
                    "shard_map contains axis names all of type `Explicit`. Got mesh "
                    f"{self.mesh}"
                )

    def wrap(self, val: Any, vma: frozenset, sharding: Any = None) -> ShardMapTracer:
        # (sharding: a body type's Explicit axes outside the manual ones, and its
        # unreduced/reduced axes, e.g. after pcast)
        if not self.check_vma:
            vma = frozenset()
        return ShardMapTracer(self, val, vma, sharding)

    def stack(self, x: Any) -> Any:
        """A value the same on every member, as a stack of its copies."""
        from . import lax

        aval = core.get_aval(x)
        lead = tuple(self.sizes[a] for a in self.manual)
        dims = tuple(range(len(lead), len(lead) + aval.ndim))
        return lax.broadcast_in_dim(x, lead + aval.shape, dims)


class ShardMapTracer(core.Tracer):
    __slots__ = ("val", "vma", "sharding")

    def __init__(self, trace: ShardMapTrace, val: Any, vma: frozenset, sharding: Any = None):
        self._trace, self.val, self.vma = trace, val, frozenset(vma)
        self.sharding = sharding

    @property
    def aval(self) -> core.ShapedArray:
        full = core.get_aval(self.val)
        block = full.shape[len(self._trace.manual) :]
        return core.ShapedArray(block, full.dtype, full.weak_type, self.sharding, vma=self.vma)

    def to_concrete_value(self):
        # a value invariant over every manual axis is one concrete array (JAX's rule)
        s = self.sharding
        if not self._trace.check_vma or self.vma or (s and (s.spec.unreduced or s.spec.reduced)):
            return None
        from . import lax

        with core.set_current_trace(self._trace.parent):
            out = self.val
            for _ in self._trace.manual:
                out = lax.index_in_dim(out, 0, 0, keepdims=False)
        return out

    def __str__(self) -> str:
        trace = self._trace
        mesh = trace.mesh
        blocks = np.asarray(self.val)
        names = list(mesh.axis_names)
        axes = f"({', '.join(map(str, names))},)"
        lines = []
        for idx, device in np.ndenumerate(mesh.devices):
            block = blocks[tuple(idx[names.index(a)] for a in trace.manual)]
            lines.append(f"On {device} at mesh coordinates {axes} = {idx}:\n{block}\n")
        return "\n".join(lines)

    __repr__ = __str__


def run_eagerly(
    f: Any,
    mesh: Any,
    manual: frozenset,
    check_vma: bool,
    all_flat: list,
    in_tree: Any,
    all_specs: list,
    out_specs: Any,
) -> Any:
    """shard_map(f)(*args) outside any transformation: the body on every block at once,
    op by op; the results laid out over ``mesh`` as out_specs say."""
    from .lax import parallel
    from .shard_map import (
        _block_aval,
        _broadcast_specs,
        _check_out_vma,
        _check_rank,
        _from_blocks,
        _printed_mesh,
        _to_blocks,
        result_spec,
    )
    from .sharding import NamedSharding
    from .sharding.arrays import put
    from .sharding.in_types import use_abstract_mesh

    order = tuple(a for a in mesh.axis_names if a in manual)
    body_mesh = _printed_mesh(mesh, manual)
    sizes = dict(mesh.shape)
    trace = ShardMapTrace(core.current_trace(), mesh, order, check_vma)
    leaves = []
    for x, spec in zip(all_flat, all_specs):
        if spec is None:  # closed over by the body, not split
            leaves.append(x)
            continue
        stack, named = _to_blocks(_unsharded(x), spec, order, sizes)
        block = _block_aval(core.get_aval(x), spec, sizes, check_vma, body_mesh, manual)
        vma = frozenset(n for n in named if n not in spec.unreduced)
        leaves.append(trace.wrap(_fill_stack(trace, stack, named), vma, block.sharding))
    frames = [(a, sizes[a]) for a in order]
    out_info: dict[str, Any] = {}
    try:
        with (
            core.set_current_trace(trace),
            batching.extend_axis_env(frames),
            parallel.manual_axes_context(frozenset(order), check_vma, mesh.axis_names, body_mesh),
            use_abstract_mesh(body_mesh),
        ):
            outs = f(*tree_util.tree_unflatten(in_tree, leaves))
            out_flat, out_tree = tree_util.tree_flatten(outs)
            specs = _broadcast_specs("out", out_specs, outs)
            out_flat = [
                parallel.vary_to_spec(x, s) if check_vma else x for x, s in zip(out_flat, specs)
            ]
            lifted = [trace.lift(x) for x in out_flat]
            out_info["avals"] = [
                x.aval if isinstance(x, core.Tracer) else core.get_aval(x) for x in out_flat
            ]
    finally:
        trace.invalidate()
    _check_rank("out", f, specs, out_info["avals"])
    if check_vma:
        _check_out_vma(f, mesh, manual, out_info["avals"], specs)
    results = []
    for (val, d), spec, aval in zip(lifted, specs, out_info["avals"]):
        stack = val if d is not None else trace.stack(val)
        out = _from_blocks(stack, spec, order, sizes)
        results.append(put(out, NamedSharding(mesh, result_spec(spec, aval))))
    return tree_util.tree_unflatten(out_tree, results)


def _fill_stack(trace: ShardMapTrace, stack: Any, named: Sequence[Any]) -> Any:
    """A stack over the manual axes its spec names, copied along the others."""
    from . import lax

    if len(named) == len(trace.manual):
        return stack
    shape = core.get_aval(stack).shape
    block = shape[len(named) :]
    lead = tuple(trace.sizes[a] for a in trace.manual)
    dims = [trace.manual.index(a) for a in named]
    dims += list(range(len(lead), len(lead) + len(block)))
    return lax.broadcast_in_dim(stack, lead + tuple(block), tuple(dims))


def _unsharded(x: Any) -> Any:
    """x as a value on one device (the stacks are computed there, not laid out)."""
    from .array import Array

    if isinstance(x, Array) and x.aval.sharding is not None:
        from . import numpy as jnp

        spec = getattr(x.sharding, "spec", None)
        if spec is not None and spec.unreduced:  # its devices' partial sums, summed
            from .sharding import P, reshard

            x = reshard(x, P(*spec, reduced=spec.reduced))

        return jnp.asarray(np.asarray(x))
    return x
