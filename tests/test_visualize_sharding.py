"""Seeing sharded programs (issue 10 item 7): the partitioning view's collectives, mesh
axes and per-device shapes against real JAX 0.10.2's compiled HLO for the same program,
the sharding view's blocks against JAX's ``addressable_shards``, the partitioner passes,
the report section and HTML escaping.

Engine and JAX both need 8 CPU devices before their backends start, which a pytest
worker that already ran other tests cannot give, so the device cases run in one
subprocess (this file run as a script) and each test reads its case's outcome. The
replica-group parsers need no devices and run here."""

from __future__ import annotations

import os

import eight_devices
import numpy as np
import pytest

from visualize.partitioning import (
    collective_kind,
    mesh_axes_of_groups,
    mesh_axes_of_pairs,
    parse_replica_groups,
)

CASES: dict = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------- no devices needed


def test_replica_groups_list_and_iota_forms():
    assert parse_replica_groups("{{0,1},{2,3}}") == [(0, 1), (2, 3)]
    assert parse_replica_groups("{}") == []
    assert parse_replica_groups(None) == []
    assert parse_replica_groups("[4,2]<=[8]") == [(0, 1), (2, 3), (4, 5), (6, 7)]
    want = np.arange(8).reshape(4, 2).T.reshape(2, 4)
    assert parse_replica_groups("[2,4]<=[4,2]T(1,0)") == [tuple(r) for r in want.tolist()]


def test_replica_groups_mesh_form():
    assert parse_replica_groups("mesh['axis_0'=4,'axis_1'=2] {'axis_1'}") == [
        (0, 1),
        (2, 3),
        (4, 5),
        (6, 7),
    ]
    assert parse_replica_groups("mesh['a'=4,'b'=2] {'a'}") == [(0, 2, 4, 6), (1, 3, 5, 7)]
    with pytest.raises(ValueError, match="not understood"):
        parse_replica_groups("mesh['a'=4,'b'=2] {'c'}")
    with pytest.raises(ValueError, match="none of XLA's"):
        parse_replica_groups("bogus")


def test_groups_map_to_mesh_axes():
    names, sizes = ("x", "y"), (4, 2)
    assert mesh_axes_of_groups([(0, 1), (2, 3), (4, 5), (6, 7)], names, sizes) == ("y",)
    assert mesh_axes_of_groups([(0, 2, 4, 6), (1, 3, 5, 7)], names, sizes) == ("x",)
    assert mesh_axes_of_groups([tuple(range(8))], names, sizes) == ("x", "y")
    assert mesh_axes_of_groups([], names, sizes) == ("x", "y")
    assert mesh_axes_of_groups([(0, 3), (1, 2), (4, 7), (5, 6)], names, sizes) is None
    assert mesh_axes_of_pairs([(0, 2), (2, 4), (4, 6), (6, 0)], names, sizes) == ("x",)
    assert collective_kind("all-gather-start") == "all-gather"
    assert collective_kind("all-gather-done") is None
    assert collective_kind("add") is None


# ---------------------------------------------------------------- device cases


def _libs():
    import jax
    import jax.numpy as jnp

    import engine
    import engine.numpy as enp

    return engine, enp, jax, jnp


def _meshes():
    engine, _, jax, _ = _libs()
    auto_e = (engine.sharding.AxisType.Auto,) * 2
    auto_j = (jax.sharding.AxisType.Auto,) * 2
    return (
        engine.make_mesh((4, 2), ("x", "y"), axis_types=auto_e),
        jax.make_mesh((4, 2), ("x", "y"), axis_types=auto_j),
    )


def _put(lib, mesh, x, *spec):
    return lib.device_put(x, lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec(*spec)))


def _axes_by_kind(view_or_text, names=("x", "y"), sizes=(4, 2)):
    """Sorted (kind, mesh axes, per-device shape) of every collective in a view or in
    JAX's compiled HLO text (read through the same parser)."""
    from visualize.partitioning import PartitioningView, collective_kind
    from visualize.partitioning import parse_replica_groups as groups_of

    if isinstance(view_or_text, PartitioningView):
        return sorted((c.kind, c.mesh_axes, c.shape) for c in view_or_text.collectives)
    import visualize

    out = []
    for ins in visualize.parse_hlo_module(view_or_text).instructions():
        kind = collective_kind(ins.opcode)
        if kind is None:
            continue
        if kind == "collective-permute":
            axes = mesh_axes_of_pairs(
                groups_of(ins.attributes.get("source_target_pairs")), names, sizes
            )
        else:
            axes = mesh_axes_of_groups(
                groups_of(ins.attributes.get("replica_groups")), names, sizes
            )
        out.append((kind, axes, ins.shape.text))
    return sorted(out)


