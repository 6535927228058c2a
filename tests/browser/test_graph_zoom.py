"""Graphs in JupyterLab as a user sees them: the explorer's fusion-graph pane and the
pass stepper's graph fit the pane when drawn and zoom, pan and fit from their controls
(checked on the SVG's viewBox and laid-out size), named_scope clusters are drawn, and
long source and jaxpr lines scroll instead of being cut off (computed styles)."""

import re

from playwright.sync_api import expect

LONG = "a_rather_long_name_for_a_value_so_that_this_line_runs_past_the_pane"
SETUP = f"""\
import numpy as np
import engine as jax
import engine.numpy as jnp
import notebook_ext

def mlp(x, w):
    for i in range(4):
        with jax.named_scope(f"dense{{i}}"):
            x = jnp.tanh(x @ w) + jnp.sin(x)
    {LONG} = x * 2.0 + x * 3.0 + x * 4.0 + x * 5.0 + x * 6.0 + x * 7.0 + x * 8.0 + x * 9.0
    return jnp.sum({LONG} ** 2)

x = np.ones((4, 8), np.float32)
w = np.full((8, 8), 0.1, np.float32)
g = jax.jit(jax.grad(mlp))
"""
CELLS = [
    "%load_ext notebook_ext",
    SETUP,
    "notebook_ext.explore(g, x, w, measure=False, layout='tabs',"
    " panes=['optimized HLO', 'fusion graph'])",
    "s = notebook_ext.fusion_stepper(g, x, w)\ns",
    "notebook_ext.trace_stepper(mlp, x, w)",
    "from visualize.graph import jaxpr_graph\nfrom visualize.jaxpr_model import JaxprModel\n"
    "jaxpr_graph(JaxprModel(jax.make_jaxpr(mlp)(x, w)))",
]
# the drawing's box on screen vs the svg element's: how much of the pane it fills
FILL_JS = """(svg) => {
  const s = svg.getBoundingClientRect(), g = svg.querySelector('g.graph').getBoundingClientRect();
  return {w: g.width / s.width, h: g.height / s.height, svgW: s.width, svgH: s.height};
}"""


def view_box(svg):
    return [float(v) for v in svg.get_attribute("viewBox").split()]


def check_zoom(page, pane):
    """Fit on first draw; + and - change the viewBox; a drag pans; fit restores."""
    box = pane.locator(".gjx-graph-box")
    expect(box).to_have_attribute("data-zoom", "ready", timeout=90_000)
    svg = box.locator("svg")
    tools = pane.locator(".gjx-zoom-tools")
    expect(tools).to_be_visible()
    level = pane.locator(".gjx-zoom-level")
    # a pane shown a moment ago is fitted once laid out (JupyterLab delays resize
    # callbacks by up to a second while the notebook scrolls)
    expect(box).to_have_attribute("data-zoom-fitted", "true")
    expect(level).to_have_text(re.compile(r"^\d+%$"))
    fitted = view_box(svg)
    fill = svg.evaluate(FILL_JS)
    # fitted: the drawing fills the pane's width or height (not a corner of empty space)
    assert max(fill["w"], fill["h"]) > 0.9, fill
    assert fill["svgH"] >= 160 and fill["svgW"] > 300, fill
    assert box.get_attribute("data-zoom-fitted") == "true"
    fit_level = level.inner_text()
    assert re.fullmatch(r"\d+%", fit_level)

    pane.locator("[data-gjx-zoom=in]").click()
    zoomed = view_box(svg)
    assert zoomed[2] < fitted[2] * 0.85 and zoomed[3] < fitted[3] * 0.85
    assert level.inner_text() != fit_level
    assert box.get_attribute("data-zoom-fitted") == "false"
    g_scale = float(box.get_attribute("data-zoom-scale"))

    svg.scroll_into_view_if_needed()
    bb = svg.bounding_box()
    page.mouse.move(bb["x"] + bb["width"] / 2, bb["y"] + bb["height"] / 2)
    page.mouse.down()
    page.mouse.move(bb["x"] + bb["width"] / 2 - 120, bb["y"] + bb["height"] / 2 - 60, steps=6)
    page.mouse.up()
    panned = view_box(svg)
    assert panned[0] > zoomed[0] and panned[1] > zoomed[1], (zoomed, panned)
    assert panned[2:] == zoomed[2:]  # a pan keeps the scale
    # the pan moved the drawing by the pointer's distance, in drawing units
    assert abs((panned[0] - zoomed[0]) * g_scale * 4 / 3 - 120) < 8

    pane.locator("[data-gjx-zoom=out]").click()
    assert view_box(svg)[2] > panned[2]
    pane.locator("[data-gjx-zoom=one]").click()
    assert box.get_attribute("data-zoom-scale") == "1.000"
    assert level.inner_text() == "100%"
    pane.locator("[data-gjx-zoom=fit]").click()
    # fit again fills the pane (the pane may have resized since the first fit, e.g.
    # after scrolling it into view, so the viewBox need not equal the first one)
    again = svg.evaluate(FILL_JS)
    assert max(again["w"], again["h"]) > 0.9, (again, view_box(svg), fitted)
    assert box.get_attribute("data-zoom-fitted") == "true"
    assert re.fullmatch(r"\d+%", level.inner_text())
    return svg


