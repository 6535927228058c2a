"""The autodiff stepper on custom derivative rules and checkpoint (issue 9 "Must show",
issue 13 item 6): the user's rule by name and line with the equations it emitted
(custom_jvp under jvp and grad, custom_vjp's fwd and its bwd during transpose), and a
checkpoint's saved vs recomputed values in the partial-eval and transpose stages,
compared with real JAX 0.10.2 (its jaxprs and ``print_saved_residuals``) and with the
engine's own ``print_saved_residuals``; final gradients equal JAX's."""

import contextlib
import io
import re
from collections import Counter

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp
from engine import core
from notebook_ext.steppers import GradStepper, grad_stepper, render


def _eval(closed, *args):
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


def _first_line(fn):
    return fn.__code__.co_firstlineno


# ---------------------------------------------------------------------------- the programs
# Each is built twice from the same source lines, once on the engine and once on JAX.


def make_log1pexp(jx, jnp):
    @jx.custom_jvp
    def log1pexp(x):
        return jnp.log1p(jnp.exp(x))

    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        ans = log1pexp(x)
        return ans, t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))

    log1pexp.defjvp(log1pexp_jvp)

    def loss(x):
        return jnp.sin(log1pexp(x)) * x

    return loss, log1pexp_jvp


def make_clip_gradient(jx, jnp):
    @jx.custom_vjp
    def clipped_sin(x):
        return jnp.sin(x)

    def clipped_fwd(x):
        return jnp.sin(x), jnp.cos(x)

    def clipped_bwd(cos_x, g):
        return (jnp.clip(cos_x * g, -0.5, 0.5),)

    clipped_sin.defvjp(clipped_fwd, clipped_bwd)

    def loss(x):
        return jnp.sum(clipped_sin(x) * 3.0)

    return loss, clipped_fwd, clipped_bwd


def make_mlp(jx, jnp, checkpoint_name):
    def layers(W1, W2, x):
        h = jnp.sin(W1 @ x)
        h = checkpoint_name(h, "h1")
        y = jnp.cos(W2 @ h)
        return jnp.sum(y)

    return layers


POLICIES = ["nothing_saveable", "dots_saveable", "save_only_these_names", "everything_saveable"]


def _policy(policies, name):
    if name == "save_only_these_names":
        return policies.save_only_these_names("h1")
    return getattr(policies, name)


MLP_ARGS = (
    np.random.RandomState(0).randn(4, 3).astype(np.float32),
    np.random.RandomState(1).randn(2, 4).astype(np.float32),
    np.random.RandomState(2).randn(3).astype(np.float32),
)


def _checkpointed(name, on_jax):
    if on_jax:
        jax, jnp = real_jax()
        from jax.ad_checkpoint import checkpoint_name

        layers = make_mlp(jax, jnp, checkpoint_name)
        return jax.checkpoint(layers, policy=_policy(jax.checkpoint_policies, name))
    from engine.ad_checkpoint import checkpoint_name

    layers = make_mlp(engine, enp, checkpoint_name)
    return engine.checkpoint(layers, policy=_policy(engine.checkpoint_policies, name))


def _printed(print_fn, f, *args):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_fn(f, *args)
    return buf.getvalue().splitlines()


def _jax_recomputed(g, args, closed=None):
    """The forward primitives JAX's backward pass recomputes: in the differentiated
    ``remat2`` of ``make_jaxpr(grad(g))`` (or of ``closed``), the equations that do not
    depend on the cotangent (its last input)."""
    jax, _ = real_jax()
    if closed is None:
        closed = jax.make_jaxpr(jax.grad(g, argnums=(0, 1, 2)))(*args)
    (eqn,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "remat2"]
    assert eqn.params["differentiated"]
    inner = eqn.params["jaxpr"]
    inner = getattr(inner, "jaxpr", inner)
    backward = {inner.invars[-1]}
    out = []
    for e in inner.eqns:
        if any(not hasattr(v, "val") and v in backward for v in e.invars):
            backward.update(e.outvars)
        else:
            out.append(e.primitive.name)
    return out


