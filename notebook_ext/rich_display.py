"""Rich display of engine objects, and the pieces every Glassjax widget shares.

Display hooks (registered by ``%load_ext notebook_ext``; the engine itself never
imports this): engine ``Array``s, ``Traced``, ``Lowered`` and ``Compiled`` stages get a
MIME bundle with ``text/plain`` and a static ``text/html`` (inline styles, no script),
so they read the same live, in a saved notebook and after ``nbconvert``.

Widget pieces: ``set_html`` (HTML whose scripts run: an ``Output`` widget's outputs are
rendered trusted by JupyterLab and Notebook 7, while ``ipywidgets.HTML`` never runs a
``<script>``), ``capture_error`` (a failure as a message plus the user's own line), and
``BuildingWidget`` (a widget whose slow work runs after the cell has displayed it, with
a progress bar).
"""

from __future__ import annotations

import html
import linecache
import os
import sysconfig
import traceback

import numpy as np

from engine import source_info
from visualize.cells import cell_label, location

from .display import MIME_TYPE, StagesView, sections_html

source_info.register_internal_dir(os.path.dirname(os.path.abspath(__file__)))


def escape(text):
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------------- styles

# Widget chrome, scoped by the gjx- prefix; colours are JupyterLab's theme variables
# (light and dark alike) with light fallbacks for other front ends.
WIDGET_CSS = """
.gjx { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px;
  color: var(--jp-content-font-color1, #1f2328); }
.gjx code, .gjx pre, .gjx .gjx-mono { font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 12px); }
.gjx-title { font-weight: 600; }
.gjx-muted { color: var(--jp-content-font-color2, #59636e); }
.gjx-table { border-collapse: collapse; margin: 4px 0; }
.gjx-table.gjx-table th, .gjx-table.gjx-table td { border: none; padding: 2px 8px;
  border-bottom: 1px solid var(--jp-border-color2, #d1d9e0); text-align: left;
  vertical-align: top; }
.gjx-table.gjx-table th { color: var(--jp-content-font-color2, #59636e); font-weight: 600; }
.gjx-table.gjx-table td.gjx-num { text-align: right; font-variant-numeric: tabular-nums; }
.gjx-error { border-left: 4px solid var(--jp-error-color1, #cf222e); padding: 6px 10px;
  background: var(--jp-rendermime-error-background, #ffebe9); margin: 4px 0; }
.gjx-error pre { white-space: pre-wrap; margin: 4px 0; }
.gjx-note { color: var(--jp-content-font-color2, #59636e); font-size: 12px; }
.gjx-diff { max-height: 420px; overflow: auto; margin: 0; padding: 4px 8px; white-space: pre;
  background: var(--jp-cell-editor-background, #f6f8fa);
  border: 1px solid var(--jp-border-color2, #d1d9e0); }
.gjx-diff .gjx-add { color: var(--jp-success-color1, #1a7f37); }
.gjx-diff .gjx-del { color: var(--jp-error-color1, #cf222e); }
.gjx-diff .gjx-hunk { color: var(--jp-brand-color1, #0969da); }
.gjx-chip { display: inline-block; padding: 0 6px; margin: 1px 2px; border-radius: 8px;
  border: 1px solid var(--jp-border-color2, #d1d9e0); font-size: 11px; }
.gjx-chip.gjx-changed { border-color: var(--jp-warn-color1, #bf8700); }
.gjx-chart text { fill: var(--jp-content-font-color1, #1f2328); font-size: 11px; }
.gjx-chart .gjx-bar { fill: var(--jp-brand-color1, #0969da); fill-opacity: 0.75; }
.gjx-chart .gjx-min { stroke: var(--jp-content-font-color1, #1f2328); stroke-width: 2; }
.gjx-chart .gjx-axis { stroke: var(--jp-border-color1, #8c959f); }
"""


def style_tag():
    return f"<style>{WIDGET_CSS}</style>"


