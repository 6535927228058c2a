"""engine.lax elementwise and special-function primitives against jax.lax: eager and
jit values, jvp, vjp, vmap, broadcasting of size-1 / rank-0 operands, dtypes and weak
types with Python scalars, jaxpr text, and error messages."""

import functools

import numpy as np
import pytest
from helpers import assert_close, real_jax

import engine
from engine import lax

jax, jnp = real_jax()
jlax = jax.lax

F32, C64, I32, U32 = np.float32, np.complex64, np.int32, np.uint32


def op(nargs, dtypes, domain=(-2.0, 2.0), diff=True, fn=None, tol=None, diff_args=None, vjp=True):
    """An op under test. ``domain``: one (low, high) for all real operands or a tuple of
    them, one per operand; ``fn(lax_module)`` builds the function (default: the op)."""
    return dict(
        nargs=nargs,
        dtypes=dtypes,
        domain=domain,
        diff=diff,
        fn=fn,
        tol=tol,
        diff_args=diff_args,
        vjp=vjp,
    )


POS = (0.5, 2.0)
UNIT = (-0.9, 0.9)
OPS = {
    "neg": op(1, [F32, C64, I32]),
    "sign": op(1, [F32, C64, I32, U32]),
    "abs": op(1, [F32, C64, I32]),
    "square": op(1, [F32, C64, I32]),
    "sqrt": op(1, [F32, C64], POS),
    "rsqrt": op(1, [F32, C64], POS),
    "cbrt": op(1, [F32], POS),
    "exp": op(1, [F32, C64]),
    "exp2": op(1, [F32, C64]),
    "log": op(1, [F32, C64], POS),
    "log1p": op(1, [F32, C64], (-0.5, 2.0)),
    "expm1": op(1, [F32, C64]),
    "tanh": op(1, [F32, C64]),
    "logistic": op(1, [F32, C64]),
    "sin": op(1, [F32, C64]),
    "cos": op(1, [F32, C64]),
    "tan": op(1, [F32, C64], (-1.2, 1.2)),
    "asin": op(1, [F32, C64], UNIT),
    "acos": op(1, [F32, C64], UNIT),
    "atan": op(1, [F32, C64]),
    "sinh": op(1, [F32, C64]),
    "cosh": op(1, [F32, C64]),
    "asinh": op(1, [F32, C64]),
    "acosh": op(1, [F32, C64], (1.2, 3.0)),
    "atanh": op(1, [F32, C64], UNIT),
    "erf": op(1, [F32]),
    "erfc": op(1, [F32]),
    "erf_inv": op(1, [F32], UNIT),
    "lgamma": op(1, [F32], (0.5, 3.0)),
    "digamma": op(1, [F32], (0.5, 3.0), tol=(1e-4, 1e-4)),
    "floor": op(1, [F32]),
    "ceil": op(1, [F32]),
    "round": op(1, [F32]),
    "round_even": op(1, [F32], fn=lambda m: lambda x: m.round(x, m.RoundingMethod.TO_NEAREST_EVEN)),
    "is_finite": op(1, [F32], diff=False),
    "real": op(1, [C64]),
    "imag": op(1, [C64]),
    "conj": op(1, [F32, C64]),
    "reciprocal": op(1, [F32, C64], POS),
    "integer_pow3": op(1, [F32, C64, I32], fn=lambda m: lambda x: m.integer_pow(x, 3)),
    "integer_pow_m2": op(1, [F32, C64], POS, fn=lambda m: lambda x: m.integer_pow(x, -2)),
    "add": op(2, [F32, C64, I32]),
    "sub": op(2, [F32, C64, I32]),
    "mul": op(2, [F32, C64, I32]),
    "div": op(2, [F32, C64, I32], ((-2.0, 2.0), POS)),
    "rem": op(2, [F32, I32], ((-3.0, 3.0), (1.1, 1.9))),
    "max": op(2, [F32, C64, I32]),
    "min": op(2, [F32, C64, I32]),
    "pow": op(2, [F32, C64], (POS, (-2.0, 2.0))),
    "atan2": op(2, [F32, C64]),
    "nextafter": op(2, [F32], diff=False),
    "complex": op(2, [F32]),
    "polygamma": op(2, [F32], ((0.0, 2.0), (0.5, 3.0)), diff_args=(1,), tol=(2e-4, 1e-4)),
    "zeta": op(2, [F32], ((2.0, 4.0), (0.5, 3.0)), diff=False),
}


