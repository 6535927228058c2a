"""Calls with static or keyword arguments take the keyed fast path (one dict lookup by
static values, argument tree and avals): the same results, counts and retracing as the
general path, and as JAX."""

import collections
import importlib
import threading

import numpy as np
import pytest
from helpers import real_jax, weak_type_of

import engine
import engine.jit_keyed as jit_keyed
import engine.numpy as enp

jit_module = importlib.import_module("engine.jit")  # the module (engine.jit is the function)


def test_static_and_keyword_calls_count_and_retrace_as_jax():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which, m):
        def f(x, n, *, scale):
            traces[which] += 1
            return m.sum(x**n) * scale

        return f

    ef = engine.jit(make("engine", enp), static_argnums=1)
    jf = jax.jit(make("jax", jnp), static_argnums=1)
    x = np.arange(4.0, dtype=np.float32)
    calls = [(x, 2, 1.0), (x, 2, 3.0), (x, 3, 1.0), (x, 2, 2.0), (x[:3], 2, 1.0), (x, 3, 5.0)]
    for a, n, s in calls:
        np.testing.assert_allclose(ef(a, n, scale=s), jf(a, n, scale=s), rtol=1e-6)
    assert traces["engine"] == traces["jax"] == 3
    assert ef.compile_count == 3 and ef.cache_hits == len(calls) - 3


def test_keyed_path_follows_config_changes_and_deleted_inputs():
    f = engine.jit(lambda x, k: x * k, static_argnames="k")
    x = enp.ones(3)
    assert f(x, k=2).dtype == np.float32
    with engine.enable_x64(True):
        y = f(enp.ones(3, dtype=np.float64), k=2)
        assert y.dtype == np.float64
    assert f(x, k=2).dtype == np.float32
    g = engine.jit(lambda x, k: x + k, static_argnames="k", donate_argnums=0)
    z = enp.ones(3)
    g(z, k=1)
    try:
        g(z, k=1)
    except RuntimeError as e:
        assert "Array has been deleted" in str(e)
    else:
        raise AssertionError("a donated input was reused")


def test_debug_nans_still_checks_static_calls():
    f = engine.jit(lambda x, k: enp.log(x) * k, static_argnames="k")
    x = enp.asarray([-1.0, 1.0])
    f(x, k=1)  # fills the keyed path
    with engine.debug_nans(True):
        try:
            f(x, k=1)
        except FloatingPointError:
            pass
        else:
            raise AssertionError("debug_nans missed a nan of a static-argument call")


# ------------------------------------------------- the keyed calls' inline cache
# A repeated keyed call (static, keyword or Python-scalar arguments) is answered by the
# wrapper's keyed inline cache, keyed by each Array's aval, each scalar's type and each
# static value with its type. Each case runs every call twice (the second from the inline
# cache) and compares with real JAX: values, dtypes, weak types, signs of zeros.


def _same(ours, theirs):
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_array_equal(a, b)
    if a.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
    assert weak_type_of(ours) == weak_type_of(theirs)


def _counting_misses(monkeypatch):
    """White-box: how many keyed calls the inline cache did not answer."""
    misses = []
    miss = jit_keyed.call_miss

    def counted(f, *args, **kwargs):
        misses.append(args[:2])
        return miss(f, *args, **kwargs)

    monkeypatch.setattr(jit_keyed, "call_miss", counted)
    return misses


def test_signed_zero_scalars_are_values_not_keys():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x * k), jax.jit(lambda x, k: x * k)
    x = np.array([1.0, -2.0, 0.0], np.float32)
    ex, jx = enp.asarray(x), jnp.asarray(x)
    for k in (0.0, -0.0, 0.0, -0.0, float("-0"), 2.5):
        _same(ef(ex, k), jf(jx, k))
    for lo in (-0.0, 0.0, -0.0):
        _same(enp.clip(ex, lo, 1.0), jnp.clip(jx, lo, 1.0))
        _same(enp.clip(-ex, None, lo), jnp.clip(-jx, None, lo))


