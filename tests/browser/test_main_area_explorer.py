"""The explorer in JupyterLab's main area (issue 13, item 4), in a real JupyterLab and
headless Chromium: the sidebar's click opens the full explorer (every pane, the fusion
graph, the executable, the pass stepper) of a jitted function; calling the function
with a new shape (a recompile) updates the panel; a pane pops out into its own panel
beside it and stays linked; light and dark themes; Notebook 7; every control clicked;
two notebooks' panels each keep their own kernel. Kernel side: the requests, and the
panel's pass stepper adds no compile to the function's count. Screenshots go to the
artifacts folder ($GLASSJAX_ARTIFACTS_DIR)."""

import re

import pytest

import engine
import engine.numpy as enp

SOURCES = [
    "%load_ext notebook_ext",
    """\
import engine as jax
import engine.numpy as jnp

@jax.jit
def glassjax_probe(x):
    return jnp.sum(jnp.sin(x) * x)

glassjax_probe(jnp.arange(4.0))
""",
    "glassjax_probe(jnp.arange(6.0))  # a new shape: a recompile",
]
PANES = ["Source", "jaxpr", "StableHLO", "HLO", "optimized HLO", "fusion graph", "executable"]

VISIBILITY_JS = """e => {
  const s = getComputedStyle(e), r = e.getBoundingClientRect();
  return {display: s.display, visibility: s.visibility, opacity: Number(s.opacity),
          x: r.x, y: r.y, w: r.width, h: r.height};
}"""
EXPLORER = ".lm-DockPanel .glassjax-ExplorerPanel"


def probe(x):  # SOURCES' function, for the expected texts
    return enp.sum(enp.sin(x) * x)


