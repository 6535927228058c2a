"""``jax.experimental.layout``: how an array's elements lie in one device's memory.

A ``Layout`` is a major-to-minor order of the dimensions (row-major ``(0, 1)``,
column-major ``(1, 0)`` for a matrix); ``Layout.AUTO`` lets XLA choose. A ``Format``
pairs a layout with a sharding. ``jit`` takes Formats where it takes shardings
(``in_shardings``/``out_shardings``: the module's ``mhlo.layout_mode`` attributes);
a compiled program reports the formats XLA chose (``input_formats``,
``output_formats``); an array reports its own (``x.format``), and ``device_put`` with a
Format lays it out so. ``with_layout_constraint`` fixes the layout of a value inside a
program (XLA's ``LayoutConstraint`` custom call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo

from .. import core, tree_util
from ..core import Primitive
from ..interpreters import batching
from ..sharding.named import Sharding, SingleDeviceSharding

__all__ = ["Layout", "Format", "with_layout_constraint"]


class AutoLayoutSingleton:
    """``Layout.AUTO``: the compiler chooses the layout."""

    def __repr__(self) -> str:
        return "AUTO"


AutoLayout = AutoLayoutSingleton()


class Layout:
    """A major-to-minor order of an array's dimensions (and an optional tiling)."""

    AUTO = AutoLayout

    def __init__(
        self,
        major_to_minor: Sequence[int],
        tiling: Sequence[Sequence[int]] | None = None,
        sub_byte_element_size_in_bits: int = 0,
    ) -> None:
        self.major_to_minor = tuple(major_to_minor)
        self.tiling = None if tiling is None else tuple(map(tuple, tiling))
        self.sub_byte_element_size_in_bits = sub_byte_element_size_in_bits

    @staticmethod
    def from_pjrt_layout(pjrt_layout: Any) -> Layout:
        xla = pjrt_layout._xla_layout()
        return Layout(tuple(xla.minor_to_major())[::-1], xla.tiling(), xla.element_size_in_bits())

    def __repr__(self) -> str:
        return (
            f"Layout(major_to_minor={self.major_to_minor}, tiling={self.tiling}, "
            f"sub_byte_element_size_in_bits={self.sub_byte_element_size_in_bits})"
        )

    def __hash__(self) -> int:
        return hash((self.major_to_minor, self.tiling, self.sub_byte_element_size_in_bits))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Layout) and (
            self.major_to_minor == other.major_to_minor
            and self.tiling == other.tiling
            and self.sub_byte_element_size_in_bits == other.sub_byte_element_size_in_bits
        )

    def update(self, **kwargs: Any) -> Layout:
        return Layout(
            kwargs.get("major_to_minor", self.major_to_minor),
            kwargs.get("tiling", self.tiling),
            kwargs.get("sub_byte_element_size_in_bits", self.sub_byte_element_size_in_bits),
        )

    def check_compatible_aval(self, aval_shape: Sequence[int]) -> None:
        if len(self.major_to_minor) != len(aval_shape):
            raise ValueError(
                "Length of major_to_minor and the rank of the value should match. Got "
                f"major_to_minor={self.major_to_minor} and shape={tuple(aval_shape)}"
            )

    def _is_default(self, ndim: int) -> bool:
        """Row-major and untiled: the layout a device gives an array by default."""
        return self.major_to_minor == tuple(range(ndim)) and not self.tiling


class Format:
    """A layout and a sharding: where and how an array's values are laid out."""

    __slots__ = ["layout", "sharding"]

    def __init__(self, layout: Any = None, sharding: Any = None) -> None:
        if isinstance(layout, Layout) and sharding is None:
            raise ValueError(
                f"Sharding has to be concrete when layout is of type {type(layout)}. Please "
                "pass a `jax.sharding.NamedSharding` or `jax.sharding.SingleDeviceSharding` "
                f"to the sharding argument. Got sharding {sharding}"
            )
        if not isinstance(layout, (Layout, type(None), AutoLayoutSingleton)):
            raise TypeError(
                "Invalid value received for the layout argument. Expected values are "
                f"`None`, `Layout.AUTO` or an instance of `Layout`. Got {layout} of type "
                f"{type(layout)}"
            )
        if not isinstance(sharding, (Sharding, type(None))):
            raise TypeError(
                "Invalid value received for the sharding argument. Expected values are "
                f"`None` or an instance of `jax.Sharding`. Got {sharding} of type "
                f"{type(sharding)}"
            )
        self.layout = layout
        self.sharding = sharding

    def __repr__(self) -> str:
        return f"Format(layout={self.layout}, sharding={self.sharding})"

    def __hash__(self) -> int:
        return hash((self.layout, self.sharding))

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Format)
            and self.layout == other.layout
            and self.sharding == other.sharding
        )


