"""Unreduced and reduced values as JAX 0.10.2 writes them, against real JAX on 8 CPU
devices (one child process, tests/eight_devices.py): types printed with their reduced
axes (``f32[8,6]{R:X}``), arrays that keep their unreduced/reduced axes in their
``.sharding``, ``@main``'s result annotations naming them, and the Shardy constraints
JAX writes inside argmax/argmin and generic reducer bodies."""

from __future__ import annotations

import re

import eight_devices
import numpy as np
import pytest

CASES, case = eight_devices.case_registry()
both = eight_devices.both


def _mesh(lib):
    return lib.make_mesh((4, 2), ("X", "Y"), (lib.sharding.AxisType.Explicit,) * 2)


def _operands(lib):
    P = lib.P
    a = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P(None, "X"))
    b = lib.device_put(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6), P("X", None))
    return a, b


def _partial(lib, a, b, axes=("X",)):
    return lib.numpy.dot(a, b, out_sharding=lib.P(None, None, unreduced=set(axes)))


def _reduced(lib, axes=("X",), shape=(8, 6)):
    return lib.sharding.reshard(lib.numpy.ones(shape), lib.P(None, None, reduced=set(axes)))


def _without_ctx_mesh(text):
    # ctx_mesh is a parameter the engine's nested jit does not print
    return "\n".join(ln for ln in text.splitlines() if "ctx_mesh=" not in ln)


@case
def reduced_types_print_as_jax():
    """{R:X} in jaxprs, in str/repr of types, and next to {U:...}."""

    def run(lib):
        P = lib.P
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            programs = {
                "reduced_add": lambda a, b: _reduced(lib) + _reduced(lib),
                "reduced_two_axes": lambda a, b: (
                    _reduced(lib, ("X", "Y")) + _reduced(lib, ("X", "Y"))
                ),
                "reduced_sharded": lambda a, b: lib.sharding.reshard(
                    lib.numpy.ones((8, 6)), P("Y", None, reduced={"X"})
                ),
                "unreduced_times_reduced": lambda a, b: _partial(lib, a, b) * _reduced(lib),
                "reshard_to_reduced": lambda a, b: lib.sharding.reshard(
                    _partial(lib, a, b), P(None, None, reduced={"X"})
                ),
            }
            for name, fn in programs.items():
                seen = []

                def traced(a, b, fn=fn, seen=seen):
                    r = fn(a, b)
                    t = lib.typeof(r)
                    seen.append((str(t), repr(t), t.str_short(short_dtypes=True)))
                    return r

                jaxpr = lib.make_jaxpr(traced)(a, b)
                out[name] = (_without_ctx_mesh(str(jaxpr)), seen[0])
        return out

    e, j = both(run)
    assert e == j


def _raised(fn):
    try:
        fn()
    except Exception as e:  # the class and message are what is compared
        return type(e).__name__, str(e)
    raise AssertionError("expected an exception")


def _rounded(x):
    if isinstance(x, tuple):
        return [_rounded(v) for v in x]
    x = np.asarray(x)
    return (x.round(4) if x.dtype.kind == "f" else x).tolist()


@case
def eager_unreduced_arrays_as_jax():
    """An eager unreduced value holds each device's partial sum: its ``.sharding`` says
    unreduced, eager and jitted operations on it keep the partial sums, and a reshard
    sums them; its value cannot be fetched (JAX's NotImplementedError)."""

    def run(lib):
        P, reshard = lib.P, lib.sharding.reshard
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            p = _partial(lib, a, b)
            out["p"] = (str(p.sharding), str(lib.typeof(p)), repr(p))
            out["value"] = _raised(lambda: np.asarray(p))
            shards = p.addressable_shards
            out["shards"] = [(s.device.id, _rounded(s.data)) for s in shards]
            out["shard_index"] = _raised(lambda: shards[0].index)
            steps = {
                "reshard": lambda: reshard(p, P(None, None)),
                "reshard_sharded": lambda: reshard(p, P("X", None)),
                "add": lambda: p + p,
                "transpose": lambda: p.T,
                "sum": lambda: p.sum(0),
                "jit_add": lambda: lib.jit(lambda p: p + p)(p),
                "jit_dot": lambda: lib.jit(lambda a, b: _partial(lib, a, b))(a, b),
                "to_reduced": lambda: reshard(p, P(None, None, reduced={"X"})),
            }
            for name, step in steps.items():
                r = step()
                reduced = (
                    r
                    if not r.sharding.spec.unreduced
                    else reshard(r, P(*r.sharding.spec.partitions))
                )
                out[name] = (
                    str(r.sharding),
                    str(lib.typeof(r)),
                    str(reduced.sharding),
                    _rounded(reduced),
                )
        return out

    eight_devices.assert_same_by_name(run)