def _compare_with_jax(fe, fj, args_e, args_j, **jit_kwargs_pair):
    """The engine's view of ``fe`` and JAX's compiled text of ``fj``; asserts the same
    collectives (kind, mesh axes, per-device shape) and the same per-device shapes of
    arguments and results as JAX's arrays."""
    from visualize.partitioning import count_collectives, partitioning, sharding_annotations

    engine, _, jax, _ = _libs()
    ekw = {k[2:]: v for k, v in jit_kwargs_pair.items() if k.startswith("e_")}
    jkw = {k[2:]: v for k, v in jit_kwargs_pair.items() if k.startswith("j_")}
    view = partitioning(engine.jit(fe, **ekw), *args_e)
    jitted = jax.jit(fj, **jkw)
    jlowered = jitted.lower(*args_j)
    jcompiled = jlowered.compile()
    jtext = jcompiled.as_text()
    assert view.counts() == count_collectives(jtext), (view.counts(), count_collectives(jtext))
    assert _axes_by_kind(view) == _axes_by_kind(jtext)
    # the same sharding annotations as JAX's StableHLO, read by the same parser
    want = [
        (a.where, a.text, a.axes)
        for a in sharding_annotations(jlowered.as_text(debug_info=True), None)
    ]
    assert [(a.where, a.text, a.axes) for a in view.annotations] == want
    j_in = jax.tree_util.tree_leaves(jcompiled.input_shardings)
    assert len(view.inputs) == len(j_in) == len(args_j)
    for layout, sharding, arg in zip(view.inputs, j_in, args_j):
        assert layout.per_device_shape == sharding.shard_shape(np.shape(arg)), layout
    out_j = jax.tree_util.tree_leaves(jitted(*args_j))
    assert len(view.outputs) == len(out_j)
    for layout, o in zip(view.outputs, out_j):
        assert layout.per_device_shape == o.addressable_shards[0].data.shape, layout
        assert layout.global_shape == o.shape
    return view


@case
def matmul_contracting_dim_sharded_all_reduce():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    a, b = np.ones((8, 16), np.float32), np.ones((16, 4), np.float32)

    def f(lib):
        return lambda a, b: lib.sum(a @ b, axis=0)

    view = _compare_with_jax(
        f(enp),
        f(jnp),
        (_put(engine, me, a, "x", "y"), _put(engine, me, b, "y", None)),
        (_put(jax, mj, a, "x", "y"), _put(jax, mj, b, "y", None)),
    )
    assert view.num_partitions == 8 and view.counts().get("all-reduce", 0) >= 1
    red = [c for c in view.collectives if c.kind == "all-reduce"][0]
    # the contraction is over y-sharded blocks; the all-reduce comes from the matmul line
    assert "y" in red.mesh_axes
    assert red.source is not None and red.source[0] == os.path.abspath(__file__)
    assert red.op_name.startswith("dot_general")
    assert any(a.where == "argument 1" for a in red.caused_by)


@case
def sharding_constraint_reshards():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    a = np.arange(128, dtype=np.float32).reshape(8, 16)

    def f(lib, mesh):
        P = lib.sharding.PartitionSpec

        def g(a):
            b = lib.lax.with_sharding_constraint(
                a * 2, lib.sharding.NamedSharding(mesh, P(None, "x"))
            )
            return b.T @ a

        return g

    view = _compare_with_jax(
        f(engine, me), f(jax, mj), (_put(engine, me, a, "x", "y"),), (_put(jax, mj, a, "x", "y"),)
    )
    constraint = [a for a in view.annotations if a.where.startswith("sdy.sharding_constraint")]
    assert len(constraint) == 1 and constraint[0].axes == ("x",)
    assert constraint[0].source is not None and constraint[0].source[0] == os.path.abspath(__file__)
    assert view.collectives, "resharding must move data"


