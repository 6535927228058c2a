"""Regression tests for what running JAX's sharding tutorials cell by cell through the
engine showed (benchmarks/tutorial_sharding.py): each compares the engine with real JAX
0.10.2 on 8 CPU devices, in one subprocess (the device count is fixed at startup)."""

from __future__ import annotations

import contextlib
import io

import eight_devices
import numpy as np
import pytest
from eight_devices import both, libs

CASES, case = eight_devices.case_registry()


def _printed(fn) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = fn()
    assert result is None, result  # printed, not returned (a notebook would show it twice)
    return buf.getvalue()


# What JAX 0.10.2's visualize_array_sharding printed (rich 15, a plain-text console) for an
# array of zeros of this shape on a (4, 2) mesh ('X', 'Y') under this spec and keywords
# (as (name, value) pairs).
JAX_GRIDS = {
    ((8, 4), ("X", "Y"), ()): (
        "┌───────┬───────┐\n"
        "│ CPU 0 │ CPU 1 │\n"
        "├───────┼───────┤\n"
        "│ CPU 2 │ CPU 3 │\n"
        "├───────┼───────┤\n"
        "│ CPU 4 │ CPU 5 │\n"
        "├───────┼───────┤\n"
        "│ CPU 6 │ CPU 7 │\n"
        "└───────┴───────┘\n"
    ),
    ((8, 4), ("Y", "X"), ()): (
        "┌───────┬───────┬───────┬───────┐\n"
        "│       │       │       │       │\n"
        "│ CPU 0 │ CPU 2 │ CPU 4 │ CPU 6 │\n"
        "│       │       │       │       │\n"
        "│       │       │       │       │\n"
        "├───────┼───────┼───────┼───────┤\n"
        "│       │       │       │       │\n"
        "│ CPU 1 │ CPU 3 │ CPU 5 │ CPU 7 │\n"
        "│       │       │       │       │\n"
        "│       │       │       │       │\n"
        "└───────┴───────┴───────┴───────┘\n"
    ),
    ((8, 4), ("X", None), ()): (
        "┌──────────┐\n"
        "│ CPU 0,1  │\n"
        "├──────────┤\n"
        "│ CPU 2,3  │\n"
        "├──────────┤\n"
        "│ CPU 4,5  │\n"
        "├──────────┤\n"
        "│ CPU 6,7  │\n"
        "└──────────┘\n"
    ),
    ((8, 4), (("X", "Y"),), ()): (
        "┌──────────┐\n"
        "│  CPU 0   │\n"
        "├──────────┤\n"
        "│  CPU 1   │\n"
        "├──────────┤\n"
        "│  CPU 2   │\n"
        "├──────────┤\n"
        "│  CPU 3   │\n"
        "├──────────┤\n"
        "│  CPU 4   │\n"
        "├──────────┤\n"
        "│  CPU 5   │\n"
        "├──────────┤\n"
        "│  CPU 6   │\n"
        "├──────────┤\n"
        "│  CPU 7   │\n"
        "└──────────┘\n"
    ),
    ((8, 4), (), ()): (
        "┌───────────────────┐\n"
        "│                   │\n"
        "│                   │\n"
        "│                   │\n"
        "│                   │\n"
        "│CPU 0,1,2,3,4,5,6,7│\n"
        "│                   │\n"
        "│                   │\n"
        "│                   │\n"
        "│                   │\n"
        "└───────────────────┘\n"
    ),
    ((16,), ("X",), ()): (
        "┌───────┬───────┬───────┬───────┐\n"
        "│CPU 0,1│CPU 2,3│CPU 4,5│CPU 6,7│\n"
        "└───────┴───────┴───────┴───────┘\n"
    ),
    ((16,), (("X", "Y"),), ()): (
        "┌───────┬───────┬───────┬───────┬───────┬───────┬───────┬───────┐\n"
        "│ CPU 0 │ CPU 1 │ CPU 2 │ CPU 3 │ CPU 4 │ CPU 5 │ CPU 6 │ CPU 7 │\n"
        "└───────┴───────┴───────┴───────┴───────┴───────┴───────┴───────┘\n"
    ),
    ((64, 2), ("X", "Y"), (("max_width", 20),)): (
        "┌───────┬───────┐\n"
        "│ CPU 0 │ CPU 1 │\n"
        "├───────┼───────┤\n"
        "│ CPU 2 │ CPU 3 │\n"
        "├───────┼───────┤\n"
        "│ CPU 4 │ CPU 5 │\n"
        "├───────┼───────┤\n"
        "│ CPU 6 │ CPU 7 │\n"
        "└───────┴───────┘\n"
    ),
    ((4, 4), ("X",), (("min_width", 12),)): (
        "┌───────────────────────┐\n"
        "│        CPU 0,1        │\n"
        "├───────────────────────┤\n"
        "│        CPU 2,3        │\n"
        "├───────────────────────┤\n"
        "│        CPU 4,5        │\n"
        "├───────────────────────┤\n"
        "│        CPU 6,7        │\n"
        "└───────────────────────┘\n"
    ),
}


