"""``Exported`` to and from bytes in JAX 0.10.2's format (its ``jax.export`` FlatBuffers
schema: table ``Exported`` and the tables it holds), so that artifacts move both ways
between this engine and JAX. Slot numbers, enums and conventions follow the schema;
shardings are NamedShardings over abstract meshes (JAX's since schema version 10), each
mesh and sharding stored once and referred to by index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import dtypes, tree_util
from ..core import ShapedArray
from . import flatbuf, shape_parse, shape_poly
from .exported import DisabledSafetyCheck, Exported
from .pytree_serialization import deserialization_registry, serialization_registry

# table Exported: field slots
_VERSION, _FUN_NAME, _IN_TREE, _IN_AVALS, _OUT_TREE, _OUT_AVALS = 0, 1, 2, 3, 4, 5
_NR_DEVICES_SHORT, _IN_SHARDINGS, _OUT_SHARDINGS, _PLATFORMS = 6, 7, 8, 9
_ORDERED_EFFECTS, _UNORDERED_EFFECTS, _DISABLED_CHECKS, _MODULE = 10, 11, 12, 13
_CALLING_CONVENTION, _KEPT_VAR_IDX, _USES_GLOBAL_CONSTANTS, _VJP = 14, 15, 16, 17
_NR_DEVICES, _UNIQUE_AVALS, _UNIQUE_MESHES, _UNIQUE_SHARDINGS = 18, 19, 20, 21
_IN_AVALS_IDXS, _OUT_AVALS_IDXS, _IN_SHARDINGS_IDXS, _OUT_SHARDINGS_IDXS = 22, 23, 24, 25

# JAX's deserializers before 2026 accepted only versions 2 and 3; JAX itself writes 3
_WRITTEN_VERSION = 3

_TREE_LEAF, _TREE_NONE, _TREE_TUPLE, _TREE_LIST, _TREE_DICT, _TREE_CUSTOM = range(6)
_MEMORY_DEVICE = 1
_CHECK_PLATFORM, _CHECK_CUSTOM_CALL, _CHECK_SHAPE_ASSERTIONS = 0, 1, 2
_AXIS_TYPES = {"Auto": 1, "Explicit": 2, "Manual": 3}  # enum AxisType (0: missing)

_DTYPES = [
    np.dtype("bool"),
    np.dtype("int8"),
    np.dtype("int16"),
    np.dtype("int32"),
    np.dtype("int64"),
    np.dtype("uint8"),
    np.dtype("uint16"),
    np.dtype("uint32"),
    np.dtype("uint64"),
    np.dtype("float16"),
    np.dtype("float32"),
    np.dtype("float64"),
    np.dtype("complex64"),
    np.dtype("complex128"),
    dtypes.bfloat16,
]
_DTYPE_TO_KIND = {d: k for k, d in enumerate(_DTYPES)}
_DTYPE_TO_KIND[np.dtype(dtypes.float0)] = 22
_KIND_TO_DTYPE = {k: d for d, k in _DTYPE_TO_KIND.items()}


def serialize(exp: Exported, vjp_order: int = 0) -> bytearray:
    """The bytes of ``exp`` (and ``vjp_order`` levels of its VJP) in JAX's format."""
    return bytearray(flatbuf.encode(_exported_table(exp, vjp_order)))


def deserialize(blob: bytes | bytearray) -> Exported:
    """An ``Exported`` from bytes written by ``serialize`` or by JAX's
    ``Exported.serialize()``. The bytes must be trusted: running the module runs any
    custom call it names."""
    return _read_exported(flatbuf.View.root(bytes(blob)))


# ---------------------------------------------------------------------------- writing


def _strs(values: Any) -> flatbuf.TableVec:
    return flatbuf.TableVec([flatbuf.Str(str(v).encode()) for v in values])


def _aval_table(aval: ShapedArray) -> flatbuf.Table:
    if aval.dtype not in _DTYPE_TO_KIND:
        raise NotImplementedError(f"serializing arrays of dtype {aval.dtype}")
    t = flatbuf.Table()
    t.scalar(0, "i8", 0)  # shapedArray
    t.child(1, _strs(aval.shape))
    t.scalar(2, "i8", _DTYPE_TO_KIND[aval.dtype])
    t.scalar(3, "i8", _MEMORY_DEVICE)
    return t


