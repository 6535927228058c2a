"""The inline caches on the hottest paths (a jitted call's last signature, an operator's
last operand avals) keep JAX's semantics: commitment of results, values, dtypes and weak
types across config flips, tracing, deletion, donation, eviction, threads, and the
counters the session inspector reads."""

import importlib
import subprocess
import sys
import threading

import numpy as np
import pytest
from helpers import assert_close, real_jax, weak_type_of

import engine
import engine.numpy as ejnp
from engine import jit_cache

jit_module = importlib.import_module("engine.jit")  # the module (engine.jit is the function)


def _same(a, b):
    assert_close(a, b)
    ea, _ = engine.tree_util.tree_flatten(a)
    jax, _ = real_jax()
    ja, _ = jax.tree_util.tree_flatten(b)
    assert [weak_type_of(x) for x in ea] == [weak_type_of(x) for x in ja]
    assert [x.committed for x in ea] == [x.committed for x in ja]


def _pair(make):
    jax, jnp = real_jax()
    return make(engine, ejnp), make(jax, jnp)


def _committed_cases(jax, jnp):
    """Calls whose results' commitment JAX decides by their operands' (run twice each:
    the second call goes through the inline caches)."""
    dev = jax.devices()[0]
    x = jnp.arange(3.0)
    c = jax.device_put(jnp.arange(3.0), dev)
    f = jax.jit(lambda a: a + 1)
    g = jax.jit(lambda a, b: a * b)
    tree = jax.jit(lambda a: (a, {"s": a.sum()}))
    pinned = jax.jit(lambda a: a - 1, device=dev)
    statics = jax.jit(lambda a, k: a * k, static_argnums=1)
    nothing = jax.jit(lambda: jnp.ones(2))
    return [
        lambda: f(x),
        lambda: f(c),
        lambda: g(x, x),
        lambda: g(x, c),
        lambda: g(c, x),
        lambda: tree(c),
        lambda: tree(x),
        lambda: pinned(x),
        lambda: statics(c, 2),
        lambda: statics(x, 2),
        lambda: nothing(),
        lambda: x * x,
        lambda: c * x,
        lambda: x * c,
        lambda: c + 1.0,
        lambda: -c,
        lambda: jnp.sin(c),
        lambda: c.sum(),
        lambda: c[1],
        lambda: x[1],
    ]


def test_results_on_committed_operands_are_committed_as_jax():
    ours, theirs = _pair(_committed_cases)
    for _ in range(2):
        for e, j in zip(ours, theirs):
            _same(e(), j())


def test_jit_keyword_call_commits_as_jax():
    (ef, ec), (jf, jc) = _pair(
        lambda jax, jnp: (jax.jit(lambda a: a * 2), jax.device_put(jnp.ones(2), jax.devices()[0]))
    )
    for _ in range(2):
        _same(ef(a=ec), jf(a=jc))


def test_operator_cache_follows_x64_flips_as_jax():
    jax, jnp = real_jax()
    ex, jx = ejnp.arange(4), jnp.arange(4)
    for flag in (False, True, False):
        for cfg in (engine.config, jax.config):
            cfg.update("jax_enable_x64", flag)
        try:
            ey, jy = ejnp.arange(4), jnp.arange(4)
            for _ in range(2):
                _same(ey * ey, jy * jy)
                _same(ey + ey, jy + jy)
        finally:
            for cfg in (engine.config, jax.config):
                cfg.update("jax_enable_x64", False)
    _same(ex * ex, jx * jx)


def test_operator_cache_is_not_used_while_tracing():
    """Concrete arrays multiplied inside a jit trace are staged (JAX's omnistaging), even
    after the same product ran eagerly and filled the operator's cache."""
    jax, jnp = real_jax()
    ex, ey = ejnp.ones(3), ejnp.full(3, 2.0)
    jx, jy = jnp.ones(3), jnp.full(3, 2.0)
    _same(ex * ey, jx * jy)
    _same(ex * ey, jx * jy)
    ej = engine.make_jaxpr(lambda t: ex * ey + t)(1.0)
    jj = jax.make_jaxpr(lambda t: jx * jy + t)(1.0)
    assert [e.primitive.name for e in ej.eqns] == [e.primitive.name for e in jj.eqns]
    assert "mul" in [e.primitive.name for e in ej.eqns]