def _primitives(labels):
    return [s.split(" ")[0].split("[")[0] for s in labels]


# ---------------------------------------------------------------------------- custom_jvp


def test_custom_jvp_under_grad_names_the_rule_and_its_equations():
    loss, rule = make_log1pexp(engine, enp)
    st = GradStepper(loss, 2.0)
    assert st.error is None
    (step,) = [s for s in st.stage_steps["jvp"] if s.primitive == "custom_jvp_call"]
    (run,) = step.custom_rules
    assert (run.rule_kind, run.rule, run.function, run.relation) == (
        "jvp",
        "log1pexp_jvp",
        "log1pexp",
        "ran",
    )
    assert run.source.line == _first_line(rule) and run.source.file == __file__
    assert "def log1pexp_jvp" in run.source.text
    # the equations the rule emitted are those JAX's jvp of the custom function inlines
    jax, jnp = real_jax()
    jloss, _ = make_log1pexp(jax, jnp)
    jaxpr = jax.make_jaxpr(lambda x, t: jax.jvp(_custom_of(jax, jnp), (x,), (t,)))(2.0, 1.0)
    expected = Counter(e.primitive.name for e in jaxpr.jaxpr.eqns)
    assert Counter(run.primitives) == expected
    text = st.texts["jvp"]
    assert [text.eqns[i].primitive.name for i in run.eqns] == run.primitives
    assert set(run.eqns) <= set(step.primal_eqns + step.tangent_eqns)
    # partial evaluation: the primitives the rule bound say so
    bound = [s for s in st.stage_steps["partial_eval"] if s.custom_rules]
    assert bound and all(s.custom_rules[0].relation == "bound" for s in bound)
    assert {s.custom_rules[0].rule for s in bound} == {"log1pexp_jvp"}
    assert Counter(s.primitive for s in bound) == expected
    # the final gradient is JAX's (at 2.0 and where the naive formula overflows)
    for x in (2.0, 100.0):
        st = GradStepper(loss, np.float32(x))
        got = _eval(st.final_jaxpr, np.float32(x))[0]
        assert_close(got, jax.grad(jloss)(np.float32(x)), rtol=1e-5)


def _all_primitives(jaxpr):
    """Primitives of a JAX jaxpr, nested jit calls (``jnp.clip`` is one) and those of
    their bodies alike."""
    out = []
    for e in jaxpr.eqns:
        out.append("jit" if e.primitive.name == "pjit" else e.primitive.name)
        sub = e.params.get("jaxpr") if e.primitive.name in ("pjit", "jit") else None
        if sub is not None:
            out += _all_primitives(getattr(sub, "jaxpr", sub))
    return out


def _custom_of(jax, jnp):
    """JAX's log1pexp alone (the custom function, without the surrounding loss)."""

    @jax.custom_jvp
    def log1pexp(x):
        return jnp.log1p(jnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        ans = log1pexp(x)
        return ans, t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))

    return log1pexp


def test_custom_jvp_under_jvp_mode():
    loss, rule = make_log1pexp(engine, enp)
    st = GradStepper(loss, 1.5, mode="jvp")
    assert st.error is None and st.stages == ["jvp", "final"]
    runs = [r for s in st.stage_steps["jvp"] for r in s.custom_rules]
    assert [(r.rule, r.source.line) for r in runs] == [("log1pexp_jvp", _first_line(rule))]
    jax, jnp = real_jax()
    jloss, _ = make_log1pexp(jax, jnp)
    primal, tangent = _eval(st.final_jaxpr, np.float32(1.5), np.float32(1.0))
    jp, jt = jax.jvp(jloss, (np.float32(1.5),), (np.float32(1.0),))
    assert_close((primal, tangent), (jp, jt), rtol=1e-5)


# ---------------------------------------------------------------------------- custom_vjp


