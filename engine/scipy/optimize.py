"""``engine.scipy.optimize``: ``minimize`` with BFGS, as in JAX.

BFGS keeps a dense inverse-Hessian estimate and steps along -H g with a line search that
satisfies the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6: bracket,
then zoom with cubic, quadratic or bisection trial steps). Every decision and counter
follows JAX's implementation, so iterates, ``nfev``/``njev``/``nit`` and ``status`` agree
with ``jax.scipy.optimize.minimize``. Everything runs inside ``lax.while_loop``, so the
whole minimization can be jitted, vmapped or differentiated through."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import api, lax
from .. import numpy as jnp
from ..numpy._util import as_array, promote_dtypes_inexact

__all__ = ["minimize", "OptimizeResults"]

_HIGHEST = lax.Precision.HIGHEST


def _dot(a, b):
    return jnp.dot(a, b, precision=_HIGHEST)


class OptimizeResults(NamedTuple):
    """What ``minimize`` returns (JAX's fields and order)."""

    x: Any
    success: Any
    status: Any
    fun: Any
    jac: Any
    hess_inv: Any
    nfev: Any
    njev: Any
    nit: Any


def minimize(fun, x0, args=(), *, method, tol=None, options=None):
    """Minimize a scalar function of one 1-D array. ``method``: ``"BFGS"``; ``options``:
    ``maxiter``, ``norm``, ``gtol``, ``line_search_maxiter``. ``tol`` is accepted and, as
    in JAX, ignored."""
    if options is None:
        options = {}
    if not isinstance(args, tuple):
        raise TypeError(f"args argument to jax.scipy.optimize.minimize must be a tuple, got {args}")

    def objective(x):
        return fun(x, *args)

    if method.lower() == "bfgs":
        r = _bfgs(objective, as_array(x0), **options)
        return _results(r, hess_inv=r["H"])
    if method.lower() == "l-bfgs-experimental-do-not-rely-on-this":
        r = _lbfgs(objective, as_array(x0), **options)
        return _results(r, hess_inv=None)
    raise ValueError(f"Method {method} not recognized")


def _results(r, hess_inv):
    """``OptimizeResults`` from a solver's final state ``r``."""
    success = r["converged"] & jnp.logical_not(r["failed"])
    return OptimizeResults(
        x=r["x"],
        success=success,
        status=r["status"],
        fun=r["f"],
        jac=r["g"],
        hess_inv=hess_inv,
        nfev=r["nfev"],
        njev=r["ngev"],
        nit=r["k"],
    )


# ---------------------------------------------------------------------------- BFGS


def _bfgs(fun, x0, maxiter=None, norm=np.inf, gtol=1e-5, line_search_maxiter=10):
    if maxiter is None:
        maxiter = np.size(x0) * 200
    d = x0.shape[0]
    dt = x0.dtype
    f0, g0 = api.value_and_grad(fun)(x0)
    i32 = np.int32
    state = {
        "converged": jnp.linalg.norm(g0, ord=norm) < gtol,
        "failed": jnp.array(False),
        "k": jnp.array(0, i32),
        "nfev": jnp.array(1, i32),
        "ngev": jnp.array(1, i32),
        "x": x0,
        "f": f0,
        "g": g0,
        "H": jnp.eye(d, dtype=dt),
        "f_prev": f0 + jnp.linalg.norm(g0) / 2,
        "ls_status": jnp.array(0, i32),
    }

    def going(s):
        return jnp.logical_not(s["converged"]) & jnp.logical_not(s["failed"]) & (s["k"] < maxiter)

    def step(s):
        p = -_dot(s["H"], s["g"])
        ls = line_search(
            fun,
            s["x"],
            p,
            old_fval=s["f"],
            old_old_fval=s["f_prev"],
            gfk=s["g"],
            maxiter=line_search_maxiter,
        )
        s_k = ls.a_k * p
        y_k = ls.g_k - s["g"]
        rho = jnp.reciprocal(_dot(y_k, s_k))
        w = jnp.eye(d, dtype=rho.dtype) - rho * (s_k[:, None] * y_k[None, :])
        # H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T, skipped if y^T s is 0
        h_new = jnp.einsum("ij,jk,lk", w, s["H"], w, precision=_HIGHEST)
        h_new = h_new + rho * s_k[:, None] * s_k[None, :]
        return {
            "converged": jnp.linalg.norm(ls.g_k, ord=norm) < gtol,
            "failed": ls.failed,
            "k": s["k"] + 1,
            "nfev": s["nfev"] + ls.nfev,
            "ngev": s["ngev"] + ls.ngev,
            "x": s["x"] + s_k,
            "f": ls.f_k,
            "g": ls.g_k,
            "H": jnp.where(jnp.isfinite(rho), h_new, s["H"]),
            "f_prev": s["f"],
            "ls_status": ls.status.astype(np.int32),
        }

    s = lax.while_loop(going, step, state)
    status = jnp.where(
        s["converged"],
        0,
        jnp.where(s["k"] == maxiter, 1, jnp.where(s["failed"], 2 + s["ls_status"], -1)),
    )
    s["status"] = status
    return s


# ---------------------------------------------------------------------------- line search


class _LineSearchResults(NamedTuple):
    failed: Any
    nit: Any
    nfev: Any
    ngev: Any
    k: Any
    a_k: Any
    f_k: Any
    g_k: Any
    status: Any


def _cubic_min(a, fa, fpa, b, fb, c, fc):
    """The minimizer of the cubic through (a, fa) with slope fpa, (b, fb) and (c, fc)."""
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    r1 = fb - fa - fpa * db
    r2 = fc - fa - fpa * dc
    m = jnp.stack([jnp.stack([dc**2, -(db**2)]), jnp.stack([-(dc**3), db**3])])
    coef_a, coef_b = _dot(m, jnp.stack([r1, r2])) / denom
    radical = coef_b * coef_b - 3.0 * coef_a * fpa
    return a + (-coef_b + jnp.sqrt(radical)) / (3.0 * coef_a)


def _quad_min(a, fa, fpa, b, fb):
    """The minimizer of the parabola through (a, fa) with slope fpa and (b, fb)."""
    db = b - a
    curv = (fb - fa - fpa * db) / db**2
    return a - fpa / (2.0 * curv)


def _choose(pred, new, old, keys):
    return {k: jnp.where(pred, new[k], old[k]) for k in keys}


def _zoom(phi_and_grad, wolfe1, wolfe2, lo, hi, g0, skip):
    """Shrink the bracket [lo, hi] (each (a, phi, dphi)) until a step meets both Wolfe
    conditions; ``skip``: do nothing (the caller needs no zoom this time)."""
    dt = lo[0].dtype
    s = {
        "done": jnp.array(False),
        "failed": jnp.array(False),
        "j": jnp.array(0, np.int32),
        "a_lo": lo[0],
        "phi_lo": lo[1],
        "dphi_lo": lo[2],
        "a_hi": hi[0],
        "phi_hi": hi[1],
        "dphi_hi": hi[2],
        "a_rec": (lo[0] + hi[0]) / 2.0,
        "phi_rec": (lo[1] + hi[1]) / 2.0,
        "a_star": jnp.array(1.0, dt),
        "phi_star": lo[1],
        "dphi_star": lo[2],
        "g_star": g0,
        "nfev": jnp.array(0, np.int32),
        "ngev": jnp.array(0, np.int32),
    }
    threshold = 1e-5 if np.finfo(dt).bits < 64 else 1e-10

    def step(s):
        span = s["a_hi"] - s["a_lo"]
        lo_end = jnp.minimum(s["a_hi"], s["a_lo"])
        hi_end = jnp.maximum(s["a_hi"], s["a_lo"])
        s = dict(s, failed=s["failed"] | (span <= threshold))
        cubic = _cubic_min(
            s["a_lo"], s["phi_lo"], s["dphi_lo"], s["a_hi"], s["phi_hi"], s["a_rec"], s["phi_rec"]
        )
        cubic_margin, quad_margin = 0.2 * span, 0.1 * span
        use_cubic = (s["j"] > 0) & (cubic > lo_end + cubic_margin) & (cubic < hi_end - cubic_margin)
        quad = _quad_min(s["a_lo"], s["phi_lo"], s["dphi_lo"], s["a_hi"], s["phi_hi"])
        use_quad = ~use_cubic & (quad > lo_end + quad_margin) & (quad < hi_end - quad_margin)
        a_j = jnp.where(use_cubic, cubic, s["a_rec"])
        a_j = jnp.where(use_quad, quad, a_j)
        a_j = jnp.where(~use_cubic & ~use_quad, (s["a_lo"] + s["a_hi"]) / 2.0, a_j)
        phi_j, dphi_j, g_j = phi_and_grad(a_j)
        phi_j = phi_j.astype(s["phi_lo"].dtype)
        dphi_j = dphi_j.astype(s["dphi_lo"].dtype)
        g_j = g_j.astype(s["g_star"].dtype)
        s = dict(s, nfev=s["nfev"] + 1, ngev=s["ngev"] + 1)
        to_hi = wolfe1(a_j, phi_j) | (phi_j >= s["phi_lo"])
        to_star = wolfe2(dphi_j) & ~to_hi
        hi_gets_lo = (dphi_j * (s["a_hi"] - s["a_lo"]) >= 0.0) & ~to_hi & ~to_star
        to_lo = ~to_hi & ~to_star
        new = dict(a_hi=a_j, phi_hi=phi_j, dphi_hi=dphi_j, a_rec=s["a_hi"], phi_rec=s["phi_hi"])
        s = dict(s, **_choose(to_hi, new, s, new))
        new = dict(a_star=a_j, phi_star=phi_j, dphi_star=dphi_j, g_star=g_j)
        s = dict(s, done=to_star | s["done"], **_choose(to_star, new, s, new))
        new = dict(
            a_hi=s["a_lo"],
            phi_hi=s["phi_lo"],
            dphi_hi=s["dphi_lo"],
            a_rec=s["a_hi"],
            phi_rec=s["phi_hi"],
        )
        s = dict(s, **_choose(hi_gets_lo, new, s, new))
        new = dict(a_rec=s["a_lo"], phi_rec=s["phi_lo"])
        s = dict(s, **_choose(to_lo & ~hi_gets_lo, new, s, new))
        new = dict(a_lo=a_j, phi_lo=phi_j, dphi_lo=dphi_j)
        s = dict(s, **_choose(to_lo, new, s, new))
        j = s["j"] + 1
        return dict(s, j=j, failed=s["failed"] | (j >= 30))

    return lax.while_loop(lambda s: ~s["done"] & ~skip & ~s["failed"], step, s)


def line_search(f, xk, pk, old_fval=None, old_old_fval=None, gfk=None, c1=1e-4, c2=0.9, maxiter=20):
    """A step along ``pk`` from ``xk`` satisfying the strong Wolfe conditions with
    constants ``c1``, ``c2`` (JAX's ``jax.scipy.optimize.line_search``)."""
    xk, pk = (as_array(v) for v in promote_dtypes_inexact(xk, pk))
    dt = pk.dtype

    def phi_and_grad(t):
        t = jnp.array(t, dtype=dt)
        phi, g = api.value_and_grad(f)(xk + t * pk)
        return phi, jnp.real(_dot(g, pk)), g

    given = old_fval is not None and gfk is not None
    if given:
        phi0, dphi0 = old_fval, jnp.real(_dot(gfk, pk))
    else:
        phi0, dphi0, gfk = phi_and_grad(0)
    if old_old_fval is not None:
        guess = 1.01 * 2 * (phi0 - old_old_fval) / dphi0
        first_step = jnp.where(guess > 1, 1.0, guess)
    else:
        first_step = jnp.array(1.0, dt)

    def wolfe1(a, phi):  # sufficient decrease fails
        return phi > phi0 + c1 * a * dphi0

    def wolfe2(dphi):  # curvature condition holds
        return jnp.abs(dphi) <= -c2 * dphi0

    n0 = 0 if given else 1
    zero = jnp.zeros((), dt)
    state = {
        "done": jnp.array(False),
        "failed": jnp.array(False),
        "i": jnp.array(1, np.int32),
        "a_prev": zero,
        "phi_prev": phi0,
        "dphi_prev": dphi0,
        "nfev": jnp.array(n0, np.int32),
        "ngev": jnp.array(n0, np.int32),
        "a_star": zero,
        "phi_star": phi0,
        "dphi_star": dphi0,
        "g_star": gfk,
    }
    star_keys = ["a_star", "phi_star", "dphi_star", "g_star"]

    def step(s):
        a_i = jnp.where(s["i"] == 1, first_step, s["a_prev"] * 2.0).astype(dt)
        phi_i, dphi_i, g_i = phi_and_grad(a_i)
        s = dict(s, nfev=s["nfev"] + 1, ngev=s["ngev"] + 1)
        zoom_up = wolfe1(a_i, phi_i) | ((phi_i >= s["phi_prev"]) & (s["i"] > 1))
        accept = wolfe2(dphi_i) & ~zoom_up
        zoom_down = (dphi_i >= 0.0) & ~zoom_up & ~accept
        prev = (s["a_prev"], s["phi_prev"], s["dphi_prev"])
        cur = (a_i, phi_i, dphi_i)
        z1 = _zoom(phi_and_grad, wolfe1, wolfe2, prev, cur, gfk, ~zoom_up)
        s = dict(s, nfev=s["nfev"] + z1["nfev"], ngev=s["ngev"] + z1["ngev"])
        z2 = _zoom(phi_and_grad, wolfe1, wolfe2, cur, prev, gfk, ~zoom_down)
        s = dict(s, nfev=s["nfev"] + z2["nfev"], ngev=s["ngev"] + z2["ngev"])
        s = dict(
            s,
            done=zoom_up | s["done"],
            failed=(zoom_up & z1["failed"]) | s["failed"],
            **_choose(zoom_up, z1, s, star_keys),
        )
        new = dict(a_star=a_i, phi_star=phi_i, dphi_star=dphi_i, g_star=g_i)
        s = dict(s, done=accept | s["done"], **_choose(accept, new, s, star_keys))
        s = dict(
            s,
            done=zoom_down | s["done"],
            failed=(zoom_down & z2["failed"]) | s["failed"],
            **_choose(zoom_down, z2, s, star_keys),
        )
        return dict(s, i=s["i"] + 1, a_prev=a_i, phi_prev=phi_i, dphi_prev=dphi_i)

    s = lax.while_loop(lambda s: ~s["done"] & (s["i"] <= maxiter) & ~s["failed"], step, state)
    status = jnp.where(s["failed"], 1, jnp.where(s["i"] > maxiter, 3, 0))
    alpha = s["a_star"]
    if np.finfo(alpha.dtype).bits != 64:  # keep a tiny step from vanishing in float32
        alpha = jnp.where(jnp.abs(alpha) < 1e-8, jnp.sign(alpha) * 1e-8, alpha)
    return _LineSearchResults(
        failed=s["failed"] | ~s["done"],
        nit=s["i"] - 1,
        nfev=s["nfev"],
        ngev=s["ngev"],
        k=s["i"],
        a_k=alpha,
        f_k=s["phi_star"],
        g_k=s["g_star"],
        status=status,
    )


# ---------------------------------------------------------------------------- L-BFGS


def _lbfgs(
    fun,
    x0,
    maxiter=None,
    norm=np.inf,
    maxcor=10,
    ftol=2.220446049250313e-09,
    gtol=1e-5,
    maxfun=None,
    maxgrad=None,
    maxls=20,
):
    """Limited-memory BFGS (JAX's experimental method): the last ``maxcor`` steps and
    gradient changes stand in for the inverse Hessian (the two-loop recursion)."""
    d = len(x0)
    dt = x0.dtype
    if maxiter is None and maxfun is None and maxgrad is None:
        maxiter = d * 200
    maxiter = np.inf if maxiter is None else maxiter
    maxfun = np.inf if maxfun is None else maxfun
    maxgrad = np.inf if maxgrad is None else maxgrad
    f0, g0 = api.value_and_grad(fun)(x0)
    i32 = np.int32
    state = {
        "converged": jnp.array(False),
        "failed": jnp.array(False),
        "k": jnp.array(0, i32),
        "nfev": jnp.array(1, i32),
        "ngev": jnp.array(1, i32),
        "x": x0,
        "f": f0,
        "g": g0,
        "s_hist": jnp.zeros((maxcor, d), dtype=dt),
        "y_hist": jnp.zeros((maxcor, d), dtype=dt),
        "rho_hist": jnp.zeros((maxcor,), dtype=dt),
        "gamma": jnp.array(1.0, dt),
        "status": jnp.array(0, i32),
        "ls_status": jnp.array(0, i32),
    }

    def step(s):
        p = _two_loop(s)
        ls = line_search(fun, s["x"], p, old_fval=s["f"], gfk=s["g"], maxiter=maxls)
        s_k = jnp.asarray(ls.a_k).astype(p.dtype) * p
        y_k = ls.g_k - s["g"]
        rho_inv = jnp.real(_dot(y_k, s_k))
        rho = jnp.reciprocal(rho_inv).astype(y_k.dtype)
        gamma = rho_inv / jnp.real(_dot(jnp.conj(y_k), y_k))
        status = jnp.array(0, i32)
        status = jnp.where(s["f"] - ls.f_k < ftol, 4, status)
        status = jnp.where(s["ngev"] >= maxgrad, 3, status)
        status = jnp.where(s["nfev"] >= maxfun, 2, status)
        status = jnp.where(s["k"] >= maxiter, 1, status)
        status = jnp.where(ls.failed, 5, status)
        converged = jnp.linalg.norm(ls.g_k, ord=norm) < gtol
        return {
            "converged": converged,
            "failed": (status > 0) & ~converged,
            "k": s["k"] + 1,
            "nfev": s["nfev"] + ls.nfev,
            "ngev": s["ngev"] + ls.ngev,
            "x": (s["x"] + s_k).astype(s["x"].dtype),
            "f": ls.f_k.astype(s["f"].dtype),
            "g": ls.g_k.astype(s["g"].dtype),
            "s_hist": jnp.roll(s["s_hist"], -1, axis=0).at[-1, :].set(s_k),
            "y_hist": jnp.roll(s["y_hist"], -1, axis=0).at[-1, :].set(y_k),
            "rho_hist": jnp.roll(s["rho_hist"], -1, axis=0).at[-1].set(rho),
            "gamma": gamma.astype(s["g"].dtype),
            "status": jnp.where(converged, 0, status).astype(i32),
            "ls_status": ls.status.astype(i32),
        }

    return lax.while_loop(lambda s: ~s["converged"] & ~s["failed"], step, state)


def _two_loop(s):
    """-H g by the L-BFGS two-loop recursion over the stored (s, y, rho) pairs."""
    dt = s["rho_hist"].dtype
    size = len(s["rho_hist"])
    used = jnp.where(s["k"] < size, s["k"], size)
    q = -jnp.conj(s["g"])
    alphas = jnp.zeros_like(s["rho_hist"])

    def newest_first(j, carry):
        q, alphas = carry
        i = size - 1 - j
        a_i = s["rho_hist"][i] * _dot(jnp.conj(s["s_hist"][i]), q).real.astype(dt)
        return q - a_i * jnp.conj(s["y_hist"][i]), alphas.at[i].set(a_i)

    q, alphas = lax.fori_loop(0, used, newest_first, (q, alphas))
    q = s["gamma"] * q

    def oldest_first(j, q):
        i = size - used + j
        b_i = s["rho_hist"][i] * _dot(s["y_hist"][i], q).real.astype(dt)
        return q + (alphas[i] - b_i) * s["s_hist"][i]

    return lax.fori_loop(0, used, oldest_first, q)
