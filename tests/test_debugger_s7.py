"""``jax.debug.breakpoint`` and its text debugger against real JAX 0.10.2: each program is
written once against a namespace ``m``, run with the engine and with JAX, fed the same
scripted commands, and the two transcripts (everything the debugger wrote) compared, as
are the results and the class of any exception."""

import contextlib
import io
import sys
from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.debugger
import engine.numpy as enp

jax, jnp = real_jax()

E = NS(jax=engine, lax=engine.lax, jnp=enp)
J = NS(jax=jax, lax=jax.lax, jnp=jnp)


def _session(m, program, commands, *args):
    """(transcript, result as NumPy or None, exception class name or None)."""
    out = io.StringIO()
    result = error = None
    try:
        r = program(m, io.StringIO(commands), out, *args)
        m.jax.effects_barrier()
        result = None if r is None else np.asarray(r)
    except BaseException as e:  # noqa: BLE001 - SystemExit from 'quit' is compared too
        error = type(e).__name__
    return out.getvalue(), result, error


def _both(program, commands, *args):
    # one call site for both runs: the captured frames (and `where`) name the same lines
    return [_session(m, program, commands, *args) for m in (E, J)]


def _same(program, commands, *args):
    (t_e, r_e, x_e), (t_j, r_j, x_j) = _both(program, commands, *args)
    assert t_e == t_j, f"engine:\n{t_e}\njax:\n{t_j}"
    assert x_e == x_j
    if r_j is None:
        assert r_e is None
    else:
        np.testing.assert_allclose(r_e, r_j, rtol=1e-6)
        assert r_e.dtype == r_j.dtype
    assert "Entering jdb:" in t_e
    return t_e


def _inner(m, x, i, o, kw):
    y, z = m.jnp.sin(x), m.jnp.cos(x)
    m.jax.debug.breakpoint(stdin=i, stdout=o, **kw)
    return y * z


def _outer(m, x, i, o, kw):
    w = x + 1
    return _inner(m, w, i, o, kw)


_TOUR = (
    "p x\npp y\nx\nz + 1\nw\nl\nu\nw\nup\nu\nu\nd\nd\nd\nd\nlist\nbt\nwhere\n"
    "p nosuch\nfoo(\nll\nhelp\nhelp p\nhelp q\nhelp where\n?\nc\n"
)


@pytest.mark.parametrize("transform", ["eager", "jit", "grad", "jit_grad"])
def test_commands_in_each_frame(transform):
    """p/pp/expressions, up/down past both ends, list, where/bt, errors and help."""

    def prog(m, i, o):
        f = lambda x: _outer(m, x, i, o, {"num_frames": 3})  # noqa: E731
        return {
            "eager": lambda: f(np.float32(2.0)),
            "jit": lambda: m.jax.jit(f)(2.0),
            "grad": lambda: m.jax.grad(f)(2.0),
            "jit_grad": lambda: m.jax.jit(m.jax.grad(f))(2.0),
        }[transform]()

    _same(prog, _TOUR)


@pytest.mark.parametrize("transform", ["vmap", "jit_vmap"])
def test_one_session_per_batch_element(transform):
    def prog(m, i, o):
        f = lambda x: _outer(m, x, i, o, {"num_frames": 2})  # noqa: E731
        g = m.jax.vmap(f) if transform == "vmap" else m.jax.jit(m.jax.vmap(f))
        return g(np.arange(3.0, dtype=np.float32))

    _same(prog, "p x\np y\nc\np x\nc\np (x, w)\nu\nc\n")


def test_whole_stack_where_and_topmost():
    """Without num_frames: every user frame up to this test's callers."""

    def prog(m, i, o):
        return m.jax.jit(lambda x: _outer(m, x, i, o, {}))(1.5)

    t = _same(prog, "w\nu\nu\nu\nu\nc\n")
    assert "test_debugger_s7.py" in t


def test_breakpoint_in_cond_branch_and_scan():
    def cond_prog(m, i, o):
        def stop_if_nonfinite(z):
            def bad(z):
                m.jax.debug.breakpoint(stdin=i, stdout=o, num_frames=2)

            m.lax.cond(m.jnp.isfinite(z).all(), lambda z: None, bad, z)

        def divide(x, y):
            z = x / y
            stop_if_nonfinite(z)
            return z

        return m.jax.jit(divide)(np.float32(2.0), np.float32(0.0))

    _same(cond_prog, "p z\nu\np (x, y, z)\nc\n")

    def scan_prog(m, i, o):
        def step(c, x):
            m.jax.debug.breakpoint(stdin=i, stdout=o, num_frames=1)
            return c + x, c * x

        return m.lax.scan(step, np.float32(1.0), np.arange(3.0, dtype=np.float32))[0]

    _same(scan_prog, "p (c, x)\nc\np (c, x)\nc\np c + x\nc\n")


