"""A Python bool exponent is a static integer (``operator.index`` takes it), as in JAX:
``x ** False`` is ``integer_pow[y=0]``, not a float ``pow``."""

import numpy as np
import pytest
from helpers import jaxpr_text, real_jax

import engine


@pytest.mark.parametrize("exponent", [False, True])
def test_bool_exponent_is_integer_pow(exponent):
    jax, _ = real_jax()
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    ours, theirs = jaxpr_text(lambda v: v**exponent, lambda v: v**exponent, x)
    assert ours == theirs and "integer_pow" in ours
    np.testing.assert_array_equal(engine.numpy.power(x, exponent), jax.numpy.power(x, exponent))
    e = engine.numpy.power(np.array([True, False]), exponent)
    j = jax.numpy.power(np.array([True, False]), exponent)
    assert e.dtype == j.dtype
    np.testing.assert_array_equal(e, j)
