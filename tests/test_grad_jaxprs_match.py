"""make_jaxpr of transformed programs (grad, vjp, jvp, linearize, vmap of programs with
jit, cond, switch, scan, while/fori, custom_jvp/vjp and checkpoint; weak and strong
inputs) prints exactly JAX 0.10.2's text."""

import types

import numpy as np
import pytest

import engine
import engine.numpy as ejnp
from tests.helpers import jaxpr_text, real_jax

jax, jnp = real_jax()


def _api(m, np_mod):
    return types.SimpleNamespace(
        jit=m.jit,
        grad=m.grad,
        vjp=m.vjp,
        jvp=m.jvp,
        linearize=m.linearize,
        vmap=m.vmap,
        checkpoint=m.checkpoint,
        custom_jvp=m.custom_jvp,
        custom_vjp=m.custom_vjp,
        lax=m.lax,
        np=np_mod,
    )


def _sin_cos_jit(a):
    return a.jit(lambda z: (a.np.sin(z), a.np.cos(z))[0] + z)


def p_grad_jit_dead(a):
    return a.grad(lambda x: _sin_cos_jit(a)(x) * 2.0)


def p_grad_jit_strong(a):
    return a.grad(lambda x: a.jit(lambda z: a.np.sin(z) * z)(x))


def p_grad_nested_jit(a):
    inner = a.jit(lambda z: a.np.exp(z) * z)
    return a.grad(lambda x: a.jit(lambda y: inner(y) + a.np.sin(y))(x))


def p_grad_cond(a):
    return a.grad(lambda x: a.lax.cond(x > 0, lambda q: (q * 2, q)[0], lambda q: q, x))


def p_grad_cond_sin(a):
    return a.grad(lambda x: a.lax.cond(x > 0, a.np.sin, a.np.cos, x))


def p_grad_cond_two_operands(a):
    return a.grad(lambda x: a.lax.cond(x > 1.0, lambda u, v: u * v, lambda u, v: u + v, x, x))


def p_grad_switch(a):
    branches = [a.np.sin, a.np.cos, lambda q: q * q]
    return a.grad(lambda x: a.lax.switch(2, branches, x))


def p_grad_scan(a):
    def f(x):
        return a.lax.scan(lambda c, t: (c + a.np.sin(t), None), x, a.np.ones(2))[0]

    return a.grad(f)


def p_grad_scan_mul(a):
    def f(x):
        return a.lax.scan(lambda c, t: (c * t, c), x, a.np.arange(1.0, 4.0))[1].sum()

    return a.grad(f)


def p_grad_scan_sin_carry(a):
    def f(x):
        return a.lax.scan(lambda c, _: (a.np.sin(c), None), x, None, length=3)[0]

    return a.grad(f)


def p_grad_nested_scan(a):
    def inner(c, t):
        return a.lax.scan(lambda d, s: (d * s + a.np.sin(d), None), c, t * a.np.ones(2))[0], None

    return a.grad(lambda x: a.lax.scan(inner, x, a.np.ones(3))[0])


def p_grad_fori(a):
    return a.grad(lambda x: a.lax.fori_loop(0, 3, lambda i, c: c * 2.0 + a.np.sin(c), x))


def p_jvp_while(a):
    def f(x):
        return a.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, a.np.sin(c[1])), (0, x))[1]

    return lambda x: a.jvp(f, (x,), (x,))


def p_grad_custom_jvp(a):
    @a.custom_jvp
    def g(x):
        return a.np.sin(x)

    g.defjvp(lambda p, t: (g(p[0]), a.np.cos(p[0]) * t[0]))
    return a.grad(lambda x: g(x) * x)


def p_grad_custom_vjp(a):
    @a.custom_vjp
    def g(x):
        return a.np.sin(x)

    g.defvjp(lambda x: (a.np.sin(x), a.np.cos(x)), lambda r, ct: (r * ct,))
    return a.grad(lambda x: g(x) * x)


def p_grad_checkpoint(a):
    return a.grad(lambda x: a.checkpoint(lambda z: a.np.sin(a.np.sin(z)))(x))


def p_grad_checkpoint_jit(a):
    return a.grad(a.jit(a.checkpoint(lambda z: a.np.cos(z) * z)))


def p_vjp_jit(a):
    def f(x):
        y, pull = a.vjp(a.jit(lambda z: a.np.sin(z) * z), x)
        return pull(y)

    return f


