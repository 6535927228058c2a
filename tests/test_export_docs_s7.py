"""What JAX's export docs pages (export.md, shape_poly.md) show, engine vs JAX 0.10.2:
symbolic dimensions combined with floats and arrays, results' weak types through
``Exported.call``, the unsolvable-dimension error at export, and mixing of scopes."""

import re

import numpy as np
import pytest

import engine
import engine.numpy as enp
from engine import export as eexport
from tests.helpers import real_jax


def libs():
    jax, jnp = real_jax()
    from jax import export as jexport

    return [(engine, enp, eexport), (jax, jnp, jexport)]


def outcome(fn):
    """``repr`` of what ``fn()`` gives, or the exception's class and message (a scope's
    object id masked: it differs from run to run)."""
    try:
        return "value", repr(fn())
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__, re.sub(r"scope \d+", "scope N", str(e))


def same(make):
    """``make(jax, jnp, export)`` through the engine and through JAX: the same outcome."""
    ours, theirs = (outcome(lambda lib=lib: make(*lib)) for lib in libs())
    assert ours == theirs
    return ours


# ---------------------------------------------------------------- dimensions as values


def _mixed(jnp):
    return lambda x: (
        5.0 + x.shape[0],
        x.shape[0] - np.arange(5, dtype=jnp.int32),
        x + x.shape[0] + jnp.sin(x.shape[0]),
    )


def test_dimension_with_float_and_arrays_out_avals():
    # shape_poly.md: "x.shape[0] is converted implicitly to jnp.array(x.shape[0])"
    kind, text = same(
        lambda jax, jnp, export: (
            export.export(jax.jit(_mixed(jnp)))(
                jax.ShapeDtypeStruct(export.symbolic_shape("b"), jnp.int32)
            ).out_avals
        )
    )
    assert kind == "value" and "weak_type=True" in text


def test_dimension_with_float_and_arrays_call():
    same(
        lambda jax, jnp, export: export.export(jax.jit(_mixed(jnp)))(
            jax.ShapeDtypeStruct(export.symbolic_shape("b"), jnp.int32)
        ).call(jnp.ones((3,), jnp.int32))
    )


def test_mean_divides_by_dimension():
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x: jnp.sum(x, axis=0) / x.shape[0]))(
            jax.ShapeDtypeStruct(export.symbolic_shape("b, c"), jnp.int32)
        )
        return exp.in_avals, exp.out_avals, exp.call(jnp.arange(12, dtype=jnp.int32).reshape(3, 4))

    same(make)


@pytest.mark.parametrize(
    "op",
    [
        lambda d: 2.5 * d,
        lambda d: d**2,
        lambda d: 2**d,
        lambda d: 7 // d,
        lambda d: 7.5 // d,
        lambda d: d % 2.0,
        lambda d: 3 / d,
        lambda d: d / 2,
        lambda d: divmod(d, 2.0),
        lambda d: d - 0.5,
        lambda d: 1.5 - d,
        lambda d: d + np.int32(3),
    ],
    ids=[
        "rmul_float",
        "pow_int",
        "rpow",
        "rfloordiv_int",
        "rfloordiv_float",
        "mod_float",
        "rtruediv",
        "truediv",
        "divmod_float",
        "sub_float",
        "rsub_float",
        "add_numpy_int",
    ],
)
def test_dimension_operator_results(op):
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x: op(x.shape[0])))(
            jax.ShapeDtypeStruct(export.symbolic_shape("b"), jnp.int32)
        )
        return exp.out_avals, exp.call(jnp.ones((3,), jnp.int32))

    same(make)


def test_dimension_returned_from_jit():
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x: x.shape[0] * 2))(
            jax.ShapeDtypeStruct(export.symbolic_shape("a"), np.int32)
        )
        return exp.out_avals, exp.call(np.arange(3, dtype=np.int32))

    same(make)


# ---------------------------------------------------------------- weak types through call


