"""``export`` of a jit partitioned over a mesh against real JAX 0.10.2 on 8 CPU devices
(one child process, tests/eight_devices.py): the module (Shardy mesh and shardings,
``mhlo.num_partitions``; with symbolic shapes and for several platforms too),
``nr_devices``, the NamedShardings over the abstract mesh, ``in/out_shardings_hlo`` and
``in/out_shardings_jax`` of a deserialized artifact, the exported VJP, and artifacts
moving both ways (serialized by one library, deserialized and called by the other:
eagerly under set_mesh, with sharded arguments, under jit and grad, over a mesh of
other axes), values and result shardings compared."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import mesh

CASES, case = eight_devices.case_registry()


def _x(shape=(8, 4)):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


def _auto_jit(lib):
    """in_shardings for the first argument only, out_shardings for the first result."""
    m = mesh(lib, "Auto")
    s_in = lib.NamedSharding(m, lib.P("X", None))
    s_out = lib.NamedSharding(m, lib.P(None, "Y"))
    return lib.jit(
        lambda a, b: (a * 2.0, jnp_sum(lib, b)),
        in_shardings=(s_in, None),
        out_shardings=(s_out, None),
    )


def jnp_sum(lib, b):
    return lib.numpy.sin(b).sum(axis=0)


def _explicit_export(lib):
    """No in_shardings: the first argument is committed sharded over an Explicit mesh."""
    m = mesh(lib, "Explicit")
    xs = lib.device_put(_x(), lib.NamedSharding(m, lib.P("X", None)))
    return lib.export.export(lib.jit(lambda a, b: (a * 2.0, (b + 1.0).sum(0))))(xs, _x())


def _auto_export(lib):
    return lib.export.export(_auto_jit(lib))(_x(), _x())


def _fields(lib, exp):
    """What an Exported says of its partitioning, as text."""
    first = next(s for s in exp._in_named_shardings + exp._out_named_shardings if s)
    m = mesh(lib, first.mesh.axis_types[0].name)
    return {
        "nr_devices": exp.nr_devices,
        "in_named": repr(exp._in_named_shardings),
        "out_named": repr(exp._out_named_shardings),
        "in_hlo": [str(s) for s in exp.in_shardings_hlo],
        "out_hlo": [str(s) for s in exp.out_shardings_hlo],
        "in_jax": repr(exp.in_shardings_jax(m)),
        "out_jax": repr(exp.out_shardings_jax(m)),
        # (JAX spells float32 in full in str_short, the engine f32)
        "in_avals": [a.str_short().replace("float32", "f32") for a in exp.in_avals],
        "out_avals": [a.str_short().replace("float32", "f32") for a in exp.out_avals],
    }


def _exports(make):
    """make(lib) for the engine, then JAX (from one line: the same caller location)."""
    engine, jax = eight_devices.libs()
    return [make(lib) for lib in (engine, jax)]


@case
def export_auto_module_and_shardings():
    ours, theirs = _exports(_auto_export)
    engine, jax = eight_devices.libs()
    assert ours.mlir_module() == theirs.mlir_module()
    assert "sdy.mesh @mesh" in ours.mlir_module()
    assert _fields(engine, ours) == _fields(jax, theirs)
    assert ours.nr_devices == 8 and ours.in_shardings_hlo == (None, None)


@case
def export_explicit_module_and_shardings():
    ours, theirs = _exports(_explicit_export)
    engine, jax = eight_devices.libs()
    assert ours.mlir_module() == theirs.mlir_module()
    assert _fields(engine, ours) == _fields(jax, theirs)


def _deserialized_fields(blob):
    engine, jax = eight_devices.libs()
    return _fields(engine, engine.export.deserialize(blob)), _fields(
        jax, jax.export.deserialize(blob)
    )


@case
def deserialize_both_ways():
    """Each library reads the other's artifact as JAX reads it: HloShardings (iota
    form), NamedShardings over the abstract mesh, typed avals."""
    for make in (_auto_export, _explicit_export):
        ours, theirs = _exports(make)
        for blob in (ours.serialize(), theirs.serialize()):
            got, want = _deserialized_fields(blob)
            assert got == want
            assert want["in_hlo"][0] != "None"


@case
def jax_calls_engine_artifact():
    """The engine's artifact, deserialized and called by JAX under its mesh: JAX's
    values and output shardings."""
    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_auto_export)
    m = mesh(jax, "Auto")
    results = []
    for blob in (ours.serialize(), theirs.serialize()):
        with jax.set_mesh(m):
            out = jax.export.deserialize(blob).call(_x(), _x() + 1.0)
        results.append([(repr(o.sharding.spec), np.asarray(o)) for o in out])
    for (spec, value), (want_spec, want) in zip(*results):
        assert spec == want_spec
        np.testing.assert_array_equal(value, want)


def _calls(lib, blob):
    """An artifact deserialized by ``lib`` and called: eagerly without a mesh (JAX's
    error), under set_mesh, with committed sharded arguments, and inside a jit with
    in_shardings (its module's Shardy lines); each result's spec and value."""
    from eight_devices import attempt, constraint_lines

    exp = lib.export.deserialize(blob)
    m = mesh(lib, "Auto")
    x, y = _x(), _x() + 1.0

    def outs(result):
        return [(repr(o.sharding.spec), np.asarray(o).tolist()) for o in result]

    got = {"no mesh": attempt(lambda: exp.call(x, y))[1]}
    with lib.set_mesh(m):
        got["set_mesh"] = outs(exp.call(x, y))
    xs = lib.device_put(x, lib.NamedSharding(m, lib.P(None, "Y")))
    got["committed"] = outs(exp.call(xs, y))
    f = lib.jit(lambda a, b: exp.call(a, b), in_shardings=lib.NamedSharding(m, lib.P(None, "Y")))
    got["jit"] = outs(f(x, y))
    got["jit module"] = constraint_lines(f.lower(x, y).as_text())
    return got


@case
def engine_calls_sharded_artifacts():
    """The engine calls JAX's artifact and its own as JAX calls them."""
    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_auto_export)
    for blob in (ours.serialize(), theirs.serialize()):
        got, want = _calls(engine, blob), _calls(jax, blob)
        assert want["no mesh"][0] == "ValueError" and "exported for 8 devices" in want["no mesh"][1]
        assert got == want


