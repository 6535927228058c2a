"""``x.at[idx].get/set/add/...(out_sharding=)`` and the typed broadcast of ``.at[]``
updates to the sharding of ``x[idx]``, against real JAX 0.10.2 on 8 CPU devices under
a (4, 2) mesh of Explicit axes: result types (``typeof``), values, and errors (class and
key phrases). The cases run in one child process (tests/eight_devices.py)."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()

GATHER = "Use `.at[...].get(out_sharding=)` to provide output PartitionSpec"
SCATTER = "Use `.at[...].set/add/mul/...(out_sharding=)` to provide output PartitionSpec"
BROADCAST = "Incompatible types for broadcasting"
METHODS = ("set", "add", "subtract", "multiply", "divide", "power", "min", "max")


def _arr(shape, dtype=np.float32):
    return ((np.arange(int(np.prod(shape))) % 7) + 1).astype(dtype).reshape(shape)


def _run(lib, fn, inputs, jit=True):
    """fn(lib, *args) (jitted unless told) under the mesh, args put with their specs:
    (result type, error or None, result or None)."""
    with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"))):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        try:
            out = (lib.jit(lambda *a: fn(lib, *a)) if jit else lambda *a: fn(lib, *a))(*args)
        except Exception as e:  # compared by class and message
            return None, (type(e).__name__, str(e)), None
        return str(lib.typeof(out)), None, np.asarray(out)


def _same(fn, *inputs, phrases=(), jit=True):
    """The engine and JAX give the same result type and values, or the same class of
    error whose messages both contain ``phrases``."""
    (e_type, e_err, e_out), (j_type, j_err, j_out) = both(lambda lib: _run(lib, fn, inputs, jit))
    if j_err is None:
        assert e_err is None, (e_err, j_type)
        assert e_type == j_type, (e_type, j_type)
        np.testing.assert_allclose(e_out, j_out, rtol=1e-6)
        assert e_out.dtype == j_out.dtype
        return e_type
    assert e_err is not None, f"JAX raised {j_err}, the engine did not"
    assert e_err[0] == j_err[0], (e_err, j_err)
    assert phrases or j_err[0] == "AssertionError", j_err  # (JAX asserts, no message)
    for p in phrases:
        assert p in j_err[1], (p, j_err[1])
        assert p in e_err[1], (p, e_err[1])
    return j_err[1]


XY = ("X", "Y")
ROWS = np.array([3, 0, 5, 5])


@case
def get_with_out_sharding_resolves_an_ambiguous_gather():
    # without out_sharding JAX cannot tell how to shard the gathered rows
    _same(lambda lib, x: x.at[ROWS].get(), (_arr((8, 4)), XY), phrases=(GATHER,))
    for spec in [(None, "Y"), ("X", None), (None, None), ("X", "Y")]:
        typed = _same(
            lambda lib, x, s=spec: x.at[ROWS].get(out_sharding=lib.P(*s)), (_arr((8, 4)), XY)
        )
        assert "@" in typed or spec == (None, None), typed
    # a NamedSharding over the mesh in context, jitted and eager
    for jit in (True, False):
        _same(
            lambda lib, x: x.at[:, np.array([1, 3, 0, 2])].get(
                out_sharding=lib.NamedSharding(lib.make_mesh((4, 2), ("X", "Y")), lib.P("X"))
            ),
            (_arr((8, 4)), XY),
            jit=jit,
        )
    # traced index arrays and mode/fill_value go through the Auto-axes gather too
    _same(
        lambda lib, x, i: x.at[i].get(mode="fill", fill_value=-1.0, out_sharding=lib.P("X")),
        (_arr((8, 4)), XY),
        (np.array([9, 1, -2, 7], np.int32), ("Y",)),
    )


@case
def get_out_sharding_on_slices():
    # out_sharding names the sharding of a gather only: JAX's static slices ignore it
    _same(lambda lib, x: x.at[:, 1:3].get(out_sharding=lib.P(None, None)), (_arr((8, 4)), XY))
    _same(lambda lib, x: x.at[::2].get(out_sharding=lib.P(None, "Y")), (_arr((8, 4)), XY))
    # eager: a partial slice of an array laid out over several devices is a gather
    _same(
        lambda lib, x: x.at[1:3].get(out_sharding=lib.P(None, "Y")), (_arr((8, 4)), XY), jit=False
    )
    _same(lambda lib, x: x[2], (_arr((8, 4)), (None, "Y")), jit=False)
    _same(lambda lib, x: x[1:3, ::-1], (_arr((8, 4)), (None, None)), jit=False)
    _same(lambda lib, x: x[:, :], (_arr((8, 4)), XY), jit=False)


@case
def updates_with_out_sharding_resolve_an_ambiguous_scatter():
    x = (_arr((8, 4)), XY)
    _same(lambda lib, x: x.at[ROWS].set(0.0), x, phrases=(SCATTER,))
    for name in METHODS:
        for spec in [("X", None), (None, "Y"), XY]:

            def update(lib, x, name=name, spec=spec):
                return getattr(x.at[ROWS], name)(2.0, out_sharding=lib.P(*spec))

            _same(update, x)
    # typed updates: laid out as the slice, or replicated
    _same(
        lambda lib, x, u: x.at[ROWS].add(u, out_sharding=lib.P("X", "Y")),
        x,
        (_arr((4, 4)), (None, "Y")),
    )
    _same(
        lambda lib, x, u, i: x.at[i].max(u, mode="drop", out_sharding=lib.P(None, "Y")),
        x,
        (_arr((4,)), ("Y",)),
        (np.array([1, 9, 2, 2], np.int32), ("X",)),
    )
    _same(lambda lib, x: x.at[ROWS].mul(3, out_sharding=lib.P("X")), (_arr((8, 4), np.int32), XY))


@case
def updates_broadcast_to_the_slice_sharding():
    cols = np.array([3, 0])

    def add_cols(lib, x, u):
        return x.at[:, cols].add(u)

    _same(add_cols, (_arr((8, 4)), ("X", None)), (_arr((8, 2)), ("X", None)))
    _same(add_cols, (_arr((8, 4)), ("X", None)), (_arr((2,)), (None,)))
    _same(add_cols, (_arr((8, 4)), ("X", None)), (_arr((8, 1)), ("X", None)))
    # a sharded axis of the updates that is not the slice's: JAX's broadcast refuses
    message = _same(
        add_cols, (_arr((8, 4)), ("X", None)), (_arr((8, 2)), (None, "Y")), phrases=(BROADCAST,)
    )
    both_messages = both(
        lambda lib: _run(lib, add_cols, [(_arr((8, 4)), ("X", None)), (_arr((8, 2)), (None, "Y"))])
    )
    assert both_messages[0][1] == both_messages[1][1], both_messages
    assert "input type=float32[8,2@Y] and requested type=float32[8@X,2]" in message
    _same(
        lambda lib, x, u: x.at[1:3].set(u),
        (_arr((8, 4)), ("X", None)),
        (_arr((2, 4)), (None, "Y")),
        phrases=(BROADCAST, "input type=float32[2,4@Y] and requested type=float32[2@X,4]"),
    )
    _same(
        lambda lib, x, u: x.at[:, 1:3].set(u),
        (_arr((8, 4)), (None, "Y")),
        (_arr((8, 2)), ("X", None)),
        phrases=(BROADCAST, "input type=float32[8@X,2]"),
    )


@case
def grads_through_out_sharding():
    def grad_of(fn):
        return lambda lib, x: lib.grad(lambda x: (fn(lib, x) ** 2).sum())(x)

    _same(
        grad_of(lambda lib, x: x.at[ROWS].add(1.0, out_sharding=lib.P("X", "Y"))),
        (_arr((8, 4)), XY),
    )
    _same(
        grad_of(lambda lib, x: x.at[ROWS].multiply(3.0, out_sharding=lib.P(None, "Y"))),
        (_arr((8, 4)), XY),
    )
    # the cotangent of auto_axes' closing reshard goes back untyped into the Auto region
    typed = _same(
        grad_of(lambda lib, x: x.at[ROWS].get(out_sharding=lib.P(None, "Y"))), (_arr((8, 4)), XY)
    )
    assert typed == "float32[8@X,4@Y]", typed
    _same(
        grad_of(lambda lib, x: x.at[:, np.array([1, 3, 0, 2])].get(out_sharding=lib.P("X"))),
        (_arr((8, 4)), XY),
    )
    _same(
        grad_of(lambda lib, x: x.at[ROWS].get(out_sharding=lib.P(None, "Y"))),
        (_arr((8, 4)), XY),
        jit=False,
    )


@case
def bad_out_sharding_arguments():
    x = (_arr((8, 4)), XY)
    _same(lambda lib, x: x.at[ROWS].get(out_sharding="X"), x, phrases=())
    _same(lambda lib, x: x.at[ROWS].set(1.0, out_sharding=("X",)), x, phrases=())
    _same(
        lambda lib, x: x.at[ROWS].get(out_sharding=lib.P("Z")),
        x,
        phrases=("Resource axis: Z of P('Z',) is not found in mesh",),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_at_sharding(name):
    assert eight_devices.outcome(__file__, name) == "ok"


if __name__ == "__main__":
    eight_devices.main(CASES)
