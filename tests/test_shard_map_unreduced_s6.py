"""shard_map with unreduced and reduced axes, against real JAX 0.10.2 on 8 CPU devices (one
child process, tests/eight_devices.py).

An in_spec with ``unreduced={'X'}`` hands the body each device's partial sum, typed
``{U:X}``; ``psum`` over X binds ``unreduced_psum``; an out_spec with unreduced casts the
body's varying result with ``vary_unreduced_cast_p``; ``pcast`` moves between invariant,
varying, reduced and unreduced; the transposes swap unreduced and reduced. Compared:
jaxpr text, the body's and the results' types, values, the Shardy annotations of the
lowered module, and the errors (class and key phrase). Also a partial-manual shard_map
(axis_names={'X'}) keeping the Explicit axis Y in its types."""

from __future__ import annotations

import re

import eight_devices
import numpy as np
import pytest

CASES, case = eight_devices.case_registry()
both = eight_devices.both


def _mesh(lib, kind="Explicit"):
    t = getattr(lib.sharding.AxisType, kind)
    return lib.make_mesh((4, 2), ("X", "Y"), (t, t))


def _operands(lib):
    P = lib.P
    a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P(None, "X"))
    b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P("X", None))
    return a, b


def _partial(lib, a, b):
    """a @ b left unreduced over X (each device's partial sum)."""
    return lib.numpy.dot(a, b, out_sharding=lib.P(None, None, unreduced={"X"}))


def _value(lib, r):
    """A result's value (reduced first where its type is unreduced or reduced)."""
    t = str(lib.typeof(r))
    if "U:" in t or "R:" in t:
        r = lib.sharding.reshard(r, lib.P(None, None))
    return np.asarray(r).round(4).tolist()


def _sdy(text):
    """The lines of a lowered module that carry its shardings and collectives, with SSA
    names and locations taken out."""
    keep = ("sdy.", "all_reduce", "manual_computation", "func.func public @main")
    lines = [ln.strip() for ln in text.splitlines() if any(k in ln for k in keep)]
    return [re.sub(r"%[\w#]+", "%", re.sub(r" loc\(.*\)", "", ln)) for ln in lines]


def _raised(fn):
    try:
        fn()
    except Exception as e:  # the class and message's first line are what is compared
        # JAX spells dtypes in full in a type's str, the engine short
        first = (str(e).splitlines() or [""])[0].replace("float32", "f32")
        return type(e).__name__, first
    raise AssertionError("expected an exception")


