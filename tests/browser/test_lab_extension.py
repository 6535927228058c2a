"""The JupyterLab extension `glassjax` in a real JupyterLab and headless Chromium:
the session-inspector sidebar, the program panel it opens, and the MIME renderer
(live, and from a saved notebook with no kernel)."""

import re

import engine
import engine.numpy as enp
import notebook_ext

try:
    import nbformat
except ImportError:  # the lab_server fixture skips (or fails) and says why
    nbformat = None

MIME = notebook_ext.MIME_TYPE

PROBE_SRC = """\
import engine as jax
import engine.numpy as jnp
import notebook_ext

@jax.jit
def glassjax_probe(x):
    return jnp.sum(jnp.sin(x) * x)

glassjax_probe(jnp.arange(4.0))
glassjax_probe(jnp.arange(4.0))  # a cache hit
"""


def glassjax_probe(x):  # the same function as PROBE_SRC's, for the expected texts
    return enp.sum(enp.sin(x) * x)


def expected_jaxpr():
    x = enp.arange(4.0)
    text = str(engine.make_jaxpr(glassjax_probe)(x))
    try:  # real JAX, where installed, prints the same jaxpr
        import jax
        import jax.numpy as jnp
    except ImportError:
        return text
    oracle = str(jax.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * x))(jnp.arange(4.0)))
    assert text == oracle
    return oracle


def test_sidebar_lists_jitted_function_and_opens_it(lab_server, page, artifacts, jupyter_ui):
    jupyter_ui.write_notebook(
        lab_server.root,
        "inspector.ipynb",
        [
            nbformat.v4.new_code_cell("%load_ext notebook_ext"),
            nbformat.v4.new_code_cell(PROBE_SRC),
            nbformat.v4.new_code_cell("notebook_ext.show_stages(glassjax_probe, jnp.arange(4.0))"),
        ],
    )
    jupyter_ui.open_notebook(page, lab_server, "inspector.ipynb")

    # before %load_ext the kernel has no inspector, and the sidebar says what to do
    jupyter_ui.wait_kernel_idle(page)
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='glassjax-inspector']")
    status = page.locator("#glassjax-inspector .glassjax-status")
    page.wait_for_function("""() => document.querySelector('#glassjax-inspector .glassjax-status')
                                      .textContent.includes('%load_ext notebook_ext')""")
    assert status.is_visible()
    artifacts(page, "sidebar-before-load-ext")

    # after the cells ran, the sidebar is filled through the glassjax.inspector comm
    jupyter_ui.run_all_cells(page, 3)
    item = page.locator("#glassjax-inspector .glassjax-fn[data-name='glassjax_probe']")
    item.wait_for(state="visible")
    assert page.locator("#glassjax-inspector .glassjax-fn").count() == 1
    assert item.locator(".glassjax-fn-name").inner_text() == "glassjax_probe"
    counts = item.locator(".glassjax-fn-counts").inner_text()
    assert counts.startswith("traces 1 · compiles 1 · hits 1 · "), counts
    artifacts(page, "sidebar")

    # clicking it opens a main-area panel with the kernel's jaxpr and optimized HLO
    item.click()
    panel = page.locator(".lm-DockPanel .glassjax-ProgramPanel:visible")
    panel.locator(".glassjax-jaxpr").wait_for(state="visible")
    assert panel.locator(".glassjax-program-name").inner_text() == "glassjax_probe"
    assert panel.locator(".glassjax-jaxpr").inner_text().strip() == expected_jaxpr()
    hlo = panel.locator(".glassjax-hlo").inner_text()
    assert hlo.startswith("HloModule jit_glassjax_probe"), hlo[:200]
    assert "ENTRY" in hlo and "sine" in hlo
    artifacts(page, "program-panel")
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")
    assert "glassjax_probe" in tab.inner_text()

    # the live MIME output of show_stages (our renderer's class lands on the output node)
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('inspector.ipynb')")
    out = page.locator(".jp-OutputArea-output.glassjax-stages")
    out.wait_for(state="visible")
    stages = out.locator("details.glassjax-stage")
    assert [stages.nth(i).get_attribute("data-stage") for i in range(stages.count())] == [
        "jaxpr",
        "StableHLO",
        "optimized HLO",
    ]
    assert stages.nth(0).locator("pre").inner_text().strip() == expected_jaxpr()
    artifacts(out, "mime-output")

    # saving keeps the payload, so the output renders again without a kernel
    page.keyboard.press("Control+s")
    page.wait_for_selector(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)")
    saved = nbformat.read(str(lab_server.root / "inspector.ipynb"), as_version=4)
    bundle = next(o["data"] for o in saved.cells[2].outputs if MIME in o.get("data", {}))
    assert "<pre" in bundle[MIME]["html"] and "text/html" in bundle and "text/plain" in bundle

    # the sidebar and the program panel follow JupyterLab's dark theme
    page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('glassjax_probe')")
    assert luminance(page, "#glassjax-inspector") > 0.8
    jupyter_ui.set_theme(page, "JupyterLab Dark", light=False)
    try:
        assert luminance(page, "#glassjax-inspector") < 0.3
        assert luminance(page, ".glassjax-ProgramPanel:visible .glassjax-jaxpr") < 0.3
        artifacts(page, "dark-theme")
    finally:
        jupyter_ui.set_theme(page, "JupyterLab Light", light=True)


def luminance(page, selector):
    rgb = page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")
    r, g, b = (int(v) for v in re.findall(r"\d+", rgb)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_saved_output_renders_without_kernel(lab_server, page, artifacts, jupyter_ui):
    """A notebook saved with glassjax outputs, opened with no kernel: the outputs are
    drawn from the saved JSON alone; untrusted HTML goes through the sanitizer."""
    view = notebook_ext.stages(glassjax_probe, enp.arange(4.0))
    hostile = notebook_ext.StagesView(
        "hostile",
        [],
        html=(
            '<pre class="glassjax-stage-text">kept</pre>'
            '<img src="x" onerror="window.__glassjax_xss = 1">'
        ),
    )
    outputs = [
        nbformat.v4.new_output("display_data", data=v._repr_mimebundle_()) for v in (view, hostile)
    ]
    cell = nbformat.v4.new_code_cell("notebook_ext.show_stages(glassjax_probe, x)")
    cell.outputs = outputs
    jupyter_ui.write_notebook(
        lab_server.root, "saved.ipynb", [cell], kernel="glassjax-no-such-kernel"
    )
    jupyter_ui.open_notebook(page, lab_server, "saved.ipynb")

    # the kernelspec does not exist: JupyterLab asks; choose no kernel at all
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(state="visible")
    artifacts(page, "kernel-dialog")
    no_kernel = dialog.locator("button:has-text('No Kernel')")
    if no_kernel.count():
        no_kernel.first.click()
    else:
        dialog.locator("select").select_option(label="No Kernel")
        dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.sessionContext.session")

    outs = page.locator(".jp-OutputArea-output.glassjax-stages")
    outs.first.wait_for(state="visible")
    assert outs.count() == 2
    texts = outs.nth(0).locator("pre.glassjax-stage-text").all_inner_texts()
    assert texts[0].strip() == expected_jaxpr()
    assert texts[2].startswith("HloModule jit_glassjax_probe")
    assert outs.nth(1).locator("pre").inner_text() == "kept"
    assert outs.nth(1).locator("img[onerror]").count() == 0
    assert page.evaluate("window.__glassjax_xss") is None
    artifacts(page, "saved-no-kernel")
