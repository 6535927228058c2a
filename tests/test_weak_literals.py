"""Weak Python-float literals print as JAX prints them (unrounded where the result stays
weak, rounded to the dtype where it meets a strong operand), and arange builds JAX's
program (float32 working type for narrower floats)."""

import numpy as np
import pytest
from helpers import jaxpr_text, real_jax

import engine
from engine import lax


def _cases(m, mlax):
    return {
        "weak_times_float": (lambda c: c * 0.1, (1.0,)),
        "strong_times_float": (lambda c: c * 0.1, (np.float32(1.0),)),
        "weak_chain": (lambda c: (c + 1 / 3) * 2.5e-7 - 0.7, (2.0,)),
        "grad_at_python_float": (m.grad(lambda c: m.numpy.sin(c) * 0.1), (1.0,)),
        "scan_body_weak_carry": (
            lambda x: mlax.scan(lambda c, y: (c * 0.1 + y, c), x, m.numpy.ones(3)),
            (1.0,),
        ),
        "f16_strong": (lambda c: c * 0.1 + 1 / 3, (np.float16(1.0),)),
        "complex_weak": (lambda c: c * 0.1, (1.0 + 2j,)),
        "arange_float_step": (lambda: m.numpy.arange(0.1, 1, 0.1), ()),
        "arange_int": (lambda: (m.numpy.arange(0, 10, 1), m.numpy.arange(3, 7)), ()),
        "arange_bf16": (lambda: m.numpy.arange(5, 1, -1, dtype=m.numpy.bfloat16), ()),
        "arange_f16": (lambda: m.numpy.arange(0, 1, 0.1, dtype=m.numpy.float16), ()),
    }


NAMES = list(_cases(engine, lax))


@pytest.mark.parametrize("name", NAMES)
def test_jaxpr_text_matches_jax(name):
    jax, _ = real_jax()
    fe, args = _cases(engine, lax)[name]
    fj, _ = _cases(jax, jax.lax)[name]
    ours, theirs = jaxpr_text(fe, fj, *args)
    assert ours == theirs


@pytest.mark.parametrize(
    "args",
    [(0.1, 1, 0.1), (10, 0, -3.5), (1, 1.3, 0.1), (0, 1, 0.1, np.float16), (2, 10, 2), (5,)],
)
def test_arange_values_match_jax(args):
    jax, jnp = real_jax()
    *span, dt = args if len(args) == 4 else (*args, None)
    e = engine.numpy.arange(*span, dtype=dt)
    j = jnp.arange(*span, dtype=dt)
    assert e.dtype == j.dtype
    np.testing.assert_array_equal(np.asarray(e), np.asarray(j))
