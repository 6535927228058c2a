"""lax.linalg primitives against real JAX, NumPy and finite differences: values,
first and second derivatives, vmap, float32/float64/complex, jaxprs and bad input."""

import contextlib

import numpy as np
import pytest

import engine
from engine import lax as elax
from engine.config import config as engine_config
from tests.helpers import assert_close, jaxpr_text, real_jax

jax, jnp = real_jax()
jlax = jax.lax

F32 = dict(rtol=2e-4, atol=2e-4)
F64 = dict(rtol=1e-9, atol=1e-9)


@contextlib.contextmanager
def x64_mode(enabled=True):
    old_jax, old_engine = jax.config.jax_enable_x64, engine_config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    engine_config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old_jax)
        engine_config.update("jax_enable_x64", old_engine)


def rand(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def spd(n, dtype=np.float32, batch=(), seed=0):
    a = rand(batch + (n, n), dtype, seed)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + n * np.eye(n)).astype(dtype)


def well_conditioned(shape, dtype=np.float32, seed=0):
    n = shape[-1]
    return (rand(shape, dtype, seed) + 3 * np.eye(shape[-2], n)).astype(dtype)


def both(fn, *args, tol=F32):
    """fn(lax.linalg-like module, numpy-like module) through the engine and JAX."""
    got = fn(elax.linalg, engine.numpy)(*args)
    want = fn(jlax.linalg, jnp)(*args)
    assert_close(got, want, **tol)
    return got


# ---------------------------------------------------------------------------- values

DTYPES = [np.float32, np.complex64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (3,)])
def test_cholesky_values(dtype, batch):
    a = spd(4, dtype, batch)
    both(lambda L, _: L.cholesky, a)
    np.testing.assert_allclose(
        np.asarray(elax.linalg.cholesky(a)), np.linalg.cholesky(a), rtol=1e-4, atol=1e-4
    )


def test_cholesky_not_positive_definite_gives_nans():
    x = -np.eye(3, dtype=np.float32)
    out = np.asarray(elax.linalg.cholesky(x))
    assert np.isnan(out[np.tril_indices(3)]).all()
    both(lambda L, _: L.cholesky, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "left_side,lower,transpose_a,conjugate_a,unit_diagonal",
    [
        (True, True, False, False, False),
        (True, False, True, False, True),
        (False, True, True, True, False),
        (False, False, False, True, False),
    ],
)
def test_triangular_solve_values(dtype, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    a = well_conditioned((4, 4), dtype)
    b = rand((4, 3) if left_side else (3, 4), dtype, seed=1)
    kw = dict(
        left_side=left_side,
        lower=lower,
        transpose_a=transpose_a,
        conjugate_a=conjugate_a,
        unit_diagonal=unit_diagonal,
    )
    both(lambda L, _: lambda a, b: L.triangular_solve(a, b, **kw), a, b)


def test_triangular_solve_vector_rhs():
    a = well_conditioned((4, 4))
    both(lambda L, _: lambda a, b: L.triangular_solve(a, b, left_side=True), a, rand((4,)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 4)])
def test_lu_values(dtype, shape):
    a = rand(shape, dtype)
    both(lambda L, _: L.lu, a)


def test_lu_pivots_to_permutation():
    piv = np.array([[2, 2, 3, 3], [1, 1, 2, 3]], np.int32)
    both(lambda L, _: lambda p: L.lu_pivots_to_permutation(p, 5), piv)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_qr_values(dtype, shape, full_matrices):
    a = rand(shape, dtype)
    both(lambda L, _: lambda a: L.qr(a, full_matrices=full_matrices), a)


def test_qr_pivoting():
    a = rand((5, 4))
    both(lambda L, _: lambda a: L.qr(a, pivoting=True, full_matrices=False), a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (2,)])
