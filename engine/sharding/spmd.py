"""Sharding annotations on StableHLO modules, as JAX 0.10.2 writes them with Shardy
(its default partitioner): a ``sdy.mesh @mesh`` symbol, ``sdy.sharding`` attributes on
``@main``'s arguments and results, and ``mhlo.num_partitions`` on the module. XLA's
SPMD partitioner (Shardy) then splits the program over the mesh's devices.

Eager operations on sharded arrays compile a one-primitive module without annotations;
``SpecializingExecutable`` annotates and compiles it for the layouts of the arrays it is
called with (a cache per layout), as JAX runs such ops as jitted primitives."""

from __future__ import annotations

from collections.abc import Sequence

from jaxlib.mlir import ir

from .. import runtime
from .mesh import Mesh
from .named import NamedSharding, PartitionSpec, spec_from_hlo

MESH_NAME = "mesh"


def mesh_text(mesh: Mesh) -> str:
    """The module's ``sdy.mesh`` op, with the ``stablehlo.mesh`` attribute JAX adds."""
    pairs = list(zip(mesh.axis_names, mesh.axis_sizes))
    axes = ", ".join(f'"{a}"={n}' for a, n in pairs)
    described = ", ".join(f'{{name = "{a}", size = {n} : i64}}' for a, n in pairs)
    return f"sdy.mesh @{MESH_NAME} = <[{axes}]> {{stablehlo.mesh = {{axes = [{described}]}}}}"


def sharding_attr_text(spec: PartitionSpec, ndim: int) -> str:
    from .named import UNCONSTRAINED

    # an UNCONSTRAINED dimension is open ({?}): the partitioner chooses, as JAX's
    parts = spec._normalized(ndim)
    dims = [
        "{?}"
        if parts[d] is UNCONSTRAINED
        else "{" + ", ".join(f'"{a}"' for a in spec._axes_of(d)) + "}"
        for d in range(ndim)
    ]
    unreduced = ""
    if spec.unreduced:
        unreduced = ", unreduced={" + ", ".join(f'"{a}"' for a in sorted(spec.unreduced)) + "}"
    return f"#sdy.sharding<@{MESH_NAME}, [{', '.join(dims)}]{unreduced}>"


def _main(module):
    for op in module.body.operations:
        if op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value == (
            "main"
        ):
            return op
    raise ValueError("the module has no func.func named 'main'")


def _rank(t, default: int) -> int:
    try:
        return ir.RankedTensorType(t).rank
    except ValueError:
        return default


def _set_attrs(func, key: str, specs: Sequence, ndims: Sequence[int], which: str):
    old = func.attributes[which] if which in func.attributes else None
    # each value's rank as lowered (a typed key's data has its key axes at the end)
    types = list(func.type.inputs if which == "arg_attrs" else func.type.results)
    if len(types) == len(ndims):
        ndims = [_rank(t, n) for t, n in zip(types, ndims)]
    attrs = []
    for i, (spec, ndim) in enumerate(zip(specs, ndims)):
        entries = {}
        if old is not None:
            d = ir.DictAttr(old[i])
            entries = {d[j].name: d[j].attr for j in range(len(d))}
        if spec is not None:
            entries[key] = ir.Attribute.parse(sharding_attr_text(spec, ndim))
        attrs.append(ir.DictAttr.get(entries))
    func.attributes[which] = ir.ArrayAttr.get(attrs)


def typed_out_specs(mesh: Mesh, out_avals: Sequence) -> list | None:
    """The layout of each result whose type carries a sharding (None for the others,
    and None for all when none does): JAX lays results out as their types say."""
    from .in_types import spec_on_mesh

    # (over a mesh with an Auto axis JAX leaves the result's layout to the partitioner)
    specs = [
        None
        if getattr(a, "sharding", None) is None or _any_auto(a.sharding.mesh)
        else spec_on_mesh(a.sharding, mesh, len(a.shape))
        for a in out_avals
    ]
    return specs if any(s is not None for s in specs) else None


def _any_auto(mesh) -> bool:
    return any(t.name == "Auto" for t in mesh.axis_types)


