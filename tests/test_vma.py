"""shard_map's varying-manual-axes types (check_vma=True) and eager shard_map, against
real JAX 0.10.2 on 8 CPU devices: types printed f32[3]{V:i}, typeof's manual_axis_type,
implicit pvary and psum_invariant in jaxprs, grads inside and around a check_vma body,
JAX's errors (out_specs claiming replication, carries and branches whose varying axes
differ, pcast of a varying value), an eager body's prints of every device's block, and
collectives batched over an axis that is not theirs.

The cases run in one child process with 8 devices (tests/eight_devices.py)."""

from __future__ import annotations

import contextlib
import io

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()


def _mesh(lib, shape=(2,), names=("i",)):
    """A mesh of Auto axes (no sharding in types)."""
    auto = (lib.sharding.AxisType.Auto,) * len(names)
    return lib.make_mesh(shape, names, axis_types=auto)


def _in_mesh(run, *mesh_args):
    """run(lib) with a new mesh as the context mesh (restored after)."""

    def go(lib):
        with lib.set_mesh(_mesh(lib, *mesh_args)):
            return run(lib)

    return go


def _printed(fn):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        out = fn()
    return buf.getvalue(), out


def _error(fn):
    try:
        fn()
    except Exception as e:  # compared by class and message
        return type(e).__name__, str(e)
    raise AssertionError("no error raised")


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    assert np.asarray(a).dtype == np.asarray(b).dtype


X6 = np.arange(6.0, dtype=np.float32)
X84 = np.arange(32.0, dtype=np.float32).reshape(8, 4)
X48 = np.arange(48.0, dtype=np.float32).reshape(16, 3)


@case
def typeof_shows_varying_axes():
    """typeof inside a body: f32[..]{V:..} and manual_axis_type.varying, eager and jit."""

    def run(lib):
        P = lib.sharding.PartitionSpec

        def body(x):
            y = lib.lax.psum(x, "j")
            z = lib.lax.psum(y, "i")
            idx = lib.lax.axis_index("j")
            g = lib.lax.all_gather(z, "j")
            m = lib.lax.pmax(x, "i")
            seen = [lib.typeof(v) for v in (x, y, z, idx, x * 2.0, z + idx, g, m)]
            print([str(t) for t in seen], [sorted(t.manual_axis_type.varying) for t in seen])
            return y

        f = lib.shard_map(body, in_specs=P("i", "j"), out_specs=P("i"))
        eager = _printed(lambda: f(X84))
        jitted = _printed(lambda: lib.jit(f)(X84))
        return eager, jitted

    (e_eager, e_jit), (j_eager, j_jit) = both(_in_mesh(run, (4, 2), ("i", "j")))
    assert e_eager[0] == j_eager[0] and e_jit[0] == j_jit[0], (e_eager[0], j_eager[0])
    assert "{V:(i,j)}" in j_eager[0]
    _close(e_eager[1], j_eager[1])
    _close(e_jit[1], j_jit[1])


@case
def jaxpr_shows_pvary_and_psum_invariant():
    """Implicit pvary on operands, literals and outputs; psum of a varying value is
    psum_invariant; types print their varying axes (an explicit mesh: same text)."""

    def run(lib):
        mesh = _mesh(lib, (4, 2), ("i", "j"))
        P = lib.sharding.PartitionSpec

        def body(x, y):
            z = x * y + 1.0
            w = lib.lax.psum(z, "i")
            return w + lib.lax.axis_index("j")  # (JAX prints a body of >10 eqns apart)

        f = lib.shard_map(body, mesh=mesh, in_specs=(P("i"), P()), out_specs=P("j"))
        return str(lib.make_jaxpr(f)(np.arange(8.0, dtype=np.float32), X6[:2]))

    ours, theirs = both(_in_mesh(run, (4, 2), ("i", "j")))
    assert ours == theirs, (ours, theirs)
    assert "psum_invariant" in theirs and "pvary" in theirs


