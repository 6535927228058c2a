"""The explorer: every stage of one program side by side (or in tabs), linked.

    e = explore(step, params, x, y)     # or, in a cell:  %explore step(params, x, y)
    e.panes                             # ['Source', 'jaxpr', 'StableHLO', 'HLO',
                                        #  'optimized HLO', 'fusion graph', 'executable']
    e.link_table                        # visualize.link_table of the program
    e.layout = "tabs"                   # or "side" (side by side), "auto"

Source | jaxpr | StableHLO | HLO | optimized HLO come from ``visualize.stages_html``;
this module adds two panes inside the same linked root: the fusion graph (the
optimized module's dataflow, fusions as clusters, laid out by Graphviz) and the
executable (XLA's cost estimate, memory, measured time and one row per kernel). Graph
nodes and kernel rows carry ``data-hlo-opt`` like the optimized HLO pane's
instructions, so ``visualize``'s linker highlights them with everything else.

The HTML goes into an ``ipywidgets.Output`` (whose outputs JupyterLab renders trusted, so
the linker script runs); ``ipywidgets.HTML`` would not run it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import uuid

import ipywidgets as widgets

import engine
from engine.jit import JitFunction

from .rich_display import BuildingWidget, escape, set_html, style_tag
from .static_form import StaticMirror

PANES = ("Source", "jaxpr", "StableHLO", "HLO", "optimized HLO", "fusion graph", "executable")
OPTIONAL_PANES = ("StableHLO", "HLO", "optimized HLO", "fusion graph", "executable")
# Above this many equations the StableHLO and HLO panes start hidden (each is megabytes
# of HTML at 5,000 equations); the checkboxes bring them back.
LARGE_PROGRAM_EQNS = 2000
LAYOUTS = ("auto", "side", "tabs")


def tool_jit(f):
    """``f`` itself if jitted, else a ``jit`` of it marked as made by a Glassjax tool
    (the session inspector leaves those out)."""
    if isinstance(f, JitFunction):
        return f
    j = engine.jit(f)
    j._glassjax_tool = True
    return j


def json_script(data, cls):
    """JSON inside a ``<script type=application/json>``; ``< > &`` escaped so no text
    can end the element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" class="{cls}">{text}</script>'


def js_string(s):
    return json.dumps(s).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------------------- graph panes

