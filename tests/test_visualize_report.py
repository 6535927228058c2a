"""visualize.report: the static HTML report of a function, read without a browser.

Oracles: Python's HTML parser (the elements a browser would build from the page), XLA's
optimized HLO text scanned with regexes (its fusions), the file on disk (its size), and
the command line run in a subprocess. The page in a browser: tests/browser/test_report_page.py.
"""

import importlib.util
import json
import linecache
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import engine
import engine.numpy as enp
from visualize.graph import graphviz_js
from visualize.report import build_report, report

REPO = Path(__file__).resolve().parent.parent
MAX_BYTES = 5_000_000
STAGE_KINDS = ["source", "jaxpr", "mlir", "hlo", "hlo_opt"]
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "area", "base", "col", "source"}


def load_workloads():
    spec = importlib.util.spec_from_file_location(
        "glassjax_workloads", REPO / "benchmarks" / "workloads.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- a small DOM


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find(self, pred):
        return [n for n in self.iter() if pred(n)]

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root
        self.errors = []

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.cur.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.cur.tag}>")
            while self.cur is not self.root and self.cur.tag != tag:
                self.cur = self.cur.parent
        if self.cur is not self.root:
            self.cur = self.cur.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(page):
    t = Tree()
    t.feed(page)
    t.close()
    assert not t.errors, t.errors[:5]
    return t.root


def by_id(tree, element_id):
    (node,) = tree.find(lambda n: n.attrs.get("id") == element_id)
    return node


# ---------------------------------------------------------------------------- the MLP step


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    step, params, x, y = load_workloads()._mlp_step(engine, enp)
    path = tmp_path_factory.mktemp("report") / "mlp_step.html"
    r = report(step, params, x, y, path=path, repeats=5)
    page = path.read_text(encoding="utf-8")
    return r, path, page, parse(page)


def test_mlp_report_is_one_file_under_5_mb(mlp):
    r, path, page, _ = mlp
    size = os.path.getsize(path)
    print(
        f"\nMLP step report: {size / 1e6:.2f} MB ({size:,} bytes), built in "
        f"{sum(r.timings.values()):.2f} s: "
        + ", ".join(f"{k} {v:.3f}" for k, v in r.timings.items())
    )
    assert size < MAX_BYTES
    assert r.path == str(path) and r.size_bytes == size
    assert page.startswith("<!DOCTYPE html>")


def test_mlp_report_holds_every_pane(mlp):
    _, _, _, tree = mlp
    panes = tree.find(lambda n: n.tag == "section" and "gj-pane" in n.classes())
    stage = [p for p in panes if p.parent.attrs.get("class") == "gj-panes"]
    assert [p.attrs["data-kind"] for p in stage] == STAGE_KINDS
    for p in stage:
        (code,) = p.find(lambda n: "gj-code" in n.classes())
        assert code.text().strip(), p.attrs["data-kind"]
    graphs = [p for p in panes if "gjr-graph-pane" in p.classes()]
    assert [p.attrs["data-graph"] for p in graphs] == ["jaxpr", "hlo_opt"]
    assert [p.attrs["data-kind"] for p in graphs] == ["jaxpr", "hlo_opt"]  # linked panes
    for sid in ("gjr-graphs", "gjr-passes", "gjr-executable"):
        assert by_id(tree, sid).tag == "details"
    # one root: the linker's table, the stage panes and the report's sections together
    (root,) = tree.find(lambda n: "gj-root" in n.classes())
    assert root.attrs["id"] == "gjr-root"
    assert len(root.find(lambda n: n.tag == "section")) == len(panes)


def test_mlp_graphs_start_collapsed_with_every_fusion(mlp):
    r, _, _, tree = mlp
    data = json.loads(by_id(tree, "gjr-graph-data").text())
    hlo_text = r.stages.compiled.as_text()
    fusions = set(re.findall(r"(?m)^\s+(?:ROOT )?%?([\w.\-]+) = \S+ fusion\(", hlo_text))
    assert len(fusions) == 24
    h = data["hlo_opt"]
    start = "\n".join(h["lines"][i] for i in h["views"][""])
    closed = set(re.findall(r'id="hloopt-([\w.\-]+)" class="[^"]*gj-collapsed', start))
    assert closed == fusions
    assert "subgraph" not in start  # collapsed: no fusion drawn as a cluster
    # one view per fusion, with that fusion open as a cluster of its fused instructions
    assert set(h["views"]) == {""} | {"hloopt-" + f for f in fusions} | {"*"}
    for f in list(fusions)[:3]:
        dot = "\n".join(h["lines"][i] for i in h["views"]["hloopt-" + f])
        assert f'subgraph "cluster_hloopt-{f}"' in dot
        assert h["collapse"]["hloopt-" + f] == ""
    j = data["jaxpr"]
    jstart = "\n".join(j["lines"][i] for i in j["views"][""])
    eqns = r.stages.jaxpr.all_eqns
    assert len(re.findall(r'class="gj-eqn', jstart)) == len(eqns)
    assert len(jstart) < 200_000


