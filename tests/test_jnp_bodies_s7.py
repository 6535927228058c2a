"""jax.numpy functions whose jaxprs follow JAX 0.10.2's bodies: the same ``jit``
boundaries and names, static parameters and equations (``cumulative_sum``,
``searchsorted``, ``histogram``, ``unique``, ...), with JAX's values, dtypes and weak
types, against real JAX."""

import numpy as np
import pytest
from helpers import assert_close, jaxpr_text, real_jax, weak_type_of

import engine
import engine.numpy as enp

jax, jnp = real_jax()

X = np.linspace(0.1, 0.9, 6, dtype=np.float32)
S = np.array([0.2, 0.5, 0.7], np.float32)
M = np.arange(6.0, dtype=np.float32).reshape(2, 3)
I8 = np.array([[1, -2, 3], [4, 5, -6]], np.int8)

# name -> (function of the numpy module, its array arguments)
CASES = {
    "cumulative_sum": (lambda n: lambda x: n.cumulative_sum(x), (X,)),
    "cumulative_sum_initial": (
        lambda n: lambda x: n.cumulative_sum(x, axis=1, include_initial=True),
        (I8,),
    ),
    "cumulative_sum_bool_dtype": (
        lambda n: lambda x: n.cumulative_sum(x, axis=0, dtype=bool),
        (M,),
    ),
    "cumulative_prod": (lambda n: lambda x: n.cumulative_prod(x, axis=1), (I8,)),
    "cumulative_prod_initial": (
        lambda n: lambda x: n.cumulative_prod(x, include_initial=True),
        (X,),
    ),
}

A = np.array([0.1, 0.2, 0.2, 0.5, 0.7, 0.9], np.float32)
Q = np.array([0.2, -0.0, 0.7, np.nan, 1.0, 0.15], np.float32)
AC = np.array([1 + 1j, 1 + 2j, 2 - 1j, 3 + 0j], np.complex64)
QC = np.array([[1 + 1.5j, 3 + 0j], [0j, 2 - 1j]], np.complex64)
for _m in ("scan", "scan_unrolled", "sort", "compare_all"):
    for _side in ("left", "right"):
        CASES[f"searchsorted_{_m}_{_side}"] = (
            lambda n, m=_m, side=_side: lambda a, v: n.searchsorted(a, v, side=side, method=m),
            (A, Q),
        )
    CASES[f"searchsorted_{_m}_complex_2d"] = (
        lambda n, m=_m: lambda a, v: n.searchsorted(a, v, method=m),
        (AC, QC),
    )
