"""Unused arguments, as JAX 0.10.2 (``keep_unused=False``): ``jit(f).lower`` removes
dead code and the arguments (and closed-over consts) nothing reads from the module's
``@main``, an unused donated argument is neither donated nor warned about, the call
paths hand the module only its arguments, and ``jax.export`` records the arguments it
kept (``module_kept_var_idx``). Each case compared with real JAX on the same inputs;
the sharded ones run on 8 CPU devices in a child process (tests/eight_devices.py)."""

from __future__ import annotations

import re
import warnings

import eight_devices
import numpy as np
import pytest
from helpers import real_jax

import engine
import engine.numpy as enp

X = np.linspace(0.0, 1.0, 3).astype(np.float32)
Y = np.linspace(2.0, 3.0, 3).astype(np.float32)
M = np.arange(6, dtype=np.float32).reshape(2, 3)
_CONST = np.arange(3, dtype=np.float32) + 7


def _main_args(text: str) -> list[str]:
    """The types of ``@main``'s arguments."""
    sig = re.search(r"func\.func public @main\((.*?)\) ->", text)
    assert sig is not None, text
    return re.findall(r"%arg\d+: (tensor<[^>]*>)", sig.group(1))


def _params(hlo: str) -> int:
    """How many parameters XLA's compiled entry computation takes."""
    layout = re.search(r"entry_computation_layout=\{\((.*?)\)->", hlo)
    assert layout is not None, hlo
    return len(re.findall(r"\[[^\]]*\]\{?[^,)]*", layout.group(1)))


# (name, function of (lib, jnp), args, kwargs, jit options)
CASES = [
    ("positional", lambda lib, np_: lambda x, y: x + 1, (X, Y), {}, {}),
    ("keyword", lambda lib, np_: lambda x, *, z: x * 2, (X,), {"z": Y}, {}),
    ("pytree_leaf", lambda lib, np_: lambda d: d["a"] * 2, ({"a": X, "b": Y},), {}, {}),
    ("all_unused", lambda lib, np_: lambda x, y: np_.zeros(2), (X, Y), {}, {}),
    ("dead_code", lambda lib, np_: lambda x, y: (np_.sin(y), x + 1)[1], (X, Y), {}, {}),
    ("first_unused", lambda lib, np_: lambda x, y: np_.cos(y), (X, Y), {}, {}),
    (
        "grad",
        lambda lib, np_: lib.grad(lambda x, y: (x * x).sum()),
        (X, Y),
        {},
        {},
    ),
    ("vmap", lambda lib, np_: lib.vmap(lambda x, y: x * 3), (M, M), {}, {}),
    (
        "effect_keeps_it",
        lambda lib, np_: lambda x, y: (lib.debug.print("{}", y), x + 1)[1],
        (X, Y),
        {},
        {},
    ),
    (
        "inspect_sharding_keeps_it",
        lambda lib, np_: (
            lambda x, y: (
                lib.debug.inspect_array_sharding(y, callback=lambda s: None),
                x + 1,
            )[1]
        ),
        (X, Y),
        {},
        {},
    ),
    (
        "nested_jit_unused",
        lambda lib, np_: (lambda inner: lambda x, y: inner(x, y) * 2)(lib.jit(lambda a, b: a + 1)),
        (X, Y),
        {},
        {},
    ),
    (
        "cond_operand_unused",
        lambda lib, np_: lambda x, y: lib.lax.cond(True, lambda a, b: a, lambda a, b: a * 2, x, y),
        (X, Y),
        {},
        {},
    ),
    ("keep_unused", lambda lib, np_: lambda x, y: x + 1, (X, Y), {}, {"keep_unused": True}),
    (
        "keep_unused_dead_code",
        lambda lib, np_: lambda x, y: (np_.sin(y), x + 1)[1],
        (X, Y),
        {},
        {"keep_unused": True},
    ),
    (
        "unused_const",
        lambda lib, np_: lambda x, y: (np_.asarray(_CONST) * y, x + 1)[1],
        (X, Y),
        {},
        {},
    ),
    ("python_scalar", lambda lib, np_: lambda x, s: x * 2, (X, 3.0), {}, {}),
]


