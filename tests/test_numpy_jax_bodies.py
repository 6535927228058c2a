"""jnp functions whose bodies follow JAX 0.10.2's: beyond the one case each in
test_jnp_jit_wrappers, their other paths (weights, methods, axes, NaN slices, traced
offsets, batch dimensions) give JAX's values, dtypes and shapes, and the same jaxpr text
where JAX's program is reachable (errors by class and message)."""

import numpy as np
import pytest
from helpers import jaxpr_text, real_jax

import engine
import engine.numpy as enp

jax, jnp = real_jax()

RNG = np.random.RandomState(0)
A3 = RNG.randn(3, 4, 5).astype(np.float32)
A3_NAN = A3.copy()
A3_NAN[0, 1, :] = np.nan
A3_NAN[1, 2, 3] = np.nan
W3 = RNG.rand(3, 4, 5).astype(np.float32)
W5 = RNG.rand(5).astype(np.float32)
M = np.array([[0.0, 1.0, 2.0, 5.0], [2.0, 1.0, 0.0, -1.0], [1.0, 3.0, 2.0, 2.0]], np.float32)
SQ = np.arange(12, dtype=np.float32).reshape(3, 4)
V3 = np.array([1.0, -2.0, 3.0], np.float32)


def _same_values(ours, theirs, rtol=1e-5):
    ours = ours if isinstance(ours, (tuple, list)) else [ours]
    theirs = theirs if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert o.shape == t.shape and o.dtype == t.dtype
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=rtol, atol=1e-6)


def _check(name, args, kw, text=True):
    fe, fj = getattr(enp, name), getattr(jnp, name)
    _same_values(fe(*args, **kw), fj(*args, **kw))
    if text:
        ours, theirs = jaxpr_text(lambda *a: fe(*a, **kw), lambda *a: fj(*a, **kw), *args)
        assert ours == theirs


QUANTILE_CASES = [
    (name, method, axis, keepdims, q)
    for name in ("quantile", "nanquantile")
    for method in ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")
    for axis, keepdims in ((None, True), (1, False), ((0, 2), True))
    for q in (0.3, np.array([0.1, 0.5, 0.9], np.float32))
]


@pytest.mark.parametrize("name, method, axis, keepdims, q", QUANTILE_CASES)
def test_quantile_family(name, method, axis, keepdims, q):
    kw = dict(axis=axis, keepdims=keepdims, method=method)
    # inverted_cdf calls take_along_axis, a jit in JAX and not (yet) here: values only
    _check(name, (A3_NAN, q), kw, text=method != "inverted_cdf")
    _check(name, (A3, q), kw, text=False)


@pytest.mark.parametrize("name", ["percentile", "nanpercentile"])
@pytest.mark.parametrize("weights", [W3, None])
def test_percentiles_and_weights(name, weights):
    kw = dict(axis=-1, method="inverted_cdf", weights=weights)
    _check(name, (A3_NAN, np.array([10.0, 50.0], np.float32)), kw, text=False)
    _check(name, (A3, 30.0), dict(kw, weights=W5), text=False)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.quantile(A3, 0.5, method="bogus"),
        lambda m: m.quantile(A3, 0.5, weights=W3),
        lambda m: m.quantile(A3, np.ones((2, 2)) / 2),
        lambda m: m.quantile(A3, 0.5, out=A3),
        lambda m: m.median(A3.astype(np.complex64)),
        lambda m: m.quantile(A3, 0.5, axis=1, method="inverted_cdf", weights=W5),
    ],
)
def test_quantile_errors_as_jax(call):
    with pytest.raises(Exception) as theirs:
        call(jnp)
    with pytest.raises(type(theirs.value)) as ours:
        call(enp)
    assert str(ours.value).split(" on ")[0] == str(theirs.value).split(" on ")[0]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        dict(rowvar=False),
        dict(bias=True),
        dict(ddof=0),
        dict(fweights=np.array([1, 2, 1, 3], np.int32)),
        dict(aweights=np.array([0.5, 1.0, 2.0, 1.0], np.float32)),
        dict(fweights=np.array([1, 2, 1, 3], np.int32), aweights=np.array([0.5, 1, 2, 1.0])),
        dict(dtype=np.float32),
    ],
)
def test_cov_weights_and_options(kw):
    _check("cov", (M,), kw)


@pytest.mark.parametrize(
    "args",
    [(M,), (M, V3[:1].repeat(4)), (M[0],), (M[:, :0],), ((M + 1j * M).astype(np.complex64),)],
)
def test_cov_and_corrcoef_shapes(args):
    _check("cov", args, {}, text=False)
    _check("corrcoef", args, {}, text=False)


@pytest.mark.parametrize(
    "args, kw",
    [
        ((A3,), {}),
        ((A3,), dict(axis=(0, 2), returned=True)),
        ((A3,), dict(axis=1, weights=W3[0, :, 0])),
        ((A3,), dict(weights=W3, keepdims=True, returned=True)),
        ((A3.astype(np.int32),), dict(axis=-1, returned=True)),
    ],
)
def test_average(args, kw):
    _check("average", args, kw)


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
@pytest.mark.parametrize("kw", [{}, dict(axis=0), dict(axis=1, keepdims=True)])
def test_nanarg_all_nan_slices_give_minus_one(name, kw):
    z = np.array([[np.nan, 1.0, np.nan], [np.nan, -2.0, 5.0]], np.float32)
    _check(name, (z,), kw)