def oracle_jaxpr(n):
    """Real JAX's jaxpr of the probe at f32[n] (the engine's where JAX is absent)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return str(engine.make_jaxpr(probe)(enp.arange(float(n))))
    return str(jax.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * x))(jnp.arange(float(n))))


def assert_visible(locator, what):
    box = locator.evaluate(VISIBILITY_JS)
    assert box["display"] != "none" and box["visibility"] == "visible", (what, box)
    assert box["opacity"] > 0.5 and box["w"] > 20 and box["h"] > 10, (what, box)
    return box


def luminance(locator):
    rgb = locator.evaluate("e => getComputedStyle(e).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def pane_labels(explorer):
    return explorer.evaluate(
        "e => [...e.querySelectorAll('.gjx-explorer .gj-panes > .gj-pane')]"
        ".map(p => p.getAttribute('aria-label'))"
    )


def test_main_area_explorer_opens_updates_and_pops_out(lab_server, page, artifacts, jupyter_ui):
    jupyter_ui.write_notebook(lab_server.root, "explorer.ipynb", SOURCES)
    jupyter_ui.open_notebook(page, lab_server, "explorer.ipynb")
    jupyter_ui.run_cell(page, 0, 1)
    jupyter_ui.run_cell(page, 1, 2)

    # the sidebar lists the function; a click opens the explorer in the main area
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='glassjax-inspector']")
    item = page.locator("#glassjax-inspector .glassjax-fn[data-name='glassjax_probe']")
    item.wait_for(state="visible")
    item.click()
    explorer = page.locator(f"{EXPLORER}[data-state='ready']")
    explorer.wait_for(state="visible", timeout=120_000)
    assert "glassjax_probe" in page.locator(".lm-DockPanel-tabBar .jp-mod-current").inner_text()
    assert explorer.get_attribute("data-signature") == "(f32[4])"
    assert explorer.locator(".glassjax-program-name").inner_text() == "glassjax_probe"
    assert (
        explorer.locator(".glassjax-program-counts")
        .inner_text()
        .startswith("traced 1× · compiled 1×")
    )
    assert pane_labels(explorer) == PANES

    # side by side: every pane is laid out and visible (computed style and size)
    explorer.locator("select.glassjax-layout-select").select_option("side")
    page_root = explorer.locator(".gjx-explorer")
    assert "gjx-layout-side" in page_root.get_attribute("class")
    for label in PANES:
        assert_visible(explorer.locator(f".gj-pane[aria-label='{label}']"), label)
    assert_visible(explorer.locator(".glassjax-popout-button[data-pane='jaxpr']"), "pop-out")
    jaxpr_pane = explorer.locator(".gj-pane[aria-label='jaxpr'] .gj-code")
    assert "f32[4]" in jaxpr_pane.inner_text() and "sin" in jaxpr_pane.inner_text()
    # the programs as text: real JAX's jaxpr, and the HLO XLA optimized
    assert explorer.locator(".glassjax-jaxpr").inner_text().strip() == oracle_jaxpr(4)
    assert explorer.locator(".glassjax-hlo").inner_text().startswith("HloModule jit_glassjax_probe")
    # the fusion graph is laid out (an SVG with the optimized module's instructions)
    graph = explorer.locator(".gj-pane[aria-label='fusion graph'] .gjx-graph-box svg")
    graph.wait_for(state="visible", timeout=60_000)
    assert graph.locator("g[data-hlo-opt]").count() >= 2
    exe = explorer.locator(".gj-pane[aria-label='executable']")
    assert "flops (XLA estimate)" in exe.inner_text()
    assert exe.locator("tr[data-hlo-opt]").count() >= 1

    # linked: a click on the sine's equation lights up its source line
    sin_eqn = explorer.locator(".gj-pane[aria-label='jaxpr'] [data-eqn]:has-text('sin')").first
    sin_eqn.click()
    lit = explorer.locator(".gj-pane[aria-label='Source'] [data-line].gj-hl")
    assert lit.count() >= 1 and "jnp.sin(x)" in lit.first.inner_text()
    assert luminance(lit.first) != luminance(explorer.locator(".gj-pane[aria-label='Source']"))
    artifacts(page, "explorer-light")

    # a new shape recompiles: the panel (still open) follows without a click
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('explorer.ipynb')")
    jupyter_ui.run_cell(page, 2, 3)
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('glassjax_probe')")
    explorer = page.locator(f"{EXPLORER}[data-state='ready'][data-signature='(f32[6])']")
    explorer.wait_for(state="visible", timeout=120_000)
    assert "program 2 of 2" in explorer.locator(".glassjax-shown-program").inner_text()
    assert "f32[6]" in explorer.locator(".gj-pane[aria-label='jaxpr'] .gj-code").inner_text()
    assert (
        explorer.locator(".glassjax-program-counts")
        .inner_text()
        .startswith("traced 2× · compiled 2×")
    )
    assert [t.strip() for t in explorer.locator(".glassjax-jaxpr").all_inner_texts()] == [
        oracle_jaxpr(4),
        oracle_jaxpr(6),
    ]
    assert explorer.locator("select.glassjax-program-select option").count() == 3
    assert "gjx-layout-side" in explorer.locator(".gjx-explorer").get_attribute("class")

    # pop the jaxpr pane out: its own panel, to the right of the explorer
    explorer.locator(".glassjax-popout-button[data-pane='jaxpr']").click()
    popout = page.locator(".lm-DockPanel .glassjax-PanePanel[data-pane='jaxpr']")
    popout.wait_for(state="visible")
    ex_box = assert_visible(explorer, "explorer beside the pop-out")
    pop_box = assert_visible(popout, "popped-out pane")
    assert pop_box["x"] >= ex_box["x"] + ex_box["w"] - 2, (ex_box, pop_box)
    assert "f32[6]" in popout.locator(".gj-code").inner_text()
    assert explorer.locator(".gj-pane[aria-label='jaxpr']").count() == 0
    assert_visible(explorer.locator(".glassjax-popped[data-pane='jaxpr']"), "placeholder")
    # still linked: a click in the popped-out jaxpr lights up the explorer's source line
    popout.locator("[data-eqn]:has-text('sin')").first.click()
    lit = explorer.locator(
        ".gj-pane[aria-label='Source'] [data-line].gj-sel, "
        ".gj-pane[aria-label='Source'] [data-line].gj-hl"
    )
    assert lit.count() >= 1 and "jnp.sin(x)" in lit.first.inner_text()
    artifacts(page, "popped-out-light")

    # the pass stepper, stepped through the kernel
    explorer.locator(".glassjax-passes-start").click()
    passes = explorer.locator(".glassjax-passes[data-state='ready']")
    passes.wait_for(state="visible", timeout=120_000)
    count = passes.locator(".glassjax-pass-count").inner_text()
    n = int(re.fullmatch(r"1 of (\d+)", count).group(1))
    assert n >= 1
    assert_visible(passes.locator(".glassjax-pass-view .gjx-graph-box"), "pass graph")
    if n > 1:
        passes.locator(".glassjax-pass-next").click()
        explorer.locator(".glassjax-passes[data-state='ready'][data-position='1']").wait_for()
        assert passes.locator(".glassjax-pass-count").inner_text() == f"2 of {n}"
    passes.locator(".glassjax-pass-unchanged input").check()
    explorer.locator(".glassjax-passes[data-state='ready']").wait_for()
    m = int(passes.locator(".glassjax-pass-count").inner_text().split(" of ")[1])
    assert m > n  # XLA runs many passes that change nothing
    artifacts(explorer.locator(".glassjax-passes"), "pass-stepper-light")

    # dark theme: the explorer, its panes and the popped-out pane follow
    assert luminance(explorer) > 0.8 and luminance(popout) > 0.8
    jupyter_ui.set_theme(page, "JupyterLab Dark", light=False)
    try:
        assert luminance(explorer) < 0.3
        assert luminance(explorer.locator(".gj-root").first) < 0.3
        assert luminance(popout) < 0.3
        fg = popout.locator(".gj-code").evaluate("e => getComputedStyle(e).color")
        assert sum(int(v) for v in re.findall(r"\d+", fg)[:3]) > 3 * 128, fg
        artifacts(page, "popped-out-dark")
        explorer.locator(".gj-pane[aria-label='fusion graph']").scroll_into_view_if_needed()
        artifacts(page, "explorer-dark")
    finally:
        jupyter_ui.set_theme(page, "JupyterLab Light", light=True)

    # closing the pop-out brings the pane back into the explorer
    page.locator(
        ".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('glassjax_probe: jaxpr') "
        ".lm-TabBar-tabCloseIcon"
    ).click()
    popout.wait_for(state="detached")
    assert pane_labels(explorer) == PANES
    assert_visible(explorer.locator(".gj-pane[aria-label='jaxpr']"), "jaxpr back")


# ---------------------------------------------------------------- Notebook 7


@pytest.fixture(scope="module")
def notebook7(notebook7_server):
    """`jupyter notebook` (Notebook 7): conftest's ``notebook7_server``."""
    return notebook7_server


