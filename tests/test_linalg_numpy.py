"""jnp.linalg (all 31 of JAX's functions) against real JAX: values, gradients, vmap,
float64 and complex, NumPy 2 solve batching, and bad input."""

import numpy as np
import pytest

import engine
import engine.numpy as enp
from tests.helpers import assert_close, real_jax
from tests.test_linalg import rand, spd, well_conditioned, x64_mode

jax, jnp = real_jax()

TOL = dict(rtol=2e-4, atol=2e-4)


def both(fn, *args, tol=TOL, **kw):
    got = fn(enp)(*args, **kw)
    want = fn(jnp)(*args, **kw)
    assert_close(got, want, **tol)
    return got


def test_names_match_jax():
    import jax.numpy.linalg as jl

    want = {n for n in dir(jl) if not n.startswith("_")}
    got = {n for n in dir(enp.linalg) if not n.startswith("_")}
    assert want <= got, want - got


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_decompositions(dtype):
    a = rand((4, 4), dtype)
    h = spd(4, dtype)
    L = lambda m: m.linalg  # noqa: E731
    both(lambda m: L(m).cholesky, h)
    both(lambda m: lambda x: L(m).cholesky(x, upper=True), h)
    both(lambda m: L(m).eigvalsh, h)
    both(lambda m: lambda x: L(m).eigh(x)[0], h)
    both(lambda m: lambda x: L(m).eigh(x, UPLO="U", symmetrize_input=False)[0], h)
    both(lambda m: L(m).qr, a)
    both(lambda m: lambda x: L(m).qr(x, mode="r"), a)
    both(lambda m: lambda x: L(m).qr(x, mode="complete"), rand((5, 3), dtype))
    both(lambda m: lambda x: L(m).qr(x, mode="raw"), rand((5, 3), dtype))
    both(lambda m: L(m).svdvals, a)
    both(lambda m: lambda x: L(m).svd(x, compute_uv=False), rand((5, 3), dtype))
    both(lambda m: lambda x: np.abs(np.asarray(L(m).svd(x, hermitian=True)[1])), h)
    both(lambda m: L(m).eigvals, a)
    both(lambda m: L(m).eig, a)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_det_slogdet_inv(dtype, n):
    a = well_conditioned((2, n, n), dtype)
    both(lambda m: m.linalg.det, a)
    both(lambda m: m.linalg.slogdet, a)
    both(lambda m: m.linalg.inv, a)
    if dtype == np.float32:
        both(lambda m: lambda x: m.linalg.slogdet(x, method="qr"), a)


def test_det_singular_and_negative():
    both(lambda m: m.linalg.det, np.zeros((4, 4), np.float32))
    both(lambda m: m.linalg.slogdet, np.zeros((4, 4), np.float32))
    both(lambda m: m.linalg.slogdet, -np.eye(5, dtype=np.float32))


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [
        ((4, 4), (4,)),
        ((4, 4), (4, 2)),
        ((3, 4, 4), (4,)),
        ((3, 4, 4), (3, 4, 2)),
        ((3, 4, 4), (4, 2)),
        ((2, 1, 4, 4), (3, 4, 2)),
    ],
)
def test_solve_numpy2_batching(a_shape, b_shape):
    a = well_conditioned(a_shape)
    b = rand(b_shape, seed=1)
    both(lambda m: m.linalg.solve, a, b)


def test_solve_bad_shapes():
    sq = np.ones((3, 3), np.float32)
    for a, b in (
        (sq, np.ones((2,), np.float32)),
        (sq, np.ones((2, 2), np.float32)),
        (np.ones((3, 4, 4), np.float32), np.ones((3, 4), np.float32)),
    ):
        with pytest.raises(ValueError) as e1:
            enp.linalg.solve(a, b)
        with pytest.raises(ValueError):
            jnp.linalg.solve(a, b)
        assert "solve" in str(e1.value) or "core dimension" in str(e1.value)