# ---------------------------------------------------------------------------- arrays


def array_format(x: Any) -> Format:
    """``x.format``: the layout its buffer has, and its sharding."""
    return Format(Layout.from_pjrt_layout(x._buf._pjrt_layout), x.sharding)


def buffer_layout(buf: Any) -> Layout:
    return Layout.from_pjrt_layout(buf._pjrt_layout)


def put_with_format(x: Any, fmt: Format) -> Any:
    """``device_put(x, Format(layout, sharding))``: placed by the sharding, then laid
    out by a program whose result has that layout (as JAX's)."""
    from .. import api
    from ..array import Array
    from ..jit import jit

    if fmt.sharding is None and fmt.layout is None:
        return api.device_put(x)
    if not isinstance(fmt.sharding, Sharding) or not isinstance(fmt.layout, (Layout, type(None))):
        aval = core.get_aval(x)
        raise ValueError(
            "sharding and layout in `Layout` instance should be concrete. Got layout: "
            f"{fmt} for input {aval.str_short()}"
        )
    if getattr(x, "format", None) == fmt and getattr(x, "committed", False):
        return x
    y = api.device_put(x, fmt.sharding)
    if fmt.layout is None or array_format(y).layout == fmt.layout:
        return y
    z = jit(_identity, out_shardings=fmt).lower(y).compile()(y)
    if z._committed:
        return z
    out = Array(z._buf, z.aval, z._device, True)  # (committed, as device_put's results)
    try:
        out._sharding = z._sharding
    except AttributeError:
        pass
    return out


def _identity(x: Any) -> Any:
    return x


# ---------------------------------------------------------------------------- jit


class JitLayouts:
    """What ``jit``'s Formats and one-device shardings say beyond mesh shardings: each
    argument's and result's layout (None, AUTO or a Layout), and each result's memory
    kind (from a SingleDeviceSharding in another memory), as prefixes of the argument
    and result trees."""

    __slots__ = ("in_layouts", "out_layouts", "out_kinds", "in_kinds")

    def __init__(
        self, in_layouts: Any, out_layouts: Any, out_kinds: Any = None, in_kinds: Any = None
    ) -> None:
        self.in_layouts, self.out_layouts = in_layouts, out_layouts
        self.out_kinds, self.in_kinds = out_kinds, in_kinds

    def _key(self) -> tuple:
        return (
            _frozen(self.in_layouts),
            _frozen(self.out_layouts),
            _frozen(self.out_kinds),
            _frozen(self.in_kinds),
        )

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, JitLayouts) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _frozen(tree: Any) -> Any:
    leaves, treedef = tree_util.tree_flatten(tree, is_leaf=_is_layout_leaf)
    return (str(treedef), tuple(leaves))


def _is_layout_leaf(x: Any) -> bool:
    return x is None or isinstance(x, (Layout, AutoLayoutSingleton))


def _is_spec_leaf(x: Any) -> bool:
    return x is None or isinstance(x, (Format, Sharding)) or type(x).__name__ == "PartitionSpec"


