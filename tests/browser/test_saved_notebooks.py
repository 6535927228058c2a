"""Lessons survive saving (issue 13 item 2), in a real JupyterLab: a notebook's widgets
are run and stepped, the notebook is saved with its outputs, the server is stopped, and
a new server (with no kernel the notebook could use) reopens it. With no kernel, every
widget's static copy shows, at the step the user was on, and the steppers' recorded
steps can be stepped through (CSS only: nothing runs). While the live widget is on the
page, its static copy is hidden (computed style)."""

import os
import re

import pytest

try:
    import nbformat
except ImportError:  # the browser_requirements fixture skips (or fails) and says why
    nbformat = None

SETUP = """\
%load_ext notebook_ext
import notebook_ext
import engine as jax
import engine.numpy as jnp

def f(x):
    y = jnp.sin(x)
    z = y * x
    return jnp.sum(z)

x = jnp.arange(4.0)
jf = jax.jit(f)
jf(x);
"""
CELLS = [
    SETUP,
    "notebook_ext.trace_stepper(f, x)",
    "notebook_ext.grad_stepper(f, x)",
    "notebook_ext.fusion_stepper(f, x)",
    "notebook_ext.explore(f, x, measure=False)",
    "notebook_ext.launcher(f, x, repeats=2, warmup=0)",
    "notebook_ext.session()",
]
VISIBLE_STEPS_JS = """(el) => [...el.querySelectorAll('.gj-deck-step')]
  .filter(s => getComputedStyle(s).display !== 'none')
  .map(s => s.dataset.track + ':' + s.dataset.step)"""


def static_copy(cell):
    return cell.locator(".glassjax-static")


def shown_steps(locator):
    return locator.evaluate(VISIBLE_STEPS_JS)


def shots_dir():
    base = os.environ.get("GLASSJAX_ARTIFACTS_DIR") or "/tmp/glassjax-artifacts"
    path = os.path.join(base, "saved-notebooks")
    os.makedirs(path, exist_ok=True)
    return path


def check_trace_deck(cell):
    """The trace stepper's copy opens at the saved step 3 and steps with no kernel."""
    deck = static_copy(cell).locator(".gj-deck")
    assert shown_steps(deck) == ["tracing:2"]
    deck.locator(".gj-deck-step:visible label:has-text('Prev')").click()
    assert shown_steps(deck) == ["tracing:1"]
    deck.locator(".gj-deck-nav label:text-is('1')").click()
    assert shown_steps(deck) == ["tracing:0"]
    assert "sin" in deck.locator(".gj-deck-step:visible").inner_text()
    return deck


