"""One compile path: a jit call and the stages API (trace -> lower -> compile) are the
same pipeline over one per-function cache, shared by every ``jit`` of a function as in
JAX, keyed on everything that changes the program, bounded by least-recently-used
eviction, and read through the public ``cache_info()`` (as the session inspector does).
Checked against real JAX where it has the same behaviour."""

import importlib
import pathlib
import re
import struct
import threading

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
from engine import dispatch, jit_cache, lax

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _bits32(x):
    return int(np.asarray(x, np.float32).view(np.uint32))


# ---------------------------------------------------------------------------- one cache per function


def test_jit_twice_with_a_global_changed_traces_once_as_jax():
    results = {}
    for name, m in (("engine", engine), ("jax", real_jax()[0])):
        scale = {"v": 1.0}
        traces = []

        def f(x):
            traces.append(scale["v"])  # noqa: B023 (read while tracing, like a global)
            return x * scale["v"]  # noqa: B023

        first = m.jit(f)(np.float32(3.0))
        scale["v"] = 2.0
        second = m.jit(f)(np.float32(3.0))  # a new wrapper: JAX reuses f's trace
        results[name] = (float(first), float(second), traces)
    assert results["engine"] == results["jax"] == (3.0, 3.0, [1.0])


def test_wrappers_with_other_options_share_the_trace_as_jax():
    counts = {}
    for name, m in (("engine", engine), ("jax", real_jax()[0])):
        traces = []

        def f(x):
            traces.append(1)  # noqa: B023
            return x + 1.0

        x = np.ones(3, np.float32)
        m.jit(f)(x)
        m.jit(f, donate_argnums=0)(m.numpy.asarray(x))
        m.jit(f, compiler_options={"xla_cpu_enable_fast_math": False})(x)
        m.jit(f).trace(x)
        counts[name] = len(traces)
    assert counts["engine"] == counts["jax"] == 1


def test_cache_is_weakly_keyed_on_the_function():
    import gc
    import weakref

    def make():
        def f(x):
            return x * 2.0

        return f

    f = make()
    ref = weakref.ref(f)
    g = engine.jit(f)
    g(enp.ones(3))
    g.lower(enp.ones(4)).compile()
    cache = weakref.ref(jit_cache._caches[f])
    assert engine.jit(f)._cache is cache()  # a second wrapper shares it
    del f, g
    gc.collect()
    assert ref() is None and cache() is None


def test_clear_cache_clears_it_for_every_wrapper():
    def f(x):
        return x - 1.0

    a, b = engine.jit(f), engine.jit(f)
    a(enp.ones(2))
    assert b.cache_info().currsize == 1
    b.clear_cache()
    assert a.cache_info().currsize == 0
    a(enp.ones(2))
    assert a.trace_count == 2


# ---------------------------------------------------------------------------- stages are the call's


def test_stages_fill_the_entry_a_call_uses():
    f = engine.jit(lambda x, y: enp.sin(x) * y)
    x = enp.ones(5)
    traced = f.trace(x, 2.0)
    lowered = traced.lower()
    compiled = lowered.compile()
    assert f.trace(x, 2.0) is traced and f.lower(x, 2.0) is lowered
    assert f.lower(x, 2.0).compile() is compiled
    f(x, 2.0)
    f(x, 3.0)
    info = f.cache_info()
    assert (info.trace_count, info.lower_count, info.compile_count, info.hits) == (1, 1, 1, 2)
    (entry,) = info.entries  # trace, lower, compile and calls: one row, not four
    assert (entry.traced, entry.lowered, entry.compiled, entry.hits) == (
        traced,
        lowered,
        compiled,
        2,
    )


def test_lower_compile_donates_as_the_call_does():
    for m, mnp in ((engine, enp), real_jax()):
        f = m.jit(lambda a, b: a * 2.0 + b, donate_argnums=0)
        x, y = mnp.ones(4), mnp.ones(4)
        compiled = f.lower(x, y).compile()
        out = compiled(x, y)
        np.testing.assert_allclose(np.asarray(out), np.full(4, 3.0, np.float32))
        assert x.is_deleted() and not y.is_deleted(), m.__name__
        x2 = mnp.ones(4)
        f(x2, y)
        assert x2.is_deleted(), m.__name__
    jax, jnp = real_jax()  # the donated argument aliased to the result, as JAX marks it
    theirs = jax.jit(lambda a: a * 2.0, donate_argnums=0).lower(jnp.ones(3)).as_text()
    ours = engine.jit(lambda a: a * 2.0, donate_argnums=0).lower(enp.ones(3)).as_text()
    assert "tf.aliasing_output = 0" in theirs and "tf.aliasing_output = 0" in ours
    assert (
        engine.jit(lambda a: a * 2.0, donate_argnums=0).lower(enp.ones(3)).compile().lowered.donated
    )


