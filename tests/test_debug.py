"""``jax.debug.print`` and the debugging flags and scopes against real JAX 0.10.2: the
printed text (eager, jit, vmap, grad, scan, cond, loops; ordered and unordered; pytrees
and format specs), format errors, ``breakpoint``, ``jax_debug_nans``/``jax_debug_infs``,
``ensure_compile_time_eval``, ``named_scope``/``named_call`` (name stack, StableHLO
locations, optimized HLO ``op_name``) and ``checking_leaks``.

Each program is written once against a namespace ``m`` and run with the engine (``E``)
and with JAX (``J``); what each prints is captured and compared."""

import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()

E = NS(jax=engine, lax=engine.lax, np=enp, name="engine")
J = NS(jax=jax, lax=jax.lax, np=jnp, name="jax")

X3 = np.array([0.5, -1.0, 2.0], np.float32)
X23 = np.arange(6, dtype=np.float32).reshape(2, 3)


def printed(capsys, program, *args):
    """(engine's stdout, JAX's stdout) of ``program(m, *args)``; results compared too."""
    capsys.readouterr()
    ours = engine.block_until_ready(program(E, *args))
    out_e = capsys.readouterr().out
    theirs = jax.block_until_ready(program(J, *args))
    jax.effects_barrier()
    out_j = capsys.readouterr().out
    assert_close(ours, theirs)
    return out_e, out_j


def same_output(capsys, program, *args):
    out_e, out_j = printed(capsys, program, *args)
    assert out_e == out_j, f"engine:\n{out_e}\njax:\n{out_j}"
    assert out_e  # something was printed
    return out_e


# ---------------------------------------------------------------------------- debug.print


def _f(m):
    def f(x):
        m.jax.debug.print("x={x}", x=x)
        y = m.np.sin(x)
        m.jax.debug.print("y={} sum={s}", y, s=y.sum())
        return (y * x).sum()

    return f


@pytest.mark.parametrize(
    "transform",
    ["eager", "jit", "vmap", "jit_vmap", "grad", "jit_grad", "vmap_grad", "jvp", "value_and_grad"],
)
def test_print_under_transformations(capsys, transform):
    def prog(m, x):
        f = _f(m)
        t = {
            "eager": lambda: f(x),
            "jit": lambda: m.jax.jit(f)(x),
            "vmap": lambda: m.jax.vmap(f)(X23),
            "jit_vmap": lambda: m.jax.jit(m.jax.vmap(f))(X23),
            "grad": lambda: m.jax.grad(f)(x),
            "jit_grad": lambda: m.jax.jit(m.jax.grad(f))(x),
            "vmap_grad": lambda: m.jax.vmap(m.jax.grad(f))(X23),
            "jvp": lambda: m.jax.jvp(f, (x,), (x,)),
            "value_and_grad": lambda: m.jax.value_and_grad(f)(x),
        }[transform]
        return t()

    same_output(capsys, prog, X3)


def test_print_in_scan(capsys):
    def body(m):
        def step(c, x):
            m.jax.debug.print("c={c} x={x}", c=c, x=x)
            return c + x, c * x

        return step

    def prog(m, xs):
        f = lambda xs: m.lax.scan(body(m), np.float32(0), xs)[0]  # noqa: E731
        return (
            m.lax.scan(body(m), np.float32(0), xs),
            m.jax.jit(f)(xs),
            m.jax.grad(f)(xs),
            m.jax.jit(m.jax.grad(f))(xs),
            m.jax.vmap(f)(X23),
        )

    same_output(capsys, prog, X3)