def _signature_and_constraints(text):
    """main's signature and each sdy.sharding_constraint (SSA names, locations gone)."""
    out = []
    for line in text.splitlines():
        if "sdy.sharding_constraint" in line or "func.func public @main" in line:
            line = re.sub(r" loc\(.*\)", "", line)
            out.append(re.sub(r"%[\w#]+", "%", line).strip())
    return out


@case
def main_annotations_name_unreduced_as_jax():
    """``@main``'s arguments and results say ``unreduced={...}`` (JAX writes no reduced
    axes there)."""

    def run(lib):
        P, reshard = lib.P, lib.sharding.reshard
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            p = _partial(lib, a, b)
            c = lib.device_put(np.arange(64.0, dtype=np.float32).reshape(8, 8), P(None, ("X", "Y")))
            d = lib.device_put(np.ones((8, 6), np.float32), P(("X", "Y"), None))
            programs = {
                "dot_unreduced": (lambda a, b: _partial(lib, a, b), (a, b)),
                "unreduced_argument": (lambda p: p + p, (p,)),
                "unreduced_argument_reshard": (lambda p: reshard(p, P("X", None)), (p,)),
                "two_axes": (
                    lambda c, d: lib.numpy.dot(c, d, out_sharding=P(unreduced={"X", "Y"})),
                    (c, d),
                ),
                "to_reduced": (lambda a, b: reshard(_partial(lib, a, b), P(reduced={"X"})), (a, b)),
            }
            for name, (fn, args) in programs.items():
                text = lib.jit(fn).lower(*args).as_text()
                out[name] = _signature_and_constraints(text)
                if name == "two_axes":
                    r = lib.jit(fn)(*args)
                    out[name].append((str(r.sharding), str(lib.typeof(r))))
                    out[name].append(_rounded(reshard(r, P(None, None))))
        return out

    eight_devices.assert_same_by_name(run)


@case
def rev_refuses_unreduced_and_reduced_as_jax():
    """JAX 0.10.2 has no unreduced/reduced rule for rev: NotImplementedError, also
    through jnp.flip and a JVP; a sharded operand keeps its type."""

    def run(lib):
        P, lax = lib.P, lib.lax
        out = {}
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            programs = {
                "unreduced": lambda: lax.rev(_partial(lib, a, b), (0,)),
                "reduced": lambda: lax.rev(_reduced(lib), (1,)),
                "flip": lambda: lib.numpy.flip(_partial(lib, a, b), 0),
                "jvp": lambda: lib.jvp(
                    lambda x: lax.rev(x, (0,)), (_partial(lib, a, b),), (_partial(lib, a, b),)
                ),
            }
            for name, fn in programs.items():
                out[name] = _raised(lambda fn=fn: lib.jit(fn)())
            x = lib.device_put(np.arange(32.0, dtype=np.float32).reshape(8, 4), P("X", "Y"))
            r = lib.jit(lambda x: lax.rev(x, (0, 1)))(x)
            out["sharded"] = (str(lib.typeof(r)), str(r.sharding), _rounded(r))
        return out

    e, j = both(run)
    assert e == j