def split_formats(in_shardings: Any, out_shardings: Any) -> tuple:
    """(in_shardings, out_shardings, JitLayouts or None, device or None): jit's specs
    with each Format replaced by its sharding, and a SingleDeviceSharding (JAX's one
    device placement) by None with that device as the program's."""
    devices: list = []
    out_kinds: list = []
    in_kinds: list = []

    def split(tree: Any, outputs: bool) -> tuple:
        leaves, treedef = tree_util.tree_flatten(tree, is_leaf=_is_spec_leaf)
        shardings, layouts = [], []
        for leaf in leaves:
            layout, kind = None, None
            if isinstance(leaf, Format):
                leaf, layout = leaf.sharding, leaf.layout
            if isinstance(leaf, SingleDeviceSharding):
                kind = leaf.memory_kind  # (a given "device" too: JAX then places it)
                devices.append(leaf.device)
                leaf = None
            shardings.append(leaf)
            layouts.append(layout)
            (out_kinds if outputs else in_kinds).append(kind)
        return (
            treedef.unflatten(shardings),
            treedef.unflatten(layouts),
            any(x is not None for x in layouts),
        )

    if not any(
        isinstance(x, (Format, SingleDeviceSharding))
        for tree in (in_shardings, out_shardings)
        for x in tree_util.tree_leaves(tree, is_leaf=_is_spec_leaf)
    ):
        return in_shardings, out_shardings, None, None
    in_s, in_l, any_in = split(in_shardings, False)
    out_s, out_l, any_out = split(out_shardings, True)
    kinds_tree = in_kinds_tree = None
    # (every SingleDeviceSharding given is kept: its kind, and its empty-mesh annotation)
    if any(k is not None for k in out_kinds):
        _, out_treedef = tree_util.tree_flatten(out_shardings, is_leaf=_is_spec_leaf)
        kinds_tree = out_treedef.unflatten(out_kinds)
    if any(k is not None for k in in_kinds):
        _, in_treedef = tree_util.tree_flatten(in_shardings, is_leaf=_is_spec_leaf)
        in_kinds_tree = in_treedef.unflatten(in_kinds)
    if all(s is None for s in tree_util.tree_leaves(in_s, is_leaf=_is_spec_leaf)):
        in_s = None
    if all(s is None for s in tree_util.tree_leaves(out_s, is_leaf=_is_spec_leaf)):
        out_s = None
    given_kinds = kinds_tree is not None or in_kinds_tree is not None
    layouts = (
        JitLayouts(in_l if any_in else None, out_l if any_out else None, kinds_tree, in_kinds_tree)
        if any_in or any_out or given_kinds
        else None
    )
    device = devices[0] if devices and all(d == devices[0] for d in devices) else None
    if devices and device is None:
        raise ValueError(
            "Received incompatible devices for jitted computation: SingleDeviceShardings "
            f"on devices {sorted({d.id for d in devices})}"
        )
    return in_s, out_s, layouts, device


def _per_leaf(prefix: Any, tree: Any, n: int) -> list:
    if prefix is None:
        return [None] * n
    if _is_layout_leaf(prefix):
        return [prefix] * n
    from ..tree_util import tree_structure

    out: list = []
    prefix_leaves, prefix_tree = tree_util.tree_flatten(prefix, is_leaf=_is_layout_leaf)
    subtrees = prefix_tree.flatten_up_to(tree_structure(tree).unflatten([0] * n))
    for layout, sub in zip(prefix_leaves, subtrees):
        out.extend([layout] * len(tree_util.tree_leaves(sub)))
    return out


def check_memory_kinds(opts: Any, flat: Sequence, in_tree: Any) -> None:
    """JAX's error for an argument not in the memory its SingleDeviceSharding in
    ``in_shardings`` names (jit does not move it there)."""
    kinds = opts.layouts.in_kinds
    if kinds is None:
        return
    from ..sharding.placement import MemorySpace

    args_tree = tree_util.treedef_children(in_tree)[0]
    n_args = args_tree.num_leaves
    per_leaf = _per_leaf(kinds, args_tree.unflatten([0] * n_args), n_args)
    from ..array import Array

    for x, want in zip(flat, per_leaf):
        if want is None or type(x) is not Array:  # (a ShapeDtypeStruct is not checked)
            continue
        aval = x.aval
        have = "pinned_host" if aval.memory_space is MemorySpace.Host else "device"
        if have != want:
            raise ValueError(
                "Memory kinds passed to jax.jit does not match memory kind on the respective "
                f"arg. Got jit memory kind: {want}, arg memory kind: {have} for arg type: "
                f"{aval.str_long().lstrip('~')}"
            )


def check_call_layouts(opts: Any, args: tuple, kwargs: dict) -> None:
    """JAX's error for a committed argument whose layout is not the one jit was given
    (``Layout.AUTO`` takes no committed array: its layout is already fixed), or for an
    argument not in the memory jit was given for it."""
    from ..array import Array

    _, dyn_args, dyn_kwargs = opts.split(args, kwargs)
    flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
    check_memory_kinds(opts, flat, in_tree)
    args_tree = tree_util.treedef_children(in_tree)[0]
    n_args = args_tree.num_leaves
    ins = _per_leaf(opts.layouts.in_layouts, args_tree.unflatten([0] * n_args), n_args)
    for x, want in zip(flat, ins):
        if want is None or type(x) is not Array or not x.committed:
            continue
        have = buffer_layout(x._buf)
        if isinstance(want, Layout) and not want.tiling:
            same = want.major_to_minor == have.major_to_minor
        else:
            same = want == have
        if same:
            continue
        extra = ""
        if isinstance(want, AutoLayoutSingleton):
            extra = (
                " The layout given to `jax.jit` is `Layout.AUTO` but the corresponding "
                "argument passed is a `jax.Array` with a concrete layout. Consider passing a "
                "`jax.ShapeDtypeStruct` instead of `jax.Array` as an argument to the jitted "
                "function  when using `Layout.AUTO`."
            )
        raise ValueError(
            "Layout passed to jit does not match the layout on the respective arg. Got jit "
            f"layout: {want},\narg layout: {have} for arg type: {x.aval.str_long()}.{extra}"
        )