def test_signed_zero_statics_are_different_programs():
    """``f(x, 0.0)`` and ``f(x, -0.0)`` with a static ``k`` trace twice, each giving what
    a fresh JAX jit gives for that value (JAX's own cache shares the two, answering the
    second value with the first one's program)."""
    jax, jnp = real_jax()
    ef = engine.jit(lambda x, k: x * k, static_argnums=1)
    x = np.ones(2, np.float32)
    for k in (0.0, -0.0, 0.0, -0.0):
        fresh = jax.jit(lambda x, k: x * k, static_argnums=1)
        _same(ef(enp.asarray(x), k), fresh(jnp.asarray(x), k))
    assert ef.trace_count == 2


def test_bool_int_float_scalars_keep_their_types():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x * k), jax.jit(lambda x, k: x * k)
    for dtype in (np.bool_, np.int8, np.float32):
        x = np.array([1, 0, 1], dtype)
        ex, jx = enp.asarray(x), jnp.asarray(x)
        for k in (True, 1, 1.0, 1j, True, 1, 1.0, 1j, False, 0):
            _same(ef(ex, k), jf(jx, k))


def test_bool_int_float_statics_are_different_keys_as_jax():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which):
        def f(x, k):
            traces[which] += 1
            return x * k

        return f

    ef = engine.jit(make("engine"), static_argnums=1)
    jf = jax.jit(make("jax"), static_argnums=1)
    x = np.array([True, False])
    for k in (1, True, 1.0, 1, True, 1.0, (1, 2)[0]):
        _same(ef(enp.asarray(x), k), jf(jnp.asarray(x), k))
    assert traces["engine"] == traces["jax"] == 3


def test_keyed_cache_follows_x64_switches():
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x + k), jax.jit(lambda x, k: x + k)
    eg = engine.jit(lambda x, k: x * k, static_argnames="k")
    jg = jax.jit(lambda x, k: x * k, static_argnames="k")
    for flag in (False, True, False, True, False):
        for cfg in (engine.config, jax.config):
            cfg.update("jax_enable_x64", flag)
        try:
            for _ in range(2):
                _same(ef(2, 3), jf(2, 3))
                _same(ef(enp.arange(3), 2.5), jf(jnp.arange(3), 2.5))
                _same(eg(enp.arange(3), k=3), jg(jnp.arange(3), k=3))
                _same(enp.clip(enp.arange(4), 1, 2), jnp.clip(jnp.arange(4), 1, 2))
        finally:
            for cfg in (engine.config, jax.config):
                cfg.update("jax_enable_x64", False)


def test_keyword_order_and_empty_subtrees():
    """Keyword arguments flatten in sorted order whatever order they came in; None is an
    empty subtree, not a leaf."""
    jax, jnp = real_jax()

    def f(x, a, b, c=None):
        return x * a - b if c is None else x * a - b + c

    ef, jf = engine.jit(f), jax.jit(f)
    ex, jx = enp.arange(3.0), jnp.arange(3.0)
    for _ in range(2):
        _same(ef(ex, a=2.0, b=0.5), jf(jx, a=2.0, b=0.5))
        _same(ef(ex, b=0.5, a=2.0), jf(jx, b=0.5, a=2.0))
        _same(ef(ex, b=ex, a=3), jf(jx, b=jx, a=3))
        _same(ef(ex, 2.0, 0.5, None), jf(jx, 2.0, 0.5, None))
        _same(ef(ex, 2.0, 0.5, ex), jf(jx, 2.0, 0.5, jx))
        _same(ef(ex, c=1.0, b=ex, a=ex), jf(jx, c=1.0, b=jx, a=jx))


def test_changing_scalar_values_reach_the_program():
    """A scalar's value is no key: a new value of the same type reuses the program and
    passes the new value (the buffer remembered for the last object is not reused)."""
    jax, jnp = real_jax()
    ef, jf = engine.jit(lambda x, k: x * k), jax.jit(lambda x, k: x * k)
    ex, jx = enp.ones(2), jnp.ones(2)
    for i in range(6):
        k = 0.5 * i  # a new float object each time
        _same(ef(ex, k), jf(jx, k))
        _same(ef(ex, 7), jf(jx, 7))
        _same(ef(ex, i), jf(jx, i))
    assert ef.trace_count == 2  # float and int


