"""Differential tests of rematerialization against real JAX: ``checkpoint`` / ``remat``
(``remat2`` in jaxprs), its policies, ``checkpoint_name``, ``print_saved_residuals``;
values and gradients to second order, jaxpr text, residual counts per policy, under
jit, vmap and scan; the ``RematDecision`` event.

Each program is written once against a namespace ``m`` and run with the engine (``E``)
and with JAX (``J``)."""

import contextlib
import io
import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp
from engine import ad_checkpoint as ead
from engine import events

jax, jnp = real_jax()
from jax import ad_checkpoint as jad  # noqa: E402

E = NS(jax=engine, lax=engine.lax, np=enp, ad=ead, name="engine")
J = NS(jax=jax, lax=jax.lax, np=jnp, ad=jad, name="jax")

X3 = np.array([0.5, -1.0, 2.0], np.float32)
W33 = (np.arange(9, dtype=np.float32).reshape(3, 3) - 4.0) / 5.0


def both(program, *args, rtol=1e-5, atol=1e-5):
    ours = program(E, *args)
    theirs = program(J, *args)
    assert_close(ours, theirs, rtol=rtol, atol=atol)
    return ours, theirs


def f_sin(m, x):
    y = m.np.sin(x)
    z = m.np.sin(y)
    return z * 2.0


def g_named(m, W, x):
    y = m.np.sin(W @ x)
    y = m.ad.checkpoint_name(y, "a")
    z = m.np.tanh(W @ y)
    z = m.ad.checkpoint_name(z, "b")
    return m.np.sum(m.np.sin(z) * y)


def policies(m):
    cp = m.jax.checkpoint_policies
    return {
        "none": None,
        "everything": cp.everything_saveable,
        "nothing": cp.nothing_saveable,
        "dots": cp.dots_saveable,
        "checkpoint_dots": cp.checkpoint_dots,
        "dots_no_batch": cp.dots_with_no_batch_dims_saveable,
        "only_a": cp.save_only_these_names("a"),
        "only_ab": cp.save_only_these_names("a", "b"),
        "except_a": cp.save_anything_except_these_names("a"),
        "any_but_b": cp.save_any_names_but_these("b"),
        "both": cp.save_from_both_policies(cp.dots_saveable, cp.save_only_these_names("b")),
    }


POLICIES = list(policies(E))


# ---------------------------------------------------------------------------- jaxpr text


def _text(m, make):
    x = np.float32(1.0)
    return str(make(m, x))


JAXPR_CASES = {
    "checkpoint": lambda m, x: m.jax.make_jaxpr(m.jax.checkpoint(lambda x: f_sin(m, x)))(x),
    "grad": lambda m, x: m.jax.make_jaxpr(m.jax.grad(m.jax.checkpoint(lambda x: f_sin(m, x))))(x),
    "linearize": lambda m, x: m.jax.make_jaxpr(
        lambda x: m.jax.linearize(m.jax.checkpoint(lambda x: f_sin(m, x)), x)[1](x)
    )(x),
    "jvp": lambda m, x: m.jax.make_jaxpr(
        lambda x: m.jax.jvp(m.jax.checkpoint(lambda x: f_sin(m, x)), (x,), (x,))
    )(x),
    "vmap": lambda m, x: m.jax.make_jaxpr(m.jax.vmap(m.jax.checkpoint(lambda x: f_sin(m, x))))(
        np.ones(3, np.float32)
    ),
    "remat_alias": lambda m, x: m.jax.make_jaxpr(m.jax.remat(lambda x: f_sin(m, x)))(x),
    "name": lambda m, x: m.jax.make_jaxpr(lambda x: m.ad.checkpoint_name(m.np.sin(x), "s"))(x),
    "nested_grad": lambda m, x: m.jax.make_jaxpr(
        m.jax.grad(
            lambda x: m.jax.checkpoint(
                lambda y: m.jax.checkpoint(lambda z: m.np.sin(z) * z)(y) ** 2
            )(x)
        )
    )(x),
    "dots_policy": lambda m, x: m.jax.make_jaxpr(
        m.jax.checkpoint(
            lambda W, v: g_named(m, W, v), policy=m.jax.checkpoint_policies.dots_saveable
        )
    )(W33, X3),
}


