"""engine.dtypes against real JAX: canonicalization, weak types, the promotion lattice."""

import contextlib
import itertools
import pathlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import dtypes  # noqa: E402
from engine.config import config as engine_config  # noqa: E402

try:  # the only way to build weak arrays of any dtype; test-only, private API
    from jax._src.lax.lax import _convert_element_type as _jax_convert
except ImportError:  # pragma: no cover
    _jax_convert = None

DTYPE_NAMES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bfloat16",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
ALL = [np.dtype(jnp.dtype(n)) for n in DTYPE_NAMES]
SCALARS = [True, 1, 1.0, 1j]
WEAK_TYPES = [int, float, complex]
FLOATS = [d for d in ALL if d.kind == "f" or d.name == "bfloat16"]
INTS = [d for d in ALL if d.kind in "iu"]


@contextlib.contextmanager
def x64_mode(enabled):
    """Set jax's and the engine's x64 flag together; restore both afterwards."""
    old_jax, old_engine = jax.config.jax_enable_x64, engine_config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    engine_config.update("jax_enable_x64", enabled)
    try:
        yield enabled
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        engine_config.update("jax_enable_x64", old_engine)


@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request):
    with x64_mode(request.param), warnings.catch_warnings():
        # JAX warns when a 64-bit dtype is named with x64 off; that is expected here.
        warnings.simplefilter("ignore", UserWarning)
        yield request.param


def ones(dtype):
    return jnp.ones(2, dtype)


def weak_ones(dtype):
    if _jax_convert is None:
        pytest.skip("jax private _convert_element_type not available")
    x = ones(dtype)
    out = _jax_convert(x, x.dtype, weak_type=True)
    assert out.weak_type
    return out


def jax_op(x, y):
    out = jnp.add(x, y)
    return np.dtype(out.dtype), bool(out.weak_type)


def jax_result(*args):
    dt, weak = jax.dtypes.result_type(*args, return_weak_type_flag=True)
    return np.dtype(dt), bool(weak)


def check_all(pairs):
    bad = [(case, got, want) for case, got, want in pairs if got != want]
    assert not bad, "\n".join(f"{c}: engine {g}, jax {w}" for c, g, w in bad[:20])


# ------------------------------------------------------------- promotion


@pytest.mark.parametrize("a", ALL, ids=str)
def test_strong_pairs_match_jax(x64, a):
    cases = []
    for b in ALL:
        xa, xb = ones(a), ones(b)
        cases.append(((a, b, "op"), dtypes.lattice_result_type(xa, xb), jax_op(xa, xb)))
        cases.append(
            (
                (a, b, "dtypes"),
                dtypes.result_type(a, b, return_weak_type_flag=True),
                jax_result(a, b),
            )
        )
        na, nb = np.ones(2, a), np.ones(2, b)
        cases.append(
            (
                (a, b, "numpy arrays"),
                dtypes.result_type(na, nb, return_weak_type_flag=True),
                jax_result(na, nb),
            )
        )
    check_all(cases)


@pytest.mark.parametrize("a", ALL, ids=str)
def test_python_scalar_with_array_matches_jax(x64, a):
    cases = []
    xa = ones(a)
    for s in SCALARS:
        cases.append(((a, s, "op"), dtypes.lattice_result_type(xa, s), jax_op(xa, s)))
        cases.append(((s, a, "op"), dtypes.lattice_result_type(s, a), jax_op(s, xa)))
        cases.append(
            (
                (a, s, "result_type"),
                dtypes.result_type(a, s, return_weak_type_flag=True),
                jax_result(a, s),
            )
        )
        cases.append(
            (
                (type(s), a, "result_type"),
                dtypes.result_type(type(s), a, return_weak_type_flag=True),
                jax_result(type(s), a),
            )
        )
    check_all(cases)


def test_python_scalar_pairs_match_jax(x64):
    cases = []
    for s, t in itertools.product(SCALARS, SCALARS):
        cases.append(((s, t, "op"), dtypes.lattice_result_type(s, t), jax_op(s, t)))
        cases.append(
            (
                (s, t, "result_type"),
                dtypes.result_type(s, t, return_weak_type_flag=True),
                jax_result(s, t),
            )
        )
    for s in SCALARS:
        cases.append(((s,), dtypes.result_type(s, return_weak_type_flag=True), jax_result(s)))
    check_all(cases)