def _both(make, args, kwargs, opts):
    jax, jnp = real_jax()
    out = {}
    for name, lib, np_ in (("engine", engine, enp), ("jax", jax, jnp)):
        f = lib.jit(make(lib, np_), **opts)
        lowered = f.lower(*args, **kwargs)
        compiled = lowered.compile()
        out[name] = (f, lowered, compiled)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lowered_and_compiled_arguments_as_jax(case, capfd):
    _, make, args, kwargs, opts = case
    got = _both(make, args, kwargs, opts)
    (ef, el, ec), (jf, jl, jc) = got["engine"], got["jax"]
    assert _main_args(el.as_text()) == _main_args(jl.as_text())
    assert ("stablehlo.sine" in el.as_text()) == ("stablehlo.sine" in jl.as_text())
    assert _params(ec.as_text()) == _params(jc.as_text())
    jax, _ = real_jax()  # an argument left out of the module has no input sharding

    def unsharded(c):
        leaves = jax.tree_util.tree_leaves(c.input_shardings, is_leaf=lambda s: s is None)
        return [s is None for s in leaves]

    assert unsharded(ec) == unsharded(jc)
    # the same values through every call path: jit (twice: the inline caches), Compiled
    want = jf(*args, **kwargs)
    for result in (ef(*args, **kwargs), ef(*args, **kwargs), ec(*args, **kwargs)):
        np.testing.assert_allclose(np.asarray(result), np.asarray(want), rtol=1e-6)
    capfd.readouterr()


def test_all_arrays_fast_paths_with_an_unused_argument():
    """The one-Array inline cache, the all-Array one and the dict lookup, each taken
    with the unused argument left out of the module."""
    jax, _ = real_jax()
    one = engine.jit(lambda x: enp.float32(5))
    two = engine.jit(lambda x, y: y - 1)
    x, y = engine.numpy.asarray(X), engine.numpy.asarray(Y)
    jone, jtwo = jax.jit(lambda x: jax.numpy.float32(5)), jax.jit(lambda x, y: y - 1)
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(one(x)), np.asarray(jone(X)))
        np.testing.assert_array_equal(np.asarray(two(x, y)), np.asarray(jtwo(X, Y)))
        np.testing.assert_array_equal(np.asarray(two(y, x)), np.asarray(jtwo(Y, X)))
    assert _main_args(one.lower(x).as_text()) == _main_args(jone.lower(X).as_text()) == []


def _main_signature(text: str) -> str:
    sig = re.search(r"func\.func public @main\(.*", text)
    assert sig is not None, text
    return sig.group(0)


