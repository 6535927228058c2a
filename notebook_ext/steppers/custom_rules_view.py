"""The autodiff stepper's view of custom differentiation rules and rematerialization,
read from the engine's event stream only:

- ``events.CustomRuleStarted`` / ``CustomRuleApplied``: a user's ``custom_jvp`` rule,
  ``custom_vjp`` ``fwd`` or ``bwd`` ran (by name and the line it is defined on); the
  equations emitted inside that span are the rule's;
- ``events.RematDecision``: partial evaluation split a ``checkpoint`` by its policy into
  saved values (residuals) and forward equations recomputed in the backward pass;
- in the transpose stage, the equations a checkpoint's transpose emits inside a nested
  backward pass's "forward" phase are its recomputation.

``saved_residual_lines`` words the stepper's residuals as
``jax.ad_checkpoint.print_saved_residuals`` does. The HTML helpers at the end are used
by ``render.grad_view``.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from engine import core, events, tree_util
from visualize.cells import cell_label, location

from .events import CustomRuleRun, RematInfo, Residual
from .recording import source_line

REMAT_PRIMITIVE = "remat2"


# ---------------------------------------------------------------------------- ancestry


def owner(rec: events.Recording, ev: events.Event, owners: dict[int, Any]) -> Any:
    """The value of ``owners`` for the innermost span around ``ev`` that has one."""
    call = ev.parent
    seen = 0
    while call is not None and seen < 10_000:
        found = owners.get(call)
        if found is not None:
            return found
        begin = rec.begin_of(call)
        call = begin.parent if begin is not None else None
        seen += 1
    return None


def rule_eqn_events(rec: events.Recording) -> dict[int, list[events.EqnEmitted]]:
    """{CustomRuleStarted call: the EqnEmitted events inside it (nested rules included)}."""
    out: dict[int, list[events.EqnEmitted]] = {}
    for ev in rec.of(events.EqnEmitted):
        for b in rec.ancestors(ev, events.CustomRuleStarted):
            out.setdefault(b.call, []).append(ev)
    return out


def custom_rule_run(
    rec: events.Recording,
    begin: events.CustomRuleStarted,
    relation: str = "ran",
    emitted: Iterable[events.EqnEmitted] = (),
    index: Callable[[events.EqnEmitted], int | None] | None = None,
) -> CustomRuleRun:
    """A CustomRuleRun for a rule span; ``emitted`` its EqnEmitted events, ``index`` the
    position of one in the stage's jaxpr (None: not a top-level equation there)."""
    end = rec.end_of(begin.call)
    out_avals = []
    if isinstance(end, events.CustomRuleApplied):
        out_avals = [a.str_short() if a is not None else "?" for a in end.out_avals]
    emitted = list(emitted)
    eqns: list[int] = []
    if index is not None:
        at = [(ev, index(ev)) for ev in emitted]
        eqns = [i for _, i in at if i is not None]
        if eqns:  # what it emitted into the stage's jaxpr (sub-jaxprs' bodies aside)
            emitted = [ev for ev, i in at if i is not None]
    return CustomRuleRun(
        rule_kind=begin.rule_kind,
        function=begin.function,
        rule=begin.rule,
        source=source_line(begin.source_info),
        relation=relation,
        eqns=sorted(set(eqns)),
        primitives=[ev.primitive for ev in emitted],
        out_avals=out_avals,
    )


def rules_inside(
    rec: events.Recording,
    owners: dict[int, Any],
    index: Callable[[events.EqnEmitted], int | None],
) -> list[tuple[Any, CustomRuleRun]]:
    """(owning step, CustomRuleRun) for each custom rule that ran inside a step's span
    (innermost enclosing step); rules nested in another rule count once, in the outer."""
    by_rule = rule_eqn_events(rec)
    out = []
    for b in rec.of(events.CustomRuleStarted):
        step = owner(rec, b, owners)
        if step is None:
            continue
        outer = next(rec.ancestors(b, events.CustomRuleStarted), None)
        if outer is not None and owner(rec, outer, owners) is step:
            continue
        emitted = _rule_level(rec, b, by_rule.get(b.call, []))
        out.append((step, custom_rule_run(rec, b, "ran", emitted, index)))
    return out