def _fns(name):
    spec = OPS[name]
    if spec["fn"] is not None:
        return spec["fn"](lax), spec["fn"](jlax)
    return getattr(lax, name), getattr(jlax, name)


def _domains(spec):
    d = spec["domain"]
    return d if isinstance(d[0], tuple) else (d,) * spec["nargs"]


def _arg(name, i, dtype, shape, seed):
    spec = OPS[name]
    r = np.random.RandomState(seed)
    lo, hi = _domains(spec)[i]
    if name == "polygamma" and i == 0:  # the order m: whole numbers
        return r.randint(0, 3, size=shape).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        lo, hi = (
            (1, 4)
            if (name in ("div", "rem") and i == 1)
            else ((0, 5) if np.dtype(dtype).kind == "u" else (-4, 4))
        )
        return r.randint(lo, hi + 1, size=shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        # off the real axis, where the complex branch cuts lie
        re = r.uniform(0.3, 1.2, size=shape)
        im = r.uniform(0.2, 0.8, size=shape)
        return (re + 1j * im).astype(dtype)
    return r.uniform(lo, hi, size=shape).astype(dtype)


def _args(name, dtype, shapes, seed=0):
    return [_arg(name, i, dtype, s, seed + 7 * i) for i, s in enumerate(shapes)]


def _tol(name, dtype):
    tol = OPS[name]["tol"] or (1e-5, 1e-6)
    if np.dtype(dtype).kind == "c":
        tol = (max(tol[0], 2e-5), max(tol[1], 2e-6))
    return dict(rtol=tol[0], atol=tol[1])


CASES = [(n, d) for n, s in OPS.items() for d in s["dtypes"]]
DIFF_CASES = [(n, d) for n, d in CASES if OPS[n]["diff"] and np.dtype(d).kind in "fc"]
BINARY_F32 = [n for n, s in OPS.items() if s["nargs"] == 2 and F32 in s["dtypes"]]


def _ids(cases):
    return [f"{n}-{np.dtype(d).name}" for n, d in cases]


# ---------------------------------------------------------------------------- the oracle

SHAPE = (2, 3)


BCAST_SHAPES = {"bcast_size1": [(2, 1), (1, 3)], "bcast_scalar": [(), (2, 3)]}
BCAST_NAMES = [n for n in BINARY_F32 if OPS[n]["diff"]]


def _std_inputs(name, dtype, shapes=None):
    """Operands, differentiable-operand tangents and an output cotangent (same seeds for
    the engine and the oracle)."""
    args = _args(name, dtype, shapes or [SHAPE] * OPS[name]["nargs"])
    which = OPS[name]["diff_args"] or tuple(range(len(args)))
    tangents = [_arg(name, 0, dtype, args[i].shape, 11 + k) for k, i in enumerate(which)]
    out = jax.eval_shape(_fns(name)[1], *args)
    ct = np.asarray(_arg(name, 0, out.dtype, out.shape, 5)).astype(out.dtype)
    return args, tangents, ct


def _vmap_inputs(name, dtype):
    if OPS[name]["nargs"] == 1:
        return [_args(name, dtype, [SHAPE])]
    return [_args(name, dtype, [SHAPE, SHAPE[1:]]), _args(name, dtype, [SHAPE[::-1], SHAPE], 3)]


def _vmap_axes(name):
    return [1] if OPS[name]["nargs"] == 1 else [(0, None), (1, 0)]


def _run(kind, name, api, lax_mod, args, tangents, ct):
    """One check's computation through ``api`` (engine or jax) and ``lax_mod``."""
    f = OPS[name]["fn"](lax_mod) if OPS[name]["fn"] else getattr(lax_mod, name)
    which = OPS[name]["diff_args"] or tuple(range(len(args)))

    def fd(*dargs):
        full = list(args)
        for i, a in zip(which, dargs):
            full[i] = a
        return f(*full)

    dargs = [args[i] for i in which]
    if kind == "values":
        return f(*args)
    if kind == "jvp":
        return api.jvp(fd, dargs, tangents)
    if kind == "vjp":
        out, fn = api.vjp(fd, *dargs)
        return out, fn(ct)
    if kind == "vmap":
        return [api.vmap(f, in_axes=ax)(*a) for ax, a in zip(_vmap_axes(name), args)]
    if kind.startswith("bcast"):
        return [_run(k, name, api, lax_mod, args, tangents, ct) for k in ("values", "jvp", "vjp")]
    raise ValueError(kind)


def _kind_cases(kind):
    if kind.startswith("bcast"):
        return [(n, F32) for n in BCAST_NAMES]
    if kind in ("jvp", "vjp"):
        return DIFF_CASES
    if kind == "vmap":
        return VMAP_CASES
    return CASES


@functools.cache
def _oracle(kind, dtype_name):
    """JAX's answers for every case of one kind and dtype, from ONE jitted program (a
    few compiles instead of hundreds of eager ones)."""
    names = [n for n, d in _kind_cases(kind) if np.dtype(d).name == dtype_name]
    dtype = np.dtype(dtype_name)
    inputs = {n: _inputs(kind, n, dtype) for n in names}
    compute = jax.jit(lambda ins: {n: _run(kind, n, jax, jlax, *ins[n]) for n in names})
    return jax.device_get(compute(inputs))


def _inputs(kind, name, dtype):
    if kind == "vmap":
        return _vmap_inputs(name, dtype), [], None
    return _std_inputs(name, dtype, BCAST_SHAPES.get(kind))


def _check(kind, name, dtype):
    ins = _inputs(kind, name, dtype)
    want = _oracle(kind, np.dtype(dtype).name)[name]
    assert_close(_run(kind, name, engine, lax, *ins), want, **_tol(name, dtype))


VMAP_CASES = [(n, d) for n, d in CASES if np.dtype(d).kind != "c" or OPS[n]["dtypes"] == [C64]]


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize("name,dtype", CASES, ids=_ids(CASES))
def test_eager_values(name, dtype):
    _check("values", name, dtype)


@pytest.mark.parametrize("dtype", sorted({np.dtype(d).name for _, d in CASES}))
def test_jit_values(dtype):
    """Every op of one dtype inside one jitted engine program."""
    names = [n for n, d in CASES if np.dtype(d).name == dtype]
    ins = {n: _std_inputs(n, np.dtype(dtype)) for n in names}
    got = engine.jit(lambda ins: {n: _run("values", n, engine, lax, *ins[n]) for n in names})(ins)
    want = _oracle("values", dtype)
    for n in names:
        assert_close(got[n], want[n], **_tol(n, dtype))


@pytest.mark.parametrize("name,dtype", DIFF_CASES, ids=_ids(DIFF_CASES))
def test_jvp(name, dtype):
    _check("jvp", name, dtype)


@pytest.mark.parametrize("name,dtype", DIFF_CASES, ids=_ids(DIFF_CASES))
def test_vjp(name, dtype):
    _check("vjp", name, dtype)


GRAD2 = [
    "tanh",
    "logistic",
    "lgamma",
    "digamma",
    "erf_inv",
    "sqrt",
    "atan",
    "cbrt",
    "acosh",
    "erfc",
    "asin",
]


@pytest.mark.parametrize("name", GRAD2)
def test_second_derivative(name):
    f, jf = _fns(name)
    x = float(np.mean(_domains(OPS[name])[0]))
    want = jax.grad(jax.grad(jf))(x)
    assert_close(engine.grad(engine.grad(f))(x), want, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- vmap


@pytest.mark.parametrize("name,dtype", VMAP_CASES, ids=_ids(VMAP_CASES))
def test_vmap(name, dtype):
    _check("vmap", name, dtype)


BATCHED_GRAD = ["sin", "pow", "atan2", "max", "rem", "logistic", "abs", "complex"]


@pytest.mark.parametrize("name", BATCHED_GRAD)
def test_vmap_of_grad(name):
    f, jf = _fns(name)
    n = OPS[name]["nargs"]
    args = _args(name, F32, [(3,)] * n)

    def loss(m, g):
        return lambda *a: m.real(g(*a)) if name == "complex" else g(*a)

    g = engine.vmap(engine.grad(loss(lax, f), argnums=tuple(range(n))))
    jg = jax.vmap(jax.grad(loss(jlax, jf), argnums=tuple(range(n))))
    assert_close(g(*args), jg(*args), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- broadcasting


@pytest.mark.parametrize("kind", list(BCAST_SHAPES))
@pytest.mark.parametrize("name", BCAST_NAMES)
def test_broadcasting_operands(name, kind):
    """Rank-0 and size-1 operands: tangents take the output shape, cotangents sum back."""
    _check(kind, name, F32)


# ---------------------------------------------------------------------------- dtypes, scalars


def _scalar_for(name, dtype, i=0):
    if np.dtype(dtype).kind == "c":
        return 0.7 + 0.5j
    if np.dtype(dtype).kind in "iu":
        return 2
    lo, hi = _domains(OPS[name])[i]
    return 1.0 if name == "polygamma" and i == 0 else float((lo + hi) / 2)


def _check_same_type(a, e):
    assert np.asarray(a).dtype == np.asarray(e).dtype
    assert bool(getattr(a, "weak_type", False)) == bool(e.weak_type), (a, e)


@pytest.mark.parametrize("name", [n for n in OPS if n != "round_even"])
def test_python_scalar_operands(name):
    """A Python scalar takes the array operand's dtype and stays weak; alone, it gives a
    weakly typed result of its default dtype."""
    f, jf = _fns(name)
    dtype = OPS[name]["dtypes"][0]
    if OPS[name]["nargs"] == 1:
        s = _scalar_for(name, dtype)
        a, e = f(s), jf(s)
        assert_close(a, e, **_tol(name, dtype))
        _check_same_type(a, e)
        return
    x, y = _args(name, dtype, [(3,), (3,)])
    for args in [
        (x, _scalar_for(name, dtype, 1)),
        (_scalar_for(name, dtype, 0), _scalar_for(name, dtype, 1)),
    ]:
        a, e = f(*args), jf(*args)
        assert_close(a, e, **_tol(name, dtype))
        _check_same_type(a, e)


def test_pow_keeps_integer_exponent():
    x = _args("pow", F32, [(3,)])[0]
    a, e = lax.pow(x, 3), jlax.pow(x, 3)
    assert_close(a, e)
    _check_same_type(a, e)
    yi = np.array([0, 1, -2], np.int32)
    assert_close(lax.pow(2.0, yi), jlax.pow(2.0, yi))
    assert_close(
        engine.grad(lambda x: lax.reduce_sum(lax.pow(x, yi), (0,)))(x),
        jax.grad(lambda x: jlax.pow(x, yi).sum())(x),
    )


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16])
def test_integer_dtypes(dtype):
    x = np.array([-3, 0, 5], dtype) if np.dtype(dtype).kind == "i" else np.array([3, 0, 5], dtype)
    y = np.array([2, 3, 2], dtype)
    for name in ["add", "mul", "div", "rem", "max", "sign", "square"]:
        f, jf = _fns(name)
        args = (x, y) if OPS[name]["nargs"] == 2 else (x,)
        assert_close(f(*args), jf(*args))


def test_mul_out_dtype():
    x = np.array([100, -7, 3], np.int8)
    assert_close(lax.mul(x, x, out_dtype=np.int32), jlax.mul(x, x, out_dtype=jnp.int32))
    xf = np.array([1.5, 2.0], jnp.bfloat16)
    f = lambda m: lambda x: m.mul(x, x, out_dtype=np.float32)  # noqa: E731
    assert_close(engine.jvp(f(lax), (xf,), (xf,)), jax.jvp(f(jlax), (xf,), (xf,)))


# ---------------------------------------------------------------------------- numerics


def test_pow_at_zero():
    """d/dy 0**y is 0 (log 0 replaced); d/dx with integer y == 0 is 0."""
    x = np.array([0.0, 0.0, 0.0, 0.0, -2.0, 2.0], np.float32)
    y = np.array([0.0, 1.0, 2.0, -1.0, 2.0, 0.5], np.float32)
    ones = np.ones_like(x)
    assert_close(lax.pow(x, y), jlax.pow(x, y))
    assert_close(
        engine.jvp(lambda x: lax.pow(x, y), (x,), (ones,)),
        jax.jvp(lambda x: jlax.pow(x, y), (x,), (ones,)),
    )
    assert_close(
        engine.jvp(lambda y: lax.pow(x, y), (y,), (ones,)),
        jax.jvp(lambda y: jlax.pow(x, y), (y,), (ones,)),
    )
    yi = np.array([0, 1, 2, -1, 2, 3], np.int32)
    assert_close(
        engine.jvp(lambda x: lax.pow(x, yi), (x,), (ones,)),
        jax.jvp(lambda x: jlax.pow(x, yi), (x,), (ones,)),
    )


def test_stable_derivatives_at_extremes():
    x = np.array([-100.0, -30.0, 0.0, 30.0, 100.0], np.float32)
    for name in ["logistic", "tanh"]:
        f, jf = _fns(name)
        assert_close(engine.vmap(engine.grad(f))(x), jax.vmap(jax.grad(jf))(x))
        assert np.isfinite(np.asarray(engine.vmap(engine.grad(f))(x))).all()
    z = np.array([0.0, 0.0], np.complex64)  # |z| at 0: a zero derivative, not NaN
    assert_close(
        engine.jvp(lax.abs, (z,), (np.ones_like(z),)), jax.jvp(jlax.abs, (z,), (np.ones_like(z),))
    )
    r = np.array([-1.5, 0.0, 2.0], np.float32)
    assert_close(
        engine.jvp(lax.abs, (r,), (np.ones_like(r),)), jax.jvp(jlax.abs, (r,), (np.ones_like(r),))
    )


@pytest.mark.parametrize("method", [0, 1])
def test_round_ties(method):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3], np.float32)
    assert_close(lax.round(x, method), jlax.round(x, method))
    assert_close(
        engine.jit(lambda x: lax.round(x, lax.RoundingMethod(method)))(x),
        jlax.round(x, jlax.RoundingMethod(method)),
    )


