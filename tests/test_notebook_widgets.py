"""notebook_ext's widgets, their Python side, on real programs (an MLP training step, the
gradient of a function with ``where`` and reductions).

Oracles: XLA's own texts read with plain regexes (the optimized module's instructions,
fusions and source-line metadata; the per-pass dump files XLA writes when asked), real
JAX's values and jaxprs of the same programs, Python's HTML parser, and counts known
from the calls the test makes. No front end is needed: the widgets' state and the HTML
they hand the page are checked (tests/browser clicks through them in JupyterLab)."""

import glob
import html
import inspect
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
import notebook_ext
from notebook_ext import explorer as X
from notebook_ext import rich_display as RD
from notebook_ext.explorer import explore
from notebook_ext.fusion_stepper import fusion_stepper
from notebook_ext.launcher import launcher
from notebook_ext.session import session

HERE = os.path.abspath(__file__)


# ---------------------------------------------------------------------------- programs
# Written once over (jnp, grad, where) so the same code runs in the engine and in JAX.


def make_mlp_step(jnp, grad):
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        h = jnp.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        return jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    def mlp_step(params, x, y):
        grads = grad(loss)(params, x, y)
        return [p - 0.05 * g for p, g in zip(params, grads)]

    return mlp_step


def make_grad_where(jnp, grad):
    def f(x):
        y = jnp.where(x > 0, jnp.sin(x) * x, 0.5 * x**2)
        return jnp.sum(y) + jnp.max(x) * jnp.mean(jnp.cos(x))

    return grad(f)


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).normal(size=shape).astype(np.float32)


PROGRAMS = {
    "mlp_step": (
        make_mlp_step,
        lambda: (
            [_rand(4, 8, seed=1), _rand(8, seed=2), _rand(8, 3, seed=3), _rand(3, seed=4)],
            _rand(5, 4, seed=5),
            _rand(5, 3, seed=6),
        ),
    ),
    "grad_where": (make_grad_where, lambda: (_rand(3, 5, seed=7),)),
}


def program(name):
    make, args = PROGRAMS[name]
    return make(enp, engine.grad), args()


def jax_value(name):
    jax, jnp = real_jax()
    make, args = PROGRAMS[name]
    return make(jnp, jax.grad)(*args())


_explorers = {}


def explorer_of(name):
    if name not in _explorers:
        f, args = program(name)
        _explorers[name] = explore(f, *args, lazy=False, graph_layout="browser")
    return _explorers[name]


# ---------------------------------------------------------------------------- oracles


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.children, self.parent = tag, dict(attrs), [], parent

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find(self, pred):
        return [n for n in self.iter() if pred(n)]

    def classes(self):
        return (self.attrs.get("class") or "").split()


VOID = {
    "meta",
    "br",
    "hr",
    "img",
    "input",
    "link",
    "wbr",
    "path",
    "polygon",
    "ellipse",
    "line",
    "rect",
    "polyline",
}


class Tree(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(text):
    return Tree(text).root


def panes(tree):
    return tree.find(lambda n: "gj-pane" in n.classes())


def attr_values(node, attr):
    return [n.attrs[attr] for n in node.iter() if attr in n.attrs]


_INS = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+) = \S+ ([a-z][\w\-]*)\(", re.M)
_ENTRY = re.compile(r"^ENTRY %[\w.\-]+ .*?\{\n(.*?)^\}", re.M | re.S)


def entry_instructions(text):
    """(name, opcode) of the ENTRY computation's instructions, by a plain scan."""
    return _INS.findall(_ENTRY.search(text).group(1))


def xla_metadata_lines(text, file):
    """Lines of ``file`` that XLA's module attributes instructions to, read from its
    FileNames / FileLocations / StackFrames tables."""

    def table(title):
        m = re.search(rf"^{title}\n((?:\d+ .*\n)+)", text, re.M)
        return (
            {}
            if m is None
            else {
                int(r.split(" ", 1)[0]): r.split(" ", 1)[1] for r in m.group(1).strip().split("\n")
            }
        )

    files = {k: json.loads(v) for k, v in table("FileNames").items()}
    locs = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("FileLocations").items()}
    frames = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("StackFrames").items()}
    out = set()
    for fid in {int(x) for x in re.findall(r"stack_frame_id=(\d+)", text)}:
        loc = locs[int(frames[fid]["file_location_id"])]
        if files[int(loc["file_name_id"])] == file:
            out.add(int(loc["line"]))
    return out


