"""The steppers in a real front-end: JupyterLab (and Notebook 7 where the `notebook`
package is installed) in headless Chromium. The tracing stepper and the fusion stepper
are run in a kernel and clicked through; each step's DOM is checked against real JAX's
jaxpr. Also the steppers' static fallback (text/html of the current step), without a
browser: what a saved notebook or an nbconvert export shows."""

import re

import pytest

import engine.numpy as enp

FUNCTION_SRC = """\
import engine as jax
import engine.numpy as jnp
import notebook_ext

def f(x):
    y = jnp.sin(x)
    z = y * x
    return jnp.sum(z)

x = jnp.arange(4.0)
"""
# the lines of FUNCTION_SRC each step of tracing f comes from, in order
F_LINES = [(6, "y = jnp.sin(x)"), (7, "z = y * x"), (8, "return jnp.sum(z)")]

# Notebook 7.6 throws this on every page load, with or without our extension
NOTEBOOK7_KNOWN_ERRORS = ("reading 'schema'",)


def f_local(x):  # FUNCTION_SRC's f, for the expected texts
    y = enp.sin(x)
    z = y * x
    return enp.sum(z)


def oracle_jaxpr():
    """jax.make_jaxpr's text of f and its equation lines (engine's where jax is absent)."""
    try:
        import jax
        import jax.numpy as jnp

        text = str(jax.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * x))(jnp.arange(4.0)))
    except ImportError:
        import engine

        text = str(engine.make_jaxpr(f_local)(enp.arange(4.0)))
    eqns = [ln.strip() for ln in text.splitlines() if re.match(r"\s+\w+:\S+ = ", ln)]
    return text, eqns


def squash(s):
    return " ".join(s.split())


def wait_text(locator, want, exact=True, timeout=30_000):
    """Waits until the element reads ``want`` (or contains it). The locator is resolved
    afresh each poll: a re-rendered HTML widget replaces its nodes."""
    from playwright.sync_api import expect

    if exact:
        expect(locator).to_have_text(want, timeout=timeout)
    else:
        expect(locator).to_contain_text(want, timeout=timeout)


def check_trace_stepper(page, cell, artifacts, shot_prefix=""):
    """Clicks Next through the tracing of f, checking each step's equation (against
    real JAX's jaxpr), the current source line and the growing jaxpr."""
    text, eqns = oracle_jaxpr()
    assert len(eqns) == len(F_LINES)
    stepper = cell.locator(".glassjax-stepper")
    stepper.wait_for(state="visible")
    # the live widget is shown; its static copy (for saved notebooks) is in the page, hidden
    assert cell.locator(".gj-stepper:visible").count() == 1
    label = stepper.locator("div.widget-label")  # the Label widget, not a caption
    equation = stepper.locator("section[aria-label='Equation just emitted'] .gj-st-cur")
    source_line = stepper.locator("section[aria-label='Source'] .gj-ln.gj-st-cur")
    so_far = stepper.locator("section[aria-label='jaxpr so far'] div[title^='equation ']")
    next_button = stepper.locator("button:has-text('Next')")
    prev_button = stepper.locator("button:has-text('Prev')")
    n = len(eqns)
    for i, (eqn, (line_no, code)) in enumerate(zip(eqns, F_LINES)):
        if i:
            next_button.click()
        wait_text(label, f"tracing: step {i + 1} of {n}")
        assert squash(equation.inner_text()) == squash(eqn), (i, equation.inner_text())
        assert source_line.get_attribute("data-n") == str(line_no)
        assert source_line.inner_text().strip() == code
        head = stepper.locator(".gj-st-head .gj-st-title").inner_text()
        primitive = eqn.split(" = ")[1].split()[0].split("[")[0]
        assert head.startswith(f"Step {i + 1} of {n}: {primitive} recorded by"), head
        if i < n - 1:  # the jaxpr grows by one equation a step
            assert so_far.count() == i + 1
            assert [squash(t) for t in so_far.all_inner_texts()] == [
                squash(e) for e in eqns[: i + 1]
            ]
        else:  # the last step shows the whole jaxpr: make_jaxpr's text
            whole = stepper.locator("section[aria-label^='jaxpr (complete'] .gj-code")
            assert squash(whole.inner_text()) == squash(text)
        artifacts(cell, f"{shot_prefix}trace-step-{i + 1}")
    assert next_button.is_disabled() is False  # last step of the only track: a no-op
    prev_button.click()
    wait_text(label, f"tracing: step {n - 1} of {n}")
    assert squash(equation.inner_text()) == squash(eqns[n - 2])