CASES.update(
    {
        "searchsorted_int_scalar": (
            lambda n: lambda a, v: n.searchsorted(a, v, side="right"),
            (np.array([1, 3, 3, 8], np.int32), np.int32(3)),
        ),
        "searchsorted_sorter": (
            lambda n: lambda a, v, s: n.searchsorted(a, v, sorter=s),
            (A[::-1].copy(), Q, np.arange(5, -1, -1, dtype=np.int32)),
        ),
        "searchsorted_promotes": (
            lambda n: lambda a, v: n.searchsorted(a, v),
            (np.array([1, 2, 4], np.int32), S),
        ),
        "digitize": (lambda n: lambda x, b: n.digitize(x, b), (Q, A)),
        "digitize_right_decreasing": (
            lambda n: lambda x, b: n.digitize(x, b, right=True),
            (Q, A[::-1].copy()),
        ),
        "digitize_method": (
            lambda n: lambda x, b: n.digitize(x, b, method="compare_all"),
            (Q, A),
        ),
        "histogram": (lambda n: lambda x: n.histogram(x, bins=4), (X,)),
        "histogram_weights_density": (
            lambda n: lambda x, w: n.histogram(x, bins=3, weights=w, density=True),
            (X, X[::-1].copy()),
        ),
        "histogram_edges_range": (
            lambda n: lambda x, e: n.histogram(x, bins=e, range=(0, 1)),
            (X, S),
        ),
        "histogram_int_range": (
            lambda n: lambda x: n.histogram(x, bins=5, range=(0, 4)),
            (np.array([0, 1, 1, 3, 4], np.int32),),
        ),
        "histogram_bin_edges": (lambda n: lambda x: n.histogram_bin_edges(x, bins=4), (X,)),
        "histogram_bin_edges_const": (
            lambda n: lambda x: n.histogram_bin_edges(x, bins=3),
            (np.ones(4, np.float32),),
        ),
        "histogram2d": (
            lambda n: lambda x, y: n.histogram2d(x, y, bins=3),
            (X, X[::-1].copy()),
        ),
        "histogram2d_pair_weights": (
            lambda n: lambda x, y, w: n.histogram2d(x, y, bins=(2, 3), weights=w, density=True),
            (X, X[::-1].copy(), X),
        ),
        "histogram2d_edges": (
            lambda n: lambda x, y, e: n.histogram2d(x, y, bins=e),
            (X, X[::-1].copy(), np.array([0.0, 0.3, 0.6, 1.0], np.float32)),
        ),
        "histogramdd": (lambda n: lambda s: n.histogramdd(s, bins=3), (M.T.copy(),)),
        "histogramdd_ranges": (
            lambda n: lambda s: n.histogramdd(s, bins=[2, 3], range=[(0, 6), None], density=True),
            (M.T.copy(),),
        ),
        "interp": (lambda n: lambda x, xp: n.interp(x, xp, xp * 2), (Q, A)),
        "interp_left_right_traced": (
            lambda n: lambda x, xp, lo: n.interp(x, xp, xp**2, left=lo, right=7.0),
            (Q, A, np.float32(-1)),
        ),
        "interp_extrapolate": (
            lambda n: lambda x, xp: n.interp(x, xp, -xp, left="extrapolate", right="extrapolate"),
            (np.array([-1.0, 0.3, 2.0], np.float32), A),
        ),
        "interp_period": (
            lambda n: lambda x, xp, fp: n.interp(x, xp, fp, period=1.0),
            (Q, A[::-1].copy(), X),
        ),
        "interp_int": (
            lambda n: lambda x, xp, fp: n.interp(x, xp, fp),
            (np.array([0, 2, 5], np.int32), np.array([1, 2, 3], np.int32), S),
        ),
    }
)
C3 = np.array([3 + 1j, 2, 4 - 3j], np.complex64)
for _mode in ("full", "same", "valid"):
    CASES[f"convolve_{_mode}"] = (
        lambda n, mode=_mode: lambda a, v: n.convolve(a, v, mode=mode),
        (X, S),
    )
    CASES[f"correlate_{_mode}_short_first"] = (
        lambda n, mode=_mode: lambda a, v: n.correlate(a, v, mode=mode),
        (S, X),
    )
    CASES[f"correlate_{_mode}_complex"] = (
        lambda n, mode=_mode: lambda a, v: n.correlate(a, v, mode=mode),
        (X, C3),
    )
CASES["convolve_int_preferred"] = (
    lambda n: lambda a, v: n.convolve(a, v, preferred_element_type=np.int32),
    (np.arange(5, dtype=np.int32), np.array([1, -1], np.int8)),
)
CASES["convolve_short_first_precision"] = (
    lambda n: lambda a, v: n.convolve(a, v, mode="same", precision="highest"),
    (S, X),
)

CASES.update(
    {
        "insert_scalar": (lambda n: lambda x: n.insert(x, 2, 5.0), (X,)),
        "insert_array_values": (lambda n: lambda x, v: n.insert(x, 1, v), (X, S)),
        "insert_indices": (
            lambda n: lambda x, v: n.insert(x, np.array([4, 0, -1], np.int32), v),
            (X, S),
        ),
        "insert_traced_index": (lambda n: lambda x, i: n.insert(x, i, 2.0), (X, np.int32(3))),
        "insert_axis1": (lambda n: lambda m, v: n.insert(m, 1, v, axis=1), (M, S[:2])),
        "insert_axis0_row": (lambda n: lambda m, v: n.insert(m, 2, v, axis=0), (M, S)),
        "insert_slice": (lambda n: lambda m: n.insert(m, slice(0, 3, 2), 9, axis=1), (M,)),
        "insert_int_into_int": (
            lambda n: lambda x: n.insert(x, np.array([1, 1]), np.array([7, 8])),
            (np.arange(4, dtype=np.int32),),
        ),
        "insert_flat": (lambda n: lambda m: n.insert(m, 3, -1.5), (M,)),
    }
)