def test_pytree_and_static_locals():
    def prog(m, i, o):
        def f(d, n=3, s="a", fn=len):
            m.jax.debug.breakpoint(stdin=i, stdout=o, num_frames=1)
            return d["a"]

        return m.jax.jit(f)({"a": 1.0, "b": (2.0, 3)})

    _same(prog, "p d\npp d\np n\np s\np fn\np sorted(d)\nc\n")


def test_quit_and_eof():
    """'q' (and end of input, which is 'EOF') calls sys.exit: eagerly SystemExit
    reaches the caller; from a compiled program jaxlib reports the callback failed."""
    for cmds in ("q\n", "exit\n", ""):
        (t_e, _, x_e), (t_j, _, x_j) = _both(
            lambda m, i, o: m.jax.jit(lambda x: _outer(m, x, i, o, {"num_frames": 1}))(1.0),
            cmds,
        )
        assert (t_e, x_e) == (t_j, x_j) == ("Entering jdb:\n(jdb) ", "JaxRuntimeError")
        (t_e, _, x_e), (t_j, _, x_j) = _both(
            lambda m, i, o: _outer(m, np.float32(1.0), i, o, {"num_frames": 1}), "p x\n" + cmds
        )
        assert (
            (t_e, x_e)
            == (t_j, x_j)
            == ("Entering jdb:\n(jdb) np.float32(2.0)\n(jdb) ", "SystemExit")
        )


def test_terminal_prompt_reads_sys_stdin():
    """No stdin given: the prompt goes to sys.stdout and commands come from sys.stdin."""
    texts, errors = [], []
    for m in (E, J):
        out = io.StringIO()
        old = sys.stdin
        sys.stdin = io.StringIO("p y\nc\n")
        try:
            with contextlib.redirect_stdout(out):

                def f(x):
                    y = x * 2
                    m.jax.debug.breakpoint(num_frames=1)
                    return y

                m.jax.block_until_ready(m.jax.jit(f)(np.float32(2.0)))
                sys.stdin = io.StringIO("")
                with contextlib.suppress(BaseException):
                    m.jax.jit(f)(np.float32(3.0)).block_until_ready()
                    m.jax.effects_barrier()
        finally:
            sys.stdin = old
        texts.append(out.getvalue())
        errors.append(None)
    assert texts[0] == texts[1]
    assert texts[0].startswith("Entering jdb:\n(jdb) Array(4., dtype=float32)\n(jdb) ")


def test_filter_frames_and_num_frames():
    def prog(m, i, o):
        def f(x):
            y = x * 2
            m.jax.debug.breakpoint(stdin=i, stdout=o, filter_frames=False, num_frames=4)
            return y

        return m.jax.jit(f)(np.float32(2.0))

    # the library's own frames differ (engine's vs JAX's files); the user's frame is first
    (t_e, r_e, _), (t_j, r_j, _) = _both(prog, "p y\nc\n")
    assert t_e == t_j == "Entering jdb:\n(jdb) Array(4., dtype=float32)\n(jdb) "
    assert r_e == r_j


def test_token_and_ordered():
    def tok(m, i, o):
        def f(x):
            y = x * 3
            y = m.jax.debug.breakpoint(stdin=i, stdout=o, token=y, num_frames=1)
            return y + 1

        return m.jax.jit(f)(np.float32(2.0))

    _same(tok, "p y\nc\n")

    def ordered(m, i, o):
        def f(x):
            m.jax.debug.print("before {}", x, ordered=True)
            m.jax.debug.breakpoint(stdin=i, stdout=o, ordered=True, num_frames=1)
            m.jax.debug.print("after {}", x, ordered=True)
            return x

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            r = m.jax.jit(f)(np.float32(2.0))
            m.jax.effects_barrier()
        o.write(buf.getvalue())
        return r

    _same(ordered, "p x\nc\n")
    for m in (E, J):
        with pytest.raises(ValueError, match="`ordered` and `token` are mutually exclusive"):
            m.jax.debug.breakpoint(ordered=True, token=1.0)


