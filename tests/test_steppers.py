"""The steppers (notebook_ext.steppers): state after each step on real programs, the
events replayed, the links between stages, error capture, headless widgets, scale.

Oracles: real JAX (jaxprs, source lines, jvp/vjp/grad values, per-example shapes)
and how the transformations are defined (which primitives have nonzero tangents)."""

import re
import time

import numpy as np
import pytest

import engine
import engine.numpy as enp
from engine import core
from engine import lax as elax
from notebook_ext.steppers import (
    GradStepper,
    TraceStepper,
    VmapStepper,
    grad_stepper,
    render,
    trace_stepper,
    vmap_stepper,
)
from tests.helpers import assert_close, real_jax

jax, jjnp = real_jax()


# ---------------------------------------------------------------------------- programs
# Each is written once against a numpy-like module, so the engine's and JAX's versions
# share their source lines.


def make_mlp(np_):
    def mlp_loss(params, x, y):
        x = x / np_.max(np_.abs(x))
        (w1, b1), (w2, b2) = params
        h = np_.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        return np_.mean((out - y) ** 2)

    return mlp_loss


def make_where(np_):
    def where_red(x):
        y = np_.where(x > 0, x, 0.1 * x)
        return np_.sum(y * y) + np_.max(x)

    return where_red


def make_scan(np_, lax_):
    def body(c, xi):
        c = c * np_.sin(xi) + xi
        return c, c * 2.0

    def scanned(xs):
        c, ys = lax_.scan(body, 1.0, xs)
        return c + np_.sum(ys)

    return scanned


RNG = np.random.default_rng(0)
PARAMS = [
    (RNG.normal(size=(4, 8)).astype(np.float32), RNG.normal(size=8).astype(np.float32)),
    (RNG.normal(size=(8, 2)).astype(np.float32), RNG.normal(size=2).astype(np.float32)),
]
X = RNG.normal(size=(5, 4)).astype(np.float32)
Y = RNG.normal(size=(5, 2)).astype(np.float32)
XS = np.linspace(0.1, 1.0, 4).astype(np.float32)

mlp, jmlp = make_mlp(enp), make_mlp(jjnp)
where_red, jwhere_red = make_where(enp), make_where(jjnp)
scanned, jscanned = make_scan(enp, elax), make_scan(jjnp, jax.lax)


def _jax_frame(eqn):
    from jax._src import source_info_util as siu

    fr = siu.user_frame(eqn.source_info.traceback)
    return fr.file_name, fr.start_line, fr.function_name.split(".")[-1]


def _ty(v):
    """A JAX variable's type as the engine prints it (f32[3])."""
    return v.aval.str_short(short_dtypes=True)


def _norm(text):
    """JAX prints some int params as np.int64(1)."""
    return re.sub(r"np\.int64\((-?\d+)\)", r"\1", text)


def _eval(closed, *args):
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


# ---------------------------------------------------------------------------- tracing


def test_tracing_mlp_every_step_against_jax():
    st = TraceStepper(mlp, PARAMS, X, Y)
    ref = jax.make_jaxpr(jmlp)(PARAMS, X, Y)
    ref_text = str(ref)
    assert st.error is None
    assert len(st.steps) == len(ref.eqns)
    # replaying the events ends in make_jaxpr's text, which is JAX's here
    last = st.jaxpr_text(len(st.steps) - 1)
    assert last == str(engine.make_jaxpr(mlp)(PARAMS, X, Y)) == ref_text
    for k, (step, jeqn) in enumerate(zip(st.steps, ref.eqns)):
        assert step.primitive == jeqn.primitive.name
        assert step.top and step.top_index == k and step.top_count == k + 1
        assert step.in_avals == [_ty(v) for v in jeqn.invars]
        assert step.out_avals == [_ty(v) for v in jeqn.outvars]
        assert (step.source.file, step.source.line, step.source.function) == _jax_frame(jeqn)
        # the jaxpr so far is the beginning of the final text
        if k < len(st.steps) - 1:
            grown = st.jaxpr_text(k).split("\n")
            assert grown[-1].strip() == "\u2026"
            assert ref_text.startswith("\n".join(grown[:-1]) + "\n")
        # the source block holds the current line
        file, first, lines = st.sources[step.source_key]
        assert lines[step.source.line - first] == step.source.text
        assert [h.kind for h in step.handlers] == ["JaxprTrace"]
        assert step.trace_chain == ["JaxprTrace#1"]
    assert st.state(len(st.steps) - 1)["complete"]
    assert not st.state(0)["complete"]


