"""A gallery of every Glassjax view in headless Chromium, light and dark (issue 13: "screenshots
of each widget, light and dark, under the artifacts directory").

One notebook displays every widget (explorer, the tracing, autodiff (with a checkpoint
and a custom_vjp rule) and batching steppers, the pass stepper, the launcher, the
session inspector, the sharding and partitioning views, the cross-backend view); the
sidebar opens the main-area explorer; the static report page is opened from disk. Each
is saved as ``$GLASSJAX_ARTIFACTS_DIR/gallery/<view>-<theme>.png`` and checked in the
browser: drawn (visible, a real size, text in it), on the theme's background (the
computed colour behind it, walking up to the first opaque one), its text readable
against what is behind it (contrast ratio of every visible text element, SVG left out),
and no error text. The test leaves JupyterLab's light theme on (the lab server's
settings outlive it)."""

import os
import re
import tempfile
from pathlib import Path

import pytest

import engine.numpy as enp

try:
    import nbformat
except ImportError:  # the lab_server fixture skips (or fails) and says why
    nbformat = None

SETUP = """\
import engine as jax
import engine.numpy as jnp
import numpy as np
from engine.ad_checkpoint import checkpoint_name
from engine.sharding import AxisType, NamedSharding, PartitionSpec as P
from visualize.partitioning import partitioning
from visualize.sharding_view import array_sharding_model

def f(x):
    y = jnp.sin(x) * x
    return jnp.sum(jnp.tanh(y) + 1.0)

x = jnp.arange(8.0)
f_jit = jax.jit(f)
f_jit(x)

def g(x, w):
    return jnp.sum(x * jnp.exp(w)) + jnp.cos(w).sum()

xs, w = jnp.ones((4, 3)), jnp.arange(3.0)

def layers(W1, W2, v):
    h = checkpoint_name(jnp.sin(W1 @ v), "h1")
    return jnp.sum(jnp.cos(W2 @ h))

layered = jax.checkpoint(layers, policy=jax.checkpoint_policies.dots_saveable)

@jax.custom_vjp
def clipped_sin(v):
    return jnp.sin(v)

clipped_sin.defvjp(lambda v: (jnp.sin(v), jnp.cos(v)), lambda c, t: (jnp.clip(c * t, -0.5, 0.5),))

mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
x_sharded = jax.device_put(jnp.arange(32.0).reshape(8, 4), NamedSharding(mesh, P("data", "model")))
w_sharded = jax.device_put(jnp.ones((4, 3)), NamedSharding(mesh, P("model")))
"""

# (name, the cell that displays it, a selector inside the cell's output that shows the
# view is built); each cell's last expression is the view.
VIEWS = [
    ("explorer", "notebook_ext.explore(f, x)", ".gjx-explorer .gjx-graph-box svg"),
    ("trace-stepper", "notebook_ext.trace_stepper(f, x)", ".glassjax-stepper .gj-st-cur"),
    ("autodiff-stepper", "notebook_ext.grad_stepper(f, x)", ".glassjax-stepper .gj-st-cur"),
    (
        "autodiff-checkpoint",
        """\
s = notebook_ext.grad_stepper(layered, jnp.ones((4, 3)), jnp.ones((2, 4)), jnp.ones(3),
                              argnums=(0, 1, 2))
k = next(i for i, st in enumerate(s.model.stage_steps["partial_eval"]) if st.remat is not None)
s.select("partial_eval").go(k)
s""",
        ".glassjax-stepper .gj-st-saved",
    ),
    (
        "autodiff-custom-vjp",
        """\
s = notebook_ext.grad_stepper(lambda v: jnp.sum(clipped_sin(v) * 3.0), jnp.linspace(-2.0, 2.0, 5))
k = next(i for i, st in enumerate(s.model.stage_steps["transpose"]) if st.custom_rules)
s.select("transpose").go(k)
s""",
        ".glassjax-stepper .gj-st-custom-rule",
    ),
    (
        "batching-stepper",
        "notebook_ext.vmap_stepper(g, (0, None), xs, w)",
        ".glassjax-stepper .gj-st-cur",
    ),
    (
        "pass-stepper",
        "notebook_ext.fusion_stepper(f, x)",
        ".glassjax-live .gjx-graph-box svg",
    ),
    ("launcher", "notebook_ext.launcher(f, x, repeats=3)", ".gjx-chart"),
    ("session", "notebook_ext.session()", ".glassjax-live .gjx-table td"),
    ("sharding-view", "array_sharding_model(x_sharded)", ".gjs-view .gjs-tile"),
    (
        "partitioning-view",
        "partitioning(jax.jit(lambda a, b: a @ b), x_sharded, w_sharded)",
        ".gjs-tile",
    ),
    ("cross-backend", "notebook_ext.cross_backend(f, x)", ".gjcb-col"),
]

KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""

# What a view looks like to a reader: its box, its text, the colour behind it, and every
# visible text element whose colour is too close to the colour behind it. Contrast ratio
# as WCAG defines it; backgrounds with alpha <= 0.5 count as see-through.
APPEARANCE_JS = """(root) => {
  const parse = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = c => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
  const behind = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const box = root.getBoundingClientRect();
  const bad = [], seen = new Set();
  let checked = 0;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || el.closest('svg, style, script')) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    if (s.visibility !== 'visible' || el.getClientRects().length === 0) continue;
    let faded = false;
    for (let e = el; e && e !== root.parentElement; e = e.parentElement)
      if (Number(getComputedStyle(e).opacity) < 0.5) faded = true;
    if (faded) continue;
    const fg = parse(s.color), bg = behind(el);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked += 1;
    if (ratio < 3)
      bad.push({text: node.textContent.trim().slice(0, 40), tag: el.tagName,
                cls: String(el.className).slice(0, 60), color: s.color,
                behind: 'rgb(' + bg.slice(0, 3).join(',') + ')', ratio: +ratio.toFixed(2)});
  }
  // how far the widest visible element sticks out past the view's right edge, where it
  // would be cut off: an element inside a scrolling box of the view's own is clipped by
  // that box (fine); JupyterLab's output box and a widget's outer box do not count
  const outer = e => e === root || (e.parentElement && e.parentElement.matches('.jp-OutputArea-output'))
    || e.matches('.jp-OutputArea-output, .jp-OutputArea-child');
  let overflow = 0, widest = '';
  for (const el of root.querySelectorAll('*')) {
    if (el.closest('svg') || el.getClientRects().length === 0) continue;
    let clipped = false;
    for (let e = el.parentElement; e && !outer(e); e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o !== 'visible') { clipped = true; break; }
    }
    const out = el.getBoundingClientRect().right - box.right;
    if (!clipped && out > overflow) { overflow = out; widest = el.tagName + '.' + String(el.className).slice(0, 60); }
  }
  const bg = behind(root);
  return {w: box.width, h: box.height, overflow, widest, text: root.innerText.trim().length,
          background: lum(bg), behind: bg.slice(0, 3), checked, bad: bad.slice(0, 12),
          errors: [...root.querySelectorAll('.gjx-error, .gj-st-error')]
                    .filter(e => e.getClientRects().length > 0).map(e => e.innerText.slice(0, 200))};
}"""
ERROR_WORDS = ("Traceback", "model not found", "Loading widget", "Error displaying widget")
MIN_CONTRAST = 3.0  # WCAG's minimum for large text and UI; what a glance needs


@pytest.fixture
def gallery():
    """Saves a screenshot as <artifacts>/gallery/<name>-<theme>.png (replacing an older one)."""
    base = Path(
        os.environ.get("GLASSJAX_ARTIFACTS_DIR")
        or Path(tempfile.gettempdir()) / "glassjax-artifacts"
    )
    folder = base / "gallery"
    folder.mkdir(parents=True, exist_ok=True)

    def shot(target, name, theme):
        path = folder / f"{name}-{theme}.png"
        if hasattr(target, "goto"):  # a page: all of it, not just the viewport
            target.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        print(f"screenshot: {path}")
        return path

    return shot


def check_view(root, name, theme):
    """The checks every view gets; returns what was measured."""
    got = root.evaluate(APPEARANCE_JS)
    where = f"{name} ({theme})"
    assert got["w"] > 100 and got["h"] > 30, (where, got)
    assert got["text"] > 20, (where, got)
    if theme == "light":
        assert got["background"] > 0.7, (where, "not on a light background", got["behind"])
    else:
        assert got["background"] < 0.1, (where, "not on a dark background", got["behind"])
    assert got["checked"] >= 3, (where, got)
    assert got["overflow"] <= 4, (where, "sticks out past its output's right edge", got)
    assert not got["bad"], (where, f"text hard to read (contrast < {MIN_CONTRAST})", got["bad"])
    assert not got["errors"], (where, got["errors"])
    text = root.inner_text()
    for word in ERROR_WORDS:
        assert word not in text, (where, word)
    return got