GRAPH_CSS = """
.gjx-graph-box { white-space: normal; padding: 4px; }
.gjx-graph-box svg { display: block; max-width: none; height: auto; }
.gjx-graph-box svg text { fill: var(--gj-fg); }
.gjx-graph-box svg [stroke="black"] { stroke: var(--gj-muted); }
.gjx-graph-box svg [fill="black"] { fill: var(--gj-muted); }
.gjx-graph-box svg g[data-hlo-opt], .gjx-graph-box svg g[data-eqn] { cursor: pointer; }
/* a node's shapes sit in its tooltip link: g.node > g > a > ellipse (Graphviz), so the
   rules reach them as descendants; nodes and clusters are siblings, never nested */
.gjx-graph-box svg g.gj-hv path, .gjx-graph-box svg g.gj-hv polygon,
.gjx-graph-box svg g.gj-hv ellipse {
  stroke: var(--gj-hl-ring); stroke-dasharray: 3 2; }
.gjx-graph-box svg g.gj-hl path, .gjx-graph-box svg g.gj-hl polygon,
.gjx-graph-box svg g.gj-hl ellipse {
  stroke: var(--gj-hl-ring); stroke-width: 2.5; fill: var(--gj-hl-bg); }
.gjx-graph-box svg g.gj-sel path, .gjx-graph-box svg g.gj-sel polygon,
.gjx-graph-box svg g.gj-sel ellipse {
  stroke: var(--gj-sel-ring); stroke-width: 3; fill: var(--gj-sel-bg); }
.gjx-graph-box svg g.gjx-changed path, .gjx-graph-box svg g.gjx-changed polygon {
  stroke: #d29922; stroke-width: 2.2; }
.gjx-graph-msg { color: var(--gj-muted); font-family: var(--gj-ui-font); padding: 6px; }
.gjx-zoom-tools[hidden] { display: none !important; }
.gjx-zoom-level { color: var(--gj-muted); font-size: 11px; min-width: 3.2em; text-align: right; }
.gjx-exe-table { border-collapse: collapse; font-family: var(--gj-ui-font); margin: 2px 0 8px; }
.gjx-exe-table.gjx-exe-table td, .gjx-exe-table.gjx-exe-table th { padding: 1px 8px;
  text-align: left; border: none; border-bottom: 1px solid var(--gj-border); }
.gjx-exe-table.gjx-exe-table th { color: var(--gj-muted); font-weight: 600; }
.gjx-exe-table.gjx-exe-table td.gjx-num { text-align: right; font-variant-numeric: tabular-nums; }
.gjx-exe-table.gjx-exe-table tr { background: transparent; }
.gjx-exe-table tr[data-hlo-opt] { cursor: pointer; }
.gjx-exe-table tr.gj-hl td { background: var(--gj-hl-bg); }
.gjx-exe-table tr.gj-hv td { background: var(--gj-hv-bg); }
.gjx-exe-table tr.gj-sel td { background: var(--gj-sel-bg); }
.gjx-h { font-family: var(--gj-ui-font); font-weight: 600; margin: 6px 0 2px; }
.gjx-note2 { font-family: var(--gj-ui-font); color: var(--gj-muted); white-space: normal; }
.gjx-layout-tabs .gj-js .gj-tabs { display: flex !important; }
.gjx-layout-tabs .gj-js .gj-panes > .gj-pane:not(.gj-active) { display: none !important; }
.gjx-layout-tabs .gj-js .gj-panes > .gj-pane { flex-basis: 100% !important; min-width: 0; }
.gjx-layout-side .gj-tabs { display: none !important; }
.gjx-layout-side .gj-panes { flex-wrap: nowrap !important; overflow-x: auto; }
.gjx-layout-side .gj-panes > .gj-pane { display: flex !important; min-width: 340px !important; }
"""

_G_TAG = re.compile(r'<g id="([^"]*)" class="([^"]*)"')
_KINDS = (
    ("gj-eqn", "eqn-", "data-eqn"),
    ("gj-hlo-opt", "hloopt-", "data-hlo-opt"),
    ("gj-hlo", "hlo-", "data-hlo"),
)


def graph_layout_engine():
    """'dot' or 'node' where this machine can lay graphs out, else None (the browser
    then lays them out with the bundled Graphviz WebAssembly)."""
    for name in ("dot", "node"):
        if shutil.which(name):
            return name
    return None


def annotate_svg(svg, id_prefix="", members=None, extra_classes=None):
    """What ``graph_layout.js``'s ``annotate`` does in the browser, done here on SVG text:
    nodes and clusters named after an equation or instruction get the attribute the pane
    linker reads (``data-eqn`` / ``data-hlo-opt`` / ``data-hlo``), closed groups their
    ``data-members``; ``extra_classes`` ({name: class}) marks some (e.g. changed ones).
    The XML prologue is dropped so the SVG can sit inside HTML."""
    members = members or {}
    extra_classes = extra_classes or {}
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg

    def fix(m):
        raw_id, classes = m.group(1), m.group(2)
        key = html.unescape(raw_id)
        cls = html.unescape(classes)
        if not key.startswith(id_prefix):
            return m.group(0)
        key = key[len(id_prefix) :]
        words = cls.split()
        attrs = ""
        for klass, prefix, attr in _KINDS:
            if klass in words and key.startswith(prefix):
                name = key[len(prefix) :]
                if ":" not in name:
                    attrs += f' {attr}="{escape(name)}"'
                    if name in extra_classes:
                        cls += " " + extra_classes[name]
                break
        if key in members:
            attrs += f' data-members="{escape(" ".join(members[key]))}"'
        return f'<g id="{raw_id}" class="{escape(cls)}"{attrs}'

    return _G_TAG.sub(fix, svg)