def test_tracing_where_and_reductions():
    st = TraceStepper(where_red, X)
    assert st.jaxpr_text(len(st.steps) - 1) == str(engine.make_jaxpr(where_red)(X))
    prims = [s.primitive for s in st.steps]
    # jnp.where is a jit named _where, as JAX's: its select_n is a step nested in it
    assert prims == ["gt", "mul", "select_n", "jit", "mul", "reduce_sum", "reduce_max", "add"]
    assert [s.top for s in st.steps] == [True, True, False, True, True, True, True, True]
    ref = [e for e in jax.make_jaxpr(jwhere_red)(X).eqns]
    assert [s.primitive for s in st.steps if s.top] == [e.primitive.name for e in ref]
    ref_lines = [_jax_frame(e)[1] for e in ref]
    assert [s.source.line for s in st.steps if s.top] == ref_lines
    assert "x > 0" in st.steps[0].source.text


def test_trace_stack_of_grad_of_vmap():
    def inner(x):
        return enp.sin(x)

    def f(x):
        return enp.sum(engine.vmap(inner)(x))

    g = engine.grad(f)
    st = TraceStepper(g, XS)
    assert st.jaxpr_text(len(st.steps) - 1) == str(engine.make_jaxpr(g)(XS))
    by_prim = {s.primitive: s for s in st.steps}
    # sin's JVP rule (run under linearize) emits cos: the user's sin is handled by the
    # batching, JVP and partial-eval interpreters before the jaxpr trace records cos
    cos = by_prim["cos"]
    assert [h.kind for h in cos.handlers] == [
        "BatchTrace",
        "JVPTrace",
        "PartialEvalTrace",
        "JaxprTrace",
    ]
    assert [h.primitive for h in cos.handlers] == ["sin", "sin", "cos", "cos"]
    assert cos.handlers[0].extra == f"axis_size={XS.shape[0]}"
    assert cos.source.function == "inner"
    # the backward pass runs on the jaxpr trace alone
    assert [h.kind for h in st.steps[-1].handlers] == ["JaxprTrace"]


def test_tracing_scan_body_steps():
    st = TraceStepper(scanned, XS)
    final = engine.make_jaxpr(scanned)(XS)
    assert st.jaxpr_text(len(st.steps) - 1) == str(final)
    scan_index = [e.primitive.name for e in final.eqns].index("scan")
    body = [s for s in st.steps if s.nested_in == str(scan_index)]
    assert [s.primitive for s in body] == ["sin", "convert_element_type", "mul", "add", "mul"]
    assert all(not s.top and s.source.function == "body" for s in body)
    # the body is traced before the scan equation is recorded
    scan_step = next(s for s in st.steps if s.primitive == "scan")
    assert max(s.index for s in body) < scan_step.index
    assert all(s.top_count == scan_step.top_count - 1 for s in body)
    assert st.inner_so_far(body[-1].index)[-1] == body[-1].text
    ref = jax.make_jaxpr(jscanned)(XS)
    ref_scan = next(e for e in ref.eqns if e.primitive.name == "scan")
    # the weakly typed carry (1.0) is converted inside the body, in JAX and the engine
    ref_body = ref_scan.params["jaxpr"].jaxpr.eqns
    assert [s.primitive for s in body] == [e.primitive.name for e in ref_body]
    assert [s.source.line for s in body] == [_jax_frame(e)[1] for e in ref_body]


def test_stepper_navigation():
    st = TraceStepper(where_red, X)
    assert st.position == 0
    st.next()
    st.next()
    # the third top-level step: jnp.where is a jit named _where, as JAX's
    assert st.position == 2 and st.state()["step"].primitive == "jit"
    st.prev()
    assert st.position == 1
    st.go(10_000)
    assert st.position == len(st.steps) - 1
    st.first()
    assert st.position == 0


# ---------------------------------------------------------------------------- autodiff


def _nonzero_tangent_eqns(jaxpr, diff_invars):
    """JAX-jaxpr equations with an operand that carries a nonzero tangent."""
    dep = set(diff_invars)
    count = 0
    for e in jaxpr.eqns:
        if any(not hasattr(v, "val") and v in dep for v in e.invars):
            count += 1
            dep.update(v for v in e.outvars if np.issubdtype(v.aval.dtype, np.inexact))
    return count


