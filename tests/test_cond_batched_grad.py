"""vmap of cond with a batched predicate runs every branch on the whole batch; as in
JAX, each branch sees the elements that take another branch through stop_gradient, so an
untaken branch (log at 0) adds nothing to the gradient."""

import numpy as np
import pytest
from helpers import real_jax

import engine

PROGRAMS = {
    "log_or_shift": lambda m: lambda v: m.lax.cond(v > 1, m.numpy.log, lambda u: u - 1, v),
    "sqrt_or_square": lambda m: lambda v: m.lax.cond(v >= 0, m.numpy.sqrt, lambda u: u * u, v),
    "switch_three": lambda m: (
        lambda v: m.lax.switch(
            (v > 0).astype("int32") + (v > 1.6).astype("int32"),
            [m.numpy.log, lambda u: 1.0 / u, lambda u: u * 3.0],
            v,
        )
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_grad_of_vmapped_cond_as_jax(name):
    jax = real_jax()[0]
    x = np.array([0.0, 2.0, -1.0, 1.5], np.float32)
    got, want = (
        m.grad(lambda x: m.numpy.sum(m.vmap(PROGRAMS[name](m))(x)))(x) for m in (engine, jax)
    )
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    assert str(engine.make_jaxpr(engine.vmap(PROGRAMS[name](engine)))(x)) == str(
        jax.make_jaxpr(jax.vmap(PROGRAMS[name](jax)))(x)
    )
