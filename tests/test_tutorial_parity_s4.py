"""Regressions found by running JAX's tutorials through the engine and real JAX
(benchmarks/tutorial_parity.py), each checked against JAX 0.10.2 on cases of our own."""

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import real_jax

import engine

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def jx():
    return real_jax()


def _header(text: str) -> list[str]:
    """The module line and @main's signature line of a StableHLO module's text."""
    lines = text.splitlines()
    return [lines[0], next(ln for ln in lines if "func.func public @main" in ln)]


@pytest.mark.parametrize(
    "make, uses_arg",
    [
        (lambda: lambda v: (v, {"w": v * 3.0, "z": [v - 1.0]}), True),
        (lambda: lambda v: v * 2.0, True),
        (lambda: lambda v: None, False),
    ],
    ids=["pytree", "single", "none"],
)
def test_lowered_text_has_module_attributes_and_result_names(jx, make, uses_arg):
    jax, _ = jx
    x = np.arange(3.0, dtype=np.float32)
    ours = _header(engine.jit(make()).lower(x).as_text())
    theirs = _header(jax.jit(make()).lower(x).as_text())
    assert ours[0] == theirs[0]  # module name (JAX cuts trailing '_') and attributes
    assert ours[1] == theirs[1]  # an unused argument is dropped from @main (uses_arg=False)


def test_lowered_text_module_name_of_a_named_function(jx):
    jax, _ = jx

    def scale_(v):  # trailing underscore: JAX's name loses it
        return v * 4

    x = np.ones((2,), np.int32)
    assert _header(engine.jit(scale_).lower(x).as_text()) == _header(
        jax.jit(scale_).lower(x).as_text()
    )


def test_unsortable_dict_keys_error_as_jax(jx):
    jax, _ = jx
    tree = {2: 1.0, "b": 2.0, (1,): 3.0}
    with pytest.raises(ValueError) as theirs:
        jax.tree.leaves(tree)
    with pytest.raises(ValueError) as ours:
        engine.tree.leaves(tree)
    assert str(ours.value).startswith(str(theirs.value))
    assert isinstance(ours.value.__cause__, TypeError)


def test_sortable_mixed_number_keys_still_flatten(jx):
    jax, _ = jx
    tree = {3: "c", 1.5: "a", 2: "b"}
    assert engine.tree.leaves(tree) == jax.tree.leaves(tree)


def test_doctest_page_reader_splits_prompts(tmp_path):
    sys.path.insert(0, str(BENCH))
    from tutorial_parity import tutorial_cells

    page = tmp_path / "aot.md"
    page.write_text(
        "Text\n\n```python\n>>> def g(v):\n...   return v + 1\n>>> g(2)\n3\n\n"
        ">>> g(1)  # doctest: +SKIP\n2\n```\n\n```\noutput only\n```\n"
        "```python\nw = 5\n```\n"
    )
    cells = tutorial_cells(page)
    assert [c.source for c in cells[1:]] == ["def g(v):\n  return v + 1", "g(2)", "w = 5"]
    assert "import jax" in cells[0].source  # the doctest run's imports
    assert [c.index for c in cells] == [0, 1, 2, 3]


_DONATION_CASES = {
    "reduced": (lambda a, b: a.sum(), (0,), (2, 3)),
    "one_of_two_used": (lambda a, b: a - b, (0, 1), (2, 3)),
    "other_shape": (lambda a, b: a + b, (1,), (1, 3)),
    "same_size_other_dtype": (lambda a, b: (a * b).astype(np.int32), (0,), (2, 3)),
    "all_used": (lambda a, b: (a * 2, b * 2, a + 1), (0, 1), (2, 3)),
    "by_element_count": (lambda a, b: (a + b).reshape(3, 2), (0,), (2, 3)),
}


@pytest.mark.parametrize("case", sorted(_DONATION_CASES))
def test_unusable_donation_warning_and_deletion_as_jax(jx, case):
    import warnings

    jax, _ = jx
    f, donate, b_shape = _DONATION_CASES[case]

    def run(mod):
        a = mod.device_put(np.ones((2, 3), np.float32))
        b = mod.device_put(np.ones(b_shape, np.float32))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            mod.jit(f, donate_argnums=donate)(a, b)
        messages = [str(w.message) for w in seen if "donated" in str(w.message)]
        return messages, a.is_deleted(), b.is_deleted()

    assert run(engine) == run(jax)


