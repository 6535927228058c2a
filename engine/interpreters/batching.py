"""Vectorization: each value carries the axis along which it is batched (or None), and
each primitive's batching rule computes on the whole batch at once."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import core, events
from ..core import Tracer
from ..events import active as _listening

not_mapped = None


# ---------------------------------------------------------------------------- named axes
#
# The named axes in scope (vmap's axis_name, shard_map's mesh axes, pmap's axis) are a
# dynamic stack of (name, size) frames: collectives look their axes up here. Collective
# primitives register in ``collective_batchers``: a BatchTrace runs their rule even on
# unbatched operands when its own axis is one they reduce over (psum of a constant,
# axis_index, which has no operands at all).


class _AxisContext(threading.local):
    def __init__(self) -> None:
        self.frames: list[tuple[Any, int]] = []
        self.rule_axis_name: Any = None  # the named axis whose batching rule is running
        self.rule_ema: Any = None  # that vmap's Explicit mesh axes (see explicit_mesh_axis)
        self.rule_spmd: Any = None  # that vmap's spmd_axis_name (a tuple), or None


_axes = _AxisContext()
_INHERIT = object()

# primitive -> (axis names its params name, rule(size, name, vals, dims, **params))
collective_batchers: dict[core.Primitive, tuple[Callable[..., Any], Callable[..., Any]]] = {}


@contextlib.contextmanager
def extend_axis_env(frames: Sequence[tuple[Any, int]]) -> Iterator[None]:
    """Bind named axes (name, size) while tracing the code inside."""
    n = len(_axes.frames)
    _axes.frames.extend(frames)
    try:
        yield
    finally:
        del _axes.frames[n:]


def axis_frame_size(name: Any) -> int | None:
    """The size of the innermost axis bound to ``name``, or None where none is."""
    for n, size in reversed(_axes.frames):
        if n == name:
            return size
    return None


def current_rule_axis_name() -> Any:
    return _axes.rule_axis_name


def current_rule_ema() -> Any:
    """The Explicit mesh axes the mapped axis of the vmap whose rule runs is split over,
    as given (a key for trace caches); ``current_explicit_mesh_axis`` checks them."""
    return _axes.rule_ema


def current_spmd_axis_name() -> tuple | None:
    """The ``spmd_axis_name`` (a tuple of mesh axes) of the vmap whose rule runs."""
    return _axes.rule_spmd


def current_explicit_mesh_axis() -> tuple | None:
    """The mesh axes a batching rule splits a new batch axis over: the Explicit axes
    the vmapped values are sharded over along the mapped axis (None if none, or when
    the mesh in context has made them Auto), as JAX's ``AxisData.explicit_mesh_axis``."""
    return checked_ema(_axes.rule_ema)


def checked_ema(ema: tuple | None) -> tuple | None:
    if ema is None:
        return None
    from ..sharding.mesh import AxisType, get_abstract_mesh

    mesh = get_abstract_mesh()
    if mesh.empty:
        return ema
    types = dict(zip(mesh.axis_names, mesh.axis_types))
    return ema if types.get(ema[0]) == AxisType.Explicit else None


def axis_env_key() -> tuple[tuple[Any, int], ...]:
    """The named axes in scope, for trace caches (empty outside named vmaps/shard_maps)."""
    return tuple(_axes.frames)


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace: BatchTrace, val: Any, batch_dim: int | None) -> None:
        self._trace, self.val, self.batch_dim = trace, val, batch_dim

    @property
    def aval(self) -> core.ShapedArray:
        aval = core.get_aval(self.val)
        if self.batch_dim is None:
            return aval
        return core.mapped_aval(self._trace.axis_size, self.batch_dim, aval)

    def __repr__(self) -> str:
        if self.batch_dim is None:  # JAX does not wrap an unbatched value at all
            return repr(self.val)
        batched = core.get_aval(self.val).str_long()
        return f"VmapTracer(aval={self.aval.str_long()}, batched={batched})"