@case
def call_under_mesh_of_other_axes():
    """Called over a mesh of other axis names or sizes: the artifact keeps its own
    mesh, as JAX's (and in_shardings_jax says the meshes differ, as JAX's)."""
    from eight_devices import attempt

    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_auto_export)
    x, y = _x(), _x() + 1.0
    auto = (None, None)
    for blob in (ours.serialize(), theirs.serialize()):
        results = []
        for lib in (engine, jax):
            auto = (lib.sharding.AxisType.Auto,) * 2
            exp = lib.export.deserialize(blob)
            other = lib.make_mesh((4, 2), ("a", "b"), auto)
            got = [attempt(lambda exp=exp, other=other: exp.in_shardings_jax(other))[1]]
            with lib.set_mesh(other):
                got.append(exp.call(x, y))
            got.append(lib.jit(exp.call, in_shardings=lib.NamedSharding(other, lib.P("a")))(x, y))
            swapped = lib.make_mesh((2, 4), ("X", "Y"), auto)
            got.append(lib.jit(exp.call, in_shardings=lib.NamedSharding(swapped, lib.P("X")))(x, y))
            results.append(got)
        ours_got, theirs_got = results
        assert ours_got[0][0] == "ValueError" and "does not match" in ours_got[0][1]
        assert ours_got[0] == theirs_got[0]
        for k, (o, t) in enumerate(zip(ours_got[1:], theirs_got[1:])):
            for a, b in zip(o, t):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
                # under a jit over another mesh JAX names the result's layout by the
                # exported mesh's axes (P(None, 'Y') on a mesh of 'a', 'b'): a gap
                if k == 0:
                    assert repr(a.sharding.spec) == repr(b.sharding.spec)


@case
def vjp_export_and_grad():
    """The exported VJP (JAX's: over the primal's mesh, inputs laid out as the primal's
    inputs and outputs, results as its inputs) and grad of a deserialized artifact,
    under a jit with in_shardings and eagerly under set_mesh."""
    from eight_devices import attempt

    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_auto_export)
    assert ours.vjp().mlir_module().split("#loc")[0] == theirs.vjp().mlir_module().split("#loc")[0]
    vjp_fields = [_fields(lib, e.vjp()) for lib, e in ((engine, ours), (jax, theirs))]
    assert vjp_fields[0] == vjp_fields[1]
    x, y = _x(), _x() + 1.0
    for blob in (ours.serialize(vjp_order=1), theirs.serialize(vjp_order=1)):
        results = []
        for lib in (engine, jax):
            exp = lib.export.deserialize(blob)
            m = mesh(lib, "Auto")

            def loss(a, b, exp=exp):
                first, second = exp.call(a, b)
                return (first**2).sum() + second.sum()

            grad = lib.grad(loss, argnums=(0, 1))
            s = lib.NamedSharding(m, lib.P(None, "Y"))
            got = [lib.jit(grad, in_shardings=s)(x, y)]
            with lib.set_mesh(m):
                got.append(attempt(lambda grad=grad: grad(x, y))[0])
            results.append(
                [[(repr(o.sharding.spec), np.asarray(o).tolist()) for o in r] for r in got]
            )
        assert results[0] == results[1]


def _trimmed(spec) -> tuple:
    """A spec's entries without trailing Nones: an untyped replicated result of a call
    under an Explicit mesh is P() in JAX and P(None,) in the engine (a known gap)."""
    entries = list(spec)
    while entries and entries[-1] is None:
        entries.pop()
    return tuple(entries)


