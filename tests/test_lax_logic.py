"""engine.lax comparisons, bitwise/shift ops, select_n, clamp, stop_gradient and the dtype
conversions, differential against real jax.lax: eager, jit, jvp, grad, vmap, jaxpr text."""

import contextlib
import warnings

import ml_dtypes
import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st

import engine  # noqa: E402
from engine import lax as elax  # noqa: E402
from tests.helpers import assert_close  # noqa: E402

jlax = jax.lax
ecvt = elax.convert_element_type
BF16 = np.dtype(ml_dtypes.bfloat16)


@contextlib.contextmanager
def x64():
    """x64 on in both JAX and the engine."""
    with jax.enable_x64(True), engine.enable_x64(True):
        yield


def values(dtype, n=8, seed=0):
    """Test values of a dtype: extremes, zero, and (for floats) NaN, inf, -0.0, halves."""
    dtype = np.dtype(dtype)
    r = np.random.RandomState(seed)
    if dtype == np.bool_:
        return r.rand(n) > 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        special = np.array([info.min, info.max, 0, 1], dtype)
        rest = r.randint(max(int(info.min), -100), 101, size=n).astype(dtype)
        return np.concatenate([special, rest])[:n]
    special = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.5]
    return np.array(special + list(r.uniform(-3, 3, n)))[:n].astype(dtype)


def _is_py_scalar(x):
    return type(x) in (bool, int, float, complex)


def check_calls(*calls, eager=True):
    """Each call is (op_name, args, kwargs) of lax. All calls run as one jitted program in
    JAX (the oracle) and in the engine, and one by one in the engine's eager mode; values,
    dtypes and weak types must match. Python scalars stay Python scalars (weak); arrays
    are arguments of the jitted program (constants could be folded differently)."""
    arrays = [a for _, args, _ in calls for a in args if not _is_py_scalar(a)]

    def run(mod, *arrs):
        it, outs = iter(arrs), []
        for op, args, kw in calls:
            args = [a if _is_py_scalar(a) else next(it) for a in args]
            outs.append(getattr(mod, op)(*args, **kw))
        return outs

    want = jax.jit(lambda *a: run(jlax, *a))(*arrays)
    got = [engine.jit(lambda *a: run(elax, *a))(*arrays)] + ([run(elax, *arrays)] if eager else [])
    for outs in got:
        for call, e, j in zip(calls, outs, want):
            assert_close(e, j, rtol=0, atol=0)
            assert bool(getattr(e, "weak_type", False)) == bool(j.weak_type), call


def check_same(op_name, *args, **kw):
    check_calls((op_name, args, kw))


def esum(v):
    """Sum of all elements, in the engine (engine.numpy is not there yet)."""
    return elax.reduce_sum(v, tuple(range(np.ndim(v))))


def jaxprs_equal(fe, fj, *args):
    assert str(engine.make_jaxpr(fe)(*args)) == str(jax.make_jaxpr(fj)(*args))


def raises_like_jax(op_name, *args, exc=TypeError):
    with pytest.raises(exc):
        getattr(jlax, op_name)(*args)
    with pytest.raises(exc):
        getattr(elax, op_name)(*args)


# ---------------------------------------------------------------------------- comparisons

CMP = ["eq", "ne", "lt", "le", "gt", "ge"]
CMP_DTYPES = [np.bool_, np.int8, np.int32, np.uint8, np.uint32, np.float32, BF16]


