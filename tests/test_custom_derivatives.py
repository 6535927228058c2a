"""Differential tests of custom differentiation rules against real JAX: ``custom_jvp``,
``custom_vjp``, ``custom_gradient``, ``closure_convert``, ``linear_transpose``, under
jit, vmap, grad (to second order), jvp, scan and cond; jaxpr text; bad input; events.

Each program is written once against a namespace ``m`` (``m.jax``, ``m.lax``, ``m.np``)
and run with the engine (``E``) and with JAX (``J``)."""

import functools
from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp
from engine import events

jax, jnp = real_jax()
E = NS(jax=engine, lax=engine.lax, np=enp, name="engine")
J = NS(jax=jax, lax=jax.lax, np=jnp, name="jax")

X3 = np.array([0.5, -1.0, 2.0], np.float32)


def both(program, *args, rtol=1e-5, atol=1e-5):
    ours = program(E, *args)
    theirs = program(J, *args)
    assert_close(ours, theirs, rtol=rtol, atol=atol)
    return ours, theirs


# ---------------------------------------------------------------------------- definitions


def sin_jvp(m):
    """custom_jvp sin * y whose rule scales the derivative by 2 (so it is visible)."""

    @m.jax.custom_jvp
    def f(x, y):
        return m.np.sin(x) * y

    @f.defjvp
    def f_jvp(primals, tangents):
        x, y = primals
        tx, ty = tangents
        return f(x, y), 2.0 * m.np.cos(x) * tx * y + m.np.sin(x) * ty

    return f


def sin_vjp(m):
    @m.jax.custom_vjp
    def g(x):
        return m.np.sin(x)

    def g_fwd(x):
        return m.np.sin(x), m.np.cos(x)

    def g_bwd(res, ct):
        return (3.0 * res * ct,)

    g.defvjp(g_fwd, g_bwd)
    return g