@pytest.fixture(scope="module")
def saved_lesson(browser_requirements, browser, tmp_path_factory, jupyter_ui):
    """The lesson run and stepped in JupyterLab, then saved: (home, root) of that server."""
    from playwright.sync_api import expect

    base = tmp_path_factory.mktemp("saved")
    home, root = base / "home", base / "root"
    root.mkdir(parents=True)
    shots = shots_dir()
    jupyter_ui.write_notebook(root, "lesson.ipynb", CELLS, display_name="Python 3")

    # -- live: run, step, save
    with jupyter_ui.server(home, root) as server:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        jupyter_ui.open_notebook(page, server, "lesson.ipynb")
        try:
            jupyter_ui.run_all_cells(page, len(CELLS))
        except Exception:
            page.screenshot(path=os.path.join(shots, "00-run-failed.png"), full_page=True)
            raise
        cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
        trace = cells.nth(1)
        trace.locator(".glassjax-stepper").wait_for(state="visible")
        live_output = trace.locator(".jp-OutputArea-child").first
        assert live_output.evaluate("e => getComputedStyle(e).display") != "none"
        # the static copy is in the page but hidden while the live widget shows
        static_copy(trace).wait_for(state="attached")
        assert static_copy(trace).evaluate("e => getComputedStyle(e).display") == "none"
        trace.locator(".glassjax-stepper button:has-text('Next')").click()
        trace.locator(".glassjax-stepper button:has-text('Next')").click()
        expect(trace.locator(".glassjax-stepper div.widget-label")).to_have_text(
            "tracing: step 3 of 3"
        )
        grad = cells.nth(2)
        grad.locator(
            ".glassjax-stepper .widget-toggle-buttons button:has-text('transpose')"
        ).click()
        grad.locator(".glassjax-stepper button:has-text('Next')").click()
        expect(grad.locator(".glassjax-stepper div.widget-label")).to_have_text(
            re.compile(r"transpose: step 2 of \d+")
        )
        passes = cells.nth(3)
        passes.locator(".gjx-title:has-text('XLA passes of')").wait_for(state="visible")
        page.wait_for_function(
            "(el) => el.querySelectorAll('.widget-html .gjx-title').length >= 2",
            arg=passes.element_handle(),
        )  # built after the cell ran
        passes.locator("button:has-text('next')").click()
        cells.nth(4).locator("section[aria-label='jaxpr']").first.wait_for(state="visible")
        page.screenshot(path=os.path.join(shots, "01-live.png"), full_page=True)
        # the copies follow the steps (update_display from the widget's callbacks)
        for cell, want in ((trace, "-0-2"), (passes, "-0-1")):
            page.wait_for_function(
                """([el, want]) => {
                  const r = el.querySelector('.glassjax-static input.gj-deck-radio:checked');
                  return r && r.id.endsWith(want); }""",
                arg=[cell.element_handle(), want],
            )
        page.keyboard.press("Escape")
        page.keyboard.press("Control+s")
        page.wait_for_selector(
            ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current:not(.jp-mod-dirty)"
        )
        ctx.close()

    saved = nbformat.read(str(root / "lesson.ipynb"), as_version=4)
    mime = "application/vnd.glassjax.stages+json"
    kinds = [
        o["data"][mime]["widget"]
        for c in saved.cells
        for o in c.outputs
        if mime in o.get("data", {})
    ]
    assert kinds == [
        "stepper",
        "stepper",
        "pass stepper",
        "explorer",
        "launcher",
        "session",
    ], kinds
    return home, root


NO_KERNEL = ["--KernelSpecManager.allowed_kernelspecs=glassjax-none"]


def test_saved_notebook_steps_without_a_kernel(saved_lesson, browser, jupyter_ui):
    home, root = saved_lesson
    shots = shots_dir()
    with jupyter_ui.server(home, root, extra=NO_KERNEL) as server:
        for theme, light in (("JupyterLab Light", True), ("JupyterLab Dark", False)):
            ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            jupyter_ui.open_without_kernel(page, server.page_url("lesson.ipynb"))
            if not light:
                jupyter_ui.set_theme(page, theme, light)
            cells = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
            trace, grad, passes, explorer, launch, session = (cells.nth(i) for i in range(1, 7))
            for cell in (trace, grad, passes, explorer, launch, session):
                static_copy(cell).wait_for(state="visible")
                # the widget output's "Loading widget..." gives way to the copy
                placeholder = cell.locator(".jp-OutputArea-child").first
                assert "Loading widget" in placeholder.inner_text()
                assert placeholder.evaluate("e => getComputedStyle(e).display") == "none"
                # drawn by the Glassjax renderer from the saved JSON, not sanitized away
                assert cell.locator(".glassjax-stages .glassjax-static").count() == 1
            deck = check_trace_deck(trace)
            page.screenshot(
                path=os.path.join(shots, f"02-no-kernel-{theme[11:].lower()}.png"), full_page=True
            )
            # the autodiff stepper: saved at transpose step 2, Next goes on in the stage
            gdeck = static_copy(grad).locator(".gj-deck")
            assert shown_steps(gdeck) == ["transpose:1"]
            gdeck.locator(".gj-deck-step:visible label:has-text('Next')").click()
            assert shown_steps(gdeck) == ["transpose:2"]
            # the pass stepper: saved at its second pass, with its graph; steps back
            pdeck = static_copy(passes).locator(".gj-deck")
            assert shown_steps(pdeck) == ["pass:1"]
            assert pdeck.locator(".gj-deck-step:visible svg").count() >= 1
            pdeck.locator(".gj-deck-step:visible label:has-text('Prev')").click()
            assert shown_steps(pdeck) == ["pass:0"]
            # the explorer: its panes, with the program's jaxpr
            ex = static_copy(explorer)
            assert "sin" in ex.locator("section[aria-label='jaxpr']").first.inner_text()
            assert ex.locator("section[aria-label='Source']").count() >= 1
            # the launcher's run and the session's jitted function, as they were
            assert static_copy(launch).locator("table.gjx-table tr").count() >= 2
            assert "f" in static_copy(session).locator("table code").all_inner_texts()
            for i, cell in enumerate((trace, grad, passes, explorer, launch, session)):
                cell.screenshot(
                    path=os.path.join(shots, f"03-{theme[11:].lower()}-cell{i + 1}.png")
                )
            if not light:  # the copy follows the theme: light text on a dark page
                color = deck.locator(".gj-deck-title").first.evaluate(
                    "e => getComputedStyle(e).color"
                )
                r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
                assert r + g + b > 3 * 128, color
            assert not errors, errors
            ctx.close()


