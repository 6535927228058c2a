"""Window functions (``bartlett``, ``blackman``, ``hamming``, ``hanning``, ``kaiser``)
and the modified Bessel function ``i0``, as JAX (float results of the default dtype)."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits

__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser", "i0"]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _points(M):
    from ._util import concrete_value

    M = int(concrete_value(M, "M argument of a window function")) if not isinstance(M, int) else M
    return M, dtypes.canonicalize_dtype(np.float64)


def _cosine_window(M, coeffs):
    jnp = _jnp()
    M, dt = _points(M)
    if M <= 1:
        return jnp.ones(max(M, 0), dt)
    n = jnp.arange(0, M, dtype=dt)
    out = jnp.zeros((M,), dt)
    for k, c in enumerate(coeffs):
        out = out + c * jnp.cos(2 * k * np.pi * n / (M - 1))
    return out


def hamming(M):
    return _cosine_window(M, (0.54, -0.46))


def hanning(M):
    return _cosine_window(M, (0.5, -0.5))


def blackman(M):
    return _cosine_window(M, (0.42, -0.5, 0.08))


def bartlett(M):
    jnp = _jnp()
    M, dt = _points(M)
    if M <= 1:
        return jnp.ones(max(M, 0), dt)
    n = jnp.arange(1 - M, M, 2, dtype=dt)
    return 1 - jnp.abs(n) / (M - 1)


def kaiser(M, beta):
    jnp = _jnp()
    M, dt = _points(M)
    if M <= 1:
        return jnp.ones(max(M, 0), dt)
    n = jnp.arange(0, M, dtype=dt)
    alpha = 0.5 * (M - 1)
    beta = jnp.asarray(beta, dt)
    return i0(beta * jnp.sqrt(1 - ((n - alpha) / alpha) ** 2)) / i0(beta)


def _i0_impl(x):
    from .. import lax

    abs_x = lax.abs(x)
    return lax.mul(lax.exp(abs_x), lax.bessel_i0e(abs_x))


def _i0_jvp(primals, tangents):
    # the derivative of exp(|x|) i0e(|x|), with 0 at x == 0 (where |x| has none), as JAX's
    from ..api import jvp

    primal_out, tangent_out = jvp(_i0_impl, primals, tangents)
    return primal_out, _jnp().where(primals[0] == 0, 0.0, tangent_out)


def _make_i0():
    from ..custom_derivatives import custom_jvp

    _i0_impl.__name__ = "_i0"  # custom_jvp_call[name=_i0], as JAX's
    f = custom_jvp(_i0_impl)
    f.defjvp(_i0_jvp)
    return f


_i0 = None


@as_jax_jits("i0")
def i0(x):
    """The modified Bessel function of the first kind, order 0 (real inputs)."""
    global _i0
    from ._util import promote_args_inexact

    (x,) = promote_args_inexact("i0", x)
    dt = _jnp().asarray(x).dtype
    if not dtypes.is_float(dt):
        raise ValueError(f"Unsupported input type to jax.numpy.i0: {dt}")
    if _i0 is None:
        _i0 = _make_i0()
    return _i0(x)