def _strip_let(text):
    """JAX prints a long sub-jaxpr once, as ``let jaxpr = {...} in``, and refers to it by
    name; put it back in place (the engine's printer writes it inline)."""
    m = re.match(r"let (\w+) = (\{.*?\}) in\n(\{.*)", text, re.S)
    if not m:
        return text
    name, body, rest = m.groups()
    return rest, name, body


GRAD_TEXT_CASES = {
    "dots": lambda m: m.jax.checkpoint_policies.dots_saveable,
    "names": lambda m: m.jax.checkpoint_policies.save_only_these_names("a"),
    "none": lambda m: None,
}


@pytest.mark.parametrize("policy", list(GRAD_TEXT_CASES))
def test_grad_jaxpr_with_saved_residuals_matches_jax(policy):
    """Saved values pass through reduce_precision on the known side, residuals come
    before the operands, and the recomputation reads them, as in JAX's jaxpr."""

    def text(m):
        f = m.jax.checkpoint(lambda W, v: g_named(m, W, v), policy=GRAD_TEXT_CASES[policy](m))
        return str(m.jax.make_jaxpr(m.jax.grad(f))(W33, X3))

    ours, theirs = text(E), text(J)
    split = _strip_let(theirs)
    if isinstance(split, tuple) and not ours.startswith("let "):
        # JAX hoisted a sub-jaxpr the engine printed inline: compare the two apart
        rest, name, body = split
        sub = re.search(r"jaxpr=(\{ lambda .*?\n\s+in \(\w+,\) \})", ours, re.S).group(1)
        assert _canon(sub) == _canon(body)
        ours, theirs = _canon(ours.replace(sub, name)), _canon(rest)
    assert ours == theirs


def _canon(text):
    """A jaxpr's text with its variables renamed in order of binding, spaces collapsed."""
    names = {}
    for n in re.findall(r"\b([a-z]+):", text):
        names.setdefault(n, f"v{len(names)}")
    text = re.sub(
        r"(?<![='])\b[a-z]+\b(?![=\[(])", lambda m: names.get(m.group(0), m.group(0)), text
    )
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("case", list(JAXPR_CASES))
def test_jaxpr_text_matches_jax(case):
    make = JAXPR_CASES[case]
    assert _text(E, make) == _text(J, make)


def test_grad_jaxpr_recomputes_in_differentiated_remat():
    jaxpr = engine.make_jaxpr(engine.grad(engine.checkpoint(lambda x: f_sin(E, x))))(
        np.float32(1.0)
    )
    remats = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "remat2"]
    assert len(remats) == 1 and remats[0].params["differentiated"] is True
    inner = [e.primitive.name for e in remats[0].params["jaxpr"].eqns]
    assert inner.count("sin") == 1 and inner.count("cos") == 2  # the forward, again


# ---------------------------------------------------------------------------- saved residuals


def _saved(m, policy_name, prevent_cse=True):
    pol = policies(m)[policy_name]
    f = m.jax.checkpoint(lambda W, x: g_named(m, W, x), policy=pol, prevent_cse=prevent_cse)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        m.ad.print_saved_residuals(f, W33, X3)
    # where each comes from: JAX writes file:line:column (or nothing, under pytest)
    return re.sub(r" from (?!the argument).*", " from", buf.getvalue())


@pytest.mark.parametrize("policy", POLICIES)
def test_print_saved_residuals_per_policy(policy):
    assert _saved(E, policy) == _saved(J, policy)


def test_print_saved_residuals_without_checkpoint():
    def run(m):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            m.ad.print_saved_residuals(lambda W, x: g_named(m, W, x), W33, X3)
        return re.sub(r":(\d+):\d+ \(", r":\1 (", buf.getvalue())

    ours, theirs = run(E), run(J)
    assert "named 'a'" in ours
    assert ours.count("\n") == theirs.count("\n")


