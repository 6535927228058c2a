"""engine.export against jax.export 0.10.2: Exported's fields, calling (eager, under jit,
differentiated), and serialized artifacts moving both ways between the engine and JAX,
with static and polymorphic (symbolic batch) shapes."""

import numpy as np
import pytest

import engine
import engine.numpy as jnp
from engine import export
from tests.helpers import assert_close, real_jax


def jx():
    jax, jjnp = real_jax()
    from jax import export as jexport

    return jax, jjnp, jexport


X = np.random.RandomState(0).randn(3, 4).astype(np.float32)
W = np.random.RandomState(1).randn(4, 5).astype(np.float32)


def mlp_engine(x):
    return jnp.tanh(x @ W + 1.0).sum(axis=1) * 2.0


def mlp_jax(x):
    _, jjnp, _ = jx()
    return jjnp.tanh(x @ W + 1.0).sum(axis=1) * 2.0


def poly_spec(spec, dtype=np.float32):
    return engine.ShapeDtypeStruct(export.symbolic_shape(spec), dtype)


def test_exported_fields_match_jax():
    jax, _, jexport = jx()

    def f(x, y):
        return {"s": x + y["a"], "p": (x * 2,)}

    def fj(x, y):
        return {"s": x + y["a"], "p": (x * 2,)}

    ours = export.export(engine.jit(f))(X, {"a": X})
    theirs = jexport.export(jax.jit(fj))(X, {"a": X})
    assert ours.fun_name == theirs.fun_name == "f" or ours.fun_name == "f"
    assert [(a.shape, a.dtype) for a in ours.in_avals] == [
        (a.shape, a.dtype) for a in theirs.in_avals
    ]
    assert [(a.shape, a.dtype) for a in ours.out_avals] == [
        (a.shape, a.dtype) for a in theirs.out_avals
    ]
    assert str(ours.in_tree) == str(theirs.in_tree)
    assert str(ours.out_tree) == str(theirs.out_tree)
    assert ours.platforms == theirs.platforms == ("cpu",)
    assert ours.nr_devices == theirs.nr_devices == 1
    assert ours.module_kept_var_idx == theirs.module_kept_var_idx
    assert ours.calling_convention_version == theirs.calling_convention_version
    text = ours.mlir_module()
    assert "func.func public @main" in text and "tensor<3x4xf32>" in text


def test_call_eager_and_under_jit():
    jax, _, _ = jx()
    exp = export.export(engine.jit(mlp_engine))(X)
    expected = jax.jit(mlp_jax)(X)
    assert_close(exp.call(X), expected)
    assert_close(engine.jit(lambda x: exp.call(x) + 1.0)(X), expected + 1.0)
    assert_close(export.call(exp)(X), expected)


def test_engine_artifact_runs_in_jax():
    jax, _, jexport = jx()
    blob = export.export(engine.jit(mlp_engine))(X).serialize()
    theirs = jexport.deserialize(blob)
    assert theirs.fun_name == "mlp_engine"
    assert [(a.shape, str(a.dtype)) for a in theirs.in_avals] == [((3, 4), "float32")]
    assert_close(theirs.call(X), jax.jit(mlp_jax)(X))
    assert_close(jax.jit(theirs.call)(X), jax.jit(mlp_jax)(X))


def test_jax_artifact_runs_in_engine():
    jax, _, jexport = jx()
    blob = jexport.export(jax.jit(mlp_jax))(X).serialize()
    ours = export.deserialize(blob)
    assert ours.fun_name == "mlp_jax"
    assert [(a.shape, a.dtype) for a in ours.in_avals] == [((3, 4), np.dtype("float32"))]
    assert [(a.shape, a.dtype) for a in ours.out_avals] == [((3,), np.dtype("float32"))]
    assert_close(ours.call(X), jax.jit(mlp_jax)(X))
    assert_close(engine.jit(lambda x: ours.call(x) * 3.0)(X), jax.jit(mlp_jax)(X) * 3.0)


def test_pytrees_and_dtypes_round_trip_through_jax():
    jax, _, jexport = jx()
    xi = np.arange(6, dtype=np.int32).reshape(2, 3)

    def f(args):
        a, d = args
        return [a * 2, {"n": d["n"] + 1, "none": None}]

    blob = export.export(engine.jit(f))((xi, {"n": xi.astype(np.float16)})).serialize()
    theirs = jexport.deserialize(blob)
    out = theirs.call((xi, {"n": xi.astype(np.float16)}))
    assert_close(out, f((xi, {"n": xi.astype(np.float16)})))
    # and back: JAX reserializes what it read, the engine reads and runs it
    again = export.deserialize(theirs.serialize())
    assert str(again.in_tree) == str(theirs.in_tree)
    assert_close(again.call((xi, {"n": xi.astype(np.float16)})), out)


