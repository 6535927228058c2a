"""engine.scipy.optimize / integrate / interpolate against their jax.scipy counterparts."""

import numpy as np
import pytest

import engine
import engine.numpy as ejnp
import engine.scipy.integrate as eint
import engine.scipy.interpolate as eint_p
import engine.scipy.optimize as eopt
from tests.helpers import assert_close, real_jax

jax, jjnp = real_jax()
import jax.scipy.integrate as jint  # noqa: E402
import jax.scipy.interpolate as jint_p  # noqa: E402
import jax.scipy.optimize as jopt  # noqa: E402

from tests.helpers import x64_both as x64  # noqa: E402


def rosenbrock(np_):
    return lambda x: np_.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def quadratic(np_):
    m = np.diag(np.arange(1.0, 5.0))
    return lambda x, shift: np_.dot(x - shift, np_.dot(m.astype(x.dtype), x - shift)) / 2


def himmelblau(np_):
    return lambda x: (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def _check_results(res_e, res_j, tol):
    assert type(res_e).__name__ == "OptimizeResults"
    assert res_e._fields == res_j._fields
    for field in res_j._fields:
        a, b = getattr(res_e, field), getattr(res_j, field)
        if field in ("success", "status", "nfev", "njev", "nit"):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=field)
        else:
            assert_close(a, b, **tol)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "problem,x0,args,options",
    [
        ("rosenbrock", [0.0, 0.0, 0.0, 0.0], (), None),
        ("rosenbrock", [-1.2, 1.0], (), dict(maxiter=200)),
        ("rosenbrock", [-1.2, 1.0, 0.5], (), dict(maxiter=5)),
        ("quadratic", [1.0, -2.0, 3.0, 0.5], (np.array([0.5, 0.5, -1.0, 2.0]),), None),
        ("himmelblau", [0.5, 0.5], (), dict(gtol=1e-3)),
        ("himmelblau", [-3.0, -3.0], (), dict(norm=2, line_search_maxiter=5)),
    ],
)
def test_bfgs_matches_jax(problem, x0, args, options, x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        x0 = np.asarray(x0, dt)
        args = tuple(np.asarray(a, dt) for a in args)
        fe, fj = globals()[problem](ejnp), globals()[problem](jjnp)
        res_e = eopt.minimize(fe, x0, args, method="BFGS", options=options)
        res_j = jopt.minimize(fj, x0, args, method="BFGS", options=options)
        tol = dict(rtol=1e-9, atol=1e-10) if x64_on else dict(rtol=2e-4, atol=2e-5)
        _check_results(res_e, res_j, tol)


def test_bfgs_under_jit_and_vmap():
    f_e, f_j = rosenbrock(ejnp), rosenbrock(jjnp)
    x0s = np.array([[0.0, 0.0], [-1.2, 1.0], [2.0, 2.0]], np.float32)
    run_e = engine.jit(engine.vmap(lambda x: eopt.minimize(f_e, x, method="bfgs")))
    run_j = jax.jit(jax.vmap(lambda x: jopt.minimize(f_j, x, method="bfgs")))
    _check_results(run_e(x0s), run_j(x0s), dict(rtol=2e-4, atol=2e-5))


@pytest.mark.parametrize(
    "x0,options",
    [
        ([0.0, 0.0, 0.0, 0.0], None),
        ([-1.2, 1.0, 0.5], dict(maxcor=3)),
        ([0.0, 0.0, 0.0], dict(maxiter=4)),
        ([1.0, -2.0, 3.0, 0.5], dict(gtol=1e-3, maxls=5)),
    ],
)
def test_lbfgs_matches_jax(x0, options):
    x0 = np.asarray(x0, np.float32)
    method = "l-bfgs-experimental-do-not-rely-on-this"
    res_e = eopt.minimize(rosenbrock(ejnp), x0, method=method, options=options)
    res_j = jopt.minimize(rosenbrock(jjnp), x0, method=method, options=options)
    assert res_e.hess_inv is None and res_j.hess_inv is None
    _check_results(
        res_e._replace(hess_inv=0), res_j._replace(hess_inv=0), dict(rtol=2e-4, atol=2e-5)
    )


def test_minimize_errors():
    f = rosenbrock(ejnp)
    x0 = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="not recognized"):
        eopt.minimize(f, x0, method="Nelder-Mead")
    with pytest.raises(TypeError, match="must be a tuple"):
        eopt.minimize(f, x0, args=[1.0], method="BFGS")