def p_linearize_jit(a):
    def f(x):
        _, lin = a.linearize(a.jit(lambda z: a.np.exp(z) * z), x)
        return lin(x)

    return f


def p_jvp_cond(a):
    def f(x):
        return a.jvp(lambda y: a.lax.cond(y > 0, a.np.sin, a.np.cos, y), (x,), (x,))

    return f


def p_jvp_scan(a):
    def f(x):
        g = lambda y: a.lax.scan(lambda c, t: (c * t, c), y, a.np.arange(3.0))  # noqa: E731
        return a.jvp(g, (x,), (x,))

    return f


def p_vmap_grad_cond(a):
    return a.vmap(a.grad(lambda x: a.lax.cond(x > 0, a.np.sin, a.np.cos, x)))


def p_vmap_grad_jit(a):
    return a.vmap(a.grad(a.jit(lambda z: a.np.sin(z) * z)))


def p_grad_vmap_scan(a):
    def f(x):
        body = lambda c, t: (c + t * c, None)  # noqa: E731
        return a.vmap(lambda v: a.lax.scan(body, v, a.np.ones(2))[0])(x).sum()

    return a.grad(f)


def p_grad_grad_jit(a):
    return a.grad(a.grad(a.jit(lambda z: a.np.sin(z) * z)))


def p_grad_divmod_mix(a):
    def f(x):
        q, _ = a.np.divmod(x, 2.0)
        return q + _sin_cos_jit(a)(x)

    return a.grad(f)


def p_grad_jit_two_outputs(a):
    def f(x):
        u, v = a.jit(lambda z: (a.np.sin(z), z * z))(x)
        return u * v

    return a.grad(f)


def p_grad_jit_unused_output(a):
    def f(x):
        u, _ = a.jit(lambda z: (a.np.sin(z), a.np.cos(z)))(x)
        return u

    return a.grad(f)


def p_grad_cond_residual_shared(a):
    return a.grad(
        lambda x: a.lax.cond(x > 0, lambda q: a.np.sin(q) * q, lambda q: a.np.cos(q) * q, x)
    )


def p_grad_cond_array_residuals(a):
    def f(x):
        def true_fun(q):
            return a.np.sin(q).sum()

        def false_fun(q):
            return a.np.exp(q.sum())

        return a.lax.cond(x.sum() > 0, true_fun, false_fun, x)

    return a.grad(f)


def _weak_strong_branches(a):
    """A cond whose branches' outputs differ only in weak type (JAX: branch 0's types)."""
    return lambda x: a.lax.cond(x > 0, lambda q: q * 2.0, lambda q: a.np.float32(1.0) * q, x)


def p_cond_weak_vs_strong(a):
    return _weak_strong_branches(a)


def p_cond_strong_vs_weak(a):
    return lambda x: a.lax.cond(x > 0, lambda q: a.np.float32(1.0) * q, lambda q: q * 2.0, x)


def p_switch_weak_branch_first(a):
    branches = [lambda q: 1.0, lambda q: a.np.float32(2.0) * q, lambda q: q + 1.0]
    return lambda x: a.lax.switch(1, branches, x)


def p_cond_forwarded_operand(a):
    def f(x):
        return a.lax.cond(x > 0, lambda q: (q, 3.0), lambda q: (q, a.np.float32(3.0)), x)

    return f


def p_grad_cond_weak_vs_strong(a):
    return a.grad(_weak_strong_branches(a))


def p_vmap_cond_weak_vs_strong(a):
    return a.vmap(lambda x: a.lax.cond(x > 0, lambda q: 1.0, lambda q: a.np.float32(2.0) * q, x))


def p_grad_cond_in_scan(a):
    def body(c, t):
        return a.lax.cond(c > 0, a.np.sin, a.np.cos, c) * t, None

    return a.grad(lambda x: a.lax.scan(body, x, a.np.ones(2))[0])


def p_grad_fori_closure(a):
    return a.grad(lambda x: a.lax.fori_loop(0, 3, lambda i, c: c * x, x))


def p_grad_scan_closure(a):
    def f(x):
        body = lambda c, t: (c * a.np.sin(x) + t, None)  # noqa: E731
        return a.lax.scan(body, x, a.np.ones(3))[0]

    return a.grad(f)


