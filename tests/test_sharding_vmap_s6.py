"""vmap over an axis sharded over an Explicit mesh axis (``set_mesh`` of a (2, 4) mesh
('X', 'Y'), both Explicit): JAX 0.10.2 keeps the mapped axis's sharding in the types of
what vmap makes (``core.unmapped_aval`` with ``AxisData.explicit_mesh_axis``), so the
bodies of scan, fori_loop, while_loop, cond and of nested jits (jnp's jit wrappers) are
typed ``@X`` and unbatched values broadcast to the batch come out ``@X``. Compared with
real JAX on 8 CPU devices (one child process, tests/eight_devices.py): each result's
``typeof``, values, eager and jitted, and the ``make_jaxpr`` text, and JAX's errors for
inconsistently sharded vmap arguments; reshard inside vmap, and ``spmd_axis_name``
with sharding constraints under an Auto mesh. On one device: the batching rules'
jaxprs (NumPy integer parameters, a batched while predicate, elementwise broadcasting,
nested jits keeping their output batch axes) against JAX's.

The engine's nested ``jit`` equations do not print JAX's ``ctx_mesh=`` parameter (a jit
printing gap, not vmap's): those lines are left out of the compared text. JAX raises
("Resource axis: X ... not found in mesh: ()") when a Python scalar is the initial carry
of a vmapped scan/while over a sharded axis (its type has no mesh); the engine, whose
untyped values are replicated over the ambient mesh, broadcasts it, so the cases pass
typed initial values."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()

X = ("X", None)


def _x(shape=(8, 4), dtype=np.float32):
    n = int(np.prod(shape))
    return ((np.arange(n) % 7) - 3).astype(dtype).reshape(shape)


def _text(jaxpr) -> str:
    return "\n".join(ln for ln in str(jaxpr).splitlines() if "ctx_mesh=" not in ln)


def _run(lib, fn, inputs, mode):
    """fn(lib, *args) under the (2, 4) Explicit mesh: ('types', types) and values, or
    ('jaxpr', text), or ('error', class, message)."""
    kind = lib.sharding.AxisType.Explicit
    mesh = lib.make_mesh((2, 4), ("X", "Y"), axis_types=(kind, kind))
    with lib.set_mesh(mesh):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        f = (lambda *a: fn(lib, *a)) if mode != "jit" else lib.jit(lambda *a: fn(lib, *a))
        try:
            if mode == "jaxpr":
                return "jaxpr", _text(lib.make_jaxpr(f)(*args))
            out = f(*args)
        except Exception as e:
            return "error", type(e).__name__, str(e)
        leaves = lib.tree_util.tree_leaves(out)
        types = [str(lib.typeof(v)) for v in leaves]
        return "types", types, [np.asarray(v).tolist() for v in leaves]


def _same(fn, *inputs, jaxpr=True, phrases=()):
    """The engine's outcome of fn eagerly, jitted and (unless jaxpr=False) its jaxpr
    text equal JAX's; where JAX raises, the same class and ``phrases`` in both."""
    for mode in ("eager", "jit") + (("jaxpr",) if jaxpr else ()):
        e, j = both(lambda lib: _run(lib, fn, inputs, mode))
        if j[0] == "error":
            assert e[0] == "error", (mode, e, j)
            assert e[1] == j[1], (mode, e, j)
            assert phrases, j
            for p in phrases:
                assert p in j[2], (p, j[2])
                assert p in e[2], (p, e[2])
            continue
        assert e == j, (mode, e, j)


@case
def scan_keeps_the_mapped_sharding():
    def batched_carry(lib, x):
        return lib.vmap(lambda r: lib.lax.scan(lambda c, v: (c + v, c * v), r[0], r))(x)

    _same(batched_carry, (_x(), X))

    def unbatched_carry(lib, x, init):  # the initial carry is broadcast to the batch, @X
        return lib.vmap(lambda r: lib.lax.scan(lambda c, v: (c + v, c * v), init, r))(x)

    _same(unbatched_carry, (_x(), X), (np.float32(1), ()))

    def batched_const(lib, x, w):
        return lib.vmap(lambda r: lib.lax.scan(lambda c, v: (c + r.sum(), v * c), w[0], w))(x)

    _same(batched_const, (_x(), X), (_x((4,)), (None,)))


