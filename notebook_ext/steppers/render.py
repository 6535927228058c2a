"""The steppers' views as HTML strings: pure functions of a stepper and a position.

Every view shows a window (a few dozen lines around what changed), never a whole
5,000-equation program, so a step renders in constant time. Styling is visualize's
stylesheet (JupyterLab's theme variables, light and dark) plus a few stepper rules;
everything from user data (names, source, jaxpr text, messages) is escaped."""

from __future__ import annotations

import html

from visualize.render_html import highlight_python, page_css

from . import custom_rules_view

WINDOW = 40  # equations shown around the current ones
SOURCE_CONTEXT = 12  # source lines shown either side of the current one
FULL_LIMIT = 300  # a final jaxpr up to this many equations is shown whole

_CSS = """
.gj-stepper { padding: 4px 0; }
.gj-stepper .gj-st-grid { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.gj-stepper .gj-st-grid > .gj-pane { flex: 1 1 340px; min-width: 0; }
.gj-stepper .gj-st-wide { flex-basis: 100% !important; }
.gj-stepper .gj-code { max-height: 420px; }
.gj-stepper .gj-code:not(.gj-src) > div { padding-left: 6px; }
.gj-stepper .gj-st-break { flex-basis: 100%; height: 0; }
.gj-stepper .gj-st-head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.gj-stepper .gj-st-title { font-weight: 600; }
.gj-stepper .gj-st-title code { font-family: var(--gj-font); }
.gj-stepper .gj-st-badge {
  font-size: 11px; border: 1px solid var(--gj-border); border-radius: 9px; padding: 0 7px;
  color: var(--gj-muted); background: var(--gj-bg2); white-space: nowrap; }
.gj-stepper .gj-st-cur {
  background: var(--gj-sel-bg); box-shadow: inset 3px 0 0 var(--gj-sel-ring); }
.gj-stepper .gj-st-tangent, .gj-stepper .gj-st-backward {
  box-shadow: inset 3px 0 0 var(--gj-hl-ring); }
.gj-stepper .gj-st-known, .gj-stepper .gj-st-forward, .gj-stepper .gj-st-primal {
  box-shadow: inset 3px 0 0 var(--gj-work); }
.gj-stepper .gj-st-linear { box-shadow: inset 3px 0 0 var(--gj-prim); }
.gj-stepper .gj-st-accumulate { box-shadow: inset 3px 0 0 var(--gj-key); }
.gj-stepper .gj-st-cur.gj-st-cur { background: var(--gj-sel-bg); }
.gj-stepper .gj-st-res {
  text-decoration: underline wavy var(--gj-key); text-underline-offset: 3px; }
.gj-stepper .gj-st-note { color: var(--gj-faint); }
.gj-stepper .gj-st-dim { color: var(--gj-lit); font-weight: 600; }
.gj-stepper .gj-st-zero { color: var(--gj-faint); font-style: italic; }
.gj-stepper .gj-st-error {
  border: 1px solid var(--gj-kw); border-radius: 6px; padding: 6px 8px; margin: 6px 0;
  color: var(--gj-fg); background: var(--gj-bg2); }
.gj-stepper .gj-st-error b { color: var(--gj-kw); }
.gj-stepper .gj-st-failed { box-shadow: inset 3px 0 0 var(--gj-kw); color: var(--gj-kw); }
.gj-stepper .gj-st-error pre {
  margin: 4px 0 0; font-family: var(--gj-font); white-space: pre-wrap; }
.gj-stepper .gj-st-frame {
  border: 1px solid var(--gj-border); border-radius: 4px; padding: 2px 6px; margin: 3px 0 0 12px;
  font-family: var(--gj-font); font-size: var(--gj-font-size); }
.gj-stepper .gj-st-stack > .gj-st-frame { margin-left: 0; }
.gj-stepper .gj-st-frame .gj-st-kind { color: var(--gj-prim); font-weight: 600; }
.gj-stepper table.gj-st-table { border-collapse: collapse; font-family: var(--gj-font);
  font-size: var(--gj-font-size); }
.gj-stepper table.gj-st-table td, .gj-stepper table.gj-st-table th {
  border-bottom: 1px solid var(--gj-border); padding: 1px 8px 1px 0; text-align: left;
  vertical-align: top; white-space: pre; }
.gj-stepper table.gj-st-table th { color: var(--gj-muted); font-weight: 600; }
.gj-stepper .gj-st-legend span { margin-right: 10px; padding-left: 6px; }
"""