@case
def grad_inside_a_check_vma_body():
    """grad of psum(x*x) inside the body: 2x with types (psum transposes to pvary),
    2x times the axis size without them (pmap-style psum transposes to psum)."""

    def run(lib):
        P = lib.sharding.PartitionSpec

        def g(x):
            return lib.grad(lambda v: lib.lax.psum(v * v, "i").sum())(x)

        outs = []
        for check in (True, False):
            f = lib.shard_map(g, in_specs=P("i"), out_specs=P("i"), check_vma=check)
            outs += [f(np.arange(8.0, dtype=np.float32)), lib.jit(f)(X84[:, 0])]
        return outs

    ours, theirs = both(_in_mesh(run, (4,), ("i",)))
    for a, b in zip(ours, theirs):
        _close(a, b)


@case
def grad_of_a_check_vma_shard_map():
    """Gradients through a body with an implicit pvary (a replicated operand times a
    split one) and a psum, with and without check_vma, and the jaxpr of the grad."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        outs = []
        for check in (True, False):
            f = lib.shard_map(
                lambda x, y: lib.lax.psum(lib.numpy.sin(x) * y, "i"),
                in_specs=(P("i"), P()),
                out_specs=P(),
                check_vma=check,
            )
            loss = lambda x, y, f=f: (f(x, y) ** 2).sum()  # noqa: E731
            outs += list(lib.grad(loss, argnums=(0, 1))(X6[:4] * 2, X6[:1] + 1.5))
            outs += list(lib.jit(lib.grad(loss, argnums=(0, 1)))(X6[:4] * 2, X6[:1] + 1.5))
        return outs

    ours, theirs = both(_in_mesh(run, (4,), ("i",)))
    for a, b in zip(ours, theirs):
        _close(a, b)


@case
def nested_shard_map_keeps_the_outer_varying_axes():
    """A shard_map over 'j' inside one over 'i': its body's values still vary over 'i'
    (no stray pvary), and grad through both matches JAX's, with and without types."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        outs = []
        for check in (True, False):

            def inner(a, check=check):
                return lib.shard_map(
                    lambda b: lib.lax.psum(b, "j"),
                    in_specs=P(None, "j"),
                    out_specs=P(),
                    axis_names={"j"},
                    check_vma=check,
                )(a)

            nested = lib.shard_map(
                inner, in_specs=P("i"), out_specs=P("i"), axis_names={"i"}, check_vma=check
            )
            loss = lambda a, nested=nested: (nested(a) ** 2).sum()  # noqa: E731
            outs += [lib.jit(nested)(X84), lib.jit(lib.grad(loss))(X84)]
            if check:
                outs.append(str(lib.make_jaxpr(nested)(X84)))  # the inner mesh: (Manual, Auto)
        return outs

    ours, theirs = both(_in_mesh(run, (4, 2), ("i", "j")))
    assert ours[2] == theirs[2], (ours[2], theirs[2])
    for a, b in zip(ours[:2] + ours[3:], theirs[:2] + theirs[3:]):
        _close(a, b)