def test_eigh_values(dtype, batch):
    a = spd(4, dtype, batch)
    v, w = elax.linalg.eigh(a)
    np.testing.assert_allclose(np.asarray(w), np.linalg.eigvalsh(a), rtol=1e-4, atol=1e-4)
    v = np.asarray(v)
    recon = v @ (np.asarray(w)[..., :, None] * np.conj(np.swapaxes(v, -1, -2)))
    np.testing.assert_allclose(recon, a, rtol=1e-4, atol=1e-3)
    both(lambda L, _: lambda a: L.eigh(a)[1], a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd_values(dtype, shape, full_matrices):
    a = rand(shape, dtype)
    u, s, vh = elax.linalg.svd(a, full_matrices=full_matrices)
    np.testing.assert_allclose(
        np.asarray(s), np.linalg.svd(a, compute_uv=False), rtol=1e-4, atol=1e-4
    )
    k = min(shape[-2:])
    u, vh = np.asarray(u)[..., :, :k], np.asarray(vh)[..., :k, :]
    np.testing.assert_allclose((u * np.asarray(s)[..., None, :]) @ vh, a, rtol=1e-4, atol=1e-4)
    both(lambda L, _: lambda a: L.svd(a, compute_uv=False), a)


def test_eig_values():
    a = rand((4, 4))
    w, vl, vr = elax.linalg.eig(a)
    w = np.asarray(w)
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(np.linalg.eigvals(a)), atol=1e-4)
    vr = np.asarray(vr)
    np.testing.assert_allclose(a @ vr, vr * w[None, :], atol=1e-4)
    both(lambda L, _: lambda a: L.eig(a), a)


def test_schur_values():
    a = rand((4, 4))
    t, z = map(np.asarray, elax.linalg.schur(a))
    np.testing.assert_allclose(z @ t @ z.T, a, atol=1e-4)
    both(lambda L, _: L.schur, a)


def test_hessenberg_values():
    both(lambda L, _: L.hessenberg, rand((4, 4)))


def test_tridiagonal_solve_values():
    dl, d, du = rand((5,), seed=1), rand((5,), seed=2) + 4, rand((5,), seed=3)
    dl[0] = du[-1] = 0
    b = rand((5, 2), seed=4)
    both(lambda L, _: L.tridiagonal_solve, dl, d, du, b)


def test_float64():
    with x64_mode():
        a = spd(4, np.float64)
        got = both(lambda L, _: L.cholesky, a, tol=F64)
        assert np.asarray(got).dtype == np.float64
        both(lambda L, _: lambda a: L.svd(a, compute_uv=False), rand((4, 3), np.float64), tol=F64)
        both(lambda L, _: L.lu, rand((4, 4), np.complex128), tol=F64)
        both(lambda L, _: lambda a: L.eigh(a)[1], spd(3, np.complex128), tol=F64)


# ---------------------------------------------------------------------------- derivatives


def grads_both(fn, *args, tol=F32, argnums=0, order=1):
    """grad (and grad of grad for order 2) of a scalar function, engine vs JAX."""

    def make(L, np_, api):
        f = fn(L, np_)

        def g(*xs):
            return api.grad(lambda *ys: np_.real(f(*ys)), argnums=argnums)(*xs)

        def sq(*ys):
            out = g(*ys)
            out = out if isinstance(out, tuple) else (out,)
            return sum(np_.sum(np_.real(o * np_.conj(o))) for o in out)

        if order == 2:
            return lambda *xs: api.grad(sq, argnums=argnums)(*xs)
        return g

    got = make(elax.linalg, engine.numpy, engine)(*args)
    want = make(jlax.linalg, jnp, jax)(*args)
    assert_close(got, want, **tol)


def jvp_both(fn, primal, tangent, tol=F32):
    got = engine.jvp(fn(elax.linalg, engine.numpy), (primal,), (tangent,))
    want = jax.jvp(fn(jlax.linalg, jnp), (primal,), (tangent,))
    assert_close(got, want, **tol)


def test_cholesky_grad():
    a = spd(4)
    f = lambda L, np_: lambda a: np_.sum(np_.sin(L.cholesky(a)))  # noqa: E731
    grads_both(f, a)
    grads_both(f, a, order=2, tol=dict(rtol=2e-3, atol=2e-3))
    jvp_both(lambda L, _: L.cholesky, a, rand((4, 4), seed=3))