@case
def out_shardings_of_partial_sums():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    x, w = np.ones((16, 8), np.float32), np.ones((8, 32), np.float32)

    def f(a, b):
        return a @ b

    for out_spec in ((("x", None)), (None, None)):
        es = engine.sharding.NamedSharding(me, engine.sharding.PartitionSpec(*out_spec))
        js = jax.sharding.NamedSharding(mj, jax.sharding.PartitionSpec(*out_spec))
        _compare_with_jax(
            f,
            f,
            (_put(engine, me, x, None, "x"), _put(engine, me, w, "x", None)),
            (_put(jax, mj, x, None, "x"), _put(jax, mj, w, "x", None)),
            e_out_shardings=es,
            j_out_shardings=js,
        )


@case
def in_and_out_shardings_some_left_to_xla():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    x, w = np.ones((8, 16), np.float32), np.ones((16, 4), np.float32)

    def f(a, b):
        return a @ b, a.sum()

    def named(lib, mesh, *spec):
        return lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec(*spec))

    view = _compare_with_jax(
        f,
        f,
        (x, w),
        (x, w),
        e_in_shardings=(None, named(engine, me, "y", None)),
        j_in_shardings=(None, named(jax, mj, "y", None)),
        e_out_shardings=(named(engine, me, "x", None), None),
        j_out_shardings=(named(jax, mj, "x", None), None),
    )
    assert [a.where for a in view.annotations] == ["argument 1", "result 0"]


@case
def data_parallel_mlp_grad_step():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    r = np.random.RandomState(0)
    w1, w2 = r.randn(16, 32).astype(np.float32), r.randn(32, 4).astype(np.float32)
    x, y = r.randn(64, 16).astype(np.float32), r.randn(64, 4).astype(np.float32)

    def step(lib, np_):
        def loss(params, x, y):
            h = np_.tanh(x @ params[0])
            return np_.mean((h @ params[1] - y) ** 2)

        def train(params, x, y):
            g = lib.grad(loss)(params, x, y)
            return [p - 0.1 * d for p, d in zip(params, g)]

        return train

    def args(lib, mesh):
        return (
            [_put(lib, mesh, w1, None, None), _put(lib, mesh, w2, None, None)],
            _put(lib, mesh, x, ("x", "y"), None),
            _put(lib, mesh, y, ("x", "y"), None),
        )

    ae, aj = args(engine, me), args(jax, mj)
    from visualize.partitioning import count_collectives, partitioning

    view = partitioning(engine.jit(step(engine, enp)), *ae)
    jitted = jax.jit(step(jax, jnp))
    jtext = jitted.lower(*aj).compile().as_text()
    assert view.counts() == count_collectives(jtext), (view.counts(), count_collectives(jtext))
    assert _axes_by_kind(view) == _axes_by_kind(jtext)
    assert view.counts().get("all-reduce", 0) >= 1
    # the gradient's all-reduce spans the whole batch axis and comes from the user's loss
    assert all(c.mesh_axes == ("x", "y") for c in view.collectives if c.kind == "all-reduce")
    assert all(c.source and c.source[0] == os.path.abspath(__file__) for c in view.collectives)
    assert [a.per_device_shape for a in view.inputs] == [(16, 32), (32, 4), (8, 16), (8, 4)]


@case
def shard_map_psum_and_ppermute():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    x = np.arange(64, dtype=np.float32).reshape(8, 8)

    def f(lib, mesh):
        P = lib.sharding.PartitionSpec

        def body(b):
            s = lib.lax.psum(b, "y")
            perm = [(i, (i + 1) % 4) for i in range(4)]
            return lib.lax.ppermute(s, "x", perm)

        return lib.shard_map(body, mesh=mesh, in_specs=P("x", "y"), out_specs=P("x", None))

    view = _compare_with_jax(
        f(engine, me), f(jax, mj), (_put(engine, me, x, "x", "y"),), (_put(jax, mj, x, "x", "y"),)
    )
    manual = [a for a in view.annotations if a.where.startswith("sdy.manual_computation")]
    assert len(manual) == 1 and manual[0].axes == ("x", "y")
    assert manual[0].source is not None and manual[0].source[0] == os.path.abspath(__file__)
    kinds = {c.kind: c for c in view.collectives}
    assert kinds["all-reduce"].mesh_axes == ("y",)
    assert any(a.where.startswith("sdy.manual") for a in kinds["all-reduce"].caused_by)
    assert kinds["collective-permute"].mesh_axes == ("x",)