class BatchTrace(core.Trace):
    """Each value carries its batch axis; primitives run their batching rules.

    Emits ``events.RuleStarted`` / ``RuleApplied`` around each bind (``rule`` "batch",
    or None when no operand is batched and the bind goes to the parent as is), with
    the operands' and results' batch axes (``dims``)."""

    interpreter = "batching"

    def __init__(
        self,
        parent: core.Trace | None,
        axis_size: int,
        axis_name: Any = _INHERIT,
        explicit_mesh_axis: Any = _INHERIT,
        spmd_axis_name: Any = _INHERIT,
    ) -> None:
        self.axis_size = axis_size
        # a trace made inside a batching rule (a jit body's) batches the same named axis,
        # split over the same Explicit mesh axes
        self.axis_name = _axes.rule_axis_name if axis_name is _INHERIT else axis_name
        ema = _axes.rule_ema if explicit_mesh_axis is _INHERIT else explicit_mesh_axis
        self.ema = ema
        self.spmd = _axes.rule_spmd if spmd_axis_name is _INHERIT else spmd_axis_name
        super().__init__(parent)

    @property
    def explicit_mesh_axis(self) -> tuple | None:
        return checked_ema(self.ema)

    def event_info(self) -> dict[str, Any]:
        return {"axis_size": self.axis_size, "axis_name": self.axis_name}

    def lift(self, x: Any) -> tuple[Any, int | None]:
        if isinstance(x, BatchTracer) and x._trace is self:
            return x.val, x.batch_dim
        if isinstance(x, Tracer) and not x._trace.valid:
            raise core.escaped_tracer_error(x)
        return x, not_mapped

    def process_primitive(
        self, primitive: core.Primitive, args: Sequence[Any], params: dict
    ) -> Any:
        vals, dims = zip(*map(self.lift, args)) if args else ((), ())
        # (ref writes always see their rule: one to an unbatched ref fails, as in JAX)
        unbatched = all(d is None for d in dims) and not getattr(primitive, "always_batch", False)
        collective = collective_batchers.get(primitive)
        if collective is not None and (
            not unbatched
            or (self.axis_name is not None and self.axis_name in collective[0](params))
        ):
            return self._process_collective(primitive, vals, dims, params, collective[1])
        call = None
        if _listening:
            call = events.rule_started(
                self,
                primitive,
                params,
                None if unbatched else "batch",
                vals,
                dims=dims,
                impl=None if unbatched else primitive.batch,
            )
        if unbatched:
            with core.set_current_trace(self.parent):
                out = primitive.bind(*vals, **params)
            if call is not None:
                n = len(out) if primitive.multiple_results else 1
                events.rule_applied(call, self, primitive, None, out, dims=[None] * n)
            return out
        rule = primitive.batch
        if rule is None:
            raise NotImplementedError(f"Batching rule for '{primitive.name}' not implemented")
        prev = _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd
        _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd = self.axis_name, self.ema, self.spmd
        try:
            with core.set_current_trace(self.parent):
                out, out_dims = rule(self.axis_size, vals, dims, **params)
        finally:
            _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd = prev
        if call is not None:
            events.rule_applied(call, self, primitive, "batch", out, dims=out_dims)
        if primitive.multiple_results:
            return [self.pack(x, d) for x, d in zip(out, out_dims)]
        return self.pack(out, out_dims)

    def _process_collective(self, primitive, vals, dims, params, rule):
        call = None
        if _listening:
            call = events.rule_started(self, primitive, params, "batch", vals, dims=dims, impl=rule)
        prev = _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd
        _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd = self.axis_name, self.ema, self.spmd
        try:
            with core.set_current_trace(self.parent):
                out, out_dims = rule(self.axis_size, self.axis_name, vals, dims, **params)
        finally:
            _axes.rule_axis_name, _axes.rule_ema, _axes.rule_spmd = prev
        if call is not None:
            events.rule_applied(call, self, primitive, "batch", out, dims=out_dims)
        if primitive.multiple_results:
            return [self.pack(x, d) for x, d in zip(out, out_dims)]
        return self.pack(out, out_dims)

    def pack(self, val: Any, dim: int | None) -> Any:
        return val if dim is None else BatchTracer(self, val, dim)


