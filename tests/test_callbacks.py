"""Host callbacks against real JAX 0.10.2: ``pure_callback`` (values under jit/vmap with
each ``vmap_method``, the shapes the callback sees), ``io_callback`` (ordering under jit),
``debug.callback``, and their errors (class + key phrase; the session stays usable).

Each program is written once against a namespace ``m`` (``m.jax``, ``m.lax``, ``m.np``,
``m.io_callback``) and run with the engine (``E``) and with JAX (``J``)."""

import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp
from engine.experimental import io_callback as e_io_callback

jax, jnp = real_jax()
from jax.experimental import io_callback as j_io_callback  # noqa: E402

E = NS(jax=engine, lax=engine.lax, np=enp, io_callback=e_io_callback, name="engine")
J = NS(jax=jax, lax=jax.lax, np=jnp, io_callback=j_io_callback, name="jax")

X3 = np.array([0.5, -1.0, 2.0], np.float32)
X23 = np.arange(6, dtype=np.float32).reshape(2, 3)


def both(program, *args):
    ours, theirs = program(E, *args), program(J, *args)
    assert_close(ours, theirs)
    return ours, theirs


def sds(m, shape, dtype=np.float32):
    return m.jax.ShapeDtypeStruct(shape, dtype)


# ---------------------------------------------------------------------------- pure_callback


def test_pure_callback_eager_and_jit():
    def prog(m, x):
        f = lambda x: m.jax.pure_callback(np.sin, sds(m, x.shape), x)  # noqa: E731
        return f(x), m.jax.jit(f)(x), m.jax.jit(lambda x: f(x) * 2 + 1)(x)

    both(prog, X3)


def test_pure_callback_pytrees_and_kwargs():
    def cb(a, b, *, scale):
        return {"s": np.asarray(a + b["y"], np.float32) * scale, "n": np.int32(a.size)}

    def prog(m, x):
        out = {"s": sds(m, x.shape), "n": sds(m, (), np.int32)}
        f = lambda x: m.jax.pure_callback(cb, out, x, {"y": x}, scale=3.0)  # noqa: E731
        return f(x), m.jax.jit(f)(x)

    both(prog, X3)


def test_pure_callback_receives_arrays():
    seen = {}

    def cb(x):
        seen[type(x).__module__.split(".")[0]] = x.shape
        return np.asarray(x)

    for m in (E, J):
        m.jax.jit(lambda x, m=m: m.jax.pure_callback(cb, sds(m, x.shape), x))(X3)
    assert seen == {"engine": (3,), "jaxlib": (3,)} or seen == {"engine": (3,), "jax": (3,)}


def test_pure_callback_unused_result_under_jit_is_dropped_like_jax():
    calls = {"engine": 0, "jax": 0}

    def prog(m, x):
        def cb(a):
            calls[m.name] += 1
            return a

        def f(x):
            m.jax.pure_callback(cb, sds(m, x.shape), x)
            return x + 1

        return m.jax.jit(f)(x)

    both(prog, X3)
    assert calls["engine"] == calls["jax"] == 0


@pytest.mark.parametrize(
    "method", ["sequential", "sequential_unrolled", "expand_dims", "broadcast_all"]
)
def test_pure_callback_vmap_methods(method):
    shapes = {"engine": [], "jax": []}

    def prog(m, x, y):
        def cb(a, b):
            shapes[m.name].append((np.shape(a), np.shape(b)))
            b = np.reshape(b, np.shape(b) + (1,) * (np.ndim(a) - np.ndim(b)))
            return (np.asarray(a) + b).astype(np.float32)

        def f(a, b):
            shape = np.broadcast_shapes(np.shape(a), np.shape(b))
            return m.jax.pure_callback(cb, sds(m, shape), a, b, vmap_method=method)

        v = m.jax.vmap(f, in_axes=(0, None))
        return v(x, y), m.jax.jit(v)(x, y), m.jax.vmap(f, in_axes=(1, None))(X23, X23[:, 0])

    both(prog, X23, np.float32(1.5))
    assert shapes["engine"] == shapes["jax"], shapes


