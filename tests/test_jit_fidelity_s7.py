"""jit's jaxprs as JAX 0.10.2 prints them: ``inline=True``, output forwarding and shared
jaxprs under grad, NumPy constants of nested jits, and the printing of empty bodies.
Each case compares ``make_jaxpr`` text (and values) with real JAX."""

import numpy as np
import pytest

import engine
from tests.helpers import real_jax

jax, jnp = real_jax()

X = np.array([[-2.0, -0.5, 0.3], [1.5, 0.7, 2.5]], np.float32)


def _texts(prog, *args):
    return str(engine.make_jaxpr(prog(engine))(*args)), str(jax.make_jaxpr(prog(jax))(*args))


def _values(prog, *args):
    got, want = prog(engine)(*args), prog(jax)(*args)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6, atol=1e-7)


def _same(prog, *args):
    ours, theirs = _texts(prog, *args)
    assert ours == theirs
    _values(prog, *args)


# -- known outputs that are inputs leave the jit call under grad (input forwarding)


def _forwarding(m):
    f = m.jit(lambda x, y: (x, m.numpy.sin(y) * x, y))

    def loss(x, y):
        a, b, c = f(x, y)
        return (a * b + c).sum()

    return m.grad(loss, argnums=(0, 1))


def _identity_jit(m):
    ident = m.jit(lambda x: x)
    return m.grad(lambda x: (ident(x) * 2.0).sum())


@pytest.mark.parametrize("prog", [_forwarding, _identity_jit], ids=["mixed", "identity"])
def test_grad_forwards_known_inputs_out_of_jit(prog):
    args = (X, X + 1.0) if prog is _forwarding else (X,)
    _same(prog, *args)


# -- two calls of one jit share the jaxprs made from it (printed once as ``let name``)


def _twice(m):
    inner = m.jit(lambda x, y: m.numpy.where(x > 0, m.numpy.tanh(x) * y, y))

    def f(x):
        return inner(inner(x, x), x).sum()

    return f


@pytest.mark.parametrize("kind", ["grad", "jvp"])
def test_two_calls_of_one_jit_share_jaxprs(kind):
    if kind == "grad":
        _same(lambda m: m.grad(_twice(m)), X)
    else:
        _same(lambda m: lambda x, t: m.jvp(_twice(m), (x,), (t,)), X, X)


def _grad_grad_select(m):
    inner = m.jit(lambda x, y: m.lax.select(x > 0, x * y, y))
    return lambda x: m.grad(lambda a: m.grad(lambda b: inner(b, b).sum())(a).sum())(x)


def test_grad_of_grad_of_two_calls_values():
    _values(lambda m: lambda x: m.grad(lambda a: m.grad(_twice(m))(a).sum())(x), X)
    _values(_grad_grad_select, X)


@pytest.mark.parametrize("prog", [_grad_grad_select, "twice"])
def test_grad_of_grad_jaxpr_add_any_zero_residual(prog):
    """add_any's JVP instantiates a Zero tangent beside a nonzero one (JAX's linear_jvp):
    under grad of grad the zeros are computed by the known jit and passed, unused, to the
    transposed one as a residual, as JAX's jaxpr shows."""
    if prog == "twice":
        prog = lambda m: lambda x: m.grad(lambda a: m.grad(_twice(m))(a).sum())(x)  # noqa: E731
    ours, theirs = _texts(prog, X)
    assert ours == theirs


def test_shared_jaxprs_print_once_under_grad():
    ours, _ = _texts(lambda m: m.grad(_twice(m)), X)
    assert ours.startswith("let ")


# -- printing: an empty body broken over lines keeps its (blank, indented) line


def _seven(*a):
    return a


@pytest.mark.parametrize("wrap", ["plain", "jit"])
def test_empty_body_over_lines_prints_as_jax(wrap):
    z = np.zeros((2, 3, 4), np.float32)
    _same(lambda m: _seven if wrap == "plain" else m.jit(_seven), *([z] * 7))


def test_empty_body_on_one_line_prints_as_jax():
    ours, theirs = _texts(lambda m: lambda a: a, X)
    assert ours == theirs and "let  in" in ours


