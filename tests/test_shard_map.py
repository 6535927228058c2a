"""shard_map with collectives on 8 CPU devices, against real JAX 0.10.2: values, output
shardings, grad, jit and vmap of a shard_map, and JAX's errors for bad specs.

Both JAX and the engine need 8 CPU devices before their backends start, and the rest of
the suite expects one: the tests run in a child process of their own (test_in_a_child),
which sets the device count first."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import engine
import engine.lax as elax
from tests.helpers import assert_close, rand, real_jax

_CHILD = "GLASSJAX_SHARD_MAP_CHILD"


def _eight_devices():
    jax, _ = real_jax()
    for update in (jax.config.update, engine.config.update):
        try:
            update("jax_num_cpu_devices", 8)
        except Exception:  # a backend already started with its own count
            pass
    return len(jax.devices()) == 8 and len(engine.devices()) == 8


IN_CHILD = os.environ.get(_CHILD) == "1"
HAVE_8 = IN_CHILD and _eight_devices()
needs_8 = pytest.mark.skipif(not HAVE_8, reason="runs in the child process (test_in_a_child)")


def rerun_in_child(path):
    """Run the test file at ``path`` in a fresh process that can start 8 devices."""
    env = dict(os.environ, **{_CHILD: "1"})
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", path],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    summary = r.stdout.strip().splitlines()[-1]
    skipped = re.search(r"(\d+) skipped", summary)
    # every test ran there but test_in_a_child itself
    assert " passed" in summary and (skipped is None or skipped.group(1) == "1"), summary


in_parent_only = pytest.mark.skipif(IN_CHILD, reason="this is the child")


@in_parent_only
def test_in_a_child():
    rerun_in_child(__file__)


def meshes(shape, names):
    jax, _ = real_jax()
    ours = engine.sharding.Mesh(np.array(engine.devices()).reshape(shape), names)
    theirs = jax.sharding.Mesh(np.array(jax.devices()).reshape(shape), names)
    return ours, theirs


def both(make, *args, shape=(4, 2), names=("i", "j"), rtol=1e-5, atol=1e-5):
    """make(shard_map, lax, P, mesh) -> function; run on both, compare values and the
    output shardings' specs."""
    jax, _ = real_jax()
    m_e, m_j = meshes(shape, names)
    got = make(engine.shard_map, elax, engine.P, m_e)(*args)
    want = make(jax.shard_map, jax.lax, jax.P, m_j)(*args)
    assert_close(got, want, rtol=rtol, atol=atol)
    for g, w in zip(engine.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        if hasattr(w, "sharding") and hasattr(w.sharding, "spec"):
            assert tuple(g.sharding.spec) == tuple(w.sharding.spec), (g.sharding, w.sharding)
    return got, want


X = rand((8, 4), seed=0)


@needs_8
@pytest.mark.parametrize(
    "in_spec,out_spec,axes",
    [
        (("i", "j"), (None, "j"), "i"),
        (("i", "j"), ("i",), "j"),
        (("i", "j"), (), ("i", "j")),
        ((("i", "j"),), (), ("i", "j")),
        (("i",), (), "i"),
    ],
)
def test_psum_specs(in_spec, out_spec, axes):
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v: lax.psum(v, axes), mesh=mesh, in_specs=P(*in_spec), out_specs=P(*out_spec)
        ),
        X,
    )


@needs_8
def test_collectives_on_a_1d_mesh():
    x = rand((16, 3), seed=1)

    def make(smap, lax, P, mesh):
        def body(v):
            return (
                lax.pmean(v, "d"),
                lax.pmax(v, "d"),
                lax.pmin(v, "d"),
                lax.all_gather(v, "d", tiled=True),
                lax.all_gather(v, "d"),
                lax.psum_scatter(lax.all_gather(v, "d", tiled=True), "d", tiled=True),
                lax.ppermute(v, "d", [(k, (k + 1) % 8) for k in range(8)]),
                lax.ppermute(v, "d", [(0, 3), (5, 1)]),
                v * lax.axis_index("d") + lax.axis_size("d"),
            )

        rep, shd = P(), P("d")
        outs = (rep, rep, rep, rep, rep, shd, shd, shd, shd)
        return smap(body, mesh=mesh, in_specs=P("d"), out_specs=outs, check_vma=False)

    both(make, x, shape=(8,), names=("d",))


