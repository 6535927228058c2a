"""The cross-backend view: one function compiled for every backend present, its
optimized HLO and fusions side by side (CPU, and a GPU or TPU where the engine found a
PJRT plugin for one), with a note naming the backends that were not found.

    v = cross_backend(f, x)
    v.model.backends                    # ['cpu'] or ['cpu', 'gpu']
    v.model.missing_message()           # "Not found: gpu (...); tpu (...)"
    v.model.column("cpu").fusions       # see visualize.cross_backend

Displayed, it also leaves a static copy (the same HTML) that a saved notebook keeps.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from visualize.cross_backend import (
    KNOWN_BACKENDS,
    CrossBackendModel,
    cross_backend_html,
    cross_backend_model,
)

from .rich_display import BuildingWidget, escape, style_tag
from .static_form import StaticMirror


class CrossBackendView(StaticMirror, BuildingWidget, widgets.VBox):
    """See the module docstring. State: ``model`` (a ``CrossBackendModel`` once built),
    ``error``."""

    static_kind = "cross_backend"

    def __init__(
        self,
        f: Any,
        *args: Any,
        backends: tuple[str, ...] = KNOWN_BACKENDS,
        lazy: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.add_class("gjx")
        self.f, self.args, self.kwargs, self.backends = f, args, kwargs, tuple(backends)
        self.name = getattr(f, "__name__", None) or type(f).__name__
        self.model: CrossBackendModel | None = None
        self.header = widgets.HTML(
            f'{style_tag()}<span class="gjx-title">across backends: '
            f"<code>{escape(self.name)}</code></span>"
        )
        self.view = widgets.HTML()
        self._make_progress()
        self.children = [self.header, self.progress_box, self.error_view, self.view]
        self._start(lazy)

    def _what(self) -> str:
        return f"compiling {self.name} for each backend"

    def build(self) -> None:
        self._step(0, 1, "compiling for each backend present")
        self.model = cross_backend_model(self.f, *self.args, backends=self.backends, **self.kwargs)
        self.view.value = cross_backend_html(self.model)

    def static_text(self) -> str:
        if self.model is None:
            return f"cross-backend view of {self.name}"
        return f"cross-backend view of {self.name}: {', '.join(self.model.backends)}"

    def static_html(self) -> str:
        parts = [self.header.value, self.view.value]
        if self.error is not None:
            parts.append(self.error_view.value)
        return "".join(parts)


def cross_backend(
    f: Any,
    *args: Any,
    backends: tuple[str, ...] = KNOWN_BACKENDS,
    lazy: Any = None,
    **kwargs: Any,
) -> CrossBackendView:
    """The cross-backend view of ``f`` at these arguments; see the module docstring.
    ``backends``: which to try (default: cpu, gpu, tpu); ``kwargs`` go to ``f`` (and
    ``static_argnums`` / ``static_argnames`` to ``jit``)."""
    return CrossBackendView(f, *args, backends=backends, lazy=lazy, **kwargs)