@case
def fori_and_while_keep_the_mapped_sharding():
    def fori(lib, x):
        return lib.vmap(lambda r: lib.lax.fori_loop(0, 3, lambda i, c: c * 2.0 + 1, r))(x)

    _same(fori, (_x(), X))

    def fori_traced_bound(lib, x, n):
        return lib.vmap(lambda r: lib.lax.fori_loop(0, n, lambda i, c: c * 2.0 + i, r))(x)

    _same(fori_traced_bound, (_x(), X), (np.int32(3), ()))

    def while_counter(lib, x):  # the unbatched counter comes out broadcast, int32[8@X]
        return lib.vmap(
            lambda r: lib.lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2), (0, r))
        )(x)

    _same(while_counter, (_x(), X))


@case
def while_with_a_batched_predicate():
    """The predicate stays batched in the jaxpr (bool[8@X]); every carry is batched."""

    def fn(lib, x):
        return lib.vmap(
            lambda r: lib.lax.while_loop(lambda c: c.sum() < 100, lambda c: c * 2 + 1, r)
        )(x)

    _same(fn, (_x() + 4, X))

    def with_counter(lib, x, n):  # (JAX refuses a Python scalar here: its type has no mesh)
        return lib.vmap(
            lambda r: lib.lax.while_loop(
                lambda c: c[1].sum() < 100, lambda c: (c[0] + 1, c[1] * 2 + 1), (n, r)
            )
        )(x)

    _same(with_counter, (_x() + 4, X), (np.int32(0), ()))


@case
def cond_and_switch_keep_the_mapped_sharding():
    def unbatched_index(lib, x):
        return lib.vmap(lambda r: lib.lax.cond(True, lambda a: a * 2, lambda a: a - 1, r))(x)

    _same(unbatched_index, (_x(), X))

    def batched_index(lib, x):
        return lib.vmap(lambda r: lib.lax.cond(r.sum() > 0, lambda a: a * 2, lambda a: a - 1, r))(x)

    _same(batched_index, (_x(), X))

    def batched_index_unbatched_operand(lib, x, w):
        return lib.vmap(lambda r: lib.lax.cond(r.sum() > 0, lambda a: a * 2, lambda a: a - 1, w))(x)

    _same(batched_index_unbatched_operand, (_x(), X), (_x((4,)), (None,)))

    def switch(lib, x, i):
        branches = [lambda a: a * 2, lambda a: a - 1, lambda a: -a]
        return lib.vmap(lambda r: lib.lax.switch(i, branches, r))(x)

    _same(switch, (_x(), X), (np.int32(1), ()))


@case
def jnp_jit_wrappers_keep_the_mapped_sharding():
    fns = [
        lambda lib, x: lib.vmap(lib.numpy.argsort)(x),
        lambda lib, x: lib.vmap(lib.numpy.sort)(x),
        lambda lib, x: lib.vmap(lib.numpy.cumsum)(x),
        lambda lib, x: lib.vmap(lambda r: lib.numpy.clip(r, -1.0, 2.0))(x),
        lambda lib, x: lib.vmap(lambda r: lib.numpy.where(r > 0, r, 0.0))(x),
        lambda lib, x: lib.vmap(lib.jit(lambda r: lib.numpy.sin(r) * 2))(x),
    ]
    for fn in fns:
        _same(fn, (_x(), X))


@case
def other_mapped_axes_and_outputs():
    def axis1(lib, x):  # mapped over Y: the results keep @Y
        return lib.vmap(lambda c: lib.lax.fori_loop(0, 2, lambda i, v: v * 2.0, c), in_axes=1)(x)

    _same(axis1, (_x(), (None, "Y")))

    def out_axis1(lib, x):
        return lib.vmap(lambda r: lib.lax.cond(True, lambda a: a + 1, lambda a: a, r), out_axes=1)(
            x
        )

    _same(out_axis1, (_x(), X))

    def unbatched_output(lib, x, w):  # broadcast to the batch, split over X
        return lib.vmap(lambda r: (r * 2, w + 1.0))(x)

    _same(unbatched_output, (_x(), X), (_x((4,)), (None,)))

    def both_axes(lib, x):
        return lib.vmap(lib.vmap(lambda v: lib.lax.cond(v > 0, lambda a: a, lambda a: -a, v)))(x)

    _same(both_axes, (_x(), ("X", "Y")))