def test_triangular_solve_grads():
    a, b = well_conditioned((4, 4)), rand((4, 2), seed=1)
    for kw in (
        dict(left_side=True, lower=True),
        dict(left_side=False, lower=False, transpose_a=True),
    ):
        bb = b if kw["left_side"] else b.T

        def f(L, np_, kw=kw):
            return lambda a, b: np_.sum(np_.cos(L.triangular_solve(a, b, **kw)))

        grads_both(f, a, bb, argnums=(0, 1))
        grads_both(f, a, bb, argnums=(0, 1), order=2, tol=dict(rtol=2e-3, atol=2e-3))


@pytest.mark.parametrize("shape", [(4, 4), (4, 3), (3, 4)])
def test_lu_jvp(shape):
    a = well_conditioned(shape)
    jvp_both(lambda L, _: lambda a: L.lu(a)[0], a, rand(shape, seed=2))
    grads_both(lambda L, np_: lambda a: np_.sum(L.lu(a)[0] ** 2), a)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_qr_grads(shape, full_matrices):
    a = well_conditioned(shape)

    def f(L, np_):
        return lambda a: (
            np_.sum(np_.sin(L.qr(a, full_matrices=full_matrices)[0]))
            + np_.sum(L.qr(a, full_matrices=full_matrices)[1] ** 2)
        )

    jvp_both(lambda L, _: lambda a: L.qr(a, full_matrices=full_matrices), a, rand(shape, seed=2))
    grads_both(f, a, tol=dict(rtol=1e-3, atol=1e-3))


def test_eigh_grads():
    a = spd(4)
    f = lambda L, np_: lambda a: np_.sum(L.eigh(a)[1] ** 2) + np_.sum(L.eigh(a)[0][:, 0] ** 2)  # noqa: E731
    grads_both(f, a, tol=dict(rtol=1e-3, atol=1e-3))
    grads_both(
        lambda L, np_: lambda a: np_.sum(L.eigh(a)[1] ** 3),
        a,
        order=2,
        tol=dict(rtol=1e-2, atol=1e-2),
    )


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_svd_grads(shape):
    a = well_conditioned(shape)
    grads_both(lambda L, np_: lambda a: np_.sum(L.svd(a, compute_uv=False) ** 2), a)
    jvp_both(
        lambda L, _: lambda a: L.svd(a, full_matrices=False),
        a,
        rand(shape, seed=2),
        tol=dict(rtol=1e-3, atol=1e-3),
    )


def test_eig_eigenvalue_grad():
    a = rand((4, 4), seed=5)
    grads_both(
        lambda L, np_: (
            lambda a: np_.sum(
                np_.abs(
                    L.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)[0]
                )
                ** 2
            )
        ),
        a,
        tol=dict(rtol=1e-3, atol=1e-3),
    )


def test_tridiagonal_solve_grads():
    dl, d, du = rand((5,), seed=1), rand((5,), seed=2) + 4, rand((5,), seed=3)
    b = rand((5, 2), seed=4)
    grads_both(
        lambda L, np_: lambda *xs: np_.sum(np_.sin(L.tridiagonal_solve(*xs))),
        dl,
        d,
        du,
        b,
        argnums=(0, 1, 2, 3),
    )


def test_cholesky_grad_matches_finite_differences():
    with x64_mode():
        a = spd(3, np.float64)
        f = lambda a: engine.numpy.sum(engine.numpy.sin(elax.linalg.cholesky(a)))  # noqa: E731
        g = np.asarray(engine.grad(f)(a))
        d = rand((3, 3), np.float64, seed=9)
        d = d + d.T
        eps = 1e-6
        fd = (float(f(a + eps * d)) - float(f(a - eps * d))) / (2 * eps)
        np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-6)


# ---------------------------------------------------------------------------- vmap