def source_lines_of(fn):
    lines, first = inspect.getsourcelines(fn)
    return set(range(first, first + len(lines)))


# ---------------------------------------------------------------------------- explorer


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_explorer_panes_present_and_linked(name):
    e = explorer_of(name)
    assert e.error is None
    assert e.panes == list(X.PANES)
    tree = parse(e.html)
    labels = [p.attrs.get("aria-label") for p in panes(tree)]
    assert labels == list(X.PANES)
    kinds = [p.attrs["data-kind"] for p in panes(tree)]
    assert kinds == ["source", "jaxpr", "mlir", "hlo", "hlo_opt", "hlo_opt", "hlo_opt"]
    tabs = tree.find(lambda n: "gj-tab" in n.classes())
    assert [t.text() for t in tabs] == list(X.PANES)
    assert [int(t.attrs["data-tab"]) for t in tabs] == list(range(len(X.PANES)))

    # the link table the page's linker reads is the explorer's, and it is not empty
    scripts = tree.find(lambda n: n.tag == "script" and "gj-links" in n.classes())
    assert len(scripts) == 1
    table = json.loads(scripts[0].text())
    assert table == json.loads(json.dumps(e.link_table))
    assert table["lines"] and table["eqns"] and table["hlo_opt"]

    compiled_text = e.stages.compiled.as_text()
    entry = entry_instructions(compiled_text)
    hlo_opt_pane, graph_pane, exe_pane = panes(tree)[4:]
    opt_names = set(attr_values(hlo_opt_pane, "data-hlo-opt"))
    assert {n for n, _ in entry} <= opt_names

    def optimized(key):
        return {
            x
            for eq in table["lines"].get(key, ())
            for x in table["eqns"][eq].get("o", []) + table["eqns"][eq].get("ok", [])
        }

    # every line XLA's metadata attributes optimized work to, and every line holding a
    # live equation, links to elements of the optimized HLO pane
    xla_lines = xla_metadata_lines(compiled_text, HERE)
    assert xla_lines
    for ln in xla_lines:
        linked = optimized(f"{HERE}:{ln}")
        assert linked and linked <= opt_names, ln
    for eq in e.stages.jaxpr.all_eqns:
        if eq.live and eq.source is not None:
            assert optimized(f"{eq.source[0]}:{eq.source[1]}"), eq.id

    # the executable pane: one linkable row per kernel of XLA's entry computation
    rows = attr_values(exe_pane, "data-hlo-opt")
    kernels = [
        n for n, op in entry if op not in ("parameter", "constant", "tuple", "get-tuple-element")
    ]
    assert rows == kernels
    assert e.report.timing["median_s"] > 0

    # the fusion graph pane carries the DOT of the optimized module: every fusion of the
    # entry computation is a node or cluster, with the explorer's id prefix
    data = graph_pane.find(lambda n: n.tag == "script" and "gjx-graph-data" in n.classes())
    dot = json.loads(data[0].text())["dot"]
    fusions = [n for n, op in entry if op == "fusion"]
    assert fusions
    for fu in fusions:
        assert f'id="{e.uid}-hloopt-{fu}"' in dot
    # and the layout script with the bundled Graphviz, once
    assert len(graph_pane.find(lambda n: "gjx-gv-src" in n.classes())) == 1


