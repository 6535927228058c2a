"""Graphs of an HLO module: kernels, fusions as clusters of their fused ops."""

from __future__ import annotations

from ..cells import location
from .jaxpr_graphs import _scope_parent
from .views import (
    MAX_LAYOUT_EDGES,
    MAX_LAYOUT_NODES,
    _clip,
    _FineGraph,
    _Item,
    _make_view,
    _plural,
    _short_shape,
)

# ---------------------------------------------------------------------------- HLO graphs

_GROUP_OPCODES = ("fusion", "while", "conditional", "call")


def hlo_graph(
    module,
    expand=None,
    *,
    focus=None,
    hops=2,
    max_nodes=MAX_LAYOUT_NODES,
    max_edges=MAX_LAYOUT_EDGES,
    id_prefix="",
    stage="hlo_opt",
    title=None,
):
    """The dataflow graph of an ``HloModule``'s entry computation.

    Nodes are instructions (kernels: fusions, custom calls, copies...); a fusion is a
    group holding the instructions of its fused computation; ``while``,
    ``conditional`` and ``call`` are groups holding the computations they run.
    Parameters of called computations are not drawn: their uses connect to what
    feeds the caller's operand. ``stage``: ``"hlo_opt"`` (ids ``hloopt-<name>``) or
    ``"hlo"`` (before optimization, ids ``hlo-<name>``). ``expand``/``focus``/``hops``
    as for ``jaxpr_graph`` (group ids are the instruction's: ``"hloopt-fusion.3"``).
    """
    if stage not in ("hlo_opt", "hlo"):
        raise ValueError(f"stage must be 'hlo_opt' or 'hlo', not {stage!r}")
    fine = _HloBuilder(module, stage, title).fine
    return _make_view(
        fine,
        expand,
        focus,
        hops,
        max_nodes,
        max_edges,
        id_prefix,
        lambda chunk: _describe_hlo_block(fine, chunk),
    )


