"""jax.numpy functions whose jaxprs follow JAX 0.10.2's bodies: the same ``jit``
boundaries and names, static parameters and equations (``cumulative_sum``,
``searchsorted``, ``histogram``, ``unique``, ...), with JAX's values, dtypes and weak
types, against real JAX."""

import numpy as np
import pytest
from helpers import assert_close, jaxpr_text, real_jax, weak_type_of

import engine
import engine.numpy as enp

jax, jnp = real_jax()

X = np.linspace(0.1, 0.9, 6, dtype=np.float32)
S = np.array([0.2, 0.5, 0.7], np.float32)
M = np.arange(6.0, dtype=np.float32).reshape(2, 3)
I8 = np.array([[1, -2, 3], [4, 5, -6]], np.int8)

# name -> (function of the numpy module, its array arguments)
CASES = {
    "cumulative_sum": (lambda n: lambda x: n.cumulative_sum(x), (X,)),
    "cumulative_sum_initial": (
        lambda n: lambda x: n.cumulative_sum(x, axis=1, include_initial=True),
        (I8,),
    ),
    "cumulative_sum_bool_dtype": (
        lambda n: lambda x: n.cumulative_sum(x, axis=0, dtype=bool),
        (M,),
    ),
    "cumulative_prod": (lambda n: lambda x: n.cumulative_prod(x, axis=1), (I8,)),
    "cumulative_prod_initial": (
        lambda n: lambda x: n.cumulative_prod(x, include_initial=True),
        (X,),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jaxpr_text_identical(name):
    mk, args = CASES[name]
    ours, theirs = jaxpr_text(mk(enp), mk(jnp), *args)
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_dtypes_weak_types(name):
    mk, args = CASES[name]
    ours, theirs = mk(enp)(*args), mk(jnp)(*args)
    assert_close(ours, theirs, rtol=2e-6, atol=1e-6)
    for o, t in zip(engine.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        assert weak_type_of(o) == weak_type_of(t)


@pytest.mark.parametrize(
    "call",
    [
        lambda n: n.cumulative_sum(np.float32(1.0)),
        lambda n: n.cumulative_prod(M),
    ],
)
def test_bad_input_errors_as_jax(call):
    with pytest.raises(Exception) as theirs:
        call(jnp)
    with pytest.raises(type(theirs.value)) as ours:
        call(enp)
    assert str(ours.value) == str(theirs.value)