def batch_flat(
    flat_fun: Callable[..., Sequence[Any]],
    axis_size: int,
    vals: Sequence[Any],
    in_dims: Sequence[int | None],
    out_dims_wanted: Any,
    axis_name: Any = _INHERIT,
    explicit_mesh_axis: Any = _INHERIT,
    spmd_axis_name: Any = _INHERIT,
) -> list[Any]:
    """Run ``flat_fun`` on batched values; move each output's batch axis to the wanted
    position (broadcasting unbatched outputs, split over the Explicit mesh axes the
    mapped inputs are), or keep it unbatched where the wanted axis is None and the
    output does not depend on the batch."""
    trace = BatchTrace(
        core.current_trace(), axis_size, axis_name, explicit_mesh_axis, spmd_axis_name
    )
    args = [BatchTracer(trace, v, d) if d is not None else v for v, d in zip(vals, in_dims)]
    frames = [] if trace.axis_name is None else [(trace.axis_name, axis_size)]
    try:
        with core.set_current_trace(trace), extend_axis_env(frames):
            outs = flat_fun(*args)
        if callable(out_dims_wanted):  # when it depends on the output's tree
            out_dims_wanted = out_dims_wanted()
        results = []
        for x, want in zip(outs, out_dims_wanted):
            v, d = trace.lift(x)
            ema = trace.explicit_mesh_axis
            results.append(move_batch_axis(axis_size, d, want, v, mesh_axis=ema))
    finally:
        trace.invalidate()
    return results


# ---------------------------------------------------------------------------- helpers for rules


def move_batch_axis(
    size: int, src: int | None, dst: int | None, x: Any, mesh_axis: Any = None
) -> Any:
    """Move axis ``src`` of x to ``dst``; src None broadcasts (the new axis split over
    ``mesh_axis`` in x's type, as JAX's ``batching.broadcast``); dst None requires src
    None."""

    if src == dst:
        return x
    if dst is None:
        raise ValueError("vmap has mapped output but out_axes is None")
    if src is None:
        aval = core.get_aval(x)
        shape = list(aval.shape)
        dst = _check_out_axis(dst, len(shape) + 1)
        shape.insert(dst, size)
        if aval.dtype == _float0():  # a float0 tangent stays a host array, as in JAX
            return np.zeros(tuple(shape), aval.dtype)
        # NumPy integers, as JAX's batching.broadcast builds them (np.int64(1) in jaxprs)
        dims = tuple(np.delete(np.arange(len(shape)), dst))
        sharding = None
        if mesh_axis is not None:
            sharding = core.unmapped_aval(size, dst, aval, mesh_axis).sharding
        from ..dtypes import is_python_scalar
        from ..lax.structural import broadcast_in_dim_p

        if is_python_scalar(x):
            x = core.python_scalar_operand(x)
        return broadcast_in_dim_p.bind(
            x, shape=tuple(shape), broadcast_dimensions=dims, sharding=sharding
        )
    ndim = core.get_aval(x).ndim
    src, dst = src % ndim, _check_out_axis(dst, ndim)
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    from .. import lax

    return lax.transpose(x, tuple(perm))


def _check_out_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:  # e.g. vmap(f, out_axes=2) of a rank-0 output
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def _float0():
    from ..dtypes import float0

    return float0


def bdim_at_front(size: int, x: Any, d: int | None, mesh_axis: Any = None) -> Any:
    return move_batch_axis(size, d, 0, x, mesh_axis=mesh_axis)


