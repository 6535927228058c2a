"""Closed-over constants lowered as JAX 0.10.2 lowers them by default
(``jax_use_simplified_jaxpr_constants=False``): embedded in ``@main``'s body as
``stablehlo.constant`` (one per distinct object; a zero-stride NumPy array as its
collapsed value and a broadcast_in_dim), never as leading arguments, so ``@main``'s
signature, ``keep_unused``, donation, ``Compiled.input_shardings`` and
``Exported.module_kept_var_idx`` count the user's arguments only. Consts nothing reads
are dropped with dead code; ``jax_captured_constants_warn_bytes`` warns as JAX does.
Each case compared with real JAX on the same inputs (module text, values)."""

from __future__ import annotations

import re
import warnings

import eight_devices
import numpy as np
import pytest
from helpers import real_jax

import engine

XS = np.arange(4.0, dtype=np.float32)
ONE = np.float32(1.5)
V4 = np.linspace(-1.0, 2.0, 4).astype(np.float32)


def _main_args(text: str) -> list[str]:
    sig = re.search(r"func\.func public @main\((.*?)\) ->", text)
    assert sig is not None, text
    return re.findall(r"%arg\d+: (tensor<[^>]*>)", sig.group(1))


def _main_consts(text: str) -> list[str]:
    """@main's stablehlo.constant lines before its first other op (the embedded consts)."""
    body = text.split("func.func public @main", 1)[1].splitlines()[1:]
    out = []
    for line in body:
        if "stablehlo.constant" not in line:
            break
        out.append(line.strip())
    return out


# (name, fun(lib) -> the function to jit, its arguments); arguments are not weakly typed
# (a weak scalar's convert_element_type is lowered differently, unrelated to consts)
def _plain(lib):
    return (lambda c: c + XS), (ONE,)


def _twice_and_sliced(lib):
    return (lambda c: c * XS + XS[:4] - XS), (V4,)


def _unused_const(lib):
    def f(c):
        XS * 2.0  # dead: the const leaves with it
        return c + 1.0

    return f, (V4,)


def _bool_const(lib):
    mask = np.array([True, False, False, True])
    return (lambda c: lib.numpy.where(mask, c, -c)), (V4,)


def _bool_matrix(lib):
    mask = np.array([[True, False, True], [False, False, True], [True, True, True]])
    return (lambda c: lib.numpy.where(mask, c, np.float32(0.0))), (np.ones((3, 3), np.float32),)


def _zero_stride(lib):
    col = np.broadcast_to(XS[:, None], (4, 2))
    full = np.broadcast_to(np.float32(2.0), (4, 2))
    return (lambda c: c + col * full), (np.ones((4, 2), np.float32),)


def _int_and_bf16(lib):
    ints = np.array([3, 1, 2, 7], np.int32)
    halves = np.arange(4, dtype=lib.numpy.bfloat16)
    return (lambda c: (c * ints).astype(lib.numpy.bfloat16) + halves), (V4,)


def _lib_array(lib):
    arr = lib.numpy.arange(4.0) * 3.0
    return (lambda c: c * arr + arr), (V4,)


def _cond_branch(lib):
    def f(p, c):
        return lib.lax.cond(p, lambda c: c + XS, lambda c: c - 1.0, c)

    return f, (np.bool_(True), V4)


def _while_const(lib):
    def f(c):
        return lib.lax.while_loop(lambda c: c[0] < 10.0, lambda c: c + XS + 1.0, c)

    return f, (V4,)


TEXT_CASES = [
    _plain,
    _twice_and_sliced,
    _unused_const,
    _bool_const,
    _bool_matrix,
    _zero_stride,
    _int_and_bf16,
    _lib_array,
    _cond_branch,
    _while_const,
]


@pytest.mark.parametrize("make", TEXT_CASES, ids=[m.__name__[1:] for m in TEXT_CASES])
def test_module_text_and_values_as_jax(make):
    jax, _ = real_jax()
    ef, args = make(engine)
    jf, _ = make(jax)
    e_lowered, j_lowered = engine.jit(ef).lower(*args), jax.jit(jf).lower(*args)
    text = e_lowered.as_text()
    assert text == j_lowered.as_text()
    assert len(_main_args(text)) == len(args)  # no const among @main's arguments
    got, want = e_lowered.compile()(*args), j_lowered.compile()(*args)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    np.testing.assert_array_equal(np.asarray(engine.jit(ef)(*args)), np.asarray(want))