@case
def shard_map_scatter_gather_all_to_all():
    engine, enp, jax, jnp = _libs()
    me, mj = _meshes()
    x = np.arange(16 * 8, dtype=np.float32).reshape(16, 8)

    def f(lib, mesh):
        P = lib.sharding.PartitionSpec

        def body(b):
            s = lib.lax.psum_scatter(b, "x", scatter_dimension=0, tiled=True)
            g = lib.lax.all_gather(s, "x", axis=0, tiled=True)
            return lib.lax.all_to_all(g, "y", 0, 1, tiled=True)

        return lib.shard_map(body, mesh=mesh, in_specs=P(None, "y"), out_specs=P("x", "y"))

    view = _compare_with_jax(
        f(engine, me), f(jax, mj), (_put(engine, me, x, None, "y"),), (_put(jax, mj, x, None, "y"),)
    )
    assert {c.kind for c in view.collectives} >= {"reduce-scatter", "all-gather", "all-to-all"}


@case
def partitioner_passes_in_the_timeline():
    engine, enp, _, _ = _libs()
    from visualize.partitioning import count_collectives, partitioning

    me, _ = _meshes()
    a = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    b = _put(engine, me, np.ones((16, 4), np.float32), "y", None)
    view = partitioning(engine.jit(lambda a, b: a @ b), a, b)
    assert view.passes, "no partitioner steps in the timeline"
    # Before the partitioner the module is global and has no collectives; the first
    # partitioner step that shows one also shows the per-device shapes.
    first = next(s for s in view.passes if count_collectives(s.module))
    assert "spmd" in f"{first.pipeline} {first.pass_name}", first
    assert count_collectives(first.previous_module) == {}
    params = lambda m: sorted(  # noqa: E731
        i.shape.text.split("{")[0] for i in m.entry.instructions if i.opcode == "parameter"
    )
    assert params(first.previous_module) == ["f32[16,4]", "f32[8,16]"]
    assert params(first.module) == ["f32[2,8]", "f32[8,4]"]
    assert count_collectives(view.passes[-1].module) == view.counts()
    no_dump = partitioning(engine.jit(lambda a, b: a @ b), a, b, passes=False)
    assert no_dump.passes == [] and no_dump.counts() == view.counts()


_SPECS = [("x", "y"), ("y", None), (None, "x"), (("x", "y"), None), (None, None), ("y", "x")]


@case
def sharding_view_blocks_equal_jax_addressable_shards():
    engine, _, jax, _ = _libs()
    from visualize.sharding_view import array_sharding_model, sharding_model

    me, mj = _meshes()
    x = np.arange(8 * 16, dtype=np.float32).reshape(8, 16)
    for spec in _SPECS:
        xe, xj = _put(engine, me, x, *spec), _put(jax, mj, x, *spec)
        want = {}
        for s in xj.addressable_shards:
            ranges = tuple(sl.indices(n)[:2] for sl, n in zip(s.index, x.shape))
            want[s.device.id] = (ranges, s.replica_id, s.data.shape)
        model = array_sharding_model(xe)
        got = {c.device_id: (t.ranges, c.replica_id, t.shape) for t in model.tiles for c in t.cells}
        assert got == want, (spec, got, want)
        for t in model.tiles:
            for c in t.cells:  # shard_index is the cell's position in addressable_shards
                assert xe.addressable_shards[c.shard_index].device.id == c.device_id
        abstract = sharding_model(x.shape, xe.sharding)
        assert [(t.ranges, t.device_ids) for t in abstract.tiles] == [
            (t.ranges, t.device_ids) for t in model.tiles
        ]
        assert model.is_fully_replicated == xj.is_fully_replicated


@case
def sharding_view_html_is_interactive_and_escaped():
    engine, _, _, _ = _libs()
    from visualize.sharding_view import array_sharding_model, sharding_html

    me, _ = _meshes()
    xe = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    page = sharding_html(xe, title="<b>x</b> & y", uid="v1")
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt; &amp; y" in page
    assert page.count('class="gjs-tile"') == 8 and "gjs-grid" in page
    assert "device 5, shard 5" in page  # hover text names device and shard index
    assert "shard shape float32[2,8]" in page
    vec = sharding_html(_put(engine, me, np.ones((8,), np.float32), "x"), uid="v2")
    assert "gjs-vector" in vec and vec.count('class="gjs-tile"') == 4
    cube = sharding_html(_put(engine, me, np.ones((4, 2, 2), np.float32), "x", "y"), uid="v3")
    assert "gjs-table" in cube and cube.count('class="gjs-tile"') == 8
    model = array_sharding_model(xe)
    assert len(model.tiles) == 8
    assert model._repr_html_().count('class="gjs-tile"') == 8  # displays in a notebook