@case
def out_specs_claiming_replication():
    """JAX's ValueError for an out_spec that leaves out an axis the value varies over
    (one axis and two axes forms); check_vma=False takes it as given."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        one = _error(lambda: lib.shard_map(lambda x: x, in_specs=P("i"), out_specs=P())(X84))
        two = _error(
            lambda: lib.jit(
                lib.shard_map(lambda x: x * lib.lax.axis_index("j"), in_specs=P("i"), out_specs=P())
            )(X84)
        )
        fine = lib.shard_map(lambda x: x, in_specs=P("i"), out_specs=P(), check_vma=False)(X84)
        return one, two, fine

    ours, theirs = both(_in_mesh(run, (4, 2), ("i", "j")))
    for (ec, em), (jc, jm) in zip(ours[:2], theirs[:2]):
        assert ec == jc == "ValueError", (ec, jc)
        assert "require replication which can't be statically inferred" in jm
        # JAX names its eager wrapper (_rem_singleton) where the engine names the body
        assert em.split("\n", 1)[1] == jm.split("\n", 1)[1], (em, jm)
    _close(ours[2], theirs[2])


@case
def carries_and_branches_must_agree_on_varying_axes():
    """scan/fori carries and cond branches that vary over different axes: JAX's
    TypeError; a pcast to 'varying' fixes the scan (the tutorial's example)."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        jnp = lib.numpy

        def swap(x, y, cast):
            if cast:
                y = lib.lax.pcast(y, "i", to="varying")
            body = lambda c, _: ((c[1], c[0]), ())  # noqa: E731
            (a, b), _ = lib.lax.scan(body, (x, y), (), length=2)
            return a, b

        f = lambda cast: lib.shard_map(  # noqa: E731
            lambda x, y: swap(x, y, cast), in_specs=(P("i"), P()), out_specs=P("i")
        )
        fori = lib.shard_map(
            lambda x: lib.lax.fori_loop(0, 3, lambda i, c: c + x, jnp.zeros(3)),
            in_specs=P("i"),
            out_specs=P("i"),
        )
        cond = lib.shard_map(
            lambda x: lib.lax.cond(True, lambda: x, lambda: jnp.zeros(3)),
            in_specs=P("i"),
            out_specs=P("i"),
        )
        errors = [_error(lambda: f(False)(X6, X6[:3])), _error(lambda: lib.jit(fori)(X6))]
        errors.append(_error(lambda: lib.jit(cond)(X6)))
        return errors, f(True)(X6, X6[:3])

    ours, theirs = both(_in_mesh(run))
    phrases = ["carry input and carry output must have equal types"] * 2
    phrases.append("branches must have equal output types")
    for (ec, em), (jc, jm), phrase in zip(ours[0], theirs[0], phrases):
        assert ec == jc == "TypeError", (ec, jc, em)
        for p in (phrase, "so the manual axis types do not match"):
            assert p in em and p in jm, (p, em, jm)
    assert "float32[3]{V:i} but the corresponding output carry component" in ours[0][0][1]
    for a, b in zip(ours[1], theirs[1]):
        _close(a, b)


@case
def pcast_types_and_errors():
    """pcast to 'varying' types a value {V:i} (a no-op at run time); casting a value
    that already varies raises JAX's ValueError; without check_vma pcast is the value."""

    def run(lib):
        P = lib.sharding.PartitionSpec

        def body(x):
            y = lib.lax.pcast(x, "i", to="varying")
            print(lib.typeof(x), lib.typeof(y))
            return y

        f = lib.shard_map(body, in_specs=P(), out_specs=P("i"))
        printed, out = _printed(lambda: f(X6))
        again = lib.shard_map(
            lambda x: lib.lax.pcast(x, "i", to="varying"), in_specs=P("i"), out_specs=P("i")
        )
        text = str(
            lib.make_jaxpr(
                lib.shard_map(
                    lambda x: lib.lax.pcast(x, "i", to="varying"),
                    in_specs=P(),
                    out_specs=P("i"),
                    check_vma=False,
                )
            )(X6)
        )
        return printed, out, _error(lambda: again(X6)), "pvary" in text

    ours, theirs = both(_in_mesh(run))
    assert ours[0] == theirs[0] == "float32[6] float32[6]{V:i}\n", (ours[0], theirs[0])
    _close(ours[1], theirs[1])
    assert ours[2] == theirs[2], (ours[2], theirs[2])
    assert ours[3] is theirs[3] is False


@case
def psum_over_axes_a_value_partly_varies_over():
    """psum over ('i', 'j') of a value varying over 'i' only: JAX's ValueError; a value
    invariant over both is first made varying (pvary) and summed."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        jnp = lib.numpy
        bad = lib.shard_map(
            lambda x: lib.lax.psum(jnp.sum(x), ("i", "j")), in_specs=P("i"), out_specs=P()
        )
        fine = lib.shard_map(
            lambda x: lib.lax.psum(jnp.sum(x), ("i", "j")), in_specs=P(), out_specs=P()
        )
        return _error(lambda: lib.jit(bad)(X84)), fine(X84), str(lib.make_jaxpr(fine)(X84))

    ours, theirs = both(_in_mesh(run, (4, 2), ("i", "j")))
    assert ours[0] == theirs[0], (ours[0], theirs[0])
    assert "can only accept axis_name which corresponds to one of varying" in theirs[0][1]
    _close(ours[1], theirs[1])
    assert ours[2] == theirs[2], (ours[2], theirs[2])


@case
def eager_body_prints_every_devices_block():
    """Outside jit a body runs op by op: print(x) shows each device's block (1-D and
    2-D meshes, psum, all_gather, ppermute, psum_scatter, check_vma on and off)."""

    def run(lib):
        P = lib.sharding.PartitionSpec
        jnp = lib.numpy
        mesh1 = lib.sharding.Mesh(lib.devices()[:4], ("i",))
        mesh2 = lib.sharding.Mesh(np.array(lib.devices()[:4]).reshape(2, 2), ("i", "j"))
        x = jnp.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 1, 2])

        def show(*vals):
            for v in vals:
                print(v)

        def b1(xb):
            y = lib.lax.psum(xb, "i")
            z = lib.lax.all_gather(xb, "i", tiled=True)
            w = lib.lax.ppermute(xb, "i", [(k, (k + 1) % 4) for k in range(4)])
            s = lib.lax.psum_scatter(xb, "i", tiled=True)
            show(xb, y, z, w, s)
            return s

        def b2(xb):
            y = lib.lax.psum(xb, "i")
            show(xb, y, y + 1)
            return y

        outs = []
        for check in (True, False):
            f1 = lib.shard_map(b1, mesh=mesh1, in_specs=P("i"), out_specs=P("i"), check_vma=check)
            with lib.set_mesh(mesh1):
                outs.append(_printed(lambda f1=f1: f1(x)))
        f2 = lib.shard_map(b2, mesh=mesh2, in_specs=P("i", "j"), out_specs=P(None, "j"))
        with lib.set_mesh(mesh2):
            outs.append(_printed(lambda: f2(jnp.arange(16).reshape(4, 4))))
        return outs

    ours, theirs = both(run)
    for (e_text, e_out), (j_text, j_out) in zip(ours, theirs):
        assert e_text == j_text, (e_text, j_text)
        _close(e_out, j_out)
    assert "On cpu:3 at mesh coordinates (i, j,) = (1, 1):" in theirs[2][0]


@case
def eager_body_invariant_values_are_concrete():
    """An eager check_vma body may branch on a value invariant over every manual axis;
    on a varying one it raises JAX's TracerBoolConversionError."""

    def run(lib):
        P = lib.sharding.PartitionSpec

        def body(x):
            total = lib.lax.psum(x, "i")
            branch = "pos" if total.sum() > 0 else "neg"
            err = _error(lambda: bool(x.sum() > 0))[0]
            return total, branch, err

        out = []

        def f(x):
            total, branch, err = body(x)
            out.extend([branch, err])
            return total

        res = lib.shard_map(f, in_specs=P("i"), out_specs=P())(X6)
        return res, out

    ours, theirs = both(_in_mesh(run))
    _close(ours[0], theirs[0])
    assert ours[1] == theirs[1] == ["pos", "TracerBoolConversionError"], (ours[1], theirs[1])


