"""Differential tests of the engine's transformations against real JAX: jvp, linearize,
vjp, grad, value_and_grad, jacobians, hessian, vmap, their compositions in many orders,
structured control flow under each, errors, and jaxpr text.

Each program is written once against a module namespace ``m`` (``m.jax``, ``m.lax``,
``m.np``) and run with the engine (``E``) and with JAX (``J``) on the same inputs."""

from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, rand, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()
E = NS(jax=engine, lax=engine.lax, np=enp, name="engine")
J = NS(jax=jax, lax=jax.lax, np=jnp, name="jax")


# ---------------------------------------------------------------------------- helpers

X3 = np.array([0.5, -1.0, 2.0], np.float32)
W3 = np.array([0.5, -0.3, 0.9], np.float32)
XS43 = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def same(ours, theirs, rtol=1e-5, atol=1e-5):
    """Values, shapes, dtypes and weak types of two pytrees agree."""
    assert_close(ours, theirs, rtol=rtol, atol=atol)
    a = engine.tree_util.tree_leaves(ours)
    b = jax.tree_util.tree_leaves(theirs)
    assert engine.tree_util.tree_structure(ours).num_leaves == len(b)
    for x, y in zip(a, b):
        assert bool(getattr(x, "weak_type", False)) == bool(getattr(y, "weak_type", False)), (x, y)


def same_structure(ours, theirs):
    """Pytree structures agree (compared through their leaf paths and node types)."""
    ep = [engine.tree_util.keystr(p) for p, _ in engine.tree_util.tree_flatten_with_path(ours)[0]]
    jp = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(theirs)[0]]
    assert ep == jp


def mm(m, a, b):
    """Matrix (or vector) product via dot_general: contract a's last axis with b's first."""
    return m.lax.dot_general(a, b, (((a.ndim - 1,), (0,)), ((), ())))


def total(m, x):
    return m.lax.reduce_sum(x, tuple(range(x.ndim)))


def fd_grad(f, x, eps=1e-3):
    """Central finite differences of scalar ``f`` at float64 ``x``."""
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# ---------------------------------------------------------------------------- programs


def poly(m):
    return lambda x: total(m, x * x * x * 0.5 - 2.0 * x + 1.0)


def sincos(m):
    return lambda x: total(m, m.lax.sin(x) * m.lax.cos(x))


def softplus(m):
    return lambda x: total(m, m.lax.log(1.0 + m.lax.exp(x)))


def mlp(m):
    def f(w1, b1, w2, x):
        h = m.lax.tanh(mm(m, x, w1) + b1)
        y = mm(m, h, w2)
        return total(m, y * y)

    return f


def two_args(m):
    return lambda x, y: total(m, m.lax.sin(x) * y + x * x * y)


def mlp_args(seed=0):
    return (
        rand((3, 4), seed=seed),
        rand((4,), seed=seed + 1),
        rand((4, 2), seed=seed + 2),
        rand((5, 3), seed=seed + 3),
    )


PROGRAMS = {
    "poly": (poly, lambda: (rand((5,)),)),
    "sincos": (sincos, lambda: (rand((2, 3)),)),
    "softplus": (softplus, lambda: (rand((4,)),)),
    "mlp": (mlp, mlp_args),
    "two_args": (two_args, lambda: (rand((3,)), rand((3,), seed=1))),
}
PROG_IDS = sorted(PROGRAMS)


def _argnums(args):
    return tuple(range(len(args)))


# ---------------------------------------------------------------------------- first order


@pytest.mark.parametrize("name", PROG_IDS)
def test_grad_all_argnums(name):
    build, make = PROGRAMS[name]
    args = make()
    nums = _argnums(args)
    ours = engine.grad(build(E), argnums=nums)(*args)
    theirs = jax.grad(build(J), argnums=nums)(*args)
    same(ours, theirs, rtol=1e-4)
    assert isinstance(ours, tuple) and len(ours) == len(args)


@pytest.mark.parametrize("name", PROG_IDS)
def test_value_and_grad(name):
    build, make = PROGRAMS[name]
    args = make()
    ours = engine.value_and_grad(build(E))(*args)
    theirs = jax.value_and_grad(build(J))(*args)
    same(ours, theirs, rtol=1e-4)


@pytest.mark.parametrize("name", PROG_IDS)
def test_jvp(name):
    build, make = PROGRAMS[name]
    args = make()
    tans = tuple(rand(np.shape(a), seed=10 + i) for i, a in enumerate(args))
    ours = engine.jvp(build(E), args, tans)
    theirs = jax.jvp(build(J), args, tans)
    same(ours, theirs, rtol=1e-4)


@pytest.mark.parametrize("name", PROG_IDS)
def test_vjp(name):
    build, make = PROGRAMS[name]
    args = make()
    out_e, pull_e = engine.vjp(build(E), *args)
    out_j, pull_j = jax.vjp(build(J), *args)
    same(out_e, out_j, rtol=1e-4)
    ct = np.float32(1.5)
    same(pull_e(ct), pull_j(ct), rtol=1e-4)


@pytest.mark.parametrize("name", PROG_IDS)
def test_linearize(name):
    build, make = PROGRAMS[name]
    args = make()
    out_e, lin_e = engine.linearize(build(E), *args)
    out_j, lin_j = jax.linearize(build(J), *args)
    same(out_e, out_j, rtol=1e-4)
    for seed in (3, 4):
        tans = tuple(rand(np.shape(a), seed=seed + i) for i, a in enumerate(args))
        same(lin_e(*tans), lin_j(*tans), rtol=1e-4)


@pytest.mark.parametrize("name", ["poly", "sincos", "softplus"])
def test_grad_matches_finite_differences(name):
    build, make = PROGRAMS[name]
    (x,) = make()
    g = np.asarray(engine.grad(build(E))(x.astype(np.float32)), np.float64)
    with engine.enable_x64():
        f64 = lambda v: float(build(E)(v))  # noqa: E731
        fd = fd_grad(f64, x)
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=2e-3)


def test_vector_valued_vjp_and_jvp():
    def f(m):
        return lambda x, y: (m.lax.sin(x) * y, mm(m, x, y))

    x, y = rand((3,)), rand((3,), seed=1)
    out_e, pull_e = engine.vjp(f(E), x, y)
    out_j, pull_j = jax.vjp(f(J), x, y)
    same(out_e, out_j)
    ct = (rand((3,), seed=2), np.float32(2.0))
    same(pull_e(ct), pull_j(ct), rtol=1e-4)
    tx, ty = rand((3,), seed=5), rand((3,), seed=6)
    same(engine.jvp(f(E), (x, y), (tx, ty)), jax.jvp(f(J), (x, y), (tx, ty)), rtol=1e-4)


def test_grad_has_aux_and_argnums_variants():
    def f(m):
        def g(x, y, z):
            v = total(m, m.lax.sin(x) * y) + total(m, z)
            return v, {"y2": y * 2.0, "n": m.lax.cos(x)}

        return g

    args = (rand((3,)), rand((3,), seed=1), rand((2,), seed=2))
    for argnums in (0, 1, (0,), (2, 0), (-1,), -2):
        ours = engine.grad(f(E), argnums=argnums, has_aux=True)(*args)
        theirs = jax.grad(f(J), argnums=argnums, has_aux=True)(*args)
        same(ours, theirs)
        same_structure(ours, theirs)
    ours = engine.value_and_grad(f(E), argnums=(0, 1), has_aux=True)(*args)
    theirs = jax.value_and_grad(f(J), argnums=(0, 1), has_aux=True)(*args)
    same(ours, theirs)
    same_structure(ours, theirs)


def test_grad_of_pytree_params_and_kwargs():
    def loss(m):
        def f(params, x, scale=1.0):
            h = m.lax.tanh(mm(m, x, params["w"]) + params["b"])
            return total(m, h * h) * scale + total(m, params["extra"][0] * params["extra"][1])

        return f

    params = {
        "w": rand((3, 2)),
        "b": rand((2,), seed=1),
        "extra": [rand((2,), seed=2), rand((2,), seed=3)],
    }
    x = rand((4, 3), seed=4)
    ours = engine.grad(loss(E))(params, x, scale=3.0)
    theirs = jax.grad(loss(J))(params, x, scale=3.0)
    same(ours, theirs, rtol=1e-4)
    same_structure(ours, theirs)


def test_jvp_has_aux_and_pytrees():
    def f(m):
        return lambda d: ({"s": m.lax.sin(d["a"]) * d["b"]}, d["a"] * 2.0)

    d = {"a": rand((3,)), "b": rand((3,), seed=1)}
    t = {"a": rand((3,), seed=2), "b": rand((3,), seed=3)}
    ours = engine.jvp(f(E), (d,), (t,), has_aux=True)
    theirs = jax.jvp(f(J), (d,), (t,), has_aux=True)
    same(ours, theirs)
    same_structure(ours, theirs)


def test_linearize_has_aux():
    f = lambda m: lambda x: (m.lax.sin(x) * x, m.lax.cos(x))  # noqa: E731
    x = rand((3,))
    out_e, lin_e, aux_e = engine.linearize(f(E), x, has_aux=True)
    out_j, lin_j, aux_j = jax.linearize(f(J), x, has_aux=True)
    same((out_e, aux_e), (out_j, aux_j))
    t = rand((3,), seed=2)
    same(lin_e(t), lin_j(t))