def test_pure_callback_vmap_legacy_vectorized():
    def prog(m, x):
        f = lambda a: m.jax.pure_callback(  # noqa: E731
            lambda v: np.cos(v), sds(m, a.shape), a, vmap_method="legacy_vectorized"
        )
        return m.jax.vmap(f)(x), m.jax.jit(m.jax.vmap(f))(x)

    both(prog, X23)


def test_pure_callback_vmap_without_method_raises_as_jax():
    for m in (E, J):
        f = lambda a, m=m: m.jax.pure_callback(np.sin, sds(m, ()), a)  # noqa: E731
        with pytest.raises(NotImplementedError, match="vmap_method is one of"):
            m.jax.vmap(f)(X3)


def test_pure_callback_bad_vmap_method():
    for m in (E, J):
        with pytest.raises(ValueError, match="vmap_method must be on of the allowed methods"):
            m.jax.pure_callback(np.sin, sds(m, (3,)), X3, vmap_method="bogus")


def test_pure_callback_no_jvp():
    for m in (E, J):
        f = lambda a, m=m: m.jax.pure_callback(np.sin, sds(m, a.shape), a).sum()  # noqa: E731
        with pytest.raises(ValueError, match="Pure callbacks do not support JVP"):
            m.jax.grad(f)(X3)
        # a callback on values that are not differentiated is fine
        g = lambda a, m=m: (
            a.sum()
            * m.jax.pure_callback(  # noqa: E731
                lambda: np.float32(2.0), sds(m, ())
            )
        )
        assert float(m.jax.grad(g)(X3)[0]) == 2.0


def test_pure_callback_with_custom_jvp_differentiates():
    def prog(m, x):
        @m.jax.custom_jvp
        def f(x):
            return m.jax.pure_callback(np.sin, sds(m, x.shape), x, vmap_method="sequential")

        f.defjvp(lambda p, t: (f(p[0]), m.np.cos(p[0]) * t[0]))
        return m.jax.grad(lambda x: f(x).sum())(x), m.jax.jit(m.jax.vmap(m.jax.grad(f)))(x)

    both(prog, X3)


def test_pure_callback_in_scan_and_cond():
    def prog(m, xs):
        def body(c, x):
            y = m.jax.pure_callback(lambda a: np.square(a), sds(m, ()), x)
            return c + y, y

        f = lambda xs: m.lax.scan(body, np.float32(0), xs)  # noqa: E731
        g = lambda x: m.lax.cond(  # noqa: E731
            x > 0, lambda x: m.jax.pure_callback(np.exp, sds(m, ()), x), lambda x: -x, x
        )
        return f(xs), m.jax.jit(f)(xs), m.jax.jit(g)(xs[0]), m.jax.jit(g)(-xs[0])

    both(prog, X3 + 1)


@pytest.mark.parametrize(
    "bad, phrase",
    [
        (lambda a: np.ones(4, np.float32), "Incorrect output shape for return value #0"),
        (lambda a: np.ones(3, np.int32), "Incorrect output dtype for return value #0"),
        (lambda a: (a, a), "Mismatched number of outputs from callback"),
    ],
)
def test_pure_callback_result_mismatch(bad, phrase):
    for m in (E, J):
        f = lambda a, m=m: m.jax.pure_callback(bad, sds(m, (3,)), a)  # noqa: E731
        for g in (f, m.jax.jit(f)):
            with pytest.raises(Exception, match=phrase) as info:
                np.asarray(g(X3))
            assert type(info.value).__name__ == "JaxRuntimeError"
    assert engine.jit(lambda x: x * 2)(3.0) == 6.0  # the session stays usable


def test_pure_callback_64bit_result_without_x64():
    for m in (E, J):
        with pytest.raises(ValueError, match="cannot specify 64-bit types"):
            # (a NumPy array as the declaration: the engine's ShapeDtypeStruct
            # canonicalizes its dtype when built)
            m.jax.pure_callback(np.sin, np.empty((3,), np.float64), X3)