def _rule_level(
    rec: events.Recording, b: events.CustomRuleStarted, emitted: list[events.EqnEmitted]
) -> list[events.EqnEmitted]:
    """The equations a rule emitted at its own level: into the trace the interpreter
    running it computes on (not those of a function it traced into a sub-jaxpr), when
    that is known and holds any; else all of them."""
    rule = next(rec.ancestors(b, events.RuleStarted), None)
    t = rec.traces.get(rule.trace) if rule is not None else None
    if t is None or t.parent_trace is None:
        return emitted
    own = [ev for ev in emitted if ev.trace == t.parent_trace]
    return own or emitted


def rule_binding(rec: events.Recording, ev: events.Event) -> CustomRuleRun | None:
    """The innermost custom rule whose span holds ``ev`` (its primitive was bound by the
    user's rule), as a "bound" CustomRuleRun."""
    b = next(rec.ancestors(ev, events.CustomRuleStarted), None)
    return custom_rule_run(rec, b, "bound") if b is not None else None


def bwd_note(text: Any, eqns: list[int]) -> str:
    """Where a custom_vjp JVP step left the user's bwd rule: the ``custom_lin`` equation
    (of ``text``, among ``eqns``) that holds it until the transpose stage."""
    for i in eqns:
        eqn = text.eqns[i]
        if eqn.primitive.name == "custom_lin":
            bwd = getattr(eqn.params.get("bwd"), "__name__", "bwd")
            out = ", ".join(text.name(v) for v in eqn.outvars)
            return f"its bwd rule {bwd} waits in custom_lin ({out}) for the transpose stage"
    return ""


def failing_rule(rec: events.Recording) -> CustomRuleRun | None:
    """The user's custom rule a failed trace points at: the innermost whose span was
    still open when it failed (the rule raised, or the engine's check of what it
    returned did), as a "failed" CustomRuleRun; None when no rule was running."""
    for b in reversed(rec.of(events.CustomRuleStarted)):
        if rec.end_of(b.call) is None:
            return custom_rule_run(rec, b, "failed")
    return None


# ---------------------------------------------------------------------------- remat


def eqn_label(eqn: Any) -> str:
    """``sin from file:line`` (``name[h1]`` for a checkpoint_name)."""
    prim = eqn.primitive.name
    if prim == "name":
        prim = f"name[{eqn.params.get('name')}]"
    src = source_line(eqn.source_info)
    return f"{prim} from {src.where()}" if src else prim


def remat_info(
    decision: events.RematDecision,
    operand_names: list[str | None],
    nested_in: str = "",
) -> RematInfo:
    """A RematDecision as plain data; an operand saved as is is named by
    ``operand_names`` (its name in the known jaxpr) where known; ``nested_in``: the
    primitive of the step it happened inside (a jit, a scan), "" when it is the step's."""
    saved = []
    for desc, aval in decision.saved:
        text = _cell_located(str(desc), decision.known_eqns)
        prefix = "from the argument at index "
        if text.startswith(prefix):
            i = int(text[len(prefix) :])
            name = operand_names[i] if i < len(operand_names) else None
            text = f"checkpoint operand {i}" + (f" ({name})" if name else "")
        saved.append(f"{aval.str_short()} {text}")
    return RematInfo(
        policy=decision.policy,
        saved=saved,
        recomputed=[eqn_label(e) for e in decision.recomputed],
        known=len(decision.known_eqns),
        nested_in=nested_in,
    )


def _cell_located(text: str, eqns: Iterable[Any]) -> str:
    """A saved value's ``print_saved_residuals`` words (``"output of sin from
    <file>:3:7 (f)"``) with the location of the equation that made it, when that is a
    notebook cell, worded as ``_where`` words it ("In [5], line 3, column 7 (f)")."""
    for eqn in eqns:
        info = eqn.source_info
        if info is None or not cell_label(info.file):
            continue
        summary = info.summary()
        if text.endswith(" from " + summary):
            return text[: -len(summary)] + _where(info)
    return text


def merge_remat(a: RematInfo | None, b: RematInfo) -> RematInfo:
    """Two checkpoints inside one step (a jit holding two) as one list of each."""
    if a is None:
        return b
    policies = a.policy if a.policy == b.policy else f"{a.policy}; {b.policy}"
    return RematInfo(
        policy=policies,
        saved=a.saved + b.saved,
        recomputed=a.recomputed + b.recomputed,
        known=a.known + b.known,
        nested_in=a.nested_in or b.nested_in,
    )


