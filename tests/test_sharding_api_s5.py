"""Sharding APIs against real JAX 0.10.2 on 8 CPU devices: ``jnp.einsum(...,
out_sharding=)`` (and dot/matmul's checks of it), ``auto_axes``/``explicit_axes`` as
JAX builds them (reshards in the jaxpr, the lowered Shardy annotations of a reshard over
a mesh mixing Auto and Explicit axes), and ``reshard`` of a pytree with a prefix of
shardings. The cases run in one child process (tests/eight_devices.py)."""

from __future__ import annotations

import inspect
import re

import eight_devices
import numpy as np
import pytest
from eight_devices import both, constraint_lines, raised, typed

CASES, case = eight_devices.case_registry()


def _explicit(lib):
    return eight_devices.mesh(lib, "Explicit")


def _auto(lib):
    return eight_devices.mesh(lib, "Auto")


def _operands(lib):
    P = lib.P
    a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", None))
    b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P(None, "Y"))
    c = lib.device_put(np.linspace(0, 2, 12, dtype=np.float32).reshape(6, 2), P(None, None))
    return a, b, c


def _same_error(e, j, phrase):
    assert e[0] == j[0], (e, j)
    assert phrase in e[1] and phrase in j[1], (e, j)


def _short(lib, aval):
    # JAX's str_short spells dtypes in full unless asked; the engine's is always short
    return aval.str_short(short_dtypes=True) if lib.__name__ == "jax" else aval.str_short()


# ---------------------------------------------------------------------------- einsum


@case
def einsum_out_sharding_types_the_contraction():
    """One contraction: dot_general carries the out_sharding (in its own dimension order
    when a transpose follows, or as the operands swapped); one operand: reduce_sum."""

    def run(lib):
        jnp, P = lib.numpy, lib.P
        out = []
        with lib.set_mesh(_explicit(lib)):
            a, b, _ = _operands(lib)
            x = lib.device_put(np.ones((8, 4, 6), np.float32), P("X", None, None))
            y = lib.device_put(np.ones((8, 6, 2), np.float32), P("X", None, None))
            programs = [
                (lambda a, b: jnp.einsum("ij,jk->ik", a, b, out_sharding=P("X", "Y")), (a, b)),
                (lambda a, b: jnp.einsum("ij,jk->ki", a, b, out_sharding=P("Y", "X")), (a, b)),
                (lambda a, b: jnp.einsum("ij,jk->ik", a, b, out_sharding=P(None, "Y")), (a, b)),
                (lambda a: jnp.einsum("ij->i", a, out_sharding=P("X")), (a,)),
                (lambda a: jnp.einsum("ij->ji", a, out_sharding=P(None, "X")), (a,)),
                (lambda a: jnp.einsum("ij,jk->ik", a.T, a, out_sharding=P(None, None)), (a,)),
                (
                    lambda x, y: jnp.einsum("bij,bjk->bik", x, y, out_sharding=P("X", "Y", None)),
                    (x, y),
                ),
            ]
            for f, args in programs:
                jaxpr = str(lib.make_jaxpr(f)(*args))
                # JAX prints reduce_sum's out_sharding parameter; the engine's printer
                # leaves it out (the result type shows it in both)
                jaxpr = re.sub(
                    r"\n\s*out_sharding=NamedSharding[^\n]*| out_sharding=None", "", jaxpr
                )
                out.append(re.sub(r"\s+\]", "]", re.sub(r"\[\s+", "[", jaxpr)))
                r = lib.jit(f)(*args)
                eager = f(*args)
                out.append((str(lib.typeof(r)), repr(r.sharding.spec), str(lib.typeof(eager))))
                out.append(np.asarray(r).round(4).tolist())
        return out

    e, j = both(run)
    assert e == j


@case
def batched_matmul_out_sharding_types_its_dot_general():
    def run(lib):
        jnp, P = lib.numpy, lib.P
        out = []
        with lib.set_mesh(_explicit(lib)):
            x = lib.device_put(np.ones((8, 4, 6), np.float32), P("X", None, None))
            y = lib.device_put(np.ones((8, 6, 2), np.float32), P("X", None, None))
            w = lib.device_put(np.ones((6, 2), np.float32), P(None, None))
            for b, spec in ((y, P("X", "Y", None)), (y, P("X", None, None)), (w, P("X", "Y"))):
                f = lambda x, b, spec=spec: jnp.matmul(x, b, out_sharding=spec)  # noqa: E731
                out.append(str(lib.make_jaxpr(f)(x, b)))
                r = lib.jit(f)(x, b)
                out.append(typed(lib, r))
        return out

    e, j = both(run)
    assert e == j


