"""Collectives under vmap(axis_name=...): values, dtypes, derivatives and errors,
each compared with real JAX (no devices needed: a named vmap axis is enough)."""

import numpy as np
import pytest

import engine
import engine.lax as elax
from tests.helpers import assert_close, rand, real_jax

X = rand((4, 6), seed=1)
XI = np.arange(24, dtype=np.int32).reshape(4, 6)


def both(make, *args, in_axes=0, axis_name="i"):
    """make(lax) -> per-member function; vmap it in the engine and in JAX."""
    jax, _ = real_jax()
    got = engine.vmap(make(elax), in_axes=in_axes, axis_name=axis_name)(*args)
    want = jax.vmap(make(jax.lax), in_axes=in_axes, axis_name=axis_name)(*args)
    assert_close(got, want)
    return got, want


@pytest.mark.parametrize("name", ["psum", "pmean", "pmax", "pmin"])
@pytest.mark.parametrize("x", [X, XI], ids=["f32", "i32"])
def test_reductions(name, x):
    both(lambda lax: lambda v: getattr(lax, name)(v, "i"), x)


def test_psum_bool_and_pytree_and_constant():
    b = X > 0
    both(lambda lax: lambda v: lax.psum(v, "i"), b)
    both(lambda lax: lambda v: lax.psum({"a": v, "b": (v * 2,)}, "i"), X)
    got, want = both(lambda lax: lambda v: v + lax.psum(1, "i"), X)
    both(lambda lax: lambda v: lax.axis_size("i") * v, X)


def test_axis_size_is_a_python_int():
    sizes = []
    engine.vmap(lambda v: sizes.append(elax.axis_size("i")) or v, axis_name="i")(X)
    assert sizes == [4] and type(sizes[0]) is int


def test_axis_index_and_in_axes():
    both(lambda lax: lambda v: lax.axis_index("i"), X)
    both(lambda lax: lambda v: v * lax.axis_index("i"), X, in_axes=1)
    both(lambda lax: lambda v: lax.psum(v, "i"), X, in_axes=1)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("tiled", [False, True])
def test_all_gather(axis, tiled):
    x = rand((4, 3, 2), seed=2)
    if tiled and axis == -1:
        axis = 1
    both(lambda lax: lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled), x)
    if axis == 0:  # the batch axis elsewhere than in front
        both(lambda lax: lambda v: lax.all_gather(v, "i", axis=axis, tiled=tiled), x, in_axes=2)


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("tiled", [False, True])
def test_psum_scatter(dim, tiled):
    shape = [3, 3]
    shape[dim] = 8 if tiled else 4
    x = rand((4, *shape), seed=3)
    both(lambda lax: lambda v: lax.psum_scatter(v, "i", scatter_dimension=dim, tiled=tiled), x)