@pytest.mark.parametrize("name", ["mlp", "where"])
def test_grad_stages(name):
    if name == "mlp":
        f, jf, args, nd = mlp, jmlp, (PARAMS, X, Y), 4
    else:
        f, jf, args, nd = where_red, jwhere_red, (X,), 1
    st = GradStepper(f, *args)
    assert st.error is None, st.error
    assert st.stages == ["jvp", "partial_eval", "transpose", "final"]
    leaves = engine.tree_util.tree_leaves(args)
    dyn = leaves[:nd]
    tans = [np.full(a.shape, 0.5, a.dtype) for a in dyn]

    # -- stage 1: one JVP event per primitive with a nonzero input tangent
    ref = jax.make_jaxpr(jf)(*args)
    ruled = [s for s in st.stage_steps["jvp"] if s.rule]
    assert len(ruled) == _nonzero_tangent_eqns(ref.jaxpr, ref.jaxpr.invars[:nd])
    for s in st.stage_steps["jvp"]:
        assert s.rule == (not all(s.tangent_in_zero))
        kinds = st.eqn_kinds["jvp"]
        assert all(kinds[i] == "primal" for i in s.primal_eqns)
        assert all(kinds[i] == "tangent" for i in s.tangent_eqns)
        if not s.rule:
            assert not s.tangent_eqns
    out = _eval(st.jvp_jaxpr, *leaves, *tans)
    p_ref, t_ref = jax.jvp(
        lambda *d: jf(
            *jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(args), list(d) + leaves[nd:])
        ),
        tuple(dyn),
        tuple(tans),
    )
    assert_close(out[0], p_ref, rtol=1e-5)
    assert_close(out[1], t_ref, rtol=1e-4, atol=1e-5)

    # -- stage 2: known work runs now, unknown work is the linear jaxpr
    pe_steps = st.stage_steps["partial_eval"]
    lin, known = st.linear_jaxpr, st.known_jaxpr
    linked = sorted(i for s in pe_steps for i in s.linear_eqns)
    assert linked == list(range(len(lin.jaxpr.eqns)))
    assert sorted(i for s in pe_steps for i in s.known_eqns) == list(range(len(known.eqns)))
    assert all(not s.linear_eqns for s in pe_steps if s.known)
    # a jit partial eval splits (jnp.where is one, as JAX's) has a known half and a
    # linear half, as JAX's partial eval of a jit gives two jit equations
    assert all(not s.known_eqns or s.primitive == "jit" for s in pe_steps if not s.known)
    assert all(s.known_eqns and s.linear_eqns for s in pe_steps if s.primitive == "jit")
    assert all(
        lin.jaxpr.eqns[i].primitive.name == s.primitive for s in pe_steps for i in s.linear_eqns
    )
    assert len(st.residuals) == len(lin.jaxpr.constvars)
    for r in st.residuals:
        if r.kind == "eqn":
            assert any(r.index in s.residuals for s in pe_steps if r.produced_by in s.known_eqns)
    kouts = _eval(known, *leaves)
    n_out = st.num_primal_out
    assert_close(kouts[0], p_ref, rtol=1e-5)
    t_lin = core.eval_jaxpr(lin.jaxpr, kouts[n_out:], *tans)
    assert_close(t_lin[0], t_ref, rtol=1e-4, atol=1e-5)

    # -- stage 3: each transposed equation links to the linear equation it came from
    tsteps = st.stage_steps["transpose"]
    fwd = [s.forward_eqn for s in tsteps]
    assert sorted(fwd) == list(range(len(lin.jaxpr.eqns)))
    assert fwd == sorted(fwd, reverse=True)  # backwards
    for s in tsteps:
        assert lin.jaxpr.eqns[s.forward_eqn].primitive.name == s.primitive
        assert len(s.cts_out) == len(lin.jaxpr.eqns[s.forward_eqn].invars)
    kinds = st.eqn_kinds["transpose"]
    for s in tsteps:
        assert all(kinds[i] == "backward" for i in s.emitted_eqns)
        assert all(kinds[i] == "accumulate" for i in s.accumulate_eqns)
    # accumulation: a variable read twice in the linear jaxpr gets two cotangent terms
    final_table = st.cotangents(len(tsteps) - 1)
    uses = {}
    for e in lin.jaxpr.eqns:
        for v in e.invars:
            if type(v) is core.Var and v not in lin.jaxpr.constvars:
                uses[st.texts["linear"].name(v)] = uses.get(st.texts["linear"].name(v), 0) + 1
    for var, terms in final_table.items():
        assert len(terms) <= uses[var]
    g_ref = jax.grad(
        lambda *d: jf(
            *jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(args), list(d) + leaves[nd:])
        ),
        argnums=tuple(range(nd)),
    )(*dyn)
    res_vals = [v for v, c in zip(kouts[n_out:], lin.consts) if isinstance(c, core.Tracer)]
    assert_close(_eval(st.transpose_jaxpr, *res_vals), list(g_ref), rtol=1e-4, atol=1e-5)

    # -- final: make_jaxpr(grad(f))
    assert st.texts["final"].text == str(engine.make_jaxpr(engine.grad(f))(*args))
    fk = st.eqn_kinds["final"]
    assert "forward" in fk and "backward" in fk
    assert fk.index("backward") > max(i for i, k in enumerate(fk) if k == "forward")
    got = _eval(st.final_jaxpr, *leaves)
    assert_close(got, list(g_ref), rtol=1e-4, atol=1e-5)


