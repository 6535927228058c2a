"""Exported.mlir_module() text against jax.export 0.10.2: argument locations
(``loc("x")``), ``jax.result_info``, JAX's source locations (``jit(f)/scope/prim`` around
the call-site chain of the user's frames) and op order; the module read back across
serialization both ways; Exported's other fields, ``str`` and ``repr``.

Each function is defined once (over the module it is given) and exported from one line
for both, so the two share every source location."""

import re

import numpy as np
import pytest

import engine
from engine import export as eexport
from tests.helpers import real_jax


def sides():
    jax, _ = real_jax()
    from jax import export as jexport

    return [(jax, jexport), (engine, eexport)]


def export_both(make, *args, **kwargs):
    """(JAX's Exported, the engine's) of ``make(jax_module)``, exported from one line."""
    return [x.export(j.jit(make(j)))(*args, **kwargs) for j, x in sides()]


def texts(make, *args, **kwargs):
    return [e.mlir_module() for e in export_both(make, *args, **kwargs)]


def make_simple(j):
    def f(x, y):
        return j.numpy.sin(x) + y * 2.0

    return f


def make_pytree(j):
    def g(d, *, k):
        return {"a": d["p"] @ k, "b": (d["q"].sum(),)}

    return g


def make_scoped(j):
    jnp = j.numpy

    def helper(x):
        return jnp.cos(x)

    def f(x, y):
        with j.named_scope("sc"):
            z = helper(x)
        return [z * 2.0 + y, jnp.float32(3.0) * y, jnp.sum(z, axis=0)]

    return f


def make_varargs(j):
    def h(*xs, k=None, **kw):
        return xs[1] @ k + kw["zz"].T, -xs[0]

    return h


def make_consts(j):
    w = np.arange(12, dtype=np.float32).reshape(3, 4)

    def f(x):
        return j.numpy.tanh(x @ w + 1.0).max(axis=1), x.astype(np.int32)

    return f


def make_nested_jit(j):
    jnp = j.numpy

    def g(x):
        return jnp.sin(x) * 2.0

    def f(x):
        y = j.jit(g)(x)
        with j.named_scope("outer"):
            z = j.jit(g)(y + 1.0)
        return jnp.where(z > 0, z, y)  # jnp.where: a nested jit of its own

    return f


def make_control_flow(j):
    lax, jnp = j.lax, j.numpy

    def cf(x):
        y = lax.cond(x.sum() > 0, lambda a: a + 1.0, lambda a: a * 2.0, x)
        z = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 1.5), (0, y))[1]
        return lax.switch(1, [lambda a: a - 1.0, lambda a: jnp.sin(a) * 3.0, lambda a: -a], z)

    return cf


X = np.ones((3, 4), np.float32)
M = np.ones((3, 3), np.float32)
V = np.ones((3,), np.float32)

