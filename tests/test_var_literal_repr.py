"""The reprs of a jaxpr's variables and literals, as a user sees them when poking at
``jaxpr.eqns[i].invars`` (JAX's "Writing custom interpreters"), against real JAX:
``Var(id=...):float32[3]``, ``_`` for a dropped output, ``Literal(TypedInt(2,
dtype=int32))`` for a weak Python int, ``Literal(2.0)`` for a weak float and the Python
scalar for any other value."""

import re

import numpy as np
import pytest
from helpers import real_jax
from helpers import x64_both as _x64

import engine
import engine.numpy as ejnp
from engine import core

jax, jnp = real_jax()

# each program takes (api, numpy namespace) and returns (function, example arguments)
PROGRAMS = {
    "weak_int_times_weak_int": lambda m, np_: (lambda x: x * 2, (1,)),
    "weak_float_on_float_array": lambda m, np_: (lambda x: x + 1.0, (np_.ones(3),)),
    "weak_float_on_weak_float": lambda m, np_: (lambda x: x * 2.0, (1.0,)),
    "unrounded_weak_float": lambda m, np_: (lambda x: x * 0.1, (1.0,)),
    "rounded_float32_literal": lambda m, np_: (lambda x: x * 0.1, (np_.ones(2),)),
    "int_on_float_array": lambda m, np_: (lambda x: x + 1, (np_.ones(3),)),
    "numpy_float32_scalar": lambda m, np_: (lambda x: x + np.float32(2), (np_.ones(3),)),
    "numpy_uint8_scalar": lambda m, np_: (
        lambda x: x + np.uint8(3),
        (np_.ones(2, np_.uint8),),
    ),
    "float16_literal": lambda m, np_: (lambda x: x * 0.5, (np_.ones(2, np_.float16),)),
    "weak_complex": lambda m, np_: (lambda x: x * (1 + 2j), (1.0,)),
    "strong_complex": lambda m, np_: (lambda x: x * 1j, (np_.ones(3),)),
    "negative_int": lambda m, np_: (lambda x: x * -2, (3,)),
    "literal_outputs": lambda m, np_: (lambda x: (x, 3, 3.5, np.float32(2.5)), (1.0,)),
    "bool_in_where": lambda m, np_: (lambda x: np_.where(True, x, 0.0), (np_.ones(3),)),
    "cond_branches": lambda m, np_: (
        lambda x: m.lax.cond(x > 0, lambda y: y + 1, lambda y: y * 2, x),
        (1,),
    ),
    "cond_on_int32_array": lambda m, np_: (
        lambda x: m.lax.cond(x > 0, lambda y: y + 1, lambda y: y * 2, x),
        (np_.int32(1),),
    ),
    "while_loop": lambda m, np_: (
        lambda x: m.lax.while_loop(lambda c: c < 10, lambda c: c + 1, x),
        (0,),
    ),
    "fori_loop": lambda m, np_: (
        lambda x: m.lax.fori_loop(0, 3, lambda i, c: c + i, x),
        (0.0,),
    ),
    "grad": lambda m, np_: (m.grad(lambda x: x**2 * 3.0), (1.0,)),
    "vmap": lambda m, np_: (m.vmap(lambda x: x + 1), (np_.ones(3),)),
}


def _sub_jaxprs(params):
    for p in params.values():
        for q in p if isinstance(p, (tuple, list)) else [p]:
            if hasattr(q, "jaxpr") and hasattr(q, "consts"):
                yield q.jaxpr
            elif hasattr(q, "eqns"):
                yield q


def _literal_texts(jaxpr):
    """Every literal in the jaxpr and its sub-jaxprs, in order: (where, repr, str)."""
    found = []
    for eqn in jaxpr.eqns:
        for atom in eqn.invars:
            if type(atom).__name__ == "Literal":
                found.append((eqn.primitive.name, repr(atom), str(atom)))
        for sub in _sub_jaxprs(eqn.params):
            found.extend(_literal_texts(sub))
    for atom in jaxpr.outvars:
        if type(atom).__name__ == "Literal":
            found.append(("outvars", repr(atom), str(atom)))
    return found


