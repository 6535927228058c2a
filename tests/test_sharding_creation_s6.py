"""Array creation and jnp's broadcasts under an Explicit mesh set with ``set_mesh``, as
JAX 0.10.2 types them: ``jnp.zeros/ones/full/empty`` (replicated, or their
``out_sharding``), the ``*_like`` functions (the traced operand's sharding),
``lax.broadcast_in_dim``/``broadcast``/``jnp.broadcast_to`` with ``out_sharding``, the
merged sharding jnp gives the scalars it broadcasts (``where``, ``broadcast_arrays``,
``.at[]`` updates), ``tile`` and ``repeat``, ``nonzero``'s cumsum check, eager results
placed over the mesh, and the ``sdy.sharding_constraint``s of their lowering. Each is
compared with real JAX on 8 CPU devices (one child process, tests/eight_devices.py)."""

from __future__ import annotations

import re

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()

X = ("X", None)


def _x(shape=(8, 4), dtype=np.float32):
    n = int(np.prod(shape))
    return (np.arange(n) % 7 - 3).astype(dtype).reshape(shape)


def _mesh(lib):
    kind = lib.sharding.AxisType.Explicit
    return lib.make_mesh((2, 4), ("X", "Y"), axis_types=(kind, kind))


def _layout(t) -> tuple | None:
    s = getattr(t, "sharding", None)
    if s is None or s.mesh.empty:
        return None
    return tuple(s.spec), tuple(s.mesh.axis_names)


def _run(lib, fn, inputs):
    """fn(lib, note, *args) jitted under the (2, 4) Explicit mesh: (noted types and
    layouts, error class and message or None, result or None)."""
    seen: list = []

    def note(v):
        t = lib.typeof(v)
        seen.append((str(t), _layout(t)))
        return v

    with lib.set_mesh(_mesh(lib)):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        try:
            out = lib.jit(lambda *a: fn(lib, note, *a))(*args)
        except Exception as e:
            return seen, (type(e).__name__, str(e)), None
        return seen, None, np.asarray(out)


def _same(fn, *inputs, phrases=()):
    (e_seen, e_err, e_out), (j_seen, j_err, j_out) = both(lambda lib: _run(lib, fn, inputs))
    assert e_seen == j_seen, (e_seen, j_seen, e_err, j_err)
    if j_err is None:
        assert e_err is None, e_err
        np.testing.assert_array_equal(e_out, j_out)
        assert e_out.dtype == j_out.dtype
        return
    eight_devices.assert_same_error(e_err, j_err, phrases)


@case
def creation_takes_out_sharding():
    programs = [
        lambda lib, n: n(lib.numpy.zeros((8, 4), out_sharding=lib.P("X", "Y"))),
        lambda lib, n: n(lib.numpy.ones((8, 4), np.int32, out_sharding=lib.P(None, "Y"))),
        lambda lib, n: n(lib.numpy.full((8, 4), 2.0, out_sharding=lib.P("X"))),
        lambda lib, n: n(lib.numpy.empty((8,), out_sharding=lib.P("Y"))),
        lambda lib, n: n(
            lib.numpy.full((8, 4), np.arange(4, dtype=np.float32), out_sharding=lib.P("X"))
        ),
        lambda lib, n: n(lib.lax.broadcast_in_dim(1.0, (8, 4), (), out_sharding=lib.P("X", "Y"))),
        lambda lib, n: n(lib.numpy.ones((8, 4))),
    ]
    for fn in programs:
        _same(fn)


@case
def like_functions_take_the_operands_sharding():
    v = _x((8,))
    programs = [
        lambda lib, n, x: n(lib.numpy.zeros_like(x)),
        lambda lib, n, x: n(lib.numpy.ones_like(x, dtype=np.int32)),
        lambda lib, n, x: n(lib.numpy.full_like(x, 3)),
        lambda lib, n, x: n(lib.numpy.empty_like(x)),
        lambda lib, n, x: n(lib.numpy.zeros_like(x, shape=(2, 3))),
        lambda lib, n, x: n(lib.numpy.full_like(x, 1.5, out_sharding=lib.P(None, "Y"))),
        lambda lib, n, x: n(lib.numpy.full_like(x, np.arange(4.0, dtype=np.float32))),
        lambda lib, n, x: n(lib.lax.full_like(x, 2.0)),
    ]
    for fn in programs:
        _same(fn, (_x(), X))
    _same(lambda lib, n, v: n(lib.numpy.ones_like(v)), (v, ("X",)))


