"""Values built from no sharded operand under an Explicit mesh set with ``set_mesh``:
JAX 0.10.2 types them over the ambient mesh (replicated, or as ``out_sharding`` says),
so its sharding rules see them and their lowering carries a sharding constraint. The
engine does so for iota (``lax.iota``, ``broadcasted_iota``, ``jnp.arange``); the
``typeof``, the errors against sharded operands and the lowered ``sdy`` constraints are
compared with real JAX on 8 CPU devices (one child process, tests/eight_devices.py).
Outside an Explicit mesh such values stay untyped, as before."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import both, constraint_lines

CASES, case = eight_devices.case_registry()

X = ("X", None)


def _x(dtype=np.float32):
    return (np.arange(32) % 7 - 3).astype(dtype).reshape(8, 4)


def _layout(v) -> tuple | None:
    """A type's layout: its spec and its mesh's axis names and types, or None."""
    s = getattr(v, "sharding", None)
    if s is None or s.mesh.empty:
        return None
    types = tuple(t.name for t in s.mesh.axis_types)
    return tuple(s.spec), tuple(s.mesh.axis_names), types


def _run(lib, fn, inputs, axis_types="Explicit"):
    """fn(lib, note, *args) jitted under a (4, 2) mesh ('X', 'Y'): (noted types and
    layouts, error class and message or None, result or None)."""
    seen: list = []

    def note(v):
        t = lib.typeof(v)
        seen.append((str(t), _layout(t)))
        return v

    with lib.set_mesh(eight_devices.mesh(lib, axis_types)):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        out, error = eight_devices.attempt(lambda: lib.jit(lambda *a: fn(lib, note, *a))(*args))
        return seen, error, None if error else np.asarray(out)


def _same(fn, *inputs, phrases=(), axis_types="Explicit"):
    (e_seen, e_err, e_out), (j_seen, j_err, j_out) = both(
        lambda lib: _run(lib, fn, inputs, axis_types)
    )
    assert e_seen == j_seen, (e_seen, j_seen, e_err, j_err)
    if j_err is None:
        assert e_err is None, e_err
        np.testing.assert_array_equal(e_out, j_out)
        assert e_out.dtype == j_out.dtype
        return
    eight_devices.assert_same_error(e_err, j_err, phrases)


IOTAS = {
    "iota": lambda lib, n: n(lib.lax.iota(np.int32, 8)),
    "broadcasted_iota": lambda lib, n: n(lib.lax.broadcasted_iota(np.float32, (8, 4), 1)),
    "arange_int": lambda lib, n: n(lib.numpy.arange(8)),
    "arange_float": lambda lib, n: n(lib.numpy.arange(0.0, 4.0, 0.5)),
    "arange_start": lambda lib, n: n(lib.numpy.arange(2, 10)),
}


@case
def iota_is_typed_replicated_on_the_explicit_mesh():
    for fn in IOTAS.values():
        _same(fn)


@case
def iota_takes_its_out_sharding():
    def given(lib, n):
        return n(lib.lax.broadcasted_iota(np.int32, (8, 4), 0, out_sharding=lib.P("X", "Y")))

    _same(given)

    def then_added(lib, n, x):
        iota = lib.lax.broadcasted_iota(np.float32, (8, 4), 1, out_sharding=lib.P("X", None))
        return n(n(iota) + x)

    _same(then_added, (_x(), X))


@case
def iota_broadcasts_with_sharded_operands():
    def add(lib, n, x):
        return n(x + n(lib.numpy.arange(4.0)))

    _same(add, (_x(), X))

    def compare(lib, n, x):
        return n(lib.numpy.where(x > n(lib.lax.broadcasted_iota(np.float32, (8, 4), 0)), 1, 0))

    _same(compare, (_x(), X))


@case
def iota_against_sharded_operands_raises_as_jax():
    def concat(lib, n, x):
        iota = lib.lax.broadcasted_iota(np.int32, (8, 4), 0)
        return n(lib.numpy.concatenate([x, iota], axis=1))

    _same(concat, (_x(np.int32), X), phrases=("All operands should have the same sharding",))

    def sort(lib, n, x):
        return n(lib.lax.sort((x, lib.lax.broadcasted_iota(np.int32, (8, 4), 1)), num_keys=1)[1])

    _same(sort, (_x(np.int32), X), phrases=("Arguments to sort must have equal shardings",))

    def dynamic_update(lib, n, x):
        return n(
            lib.lax.dynamic_update_slice(x, lib.lax.broadcasted_iota(np.int32, (2, 4), 0), (0, 0))
        )

    _same(
        dynamic_update,
        (_x(np.int32), X),
        phrases=("dynamic_update_slice operand sharding must be equal to update sharding",),
    )


@case
def internal_iotas_follow_the_operand_layout():
    """argsort and the LU permutation build their iotas with their operand's layout, as
    JAX does; under vmap, sort broadcasts an unbatched iota to the batched layout."""
    x3 = (np.arange(128) % 7 - 3).astype(np.float32).reshape(8, 4, 4) / 4
    programs = [
        lambda lib, n, x: n(lib.numpy.argsort(x, axis=-1)),
        lambda lib, n, x: n(lib.lax.linalg.lu(x)[2]),
        lambda lib, n, x: n(lib.vmap(lambda r: lib.lax.sort((r, -r), num_keys=1)[1])(x)),
        lambda lib, n, x: n(
            lib.vmap(lambda r: lib.lax.sort_key_val(r[0], lib.lax.iota(np.int32, 4))[1])(x)
        ),
    ]
    for fn in programs:
        _same(fn, (x3, ("X", None, None)))

    def lexsort(lib, n, x):  # JAX's lexsort builds its iota replicated: sort refuses it
        return n(lib.numpy.lexsort((x, -x), axis=-1))

    _same(lexsort, (x3, ("X", None, None)), phrases=("Arguments to sort must have equal",))


@case
def untyped_outside_an_explicit_mesh():
    """Under an Auto mesh the iota's type names no layout; traced again under an
    Explicit mesh (same shapes, so the engine's shape-rule memo is met) it does."""
    for fn in IOTAS.values():
        _same(fn, axis_types="Auto")
        _same(fn)

    def outside(lib):
        f = lib.jit(lambda: lib.lax.iota(np.int32, 8))
        return str(lib.typeof(f())), _layout(lib.typeof(f()))

    e, j = both(outside)
    assert e == j == ("int32[8]", None), (e, j)


def _lowered(lib):
    jnp, lax, P = lib.numpy, lib.lax, lib.P
    programs = {
        "iota": lambda x: lax.iota(np.int32, 8),
        "arange_plus": lambda x: x + jnp.arange(4.0),
        "iota_out_sharding": lambda x: (
            x + lax.broadcasted_iota(np.float32, (8, 4), 0, out_sharding=P("X", None))
        ),
        "iota_2d": lambda x: x * lax.broadcasted_iota(np.float32, (8, 4), 1),
    }
    out = {}
    with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"))):
        x = lib.device_put(_x(), P("X", None))
        for name, fn in programs.items():
            out[name] = constraint_lines(lib.jit(fn).lower(x).as_text())
    return out


@case
def iota_lowers_with_jaxs_constraints():
    e, j = both(_lowered)
    for name in j:
        assert any("sdy.sharding_constraint" in ln for ln in j[name]), name
        assert e[name] == j[name], (name, e[name], j[name])


@case
def ones_zeros_full_are_typed_replicated():
    fns = [
        lambda lib, n: n(lib.numpy.ones((8, 4))),
        lambda lib, n: n(lib.numpy.zeros((8, 4), np.int32)),
        lambda lib, n: n(lib.numpy.full((8, 4), 3.0)),
    ]
    for fn in fns:
        _same(fn)


@case
def ones_against_sharded_operands_raises_as_jax():
    """JAX refuses to concatenate jnp.ones (replicated) with a sharded value."""

    def concat(lib, n, x):
        return n(lib.numpy.concatenate([x, lib.numpy.ones((8, 4))], axis=1))

    _same(concat, (_x(), X), phrases=("All operands should have the same sharding",))


_GAPS: set[str] = set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_ambient_case(name):
    if name in _GAPS:
        result = eight_devices.outcome(__file__, name)
        assert result != "ok", f"{name} now passes: drop it from _GAPS"
        pytest.xfail(CASES[name].__doc__.split("\n")[0])
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
