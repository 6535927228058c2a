"""The text stages as HTML, Compiler Explorer style: pure functions from the models to
HTML strings (no widgets, no kernel).

    s = visualize.stage_models(f, x)
    html = stages_html(s)                  # Source | jaxpr | StableHLO | HLO | optimized HLO
    jaxpr_html(s.jaxpr, links=s.source_map)
    stablehlo_html(s.mlir); hlo_html(s.hlo_opt); source_html(f)

Every linkable element carries a stable id from the models: ``data-line="file:line"``,
``data-eqn="<eqn id>"``, ``data-mlir="<op id>"``, ``data-hlo="<name>"`` and
``data-hlo-opt="<name>"``. ``link_table(source_map)`` is the compact JSON the page's
script (static/linker.js) reads to highlight the partners of a clicked element in every
pane; the equations are the hub every link goes through, so a fusion highlights all the
equations whose work it holds and an equation every kernel it ended up in.

Everything taken from user data (names, paths, source, IR text) is escaped; the JSON is
embedded with ``<``, ``>`` and ``&`` as ``\\u`` escapes, so no text can close the script.
"""

from __future__ import annotations

import html
import io
import json
import keyword
import linecache
import os
import re
import tokenize
import uuid

from engine import core

from .cells import display_name, location
from .hlo_model import HloModule
from .hlo_model import match_close as _match_close
from .jaxpr_model import JaxprModel
from .mlir_model import MlirModule
from .mlir_model import strip_locs as _strip_locs

__all__ = [
    "jaxpr_html",
    "stablehlo_html",
    "hlo_html",
    "source_html",
    "stages_html",
    "link_table",
    "html_document",
    "page_css",
    "page_js",
]

_STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
_static_cache = {}


def _static(name):
    if name not in _static_cache:
        with open(os.path.join(_STATIC, name), encoding="utf-8") as fh:
            text = fh.read()
        if name.endswith(".js") and any(t in text.lower() for t in ("</", "<script", "<!--")):
            raise ValueError(f"{name} holds '</', '<script' or '<!--': it cannot be inlined")
        _static_cache[name] = text
    return _static_cache[name]


def page_css():
    """The stylesheet (themes included), as inlined in every rendered root."""
    return _static("glassjax.css")


def page_js():
    """The linker script, as inlined in every rendered root."""
    return _static("linker.js")


def _e(s):
    return html.escape(str(s), quote=True)


def _json_script(data):
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" class="gj-links">{text}</script>'


def _line_key(file, line):
    return f"{file}:{line}"


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _tog():
    return '<span class="gj-tog" aria-hidden="true"></span>'


# ---------------------------------------------------------------------------- link table


def link_table(source_map):
    """The compact link table of a SourceMap (JSON-able), as the page script reads it:

    - ``lines``: {"file:line": [eqn ids]}
    - ``eqns``: {eqn id: {"l": "file:line", "m": [StableHLO op ids], "h"/"hk": [HLO
      instructions / kernels], "o"/"ok": [optimized instructions / kernels]}}, empty
      lists left out
    - ``mlir``: {op id: [eqn ids]}
    - ``hlo`` / ``hlo_opt``: {instruction: {"e": [eqn ids: its own metadata's and, for a
      fusion or other caller, those of everything inside it], "k": [kernels running it,
      when not itself], "c": [computations it calls, transitively]}}
    - ``why``: {eqn id: reason} for equations with no optimized partner (``"dead"``,
      ``"no_ops"``, ``"no_metadata"``; see ``SourceMap.unlinked``)
    """
    sm = source_map
    stages = [s for s in ("hlo", "hlo_opt") if sm.modules.get(s) is not None]
    table = {"v": 1, "lines": {_line_key(*fl): list(ids) for fl, ids in sm.line_eqns.items()}}
    eqns = {}
    for e in sm.jaxpr.all_eqns:
        d = {}
        if e.source is not None:
            d["l"] = _line_key(e.source[0], e.source[1])
        ops = sm.eqn_mlir_ops.get(e.id)
        if ops:
            d["m"] = list(ops)
        for stage, a, b in (("hlo", "h", "hk"), ("hlo_opt", "o", "ok")):
            if stage not in stages:
                continue
            insts = sm.eqn_insts[stage].get(e.id)
            if insts:
                d[a] = list(insts)
            kernels = sm.eqn_kernels[stage].get(e.id)
            if kernels:
                d[b] = list(kernels)
        eqns[e.id] = d
    table["eqns"] = eqns
    table["mlir"] = {k: list(v) for k, v in sm.mlir_op_eqns.items()}
    for stage in stages:
        table[stage] = _instruction_links(
            sm.modules[stage], sm.inst_eqns[stage], sm.kernel_eqns[stage]
        )
    if stages:
        last = stages[-1]  # reasons are given for the last stage shown
        direct = ("o", "ok") if last == "hlo_opt" else ("h", "hk")
        why = {}
        for e in sm.jaxpr.all_eqns:
            d = eqns[e.id]
            if not any(d.get(k) for k in direct) and not sm.hlo_for_eqn(
                e.id, last == "hlo_opt", nested=True
            ):
                if not e.live:
                    why[e.id] = "dead"
                elif (
                    sm.mlir is not None
                    and e.id not in sm.eqn_mlir_ops
                    and not sm.mlir_ops_for_eqn(e.id, nested=True)
                ):
                    why[e.id] = "no_ops"
                else:
                    why[e.id] = "no_metadata"
        table["why"] = why
    return table