# ---------------------------------------------------------------------------- JupyterLab


def test_steppers_click_through_in_lab(lab_server, page, artifacts, jupyter_ui):
    from notebook_ext.fusion_stepper import FusionStepper

    jupyter_ui.write_notebook(
        lab_server.root,
        "steppers.ipynb",
        [
            "%load_ext notebook_ext",
            FUNCTION_SRC,
            "notebook_ext.trace_stepper(f, x)",
            "notebook_ext.fusion_stepper(f, x)",
        ],
    )
    jupyter_ui.open_notebook(page, lab_server, "steppers.ipynb")
    jupyter_ui.run_all_cells(page, 4)
    page.set_viewport_size({"width": 1400, "height": 1800})  # whole outputs in shots
    cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
    artifacts(page, "notebook")

    check_trace_stepper(page, cells.nth(2), artifacts)

    # the fusion stepper: what the kernel's Python side computes for f, the same program
    expected = FusionStepper(f_local, enp.arange(4.0), lazy=False)
    fusion = expected.find("fusion")[0]
    assert fusion.changed and fusion.is_fusion_pass
    fused = expected.state(fusion)["fused"]
    assert {"sine", "multiply"} <= {d["opcode"] for d in fused}  # what f's work is
    vis = expected.visible_steps

    cell = cells.nth(3)
    title = cell.locator(".widget-html .gjx-title").nth(1)  # [0] is "XLA passes of f"
    cell.locator(".gjx-title:has-text('XLA passes of')").wait_for(state="visible")
    page.wait_for_function(
        "(el) => el.querySelectorAll('.widget-html .gjx-title').length >= 2",
        arg=cell.element_handle(),
        timeout=60_000,
    )  # built after the cell ran
    next_button = cell.locator("button:has-text('next')")
    prev_button = cell.locator("button:has-text('prev')")
    for _ in range(vis.index(fusion)):  # move to the fusion pass
        next_button.click()
    wait_text(title, fusion.title)
    info = cell.locator(".widget-html:has(.gjx-title:text-is('%s'))" % fusion.title)
    assert info.locator(".gjx-chip:text-is('fusion')").count() == 1
    assert f"step {vis.index(fusion) + 1} of {len(vis)} changing passes" in info.inner_text()
    rows = info.locator("details:has(summary:has-text('fused instructions')) table tr")
    assert rows.count() == len(fused) + 1
    shown = [[c.strip() for c in r.split("\t")] for r in rows.all_inner_texts()[1:]]
    assert [r[:3] for r in shown] == [[d["name"], d["opcode"], d["shape"]] for d in fused]
    # the fusions pane of the page lists the fusions with their source lines
    fusion_rows = cell.locator("section[aria-label='fusions'] tr[data-hlo-opt]")
    assert fusion_rows.count() >= 1
    where = " ".join(fusion_rows.all_inner_texts())
    assert re.search(r":(6|7|8)\b", where), where
    artifacts(cell, "fusion-pass")

    # show every pass: the slider now counts all of them and stays on the fusion pass
    cell.locator(".widget-checkbox input[type=checkbox]").check()
    all_steps = expected.steps
    info = cell.locator(".widget-html:has(.gjx-title)").nth(1)
    wait_text(info, f"step {all_steps.index(fusion) + 1} of {len(all_steps)}", exact=False)
    assert title.inner_text() == fusion.title
    next_button.click()  # the pass after fusion, unchanged or not
    after = all_steps[all_steps.index(fusion) + 1]
    wait_text(title, after.title)
    if not after.changed:
        assert cell.locator(".gjx-chip:text-is('unchanged'):visible").count() == 1
    artifacts(cell, "pass-after-fusion")
    prev_button.click()
    wait_text(title, fusion.title)
    artifacts(page, "page-end")
    jupyter_ui.wait_kernel_idle(page)  # no widget update in flight when the page closes


