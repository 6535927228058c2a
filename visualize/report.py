"""A static HTML report of one function: every stage, linked, in one file that opens
offline from disk (``file://``), with no server and nothing fetched from the network.

    from visualize.report import report
    r = report(train_step, params, x, y, path="report.html")
    r.path, r.size_bytes, r.timings

The page holds, top to bottom: the text stages side by side (Source | jaxpr | StableHLO
| HLO | optimized HLO, from ``stages_html``); the jaxpr dataflow graph and the
optimized-HLO fusion graph, laid out in the page by the bundled Graphviz WebAssembly
build and starting collapsed (click a closed group to open it, its frame to close it);
XLA's compilation pass by pass (only the passes that changed the module, each with its
structural summary and text diff), the final buffer assignment and the generated
kernels; and the executable report (XLA's cost estimate, memory, measured run time).
A click on a line, equation, op, instruction or graph node highlights its partners in
every pane and graph. Light and dark themes follow the system, with a toggle.

From the command line: ``python -m visualize report script.py:fn --args '...'``.
"""

from __future__ import annotations

import html
import json
import os
import platform
import time

from . import graph as _graph
from .executable import COST_SOURCE, executable_report
from .passes import compile_with_passes
from .render_html import html_document, stages_html
from .stages import StageModels

__all__ = ["report", "build_report", "Report"]

ROOT_ID = "gjr-root"
# Budgets that keep the page small and quick to open.
MAX_GRAPH_VIEWS = 64  # precomputed "one group open" views per graph
GRAPH_VIEW_SECONDS = 3.0  # ... and the time spent building them
DIFF_LINES_PER_PASS = 3000
DIFF_CHARS_TOTAL = 1_500_000
DISASSEMBLY_LINES_PER_KERNEL = 1500
DISASSEMBLY_CHARS_TOTAL = 800_000
LIST_ITEMS = 60  # names shown per list before "... and N more"


class Report:
    """A built report: ``html`` (the page), ``path`` once written, ``size_bytes``,
    ``timings`` (seconds per phase), and the artifacts it was made from: ``stages``
    (StageModels), ``timeline`` (PassTimeline or None), ``executable``
    (ExecutableReport), ``graphs`` ({"jaxpr": GraphView, "hlo_opt": GraphView})."""

    def __init__(self, html_text, stages, timeline, executable, graphs, timings):
        self.html = html_text
        self.stages, self.timeline, self.executable = stages, timeline, executable
        self.graphs = graphs
        self.timings = timings
        # PartitioningView of a program over several partitions (a str if it failed)
        self.partitioning = None
        self.path = None

    @property
    def size_bytes(self):
        return len(self.html.encode("utf-8"))

    def write(self, path):
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.html)
        self.path = path
        return path

    def __repr__(self):
        where = f" at {self.path}" if self.path else ""
        return f"<Report {self.size_bytes / 1e6:.2f} MB{where}>"


def report(f, *example_args, path="report.html", **options):
    """Build the report of ``f`` on ``example_args`` (see ``build_report`` for the
    options; other keyword arguments go to ``f``) and write it to ``path``.
    Returns the ``Report``."""
    r = build_report(f, *example_args, **options)
    start = time.perf_counter()
    r.write(path)
    r.timings["write_s"] = time.perf_counter() - start
    return r


def build_report(
    f,
    *example_args,
    title=None,
    theme=None,
    device=None,
    repeats=30,
    warmup=3,
    profile=True,
    passes=True,
    compiler_options=None,
    **kwargs,
):
    """The ``Report`` of ``f`` (a function or ``engine.jit`` of one) on these arguments,
    without writing it.

    ``theme``: None (follow the system, toggle in the page), ``"light"`` or ``"dark"``.
    ``device``: a device or platform name ('cpu', 'gpu', ...) to compile and time on.
    ``repeats``/``warmup``: timed runs of the executable (0 repeats: not timed);
    ``profile``: per-kernel times from XLA's profiler. ``passes=False`` skips the
    pass-by-pass compile (one plain compile instead).
    """
    import engine
    from engine.jit import JitFunction

    timings = {}
    clock = time.perf_counter
    if device is not None:
        dev = engine.devices(device)[0] if isinstance(device, str) else device
        example_args = engine.device_put(example_args, dev)  # committed: compiled there
        kwargs = engine.device_put(kwargs, dev) if kwargs else kwargs

    start = clock()
    jitted = f if isinstance(f, JitFunction) else engine.jit(f)
    traced = jitted.trace(*example_args, **kwargs)
    lowered = traced.lower()
    timings["trace_lower_s"] = clock() - start

    start = clock()
    timeline = None
    if passes:
        timeline = compile_with_passes(lowered, compiler_options=compiler_options)
        compiled = timeline.compiled
    else:
        compiled = lowered.compile(compiler_options=compiler_options)
    timings["compile_s"] = clock() - start

    start = clock()
    stages = StageModels(traced, lowered, compiled)
    timings["models_s"] = clock() - start

    start = clock()
    timed_args, timed_kwargs = (example_args, kwargs) if repeats else ((), {})
    exe = executable_report(
        compiled,
        *timed_args,
        repeats=max(repeats, 1),
        warmup=warmup,
        profile=profile,
        timeline=timeline,
        **timed_kwargs,
    )
    timings["executable_s"] = clock() - start

    start = clock()
    graphs = {
        "jaxpr": _graph.jaxpr_graph(stages.jaxpr, expand=()),
        "hlo_opt": _graph.hlo_graph(stages.hlo_opt, expand=()),
    }
    payload = {kind: _graph_payload(view) for kind, view in graphs.items()}
    timings["graphs_s"] = clock() - start

    start = clock()
    partition = _partitioning_view(lowered, compiled, timeline)
    timings["partitioning_s"] = clock() - start

    start = clock()
    page = _page(
        stages,
        timeline,
        exe,
        graphs,
        payload,
        title=title,
        theme=theme,
        timings=timings,
        partition=partition,
    )
    timings["html_s"] = clock() - start
    r = Report(page, stages, timeline, exe, graphs, timings)
    r.partitioning = partition
    return r


