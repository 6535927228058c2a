"""jit against real JAX: pytrees in and out (dicts, namedtuples, None, custom nodes),
kwargs, static arguments, donation, trace caching under other transformations, and
pytrees through grad and vmap."""

import collections

import numpy as np
import pytest
from helpers import assert_close, rand, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()
P = collections.namedtuple("P", ["w", "b"])


def same(ours, theirs, rtol=1e-5, atol=1e-6):
    assert_close(ours, theirs, rtol=rtol, atol=atol)
    for x, y in zip(engine.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        assert bool(getattr(x, "weak_type", False)) == bool(getattr(y, "weak_type", False)), (x, y)


def same_tree(ours, theirs):
    """Same pytree structure, node types included (namedtuple stays namedtuple, None stays)."""

    def shape(t):
        if t is None:
            return None
        if isinstance(t, dict):
            return ("dict", tuple((k, shape(t[k])) for k in sorted(t)))
        if isinstance(t, (tuple, list)):
            return (type(t).__name__, tuple(shape(v) for v in t))
        return "leaf"

    assert shape(ours) == shape(theirs)


def total(m, x):
    return m.lax.reduce_sum(x, tuple(range(x.ndim)))


# ---------------------------------------------------------------------------- values and pytrees


def test_jit_values_and_weak_types():
    progs = [
        lambda m: lambda x: x * 2,
        lambda m: lambda x: m.lax.sin(x) * 2.0 + 1,
        lambda m: lambda: 3.0,
        lambda m: lambda x, y: x * y,
    ]
    argsets = [
        [(3.0,), (np.float32(3),), (np.arange(3, dtype=np.int32),)],
        [(1.5,), (rand((2, 3)),)],
        [()],
        [(2.0, np.float32(3)), (2, 3), (np.ones(2, np.float16), 2.0)],
    ]
    for prog, argset in zip(progs, argsets):
        for args in argset:
            same(engine.jit(prog(engine))(*args), jax.jit(prog(jax))(*args))


def test_jit_pytree_inputs_and_outputs():
    def f(m):
        def g(params, batch, extra):
            w, b = params
            y = m.lax.tanh(batch["x"] * w + b)
            return {
                "y": y,
                "pair": P(w=y * 2.0, b=None),
                "list": [batch["n"] + 1, ()],
                "none": None,
            }, extra

        return g

    params = P(w=rand((3,)), b=np.float32(0.5))
    batch = {"x": rand((3,), seed=1), "n": np.arange(2, dtype=np.int32)}
    extra = [np.float32(1.0), None, (rand((2,), seed=2),)]
    ours = engine.jit(f(engine))(params, batch, extra)
    theirs = jax.jit(f(jax))(params, batch, extra)
    same(ours, theirs)
    same_tree(ours, theirs)
    assert type(ours[0]["pair"]) is P


def test_jit_kwargs_and_defaults():
    def f(m):
        def g(x, y=2.0, *, scale, offset=None):
            out = x * y * scale
            return out if offset is None else out + offset["o"]

        return g

    x = rand((3,))
    fe, fj = engine.jit(f(engine)), jax.jit(f(jax))
    same(fe(x, scale=3.0), fj(x, scale=3.0))
    same(fe(x, np.float32(4), scale=np.float32(3)), fj(x, np.float32(4), scale=np.float32(3)))
    same(fe(x, scale=1.0, offset={"o": x}), fj(x, scale=1.0, offset={"o": x}))
    same(fe(x=x, y=1.0, scale=2.0), fj(x=x, y=1.0, scale=2.0))


def test_jit_empty_and_none_pytrees():
    f = lambda m: lambda a, b, c: (a, b, m.lax.sin(c))  # noqa: E731
    args = ((), None, np.float32(1.0))
    ours, theirs = engine.jit(f(engine))(*args), jax.jit(f(jax))(*args)
    same(ours, theirs)
    same_tree(ours, theirs)
    same(engine.jit(lambda: None)(), jax.jit(lambda: None)())
    assert engine.jit(lambda: None)() is None


def test_jit_closed_over_constants():
    big = rand((50, 4))
    small = np.float32(3.0)
    f = lambda m: lambda x: total(m, big * x) + small  # noqa: E731
    x = rand((4,), seed=1)
    same(engine.jit(f(engine))(x), jax.jit(f(jax))(x), rtol=1e-4)
    same(engine.grad(engine.jit(f(engine)))(x), jax.grad(jax.jit(f(jax)))(x), rtol=1e-4)


def test_nested_jit_and_method_jit():
    def f(m):
        inner = m.jit(lambda a: m.lax.sin(a) * 2.0)

        @m.jit
        def outer(a, b):
            return inner(a) + inner(b) * inner(a)

        return outer

    a, b = rand((3,)), rand((3,), seed=1)
    same(f(engine)(a, b), f(jax)(a, b))
    same(
        engine.grad(lambda a: total(engine, f(engine)(a, b)))(a),
        jax.grad(lambda a: total(jax, f(jax)(a, b)))(a),
    )

    class Model:
        def __init__(self, m, k):
            self.m, self.k = m, k
            self.apply = m.jit(self._apply)

        def _apply(self, x):
            return self.m.lax.sin(x) * self.k

    same(Model(engine, 2.0).apply(a), Model(jax, 2.0).apply(a))

    # jit on a plain method passes ``self`` as an argument: a TypeError in both
    for m in (engine, jax):

        class Model2:
            @m.jit
            def e(self, x):
                return x * 3.0

        with pytest.raises(TypeError):
            Model2().e(a)


# ---------------------------------------------------------------------------- static arguments


def test_static_argnums_values_and_retracing():
    calls = []

    def f(x, n, flag):
        calls.append((n, flag))
        return x * n if flag else x + n

    fe = engine.jit(f, static_argnums=(1, 2))
    fj = jax.jit(f, static_argnums=(1, 2))
    x = rand((3,))
    for n, flag in [(2, True), (2, True), (3, True), (2, False)]:
        same(fe(x, n, flag), fj(x, n, flag))
    assert fe.trace_count == 3
    # passing a static argument by keyword is the same static argument
    same(fe(x, 2, flag=True), fj(x, 2, flag=True))
    same(fe(x, n=2, flag=True), fj(x, n=2, flag=True))


def test_static_negative_argnums_and_argnames():
    def f(x, mode, k=1):
        return x * k if mode == "mul" else x - k

    x = rand((3,))
    for kw in [
        dict(static_argnums=-2),
        dict(static_argnames="mode"),
        dict(static_argnames=("mode", "k")),
        dict(static_argnums=(1, 2)),
    ]:
        fe, fj = engine.jit(f, **kw), jax.jit(f, **kw)
        same(fe(x, "mul", 3), fj(x, "mul", 3))
        same(fe(x, "sub", 2), fj(x, "sub", 2))
        if "static_argnums" in kw and kw["static_argnums"] == -2:
            continue  # JAX resolves negative argnums against the positional args only
        same(fe(x, mode="mul", k=3), fj(x, mode="mul", k=3))


def test_static_argnames_only_keyword():
    def f(x, *, axis):
        return engine.lax.reduce_sum(x, (axis,))

    def fj_(x, *, axis):
        return jax.lax.reduce_sum(x, (axis,))

    x = rand((2, 3))
    fe = engine.jit(f, static_argnames="axis")
    fj = jax.jit(fj_, static_argnames="axis")
    for axis in (0, 1, 0):
        same(fe(x, axis=axis), fj(x, axis=axis))
    assert fe.trace_count == 2


def test_non_hashable_static_argument_is_a_value_error():
    f = lambda x, s: x  # noqa: E731
    with pytest.raises(ValueError):
        jax.jit(f, static_argnums=1)(1.0, [1, 2])
    with pytest.raises(ValueError):
        engine.jit(f, static_argnums=1)(1.0, [1, 2])


def test_retrace_on_new_shape_dtype_or_weak_type():
    f = engine.jit(lambda x: x * 2)
    f(np.ones(3, np.float32))
    f(np.ones(3, np.float32) * 2)
    assert f.trace_count == 1
    f(np.ones(4, np.float32))
    f(np.ones(3, np.int32))
    assert f.trace_count == 3
    same(f(3.0), jax.jit(lambda x: x * 2)(3.0))  # weak f32[]: a new signature
    same(f(np.float32(3.0)), jax.jit(lambda x: x * 2)(np.float32(3.0)))
    assert f.trace_count == 5


# ---------------------------------------------------------------------------- donation


def test_donated_input_is_deleted_after_the_call():
    for m, mnp in ((engine, enp), (jax, jnp)):
        x, y = mnp.ones(4), mnp.ones(4)
        out = m.jit(lambda a, b: a * 2.0 + b, donate_argnums=0)(x, y)
        assert_close(out, np.full(4, 3.0, np.float32))
        assert x.is_deleted() and not y.is_deleted(), m.__name__
        with pytest.raises(RuntimeError):
            np.asarray(x)
        with pytest.raises(RuntimeError):
            m.jit(lambda a: a + 1)(x)


def test_donation_with_pytrees_and_static_args():
    results = []
    for m, mnp in ((engine, enp), (jax, jnp)):
        d = {"a": mnp.ones(3), "b": mnp.full(3, 2.0)}
        z = mnp.ones(3)
        g = m.jit(
            lambda n, d, z: {"s": d["a"] * n + d["b"], "t": d["b"] - z},
            static_argnums=0,
            donate_argnums=(1,),
        )
        out = g(2, d, z)
        results.append((out, d["a"].is_deleted(), d["b"].is_deleted(), z.is_deleted()))
    ours, theirs = results
    same(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


def test_using_a_donated_array_says_it_was_deleted():
    x = enp.ones(4)
    engine.jit(lambda a: a * 2.0, donate_argnums=0)(x)
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        x + 1
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        engine.jit(lambda a: a + 1)(x)


# ---------------------------------------------------------------------------- caching


def test_jit_traced_once_across_eager_grad_and_vmap_calls():
    f = engine.jit(lambda x: engine.lax.sin(x) * x)
    loss = lambda x: total(engine, f(x))  # noqa: E731
    x = rand((3,))
    f(x)
    g1 = engine.grad(loss)(x)
    g2 = engine.grad(loss)(x * 2.0)
    assert f.trace_count == 1
    fj = jax.jit(lambda x: jax.lax.sin(x) * x)
    same(g1, jax.grad(lambda x: total(jax, fj(x)))(x))
    same(g2, jax.grad(lambda x: total(jax, fj(x)))(x * 2.0))
    xs = rand((4, 3), seed=1)
    engine.vmap(f)(xs)
    engine.vmap(f)(xs + 1.0)
    engine.jvp(f, (x,), (x,))
    engine.jvp(f, (x,), (x,))
    assert f.trace_count == 1
    engine.grad(loss)(np.ones(5, np.float32))  # a new shape: one new trace
    assert f.trace_count == 2


def test_grad_of_jit_twice_traces_once_and_matches():
    g = engine.jit(lambda w, x: engine.lax.tanh(w * x))
    loss = lambda w: total(engine, g(w, np.arange(3.0, dtype=np.float32)))  # noqa: E731
    gj = jax.jit(lambda w, x: jax.lax.tanh(w * x))
    loss_j = lambda w: total(jax, gj(w, np.arange(3.0, dtype=np.float32)))  # noqa: E731
    for s in (0.5, -1.0):
        w = rand((3,)) * s
        same(engine.grad(loss)(w), jax.grad(loss_j)(w))
        same(
            engine.grad(engine.grad(lambda t: loss(w * t)))(np.float32(1.0)),
            jax.grad(jax.grad(lambda t: loss_j(w * t)))(np.float32(1.0)),
            rtol=1e-4,
        )
    assert g.trace_count == 1


def test_jit_closing_over_outer_tracer_inside_grad():
    def f(m):
        def loss(w):
            inner = m.jit(lambda x: m.lax.sin(x * w) * w)
            return total(m, inner(np.arange(3.0, dtype=np.float32))) + total(m, inner(w))

        return loss

    w = rand((3,))
    same(engine.grad(f(engine))(w), jax.grad(f(jax))(w), rtol=1e-4)
    same(
        engine.vmap(engine.grad(f(engine)))(rand((2, 3), seed=1)),
        jax.vmap(jax.grad(f(jax)))(rand((2, 3), seed=1)),
        rtol=1e-4,
    )
    same(engine.jit(engine.grad(f(engine)))(w), jax.jit(jax.grad(f(jax)))(w), rtol=1e-4)


def test_jit_with_static_args_under_grad_and_vmap():
    def f(m):
        return m.jit(lambda x, n: m.lax.sin(x) * n if n > 1 else x, static_argnums=1)

    fe, fj = f(engine), f(jax)
    x = rand((3,))
    for n in (1, 3):
        same(
            engine.grad(lambda x: total(engine, fe(x, n)))(x),
            jax.grad(lambda x: total(jax, fj(x, n)))(x),
        )
        xs = rand((2, 3))
        same(engine.vmap(lambda x: fe(x, n))(xs), jax.vmap(lambda x: fj(x, n))(xs))


# ---------------------------------------------------------------------------- grad / vmap


def test_grad_of_dict_with_none_and_namedtuple():
    def loss(m):
        def f(params):
            p = params["p"]
            return total(m, m.lax.tanh(p.w * p.b)) + total(m, params["l"][0] * 2.0)

        return f

    params = {
        "p": P(w=rand((3,)), b=rand((3,), seed=1)),
        "l": [rand((2,), seed=2), None],
        "empty": (),
    }
    ours, theirs = engine.grad(loss(engine))(params), jax.grad(loss(jax))(params)
    same(ours, theirs)
    same_tree(ours, theirs)
    assert type(ours["p"]) is P


def test_vmap_with_none_leaves_and_dict_in_axes():
    def f(m):
        return lambda d: {"y": m.lax.sin(d["x"]) * d["c"], "z": None}

    d = {"x": rand((4, 3)), "c": rand((3,), seed=1), "n": None}
    in_axes = ({"x": 0, "c": None, "n": None},)
    ours = engine.vmap(f(engine), in_axes=in_axes)(d)
    theirs = jax.vmap(f(jax), in_axes=in_axes)(d)
    same(ours, theirs)
    same_tree(ours, theirs)


class Pair:
    """A custom pytree node registered with both the engine and JAX."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def tree_flatten(self):
        return (self.a, self.b), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)


engine.tree_util.register_pytree_node_class(Pair)
jax.tree_util.register_pytree_node_class(Pair)


def test_custom_pytree_node_through_jit_grad_vmap():
    def f(m):
        return lambda p: Pair(m.lax.sin(p.a) * p.b, p.a + p.b)

    p = Pair(rand((3,)), rand((3,), seed=1))
    oe, oj = engine.jit(f(engine))(p), jax.jit(f(jax))(p)
    assert isinstance(oe, Pair)
    same((oe.a, oe.b), (oj.a, oj.b))
    loss = lambda m: lambda p: total(m, f(m)(p).a) + total(m, f(m)(p).b)  # noqa: E731
    ge, gj = engine.grad(loss(engine))(p), jax.grad(loss(jax))(p)
    assert isinstance(ge, Pair)
    same((ge.a, ge.b), (gj.a, gj.b))
    ps = Pair(rand((2, 3)), rand((2, 3), seed=1))
    ve, vj = engine.vmap(f(engine))(ps), jax.vmap(f(jax))(ps)
    same((ve.a, ve.b), (vj.a, vj.b))


def test_jvp_and_vjp_with_pytree_primals():
    def f(m):
        return lambda d, t: {"o": m.lax.sin(d["a"]) * t[0], "p": (d["b"] * t[1],)}

    d, t = {"a": rand((3,)), "b": rand((2,), seed=1)}, (rand((3,), seed=2), np.float32(2.0))
    td = {"a": rand((3,), seed=3), "b": rand((2,), seed=4)}
    tt = (rand((3,), seed=5), np.float32(1.0))
    ours = engine.jvp(f(engine), (d, t), (td, tt))
    theirs = jax.jvp(f(jax), (d, t), (td, tt))
    same(ours, theirs)
    same_tree(ours, theirs)
    oe, pe = engine.vjp(f(engine), d, t)
    oj, pj = jax.vjp(f(jax), d, t)
    ct = {"o": rand((3,), seed=6), "p": (rand((2,), seed=7),)}
    same(pe(ct), pj(ct))
    same_tree(pe(ct), pj(ct))


# ---------------------------------------------------------------------------- shapes and errors


def test_eval_shape_and_make_jaxpr_with_pytrees_and_statics():
    def f(m):
        return lambda d, n: {"s": m.lax.reduce_sum(d["x"], (0,)) * n, "t": (d["y"] * 2,)}

    d = {"x": rand((4, 3)), "y": np.arange(2, dtype=np.int32)}
    se = engine.eval_shape(f(engine), d, 2.0)
    sj = jax.eval_shape(f(jax), d, 2.0)
    for a, b in zip(engine.tree_util.tree_leaves(se), jax.tree_util.tree_leaves(sj)):
        assert (a.shape, a.dtype, a.weak_type) == (b.shape, b.dtype, b.weak_type)
    je = engine.make_jaxpr(f(engine), static_argnums=1)(d, 2.0)
    jj = jax.make_jaxpr(f(jax), static_argnums=1)(d, 2.0)
    assert str(je) == str(jj)
    fe = engine.jit(f(engine), static_argnums=1)
    se2 = fe.eval_shape(d, 3.0)
    assert [(a.shape, a.dtype) for a in engine.tree_util.tree_leaves(se2)] == [
        (a.shape, a.dtype) for a in jax.tree_util.tree_leaves(sj)
    ]


def test_jit_error_types_match_jax():
    cases = [
        lambda m: m.jit(lambda x: "not an array")(1.0),
        lambda m: m.jit(lambda x: x)("a string"),
        lambda m: m.jit(lambda x: x, static_argnums=0)([1]),
        lambda m: m.jit(lambda x: m.lax.add(x, np.ones(4, np.float32)))(np.ones(3, np.float32)),
    ]
    for i, case in enumerate(cases):
        errs = []
        for m in (engine, jax):
            with pytest.raises(Exception) as e:
                case(m)
            errs.append(type(e.value))
        assert errs[0] is errs[1] or issubclass(errs[0], errs[1]), (i, errs)
