"""Errors from a user's custom rule or callback keep JAX's class and phrase and also
name the user's function and where it is defined (issue 9: bad input names the user's
function), and the session stays usable afterwards."""

import numpy as np
import pytest
from helpers import real_jax

import engine


def _bwd_wrong_structure(m):
    @m.custom_vjp
    def f(x):
        return m.numpy.sin(x)

    def f_fwd(x):
        return m.numpy.sin(x), x

    def f_bwd(res, g):
        return (g, g)

    f.defvjp(f_fwd, f_bwd)
    return m.grad(f)(1.0)


def _callback_wrong_shape(m):
    def my_callback(x):
        return np.zeros((3,), np.float32)

    spec = m.ShapeDtypeStruct((2,), np.float32)
    return m.jit(lambda x: m.pure_callback(my_callback, spec, x))(m.numpy.ones(2))


CASES = {
    "custom_vjp_bwd_structure": (
        _bwd_wrong_structure,
        "same container (pytree) structure",
        "f_bwd",
    ),
    "pure_callback_shape": (_callback_wrong_shape, "Incorrect output shape", "my_callback"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_names_the_users_function(name):
    make, phrase, fn_name = CASES[name]
    jax = real_jax()[0]
    with pytest.raises(Exception) as theirs:
        make(jax)
    with pytest.raises(Exception) as ours:
        make(engine)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    assert phrase in str(theirs.value) and phrase in str(ours.value)
    assert fn_name in str(ours.value) and __file__ in str(ours.value)
    assert float(engine.jit(lambda x: x + 1)(1.0)) == 2.0