def _grid(lib, shape, spec, kw) -> str:
    mesh = lib.make_mesh((4, 2), ("X", "Y"))
    x = lib.device_put(np.zeros(shape, np.float32), lib.NamedSharding(mesh, lib.P(*spec)))
    return _printed(lambda: lib.debug.visualize_array_sharding(x, **dict(kw)))


@case
def visualize_array_sharding_prints_jax_grids():
    engine, jax = libs()
    for (shape, spec, kw), expected in JAX_GRIDS.items():
        assert _grid(engine, shape, spec, kw) == expected, (shape, spec, kw)


@case
def visualize_array_sharding_equals_jax_with_rich():
    engine, jax = libs()
    try:
        import rich  # noqa: F401  (JAX's visualize_array_sharding needs it)
    except ImportError:
        pytest.skip("rich is not installed: JAX_GRIDS holds what JAX printed")
    for shape, spec, kw in list(JAX_GRIDS) + [((8, 8), ("X", "Y"), (("scale", 2.0),))]:
        assert _grid(engine, shape, spec, kw) == _grid(jax, shape, spec, kw), (shape, spec, kw)


@case
def visualize_array_sharding_rejects_rank_3():
    engine, jax = libs()
    x = engine.device_put(np.zeros((2, 2, 2), np.float32), engine.devices()[0])
    with pytest.raises(ValueError, match="only works for shapes with 1 and 2 dimensions"):
        engine.debug.visualize_array_sharding(x)


@case
def mesh_str_and_repr():
    e, j = both(lambda lib: lib.make_mesh((4, 2), ("X", "Y")))
    assert str(e) == str(j) == "Mesh('X': 4, 'Y': 2, axis_types=(Explicit, Explicit))"
    assert repr(e) == repr(j)


def _typeof_texts(lib):
    explicit = lib.make_mesh((4, 2), ("X", "Y"))
    auto = lib.make_mesh((4, 2), ("X", "Y"), (lib.sharding.AxisType.Auto,) * 2)
    x = np.arange(32.0, dtype=np.float32).reshape(8, 4)
    out = []
    for mesh, spec in [
        (explicit, ("X", "Y")),
        (explicit, ("X",)),
        (explicit, (("X", "Y"),)),
        (explicit, (None, "Y")),
        (auto, ("X", "Y")),
    ]:
        a = lib.device_put(x, lib.NamedSharding(mesh, lib.P(*spec)))
        t = lib.typeof(a)
        out.append((str(t), repr(t.sharding), repr(t.sharding.spec), t.sharding.memory_kind))
        out.append((repr(a.sharding), t.sharding.mesh == mesh.abstract_mesh))
    t = lib.typeof(np.ones(3, np.float32))
    out.append((str(t), repr(t.sharding)))
    return out


@case
def typeof_sharding_is_on_the_abstract_mesh():
    e, j = both(_typeof_texts)
    assert e == j


@case
def named_sharding_on_an_abstract_mesh_has_no_memory_kind():
    def texts(lib):
        mesh = lib.make_mesh((4, 2), ("X", "Y"))
        on_abstract = lib.NamedSharding(mesh.abstract_mesh, lib.P("X"))
        concrete = lib.NamedSharding(mesh, lib.P("X"))
        return repr(on_abstract), on_abstract.memory_kind, repr(concrete), concrete.memory_kind

    e, j = both(texts)
    assert e == j


def _out_sharding_results(lib):
    jnp = lib.numpy
    mesh = lib.make_mesh((4, 2), ("X", "Y"))
    out = []
    with lib.set_mesh(mesh):
        x = lib.device_put(jnp.arange(8 * 4.0).reshape(8, 4), lib.P(None, "X"))
        y = lib.device_put(jnp.arange(4 * 16.0).reshape(4, 16), lib.P("X", None))
        z = jnp.dot(x, y, out_sharding=lib.P("X", None))
        out.append((np.asarray(z), repr(z.sharding), str(lib.typeof(z))))
        z = lib.jit(lambda a, b: jnp.dot(a, b, out_sharding=lib.P(None, "Y")))(x, y)
        out.append((np.asarray(z), repr(z.sharding), str(lib.typeof(z))))
        z = jnp.matmul(x, y, out_sharding=lib.P("Y", "X"))
        out.append((np.asarray(z), repr(z.sharding), str(lib.typeof(z))))
        r = lib.random.normal(lib.random.key(0), (8, 4), out_sharding=lib.P("X", "Y"))
        out.append((np.asarray(r), repr(r.sharding), str(lib.typeof(r))))
    return out