def test_mlp_pass_list_names_the_fusion_pass(mlp):
    r, _, page, tree = mlp
    passes = by_id(tree, "gjr-passes")
    steps = passes.find(lambda n: n.tag == "details" and "gjr-pass" in n.classes())
    names = [s.attrs["data-pass"] for s in steps]
    assert "fusion" in names and len(names) == len(r.timeline.passes)
    (fusion,) = [s for s in steps if s.attrs["data-pass"] == "fusion"]
    assert "gjr-fusion-pass" in fusion.classes() and "open" in fusion.attrs
    summary = fusion.find(lambda n: "gjr-pass-summary" in n.classes())[0].text().strip()
    assert re.match(r"fused \d+ instructions into \d+ fusions \(kLoop\)", summary), summary
    # the fusions created, over all passes, are the executable's fusions
    hlo_text = r.stages.compiled.as_text()
    fusions = set(re.findall(r"(?m)^\s+(?:ROOT )?%?([\w.\-]+) = \S+ fusion\(", hlo_text))
    created = [
        row.find(lambda n: n.tag == "td")[0].text()
        for s in steps
        for t in s.find(lambda n: n.tag == "table")
        for row in t.find(lambda n: n.tag == "tr")
        if row.find(lambda n: n.tag == "td")
    ]
    assert sorted(created) == sorted(fusions)
    # each step has a text diff; unchanged dumps are counted, not listed as steps
    diffs = passes.find(lambda n: n.tag == "pre" and "gjr-diff" in n.classes())
    assert len(diffs) == len(steps)
    assert any(ln.startswith("+") for ln in diffs[0].text().splitlines())
    skipped = len(r.timeline.skipped)
    assert f"{skipped} dumps with no change (skipped)" in page


def test_mlp_executable_section(mlp):
    r, _, _, tree = mlp
    ex = by_id(tree, "gjr-executable")
    text = ex.text()
    assert "Cost analysis" in text and "estimate" in text and "not a measurement" in text
    assert "Measured run time" in text and "median" in text and "5 (after 3 warm-up runs)" in text
    rows = ex.find(lambda n: n.tag == "tr" and "data-hlo-opt" in n.attrs)
    top = {i.name for i in r.stages.hlo_opt.top_level_instructions()}
    assert rows and {row.attrs["data-hlo-opt"] for row in rows} <= top


def test_mlp_report_loads_nothing_from_outside(mlp):
    _, _, page, tree = mlp
    tags = {n.tag for n in tree.iter()}
    assert not tags & {"link", "img", "iframe", "object", "embed", "base", "video", "audio"}
    for n in tree.iter():
        for attr in ("src", "href", "action", "srcset", "poster", "data"):
            value = n.attrs.get(attr)
            if value is not None:
                assert value.startswith("#"), (n.tag, attr, value)
        if n.tag == "script":
            assert "src" not in n.attrs
    styles = " ".join(n.text() for n in tree.find(lambda n: n.tag == "style"))
    assert "url(" not in styles and "@import" not in styles
    # the only http(s) addresses are text: licence notices and the SVG DTD name in Graphviz
    for url in set(re.findall(r"https?://[^\s\"'<>)]+", page)):
        assert url.startswith(
            (
                "https://graphviz.org",
                "https://gitlab.com/graphviz",
                "https://github.com/hpcc-systems",
                "http://www.w3.org/",
            )
        ), url
    # the bundled Graphviz is inline, as text the page hands to a Web Worker
    gv = by_id(tree, "gjr-graphviz")
    assert gv.tag == "script" and gv.attrs["type"] == "text/plain"
    assert len(gv.text()) > 500_000 and "GlassjaxGraphviz" in gv.text()


# ---------------------------------------------------------------------------- escaping

EVIL = "<script>alert(1)</script>\"&'"
EVIL_FILE = '/tmp/<b>evil</b>&"q".py'
EVIL_SRC = """def evil(params, x):
    # </script><script>alert(2)</script> & <b>bold</b>
    return enp.sin(params[EVIL] * x) + params['a"b&c']
"""