@case
def einsum_of_three_operands_reshards_through_auto_axes():
    """JAX contracts more than two operands with the mesh's Explicit axes switched to
    Auto (reshards in, one reshard to out_sharding at the end)."""

    def run(lib):
        jnp, P = lib.numpy, lib.P
        with lib.set_mesh(_explicit(lib)):
            a, b, c = _operands(lib)

            def f(a, b, c):
                return jnp.einsum("ij,jk,kl->il", a, b, c, out_sharding=P("X", None))

            jaxpr = lib.make_jaxpr(f)(a, b, c).jaxpr
            eqns = [(e.primitive.name, _short(lib, e.outvars[0].aval)) for e in jaxpr.eqns]
            r = lib.jit(f)(a, b, c)
            return (
                eqns[:3],
                eqns[-1],
                [e[0] for e in eqns].count("dot_general"),
                str(lib.typeof(r)),
                np.asarray(r).round(3).tolist(),
            )

    e, j = both(run)
    assert e == j


@case
def einsum_and_dot_out_sharding_errors():
    def errors(lib):
        jnp, P = lib.numpy, lib.P
        out = {}
        with lib.set_mesh(_explicit(lib)):
            a, b, c = _operands(lib)
            device = lib.devices()[0]
            out["single device"] = raised(
                lambda: jnp.einsum(
                    "ij,jk->ik", a, b, out_sharding=lib.sharding.SingleDeviceSharding(device)
                )
            )
            out["str"] = raised(lambda: jnp.einsum("ij,jk->ik", a, b, out_sharding="X"))
            out["uneven"] = raised(
                lambda: jnp.einsum("ij,jk->ik", a, c[:4, :], out_sharding=P(None, "X"))
            )
            out["uneven dot"] = raised(lambda: jnp.dot(a, c[:4, :], out_sharding=P(None, "X")))
            out["unknown axis"] = raised(
                lambda: jnp.einsum("ij,jk->ik", a, b, out_sharding=P("Z", None))
            )
            out["ambiguous"] = raised(lambda: jnp.einsum("ij,jk->ik", a.T, a))
        with lib.set_mesh(_auto(lib)):
            a, b, _ = _operands(lib)
            out["auto einsum"] = raised(
                lambda: jnp.einsum("ij,jk->ik", a, b, out_sharding=P("X", "Y"))
            )
            out["auto dot"] = raised(lambda: jnp.dot(a, b, out_sharding=P("X", "Y")))
            out["auto matmul"] = raised(lambda: jnp.matmul(a, b, out_sharding=P("X", "Y")))
        x = np.ones((8, 4), np.float32)
        out["no mesh"] = raised(lambda: jnp.einsum("ij,jk->ik", x, x.T, out_sharding=P("X")))
        return out

    e, j = both(errors)
    phrases = {
        "single device": "only supports instances of `NamedSharding` or `PartitionSpec`",
        "str": "argument of einsum only supports instances of",
        "uneven": "implies that array axis 1 is partitioned 4 times, but does not evenly "
        "divide the dimension size 2. Got shape: (8, 2)",
        "uneven dot": "implies that array axis 1 is partitioned 4 times, but does not evenly",
        "unknown axis": "Resource axis: Z of P('Z', None) is not found in mesh",
        "ambiguous": "Contracting dimensions are sharded and it is ambiguous",
        "auto einsum": "PartitionSpec passed to einsum cannot contain axis names that are of "
        "type Auto or Manual. Got PartitionSpec: P('X', 'Y') with axis name: X of type: "
        "AxisType.Auto.",
        "auto dot": "PartitionSpec passed to dot_general cannot contain axis names that are "
        "of type Auto or Manual",
        "auto matmul": "PartitionSpec passed to dot_general cannot contain axis names",
        "no mesh": "Using PartitionSpec when you are not under a mesh context is not allowed",
    }
    assert e.keys() == j.keys() == phrases.keys()
    for name, phrase in phrases.items():
        _same_error(e[name], j[name], phrase)