@pytest.mark.parametrize("a", ALL, ids=str)
def test_weak_arrays_match_jax(x64, a):
    cases = []
    wa = weak_ones(a)
    cases.append(
        ((a, "weak alone"), dtypes.result_type(wa, return_weak_type_flag=True), jax_result(wa))
    )
    for b in ALL:
        xb, wb = ones(b), weak_ones(b)
        cases.append(((a, "weak", b, "op"), dtypes.lattice_result_type(wa, xb), jax_op(wa, xb)))
        cases.append(
            ((a, "weak", b, "weak op"), dtypes.lattice_result_type(wa, wb), jax_op(wa, wb))
        )
        cases.append(
            (
                (a, "weak", b, "result_type"),
                dtypes.result_type(wa, xb, return_weak_type_flag=True),
                jax_result(wa, xb),
            )
        )
        cases.append(
            (
                (a, "weak", b, "weak result_type"),
                dtypes.result_type(wa, wb, return_weak_type_flag=True),
                jax_result(wa, wb),
            )
        )
    for s in SCALARS:
        cases.append(((a, "weak", s, "op"), dtypes.lattice_result_type(wa, s), jax_op(wa, s)))
    check_all(cases)


def test_triples_and_type_objects_match_jax(x64):
    pool = ALL + WEAK_TYPES + [bool] + SCALARS + [None]
    cases = []
    for args in itertools.product(pool, repeat=3):
        try:
            want = jax_result(*args)
        except Exception as e:  # noqa: BLE001
            want = type(e).__name__
        try:
            got = dtypes.result_type(*args, return_weak_type_flag=True)
        except Exception as e:  # noqa: BLE001
            got = type(e).__name__
        cases.append((args, got, want))
    for arg in pool:
        cases.append(((arg,), dtypes.result_type(arg, return_weak_type_flag=True), jax_result(arg)))
    check_all(cases)


def test_result_type_without_flag_returns_dtype(x64):
    assert dtypes.result_type(ALL[1], 1.0) == np.dtype(jnp.result_type(ALL[1], 1.0))
    with pytest.raises(ValueError):
        dtypes.result_type()


def test_promote_types_matches_jax(x64):
    pool = ALL + WEAK_TYPES
    check_all(
        [
            ((a, b), dtypes.promote_types(a, b), np.dtype(jnp.promote_types(a, b)))
            for a, b in itertools.product(pool, pool)
        ]
    )


def test_float0_only_promotes_with_itself():
    f0 = np.zeros(2, jax.dtypes.float0)
    assert dtypes.result_type(f0, f0) == jax.dtypes.result_type(f0, f0)
    with pytest.raises(ValueError):
        jax.dtypes.result_type(f0, np.float32)
    with pytest.raises(dtypes.TypePromotionError):
        dtypes.result_type(f0, np.float32)


# ------------------------------------------------------------- canonicalization


def test_canonicalize_dtype_matches_jax(x64):
    inputs = ALL + [
        float,
        int,
        bool,
        complex,
        np.float64,
        np.int64,
        np.uint64,
        np.complex128,
        jnp.bfloat16,
        "float64",
        "int64",
        "bfloat16",
        "uint8",
        jax.dtypes.float0,
    ]
    check_all([(d, dtypes.canonicalize_dtype(d), jax.dtypes.canonicalize_dtype(d)) for d in inputs])
    assert dtypes.canonicalize_dtype("bf16") == np.dtype(jnp.bfloat16)


def test_config_is_read_at_call_time(x64):
    assert dtypes.default_float_dtype() == (np.float64 if x64 else np.float32)
    with_other = not x64
    engine_config.update("jax_enable_x64", with_other)
    try:
        assert dtypes.default_float_dtype() == (np.float64 if with_other else np.float32)
        assert dtypes.canonicalize_dtype(np.int64) == (np.int64 if with_other else np.int32)
    finally:
        engine_config.update("jax_enable_x64", x64)


