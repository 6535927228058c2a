"""Ctrl-C during an XLA compile returns a KeyboardInterrupt promptly and never crashes
(issue 12, item 1). Signals are sent to a subprocess; the bounds on how soon control
comes back are generous (shared machines), the point is "not after the compile"."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A program whose XLA compile takes seconds: the SIGINTs land inside it.
_PRELUDE = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    # as an interactive Python has it, even when the test runner's process ignores
    # SIGINT (a child then inherits SIG_IGN and Python installs no handler of its own)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {root!r})
    import engine as jax
    import engine.numpy as jnp

    def big(x):
        for i in range(1200):
            x = jnp.sin(x) * (1 + i * 1e-3) + jnp.cos(x * 0.5)
        return x

    def sigint_in(delay):
        def kick():
            time.sleep(delay)
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=kick, daemon=True).start()

    lowered = jax.jit(big).lower(jnp.ones(3))
    """
)


def run_interrupted_child(body, timeout=240):
    """Runs ``body`` after the prelude (``lowered``, ``sigint_in``) in a fresh Python;
    scripts/reliability_figures.py counts its crashes with the same child."""
    code = _PRELUDE.format(root=ROOT) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )


def test_three_sigints_during_compile_then_jit_works():
    r = run_interrupted_child(
        """
        for delay in (0.05, 0.3, 0.8):
            sigint_in(delay)
            t0 = time.perf_counter()
            try:
                lowered.compile()
                print("NOT INTERRUPTED", flush=True)
            except KeyboardInterrupt:
                print("interrupted after %.2f s" % (time.perf_counter() - t0 - delay), flush=True)
        print("small", jax.jit(lambda x: x * 2 + 1)(jnp.arange(3.0)).tolist(), flush=True)
        print("eager", (jnp.ones(2) + 1).tolist(), flush=True)
        """
    )
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-3000:])
    lines = r.stdout.splitlines()
    waits = [float(x.split()[2]) for x in lines if x.startswith("interrupted after")]
    assert len(waits) == 3, r.stdout
    # XLA holds the GIL for a moment while it parses a module; beyond that, the
    # interrupt must not wait for the compile (seconds here) to finish.
    assert max(waits) < 5.0, waits
    assert "small [1.0, 3.0, 5.0]" in r.stdout
    assert "eager [2.0, 2.0]" in r.stdout


def test_uncaught_sigint_during_compile_exits_as_keyboard_interrupt():
    r = run_interrupted_child(
        """
        sigint_in(0.3)
        lowered.compile()
        print("NOT INTERRUPTED", flush=True)
        """
    )
    assert r.returncode != -11, r.stderr[-3000:]
    # Python exits with SIGINT's status (-2) after an uncaught KeyboardInterrupt
    assert r.returncode in (-2, 130, 1), (r.returncode, r.stderr[-3000:])
    assert "KeyboardInterrupt" in r.stderr
    assert "NOT INTERRUPTED" not in r.stdout


def test_interrupted_compile_then_same_program_compiles_and_runs():
    r = run_interrupted_child(
        """
        sigint_in(0.2)
        try:
            lowered.compile()
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        out = lowered.compile()(jnp.ones(3))
        import numpy as np
        print("finite", bool(np.isfinite(np.asarray(out)).all()), flush=True)
        """
    )
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-3000:])
    assert "interrupted" in r.stdout and "finite True" in r.stdout


def test_jupyter_interrupt_during_compile():
    pytest.importorskip("ipykernel")
    jupyter_client = pytest.importorskip("jupyter_client")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        setup = _PRELUDE.format(root=ROOT)
        setup += "\nlowered2 = jax.jit(big).lower(jnp.ones(4))\n"  # a second, distinct program
        reply = kc.execute_interactive(setup, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        outcomes = []
        for name, delay in (("lowered", 0.2), ("lowered2", 0.6)):
            # stop_on_error=False: the KeyboardInterrupt must not make the kernel abort
            # the requests queued behind it (ipykernel does that for a short window).
            msg_id = kc.execute(f"{name}.compile()", stop_on_error=False)
            time.sleep(delay)
            t0 = time.monotonic()
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=60)
            outcomes.append((reply["content"].get("ename"), time.monotonic() - t0))
        assert [o[0] for o in outcomes] == ["KeyboardInterrupt"] * 2, outcomes
        assert max(o[1] for o in outcomes) < 5.0, outcomes
        reply = kc.execute_interactive(
            "print(jax.jit(lambda x: x + 1)(jnp.ones(2)).tolist())", timeout=60
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        assert km.is_alive()
    finally:
        km.shutdown_kernel(now=True)


def test_sigint_during_a_long_execute_is_safe():
    """An execute is not moved off the main thread (that would cost every call); the
    KeyboardInterrupt comes when XLA's run returns, and nothing crashes."""
    r = run_interrupted_child(
        """
        from engine import lax
        import numpy as np
        loop = jax.jit(lambda x: lax.fori_loop(0, 20_000_000, lambda i, c: jnp.sin(c) + 1e-3, x))
        x = jnp.ones(16)
        loop.lower(x).compile()
        sigint_in(0.3)
        try:
            np.asarray(loop(x))
            print("NOT INTERRUPTED", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        print("small", jax.jit(lambda x: x + 1)(jnp.ones(2)).tolist(), flush=True)
        """
    )
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-3000:])
    assert "small [2.0, 2.0]" in r.stdout
