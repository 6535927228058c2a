"""What the control-flow primitives share: tracing user functions to closed jaxprs,
moving consts to leading inputs, reordering a jaxpr's inputs and outputs, and the
carry-type checks of the loops."""

from __future__ import annotations

import enum

import numpy as np

from ... import core, dtypes, tree_util
from ...core import ClosedJaxpr, Jaxpr, Primitive, ShapedArray, Var
from ...interpreters import jaxpr_transforms as jt
from ...interpreters import lowering
from ...interpreters.tracing import trace_to_jaxpr

__all__ = [
    "as_operand",
    "avals_str",
    "batch_jaxpr_nz",
    "carry_components",
    "convert_to",
    "empty2_p",
    "empty_like",
    "join_consts",
    "jvp_jaxpr_nz",
    "no_consts",
    "permute_jaxpr",
    "promote_weak_carry",
    "trace_fun",
    "zeros",
]


def trace_fun(fun, in_tree, avals, name, splat=True, traced_for="a control-flow primitive"):
    """Trace a pytree function; returns (ClosedJaxpr, out_tree). ``splat``: the tree is
    the tuple of positional arguments (else the single argument)."""
    store = []

    def flat_fun(*flat):
        tree = tree_util.tree_unflatten(in_tree, flat)
        out = fun(*tree) if splat else fun(tree)
        leaves, out_tree = tree_util.tree_flatten(out)
        store.append(out_tree)
        leaves = core.dims_as_values(leaves)
        core.check_traced_outputs(fun, leaves, traced_for)
        return [as_operand(x) for x in leaves]

    closed = trace_to_jaxpr(flat_fun, avals, debug_name=name)
    return closed, store[0]


def as_operand(x):
    if dtypes.is_python_scalar(x):
        return core.python_scalar_operand(x)
    return x


def join_consts(closed_list):
    """Turn each jaxpr's consts into leading inputs shared by all: every jaxpr takes
    (consts of jaxpr 0, ..., consts of jaxpr n-1, *args)."""
    consts = [c for cj in closed_list for c in cj.consts]
    out, offset = [], 0
    for cj in closed_list:
        n = len(cj.consts)
        j = cj.jaxpr
        before = [Var(core.get_aval(c)) for c in consts[:offset]]
        after = [Var(core.get_aval(c)) for c in consts[offset + n :]]
        out.append(
            ClosedJaxpr(
                Jaxpr([], before + j.constvars + after + j.invars, j.outvars, j.eqns, j.debug_name),
                [],
            )
        )
        offset += n
    return out, consts


def no_consts(closed):
    (j,), consts = join_consts([closed])
    return j, consts


def avals_str(avals):
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def jvp_jaxpr_nz(closed, nonzeros, instantiate_out, linearize=False):
    return jt.jvp_jaxpr(closed, tuple(nonzeros), tuple(instantiate_out), linearize)


def batch_jaxpr_nz(closed, size, in_dims, instantiate_out):
    return jt.batch_jaxpr(closed, size, tuple(in_dims), tuple(instantiate_out))


def permute_jaxpr(closed, in_order, out_order):
    """Same jaxpr, inputs and outputs reordered (``in_order[i]``: old index of new input i)."""
    j = closed.jaxpr
    return ClosedJaxpr(
        Jaxpr(
            j.constvars,
            [j.invars[i] for i in in_order],
            [j.outvars[i] for i in out_order],
            j.eqns,
            j.debug_name,
        ),
        closed.consts,
    )


class MemorySpace(enum.Enum):
    """Where a value lives (JAX's enum; printed as ``MemorySpace.Device``)."""

    Device = "device"


# A value nobody reads: what a cond branch puts in a residual slot that another branch
# fills (JAX's empty2; lowered as a zero).
empty2_p = Primitive("empty2")


@empty2_p.def_abstract_eval
def _empty2_abstract_eval(*, dtype, memory_space):
    return ShapedArray((), dtype)


@empty2_p.def_lowering
def _empty2_lowering(ctx, *, dtype, memory_space):
    return lowering.constant(np.zeros((), dtype), ctx.avals_out[0])


def empty_like(aval):
    """An array of ``aval``'s shape and dtype whose values do not matter."""
    from ..structural import broadcast

    scalar = empty2_p.bind(dtype=aval.dtype, memory_space=MemorySpace.Device)
    if not aval.shape:
        return scalar
    return broadcast(scalar, aval.shape, out_sharding=getattr(aval, "sharding", None))


def zeros(aval):
    from ..structural import full

    return full(aval.shape, 0, aval.dtype, sharding=getattr(aval, "sharding", None))


def carry_components(fun, tree) -> _CarryNames:
    """How JAX's carry-type errors name each leaf of a loop's carry: by the body's first
    parameter and the leaf's path (``the input carry component c[0]``); worked out
    only when an error needs them."""
    return _CarryNames(fun, tree)


