"""Laying DOT out: the bundled Graphviz WebAssembly build (browser and node) or a system
``dot``, and the scripts that lay out, zoom and pan graphs in the page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources

# ---------------------------------------------------------------------------- layout engines

_STATIC = "static/graphviz"


def _static_text(name):
    return resources.files("visualize").joinpath(f"{_STATIC}/{name}").read_text("utf-8")


def graphviz_module_path():
    """Path of the bundled ``@hpcc-js/wasm-graphviz`` ES module (Graphviz in WASM)."""
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "static",
        "graphviz",
        "wasm-graphviz.mjs",
    )


_EXPORT = re.compile(r"export\s*\{([^}]*)\}\s*;?\s*(?://# sourceMappingURL=\S*\s*)?$")
_SOURCE_MAP = re.compile(r"//# sourceMappingURL=\S*\s*$")


def graphviz_js(classic=False):
    """The bundled Graphviz-in-WASM JavaScript (one file, the WASM inlined; no network).

    ``classic=False``: the ES module as shipped (exports ``Graphviz``), for ``import``
    from a Blob URL. ``classic=True``: the same code as a classic script defining
    ``GlassjaxGraphviz = {Graphviz, ...}``, for a Web Worker made from a Blob URL
    (module workers do not load from ``file://`` pages) or a ``<script>`` tag."""
    text = _static_text("wasm-graphviz.mjs")
    if not classic:
        return _SOURCE_MAP.sub("", text)
    m = _EXPORT.search(text)
    if m is None:
        raise RuntimeError("the bundled Graphviz module has no export list at its end")
    pairs = []
    for spec in m.group(1).split(","):
        local, _, exported = spec.strip().partition(" as ")
        pairs.append(f"{(exported or local).strip()}: {local.strip()}")
    return (
        'var GlassjaxGraphviz = (function () {\n"use strict";\n'
        + text[: m.start()]
        + "\nreturn {"
        + ", ".join(pairs)
        + "};\n})();\n"
    )


def graph_layout_js():
    """The browser glue (``graph_layout.js``): lays DOT out into SVG in a Web Worker
    with a time budget; see the file's header for its API."""
    return _static_text("graph_layout.js")


def graph_zoom_js():
    """The browser glue for zoom, pan and fit of a drawn graph (``graph_zoom.js``):
    ``GlassjaxGraphZoom.attach(box)``; see the file's header."""
    return resources.files("visualize").joinpath("static/graph_zoom.js").read_text("utf-8")


def zoomable_svg_html(svg):
    """A laid-out SVG with zoom, pan and fit (``graph_zoom.js``), for a notebook
    output: the controls show once the script runs; without scripts, the bare SVG."""
    import json
    import uuid

    uid = "gjg-" + uuid.uuid4().hex[:10]
    buttons = "".join(
        f'<button type="button" data-gjx-zoom="{act}" title="{tip}">{text}</button> '
        for act, text, tip in (
            ("out", "\u2212", "zoom out (-)"),
            ("in", "+", "zoom in (+)"),
            ("fit", "fit", "fit (0); drag to pan, Ctrl+wheel to zoom"),
            ("one", "1:1", "actual size (1)"),
        )
    )
    uid_js = json.dumps(uid)
    # Graphviz draws in black: follow the notebook's theme (JupyterLab's variables)
    theme = (
        f"<style>#{uid} svg text {{ fill: var(--jp-content-font-color1, #1f2328); }}"
        f'#{uid} svg [stroke="black"] {{ stroke: var(--jp-content-font-color2, #57606a); }}'
        f'#{uid} svg [fill="black"] {{ fill: var(--jp-content-font-color2, #57606a); }}</style>'
    )
    return (
        f'{theme}<div class="gj-graph-view" id="{uid}">'
        '<div class="gjx-zoom-tools" hidden style="text-align:right;font-size:11px">'
        f'<span class="gjx-zoom-level"></span> {buttons}</div>'
        f'<div class="gjx-graph-box" tabindex="0">{svg}</div></div>'
        f"<script>{graph_zoom_js()}\nGlassjaxGraphZoom.attach(document.getElementById("
        f"{uid_js}).querySelector('.gjx-graph-box'));</script>"
    )


def graphviz_notice():
    """The licence notice to ship beside the bundled layout engine (Apache-2.0 for the
    wrapper, EPL-1.0 for Graphviz, MIT for Expat and the Emscripten runtime)."""
    return _static_text("NOTICE.txt")


def graphviz_version():
    """{"package": npm package, "version": its version, "graphviz": Graphviz's}."""
    import json

    return json.loads(_static_text("VERSION.json"))


def render_svg(source, timeout=60, engine=None):
    """Lay DOT out into SVG on this machine: with the ``dot`` binary where it is on the
    PATH, else with ``node`` and the bundled WASM module (the same pictures as the
    browser's). ``engine``: ``"dot"`` or ``"node"`` to insist on one. None when
    neither is available; raises RuntimeError when layout fails or takes longer than
    ``timeout`` seconds."""
    engines = [engine] if engine else ["dot", "node"]
    for name in engines:
        exe = shutil.which(name)
        if exe is None:
            continue
        if name == "dot":
            cmd = [exe, "-Tsvg"]
        else:
            cmd = [exe, "--input-type=module", "-e", _NODE_LAYOUT, graphviz_module_path()]
        try:
            done = subprocess.run(
                cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"graph layout with {name} took longer than {timeout} s; "
                "collapse more of the graph or show a neighbourhood"
            ) from None
        if done.returncode != 0:
            raise RuntimeError(
                f"graph layout with {name} failed: "
                f"{done.stderr.decode('utf-8', 'replace').strip()[:500]}"
            )
        return done.stdout.decode("utf-8")
    return None


_NODE_LAYOUT = """
import { pathToFileURL } from "node:url";
const { Graphviz } = await import(pathToFileURL(process.argv[1]).href);
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
try {
  const gv = await Graphviz.load();
  process.stdout.write(gv.dot(Buffer.concat(chunks).toString("utf8")));
} catch (e) {
  process.stderr.write(String((e && e.message) || e));
  process.exitCode = 1;
}
"""
