"""Cells of JAX's docs pages (debugging/flags.md, ...) engine vs JAX 0.10.2, where the
engine differed: what they print and raise."""

import contextlib
import io

import engine
import engine.numpy as enp
from tests.helpers import real_jax


def libs():
    jax, jnp = real_jax()
    return [(engine, enp), (jax, jnp)]


def printed(make):
    """What ``make(jax, jnp)`` prints, then its outcome: a value's repr or the exception's
    class and first line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            got = ("value", repr(make()))
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            got = (type(e).__name__, str(e).splitlines()[0])
    return out.getvalue(), got


def same(make):
    ours, theirs = (printed(lambda lib=lib: make(*lib)) for lib in libs())
    assert ours == theirs
    return ours


def _with_nans(jax, fn):
    old = jax.config.jax_debug_nans
    jax.config.update("jax_debug_nans", True)
    try:
        return fn()
    finally:
        jax.config.update("jax_debug_nans", old)


def test_debug_nans_deoptimized_run_keeps_inner_jits():
    # flags.md: the de-optimized function runs with jit still on, so an inner jit whose
    # output holds the NaN prints JAX's note a second time before the primitive raises
    def make(jax, jnp):
        g = jax.jit(lambda x: jax.lax.log(x))
        return _with_nans(jax, lambda: jax.jit(lambda x: g(-x) + 1)(3.0))

    out, (cls, msg) = same(make)
    assert out.count("Calling the de-optimized version.") == 2
    assert cls == "FloatingPointError" and msg == "invalid value (nan) encountered in log"


def test_debug_nans_nested_jit_of_jit():
    def make(jax, jnp):
        inner = jax.jit(lambda x: jax.lax.sqrt(x) * 2)
        return _with_nans(jax, lambda: jax.jit(inner)(-1.0))

    same(make)


def test_debug_nans_inner_jit_clean_outer_nan():
    # the NaN is made outside the inner jit: one note, then the primitive's error
    def make(jax, jnp):
        inner = jax.jit(lambda x: x * 2)
        return _with_nans(jax, lambda: jax.jit(lambda x: jax.lax.log(inner(x)))(-1.0))

    same(make)


def test_debug_nans_off_inside_context():
    def make(jax, jnp):
        f = jax.jit(lambda x: jax.lax.log(-x))
        with jax.debug_nans(False):
            return f(5.0)

    same(make)
