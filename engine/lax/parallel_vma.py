"""The varying-manual-axes types of check_vma shard_map bodies, as JAX 0.10.2's: every
value's type names the manual mesh axes it may vary over (``aval.vma``, printed
f32[3]{V:i}). Collectives compute it themselves (psum makes a value invariant over its
axes, axis_index varies over its axis, pvary adds axes: engine/lax/parallel.py); every
other primitive's result varies over the union of its operands' axes, after core's bind
has inserted pvary on the operands that vary over fewer (JAX's implicit pcast).

pvary (invariant -> varying, a no-op at run time) and psum_invariant (a psum whose
result is invariant) transpose to each other.
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


_vma = _VmaContext()


@contextlib.contextmanager
def manual_axes_context(
    manual: frozenset, check_vma: bool, mesh_axis_names: Sequence[Any] = ()
) -> Iterator[None]:
    """While a shard_map body is traced or run: its manual axes, and whether values are
    typed with the axes they vary over (then bind matches operands' varying axes)."""
    prev = _vma.manual, _vma.check
    _vma.manual, _vma.check = frozenset(manual), bool(check_vma)
    if mesh_axis_names:
        core.note_axis_order(mesh_axis_names)
    core.vma_bodies += bool(check_vma)
    try:
        yield
    finally:
        core.vma_bodies -= bool(check_vma)
        _vma.manual, _vma.check = prev


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
    return [pvary_missing(x, union) for x in args]


core.match_vma_hook = _match_vma


def vary_to_spec(x: Any, spec: Any) -> Any:
    """A shard_map output made varying over the mesh axes its out_spec names (JAX's
    implicit pvary on outputs under check_vma)."""
    from ..shard_map import _spec_names

    return pvary_missing(x, _spec_names(spec)) if core.is_tracer(x) else x


def collective_vma(x: Any, axes: Sequence[Any]) -> Any:
    """A collective's operand made varying over its axes first (under check_vma)."""
    return pvary_missing(x, axes) if _vma.check and core.is_tracer(x) else x


# ---------------------------------------------------------------------------- pvary, psum_invariant

pvary_p = Primitive("pvary")
pvary_p.computes_vma = True
pvary_p.def_abstract_eval(lambda x, *, axes: x.update(vma=x.vma | set(axes)))


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
psum_invariant_p.def_abstract_eval(lambda x, *, axes: x.update(vma=x.vma - set(axes)))


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
    """'varying' or 'invarying': how ``leaf`` stands over all of ``axes`` (JAX's error
    where it varies over some of them only)."""
    aval = core.get_aval(leaf)
    states = {"varying" if a in aval.vma else "invarying" for a in axes}
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