def test_vjp_has_aux():
    f = lambda m: lambda x: (m.lax.sin(x) * x, {"c": m.lax.cos(x)})  # noqa: E731
    x = rand((3,))
    out_e, pull_e, aux_e = engine.vjp(f(E), x, has_aux=True)
    out_j, pull_j, aux_j = jax.vjp(f(J), x, has_aux=True)
    same((out_e, aux_e), (out_j, aux_j))
    ct = rand((3,), seed=3)
    same(pull_e(ct), pull_j(ct))


def test_integer_inputs_get_float0_tangents_and_cotangents():
    def f(m):
        return lambda x, n: x * m.lax.convert_element_type(n, np.float32)

    x, n = rand((3,)), np.arange(3, dtype=np.int32)
    _, pull_e = engine.vjp(f(E), x, n)
    _, pull_j = jax.vjp(f(J), x, n)
    ct = rand((3,), seed=1)
    ge, gj = pull_e(ct), pull_j(ct)
    assert_close(ge[0], gj[0])
    assert np.asarray(ge[1]).dtype == np.asarray(gj[1]).dtype == jax.dtypes.float0
    assert np.shape(ge[1]) == np.shape(gj[1]) == (3,)
    g = engine.grad(lambda x, n: total(E, f(E)(x, n)), argnums=1, allow_int=True)(x, n)
    gj = jax.grad(lambda x, n: total(J, f(J)(x, n)), argnums=1, allow_int=True)(x, n)
    assert np.asarray(g).dtype == np.asarray(gj).dtype == jax.dtypes.float0
    assert np.shape(g) == np.shape(gj)


def test_vjp_and_jvp_of_weak_typed_python_scalar_input():
    for build in (lambda m: lambda x: x * x * 3.0, lambda m: lambda x: m.lax.sin(x) * x):
        same(engine.jvp(build(E), (2.0,), (1.0,)), jax.jvp(build(J), (2.0,), (1.0,)))
        same(engine.vjp(build(E), 2.0)[1](1.0), jax.vjp(build(J), 2.0)[1](1.0))


def test_grad_weak_typed_python_scalar_input():
    for build in (lambda m: lambda x: x * x * 3.0, lambda m: lambda x: m.lax.sin(x) * x):
        same(engine.grad(build(E))(2.0), jax.grad(build(J))(2.0))
        same(engine.value_and_grad(build(E))(2.0), jax.value_and_grad(build(J))(2.0))


def test_grad_of_identity_returns_an_array():
    g = engine.grad(lambda x: x)(np.float32(2.0))
    assert isinstance(g, engine.Array)
    assert float(g) == 1.0


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_grad_keeps_input_dtype(dtype):
    f = lambda m: lambda x: total(m, m.lax.sin(x) * x)  # noqa: E731
    x = rand((4,), dtype=dtype)
    same(engine.grad(f(E))(x), jax.grad(f(J))(x), rtol=1e-2, atol=1e-2)
    same(engine.value_and_grad(f(E))(x), jax.value_and_grad(f(J))(x), rtol=1e-2, atol=1e-2)


def test_grad_with_float64_under_x64():
    f = lambda m: lambda x: total(m, m.lax.exp(x) * x)  # noqa: E731
    x = rand((3,)).astype(np.float64)
    with engine.enable_x64():
        ours = engine.grad(f(E))(x)
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        theirs = jax.grad(f(J))(x)
    finally:
        jax.config.update("jax_enable_x64", prev)
    assert np.asarray(ours).dtype == np.float64
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-12)


def test_grad_of_constant_function_is_zero():
    f = lambda m: lambda x, y: total(m, y) * 2.0  # noqa: E731
    x, y = rand((3,)), rand((2,), seed=1)
    same(engine.grad(f(E))(x, y), jax.grad(f(J))(x, y))
    same(engine.grad(f(E), argnums=(0, 1))(x, y), jax.grad(f(J), argnums=(0, 1))(x, y))


def test_stop_gradient_blocks_derivatives():
    f = lambda m: lambda x: total(m, m.lax.stop_gradient(x * x) * x)  # noqa: E731
    x = rand((3,))
    same(engine.grad(f(E))(x), jax.grad(f(J))(x))
    same(engine.jvp(f(E), (x,), (x,)), jax.jvp(f(J), (x,), (x,)))


# ---------------------------------------------------------------------------- jacobians


def vec_fn(m):
    return lambda x: m.lax.sin(x) * mm(m, x, x) + x * 2.0


@pytest.mark.parametrize("which", ["jacfwd", "jacrev"])
def test_jacobians(which):
    x = rand((3,))
    same(getattr(engine, which)(vec_fn(E))(x), getattr(jax, which)(vec_fn(J))(x), rtol=1e-4)


@pytest.mark.parametrize("which", ["jacfwd", "jacrev"])
def test_jacobians_argnums_pytrees_and_aux(which):
    def f(m):
        def g(x, y):
            return {"a": m.lax.sin(x) * y[0], "b": mm(m, x, y[1])}, x * 3.0

        return g

    x, y = rand((3,)), (rand((3,), seed=1), rand((3, 2), seed=2))
    ours = getattr(engine, which)(f(E), argnums=(0, 1), has_aux=True)(x, y)
    theirs = getattr(jax, which)(f(J), argnums=(0, 1), has_aux=True)(x, y)
    same(ours, theirs, rtol=1e-4)
    same_structure(ours, theirs)


def test_jacobian_of_matrix_function():
    f = lambda m: lambda a: mm(m, m.lax.tanh(a), a)  # noqa: E731
    a = rand((2, 2))
    same(engine.jacfwd(f(E))(a), jax.jacfwd(f(J))(a), rtol=1e-4)
    same(engine.jacrev(f(E))(a), jax.jacrev(f(J))(a), rtol=1e-4)


def test_hessian_matches_jax_and_finite_differences():
    f = lambda m: lambda x: total(m, m.lax.sin(x) * x * x) + mm(m, x, x) * total(m, x)  # noqa
    x = rand((3,))
    ours = engine.hessian(f(E))(x)
    same(ours, jax.hessian(f(J))(x), rtol=1e-4)
    with engine.enable_x64():
        g = engine.grad(f(E))
        fd = np.stack([fd_grad(lambda v: float(g(v)[i]), x) for i in range(3)])
    np.testing.assert_allclose(np.asarray(ours), fd, rtol=2e-3, atol=2e-3)


def test_jacfwd_of_jacrev_equals_jacrev_of_jacfwd():
    x = rand((3,))
    ours_fr = engine.jacfwd(engine.jacrev(vec_fn(E)))(x)
    ours_rf = engine.jacrev(engine.jacfwd(vec_fn(E)))(x)
    theirs = jax.jacfwd(jax.jacrev(vec_fn(J)))(x)
    same(ours_fr, theirs, rtol=1e-4)
    same(ours_rf, theirs, rtol=1e-4)


# ---------------------------------------------------------------------------- second order


@pytest.mark.parametrize("name", ["poly", "sincos", "softplus"])
def test_grad_of_grad_vs_jax_and_fd(name):
    build, _ = PROGRAMS[name]
    offset = np.arange(3.0, dtype=np.float32)
    scalar = lambda m: lambda s: build(m)(s * np.ones(3, np.float32) + offset)  # noqa: E731
    x = np.float32(0.7)
    ours = engine.grad(engine.grad(scalar(E)))(x)
    same(ours, jax.grad(jax.grad(scalar(J)))(x), rtol=1e-4)
    with engine.enable_x64():
        g1 = engine.grad(lambda s: build(E)(s * np.ones(3) + np.arange(3.0)))
        fd = fd_grad(lambda v: float(g1(float(v))), np.float64(0.7))
    np.testing.assert_allclose(float(ours), float(fd), rtol=2e-3, atol=2e-3)


def test_third_order_scalar_derivative():
    f = lambda m: lambda x: m.lax.sin(x) * x * x  # noqa: E731
    ours = engine.grad(engine.grad(engine.grad(f(E))))(np.float32(0.3))
    theirs = jax.grad(jax.grad(jax.grad(f(J))))(np.float32(0.3))
    same(ours, theirs, rtol=1e-4)


def test_jvp_of_grad_is_hessian_vector_product():
    build = mlp
    args = mlp_args()
    g_e = lambda w1: engine.grad(build(E))(w1, *args[1:])  # noqa: E731
    g_j = lambda w1: jax.grad(build(J))(w1, *args[1:])  # noqa: E731
    v = rand((3, 4), seed=9)
    same(engine.jvp(g_e, (args[0],), (v,)), jax.jvp(g_j, (args[0],), (v,)), rtol=1e-4)


def test_grad_of_jvp():
    def f(m):
        def g(x):
            _, t = m.jax.jvp(lambda y: total(m, m.lax.sin(y) * y), (x,), (m.lax.cos(x),))
            return t

        return g

    x = rand((3,))
    same(engine.grad(f(E))(x), jax.grad(f(J))(x), rtol=1e-4)


def test_vjp_of_vjp():
    def f(m):
        def g(x, ct):
            _, pull = m.jax.vjp(lambda y: m.lax.sin(y) * y, x)
            return pull(ct)[0]

        return g

    x, ct = rand((3,)), rand((3,), seed=1)
    _, pe = engine.vjp(f(E), x, ct)
    _, pj = jax.vjp(f(J), x, ct)
    c2 = rand((3,), seed=2)
    same(pe(c2), pj(c2), rtol=1e-4)