def test_grad_stages_scan():
    st = GradStepper(scanned, XS)
    assert st.error is None, st.error
    assert st.texts["final"].text == str(engine.make_jaxpr(engine.grad(scanned))(XS))
    assert_close(_eval(st.final_jaxpr, XS)[0], jax.grad(jscanned)(XS), rtol=1e-5)
    pe_scan = [s for s in st.stage_steps["partial_eval"] if s.primitive == "scan"]
    assert len(pe_scan) == 1 and not pe_scan[0].known
    # scan's own partial-eval rule: a known scan runs now, an unknown one is recorded
    assert pe_scan[0].known_eqns and pe_scan[0].linear_eqns
    assert st.known_jaxpr.eqns[pe_scan[0].known_eqns[0]].primitive.name == "scan"
    t_scan = [s for s in st.stage_steps["transpose"] if s.primitive == "scan"]
    assert len(t_scan) == 1 and t_scan[0].nested_steps > 0
    assert st.linear_jaxpr.jaxpr.eqns[t_scan[0].forward_eqn].primitive.name == "scan"


def test_vjp_and_jvp_modes():
    st = GradStepper(where_red, X, mode="vjp")
    assert st.error is None
    ct = np.float32(2.0)
    _, pull = jax.vjp(jwhere_red, X)
    assert_close(_eval(st.final_jaxpr, X, ct)[0], pull(ct)[0], rtol=1e-5)
    ref = engine.make_jaxpr(lambda x, c: engine.vjp(where_red, x)[1](c))(X, ct)
    assert len(st.final_jaxpr.eqns) == len(ref.eqns)
    st = GradStepper(where_red, X, mode="jvp")
    assert st.stages == ["jvp", "final"]
    t = np.ones_like(X)
    p, tan = jax.jvp(jwhere_red, (X,), (t,))
    out = _eval(st.final_jaxpr, X, t)
    assert_close(out[0], p, rtol=1e-5)
    assert_close(out[1], tan, rtol=1e-5)


# ---------------------------------------------------------------------------- batching


def test_vmap_dims_match_batch_tracers():
    seen = {}

    def g(x, w):
        a = enp.sin(x)
        b = a @ w
        seen["a"], seen["b"] = a.batch_dim, b.batch_dim
        return enp.sum(b * 2.0)

    def jg(x, w):
        return jjnp.sum((jjnp.sin(x) @ w) * 2.0)

    w = RNG.normal(size=(4, 3)).astype(np.float32)
    for in_axes, x in (((0, None), X), ((1, None), X.T.copy())):
        st = VmapStepper(g, in_axes, x, w)
        assert st.error is None
        steps = {s.primitive: s for s in st.steps}
        assert steps["sin"].outs[0].dim == seen["a"] == in_axes[0]
        assert steps["dot_general"].outs[0].dim == seen["b"]
        assert steps["sin"].ins[0].dim == in_axes[0]
        assert steps["dot_general"].ins[1].dim is None
        # per-example types are those of the unbatched program, in order
        x0 = np.take(x, 0, axis=in_axes[0])
        ref = jax.make_jaxpr(jg)(x0, w).eqns
        assert [s.primitive for s in st.steps] == [e.primitive.name for e in ref]
        for s, e in zip(st.steps, ref):
            assert [v.per_example for v in s.outs] == [_ty(v) for v in e.outvars]
        text = st.jaxpr_text()
        assert text == str(engine.make_jaxpr(engine.vmap(g, in_axes))(x, w))
        assert text == str(jax.make_jaxpr(jax.vmap(jg, in_axes))(x, w))  # np.int64s too
        # every rule's equations are in the batched jaxpr, each claimed once
        claimed = sorted(i for s in st.steps for i in s.eqns)
        assert claimed == list(range(len(st.text.eqns)))
        assert st.dims[steps["sin"].outs[0].name] == in_axes[0]


