"""pmap (JAX 0.10.2's: jit of a shard_map over a one-axis mesh) on 8 CPU devices,
against real JAX: values, output shardings, in/out axes, static and donated arguments,
derivatives, the program's structure and JAX's errors."""

import numpy as np
import pytest

import engine
import engine.lax as elax
from tests.helpers import assert_close, rand, real_jax
from tests.test_shard_map import in_parent_only, needs_8, rerun_in_child


@in_parent_only
def test_in_a_child():
    rerun_in_child(__file__)


def both(make, *args, rtol=1e-5, atol=1e-6, **kwargs):
    jax, _ = real_jax()
    got = make(engine.pmap, elax)(*args, **kwargs)
    want = make(jax.pmap, jax.lax)(*args, **kwargs)
    assert_close(got, want, rtol=rtol, atol=atol)
    for g, w in zip(engine.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        assert tuple(g.sharding.spec) == tuple(w.sharding.spec), (g.sharding, w.sharding)
        assert len(g.sharding.mesh.devices.flat) == len(w.sharding.mesh.devices.flat)
    return got, want


@needs_8
@pytest.mark.parametrize("n", [8, 4, 1])
def test_collectives(n):
    x = rand((n, 3), seed=n)

    def make(pmap, lax):
        def member(v):
            return (
                v / lax.psum(v, "i"),
                lax.pmean(v, "i"),
                lax.pmax(v, "i"),
                lax.all_gather(v, "i"),
                v * lax.axis_index("i"),
                lax.ppermute(v, "i", [(k, (k + 1) % n) for k in range(n)]),
            )

        return pmap(member, axis_name="i")

    both(make, x)


@needs_8
def test_axis_index_groups():
    x = rand((4, 4), seed=9)
    pairs, crossed = [[0, 1], [2, 3]], [[0, 2], [3, 1]]

    def make(pmap, lax):
        def member(v):
            return (
                lax.psum(v, "i", axis_index_groups=pairs),
                lax.pmean(v, "i", axis_index_groups=crossed),
                lax.pmax(v, "i", axis_index_groups=pairs),
                lax.all_gather(v, "i", axis_index_groups=crossed),
                lax.psum_scatter(v, "i", axis_index_groups=pairs, tiled=True),
                lax.all_to_all(v, "i", 0, 0, axis_index_groups=crossed, tiled=True),
            )

        return pmap(member, axis_name="i")

    both(make, x)
    jax, _ = real_jax()
    for pmap, lax in ((jax.pmap, jax.lax), (engine.pmap, elax)):
        with pytest.raises(
            ValueError, match="axis_index_groups must cover all indices exactly once"
        ):
            pmap(lambda v: lax.psum(v, "i", axis_index_groups=[[0, 1], [1, 2]]), axis_name="i")(x)


@needs_8
def test_axes_kwargs_static_and_donated():
    x, w = rand((4, 2, 3), seed=1), rand((3, 5), seed=2)
    both(lambda pmap, lax: pmap(lambda a, b: a @ b, in_axes=(0, None), out_axes=1), x, w)
    both(lambda pmap, lax: pmap(lambda a, b: a @ b, in_axes=(1, None)), np.swapaxes(x, 0, 1), w)
    both(lambda pmap, lax: pmap(lambda a, b: (a, b), out_axes=(0, None)), x, x)
    both(lambda pmap, lax: pmap(lambda a, *, s: a * s), x, s=np.full((4,), 2.0, np.float32))
    both(
        lambda pmap, lax: pmap(lambda a, k: a * k, static_broadcasted_argnums=1, axis_name="i"),
        x,
        3,
    )
    both(lambda pmap, lax: pmap(lambda a, b: a + b, donate_argnums=0), x.copy(), x)


@needs_8
def test_default_axis_name_and_a_data_parallel_step():
    jax, _ = real_jax()
    xs, ys = rand((8, 4, 3), seed=3), rand((8, 4), seed=4)
    w = rand((3,), seed=5)

    def make(pmap, lax, grad):
        def step(w, x, y):
            g = grad(lambda w: ((x @ w - y) ** 2).mean())(w)
            return w - 0.1 * lax.pmean(g, "batch")

        return pmap(step, axis_name="batch", in_axes=(None, 0, 0))

    got = make(engine.pmap, elax, engine.grad)(w, xs, ys)
    want = make(jax.pmap, jax.lax, jax.grad)(w, xs, ys)
    assert_close(got, want, rtol=1e-5, atol=1e-6)
    both(lambda pmap, lax: pmap(lambda v: v + 1), xs)


@needs_8
def test_grad_of_pmap():
    jax, _ = real_jax()
    x = rand((8, 3), seed=6)

    def make(pmap, lax):
        f = pmap(
            lambda v, w: lax.psum(jnp_sin(lax, v * w).sum(), "i"), axis_name="i", in_axes=(0, None)
        )
        return lambda w: f(x, w).sum()

    w = rand((3,), seed=7)
    assert_close(
        engine.grad(make(engine.pmap, elax))(w), jax.grad(make(jax.pmap, jax.lax))(w), rtol=1e-5
    )


def jnp_sin(lax, x):
    return lax.sin(x)


@needs_8
def test_program_structure_matches_jax():
    jax, _ = real_jax()
    x = np.ones((4,), np.float32)
    ours = engine.make_jaxpr(engine.pmap(lambda v: elax.psum(v, "i"), axis_name="i"))(x)
    theirs = jax.make_jaxpr(jax.pmap(lambda v: jax.lax.psum(v, "i"), axis_name="i"))(x)

    def shape(eqns):
        out = []
        for e in eqns:
            inner = e.params.get("jaxpr")
            sub = getattr(inner, "jaxpr", inner)
            out.append((e.primitive.name, shape(sub.eqns) if sub is not None else None))
        return out

    assert shape(ours.jaxpr.eqns) == shape(theirs.jaxpr.eqns)
    assert str(ours) == str(theirs)
    (jit_eqn,) = ours.jaxpr.eqns
    assert jit_eqn.params["name"] == theirs.jaxpr.eqns[0].params["name"]
    (smap,) = jit_eqn.params["jaxpr"].jaxpr.eqns
    (jsmap,) = theirs.jaxpr.eqns[0].params["jaxpr"].eqns
    assert smap.params["check_vma"] is jsmap.params["check_vma"] is False
    assert [tuple(s) for s in smap.params["in_specs"]] == [
        tuple(s) for s in jsmap.params["in_specs"]
    ]


@needs_8
def test_errors():
    jax, _ = real_jax()
    for pmap in (jax.pmap, engine.pmap):
        with pytest.raises(
            ValueError, match="pmap requires at least one argument with a mapped axis"
        ):
            pmap(lambda a: a, in_axes=None)(np.ones(3))
        with pytest.raises(TypeError, match="pmap in_axes must be an int, None, or"):
            pmap(lambda a: a, in_axes="x")
        with pytest.raises(
            ValueError, match="static_broadcasted_argnums=.* but was called with only"
        ):
            pmap(lambda a, b: a, static_broadcasted_argnums=2)(np.ones(2), 1)
        with pytest.raises(ValueError, match="implies that array axis 0 is partitioned 8 times"):
            pmap(lambda a: a)(np.ones((9, 2)))
    # the session still works
    both(lambda pmap, lax: pmap(lambda v: lax.psum(v, "i"), axis_name="i"), rand((2, 2)))


@needs_8
def test_pmap_under_jit_and_vmap_and_vmap_inside():
    jax, _ = real_jax()
    x = rand((2, 4), seed=11)
    for wrap in ("jit", "vmap"):
        got = getattr(engine, wrap)(engine.pmap(lambda v: elax.psum(v, "i"), "i"))
        want = getattr(jax, wrap)(jax.pmap(lambda v: jax.lax.psum(v, "i"), "i"))
        arg = x[0] if wrap == "jit" else x
        assert_close(got(arg), want(arg))

    def inner(pmap, vmap, lax):
        member = vmap(lambda v: lax.psum(v, "i") * lax.axis_index("k"), axis_name="k")
        return pmap(member, "i")

    xt = np.ascontiguousarray(x.T)
    assert_close(inner(engine.pmap, engine.vmap, elax)(xt), inner(jax.pmap, jax.vmap, jax.lax)(xt))


@needs_8
def test_nested_pmap_is_refused_as_in_jax():
    jax, _ = real_jax()
    x = rand((2, 4), seed=12)
    for pmap, lax in ((jax.pmap, jax.lax), (engine.pmap, elax)):
        with pytest.raises(ValueError, match="should match the mesh passed to shard_map"):
            pmap(pmap(lambda v: lax.psum(v, "i"), "i"), "j")(x)


@needs_8
def test_lowered_over_the_devices_as_jax():
    jax, _ = real_jax()
    x = rand((8, 3), seed=13)

    def make(pmap, lax):
        return pmap(lambda v: lax.psum(v, "i") * lax.axis_index("i"), axis_name="i")

    ours = make(engine.pmap, elax).lower(x).as_text()
    theirs = make(jax.pmap, jax.lax).lower(x).as_text()
    for text in (ours, theirs):
        assert "mhlo.num_partitions = 8" in text and "sdy.manual_computation" in text
        assert "replica_groups = dense<[[0, 1, 2, 3, 4, 5, 6, 7]]>" in text
        assert "stablehlo.partition_id" in text


@needs_8
def test_devices_and_axis_size():
    jax, _ = real_jax()
    x = np.array([2.0, 3.0], np.float32)
    for lib, lax in ((jax, jax.lax), (engine, elax)):
        f = lib.pmap(lambda v: v / lax.psum(v, "i"), axis_name="i", devices=lib.devices()[-2:])
        y = f(x)
        np.testing.assert_allclose(np.asarray(y), [0.4, 0.6], rtol=1e-6)
        assert sorted(s.device.id for s in y.addressable_shards) == [6, 7]
        with pytest.raises(ValueError, match="Specified axis_size 3 doesn't match received"):
            lib.pmap(lambda v: v, axis_size=3)(np.ones((4,)))