def test_linearize_of_grad():
    f = lambda m: m.jax.grad(lambda x: total(m, m.lax.exp(x) * m.lax.sin(x)))  # noqa: E731
    x, t = rand((3,)), rand((3,), seed=1)
    oe, le = engine.linearize(f(E), x)
    oj, lj = jax.linearize(f(J), x)
    same(oe, oj, rtol=1e-4)
    same(le(t), lj(t), rtol=1e-4)


# ---------------------------------------------------------------------------- vmap


def vfn(m):
    return lambda x, y: m.lax.sin(x) * y + mm(m, x, x)


@pytest.mark.parametrize(
    "in_axes,shapes",
    [
        (0, [(4, 3), (4, 3)]),
        (1, [(3, 4), (3, 4)]),
        (-1, [(3, 4), (3, 4)]),
        ((0, None), [(4, 3), (3,)]),
        ((None, 1), [(3,), (3, 4)]),
        ((1, 0), [(3, 4), (4, 3)]),
        ([0, -1], [(4, 3), (3, 4)]),
    ],
)
def test_vmap_in_axes(in_axes, shapes):
    x, y = rand(shapes[0]), rand(shapes[1], seed=1)
    same(engine.vmap(vfn(E), in_axes=in_axes)(x, y), jax.vmap(vfn(J), in_axes=in_axes)(x, y))


@pytest.mark.parametrize("out_axes", [0, 1, -1, (1, None), (0, -1)])
def test_vmap_out_axes(out_axes):
    def f(m):
        return lambda x, c: (mm(m, x, c) * x, c * 2.0)

    x, c = rand((4, 3)), rand((3,), seed=1)
    if isinstance(out_axes, int):
        fe = engine.vmap(lambda x: f(E)(x, c)[0], out_axes=out_axes)
        fj = jax.vmap(lambda x: f(J)(x, c)[0], out_axes=out_axes)
    else:
        fe = engine.vmap(lambda x: f(E)(x, c), out_axes=out_axes)
        fj = jax.vmap(lambda x: f(J)(x, c), out_axes=out_axes)
    same(fe(x), fj(x))


def test_vmap_unbatched_output_is_broadcast():
    x, c = rand((4, 3)), rand((2,), seed=1)
    f = lambda m: lambda x: (m.lax.sin(x), c * 2.0)  # noqa: E731
    same(engine.vmap(f(E))(x), jax.vmap(f(J))(x))
    same(engine.vmap(f(E), out_axes=(0, 1))(x), jax.vmap(f(J), out_axes=(0, 1))(x))


def test_vmap_dict_and_tuple_pytrees():
    def f(m):
        def g(d, t):
            return {"out": m.lax.sin(d["a"]) * t[0], "s": total(m, d["b"]) + t[1]}

        return g

    d = {"a": rand((5, 3)), "b": rand((2, 5), seed=1)}
    t = (rand((3,), seed=2), rand((5,), seed=3))
    in_axes = ({"a": 0, "b": 1}, (None, 0))
    ours = engine.vmap(f(E), in_axes=in_axes)(d, t)
    theirs = jax.vmap(f(J), in_axes=in_axes)(d, t)
    same(ours, theirs)
    same_structure(ours, theirs)
    out_axes = {"out": 1, "s": 0}
    ours = engine.vmap(f(E), in_axes=in_axes, out_axes=out_axes)(d, t)
    theirs = jax.vmap(f(J), in_axes=in_axes, out_axes=out_axes)(d, t)
    same(ours, theirs)


def test_vmap_tuple_prefix_in_axes_over_nested_arg():
    f = lambda m: lambda p: m.lax.sin(p[0]) * p[1][0] + p[1][1]  # noqa: E731
    p = (rand((4, 3)), (rand((3,), seed=1), rand((3, 4), seed=2)))
    in_axes = ((0, (None, 1)),)
    same(engine.vmap(f(E), in_axes=in_axes)(p), jax.vmap(f(J), in_axes=in_axes)(p))


def test_vmap_kwargs_are_batched_on_axis_0():
    f = lambda m: lambda x, *, y: m.lax.sin(x) * y  # noqa: E731
    x, y = rand((4, 3)), rand((4, 3), seed=1)
    same(engine.vmap(f(E), in_axes=(None,))(x, y=y), jax.vmap(f(J), in_axes=(None,))(x, y=y))


def test_vmap_axis_size_with_all_unbatched_inputs():
    f = lambda m: lambda x: m.lax.sin(x) * 2.0  # noqa: E731
    x = rand((3,))
    same(
        engine.vmap(f(E), in_axes=None, axis_size=5)(x),
        jax.vmap(f(J), in_axes=None, axis_size=5)(x),
    )


def test_vmap_nested():
    f = lambda m: lambda a, b: m.lax.sin(a) * b  # noqa: E731
    a, b = rand((2, 3, 4)), rand((4, 3), seed=1)
    ours = engine.vmap(engine.vmap(f(E), in_axes=(1, 0)), in_axes=(0, None))(a, b)
    theirs = jax.vmap(jax.vmap(f(J), in_axes=(1, 0)), in_axes=(0, None))(a, b)
    same(ours, theirs)
    # outer product through two vmaps with the inner axis moved out
    g = lambda m: m.jax.vmap(
        m.jax.vmap(lambda u, v: u * v, (None, 0)),  # noqa: E731
        (0, None),
        out_axes=1,
    )
    u, v = rand((3,)), rand((4,), seed=2)
    same(g(E)(u, v), g(J)(u, v))


def test_vmap_matmul_batched_in_different_axes():
    f = lambda m: lambda a, b: mm(m, a, b)  # noqa: E731
    a, b = rand((2, 3, 5)), rand((3, 4, 5), seed=1)
    same(engine.vmap(f(E), in_axes=(2, 2))(a, b), jax.vmap(f(J), in_axes=(2, 2))(a, b), rtol=1e-4)
    bt = b.transpose(2, 0, 1).copy()
    same(
        engine.vmap(f(E), in_axes=(-1, 0), out_axes=-1)(a, bt),
        jax.vmap(f(J), in_axes=(-1, 0), out_axes=-1)(a, bt),
        rtol=1e-4,
    )


def test_vmap_weak_scalar_and_dtype():
    f = lambda m: lambda x: x * 2 + 1.5  # noqa: E731
    for x in (rand((3,)), np.arange(3, dtype=np.int32)):
        same(engine.vmap(f(E))(x), jax.vmap(f(J))(x))


def test_vmap_reductions_and_structural_ops():
    def f(m):
        def g(x):
            y = m.lax.reshape(x, (2, 3))
            z = m.lax.transpose(y, (1, 0))
            b = m.lax.broadcast_in_dim(total(m, z), (2,), ())
            return m.lax.reduce_sum(z, (0,)) + b

        return g

    x = rand((4, 6))
    same(engine.vmap(f(E))(x), jax.vmap(f(J))(x), rtol=1e-5)
    same(
        engine.vmap(f(E), in_axes=1, out_axes=1)(x.T.copy()),
        jax.vmap(f(J), in_axes=1, out_axes=1)(x.T.copy()),
    )


def test_vmap_select_n_with_batched_predicate():
    f = lambda m: lambda p, a, b: m.lax.select_n(p, a, b)  # noqa: E731
    p = np.array([[True, False, True], [False, False, True]])
    a, b = rand((2, 3)), rand((2, 3), seed=1)
    same(engine.vmap(f(E))(p, a, b), jax.vmap(f(J))(p, a, b))
    same(
        engine.vmap(f(E), in_axes=(0, None, 0))(p, a[0], b),
        jax.vmap(f(J), in_axes=(0, None, 0))(p, a[0], b),
    )


# ---------------------------------------------------------------------------- compositions


def per_example_loss(m):
    def f(w, x):
        return total(m, m.lax.tanh(mm(m, x, w)) * m.lax.tanh(mm(m, x, w)))

    return f


def test_vmap_of_grad_per_example_gradients():
    w, xs = rand((3, 2)), rand((5, 3), seed=1)
    ours = engine.vmap(engine.grad(per_example_loss(E)), in_axes=(None, 0))(w, xs)
    theirs = jax.vmap(jax.grad(per_example_loss(J)), in_axes=(None, 0))(w, xs)
    same(ours, theirs, rtol=1e-4)
    ours = engine.vmap(engine.grad(per_example_loss(E), argnums=1), in_axes=(None, 0))(w, xs)
    theirs = jax.vmap(jax.grad(per_example_loss(J), argnums=1), in_axes=(None, 0))(w, xs)
    same(ours, theirs, rtol=1e-4)


def test_grad_of_vmap_then_sum():
    w, xs = rand((3, 2)), rand((5, 3), seed=1)

    def f(m):
        return lambda w: total(m, m.jax.vmap(per_example_loss(m), in_axes=(None, 0))(w, xs))

    same(engine.grad(f(E))(w), jax.grad(f(J))(w), rtol=1e-4)


def test_grad_of_jit_and_jit_of_grad():
    args = mlp_args()
    same(engine.grad(engine.jit(mlp(E)))(*args), jax.grad(jax.jit(mlp(J)))(*args), rtol=1e-4)
    same(
        engine.jit(engine.grad(mlp(E), argnums=(0, 2)))(*args),
        jax.jit(jax.grad(mlp(J), argnums=(0, 2)))(*args),
        rtol=1e-4,
    )


