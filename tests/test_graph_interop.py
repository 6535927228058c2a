"""Graph objects as the `graphviz` package and IPython see them (.source, to_graphviz,
_repr_svg_, _repr_mimebundle_), jax.named_scope clusters checked against real JAX's
name stacks and op_names, and the notebook graph panes' zoom controls (HTML side; the
browser side is tests/browser/test_graph_zoom.py)."""

import html
import importlib.util
import re
import shutil
import sys

import numpy as np
import pytest

import engine
import engine.numpy as enp
from tests.helpers import real_jax
from visualize import graph as G
from visualize.hlo_model import parse_hlo_module
from visualize.jaxpr_model import JaxprModel

HAS_DOT = shutil.which("dot") is not None
HAS_NODE = shutil.which("node") is not None
HAS_LAYOUT = HAS_DOT or HAS_NODE  # what GraphView.svg() lays out with


def scoped(np_mod, named_scope, cond):
    """The same function for the engine and for JAX: nested named scopes and a cond."""

    def f(x):
        with named_scope("layer1"):
            y = np_mod.sin(x) * 2
            with named_scope("act"):
                y = np_mod.tanh(y)
        with named_scope("layer2"):
            z = cond(True, lambda a: np_mod.cos(a), lambda a: a, y)
        return z + 1

    return f


def engine_scoped():
    return scoped(enp, engine.named_scope, engine.lax.cond)


def jax_scoped():
    jax, jnp = real_jax()
    return scoped(jnp, jax.named_scope, jax.lax.cond)


def mlp(np_mod, named_scope):
    def f(x, w):
        for i in range(3):
            with named_scope(f"dense{i}"):
                x = np_mod.tanh(x @ w) + 1.0
        with named_scope("loss"):
            return np_mod.sum(x * x)

    return f


def jaxpr_view():
    return G.jaxpr_graph(JaxprModel(engine.make_jaxpr(engine_scoped())(1.0)))


def dot_statements(source):
    """(node ids, edges, cluster ids) read off the DOT text by its structure."""
    nodes = re.findall(r'^\s*"([^"]+)" \[id=', source, re.M)
    edges = re.findall(r'^\s*"([^"]+)" -> "([^"]+)";$', source, re.M)
    clusters = re.findall(r'^\s*subgraph "cluster_([^"]+)" \{$', source, re.M)
    return nodes, edges, clusters


# ---------------------------------------------------------------------------- DOT text


def test_source_is_well_formed_dot():
    g = jaxpr_view()
    src = g.source
    assert src.startswith('digraph "jaxpr" {') and src.rstrip().endswith("}")
    assert src.count("{") == src.count("}")
    nodes, edges, clusters = dot_statements(src)
    assert sorted(nodes) == sorted(g.nodes) and len(edges) == len(g.edges)
    assert all(a in nodes and b in nodes for a, b in edges)
    assert sorted(clusters) == sorted(g.clusters)
    assert str(g) == src


@pytest.mark.skipif(not HAS_NODE, reason="no `node` to run the bundled Graphviz WASM here")
def test_source_lays_out_with_the_bundled_graphviz():
    g = jaxpr_view()
    svg = html.unescape(G.render_svg(g.source, engine="node"))
    ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|cluster)', svg))
    assert set(g.nodes) | set(g.clusters) <= ids


@pytest.mark.skipif(not HAS_DOT, reason="no system Graphviz `dot` on the PATH")
def test_source_lays_out_with_system_dot():
    g = jaxpr_view()
    svg = html.unescape(G.render_svg(g.source, engine="dot"))
    assert "<svg" in svg and all(f'id="{n}"' in svg for n in g.nodes)


# ---------------------------------------------------------------------------- graphviz package


@pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None,
    reason="the `graphviz` Python package is not installed (pip install graphviz)",
)
def test_to_graphviz_is_a_graphviz_source():
    import graphviz

    g = jaxpr_view()
    s = g.to_graphviz()
    assert isinstance(s, graphviz.Source) and s.source == g.source
    assert graphviz.Source(g.source).source == g.source
    if HAS_DOT:
        assert "<svg" in s.pipe(format="svg", encoding="utf-8")


def test_to_graphviz_without_the_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match="pip install graphviz"):
        jaxpr_view().to_graphviz()