def test_explorer_in_notebook7(notebook7, browser, artifacts, jupyter_ui):
    """Notebook 7's main area holds the notebook alone: the explorer opens in the area
    below it, and a popped-out pane beside it as another tab there."""
    jupyter_ui.write_notebook(notebook7.root, "nb7.ipynb", SOURCES[:2])
    # Notebook 7's own error on every page load
    with jupyter_ui.new_page(browser, known_errors=("reading 'schema'",)) as page:
        jupyter_ui.open_notebook(page, notebook7, "nb7.ipynb")
        jupyter_ui.run_cell(page, 0, 1)
        jupyter_ui.run_cell(page, 1, 2)
        page.evaluate("window.jupyterapp.shell.activateById('glassjax-inspector')")
        page.locator("#glassjax-inspector .glassjax-fn[data-name='glassjax_probe']").click()
        explorer = page.locator(".glassjax-ExplorerPanel[data-state='ready']")
        explorer.wait_for(state="visible", timeout=120_000)
        assert_visible(explorer, "explorer below the notebook")
        assert_visible(page.locator(".jp-NotebookPanel"), "the notebook above it")
        assert pane_labels(explorer) == PANES
        explorer.locator(".glassjax-popout-button[data-pane='fusion graph']").click()
        popout = page.locator(".glassjax-PanePanel[data-pane='fusion graph']")
        popout.wait_for(state="visible")
        assert_visible(popout.locator(".gjx-graph-box svg"), "popped-out graph")
        artifacts(page, "notebook7")


