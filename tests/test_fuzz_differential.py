"""Differential fuzzer: random small programs through the engine and through real JAX
0.10.2, compared on values (tolerance per dtype), dtypes, weak types and error classes.

The programs (tests/fuzz_programs.py) mix elementwise, comparison, bitwise, reduction,
cumulative, structural, indexing, scatter, dot, select, cast and control-flow ops on
float32/float16/bfloat16/int32/int8/uint8/bool arrays and Python scalars, with NaN, inf,
-0.0 and integer extremes in the data; tests/fuzz_compare.py applies jit, grad, vmap, jvp
and their compositions. This is the fast profile: derandomized, so CI is reproducible.
The long profile is scripts/fuzz_long.py (seeded; each finding prints its seed).

Findings the fuzzer made are pinned below as plain regression tests.
"""

import os
import warnings

import ml_dtypes
import numpy as np
import pytest

jax = pytest.importorskip("jax")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import engine  # noqa: E402
import engine.numpy as ejnp  # noqa: E402
from tests.fuzz_compare import (  # noqa: E402
    TRANSFORMS,
    Case,
    check_case,
    draw_case,
    known_bug,
    known_divergence,
)
from tests.fuzz_programs import HypothesisChooser, Input, Op, Program  # noqa: E402
from tests.helpers import real_jax  # noqa: E402

# GLASSJAX_FUZZ_SCALE multiplies the example counts (e.g. 10 for a local soak).
SCALE = float(os.environ.get("GLASSJAX_FUZZ_SCALE", "1"))


def fast_profile(examples: int):
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        # no shrinking in CI: a failure prints its whole program, and derandomize makes it
        # rerun the same way (scripts/fuzz_long.py --seed N for the long profile's)
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _check(data, transforms) -> None:
    case = draw_case(HypothesisChooser(data), transforms=transforms)
    problems = check_case(case)
    if problems and (known_divergence(case, problems) or known_bug(problems)):
        return
    assert not problems, "\n".join(problems) + "\n" + case.text()


PRIMAL = tuple(t for t in TRANSFORMS if not set(t) & {"grad", "jvp", "vmap"})
BATCHED = tuple(t for t in TRANSFORMS if "vmap" in t and not set(t) & {"grad", "jvp"})
REVERSE = tuple(t for t in TRANSFORMS if "grad" in t)
FORWARD = tuple(t for t in TRANSFORMS if "jvp" in t and "grad" not in t)


@fast_profile(160)
@given(st.data())
def test_fuzz_eager_and_jit(data):
    _check(data, PRIMAL)


@fast_profile(100)
@given(st.data())
def test_fuzz_vmap(data):
    _check(data, BATCHED)


@fast_profile(100)
@given(st.data())
def test_fuzz_grad(data):
    _check(data, REVERSE)


@fast_profile(80)
@given(st.data())
def test_fuzz_jvp(data):
    _check(data, FORWARD)


# ---- findings of the fuzzer, pinned -------------------------------------------------


def _both(fn):
    """fn(api, numpy module) through JAX and through the engine: (JAX's, engine's)."""
    jx, jnp = real_jax()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(jx, jnp), fn(engine, ejnp)


def _dtype_and_weak(x):
    return np.asarray(x).dtype, bool(x.weak_type)