@case
def broadcast_in_dim_takes_out_sharding():
    v = _x((8,))
    programs = [
        lambda lib, n, v: n(
            lib.lax.broadcast_in_dim(v, (8, 4), (0,), out_sharding=lib.P("X", "Y"))
        ),
        lambda lib, n, v: n(
            lib.lax.broadcast_in_dim(v, (8, 4), (0,), out_sharding=lib.P(None, "Y"))
        ),
        lambda lib, n, v: n(lib.lax.broadcast(v, (2,), out_sharding=lib.P(None, "X"))),
        lambda lib, n, v: n(lib.lax.broadcast_in_dim(v, (8,), (0,), out_sharding=lib.P("Y"))),
        lambda lib, n, v: n(
            lib.numpy.broadcast_to(v[:, None], (8, 4), out_sharding=lib.P("X", "Y"))
        ),
        lambda lib, n, v: n(lib.numpy.broadcast_to(v, (3, 8))),
        lambda lib, n, v: n(
            lib.vmap(lambda r: lib.lax.broadcast_in_dim(r, (4,), (), out_sharding=lib.P("Y")))(v)
        ),
        lambda lib, n, v: n(
            lib.vmap(lambda r: lib.lax.reshape(r[None], (1,), out_sharding=lib.P(None)))(v)
        ),
        lambda lib, n, v: n(
            lib.grad(
                lambda v: lib.lax.broadcast_in_dim(
                    v, (8, 4), (0,), out_sharding=lib.P("X", "Y")
                ).sum()
            )(v)
        ),
    ]
    for fn in programs:
        _same(fn, (v, ("X",)))


@case
def broadcast_errors_as_jax():
    v = _x((8,))
    _same(
        lambda lib, n, v: n(
            lib.numpy.broadcast_to(v[:, None], (8, 4), out_sharding=lib.P("Y", None))
        ),
        (v, ("X",)),
        phrases=("Incompatible types for broadcasting: input type=float32[8@X,1] and requested",),
    )
    _same(
        lambda lib, n: n(lib.numpy.zeros((3, 4), out_sharding=lib.P("X"))),
        phrases=("implies that array axis 0 is partitioned 2 times, but does not evenly divide",),
    )
    _same(
        lambda lib, n: n(lib.numpy.broadcast_to(np.ones(3, np.float32), (4,))),
        phrases=("Incompatible types for broadcasting: input type=float32[3] and requested type",),
    )

    def both_given(lib):
        with lib.set_mesh(_mesh(lib)):
            try:
                lib.numpy.zeros(
                    4, device=lib.NamedSharding(_mesh(lib), lib.P()), out_sharding=lib.P()
                )
            except ValueError as e:
                return str(e).split(" Got ")[0]

    e, j = both(both_given)
    assert e == j == "Only one of `device` or `out_sharding` can be set.", (e, j)


@case
def jnp_broadcasts_take_the_merged_sharding():
    programs = [
        lambda lib, n, x: n(lib.numpy.where(x > 1, x, 0.0)),
        lambda lib, n, x: n(lib.numpy.where(x > 1, 1.0, 0.0)),
        lambda lib, n, x: n(lib.numpy.where(x > 1, x, x[:, :1])),
        lambda lib, n, x: n(lib.numpy.broadcast_arrays(x, 1.0)[1]),
        lambda lib, n, x: n(lib.numpy.broadcast_arrays(x[:, :1], lib.numpy.ones(4))[1]),
        lambda lib, n, x: n(x.at[:, 0].add(1.0)),
        lambda lib, n, x: n(x.at[:, 1].set(2.0)),
        lambda lib, n, x: n(lib.numpy.clip(x, 0.0, 2.0)),
        lambda lib, n, x: n(n(lib.numpy.ones(4)) + x),
        lambda lib, n, x: n(lib.grad(lambda x: lib.numpy.where(x > 0, x, 0.0).sum())(x)),
        lambda lib, n, x: n(lib.vmap(lambda r: r + lib.numpy.ones(4))(x)),
        lambda lib, n, x: n(lib.grad(lambda x: (lib.numpy.stack([x, 2 * x]) ** 2).sum())(x)),
        lambda lib, n, x: n(
            lib.grad(lambda x: (lib.lax.split(x, (1, 3), axis=1)[1] ** 2).sum())(x)
        ),
        lambda lib, n, x: n(lib.numpy.where(x > 0, x, lib.numpy.zeros_like(x))),
    ]
    for fn in programs:
        _same(fn, (_x(), X))