# -- jit(inline=True): the body's equations in the caller's jaxpr, no jit equation


def _inline_pair(m):
    @m.jit
    def outer(x):
        a, b = _inline_g(m)(x, 2.0)
        return _inline_g(m)(a, b)[0]

    return outer


_INLINE_G = {}


def _inline_g(m):
    if m not in _INLINE_G:

        def g(x, y):
            return m.numpy.sin(x) * y, x

        _INLINE_G[m] = m.jit(g, inline=True)
    return _INLINE_G[m]


V = np.arange(3.0, dtype=np.float32)
B = np.ones((2, 3), np.float32)
INLINE_PROGS = {
    "direct": (lambda m: lambda x: _inline_g(m)(x, x), (V,)),
    "nested_in_jit": (_inline_pair, (V,)),
    "grad": (lambda m: m.grad(lambda x: _inline_pair(m)(x).sum()), (V,)),
    "jvp": (lambda m: lambda x, t: m.jvp(lambda a: _inline_g(m)(a, a), (x,), (t,)), (V, V)),
    "linearize": (
        lambda m: lambda x: m.linearize(lambda a: _inline_g(m)(a, 3.0)[0], x)[1](x),
        (V,),
    ),
    "vmap_grad": (
        lambda m: m.vmap(m.grad(lambda x: _inline_g(m)(x, x)[0].sum())),
        (B,),
    ),
    "scan": (
        lambda m: lambda x: m.lax.scan(lambda c, a: (_inline_g(m)(c, a)[0], None), x, B)[0],
        (V,),
    ),
}


@pytest.mark.parametrize("name", list(INLINE_PROGS))
def test_inline_jit_is_jaxs(name):
    prog, args = INLINE_PROGS[name]
    ours, theirs = _texts(prog, *args)
    assert ours == theirs
    assert "name=g" not in ours
    _values(prog, *args)


def test_inline_jit_called_eagerly_compiles_once():
    f = engine.jit(lambda x: engine.numpy.cos(x) + 1.0, inline=True)
    np.testing.assert_allclose(np.asarray(f(V)), np.cos(V) + 1.0, rtol=1e-6)
    f(V)
    assert f.trace_count == 1 and f.compile_count == 1


# -- a nested jit's NumPy constants stay in its jaxpr (its constvars), as JAX's, unless
# one of its constants is a tracer of the caller: then all are arguments

C = np.arange(3.0, dtype=np.float32) + 1.0


def _const_inner(m):
    return m.jit(lambda y: m.numpy.sin(y) * C)


def _const_outer(m):
    inner = _const_inner(m)
    return m.jit(lambda x: inner(x) + 1.0)


def _const_and_tracer(m):
    return lambda x: m.jit(lambda y: y * C + x)(x)


CONST_PROGS = {
    "nested_arange": (
        lambda m: m.jit(lambda x: m.jit(lambda y: y + np.arange(3.0))(x)),
        (V,),
    ),
    "nested": (_const_outer, (V,)),
    "grad_nested": (lambda m: m.grad(lambda x: _const_outer(m)(x).sum()), (V,)),
    "grad": (lambda m: m.grad(lambda x: _const_inner(m)(x).sum()), (V,)),
    "jvp": (lambda m: lambda x, t: m.jvp(_const_inner(m), (x,), (t,)), (V, V)),
    "vmap": (lambda m: m.vmap(_const_inner(m)), (B,)),
    "with_tracer": (_const_and_tracer, (V,)),
    "grad_with_tracer": (lambda m: m.grad(lambda x: _const_and_tracer(m)(x).sum()), (V,)),
}


@pytest.mark.parametrize("name", list(CONST_PROGS))
def test_nested_jit_numpy_constant_is_jaxs(name):
    prog, args = CONST_PROGS[name]
    _same(prog, *args)


def test_nested_jit_constant_is_a_constvar():
    ours, _ = _texts(lambda m: m.jit(lambda x: m.jit(lambda y: y + np.arange(3.0))(x)), V)
    assert "jaxpr={ lambda c:f32[3]; a:f32[3]." in ours
