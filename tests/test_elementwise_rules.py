"""The one elementwise rule builder against real JAX: accepted dtypes, the errors (class
and message, with JAX's "Tip: jnp.X"), weak types, and Python scalars (bound as weak
values of their default dtype: lax never promotes)."""

import re

import jax
import jax.numpy as jjnp
import numpy as np
import pytest
from jax import lax as jlax

import engine
import engine.numpy as gjnp
from engine import lax as glax

UNARY = [
    "neg", "sign", "abs", "sqrt", "rsqrt", "cbrt", "exp", "exp2", "log", "log1p", "expm1",
    "tanh", "logistic", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "floor", "ceil", "round", "is_finite", "real", "imag", "conj", "square",
    "bitwise_not", "population_count", "clz", "erf", "erfc", "erf_inv", "lgamma", "digamma",
]  # fmt: skip
BINARY = [
    "add", "sub", "mul", "div", "rem", "max", "min", "pow", "atan2", "complex", "nextafter",
    "eq", "ne", "lt", "le", "gt", "ge", "bitwise_and", "bitwise_or", "bitwise_xor",
    "shift_left", "shift_right_logical", "shift_right_arithmetic", "zeta", "polygamma",
]  # fmt: skip
DTYPES = [np.bool_, np.int32, np.uint8, np.float16, np.float32, np.complex64]


def _normalize(msg):
    """The first line of an error, with the accepted-dtype list sorted (JAX builds it from
    a set) and the engine's trailing context ('(in primitive ...') dropped."""
    msg = msg.split("\n(in primitive")[0].strip()
    return re.sub(
        r"subtypes of ([\w, ]+)\.",
        lambda m: "subtypes of " + ", ".join(sorted(m.group(1).split(", "))) + ".",
        msg,
    )


def _outcome(mod, fn, args):
    try:
        out = mod.eval_shape(fn, *args)
    except Exception as e:  # noqa: BLE001 - the error is what we compare
        return type(e).__name__, _normalize(str(e))
    return "ok", (out.shape, np.dtype(out.dtype).name, bool(getattr(out, "weak_type", False)))


def _both(fn_name, make_args):
    want = _outcome(jax, lambda *a: getattr(jlax, fn_name)(*a), make_args(jjnp))
    got = _outcome(engine, lambda *a: getattr(glax, fn_name)(*a), make_args(gjnp))
    return got, want


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_unary_dtypes_as_jax(name, dtype):
    got, want = _both(name, lambda m: (m.zeros((2,), dtype),))
    assert got == want


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_binary_dtypes_as_jax(name, dtype):
    got, want = _both(name, lambda m: (m.zeros((2,), dtype), m.zeros((2,), dtype)))
    assert got == want