def test_print_in_cond_switch_and_loops(capsys):
    def prog(m, x):
        def g(x):
            return m.lax.cond(
                x > 0,
                lambda x: (m.jax.debug.print("pos {}", x), x)[1],
                lambda x: (m.jax.debug.print("neg {}", x), -x)[1],
                x,
            )

        def h(i):
            return m.lax.switch(
                i, [lambda: m.jax.debug.print("b0"), lambda: m.jax.debug.print("b1 {}", i)]
            )

        def loop(n):
            def body(i, c):
                m.jax.debug.print("i={i} c={c}", i=i, c=c)
                return c * 2

            return m.lax.fori_loop(0, n, body, np.float32(1))

        def wl(x):
            def body(c):
                m.jax.debug.print("while {}", c)
                return c + 1

            return m.lax.while_loop(lambda c: c < 3, body, x)

        return (
            g(x[0]),
            m.jax.jit(g)(x[1]),
            m.jax.vmap(g)(x),
            m.jax.grad(g)(x[2]),
            m.jax.jit(h)(1),
            h(0),
            loop(3),
            m.jax.jit(loop)(3),
            m.jax.jit(wl)(0),
        )

    same_output(capsys, prog, X3)


def test_print_ordered(capsys):
    def prog(m, x):
        def f(x):
            for i in range(4):
                m.jax.debug.print("step {i}: {v}", i=i, v=x * i, ordered=True)
            m.jax.debug.print(ordered=True)("two-call {}", x.sum())
            return x

        return m.jax.jit(f)(x), f(x)

    same_output(capsys, prog, X3)


@pytest.mark.parametrize("ordered", [True, False])
def test_print_pytrees_format_specs_and_static_args(capsys, ordered):
    def prog(m, x):
        def f(x):
            p = m.jax.debug.print(ordered=ordered)
            tree = {"a": x, "b": (x[0], [x[1], None]), "c": "text", "d": [1, 2.5]}
            p("tree={t}", t=tree)
            p("{0} and {1} and {0}", x[0], x[1])
            p("fmt {x:.3f} {y!r} {z:>6}", x=x[0], y="s", z=7)
            m.jax.debug.print("no placeholders", x, 3, skip_format_check=True, ordered=ordered)
            p("{}", np.int32(5))
            return x

        return f(x), m.jax.jit(f)(x)

    if ordered:
        same_output(capsys, prog, X3)
    else:  # XLA may run unordered prints in any order (JAX's come out reversed here)
        out_e, out_j = printed(capsys, prog, X3)
        assert sorted(out_e.splitlines()) == sorted(out_j.splitlines())


def test_print_numpy_printoptions(capsys):
    big = np.linspace(0, 1, 2000, dtype=np.float32)

    def prog(m, x):
        def f(x):
            with np.printoptions(precision=2, threshold=6):
                m.jax.debug.print("{}", x)
            m.jax.debug.print("{}", x)
            return x.sum()

        return m.jax.jit(f)(x)

    same_output(capsys, prog, big)


def test_print_format_errors_as_jax():
    for m in (E, J):
        with pytest.raises(ValueError, match="Unused keyword arguments to `jax.debug.print`"):
            m.jax.debug.print("x", x=X3)
        with pytest.raises(ValueError, match="You may be passing an f-string"):
            m.jax.debug.print(f"{X3}", x=X3)
        with pytest.raises(ValueError, match="Unused positional arguments"):
            m.jax.debug.print("{}", 1, 2)
        with pytest.raises((KeyError, IndexError)):
            m.jax.debug.print("{x}")
        with pytest.raises(TypeError, match="unexpected arguments in the two-call form"):
            m.jax.debug.print(None, 1)


def test_print_jaxpr_matches_jax():
    def prog(m):
        f = lambda x: (m.jax.debug.print("v={v}", v=x, ordered=True), x + 1)[1]  # noqa: E731
        return str(m.jax.make_jaxpr(f)(X3))

    assert prog(E) == prog(J)

    def cb(m):
        f = lambda x: (m.jax.debug.callback(print, x), x)[1]  # noqa: E731
        return re.sub("0x[0-9a-fA-FX]+", "0x", str(m.jax.make_jaxpr(f)(X3)))

    assert cb(E) == cb(J)