def test_nonfinite_and_nextafter():
    x = np.array([np.inf, -np.inf, np.nan, 1.0, 0.0], np.float32)
    assert_close(lax.is_finite(x), jlax.is_finite(x))
    assert_close(lax.nextafter(x, np.float32(2.0)), jlax.nextafter(x, np.float32(2.0)))


def test_max_min_complex_order():
    x = np.array([1 + 2j, 1 + 1j, 2 - 5j, 0 + 0j], np.complex64)
    y = np.array([1 + 1j, 1 + 3j, 1 + 9j, 0 + 0j], np.complex64)
    assert_close(lax.max(x, y), jlax.max(x, y))
    assert_close(lax.min(x, y), jlax.min(x, y))


def test_accuracy_param():
    x = _args("exp", F32, [(3,)])[0]
    for acc in [lax.Tolerance(atol=1e-3, ulps=2), lax.AccuracyMode.HIGHEST]:
        assert_close(lax.exp(x, accuracy=acc), jlax.exp(x))
        assert_close(engine.jit(lambda x: lax.sin(x, accuracy=acc))(x), jlax.sin(x))
    text = engine.jit(lambda x: lax.exp(x, accuracy=lax.Tolerance(atol=1e-3))).lower(x).as_text()
    assert "result_accuracy" in text and "TOLERANCE" in text
    with pytest.raises(ValueError, match="non-negative"):
        lax.Tolerance(atol=-1)


