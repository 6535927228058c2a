"""vmap of slicing and indexing as JAX 0.10.2 batches it: a dynamic_slice or
dynamic_update_slice whose start index is batched becomes a gather or scatter (JAX's
``_dynamic_slice_batching_rule`` / ``_dynamic_update_slice_batching_rule``), and the
batched gather/scatter dimension numbers hold the NumPy integers JAX's rules build with
``np.add`` (``np.int64(1)`` in the text). Each program's ``make_jaxpr`` text and values
are compared with real JAX's; one 8-device case checks the types when the batch axis is
sharded over an Explicit mesh axis.

``jnp.take`` is wrapped in nested jits in JAX (``_take``, ``_where``) that the engine's
jnp.take does not make (jnp's, not a batching rule's): for it only the gather equation
is compared, with the values."""

from __future__ import annotations

import re

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()

_X3 = np.arange(60, dtype=np.float32).reshape(5, 4, 3)
_X2 = np.arange(12, dtype=np.float32).reshape(4, 3)
_U3 = np.arange(30, dtype=np.float32).reshape(5, 2, 3) + 100
_U2 = np.arange(6, dtype=np.float32).reshape(2, 3) + 100
_I = np.array([0, 1, 2, 3, -1], dtype=np.int32)  # -1 wraps; 3 is clamped
_I0 = np.int32(1)
_GI = np.array([[0], [2], [3]], np.int32)
_GIB = np.stack([_GI, _GI[::-1], _GI, _GI * 0, _GI + 1])
_GU = np.arange(9, dtype=np.float32).reshape(3, 3)
_GUB = np.arange(45, dtype=np.float32).reshape(5, 3, 3)
_TAKE = np.array([[0, 5], [1, 2], [3, 3], [0, 0], [11, 1]], np.int32)


def _g(L):
    return L.GatherDimensionNumbers(
        offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,)
    )


def _s(L):
    return L.ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )


def _ds(lib):
    return lambda x, i: lib.lax.dynamic_slice(x, (i, 0), (2, 3))


def _dus(lib):
    return lambda x, u, i: lib.lax.dynamic_update_slice(x, u, (i, 0))


# name: (function of the library, in_axes, arguments)
_PROGRAMS = {
    "dynamic_slice_x": (_ds, (0, None), (_X3, _I0)),
    "dynamic_slice_i": (_ds, (None, 0), (_X2, _I)),
    "dynamic_slice_both": (_ds, (0, 0), (_X3, _I)),
    "dynamic_slice_x_axis2": (_ds, (2, 0), (np.moveaxis(_X3, 0, 2).copy(), _I)),
    "dynamic_slice_scalar": (lambda lib: lambda s: lib.lax.dynamic_slice(s, (), ()), 0, (_I,)),
    "dynamic_update_slice_x": (_dus, (0, None, None), (_X3, _U2, _I0)),
    "dynamic_update_slice_u": (_dus, (None, 0, None), (_X2, _U3, _I0)),
    "dynamic_update_slice_i": (_dus, (None, None, 0), (_X2, _U2, _I)),
    "dynamic_update_slice_xi": (_dus, (0, None, 0), (_X3, _U2, _I)),
    "dynamic_update_slice_all": (_dus, (0, 0, 0), (_X3, _U3, _I)),
    "dynamic_index_in_dim_i": (
        lambda lib: lambda x, i: lib.lax.dynamic_index_in_dim(x, i, 0, keepdims=False),
        (None, 0),
        (_X2, _I),
    ),
    "dynamic_index_in_dim_both": (
        lambda lib: lambda x, i: lib.lax.dynamic_index_in_dim(x, i, 1),
        (0, 0),
        (_X3, _I),
    ),
    "dynamic_index_in_dim_x": (
        lambda lib: lambda x, i: lib.lax.dynamic_index_in_dim(x, i, 1),
        (0, None),
        (_X3, _I0),
    ),
    "dynamic_update_index_in_dim_i": (
        lambda lib: lambda x, i: lib.lax.dynamic_update_index_in_dim(x, lib.numpy.ones(3), i, 0),
        (None, 0),
        (_X2, _I),
    ),
    "getitem_i": (lambda lib: lambda x, i: x[i], (None, 0), (_X2, _I)),
    "getitem_both": (lambda lib: lambda x, i: x[i], (0, 0), (_X3, _I)),
    "getitem_slice_both": (lambda lib: lambda x, i: x[i, :2], (0, 0), (_X3, _I)),
    "getitem_slice_x": (lambda lib: lambda x, i: x[i, :2], (0, None), (_X3, _I0)),
    "at_set_i": (
        lambda lib: lambda x, i, v: x.at[i].set(v),
        (None, 0, None),
        (_X2, _I, np.float32(2)),
    ),
    "at_set_all": (
        lambda lib: lambda x, i, v: x.at[i].set(v),
        (0, 0, 0),
        (_X3, _I, _U3[:, 0]),
    ),
    "at_set_x": (
        lambda lib: lambda x, i, v: x.at[i].set(v),
        (0, None, None),
        (_X3, _I0, _U2[0]),
    ),
    "gather_operand": (
        lambda lib: lambda x, j: lib.lax.gather(x, j, _g(lib.lax), (1, 3), mode="clip"),
        (0, None),
        (_X3, _GI),
    ),
    "gather_indices": (
        lambda lib: lambda x, j: lib.lax.gather(x, j, _g(lib.lax), (1, 3), mode="clip"),
        (None, 0),
        (_X2, _GIB),
    ),
    "gather_both": (
        lambda lib: lambda x, j: lib.lax.gather(x, j, _g(lib.lax), (1, 3), mode="clip"),
        (0, 0),
        (_X3, _GIB),
    ),
    "scatter_add_operand": (
        lambda lib: lambda x, j, v: lib.lax.scatter_add(x, j, v, _s(lib.lax)),
        (0, None, None),
        (_X3, _GI, _GU),
    ),
    "scatter_add_indices": (
        lambda lib: lambda x, j, v: lib.lax.scatter_add(x, j, v, _s(lib.lax)),
        (None, 0, None),
        (_X2, _GIB, _GU),
    ),
    "scatter_add_updates": (
        lambda lib: lambda x, j, v: lib.lax.scatter_add(x, j, v, _s(lib.lax)),
        (None, None, 0),
        (_X2, _GI, _GUB),
    ),
    "scatter_add_all": (
        lambda lib: lambda x, j, v: lib.lax.scatter_add(x, j, v, _s(lib.lax)),
        (0, 0, 0),
        (_X3, _GIB, _GUB),
    ),
}


