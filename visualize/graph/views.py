"""The fine graph (every equation or instruction a node) and its views: which groups are
open, focus neighbourhoods, and the DOT text of each view."""

from __future__ import annotations

import math
import re

from .layout import render_svg, zoomable_svg_html

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
