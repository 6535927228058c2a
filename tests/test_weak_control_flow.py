"""Weak types through control flow and comparisons, against real JAX (issue 9 item 6):
a loop carry started from a Python scalar stays weakly typed, so it still adopts the
dtype of the arrays it later meets; comparisons of weak values give weak bools."""

from types import SimpleNamespace as NS

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()
E = NS(jax=engine, lax=engine.lax, np=enp)
J = NS(jax=jax, lax=jax.lax, np=jnp)


def same(ours, theirs):
    """Values, dtypes and weak types agree leaf by leaf."""
    assert_close(ours, theirs)
    a, b = engine.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert bool(getattr(x, "weak_type", False)) == bool(getattr(y, "weak_type", False)), (
            x,
            y,
        )


def _weak(m):
    """A weakly typed float32 Array (from two Python floats)."""
    return m.lax.add(1.0, 1.0)


CASES = {
    # the example: the weak int carry meets an int8 and becomes int8
    "fori_int_carry_then_int8": lambda m: (
        m.lax.fori_loop(0, 10, lambda i, c: c + 1, 0) + m.np.int8(1)
    ),
    "fori_float_carry": lambda m: m.lax.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0),
    "fori_float_carry_then_f16": lambda m: (
        m.lax.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0) + m.np.float16(1)
    ),
    "fori_carry_meets_strong": lambda m: m.lax.fori_loop(
        0, 3, lambda i, c: c + m.np.float32(1), 1.0
    ),
    "fori_traced_bounds": lambda m: m.lax.fori_loop(
        m.np.int32(0), m.np.int32(4), lambda i, c: c + i, 0
    ),
    "fori_tuple_carry": lambda m: m.lax.fori_loop(
        0, 4, lambda i, c: (c[0] + 1, c[1] * 0.5), (0, 8.0)
    ),
    "while_int_carry": lambda m: m.lax.while_loop(lambda c: c < 5, lambda c: c + 1, 0),
    "while_int_carry_then_uint8": lambda m: (
        m.lax.while_loop(lambda c: c < 5, lambda c: c + 1, 0) + m.np.uint8(3)
    ),
    "while_mixed_tuple": lambda m: m.lax.while_loop(
        lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] + m.np.float32(0.5)), (0, 1.0)
    ),
    "scan_weak_carry_strong_xs": lambda m: m.lax.scan(
        lambda c, x: (c + x, c * 2), 0.0, m.np.arange(3.0)
    ),
    "scan_weak_carry_no_xs": lambda m: m.lax.scan(lambda c, x: (c + 1, c < 2), 0, None, length=3),
    "scan_weak_carry_then_bf16": lambda m: (
        m.lax.scan(lambda c, x: (c * 1.5, None), 1.0, None, length=2)[0]
        + m.np.asarray(1, m.np.bfloat16)
    ),
    "scan_ys_of_weak_literal": lambda m: m.lax.scan(
        lambda c, x: (c + 1.0, 2.0), 0.0, None, length=2
    ),
    "cond_weak_branches": lambda m: m.lax.cond(True, lambda: 1, lambda: 2),
    "cond_weak_operand": lambda m: m.lax.cond(False, lambda x: x + 1, lambda x: x, 1.0),
    "switch_weak": lambda m: m.lax.switch(1, [lambda x: x, lambda x: x * 3], 2),
    "map_weak_xs": lambda m: m.lax.map(lambda x: x * 2.0, m.np.arange(3.0)),
    # comparisons of weak values are weak bools; with a strong operand, strong
    "compare_weak_weak": lambda m: m.np.asarray(1.0) < 2.0,
    "compare_weak_python": lambda m: m.lax.add(1.0, 1.0) == 2.0,
    "compare_strong_python": lambda m: m.np.float32(1.0) > 0.5,
    "compare_weak_ints": lambda m: m.np.asarray(3) >= 2,
    "weak_bool_in_where": lambda m: m.np.where(m.np.asarray(1.0) < 2.0, 1, 0),
    "weak_bool_then_int8": lambda m: (m.np.asarray(1) < 2) + m.np.int8(1),
    "not_equal_weak": lambda m: m.np.not_equal(2.0, m.np.asarray(1.0)),
    "lax_lt_weak": lambda m: m.lax.lt(_weak(m), _weak(m)),
    "isnan_weak": lambda m: m.np.isnan(_weak(m)),
    "logical_not_weak_bool": lambda m: m.np.logical_not(_weak(m) < 3.0),
    "and_of_weak_bools": lambda m: (_weak(m) < 3.0) & (_weak(m) > 0.0),
    "and_with_strong_bool": lambda m: (_weak(m) < 3.0) & np.bool_(True),
    "where_on_weak_bool": lambda m: m.np.where(_weak(m) < 3.0, _weak(m), 0.0),
    "equal_weak_ints": lambda m: m.np.equal(3, m.lax.add(1, 2)),
    "cond_on_weak_bool": lambda m: m.lax.cond(_weak(m) < 3.0, lambda: 1.0, lambda: 2.0),
    "jit_compare_python_arg": lambda m: m.jax.jit(lambda a: a < 3.0)(2.0),
    "vmap_compare": lambda m: m.jax.vmap(lambda a: a < 3.0)(np.arange(3.0)),
    "while_weak_bool_carry": lambda m: m.lax.while_loop(
        lambda c: c[0] < 3, lambda c: (c[0] + 1, c[0] > 1), (0, False)
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_eager_matches_jax(name):
    same(CASES[name](E), CASES[name](J))


@pytest.mark.parametrize(
    "name",
    [
        "fori_int_carry_then_int8",
        "fori_float_carry",
        "fori_tuple_carry",
        "while_int_carry_then_uint8",
        "scan_weak_carry_strong_xs",
        "scan_weak_carry_no_xs",
        "cond_weak_operand",
        "compare_weak_weak",
        "weak_bool_then_int8",
    ],
)
def test_under_jit_matches_jax(name):
    same(engine.jit(lambda: CASES[name](E))(), jax.jit(lambda: CASES[name](J))())


def test_carry_from_traced_python_scalar_argument():
    """A jit argument that was a Python scalar is weak inside; loops keep it so."""

    def f(m):
        return lambda s: m.lax.fori_loop(0, 3, lambda i, c: c + i, s) + m.np.int16(1)

    same(engine.jit(f(E))(5), jax.jit(f(J))(5))
    same(engine.jit(f(E))(np.int32(5)), jax.jit(f(J))(np.int32(5)))


def test_weak_carry_in_the_jaxpr():
    """The loop's carry avals in the jaxpr are weak exactly as JAX's are (their text is
    the same; the weak flags are read from the loop's output variables)."""

    def f(m):
        return lambda: m.lax.fori_loop(0, 3, lambda i, c: c * 2.0, 1.0)

    ours = engine.make_jaxpr(f(E))()
    theirs = jax.make_jaxpr(f(J))()
    assert [a.weak_type for a in ours.out_avals] == [a.weak_type for a in theirs.out_avals]


@pytest.mark.parametrize("x64", [False, True])
def test_weak_carry_with_x64(x64):
    def f(m):
        return m.lax.fori_loop(0, 3, lambda i, c: c + 1, 0) + m.np.int16(1)

    with engine.enable_x64(x64), jax.enable_x64(x64):
        same(f(E), f(J))