def test_saved_notebook_in_notebook7_without_a_kernel(saved_lesson, browser, jupyter_ui):
    pytest.importorskip("notebook", reason="the Notebook 7 check needs `pip install notebook`")
    home, root = saved_lesson
    with jupyter_ui.server(home, root, app="notebook", extra=NO_KERNEL) as server:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        jupyter_ui.open_without_kernel(page, server.page_url("lesson.ipynb"))
        cells = page.locator(".jp-CodeCell")
        for i in range(1, len(CELLS)):
            static_copy(cells.nth(i)).wait_for(state="visible")
            assert cells.nth(i).locator(".glassjax-stages .glassjax-static").count() == 1
        check_trace_deck(cells.nth(1))
        page.screenshot(
            path=os.path.join(shots_dir(), "04-notebook7-no-kernel.png"), full_page=True
        )
        ctx.close()


def test_nbconvert_export_steps_without_a_kernel(saved_lesson, browser, tmp_path):
    """The saved notebook exported by nbconvert (its lab template) and opened as a file:
    the copies show (the widget outputs give way to them) and the decks step."""
    nbconvert = pytest.importorskip("nbconvert")
    _, root = saved_lesson
    body, _ = nbconvert.HTMLExporter().from_filename(str(root / "lesson.ipynb"))
    page_path = tmp_path / "lesson.html"
    page_path.write_text(body)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = ctx.new_page()
    page.goto(page_path.as_uri())
    copies = page.locator(".glassjax-static")
    assert copies.count() == len(CELLS) - 1
    for i in range(copies.count()):
        assert copies.nth(i).is_visible()
    deck = copies.nth(0).locator(".gj-deck")
    assert shown_steps(deck) == ["tracing:2"]
    deck.locator(".gj-deck-step:visible label:has-text('Prev')").click()
    assert shown_steps(deck) == ["tracing:1"]
    page.screenshot(path=os.path.join(shots_dir(), "05-nbconvert-html.png"), full_page=True)
    ctx.close()


def test_untrusted_copy_is_sanitized_and_shows_every_step(saved_lesson, browser, jupyter_ui):
    """The same notebook edited outside Jupyter (its signature no longer matches): the
    copies go through JupyterLab's sanitizer, which drops <style>; every recorded step
    then shows, one after another, and nothing from the copy runs."""
    home, root = saved_lesson
    nb = nbformat.read(str(root / "lesson.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("edited elsewhere"))
    nbformat.write(nb, str(root / "untrusted.ipynb"))
    with jupyter_ui.server(home, root, extra=NO_KERNEL) as server:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        jupyter_ui.open_without_kernel(page, server.page_url("untrusted.ipynb"))
        trace = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").nth(1)
        copy = static_copy(trace)
        copy.wait_for(state="visible")
        assert copy.locator("style").count() == 0
        steps = copy.locator(".gj-deck-step")  # (the sanitizer drops data-* attributes)
        assert steps.count() == 3
        assert all(steps.nth(i).is_visible() for i in range(3))
        titles = copy.locator(".gj-deck-step .gj-deck-title").all_inner_texts()
        assert titles == [f"tracing: step {k} of 3" for k in (1, 2, 3)]
        page.screenshot(path=os.path.join(shots_dir(), "06-untrusted.png"))
        ctx.close()