@case
def scatters_broadcast_unbatched_updates_over_the_mapped_axis():
    # (types and values: JAX's batched scatter dimension numbers are np.int64s)
    def at_set(lib, x, w):
        return lib.vmap(lambda r, i: r.at[i].set(w), in_axes=(0, None))(x, 1)

    _same(at_set, (_x(), X), (np.float32(5), ()), jaxpr=False)

    def at_add_rows(lib, x, w):
        return lib.vmap(lambda r: r.at[1:3].add(w))(x)

    _same(at_add_rows, (_x(), X), (_x((2,)), (None,)), jaxpr=False)

    def dynamic_update(lib, x, w):  # (JAX's jaxpr has a scatter here: types and values)
        return lib.vmap(lambda r: lib.lax.dynamic_update_slice(r, w, (1,)))(x)

    _same(dynamic_update, (_x(), X), (_x((2,)), (None,)), jaxpr=False)


@case
def reshard_under_vmap_keeps_the_mapped_axis():
    def fn(lib, x):
        return lib.vmap(lambda r: lib.sharding.reshard(r, lib.P("Y")))(x)

    _same(fn, (_x(), X))


def _auto_specs(lib, fn, jit=True):
    """fn(lib, x) under an Auto (2, 4) mesh, jitted or eagerly: its results'
    PartitionSpecs and values, or the error."""
    kind = lib.sharding.AxisType.Auto
    with lib.set_mesh(lib.make_mesh((2, 4), ("X", "Y"), axis_types=(kind, kind))):
        x = lib.device_put(_x(), lib.P())
        f = lambda a: fn(lib, a)  # noqa: E731
        try:
            out = (lib.jit(f) if jit else f)(x)
        except Exception as e:
            return type(e).__name__, str(e)
        return [tuple(o.sharding.spec) for o in [out]], np.asarray(out).tolist()


@case
def spmd_axis_name_shards_constraints_under_vmap():
    """With spmd_axis_name, a sharding constraint inside vmap splits the batch axis
    over it (JAX's _sharding_constraint_batcher), without it leaves the batch axis
    unconstrained; naming it in the spec is an error."""

    def named(lib, x):
        wsc = lib.lax.with_sharding_constraint
        return lib.vmap(lambda r: wsc(r * 2, lib.P("Y")), spmd_axis_name="X")(x)

    e, j = both(lambda lib: _auto_specs(lib, named))
    assert e == j, (e, j)
    assert j[0] == [("X", "Y")], j

    def unnamed(lib, x):  # the batch axis is left open ({?}): it stays split over X
        wsc = lib.lax.with_sharding_constraint
        return lib.vmap(lambda r: wsc(r * 2, lib.P("Y")))(wsc(x, lib.P("X")))

    for jit in (True, False):
        e, j = both(lambda lib: _auto_specs(lib, unnamed, jit))
        assert e == j, (jit, e, j)
        assert j[0] == [("X", "Y")], j

    def clash(lib, x):
        wsc = lib.lax.with_sharding_constraint
        return lib.vmap(lambda r: wsc(r, lib.P("X")), spmd_axis_name="X")(x)

    e, j = both(lambda lib: _auto_specs(lib, clash))
    assert e[0] == j[0] == "ValueError", (e, j)
    assert "cannot appear in with_sharding_constraint spec" in e[1], e


@case
def inconsistent_vmap_arguments_raise_as_jax():
    def mixed(lib, x, y):
        return lib.vmap(lambda a, b: a + b)(x, y)

    _same(mixed, (_x(), X), (_x(), (None, "Y")), phrases=("should be sharded the same",))

    def unmapped_on_the_axis(lib, x, y):
        return lib.vmap(lambda a, b: a + b.sum(), in_axes=(0, None))(x, y)

    _same(
        unmapped_on_the_axis,
        (_x(), X),
        (_x(), X),
        phrases=("Unmapped values passed to vmap cannot be sharded along the mesh axis",),
    )

    def spmd_name(lib, x):
        return lib.vmap(lambda a: a * 2, spmd_axis_name="Y")(x)

    _same(spmd_name, (_x(), X), phrases=("Only one of spmd_axis_name or arrays sharded",))

    def spmd_same(lib, x):
        return lib.vmap(lambda a: a * 2, spmd_axis_name="X")(x)

    _same(spmd_same, (_x(), X))


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_vmap_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