def test_jit_of_vmap_of_grad():
    w, xs = rand((3, 2)), rand((5, 3), seed=1)
    ours = engine.jit(engine.vmap(engine.grad(per_example_loss(E)), in_axes=(None, 0)))(w, xs)
    theirs = jax.jit(jax.vmap(jax.grad(per_example_loss(J)), in_axes=(None, 0)))(w, xs)
    same(ours, theirs, rtol=1e-4)


def test_grad_of_function_with_inner_jit_closing_over_outer_tracer():
    def f(m):
        def loss(x):
            scale = m.lax.sin(x)  # a tracer of the outer grad
            inner = m.jax.jit(lambda y: y * scale * y)
            return total(m, inner(x * 2.0))

        return loss

    x = rand((3,))
    same(engine.grad(f(E))(x), jax.grad(f(J))(x), rtol=1e-4)
    same(
        engine.grad(engine.grad(lambda s: f(E)(s * np.ones(3, np.float32))))(0.4),
        jax.grad(jax.grad(lambda s: f(J)(s * np.ones(3, np.float32))))(0.4),
        rtol=1e-4,
    )


def test_jit_inside_vmap_inside_grad():
    def f(m):
        inner = m.jax.jit(lambda w, x: m.lax.tanh(mm(m, x, w)))

        def loss(w, xs):
            return total(m, m.jax.vmap(inner, in_axes=(None, 0))(w, xs))

        return loss

    w, xs = rand((3, 2)), rand((4, 3), seed=1)
    same(engine.grad(f(E))(w, xs), jax.grad(f(J))(w, xs), rtol=1e-4)
    same(engine.grad(f(E), argnums=(0, 1))(w, xs), jax.grad(f(J), argnums=(0, 1))(w, xs), rtol=1e-4)


def test_vmap_inside_jit_inside_grad_closing_over_tracer():
    def f(m):
        def loss(w):
            @m.jax.jit
            def batch(xs):
                return m.jax.vmap(lambda x: m.lax.sin(x * w))(xs)

            return total(m, batch(np.arange(6.0, dtype=np.float32).reshape(3, 2)))

        return loss

    w = rand((2,))
    same(engine.grad(f(E))(w), jax.grad(f(J))(w), rtol=1e-4)


def test_vmap_of_jvp():
    f = lambda m: lambda x: m.lax.sin(x) * x  # noqa: E731
    x, t = rand((4, 3)), rand((4, 3), seed=1)

    def push(m):
        return lambda x, t: m.jax.jvp(f(m), (x,), (t,))

    same(engine.vmap(push(E))(x, t), jax.vmap(push(J))(x, t))
    same(
        engine.vmap(push(E), in_axes=(None, 0))(x[0], t),
        jax.vmap(push(J), in_axes=(None, 0))(x[0], t),
    )


def test_jvp_of_vmap():
    f = lambda m: m.jax.vmap(lambda x, y: m.lax.sin(x) * mm(m, x, y), in_axes=(0, None))  # noqa
    x, y = rand((4, 3)), rand((3,), seed=1)
    tx, ty = rand((4, 3), seed=2), rand((3,), seed=3)
    same(engine.jvp(f(E), (x, y), (tx, ty)), jax.jvp(f(J), (x, y), (tx, ty)), rtol=1e-4)


def test_linearize_then_vmap_the_linear_function():
    f = lambda m: lambda x: m.lax.sin(x) * m.lax.exp(x)  # noqa: E731
    x = rand((3,))
    _, lin_e = engine.linearize(f(E), x)
    _, lin_j = jax.linearize(f(J), x)
    ts = rand((5, 3), seed=1)
    same(engine.vmap(lin_e)(ts), jax.vmap(lin_j)(ts))
    same(engine.jit(lin_e)(ts[0]), jax.jit(lin_j)(ts[0]))


def test_vmap_of_vjp_pullback():
    f = lambda m: lambda x: m.lax.sin(x) * x  # noqa: E731
    x = rand((3,))
    _, pe = engine.vjp(f(E), x)
    _, pj = jax.vjp(f(J), x)
    cts = rand((4, 3), seed=1)
    same(engine.vmap(pe)(cts), jax.vmap(pj)(cts))


def test_grad_of_vmap_of_grad():
    def f(m):
        def g(w, xs):
            per = m.jax.vmap(m.jax.grad(per_example_loss(m)), in_axes=(None, 0))(w, xs)
            return total(m, per * per)

        return g

    w, xs = rand((3, 2)), rand((4, 3), seed=1)
    same(engine.grad(f(E))(w, xs), jax.grad(f(J))(w, xs), rtol=1e-4)


def test_vmap_of_hessian_via_jacfwd_jacrev():
    f = lambda m: lambda x: total(m, m.lax.sin(x) * x * x)  # noqa: E731
    xs = rand((2, 3))
    same(
        engine.vmap(engine.jacfwd(engine.jacrev(f(E))))(xs),
        jax.vmap(jax.jacfwd(jax.jacrev(f(J))))(xs),
        rtol=1e-4,
    )


def test_vmap_of_value_and_grad_with_aux():
    def f(m):
        return lambda w, x: (total(m, m.lax.sin(w * x)), x * 2.0)

    w, xs = rand((3,)), rand((4, 3), seed=1)
    ours = engine.vmap(engine.value_and_grad(f(E), has_aux=True), in_axes=(None, 0))(w, xs)
    theirs = jax.vmap(jax.value_and_grad(f(J), has_aux=True), in_axes=(None, 0))(w, xs)
    same(ours, theirs, rtol=1e-4)


def test_nested_closures_over_several_levels():
    def f(m):
        def outer(a):
            def mid(b):
                inner = m.jax.jit(lambda c: m.lax.sin(a * b * c))
                return total(m, inner(b))

            return m.jax.grad(mid)(a * 2.0)

        return outer

    x = np.float32(0.3)
    same(f(E)(x), f(J)(x), rtol=1e-4)
    same(engine.grad(f(E))(x), jax.grad(f(J))(x), rtol=1e-4)
    same(engine.vmap(f(E))(rand((3,))), jax.vmap(f(J))(rand((3,))), rtol=1e-4)


def test_perturbation_confusion_is_avoided():
    # d/dx [x * d/dy (x + y)] at y = 1 == 1 (the classic nested-derivative test)
    def f(m):
        def g(x):
            return x * m.jax.grad(lambda y: x + y)(1.0)

        return g

    same(engine.grad(f(E))(np.float32(2.0)), jax.grad(f(J))(np.float32(2.0)))
    x, t = np.float32(2.0), np.float32(1.0)
    same(engine.jvp(f(E), (x,), (t,)), jax.jvp(f(J), (x,), (t,)))
    same(
        engine.grad(engine.grad(lambda x: x * f(E)(x)))(np.float32(2.0)),
        jax.grad(jax.grad(lambda x: x * f(J)(x)))(np.float32(2.0)),
    )


def test_ad_of_jit_with_integer_output():
    def f(m):
        return m.jax.jit(lambda a: (m.lax.sin(a) * 2.0, m.lax.convert_element_type(a, np.int32)))

    x, t = rand((3,)), rand((3,), seed=1)
    g = lambda m: m.jax.grad(lambda a: total(m, f(m)(a)[0]))  # noqa: E731
    same(g(E)(x), g(J)(x))
    pe, te = engine.jvp(f(E), (x,), (t,))
    pj, tj = jax.jvp(f(J), (x,), (t,))
    same(pe, pj)
    same(te[0], tj[0])
    assert np.asarray(te[1]).dtype == jax.dtypes.float0


def test_reinterpreted_jaxpr_keeps_weak_literals():
    f = lambda m: m.jax.jit(lambda x: x * 2.0)  # noqa: E731
    same(engine.jvp(f(E), (1.0,), (1.0,)), jax.jvp(f(J), (1.0,), (1.0,)))
    # the lost weak type changes the dtype of what follows
    ours = engine.jvp(f(E), (1.0,), (1.0,))[0] + np.float16(1)
    theirs = jax.jvp(f(J), (1.0,), (1.0,))[0] + np.float16(1)
    same(ours, theirs)
    g = lambda m: m.jax.vmap(m.jax.jit(lambda x, y: (x + 1, y)), in_axes=(None, 0))  # noqa: E731
    same(g(E)(2, X3), g(J)(2, X3))
    w = lambda m: m.jax.vmap(
        lambda w: m.lax.while_loop(  # noqa: E731
            lambda c: m.lax.lt(c[0], 3),
            lambda c: (m.lax.add(c[0], 1), c[1] * w),
            (0, np.float32(1)),
        )
    )
    same(w(E)(X3), w(J)(X3))


def test_jacobians_of_integer_outputs():
    f = lambda m: lambda a: m.lax.convert_element_type(a * 3.0, np.int32)  # noqa: E731
    same(engine.jacfwd(f(E))(X3), jax.jacfwd(f(J))(X3))
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs"):
        engine.jacrev(f(E))(X3)
    with pytest.raises(TypeError, match="jacrev requires real-valued outputs"):
        jax.jacrev(f(J))(X3)


def test_jacobians_of_python_scalar_keep_weak_type():
    f = lambda m: lambda s: s * s * 3.0  # noqa: E731
    same(engine.jacfwd(f(E))(2.0), jax.jacfwd(f(J))(2.0))
    same(engine.jacrev(f(E))(2.0), jax.jacrev(f(J))(2.0))