def _probe_frames(seen):
    def debugger(frames, thread_id, **kwargs):
        seen.append(
            [
                (f.filename.rsplit("/", 1)[-1], f.lineno, f.offset, sorted(f.locals), f.globals)
                for f in frames
            ]
            + [repr(frames[0].locals["y"]), thread_id is None or isinstance(thread_id, int)]
        )

    return debugger


SEEN_E: list = []
SEEN_J: list = []


def test_registered_backend_gets_the_frames():
    from jax._src.debugger import core as jax_debugger_core

    if "s7_probe" not in engine.debugger._debugger_registry:
        engine.debugger.register_debugger("s7_probe", _probe_frames(SEEN_E), -10)
        jax_debugger_core.register_debugger("s7_probe", _probe_frames(SEEN_J), -10)
    for reg in (engine.debugger.register_debugger, jax_debugger_core.register_debugger):
        with pytest.raises(ValueError, match='Debugger with name "s7_probe" already registered'):
            reg("s7_probe", _probe_frames([]), 0)
    SEEN_E.clear()
    SEEN_J.clear()

    def prog(m, i, o):
        def f(x):
            y = x * 2
            m.jax.debug.breakpoint(backend="s7_probe", num_frames=2)
            return y

        return m.jax.jit(f)(np.float32(2.0))

    _both(prog, "")
    assert len(SEEN_J) == 1
    assert SEEN_E == SEEN_J
    # an unknown backend falls back to the text debugger (the highest priority)
    _same(
        lambda m, i, o: _outer(m, np.float32(1.0), i, o, {"backend": "nope", "num_frames": 1}),
        "p y\nc\n",
    )


# ---------------------------------------------------------------------------- print order


def _printed(m, fn):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        r = fn()
        m.jax.effects_barrier()
    return out.getvalue(), np.asarray(r)


def test_unordered_prints_come_out_in_jaxs_order():
    """print_breakpoint.md's vmap / lax.map example and prints in a vmapped scan: XLA
    orders unordered callbacks as it likes; the engine hands it JAX's program (no token
    between unordered callbacks, a scan body as a called function), so the order is
    JAX's."""

    def progs(m):
        def f(x):
            m.jax.debug.print("x: {}", x)
            y = m.jnp.sin(x)
            m.jax.debug.print("y: {}", y)
            return y

        def step(c, x):
            m.jax.debug.print("c={c} x={x}", c=c, x=x)
            return c + x, c * x

        xs = np.arange(3.0, dtype=np.float32)
        x23 = np.arange(6.0, dtype=np.float32).reshape(2, 3)
        scan_sum = lambda xs: m.lax.scan(step, np.float32(0), xs)[0]  # noqa: E731
        return [
            lambda: m.jax.vmap(f)(xs),
            lambda: m.lax.map(f, xs),
            lambda: m.jax.jit(lambda xs: m.lax.map(f, xs))(xs),
            lambda: m.jax.vmap(scan_sum)(x23),
            lambda: m.jax.jit(m.jax.vmap(scan_sum))(x23),
        ]

    for p_e, p_j in zip(progs(E), progs(J)):
        (t_e, r_e), (t_j, r_j) = _printed(E, p_e), _printed(J, p_j)
        assert t_e == t_j, f"engine:\n{t_e}\njax:\n{t_j}"
        np.testing.assert_allclose(r_e, r_j, rtol=1e-6)


def _while_types(text):
    line = next(ln for ln in text.splitlines() if "stablehlo.while(" in ln)
    return line.rsplit(" : ", 1)[1].strip()


def test_lowering_of_unordered_callbacks_and_scan_bodies_as_jax():
    def prog(m):
        def f(k, xs, zs):
            def step(c, x):
                x, z = x
                m.jax.debug.print("{}", x)
                return c + x * k, (c * z, c)

            return m.lax.scan(step, np.float32(0), (xs, zs))

        a = np.arange(3, dtype=np.float32)
        return m.jax.jit(f).lower(np.float32(3), a, a).as_text()

    t_e, t_j = prog(E), prog(J)
    # the loop state in JAX's order: xs, consts, counter, carry, ys
    assert _while_types(t_e) == _while_types(t_j)
    for t in (t_e, t_j):
        assert "func.call @closed_call(" in t
        # an unordered print takes no token and gives none
        call = next(ln for ln in t.splitlines() if "xla_ffi_python_cpu_callback" in ln)
        assert call.rstrip().endswith("-> ()") and "token" not in call