def test_repeats_are_answered_by_the_keyed_inline_cache(monkeypatch):
    jax, jnp = real_jax()
    misses = _counting_misses(monkeypatch)
    x = np.linspace(0.0, 1.0, 8, dtype=np.float32)
    ex, jx = enp.asarray(x), jnp.asarray(x)
    ef = engine.jit(lambda x, k, *, s: x * k + s, static_argnums=1)
    jf = jax.jit(lambda x, k, *, s: x * k + s, static_argnums=1)
    calls = [
        lambda m, f, a: m.round(a, 2),
        lambda m, f, a: m.clip(a, 0.25, 0.75),
        lambda m, f, a: m.clip(a, max=0.5),
        lambda m, f, a: f(a, 3, s=0.5),
        lambda m, f, a: f(a, 3, s=a),
        lambda m, f, a: f(x=a, k=3, s=1.0),  # keywords in unsorted order
    ]
    for call in calls:
        _same(call(enp, ef, ex), call(jnp, jf, jx))  # fills the inline cache
    n = len(misses)
    for _ in range(3):
        for call in calls:
            _same(call(enp, ef, ex), call(jnp, jf, jx))
    assert len(misses) == n


def test_cache_counters_count_inline_cache_hits():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which):
        def f(x, k, s):
            traces[which] += 1
            return x * k + s

        return f

    ef = engine.jit(make("engine"), static_argnums=1)
    jf = jax.jit(make("jax"), static_argnums=1)
    ex, jx = enp.arange(3.0), jnp.arange(3.0)
    calls = [(2, 1.0), (2, 2.0), (3, 1.0), (2, 1), (3, 0.5), (2, 1.0), (2, True)]
    for k, s in calls * 2:
        _same(ef(ex, k, s), jf(jx, k, s))
    assert traces["engine"] == traces["jax"] == 4
    info = ef.cache_info()
    assert (info.trace_count, info.compile_count, info.currsize) == (4, 4, 4)
    assert info.hits == ef.cache_hits == 2 * len(calls) - 4
    assert sorted(e.hits for e in info.entries) == [1, 1, 3, 5]


def test_least_recently_used_signature_leaves_first(monkeypatch):
    jax, jnp = real_jax()
    monkeypatch.setattr(jit_keyed, "CACHE_SIZE", 2)
    misses = _counting_misses(monkeypatch)
    ef = engine.jit(lambda x, k: x * k, static_argnums=1)
    jf = jax.jit(lambda x, k: x * k, static_argnums=1)
    ex, jx = enp.arange(3.0), jnp.arange(3.0)

    def run(*ks):
        n = len(misses)
        for k in ks:
            _same(ef(ex, k), jf(jx, k))
        return len(misses) - n

    assert run(1, 2) == 2  # both fill
    assert run(1, 2, 1) == 0  # 2 is now the least recently used
    assert run(3) == 1  # fills, evicting 2
    assert run(1, 3) == 0
    assert run(2) == 1  # evicted: the dict lookup answers it (no retrace)
    assert ef.trace_count == 3


def test_unhashable_and_unkeyable_statics_keep_jax_errors():
    jax, jnp = real_jax()
    ef = engine.jit(lambda x, k: x * len(k), static_argnums=1)
    jf = jax.jit(lambda x, k: x * len(k), static_argnums=1)
    ex, jx = enp.ones(2), jnp.ones(2)
    for _ in range(2):
        _same(ef(ex, (1, 2)), jf(jx, (1, 2)))
        _same(ef(ex, "ab"), jf(jx, "ab"))
        _same(ef(ex, (1.5, -0.0)), jf(jx, (1.5, -0.0)))  # keyed by the general path
    for bad in ([1, 2], (1, [2]), {"a": 1}):
        for f, x in ((ef, ex), (jf, jx)):
            with pytest.raises(ValueError, match="Non-hashable static arguments are not supported"):
                f(x, bad)