# ---------------------------------------------------------------- the kernel side (no browser)


def test_inspector_explorer_and_passes_requests():
    """What the panel asks the kernel: the explorer of the newest program (or a chosen
    one), a stamp that changes on a recompile only, pass steps, and clear errors."""
    from notebook_ext import inspector

    @engine.jit
    def main_area_probe(x):
        return enp.sum(enp.sin(x) * x)

    main_area_probe(enp.arange(4.0))
    (row,) = [r for r in inspector.list_functions() if r["name"] == "main_area_probe"]
    key, stamp = row["key"], row["stamp"]
    view = inspector.answer({"request": "explorer", "key": key, "rid": 7})
    assert view["kind"] == "explorer" and view["rid"] == 7
    assert (view["index"], view["signatures"], view["stamp"]) == (0, ["(f32[4])"], stamp)
    for label in PANES:
        assert f'aria-label="{label}"' in view["html"], label
    assert "<svg" in view["html"] or "gjx-gv-src" in view["html"]  # laid out here or in the page

    main_area_probe(enp.arange(4.0))  # a cache hit: same programs, same stamp
    step = inspector.answer({"request": "passes", "key": key, "index": 0})
    assert step["kind"] == "passes" and step["position"] == 0 and step["count"] >= 1
    assert 'aria-label="fusions"' in step["html"]
    (row,) = [r for r in inspector.list_functions() if r["name"] == "main_area_probe"]
    assert row["stamp"] == stamp  # the pass stepper's own compile is no new program
    everything = inspector.answer({"request": "passes", "key": key, "index": 0, "unchanged": True})
    assert everything["count"] > step["count"] and everything["unchanged"] is True

    main_area_probe(enp.arange(6.0))  # a new shape: a recompile
    (row,) = [r for r in inspector.list_functions() if r["name"] == "main_area_probe"]
    assert row["stamp"] != stamp and row["programs"] == 2
    newest = inspector.answer({"request": "explorer", "key": key})
    assert newest["index"] == 1 and newest["signatures"] == ["(f32[4])", "(f32[6])"]
    assert "f32[6]" in newest["html"]

    class Comm:
        sent = []

        def send(self, data):
            self.sent.append(data)

    comm, insp = Comm(), inspector.Inspector()
    for bad, phrase in [
        ({"request": "explorer", "key": key, "index": 5, "rid": 1}, "IndexError: program index 5"),
        ({"request": "explorer", "key": "nope", "rid": 2}, "this function is gone"),
        ({"request": "explorer", "key": 3, "rid": 3}, "explorer needs a function key (int given)"),
        ({"request": "passes", "key": key, "step": 10**6, "rid": 4}, "IndexError: step 1000000"),
        ({"request": "passes", "key": key, "step": "1", "rid": 5}, "step must be an integer"),
    ]:
        insp._reply(comm, bad)
        reply = comm.sent[-1]
        assert reply["kind"] == "error" and reply["rid"] == bad["rid"], reply
        assert phrase in reply["error"], (phrase, reply)


def _pass_list(stepper):
    return [(s.pipeline, s.pass_name, s.changed, s.text) for s in stepper.steps]