def test_jvp_tangent_follows_weak_primal():
    f = lambda m: lambda a: a * 2.0  # noqa: E731
    same(engine.jvp(f(E), (1.0,), (np.float32(1),)), jax.jvp(f(J), (1.0,), (np.float32(1),)))


_xs23 = np.arange(6, dtype=np.float32).reshape(2, 3) / 5

# More compositions, each ``case(m) -> pytree`` run with the engine and with JAX.
COMPOSITIONS = {
    "vmap_closure_over_outer_vmap": lambda m: m.jax.vmap(lambda a: m.jax.vmap(lambda b: a * b)(X3))(
        _xs23
    ),
    "vmap_of_grad_closure": lambda m: m.jax.vmap(
        lambda w: m.jax.grad(lambda y: total(m, m.lax.sin(y * w)))(X3)
    )(_xs23),
    "grad_vmap_scan_closure": lambda m: m.jax.grad(
        lambda w: total(
            m,
            m.jax.vmap(lambda r: m.lax.scan(lambda c, x: (c * w + x, None), np.float32(0), r)[0])(
                _xs23
            ),
        )
    )(np.float32(0.3)),
    "grad_jit_forwarded_output": lambda m: m.jax.grad(
        lambda a: total(m, m.jax.jit(lambda a: (a, a * 2.0))(a)[0])
    )(X3),
    "grad_jit_literal_output": lambda m: m.jax.grad(
        lambda a: m.jax.jit(lambda a: (total(m, a), 2.0))(a)[0]
    )(X3),
    "grad_jit_unused_output": lambda m: m.jax.grad(
        lambda a: total(m, m.jax.jit(lambda a, b: (a * b, m.lax.sin(b)))(a, X3)[1])
    )(X3),
    "grad_jit_int_input": lambda m: m.jax.grad(
        lambda a, n: total(
            m, m.jax.jit(lambda a, n: a * m.lax.convert_element_type(n, np.float32))(a, n)
        )
    )(X3, np.int32(3)),
    "vmap_jit_unbatched_output": lambda m: m.jax.vmap(
        m.jax.jit(lambda a: (a * 2.0, np.float32(1)))
    )(_xs23),
    "vmap_jit_mixed_axes": lambda m: m.jax.vmap(m.jax.jit(lambda a, b: a * b), in_axes=(1, None))(
        _xs23.T, X3
    ),
    "vmap_vmap_jit": lambda m: m.jax.vmap(m.jax.vmap(m.jax.jit(lambda b: m.lax.sin(b) * b)))(_xs23),
    "jvp_jvp_jit": lambda m: m.jax.jvp(
        lambda a: m.jax.jvp(m.jax.jit(lambda b: m.lax.sin(b) * b), (a,), (a,))[1], (X3,), (W3,)
    ),
    "grad_grad_jit": lambda m: m.jax.grad(m.jax.grad(m.jax.jit(lambda a: m.lax.sin(a) * a * a)))(
        np.float32(0.3)
    ),
    "grad_jit_vmap_grad_jit": lambda m: m.jax.grad(
        m.jax.jit(
            lambda w: total(
                m,
                m.jax.vmap(
                    m.jax.grad(m.jax.jit(lambda w, a: total(m, m.lax.tanh(w * a)))),
                    in_axes=(None, 0),
                )(w, _xs23),
            )
        )
    )(X3),
    "vmap_jvp_of_jit": lambda m: m.jax.vmap(
        lambda a, t: m.jax.jvp(m.jax.jit(lambda b: m.lax.sin(b) * b), (a,), (t,))
    )(_xs23, _xs23),
    "vjp_pullback_called_twice": lambda m: (lambda p: (p(X3), p(X3 * 2.0)))(
        m.jax.vjp(m.jax.jit(lambda a: m.lax.sin(a) * a), X3)[1]
    ),
    "grad_grad_closure_jit": lambda m: m.jax.grad(
        lambda a: m.jax.grad(lambda b: total(m, m.jax.jit(lambda c: c * a * b)(b)))(a)[0]
    )(X3),
    "grad_cond_in_scan": lambda m: m.jax.grad(
        lambda x: m.lax.scan(
            lambda c, xi: (
                m.lax.cond(m.lax.gt(xi, 0.2), lambda c: c * xi, lambda c: m.lax.sin(c) + xi, c),
                c,
            ),
            np.float32(1),
            x,
        )[0]
    )(X3),
    "grad_scan_in_cond": lambda m: m.jax.grad(
        lambda x: total(
            m,
            m.lax.cond(
                True,
                lambda x: m.lax.scan(lambda c, xi: (c * xi, c), np.float32(1), x)[1],
                lambda x: x,
                x,
            ),
        )
    )(X3),
    "jit_vmap_while": lambda m: m.jax.jit(
        m.jax.vmap(
            lambda a: m.lax.while_loop(
                lambda c: m.lax.lt(total(m, c), 10.0), lambda c: c * 2.0 + 0.1, a
            )
        )
    )(_xs23),
    "vmap_jvp_cond_batched_pred": lambda m: m.jax.vmap(
        lambda p, a: m.jax.jvp(lambda a: m.lax.cond(p, m.lax.sin, m.lax.cos, a), (a,), (a,))
    )(np.array([True, False]), _xs23),
    "jit_vmap_grad_cond_no_operands": lambda m: m.jax.jit(
        m.jax.vmap(
            m.jax.grad(lambda w: m.lax.cond(m.lax.gt(w, 0.0), lambda: w * w, lambda: m.lax.sin(w)))
        )
    )(X3),
    "vmap_traced_fori_bounds_jvp": lambda m: m.jax.vmap(
        lambda n, a: m.jax.jvp(lambda a: m.lax.fori_loop(0, n, lambda i, c: c * a, a), (a,), (a,))
    )(np.array([1, 2, 3], np.int32), X3),
    "hessian_fori": lambda m: m.jax.hessian(
        lambda a: total(m, m.lax.fori_loop(0, 3, lambda i, c: m.lax.sin(c) * a, a))
    )(X3),
    "jacfwd_jacrev_scan": lambda m: m.jax.jacfwd(
        m.jax.jacrev(
            lambda a: m.lax.scan(lambda c, xi: (c * xi + m.lax.sin(c), None), np.float32(0.5), a)[0]
        )
    )(X3),
    "jacfwd_while": lambda m: m.jax.jacfwd(
        lambda a: m.lax.while_loop(
            lambda c: m.lax.lt(c[0], 3), lambda c: (c[0] + 1, m.lax.sin(c[1]) * a), (0, a)
        )[1]
    )(X3),
    "grad_jit_in_cond_branch": lambda m: m.jax.grad(
        lambda a: total(
            m,
            m.lax.cond(
                m.lax.gt(total(m, a), 0.0), m.jax.jit(lambda b: m.lax.sin(b) * a), lambda b: b, a
            ),
        )
    )(X3),
    "grad_scan_jit_body": lambda m: m.jax.grad(
        lambda w: m.lax.scan(
            m.jax.jit(lambda c, xi: (m.lax.sin(c * w) + xi, None)), np.float32(0.1), X3
        )[0]
    )(np.float32(0.7)),
    "grad_scan_unroll": lambda m: m.jax.grad(
        lambda a: m.lax.scan(lambda c, xi: (c * xi + 1.0, c), np.float32(1), a, unroll=2)[0]
    )(X3),
    "vmap_linearized_scan": lambda m: m.jax.vmap(
        m.jax.linearize(
            lambda a: m.lax.scan(lambda c, xi: (c * xi, m.lax.sin(c)), np.float32(1), a)[1], X3
        )[1]
    )(XS43),
    "hessian_two_args": lambda m: m.jax.hessian(
        lambda a, b: total(m, m.lax.sin(a) * b * a), argnums=(0, 1)
    )(X3, W3),
    "vmap_inner_axis_1_of_outer_batched": lambda m: m.jax.vmap(
        lambda a: m.jax.vmap(lambda r: m.lax.sin(r) * 2.0, in_axes=1, out_axes=1)(a)
    )(XS43.reshape(2, 2, 3)),
    "vmap_out_axes_pytree_with_none": lambda m: m.jax.vmap(
        lambda a: {"a": a, "n": None, "t": (a * 2.0,)}, out_axes={"a": 1, "n": None, "t": (0,)}
    )(_xs23),
    "grad_of_vmap_dot_general": lambda m: m.jax.grad(
        lambda w: total(m, m.jax.vmap(lambda a: mm(m, a, w), in_axes=2)(XS43.reshape(2, 3, 2)))
    )(np.ones((3, 5), np.float32)),
    "vmap_hessian_integer_pow": lambda m: m.jax.vmap(
        m.jax.hessian(lambda a: total(m, m.lax.integer_pow(a, 3)))
    )(_xs23),
    "grad_of_jacrev": lambda m: m.jax.grad(
        lambda a: total(m, m.jax.jacrev(lambda b: m.lax.sin(b) * a)(a))
    )(X3),
}


@pytest.mark.parametrize("name", sorted(COMPOSITIONS))
def test_composition_table(name):
    case = COMPOSITIONS[name]
    ours, theirs = case(E), case(J)
    same(ours, theirs, rtol=1e-4)
    same_structure(ours, theirs)