@pytest.mark.parametrize("platforms", [("cpu",), ("tpu",), ("cpu", "tpu")])
def test_call_keeps_weak_type(platforms):
    # export.md: exp_unsafe.call(1.) and exp_multi.call(1.) print weak_type=True
    def make(jax, jnp, export):
        checks = [export.DisabledSafetyCheck.platform()] if platforms == ("tpu",) else []
        exp = export.export(jax.jit(jax.lax.cos), platforms=platforms, disabled_checks=checks)(1.0)
        return exp.out_avals, exp.call(1.0)

    same(make)


def test_deserialized_call_is_not_weak():
    # the serialized form has no weak types: export.md's rehydrated_f(0.1)
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x: 7 * x * x * x))(1.0)
        back = export.deserialize(exp.serialize())
        return back.out_avals, back.call(0.1)

    same(make)


# ---------------------------------------------------------------- unsolvable dimensions


@pytest.mark.parametrize(
    "shapes",
    [
        lambda a, b: [(a * a,)],
        lambda a, b: [(a * b, 3)],
        lambda a, b: [(a + b,), (2 * a, a * b)],
        lambda a, b: [(a,), (a * b + 1, b * b)],
    ],
    ids=["square", "product", "solvable", "second_arg"],
)
def test_unsolvable_dimension_variables(shapes):
    def make(jax, jnp, export):
        a, b = export.symbolic_shape("a, b")
        specs = [jax.ShapeDtypeStruct(s, np.int32) for s in shapes(a, b)]
        return export.export(jax.jit(lambda *xs: xs[0].shape[0]))(*specs).in_avals

    same(make)


# ---------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    "op",
    [
        lambda x, y: x + y,
        lambda x, y: x - y,
        lambda x, y: x * y,
        lambda x, y: x >= y,
        lambda x, y: x < y,
        lambda x, y: divmod(x, y),
    ],
    ids=["add", "sub", "mul", "ge", "lt", "divmod"],
)
def test_mixing_scopes(op):
    # shape_poly.md: a1 + a2 from two symbolic_shape calls; the message names where
    # each scope was created (this line) and its constraints
    def make(jax, jnp, export):
        (a1,) = export.symbolic_shape("a,")
        (a2,) = export.symbolic_shape("a,", constraints=("a >= 8",))
        return op(a1, a2)

    kind, text = same(make)
    assert kind == "ValueError" and "Invalid mixing of symbolic scopes" in text


# ---------------------------------------------------------------- higher-order VJP


def _rehydrated(jax, export, order):
    blob = export.export(jax.jit(lambda x: 7 * x * x * x))(1.0).serialize(vjp_order=order)
    return export.deserialize(blob).call


@pytest.mark.parametrize("order", [0, 1, 3])
@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
def test_grad_of_deserialized_up_to_vjp_order(order, depth):
    # export.md: grad up to the serialized vjp_order; one more is "No VJP is available"
    def make(jax, jnp, export):
        f = _rehydrated(jax, export, order)
        for _ in range(depth):
            f = jax.grad(f)
        return f(0.1)

    kind, text = same(make)
    if depth > order:
        assert (kind, text) == ("ValueError", "No VJP is available")


def test_grad_of_grad_jaxpr_like_jax():
    # the call is a custom_vjp named f_flat whose backward pass calls the VJP's export
    same(
        lambda jax, jnp, export: str(
            jax.make_jaxpr(jax.grad(jax.grad(_rehydrated(jax, export, 2))))(0.1)
        )
    )


def test_grad_through_integer_output():
    # the VJP's cotangent for an integer output is float0
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x, n: (x * n, n + 1)))(1.0, 3)
        back = export.deserialize(exp.serialize(vjp_order=2))
        first = jax.grad(lambda x: back.call(x, 2)[0] ** 2)
        return first(0.5), jax.grad(first)(0.5), back.vjp().in_avals

    same(make)


def test_forward_mode_of_call_is_an_error():
    same(lambda jax, jnp, export: jax.jvp(_rehydrated(jax, export, 1), (0.1,), (1.0,)))