def log1pexp(m):
    """The numerically stable example of JAX's custom derivative tutorial."""

    @m.jax.custom_jvp
    def f(x):
        return m.np.log(1.0 + m.np.exp(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,) = primals
        (t,) = tangents
        return f(x), t * (1.0 - 1.0 / (1.0 + m.np.exp(x)))

    return f


# ---------------------------------------------------------------------------- custom_jvp

JVP_PROGRAMS = {
    "call": lambda m, x: sin_jvp(m)(x, 2.0),
    "grad": lambda m, x: m.jax.grad(sin_jvp(m))(x[0], 2.0),
    "grad_both": lambda m, x: m.jax.grad(sin_jvp(m), argnums=(0, 1))(x[0], 2.0),
    "grad_grad": lambda m, x: m.jax.grad(m.jax.grad(sin_jvp(m)))(x[0], 2.0),
    "jit": lambda m, x: m.jax.jit(sin_jvp(m))(x, 2.0),
    "jit_grad": lambda m, x: m.jax.jit(m.jax.grad(sin_jvp(m)))(x[0], 2.0),
    "grad_jit": lambda m, x: m.jax.grad(m.jax.jit(sin_jvp(m)))(x[0], 2.0),
    "jvp": lambda m, x: m.jax.jvp(lambda a: sin_jvp(m)(a, 2.0), (x,), (m.np.ones(3),)),
    "vmap": lambda m, x: m.jax.vmap(sin_jvp(m))(x, x),
    "vmap_grad": lambda m, x: m.jax.vmap(m.jax.grad(sin_jvp(m)))(x, x),
    "grad_vmap": lambda m, x: m.jax.grad(lambda a: m.np.sum(m.jax.vmap(sin_jvp(m))(a, a)))(x),
    "vmap_in_axes_none": lambda m, x: m.jax.vmap(m.jax.grad(sin_jvp(m)), in_axes=(0, None))(x, 1.5),
    "jacfwd": lambda m, x: m.jax.jacfwd(lambda a: sin_jvp(m)(a, 2.0))(x),
    "jacrev": lambda m, x: m.jax.jacrev(lambda a: sin_jvp(m)(a, 2.0))(x),
    "hessian": lambda m, x: m.jax.hessian(lambda a: m.np.sum(sin_jvp(m)(a, 2.0)))(x),
    "scan": lambda m, x: m.jax.grad(
        lambda a: m.lax.scan(lambda c, xi: (c + sin_jvp(m)(xi, c), None), 1.0, a)[0]
    )(x),
    "cond": lambda m, x: m.jax.grad(
        lambda a: m.lax.cond(a > 0, lambda b: sin_jvp(m)(b, 2.0), lambda b: b * 3.0, a)
    )(x[0]),
    "vmap_cond": lambda m, x: m.jax.vmap(
        m.jax.grad(lambda a: m.lax.cond(a > 0, lambda b: sin_jvp(m)(b, 2.0), lambda b: b * 3.0, a))
    )(x),
    "log1pexp_grad": lambda m, x: m.jax.vmap(m.jax.grad(log1pexp(m)))(
        m.np.array([0.0, 10.0, 100.0, 1000.0])
    ),
    "log1pexp_jit_grad_grad": lambda m, x: m.jax.jit(m.jax.grad(m.jax.grad(log1pexp(m))))(3.0),
}


@pytest.mark.parametrize("name", sorted(JVP_PROGRAMS))
def test_custom_jvp(name):
    both(JVP_PROGRAMS[name], X3)


def test_log1pexp_finite_at_large_x():
    g = engine.grad(log1pexp(E))(1000.0)
    assert np.isfinite(np.asarray(g))
    assert float(g) == float(jax.grad(log1pexp(J))(1000.0)) == 1.0


def test_custom_jvp_python_control_flow_under_grad():
    """Under grad the rule runs on concrete primals, so Python ``if`` works, as in JAX."""

    def prog(m, x):
        @m.jax.custom_jvp
        def f(x):
            if x > 0:
                return m.np.sin(x)
            return m.np.cos(x)

        @f.defjvp
        def f_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            ans = f(x)
            if x > 0:
                return ans, 2.0 * t
            return ans, 3.0 * t

        return [f(x), m.jax.grad(f)(x), m.jax.grad(f)(-x)]

    both(prog, 1.0)


def test_defjvps_and_nondiff_argnums():
    def prog(m, x):
        @m.jax.custom_jvp
        def f(x, y):
            return m.np.sin(x) * y

        f.defjvps(lambda t, ans, x, y: m.np.cos(x) * t * y, lambda t, ans, x, y: m.np.sin(x) * t)

        @functools.partial(m.jax.custom_jvp, nondiff_argnums=(0,))
        def app(fn, x):
            return fn(x)

        @app.defjvp
        def app_jvp(fn, primals, tangents):
            (x,), (t,) = primals, tangents
            return app(fn, x), 5.0 * t

        return [
            m.jax.grad(f, argnums=(0, 1))(x, 2.0),
            m.jax.jvp(f, (x, 2.0), (1.0, 1.0)),
            m.jax.grad(lambda a: app(m.np.sin, a))(x),
            m.jax.jit(m.jax.grad(lambda a: app(m.np.sin, a)))(x),
            m.jax.vmap(m.jax.grad(lambda a: app(m.np.cos, a)))(m.np.arange(3.0)),
        ]

    both(prog, 0.7)


def test_symbolic_zeros():
    def prog(m, x):
        seen = []

        @m.jax.custom_jvp
        def f(x, y):
            return x * y

        def f_jvp(primals, tangents):
            x, y = primals
            tx, ty = tangents
            kind = lambda t: "zero" if type(t).__name__ == "SymbolicZero" else "value"  # noqa: E731
            seen.append((kind(tx), kind(ty)))
            out = 0.0
            if type(tx).__name__ != "SymbolicZero":
                out = out + 2.0 * tx * y
            if type(ty).__name__ != "SymbolicZero":
                out = out + 7.0 * x * ty
            return f(x, y), out

        f.defjvp(f_jvp, symbolic_zeros=True)
        g = m.jax.grad(f)(x, 3.0)
        gy = m.jax.grad(f, argnums=1)(x, 3.0)
        return [g, gy, seen]

    ours = prog(E, 2.0)
    theirs = prog(J, 2.0)
    assert_close(ours[:2], theirs[:2])
    assert ours[2] == theirs[2]


def test_custom_jvp_pytrees():
    def prog(m, x):
        @m.jax.custom_jvp
        def f(d):
            return {"a": d["x"] * 2.0, "b": (m.np.sin(d["y"]),)}

        @f.defjvp
        def f_jvp(primals, tangents):
            (d,), (t,) = primals, tangents
            return f(d), {"a": 2.0 * t["x"], "b": (10.0 * t["y"],)}

        loss = lambda d: m.np.sum(f(d)["a"]) + m.np.sum(f(d)["b"][0])  # noqa: E731
        return m.jax.grad(loss)({"x": x, "y": x + 1.0})

    both(prog, X3)


def test_custom_jvp_closure_over_array():
    def prog(m, x):
        c = m.np.array([1.0, 2.0, 3.0])

        @m.jax.custom_jvp
        def h(x):
            return x * c

        h.defjvps(lambda t, ans, x: 4.0 * t * c)
        return [
            m.jax.grad(lambda a: m.np.sum(h(a)))(x),
            m.jax.jit(h)(x),
            m.jax.vmap(h)(x[:, None] * c),
        ]

    both(prog, X3)


# ---------------------------------------------------------------------------- custom_vjp

VJP_PROGRAMS = {
    "call": lambda m, x: sin_vjp(m)(x),
    "grad": lambda m, x: m.jax.grad(sin_vjp(m))(x[0]),
    "grad_grad": lambda m, x: m.jax.grad(m.jax.grad(sin_vjp(m)))(x[0]),
    "jit": lambda m, x: m.jax.jit(sin_vjp(m))(x),
    "jit_grad": lambda m, x: m.jax.jit(m.jax.grad(sin_vjp(m)))(x[0]),
    "grad_jit": lambda m, x: m.jax.grad(m.jax.jit(sin_vjp(m)))(x[0]),
    "vjp": lambda m, x: m.jax.vjp(sin_vjp(m), x)[1](m.np.ones(3)),
    "vmap": lambda m, x: m.jax.vmap(sin_vjp(m))(x),
    "vmap_grad": lambda m, x: m.jax.vmap(m.jax.grad(sin_vjp(m)))(x),
    "grad_vmap": lambda m, x: m.jax.grad(lambda a: m.np.sum(m.jax.vmap(sin_vjp(m))(a)))(x),
    "jacrev": lambda m, x: m.jax.jacrev(sin_vjp(m))(x),
    "scan": lambda m, x: m.jax.grad(
        lambda a: m.lax.scan(lambda c, xi: (c * sin_vjp(m)(xi), None), 1.0, a)[0]
    )(x),
    "cond": lambda m, x: m.jax.grad(lambda a: m.lax.cond(a > 0, sin_vjp(m), lambda b: b * 3.0, a))(
        x[0]
    ),
    "jit_vmap_grad_cond": lambda m, x: m.jax.jit(
        m.jax.vmap(m.jax.grad(lambda a: m.lax.cond(a > 0, sin_vjp(m), lambda b: b * 3.0, a)))
    )(x),
}


@pytest.mark.parametrize("name", sorted(VJP_PROGRAMS))
def test_custom_vjp(name):
    both(VJP_PROGRAMS[name], X3)


def test_custom_vjp_pytree_residuals_none_cotangents_nondiff():
    def prog(m, x):
        @functools.partial(m.jax.custom_vjp, nondiff_argnums=(2,))
        def f(x, y, scale):
            return {"p": x * y * scale, "q": m.np.sin(x)}

        def f_fwd(x, y, scale):
            return f(x, y, scale), {"x": x, "pair": (y, m.np.cos(x))}

        def f_bwd(scale, res, ct):
            y, cosx = res["pair"]
            return (ct["p"] * y * scale + ct["q"] * cosx, None)

        f.defvjp(f_fwd, f_bwd)
        loss = lambda a, b: m.np.sum(f(a, b, 3.0)["p"]) + m.np.sum(f(a, b, 3.0)["q"])  # noqa: E731
        return [
            m.jax.grad(loss, argnums=(0, 1))(x, x + 1.0),
            m.jax.jit(m.jax.grad(loss, argnums=(0, 1)))(x, x + 1.0),
            m.jax.vmap(m.jax.grad(loss))(x, x),
        ]

    both(prog, X3)


def test_custom_vjp_closure_and_clip_gradient():
    def prog(m, x):
        @m.jax.custom_vjp
        def clip_gradient(lo, hi, x):
            return x

        def fwd(lo, hi, x):
            return x, (lo, hi)

        def bwd(res, g):
            lo, hi = res
            return (None, None, m.np.clip(g, lo, hi))

        clip_gradient.defvjp(fwd, bwd)
        t = lambda a: m.np.sin(clip_gradient(-0.75, 0.75, a))  # noqa: E731
        return [m.jax.vmap(m.jax.grad(t))(x * 3), m.jax.grad(m.jax.grad(t))(0.3)]

    both(prog, X3)


def test_custom_gradient():
    def prog(m, x):
        @m.jax.custom_gradient
        def f(x):
            return x**2, lambda g: (g * 10.0 * x,)

        return [f(x), m.jax.grad(f)(x), m.jax.jit(m.jax.grad(f))(x), m.jax.vmap(m.jax.grad(f))(X3)]

    both(prog, 1.5)


def test_closure_convert_and_linear_transpose():
    def prog(m, x):
        y = m.np.array([1.0, 2.0, 3.0])

        def scale(a):
            return a * y + 1.0

        conv, consts = m.jax.closure_convert(scale, x)
        outs = [conv(x, *consts)]
        f_t = m.jax.linear_transpose(lambda a, b: (a * 2.0 + b, m.np.sum(a)), x, x)
        outs.append(f_t((m.np.ones(3), 4.0)))
        g_t = m.jax.linear_transpose(lambda a: a[::-1] * 3.0, x)
        outs.append(g_t(m.np.arange(3.0)))
        return outs

    both(prog, X3)


# ---------------------------------------------------------------------------- jaxpr text


def _jaxpr_text(fn, *args, mod):
    return str(mod.make_jaxpr(fn)(*args))


def test_jaxpr_text_custom_jvp():
    assert _jaxpr_text(sin_jvp(E), 1.0, 2.0, mod=engine) == _jaxpr_text(
        sin_jvp(J), 1.0, 2.0, mod=jax
    )


def test_jaxpr_text_custom_vjp_and_its_grad():
    assert _jaxpr_text(sin_vjp(E), 1.0, mod=engine) == _jaxpr_text(sin_vjp(J), 1.0, mod=jax)
    assert _jaxpr_text(engine.grad(sin_vjp(E)), 1.0, mod=engine) == _jaxpr_text(
        jax.grad(sin_vjp(J)), 1.0, mod=jax
    )


def test_jaxpr_text_closed_over_constant():
    def h_of(m):
        c = m.np.ones(3)

        @m.jax.custom_jvp
        def h(x):
            return x * c

        h.defjvps(lambda t, ans, x: t * c)
        return h

    x = np.ones(3, np.float32)
    assert _jaxpr_text(h_of(E), x, mod=engine) == _jaxpr_text(h_of(J), x, mod=jax)


# ---------------------------------------------------------------------------- bad input


def _errors(program):
    """(class name, message) raised by the program under each library."""
    out = []
    for m in (E, J):
        with pytest.raises(Exception) as info:
            program(m)
        out.append((type(info.value), str(info.value)))
    return out


def test_jvp_of_custom_vjp_error():
    (ec, em), (jc, jm) = _errors(lambda m: m.jax.jvp(sin_vjp(m), (1.0,), (1.0,)))
    assert issubclass(ec, TypeError) and issubclass(jc, TypeError)
    assert "can't apply forward-mode autodiff (jvp) to a custom_vjp function" in em
    assert "can't apply forward-mode autodiff (jvp) to a custom_vjp function" in jm
    (ec, em), _ = _errors(lambda m: m.jax.jacfwd(sin_vjp(m))(X3))
    assert issubclass(ec, TypeError) and "forward-mode" in em
    # the session is still usable
    assert float(engine.grad(sin_vjp(E))(0.0)) == 3.0


def test_bwd_wrong_structure_error():
    def prog(m):
        @m.jax.custom_vjp
        def my_fun(x, y):
            return x * y

        def fwd(x, y):
            return x * y, (x, y)

        def bad_bwd(res, ct):
            return ct * res[1]  # not a tuple of two

        my_fun.defvjp(fwd, bad_bwd)
        return m.jax.grad(my_fun)(1.0, 2.0)

    (ec, em), (jc, jm) = _errors(prog)
    assert ec is jc is TypeError
    phrase = "Custom VJP bwd rule must produce an output with the same container (pytree) structure"
    assert phrase in em and phrase in jm
    assert float(engine.grad(sin_vjp(E))(0.0)) == 3.0


def test_bwd_wrong_shape_error():
    def prog(m):
        @m.jax.custom_vjp
        def my_fun(x):
            return x * 2.0

        my_fun.defvjp(lambda x: (x * 2.0, None), lambda res, ct: (m.np.ones(3),))
        return m.jax.grad(my_fun)(1.0)

    (ec, em), (jc, jm) = _errors(prog)
    assert ec is jc is ValueError
    phrase = "Custom VJP bwd rule must produce an output with the same type as the args tuple"
    assert phrase in em and phrase in jm


@pytest.mark.parametrize("bad", ["shape", "dtype"])
def test_jvp_rule_wrong_tangent_error(bad):
    def prog(m):
        @m.jax.custom_jvp
        def my_fun(x):
            return m.np.sin(x)

        @my_fun.defjvp
        def my_fun_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            if bad == "shape":
                return my_fun(x), m.np.ones(3) * t
            return my_fun(x), (t * 2).astype(m.np.float16)

        return m.jax.grad(my_fun)(1.0)

    (ec, em), (jc, jm) = _errors(prog)
    assert ec is jc is TypeError
    phrase = (
        "Custom JVP rule must produce primal and tangent outputs with corresponding "
        "shapes and dtypes. Expected float32[] (tangent type of float32[]) but got"
    )
    assert phrase in em and phrase in jm
    assert em.split("but got")[1] == jm.split("but got")[1]


def test_jvp_rule_not_a_pair_names_user_function():
    def prog(m):
        @m.jax.custom_jvp
        def my_fun(x):
            return x

        @my_fun.defjvp
        def my_rule(primals, tangents):
            return primals[0]

        return m.jax.jvp(my_fun, (1.0,), (1.0,))

    (ec, em), (jc, jm) = _errors(prog)
    assert ec is jc is TypeError
    assert "Custom JVP rule my_rule for function my_fun must produce a pair" in em
    assert "Custom JVP rule my_rule for function my_fun must produce a pair" in jm


def test_missing_rule_errors():
    for m in (E, J):
        f = m.jax.custom_jvp(lambda x: x)
        with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function"):
            f(1.0)
        g = m.jax.custom_vjp(lambda x: x)
        with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function"):
            g(1.0)


# ---------------------------------------------------------------------------- events


def test_events_name_the_users_rule():
    f = sin_jvp(E)
    g = sin_vjp(E)
    with events.listen(kinds=(events.CustomRuleStarted, events.CustomRuleApplied)) as rec:
        engine.grad(f)(1.0, 2.0)
        engine.grad(g)(1.0)
    starts = rec.of(events.CustomRuleStarted)
    kinds = [(s.rule_kind, s.function, s.rule) for s in starts]
    assert kinds == [("jvp", "f", "f_jvp"), ("fwd", "g", "g_fwd"), ("bwd", "g", "g_bwd")]
    src = starts[0].source_info
    assert src.file == __file__ and src.function == "f_jvp"
    assert all(rec.end_of(s.call) is not None for s in starts)


def test_events_equations_of_rule_have_rule_as_ancestor():
    f = sin_jvp(E)
    kinds = (events.CustomRuleStarted, events.RuleStarted, events.TraceStarted, events.EqnEmitted)
    with events.listen(kinds=kinds) as rec:
        engine.make_jaxpr(engine.grad(f))(1.0, 2.0)
    cos_eqns = [e for e in rec.of(events.EqnEmitted) if e.primitive == "cos"]
    assert cos_eqns
    anc = list(rec.ancestors(cos_eqns[0], events.CustomRuleStarted))
    assert anc and anc[0].rule == "f_jvp"


def test_module_names():
    import engine.custom_derivatives as cd

    names = ("custom_jvp", "custom_vjp", "custom_gradient", "closure_convert")
    for name in names + ("SymbolicZero", "zero_from_primal", "custom_jvp_call_p"):
        assert hasattr(cd, name), name
    for name in names + ("linear_transpose",):
        assert hasattr(engine, name) and hasattr(jax, name), name


# ---------------------------------------------------------------------------- engine.nn


@pytest.mark.parametrize("name", ["relu", "relu6", "log1mexp"])
def test_nn_functions_use_custom_jvp_as_jax(name):
    xs = np.array([0.0, 6.0, -1.0, 0.5, 3.0], np.float32)
    if name == "log1mexp":
        xs = np.array([0.1, 0.6931472, 1.0, 5.0], np.float32)
    ef, jf = getattr(engine.nn, name), getattr(jax.nn, name)
    assert_close(engine.vmap(engine.grad(ef))(xs), jax.vmap(jax.grad(jf))(xs))
    assert_close(
        engine.grad(engine.grad(lambda x: engine.numpy.sum(ef(x) ** 2)))(1.5),
        jax.grad(jax.grad(lambda x: jnp.sum(jf(x) ** 2)))(1.5),
    )
    if name != "log1mexp":  # JAX's body of log1mexp differs (jnp.where's own jit)
        assert str(engine.make_jaxpr(ef)(1.0)) == str(jax.make_jaxpr(jf)(1.0))


def test_grad_relu_at_zero():
    assert float(engine.grad(engine.nn.relu)(0.0)) == float(jax.grad(jax.nn.relu)(0.0)) == 0.0


def test_jnp_sinc_derivatives_at_zero_as_jax():
    f, g = engine.numpy.sinc, jnp.sinc
    for _ in range(5):
        assert_close(f(0.0), g(0.0), rtol=1e-5, atol=1e-5)
        assert_close(f(0.3), g(0.3), rtol=1e-4, atol=1e-4)
        f, g = engine.grad(f), jax.grad(g)


# ---------------------------------------------------------------------------- more corners


def test_custom_vjp_symbolic_zeros_perturbed_flags():
    def prog(m):
        seen = []

        @m.jax.custom_vjp
        def h(x, y):
            return x * y

        def h_fwd(x, y):
            seen.append((type(x).__name__, bool(x.perturbed), bool(y.perturbed)))
            return x.value * y.value, (x.value, y.value)

        def h_bwd(res, g):
            return (g * res[1], None)

        h.defvjp(h_fwd, h_bwd, symbolic_zeros=True)
        return [m.jax.grad(h)(2.0, 3.0), m.jax.jit(m.jax.grad(h))(2.0, 3.0)], seen

    (ours, eseen), (theirs, jseen) = prog(E), prog(J)
    assert_close(ours, theirs)
    assert eseen == jseen


def test_more_corners():
    def prog(m, x):
        @m.jax.custom_vjp
        def two(x):
            return x * 2, x * 3

        two.defvjp(lambda x: ((x * 2, x * 3), None), lambda r, g: (g[0] * 2 + g[1] * 3,))

        @m.jax.custom_jvp
        def fi(x, n):
            return x * n

        fi.defjvp(lambda p, t: (fi(*p), t[0] * p[1]))
        cg = m.jax.custom_gradient(lambda x, y: (x * y, lambda g: (g * y, g * x)))
        return [
            m.jax.grad(lambda a: two(a)[0])(x),
            m.jax.grad(fi)(x, 3),
            m.jax.jacfwd(m.jax.nn.relu)(m.np.array([-1.0, 0.0, 2.0])),
            m.jax.grad(cg, argnums=(0, 1))(x, 3.0),
            m.jax.jvp(
                lambda a: m.lax.fori_loop(0, 3, lambda i, c: m.jax.nn.relu(c) * 2.0, a),
                (x,),
                (1.0,),
            )[1],
        ]

    both(prog, 2.0)


def test_jit_of_jvp_of_custom_vjp_raises_jax_error():
    g = sin_vjp(E)
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        engine.jit(lambda x: engine.jvp(g, (x,), (1.0,)))(1.0)
    assert float(engine.jit(engine.grad(g))(0.0)) == 3.0


# ---------------------------------------------------------------------------- custom_linear_solve / custom_root

_A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], np.float32)
_B = np.array([[4.0, 1.0, 0.5], [0.3, 3.0, 0.2], [0.1, 0.7, 2.0]], np.float32)
_b0 = np.array([1.0, 2.0, 3.0], np.float32)


