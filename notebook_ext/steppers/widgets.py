"""The steppers as ipywidgets: Prev / Next buttons, a slider, Play, and an HTML body
re-rendered (a window of the program, see ``render``) at each step. Works headless:
setting ``slider.value`` (or calling ``next()``) updates ``body.value``."""

from __future__ import annotations

import time

import ipywidgets as widgets

from visualize.static_steps import deck_limit, deck_window, step_deck

from ..static_form import StaticMirror
from . import render


class StepperWidget(StaticMirror, widgets.VBox):
    """A view over one or more *tracks* of steps: ``tracks`` is a list of
    ``(name, count, render(i) -> html)``; with several, a toggle picks the track (the
    autodiff stepper's stages). ``model`` is the pure stepper behind it. Displayed, it
    also shows a static copy holding every recorded step (see ``static_form``)."""

    static_kind = "stepper"

    def __init__(self, model, tracks, *, interval=700):
        self.model = model
        self.tracks = list(tracks)
        self.style_html = widgets.HTML(
            f"<style>{render.css()}</style>", layout=widgets.Layout(display="none")
        )
        self.prev_button = widgets.Button(
            description="\u25c0 Prev", tooltip="previous step", layout=widgets.Layout(width="auto")
        )
        self.next_button = widgets.Button(
            description="Next \u25b6", tooltip="next step", layout=widgets.Layout(width="auto")
        )
        self.play = widgets.Play(min=0, max=0, step=1, interval=interval, description="Play")
        self.slider = widgets.IntSlider(
            min=0,
            max=0,
            value=0,
            continuous_update=True,
            readout=False,
            layout=widgets.Layout(width="40%"),
        )
        self.label = widgets.Label()
        self.stage = widgets.ToggleButtons(
            options=[t[0] for t in self.tracks],
            layout=widgets.Layout(display="" if len(self.tracks) > 1 else "none"),
        )
        self.body = widgets.HTML()
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.prev_button.on_click(lambda _: self.prev())
        self.next_button.on_click(lambda _: self.next())
        self.slider.observe(self._on_slider, names="value")
        self.stage.observe(self._on_stage, names="value")
        controls = widgets.HBox(
            [self.prev_button, self.next_button, self.play, self.slider, self.label]
        )
        super().__init__([self.style_html, self.stage, controls, self.body])
        self.add_class("glassjax-stepper")
        self._track = 0
        self._select_track(0)

    # -- navigation
    @property
    def track(self):
        return self.tracks[self._track][0]

    @property
    def position(self):
        return self.slider.value

    def go(self, i):
        n = self.tracks[self._track][1]
        self.slider.value = max(0, min(int(i), max(n - 1, 0)))
        return self

    def next(self):
        if self.slider.value < self.slider.max:
            return self.go(self.slider.value + 1)
        nxt = self._track + 1  # the next stage, at its first step
        if nxt < len(self.tracks):
            self.stage.value = self.tracks[nxt][0]
        return self

    def prev(self):
        if self.slider.value > 0:
            return self.go(self.slider.value - 1)
        if self._track > 0:
            self.stage.value = self.tracks[self._track - 1][0]
            self.go(self.tracks[self._track][1] - 1)
        return self

    def select(self, name):
        self.stage.value = name
        return self

    # -- display
    def summary(self):
        """One line: which stepper, of which function, at which step."""
        title = getattr(self.model, "title", "stepper")
        name = getattr(self.model, "fun_name", None)
        of = f" of {name}" if name else ""
        err = " (failed: see the error)" if getattr(self.model, "error", None) else ""
        return f"{title} stepper{of}: {self.label.value}{err}"

    def _repr_mimebundle_(self, **kwargs):
        # The live view (ipywidgets' widget-view mimetype, which front-ends with the widget
        # manager prefer) plus a static copy of the current step for saved notebooks and
        # nbconvert exports: the body's HTML with its stylesheet, no script needed.
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.summary()
        data["text/html"] = f"<style>{render.css()}</style>{self.body.value}"
        return data

    # -- static copy: every recorded step, the current one shown first
    def static_text(self):
        return self.summary()

    def static_html(self):
        cache = self.__dict__.setdefault("_step_html", {})
        counts = [max(n, 1) for _, n, _ in self.tracks]
        current = (self._track, self.slider.value)
        if current not in cache:
            cache[current] = self.tracks[self._track][2](self.slider.value)
        windows = deck_window(counts, current, deck_limit(len(cache[current])))
        tracks = []
        for t, (name, _, fn) in enumerate(self.tracks):
            steps = []
            for i in windows[t]:
                if (t, i) not in cache:
                    cache[(t, i)] = fn(i)
                steps.append(cache[(t, i)])
            tracks.append((name, steps))
        # rendering a step moves the model there: put it back on the shown step
        self.tracks[self._track][2](self.slider.value)
        deck = step_deck(
            tracks,
            current,
            title=f"{self.summary()} (saved; the buttons below step through the recording)",
            first=[w.start for w in windows],
            totals=counts,
        )
        return f"<style>{render.css()}</style>{deck}"

    # -- internals
    def _select_track(self, t):
        self._track = t
        n = self.tracks[t][1]
        # Step 1 first, then the new range: setting both under hold_trait_notifications
        # let traitlets' deferred cross-validation restore the old (higher) value, so a
        # stage change landed mid-stage (issue 13 item 4). Play is linked to the slider.
        self.slider.value = 0
        self.play.value = 0
        self.slider.max = max(n - 1, 0)
        self.play.max = max(n - 1, 0)
        disabled = n <= 1
        for w in (self.slider, self.play, self.prev_button, self.next_button):
            w.disabled = disabled and len(self.tracks) == 1
        self._render()

    def _on_stage(self, change):
        names = [t[0] for t in self.tracks]
        self._select_track(names.index(change["new"]))

    def _on_slider(self, change):
        self._render()

    def _render(self):
        name, n, fn = self.tracks[self._track]
        i = self.slider.value
        self.label.value = f"{name}: step {i + 1} of {n}" if n else f"{name}"
        try:
            self.body.value = fn(i)
        except Exception as exc:  # noqa: BLE001 - a view must never crash the kernel
            self.body.value = render.root(
                f'<div class="gj-st-error"><b>could not render this step</b>: '
                f"{render.e(type(exc).__name__)}: {render.e(exc)}</div>"
            )
        self.refresh_static()