def recomputation_events(
    rec: events.Recording, step_calls: set[int]
) -> dict[int, list[events.EqnEmitted]]:
    """{transpose span in ``step_calls``: the equations emitted inside it while a nested
    backward pass evaluated its non-linear ("forward") equations}: a checkpoint's
    recomputation."""
    out: dict[int, list[events.EqnEmitted]] = {c: [] for c in step_calls}
    if not step_calls:
        return out
    for ev in rec.of(events.EqnEmitted):
        forward = False
        for b in rec.ancestors(ev):
            if isinstance(b, events.PhaseStarted) and b.phase == "forward":
                forward = True
            if b.call in step_calls:
                if forward:
                    out[b.call].append(ev)
                break
    return out


# ---------------------------------------------------------------------------- print_saved_residuals


def argument_names(f: Callable[..., Any], args: tuple) -> list[str]:
    """A name per flattened argument leaf, as ``print_saved_residuals`` names them
    (``W1``, ``params['w']``); positional ``args[i]`` names when the signature does not bind."""
    try:
        bound = inspect.signature(f).bind(*args)
        named = list(bound.arguments.items())
    except (TypeError, ValueError):
        named = [(f"args[{i}]", a) for i, a in enumerate(args)]
    names = []
    for pname, val in named:
        for path, _ in tree_util.tree_flatten_with_path(val)[0]:
            names.append(pname + tree_util.keystr(path))
    return names


def _where(info: Any) -> str:
    """``info.summary()``'s wording, with a notebook cell's location as "In [5], line 3,
    column 7" (not IPython's temporary file)."""
    if info is None:
        return "<unknown>"
    if not cell_label(info.file):
        return info.summary()
    return f"{location(info.file, info.line, info.column)} ({info.qualname})"


def _eqn_source(eqn: Any) -> str:
    prim = eqn.primitive.name
    if prim == "name":
        return f"named '{eqn.params.get('name')}' from {_where(eqn.source_info)}"
    if prim == "jit":
        return (
            f"output of jitted function '{eqn.params.get('name')}' from {_where(eqn.source_info)}"
        )
    return f"output of {prim} from {_where(eqn.source_info)}"


def residual_source(r: Residual, ktext: Any, arg_names: list[str]) -> tuple[int, str]:
    """(sort key, words) of where residual ``r`` comes from, as ``print_saved_residuals``
    words it: "from the argument x", "output of sin from file:line (f)", "named 'h'
    from ...", "from a constant" (a ``reduce_precision`` that only marks a saved value is
    looked through). Keys order constants, then arguments, then equation outputs."""
    jaxpr = ktext.jaxpr
    n_in, n_eqns = len(jaxpr.invars), len(jaxpr.eqns)
    if r.kind == "constant":
        return -1, "from a constant"
    if r.kind == "input":
        i = next((k for k, v in enumerate(jaxpr.invars) if ktext.name(v) == r.known_name), -1)
        return i, f"from the argument {_arg_name(arg_names, i)}"
    producer = {v: e for e in jaxpr.eqns for v in e.outvars}
    eqn = jaxpr.eqns[r.produced_by]
    value = next((v for v in eqn.outvars if ktext.name(v) == r.known_name), None)
    while True:
        src = _forwarded(eqn, value)
        if src is None:
            break
        if src in producer:
            eqn, value = producer[src], src
            continue
        if src in jaxpr.invars:
            i = jaxpr.invars.index(src)
            return i, f"from the argument {_arg_name(arg_names, i)}"
        break
    return n_in + ktext.index.get(id(eqn), n_eqns), _eqn_source(eqn)


def _forwarded(eqn: Any, value: Any) -> Any:
    """The operand an equation's output ``value`` only passes on (a ``reduce_precision``
    marking a saved value, a jit returning one of its inputs), else None."""
    if eqn.primitive.name == "reduce_precision":
        src = eqn.invars[0]
    elif eqn.primitive.name == "jit":
        inner = eqn.params["jaxpr"]
        inner = getattr(inner, "jaxpr", inner)
        if value not in eqn.outvars:
            return None
        out = inner.outvars[eqn.outvars.index(value)]
        if type(out) is not core.Var or out not in inner.invars:
            return None
        src = eqn.invars[inner.invars.index(out)]
    else:
        return None
    return src if type(src) is core.Var else None


def saved_residual_lines(ktext: Any, residuals: list[Residual], arg_names: list[str]) -> list[str]:
    """The stepper's residuals as ``print_saved_residuals`` prints them (``"f32[3] from
    the argument x"``), in its order, each value once."""
    lines: dict[int, str] = {}
    consts = []
    for r in residuals:
        key, words = residual_source(r, ktext, arg_names)
        if key < 0:
            consts.append(f"{r.aval} {words}")
        else:
            lines.setdefault(key, f"{r.aval} {words}")
    return consts + [lines[k] for k in sorted(lines)]