def test_defaults_match_jax(x64):
    from jax._src import dtypes as jax_dtypes

    assert dtypes.default_float_dtype() == jnp.asarray(1.0).dtype
    assert dtypes.default_int_dtype() == jnp.asarray(1).dtype
    assert dtypes.default_complex_dtype() == jnp.asarray(1j).dtype
    assert dtypes.default_uint_dtype() == jax_dtypes.default_uint_dtype()


def test_python_scalar_dtype_matches_jax(x64):
    for s in SCALARS:
        assert dtypes.python_scalar_dtype(s) == jnp.asarray(s).dtype, s
        assert dtypes.is_python_scalar(s)
    for not_scalar in [np.float64(1.0), np.int32(1), np.ones(2), "1", None]:
        assert not dtypes.is_python_scalar(not_scalar)
    with pytest.raises(TypeError):
        dtypes.python_scalar_dtype(np.float64(1.0))


def test_dtype_of_and_weak_type_match_jax(x64):
    from jax._src import dtypes as jax_dtypes

    values = list(SCALARS) + [int, float, complex, bool]
    for d in ALL:
        values += [np.ones(2, d), np.ones((), d)[()], ones(d), weak_ones(d), d, d.name]
    cases = []
    for v in values:
        cases.append((v, dtypes.dtype_of(v), np.dtype(jax_dtypes.dtype(v))))
        if not isinstance(v, (type, str, np.dtype)):
            cases.append((v, dtypes.is_weakly_typed(v), bool(jax_dtypes.is_weakly_typed(v))))
    check_all(cases)


def test_dtype_of_accepts_aval_like_objects(x64):
    class Aval:
        def __init__(self, dtype, weak_type):
            self.dtype, self.weak_type = np.dtype(dtype), weak_type

    for d in ALL:
        for weak in (False, True):
            x = _jax_convert(ones(d), ones(d).dtype, weak_type=weak) if _jax_convert else ones(d)
            aval = Aval(x.dtype, x.weak_type)
            assert dtypes.dtype_of(aval) == x.dtype
            assert dtypes.is_weakly_typed(aval) == x.weak_type
            assert dtypes.result_type(aval, 1, return_weak_type_flag=True) == jax_result(x, 1)


def test_dtype_of_rejects_non_numeric():
    with pytest.raises(TypeError):
        dtypes.dtype_of(np.array(["a"]))
    with pytest.raises(ValueError):
        dtypes.dtype_of(None)


def test_canonicalize_user_dtype_warns_like_jax():
    with x64_mode(False):
        with pytest.warns(UserWarning) as jax_record:
            jnp.zeros(2, np.float64)
        with pytest.warns(UserWarning) as engine_record:
            got = dtypes.canonicalize_user_dtype(np.float64, "zeros")
        assert got == np.float32
        assert str(engine_record[0].message) == str(jax_record[0].message)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert dtypes.canonicalize_user_dtype(np.float32, "zeros") == np.float32
            for typ in (int, float, complex, bool):
                assert dtypes.canonicalize_user_dtype(typ) == jnp.zeros(2, typ).dtype
        with pytest.raises(TypeError):
            dtypes.canonicalize_user_dtype(np.dtype("U3"))
        with pytest.raises(ValueError):
            dtypes.canonicalize_user_dtype(None)

    with x64_mode(True), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dtypes.canonicalize_user_dtype(np.float64, "zeros") == np.float64
        assert dtypes.canonicalize_user_dtype(float) == jnp.zeros(2, float).dtype


# ------------------------------------------------------------- names and predicates


def test_dtype_objects_equal_jax_dtypes():
    for name, d in zip(DTYPE_NAMES, ALL):
        attr = "bool_" if name == "bool" else name
        assert getattr(dtypes, attr) == d
        assert isinstance(getattr(dtypes, attr), np.dtype)
    assert dtypes.float0 == jax.dtypes.float0
    assert dtypes.bfloat16 == jax.dtypes.bfloat16


def test_short_name_matches_jaxpr_printer():
    with x64_mode(True):  # 64-bit types only reach a jaxpr with x64 on
        for d in ALL + [jax.dtypes.float0]:
            text = str(jax.make_jaxpr(lambda x: x)(np.zeros(2, d)))
            printed = re.search(r"a:(\w+)\[2\]", text).group(1)
            assert dtypes.short_name(d) == printed, text


