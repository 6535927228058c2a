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

from .hlo_graphs import hlo_graph
from .jaxpr_graphs import jaxpr_graph
from .layout import (
    graph_layout_js,
    graph_zoom_js,
    graphviz_js,
    graphviz_module_path,
    graphviz_notice,
    graphviz_version,
    render_svg,
    zoomable_svg_html,
)
from .views import (
    LABEL_WIDTH,
    MAX_LAYOUT_EDGES,
    MAX_LAYOUT_NODES,
    MINCROSS_EDGE_LIMIT,
    NSLIMIT,
    SPLINE_EDGE_LIMIT,
    GraphView,
    dot_escape,
)

__all__ = [
    "LABEL_WIDTH",
    "MAX_LAYOUT_EDGES",
    "MAX_LAYOUT_NODES",
    "MINCROSS_EDGE_LIMIT",
    "NSLIMIT",
    "SPLINE_EDGE_LIMIT",
    "GraphView",
    "dot_escape",
    "graph_layout_js",
    "graph_zoom_js",
    "graphviz_js",
    "graphviz_module_path",
    "graphviz_notice",
    "graphviz_version",
    "hlo_graph",
    "jaxpr_graph",
    "render_svg",
    "zoomable_svg_html",
]