def test_panel_pass_stepper_adds_no_compile_and_shares_the_notebooks():
    """The panel's pass stepper is built from the cache entry's own Lowered stage: it
    does not count as a compile of the function (the sidebar's count stays), its pass
    list is that of an independent pass-by-pass compile of the program, and a notebook
    stepper of the same program and the panel's share one XLA compile between them."""
    from engine import monitoring
    from notebook_ext import inspector

    @engine.jit
    def passes_probe(x):
        return enp.sum(enp.tanh(x) * x + 1.0)

    x = enp.arange(5.0)
    passes_probe(x)
    (row,) = [r for r in inspector.list_functions() if r["name"] == "passes_probe"]
    before = passes_probe.cache_info()
    assert before.compile_count == 1

    xla_compiles = []

    def on_duration(event, seconds, **kw):
        if event == monitoring.BACKEND_COMPILE_EVENT and "passes_probe" in kw.get("fun_name", ""):
            xla_compiles.append(seconds)

    monitoring.register_event_duration_secs_listener(on_duration)
    try:
        check_shared_pass_compile(passes_probe, x, row, before, xla_compiles)
    finally:
        monitoring.unregister_event_duration_listener(on_duration)


def check_shared_pass_compile(passes_probe, x, row, before, xla_compiles):
    import visualize
    from notebook_ext import inspector
    from notebook_ext.fusion_stepper import FusionStepper, fusion_stepper

    panel = inspector.answer({"request": "passes", "key": row["key"], "unchanged": True})
    assert panel["kind"] == "passes" and panel["count"] > 1
    after = passes_probe.cache_info()
    assert (after.compile_count, after.trace_count, after.lower_count) == (
        before.compile_count,
        before.trace_count,
        before.lower_count,
    )
    (row_after,) = [r for r in inspector.list_functions() if r["name"] == "passes_probe"]
    assert row_after["compile_count"] == row["compile_count"]
    assert row_after["stamp"] == row["stamp"]
    assert len(xla_compiles) == 1  # the pass-by-pass compile, made once

    # the notebook's stepper of the same program reuses that compile
    notebook = fusion_stepper(passes_probe, x, lazy=False)
    assert len(xla_compiles) == 1
    assert passes_probe.cache_info().compile_count == before.compile_count
    (key,) = [k for k in inspector._pass_steppers if k[0] == row["key"]]
    shown = inspector._pass_steppers[key]
    assert _pass_list(shown) == _pass_list(notebook)
    assert notebook.timeline is shown.timeline

    # ... and is the pass list of a fresh, independent pass-by-pass compile
    fresh = visualize.compile_with_passes(
        passes_probe.lower(x), compiler_options={"xla_dump_hlo_pass_re": ".+"}
    )
    assert [(s.pipeline, s.pass_name, s.text) for s in fresh.passes] == [
        (s.pipeline, s.pass_name, s.text) for s in shown.steps if s.changed
    ]
    assert len(fresh.skipped) == sum(not s.changed for s in shown.steps)
    assert panel["count"] == len(shown.steps)
    assert isinstance(shown, FusionStepper) and shown.name == "passes_probe"
    with pytest.raises(TypeError, match="takes no example arguments"):
        FusionStepper(passes_probe.lower(x), x)


CONTROLS_PROBE = """\
import engine as jax
import engine.numpy as jnp

@jax.jit
def controls_probe(x):
    y = jnp.tanh(x) * 2.0 + jnp.sin(x)
    return jnp.sum(y @ y.T)

controls_probe(jnp.ones((4, 4)))
"""


def open_explorer(page, jupyter_ui, lab_server, name, sources, function):
    """Runs ``sources`` in a new notebook and opens ``function`` from the sidebar."""
    jupyter_ui.write_notebook(lab_server.root, name, sources)
    jupyter_ui.open_notebook(page, lab_server, name)
    jupyter_ui.run_all_cells(page, len(sources))
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='glassjax-inspector']")
    item = page.locator(f"#glassjax-inspector .glassjax-fn[data-name='{function}']")
    item.wait_for(state="visible")
    item.click()
    explorer = page.locator(f"{EXPLORER}[data-state='ready']")
    explorer.wait_for(state="visible", timeout=120_000)
    return explorer


def pass_title(explorer):
    return explorer.locator(".glassjax-pass-view .gjx-title").first.inner_text()