def _donation(lib, fun, donate, args):
    """(warnings while lowering, main's signature with its donation attributes, which
    inputs the call deleted)."""
    arrays = [lib.numpy.asarray(a) for a in args]
    f = lib.jit(fun(lib.numpy), donate_argnums=donate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = f.lower(*arrays).as_text()
        f(*arrays)
    messages = [str(w.message) for w in caught if "donated" in str(w.message)]
    return messages, _main_signature(text), [a.is_deleted() for a in arrays]


DONATIONS = [
    ("unused_donated", lambda np_: lambda x, y: x + 1, (1,), (X, Y)),
    ("used_and_unused_donated", lambda np_: lambda x, y: x + 1, (0, 1), (X, Y)),
    ("donated_none_aliasing", lambda np_: lambda x, y: np_.sin(y).sum(), (0, 1), (X, Y)),
    ("all_donated_all_unused", lambda np_: lambda x, y: np_.zeros(2), (0, 1), (X, Y)),
    ("same_size_other_shape", lambda np_: lambda m: m.reshape(6) + 1, (0,), (M,)),
    (
        "two_results_one_shape",
        lambda np_: lambda x, y, m: (y * 2, x + y, m.sum()),
        (0, 1, 2),
        (X, Y, M),
    ),
]


@pytest.mark.parametrize("case", DONATIONS, ids=[c[0] for c in DONATIONS])
def test_donation_attributes_warnings_and_deletions_as_jax(case):
    """An unused donated argument is neither donated nor warned about; the others are
    aliased to a result, left as donors or warned about as JAX does."""
    jax, _ = real_jax()
    _, fun, donate, args = case
    got = _donation(engine, fun, donate, args)
    want = _donation(jax, fun, donate, args)
    assert got == want


def test_pruned_module_keeps_the_traced_equation_paths():
    """Dead code goes before lowering, but the equations left keep their paths in the
    traced jaxpr (the explorer links the jaxpr's lines to the module's ops by them)."""
    jax, jnp = real_jax()
    fun = lambda x, y: (enp.sin(y), x + 1)[1]  # noqa: E731
    traced = engine.jit(fun).trace(X, Y)
    jtraced = jax.jit(lambda x, y: (jnp.sin(y), x + 1)[1]).trace(X, Y)
    assert str(traced.jaxpr) == str(jtraced.jaxpr)  # the jaxpr still has the sine
    eqns = traced.jaxpr.jaxpr.eqns
    assert [e.primitive.name for e in eqns] == ["sin", "add"]
    info = traced.lower().lowering_info
    assert sorted(info.eqns) == [(1,)]
    assert "add.eqn1" in traced.lower().as_text(debug_info=True)


def test_export_records_the_kept_arguments_as_jax():
    jax, jnp = real_jax()
    from jax import export as jexport

    from engine import export as eexport

    (b,) = jexport.symbolic_shape("b")
    (eb,) = eexport.symbolic_shape("b")
    cases = [
        (lambda np_: lambda x, y: x + 1, {}, (X, Y), None),
        (lambda np_: lambda d: d["a"] * 2, {}, ({"a": X, "b": Y},), None),
        (lambda np_: lambda x, y: x + 1, {"keep_unused": True}, (X, Y), None),
        (lambda np_: lambda x, y: np_.zeros(2), {}, (X, Y), None),
        (lambda np_: lambda x, y: x + 1, {}, None, True),
    ]
    for fun, opts, args, poly in cases:
        if poly:
            jargs = (jax.ShapeDtypeStruct((b,), np.float32), X)
            eargs = (engine.ShapeDtypeStruct((eb,), np.float32), X)
        else:
            jargs = eargs = args
        want = jexport.export(jax.jit(fun(jnp), **opts))(*jargs)
        got = eexport.export(engine.jit(fun(enp), **opts))(*eargs)
        assert got.module_kept_var_idx == want.module_kept_var_idx
        assert len(got.in_avals) == len(want.in_avals)
        assert _main_args(got.mlir_module()) == _main_args(want.mlir_module())


def test_pruned_export_round_trips_with_jax_both_ways():
    jax, jnp = real_jax()
    from jax import export as jexport

    from engine import export as eexport

    ours = eexport.export(engine.jit(lambda x, y: enp.sin(y) * 2))(X, Y)
    theirs = jexport.export(jax.jit(lambda x, y: jnp.sin(y) * 2))(X, Y)
    assert ours.module_kept_var_idx == theirs.module_kept_var_idx == (1,)
    in_jax = jexport.deserialize(ours.serialize())
    in_engine = eexport.deserialize(theirs.serialize())
    assert in_jax.module_kept_var_idx == in_engine.module_kept_var_idx == (1,)
    want = np.asarray(jnp.sin(Y) * 2)
    np.testing.assert_allclose(np.asarray(in_jax.call(X, Y)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(in_engine.call(X, Y)), want, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(engine.jit(in_engine.call)(X, Y)), want, rtol=1e-6)


def _with_deleted(lib, path, keep_unused):
    """Three calls of a jitted function (or its Compiled) with one argument deleted
    before them: each call's result, or its error's class and message."""
    jnp_ = lib.numpy
    x, y = jnp_.asarray(X), jnp_.asarray(Y)
    deleted = y
    if path == "one_array":  # the one-Array inline cache and the signature lookup
        f, args, kwargs, deleted = (
            lib.jit(lambda x: jnp_.float32(5), keep_unused=keep_unused),
            (x,),
            {},
            x,
        )
    elif path == "all_arrays":
        f, args, kwargs = lib.jit(lambda x, y: x + 1, keep_unused=keep_unused), (x, y), {}
    elif path == "keyword":  # the keyed inline cache
        f, args, kwargs = lib.jit(lambda x, *, z: x * 2, keep_unused=keep_unused), (x,), {"z": y}
    elif path == "python_scalar":
        f, args, kwargs = lib.jit(lambda x, y, s: x + s, keep_unused=keep_unused), (x, y, 1.5), {}
    elif path == "static":
        fun = lib.jit(lambda x, y, n: x + n, keep_unused=keep_unused, static_argnums=2)
        f, args, kwargs = fun, (x, y, 2), {}
    elif path == "compiled":
        fun = lib.jit(lambda x, y: x + 1, keep_unused=keep_unused)
        f, args, kwargs = fun.lower(x, y).compile(), (x, y), {}
    else:  # the deleted argument is used: an error whichever keep_unused
        f, args, kwargs, deleted = (
            lib.jit(lambda x, y: x + 1, keep_unused=keep_unused),
            (x, y),
            {},
            x,
        )
    deleted.delete()
    results = []
    for _ in range(3):
        try:
            results.append(np.asarray(f(*args, **kwargs)).tolist())
        except Exception as e:  # compared by class and message
            results.append((type(e).__name__, str(e)))
    return results


DELETED_PATHS = [
    "one_array",
    "all_arrays",
    "keyword",
    "python_scalar",
    "static",
    "compiled",
    "used",
]


@pytest.mark.parametrize("keep_unused", [False, True])
@pytest.mark.parametrize("path", DELETED_PATHS)
def test_a_deleted_unused_argument_as_jax(path, keep_unused, capfd):
    """JAX runs with an unused argument deleted when the module does not take it
    (keep_unused=False) and raises when it does; so does every call path here, without
    a line on stderr."""
    jax, _ = real_jax()
    want = _with_deleted(jax, path, keep_unused)
    capfd.readouterr()
    got = _with_deleted(engine, path, keep_unused)
    assert got == want
    assert capfd.readouterr().err == ""
    raises = keep_unused or path == "used"
    assert all(isinstance(r, tuple) for r in got) == raises, got
    if raises:
        assert "Array has been deleted" in want[0][1]


# ---------------------------------------------------------------- 8 devices, in a child

SHARDED, sharded_case = eight_devices.case_registry()


@sharded_case
def sharded_unused_argument():
    def run(lib):
        mesh = lib.make_mesh((8,), ("x",))
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("x"))
        f = lib.jit(lambda x, y: x * 2, in_shardings=(s, s))
        a = np.arange(16, dtype=np.float32)
        xs, ys = lib.device_put(a, s), lib.device_put(a + 1, s)
        lowered = f.lower(xs, ys)
        compiled = lowered.compile()
        out = f(xs, ys)
        return (
            _main_args(lowered.as_text()),
            _params(compiled.as_text()),
            np.asarray(out).tolist(),
            np.asarray(compiled(xs, ys)).tolist(),
            str(out.sharding.spec),
        )

    got, want = eight_devices.both(run)
    assert got == want, (got, want)


@sharded_case
def sharded_arrays_unused_one_unspecified():
    """Sharded arrays without in_shardings, and an unused argument whose sharding is
    left to XLA: what the compiled program says it takes."""

    def run(lib):
        mesh = lib.make_mesh((8,), ("x",))
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("x"))
        a = np.arange(16, dtype=np.float32)
        xs, ys = lib.device_put(a, s), lib.device_put(a + 1, s)
        got = []
        for f in (
            lib.jit(lambda x, y: y + 1),
            lib.jit(lambda x, y: y + 1, in_shardings=(None, s)),
        ):
            compiled = f.lower(xs, ys).compile()
            specs = [str(getattr(sh, "spec", sh)) for sh in compiled.input_shardings[0]]
            got.append(
                (
                    _main_args(f.lower(xs, ys).as_text()),
                    specs,
                    np.asarray(f(xs, ys)).tolist(),
                    np.asarray(compiled(xs, ys)).tolist(),
                )
            )
        return got

    got, want = eight_devices.both(run)
    assert got == want, (got, want)


@sharded_case
def sharded_deleted_unused_argument():
    """A partitioned program run with its unused argument deleted (and, kept, refused)."""

    def run(lib):
        mesh = lib.make_mesh((8,), ("x",))
        s = lib.sharding.NamedSharding(mesh, lib.sharding.PartitionSpec("x"))
        a = np.arange(16, dtype=np.float32)
        got = []
        for keep_unused in (False, True):
            xs, ys = lib.device_put(a, s), lib.device_put(a + 1, s)
            f = lib.jit(lambda x, y: x * 2, keep_unused=keep_unused)
            compiled = f.lower(xs, ys).compile()
            ys.delete()
            for call in (f, compiled):
                try:
                    got.append(np.asarray(call(xs, ys)).tolist())
                except Exception as e:
                    got.append((type(e).__name__, str(e)))
        return got

    got, want = eight_devices.both(run)
    assert got == want, (got, want)
    deleted = ("RuntimeError", "Array has been deleted with shape=float32[16@x].")
    assert want[2:] == [deleted] * 2, want
    assert want[0] == want[1] == (np.arange(16) * 2).tolist(), want


@pytest.mark.parametrize("name", sorted(SHARDED))
def test_sharded_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(SHARDED)