@pytest.mark.parametrize("dtype", CMP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_comparisons_values(dtype):
    x, y = values(dtype, seed=1), values(dtype, seed=2)
    y[:4] = x[:4]  # equal values, NaN against NaN, inf against inf
    check_calls(
        *[(op, (x, y), {}) for op in CMP], *[(op, (x, x[3]), {}) for op in CMP]
    )  # a rank-0 operand broadcasts


def test_comparisons_weak_scalars_and_complex():
    f = values(np.float32)
    c = np.array([1 + 2j, 1 - 2j, np.nan, 3j], np.complex64)
    check_calls(
        *[(op, (f, 1.5), {}) for op in CMP],
        *[(op, (2.0, f), {}) for op in CMP],
        ("eq", (c, c[::-1]), {}),
        ("ne", (c, c[::-1]), {}),
        eager=False,
    )
    for op in ["lt", "le", "gt", "ge"]:
        raises_like_jax(op, c, c)
    raises_like_jax("eq", f, np.int32(1))  # mixed dtypes


def test_comparison_jaxpr_and_grad():
    x = values(np.float32)
    jaxprs_equal(lambda a: elax.lt(a, 2.0), lambda a: jlax.lt(a, 2.0), x)
    fe = lambda a: esum(elax.select(elax.gt(a, 0.0), a, elax.mul(a, a)))
    fj = lambda a: jnp.sum(jlax.select(jlax.gt(a, 0.0), a, a * a))
    x = np.array([-1.5, -0.5, 0.0, 0.5, 2.0], np.float32)
    assert_close(engine.grad(fe)(x), jax.grad(fj)(x))
    ye, te = engine.jvp(lambda a: elax.eq(a, 0.0), (x,), (x,))
    yj, tj = jax.jvp(lambda a: jlax.eq(a, 0.0), (x,), (x,))
    assert_close(ye, yj)
    assert np.asarray(te).dtype == np.asarray(tj).dtype == jax.dtypes.float0


# ------------------------------------------------------------------ bitwise, shifts, counts

BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
INT_DTYPES = [np.int8, np.int32, np.uint8, np.uint32]


@pytest.mark.parametrize("dtype", [np.bool_] + INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_bitwise_values(dtype):
    x, y = values(dtype, seed=3), values(dtype, seed=4)
    calls = [(op, (x, y), {}) for op in BITWISE] + [("bitwise_not", (x,), {})]
    # the shift amounts: beyond the bit width (and, read as unsigned, negative) included
    if dtype is not np.bool_:
        calls += [(op, (x,), {}) for op in ["population_count", "clz"]]
        s = np.array([0, 1, 3, 7, 8, 31, 32, 33]).astype(dtype)
        calls += [
            (op, (x, s), {})
            for op in ["shift_left", "shift_right_logical", "shift_right_arithmetic"]
        ]
    check_calls(*calls)


def test_bitwise_scalars_dtype_errors_and_jaxpr():
    i = values(np.int32)
    check_calls(
        ("bitwise_and", (3, 5), {}),  # two weak ints stay weak
        ("bitwise_or", (i, 6), {}),
        ("bitwise_xor", (values(np.bool_), True), {}),
        ("shift_left", (i, 2), {}),
        eager=False,
    )
    f = values(np.float32)
    for op in BITWISE:
        raises_like_jax(op, f, f)
    raises_like_jax("bitwise_not", f)
    b = values(np.bool_)
    for op in ["shift_left", "shift_right_logical", "shift_right_arithmetic"]:
        raises_like_jax(op, b, b)
    raises_like_jax("population_count", b)
    raises_like_jax("clz", f)
    raises_like_jax("bitwise_and", np.int8(1), np.int32(1))
    jaxprs_equal(
        lambda a, b: elax.bitwise_xor(elax.bitwise_not(a), b),
        lambda a, b: jlax.bitwise_xor(jlax.bitwise_not(a), b),
        i,
        i,
    )
    jaxprs_equal(
        lambda a: elax.shift_right_logical(elax.population_count(a), 1),
        lambda a: jlax.shift_right_logical(jlax.population_count(a), 1),
        i,
    )


def test_int_ops_all_widths_x64():
    """Every integer width under x64; one jitted program per dtype keeps it fast."""
    unary = ["bitwise_not", "population_count", "clz"]
    binary = BITWISE + ["shift_left", "shift_right_logical", "shift_right_arithmetic", "eq", "lt"]

    def run(lax_mod, x, y, s):
        outs = [getattr(lax_mod, op)(x, s if op.startswith("shift") else y) for op in binary]
        return outs + [getattr(lax_mod, op)(x) for op in unary]

    with x64():
        for dtype in [
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.uint8,
            np.uint16,
            np.uint32,
            np.uint64,
        ]:
            x, y = values(dtype, seed=5), values(dtype, seed=6)
            bits = 8 * np.dtype(dtype).itemsize
            s = np.array([0, 1, 5, bits - 1, bits, bits + 1, 2, 3]).astype(dtype)
            want = jax.jit(lambda *a: run(jlax, *a))(x, y, s)
            assert_close(engine.jit(lambda *a: run(elax, *a))(x, y, s), want)
        assert_close(run(elax, x, y, s), want)  # eager, uint64


def test_bitwise_vmap():
    x = values(np.int32, 8).reshape(2, 4)
    y = values(np.int32, 4, seed=9)
    for op in ["bitwise_and", "shift_left", "shift_right_arithmetic", "lt"]:
        for axes in [(0, None), (1, 0), (None, 0)]:
            a, b = (x, y) if axes[1] is None else (x, x.T) if axes == (1, 0) else (y, x)
            fe = engine.vmap(getattr(elax, op), in_axes=axes)
            fj = jax.vmap(getattr(jlax, op), in_axes=axes)
            assert_close(fe(a, b), fj(a, b))
    assert_close(engine.vmap(elax.clz, in_axes=1)(x), jax.vmap(jlax.clz, in_axes=1)(x))


_SHIFT_AMOUNTS = st.integers(-40, 40)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["shift_left", "shift_right_logical", "shift_right_arithmetic"]),
    st.sampled_from([np.int32, np.uint32]),
    st.lists(st.tuples(st.integers(-(2**31), 2**32 - 1), _SHIFT_AMOUNTS), min_size=1, max_size=16),
)
def test_shifts_property(op, dtype, pairs):
    """Random values and shift amounts (negative and >= 32 included) vs JAX. The arrays
    are padded to one shape so each op compiles once."""
    pairs = (pairs * 16)[:16]
    x = np.array([v for v, _ in pairs], np.int64).astype(dtype)  # wraps modulo 2**32
    s = np.array([k for _, k in pairs], np.int64).astype(dtype)
    e, j = getattr(elax, op)(x, s), getattr(jlax, op)(x, s)
    np.testing.assert_array_equal(np.asarray(e), np.asarray(j))
    assert np.asarray(e).dtype == dtype