ABSTRACT = [
    np.generic,
    np.number,
    np.integer,
    np.signedinteger,
    np.unsignedinteger,
    np.inexact,
    np.floating,
    np.complexfloating,
    np.bool_,
]


def test_issubdtype_matches_jax():
    firsts = ALL + [jax.dtypes.float0, jnp.bfloat16, np.float32, "bfloat16", "int8"]
    seconds = ABSTRACT + ALL + [float, int, complex, "bfloat16"]
    check_all(
        [
            ((a, b), dtypes.issubdtype(a, b), bool(jnp.issubdtype(a, b)))
            for a, b in itertools.product(firsts, seconds)
        ]
    )
    assert dtypes.issubdtype(dtypes.bfloat16, np.floating)
    assert not np.issubdtype(dtypes.bfloat16, np.floating)  # why we need our own


def test_predicates_match_jax():
    for d in ALL:
        assert dtypes.is_float(d) == jnp.issubdtype(d, jnp.floating), d
        assert dtypes.is_complex(d) == jnp.issubdtype(d, jnp.complexfloating), d
        assert dtypes.is_inexact(d) == jnp.issubdtype(d, jnp.inexact), d
        assert dtypes.is_int(d) == jnp.issubdtype(d, jnp.integer), d
        assert dtypes.is_unsigned(d) == jnp.issubdtype(d, jnp.unsignedinteger), d
        assert dtypes.is_bool(d) == jnp.issubdtype(d, jnp.bool_), d
    assert dtypes.is_float(np.ones(2, jnp.bfloat16))  # values with .dtype work too
    assert dtypes.is_int("uint8") and not dtypes.is_int(bool)


def test_finfo_iinfo_match_jax():
    for d in FLOATS:
        ours, theirs = dtypes.finfo(d), jnp.finfo(d)
        for field in ("bits", "eps", "max", "min", "tiny", "resolution"):
            assert getattr(ours, field) == getattr(theirs, field), (d, field)
        assert np.dtype(ours.dtype) == np.dtype(theirs.dtype)
    for d in INTS:
        ours, theirs = dtypes.iinfo(d), jnp.iinfo(d)
        assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)


def test_real_and_complex_dtypes_match_jax(x64):
    from jax._src import dtypes as jax_dtypes

    for d in ALL:
        if dtypes.is_inexact(d):
            x = ones(d)
            assert dtypes.real_dtype(x.dtype) == jnp.real(x).dtype, d
        assert dtypes.to_complex_dtype(d) == jax_dtypes.to_complex_dtype(d), d
    for d in FLOATS:
        assert dtypes.canonicalize_dtype(dtypes.to_complex_dtype(d)) == (ones(d) + 1j).dtype


def test_module_imports_without_jax():
    # The engine must not need jax: import it in the jax-free environment.
    venv_python = pathlib.Path("/work/venv/bin/python")
    if not venv_python.exists():
        pytest.skip("jax-free venv not present")
    code = (
        "import sys, engine.dtypes as d, numpy as np; "
        "assert 'jax' not in sys.modules; print(d.result_type(np.int8, 1.0))"
    )
    out = subprocess.run(
        [str(venv_python), "-c", code],
        cwd=ROOT,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "JAX_ENABLE_X64": "0"},
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "float32"


def test_64bit_values_made_under_x64_keep_their_dtype():
    with x64_mode(True):
        x = ones(np.int64)
        w = weak_ones(np.float64)
    with x64_mode(False), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from jax._src import dtypes as jax_dtypes

        y = ones(np.int32)
        assert dtypes.dtype_of(x) == jax_dtypes.dtype(x) == np.int64
        check_all(
            [
                ((x, x), dtypes.lattice_result_type(x, x), jax_op(x, x)),
                ((x, y), dtypes.lattice_result_type(x, y), jax_op(x, y)),
                ((x, w), dtypes.lattice_result_type(x, w), jax_op(x, w)),
                ((w, 1), dtypes.lattice_result_type(w, 1), jax_op(w, 1)),
                ((x, y), dtypes.result_type(x, y, return_weak_type_flag=True), jax_result(x, y)),
                ((w,), dtypes.result_type(w, return_weak_type_flag=True), jax_result(w)),
            ]
        )