def e(s):
    return html.escape(str(s), quote=True)


def css():
    """The whole stylesheet (visualize's, with the theme, and the steppers' rules)."""
    return page_css() + _CSS + custom_rules_view.CSS


def root(inner, theme=None):
    t = f' data-theme="{e(theme)}"' if theme in ("light", "dark") else ""
    return f'<div class="gj-root gj-stepper"{t}>{inner}</div>'


_PAD = ' style="padding:4px 8px"'


def pane(title, body, sub="", wide=False, code=True, src=False):
    cls = "gj-pane" + (" gj-st-wide" if wide else "")
    inner_cls = ("gj-code" + (" gj-src" if src else "")) if code else ""
    return (
        f'<section class="{cls}" aria-label="{e(title)}"><div class="gj-pane-head">'
        f'<span class="gj-pane-title">{e(title)}</span>'
        f'<span class="gj-pane-sub">{e(sub)}</span></div>'
        f'<div class="{inner_cls}"{"" if src else _PAD}>{body}</div></section>'
    )


def badge(text):
    return f'<span class="gj-st-badge">{e(text)}</span>'


def error_html(err):
    if err is None:
        return ""
    where = ""
    if err.source is not None:
        where = (
            f"<div>at <code>{e(err.source.where())}</code> in <code>"
            f"{e(err.source.function)}</code></div>"
            f"<pre>{e(err.source.text.strip())}</pre>"
        )
    rule = getattr(err, "custom_rule", None)
    if rule is not None:
        where += custom_rules_view.rules_html([rule])
    return (
        f'<div class="gj-st-error" role="alert"><b>{e(err.type)}</b>: '
        f'<span class="gj-st-errmsg">{e(err.message)}</span>{where}</div>'
    )


def line_div(text, cls="", title=""):
    c = f' class="{e(cls)}"' if cls else ""
    t = f' title="{e(title)}"' if title else ""
    return f"<div{c}{t}>{e(text)}</div>"


def note(text):
    return f'<div class="gj-st-note">{e(text)}</div>'


# ---------------------------------------------------------------------------- source


_hl_cache = {}


def source_html(block, line):
    """A function's source (``(file, first, lines)``) with ``line`` highlighted; a window
    of it when long."""
    if block is None:
        return note("(source not available)")
    file, first, lines = block
    key = (file, first, len(lines))
    hl = _hl_cache.get(key)
    if hl is None:
        if len(_hl_cache) > 256:
            _hl_cache.clear()
        hl = _hl_cache[key] = highlight_python("\n".join(lines))
    lo = max(0, line - first - SOURCE_CONTEXT)
    hi = min(len(lines), line - first + SOURCE_CONTEXT + 1)
    out = []
    if lo > 0:
        out.append(note(f"\u2026 {lo} lines above"))
    for i in range(lo, hi):
        n = first + i
        cls = "gj-ln gj-st-cur" if n == line else "gj-ln"
        out.append(f'<div class="{cls}" data-n="{n}">{hl[i] if i < len(hl) else ""}</div>')
    if hi < len(lines):
        out.append(note(f"\u2026 {len(lines) - hi} lines below"))
    return "".join(out)


def source_pane(block, src):
    if src is None:
        return pane("Source", note("(no user source line)"))
    return pane("Source", source_html(block, src.line), sub=src.where(), src=block is not None)


# ---------------------------------------------------------------------------- jaxprs


def window_around(n, marked, size=WINDOW):
    """(lo, hi) of a window of ``size`` equations out of ``n`` covering ``marked``."""
    if n <= size:
        return 0, n
    if not marked:
        return 0, size
    lo, hi = min(marked), max(marked) + 1
    if hi - lo >= size:
        return lo, lo + size
    pad = (size - (hi - lo)) // 2
    lo = max(0, lo - pad)
    return lo, min(n, lo + size)


def jaxpr_lines(text, lo, hi, kinds=None, marked=(), notes=None, footer=True):
    """Lines lo..hi of a JaxprText, each classed by ``kinds[i]`` ('gj-st-<kind>'),
    ``marked`` ones highlighted; ``notes[i]``: a comment after the equation."""
    marked = set(marked)
    out = [line_div(text.header())]
    if lo > 0:
        out.append(note(f"    \u2026 {lo} equations above"))
    for i in range(lo, hi):
        cls = []
        if kinds is not None and kinds[i]:
            cls.extend(f"gj-st-{k}" for k in kinds[i].split())
        if i in marked:
            cls.append("gj-st-cur")
        t = "    " + text.eqn_text(i)
        if notes is not None and notes.get(i):
            t += f"    # {notes[i]}"
        out.append(line_div(t, " ".join(cls), title=f"equation {i}"))
    n = len(text)
    if hi < n and footer:
        out.append(note(f"    \u2026 {n - hi} equations below"))
    if footer:
        out.append(line_div(text.footer()))
    return "".join(out)