# On one device: the batching rules' NumPy integer parameters, as JAX's print them
# (np.int64 broadcast dimensions from batching.broadcast, reduction axes from
# reducer_batcher), and a vmapped stop_gradient that stays in the jaxpr.
_PROGRAMS = {
    "reduce_sum": lambda lib: lib.vmap(lambda r: r.sum(1), in_axes=1),
    "reduce_max": lambda lib: lib.vmap(lambda r: r.max()),
    "argmax": lambda lib: lib.vmap(lambda r: lib.numpy.argmax(r, 0), in_axes=2),
    "any": lambda lib: lib.vmap(lambda r: (r > 0).any(1)),
    "mean_var": lambda lib: lib.vmap(lambda r: (r.mean(0), r.var(1))),
    "select_unbatched": lambda lib: lib.vmap(
        lambda r: lib.lax.select(r > 0, r, lib.numpy.ones((3, 5)))
    ),
    "where": lambda lib: lib.vmap(lambda r: lib.numpy.where(r > 0, r, 0.0)),
    "scan_unbatched_init": lambda lib: lib.vmap(
        lambda r: lib.lax.scan(lambda c, v: (c + v, c), lib.numpy.zeros(5), r)
    ),
    "unbatched_output": lambda lib: lib.vmap(lambda r: (r, lib.numpy.ones(3))),
    "nested_cond": lambda lib: lib.vmap(
        lib.vmap(lambda v: lib.lax.cond(v.sum() > 0, lambda a: a, lambda a: -a, v))
    ),
    "stop_gradient": lambda lib: lib.vmap(lambda r: lib.lax.stop_gradient(r) * r),
    # a nested jit's results keep the batch axis its body gives them (JAX's
    # batch_jaxpr2): the transpose to out_axes comes after the jit equation
    "jit_cumsum_axis1": lambda lib: lib.vmap(lambda r: lib.numpy.cumsum(r, 0), in_axes=1),
    "jit_sort_out_axes": lambda lib: lib.vmap(
        lambda r: lib.numpy.sort(r, 0), in_axes=2, out_axes=1
    ),
    "jit_mixed_outputs": lambda lib: lib.vmap(
        lib.jit(lambda r: (r.T * 2, r.sum(), lib.numpy.ones(2))), in_axes=1
    ),
    # while with a batched predicate keeps it batched (JAX's rule and lowering)
    "while_batched_pred": lambda lib: lib.vmap(
        lambda r: lib.lax.while_loop(lambda c: c.sum() < 100, lambda c: c * 2 + 1, r)
    ),
    "while_counter": lambda lib: lib.vmap(
        lambda r: lib.lax.while_loop(
            lambda c: c[1].sum() < 100, lambda c: (c[0] + 1, c[1] * 2 + 1), (0, r)
        ),
        in_axes=1,
    ),
    "while_nested": lambda lib: lib.vmap(
        lib.vmap(lambda v: lib.lax.while_loop(lambda c: c.sum() < 50, lambda c: c * 2 + 1, v))
    ),
    "while_jvp": lambda lib: lib.vmap(
        lambda r: lib.jvp(
            lambda y: lib.lax.while_loop(
                lambda c: c[0] < y[0, 0], lambda c: (c[0] + 1, c[1] * 1.5), (-3.0, y)
            ),
            (r,),
            (r,),
        )
    ),
    # elementwise ops of differently batched operands, as JAX's broadcast_batcher
    "elementwise_unbatched": lambda lib: lib.vmap(lambda r: r + lib.numpy.arange(5.0)),
    "elementwise_scalar_batched": lambda lib: lib.vmap(
        lambda r: lib.lax.mul(r, lib.lax.broadcast(r[0, 0], (3, 5)))
    ),
    "elementwise_two_axes": lambda lib: lib.vmap(
        lambda a: lib.vmap(lambda u, v: u - v, in_axes=(0, 1))(a, a.T)
    ),
}


@pytest.mark.parametrize("name", sorted(_PROGRAMS))
def test_batched_jaxpr_params_as_jax(name):
    import jax

    import engine

    x = (np.arange(30, dtype=np.float32).reshape(2, 3, 5) % 7) - 3
    texts = [str(lib.make_jaxpr(_PROGRAMS[name](lib))(x)) for lib in (engine, jax)]
    assert texts[0] == texts[1], texts
    outs = [lib.tree_util.tree_leaves(_PROGRAMS[name](lib)(x)) for lib in (engine, jax)]
    for e, j in zip(*outs):
        np.testing.assert_array_equal(np.asarray(e), np.asarray(j))


if __name__ == "__main__":
    eight_devices.main(CASES)