def _instruction_links(module, inst_eqns, kernel_eqns):
    out = {}
    for ins in module.instructions():
        name = ins.name
        eqns = list(dict.fromkeys(list(inst_eqns.get(name, ())) + list(kernel_eqns.get(name, ()))))
        entry = {}
        if eqns:
            entry["e"] = eqns
        kernels = [k for k in module.kernels_of(name) if k != name]
        if kernels:
            entry["k"] = kernels
        if ins.called:
            entry["c"] = module.called_closure(ins)
        if entry:
            out[name] = entry
    return out


def _jaxpr_only_table(model):
    lines, eqns = {}, {}
    for e in model.all_eqns:
        d = {}
        if e.source is not None:
            key = _line_key(e.source[0], e.source[1])
            d["l"] = key
            lines.setdefault(key, []).append(e.id)
        eqns[e.id] = d
    return {"v": 1, "lines": lines, "eqns": eqns}


def _as_table(links):
    if links is None:
        return None
    if isinstance(links, dict):
        return links
    return link_table(links)


# ---------------------------------------------------------------------------- page pieces


def _root(inner, *, uid, theme, table, extra_class="", head="", tail=""):
    """The linked root element: page CSS, then ``head`` (e.g. a caller's own style and
    header), ``inner``, then ``tail`` (more sections), the link table and the script."""
    theme_attr = ""
    if theme is not None:
        if theme not in ("light", "dark"):
            raise ValueError(
                f"theme must be 'light', 'dark' or None (follow the page), got {theme!r}"
            )
        theme_attr = f' data-theme="{theme}"'
    parts = [
        f'<div class="gj-root{extra_class}" id="{_e(uid)}"{theme_attr}>',
        f"<style>{page_css()}</style>",
        head,
        keep_whitespace(inner),
        keep_whitespace(tail),
    ]
    if table is not None:
        parts.append(_json_script(table))
    uid_js = json.dumps(uid).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    parts.append(
        f"<script>{page_js()}\nGlassjaxLinker.init(document.getElementById({uid_js}));</script>"
    )
    parts.append("</div>")
    return "".join(parts)


def _new_uid(uid):
    return uid if uid is not None else "gj-" + uuid.uuid4().hex[:12]


def _pane(kind, title, body, *, sub="", tools=(), code_class=""):
    buttons = []
    for act, label, pressed in tools:
        state = f' aria-pressed="{pressed}"' if pressed else ""
        buttons.append(
            f'<button type="button" class="gj-btn" data-gj-act="{act}"{state}>{_e(label)}</button>'
        )
    buttons = "".join(buttons)
    cls = f"gj-code {code_class}".strip()
    return (
        f'<section class="gj-pane gj-{kind}" data-kind="{kind}" aria-label="{_e(title)}">'
        f'<div class="gj-pane-head"><span class="gj-pane-title">{_e(title)}</span>'
        f'<span class="gj-pane-sub">{_e(sub)}</span>'
        f'<span class="gj-count" aria-live="polite"></span>'
        f'<span class="gj-pane-tools">{buttons}</span></div>'
        f'<div class="{cls}" tabindex="0" role="region" aria-label="{_e(title)} text">'
        f"{body}</div></section>"
    )


_FOLD_TOOLS = (("expand", "expand all", None), ("collapse", "collapse all", None))