def test_donation_stays_per_wrapper_when_the_trace_is_shared():
    seen = {}
    for m, mnp in ((engine, enp), real_jax()):

        def f(a):
            return a * 2.0

        x, y = mnp.ones(3), mnp.ones(3)
        m.jit(f)(x)
        kept = not x.is_deleted()
        m.jit(f, donate_argnums=0)(x)
        m.jit(f)(y)
        seen[m.__name__] = (kept, x.is_deleted(), y.is_deleted())
    assert seen["engine"] == seen["jax"] == (True, True, False)


def test_compiler_options_are_honoured_both_ways(monkeypatch):
    seen = []
    real = dispatch.runtime.compile

    def recording(text, device, out_avals, **kw):
        seen.append(kw.get("options"))
        return real(text, device, out_avals, **kw)

    monkeypatch.setattr(dispatch.runtime, "compile", recording)
    opts = {"xla_cpu_enable_fast_math": False}

    def f(x):
        return enp.exp(x) + 1.0

    x = enp.ones(3)
    engine.jit(f, compiler_options=opts)(x)
    engine.jit(lambda x: f(x), compiler_options=opts).lower(x).compile()
    assert seen == [opts, opts]
    # the call after an AOT compile with the same options reuses it (as in JAX)
    g = engine.jit(lambda x: f(x) * 2.0, compiler_options=opts)
    g.lower(x).compile()
    g(x)
    assert g.compile_count == 1 and len(seen) == 3
    # options given to .compile() update the jit's, and are cached per options
    g.lower(x).compile(compiler_options={"xla_cpu_enable_fast_min_max": True})
    g.lower(x).compile(compiler_options={"xla_cpu_enable_fast_min_max": True})
    assert seen[-1] == {**opts, "xla_cpu_enable_fast_min_max": True} and len(seen) == 4
    # an unknown option fails whichever way, as in JAX
    for how in ("call", "aot"):
        bad = engine.jit(lambda x: x + 1.0, compiler_options={"not_an_option": 1})
        with pytest.raises(ValueError, match="not_an_option"):
            bad(x) if how == "call" else bad.lower(x).compile()


def test_static_arguments_mean_the_same_both_ways():
    f = engine.jit(lambda x, n: x * n, static_argnums=1)
    x = enp.arange(3.0)
    c = f.lower(x, 4).compile()
    np.testing.assert_allclose(np.asarray(c(x, 4)), [0.0, 4.0, 8.0])
    np.testing.assert_allclose(np.asarray(f(x, 4)), [0.0, 4.0, 8.0])
    assert f.compile_count == 1 and f.cache_info().entries[0].signature.static == ((1, 4),)


# ---------------------------------------------------------------------------- public cache_info


def test_cache_info_signatures_with_weak_types_and_statics():
    def f(x, k):
        return x * k

    g = engine.jit(f, static_argnames="k")
    g(1.0, k=2)
    g(np.float32(1.0), k=2)
    g(np.float32(1.0), k=3)
    info = g.cache_info()
    sigs = [e.signature for e in info.entries]
    assert [a.weak_type for s in sigs for a in s.in_avals] == [True, False, False]
    assert [s.static for s in sigs] == [(("k", 2),), (("k", 2),), (("k", 3),)]
    assert [str(s) for s in sigs] == ["(f32[], k=2)", "(f32[], k=2)", "(f32[], k=3)"]
    assert dict(sigs[0].config)["jax_enable_x64"] is False
    assert info.maxsize == jit_cache.CACHE_SIZE and info.currsize == 3
    args, kwargs = sigs[2].example_arguments()
    assert kwargs == {"k": 3} and args[0].shape == () and args[0].dtype == np.float32


class _PublicOnly:
    """A jitted function seen only through its public API: any private attribute read
    (``_trace_cache``, ``_exe_cache``, ...) fails."""

    def __init__(self, jitted):
        self.__name__ = jitted.__name__
        self.jitted = jitted

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(f"the inspector read a private attribute: {name}")
        return getattr(self.jitted, name)