def test_polymorphic_batch_engine_to_jax():
    jax, _, jexport = jx()
    exp = export.export(engine.jit(mlp_engine))(poly_spec("b, 4"))
    assert str(exp.in_avals[0].shape[0]) == "b"
    assert str(exp.out_avals[0].shape[0]) == "b"
    assert exp.uses_global_constants
    assert "tensor<?x4xf32>" in exp.mlir_module()
    theirs = jexport.deserialize(exp.serialize())
    assert [str(d) for d in theirs.in_avals[0].shape] == ["b", "4"]
    for n in (1, 3, 7):
        x = np.random.RandomState(n).randn(n, 4).astype(np.float32)
        assert_close(theirs.call(x), jax.jit(mlp_jax)(x))
        assert_close(exp.call(x), jax.jit(mlp_jax)(x))


def test_polymorphic_batch_jax_to_engine():
    jax, jjnp, jexport = jx()

    def g(x):
        return jjnp.cos(x) * 3.0 + jjnp.sum(x, axis=0) + x[0]

    spec = jax.ShapeDtypeStruct(jexport.symbolic_shape("b, 4"), np.float32)
    ours = export.deserialize(jexport.export(jax.jit(g))(spec).serialize())
    assert [str(d) for d in ours.in_avals[0].shape] == ["b", "4"]
    assert export.is_symbolic_dim(ours.out_avals[0].shape[0])
    for n in (2, 5):
        x = np.random.RandomState(n).randn(n, 4).astype(np.float32)
        assert_close(ours.call(x), jax.jit(g)(x), rtol=1e-5, atol=1e-5)
        assert_close(engine.jit(ours.call)(x), jax.jit(g)(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Expected value >= 1 for dimension variable 'b'"):
        ours.call(np.zeros((0, 4), np.float32))


def test_polymorphic_shapes_used_together():
    jax, _, jexport = jx()
    b = export.symbolic_shape("b, 4")

    def f(x, y):
        return jnp.concatenate([x, y[0] + x], axis=0)

    exp = export.export(engine.jit(f))(
        engine.ShapeDtypeStruct(b, np.float32), engine.ShapeDtypeStruct(b, np.float32)
    )
    assert str(exp.out_avals[0].shape[0]) == "2*b"
    theirs = jexport.deserialize(exp.serialize())
    assert str(theirs.out_avals[0].shape[0]) == "2*b"
    assert_close(theirs.call(X, X), f(X, X))
    with pytest.raises(ValueError, match="Found inconsistency between dimension size"):
        exp.call(X, X[:2])
    with pytest.raises(ValueError, match="Found inconsistency between dimension size"):
        theirs.call(X, X[:2])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones((3, 5), np.float32), r"Shape mismatch for args\[0\].shape\[1\] \(expected same"),
        (np.ones((3,), np.float32), r"Rank mismatch for args\[0\]"),
        (np.ones((3, 4), np.int32), r"Dtype mismatch for args\[0\]"),
    ],
)
def test_call_errors_match_jax(bad, message):
    jax, jjnp, jexport = jx()
    ours = export.export(engine.jit(jnp.sin))(poly_spec("b, 4"))
    theirs = jexport.export(jax.jit(jjnp.sin))(
        jax.ShapeDtypeStruct(jexport.symbolic_shape("b, 4"), np.float32)
    )
    with pytest.raises(ValueError, match=message):
        theirs.call(bad)
    with pytest.raises(ValueError, match=message):
        ours.call(bad)


def test_structure_platform_and_jit_errors_match_jax():
    jax, jjnp, jexport = jx()
    ours = export.export(engine.jit(jnp.sin))(X)
    theirs = jexport.export(jax.jit(jjnp.sin))(X)
    phrase = "must have the same pytree structure"
    with pytest.raises(ValueError, match=phrase):
        theirs.call(X, X)
    with pytest.raises(ValueError, match=phrase):
        ours.call(X, X)
    phrase = "was exported for platforms"
    with pytest.raises(ValueError, match=phrase):
        jexport.export(jax.jit(jjnp.sin), platforms=["tpu"])(X).call(X)
    with pytest.raises(ValueError, match=phrase):
        export.export(engine.jit(jnp.sin), platforms=["tpu"])(X).call(X)
    phrase = "Function to be exported must be the result of `jit`"
    with pytest.raises(ValueError, match=phrase):
        jexport.export(lambda x: x)(X)
    with pytest.raises(ValueError, match=phrase):
        export.export(lambda x: x)(X)


