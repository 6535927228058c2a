"""A tracer prints as JAX 0.10.2's does (users print values inside transformed
functions to debug them, and JAX's tutorials show what they see)."""

import numpy as np
import pytest
from helpers import real_jax

import engine

CASES = {
    "jit_weak_scalar": lambda m: m.jit(_shown)(1.0),
    "jit_bfloat16": lambda m: m.jit(_shown)(m.numpy.ones(3, m.numpy.bfloat16)),
    "make_jaxpr_int": lambda m: m.make_jaxpr(_shown)(1),
    "grad": lambda m: m.grad(lambda x: _shown(m.numpy.sin(x)))(1.0),
    "vmap": lambda m: m.vmap(_shown)(m.numpy.ones(3)),
    "vmap_unbatched": lambda m: m.vmap(lambda x, y: _shown(y) + x, in_axes=(0, None))(
        m.numpy.ones(3), 2.0
    ),
    "jvp": lambda m: m.jvp(_shown, (1.0,), (1.0,)),
    "jvp_zero_tangent": lambda m: m.jvp(_shown, (1.0,), (np.float32(0.0),)),
}

_seen: list[str] = []


def _shown(x):
    _seen.append(repr(x))
    _seen.append(str(x))
    return x


@pytest.mark.parametrize("name", sorted(CASES))
def test_tracer_repr_as_jax(name):
    jax = real_jax()[0]
    printed = {}
    for label, m in (("engine", engine), ("jax", jax)):
        _seen.clear()
        CASES[name](m)
        printed[label] = list(_seen)
    assert printed["engine"] == printed["jax"]