def _tree_table(tree: Any) -> flatbuf.Table:
    t = flatbuf.Table()
    node = tree.node_data()
    children = tree.children()
    if node is None:
        kind = _TREE_LEAF
    elif node[0] is type(None):
        kind = _TREE_NONE
    elif node[0] is tuple:
        kind = _TREE_TUPLE
    elif node[0] is list:
        kind = _TREE_LIST
    elif node[0] is dict:
        kind = _TREE_DICT
        keys = list(node[1])
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(
                    "Serialization is supported only for dictionaries with string keys."
                    f" Found key {k} of type {type(k)}."
                )
        t.child(2, _strs(keys))
    elif node[0] in serialization_registry:
        kind = _TREE_CUSTOM
        name, serialize_aux = serialization_registry[node[0]]
        data = serialize_aux(node[1])
        if not isinstance(data, (bytes, bytearray)):
            raise ValueError(
                "The custom serialization function for `node_type` must return a `bytes` "
                f"object. It returned a {type(data)}."
            )
        t.child(3, flatbuf.Str(name.encode()))
        t.child(4, flatbuf.ScalarVec("u8", bytes(data)))
    else:
        raise ValueError(
            f"Cannot serialize PyTreeDef containing an unregistered type `{node[0]}`. "
            "Use `export.register_pytree_node_serialization` or "
            "`export.register_namedtuple_serialization`."
        )
    t.scalar(0, "i8", kind)
    if children:
        t.child(1, flatbuf.TableVec([_tree_table(c) for c in children]))
    return t


def _check_table(check: DisabledSafetyCheck) -> flatbuf.Table:
    t = flatbuf.Table()
    target = check.is_custom_call()
    if target is not None:
        t.scalar(0, "i8", _CHECK_CUSTOM_CALL)
        t.child(1, flatbuf.Str(target.encode()))
    elif check == DisabledSafetyCheck.platform():
        t.scalar(0, "i8", _CHECK_PLATFORM)
    else:
        raise NotImplementedError(f"serializing DisabledSafetyCheck: {check}")
    return t


def _mesh_table(mesh: Any) -> flatbuf.Table:
    t = flatbuf.Table()
    t.child(0, flatbuf.ScalarVec("u32", list(mesh.axis_sizes)))
    t.child(1, _strs(mesh.axis_names))
    t.child(2, flatbuf.ScalarVec("u8", bytes(_AXIS_TYPES[a.name] for a in mesh.axis_types)))
    if getattr(mesh, "_device_kind", None) is not None:
        device = flatbuf.Table()
        device.child(0, flatbuf.Str(mesh._device_kind.encode()))
        device.child(2, flatbuf.Str((mesh._platform or "").encode()))
        t.child(3, device)
    return t


def _spec_table(spec: Any) -> flatbuf.Table:
    entries = []
    for p in spec.partitions:
        axes = () if p is None else (p,) if isinstance(p, str) else tuple(p)
        entries.append(flatbuf.Table().child(0, _strs(axes)))
    t = flatbuf.Table()
    t.child(0, flatbuf.TableVec(entries))
    t.child(1, _strs(sorted(spec.reduced)))
    t.child(2, _strs(sorted(spec.unreduced)))
    return t


def _sharding_table(s: Any, meshes: list) -> flatbuf.Table:
    mesh = s.mesh.abstract_mesh
    t = flatbuf.Table()
    t.child(0, _mesh_table(mesh))
    t.child(1, _spec_table(s.spec))
    if getattr(s, "memory_kind", None) is not None:
        t.child(2, flatbuf.Str(s.memory_kind.encode()))
    t.scalar(3, "u32", meshes.index(mesh))
    return t


def _unique(values: Any) -> list:
    out: list = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return out