MIXED = [
    ("add", lambda m: (m.int32(1), 1.0)),
    ("add", lambda m: (m.float32(1), 1)),
    ("add", lambda m: (m.float16(1), 1.0)),
    ("add", lambda m: (1.0, m.float16(1))),
    ("add", lambda m: (m.int8(1), 1)),
    ("add", lambda m: (m.uint8(1), True)),
    ("add", lambda m: (1, 1.0)),
    ("add", lambda m: (1.0, 1.0)),
    ("add", lambda m: (m.float32(1), 1.0)),
    ("add", lambda m: (m.complex64(1), 1.0)),
    ("add", lambda m: (m.float32(1), 1j)),
    ("add", lambda m: (np.float64(1), m.float32(1))),
    ("mul", lambda m: (m.int8(1), m.int16(1))),
    ("max", lambda m: (m.float32(1), 2)),
    ("atan2", lambda m: (m.float32(1), 2.0)),
    ("pow", lambda m: (m.float32(1), 2)),
    ("pow", lambda m: (m.float32(1), 2.0)),
    ("pow", lambda m: (2.0, m.float16(1))),
    ("pow", lambda m: (2.0, 2)),
    ("pow", lambda m: (m.int32(2), m.int32(2))),
    ("eq", lambda m: (m.int32(1), m.float32(2))),
    ("eq", lambda m: (m.float32(1), 1)),
    ("eq", lambda m: (1.0, 2.0)),
    ("ne", lambda m: (m.uint8(1), m.int8(1))),
    ("lt", lambda m: (m.uint8(1), m.int8(1))),
    ("bitwise_and", lambda m: (1.0, 2.0)),
    ("bitwise_and", lambda m: (m.int32(1), True)),
    ("bitwise_and", lambda m: (m.int32(1), m.uint32(2))),
    ("bitwise_not", lambda m: (m.float32(1),)),
    ("shift_left", lambda m: (m.int8(1), 1)),
    ("shift_left", lambda m: (1, 2)),
    ("nextafter", lambda m: (m.float32(1), m.float16(1))),
    ("complex", lambda m: (m.float32(1), 2.0)),
    ("complex", lambda m: (1.0, 2.0)),
    ("sin", lambda m: (1.0,)),
    ("sin", lambda m: (m.int32(1),)),
    ("is_finite", lambda m: (1.0,)),
    ("real", lambda m: (2.0j,)),
    ("abs", lambda m: (2.0j,)),
    ("abs", lambda m: (m.uint32(1),)),
    ("add", lambda m: (m.ones(2), m.ones((2, 2)))),
    ("add", lambda m: (m.ones(2), m.ones(3))),
    ("add", lambda m: (m.ones((2, 1)), m.ones((1, 3)))),
    ("add", lambda m: (m.ones((2, 1)), 1.0)),
    ("clamp", lambda m: (0.0, m.float32(1), 2.0)),
    ("clamp", lambda m: (0.0, m.int32(1), 2.0)),
    ("clamp", lambda m: (0.0, 2.0, 1.0)),
    ("select", lambda m: (True, m.float32(1), m.int32(2))),
    ("select", lambda m: (True, 2.0, 1.0)),
    ("select_n", lambda m: (m.int32(0), m.float32(1), m.int32(2))),
]


@pytest.mark.parametrize(
    ("name", "make_args"), MIXED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MIXED)]
)
def test_python_scalars_and_mixed_dtypes_as_jax(name, make_args):
    """Weak types of the result, and JAX's error class + message (Tip included)."""
    got, want = _both(name, make_args)
    assert got == want


def test_messages_spelled_out():
    with pytest.raises(TypeError) as e:
        glax.add(gjnp.int32(1), 1.0)
    assert str(e.value).startswith(
        "lax.add requires arguments to have the same dtypes, got int32, float32. (Tip: "
        "jnp.add is a similar function that does automatic type promotion on inputs)."
    )
    with pytest.raises(TypeError) as e:
        glax.eq(gjnp.int32(1), gjnp.float32(1))
    assert "(Tip: jnp.equal is a similar function" in str(e.value)
    with pytest.raises(TypeError) as e:
        glax.bitwise_and(1.0, 2.0)
    assert str(e.value).startswith(
        "and does not accept dtype float32 at position 0. Accepted dtypes at position 0 "
        "are subtypes of integer, bool."
    )


def test_float0_operands_as_jax():
    f0 = np.zeros((), jax.dtypes.float0)
    for name, args in [("add", (f0, f0)), ("neg", (f0,))]:
        got = _outcome(engine, getattr(glax, name), args)
        want = _outcome(jax, getattr(jlax, name), args)
        assert got == want


def test_weak_scalars_stay_literals_in_jaxprs():
    text = str(engine.make_jaxpr(lambda x: glax.mul(glax.add(x, 1.0), 2.0))(gjnp.float32(1)))
    want = str(jax.make_jaxpr(lambda x: jlax.mul(jlax.add(x, 1.0), 2.0))(jjnp.float32(1)))
    assert text == want


def test_vjp_cotangent_error_names_the_types():
    """The message JAX gives (it used to print ``{a.shape}`` literally)."""
    _, f = engine.vjp(lambda x: x * 2.0, gjnp.ones(3))
    _, jf = jax.vjp(lambda x: x * 2.0, jjnp.ones(3))
    for ct, jct in [(gjnp.ones(4), jjnp.ones(4)), (gjnp.ones(3, np.int32), jjnp.ones(3, np.int32))]:
        with pytest.raises(ValueError) as got:
            f(ct)
        with pytest.raises(ValueError) as want:
            jf(jct)
        assert str(got.value) == str(want.value)
        assert "{" not in str(got.value)