# ---------------------------------------------------------------------------- select_n


def test_select_n_values_and_errors():
    f = values(np.float32, seed=1)
    g, h = f * 2, f + 1
    b = values(np.bool_, seed=2)
    w = np.array([0, 1, 2, 1, 0, 2, 2, 1], np.int32)
    check_calls(
        ("select_n", (b, f, g), {}),
        ("select_n", (w, f, g, h), {}),
        ("select_n", (w.astype(np.uint8), f, g, h), {}),
        ("select_n", (np.int32(2), f, g, h), {}),  # scalar which
        ("select_n", (True, f, g), {}),
        ("select_n", (b, f), {}),  # one case
        ("select_n", (True, 1.0, 2.0), {}),  # weak cases stay weak
        *[
            ("select_n", (b, values(dt, seed=3), values(dt, seed=4)), {})
            for dt in [np.int8, np.uint32, np.bool_, BF16]
        ],
        ("select", (b, f, g), {}),
    )
    raises_like_jax("select_n", f, f, g)  # float which
    raises_like_jax("select_n", b, f, g, h)  # bool which, 3 cases
    raises_like_jax("select_n", b, f, f[:4])
    raises_like_jax("select_n", b[:4], f, g)
    raises_like_jax("select_n", b, f, w)
    raises_like_jax("select_n", b, exc=ValueError)
    jaxprs_equal(elax.select_n, jlax.select_n, w, f, g, h)
    jaxprs_equal(elax.select, jlax.select, b, f, g)


def test_select_n_jvp_and_grad():
    x = np.array([-1.5, -0.5, 0.25, 0.5, 2.0], np.float32)
    w = np.array([0, 2, 1, 2, 0], np.int32)

    def fe(a, c):
        return esum(elax.select_n(w, elax.sin(a), elax.mul(a, c), c))

    def fj(a, c):
        return jnp.sum(jlax.select_n(w, jnp.sin(a), a * c, c))

    c = x[::-1].copy()
    assert_close(engine.grad(fe, argnums=(0, 1))(x, c), jax.grad(fj, argnums=(0, 1))(x, c))
    assert_close(engine.jvp(fe, (x, c), (c, x)), jax.jvp(fj, (x, c), (c, x)))
    # which computed from x; one case constant (a symbolic zero tangent)
    ge = engine.grad(lambda a: esum(elax.select(elax.gt(a, 0.0), a, c)))
    gj = jax.grad(lambda a: jnp.sum(jlax.select(a > 0, a, c)))
    assert_close(ge(x), gj(x))
    jaxprs_equal(ge, gj, x)
    # scalar which
    ge = engine.grad(lambda a: esum(elax.select_n(np.int32(1), c, a)))
    gj = jax.grad(lambda a: jnp.sum(jlax.select_n(np.int32(1), c, a)))
    assert_close(ge(x), gj(x))
    # grad of grad through select
    he = engine.grad(
        engine.grad(lambda a: elax.select(elax.gt(a, 0.0), elax.integer_pow(a, 3), elax.sin(a)))
    )
    hj = jax.grad(jax.grad(lambda a: jlax.select(a > 0, a**3, jnp.sin(a))))
    for v in [-0.7, 1.3]:
        assert_close(he(np.float32(v)), hj(np.float32(v)))