def _exported_table(exp: Exported, vjp_order: int) -> flatbuf.Table:
    if exp.ordered_effects or exp.unordered_effects:
        raise NotImplementedError("serializing an Exported with effects")
    uniques = _unique(exp.in_avals + exp.out_avals)
    named = _unique(exp._in_named_shardings + exp._out_named_shardings)  # type: ignore[operator]
    meshes = _unique(s.mesh.abstract_mesh for s in named)

    def sharding_vec(shardings: Any) -> flatbuf.TableVec:
        return flatbuf.TableVec(
            [
                flatbuf.Table()
                if s is None
                else flatbuf.Table().child(2, _sharding_table(s, meshes))
                for s in shardings
            ]
        )

    def sharding_idxs(shardings: Any) -> flatbuf.ScalarVec:
        return flatbuf.ScalarVec("u32", [0 if s is None else 1 + named.index(s) for s in shardings])

    t = flatbuf.Table()
    t.scalar(_VERSION, "u16", _WRITTEN_VERSION)
    t.child(_FUN_NAME, flatbuf.Str(exp.fun_name.encode()))
    t.child(_IN_TREE, _tree_table(exp.in_tree))
    t.child(_IN_AVALS, flatbuf.TableVec([_aval_table(a) for a in exp.in_avals]))
    t.child(_OUT_TREE, _tree_table(exp.out_tree))
    t.child(_OUT_AVALS, flatbuf.TableVec([_aval_table(a) for a in exp.out_avals]))
    t.scalar(_NR_DEVICES, "u32", exp.nr_devices)
    # an unspecified sharding: an empty Sharding table, and index 0 below
    t.child(_IN_SHARDINGS, sharding_vec(exp._in_named_shardings))
    t.child(_OUT_SHARDINGS, sharding_vec(exp._out_named_shardings))
    t.child(_PLATFORMS, _strs(exp.platforms))
    t.child(_ORDERED_EFFECTS, flatbuf.TableVec([]))
    t.child(_UNORDERED_EFFECTS, flatbuf.TableVec([]))
    t.child(
        _DISABLED_CHECKS, flatbuf.TableVec([_check_table(c) for c in exp.disabled_safety_checks])
    )
    t.child(_MODULE, flatbuf.ScalarVec("u8", bytes(exp.mlir_module_serialized)))
    t.scalar(_CALLING_CONVENTION, "u16", exp.calling_convention_version)
    t.child(_KEPT_VAR_IDX, flatbuf.ScalarVec("u16", list(exp.module_kept_var_idx)))
    t.scalar(_USES_GLOBAL_CONSTANTS, "bool", exp.uses_global_constants)
    if vjp_order > 0:
        if not exp.has_vjp():
            raise ValueError(
                "serialization of an Exported that does not have vjps of high-enough order"
            )
        t.child(_VJP, _exported_table(exp.vjp(), vjp_order - 1))
    t.child(_UNIQUE_AVALS, flatbuf.TableVec([_aval_table(a) for a in uniques]))
    t.child(_UNIQUE_MESHES, flatbuf.TableVec([_mesh_table(m) for m in meshes]))
    t.child(_UNIQUE_SHARDINGS, flatbuf.TableVec([_sharding_table(s, meshes) for s in named]))
    t.child(_IN_AVALS_IDXS, flatbuf.ScalarVec("u32", [uniques.index(a) for a in exp.in_avals]))
    t.child(_OUT_AVALS_IDXS, flatbuf.ScalarVec("u32", [uniques.index(a) for a in exp.out_avals]))
    t.child(_IN_SHARDINGS_IDXS, sharding_idxs(exp._in_named_shardings))
    t.child(_OUT_SHARDINGS_IDXS, sharding_idxs(exp._out_named_shardings))
    return t


# ---------------------------------------------------------------------------- reading


def _read_aval(v: flatbuf.View, scope: shape_poly.SymbolicScope) -> ShapedArray:
    if v.scalar(0, "i8") != 0:
        raise NotImplementedError("deserializing a token abstract value")
    kind = v.scalar(2, "i8")
    if kind not in _KIND_TO_DTYPE:
        raise NotImplementedError(f"deserializing arrays of dtype kind {kind}")
    shape = shape_parse.symbolic_shape(",".join(v.strings(1)), scope=scope)
    return ShapedArray(shape, _KIND_TO_DTYPE[kind])  # type: ignore[arg-type]  # symbolic dims


def _read_tree_value(v: flatbuf.View, leaves: Any) -> Any:
    kind = v.scalar(0, "i8")
    children = [_read_tree_value(c, leaves) for c in v.tables(1)]
    if kind == _TREE_LEAF:
        return next(leaves)
    if kind == _TREE_NONE:
        return None
    if kind == _TREE_TUPLE:
        return tuple(children)
    if kind == _TREE_LIST:
        return list(children)
    if kind == _TREE_DICT:
        return dict(zip(v.strings(2), children))
    if kind == _TREE_CUSTOM:
        name = v.string(3) or ""
        if name not in deserialization_registry:
            raise ValueError(
                f"Cannot deserialize a PyTreeDef containing an unregistered type `{name}`. "
                "Use `export.register_pytree_node_serialization` or "
                "`export.register_namedtuple_serialization`."
            )
        _nodetype, deserialize_aux, from_children = deserialization_registry[name]
        return from_children(deserialize_aux(v.bytes_(4)), children)
    raise ValueError(f"Cannot deserialize PyTreeDef with unknown kind: {kind}")


