"""jnp.astype / Array.astype and convert_element_type's lowering as JAX's: complex to bool
is x != 0 (not the real part's), complex to real warns JAX's DeprecationWarning, copy=
binds copy, and the lowered converts (even between equal types, to bool by compare then
convert) are JAX's text."""

import warnings

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()

COMPLEX = np.array([1j, 0, 2 + 0j, -0.5 - 3j], np.complex64)


@pytest.mark.parametrize("method", [True, False])
def test_complex_to_bool_is_nonzero(method):
    ours = COMPLEX.astype(bool)
    got = enp.asarray(COMPLEX).astype(bool) if method else enp.astype(COMPLEX, bool)
    want = jnp.asarray(COMPLEX).astype(bool)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(got), ours)


def _warned(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [(x.category, str(x.message)) for x in w]


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_complex_to_real_warns_as_jax(dtype):
    got, ours = _warned(lambda: enp.astype(enp.asarray(COMPLEX), dtype))
    want, theirs = _warned(lambda: jnp.astype(jnp.asarray(COMPLEX), dtype))
    assert ours == theirs and ours and ours[0][0] is DeprecationWarning
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: lambda x: m.astype(x, bool),
        lambda m: lambda x: x.astype("int8", copy=True),
        lambda m: lambda x: m.astype(x, x.dtype, copy=True),
        lambda m: lambda x: m.astype(x, None),
    ],
)
@pytest.mark.parametrize("arg", [np.arange(3.0, dtype=np.float32), COMPLEX, np.ones(2, bool)])
def test_jaxprs_match(build, arg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = str(engine.make_jaxpr(build(enp))(arg))
        theirs = str(jax.make_jaxpr(build(jnp))(arg))
    assert ours == theirs


@pytest.mark.parametrize(
    "fn,arg",
    [
        (lambda m: lambda c: c * np.float32(2), 1.0),  # weak scalar made strong
        (lambda m: lambda x: m.lax.convert_element_type(x, bool), np.float32(1)),
        (lambda m: lambda x: m.lax.convert_element_type(x, bool), np.ones(3, np.int32)),
        (lambda m: lambda x: m.lax.convert_element_type(x, bool), np.ones(3, bool)),
        (lambda m: lambda x: m.lax.convert_element_type(x, np.int8), np.ones(3, np.uint32)),
    ],
)
def test_lowered_converts_match(fn, arg):
    ours = engine.jit(fn(engine)).lower(arg).as_text(debug_info=False)
    theirs = jax.jit(fn(jax)).lower(arg).as_text(debug_info=False)
    body = lambda t: [ln for ln in t.splitlines() if "stablehlo." in ln]  # noqa: E731
    assert body(ours) == body(theirs)