@pytest.mark.parametrize("name", ["sin", "sqrt", "sinc", "cosh", "arcsin", "exp", "square", "abs"])
def test_weak_bool_promotes_as_a_strong_bool(name):
    """jnp.isnan of a weak float is a weak bool; computing on it gives strong results in
    JAX (a weak bool is a plain bool in the promotion lattice). The engine gave weak ones."""
    ref, out = _both(lambda api, jnp: getattr(jnp, name)(jnp.isnan(jnp.asarray(1.0))))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_weak_bool_plus_weak_bool_is_strong():
    ref, out = _both(lambda api, jnp: jnp.add(jnp.isnan(jnp.asarray(1.0)), jnp.isinf(2.0)))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref) == (np.dtype(bool), False)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_of_weak_scalars_stay_weak(name):
    """JAX's zero inside logical ops is weak for any weakly typed 0-d value, not only for
    Python scalars: logical_or(asarray(1), asarray(False)) is a weak bool."""
    ref, out = _both(lambda api, jnp: getattr(jnp, name)(jnp.asarray(1), jnp.asarray(False)))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)
    ref, out = _both(lambda api, jnp: getattr(jnp, name)(jnp.asarray(2.0), jnp.asarray(0.0)))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)


def test_known_divergence_is_narrow():
    """The one accepted divergence (JAX's accidental OverflowError for lax.cumlogsumexp on
    integers, where the engine raises a TypeError naming the dtype) matches only itself."""
    prog = Program(
        [
            Input("array", "int16", (2,), np.array([1, 2], np.int16)),
            Op("lax.cumlogsumexp", (0,), {"axis": 0, "reverse": False}),
        ],
        (1,),
    )
    case = Case(prog, ("jit",), [prog.inputs[0].value], (), (None,))
    problems = check_case(case)
    assert problems and known_divergence(case, problems)
    other = Case(prog, ("jit",), [prog.inputs[0].value], (), (None,))
    assert not known_divergence(other, ["output 0 dtype: engine int16, JAX int32"])


def test_matmul_of_float16_and_bfloat16_computes_in_float32():
    """Mixed f16 x bf16 operands (result f32) were lowered by rounding the f16 operand to
    bf16 first; JAX hands both to the dot unchanged and gets the float32 product."""
    a = np.array([-0.497802734375, 1.1], np.float16)
    b = np.array([0.29296875, 3.3], ml_dtypes.bfloat16)
    ref, out = _both(lambda api, jnp: jnp.matmul(a, b))
    assert np.asarray(out).dtype == np.asarray(ref).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    ref, out = _both(lambda api, jnp: api.jit(jnp.dot)(a[:1], b[:1]))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_vmap_of_jvp_with_a_bool_output_gives_float0_tangents():
    """The float0 tangent of an integer/bool output, unbatched inside vmap, was broadcast
    on the device (JaxRuntimeError 'Unknown NumPy dtype'); JAX keeps it a float0 array."""
    x = np.ones((2, 3), np.float32)
    ref, out = _both(lambda api, jnp: api.vmap(lambda v: api.jvp(lambda y: y > 0, (v,), (v,)))(x))
    for o, r in zip(out, ref):
        assert np.asarray(o).dtype == np.asarray(r).dtype
        assert np.shape(o) == np.shape(r) == (2, 3)
    np.testing.assert_array_equal(np.asarray(out[0]), np.asarray(ref[0]))


def test_sinc_of_a_weak_array_is_strong():
    """sinc's constants are weak only for weakly typed scalars (as JAX's); a weak array
    (jnp.full with a Python scalar, where with Python scalars) gives a strong result."""
    for make in (lambda jnp: jnp.full((2,), 3), lambda jnp: jnp.asarray(0.0), lambda jnp: 2.0):
        ref, out = _both(lambda api, jnp: jnp.sinc(make(jnp)))
        assert _dtype_and_weak(out) == _dtype_and_weak(ref)
        np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)
    ref, out = _both(lambda api, jnp: api.grad(api.grad(jnp.sinc))(0.0))
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)


def test_jit_of_jvp_with_a_bool_output_returns_float0_tangents():
    x = np.ones(3, np.float32)
    ref, out = _both(lambda api, jnp: api.jit(lambda v: api.jvp(lambda y: y > 0, (v,), (v,)))(x))
    assert [np.asarray(o).dtype for o in out] == [np.asarray(r).dtype for r in ref]