# Inline styles for the static displays (shown where no stylesheet is loaded: nbconvert,
# GitHub, an untrusted notebook).
_BOX = (
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;"
    "color:var(--jp-content-font-color1,inherit)"
)
_HEAD = "font-weight:600;margin:2px 0 4px"
_MUTED = "color:var(--jp-content-font-color2,#59636e);font-weight:400"
_PRE = (
    "margin:0;padding:6px 8px;overflow:auto;max-height:360px;"
    "font-family:var(--jp-code-font-family,monospace);font-size:12px;"
    "background:var(--jp-cell-editor-background,#f7f7f7);"
    "border:1px solid var(--jp-cell-editor-border-color,#e0e0e0)"
)
_TD = "padding:1px 10px 1px 0;border:none;text-align:left"


# ---------------------------------------------------------------------------- HTML in widgets


def set_html(out, html_text, text=""):
    """Replace what an ``Output`` widget shows with this HTML. Setting ``outputs``
    directly needs no kernel message context, so it works from callbacks and tests."""
    data = {"text/html": html_text}
    if text:
        data["text/plain"] = text
    out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


# ---------------------------------------------------------------------------- errors


def _stdlib_dirs():
    dirs = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.add(os.path.abspath(p) + os.sep)
    return tuple(dirs)


_LIB_DIRS = _stdlib_dirs()


def _traceback_text(exc):
    """The formatted traceback, a notebook cell's frames named "In [5]" (as IPython's
    own tracebacks name them), not by IPython's temporary file."""
    te = traceback.TracebackException.from_exception(exc)
    seen, todo = set(), [te]
    while todo:
        t = todo.pop()
        if t is None or id(t) in seen:
            continue
        seen.add(id(t))
        for frame in t.stack:
            label = cell_label(frame.filename)
            if label:
                frame.line  # noqa: B018 - read the source line while the file is known
                frame.filename = label
        todo += [t.__cause__, t.__context__]
    return "".join(te.format())


class ErrorInfo:
    """A failure as people read it: ``kind`` (exception type), ``message``, the user's
    own line (``file``, ``line``, ``function``, ``code``) and the formatted traceback."""

    def __init__(self, exc):
        self.exception = exc
        self.kind = type(exc).__name__
        self.message = str(exc)
        self.file = self.line = self.function = self.code = None
        frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
        user = [
            f
            for f in frames
            if not source_info._is_internal(f.filename)
            and not os.path.abspath(f.filename).startswith(_LIB_DIRS)
        ]
        if user:
            f = user[-1]
            self.file, self.line, self.function = f.filename, f.lineno, f.name
            self.code = (f.line or linecache.getline(f.filename, f.lineno)).strip()
        self.traceback = _traceback_text(exc)

    @property
    def where(self):
        if self.file is None:
            return None
        return f"{location(self.file, self.line)} in {self.function}"

    def text(self):
        out = f"{self.kind}: {self.message}"
        if self.where:
            out += f"\n  at {self.where}\n    {self.code}"
        return out

    def html(self, what="this function"):
        where = ""
        if self.where:
            where = (
                f"<div>at <code>{escape(self.where)}</code></div>"
                f'<pre class="gjx-mono">{escape(self.code)}</pre>'
            )
        return (
            f'<div class="gjx gjx-error" role="alert">{style_tag()}'
            f'<div class="gjx-title">{escape(what)} failed: {escape(self.kind)}</div>'
            f"<pre>{escape(self.message)}</pre>{where}"
            f'<details><summary class="gjx-note">traceback</summary>'
            f"<pre>{escape(self.traceback)}</pre></details></div>"
        )

    def __repr__(self):
        return f"<ErrorInfo {self.kind} at {self.where}>"


def capture_error(exc):
    return ErrorInfo(exc)


# ---------------------------------------------------------------------------- building widgets


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def in_kernel():
    """Whether we run in a kernel with a front end (where a widget displays after the
    cell's last expression is evaluated)."""
    ip = _shell()
    return ip is not None and getattr(ip, "kernel", None) is not None


def after_cell(fn):
    """Run ``fn`` once, after the current cell (its displays already sent), or now."""
    ip = _shell()
    if ip is None or getattr(ip, "kernel", None) is None:
        fn()
        return

    def once(*_):
        try:
            ip.events.unregister("post_run_cell", once)
        except ValueError:
            pass
        fn()

    ip.events.register("post_run_cell", once)


def _widgets():
    import ipywidgets as widgets

    return widgets