@case
def call_explicit_artifacts():
    """Artifacts exported over an Explicit mesh, called under set_mesh (eagerly, with
    a committed sharded argument, under jit): results typed as exported."""
    from eight_devices import attempt

    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_explicit_export)
    x, y = _x(), _x() + 1.0
    for blob in (ours.serialize(), theirs.serialize()):
        results = []
        for lib in (engine, jax):
            exp = lib.export.deserialize(blob)
            m = mesh(lib, "Explicit")
            got = []
            with lib.set_mesh(m):
                xs = lib.device_put(x, lib.NamedSharding(m, lib.P("X", None)))
                for run in (
                    lambda: exp.call(x, y),
                    lambda: exp.call(xs, y),
                    lambda: lib.jit(exp.call)(xs, y),
                ):
                    out, error = attempt(run)
                    got.append(
                        error
                        or [
                            (str(lib.typeof(o)), _trimmed(o.sharding.spec), np.asarray(o).tolist())
                            for o in out
                        ]
                    )
            results.append(got)
        assert results[0] == results[1]


@case
def export_dict_argument_unused_leaf():
    """in_shardings as a pytree prefix; a sharded leaf the module does not take has no
    sharding in the Exported (JAX's expand_in_shardings)."""

    def make(lib):
        s = lib.NamedSharding(mesh(lib, "Auto"), lib.P("X"))
        f = lib.jit(lambda d: d["a"] * 2, in_shardings=({"a": s, "b": s},))
        return lib.export.export(f)({"a": _x(), "b": _x()})

    engine, jax = eight_devices.libs()
    ours, theirs = _exports(make)
    assert ours.mlir_module() == theirs.mlir_module()
    assert ours.module_kept_var_idx == theirs.module_kept_var_idx == (0,)
    assert _fields(engine, ours) == _fields(jax, theirs)
    got, want = _deserialized_fields(ours.serialize())
    assert got == want


def _poly_export(lib, out_spec=("X", None)):
    """A polymorphic second dimension: JAX's wrapper @main and the wrapped function,
    both annotated."""
    m = mesh(lib, "Auto")
    s_in = lib.NamedSharding(m, lib.P("X", None))
    s_out = lib.NamedSharding(m, lib.P(*out_spec))
    f = lib.jit(
        lambda a, b: (a * 2.0, jnp_sum(lib, b)),
        in_shardings=(s_in, None),
        out_shardings=(s_out, None),
    )
    (b,) = lib.export.symbolic_shape("b")
    spec = lib.ShapeDtypeStruct((8, b), np.float32)
    return lib.export.export(f)(spec, spec)


@case
def export_sharded_poly():
    from eight_devices import attempt

    engine, jax = eight_devices.libs()
    ours, theirs = _exports(_poly_export)
    assert ours.mlir_module() == theirs.mlir_module()
    assert "_wrapped_jax_export_main" in ours.mlir_module()
    assert _fields(engine, ours) == _fields(jax, theirs)
    x, y = _x(), _x() + 1.0
    for blob in (ours.serialize(), theirs.serialize()):
        got, want = _deserialized_fields(blob)
        assert got == want
        results = []
        for lib in (engine, jax):
            exp = lib.export.deserialize(blob)
            m = mesh(lib, "Auto")
            with lib.set_mesh(m):
                eager = exp.call(x, y)
            s = lib.NamedSharding(m, lib.P(None, "Y"))
            results.append([eager, lib.jit(exp.call, in_shardings=s)(x, y)])
        for ours_out, theirs_out in zip(*results):
            for o, t in zip(ours_out, theirs_out):
                assert repr(o.sharding.spec) == repr(t.sharding.spec)
                np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-6)
    # a symbolic dimension split over a mesh axis: JAX's error
    errors = [attempt(lambda lib=lib: _poly_export(lib, (None, "Y")))[1] for lib in (engine, jax)]
    assert errors[0][0] == errors[1][0] == "IndivisibleError"
    assert "but the dimension size is b" in errors[0][1]


@case
def export_sharded_several_platforms():
    """For cpu and cuda over a mesh: @main takes the platform's index first; the
    artifact runs on CPU in both libraries."""
    engine, jax = eight_devices.libs()

    def make(lib):
        return lib.export.export(_auto_jit(lib), platforms=("cpu", "cuda"))(_x(), _x())

    ours, theirs = _exports(make)
    assert ours.mlir_module() == theirs.mlir_module()
    assert _fields(engine, ours) == _fields(jax, theirs)
    x, y = _x(), _x() + 1.0
    for blob in (ours.serialize(), theirs.serialize()):
        results = []
        for lib in (engine, jax):
            with lib.set_mesh(mesh(lib, "Auto")):
                out = lib.export.deserialize(blob).call(x, y)
            results.append([(repr(o.sharding.spec), np.asarray(o).tolist()) for o in out])
        assert results[0] == results[1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_sharded_s6_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