@pytest.mark.parametrize(
    "name,fn,shapes",
    [
        ("cholesky", lambda L: L.cholesky, [(3, 4, 4)]),
        ("lu", lambda L: L.lu, [(3, 4, 4)]),
        ("qr", lambda L: L.qr, [(3, 4, 3)]),
        ("eigh", lambda L: lambda a: L.eigh(a)[1], [(3, 4, 4)]),
        ("svd", lambda L: lambda a: L.svd(a, compute_uv=False), [(3, 4, 3)]),
        (
            "triangular_solve",
            lambda L: lambda a, b: L.triangular_solve(a, b, left_side=True, lower=True),
            [(3, 4, 4), (3, 4, 2)],
        ),
    ],
)
def test_vmap(name, fn, shapes):
    args = [
        spd(s[-1], batch=s[:-2]) if i == 0 and s[-1] == s[-2] else rand(s, seed=i)
        for i, s in enumerate(shapes)
    ]
    got = engine.vmap(fn(elax.linalg))(*args)
    want = jax.vmap(fn(jlax.linalg))(*args)
    assert_close(got, want, **F32)


def test_triangular_solve_vmap_over_b_only():
    a = well_conditioned((4, 4))
    for left, shape, axis in (
        (True, (3, 4, 2), 0),
        (True, (4, 3, 2), 1),
        (False, (2, 3, 4), 1),
        (False, (2, 4, 3), 2),
    ):
        bb = rand(shape)
        f = lambda L, left=left: lambda b: L.triangular_solve(a, b, left_side=left)  # noqa: E731
        got = engine.vmap(f(elax.linalg), in_axes=axis)(bb)
        assert_close(got, jax.vmap(f(jlax.linalg), in_axes=axis)(bb), **F32)


# ---------------------------------------------------------------------------- jaxprs, lowering, errors


def test_jaxpr_text_matches_jax():
    a = spd(3)
    got, want = jaxpr_text(elax.linalg.cholesky, jlax.linalg.cholesky, a)
    assert got == want
    f = lambda L: lambda a, b: L.triangular_solve(a, b, left_side=True, lower=True)  # noqa: E731
    got, want = jaxpr_text(f(elax.linalg), f(jlax.linalg), a, a)
    assert got == want
    for g in (lambda L: L.lu, lambda L: L.qr, lambda L: L.svd, lambda L: L.eigh):
        got, want = jaxpr_text(g(elax.linalg), g(jlax.linalg), a)
        assert got == want


def test_lowering_uses_lapack_custom_calls():
    a = spd(3)
    text = engine.jit(elax.linalg.cholesky).lower(a).as_text()
    assert "lapack_spotrf_ffi" in text
    assert "lapack_sgetrf_ffi" in engine.jit(elax.linalg.lu).lower(a).as_text()
    text = engine.jit(elax.linalg.qr).lower(a).as_text()
    assert "lapack_sgeqrf_ffi" in text and "lapack_sorgqr_ffi" in text
    assert "lapack_ssyevd_ffi" in engine.jit(elax.linalg.eigh).lower(a).as_text()
    assert "lapack_sgesdd_ffi" in engine.jit(elax.linalg.svd).lower(a).as_text()
    f = lambda a: elax.linalg.triangular_solve(a, a)  # noqa: E731
    assert "lapack_strsm_ffi" in engine.jit(f).lower(a).as_text()


def _error(fn, *args):
    with pytest.raises(Exception) as info:
        fn(*args)
    return info.value


@pytest.mark.parametrize(
    "fn",
    [
        lambda L: L.cholesky,
        lambda L: lambda a: L.cholesky(a, symmetrize_input=False),
        lambda L: L.eigh,
        lambda L: lambda a: L.eigh(a, symmetrize_input=False),
        lambda L: L.eig,
        lambda L: L.schur,
        lambda L: lambda a: L.triangular_solve(a, a),
    ],
)
def test_bad_shapes_raise_jax_error_class(fn):
    x = np.ones((2, 3), np.float32)
    got, want = _error(fn(elax.linalg), x), _error(fn(jlax.linalg), x)
    assert type(got) is type(want), (got, want)


