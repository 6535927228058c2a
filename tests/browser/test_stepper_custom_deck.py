"""The autodiff stepper's saved (static) deck in headless Chromium, opened from disk: a
checkpoint's saved vs recomputed lists and a custom_vjp's bwd rule show at the step the
user was on, styled (computed styles, not only classes), and the deck's own buttons
step away and back without a kernel. Screenshots are saved (see conftest.py)."""

import numpy as np

import engine
import engine.numpy as enp
from engine.ad_checkpoint import checkpoint_name
from notebook_ext.steppers import grad_stepper

VISIBLE_STEPS_JS = """(el) => [...el.querySelectorAll('.gj-deck-step')]
  .filter(s => getComputedStyle(s).display !== 'none')
  .map(s => s.dataset.track + ':' + s.dataset.step)"""


def layers(W1, W2, x):
    h = checkpoint_name(enp.sin(W1 @ x), "h1")
    return enp.sum(enp.cos(W2 @ h))


@engine.custom_vjp
def clipped_sin(x):
    return enp.sin(x)


def clipped_fwd(x):
    return enp.sin(x), enp.cos(x)


def clipped_bwd(cos_x, g):
    return (enp.clip(cos_x * g, -0.5, 0.5),)


clipped_sin.defvjp(clipped_fwd, clipped_bwd)


def _deck_page(tmp_path, widget, name):
    path = tmp_path / f"{name}.html"
    path.write_text(
        f"<!doctype html><html><body>{widget.static_html()}</body></html>", encoding="utf-8"
    )
    return path.as_uri()


def test_checkpoint_and_bwd_rule_in_the_saved_deck(page, tmp_path, artifacts):
    policy = engine.checkpoint_policies.dots_saveable
    g = engine.checkpoint(layers, policy=policy)
    args = (np.ones((4, 3), np.float32), np.ones((2, 4), np.float32), np.ones(3, np.float32))
    w = grad_stepper(g, *args, argnums=(0, 1, 2), progress=False)
    st = w.model
    k = next(i for i, s in enumerate(st.stage_steps["partial_eval"]) if s.remat is not None)
    w.select("partial_eval").go(k)
    page.goto(_deck_page(tmp_path, w, "remat"))
    deck = page.locator(".gj-deck")
    assert deck.evaluate(VISIBLE_STEPS_JS) == [f"partial_eval:{k}"]
    step = deck.locator(".gj-deck-step:visible")
    pane = step.locator("section[aria-label='Checkpoint: saved vs recomputed']")
    assert "DotsSaveable" in pane.inner_text()
    saved, recomputed = pane.locator(".gj-st-saved"), pane.locator(".gj-st-recomputed")
    assert saved.count() == len(st.stage_steps["partial_eval"][k].remat.saved)
    assert recomputed.count() == len(st.stage_steps["partial_eval"][k].remat.recomputed)
    shadow = "e => getComputedStyle(e).boxShadow"
    s_ring, r_ring = saved.first.evaluate(shadow), recomputed.first.evaluate(shadow)
    assert s_ring != "none" and r_ring != "none" and s_ring != r_ring
    artifacts(page, "checkpoint-partial-eval")
    step.locator("label:has-text('Next')").click()
    assert deck.evaluate(VISIBLE_STEPS_JS) != [f"partial_eval:{k}"]
    deck.locator(".gj-deck-step:visible label:has-text('Prev')").click()
    assert deck.evaluate(VISIBLE_STEPS_JS) == [f"partial_eval:{k}"]

    x = np.linspace(-2.0, 2.0, 5).astype(np.float32)
    w = grad_stepper(lambda x: enp.sum(clipped_sin(x) * 3.0), x, progress=False)
    k = next(i for i, s in enumerate(w.model.stage_steps["transpose"]) if s.custom_rules)
    w.select("transpose").go(k)
    page.goto(_deck_page(tmp_path, w, "bwd"))
    deck = page.locator(".gj-deck")
    assert deck.evaluate(VISIBLE_STEPS_JS) == [f"transpose:{k}"]
    rule = deck.locator(".gj-deck-step:visible .gj-st-custom-rule")
    assert "clipped_bwd" in rule.inner_text() and "custom_vjp backward rule" in rule.inner_text()
    eqns = deck.locator(".gj-deck-step:visible .gj-st-custom-eqn")
    assert eqns.count() == len(w.model.stage_steps["transpose"][k].custom_rules[0].eqns)
    assert eqns.first.evaluate(shadow) != "none"
    artifacts(page, "custom-vjp-bwd")
