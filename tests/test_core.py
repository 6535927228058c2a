"""The core's promises: JAX's jaxpr text, caching, source metadata in XLA's HLO, no
leaked buffers, errors a person can act on, and no `jax` import."""

import gc
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp
from engine import errors

HERE = os.path.abspath(__file__)


def _programs():
    return {
        "sin_mul": lambda m: lambda x: m.sin(x) * 2.0,
        "grad_sum_sin": lambda m: None,
    }


@pytest.mark.parametrize(
    "case",
    [
        "sin_mul",
        "grad_sum_sin",
        "jit_nested",
        "weak_scalar",
        "reshape_T",
        "vmap_sin",
        "grad_tanh_layer",
    ],
)
def test_make_jaxpr_text_matches_jax(case):
    jax, jnp = real_jax()
    x = np.linspace(-1, 1, 6).astype(np.float32).reshape(2, 3)

    def build(j, m):
        if case == "sin_mul":
            return lambda x: m.sin(x) * 2.0
        if case == "grad_sum_sin":
            return j.grad(lambda x: m.sum(m.sin(x)))
        if case == "jit_nested":

            def f(x):
                return m.sin(x) * 2.0

            return lambda x: j.jit(f)(x) + 1.0
        if case == "weak_scalar":
            return lambda x: (x * 3 + 1.5) / 2
        if case == "reshape_T":
            return lambda x: x.reshape(3, 2).T
        if case == "vmap_sin":
            return j.vmap(lambda r: m.sin(r) * r)
        if case == "grad_tanh_layer":
            return j.grad(lambda w: m.mean((m.tanh(x.T @ w) - 1.0) ** 2))

    ours = str(engine.make_jaxpr(build(engine, enp))(x))
    theirs = str(jax.make_jaxpr(build(jax, jnp))(x))
    assert ours == theirs


def test_trace_and_compile_are_cached():
    f = engine.jit(lambda x, y: enp.sin(x) * y)
    x = enp.ones((4,))
    for _ in range(5):
        f(x, 2.0)
    assert (f.trace_count, f.compile_count) == (1, 1)
    assert f.cache_hits == 4
    f(enp.ones((5,)), 2.0)  # new shape: retrace + recompile
    assert (f.trace_count, f.compile_count) == (2, 2)
    f(x, 3.0)  # same avals, different value: no retrace
    assert (f.trace_count, f.compile_count) == (2, 2)


def test_static_argnums_and_argnames_are_part_of_the_cache_key():
    calls = []

    def f(x, n, *, mode="a"):
        calls.append((n, mode))
        return x * n if mode == "a" else x + n

    g = engine.jit(f, static_argnums=1, static_argnames="mode")
    x = enp.ones(3)
    assert np.allclose(g(x, 2), 2.0)
    assert np.allclose(g(x, 2), 2.0)
    assert np.allclose(g(x, 3, mode="b"), 4.0)
    assert calls == [(2, "a"), (3, "b")]
    with pytest.raises(ValueError, match="hashable"):
        g(x, [1])


def _hlo_source_lines(hlo):
    files = dict(re.findall(r'^(\d+) "([^"]+)"', hlo.split("FunctionNames")[0], re.M))
    lines = set()
    for fid, line in re.findall(r"file_name_id=(\d+) .*?line=(\d+)", hlo):
        lines.add((files.get(fid), int(line)))
    for f, line in re.findall(r'source_file="([^"]+)" source_line=(\d+)', hlo):
        lines.add((f, int(line)))
    return lines


def test_optimized_hlo_points_back_to_user_lines():
    def f(x):
        y = enp.sin(x)  # line A
        return enp.sum(y * x)  # line B

    line_a = f.__code__.co_firstlineno + 1
    hlo = engine.jit(f).lower(enp.ones(8)).compile().as_text()
    lines = _hlo_source_lines(hlo)
    assert (HERE, line_a) in lines and (HERE, line_a + 1) in lines, lines
    assert "fusion" in hlo


def test_no_leaked_device_buffers():
    from engine import runtime

    f = engine.jit(lambda x: x * 2.0 + 1.0)
    x = enp.ones(16)
    f(x)
    gc.collect()
    before = runtime.live_buffer_count("cpu")
    for _ in range(10_000):
        f(x)
    gc.collect()
    assert runtime.live_buffer_count("cpu") <= before + 1


def test_python_control_flow_on_traced_value_is_a_clear_error():
    def f(x):
        if x.sum() > 0:  # the offending line
            return x
        return -x

    line = f.__code__.co_firstlineno + 1
    with pytest.raises(errors.ConcretizationTypeError) as e:
        engine.jit(f)(enp.ones(3))
    msg = str(e.value)
    assert isinstance(e.value, TypeError)
    assert "shape bool[]" in msg and f"{HERE}:{line}" in msg and "lax.cond" in msg
    # the session keeps working
    assert np.allclose(engine.jit(lambda x: x + 1)(enp.ones(2)), 2)


