"""Lessons survive saving (issue 13 item 2): every widget, displayed in a kernel, also
leaves a static copy (the Glassjax MIME bundle + text/html) that a saved notebook keeps,
updated as the user steps, and whose recorded steps can be stepped through with no
kernel. Run through nbclient (what a saved notebook holds); the browser side is in
tests/browser/test_saved_notebooks.py."""

import json
import os
import re
import sys
from pathlib import Path

import pytest

from visualize.static_steps import (
    MAX_DECK_BYTES,
    MAX_DECK_STEPS,
    deck_limit,
    deck_window,
    step_deck,
)

nbformat = pytest.importorskip("nbformat", reason="install the [test] extra")
nbclient = pytest.importorskip("nbclient", reason="install the [test] extra")
pytest.importorskip("ipykernel", reason="install the [test] extra")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MIME = "application/vnd.glassjax.stages+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

SETUP = """\
import engine as jax
import engine.numpy as jnp
from notebook_ext import explore, fusion_stepper, launcher, session
from notebook_ext.steppers import grad_stepper, trace_stepper

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
    "s = trace_stepper(f, x)\ns",
    "s.go(2);",
    "g = grad_stepper(f, x)\ng",
    "g.select('transpose'); g.go(1);",
    "p = fusion_stepper(f, x)\np",
    "p.go(1);",
    "e = explore(f, x, measure=False)\ne",
    "l = launcher(f, x, repeats=2, warmup=0)\nl",
    "l.run(repeats=3);",
    "sess = session()\nsess",
]


def checked_step(html):
    """(track, step) of the deck's checked radio button."""
    m = re.search(r'id="gjd-[0-9a-f]+-(\d+)-(\d+)" checked', html)
    assert m, "no step is marked as the saved one"
    return int(m.group(1)), int(m.group(2))


def deck_step_body(html, track_name, step):
    m = re.search(
        rf'<div class="gj-deck-step" data-track="{track_name}" data-step="{step}">(.*?)'
        r'(?=<div class="gj-deck-step" |</div></div>$)',
        html,
        re.S,
    )
    assert m, (track_name, step)
    return m.group(1)


# -- the deck alone


def test_deck_navigation_markup():
    html = step_deck(
        [("a", ["<p>a0</p>", "<p>a1</p>"]), ("b<x>", ["<p>b0</p>"])], (0, 1), uid="gjd-0123456789"
    )
    assert checked_step(html) == (0, 1)
    radios = re.findall(
        r'<input type="radio" hidden class="gj-deck-radio" name="gjd-0123456789" id="([^"]+)"',
        html,
    )
    assert radios == ["gjd-0123456789-0-0", "gjd-0123456789-0-1", "gjd-0123456789-1-0"]
    # each step has Prev/Next labels pointing at its neighbours (none before the first)
    body = deck_step_body(html, "a", 1)
    assert 'for="gjd-0123456789-0-0">\u25c0 Prev' in body
    assert 'for="gjd-0123456789-1-0">Next \u25b6' in body
    assert "b&lt;x&gt;" in html and "b<x>" not in html  # names are escaped
    # one CSS rule shows the k-th step when the k-th radio is checked
    assert (
        ".gj-deck-radio:nth-of-type(3):checked ~ .gj-deck-steps > .gj-deck-step:nth-of-type(3)"
        in html
    )


def test_deck_without_its_stylesheet_shows_every_step_in_order():
    """What a viewer that strips <style> and form elements (GitHub, JupyterLab's
    sanitizer for untrusted notebooks) shows: every step, each under its heading."""
    html = step_deck([("a", ["<p>a0</p>", "<p>a1</p>"]), ("b", ["<p>b0</p>"])], (0, 1))
    bare = re.sub(r"<style>.*?</style>|<input[^>]*>", "", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", bare)
    order = [
        text.index(s)
        for s in ("a: step 1 of 2", "a0", "a: step 2 of 2", "a1", "b: step 1 of 1", "b0")
    ]
    assert order == sorted(order)
    assert "display" not in bare  # nothing hides a step once the stylesheet is gone


def test_deck_window_keeps_steps_around_the_current_one():
    assert deck_window([3, 4], (1, 2), 10) == [range(3), range(4)]
    assert deck_window([10, 10], (1, 5), 6) == [range(0), range(2, 8)]
    assert deck_window([10, 10], (0, 0), 4) == [range(0, 4), range(0)]
    assert deck_window([5, 5], (0, 4), 4) == [range(2, 5), range(0, 1)]
    # how many: by the size of a step, within [10, MAX_DECK_STEPS]
    assert deck_limit(1) == MAX_DECK_STEPS
    assert deck_limit(MAX_DECK_BYTES) == 10
    assert deck_limit(MAX_DECK_BYTES // 40) == 40


# -- in a kernel


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    base = tmp_path_factory.mktemp("kernels")
    name = "glassjax-static-test"
    spec = base / name
    spec.mkdir()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    env = {"PYTHONPATH": path, "IPYTHONDIR": str(base / "ipython")}
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "language": "python", "display_name": name, "env": env})
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    km = KernelManager(
        kernel_name=name, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(base)])
    )
    nbclient.NotebookClient(nb, km=km, timeout=300, allow_errors=False).execute()
    # what a saved notebook holds: written and read back
    saved = base / "saved.ipynb"
    nbformat.write(nb, str(saved))
    return nbformat.read(str(saved), as_version=4)


