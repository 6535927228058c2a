"""Weak types of an Exported's avals, engine vs JAX 0.10.2: export keeps the weak type of
its inputs (``export(jit(f))(1.)`` has ``float32[]`` weak input), its VJP takes them (and
the weak float0 cotangent of a weak integer output), serialization drops them, and calls
give results weakly typed as the export's outputs are."""

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


def both(make):
    """``make(jax, jnp, export)`` through the engine and through JAX, as ``repr``s."""
    ours, theirs = (repr(make(*lib)) for lib in libs())
    assert ours == theirs
    return ours


CASES = {
    "weak_float": (lambda x: x * 2, lambda jax, jnp: (1.0,)),
    "strong_float": (lambda x: x * 2, lambda jax, jnp: (np.float32(1.0),)),
    "weak_int_identity": (lambda x: x, lambda jax, jnp: (1,)),
    "mixed": (lambda x, y: (x * 2 + y, x, 3.0), lambda jax, jnp: (1.0, np.float32(2))),
    "int_and_strong": (lambda x, y: (x + y, x), lambda jax, jnp: (1, np.int32(2))),
    "pytree": (lambda d: {"a": d["b"] + 1}, lambda jax, jnp: ({"b": 1.0},)),
    "weak_spec": (
        lambda x: x + 1,
        lambda jax, jnp: (jax.ShapeDtypeStruct((3,), np.float32, weak_type=True),),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_and_out_avals(name):
    fun, args = CASES[name]

    def make(jax, jnp, export):
        exp = export.export(jax.jit(fun))(*args(jax, jnp))
        return exp.in_avals, exp.out_avals

    out = both(make)
    if name == "weak_float":
        assert "weak_type=True),), (ShapedArray(float32[], weak_type=True)" in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_serialized_round_trip_drops_weak_types(name):
    fun, args = CASES[name]

    def make(jax, jnp, export):
        exp = export.export(jax.jit(fun))(*args(jax, jnp))
        back = export.deserialize(exp.serialize())
        return back.in_avals, back.out_avals

    both(make)


@pytest.mark.parametrize("name", ["weak_float", "mixed", "weak_int_identity", "pytree"])
def test_vjp_avals(name):
    fun, args = CASES[name]

    def make(jax, jnp, export):
        exp = export.export(jax.jit(fun))(*args(jax, jnp))
        vjp = exp.vjp()
        back = export.deserialize(exp.serialize(vjp_order=1)).vjp()
        return vjp.in_avals, vjp.out_avals, back.in_avals, back.out_avals

    both(make)


def test_vjp_of_weak_and_strong_int_inputs():
    # the weak int output's cotangent is a weak float0; the inputs' cotangents are not
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x, y: (x, y)))(2, np.int32(3))
        return exp.vjp().in_avals, exp.vjp().out_avals

    both(make)


def test_vjp_pullback_of_int_input_is_fresh_float0():
    # a float0 cotangent passed straight through comes back as strong float0 zeros
    def make(jax, jnp, export):
        _, pb = jax.vjp(lambda x: x, 2)
        (ct,) = pb(np.zeros((), jax.dtypes.float0))
        exp = export.export(jax.jit(lambda c: pb(c)))(jax.ShapeDtypeStruct((), ct.dtype))
        return ct.dtype == jax.dtypes.float0, ct.shape, exp.in_avals, exp.out_avals

    both(make)


@pytest.mark.parametrize("name", ["weak_float", "strong_float", "mixed", "weak_int_identity"])
def test_calls_keep_result_weak_types(name):
    fun, args = CASES[name]

    def make(jax, jnp, export):
        exp = export.export(jax.jit(fun))(*args(jax, jnp))
        back = export.deserialize(exp.serialize())
        vals = args(jax, jnp)
        return exp.call(*vals), back.call(*vals), jax.jit(exp.call)(*vals)

    both(make)


def test_weak_export_called_with_strong_argument():
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x: x * 2))(1.0)
        return exp.call(np.float32(3)), exp.call(jnp.float32(3)), exp.call(3.0)

    both(make)


def test_symbolic_weak_spec():
    def make(jax, jnp, export):
        (a,) = export.symbolic_shape("a")
        spec = jax.ShapeDtypeStruct((a,), np.float32, weak_type=True)
        exp = export.export(jax.jit(lambda x: x.sum()))(spec)
        back = export.deserialize(exp.serialize())
        return exp.in_avals, exp.out_avals, back.in_avals, exp.call(jnp.arange(3.0))

    both(make)


def test_grad_through_weak_export():
    def make(jax, jnp, export):
        exp = export.export(jax.jit(lambda x, y: x * y + 1.0))(1.0, np.float32(2))
        g = jax.grad(lambda x: exp.call(x, 2.0))(1.0)
        return g, jax.make_jaxpr(lambda x: exp.call(x, 2.0))(1.0)

    both(make)


# ------------------------------------------------- @main's argument attributes, as JAX's


def _func_headers(module) -> list[str]:
    """Each func.func's generic form: its attributes, the empty ``arg_attrs`` included
    (the pretty form hides them; the serialized bytes keep them)."""
    text = module.operation.get_asm(print_generic_op_form=True)
    return [ln.split("({")[0].strip() for ln in text.splitlines() if '"func.func"' in ln]


def _exported_headers(exp):
    jax, _ = real_jax()
    from jax._src.interpreters import mlir as jmlir
    from jax._src.lib import _jax

    with jmlir.make_ir_context():
        module = _jax.mlir.deserialize_portable_artifact(exp.mlir_module_serialized)
        return _func_headers(module)


MODULE_CASES = {
    "identity": (lambda x: x, lambda jax, export: (1.0,), {}),
    "two_args": (lambda x, y: (x + y, x * 2), lambda jax, export: (1.0, np.int32(2)), {}),
    "no_args": (lambda: 1.0, lambda jax, export: (), {}),
    "symbolic": (
        lambda x: x.sum(),
        lambda jax, export: (jax.ShapeDtypeStruct(export.symbolic_shape("a"), np.float32),),
        {},
    ),
    "platforms": (lambda x: x * 2, lambda jax, export: (1.0,), {"platforms": ["cpu", "cuda"]}),
}


@pytest.mark.parametrize("name", sorted(MODULE_CASES))
def test_exported_module_function_attributes(name):
    fun, args, kw = MODULE_CASES[name]

    def make(jax, jnp, export):
        exp = export.export(jax.jit(fun), **kw)(*args(jax, export))
        return _exported_headers(exp)

    out = both(make)
    assert name == "no_args" or "arg_attrs" in out


@pytest.mark.parametrize("name", ["identity", "two_args", "no_args"])
def test_jit_lowered_main_attributes(name):
    fun, args, _ = MODULE_CASES[name]

    def make(jax, jnp, export):
        return _func_headers(jax.jit(fun).lower(*args(jax, export)).compiler_ir())

    both(make)
