"""transfer_guard (each level x each kind of transfer), Array.delete / is_deleted,
live_arrays, block_until_ready, copy_to_host_async and clear_caches, against real JAX."""

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import engine
import engine.numpy as ejnp
from engine import dispatch
from tests.helpers import real_jax

LEVELS = ["allow", "log", "disallow", "log_explicit", "disallow_explicit"]
PHRASE = "Disallowed host-to-device transfer"


# Each case: (jax, jnp, x, s) -> a thunk doing one transfer (or none), x = ones(3) and
# s = float32 scalar, made before the guard is on.
CASES = {
    # host -> device, implicit
    "jit_numpy": lambda j, jnp, x, s: lambda: j.jit(lambda a: a + 1)(np.ones(3, np.float32)),
    "jit_python_scalar": lambda j, jnp, x, s: lambda: j.jit(lambda a: a + 1)(1.0),
    "jit_numpy_scalar": lambda j, jnp, x, s: lambda: j.jit(lambda a: a + 1)(np.float32(1)),
    "eager_numpy": lambda j, jnp, x, s: lambda: x + np.ones(3, np.float32),
    "eager_python_scalar": lambda j, jnp, x, s: lambda: x * 2.0,
    "jnp_array_numpy": lambda j, jnp, x, s: lambda: jnp.array(np.ones(3, np.float32)),
    "jnp_asarray_list": lambda j, jnp, x, s: lambda: jnp.asarray([1.0, 2.0]),
    "bool_of_comparison": lambda j, jnp, x, s: lambda: bool(s > 0),
    # host -> device, explicit
    "device_put_numpy": lambda j, jnp, x, s: lambda: j.device_put(np.ones(3, np.float32)),
    "device_put_python_scalar": lambda j, jnp, x, s: lambda: j.device_put(1.0),
    # device -> host (CPU arrays are read in place: no transfer, in JAX too)
    "np_asarray": lambda j, jnp, x, s: lambda: np.asarray(x),
    "float": lambda j, jnp, x, s: lambda: float(s),
    "item": lambda j, jnp, x, s: lambda: s.item(),
    "str": lambda j, jnp, x, s: lambda: str(x),
    "repr": lambda j, jnp, x, s: lambda: repr(x),
    "tolist": lambda j, jnp, x, s: lambda: x.tolist(),
    "device_get": lambda j, jnp, x, s: lambda: j.device_get(x),
    # no transfer at all
    "device_put_array": lambda j, jnp, x, s: lambda: j.device_put(x),
    "jit_static_python_int": lambda j, jnp, x, s: (
        lambda: j.jit(lambda a, n: a * n, static_argnums=1)(x, 3)
    ),
    "jit_closed_numpy_constant": lambda j, jnp, x, s: (
        lambda: j.jit(lambda a: a + np.arange(3, dtype=np.float32))(x)
    ),
    "jnp_sum": lambda j, jnp, x, s: lambda: jnp.sum(x),
    # library functions: the constants of those JAX jits (mean, log_softmax, allclose,
    # tril) are no transfers; those of the others are
    "jnp_mean": lambda j, jnp, x, s: lambda: jnp.mean(x),
    "jnp_mean_numpy": lambda j, jnp, x, s: lambda: jnp.mean(np.ones(3, np.float32)),
    "nn_log_softmax": lambda j, jnp, x, s: lambda: j.nn.log_softmax(x),
    "jnp_allclose": lambda j, jnp, x, s: lambda: jnp.allclose(x, x),
    "jnp_tril": lambda j, jnp, x, s: lambda: jnp.tril(jnp.ones((3, 3))),
    "jnp_var": lambda j, jnp, x, s: lambda: jnp.var(x),
    "nn_gelu": lambda j, jnp, x, s: lambda: j.nn.gelu(x),
    "jnp_where_scalar": lambda j, jnp, x, s: lambda: jnp.where(x > 0, x, 0.0),
    "jnp_zeros": lambda j, jnp, x, s: lambda: jnp.zeros(3),
    "matmul": lambda j, jnp, x, s: lambda: x @ x,
    # static indices: integers and unit-step partial slices are put on the device
    "index_int": lambda j, jnp, x, s: lambda: x[0],
    "index_numpy_int": lambda j, jnp, x, s: lambda: x[np.int32(-1)],
    "index_slice": lambda j, jnp, x, s: lambda: x[1:],
    "index_full_slice": lambda j, jnp, x, s: lambda: x[0:3],
    "index_strided_slice": lambda j, jnp, x, s: lambda: x[1::2],
    "index_none_ellipsis": lambda j, jnp, x, s: lambda: x[None, ...],
    "index_ellipsis_int": lambda j, jnp, x, s: lambda: x[..., 1],
    "at_get": lambda j, jnp, x, s: lambda: x.at[1].get(),
    "random_normal": lambda j, jnp, x, s: lambda: j.random.normal(j.random.PRNGKey(0), (3,)),
}