def test_every_main_area_control_works(lab_server, page, artifacts, jupyter_ui):
    """Each control of the main-area explorer, clicked as a user would: the program
    picker, reload, the layouts and their tabs, the graph's zoom buttons, pop out and
    bring back, the pass stepper (start, next, prev, slider, show unchanged), the
    programs-as-text toggle and the sidebar's refresh."""
    from playwright.sync_api import expect

    sources = [
        "%load_ext notebook_ext",
        CONTROLS_PROBE,
        "controls_probe(jnp.ones((6, 6)))  # a second program",
    ]
    explorer = open_explorer(
        page, jupyter_ui, lab_server, "controls.ipynb", sources, "controls_probe"
    )
    expect(explorer).to_have_attribute("data-signature", "(f32[6,6])")

    # the program picker: an older program, then the newest again
    picker = explorer.locator("select.glassjax-program-select")
    picker.select_option("0")
    expect(page.locator(f"{EXPLORER}[data-state='ready'][data-program='0']")).to_have_attribute(
        "data-signature", "(f32[4,4])", timeout=60_000
    )
    assert "program 1 of 2" in explorer.locator(".glassjax-shown-program").inner_text()
    picker.select_option("newest")
    expect(page.locator(f"{EXPLORER}[data-state='ready'][data-program='1']")).to_have_attribute(
        "data-signature", "(f32[6,6])", timeout=60_000
    )

    # reload asks the kernel again and shows the same program
    explorer.locator("button.glassjax-reload").click()
    expect(page.locator(f"{EXPLORER}[data-state='ready']")).to_have_attribute(
        "data-program", "1", timeout=60_000
    )

    # tabs: each tab shows its pane alone (computed style)
    explorer.locator("select.glassjax-layout-select").select_option("tabs")
    tabs = explorer.locator(".gjx-explorer .gj-tab")
    expect(tabs.first).to_be_visible()
    assert tabs.count() == len(PANES)
    for i, label in enumerate(PANES):
        tabs.nth(i).click()
        shown = explorer.evaluate(
            "e => [...e.querySelectorAll('.gjx-explorer .gj-panes > .gj-pane')]"
            ".filter(p => getComputedStyle(p).display !== 'none')"
            ".map(p => p.getAttribute('aria-label'))"
        )
        assert shown == [label], (label, shown)

    # the fusion graph's zoom buttons (its tab is the one shown)
    tabs.nth(PANES.index("fusion graph")).click()
    graph = explorer.locator(".gj-pane[aria-label='fusion graph']")
    box = graph.locator(".gjx-graph-box")
    expect(box).to_have_attribute("data-zoom-fitted", "true")
    expect(graph.locator(".gjx-zoom-level")).to_have_text(re.compile(r"^\d+%$"))
    before = box.locator("svg").get_attribute("viewBox")
    graph.locator("[data-gjx-zoom=in]").click()
    expect(box).to_have_attribute("data-zoom-fitted", "false")
    assert box.locator("svg").get_attribute("viewBox") != before
    graph.locator("[data-gjx-zoom=out]").click()
    graph.locator("[data-gjx-zoom=one]").click()
    expect(box).to_have_attribute("data-zoom-scale", "1.000")
    graph.locator("[data-gjx-zoom=fit]").click()
    expect(box).to_have_attribute("data-zoom-fitted", "true")
    artifacts(page, "controls-tabs-graph")

    # side by side again; pop a pane out and bring it back with the placeholder's button
    explorer.locator("select.glassjax-layout-select").select_option("side")
    explorer.locator(".glassjax-popout-button[data-pane='HLO']").click()
    popout = page.locator(".lm-DockPanel .glassjax-PanePanel[data-pane='HLO']")
    popout.wait_for(state="visible")
    explorer.locator(".glassjax-popped[data-pane='HLO'] .glassjax-popin-button").click()
    popout.wait_for(state="detached")
    assert pane_labels(explorer) == PANES

    # the graph popped out zooms there, and follows a reload (a new page of the program)
    explorer.locator(".glassjax-popout-button[data-pane='fusion graph']").click()
    popped = page.locator(".lm-DockPanel .glassjax-PanePanel[data-pane='fusion graph']")
    popped.wait_for(state="visible")
    popped_box = popped.locator(".gjx-graph-box")
    expect(popped.locator(".gjx-zoom-level")).to_have_text(re.compile(r"^\d+%$"))
    before = popped_box.locator("svg").get_attribute("viewBox")
    popped.locator("[data-gjx-zoom=in]").click()
    expect(popped_box).to_have_attribute("data-zoom-fitted", "false")
    assert popped_box.locator("svg").get_attribute("viewBox") != before
    artifacts(page, "controls-popped-graph")
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('controls_probe'):not(:has-text(':'))")
    explorer.locator("button.glassjax-reload").click()
    page.locator(f"{EXPLORER}[data-state='ready']").wait_for(timeout=60_000)
    expect(popped_box).to_have_attribute("data-zoom-fitted", "true")
    assert popped_box.locator("svg g[data-hlo-opt]").count() >= 2
    explorer.locator(".glassjax-popped[data-pane='fusion graph'] .glassjax-popin-button").click()
    popped.wait_for(state="detached")
    assert pane_labels(explorer) == PANES

    # the pass stepper: start, next, prev, the slider, and "show unchanged" keeps the pass
    passes = explorer.locator(".glassjax-passes")
    explorer.locator(".glassjax-passes-start").click()
    ready = explorer.locator(".glassjax-passes[data-state='ready']")
    ready.wait_for(state="visible", timeout=120_000)
    count = passes.locator(".glassjax-pass-count")
    n = int(re.fullmatch(r"1 of (\d+)", count.inner_text()).group(1))
    assert n >= 3, n
    passes.locator(".glassjax-pass-next").click()
    expect(count).to_have_text(f"2 of {n}", timeout=60_000)
    passes.locator(".glassjax-pass-prev").click()
    expect(count).to_have_text(f"1 of {n}", timeout=60_000)
    assert passes.locator(".glassjax-pass-prev").is_disabled()
    passes.locator(".glassjax-pass-slider").evaluate(
        "(s) => { s.value = '3'; s.dispatchEvent(new Event('change')); }"
    )
    expect(count).to_have_text(f"3 of {n}", timeout=60_000)
    explorer.locator(".glassjax-passes[data-state='ready'][data-position='2']").wait_for()
    third = pass_title(explorer)
    passes.locator(".glassjax-pass-unchanged input").check()
    expect(count).not_to_have_text(f"3 of {n}", timeout=60_000)
    explorer.locator(".glassjax-passes[data-state='ready']").wait_for()
    m = int(count.inner_text().split(" of ")[1])
    assert m > n
    assert pass_title(explorer) == third  # the same pass, among all of them now
    passes.locator(".glassjax-pass-unchanged input").uncheck()
    expect(count).to_have_text(f"3 of {n}", timeout=60_000)
    assert pass_title(explorer) == third
    artifacts(passes, "controls-passes")

    # the programs as text fold away
    text = explorer.locator("details.glassjax-programs-text")
    assert text.evaluate("d => d.open")
    text.locator("summary").click()
    assert not text.evaluate("d => d.open")

    # the sidebar's refresh lists the function again, with its counts
    page.locator("#glassjax-inspector button.glassjax-refresh").click()
    row = page.locator("#glassjax-inspector .glassjax-fn[data-name='controls_probe']")
    expect(row.locator(".glassjax-fn-counts")).to_contain_text("compiles 2")