@case
def replicated_creations_against_sharded_operands_raise_as_jax():
    phrase = "All operands should have the same sharding"
    programs = [
        lambda lib, n, x: n(lib.numpy.concatenate([x, lib.numpy.zeros((8, 4))], axis=1)),
        lambda lib, n, x: n(lib.numpy.stack([x, lib.numpy.full((8, 4), 2.0)])),
        lambda lib, n, x: n(lib.numpy.concatenate([x, lib.numpy.zeros_like(x)], axis=1)),
    ]
    for fn in programs[:2]:
        _same(fn, (_x(), X), phrases=(phrase,))
    _same(programs[2], (_x(), X))


@case
def tile_repeat_and_nonzero_as_jax():
    ok = [
        lambda lib, n, x: n(lib.numpy.tile(x, (1, 2))),
        lambda lib, n, x: n(lib.numpy.tile(x, (2, 1, 2))),
        lambda lib, n, x: n(lib.grad(lambda x: (lib.numpy.tile(x, (1, 3)) ** 2).sum())(x)),
        lambda lib, n, x: n(lib.numpy.repeat(x, 2, axis=1)),
        lambda lib, n, x: n(lib.numpy.repeat(x, 2, axis=0, out_sharding=lib.P(None, "Y"))),
        lambda lib, n, x: n(lib.numpy.repeat(x, 3, axis=1, out_sharding=lib.P("X", "Y"))),
        lambda lib, n, x: n(lib.numpy.repeat(x, np.array([1, 2, 0, 3]), axis=1)),
        lambda lib, n, x: n(
            lib.numpy.repeat(x, np.array([2, 2, 2, 2]), axis=1, total_repeat_length=5)
        ),
    ]
    for fn in ok:
        _same(fn, (_x(), X))
    _same(  # traced counts: passed into auto_axes beside the operand, as JAX's
        lambda lib, n, x, r: n(lib.numpy.repeat(x, r, axis=1, total_repeat_length=6)),
        (_x(), X),
        (np.array([1, 2, 0, 3], np.int32), (None,)),
    )
    _same(
        lambda lib, n, x: n(lib.numpy.repeat(x, 2, axis=0)),
        (_x(), X),
        phrases=("Please pass sharding to `jnp.repeat` via `out_sharding` parameter.",),
    )
    _same(
        lambda lib, n, x: n(lib.numpy.repeat(x, 2)),
        (_x(), X),
        phrases=("Please pass sharding to `jnp.repeat` via `out_sharding` parameter.",),
    )
    _same(lambda lib, n, x: n(lib.numpy.nonzero(x, size=40)[1]), (_x(), (None, None)))
    _same(lambda lib, n, x: n(lib.numpy.argwhere(x, size=6)), (_x(), (None, None)))
    for spec in (("X",), ("X", None)):
        shape = (8,) if len(spec) == 1 else (8, 4)
        _same(
            lambda lib, n, x: n(lib.numpy.nonzero(x, size=4)[0]),
            (_x(shape), spec),
            phrases=(
                "The input should be fully replicated when axis is not specified to cumsum",
                f"Got input type=bool[{'8@X' if len(spec) == 1 else '8@X,4'}]",
            ),
        )
    _same(
        lambda lib, n, x: n(lib.numpy.cumsum(x)),
        (_x(), X),
        phrases=("Got input type=float32[8@X,4]",),
    )


@case
def repeat_values_as_jax():
    """JAX's algorithm off the mesh too: array counts, total_repeat_length padding with
    the last element or cutting, traced counts, a scalar ``a``, lists refused."""
    a = _x((3, 4))

    def run(lib):
        jnp = lib.numpy
        out = [
            jnp.repeat(a, np.array([1, 2, 0, 3]), axis=1),
            jnp.repeat(a, np.array([1, 1, 1]), axis=0, total_repeat_length=5),
            jnp.repeat(a, np.array([2, 2, 2, 2]), axis=1, total_repeat_length=5),
            jnp.repeat(a, 2, axis=1, total_repeat_length=6),
            jnp.repeat(np.float32(3), 4),
            jnp.repeat(a, np.array([0, 0, 0]), axis=0),
            lib.jit(lambda r: jnp.repeat(a, r, axis=0, total_repeat_length=4))(
                np.array([1, 2, 1], np.int32)
            ),
        ]
        try:
            jnp.repeat(a, [1, 2, 1], axis=0)
        except TypeError as e:
            out.append(str(e))
        return [(np.asarray(o).tolist(), str(np.asarray(o).dtype)) for o in out[:-1]] + out[-1:]

    e, j = both(run)
    assert e == j, (e, j)