def test_explorer_graph_laid_out_here_is_annotated_for_the_linker():
    """With a layout engine on this machine the SVG comes ready: every instruction node
    and fusion cluster carries data-hlo-opt, as the linker needs."""
    f, args = program("mlp_step")
    if X.graph_layout_engine() is None:
        pytest.skip("neither dot nor node on this machine: the browser lays graphs out")
    e = explore(f, *args, lazy=False, graph_layout="server", measure=False)
    assert e.graph_how in ("dot", "node")
    tree = parse(e.html)
    graph = panes(tree)[5]
    svg_named = set(attr_values(graph, "data-hlo-opt"))
    entry = entry_instructions(e.stages.compiled.as_text())
    assert {n for n, _ in entry} <= svg_named
    scripts = graph.find(lambda n: n.tag == "script")  # no layout script: only zoom/pan/fit
    assert [("GlassjaxGraphZoom.attach" in n.text()) for n in scripts] == [True]


def test_explorer_layouts_and_pane_choice():
    f, args = program("grad_where")
    e = explore(f, *args, lazy=False, graph_layout="browser", measure=False, layout="tabs")
    assert 'class="gjx-explorer gjx-layout-tabs"' in e.html
    e.layout_mode = "side"
    assert 'class="gjx-explorer gjx-layout-side"' in e.html
    e.pane_boxes["StableHLO"].value = False
    e.pane_boxes["fusion graph"].value = False
    tree = parse(e.html)
    assert [p.attrs["aria-label"] for p in panes(tree)] == [
        "Source",
        "jaxpr",
        "HLO",
        "optimized HLO",
        "executable",
    ]
    assert len(tree.find(lambda n: "gj-tab" in n.classes())) == 5
    with pytest.raises(ValueError):
        e.layout_mode = "sideways"


def test_explorer_large_program_starts_without_heavy_panes(monkeypatch):
    monkeypatch.setattr(X, "LARGE_PROGRAM_EQNS", 10)
    f, args = program("grad_where")
    e = explore(f, *args, lazy=False, graph_layout="browser", measure=False)
    assert len(e.stages.jaxpr.all_eqns) > 10
    assert e.panes == ["Source", "jaxpr", "optimized HLO", "fusion graph", "executable"]
    assert "StableHLO and HLO panes start hidden" in e.html
    e.pane_boxes["HLO"].value = True
    assert "HLO" in [p.attrs["aria-label"] for p in panes(parse(e.html))]


def _bad_shapes(x):
    return enp.dot(x, enp.ones((3, 5)))  # BAD-LINE


def _raises_inside(x):
    y = enp.sin(x)
    return y / {"no": "arrays"}["missing key"]  # RAISES-LINE


def _line_of(fn, marker):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, ln in enumerate(lines) if marker in ln)


@pytest.mark.parametrize(
    "fn,marker,kind",
    [(_bad_shapes, "BAD-LINE", "TypeError"), (_raises_inside, "RAISES-LINE", "KeyError")],
)
def test_explorer_shows_a_failing_function_error_and_line(fn, marker, kind):
    e = explore(fn, np.ones((2, 4), np.float32), lazy=False)  # must not raise
    assert e.error is not None and e.stages is None
    assert e.error.kind == kind
    assert (e.error.file, e.error.line) == (HERE, _line_of(fn, marker))
    assert marker in e.error.code
    view = e.error_view.value
    assert e.error_view.layout.display is None
    assert html.escape(e.error.code) in view and kind in view
    assert html.escape(e.error.message) in view
    assert e.view.outputs == ()


# ---------------------------------------------------------------------------- fusion stepper


def _xla_pass_dumps(f, args, tmp_path):
    """The module texts XLA wrote after every pass, in order (read straight from its
    dump folder), and the texts before and after optimization."""
    lowered = engine.jit(f).lower(*args)
    lowered.compile(
        dump_passes=True, dump_dir=str(tmp_path), compiler_options={"xla_dump_hlo_pass_re": ".+"}
    )
    befores = sorted(glob.glob(str(tmp_path / "module_*.before_optimizations.txt")))
    prefix = befores[-1][: -len("before_optimizations.txt")]
    steps = []
    for p in glob.glob(prefix + "*.txt"):
        m = re.fullmatch(r"(\d{4})\..*", p[len(prefix) :])
        if m:
            steps.append((int(m.group(1)), open(p).read()))
    after = glob.glob(prefix + "*after_optimizations.txt")
    return (
        open(befores[-1]).read(),
        [t for _, t in sorted(steps)],
        open(after[0]).read() if after else None,
    )