def _programs(lib):
    """name -> (function of a, b; whether to compare the lowered module)."""
    P, lax, shard_map = lib.P, lib.lax, lib.shard_map
    U = P(None, None, unreduced={"X"})
    split = (P(None, "X"), P("X", None))

    def pcast_psum(x, y):
        return lax.psum(lax.pcast(x @ y, "X", to="unreduced"), "X")

    def pcast_add(x, y):
        z = lax.pcast(x @ y, "X", to="unreduced")
        return z + z

    def part(a, b):
        return _partial(lib, a, b)

    return {
        "psum_given_spec": (
            lambda a, b: shard_map(lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None))(
                part(a, b)
            ),
            True,
        ),
        "psum_inferred_spec": (
            lambda a, b: shard_map(lambda p: lax.psum(p, "X"), out_specs=P(None, None))(part(a, b)),
            True,
        ),
        "psum_other_axis": (
            lambda a, b: lib.sharding.reshard(
                shard_map(lambda p: lax.psum(p, "Y"), in_specs=U, out_specs=U)(part(a, b)),
                P(None, None),
            ),
            False,
        ),
        "matmul_out_unreduced": (
            lambda a, b: shard_map(lambda x, y: x @ y, in_specs=split, out_specs=U)(a, b),
            True,
        ),
        "pcast_unreduced_psum": (
            lambda a, b: shard_map(pcast_psum, in_specs=split, out_specs=P(None, None))(a, b),
            True,
        ),
        "unreduced_add_then_reshard": (
            lambda a, b: lib.sharding.reshard(
                shard_map(pcast_add, in_specs=split, out_specs=U)(a, b), P(None, None)
            ),
            True,
        ),
        "no_vma_check_psum": (
            lambda a, b: shard_map(
                lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None), check_vma=False
            )(part(a, b)),
            True,
        ),
        "grad_through_unreduced_in_spec": (
            lambda a, b: lib.grad(
                lambda a: shard_map(
                    lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None)
                )(part(a, b)).sum()
            )(a),
            False,
        ),
        # pmap-style (check_vma=False): the cotangent divided before the transposed map
        "grad_without_vma_check": (
            lambda a, b: lib.grad(
                lambda a: shard_map(
                    lambda p: lax.psum(p, "X"),
                    in_specs=U,
                    out_specs=P(None, None),
                    check_vma=False,
                )(part(a, b)).sum()
            )(a),
            False,
        ),
        "grad_of_sin_after": (
            lambda a, b: lib.grad(
                lambda a: lib.numpy.sin(
                    shard_map(lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None))(
                        part(a, b)
                    )
                ).sum()
            )(a),
            False,
        ),
        "grad_through_unreduced_out_spec": (
            lambda a, b: lib.grad(
                lambda a: lib.sharding.reshard(
                    shard_map(lambda x, y: x @ y, in_specs=split, out_specs=U)(a, b), P(None, None)
                ).sum()
            )(a),
            False,
        ),
        "psum_scatter_of_unreduced": (
            lambda a, b: shard_map(
                lambda p: lax.psum_scatter(p, "X", scatter_dimension=0, tiled=True),
                in_specs=U,
                out_specs=P("X", None),
            )(part(a, b)),
            True,
        ),
        "psum_scatter_untiled": (
            lambda a, b: shard_map(
                lambda p: lax.psum_scatter(p.reshape(4, 2, 6), "X"), in_specs=U, out_specs=P("X")
            )(part(a, b)),
            False,
        ),
        "grad_through_psum_scatter": (
            lambda a, b: lib.grad(
                lambda a: shard_map(
                    lambda p: lax.psum_scatter(p, "X", scatter_dimension=0, tiled=True),
                    in_specs=U,
                    out_specs=P("X", None),
                )(part(a, b)).sum()
            )(a),
            False,
        ),
        "jvp_through_pcast": (
            lambda a, b: lib.jvp(
                lambda a: shard_map(pcast_psum, in_specs=split, out_specs=P(None, None))(a, b),
                (a,),
                (a * 2.0,),
            )[1],
            False,
        ),
        "grad_through_pcast": (
            lambda a, b: lib.grad(
                lambda a: shard_map(pcast_psum, in_specs=split, out_specs=P(None, None))(a, b).sum()
            )(a),
            False,
        ),
    }


def _reduced_programs(lib):
    P, lax, shard_map = lib.P, lib.lax, lib.shard_map
    R = P(None, None, reduced={"X"})
    return {
        "pcast_to_reduced": lambda c: shard_map(
            lambda p: lax.pcast(p, "X", to="reduced"), in_specs=P(None, None), out_specs=R
        )(c),
        "reduced_in_to_varying": lambda c: shard_map(
            lambda p: lax.pcast(p, "X", to="varying"), in_specs=R, out_specs=P("X", None)
        )(lib.sharding.reshard(c, R)),
        "all_gather_to_reduced": lambda c: shard_map(
            lambda x: lax.all_gather(x, "X", axis=0, tiled=True, to="reduced"),
            in_specs=P("X", None),
            out_specs=R,
        )(lib.sharding.reshard(c, P("X", None))),
        "all_gather_to_reduced_untiled": lambda c: shard_map(
            lambda x: lax.all_gather(x, "X", to="reduced"),
            in_specs=P("X", None),
            out_specs=P(None, None, None, reduced={"X"}),
        )(lib.sharding.reshard(c, P("X", None))),
        # an operand reduced over exactly the axes it lacks is cast, not pvary'd
        "reduced_times_varying": lambda c: shard_map(
            lambda p, q: p * q, in_specs=(R, P("X", None)), out_specs=P("X", None)
        )(lib.sharding.reshard(c[:2], R), lib.sharding.reshard(c, P("X", None))),
    }


