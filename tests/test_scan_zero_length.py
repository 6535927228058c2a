"""A scan (or fori_loop with concrete bounds) of length 0 under grad, vmap and jit: the
loop never runs, and lowering must not emit a body slicing one row out of zero (found by
the differential fuzzer, seed 300362: MLIRError "Operation creation failed")."""

import numpy as np
import pytest
from helpers import real_jax

import engine


def _programs(m):
    lax, jnp = m.lax, m.numpy
    return {
        "fori0": lambda x: jnp.sum(lax.fori_loop(0, 0, lambda i, c: jnp.exp(c) * 0.5, x)),
        "scan0_carry": lambda x: jnp.sum(
            lax.scan(lambda c, _: (jnp.exp(c) * 0.5, None), x, None, length=0)[0]
        ),
        "scan0_ys": lambda x: jnp.sum(
            lax.scan(lambda c, _: (jnp.exp(c) * 0.5, c), x, None, length=0)[1]
        ),
        "scan0_xs": lambda x: jnp.sum(
            lax.scan(lambda c, r: (c * r, c + r), x, jnp.ones((0, 4), x.dtype))[0]
        ),
    }


@pytest.mark.parametrize("transform", ["eager", "grad", "jit_grad", "vmap_grad"])
@pytest.mark.parametrize("name", ["fori0", "scan0_carry", "scan0_ys", "scan0_xs"])
def test_zero_length_loops_as_jax(name, transform):
    jax = real_jax()[0]
    x = np.linspace(-1, 1, 4).astype(np.float32)
    xs = np.stack([x, 2 * x])
    out = {}
    for label, m in (("engine", engine), ("jax", jax)):
        f = _programs(m)[name]
        run = {
            "eager": lambda: f(x),
            "grad": lambda: m.grad(f)(x),
            "jit_grad": lambda: m.jit(m.grad(f))(x),
            "vmap_grad": lambda: m.vmap(m.grad(f))(xs),
        }[transform]
        out[label] = np.asarray(run())
    np.testing.assert_array_equal(out["engine"], out["jax"])