def test_fusion_stepper_steps_are_the_changed_passes(tmp_path):
    f, args = program("mlp_step")
    s = fusion_stepper(f, *args, lazy=False, graph_layout="browser")
    assert s.error is None
    before, dumps, after = _xla_pass_dumps(f, args, tmp_path)
    changed, prev = 0, before
    for text in dumps:
        changed += text != prev
        prev = text
    final = after is not None and after != prev
    # by default: one step per pass that changed the module; every pass on demand
    assert not s.show_unchanged
    assert len(s.visible_steps) == changed + final
    assert all(st.changed for st in s.visible_steps)
    assert len(s.steps) == len(dumps) + final
    assert s.slider.max == len(s.visible_steps) - 1
    s.show_unchanged = True
    assert len(s.visible_steps) == len(s.steps)
    assert sum(not st.changed for st in s.visible_steps) == len(dumps) - changed
    s.show_unchanged = False
    texts = [before] + [st.text for st in s.visible_steps]
    assert all(a != b for a, b in zip(texts, texts[1:]))


def test_fusion_stepper_fusion_step_shows_fused_instructions_and_lines():
    f, args = program("mlp_step")
    s = fusion_stepper(f, *args, lazy=False, graph_layout="browser")
    fusion_steps = [st for st in s.find("fusion") if st.pass_name == "fusion" and st.changed]
    assert fusion_steps
    step = s.go(fusion_steps[0])
    assert s.current is step and s.position == s.visible_steps.index(step)
    st = s.state()
    assert st["pass"] == "fusion" and st["fused"]
    before_entry = dict(entry_instructions(step.step.previous_text))
    after_entry = dict(entry_instructions(step.text))
    for fu in st["fused"]:
        # it was a top-level instruction before the pass, and is gone from there after;
        # what it went into is a fusion instruction of the new module
        assert before_entry.get(fu["name"]) == fu["opcode"]
        assert fu["name"] not in after_entry
        assert fu["into"] and all(after_entry[i] == "fusion" for i in fu["into"])
        assert html.escape(fu["name"]) in s.info.value
    # the graph shows each fusion; each fusion is linked to lines of the program's code
    fusions = [n for n, op in after_entry.items() if op == "fusion"]
    assert sorted(st["fusion_lines"]) == sorted(fusions)
    tree = parse(s.page_html)
    dot = json.loads(tree.find(lambda n: "gjx-graph-data" in n.classes())[0].text())["dot"]
    mlp_lines = source_lines_of(make_mlp_step)
    for fu in fusions:
        assert f"-hloopt-{fu}" in dot
        lines = st["fusion_lines"][fu]
        assert lines and {ln for fl, ln in lines if fl == HERE} <= mlp_lines
    rows = [n for n in tree.iter() if n.tag == "tr" and "data-hlo-opt" in n.attrs]
    assert sorted(r.attrs["data-hlo-opt"] for r in rows) == sorted(fusions)
    table = json.loads(tree.find(lambda n: "gj-links" in n.classes())[0].text())
    src = set(attr_values(tree, "data-line"))
    assert set(table["lines"]) == src
    # stepping moves one changed pass at a time; toggling keeps the step in view
    at = s.position
    s.next()
    assert s.position == at + 1
    s.prev()
    s.show_unchanged = True
    assert s.current is step
    s.show_unchanged = False
    assert s.current is step


# ---------------------------------------------------------------------------- launcher