def _graphviz_sources():
    from visualize import graph as G

    return G.graph_layout_js(), G.graphviz_js(classic=True)


def graph_body(view, uid, *, layout="auto", extra_classes=None, timeout=60):
    """(HTML inside the graph pane's box, how it was laid out: 'dot' | 'node' | 'browser'
    | 'failed: ...'). ``layout``: 'auto' (this machine if it can, else the browser),
    'server' or 'browser'."""
    members = dict(getattr(view, "members", {}) or {})
    prefix = getattr(view, "id_prefix", "") or ""
    if layout in ("auto", "server"):
        eng = graph_layout_engine()
        if eng is not None:
            try:
                from visualize.graph import render_svg

                svg = render_svg(view.source, timeout=timeout, engine=eng)
            except RuntimeError as e:
                return (f'<div class="gjx-graph-msg">{escape(e)}</div>', f"failed: {e}")
            if svg is not None:
                return annotate_svg(svg, prefix, members, extra_classes), eng
        if layout == "server":
            return (
                '<div class="gjx-graph-msg">no graph layout on this machine (neither '
                "<code>dot</code> nor <code>node</code>)</div>",
                "failed: no layout engine",
            )
    layout_js, gv_js = _graphviz_sources()
    data = {"dot": view.source, "members": members, "prefix": prefix, "extra": extra_classes or {}}
    script = (
        "(function(){var box=document.getElementById(" + js_string(uid + "-graph") + ");"
        "if(!box)return;var cfg=JSON.parse(box.querySelector('script.gjx-graph-data')"
        ".textContent);"
        "if(!window.__gjxGraphLayout){var src=document.querySelector('script.gjx-gv-src');"
        "window.__gjxGraphLayout=GlassjaxGraphLayout.create(src.textContent,{timeoutMs:30000});}"
        "var target=box.querySelector('.gjx-graph-target');"
        "target.innerHTML='<div class=\"gjx-graph-msg\">laying the graph out\\u2026</div>';"
        "window.__gjxGraphLayout.render(cfg.dot).then(function(svgText){"
        "target.innerHTML=svgText.slice(Math.max(0,svgText.indexOf('<svg')));"
        "var svg=target.querySelector('svg');"
        "GlassjaxGraphLayout.annotate(svg,{idPrefix:cfg.prefix,members:cfg.members});"
        "svg.querySelectorAll('[data-hlo-opt],[data-eqn]').forEach(function(g){"
        "var n=g.getAttribute('data-hlo-opt')||g.getAttribute('data-eqn');"
        "if(cfg.extra[n])g.classList.add(cfg.extra[n]);});"
        "if(window.GlassjaxGraphZoom)GlassjaxGraphZoom.attach(box);"
        "var root=box.closest('.gj-root');if(root&&root.__gjLinker)root.__gjLinker.index={};"
        "box.setAttribute('data-laid-out','browser');"
        "},function(err){target.innerHTML='';var d=document.createElement('div');"
        "d.className='gjx-graph-msg';d.textContent=String(err&&err.message||err);"
        "target.appendChild(d);box.setAttribute('data-laid-out','failed');});})();"
    )
    body = (
        json_script(data, "gjx-graph-data")
        + f'<script type="text/plain" class="gjx-gv-src">{gv_js}</script>'
        + '<div class="gjx-graph-target"></div>'
        + f"<script>{layout_js}\n{script}</script>"
    )
    return body, "browser"


