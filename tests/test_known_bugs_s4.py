"""Regression tests for the three engine bugs the differential fuzzer pinned as known
(session 4, issue 12), each against real JAX 0.10.2:

- grad through ``lax.scan`` with a per-step output nothing uses: the engine sent an
  instantiated zero cotangent through it, and 0 * nan = nan reached the gradient; JAX
  drops the dead output when linearizing (scan's DCE rule) and keeps zero cotangents
  symbolic when transposing;
- grad of a function calling a ``while_loop`` whose outputs nothing differentiates: the
  engine's partial evaluation of ``while`` raised at once; JAX splits the loop and raises
  only when a cotangent reaches it;
- float0 values (tangents of integer or bool outputs) crossing a ``jit`` boundary: the
  engine sent them to the device ("Unknown NumPy dtype"); JAX passes bool buffers and
  hands float0 zeros back.
"""

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import engine  # noqa: E402
import engine.numpy as ejnp  # noqa: E402
from tests.helpers import assert_close, jaxpr_text, real_jax  # noqa: E402

FLOAT0 = np.dtype([("float0", "V")])
C0 = np.array([0.5, np.nan, 2.0], np.float32)
XS = np.array([[1.0, 2.0, np.nan], [-0.5, 0.25, 3.0]], np.float32)


def _both(make, *args):
    """``make(api, numpy_module)`` built and called with the engine and with JAX."""
    jx, jnp = real_jax()
    return make(engine, ejnp)(*args), make(jx, jnp)(*args)


# ---------------------------------------------------------------------------- scan


def scan_unused_ys(api, np_):
    def f(c, v):
        carry, _ = api.lax.scan(lambda c, x: (c + x, np_.negative(c * x)), c, v)
        return np_.sum(carry)

    return api.grad(f, argnums=(0, 1))


def scan_one_of_two_ys_used(api, np_):
    def f(c, v):
        carry, (y1, _) = api.lax.scan(lambda c, x: (c * x, (np_.sin(c), c * x)), c, v)
        return np_.sum(y1) + np_.sum(carry)

    return api.grad(f, argnums=(0, 1))


def reverse_scan_unused_ys(api, np_):
    def f(c, v):
        body = lambda c, x: (np_.tanh(c) + x, np_.log(x) * c)  # noqa: E731
        carry, _ = api.lax.scan(body, c, v, reverse=True)
        return np_.sum(carry)

    return api.grad(f, argnums=(0, 1))


def nested_scan_unused_ys(api, np_):
    def inner(c, x):
        c2, _ = api.lax.scan(lambda a, b: (a * b, a / b), c, x[None])
        return c2, np_.sqrt(c)

    def f(c, v):
        carry, _ = api.lax.scan(inner, c, v)
        return np_.sum(carry)

    return api.grad(f, argnums=(0, 1))


def jit_of_grad_of_scan(api, np_):
    return api.jit(scan_unused_ys(api, np_))


SCANS = [
    scan_unused_ys,
    scan_one_of_two_ys_used,
    reverse_scan_unused_ys,
    nested_scan_unused_ys,
    jit_of_grad_of_scan,
]


@pytest.mark.parametrize("make", SCANS, ids=lambda f: f.__name__)
def test_grad_of_scan_with_unused_outputs_matches_jax(make):
    """NaN/inf in the data meet only the unused outputs' (zero) cotangents: no nan may
    leak into the gradient where JAX gives a number."""
    out, ref = _both(make, C0, XS)
    assert_close(out, ref)


@pytest.mark.parametrize("make", [scan_unused_ys, scan_one_of_two_ys_used, reverse_scan_unused_ys])
def test_grad_of_scan_with_unused_outputs_jaxpr_equals_jax(make):
    """The forward scan forwards its xs instead of stacking them again, the tangent scan
    loses the dead outputs and their residuals, the transposed scan takes only nonzero
    cotangents: the whole jaxpr is JAX's."""
    jx, jnp = real_jax()
    ours, theirs = jaxpr_text(make(engine, ejnp), make(jx, jnp), C0, XS)
    assert ours == theirs


def test_dropping_dead_scan_outputs_keeps_the_bodys_callbacks():
    """A debug callback in a scan body whose per-step output is dropped still runs once
    per step, under grad and jit of grad, as in JAX."""

    def make(api, np_, seen):
        def f(c, v):
            def body(c, x):
                api.debug.callback(lambda a: seen.append(np.asarray(a).copy()), x)
                return c + x, np_.negative(c * x)

            carry, _ = api.lax.scan(body, c, v)
            return np_.sum(carry)

        return api.grad(f, argnums=(0, 1))

    jx, jnp = real_jax()
    for jitted in (False, True):
        ours, theirs = [], []
        grad_ours, grad_theirs = make(engine, ejnp, ours), make(jx, jnp, theirs)
        if jitted:
            grad_ours, grad_theirs = engine.jit(grad_ours), jx.jit(grad_theirs)
        out, ref = grad_ours(C0, XS), grad_theirs(C0, XS)
        assert len(ours) == len(theirs) == len(XS)
        np.testing.assert_array_equal(np.stack(ours), np.stack(theirs))
        assert_close(out, ref)