def test_launcher_runs_on_cpu_and_matches_a_direct_call():
    f, args = program("mlp_step")
    lw = launcher(f, *args, lazy=False, run=False)
    assert lw.error is None
    cpu = engine.devices("cpu")
    assert [str(d) for d in cpu] == [str(d) for d in lw.devices if d.platform == "cpu"]
    r = lw.run("cpu", repeats=5)
    assert r.platform == "cpu" and r.repeats == 5 and len(r.times) == 5
    assert 0 < r.min_s <= r.median_s
    direct = engine.jit(f)(*args)
    oracle = jax_value("mlp_step")
    for got, want, ref in zip(r.output, direct, oracle):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-5, atol=1e-5)
    assert "float32[4, 8]" in r.preview
    runs = lw.run_all(repeats=3)
    assert len(runs) == len(lw.devices) and len(lw.runs) == 1 + len(lw.devices)
    assert r.compile_s is not None and lw.runs[1].compile_s is None  # compiled once per device
    svg = lw.chart_svg()
    assert svg.count('class="gjx-bar"') == len(lw.runs)
    assert "#1 cpu:0" in svg and "<script" not in svg
    assert "#1 cpu:0" in lw.table_view.value
    lw.clear()
    assert lw.runs == [] and lw.chart_view.value == ""


def test_launcher_failure_is_shown_not_raised():
    lw = launcher(_bad_shapes, np.ones((2, 4), np.float32), lazy=False)
    assert lw.error is not None and lw.error.line == _line_of(_bad_shapes, "BAD-LINE")
    assert lw.runs == []


# ---------------------------------------------------------------------------- session


def test_session_inspector_lists_jitted_functions_with_counts():
    jax, jnp = real_jax()

    @engine.jit
    def sess_probe(x):
        return enp.sum(enp.sin(x) * x)

    @engine.jit
    def sess_other(x, y):
        return x * y + 1.0

    a, b = np.arange(4.0, dtype=np.float32), np.ones((2, 3), np.float32)
    for _ in range(3):
        sess_probe(a)
    sess_probe(b)
    sess_other(b, b)
    explore(sess_probe, a, lazy=False, measure=False)  # explores the jitted function itself
    # a tool-made jit is not listed (other tests' own jitted lambdas may be)
    lambdas_before = sum(r["name"] == "<lambda>" for r in session(auto_refresh=False).functions)
    explore(lambda z: z + 1.0, a, lazy=False, measure=False)
    s = session(auto_refresh=False)
    rows = {r["name"]: r for r in s.functions}
    assert sum(r["name"] == "<lambda>" for r in s.functions) == lambdas_before
    p = rows["sess_probe"]
    # two signatures traced once each (the explorer's trace was a cache hit), compiled
    # once each, two cached calls
    assert (p["trace_count"], p["compile_count"], p["cache_hits"]) == (2, 2, 2)
    assert p["signatures"] == ["(f32[4])", "(f32[2,3])"] and p["compile_seconds"] > 0
    o = rows["sess_other"]
    assert (o["trace_count"], o["compile_count"], o["cache_hits"]) == (1, 1, 0)
    assert "sess_probe" in s.table_view.value and "sess_other" in s.table_view.value

    arts = s.artifacts(p["key"])
    oracle = str(jax.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * x))(a))
    assert arts[0]["jaxpr"] == oracle
    assert arts[0]["hlo"].startswith("HloModule jit_sess_probe")

    e = s.open_explorer(p["key"], 1)
    assert e.error is None and s.detail.children == (e,)
    assert [a.shape for a in e.stages.traced.in_avals] == [(2, 3)]
    assert sess_probe.trace_count == 2  # read from the cache, not traced again
    assert "not measured" in e.html


# ---------------------------------------------------------------------------- rich display

HOSTILE = '<script>alert("x")</script>&amp;'


def _hostile():
    def f(x):
        return enp.sin(x) * 2.0

    f.__name__ = f.__qualname__ = HOSTILE
    return engine.jit(f)


def _no_markup_from(name, text):
    assert "<script" not in text.lower()
    assert html.escape(name) in text