def graph_pane(
    view, uid, *, title="fusion graph", sub="", layout="auto", extra_classes=None, kind="hlo_opt"
):
    """A ``.gj-pane`` holding a graph; ``kind`` is the linker's pane kind of its nodes."""
    from visualize.graph import graph_zoom_js

    body, how = graph_body(view, uid, layout=layout, extra_classes=extra_classes)
    laid = f' data-laid-out="{escape(how)}"' if how != "browser" else ""
    # zoom controls stay hidden until the script runs (a saved copy has no scripts)
    zoom_tools = (
        '<span class="gj-pane-tools gjx-zoom-tools" hidden><span class="gjx-zoom-level"></span>'
        + "".join(
            f'<button type="button" class="gj-btn" data-gjx-zoom="{act}" title="{tip}">'
            f"{text}</button>"
            for act, text, tip in (
                ("out", "\u2212", "zoom out (-)"),
                ("in", "+", "zoom in (+)"),
                ("fit", "fit", "fit the pane (0); drag to pan, Ctrl+wheel to zoom"),
                ("one", "1:1", "actual size (1)"),
            )
        )
        + "</span>"
    )
    zoom_script = (
        f"<script>{graph_zoom_js()}\nGlassjaxGraphZoom.attach(document.getElementById("
        f"{js_string(uid + '-graph')}));</script>"
    )
    pane = (
        f'<section class="gj-pane gjx-graph-pane" data-kind="{kind}" '
        f'aria-label="{escape(title)}"><div class="gj-pane-head">'
        f'<span class="gj-pane-title">{escape(title)}</span>'
        f'<span class="gj-pane-sub">{escape(sub)}</span>'
        f'<span class="gj-count" aria-live="polite"></span>{zoom_tools}</div>'
        f'<div class="gj-code gjx-graph-box" id="{escape(uid)}-graph" tabindex="0"{laid}>'
        f"{body}</div>{zoom_script}</section>"
    )
    return pane, how


def graph_sub(view):
    sub = f"{len(view.nodes)} nodes"
    if view.clusters:
        sub += f", {len(view.clusters)} open groups"
    if view.collapsed:
        sub += f" (of {view.full_size}: groups closed to keep the layout quick)"
    return sub


# ---------------------------------------------------------------------------- executable pane


def _us(s):
    return "" if s is None else f"{s * 1e6:,.1f} µs"


def executable_pane(report, hlo_opt, note=None):
    """XLA's estimate, memory, measured time and one row per kernel (top-level
    instruction), each row linkable like the optimized HLO's instructions."""
    rows = []
    if report is not None:
        if getattr(report, "loaded_from_cache", False):
            rows.append(("executable", "loaded from cache"))
        c = report.cost
        rows += [
            ("flops (XLA estimate)", f"{c['flops']:,.0f}"),
            ("transcendentals (XLA estimate)", f"{c['transcendentals']:,.0f}"),
            ("bytes accessed (XLA estimate)", f"{c['bytes_accessed']:,.0f}"),
        ]
        m = report.memory
        for key, label in (
            ("argument_size_in_bytes", "argument bytes"),
            ("output_size_in_bytes", "output bytes"),
            ("temp_size_in_bytes", "temporary bytes"),
        ):
            if key in m:
                rows.append((label, f"{m[key]:,}"))
        if report.timing:
            t = report.timing
            rows += [
                ("measured median", _us(t["median_s"])),
                ("measured min", _us(t["min_s"])),
                ("runs", f"{t['count']} (after {t['warmup_runs_excluded']} warm-up)"),
                ("device", t["device"]),
            ]
    table = "".join(
        f'<tr><th>{escape(k)}</th><td class="gjx-num">{escape(v)}</td></tr>' for k, v in rows
    )
    per = {r["name"]: r for r in (report.per_kernel or [])} if report is not None else {}
    krows = []
    for ins in hlo_opt.top_level_instructions():
        if ins.opcode in ("parameter", "constant", "tuple", "get-tuple-element"):
            continue
        kind = ins.fusion_kind or ins.custom_call_target or ""
        r = per.get(ins.name)
        share = f"{r['share'] * 100:.0f}%" if r and r.get("share") is not None else ""
        krows.append(
            f'<tr data-hlo-opt="{escape(ins.name)}" title="{escape(ins.text[:400])}">'
            f"<td>{escape(ins.name)}</td><td>{escape(ins.opcode)} {escape(kind)}</td>"
            f"<td>{escape(ins.shape.text)}</td>"
            f'<td class="gjx-num">{escape(_us(r["median_s"]) if r else "")}</td>'
            f'<td class="gjx-num">{escape(share)}</td></tr>'
        )
    notes = [note] if note else []
    if not note and report is not None and report.timing is None:
        notes.append(report.timing_note)
    if not note and report is not None and report.per_kernel is None and report.per_kernel_note:
        notes.append("per-kernel time: " + report.per_kernel_note)
    body = (
        f'<div class="gjx-h">cost and time</div><table class="gjx-exe-table">{table}</table>'
        f'<div class="gjx-h">kernels</div><table class="gjx-exe-table"><tr><th>instruction'
        f"</th><th>kind</th><th>shape</th><th>median</th><th>share</th></tr>"
        f"{''.join(krows)}</table>"
        + "".join(f'<div class="gjx-note2">{escape(n)}</div>' for n in notes if n)
    )
    sub = f"{len(krows)} kernels"
    return (
        f'<section class="gj-pane gjx-exe-pane" data-kind="hlo_opt" aria-label="executable">'
        f'<div class="gj-pane-head"><span class="gj-pane-title">executable</span>'
        f'<span class="gj-pane-sub">{escape(sub)}</span>'
        f'<span class="gj-count" aria-live="polite"></span></div>'
        f'<div class="gj-code gjx-exe-box" tabindex="0" style="white-space:normal">{body}'
        f"</div></section>"
    )