def test_grad_allows_python_control_flow_on_concrete_values():
    jax, _ = real_jax()
    f = lambda x: x * x if x > 0 else -x  # noqa: E731
    assert float(engine.grad(f)(3.0)) == float(jax.grad(f)(3.0)) == 6.0
    assert float(engine.grad(f)(-3.0)) == -1.0


def test_leaked_tracer_is_reported():
    saved = []

    def f(x):
        saved.append(x)
        return x + 1

    engine.jit(f)(enp.ones(3))
    with pytest.raises(errors.UnexpectedTracerError):
        engine.jit(lambda y: y + saved[0])(enp.ones(3))
    with pytest.raises(errors.UnexpectedTracerError):
        enp.sin(saved[0])
    assert np.allclose(enp.sin(enp.zeros(2)), 0)


def test_shape_mismatch_names_primitive_shapes_and_line():
    def f(x, y):
        return engine.lax.add(x, y)  # the offending line

    line = f.__code__.co_firstlineno + 1
    with pytest.raises(TypeError) as e:
        engine.jit(f)(enp.ones(3), enp.ones(4))
    msg = str(e.value)
    assert "add" in msg and "f32[3]" in msg and "f32[4]" in msg and f"{HERE}:{line}" in msg
    with pytest.raises(TypeError, match="same dtypes"):
        engine.lax.add(enp.ones(3), enp.ones(3, dtype=enp.int32))


def test_grad_of_nonscalar_or_integer_output_is_a_type_error():
    with pytest.raises(TypeError, match="scalar-output"):
        engine.grad(lambda x: x * 2)(enp.ones(3))
    with pytest.raises(TypeError, match="real-valued outputs"):
        engine.grad(lambda x: (x > 0).astype(enp.int32).sum())(enp.ones(3))
    with pytest.raises(TypeError, match="inexact"):
        engine.grad(lambda x: x * 2)(3)
    assert float(engine.grad(lambda x: x * 2)(3.0)) == 2.0


def test_item_assignment_points_to_at():
    x = enp.ones(3)
    with pytest.raises(TypeError, match=r"\.at\["):
        x[0] = 2.0


def test_array_repr_like_jax():
    jax, jnp = real_jax()
    for v in [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([1, 2], np.int32),
        np.array([True, False]),
    ]:
        assert repr(enp.asarray(v)) == repr(jnp.asarray(v))
    assert repr(enp.asarray(2.0)) == repr(jnp.asarray(2.0))


def test_engine_never_imports_jax():
    code = (
        "import sys, engine, engine.numpy as jnp\n"
        "f = engine.jit(lambda x: jnp.sin(x) * 2.0)\n"
        "print(float(engine.grad(lambda x: jnp.sum(f(x)))(jnp.ones(3))[0]))\n"
        "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules), "
        "[m for m in sys.modules if m.startswith('jax')]\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_weak_types_follow_jax():
    jax, jnp = real_jax()
    for make in [
        lambda m: m.ones(3) * 2.0,
        lambda m: m.ones(3, dtype=m.float16) * 2,
        lambda m: m.ones(3, dtype=m.int8) + 3,
        lambda m: m.asarray(2.0) * 2,
    ]:
        ours, theirs = make(enp), make(jnp)
        assert ours.dtype == theirs.dtype and ours.weak_type == theirs.weak_type


def test_type_checker_accepts_traced_jaxprs_and_rejects_broken_ones():
    from engine.core import JaxprTypeError, ShapedArray, Var, check_jaxpr

    x = np.ones((2, 3), np.float32)
    progs = [
        lambda x: enp.sin(x) * 2.0,
        engine.grad(lambda x: enp.sum(enp.tanh(x) ** 2)),
        engine.vmap(lambda r: engine.lax.cond(r.sum() > 0, enp.sin, enp.cos, r)),
        lambda x: engine.lax.scan(lambda c, r: (c + r, c * r), enp.zeros(3), x),
    ]
    for p in progs:
        check_jaxpr(engine.make_jaxpr(p)(x).jaxpr)
    j = engine.make_jaxpr(lambda x: enp.sin(x) * 2.0)(x).jaxpr
    j.eqns[1].outvars = [Var(ShapedArray((5,), np.float32))]
    with pytest.raises(JaxprTypeError, match="mul produces f32\\[2,3\\]"):
        check_jaxpr(j)
    j2 = engine.make_jaxpr(lambda x: enp.sin(x) * 2.0)(x).jaxpr
    j2.eqns = j2.eqns[1:]
    with pytest.raises(JaxprTypeError, match="used before definition"):
        check_jaxpr(j2)
