"""User mistakes: each raises the exception class JAX raises, with JAX's key phrase.

Every case is an expression run twice, once with the engine's modules bound to
``jax``/``jnp``/``lax`` and once with real JAX's; the test compares the exception class
(by name) and checks that both messages contain the phrase JAX users search for."""

import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as ejnp
from engine import lax as elax

CASES = [
    # (expression, key phrase)
    ("jnp.array([1.0, None])", "None is not a valid value for jnp.array"),
    ("jnp.array(None)", "None is not a valid value for jnp.array"),
    ("jnp.array(i for i in range(3))", "is not a valid JAX array type"),
    ("lax.fori_loop(0, 2.5, lambda i, c: c + 1, 0)", "must have equal types"),
    (
        "lax.fori_loop(jnp.int16(0), jnp.int32(3), lambda i, c: c + 1, 0)",
        "must have equal types",
    ),
    ("lax.fori_loop(0, 3, 5, 0)", "body_fun argument should be callable"),
]


def _run(expr, mods):
    try:
        eval(expr, {"np": np, **mods})
    except Exception as e:  # noqa: BLE001 - the exception is what we compare
        return e
    return None


@pytest.mark.parametrize("expr,phrase", CASES, ids=[c[0] for c in CASES])
def test_mistake_matches_jax(expr, phrase):
    jax, jnp = real_jax()
    theirs = _run(expr, {"jax": jax, "jnp": jnp, "lax": jax.lax})
    ours = _run(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    assert theirs is not None, "JAX accepts this: the case is wrong"
    assert ours is not None, f"engine accepted what JAX rejects: {theirs!r}"
    assert type(ours).__name__ == type(theirs).__name__, (ours, theirs)
    assert phrase in str(theirs), str(theirs)
    assert phrase in str(ours), str(ours)


@pytest.mark.parametrize(
    "expr",
    [
        "lax.fori_loop(jnp.int32(0), 3, lambda i, c: c + 1, 0)",
        "lax.fori_loop(0.0, 2.5, lambda i, c: c + 1, 0)",
    ],
)
def test_accepted_like_jax(expr):
    jax, jnp = real_jax()
    theirs = eval(expr, {"jax": jax, "jnp": jnp, "lax": jax.lax})
    ours = eval(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