@pytest.mark.parametrize(
    "axes", [(0, 0, 0), (0, None, None), (None, 0, 1), (None, 1, None), (1, None, 0), (0, 1, 0)]
)
def test_select_n_vmap(axes):
    rng = np.random.RandomState(0)
    cases = [rng.randn(3, 4).astype(np.float32) for _ in range(2)]
    which = rng.rand(3, 4) > 0.5

    def arg(x, ax):  # the batch of size 3 along `ax` (a full shared array when None)
        return x[0] if ax is None else np.moveaxis(x, 0, ax)

    args = [arg(which, axes[0])] + [arg(c, a) for c, a in zip(cases, axes[1:])]
    assert_close(
        engine.vmap(elax.select_n, in_axes=axes)(*args),
        jax.vmap(jlax.select_n, in_axes=axes)(*args),
    )


def test_select_n_vmap_scalar_which_and_int_which():
    rng = np.random.RandomState(1)
    c3 = [rng.randn(5, 2).astype(np.float32) for _ in range(3)]
    w_batch = np.array([0, 1, 2, 1, 0], np.int32)  # a per-example scalar which
    for axes in [(0, 0, 0, 0), (0, None, 1, 0), (0, None, None, None)]:
        args = [w_batch] + [
            c if a == 0 else (c[0] if a is None else c.T) for c, a in zip(c3, axes[1:])
        ]
        assert_close(
            engine.vmap(elax.select_n, in_axes=axes)(*args),
            jax.vmap(jlax.select_n, in_axes=axes)(*args),
        )
    # unbatched scalar which, cases batched along different axes
    args = (np.int32(2), c3[0], c3[1].T, c3[2])
    assert_close(
        engine.vmap(elax.select_n, in_axes=(None, 0, 1, 0))(*args),
        jax.vmap(jlax.select_n, in_axes=(None, 0, 1, 0))(*args),
    )
    # per-example scalar cases with batched which
    s = rng.randn(5).astype(np.float32)
    assert_close(
        engine.vmap(elax.select_n, in_axes=(0, 0, None))(w_batch > 0, s, np.float32(3)),
        jax.vmap(jlax.select_n, in_axes=(0, 0, None))(w_batch > 0, s, np.float32(3)),
    )
    # vmap of grad through select
    fe = engine.vmap(engine.grad(lambda a, b: elax.select(elax.lt(a, b), elax.mul(a, b), b)))
    fj = jax.vmap(jax.grad(lambda a, b: jlax.select(a < b, a * b, b)))
    assert_close(fe(s, s[::-1].copy()), fj(s, s[::-1].copy()))


# ---------------------------------------------------------------------------- clamp


@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int32, np.uint8, np.uint32, np.float32, BF16, np.bool_],
    ids=lambda d: np.dtype(d).name,
)
def test_clamp_values(dtype):
    x = values(dtype, seed=7)
    lo, hi = np.sort(values(dtype, seed=8)[[5, 7]]).astype(dtype)
    check_calls(
        ("clamp", (lo, x, hi), {}),
        ("clamp", (values(dtype, seed=9), x, values(dtype, seed=10)), {}),
    )


def test_clamp_weak_errors_and_jaxpr():
    f = values(np.float32)
    check_calls(("clamp", (0.0, f, 2.0), {}), ("clamp", (0.0, 1.5, 2.0), {}))
    raises_like_jax("clamp", f[:2], f, f)
    raises_like_jax("clamp", np.float32(0), f, np.int32(2))
    jaxprs_equal(lambda a: elax.clamp(0.0, a, 2.0), lambda a: jlax.clamp(0.0, a, 2.0), f)
    jaxprs_equal(elax.clamp, jlax.clamp, f[0], f, f)