@needs_8
def test_all_to_all_and_psum_scatter():
    x = rand((8, 8, 2), seed=2)

    def make(smap, lax, P, mesh):
        def body(v):  # v: [1, 8, 2]
            return (
                lax.all_to_all(v, "d", 1, 0, tiled=True),
                lax.psum_scatter(v, "d", scatter_dimension=1, tiled=True),
                lax.all_to_all(v[0], "d", 0, 0),
            )

        return smap(body, mesh=mesh, in_specs=P("d"), out_specs=(P("d"), P("d"), P("d")))

    both(make, x, shape=(8,), names=("d",))


@needs_8
def test_axis_index_over_two_axes_and_pbroadcast():
    x = rand((4, 2, 3), seed=3)

    def make(smap, lax, P, mesh):
        def body(v):
            return v * lax.axis_index(("i", "j"))

        return smap(body, mesh=mesh, in_specs=P("i", "j"), out_specs=P("i", "j"))

    both(make, x)
    # JAX 0.10.2 lowers pbroadcast on GPU only; NumPy gives the expected blocks
    m_e, _ = meshes((4, 2), ("i", "j"))
    got = engine.shard_map(
        lambda v: elax.pbroadcast(v, "i", 2),
        mesh=m_e,
        in_specs=engine.P("i", "j"),
        out_specs=engine.P("i", "j"),
    )(x)
    np.testing.assert_array_equal(np.asarray(got), np.broadcast_to(x[2], x.shape))


@needs_8
@pytest.mark.parametrize("check_vma", [True, False])
def test_grad_of_shard_map_with_psum(check_vma):
    """Data-parallel loss: replicated weights, batch split over both mesh axes."""
    jax, _ = real_jax()
    w = rand((4, 3), seed=4)
    m_e, m_j = meshes((4, 2), ("i", "j"))

    def make(smap, lax, P, mesh):
        def loss(w, x):
            body = lambda w, x: lax.psum((lax.tanh(x @ w) ** 2).sum(), ("i", "j"))
            return smap(
                body, mesh=mesh, in_specs=(P(), P(("i", "j"))), out_specs=P(), check_vma=check_vma
            )(w, x)

        return loss

    got = engine.value_and_grad(make(engine.shard_map, elax, engine.P, m_e), argnums=(0, 1))(w, X)
    want = jax.value_and_grad(make(jax.shard_map, jax.lax, jax.P, m_j), argnums=(0, 1))(w, X)
    assert_close(got, want, rtol=1e-4, atol=1e-5)
    got = engine.jit(engine.grad(make(engine.shard_map, elax, engine.P, m_e)))(w, X)
    assert_close(got, want[1][0], rtol=1e-4, atol=1e-5)


@needs_8
def test_grad_through_gather_scatter_and_permute():
    jax, _ = real_jax()
    x = rand((8, 4), seed=5)
    m_e, m_j = meshes((8,), ("d",))

    def make(smap, lax, P, mesh):
        def body(v):
            g = lax.all_gather(v, "d", tiled=True)  # [8, 4]
            s = lax.psum_scatter(g * g, "d", tiled=True)  # [1, 4]
            p = lax.ppermute(s * v, "d", [(k, (k + 3) % 8) for k in range(8)])
            return lax.pmean((p * lax.axis_index("d")).sum(), "d")

        return lambda v: smap(body, mesh=mesh, in_specs=P("d"), out_specs=P())(v)

    assert_close(
        engine.grad(make(engine.shard_map, elax, engine.P, m_e))(x),
        jax.grad(make(jax.shard_map, jax.lax, jax.P, m_j))(x),
        rtol=1e-4,
        atol=1e-5,
    )