def test_runner_compares_arrays_padded_to_other_widths_as_close():
    sys.path.insert(0, str(BENCH))
    from tutorial_cells import compare_text

    ours = repr(np.array([1.2345671 + 2.5j, 3.0 - 1.25j], np.complex64))
    theirs = repr(np.array([1.2345672 + 2.5j, 3.0 - 1.25j], np.complex64))
    padded = theirs.replace("j,", "j ,")  # numpy pads each entry to the widest one
    assert compare_text(ours, padded) == "close"
    assert compare_text(ours, padded.replace("3.", "4.")) == "DIFFERS"


def test_runner_names_a_library_warning_by_no_file(tmp_path):
    sys.path.insert(0, str(BENCH))
    from tutorial_cells import read_cells, run

    page = tmp_path / "page.md"
    page.write_text(
        "```{code-cell}\nimport warnings\nimport numpy as np\n"
        "x = jax.device_put(np.ones(4, np.float32))\n"
        "jax.jit(lambda v: v.sum(), donate_argnums=0)(x);\n```\n"
    )
    cells = read_cells(page)
    cells[0].source = "import jax\n" + cells[0].source
    record = run(cells, "engine", set())[0]
    assert "<library>: UserWarning: Some donated buffers were not usable" in record.text


@pytest.mark.parametrize("sampler", ["uniform", "normal", "exponential", "gamma", "beta"])
def test_random_x64_dtype_warning_names_the_callers_line_as_jax(jx, sampler):
    import warnings

    jax, _ = jx

    def warned(mod):
        fn = getattr(mod.random, sampler)
        extra = {"gamma": (2.0,), "beta": (2.0, 3.0)}.get(sampler, ())
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fn(mod.random.key(1), *extra, (2,), dtype=np.float64)
        return [(str(w.message), w.category, w.filename) for w in seen]

    ours, theirs = warned(engine), warned(jax)
    assert ours == theirs and len(ours) == 1 and ours[0][2] == __file__


def _eval_by_hand(jax_mod, core_mod, safe_map, closed, *args):
    """A jaxpr interpreter written against jax.extend.core, as user code writes one."""
    env = {}

    def read(v):
        return v.val if type(v) is core_mod.Literal else env[v]

    def write(v, x):
        env[v] = x

    jaxpr = closed.jaxpr
    safe_map(write, jaxpr.constvars, closed.consts)
    safe_map(write, jaxpr.invars, args)
    for eqn in jaxpr.eqns:
        outs = eqn.primitive.bind(*safe_map(read, eqn.invars), **eqn.params)
        safe_map(write, eqn.outvars, outs if eqn.primitive.multiple_results else [outs])
    return safe_map(read, jaxpr.outvars)


def test_extend_core_interpreter_walks_a_jaxpr_as_in_jax(jx):
    jax, jnp = jx
    from jax._src.util import safe_map as j_safe_map
    from jax.extend import core as j_core

    from engine._src.util import safe_map as e_safe_map
    from engine.extend import core as e_core

    def f(w, v):
        return jnp.tanh(w @ v) * 2.0 + 1, jnp.sum(v)

    def f_engine(w, v):
        return engine.numpy.tanh(w @ v) * 2.0 + 1, engine.numpy.sum(v)

    w, v = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), np.arange(4.0, dtype="f4")
    ours = _eval_by_hand(engine, e_core, e_safe_map, engine.make_jaxpr(f_engine)(w, v), w, v)
    theirs = _eval_by_hand(jax, j_core, j_safe_map, jax.make_jaxpr(f)(w, v), w, v)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
        assert np.asarray(a).dtype == np.asarray(b).dtype


def test_extend_primitives_by_jax_name(jx):
    from jax.extend.core import primitives as j_prims

    from engine.extend.core import primitives as e_prims

    for name in ("exp_p", "dot_general_p", "name_p", "log_p"):
        assert getattr(e_prims, name).name == getattr(j_prims, name).name
    with pytest.raises(NotImplementedError, match="no such primitive"):
        _ = e_prims.not_a_primitive_p
    with pytest.raises(NotImplementedError, match="gensym"):
        _ = engine.extend.core.gensym