# ---------------------------------------------------------------------------- grad's seed


@case
def grad_seed_is_resharded_as_jax():
    """Over Explicit axes JAX reshards grad's seed (replicated, the result's mesh) before
    the backward pass; vjp with a given cotangent, untyped results and Auto meshes don't."""

    def run(lib):
        jnp, P = lib.numpy, lib.P
        out = []
        for mesh in (_explicit(lib), _auto(lib)):
            with lib.set_mesh(mesh):
                a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
                w = lib.device_put(np.ones((4, 2), np.float32), P(None, None))
                programs = [
                    (lib.grad(lambda x: jnp.sin(x).sum()), (a,)),
                    (lib.grad(lambda x, w: (x @ w).sum(), argnums=(0, 1)), (a, w)),
                    (lib.grad(lambda x: (x * 2).mean()), (a,)),
                    (lib.value_and_grad(lambda x: (x**2).sum()), (a,)),
                    (lambda x: lib.vjp(lambda x: (x**2).sum(), x)[1](1.0), (a,)),
                    (lib.grad(lambda x: jnp.sin(x).sum()), (np.ones(3, np.float32),)),
                ]
                for f, args in programs:
                    out.append(str(lib.make_jaxpr(f)(*args)))
                g = lib.grad(lambda x: jnp.sin(x).sum())
                for r in (lib.jit(g)(a), g(a)):
                    out.append(typed(lib, r, 5))
        return out

    e, j = both(run)
    assert e == j


@case
def grad_through_an_unreduced_value_as_jax():
    """The reshard that reduces an unreduced dot result transposes to a reshard onto the
    cotangent type (unreduced and reduced axes swapped), so the gradient is not summed
    over the unreduced axis a second time."""

    def run(lib):
        jnp, P = lib.numpy, lib.P
        with lib.set_mesh(_explicit(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P(None, "X"))
            b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P("X"))

            def loss(a, b):
                partial = jnp.dot(a, b, out_sharding=P(None, None, unreduced={"X"}))
                return jnp.sin(lib.sharding.reshard(partial, P(None, None))).sum()

            g = lib.grad(loss, argnums=(0, 1))
            # the engine's printer does not show a reduced type ({R:X}) yet
            jaxpr = str(lib.make_jaxpr(g)(a, b)).replace("{R:X}", "")
            out = [jaxpr]
            for ga, gb in (lib.jit(g)(a, b), g(a, b)):
                out.append((str(lib.typeof(ga)), str(lib.typeof(gb))))
                out.append((np.asarray(ga).round(4).tolist(), np.asarray(gb).round(4).tolist()))
            return out

    e, j = both(run)
    assert e == j


# ---------------------------------------------------------------------------- eager shard_map


def _canonical(jaxpr_text: str) -> str:
    """A jaxpr's text without what JAX's printer adds beside the program: its line
    wrapping, np.int64(...) around parameters, and reduce_sum's out_sharding (which the
    engine's printer leaves out)."""
    text = re.sub(
        r"out_sharding=(None|NamedSharding\(mesh=AbstractMesh\(.*?\), spec=P\([^)]*\)\))",
        "",
        jaxpr_text,
    )
    text = re.sub(r"np\.int64\((-?\d+)\)", r"\1", text)
    return re.sub(r"\s+", " ", text).replace("[ ", "[").replace(" ]", "]")


def _values(xs) -> list:
    return [np.asarray(x) for x in xs]