@needs_8
def test_jit_and_vmap_of_shard_map_and_vmap_inside():
    jax, _ = real_jax()
    xs = rand((3, 8, 4), seed=6)

    def make(smap, lax, P, mesh):
        body = lambda v: lax.psum(v, "i") * lax.axis_index("j")
        return smap(body, mesh=mesh, in_specs=P("i", "j"), out_specs=P(None, "j"))

    m_e, m_j = meshes((4, 2), ("i", "j"))
    f_e, f_j = make(engine.shard_map, elax, engine.P, m_e), make(jax.shard_map, jax.lax, jax.P, m_j)
    assert_close(engine.jit(f_e)(xs[0]), jax.jit(f_j)(xs[0]))
    assert_close(engine.vmap(f_e)(xs), jax.vmap(f_j)(xs))
    xt = np.ascontiguousarray(xs.transpose(1, 0, 2))
    assert_close(engine.vmap(f_e, in_axes=1)(xt), jax.vmap(f_j, in_axes=1)(xt))
    assert_close(
        engine.vmap(f_e, in_axes=1, out_axes=1)(xt), jax.vmap(f_j, in_axes=1, out_axes=1)(xt)
    )

    def inner(smap, lax, P, mesh, vmap):
        body = lambda v: vmap(lambda r: lax.psum(r, "k") + lax.psum(r, "i"), axis_name="k")(v)
        return smap(body, mesh=mesh, in_specs=P("i"), out_specs=P(), check_vma=False)

    assert_close(
        inner(engine.shard_map, elax, engine.P, m_e, engine.vmap)(xs[0]),
        inner(jax.shard_map, jax.lax, jax.P, m_j, jax.vmap)(xs[0]),
    )


@needs_8
def test_pytrees_and_partial_axis_names():
    def make(smap, lax, P, mesh):
        body = lambda d: {"s": lax.psum(d["a"], "i"), "t": d["b"] * 2}
        return smap(body, mesh=mesh, in_specs=({"a": P("i"), "b": P()},), out_specs=P())

    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    arg = {"a": X, "b": rand((3,), seed=7)}
    assert_close(
        make(engine.shard_map, elax, engine.P, m_e)(arg),
        make(jax.shard_map, jax.lax, jax.P, m_j)(arg),
    )


@needs_8
def test_out_spec_claiming_replication_of_a_varying_value():
    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    phrase = "out_specs which require replication which can't be statically inferred"
    detail = "replicated across mesh axis 'i', but could not infer replication"
    for smap, P, mesh in ((jax.shard_map, jax.P, m_j), (engine.shard_map, engine.P, m_e)):
        with pytest.raises(ValueError, match=phrase) as err:
            smap(lambda v: v * 2, mesh=mesh, in_specs=P("i", "j"), out_specs=P(None, "j"))(X)
        assert detail in str(err.value)
        # axis_index varies too; a psum over it makes it replicated again
        lax = jax.lax if smap is jax.shard_map else elax
        with pytest.raises(ValueError, match=phrase):
            smap(lambda v: v + lax.axis_index("j"), mesh=mesh, in_specs=P(), out_specs=P())(X)
        # a psum over the varying axes makes the value replicated again
        smap(
            lambda v: lax.psum(v * lax.axis_index("j"), ("i", "j")),
            mesh=mesh,
            in_specs=P("i", "j"),
            out_specs=P(),
        )(X)
    # the session still works; check_vma=False takes the claim on trust, as JAX does
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v: lax.pmax(v, "i") * 2,
            mesh=mesh,
            in_specs=P("i", "j"),
            out_specs=P(None, "j"),
        ),
        X,
    )
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v: v * 2, mesh=mesh, in_specs=P(), out_specs=P(), check_vma=False
        ),
        X,
    )


@needs_8
def test_bad_specs():
    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    for smap, P, mesh in ((jax.shard_map, jax.P, m_j), (engine.shard_map, engine.P, m_e)):
        with pytest.raises(ValueError, match="must refer to an axis marked as manual"):
            smap(lambda v: v, mesh=mesh, in_specs=P("k"), out_specs=P("k"))(X)
        with pytest.raises(ValueError, match="not evenly divisible by the corresponding mesh axis"):
            smap(lambda v: v, mesh=mesh, in_specs=P(None, "i"), out_specs=P(None, "i"))(
                np.ones((3, 6), np.float32)
            )
        with pytest.raises(TypeError, match="in_specs argument must be a pytree of"):
            smap(lambda v: v, mesh=mesh, in_specs=("i",), out_specs=P())(X)
        with pytest.raises(ValueError, match="which is too long to be compatible"):
            smap(lambda v: v, mesh=mesh, in_specs=P("i", None, "j"), out_specs=P())(X)
        # (with check_vma on, JAX 0.10.2 fails an assertion before naming the axis)
        lax = jax.lax if smap is jax.shard_map else elax
        with pytest.raises(NameError, match="unbound axis name: k"):
            smap(
                lambda v: lax.psum(v, "k"),
                mesh=mesh,
                in_specs=P("i"),
                out_specs=P(),
                check_vma=False,
            )(X)
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v: lax.psum(v, "j"), mesh=mesh, in_specs=P(None, "j"), out_specs=P()
        ),
        X,
    )


