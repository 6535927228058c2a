"""A stepper's recorded steps as one self-contained HTML "deck" that needs no script.

Every step's HTML is in the page; a hidden radio button per step and ``<label for=...>``
links (Prev / Next in each step, a numbered row per track) pick which step shows, through
CSS ``:checked`` rules in the deck's own ``<style>``. So a saved notebook, an nbconvert
export or the JupyterLab MIME renderer can be stepped through with no kernel and no
JavaScript. Where a viewer strips ``<style>`` and form elements (GitHub's notebook view),
every step shows, one after another, each with its heading.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence

# Steps kept in one deck: a window around the current step beyond this (each step is a few
# kB of HTML; a long trace would make the saved notebook large).
MAX_DECK_STEPS = 120
# ...and about this much HTML (a deck is resent whole each time the user steps)
MAX_DECK_BYTES = 600_000
PREV, NEXT = "\u25c0 Prev", "Next \u25b6"

DECK_CSS = """
.gj-deck > input.gj-deck-radio { display: none; }
.gj-deck .gj-deck-nav { margin: 2px 0 6px; line-height: 1.9; }
.gj-deck .gj-deck-nav .gj-deck-track { margin-right: 6px; font-weight: 600; }
.gj-deck label.gj-deck-go { cursor: pointer; display: inline-block; min-width: 1.6em;
  padding: 0 4px; margin: 0 1px; text-align: center; border-radius: 3px;
  border: 1px solid var(--jp-border-color1, #bbb); font-size: 11px; user-select: none; }
.gj-deck label.gj-deck-go:hover { background: var(--jp-layout-color2, #eee); }
.gj-deck label.gj-deck-off { opacity: 0.35; pointer-events: none; }
.gj-deck .gj-deck-head { display: flex; gap: 8px; align-items: center; margin: 4px 0; }
.gj-deck .gj-deck-title { font-weight: 600; }
.gj-deck .gj-deck-saved { font-size: 11px; color: var(--jp-ui-font-color2, #777); }
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def deck_limit(step_bytes: int) -> int:
    """How many steps of about ``step_bytes`` each a deck keeps (at least 10)."""
    return max(10, min(MAX_DECK_STEPS, MAX_DECK_BYTES // max(step_bytes, 1)))


def deck_window(counts: Sequence[int], current: tuple[int, int], limit: int) -> list[range]:
    """Which steps of each track go in the deck: all of them when they total at most
    ``limit``, else ``limit`` consecutive steps (in track order) centred on ``current``."""
    flat = [(t, i) for t, n in enumerate(counts) for i in range(n)]
    if len(flat) <= limit:
        return [range(n) for n in counts]
    at = flat.index(current) if current in flat else 0
    lo = max(0, min(at - limit // 2, len(flat) - limit))
    kept = flat[lo : lo + limit]
    out = []
    for t in range(len(counts)):
        idx = [i for tt, i in kept if tt == t]
        out.append(range(idx[0], idx[-1] + 1) if idx else range(0))
    return out


def step_deck(
    tracks: Sequence[tuple[str, Sequence[str]]],
    current: tuple[int, int],
    *,
    title: str = "",
    uid: str | None = None,
    first: Sequence[int] | None = None,
    totals: Sequence[int] | None = None,
) -> str:
    """The deck's HTML. ``tracks``: ``(name, [step html, ...])`` (step HTML is trusted
    markup built by the renderers; names are escaped); ``current``: ``(track, step)``
    shown first. When the lists hold only part of a longer recording (see
    ``deck_window``), ``first`` is each list's first step index and ``totals`` each
    track's full step count."""
    uid = uid or "gjd-" + uuid.uuid4().hex[:10]
    counts = [len(steps) for _, steps in tracks]
    starts = list(first) if first is not None else [0] * len(tracks)
    ranges = [range(s, s + n) for s, n in zip(starts, counts)]
    totals = list(totals) if totals is not None else counts
    keys: list[tuple[int, int]] = []
    for t, (_, steps) in enumerate(tracks):
        keys += [(t, ranges[t].start + j) for j in range(len(steps))]
    if not keys:
        return f'<div class="gj-deck" id="{_e(uid)}"><i>no recorded steps</i></div>'
    if current not in keys:
        current = keys[0]

    def rid(key):
        return f"{uid}-{key[0]}-{key[1]}"

    def go(key, text, cls="gj-deck-go"):
        if key is None:
            return f'<label class="{cls} gj-deck-off">{text}</label>'
        return f'<label class="{cls}" for="{_e(rid(key))}">{text}</label>'

    rules = [DECK_CSS, f"#{uid} > .gj-deck-steps > .gj-deck-step {{ display: none; }}"]
    for k, key in enumerate(keys, start=1):
        rules.append(
            f"#{uid} > input.gj-deck-radio:nth-of-type({k}):checked ~ .gj-deck-steps > "
            f".gj-deck-step:nth-of-type({k}) {{ display: block; }}"
        )
        rules.append(
            f"#{uid} > input.gj-deck-radio:nth-of-type({k}):checked ~ .gj-deck-nav "
            f'label[for="{rid(key)}"] {{ background: var(--jp-brand-color1, #1976d2); '
            "color: white; }"
        )
    radios = "".join(
        f'<input type="radio" hidden class="gj-deck-radio" name="{_e(uid)}" id="{_e(rid(key))}"'
        f"{' checked' if key == current else ''}>"
        for key in keys
    )
    nav = []
    for t, (name, steps) in enumerate(tracks):
        if not steps:
            continue
        labels = "".join(
            go((t, ranges[t].start + j), str(ranges[t].start + j + 1)) for j in range(len(steps))
        )
        nav.append(f'<div><span class="gj-deck-track">{_e(name)}</span>{labels}</div>')
    bodies = []
    for k, key in enumerate(keys):
        t, i = key
        name = tracks[t][0]
        prev_key = keys[k - 1] if k > 0 else None
        next_key = keys[k + 1] if k + 1 < len(keys) else None
        saved = (
            ' <span class="gj-deck-saved">(the step shown when saved)</span>'
            if key == current
            else ""
        )
        body = tracks[t][1][i - ranges[t].start]
        bodies.append(
            f'<div class="gj-deck-step" data-track="{_e(name)}" data-step="{i}">'
            f'<div class="gj-deck-head">{go(prev_key, PREV)}{go(next_key, NEXT)}'
            f'<span class="gj-deck-title">{_e(name)}: step {i + 1} of {totals[t]}</span>'
            f"{saved}</div>{body}</div>"
        )
    heading = f'<div class="gj-deck-title">{_e(title)}</div>' if title else ""
    partial = (
        '<div class="gj-deck-saved">only the steps around the saved one are kept here; '
        "rerun the cell for all of them</div>"
        if any(n < total for n, total in zip(counts, totals))
        else ""
    )
    return (
        f'<div class="gj-deck" id="{_e(uid)}"><style>{"".join(rules)}</style>{heading}'
        f'{radios}<div class="gj-deck-nav">{"".join(nav)}</div>{partial}'
        f'<div class="gj-deck-steps">{"".join(bodies)}</div></div>'
    )