def test_pinv_lstsq_rank_cond():
    a = rand((5, 3))
    both(lambda m: m.linalg.pinv, a)
    both(lambda m: m.linalg.pinv, rand((3, 5)))
    both(lambda m: lambda x: m.linalg.pinv(x, hermitian=True), spd(3))
    b = rand((5, 2), seed=3)
    both(lambda m: m.linalg.lstsq, a, b)
    both(lambda m: m.linalg.lstsq, a, b[:, 0])
    low_rank = (rand((5, 2)) @ rand((2, 4), seed=1)).astype(np.float32)
    both(lambda m: m.linalg.matrix_rank, low_rank)
    both(lambda m: m.linalg.matrix_rank, rand((2, 4, 4)))
    for p in (None, 2, -2, 1, np.inf, "fro"):
        both(lambda m, p=p: lambda x: m.linalg.cond(x, p), well_conditioned((4, 4)))


def test_norms():
    x = rand((3, 4))
    for ord_ in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
        both(lambda m, o=ord_: lambda v: m.linalg.norm(v, ord=o), x)
        both(lambda m, o=ord_: lambda v: m.linalg.norm(v, ord=o, axis=(0, 1), keepdims=True), x)
    both(lambda m: lambda v: m.linalg.matrix_norm(v, ord="nuc"), rand((2, 3, 4)))
    for ord_ in (None, 0, 1, 2, 3, np.inf, -np.inf):
        both(lambda m, o=ord_: lambda v: m.linalg.vector_norm(v, ord=o if o else 2), rand((5,)))


def test_products_and_helpers():
    a, b, c = rand((3, 4)), rand((4, 5), seed=1), rand((5,), seed=2)
    both(lambda m: lambda *xs: m.linalg.multi_dot(xs), a, b, c)
    both(lambda m: lambda *xs: m.linalg.multi_dot(xs), rand((4,)), b, rand((5, 2)))
    for p in (0, 1, 2, 3, 5, -2):
        both(lambda m, p=p: lambda x: m.linalg.matrix_power(x, p), well_conditioned((3, 3)))
    t = well_conditioned((6, 6)).reshape(2, 3, 6)
    both(lambda m: lambda x: m.linalg.tensorinv(x, ind=2), t)
    both(lambda m: m.linalg.tensorsolve, well_conditioned((6, 6)).reshape(6, 2, 3), rand((6,)))
    u, v = rand((2, 3)), rand((2, 3), seed=1)
    both(lambda m: m.linalg.cross, u, v)
    both(lambda m: m.linalg.outer, c, c)
    both(lambda m: m.linalg.matmul, a, b)
    both(lambda m: m.linalg.vecdot, u, v)
    both(lambda m: lambda x, y: m.linalg.tensordot(x, y, axes=1), a, b)
    both(lambda m: m.linalg.matrix_transpose, rand((2, 3, 4)))
    both(lambda m: m.linalg.trace, rand((2, 3, 3)))
    both(lambda m: lambda x: m.linalg.diagonal(x, offset=1), rand((2, 3, 3)))


def test_float64_and_complex128():
    with x64_mode():
        tol = dict(rtol=1e-9, atol=1e-9)
        a = well_conditioned((4, 4), np.float64)
        for f in ("det", "inv", "slogdet", "pinv", "svdvals", "eigvalsh"):
            arg = spd(4, np.float64) if f == "eigvalsh" else a
            got = both(lambda m, f=f: getattr(m.linalg, f), arg, tol=tol)
            leaves = engine.tree_util.tree_leaves(got)
            assert all(
                np.asarray(x).dtype.kind in "fc" and np.asarray(x).itemsize >= 8 for x in leaves
            )
        both(
            lambda m: m.linalg.solve,
            well_conditioned((3, 3), np.complex128),
            rand((3,), np.complex128),
            tol=tol,
        )
        both(lambda m: m.linalg.det, well_conditioned((4, 4), np.complex128), tol=tol)


def test_integer_input_promotes():
    x = (np.eye(3) * 2).astype(np.int32)
    for f in ("inv", "det", "cholesky", "eigvalsh", "svdvals"):
        got = both(lambda m, f=f: getattr(m.linalg, f), x)
        assert np.asarray(got).dtype == np.float32


# ---------------------------------------------------------------------------- gradients


def grad_both(fn, *args, argnums=0, tol=None):
    tol = tol or dict(rtol=1e-3, atol=1e-3)
    got = engine.grad(fn(enp), argnums=argnums)(*args)
    want = jax.grad(fn(jnp), argnums=argnums)(*args)
    assert_close(got, want, **tol)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_det_grad(n):
    a = well_conditioned((n, n))
    grad_both(lambda m: m.linalg.det, a)
    grad_both(lambda m: lambda x: m.linalg.slogdet(x)[1], a)