def test_custom_vjp_fwd_in_jvp_and_bwd_in_transpose():
    loss, fwd, bwd = make_clip_gradient(engine, enp)
    x = np.linspace(-2.0, 2.0, 5).astype(np.float32)
    st = GradStepper(loss, x)
    assert st.error is None
    (jstep,) = [s for s in st.stage_steps["jvp"] if s.primitive == "custom_vjp_call"]
    (run,) = jstep.custom_rules
    assert (run.rule_kind, run.rule, run.function) == ("fwd", "clipped_fwd", "clipped_sin")
    assert run.source.line == _first_line(fwd)
    assert run.primitives == ["sin", "cos"]
    assert run.out_avals == ["f32[5]", "f32[5]"]
    assert run.note.startswith("its bwd rule clipped_bwd waits in custom_lin")
    # the fwd rule runs again under partial evaluation: its primitives are known work
    bound = [s for s in st.stage_steps["partial_eval"] if s.custom_rules]
    assert [(s.primitive, s.known, s.custom_rules[0].rule) for s in bound] == [
        ("sin", True, "clipped_fwd"),
        ("cos", True, "clipped_fwd"),
    ]
    # the bwd rule runs while custom_lin is transposed; its equations are in the
    # transposed jaxpr, and JAX's backward pass emits the same primitives
    (tstep,) = [s for s in st.stage_steps["transpose"] if s.custom_rules]
    (brun,) = tstep.custom_rules
    assert tstep.primitive == "custom_lin"
    assert (brun.rule_kind, brun.rule, brun.source.line) == ("bwd", "clipped_bwd", _first_line(bwd))
    ttext = st.texts["transpose"]
    assert [ttext.eqns[i].primitive.name for i in brun.eqns] == brun.primitives
    assert set(brun.eqns) <= set(tstep.emitted_eqns)
    jax, jnp = real_jax()
    jloss, _, _ = make_clip_gradient(jax, jnp)
    jgrad = jax.make_jaxpr(jax.grad(jloss))(x)
    jprims = Counter(_all_primitives(jgrad.jaxpr))
    for p in set(brun.primitives):
        assert jprims[p] >= brun.primitives.count(p), (p, jgrad)
    assert_close(_eval(st.final_jaxpr, x)[0], jax.grad(jloss)(x), rtol=1e-5)
    # the final jaxpr marks the equations each rule emitted
    final = st.final_jaxpr.jaxpr.eqns
    by_note = {}
    for j, text in st.final_notes.items():
        by_note.setdefault(text, []).append(final[j].primitive.name)
    assert by_note == {
        "fwd rule clipped_fwd of clipped_sin": ["sin", "cos"],
        "bwd rule clipped_bwd of clipped_sin": brun.primitives,
    }


def test_custom_rules_render_in_widget_and_static_deck():
    loss, _, _ = make_clip_gradient(engine, enp)
    x = np.linspace(-2.0, 2.0, 5).astype(np.float32)
    w = grad_stepper(loss, x, progress=False)
    st = w.model
    k = next(i for i, s in enumerate(st.stage_steps["transpose"]) if s.custom_rules)
    view = render.grad_view(st, "transpose", k)
    (run,) = st.stage_steps["transpose"][k].custom_rules
    assert "Custom rule" in view and "clipped_bwd" in view
    assert render.e(run.source.where()) in view
    deck = w.static_html()
    assert "clipped_fwd" in deck and "clipped_bwd" in deck
    # names from user code are escaped
    assert "<clipped" not in deck


# ---------------------------------------------------------------------------- checkpoint


