"""``export`` of a jit partitioned over a mesh against real JAX 0.10.2 on 8 CPU devices
(one child process, tests/eight_devices.py)."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import mesh

CASES, case = eight_devices.case_registry()


def _x(shape=(8, 4)):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def _sharded_jit(lib):
    m = mesh(lib, "Auto")
    s_in = lib.NamedSharding(m, lib.P("X", None))
    s_out = lib.NamedSharding(m, lib.P(None, "Y"))
    return lib.jit(lambda a: a * 2.0, in_shardings=s_in, out_shardings=s_out)


@case
def export_sharded_refused():
    """Not yet implemented in the engine: a clear NotImplementedError, where JAX exports
    a program over 8 devices (never a one-device program in its place)."""
    import jax

    import engine

    theirs = jax.export.export(_sharded_jit(jax))(_x())
    assert theirs.nr_devices == 8
    with pytest.raises(NotImplementedError, match="partitioned over a mesh of 8 devices"):
        engine.export.export(_sharded_jit(engine))(_x())
    # a one-device export still works, as JAX's
    ours = engine.export.export(engine.jit(lambda a: a * 2.0))(_x())
    assert ours.nr_devices == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_sharded_s6_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