def _eager_shard_map_transforms(lib):
    """grad, vjp, jvp and vmap of a shard_map called outside jit: jaxprs and values."""
    jnp, P = lib.numpy, lib.P
    mesh = _auto(lib)
    x = np.arange(32.0, dtype=np.float32).reshape(8, 4) / 7

    def body(a, s):
        return lib.lax.psum(jnp.sin(a) * s, "X"), (a * s.sum()).sum(0, keepdims=True)

    sm = lib.shard_map(
        body, mesh=mesh, in_specs=(P("X", "Y"), P()), out_specs=(P(None, "Y"), P("X", "Y"))
    )
    s = np.float32(1.5)

    def loss(a, s):
        u, v = sm(a, s)
        return u.sum() + (v**2).sum()

    out = []
    with lib.set_mesh(mesh):  # (without a mesh in context JAX reshards grad's seed)
        grad = lib.grad(loss, argnums=(0, 1))
        out.append(_canonical(str(lib.make_jaxpr(grad)(x, s))))
        out.append(_values(grad(x, s)))
    ct = (np.ones((2, 4), np.float32), np.ones((4, 4), np.float32))
    pullback = lambda a, s: lib.vjp(sm, a, s)[1](ct)  # noqa: E731
    out.append(_canonical(str(lib.make_jaxpr(pullback)(x, s))))
    out.append(_values(pullback(x, s)))
    out.append(_values(lib.jvp(sm, (x, s), (np.ones_like(x), np.float32(0.5)))[1]))
    xs = np.stack([x, 2 * x])
    batched = lib.vmap(sm, in_axes=(0, None))
    out.append(_canonical(str(lib.make_jaxpr(batched)(xs, s))))
    out.append(_values(batched(xs, s)))
    return out


@case
def grad_and_vmap_of_an_eager_shard_map_as_jax():
    e, j = both(_eager_shard_map_transforms)
    assert len(e) == len(j)
    for ours, theirs in zip(e, j):
        if isinstance(ours, str):
            assert ours == theirs, f"{ours}\n!=\n{theirs}"
        else:
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@case
def traced_shard_map_input_checked_against_its_type_on_explicit_axes():
    """Under grad, an input's type (replicated for a NumPy array) must match in_specs on a
    mesh of Explicit axes, as when called directly."""

    def run(lib):
        P = lib.P
        mesh = _explicit(lib)
        x = np.arange(32.0, dtype=np.float32).reshape(8, 4)
        sm = lib.shard_map(lambda a: a * 2, mesh=mesh, in_specs=P("X", "Y"), out_specs=P("X", "Y"))
        out = [raised(lambda: lib.grad(lambda a: sm(a).sum())(x))]
        with lib.set_mesh(mesh):
            sharded = lib.device_put(x, P("X", "Y"))
            g = lib.grad(lambda a: sm(a).sum())(sharded)
            out.append(typed(lib, g))
        return out

    e, j = both(run)
    assert e[1] == j[1]
    _same_error(e[0], j[0], "in_specs passed to shard_map: P('X', 'Y') does not match the specs")


@case
def eager_reshard_of_an_unreduced_value_is_typed_as_jax():
    def run(lib):
        jnp, P = lib.numpy, lib.P
        with lib.set_mesh(_explicit(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P(None, "X"))
            b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P("X"))
            partial = jnp.dot(a, b, out_sharding=P(None, None, unreduced={"X"}))
            r = lib.sharding.reshard(partial, P(None, None))
            return str(lib.typeof(partial)), str(lib.typeof(r)), np.asarray(r).round(4).tolist()

    e, j = both(run)
    assert e == j


# ---------------------------------------------------------------------------- auto / explicit


def _axis_switch_jaxprs(lib):
    P, sharding = lib.P, lib.sharding
    out = []
    with lib.set_mesh(_explicit(lib)):
        a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
        seen = []

        @sharding.auto_axes
        def double(x):
            seen.append(str(lib.typeof(x)))
            return x * 2

        def f(a):
            return double(a, out_sharding=P("X", None))

        out.append(str(lib.make_jaxpr(f)(a)))
        plus = sharding.auto_axes(lambda x: x + 1, axes="X", out_sharding=P("X", "Y"))
        out.append(str(lib.make_jaxpr(plus)(a)))
        r = lib.jit(f)(a)
        out += [str(lib.typeof(r)), repr(r.sharding.spec), np.asarray(r).tolist()]
        out.append(raised(lambda: double(a)))
        out.append(sorted(set(seen)))  # (JAX's jit reuses make_jaxpr's trace)
    with lib.set_mesh(_auto(lib)):
        a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
        seen = []

        @sharding.explicit_axes(in_sharding=P("X", None))
        def triple(x):
            seen.append(str(lib.typeof(x)))
            return x * 3

        out.append(str(lib.make_jaxpr(triple)(a)))
        r = lib.jit(triple)(a)
        out += typed(lib, r)
        on_y = sharding.explicit_axes(lambda x: x - 1, axes=("Y",))
        out.append(str(lib.make_jaxpr(lambda a: on_y(a, in_sharding=P(None, "Y")))(a)))
        out.append(raised(lambda: on_y(a)))
        # a pytree of arguments with one sharding each (reshard takes a tree prefix)
        pair = sharding.explicit_axes(lambda x, y: x + y.T)
        r = lib.jit(lambda a: pair(a, a.T, in_sharding=(P("X", "Y"), P("Y", "X"))))(a)
        out += typed(lib, r)
        out.append(sorted(set(seen)))
    out.append(raised(lambda: sharding.explicit_axes(lambda x: x, in_sharding=P())(np.ones(3))))
    return out


