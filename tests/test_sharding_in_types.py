"""Sharding in types (JAX's explicit sharding) against real JAX 0.10.2 on 8 CPU devices:
typeof inside jit, the sharding rules of the common primitives and their errors,
auto_axes / explicit_axes / use_abstract_mesh, device_put onto unreduced axes, and that
programs over no Explicit mesh keep their types and jaxprs. The cases run in one child
process (tests/eight_devices.py)."""

from __future__ import annotations

import contextlib
import io
import re

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()


def _mesh(lib, auto: bool = False):
    types = (lib.sharding.AxisType.Auto,) * 2 if auto else None
    return lib.make_mesh((4, 2), ("X", "Y"), types)


def _typed_program_types(lib):
    """str(typeof(...)) of intermediates inside jit, for each rule."""
    jnp = lib.numpy
    seen = []

    def note(v):
        seen.append(str(lib.typeof(v)))
        return v

    def f(a, b, c):
        note(a)
        s = note(jnp.sin(a) * 2.0)  # unary, binary with a weak scalar
        note(s + b)  # broadcasting: (8@X,4) + (1,4@Y)
        note(s.T)  # transpose
        note(s.sum(0))  # reduce over a sharded axis
        note(jnp.max(s, axis=1))
        note(jnp.argmax(s, axis=1))
        note(s[:, None, :])  # broadcast_in_dim / reshape with a singleton
        note(jnp.expand_dims(s, 0).squeeze(0))
        note(jnp.broadcast_to(b, (8, 4)))
        note(jnp.dot(s, c))  # free dims keep their shardings
        note(jnp.dot(s.T, s, out_sharding=lib.P("Y", None)))
        note(s.astype(np.int32))
        note(jnp.where(s > 0, s, b))
        return s

    with lib.set_mesh(_mesh(lib)):
        a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), lib.P("X", None))
        b = lib.device_put(np.ones((1, 4), np.float32), lib.P(None, "Y"))
        c = lib.device_put(np.ones((4, 6), np.float32), lib.P(None, None))
        out = lib.jit(f)(a, b, c)
        seen.append(str(lib.typeof(out)))
        seen.append(repr(out.sharding))
    return seen


@case
def typeof_inside_jit_follows_the_rules():
    e, j = both(_typed_program_types)
    assert e == j


def _errors(lib):
    jnp = lib.numpy
    out = []
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.arange(16).reshape(4, 4), lib.P("X", None))
        y = lib.device_put(np.arange(16).reshape(4, 4), lib.P(None, "X"))
        u = lib.device_put(np.arange(32.0).reshape(8, 4), lib.P(None, "X"))
        v = lib.device_put(np.arange(64.0).reshape(4, 16), lib.P("X", None))
        for thunk in [
            lambda: x + y,  # eagerly
            lambda: lib.jit(lambda a, b: a * b)(x, y),
            lambda: jnp.dot(u, v),
            lambda: lib.jit(jnp.dot)(u, v),
            lambda: lib.jit(lambda a: a.reshape(16))(x),
        ]:
            try:
                thunk()
                out.append("no error")
            except Exception as err:
                out.append((type(err).__name__, str(err).split("\n")[0]))
    return out


@case
def sharding_rule_errors_as_jax():
    e, j = both(_errors)
    assert e == j


def _constraints(lib):
    out = []
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.ones((8, 4), np.float32), lib.P("X", None))
        for f in [
            lambda a: lib.lax.with_sharding_constraint(a, lib.P(None, "X")),  # an assertion
            lambda a: lib.lax.with_sharding_constraint(a, lib.P("X", None)),
            lambda a: lib.lax.with_sharding_constraint(a * 2, lib.P("X", "Y")),
            lambda a: lib.reshard(a, lib.P(None, "Y")) + 1,
        ]:
            for transform in (lambda g: g, lib.jit):
                try:
                    r = transform(f)(x)
                    out.append((str(lib.typeof(r)), repr(r.sharding)))
                except Exception as err:
                    out.append((type(err).__name__, str(err).split("\n")[0]))
    with lib.set_mesh(_mesh(lib, auto=True)):
        explicit = _mesh(lib)
        try:
            lib.lax.with_sharding_constraint(
                np.ones((8, 4)), lib.NamedSharding(explicit, lib.P("X"))
            )
        except Exception as err:
            out.append((type(err).__name__, str(err).split("\n")[0]))
    return out