@pytest.mark.parametrize("policy", POLICIES)
def test_checkpoint_saved_and_recomputed_match_jax(policy):
    jax, _ = real_jax()
    from jax.ad_checkpoint import print_saved_residuals as jax_print

    g = _checkpointed(policy, on_jax=False)
    jg = _checkpointed(policy, on_jax=True)
    st = GradStepper(g, *MLP_ARGS, argnums=(0, 1, 2))
    assert st.error is None
    # saved: the stepper's residuals, as print_saved_residuals words them
    ours = _printed(engine.ad_checkpoint.print_saved_residuals, g, *MLP_ARGS)
    theirs = _printed(jax_print, jg, *MLP_ARGS)
    assert st.saved_residuals == ours
    assert sorted(st.saved_residuals) == sorted(theirs)
    # partial evaluation: the checkpoint's step shows its policy's split
    (pe,) = [s for s in st.stage_steps["partial_eval"] if s.remat is not None]
    assert pe.primitive == "remat2"
    expected_recomputed = _jax_recomputed(jg, MLP_ARGS)
    assert _primitives(pe.remat.recomputed) == expected_recomputed
    from_eqns = [s for s in pe.remat.saved if " from the argument" not in s and "operand" not in s]
    assert sorted(from_eqns) == sorted(
        s for s in st.saved_residuals if "from the argument" not in s
    )
    # transpose: the same recomputation, reading the saved values
    (tp,) = [s for s in st.stage_steps["transpose"] if s.remat is not None]
    assert _primitives(tp.remat.recomputed) == expected_recomputed
    assert tp.remat.policy == pe.remat.policy
    saved_words = sorted(s.split(" ", 1)[1] for s in tp.remat.saved)
    assert saved_words == sorted(s.split(" ", 1)[1] for s in st.saved_residuals)
    # each recomputed line names the user's source line
    body = range(_first_line(make_mlp) + 1, _first_line(make_mlp) + 6)
    for label in pe.remat.recomputed:
        file, line = re.fullmatch(r"\S+ from (.+):(\d+)", label).groups()
        assert file == __file__ and int(line) in body, label
    (j,) = st.final_notes
    assert st.final_jaxpr.jaxpr.eqns[j].primitive.name == "remat2"
    assert "recomputes" in st.final_notes[j]
    # the final gradients are JAX's
    got = _eval(st.final_jaxpr, *MLP_ARGS)
    want = jax.grad(jg, argnums=(0, 1, 2))(*MLP_ARGS)
    assert_close(tuple(got), want, rtol=2e-5, atol=1e-5)


def test_checkpoint_views_show_saved_and_recomputed():
    g = _checkpointed("dots_saveable", on_jax=False)
    st = GradStepper(g, *MLP_ARGS, argnums=(0, 1, 2))
    k = next(i for i, s in enumerate(st.stage_steps["partial_eval"]) if s.remat is not None)
    view = render.grad_view(st, "partial_eval", k)
    assert "Checkpoint: saved vs recomputed" in view and "DotsSaveable" in view
    remat = st.stage_steps["partial_eval"][k].remat
    assert view.count('class="gj-st-recomputed"') == len(remat.recomputed) > 0
    assert view.count('class="gj-st-saved"') == len(remat.saved) > 0
    k = next(i for i, s in enumerate(st.stage_steps["transpose"]) if s.remat is not None)
    view = render.grad_view(st, "transpose", k)
    assert "the backward pass recomputes" in view
    final = render.grad_view(st, "final", 0)
    assert "print_saved_residuals" in final
    for line in st.saved_residuals:
        assert render.e(line) in final


def test_remat_alias_with_grad_argnum_default():
    """``remat`` (the alias) differentiated in its first argument only: the stepper's
    saved values are those JAX keeps for that gradient."""
    jax, jnp = real_jax()
    from jax.ad_checkpoint import checkpoint_name

    from engine.ad_checkpoint import checkpoint_name as e_name

    g = engine.remat(
        make_mlp(engine, enp, e_name), policy=engine.checkpoint_policies.nothing_saveable
    )
    jg = jax.remat(
        make_mlp(jax, jnp, checkpoint_name), policy=jax.checkpoint_policies.nothing_saveable
    )
    st = GradStepper(g, *MLP_ARGS)
    (pe,) = [s for s in st.stage_steps["partial_eval"] if s.remat is not None]
    assert "dot_general" in _primitives(pe.remat.recomputed)
    got = _eval(st.final_jaxpr, *MLP_ARGS)[0]
    assert_close(got, jax.grad(jg)(*MLP_ARGS), rtol=2e-5, atol=1e-5)