@pytest.mark.parametrize("split,concat", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("tiled", [False, True])
def test_all_to_all(split, concat, tiled):
    shape = [3, 5]
    shape[split] = 8 if tiled else 4
    x = rand((4, *shape), seed=4)
    both(lambda lax: lambda v: lax.all_to_all(v, "i", split, concat, tiled=tiled), x)
    if tiled:
        return
    xt = np.ascontiguousarray(np.moveaxis(x, 0, 1))
    both(lambda lax: lambda v: lax.all_to_all(v, "i", split, concat, tiled=tiled), xt, in_axes=1)


def test_pswapaxes():
    x = rand((4, 3, 4), seed=12)
    both(lambda lax: lambda v: lax.pswapaxes(v, "i", 1), x)


@pytest.mark.parametrize(
    "perm",
    [[(0, 1), (1, 2), (2, 3), (3, 0)], [(0, 2), (3, 1)], [(1, 1)]],
    ids=["cycle", "partial", "one"],
)
def test_ppermute(perm):
    if len(perm) == X.shape[0]:
        both(lambda lax: lambda v: lax.ppermute(v, "i", perm), X)
    # JAX's vmap asserts on partial permutations; the documented result (members no one
    # sends to get zeros) is checked against NumPy, and against JAX's shard_map elsewhere
    want = np.zeros_like(X)
    for src, dst in perm:
        want[dst] = X[src]
    got = engine.vmap(lambda v: elax.ppermute(v, "i", perm), axis_name="i")(X)
    np.testing.assert_array_equal(np.asarray(got), want)


def test_pshuffle_and_pbroadcast():
    both(lambda lax: lambda v: lax.pshuffle(v, "i", [3, 0, 2, 1]), X)
    both(lambda lax: lambda v: lax.pbroadcast(v, "i", 2), X)


def test_nested_named_axes_and_tuples():
    jax, _ = real_jax()
    x = rand((2, 3, 5), seed=5)

    def make(lax):
        def f(v):
            return (
                lax.psum(v, ("i", "j")),
                lax.psum(v, "j"),
                lax.pmax(v, "i"),
                lax.axis_index(("i", "j")),
                lax.axis_size(("i", "j")) * v,
                lax.all_gather(v, "i"),
            )

        return f

    got = engine.vmap(engine.vmap(make(elax), axis_name="j"), axis_name="i")(x)
    want = jax.vmap(jax.vmap(make(jax.lax), axis_name="j"), axis_name="i")(x)
    assert_close(got, want)


def test_collectives_inside_jit_inside_vmap():
    jax, _ = real_jax()

    def make(lax, jit):
        return lambda v: jit(lambda u: lax.all_gather(lax.psum(u, "i") * lax.axis_index("i"), "i"))(
            v
        )

    got = engine.vmap(make(elax, engine.jit), axis_name="i")(X)
    want = jax.vmap(make(jax.lax, jax.jit), axis_name="i")(X)
    assert_close(got, want)
    # the same jitted body batched under another axis name is not taken from the memo
    got = engine.vmap(
        lambda v: engine.vmap(make(elax, engine.jit), axis_name="i")(v), axis_name="k"
    )(np.stack([X, 2 * X]))
    want = jax.vmap(lambda v: jax.vmap(make(jax.lax, jax.jit), axis_name="i")(v), axis_name="k")(
        np.stack([X, 2 * X])
    )
    assert_close(got, want)


def _grad_cases(lax):
    return {
        "psum": lambda v: (lax.psum(v, "i") * v).sum(),
        "pmean": lambda v: (lax.pmean(v * v, "i")).sum(),
        "all_gather": lambda v: (lax.all_gather(v, "i") ** 2).sum() * (1 + lax.axis_index("i")),
        "all_gather_tiled": lambda v: (lax.all_gather(v, "i", axis=0, tiled=True)[:7] ** 2).sum(),
        "psum_scatter": lambda v: (lax.psum_scatter(v[:4] * v[:4], "i") * 3.0).sum(),
        "all_to_all": lambda v: (lax.all_to_all(v[:4], "i", 0, 0) * np.arange(4.0)).sum(),
        "ppermute": lambda v: (lax.ppermute(v, "i", [(0, 1), (1, 3), (3, 0), (2, 2)]) * v).sum(),
        # (scalar: JAX 0.10.2's transpose calls full_like with the cotangent as fill value)
        "pbroadcast": lambda v: (lax.pbroadcast((v * v).sum(), "i", 1) * v).sum(),
    }


@pytest.mark.parametrize("case", list(_grad_cases(elax)))
def test_vmap_of_grad_and_jvp(case):
    jax, _ = real_jax()
    f_e, f_j = _grad_cases(elax)[case], _grad_cases(jax.lax)[case]
    got = engine.vmap(engine.grad(f_e), axis_name="i")(X)
    if case == "all_to_all":
        # JAX 0.10.2 fails here ("Expected cotangent type float32[4] but got
        # float32[4,4]"); the transpose sends member j's cotangent j back to each
        # member k's block j... so member k's gradient is k on the first 4 entries
        want = np.zeros_like(X)
        want[:, :4] = np.arange(4.0)[:, None]
        np.testing.assert_allclose(np.asarray(got), want)
    elif case == "pbroadcast":
        # JAX 0.10.2's pbroadcast batcher fails under grad (take with a list of
        # tracers). Member k: f_k = s_1 * sum(v_k), s_m = sum(v_m**2); the cotangents
        # sum(v_m) of every member reach member 1 through the broadcast's transpose.
        s = (X * X).sum(1)
        want = np.broadcast_to(s[1], X.shape).copy()
        want[1] += 2 * X[1] * X.sum()
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
        return
    else:
        want = jax.vmap(jax.grad(f_j), axis_name="i")(X)
        assert_close(got, want, rtol=1e-5, atol=1e-5)
    t = rand(X.shape, seed=9)
    assert_close(
        engine.vmap(lambda p, q: engine.jvp(f_e, (p,), (q,)), axis_name="i")(X, t),
        jax.vmap(lambda p, q: jax.jvp(f_j, (p,), (q,)), axis_name="i")(X, t),
        rtol=1e-5,
        atol=1e-5,
    )


def test_grad_of_vmap_with_collective():
    jax, _ = real_jax()

    def make(lax, vmap):
        return lambda w: (vmap(lambda v: lax.psum(v * w, "i") ** 2, axis_name="i")(X)).sum()

    w = rand((6,), seed=7)
    assert_close(
        engine.grad(make(elax, engine.vmap))(w), jax.grad(make(jax.lax, jax.vmap))(w), rtol=1e-5
    )


def test_pmax_has_no_derivative_like_jax():
    jax, _ = real_jax()
    with pytest.raises(NotImplementedError) as want:
        jax.vmap(jax.grad(lambda v: jax.lax.pmax(v, "i").sum()), axis_name="i")(X)
    with pytest.raises(NotImplementedError) as got:
        engine.vmap(engine.grad(lambda v: elax.pmax(v, "i").sum()), axis_name="i")(X)
    assert "pmax" in str(got.value) and "pmax" in str(want.value)


def test_unbound_axis_name():
    jax, _ = real_jax()
    with pytest.raises(NameError, match="unbound axis name: j") as want:
        jax.vmap(lambda v: jax.lax.psum(v, "j"), axis_name="i")(X)
    with pytest.raises(NameError, match="unbound axis name: j"):
        engine.vmap(lambda v: elax.psum(v, "j"), axis_name="i")(X)
    with pytest.raises(NameError, match="unbound axis name: i"):
        elax.psum(X, "i")
    with pytest.raises(NameError, match="unbound axis name: i"):
        elax.axis_index("i")
    assert "unbound axis name" in str(want.value)
    # the session is still usable
    both(lambda lax: lambda v: lax.psum(v, "i"), X)


def test_all_to_all_size_mismatch():
    jax, _ = real_jax()
    phrase = "all_to_all requires the size of the mapped axis axis_name to equal"
    with pytest.raises(ValueError, match=phrase):
        jax.vmap(lambda v: jax.lax.all_to_all(v, "i", 0, 0), axis_name="i")(X)
    with pytest.raises(ValueError, match=phrase):
        engine.vmap(lambda v: elax.all_to_all(v, "i", 0, 0), axis_name="i")(X)


def test_all_to_all_shape_follows_the_axis_size():
    """The same per-member shape under axes of two sizes (the shape rule reads the size)."""
    jax, _ = real_jax()
    for n in (4, 2):
        x = rand((n, 8, 2), seed=n)
        both(lambda lax: lambda v: lax.all_to_all(v, "i", 0, 1, tiled=True), x)
        got = engine.vmap(
            engine.jit(lambda v: elax.all_to_all(v, "i", 0, 1, tiled=True)), axis_name="i"
        )(x)
        want = jax.vmap(
            jax.jit(lambda v: jax.lax.all_to_all(v, "i", 0, 1, tiled=True)), axis_name="i"
        )(x)
        assert_close(got, want)


def test_one_jit_under_named_axes_of_two_sizes():
    """A jitted function's trace depends on the named axes in scope (as JAX's cache)."""
    jax, _ = real_jax()
    g_e = engine.jit(lambda v: (elax.all_gather(v, "i"), v * elax.axis_size("i")))
    g_j = jax.jit(lambda v: (jax.lax.all_gather(v, "i"), v * jax.lax.axis_size("i")))
    for n in (4, 2):
        x = rand((n, 3), seed=n)
        assert_close(engine.vmap(g_e, axis_name="i")(x), jax.vmap(g_j, axis_name="i")(x))