class BuildingWidget:
    """Mixin for a ``VBox`` whose work (tracing, compiling...) runs in ``build()``.

    In a kernel the work starts after the cell finished, so the widget (with its
    progress bar) is already on the page; elsewhere it runs at once. Reading a result
    before then runs it on the spot (``ensure_built``). A failure never raises: it
    shows in the widget and stays in ``error``."""

    error = None

    def _make_progress(self):
        w = _widgets()
        self._built = self._building = False
        self.progress = w.IntProgress(min=0, max=1, value=0, layout=w.Layout(width="240px"))
        self.progress_label = w.HTML()
        self.progress_box = w.HBox([self.progress, self.progress_label])
        self.error_view = w.HTML(layout=w.Layout(display="none"))

    def _start(self, lazy=None):
        """``lazy``: True (after the current cell), False (now), "manual" (the caller
        calls ``ensure_built``, e.g. once it has put the widget on the page from a
        button's callback, where no cell will follow), None (True in a kernel)."""
        if lazy == "manual":
            return
        if lazy is None:
            lazy = in_kernel()
        if lazy:
            after_cell(self.ensure_built)
        else:
            self.ensure_built()

    def _step(self, i, n, label):
        self.progress.max = n
        self.progress.value = i
        self.progress_label.value = f'<span class="gjx-note">{escape(label)} ({i + 1}/{n})</span>'

    def ensure_built(self):
        if self._built or self._building:
            return self
        self._building = True
        try:
            self.build()
        except Exception as e:  # shown in the widget: bad input never kills the cell
            self.show_error(capture_error(e))
        finally:
            self._built, self._building = True, False
            self.progress_box.layout.display = "none"
        refresh = getattr(self, "refresh_static", None)
        if refresh is not None:  # the saved copy shows the built view (or its error)
            refresh()
        return self

    def show_error(self, info, what=None):
        self.error = info
        self.error_view.value = info.html(what or self._what())
        self.error_view.layout.display = None

    def _what(self):
        return "building this view"

    def build(self):
        raise NotImplementedError


# ---------------------------------------------------------------------------- display bundles


def _aval_text(aval):
    try:
        return aval.str_short()
    except Exception:
        return str(aval)


def _signature(avals):
    return "(" + ", ".join(_aval_text(a) for a in avals) + ")"


def array_html(x, threshold=200):
    """An engine Array as static HTML: type, device, values (summarized when large) and,
    for real floating arrays, min / max / mean / NaN count."""
    head = f"Array <code>{escape(_aval_text(x.aval))}</code>"
    extra = []
    try:
        extra.append(escape(str(x.device)))
    except Exception:
        pass
    if getattr(x, "weak_type", False):
        extra.append("weak_type")
    if extra:
        head += f' <span style="{_MUTED}">· {" · ".join(extra)}</span>'
    try:
        v = np.asarray(x)
    except Exception as e:  # a deleted or donated buffer
        return (
            f'<div style="{_BOX}"><div style="{_HEAD}">{head}</div>'
            f'<pre style="{_PRE}">{escape(f"<unavailable: {e}>")}</pre></div>'
        )
    body = np.array2string(v, threshold=threshold, edgeitems=3, max_line_width=100)
    stats = ""
    if v.size > 1 and v.dtype.kind == "f" and v.size <= 10_000_000:
        with np.errstate(all="ignore"):
            finite = v[np.isfinite(v)]
            nan = int(np.isnan(v).sum())
            if finite.size:
                cells = [
                    ("min", f"{finite.min():.6g}"),
                    ("max", f"{finite.max():.6g}"),
                    ("mean", f"{finite.astype(np.float64).mean():.6g}"),
                ]
            else:
                cells = []
            if nan:
                cells.append(("NaN", str(nan)))
        stats = "".join(
            f'<td style="{_TD}"><span style="{_MUTED}">{k}</span> {escape(s)}</td>'
            for k, s in cells
        )
        stats = f'<table style="border:none;margin:2px 0"><tr>{stats}</tr></table>' if cells else ""
    return (
        f'<div class="glassjax-array" style="{_BOX}"><div style="{_HEAD}">{head}</div>'
        f'{stats}<pre style="{_PRE}">{escape(body)}</pre></div>'
    )


