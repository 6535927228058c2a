"""engine.runtime against NumPy and against what XLA itself reports."""

import gc
import os
import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func, stablehlo

from engine import runtime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Aval:
    def __init__(s, shape, dtype, weak_type=False):
        s.shape = tuple(shape)
        s.dtype = np.dtype(dtype)
        s.weak_type = weak_type


def add_sine_module(shape=(3,), dtype=ir.F32Type.get, named=False, line=12):
    """MLIR text for ``sin(a + b)`` with a file location user.py:<line>:1."""
    ctx = runtime.make_mlir_context()
    with ctx, ir.Location.file("user.py", line, 1):
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            t = ir.RankedTensorType.get(shape, dtype())

            @func.FuncOp.from_py_func(t, t, name="main")
            def main(a, b):
                if named:
                    with ir.Location.name("add.eqn1", childLoc=ir.Location.file("user.py", 13, 5)):
                        s = stablehlo.add(a, b)
                else:
                    s = stablehlo.add(a, b)
                return stablehlo.sine(s)

        return module.operation.get_asm(enable_debug_info=True)


def add_module(shape=(1,)):
    ctx = runtime.make_mlir_context()
    with ctx, ir.Location.file("user.py", 3, 1):
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            t = ir.RankedTensorType.get(shape, ir.F32Type.get())

            @func.FuncOp.from_py_func(t, t, name="main")
            def main(a, b):
                return stablehlo.add(a, b)

        return module.operation.get_asm(enable_debug_info=True)


@pytest.fixture(scope="module")
def cpu():
    return runtime.devices("cpu")[0]


@pytest.fixture(scope="module")
def add_sine(cpu):
    text = add_sine_module()
    return runtime.compile(text, cpu, [Aval((3,), np.float32)])


def test_version_and_backends(cpu):
    assert runtime.jaxlib_version()[:2] >= (0, 10)
    assert "cpu" in runtime.backends()
    assert runtime.default_backend() in ("cpu", "gpu", "tpu")
    assert runtime.platform_of(cpu) == "cpu"
    assert cpu in runtime.devices("cpu")
    assert runtime.platform_of(runtime.default_device()) == runtime.default_backend()
    with pytest.raises(RuntimeError, match="not available"):
        runtime.devices("no-such-backend")


def test_mlir_context_has_dialects():
    ctx = runtime.make_mlir_context()
    for op in ("func.func", "func.return", "stablehlo.add", "chlo.erf"):
        assert ctx.is_registered_operation(op), op
    text = add_sine_module()
    assert 'loc("user.py":12:1)' in text
    assert "stablehlo.sine" in text


def test_compile_and_run_matches_numpy(add_sine, cpu):
    a = np.array([0.5, -1.0, 2.0], np.float32)
    b = np.array([1.0, 0.25, -3.0], np.float32)
    out = add_sine([runtime.device_put(a, cpu), runtime.device_put(b, cpu)])
    assert len(out) == 1
    got = runtime.to_numpy(out[0])
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(got, np.sin(a + b), rtol=1e-6)
    assert runtime.buffer_device(out[0]) == cpu
    assert add_sine.device == cpu
    assert add_sine.mlir_text.startswith("#loc") or "module" in add_sine.mlir_text


def test_optimized_hlo_keeps_source_location(add_sine):
    hlo = add_sine.hlo_text()
    assert "fusion" in hlo
    assert 'source_file="user.py"' in hlo
    assert "source_line=12" in hlo


def test_named_location_becomes_op_name_and_stack_frame(cpu):
    exe = runtime.compile(add_sine_module(named=True), cpu, [Aval((3,), np.float32)])
    hlo = exe.hlo_text()
    # A name wrapping a file location: the instruction is named after it, and the
    # file/line go through the module's stack frame tables rather than source_file=.
    assert "add_eqn1" in hlo
    assert 'op_name="add.eqn1"' in hlo
    assert "stack_frame_id=" in hlo
    assert "FileLocations" in hlo and "line=13" in hlo


def test_pre_optimization_hlo_has_metadata():
    text = runtime.mlir_to_hlo_text(add_sine_module())
    assert "ENTRY" in text and "add(" in text and "sine(" in text
    assert "fusion" not in text
    assert 'source_file="user.py"' in text and "source_line=12" in text


def test_dump_dir_gets_every_pass(tmp_path, cpu):
    runtime.compile(add_sine_module(), cpu, [Aval((3,), np.float32)], dump_dir=str(tmp_path))
    names = os.listdir(tmp_path)
    assert any(n.endswith("before_optimizations.txt") for n in names)
    assert any("after_optimizations" in n for n in names)
    per_pass = [n for n in names if ".after_" in n and n.endswith(".txt")]
    assert len(per_pass) >= 3, names