def test_non_square_cholesky_message_names_problem():
    err = _error(
        lambda a: elax.linalg.cholesky(a, symmetrize_input=False), np.ones((2, 3), np.float32)
    )
    assert isinstance(err, ValueError)
    assert "square matrix" in str(err) and "(2, 3)" in str(err)


def test_integer_input_rejected():
    x = np.eye(3, dtype=np.int32)
    got, want = _error(elax.linalg.lu, x), _error(jlax.linalg.lu, x)
    assert type(got) is type(want)
    assert "lu does not accept dtype int32" in str(got)


@pytest.mark.gpu
def test_gpu_cholesky_and_solve():
    from engine import runtime

    try:
        gpus = runtime.devices("gpu")
    except RuntimeError:
        gpus = []
    if not gpus:
        pytest.skip("no GPU PJRT plugin installed/started")
    assert "cusolver_potrf_ffi" in runtime.linalg_targets("cuda")
    a = spd(64)
    b = rand((64, 3))
    x = engine.device_put(a, gpus[0])
    L = elax.linalg.cholesky(x)
    np.testing.assert_allclose(np.asarray(L), np.linalg.cholesky(a), rtol=1e-3, atol=1e-3)
    sol = engine.numpy.linalg.solve(x, engine.device_put(b, gpus[0]))
    np.testing.assert_allclose(np.asarray(sol), np.linalg.solve(a, b), rtol=1e-3, atol=1e-3)
    for f in (elax.linalg.lu, elax.linalg.qr, elax.linalg.eigh, elax.linalg.svd):
        f(x)


def test_eig_eigenvector_jvp_opt_in():
    a = rand((4, 4), seed=7)
    t = rand((4, 4), seed=8)

    def f(L):
        return lambda a: L.eig(a, compute_left_eigenvectors=False, enable_eigvec_derivs=True)

    got = engine.jvp(f(elax.linalg), (a,), (t,))
    want = jax.jvp(f(jlax.linalg), (a,), (t,))
    assert_close(got, want, rtol=2e-3, atol=2e-3)
    with pytest.raises(NotImplementedError):
        engine.jvp(elax.linalg.eig, (a,), (t,))


@pytest.mark.parametrize(
    "name,fn",
    [
        ("svd", lambda L, np_: lambda a: np_.sum(L.svd(a, full_matrices=False)[1] ** 3)),
        ("qr", lambda L, np_: lambda a: np_.sum(np_.sin(L.qr(a, full_matrices=False)[0]))),
        ("lu", lambda L, np_: lambda a: np_.sum(L.lu(a)[0] ** 3)),
        ("det", lambda L, np_: lambda a: np_.linalg.det(a[:3, :3])),
        ("slogdet", lambda L, np_: lambda a: np_.linalg.slogdet(a[:3, :3])[1]),
        ("inv", lambda L, np_: lambda a: np_.sum(np_.linalg.inv(a[:3, :3]) ** 2)),
    ],
)
def test_second_order(name, fn):
    a = well_conditioned((4, 3))
    got = engine.hessian(fn(elax.linalg, engine.numpy))(a)
    want = jax.hessian(fn(jlax.linalg, jnp))(a)
    assert_close(got, want, rtol=2e-3, atol=2e-3)


def test_tridiagonal_thomas_fallback_matches_lapack():
    # the lowering used where no gtsv kernel exists (GPU): Thomas algorithm by scans
    from engine.lax.linalg_general import _thomas_batched

    dl, d, du = rand((2, 5), seed=1), rand((2, 5), seed=2) + 4, rand((2, 5), seed=3)
    b = rand((2, 5, 3), seed=4)
    got = engine.jit(_thomas_batched)(dl, d, du, b)
    assert_close(got, elax.linalg.tridiagonal_solve(dl, d, du, b), **F32)