@case
def jaxprs_types_values_and_lowering_as_jax():
    def run(lib):
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            for name, (fn, lower) in _programs(lib).items():
                jaxpr = lib.make_jaxpr(fn)(a, b)
                r = lib.jit(fn)(a, b)
                out[name] = [str(jaxpr), str(lib.typeof(r)), _value(lib, r)]
                if lower:
                    out[name].append(_sdy(lib.jit(fn).lower(a, b).as_text()))
            c = lib.device_put(np.arange(48.0, dtype=np.float32).reshape(8, 6), lib.P())
            for name, fn in _reduced_programs(lib).items():
                r = lib.jit(fn)(c)
                out[name] = [str(lib.make_jaxpr(fn)(c)), str(lib.typeof(r)), _value(lib, r)]
        return out

    eight_devices.assert_same_by_name(run)


@case
def body_types_as_jax():
    """What jax.typeof shows inside the body: {U:X}, {R:X}, {V:Y, U:X}."""

    def run(lib):
        P, lax = lib.P, lib.lax
        seen = []

        def mat(x):
            m = lib.typeof(x).mat
            return [sorted(m.varying), sorted(m.unreduced), sorted(m.reduced)]

        def look(p):
            seen.append(str(lib.typeof(p)))
            seen.append(mat(p))
            q = lax.pcast(p, "Y", to="varying")
            seen.append(str(lib.typeof(q)))
            seen.append(mat(q))
            return lax.psum(q, "Y")

        def cast(p):
            r = lax.pcast(p, "X", to="reduced")
            seen.append(str(lib.typeof(r)))
            seen.append(mat(r))
            v = lax.pcast(r, "X", to="varying")
            seen.append(str(lib.typeof(v)))
            seen.append(str(lib.typeof(lax.pcast(v, "X", to="unreduced"))))
            return v

        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            U = P(None, None, unreduced={"X"})
            lib.make_jaxpr(lib.shard_map(look, in_specs=U, out_specs=U))(_partial(lib, a, b))
            c = lib.device_put(np.ones((8, 6), np.float32), P())
            lib.make_jaxpr(lib.shard_map(cast, in_specs=P(), out_specs=P("X")))(c)
            # outside a body an unreduced value's axes are in its sharding, not its mat
            seen.append(mat(_partial(lib, a, b)))
        return seen

    e, j = both(run)
    assert e == j


@case
def eager_values_as_jax():
    """Called outside jit: unreduced arguments, unreduced results, pcast in the body."""

    def run(lib):
        P, lax, shard_map = lib.P, lib.lax, lib.shard_map
        U = P(None, None, unreduced={"X"})
        split = (P(None, "X"), P("X", None))
        out = []
        seen = []

        def look(p):
            seen.append(str(lib.typeof(p)))
            q = lax.psum(p, "X")
            seen.append(str(lib.typeof(q)))
            return q

        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            pu = lib.jit(lambda a, b: _partial(lib, a, b))(a, b)
            results = [
                shard_map(look, in_specs=U, out_specs=P(None, None))(pu),
                shard_map(lambda p: lax.psum(p, "X"), out_specs=P(None, None))(pu),
                shard_map(lambda x, y: x @ y, in_specs=split, out_specs=U)(a, b),
                shard_map(
                    lambda x, y: lax.psum(lax.pcast(x @ y, "X", to="unreduced"), "X"),
                    in_specs=split,
                    out_specs=P(None, None),
                )(a, b),
                shard_map(lambda p: p + p, in_specs=U, out_specs=U)(pu),
                shard_map(
                    lambda p: lax.psum_scatter(p, "X", tiled=True), in_specs=U, out_specs=P("X")
                )(pu),
                shard_map(
                    lambda x: lax.all_gather(x, "X", axis=1, tiled=True, to="reduced"),
                    in_specs=P(None, "X"),
                    out_specs=P(None, None, reduced={"X"}),
                )(a),
            ]
            for r in results:
                out.append((str(lib.typeof(r)), _value(lib, r)))
        return out, seen

    e, j = both(run)
    assert e == j