def test_jit_of_jvp_with_an_int_output_returns_float0_tangents():
    x = np.ones(3, np.float32)
    ref, out = _both(
        lambda api, jnp: api.jit(lambda v: api.jvp(lambda y: (y > 0).astype(int), (v,), (v,)))(x)
    )
    assert [np.asarray(o).dtype for o in out] == [np.asarray(r).dtype for r in ref]


@pytest.mark.parametrize(
    "op, floats",
    [("operator.mul", [-2.0, 0.0, np.nan]), ("operator.truediv", [0.0])],
)
def test_bool_times_a_float_eagerly_gives_jaxs_zero(op, floats):
    """False * -2.0 and False / 0.0: JAX compiles each jnp ufunc whole, where XLA turns
    convert(b) * x into select(b, x, 0) (+0.0, not -0.0 or NaN); the engine ran the
    conversion and the op one by one (session 3 accepted the difference un-jitted). Now
    it runs a converting ufunc under jit when eager: equal, with and without jit."""
    prog = Program(
        [
            Input("array", "bool", (3,), np.array([False, False, True])),
            Input("array", "float32", (len(floats),), np.array(floats, np.float32)),
            Op(op, (0, 1), {"swap": False}),
        ],
        (2,),
    )
    args = [n.value for n in prog.inputs]
    for transform in ((), ("jit",), ("vmap",), ("jvp",)):
        in_axes = (0, 0) if transform == ("vmap",) else (None, None)
        case_args = args + [args[1]] if transform == ("jvp",) else args
        diff = (1,) if transform == ("jvp",) else ()
        if transform == ("vmap",):
            case_args = [np.stack([a, a[::-1]]) for a in args]
        assert not check_case(Case(prog, transform, case_args, diff, in_axes)), transform


def test_grad_of_scan_ignores_an_unused_output_with_nan():
    x = np.array([[0.0, np.nan, 2.2], [-0.31, -1.90, -1.45]], np.float32)

    def loss(api, jnp):
        def f(v):
            carry, _ = api.lax.scan(lambda c, e: (c + e, jnp.negative(c * e)), v[0], v)
            return jnp.sum(carry)

        return api.grad(f)(x)

    ref, out = _both(loss)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_pad_keeps_a_weak_arrays_weak_type():
    for make in (lambda jnp: jnp.asarray(2.0), lambda jnp: jnp.full((2,), 2.0)):
        ref, out = _both(lambda api, jnp: jnp.pad(make(jnp), 1, constant_values=1.5))
        assert _dtype_and_weak(out) == _dtype_and_weak(ref) == (np.dtype(np.float32), True)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_integer_power_with_an_array_exponent_is_strong():
    """JAX's integer power (square-and-multiply) starts from strong constants: a weak base
    (a Python int) with an integer or bool array exponent gives a strong result."""
    b = np.array([True, False])
    e = np.array([0, 1, 2, 5], np.int32)
    for fn in (
        lambda api, jnp: 0 ** jnp.asarray(b),
        lambda api, jnp: jnp.power(jnp.asarray(2), jnp.asarray(b)),
        lambda api, jnp: api.jit(jnp.power)(3, jnp.asarray(e)),
    ):
        ref, out = _both(fn)
        assert _dtype_and_weak(out) == _dtype_and_weak(ref)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


@pytest.mark.parametrize(
    "loop",
    [
        lambda api, jnp: api.lax.fori_loop(0, 3, lambda i, c: c + 0.5, 0),
        lambda api, jnp: api.lax.fori_loop(0, 0, lambda i, c: jnp.tanh(c) * 0.5, 0),
        lambda api, jnp: api.lax.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0),
        lambda api, jnp: api.lax.scan(lambda c, x: (c + x, c), 0, jnp.ones(3))[0],
        lambda api, jnp: api.jit(
            lambda: api.lax.fori_loop(0, 3, lambda i, c: c + np.float16(0.5), 1)
        )(),
        lambda api, jnp: api.grad(lambda x: api.lax.fori_loop(0, 3, lambda i, c: c + x, 0))(2.0),
    ],
)
def test_weak_loop_carry_takes_the_bodys_type(loop):
    """A weak init carry whose body output has another dtype is promoted (JAX's
    _promote_weak_typed_input); the engine raised 'carry input and carry output must have
    equal types'."""
    ref, out = _both(loop)
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref))


