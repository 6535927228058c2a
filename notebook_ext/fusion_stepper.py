"""The fusion stepper: a slider over XLA's optimization passes of one program.

    s = fusion_stepper(step, params, x, y)   # or fusion_stepper(jit(step).lower(...))
    len(s.visible_steps)           # the passes that changed the module (default)
    s.show_unchanged = True        # ... and every other pass XLA ran, unchanged
    s.go(s.find("fusion")[0])      # jump to a pass; s.next(), s.prev()
    s.current.diff.fused           # what that pass moved into fusions
    s.state()                      # what the view shows: summary, fused, fusions -> lines

Each step shows the pass's structural summary and unified text diff, the module's
dataflow graph after it (fusions as clusters; nodes the pass added or rewrote outlined;
drawn in the module's instruction order, so nodes keep their places between steps as
far as Graphviz allows), and every fusion with the source lines its work came from,
linked: click a fusion (in the graph or the list) to light up its lines, or a line to
light up its fusions.

XLA is asked to dump the module after *every* pass (``xla_dump_hlo_pass_re=".+"``);
the passes whose module text did not change are the hidden ones. That compile is made
once per program (``pass_timeline``): every stepper of the same ``Lowered`` stage shares
it, and it is not counted as a compile of the function (it is a view's, not cached).
"""

from __future__ import annotations

import collections
import linecache
import threading
import uuid

import ipywidgets as widgets

from engine.stages import Lowered
from visualize.cells import cell_label, display_name

from .explorer import GRAPH_CSS, graph_pane, graph_sub, js_string, json_script, tool_jit
from .rich_display import BuildingWidget, escape, set_html, style_tag
from .static_form import StaticMirror

ALL_PASSES = {"xla_dump_hlo_pass_re": ".+"}
MAX_DIFF_LINES = 3000
_TIMELINES_KEPT = 4  # pass timelines kept per kernel (each holds every pass's module)
_timelines: collections.OrderedDict = collections.OrderedDict()
_timelines_lock = threading.Lock()


def pass_timeline(lowered: Lowered, compiler_options: dict | None = None):
    """XLA's module after every pass of a ``Lowered`` stage (``visualize.PassTimeline``).

    The compile that dumps every pass is made once per stage and options and shared by
    every stepper of that program: the notebook's ``fusion_stepper`` and the main-area
    explorer's pass stepper of the same cached program compile it once between them."""
    key = (id(lowered), tuple(sorted((compiler_options or {}).items())))
    with _timelines_lock:
        kept = _timelines.get(key)
        if kept is not None and kept[0] is lowered:
            _timelines.move_to_end(key)
            return kept[1]
    import visualize

    timeline = visualize.compile_with_passes(lowered, compiler_options=compiler_options)
    with _timelines_lock:
        kept = _timelines.get(key)
        if kept is not None and kept[0] is lowered:  # another thread compiled it meanwhile
            return kept[1]
        _timelines[key] = (lowered, timeline)
        while len(_timelines) > _TIMELINES_KEPT:
            _timelines.popitem(last=False)
    return timeline