def jit_layouts(layouts: JitLayouts, in_tree: Any, n_in: int, out_tree: Any) -> tuple:
    """(each dynamic argument leaf's, each result leaf's) layout: None, AUTO or a
    Layout. ``in_shardings`` prefixes the positional arguments (keyword ones: None)."""
    args_tree = tree_util.treedef_children(in_tree)[0]
    n_args = args_tree.num_leaves
    ins = _per_leaf(layouts.in_layouts, args_tree.unflatten([0] * n_args), n_args)
    ins += [None] * (n_in - n_args)
    n_out = out_tree.num_leaves
    outs = _per_leaf(layouts.out_layouts, out_tree.unflatten([0] * n_out), n_out)
    return ins, outs


def jit_in_kinds(layouts: JitLayouts, in_tree: Any, n_in: int) -> list:
    """Each dynamic argument leaf's memory kind from a SingleDeviceSharding in
    ``in_shardings`` (None where jit was given none)."""
    args_tree = tree_util.treedef_children(in_tree)[0]
    n_args = args_tree.num_leaves
    kinds = _per_leaf(layouts.in_kinds, args_tree.unflatten([0] * n_args), n_args)
    return kinds + [None] * (n_in - n_args)


def jit_out_kinds(layouts: JitLayouts, out_tree: Any) -> list:
    """Each result leaf's memory kind from a SingleDeviceSharding in ``out_shardings``
    (None where jit was given none)."""
    n_out = out_tree.num_leaves
    if layouts.out_kinds is None:
        return [None] * n_out
    leaves, prefix_tree = tree_util.tree_flatten(layouts.out_kinds, is_leaf=lambda k: k is None)
    subtrees = prefix_tree.flatten_up_to(out_tree.unflatten([0] * n_out))
    out: list = []
    for kind, sub in zip(leaves, subtrees):
        out.extend([kind] * len(tree_util.tree_leaves(sub)))
    return out


def layout_modes(ins: Sequence, in_avals: Sequence, outs: Sequence, out_avals: Sequence) -> tuple:
    """(each argument's, each result's) ``mhlo.layout_mode`` text or None."""
    return (
        [_mode(lay, a) for lay, a in zip(ins, in_avals)],
        [_mode(lay, a) for lay, a in zip(outs, out_avals)],
    )


def _mode(layout: Any, aval: Any) -> str | None:
    if layout is None:
        return None
    if isinstance(layout, AutoLayoutSingleton):
        return "auto"
    layout.check_compatible_aval(aval.shape)
    if layout._is_default(len(aval.shape)):
        return None  # (as JAX: the default layout is not written)
    return "{" + ",".join(str(d) for d in layout.major_to_minor[::-1]) + "}"


def set_layout_modes(module: Any, in_modes: Sequence, out_modes: Sequence) -> None:
    """Write ``mhlo.layout_mode`` on ``@main``'s arguments and results, in place."""
    from ..sharding.spmd import _main, set_attr_entries

    with module.context, ir.Location.unknown():
        main = _main(module)
        for which, modes in (("arg_attrs", in_modes), ("res_attrs", out_modes)):
            if any(m is not None for m in modes):
                set_attr_entries(main, which, "mhlo.layout_mode", modes)


def compiled_formats(exe: Any, shardings: Sequence, inputs: bool) -> list:
    """The Format of each parameter (or result) of a compiled program."""
    loaded = exe._loaded
    pjrt = loaded.get_parameter_layouts() if inputs else loaded.get_output_layouts()
    return [Format(Layout.from_pjrt_layout(p), s) for p, s in zip(pjrt, shardings)]


def arg_names(fun: Any, opts: Any, flat: Sequence, in_tree: Any) -> list[str]:
    """JAX's debug names of the argument leaves (``x``, ``w[0]``)."""
    from ..sharding.jit_shardings import _ArgNames

    names = _ArgNames(fun, opts, flat, in_tree)
    return [names(i).split(" ")[1] for i in range(len(flat))]