# ---------------------------------------------------------------- calling conventions


def test_supported_calling_convention_versions():
    same(
        lambda jax, jnp, export: (
            export.minimum_supported_calling_convention_version,
            export.maximum_supported_calling_convention_version,
        )
    )


@pytest.mark.parametrize("version", [8, 9, 10, 11])
def test_calling_convention_version_flag(version):
    def make(jax, jnp, export):
        if jax is engine:
            from engine._src import config
        else:
            from jax._src import config
        with config.jax_export_calling_convention_version(version):
            exp = export.export(jax.jit(jnp.sin))(1.0)
        back = export.deserialize(exp.serialize())
        return exp.calling_convention_version, back.calling_convention_version, back.call(1.0)

    same(make)


def test_export_of_jitted_numpy_function():
    # export.md: export.export(jnp.cos)(1.) (JAX's jnp.cos is a jit function)
    def make(jax, jnp, export):
        exp = export.export(jnp.cos)(1.0)
        return exp.fun_name, exp.calling_convention_version, exp.out_avals, exp.call(0.5)

    same(make)


def test_export_of_plain_function_is_an_error():
    kinds = [outcome(lambda lib=lib: lib[2].export(lambda x: x)(1.0)) for lib in libs()]
    assert [k for k, _ in kinds] == ["ValueError", "ValueError"]
    for _, text in kinds:
        assert text.startswith("Function to be exported must be the result of `jit` but is:")


# ---------------------------------------------------------------- device-polymorphic export


def _abstract_export(jax, export, how):
    from_mod = jax.sharding
    am = from_mod.AbstractMesh((4,), ("a",))
    named = from_mod.NamedSharding(am, from_mod.PartitionSpec("a"))
    if how == "spec":
        spec = jax.ShapeDtypeStruct((32,), dtype=np.int32, sharding=named)
        return am, export.export(jax.jit(lambda x: x.T))(spec)
    replicated = from_mod.NamedSharding(am, from_mod.PartitionSpec())
    fun = jax.jit(lambda x: x * 2, in_shardings=named, out_shardings=replicated)
    return am, export.export(fun)(jax.ShapeDtypeStruct((32,), dtype=np.float32))


@pytest.mark.parametrize("how", ["spec", "jit"])
def test_export_over_abstract_mesh(how):
    # export.md: exported for 4 devices over an AbstractMesh (no devices needed)
    def make(jax, jnp, export):
        am, exp = _abstract_export(jax, export, how)
        return (
            exp.nr_devices,
            exp.in_shardings_jax(am),
            exp.out_shardings_jax(am),
            exp._in_named_shardings,
            exp._out_named_shardings,
            exp.in_shardings_hlo,
            re.sub(r"#loc\d* = loc\(\".*", "", exp.mlir_module()),
        )

    same(make)


@pytest.mark.parametrize("how", ["spec", "jit"])
def test_call_abstract_mesh_export_on_one_device(how):
    def make(jax, jnp, export):
        _, exp = _abstract_export(jax, export, how)
        return exp.call(jnp.arange(32, dtype=exp.in_avals[0].dtype))

    kind, text = same(make)
    assert kind == "ValueError" and "exported for 4 devices" in text


def test_abstract_mesh_export_round_trip_and_vjp():
    def make(jax, jnp, export):
        am, exp = _abstract_export(jax, export, "jit")
        back = export.deserialize(exp.serialize(vjp_order=1))
        vjp = exp.vjp()
        return (
            back.nr_devices,
            back.in_shardings_jax(am),
            back.out_shardings_jax(am),
            vjp.nr_devices,
            vjp.in_avals,
            vjp.in_shardings_jax(am),
            vjp.out_shardings_jax(am),
        )

    same(make)


# ---------------------------------------------------------------- dimensions outside export