def p_grad_scan_closure_xs(a):
    def f(x):
        body = lambda c, t: (c + a.np.sin(t * x), None)  # noqa: E731
        return a.lax.scan(body, 0.0, a.np.arange(3.0) * x)[0]

    return a.grad(f)


def p_jvp_switch(a):
    branches = [a.np.sin, a.np.cos, a.np.exp]
    return lambda x: a.jvp(lambda y: a.lax.switch(1, branches, y), (x,), (x,))


def p_linearize_cond(a):
    def f(y):
        return a.lax.cond(y > 0, lambda q: a.np.sin(q) * q, a.np.cos, y)

    return lambda x: a.linearize(f, x)[1](x)


def p_grad_checkpoint_cond(a):
    return a.grad(a.checkpoint(lambda x: a.lax.cond(x > 0, a.np.sin, a.np.cos, x)))


def p_grad_mul_chain(a):
    return a.grad(lambda x: x * a.np.sin(x) * a.np.cos(x))


def p_grad_max_min_ties(a):
    """max/min's JVP as JAX's _balanced_eq: select(x == ans, 1, 0) / select(y == ans, 2, 1)."""
    return a.grad(lambda x: (a.lax.max(x, x * 0.5) + a.lax.min(x, 2.0 * x)).sum())


def p_jvp_reduce_max_of_max(a):
    return lambda x: a.jvp(lambda z: a.lax.max(z, a.np.max(z)), (x,), (x,))


PROGRAMS = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("p_")}

WEAK, STRONG = 1.0, np.float32(0.7)
INPUTS = {"vmap_grad_cond": np.arange(3.0, dtype=np.float32) - 1.0}
INPUTS["vmap_grad_jit"] = INPUTS["vmap_grad_cond"]
INPUTS["grad_vmap_scan"] = np.arange(2.0, dtype=np.float32)
INPUTS["vmap_cond_weak_vs_strong"] = np.arange(3.0, dtype=np.float32) - 1.0
INPUTS["grad_cond_array_residuals"] = np.array([0.5, -0.25, 1.5], np.float32)
INPUTS["grad_max_min_ties"] = np.array([0.0, -1.0, 2.0], np.float32)
INPUTS["jvp_reduce_max_of_max"] = np.array([1.0, 3.0, 3.0], np.float32)

# case -> why the engine's text still differs from JAX's
XFAIL: dict[str, str] = {
    **{
        f"grad_checkpoint_cond-{k}": (
            "remat partial eval of cond (JAX's _cond_partial_eval_custom): JAX's known cond "
            "outside the remat returns the primal alone and the recomputing cond inside it the "
            "residuals alone; the engine's returns both in both places"
        )
        for k in ("weak", "strong")
    },
}

CASES = [
    pytest.param(name, arg, id=f"{name}-{kind}", marks=_m)
    for name in PROGRAMS
    for kind, arg in (
        [("array", INPUTS[name])] if name in INPUTS else [("weak", WEAK), ("strong", STRONG)]
    )
    for _m in [
        [pytest.mark.xfail(strict=True, reason=XFAIL[f"{name}-{kind}"])]
        if f"{name}-{kind}" in XFAIL
        else []
    ]
]


@pytest.mark.parametrize("name,arg", CASES)
def test_transformed_jaxpr_is_jaxs(name, arg):
    build = PROGRAMS[name]
    ours, theirs = jaxpr_text(build(_api(engine, ejnp)), build(_api(jax, jnp)), arg)
    assert ours == theirs


# case -> why the engine's result differs from JAX's (weak type only; values equal)
VALUE_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize(
    "name,arg",
    [
        pytest.param(
            *c.values,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=VALUE_XFAIL[c.id])]
            if c.id in VALUE_XFAIL
            else [],
        )
        for c in CASES
    ],
)
def test_transformed_values_are_jaxs(name, arg):
    build = PROGRAMS[name]
    ours = build(_api(engine, ejnp))(arg)
    theirs = build(_api(jax, jnp))(arg)
    ours_leaves, ours_tree = engine.tree_util.tree_flatten(ours)
    their_leaves, their_tree = jax.tree_util.tree_flatten(theirs)
    assert len(ours_leaves) == len(their_leaves) > 0
    for x, y in zip(ours_leaves, their_leaves):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        assert x.weak_type == y.weak_type
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-6)