@case
def out_sharding_on_dot_matmul_and_normal():
    e, j = both(_out_sharding_results)
    assert len(e) == len(j)
    for (ev, *et), (jv, *jt) in zip(e, j):
        np.testing.assert_allclose(ev, jv, rtol=1e-6)
        assert ev.dtype == jv.dtype
        assert et == jt


def _psum_of_sharded(lib, jitted: bool, given_specs: bool):
    jnp = lib.numpy
    with lib.set_mesh(lib.make_mesh((4,), ("batch",))):
        x = lib.device_put(np.arange(128.0, dtype=np.float32).reshape(8, 16), lib.P("batch"))
        specs = {"in_specs": lib.P("batch")} if given_specs else {}
        f = lib.shard_map(lambda b: lib.lax.psum(jnp.sum(b), "batch"), out_specs=lib.P(), **specs)
        return np.asarray((lib.jit(f) if jitted else f)(x))


@case
def shard_map_inferred_in_specs_never_silently_replicate():
    engine, jax = libs()
    want = _psum_of_sharded(jax, jitted=True, given_specs=False)
    np.testing.assert_allclose(want, np.arange(128.0).sum())
    # under jit the specs come from the traced values' types (their Explicit shardings)
    for jitted, given in [(False, False), (False, True), (True, True), (True, False)]:
        np.testing.assert_allclose(_psum_of_sharded(engine, jitted, given), want)


def _scan_over_pcast_carry(lib):
    P = lib.P
    with lib.set_mesh(lib.make_mesh((2,), ("i",))):

        @lib.shard_map(in_specs=(P("i"), P()), out_specs=P("i"))
        def f(x, y):
            def swap(carry, _):
                return carry[::-1], ()

            y = lib.lax.pcast(y, "i", to="varying")
            return lib.lax.scan(swap, (x, y), (), length=3)[0]

        x = lib.device_put(np.arange(6.0, dtype=np.float32), P("i"))
        return [np.asarray(a) for a in f(x, np.arange(3.0, dtype=np.float32) + 10)]


@case
def pcast_value_carried_by_scan_lowers():
    e, j = both(_scan_over_pcast_carry)
    for a, b in zip(e, j):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def _put_per_leaf(lib):
    mesh = lib.make_mesh((8,), ("x",))
    rng = np.random.default_rng(0)
    values = (rng.normal(size=(32,)), rng.normal(size=(32, 4)), rng.normal(size=(4,)))
    rep, split = lib.NamedSharding(mesh, lib.P()), lib.NamedSharding(mesh, lib.P("x"))
    out = lib.device_put(values, (split, split, rep))
    nested = lib.device_put(
        {"a": values[2], "b": [values[2], values[2]]}, {"a": None, "b": lib.devices()[3]}
    )
    return (
        [(np.asarray(o), repr(o.sharding)) for o in out],
        {
            k: sorted(d.id for d in v.devices())
            for k, v in (("a", nested["a"]), ("b", nested["b"][1]))
        },
    )


@case
def device_put_with_a_pytree_of_shardings():
    (e_out, e_nested), (j_out, j_nested) = both(_put_per_leaf)
    for (ev, es), (jv, js) in zip(e_out, j_out):
        np.testing.assert_array_equal(ev, jv)
        assert ev.dtype == jv.dtype and es == js
    assert e_nested == j_nested
    engine, jax = libs()
    phrase = "device_put device specification must be a tree prefix of the corresponding value"
    for lib in (engine, jax):
        with pytest.raises(ValueError, match=phrase):
            lib.device_put((np.ones(2), np.ones(2)), (lib.devices()[0],))


@case
def set_mesh_is_a_class_as_jax():
    def facts(lib):
        mesh = lib.make_mesh((4, 2), ("X", "Y"))
        with lib.set_mesh(mesh) as entered:
            ctx = lib.set_mesh(mesh)
            return (
                isinstance(lib.set_mesh, type),
                type(ctx).__name__,
                entered,
                str(lib.sharding.get_abstract_mesh()),
            )

    e, j = both(facts)
    assert e == j


# ---------------------------------------------------------------- the subprocess


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_tutorial_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