# ---------------------------------------------------------------------------- IPython display


def test_mimebundle_carries_dot_and_svg():
    g = jaxpr_view()
    bundle = g._repr_mimebundle_()
    assert bundle["text/vnd.graphviz"] == g.source
    assert bundle["text/plain"] == repr(g)
    if HAS_LAYOUT:
        svg = bundle["image/svg+xml"]
        assert svg.startswith("<svg") and 'id="eqn-0"' in html.unescape(svg)
        assert g._repr_svg_().count("<svg") == 1
        page = bundle["text/html"]  # the same SVG with zoom controls for notebooks
        assert svg in page and '<div class="gjx-zoom-tools" hidden' in page
        assert ".querySelector('.gjx-graph-box'));</script>" in page
    else:
        assert "image/svg+xml" not in bundle and g._repr_svg_() is None
        assert "text/html" not in bundle
    only = g._repr_mimebundle_(include={"text/vnd.graphviz"})
    assert list(only) == ["text/vnd.graphviz"]
    assert "text/vnd.graphviz" not in g._repr_mimebundle_(exclude={"text/vnd.graphviz"})


def test_ipython_formatter_uses_the_bundle():
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(jaxpr_view())
    assert "text/plain" in data
    if HAS_LAYOUT:
        assert data["image/svg+xml"].startswith("<svg")


# ---------------------------------------------------------------------------- named scopes


def cluster_path(g, key):
    """The named_scope path of the innermost scope cluster around ``key`` within its
    own jaxpr or computation ("" when none)."""
    for a in g._fine.ancestors(key):
        classes = g._fine.items[a].classes.split()
        if "gj-scope" in classes:
            return g._fine.items[a].tooltip.split("'")[1]
        if "gj-block" not in classes:  # the sub-jaxpr / fusion around it: scopes restart
            return ""
    return ""


def test_jaxpr_scopes_match_jax_name_stacks():
    jax, _ = real_jax()
    jj = jax.make_jaxpr(jax_scoped())(1.0)
    g = jaxpr_view()
    want = [str(e.source_info.name_stack) for e in jj.jaxpr.eqns]
    assert [cluster_path(g, f"eqn-{i}") for i in range(len(want))] == want
    assert want == ["layer1", "layer1", "layer1/act", "layer2", ""]
    # inside the cond, JAX's name stack is relative to the cond: so is the cluster's
    inner = [str(q.source_info.name_stack) for q in jj.jaxpr.eqns[3].params["branches"][1].eqns]
    assert [cluster_path(g, "eqn-3_s1_0")] == inner == [""]
    nodes, _, clusters = dot_statements(g.source)
    assert {"jaxpr:scope-layer1", "jaxpr:scope-layer1/act", "jaxpr:scope-layer2"} <= set(clusters)
    assert 'label="act"' in g.source


def test_hlo_scopes_match_jax_op_names():
    jax, jnp = real_jax()
    x, w = np.ones((2, 4), np.float32), np.full((4, 4), 0.1, np.float32)
    text = jax.jit(mlp(jnp, jax.named_scope)).lower(x, w).compile().as_text()
    jax_scopes = set()
    for op_name in re.findall(r'op_name="([^"]*)"', text):
        parts = op_name.split("/")[1:-1]  # drop jit(f) and the primitive
        jax_scopes.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    compiled = engine.jit(mlp(enp, engine.named_scope)).lower(x, w).compile()
    g = G.hlo_graph(parse_hlo_module(compiled.as_text()))
    ours = {
        it.tooltip.split("'")[1]
        for it in g._fine.items.values()
        if "gj-scope" in it.classes.split()
    }
    assert ours == jax_scopes == {"dense0", "dense1", "dense2", "loss"}
    checked = 0
    for key, it in g._fine.items.items():
        m = re.search(r'op_name="([^"]*)/[^/"]*"', it.tooltip or "")
        if it.member and m:  # the innermost scope cluster around it, through fusions
            scopes = [
                g._fine.items[a].tooltip.split("'")[1]
                for a in g._fine.ancestors(key)
                if "gj-scope" in g._fine.items[a].classes.split()
            ]
            assert scopes[0] == m.group(1), (key, scopes)
            checked += 1
    assert checked >= 4