# ---------------------------------------------------------------------------- nested


def make_two_checkpoints(jx, jnp):
    def inner(x):
        return jnp.sin(jnp.sin(x))

    c = jx.checkpoint(inner)

    def two(x):
        return c(c(x)) + jx.jit(c)(x)

    return two


def test_checkpoints_called_twice_and_inside_jit():
    jax, jnp = real_jax()
    from jax.ad_checkpoint import print_saved_residuals as jax_print

    two, jtwo = make_two_checkpoints(engine, enp), make_two_checkpoints(jax, jnp)
    st = GradStepper(two, np.float32(0.7))
    assert st.error is None
    theirs = _printed(jax_print, jtwo, np.float32(0.7))
    assert st.saved_residuals == theirs  # a jit's forwarded input is the argument
    pe = [s for s in st.stage_steps["partial_eval"] if s.remat is not None]
    assert [(s.primitive, s.remat.nested_in) for s in pe] == [
        ("remat2", ""),
        ("remat2", ""),
        ("jit", "jit"),
    ]
    for s in pe:
        assert _primitives(s.remat.recomputed) == ["sin", "cos", "cos"]
        assert s.remat.policy == "None"
    view = render.grad_view(st, "partial_eval", pe[-1].index)
    assert "inside this jit" in view and "only the checkpoint&#x27;s inputs" in view
    tp = [s for s in st.stage_steps["transpose"] if s.remat is not None]
    assert len(tp) == 2 and all(
        _primitives(s.remat.recomputed) == ["sin", "cos", "cos"] for s in tp
    )
    got = _eval(st.final_jaxpr, np.float32(0.7))[0]
    assert_close(got, jax.grad(jtwo)(np.float32(0.7)), rtol=1e-5)


def test_custom_jvp_inside_jit_shows_on_the_jit_step():
    loss, rule = make_log1pexp(engine, enp)
    st = GradStepper(engine.jit(loss), np.float32(2.0))
    assert st.error is None
    (step,) = [s for s in st.stage_steps["jvp"] if s.custom_rules]
    (run,) = step.custom_rules
    assert step.primitive == "jit" and run.eqns == []  # emitted into the jit's body
    assert (run.rule, run.source.line) == ("log1pexp_jvp", _first_line(rule))
    jax, jnp = real_jax()
    jaxpr = jax.make_jaxpr(lambda x, t: jax.jvp(_custom_of(jax, jnp), (x,), (t,)))(2.0, 1.0)
    assert Counter(run.primitives) == Counter(e.primitive.name for e in jaxpr.jaxpr.eqns)
    view = render.grad_view(st, "jvp", step.index)
    assert "emitted: " in view and "log1pexp_jvp" in view


def test_custom_vjp_inside_scan_body():
    loss, fwd, bwd = make_clip_gradient(engine, enp)
    jax, jnp = real_jax()
    jloss, _, _ = make_clip_gradient(jax, jnp)

    def scanned(lax, f):
        def run(xs):
            def body(c, x):
                return c + f(x * c), None

            return lax.scan(body, np.float32(1.0), xs)[0]

        return run

    xs = np.linspace(-1.0, 1.0, 6).astype(np.float32).reshape(3, 2)
    st = GradStepper(scanned(engine.lax, loss), xs)
    assert st.error is None
    fwd_runs = [r for s in st.stage_steps["jvp"] for r in s.custom_rules]
    assert fwd_runs and {(r.rule, r.source.line) for r in fwd_runs} == {
        ("clipped_fwd", _first_line(fwd))
    }
    (tstep,) = [s for s in st.stage_steps["transpose"] if s.custom_rules]
    assert tstep.primitive == "scan"
    assert {(r.rule, r.source.line) for r in tstep.custom_rules} == {
        ("clipped_bwd", _first_line(bwd))
    }
    got = _eval(st.final_jaxpr, xs)[0]
    assert_close(got, jax.grad(scanned(jax.lax, jloss))(xs), rtol=1e-5)