def _partitioning_view(lowered, compiled, timeline):
    """The SPMD partitioning view of a program compiled over several partitions, else None."""
    from .partitioning import PartitioningView, num_partitions

    if num_partitions(compiled.as_text()) <= 1:
        return None
    try:
        return PartitioningView(lowered, compiled, timeline)
    except Exception as e:  # the rest of the report stands without this section
        return f"the partitioning view failed: {type(e).__name__}: {e}"


def _partitioning_section(view):
    if view is None:
        return ""
    if isinstance(view, str):
        return _section(
            "gjr-partitioning", "SPMD partitioning", f'<p class="gj-note">{_e(view)}</p>'
        )
    from .partitioning_html import partitioning_html

    counts = ", ".join(f"{k} \u00d7{n}" for k, n in view.counts().items()) or "no collectives"
    return _section(
        "gjr-partitioning",
        "SPMD partitioning",
        partitioning_html(view, uid="gjr-part", max_module_lines=1500),
        sub=f"{view.num_partitions} partitions; {counts}",
    )


# ---------------------------------------------------------------------------- helpers


def _e(s):
    return html.escape(str(s), quote=True)


def _json_script(data, element_id):
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _bytes(n):
    if n is None:
        return "\u2014"
    n = int(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit} ({n:,} B)"
    return f"{n:,} B"


def _secs(s):
    if s is None:
        return "\u2014"
    if s < 1e-3:
        return f"{s * 1e6:.1f} \u00b5s"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _num(x):
    if x is None:
        return "\u2014"
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.4g}"


def _clipped(items, render, limit=LIST_ITEMS):
    shown = [render(x) for x in items[:limit]]
    if len(items) > limit:
        shown.append(f'<li class="gj-note">\u2026 and {len(items) - limit} more</li>')
    return "".join(shown)