def _both_libs():
    import jax

    import engine

    return engine, jax


def _compare(texts, outs):
    assert texts[0] == texts[1], "\n".join(texts)
    for e, j in zip(*outs, strict=True):
        assert e.dtype == j.dtype
        np.testing.assert_array_equal(np.asarray(e), np.asarray(j))


@pytest.mark.parametrize("name", sorted(_PROGRAMS))
def test_vmap_jaxpr_and_values_as_jax(name):
    make, in_axes, args = _PROGRAMS[name]
    texts, outs = [], []
    for lib in _both_libs():
        f = lib.vmap(make(lib), in_axes=in_axes)
        texts.append(str(lib.make_jaxpr(f)(*args)))
        outs.append(lib.tree_util.tree_leaves(f(*map(lib.numpy.asarray, args))))
    _compare(texts, outs)


def _transformed(lib, kind):
    ds = lambda x, i: lib.lax.dynamic_slice(x, (i, 0), (2, 3))  # noqa: E731
    dus = lambda x, u, i: lib.lax.dynamic_update_slice(x, u, (i, 0)) * 2.0  # noqa: E731
    if kind == "grad_of_vmap":  # the batched gather's transpose: a scatter-add
        return lib.grad(lambda x, i: lib.vmap(ds)(x, i).sum()), (_X3, _I)
    if kind == "vmap_of_grad":  # a batched dynamic_update_slice: a scatter
        return lib.vmap(lib.grad(lambda x, i: ds(x, i).sum())), (_X3, _I)
    if kind == "vmap_of_grad_update":
        g = lib.grad(lambda x, u, i: dus(x, u, i).sum(), argnums=(0, 1))
        return lib.vmap(g, in_axes=(0, None, 0)), (_X3, _U2, _I)
    if kind in ("grad_of_vmap_scatter", "grad_of_vmap_scatter_max"):
        op = lib.lax.scatter if kind == "grad_of_vmap_scatter" else lib.lax.scatter_max

        def loss(x, v):  # colliding updates (_GIB has repeated rows)
            out = lib.vmap(lambda x, j, v: op(x, j, v, _s(lib.lax)))(x, _GIB, v)
            return (out**2).sum()

        return lib.grad(loss, argnums=(0, 1)), (_X3, _GUB)
    if kind == "nested_vmap":
        inner = lib.vmap(ds, in_axes=(None, 0))
        return lib.vmap(inner, in_axes=(0, None)), (_X3, _I)
    raise AssertionError(kind)


_KINDS = ["grad_of_vmap", "vmap_of_grad", "vmap_of_grad_update", "nested_vmap"]
_KINDS += ["grad_of_vmap_scatter", "grad_of_vmap_scatter_max"]