class PassView:
    """One position of the slider: a pass that changed the module (``changed``, with
    ``diff`` and ``text_diff``) or one that left it as it was."""

    def __init__(self, order, *, step=None, dump=None, previous=None):
        self.order = order
        self.step = step
        if step is not None:
            self.seq, self.pipeline, self.pass_name = step.seq, step.pipeline, step.pass_name
            self.label, self.kind, self.text = step.label, step.kind, step.text
            self.changed = True
        else:
            self.seq, self.pipeline, self.pass_name = (
                dump["seq"],
                dump["pipeline"],
                dump["pass_name"],
            )
            self.label, self.kind, self.text = dump["label"], dump["kind"], dump["text"]
            self.changed = False
        self.previous = previous  # the changed PassView before it (module unchanged since)
        self._own_module = None

    def __repr__(self):
        where = f"{self.pipeline}/" if self.pipeline else ""
        state = "" if self.changed else " (unchanged)"
        return f"<PassView {self.order}: {where}{self.pass_name}{state}>"

    @property
    def title(self):
        return f"{self.pipeline} / {self.label}" if self.pipeline else self.label

    @property
    def diff(self):
        return self.step.diff if self.step is not None else None

    @property
    def text_diff(self):
        return self.step.text_diff if self.step is not None else ""

    @property
    def module(self):
        if self.step is not None:
            return self.step.module
        if self.previous is not None:
            return self.previous.module
        # a pass before the first one that changed anything: the module as it came in
        if self._own_module is None:
            from visualize.hlo_model import parse_hlo_module

            self._own_module = parse_hlo_module(self.text)
        return self._own_module

    @property
    def summary(self):
        if not self.changed:
            return "no change: the module after this pass is the module before it"
        d = self.diff
        if d is None:
            return f"changed (the structural diff failed: {self.step.diff_error})"
        return d.summary()

    @property
    def fused(self):
        d = self.diff
        return list(d.fused) if d is not None else []

    @property
    def fusions_created(self):
        d = self.diff
        return list(d.fusions_created) if d is not None else []

    @property
    def is_fusion_pass(self):
        return self.step is not None and self.step.is_fusion_pass

    @property
    def is_partitioner_pass(self):
        """A step of XLA's sharding and SPMD-partitioning pipelines."""
        from visualize.partitioning import PARTITIONER_PASS

        return bool(PARTITIONER_PASS.search(f"{self.pipeline or ''} {self.pass_name or ''}"))

    @property
    def collectives(self):
        """{kind: count} of the collectives in the module after this pass."""
        from visualize.partitioning import count_collectives

        return count_collectives(self.module)

    def changed_names(self):
        """{instruction name: css class} of what this pass added or rewrote."""
        d = self.diff
        if d is None:
            return {}
        out = {a["name"]: "gjx-changed" for a in d.added}
        out.update({r["name"]: "gjx-changed" for r in d.rewritten})
        out.update({f["name"]: "gjx-changed" for f in d.fusions_created})
        return out


def diff_html(text, max_lines=MAX_DIFF_LINES):
    lines = text.splitlines()
    cut = len(lines) - max_lines
    out = []
    for ln in lines[:max_lines]:
        cls = (
            "gjx-hunk"
            if ln.startswith("@@")
            else "gjx-add"
            if ln.startswith("+") and not ln.startswith("+++")
            else "gjx-del"
            if ln.startswith("-") and not ln.startswith("---")
            else ""
        )
        out.append(f'<span class="{cls}">{escape(ln)}</span>' if cls else escape(ln))
    if cut > 0:
        out.append(f"\u2026 {cut} more lines")
    return f'<pre class="gjx-diff">{chr(10).join(out)}</pre>'


def _line_code(file, line):
    return linecache.getline(file, line).rstrip("\n")


def _short_name(file):
    """A notebook cell as "In [5]" (not IPython's temporary file), else the file name."""
    return cell_label(file) or file.rsplit("/", 1)[-1]