# ---------------------------------------------------------------------------- jaxpr text

TEXT_CASES = {
    "square": (lambda m: m.square, [F32]),
    "round_even": (lambda m: lambda x: m.round(x, m.RoundingMethod.TO_NEAREST_EVEN), [F32]),
    "integer_pow": (lambda m: lambda x: m.integer_pow(x, 3), [F32]),
    "reciprocal": (lambda m: m.reciprocal, [F32]),
    "exp2": (lambda m: m.exp2, [F32]),
    "conj_real": (lambda m: m.conj, [F32]),
    "abs_complex": (lambda m: lambda x: m.abs(m.complex(x, x)), [F32]),
    "pow_int": (lambda m: lambda x: m.pow(x, 2), [F32]),
    "mul_scalar": (lambda m: lambda x: m.mul(2.0, m.sin(x)), [F32]),
    "is_finite": (lambda m: m.is_finite, [F32]),
    "real_imag": (lambda m: lambda z: m.add(m.real(z), m.imag(z)), [C64]),
    "atan2_scalar": (lambda m: lambda x: m.atan2(x, 1.0), [F32]),
    "polygamma": (lambda m: lambda x: m.polygamma(1.0, x), [F32]),
    "lgamma_jvp": (lambda m: lambda x: (m.lgamma(x), m.digamma(x)), [F32]),
}