def test_explorer_panels_keep_their_own_kernel(lab_server, page, artifacts, jupyter_ui):
    """Two notebooks, two kernels, the same function key ("f1") in each: each function
    gets its own panel, and a panel keeps asking its own kernel after the sidebar has
    moved on to the other notebook (reload, program picker and pass stepper)."""
    from playwright.sync_api import expect

    def cells(name, body):
        return [
            "%load_ext notebook_ext",
            f"import engine as jax\nimport engine.numpy as jnp\n{body}",
        ]

    alpha = cells(
        "alpha", "@jax.jit\ndef alpha_fn(x):\n    return jnp.sin(x)\n\nalpha_fn(jnp.ones(3))"
    )
    beta = cells(
        "beta", "@jax.jit\ndef beta_fn(x):\n    return jnp.cos(x) * 2.0\n\nbeta_fn(jnp.ones(5))"
    )
    first = open_explorer(page, jupyter_ui, lab_server, "alpha.ipynb", alpha, "alpha_fn")
    assert first.locator(".glassjax-program-name").inner_text() == "alpha_fn"

    jupyter_ui.write_notebook(lab_server.root, "beta.ipynb", beta)
    page.evaluate("window.jupyterapp.commands.execute('docmanager:open', {path: 'beta.ipynb'})")
    page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for()
    jupyter_ui.run_all_cells(page, 2)
    item = page.locator("#glassjax-inspector .glassjax-fn[data-name='beta_fn']")
    item.wait_for(state="visible", timeout=60_000)
    item.click()
    second = page.locator(f"{EXPLORER}[data-state='ready']:has(h2:text-is('beta_fn'))")
    second.wait_for(state="visible", timeout=120_000)
    assert "cos" in second.locator(".glassjax-jaxpr").inner_text()
    alpha_panel = page.locator(f"{EXPLORER}:has(h2:text-is('alpha_fn'))")
    assert alpha_panel.count() == 1  # its own panel, not the alpha one reused

    # back to alpha's panel (the sidebar still shows beta's kernel): it asks alpha's
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('alpha_fn')")
    alpha_panel.locator("button.glassjax-reload").click()
    expect(alpha_panel).to_have_attribute("data-state", "ready", timeout=60_000)
    assert alpha_panel.get_attribute("data-signature") == "(f32[3])"
    jaxpr = alpha_panel.locator(".glassjax-jaxpr").inner_text()
    assert "sin" in jaxpr and "cos" not in jaxpr, jaxpr
    alpha_panel.locator(".glassjax-passes-start").click()
    passes = alpha_panel.locator(".glassjax-passes[data-state='ready']")
    passes.wait_for(state="visible", timeout=120_000)
    assert "sine" in passes.locator(".glassjax-pass-view").inner_text()
    artifacts(page, "two-kernels")