_JAX_DEBUG_NANS_LATER = """
import jax, jax.numpy as jnp
z = jnp.zeros(2)
for _ in range(2):
    z / z
jax.config.update("jax_debug_nans", True)
try:
    z / z
except FloatingPointError as e:
    print("raised", "nan" in str(e).lower())
"""


def test_operator_cache_honours_debug_nans_turned_on_later_as_jax():
    # JAX's side runs in a fresh process: in this one, earlier modules' JAX state (its
    # own caches and options) can keep its check from running
    jax_out = subprocess.run(
        [sys.executable, "-c", _JAX_DEBUG_NANS_LATER], capture_output=True, text=True, timeout=120
    ).stdout
    assert jax_out.strip().splitlines()[-1].split() == ["raised", "True"]
    ez = ejnp.zeros(2)
    for _ in range(2):
        ez / ez  # nan, no check yet
    engine.config.update("jax_debug_nans", True)
    try:
        with pytest.raises(FloatingPointError) as ee:
            ez / ez
        assert "nan" in str(ee.value).lower()
    finally:
        engine.config.update("jax_debug_nans", False)


def test_deleted_operand_after_cached_calls_raises_jax_error():
    jax, jnp = real_jax()
    ex, ey, jx, jy = ejnp.ones(4), ejnp.ones(4), jnp.ones(4), jnp.ones(4)
    for _ in range(2):
        _same(ex * ey, jx * jy)
    ey.delete(), jy.delete()
    with pytest.raises(RuntimeError, match="Array has been deleted") as je:
        jx * jy
    with pytest.raises(RuntimeError, match="Array has been deleted") as ee:
        ex * ey
    assert type(ee.value) is type(je.value)
    f, g = engine.jit(lambda a, b: a - b), jax.jit(lambda a, b: a - b)
    ea, ja = ejnp.ones(4), jnp.ones(4)
    for _ in range(2):
        _same(f(ea, ea), g(ja, ja))
    ea.delete(), ja.delete()
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        g(ja, ja)
    with pytest.raises(RuntimeError, match="Array has been deleted"):
        f(ea, ea)


def test_donated_arguments_are_consumed_on_every_cached_call_as_jax():
    (ef, emk), (jf, jmk) = _pair(
        lambda jax, jnp: (jax.jit(lambda a: a * 2, donate_argnums=0), lambda: jnp.ones(8))
    )
    for _ in range(3):
        ea, ja = emk(), jmk()
        _same(ef(ea), jf(ja))
        assert ea.is_deleted() == ja.is_deleted()


def test_hits_and_compiles_are_counted_through_the_inline_cache():
    f = engine.jit(lambda a, b: a + b)
    x, y = ejnp.ones(2), ejnp.ones(3)
    for _ in range(5):
        f(x, x)
    info = f.cache_info()
    assert (info.compile_count, info.hits) == (1, 4)
    for _ in range(3):
        f(y, y)
        f(x, x)  # alternating signatures: the inline cache misses, the dict hits
    info = f.cache_info()
    assert (info.compile_count, info.hits) == (2, 9)
    f.clear_cache()
    f(x, x)
    assert f.compile_count == 3  # cleared: compiled again, not run from a stale cache


def test_eviction_drops_the_inline_cache(monkeypatch):
    jax, jnp = real_jax()
    monkeypatch.setattr(jit_cache, "CACHE_SIZE", 2)
    f, g = engine.jit(lambda a: a * 3), jax.jit(lambda a: a * 3)
    shapes = [(1,), (2,), (3,)]
    for _ in range(2):
        for s in shapes:
            for _ in range(2):
                _same(f(ejnp.ones(s)), g(jnp.ones(s)))
    assert len(f.cache_info().entries) == 2