def jaxpr_pane(title, text, marked=(), kinds=None, sub=None, notes=None, wide=False):
    n = len(text)
    lo, hi = window_around(n, list(marked))
    if n <= FULL_LIMIT and not marked and notes is None and kinds is None:
        body = "".join(line_div(ln) for ln in text.text.split("\n"))
    else:
        body = jaxpr_lines(text, lo, hi, kinds, marked, notes)
    return pane(title, body, sub=sub if sub is not None else f"{n} equations", wide=wide)


def legend(items):
    return (
        '<div class="gj-legend gj-st-legend">'
        + "".join(f'<span class="gj-st-{k}">{e(label)}</span>' for k, label in items)
        + "</div>"
    )


def stack_html(handlers, chain=None):
    """Handlers outermost first, drawn as nested boxes."""
    if not handlers:
        return note("(no interpreter)")
    out, close = [], 0
    for h in handlers:
        extra = f' <span class="gj-st-note">{e(h.extra)}</span>' if h.extra else ""
        out.append(
            f'<div class="gj-st-frame"><span class="gj-st-kind">{e(h.trace)}</span> '
            f"handles <b>{e(h.primitive)}</b>{extra}"
        )
        close += 1
    out.append("</div>" * close)
    body = '<div class="gj-st-stack">' + "".join(out) + "</div>"
    if chain:
        body += note("current trace (and its parents): " + " \u2192 ".join(chain))
    return body


def table(headers, rows):
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="gj-st-table"><tr>{head}</tr>{body}</table>'


def header(title_html, badges=()):
    return (
        f'<div class="gj-st-head"><span class="gj-st-title">{title_html}</span>'
        + "".join(badge(b) for b in badges)
        + "</div>"
    )


# ---------------------------------------------------------------------------- tracing


def trace_view(st, k=None, theme=None):
    """The tracing stepper at step k (default: its position)."""
    k = st.position if k is None else k
    state = st.state(k)
    step = state["step"]
    parts = []
    if step is None:
        parts.append(header(f"Tracing <code>{e(st.fun_name)}</code>", ["no equations"]))
        parts.append(error_html(st.error))
        if st.text is not None:
            parts.append(
                '<div class="gj-st-grid">' + jaxpr_pane("jaxpr", st.text, wide=True) + "</div>"
            )
        return root("".join(parts), theme)
    n = len(st.steps)
    where = (
        "top-level jaxpr"
        if step.top
        else (
            f"sub-jaxpr of equation {step.nested_in}"
            if step.nested_in is not None
            else "a sub-jaxpr (traced, then transformed or retraced)"
        )
    )
    failed = state["error"] is not None  # the last step before tracing raised
    parts.append(
        header(
            f"Step {k + 1} of {n}: <code>{e(step.primitive)}</code> recorded by "
            f"<code>{e(step.trace)}</code>",
            (["tracing failed after this step"] if failed else [])
            + [where, f"{state['top_count']} top-level equations"],
        )
    )
    parts.append(error_html(state["error"]))
    grid = [source_pane(state["source_block"], step.source)]
    eq = [line_div(step.text, "gj-st-failed" if failed else "gj-st-cur")]
    eq.append(note(f"({', '.join(step.in_avals)}) \u2192 ({', '.join(step.out_avals)})"))
    if step.source is not None:
        eq.append(
            note(f"{step.source.where()} in {step.source.function}: {step.source.text.strip()}")
        )
    grid.append(
        pane("Last equation before the error" if failed else "Equation just emitted", "".join(eq))
    )
    grid.append(
        pane(
            "Trace stack (who handled the bind)",
            stack_html(step.handlers, step.trace_chain),
            code=False,
        )
    )
    text = st.text
    if state["complete"]:
        grid.append(
            jaxpr_pane(
                "jaxpr (complete: make_jaxpr's text)",
                text,
                marked=[step.top_index] if len(text) > FULL_LIMIT else (),
                wide=True,
            )
        )
    else:
        count = state["top_count"]
        lo = max(0, count - WINDOW)
        mark = [step.top_index] if step.top and step.top_index is not None and not failed else ()
        body = jaxpr_lines(text, lo, count, marked=mark, footer=False)
        if failed:
            err = state["error"]
            at = f" at {err.source.where()}" if err.source is not None else ""
            body += (
                f'<div class="gj-st-error gj-st-failed" role="alert">\u2716 tracing failed'
                f"{e(at)}: {e(err.type)}</div>"
            )
            title = "jaxpr when tracing failed"
        else:
            body += note("    \u2026 (tracing continues)")
            title = "jaxpr so far"
        grid.append(pane(title, body, sub=f"{count} of {len(text)} equations", wide=True))
        if not step.top:
            inner = st.inner_so_far(k)
            grid.append(
                pane(
                    f"Sub-jaxpr being traced ({step.trace})",
                    "".join(
                        line_div(t, "gj-st-cur" if i == len(inner) - 1 else "")
                        for i, t in enumerate(inner)
                    ),
                    sub=f"{len(inner)} equations so far",
                    wide=True,
                )
            )
    parts.append('<div class="gj-st-grid">' + "".join(grid) + "</div>")
    return root("".join(parts), theme)


