"""Memory kinds and ``device_put`` inside traced code.

A device has several memories (``device.addressable_memories()``: on CPU ``device``,
``pinned_host`` and ``unpinned_host``); a sharding's ``memory_kind`` says which one an
array lives in. Eagerly, ``jax.device_put(x, s.with_memory_kind('pinned_host'))`` moves
the buffer there. Under a trace it binds the ``device_put`` primitive, as JAX's: one
equation for all the leaves, with the target of each (``devices``), where it came from
(``srcs``) and the copy semantics. On CPU it lowers to nothing (every memory is the
host's), as JAX lowers it there; jit's ``in_shardings``/``out_shardings`` carry the
memory kinds of its arguments and results instead."""

from __future__ import annotations

import enum
import types
from collections.abc import Sequence
from typing import Any

from .. import core
from ..ad_util import Zero, instantiate
from ..core import MemorySpace, Primitive
from ..source_info import SourceInfo


class ArrayCopySemantics(enum.Enum):
    """jaxlib's copy semantics of a transfer (printed as JAX prints its enum)."""

    ALWAYS_COPY = 0
    REUSE_INPUT = 1
    DONATE_INPUT = 2

    def __repr__(self) -> str:
        return f"ArrayCopySemantics.{self.name}"


def mem_kind_to_space(kind: str | None) -> MemorySpace:
    return MemorySpace.Host if kind == "pinned_host" else MemorySpace.Device


def mem_space_to_kind(space: MemorySpace) -> str:
    return "pinned_host" if space is MemorySpace.Host else "device"


device_put_p = Primitive("device_put", multiple_results=True)
device_put_p.computes_memory_space = True


# ``jax.memory.Space``: device_put(x, jax.memory.Space.Host) moves x to host memory
memory = types.SimpleNamespace(Space=MemorySpace)


def put_in_memory(x: Any, space: MemorySpace) -> Any:
    """``device_put(x, space)``: ``x`` in that memory of its device (the default one's
    for a value not on a device yet)."""
    from .. import api
    from ..array import Array
    from .named import SingleDeviceSharding

    if space is MemorySpace.Any:
        return api.device_put(x)
    kind = mem_space_to_kind(space)
    if not isinstance(x, Array):
        x = api.device_put(x)
    s = x.sharding
    if s.memory_kind == kind:
        return x
    if isinstance(s, SingleDeviceSharding) or hasattr(s, "with_memory_kind"):
        return api.device_put(x, s.with_memory_kind(kind))
    raise NotImplementedError(f"device_put to {space!r} of an array with sharding {s!r}")


def _put_one(x: Any, device: Any) -> Any:
    from .. import api

    if isinstance(device, MemorySpace):  # the same device, that memory
        return put_in_memory(x, device)
    return api.device_put(x, device)


@device_put_p.def_impl
def _device_put_impl(*xs, devices, srcs, copy_semantics):
    return [_put_one(x, d) for x, d in zip(xs, devices)]


@device_put_p.def_abstract_eval
def _device_put_abstract_eval(*avals, devices, srcs, copy_semantics):
    from .named import Sharding

    def placed(aval: Any, d: Any) -> Any:
        if isinstance(d, MemorySpace):
            return aval.update(memory_space=d)
        if isinstance(d, Sharding) and d.memory_kind is not None:
            return aval.update(memory_space=mem_kind_to_space(d.memory_kind))
        return aval

    return [placed(a, d) for a, d in zip(avals, devices)]


def _check_rank(aval: Any, d: Any) -> None:
    from .named import NamedSharding

    if isinstance(d, NamedSharding) and len(d.spec) > len(aval.shape):
        raise ValueError(
            f"One of device_put args is incompatible with its sharding annotation {d!r}: "
            f"Sharding {d!r} is only valid for values of rank at least {len(d.spec)}, "
            f"but was applied to a value of rank {len(aval.shape)}."
        )


@device_put_p.def_jvp
def _device_put_jvp(primals, tangents, **params):
    outs = device_put_p.bind(*primals, **params)
    if all(type(t) is Zero for t in tangents):
        return outs, [Zero(core.get_aval(o)) for o in outs]
    return outs, device_put_p.bind(*[instantiate(t) for t in tangents], **params)


