"""Stage outputs that survive saving: the ``application/vnd.glassjax.stages+json`` bundle.

The JupyterLab extension renders the JSON payload's ``html`` without a kernel; the same
HTML goes in ``text/html`` (nbconvert, GitHub, other front ends) and the stages' text in
``text/plain``.
"""

import html

MIME_TYPE = "application/vnd.glassjax.stages+json"
PAYLOAD_VERSION = 1

# Inline styles: the text/html fallback is shown where the extension's CSS is absent.
_PRE_STYLE = (
    "margin:0;padding:6px 8px;overflow:auto;max-height:480px;"
    "font-family:var(--jp-code-font-family,monospace);font-size:12px;"
    "background:var(--jp-cell-editor-background,#f7f7f7);"
    "border:1px solid var(--jp-cell-editor-border-color,#e0e0e0)"
)


def sections_html(title, sections):
    """Escaped ``<pre>`` blocks, one per (name, text) section."""
    parts = [
        '<div class="glassjax-stages-view">',
        f'<div class="glassjax-stages-title" style="font-weight:600;margin:2px 0 6px">'
        f"{html.escape(title)}</div>",
    ]
    for name, text in sections:
        parts.append(
            f'<details open class="glassjax-stage" data-stage="{html.escape(name, quote=True)}">'
            f'<summary style="cursor:pointer">{html.escape(name)}</summary>'
            f'<pre class="glassjax-stage-text" style="{_PRE_STYLE}">{html.escape(text)}</pre>'
            f"</details>"
        )
    parts.append("</div>")
    return "".join(parts)


def sections_text(title, sections):
    return "\n\n".join([title] + [f"--- {name} ---\n{text}" for name, text in sections])


class StagesView:
    """A displayable set of named text stages (jaxpr, StableHLO, optimized HLO, ...).

    ``html`` overrides the default escaped ``<pre>`` rendering (for richer renderers)."""

    def __init__(self, title, sections, html=None):
        self.title = str(title)
        self.sections = [(str(n), str(t)) for n, t in sections]
        self.html = html if html is not None else sections_html(self.title, self.sections)

    def payload(self):
        return {
            "version": PAYLOAD_VERSION,
            "title": self.title,
            "html": self.html,
            "stages": [name for name, _ in self.sections],
        }

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            MIME_TYPE: self.payload(),
            "text/html": self.html,
            "text/plain": sections_text(self.title, self.sections),
        }

    def __repr__(self):
        return sections_text(self.title, self.sections)


def stages(fun, *args, **kwargs):
    """The jaxpr, StableHLO and optimized HLO of ``fun`` (jitted if it is not) at these
    arguments, as a ``StagesView``."""
    import engine
    from engine.jit import JitFunction

    jitted = fun if isinstance(fun, JitFunction) else engine.jit(fun)
    traced = jitted.trace(*args, **kwargs)
    lowered = traced.lower()
    compiled = lowered.compile()
    sig = ", ".join(a.str_short() for a in traced.in_avals)
    return StagesView(
        f"{jitted.__name__}({sig})",
        [
            ("jaxpr", str(traced.jaxpr)),
            ("StableHLO", lowered.as_text()),
            ("optimized HLO", compiled.as_text()),
        ],
    )


def show_stages(fun, *args, **kwargs):
    """Displays ``stages(fun, *args, **kwargs)`` in the notebook."""
    from IPython.display import display

    display(stages(fun, *args, **kwargs))