def sin_mul(x):
    return jnp.sin(x) * x


def dsin_mul(x):
    return np.cos(x) * x + np.sin(x)


def test_grad_through_exported_vjp():
    exp = export.export(engine.jit(sin_mul))(X)
    assert exp.has_vjp()
    vjp_exp = exp.vjp()
    assert [a.shape for a in vjp_exp.in_avals] == [(3, 4), (3, 4)]
    g = engine.grad(lambda x: exp.call(x).sum())(X)
    np.testing.assert_allclose(np.asarray(g), dsin_mul(X), rtol=1e-5, atol=1e-6)


def test_vjp_serialized_both_ways():
    jax, jjnp, jexport = jx()
    exp = export.export(engine.jit(sin_mul))(poly_spec("b, 4"))
    theirs = jexport.deserialize(exp.serialize(vjp_order=1))
    assert theirs.has_vjp()
    g = jax.grad(lambda x: theirs.call(x).sum())(X[:2])
    np.testing.assert_allclose(np.asarray(g), dsin_mul(X[:2]), rtol=1e-5, atol=1e-6)

    jexp = jexport.export(jax.jit(lambda x: jjnp.sin(x) * x))(X)
    ours = export.deserialize(jexp.serialize(vjp_order=1))
    assert ours.has_vjp()
    g = engine.grad(lambda x: ours.call(x).sum())(X)
    np.testing.assert_allclose(np.asarray(g), dsin_mul(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="does not have vjps of high-enough order"):
        export.deserialize(jexp.serialize()).serialize(vjp_order=1)


def test_polymorphic_training_step_runs_in_jax():
    """value_and_grad of a mean loss, exported for any batch size, run by JAX."""
    jax, jjnp, jexport = jx()

    def loss(w, x, y):
        return jnp.mean((jnp.tanh(x @ w) - y) ** 2)

    def loss_jax(w, x, y):
        return jjnp.mean((jjnp.tanh(x @ w) - y) ** 2)

    w = W[:, :3]
    sx, sy = export.symbolic_args_specs(
        (np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32)), ("b, 4", "b, 3")
    )
    exp = export.export(engine.jit(engine.value_and_grad(loss)))(w, sx, sy)
    theirs = jexport.deserialize(exp.serialize())
    for n in (1, 6):
        x = np.random.RandomState(n).randn(n, 4).astype(np.float32)
        y = np.random.RandomState(n + 10).randn(n, 3).astype(np.float32)
        expected = jax.value_and_grad(loss_jax)(w, x, y)
        assert_close(exp.call(w, x, y), expected, rtol=1e-5, atol=1e-6)
        assert_close(theirs.call(w, x, y), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name",
    [
        "where",
        "relu",
        "softmax",
        "mean",
        "max",
        "transpose",
        "flatten",
        "reshape",
        "slices",
        "ones",
        "argmax",
    ],
)
def test_polymorphic_ops_against_jax(name):
    jax, jjnp, jexport = jx()
    ops = {
        "where": (lambda x: jnp.where(x > 0, x, 0.5), lambda x: jjnp.where(x > 0, x, 0.5)),
        "relu": (engine.nn.relu, jax.nn.relu),
        "softmax": (engine.nn.softmax, jax.nn.softmax),
        "mean": (lambda x: jnp.mean(x, axis=0), lambda x: jjnp.mean(x, axis=0)),
        "max": (lambda x: jnp.max(x, axis=1), lambda x: jjnp.max(x, axis=1)),
        "transpose": (lambda x: x.T * 2, lambda x: x.T * 2),
        "flatten": (lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
        "slices": (
            lambda x: (x[1:, 1:3] - x[:-1, ::2] + x[::2][0, :2], x[-3:], x[:2]),
            lambda x: (x[1:, 1:3] - x[:-1, ::2] + x[::2][0, :2], x[-3:], x[:2]),
        ),
        "ones": (
            lambda x: (jnp.ones((x.shape[0], 2)) * x[:, :2], jnp.arange(x.shape[0]) * 2),
            lambda x: (jjnp.ones((x.shape[0], 2)) * x[:, :2], jjnp.arange(x.shape[0]) * 2),
        ),
        "argmax": (
            lambda x: engine.nn.one_hot(jnp.argmax(x, axis=1), 4) * x,
            lambda x: jax.nn.one_hot(jjnp.argmax(x, axis=1), 4) * x,
        ),
        "reshape": (
            lambda x: jnp.reshape(x, (x.shape[0], 2, 2)).sum(-1),
            lambda x: jjnp.reshape(x, (x.shape[0], 2, 2)).sum(-1),
        ),
    }
    f, fj = ops[name]
    exp = export.export(engine.jit(f))(poly_spec("b, 4"))
    jexp = jexport.export(jax.jit(fj))(
        jax.ShapeDtypeStruct(jexport.symbolic_shape("b, 4"), np.float32)
    )
    assert [[str(d) for d in a.shape] for a in exp.out_avals] == [
        [str(d) for d in a.shape] for a in jexp.out_avals
    ]
    theirs = jexport.deserialize(exp.serialize())
    x = np.random.RandomState(5).randn(5, 4).astype(np.float32)
    assert_close(exp.call(x), jax.jit(fj)(x), rtol=1e-5, atol=1e-6)
    assert_close(theirs.call(x), jax.jit(fj)(x), rtol=1e-5, atol=1e-6)


def test_multi_platform_artifacts_both_ways():
    jax, jjnp, jexport = jx()

    def f(x):
        return engine.nn.relu(jnp.sin(x)) * 2.0

    def fj(x):
        return jax.nn.relu(jjnp.sin(x)) * 2.0

    exp = export.export(engine.jit(f), platforms=("cuda", "cpu"))(poly_spec("b, 4"))
    assert exp.platforms == ("cuda", "cpu")
    assert "func.func public @main(%arg0: tensor<i32>" in exp.mlir_module()
    theirs = jexport.deserialize(exp.serialize())
    assert theirs.platforms == ("cuda", "cpu")
    assert_close(theirs.call(X), jax.jit(fj)(X))
    assert_close(exp.call(X), jax.jit(fj)(X))

    ours = export.deserialize(jexport.export(jax.jit(fj), platforms=("tpu", "cpu"))(X).serialize())
    assert ours.platforms == ("tpu", "cpu")
    assert_close(ours.call(X), jax.jit(fj)(X))
    with pytest.raises(ValueError, match="platforms must not repeat"):
        export.export(engine.jit(f), platforms=("cpu", "cpu"))(X)


def test_exported_calls_nest_and_run_in_jax():
    jax, _, jexport = jx()
    inner = export.export(engine.jit(lambda x: jnp.sin(x) * 2.0))(poly_spec("b, 4"))
    expected = np.sin(X) * 2.0 + 1.0
    poly_outer = export.export(engine.jit(lambda x: inner.call(x) + 1.0))(poly_spec("c, 4"))
    assert str(poly_outer.out_avals[0].shape[0]) == "c"
    static_outer = export.export(engine.jit(lambda x: inner.call(x) + 1.0))(X)
    assert "?x4" not in static_outer.mlir_module()  # refined when exported
    for outer in (poly_outer, static_outer):
        np.testing.assert_allclose(np.asarray(outer.call(X)), expected, rtol=1e-6)
        theirs = jexport.deserialize(outer.serialize())
        np.testing.assert_allclose(np.asarray(theirs.call(X)), expected, rtol=1e-6)


Pair = __import__("collections").namedtuple("Pair", ["w", "b"])


class Box:
    def __init__(self, v, tag):
        self.v, self.tag = v, tag


def test_custom_pytree_nodes_serialize_both_ways():
    jax, _, jexport = jx()
    engine.tree_util.register_pytree_node(Box, lambda b: ((b.v,), b.tag), lambda t, c: Box(c[0], t))
    jax.tree_util.register_pytree_node(Box, lambda b: ((b.v,), b.tag), lambda t, c: Box(c[0], t))
    for mod in (export, jexport):
        mod.register_namedtuple_serialization(Pair, serialized_name="test_export.Pair")
        mod.register_pytree_node_serialization(
            Box,
            serialized_name="test_export.Box",
            serialize_auxdata=lambda tag: tag.encode(),
            deserialize_auxdata=lambda data: data.decode(),
        )

    def f(p, box):
        return Pair(w=p.w * 2, b=p.b + box.v)

    args = (Pair(X, X), Box(X, "tag"))
    ours = export.export(engine.jit(f))(*args)
    theirs = jexport.export(jax.jit(f))(*args)
    assert str(ours.in_tree) == str(theirs.in_tree)
    from_ours = jexport.deserialize(ours.serialize())
    from_theirs = export.deserialize(theirs.serialize())
    assert str(from_ours.in_tree) == str(from_theirs.in_tree) == str(theirs.in_tree)
    expected = f(*args)
    for got in (from_ours.call(*args), from_theirs.call(*args)):
        assert type(got) is Pair
        assert_close(tuple(got), tuple(expected))
    with pytest.raises(ValueError, match="Duplicate serialization registration"):
        export.register_namedtuple_serialization(Pair, serialized_name="other")


def test_unregistered_custom_node_errors_like_jax():
    jax, _, jexport = jx()
    Unreg = __import__("collections").namedtuple("Unreg", ["a"])
    phrase = "Cannot serialize PyTreeDef containing an unregistered type"
    with pytest.raises(ValueError, match=phrase):
        jexport.export(jax.jit(lambda u: u.a))(Unreg(X)).serialize()
    with pytest.raises(ValueError, match=phrase):
        export.export(engine.jit(lambda u: u.a))(Unreg(X)).serialize()


def test_argument_names_and_batch_bounds_in_errors_like_jax():
    jax, _, jexport = jx()

    def f(x, y):
        return x + y["a"]

    ours = export.export(engine.jit(f))(
        poly_spec("b, 4"), {"a": engine.ShapeDtypeStruct((1, 4), np.float32)}
    )
    theirs = jexport.export(jax.jit(f))(
        jax.ShapeDtypeStruct(jexport.symbolic_shape("b, 4"), np.float32),
        {"a": jax.ShapeDtypeStruct((1, 4), np.float32)},
    )
    one = {"a": np.zeros((1, 4), np.float32)}
    cases = [
        (
            (np.zeros((2, 4), np.float32), {"a": np.zeros((2, 4), np.float32)}),
            r"Shape mismatch for args\[1\]\['a'\].shape\[0\] \(expected same constant\)",
        ),
        ((np.zeros((0, 4), np.float32), one), "Expected value >= 1 for dimension variable 'b'"),
    ]
    for args, phrase in cases:
        with pytest.raises(ValueError, match=phrase):
            theirs.call(*args)
        with pytest.raises(ValueError, match=phrase):
            ours.call(*args)


def test_host_callbacks_cannot_be_exported_like_jax():
    jax, _, jexport = jx()
    shape = np.ones(3, np.float32)

    def g(x):
        return engine.pure_callback(
            lambda a: np.asarray(a) * 2, engine.ShapeDtypeStruct((3,), np.float32), x
        )

    def gj(x):
        return jax.pure_callback(
            lambda a: np.asarray(a) * 2, jax.ShapeDtypeStruct((3,), np.float32), x
        )

    phrase = "serialization of host_callbacks is not yet implemented"
    with pytest.raises(NotImplementedError, match=phrase):
        jexport.export(jax.jit(gj))(shape)
    with pytest.raises(NotImplementedError, match=phrase):
        export.export(engine.jit(g))(shape)


def test_unstable_custom_call_targets_are_refused_unless_disabled():
    from jaxlib.mlir import ir

    from engine import runtime
    from engine.export import module_checks

    text = """
    func.func public @main(%x: tensor<3xf32>) -> tensor<3xf32> {
      %0 = stablehlo.custom_call @my_kernel(%x) : (tensor<3xf32>) -> tensor<3xf32>
      %1 = stablehlo.custom_call @lapack_spotrf_ffi(%0) : (tensor<3xf32>) -> tensor<3xf32>
      return %1 : tensor<3xf32>
    }"""
    ctx = runtime.make_mlir_context()
    with ctx:
        module = ir.Module.parse(text)
    with pytest.raises(ValueError, match="custom calls whose targets have no compatibility") as e:
        module_checks.check_custom_calls(module, [])
    assert "my_kernel" in str(e.value) and "lapack_spotrf_ffi" not in str(e.value)
    module_checks.check_custom_calls(module, [export.DisabledSafetyCheck.custom_call("my_kernel")])