@case
def errors_as_jax():
    def run(lib):
        P, lax, shard_map = lib.P, lib.lax, lib.shard_map
        U = P(None, None, unreduced={"X"})
        split = (P(None, "X"), P("X", None))
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            pu = lib.jit(lambda a, b: _partial(lib, a, b))(a, b)
            c = lib.device_put(np.ones((8, 6), np.float32), P(None, None))
            jit = lib.jit
            cases = {
                # a body's unreduced value times an unreduced-free scalar: JAX's ur rule
                "mul_by_scalar": lambda: jit(shard_map(lambda p: p * 2.0, in_specs=U, out_specs=U))(
                    pu
                ),
                # an invariant result cannot be cast to unreduced
                "out_unreduced_of_invariant": lambda: jit(
                    shard_map(lambda p: p * 2.0, in_specs=P(None, None), out_specs=U)
                )(c),
                "psum_mixed_states": lambda: jit(
                    shard_map(
                        lambda p: lax.psum(p, ("X", "Y")), in_specs=U, out_specs=P(None, None)
                    )
                )(pu),
                "pcast_invariant_to_unreduced": lambda: jit(
                    shard_map(
                        lambda p: lax.pcast(p, "X", to="unreduced"),
                        in_specs=P(None, None),
                        out_specs=U,
                    )
                )(c),
                "pcast_unreduced_to_varying": lambda: jit(
                    shard_map(
                        lambda p: lax.pcast(p, "X", to="varying"),
                        in_specs=U,
                        out_specs=P("X", None),
                    )
                )(pu),
                "pcast_reduced_to_unreduced": lambda: jit(
                    shard_map(
                        lambda p: lax.pcast(lax.pcast(p, "X", to="reduced"), "X", to="unreduced"),
                        in_specs=P(None, None),
                        out_specs=P(None, None),
                    )
                )(c),
                # an unreduced value left unreduced under a plain out_spec
                "plain_out_spec_of_unreduced": lambda: jit(
                    shard_map(lambda p: p, in_specs=U, out_specs=P(None, None))
                )(pu),
                "plain_out_spec_of_pcast": lambda: jit(
                    shard_map(
                        lambda x, y: lax.pcast(x @ y, "X", to="unreduced"),
                        in_specs=split,
                        out_specs=P(None, None),
                    )
                )(a, b),
                "all_gather_bad_to": lambda: jit(
                    shard_map(
                        lambda x: lax.all_gather(x, "X", to="foo"),
                        in_specs=P(None, None),
                        out_specs=P(None, None),
                    )
                )(c),
                "partial_manual_unreduced_in": lambda: jit(
                    shard_map(lambda p: p, in_specs=U, out_specs=P(None, None), axis_names={"X"})
                )(pu),
                "partial_manual_unreduced_out": lambda: jit(
                    shard_map(lambda x, y: x @ y, in_specs=split, out_specs=U, axis_names={"X"})
                )(a, b),
                "unreduced_spec_on_plain_arg": lambda: jit(
                    shard_map(lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None))
                )(c),
                "vmap_of_unreduced_psum": lambda: jit(
                    shard_map(
                        lambda x, y: lib.vmap(
                            lambda r: lax.psum(lax.pcast(r @ y, "X", to="unreduced"), "X")
                        )(x),
                        in_specs=split,
                        out_specs=P(None, None),
                    )
                )(a, b),
            }
            for name, fn in cases.items():
                out[name] = _raised(fn)
            # the session stays usable
            r = jit(shard_map(lambda p: lax.psum(p, "X"), in_specs=U, out_specs=P(None, None)))(pu)
            out["after"] = _value(lib, r)
        # unreduced= on a mesh whose axes are not Explicit
        auto = _mesh(lib, "Auto")
        out["auto_mesh"] = _raised(
            lambda: lib.jit(lib.shard_map(lambda p: p, mesh=auto, in_specs=U, out_specs=U))(
                np.ones((8, 6), np.float32)
            )
        )
        return out

    e, j = both(run)
    assert e.keys() == j.keys()
    for name in j:
        assert _sets_sorted(e[name]) == _sets_sorted(j[name]), name


