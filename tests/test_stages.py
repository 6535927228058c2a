"""The ahead-of-time stages (trace -> lower -> compile -> call), XLA options and dumps,
devices and x64, checked against real JAX where it has the same API."""

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp


def f(x, y):
    return enp.sum(enp.sin(x) * y)


def test_trace_lower_compile_call_matches_jax():
    jax, jnp = real_jax()
    x = np.linspace(0, 1, 8).astype(np.float32)
    y = np.float32(3.0)
    traced = engine.jit(f).trace(x, y)
    assert str(traced.jaxpr) == str(jax.jit(lambda x, y: jnp.sum(jnp.sin(x) * y)).trace(x, y).jaxpr)
    lowered = traced.lower()
    text = lowered.as_text()
    assert "stablehlo.sine" in text and "func.func public @main" in text
    assert "loc(" in lowered.as_text(debug_info=True)
    hlo = lowered.as_text(dialect="hlo")
    assert hlo.startswith("HloModule") and "sine(" in hlo
    compiled = lowered.compile()
    assert "fusion" in compiled.as_text()
    cost = compiled.cost_analysis()
    assert cost["flops"] > 0 and "bytes accessed" in cost
    mem = compiled.memory_analysis()
    assert mem["argument_size_in_bytes"] == 8 * 4 + 4
    assert_close(compiled(x, y), jax.jit(lambda x, y: jnp.sum(jnp.sin(x) * y))(x, y))
    with pytest.raises(TypeError):
        compiled(np.ones(3, np.float32), y)


def test_compile_keeps_module_after_every_pass(tmp_path):
    lowered = engine.jit(f).lower(np.ones(4, np.float32), np.float32(2))
    compiled = lowered.compile(dump_passes=True, dump_dir=str(tmp_path))
    files = compiled.dump_files()
    assert any("before_optimizations" in n for n in files)
    assert any("after_optimizations" in n for n in files)
    assert sum(".after_" in n for n in files) > 3
    assert any("fusion" in n for n in files), files


def test_compiler_options_are_passed_to_xla():
    lowered = engine.jit(f).lower(np.ones(4, np.float32), np.float32(2))
    compiled = lowered.compile(compiler_options={"xla_cpu_enable_fast_math": False})
    assert np.isfinite(float(compiled(np.ones(4, np.float32), np.float32(2))))
    with pytest.raises(ValueError):
        lowered.compile(compiler_options={"not_an_option": 1})


def test_eval_shape_and_shape_dtype_struct():
    s = engine.eval_shape(
        lambda x: (x @ x.T, x.sum()) if hasattr(enp, "matmul") else (x, x.sum()),
        engine.ShapeDtypeStruct((3, 4), np.float32),
    )
    assert s[1].shape == () and s[1].dtype == np.float32
    t = engine.jit(lambda x: x * 2).trace(engine.ShapeDtypeStruct((5,), np.int32))
    assert t.jaxpr.out_avals[0].shape == (5,)


def test_devices_and_placement():
    devs = engine.devices()
    # the default backend is the best device present (a GPU where a PJRT plugin is installed)
    assert (
        devs
        and engine.default_backend()
        == {"cpu": "cpu", "cuda": "gpu", "rocm": "gpu", "gpu": "gpu", "tpu": "tpu"}[
            devs[0].platform
        ]
    )
    x = engine.device_put(np.arange(3.0, dtype=np.float32), devs[0])
    assert x.device == devs[0] and x.committed
    y = engine.jit(lambda a: a + 1, device=devs[0])(x)
    assert y.device == devs[0]
    assert engine.device_get({"a": x})["a"].tolist() == [0.0, 1.0, 2.0]


def test_x64_flag():
    jax, jnp = real_jax()
    assert enp.ones(2).dtype == np.float32
    with pytest.warns(UserWarning):
        assert enp.zeros(2, np.float64).dtype == np.float32
    engine.config.update("jax_enable_x64", True)
    try:
        assert enp.ones(2).dtype == np.float64
        assert (enp.ones(2) * 2).dtype == np.float64
        assert engine.jit(lambda x: x + 1)(np.int64(2**40)).dtype == np.int64
        assert int(engine.jit(lambda x: x + 1)(np.int64(2**40))) == 2**40 + 1
    finally:
        engine.config.update("jax_enable_x64", False)
    assert enp.ones(2).dtype == np.float32


def test_donated_argument_is_deleted():
    g = engine.jit(lambda x: x * 2, donate_argnums=0)
    x = enp.ones(16)
    y = g(x)
    assert np.allclose(y, 2)
    assert x.is_deleted()
