"""Calls with builtin containers of Arrays (a list of (w, b) tuples, a dict of named
arrays) take the keyed inline cache, keyed on the exact container structure: the same
results, retracing and errors as the general path, and as JAX."""

import collections
import importlib

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.jit_keyed as jit_keyed
import engine.numpy as enp

jit_module = importlib.import_module("engine.jit")  # the module (engine.jit is the function)


def _params(m, sizes=(3, 4, 2)):
    r = np.random.RandomState(0)
    return [
        (m.asarray(r.randn(a, b).astype(np.float32)), m.asarray(r.randn(b).astype(np.float32)))
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


def _sgd(which, m, traces):
    def step(params, x):
        traces[which] += 1
        for w, b in params:
            x = m.tanh(x @ w + b)
        return [(w * 0.5 + m.sum(x), b - 1.0) for w, b in params], m.sum(x)

    return step


def _assert_trees_close(a, b):
    jax, _ = real_jax()
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert str(ta) == str(tb)
    for u, v in zip(la, lb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)


def test_list_of_tuples_step_loop_matches_jax_and_traces_once():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}
    ef, jf = engine.jit(_sgd("engine", enp, traces)), jax.jit(_sgd("jax", jnp, traces))
    ep, jp = _params(enp), _params(jnp)
    x = np.ones((2, 3), np.float32)
    ex, jx = enp.asarray(x), jnp.asarray(x)
    for _ in range(5):
        (ep, eloss), (jp, jloss) = ef(ep, ex), jf(jp, jx)
        _assert_trees_close((ep, eloss), (jp, jloss))
    assert traces["engine"] == traces["jax"] == 1
    assert ef.compile_count == 1 and ef.cache_hits == 4
    assert ef._keyed_last is not jit_keyed.NO_CALL  # answered by the keyed cache


def test_structure_changes_retrace_as_jax():
    jax, jnp = real_jax()
    traces = {"engine": 0, "jax": 0}

    def make(which, m):
        def f(tree):
            traces[which] += 1
            return sum(m.sum(v) for v in (jax.tree_util.tree_leaves(tree)))

        return f

    ef, jf = engine.jit(make("engine", enp)), jax.jit(make("jax", jnp))

    def trees(m):
        a, b = m.ones(2), m.arange(3.0)
        return [
            [a, b],
            [a, b],
            (a, b),  # tuple, not list
            [a, [b]],  # nesting
            [a, b, a],  # length
            {"x": a, "y": b},
            {"y": b, "x": a},  # same dict: keys sorted
            {"x": a, "z": b},  # other key names
            [a, None, b],
            [a, b, None],
            [a, 2.0],  # Python scalars are weak leaves
            [a, 3.0],
            [a, 3],
            [a, m.ones(3)],  # another aval
            {1: a, 2: b},  # non-str keys: the general path
            {1: a, 2: b},
        ]

    for et, jt in zip(trees(enp), trees(jnp)):
        np.testing.assert_allclose(ef(et), jf(jt), rtol=1e-6)
    assert traces["engine"] == traces["jax"]
    assert ef.compile_count == traces["engine"]


def test_python_scalars_in_containers_take_their_new_values():
    jax, jnp = real_jax()
    ef = engine.jit(lambda p: p[0] * p[1][0] + p[1][1])
    jf = jax.jit(lambda p: p[0] * p[1][0] + p[1][1])
    ea, ja = enp.arange(3.0), jnp.arange(3.0)
    for s, t in [(2.0, 1), (5.0, 1), (5.0, 7), (True, 2), (1 + 2j, 0)]:
        e, j = ef([ea, (s, t)]), jf([ja, (s, t)])
        assert e.dtype == j.dtype and e.weak_type == j.weak_type
        np.testing.assert_allclose(np.asarray(e), np.asarray(j))


def test_subclasses_and_custom_nodes_keep_their_own_flattening():
    jax, jnp = real_jax()
    Pair = collections.namedtuple("Pair", "a b")

    def f(p):
        if isinstance(p, tuple):
            return (p[1], p[0]) if type(p) is tuple else type(p)(p[1], p[0])
        return type(p)((k, v * 2) for k, v in p.items())

    ef, jf = engine.jit(f), jax.jit(f)
    for et, jt in [
        (Pair(enp.ones(2), enp.zeros(3)), Pair(jnp.ones(2), jnp.zeros(3))),
        (collections.OrderedDict(b=enp.ones(2), a=enp.zeros(1)), None),
        ((enp.ones(2), enp.zeros(3)), (jnp.ones(2), jnp.zeros(3))),
    ]:
        for _ in range(2):
            out = ef(et)
            assert type(out) is type(et)
            if jt is not None:
                _assert_trees_close(out, jf(jt))
    od = ef(collections.OrderedDict(b=enp.ones(2), a=enp.zeros(1)))
    assert list(od) == ["b", "a"]  # an OrderedDict keeps its order (as in JAX)