@needs_8
def test_none_in_specs_close_over_the_argument():
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v, c: lax.psum(v, "i") * c, mesh=mesh, in_specs=(P("i"), None), out_specs=P()
        ),
        X,
        3.0,
    )


@needs_8
def test_context_mesh():
    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    with engine.set_mesh(m_e):
        got = engine.shard_map(
            lambda v: elax.psum(v, "i"), in_specs=engine.P("i"), out_specs=engine.P()
        )(X)
    with jax.set_mesh(m_j):
        want = jax.shard_map(
            lambda v: jax.lax.psum(v, "i"), in_specs=jax.P("i"), out_specs=jax.P()
        )(X)
    assert_close(got, want)
    with pytest.raises(ValueError, match="The context mesh cannot be empty"):
        engine.shard_map(lambda v: v, in_specs=engine.P(), out_specs=engine.P())(X)
    # an AbstractMesh runs on the context mesh's devices; another mesh is refused
    other_e, other_j = meshes((2, 4), ("i", "j"))
    for lib, lax, mesh, other in ((jax, jax.lax, m_j, other_j), (engine, elax, m_e, other_e)):
        f = lib.shard_map(
            lambda v, lax=lax: lax.psum(v, "i"),
            mesh=mesh.abstract_mesh,
            in_specs=lib.P("i"),
            out_specs=lib.P(),
        )
        with lib.set_mesh(mesh):
            for y in (f(X), lib.jit(f)(X)):
                assert_close(y, want)
                assert len(y.sharding.mesh.devices.flat) == 8
        with lib.set_mesh(other):
            with pytest.raises(ValueError, match="should match the mesh passed to shard_map"):
                f(X)


def _collectives(text):
    """Each collective op's kind and groups in a StableHLO module, in program order."""
    found = []
    for line in text.splitlines():
        m = re.search(
            r'"?stablehlo\.(all_reduce|all_gather|reduce_scatter|all_to_all|collective_permute)"?',
            line,
        )
        if m:
            groups = re.search(r"(replica_groups|source_target_pairs) = (dense<[^>]*>)", line)
            found.append((m.group(1), groups.group(2) if groups else None))
    return found


@needs_8
def test_spmd_program_is_jax_s():
    """The program runs over all 8 devices and is the module JAX lowers: one
    sdy.manual_computation with the same shardings, the same collectives and groups."""
    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    x = rand((8, 4), seed=8)

    def make(smap, lax, P, mesh):
        def body(v):
            return (
                lax.psum(v, "i"),
                lax.all_gather(v, "j", axis=1, tiled=True),
                lax.ppermute(v, "i", [(0, 1), (1, 2), (2, 3), (3, 0)]),
                v * lax.axis_index("j"),
                lax.psum_scatter(
                    lax.all_gather(v, "j", axis=1, tiled=True), "j", scatter_dimension=1, tiled=True
                ),
                lax.all_to_all(v, "j", 1, 1, tiled=True),
            )

        outs = (P(None, "j"), P("i"), P("i", "j"), P("i", "j"), P("i", "j"), P("i", "j"))
        return smap(body, mesh=mesh, in_specs=P("i", "j"), out_specs=outs, check_vma=False)

    f_e = make(engine.shard_map, elax, engine.P, m_e)
    got = f_e(x)
    want = make(jax.shard_map, jax.lax, jax.P, m_j)(x)
    assert_close(got, want)
    for g in got:
        shards = g.addressable_shards
        assert sorted(s.device.id for s in shards) == list(range(8))
    lowered = engine.jit(f_e).lower(x)
    ours = lowered.as_text()
    theirs = jax.jit(make(jax.shard_map, jax.lax, jax.P, m_j)).lower(x).as_text()
    assert _collectives(ours) == _collectives(theirs)
    assert len(_collectives(ours)) == 6
    manual = lambda t: re.search(r"sdy\.manual_computation\(%arg0\) (.*?) \(%arg1", t).group(1)  # noqa: E731
    assert manual(ours) == manual(theirs)
    assert "mhlo.num_partitions = 8" in ours
    assert_close(engine.jit(f_e)(x), want)
    # after XLA's SPMD partitioner: the same collectives as JAX's compiled program
    hlo_j = jax.jit(make(jax.shard_map, jax.lax, jax.P, m_j)).lower(x).compile().as_text()
    hlo_e = lowered.compile().as_text()
    for op in (
        "all-reduce(",
        "all-gather(",
        "collective-permute(",
        "reduce-scatter(",
        "all-to-all(",
    ):
        assert hlo_e.count(op) == hlo_j.count(op), op
    assert hlo_e.count("all-reduce(") >= 1 and hlo_e.count("collective-permute(") >= 1


