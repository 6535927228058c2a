"""The session inspector widget: every function jitted in this kernel so far.

    s = session()
    s.functions                    # [{"key", "name", "trace_count", "lower_count",
                                   #   "compile_count", "cache_hits", "compile_seconds",
                                   #   "programs", "signatures", ...}]
    s.artifacts(s.functions[0]["key"])   # per traced signature: jaxpr, optimized HLO
    s.open_explorer(s.functions[0]["key"])  # an Explorer of it (also shown in the widget)

It lists what ``notebook_ext.inspector`` (the JupyterLab sidebar's kernel side) lists,
minus the jits the Glassjax widgets make for themselves, and refreshes after every cell.
Opening a function explores one of its traced signatures with the arguments' shapes:
the trace is read from the function's cache, so its counts do not move.
"""

from __future__ import annotations

import weakref

import ipywidgets as widgets

from . import inspector
from .rich_display import _shell, escape, style_tag
from .static_form import StaticMirror


def user_functions():
    """The user's jitted functions, oldest first (the inspector's list, without the jits
    Glassjax's own widgets made)."""
    return [f for f in inspector.user_jitted() if not getattr(f, "_glassjax_tool", False)]


def function_row(f):
    info = f.cache_info()
    row = inspector.function_info(f, info)
    row["signatures"] = [inspector.signature_label(e.signature) for e in info.entries]
    row["compiled_signatures"] = sum(e.compiled is not None for e in info.entries)
    return row


def example_arguments(f, index=0):
    """(args, kwargs) standing for the ``index``-th cached signature of ``f``: shapes and
    dtypes (``ShapeDtypeStruct``) where arrays went, static arguments as they were."""
    entries = f.cache_info().entries
    if not entries:
        raise ValueError(f"{f.__name__} has not been traced yet")
    return entries[index].signature.example_arguments()