def test_vmap_mlp_passthrough_and_per_example():
    st = VmapStepper(mlp, (None, 0, 0), PARAMS, X, Y)
    ref = jax.make_jaxpr(jmlp)(PARAMS, X[0], Y[0]).eqns
    assert [s.primitive for s in st.steps] == [e.primitive.name for e in ref]
    for s, e in zip(st.steps, ref):
        assert [v.per_example for v in s.outs] == [_ty(v) for v in e.outvars]
        batched_in = any(v.dim is not None for v in s.ins)
        assert s.rule == batched_in
    leaves = engine.tree_util.tree_leaves((PARAMS, X, Y))
    assert_close(_eval(st.jaxpr, *leaves)[0], jax.vmap(jmlp, (None, 0, 0))(PARAMS, X, Y), rtol=1e-5)


def test_vmap_scan():
    xs = RNG.normal(size=(3, 4)).astype(np.float32)
    st = VmapStepper(scanned, 0, xs)
    assert st.error is None
    assert_close(_eval(st.jaxpr, xs)[0], jax.vmap(jscanned)(xs), rtol=1e-5)
    scan = next(s for s in st.steps if s.primitive == "scan")
    assert scan.rule and scan.nested_eqns > 0
    assert any(s.trace != scan.trace for s in st.steps)  # the body's own batching


# ---------------------------------------------------------------------------- errors


def _bad(x):
    y = enp.sin(x)
    return y @ enp.ones((7,))  # shapes do not match


def test_errors_are_captured_with_the_users_line():
    import inspect

    lines, first = inspect.getsourcelines(_bad)
    bad_line = first + 2
    for st in (TraceStepper(_bad, XS), GradStepper(_bad, XS), VmapStepper(_bad, 0, X)):
        err = st.error
        assert err is not None
        assert err.type in ("TypeError", "ValueError")
        assert err.source.line == bad_line and err.source.function == "_bad"
        assert "y @ enp.ones" in err.source.text
        assert "7" in err.message
    st = TraceStepper(_bad, XS)
    assert [s.primitive for s in st.steps][:1] == ["sin"]  # what was traced is kept
    assert st.state(len(st.steps) - 1)["error"] is st.error
    assert "sin" in st.jaxpr_text(0)
    st = TraceStepper(_bad, "not an array")
    assert st.error.type == "TypeError" and st.error.source.function == "_bad"
    st = VmapStepper(where_red, 0, X, X)  # wrong number of arguments
    assert st.error.type == "TypeError"


def test_widgets_show_errors_instead_of_raising():
    pytest.importorskip("ipywidgets")
    for w in (
        trace_stepper(_bad, XS, progress=False),
        grad_stepper(_bad, XS, progress=False),
        vmap_stepper(_bad, 0, X, progress=False),
    ):
        assert "gj-st-error" in w.body.value
        assert "y @ enp.ones" in w.body.value


# ---------------------------------------------------------------------------- widgets


def _escaped_source(x):
    y = enp.sin(x)  # <script>alert("x")</script> & more
    return enp.sum(y)


def test_trace_widget_steps_headless():
    pytest.importorskip("ipywidgets")
    w = trace_stepper(_escaped_source, XS, progress=False)
    n = len(w.model.steps)
    assert w.slider.max == n - 1 == w.play.max
    first = w.body.value
    assert "Step 1 of" in first and "sin" in first
    assert "<script>alert" not in first and "&lt;script&gt;alert" in first
    w.next()
    assert w.position == 1 == w.model.position and "reduce_sum" in w.body.value
    w.play.value = 0  # linked to the slider
    assert w.slider.value == 0 and w.model.position == 0
    w.go(n - 1)
    assert "complete" in w.body.value
    assert "gj-root" in w.body.value and "--jp-" in w.style_html.value  # theme variables
    w.prev()
    assert w.position == n - 2


