"""What the trace and the lowering remember between equations (rank-0 avals of Python
scalars and NumPy scalars, tensor types per MLIR context, a literal's constant attribute
per module) never changes what they produce: programs full of repeated, signed-zero, NaN
and mixed-type literals lower to JAX's StableHLO text, under x64 as well, and lowering
in several threads at once gives each module its own types."""

import gc
import sys
import threading
import weakref
from pathlib import Path

import jax
import jax.numpy as jjnp
import numpy as np
import pytest

import engine
import engine.numpy as ejnp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from workloads import _long_program  # noqa: E402


def _numpy_literals(jnp):
    def f(x, i):
        a = x * -0.0 + x * 0.0 + 0.0 * x - (-0.0)
        b = x * jnp.nan + x * np.float32(np.nan) + x * 1 + x * 1.0 + x * True
        c = i * 1 + i * True + (i + 300).astype(jnp.int8) + np.int8(-128) * np.int8(1)
        d = x * np.float32(-0.0) + x * np.float32(0.0) + x * 2.5 + x * 2.5
        return a, b, c, d

    return f


def _weak_literals(jnp):
    lax = jax.lax if jnp is jjnp else engine.lax

    def f(x, i):
        a = lax.add(lax.mul(x, -0.0), lax.mul(x, 0.0))
        b = lax.add(lax.mul(x, 2.0), lax.mul(x, 2.0))
        c = lax.add(lax.mul(x, float("nan")), lax.mul(x, -0.0))
        d = lax.add(lax.mul(i, 1), lax.mul(i, 1))
        return a, b, c, d

    return f


@pytest.mark.parametrize("make", [_numpy_literals, _weak_literals])
def test_repeated_literals_lower_and_run_as_jax(make):
    x = np.array([1.0, -2.0, 0.0, 3.5], np.float32)
    i = np.arange(4, dtype=np.int32)
    ours = engine.jit(make(ejnp)).lower(x, i).as_text()
    theirs = jax.jit(make(jjnp)).lower(x, i).as_text()
    assert ours == theirs
    for a, b in zip(engine.jit(make(ejnp))(x, i), jax.jit(make(jjnp))(x, i)):
        a, b = np.asarray(a), np.asarray(b)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))  # -0.0 stays -0.0


def test_long_program_lowers_to_jax_text():
    x = np.ones(4, np.float32)
    ours = engine.jit(_long_program(ejnp)).lower(x).as_text()
    assert ours == jax.jit(_long_program(jjnp)).lower(x).as_text()


def test_scalar_avals_follow_x64():
    def f(x, i):
        return x * 2.5 + 3 + np.float32(1.5), i * 3 + np.array(2, np.int64) * True

    x, i = np.arange(3, dtype=np.float32), np.arange(3, dtype=np.int32)
    before = str(engine.make_jaxpr(f)(x, i))
    assert before == str(jax.make_jaxpr(f)(x, i))
    engine.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_x64", True)
    try:
        x64, i64 = x.astype(np.float64), i.astype(np.int64)
        ours = str(engine.make_jaxpr(f)(x64, i64))
        assert ours == str(jax.make_jaxpr(f)(x64, i64))
        assert "3:i64[]" in ours and "2.5:f64[]" in ours
        assert engine.jit(f).lower(x64, i64).as_text() == jax.jit(f).lower(x64, i64).as_text()
    finally:
        engine.config.update("jax_enable_x64", False)
        jax.config.update("jax_enable_x64", False)
    assert str(engine.make_jaxpr(f)(x, i)) == before


def test_lowering_in_threads_keeps_each_modules_types():
    shapes = {"f32": (np.float32, (4,)), "i32": (np.int32, (2, 3)), "f16": (np.float16, (5,))}

    def make(dtype):
        def f(x):
            for _ in range(30):
                x = x * dtype(3) + x
            return x

        return f

    expected = {k: jax.jit(make(d)).lower(np.ones(s, d)).as_text() for k, (d, s) in shapes.items()}
    got: dict[str, list] = {k: [] for k in shapes}
    errors: list = []

    def worker(key):
        dtype, shape = shapes[key]
        try:
            for _ in range(15):
                got[key].append(engine.jit(make(dtype)).lower(np.ones(shape, dtype)).as_text())
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in shapes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in shapes:
        assert len(got[k]) == 15 and set(got[k]) == {expected[k]}


def test_a_dropped_lowering_frees_its_mlir_context():
    # the type cache must not keep the last context (and all it uniqued) alive
    big = np.arange(4096, dtype=np.float32)
    lowered = engine.jit(lambda x: x * big + 1.0).lower(np.ones(4096, np.float32))
    assert "stablehlo.multiply" in lowered.as_text()
    context = weakref.ref(lowered._ctx)
    del lowered
    gc.collect()
    assert context() is None