def test_solve_inv_grads():
    a, b = well_conditioned((4, 4)), rand((4, 2), seed=1)
    grad_both(lambda m: lambda a, b: m.sum(m.sin(m.linalg.solve(a, b))), a, b, argnums=(0, 1))
    grad_both(lambda m: lambda a: m.sum(m.linalg.inv(a) ** 2), a)
    # second order through solve
    f = lambda m: lambda a: m.sum(m.linalg.solve(a, b) ** 2)  # noqa: E731
    got = engine.hessian(f(enp))(a)
    want = jax.hessian(f(jnp))(a)
    assert_close(got, want, rtol=2e-3, atol=2e-3)


def test_pinv_grad():
    grad_both(lambda m: lambda a: m.sum(m.linalg.pinv(a) ** 2), rand((5, 3)))


def test_norm_grads():
    x = rand((3, 4))
    for o in ("fro", 2, "nuc"):
        grad_both(lambda m, o=o: lambda v: m.linalg.norm(v, ord=o), x)


def test_vmap_solve_and_det():
    a, b = well_conditioned((3, 4, 4)), rand((3, 4), seed=1)
    got = engine.vmap(enp.linalg.solve)(a, b)
    assert_close(got, jax.vmap(jnp.linalg.solve)(a, b), **TOL)
    assert_close(engine.vmap(enp.linalg.det)(a), jax.vmap(jnp.linalg.det)(a), **TOL)
    at = np.swapaxes(a, 0, 1)
    assert_close(
        engine.vmap(enp.linalg.inv, in_axes=1)(at), jax.vmap(jnp.linalg.inv, in_axes=1)(at), **TOL
    )


def test_jit_solve_lowers_to_lapack():
    a, b = well_conditioned((4, 4)), rand((4,), seed=1)
    text = engine.jit(enp.linalg.solve).lower(a, b).as_text()
    assert "lapack_sgetrf_ffi" in text and "lapack_strsm_ffi" in text
    assert_close(engine.jit(enp.linalg.solve)(a, b), jnp.linalg.solve(a, b), **TOL)


def test_bad_input_errors():
    x = np.ones((2, 3), np.float32)
    for f in ("inv", "det", "slogdet", "eigh", "cholesky", "eigvals"):
        with pytest.raises(Exception) as got:
            getattr(enp.linalg, f)(x)
        with pytest.raises(Exception) as want:
            getattr(jnp.linalg, f)(x)
        assert isinstance(got.value, type(want.value)) or isinstance(want.value, type(got.value)), (
            f,
            got.value,
            want.value,
        )
    with pytest.raises(ValueError, match=r"inv must have shape \[\.\.\., n, n\], got \(2, 3\)"):
        enp.linalg.inv(x)


def test_jitted_like_jax_and_jaxpr_text():
    from tests.helpers import jaxpr_text

    a = spd(3)
    got, want = jaxpr_text(enp.linalg.cholesky, jnp.linalg.cholesky, a)
    assert got == want
    got, want = jaxpr_text(enp.linalg.eigvalsh, jnp.linalg.eigvalsh, a)
    assert got.splitlines()[:2] == want.splitlines()[:2]  # both a jit[name=eigvalsh]
    assert "jit[" in str(engine.make_jaxpr(enp.linalg.solve)(a, a[0]))


def test_custom_jvps_at_singular_matrices():
    # JAX's custom JVPs (cofactor solve for det, the pseudo-inverse rule for pinv) keep
    # these gradients finite where differentiating the factorization would not
    singular = (rand((4, 2)) @ rand((2, 4), seed=1)).astype(np.float32)
    grad_both(lambda m: m.linalg.det, singular)
    grad_both(lambda m: lambda a: m.sum(m.linalg.pinv(a) ** 2), singular)
    assert np.isfinite(np.asarray(engine.grad(enp.linalg.det)(singular))).all()
    text = str(engine.make_jaxpr(enp.linalg.solve)(well_conditioned((3, 3)), rand((3,))))
    assert "custom_linear_solve" in text
    assert "custom_jvp_call" in str(engine.make_jaxpr(enp.linalg.det)(well_conditioned((4, 4))))
