"""vjp of a function of integer inputs, against real JAX: the integer primals' tangents
are symbolic zeros while linearizing (the forward pass must not multiply by float0), the
pullback accepts any cotangent of an integer output's shape (JAX's temporary dtype
exception) and rejects another shape with JAX's message."""

import jax
import numpy as np
import pytest

import engine


def _pull(lib, fun, args, ct):
    out, f = lib.vjp(fun, *args)
    cts = f(ct(out))
    return np.asarray(out).tolist(), [(str(np.asarray(c).dtype), np.shape(c)) for c in cts]


CASES = {
    "int_times_int": (lambda x, y: x * y, (np.int32(2), np.int32(3)), lambda o: o),
    "int_times_float": (lambda x, y: x * y, (np.int32(2), 3.0), lambda o: np.float32(1.0)),
    "int_vector_sum": (
        lambda x: (x * 2).sum(),
        (np.arange(4, dtype=np.int32),),
        lambda o: o,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vjp_of_integer_inputs_as_jax(name):
    fun, args, ct = CASES[name]
    assert _pull(engine, fun, args, ct) == _pull(jax, fun, args, ct)


def test_wrong_cotangent_shape_for_integer_output_as_jax():
    def run(lib):
        _, f = lib.vjp(lambda x, y: x * y, np.int32(2), np.int32(3))
        with pytest.raises(ValueError) as e:
            f(np.ones(3, np.int32))
        return str(e.value)

    assert run(engine) == run(jax)


def test_grad_allow_int_as_jax():
    def run(lib):
        g = lib.grad(lambda x, y: (x * y).astype(np.float32), argnums=(0, 1), allow_int=True)
        return [(str(np.asarray(c).dtype), np.shape(c)) for c in g(np.int32(2), np.int32(3))]

    assert run(engine) == run(jax)


def test_typeof_float0_as_jax():
    z = np.zeros((2,), jax.dtypes.float0)
    assert str(engine.typeof(z)) == str(jax.typeof(z)) == "float0[2]"