@device_put_p.def_transpose
def _device_put_transpose(cts, *args, devices, srcs, copy_semantics):
    from ..interpreters.transpose import is_undefined_primal

    results: list[Any] = [None] * len(args)
    moved = []
    for i, (ct, x) in enumerate(zip(cts, args)):
        if not is_undefined_primal(x):
            continue
        if type(ct) is Zero:
            results[i] = Zero(x.aval)
        else:
            moved.append(i)
    if moved:
        for i in moved:
            if copy_semantics[i] is ArrayCopySemantics.DONATE_INPUT:
                raise ValueError(
                    "donate=True is not allowed during tranposition of device_put. Please "
                    "file an issue if you want this to be supported."
                )
        # (a value that came from host memory goes back there, as JAX's rule has it)
        back = [
            args[i].aval.memory_space
            if srcs[i] is None and args[i].aval.memory_space is MemorySpace.Host
            else srcs[i]
            for i in moved
        ]
        outs = device_put_p.bind(
            *[cts[i] for i in moved],
            devices=tuple(back),
            srcs=tuple(devices[i] for i in moved),
            copy_semantics=(ArrayCopySemantics.ALWAYS_COPY,) * len(moved),
        )
        for i, y in zip(moved, outs):
            results[i] = y
    return results


@device_put_p.def_batch
def _device_put_batch(size, vals, dims, **params):
    return device_put_p.bind(*vals, **params), list(dims)


@device_put_p.def_lowering
def _device_put_lowering(ctx, *xs, devices, srcs, copy_semantics):
    return list(xs)


def device_put_traced(leaves: Sequence[Any], targets: Sequence[Any]) -> list:
    """``device_put`` of leaves some of which are tracers: one equation for all."""
    n = len(leaves)
    for x, d in zip(leaves, targets):  # (the value's own type: per example under vmap)
        _check_rank(core.get_aval(x), d)
    return device_put_p.bind(
        *leaves,
        devices=tuple(targets),
        srcs=(None,) * n,
        copy_semantics=(ArrayCopySemantics.REUSE_INPUT,) * n,
    )


def memory_kind_of(x: Any) -> str | None:
    """The memory kind of an Array's sharding; None for other values."""
    s = getattr(x, "sharding", None)
    return getattr(s, "memory_kind", None)


class _NoSource(SourceInfo):
    """The source of an equation no user line made (JAX's ``new_source_info()``: its
    summary is empty), as the offloading policies' transfers."""

    def summary(self) -> str:
        return ""


NO_SOURCE = _NoSource("", 0, "")


def transfer_eqn(src: core.Var, dst: core.Var, kind: str, source_info: Any) -> core.JaxprEqn:
    """The equation ``dst = device_put[memory kind's space] src`` that moves a saved
    residual between memories (JAX's offloading checkpoint policies)."""
    return core.JaxprEqn(
        device_put_p,
        [src],
        [dst],
        dict(
            devices=(mem_kind_to_space(kind),),
            srcs=(None,),
            copy_semantics=(ArrayCopySemantics.ALWAYS_COPY,),
        ),
        source_info,
    )


def module_memory_kinds(closed: Any, in_kinds: Sequence, out_given: Sequence) -> tuple | None:
    """(argument kinds, result kinds, results placed by out_shardings) for a program's
    ``mhlo.memory_kind`` attributes; None where every sharding, argument, result and
    transfer is in the device's memory (JAX then writes none)."""
    arg_spaces = [getattr(a, "memory_space", MemorySpace.Device) for a in closed.in_avals]
    ins = [
        k if k is not None else (None if s is MemorySpace.Device else mem_space_to_kind(s))
        for k, s in zip(in_kinds, arg_spaces)
    ]
    kinds = [*ins, *out_given, *jaxpr_transfer_kinds(closed.jaxpr)]
    if all(k in (None, "device") for k in kinds):
        return None
    outs = [
        k if k is not None else mem_space_to_kind(getattr(a, "memory_space", MemorySpace.Device))
        for k, a in zip(out_given, closed.out_avals)
    ]
    return ins, outs, list(out_given)


def jaxpr_transfer_kinds(jaxpr: Any) -> list:
    """The memory kinds a program's ``device_put`` equations name (nested ones too)."""
    from .named import Sharding

    out = []
    for eqn in jaxpr.eqns:
        if eqn.primitive is device_put_p:
            for d in eqn.params["devices"]:
                if isinstance(d, MemorySpace):
                    out.append(mem_space_to_kind(d))
                elif isinstance(d, Sharding):
                    out.append(d.memory_kind)
        for sub in eqn.primitive.subjaxprs(eqn.params):
            out.extend(jaxpr_transfer_kinds(getattr(sub, "jaxpr", sub)))
    return out