def broadcast_batcher(primitive: core.Primitive) -> Callable[..., Any]:
    """Batching for elementwise primitives, as JAX's: operands of one shape batched at
    one axis (and unbatched scalars) bind as they are; otherwise the batch axis moves to
    the front (a size-1 axis there for unbatched operands), and a batched operand of
    lower rank gets trailing size-1 axes."""

    def rule(size, vals, dims, **params):
        avals = [core.get_aval(v) for v in vals]
        shape, first = next((a.shape, d) for a, d in zip(avals, dims) if d is not None)
        if all(a.shape == shape and d == first for a, d in zip(avals, dims) if a.ndim):
            out = primitive.bind(*vals, **params)
            return out, first if not primitive.multiple_results else [first] * len(out)
        from .. import lax

        args = [bdim_at_front(1, v, d) if a.ndim else v for v, a, d in zip(vals, avals, dims)]
        nd = max(core.get_aval(x).ndim for x in args)
        args = [
            x
            if d is None or core.get_aval(x).ndim == nd
            else lax.expand_dims(x, tuple(range(core.get_aval(x).ndim, nd)))
            for x, d in zip(args, dims)
        ]
        out = primitive.bind(*args, **params)
        return out, 0 if not primitive.multiple_results else [0] * len(out)

    primitive.def_batch(rule)
    return rule


# ---------------------------------------------------------------------------- vmap's mesh axes


def vmap_mesh_axes(
    flat: Sequence[Any], dims: Sequence[int | None], spmd_axis_name: Any
) -> tuple[tuple | None, tuple | None]:
    """(explicit mesh axes, spmd_axis_name) of a vmap: the Explicit mesh axes its mapped
    axis is split over (the one spec entry the mapped inputs' types share there), with
    JAX's errors for mapped inputs sharded differently, unmapped inputs sharded over
    those axes, and an ``spmd_axis_name`` naming other axes (one naming the same ones
    is dropped, as JAX's)."""
    if spmd_axis_name is not None and not isinstance(spmd_axis_name, tuple):
        spmd_axis_name = (spmd_axis_name,)
    ema, seen = None, False
    for x, d in zip(flat, dims):
        if d is None:
            continue
        spec = _type_entry(x, d)
        if seen and spec != ema:
            raise ValueError(
                "Mapped away dimension of inputs passed to vmap should be sharded the same. "
                f"Got inconsistent axis specs: {ema} vs {spec}"
            )
        ema, seen = spec, True
    if ema is not None and not isinstance(ema, tuple):
        ema = (ema,)
    if ema is None:
        return None, spmd_axis_name
    for x, d in zip(flat, dims):
        if d is not None:
            continue
        aval = core.get_aval(x)
        s = aval.sharding
        if s is not None and any(a in s.spec._used_axes() for a in ema):
            raise ValueError(
                "Unmapped values passed to vmap cannot be sharded along the mesh axis you "
                f"are vmapping over. Got type: {aval.str_short()}, in_axes: {d} and vmapped "
                f"mesh axis: {ema}"
            )
    if spmd_axis_name is not None and spmd_axis_name != ema:
        raise ValueError(
            "Only one of spmd_axis_name or arrays sharded on `Explicit` mesh axis type is "
            f"allowed. Got spmd_axis_name={spmd_axis_name} and arrays sharded on "
            f"explicit_mesh_axis={ema}"
        )
    return ema, None


def _type_entry(x: Any, d: int) -> Any:
    try:
        s = core.get_aval(x).sharding
    except TypeError:
        return None
    if s is None or d >= len(s.spec):
        return None
    return s.spec[d]


# ---------------------------------------------------------------------------- JAX's rule table


def _from_jax_rule(rule: Callable[..., Any]) -> Callable[..., Any]:
    """A rule to JAX's convention, ``rule(vals, dims, **params) -> (out, out_dims)``, as
    the engine runs it (it also passes the axis size first); events name the given rule."""

    @functools.wraps(rule)
    def engine_rule(size, vals, dims, **params):
        return rule(vals, dims, **params)

    return engine_rule


def _to_jax_rule(rule: Callable[..., Any]) -> Callable[..., Any]:
    """An engine rule called JAX's way: the axis size read off the batched operands."""

    @functools.wraps(rule)
    def jax_rule(vals, dims, **params):
        size = next(core.get_aval(v).shape[d] for v, d in zip(vals, dims) if d is not not_mapped)
        return rule(size, vals, dims, **params)

    return jax_rule


# ``jax.interpreters.batching.primitive_batchers``: ``primitive_batchers[p] = rule`` makes
# ``rule`` the batching rule the engine's BatchTrace runs for ``p``.
primitive_batchers = core.RuleTable("batch", _from_jax_rule, _to_jax_rule)