# ---------------------------------------------------------------------------- errors


def _exc(fn):
    with pytest.raises(Exception) as e:
        fn()
    return type(e.value)


def test_error_types_match_jax():
    cases = [
        # vmap with inconsistent sizes
        lambda m: m.jax.vmap(lambda a, b: a * b)(
            np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)
        ),
        # vmap in_axes out of range
        lambda m: m.jax.vmap(lambda a: a, in_axes=2)(np.ones((2, 3), np.float32)),
        lambda m: m.jax.vmap(lambda a: a, in_axes=-3)(np.ones((2, 3), np.float32)),
        # vmap of a scalar
        lambda m: m.jax.vmap(lambda a: a)(np.float32(1.0)),
        # vmap in_axes tuple length mismatch
        lambda m: m.jax.vmap(lambda a, b: a, in_axes=(0,))(np.ones(2), np.ones(2)),
        # vmap: all in_axes None without axis_size
        lambda m: m.jax.vmap(lambda a: a, in_axes=None)(np.ones(2)),
        # grad of non-scalar output
        lambda m: m.jax.grad(lambda x: x * 2.0)(np.ones(3, np.float32)),
        # grad of integer input
        lambda m: m.jax.grad(lambda x: x * 2)(np.int32(3)),
        # jvp tree mismatch, shape mismatch, non-tuple primals
        lambda m: m.jax.jvp(
            lambda a, b: a * b,
            (np.ones(2, np.float32), np.ones(2, np.float32)),
            (np.ones(2, np.float32),),
        ),
        lambda m: m.jax.jvp(lambda a: a, (np.ones(2, np.float32),), (np.ones(3, np.float32),)),
        lambda m: m.jax.jvp(lambda a: a, np.ones(2, np.float32), np.ones(2, np.float32)),
        # vjp cotangent shape / tree mismatch
        lambda m: m.jax.vjp(lambda a: a * 2.0, np.ones(3, np.float32))[1](np.ones(4, np.float32)),
        lambda m: m.jax.vjp(lambda a: (a, a), np.ones(3, np.float32))[1](np.ones(3, np.float32)),
        # grad with argnums out of range
        lambda m: m.jax.grad(lambda a: a, argnums=2)(1.0),
        # out_axes None on a batched output
        lambda m: m.jax.vmap(lambda a: a, out_axes=None)(np.ones(2, np.float32)),
    ]
    for i, case in enumerate(cases):
        assert _exc(lambda: case(E)) is _exc(lambda: case(J)), i


def test_linear_function_argument_checks():
    cases = [
        lambda m: m.jax.linearize(lambda a: m.lax.sin(a) * a, X3)[1](XS43),
        lambda m: m.jax.vjp(lambda a: a * 2.0, X3)[1](X3.astype(np.float16)),
    ]
    for i, case in enumerate(cases):
        assert _exc(lambda: case(E)) is _exc(lambda: case(J)), i


def test_grad_rejects_duplicate_and_empty_argnums():
    f = lambda m: lambda a, b: total(m, a * b)  # noqa: E731
    with pytest.raises(Exception):
        engine.grad(f(E), argnums=(0, 0))(X3, X3)
    with pytest.raises(ValueError):
        engine.grad(f(E), argnums=())(X3, X3)


@pytest.mark.parametrize("kind", ["grad", "vmap", "jvp"])
def test_leaked_tracer_is_an_unexpected_tracer_error(kind):
    errs = []
    for m in (E, J):
        saved = []

        def f(a):
            saved.append(a)
            return total(m, a * 2.0)

        if kind == "grad":
            m.jax.grad(f)(X3)
        elif kind == "vmap":
            m.jax.vmap(f)(XS43)
        else:
            m.jax.jvp(f, (X3,), (X3,))
        errs.append(_exc(lambda: m.lax.sin(saved[0])))
    assert errs[0].__name__ == errs[1].__name__ == "UnexpectedTracerError"


def test_vmap_inconsistent_sizes_message():
    with pytest.raises(ValueError, match="inconsistent sizes"):
        engine.vmap(lambda a, b: a * b)(np.ones((2, 3), np.float32), np.ones((3, 3), np.float32))


def test_grad_non_scalar_message():
    with pytest.raises(TypeError, match="scalar"):
        engine.grad(lambda x: x * 2.0)(np.ones(3, np.float32))


# ---------------------------------------------------------------------------- control flow


def cond_fn(m):
    return lambda p, x: m.lax.cond(p, lambda a: m.lax.sin(a) * a, lambda a: m.lax.cos(a) * 2.0, x)


def cond_closure(m):
    """A cond whose predicate and branches close over the outer (traced) argument."""

    def f(w):
        out = m.lax.cond(
            m.lax.gt(total(m, w), 0.0), lambda a: a * w * w, lambda a: m.lax.sin(w) + a, X3
        )
        return total(m, out)

    return f