def html_document(fragment, title="Glassjax"):
    """A complete, self-contained HTML page around a rendered fragment."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
        "<style>body{margin:0}body>.gj-root{min-height:100vh;padding:8px}</style>"
        "</head><body>" + fragment + "</body></html>\n"
    )


# ---------------------------------------------------------------------------- jaxpr


def _as_jaxpr_model(jaxpr):
    if isinstance(jaxpr, JaxprModel):
        return jaxpr
    if isinstance(jaxpr, (core.ClosedJaxpr, core.Jaxpr)):
        return JaxprModel(jaxpr)
    inner = getattr(jaxpr, "jaxpr", None)  # a Traced stage
    if isinstance(inner, (core.ClosedJaxpr, core.Jaxpr)):
        return JaxprModel(inner)
    raise TypeError(
        f"jaxpr_html needs a JaxprModel, ClosedJaxpr or Jaxpr, got {type(jaxpr).__name__}"
    )


_WIDTH = 80


class _JaxprWriter:
    def __init__(self, model, table):
        self.m = model
        self.table = table or {}
        self.out = []
        self.avals = {}
        for b in model.constvars + model.invars:
            self._note(b)
        for e in model.all_eqns:
            for n, a in zip(e.outvars, e.out_avals):
                self.avals.setdefault(n, a)
            for s in e.subjaxprs:
                for b in s.constvars + s.invars:
                    self._note(b)

    def _note(self, binder):
        n, _, a = binder.partition(":")
        self.avals.setdefault(n, a)

    # -- atoms
    @staticmethod
    def binder(b):
        n, _, a = b.partition(":")
        return f'<span class="gj-def">{_e(n)}</span>:<span class="gj-ty">{_e(a)}</span>'

    def atom(self, a):
        if a in self.avals or ":" not in a:
            aval = self.avals.get(a)
            t = f' title="{_e(aval)}"' if aval else ""
            return f'<span class="gj-v"{t}>{_e(a)}</span>'
        lit, _, aval = a.rpartition(":")
        return f'<span class="gj-lit">{_e(lit)}</span>:<span class="gj-ty">{_e(aval)}</span>'

    def outs_html(self, e):
        return " ".join(self.binder(f"{n}:{a}") for n, a in zip(e.outvars, e.out_avals))

    @staticmethod
    def outs_text(e):
        return " ".join(f"{n}:{a}" for n, a in zip(e.outvars, e.out_avals))

    # -- whole jaxpr
    def render(self):
        m = self.m
        consts = " ".join(self.binder(b) for b in m.constvars)
        ins = " ".join(self.binder(b) for b in m.invars)
        out = self.out
        out.append(
            f'<div><span class="gj-kw">{{ lambda</span> {consts}{" " if consts else ""}; '
            f'{ins}. <span class="gj-kw">let</span></div>'
        )
        for eid in m.eqns:
            self.eqn(m.eqn(eid), 4)
        outs = ", ".join(self.atom(v) for v in m.outvars)
        comma = "," if len(m.outvars) == 1 else ""
        out.append(
            f'<div>  <span class="gj-kw">in</span> ({outs}{comma}) '
            '<span class="gj-kw">}</span></div>'
        )
        return "".join(out)

    def title(self, e):
        parts = [f"{e.primitive}: ({', '.join(e.in_avals)}) -> ({', '.join(e.out_avals)})"]
        if e.source is not None:
            parts.append(f"{location(e.source[0], e.source[1])} in {e.source[2]}")
        parts.append(f"equation {e.id}")
        if e.shared_with is not None:
            parts.append(f"same equation object as {e.shared_with}")
        links = self.table.get("eqns", {}).get(e.id)
        if links:
            kernels = links.get("ok") or links.get("hk")
            if kernels:
                shown = ", ".join(kernels[:4]) + (" ..." if len(kernels) > 4 else "")
                parts.append(f"runs in {_plural(len(kernels), 'kernel')}: {shown}")
        why = self.table.get("why", {}).get(e.id)
        if why:
            parts.append(
                {
                    "dead": "removed by XLA: its result is never used",
                    "no_ops": "its lowering emitted no op",
                    "no_metadata": "XLA kept no instruction naming it",
                }.get(why, why)
            )
        if not e.live and not why:
            parts.append("dead: its result is never used")
        return _e("\n".join(parts))

    def _attrs(self, e, extra=""):
        src = f' data-src="{_e(_line_key(e.source[0], e.source[1]))}"' if e.source else ""
        cls = "gj-eqn" + ("" if e.live else " gj-dead") + extra
        return f'class="{cls}" data-eqn="{_e(e.id)}"{src} title="{self.title(e)}"'

    def params(self, e):
        """[(key, value text | None, [SubJaxprModel], is_tuple)] in printed order."""
        eqn = e.eqn
        hook = getattr(eqn.primitive, "pp_params", None)
        shown = hook(eqn.params) if hook is not None else eqn.params
        keys = list(shown) if hook is not None else sorted(shown)
        subs = {}
        for s in e.subjaxprs:
            subs.setdefault(s.param, []).append(s)
        items = []
        for k in keys:
            if k in subs:
                items.append((k, None, subs[k], isinstance(shown[k], (tuple, list))))
            elif k in e.params:
                items.append((k, e.params[k], (), False))
        return items

    def eqn(self, e, indent):
        pad = " " * indent
        items = self.params(e)
        head_html = f'{self.outs_html(e)} = <span class="gj-prim">{_e(e.primitive)}</span>'
        ins_html = " ".join(self.atom(a) for a in e.invars)
        if not e.subjaxprs:
            ptxt = [f"{k}={v}" for k, v, _, _ in items]
            phtml = [f'<span class="gj-pk">{_e(k)}</span>={_e(v)}' for k, v, _, _ in items]
            if not ptxt:
                self.out.append(f"<div {self._attrs(e)}>{pad}{head_html} {ins_html}</div>")
                return
            one = f"{self.outs_text(e)} = {e.primitive}[{' '.join(ptxt)}]"
            if "\n" not in one and indent + len(one) <= _WIDTH:
                body = f"{head_html}[{' '.join(phtml)}] {ins_html}"
            else:
                inner = "".join(f"\n{pad}  {p}" for p in phtml)
                body = f"{head_html}[{inner}\n{pad}] {ins_html}"
            self.out.append(f"<div {self._attrs(e)}>{pad}{body}</div>")
            return
        out = self.out
        out.append(f"<div {self._attrs(e, ' gj-has-sub')}><div>{pad}{head_html}[</div>")
        pad2 = pad + "  "
        for k, v, subs, is_tuple in items:
            if not subs:
                out.append(f'<div>{pad2}<span class="gj-pk">{_e(k)}</span>={_e(v)}</div>')
            elif not is_tuple:
                self.sub(subs[0], indent + 2, f'<span class="gj-pk">{_e(k)}</span>=')
            else:
                out.append(f'<div>{pad2}<span class="gj-pk">{_e(k)}</span>=(</div>')
                for s in subs:
                    self.sub(s, indent + 4, "")
                out.append(f"<div>{pad2})</div>")
        out.append(f"<div>{pad}] {ins_html}</div></div>")

    def sub(self, s, indent, prefix):
        pad = " " * indent
        consts = " ".join(self.binder(b) for b in s.constvars)
        ins = " ".join(self.binder(b) for b in s.invars)
        outs = ", ".join(self.atom(v) for v in s.outvars)
        comma = "," if len(s.outvars) == 1 else ""
        tail = f'<span class="gj-kw">in</span> ({outs}{comma}) <span class="gj-kw">}}</span>'
        label = f"{s.parent}:{s.param}"
        if s.position or s.param == "branches":
            label += f"[{s.position}]"
        self.out.append(
            f'<details class="gj-subjaxpr" open data-sub="{_e(label)}"><summary>{_tog()}'
            f"{pad}{prefix}"
            f'<span class="gj-kw">{{ lambda</span> {consts}{" " if consts else ""}; {ins}. '
            f'<span class="gj-kw">let</span><span class="gj-hint"> \u2026 {len(s.eqns)} '
            f"equation{'' if len(s.eqns) == 1 else 's'} \u2026 {tail}</span></summary>"
        )
        for eid in s.eqns:
            self.eqn(self.m.eqn(eid), indent + 4)
        self.out.append(f"<div>{pad}  {tail}</div></details>")


def _jaxpr_pane(model, table, title="jaxpr"):
    body = _JaxprWriter(model, table).render()
    n = len(model.all_eqns)
    nested = n - len(model.eqns)
    sub = f"{n} equations" + (f" ({nested} nested)" if nested else "")
    return _pane("jaxpr", title, body, sub=sub, tools=_FOLD_TOOLS)


def jaxpr_html(jaxpr, *, links=None, theme=None, uid=None, title="jaxpr"):
    """A jaxpr (JaxprModel, ClosedJaxpr or Jaxpr) as a self-contained HTML fragment.
    ``links``: a SourceMap or ``link_table`` dict to embed (hover titles then say which
    kernels an equation ended up in)."""
    model = _as_jaxpr_model(jaxpr)
    table = _as_table(links) or _jaxpr_only_table(model)
    return _root(_jaxpr_pane(model, table, title), uid=_new_uid(uid), theme=theme, table=table)


# ---------------------------------------------------------------------------- StableHLO

_MLIR_TOKEN = re.compile(
    r"""
  (?P<str>"(?:[^"\\]|\\.)*")