def _read_tree(v: flatbuf.View) -> Any:
    return tree_util.tree_structure(_read_tree_value(v, iter(range(1 << 30))))


def _read_check(v: flatbuf.View) -> DisabledSafetyCheck:
    kind = v.scalar(0, "i8")
    if kind == _CHECK_CUSTOM_CALL:
        return DisabledSafetyCheck.custom_call(v.string(1) or "")
    if kind == _CHECK_PLATFORM:
        return DisabledSafetyCheck.platform()
    if kind == _CHECK_SHAPE_ASSERTIONS:
        return DisabledSafetyCheck.shape_assertions()
    raise ValueError(f"Cannot deserialize DisabledSafetyCheck with unknown kind: {kind}")


_AXIS_TYPE_NAMES = {k: n for n, k in _AXIS_TYPES.items()}


def _read_mesh(v: flatbuf.View) -> Any:
    from ..sharding.mesh import AbstractMesh, AxisType

    kinds = v.scalars(2, "u8")
    if any(k not in _AXIS_TYPE_NAMES for k in kinds):  # written before axis types were
        raise NotImplementedError(f"deserializing a mesh with axis types {kinds}")
    device = v.table(3)
    kind = platform = None
    if device is not None:
        kind = device.string(0)
        platform = device.string(2) or ("cpu" if "cpu" in (kind or "").lower() else None)
    return AbstractMesh(
        v.scalars(0, "u32"),
        v.strings(1),
        tuple(getattr(AxisType, _AXIS_TYPE_NAMES[k]) for k in kinds),
        _device_kind=kind,
        _platform=platform,
    )


def _read_spec(v: flatbuf.View) -> Any:
    from ..sharding.named import PartitionSpec

    parts: list = []
    for one in v.tables(0):
        axes = tuple(one.strings(0))
        parts.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*parts, reduced=v.strings(1), unreduced=v.strings(2))


def _read_sharding(v: flatbuf.View, meshes: list) -> Any:
    from ..sharding.named import NamedSharding

    mesh_view = v.table(0)
    mesh = meshes[v.scalar(3, "u32")] if meshes or mesh_view is None else _read_mesh(mesh_view)
    return NamedSharding(mesh, _read_spec(v.table(1)), memory_kind=v.string(2))  # type: ignore[arg-type]


def _read_shardings(v: flatbuf.View, n: int, slots: tuple, meshes: list, named: list) -> tuple:
    """The NamedSharding (or None) of each of n inputs or outputs: by index into the
    unique shardings (JAX's since version 10), else from the Sharding tables."""
    idxs_slot, tables_slot = slots
    if v.has(idxs_slot):
        out = tuple(None if i == 0 else named[i - 1] for i in v.scalars(idxs_slot, "u32"))
    else:
        tables = v.tables(tables_slot)
        if any(t.scalar(0, "i8") == 1 or t.has(1) for t in tables):
            raise NotImplementedError("deserializing an Exported with HloSharding shardings")
        out = tuple(
            None if t.table(2) is None else _read_sharding(t.table(2), meshes)  # type: ignore[arg-type]
            for t in tables
        )
    return out if out else (None,) * n


def _typed(aval: ShapedArray, sharding: Any) -> ShapedArray:
    if sharding is None:
        return aval
    from ..sharding.in_types import typed_aval

    return typed_aval(aval, sharding)