@case
def collectives_batched_over_another_axis():
    """vmap (no axis name) inside a shard_map: untiled psum_scatter, all_gather and
    all_to_all with the batch axis after their dimension (one helper shifts them)."""

    def run(lib):
        mesh = _mesh(lib, (4,), ("i",))
        P = lib.sharding.PartitionSpec
        bodies = [
            (lambda v: lib.lax.psum_scatter(v, "i"), 0),
            (lambda v: lib.lax.all_gather(v, "i"), 1),
            (lambda v: lib.lax.all_to_all(v, "i", 0, 0, tiled=True), 1),
        ]
        outs = []
        for op, out_axis in bodies:
            body = lambda b, op=op, out_axis=out_axis: lib.vmap(  # noqa: E731
                op, in_axes=1, out_axes=out_axis
            )(b)
            f = lib.shard_map(body, mesh=mesh, in_specs=P("i"), out_specs=P("i"), check_vma=False)
            outs.append(lambda f=f: lib.jit(f)(X48))
        return outs

    ours, theirs = both(run)
    # JAX 0.10.2's own rule fails on the untiled psum_scatter (IndexError): NumPy's sum
    np.testing.assert_array_equal(ours[0](), X48.reshape(4, 4, 3).sum(0).ravel())
    for a, b in zip(ours[1:], theirs[1:]):
        _close(a(), b())


# ---------------------------------------------------------------- the subprocess


@pytest.mark.parametrize("name", sorted(CASES))
def test_vma_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