def test_clamp_jvp_and_grad():
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    lo = np.array([-1.0, -1.0, 0.0, -1.0, 1.0, 0.5, -3.0], np.float32)
    hi = np.array([1.0, 0.0, 1.0, 2.0, 0.5, 1.0, 3.0], np.float32)
    fe = lambda a, x, b: esum(elax.mul(elax.clamp(a, x, b), x))
    fj = lambda a, x, b: jnp.sum(jlax.clamp(a, x, b) * x)
    args = (lo, x, hi)
    assert_close(engine.grad(fe, argnums=(0, 1, 2))(*args), jax.grad(fj, argnums=(0, 1, 2))(*args))
    t = (x, hi, lo)
    assert_close(engine.jvp(engine.jit(fe), args, t), jax.jvp(fj, args, t))
    # scalar bounds: the operand's gradient as in JAX, down to the jaxpr
    ge = engine.grad(lambda x: esum(elax.clamp(-1.0, x, 1.0)))
    gj = jax.grad(lambda x: jnp.sum(jlax.clamp(-1.0, x, 1.0)))
    assert_close(ge(x), gj(x))
    jaxprs_equal(ge, gj, x)


def test_clamp_grad_wrt_scalar_bounds():
    """JAX's own rule fails for a scalar min/max with an array operand; the oracle is
    JAX on explicitly broadcast bounds."""
    x = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    fe = lambda a, b: esum(elax.mul(elax.clamp(a, x, b), x))
    fj = lambda a, b: jnp.sum(
        jlax.clamp(jnp.broadcast_to(a, x.shape), x, jnp.broadcast_to(b, x.shape)) * x
    )
    for a, b in [(-0.7, 0.6), (0.0, 1.0), (1.5, 0.5)]:
        args = (np.float32(a), np.float32(b))
        assert_close(engine.grad(fe, argnums=(0, 1))(*args), jax.grad(fj, argnums=(0, 1))(*args))
        assert_close(engine.jvp(fe, args, args), jax.jvp(fj, args, args))


@pytest.mark.parametrize(
    "axes", [(None, 0, None), (0, 0, 0), (0, 1, None), (None, None, 0), (0, None, 0), (1, 0, 1)]
)
def test_clamp_vmap(axes):
    rng = np.random.RandomState(2)
    full = lambda: rng.randn(3, 4).astype(np.float32)
    lo, x, hi = full() - 1, full(), full() + 1

    def arg(v, ax):
        return v[0] if ax is None else np.moveaxis(v, 0, ax)

    args = [arg(v, a) for v, a in zip((lo, x, hi), axes)]
    assert_close(
        engine.vmap(elax.clamp, in_axes=axes)(*args), jax.vmap(jlax.clamp, in_axes=axes)(*args)
    )


def test_clamp_vmap_scalar_bounds():
    x = np.random.RandomState(3).randn(4, 3).astype(np.float32)
    b = np.array([-0.5, 0.0, 0.3, 1.0], np.float32)  # per-example scalar bounds
    for axes, args in [
        ((0, 0, None), (b, x, np.float32(1.5))),
        ((None, 1, 0), (np.float32(-0.2), x.T, b + 0.5)),
        ((0, None, 0), (b - 1, x[0], b + 1)),
        ((0, 0, 0), (b - 1, b, b + 1)),
    ]:
        assert_close(
            engine.vmap(elax.clamp, in_axes=axes)(*args), jax.vmap(jlax.clamp, in_axes=axes)(*args)
        )
    fe = engine.vmap(engine.grad(lambda a, x: esum(elax.clamp(a, x, 1.0)), argnums=(0, 1)))
    fj = jax.vmap(
        jax.grad(
            lambda a, x: jnp.sum(jlax.clamp(jnp.broadcast_to(a, x.shape), x, 1.0)), argnums=(0, 1)
        )
    )  # JAX's rule needs the scalar min broadcast
    assert_close(fe(b, x), fj(b, x))


# ---------------------------------------------------------------------------- stop_gradient