# ---------------------------------------------------------------------------- autodiff

_KIND_LEGEND = {
    "jvp": [("primal", "primal equation"), ("tangent", "tangent equation")],
    "partial_eval": [
        ("known", "known: runs now"),
        ("linear", "unknown: recorded, linear"),
        ("res", "makes a residual"),
    ],
    "transpose": [("backward", "emitted by a transpose rule"), ("accumulate", "cotangents summed")],
    "final": [("forward", "forward (known) work"), ("backward", "backward (transposed) work")],
}


def _zero(z):
    return '<span class="gj-st-zero">Zero (symbolic)</span>' if z else "nonzero"


_BREAK = '<div class="gj-st-break"></div>'


def grad_view(st, stage=None, i=None, theme=None):
    """The autodiff stepper: ``stage`` (default: the current step's) and step ``i``
    within it."""
    if stage is None:
        stage, i = st.stage_of(st.position)
    i = i or 0
    parts = [
        header(
            f"{e(st.mode)}(<code>{e(st.fun_name)}</code>): stage <b>{e(stage)}</b>",
            [f"{len(st.stage_steps.get(stage, []))} steps"],
        )
    ]
    parts.append(error_html(st.error))
    if stage is None or stage not in st.stages:
        return root("".join(parts), theme)
    steps = st.stage_steps.get(stage, [])
    step = steps[i] if steps and 0 <= i < len(steps) else None
    grid = []
    if stage == "jvp":
        grid += _jvp_panes(st, step)
    elif stage == "partial_eval":
        grid += _pe_panes(st, step)
    elif stage == "transpose":
        grid += _transpose_panes(st, step, i)
    else:
        text = st.texts["final"]
        kinds = st.eqn_kinds.get("final")
        if st.saved_residuals:
            lines = "".join(line_div(x, "gj-st-saved") for x in st.saved_residuals)
            grid.append(pane("Saved residuals (print_saved_residuals)", lines, code=False))
        grid.append(
            pane(
                "Final jaxpr",
                legend(_KIND_LEGEND["final"])
                + _whole(text, kinds, getattr(st, "final_notes", None)),
                sub=f"{len(text)} equations: make_jaxpr({st.mode}(f))",
                wide=True,
            )
        )
    grid = _custom_panes(st, stage, step) + grid
    parts.append('<div class="gj-st-grid">' + "".join(grid) + "</div>")
    return root("".join(parts), theme)


def _custom_panes(st, stage, step):
    """Panes for a custom rule that ran in (or bound) the step, and a checkpoint's
    saved vs recomputed values."""
    out = []
    runs = getattr(step, "custom_rules", None)
    if runs:
        text = st.texts.get(stage)
        title = "Custom rule" if runs[0].relation == "ran" else "Bound by a custom rule"
        out.append(pane(title, custom_rules_view.rules_html(runs, text.eqn_text), code=False))
    remat = getattr(step, "remat", None)
    if remat is not None:
        body = custom_rules_view.remat_html(remat, stage)
        out.append(pane("Checkpoint: saved vs recomputed", body, code=False))
    return out + ([_BREAK] if out else [])


def _whole(text, kinds, notes=None):
    n = len(text)
    return jaxpr_lines(text, 0, min(n, FULL_LIMIT), kinds, notes=notes)