def _outcome(j, jnp, case, level):
    x = jnp.ones(3)
    s = jnp.float32(2.0)
    thunk = CASES[case](j, jnp, x, s)
    thunk()  # warm: compiles and caches happen outside the guard
    try:
        with j.transfer_guard(level):
            thunk()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, isinstance(e, RuntimeError), PHRASE in str(e)
    return "ok"


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("case", list(CASES))
def test_guard_outcome_matches_jax(case, level):
    jax, jnp = real_jax()
    expected = _outcome(jax, jnp, case, level)
    assert _outcome(engine, ejnp, case, level) == expected


@pytest.mark.parametrize("level", ["log", "log_explicit"])
@pytest.mark.parametrize(
    "case", ["jit_numpy", "eager_numpy", "device_put_numpy", "np_asarray", "device_get"]
)
def test_log_levels_log_what_jax_logs(case, level, caplog, capfd):
    jax, jnp = real_jax()
    capfd.readouterr()
    assert _outcome(jax, jnp, case, level) == "ok"
    jax_logged = "host-to-device transfer" in capfd.readouterr().err
    with caplog.at_level(logging.WARNING, logger="engine.transfer_guard"):
        assert _outcome(engine, ejnp, case, level) == "ok"
    ours = [r.getMessage() for r in caplog.records if r.name == "engine.transfer_guard"]
    assert bool(ours) == jax_logged
    for message in ours:
        assert message.startswith("host-to-device transfer: aval=ShapedArray(")


@pytest.mark.parametrize("level", ["disallow", "disallow_explicit"])
def test_error_class_and_message_equal_jax(level):
    jax, jnp = real_jax()
    messages = []
    for j in (jax, engine):
        for arg in (np.ones((2, 3), np.float32), 1.0):
            f = j.jit(lambda a: a * 2)
            with j.transfer_guard(level), pytest.raises(j.errors.JaxRuntimeError) as e:
                f(arg)
            messages.append(str(e.value))
        with j.transfer_guard(level):
            if level == "disallow":
                j.device_put(np.ones(2, np.int32))
            else:
                with pytest.raises(j.errors.JaxRuntimeError) as e:
                    j.device_put(np.ones(2, np.int32))
                messages.append(str(e.value))
    half = len(messages) // 2
    assert messages[half:] == messages[:half]


def test_config_options_and_kinds_as_jax():
    jax, jnp = real_jax()
    for j, np_ in ((jax, jnp), (engine, ejnp)):
        x = np_.ones(3)
        f = lambda: x + np.ones(3, np.float32)  # noqa: E731
        assert j.config.jax_transfer_guard is None
        j.config.update("jax_transfer_guard", "disallow")
        try:
            with pytest.raises(RuntimeError, match=PHRASE):
                f()
            # the global option set every kind; a kind's own setting then overrides it
            assert j.config.jax_transfer_guard_host_to_device == "disallow"
            with j.transfer_guard_host_to_device("allow"):
                f()
            with j.transfer_guard_device_to_host("allow"), pytest.raises(RuntimeError):
                f()
            with j.transfer_guard("log"):
                assert j.config.jax_transfer_guard == "log"
                assert j.config.jax_transfer_guard_host_to_device == "log"
            assert j.config.jax_transfer_guard == "disallow"
            assert j.config.jax_transfer_guard_host_to_device == "disallow"
            j.config.update("jax_transfer_guard_host_to_device", "allow")
            f()
            assert j.config.jax_transfer_guard == "disallow"
        finally:
            j.config.update("jax_transfer_guard", None)
            # the kind set on its own stays set: leave the library as found
            j.config.update("jax_transfer_guard_host_to_device", None)
        assert j.config.jax_transfer_guard_device_to_host is None
        f()
        with pytest.raises(ValueError, match="new enum value must be None or in"):
            j.config.update("jax_transfer_guard", "bogus")
        with pytest.raises(ValueError, match="new enum value must be None or in"):
            with j.transfer_guard("bogus"):
                pass
        assert j.config.jax_transfer_guard is None
        f()


