"""The device launcher: run one compiled program on any device the engine can see.

    l = launcher(step, params, x, y)
    l.devices                          # every device of every PJRT client (CPU, GPU, TPU)
    r = l.run(l.devices[0], repeats=20)
    r.median_s, r.min_s, r.output      # measured time, results (on the host)
    l.run_all()                        # once per device, for the comparison chart
    l.chart_svg()                      # the bar chart the widget shows (inline SVG)

Each run puts the arguments on the chosen device (``engine.device_put``), compiles the
program for it (once per device), runs it ``warmup`` times uncounted, then ``repeats``
times, each waited on with ``block_until_ready``. Times include the Python call of the
compiled program (argument checks, buffer lookup), not moving the arguments.
"""

from __future__ import annotations

import statistics
import time

import ipywidgets as widgets
import numpy as np

import engine

from .explorer import tool_jit
from .rich_display import BuildingWidget, escape, style_tag
from .static_form import StaticMirror


def all_devices():
    """Every device of every PJRT client the engine has started, CPU first."""
    from engine import runtime

    out = []
    backends = runtime.backends()
    for platform in sorted(backends, key=lambda p: (p != "cpu", p)):
        out.extend(backends[platform].devices())
    return out


def device_label(d):
    kind = getattr(d, "device_kind", "") or ""
    label = f"{d.platform}:{d.id}"
    return f"{label} ({kind})" if kind and kind.lower() != d.platform else label


def _preview(tree, threshold=60):
    leaves, _ = engine.tree_util.tree_flatten(tree)
    with np.printoptions(threshold=threshold, edgeitems=3, linewidth=100):
        parts = []
        for i, leaf in enumerate(leaves[:16]):
            a = np.asarray(leaf)
            head = f"{a.dtype}{list(a.shape)}"
            if len(leaves) > 1:
                head = f"[{i}] {head}"
            parts.append(f"{head}\n{np.array2string(a)}")
        if len(leaves) > 16:
            parts.append(f"\u2026 {len(leaves) - 16} more outputs")
    return "\n".join(parts)


class RunResult:
    """One measured run: ``device`` (label), ``times`` (seconds), ``median_s``,
    ``min_s``, ``mean_s``, ``output`` (host values, same structure as ``f``'s),
    ``preview`` (text), ``compile_s`` (None when the compile was cached)."""

    def __init__(self, number, device, times, output, warmup, compile_s):
        self.number = number
        self.device_obj = device
        self.device = device_label(device)
        self.platform = device.platform
        self.times = list(times)
        self.median_s = statistics.median(times)
        self.min_s = min(times)
        self.mean_s = statistics.fmean(times)
        self.repeats, self.warmup = len(times), warmup
        self.output = output
        self.preview = _preview(output)
        self.compile_s = compile_s

    @property
    def label(self):
        return f"#{self.number} {self.device}"

    def to_dict(self):
        return {
            "number": self.number,
            "device": self.device,
            "platform": self.platform,
            "median_s": self.median_s,
            "min_s": self.min_s,
            "mean_s": self.mean_s,
            "repeats": self.repeats,
            "warmup": self.warmup,
            "compile_s": self.compile_s,
        }

    def __repr__(self):
        return (
            f"<RunResult {self.label}: median {self.median_s * 1e6:.1f} us, "
            f"min {self.min_s * 1e6:.1f} us over {self.repeats} runs>"
        )


def _fmt_time(s):
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def bar_chart_svg(runs, width=560):
    """Horizontal bars: each run's median time, a tick at its minimum. Static SVG."""
    if not runs:
        return ""
    row, left, right = 22, 150, 150
    height = row * len(runs) + 24
    top = max(r.median_s for r in runs) or 1e-9
    scale = (width - left - right) / top
    parts = [
        f'<svg class="gjx-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>median run time per run (tick: minimum)</title>",
        f'<line class="gjx-axis" x1="{left}" y1="4" x2="{left}" y2="{height - 18}"/>',
    ]
    for i, r in enumerate(runs):
        y = 6 + i * row
        w = max(1.0, r.median_s * scale)
        xmin = left + r.min_s * scale
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape(r.label)}</text>'
        )
        parts.append(
            f'<rect class="gjx-bar" x="{left}" y="{y + 2}" width="{w:.1f}" '
            f'height="{row - 8}"><title>{escape(r.label)}: median '
            f"{escape(_fmt_time(r.median_s))}, min {escape(_fmt_time(r.min_s))}"
            "</title></rect>"
        )
        parts.append(
            f'<line class="gjx-min" x1="{xmin:.1f}" y1="{y}" x2="{xmin:.1f}" y2="{y + row - 4}"/>'
        )
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 13}">'
            f"{escape(_fmt_time(r.median_s))} (min {escape(_fmt_time(r.min_s))})</text>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 4}">0</text>'
        f'<text x="{width - right}" y="{height - 4}" text-anchor="end">'
        f"{escape(_fmt_time(top))}</text></svg>"
    )
    return "".join(parts)