@pytest.mark.parametrize("pred", [True, False])
def test_cond_value_jvp_grad(pred):
    p = np.bool_(pred)
    same(cond_fn(E)(p, X3), cond_fn(J)(p, X3))
    same(
        engine.jvp(lambda x: cond_fn(E)(p, x), (X3,), (W3,)),
        jax.jvp(lambda x: cond_fn(J)(p, x), (X3,), (W3,)),
    )
    g = lambda m: m.jax.grad(lambda x: total(m, cond_fn(m)(p, x)))  # noqa: E731
    same(g(E)(X3), g(J)(X3))
    same(
        engine.grad(lambda s: total(E, g(E)(X3 * s)))(np.float32(0.7)),
        jax.grad(lambda s: total(J, g(J)(X3 * s)))(np.float32(0.7)),
        rtol=1e-4,
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_closing_over_outer_tracer(sign):
    w = W3 * sign + sign
    same(cond_closure(E)(w), cond_closure(J)(w))
    same(engine.grad(cond_closure(E))(w), jax.grad(cond_closure(J))(w))
    same(engine.jit(engine.grad(cond_closure(E)))(w), jax.jit(jax.grad(cond_closure(J)))(w))
    same(engine.jvp(cond_closure(E), (w,), (W3,)), jax.jvp(cond_closure(J), (w,), (W3,)))


def test_cond_vmap_batched_and_unbatched_predicate():
    ps = np.array([True, False, True])
    xs = np.stack([X3, X3, -X3])
    same(engine.vmap(cond_fn(E))(ps, xs), jax.vmap(cond_fn(J))(ps, xs))
    same(
        engine.vmap(cond_fn(E), in_axes=(0, None))(ps, X3),
        jax.vmap(cond_fn(J), in_axes=(0, None))(ps, X3),
    )
    same(
        engine.vmap(cond_fn(E), in_axes=(None, 0))(np.bool_(False), xs),
        jax.vmap(cond_fn(J), in_axes=(None, 0))(np.bool_(False), xs),
    )
    ws = np.stack([W3 + 1, -W3 - 1])
    same(engine.vmap(cond_closure(E))(ws), jax.vmap(cond_closure(J))(ws))
    same(engine.vmap(engine.grad(cond_closure(E)))(ws), jax.vmap(jax.grad(cond_closure(J)))(ws))


def test_grad_of_vmapped_cond_with_batched_predicate():
    ps = np.array([True, False, True])
    f = lambda m: lambda x: total(m, m.jax.vmap(cond_fn(m), in_axes=(0, None))(ps, x))  # noqa
    same(engine.grad(f(E))(X3), jax.grad(f(J))(X3))
    g = lambda m: m.jax.vmap(m.jax.grad(lambda p, x: total(m, cond_fn(m)(p, x)), argnums=1))  # noqa
    same(g(E)(ps, np.stack([X3, X3, -X3])), g(J)(ps, np.stack([X3, X3, -X3])))


def test_cond_pytree_operands_and_outputs():
    def f(m):
        def g(p, d):
            return m.lax.cond(
                p,
                lambda d: {"u": d["a"] * 2.0, "v": (d["b"], m.lax.sin(d["a"]))},
                lambda d: {"u": d["a"], "v": (d["b"] * 3.0, d["a"])},
                d,
            )

        return g

    d = {"a": X3, "b": np.float32(1.5)}
    for p in (True, False):
        ours, theirs = f(E)(np.bool_(p), d), f(J)(np.bool_(p), d)
        same(ours, theirs)
        same_structure(ours, theirs)

    def loss(m):
        return lambda d: (
            total(m, f(m)(np.bool_(True), d)["v"][1]) + f(m)(np.bool_(False), d)["v"][0]
        )

    gd = lambda m: m.jax.grad(loss(m))  # noqa: E731
    same(gd(E)(d), gd(J)(d))


def test_cond_integer_predicate_and_weak_outputs():
    f = lambda m: lambda n: m.lax.cond(n, lambda: 1.0, lambda: 2.0)  # noqa: E731
    for n in (np.int32(0), np.int32(3)):
        same(f(E)(n), f(J)(n))
    g = lambda m: lambda p, x: m.lax.cond(p, lambda x: x * 2, lambda x: x + 1, x)  # noqa: E731
    same(g(E)(np.bool_(True), 3), g(J)(np.bool_(True), 3))


SWITCH_IMPORT_BUG = "lax.switch imports clamp from lax.misc; it lives in lax.logic"


def switch_fn(m):
    return lambda i, x: m.lax.switch(
        i, [lambda a: a * 2.0, lambda a: m.lax.sin(a) * a, lambda a: m.lax.exp(a)], x
    )


def test_switch_values_grad_jvp_vmap():
    for i in (-5, 0, 1, 2, 7):  # out-of-range indices are clamped
        same(switch_fn(E)(np.int32(i), X3), switch_fn(J)(np.int32(i), X3))
    g = lambda m: m.jax.grad(lambda x, i: total(m, switch_fn(m)(i, x)))  # noqa: E731
    for i in (0, 1, 2):
        same(g(E)(X3, np.int32(i)), g(J)(X3, np.int32(i)))
        same(
            engine.jvp(lambda x: switch_fn(E)(np.int32(i), x), (X3,), (W3,)),
            jax.jvp(lambda x: switch_fn(J)(np.int32(i), x), (X3,), (W3,)),
        )
    idx = np.array([2, 0, 1, 5], np.int32)
    same(
        engine.vmap(switch_fn(E), in_axes=(0, None))(idx, X3),
        jax.vmap(switch_fn(J), in_axes=(0, None))(idx, X3),
    )
    same(engine.vmap(g(E), in_axes=(None, 0))(X3, idx), jax.vmap(g(J), in_axes=(None, 0))(X3, idx))
    f = lambda m: m.lax.switch(np.float32(1), [lambda x: x, lambda x: x], X3)  # noqa: E731
    assert _exc(lambda: f(E)) is _exc(lambda: f(J)) is TypeError


def test_switch_single_branch():
    f = lambda m: lambda i, x: m.lax.switch(i, [lambda a: a * 2.0], x)  # noqa: E731
    same(f(E)(np.int32(4), X3), f(J)(np.int32(4), X3))


def while_fn(m):
    def f(x):
        return m.lax.while_loop(
            lambda c: m.lax.lt(total(m, c), 100.0), lambda c: c * 2.0 + m.lax.sin(c), x
        )

    return f


def test_while_loop_values_jvp_vmap():
    same(while_fn(E)(X3), while_fn(J)(X3))
    same(engine.jit(while_fn(E))(X3), jax.jit(while_fn(J))(X3))
    same(engine.jvp(while_fn(E), (X3,), (W3,)), jax.jvp(while_fn(J), (X3,), (W3,)), rtol=1e-4)
    xs = np.stack([X3, X3 * 10, -X3 + 3])  # different trip counts per example
    same(engine.vmap(while_fn(E))(xs), jax.vmap(while_fn(J))(xs))
    same(
        engine.vmap(lambda x, t: engine.jvp(while_fn(E), (x,), (t,)))(xs, xs),
        jax.vmap(lambda x, t: jax.jvp(while_fn(J), (x,), (t,)))(xs, xs),
        rtol=1e-4,
    )


def test_while_loop_batched_predicate_from_closure():
    def f(m):
        return lambda n: m.lax.while_loop(
            lambda c: m.lax.lt(c[0], n),
            lambda c: (c[0] + 1.0, c[1] * 2.0),
            (np.float32(0), np.float32(1)),
        )

    ns = np.array([1.0, 3.0, 0.0, 5.0], np.float32)
    same(engine.vmap(f(E))(ns), jax.vmap(f(J))(ns))
    w = lambda m: (
        lambda w: m.lax.while_loop(
            lambda c: m.lax.lt(total(m, c), 50.0),  # noqa: E731
            lambda c: c * w + 1.0,
            X3,
        )
    )
    ws = np.stack([W3 + 1, W3 + 2])
    same(engine.vmap(w(E))(ws), jax.vmap(w(J))(ws))
    same(engine.jvp(w(E), (W3 + 1,), (W3,)), jax.jvp(w(J), (W3 + 1,), (W3,)), rtol=1e-4)


def test_while_loop_python_int_carry_keeps_weak_type():
    f = lambda m: m.lax.while_loop(
        lambda c: m.lax.lt(c[0], 3),  # noqa: E731
        lambda c: (m.lax.add(c[0], 1), c[1] * 2.0),
        (0, X3),
    )
    same(f(E), f(J))


def test_jvp_of_while_loop_keeps_weak_int_carry():
    def f(m):
        return lambda x: m.lax.while_loop(
            lambda c: m.lax.lt(c[0], 3), lambda c: (m.lax.add(c[0], 1), c[1] * 2.0), (0, x)
        )

    (pe, _), _ = engine.jvp(f(E), (X3,), (W3,))
    (pj, _), _ = jax.jvp(f(J), (X3,), (W3,))
    assert pe.weak_type == pj.weak_type


def test_grad_of_while_loop_is_a_value_error():
    with pytest.raises(ValueError, match="[Rr]everse-mode"):
        engine.grad(lambda x: total(E, while_fn(E)(x)))(X3)


def fori_fn(m):
    return lambda x: m.lax.fori_loop(
        0, 4, lambda i, c: m.lax.sin(c) * m.lax.convert_element_type(i, np.float32) + c, x
    )


def test_fori_loop_static_bounds_value_grad_jvp_vmap():
    same(fori_fn(E)(X3), fori_fn(J)(X3))
    g = lambda m: m.jax.grad(lambda x: total(m, fori_fn(m)(x)))  # noqa: E731
    same(g(E)(X3), g(J)(X3), rtol=1e-4)
    same(engine.jvp(fori_fn(E), (X3,), (W3,)), jax.jvp(fori_fn(J), (X3,), (W3,)), rtol=1e-4)
    xs = np.stack([X3, -X3])
    same(engine.vmap(fori_fn(E))(xs), jax.vmap(fori_fn(J))(xs))
    same(engine.vmap(g(E))(xs), jax.vmap(g(J))(xs), rtol=1e-4)
    same(engine.jit(g(E))(X3), jax.jit(g(J))(X3), rtol=1e-4)


def test_fori_loop_traced_bounds():
    f = lambda m: lambda n, x: m.lax.fori_loop(0, n, lambda i, c: c * 2.0 + 1.0, x)  # noqa
    same(engine.jit(f(E))(3, X3), jax.jit(f(J))(3, X3))
    ns = np.array([0, 1, 3], np.int32)
    same(engine.vmap(f(E), in_axes=(0, None))(ns, X3), jax.vmap(f(J), in_axes=(0, None))(ns, X3))
    jv = lambda m: m.jax.jit(lambda n, x: m.jax.jvp(lambda x: f(m)(n, x), (x,), (x,)))  # noqa
    same(jv(E)(3, X3), jv(J)(3, X3))


def scan_fn(m):
    return lambda w, xs: m.lax.scan(lambda c, x: (m.lax.tanh(c * w + x), c * x), w * 0.0, xs)


def scan_loss(m):
    def f(w, xs):
        c, ys = scan_fn(m)(w, xs)
        return total(m, c) + total(m, ys * ys)

    return f


def test_scan_value_jvp_grad():
    same(scan_fn(E)(W3, XS43), scan_fn(J)(W3, XS43))
    same(
        engine.jvp(scan_fn(E), (W3, XS43), (X3, XS43)),
        jax.jvp(scan_fn(J), (W3, XS43), (X3, XS43)),
        rtol=1e-4,
    )
    same(
        engine.grad(scan_loss(E), argnums=(0, 1))(W3, XS43),
        jax.grad(scan_loss(J), argnums=(0, 1))(W3, XS43),
        rtol=1e-4,
    )
    oe, le = engine.linearize(scan_loss(E), W3, XS43)
    oj, lj = jax.linearize(scan_loss(J), W3, XS43)
    same(oe, oj)
    same(le(X3, XS43), lj(X3, XS43), rtol=1e-4)


def test_scan_second_order_and_compositions():
    s = lambda m: lambda t: scan_loss(m)(W3 * t, XS43)  # noqa: E731
    t = np.float32(0.7)
    ours = engine.grad(engine.grad(s(E)))(t)
    same(ours, jax.grad(jax.grad(s(J)))(t), rtol=1e-4)
    with engine.enable_x64():
        g1 = engine.grad(lambda t: scan_loss(E)(W3.astype(np.float64) * t, XS43.astype(np.float64)))
        fd = fd_grad(lambda v: float(g1(float(v))), np.float64(0.7))
    np.testing.assert_allclose(float(ours), float(fd), rtol=2e-3)
    ws = np.stack([W3, -W3])
    same(
        engine.vmap(engine.grad(scan_loss(E)), in_axes=(0, None))(ws, XS43),
        jax.vmap(jax.grad(scan_loss(J)), in_axes=(0, None))(ws, XS43),
        rtol=1e-4,
    )
    same(
        engine.jit(engine.grad(scan_loss(E)))(W3, XS43),
        jax.jit(jax.grad(scan_loss(J)))(W3, XS43),
        rtol=1e-4,
    )
    same(
        engine.grad(engine.jit(scan_loss(E)))(W3, XS43),
        jax.grad(jax.jit(scan_loss(J)))(W3, XS43),
        rtol=1e-4,
    )


@pytest.mark.parametrize("in_axes", [(None, 0), (0, None), (None, 1), (0, 2)])
def test_scan_vmap(in_axes):
    w = W3 if in_axes[0] is None else np.stack([W3, -W3])
    if in_axes[1] is None:
        xs = XS43
    else:
        xs = np.stack([XS43, -XS43], axis=in_axes[1])
    same(
        engine.vmap(scan_fn(E), in_axes=in_axes)(w, xs),
        jax.vmap(scan_fn(J), in_axes=in_axes)(w, xs),
    )


def test_scan_reverse_pytree_carry_and_no_ys():
    def f(m):
        def g(xs):
            def body(c, x):
                a, (b, n) = c
                return (a + x["p"] * b, (b * 0.5, n + 1)), {"s": m.lax.sin(a)}

            return m.lax.scan(body, (np.float32(0), (np.float32(1), np.int32(0))), xs, reverse=True)

        return g

    xs = {"p": np.arange(5, dtype=np.float32)}
    ours, theirs = f(E)(xs), f(J)(xs)
    same(ours, theirs)
    same_structure(ours, theirs)
    h = lambda m: lambda xs: m.lax.scan(lambda c, x: (c * x, None), np.float32(1), xs)  # noqa
    same(h(E)(X3), h(J)(X3))
    gh = lambda m: m.jax.grad(lambda xs: h(m)(xs)[0])  # noqa: E731
    same(gh(E)(X3), gh(J)(X3))
    ln = lambda m: m.lax.scan(lambda c, _: (c * 2.0, c), np.float32(1), None, length=4)  # noqa
    same(ln(E), ln(J))


def test_scan_closing_over_outer_tracer():
    def f(m):
        return lambda w: total(m, m.lax.scan(lambda c, x: (c * w + x, m.lax.sin(c)), X3, XS43)[1])

    same(engine.grad(f(E))(W3), jax.grad(f(J))(W3), rtol=1e-4)
    ws = np.stack([W3, -W3])
    same(engine.vmap(engine.grad(f(E)))(ws), jax.vmap(jax.grad(f(J)))(ws), rtol=1e-4)


def test_lax_map():
    f = lambda m: lambda xs: m.lax.map(lambda r: m.lax.sin(r) * r, xs)  # noqa: E731
    same(f(E)(XS43), f(J)(XS43))
    g = lambda m: m.jax.grad(lambda xs: total(m, f(m)(xs)))  # noqa: E731
    same(g(E)(XS43), g(J)(XS43))


def test_control_flow_error_types_match_jax():
    cases = [
        # branches with different output types
        lambda m: m.lax.cond(
            True, lambda x: x, lambda x: m.lax.convert_element_type(x, np.int32), X3
        ),
        # non-scalar predicate
        lambda m: m.lax.cond(np.array([True, False]), lambda x: x, lambda x: x, X3),
        # scan carry changes shape
        lambda m: m.lax.scan(
            lambda c, x: (m.lax.broadcast_in_dim(c, (2,), ()), x), np.float32(0), X3
        ),
        # scan with inconsistent xs lengths
        lambda m: m.lax.scan(lambda c, x: (c, x), np.float32(0), (X3, np.ones(4, np.float32))),
        # while body changes carry dtype
        lambda m: m.lax.while_loop(
            lambda c: m.lax.lt(c, 3.0),
            lambda c: m.lax.convert_element_type(c, np.int32),
            np.float32(0),
        ),
        # while cond returns non-scalar
        lambda m: m.lax.while_loop(lambda c: m.lax.lt(c, 3.0), lambda c: c + 1.0, X3),
    ]
    for i, case in enumerate(cases):
        assert _exc(lambda: case(E)) is _exc(lambda: case(J)), i


def test_cond_float_predicate():
    f = lambda m: m.lax.cond(np.float32(0.5), lambda x: x * 2.0, lambda x: x, X3)  # noqa: E731
    same(f(E), f(J))


# ---------------------------------------------------------------------------- jaxpr text

_x3 = np.linspace(-1, 1, 3).astype(np.float32)
_x23 = np.linspace(-1, 1, 6).astype(np.float32).reshape(2, 3)
_w32 = np.linspace(0.5, -0.5, 6).astype(np.float32).reshape(3, 2)

JAXPR_PROGRAMS = {
    "jvp_sin_mul": (
        lambda m: lambda x, t: m.jax.jvp(lambda y: m.lax.sin(y) * y, (x,), (t,)),
        (_x3, _x3),
    ),
    "grad_mlp": (
        lambda m: m.jax.grad(lambda w, x: total(m, m.lax.tanh(mm(m, x, w)))),
        (_w32, _x23),
    ),
    "vmap_matmul": (
        lambda m: m.jax.vmap(lambda a, b: mm(m, a, b), in_axes=(0, None)),
        (_x23, _w32),
    ),
    "vmap_jit": (lambda m: m.jax.vmap(m.jax.jit(lambda y: m.lax.exp(y) * y)), (_x23,)),
    "value_and_grad_aux": (
        lambda m: m.jax.value_and_grad(
            lambda x: (total(m, m.lax.exp(x)), m.lax.cos(x)), has_aux=True
        ),
        (_x3,),
    ),
    "linearize_apply": (
        lambda m: lambda x, t: m.jax.linearize(lambda y: m.lax.sin(y) * y, x)[1](t),
        (_x3, _x3),
    ),
    "grad_broadcast": (
        lambda m: m.jax.grad(lambda a: total(m, m.lax.broadcast_in_dim(a, (2, 3), (1,)) * _x23)),
        (_x3,),
    ),
    "grad_transpose_reshape": (
        lambda m: m.jax.grad(
            lambda a: total(m, m.lax.transpose(m.lax.reshape(a, (3, 2)), (1, 0)) * _x23)
        ),
        (_x23,),
    ),
    "vmap_select_n": (
        lambda m: m.jax.vmap(lambda p, a: m.lax.select_n(p, a, m.lax.sin(a))),
        (np.array([True, False]), _x23),
    ),
    "cond": (
        lambda m: lambda p, x: m.lax.cond(p, lambda a: m.lax.sin(a), lambda a: a * 2.0, x),
        (np.bool_(True), _x3),
    ),
    "cond_jvp": (
        lambda m: (
            lambda p, x, t: m.jax.jvp(
                lambda a: m.lax.cond(p, lambda a: m.lax.sin(a), lambda a: a * 2.0, a), (x,), (t,)
            )
        ),
        (np.bool_(True), _x3, _x3),
    ),
    "cond_vmap_operand": (
        lambda m: m.jax.vmap(
            lambda x: m.lax.cond(True, lambda a: m.lax.sin(a), lambda a: a * 2.0, x)
        ),
        (_x23,),
    ),
    "scan": (
        lambda m: lambda x: m.lax.scan(lambda c, xi: (c + xi, c * xi), np.float32(0), x),
        (_x3,),
    ),
    "scan_jvp": (
        lambda m: (
            lambda x, t: m.jax.jvp(
                lambda x: m.lax.scan(lambda c, xi: (c * xi, m.lax.sin(c)), np.float32(1), x),
                (x,),
                (t,),
            )
        ),
        (_x3, _x3),
    ),
    "fori_static": (
        lambda m: lambda x: m.lax.fori_loop(0, 3, lambda i, c: m.lax.sin(c), x),
        (_x3,),
    ),
    "fori_grad": (
        lambda m: m.jax.grad(
            lambda x: total(m, m.lax.fori_loop(0, 3, lambda i, c: m.lax.sin(c), x))
        ),
        (_x3,),
    ),
}

# Where the engine's jaxpr differs from JAX's on purpose or through a missing JAX
# optimization; kept here (not asserted) so the differences stay documented:
# - grad of jit: JAX forwards known inputs used as residuals instead of returning them
#   from the known jit, and names the transposed call like the original (not "transpose(f)").
# - vmap of cond with a batched predicate: JAX masks each branch's operands with
#   select_n + stop_gradient before running both branches; the engine runs both directly.
# - vmap of while with a batched predicate: JAX keeps the body unmasked and selects in the
#   lowering; the engine selects in the body and reduces the predicate with reduce_or.
# - grad of cond: JAX's residuals for branch-local constants are literals / empty2 values.
# - scan with a weak-typed (Python scalar) init: JAX converts inside the body; the engine
#   converts the init before the scan.
# - vmap of scan: operand order of the broadcast/transpose before the scan.


JAXPR_PROGRAMS.update(
    {
        "while_line_width": (
            lambda m: (
                lambda x: m.lax.while_loop(
                    lambda c: m.lax.lt(c[0], 5),
                    lambda c: (m.lax.add(c[0], 1), m.lax.sin(c[1])),
                    (0, x),
                )
            ),
            (_x3,),
        ),
        "switch": (
            lambda m: lambda i, x: m.lax.switch(i, [lambda a: a * 2.0, lambda a: m.lax.sin(a)], x),
            (np.int32(1), _x3),
        ),
        "jvp_float0_literal": (lambda m: lambda x: m.jax.jvp(lambda x: 3, (x,), (x,)), (_x3,)),
        "vjp_pullback": (
            lambda m: lambda x, ct: m.jax.vjp(lambda y: m.lax.sin(y) * y, x)[1](ct),
            (_x3, _x3),
        ),
        "vmap_in_out_axes_1": (
            lambda m: m.jax.vmap(lambda a: m.lax.sin(a) * 2.0, in_axes=1, out_axes=1),
            (_x23,),
        ),
    }
)


@pytest.mark.parametrize("name", sorted(JAXPR_PROGRAMS))
def test_make_jaxpr_text_matches_jax(name):
    build, args = JAXPR_PROGRAMS[name]
    ours = str(engine.make_jaxpr(build(E))(*args))
    theirs = str(jax.make_jaxpr(build(J))(*args))
    assert ours == theirs