class _CarryNames:
    def __init__(self, fun, tree):
        self.fun, self.tree = fun, tree
        self._names: list | None = None

    def __getitem__(self, i: int) -> str:
        if self._names is None:
            self._names = self._work_out()
        return self._names[i]

    def _work_out(self) -> list:
        import inspect

        try:
            name = next(iter(inspect.signature(self.fun).parameters), None)
        except (TypeError, ValueError):
            name = None
        skeleton = tree_util.tree_unflatten(self.tree, [0] * self.tree.num_leaves)
        out = []
        for path, _ in tree_util.tree_flatten_with_path(skeleton)[0]:
            key = tree_util.keystr(path)
            if name:
                out.append(
                    f"the input carry component {name}{key}" if path else f"the input carry {name}"
                )
            else:
                out.append(f"the input carry at path {key}" if path else "the input carry")
        return out


def _check_carry_vma(init_avals, out_avals, what, components):
    """In a check_vma shard_map body, carry types include the manual axes a value varies
    over: they must match too (JAX's TypeError; the fix is a pcast to 'varying')."""
    bad = [i for i, (a, b) in enumerate(zip(init_avals, out_avals)) if a.vma != b.vma]
    if not bad:
        return
    lines = [
        f"{components[i]} has type {init_avals[i].str_long()} but the "
        f"corresponding output carry component has type {out_avals[i].str_long()}, so the "
        "manual axis types do not match"
        for i in bad
    ]
    listed = (
        "\n\n" + ";\n".join(f"  * {ln}" for ln in lines) + ".\n"
        if len(lines) > 1
        else f"\n\nThe {lines[0][4:]}.\n"
    )
    fixes = [
        f"applying `jax.lax.pcast(..., {core.order_axes(out_avals[i].vma - init_avals[i].vma)}, "
        f"to='varying')`, to the initial carry value corresponding to {components[i]}"
        for i in bad
        if out_avals[i].vma - init_avals[i].vma
    ]
    hint = f"\nThis might be fixed by {' and by '.join(fixes)}.\n" if fixes else ""
    raise TypeError(
        f"{what} carry input and carry output must have equal types, but they differ:"
        f"{listed}{hint}See https://docs.jax.dev/en/latest/notebooks/shard_map.html#scan-vma "
        "for more information.\n\nRevise the function so that all output types match the "
        "corresponding input types."
    )


def promote_weak_carry(init_avals, out_avals, what, components=None):
    """Carry types must match; a weak input may take its output's strong type.
    ``components`` names the leaves in errors (``carry_components``)."""
    if components is None:
        components = [f"the input carry component carry[{i}]" for i in range(len(init_avals))]
    _check_carry_vma(init_avals, out_avals, what, components)
    new = []
    for a, b in zip(init_avals, out_avals):
        if a.weak_type and a.shape == b.shape and a.dtype != b.dtype:
            # a weak init (fori_loop(0, n, lambda i, c: c + 0.5, 0)) takes the promoted
            # type, as JAX's _promote_weak_typed_input; the caller retraces the body
            new.append(a.update(dtype=dtypes.result_type(a, b), weak_type=False))
            continue
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise TypeError(
                f"{what} carry input and carry output must have equal types, but they "
                f"differ: input carry {avals_str(init_avals)} and output carry "
                f"{avals_str(out_avals)}."
            )
        # Only weak types differ: the types match (JAX's ``core.typematch`` ignores weak
        # types), so the init is kept as is and the body is not traced a second time.
        new.append(a)
    _check_carry_sharding(init_avals, out_avals, what, components)
    return new


def _check_carry_sharding(init_avals, out_avals, what, components):
    """Carry types include their shardings over Explicit mesh axes (JAX's TypeError)."""
    from ..sharding_rules import same_layout

    bad = [i for i, (a, b) in enumerate(zip(init_avals, out_avals)) if not same_layout(a, b)]
    if not bad:
        return
    lines = [
        f"{components[i]} has type {init_avals[i].str_long()} but the "
        f"corresponding output carry component has type {out_avals[i].str_long()}"
        for i in bad
    ]
    listed = (
        "\n\n" + ";\n".join(f"  * {ln}" for ln in lines) + ".\n"
        if len(lines) > 1
        else f"\n\nThe {lines[0][4:]}.\n"
    )
    raise TypeError(
        f"{what} carry input and carry output must have equal types, but they differ:"
        f"{listed}\nRevise the function so that all output types match the corresponding "
        "input types."
    )


def convert_to(values, avals):
    from ..convert import convert_element_type

    out = []
    for v, a in zip(values, avals):
        va = core.get_aval(v)
        out.append(v if va == a else convert_element_type(v, a.dtype, a.weak_type))
    return out