@needs_8
def test_explicit_mesh_specs_inferred_and_checked():
    """On make_mesh's Explicit axes, in_specs default to the arguments' shardings and
    must match them when given; on Auto axes they are required."""
    jax, _ = real_jax()
    x = rand((8, 16), seed=10)
    for lib, lax in ((jax, jax.lax), (engine, elax)):
        mesh = lib.make_mesh((4, 2), ("x", "y"))
        body = lambda a: lax.psum(a, "y")  # noqa: E731
        given = lib.shard_map(body, mesh=mesh, in_specs=lib.P("x", "y"), out_specs=lib.P("x"))
        with pytest.raises(
            ValueError, match=r"in_specs passed to shard_map: P\('x', 'y'\) does not"
        ):
            given(x)
        placed = lib.device_put(x, lib.sharding.NamedSharding(mesh, lib.P("x", "y")))
        inferred = lib.shard_map(body, mesh=mesh, out_specs=lib.P("x"))
        for out in (given(placed), inferred(placed)):
            np.testing.assert_allclose(np.asarray(out), x.reshape(8, 2, 8).sum(1), rtol=1e-6)
            assert tuple(out.sharding.spec) == ("x",)
        auto = lib.sharding.Mesh(np.array(lib.devices()).reshape(4, 2), ("x", "y"))
        with pytest.raises(TypeError, match="but it was `None` when axis_names="):
            lib.shard_map(body, mesh=auto, out_specs=lib.P())(x)


@needs_8
def test_debug_print_inside_shard_map(capfd):
    """A body with a host callback prints once per block, as JAX's does."""
    jax, _ = real_jax()
    x = np.arange(4.0, dtype=np.float32)
    printed = []
    for lib, lax in ((jax, jax.lax), (engine, elax)):
        mesh = lib.sharding.Mesh(np.array(lib.devices()[:4]), ("x",))

        def body(a, lib=lib, lax=lax):
            lib.debug.print("block {}", a)
            return lax.psum(a, "x")

        out = lib.shard_map(body, mesh=mesh, in_specs=lib.P("x"), out_specs=lib.P())(x)
        lib.effects_barrier()
        np.testing.assert_allclose(np.asarray(out), [6.0])
        printed.append(sorted(capfd.readouterr().out.splitlines()))
    assert printed[0] == printed[1] == [f"block [{i}.]" for i in range(4)]


@needs_8
def test_jaxpr_text_matches_jax_without_vma_types():
    """With check_vma=False (no varying-axis types in JAX's text) the jaxprs print alike."""
    jax, _ = real_jax()
    m_e, m_j = meshes((4, 2), ("i", "j"))
    x = np.ones((8, 4), np.float32)

    def make(smap, lax, P, mesh):
        def body(v):
            return (
                lax.psum(v * lax.axis_index("j"), "i"),
                lax.all_gather(v, "j", tiled=True),
                lax.all_to_all(v, "j", 0, 0, tiled=True),
                lax.psum_scatter(v, "j", scatter_dimension=1, tiled=True),
                lax.ppermute(lax.pmax(v, "j"), "i", [(0, 1), (1, 0)]),
            )

        outs = (P(None, "j"), P("i"), P("i", "j"), P("i", "j"), P("i", "j"))
        return smap(body, mesh=mesh, in_specs=P("i", "j"), out_specs=outs, check_vma=False)

    x = np.ones((8, 8), np.float32)
    engine.config.update("jax_enable_checks", True)  # every traced jaxpr type-checked
    try:
        ours = str(engine.make_jaxpr(make(engine.shard_map, elax, engine.P, m_e))(x))
    finally:
        engine.config.update("jax_enable_checks", False)
    theirs = str(jax.make_jaxpr(make(jax.shard_map, jax.lax, jax.P, m_j))(x))
    assert ours == theirs, (ours, theirs)