class ProgressReporter:
    """A progress bar shown while a stepper records (in a live notebook only); call it
    as ``progress(done, total or None, phase)``. It appears only once the work has taken
    longer than ``delay`` seconds, so quick recordings add no widget to the output (a bar
    displayed and closed at once can race the page building its views)."""

    def __init__(self, title, delay=0.5):
        self.bar = widgets.IntProgress(min=0, max=1, value=0, description=title, bar_style="info")
        self.label = widgets.Label("starting")
        self.box = widgets.HBox([self.bar, self.label])
        self._shown = False
        self._wanted = False
        self._delay = delay
        self._start = time.perf_counter()

    def show(self):
        self._wanted = True
        self._start = time.perf_counter()
        return self

    def _display_now(self):
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        ip = get_ipython()
        if ip is not None and getattr(ip, "kernel", None) is not None:
            display(self.box)
            self._shown = True

    def __call__(self, done, total, phase):
        if self._wanted and not self._shown and time.perf_counter() - self._start > self._delay:
            self._display_now()
        if total:
            self.bar.max = max(int(total), 1)
            self.bar.value = min(int(done), self.bar.max)
            self.label.value = f"{phase}: {done:,} of {total:,}"
        else:
            self.bar.max = max(self.bar.max, 2 * int(done))
            self.bar.value = int(done)
            self.label.value = f"{phase}: {done:,} events recorded"

    def close(self):
        if self._shown:
            self.box.close()
        self._shown = False
