"""Dataflow graphs of a jaxpr and of an HLO module, as Graphviz DOT text.

    g = jaxpr_graph(models.jaxpr)        # equations, dataflow, sub-jaxprs as clusters
    h = hlo_graph(models.hlo_opt)        # kernels; fusions as clusters of their fused ops
    g.source                             # DOT text
    g.expand("eqn-3"), g.collapse(...)   # other views of the same graph
    jaxpr_graph(m, focus="12", hops=2)   # the neighbourhood of one equation
    render_svg(g.source)                 # server-side SVG where `dot` (or node) exists

Every node and cluster carries the ids the HTML panes use: ``id="eqn-<eqn id>"``
``class="gj-eqn ..."`` for equations, ``id="hloopt-<name>"`` ``class="gj-hlo-opt ..."``
for optimized HLO instructions (``hlo-<name>`` / ``gj-hlo`` before optimization).
Graphviz keeps both attributes in its SVG. Nodes that are not equations or
instructions use ids with a colon (``jaxpr:in-0``, ``eqn-7:body_jaxpr``), which
neither kind of name contains.

A graph is built once at the finest grain (every equation or instruction a node;
equations with sub-jaxprs, fusions, loops and calls are *groups*), then each view
picks which groups are open (drawn as clusters) and which are closed (drawn as one
node standing for everything inside). Graphviz's layout time grows steeply with size
(see the measurements behind ``MAX_LAYOUT_NODES`` and ``MAX_LAYOUT_EDGES``), so a
graph with more nodes or edges than those starts with every group closed, and a top
level that is still too big is cut into blocks of consecutive items, closed too.
Larger views also get cheaper layout settings (``GraphView.layout_attributes``).

The browser lays DOT out with the bundled Graphviz WebAssembly build
(``graphviz_js``, ``graph_layout_js``); nothing is loaded from the network.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from importlib import resources

from engine import core

# Most nodes a view lays out by default. Graphviz's dot took ~1 s for 500 nodes of an
# ML-shaped graph (in the browser's WASM build and in the `dot` binary alike) and
# 8-40 s for 2,000; a few hundred keeps a view interactive.
MAX_LAYOUT_NODES = 300
# ... and edges: dot's spline routing and crossing minimisation grow with the edges
# (a 238-node optimized HLO with 752 edges took 18 s), so edges are budgeted too.
MAX_LAYOUT_EDGES = 500
# Views with more edges than these get straight edges / fewer crossing passes.
SPLINE_EDGE_LIMIT = 150
MINCROSS_EDGE_LIMIT = 300
# Caps dot's network-simplex iterations (x-coordinates, ranks) at this multiple of the
# node count: the phase that blows up on long chains. Drawings stay readable.
NSLIMIT = 1.0
LABEL_WIDTH = 48

_GRAPH_ATTRS = (
    'rankdir=TB bgcolor="transparent" nodesep=0.2 ranksep=0.3 '
    'fontname="Helvetica" fontsize=11 labelloc=t'
)
_NODE_ATTRS = (
    'shape=box style="rounded" fontname="Helvetica" fontsize=10 height=0.3 '
    'margin="0.08,0.03" penwidth=0.8'
)
_EDGE_ATTRS = 'color="#8c959f" arrowsize=0.5 penwidth=0.8'
_STYLE = {  # extra DOT attributes by node role; colours carry alpha for both themes
    "input": 'shape=oval style="filled" fillcolor="#2da44e33"',
    "output": 'shape=oval style="filled" fillcolor="#cf222e2e"',
    "anchor": 'shape=oval style="dashed" fontsize=9 height=0.2',
    "control": 'shape=diamond style="" fontsize=9 height=0.25',
    "closed": 'style="rounded,filled" fillcolor="#54aeff2e" peripheries=2',
    "block": 'style="rounded,filled" fillcolor="#8c959f24" peripheries=2',
    "constant": 'fontsize=9 height=0.2 style="rounded,dashed"',
    "root": 'style="rounded,bold"',
}
_CLUSTER_STYLE = {
    "group": 'style="rounded,filled" fillcolor="#8c959f14" color="#8c959f"',
    "fusion": 'style="rounded,filled" fillcolor="#54aeff1c" color="#54aeff"',
    "sub": 'style="rounded,dashed" color="#8c959f"',
    "block": 'style="rounded,dotted" color="#8c959f"',
    "scope": 'style="rounded,dashed" color="#bf8700" fontcolor="#9a6700"',
}


# ---------------------------------------------------------------------------- escaping

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def dot_escape(text):
    """Text as the body of a DOT double-quoted string whose SVG shows exactly ``text``.

    Backslashes are doubled (Graphviz would expand ``\\N``, ``\\l``... in labels and
    ids), quotes escaped, and ``& < >`` written as entities: Graphviz passes entities
    through to SVG and escapes nothing else we give it, so a name such as ``&amp;``
    or ``<script>`` shows as itself. Newlines become DOT line breaks; other control
    characters are dropped."""
    s = _CONTROL.sub("", str(text).replace("\r\n", "\n"))
    s = s.replace("\\", "\\\\").replace('"', '\\"')
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("\n", "\\n")


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def _q(text):
    return '"' + dot_escape(text) + '"'


def _clip(text, width=LABEL_WIDTH):
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


_LAYOUT = re.compile(r"\{[^{}]*\}")


def _short_shape(text):
    """``f32[5,4]{1,0}`` -> ``f32[5,4]`` (layouts and tiling dropped)."""
    return _LAYOUT.sub("", text)


# ---------------------------------------------------------------------------- the fine graph


class _Item:
    """A node of the fine graph, or a group of them (a cluster when open)."""

    __slots__ = (
        "key",
        "parent",
        "label",
        "tooltip",
        "classes",
        "role",
        "member",
        "children",
        "is_group",
        "auto_open",
        "cluster_style",
        "closed_label",
    )

    def __init__(
        self,
        key,
        parent,
        label,
        tooltip="",
        classes="",
        role=None,
        member=None,
        is_group=False,
        auto_open=False,
        cluster_style="group",
        closed_label=None,
    ):
        self.key, self.parent, self.label, self.tooltip = key, parent, label, tooltip
        self.classes, self.role, self.member = classes, role, member
        self.children = [] if is_group else None
        self.is_group, self.auto_open = is_group, auto_open
        self.cluster_style = cluster_style
        self.closed_label = closed_label or label


class _FineGraph:
    def __init__(self, kind, title):
        self.kind, self.title = kind, title
        self.items = {}
        self.top = []  # keys at the top level, in order
        self.edges = {}  # (src, dst) -> None, insertion-ordered
        self.blocks = []

    def add(self, item):
        if item.key in self.items:
            raise ValueError(f"duplicate graph id {item.key!r}")
        self.items[item.key] = item
        (self.items[item.parent].children if item.parent else self.top).append(item.key)
        return item.key

    def edge(self, src, dst):
        if src != dst:
            self.edges[(src, dst)] = None

    def ancestors(self, key):
        out, p = [], self.items[key].parent
        while p is not None:
            out.append(p)
            p = self.items[p].parent
        return out

    def groups(self):
        return [k for k, it in self.items.items() if it.is_group]

    def expandable(self):
        return [k for k, it in self.items.items() if it.is_group and not it.auto_open]

    def leaf_count(self):
        return sum(1 for it in self.items.values() if not it.is_group)

    def members(self, key):
        """Model ids (equation ids / instruction names) ``key`` stands for."""
        it = self.items[key]
        out = [it.member] if it.member is not None else []
        for c in it.children or ():
            out.extend(self.members(c))
        return out

    def top_of(self):
        """{fine key: its top-level ancestor}."""
        out = {}
        for key in self.top:
            stack = [key]
            while stack:
                k = stack.pop()
                out[k] = key
                stack.extend(self.items[k].children or ())
        return out

    def make_blocks(self, max_nodes, max_edges, describe):
        """Cut a top level with more than ``max_nodes`` items (or, all groups closed,
        more than ``max_edges`` edges) into blocks of consecutive items: about
        ``max_nodes / 2`` of them, so one open block still fits beside the rest, and
        fewer while the edges between them are more than ``max_edges``."""
        movable = [k for k in self.top if self.items[k].role not in ("input", "output")]
        if len(movable) < 2:
            return
        top_of = self.top_of()
        closed_edges = {(top_of[a], top_of[b]) for a, b in self.edges if top_of[a] != top_of[b]}
        if len(self.top) <= max_nodes and len(closed_edges) <= max_edges:
            return
        size = max(2, math.ceil(len(movable) / max(1, max_nodes // 2)))
        while True:
            index = {k: i // size for i, k in enumerate(movable)}
            n_edges = len(
                {
                    (index.get(a, a), index.get(b, b))
                    for a, b in closed_edges
                    if index.get(a, a) != index.get(b, b)
                }
            )
            if n_edges <= max_edges or len(movable) / size <= 8:
                break
            size = math.ceil(size * 1.5)
        inputs = [k for k in self.top if self.items[k].role == "input"]
        outputs = [k for k in self.top if self.items[k].role == "output"]
        self.top = list(inputs)
        for b, start in enumerate(range(0, len(movable), size)):
            chunk = movable[start : start + size]
            key = f"{self.kind_prefix}:block-{b}"
            label, tip = describe(chunk)
            blk = _Item(
                key,
                None,
                label,
                tip,
                "gj-block",
                role="block",
                is_group=True,
                cluster_style="block",
            )
            self.items[key] = blk
            self.top.append(key)
            self.blocks.append(key)
            for k in chunk:
                self.items[k].parent = key
                blk.children.append(k)
        self.top.extend(outputs)

    @property
    def kind_prefix(self):
        return {"jaxpr": "jaxpr", "hlo_opt": "hloopt", "hlo": "hlo"}[self.kind]


# ---------------------------------------------------------------------------- views


class GraphView:
    """One drawing of a graph: ``source`` (DOT), which groups are open, what each
    visible node stands for. ``expand``/``collapse``/``neighbourhood`` give others."""

    def __init__(
        self,
        fine,
        expanded,
        focus=None,
        hops=2,
        max_nodes=MAX_LAYOUT_NODES,
        max_edges=MAX_LAYOUT_EDGES,
        id_prefix="",
    ):
        self._fine = fine
        self.kind = fine.kind
        self.expanded = frozenset(expanded)
        self.focus, self.hops = focus, hops
        self.max_nodes, self.max_edges = max_nodes, max_edges
        self.id_prefix = id_prefix
        self.truncated = False
        self._open = {}
        self._build()

    def _with(self, expanded, focus):
        return GraphView(
            self._fine, expanded, focus, self.hops, self.max_nodes, self.max_edges, self.id_prefix
        )

    # -- which node stands for each fine item
    def _is_open(self, key):
        r = self._open.get(key)
        if r is None:
            it = self._fine.items[key]
            r = it.is_group and (
                key in self.expanded
                or (it.auto_open and (it.parent is None or self._is_open(it.parent)))
            )
            self._open[key] = r
        return r

    def _rep(self, key, memo):
        """The visible node or open cluster that stands for ``key``: itself, or the
        outermost closed group around it."""
        r = memo.get(key)
        if r is None:
            r = key
            parent = self._fine.items[key].parent
            if parent is not None:
                pr = self._rep(parent, memo)
                if pr != parent or not self._is_open(parent):
                    r = pr
            memo[key] = r
        return r

    def _build(self):
        fine = self._fine
        memo = {}
        visible, clusters = [], []
        for key in fine.items:
            if self._rep(key, memo) != key:
                continue
            (clusters if self._is_open(key) else visible).append(key)
        vis = set(visible)
        edges = {}
        for a, b in fine.edges:
            ra, rb = memo[a], memo[b]
            if ra != rb and ra in vis and rb in vis:
                edges[(ra, rb)] = None
        self._focus_rep = None
        if self.focus is not None:
            start = memo[self.focus]
            self._focus_rep = start if start in vis else None
            starts = [start] if start in vis else [k for k in visible if start in fine.ancestors(k)]
            keep = self._neighbourhood(starts, edges)
            visible = [k for k in visible if k in keep]
            edges = {e: None for e in edges if e[0] in keep and e[1] in keep}
        live = set()  # clusters with something visible inside
        for k in visible:
            p = fine.items[k].parent
            while p is not None and p not in live:
                live.add(p)
                p = fine.items[p].parent
        self.clusters = [c for c in clusters if c in live]
        self.nodes = visible
        self.edges = list(edges)
        self.members = {k: fine.members(k) for k in visible if fine.items[k].is_group}
        self.source = self._dot()

    def _neighbourhood(self, starts, edges):
        adj = {}
        for a, b in edges:
            adj.setdefault(a, []).append(b)
            adj.setdefault(b, []).append(a)
        keep, frontier = set(starts), list(starts)
        for _ in range(self.hops):
            nxt = []
            for k in frontier:
                for n in adj.get(k, ()):
                    if n not in keep:
                        if len(keep) >= self.max_nodes:
                            self.truncated = True
                            return keep
                        keep.add(n)
                        nxt.append(n)
            frontier = nxt
        return keep

    # -- DOT text
    def layout_attributes(self):
        """Graph attributes chosen for this view's size. Spline routing and crossing
        minimisation dominate dot's time on edge-heavy graphs (measured: 100 nodes
        with 280 edges, 2.4 s with curved edges, 1.0 s straight), so larger views get
        straight edges and fewer crossing-minimisation passes."""
        attrs = f"nslimit={NSLIMIT} nslimit1={NSLIMIT}"
        if len(self.edges) > SPLINE_EDGE_LIMIT:
            attrs += " splines=line"
        if len(self.edges) > MINCROSS_EDGE_LIMIT:
            attrs += " mclimit=0.3"
        return attrs

    def _dot(self):
        fine, px = self._fine, self.id_prefix
        vis, clusters = set(self.nodes), set(self.clusters)
        flat_blocks = self.focus is not None
        out = [
            f"digraph {_q(fine.kind)} {{",
            f"  graph [id={_q(px + 'gj-' + fine.kind + '-graph')} {_GRAPH_ATTRS} "
            f"{self.layout_attributes()} label={_q(_clip(fine.title, 90))}];",
            f"  node [{_NODE_ATTRS}];",
            f"  edge [{_EDGE_ATTRS}];",
        ]

        def node_line(key, indent):
            it = fine.items[key]
            closed = it.is_group
            role = ("block" if it.role == "block" else "closed") if closed else it.role
            classes = it.classes + (" gj-collapsed" if closed else "")
            if key == self._focus_rep:
                classes += " gj-focus"
            attrs = [
                f"id={_q(px + key)}",
                f"class={_q(classes.strip())}",
                f"label={_q(it.closed_label if closed else it.label)}",
            ]
            if it.tooltip:
                attrs.append(f"tooltip={_q(it.tooltip)}")
            if role in _STYLE:
                attrs.append(_STYLE[role])
            if key == self._focus_rep:
                attrs.append("penwidth=2.5")
            return f"{indent}{_q(key)} [{' '.join(attrs)}];"

        def emit(keys, indent):
            for key in keys:
                it = fine.items[key]
                if key in clusters and flat_blocks and it.role == "block":
                    emit(it.children, indent)
                elif key in clusters:
                    out.append(f"{indent}subgraph {_q('cluster_' + key)} {{")
                    out.append(
                        f"{indent}  id={_q(px + key)}; class={_q(it.classes)}; "
                        f"label={_q(it.label)}; tooltip={_q(it.tooltip or it.label)}; "
                        f"{_CLUSTER_STYLE[it.cluster_style]};"
                    )
                    emit(it.children, indent + "  ")
                    out.append(f"{indent}}}")
                elif key in vis:
                    out.append(node_line(key, indent))

        emit(fine.top, "  ")
        out.extend(f"  {_q(a)} -> {_q(b)};" for a, b in self.edges)
        out.append("}")
        return "\n".join(out) + "\n"

    # -- other views
    def _key(self, key):
        return _resolve_key(self._fine, key)

    def expand(self, *keys):
        """This view with the groups ``keys`` open too (and the groups around them)."""
        return self._with(set(self.expanded) | _with_ancestors(self._fine, keys), self.focus)

    def collapse(self, *keys):
        """This view with the groups ``keys`` closed."""
        return self._with(self.expanded - {self._key(k) for k in keys}, self.focus)

    def expand_all(self):
        return self._with(self._fine.groups(), self.focus)

    def neighbourhood(self, key, hops=None):
        """What lies within ``hops`` edges of ``key``, the groups around it opened."""
        key = self._key(key)
        view = _focus_view(
            self._fine,
            key,
            self.hops if hops is None else hops,
            self.expanded,
            self.max_nodes,
            self.max_edges,
            self.id_prefix,
        )
        return view

    # -- facts about the view
    @property
    def expandable(self):
        """{group id: {"label", "open", "size"}} for every group a user may open/close."""
        fine = self._fine
        return {
            k: {
                "label": fine.items[k].label,
                "open": self._is_open(k),
                "size": len(fine.items[k].children),
            }
            for k in fine.expandable()
        }

    @property
    def collapsed(self):
        """Whether some group is drawn closed."""
        return any(not self._is_open(k) for k in self._fine.expandable())

    @property
    def full_size(self):
        """Nodes the graph would have with every group open."""
        return self._fine.leaf_count()

    def node_for(self, model_id):
        """The visible node or open cluster standing for an equation id / instruction
        name (itself, or the closed group or block holding it); None if not drawn."""
        key = _resolve_key(self._fine, model_id)
        if key in self.nodes or key in self.clusters:
            return key
        for a in self._fine.ancestors(key):
            if a in self.nodes:
                return a
        return None

    def svg(self, timeout=60):
        """SVG laid out on this machine (``render_svg``); None where neither the
        ``dot`` binary nor ``node`` is available."""
        return render_svg(self.source, timeout=timeout)

    # -- interop: the `graphviz` package and IPython's rich display
    def to_graphviz(self):
        """This view as a ``graphviz.Source`` (the `graphviz` Python package), which
        renders with the system's ``dot``: ``g.to_graphviz().render("g", format="pdf")``.
        The same as ``graphviz.Source(g.source)``."""
        try:
            import graphviz
        except ImportError:
            raise ImportError(
                "to_graphviz needs the `graphviz` Python package (pip install graphviz) and, "
                "to render, Graphviz's `dot` on the PATH; g.source is the DOT text and "
                "g.svg() lays it out without them"
            ) from None
        return graphviz.Source(self.source)

    def _repr_svg_(self):
        """SVG laid out here (`dot`, else node with the bundled WASM Graphviz); None
        when neither exists, so IPython falls back to the text form."""
        try:
            return self.svg()
        except RuntimeError:
            return None

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/vnd.graphviz": self.source, "text/plain": repr(self)}
        svg = self._repr_svg_()
        if svg is not None:
            svg = svg[max(0, svg.find("<svg")) :]
            bundle["image/svg+xml"] = svg
            bundle["text/html"] = zoomable_svg_html(svg)
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    def to_dict(self):
        return {
            "kind": self.kind,
            "dot": self.source,
            "nodes": list(self.nodes),
            "clusters": list(self.clusters),
            "members": self.members,
            "expandable": self.expandable,
            "expanded": sorted(self.expanded),
            "focus": self.focus,
            "hops": self.hops,
            "truncated": self.truncated,
            "full_size": self.full_size,
            "id_prefix": self.id_prefix,
        }

    def __str__(self):
        return self.source

    def __repr__(self):
        return (
            f"<GraphView {self.kind}: {len(self.nodes)} nodes, {len(self.edges)} edges, "
            f"{len(self.clusters)} open clusters, {self.full_size} in full>"
        )


def _resolve_key(fine, key):
    key = str(key)
    if key in fine.items:
        return key
    prefix = {"jaxpr": "eqn-", "hlo_opt": "hloopt-", "hlo": "hlo-"}[fine.kind]
    if prefix + key in fine.items:
        return prefix + key
    raise KeyError(f"no node or group {key!r} in this {fine.kind} graph")


def _with_ancestors(fine, keys):
    if isinstance(keys, str):
        keys = [keys]
    out = set()
    for k in keys:
        k = _resolve_key(fine, k)
        out.add(k)
        out.update(fine.ancestors(k))
    return out


def _focus_view(fine, key, hops, opened, max_nodes, max_edges, id_prefix):
    opened = set(opened) | set(fine.blocks) | set(fine.ancestors(key))
    return GraphView(fine, opened, key, hops, max_nodes, max_edges, id_prefix)


def _make_view(fine, expand, focus, hops, max_nodes, max_edges, id_prefix, describe):
    fine.make_blocks(max_nodes, max_edges, describe)
    if expand == "all":
        opened = set(fine.groups())
    elif expand is None:
        fits = fine.leaf_count() <= max_nodes and len(fine.edges) <= max_edges
        opened = set(fine.groups()) if fits and focus is None else set()
    else:
        opened = _with_ancestors(fine, expand)
    if focus is not None:
        return _focus_view(
            fine, _resolve_key(fine, focus), hops, opened, max_nodes, max_edges, id_prefix
        )
    return GraphView(fine, opened, None, hops, max_nodes, max_edges, id_prefix)


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
        text += f"\n{m.source[0]}:{m.source[1]} ({m.source[2]})"
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
            text += f"\n{src[0]}:{src[1]}"
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


# ---------------------------------------------------------------------------- layout engines

_STATIC = "static/graphviz"


def _static_text(name):
    return resources.files("visualize").joinpath(f"{_STATIC}/{name}").read_text("utf-8")


def graphviz_module_path():
    """Path of the bundled ``@hpcc-js/wasm-graphviz`` ES module (Graphviz in WASM)."""
    return os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "static", "graphviz", "wasm-graphviz.mjs"
    )


_EXPORT = re.compile(r"export\s*\{([^}]*)\}\s*;?\s*(?://# sourceMappingURL=\S*\s*)?$")
_SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S*\s*$")


def graphviz_js(classic=False):
    """The bundled Graphviz-in-WASM JavaScript (one file, the WASM inlined; no network).

    ``classic=False``: the ES module as shipped (exports ``Graphviz``), for ``import``
    from a Blob URL. ``classic=True``: the same code as a classic script defining
    ``GlassjaxGraphviz = {Graphviz, ...}``, for a Web Worker made from a Blob URL
    (module workers do not load from ``file://`` pages) or a ``<script>`` tag."""
    text = _static_text("wasm-graphviz.mjs")
    if not classic:
        return _SOURCE_MAP.sub("", text)
    m = _EXPORT.search(text)
    if m is None:
        raise RuntimeError("the bundled Graphviz module has no export list at its end")
    pairs = []
    for spec in m.group(1).split(","):
        local, _, exported = spec.strip().partition(" as ")
        pairs.append(f"{(exported or local).strip()}: {local.strip()}")
    return (
        'var GlassjaxGraphviz = (function () {\n"use strict";\n'
        + text[: m.start()]
        + "\nreturn {"
        + ", ".join(pairs)
        + "};\n})();\n"
    )


def graph_layout_js():
    """The browser glue (``graph_layout.js``): lays DOT out into SVG in a Web Worker
    with a time budget; see the file's header for its API."""
    return _static_text("graph_layout.js")


def graph_zoom_js():
    """The browser glue for zoom, pan and fit of a drawn graph (``graph_zoom.js``):
    ``GlassjaxGraphZoom.attach(box)``; see the file's header."""
    return resources.files("visualize").joinpath("static/graph_zoom.js").read_text("utf-8")


def zoomable_svg_html(svg):
    """A laid-out SVG with zoom, pan and fit (``graph_zoom.js``), for a notebook
    output: the controls show once the script runs; without scripts, the bare SVG."""
    import json
    import uuid

    uid = "gjg-" + uuid.uuid4().hex[:10]
    buttons = "".join(
        f'<button type="button" data-gjx-zoom="{act}" title="{tip}">{text}</button> '
        for act, text, tip in (
            ("out", "\u2212", "zoom out (-)"),
            ("in", "+", "zoom in (+)"),
            ("fit", "fit", "fit (0); drag to pan, Ctrl+wheel to zoom"),
            ("one", "1:1", "actual size (1)"),
        )
    )
    uid_js = json.dumps(uid)
    # Graphviz draws in black: follow the notebook's theme (JupyterLab's variables)
    theme = (
        f"<style>#{uid} svg text {{ fill: var(--jp-content-font-color1, #1f2328); }}"
        f'#{uid} svg [stroke="black"] {{ stroke: var(--jp-content-font-color2, #57606a); }}'
        f'#{uid} svg [fill="black"] {{ fill: var(--jp-content-font-color2, #57606a); }}</style>'
    )
    return (
        f'{theme}<div class="gj-graph-view" id="{uid}">'
        '<div class="gjx-zoom-tools" hidden style="text-align:right;font-size:11px">'
        f'<span class="gjx-zoom-level"></span> {buttons}</div>'
        f'<div class="gjx-graph-box" tabindex="0">{svg}</div></div>'
        f"<script>{graph_zoom_js()}\nGlassjaxGraphZoom.attach(document.getElementById("
        f"{uid_js}).querySelector('.gjx-graph-box'));</script>"
    )


def graphviz_notice():
    """The licence notice to ship beside the bundled layout engine (Apache-2.0 for the
    wrapper, EPL-1.0 for Graphviz, MIT for Expat and the Emscripten runtime)."""
    return _static_text("NOTICE.txt")


def graphviz_version():
    """{"package": npm package, "version": its version, "graphviz": Graphviz's}."""
    import json

    return json.loads(_static_text("VERSION.json"))


def render_svg(source, timeout=60, engine=None):
    """Lay DOT out into SVG on this machine: with the ``dot`` binary where it is on the
    PATH, else with ``node`` and the bundled WASM module (the same pictures as the
    browser's). ``engine``: ``"dot"`` or ``"node"`` to insist on one. None when
    neither is available; raises RuntimeError when layout fails or takes longer than
    ``timeout`` seconds."""
    engines = [engine] if engine else ["dot", "node"]
    for name in engines:
        exe = shutil.which(name)
        if exe is None:
            continue
        if name == "dot":
            cmd = [exe, "-Tsvg"]
        else:
            cmd = [exe, "--input-type=module", "-e", _NODE_LAYOUT, graphviz_module_path()]
        try:
            done = subprocess.run(
                cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"graph layout with {name} took longer than {timeout} s; "
                "collapse more of the graph or show a neighbourhood"
            ) from None
        if done.returncode != 0:
            raise RuntimeError(
                f"graph layout with {name} failed: "
                f"{done.stderr.decode('utf-8', 'replace').strip()[:500]}"
            )
        return done.stdout.decode("utf-8")
    return None


_NODE_LAYOUT = """
import { pathToFileURL } from "node:url";
const { Graphviz } = await import(pathToFileURL(process.argv[1]).href);
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
try {
  const gv = await Graphviz.load();
  process.stdout.write(gv.dot(Buffer.concat(chunks).toString("utf8")));
} catch (e) {
  process.stderr.write(String((e && e.message) || e));
  process.exitCode = 1;
}
"""