@case
def with_sharding_constraint_asserts_over_explicit_axes():
    e, j = both(_constraints)
    assert e == j


def _auto_explicit(lib):
    jnp = lib.numpy
    printed = io.StringIO()
    out = []
    with contextlib.redirect_stdout(printed), lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.arange(16).reshape(4, 4), lib.P("X", None))
        y = lib.device_put(np.arange(16).reshape(4, 4), lib.P(None, "X"))

        @lib.sharding.auto_axes
        def add(a, b):
            print(lib.sharding.get_abstract_mesh(), lib.typeof(a))
            return a + b

        r = add(x, y, out_sharding=lib.P("X", None))
        out += [str(lib.typeof(r)), repr(r.sharding), np.asarray(r)]
        r = lib.jit(lambda a, b: add(a, b, out_sharding=lib.P(None, "Y")))(x, y)
        out += [str(lib.typeof(r)), repr(r.sharding), np.asarray(r)]

        @lib.sharding.explicit_axes
        def g(a):
            print(lib.sharding.get_abstract_mesh(), repr(lib.typeof(a)))
            return a * 2

        @lib.jit
        def f(a):
            return g(jnp.sin(a), in_sharding=lib.P("X", "Y")) + 1

    with contextlib.redirect_stdout(printed), lib.set_mesh(_mesh(lib, auto=True)):
        z = lib.device_put(np.arange(16.0).reshape(4, 4), lib.P("X", "Y"))
        r = f(z)
        out += [str(lib.typeof(r)), np.asarray(r)]

        @lib.jit
        def h(a):
            mesh = lib.sharding.AbstractMesh((8,), ("A",), (lib.sharding.AxisType.Explicit,))
            with lib.sharding.use_abstract_mesh(mesh):
                print(lib.sharding.get_abstract_mesh())
                return lib.reshard(a, lib.P("A", None)) * 2

    with contextlib.redirect_stdout(printed), lib.set_mesh(_mesh(lib)):
        r = h(lib.device_put(np.ones((8, 4), np.float32), lib.P("X", "Y")))
        out += [str(lib.typeof(r)), np.asarray(r)]
    return printed.getvalue(), out


def _pytree_boundaries(lib):
    out = []
    with lib.set_mesh(_mesh(lib, auto=True)):

        @lib.sharding.explicit_axes
        def g(a, b):
            return a * 2, b + 1

        x = lib.device_put(np.ones((8, 4), np.float32), lib.P("X", None))
        r = lib.jit(lambda a: g(a, a, in_sharding=(lib.P("X", "Y"), lib.P(None, "X"))))(x)
        out += [str(lib.typeof(t)) for t in r] + [repr(t.sharding) for t in r]
    with lib.set_mesh(_mesh(lib)):

        @lib.sharding.auto_axes
        def h(a):
            return a * 2, a.T

        x = lib.device_put(np.ones((8, 4), np.float32), lib.P("X"))
        r = h(x, out_sharding=(lib.P(None, "Y"), lib.P("X")))
        out += [str(lib.typeof(t)) for t in r] + [repr(t.sharding) for t in r]
        out.append(repr(x.sharding.spec))  # device_put keeps the spec as given
        out.append(repr(lib.reshard(x, lib.P("Y")).sharding.spec))  # typed: one per dim
        n = lib.random.normal(lib.random.key(0), (8, 4), out_sharding=lib.P("X"))
        out.append(repr(n.sharding.spec))
    return out


@case
def shardings_per_argument_and_typed_specs_as_jax():
    e, j = both(_pytree_boundaries)
    assert e == j


@case
def auto_axes_explicit_axes_and_use_abstract_mesh_as_jax():
    results = both(_auto_explicit)
    (ep, eo), (jp, jo) = results
    assert ep == jp
    assert len(eo) == len(jo)
    for a, b in zip(eo, jo):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:
            assert a == b


def _unreduced(lib):
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), lib.P("X", "Y"))
        y = lib.device_put(x, lib.P("X", None, unreduced={"Y"}))
        return [
            repr(y.sharding),
            str(lib.typeof(y)),
            [(str(s.device), np.asarray(s.data).tolist()) for s in y.addressable_shards],
        ]


@case
def device_put_unreduced_splits_as_jax():
    e, j = both(_unreduced)
    assert e == j