def test_scalars_from_many_threads_get_their_own_values():
    f = engine.jit(lambda x, k: x * k)
    x = enp.ones(3)
    errors = []

    def work(n):
        for i in range(100):
            k = float(n * 1000 + i)
            got = np.asarray(f(x, k))
            if not np.array_equal(got, np.full(3, k, np.float32)):
                errors.append((k, got))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_remembered_scalar_buffers_are_no_live_arrays(monkeypatch):
    """The buffers the keyed cache keeps for Python scalars are the engine's: after the
    engine's scalar cache lets them go (evicted, or ``clear_caches``), ``live_arrays``
    still leaves them out, as JAX (which keeps none) lists nothing new."""
    import gc

    from engine import dispatch

    jax, jnp = real_jax()
    monkeypatch.setattr(dispatch, "_SCALAR_CACHE_LIMIT", 2)

    def live_delta(m, work):
        gc.collect()
        before = len(m.live_arrays())
        work()
        gc.collect()
        return len(m.live_arrays()) - before

    for m, np_ in ((engine, enp), (jax, jnp)):
        f, g = m.jit(lambda x, k: x * k), m.jit(lambda x, k: x + k)
        x = np_.ones(3)

        def calls(f=f, g=g, x=x):
            for k in (0.5, 0.5, 3, 3):
                f(x, k).block_until_ready()
            for k in (1.0, 2.0, 4.0, 8.0):  # push f's scalars out of the scalar cache
                g(x, k).block_until_ready()

        assert live_delta(m, calls) == 0, m
        assert live_delta(m, m.clear_caches) == 0, m


# ------------------------------------------------- the last record's matcher
# A call shaped like the last keyed call is answered by the matcher generated for that
# record (engine/jit_keyed.py) without building a key: these check that it answers only
# what the key would have matched, and as JAX.


def _counting_keyed(monkeypatch):
    """White-box: how many keyed calls the matcher did not answer."""
    calls = []
    keyed = jit_module.call_keyed

    def counted(f, args, kwargs):
        calls.append(args)
        return keyed(f, args, kwargs)

    monkeypatch.setattr(jit_module, "call_keyed", counted)
    return calls


def test_matcher_takes_equal_avals_of_new_arrays_and_static_values(monkeypatch):
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which, m):
        def f(p, x, n, *, scale):
            traces[which] += 1
            return {"w": p["w"] * x**n * scale, "b": p["b"] - 1}, m.sum(x)

        return f

    ef = engine.jit(make("engine", enp), static_argnums=2)
    jf = jax.jit(make("jax", jnp), static_argnums=2)
    x = np.arange(4.0, dtype=np.float32)
    ep, jp = {"w": enp.ones(4), "b": enp.zeros(4)}, {"w": jnp.ones(4), "b": jnp.zeros(4)}
    for _ in range(2):  # fills the keyed cache, then its record's matcher
        (ep, _), (jp, _) = (
            ef(ep, enp.asarray(x), 2, scale=1.5),
            jf(jp, jnp.asarray(x), 2, scale=1.5),
        )
    calls = _counting_keyed(monkeypatch)
    for i in range(4):
        n = int("2")  # an equal int, not necessarily the same object
        ex, jx = enp.asarray(x + i), jnp.asarray(x + i)  # new arrays: equal avals, new objects
        order = ("b", "w") if i % 2 else ("w", "b")  # the same names, either insertion order
        ep, jp = {k: ep[k] for k in order}, {k: jp[k] for k in order}
        (ep, es), (jp, js) = ef(ep, ex, n, scale=1.5), jf(jp, jx, n, scale=1.5)
        for k in ("w", "b"):
            _same(ep[k], jp[k])
        _same(es, js)
        assert list(ep) == list(jp)
    assert calls == []  # every repeat answered by the matcher
    assert traces["engine"] == traces["jax"] == 1
    # what the matcher must not take: another static type or value, another tree
    for args, kw in [
        ((ep, enp.asarray(x), True), {"scale": 1.5}),
        ((ep, enp.asarray(x), 3), {"scale": 1.5}),
        (({"w": ep["w"]}, enp.asarray(x), 2), {"scale": 1.5}),
        (({"w": ep["w"], "c": ep["b"]}, enp.asarray(x), 2), {"scale": 1.5}),
        (({"w": ep["w"], "b": ep["b"], "c": None}, enp.asarray(x), 2), {"scale": 1.5}),
        ((ep, enp.asarray(x, dtype=np.int32), 2), {"scale": 1.5}),
        ((ep, enp.asarray(x), 2), {"scale": 2}),
        ((ep, enp.asarray(x), 2), {"scale": 1.5, "extra": 1}),
    ]:
        ours, theirs = _outcome(ef, args, kw), _outcome(jf, _to_jax(jnp, args), kw)
        assert type(ours) is type(theirs)
        if isinstance(ours, Exception):
            assert type(ours).__name__ == type(theirs).__name__
        else:
            for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
                _same(a, b)
    assert traces["engine"] == traces["jax"]