def _jaxpr_texts(lib):
    jnp, lax, P = lib.numpy, lib.lax, lib.P
    programs = {
        "zeros_like": lambda x: jnp.zeros_like(x),
        "ones_out_sharding": lambda x: jnp.ones((8, 4), out_sharding=P(None, "Y")) + x,
        "broadcast_out_sharding": lambda x: lax.broadcast_in_dim(
            x[:, 0], (8, 4), (0,), out_sharding=P("X", "Y")
        ),
        "tile": lambda x: jnp.tile(x, (1, 2)),
        "repeat": lambda x: jnp.repeat(x, 2, axis=1),
        "repeat_out_sharding": lambda x: jnp.repeat(x, 2, axis=1, out_sharding=P("X", "Y")),
        "grad_tile": lib.grad(lambda x: (jnp.tile(x, (1, 2)) ** 2).sum()),
    }
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(_x(), P("X", None))
        return {k: str(lib.make_jaxpr(f)(x)) for k, f in programs.items()}


@case
def jaxprs_as_jax():
    e, j = both(_jaxpr_texts)
    for name in j:
        assert e[name] == j[name], (name, e[name], j[name])


def _constraint_lines(text):
    out = []
    for line in text.splitlines():
        if "sdy.sharding_constraint" in line or "func.func public @main" in line:
            line = re.sub(r" loc\(.*\)", "", line)
            out.append(re.sub(r"%[\w#]+", "%", line).strip())
    return out


def _lowered(lib):
    jnp, lax, P = lib.numpy, lib.lax, lib.P
    programs = {
        "where_scalar": lambda x: jnp.where(x > 1, x, 0.0),
        "ones_plus": lambda x: x + jnp.ones((8, 4)),
        "zeros_like": lambda x: jnp.zeros_like(x),
        "broadcast_out_sharding": lambda x: lax.broadcast_in_dim(
            1.0, (8, 4), (), out_sharding=P("X", "Y")
        ),
        "broadcast_to": lambda x: jnp.broadcast_to(2.0, (8, 4)),
        "tile": lambda x: jnp.tile(x, (1, 2)),
    }
    out = {}
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(_x(), P("X", None))
        for name, fn in programs.items():
            out[name] = _constraint_lines(lib.jit(fn).lower(x).as_text())
    return out


@case
def lowers_with_jaxs_constraints():
    e, j = both(_lowered)
    for name in j:
        assert any("sdy.sharding_constraint" in ln for ln in j[name]), name
        assert e[name] == j[name], (name, e[name], j[name])


def _eager(lib):
    jnp, lax, P = lib.numpy, lib.lax, lib.P
    programs = {
        "ones": lambda x: jnp.ones((8, 4)),
        "zeros_out_sharding": lambda x: jnp.zeros((8, 4), out_sharding=P("X", "Y")),
        "full_vector": lambda x: jnp.full(
            (8, 4), np.arange(4.0, dtype=np.float32), out_sharding=P("X")
        ),
        "zeros_like": lambda x: jnp.zeros_like(x),
        "full_like_shape": lambda x: jnp.full_like(x, 2.0, shape=(2, 3)),
        "lax_full_sharding": lambda x: lax.full(
            (8, 4), 2.0, sharding=lib.NamedSharding(_mesh(lib), P("X"))
        ),
        "broadcast_out_sharding": lambda x: lax.broadcast_in_dim(
            1.0, (8, 4), (), out_sharding=P("X", "Y")
        ),
        "iota": lambda x: lax.broadcasted_iota(np.int32, (8, 4), 0, out_sharding=P("X", "Y")),
        "where": lambda x: jnp.where(x > 1, x, 0.0),
        "tile": lambda x: jnp.tile(x, (1, 2)),
    }
    out = {}
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(_x(), P("X", None))
        for name, fn in programs.items():
            y = fn(x)
            s = y.sharding
            out[name] = (
                str(lib.typeof(y)),
                type(s).__name__,
                str(getattr(s, "spec", None)),
                len(s.device_set),
                np.asarray(y).tolist(),
            )
    return out


@case
def eager_results_are_placed_as_typed():
    e, j = both(_eager)
    for name in j:
        assert e[name] == j[name], (name, e[name], j[name])


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_creation_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
