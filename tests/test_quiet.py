"""Glassjax prints nothing of jaxlib's C++ logs unless asked (TF_CPP_MIN_LOG_LEVEL=0)."""

import os
import subprocess
import sys

SCRIPT = """
import numpy as np
import engine as jax
import engine.numpy as jnp
from notebook_ext.explorer import explore
from notebook_ext.fusion_stepper import fusion_stepper

x = jnp.ones(3) + 1
f = jax.jit(lambda x: jnp.sin(x) * 2.0 + x)
explore(f, np.ones(4, np.float32))
s = fusion_stepper(f, np.ones(4, np.float32), lazy=False)
s.go(1)
print("done")
"""


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )


def test_engine_explorer_and_pass_stepper_write_nothing_to_stderr():
    r = _run({})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("done")
    assert r.stderr == "", r.stderr[-2000:]


def test_logs_come_back_when_asked():
    r = _run({"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "pjrt" in r.stderr.lower() or "dump" in r.stderr.lower(), r.stderr[-2000:]


# Using a donated (or deleted) array: JAX raises RuntimeError("Array has been deleted
# ...") and writes nothing to stderr, except on its warmed C++ fast paths, where PJRT
# logs an ``E...`` line and JAX raises ValueError. Each case runs on both libraries in a
# child process, with a marker on stderr before it so its log lines are its own.
DONATED_SCRIPT = """
import os, sys
if sys.argv[1] == "jax":
    import jax, jax.numpy as jnp
else:
    import engine as jax, engine.numpy as jnp
lax = jax.lax

def deleted():
    x = jnp.ones(3)
    jax.jit(lambda a: a + 1, donate_argnums=0)(x)
    return x

def jit_called_again():
    f = jax.jit(lambda a, b: a + b, donate_argnums=1)
    x, y = jnp.ones(3), jnp.ones(3)
    f(x, y)
    f(x, y)

def other_jit_first_call():
    jax.jit(lambda a: a * 3)(deleted())

def warm_jit():
    g = jax.jit(lambda a: a * 2)
    g(jnp.ones(3))
    g(deleted())

def keyed_jit():
    f = jax.jit(lambda a, n: a * n, static_argnums=1)
    f(jnp.ones(3), 2)
    f(deleted(), 2)

def operator_with_scalar():
    deleted() + 1

def operator_warm():
    y = jnp.ones(3)
    y + y
    deleted() + y

def jnp_function():
    jnp.sin(deleted())

def compiled_call():
    jax.jit(lambda a: a * 2).lower(jnp.ones(3)).compile()(deleted())

def under_vmap():
    jax.vmap(jnp.sin)(deleted())

def under_grad():
    jax.grad(lambda a: jnp.sum(a * a))(deleted())

def explicitly_deleted():
    x = jnp.ones(3)
    x.delete()
    x * 2

for case in sys.argv[2:]:
    os.write(2, ("@@" + case + "\\n").encode())
    try:
        globals()[case]()
        print(case, "ran")
    except Exception as e:
        print(case, type(e).__name__)
    sys.stdout.flush()
"""

DONATED_CASES = [
    "jit_called_again",
    "other_jit_first_call",
    "warm_jit",
    "keyed_jit",
    "operator_with_scalar",
    "operator_warm",
    "jnp_function",
    "compiled_call",
    "under_vmap",
    "under_grad",
    "explicitly_deleted",
]


def _log_lines_per_case(lib):
    """({case: error class name or "ran"}, {case: the lines it wrote to stderr})."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-c", DONATED_SCRIPT, lib, *DONATED_CASES],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = dict(line.split() for line in proc.stdout.splitlines())
    logged: dict[str, list[str]] = {}
    current = None
    for line in proc.stderr.splitlines():
        if line.startswith("@@"):
            current = logged.setdefault(line[2:], [])
        elif line.strip():
            assert current is not None, line
            current.append(line)
    return errors, logged


# JAX's warmed fast paths: PJRT's log line, then ValueError("INVALID_ARGUMENT: Invalid
# buffer passed to Execute() ..."). The engine raises JAX's other error there too.
JAX_FAST_PATH_CASES = {"jit_called_again", "warm_jit", "keyed_jit", "operator_warm"}


def test_using_a_donated_array_raises_jax_error():
    ours, _ = _log_lines_per_case("engine")
    theirs, theirs_logged = _log_lines_per_case("jax")
    for case in DONATED_CASES:
        assert ours[case] == "RuntimeError", (case, ours[case])
        if case in JAX_FAST_PATH_CASES:
            assert theirs[case] == "ValueError" and theirs_logged[case], case
        else:
            assert theirs[case] == "RuntimeError" and not theirs_logged[case], case


def test_using_a_donated_array_writes_nothing_to_stderr():
    _, logged = _log_lines_per_case("engine")
    assert logged == {case: [] for case in DONATED_CASES}, logged
