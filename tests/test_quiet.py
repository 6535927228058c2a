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