# ---------------------------------------------------------------------------- failing rules


def make_bad_bwd(jx, jnp):
    @jx.custom_vjp
    def f(x):
        return jnp.sin(x)

    def f_fwd(x):
        return jnp.sin(x), jnp.cos(x)

    def f_bwd(res, g):
        return (res * g, res)  # one cotangent too many

    f.defvjp(f_fwd, f_bwd)
    return (lambda x: f(x) * 2.0), f_bwd


def make_raising_jvp(jx, jnp):
    @jx.custom_jvp
    def f(x):
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        raise ValueError("the rule gave up")

    return (lambda x: f(x) * 2.0), f_jvp


def test_a_bwd_rule_whose_output_the_engine_rejects_is_named():
    loss, bwd = make_bad_bwd(engine, enp)
    st = GradStepper(loss, np.float32(1.0))
    assert st.stages == ["jvp", "partial_eval"]  # the transpose stage failed
    jax, jnp = real_jax()
    jloss, _ = make_bad_bwd(jax, jnp)
    with pytest.raises(Exception) as want:
        jax.grad(jloss)(np.float32(1.0))
    assert st.error.type == type(want.value).__name__ == "TypeError"
    phrase = "Custom VJP bwd rule must produce an output with the same container"
    assert phrase in st.error.message and phrase in str(want.value)
    rule = st.error.custom_rule
    assert (rule.rule, rule.relation, rule.source.line) == ("f_bwd", "failed", _first_line(bwd))
    assert "custom rule f_bwd" in st.error.summary()
    view = render.grad_view(st, "partial_eval", 0)
    assert 'role="alert"' in view and "f_bwd" in view and "engine rejects" in view


def test_a_rule_that_raises_is_named():
    loss, rule_fn = make_raising_jvp(engine, enp)
    st = GradStepper(loss, np.float32(1.0))
    assert st.stages == [] and st.error.type == "ValueError"
    assert st.error.message == "the rule gave up"
    rule = st.error.custom_rule
    assert (rule.rule, rule.relation, rule.rule_kind) == ("f_jvp", "failed", "jvp")
    assert rule.source.line == _first_line(rule_fn)
    # the session goes on: the same function differentiates once the rule is fixed
    fixed, _ = make_log1pexp(engine, enp)
    assert GradStepper(fixed, np.float32(1.0)).error is None


def test_vjp_mode_of_a_vmapped_checkpoint():
    jax, _ = real_jax()
    xs = np.random.RandomState(3).randn(5, 3).astype(np.float32)
    g = engine.vmap(_checkpointed("dots_saveable", False), in_axes=(None, None, 0))
    jg = jax.vmap(_checkpointed("dots_saveable", True), in_axes=(None, None, 0))
    st = GradStepper(g, *MLP_ARGS[:2], xs, mode="vjp", argnums=2)
    assert st.error is None
    pe = [s for s in st.stage_steps["partial_eval"] if s.remat is not None]
    tp = [s for s in st.stage_steps["transpose"] if s.remat is not None]
    assert len(pe) == len(tp) == 1
    ct = np.linspace(0.5, 1.5, 5).astype(np.float32)

    def jax_vjp(x, ct):
        return jax.vjp(lambda x: jg(*MLP_ARGS[:2], x), x)[1](ct)

    want = _jax_recomputed(None, None, jax.make_jaxpr(jax_vjp)(xs, ct))
    assert want and "dot_general" not in want  # the dots are saved
    assert _primitives(pe[0].remat.recomputed) == _primitives(tp[0].remat.recomputed) == want
    got = _eval(st.final_jaxpr, *MLP_ARGS[:2], xs, ct)[0]
    _, pull = jax.vjp(lambda x: jg(*MLP_ARGS[:2], x), xs)
    assert_close(got, pull(ct)[0], rtol=2e-5, atol=1e-5)