def _hlo(sharding: Any, aval: ShapedArray) -> Any:
    """JAX's ``in/out_shardings_hlo`` entry of a deserialized sharding: jaxlib's
    HloSharding in its iota form (``{devices=[4,1,2]<=[8] last_tile_dim_replicate}``),
    the mesh without its size-1 axes."""
    if sharding is None:
        return None
    from jaxlib import xla_client as xc

    mesh, spec, ndim = sharding.mesh, sharding.spec, len(aval.shape)
    kept = [i for i, n in enumerate(mesh.axis_sizes) if n != 1]
    names = [mesh.axis_names[i] for i in kept]
    sizes = [mesh.axis_sizes[i] for i in kept]
    types = [mesh.axis_types[i].name for i in kept]
    dims, perm, used = [1] * ndim, [], set()
    for d in range(ndim):
        for a in spec._axes_of(d):
            if a in names:
                dims[d] *= sizes[names.index(a)]
                perm.append(names.index(a))
                used.add(a)
    rest = [i for i, a in enumerate(names) if a not in used]
    kind = xc.OpSharding.Type

    def subgroup(i: int) -> Any:
        if names[i] in spec.unreduced:
            return kind.UNREDUCED
        return kind.MANUAL if types[i] == "Manual" else kind.REPLICATED

    if not used and all(subgroup(i) == kind.REPLICATED for i in rest):
        return xc.HloSharding.replicate()
    groups: dict = {}
    for i in rest:
        groups.setdefault(subgroup(i), []).append(i)
    last = []
    for t, axes in sorted(groups.items(), key=lambda g: g[0].value):
        last.append(t)
        dims.append(int(np.prod([sizes[i] for i in axes])))
        perm.extend(axes)
    return xc.HloSharding.iota_tile(
        dims=dims, reshape_dims=sizes, transpose_perm=perm, subgroup_types=last
    )


def _read_exported(v: flatbuf.View) -> Exported:
    scope = shape_poly.SymbolicScope()
    unique = [_read_aval(a, scope) for a in v.tables(_UNIQUE_AVALS)]
    if v.has(_IN_AVALS_IDXS) or unique:
        in_avals = tuple(unique[i] for i in v.scalars(_IN_AVALS_IDXS, "u32"))
        out_avals = tuple(unique[i] for i in v.scalars(_OUT_AVALS_IDXS, "u32"))
    else:
        in_avals = tuple(_read_aval(a, scope) for a in v.tables(_IN_AVALS))
        out_avals = tuple(_read_aval(a, scope) for a in v.tables(_OUT_AVALS))
    meshes = [_read_mesh(m) for m in v.tables(_UNIQUE_MESHES)]
    named = [_read_sharding(s, meshes) for s in v.tables(_UNIQUE_SHARDINGS)]
    in_named = _read_shardings(v, len(in_avals), (_IN_SHARDINGS_IDXS, _IN_SHARDINGS), meshes, named)
    out_named = _read_shardings(
        v, len(out_avals), (_OUT_SHARDINGS_IDXS, _OUT_SHARDINGS), meshes, named
    )
    in_avals = tuple(_typed(a, s) for a, s in zip(in_avals, in_named))
    out_avals = tuple(_typed(a, s) for a, s in zip(out_avals, out_named))
    if v.tables(_ORDERED_EFFECTS) or v.tables(_UNORDERED_EFFECTS):
        raise NotImplementedError("deserializing an Exported with effects")
    vjp = v.table(_VJP)
    return Exported(
        fun_name=v.string(_FUN_NAME) or "",
        in_tree=_read_tree(v.table(_IN_TREE)),  # type: ignore[arg-type]
        in_avals=in_avals,
        out_tree=_read_tree(v.table(_OUT_TREE)),  # type: ignore[arg-type]
        out_avals=out_avals,
        _in_named_shardings=in_named,
        _out_named_shardings=out_named,
        in_shardings_hlo=tuple(_hlo(s, a) for s, a in zip(in_named, in_avals)),
        out_shardings_hlo=tuple(_hlo(s, a) for s, a in zip(out_named, out_avals)),
        nr_devices=v.scalar(_NR_DEVICES, "u32") or v.scalar(_NR_DEVICES_SHORT, "i16") or 1,
        platforms=tuple(v.strings(_PLATFORMS)),
        ordered_effects=(),
        unordered_effects=(),
        disabled_safety_checks=tuple(_read_check(c) for c in v.tables(_DISABLED_CHECKS)),
        mlir_module_serialized=v.bytes_(_MODULE),
        calling_convention_version=v.scalar(_CALLING_CONVENTION, "u16"),
        module_kept_var_idx=tuple(v.scalars(_KEPT_VAR_IDX, "u16")),
        uses_global_constants=bool(v.scalar(_USES_GLOBAL_CONSTANTS, "bool")),
        _get_vjp=None if vjp is None else _vjp_reader(vjp),
    )


def _vjp_reader(v: flatbuf.View) -> Callable[[Exported], Exported]:
    made: list[Exported] = []

    def get(_primal: Exported) -> Exported:
        if not made:
            made.append(_read_exported(v))
        return made[0]

    get.__qualname__ = "_deserialize_exported.<locals>.<lambda>"  # as JAX's repr names it
    return get
