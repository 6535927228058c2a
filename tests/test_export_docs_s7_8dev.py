"""export.md's device-polymorphic export as JAX's docs run it (8 CPU devices), engine vs
JAX 0.10.2: an export over an AbstractMesh, one over 4 concrete devices, and calls of
the first on two other meshes of 4 devices (where the results' shards live)."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest

CASES, case = eight_devices.case_registry()


def _page(lib):
    from_mod = lib.sharding
    P = from_mod.PartitionSpec
    export_mesh = from_mod.AbstractMesh((4,), ("a",))

    def f(x):
        return x.T

    def spec(mesh):
        sharding = from_mod.NamedSharding(mesh, P("a"))
        return lib.ShapeDtypeStruct((32,), dtype=np.int32, sharding=sharding)

    exp = lib.export.export(lib.jit(f))(spec(export_mesh))
    concrete_mesh = from_mod.Mesh(lib.local_devices()[:4], ("a",))
    exp2 = lib.export.export(lib.jit(f))(spec(concrete_mesh))
    arg = lib.device_put(lib.numpy.arange(8 * 4), from_mod.NamedSharding(concrete_mesh, P("a")))
    res1 = exp.call(arg)
    devices = np.array(lib.local_devices()[2:6]).reshape((2, 2))
    other_mesh = from_mod.Mesh(devices, ("b", "c"))
    res2 = exp.call(lib.device_put(arg, from_mod.NamedSharding(other_mesh, P("b"))))
    wrong = eight_devices.attempt(lambda: exp.call(lib.device_put(arg, lib.local_devices()[0])))[1]
    return {
        "nr_devices": (exp.nr_devices, exp2.nr_devices),
        "in_shardings": repr(exp.in_shardings_jax(export_mesh)),
        "in_shardings2": repr(exp2.in_shardings_jax(export_mesh)),
        "module": exp.mlir_module().split("#loc =")[0],
        "res1": [f"device={s.device} index={s.index}" for s in res1.addressable_shards],
        "res2": [f"device={s.device} index={s.index}" for s in res2.addressable_shards],
        "values": (np.asarray(res1).tolist(), np.asarray(res2).tolist()),
        "one_device_call": wrong,
    }


@case
def device_polymorphic_export_page():
    eight_devices.assert_same_by_name(_page)


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_docs_s7_8dev_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