def test_cached_calls_from_many_threads_get_their_own_results():
    f = engine.jit(lambda a: a * 2 + 1)
    errors = []

    def work(n):
        x = ejnp.full((n,), float(n))
        want = np.full((n,), 2.0 * n + 1)
        for _ in range(200):
            y = x * x
            out = f(x)
            if out.shape != (n,) or not np.array_equal(np.asarray(out), want):
                errors.append((n, np.asarray(out)))
            if not np.array_equal(np.asarray(y), np.full((n,), float(n * n))):
                errors.append((n, "mul", np.asarray(y)))

    threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_weak_operands_through_the_operator_cache_match_jax():
    jax, jnp = real_jax()
    ew, jw = ejnp.asarray(2.0), jnp.asarray(2.0)  # weak float32[]
    es, js = ejnp.float32(3.0), jnp.float32(3.0)  # strong
    for _ in range(2):
        _same(ew * ew, jw * jw)
        _same(ew * es, jw * js)
        _same(es * ew, js * jw)
        _same(ejnp.arange(3) * ejnp.arange(3), jnp.arange(3) * jnp.arange(3))
        _same(ejnp.ones(2, bool) * ejnp.ones(2, bool), jnp.ones(2, bool) * jnp.ones(2, bool))
        _same(ejnp.ones(2, bool) + ejnp.ones(2, bool), jnp.ones(2, bool) + jnp.ones(2, bool))


def test_repeated_calls_skip_the_general_machinery(monkeypatch):
    """White-box: once filled, the caches answer without the signature lookup (jit) or
    the engine.numpy function and bind (operators)."""
    f = engine.jit(lambda a, b: a * b + 1)
    x, y = ejnp.arange(4.0), ejnp.ones(4)
    f(x, y), f(x, y), x * y, x * y

    def refuse(*args, **kwargs):
        raise AssertionError("the inline cache was not used")

    monkeypatch.setattr(jit_module.JitFunction, "_call_fast", refuse)
    monkeypatch.setattr(engine.core, "apply_primitive", refuse)
    monkeypatch.setattr(ejnp, "multiply", refuse)
    np.testing.assert_array_equal(np.asarray(f(x, y)), np.arange(4.0) + 1)
    np.testing.assert_array_equal(np.asarray(x * y), np.arange(4.0))
    engine.config.update("jax_enable_x64", False)  # any config update drops both caches
    with pytest.raises(AssertionError, match="inline cache"):
        f(x, y)


def test_results_of_the_caches_are_whole_arrays():
    """The caches make their results without Array.__init__: every slot __init__ sets
    must be set on them too (a guard for a slot added to Array later)."""
    f = engine.jit(lambda a: a + 1)
    x = ejnp.arange(3.0)
    f(x), x * x
    made = {"jit": f(x), "operator": x * x, "__init__": engine.Array(x._buf, x.aval, x._device)}
    slots = [s for s in engine.Array.__slots__ if s != "__weakref__"]
    present = {k: [hasattr(v, s) for s in slots] for k, v in made.items()}
    assert present["jit"] == present["operator"] == present["__init__"]
    for v in made.values():
        assert repr(v).startswith("Array(") and v.committed is False


def test_eager_primitives_alternating_params_and_avals_match_jax():
    """A primitive's last signature is reused only for the same avals, device and
    parameters: alternating any of them gives JAX's results."""
    jax, jnp = real_jax()
    from engine import lax as elax

    xs = [np.arange(4, dtype=np.float32) - 1.5, np.arange(6, dtype=np.float32).reshape(2, 3)]
    for _ in range(2):
        for x in xs:
            ex, jx = ejnp.asarray(x), jnp.asarray(x)
            for n in (2, 3, 2):
                _same(elax.integer_pow(ex, n), jax.lax.integer_pow(jx, n))
            for dt in (np.int32, np.float16, np.int32):
                _same(elax.convert_element_type(ex, dt), jax.lax.convert_element_type(jx, dt))
            for lo in (0.0, -0.0, 0.0):
                _same(elax.max(ex, ejnp.full_like(ex, lo)), jax.lax.max(jx, jnp.full_like(jx, lo)))
            _same(ejnp.sin(ex), jnp.sin(jx))