def _sets_sorted(outcome):
    """A message ending in a printed set of strings, its members sorted: a set's order
    is its hashes' and the history of its frozenset constant (unmarshalled from a .pyc
    written under another hash seed), so it differs between the two libraries' sets."""
    if not isinstance(outcome, tuple):
        return outcome
    kind, message = outcome
    m = re.search(r"\{('[^{}]*')\}$", message)
    if m is None:
        return outcome
    members = sorted(x.strip() for x in m.group(1).split(","))
    return kind, message[: m.start()] + "{" + ", ".join(members) + "}"


@case
def partial_manual_keeps_explicit_axes_as_jax():
    """axis_names={'X'} on a mesh whose Y is Explicit: the body's and the results' types
    keep @Y, and the body's values are constrained over Y as JAX lowers them."""

    def run(lib):
        P, lax, shard_map = lib.P, lib.lax, lib.shard_map
        seen = []

        def body(x):
            seen.append(str(lib.typeof(x)))
            y = lib.numpy.sin(x) * 2
            seen.append(str(lib.typeof(y)))
            return y

        fns = {
            "split": lambda d: shard_map(body, in_specs=P("X"), out_specs=P("X"), axis_names={"X"})(
                d
            ),
            "inferred": lambda d: shard_map(body, out_specs=P("X"), axis_names={"X"})(d),
            "psum": lambda d: shard_map(
                lambda x: lax.psum(x, "X"), in_specs=P("X"), out_specs=P(), axis_names={"X"}
            )(d),
            # values made in the body are typed over its mesh (Y Explicit, X Manual)
            "ones_and_arange": lambda d: shard_map(
                lambda x: x + lib.numpy.ones(x.shape) + lib.numpy.arange(6, dtype=np.float32),
                in_specs=P("X"),
                out_specs=P("X"),
                axis_names={"X"},
            )(d),
            "grad": lambda d: lib.grad(
                lambda d: shard_map(
                    lib.numpy.sin, in_specs=P("X"), out_specs=P("X"), axis_names={"X"}
                )(d).sum()
            )(d),
            "replicated_in": lambda d: shard_map(
                body, in_specs=P(), out_specs=P(), axis_names={"X"}
            )(lib.sharding.reshard(d, P(None, "Y"))),
        }
        out = {}
        with lib.set_mesh(_mesh(lib)):
            d = lib.device_put(np.arange(48.0, dtype=np.float32).reshape(8, 6), P("X", "Y"))
            for name, fn in fns.items():
                r = lib.jit(fn)(d)
                out[name] = [str(lib.make_jaxpr(fn)(d)), str(lib.typeof(r)), _value(lib, r)]
                if name != "grad":  # (the engine's lowered forward keeps the unused primal)
                    out[name].append(_sdy(lib.jit(fn).lower(d).as_text()))
            # (how often a body is traced is the engine's business: each type once)
            out["body_types"] = sorted(set(seen))
            seen.clear()
            for name, fn in fns.items():  # called outside jit: the body runs op by op
                if name != "grad":
                    r = fn(d)
                    out[f"eager_{name}"] = [str(lib.typeof(r)), _value(lib, r)]
            out["eager_body_types"] = list(seen)
        return out

    eight_devices.assert_same_by_name(run)


@case
def auto_mesh_pcast_as_jax():
    """Over Auto axes a body may still cast to unreduced and psum (under jit); called
    eagerly JAX refuses the unreduced type over a non-Explicit axis."""

    def run(lib):
        P, lax = lib.P, lib.lax
        a = np.arange(32.0, dtype=np.float32).reshape(8, 4)
        b = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
        f = lib.shard_map(
            lambda x, y: lax.psum(lax.pcast(x @ y, "X", to="unreduced"), "X"),
            mesh=_mesh(lib, "Auto"),
            in_specs=(P(None, "X"), P("X", None)),
            out_specs=P(None, None),
        )
        r = lib.jit(f)(a, b)
        kind, message = _raised(lambda: f(a, b))
        return (
            str(lib.make_jaxpr(f)(a, b)),
            np.asarray(r).round(4).tolist(),
            (kind, message.split(". Got mesh")[0]),
        )

    e, j = both(run)
    assert e == j


@pytest.mark.parametrize("name", sorted(CASES))
def test_shard_map_unreduced_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