CASES = {
    "positional": (make_simple, (X, X), {}),
    "pytree_kwargs": (make_pytree, ({"p": X, "q": X},), {"k": X.T}),
    "scope_helper_list": (make_scoped, (V,), {"y": V}),
    "varargs_kwargs": (make_varargs, (M, M), {"k": M, "zz": M}),
    "consts_two_results": (make_consts, (M,), {}),
    "nested_jit_functions": (make_nested_jit, (V,), {}),
    "cond_while_switch": (make_control_flow, (V,), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mlir_module_text_matches_jax(name):
    make, args, kwargs = CASES[name]
    theirs, ours = texts(make, *args, **kwargs)
    assert 'loc("' in ours and "jax.result_info" in ours
    assert ours == theirs


def test_arg_and_result_names():
    theirs, ours = texts(make_pytree, {"p": X, "q": X}, k=X.T)
    for t in (theirs, ours):
        assert "loc(\"d['p']\")" in t and 'loc("k")' in t
        assert "jax.result_info = \"result['b'][0]\"" in t
    assert ours == theirs


@pytest.mark.parametrize("name", ["positional", "scope_helper_list"])
def test_text_survives_serialization_both_ways(name):
    jax, _ = real_jax()
    from jax import export as jexport

    make, args, kwargs = CASES[name]
    theirs, ours = export_both(make, *args, **kwargs)
    ours_in_jax = jexport.deserialize(ours.serialize())
    theirs_in_engine = eexport.deserialize(theirs.serialize())
    assert ours_in_jax.mlir_module() == theirs.mlir_module()
    assert theirs_in_engine.mlir_module() == theirs.mlir_module()
    # and they still run, each in the other
    flat = jax.tree_util.tree_leaves((args, kwargs))
    want = jax.tree_util.tree_leaves(theirs.call(*args, **kwargs))
    for got in (ours_in_jax.call(*args, **kwargs), theirs_in_engine.call(*args, **kwargs)):
        for a, b in zip(jax.tree_util.tree_leaves(got), want):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    assert len(flat) == len(theirs.in_avals)


def _scrub(text):
    """repr without the module's bytes and the getter's address."""
    text = re.sub(r"mlir_module_serialized=b(['\"]).*?\1, calling", "calling", text, flags=re.S)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fields_str_repr_match_jax(name):
    make, args, kwargs = CASES[name]
    theirs, ours = export_both(make, *args, **kwargs)
    for field in (
        "fun_name",
        "in_shardings_hlo",
        "out_shardings_hlo",
        "_has_named_shardings",
        "_in_named_shardings",
        "_out_named_shardings",
        "nr_devices",
        "platforms",
        "calling_convention_version",
        "disabled_safety_checks",
        "uses_global_constants",
        "module_kept_var_idx",
        "ordered_effects",
        "unordered_effects",
    ):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert str(ours) == str(theirs)
    assert _scrub(repr(ours)) == _scrub(repr(theirs))


def test_repr_after_deserialize_matches_jax():
    _, jexport = sides()[0]
    theirs, ours = export_both(make_simple, X, X)
    for order in (0, 1):
        a = jexport.deserialize(theirs.serialize(vjp_order=order))
        b = eexport.deserialize(ours.serialize(vjp_order=order))
        assert _scrub(repr(b)) == _scrub(repr(a))


def test_disabled_checks_field_matches_jax():
    (jax, jexport), _ = sides()
    pairs = []
    for j, x in sides():
        checks = [x.DisabledSafetyCheck.custom_call("foo"), x.DisabledSafetyCheck.platform()]
        pairs.append(x.export(j.jit(make_simple(j)), disabled_checks=checks)(X, X))
    theirs, ours = pairs
    assert [str(c) for c in ours.disabled_safety_checks] == [
        str(c) for c in theirs.disabled_safety_checks
    ]
    assert _scrub(repr(ours)) == _scrub(repr(theirs))
    assert ours.mlir_module() == theirs.mlir_module()


# ---------------------------------------------------------------------------- polymorphic


def make_poly_mul(j):
    def f(x, y):
        return j.numpy.sin(x) + y * 2.0

    return f


def make_poly_sum(j):
    def f(x):
        return (x - x.sum(axis=0)) * x.shape[0], x.reshape(-1)

    return f


def make_poly_shapes(j):
    jnp = j.numpy

    def f(x):
        return (
            x.reshape(-1),
            jnp.concatenate([x, x], axis=0) * 2.0,
            jnp.zeros((3 * x.shape[0] + 2,)),
        )

    return f


def poly_specs(spec, n):
    """(JAX's ShapeDtypeStructs, the engine's) for ``n`` arguments of shape ``spec``."""
    out = []
    for j, x in sides():
        shape = x.symbolic_shape(spec)
        out.append([j.ShapeDtypeStruct(shape, np.float32) for _ in range(n)])
    return out


def poly_export_both(make, spec, n):
    return [
        x.export(j.jit(make(j)))(*args)
        for (j, x), args in zip(sides(), poly_specs(spec, n), strict=True)
    ]


@pytest.mark.parametrize(
    "make, spec, n",
    [(make_poly_mul, "b, 4", 2), (make_poly_sum, "b, 3", 1), (make_poly_shapes, "b, c", 1)],
)
def test_polymorphic_module_text_matches_jax(make, spec, n):
    """JAX's calling convention and text: @main reads each dimension variable
    (get_dimension_size, int32), checks the shapes, and passes the variables first to
    @_wrapped_jax_export_main (jax.global_constant); dynamic shapes are int32 tensors,
    a dimension's arithmetic is JAX's (convert, mul, add, each at its own location)."""
    theirs, ours = poly_export_both(make, spec, n)
    text = ours.mlir_module()
    assert "@_wrapped_jax_export_main" in text and 'jax.global_constant = "b"' in text
    assert text == theirs.mlir_module()
    assert ours.uses_global_constants == theirs.uses_global_constants is True
    assert _scrub(repr(ours)) == _scrub(repr(theirs))


def test_polymorphic_text_under_x64_matches_jax():
    from tests.helpers import x64_both

    with x64_both(True):
        theirs, ours = poly_export_both(make_poly_sum, "b, 3", 1)
        assert ours.mlir_module() == theirs.mlir_module()
        assert "tensor<i64> {jax.global_constant" in ours.mlir_module()


def _function(text, name):
    """The body of func ``name`` with its location references dropped."""
    body = text[text.index(f"func.func private @{name}(") :]
    body = body[: body.index("\n  }")]
    return re.sub(r" loc\([^()]*(\([^()]*\))?[^()]*\)", "", body)


@pytest.mark.parametrize("spec", ["2*b, c", "2*b + 1, c", "b, 3*c"])
def test_polymorphic_division_text_matches_jax(spec):
    """Solving b from 2*b: JAX's @main calls jnp.divmod's jitted helpers (private
    functions @divmod, @floor_divide, @remainder, @_where, every argument a global
    constant) once per evaluation; the engine emits the same functions and calls."""
    theirs, ours = poly_export_both(make_poly_mul, spec, 2)
    a, b = theirs.mlir_module(), ours.mlir_module()
    assert "@divmod" in b
    assert b == a


def test_polymorphic_round_trip_runs_both_ways():
    jax, _ = real_jax()
    from jax import export as jexport

    theirs, ours = poly_export_both(make_poly_sum, "b, 3", 1)
    ours_in_jax = jexport.deserialize(ours.serialize())
    theirs_in_engine = eexport.deserialize(theirs.serialize())
    assert ours_in_jax.mlir_module() == theirs.mlir_module()
    assert theirs_in_engine.mlir_module() == theirs.mlir_module()
    for b in (1, 5):
        x = np.random.RandomState(b).randn(b, 3).astype(np.float32)
        want = theirs.call(x)
        for got in (ours_in_jax.call(x), theirs_in_engine.call(x), ours.call(x)):
            for a, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
                np.testing.assert_allclose(np.asarray(a), np.asarray(w), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- reduce_window


def make_window_sum(j):
    def f(x):
        return j.lax.reduce_window(x, 0.0, j.lax.add, (3, 1), (2, 1), "SAME")

    return f


def make_window_generic(j):
    lax = j.lax

    def f(x):
        init = (0.0, -np.inf)
        return lax.reduce_window(
            (x, x), init, lambda a, b: (a[0] + b[0], lax.max(a[1], b[1])), (3, 2), (2, 1), "SAME"
        )

    return f


@pytest.mark.parametrize("make", [make_window_sum, make_window_generic])
def test_reduce_window_symbolic_padding_like_jax(make):
    """SAME padding over a symbolic dimension with a stride: the padding is symbolic
    (JAX 0.10.2 exports it through stablehlo.dynamic_reduce_window); values, shapes and
    the reducer function match JAX's, and the artifacts run in each other."""
    jax, _ = real_jax()
    from jax import export as jexport

    theirs, ours = poly_export_both(make, "b, 4", 1)
    assert [str(a.shape) for a in ours.out_avals] == [str(a.shape) for a in theirs.out_avals]
    a, b = theirs.mlir_module(), ours.mlir_module()
    assert "stablehlo.dynamic_reduce_window" in b
    reducer = "reduce_window_float32_reducer" if make is make_window_sum else "generic_"
    name = next(n for n in re.findall(r"func.func @(\w+)", a) if n.startswith(reducer))
    assert _function(b.replace("func.func @", "func.func private @"), name) == _function(
        a.replace("func.func @", "func.func private @"), name
    )
    ours_in_jax = jexport.deserialize(ours.serialize())
    theirs_in_engine = eexport.deserialize(theirs.serialize())
    for n in (1, 4, 7):
        x = np.random.RandomState(n).randn(n, 4).astype(np.float32)
        want = jax.tree_util.tree_leaves(theirs.call(x))
        for got in (ours.call(x), ours_in_jax.call(x), theirs_in_engine.call(x)):
            for g, w in zip(jax.tree_util.tree_leaves(got), want, strict=True):
                np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5)


# ---------------------------------------------------------------------------- platforms


def test_multi_platform_text_matches_jax():
    """Several platforms whose lowerings agree: JAX's one @main taking the platform
    index first (jax.global_constant = "_platform_index"), static and polymorphic."""
    out = []
    for spec in (None, "b"):
        pair = []
        for j, x in sides():
            arg = (
                np.ones(3, np.float32)
                if spec is None
                else j.ShapeDtypeStruct(x.symbolic_shape(spec), np.float32)
            )
            pair.append(x.export(j.jit(make_simple(j)), platforms=("cpu", "cuda"))(arg, arg))
        out.append(pair)
    for theirs, ours in out:
        text = ours.mlir_module()
        assert 'jax.global_constant = "_platform_index"' in text
        assert text == theirs.mlir_module()
        assert ours.uses_global_constants is theirs.uses_global_constants is True
        assert ours.platforms == theirs.platforms


def test_multi_platform_differing_lowerings_still_run_in_jax():
    """Where a rule lowers differently per platform (a LAPACK vs a cuSOLVER call) the
    engine dispatches on the platform index between per-platform functions (JAX puts
    the case around the one equation); the artifact runs in JAX on CPU."""
    jax, jjnp = real_jax()
    from jax import export as jexport

    a = np.array([[4.0, 1.0], [1.0, 3.0]], np.float32)
    ours = eexport.export(engine.jit(engine.numpy.linalg.cholesky), platforms=("cpu", "cuda"))(a)
    want = np.asarray(jjnp.linalg.cholesky(a))
    np.testing.assert_allclose(np.asarray(jexport.deserialize(ours.serialize()).call(a)), want)
    np.testing.assert_allclose(np.asarray(ours.call(a)), want)


# ---------------------------------------------------------------------------- refusals


def test_host_callback_effects_refused_as_jax():
    def make(j):
        def f(x):
            j.debug.print("x={x}", x=x)
            return x + 1

        return f

    errors = []
    for j, x in sides():
        with pytest.raises(NotImplementedError) as e:
            x.export(j.jit(make(j)))(V)
        errors.append(str(e.value))
    assert errors[0] == errors[1] == "serialization of host_callbacks is not yet implemented"


def test_delete_on_symbolic_axis_is_inconclusive_in_both():
    """JAX 0.10.2 cannot export jnp.delete along a symbolic axis either."""
    errors = []
    for (j, x), (arg,) in zip(sides(), poly_specs("b, 4", 1), strict=True):
        with pytest.raises(Exception) as e:
            x.export(j.jit(lambda v, j=j: j.numpy.delete(v, 1, axis=0)))(arg)
        errors.append(e)
    assert [type(e.value).__name__ for e in errors] == ["InconclusiveDimensionOperation"] * 2
    assert all("is inconclusive" in str(e.value) for e in errors)


def test_vjp_export_matches_jax():
    """Exported.vjp(): JAX's name (fun_vjp_jax), argument locations, ops, frames and
    transformation name stacks (jit(fun_vjp_jax)/jvp()/sin, .../transpose(jvp())/mul)."""
    theirs, ours = export_both(make_simple, V, V)
    a, b = [e.vjp() for e in (theirs, ours)]  # from one place: same locations
    assert a.fun_name == b.fun_name == "fun_vjp_jax"
    assert str(a.in_tree) == str(b.in_tree) and str(a.out_tree) == str(b.out_tree)
    ta, tb = a.mlir_module(), b.mlir_module()
    assert "transpose(jvp())/" in tb
    assert tb == ta


def _expanded(text):
    """Each op line with its location written out (no #loc references)."""
    defs = dict(re.findall(r"^(#loc\d*) = loc\((.*)\)$", text, re.M))

    def resolve(s):
        return re.sub(r"#loc\d*", lambda m: resolve(defs[m.group(0)]), s)

    return [
        re.sub(r"loc\((#loc\d*)\)", lambda m: f"loc({resolve(m.group(1))})", line)
        for line in text.splitlines()
        if not line.startswith("#loc")
    ]


def make_train_step(j):
    jnp = j.numpy

    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2)

    def step(w, x):
        with j.named_scope("update"):
            new_w = w - 0.1 * j.grad(loss)(w, x)
        return new_w, j.vmap(jnp.sin)(x)

    return step


def test_grad_and_vmap_inside_match_jax_but_add_any():
    """grad and vmap inside the exported function: JAX's jvp()/transpose(jvp())/vmap()
    name stacks, named scopes outside them, the primal equations' frames for the
    transposed ones. JAX attributes an accumulated cotangent's add_any to the equation
    whose transpose wrote it; the engine accumulates later, under the grad call's line."""
    theirs, ours = export_both(make_train_step, np.ones((3, 2), np.float32), M[:, :3])
    a, b = _expanded(theirs.mlir_module()), _expanded(ours.mlir_module())
    assert len(a) == len(b)
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    assert all("add_any" in x and "add_any" in y for x, y in differ), differ
    assert any("update/transpose(jvp(update))/mul" in y for y in b)  # JAX's own form
    assert any("jit(step)/vmap()/sin" in y for y in b)


def test_mlir_module_unserialized_is_the_module():
    """serialized=False gives the module itself (JAX's needs an ambient MLIR context
    for it; the engine's carries its own)."""
    theirs, ours = export_both(make_simple, X, X)
    b = ours.mlir_module(serialized=False)
    assert type(b).__name__ == "Module"
    with b.context:
        assert b.operation.get_asm(enable_debug_info=True) == theirs.mlir_module()
