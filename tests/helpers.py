"""Shared test helpers: run the same function through the engine and through real JAX."""

import contextlib

import numpy as np

import engine

jax = None
jnp = None


def real_jax():
    """Import real JAX lazily (it is the oracle; the engine never imports it)."""
    global jax, jnp
    if jax is None:
        import jax as _jax
        import jax.numpy as _jnp

        # engine.runtime turns jaxlib's per-call Python tracebacks off when it is imported
        # before jax; the oracle's jaxprs need them for their equations' source lines.
        import jaxlib

        enable = getattr(getattr(jaxlib, "_jax", None), "set_tracebacks_enabled", None)
        if enable is not None:
            enable(True)
        jax, jnp = _jax, _jnp
    return jax, jnp


@contextlib.contextmanager
def x64_both(enabled=True):
    """Set real JAX's and the engine's ``jax_enable_x64`` together; restore both after."""
    jax = real_jax()[0]
    old_j, old_e = jax.config.jax_enable_x64, engine.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    engine.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old_j)
        engine.config.update("jax_enable_x64", old_e)


def to_np(x):
    return np.asarray(x)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Compare pytrees of arrays (engine or JAX or NumPy) leaf by leaf."""
    a_leaves, a_tree = engine.tree_util.tree_flatten(actual)
    jx, _ = real_jax()
    e_leaves, e_tree = jx.tree_util.tree_flatten(expected)
    assert len(a_leaves) == len(e_leaves), (a_tree, e_tree)
    for a, e in zip(a_leaves, e_leaves):
        a_np, e_np = np.asarray(a), np.asarray(e)
        assert a_np.shape == e_np.shape, (a_np.shape, e_np.shape)
        if check_dtype:
            assert a_np.dtype == e_np.dtype, (a_np.dtype, e_np.dtype)
        if e_np.dtype == np.dtype([("float0", "V")]) or e_np.dtype.kind == "V":
            continue
        if e_np.dtype.kind in "fc" or a_np.dtype.kind in "fc":
            np.testing.assert_allclose(
                a_np.astype(np.complex128 if e_np.dtype.kind == "c" else np.float64),
                e_np.astype(np.complex128 if e_np.dtype.kind == "c" else np.float64),
                rtol=rtol,
                atol=atol,
                equal_nan=True,
            )
        else:
            np.testing.assert_array_equal(a_np, e_np)


def weak_type_of(x):
    return bool(getattr(x, "weak_type", False))


def jaxpr_text(fn_engine, fn_jax, *args):
    """(engine's text, JAX's text) of make_jaxpr on the same NumPy inputs."""
    jx, _ = real_jax()
    return str(engine.make_jaxpr(fn_engine)(*args)), str(jx.make_jaxpr(fn_jax)(*args))


def rand(shape, dtype=np.float32, seed=0, low=-2.0, high=2.0):
    r = np.random.RandomState(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return r.randint(int(low), int(high) + 1, size=shape).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return r.rand(*shape) > 0.5
    return r.uniform(low, high, size=shape).astype(dtype)