class SessionInspector(StaticMirror, widgets.VBox):
    """See the module docstring. ``refresh()`` re-reads the list; ``open_explorer(key)`` explores a
    function in the widget's lower half. Displayed, it also shows a static copy of the
    table, the chosen function's programs and any explorer opened (kept current)."""

    static_kind = "session"

    def static_text(self):
        return f"session inspector: {len(self.functions)} jitted function(s)"

    def static_html(self):
        parts = [self.header.value, self.table_view.value, self.artifacts_view.value]
        if self.explorer is not None:
            parts.append(self.explorer.static_html())
        return "".join(parts)

    def __init__(self, auto_refresh=True):
        super().__init__()
        self.add_class("gjx")
        self.functions = []
        self.explorer = None
        self.header = widgets.HTML(
            f'{style_tag()}<span class="gjx-title">jitted functions in this kernel</span>'
        )
        self.table_view = widgets.HTML()
        self.menu = widgets.Dropdown(
            description="function", options=[], layout=widgets.Layout(width="340px")
        )
        self.signature_menu = widgets.Dropdown(
            description="signature", options=[], layout=widgets.Layout(width="420px")
        )
        self.open_button = widgets.Button(
            description="open in explorer", icon="search", layout={"width": "160px"}
        )
        self.refresh_button = widgets.Button(
            description="refresh", icon="refresh", layout={"width": "100px"}
        )
        self.artifacts_view = widgets.HTML()
        self.detail = widgets.VBox()
        self.children = [
            self.header,
            self.table_view,
            widgets.HBox(
                [self.menu, self.signature_menu, self.open_button, self.refresh_button],
                layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
            ),
            self.artifacts_view,
            self.detail,
        ]
        self.menu.observe(lambda _: self._on_pick(), "value")
        self.open_button.on_click(lambda _: self._open_chosen())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.refresh()
        if auto_refresh:
            self._hook_cells()

    def _hook_cells(self):
        ip = _shell()
        if ip is None:
            return
        ref = weakref.ref(self)

        def after(*_):
            me = ref()
            if me is None:
                ip.events.unregister("post_run_cell", after)
            else:
                me.refresh()

        ip.events.register("post_run_cell", after)
        self._unhook = lambda: ip.events.unregister("post_run_cell", after)

    def close(self):
        unhook = getattr(self, "_unhook", None)
        if unhook is not None:
            try:
                unhook()
            except ValueError:
                pass
            self._unhook = None
        super().close()

    def _open_chosen(self):
        from .rich_display import capture_error

        if self.menu.value is None:
            return
        try:
            self.open_explorer(self.menu.value, self.signature_menu.value or 0)
        except Exception as e:  # a button press never raises into the kernel
            self.artifacts_view.value = capture_error(e).html("opening the explorer")

    # -- state
    def _function(self, key):
        for f in user_functions():
            if inspector._key(f) == key or f.__name__ == key:
                return f
        raise KeyError(f"no jitted function {key!r} in this session")

    def refresh(self):
        fns = user_functions()
        self.functions = [function_row(f) for f in fns]
        rows = "".join(
            f"<tr><td><code>{escape(r['name'])}</code></td>"
            f'<td class="gjx-num">{r["trace_count"]}</td>'
            f'<td class="gjx-num">{r["compile_count"]}</td>'
            f'<td class="gjx-num">{r["cache_hits"]}</td>'
            f'<td class="gjx-num">{r["compile_seconds"] * 1e3:.1f} ms</td>'
            f"<td>{escape('; '.join(r['signatures'][:3]))}"
            f"{' …' if len(r['signatures']) > 3 else ''}</td></tr>"
            for r in self.functions
        )
        empty = (
            ""
            if self.functions
            else '<tr><td colspan="6" class="gjx-note">nothing jitted yet: call a function '
            "wrapped in <code>jit</code> and it shows here</td></tr>"
        )
        self.table_view.value = (
            f'{style_tag()}<table class="gjx gjx-table"><tr><th>function</th><th>traces</th>'
            f"<th>compiles</th><th>cache hits</th><th>compile time</th><th>signatures</th>"
            f"</tr>{rows}{empty}</table>"
        )
        current = self.menu.value
        self.menu.options = [(f"{r['name']} ({r['key']})", r["key"]) for r in self.functions]
        keys = [r["key"] for r in self.functions]
        self.menu.value = current if current in keys else (keys[-1] if keys else None)
        self._on_pick()
        return self.functions

    def _on_pick(self):
        key = self.menu.value
        if key is None:
            self.signature_menu.options = []
            self.artifacts_view.value = ""
            self.refresh_static()
            return
        row = next((r for r in self.functions if r["key"] == key), None)
        sigs = row["signatures"] if row else []
        self.signature_menu.options = [(s, i) for i, s in enumerate(sigs)]
        self.signature_menu.value = 0 if sigs else None
        self.artifacts_view.value = self._artifacts_html(key)
        self.refresh_static()

    def artifacts(self, key):
        """Per traced signature of a function: its jaxpr and, once compiled, XLA's
        optimized HLO and device (read from the caches; nothing is traced or compiled)."""
        return inspector.programs(self._function(key))

    def _artifacts_html(self, key):
        try:
            progs = self.artifacts(key)
        except KeyError:
            return ""
        parts = [style_tag(), '<div class="gjx">']
        for p in progs:
            compiled = (
                f"compiled for {escape(p['device'])}"
                if p["hlo"] is not None
                else "traced, not compiled"
            )
            parts.append(
                f"<details><summary><code>{escape(p['signature'])}</code> "
                f'<span class="gjx-muted">{compiled}</span></summary>'
                f'<div class="gjx-note">jaxpr</div><pre class="gjx-diff">'
                f"{escape(p['jaxpr'])}</pre>"
            )
            if p["hlo"] is not None:
                parts.append(
                    '<div class="gjx-note">optimized HLO</div>'
                    f'<pre class="gjx-diff">{escape(p["hlo"])}</pre>'
                )
            parts.append("</details>")
        parts.append("</div>")
        return "".join(parts)

    def open_explorer(self, key, signature=0, **explore_kwargs):
        """Explore one traced signature of a function (by key or name); the explorer is
        shown below the list and returned."""
        from .explorer import explore

        f = self._function(key)
        args, kwargs = example_arguments(f, signature)
        self.explorer = explore(f, *args, lazy="manual", **explore_kwargs, **kwargs)
        self.detail.children = [self.explorer]  # on the page first: its progress shows
        self.explorer.ensure_built()
        self.refresh_static()
        return self.explorer


def session(auto_refresh=True):
    """The session inspector widget; see the module docstring."""
    return SessionInspector(auto_refresh=auto_refresh)