def test_callback_that_raises_names_the_callback_and_session_survives():
    def exploding_callback(a):
        raise ZeroDivisionError("the callback's own message")

    for m in (E, J):
        f = lambda a, m=m: m.jax.pure_callback(exploding_callback, sds(m, a.shape), a)  # noqa: E731
        for g in (f, m.jax.jit(f)):
            with pytest.raises(Exception, match="CpuCallback error calling callback") as info:
                np.asarray(g(X3))
            assert isinstance(info.value, RuntimeError)
            assert type(info.value).__name__ == "JaxRuntimeError"
            assert "exploding_callback" in str(info.value)
            assert "ZeroDivisionError: the callback's own message" in str(info.value)
    assert isinstance(engine.errors.JaxRuntimeError(), RuntimeError)
    np.testing.assert_allclose(engine.jit(lambda x: x + 1)(X3), X3 + 1)
    np.testing.assert_allclose(
        engine.jit(lambda x: engine.pure_callback(np.cos, sds(E, x.shape), x))(X3), np.cos(X3)
    )


def test_pure_callback_jaxpr_matches_jax():
    def cb(a):
        return a

    def prog(m):
        return str(
            m.jax.make_jaxpr(
                lambda x: m.jax.pure_callback(cb, sds(m, (3,)), x, vmap_method="sequential")
            )(X3)
        )

    ours, theirs = prog(E), prog(J)
    assert re.sub("0x[0-9a-fA-FX]+", "0x", ours) == re.sub("0x[0-9a-fA-FX]+", "0x", theirs)


def test_pure_callback_lowers_to_jaxlib_custom_call():
    text = (
        engine.jit(lambda x: engine.pure_callback(np.sin, sds(E, x.shape), x)).lower(X3).as_text()
    )
    assert "stablehlo.custom_call @xla_ffi_python_cpu_callback" in text
    assert "index = 0 : ui64" in text


# ---------------------------------------------------------------------------- io_callback


def test_io_callback_eager_jit_and_order():
    logs = {"engine": [], "jax": []}

    def prog(m, x, ordered):
        log = logs[m.name]

        def record(tag):
            def cb(v):
                log.append((tag, float(np.asarray(v).sum())))
                return np.asarray(v) * 2

            return cb

        def f(x):
            a = m.io_callback(record("a"), sds(m, x.shape), x, ordered=ordered)
            b = m.io_callback(record("b"), sds(m, x.shape), x + 1, ordered=ordered)
            c = m.io_callback(record("c"), sds(m, x.shape), a, ordered=ordered)
            return a + b + c

        return f(x), m.jax.jit(f)(x)

    both(lambda m, x: prog(m, x, True), X3)
    assert logs["engine"] == logs["jax"], logs
    # unordered: the same calls (XLA may run independent ones in any order)
    logs["engine"].clear(), logs["jax"].clear()
    both(lambda m, x: prog(m, x, False), X3)
    assert sorted(logs["engine"]) == sorted(logs["jax"]), logs


def test_io_callback_ordered_in_loop_keeps_program_order():
    logs = {"engine": [], "jax": []}

    def prog(m, n):
        def body(i, c):
            m.io_callback(lambda v: logs[m.name].append(int(v)), None, i, ordered=True)
            m.io_callback(lambda v: logs[m.name].append(-int(v)), None, i, ordered=True)
            return c + i

        return m.jax.jit(lambda: m.lax.fori_loop(0, n, body, 0))()

    both(prog, 4)
    assert logs["engine"] == logs["jax"] == [0, 0, 1, -1, 2, -2, 3, -3]


def test_io_callback_vmap():
    logs = {"engine": [], "jax": []}

    def prog(m, x):
        def cb(v):
            logs[m.name].append(np.asarray(v).tolist())
            return np.asarray(v) + 1

        f = lambda v: m.io_callback(cb, sds(m, v.shape), v)  # noqa: E731
        return m.jax.vmap(f)(x), m.jax.jit(m.jax.vmap(f))(x)

    both(prog, X23)
    assert logs["engine"] == logs["jax"]
    for m in (E, J):
        with pytest.raises(ValueError, match="Cannot `vmap` ordered IO callback"):
            m.jax.vmap(lambda v, m=m: m.io_callback(lambda a: a, sds(m, ()), v, ordered=True))(X3)