def _table(head, rows, cls="gjr-table", row_attrs=None):
    out = [f'<table class="{cls}"><thead><tr>']
    out.extend(f"<th>{_e(h)}</th>" for h in head)
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        attrs = row_attrs[i] if row_attrs else ""
        out.append(f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(sid, title, body, sub=""):
    sub = f'<span class="gjr-sub">{_e(sub)}</span>' if sub else ""
    return (
        f'<details class="gjr-section" id="{sid}" open><summary><h2>{_e(title)}</h2>{sub}'
        f"</summary>{body}</details>"
    )


# ---------------------------------------------------------------------------- graphs


def _graph_payload(view):
    """The graph's views as DOT, deduplicated line by line: the collapsed start view
    (""), one view per group with that group open (its key), and everything open
    ("*") where that is small enough to lay out. ``collapse[key]`` is the view shown
    when the open group ``key`` is closed again."""
    index = {}

    def encode(source):
        return [index.setdefault(line, len(index)) for line in source.split("\n")]

    views, members = {"": encode(view.source)}, dict(view.members)
    opened = {frozenset(view.expanded): ""}
    expanded_by_key = {}
    groups = list(view.expandable)
    deadline = time.perf_counter() + GRAPH_VIEW_SECONDS
    built = 0
    for key in groups:
        if built >= MAX_GRAPH_VIEWS or time.perf_counter() > deadline:
            break
        v = view.expand(key)
        if len(v.nodes) > v.max_nodes or len(v.edges) > v.max_edges:
            continue
        views[key] = encode(v.source)
        members.update(v.members)
        opened[frozenset(v.expanded)] = key
        expanded_by_key[key] = frozenset(v.expanded)
        built += 1
    collapse = {k: opened.get(e - {k}, "") for k, e in expanded_by_key.items()}
    full = view.expand_all()
    if len(full.nodes) <= full.max_nodes and len(full.edges) <= full.max_edges:
        views["*"] = encode(full.source)
        members.update(full.members)
    return {
        "kind": view.kind,
        "lines": list(index),
        "views": views,
        "collapse": collapse,
        "members": members,
        "groups": len(groups),
        "expandable": built,
        "full_size": view.full_size,
        "nodes": len(view.nodes),
        "edges": len(view.edges),
    }


def _graph_pane(kind, title, payload):
    closed = payload["groups"]
    sub = f"{payload['nodes']} nodes, {payload['edges']} edges"
    if closed:
        sub += (
            f"; {closed} closed group{'s' if closed != 1 else ''} ({payload['full_size']} "
            "nodes when all open)"
        )
        if payload["expandable"] < closed:
            sub += f"; {payload['expandable']} of them open on a click here"
    tools = [("collapse", "collapse all")] if closed else []
    if closed and "*" in payload["views"]:
        tools.append(("expand", "expand all"))
    tools += [("out", "\u2212"), ("in", "+"), ("fit", "fit")]
    buttons = '<span class="gjr-zoom"></span>' + "".join(
        f'<button type="button" class="gj-btn" data-gjr-act="{a}">{_e(t)}</button>'
        for a, t in tools
    )
    hint = "Click a node to link it to the text panes. " + (
        "Click a closed group (double frame) to open it, an open group's frame to close it."
        if closed
        else ""
    )
    return (
        f'<section class="gj-pane gjr-graph-pane" data-kind="{kind}" data-graph="{kind}" '
        f'aria-label="{_e(title)}"><div class="gj-pane-head">'
        f'<span class="gj-pane-title">{_e(title)}</span>'
        f'<span class="gj-pane-sub">{_e(sub)}</span>'
        f'<span class="gj-count" aria-live="polite"></span>'
        f'<span class="gj-pane-tools">{buttons}</span></div>'
        f'<div class="gjr-graph-hint">{_e(hint)}<span class="gjr-graph-status"></span></div>'
        f'<div class="gjr-graph" tabindex="0" role="region" aria-label="{_e(title)} drawing">'
        '<div class="gjr-graph-msg">laying out\u2026</div></div></section>'
    )


def _graphs_section(payload):
    body = (
        '<div class="gjr-graphs">'
        + _graph_pane("jaxpr", "jaxpr dataflow graph", payload["jaxpr"])
        + _graph_pane("hlo_opt", "optimized HLO: kernels and fusions", payload["hlo_opt"])
        + "</div>"
    )
    v = _graph.graphviz_version()
    note = (
        f"Laid out in this page by Graphviz {v.get('graphviz')} compiled to WebAssembly "
        f"({v.get('package')} {v.get('version')}, bundled; licences at the end)."
    )
    return _section("gjr-graphs", "Dataflow graphs", body, sub=note)


# ---------------------------------------------------------------------------- passes


def _diff_html(text, budget):
    lines = text.split("\n")
    shown = lines[:DIFF_LINES_PER_PASS]
    out = []
    for ln in shown:
        cls = ""
        if ln.startswith("@@"):
            cls = "gjr-hunk"
        elif ln.startswith("+") and not ln.startswith("+++"):
            cls = "gjr-add"
        elif ln.startswith("-") and not ln.startswith("---"):
            cls = "gjr-del"
        out.append(f'<span class="{cls}">{_e(ln)}</span>' if cls else _e(ln))
    body = "\n".join(out)
    if len(body) > budget[0]:
        return (
            f'<div class="gj-note">text diff left out ({len(lines)} lines): over the '
            "report's size budget; see compile_with_passes(...).passes[i].text_diff</div>"
        )
    budget[0] -= len(body)
    more = ""
    if len(lines) > len(shown):
        more = f'<div class="gj-note">\u2026 {len(lines) - len(shown)} more lines not shown</div>'
    return f'<pre class="gjr-diff">{body}</pre>{more}'


def _structural_html(d):
    parts = []
    if d.fusions_created:
        rows = [
            [
                f"<code>{_e(c['name'])}</code>",
                _e(c["kind"] or ""),
                _e(c["size"]),
                _e(", ".join(c["fused"][:12]) + (" \u2026" if len(c["fused"]) > 12 else "")),
            ]
            for c in d.fusions_created
        ]
        parts.append(
            "<h4>fusions created</h4>"
            + _table(["fusion", "kind", "instructions inside", "fused from"], rows)
        )
    if d.fused:
        parts.append(
            f'<h4>fused ({len(d.fused)})</h4><ul class="gjr-list">'
            + _clipped(
                d.fused,
                lambda x: (
                    f'<li><code>{_e(x["name"])}</code> <span class="gj-note">'
                    f"{_e(x['opcode'])}</span> \u2192 {_e(', '.join(x['into']))}"
                    f"{'' if x['exact'] else ' (ambiguous match)'}</li>"
                ),
            )
            + "</ul>"
        )
    if d.copied:
        parts.append(
            f'<h4>copied into fusions ({len(d.copied)})</h4><ul class="gjr-list">'
            + _clipped(
                d.copied,
                lambda x: (
                    f"<li><code>{_e(x['name'])}</code> \u2192 {_e(', '.join(x['into']))}</li>"
                ),
            )
            + "</ul>"
        )
    for name in ("added", "removed"):
        items = getattr(d, name)
        if items:
            parts.append(
                f'<h4>{name} ({len(items)})</h4><ul class="gjr-list">'
                + _clipped(
                    items,
                    lambda x: (
                        f'<li><code>{_e(x["name"])}</code> <span class="gj-note">'
                        f"{_e(x['opcode'])} {_e(x['shape'])}</span></li>"
                    ),
                )
                + "</ul>"
            )
    if d.rewritten:
        parts.append(
            f'<h4>rewritten ({len(d.rewritten)})</h4><ul class="gjr-list">'
            + _clipped(
                d.rewritten,
                lambda x: (
                    f'<li><code>{_e(x["name"])}</code> <span class="gj-note">'
                    f"{_e(', '.join(x['changes']))}</span></li>"
                ),
            )
            + "</ul>"
        )
    if d.reordered:
        parts.append(f'<div class="gj-note">reordered: {_e(", ".join(d.reordered))}</div>')
    return "".join(parts)


def _passes_section(tl):
    if tl is None:
        return _section(
            "gjr-passes",
            "XLA's compilation, pass by pass",
            '<div class="gj-note">not recorded (passes=False)</div>',
        )
    budget = [DIFF_CHARS_TOTAL]
    items = []
    for step in tl.passes:
        d = step.diff
        fusion = step.is_fusion_pass
        where = f'<span class="gjr-pipeline">{_e(step.pipeline)} /</span> ' if step.pipeline else ""
        summary = d.summary() if d is not None else f"not compared: {step.diff_error}"
        badge = '<span class="gjr-badge">fusion</span>' if fusion else ""
        n_diff = step.text_diff.count("\n") + 1 if step.text_diff else 0
        body = (_structural_html(d) if d is not None else "") + (
            f'<details class="gjr-textdiff"><summary>text diff ({n_diff} lines, from '
            f"{_e(step.previous_label)})</summary>{_diff_html(step.text_diff, budget)}</details>"
        )
        items.append(
            f'<li><details class="gjr-pass{" gjr-fusion-pass" if fusion else ""}"'
            f'{" open" if fusion else ""} data-pass="{_e(step.pass_name)}"><summary>'
            f'<span class="gjr-idx">{step.index + 1}</span> {where}'
            f'<span class="gjr-pass-name">{_e(step.pass_name)}</span>{badge} '
            f'<span class="gjr-pass-summary">{_e(summary)}</span> '
            f'<span class="gjr-time" title="wall time since the previous dump, dump writing '
            f'included: a rough guide">{_e(_secs(step.elapsed_s))}</span></summary>'
            f'<div class="gjr-pass-body">{body}</div></details></li>'
        )
    skipped = [(d["pipeline"] + "/" if d["pipeline"] else "") + d["pass_name"] for d in tl.skipped]
    how = (
        "XLA wrote a dump after every pass; those whose module text did not change are skipped"
        if tl.every_pass_dumped
        else "XLA dumps after the passes that report a change; dumps whose module text did not "
        "change are skipped"
    )
    t = tl.timings
    facts = [
        f"module {tl.module_name}",
        f"platform {tl.platform or 'unknown'}",
        f"{len(tl.passes)} steps changed the module, of {len(tl.dumps)} dumps",
        f"compile {_secs(t.get('compile_wall_s'))} (with dumping)",
    ]
    match = tl.final_matches_compiled()
    if match is not None:
        facts.append(
            "final module = the executable's HLO"
            if match
            else "final module differs from the executable's HLO text"
        )
    fusion_names = sorted({s.pass_name for s in tl.fusion_passes()})
    head = (
        f'<div class="gjr-facts">{_e("; ".join(facts))}.</div>'
        f'<div class="gj-note">{_e(how)}. Fusing passes: '
        f"{_e(', '.join(fusion_names) or 'none')}.</div>"
    )
    skipped_html = (
        (
            f'<details class="gjr-skipped"><summary>{len(skipped)} dumps with no change '
            f'(skipped)</summary><div class="gjr-skipped-list">{_e(", ".join(skipped))}'
            "</div></details>"
        )
        if skipped
        else ""
    )
    body = head + f'<ol class="gjr-passes">{"".join(items)}</ol>' + skipped_html
    body += _buffers_html(tl) + _kernels_code_html(tl)
    return _section(
        "gjr-passes",
        "XLA's compilation, pass by pass",
        body,
        sub=f"{len(tl.passes)} changing passes, {len(skipped)} unchanged skipped",
    )


def _buffers_html(tl):
    out = []
    ba, mu, lr = tl.buffer_assignment, tl.memory_usage, tl.live_range
    if ba is not None:
        kinds = ", ".join(f"{k} {_bytes(v)}" for k, v in sorted(ba.bytes_by_kind().items()))
        rows = []
        for a in ba.allocations[:200]:
            names = [v["instruction"] for v in a["values"]]
            shown = ", ".join(names[:6])
            if len(names) > 6:
                shown += f" \u2026 (+{len(names) - 6})"
            rows.append(
                [_e(a["index"]), _e(_bytes(a["size"])), _e(a["kind"]), f"<code>{_e(shown)}</code>"]
            )
        out.append(
            f'<details class="gjr-sub-section"><summary><h3>Buffer assignment</h3> '
            f'<span class="gjr-sub">{len(ba.allocations)} allocations, '
            f"{_e(_bytes(ba.total_bytes))}: {_e(kinds)}</span></summary>"
            + _table(["#", "size", "kind", "values"], rows)
            + "</details>"
        )
    if mu is not None or lr is not None:
        facts = []
        if mu is not None:
            facts.extend(f"{s['name']}: {_bytes(s['total_bytes'])}" for s in mu.spaces)
        if lr is not None and lr.peak_bytes is not None:
            facts.append(
                f"peak live {_bytes(lr.peak_bytes)} at step {lr.peak_step} of {len(lr.schedule)}"
            )
        peak = ""
        if lr is not None and lr.peak_buffers:
            peak = (
                '<ul class="gjr-list">'
                + _clipped(
                    lr.peak_buffers,
                    lambda b: f"<li><code>{_e(b['buffer'])}</code> {_e(_bytes(b['bytes']))}</li>",
                    30,
                )
                + "</ul>"
            )
        out.append(
            f'<details class="gjr-sub-section"><summary><h3>Memory usage</h3> '
            f'<span class="gjr-sub">{_e("; ".join(facts))}</span></summary>{peak}'
            "</details>"
        )
    return "".join(out)


def _kernels_code_html(tl):
    if not tl.kernels:
        return ""
    budget = DISASSEMBLY_CHARS_TOTAL
    rows = []
    for k in tl.kernels:
        code, label = None, "machine code"
        if k.ptx:
            code, label = k.ptx, "PTX"
        else:
            code = k.disassembly()
        if code is None:
            body = f'<div class="gj-note">{_e(k.disassembly_note or "no code in the dump")}</div>'
        else:
            lines = code.split("\n")
            text = "\n".join(lines[:DISASSEMBLY_LINES_PER_KERNEL])
            if len(text) > budget:
                body = '<div class="gj-note">left out: over the report\'s size budget</div>'
            else:
                budget -= len(text)
                more = (
                    ""
                    if len(lines) <= DISASSEMBLY_LINES_PER_KERNEL
                    else f"\n\u2026 {len(lines) - DISASSEMBLY_LINES_PER_KERNEL} more lines"
                )
                body = f'<pre class="gjr-asm">{_e(text + more)}</pre>'
        symbols = ", ".join(s["name"] for s in k.symbols if s["type"] == "function")
        rows.append(
            f'<details class="gjr-kernel" data-kernel="{_e(k.name)}"><summary>'
            f'<code>{_e(k.name)}</code> <span class="gj-note">{_e(k.code_size)} bytes of '
            f"{_e(k.platform or '')}; {_e(label)}; symbols: {_e(symbols)}</span>"
            f"</summary>{body}</details>"
        )
    return (
        f'<details class="gjr-sub-section"><summary><h3>Generated code</h3> '
        f'<span class="gjr-sub">{len(tl.kernels)} kernels, '
        f"{_e(_bytes(sum(k.code_size for k in tl.kernels)))} of machine code</span></summary>"
        + "".join(rows)
        + "</details>"
    )


# ---------------------------------------------------------------------------- executable


def _executable_section(r):
    c = r.cost
    cost_rows = [
        ["flops", _e(_num(c["flops"]))],
        ["transcendentals", _e(_num(c["transcendentals"]))],
        ["bytes accessed", _e(_bytes(c["bytes_accessed"]))],
    ]
    if c.get("flops_per_byte") is not None:
        cost_rows.append(["flops per byte", _e(f"{c['flops_per_byte']:.3g}")])
    if c.get("optimal_seconds") is not None and c["optimal_seconds"] > 0:
        cost_rows.append(["optimal seconds", _e(_secs(c["optimal_seconds"]))])
    missing = c.get("missing_keys_read_as_zero") or []
    cost = (
        '<div class="gjr-card"><h3>Cost analysis <span class="gjr-badge gjr-estimate">'
        "estimate</span></h3>"
        + _table(["", "XLA's estimate"], cost_rows)
        + f'<div class="gj-note">{_e(COST_SOURCE)}.'
        + (f" Not reported (read as 0): {_e(', '.join(missing))}." if missing else "")
        + "</div></div>"
    )
    mem = {k: v for k, v in r.memory.items() if k != "notes"}
    mem_rows = [
        [_e(k.replace("_in_bytes", "").replace("_", " ")), _e(_bytes(v))]
        for k, v in mem.items()
        if v or not k.startswith("host_")
    ]
    notes = "".join(f'<div class="gj-note">{_e(n)}</div>' for n in r.memory.get("notes", ()))
    memory = (
        '<div class="gjr-card"><h3>Memory</h3>' + _table(["", "bytes"], mem_rows) + notes + "</div>"
    )
    t = r.timing
    if t:
        t_rows = [
            ["median", _e(_secs(t["median_s"]))],
            ["min", _e(_secs(t["min_s"]))],
            ["mean \u00b1 stdev", _e(f"{_secs(t['mean_s'])} \u00b1 {_secs(t['stdev_s'])}")],
            ["max", _e(_secs(t["max_s"]))],
            ["runs", _e(f"{t['count']} (after {t['warmup_runs_excluded']} warm-up runs)")],
            ["device", _e(t["device"])],
        ]
        if t.get("flops_per_s_from_estimate"):
            t_rows.append(
                [
                    "flops/s (estimated flops / median)",
                    _e(f"{t['flops_per_s_from_estimate'] / 1e9:.3g} GFLOP/s"),
                ]
            )
        timing = (
            '<div class="gjr-card"><h3>Measured run time</h3>'
            + _table(["", ""], t_rows)
            + f'<div class="gj-note">{_e(t["includes"])}</div></div>'
        )
    else:
        timing = (
            f'<div class="gjr-card"><h3>Measured run time</h3><div class="gj-note">'
            f"{_e(r.timing_note)}</div></div>"
        )
    kernels = _per_kernel_pane(r)
    body = f'<div class="gjr-cards">{cost}{memory}{timing}</div>{kernels}'
    sub = f"on {r.device}" if r.device else ""
    return _section("gjr-executable", "Executable", body, sub=sub)


def _per_kernel_pane(r):
    if not r.per_kernel:
        inner = f'<div class="gj-note">{_e(r.per_kernel_note or "no per-kernel times")}</div>'
        rows_html = ""
    else:
        rows, attrs = [], []
        for k in r.per_kernel:
            share = k["share"]
            bar = (
                f'<span class="gjr-bar" style="width:{max(1, round(share * 100))}%"></span>'
                if share is not None
                else ""
            )
            rows.append(
                [
                    f"<code>{_e(k['name'])}</code>",
                    _e(k["opcode"] + (f" ({k['fusion_kind']})" if k["fusion_kind"] else "")),
                    _e(f"{k['calls_per_run']:g}"),
                    _e(_secs(k["median_s"])),
                    _e(_secs(k["min_s"])),
                    f'<span class="gjr-share">{bar}<span>'
                    f"{_e(f'{share * 100:.1f}%' if share is not None else '')}</span></span>",
                ]
            )
            attrs.append(f' data-hlo-opt="{_e(k["name"])}"')
        rows_html = _table(
            ["kernel", "opcode", "calls/run", "median", "min", "share"], rows, row_attrs=attrs
        )
        inner = f'<div class="gj-note">{_e(r.per_kernel_note)}. Click a row to link it.</div>'
    return (
        '<section class="gj-pane gjr-kernel-pane" data-kind="hlo_opt" '
        'aria-label="time per kernel"><div class="gj-pane-head">'
        '<span class="gj-pane-title">Time per kernel</span>'
        '<span class="gj-pane-sub">from XLA\'s profiler</span>'
        '<span class="gj-count" aria-live="polite"></span></div>'
        f'<div class="gjr-kernel-body">{inner}{rows_html}</div></section>'
    )


# ---------------------------------------------------------------------------- the page

_DOT = " \u00b7 "


def _header(exe, timings):
    import jaxlib

    nav = "".join(
        f'<a href="#{sid}">{_e(t)}</a>'
        for sid, t in (
            ("gjr-stages", "stages"),
            ("gjr-graphs", "graphs"),
            ("gjr-passes", "XLA passes"),
            ("gjr-executable", "executable"),
            ("gjr-about", "about"),
        )
    )
    meta = [
        f"device {exe.device}" if exe.device else None,
        f"jaxlib {getattr(getattr(jaxlib, 'version', None), '__version__', '?')}",
        f"Python {platform.python_version()}",
        "built in " + _secs(sum(timings.values())),
    ]
    return (
        f'<header class="gjr-header" id="gjr-stages"><div class="gjr-brand">Glassjax report'
        f'</div><nav class="gjr-nav">{nav}</nav>'
        f'<span class="gjr-meta">{_e(_DOT.join(m for m in meta if m))}</span>'
        '<button type="button" class="gj-btn gjr-theme" data-gjr-theme="auto" '
        'title="theme: follow the system, light or dark">theme: auto</button></header>'
    )


def _about():
    notice = _graph.graphviz_notice()
    return _section(
        "gjr-about",
        "About this page",
        (
            '<div class="gj-note">One self-contained file: styles, scripts, data and the '
            "Graphviz layout engine are all inline; it opens from disk with no server and "
            "fetches nothing. Links between panes come from recorded source locations, the "
            "engine's equation tags and XLA's metadata; after fusion one kernel holds many "
            "equations, and both directions are shown without guessing.</div>"
            f"<details><summary>Third-party notices (bundled Graphviz)</summary>"
            f'<pre class="gjr-notice">{_e(notice)}</pre></details>'
        ),
    )


def _page(stages, timeline, exe, graphs, payload, *, title, theme, timings, partition=None):
    fun = getattr(stages.traced, "fun_name", None) or "f"
    heading = f"jit({fun})"
    header = _header(exe, timings)
    sections = (
        _graphs_section(payload)
        + _partitioning_section(partition)
        + _passes_section(timeline)
        + _executable_section(exe)
        + _about()
    )
    root = stages_html(
        stages,
        theme=theme,
        uid=ROOT_ID,
        title=heading,
        head=f"<style>{_CSS}</style>" + header,
        tail=sections,
    )
    gv = _graph.graphviz_js(classic=True)
    for text, what in (
        (gv, "the Graphviz bundle"),
        (_graph.graph_layout_js(), "graph_layout.js"),
        (_JS, "the report script"),
    ):
        if "</script" in text.lower() or "<!--" in text:
            raise RuntimeError(f"{what} holds '</script' or '<!--': it cannot be inlined")
    scripts = (
        f'<script type="text/plain" id="gjr-graphviz">{gv}</script>'
        + _json_script(payload, "gjr-graph-data")
        + f"<script>{_graph.graph_layout_js()}</script>"
        + f"<script>{_JS}</script>"
    )
    page_title = title if title is not None else f"Glassjax report: {heading}"
    return html_document(root + scripts, title=page_title)


_CSS = r"""
body { background: #ffffff; }
@media (prefers-color-scheme: dark) { body { background: #0d1117; } }
.gj-root { --gjr-add: #2da44e2e; --gjr-del: #cf222e26; --gjr-hunk: #54aeff26; }
.gjr-header {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 16px; padding: 6px 2px 10px;
  border-bottom: 1px solid var(--gj-border); margin-bottom: 6px;
}
.gjr-brand { font-weight: 700; font-size: 15px; }
.gjr-name { font-family: var(--gj-font); color: var(--gj-prim); font-weight: 600; }
.gjr-nav { display: flex; gap: 10px; }
.gjr-nav a { color: var(--gj-accent); text-decoration: none; }
.gjr-nav a:hover { text-decoration: underline; }
.gjr-meta { color: var(--gj-muted); font-size: 12px; }
.gjr-theme { margin-left: auto; font-size: 12px; padding: 2px 8px; }
.gjr-section { margin-top: 14px; border-top: 1px solid var(--gj-border); padding-top: 4px; }
.gjr-section > summary { cursor: pointer; list-style-position: inside; }
.gjr-section > summary h2 { display: inline; font-size: 15px; margin: 0 10px 0 2px; }
.gjr-sub { color: var(--gj-muted); font-size: 12px; }
.gjr-sub-section { margin: 10px 0 4px; }
.gjr-sub-section > summary { cursor: pointer; }
.gjr-sub-section > summary h3, .gjr-card h3 { display: inline; font-size: 13px; margin: 0 8px 0 0; }
.gjr-graphs { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.gjr-graphs > .gj-pane { flex: 1 1 900px; min-width: 0; }
.gjr-graph-hint { color: var(--gj-muted); font-size: 11px; padding: 2px 8px; }
.gjr-graph-status { margin-left: 8px; }
.gjr-graph { overflow: auto; max-height: 80vh; min-height: 120px; padding: 4px; }
.gjr-graph:focus { outline: 1px solid var(--gj-accent); outline-offset: -1px; }
.gjr-graph-msg, .gj-graph-error { color: var(--gj-muted); font-style: italic; padding: 8px; }
.gj-graph-error { color: var(--gj-kw); }
.gjr-graph svg { display: block; margin: 0 auto; }
.gjr-graph svg text { fill: var(--gj-fg); }
.gjr-graph svg .graph > text { fill: var(--gj-muted); }
.gjr-graph svg [stroke="black"] { stroke: var(--gj-muted); }
.gjr-graph svg [fill="black"] { fill: var(--gj-muted); }
.gjr-graph svg [fill="white"] { fill: transparent; }
.gjr-graph svg g.node, .gjr-graph svg g.cluster { cursor: pointer; }
.gjr-graph svg g.gj-hv path, .gjr-graph svg g.gj-hv polygon, .gjr-graph svg g.gj-hv ellipse {
  fill: var(--gj-hv-bg); }
.gjr-graph svg g.gj-hl path, .gjr-graph svg g.gj-hl polygon, .gjr-graph svg g.gj-hl ellipse,
.gjr-graph svg g.gjr-inner-hl path, .gjr-graph svg g.gjr-inner-hl polygon,
.gjr-graph svg g.gjr-inner-hl ellipse {
  fill: var(--gj-hl-bg); stroke: var(--gj-hl-ring); stroke-width: 2.2px; }
.gjr-graph svg g.gjr-inner-hl path, .gjr-graph svg g.gjr-inner-hl polygon { stroke-dasharray: 4 2; }
.gjr-graph svg g.gj-sel path, .gjr-graph svg g.gj-sel polygon, .gjr-graph svg g.gj-sel ellipse {
  fill: var(--gj-sel-bg); stroke: var(--gj-sel-ring); stroke-width: 2.6px; }
.gjr-graph svg g.cluster.gj-hl polygon, .gjr-graph svg g.cluster.gj-hl path,
.gjr-graph svg g.cluster.gj-sel polygon, .gjr-graph svg g.cluster.gj-sel path {
  fill-opacity: 0.45; }
.gjr-zoom { color: var(--gj-muted); font-size: 11px; min-width: 3.2em; text-align: right; }
.gjr-facts { margin: 4px 0; }
.gjr-passes { padding-left: 0; list-style: none; margin: 6px 0; }
.gjr-passes > li { border: 1px solid var(--gj-border); border-radius: 4px; margin: 3px 0; }
.gjr-pass > summary { cursor: pointer; padding: 3px 6px; font-size: 12px; }
.gjr-pass[open] > summary { background: var(--gj-bg2); border-bottom: 1px solid var(--gj-border); }
.gjr-idx { display: inline-block; min-width: 2em; color: var(--gj-faint); text-align: right; }
.gjr-pipeline { color: var(--gj-muted); }
.gjr-pass-name { font-family: var(--gj-font); font-weight: 600; color: var(--gj-prim); }
.gjr-pass-summary { color: var(--gj-fg); }
.gjr-time { color: var(--gj-faint); float: right; }
.gjr-badge {
  display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 8px; font-size: 11px;
  background: var(--gj-hl-bg); color: var(--gj-accent); font-family: var(--gj-ui-font);
  font-weight: 600;
}
.gjr-estimate { background: var(--gj-sel-bg); color: var(--gj-fg); }
.gjr-pass-body { padding: 4px 10px 8px; }
.gjr-pass-body h4 { margin: 8px 0 2px; font-size: 12px; }
.gjr-list { margin: 2px 0; padding-left: 20px; columns: 2 360px; font-size: 12px; }
.gjr-textdiff > summary, .gjr-skipped > summary, .gjr-kernel > summary {
  cursor: pointer; font-size: 12px; }
.gjr-diff, .gjr-asm, .gjr-notice {
  font-family: var(--gj-font); font-size: var(--gj-font-size); line-height: 1.4; margin: 4px 0;
  max-height: 60vh; overflow: auto; background: var(--gj-bg2); padding: 6px 8px;
  border: 1px solid var(--gj-border); border-radius: 4px; white-space: pre;
}
.gjr-notice { white-space: pre-wrap; font-size: 11px; }
.gjr-add { background: var(--gjr-add); display: inline-block; min-width: 100%; }
.gjr-del { background: var(--gjr-del); display: inline-block; min-width: 100%; }
.gjr-hunk { color: var(--gj-accent); background: var(--gjr-hunk); display: inline-block;
  min-width: 100%; }
.gjr-skipped-list {
  color: var(--gj-muted); font-size: 12px; font-family: var(--gj-font); padding: 4px 8px; }
.gjr-table { border-collapse: collapse; font-size: 12px; margin: 4px 0; }
.gjr-table th, .gjr-table td {
  border-bottom: 1px solid var(--gj-border); padding: 2px 10px 2px 4px; text-align: left;
  vertical-align: top;
}
.gjr-table th { color: var(--gj-muted); font-weight: 600; }
.gjr-cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0; }
.gjr-card {
  border: 1px solid var(--gj-border); border-radius: 6px; padding: 6px 10px; flex: 1 1 300px;
  background: var(--gj-bg);
}
.gjr-card .gj-note { font-size: 11px; max-width: 60ch; }
.gjr-kernel-pane { margin-top: 6px; }
.gjr-kernel-body { padding: 4px 8px; overflow: auto; }
.gjr-kernel-pane tr[data-hlo-opt] { cursor: pointer; }
.gjr-kernel-pane tr.gj-hl, .gjr-kernel-pane tr.gj-hv { background: var(--gj-hl-bg); }
.gjr-kernel-pane tr.gj-sel { background: var(--gj-sel-bg); }
.gjr-share { display: inline-flex; align-items: center; gap: 6px; min-width: 160px; }
.gjr-share .gjr-bar { display: inline-block; height: 8px; background: var(--gj-accent);
  border-radius: 2px; max-width: 100px; }
.gj-root code { font-family: var(--gj-font); }
"""

_JS = r"""
(function () {
  "use strict";
  var root = document.getElementById("gjr-root");
  if (!root) return;
  var ATTR = {jaxpr: "data-eqn", hlo_opt: "data-hlo-opt", hlo: "data-hlo"};
  var linker = root.__gjLinker || (window.GlassjaxLinker && GlassjaxLinker.init(root));
  var THEME_KEY = "glassjax-report-theme";

  /* theme: auto (the system's), light, dark */
  var themeBtn = root.querySelector("[data-gjr-theme]");
  var MODES = ["auto", "light", "dark"], BODY = {auto: "", light: "#ffffff", dark: "#0d1117"};
  function store(mode) {
    try { window.localStorage.setItem(THEME_KEY, mode); } catch (e) { /* file:// may refuse */ }
  }
  function stored() {
    try { return window.localStorage.getItem(THEME_KEY); } catch (e) { return null; }
  }
  function setTheme(mode) {
    if (mode === "auto") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", mode);
    themeBtn.setAttribute("data-gjr-theme", mode);
    themeBtn.textContent = "theme: " + mode;
    document.body.style.background = BODY[mode];
  }
  var initial = root.getAttribute("data-theme") || stored();
  setTheme(MODES.indexOf(initial) >= 0 ? initial : "auto");
  themeBtn.addEventListener("click", function () {
    var i = MODES.indexOf(themeBtn.getAttribute("data-gjr-theme"));
    var mode = MODES[(i + 1) % MODES.length];
    setTheme(mode);
    store(mode);
  });

  /* The source pane starts a few lines above its first line with work, the HLO panes
     at their ENTRY computation. */
  function startAt(box, el, lines) {
    if (!box || !el) return;
    var lh = parseFloat(getComputedStyle(box).lineHeight) || 16;
    box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - lines * lh;
  }
  var src = root.querySelector('.gj-panes > .gj-pane[data-kind="source"] .gj-code');
  startAt(src, src && src.querySelector(".gj-work"), 4);
  ["hlo", "hlo_opt"].forEach(function (kind) {
    var box = root.querySelector('.gj-panes > .gj-pane[data-kind="' + kind + '"] .gj-code');
    startAt(box, box && box.querySelector("details.gj-entry > summary"), 0.3);
  });

  /* graphs: each view's DOT is a list of indices into the graph's shared lines */
  var data = JSON.parse(document.getElementById("gjr-graph-data").textContent);
  var panes = Array.prototype.slice.call(root.querySelectorAll(".gjr-graph-pane"));
  var layout = null;
  try {
    layout = GlassjaxGraphLayout.create(document.getElementById("gjr-graphviz").textContent,
                                        {timeoutMs: 30000});
  } catch (e) { layout = null; }

  function dotOf(g, key) {
    return g.views[key].map(function (i) { return g.lines[i]; }).join("\n");
  }

  function findIn(pane, attr, key) {
    var els = pane.querySelectorAll("[" + attr + "]");
    for (var i = 0; i < els.length; i++) if (els[i].getAttribute(attr) === key) return els[i];
    return null;
  }

  /* After a graph is drawn anew: the linker caches the elements it highlights, so drop
     its cache, and select again what was selected (its new node, if it was in the old
     drawing) so that the new nodes are highlighted too. */
  function refreshSelection() {
    if (!linker) return;
    linker.index = {};
    var cur = linker.current;
    if (cur && !cur.isConnected) {
      var svg = cur.ownerSVGElement, pane = svg && svg.__gjrPane;
      var attr = pane && ATTR[pane.getAttribute("data-kind")];
      var key = attr ? cur.getAttribute(attr) : null;
      cur = key !== null ? findIn(pane, attr, key) : null;
    }
    linker.reset();
    if (cur) linker.select(cur);
    sync(null);
  }

  /* "fit": as wide as the pane (never above 100%, never below 60%); else a factor. */
  function zoom(pane, how) {
    var st = pane.__gjr, box = pane.querySelector(".gjr-graph"), svg = st.last;
    if (!svg || !st.natural || !(st.natural[0] > 0)) return;
    st.fitted = how === "fit";
    st.scale = st.fitted ? Math.max(0.6, Math.min(1, (box.clientWidth - 12) / st.natural[0]))
                         : how;
    svg.style.width = (st.natural[0] * st.scale).toFixed(1) + "px";
    svg.style.height = (st.natural[1] * st.scale).toFixed(1) + "px";
    pane.querySelector(".gjr-zoom").textContent = Math.round(st.scale * 100) + "%";
  }

  function zoomBy(pane, factor) {
    var st = pane.__gjr, box = pane.querySelector(".gjr-graph");
    var cx = box.scrollLeft + box.clientWidth / 2, cy = box.scrollTop + box.clientHeight / 2;
    var old = st.scale, next = Math.min(3, Math.max(0.1, old * factor));
    zoom(pane, next);
    box.scrollLeft = cx * next / old - box.clientWidth / 2;
    box.scrollTop = cy * next / old - box.clientHeight / 2;
  }

  function show(pane, key) {
    var st = pane.__gjr, box = pane.querySelector(".gjr-graph");
    var status = pane.querySelector(".gjr-graph-status");
    if (!layout) { box.textContent = "Graph layout is not available in this browser."; return; }
    st.view = key;
    pane.setAttribute("data-view", key);
    pane.setAttribute("data-laid-out", "pending");
    status.textContent = "laying out\u2026";
    var t0 = Date.now();
    layout.renderInto(box, dotOf(st.g, key), {members: st.g.members}).then(function (svg) {
      st.last = svg;
      svg.__gjrPane = pane;
      st.natural = [parseFloat(svg.getAttribute("width")) * 4 / 3,
                    parseFloat(svg.getAttribute("height")) * 4 / 3];
      zoom(pane, st.fitted ? "fit" : st.scale);
      var closed = svg.querySelectorAll("g.node.gj-collapsed");
      for (var i = 0; i < closed.length; i++)
        if (st.g.views[closed[i].getAttribute("id")]) closed[i].classList.add("gjr-expandable");
      status.textContent = "laid out " + svg.querySelectorAll("g.node").length + " nodes in " +
        ((Date.now() - t0) / 1000).toFixed(2) + " s" +
        (key === "*" ? " (all groups open)" : key ? " (one group open)" : "");
      pane.setAttribute("data-laid-out", "true");
      refreshSelection();
    }, function () {  /* renderInto has put the reason in the pane */
      pane.setAttribute("data-laid-out", "error");
      status.textContent = "";
    });
  }

  panes.forEach(function (pane) {
    pane.__gjr = {g: data[pane.getAttribute("data-graph")], view: "", last: null, scale: 1,
                  fitted: true, natural: null};
    var box = pane.querySelector(".gjr-graph");
    /* A closed group opens on a click, an open group's frame closes it; the click goes on
       to the linker, which selects the node. */
    box.addEventListener("click", function (ev) {
      var t = ev.target instanceof Element ? ev.target : null;
      var el = t && t.closest("g.node, g.cluster");
      if (!el) return;
      var id = el.getAttribute("id"), st = pane.__gjr, cls = el.classList;
      if (cls.contains("node") && cls.contains("gj-collapsed") && st.g.views[id]) show(pane, id);
      else if (cls.contains("cluster") && id in st.g.collapse) show(pane, st.g.collapse[id]);
      else if (cls.contains("cluster") && st.view === "*") show(pane, "");
    });
    pane.querySelector(".gj-pane-tools").addEventListener("click", function (ev) {
      var btn = ev.target instanceof Element ? ev.target.closest("[data-gjr-act]") : null;
      var act = btn && btn.getAttribute("data-gjr-act");
      if (act === "collapse") show(pane, "");
      else if (act === "expand") show(pane, "*");
      else if (act === "fit") zoom(pane, "fit");
      else if (act === "in") zoomBy(pane, 1.25);
      else if (act === "out") zoomBy(pane, 0.8);
    });
    show(pane, "");
  });

  function keysOf(kind) {
    var attr = ATTR[kind], out = new Set(), sel = '.gj-pane[data-kind="' + kind + '"] ';
    var els = root.querySelectorAll(sel + ".gj-hl, " + sel + ".gj-sel");
    for (var i = 0; i < els.length; i++) {
      var k = els[i].getAttribute(attr);
      if (k !== null) out.add(k);
    }
    return out;
  }

  function scrollInto(box, el) {
    var b = box.getBoundingClientRect(), r = el.getBoundingClientRect();
    if (r.top >= b.top && r.bottom <= b.bottom && r.left >= b.left && r.right <= b.right) return;
    box.scrollTop += (r.top + r.bottom) / 2 - (b.top + b.bottom) / 2;
    box.scrollLeft += (r.left + r.right) / 2 - (b.left + b.right) / 2;
  }

  /* The linker counts partners per kind; with a graph beside a text pane of the same
     kind, each pane's head says its own count instead of their sum. */
  function recount() {
    var stage = Array.prototype.slice.call(root.querySelectorAll(".gj-panes > .gj-pane"));
    var tabs = root.querySelectorAll(".gj-tab .gj-tab-count");
    var all = root.querySelectorAll(".gj-pane[data-kind]");
    for (var i = 0; i < all.length; i++) {
      var head = all[i].querySelector(".gj-count");
      if (!head || !/^\d+ linked$/.test(head.textContent)) continue;
      var n = all[i].querySelectorAll(".gj-hl, .gjr-inner-hl").length;
      head.textContent = n ? n + " linked" : "no partner drawn here";
      var t = stage.indexOf(all[i]);
      if (t >= 0 && tabs[t]) tabs[t].textContent = String(n);
    }
  }

  /* Closed groups holding highlighted members are marked too; each graph scrolls to
     its first highlighted node unless the click was in it. */
  function sync(origin) {
    panes.forEach(function (pane) {
      var keys = keysOf(pane.getAttribute("data-kind"));
      var groups = pane.querySelectorAll("[data-members]");
      for (var i = 0; i < groups.length; i++) {
        var g = groups[i], hit = false;
        if (keys.size && !g.classList.contains("gj-hl") && !g.classList.contains("gj-sel")) {
          var ms = g.getAttribute("data-members").split(" ");
          for (var j = 0; j < ms.length && !hit; j++) hit = keys.has(ms[j]);
        }
        g.classList.toggle("gjr-inner-hl", hit);
      }
      if (origin && pane.contains(origin)) return;
      var first = pane.querySelector("svg .gj-hl, svg .gjr-inner-hl");
      if (first) scrollInto(pane.querySelector(".gjr-graph"), first);
    });
    recount();
  }

  root.addEventListener("click", function (ev) { sync(ev.target); });
  root.addEventListener("keyup", function (ev) {
    if (ev.key === "Enter" || ev.key === " " || ev.key === "Escape") sync(ev.target);
  });
  window.GlassjaxReport = {panes: panes, show: show, setTheme: setTheme, sync: sync};
})();
"""