def _module_text(text):
    """The whole module, locations gone."""
    text = re.sub(r" loc\(.*?\)+$", "", text, flags=re.M)
    return [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#loc")]


def _argminmax_programs(lib):
    jnp, lax = lib.numpy, lib.lax
    return {
        "argmax_rows": lambda x: jnp.argmax(x, 1),
        "argmin_columns": lambda x: jnp.argmin(x, 0),
        "shared_and_renamed": lambda x: (
            jnp.argmax(x, 0),
            jnp.argmax(x, 1),
            jnp.argmin(x, 0),
            jnp.argmax(x, 0),
            jnp.argmax(x.astype(jnp.int32), 0),
        ),
        "bool_and_unsigned": lambda x: (
            jnp.argmax(x > 1, 1),
            jnp.argmin(jnp.abs(x).astype(jnp.uint8), 1),
        ),
        "bfloat16_int8_index": lambda x: lax.argmax(x.astype(jnp.bfloat16), 1, np.int8),
    }


@case
def argmax_argmin_lower_as_jax():
    """JAX lowers argmax/argmin as a private function (one per operand type, named as
    MLIR's symbol table names them), a variadic reduce of (values, iota) whose reducer
    picks the greater value, a NaN first, the lower index on ties. Over an Explicit mesh
    the iota, each scalar step and both results carry Shardy constraints. Whole modules
    and values (with NaNs and ties), on one device and on the mesh."""
    x = (
        np.array([[1, np.nan, 3, 3, 0, 2], [2, 2, -1, np.nan, np.nan, 0]] * 4, np.float32)
        * np.arange(1, 9, dtype=np.float32)[:, None]
    )

    def run(lib):
        out = {}
        for name, fn in _argminmax_programs(lib).items():
            r = lib.jit(fn)(x)
            out[name] = (_module_text(lib.jit(fn).lower(x).as_text()), _rounded(r))
        with lib.set_mesh(_mesh(lib)):
            xs = lib.device_put(x, lib.P("X", "Y"))
            for name, fn in _argminmax_programs(lib).items():
                r = lib.jit(fn)(xs)
                text = _module_text(lib.jit(fn).lower(xs).as_text())
                leaves = r if isinstance(r, tuple) else (r,)
                out["mesh_" + name] = (text, _rounded(r), [str(lib.typeof(v)) for v in leaves])
        return out

    eight_devices.assert_same_by_name(run)


def _reducer_programs(lib):
    jnp, lax = lib.numpy, lib.lax

    def max_of_abs(a, b):
        return jnp.maximum(jnp.abs(a), jnp.abs(b))

    return {
        "sum_and_product": lambda x: lax.reduce(
            (x, x), (0.0, 1.0), lambda a, b: (a[0] + b[0], a[1] * b[1]), (1,)
        ),
        "max_of_abs": lambda x: lax.reduce(x, 0.0, max_of_abs, (0,)),
        "select_scaled": lambda x: lax.reduce(
            x, -1.0, lambda a, b: lax.select(a > b, a, b * 2.0), (1,)
        ),
        "int_xor": lambda x: lax.reduce(x.astype(jnp.int32), 3, lambda a, b: a ^ b, (1,)),
    }


def _ran(lib, fn, x):
    try:
        return _rounded(lib.jit(fn)(x))
    except Exception as e:  # XLA's partitioner refuses some reducers, in JAX too
        return type(e).__name__, str(e).split(":")[0]


@case
def generic_reducer_bodies_as_jax():
    """lax.reduce with a computation that is no known monoid: the body's jaxpr, JAX's
    computation parameter (the function, its address masked), and over an Explicit mesh
    the constraints JAX writes inside the reducer (a binary op's result and its
    untyped operands replicated, a unary op's result left as its operand), values or
    XLA's refusal."""
    x = np.arange(48.0, dtype=np.float32).reshape(8, 6) - 20

    def run(lib):
        out = {}
        for name, fn in _reducer_programs(lib).items():
            out[name] = (str(lib.make_jaxpr(fn)(x)), _ran(lib, fn, x))
        with lib.set_mesh(_mesh(lib)):
            xs = lib.device_put(x, lib.P("X", "Y"))
            for name, fn in _reducer_programs(lib).items():
                out["mesh_" + name] = (
                    str(lib.make_jaxpr(fn)(xs)),
                    _module_text(lib.jit(fn).lower(xs).as_text()),
                    _ran(lib, fn, xs),
                )
        return out

    eight_devices.assert_same_by_name(run)


@case
def derivative_constants_as_jax():
    """The 1 in the derivatives of tanh, logistic, expm1, log1p and asinh is JAX's
    ``_one(x)``: over a mesh whose type x carries it is resharded onto that mesh
    (``reshard 1.0:f32[]``, constrained replicated when lowered); a literal for an
    untyped x (an Auto mesh, no mesh). Jaxprs, constraints and gradients."""
    x = np.linspace(-1.5, 1.5, 48, dtype=np.float32).reshape(8, 6)

    def loss(lib):
        jnp = lib.numpy
        return lambda x: (
            jnp.tanh(x) + lib.nn.sigmoid(x) + jnp.expm1(x) + jnp.log1p(x + 2) + jnp.arcsinh(x)
        ).sum()

    def run(lib):
        grad = lib.grad(loss(lib))
        out = {"no_mesh": (str(lib.make_jaxpr(grad)(x)), _rounded(lib.jit(grad)(x)))}
        Explicit, Auto = lib.sharding.AxisType.Explicit, lib.sharding.AxisType.Auto
        for name, types in (
            ("explicit", (Explicit, Explicit)),
            ("mixed", (Explicit, Auto)),
            ("auto", (Auto, Auto)),
        ):
            with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"), types)):
                xs = lib.device_put(x, lib.P("X", "Y"))
                out[name] = (
                    str(lib.make_jaxpr(grad)(xs)),
                    _signature_and_constraints(lib.jit(grad).lower(xs).as_text()),
                    _rounded(lib.jit(grad)(xs)),
                    _rounded(grad(xs)),
                )
        return out

    eight_devices.assert_same_by_name(run)


@case
def scalars_meet_reduced_values_as_jax():
    """JAX's insert_reduced_reshard: a binary lax operation between a reduced value and
    a scalar reshards the scalar to the same reduced axes (``c:f32[]{R:X} = reshard
    2.0:f32[]``), also for a scalar typed on the mesh; types, constraints and values."""

    def run(lib):
        jnp, lax = lib.numpy, lib.lax
        red = lambda: _reduced(lib)  # noqa: E731
        programs = {
            "scalar_times": lambda: 2.0 * red(),
            "plus_typed_scalar": lambda: red() + jnp.float32(1),
            "compare": lambda: red() > 0.5,
            "max": lambda: lax.max(red(), 0.0),
            "div_int": lambda: red() / 3,
            "sub": lambda: red() - 1,
            "pow": lambda: lax.pow(red(), 2.0),
            "maximum": lambda: jnp.maximum(red(), 0),
            "pad": lambda: lax.pad(red(), 0.0, [(1, 1, 0), (0, 0, 0)]),
            "two_reduced": lambda: red() * red(),
            "reduced_two_axes": lambda: _reduced(lib, ("X", "Y")) * 2.0,
        }
        out = {}
        with lib.set_mesh(_mesh(lib)):
            for name, fn in programs.items():
                r = lib.jit(fn)()
                out[name] = (
                    str(lib.make_jaxpr(fn)()),
                    _signature_and_constraints(lib.jit(fn).lower().as_text()),
                    str(lib.typeof(r)),
                    _rounded(r),
                )
        return out

    eight_devices.assert_same_by_name(run)


@case
def compiled_shardings_and_device_put_as_jax():
    """Compiled programs' input/output shardings name unreduced and reduced axes, a
    jitted reduced result keeps them in ``.sharding``; device_put of an unreduced array
    to another layout is JAX's NotImplementedError (onto its own sharding it stays)."""

    def run(lib):
        P = lib.P
        out = []
        with lib.set_mesh(_mesh(lib)):
            a, b = _operands(lib)
            dot = lib.jit(lambda a, b: _partial(lib, a, b))
            c = dot.lower(a, b).compile()
            out.append((str(c.input_shardings), str(c.output_shardings)))
            p = dot(a, b)
            c = lib.jit(lambda p: p + p).lower(p).compile()
            out.append((str(c.input_shardings), str(c.output_shardings)))
            reduced = lib.jit(lambda: _reduced(lib))
            out.append(str(reduced.lower().compile().output_shardings))
            r = reduced()
            out.append((str(r.sharding), _rounded(r), [s.index for s in r.addressable_shards]))
            out.append(_raised(lambda: lib.device_put(p, P(None, None))))
            out.append(
                (str(lib.device_put(p, p.sharding).sharding), lib.device_put(p, p.sharding) is p)
            )
        return out

    e, j = both(run)
    assert e == j


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_unreduced_s6_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