def test_weak_loop_carry_still_checked_after_promotion():
    for loop in (
        lambda api, jnp: api.lax.fori_loop(0, 3, lambda i, c: c.astype("float32") > 1, 0),
        lambda api, jnp: api.lax.while_loop(lambda c: c < 3, lambda c: (c + 1.5) > 2, 0),
    ):
        jx, jnp = real_jax()
        for api, numpy_module in ((jx, jnp), (engine, ejnp)):
            with pytest.raises(TypeError, match="carry input and carry output must have equal"):
                loop(api, numpy_module)


def test_power_with_a_concrete_0d_integer_array_exponent_is_integer_pow():
    """JAX treats a concrete 0-d integer array exponent as static (integer_pow): the base
    alone sets the dtype, and a negative exponent of an integer base raises."""
    for fn in (
        lambda api, jnp: jnp.power(3, jnp.asarray(np.int8(2))),
        lambda api, jnp: jnp.power(jnp.asarray(np.int8(3)), jnp.asarray(np.int32(2))),
        lambda api, jnp: jnp.power(jnp.asarray(np.float16(3)), np.array(2, np.int32)),
    ):
        ref, out = _both(fn)
        assert _dtype_and_weak(out) == _dtype_and_weak(ref)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    jx, jnp = real_jax()
    for api, numpy_module in ((jx, jnp), (engine, ejnp)):
        with pytest.raises(TypeError, match="Integers cannot be raised to negative powers"):
            3 ** numpy_module.asarray(np.int32(-3))


def test_power_of_a_weak_float_base_and_an_integer_exponent_is_strong():
    ref, out = _both(lambda api, jnp: api.jit(lambda e: jnp.power(2.0, e))(np.int32(3)))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref) == (np.dtype(np.float32), False)
    x, e = np.float32([[2], [3]]), np.int8([3, -1])
    ref, out = _both(lambda api, jnp: api.jit(lambda a, b: a**b)(x, e))
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)


def test_ldexp_takes_bool_exponents_and_refuses_inexact_ones_as_jax():
    ref, out = _both(lambda api, jnp: jnp.ldexp(np.array([True, False]), np.array([True, True])))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    jx, jnp = real_jax()
    for api, numpy_module in ((jx, jnp), (engine, ejnp)):
        for x1, x2 in ((1.0, 2.0), (np.complex64(1), 2)):
            with pytest.raises(ValueError, match="ldexp not supported for input types"):
                numpy_module.ldexp(x1, x2)


def test_grad_ignores_a_while_loop_that_no_output_uses():
    def run(api, jnp):
        def f(x):
            api.lax.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, jnp.tanh(s[1])), (0, x))
            return jnp.sin(x)

        return api.grad(f)(1.0)

    ref, out = _both(run)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref))


@pytest.mark.parametrize("name", ["logaddexp", "divide", "arctan2", "hypot"])
def test_inexact_binary_ops_convert_python_ints_straight_to_float(name):
    """int8 array with a Python int out of int8's range: JAX converts both straight to the
    float type; the engine went through int8 first (300 wrapped to 44): silently wrong."""
    x = np.array([[-2, 5]], np.int8)
    ref, out = _both(lambda api, jnp: getattr(jnp, name)(x, 300))
    assert _dtype_and_weak(out) == _dtype_and_weak(ref)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)
    ref, out = _both(lambda api, jnp: api.vmap(lambda a: getattr(jnp, name)(a, 1000))(x))
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-6)