def test_linear_transpose_of_scan_keeps_zero_output_cotangents_symbolic():
    """linear_transpose traces no DCE: the scan's unused per-step output gets a symbolic
    zero cotangent, which must not be multiplied into the body's nan constants."""
    w = np.array([np.nan, 1.0, 2.0], np.float32)

    def make(api, np_):
        def f(v):
            carry, _ = api.lax.scan(lambda c, x: (c + x, c * w), np_.zeros(3), v)
            return carry

        return api.linear_transpose(f, np.ones((2, 3), np.float32))

    out, ref = _both(make, np.ones(3, np.float32))
    assert_close(out, ref)


def test_vjp_of_scan_with_a_used_output_still_transposes_it():
    """A per-step output whose cotangent is given (nonzero) still flows back."""

    def make(api, np_):
        def f(c, v):
            return api.lax.scan(lambda c, x: (c * x, np_.sin(c) * x), c, v)

        def run(c, v):
            out, pullback = api.vjp(f, c, v)
            return pullback((np_.ones(3), np_.full((2, 3), 0.5)))

        return run

    out, ref = _both(make, np.array([0.5, 1.0, 2.0], np.float32), XS)
    assert_close(out, ref)


# ------------------------------------------------ the same for cond and jit (same cause)


def cond_unused_output(api, np_):
    def f(x, p):
        true_fun = lambda x: (np_.sin(x), x * np.float32(np.nan))  # noqa: E731
        a, _ = api.lax.cond(p > 0, true_fun, lambda x: (np_.cos(x), x), x)
        return np_.sum(a)

    return api.grad(f)


def switch_unused_output(api, np_):
    def f(x, p):
        branches = [
            lambda x: (np_.sin(x), np_.log(x)),
            lambda x: (np_.cos(x), x / 0.0),
            lambda x: (x * x, x),
        ]
        a, _ = api.lax.switch(np_.int32(p), branches, x)
        return np_.sum(a)

    return api.grad(f)


def jit_unused_output(api, np_):
    w = np.array([np.nan, 1.0, np.inf], np.float32)
    inner = api.jit(lambda x: (np_.sin(x), x * w))

    def f(x, p):
        a, _ = inner(x * p)
        return np_.sum(a)

    return api.grad(f)


@pytest.mark.parametrize(
    "make", [cond_unused_output, switch_unused_output, jit_unused_output], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("p", [1.0, -1.0])
def test_grad_through_cond_and_jit_with_unused_outputs_matches_jax(make, p):
    """An unused output of a cond or jit holding nan/inf: its zero cotangent must not
    reach the gradient (JAX's DCE rules drop it when linearizing)."""
    x = np.array([0.5, -1.0, 2.0], np.float32)
    out, ref = _both(make, x, p)
    assert_close(out, ref)


# ---------------------------------------------------------------------------- while_loop


def grad_past_unused_while(api, np_):
    def f(x):
        api.lax.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, np_.tanh(s[1])), (0, x))
        return np_.sin(x)

    return api.grad(f)


def grad_past_unused_fori_with_traced_bounds(api, np_):
    def f(c, v):
        n = np_.argmax(v[0] > 100)  # a traced bound: fori_loop is a while_loop
        api.lax.fori_loop(n, n + 3, lambda i, s: s * 2.0, c)
        return np_.sum(np_.cos(c))

    return api.grad(f, argnums=(0, 1))


def while_loop_of_x(api, np_):
    def g(x):
        body = lambda s: (s[0] + 1, np_.tanh(s[1]))  # noqa: E731
        return api.lax.while_loop(lambda s: s[0] < 3, body, (0, x))[1]

    return g


def test_grad_ignores_a_while_loop_no_output_uses():
    out, ref = _both(grad_past_unused_while, 1.0)
    assert_close(out, ref)
    jx, jnp = real_jax()
    ours, theirs = jaxpr_text(
        grad_past_unused_while(engine, ejnp), grad_past_unused_while(jx, jnp), 1.0
    )
    assert ours == theirs