def _var_texts(jaxpr):
    """The reprs of the binders and equation outputs, with each id replaced by its
    first-seen index (ids are addresses; what must match is the form)."""
    seen: dict[str, int] = {}

    def number(match):
        return f"id={seen.setdefault(match.group(1), len(seen))}"

    texts = []
    for v in [*jaxpr.invars, *(o for e in jaxpr.eqns for o in e.outvars)]:
        texts.append(re.sub(r"id=(\d+)", number, repr(v)))
        texts.append(re.sub(r"id=(\d+)", number, str(v)))
    return texts


def _both(case):
    ours_fn, ours_args = PROGRAMS[case](engine, ejnp)
    theirs_fn, theirs_args = PROGRAMS[case](jax, jnp)
    return (
        engine.make_jaxpr(ours_fn)(*ours_args).jaxpr,
        jax.make_jaxpr(theirs_fn)(*theirs_args).jaxpr,
    )


@pytest.mark.parametrize("case", sorted(PROGRAMS))
def test_literal_repr_and_str_match_jax(case):
    ours, theirs = _both(case)
    assert _literal_texts(theirs), "the program must have literals to compare"
    assert _literal_texts(ours) == _literal_texts(theirs)


@pytest.mark.parametrize(
    "case, expected_dtype",
    [("weak_int_times_weak_int", "int64"), ("weak_complex", "complex128"), ("grad", None)],
)
def test_literal_repr_under_x64_matches_jax(case, expected_dtype):
    with _x64():
        ours, theirs = _both(case)
        assert _literal_texts(ours) == _literal_texts(theirs)
    if expected_dtype:
        assert f"dtype={expected_dtype}" in _literal_texts(ours)[0][1]


@pytest.mark.parametrize("case", ["weak_int_times_weak_int", "numpy_uint8_scalar", "vmap"])
def test_var_repr_matches_jax(case):
    ours, theirs = _both(case)
    assert _var_texts(ours) == _var_texts(theirs)
    assert _var_texts(ours)[0].startswith("Var(id=0):")


def test_var_repr_of_many_dims_and_dtypes_matches_jax():
    ours = engine.make_jaxpr(lambda x: x.sum(0))(np.ones((2, 3), np.int8)).jaxpr
    theirs = jax.make_jaxpr(lambda x: x.sum(0))(np.ones((2, 3), np.int8)).jaxpr
    assert _var_texts(ours) == _var_texts(theirs)
    assert _var_texts(ours)[0] == "Var(id=0):int8[2,3]"


def test_var_repr_carries_its_identity():
    jaxpr = engine.make_jaxpr(lambda x, y: x + y)(1.0, 2.0).jaxpr
    a, b = jaxpr.invars
    assert repr(a) == f"Var(id={id(a)}):float32[]"
    assert repr(a) != repr(b)


def test_literal_aval_matches_jax():
    ours, theirs = _both("weak_int_times_weak_int")
    assert repr(ours.eqns[0].invars[1].aval) == repr(theirs.eqns[0].invars[1].aval)
    assert repr(ours.eqns[0].invars[1].aval) == "ShapedArray(int32[], weak_type=True)"


def test_dropped_output_prints_as_underscore_as_jax():
    aval = core.ShapedArray((3,), np.dtype(np.float32))
    from jax._src import core as jax_core

    theirs = jax_core.DropVar(jax_core.ShapedArray((3,), np.dtype(np.float32)))
    assert repr(core.DropVar(aval)) == repr(theirs) == "_"
    # an output unread at trace time is an ordinary variable in JAX: same repr as one
    assert repr(core.UnreadVar(aval)).startswith("Var(id=")
