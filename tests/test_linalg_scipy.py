"""engine.scipy.linalg against jax.scipy.linalg and SciPy: values, gradients, batching."""

import numpy as np
import pytest
import scipy.linalg as sl

import engine
import engine.numpy as enp
import engine.scipy.linalg as el
from tests.helpers import assert_close, real_jax
from tests.test_linalg import rand, spd, well_conditioned, x64_mode

jax, jnp = real_jax()
import jax.scipy.linalg as jl  # noqa: E402

TOL = dict(rtol=2e-4, atol=2e-4)


def both(name, *args, tol=TOL, **kw):
    got = getattr(el, name)(*args, **kw)
    want = getattr(jl, name)(*args, **kw)
    assert_close(got, want, **tol)
    return got


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_factorizations(dtype):
    a, s = well_conditioned((4, 4), dtype), spd(4, dtype)
    both("cholesky", s)
    both("cholesky", s, lower=True)
    both("cho_factor", s)
    both("lu", a)
    both("lu", rand((5, 3), dtype))
    both("lu", a, permute_l=True)
    both("lu_factor", a)
    both("qr", a)
    both("qr", rand((5, 3), dtype), mode="economic")
    both("qr", rand((5, 3), dtype), mode="r")
    both("qr", rand((5, 3), dtype), pivoting=True)
    both("svd", a, compute_uv=False)
    both("eigh", s, eigvals_only=True)
    both("schur", a)
    both("hessenberg", a)
    both("hessenberg", a, calc_q=True)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_solves(dtype):
    a, s = well_conditioned((4, 4), dtype), spd(4, dtype)
    b = rand((4, 2), dtype, seed=1)
    for lower in (True, False):
        x = el.cho_solve(el.cho_factor(s, lower=lower), b)
        assert_close(x, jl.cho_solve(jl.cho_factor(s, lower=lower), b), **TOL)
        for trans in (0, 1, 2):
            both("solve_triangular", a, b, lower=lower, trans=trans)
    for trans in (0, 1, 2):
        x = el.lu_solve(el.lu_factor(a), b, trans=trans)
        assert_close(x, jl.lu_solve(jl.lu_factor(a), b, trans=trans), **TOL)
    x = el.lu_solve(el.lu_factor(a), b[:, 0])
    assert_close(x, jl.lu_solve(jl.lu_factor(a), b[:, 0]), **TOL)
    both("solve", a, b)
    both("solve", s, b, assume_a="pos")
    both("solve", s, b[:, 0], assume_a="pos")
    both("inv", a)
    both("det", a)


def test_batched_solves():
    a, s = well_conditioned((3, 4, 4)), spd(4, batch=(3,))
    b = rand((3, 4, 2), seed=1)
    both("solve_triangular", a, b, lower=True)
    both("solve_triangular", a[0], b)
    x = el.cho_solve(el.cho_factor(s), b)
    assert_close(x, jl.cho_solve(jl.cho_factor(s), b), **TOL)
    x = el.lu_solve(el.lu_factor(a), b)
    assert_close(x, jl.lu_solve(jl.lu_factor(a), b), **TOL)


@pytest.mark.parametrize("scale", [0.1, 1.0, 5.0, 40.0])
def test_expm(scale):
    a = rand((4, 4)) * scale / 4
    got = both("expm", a, tol=dict(rtol=1e-3, atol=1e-3))
    np.testing.assert_allclose(np.asarray(got), sl.expm(a.astype(np.float64)), rtol=2e-3, atol=1e-3)
    both("expm", np.triu(a), upper_triangular=True, tol=dict(rtol=1e-3, atol=1e-3))


def test_expm_float64_and_batched():
    with x64_mode():
        a = rand((4, 4), np.float64)
        got = both("expm", a, tol=dict(rtol=1e-10, atol=1e-10))
        np.testing.assert_allclose(np.asarray(got), sl.expm(a), rtol=1e-10)
    both("expm", rand((2, 3, 3)) * 0.5)


def test_expm_grad():
    a = rand((3, 3)) * 0.5

    def f(mod):
        return lambda x: mod.sum(mod.sin((el if mod is enp else jl).expm(x)))

    assert_close(engine.grad(f(enp))(a), jax.grad(f(jnp))(a), rtol=1e-3, atol=1e-3)


def test_block_diag():
    both("block_diag", rand((2, 2)), rand((1, 3)), np.float32(2.0), rand((3,)))
    both("block_diag")


