"""The jit call fast path and the eager primitive path keep JAX's semantics: outputs,
dtypes and weak types, config flags flipped between calls, errors from the hot path."""

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_close, real_jax, weak_type_of

import engine
import engine.numpy as ejnp
from engine import lax as elax


def _both(make):
    """``make(jit, jnp)`` for the engine and for JAX."""
    jax, jnp = real_jax()
    return make(engine.jit, ejnp), make(jax.jit, jnp)


def _assert_same(a, b):
    assert_close(a, b)
    ea, _ = engine.tree_util.tree_flatten(a)
    jax, _ = real_jax()
    ja, _ = jax.tree_util.tree_flatten(b)
    assert [weak_type_of(x) for x in ea] == [weak_type_of(x) for x in ja]
    assert [type(x) is engine.Array for x in ea] == [True] * len(ea)


@pytest.mark.parametrize(
    "body",
    [
        lambda jnp: lambda x: x + 1.0,  # one bare output
        lambda jnp: lambda x: (x, [x * 2, None]),  # a tree with a None
        lambda jnp: lambda x: {"b": x, "a": jnp.sum(x)},
        lambda jnp: lambda x: (),  # no outputs at all
    ],
)
def test_outputs_of_every_shape_match_jax_on_repeated_calls(body):
    (ef, ex), (jf, jx) = _both(lambda jit, jnp: (jit(body(jnp)), jnp.arange(3, dtype=jnp.float32)))
    for _ in range(3):  # first call compiles; later ones take the fast path
        _assert_same(ef(ex), jf(jx))


def test_weak_and_strong_arguments_are_separate_signatures_as_jax():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x: x * 2), jax.jit(lambda x: x * 2)
    for _ in range(2):
        for make in (lambda m: m.asarray(1.0), lambda m: m.float32(1.0)):
            _assert_same(ef(make(ejnp)), jf(make(jnp)))
    assert ef.compile_count == 2


def test_mixed_leaves_share_the_entry_of_the_all_array_call():
    """A NumPy leaf takes the tree path; it finds the program the all-Array call made."""
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, y: x * y), jax.jit(lambda x, y: x * y)
    ex, jx = ejnp.ones((4,), ejnp.float32), jnp.ones((4,), jnp.float32)
    host = np.full((4,), 3.0, np.float32)
    _assert_same(ef(ex, ex), jf(jx, jx))
    _assert_same(ef(ex, host), jf(jx, host))
    _assert_same(ef(host, ex), jf(host, jx))
    assert ef.compile_count == 1
    _assert_same(ef(ex, 2.0), jf(jx, 2.0))  # a weak scalar: another signature
    assert ef.compile_count == 2


def test_debug_nans_turned_on_after_fast_calls_is_honoured_as_jax():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x: jnp_log(ejnp, x)), jax.jit(lambda x: jnp_log(jnp, x))
    ex, jx = ejnp.asarray([-1.0, 1.0]), jnp.asarray([-1.0, 1.0])
    for _ in range(2):
        _assert_same(ef(ex), jf(jx))
    for cfg in (engine.config, jax.config):
        cfg.update("jax_debug_nans", True)
    try:
        # JAX raises here in a fresh process; late in a whole-suite worker its own cached
        # state sometimes lets the call through, so JAX is not held to it (the engine is)
        with pytest.raises(FloatingPointError) as ee:
            ef(ex)
        assert "nan" in str(ee.value).lower()
    finally:
        for cfg in (engine.config, jax.config):
            cfg.update("jax_debug_nans", False)
    _assert_same(ef(ex), jf(jx))


def jnp_log(jnp, x):
    return jnp.log(x)