| (?P<v>%[\w.$\-]+(?:\#\d+|:\d+)?)
| (?P<sym>@[\w.$\-]+)
| (?P<ty>\b(?:tensor|memref|vector|complex|tuple)<(?:[^<>]|<[^<>]*>)*>|!stablehlo\.token
        |\b(?:[su]?i(?:1|2|4|8|16|32|64)|f(?:16|32|64)|bf16|f8E\w+|index)\b)
| (?P<prim>\b[a-z_][a-z0-9_]*\.[a-z_][\w.]*)
| (?P<lit>\b(?:true|false)\b|(?<![\w.])-?\d+(?:\.\d+)?(?:e[+\-]?\d+)?\b|\b0x[0-9A-Fa-f]+\b)
| (?P<kw>\b(?:module|func|return|call|public|private|nested|cond|do|applies|across|dimensions
        |init|dense|dims|to|attributes|loc|unknown|callsite|at|fused)\b)
""",
    re.X,
)


# Token kinds whose patterns cannot match "&<>\"'": no escaping needed.
_SAFE_TOKENS = frozenset(("v", "sym", "prim", "kw", "lit", "pk"))
_SPECIAL = re.compile("[&<>\"']")


def _highlight(text, pattern, hook=None):
    """One pass over ``text``: matched tokens wrapped in ``<span class=gj-GROUP>``;
    ``hook(group, token, start) -> html | None`` may render a token itself."""
    out, pos = [], 0
    special = _SPECIAL.search(text) is not None
    for m in pattern.finditer(text):
        s = m.start()
        if s > pos:
            out.append(_e(text[pos:s]) if special else text[pos:s])
        g = m.lastgroup
        tok = m.group()
        rendered = hook(g, tok, s) if hook is not None else None
        if rendered is None:
            safe = tok if g in _SAFE_TOKENS or not special else _e(tok)
            rendered = f'<span class="gj-{g}">{safe}</span>'
        out.append(rendered)
        pos = m.end()
    if pos < len(text):
        out.append(_e(text[pos:]) if special else text[pos:])
    return "".join(out)


def _mlir_title(op, table):
    loc = op.location
    fl = loc.file_location()
    parts = [op.name]
    if op.result_types:
        parts.append(" -> " + ", ".join(op.result_types))
    if fl is not None:
        fn = loc.function
        parts.append(f"{fl[0]}:{fl[1]}" + (f" in {fn}" if fn else ""))
    if loc.tag:
        parts.append(f"tag {loc.tag}")
    eqns = (table or {}).get("mlir", {}).get(op.id)
    if eqns:
        parts.append(
            f"equation{'s' if len(eqns) > 1 else ''} {', '.join(eqns[:6])}"
            + (" ..." if len(eqns) > 6 else "")
        )
    return _e("\n".join(parts))


def _mlir_pane(mlir, table, title="StableHLO"):
    lines = mlir.text.split("\n")
    ops = mlir.ops()
    starts = {op.line: op for op in ops}
    parents = {op.parent for op in ops if op.parent is not None}
    fn_start = {f.line: f for f in mlir.functions.values()}
    closes = {}
    out = []
    aliases = []
    for i, ln in enumerate(lines):
        if ln.startswith("#"):
            aliases.append(ln)
            continue
        text = _strip_locs(ln) if "loc(" in ln else ln
        hl = _highlight(text, _MLIR_TOKEN) if text.strip() else " "
        f = fn_start.get(i)
        op = starts.get(i)
        if f is not None and f.end_line is not None and f.end_line > i:
            out.append(
                f'<details class="gj-func" open data-func="{_e(f.name)}"><summary>{_tog()}'
                f'{hl}<span class="gj-hint"> \u2026 {len(f.ops)} ops \u2026 }}</span>'
                "</summary>"
            )
            closes.setdefault(f.end_line, []).append("</details>")
        elif op is not None:
            src = op.location.file_location()
            src_attr = f' data-src="{_e(_line_key(src[0], src[1]))}"' if src else ""
            attrs = (
                f'class="gj-op" data-mlir="{_e(op.id)}"{src_attr} title="{_mlir_title(op, table)}"'
            )
            end = op.end_line
            spans = end is not None and end > i
            region = spans and (op.id in parents or text.rstrip().endswith("{"))
            if region:
                out.append(
                    f'<div {attrs}><details class="gj-region" open><summary>{_tog()}{hl}'
                    f'<span class="gj-hint"> \u2026 }}</span></summary>'
                )
                closes.setdefault(end, []).append("</details></div>")
            elif spans:
                out.append(f"<div {attrs}><div>{hl}</div>")
                closes.setdefault(end, []).append("</div>")
            else:
                out.append(f"<div {attrs}>{hl}</div>")
        else:
            out.append(f"<div>{hl}</div>")
        for c in closes.pop(i, ()):
            out.append(c)
    for i in sorted(closes):  # never expected: unclosed regions in the text
        out.extend(closes[i])
    if aliases:
        out.append(
            f'<details class="gj-locs"><summary>{_tog()}<span class="gj-note">'
            f"{len(aliases)} location aliases (#loc)</span></summary>"
        )
        out.extend(f"<div>{_highlight(a, _MLIR_TOKEN)}</div>" for a in aliases)
        out.append("</details>")
    sub = f"{len(ops)} ops in {_plural(len(mlir.functions), 'function')}"
    return _pane("mlir", title, "".join(out), sub=sub, tools=_FOLD_TOOLS)


def stablehlo_html(mlir, *, links=None, theme=None, uid=None, title="StableHLO"):
    """A StableHLO module (MlirModule, or its text with debug info) as a self-contained
    HTML fragment; locations are shown on hover instead of inline."""
    if isinstance(mlir, str):
        from .mlir_model import parse_mlir_module

        mlir = parse_mlir_module(mlir)
    if not isinstance(mlir, MlirModule):
        raise TypeError(
            f"stablehlo_html needs an MlirModule or its text, got {type(mlir).__name__}"
        )
    table = _as_table(links)
    return _root(_mlir_pane(mlir, table, title), uid=_new_uid(uid), theme=theme, table=table)


# ---------------------------------------------------------------------------- HLO

_HLO_TOKEN = re.compile(
    r"""
  (?P<str>"(?:[^"\\]|\\.)*")
| (?P<v>%[\w.\-]+)
| (?P<ty>\b(?:pred|token|[suf]\d+|bf16|c64|c128|f8e\w+)\[[^\]]*\](?:\{[^}]*\})?)
| (?P<prim>\b[a-z][a-z0-9\-]*(?=\())
| (?P<pk>\b[a-z_][a-z0-9_]*(?==))
| (?P<kw>\b(?:ROOT|ENTRY|HloModule)\b)
| (?P<lit>(?<![\w.\-])-?\d[\w.]*|\b(?:true|false|inf|nan)\b)
""",
    re.X,
)

_HLO_TABLES = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")
_FUSED_COLLAPSE_AT = 80  # instructions in a module above which fused bodies start collapsed


class _HloWriter:
    def __init__(self, module, attr, uid, table, collapse):
        self.m = module
        self.attr = attr
        self.uid = uid
        self.table = table or {}
        self.links = self.table.get("hlo_opt" if attr == "data-hlo-opt" else "hlo", {})
        self.eqn_lines = {k: v.get("l") for k, v in self.table.get("eqns", {}).items()}
        self.collapse = collapse
        self.comp_ids = {name: f"{uid}-c{i}" for i, name in enumerate(module.computations)}

    def hook(self, g, tok, start):
        if g != "v":
            return None
        name = tok[1:]
        if start == self._def_at:
            return f'<span class="gj-def">{_e(tok)}</span>'
        if name in self.comp_ids and name not in self.m:
            return (
                f'<a class="gj-ref" href="#{self.comp_ids[name]}" data-comp="{_e(name)}">'
                f"{_e(tok)}</a>"
            )
        return f'<span class="gj-v">{_e(tok)}</span>'

    def line(self, text, def_at=-1):
        self._def_at = def_at
        k = text.find("metadata={")
        if k < 0:
            return _highlight(text, _HLO_TOKEN, self.hook)
        try:
            end = _match_close(text, k + len("metadata=")) + 1
        except ValueError:
            return _highlight(text, _HLO_TOKEN, self.hook)
        start = k
        if text[max(0, k - 2) : k] == ", ":
            start = k - 2
        return (
            _highlight(text[:start], _HLO_TOKEN, self.hook)
            + f'<span class="gj-meta">{_e(text[start:end])}</span>'
            + _highlight(text[end:], _HLO_TOKEN, self.hook)
        )

    def title(self, ins):
        parts = [
            f"%{ins.name} = {ins.shape.text} {ins.opcode}"
            + (f" ({ins.fusion_kind})" if ins.fusion_kind else "")
        ]
        md = ins.metadata
        if md.op_name:
            parts.append(f"op_name: {md.op_name}")
        if md.stack:
            f = md.stack[0]
            parts.append(location(f.file, f.line) + (f" in {f.function}" if f.function else ""))
        elif md.source is not None:
            parts.append(location(md.source[0], md.source[1]))
        link = self.links.get(ins.name)
        if link and link.get("e"):
            eqns = link["e"]
            lines = list(dict.fromkeys(ln for ln in (self.eqn_lines.get(x) for x in eqns) if ln))
            what = "holds work of" if ins.called else "from"
            parts.append(
                f"{what} {len(eqns)} equation{'s' if len(eqns) > 1 else ''}: "
                + ", ".join(eqns[:8])
                + (" ..." if len(eqns) > 8 else "")
            )
            if lines:
                parts.append(
                    "lines "
                    + ", ".join(x.rsplit(":", 1)[-1] for x in lines[:10])
                    + (" ..." if len(lines) > 10 else "")
                )
        elif self.table:
            parts.append(
                "no equation: "
                + (
                    "a parameter"
                    if ins.opcode == "parameter"
                    else "made by XLA (no metadata names one)"
                )
            )
        if link and link.get("k"):
            parts.append("runs inside " + ", ".join(link["k"][:4]))
        return _e("\n".join(parts))

    def render(self):
        m = self.m
        lines = m.text.split("\n")
        first = next(iter(m.computations.values()), None)
        offset = 0
        if first is not None and first.line is not None:
            for j, ln in enumerate(lines):
                s = ln.strip()
                if s.endswith("{") and not s.startswith("HloModule"):
                    offset = first.line - j
                    break
        comp_at = {c.line - offset: c for c in m.computations.values() if c.line is not None}
        ins_at = {i.line - offset: i for i in m.instructions() if i.line is not None}
        out, comp, in_tables = [], None, False
        for j, ln in enumerate(lines):
            s = ln.strip()
            if comp is not None:
                ins = ins_at.get(j)
                if ins is not None:
                    d = ln.find("%" + ins.name)
                    out.append(
                        f'<div class="gj-ins" {self.attr}="{_e(ins.name)}" '
                        f'title="{self.title(ins)}">{self.line(ln, d)}</div>'
                    )
                elif s == "}":
                    out.append(f"<div>{_e(ln)}</div></details>")
                    comp = None
                else:
                    out.append(f"<div>{self.line(ln) if s else ' '}</div>")
                continue
            c = comp_at.get(j)
            if c is not None:
                if in_tables:
                    out.append("</details>")
                    in_tables = False
                comp = c
                out.append(self.comp_open(c, ln))
                continue
            if s in _HLO_TABLES and not in_tables:
                in_tables = True
                out.append(
                    f'<details class="gj-tables"><summary>{_tog()}<span class="gj-note">'
                    "source tables (FileNames, FunctionNames, FileLocations, StackFrames)"
                    "</span></summary>"
                )
            out.append(f"<div>{self.line(ln) if s else ' '}</div>")
        if in_tables:
            out.append("</details>")
        if comp is not None:
            out.append("</details>")
        return "".join(out)

    def comp_open(self, c, ln):
        embedded = self.m.is_embedded(c)
        kind = (
            "gj-entry"
            if c.is_entry
            else ("gj-fused" if c.is_fusion else ("gj-embedded" if embedded else "gj-called"))
        )
        is_open = not (self.collapse and embedded)
        callers = ""
        if c.callers:
            shown = ", ".join("%" + x for x in c.callers[:3])
            shown += " ..." if len(c.callers) > 3 else ""
            how = "fused into" if c.is_fusion else "called by"
            callers = f'<span class="gj-note">  // {how} {_e(shown)}</span>'
        return (
            f'<details class="gj-comp {kind}" id="{self.comp_ids[c.name]}" '
            f'data-comp="{_e(c.name)}"{" open" if is_open else ""}><summary>{_tog()}'
            f'{self.line(ln, ln.find("%" + c.name))}{callers}<span class="gj-hint"> \u2026 '
            f"{len(c.instructions)} instructions \u2026 }}</span></summary>"
        )


def _hlo_pane(module, table, *, optimized, uid, collapse_fused=None, title=None):
    if collapse_fused is None:
        collapse_fused = len(module.instructions()) > _FUSED_COLLAPSE_AT
    attr = "data-hlo-opt" if optimized else "data-hlo"
    body = _HloWriter(module, attr, uid, table, collapse_fused).render()
    c = module.counts()
    sub = f"{c['instructions']} instructions"
    if c["fusions"]:
        sub += f", {c['fusions']} fusions"
    title = title or ("optimized HLO" if optimized else "HLO")
    tools = _FOLD_TOOLS + (("entry", "ENTRY", None), ("meta", "metadata", "false"))
    return _pane(
        "hlo_opt" if optimized else "hlo",
        title,
        body,
        sub=sub,
        tools=tools,
        code_class="gj-hide-meta",
    )


def hlo_html(
    module, *, optimized=None, links=None, collapse_fused=None, theme=None, uid=None, title=None
):
    """An HLO module (HloModule or its text) as a self-contained HTML fragment.

    ``optimized``: whether it is XLA's module after optimization (instructions carry
    ``data-hlo-opt``) or before (``data-hlo``); by default, after if XLA scheduled it.
    ``collapse_fused``: start fused and other embedded computations collapsed (by
    default when the module has more than 80 instructions)."""
    if isinstance(module, str):
        from .hlo_model import parse_hlo_module

        module = parse_hlo_module(module)
    if not isinstance(module, HloModule):
        raise TypeError(f"hlo_html needs an HloModule or its text, got {type(module).__name__}")
    if optimized is None:
        optimized = module.attributes.get("is_scheduled") == "true"
    uid = _new_uid(uid)
    table = _as_table(links)
    pane = _hlo_pane(
        module, table, optimized=optimized, uid=uid, collapse_fused=collapse_fused, title=title
    )
    return _root(pane, uid=uid, theme=theme, table=table)


# ---------------------------------------------------------------------------- Python source


def _python_token_class(tok, prev):
    t = tok.type
    if t == tokenize.COMMENT:
        return "cm"
    if t == tokenize.STRING:
        return "str"
    if t == tokenize.NUMBER:
        return "lit"
    if t == tokenize.NAME:
        if keyword.iskeyword(tok.string):
            return "kw"
        if prev is not None and prev.type == tokenize.NAME and prev.string in ("def", "class"):
            return "prim"
    return None


def highlight_python(text):
    """Python source -> one HTML string per line (tokens from the stdlib tokenizer;
    what it cannot tokenize stays plain, escaped)."""
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    starts, acc = [], 0
    for ln in lines:
        starts.append(acc)
        acc += len(ln) + 1
    spans = []
    try:
        prev = None
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            cls = _python_token_class(tok, prev)
            if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                prev = tok
            if cls is None:
                continue
            (r0, c0), (r1, c1) = tok.start, tok.end
            if r0 - 1 >= len(starts) or r1 - 1 >= len(starts):
                continue
            spans.append((starts[r0 - 1] + c0, starts[r1 - 1] + c1, cls))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    out = [[]]

    def emit(s, cls):
        for k, part in enumerate(s.split("\n")):
            if k:
                out.append([])
            if part:
                out[-1].append(f'<span class="gj-{cls}">{_e(part)}</span>' if cls else _e(part))

    pos = 0
    for a, b, cls in spans:
        if a < pos:
            continue
        if a > pos:
            emit(text[pos:a], None)
        emit(text[a:b], cls)
        pos = b
    emit(text[pos:], None)
    return [keep_whitespace("".join(parts)) for parts in out][: len(lines)]


_WS_BEFORE_SPAN = re.compile(r"(^|>)([ \t\n]+)<span\b([^>]*)>")


def keep_whitespace(html):
    """Whitespace between two tags (a line's indentation before its first token) moved
    into the span that follows it. HTML re-serializers such as BeautifulSoup's, which
    nbconvert runs over an export, collapse whitespace-only text outside <pre> to one
    space; inside the span it survives, and with ``white-space: pre`` it looks the same."""
    return _WS_BEFORE_SPAN.sub(r"\1<span\3>\2", html)


_DEF_LINE = re.compile(r"^\s*(?:async\s+)?def\s")


def _windows(src_lines, work, *, whole_below=150, context=3, merge_gap=6, def_lookback=40):
    """1-based inclusive line ranges to show: the whole file when short, else the lines
    with work, their context and the ``def`` line above them."""
    n = len(src_lines)
    if n <= whole_below or not work:
        return [(1, n)] if n else []
    ranges = []
    for ln in sorted(work):
        lo = max(1, ln - context)
        for k in range(ln, max(0, ln - def_lookback), -1):
            if k <= n and _DEF_LINE.match(src_lines[k - 1]):
                lo = min(lo, k)
                break
        ranges.append([lo, min(n, ln + context)])
    merged = [ranges[0]]
    for lo, hi in ranges[1:]:
        if lo <= merged[-1][1] + merge_gap:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [tuple(r) for r in merged]


def _line_title(key, table):
    eqns = table.get("lines", {}).get(key) if table else None
    if not eqns:
        return None
    links = table.get("eqns", {})
    ops = {o for e in eqns for o in links.get(e, {}).get("m", ())}
    kernels = {k for e in eqns for k in links.get(e, {}).get("ok", links.get(e, {}).get("hk", ()))}
    parts = [
        f"{len(eqns)} equation{'s' if len(eqns) > 1 else ''}: "
        + ", ".join(eqns[:8])
        + (" ..." if len(eqns) > 8 else "")
    ]
    if ops:
        parts.append(f"{len(ops)} StableHLO op{'s' if len(ops) > 1 else ''}")
    if kernels:
        parts.append(
            f"{len(kernels)} kernel{'s' if len(kernels) > 1 else ''}: "
            + ", ".join(sorted(kernels)[:4])
            + (" ..." if len(kernels) > 4 else "")
        )
    return "\n".join(parts)


def _line_div(file, n, body, table, work):
    key = _line_key(file, n)
    t = _line_title(key, table) if n in work else None
    title = f' title="{_e(t)}"' if t else ""
    cls = "gj-ln gj-work" if n in work else "gj-ln"
    return f'<div class="{cls}" data-n="{n}" data-line="{_e(key)}"{title}>{body or " "}</div>'


def _file_open(file):
    shown = display_name(file)
    title = f' title="{_e(file)}"' if shown != file else ""
    return (
        f'<details class="gj-file" open data-file="{_e(file)}"><summary{title}>{_tog()}'
        f"{_e(shown)}</summary>"
    )


def _source_file_block(file, text, table, work, *, first_line=1, ranges=None):
    src_lines = text.replace("\r\n", "\n").split("\n")
    if src_lines and src_lines[-1] == "":
        src_lines.pop()
    highlighted = highlight_python("\n".join(src_lines))
    local_work = {ln - first_line + 1 for ln in work}
    if ranges is None:
        ranges = _windows(src_lines, local_work)
    out = [_file_open(file)]
    prev_hi = 0
    for lo, hi in ranges:
        if lo > prev_hi + 1:
            out.append(f'<div class="gj-gap">\u22ef {lo - prev_hi - 1} lines \u22ef</div>')
        for k in range(lo, hi + 1):
            body = highlighted[k - 1] if k - 1 < len(highlighted) else ""
            out.append(_line_div(file, k + first_line - 1, body, table, work))
        prev_hi = hi
    if prev_hi < len(src_lines):
        out.append(f'<div class="gj-gap">\u22ef {len(src_lines) - prev_hi} lines \u22ef</div>')
    out.append("</details>")
    return "".join(out)


def _work_by_file(table):
    files = {}
    for key in (table or {}).get("lines", {}):
        file, _, line = key.rpartition(":")
        if line.isdigit():
            files.setdefault(file, set()).add(int(line))
    return files


def _source_pane(files, table, title="Source"):
    """files: [(file, text or None, work lines)]"""
    out = []
    for file, text, work in files:
        if text:
            out.append(_source_file_block(file, text, table, work))
        else:
            out.append(
                _file_open(file) + '<div class="gj-note">source not available; '
                "the lines with work:</div>"
            )
            out.extend(_line_div(file, n, "", table, work) for n in sorted(work))
            out.append("</details>")
    if not files:
        out.append('<div class="gj-note">no source locations recorded</div>')
    sub = f"{sum(len(w) for _, _, w in files)} lines with work"
    return _pane("source", title, "".join(out), sub=sub, tools=_FOLD_TOOLS, code_class="gj-src")


def _read_source(file):
    lines = linecache.getlines(file)
    return "".join(lines) if lines else None


def source_html(
    source, *, file=None, first_line=1, links=None, theme=None, uid=None, title="Source"
):
    """Python source as a self-contained HTML fragment, one ``data-line="file:line"``
    element per line.

    ``source``: the text (of a file, or a piece starting at ``first_line``), a function
    (its source, file and first line are looked up), or None to read ``file``.
    ``links``: a SourceMap or link table; lines with work in it are marked."""
    import inspect

    if callable(source) and not isinstance(source, str):
        fn = inspect.unwrap(getattr(source, "__wrapped__", source))
        fn = getattr(fn, "fun", fn)
        lines, first_line = inspect.getsourcelines(fn)
        file = file or inspect.getsourcefile(fn) or fn.__code__.co_filename
        source = "".join(lines)
    if source is None:
        if file is None:
            raise TypeError("source_html needs source text, a function, or file=")
        source = _read_source(file) or ""
    file = file if file is not None else "<source>"
    table = _as_table(links)
    work = _work_by_file(table).get(file, set())
    n = len(source.replace("\r\n", "\n").rstrip("\n").split("\n"))
    ranges = [(1, n)]
    body = _source_file_block(file, source, table, work, first_line=first_line, ranges=ranges)
    pane = _pane(
        "source",
        title,
        body,
        sub=f"{len(work)} lines with work" if table else "",
        code_class="gj-src",
    )
    return _root(pane, uid=_new_uid(uid), theme=theme, table=table)


# ---------------------------------------------------------------------------- all stages

_LEGEND = (
    "Click a line, equation, op or instruction to highlight its partners in every "
    "pane; hover to preview; from the keyboard, focus a pane and use \u2191/\u2193 (or j/k) "
    "then Enter, Esc to clear. Links: source \u2194 jaxpr from recorded locations, "
    "jaxpr \u2194 StableHLO from the engine's tags (exact), HLO from XLA's metadata. After "
    "fusion one kernel holds many equations and one equation may be split over several "
    "kernels: both are shown, nothing is guessed."
)


def stages_html(
    stages,
    *,
    theme=None,
    uid=None,
    collapse_fused=None,
    title=None,
    max_height=None,
    extra_panes=(),
    head="",
    tail="",
):
    """Every stage of a ``stage_models(f, ...)`` result side by side: Source | jaxpr |
    StableHLO | HLO | optimized HLO, linked (a click in one pane highlights the partners
    in all others); tabs instead when narrower than 900px. Self-contained: inline CSS
    and script, no network.

    Callers compose more into the same linked root: ``extra_panes``, (tab name, pane
    HTML) pairs shown after the stages' own panes, with their tabs; ``head``, HTML right
    after the page's style (a caller's own CSS and header); ``tail``, HTML after the
    panes (more sections), before the link table and script."""
    uid = _new_uid(uid)
    sm = stages.source_map
    table = link_table(sm)
    files = []
    for file, work in _work_by_file(table).items():
        files.append((file, _read_source(file), work))
    panes = [("Source", _source_pane(files, table)), ("jaxpr", _jaxpr_pane(stages.jaxpr, table))]
    if stages.mlir is not None:
        panes.append(("StableHLO", _mlir_pane(stages.mlir, table)))
    if stages.hlo is not None:
        panes.append(
            (
                "HLO",
                _hlo_pane(
                    stages.hlo,
                    table,
                    optimized=False,
                    uid=uid + "-pre",
                    collapse_fused=collapse_fused,
                ),
            )
        )
    if stages.hlo_opt is not None:
        panes.append(
            (
                "optimized HLO",
                _hlo_pane(
                    stages.hlo_opt,
                    table,
                    optimized=True,
                    uid=uid + "-opt",
                    collapse_fused=collapse_fused,
                ),
            )
        )
    panes.extend(extra_panes)
    fun = getattr(stages.traced, "fun_name", None) or "f"
    heading = title if title is not None else f"jit({fun})"
    why = table.get("why", {})
    counts = {}
    for r in why.values():
        counts[r] = counts.get(r, 0) + 1
    summary = [f"{len(stages.jaxpr.all_eqns)} equations"]
    if stages.mlir is not None:
        summary.append(f"{len(stages.mlir.ops())} StableHLO ops")
    if stages.hlo_opt is not None:
        c = stages.hlo_opt.counts()
        summary.append(f"{c['instructions']} optimized instructions, {c['fusions']} fusions")
    if counts:
        names = {
            "dead": "dead (removed by XLA)",
            "no_ops": "without ops",
            "no_metadata": "not named by XLA's metadata",
        }
        summary.append(
            "equations with no optimized partner: "
            + ", ".join(f"{n} {names.get(r, r)}" for r, n in sorted(counts.items()))
        )
    tabs = "".join(
        f'<button type="button" class="gj-tab" role="tab" data-tab="{i}" '
        f'aria-selected="{"true" if i == 0 else "false"}">{_e(name)}'
        '<span class="gj-tab-count"></span></button>'
        for i, (name, _) in enumerate(panes)
    )
    style = ""
    if max_height is not None:
        if not re.fullmatch(r"\d+(\.\d+)?(px|em|rem|vh|%)", str(max_height)):
            raise ValueError(
                f"max_height must be a CSS length such as '600px' or '70vh', got {max_height!r}"
            )
        style = f' style="--gj-max-height:{max_height}"'
    inner = (
        f'<div class="gj-stages"{style}><div class="gj-title">'
        f'<span class="gj-fn">{_e(heading)}</span></div>'
        f'<div class="gj-summary-line">{_e("; ".join(summary))}</div>'
        f'<div class="gj-tabs" role="tablist">{tabs}</div>'
        f'<div class="gj-panes">{"".join(p for _, p in panes)}</div>'
        f'<div class="gj-legend">{_e(_LEGEND)}</div></div>'
    )
    return _root(inner, uid=uid, theme=theme, table=table, head=head, tail=tail)