@pytest.mark.parametrize("name", ["nanmax", "nanmin"])
@pytest.mark.parametrize("kw", [dict(initial=0.5, axis=1), dict(axis=1), dict(initial=3.0)])
def test_nan_extremes_with_initial(name, kw):
    _check(name, (np.array([[np.nan, np.nan], [1.0, np.nan]], np.float32),), kw)


@pytest.mark.parametrize("name", ["sum", "prod"])
@pytest.mark.parametrize(
    "kw", [{}, dict(dtype=np.float32), dict(dtype=bool), dict(promote_integers=False)]
)
def test_boolean_sums_count_as_integers(name, kw):
    _check(name, (np.array([[True, False, True], [True, True, True]]),), kw)


@pytest.mark.parametrize(
    "args, kw",
    [
        ((SQ,), dict(offset=1)),
        ((A3,), dict(axis1=2, axis2=0, offset=-1)),
        ((SQ > 4,), {}),
    ],
)
def test_diagonal_gathers(args, kw):
    _check("diagonal", args, kw)


def test_trace_takes_a_traced_offset():
    ours, theirs = jaxpr_text(lambda a, k: enp.trace(a, k), lambda a, k: jnp.trace(a, k), SQ, 1)
    assert ours == theirs
    _same_values(engine.jit(lambda a, k: enp.trace(a, k))(SQ, 2), jnp.trace(SQ, 2))
    _check("trace", (A3,), dict(offset=1, axis1=1, axis2=2))


@pytest.mark.parametrize(
    "name, x, y",
    [
        ("matvec", A3[:, :3, :3], V3),
        ("matvec", SQ[:3, :3], A3[:2, :1, :3]),
        ("vecmat", A3[:, 1:2, :3], A3[:, :3, :3]),
        ("vecmat", (V3 - 2j).astype(np.complex64), (SQ[:3, :3] + 1j).astype(np.complex64)),
    ],
)
def test_matvec_vecmat_batch_dimensions_through_vectorize(name, x, y):
    _check(name, (x, y), {})


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.vectorize(m.matmul, signature="(n,m),(m)->(n)")(V3, V3),
        lambda m: m.vectorize(m.matmul, signature="(n,m),(m)->(n)")(SQ, V3),
        lambda m: m.vectorize(lambda a: (a, a), signature="()->()")(V3),
    ],
)
def test_vectorize_errors_as_jax(call):
    with pytest.raises(Exception) as theirs:
        call(jnp)
    with pytest.raises(type(theirs.value)) as ours:
        call(enp)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("method", ["auto", "compare_all", "binary_search", "sort"])
@pytest.mark.parametrize("kw", [{}, dict(invert=True), dict(assume_unique=True)])
def test_isin_methods(method, kw):
    a = np.array([[1, 5, 3], [2, 2, 9]], np.int32)
    test = np.array([2, 9, 4, 9], np.int32)
    _check("isin", (a, test), dict(kw, method=method), text=method in ("auto", "compare_all"))


@pytest.mark.parametrize(
    "name, args, kw",
    [
        ("sort_complex", (np.array([[5, 3, 4], [6, 9, 2]], np.int32),), {}),
        ("sort_complex", (np.array([3 - 1j, 2 + 4j, 2 + 3j], np.complex64),), {}),
        ("ediff1d", (SQ,), dict(to_begin=np.array([-1.5]), to_end=7)),
        ("lexsort", (np.array([[1, 0, 1, 0], [3, 3, 1, 1]], np.int32),), {}),
        ("polyval", (np.ones((3, 2), np.float32), V3[:2]), {}),
        ("polyval", (V3, SQ), dict(unroll=2)),
        ("trapezoid", (SQ, np.array([0.0, 1, 3, 7], np.float32)), {}),
        ("trapezoid", (SQ,), dict(axis=0, dx=0.5)),
        ("gradient", (SQ**2, np.array([0.0, 1, 3, 4], np.float32)), dict(axis=1)),
        ("gradient", (SQ**2, 2.0), {}),
        ("unwrap", (SQ * 3,), dict(axis=0, discont=4.0)),
        ("unwrap", (SQ.astype(np.int32) * 3,), dict(period=6)),
        ("cross", (SQ[:, :2], SQ[:, 1:4]), {}),
        ("cross", (A3[:, :3, 0], A3[:, :3, 1]), dict(axisa=0, axisb=0, axisc=0)),
        ("gcd", (np.int8(4), np.array([6, 9], np.int16)), {}),
        ("lcm", (np.array([12]), np.array([[3], [4]])), {}),
        ("diag", (V3,), dict(k=-2)),
        ("linspace", (np.array([0.0, 1.0], np.float32), 3.0), dict(num=4, axis=-1)),
        ("linspace", (0, 7), dict(num=4, retstep=True, dtype=np.int32)),
        ("geomspace", (np.array([1.0, 2.0], np.float32), 100.0), dict(num=3, axis=1)),
        ("logspace", (0.0, 2.0), dict(num=3, base=2)),
        ("i0", (np.array([-2.0, 0.0, 0.5], np.float32),), {}),
    ],
)
def test_other_paths(name, args, kw):
    _check(name, args, kw)


def test_i0_derivative_at_zero_is_zero():
    x = np.array([-2.0, 0.0, 0.5, 3.0], np.float32)
    _same_values(engine.vmap(engine.grad(enp.i0))(x), jax.vmap(jax.grad(jnp.i0))(x))