def _lin_solve(m, M, b, symmetric):
    return m.lax.custom_linear_solve(
        lambda x: M @ x,
        b,
        lambda matvec, y: m.np.linalg.solve(M, y),
        None if symmetric else (lambda vecmat, y: m.np.linalg.solve(M.T, y)),
        symmetric=symmetric,
    )


SOLVE_PROGRAMS = {
    "value": lambda m: _lin_solve(m, m.np.asarray(_A), _b0, True),
    "grad_b_symmetric": lambda m: m.jax.grad(
        lambda b: m.np.sum(_lin_solve(m, m.np.asarray(_A), b, True) ** 2)
    )(_b0),
    "grad_M": lambda m: m.jax.grad(lambda M: m.np.sum(_lin_solve(m, M, _b0, False) ** 2))(
        m.np.asarray(_B)
    ),
    "jvp_M": lambda m: m.jax.jvp(
        lambda M: _lin_solve(m, M, _b0, False), (m.np.asarray(_B),), (m.np.ones((3, 3)),)
    ),
    "jit_grad_M": lambda m: m.jax.jit(
        m.jax.grad(lambda M: m.np.sum(_lin_solve(m, M, _b0, False) ** 2))
    )(m.np.asarray(_B)),
    "vmap_grad_b": lambda m: m.jax.vmap(
        m.jax.grad(lambda b: m.np.sum(_lin_solve(m, m.np.asarray(_B), b, False) ** 2))
    )(m.np.stack([_b0, 2 * _b0])),
    "vmap_M": lambda m: m.jax.vmap(lambda M: _lin_solve(m, M, _b0, False))(
        m.np.stack([m.np.asarray(_B), m.np.asarray(_A)])
    ),
    "hessian_b": lambda m: m.jax.hessian(
        lambda b: m.np.sum(_lin_solve(m, m.np.asarray(_B), b, False) ** 3)
    )(_b0),
}


