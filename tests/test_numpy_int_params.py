"""Where JAX 0.10.2 stores NumPy integers in equation params (its broadcast_in_dim
batching rule's ``np.add(1, dims)``, jnp.split's ``np.int64`` sizes), the engine stores
the same types: the jaxpr text is JAX's (``np.int64(2)``), and such params still compare,
hash, differentiate and lower to the same static StableHLO ops as JAX's."""

import numpy as np
import pytest
from helpers import assert_close, jaxpr_text, real_jax

import engine
import engine.numpy as enp
from engine import lax as elax

jax, jnp = real_jax()
jlax = jax.lax

X = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(2, 3, 4)


def _both(build):
    """build(np_module, lax_module, vmap) for the engine and for JAX."""
    return build(enp, elax, engine.vmap), build(jnp, jlax, jax.vmap)


VMAPPED = {
    "broadcast_in_dim": lambda n, lx, vm: vm(lambda x: lx.broadcast_in_dim(x, (3, 5, 4), (0, 2))),
    "broadcast_in_dim_nested": lambda n, lx, vm: vm(
        vm(lambda x: lx.broadcast_in_dim(x, (2, 4, 5), (1,)))
    ),
    "vstack": lambda n, lx, vm: vm(n.vstack),
    "expand_dims": lambda n, lx, vm: vm(lambda x: n.expand_dims(x, 1)),
    "broadcast_to": lambda n, lx, vm: vm(lambda x: n.broadcast_to(x, (2, 3, 4))),
    # JAX canonicalizes these to ints after its np.add: they must stay ints here too
    "squeeze": lambda n, lx, vm: vm(lambda x: lx.squeeze(x[:, :1], (1,))),
    "reshape_dimensions": lambda n, lx, vm: vm(lambda x: lx.reshape(x, (4, 3), (1, 0))),
}


@pytest.mark.parametrize("name", sorted(VMAPPED))
def test_batched_jaxpr_text_identical(name):
    ours, theirs = jaxpr_text(*_both(VMAPPED[name]), X)
    assert ours == theirs


SPLITS = {
    "split_sections": lambda n: lambda x: n.split(x, 4, axis=2),
    "split_indices": lambda n: lambda x: n.split(x, [1, 3], axis=2),
    "array_split_uneven": lambda n: lambda x: n.array_split(x, 2, axis=1),
    "hsplit": lambda n: lambda x: n.hsplit(x, 3),
    "vsplit": lambda n: lambda x: n.vsplit(x, [1]),
    "split_last_axis_negative": lambda n: lambda x: n.split(x, 2, axis=-1),
}


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_jaxpr_text_identical(name):
    ours, theirs = jaxpr_text(SPLITS[name](enp), SPLITS[name](jnp), X)
    assert "np.int64(" in theirs
    assert ours == theirs


def test_split_sizes_are_numpy_integers_that_compare_and_hash_as_ints():
    (eqn,) = engine.make_jaxpr(SPLITS["split_sections"](enp))(X).jaxpr.eqns
    (theirs,) = jax.make_jaxpr(SPLITS["split_sections"](jnp))(X).jaxpr.eqns
    assert [type(s) for s in eqn.params["sizes"]] == [type(s) for s in theirs.params["sizes"]]
    assert eqn.params["sizes"] == (1, 1, 1, 1)
    assert hash(eqn.params["sizes"]) == hash((1, 1, 1, 1))


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split_lowers_to_static_slices_as_jax(name):
    def body(n):
        return lambda x: [p * (i + 1) for i, p in enumerate(SPLITS[name](n)(x))]

    ours = engine.jit(body(enp)).lower(X).as_text()
    theirs = jax.jit(body(jnp)).lower(X).as_text()
    assert "real_dynamic_slice" not in ours
    assert ours.count("stablehlo.slice") == theirs.count("stablehlo.slice") > 0
    assert_close(engine.jit(body(enp))(X), jax.jit(body(jnp))(X))


def test_split_grad_and_vmap_match_jax():
    def loss(n):
        return lambda x: sum(((i + 1.0) * p**2).sum() for i, p in enumerate(n.split(x, 2, -1)))

    assert_close(engine.grad(loss(enp))(X), jax.grad(loss(jnp))(X))
    assert_close(engine.vmap(loss(enp))(X), jax.vmap(loss(jnp))(X))
    ours, theirs = jaxpr_text(engine.grad(loss(enp)), jax.grad(loss(jnp)), X)
    assert ours == theirs


def test_batched_broadcast_values_and_lowering_match_jax():
    ours_f, theirs_f = _both(VMAPPED["broadcast_in_dim_nested"])
    assert_close(engine.jit(ours_f)(X), jax.jit(theirs_f)(X))
    ours = engine.jit(ours_f).lower(X).as_text()
    assert "stablehlo.broadcast_in_dim %arg0, dims = [0, 1, 3]" in ours
    assert "dims = [0, 1, 3]" in jax.jit(theirs_f).lower(X).as_text()
    assert_close(
        engine.grad(lambda x: ours_f(x).sum())(X), jax.grad(lambda x: theirs_f(x).sum())(X)
    )