def _grad_of_sharded_contraction(lib):
    jnp = lib.numpy
    with lib.set_mesh(lib.make_mesh((8,), ("batch",))):
        w = lib.device_put(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), lib.P())
        xs = lib.device_put(np.linspace(0, 1, 64, dtype=np.float32).reshape(16, 4), lib.P("batch"))

        def loss(w, xs):
            return jnp.sum(jnp.tanh(xs @ w) ** 2)

        g = lib.jit(lib.grad(loss))(w, xs)
        return np.asarray(g), str(lib.typeof(g)), repr(g.sharding)


@case
def grad_through_a_batch_sharded_contraction():
    (ev, *et), (jv, *jt) = both(_grad_of_sharded_contraction)
    np.testing.assert_allclose(ev, jv, rtol=1e-5)
    assert et == jt


def _plain_programs(lib):
    jnp = lib.numpy

    def f(a, b):
        return jnp.dot(jnp.sin(a), b).sum(0) + a[0, :3]

    a = np.ones((4, 4), np.float32)
    b = np.ones((4, 3), np.float32)
    plain = str(lib.make_jaxpr(f)(a, b))
    with lib.set_mesh(_mesh(lib, auto=True)):
        x = lib.device_put(a, lib.P("X", "Y"))
        auto = str(lib.make_jaxpr(f)(x, b))
        inside = []
        lib.jit(lambda v: inside.append(str(lib.typeof(v))))(x)
    return plain, auto, inside


@case
def programs_without_explicit_axes_are_unchanged():
    results = both(_plain_programs)
    assert results[0] == results[1]
    assert "@" not in results[0][1]


def _lowered_constraints(lib):
    jnp = lib.numpy
    with lib.set_mesh(_mesh(lib)):
        u = lib.device_put(np.ones((8, 4), np.float32), lib.P(None, "X"))
        v = lib.device_put(np.ones((4, 16), np.float32), lib.P("X", None))
        text = (
            lib.jit(lambda a, b: jnp.dot(a, b, out_sharding=lib.P("X", None))).lower(u, v).as_text()
        )
    return sorted(re.findall(r"sdy.sharding_constraint.*?(#sdy.sharding<[^>]*>)", text)), [
        m for m in re.findall(r"sdy.sharding = (#sdy.sharding<[^>]*>)", text)
    ]


@case
def lowering_annotates_typed_results_as_jax():
    e, j = both(_lowered_constraints)
    assert e == j


def _reshapes(lib):
    out = []
    with lib.set_mesh(_mesh(lib)):
        for shape, spec, new in [
            ((4, 4), ("X", None), (16,)),  # merge: the major dimension's axes stay
            ((4, 4), (None, "X"), (16,)),  # error: a minor sharded dimension merged
            ((16,), ("X",), (4, 4)),  # split
            ((16,), (("X", "Y"),), (8, 2)),
            ((16,), (("X", "Y"),), (2, 8)),  # error: 2 does not split over X (4)
            ((8, 4), ("X", "Y"), (32,)),
            ((8, 6), (None, "Y"), (8, 2, 3)),
            ((2, 3, 4), (None, None, "X"), (6, 4)),
            ((8, 4), ("X", None), (8, 1, 4)),  # singleton dimensions
        ]:
            x = lib.device_put(np.zeros(shape, np.float32), lib.P(*spec))
            try:
                out.append(str(lib.typeof(lib.jit(lambda a, n=new: a.reshape(n))(x))))
            except Exception as err:
                out.append((type(err).__name__, str(err).split("\n")[0]))
    return out


@case
def reshape_rule_as_jax():
    e, j = both(_reshapes)
    assert e == j


def _typed_jaxprs(lib):
    jnp = lib.numpy
    programs = [
        lambda x, w: jnp.tanh(jnp.dot(x, w, out_sharding=lib.P("X", None))).sum(1) * 2,
        lambda x, w: (x.T[None] + 1.0).reshape(4, 8),
        lambda x, w: jnp.concatenate([jnp.maximum(x, 0.0)[:4], x[4:]])[:, :2].sum(1) + w.sum(),
        # (not compared: grad, whose reduce_sum transpose JAX types with a reshard)
    ]
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.zeros((8, 4), np.float32), lib.P("X", "Y"))
        w = lib.device_put(np.zeros((4, 6), np.float32), lib.P("Y", None))
        return [str(lib.make_jaxpr(f)(x, w)) for f in programs]