def test_grad_widget_stages_headless():
    pytest.importorskip("ipywidgets")
    w = grad_stepper(mlp, PARAMS, X, Y, progress=False)
    assert list(w.stage.options) == ["jvp", "partial_eval", "transpose", "final"]
    seen = set()
    for name in w.stage.options:
        w.select(name)
        for i in range(w.tracks[w._track][1] or 1):
            w.go(i)
            html = w.body.value
            assert "could not render" not in html
            seen.add(w.model.stage_of(w.model.position)[0])
    assert {"jvp", "partial_eval", "transpose"} <= seen
    w.select("jvp")
    w.go(w.slider.max)
    w.next()  # past the last JVP step: on to partial evaluation
    assert w.track == "partial_eval" and w.position == 0
    w.prev()
    assert w.track == "jvp" and w.position == w.slider.max
    w.select("transpose")
    assert "Cotangents accumulated" in w.body.value


def test_vmap_widget_headless():
    pytest.importorskip("ipywidgets")
    w = vmap_stepper(where_red, 0, X, progress=False)
    for i in range(len(w.model.steps)):
        w.go(i)
        assert "could not render" not in w.body.value
    assert "@0" in w.body.value and "inputs: a@0" in w.body.value


def test_progress_reporter_headless():
    pytest.importorskip("ipywidgets")
    from notebook_ext.steppers.widgets import ProgressReporter

    p = ProgressReporter("tracing").show()  # no kernel: nothing displayed
    p(300, None, "tracing")
    assert p.bar.value == 300 and "300 events" in p.label.value
    p(50, 200, "building steps")
    assert (p.bar.value, p.bar.max) == (50, 200) and "50 of 200" in p.label.value
    p.close()


# ---------------------------------------------------------------------------- scale


def _long(x):
    for _ in range(2500):
        x = enp.sin(x) * 1.0001
    return enp.sum(x)


def test_five_thousand_equations():
    reports = []
    t0 = time.perf_counter()
    st = TraceStepper(_long, XS, progress=lambda done, total, phase: reports.append((phase, done)))
    t_record = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = engine.make_jaxpr(_long)(XS)
    t_plain = time.perf_counter() - t0
    assert len(st.steps) == len(ref.eqns) >= 5000
    assert st.jaxpr_text(len(st.steps) - 1) == str(ref)
    for phase in ("tracing", "building steps"):
        done = [d for p, d in reports if p == phase]
        assert done and done == sorted(done)
    pytest.importorskip("ipywidgets")
    w = trace_stepper(_long, XS, progress=False)
    t0 = time.perf_counter()
    for k in (0, 2500, 4000, len(st.steps) - 1):
        w.go(k)
        assert len(w.body.value) < 60_000  # a window, not the whole program
    t_render = (time.perf_counter() - t0) / 4
    print(
        f"\n5,001 equations: recorded in {t_record:.2f} s (make_jaxpr alone {t_plain:.2f} s);"
        f" one step renders in {t_render * 1e3:.1f} ms"
    )
    assert t_record < 20 and t_render < 1.0


# ---------------------------------------------------------------------------- events


def test_steppers_under_other_listeners_and_threads():
    """A stepper is one more listener: another listener around it, or steppers on other
    threads, change nothing in what it shows."""
    import threading

    from engine import events

    alone = TraceStepper(where_red, X)
    with events.listen() as outer:
        inside = TraceStepper(where_red, X)
    assert [s.text for s in inside.steps] == [s.text for s in alone.steps]
    assert len(outer.of(events.EqnEmitted)) == len(alone.steps)
    assert GradStepper(where_red, X).stage_steps["transpose"]

    out, errors = {}, []
    barrier = threading.Barrier(2, timeout=60)

    def run(name, build):
        try:
            barrier.wait()
            out[name] = build()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=run, args=("grad", lambda: GradStepper(mlp, PARAMS, X, Y))),
        threading.Thread(target=run, args=("vmap", lambda: VmapStepper(where_red, 0, X))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ref_vmap = VmapStepper(where_red, 0, X)
    assert [s.primitive for s in out["vmap"].steps] == [s.primitive for s in ref_vmap.steps]
    ref_grad = GradStepper(mlp, PARAMS, X, Y)
    for stage in ref_grad.stages:
        got = [s.primitive for s in out["grad"].stage_steps[stage]]
        assert got == [s.primitive for s in ref_grad.stage_steps[stage]]
    assert out["grad"].texts["final"].text == ref_grad.texts["final"].text
    assert events.active == []


def _with_renamed_locals(fn):
    """``fn`` with every local variable (its arguments too) renamed, same bytecode."""
    import types

    code = fn.__code__
    new = {n: f"local_{i}" for i, n in enumerate(code.co_varnames + code.co_cellvars)}
    code = code.replace(
        co_varnames=tuple(new[n] for n in code.co_varnames),
        co_cellvars=tuple(new[n] for n in code.co_cellvars),
    )
    return types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__)


