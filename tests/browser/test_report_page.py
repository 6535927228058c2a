"""The static report of the MLP training step, opened from disk (file://) in Debian's
headless Chromium, in light and dark theme: every pane shows, both graphs lay out with
the bundled Graphviz, a click on a source line highlights its partners in the text panes
and in the graphs, and nothing is fetched from the network.

Oracles: the link table embedded in the page (built from the models, read here as JSON)
for which elements a click must highlight, and the browser's own computed colours for
the theme. Screenshots are saved (see conftest.py) and their paths printed.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

import engine
import engine.numpy as enp
from visualize.report import report

REPO = Path(__file__).resolve().parents[2]
LAYOUT_BUDGET_MS = 30_000
STAGE_KINDS = ["source", "jaxpr", "mlir", "hlo", "hlo_opt"]


@pytest.fixture(scope="module")
def mlp_report(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        "glassjax_workloads", REPO / "benchmarks" / "workloads.py"
    )
    workloads = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(workloads)
    step, params, x, y = workloads._mlp_step(engine, enp)
    path = tmp_path_factory.mktemp("report") / "mlp_step.html"
    r = report(step, params, x, y, path=path, repeats=5)
    page = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" class="gj-links">(.*?)</script>', page)
    fusions = re.findall(
        r"(?m)^\s+(?:ROOT )?%?([\w.\-]+) = \S+ fusion\(", r.stages.compiled.as_text()
    )  # XLA's text: the oracle
    return path, json.loads(m.group(1)), fusions


def pick_line(table):
    """A source line whose equations reach StableHLO and the optimized HLO, preferring
    the one with most equations (the log-sum-exp line of the MLP's loss)."""
    best = None
    for key, eqns in table["lines"].items():
        links = [table["eqns"][e] for e in eqns]
        if any(d.get("m") for d in links) and any(d.get("o") or d.get("ok") for d in links):
            if best is None or len(eqns) > len(table["lines"][best]):
                best = key
    assert best is not None
    return best


def luminance(css_color):
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


COUNTS = """() => {
  const out = {};
  for (const p of document.querySelectorAll(".gj-panes > .gj-pane"))
    out[p.dataset.kind] = p.querySelectorAll(".gj-hl").length;
  for (const p of document.querySelectorAll(".gjr-graph-pane")) {
    out["graph:" + p.dataset.graph] = p.querySelectorAll("svg .gj-hl, svg .gjr-inner-hl").length;
    out["graph-keys:" + p.dataset.graph] = Array.from(p.querySelectorAll("svg .gj-hl"),
      e => e.getAttribute(p.dataset.graph === "jaxpr" ? "data-eqn" : "data-hlo-opt"));
  }
  return out;
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_report_page_in_chromium(mlp_report, page, artifacts, theme):
    path, table, fusions = mlp_report
    requests, console = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console",
        lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.emulate_media(color_scheme=theme)
    page.goto(path.as_uri())

    # the theme follows the system
    bg = page.evaluate("getComputedStyle(document.getElementById('gjr-root')).backgroundColor")
    assert (luminance(bg) > 0.8) if theme == "light" else (luminance(bg) < 0.2), bg

    # every stage pane is there, visible and non-empty
    for kind in STAGE_KINDS:
        code = page.locator(f'.gj-panes > .gj-pane[data-kind="{kind}"] .gj-code')
        assert code.count() == 1 and code.is_visible(), kind
        assert code.inner_text().strip(), kind
    for sid in ("gjr-passes", "gjr-executable"):
        assert page.locator(f"#{sid}").is_visible()
    assert page.locator('#gjr-passes details[data-pass="fusion"]').count() == 1

    # both graphs lay out in the page within the budget: an <svg> with nodes
    page.wait_for_function(
        "document.querySelectorAll('.gjr-graph-pane[data-laid-out=\"true\"]').length === 2",
        timeout=LAYOUT_BUDGET_MS,
    )
    nodes = page.evaluate("""() => Array.from(document.querySelectorAll('.gjr-graph-pane'),
        p => [p.dataset.graph, p.querySelectorAll('svg g.node').length,
              p.querySelectorAll('svg g.node.gj-collapsed').length])""")
    assert nodes[0][0] == "jaxpr" and nodes[0][1] >= len(table["eqns"])
    assert nodes[1][0] == "hlo_opt" and nodes[1][1] > 0
    assert nodes[1][2] == len(fusions) > 0  # collapsed: every fusion one closed node
    artifacts(page, f"{theme}-page")
    page.locator("#gjr-graphs").scroll_into_view_if_needed()
    artifacts(page, f"{theme}-graphs")

    # a click on a source line highlights its partners in the panes and the graphs
    key = pick_line(table)
    eqns = table["lines"][key]
    links = [table["eqns"][e] for e in eqns]
    line = page.locator(f'.gj-source [data-line="{key}"]')
    line.scroll_into_view_if_needed()
    line.click()
    counts = page.evaluate(COUNTS)
    assert page.locator(f'.gj-source [data-line="{key}"].gj-sel').count() == 1
    assert counts["jaxpr"] == len(eqns)
    for kind in ("mlir", "hlo", "hlo_opt"):
        assert counts[kind] > 0, (kind, counts)
    assert counts["graph:jaxpr"] == len(eqns)
    assert sorted(counts["graph-keys:jaxpr"]) == sorted(eqns)
    expected_opt = {k for d in links for k in d.get("o", []) + d.get("ok", [])}
    assert counts["graph:hlo_opt"] > 0
    assert set(counts["graph-keys:hlo_opt"]) <= expected_opt
    heads = page.evaluate("""() => Array.from(document.querySelectorAll('.gj-pane[data-kind]'),
        p => [p.dataset.graph ? 'graph:' + p.dataset.graph : p.dataset.kind,
              p.querySelector('.gj-count').textContent])""")
    heads = dict(heads[:7])  # stage panes and graphs (the kernel table comes after)
    assert heads["source"] == "selected"
    assert heads["jaxpr"] == heads["graph:jaxpr"] == f"{len(eqns)} linked"
    assert heads["mlir"] == f"{counts['mlir']} linked"
    artifacts(page, f"{theme}-after-click")
    page.locator("#gjr-graphs").scroll_into_view_if_needed()
    artifacts(page, f"{theme}-graphs-after-click")

    # a click on a closed fusion opens it as a cluster; its frame closes it again
    fusion = page.locator('.gjr-graph-pane[data-graph="hlo_opt"] g.node.gjr-expandable').first
    fid = fusion.get_attribute("id")
    fusion.click()
    page.wait_for_function(
        f"""() => {{ const p = document.querySelector('.gjr-graph-pane[data-graph="hlo_opt"]');
                 return p.dataset.view === {json.dumps(fid)} && p.dataset.laidOut === "true"; }}""",
        timeout=LAYOUT_BUDGET_MS,
    )
    cluster = f'.gjr-graph-pane[data-graph="hlo_opt"] g.cluster[id="{fid}"]'
    assert page.locator(cluster).count() == 1
    assert page.locator(cluster + ".gj-sel").count() == 1  # still the selection
    artifacts(page, f"{theme}-fusion-open")

    # the toggle overrides the system's theme
    page.locator("[data-gjr-theme]").click()  # auto -> light
    page.locator("[data-gjr-theme]").click()  # light -> dark
    bg = page.evaluate("getComputedStyle(document.getElementById('gjr-root')).backgroundColor")
    assert luminance(bg) < 0.2

    assert not [c for c in console if c.startswith("error")], console
    outside = [u for u in requests if not u.startswith(("file:", "blob:", "data:", "about:"))]
    assert not outside, outside
    assert requests[0] == path.as_uri()