def _outcome(f, args, kw):
    try:
        return f(*args, **kw)
    except Exception as e:  # compared by class with JAX's
        return e


def _to_jax(jnp, tree):
    import jax

    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(np.asarray(a)) if isinstance(a, engine.Array) else a, tree
    )


def test_matcher_scalars_deleted_arrays_and_transformations_as_jax(monkeypatch):
    jax, jnp = real_jax()
    ef = engine.jit(lambda x, s, k: (x * s + k, [x, None]), static_argnums=2)
    jf = jax.jit(lambda x, s, k: (x * s + k, [x, None]), static_argnums=2)
    x = np.linspace(-1.0, 1.0, 5, dtype=np.float32)
    ex, jx = enp.asarray(x), jnp.asarray(x)
    ef(ex, 0.5, 1), ef(ex, 0.5, 1)  # fills the keyed cache, then its record's matcher
    calls = _counting_keyed(monkeypatch)
    for s in (0.5, -0.0, 2.5, 1e30, 0.5):  # new scalar values reach the program
        (eo, [ea, en]), (jo, [ja, jn]) = ef(ex, s, 1), jf(jx, s, 1)
        _same(eo, jo)
        _same(ea, ja)
        assert en is None and jn is None
    assert calls == []
    # an int scalar where a float was: another signature (its dtype), as JAX's
    _same(ef(ex, 3, 1)[0], jf(jx, 3, 1)[0])
    # an int out of range: JAX's OverflowError
    for f, a in ((ef, ex), (jf, jx)):
        with pytest.raises(OverflowError):
            f(a, 2**70, 1)
    # inside grad the call binds (the matcher is not used under a trace)
    eg = engine.grad(lambda a: ef(a, 0.5, 1)[0].sum())(ex)
    jg = jax.grad(lambda a: jf(a, 0.5, 1)[0].sum())(jx)
    _same(eg, jg)
    # a deleted argument: JAX's error, from the matcher's record as well
    ef(ex, 0.5, 1)
    ed, jd = enp.asarray(x), jnp.asarray(x)
    ed.delete()
    jd.delete()
    errors = []
    for f, a in ((ef, ed), (jf, jd)):
        with pytest.raises(RuntimeError) as info:
            f(a, 0.5, 1)
        errors.append(str(info.value))
    assert "deleted" in errors[0] and "deleted" in errors[1]


def test_matcher_result_trees_as_jax(monkeypatch):
    jax, jnp = real_jax()
    Pair = collections.namedtuple("Pair", "a b")

    def f(x, k):
        return [
            {"z": x * k, "a": (x, None, [])},
            Pair(x, x + 1),
            (),
            {},
            x,
        ]

    ef, jf = engine.jit(f, static_argnums=1), jax.jit(f, static_argnums=1)
    calls = []
    for i in range(3):  # fill, the matcher made, then the matcher
        if i == 2:
            calls = _counting_keyed(monkeypatch)
        e_out, j_out = ef(enp.arange(3.0), 2), jf(jnp.arange(3.0), 2)
        assert str(jax.tree_util.tree_structure(e_out)) == str(jax.tree_util.tree_structure(j_out))
        assert type(e_out[1]) is Pair and list(e_out[0]) == list(j_out[0])
        for a, b in zip(jax.tree_util.tree_leaves(e_out), jax.tree_util.tree_leaves(j_out)):
            _same(a, b)
    assert ef.compile_count == 1 and ef.cache_hits == 2 and calls == []