class Launcher(StaticMirror, BuildingWidget, widgets.VBox):
    """See the module docstring. State: ``devices``, ``runs`` (RunResults, oldest
    first), ``compiled`` ({device label: Compiled}), ``error``. Displayed, it also shows
    a static copy of its devices, last output, chart and table (kept current)."""

    static_kind = "launcher"

    def static_text(self):
        last = f"; last: {self.runs[-1].label}" if self.runs else ""
        return f"launcher of {self.name}: {len(self.runs)} run(s){last}"

    def static_html(self):
        shown = [self.header, self.devices_view, self.output_view, self.chart_view]
        parts = [w.value for w in shown + [self.table_view]]
        if self.error is not None:
            parts.insert(2, self.error_view.value)
        return "".join(parts)

    def __init__(self, f, *args, repeats=20, warmup=3, run=True, lazy=None, **kwargs):
        super().__init__()
        self.add_class("gjx")
        self.f, self.args, self.kwargs = f, args, kwargs
        self.name = getattr(f, "__name__", None) or type(f).__name__
        self.jitted = tool_jit(f)
        self.runs, self.compiled = [], {}
        self.warmup = warmup
        self._initial_run = run
        self.devices = []
        self.header = widgets.HTML(
            f'{style_tag()}<span class="gjx-title">launch <code>{escape(self.name)}</code></span>'
        )
        self.device_menu = widgets.Dropdown(
            description="device", options=[], layout=widgets.Layout(width="300px")
        )
        self.repeats_box = widgets.BoundedIntText(
            value=repeats,
            min=1,
            max=100_000,
            description="runs",
            layout=widgets.Layout(width="160px"),
        )
        self.run_button = widgets.Button(
            description="run", button_style="primary", icon="play", layout={"width": "90px"}
        )
        self.all_button = widgets.Button(
            description="run on every device", layout={"width": "170px"}
        )
        self.clear_button = widgets.Button(description="clear", layout={"width": "70px"})
        self.devices_view = widgets.HTML()
        self.output_view = widgets.HTML()
        self.chart_view = widgets.HTML()
        self.table_view = widgets.HTML()
        self._make_progress()
        self.children = [
            self.header,
            self.devices_view,
            widgets.HBox(
                [
                    self.device_menu,
                    self.repeats_box,
                    self.run_button,
                    self.all_button,
                    self.clear_button,
                ],
                layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self.progress_box,
            self.error_view,
            self.output_view,
            self.chart_view,
            self.table_view,
        ]
        self.run_button.on_click(lambda _: self._safely(lambda: self.run()))
        self.all_button.on_click(lambda _: self._safely(self.run_all))
        self.clear_button.on_click(lambda _: self.clear())
        self._start(lazy)

    def _what(self):
        return f"launching {self.name}"

    def _safely(self, fn):
        try:
            self.error_view.layout.display = "none"
            fn()
        except Exception as e:  # a button press never raises into the kernel
            from .rich_display import capture_error

            self.show_error(capture_error(e))

    def build(self):
        self._step(0, 2, "listing devices")
        self.devices = all_devices()
        self.device_menu.options = [(device_label(d), i) for i, d in enumerate(self.devices)]
        self.device_menu.value = 0 if self.devices else None
        rows = "".join(
            f"<tr><td><code>{escape(device_label(d))}</code></td>"
            f"<td>{escape(d.platform)}</td>"
            f"<td>{escape(getattr(d, 'device_kind', ''))}</td></tr>"
            for d in self.devices
        )
        self.devices_view.value = (
            f'{style_tag()}<details class="gjx"><summary>'
            f"{len(self.devices)} device"
            f"{'' if len(self.devices) == 1 else 's'} seen by the "
            'engine\'s PJRT clients</summary><table class="gjx-table">'
            f"<tr><th>device</th><th>platform</th><th>kind</th></tr>"
            f"{rows}</table></details>"
        )
        if self._initial_run and self.devices:
            self._step(1, 2, f"compiling and running on {device_label(self.devices[0])}")
            self.run(self.devices[0])

    # -- running
    def _device(self, device):
        if device is None:
            i = self.device_menu.value
            return self.devices[i if i is not None else 0]
        if isinstance(device, int):
            return self.devices[device]
        if isinstance(device, str):
            for d in self.devices:
                if device in (device_label(d), f"{d.platform}:{d.id}", str(d)):
                    return d
            return engine.devices(device)[0]
        return device

    def _compiled_for(self, device):
        key = f"{device.platform}:{device.id}"
        args = engine.device_put((self.args, self.kwargs), device)
        if key in self.compiled:
            return self.compiled[key], args, None
        t0 = time.perf_counter()
        c = self.jitted.lower(*args[0], **args[1]).compile()
        self.compiled[key] = c
        return c, args, time.perf_counter() - t0

    def run(self, device=None, repeats=None, warmup=None):
        """Run on ``device`` (a device, its index in ``devices``, its label, or a platform
        name; default: the one chosen in the menu) and record a RunResult."""
        self.ensure_built()
        dev = self._device(device)
        repeats = int(repeats if repeats is not None else self.repeats_box.value)
        warmup = self.warmup if warmup is None else int(warmup)
        if repeats < 1:
            raise ValueError("repeats must be at least 1")
        compiled, (args, kwargs), compile_s = self._compiled_for(dev)
        out = None
        for _ in range(warmup):
            out = engine.block_until_ready(compiled(*args, **kwargs))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = engine.block_until_ready(compiled(*args, **kwargs))
            times.append(time.perf_counter() - t0)
        result = RunResult(
            len(self.runs) + 1, dev, times, engine.device_get(out), warmup, compile_s
        )
        self.runs.append(result)
        self.render()
        return result

    def run_all(self, repeats=None):
        self.ensure_built()
        return [self.run(d, repeats) for d in self.devices]

    def clear(self):
        self.runs = []
        self.render()

    # -- views
    def chart_svg(self):
        return bar_chart_svg(self.runs)

    def render(self):
        if not self.runs:
            self.output_view.value = self.chart_view.value = self.table_view.value = ""
            self.refresh_static()
            return
        last = self.runs[-1]
        self.output_view.value = (
            f'{style_tag()}<div class="gjx"><div class="gjx-title">output of run '
            f'{escape(last.label)}</div><pre class="gjx-diff" style="max-height:220px">'
            f"{escape(last.preview)}</pre></div>"
        )
        self.chart_view.value = f'{style_tag()}<div class="gjx">{self.chart_svg()}</div>'
        rows = "".join(
            f'<tr><td>{escape(r.label)}</td><td class="gjx-num">{escape(_fmt_time(r.median_s))}'
            f'</td><td class="gjx-num">{escape(_fmt_time(r.min_s))}</td>'
            f'<td class="gjx-num">{escape(_fmt_time(r.mean_s))}</td>'
            f'<td class="gjx-num">{r.repeats}</td>'
            f'<td class="gjx-num">{escape(_fmt_time(r.compile_s)) if r.compile_s else "cached"}'
            "</td></tr>"
            for r in self.runs
        )
        self.table_view.value = (
            f'{style_tag()}<table class="gjx gjx-table"><tr><th>run</th><th>median</th>'
            f"<th>min</th><th>mean</th><th>runs</th><th>compile</th></tr>{rows}</table>"
            f'<div class="gjx-note">after {self.warmup} uncounted warm-up runs; each run '
            "waited on with block_until_ready; arguments already on the device</div>"
        )
        self.refresh_static()


def launcher(f, *args, repeats=20, warmup=3, run=True, lazy=None, **kwargs):
    """A launcher for ``f`` at these arguments; see the module docstring. ``run``: run
    once on the first device when the widget is built."""
    return Launcher(f, *args, repeats=repeats, warmup=warmup, run=run, lazy=lazy, **kwargs)