def test_renaming_interpreter_locals_changes_nothing(monkeypatch):
    """The steppers learn what happened from the events, not from the interpreters'
    frames: with every local variable of the interpreters' process_primitive renamed
    (``self``, ``primitive``, ``params``, ``rule``...), the steps are the same."""
    from engine.interpreters import batching, jvp, partial_eval, tracing

    def summary():
        # jnp.where is a jit (as JAX's): a warm trace cache would skip its nested steps
        engine.clear_caches()
        g = GradStepper(where_red, X)
        v = VmapStepper(where_red, 0, X)
        t = TraceStepper(engine.grad(engine.vmap(where_red)), X[None])
        return (
            {st: [(s.primitive, s.index) for s in g.stage_steps[st]] for st in g.stages},
            {st: list(g.eqn_kinds[st]) for st in g.eqn_kinds},
            [(s.primitive, s.rule, [str(x) for x in s.ins], s.eqns) for s in v.steps],
            [[str(h) for h in s.handlers] for s in t.steps],
        )

    before = summary()
    classes = (jvp.JVPTrace, batching.BatchTrace, partial_eval.PartialEvalTrace)
    for cls in classes + (tracing.JaxprTrace,):
        renamed = _with_renamed_locals(cls.process_primitive)
        assert "self" not in renamed.__code__.co_varnames
        monkeypatch.setattr(cls, "process_primitive", renamed)
    assert summary() == before


def test_grad_widget_stage_changes_land_on_step_one():
    # issue 13 item 4: from the last step of a stage, Next goes to step 1 of the next
    # stage, and picking a stage (tab) from a high step opens it at step 1.
    pytest.importorskip("ipywidgets")
    w = grad_stepper(mlp, PARAMS, X, Y, progress=False)
    counts = {t[0]: t[1] for t in w.tracks}
    assert counts["partial_eval"] > counts["transpose"] > 1
    w.select("partial_eval")
    w.go(w.slider.max)
    assert (
        w.label.value == f"partial_eval: step {counts['partial_eval']} of {counts['partial_eval']}"
    )
    w.next()
    assert (w.track, w.position) == ("transpose", 0)
    assert w.label.value == f"transpose: step 1 of {counts['transpose']}"
    assert w.model.stage_of(w.model.position) == ("transpose", 0)
    w.next()
    assert (w.track, w.position) == ("transpose", 1)
    for name in ("jvp", "partial_eval", "transpose", "jvp", "transpose", "partial_eval"):
        w.go(10_000)
        w.select(name)
        assert (w.track, w.position) == (name, 0)
        assert w.label.value == f"{name}: step 1 of {counts[name]}"
        assert w.model.stage_of(w.model.position) == (name, 0)
    w.play.value = 0
    assert w.slider.value == 0


def test_failed_trace_step_shows_a_failure_not_tracing_continues():
    # issue 13 item 9: the step where tracing failed is not "(tracing continues)"
    pytest.importorskip("ipywidgets")
    w = trace_stepper(_bad, XS, progress=False)
    assert w.position == len(w.model.steps) - 1
    html = w.body.value
    assert "tracing continues" not in html
    assert "tracing failed" in html and "gj-st-failed" in html
    assert 'class="gj-st-cur"' not in html  # the current-step (success) colour
    w.go(0)
    if len(w.model.steps) > 1:
        assert "tracing continues" in w.body.value and "gj-st-failed" not in w.body.value
    ok = trace_stepper(where_red, X, progress=False)
    ok.go(0)
    assert "tracing continues" in ok.body.value and "tracing failed" not in ok.body.value


