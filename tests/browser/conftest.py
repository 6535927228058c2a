"""Browser tests: a real JupyterLab (started here, on a free localhost port, with a temp
root dir, token and config) driven by Debian's headless Chromium through Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium (or $GLASSJAX_CHROMIUM).
Without chromium, Playwright, nbformat or JupyterLab every test here SKIPS and says why;
with GLASSJAX_REQUIRE_BROWSER=1 (set by .ci/run where chromium is installed) it FAILS.
Screenshots go to $GLASSJAX_ARTIFACTS_DIR (default: <tmp>/glassjax-artifacts).

Fixtures: ``browser_requirements``, ``lab_server`` (one JupyterLab per session),
``browser`` (one Chromium per session), ``page`` (a fresh context per test; uncaught
page errors fail the test), ``artifacts`` (screenshots), ``notebook7_server`` (one
Notebook 7 per module) and ``jupyter_ui``: the helpers every notebook test shares, e.g.

    def test_it(lab_server, page, jupyter_ui):
        jupyter_ui.write_notebook(lab_server.root, "it.ipynb", ["%load_ext notebook_ext", ...])
        jupyter_ui.open_notebook(page, lab_server, "it.ipynb")
        jupyter_ui.run_all_cells(page, 2)        # fails on any error output
        jupyter_ui.run_cell(page, 1, 3)          # cell 1 again: its prompt becomes [3]
        with jupyter_ui.server(home, root, app="notebook") as nb7: ...   # another server
"""

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT_S = 60