# ---------------------------------------------------------------------------- Notebook 7


def test_trace_stepper_in_notebook7(notebook7_server, browser, artifacts, jupyter_ui):
    server = notebook7_server
    jupyter_ui.write_notebook(
        server.root,
        "nb7.ipynb",
        ["%load_ext notebook_ext", FUNCTION_SRC, "notebook_ext.trace_stepper(f, x)"],
    )
    with jupyter_ui.new_page(browser, known_errors=NOTEBOOK7_KNOWN_ERRORS) as page:
        jupyter_ui.open_notebook(page, server, "nb7.ipynb")
        jupyter_ui.run_all_cells(page, 3)
        check_trace_stepper(page, page.locator(".jp-CodeCell").nth(2), artifacts, "nb7-")
        artifacts(page, "nb7-page")
        jupyter_ui.wait_kernel_idle(page)


# ---------------------------------------------------------------------------- static fallback


def test_stepper_bundle_has_static_html_of_current_step():
    pytest.importorskip("ipywidgets")
    import notebook_ext

    _, eqns = oracle_jaxpr()
    w = notebook_ext.trace_stepper(f_local, enp.arange(4.0), progress=False)
    for i, eqn in enumerate(eqns):
        bundle = w._repr_mimebundle_()
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert view["model_id"] == w.model_id  # the live view is kept
        assert bundle["text/plain"] == f"Tracing stepper of f_local: tracing: step {i + 1} of 3"
        page = bundle["text/html"]
        assert "<script" not in page and "<style>" in page
        cur = re.search(
            r'aria-label="Equation just emitted".*?<div class="gj-st-cur">(.*?)</div>', page
        ).group(1)
        assert squash(cur) == squash(eqn)
        w.next()


def test_stepper_survives_nbconvert_export():
    pytest.importorskip("ipywidgets")
    nbconvert = pytest.importorskip("nbconvert")
    import html

    import nbformat as nbf

    import notebook_ext

    _, eqns = oracle_jaxpr()
    w = notebook_ext.trace_stepper(f_local, enp.arange(4.0), progress=False).next()
    nb = nbf.v4.new_notebook()
    cell = nbf.v4.new_code_cell("notebook_ext.trace_stepper(f, x)")
    cell.outputs = [nbf.v4.new_output("display_data", data=w._repr_mimebundle_())]
    nb.cells = [cell]
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert html.escape(eqns[1], quote=False) in body
    assert "Step 2 of 3" in body


def test_pass_stepper_names_notebook_cells():
    """The pass stepper's Source and fusions panes name a notebook cell "In [N]" (the
    temporary file IPython compiled it into stays in the tooltip), as the explorer's do."""
    pytest.importorskip("ipywidgets")
    import html

    from IPython.core.interactiveshell import InteractiveShell

    import engine
    from notebook_ext.fusion_stepper import FusionStepper

    ip = InteractiveShell.instance()
    ip.user_ns.update(enp=enp, engine=engine)
    src = "def cell_fn(x):\n    y = enp.sin(x) * x\n    return enp.sum(y)\n"
    assert ip.run_cell(src, store_history=True).success
    n = ip.execution_count - 1
    fn = ip.user_ns["cell_fn"]
    tmp = fn.__code__.co_filename
    s = FusionStepper(fn, enp.arange(4.0), lazy=False)
    s.go(s.find("fusion")[0])
    page = s.page_html
    source = page[page.index('aria-label="Source"') :]
    assert f">In [{n}]</div>" in source
    assert f'title="{html.escape(tmp)}"' in source
    fusions = page[page.index('aria-label="fusions"') : page.index('aria-label="Source"')]
    assert re.search(rf"In \[{n}\]:[23]\b", fusions), fusions
    assert tmp.rsplit("/", 1)[-1] not in fusions