def test_deleted_array_inside_a_list_raises_as_jax():
    jax, jnp = real_jax()
    ef = engine.jit(lambda p: p[0] + p[1])
    jf = jax.jit(lambda p: p[0] + p[1])
    ea, ja = enp.ones(3), jnp.ones(3)
    ef([ea, enp.ones(3)])
    ef([ea, enp.ones(3)])
    jf([ja, jnp.ones(3)])
    ea.delete()
    ja.delete()
    with pytest.raises(RuntimeError) as je:
        jf([ja, jnp.ones(3)])
    with pytest.raises(RuntimeError) as ee:
        ef([ea, enp.ones(3)])
    assert "Array has been deleted" in str(je.value)
    assert "Array has been deleted" in str(ee.value)


def test_committed_arrays_in_containers_commit_the_results():
    jax, jnp = real_jax()
    f = lambda p: [p[0] + 1, p[1]["k"] * 2]  # noqa: E731
    ef, jf = engine.jit(f), jax.jit(f)
    for put_e, put_j in [
        (lambda v: v, lambda v: v),
        (
            lambda v: engine.device_put(v, engine.devices()[0]),
            lambda v: jax.device_put(v, jax.devices()[0]),
        ),
    ]:
        for _ in range(2):
            eo = ef([put_e(enp.ones(2)), {"k": enp.ones(2)}])
            jo = jf([put_j(jnp.ones(2)), {"k": jnp.ones(2)}])
            assert [a.committed for a in eo] == [a.committed for a in jo]


def test_config_change_is_seen_by_the_container_cache():
    f = engine.jit(lambda p: p[0] + p[1])
    assert f([enp.ones(2), 1.0]).dtype == np.float32
    with engine.enable_x64(True):
        assert f([enp.ones(2, dtype=np.float64), 1.0]).dtype == np.float64
        assert f([enp.ones(2, dtype=np.float32), 1]).dtype == np.float32
        assert f([enp.ones(2, dtype=np.float32), 1.0]).dtype == np.float32
    assert f([enp.ones(2), 1.0]).dtype == np.float32
    assert jit_keyed.CACHE_SIZE >= 2


@pytest.mark.parametrize("keep_unused", [False, True])
def test_deleted_unused_array_in_a_list_as_jax(keep_unused):
    jax, jnp = real_jax()
    outcomes = []
    for jit, m in [(engine.jit, enp), (jax.jit, jnp)]:
        f = jit(lambda p: p[0] * 2, keep_unused=keep_unused)
        p = [m.ones(2), m.ones(3)]
        f(p)
        f(p)
        p[1].delete()
        try:
            outcomes.append(np.asarray(f(p)).tolist())
        except RuntimeError as e:
            outcomes.append("Array has been deleted" in str(e))
    assert outcomes[0] == outcomes[1]


def test_result_trees_built_as_jax():
    jax, jnp = real_jax()
    Pair = collections.namedtuple("Pair", "a b")

    def f(x):
        return [
            [(x, x + 1), [x * 2], (), x - 1, []],
            ((x, (x, x)), None),
            (x, Pair(x, x)),
            [{"a": x}, (x,)],
            (x, [x, x], (x,), [], ()),
        ]

    ef, jf = engine.jit(f), jax.jit(f)
    for make in range(2):  # the first call fills the caches, the second uses them
        e_out, j_out = ef(enp.arange(3.0)), jf(jnp.arange(3.0))
        for e, j in zip(e_out, j_out):
            _assert_trees_close(e, j)
            assert type(e) is type(j)
    assert ef.compile_count == 1


def test_benchmark_transformer_step_matches_jax():
    """benchmarks/workloads.py's decoder-block step (a dict of 14 parameters, embedding
    gather, causal einsum attention, softmax, GELU MLP, grad + SGD): the same updated
    parameters as JAX's over three steps, answered by the keyed inline cache."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import workloads

    jax, jnp = real_jax()
    estep, ep, et, ey = workloads._transformer_step(engine, enp)
    jstep, jp, jt, jy = workloads._transformer_step(jax, jnp)
    for _ in range(3):
        ep, jp = estep(ep, et, ey), jstep(jp, jt, jy)
        _assert_trees_close(ep, jp)
    assert estep.compile_count == 1 and estep.cache_hits == 2
    assert estep._keyed_last is not jit_keyed.NO_CALL