def static_output(nb, cell):
    outs = nb.cells[cell].outputs
    widget = [o for o in outs if WIDGET_MIME in o.get("data", {})]
    static = [o for o in outs if MIME in o.get("data", {})]
    assert len(widget) == 1 and len(static) == 1, [list(o.get("data", {})) for o in outs]
    data = static[0]["data"]
    assert "text/html" not in widget[0]["data"]  # the copy is the only HTML: no duplicate
    assert data["text/html"] == data[MIME]["html"]
    assert 'class="glassjax-static"' in data["text/html"]
    return data


def test_trace_stepper_saved_at_the_users_step(executed):
    from helpers import real_jax

    jax, jnp = real_jax()
    text = str(jax.make_jaxpr(lambda x: jnp.sum(jnp.sin(x) * x))(jnp.arange(4.0)))
    eqns = [ln.strip() for ln in text.splitlines() if re.match(r"\s+\w+:\S+ = ", ln)]
    data = static_output(executed, 1)
    html = data["text/html"]
    assert checked_step(html) == (0, 2)  # s.go(2) after displaying it
    assert "step 3 of 3" in data["text/plain"]
    # every recorded step is in the copy: step k shows JAX's first k+1 equations only
    import html as H

    for k in range(3):
        body = H.unescape(re.sub(r"<[^>]+>", "", deck_step_body(html, "tracing", k)))
        body = " ".join(body.split())
        for j, eqn in enumerate(eqns):
            assert (" ".join(eqn.split()) in body) == (j <= k), (k, eqn)


def test_grad_stepper_saved_at_stage_and_step(executed):
    data = static_output(executed, 3)
    track, step = checked_step(data["text/html"])
    assert step == 1 and "transpose: step 2 of" in data["text/plain"]
    names = re.findall(r'<span class="gj-deck-track">([^<]+)</span>', data["text/html"])
    assert names[track] == "transpose"
    assert names[:3] == ["jvp", "partial_eval", "transpose"]


def test_pass_stepper_saved_copy(executed):
    data = static_output(executed, 5)
    html = data["text/html"]
    assert checked_step(html) == (0, 1)
    body = deck_step_body(html, "pass", 1)
    assert "module after this pass" in body  # the saved pass keeps its graph pane
    assert "<svg" in body or "gjx-graph-data" in body
    assert html.count('class="gj-deck-step"') >= 2
    assert "XLA pass stepper of f" in data["text/plain"]


def test_explorer_saved_copy(executed):
    data = static_output(executed, 7)
    html = data["text/html"]
    for pane in ("Source", "jaxpr", "StableHLO"):
        assert f'aria-label="{pane}' in html, pane
    assert "explorer of f" in data["text/plain"]
    assert "sin" in html and "not built yet" not in html  # built after the cell, refreshed


def test_launcher_saved_copy_counts_runs(executed):
    data = static_output(executed, 8)
    assert data["text/plain"].startswith("launcher of f: 2 run(s)")
    assert data["text/html"].count("<tr><td>") >= 2


def test_session_saved_copy_lists_jitted_functions(executed):
    data = static_output(executed, 10)
    assert "<code>f</code>" in data["text/html"]


def test_nbconvert_html_keeps_the_deck(executed):
    nbconvert = pytest.importorskip("nbconvert")
    body, _ = nbconvert.HTMLExporter().from_notebook_node(executed)
    assert body.count('class="gj-deck"') >= 3
    assert "glassjax-static" in body


def test_terminal_shell_shows_the_widget_once():
    """Outside a kernel (a terminal IPython) there is nothing to save: no static copy."""
    import subprocess
    import textwrap

    code = textwrap.dedent(
        """
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.utils.capture import capture_output
        sh = InteractiveShell.instance()
        sh.run_cell("import engine.numpy as jnp\\nfrom notebook_ext.steppers import trace_stepper")
        with capture_output() as c:
            sh.run_cell("trace_stepper(lambda x: jnp.sin(x) * 2, jnp.ones(3))")
        print([sorted(o.data) for o in c.outputs])
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == str([[WIDGET_MIME, "text/plain"]])