def test_gradients():
    a, s, b = well_conditioned((4, 4)), spd(4), rand((4, 2), seed=1)

    def run(mod, lib):
        def f(a, s, b):
            x = lib.solve_triangular(a, b, lower=True)
            y = lib.cho_solve(lib.cho_factor(s), b)
            z = lib.lu_solve(lib.lu_factor(a), b)
            return mod.sum(x**2) + mod.sum(mod.sin(y)) + mod.sum(z) + lib.det(a)

        return engine.grad if mod is enp else jax.grad, f

    g_e, f_e = run(enp, el)
    g_j, f_j = run(jnp, jl)
    assert_close(
        g_e(f_e, argnums=(0, 1, 2))(a, s, b),
        g_j(f_j, argnums=(0, 1, 2))(a, s, b),
        rtol=1e-3,
        atol=1e-3,
    )


def test_scipy_namespace_lazy():
    import engine.scipy

    assert engine.scipy.linalg is el
    with pytest.raises(ValueError, match="assume_a"):
        el.solve(np.eye(2), np.ones(2), assume_a="banded")


def test_matrix_constructors():
    both("toeplitz", rand((3,)), rand((4,), seed=1))
    both("toeplitz", rand((2, 3)))
    both("toeplitz", rand((3,), np.complex64))
    both("hankel", rand((3,)), rand((4,), seed=1))
    both("hankel", rand((3,)))
    both("circulant", rand((2, 4)))
    both("hilbert", 3)


def test_expm_frechet():
    both("expm_frechet", rand((3, 3)) * 0.3, rand((3, 3), seed=2), tol=dict(rtol=1e-3, atol=1e-3))


@pytest.mark.parametrize("mode", ["left", "right"])
@pytest.mark.parametrize("conjugate", [False, True])
@pytest.mark.parametrize("pivoting", [False, True])
def test_qr_multiply(mode, conjugate, pivoting):
    a = rand((5, 3))
    c = rand((3, 2)) if mode == "left" else rand((2, 5))
    both("qr_multiply", a, c, mode=mode, conjugate=conjugate, pivoting=pivoting)


def test_polar_and_sqrtm():
    both("polar", rand((4, 3)), tol=dict(rtol=1e-3, atol=1e-3))
    both("polar", rand((3, 4)), side="left", tol=dict(rtol=1e-3, atol=1e-3))
    both("polar", rand((3, 4)), method="svd", tol=dict(rtol=1e-3, atol=1e-3))
    s = spd(4)
    got = both("sqrtm", s, tol=dict(rtol=1e-3, atol=1e-3))
    np.testing.assert_allclose(np.asarray(got @ got).real, s, rtol=1e-3, atol=1e-3)
    both("sqrtm", rand((3, 3)), tol=dict(rtol=1e-3, atol=1e-3))


@pytest.mark.parametrize("method", ["schur", "eigen"])
def test_solve_sylvester(method):
    A = rand((3, 3)) + 3 * np.eye(3, dtype=np.float32)
    B = rand((2, 2), seed=1) + 3 * np.eye(2, dtype=np.float32)
    C = rand((3, 2), seed=2)
    got = both("solve_sylvester", A, B, C, method=method, tol=dict(rtol=1e-3, atol=1e-3))
    np.testing.assert_allclose(np.asarray(got), sl.solve_sylvester(A, B, C), rtol=1e-3, atol=1e-3)


def test_compiled_like_jax():
    a = well_conditioned((3, 3))
    text = str(engine.make_jaxpr(el.solve_triangular)(a, a))
    assert "jit[" in text and "name=solve_triangular" in text
    text = str(engine.make_jaxpr(lambda a: el.cho_solve((a, True), a))(a))
    assert "name=_cho_solve" in text


def test_solve_pos_gradient_through_custom_linear_solve():
    s, b = spd(4), rand((4, 2), seed=1)

    def f(mod, lib):
        return lambda s, b: mod.sum(mod.sin(lib.solve(s, b, assume_a="pos")))

    got = engine.grad(f(enp, el), argnums=(0, 1))(s, b)
    want = jax.grad(f(jnp, jl), argnums=(0, 1))(s, b)
    assert_close(got, want, rtol=1e-3, atol=1e-3)
    assert "custom_linear_solve" in str(engine.make_jaxpr(f(enp, el))(s, b))