@pytest.mark.parametrize(
    "op",
    [
        lambda d, jnp: d + jnp.array(3),
        lambda d, jnp: d * np.int64(2),
        lambda d, jnp: d + np.array(3),
        lambda d, jnp: d + np.array([3]),
        lambda d, jnp: d == jnp.array(3),
        lambda d, jnp: d + 1.5,
        lambda d, jnp: d**d,
        lambda d, jnp: d / 2,
        lambda d, jnp: d >= jnp.array(3),
    ],
    ids=[
        "add_array",
        "mul_numpy_int",
        "add_numpy_0d",
        "add_numpy_1d",
        "eq_array",
        "add_float",
        "pow_dim",
        "truediv",
        "ge_array",
    ],
)
def test_dimension_operators_outside_export(op):
    # a concrete integer (array or NumPy scalar) combines as an int; anything else
    # needs the dimension's value, which exists only inside an export
    def make(jax, jnp, export):
        (b,) = export.symbolic_shape("b")
        return str(op(b, jnp))

    same(make)


# ---------------------------------------------------------------- call with another pytree


@pytest.mark.parametrize(
    "call",
    [
        lambda exp: exp.call(1.0),
        lambda exp: exp.call(1.0, {"a": 1.0, "b": (2.0, 3.0)}),
        lambda exp: exp.call(1.0, {"a": 1.0, "c": (2.0, 3.0)}, y=2.0),
        lambda exp: exp.call(1.0, {"a": 1.0, "b": [2.0, 3.0]}, y=2.0),
        lambda exp: exp.call(1.0, {"a": 1.0, "b": (2.0, 3.0, 4.0)}, y=2.0),
        lambda exp: exp.call(1.0, {"a": 1.0, "b": (2.0, 3.0)}, z=2.0),
        lambda exp: exp.call(1.0, {"a": 1.0, "b": (2.0, 3.0), "e": 3}, y=2.0),
        lambda exp: exp.call(1.0, {"a": None, "b": (2.0, 3.0)}, y=2.0),
    ],
    ids=["few_args", "no_kwargs", "dict_keys", "list", "length", "kwarg", "children", "none"],
)
def test_call_with_other_structure(call):
    # shape_poly.md's exp.call(np.zeros(...), x) of a one-argument export: JAX's list
    # of structural differences
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x, d, y=1.0: x))(1.0, {"a": 1.0, "b": (2.0, 3.0)}, y=2.0)
        return call(exp)

    kind, _ = same(make)
    assert kind == "ValueError"


@pytest.mark.parametrize(
    "body",
    [
        lambda jax, x: jax.vmap(lambda r: r.shape[0] + r.sum())(x),
        lambda jax, x: jax.vmap(lambda r: x.shape[0])(x),
        lambda jax, x: jax.lax.cond(x.sum() > 0, lambda: x.shape[0], lambda: 0),
        lambda jax, x: jax.jit(lambda y: y.shape[0])(x),
        lambda jax, x: jax.grad(lambda y: (y * y.shape[0]).sum())(x),
    ],
    ids=["vmap_batched", "vmap_unbatched", "cond", "inner_jit", "grad"],
)
def test_dimension_returned_from_transformed_functions(body):
    # a dimension is a valid output of any traced function (a Python scalar to JAX)
    def make(jax, jnp, export):
        spec = jax.ShapeDtypeStruct(export.symbolic_shape("b, 3"), np.float32)
        exp = export.export(jax.jit(lambda x: body(jax, x)))(spec)
        return exp.out_avals, exp.call(np.ones((4, 3), np.float32))

    same(make)


def test_dimension_value_inside_loop_body():
    # the body reads a dimension's value from the enclosing export function
    def make(jax, jnp, export):
        spec = jax.ShapeDtypeStruct(export.symbolic_shape("b, 3"), np.float32)
        body = lambda x: jax.lax.fori_loop(0, 2, lambda i, c: c + x.shape[0], 0)  # noqa: E731
        exp = export.export(jax.jit(body))(spec)
        return exp.out_avals, exp.call(np.ones((4, 3), np.float32))

    same(make)