@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_jaxpr_text(case):
    build, dts = TEXT_CASES[case]
    args = [np.ones((3,), d) for d in dts]
    assert str(engine.make_jaxpr(build(lax))(*args)) == str(jax.make_jaxpr(build(jlax))(*args))


def test_jvp_jaxpr_text_logistic_and_erf():
    x = np.ones((3,), F32)
    for name in ["logistic", "erf", "sqrt", "digamma"]:
        f, jf = getattr(lax, name), getattr(jlax, name)
        ours = engine.make_jaxpr(lambda x: engine.jvp(f, (x,), (x,)))(x)
        theirs = jax.make_jaxpr(lambda x: jax.jvp(jf, (x,), (x,)))(x)
        assert str(ours) == str(theirs), name


# ---------------------------------------------------------------------------- errors

ERROR_CASES = {
    "sin_int": (lambda m: m.sin, [np.ones(3, I32)]),
    "floor_complex": (lambda m: m.floor, [np.ones(3, C64)]),
    "abs_uint": (lambda m: m.abs, [np.ones(3, U32)]),
    "real_float": (lambda m: m.real, [np.ones(3, F32)]),
    "add_bool": (lambda m: m.add, [np.ones(3, bool), np.ones(3, bool)]),
    "add_dtypes": (lambda m: m.add, [np.ones(3, F32), np.ones(3, I32)]),
    "rem_dtypes": (lambda m: m.rem, [np.ones(3, F32), np.ones(3, np.float16)]),
    "atan2_int": (lambda m: m.atan2, [np.ones(3, F32), np.ones(3, I32)]),
    "complex_f16": (lambda m: m.complex, [np.ones(3, F32), np.ones(3, np.float16)]),
    "rank": (lambda m: m.mul, [np.ones((2, 3), F32), np.ones(3, F32)]),
    "shapes": (lambda m: m.sub, [np.ones((2, 3), F32), np.ones((4, 3), F32)]),
    "pow_mixed": (lambda m: m.pow, [np.ones(3, F32), np.ones(3, C64)]),
    "pow_int_base": (lambda m: m.pow, [np.ones(3, I32), np.ones(3, F32)]),
    "int_neg_power": (lambda m: lambda x: m.integer_pow(x, -2), [np.ones(3, I32)]),
    "bad_rounding": (lambda m: lambda x: m.round(x, 2), [np.ones(3, F32)]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_messages_match_jax(case):
    build, args = ERROR_CASES[case]
    with pytest.raises(Exception) as jax_err:
        jax.make_jaxpr(build(jlax))(*args)
    first_line = str(jax_err.value).split("\n")[0]
    with pytest.raises(type(jax_err.value)) as ours:
        build(lax)(*args)
    assert str(ours.value).startswith(first_line)


def test_no_derivative_rules_where_jax_has_none():
    x = np.ones(3, F32)
    with pytest.raises(NotImplementedError, match="nextafter"):
        engine.jvp(lambda x: lax.nextafter(x, x), (x,), (x,))
    with pytest.raises(ValueError, match="polygamma gradient with respect to m"):
        engine.jvp(lambda m: lax.polygamma(m, x), (x,), (x,))