_D2D_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    if sys.argv[1] == "jax":
        import jax as j, jax.numpy as jnp
    else:
        import engine as j, engine.numpy as jnp
    d0, d1 = j.devices()[:2]
    x = jnp.ones(3)
    on1 = j.device_put(jnp.ones(3), d1)
    # (a new function each time: JAX's C++ fast path, on a cache hit, moves an
    # uncommitted argument to another device without consulting the guard)
    cases = {
        "device_put": lambda: j.device_put(x, d1),
        "uncommitted_meets_committed": lambda: j.jit(lambda a, b: a + b)(x, on1),
    }
    for level in ["allow", "log", "disallow", "log_explicit", "disallow_explicit"]:
        for name, fn in cases.items():
            try:
                with j.transfer_guard(level):
                    fn()
                r = "ok"
            except RuntimeError as e:
                r = type(e).__name__ + ":" + str(e).split(":")[1].strip()
            print(level, name, r)
    """
)


def test_device_to_device_as_jax(tmp_path):
    script = tmp_path / "d2d.py"
    script.write_text(_D2D_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = {}
    for which in ("jax", "engine"):
        p = subprocess.run(
            [sys.executable, str(script), which], capture_output=True, text=True, env=env
        )
        assert p.returncode == 0, p.stderr
        out[which] = p.stdout
    if "ok" not in out["jax"] or "Disallowed device-to-device" not in out["jax"]:
        pytest.skip("JAX did not see two CPU devices")
    assert out["engine"] == out["jax"]


# ---------------------------------------------------------------------------- delete & co


def test_delete_is_deleted_and_errors_as_jax():
    jax, jnp = real_jax()
    for j, np_ in ((jax, jnp), (engine, ejnp)):
        y = np_.arange(6.0).reshape(2, 3)
        np.asarray(y)  # a cached host copy must not survive delete
        assert not y.is_deleted()
        y.delete()
        assert y.is_deleted()
        y.delete()  # twice is fine
        assert y.shape == (2, 3)
        for use in (
            lambda: np.asarray(y),
            lambda: y + 1,
            lambda: j.jit(lambda a: a * 2)(y),
            lambda: repr(y),
            lambda: float(y[0, 0]),
            lambda: j.device_get(y),
            lambda: y.copy_to_host_async(),
        ):
            with pytest.raises(RuntimeError, match=r"Array has been deleted with shape=float32\["):
                use()
        with pytest.raises(RuntimeError, match="called on deleted or donated buffer"):
            y.block_until_ready()


def test_live_arrays_drop_deleted_and_collected():
    before = engine.live_arrays()
    assert isinstance(before, list) and all(isinstance(a, engine.Array) for a in before)
    a = ejnp.arange(5.0) * 3.0
    b = ejnp.zeros((2, 2))
    n = len(engine.live_arrays())
    a.delete()
    assert len(engine.live_arrays()) == n - 1
    del b
    assert len(engine.live_arrays()) == n - 2
    c = ejnp.arange(4)
    live = [x for x in engine.live_arrays() if x.shape == (4,) and x.dtype == np.int32]
    assert any(np.array_equal(np.asarray(x), np.asarray(c)) for x in live)


def test_block_until_ready_and_copy_to_host_async():
    jax, jnp = real_jax()
    for j, np_ in ((jax, jnp), (engine, ejnp)):
        x = np_.arange(3.0)
        tree = {"a": x, "b": [x * 2, 1], "c": None}
        assert j.block_until_ready(tree) is tree
        assert x.block_until_ready() is x
        assert x.copy_to_host_async() is None
        np.testing.assert_array_equal(np.asarray(x), [0.0, 1.0, 2.0])


def test_clear_caches_recompiles():
    f = engine.jit(lambda x: x * 2 + 1)
    x = ejnp.ones(3)
    f(x)
    f(x)
    info = f.cache_info()
    assert (info.compile_count, info.hits, info.currsize) == (1, 1, 1)
    engine.clear_caches()
    assert f.cache_info().currsize == 0
    np.testing.assert_array_equal(np.asarray(f(x)), [3.0, 3.0, 3.0])
    info = f.cache_info()
    assert info.currsize == 1 and info.compile_count >= 1
    # eager one-primitive executables are forgotten too
    y = ejnp.arange(7.0)
    ejnp.sin(y)
    compiles = dispatch.stats.eager_compiles
    ejnp.sin(y)
    assert dispatch.stats.eager_compiles == compiles
    engine.clear_caches()
    ejnp.sin(y)
    assert dispatch.stats.eager_compiles == compiles + 1


def test_device_to_host_guard_fires_off_cpu():
    # No GPU here: a stand-in array on a non-CPU device goes through the same check
    # Array._value and device_get make (CPU arrays are read in place, as in JAX).
    import importlib

    tg = importlib.import_module("engine.transfer_guard")  # engine.transfer_guard: the function

    class _Device:
        platform = "gpu"

        def __repr__(self):
            return "CudaDevice(id=0)"

    class _OnGpu:
        aval = engine.core.ShapedArray((2,), np.dtype(np.float32))
        _device = _Device()

    x = _OnGpu()
    with engine.transfer_guard_device_to_host("disallow"):
        tg.check_device_to_host(x, explicit=True)  # device_get
        with pytest.raises(engine.errors.JaxRuntimeError, match="Disallowed device-to-host"):
            tg.check_device_to_host(x)
    with engine.transfer_guard_device_to_host("disallow_explicit"):
        with pytest.raises(engine.errors.JaxRuntimeError, match="Disallowed device-to-host"):
            tg.check_device_to_host(x, explicit=True)
    with engine.transfer_guard_device_to_host("allow"):
        tg.check_device_to_host(x)
    cpu_array = ejnp.ones(2)
    with engine.transfer_guard_device_to_host("disallow_explicit"):
        tg.check_device_to_host(cpu_array, explicit=True)


_DELETE_ALL_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import engine
    import engine.numpy as jnp

    x = jnp.arange(3.0)
    f = engine.jit(lambda a: a * 2.0 + np.arange(3, dtype=np.float32))
    f(x)
    x * 2.0, jnp.float32(2.0) + x, jnp.mean(x), engine.nn.relu(x - 1.0)
    engine.random.normal(engine.random.PRNGKey(0), (3,))
    one = engine.device_put(1.0)
    one.delete()
    for a in engine.live_arrays():
        a.delete()
    assert engine.live_arrays() == [], engine.live_arrays()
    assert x.is_deleted()
    y = jnp.arange(3.0)
    np.testing.assert_array_equal(np.asarray(f(y)), [0.0, 3.0, 6.0])
    np.testing.assert_array_equal(np.asarray(y * 2.0 + engine.device_put(1.0)), [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(np.asarray(jnp.float32(2.0) + y), [2.0, 3.0, 4.0])
    assert float(jnp.mean(y)) == 1.0
    np.testing.assert_array_equal(np.asarray(engine.nn.relu(y - 1.0)), [0.0, 0.0, 1.0])
    engine.random.normal(engine.random.PRNGKey(0), (3,))
    print("fine")
    """
)


def test_deleting_every_live_array_leaves_the_engine_working(tmp_path):
    # JAX's idiom for freeing device memory (in a fresh process: it deletes everything).
    # The engine's own cached scalars and jitted constants are not listed, and a deleted
    # cached scalar is forgotten.
    script = tmp_path / "delete_all.py"
    script.write_text(_DELETE_ALL_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "fine" in p.stdout, p.stderr


def test_environment_variable_sets_every_kind_as_jax():
    code = (
        "import numpy as np, sys\n"
        "import {m} as j\n"
        "print(j.config.jax_transfer_guard, j.config.jax_transfer_guard_device_to_host)\n"
        "try:\n"
        "    j.jit(lambda a: a)(np.ones(2))\n"
        "except RuntimeError as e:\n"
        "    print(type(e).__name__, str(e).split(':')[1])\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd(), JAX_TRANSFER_GUARD="disallow")
    outs = [
        subprocess.run(
            [sys.executable, "-c", code.format(m=m)], capture_output=True, text=True, env=env
        ).stdout
        for m in ("jax", "engine")
    ]
    assert "Disallowed host-to-device transfer" in outs[0]
    assert outs[1] == outs[0]