def test_scan_with_closed_over_xs():
    """A scan reading a closed-over xs (as consts and as the scanned operand): @main
    takes the carry only and embeds xs once, as JAX. (The scan body itself lowers
    differently from JAX's, as it does with xs an argument: carry order and JAX's
    private @closed_call; not a const matter.)"""
    jax, jnp = real_jax()

    def make(lib):
        def f(c):
            return lib.lax.scan(lambda c, x: (c + x * XS[0] + XS, c.sum()), c, XS)

        return f

    e_lowered, j_lowered = engine.jit(make(engine)).lower(V4), jax.jit(make(jax)).lower(V4)
    et, jt = e_lowered.as_text(), j_lowered.as_text()
    assert _main_args(et) == _main_args(jt) == ["tensor<4xf32>"]
    assert _main_consts(et)[:1] == _main_consts(jt)[:1]
    assert "dense<[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00]>" in _main_consts(jt)[0]
    for got, want in zip(e_lowered.compile()(V4), j_lowered.compile()(V4)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    for got, want in zip(engine.jit(make(engine))(V4), jax.jit(make(jax))(V4)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)


def test_nested_jit_const():
    """A jit inside the jitted function closing over the same array: @main takes the
    argument only and embeds the const. (JAX keeps the inner jit's const closed in its
    jaxpr, so its private function embeds it too; the engine's traced inner jaxpr takes
    it as an argument, a tracing difference of nested jit, not of lowering.)"""
    jax, _ = real_jax()

    def make(lib):
        inner = lib.jit(lambda y: y * XS)
        return lambda c: inner(c) + XS

    et = engine.jit(make(engine)).lower(V4).as_text()
    jt = jax.jit(make(jax)).lower(V4).as_text()
    assert _main_args(et) == _main_args(jt) == ["tensor<4xf32>"]
    assert _main_consts(et) == _main_consts(jt)
    np.testing.assert_array_equal(
        np.asarray(engine.jit(make(engine))(V4)), np.asarray(jax.jit(make(jax))(V4))
    )


def test_fori_loop_const_in_body():
    jax, _ = real_jax()

    def make(lib):
        return lambda c: lib.lax.fori_loop(0, 3, lambda i, c: c * XS + 1.0, c)

    et = engine.jit(make(engine)).lower(V4).as_text()
    jt = jax.jit(make(jax)).lower(V4).as_text()
    assert _main_args(et) == _main_args(jt) == ["tensor<4xf32>"]
    assert _main_consts(et)[:1] == _main_consts(jt)[:1]
    np.testing.assert_allclose(
        np.asarray(engine.jit(make(engine))(V4)), np.asarray(jax.jit(make(jax))(V4))
    )


@pytest.mark.parametrize("keep_unused", [False, True])
def test_keep_unused_and_input_shardings_do_not_count_consts(keep_unused):
    jax, _ = real_jax()

    def make(lib):
        arr = lib.numpy.arange(3.0)
        return lib.jit(lambda u, c: c * arr + XS[:3], keep_unused=keep_unused)

    args = (np.float32(2.0), np.ones(3, np.float32))
    e_lowered, j_lowered = make(engine).lower(*args), make(jax).lower(*args)
    assert e_lowered.as_text() == j_lowered.as_text()
    ec, jc = e_lowered.compile(), j_lowered.compile()
    assert [s is None for s in ec.input_shardings[0]] == [s is None for s in jc.input_shardings[0]]
    assert (ec.input_shardings[0][0] is None) is (not keep_unused)
    np.testing.assert_array_equal(np.asarray(ec(*args)), np.asarray(jc(*args)))
    np.testing.assert_array_equal(np.asarray(make(engine)(*args)), np.asarray(jc(*args)))


def test_donation_indices_skip_consts():
    """The donated argument keeps its own position in @main (tf.aliasing_output on
    %arg0, as JAX), and is consumed by the call."""
    jax, _ = real_jax()

    def make(lib):
        return lib.jit(lambda u, c: c * XS[:3] + 1.0, donate_argnums=1)

    e_lowered = make(engine).lower(np.float32(2.0), np.ones(3, np.float32))
    j_lowered = make(jax).lower(np.float32(2.0), np.ones(3, np.float32))
    assert e_lowered.as_text() == j_lowered.as_text()
    assert "%arg0: tensor<3xf32> {tf.aliasing_output = 0 : i32}" in e_lowered.as_text()
    x = engine.numpy.ones(3)
    out = make(engine)(np.float32(2.0), x)
    np.testing.assert_array_equal(np.asarray(out), XS[:3] + 1.0)
    assert x.is_deleted()


def test_exported_kept_var_idx_and_text():
    jax, _ = real_jax()
    from jax import export as jexport

    from engine import export

    def make(lib):
        return lib.jit(lambda u, c: c + XS)

    args = (np.float32(2.0), V4)
    got = export.export(make(engine))(*args)
    want = jexport.export(make(jax))(*args)
    assert got.module_kept_var_idx == want.module_kept_var_idx == (1,)
    assert _main_args(got.mlir_module()) == _main_args(want.mlir_module())
    assert _main_consts(got.mlir_module()) == _main_consts(want.mlir_module())
    np.testing.assert_array_equal(np.asarray(got.call(*args)), np.asarray(want.call(*args)))


def test_large_constants_warn_as_jax():
    jax, _ = real_jax()
    big = np.arange(3000, dtype=np.float32)

    def caught(lib, f):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lib.jit(f).lower(ONE)
        return [(type(x.message).__name__, str(x.message)) for x in w]

    old_e = engine.config.jax_captured_constants_warn_bytes
    old_j = jax.config.jax_captured_constants_warn_bytes
    try:
        for lib in (engine, jax):
            lib.config.update("jax_captured_constants_warn_bytes", 10000)
        for f in (lambda c: c + big, lambda c: c + big[:100]):
            assert caught(engine, f) == caught(jax, f)
        assert "(12.00KB total)" in caught(engine, lambda c: c + big)[0][1]
        for lib in (engine, jax):
            lib.config.update("jax_captured_constants_warn_bytes", -1)
        assert caught(engine, lambda c: c + big) == caught(jax, lambda c: c + big) == []
    finally:
        engine.config.update("jax_captured_constants_warn_bytes", old_e)
        jax.config.update("jax_captured_constants_warn_bytes", old_j)


# ---------------------------------------------------------------------------- 8 devices

SHARDED, sharded_case = eight_devices.case_registry()


@sharded_case
def sharded_closed_over_consts():
    """Under a mesh: a closed-over NumPy array and a closed-over sharded Array are
    embedded in the partitioned module (text equal to JAX's, Shardy annotations
    included), with and without in_shardings and an unused argument; input shardings
    and values as JAX's."""

    def run(lib):
        mesh = eight_devices.mesh(lib)
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("X"))
        xs = np.arange(8.0, dtype=np.float32)
        arr = lib.device_put(lib.numpy.arange(8.0) * 2.0, s)
        x = lib.device_put(np.ones(8, np.float32), s)
        out = []
        for f, args, opts in (
            (lambda x: x * xs + arr, (x,), {}),
            (lambda u, x: x + arr, (np.float32(1.0), x), {"in_shardings": (None, s)}),
        ):
            g = lib.jit(f, **opts)
            lowered = g.lower(*args)
            compiled = lowered.compile()
            out.append(
                (
                    lowered.as_text(),
                    [None if sh is None else str(sh.spec) for sh in compiled.input_shardings[0]],
                    np.asarray(compiled(*args)).tolist(),
                    np.asarray(g(*args)).tolist(),
                )
            )
        return out

    got, want = eight_devices.both(run)
    assert got == want, (got, want)


@sharded_case
def sharded_loop_const():
    """A const read inside a fori_loop body under a mesh: @main takes the argument only,
    the const embedded first; values as JAX's. (The loop itself lowers differently from
    JAX's, as without consts.)"""

    def run(lib):
        mesh = eight_devices.mesh(lib)
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("X"))
        xs = np.arange(8.0, dtype=np.float32)
        x = lib.device_put(np.ones(8, np.float32), s)
        with lib.set_mesh(mesh):
            g = lib.jit(lambda x: lib.lax.fori_loop(0, 3, lambda i, c: c + xs, x))
            text = g.lower(x).as_text()
            return _main_args(text), _main_consts(text)[:1], np.asarray(g(x)).tolist()

    got, want = eight_devices.both(run)
    assert got == want, (got, want)


@pytest.mark.parametrize("name", sorted(SHARDED))
def test_sharded_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(SHARDED)