def test_names_match_jax_lax_linalg():
    want = {n for n in dir(jlax.linalg) if not n.startswith("_")}
    got = {n for n in dir(elax.linalg) if not n.startswith("_")}
    assert want <= got, want - got


@pytest.mark.parametrize(
    "left,transpose", [(True, False), (True, True), (False, False), (False, True)]
)
def test_ormqr(left, transpose):
    a = rand((5, 3))
    r, taus = elax.linalg.geqrf(a)
    c = rand((5, 2) if left else (2, 5), seed=1)
    f = lambda L: lambda a, t, c: L.ormqr(a, t, c, left=left, transpose=transpose)  # noqa: E731
    hj, tj = jnp.linalg.qr(a, mode="raw")
    rj = hj.T
    assert_close(f(elax.linalg)(r, taus, c), f(jlax.linalg)(rj, tj, c), **F32)


def test_tridiagonal_symmetric_product_cholesky_update():
    h = spd(4)
    both(lambda L, _: L.tridiagonal, h)
    both(lambda L, _: lambda h: L.tridiagonal(h, lower=False), h)
    a, c = rand((4, 3)), spd(4)
    both(lambda L, _: lambda a, c: L.symmetric_product(a, c, alpha=2.0, beta=0.5), a, c)
    both(lambda L, _: lambda a, c: L.symmetric_product(a, c, symmetrize_output=True), a, c)
    r = np.linalg.cholesky(spd(4)).T.astype(np.float32)
    both(lambda L, _: L.cholesky_update, r, rand((4,), seed=3))
    rb = np.stack([r, 2 * r])
    wb = rand((2, 4), seed=4)
    got = engine.vmap(elax.linalg.cholesky_update)(rb, wb)
    want = np.stack([np.asarray(jlax.linalg.cholesky_update(rb[i], wb[i])) for i in range(2)])
    assert_close(got, want, **F32)


_COMPLEX_GRADS = {
    "cholesky": (lambda L, m: lambda x: m.sum(m.abs(L.cholesky(x)) ** 2), "h"),
    "eigh": (
        lambda L, m: lambda x: m.sum(L.eigh(x)[1] ** 2) + m.sum(m.abs(L.eigh(x)[0][:, 0]) ** 2),
        "h",
    ),
    "svd": (lambda L, m: lambda x: m.sum(L.svd(x, compute_uv=False) ** 3), "a"),
    "qr": (lambda L, m: lambda x: m.sum(m.abs(L.qr(x)[1]) ** 2) + m.sum(m.real(L.qr(x)[0])), "a"),
    "lu": (lambda L, m: lambda x: m.sum(m.abs(L.lu(x)[0]) ** 2), "a"),
    "solve": (lambda L, m: lambda x: m.sum(m.abs(m.linalg.solve(x, x[:, :2])) ** 2), "a"),
    "det": (lambda L, m: lambda x: m.abs(m.linalg.det(x)), "a"),
    "triangular_solve": (
        lambda L, m: (
            lambda x: m.sum(
                m.abs(
                    L.triangular_solve(
                        x, x[:, :2], left_side=True, transpose_a=True, conjugate_a=True
                    )
                )
                ** 2
            )
        ),
        "a",
    ),
}


@pytest.mark.parametrize("name", sorted(_COMPLEX_GRADS))
def test_complex_grads(name):
    fn, kind = _COMPLEX_GRADS[name]
    x = spd(4, np.complex64) if kind == "h" else well_conditioned((4, 4), np.complex64)
    got = engine.grad(fn(elax.linalg, engine.numpy))(x)
    want = jax.grad(fn(jlax.linalg, jnp))(x)
    assert_close(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "shape,dtype", [((5, 3), np.float32), ((4, 4), np.float32), ((4, 3), np.complex64)]
)
def test_qdwh(shape, dtype):
    x = rand(shape, dtype)
    got = elax.linalg.qdwh(x)
    want = jlax.linalg.qdwh(x)
    assert_close(got, want, rtol=1e-4, atol=1e-4)