@needs_8
def test_jax_docstring_examples_print_alike():
    """lax.axis_size / axis_index docstring examples: the same reprs as JAX's."""
    jax, _ = real_jax()
    shown = []
    for lib, lax in ((jax, jax.lax), (engine, elax)):
        mesh = lib.make_mesh((8,), "i")
        mesh2 = lib.make_mesh((4, 2), ("i", "j"))
        place = lambda x, m, spec: lib.device_put(x, lib.NamedSharding(m, spec))  # noqa: E731
        f = lib.shard_map(
            lambda _: lax.axis_size("i"), mesh=mesh, in_specs=lib.P("i"), out_specs=lib.P()
        )
        g = lib.shard_map(
            lambda _: lax.axis_size(("i", "j")),
            mesh=mesh2,
            in_specs=lib.P("i", "j"),
            out_specs=lib.P(),
        )
        h = lib.shard_map(
            lambda x: lax.axis_index(("i", "j")).reshape(1, 1) + 0 * x[:1, :1].astype(np.int32),
            mesh=mesh2,
            in_specs=lib.P("i", "j"),
            out_specs=lib.P("i", "j"),
        )
        shown.append(
            [
                repr(f(place(np.zeros(16, np.float32), mesh, lib.P("i")))),
                repr(g(place(np.zeros((16, 8), np.float32), mesh2, lib.P("i", "j")))),
                repr(h(place(np.zeros((4, 2), np.float32), mesh2, lib.P("i", "j")))),
            ]
        )
    assert shown[0] == shown[1]


@needs_8
def test_ppermute_negative_indices_and_duplicates():
    jax, _ = real_jax()
    x = rand((8, 2), seed=14)
    both(
        lambda smap, lax, P, mesh: smap(
            lambda v: lax.ppermute(v, "d", [(0, -1), (-1, 0)]),
            mesh=mesh,
            in_specs=P("d"),
            out_specs=P("d"),
        ),
        x,
        shape=(8,),
        names=("d",),
    )
    m_e, m_j = meshes((8,), ("d",))
    for smap, lax, P, mesh in (
        (jax.shard_map, jax.lax, jax.P, m_j),
        (engine.shard_map, elax, engine.P, m_e),
    ):
        with pytest.raises(ValueError, match="ppermute sources and destinations must be unique"):
            smap(
                lambda v: lax.ppermute(v, "d", [(0, 1), (2, 1)]),
                mesh=mesh,
                in_specs=P("d"),
                out_specs=P("d"),
            )(x)


@needs_8
def test_smap_and_partial_manual_axis_index():
    """jax.smap over one axis of the context mesh (the other stays automatic), with
    axis_index inside (lowered in a nested fully manual computation, as JAX)."""
    jax, _ = real_jax()
    x, w = rand((8, 4), seed=15), rand((4,), seed=16)
    outs = []
    for lib, lax in ((jax, jax.lax), (engine, elax)):
        mesh = lib.sharding.Mesh(np.array(lib.devices()).reshape(4, 2), ("i", "j"))
        with lib.set_mesh(mesh):
            f = lib.smap(
                lambda a, b: lax.psum(a * b, "i"), in_axes=(0, None), out_axes=None, axis_name="i"
            )
            g = lib.smap(lambda a: a * lax.axis_index("i"), in_axes=1, out_axes=1, axis_name="i")
            y, z = f(x, w), g(np.ones((2, 8), np.float32))
            outs.append(
                (np.asarray(y), np.asarray(z), tuple(y.sharding.spec), tuple(z.sharding.spec))
            )
    for a, b in zip(*outs):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:
            assert a == b