def set_theme(page, light):
    theme = "JupyterLab Light" if light else "JupyterLab Dark"
    page.evaluate(
        f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})"
    )
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{str(light).lower()}'")
    page.wait_for_selector("#jupyterlab-splash", state="detached")
    page.wait_for_timeout(300)  # the theme's stylesheet applies on the next frames


def shoot_notebook_views(page, cells, gallery, theme):
    for i, (name, _, ready) in enumerate(VIEWS):
        cell = cells.nth(i + 2)
        cell.scroll_into_view_if_needed()
        cell.locator(ready).first.wait_for(state="visible", timeout=60_000)
        outputs = cell.locator(".jp-Cell-outputArea")
        assert cell.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0, name
        check_view(outputs, name, theme)
        if name == "partitioning-view":  # text columns read left to right, not right-aligned
            aligns = cell.locator(".gjp-table td, .gjp-table th").evaluate_all(
                "cells => [...new Set(cells.map(c => getComputedStyle(c).textAlign))]"
            )
            assert aligns == ["left"], aligns
        gallery(outputs, name, theme)


def open_main_area_explorer(page):
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='glassjax-inspector']")
    item = page.locator("#glassjax-inspector .glassjax-fn[data-name='f']")
    item.wait_for(state="visible", timeout=60_000)
    item.click()
    explorer = page.locator(".lm-DockPanel .glassjax-ExplorerPanel[data-state='ready']")
    explorer.wait_for(state="visible", timeout=120_000)
    explorer.locator(".gjx-graph-box svg").first.wait_for(state="visible", timeout=60_000)
    return explorer


def test_every_widget_light_and_dark(lab_server, page, gallery):
    nb = nbformat.v4.new_notebook()
    prelude = (
        "import engine\nengine.config.update('jax_num_cpu_devices', 8)\n"
        "%load_ext notebook_ext\nimport notebook_ext"
    )
    nb.cells = [nbformat.v4.new_code_cell(s) for s in [prelude, SETUP] + [v[1] for v in VIEWS]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    nbformat.write(nb, str(lab_server.root / "gallery.ipynb"))
    # tall enough that every view fits on screen whole (a shot is cut at the viewport)
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.goto(lab_server.page_url("gallery.ipynb"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    n = len(nb.cells)
    page.wait_for_function(
        """(n) => {
          const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
          const failed = [...document.querySelectorAll('.jp-OutputArea-output')]
            .some(o => o.innerText.includes('Traceback'));
          return failed || (p.length >= n && p.slice(0, n).every(e => /\\[\\d+\\]/.test(e.textContent)));
        }""",
        arg=n,
        timeout=240_000,
    )
    page.wait_for_function(KERNEL_IDLE_JS, timeout=240_000)  # lazy widgets built after cells
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    assert not [t for t in outputs if "Traceback" in t], outputs
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
    try:
        shoot_notebook_views(page, cells, gallery, "light")
        explorer = open_main_area_explorer(page)
        check_view(explorer, "main-area-explorer", "light")
        gallery(explorer, "main-area-explorer", "light")

        set_theme(page, light=False)
        check_view(explorer, "main-area-explorer", "dark")
        gallery(explorer, "main-area-explorer", "dark")
        page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('gallery.ipynb')")
        shoot_notebook_views(page, cells, gallery, "dark")
    finally:  # later tests in this worker's lab server expect the light theme
        set_theme(page, light=True)
        page.wait_for_function(KERNEL_IDLE_JS)


def test_static_report_page_light_and_dark(page, gallery, tmp_path):
    from visualize.report import report

    def f(x):
        y = enp.sin(x) * x
        return enp.sum(enp.tanh(y) + 1.0)

    path = tmp_path / "report.html"
    report(f, enp.arange(8.0), path=path, repeats=2)
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        page.goto(path.as_uri())
        page.wait_for_function(
            "document.querySelectorAll('.gjr-graph-pane[data-laid-out=\"true\"]').length === 2",
            timeout=60_000,
        )
        root = page.locator("#gjr-root")
        got = check_view(root, "report", theme)
        assert re.search(r"fusion", root.inner_text()), got
        gallery(page, "report-page", theme)
    page.emulate_media(color_scheme="light")