class _HloBuilder:
    def __init__(self, module, stage, title):
        self.module = module
        self.prefix = "hloopt-" if stage == "hlo_opt" else "hlo-"
        self.cls = "gj-hlo-opt" if stage == "hlo_opt" else "gj-hlo"
        what = "optimized HLO" if stage == "hlo_opt" else "HLO"
        self.fine = _FineGraph(stage, title or f"{what} of {module.name}")
        self.drawn = set()
        if module.entry is not None:
            self.drawn.add(module.entry.name)
            self.computation(module.entry, None, None)

    def computation(self, comp, param_env, parent, base=""):
        """Add ``comp``'s instructions; return the producers of its root. ``base``:
        the named_scope stack of the instruction that calls ``comp``."""
        env = {}
        fine = self.fine
        comp_parent = parent
        for ins in comp.instructions:
            if ins.opcode == "parameter" and param_env is not None:
                env[ins.name] = param_env.get(ins.parameter_number, ())
                continue
            parent = _scope_parent(fine, comp_parent, _hlo_name_stack(ins), base)
            operands = [env.get(op, ()) for op in ins.operands]
            key = self.prefix + ins.name
            called = [
                c
                for c in ins.called
                if c in self.module.computations
                and c not in self.drawn
                and not self.module.is_embedded(c)
            ]
            if ins.opcode == "fusion":
                called = [
                    c for c in ins.called if c in self.module.computations and c not in self.drawn
                ]
            if ins.opcode not in _GROUP_OPCODES or not called:
                role = (
                    "input"
                    if ins.opcode == "parameter"
                    else ("constant" if ins.opcode == "constant" else None)
                )
                if ins.is_root and parent is None:
                    role = "output"
                elif ins.is_root and role is None:
                    role = "root"
                fine.add(
                    _Item(
                        key,
                        parent,
                        self.label(ins),
                        self.tooltip(ins),
                        self.cls + (" gj-fusion" if ins.opcode == "fusion" else ""),
                        role=role,
                        member=ins.name,
                    )
                )
                for producers in operands:
                    for p in producers:
                        fine.edge(p, key)
                env[ins.name] = (key,)
                continue
            env[ins.name] = self.group(ins, key, parent, operands, called)
        return env.get(comp.root.name, ()) if comp.root is not None else ()

    def group(self, ins, key, parent, operands, called):
        fine, comps = self.fine, self.module.computations
        self.drawn.update(called)
        inside = sum(len(comps[c].instructions) for c in called)
        extra = " gj-fusion" if ins.opcode == "fusion" else ""
        fine.add(
            _Item(
                key,
                parent,
                self.label(ins),
                self.tooltip(ins),
                self.cls + extra + " gj-group",
                member=ins.name,
                is_group=True,
                cluster_style="fusion" if ins.opcode == "fusion" else "group",
                closed_label=self.label(ins) + f"\n({_plural(inside, 'op')} inside)",
            )
        )
        if ins.opcode == "conditional":  # operand 0 picks the branch; k+1 feeds branch k
            ckey = fine.add(
                _Item(
                    f"{key}:control",
                    key,
                    "branch index",
                    f"branch index of {ins.name}",
                    "gj-var",
                    role="control",
                )
            )
            for p in operands[0] if operands else ():
                fine.edge(p, ckey)
            feeds = [
                {0: operands[k + 1]} if k + 1 < len(operands) else {} for k in range(len(called))
            ]
        elif ins.opcode == "while":
            feeds = [{0: operands[0]} if operands else {} for _ in called]
        else:
            feeds = [dict(enumerate(operands)) for _ in called]
        results = []
        for comp_name, feed in zip(called, feeds):
            scope = key
            if len(called) > 1:
                label = comp_name
                if ins.opcode == "while":
                    label = (
                        "body " if comp_name == _attr_name(ins, "body") else "condition "
                    ) + comp_name
                scope = fine.add(
                    _Item(
                        f"{key}:{comp_name}",
                        key,
                        _clip(label),
                        "",
                        self.cls + " gj-computation",
                        is_group=True,
                        auto_open=True,
                        cluster_style="sub",
                    )
                )
            before = len(fine.items)
            root = self.computation(comps[comp_name], feed, scope, _hlo_name_stack(ins))
            if ins.opcode == "while" and comp_name == _attr_name(ins, "condition"):
                continue
            made = set(list(fine.items)[before:])
            if not made.intersection(root):  # the result passes through: show it inside
                anchor = fine.add(
                    _Item(
                        f"{scope}:out",
                        scope,
                        "result",
                        f"result of {comp_name}",
                        "gj-var",
                        role="anchor",
                    )
                )
                for p in root:
                    fine.edge(p, anchor)
                root = (anchor,)
            results.extend(root)
        return tuple(dict.fromkeys(results))

    def label(self, ins):
        op = ins.opcode
        if ins.fusion_kind:
            op += f" {ins.fusion_kind}"
        elif ins.custom_call_target:
            op += f" {ins.custom_call_target}"
        elif ins.opcode == "parameter":
            op += f"({ins.parameter_number})"
        elif ins.opcode == "constant" and len(ins.literal or "") <= 16:
            op += f" {ins.literal}"
        return f"{_clip(ins.name)}\n{_clip(op)}\n{_clip(_short_shape(ins.shape.text))}"

    def tooltip(self, ins):
        text = ins.text
        src = ins.metadata.source
        if src is not None:
            text += f"\n{location(src[0], src[1])}"
        return _clip(text, 500)


def _hlo_name_stack(ins):
    """The named_scope names in an instruction's ``op_name`` ("outer/inner/sin.eqn3"
    -> "outer/inner"); "" for none."""
    op_name = getattr(ins.metadata, "op_name", None) or ""
    return op_name.rpartition("/")[0]


def _attr_name(ins, key):
    v = ins.attributes.get(key)
    return v.strip().lstrip("%") if v else None


def _describe_hlo_block(fine, chunk):
    names = [fine.items[k].member for k in chunk if fine.items[k].member is not None]
    label = (
        f"{_clip(names[0], 30)} \u2026 {_clip(names[-1], 30)}\n{len(chunk)} instructions"
        if names
        else f"{len(chunk)} items"
    )
    return label, label.replace("\n", ", ")