@case
def auto_and_explicit_axes_trace_as_jax():
    e, j = both(_axis_switch_jaxprs)
    assert e == j


def _padded(spec, ndim: int) -> tuple:
    return tuple(spec) + (None,) * (ndim - len(spec))


@case
def eager_auto_and_explicit_axes_place_as_jax():
    """Outside jit: the result's type and values as JAX's; a reshard back onto a mesh of
    Auto axes moves nothing (it lowers to no constraint), so the layout stays."""

    def run(lib):
        jnp, P, sharding = lib.numpy, lib.P, lib.sharding
        out = []
        with lib.set_mesh(_explicit(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
            r = sharding.auto_axes(lambda x: x * 2 + 1, out_sharding=P("X", None))(a)
            out.append((str(lib.typeof(r)), _padded(r.sharding.spec, 2), np.asarray(r).tolist()))
            r = sharding.auto_axes(lambda x: jnp.sin(x).sum(0), axes="X", out_sharding=P("Y"))(a)
            out.append(typed(lib, r, 5))
        with lib.set_mesh(_auto(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
            r = sharding.explicit_axes(lambda x: x * 2, in_sharding=P("X", None))(a)
            out.append((str(lib.typeof(r)), _padded(r.sharding.spec, 2), np.asarray(r).tolist()))
        return out

    e, j = both(run)
    assert e == j


@case
def auto_and_explicit_axes_signatures_as_jax():
    engine, jax = eight_devices.libs()
    for name in ("auto_axes", "explicit_axes"):
        ours = inspect.signature(getattr(engine.sharding, name))
        theirs = inspect.signature(getattr(jax.sharding, name))
        assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
            (p.name, p.kind, p.default) for p in theirs.parameters.values()
        ]
        assert getattr(engine.sharding, name).__doc__


@case
def reshard_over_mixed_axis_types_lowers_as_jax():
    """A reshard into a mesh with Auto axes leaves every dimension open and pins the
    unused Explicit axes replicated; into an all-Auto mesh it lowers to nothing."""

    def run(lib):
        P, sharding = lib.P, lib.sharding
        out = []
        with lib.set_mesh(_explicit(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", None))
            for axes, spec in ((None, P("X", "Y")), ("X", P("X", "Y")), ("Y", P(None, "Y"))):
                f = sharding.auto_axes(lambda x: x, axes=axes, out_sharding=spec)
                out.append(constraint_lines(lib.jit(f).lower(a).as_text()))
        with lib.set_mesh(_auto(lib)):
            a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", None))
            for axes, spec in ((None, P("X", "Y")), ("Y", P(None, "Y"))):
                f = sharding.explicit_axes(lambda x: x, axes=axes, in_sharding=spec)
                out.append(constraint_lines(lib.jit(f).lower(a).as_text()))
        return out

    e, j = both(run)
    assert e == j


@case
def mesh_symbol_lowers_as_jax():
    def run(lib):
        P = lib.P
        out = []
        for shape, names in (((4, 2), ("X", "Y")), ((8,), ("batch",))):
            devices = np.array(lib.devices()[::-1]).reshape(shape)
            mesh = lib.sharding.Mesh(devices, names)
            spec = P(*names)
            x = lib.device_put(
                np.ones((8, 4)[: len(shape)], np.float32), lib.NamedSharding(mesh, spec)
            )
            text = lib.jit(lambda a: a * 2).lower(x).as_text()
            out.append([ln.strip() for ln in text.splitlines() if "sdy.mesh" in ln])
        return out

    e, j = both(run)
    assert e == j


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_api_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