def test_stop_gradient():
    x = np.array([0.5, -1.0, 2.0], np.float32)
    check_same("stop_gradient", x)
    e, j = engine.jit(elax.stop_gradient)(2.0), jax.jit(jlax.stop_gradient)(2.0)
    assert_close(e, j)
    assert e.weak_type and j.weak_type
    i = np.array([1, 2, 3], np.int32)
    tree = {"a": x, "b": (i, 3.0)}
    # JAX's eager stop_gradient hands back its (host) inputs; its jit gives the arrays
    assert_close(elax.stop_gradient(tree), jax.jit(jlax.stop_gradient)(tree))
    jaxprs_equal(elax.stop_gradient, jlax.stop_gradient, x)
    jaxprs_equal(elax.stop_gradient, jlax.stop_gradient, i)
    jaxprs_equal(
        lambda a: elax.stop_gradient(elax.mul(a, 2.0)),
        lambda a: jlax.stop_gradient(a * 2.0),
        np.float32(1),
    )
    fe = lambda a: esum(elax.mul(elax.stop_gradient(elax.mul(a, a)), a))
    fj = lambda a: jnp.sum(jlax.stop_gradient(a * a) * a)
    assert_close(engine.grad(fe)(x), jax.grad(fj)(x))
    assert_close(engine.jvp(fe, (x,), (x,)), jax.jvp(fj, (x,), (x,)))
    he = engine.grad(engine.grad(lambda a: elax.mul(elax.stop_gradient(a), elax.sin(a))))
    hj = jax.grad(jax.grad(lambda a: jlax.stop_gradient(a) * jnp.sin(a)))
    assert_close(he(x[0]), hj(x[0]))
    xs = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close(
        engine.vmap(elax.stop_gradient, in_axes=1)(xs), jax.vmap(jlax.stop_gradient, in_axes=1)(xs)
    )
    assert_close(engine.vmap(engine.grad(fe))(xs), jax.vmap(jax.grad(fj))(xs))


# ---------------------------------------------------------------------------- convert_element_type

CONVERT_DTYPES = [np.bool_, np.int8, np.int32, np.uint8, np.uint32, np.float32, BF16, np.complex64]