def annotate_module(
    module,
    mesh: Mesh,
    in_specs: Sequence,
    in_ndims: Sequence[int],
    out_specs,
    out_ndims,
):
    """Add the mesh and the arguments' (and results') shardings to ``module`` in place,
    in its own context. A None spec leaves that argument or result to XLA."""
    with module.context, ir.Location.unknown():
        body = module.body
        first = body.operations[0] if len(body.operations) else None
        if first is None:
            ir.InsertionPoint(body).insert(ir.Operation.parse(mesh_text(mesh)))
        elif first.operation.name != "sdy.mesh":  # (annotate_text may have put it there)
            ir.InsertionPoint(first).insert(ir.Operation.parse(mesh_text(mesh)))
        i32 = ir.IntegerType.get_signless(32)
        module.operation.attributes["mhlo.num_partitions"] = ir.IntegerAttr.get(i32, mesh.size)
        module.operation.attributes["mhlo.num_replicas"] = ir.IntegerAttr.get(i32, 1)
        main = _main(module)
        _set_attrs(main, "sdy.sharding", in_specs, in_ndims, "arg_attrs")
        if out_specs is not None and any(s is not None for s in out_specs):
            _set_attrs(main, "sdy.sharding", out_specs, out_ndims, "res_attrs")
    return module


def annotate_empty_mesh(module, in_given: Sequence, in_ndims, out_given: Sequence, out_ndims):
    """JAX's annotations of a one-device program given SingleDeviceShardings: the
    ``sdy.mesh @empty_mesh`` op, and ``sdy.sharding`` over it (every dimension whole)
    on each argument and result given one (``*_given`` true there)."""
    if not any(in_given) and not any(out_given):
        return
    with module.context, ir.Location.unknown():
        body = module.body
        first = body.operations[0]
        empty = "sdy.mesh @empty_mesh = <[]> {stablehlo.mesh = {axes = []}}"
        ir.InsertionPoint(first).insert(ir.Operation.parse(empty))
        main = _main(module)
        for which, given, ndims in (
            ("arg_attrs", in_given, in_ndims),
            ("res_attrs", out_given, out_ndims),
        ):
            if not any(given):
                continue
            old = main.attributes[which] if which in main.attributes else None
            attrs = []
            for i, (g, nd) in enumerate(zip(given, ndims)):
                entries = {}
                if old is not None:
                    d = ir.DictAttr(old[i])
                    entries = {d[j].name: d[j].attr for j in range(len(d))}
                if g:
                    dims = ", ".join(["{}"] * nd)
                    text = f"#sdy.sharding<@empty_mesh, [{dims}]>"
                    entries["sdy.sharding"] = ir.Attribute.parse(text)
                attrs.append(ir.DictAttr.get(entries))
            main.attributes[which] = ir.ArrayAttr.get(attrs)


def set_memory_kinds(module, arg_kinds: Sequence, res_kinds: Sequence, placed: Sequence):
    """Each argument's and result's ``mhlo.memory_kind`` (None: not written); a result
    placed by jit's ``out_shardings`` (``placed``: its kind, or None) goes through
    ``annotate_device_placement``, as JAX lowers them."""
    with module.context, ir.Location.unknown():
        main = _main(module)
        _set_kinds(main, arg_kinds, "arg_attrs")
        _place_results(main, placed)
        _set_kinds(main, res_kinds, "res_attrs")


def _set_kinds(func, kinds: Sequence, which: str):
    ftype = ir.FunctionType(ir.TypeAttr(func.attributes["function_type"]).value)
    n = len(ftype.inputs if which == "arg_attrs" else ftype.results)
    kinds = [None] * (n - len(kinds)) + list(kinds)  # (effect tokens come first)
    set_attr_entries(func, which, "mhlo.memory_kind", kinds)


def set_attr_entries(func, which: str, key: str, values: Sequence) -> None:
    """Set ``key`` to each value that is not None (a string) in the attribute dicts of
    ``func``'s arguments (``which="arg_attrs"``) or results (``"res_attrs"``), keeping
    their other entries."""
    old = func.attributes[which] if which in func.attributes else None
    attrs = []
    for i, value in enumerate(values):
        entries = {}
        if old is not None:
            d = ir.DictAttr(old[i])
            entries = {d[j].name: d[j].attr for j in range(len(d))}
        if value is not None:
            entries[key] = ir.StringAttr.get(value)
        attrs.append(ir.DictAttr.get(entries))
    func.attributes[which] = ir.ArrayAttr.get(attrs)