U = np.array([3, 1, 3, 2, 1, 5], np.int32)
UF = np.array([[1.0, np.nan, 2.0], [np.nan, 1.0, -0.0], [0.0, 2.0, 2.0]], np.float32)
UR = np.array([[1, 2], [0, 1], [1, 2], [0, 0]], np.int32)
CASES.update(
    {
        "unique_size": (lambda n: lambda x: n.unique(x, size=6), (U,)),
        "unique_size_fill": (lambda n: lambda x: n.unique(x, size=5, fill_value=-1), (U,)),
        "unique_all_returns": (
            lambda n: (
                lambda x: n.unique(
                    x, return_index=True, return_inverse=True, return_counts=True, size=4
                )
            ),
            (UF,),
        ),
        "unique_equal_nan_false": (
            lambda n: lambda x: n.unique(x, equal_nan=False, size=9, return_counts=True),
            (UF,),
        ),
        "unique_axis0": (
            lambda n: lambda x: n.unique(x, axis=0, size=3, return_inverse=True),
            (UR,),
        ),
        "unique_axis1_fill": (
            lambda n: lambda x: n.unique(x, axis=1, size=3, fill_value=7, return_counts=True),
            (UR,),
        ),
        "unique_complex": (
            lambda n: lambda x: n.unique(x, size=3, return_index=True),
            (np.array([1 + 1j, 1 + 1j, 2j], np.complex64),),
        ),
        "unique_values": (lambda n: lambda x: n.unique_values(x, size=6), (UF,)),
        "unique_counts": (lambda n: lambda x: n.unique_counts(x, size=4, fill_value=0), (U,)),
        "unique_inverse": (lambda n: lambda x: n.unique_inverse(x, size=6), (UF,)),
        "unique_all": (lambda n: lambda x: n.unique_all(x, size=6), (U,)),
    }
)

CASES.update(
    {
        "spacing": (lambda n: n.spacing, (np.array([0, -0.0, 1, -3, np.inf, np.nan], np.float32),)),
        "spacing_float16": (lambda n: n.spacing, (X.astype(np.float16),)),
        "spacing_int": (lambda n: n.spacing, (U,)),
        "select": (
            lambda n: lambda x: n.select([x > 0.3, x > 0.6], [x, -x], 7.0),
            (X,),
        ),
        "select_scalar_choices_int": (
            lambda n: lambda x: n.select([x > 2, x < 0], [1, 2.5]),
            (U,),
        ),
        "select_broadcast_array_default": (
            lambda n: lambda c, x, d: n.select([c, x > 2], [x, np.int8(3)], d),
            (np.array([[True], [False]]), M, np.float32(-1)),
        ),
    }
)

CASES.update(
    {
        "polyadd_2d": (lambda n: n.polyadd, (M, M[::-1].copy())),
        "polysub_2d": (lambda n: n.polysub, (M, M[::-1].copy())),
        "polyadd_2d_longer_second": (lambda n: n.polyadd, (M[:1], M)),
        "polysub_2d_shorter_second": (lambda n: n.polysub, (M, M[1:])),
        "polyadd_1d": (lambda n: n.polyadd, (X, S)),
        "polysub_1d_int_float": (lambda n: n.polysub, (U[:2], X)),
    }
)