def test_scopes_survive_closed_groups_and_blocks():
    jax_like = mlp(enp, engine.named_scope)
    x, w = np.ones((2, 4), np.float32), np.full((4, 4), 0.1, np.float32)
    model = JaxprModel(engine.make_jaxpr(jax_like)(x, w))
    g = G.jaxpr_graph(model, max_nodes=4, max_edges=4)
    assert g.collapsed and G.jaxpr_graph(model).full_size == g.full_size
    nodes, edges, _ = dot_statements(g.source)
    assert all(a in nodes and b in nodes for a, b in edges)


# ---------------------------------------------------------------------------- notebook panes


def test_graph_pane_has_zoom_tools_hidden_until_its_script_runs():
    from notebook_ext.explorer import graph_pane

    pane, how = graph_pane(jaxpr_view(), "gjx-t1", layout="browser", kind="eqn")
    assert how == "browser"
    assert '<span class="gj-pane-tools gjx-zoom-tools" hidden>' in pane
    for act in ("out", "in", "fit", "one"):
        assert f'data-gjx-zoom="{act}"' in pane
    assert "GlassjaxGraphZoom.attach(box)" in pane  # after the browser's layout
    assert 'GlassjaxGraphZoom.attach(document.getElementById("gjx-t1-graph"))' in pane


def test_zoom_script_can_be_inlined():
    js = G.graph_zoom_js()
    assert "GlassjaxGraphZoom" in js
    assert not any(t in js.lower() for t in ("</", "<script", "<!--"))


def test_pass_slider_counter_counts_from_one():
    from notebook_ext.fusion_stepper import fusion_stepper

    f = engine.jit(lambda x: enp.sin(x) * 2 + enp.cos(x))
    s = fusion_stepper(f, np.ones(8, np.float32), lazy=False)
    n = len(s.visible_steps)
    assert s.slider.readout is False
    assert s.counter.value == f"1 of {n}"
    s.next()
    assert s.counter.value == f"2 of {n}"
    s.go(n - 1)
    assert s.counter.value == f"{n} of {n}"
    s.show_unchanged = True
    assert s.counter.value == f"{s.position + 1} of {len(s.visible_steps)}"


# ---------------------------------------------------------------------------- nbconvert


def code_texts(html_text):
    """The text of every code pane line, as a browser's DOM holds it."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html_text, features="html.parser")
    return [el.get_text() for el in soup.select(".gj-code > div, .gj-code .gj-ln")]


def test_indentation_survives_nbconverts_html_reserialization():
    """nbconvert's HTML export re-serializes outputs with BeautifulSoup, which collapses
    whitespace-only text outside <pre>: a line's indentation before its first token."""
    pytest.importorskip("bs4")
    from bs4 import BeautifulSoup

    import visualize
    from visualize.render_html import highlight_python, stages_html

    def f(x):
        for _ in range(2):
            if True:
                x = enp.sin(x) * 2.0
        return engine.lax.cond(True, lambda a: a + 1.0, lambda a: a, x)

    stages = visualize.stage_models(f, np.ones(3, np.float32))
    html_text = stages_html(stages)
    before = code_texts(html_text)
    after = code_texts(str(BeautifulSoup(html_text, features="html.parser")))
    assert after == before
    indented = [t for t in before if t.startswith("        ")]
    assert any("x = enp.sin(x) * 2.0" in t for t in indented)
    assert any(re.match(r" {4}\w+:f32\[3\] = ", t) for t in before)  # jaxpr equations
    lines = highlight_python("def g():\n    if a:\n        return  b")
    round_trip = [
        BeautifulSoup(f"<div>{ln}</div>", features="html.parser").get_text() for ln in lines
    ]
    assert round_trip == ["def g():", "    if a:", "        return  b"]


def test_nbconvert_export_keeps_indentation(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbconvert = pytest.importorskip("nbconvert")
    from visualize.render_html import source_html

    def f(x):
        if True:
            y = enp.cos(x)
        return y

    frag = source_html(f)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("f")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": frag})]
    nb.cells = [cell]
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    texts = code_texts(body)
    assert "            y = enp.cos(x)" in texts, texts
    assert "        if True:" in texts, texts
