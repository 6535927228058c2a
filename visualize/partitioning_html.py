"""HTML of a ``PartitioningView``: the arrays' layouts (per-device shapes and an
interactive sharding view each), the sharding annotations, the collectives XLA
inserted (each linked to its line in the partitioned module, its user source line and
the annotations naming its mesh axes), the module before and after partitioning with
those lines highlighted, and the partitioner's passes with their diffs.

    html = partitioning_html(partitioning(jit(f), x))
"""

from __future__ import annotations

import html
import itertools
from typing import Any

from .cells import short_location
from .partitioning import Collective, PartitioningView, count_collectives
from .sharding_view import SHARDING_CSS, sharding_html, sharding_model

MAX_MODULE_LINES = 4000
MAX_DIFF_LINES = 1500
MAX_GROUPS_SHOWN = 8
_uids = itertools.count()
DASH = "\u2014"

PARTITIONING_CSS = (
    SHARDING_CSS
    + """
.gjp-root { font-family: var(--gj-ui-font, sans-serif); font-size: 12px; }
.gjp-root h3 { font-size: 13px; margin: 10px 0 4px; }
.gjp-table { border-collapse: collapse; margin: 4px 0; }
/* class doubled: JupyterLab right-aligns output tables' cells with a (0,2,1) selector */
.gjp-table.gjp-table td, .gjp-table.gjp-table th { border: 1px solid #8886; padding: 1px 6px;
  text-align: left; vertical-align: top; }
.gjp-table code, .gjp-code { font-family: var(--gj-font, monospace); }
.gjp-badge { display: inline-block; padding: 0 6px; margin-right: 4px; border-radius: 8px;
  font-weight: 600; background: #d4a72c33; white-space: nowrap; }
.gjp-code { white-space: pre; overflow: auto; max-height: 420px; border: 1px solid #8886;
  padding: 2px 4px; margin: 0; }
.gjp-code > span { display: block; }
.gjp-links { display: block; border: 0; background: none; }
.gjp-links tr[data-hlo-opt] { cursor: pointer; }
.gjp-ann { background: #54aeff33; }
.gjp-coll { background: #d4a72c44; font-weight: 600; }
.gjp-code > span:target { outline: 2px solid #0969da; }
.gjp-panes { display: flex; flex-wrap: wrap; gap: 8px; }
.gjp-panes > div { flex: 1 1 480px; min-width: 0; }
.gjp-layouts { display: flex; flex-wrap: wrap; gap: 12px; }
.gjp-layouts > div { flex: 0 1 360px; }
.gjp-diff .gjp-add { background: #2da44e2e; } .gjp-diff .gjp-del { background: #cf222e26; }
"""
)


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _table(head: list[str], rows: list[list[str]], row_attrs: list[str] | None = None) -> str:
    out = ['<table class="gjp-table"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    attrs = row_attrs or [""] * len(rows)
    out += [
        f"<tr{a}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for a, row in zip(attrs, rows)
    ]
    out.append("</tbody></table>")
    return "".join(out)


def _source(src: Any) -> str:
    if not src:
        return "\u2014"
    file, line = src[0], src[1]
    fn = f" ({src[2]})" if len(src) > 2 and src[2] else ""
    return f'<code title="{_e(file)}">{_e(short_location(file, line))}{_e(fn)}</code>'


def _groups(c: Collective) -> str:
    shown = ", ".join("{" + ",".join(map(str, g)) + "}" for g in c.groups[:MAX_GROUPS_SHOWN])
    more = (
        f" \u2026 +{len(c.groups) - MAX_GROUPS_SHOWN}" if len(c.groups) > MAX_GROUPS_SHOWN else ""
    )
    return f"<code>{_e(shown or 'all partitions')}{_e(more)}</code>"


def _code(text: str, uid: str, side: str, marks: dict[int, str], limit: int) -> str:
    lines = text.splitlines()
    out = [f'<pre class="gjp-code" id="{uid}-{side}">']
    for no, line in enumerate(lines[:limit]):
        cls = marks.get(no)
        attr = f' class="{cls}"' if cls else ""
        out.append(f'<span id="{uid}-{side}-{no}"{attr}>{_e(line) or " "}</span>')
    if len(lines) > limit:
        out.append(f"<span>\u2026 {len(lines) - limit} more lines</span>")
    out.append("</pre>")
    return "".join(out)


def _diff(text: str) -> str:
    lines = text.splitlines()
    out = ['<pre class="gjp-code gjp-diff">']
    for line in lines[:MAX_DIFF_LINES]:
        cls = ""
        if line.startswith("+") and not line.startswith("+++"):
            cls = ' class="gjp-add"'
        elif line.startswith("-") and not line.startswith("---"):
            cls = ' class="gjp-del"'
        out.append(f"<span{cls}>{_e(line) or ' '}</span>")
    if len(lines) > MAX_DIFF_LINES:
        out.append(f"<span>\u2026 {len(lines) - MAX_DIFF_LINES} more lines</span>")
    out.append("</pre>")
    return "".join(out)


def _link(uid: str, side: str, line: int | None, text: str, limit: int) -> str:
    if line is None or line >= limit:  # no line, or one past what the page shows
        return _e(text)
    return f'<a href="#{uid}-{side}-{line}"><code>{_e(text)}</code></a>'


def _layouts_html(view: PartitioningView, uid: str) -> str:
    rows, views = [], []
    for a in view.inputs + view.outputs:
        rows.append(
            [
                _e(f"{a.kind} {a.index}"),
                f"<code>{_e(a.dtype)}{_e(list(a.global_shape))}</code>",
                f"<code>{_e(a.spec or DASH)}</code>",
                f"<code>{_e(DASH if a.per_device_shape is None else list(a.per_device_shape))}</code>",
                f"<code>{_e(a.hlo_sharding or '')}</code>",
            ]
        )
        if a.sharding is not None and hasattr(a.sharding, "devices_indices_map"):
            try:
                model = sharding_model(a.global_shape, a.sharding, a.dtype)
            except Exception as e:  # a layout the model cannot draw: say so, keep the page
                views.append(f"<div>{_e(a.kind)} {a.index}: {_e(type(e).__name__)}: {_e(e)}</div>")
                continue
            views.append(
                "<div>"
                + sharding_html(
                    model,
                    title=f"{a.kind} {a.index}: {a.dtype}{list(a.global_shape)} {a.spec or ''}",
                    uid=f"{uid}-layout-{a.kind}-{a.index}",
                    styles=False,
                )
                + "</div>"
            )
    table = _table(["", "global", "spec", "per device", "HLO sharding"], rows)
    return table + f'<div class="gjp-layouts">{"".join(views)}</div>'


def _collectives_html(view: PartitioningView, uid: str, limit: int) -> str:
    if not view.collectives:
        return "<p>XLA inserted no collectives: every device computes its blocks alone.</p>"
    rows = []
    for c in view.collectives:
        causes = ", ".join(_link(uid, "before", a.line, a.where, limit) for a in c.caused_by)
        rows.append(
            [
                f'<span class="gjp-badge">{_e(c.kind)}</span>',
                _link(uid, "after", c.line, c.name, limit),
                f"<code>{_e(c.shape)}</code>",
                _e(", ".join(c.mesh_axes) if c.mesh_axes else "\u2014"),
                _groups(c),
                _source(c.source),
                f"<code>{_e(c.op_name or '')}</code>",
                causes or "\u2014",
            ]
        )
    head = ["kind", "instruction", "per-device shape", "mesh axes", "groups (partitions)"]
    head += ["source line", "equation", "annotations naming those axes"]
    # In a page with Glassjax's linker (the report, the explorer), a pane of the optimized
    # HLO's kind links each row (data-hlo-opt) to its instruction and source line.
    table = _table(head, rows, [f' data-hlo-opt="{_e(c.name)}"' for c in view.collectives])
    return f'<div class="gj-pane gjp-links" data-kind="hlo_opt">{table}</div>'


def _annotations_html(view: PartitioningView, uid: str, limit: int) -> str:
    if not view.annotations:
        return "<p>No sharding annotations: XLA chose every layout.</p>"
    rows = [
        [
            _link(uid, "before", a.line, a.where, limit),
            f"<code>{_e(a.text)}</code>",
            _e(", ".join(a.axes) or "replicated"),
            _source(a.source),
        ]
        for a in view.annotations
    ]
    return _table(["where", "annotation", "mesh axes", "source line"], rows)


def _passes_html(view: PartitioningView) -> str:
    if not view.passes:
        return "<p>No pass timeline (compiled without XLA's per-pass dump).</p>"
    out = []
    for s in view.passes:
        try:
            counts = count_collectives(s.module)
            tally = ", ".join(f"{k} {n}" for k, n in counts.items()) or "no collectives"
        except Exception as e:  # a dump the HLO parser does not read
            tally = f"collectives not counted ({type(e).__name__})"
        out.append(
            f"<details><summary><code>{_e(s.pipeline or '')}</code> / "
            f"<b>{_e(s.pass_name)}</b> \u2014 {_e(tally)}</summary>{_diff(s.text_diff)}</details>"
        )
    return "".join(out)


def partitioning_html(
    view: PartitioningView,
    *,
    uid: str | None = None,
    styles: bool = True,
    max_module_lines: int = MAX_MODULE_LINES,
) -> str:
    """The view as one HTML fragment (all user text escaped). ``styles=False`` leaves out
    the ``<style>`` block (``PARTITIONING_CSS``), for pages that include it once;
    ``max_module_lines``: lines shown of each module (pages that show the modules in
    full elsewhere keep this small)."""
    uid = uid or f"gjp-{next(_uids)}"
    mesh = ", ".join(f"{n}={k}" for n, k in zip(view.axis_names, view.axis_sizes))
    counts = view.counts()
    badges = "".join(f'<span class="gjp-badge">{_e(k)} \u00d7{n}</span>' for k, n in counts.items())
    before_marks = {a.line: "gjp-ann" for a in view.annotations if a.line is not None}
    after_marks = {c.line: "gjp-coll" for c in view.collectives if c.line is not None}
    for ins in view.module.entry.instructions if view.module.entry else []:
        if ins.opcode == "parameter" and "sharding" in ins.attributes and ins.line is not None:
            after_marks.setdefault(ins.line, "gjp-ann")
    style = f"<style>{PARTITIONING_CSS}</style>" if styles else ""
    return (
        f'{style}<div class="gjp-root" id="{_e(uid)}">'
        f"<p><b>jit({_e(view.fun_name)})</b> over {view.num_partitions} partitions"
        f"{f' (mesh {_e(mesh)})' if mesh else ''}: {badges or 'no collectives'}</p>"
        f"<h3>Arrays: global and per-device shapes</h3>{_layouts_html(view, uid)}"
        f"<h3>Sharding annotations (lowered StableHLO)</h3>{_annotations_html(view, uid, max_module_lines)}"
        f"<h3>Collectives XLA inserted</h3>{_collectives_html(view, uid, max_module_lines)}"
        f'<h3>Before and after partitioning</h3><div class="gjp-panes">'
        f"<div><b>StableHLO with sharding annotations</b>"
        f"{_code(view.before, uid, 'before', before_marks, max_module_lines)}</div>"
        f"<div><b>XLA's partitioned, optimized HLO (per-device shapes)</b>"
        f"{_code(view.after, uid, 'after', after_marks, max_module_lines)}</div></div>"
        f"<h3>Partitioner passes</h3>{_passes_html(view)}</div>"
    )