def test_graph_panes_zoom_pan_fit_in_lab(lab_server, page, artifacts, jupyter_ui):
    jupyter_ui.write_notebook(lab_server.root, "graphs.ipynb", CELLS)
    jupyter_ui.open_notebook(page, lab_server, "graphs.ipynb")
    jupyter_ui.run_all_cells(page, len(CELLS))
    page.set_viewport_size({"width": 1400, "height": 1600})
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")

    # the explorer: open the fusion graph tab
    explorer = cells.nth(2)
    explorer.locator(".gj-tab:has-text('fusion graph'):visible").click()
    pane = explorer.locator("section.gjx-graph-pane:visible")
    expect(pane).to_be_visible()
    svg = check_zoom(page, pane)
    scopes = svg.locator("g.cluster.gj-scope")
    assert scopes.count() >= 4  # dense0..dense3, drawn as clusters
    titles = set(scopes.evaluate_all("(gs) => gs.map((g) => g.querySelector('text').textContent)"))
    assert {"dense0", "dense1", "dense2", "dense3"} <= titles, titles
    artifacts(explorer, "explorer-graph-fit")
    pane.locator("[data-gjx-zoom=in]").click()
    pane.locator("[data-gjx-zoom=in]").click()
    artifacts(explorer, "explorer-graph-zoomed")
    pane.locator("[data-gjx-zoom=fit]").click()

    # a drag does not select; a click still does (the linker lights the HLO line)
    node = svg.locator("g.node[data-hlo-opt]").first
    node.click()
    expect(svg.locator("g.gj-sel")).to_have_count(1)

    # the pass stepper: the pass that fused, its graph
    stepper = cells.nth(3)
    counter = stepper.locator(".widget-label").filter(has_text=re.compile(r"^\d+ of \d+$"))
    expect(counter).to_have_text(re.compile(r"^1 of \d+$"), timeout=90_000)
    n = int(counter.inner_text().split(" of ")[1])
    # each step's view is a new page (its graph box is named after the step): zooming
    # must wait for step 2's, or step 1's is zoomed and then replaced by a fresh fit
    first = stepper.locator("section.gjx-graph-pane:visible .gjx-graph-box")
    expect(first).to_have_count(1, timeout=60_000)
    first_id = first.get_attribute("id")
    stepper.locator("button:has-text('next'):visible").click()
    expect(counter).to_have_text(f"2 of {n}")
    # the counter is sent after the step's view, so the view it names is already there
    pane = stepper.locator("section.gjx-graph-pane:visible")
    box = pane.locator(".gjx-graph-box")
    expect(box).to_have_count(1)
    assert box.get_attribute("id") != first_id
    check_zoom(page, pane)
    artifacts(stepper, "pass-stepper-graph")

    # long lines scroll inside their pane; nothing is cut off (a narrow window)
    page.set_viewport_size({"width": 760, "height": 1600})
    for label in ("Source", "jaxpr"):
        explorer.locator(f".gj-tab:visible:has-text('{label}')").first.click()
        code = explorer.locator(f"section.gj-pane[aria-label='{label}'] .gj-code:visible").first
        expect(code).to_be_visible()
        style = code.evaluate(
            "(e) => { const s = getComputedStyle(e); return {ox: s.overflowX, ws: s.whiteSpace,"
            " sw: e.scrollWidth, cw: e.clientWidth}; }"
        )
        assert style["ox"] in ("auto", "scroll") or style["ws"] in ("pre-wrap", "break-spaces"), (
            label,
            style,
        )
        if style["ws"] == "pre":  # scrolls: the long line is wider than the pane
            assert style["sw"] > style["cw"], (label, style)
            code.evaluate("(e) => { e.scrollLeft = e.scrollWidth; }")
            assert code.evaluate("(e) => e.scrollLeft") > 0, label
        if label == "Source":
            assert LONG in code.inner_text()
    artifacts(explorer, "explorer-source-scrolled")

    # the tracing stepper at the long line: its Source and Equation panes scroll too
    tracer = cells.nth(4)
    next_button = tracer.locator("button:has-text('Next'):visible")
    source_line = tracer.locator("section[aria-label='Source'] .gj-ln.gj-st-cur:visible")
    for _ in range(40):
        if LONG in source_line.inner_text():
            break
        next_button.click()
        page.wait_for_timeout(150)
    assert LONG in source_line.inner_text()
    for label in ("Source", "Equation just emitted"):
        code = tracer.locator(f"section[aria-label='{label}'] .gj-code:visible").first
        style = code.evaluate(
            "(e) => { const s = getComputedStyle(e); return {ox: s.overflowX, ws: s.whiteSpace,"
            " sw: e.scrollWidth, cw: e.clientWidth}; }"
        )
        clipped = code.evaluate(
            "(e) => { const b = e.getBoundingClientRect(); return [...e.querySelectorAll('*')]"
            ".some((c) => c.getBoundingClientRect().right > b.right + 1); }"
        )
        if clipped:  # wider than the pane: it must scroll to it
            assert style["ox"] in ("auto", "scroll") and style["sw"] > style["cw"], (label, style)
    artifacts(tracer, "trace-stepper-long-line")

    # a graph object displayed on its own (its _repr_mimebundle_'s text/html)
    page.set_viewport_size({"width": 1400, "height": 1600})
    shown = cells.nth(5).locator(".gj-graph-view")
    expect(shown).to_be_visible()
    svg = check_zoom(page, shown)
    assert svg.locator("g.cluster.gj-scope").count() == 4
    # a node highlighted out of view (as the pane linker marks partners) is panned to
    shown.locator("[data-gjx-zoom=one]").click()
    before = view_box(svg)
    last = svg.locator("g.node").last
    inside_js = """([el, svg]) => { const r = el.getBoundingClientRect(),
      b = svg.getBoundingClientRect(); return r.left >= b.left && r.right <= b.right &&
      r.top >= b.top && r.bottom <= b.bottom; }"""
    assert not page.evaluate(inside_js, [last.element_handle(), svg.element_handle()])
    last.evaluate("(g) => g.classList.add('gj-sel')")
    page.wait_for_timeout(200)
    assert view_box(svg) != before
    assert page.evaluate(inside_js, [last.element_handle(), svg.element_handle()])
    shown.locator("[data-gjx-zoom=fit]").click()
    artifacts(cells.nth(5), "graph-object-fit")

    # dark theme: the graphs' text and the zoom controls follow it
    try:
        jupyter_ui.set_theme(page, "JupyterLab Dark", light=False)
        page.wait_for_timeout(500)
        explorer.locator(".gj-tab:has-text('fusion graph'):visible").click()
        for where in (shown, explorer.locator("section.gjx-graph-pane:visible")):
            fill = where.locator("svg g.node text").first.evaluate(
                "(t) => getComputedStyle(t).fill"
            )
            rgb = [int(v) for v in re.findall(r"\d+", fill)[:3]]
            assert sum(rgb) / 3 > 150, fill  # light text on the dark background
        artifacts(cells.nth(5), "graph-object-dark")
        artifacts(explorer, "explorer-graph-dark")
    finally:  # the lab server's settings outlive this test: leave the light theme
        jupyter_ui.set_theme(page, "JupyterLab Light", light=True)
    jupyter_ui.wait_kernel_idle(page)