@pytest.mark.parametrize("args", [([1, 2], [1]), ([1], [1, 2]), ([1, 2], [3, 4], [5])])
def test_safe_map_and_zip_length_errors_as_jax(jx, args):
    from jax._src import util as j_util

    from engine._src import util as e_util

    for name, call in (("safe_map", lambda m: m.safe_map(max, *args)), ("safe_zip", None)):
        fn = call or (lambda m: m.safe_zip(*args))
        with pytest.raises(ValueError) as theirs:
            fn(j_util)
        with pytest.raises(ValueError) as ours:
            fn(e_util)
        assert str(ours.value) == str(theirs.value), name
    assert e_util.safe_map(max, [1, 5], [4, 2]) == j_util.safe_map(max, [1, 5], [4, 2])
    assert e_util.safe_zip("ab", (1, 2)) == j_util.safe_zip("ab", (1, 2))


@pytest.mark.parametrize(
    "name, args", [("sum", ([1, 2],)), ("add", (1.0, None)), ("mean", ((1,),))]
)
def test_non_array_argument_error_names_the_type_as_jax(jx, name, args):
    _, jnp = jx
    with pytest.raises(TypeError) as theirs:
        getattr(jnp, name)(*args)
    with pytest.raises(TypeError) as ours:
        getattr(engine.numpy, name)(*args)
    assert str(ours.value) == str(theirs.value)


def test_runner_gives_both_runs_the_same_unseeded_numpy_draws(tmp_path, jx):
    sys.path.insert(0, str(BENCH))
    from tutorial_cells import compare_text, read_cells, run

    page = tmp_path / "page.md"
    page.write_text(
        "```{code-cell}\nimport numpy as np\nimport jax.numpy as jnp\n"
        "jnp.asarray(np.random.randn(3), dtype=jnp.float32)\n```\n"
    )
    cells = read_cells(page)
    ours, theirs = run(cells, "engine", set())[0], run(cells, "jax", set())[0]
    assert "Array([" in ours.text and compare_text(ours.text, theirs.text) == "exact"


class _Opaque:
    def __repr__(self):
        return "<opaque>"


@pytest.mark.parametrize(
    "value", [_Opaque(), [1.0, _Opaque()], "text", {"k": 1}], ids=["obj", "list", "str", "dict"]
)
def test_asarray_of_a_non_numeric_value_errors_as_jax(jx, value):
    _, jnp = jx
    with pytest.raises(TypeError) as theirs:
        jnp.asarray(value)
    with pytest.raises(TypeError) as ours:
        engine.numpy.asarray(value)
    assert str(ours.value) == str(theirs.value)


_TRACED_SHAPES = {
    "scalar": lambda x, jnp: jnp.array(x.shape).prod(),
    "tuple": lambda x, jnp: (jnp.array(x.shape).prod(),),
    "list_mixed": lambda x, jnp: [2, jnp.sum(x).astype(int)],
}


@pytest.mark.parametrize("case", sorted(_TRACED_SHAPES))
@pytest.mark.parametrize("how", ["method", "function"])
def test_reshape_to_a_traced_shape_errors_as_jax(jx, case, how):
    jax, jnp = jx
    shape = _TRACED_SHAPES[case]

    def first_line(mod, np_mod):
        def f(x):
            s = shape(x, np_mod)
            return x.reshape(s) if how == "method" else np_mod.reshape(x, s)

        with pytest.raises(TypeError) as info:
            mod.jit(f)(np.ones((2, 3), np.float32))
        return str(info.value).splitlines()[0]

    assert first_line(engine, engine.numpy) == first_line(jax, jnp)


def test_reshape_to_a_concrete_0d_array_as_jax(jx):
    _, jnp = jx
    x = np.arange(6.0, dtype=np.float32)
    ours = engine.numpy.asarray(x).reshape(engine.numpy.array(6))
    theirs = jnp.asarray(x).reshape(jnp.array(6))
    assert ours.shape == theirs.shape and np.array_equal(ours, theirs)


def test_array_of_traced_scalars_jaxpr_as_jax(jx):
    jax, jnp = jx

    def make(np_mod):
        return lambda a, b, c: np_mod.array([[a, b], [c, 2.5], [b, a]])

    args = (np.int32(1), np.float32(2.0), np.float32(3.0))
    assert str(engine.make_jaxpr(make(engine.numpy))(*args)) == str(
        jax.make_jaxpr(make(jnp))(*args)
    )
