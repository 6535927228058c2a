"""engine.export.symbolic_shape against jax.export.symbolic_shape (0.10.2): parsing and
printing, dimension arithmetic, comparisons (decided, or JAX's inconclusive error),
constraints, and the shapes a polymorphic export gives its results."""

import numpy as np
import pytest

import engine
import engine.numpy as jnp
from engine import export
from tests.helpers import real_jax


def jexport():
    real_jax()
    from jax import export as je

    return je


def outcome(fn):
    """What ``fn()`` gives: its str, or the exception's class name and first line."""
    try:
        return "value", str(fn())
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__, str(e).splitlines()[0]


@pytest.mark.parametrize(
    "spec",
    [
        "b, 4",
        "(b, 4)",
        "b,",
        "2*b + 1, c",
        "b*c - 3, b^2",
        "floordiv(b, 2), mod(b, 3)",
        "-b + 5, 3*b*b",
        "a + b + c",
        "a^2 + a*b + b^2 + 1",
        "a*b*c + a*b + 2*c - 1",
        "b*mod(a, 2) + a",
        "",
        "max(a, b) + min(a, 3)",
        "a*b*c + a^4",
        "a^3 + a*b",
        "floordiv(a*b, 3) + floordiv(a + b, 3)",
        "max(a, b) * min(a, b) + a*b*c",
        "min(a, b) + min(a, 2)",
        "max(a, 0) + 1, min(a, b) * 2",
    ],
)
def test_parse_and_print_like_jax(spec):
    ours = export.symbolic_shape(spec)
    theirs = jexport().symbolic_shape(spec)
    assert [str(d) for d in ours] == [str(d) for d in theirs]
    assert [type(d) is int for d in ours] == [type(d) is int for d in theirs]


EXPRESSIONS = [
    "a + b",
    "a * b + 2",
    "a - a",
    "(a*2)//2",
    "(2*a + 4)//2",
    "a // 2",
    "a % 2",
    "a * b - a",
    "3 - a",
    "a ** 2",
    "a // b",
    "(a*b) // b",
    "a >= 1",
    "a >= 2",
    "a > 0",
    "a < b",
    "a <= a + 1",
    "a == b",
    "a == a",
    "a != b",
    "a + b == b + a",
    "a + 1 > a",
    "a * b >= a",
    "2*a <= 3*a",
    "a % 2 >= 0",
    "a % 2 < 2",
    "a // 2 >= 0",
    "int(a)",
    "int(a - a + 3)",
]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_arithmetic_and_comparisons_like_jax(expr):
    def run(mod):
        a, b = mod.symbolic_shape("a, b")
        return outcome(lambda: eval(expr, {"a": a, "b": b}))

    assert run(export) == run(jexport())


MAX_MIN = [
    "M >= a",
    "M >= b",
    "M >= a + 1",
    "m <= 3",
    "m <= a",
    "m >= 1",
    "m >= 2",
    "M - a >= 0",
    "a - m >= 0",
    "M + m",
    "M * 2",
    "M > m",
    "M >= m",
    "M // 2",
    "int(m)",
]


@pytest.mark.parametrize("expr", MAX_MIN)
def test_max_min_like_jax(expr):
    def run(mod):
        a, b, big, small = mod.symbolic_shape("a, b, max(a, b), min(a, 3)")
        return outcome(lambda: eval(expr, {"a": a, "b": b, "M": big, "m": small}))

    assert run(export) == run(jexport())


CONSTRAINED = ["a >= 4", "a >= b", "a - b >= 0", "a >= 5", "b <= 3", "b < 4", "a + b >= 8"]


@pytest.mark.parametrize("expr", CONSTRAINED)
def test_constraints_like_jax(expr):
    def run(mod):
        a, b = mod.symbolic_shape("a, b", constraints=("a >= b", "b >= 4"))
        return outcome(lambda: eval(expr, {"a": a, "b": b}))

    ours, theirs = run(export), run(jexport())
    assert ours == theirs


def test_inconclusive_error_names_the_comparison_and_scope():
    jax, _ = real_jax()
    for mod, errors in ((export, engine.errors), (jexport(), jax.errors)):
        (c,) = mod.symbolic_shape("c", constraints=("c >= 2", "c <= 8"))
        assert c >= 2 and c <= 8 and c < 9
        with pytest.raises(errors.InconclusiveDimensionOperation) as info:
            c >= 3  # noqa: B015
        lines = str(info.value).splitlines()
        assert lines[0] == "Symbolic dimension comparison 'c' >= '3' is inconclusive."
        assert "Using symbolic scope" in lines[1]
        assert "c >= 2" in str(info.value) and "c <= 8" in str(info.value)