def check_layouts(
    flat: Sequence, avals: Sequence, required: Sequence, names: Sequence[str] | None = None
) -> list:
    """The arguments, uncommitted ones laid out as ``required`` where they are not;
    committed ones that are not: JAX's ValueError listing the mismatches."""
    from ..array import Array

    out, mismatches = list(flat), []
    for i, (x, aval, req) in enumerate(zip(flat, avals, required)):
        if req is None or type(x) is not Array:
            continue
        have = buffer_layout(x._buf)
        if have == req.layout:
            continue
        if x.committed:
            mismatches.append((i, aval, have, req.layout))
        else:
            out[i] = put_with_format(x, req)
    if mismatches:
        lines = [
            "Computation was compiled for input layouts that disagree with the layouts of "
            f"arguments passed to it. Here are the {len(mismatches)} mismatches:"
        ]
        for i, aval, have, want in mismatches:
            name = names[i] if names and i < len(names) else str(i)
            lines.append(f"Argument {name} with shape {aval.str_long().lstrip('~')}:")
            lines.append(f"  Passed layout: {have}")
            lines.append(f"  Required layout: {want}")
        raise ValueError("\n".join(lines))
    return out


# ---------------------------------------------------------------------------- constraint

layout_constraint_p = Primitive("layout_constraint")


def with_layout_constraint(x: Any, layouts: Any) -> Any:
    """``x`` laid out as ``layouts`` (one Layout, or a tree prefix of ``x``'s)."""
    flat, tree = tree_util.tree_flatten(x)
    per_leaf = _per_leaf(layouts, x, len(flat))
    if any(not isinstance(lay, Layout) for lay in per_leaf):
        raise ValueError(
            "layouts passed to `with_layout_constraint` must be of type `Layout`. Got "
            f"{[type(lay) for lay in per_leaf]}"
        )
    for v, lay in zip(flat, per_leaf):
        shape = core.get_aval(v).shape
        if len(lay.major_to_minor) != len(shape):
            raise ValueError(
                "One of with_layout_constraint arguments is incompatible with its layout "
                f"annotation {lay}: Length of major_to_minor and the rank of the value "
                f"should match. Got major_to_minor={lay.major_to_minor} and "
                f"shape={tuple(shape)}"
            )
    return tree.unflatten(
        [layout_constraint_p.bind(v, layout=lay) for v, lay in zip(flat, per_leaf)]
    )


@layout_constraint_p.def_impl
def _layout_constraint_impl(x: Any, *, layout: Layout) -> Any:
    from ..array import Array

    if type(x) is not Array:
        raise ValueError(
            f"with_layout_constraint in eager mode can only be applied to jax.Arrays. Got {type(x)}"
        )
    if array_format(x).layout == layout:
        return x
    return put_with_format(x, Format(layout, x.sharding))


layout_constraint_p.def_abstract_eval(lambda aval, *, layout: aval)
layout_constraint_p.def_jvp(
    lambda primals, tangents, *, layout: (
        layout_constraint_p.bind(primals[0], layout=layout),
        tangents[0]
        if type(tangents[0]).__name__ == "Zero"
        else layout_constraint_p.bind(tangents[0], layout=layout),
    )
)
layout_constraint_p.def_transpose(
    lambda ct, x, *, layout: [
        ct if type(ct).__name__ == "Zero" else layout_constraint_p.bind(ct, layout=layout)
    ]
)


@layout_constraint_p.def_batch
def _layout_constraint_batch(size: int, vals: Sequence, dims: Sequence, *, layout: Layout):
    (x,), (d,) = vals, dims
    if d is batching.not_mapped:
        return layout_constraint_p.bind(x, layout=layout), d
    m2m = tuple(m + 1 for m in layout.major_to_minor)
    m2m = m2m[:d] + (0,) + m2m[d:]
    return layout_constraint_p.bind(x, layout=layout.update(major_to_minor=m2m)), d


@layout_constraint_p.def_lowering
def _layout_constraint_lowering(ctx: Any, x: Any, *, layout: Layout) -> Any:
    ndim = len(ir.RankedTensorType(x.type).shape)
    index = ir.IndexType.get()

    def dense(values: Sequence[int]) -> Any:
        return ir.DenseElementsAttr.get(np.asarray(list(values), dtype=np.int64), type=index)

    op = stablehlo.CustomCallOp(
        [x.type],
        [x],
        call_target_name=ir.StringAttr.get("LayoutConstraint"),
        has_side_effect=ir.BoolAttr.get(False),
        backend_config=ir.StringAttr.get(""),
        api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 1),
        called_computations=ir.ArrayAttr.get([]),
        operand_layouts=ir.ArrayAttr.get([dense(range(ndim))]),
        result_layouts=ir.ArrayAttr.get([dense(layout.major_to_minor[::-1])]),
    )
    return op.result