def test_print_lowers_to_a_side_effecting_callback():
    text = engine.jit(lambda x: (engine.debug.print("{}", x), x)[1]).lower(X3).as_text()
    assert "stablehlo.custom_call @xla_ffi_python_cpu_callback" in text
    assert "has_side_effect = true" in text


def test_debug_namespaces_reachable_from_import_engine():
    assert engine.debug.print is engine.callbacks.debug_print
    assert callable(engine.pure_callback) and callable(engine.experimental.io_callback)


# ---------------------------------------------------------------------------- debug_nans / infs


@pytest.fixture
def flags():
    yield
    for m in (E, J):
        m.jax.config.update("jax_debug_nans", False)
        m.jax.config.update("jax_debug_infs", False)


def _log_twice(m):
    def f(x):
        y = m.np.log(x)
        return y * 2

    return f


@pytest.mark.parametrize("jitted", [False, True])
def test_debug_nans_names_the_primitive(flags, jitted):
    for m in (E, J):
        m.jax.config.update("jax_debug_nans", True)
        f = _log_twice(m)
        g = m.jax.jit(f) if jitted else f
        # JAX's wording depends on its process state (in a long test worker its
        # de-optimized rerun may report "did not produce invalid values"): JAX is held to
        # the class, the engine to the class and the message
        phrase = r"invalid value \(nan\) encountered in log" if m is E else None
        with pytest.raises(FloatingPointError, match=phrase):
            g(np.float32(-1.0))
        assert float(g(np.float32(2.0))) == pytest.approx(2 * np.log(2.0))  # still usable
    with pytest.raises(FloatingPointError, match=r"test_debug\.py:\d+ \(f\)"):  # the user's line
        (engine.jit(_log_twice(E)) if jitted else _log_twice(E))(np.float32(-1.0))


def test_debug_nans_in_grad_and_inside_jit_of_grad(flags):
    for m in (E, J):
        m.jax.config.update("jax_debug_nans", True)
        f = lambda x: m.np.sqrt(x) * 0.0 + m.np.log(x)  # noqa: E731
        with pytest.raises(FloatingPointError, match="invalid value"):
            m.jax.jit(m.jax.grad(f))(np.float32(-1.0))


def test_debug_nans_that_the_deoptimized_function_does_not_reproduce(flags):
    for m in (E, J):
        m.jax.config.update("jax_debug_nans", True)
        with pytest.raises(
            FloatingPointError, match="the de-optimized function did not produce invalid values"
        ):
            m.jax.jit(lambda x: 0.0 * x)(float("inf"))


def test_debug_infs(flags):
    for m in (E, J):
        m.jax.config.update("jax_debug_infs", True)
        with pytest.raises(FloatingPointError, match=r"invalid value \(inf\) encountered in div"):
            m.jax.jit(lambda x: 1.0 / x)(m.jax.device_put(np.float32(0.0)))
        m.jax.config.update("jax_debug_infs", False)
        assert np.isinf(m.jax.jit(lambda x: 1.0 / x)(np.float32(0.0)))


def test_debug_nans_off_by_default_and_context_manager(flags):
    assert not engine.config.jax_debug_nans
    assert np.isnan(engine.jit(engine.numpy.log)(np.float32(-1.0)))
    with engine.debug_nans():
        with pytest.raises(FloatingPointError):
            engine.numpy.log(np.float32(-1.0))
    assert not engine.config.jax_debug_nans


# ---------------------------------------------------------------------------- compile-time eval


def test_ensure_compile_time_eval(capsys):
    seen = {}

    def prog(m, x):
        @m.jax.jit
        def f(x):
            with m.jax.ensure_compile_time_eval():
                y = m.np.sin(np.float32(3.0)) * 2
                seen[m.name] = (float(y), int(m.np.arange(4).sum()))  # concrete now
                z = x + y  # traced operands: recorded as usual
            return z * 2

        return f(x)

    printed(capsys, prog, X3)
    assert seen["engine"] == pytest.approx(seen["jax"])


# ---------------------------------------------------------------------------- named scopes