def test_equality_constraint_normalizes():
    a, b = export.symbolic_shape("a, b", constraints=("a == 2*b",))
    ja, jb = jexport().symbolic_shape("a, b", constraints=("a == 2*b",))
    assert str(a) == str(ja) == "2*b"
    assert (a - 2 * b == 0) and (ja - 2 * jb == 0)
    assert (a >= b) is (ja >= jb) is True


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.symbolic_shape("a")[0] + m.symbolic_shape("a")[0],
        lambda m: m.symbolic_shape("a +"),
        lambda m: m.symbolic_shape("a, )"),
        lambda m: m.symbolic_shape("a", constraints=("a > 2",)),
        lambda m: m.symbolic_shape("a", constraints=("3 >= 4",)),
        lambda m: m.symbolic_shape(3),
        lambda m: m.symbolic_shape("a")[0] ** 1.5,
    ],
)
def test_errors_have_jaxs_class(make):
    theirs = outcome(lambda: make(jexport()))
    ours = outcome(lambda: make(export))
    assert ours[0] == theirs[0] == "ValueError"
    # the first words say the same thing
    assert ours[1].split(":")[0].split()[:4] == theirs[1].split(":")[0].split()[:4]


def test_like_fills_placeholders():
    for mod in (export, jexport()):
        shape = mod.symbolic_shape("b, _, ...", like=(None, 3, 4, 5))
        assert [str(d) for d in shape] == ["b", "3", "4", "5"]


def test_symbolic_args_specs():
    x = np.zeros((3, 4), np.float32)
    specs = export.symbolic_args_specs((x, x), "b, ...")
    jspecs = jexport().symbolic_args_specs((x, x), "b, ...")
    assert [[str(d) for d in s.shape] for s in specs] == [[str(d) for d in s.shape] for s in jspecs]
    assert specs[0].shape[0].scope is specs[1].shape[0].scope


def test_exported_result_shapes_are_symbolic_like_jax():
    jax, jjnp = real_jax()
    je = jexport()

    def f(x, y):
        return jnp.concatenate([x, x], axis=0), (x @ y).T, jnp.sum(x, axis=0)

    def fj(x, y):
        return jjnp.concatenate([x, x], axis=0), (x @ y).T, jjnp.sum(x, axis=0)

    ours = export.export(engine.jit(f))(
        *export.symbolic_args_specs((np.zeros((2, 4)), np.zeros((4, 3))), ("b, 4", "4, c"))
    )
    theirs = je.export(jax.jit(fj))(
        *je.symbolic_args_specs((np.zeros((2, 4)), np.zeros((4, 3))), ("b, 4", "4, c"))
    )
    assert [[str(d) for d in a.shape] for a in ours.out_avals] == [
        [str(d) for d in a.shape] for a in theirs.out_avals
    ]


def test_inconclusive_comparison_while_tracing_like_jax():
    jax, _ = real_jax()
    je = jexport()

    def f(x):
        return x[0] if x.shape[0] >= 2 else x

    with pytest.raises(jax.errors.InconclusiveDimensionOperation, match="'b' >= '2' is incon"):
        je.export(jax.jit(f))(jax.ShapeDtypeStruct(je.symbolic_shape("b, 4"), np.float32))
    with pytest.raises(engine.errors.InconclusiveDimensionOperation, match="'b' >= '2' is incon"):
        export.export(engine.jit(f))(
            engine.ShapeDtypeStruct(export.symbolic_shape("b, 4"), np.float32)
        )


def test_dimension_variables_solved_like_jax():
    jax, jjnp = real_jax()
    je = jexport()
    x = np.random.RandomState(0).randn(7, 3).astype(np.float32)
    ours = export.export(engine.jit(lambda x: jnp.sum(x, axis=0) * 2.0))(
        engine.ShapeDtypeStruct(export.symbolic_shape("2*b + 1, c"), np.float32)
    )
    theirs = je.deserialize(ours.serialize())
    for exp in (ours, theirs):
        np.testing.assert_allclose(np.asarray(exp.call(x)), x.sum(0) * 2, rtol=1e-5)
        with pytest.raises(ValueError, match="Division had remainder 1 when computing the value"):
            exp.call(np.zeros((6, 3), np.float32))
    phrase = "Cannot solve for values of dimension variables"
    with pytest.raises(ValueError, match=phrase):
        je.export(jax.jit(jjnp.sin))(jax.ShapeDtypeStruct(je.symbolic_shape("a + b"), np.float32))
    with pytest.raises(ValueError, match=phrase):
        export.export(engine.jit(jnp.sin))(
            engine.ShapeDtypeStruct(export.symbolic_shape("a + b"), np.float32)
        )