def _jvp_panes(st, step):
    text, kinds = st.texts["jvp"], st.eqn_kinds["jvp"]
    if step is None:
        return [jaxpr_pane("JVP jaxpr", text, kinds=kinds, wide=True)]
    rows = []
    for a, z in zip(step.primal_in, step.tangent_in_zero):
        rows.append(["in", e(a), _zero(z)])
    for a, z in zip(step.primal_out, step.tangent_out_zero):
        rows.append(["out", e(a), _zero(z)])
    what = "its JVP rule ran" if step.rule else "all input tangents are zero: bound as is, no rule"
    rule = table(["", "primal", "tangent"], rows) + note(what)
    prim = "".join(line_div(text.eqn_text(j), "gj-st-primal") for j in step.primal_eqns)
    tan = "".join(line_div(text.eqn_text(j), "gj-st-tangent") for j in step.tangent_eqns)
    marked = step.primal_eqns + step.tangent_eqns
    return [
        pane(f"JVP of {step.primitive}", rule, code=False),
        pane(
            "Source",
            e(step.source.text.strip()) if step.source else note("(none)"),
            sub=step.source.where() if step.source else "",
        ),
        _BREAK,
        pane("Primal equations", prim or note("(none)")),
        pane("Tangent equations", tan or note("(none: the output tangent is zero)")),
        pane(
            "JVP jaxpr",
            legend(_KIND_LEGEND["jvp"])
            + jaxpr_lines(text, *window_around(len(text), marked), kinds, marked),
            sub=f"{len(text)} equations",
            wide=True,
        ),
    ]


def _pe_panes(st, step):
    ktext, ltext = st.texts["partial_eval"], st.texts["linear"]
    res_known = {}
    for r in st.residuals:
        if r.produced_by is not None:
            res_known.setdefault(r.produced_by, []).append(r.linear_name)
    knotes = {j: "residual " + ", ".join(names) for j, names in res_known.items()}
    kinds_k = [
        f"{k} res" if j in res_known else k for j, k in enumerate(st.eqn_kinds["partial_eval"])
    ]
    rows = [[e(r.linear_name), e(r.aval), e(r.known_name), e(r.kind)] for r in st.residuals]
    res = (
        table(["linear jaxpr const", "type", "known value", "from"], rows)
        if rows
        else note("(no residuals)")
    )
    if step is None:
        return [
            jaxpr_pane("Known jaxpr", ktext),
            jaxpr_pane("Linear jaxpr", ltext),
            pane("Residuals", res, code=False),
        ]
    if step.known:
        verdict = "known: all operands known, runs now (into the known jaxpr)"
    else:
        verdict = "unknown: an operand is a tangent, recorded into the linear jaxpr"
    if not step.known and step.known_eqns:
        verdict += "; its own partial-eval rule also ran the known part now"
    info = [f"<div><b>{e(step.primitive)}</b> \u2014 {e(verdict)}</div>"]
    if step.via:
        info.append(note("bound by: " + " \u2192 ".join(str(h) for h in step.via)))
    if step.residuals:
        names = ", ".join(st.residuals[r].linear_name for r in step.residuals)
        info.append(note(f"its result is a residual: {names}"))
    if step.source:
        info.append(note(f"{step.source.where()}: {step.source.text.strip()}"))
    kl = window_around(len(ktext), step.known_eqns)
    ll = window_around(len(ltext), step.linear_eqns)
    known = jaxpr_lines(ktext, *kl, kinds_k, step.known_eqns, knotes)
    linear = jaxpr_lines(ltext, *ll, st.eqn_kinds["linear"], step.linear_eqns)
    return [
        pane("Partial evaluation", "".join(info), code=False),
        pane("Residuals", res, code=False),
        pane(
            "Known jaxpr (runs now)",
            legend(_KIND_LEGEND["partial_eval"][::2]) + known,
            sub=f"{len(ktext)} equations; outputs: primal outputs, then residuals",
        ),
        pane(
            "Linear jaxpr (recorded)",
            legend(_KIND_LEGEND["partial_eval"][1:2]) + linear,
            sub=f"{len(ltext)} equations; constants = residuals",
        ),
    ]


