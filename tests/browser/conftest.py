"""Browser tests: a real JupyterLab (started here, on a free localhost port, with a temp
root dir, token and config) driven by Debian's headless Chromium through Playwright.

No browser is downloaded: Playwright launches /usr/bin/chromium (or $GLASSJAX_CHROMIUM).
Without chromium, Playwright, nbformat or JupyterLab every test here SKIPS and says why;
with GLASSJAX_REQUIRE_BROWSER=1 (set by .ci/run where chromium is installed) it FAILS.
Screenshots go to $GLASSJAX_ARTIFACTS_DIR (default: <tmp>/glassjax-artifacts).
"""

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
    def __init__(self, url, token, root, log_path):
        self.url, self.token, self.root, self.log_path = url, token, root, log_path

    def page_url(self, notebook):
        # &reset: never restore an earlier test's workspace (its tabs would hide ours)
        return f"{self.url}/lab/tree/{notebook}?token={self.token}&reset"

    def log(self):
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def lab_server(browser_requirements, tmp_path_factory):
    """One `jupyter lab` per test session (per xdist worker), with its own config, data,
    settings, workspaces and IPython dirs, so the user's set-up never leaks in."""
    home = tmp_path_factory.mktemp("jupyter")
    root = home / "root"
    root.mkdir()
    settings = home / "lab-settings"
    _write_json(
        settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("JUPYTER_PATH", None)
    port, token = _free_port(), uuid.uuid4().hex
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--allow-root",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log()}")
            try:
                status_url = f"{server.url}/api/status?token={token}"
                with urllib.request.urlopen(status_url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"jupyter lab did not answer in {SERVER_START_TIMEOUT_S} s:\n{server.log()}"
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