def test_grad_ignores_an_unused_fori_loop_with_traced_bounds():
    out, ref = _both(grad_past_unused_fori_with_traced_bounds, C0, XS)
    assert_close(out, ref)
    jx, jnp = real_jax()
    ours, theirs = jaxpr_text(
        grad_past_unused_fori_with_traced_bounds(engine, ejnp),
        grad_past_unused_fori_with_traced_bounds(jx, jnp),
        C0,
        XS,
    )
    assert ours == theirs


def test_grad_with_a_while_loop_whose_carry_mixes_used_and_unused_parts():
    """Only the loop's integer counter is read after it: its float carry gets no
    cotangent, so grad goes through (JAX's known/unknown split of the loop)."""

    def make(api, np_):
        def f(x):
            i, _ = api.lax.while_loop(lambda s: s[0] < 4, lambda s: (s[0] + 1, s[1] * x), (0, x))
            return np_.sin(x) * i

        return api.grad(f)

    out, ref = _both(make, 0.7)
    assert_close(out, ref)


def test_linearize_of_while_loop_matches_jax():
    """Forward mode through a while_loop under partial evaluation: the known loop runs
    now, the whole loop with tangents is staged (recomputing the primal), as JAX's."""

    def make(api, np_):
        def run(x):
            y, lin = api.linearize(while_loop_of_x(api, np_), x)
            return y, lin(2.0)

        return run

    out, ref = _both(make, 1.0)
    assert_close(out, ref)
    jx, jnp = real_jax()
    ours, theirs = jaxpr_text(make(engine, ejnp), make(jx, jnp), 1.0)
    assert ours == theirs


def test_grad_through_a_while_loop_still_raises_jax_error():
    jx, jnp = real_jax()
    for api, np_ in ((jx, jnp), (engine, ejnp)):
        with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for"):
            api.grad(while_loop_of_x(api, np_))(1.0)
        with pytest.raises(ValueError, match="Try using lax.scan, or using fori_loop with"):
            api.jit(api.grad(while_loop_of_x(api, np_)))(1.0)


def test_jvp_of_while_loop_is_unchanged():
    def make(api, np_):
        return lambda x: api.jvp(while_loop_of_x(api, np_), (x,), (0.5,))

    out, ref = _both(make, np.float32(0.3))
    assert_close(out, ref)


# ---------------------------------------------------------------------------- float0


def _dtypes(values):
    return [np.asarray(v).dtype for v in values]


@pytest.mark.parametrize(
    "output",
    [lambda np_, y: y > 0, lambda np_, y: (y > 0).astype(int), lambda np_, y: np_.floor(y) > 1],
    ids=["bool", "int", "bool_of_float"],
)
def test_jit_of_jvp_with_an_integer_output_returns_float0_tangents(output):
    def make(api, np_):
        return api.jit(lambda v: api.jvp(lambda y: output(np_, y), (v,), (v,)))

    x = np.array([-1.0, 0.5, 2.5], np.float32)
    out, ref = _both(make, x)
    assert _dtypes(out) == _dtypes(ref)
    assert _dtypes(out)[1] == FLOAT0
    assert_close(out, ref)


def test_float0_argument_to_jit_is_passed_and_returned():
    def make(api, np_):
        return api.jit(lambda z, y: (z, y * 2))

    z = np.zeros(3, FLOAT0)
    out, ref = _both(make, z, 1.5)
    assert _dtypes(out) == _dtypes(ref)
    assert np.asarray(out[0]).shape == (3,)
    assert_close(out, ref)


def test_jit_of_grad_with_allow_int_returns_a_float0_gradient():
    def make(api, np_):
        return api.jit(api.grad(lambda x, i: x * i, argnums=(0, 1), allow_int=True))

    out, ref = _both(make, 2.0, 3)
    assert _dtypes(out) == _dtypes(ref)
    assert_close(out, ref)


def test_vmap_of_jit_of_jvp_with_a_bool_output():
    def make(api, np_):
        return api.vmap(api.jit(lambda v: api.jvp(lambda y: y > 0, (v,), (v,))))

    out, ref = _both(make, XS)
    assert _dtypes(out) == _dtypes(ref)
    assert_close(out, ref)


def test_staged_float0_zeros_are_a_broadcast_literal_as_jax_writes_them():
    """Under tracing a float0 zero tangent is ``broadcast_in_dim`` of a float0 literal
    (JAX's jaxpr), not a host constant the jitted program would have to capture."""
    jx, jnp = real_jax()
    x = np.ones(3, np.float32)
    for make in (
        lambda api: api.jit(lambda v: api.jvp(lambda y: y > 0, (v,), (v,))),
        lambda api: lambda v: api.jvp(lambda y: (y > 0).astype(int), (v,), (v,)),
    ):
        ours, theirs = jaxpr_text(make(engine), make(jx), x)
        assert ours == theirs
        assert "float0[3] = broadcast_in_dim" in ours