@pytest.mark.parametrize("name", sorted(SOLVE_PROGRAMS))
def test_custom_linear_solve(name):
    ours, theirs = SOLVE_PROGRAMS[name](E), SOLVE_PROGRAMS[name](J)
    assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def _sqrt_root(m, a):
    def newton(f, x0):
        return m.lax.fori_loop(0, 30, lambda i, x: x - f(x) / m.jax.grad(f)(x), x0)

    return m.lax.custom_root(lambda x: x**2 - a, 1.0, newton, lambda g, y: y / g(1.0))


def test_custom_root():
    def prog(m):
        f = functools.partial(_sqrt_root, m)
        return [
            f(2.0),
            m.jax.grad(f)(2.0),
            m.jax.grad(m.jax.grad(f))(2.0),
            m.jax.jit(m.jax.vmap(m.jax.grad(f)))(m.np.array([1.0, 4.0, 9.0])),
        ]

    assert_close(prog(E), prog(J), rtol=1e-5, atol=1e-6)


_ONES3 = np.ones(3, np.float32)
JAXPR_PROGRAMS = {
    "grad_custom_jvp": (lambda m: m.jax.grad(sin_jvp(m)), (1.0, 2.0)),
    "vmap_custom_jvp": (lambda m: m.jax.vmap(sin_jvp(m)), (_ONES3, _ONES3)),
    "jit_custom_vjp": (lambda m: m.jax.jit(sin_vjp(m)), (1.0,)),
    "vmap_custom_vjp": (lambda m: m.jax.vmap(sin_vjp(m)), (_ONES3,)),
    "grad_vmap_custom_vjp": (
        lambda m: m.jax.grad(lambda x: m.np.sum(m.jax.vmap(sin_vjp(m))(x))),
        (_ONES3,),
    ),
}


