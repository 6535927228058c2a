"""Private functions in a lowered module are named as JAX's: through the module's MLIR
symbol table (one uniquing counter per module) with the user's name as written."""

import re

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp


def _function_names(text):
    return re.findall(r"func\.func (?:public|private) @(\"[^\"]+\"|[\w.]+)", text)


def _program(jax, jnp):
    def scaled(c):
        @jax.jit
        def inner(x):
            return x * c

        return inner

    def f(x):
        y = scaled(1.0)(x) + scaled(2.0)(jnp.sin(x)) + scaled(3.0)(x[:2]).sum()
        return y + jax.jit(lambda x: x)(x) + jax.jit(lambda x: x + 1)(x)

    return f


def _nested_grad(jax, jnp):
    @jax.jit
    def inner(x):
        return jnp.sin(x) * 2

    return jax.grad(lambda x: inner(x).sum())


def _named_main(jax, jnp):
    def main(x):
        return x * 2

    return lambda x: jax.jit(main)(x) + 1


@pytest.mark.parametrize("build", [_program, _nested_grad, _named_main])
def test_private_function_names_match_jax(build):
    jax, jnp = real_jax()
    x = np.linspace(0.1, 1.0, 3, dtype=np.float32)
    ours = engine.jit(build(engine, enp)).lower(x).as_text()
    theirs = jax.jit(build(jax, jnp)).lower(x).as_text()
    assert _function_names(ours) == _function_names(theirs)
    assert len(_function_names(ours)) > 1


def test_renamed_functions_still_run():
    x = np.linspace(0.1, 1.0, 3, dtype=np.float32)
    jax, jnp = real_jax()
    got = engine.jit(_program(engine, enp))(x)
    want = jax.jit(_program(jax, jnp))(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