def _place_results(func, kinds: Sequence):
    """Each result given a memory kind is returned through JAX's placement custom call."""
    block = func.regions[0].blocks[0]
    ret = block.operations[len(block.operations) - 1]
    kinds = [None] * (len(ret.operands) - len(kinds)) + list(kinds)
    for i, kind in enumerate(kinds):
        if kind is None:
            continue
        value = ret.operands[i]
        with ir.InsertionPoint(ret):
            op = ir.Operation.create(
                "stablehlo.custom_call",
                results=[value.type],
                operands=[value],
                attributes={
                    "call_target_name": ir.StringAttr.get("annotate_device_placement"),
                    "has_side_effect": ir.BoolAttr.get(True),
                    "backend_config": ir.StringAttr.get(""),
                    "mhlo.frontend_attributes": ir.DictAttr.get(
                        {"_xla_buffer_placement": ir.StringAttr.get(kind)}
                    ),
                },
            )
        ret.operands[i] = op.result


def annotate_text(text: str, mesh: Mesh, in_specs, in_ndims, out_specs=None, out_ndims=()):
    if f"@{MESH_NAME}," in text and "sdy.mesh" not in text:
        # an eager op on unreduced values was lowered with its sharding constraints
        # (engine/dispatch.py): their mesh must be there for the text to parse
        head, _, rest = text.partition("\n")
        text = f"{head}\n  {mesh_text(mesh)}\n{rest}"
    ctx = runtime.make_mlir_context()
    with ctx:
        module = ir.Module.parse(text)
        annotate_module(module, mesh, in_specs, in_ndims, out_specs, out_ndims)
        return module.operation.get_asm(enable_debug_info=True)


class SpecializingExecutable:
    """An un-annotated module over a DeviceGroup, compiled per layout of its inputs."""

    def __init__(self, mlir_text, group, out_avals, options=None, donated=()):
        self.mlir_text = mlir_text
        self.group = self.device = group
        self.out_avals = list(out_avals)
        self._options, self._donated = options, donated
        self._by_layout: dict = {}

    def _mesh(self) -> Mesh:
        from .arrays import mesh_of_group

        return mesh_of_group(self.group)

    def _specialize(self, bufs):
        hlos = tuple(runtime.hlo_of_buffer(b) for b in bufs)
        key = tuple(str(h) for h in hlos)
        exe = self._by_layout.get(key)
        if exe is None:
            mesh = self._mesh()
            ndims = [len(b.aval.shape) for b in bufs]
            specs = []
            for h, nd in zip(hlos, ndims):
                spec = spec_from_hlo(mesh, h, nd)
                if spec is None:
                    raise NotImplementedError(
                        f"an input laid out as {h} is not a PartitionSpec over {mesh!r}"
                    )
                specs.append(spec)
            out_specs = typed_out_specs(mesh, self.out_avals)
            out_ndims = [len(a.shape) for a in self.out_avals]
            text = annotate_text(self.mlir_text, mesh, specs, ndims, out_specs, out_ndims)
            exe = self._by_layout[key] = runtime.compile_spmd(
                text, self.group, self.out_avals, options=self._options, donated=self._donated
            )
        return exe

    def __call__(self, bufs):
        return self._specialize(bufs)(bufs)

    def fast_call_parts(self):
        raise NotImplementedError("a specializing executable has no fixed layout to call")

    def __repr__(self):
        return f"<SpecializingExecutable on {self.group}: {len(self._by_layout)} layouts>"


def _unannotated(mlir_text, group, out_avals, options=None, dump_dir=None, donated=()):
    return SpecializingExecutable(mlir_text, group, out_avals, options, donated)


runtime.set_spmd_specializer(_unannotated)


def named_sharding_of(mesh: Mesh, hlo, ndim: int):
    spec = spec_from_hlo(mesh, hlo, ndim)
    return None if spec is None else NamedSharding(mesh, spec)