def test_source_lines_in_ipython_cells_name_the_cell():
    # issue 13 item 9: a function defined in a notebook cell shows as "In [N], line L",
    # not as IPython's temporary file name; other files keep their path.
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.user_ns.update(enp=enp, XS=XS, TraceStepper=TraceStepper, GradStepper=GradStepper)
    code = "def in_cell(x):\n    y = enp.sin(x)\n    return enp.sum(y * x)\n"
    assert ip.run_cell(code, store_history=True).success
    n = ip.execution_count - 1
    res = ip.run_cell("st = TraceStepper(in_cell, XS)\ng = GradStepper(in_cell, XS)")
    assert res.success, res.error_in_exec
    st = ip.user_ns["st"]
    src = st.steps[0].source
    assert src.function == "in_cell" and src.line == 2 and "enp.sin" in src.text
    assert src.cell == f"In [{n}]" and src.where() == f"In [{n}], line 2"
    html = render.trace_view(st, 0)
    assert f"In [{n}], line 2" in html and render.e(src.file) not in html
    g = ip.user_ns["g"]
    assert any(s.source and s.source.where() == f"In [{n}], line 2" for s in g.steps)
    assert ip.run_cell("bad = TraceStepper(in_cell, 'no')").success
    assert ip.user_ns["bad"].error.source.where().startswith(f"In [{n}], line ")
    here = TraceStepper(where_red, X).steps[0].source  # a file: its path
    assert here.cell == "" and here.where() == f"{here.file}:{here.line}"


def make_counter_scan(np_, lax_):
    def body(c, xi):
        i, s = c
        return (i + 1, s + np_.sin(xi) * i), s

    def counted(xs):
        return lax_.scan(body, (0, 0.0), xs)

    return counted


counted, jcounted = make_counter_scan(enp, elax), make_counter_scan(jjnp, jax.lax)


def test_scan_with_weak_carry_is_traced_once_as_jax():
    # issue 13 item 9: a weakly typed carry (0.0) whose output is strong is not promoted
    # and retraced (JAX's typematch ignores weak types): the body is traced once, and no
    # convert_element_type of the init appears before the scan.
    ref = jax.make_jaxpr(jcounted)(XS)
    got = engine.make_jaxpr(counted)(XS)
    assert [e.primitive.name for e in got.eqns] == [e.primitive.name for e in ref.eqns]
    assert _norm(str(got)) == _norm(str(ref))
    st = TraceStepper(counted, XS)
    body_traces = {s.trace for s in st.steps if not s.top}
    assert len(body_traces) == 1
    assert [s.primitive for s in st.steps if s.top] == ["scan"]
    assert_close(engine.jit(counted)(XS), jax.jit(jcounted)(XS))
    assert_close(
        engine.grad(lambda x: counted(x)[0][1])(XS), jax.grad(lambda x: jcounted(x)[0][1])(XS)
    )
    assert_close(engine.vmap(counted)(XS[None]), jax.vmap(jcounted)(XS[None]))


def _literal_div(np_):
    return lambda x: np_.sum(np_.sin(x) / 128.0)


def test_linear_jaxpr_keeps_scalar_literals_as_jax():
    # issue 13 item 9: a known scalar literal stays a literal in the linear (unknown)
    # jaxpr ("div c 128.0"), not a residual, as JAX's partial_eval_jaxpr_nounits does.
    from jax._src.interpreters import partial_eval as jpe

    f, jf = _literal_div(enp), _literal_div(jjnp)
    jvp_j = jax.make_jaxpr(lambda x, t: jax.jvp(jf, (x,), (t,)))(XS, XS)
    jknown, junknown, _, jres = jpe.partial_eval_jaxpr_nounits(jvp_j, [False, True], False)
    st = GradStepper(f, XS)
    lin_j = st.linear_jaxpr.jaxpr
    assert [v.aval.str_short() for v in lin_j.constvars + lin_j.invars] == [
        _ty(v) for v in junknown.jaxpr.invars
    ]  # residuals (cos x) + the tangent, no 128.0
    assert [r.kind for r in st.residuals] == ["eqn"]
    body = _norm(str(junknown.jaxpr)).split(". let", 1)[1]
    assert str(lin_j).split(". let", 1)[1] == body  # ... div c 128.0:f32[] ...
    assert len(st.known_jaxpr.jaxpr.outvars) == len(jknown.jaxpr.outvars) == 1 + len(jres)
    _, lin = engine.linearize(f, XS)
    _, jlin = jax.linearize(jf, XS)
    assert_close(lin(XS), jlin(XS))
    assert_close(engine.grad(f)(XS), jax.grad(jf)(XS))