def _scoped(m):
    def g(x):
        with m.jax.named_scope("outer"):
            y = m.np.sin(x)
            with m.jax.named_scope("inner"):
                z = y * 2
        return m.np.cos(z)

    return g


def _op_names(hlo_text):
    return re.findall(r'op_name="([^"]*)"', hlo_text)


def test_named_scope_in_name_stack_locations_and_hlo():
    jaxpr = engine.make_jaxpr(_scoped(E))(X3)
    stacks = [(e.primitive.name, e.source_info.name_stack) for e in jaxpr.eqns]
    assert stacks == [("sin", "outer"), ("mul", "outer/inner"), ("cos", "")]
    lowered = engine.jit(_scoped(E)).lower(X3)
    assert '"outer/sin.eqn0"' in lowered.as_text(debug_info=True)
    assert '"outer/inner/mul.eqn1"' in lowered.as_text(debug_info=True)
    ours = _op_names(lowered.compile().as_text())
    theirs = _op_names(jax.jit(_scoped(J)).lower(X3).compile().as_text())
    # JAX's names start with "jit(g)/" and end with the primitive; ours end with its
    # equation tag. The scope part between is the same.
    strip_e = {re.sub(r"\.eqn\d+$", "", n) for n in ours}
    strip_j = {n.split("/", 1)[1] for n in theirs if "/" in n}
    assert {"outer/sin", "outer/inner/mul"} <= strip_e & strip_j


def test_named_call_and_errors():
    def prog(m):
        h = m.jax.named_call(lambda x: m.np.cos(x), name="mycos")

        @m.jax.named_call
        def twice(x):
            return h(x) * 2

        return twice

    jaxpr = engine.make_jaxpr(prog(E))(X3)
    assert [e.source_info.name_stack for e in jaxpr.eqns] == ["twice/mycos", "twice"]
    assert str(jaxpr) == str(jax.make_jaxpr(prog(J))(X3))  # no equation of its own
    for m in (E, J):
        with pytest.raises(TypeError, match="named_scope name argument must be a string"):
            with m.jax.named_scope(3):
                pass
    assert_close(engine.jit(prog(E))(X3), jax.jit(prog(J))(X3))


def test_named_scope_survives_grad_and_vmap():
    jaxpr = engine.make_jaxpr(engine.vmap(engine.grad(lambda x: _scoped(E)(x).sum())))(X23)
    assert any(e.source_info.name_stack.startswith("outer") for e in jaxpr.eqns)


# ---------------------------------------------------------------------------- tracer leaks


def test_checking_leaks_names_the_leak_and_session_survives():
    for m in (E, J):
        leaked = []

        def f(x):
            leaked.append(x)
            return x

        with m.jax.checking_leaks():
            with pytest.raises(Exception, match="Leaked trace") as info:
                m.jax.jit(f)(np.float32(1.0))
        assert "Leaked tracer" in str(info.value)
        leaked.clear()
        with m.jax.check_tracer_leaks(True):
            assert m.jax.config.jax_check_tracer_leaks
        assert not m.jax.config.jax_check_tracer_leaks
        assert float(m.jax.jit(lambda x: x + 1)(np.float32(1.0))) == 2.0


def test_checking_leaks_no_false_positives():
    def prog(m, x):
        def body(c, y):
            return c * y + m.np.sin(c), c

        f = lambda x: m.lax.scan(body, x, X3)[0]  # noqa: E731
        g = lambda x: m.lax.cond(x > 0, m.np.sin, m.np.cos, x)  # noqa: E731
        with m.jax.checking_leaks():
            return (
                m.jax.jit(f)(x),
                m.jax.grad(f)(x),
                m.jax.jit(m.jax.vmap(m.jax.grad(g)))(X3),
                m.jax.make_jaxpr(f)(x).jaxpr.outvars[0].aval.shape,
            )

    assert_close(prog(E, np.float32(0.3)), prog(J, np.float32(0.3)))