def test_cost_and_memory_analysis(add_sine):
    cost = add_sine.cost_analysis()
    assert cost["flops"] >= 3  # three adds at least
    assert cost["bytes accessed"] >= 3 * 4 * 3
    mem = add_sine.memory_analysis()
    assert mem.argument_size_in_bytes == 2 * 3 * 4
    assert mem["output_size_in_bytes"] == 3 * 4
    for field in ("alias_size_in_bytes", "temp_size_in_bytes", "generated_code_size_in_bytes"):
        assert field in mem


def test_compile_options(cpu):
    text = add_sine_module()
    exe = runtime.compile(
        text,
        cpu,
        [Aval((3,), np.float32)],
        options={"xla_cpu_enable_fast_math": False, "xla_backend_optimization_level": 1},
    )
    a = np.ones(3, np.float32)
    np.testing.assert_allclose(
        runtime.to_numpy(exe([runtime.device_put(a, cpu)] * 2)[0]), np.sin(a + a), rtol=1e-6
    )
    with pytest.raises(ValueError, match="not_an_option"):
        runtime.compile(text, cpu, [Aval((3,), np.float32)], options={"not_an_option": 1})
    with pytest.raises(ValueError, match="xla_made_up_flag"):
        runtime.compile(text, cpu, [Aval((3,), np.float32)], options={"xla_made_up_flag": True})
    with pytest.raises(ValueError, match="wrong type"):
        runtime.compile(
            text, cpu, [Aval((3,), np.float32)], options={"xla_cpu_enable_fast_math": "yes"}
        )


def test_donation_deletes_the_input(cpu):
    exe = runtime.compile(add_module((4,)), cpu, [Aval((4,), np.float32)], donated=(0,))
    assert "input_output_alias" in exe.hlo_text()
    x = runtime.device_put(np.arange(4, dtype=np.float32), cpu)
    y = runtime.device_put(np.ones(4, np.float32), cpu)
    out = exe([x, y])
    np.testing.assert_array_equal(runtime.to_numpy(out[0]), np.arange(4) + 1)
    assert x.is_deleted() and not y.is_deleted()


DTYPES = [
    np.float32,
    np.float64,
    np.float16,
    ml_dtypes.bfloat16,
    ml_dtypes.float8_e4m3fn,
    ml_dtypes.float8_e5m2,
    ml_dtypes.int4,
    ml_dtypes.uint4,
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint32,
    np.uint64,
    np.bool_,
    np.complex64,
    np.complex128,
]


@pytest.mark.parametrize("shape", [(), (0,), (2, 3), (3, 0, 2)])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_device_put_round_trip(dtype, shape, cpu):
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    if np.dtype(dtype) == np.bool_:
        x = rng.integers(0, 2, n).astype(bool)
    elif np.dtype(dtype).kind == "c":
        x = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    else:
        x = (rng.integers(0, 7, n)).astype(dtype)
    x = x.reshape(shape)
    buf = runtime.device_put(x, cpu)
    y = runtime.to_numpy(buf)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, x)
    assert buf.aval.shape == shape and buf.aval.dtype == x.dtype and buf.aval.weak_type is False


def test_device_put_weak_type_non_contiguous_and_copy_semantics(cpu):
    assert runtime.device_put(np.float32(2.0), cpu, weak_type=True).aval.weak_type is True
    t = np.arange(12, dtype=np.float32).reshape(3, 4).T
    np.testing.assert_array_equal(runtime.to_numpy(runtime.device_put(t, cpu)), t)
    big = np.zeros(1 << 20, np.float32)  # large enough that jaxlib's ZERO_COPY would alias it
    buf = runtime.device_put(big, cpu)
    big[0] = 5.0
    assert runtime.to_numpy(buf)[0] == 0.0
    assert not runtime.to_numpy(buf).flags.writeable


def test_copy_to_device_and_delete(cpu):
    x = np.arange(5, dtype=np.int32)
    buf = runtime.device_put(x, cpu)
    other = runtime.devices("cpu")[-1]
    moved = runtime.copy_to_device(buf, other)
    assert runtime.buffer_device(moved) == other
    runtime.delete(buf)
    assert buf.is_deleted()
    np.testing.assert_array_equal(runtime.to_numpy(moved), x)


