"""``lax.linalg.qdwh``: the polar decomposition x = u h by the QR-based dynamically
weighted Halley iteration (Nakatsukasa, Bai and Gygi 2010; Nakatsukasa and Higham
2013): a few QR-based steps while the weights are large, then Cholesky-based steps
until u stops changing, then one Newton-Schulz cleanup."""

from __future__ import annotations

import numpy as np

from .. import dtypes

__all__ = ["qdwh"]

_CHOLESKY_CUTOFF = 100  # weights c above this use the (stabler) QR-based step


def _halley_weights(eps, max_iterations):
    """The static (a, b, c) weights of each step, by the lower bound l on the smallest
    singular value, which each step raises towards 1."""
    lo, tol = eps, 10.0 * eps / 2.0
    qr_steps, chol_steps = [], []
    while lo + tol < 1 and len(qr_steps) + len(chol_steps) < max_iterations:
        l2 = lo * lo
        dd = (4 * (1 / l2 - 1) / l2) ** (1 / 3)
        sqd = (1.0 + dd) ** 0.5
        a = sqd + (2 - dd + 2 * (2 - l2) / (l2 * sqd)) ** 0.5
        b = (a - 1) ** 2 / 4
        c = a + b - 1
        lo = lo * (a + b * l2) / (1 + c * l2)
        e = b / c
        if c > _CHOLESKY_CUTOFF:
            qr_steps.append(((a - e) / c**0.5, c**0.5, e))
        else:
            chol_steps.append((a - e, c, e))
    return qr_steps, chol_steps


def _qr_step(u, params):
    from .. import numpy as jnp
    from .linalg_decompositions import qr

    a_minus_e_by_sqrt_c, sqrt_c, e = params
    m, n = u.shape
    y = jnp.concatenate((sqrt_c * u, jnp.eye(n, dtype=u.dtype)), axis=0)
    q, _ = qr(y, full_matrices=False)
    q1, q2 = q[:m], q[m:]
    return e * u + a_minus_e_by_sqrt_c * _mm(q1, jnp.conj(q2.T))


def _cholesky_step(u, params):
    from .. import numpy as jnp
    from .linalg import cholesky, triangular_solve

    a_minus_e, c, e = params
    n = u.shape[1]
    x = c * _mm(jnp.conj(u.T), u) + jnp.eye(n, dtype=u.dtype)
    y = cholesky(x, symmetrize_input=False)
    z = jnp.conj(triangular_solve(y, u.T, left_side=True, lower=True, conjugate_a=True))
    z = triangular_solve(y, z, left_side=True, lower=True, transpose_a=True, conjugate_a=True)
    return e * u + a_minus_e * jnp.conj(z.T)


def _mm(a, b):
    from .. import numpy as jnp
    from .dot import Precision

    return jnp.matmul(a, b, precision=Precision.HIGHEST)


def qdwh(x, *, is_hermitian=False, max_iterations=None, eps=None, dynamic_shape=None):
    """(u, h, num_iters, is_converged) with x = u h, u unitary, h Hermitian positive
    semi-definite; x is M x N with M >= N."""
    from .. import numpy as jnp
    from .control_flow import fori_loop, while_loop

    if dynamic_shape is not None:
        raise NotImplementedError("qdwh: dynamic_shape is not supported in this engine")
    max_iterations = 10 if max_iterations is None else int(max_iterations)
    x = jnp.asarray(x)
    M, N = x.shape
    if M < N:
        raise ValueError("The input matrix of shape M x N must have M >= N.")
    eps = float(dtypes.finfo(x.dtype).eps) if eps is None else eps
    one_norm = jnp.linalg.norm(x, ord=1)
    inf_norm = jnp.linalg.norm(x, ord=np.inf)
    alpha_inv = jnp.where(one_norm == 0, 1, 1 / (jnp.sqrt(one_norm) * jnp.sqrt(inf_norm)))
    u = x * alpha_inv.astype(x.dtype)
    tol_norm = float(np.cbrt(10.0 * eps / 2.0))
    qr_steps, chol_steps = _halley_weights(eps, max_iterations)

    def run(u, steps, step_fn, check):
        if not steps:
            return u, jnp.asarray(True)
        coefs = jnp.asarray(np.array(steps)).astype(x.dtype)

        def body(k, state):
            u_prev, _ = state
            u_new = step_fn(u_prev, tuple(coefs[k]))
            moving = jnp.linalg.norm(u_new - u_prev) > tol_norm if check else jnp.asarray(True)
            return u_new, moving

        return fori_loop(0, len(steps), body, (u, jnp.asarray(True)))

    u, _ = run(u, qr_steps, _qr_step, False)
    u, moving = run(u, chol_steps, _cholesky_step, True)

    def cond(state):
        k, _, moving = state
        return jnp.logical_and(moving, k < max_iterations)

    def body(state):
        k, u_prev, _ = state
        u_new = _cholesky_step(u_prev, (3 - 1 / 3, 3.0, 1 / 3))  # a=3, b=1, c=3, e=b/c
        return k + 1, u_new, jnp.linalg.norm(u_new - u_prev) > tol_norm

    k0 = len(qr_steps) + len(chol_steps)
    num_iters, u, moving = while_loop(cond, body, (jnp.asarray(k0, np.int32), u, moving))
    u = 1.5 * u - 0.5 * _mm(u, _mm(jnp.conj(u.T), u))
    h = _mm(jnp.conj(u.T), x)
    h = (h + jnp.conj(h.T)) / 2
    return u, h, num_iters, jnp.logical_not(moving)
