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
    # arrays no JAX array can hold (JAX: TypeError naming the argument)
    ("jnp.sin(np.array(['a']))", "Error interpreting argument to"),
    ("jnp.sin(np.array([object()]))", "Error interpreting argument to"),
    ("jnp.sin(np.array(['2020-01-01'], dtype='datetime64[D]'))", "Error interpreting argument to"),
    ("jnp.sin(np.array([1], dtype='timedelta64[s]'))", "Error interpreting argument to"),
    ("jnp.sin(np.zeros(2, dtype=[('a', 'f4'), ('b', 'i4')]))", "Error interpreting argument to"),
    ("jnp.add(np.array([b'a']), 1)", "Error interpreting argument to"),
    ("jax.jit(jnp.sin)(np.array(['a']))", "Error interpreting argument to"),
    ("jnp.array(np.array(['a']))", "Error interpreting argument to"),
    (
        "jnp.array(np.array(['2020-01-01'], dtype='datetime64[D]'))",
        "Error interpreting argument to",
    ),
    ("jnp.asarray(np.zeros(2, dtype=[('a', 'f4')]))", "Error interpreting argument to"),
    # a jitted function that calls itself with the same types (JAX: RecursionError)
    (
        "(lambda f: f.__setitem__(0, jax.jit(lambda x: f[0](x))) or f[0](1.0))([None])",
        "Recursively calling",
    ),
    # cond branches that disagree
    (
        "lax.cond(True, lambda x: x, lambda x: x.astype('int32'), 1.0)",
        "cond branches must have equal output types",
    ),
    (
        "lax.cond(True, lambda x: x, lambda x: jnp.stack([x, x]), 1.0)",
        "cond branches must have equal output types",
    ),
    (
        "lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)",
        "cond branch outputs must have the same pytree structure",
    ),
]

# Where JAX 0.10.2 itself gives no usable error, the engine does better: (expression,
# the engine's class, its key phrase, what JAX does). Run on the engine only (JAX aborts
# the process on the huge shapes).
BEYOND_JAX = [
    (
        "jnp.zeros((2**40, 2**40))",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process (C++ BadStatusOrAccess)",
    ),
    (
        "jnp.ones((2**62,), dtype=jnp.float32)",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process",
    ),
    (
        "jax.jit(lambda x: jnp.broadcast_to(x, (2**40, 2**40)))(1.0)",
        "ValueError",
        "XLA cannot represent arrays of 2^63 bytes",
        "aborts the process",
    ),
    (
        "jax.tree_util.tree_leaves((lambda c: c.append(c) or c)([]))",
        "RecursionError",
        "contains a reference cycle",
        "SystemError: ... returned a result with an exception set",
    ),
    (
        "jax.jit(lambda t: 0)((lambda c: c.append(c) or c)([]))",
        "RecursionError",
        "contains a reference cycle",
        "SystemError",
    ),
    (
        "jax.tree_util.tree_flatten(__import__('functools').reduce(lambda t, _: [t], range(20000), []))",
        "RecursionError",
        "nested deeper than Python's recursion limit",
        "SystemError",
    ),
    (
        "jax.random.normal(jax.random.PRNGKey(0), (-1, 3))",
        "TypeError",
        "Only non-negative dimensions are allowed",
        "MLIRError: invalid tensor dimension size",
    ),
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


@pytest.mark.parametrize("expr,cls,phrase,jax_does", BEYOND_JAX, ids=[c[0] for c in BEYOND_JAX])
def test_mistake_clearer_than_jax(expr, cls, phrase, jax_does):
    ours = _run(expr, {"jax": engine, "jnp": ejnp, "lax": elax})
    assert ours is not None, f"engine accepted it (JAX: {jax_does})"
    assert type(ours).__name__ == cls, repr(ours)
    assert phrase in str(ours), str(ours)


def test_cond_mismatch_names_true_fun_first():
    """JAX names true_fun first; so does the engine, whichever branch is wrong."""
    for expr in (
        "lax.cond(True, lambda x: x, lambda x: x.astype('int32'), 1.0)",
        "lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)",
    ):
        msg = str(_run(expr, {"jax": engine, "jnp": ejnp, "lax": elax}))
        assert msg.index("true_fun") < msg.index("false_fun"), msg
    msg = str(_run(CASES[-3][0], {"jax": engine, "jnp": ejnp, "lax": elax}))
    assert "true_fun returns (f32[]) and false_fun returns (i32[])" in msg, msg