@case
def partitioning_html_escapes_and_links():
    engine, enp, _, _ = _libs()
    from visualize.partitioning import partitioning
    from visualize.partitioning_html import partitioning_html

    me, _ = _meshes()

    def f(a, b):
        return enp.sum(a @ b, axis=0)

    f.__name__ = "<img src=x onerror=alert(1)>"
    a = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    b = _put(engine, me, np.ones((16, 4), np.float32), "y", None)
    view = partitioning(engine.jit(f), a, b)
    page = partitioning_html(view, uid="p")
    assert "<img" not in page and "&lt;img src=x" in page
    red = [c for c in view.collectives if c.kind == "all-reduce"][0]
    assert f'href="#p-after-{red.line}"' in page and f'id="p-after-{red.line}"' in page
    assert 'class="gjp-coll"' in page and 'class="gjp-ann"' in page
    assert "spmd-partitioning" in page
    assert 'class="gjp-root"' in view._repr_html_()
    short = partitioning_html(view, uid="q", max_module_lines=3)
    assert "more lines" in short and 'id="q-after-3"' not in short
    assert f'href="#q-after-{red.line}"' not in short  # no link to a line not shown


@case
def report_includes_partitioning_section():
    engine, enp, _, _ = _libs()
    import visualize

    me, _ = _meshes()
    a = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    b = _put(engine, me, np.ones((16, 4), np.float32), "y", None)
    r = visualize.build_report(lambda a, b: a @ b, a, b, repeats=1, warmup=0, profile=False)
    assert r.partitioning is not None and r.partitioning.counts().get("all-reduce", 0) >= 1
    assert 'id="gjr-partitioning"' in r.html and 'class="gjs-grid"' in r.html
    one = visualize.build_report(lambda a: a + 1, np.ones(3, np.float32), repeats=1, profile=False)
    assert one.partitioning is None and 'id="gjr-partitioning"' not in one.html


@case
def explorer_shows_partitioning_pane():
    engine, enp, _, _ = _libs()
    from notebook_ext.explorer import explore

    me, _ = _meshes()
    a = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    b = _put(engine, me, np.ones((16, 4), np.float32), "y", None)
    e = explore(lambda a, b: a @ b, a, b, lazy=False, graph_layout="browser", measure=False)
    assert e.error is None, e.error
    assert e.partitioning is not None and e.partitioning.counts().get("all-reduce", 0) >= 1
    pane = 'class="gj-pane gjx-part-pane"'  # the Source pane shows this file's text too
    assert pane in e.html
    red = [c for c in e.partitioning.collectives if c.kind == "all-reduce"][0]
    # the collective's row carries the optimized HLO instruction name the linker uses
    assert f'data-hlo-opt="{red.name}"' in e.html
    one = explore(lambda a: a + 1, np.ones(3, np.float32), lazy=False, measure=False)
    assert one.partitioning is None, one.partitioning
    assert pane not in one.html


@case
def pass_stepper_marks_partitioner_passes():
    engine, enp, _, _ = _libs()
    from notebook_ext.fusion_stepper import fusion_stepper

    me, _ = _meshes()
    a = _put(engine, me, np.ones((8, 16), np.float32), "x", "y")
    b = _put(engine, me, np.ones((16, 4), np.float32), "y", None)
    s = fusion_stepper(lambda a, b: a @ b, a, b, lazy=False, graph_layout="browser")
    assert s.error is None, s.error
    part = s.partitioner_steps()
    names = {p.pass_name for p in part}
    assert {"sharding-propagation", "spmd-partitioning"} & names, names
    first = next(p for p in s.steps if p.collectives)
    assert first.is_partitioner_pass and first.collectives.get("all-reduce", 0) >= 1
    s.go(first)
    st = s.state()
    assert st["partitioner"] and st["collectives"] == first.collectives
    assert "SPMD partitioner" in s.info.value and "all-reduce" in s.info.value


# ---------------------------------------------------------------- the subprocess


@pytest.mark.parametrize("name", sorted(CASES))
def test_visualize_sharding_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
