"""Widgets that survive saving: each displays its live view and, right after it, a static
copy (``application/vnd.glassjax.stages+json`` for JupyterLab and Notebook 7, whose
Glassjax renderer needs no kernel, plus ``text/html`` for nbconvert and GitHub-style
viewers, and ``text/plain``). The copy has a display id: ``refresh_static()`` (called by
the widget whenever its view changes) replaces it, so a saved notebook shows the step
the user was on.

While the live widget is on the page, the copy hides itself: its stylesheet hides a
static output that follows an output holding a ``glassjax-live`` widget. Without a
kernel (no widget rendered: "Loading widget..." or "model not found"), it shows, and
the widget output's placeholder is hidden instead.
"""

from __future__ import annotations

import html

from .display import MIME_TYPE, PAYLOAD_VERSION

LIVE_CLASS = "glassjax-live"
STATIC_CLASS = "glassjax-static"

# :has() finds the live widget's output (JupyterLab and Notebook 7 wrap every output in
# .jp-OutputArea-child); nbconvert's pages use .output_area / .jp-OutputArea-child too.
# And the other way round: a widget output that could not draw its widget (no kernel:
# "Loading widget...", a new kernel: "model not found") hides behind its static copy.
HIDE_WHEN_LIVE_CSS = (
    f".jp-OutputArea-child:has(.{LIVE_CLASS}) + .jp-OutputArea-child .{STATIC_CLASS},"
    f".output_area:has(.{LIVE_CLASS}) + .output_area .{STATIC_CLASS}"
    "{display:none !important}"
    f".jp-OutputArea-child:not(:has(.{LIVE_CLASS})):has(+ .jp-OutputArea-child .{STATIC_CLASS})"
    "{display:none !important}"
)


def wrap_static(kind: str, inner_html: str) -> str:
    """The static copy's HTML: ``inner_html`` in a marked box with the hiding rule."""
    return (
        f'<div class="{STATIC_CLASS}" data-glassjax-widget="{html.escape(kind, quote=True)}">'
        f"<style>{HIDE_WHEN_LIVE_CSS}</style>{inner_html}</div>"
    )


class _StaticCopy:
    def __init__(self, bundle):
        self.bundle = bundle

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class StaticMirror:
    """Mixin for an ipywidgets ``DOMWidget`` subclass. Subclasses define
    ``static_kind`` (a word: "stepper", "explorer", ...), ``static_html()`` (what the
    view shows now, self-contained) and ``static_text()`` (one line)."""

    static_kind = "widget"

    def static_html(self) -> str:
        raise NotImplementedError

    def static_text(self) -> str:
        return type(self).__name__

    def static_bundle(self) -> dict:
        """The static copy's MIME bundle, as saved in the notebook."""
        try:
            inner = self.static_html()
        except Exception as exc:  # a view must never crash the kernel
            inner = (
                f"<pre>could not render a static copy: {html.escape(type(exc).__name__)}: "
                f"{html.escape(str(exc))}</pre>"
            )
        page = wrap_static(self.static_kind, inner)
        text = self.static_text()
        return {
            MIME_TYPE: {
                "version": PAYLOAD_VERSION,
                "title": text,
                "html": page,
                "widget": self.static_kind,
            },
            "text/html": page,
            "text/plain": text,
        }

    def _ipython_display_(self):
        from IPython.display import display

        self.add_class(LIVE_CLASS)
        live = {k: v for k, v in self._repr_mimebundle_().items() if k != "text/html"}
        display(live, raw=True)
        if getattr(_shell(), "kernel", None) is None:
            return  # a terminal shows text/plain: once is enough, nothing is saved
        handle = display(_StaticCopy(self.static_bundle()), display_id=True)
        if handle is not None:
            self.__dict__.setdefault("_static_handles", []).append(handle)

    def refresh_static(self):
        """Replaces every displayed static copy with the current view."""
        handles = self.__dict__.get("_static_handles")
        if not handles or _shell() is None:
            return
        copy = _StaticCopy(self.static_bundle())
        for h in handles:
            h.update(copy)