@pytest.mark.parametrize("src", CONVERT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_convert_element_type_values(src):
    if np.dtype(src).kind == "c":
        x = np.array([1.5 + 2j, -2.7 - 1j, 0 + 1j, 0, -0.5 + 0j, 3 + 0j], np.complex64)
    elif np.dtype(src).kind == "f" or src is BF16:
        # float -> int truncates toward zero; NaN, inf and out-of-range values saturate
        # (XLA's choice on this backend, the same one JAX makes)
        x = np.array([-2.7, -1.0, -0.5, -0.0, 0.5, 2.7, 100.9, 300.0, np.nan, -np.inf], src)
    else:
        x = values(src, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        check_calls(*[("convert_element_type", (x,), {"new_dtype": dst}) for dst in CONVERT_DTYPES])


def test_convert_element_type_special_cases():
    f = np.array([0.0, -0.0, np.nan, 0.1, -np.inf], np.float32)
    check_same("convert_element_type", f, new_dtype=np.bool_)  # NaN -> True
    c = np.array([1j, 0 + 0j, 2 - 1j], np.complex64)
    with pytest.warns(np.exceptions.ComplexWarning):
        e = elax.convert_element_type(c, np.bool_)  # only the real part counts, as in JAX
    with pytest.warns(np.exceptions.ComplexWarning):
        j = jlax.convert_element_type(c, np.bool_)
    assert_close(e, j)
    check_calls(
        ("convert_element_type", (2.7,), {"new_dtype": np.int32}),  # Python scalars
        ("convert_element_type", (True,), {"new_dtype": np.float32}),
        ("convert_element_type", (np.float32(1.5),), {"new_dtype": jnp.bfloat16}),
    )
    x = np.array([1.0, 2.0], np.float32)
    assert elax.convert_element_type(x, np.float32) is x  # a no-op returns its input
    out = elax.convert_element_type(x, np.int32, weak_type=True)  # the engine's weak_type param
    assert out.weak_type and out.dtype == np.int32
    jaxprs_equal(
        lambda a: elax.convert_element_type(a, np.int8),
        lambda a: jlax.convert_element_type(a, np.int8),
        x,
    )
    # no equation for a no-op nor for a Python scalar (converted on the host, a literal)
    assert not engine.make_jaxpr(lambda a: elax.convert_element_type(a, np.float32))(x).eqns
    jaxpr = engine.make_jaxpr(lambda a: elax.convert_element_type(2.5, np.int32))(x).jaxpr
    assert not jaxpr.eqns and str(jaxpr.outvars[0]) == "Literal(2)"
    with x64():
        cet = "convert_element_type"
        check_calls(
            (cet, (np.array([2**40, -3], np.int64),), {"new_dtype": np.float64}),
            (cet, (np.array([1.5e300, -2.5]),), {"new_dtype": np.float32}),
            (cet, (np.array([7, 300], np.uint64),), {"new_dtype": np.int8}),
        )


def test_convert_element_type_autodiff():
    x = np.array([0.3, -1.7, 2.2], np.float32)
    for dt in [BF16, np.float32, np.complex64]:
        two = np.asarray(2, dt)
        fe = lambda a: esum(elax.mul(elax.convert_element_type(elax.mul(a, a), dt), two))
        fj = lambda a: jnp.sum(jlax.convert_element_type(a * a, dt) * two)
        if dt is not np.complex64:
            assert_close(engine.grad(fe)(x), jax.grad(fj)(x), rtol=1e-2)
        assert_close(engine.jvp(fe, (x,), (x,)), jax.jvp(fj, (x,), (x,)), rtol=1e-2)
    # through an integer: zero tangent (float0 where the output is an integer)
    fe = lambda a: elax.convert_element_type(a, np.int32)
    fj = lambda a: jlax.convert_element_type(a, np.int32)
    (pe, te), (pj, tj) = engine.jvp(fe, (x,), (x,)), jax.jvp(fj, (x,), (x,))
    assert_close(pe, pj)
    assert np.asarray(te).dtype == np.asarray(tj).dtype == jax.dtypes.float0
    fe = lambda a: esum(elax.mul(ecvt(ecvt(a, np.int32), np.float32), a))
    fj = lambda a: jnp.sum(jlax.convert_element_type(a.astype(np.int32), np.float32) * a)
    assert_close(engine.grad(fe)(x), jax.grad(fj)(x))
    assert_close(engine.jvp(fe, (x,), (x,)), jax.jvp(fj, (x,), (x,)))
    # real part of a complex input; the gradient flows into the real part
    c = np.array([1 + 2j, -0.5 + 1j], np.complex64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        ge = engine.grad(lambda z: esum(ecvt(z, np.float32)))(c)
        gj = jax.grad(lambda z: jnp.sum(jlax.convert_element_type(z, np.float32)))(c)
    assert_close(ge, gj)
    xs = np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5
    assert_close(
        engine.vmap(lambda a: elax.convert_element_type(a, np.int8), in_axes=1)(xs),
        jax.vmap(lambda a: jlax.convert_element_type(a, np.int8), in_axes=1)(xs),
    )


# ---------------------------------------------------------------------------- bitcast_convert_type


def test_bitcast_convert_type():
    f = np.array([1.0, -2.5, np.inf, 0.0, -0.0, 3.25], np.float32)
    i16 = np.arange(12, dtype=np.int16).reshape(6, 2) * 1000
    bc = "bitcast_convert_type"
    check_calls(
        *[(bc, (f,), {"new_dtype": dt}) for dt in [np.int32, np.uint32, np.uint8, np.int16, BF16]],
        (bc, (i16,), {"new_dtype": np.float32}),  # consumes the trailing 2
        (bc, (np.arange(4, dtype=np.uint8),), {"new_dtype": np.int32}),
        (bc, (values(np.int8),), {"new_dtype": np.uint8}),
        (bc, (f[0],), {"new_dtype": np.uint16}),  # scalar -> shape (2,)
        (bc, (2.0,), {"new_dtype": np.int32}),
    )  # weak in, strong out
    raises_like_jax("bitcast_convert_type", values(np.bool_), np.uint8)
    raises_like_jax("bitcast_convert_type", np.complex64(1), np.float32)
    raises_like_jax("bitcast_convert_type", np.uint8(1), np.int16, exc=ValueError)
    jaxprs_equal(
        lambda a: elax.bitcast_convert_type(a, np.uint8),
        lambda a: jlax.bitcast_convert_type(a, np.uint8),
        f,
    )
    with x64():
        check_calls(
            (bc, (np.array([1.5, -2.0]),), {"new_dtype": np.uint32}),
            (bc, (np.array([[1, 2], [3, 4]], np.uint32),), {"new_dtype": np.float64}),
            (bc, (np.array([-1, 5], np.int64),), {"new_dtype": np.uint64}),
        )


def test_bitcast_convert_type_transforms():
    f = np.array([[1.0, -2.5, 3.0], [0.5, 4.0, -0.0]], np.float32)
    for dt, axis in [(np.int32, 1), (np.uint8, 1), (np.uint8, 0)]:
        fe = engine.vmap(lambda a: elax.bitcast_convert_type(a, dt), in_axes=axis)
        fj = jax.vmap(lambda a: jlax.bitcast_convert_type(a, dt), in_axes=axis)
        assert_close(fe(f), fj(f))
    u = np.arange(12, dtype=np.uint8).reshape(3, 4)
    fe = engine.vmap(lambda a: elax.bitcast_convert_type(a, np.int16), in_axes=0)
    fj = jax.vmap(lambda a: jlax.bitcast_convert_type(a, np.int16), in_axes=0)
    assert_close(fe(u[:, :2]), fj(u[:, :2]))
    # the batch axis last while the trailing axis is consumed: JAX's rule fails there,
    # NumPy's view is the oracle
    got = engine.vmap(lambda a: elax.bitcast_convert_type(a, np.int16), in_axes=1)(u[:2].copy())
    want = np.ascontiguousarray(u[:2].T).view(np.int16)[:, 0]
    np.testing.assert_array_equal(np.asarray(got), want)
    x = f[0]
    (pe, te), (pj, tj) = (
        engine.jvp(lambda a: elax.bitcast_convert_type(a, np.int32), (x,), (x,)),
        jax.jvp(lambda a: jlax.bitcast_convert_type(a, np.int32), (x,), (x,)),
    )
    assert_close(pe, pj)
    assert np.asarray(te).dtype == np.asarray(tj).dtype
    # float -> float of the same width: still a zero derivative
    h = f.astype(np.float16)
    ge = engine.grad(lambda a: esum(ecvt(elax.bitcast_convert_type(a, BF16), np.float32)))
    gj = jax.grad(lambda a: jnp.sum(jlax.bitcast_convert_type(a, BF16).astype(np.float32)))
    assert_close(ge(h), gj(h))


# ---------------------------------------------------------------------------- reduce_precision


def test_reduce_precision():
    x = np.array([1.0 + 2**-12, 3.14159, 1e6, 7e4, -2.5e-6, np.nan, np.inf, 65519.0], np.float32)
    rp = "reduce_precision"
    check_calls(
        *[
            (rp, (x,), {"exponent_bits": e, "mantissa_bits": m})
            for e, m in [(5, 10), (8, 7), (4, 3), (11, 52)]
        ],
        (rp, (x.astype(BF16),), {"exponent_bits": 5, "mantissa_bits": 2}),
        (rp, (3.14159,), {"exponent_bits": 5, "mantissa_bits": 2}),
    )  # stays weak
    raises_like_jax("reduce_precision", np.int32(1), 5, 2)
    raises_like_jax("reduce_precision", x, 0, 2, exc=ValueError)
    raises_like_jax("reduce_precision", x, 5, -1, exc=ValueError)
    jaxprs_equal(
        lambda a: elax.reduce_precision(a, 5, 10), lambda a: jlax.reduce_precision(a, 5, 10), x
    )
    fe = lambda a: esum(elax.mul(elax.reduce_precision(a, 5, 2), a))
    fj = lambda a: jnp.sum(jlax.reduce_precision(a, 5, 2) * a)
    y = x[:5] / 1e3
    assert_close(engine.grad(fe)(y), jax.grad(fj)(y))
    assert_close(engine.jvp(fe, (y,), (y,)), jax.jvp(fj, (y,), (y,)))
    xs = np.stack([y, y * 3])
    assert_close(
        engine.vmap(lambda a: elax.reduce_precision(a, 4, 3), in_axes=1)(xs),
        jax.vmap(lambda a: jlax.reduce_precision(a, 4, 3), in_axes=1)(xs),
    )