def test_zero_inputs_zero_d_and_empty_outputs(cpu):
    ctx = runtime.make_mlir_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            s = ir.RankedTensorType.get((), ir.BF16Type.get())
            e = ir.RankedTensorType.get((0, 2), ir.F32Type.get())

            @func.FuncOp.from_py_func(name="main")
            def main():
                c = stablehlo.constant(
                    ir.DenseElementsAttr.get(np.array(1.5, ml_dtypes.bfloat16), type=s)
                )
                z = stablehlo.constant(
                    ir.DenseElementsAttr.get(np.zeros((0, 2), np.float32), type=e)
                )
                return c, z

        text = str(module)
    exe = runtime.compile(text, cpu, [Aval((), ml_dtypes.bfloat16), Aval((0, 2), np.float32)])
    c, z = exe([])
    assert runtime.to_numpy(c).dtype == ml_dtypes.bfloat16 and runtime.to_numpy(c) == 1.5
    assert runtime.to_numpy(z).shape == (0, 2)


def test_no_leak_over_many_calls(cpu):
    exe = runtime.compile(add_module(), cpu, [Aval((1,), np.float32)])
    x = runtime.device_put(np.ones(1, np.float32), cpu)
    for _ in range(10):  # warm up: first calls may allocate caches
        out = exe([x, x])
        del out
    gc.collect()
    before = runtime.live_buffer_count("cpu")
    for _ in range(1000):
        out = exe([x, x])
        del out
    gc.collect()
    assert runtime.live_buffer_count("cpu") == before


def test_no_jax_import_in_a_fresh_interpreter():
    # A meta-path hook records every attempt to import jax, even a failed one
    # (jaxlib's execute() tries `import jax` on every call when jax is absent).
    code = textwrap.dedent("""
        import sys
        attempts = []
        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "jax" or name.startswith("jax."):
                    attempts.append(name)
                return None
        sys.meta_path.insert(0, Spy())
        import numpy as np
        from engine import runtime
        from tests.test_runtime import add_sine_module, Aval
        dev = runtime.default_device()
        exe = runtime.compile(add_sine_module(), dev, [Aval((3,), np.float32)])
        a = runtime.device_put(np.ones(3, np.float32), dev)
        out = exe([a, a])
        value = runtime.to_numpy(out[0])
        exe.hlo_text(); exe.cost_analysis(); exe.memory_analysis()
        runtime.mlir_to_hlo_text(exe.mlir_text)
        assert abs(value[0] - np.sin(2.0)) < 1e-6, value
        # Dtypes the buffer protocol cannot export take a different read-back path.
        import ml_dtypes
        for dt in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.int4):
            x = np.arange(6).reshape(2, 3).astype(dt)
            y = runtime.to_numpy(runtime.device_put(x, dev))
            assert y.dtype == x.dtype and (y.astype(float) == x.astype(float)).all(), (dt, y)
        assert "jax" not in sys.modules, sorted(m for m in sys.modules if m.startswith("jax."))
        assert not attempts, attempts
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_jax_platforms_cpu_only_in_fresh_interpreter():
    code = textwrap.dedent("""
        from engine import runtime
        assert set(runtime.backends()) == {"cpu"}, runtime.backends()
        assert runtime.default_backend() == "cpu"
        print("ok")
    """)
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        JAX_NUM_CPU_DEVICES="3",
        PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    code += "assert len(runtime.devices('cpu')) == 3\n"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_set_cpu_device_count_after_start_raises():
    runtime.backends()
    with pytest.raises(RuntimeError, match="before"):
        runtime.set_cpu_device_count(2)


def _gpu_device():
    try:
        return runtime.devices("gpu")[0]
    except RuntimeError:
        return None


@pytest.mark.gpu
@pytest.mark.skipif(_gpu_device() is None, reason="no GPU PJRT plugin installed/started")
def test_gpu_compile_run_and_transfer():
    gpu = _gpu_device()
    assert runtime.platform_of(gpu) == "gpu"
    assert runtime.default_backend() == "gpu"
    exe = runtime.compile(add_sine_module(), gpu, [Aval((3,), np.float32)])
    a = np.array([0.5, -1.0, 2.0], np.float32)
    out = exe([runtime.device_put(a, gpu), runtime.device_put(a, gpu)])
    np.testing.assert_allclose(runtime.to_numpy(out[0]), np.sin(a + a), rtol=1e-5)
    assert runtime.buffer_device(out[0]) == gpu
    for dtype in (ml_dtypes.bfloat16, np.bool_, np.complex64):
        x = np.arange(6).reshape(2, 3).astype(dtype)
        np.testing.assert_array_equal(runtime.to_numpy(runtime.device_put(x, gpu)), x)
    back = runtime.copy_to_device(out[0], runtime.devices("cpu")[0])
    assert runtime.platform_of(runtime.buffer_device(back)) == "cpu"
    np.testing.assert_allclose(runtime.to_numpy(back), np.sin(a + a), rtol=1e-5)
    assert "source_line=12" in exe.hlo_text()
    assert runtime.live_buffer_count("gpu") > 0