@pytest.mark.parametrize("name", sorted(JAXPR_PROGRAMS))
def test_jaxpr_text_under_transformations(name):
    make, args = JAXPR_PROGRAMS[name]
    assert str(engine.make_jaxpr(make(E))(*args)) == str(jax.make_jaxpr(make(J))(*args))


def test_linear_call_and_primal_tree_values():
    def prog(m):
        from importlib import import_module

        cd = import_module(f"{m.jax.__name__}.custom_derivatives")

        def mul(r, x):
            return r * x

        def mul_t(r, ct):  # deliberately not the true transpose, so its use is visible
            return 3.0 * r * ct

        f = lambda r, x: cd.linear_call(mul, mul_t, r, x)  # noqa: E731
        x = m.np.array([1.0, 2.0, 3.0])
        pv = cd.custom_vjp_primal_tree_values(
            (cd.CustomVJPPrimal(x, True), cd.CustomVJPPrimal(x, False))
        )
        return [
            f(2.0, x),
            m.jax.grad(lambda x: m.np.sum(f(2.0, x)))(x),
            m.jax.jit(m.jax.grad(lambda x: m.np.sum(f(2.0, x))))(x),
            m.jax.jvp(lambda x: f(2.0, x), (x,), (x,)),
            m.jax.linear_transpose(lambda x: f(2.0, x), x)(x),
            pv,
        ]

    both(prog)