def _chromium_path():
    for path in (
        os.environ.get("GLASSJAX_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _missing_requirements():
    missing = [
        f"the Python package {mod}"
        for mod in ("jupyterlab", "playwright", "nbformat")
        if importlib.util.find_spec(mod) is None
    ]
    if _chromium_path() is None:
        missing.append("chromium (apt-get install chromium, or set GLASSJAX_CHROMIUM)")
    return missing


@pytest.fixture(scope="session")
def browser_requirements():
    missing = _missing_requirements()
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if os.environ.get("GLASSJAX_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (GLASSJAX_REQUIRE_BROWSER=1)")
        pytest.skip(message)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


class LabServer:
    """A running server: ``url``, ``token``, ``root`` (its notebooks' folder),
    ``log_path``; ``app`` is "jupyterlab" or "notebook" (Notebook 7)."""

    def __init__(self, url, token, root, log_path, app="jupyterlab"):
        self.url, self.token, self.root, self.log_path = url, token, root, log_path
        self.app = app

    def page_url(self, notebook):
        if self.app == "notebook":
            return f"{self.url}/notebooks/{notebook}?token={self.token}"
        # &reset: never restore an earlier test's workspace (its tabs would hide ours)
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"

    def log(self):
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def jupyter_server(home, root, *, app="jupyterlab", extra=()):
    """A `jupyter lab` (``app="notebook"``: Notebook 7) on ``root`` whose config, data
    (the notebook-signing secret and database), settings, workspaces and IPython dirs
    live under ``home``, so the user's set-up never leaks in and a second server on the
    same ``home`` trusts what the first one saved. Yields a ``LabServer``; stops it
    (and its kernels) on exit. ``extra``: more command-line options."""
    _write_json(
        home / "lab-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("JUPYTER_PATH", None)
    port, token = _free_port(), uuid.uuid4().hex
    cmd = [sys.executable, "-m", app, "--no-browser", f"--port={port}"]
    cmd += ["--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--allow-root"]
    cmd += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if app == "jupyterlab":
        cmd += [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
        ]
    else:
        cmd += ["--JupyterNotebookApp.expose_app_in_browser=True"]
    cmd += list(extra)
    log_path = home / f"server-{app}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log_path, app)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter {app} exited with {proc.returncode}:\n{server.log()}")
            try:
                status_url = f"{server.url}/api/status?token={token}"
                with urllib.request.urlopen(status_url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"jupyter {app} did not answer in {SERVER_START_TIMEOUT_S} s:\n{server.log()}"
                )
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()  # SIGTERM also shuts its kernels down
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def lab_server(browser_requirements, tmp_path_factory):
    """One `jupyter lab` per test session (per xdist worker), with its own config, data,
    settings, workspaces and IPython dirs, so the user's set-up never leaks in."""
    home = tmp_path_factory.mktemp("jupyter")
    root = home / "root"
    root.mkdir()
    with jupyter_server(home, root) as server:
        yield server


@pytest.fixture(scope="module")
def notebook7_server(browser_requirements, tmp_path_factory):
    """`jupyter notebook` (Notebook 7), one per test module, started like ``lab_server``.
    Skips without the Python package notebook (fails with GLASSJAX_REQUIRE_NOTEBOOK7=1)."""
    if importlib.util.find_spec("notebook") is None:
        message = "the Notebook 7 tests need the Python package notebook (pip install notebook)"
        if os.environ.get("GLASSJAX_REQUIRE_NOTEBOOK7") == "1":
            pytest.fail(message)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("notebook7")
    root = home / "root"
    root.mkdir()
    with jupyter_server(home, root, app="notebook") as server:
        yield server


@pytest.fixture(scope="session")
def browser(browser_requirements):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=_chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser, request):
    """A fresh browser context per test. Uncaught page errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors, console = [], []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    try:
        yield pg
    finally:
        context.close()
        if console:
            request.node.add_report_section("call", "browser console errors", "\n".join(console))
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def artifacts(request):
    """A folder for this test's screenshots; the paths are printed and reported."""
    base = Path(
        os.environ.get("GLASSJAX_ARTIFACTS_DIR")
        or Path(tempfile.gettempdir()) / "glassjax-artifacts"
    )
    folder = base / request.node.name.replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    saved = []

    def shot(target, name):
        path = folder / f"{len(saved) + 1:02d}-{name}.png"
        target.screenshot(path=str(path))
        saved.append(path)
        print(f"screenshot: {path}")
        return path

    yield shot
    if saved:
        request.node.add_report_section("call", "screenshots", "\n".join(map(str, saved)))


# ---------------------------------------------------------------- notebook helpers

# the current notebook's kernel is connected and idle
KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""
# the current notebook's node (JupyterLab may hold several notebooks, some hidden)
_NOTEBOOK_NODE_JS = """
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const nb = (w && w.content && w.content.node) || document;
  if (nb.querySelector('.jp-OutputArea-output[data-mime-type*="error"]')) return true;
  const p = nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt');"""
# the first n code cells have run (a number in their prompt), or an error is shown
CELLS_RAN_JS = (
    "(n) => {"
    + _NOTEBOOK_NODE_JS
    + """
  return p.length >= n && [...p].slice(0, n).every(e => /\\[\\d+\\]/.test(e.textContent));
}"""
)
# cell i's prompt reads [n]
CELL_RAN_JS = (
    "([i, n]) => {"
    + _NOTEBOOK_NODE_JS
    + """
  return !!p[i] && p[i].textContent.includes('[' + n + ']');
}"""
)
# the page's current notebook panel (a hidden one's cells match plain selectors too)
CURRENT_NOTEBOOK = ".jp-NotebookPanel:visible .jp-Notebook"


class JupyterUI:
    """What the notebook tests do in JupyterLab and Notebook 7 (the ``jupyter_ui``
    fixture). Page helpers take a Playwright page showing a notebook."""

    KERNEL_IDLE_JS = KERNEL_IDLE_JS
    server = staticmethod(jupyter_server)

    @staticmethod
    def write_notebook(root, name, cells, kernel="python3", display_name=None):
        """Writes ``root/name``: ``cells`` are sources (code cells) or nbformat cells."""
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) if isinstance(c, str) else c for c in cells]
        nb.metadata["kernelspec"] = {
            "name": kernel,
            "display_name": display_name or kernel,
            "language": "python",
        }
        path = Path(root) / name
        nbformat.write(nb, str(path))
        return path

    @staticmethod
    def open_notebook(page, server, name, extension=True):
        """Opens ``name`` on ``server`` and waits for its cells; ``extension``: also
        checks that the Glassjax lab extension is active."""
        page.goto(server.page_url(name))
        page.wait_for_selector(f"{CURRENT_NOTEBOOK} .jp-Cell", timeout=60_000)
        if extension:
            assert page.evaluate("window.jupyterapp.isPluginActivated('glassjax:inspector')"), (
                "the glassjax lab extension is not active: is the project pip-installed?"
            )

    @staticmethod
    def wait_kernel_idle(page, timeout=60_000):
        page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout)

    @staticmethod
    def assert_no_error_output(page):
        nb = page.locator(CURRENT_NOTEBOOK)
        errors = nb.locator('.jp-OutputArea-output[data-mime-type*="error"]').all_inner_texts()
        assert not errors, errors
        outputs = nb.locator(".jp-OutputArea-output").all_inner_texts()
        assert not [t for t in outputs if "Traceback" in t], outputs

    @classmethod
    def run_all_cells(cls, page, n, timeout=120_000):
        """Runs every cell and waits until the first ``n`` code cells have run; fails
        (with its text) on any error output."""
        page.wait_for_selector(f"{CURRENT_NOTEBOOK} .jp-Cell", timeout=60_000)
        cls.wait_kernel_idle(page)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(CELLS_RAN_JS, arg=n, timeout=timeout)
        cls.assert_no_error_output(page)

    @classmethod
    def run_cell(cls, page, index, prompt_count, timeout=90_000):
        """Runs code cell ``index`` (its notebook must be current) and waits until its
        prompt reads ``[prompt_count]``; fails on any error output."""
        cls.wait_kernel_idle(page)
        page.evaluate(
            """(i) => { const nb = window.jupyterapp.shell.currentWidget.content;
                         nb.activeCellIndex = i;
                         return window.jupyterapp.commands.execute('notebook:run-cell'); }""",
            index,
        )
        page.wait_for_function(CELL_RAN_JS, arg=[index, prompt_count], timeout=timeout)
        cls.assert_no_error_output(page)

    @staticmethod
    def open_without_kernel(page, url):
        """Opens a notebook whose kernel the server does not allow: chooses no kernel."""
        page.goto(url)
        dialog = page.locator(".jp-Dialog")
        with contextlib.suppress(Exception):
            dialog.wait_for(state="visible", timeout=15_000)
        if dialog.count():
            no_kernel = dialog.locator("button:has-text('No Kernel')")
            if no_kernel.count():
                no_kernel.first.click()
            else:
                dialog.locator("button.jp-mod-reject").first.click()
            dialog.wait_for(state="detached")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        assert page.evaluate(
            "() => !(window.jupyterapp.shell.currentWidget.sessionContext.session || {}).kernel"
        )

    @staticmethod
    def set_theme(page, theme, light):
        """Switches JupyterLab's theme ("JupyterLab Dark", light=False) and waits for it."""
        page.evaluate(
            f"window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})"
        )
        page.wait_for_function(
            f"document.body.dataset.jpThemeLight === '{str(light).lower()}'", timeout=30_000
        )
        page.wait_for_selector("#jupyterlab-splash", state="detached")

    @staticmethod
    @contextlib.contextmanager
    def new_page(browser, viewport=(1400, 900), timeout_ms=30_000, known_errors=()):
        """A page in a context of its own (for a server other than ``lab_server``);
        uncaught page errors, except those containing a ``known_errors`` phrase, fail."""
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        pg = context.new_page()
        pg.set_default_timeout(timeout_ms)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        try:
            yield pg
        finally:
            context.close()
        errors = [e for e in errors if not any(k in e for k in known_errors)]
        assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def jupyter_ui():
    """The notebook helpers (``JupyterUI``)."""
    return JupyterUI