def partitioning_pane(view, uid):
    """A program compiled over several partitions: its layouts, annotations, the
    collectives XLA inserted (rows linked to the optimized HLO's instructions) and the
    module before and after partitioning (``visualize.partitioning_html``)."""
    from visualize.partitioning_html import partitioning_html

    if isinstance(view, str):  # why the view could not be built
        return f'<section class="gj-pane gjx-part-pane"><div class="gjx-note">{escape(view)}</div></section>'
    counts = ", ".join(f"{k} \u00d7{n}" for k, n in view.counts().items()) or "no collectives"
    sub = f"{view.num_partitions} partitions; {counts}"
    return (
        f'<section class="gj-pane gjx-part-pane" data-kind="hlo_opt" aria-label="partitioning">'
        f'<div class="gj-pane-head"><span class="gj-pane-title">partitioning</span>'
        f'<span class="gj-pane-sub">{escape(sub)}</span>'
        f'<span class="gj-count" aria-live="polite"></span></div>'
        f'<div class="gj-code" tabindex="0" style="white-space:normal">'
        f"{partitioning_html(view, uid=uid + '-part', max_module_lines=1500)}</div></section>"
    )


# ---------------------------------------------------------------------------- the page


class _Subset:
    """A StageModels with some stages left out (``stages_html`` draws what is not None)."""

    def __init__(self, s, keep):
        self.traced, self.jaxpr, self.source_map = s.traced, s.jaxpr, s.source_map
        self.lowered, self.compiled = s.lowered, s.compiled
        self.mlir = s.mlir if "StableHLO" in keep else None
        self.hlo = s.hlo if "HLO" in keep else None
        self.hlo_opt = s.hlo_opt if "optimized HLO" in keep else None


def explorer_page(
    stages,
    panes,
    *,
    uid,
    graph_view=None,
    report=None,
    graph_layout="auto",
    layout="auto",
    title=None,
    exe_note=None,
    partition=None,
):
    """The explorer's HTML: ``stages_html`` of the chosen text panes, with the fusion
    graph and executable panes added inside the same linked root (and tab bar), and a
    partitioning pane when ``partition`` (a visualize PartitioningView) is given."""
    from visualize import render_html as R

    keep = set(panes)
    extra = []
    info = {"graph": None}
    if "fusion graph" in keep and graph_view is not None:
        pane, how = graph_pane(graph_view, uid, sub=graph_sub(graph_view), layout=graph_layout)
        extra.append(("fusion graph", pane))
        info["graph"] = how
    if "executable" in keep and stages.hlo_opt is not None:
        extra.append(("executable", executable_pane(report, stages.hlo_opt, exe_note)))
    if partition is not None:
        extra.append(("partitioning", partitioning_pane(partition, uid)))
    page = R.stages_html(_Subset(stages, keep), uid=uid, title=title, extra_panes=extra)
    wrapper = (
        f'<div class="gjx-explorer gjx-layout-{escape(layout)}" data-uid="{escape(uid)}">'
        f"<style>{GRAPH_CSS}</style>{page}</div>"
    )
    return wrapper, info