def array_bundle(x, include=None, exclude=None):
    try:
        text = repr(x)
    except Exception as e:
        text = f"<Array, unavailable: {e}>"
    return {"text/html": array_html(x), "text/plain": text}


def _summary_table(rows):
    cells = "".join(
        f'<tr><td style="{_TD};{_MUTED}">{escape(k)}</td><td style="{_TD}">{escape(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table style="border:none;margin:2px 0 6px">{cells}</table>'


def _stage_view(title, rows, sections):
    body = _summary_table(rows) + sections_html("", sections)
    page = (
        f'<div class="glassjax-stage-display" style="{_BOX}">'
        f'<div style="{_HEAD}">{escape(title)}</div>{body}</div>'
    )
    text_sections = [("summary", "\n".join(f"{k}: {v}" for k, v in rows))] + list(sections)
    return StagesView(title, text_sections, html=page)


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def traced_view(t):
    closed = t.jaxpr
    n = len(closed.jaxpr.eqns)
    rows = [
        ("function", t.fun_name),
        ("inputs", _signature(t.in_avals)),
        ("outputs", _signature(closed.out_avals)),
        ("equations", str(n)),
    ]
    return _stage_view(f"traced {t.fun_name}", rows, [("jaxpr", str(closed))])


def lowered_view(lo):
    t = lo.traced
    text = lo.as_text()
    rows = [
        ("function", lo.fun_name),
        ("inputs", _signature(t.in_avals)),
        ("device", str(t.device)),
        ("StableHLO", f"{text.count(chr(10)) + 1} lines"),
    ]
    return _stage_view(f"lowered {lo.fun_name}", rows, [("StableHLO", text)])


def _fmt_bytes(n):
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def compiled_view(c):
    t = c.lowered.traced
    rows = [("function", c.fun_name), ("inputs", _signature(t.in_avals)), ("device", str(t.device))]
    try:
        cost = {k: float(v) for k, v in dict(c.cost_analysis()).items()}
        rows.append(("flops (XLA estimate)", f"{cost.get('flops', 0.0):,.0f}"))
        rows.append(("bytes accessed (XLA estimate)", _fmt_bytes(cost.get("bytes accessed", 0.0))))
    except Exception as e:
        rows.append(("cost", f"unavailable: {e}"))
    try:
        mem = dict(c.memory_analysis())
        for key, label in (
            ("argument_size_in_bytes", "arguments"),
            ("output_size_in_bytes", "outputs"),
            ("temp_size_in_bytes", "temporaries"),
        ):
            if key in mem:
                rows.append((label, _fmt_bytes(mem[key])))
    except Exception:
        pass
    text = c.as_text()
    rows.append(("fusions", str(text.count(" fusion("))))
    return _stage_view(f"compiled {c.fun_name}", rows, [("optimized HLO", text)])


def _bundle_of(view_fn):
    def bundle(obj, include=None, exclude=None):
        try:
            return view_fn(obj)._repr_mimebundle_()
        except Exception as e:  # a display hook must never break printing the object
            return {"text/plain": f"{object.__repr__(obj)} (display failed: {e})"}

    return bundle


traced_bundle = _bundle_of(traced_view)
lowered_bundle = _bundle_of(lowered_view)
compiled_bundle = _bundle_of(compiled_view)


def _types():
    from engine.array import Array
    from engine.stages import Compiled, Lowered, Traced

    return {
        Array: array_bundle,
        Traced: traced_bundle,
        Lowered: lowered_bundle,
        Compiled: compiled_bundle,
    }


def register(ip):
    """Register the bundles with IPython's mimebundle formatter."""
    fmt = ip.display_formatter.mimebundle_formatter
    for t, fn in _types().items():
        fmt.for_type(t, fn)


def unregister(ip):
    fmt = ip.display_formatter.mimebundle_formatter
    for t in _types():
        fmt.type_printers.pop(t, None)


__all__ = [
    "MIME_TYPE",
    "array_bundle",
    "traced_bundle",
    "lowered_bundle",
    "compiled_bundle",
    "register",
    "unregister",
    "set_html",
    "capture_error",
    "ErrorInfo",
    "BuildingWidget",
    "in_kernel",
    "after_cell",
    "escape",
    "WIDGET_CSS",
]