def hostile_program():
    ns = {"enp": enp, "EVIL": EVIL}
    exec(compile(EVIL_SRC, EVIL_FILE, "exec"), ns)
    f = ns["evil"]
    f.__code__ = f.__code__.replace(co_name=EVIL, co_qualname=EVIL)
    f.__name__ = f.__qualname__ = EVIL
    linecache.cache[EVIL_FILE] = (len(EVIL_SRC), None, EVIL_SRC.splitlines(True), EVIL_FILE)
    params = {EVIL: np.ones(3, np.float32), 'a"b&c': np.ones(3, np.float32)}
    return f, (params, np.ones(3, np.float32))


def test_hostile_names_are_escaped():
    f, args = hostile_program()
    r = build_report(f, *args, repeats=2, profile=False)
    page = r.html
    tree = parse(page)
    ours = page.replace(graphviz_js(classic=True), "")  # its inlined WASM is arbitrary text
    assert "<script>alert" not in ours and "<b>" not in ours
    scripts = tree.find(lambda n: n.tag == "script")
    # ours only: the link table, the linker, Graphviz (as text), the graph data, the
    # layout glue and the report's script
    assert len(scripts) == page.count("<script") == page.count("</script") == 6
    assert [s.attrs.get("type") for s in scripts] == [
        "application/json",
        None,
        "text/plain",
        "application/json",
        None,
        None,
    ]
    for s in scripts:
        if s.attrs.get("type") == "application/json":
            json.loads(s.text())
    for n in tree.iter():
        assert n.tag != "b"
        assert not any(k.startswith("on") for k in n.attrs), n.attrs
    (title,) = tree.find(lambda n: n.tag == "title")
    assert title.text() == f"Glassjax report: jit({EVIL})"
    texts = tree.text()
    assert f"jit({EVIL})" in texts and "# </script><script>alert(2)</script> & <b>bold</b>" in texts
    assert EVIL_FILE in texts
    data = json.loads(by_id(tree, "gjr-graph-data").text())
    jaxpr_dot = "\n".join(data["jaxpr"]["lines"])
    # DOT text keeps the names as entities, which Graphviz passes to its SVG as is
    assert "&lt;b&gt;evil&lt;/b&gt;&amp;" in jaxpr_dot
    assert "<b>" not in jaxpr_dot and "<script>" not in jaxpr_dot


# ---------------------------------------------------------------------------- command line

SCRIPT = """import numpy as np
import engine.numpy as jnp

def predict(w, x, scale=1.0):
    return jnp.tanh(x @ w) * scale

example_args = (np.ones((3, 2), np.float32), np.ones((4, 3), np.float32))

if __name__ == "__main__":
    raise SystemExit("the report must not run the script's main block")
"""


def run_cli(*argv, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "visualize", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_command_line_writes_a_report(tmp_path):
    (tmp_path / "model.py").write_text(SCRIPT)
    done = run_cli(
        "report",
        "model.py:predict",
        "--args",
        "np.ones((3, 5), np.float32), np.ones((2, 3), np.float32), scale=2.0",
        "-o",
        "out/given.html",
        "--repeats",
        "3",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "out" / "given.html"
    assert re.search(r"wrote out/given\.html \(\d+\.\d\d MB\)", done.stdout), done.stdout
    tree = parse(out.read_text(encoding="utf-8"))
    panes = tree.find(
        lambda n: "gj-pane" in n.classes() and n.parent.attrs.get("class") == "gj-panes"
    )
    assert [p.attrs["data-kind"] for p in panes] == STAGE_KINDS
    jaxpr = panes[1].text()
    assert "f32[3,5]" in jaxpr and "f32[2,5]" in jaxpr  # the --args shapes, traced
    source_lines = {n.attrs["data-line"] for n in panes[0].iter() if "data-line" in n.attrs}
    assert f"{tmp_path / 'model.py'}:5" in source_lines

    done = run_cli(
        "report", "model.py:predict", "--repeats", "0", "--theme", "dark", cwd=tmp_path
    )  # example_args from the script, default output name
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<div class="gj-root" id="gjr-root" data-theme="dark">' in page
    assert "f32[4,3]" in page and "not measured" in page


def test_command_line_errors_say_what_to_do(tmp_path):
    (tmp_path / "model.py").write_text(SCRIPT.replace("example_args", "other_args"))
    done = run_cli("report", "model.py:nope", cwd=tmp_path)
    assert done.returncode != 0 and "model.py defines no 'nope'" in done.stderr
    done = run_cli("report", "model.py:predict", cwd=tmp_path)
    assert done.returncode != 0 and "--args" in done.stderr and "example_args" in done.stderr
    done = run_cli("report", "model.py", cwd=tmp_path)
    assert done.returncode != 0 and "SCRIPT.py:FUNCTION" in done.stderr