def test_panel_after_a_kernel_restart_names_what_happened(lab_server, page, jupyter_ui):
    """After a restart the kernel numbers its functions afresh: the old panel's key now
    names another function, so its reload says the function is gone (it used to show
    the other function under the old title)."""
    from playwright.sync_api import expect

    head = "import engine as jax\nimport engine.numpy as jnp\n"
    sources = [
        "%load_ext notebook_ext",
        head + "@jax.jit\ndef gamma_fn(x):\n    return jnp.sin(x)\n\ngamma_fn(jnp.ones(3))",
        head + "@jax.jit\ndef delta_fn(x):\n    return jnp.exp(x)\n\ndelta_fn(jnp.ones(3))",
    ]
    jupyter_ui.write_notebook(lab_server.root, "restart.ipynb", sources)
    jupyter_ui.open_notebook(page, lab_server, "restart.ipynb")
    jupyter_ui.run_cell(page, 0, 1)
    jupyter_ui.run_cell(page, 1, 2)
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='glassjax-inspector']")
    page.locator("#glassjax-inspector .glassjax-fn[data-name='gamma_fn']").click()
    panel = page.locator(f"{EXPLORER}:has(h2:text-is('gamma_fn'))")
    expect(panel).to_have_attribute("data-state", "ready", timeout=120_000)

    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('restart.ipynb')")
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    jupyter_ui.run_cell(page, 0, 1)
    jupyter_ui.run_cell(page, 2, 2)  # delta_fn is the new kernel's first function
    page.locator("#glassjax-inspector .glassjax-fn[data-name='delta_fn']").wait_for()

    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('gamma_fn')")
    panel.locator("button.glassjax-reload").click()
    expect(panel).to_have_attribute("data-state", "error", timeout=60_000)
    assert "gamma_fn is gone" in panel.locator(".glassjax-status.glassjax-error").inner_text()
    assert "exp" not in panel.locator(".glassjax-jaxpr").inner_text()