def test_rich_display_bundles_have_text_and_static_html():
    x = enp.arange(6.0, dtype=enp.float32).reshape(2, 3)
    b = RD.array_bundle(x)
    assert b["text/plain"] == repr(x)
    page = b["text/html"]
    assert "f32[2,3]" in page and "<script" not in page
    tree = parse(page)
    shown = tree.find(lambda n: n.tag == "pre")[0].text()
    assert shown == np.array2string(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert "min" in tree.text() and "2.5" in tree.text()  # stats: the mean

    f = _hostile()
    traced = f.trace(np.ones(3, np.float32))
    lowered = traced.lower()
    compiled = lowered.compile()
    for bundle, text in (
        (RD.traced_bundle(traced), str(traced.jaxpr)),
        (RD.lowered_bundle(lowered), lowered.as_text()),
        (RD.compiled_bundle(compiled), compiled.as_text()),
    ):
        assert set(bundle) >= {"text/plain", "text/html", notebook_ext.MIME_TYPE}
        assert text in bundle["text/plain"]
        assert html.escape(text) in bundle["text/html"]
        _no_markup_from(HOSTILE, bundle["text/html"])
        assert HOSTILE in bundle["text/plain"]
        assert bundle[notebook_ext.MIME_TYPE]["html"] == bundle["text/html"]


def test_widgets_escape_hostile_names():
    f = _hostile()
    x = np.ones(3, np.float32)
    e = explore(f, x, lazy=False, graph_layout="browser", measure=False)
    assert e.error is None
    _no_markup_from(HOSTILE, e.header.value)
    page = e.html
    assert HOSTILE not in page
    scripts = [n for n in parse(page).iter() if n.tag == "script"]
    assert all(n.attrs.get("type") in ("application/json", "text/plain", None) for n in scripts)
    assert "alert(" not in "".join(n.text() for n in scripts if n.attrs.get("type") is None)
    lw = launcher(f, x, lazy=False)
    _no_markup_from(HOSTILE, lw.header.value)
    s = fusion_stepper(f, x, lazy=False, graph_layout="browser")
    _no_markup_from(HOSTILE, s.header.value)
    assert HOSTILE not in s.page_html


def test_display_hooks_and_magics_in_an_interactive_shell(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbconvert = pytest.importorskip("nbconvert")
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    f, args = program("mlp_step")
    ip.user_ns.update(mlp_step=f, params=args[0], x=args[1], y=args[2])
    ip.run_line_magic("load_ext", "notebook_ext")
    try:
        e = ip.run_line_magic("explore", "--tabs mlp_step(params, x, y=y)")
        assert isinstance(e, X.Explorer) and e.error is None
        assert e.layout_mode == "tabs" and e.link_table["lines"]
        assert [a.shape for a in e.stages.traced.in_avals][-1] == (5, 3)
        with pytest.raises(UsageError):
            ip.run_line_magic("explore", "mlp_step")
        with pytest.raises(UsageError):
            ip.run_line_magic("explore", "mlp_step(")
        s = ip.run_line_magic("fusion_stepper", "mlp_step(params, x, y)")
        assert s.error is None and s.visible_steps
        lw = ip.run_line_magic("launch", "mlp_step(params, x, y)")
        assert lw.error is None and len(lw.runs) == 1
        assert ip.run_line_magic("jit_session", "") is not None

        # display hooks: arrays and stages format richly, through IPython itself
        arr = enp.arange(3.0)
        data, _ = ip.display_formatter.format(arr)
        assert "text/html" in data and data["text/plain"] == repr(arr)
        lowered = engine.jit(f).lower(*args)
        data2, _ = ip.display_formatter.format(lowered)
        assert notebook_ext.MIME_TYPE in data2 and "text/html" in data2

        # saved and exported with nbconvert, without a kernel: the static HTML is there
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("arr")
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=data),
            nbformat.v4.new_output("display_data", data=data2),
        ]
        nb.cells = [cell]
        path = tmp_path / "saved.ipynb"
        nbformat.write(nb, str(path))
        body, _ = nbconvert.HTMLExporter().from_filename(str(path))
        assert "f32[3]" in body and "glassjax-stage-display" in body
        assert "stablehlo.dot_general" in body
    finally:
        ip.run_line_magic("unload_ext", "notebook_ext")
    assert "explore" not in ip.magics_manager.magics["line"]