def test_line_search_matches_jax():
    f_e, f_j = rosenbrock(ejnp), rosenbrock(jjnp)
    x = np.array([-1.2, 1.0, 0.3], np.float32)
    p = -np.asarray(jax.grad(f_j)(x))
    from jax._src.scipy.optimize.line_search import line_search as jax_line_search

    res_e, res_j = eopt.line_search(f_e, x, p), jax_line_search(f_j, x, p)
    for field in res_j._fields:
        assert_close(getattr(res_e, field), getattr(res_j, field), rtol=1e-5, check_dtype=False)


@pytest.mark.parametrize("x64_on", [False, True], ids=["f32", "f64"])
def test_trapezoid(x64_on):
    with x64(x64_on):
        dt = np.float64 if x64_on else np.float32
        y = np.sin(np.linspace(0, 3, 22)).reshape(2, 11).astype(dt)
        x = np.linspace(0, 3, 11).astype(dt)
        for kw in [dict(), dict(dx=0.3), dict(x=x), dict(axis=0), dict(x=y[0], axis=-1)]:
            assert_close(eint.trapezoid(y, **kw), jint.trapezoid(y, **kw), rtol=1e-6)
        g_e = engine.grad(lambda v: eint.trapezoid(v, x))(y[0])
        g_j = jax.grad(lambda v: jint.trapezoid(v, x))(y[0])
        assert_close(g_e, g_j, rtol=1e-6)


GRID = (np.linspace(0, 1, 5), np.array([0.0, 0.5, 2.0, 3.0]))
POINTS = np.array(
    [[0.1, 0.2], [0.9, 2.9], [-0.5, 1.0], [0.5, 5.0], [1.0, 3.0], [0.33, 0.5], [0.0, 0.0]],
    np.float32,
)


@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("fill_value", [np.nan, None, -1.0])
def test_regular_grid_interpolator(method, fill_value):
    values = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    ie = eint_p.RegularGridInterpolator(GRID, values, method=method, fill_value=fill_value)
    ij = jint_p.RegularGridInterpolator(GRID, values, method=method, fill_value=fill_value)
    assert_close(ie(POINTS), ij(POINTS), rtol=1e-6)
    assert_close(ie(POINTS[0]), ij(POINTS[0]), rtol=1e-6)
    xs = (POINTS[:, 0], POINTS[:, 1])
    assert_close(ie(xs), ij(xs), rtol=1e-6)
    other = "nearest" if method == "linear" else "linear"
    assert_close(ie(POINTS, method=other), ij(POINTS, method=other), rtol=1e-6)


def test_regular_grid_interpolator_trailing_dims_grad_jit():
    values = np.random.RandomState(1).randn(5, 4, 3).astype(np.float32)
    ie = eint_p.RegularGridInterpolator(GRID, values)
    ij = jint_p.RegularGridInterpolator(GRID, values)
    pts = POINTS.reshape(7, 1, 2)
    assert_close(ie(pts), ij(pts), rtol=1e-6)
    # the interpolator is a pytree: it passes through jit
    assert_close(engine.jit(lambda it, p: it(p))(ie, POINTS), ij(POINTS), rtol=1e-6)
    inside = POINTS[[0, 1, 5]]
    g_e = engine.grad(lambda v: eint_p.RegularGridInterpolator(GRID, v)(inside).sum())(values)
    g_j = jax.grad(lambda v: jint_p.RegularGridInterpolator(GRID, v)(inside).sum())(values)
    assert_close(g_e, g_j, rtol=1e-6)
    g_e = engine.grad(lambda p: ie(p).sum())(inside)
    g_j = jax.grad(lambda p: ij(p).sum())(inside)
    assert_close(g_e, g_j, rtol=1e-5)


def test_regular_grid_interpolator_errors():
    values = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match="is not defined"):
        eint_p.RegularGridInterpolator(GRID, values, method="cubic")
    with pytest.raises(NotImplementedError, match="bounds_error"):
        eint_p.RegularGridInterpolator(GRID, values, bounds_error=True)
    with pytest.raises(ValueError, match="point arrays"):
        eint_p.RegularGridInterpolator(GRID + (np.arange(2.0),), values)
    with pytest.raises(ValueError, match="dimension"):
        eint_p.RegularGridInterpolator(GRID, values)(np.zeros((3, 3), np.float32))


def test_package_layout():
    import engine.scipy as es

    assert {"special", "stats", "optimize", "integrate", "interpolate"} <= set(dir(es))
    assert engine.scipy.optimize.minimize is eopt.minimize