def _transpose_panes(st, step, i):
    ltext, ttext = st.texts["linear"], st.texts["transpose"]
    if step is None:
        return [jaxpr_pane("Transposed jaxpr", ttext, kinds=st.eqn_kinds["transpose"])]
    rows = []
    for name, ct in zip(ltext.eqns[step.forward_eqn].outvars, step.cts_in):
        none = '<span class="gj-st-zero">none</span>'
        rows.append(["ct in", e(ltext.name(name)), e(ct) if ct else none])
    for v, ct, w in zip(ltext.eqns[step.forward_eqn].invars, step.cts_out, step.written_to):
        label = e(ct) if ct else '<span class="gj-st-zero">(not linear)</span>'
        rows.append(["ct out", e(ltext.name(v)), label + (f" \u2192 ct[{e(w)}]" if w else "")])
    info = f"<div>transposing <code>{e(step.forward_text)}</code></div>" + table(
        ["", "variable", "cotangent"], rows
    )
    if step.nested_steps:
        info += note(f"{step.nested_steps} equations transposed inside it")
    table_now = st.cotangents(i)
    ct_rows = [[e(k), e(" + ".join(v)), str(len(v))] for k, v in table_now.items()]
    ct_pane = table(["linear var", "cotangent so far", "terms"], ct_rows[-60:])
    marked = step.emitted_eqns + step.accumulate_eqns
    tl = window_around(len(ttext), marked)
    fl = window_around(len(ltext), [step.forward_eqn])
    return [
        pane(f"Transpose of {step.primitive}", info, code=False),
        pane("Cotangents accumulated", ct_pane, code=False),
        pane(
            "Linear jaxpr (forward)",
            jaxpr_lines(ltext, *fl, None, [step.forward_eqn]),
            sub=f"equation {step.forward_eqn}",
        ),
        pane(
            "Transposed jaxpr (backward)",
            legend(_KIND_LEGEND["transpose"])
            + jaxpr_lines(ttext, *tl, st.eqn_kinds["transpose"], marked),
            sub=f"{len(ttext)} equations",
        ),
    ]


# ---------------------------------------------------------------------------- batching


def _value_html(v):
    dim = "unbatched" if v.dim is None else f"@{v.dim}"
    per = (
        f' <span class="gj-st-note">(per example {e(v.per_example)})</span>'
        if v.dim is not None
        else ""
    )
    return f'{e(v.name)}:{e(v.aval)} <span class="gj-st-dim">{e(dim)}</span>{per}'


def vmap_view(st, k=None, theme=None):
    k = st.position if k is None else k
    parts = [
        header(
            f"vmap(<code>{e(st.fun_name)}</code>, in_axes={e(st.in_axes)})",
            [f"{len(st.steps)} steps"],
        )
    ]
    parts.append(error_html(st.error))
    grid = []
    step = st.steps[k] if st.steps else None
    text = st.text
    notes = None
    if text is not None:
        notes = {}
        for i, eq in enumerate(text.eqns):
            outs = [text.name(v) for v in eq.outvars]
            ds = [
                f"{o}@{st.dims[o]}" if st.dims.get(o) is not None else f"{o} unbatched"
                for o in outs
                if o in st.dims
            ]
            if ds:
                notes[i] = ", ".join(ds)
    if text is not None:
        ins = ", ".join(
            f"{text.name(v)}@{st.dims[text.name(v)]}"
            if st.dims.get(text.name(v)) is not None
            else f"{text.name(v)} unbatched"
            for v in text.jaxpr.invars
        )
        parts.append(note(f"inputs: {ins}"))
    if step is not None:
        rows = [["in", _value_html(v)] for v in step.ins]
        rows += [["out", _value_html(v)] for v in step.outs]
        what = "batching rule applied" if step.rule else "no batched operand: bound as is"
        info = (
            f"<div>Step {k + 1} of {len(st.steps)}: <b>{e(step.primitive)}</b> "
            f"on <code>{e(step.trace)}</code> \u2014 {e(what)}</div>"
            + table(["", "value (batch axis)"], rows)
        )
        if step.nested_eqns:
            info += note(f"{step.nested_eqns} equations emitted into sub-jaxprs")
        grid.append(pane("Batching rule", info, code=False))
        grid.append(
            pane(
                "Source",
                e(step.source.text.strip()) if step.source else note("(none)"),
                sub=step.source.where() if step.source else "",
            )
        )
        if text is not None:
            grid.append(
                pane(
                    "Batched jaxpr",
                    jaxpr_lines(text, *window_around(len(text), step.eqns), None, step.eqns, notes),
                    sub=f"{len(text)} equations",
                    wide=True,
                )
            )
    elif text is not None:
        grid.append(jaxpr_pane("Batched jaxpr", text, notes=notes, wide=True))
    parts.append('<div class="gj-st-grid">' + "".join(grid) + "</div>")
    return root("".join(parts), theme)