@pytest.mark.parametrize("kind", _KINDS)
def test_transformed_batched_slicing_as_jax(kind):
    texts, outs = [], []
    for lib in _both_libs():
        f, args = _transformed(lib, kind)
        texts.append(str(lib.make_jaxpr(f)(*args)))
        outs.append(lib.tree_util.tree_leaves(f(*map(lib.numpy.asarray, args))))
    if kind == "grad_of_vmap_scatter_max":
        # JAX's jaxpr shares one update_jaxpr between the JVP's scatter-adds but makes a
        # new one for the gather transpose's (its cache keyed on the equation context);
        # the engine shares all: the text differs only in that hoisting
        texts = [t.replace("update_jaxpr=jaxpr", "") for t in texts]
        texts = [re.sub(r"update_jaxpr=\{.*?\}", "", t, flags=re.S) for t in texts]
        texts = [re.sub(r"\b[a-z]{1,2}\b", "v", t) for t in texts]
    _compare(texts, outs)


def _gather_eqn(text):
    m = re.search(r"gather\[.*?\] \w+ \w+", text, re.S)
    assert m, text
    eqn = re.sub(r"\] \w+ \w+$", "]", m.group(0))
    return "\n".join(ln.strip() for ln in eqn.splitlines())  # (nesting depths differ)


@pytest.mark.parametrize("in_axes", [(None, 0), (0, 0)])
def test_vmap_of_take_gather_as_jax(in_axes):
    x = _X2 if in_axes[0] is None else _X3
    eqns, outs = [], []
    for lib in _both_libs():
        f = lib.vmap(lambda x, idx: lib.numpy.take(x, idx), in_axes=in_axes)
        eqns.append(_gather_eqn(str(lib.make_jaxpr(f)(x, _TAKE))))
        outs.append([f(lib.numpy.asarray(x), lib.numpy.asarray(_TAKE))])
    _compare(eqns, outs)


def test_mixed_index_dtypes_raise_as_jax():
    errors = []
    for lib in _both_libs():
        f = lib.vmap(lambda x, i: lib.lax.dynamic_slice(x, (i, np.int32(0)), (2, 3)), (None, 0))
        with pytest.raises(TypeError) as info:
            lib.make_jaxpr(f)(_X2, _I.astype(np.int16))
        errors.append(str(info.value).splitlines()[0])
    assert errors[0] == errors[1]
    assert "lax.concatenate requires arguments to have the same dtypes" in errors[0]


# On 8 devices: the batch axis sharded over the Explicit mesh axis X.


def _run(lib, fn, inputs, mode):
    kind = lib.sharding.AxisType.Explicit
    mesh = lib.make_mesh((2, 4), ("X", "Y"), axis_types=(kind, kind))
    with lib.set_mesh(mesh):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        f = (lambda *a: fn(lib, *a)) if mode != "jit" else lib.jit(lambda *a: fn(lib, *a))
        try:
            if mode == "jaxpr":
                text = str(lib.make_jaxpr(f)(*args))
                return "\n".join(ln for ln in text.splitlines() if "ctx_mesh=" not in ln)
            out = f(*args)
        except Exception as e:  # (the first line: JAX's and the engine's notes differ)
            return "error", type(e).__name__, str(e).splitlines()[0]
        leaves = lib.tree_util.tree_leaves(out)
        return [str(lib.typeof(v)) for v in leaves], [np.asarray(v).tolist() for v in leaves]


def _same(fn, *inputs):
    for mode in ("eager", "jit", "jaxpr"):
        e, j = both(lambda lib: _run(lib, fn, inputs, mode))
        assert e == j, (mode, e, j)


_XS = np.arange(96, dtype=np.float32).reshape(8, 4, 3)
_IS = np.array([0, 1, 2, 3, -1, 2, 1, 0], np.int32)


@case
def sharded_batch_of_dynamic_slices():
    def ds(lib, x, i):
        return lib.vmap(lambda r, k: lib.lax.dynamic_slice(r, (k, 0), (2, 3)))(x, i)

    _same(ds, (_XS, ("X",)), (_IS, ("X",)))

    def ds_index_only(lib, x, i):
        f = lambda r, k: lib.lax.dynamic_slice(r, (k, 0), (2, 3))  # noqa: E731
        return lib.vmap(f, in_axes=(None, 0))(x, i)

    # JAX's gather sharding rule refuses this (an unsharded operand, indices split over
    # X): the same error class and message from both
    for mode in ("eager", "jit", "jaxpr"):
        e, j = both(lambda lib: _run(lib, ds_index_only, ((_XS[0], ()), (_IS, ("X",))), mode))
        assert e == j and j[:2] == ("error", "ShardingTypeError"), (mode, e, j)
        assert "out sharding could not be resolved unambiguously" in j[2]


@case
def sharded_batch_of_dynamic_update_slices():
    def dus(lib, x, u, i):
        f = lambda r, v, k: lib.lax.dynamic_update_slice(r, v, (k, 0))  # noqa: E731
        return lib.vmap(f, in_axes=(0, None, 0))(x, u, i)

    _same(dus, (_XS, ("X",)), (_U2, ()), (_IS, ("X",)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharded_batch_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