IDX = np.array([[0, 2], [1, -1]], np.int32)
CASES.update(
    {
        "take_along_axis_one_hot_axis1": (
            lambda n: lambda a, i: n.take_along_axis(a, i, axis=1, mode="one_hot"),
            (M, IDX),
        ),
        "take_along_axis_one_hot_axis0": (
            lambda n: lambda a, i: n.take_along_axis(a, i, axis=0, mode="one_hot"),
            (M.T.copy(), IDX.T.copy()),
        ),
        "take_along_axis_one_hot_1d_int": (
            lambda n: lambda a, i: n.take_along_axis(a, i, axis=None, mode="one_hot"),
            (U, np.array([5, 0, -2], np.int32)),
        ),
        "take_along_axis_one_hot_3d": (
            lambda n: lambda a, i: n.take_along_axis(a, i, axis=1, mode="one_hot"),
            (np.arange(24.0, dtype=np.float32).reshape(2, 3, 4), np.ones((2, 2, 4), np.int32)),
        ),
        "einsum_mixed_dtypes": (
            lambda n: lambda i, f: n.einsum("ij,jk->i", i, f),
            (np.arange(4, dtype=np.int32).reshape(2, 2), np.ones((2, 2), np.float32)),
        ),
        "einsum_mixed_preferred": (
            lambda n: lambda b, f: n.einsum("ij,jk->ik", b, f, preferred_element_type=np.float32),
            (np.array([[True, False]]), np.ones((2, 2), np.float32)),
        ),
    }
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_jaxpr_text_identical(name):
    mk, args = CASES[name]
    ours, theirs = jaxpr_text(mk(enp), mk(jnp), *args)
    assert ours == theirs


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_dtypes_weak_types(name):
    mk, args = CASES[name]
    ours, theirs = mk(enp)(*args), mk(jnp)(*args)
    assert_close(ours, theirs, rtol=2e-6, atol=1e-6)
    for o, t in zip(engine.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        assert weak_type_of(o) == weak_type_of(t)


@pytest.mark.parametrize(
    "call",
    [
        lambda n: n.cumulative_sum(np.float32(1.0)),
        lambda n: n.cumulative_prod(M),
        lambda n: n.searchsorted(A, Q, side="middle"),
        lambda n: n.searchsorted(A, Q, method="bisect"),
        lambda n: n.searchsorted(M, Q),
        lambda n: n.digitize(Q, M),
        lambda n: n.histogram(X, bins=3, weights=S),
        lambda n: n.histogramdd(M.T, bins=[2, 3, 4]),
        lambda n: n.histogramdd(M.T, range=[(0, 1)]),
        lambda n: n.interp(Q, A, S),
        lambda n: n.interp(Q, A, A, left="constant"),
        lambda n: n.interp(Q.astype(np.complex64), A, A),
        lambda n: n.interp(Q, A, A, period=S),
        lambda n: n.convolve(M, S),
        lambda n: n.correlate(X, S, mode="middle"),
        lambda n: n.convolve(X, np.zeros(0, np.float32)),
        lambda n: n.insert(X, np.ones((2, 2), np.int32), 1.0),
        lambda n: n.insert(X, np.array([0.5]), 1.0),
        lambda n: n.insert(X, [1, 1], 1.0),
        lambda n: n.unique(np.zeros(0, np.float32), size=2),
        lambda n: n.spacing(np.array([1j], np.complex64)),
        lambda n: n.select([X > 0], [X, X]),
        lambda n: n.select([], []),
        lambda n: n.polyadd(np.float32(1), X),
        lambda n: n.polysub(X, [1.0]),
        lambda n: n.polyadd(M, X),
    ],
)
def test_bad_input_errors_as_jax(call):
    with pytest.raises(Exception) as theirs:
        call(jnp)
    with pytest.raises(type(theirs.value)) as ours:
        call(enp)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda n: n.unique(UF, return_index=True, return_inverse=True, return_counts=True),
        lambda n: n.unique(UR, axis=0, return_counts=True),
        lambda n: n.unique_all(UF),
        lambda n: n.unique_counts(U),
        lambda n: n.unique(np.zeros((0, 2), np.float32), axis=1, return_counts=True),
        lambda n: n.unique(np.zeros(0, np.int32), size=2, fill_value=3, return_counts=True),
    ],
)
def test_unique_eager_values_as_jax(call):
    assert_close(call(enp), call(jnp))


def test_unique_of_a_tracer_needs_size_as_jax():
    with pytest.raises(Exception) as theirs:
        jax.jit(jnp.unique)(U)
    with pytest.raises(Exception) as ours:
        engine.jit(enp.unique)(U)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    phrase = "The error arose for the first argument of jnp.unique(). To make jnp.unique()"
    assert phrase in str(ours.value) and phrase in str(theirs.value)


def test_grad_of_select_transposes_select_n_as_jax():
    """select's integer-predicate select_n transposes to one eq mask per case, as JAX's."""

    def f(n, g):
        return g(lambda x: n.select([x > 0.3, x > 0.5], [x**2, x], 1.0).sum())

    ours, theirs = jaxpr_text(f(enp, engine.grad), f(jnp, jax.grad), X)
    assert ours == theirs
    assert_close(f(enp, engine.grad)(X), f(jnp, jax.grad)(X))


def test_grad_of_cumulative_sum_with_initial_splits_as_jax():
    """concatenate transposes to one split of the cotangent, as JAX's rule."""

    def f(n, g):
        return g(lambda x: (n.cumulative_sum(x, include_initial=True) ** 2).sum())

    ours, theirs = jaxpr_text(f(enp, engine.grad), f(jnp, jax.grad), X)
    assert "split[axis=0 sizes=(1, 6)]" in theirs
    assert ours == theirs
    assert_close(f(enp, engine.grad)(X), f(jnp, jax.grad)(X))