def test_session_inspector_reads_counts_through_the_public_api():
    from notebook_ext import inspector

    session = importlib.import_module("notebook_ext.session")

    @engine.jit
    def probe(x):
        return enp.sum(enp.cos(x))

    x = enp.ones(4)
    probe.trace(x)
    probe.lower(x)
    probe.lower(x).compile()
    probe(x)
    probe(x)
    probe(enp.ones(2))
    view = _PublicOnly(probe)
    row = session.function_row(view)
    assert (
        row["trace_count"],
        row["lower_count"],
        row["compile_count"],
        row["cache_hits"],
        row["programs"],
    ) == (2, 2, 2, 2, 2)
    assert row["signatures"] == ["(f32[4])", "(f32[2])"] and row["compiled_signatures"] == 2
    progs = inspector.programs(view)
    assert [p["signature"] for p in progs] == ["(f32[4])", "(f32[2])"]
    assert progs[0]["hlo"].startswith("HloModule jit_probe")
    args, kwargs = session.example_arguments(view, 1)
    assert args[0].shape == (2,) and kwargs == {}
    # two wrappers of one function are one row in the sidebar
    again = engine.jit(probe.fun)
    again(x)
    keys = [inspector._key(f) for f in inspector.user_jitted()]
    assert inspector._key(probe) in keys and inspector._key(again) not in keys


def test_no_private_jit_attributes_are_read_outside_the_engine():
    pattern = re.compile(
        r"\._(trace_cache|exe_cache|fast_cache|fast|cache|opts|rebuild|split)\b"
        r"|\b(trace|exe|fast)_cache\b"
    )
    hits = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for folder in ("notebook_ext", "visualize")
        for p in sorted((ROOT / folder).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and "self._cache" not in line
    ]
    assert not hits, hits


# ---------------------------------------------------------------------------- keys: scalars by bits


def test_signed_zero_never_shares_an_eager_cache_entry():
    jax, jnp = real_jax()
    for a in (-0.0, 0.0, -0.0):
        assert float(enp.arctan2(a, -1.0)) == float(jnp.arctan2(a, -1.0))
    for v in (-0.0, 0.0, -0.0):
        assert np.signbit(np.asarray(enp.full(2, v))).tolist() == [np.signbit(v)] * 2
        assert np.signbit(float(enp.maximum(-1, v))) == np.signbit(float(jnp.maximum(-1, v)))
        x = enp.ones(2)
        assert (np.asarray(1.0 / (x * v)) == np.asarray(1.0 / (jnp.ones(2) * v))).all()


def test_signed_zero_never_shares_a_jit_cache_entry():
    jax, _ = real_jax()
    f, fj = engine.jit(lambda x: 1.0 / x), jax.jit(lambda x: 1.0 / x)
    for v in (0.0, -0.0, 0.0):
        assert float(f(v)) == float(fj(v))
    # static floats are keyed by bits too (JAX keys them by ==, so its second call
    # returns +inf from the 0.0 program: we do not copy that)
    g = engine.jit(lambda x, s: x / s, static_argnums=1)
    assert [float(g(1.0, s)) for s in (0.0, -0.0, (0.0))] == [np.inf, -np.inf, np.inf]
    h = engine.jit(lambda x, s: x / s[0], static_argnums=1)
    assert [float(h(1.0, (s,))) for s in (0.0, -0.0)] == [np.inf, -np.inf]


def test_nan_payloads_are_kept_apart():
    nan_a = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000000))[0]
    nan_b = struct.unpack("<d", struct.pack("<Q", 0x7FFC000000000000))[0]
    jax, _ = real_jax()
    f, fj = engine.jit(lambda x: x), jax.jit(lambda x: x)
    for v in (nan_a, nan_b, nan_a):
        assert _bits32(engine.device_put(v)) == _bits32(jax.device_put(v))
        assert _bits32(f(v)) == _bits32(fj(v))
    k = engine.jit(lambda x, s: x + s, static_argnums=1)
    k(1.0, nan_a)
    k(1.0, nan_a)
    assert k.trace_count == 1  # the same NaN bits are the same static value


# ---------------------------------------------------------------------------- keys: config