def _aot_from_shape_dtype_struct(lib):
    jnp = lib.numpy
    mesh = _mesh(lib)
    s = lib.ShapeDtypeStruct((8, 4), np.float32, sharding=lib.NamedSharding(mesh, lib.P("X", None)))
    return str(lib.jit(lambda a: jnp.sin(a).sum(1)).trace(s).jaxpr)


def _reshards(lib):
    jnp = lib.numpy
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), lib.P("X", None))

        def f(a):
            return lib.reshard(a, lib.P(None, "Y")) * 2

        def loss(a):
            return jnp.sum(f(a) * a)

        g = lib.jit(lib.grad(loss))(x)
        v = lib.vmap(f)(x.reshape(4, 2, 4))
        return [
            str(lib.make_jaxpr(f)(x)),
            str(lib.typeof(g)),
            repr(g.sharding),
            np.asarray(g).tolist(),
            np.asarray(v).tolist(),
        ]


def _cotangent_types(lib):
    jnp = lib.numpy
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), lib.P("X", None))
        b = lib.device_put(np.ones((1, 4), np.float32), lib.P(None, "Y"))

        def f(a, b):
            return jnp.sum(lib.reshard(a, lib.P(None, "Y")) * a + b)

        out = []
        for grad in (lib.grad(f, argnums=(0, 1)), lib.jit(lib.grad(f, argnums=(0, 1)))):
            out += [
                (str(lib.typeof(t)), repr(t.sharding), np.asarray(t).tolist()) for t in grad(x, b)
            ]
        jaxpr = str(lib.make_jaxpr(lib.grad(f, argnums=(0, 1)))(x, b))
    # JAX reshards the scalar seed before broadcasting it (one equation more)
    types = re.findall(r"\b[a-z]+:(f32\[[^\]]*\])", jaxpr)
    return out, sorted(set(types) - {"f32[]"})


@case
def cotangents_take_their_operands_types():
    e, j = both(_cotangent_types)
    assert e == j


@case
def reshard_prints_and_differentiates_as_jax():
    e, j = both(_reshards)
    assert e == j


@case
def shape_dtype_struct_with_a_sharding_is_typed():
    e, j = both(_aot_from_shape_dtype_struct)
    assert e == j and "8@X" in e


@case
def typed_jaxprs_print_as_jax():
    e, j = both(_typed_jaxprs)
    for a, b in zip(e, j):
        assert a == b, (a, b)


def _more_programs(lib):
    jnp = lib.numpy
    out = []
    with lib.set_mesh(_mesh(lib)):
        x = lib.device_put(np.ones((8, 4), np.float32), lib.P("X", "Y"))
        for f in [
            lambda x: lib.lax.fori_loop(0, 3, lambda i, c: c * 2 + 1, x),
            lambda x: lib.lax.cond(x.sum() > 0, lambda a: a * 2, lambda a: a - 1, x),
            lambda x: lib.lax.scan(lambda c, r: (c + r, r.sum()), x[0], x)[0],  # error
            lambda x: jnp.cumsum(x, axis=1),  # error: along a sharded axis
            lambda x: jnp.cumsum(x, axis=0)[:, :2],
            lambda x: jnp.sort(x, axis=1),  # error
            lambda x: jnp.zeros_like(x) + x,
            lambda x: lib.nn.softmax(x, axis=-1),
            lambda x: lib.vmap(lambda r: r * 2)(x),
        ]:
            try:
                r = lib.jit(f)(x)
                out.append((str(lib.typeof(r)), float(np.asarray(r).sum())))
            except Exception as err:
                out.append((type(err).__name__, str(err).split("\n")[0]))
    return out


@case
def control_flow_and_reductions_as_jax():
    e, j = both(_more_programs)
    assert e == j


# ---------------------------------------------------------------- without devices


def test_unsharded_avals_print_and_compare_as_before():
    import engine

    a = engine.core.ShapedArray((2, 3), np.float32)
    assert a.sharding is None
    assert str(a) == "float32[2,3]" and repr(a) == "ShapedArray(float32[2,3])"  # JAX's
    assert a.update(shape=(3, 2)).sharding is None
    assert a == engine.core.ShapedArray((2, 3), np.float32)


# ---------------------------------------------------------------- the subprocess


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_in_types_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
