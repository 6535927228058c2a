"""Dataflow graphs of a jaxpr: equations, sub-jaxprs as clusters, named scopes as groups."""

from __future__ import annotations

from engine import core

from ..cells import location
from .views import (
    MAX_LAYOUT_EDGES,
    MAX_LAYOUT_NODES,
    _clip,
    _FineGraph,
    _Item,
    _make_view,
    _plural,
)

# ---------------------------------------------------------------------------- jaxpr graphs


def jaxpr_graph(
    model,
    expand=None,
    *,
    focus=None,
    hops=2,
    max_nodes=MAX_LAYOUT_NODES,
    max_edges=MAX_LAYOUT_EDGES,
    id_prefix="",
    title=None,
):
    """The dataflow graph of a ``JaxprModel``.

    Nodes are equations (primitive and output types), the jaxpr's inputs and outputs;
    edges carry values. Equations holding sub-jaxprs (``jit``, ``cond``, ``while``,
    ``scan``) are groups: open, a cluster of their equations; closed, one node.

    ``expand``: None (open everything if the graph has at most ``max_nodes`` nodes
    and ``max_edges`` edges, else close every group; a top level still over either
    is cut into closed blocks), ``"all"``, or ids of groups to open (``"eqn-3"`` or
    ``"3"``, block ids such as ``"jaxpr:block-2"``). ``focus``: an equation id: draw
    only what lies within ``hops`` edges of it (at most ``max_nodes`` nodes).
    """
    fine = _jaxpr_fine_graph(model, title)
    return _make_view(
        fine,
        expand,
        focus,
        hops,
        max_nodes,
        max_edges,
        id_prefix,
        lambda chunk: _describe_eqn_block(model, fine, chunk),
    )


def _aval_text(avals, limit=3):
    shown = ", ".join(avals[:limit])
    if len(avals) > limit:
        shown += f", \u2026 (+{len(avals) - limit})"
    return shown


def _eqn_label(m):
    head = m.primitive
    name = m.params.get("name") or (m.eqn.params.get("name") if m.subjaxprs else None)
    if name:
        head = f"{head} {name}"
    return f"{_clip(head)}\n{_clip(_aval_text(m.out_avals) or '()')}"


def _eqn_tooltip(m):
    params = " ".join(f"{k}={v}" for k, v in m.params.items())
    text = f"{' '.join(m.outvars)} = {m.primitive}"
    if params:
        text += f"[{_clip(params, 200)}]"
    text += " " + " ".join(m.invars)
    if m.source:
        text += f"\n{location(m.source[0], m.source[1])} ({m.source[2]})"
    return f"eqn {m.id}: " + _clip(text, 400)


def _sub_operands(m, sm, sub):
    """The outer atoms feeding each invar of a sub-jaxpr."""
    ops = list(m.eqn.invars)
    n = len(sub.invars)
    if m.primitive == "while":
        cn, bn = int(m.eqn.params.get("cond_nconsts", 0)), int(m.eqn.params.get("body_nconsts", 0))
        carry = ops[cn + bn :]
        ops = ops[:cn] + carry if sm.param == "cond_jaxpr" else ops[cn : cn + bn] + carry
    if len(ops) >= n:
        return ops[len(ops) - n :]  # a cond's branch index comes first
    return ops + [None] * (n - len(ops))


def _sub_results(m, sm, sub):
    """For each output of the equation, the sub-jaxpr's atom giving it (or None)."""
    nout = len(m.eqn.outvars)
    if m.primitive == "while" and sm.param == "cond_jaxpr":
        return [None] * nout
    if len(sub.outvars) == nout:
        return list(sub.outvars)
    return [None] * nout


def _is_var(a):
    return a is not None and type(a) is not core.Literal and not isinstance(a, core.DropVar)


def _jaxpr_fine_graph(model, title=None):
    fname = getattr(model.closed, "fun_name", None)
    fine = _FineGraph("jaxpr", title or (f"jaxpr of {fname}" if fname else "jaxpr"))
    env = {}  # Var -> producer keys, for the top level
    jaxpr = model.jaxpr
    for k, v in enumerate(jaxpr.constvars):
        key = fine.add(
            _Item(
                f"jaxpr:const-{k}",
                None,
                _clip(model.constvars[k]),
                f"constant {model.constvars[k]}",
                "gj-var gj-input",
                role="input",
            )
        )
        env[v] = (key,)
    for k, v in enumerate(jaxpr.invars):
        key = fine.add(
            _Item(
                f"jaxpr:in-{k}",
                None,
                _clip(model.invars[k]),
                f"input {k}: {model.invars[k]}",
                "gj-var gj-input",
                role="input",
            )
        )
        env[v] = (key,)
    _jaxpr_scope(model, fine, model.eqns, env, None)
    for k, v in enumerate(jaxpr.outvars):
        key = fine.add(
            _Item(
                f"jaxpr:out-{k}",
                None,
                _clip(f"out {k}: {model.outvars[k]}"),
                f"output {k}: {model.outvars[k]}",
                "gj-var gj-output",
                role="output",
            )
        )
        if _is_var(v):
            for p in env.get(v, ()):
                fine.edge(p, key)
    return fine


def _name_stack(m):
    info = getattr(m.eqn, "source_info", None)
    return getattr(info, "name_stack", "") or ""