@pytest.mark.parametrize("policy", ["none", "dots", "everything", "only_a"])
def test_linearize_residual_count_per_policy(policy):
    def count(m):
        pol = policies(m)[policy]
        f = m.jax.checkpoint(lambda W, x: g_named(m, W, x), policy=pol)
        jaxpr = m.jax.make_jaxpr(lambda W, x: m.jax.vjp(f, W, x)[1](np.float32(1.0)))(W33, X3)
        rem = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "remat2"]
        return [len(e.invars) for e in rem]

    assert count(E) == count(J)


def test_policy_names_match_jax():
    ours = {n for n in dir(engine.checkpoint_policies) if not n.startswith("_")}
    theirs = {n for n in dir(jax.checkpoint_policies) if not n.startswith("_")}
    assert ours == theirs
    for n in ("dots_saveable", "dots_with_no_batch_dims_saveable"):
        assert repr(getattr(engine.checkpoint_policies, n)) == repr(
            getattr(jax.checkpoint_policies, n)
        )
    assert repr(ead.checkpoint_policies.save_only_these_names("a")) == repr(
        jax.checkpoint_policies.save_only_these_names("a")
    )


def test_offload_policy_answers_as_jax():
    # (the jaxprs and values of offloading are compared in tests/test_memory_kinds_s7.py)
    def answer(m, batch):
        policy = m.checkpoint_policies.offload_dot_with_no_batch_dims("device", "pinned_host")
        dims = (([1], [0]), ([0], [0]) if batch else ([], []))
        ans = policy(m.lax.dot_general_p, dimension_numbers=dims)
        return type(ans).__name__, repr(ans) if type(ans).__name__ == "Offloadable" else None

    for batch in (False, True):
        assert answer(engine, batch) == answer(jax, batch)


# ---------------------------------------------------------------------------- values and gradients


