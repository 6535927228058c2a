"""The small API real programs touch first (issue 9 item 4), against real JAX 0.10.2:
top-level names and submodules after ``import engine`` alone, ShapeDtypeStruct.like,
ClosedJaxpr.literals and JAX's "Writing custom interpreters" tutorial, vjp's function as
a pytree, AOT calls with static arguments, test_util.check_grads,
flatten_util.ravel_pytree, dlpack, monitoring, profiler and typing."""

import functools
import glob
import re
import subprocess
import sys
import typing

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()


def same(ours, theirs):
    """Values, dtypes and weak types agree leaf by leaf."""
    assert_close(ours, theirs)
    a, b = engine.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert bool(getattr(x, "weak_type", False)) == bool(getattr(y, "weak_type", False))


# ---------------------------------------------------------------------------- top level

SUBMODULES = [
    "custom_batching",
    "custom_derivatives",
    "debug",
    "dlpack",
    "dtypes",
    "errors",
    "experimental",
    "image",
    "lax",
    "monitoring",
    "nn",
    "numpy",
    "ops",
    "profiler",
    "random",
    "scipy",
    "stages",
    "tree",
    "tree_util",
    "typing",
    "version",
]


def test_submodules_after_import_engine_alone():
    """A fresh interpreter: ``import engine`` then every submodule is an attribute."""
    code = (
        "import engine, types\n"
        f"names = {SUBMODULES!r}\n"
        "missing = [n for n in names if not isinstance(getattr(engine, n, None), types.ModuleType)]\n"
        "print(missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name in SUBMODULES:  # each is also a top-level module of JAX
        assert hasattr(jax, name), name


def test_profiler_is_imported_lazily():
    code = "import engine, sys\nprint('engine.profiler' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert "profiler" in dir(engine)
    with pytest.raises(AttributeError, match="no attribute 'not_a_module'"):
        engine.not_a_module  # noqa: B018


def test_tree_namespace_matches_jax():
    t = {"a": [1.0, np.float32(2)], "b": (np.arange(3, dtype=np.int32),)}
    same(engine.tree.map(lambda x: x * 2, t), jax.tree.map(lambda x: x * 2, t))
    assert len(engine.tree.leaves(t)) == len(jax.tree.leaves(t))
    assert engine.tree.structure(t).num_leaves == jax.tree.structure(t).num_leaves


def test_version():
    assert engine.__version__ == engine.version.__version__
    assert isinstance(engine.__version__, str) and engine.__version__.count(".") == 2
    assert engine.version.jax_semantics_version == jax.__version__


def test_process_count_and_index():
    names = ["process_count", "process_index", "process_indices"]
    assert [getattr(engine, n)() for n in names] == [getattr(jax, n)() for n in names]
    for old in ("host_count", "host_id", "host_ids"):
        with pytest.warns(UserWarning, match="This alias will eventually be removed"):
            theirs = getattr(jax, old)()
        with pytest.warns(UserWarning, match=f"jax.{old} has been renamed"):
            assert getattr(engine, old)() == theirs


def test_default_matmul_precision_flag_reaches_dot_general():
    x = np.ones((2, 2), np.float32)
    with engine.default_matmul_precision("float32"), jax.default_matmul_precision("float32"):
        assert engine.config.jax_default_matmul_precision == "float32"
        ours = str(engine.make_jaxpr(lambda a: a @ a)(x))
        theirs = str(jax.make_jaxpr(lambda a: a @ a)(x))
    assert engine.default_matmul_precision.value is None
    assert "precision" in ours and "precision" in theirs


def test_print_environment_info(capsys):
    text = engine.print_environment_info(return_string=True)
    assert capsys.readouterr().out == ""
    for key in ("jaxlib:", "numpy:", "python:", "device info:", "process_count: 1"):
        assert key in text
    assert engine.print_environment_info() is None
    assert "jaxlib:" in capsys.readouterr().out


def test_copy_to_host_async():
    tree = {"x": enp.arange(3.0), "y": [enp.ones(2, dtype=np.int32), "not an array", 1.0]}
    assert engine.copy_to_host_async(tree) is tree
    np.testing.assert_array_equal(np.asarray(tree["x"]), [0.0, 1.0, 2.0])


def test_default_device_flag():
    dev = engine.devices()[0]
    assert engine.default_device.value is None and jax.default_device.value is None
    with engine.default_device(dev):
        assert engine.config.jax_default_device is dev
        assert enp.ones(2).devices() == {dev}
    with engine.default_device("cpu"):
        assert enp.ones(2).devices() == {engine.devices("cpu")[0]}
    assert engine.default_device.value is None
    with pytest.raises(ValueError, match="Device or a platform name"):
        engine.config.update("jax_default_device", 3)
    engine.config.update("jax_default_device", None)


def test_enable_checks_type_checks_traced_jaxprs(monkeypatch):
    checked = []
    real = engine.core.check_jaxpr
    monkeypatch.setattr(engine.core, "check_jaxpr", lambda j: (checked.append(j), real(j))[1])
    engine.make_jaxpr(lambda x: x * 2)(1.0)
    assert checked == []
    assert engine.enable_checks.value is False and jax.enable_checks.value is False
    with engine.enable_checks(True):
        assert engine.config.jax_enable_checks is True
        engine.make_jaxpr(lambda x: enp.sin(x) * 2)(1.0)
    assert len(checked) == 1 and engine.enable_checks.value is False


# ---------------------------------------------------------------------------- ShapeDtypeStruct


@pytest.mark.parametrize(
    "make",
    [
        lambda m: 1.0,
        lambda m: 3,
        lambda m: np.zeros((2, 3), np.int16),
        lambda m: m.numpy.ones(4),
        lambda m: m.ShapeDtypeStruct((2,), np.int8, weak_type=True),
        lambda m: np.float64(1.0),
    ],
)
def test_shape_dtype_struct_like(make):
    ours, theirs = engine.ShapeDtypeStruct.like(make(engine)), jax.ShapeDtypeStruct.like(make(jax))
    assert (ours.shape, ours.dtype, ours.weak_type) == (
        theirs.shape,
        theirs.dtype,
        theirs.weak_type,
    )


def test_shape_dtype_struct_like_inside_jit():
    seen = []
    engine.jit(lambda x: (seen.append(engine.ShapeDtypeStruct.like(x)), x)[1])(1.0)
    assert (seen[0].shape, seen[0].dtype, seen[0].weak_type) == ((), np.float32, True)


@pytest.mark.parametrize(
    "bad, phrase",
    [([1, 2], "as an abstract array"), ("a", "is not a valid JAX type")],
)
def test_shape_dtype_struct_like_errors(bad, phrase):
    with pytest.raises(TypeError, match=phrase):
        jax.ShapeDtypeStruct.like(bad)
    with pytest.raises(TypeError, match=phrase):
        engine.ShapeDtypeStruct.like(bad)


# ---------------------------------------------------------------------------- custom interpreters


def test_closed_jaxpr_literals_are_its_consts():
    ones = np.ones(3, np.float32)
    ours = engine.make_jaxpr(lambda x: x + ones)(ones)
    theirs = jax.make_jaxpr(lambda x: x + ones)(ones)
    assert ours.literals is ours.consts or ours.literals == ours.consts
    assert len(ours.literals) == len(theirs.literals) == 1
    np.testing.assert_array_equal(np.asarray(ours.literals[0]), np.asarray(theirs.literals[0]))


def _tutorial(jx, jnp_, core_literal):
    """The code of JAX's "Writing custom Jaxpr interpreters in JAX" (its eval_jaxpr and
    inverse interpreters), written against module ``jx``; JAX 0.10.2 keeps Literal in
    jax.extend.core, the tutorial's jax.core no longer has it."""

    def safe_map(f, *xs):
        assert len({len(x) for x in xs}) == 1
        return list(map(f, *xs))

    def eval_jaxpr(jaxpr, consts, *args):
        env = {}

        def read(var):
            return var.val if type(var) is core_literal else env[var]

        def write(var, val):
            env[var] = val

        safe_map(write, jaxpr.invars, args)
        safe_map(write, jaxpr.constvars, consts)
        for eqn in jaxpr.eqns:
            outvals = eqn.primitive.bind(*safe_map(read, eqn.invars), **eqn.params)
            if not eqn.primitive.multiple_results:
                outvals = [outvals]
            safe_map(write, eqn.outvars, outvals)
        return safe_map(read, jaxpr.outvars)

    inverse_registry = {jx.lax.exp_p: jnp_.log, jx.lax.tanh_p: jnp_.arctanh}

    def inverse_jaxpr(jaxpr, consts, *args):
        env = {}

        def read(var):
            return var.val if type(var) is core_literal else env[var]

        def write(var, val):
            env[var] = val

        safe_map(write, jaxpr.outvars, args)
        safe_map(write, jaxpr.constvars, consts)
        for eqn in jaxpr.eqns[::-1]:
            invals = safe_map(read, eqn.outvars)
            if eqn.primitive not in inverse_registry:
                raise NotImplementedError(f"{eqn.primitive} does not have registered inverse.")
            safe_map(write, eqn.invars, [inverse_registry[eqn.primitive](*invals)])
        return safe_map(read, jaxpr.invars)

    def inverse(fun):
        @functools.wraps(fun)
        def wrapped(*args, **kwargs):
            closed = jx.make_jaxpr(fun)(*args, **kwargs)
            return inverse_jaxpr(closed.jaxpr, closed.literals, *args)[0]

        return wrapped

    def f(x):
        return jnp_.exp(jnp_.tanh(x))

    closed = jx.make_jaxpr(f)(jnp_.ones(5))
    evaluated = eval_jaxpr(closed.jaxpr, closed.literals, jnp_.ones(5))
    round_trip = inverse(f)(f(1.0))
    traced = jx.make_jaxpr(inverse(f))(f(1.0))
    composed = jx.jit(jx.vmap(jx.grad(inverse(f))))((jnp_.arange(5) + 1.0) / 5.0)
    return closed, evaluated, round_trip, traced, composed


def test_writing_custom_interpreters_tutorial():
    import jax.extend.core as jex_core

    ours = _tutorial(engine, enp, engine.core.Literal)
    theirs = _tutorial(jax, jnp, jex_core.Literal)
    assert str(ours[0].jaxpr) == str(theirs[0].jaxpr)
    assert [str(e.primitive) for e in ours[0].jaxpr.eqns] == ["tanh", "exp"]
    same(ours[1], theirs[1])
    same(ours[2], theirs[2])
    np.testing.assert_allclose(float(ours[2]), 1.0, rtol=1e-6)
    assert str(ours[3]) == str(theirs[3])
    y = (np.arange(5) + 1.0) / 5.0
    closed_form = 1.0 / (y * (1.0 - np.log(y) ** 2))  # d/dy arctanh(log y)
    np.testing.assert_allclose(np.asarray(ours[4]), closed_form, rtol=2e-5)
    same(ours[4], theirs[4])


# ---------------------------------------------------------------------------- vjp as a pytree


def test_vjp_function_is_a_partial_with_residual_leaves():
    x = np.array([0.5, 1.5], np.float32)
    _, f_vjp = engine.vjp(lambda a: enp.sin(a) * a, x)
    assert isinstance(f_vjp, engine.tree_util.Partial)
    leaves = engine.tree_util.tree_leaves(f_vjp)
    assert leaves and all(hasattr(leaf, "shape") for leaf in leaves)
    rebuilt = engine.tree_util.tree_unflatten(engine.tree_util.tree_structure(f_vjp), leaves)
    ct = np.ones(2, np.float32)
    same(rebuilt(ct), jax.vjp(lambda a: jnp.sin(a) * a, x)[1](ct))


def test_vjp_function_returned_from_and_passed_into_jit():
    def f(m):
        return lambda a: m.numpy.sin(a) * a

    x = np.array([0.5, 1.5], np.float32)
    ct = np.array([1.0, -2.0], np.float32)
    ours_y, ours_f = engine.jit(lambda a: engine.vjp(f(engine), a))(x)
    theirs_y, theirs_f = jax.jit(lambda a: jax.vjp(f(jax), a))(x)
    same(ours_y, theirs_y)
    same(ours_f(ct), theirs_f(ct))
    same(
        engine.jit(lambda g, c: g(c))(ours_f, ct),
        jax.jit(lambda g, c: g(c))(theirs_f, ct),
    )


def test_vjp_function_through_vmap_of_cotangents():
    x = np.array([0.5, 1.5], np.float32)
    cts = np.eye(2, dtype=np.float32)
    _, ours = engine.vjp(lambda a: enp.tanh(a), x)
    _, theirs = jax.vjp(lambda a: jnp.tanh(a), x)
    same(engine.vmap(ours)(cts), jax.vmap(theirs)(cts))


# ---------------------------------------------------------------------------- AOT with statics


def _aot(m):
    return m.jit(lambda n, x: x * n, static_argnums=0).trace(5, 1.0).lower().compile()


def test_compiled_is_called_without_its_static_arguments():
    same(_aot(engine)(2.0), _aot(jax)(2.0))
    g = lambda m: m.jit(lambda n: m.numpy.arange(n), static_argnums=0)  # noqa: E731
    same(g(engine).trace(5).lower().compile()(), g(jax).trace(5).lower().compile()())
    h = lambda m: m.jit(lambda n, x: x * n, static_argnums=0)  # noqa: E731
    same(h(engine).lower(3, 1.0).compile()(2.0), h(jax).lower(3, 1.0).compile()(2.0))


def test_compiled_with_the_same_static_values_too():
    # JAX raises here; the engine also accepts the full argument list when the static
    # values are the compiled ones (earlier engine code calls it so).
    same(_aot(engine)(5, 2.0), _aot(jax)(2.0))
    with pytest.raises(TypeError, match="compiled for static arguments"):
        _aot(engine)(6, 2.0)


def test_compiled_with_the_wrong_structure():
    phrase = "Function compiled with input pytree does not match the input pytree"
    with pytest.raises(TypeError, match=phrase):
        _aot(jax)(2.0, 3.0, 4.0)
    with pytest.raises(TypeError, match=phrase):
        _aot(engine)(2.0, 3.0, 4.0)


# ---------------------------------------------------------------------------- check_grads


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev", "lin")])
def test_check_grads_passes_on_correct_derivatives(order, modes):
    from engine.test_util import check_grads

    x = np.array([0.3, -0.7, 1.1], np.float32)
    check_grads(lambda a: enp.sum(enp.sin(a) * a**2), (x,), order, modes)
    check_grads(lambda a, b: enp.tanh(a) * b, (x, np.float32(2.0)), order, modes)


def test_check_grads_on_python_scalars_and_pytrees():
    from engine.test_util import check_grads

    check_grads(lambda s: s * s * 3.0, (2.0,), order=3)
    check_grads(
        lambda d: d["w"] @ d["x"], ({"w": np.eye(2, dtype=np.float32), "x": np.ones(2)},), 2
    )


def _wrong_rule(m):
    f = m.custom_jvp(lambda x: m.numpy.sin(x))
    f.defjvp(lambda p, t: (m.numpy.sin(p[0]), 2.0 * t[0]))
    return f


@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_check_grads_fails_on_a_wrong_rule_as_jax(modes):
    from jax.test_util import check_grads as jax_check

    from engine.test_util import check_grads

    x = (np.float32(0.3),)
    with pytest.raises(AssertionError) as theirs:
        jax_check(_wrong_rule(jax), x, 1, modes)
    with pytest.raises(AssertionError) as ours:
        check_grads(_wrong_rule(engine), x, 1, modes)
    what = "JVP tangent" if modes == ("fwd",) else "VJP cotangent projection"
    assert what in str(theirs.value) and what in str(ours.value)


# ---------------------------------------------------------------------------- ravel_pytree

PYTREES = {
    "one_dtype": lambda: {"a": np.ones((2, 3), np.float32), "b": [np.arange(3, dtype=np.float32)]},
    "mixed": lambda: {"a": np.ones((2,), np.float32), "b": [np.arange(3, dtype=np.int32), 2.0]},
    "python_scalars": lambda: [1.0, 2.0],
    "ints": lambda: (np.arange(4, dtype=np.int8), np.int16(3)),
    "empty": lambda: [],
    "bf16_and_f32": lambda: [np.ones(2, jnp.bfloat16), np.ones(1, np.float32)],
}


@pytest.mark.parametrize("name", sorted(PYTREES))
def test_ravel_pytree_matches_jax(name):
    from jax.flatten_util import ravel_pytree as jax_ravel

    from engine.flatten_util import ravel_pytree

    tree = PYTREES[name]()
    (ours, ours_un), (theirs, theirs_un) = ravel_pytree(tree), jax_ravel(tree)
    same(ours, theirs)
    same(ours_un(ours), theirs_un(theirs))
    assert engine.tree_util.tree_structure(ours_un(ours)).num_leaves == len(
        jax.tree_util.tree_leaves(theirs_un(theirs))
    )


def test_ravel_pytree_inside_jit_and_grad():
    from engine.flatten_util import ravel_pytree

    params = {"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}
    flat, unravel = ravel_pytree(params)

    def loss(v):
        p = unravel(v)
        return enp.sum(enp.tanh(p["w"] @ np.ones(2, np.float32) + p["b"]))

    g = engine.jit(engine.grad(loss))(flat)
    expected = engine.grad(lambda p: loss(ravel_pytree(p)[0]))(params)
    np.testing.assert_allclose(np.asarray(g), np.asarray(ravel_pytree(expected)[0]), rtol=1e-6)


def test_unravel_errors_as_jax():
    from jax.flatten_util import ravel_pytree as jax_ravel

    from engine.flatten_util import ravel_pytree

    tree = [np.ones(2, np.float32), np.arange(3, dtype=np.int32)]
    for ravel, arr in ((ravel_pytree, np.arange(5)), (jax_ravel, np.arange(5))):
        with pytest.raises(TypeError, match="unravel function given array of dtype int32"):
            ravel(tree)[1](arr)
    for ravel in (ravel_pytree, jax_ravel):
        with pytest.raises(ValueError, match="Sum of sizes 5 must be equal to dimension 0"):
            ravel(tree)[1](np.arange(7.0, dtype=np.float32))


# ---------------------------------------------------------------------------- dlpack


def test_from_dlpack_of_numpy_matches_jax():
    for x in (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.int16)):
        same(engine.dlpack.from_dlpack(x), jax.dlpack.from_dlpack(x))
    # float64 without x64: converted as JAX does
    same(engine.dlpack.from_dlpack(np.arange(3.0)), jax.dlpack.from_dlpack(np.arange(3.0)))


def test_engine_arrays_speak_dlpack():
    a = enp.arange(6.0).reshape(2, 3)
    assert a.__dlpack_device__() == (1, 0)
    np.testing.assert_array_equal(np.from_dlpack(a), np.asarray(a))
    b = engine.dlpack.from_dlpack(a)
    same(b, jax.dlpack.from_dlpack(jnp.arange(6.0).reshape(2, 3)))
    c = engine.dlpack.from_dlpack(a, copy=True)
    np.testing.assert_array_equal(np.asarray(c), np.asarray(a))


def test_dlpack_errors_and_dtypes_as_jax():
    phrase = "must have __dlpack__ and __dlpack_device__ methods"
    for mod in (engine.dlpack, jax.dlpack):
        with pytest.raises(TypeError, match=phrase):
            mod.from_dlpack([1, 2])
        with pytest.raises(TypeError, match="Expected a string or dtype-like object"):
            mod.is_supported_dtype(None)
    for dt in (np.float32, np.int8, np.bool_, jnp.bfloat16, np.complex64, jnp.float8_e4m3fn):
        assert engine.dlpack.is_supported_dtype(dt) == jax.dlpack.is_supported_dtype(dt)


# ---------------------------------------------------------------------------- monitoring


def test_monitoring_records_backend_compile_as_jax():
    def record(into):
        return lambda event, seconds, **tags: into.append((event, seconds, tags))

    ours, theirs = [], []
    engine.monitoring.register_event_duration_secs_listener(record(ours))
    jax.monitoring.register_event_duration_secs_listener(record(theirs))
    try:

        def fresh_function(x):
            return x * 3.0 + 1.0

        engine.jit(fresh_function)(1.0)
        jax.jit(fresh_function)(1.0)
    finally:
        engine.monitoring.clear_event_listeners()
        jax.monitoring.clear_event_listeners()
    event = "/jax/core/compile/backend_compile_duration"
    assert [t for e, _, t in theirs if e == event] == [{"fun_name": "jit(fresh_function)"}]
    assert [t for e, _, t in ours if e == event] == [{"fun_name": "jit(fresh_function)"}]
    assert all(s >= 0 for e, s, _ in ours)


def test_monitoring_listeners_of_each_kind():
    got = []
    listeners = [
        (lambda e, **k: got.append(("event", e, k)), "event_listener", "event_listener"),
        (
            lambda e, d, **k: got.append(("duration", e, d, k)),
            "event_duration_secs_listener",
            "event_duration_listener",
        ),
        (
            lambda e, a, b, **k: got.append(("span", e, a, b, k)),
            "event_time_span_listener",
            "event_time_span_listener",
        ),
        (lambda e, v, **k: got.append(("scalar", e, v, k)), "scalar_listener", "scalar_listener"),
    ]
    for mod in (engine.monitoring, jax.monitoring):
        got.clear()
        for fn, reg, _ in listeners:
            getattr(mod, f"register_{reg}")(fn)
        mod.record_event("/x", tag="t")
        mod.record_event_duration_secs("/d", 0.5, tag=1)
        mod.record_event_time_span("/s", 1.0, 2.0)
        mod.record_scalar("/v", 3)
        for fn, _, unreg in listeners:
            getattr(mod, f"unregister_{unreg}")(fn)
        mod.record_event("/after")
        with pytest.raises(AssertionError):
            mod.unregister_event_listener(listeners[0][0])
        if mod is engine.monitoring:
            ours = list(got)
    assert (
        ours
        == got
        == [
            ("event", "/x", {"tag": "t"}),
            ("duration", "/d", 0.5, {"tag": 1}),
            ("span", "/s", 1.0, 2.0, {}),
            ("scalar", "/v", 3, {}),
        ]
    )


# ---------------------------------------------------------------------------- ops

SEGMENT_DATA = np.arange(12, dtype=np.float32).reshape(6, 2) - 5
SEGMENT_IDS = np.array([0, 0, 1, 3, 3, 7])  # 7 is out of range for 5 segments: dropped


@pytest.mark.parametrize("name", ["segment_sum", "segment_prod", "segment_max", "segment_min"])
@pytest.mark.parametrize(
    "kw", [{"num_segments": 5}, {}, {"num_segments": 5, "bucket_size": 2}], ids=str
)
def test_segment_reductions_match_jax(name, kw):
    ours = getattr(engine.ops, name)(SEGMENT_DATA, SEGMENT_IDS, **kw)
    same(ours, getattr(jax.ops, name)(SEGMENT_DATA, SEGMENT_IDS, **kw))


def test_segment_reductions_of_ints_under_jit_and_grad():
    ids = np.array([0, 0, 2, 2, 1])
    x = np.arange(5, dtype=np.int32)
    same(engine.ops.segment_max(x, ids, 4), jax.ops.segment_max(x, ids, 4))
    same(engine.ops.segment_sum(np.arange(5), ids), jax.ops.segment_sum(np.arange(5), ids))
    f = lambda m: m.jit(lambda d, i: m.ops.segment_sum(d, i, 8))  # noqa: E731
    same(f(engine)(SEGMENT_DATA, SEGMENT_IDS), f(jax)(SEGMENT_DATA, SEGMENT_IDS))
    g = lambda m: m.grad(lambda d: m.ops.segment_max(d, SEGMENT_IDS, 5).sum())  # noqa: E731
    same(g(engine)(SEGMENT_DATA), g(jax)(SEGMENT_DATA))


def test_segment_reduction_errors_as_jax():
    for m in (engine, jax):
        with pytest.raises(TypeError, match="requires ndarray or scalar arguments"):
            m.ops.segment_sum([1.0, 2.0], SEGMENT_IDS)
        with pytest.raises(m.errors.ConcretizationTypeError):
            m.jit(lambda d, i: m.ops.segment_sum(d, i))(SEGMENT_DATA, SEGMENT_IDS)
        with pytest.raises(ValueError, match="num_segments must be non-negative"):
            m.ops.segment_sum(SEGMENT_DATA, SEGMENT_IDS, -1)


# ---------------------------------------------------------------------------- custom_batching


def _custom_vmapped(m, calls):
    @m.custom_batching.custom_vmap
    def f(x, y):
        return m.numpy.sin(x) * y

    @f.def_vmap
    def f_rule(axis_size, in_batched, x, y):
        calls.append((axis_size, in_batched))
        # deliberately not f's batched value, so the tests see which one ran
        return m.numpy.sin(x) * y + 100.0, True

    return f


CV_X = np.arange(3, dtype=np.float32)
CV_Y = np.float32(2)
CUSTOM_VMAP_CASES = {
    "plain_call": lambda m, f: f(CV_X, CV_Y),
    "vmap_both": lambda m, f: m.vmap(f)(CV_X, np.ones(3, np.float32)),
    "vmap_one": lambda m, f: m.vmap(f, in_axes=(0, None))(CV_X, CV_Y),
    "jit_of_vmap": lambda m, f: m.jit(m.vmap(f, in_axes=(0, None)))(CV_X, CV_Y),
    "vmap_of_jit": lambda m, f: m.vmap(m.jit(f), in_axes=(0, None))(CV_X, CV_Y),
    "jvp": lambda m, f: m.jvp(lambda a: f(a, CV_Y), (1.0,), (1.0,)),
    "vmap_of_jvp": lambda m, f: m.vmap(lambda a: m.jvp(lambda b: f(b, CV_Y), (a,), (a,)))(CV_X),
    "jvp_of_vmap": lambda m, f: m.jvp(m.vmap(lambda b: f(b, CV_Y)), (CV_X,), (CV_X,)),
}


@pytest.mark.parametrize("name", sorted(CUSTOM_VMAP_CASES))
def test_custom_vmap_matches_jax(name):
    ours_calls, theirs_calls = [], []
    ours = CUSTOM_VMAP_CASES[name](engine, _custom_vmapped(engine, ours_calls))
    theirs = CUSTOM_VMAP_CASES[name](jax, _custom_vmapped(jax, theirs_calls))
    same(ours, theirs)
    assert ours_calls[:1] == theirs_calls[:1]


def test_custom_vmap_jaxpr_as_jax():
    ours = str(engine.make_jaxpr(_custom_vmapped(engine, []))(CV_X, CV_Y))
    theirs = str(jax.make_jaxpr(_custom_vmapped(jax, []))(CV_X, CV_Y))
    mask = lambda t: re.sub(r"0x[0-9a-fA-FX]+", "0x?", t)  # noqa: E731
    assert mask(ours) == mask(theirs)


def test_custom_vmap_grad_works_where_jax_stops():
    # JAX 0.10.2 cannot linearize a custom_vmap call (it asks for a custom_vjp); the
    # engine differentiates the function itself. Checked against finite differences.
    f = _custom_vmapped(engine, [])
    g = engine.grad(lambda a: f(a, CV_Y))(np.float32(1.0))
    np.testing.assert_allclose(float(g), 2 * np.cos(1.0), rtol=1e-6)
    gv = engine.vmap(engine.grad(lambda a: f(a, CV_Y)))(CV_X)
    np.testing.assert_allclose(np.asarray(gv), 2 * np.cos(CV_X), rtol=1e-6)
    with pytest.raises(ValueError, match="Linearization failed"):
        jax.grad(lambda a: _custom_vmapped(jax, [])(a, CV_Y))(1.0)


def test_sequential_vmap_matches_jax():
    for m in (engine, jax):
        g = m.custom_batching.sequential_vmap(lambda a, b: a * 2 + b)
        out = m.vmap(g, in_axes=(0, None))(CV_X, CV_Y), m.vmap(g)(CV_X, CV_X)
        if m is engine:
            ours = out
    same(ours, out)


def test_custom_vmap_errors_as_jax():
    for m in (engine, jax):
        h = m.custom_batching.custom_vmap(lambda a: a)
        with pytest.raises(AttributeError, match="No batching rule defined for custom_vmap"):
            h(1.0)

        @m.custom_batching.custom_vmap
        def k(a):
            return (a, a)

        @k.def_vmap
        def k_rule(n, b, a):
            return (a, a), True

        with pytest.raises(ValueError, match=r"output batching specification returned by"):
            m.vmap(k)(CV_X)

        @m.custom_batching.custom_vmap
        def k2(a):
            return a

        @k2.def_vmap
        def k2_rule(n, b, a):
            return (a, a), (True, True)

        with pytest.raises(ValueError, match="does not match that of original custom-vmapped"):
            m.vmap(k2)(CV_X)


# ---------------------------------------------------------------------------- profiler


def test_profiler_trace_writes_a_profile_with_annotations(tmp_path):
    from engine import profiler

    @profiler.annotate_function
    def annotated_step(x):
        return engine.jit(lambda a: a @ a)(x).block_until_ready()

    with profiler.trace(tmp_path):
        with profiler.TraceAnnotation("my_label"):
            annotated_step(enp.ones((16, 16)))
        with profiler.StepTraceAnnotation("train", step_num=3):
            enp.ones(3).block_until_ready()
    files = glob.glob(str(tmp_path / "plugins" / "profile" / "*" / "*.xplane.pb"))
    assert len(files) == 1
    data = profiler.ProfileData.from_file(files[0])
    names = {e.name for p in data.planes for line in p.lines for e in line.events}
    assert "my_label" in names and "train" in names
    assert any("annotated_step" in n for n in names)


def test_device_memory_profile_is_gzipped_pprof(tmp_path):
    import gzip

    from engine import profiler

    keep = enp.arange(1000.0)  # a live buffer to report
    ours, theirs = profiler.device_memory_profile(), jax.profiler.device_memory_profile()
    for blob in (ours, theirs):
        raw = gzip.decompress(blob)
        assert raw and raw[:1] == b"\x0a"  # a protocol buffer starting with field 1
    profiler.save_device_memory_profile(tmp_path / "mem.prof")
    assert gzip.decompress((tmp_path / "mem.prof").read_bytes())
    del keep


def test_profiler_state_errors_as_jax(tmp_path):
    from engine import profiler

    with pytest.raises(RuntimeError, match="No profile started"):
        profiler.stop_trace()
    profiler.start_trace(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="Profile has already been started"):
            profiler.start_trace(tmp_path)
    finally:
        profiler.stop_trace()
    with pytest.raises(NotImplementedError, match="Perfetto"):
        profiler.start_trace(tmp_path, create_perfetto_link=True)


# ---------------------------------------------------------------------------- typing


def test_typing_annotations():
    from engine.typing import ArrayLike, DTypeLike

    members = typing.get_args(ArrayLike)
    assert engine.Array in members and np.ndarray in members and float in members
    assert list not in members and str not in members
    assert str in typing.get_args(DTypeLike) and np.dtype in typing.get_args(DTypeLike)

    def scale(x: ArrayLike, dtype: DTypeLike = np.float32) -> engine.Array:
        return enp.asarray(x, dtype) * 2

    assert typing.get_type_hints(scale)["x"] == ArrayLike
    same(scale(1.5), jnp.asarray(1.5, np.float32) * 2)