def _scope_parent(fine, parent, stack, base):
    """The cluster for ``jax.named_scope`` names ``stack`` ("outer/inner") below
    ``parent``, made on first use; ``base`` is the enclosing equation's own stack,
    which equations inside its sub-jaxprs repeat."""
    if base and (stack == base or stack.startswith(base + "/")):
        stack = stack[len(base) :].lstrip("/")
    if not stack:
        return parent
    path, root = "", parent or fine.kind_prefix
    for name in stack.split("/"):
        path = f"{path}/{name}" if path else name
        key = f"{root}:scope-{path}"
        if key not in fine.items:
            fine.add(
                _Item(
                    key,
                    parent,
                    _clip(name),
                    f"jax.named_scope {path!r}",
                    "gj-scope",
                    is_group=True,
                    auto_open=True,
                    cluster_style="scope",
                )
            )
        parent = key
    return parent


def _jaxpr_scope(model, fine, eqn_ids, env, parent, base=""):
    scope_root = parent
    for eid in eqn_ids:
        m = model.eqn(eid)
        key = "eqn-" + eid
        parent = _scope_parent(fine, scope_root, _name_stack(m), base)
        if not m.subjaxprs:
            fine.add(_Item(key, parent, _eqn_label(m), _eqn_tooltip(m), "gj-eqn", member=eid))
            for a in m.eqn.invars:
                if _is_var(a):
                    for p in env.get(a, ()):
                        fine.edge(p, key)
            for v in m.eqn.outvars:
                if _is_var(v):
                    env[v] = (key,)
            continue
        n_inner = len(model.descendants(eid))
        fine.add(
            _Item(
                key,
                parent,
                _eqn_label(m),
                _eqn_tooltip(m),
                "gj-eqn gj-group",
                member=eid,
                is_group=True,
                closed_label=_eqn_label(m) + f"\n({_plural(n_inner, 'eqn')} inside)",
            )
        )
        mapped = set()
        results = [[] for _ in m.eqn.outvars]
        many = len(m.subjaxprs) > 1
        for sm in m.subjaxprs:
            sub = sm.jaxpr.jaxpr if isinstance(sm.jaxpr, core.ClosedJaxpr) else sm.jaxpr
            scope = key
            if many:
                name = sm.param + (str(sm.position) if sm.param == "branches" else "")
                scope = fine.add(
                    _Item(
                        f"{key}:{name}",
                        key,
                        _sub_label(sm),
                        "",
                        "gj-subjaxpr",
                        is_group=True,
                        auto_open=True,
                        cluster_style="sub",
                    )
                )
            inner = {}
            for iv, outer in zip(sub.invars, _sub_operands(m, sm, sub)):
                if _is_var(outer):
                    inner[iv] = env.get(outer, ())
                    mapped.add(id(outer))
            _jaxpr_scope(model, fine, sm.eqns, inner, scope, _name_stack(m))
            for j, atom in enumerate(_sub_results(m, sm, sub)):
                if atom is None:
                    continue
                made_inside = _is_var(atom) and any(
                    p.startswith("eqn-" + eid + "_") or p.startswith(key + ":")
                    for p in inner.get(atom, ())
                )
                if made_inside:
                    results[j].extend(inner[atom])
                else:  # passed through or a literal: an anchor inside the cluster
                    akey = fine.add(
                        _Item(
                            f"{scope}:out-{j}",
                            scope,
                            _clip(
                                model.name(m.eqn.outvars[j])
                                if _is_var(m.eqn.outvars[j])
                                else f"out {j}"
                            ),
                            f"output {j} of eqn {eid}",
                            "gj-var",
                            role="anchor",
                        )
                    )
                    if _is_var(atom):
                        for p in inner.get(atom, ()):
                            fine.edge(p, akey)
                    results[j].append(akey)
        unmapped = [a for a in m.eqn.invars if _is_var(a) and id(a) not in mapped]
        if unmapped:
            what = "branch index" if m.primitive == "cond" else "operands"
            ckey = fine.add(
                _Item(f"{key}:control", key, what, f"{what} of eqn {eid}", "gj-var", role="control")
            )
            for a in unmapped:
                for p in env.get(a, ()):
                    fine.edge(p, ckey)
        for v, producers in zip(m.eqn.outvars, results):
            if _is_var(v):
                env[v] = tuple(dict.fromkeys(producers))


def _sub_label(sm):
    if sm.param == "branches":
        return f"branch {sm.position}"
    return sm.param


def _describe_eqn_block(model, fine, chunk):
    ids = [  # a named_scope cluster stands for the equations inside it
        i
        for k in chunk
        for i in ([fine.items[k].member] if fine.items[k].member is not None else fine.members(k))
    ]
    lines = [model.eqn(e).line for e in ids if model.eqn(e).line is not None]
    funcs = list(dict.fromkeys(model.eqn(e).source[2] for e in ids if model.eqn(e).source))
    label = f"eqns {ids[0]}\u2013{ids[-1]}" if ids else "items"
    label += f"\n{len(ids)} equations"
    if lines:
        label += (
            f", lines {min(lines)}\u2013{max(lines)}"
            if min(lines) != max(lines)
            else f", line {lines[0]}"
        )
    tip = label.replace("\n", ", ")
    if funcs:
        tip += " in " + _clip(", ".join(funcs), 120)
    return label, tip