@pytest.mark.parametrize("policy", POLICIES)
def test_values_and_grads_match(policy):
    def prog(m):
        pol = policies(m)[policy]
        f = m.jax.checkpoint(lambda W, x: g_named(m, W, x), policy=pol)
        plain = lambda W, x: g_named(m, W, x)  # noqa: E731
        gf = m.jax.grad(f, argnums=(0, 1))(W33, X3)
        gp = m.jax.grad(plain, argnums=(0, 1))(W33, X3)
        gj = m.jax.jit(m.jax.grad(f, argnums=(0, 1)))(W33, X3)
        return f(W33, X3), gf, gp, gj, m.jax.jit(f)(W33, X3)

    ours, _ = both(prog)
    assert_close(ours[1], ours[2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prevent_cse", [True, False])
def test_second_order(prevent_cse):
    def prog(m):
        f = m.jax.checkpoint(lambda x: f_sin(m, x), prevent_cse=prevent_cse)
        x = np.float32(0.7)
        return (
            m.jax.grad(m.jax.grad(f))(x),
            m.jax.grad(m.jax.grad(lambda x: f_sin(m, x)))(x),
            m.jax.hessian(lambda v: m.np.sum(f(v) * v))(X3),
            m.jax.jacfwd(m.jax.grad(f))(x),
        )

    ours, _ = both(prog)
    assert_close(ours[0], ours[1])


def test_nested_checkpoint_and_jit():
    def prog(m):
        inner = m.jax.checkpoint(lambda x: m.np.sin(x) * x)

        @m.jax.jit
        def outer(x):
            return m.np.sum(m.jax.checkpoint(lambda y: inner(y) ** 2)(x))

        return (
            outer(X3),
            m.jax.jit(m.jax.grad(outer))(X3),
            m.jax.grad(m.jax.grad(outer))(np.float32(0.3)),
        )

    both(prog)


def test_static_argnums():
    def prog(m):
        def f(x, n, flag):
            for _ in range(n):
                x = m.np.sin(x)
            return x * 2 if flag else x

        g = m.jax.checkpoint(f, static_argnums=(1, 2))
        return g(X3, 3, True), m.jax.grad(lambda x: m.np.sum(g(x, 2, False)))(X3)

    both(prog)


def test_pytree_args_and_outputs():
    def prog(m):
        def f(p, x):
            h = m.np.tanh(p["w"] @ x + p["b"])
            return {"h": h, "s": m.np.sum(h**2)}

        g = m.jax.checkpoint(f, policy=m.jax.checkpoint_policies.dots_saveable)
        p = {"w": W33, "b": X3}
        return g(p, X3), m.jax.grad(lambda p: g(p, X3)["s"])(p)

    both(prog)


def test_vmap_of_grad_and_grad_of_vmap():
    def prog(m):
        f = m.jax.checkpoint(lambda x: f_sin(m, x))
        xs = np.linspace(-1, 1, 4, dtype=np.float32)
        return (
            m.jax.vmap(m.jax.grad(f))(xs),
            m.jax.grad(lambda v: m.np.sum(m.jax.vmap(f)(v)))(xs),
            m.jax.vmap(f)(xs),
        )

    both(prog)


def test_checkpointed_scan_body():
    def prog(m):
        W = W33

        @m.jax.checkpoint
        def body(c, x):
            c = m.np.tanh(W @ c + x)
            return c, m.np.sum(c)

        def loss(c0, xs):
            c, ys = m.lax.scan(body, c0, xs)
            return m.np.sum(c) + m.np.sum(ys)

        xs = np.stack([X3, 2 * X3, -X3])
        return (
            loss(X3, xs),
            m.jax.grad(loss, argnums=(0, 1))(X3, xs),
            m.jax.jit(m.jax.grad(loss))(X3, xs),
        )

    both(prog)


def test_lowering_has_optimization_barrier():
    f = engine.checkpoint(lambda x: f_sin(E, x))
    text = engine.jit(engine.grad(f)).lower(np.float32(1.0)).as_text()
    jtext = (
        jax.jit(jax.grad(jax.checkpoint(lambda x: f_sin(J, x)))).lower(np.float32(1.0)).as_text()
    )
    assert "optimization_barrier" in text and "optimization_barrier" in jtext
    # the undifferentiated checkpoint needs no barrier (as JAX)
    plain = engine.jit(f).lower(np.float32(1.0)).as_text()
    assert "optimization_barrier" not in plain


def test_eager_and_jit_values():
    both(
        lambda m: (
            m.jax.checkpoint(lambda x: f_sin(m, x))(X3),
            m.jax.jit(m.jax.remat(lambda x: f_sin(m, x)))(X3),
        )
    )


# ---------------------------------------------------------------------------- events


def test_remat_decision_event_lists_saved_and_recomputed():
    pol = engine.checkpoint_policies.save_only_these_names("a")
    f = engine.checkpoint(lambda W, x: g_named(E, W, x), policy=pol)
    with events.listen(kinds=(events.RematDecision, events.RuleStarted)) as rec:
        engine.grad(f)(W33, X3)
    (ev,) = rec.of(events.RematDecision)
    rule = next(iter(rec.ancestors(ev, events.RuleStarted)))
    assert rule.primitive == "remat2" and rule.interpreter == "partial_eval"
    saved = [s for s, _ in ev.saved]
    assert any("named 'a'" in s for s in saved)
    assert not any("named 'b'" in s for s in saved)
    recomputed = [e.primitive.name for e in ev.recomputed]
    assert "tanh" in recomputed or "name" in recomputed
    assert ev.policy.startswith("SaveOnlyTheseNames")
    assert "remat_decision" in events.event_types()


# ---------------------------------------------------------------------------- edge cases


def test_closure_over_outer_tracer_to_second_order():
    def prog(m):
        def outer(a):
            f = m.jax.checkpoint(lambda x: m.np.sin(x * a))
            return m.np.sum(f(X3))

        a = np.float32(0.3)
        return m.jax.grad(outer)(a), m.jax.grad(m.jax.grad(outer))(a)

    both(prog)


def test_int_inputs_and_passthrough_outputs():
    def prog(m):
        f = m.jax.checkpoint(lambda x, i: m.np.sin(x) * i)
        g = m.jax.checkpoint(lambda x: (x, 1.0, m.np.ones(2), m.np.cos(x)))
        return (
            m.jax.grad(lambda x: m.np.sum(f(x, m.np.arange(3))))(X3),
            m.jax.grad(lambda x: m.np.sum(g(x)[0] + g(x)[3]))(X3),
            m.jax.jacrev(lambda x: g(x)[3])(X3),
            m.jax.jit(m.jax.vmap(m.jax.grad(lambda x: m.np.sum(g(x)[3]))))(
                np.ones((2, 3), np.float32)
            ),
        )

    both(prog)


def test_cond_inside_and_keyword_args():
    def prog(m):
        h = m.jax.checkpoint(lambda x: m.lax.cond(x[0] > 0, m.np.sin, m.np.cos, x))

        @m.jax.checkpoint
        def k(x, *, scale=2.0):
            return m.np.sum(m.np.tanh(x) * scale)

        return m.jax.grad(lambda x: m.np.sum(h(x)))(X3), m.jax.grad(k)(X3)

    both(prog)


def test_policy_answers_saveable_recompute_objects():
    def prog(m):
        def pol(prim, *_, **__):
            return m.ad.Saveable if prim.name == "sin" else m.ad.Recompute

        f = m.jax.checkpoint(lambda x: m.np.cos(m.np.sin(x) ** 2), policy=pol)
        return m.jax.grad(lambda x: m.np.sum(f(x)))(X3)

    both(prog)

    def count(m):
        def pol(prim, *_, **__):
            return m.ad.Saveable if prim.name == "sin" else m.ad.Recompute

        f = m.jax.checkpoint(lambda x: m.np.cos(m.np.sin(x) ** 2), policy=pol)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            m.ad.print_saved_residuals(f, X3)
        return re.sub(r" from (?!the argument).*", " from", buf.getvalue())

    assert count(E) == count(J)


def test_nested_checkpoint_grad_values():
    def prog(m):
        inner = m.jax.checkpoint(lambda x: m.np.sin(x) * x)
        outer = m.jax.checkpoint(
            lambda y: inner(y) ** 2, policy=m.jax.checkpoint_policies.everything_saveable
        )
        x = np.float32(0.3)
        return m.jax.grad(outer)(x), m.jax.grad(m.jax.grad(outer))(x)

    both(prog)


# ---------------------------------------------------------------------------- the remat tutorial


def _tutorial(m):
    """Cells of JAX's "Gradient checkpointing" tutorial; returns what they print."""
    jnp, out = m.np, io.StringIO()

    def g(W, x):
        return jnp.sin(jnp.dot(W, x))

    def f(W1, W2, W3, x):
        return g(W3, g(W2, g(W1, x)))

    def f2(W1, W2, W3, x):
        x = m.jax.checkpoint(g)(W1, x)
        x = m.jax.checkpoint(g)(W2, x)
        return m.jax.checkpoint(g)(W3, x)

    def predict(params, x):
        *Ws, Wlast = params
        for i, W in enumerate(Ws):
            x = g(W, x)
            x = m.ad.checkpoint_name(x, name=f"layer{i}_output")
        return jnp.dot(Wlast, x)

    W1, W2, W3 = jnp.ones((5, 4)), jnp.ones((6, 5)), jnp.ones((7, 6))
    x = jnp.ones(4)
    cp = m.jax.checkpoint_policies
    with contextlib.redirect_stdout(out):
        m.ad.print_saved_residuals(f, W1, W2, W3, x)
        m.ad.print_saved_residuals(f2, W1, W2, W3, x)
        f3 = m.jax.checkpoint(f, policy=cp.dots_with_no_batch_dims_saveable)
        m.ad.print_saved_residuals(f3, W1, W2, W3, x)
        m.ad.print_saved_residuals(predict, [W1, W2, W3], x)
        pol = cp.save_only_these_names("layer1_output")
        m.ad.print_saved_residuals(m.jax.checkpoint(predict, policy=pol), [W1, W2, W3], x)
        print(m.jax.make_jaxpr(m.jax.checkpoint(g))(W1, x))
        y, f_vjp = m.jax.vjp(m.jax.checkpoint(g), W1, x)
        print(m.jax.make_jaxpr(lambda ct: f_vjp(ct))(y))
        ff = m.jax.checkpoint(lambda x: jnp.sin(jnp.sin(x)), policy=cp.everything_saveable)
        print(m.jax.make_jaxpr(m.jax.grad(ff))(1.0))
    return re.sub(r" from (?!the argument).*", " from", out.getvalue())


def test_gradient_checkpointing_tutorial_cells():
    ours, theirs = _tutorial(E), _tutorial(J)
    assert ours.replace("<lambda>", "") == theirs.replace("<lambda>", "")
    assert "from the argument params[1]" in ours


def test_saved_residuals_through_jitted_calls_and_kwargs():
    def run(m):
        @m.jax.jit
        def g(W, x):
            return m.np.sin(m.np.dot(W, x))

        def f(W, x, *, k=1.0):
            return m.np.sum(g(W, g(W, x)) * k)

        W, x, out = m.np.ones((4, 4)), m.np.ones(4), io.StringIO()
        with contextlib.redirect_stdout(out):
            m.ad.print_saved_residuals(f, W, x, k=2.0)
            m.ad.print_saved_residuals(m.jax.checkpoint(f), W, x)
            pol = m.jax.checkpoint_policies.everything_saveable
            m.ad.print_saved_residuals(m.jax.checkpoint(f, policy=pol), W, x)
        return re.sub(r" from (?!the argument).*", " from", out.getvalue())

    ours = run(E)
    assert ours == run(J)
    assert "output of jitted function 'g'" in ours


def test_prevent_cse_per_argument():
    def prog(m):
        h = m.jax.checkpoint(lambda a, b: m.np.sin(a) * b, prevent_cse=(True, False))
        return (
            h(1.0, 2.0),
            m.jax.grad(h)(1.0, 2.0),
            m.jax.jit(m.jax.grad(h, argnums=(0, 1)))(1.0, 2.0),
        )

    both(prog)


def test_debug_print_inside_runs_forward_and_in_recomputation():
    def run(m):
        @m.jax.checkpoint
        def f(x):
            m.jax.debug.print("x={x}", x=x)
            return m.np.sin(x) * 2

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            g = m.jax.grad(f)(1.0)
            gj = m.jax.jit(m.jax.grad(f))(1.0)
            m.jax.effects_barrier()
        return out.getvalue(), float(g), float(gj)

    ours, theirs = run(E), run(J)
    assert ours == theirs
    assert ours[0].count("x=1.0") == 4


def test_constant_outputs_aux_hessians_and_loops():
    def prog(m):
        jnp, lax, cp = m.np, m.lax, m.jax.checkpoint_policies
        c = m.jax.checkpoint(lambda x: jnp.ones(3) * 2.0)
        h = m.jax.checkpoint(lambda x: (jnp.sum(x**2), jnp.argmax(x)))
        saved = m.jax.checkpoint(lambda x: jnp.sum(jnp.sin(x) ** 3), policy=cp.everything_saveable)
        tanh3 = m.jax.checkpoint(lambda x: jnp.sum(jnp.tanh(x) ** 3))

        def loop(x):
            def body(c, _):
                return m.jax.checkpoint(lambda c: jnp.sin(c) * 1.1, policy=cp.nothing_saveable)(
                    c
                ), None

            return jnp.sum(lax.scan(body, x, None, length=4)[0])

        return (
            m.jax.grad(lambda x: jnp.sum(c(x)) + jnp.sum(x))(X3),
            m.jax.grad(h, has_aux=True)(X3),
            m.jax.jacfwd(m.jax.checkpoint(jnp.sin))(X3),
            m.jax.hessian(saved)(X3),
            m.jax.jit(m.jax.vmap(m.jax.hessian(tanh3)))(np.stack([X3, 2 * X3])),
            m.jax.grad(loop)(X3),
            m.jax.grad(m.jax.grad(lambda x: loop(x * jnp.ones(3))))(0.3),
            m.jax.grad(
                lambda x: jnp.sum(lax.fori_loop(0, 3, lambda i, c: m.jax.checkpoint(jnp.cos)(c), x))
            )(X3),
        )

    both(prog)