def test_disable_jit_after_fast_calls_runs_python_each_call_as_jax():
    jax, _ = real_jax()
    counts = {"engine": 0, "jax": 0}

    def make(side):
        def f(x):
            counts[side] += 1
            return x + 1

        return f

    ef, jf = engine.jit(make("engine")), jax.jit(make("jax"))
    ex, jx = ejnp.ones((2,)), real_jax()[1].ones((2,))
    for _ in range(3):
        ef(ex), jf(jx)
    with engine.disable_jit(), jax.disable_jit():
        for _ in range(3):
            _assert_same(ef(ex), jf(jx))
    ef(ex), jf(jx)
    assert counts["engine"] == counts["jax"] == 4  # one trace + three un-jitted runs


def test_deleted_argument_on_the_fast_path_raises_jax_error():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x: x + 1), jax.jit(lambda x: x + 1)
    ex, jx = ejnp.ones((3,)), jnp.ones((3,))
    ef(ex), jf(jx)
    ex.delete(), jx.delete()
    with pytest.raises(RuntimeError, match="Array has been deleted") as je:
        jf(jx)
    with pytest.raises(RuntimeError, match="Array has been deleted") as ee:
        ef(ex)
    assert type(ee.value) is type(je.value)


def test_wrong_argument_type_on_a_cached_function_raises_jax_error_class():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x: x + 1), jax.jit(lambda x: x + 1)
    ef(ejnp.ones(2)), jf(jnp.ones(2))
    with pytest.raises(TypeError) as je:
        jf("a string")
    with pytest.raises(TypeError) as ee:
        ef("a string")
    assert "Error interpreting argument" in str(je.value)
    assert "Error interpreting argument" in str(ee.value)


def test_eager_ops_with_float_and_unhashable_params_match_jax():
    jax, jnp = real_jax()
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    for _ in range(2):  # second round hits the eager executable cache
        _assert_same(
            elax.pad(ejnp.asarray(x), -0.0, [(1, 0, 0), (0, 1, 1)]),
            jax.lax.pad(jnp.asarray(x), -0.0, [(1, 0, 0), (0, 1, 1)]),
        )
        _assert_same(
            elax.pad(ejnp.asarray(x), 0.0, ((1, 0, 0), (0, 1, 1))),
            jax.lax.pad(jnp.asarray(x), 0.0, ((1, 0, 0), (0, 1, 1))),
        )
        ea, ja = ejnp.asarray(x), jnp.asarray(x)
        _assert_same(ea * ea, ja * ja)
        _assert_same(ea * 2, ja * 2)
        _assert_same(elax.mul(ea, ea), jax.lax.mul(ja, ja))


DEVICE_SCRIPT = """
import sys
if sys.argv[1] == "jax":
    import jax, jax.numpy as jnp
else:
    import engine as jax, engine.numpy as jnp
d = jax.devices()
x = jnp.arange(4.0)
y = jnp.ones(4)
cx = jax.device_put(x, d[1])
cy = jax.device_put(y, d[2])
f = jax.jit(lambda a: a * 3)
g = jax.jit(lambda a, b: a - b)
def where(v):
    return (sorted(dv.id for dv in v.devices()), v.committed, v.tolist())
for _ in range(2):  # the second round runs from the caches
    print(where(cx * y), where(y * cx), where(x * y), where(-cx))
    print(where(f(cx)), where(f(x)), where(g(cx, y)), where(g(y, cx)))
    for bad in (lambda: cx * cy, lambda: g(cx, cy)):
        try:
            bad()
            print("no error")
        except ValueError as e:
            print("ValueError", "incompatible devices" in str(e).lower())
"""


def test_operands_on_other_devices_pick_the_committed_one_as_jax():
    """Eager binary/unary ops and jitted calls with committed operands on other devices
    (each in a fresh 4-device process, for the engine and for JAX)."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    env.pop("JAX_NUM_CPU_DEVICES", None)
    outs = {}
    for lib in ("engine", "jax"):
        r = subprocess.run(
            [sys.executable, "-c", DEVICE_SCRIPT, lib],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        outs[lib] = r.stdout.splitlines()
    assert outs["engine"] == outs["jax"]