def test_io_callback_no_jvp():
    for m in (E, J):
        f = lambda v, m=m: m.io_callback(np.sin, sds(m, ()), v)  # noqa: E731
        with pytest.raises(ValueError, match="IO callbacks do not support JVP"):
            m.jax.grad(f)(np.float32(1.0))


# ---------------------------------------------------------------------------- debug.callback


def test_debug_callback_eager_jit_vmap_grad():
    logs = {"engine": [], "jax": []}

    def prog(m, x):
        def cb(v, *, tag):
            logs[m.name].append((tag, np.asarray(v).tolist()))

        def f(v):
            m.jax.debug.callback(cb, v, tag="t")
            return (v * v).sum()

        f(x)
        m.jax.jit(f)(x)
        m.jax.vmap(f)(X23)
        m.jax.grad(f)(x)
        m.jax.jit(m.jax.grad(f))(x)
        return m.jax.jit(f)(x)

    both(prog, X3)
    assert logs["engine"] == logs["jax"], logs


def test_debug_callback_two_call_form_and_errors():
    logs = {"engine": [], "jax": []}
    for m in (E, J):
        m.jax.debug.callback(ordered=True)(lambda v: logs[m.name].append(int(v)), 3)
        with pytest.raises(TypeError, match="must be callable"):
            m.jax.debug.callback(3, 4)
        with pytest.raises(TypeError, match="unexpected arguments in the two-call form"):
            m.jax.debug.callback(None, 4)
    assert logs["engine"] == logs["jax"] == [3]


def test_debug_callback_raising_under_jit():
    def broken_debug_cb(v):
        raise KeyError("nope")

    for m in (E, J):
        f = m.jax.jit(lambda v, m=m: (m.jax.debug.callback(broken_debug_cb, v), v + 1)[1])
        with pytest.raises(Exception, match="CpuCallback error calling callback") as info:
            np.asarray(f(np.float32(1)))
        assert type(info.value).__name__ == "JaxRuntimeError"
        assert "broken_debug_cb" in str(info.value)
        with pytest.raises(KeyError, match="nope"):  # eagerly: the callback's own error
            m.jax.debug.callback(broken_debug_cb, np.float32(1))
    assert float(engine.jit(lambda v: v + 1)(1.0)) == 2.0


def test_ordered_callbacks_keep_program_order_across_control_flow():
    logs = {"engine": [], "jax": []}

    def prog(m, x):
        log = logs[m.name]

        def cb(tag):
            return lambda v: log.append((tag, np.asarray(v).tolist()))

        @m.jax.jit
        def inner(x):
            m.io_callback(cb("inner"), None, x, ordered=True)
            return x * 2

        @m.jax.jit
        def f(x):
            m.io_callback(cb("a"), None, x, ordered=True)
            y = m.lax.cond(
                x.sum() > 0,
                lambda v: (m.io_callback(cb("t"), None, v, ordered=True), v)[1],
                lambda v: (m.io_callback(cb("f"), None, v, ordered=True), -v)[1],
                x,
            )
            z = inner(y)

            def body(c):
                m.io_callback(cb("w"), None, c, ordered=True)
                return c + 1

            w = m.lax.while_loop(lambda c: c < 3, body, (x[0] - 1).astype(np.int32))

            def step(c, v):
                m.io_callback(cb("s"), None, v, ordered=True)
                return c + v, c

            s = m.lax.scan(step, np.float32(0), z)
            m.io_callback(cb("b"), None, z, ordered=True)
            return z, w, s

        return f(x)

    both(prog, np.ones(2, np.float32))
    assert logs["engine"] == logs["jax"], logs


def test_callback_arguments_outlive_the_run():
    kept = {"engine": [], "jax": []}

    def prog(m, x):
        def keep(v):
            kept[m.name].append(v)
            return np.asarray(v)

        f = m.jax.jit(lambda v: m.jax.pure_callback(keep, sds(m, v.shape), v * 2) + 1)
        return f(x), f(x + 1)

    both(prog, X3)
    for name in kept:
        np.testing.assert_allclose(np.asarray(kept[name][0]), X3 * 2)
        np.testing.assert_allclose(np.asarray(kept[name][1]), (X3 + 1) * 2)
