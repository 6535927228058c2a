"""Sharded arrays work where ``jax`` cannot be imported (a user's environment without
JAX). jaxlib builds the per-device pieces of a sharded array with an aval from JAX's
Python code when it can import it, and leaves it None otherwise; the engine must not
depend on it. Runs in a subprocess whose import system refuses ``jax``."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SCRIPT = textwrap.dedent(
    """
    import sys

    class _RefuseJax:
        def find_spec(self, name, path=None, target=None):
            if name == "jax" or name.startswith("jax."):
                raise ImportError("jax is blocked in this test")
            return None

    sys.meta_path.insert(0, _RefuseJax())
    sys.path.insert(0, {root!r})
    import numpy as np
    import engine
    engine.config.update("jax_num_cpu_devices", 8)
    import engine.numpy as jnp
    from engine.sharding import NamedSharding, PartitionSpec as P

    mesh = engine.make_mesh((4, 2), ("x", "y"))
    host = np.arange(32.0, dtype=np.float32).reshape(8, 4)
    x = engine.device_put(host, NamedSharding(mesh, P("x", "y")))
    for shard in x.addressable_shards:
        assert shard.data.shape == (2, 2), shard.data.shape
        np.testing.assert_array_equal(np.asarray(shard.data), host[shard.index])
    np.testing.assert_array_equal(np.asarray(x), host)
    y = engine.jit(lambda a: (a * 2).sum(0))(x)
    np.testing.assert_array_equal(np.asarray(y), (host * 2).sum(0))
    z = jnp.sin(x) + 1
    np.testing.assert_allclose(np.asarray(z), np.sin(host) + 1, rtol=1e-6)
    print("ok", len(x.addressable_shards), y.sharding.spec)
    """
)


def test_sharded_arrays_without_jax():
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(root=ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("ok 8"), r.stdout