def _arg_name(names: list[str], i: int) -> str:
    return names[i] if 0 <= i < len(names) else f"at flattened index {i}"


# ---------------------------------------------------------------------------- HTML


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


_KIND_WORDS = {
    "jvp": "custom_jvp rule",
    "fwd": "custom_vjp forward rule (fwd)",
    "bwd": "custom_vjp backward rule (bwd)",
}


_RELATION_WORDS = {
    "ran": "ran",
    "bound": "bound this primitive",
    "failed": "failed: it raised, or returned what the engine rejects",
}


def rules_html(runs: list[CustomRuleRun], eqn_text: Callable[[int], str] | None = None) -> str:
    """The custom rules of a step: name, kind, where it is defined, what it emitted."""
    parts = []
    for r in runs:
        kind = _KIND_WORDS.get(r.rule_kind, r.rule_kind)
        where = ""
        if r.source is not None:
            where = (
                f' <span class="gj-st-note">defined at <code>{_e(r.source.where())}</code></span>'
            )
        verb = _RELATION_WORDS.get(r.relation, r.relation)
        head = (
            f'<div class="gj-st-custom-rule"><b>{_e(kind)}</b> <code>{_e(r.rule)}</code> '
            f"of <code>{_e(r.function)}</code> {verb}{where}</div>"
        )
        body = ""
        if r.source is not None and r.source.text:
            body += f'<div class="gj-st-note"><code>{_e(r.source.text.strip())}</code></div>'
        if r.relation == "ran":
            if r.eqns and eqn_text is not None:
                lines = "".join(
                    f'<div class="gj-st-custom-eqn">{_e(eqn_text(i))}</div>' for i in r.eqns
                )
                body += f'<div class="gj-code">{lines}</div>'
            elif r.primitives:
                body += f'<div class="gj-st-note">emitted: {_e(", ".join(r.primitives))}</div>'
            else:
                body += '<div class="gj-st-note">emitted no equation</div>'
            if r.out_avals:
                body += f'<div class="gj-st-note">returned: {_e(", ".join(r.out_avals))}</div>'
        if r.note:
            body += f'<div class="gj-st-note">{_e(r.note)}</div>'
        parts.append(head + body)
    return "".join(parts)


def remat_html(info: RematInfo, stage: str) -> str:
    """A checkpoint's saved values and recomputed equations, as two lists."""

    def items(values: list[str], cls: str, empty: str) -> str:
        if not values:
            return f'<div class="gj-st-note">{_e(empty)}</div>'
        return "".join(f'<div class="{cls}">{_e(v)}</div>' for v in values)

    if stage == "transpose":
        lead = "the backward pass recomputes these forward equations, reading the saved values"
    else:
        lead = f"the policy split it: {info.known} known equations run now"
    if info.nested_in:
        lead = f"inside this {info.nested_in}, {lead}"
    policy = info.policy
    if policy == "None":
        policy = "None (the default: only the checkpoint's inputs are saved)"
    return (
        f'<div class="gj-st-remat"><div><b>checkpoint</b>, policy <code>{_e(policy)}'
        f"</code>: {_e(lead)}</div>"
        f'<div class="gj-st-remat-head">saved (residuals) \u2014 {len(info.saved)}</div>'
        + items(info.saved, "gj-st-saved", "(nothing saved)")
        + f'<div class="gj-st-remat-head">recomputed in the backward pass \u2014 '
        f"{len(info.recomputed)}</div>"
        + items(info.recomputed, "gj-st-recomputed", "(nothing recomputed)")
        + "</div>"
    )


CSS = """
.gj-stepper .gj-st-custom-rule { margin: 2px 0; }
.gj-stepper .gj-st-custom-rule code { color: var(--gj-prim); }
.gj-stepper .gj-st-custom-eqn { box-shadow: inset 3px 0 0 var(--gj-prim); padding-left: 6px;
  white-space: pre; }
.gj-stepper .gj-st-remat-head { margin-top: 4px; color: var(--gj-muted); font-weight: 600; }
.gj-stepper .gj-st-saved, .gj-stepper .gj-st-recomputed {
  font-family: var(--gj-font); font-size: var(--gj-font-size); padding-left: 6px; }
.gj-stepper .gj-st-saved { box-shadow: inset 3px 0 0 var(--gj-work); }
.gj-stepper .gj-st-recomputed { box-shadow: inset 3px 0 0 var(--gj-hl-ring); }
"""