def test_closure_over_batched_value():
    """Only a closed-over value is batched: it reaches the primitive as an operand."""

    def prog(m):
        def outer(x, y):
            @m.jax.custom_jvp
            def f(a):
                return a * y

            f.defjvps(lambda t, ans, a: t * y * 2.0)
            return f(x)

        ys = m.np.arange(3.0)
        return [
            m.jax.vmap(lambda y: outer(1.0, y))(ys),
            m.jax.vmap(m.jax.grad(outer), in_axes=(None, 0))(1.0, ys),
            m.jax.vmap(outer)(ys, ys + 1),
            m.jax.grad(lambda y: y * m.jax.nn.relu(2.0))(3.0),
        ]

    both(prog)


def test_rule_primal_output_type_checked_against_function():
    def prog(m):
        @m.jax.custom_jvp
        def my_fun(x):
            return m.np.sin(x)

        @my_fun.defjvp
        def my_rule(p, t):
            return m.np.ones(3), t[0] * m.np.ones(3)

        return m.jax.jvp(m.jax.jit(my_fun), (1.0,), (1.0,))

    (ec, em), (jc, jm) = _errors(prog)
    assert ec is jc is TypeError
    phrase = "Custom JVP rule my_rule for function my_fun must produce a pair"
    assert phrase in em and phrase in jm
    assert "had output shapes/dtypes of" in em and "had output shapes/dtypes of" in jm