class FusionStepper(StaticMirror, BuildingWidget, widgets.VBox):
    """See the module docstring. State: ``timeline`` (visualize.PassTimeline), ``steps``
    (every PassView), ``visible_steps``, ``position``, ``current``, ``show_unchanged``,
    ``error``. Displayed, it also shows a static copy: the current pass's full view and
    every shown pass's summary and diff, steppable without a kernel."""

    static_kind = "pass stepper"

    def __init__(
        self,
        f,
        *args,
        show_unchanged=False,
        all_passes=True,
        graph_layout="auto",
        lazy=None,
        **kwargs,
    ):
        super().__init__()
        self.add_class("gjx")
        if isinstance(f, Lowered) and (args or kwargs):
            raise TypeError("fusion_stepper(lowered) takes no example arguments")
        self.f, self.args, self.kwargs = f, args, kwargs
        if isinstance(f, Lowered):
            self.name = f.fun_name
        else:
            self.name = getattr(f, "__name__", None) or type(f).__name__
        self.all_passes, self.graph_layout = all_passes, graph_layout
        self.timeline = None
        self.steps = []
        self._cache = {}
        self._jaxpr = self._mlir = None
        self._quiet = False
        self.uid = "gjx-" + uuid.uuid4().hex[:10]
        self.header = widgets.HTML(
            f'{style_tag()}<span class="gjx-title">XLA passes of '
            f"<code>{escape(self.name)}</code></span>"
        )
        self.slider = widgets.IntSlider(
            min=0,
            max=0,
            value=0,
            description="pass",
            continuous_update=False,
            readout=False,  # the slider's index counts from 0; `counter` says "k of n"
            layout=widgets.Layout(width="420px"),
        )
        self.counter = widgets.Label("", layout=widgets.Layout(min_width="7em"))
        self.play = widgets.Play(min=0, max=0, value=0, interval=1500, description="play")
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.prev_button = widgets.Button(description="\u25c0 prev", layout={"width": "80px"})
        self.next_button = widgets.Button(description="next \u25b6", layout={"width": "80px"})
        self.unchanged_box = widgets.Checkbox(
            value=show_unchanged, indent=False, description="show passes that changed nothing"
        )
        self.info = widgets.HTML()
        self.view = widgets.Output(layout=widgets.Layout(width="100%"))
        self._make_progress()
        self.children = [
            self.header,
            widgets.HBox(
                [
                    self.play,
                    self.prev_button,
                    self.slider,
                    self.counter,
                    self.next_button,
                    self.unchanged_box,
                ],
                layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self.progress_box,
            self.error_view,
            self.info,
            self.view,
        ]
        self.slider.observe(self._on_slider, "value")
        self.unchanged_box.observe(self._on_unchanged, "value")
        self.prev_button.on_click(lambda _: self.prev())
        self.next_button.on_click(lambda _: self.next())
        self._start(lazy)

    def _what(self):
        return f"compiling {self.name} pass by pass"

    def close_views(self):
        """Close this widget and every widget inside it (their front-end models)."""
        for w in (self, *self.children):
            for child in getattr(w, "children", ()):
                child.close()
            w.close()

    # -- building
    def build(self):
        from visualize.jaxpr_model import JaxprModel
        from visualize.mlir_model import parse_mlir_module

        self._step(0, 4, "tracing and lowering")
        if isinstance(self.f, Lowered):
            lowered = self.f
        else:
            lowered = tool_jit(self.f).lower(*self.args, **self.kwargs)
        self._step(1, 4, "compiling with XLA, keeping the module after every pass")
        self.timeline = pass_timeline(lowered, ALL_PASSES if self.all_passes else None)
        self._step(2, 4, "reading the passes")
        self._jaxpr = JaxprModel(lowered.traced.jaxpr)
        self._mlir = parse_mlir_module(lowered.mlir_text, lowered.lowering_info)
        self.steps = self._make_steps(self.timeline)
        self._step(3, 4, "drawing the first step")
        self._sync_slider(0, count=False)
        self.render()
        self._count()

    @staticmethod
    def _make_steps(timeline):
        by_seq = [(s.seq, s) for s in timeline.passes if s.seq is not None]
        merged = sorted(
            [(seq, 0, s) for seq, s in by_seq] + [(d["seq"], 1, d) for d in timeline.skipped],
            key=lambda t: t[:2],
        )
        merged += [(None, 0, s) for s in timeline.passes if s.seq is None]
        steps, last = [], None
        for _, is_dump, item in merged:
            if is_dump:
                steps.append(PassView(len(steps), dump=item, previous=last))
            else:
                last = PassView(len(steps), step=item)
                steps.append(last)
        return steps

    # -- navigation
    @property
    def show_unchanged(self):
        return self.unchanged_box.value

    @show_unchanged.setter
    def show_unchanged(self, value):
        self.unchanged_box.value = bool(value)

    @property
    def visible_steps(self):
        self.ensure_built()
        return [s for s in self.steps if s.changed or self.show_unchanged]

    @property
    def position(self):
        return self.slider.value

    @property
    def current(self):
        vis = self.visible_steps
        return vis[self.position] if vis else None

    def go(self, target):
        """Show a step: its index among the visible steps, or a PassView."""
        vis = self.visible_steps
        if isinstance(target, PassView):
            if target not in vis:
                self.show_unchanged = True
                vis = self.visible_steps
            target = vis.index(target)
        if not 0 <= target < len(vis):
            raise IndexError(f"step {target} out of range: {len(vis)} steps shown")
        self.slider.value = target
        return self.current

    def next(self):
        if self.position + 1 < len(self.visible_steps):
            self.slider.value = self.position + 1
        return self.current

    def prev(self):
        if self.position > 0:
            self.slider.value = self.position - 1
        return self.current

    def find(self, name):
        """Steps (all, changed or not) whose pass name is ``name`` or contains it."""
        self.ensure_built()
        exact = [s for s in self.steps if s.pass_name == name]
        return exact or [s for s in self.steps if name in (s.pass_name or "")]

    def partitioner_steps(self):
        """Steps (all, changed or not) of XLA's sharding and SPMD-partitioning passes."""
        self.ensure_built()
        return [s for s in self.steps if s.is_partitioner_pass]

    def _sync_slider(self, value, count=True):
        n = len(self.visible_steps)
        self._quiet = True
        try:
            self.slider.max = self.play.max = max(0, n - 1)
            self.slider.value = min(value, max(0, n - 1))
        finally:
            self._quiet = False
        if count:
            self._count()

    def _count(self):
        n = len(self.visible_steps)
        self.counter.value = f"{self.slider.value + 1} of {n}" if n else ""

    def _on_slider(self, change):
        # "k of n" is sent after step k's view: a page that reads the counter finds the
        # view it names (laying a graph out takes a while; the counter would run ahead)
        if not self._quiet:
            self.render()
        self._count()

    def _on_unchanged(self, change):
        if not self.steps:
            return
        cur = None
        old_vis = [s for s in self.steps if s.changed or change["old"]]
        if old_vis:
            cur = old_vis[min(self.slider.value, len(old_vis) - 1)]
        new_vis = self.visible_steps
        if cur is not None and cur not in new_vis:
            cur = cur.previous
        self._sync_slider(new_vis.index(cur) if cur in new_vis else 0, count=False)
        self.render()
        self._count()

    # -- what a step shows
    def state(self, step=None):
        """What the view shows for a step (the current one by default): its title,
        summary, fused instructions, created fusions, the graph, and for every fusion
        of the module the source lines its work came from."""
        step = step or self.current
        if step is None:
            return None
        key = id(step.module)
        if key not in self._cache:
            self._cache[key] = self._module_state(step.module)
        ms = self._cache[key]
        vis = self.visible_steps
        return {
            "title": step.title,
            "pass": step.pass_name,
            "pipeline": step.pipeline,
            "changed": step.changed,
            "position": vis.index(step) if step in vis else None,
            "of": len(vis),
            "summary": step.summary,
            "fused": step.fused,
            "fusions_created": step.fusions_created,
            "text_diff": step.text_diff,
            "graph": ms["graph"],
            "fusion_lines": ms["fusion_lines"],
            "link_table": ms["table"],
            "partitioner": step.is_partitioner_pass,
            "collectives": step.collectives,
        }

    def _module_state(self, module):
        from visualize import graph as G
        from visualize import render_html as R
        from visualize.source_map import SourceMap

        sm = SourceMap(self._jaxpr, self._mlir, None, module)
        table = R.link_table(sm)
        fusion_lines = {}
        if module.entry is not None:
            for ins in module.entry.instructions:
                if ins.opcode == "fusion":
                    fusion_lines[ins.name] = sm.lines_for_instruction(ins.name)
        graph = G.hlo_graph(module, id_prefix=self.uid + "-")
        return {
            "graph": graph,
            "fusion_lines": fusion_lines,
            "table": table,
            "sm": sm,
            "module": module,
        }

    def render(self):
        step = self.current
        if step is None:
            self.info.value = '<div class="gjx-note">no passes to show</div>'
            return
        st = self.state(step)
        self.info.value = self._info_html(step, st)
        page = self._page_html(step, st)
        self.page_html = page
        set_html(self.view, page, f"{st['title']}: {st['summary']}")
        self.refresh_static()

    page_html = ""

    # -- static copy
    def static_text(self):
        step = self.current if self._built else None
        where = f": {step.title}" if step is not None else ""
        return f"XLA pass stepper of {self.name}{where}"

    def static_html(self):
        from visualize.static_steps import deck_limit, deck_window, step_deck

        if self.error is not None:
            return self.error_view.value
        if not self._built or self.current is None:
            return f'{style_tag()}<div class="gjx-note">{escape(self.static_text())}</div>'
        vis = self.visible_steps
        cache = self.__dict__.setdefault("_info_cache", {})
        # the saved pass carries its graph and panes; the others their summary and diff
        limit = deck_limit(4 * len(diff_html(self.current.text_diff or "")) + 2000)
        (window,) = deck_window([len(vis)], (0, self.position), limit)
        bodies = []
        for i in window:
            step = vis[i]
            key = (step.order, len(vis))
            if key not in cache:
                light = {
                    "title": step.title,
                    "position": i,
                    "of": len(vis),
                    "summary": step.summary,
                    "fused": step.fused,
                    "fusions_created": step.fusions_created,
                    "text_diff": step.text_diff,
                }
                cache[key] = self._info_html(step, light).replace(style_tag(), "", 1)
            body = cache[key]
            if i == self.position:  # the saved pass also keeps its graph and panes
                body = self.info.value.replace(style_tag(), "", 1) + self.page_html.replace(
                    self.uid, self.uid + "-saved"
                )
            bodies.append(body)
        deck = step_deck(
            [("pass", bodies)],
            (0, self.position),
            title=f"{self.static_text()} (saved; the buttons below step through the passes)",
            first=[window.start],
            totals=[len(vis)],
        )
        return style_tag() + deck

    def _info_html(self, step, st):
        badge = "" if step.changed else ' <span class="gjx-chip">unchanged</span>'
        if step.is_fusion_pass:
            badge += ' <span class="gjx-chip gjx-changed">fusion</span>'
        if st.get("partitioner"):
            badge += ' <span class="gjx-chip gjx-changed">SPMD partitioner</span>'
        if st.get("collectives"):
            badge += "".join(
                f' <span class="gjx-chip">{escape(k)} \u00d7{n}</span>'
                for k, n in st["collectives"].items()
            )
        parts = [
            style_tag(),
            '<div class="gjx">',
            f'<div><span class="gjx-title">{escape(st["title"])}</span>{badge} '
            f'<span class="gjx-muted">step {st["position"] + 1} of {st["of"]}'
            f"{'' if self.show_unchanged else ' changing passes'}</span></div>",
            f"<div>{escape(st['summary'])}</div>",
        ]
        if st["fused"]:
            rows = "".join(
                f"<tr><td><code>{escape(f['name'])}</code></td><td>{escape(f['opcode'])}</td>"
                f"<td><code>{escape(f['shape'])}</code></td>"
                f"<td>{escape(', '.join(f['into']))}</td>"
                f"<td>{escape(f['op_name'] or '')}</td></tr>"
                for f in st["fused"][:400]
            )
            more = (
                f'<div class="gjx-note">\u2026 {len(st["fused"]) - 400} more</div>'
                if len(st["fused"]) > 400
                else ""
            )
            opened = " open" if len(st["fused"]) <= 12 else ""
            parts.append(
                f"<details{opened}><summary>fused instructions ({len(st['fused'])})</summary>"
                '<table class="gjx-table"><tr><th>instruction</th><th>opcode</th><th>shape</th>'
                f"<th>into</th><th>op_name</th></tr>{rows}</table>{more}</details>"
            )
        if st["fusions_created"]:
            chips = "".join(
                f'<span class="gjx-chip gjx-changed">{escape(c["name"])} '
                f"({escape(c.get('kind') or '')}, {c.get('size', '?')} ops)</span>"
                for c in st["fusions_created"][:200]
            )
            parts.append(f"<div>fusions created: {chips}</div>")
        if step.changed:
            n = st["text_diff"].count("\n") + 1
            parts.append(
                f"<details><summary>text diff ({n} lines)</summary>"
                f"{diff_html(st['text_diff'])}</details>"
            )
        parts.append("</div>")
        return "".join(parts)

    def _page_html(self, step, st):
        from visualize.render_html import page_css, page_js

        uid = f"{self.uid}-{step.order}"
        graph = st["graph"]
        pane, how = graph_pane(
            graph,
            uid,
            title="module after this pass",
            sub=graph_sub(graph),
            layout=self.graph_layout,
            extra_classes=step.changed_names(),
        )
        self.graph_how = how
        rows = []
        for name, lines in st["fusion_lines"].items():
            ins = step.module.instruction(name)
            where = ", ".join(f"{_short_name(f)}:{ln}" for f, ln in lines[:8])
            where += " \u2026" if len(lines) > 8 else ""
            rows.append(
                f'<tr data-hlo-opt="{escape(name)}"><td>{escape(name)}</td>'
                f"<td>{escape(ins.fusion_kind or '')}</td>"
                f"<td>{escape(where or 'no source line')}</td></tr>"
            )
        fusions = (
            f'<section class="gj-pane gjx-exe-pane" data-kind="hlo_opt" '
            f'aria-label="fusions"><div class="gj-pane-head"><span class="gj-pane-title">'
            f'fusions</span><span class="gj-pane-sub">{len(rows)}</span>'
            f'<span class="gj-count" aria-live="polite"></span></div>'
            f'<div class="gj-code" tabindex="0" style="white-space:normal">'
            f'<table class="gjx-exe-table"><tr><th>fusion</th><th>kind</th>'
            f"<th>source lines</th></tr>{''.join(rows)}</table></div></section>"
        )
        lines = []
        by_file = {}
        for key in st["link_table"].get("lines", {}):
            file, _, ln = key.rpartition(":")
            if ln.isdigit():
                by_file.setdefault(file, set()).add(int(ln))
        for file, nums in by_file.items():
            lines.append(
                f'<div class="gj-note" title="{escape(file)}">{escape(display_name(file))}</div>'
            )
            for n in sorted(nums):
                lines.append(
                    f'<div class="gj-ln gj-work" data-line="{escape(f"{file}:{n}")}">'
                    f'<span class="gj-note">{n:>5}</span>  '
                    f"{escape(_line_code(file, n)) or ' '}</div>"
                )
        source = (
            f'<section class="gj-pane gj-source" data-kind="source" aria-label="Source">'
            f'<div class="gj-pane-head"><span class="gj-pane-title">Source</span>'
            f'<span class="gj-pane-sub">lines with work</span>'
            f'<span class="gj-count" aria-live="polite"></span></div>'
            f'<div class="gj-code gj-src" tabindex="0">{"".join(lines)}</div></section>'
        )
        return (
            f'<div class="gj-root" id="{escape(uid)}"><style>{page_css()}</style>'
            f"<style>{GRAPH_CSS}</style>"
            f'<div class="gj-stages"><div class="gj-panes">{pane}'
            '<div style="display:flex;flex-direction:column;gap:6px;flex:1 1 0;'
            'min-width:260px">'
            f"{fusions}{source}</div></div></div>"
            + json_script(st["link_table"], "gj-links")
            + f"<script>{page_js()}\nGlassjaxLinker.init(document.getElementById("
            f"{js_string(uid)}));</script></div>"
        )


def fusion_stepper(
    f, *args, show_unchanged=False, all_passes=True, graph_layout="auto", lazy=None, **kwargs
):
    """A stepper over XLA's passes compiling ``f`` at these arguments (or a ``Lowered``
    stage, with no arguments); see the module docstring."""
    return FusionStepper(
        f,
        *args,
        show_unchanged=show_unchanged,
        all_passes=all_passes,
        graph_layout=graph_layout,
        lazy=lazy,
        **kwargs,
    )