def _partitioning_of(lowered, compiled):
    from visualize.partitioning import PartitioningView, num_partitions

    if num_partitions(compiled.as_text()) <= 1:
        return None
    try:
        return PartitioningView(lowered, compiled)
    except Exception as e:  # the other panes stand without this one
        return f"the partitioning view failed: {type(e).__name__}: {e}"


# ---------------------------------------------------------------------------- the widget


class Explorer(StaticMirror, BuildingWidget, widgets.VBox):
    """The explorer widget; see the module docstring. State (read after building):
    ``stages`` (visualize.StageModels), ``link_table``, ``graph`` (GraphView of the
    optimized module), ``report`` (ExecutableReport), ``panes``, ``layout_mode``,
    ``html`` (what the page shows), ``error`` (an ErrorInfo if tracing or compiling
    failed). Displayed, it also shows a static copy of the page (kept current)."""

    html = ""
    _exe_note = None
    static_kind = "explorer"

    def static_text(self):
        return f"explorer of {self.name}: {', '.join(self.panes)}"

    def static_html(self):
        if self.error is not None:
            return self.header.value + self.error_view.value
        if not self.html:
            return f'{self.header.value}<div class="gjx-note">not built yet</div>'
        # its own element ids: the live page's scripts look theirs up by id
        return self.header.value + self.html.replace(self.uid, self.uid + "-saved")

    def __init__(
        self,
        f,
        *args,
        layout="auto",
        panes=None,
        graph_layout="auto",
        measure=True,
        lazy=None,
        title=None,
        **kwargs,
    ):
        super().__init__()
        self.add_class("gjx")
        self.f, self.args, self.kwargs = f, args, kwargs
        self.name = getattr(f, "__name__", None) or type(f).__name__
        self.stages = self.table = self.graph = self.report = None
        # a PartitioningView when compiled over several partitions (a str if it failed)
        self.partitioning = None
        self.graph_layout, self.measure, self.title_text = graph_layout, measure, title
        self.graph_how = None
        self.uid = "gjx-" + uuid.uuid4().hex[:10]
        self._layout = layout if layout in LAYOUTS else "auto"
        self._panes_requested = panes
        self._quiet = False
        self.header = widgets.HTML(
            f'{style_tag()}<span class="gjx-title">explorer: '
            f"<code>{escape(self.name)}</code></span>"
        )
        self.layout_toggle = widgets.ToggleButtons(
            options=[("auto", "auto"), ("side by side", "side"), ("tabs", "tabs")],
            value=self._layout,
            tooltips=[
                "side by side, tabs when narrow",
                "all panes side by side",
                "one pane at a time",
            ],
            style={"button_width": "110px"},
        )
        self.pane_boxes = {
            p: widgets.Checkbox(
                value=True,
                description=p,
                indent=False,
                layout=widgets.Layout(width="auto", margin="0 14px 0 0"),
            )
            for p in OPTIONAL_PANES
        }
        self.view = widgets.Output(layout=widgets.Layout(width="100%"))
        self._make_progress()
        self.children = [
            widgets.HBox(
                [self.header, self.layout_toggle],
                layout=widgets.Layout(
                    justify_content="space-between", align_items="center", flex_flow="row wrap"
                ),
            ),
            widgets.HBox(
                list(self.pane_boxes.values()), layout=widgets.Layout(flex_flow="row wrap")
            ),
            self.progress_box,
            self.error_view,
            self.view,
        ]
        self.layout_toggle.observe(self._on_layout, "value")
        for box in self.pane_boxes.values():
            box.observe(self._on_panes, "value")
        self._start(lazy)

    def _what(self):
        return f"exploring {self.name}"

    # -- building
    def build(self):
        import visualize
        from visualize import graph as G
        from visualize import render_html as R

        total = 6
        self._step(0, total, "tracing")
        jitted = tool_jit(self.f)
        traced = jitted.trace(*self.args, **self.kwargs)
        self._step(1, total, "lowering to StableHLO")
        lowered = traced.lower()
        self._step(2, total, "compiling with XLA")
        compiled = lowered.compile()
        self._step(3, total, "parsing the stages and linking them")
        self.stages = visualize.StageModels(traced, lowered, compiled)
        self.table = R.link_table(self.stages.source_map)
        n = len(self.stages.jaxpr.all_eqns)
        if self._panes_requested is not None:
            wanted = set(self._panes_requested)
        else:
            wanted = set(PANES)
            if n > LARGE_PROGRAM_EQNS:
                wanted -= {"StableHLO", "HLO"}
        self._quiet = True
        try:
            self.panes = wanted
        finally:
            self._quiet = False
        self._step(4, total, "fusion graph and executable")
        self.graph = G.hlo_graph(self.stages.hlo_opt, id_prefix=self.uid + "-")
        self.report = self._report(compiled)
        self.partitioning = _partitioning_of(lowered, compiled)
        self._step(5, total, "rendering")
        self.render()

    def _report(self, compiled):
        from visualize import executable_report

        leaves = engine.tree_util.tree_leaves((self.args, self.kwargs))
        concrete = all(
            hasattr(a, "__array__") or isinstance(a, (int, float, complex, bool)) for a in leaves
        )
        if self.measure and concrete:
            try:
                return executable_report(compiled, *self.args, repeats=10, warmup=2, **self.kwargs)
            except Exception as e:
                self._exe_note = f"not measured: {type(e).__name__}: {e}"
        elif not concrete:
            self._exe_note = "not measured: the arguments are shapes, not values"
        return executable_report(compiled)

    def render(self):
        if self.stages is None:
            return
        n = len(self.stages.jaxpr.all_eqns)
        page, info = explorer_page(
            self.stages,
            self.panes,
            uid=self.uid,
            graph_view=self.graph,
            report=self.report,
            graph_layout=self.graph_layout,
            layout=self._layout,
            title=self.title_text,
            exe_note=self._exe_note,
            partition=self.partitioning,
        )
        self.graph_how = info["graph"]
        if n > LARGE_PROGRAM_EQNS and not {"StableHLO", "HLO"} <= set(self.panes):
            page = (
                f'<div class="gjx-note">{n} equations: the StableHLO and HLO panes start '
                "hidden; tick them above to add them</div>" + page
            )
        self.html = page
        set_html(self.view, page, f"explorer of {self.name}: {', '.join(self.panes)}")
        self.refresh_static()

    # -- state
    @property
    def panes(self):
        return ["Source", "jaxpr"] + [p for p in OPTIONAL_PANES if self.pane_boxes[p].value]

    @panes.setter
    def panes(self, names):
        names = set(names)
        for p, box in self.pane_boxes.items():
            box.value = p in names

    @property
    def link_table(self):
        self.ensure_built()
        return self.table

    @property
    def layout_mode(self):
        return self._layout

    @layout_mode.setter
    def layout_mode(self, value):
        if value not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {value!r}")
        self.layout_toggle.value = value

    def _on_layout(self, change):
        self._layout = change["new"]
        self.render()

    def _on_panes(self, change):
        if not self._quiet:
            self.render()


def explore(
    f, *args, layout="auto", panes=None, graph_layout="auto", measure=True, lazy=None, **kwargs
):
    """An explorer of ``f`` (a function or ``engine.jit`` of one) at these arguments:
    Source | jaxpr | StableHLO | HLO | optimized HLO | fusion graph | executable,
    linked. ``layout``: 'auto', 'side' or 'tabs'. ``panes``: which to show (Source and
    jaxpr always). ``graph_layout``: 'auto', 'server' or 'browser'. A function that
    fails to trace shows its error and line in the widget (``.error``)."""
    return Explorer(
        f,
        *args,
        layout=layout,
        panes=panes,
        graph_layout=graph_layout,
        measure=measure,
        lazy=lazy,
        **kwargs,
    )