def test_x64_and_matmul_precision_are_part_of_the_key_as_jax():
    jax, jnp = real_jax()
    for m, mnp in ((engine, enp), (jax, jnp)):
        g = m.jit(lambda: mnp.arange(3))
        h = m.jit(lambda x: x + 1)
        dts = [g().dtype, h(1.0).dtype]
        m.config.update("jax_enable_x64", True)
        try:
            dts += [g().dtype, h(1.0).dtype]
        finally:
            m.config.update("jax_enable_x64", False)
        dts += [g().dtype, h(1.0).dtype]
        names = [np.dtype(d).name for d in dts]
        assert names == ["int32", "float32", "int64", "float64", "int32", "float32"], m.__name__
    traces = []

    def mm(a):
        traces.append(1)
        return a @ a

    f = engine.jit(mm)
    a = np.ones((2, 2), np.float32)
    f(a)
    engine.config.update("jax_default_matmul_precision", "highest")
    try:
        f(a)
        assert "Precision.HIGHEST" in str(f.trace(a).jaxpr)
    finally:
        engine.config.update("jax_default_matmul_precision", None)
    f(a)
    assert len(traces) == 2 and f.compile_count == 2  # flipping back finds the first


def test_flipping_x64_back_reuses_the_first_program():
    f = engine.jit(lambda: enp.arange(3))
    f()
    engine.config.update("jax_enable_x64", True)
    try:
        assert f().dtype == np.int64
    finally:
        engine.config.update("jax_enable_x64", False)
    assert f().dtype == np.int32
    assert (f.trace_count, f.compile_count, f.cache_hits) == (2, 2, 1)


# ---------------------------------------------------------------------------- threads


def test_calls_from_other_threads_hit_the_cache_and_are_counted():
    a = enp.arange(4.0)
    f = engine.jit(lambda x: x * a + 1.0)  # closes over an array
    n_threads, n_calls = 8, 250
    barrier = threading.Barrier(n_threads)
    compiles = dispatch.stats.jaxpr_compiles
    errors = []

    def work():
        try:
            barrier.wait()
            for _ in range(n_calls):
                out = f(2.0)
            np.testing.assert_allclose(np.asarray(out), [1.0, 3.0, 5.0, 7.0])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    info = f.cache_info()
    assert (info.trace_count, info.compile_count) == (1, 1)
    assert info.hits == n_threads * n_calls - 1
    assert dispatch.stats.jaxpr_compiles - compiles == 1


def test_general_path_from_a_thread_hits_the_cache():
    f = engine.jit(lambda x, n: x * n, static_argnums=1)
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(20):
            f(enp.ones(3), 2)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (f.trace_count, f.compile_count, f.cache_hits) == (1, 1, 79)


# ---------------------------------------------------------------------------- bounded, LRU


def test_full_jit_cache_evicts_one_entry_not_all(monkeypatch):
    monkeypatch.setattr(jit_cache, "CACHE_SIZE", 8)
    f = engine.jit(lambda x: x + 1.0)
    shapes = [(n,) for n in range(1, 11)]

    def cached():
        return {e.signature.in_avals[0].shape for e in f.cache_info().entries}

    for s in shapes:  # 10 shapes through 8 places: two had to go, not all
        f(np.ones(s, np.float32))
    assert f.compile_count == 10 and len(cached()) == 8
    # cycling through more shapes than fit: only those not cached compile, and most
    # stay cached from round to round (clear-all, or plain LRU, compiles all 10 again)
    for _ in range(2):
        for s in shapes:
            before, n = cached(), f.compile_count
            f(np.ones(s, np.float32))
            assert f.compile_count - n == (s not in before)
    assert f.compile_count <= 10 + 2 * 3
    # an entry that is reused outlives one that never was
    f(np.ones(shapes[0], np.float32))
    f(np.ones((42,), np.float32))
    f(np.ones((43,), np.float32))
    assert shapes[0] in cached() and (43,) in cached() and (42,) not in cached()


def test_full_eager_cache_evicts_one_entry_not_all(monkeypatch):
    monkeypatch.setattr(dispatch, "_CACHE_LIMIT", 8)
    monkeypatch.setattr(dispatch, "_prim_cache", {})
    xs = [engine.device_put(np.ones((n, 7), np.float32)) for n in range(1, 11)]
    for x in xs:
        lax.sin(x)
    n = dispatch.stats.eager_compiles
    for x in xs[:7]:  # the first seven stay compiled
        lax.sin(x)
    assert dispatch.stats.eager_compiles == n
    lax.sin(xs[7])  # did not fit: compiled again (and only it)
    assert dispatch.stats.eager_compiles == n + 1
