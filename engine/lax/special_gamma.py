"""The regularized incomplete gamma functions and the derivatives ``jax.random.gamma``
needs: ``igamma`` (P(a, x)), ``igammac`` (Q(a, x) = 1 - P), ``igamma_grad_a``
(dP/da) and ``random_gamma_grad`` (dx/da of a Gamma(a, 1) sample x at fixed CDF).

As in JAX, the three ``igamma*`` are primitives whose lowering is itself written in lax
(the lowering traces the Python algorithm below and emits it inline), so a jaxpr shows
one ``igamma`` equation while the StableHLO shows the loops. ``random_gamma_grad`` is
a plain function of lax ops, so it appears unrolled in jaxprs, again as in JAX.

The algorithm is Cephes' (also XLA's): P by its power series
``x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))`` where x is small relative to a,
Q by Legendre's continued fraction elsewhere, each with the derivative in ``a`` carried
along the same recurrence (forward-mode, term by term)."""

from __future__ import annotations

import enum
import functools

import numpy as np

from .. import dtypes
from ..core import ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import defjvp
from ..interpreters.tracing import trace_to_jaxpr
from .control_flow import while_loop
from .convert import convert_element_type
from .elementwise import (
    _bind2,
    _const,
    abs,
    add,
    div,
    exp,
    log,
    mul,
    naryop,
    neg,
    promote_scalars,
    sub,
)
from .logic import bitwise_and, bitwise_not, bitwise_or, eq, ge, gt, le, lt, ne, select
from .reductions import reduce_or
from .special import digamma, lgamma
from .structural import broadcast_to_shape, full_like

__all__ = [
    "igamma",
    "igammac",
    "igamma_grad_a",
    "random_gamma_grad",
    "igamma_p",
    "igammac_p",
    "igamma_grad_a_p",
]


class _Mode(enum.Enum):
    VALUE = 1  # P(a, x) or Q(a, x)
    DERIVATIVE = 2  # d/da of it
    SAMPLE_DERIVATIVE = 3  # dx/da holding P(a, x) fixed


def _any(pred):
    return reduce_or(pred, tuple(range(pred.ndim)))


def _or(*preds):
    return functools.reduce(bitwise_or, preds)


def _isnan(x):
    return ne(x, x)


def _c(v, like):
    return _const(v, like)


# ---------------------------------------------------------------------------- series


def _series(ax, x, a, enabled, dtype, mode):
    """sum_n c_n with c_0 = 1, c_n = c_{n-1} * x / (a + n); and its a-derivative."""
    eps = float(dtypes.finfo(dtype).eps)

    def body(vals):
        on, r, c, ans, _, dc_da, dans_da = vals
        r1 = r + _c(1.0, r)
        dc_da1 = dc_da * (x / r1) - (c * x) / (r1 * r1)
        dans_da1 = dans_da + dc_da1
        c1 = c * (x / r1)
        ans1 = ans + c1
        if mode is _Mode.VALUE:
            more = bitwise_and(on, gt(c1 / ans1, _c(eps, c1)))
        else:
            more = bitwise_and(on, gt(abs(dc_da1 / dans_da1), _c(eps, c1)))
        new = (r1, c1, ans1, x, dc_da1, dans_da1)
        return (more,) + tuple(select(on, n, o) for n, o in zip(new, vals[1:]))

    one, zero = full_like(a, 1), full_like(a, 0)
    init = (enabled, a, one, one, x, zero, zero)
    _, _, _, ans, _, _, dans_da = while_loop(lambda v: _any(v[0]), body, init)
    if mode is _Mode.VALUE:
        return ans * ax / a
    dlogax_da = log(x) - digamma(a + _c(1, a))
    if mode is _Mode.DERIVATIVE:
        return ax * (ans * dlogax_da + dans_da) / a
    return -(dans_da + ans * dlogax_da) * x / a


# ---------------------------------------------------------------------------- continued fraction


def _continued_fraction(ax, x, a, enabled, dtype, mode):
    """Q(a, x) / ax by the convergents p_k / q_k of Legendre's continued fraction, with
    their a-derivatives; rescaled by eps whenever p_k grows past 1/eps."""
    eps = float(dtypes.finfo(dtype).eps)

    def cond(vals):
        return bitwise_and(lt(vals[5], _c(2000, vals[5])), _any(vals[0]))

    def body(vals):
        (on, ans, t, y, z, c, pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans) = vals
        c = c + _c(1, c)
        y = y + _c(1, y)
        z = z + _c(2, z)
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        nonzero = ne(qk, _c(0, qk))
        r = pk / qk
        t = select(nonzero, abs(div(sub(ans, r), r)), full_like(r, 1))
        ans = select(nonzero, r, ans)
        dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
        dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
        dans_new = select(nonzero, div(dpk - ans * dqk, qk), dans)
        grad_change = select(nonzero, abs(dans_new - dans), full_like(dans, 1))
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        dpkm2, dqkm2, dpkm1, dqkm1 = dpkm1, dqkm1, dpk, dqk
        big = gt(abs(pk), _c(1 / eps, pk))
        pkm2, pkm1, qkm2, qkm1, dpkm2, dqkm2, dpkm1, dqkm1 = (
            select(big, mul(v, _c(eps, v)), v)
            for v in (pkm2, pkm1, qkm2, qkm1, dpkm2, dqkm2, dpkm1, dqkm1)
        )
        if mode is _Mode.VALUE:
            more = bitwise_and(on, gt(t, _c(eps, t)))
        else:
            more = bitwise_and(on, gt(grad_change, _c(eps, grad_change)))
        new = (ans, t, y, z)
        kept = tuple(select(on, n, o) for n, o in zip(new, vals[1:5]))
        rest = (pkm1, qkm1, pkm2, qkm2, dpkm2, dqkm2, dpkm1, dqkm1, dans_new)
        kept2 = tuple(select(on, n, o) for n, o in zip(rest, vals[6:]))
        return (more,) + kept + (c,) + kept2

    y = _c(1, a) - a
    z = x + y + _c(1, x)
    pkm2, qkm2 = full_like(x, 1), x
    pkm1 = x + _c(1, x)
    qkm1 = z * x
    ans = pkm1 / qkm1
    zero = full_like(x, 0)
    dqkm1 = neg(x)
    dans = (zero - ans * dqkm1) / qkm1
    init = (enabled, ans, full_like(x, 1), y, z, _scalar_zero(x))
    init += (pkm1, qkm1, pkm2, qkm2, zero, zero, zero, dqkm1, dans)
    vals = while_loop(cond, body, init)
    ans = vals[1]
    if mode is _Mode.VALUE:
        return ans * ax
    dans = vals[14]
    dlogax_da = log(x) - digamma(a)
    if mode is _Mode.DERIVATIVE:
        return mul(ax, add(mul(ans, dlogax_da), dans))
    return neg(add(dans, mul(ans, dlogax_da)) * x)


def _scalar_zero(x):
    """The iteration count: a rank-0 float of x's dtype."""
    return full_like(x, 0, shape=())


# ---------------------------------------------------------------------------- the four functions


def _prologue(a, x, dtype):
    """log(x^a e^-x / Gamma(a)), whether it underflows, and exp of it."""
    log_ax = a * log(x) - x - lgamma(a)
    underflow = lt(log_ax, _c(-float(np.log(dtypes.finfo(dtype).max)), log_ax))
    return underflow, exp(log_ax)


def _igamma_impl(a, x, *, dtype):
    nan = _or(_isnan(a), _isnan(x))
    x_inf = eq(x, _c(np.inf, x))
    a_zero, x_zero = eq(a, _c(0, a)), eq(x, _c(0, x))
    domain = _or(lt(x, _c(0, x)), lt(a, _c(0, a)), bitwise_and(a_zero, x_zero), nan)
    use_cf = bitwise_and(ge(x, _c(1, x)), gt(x, a))
    underflow, ax = _prologue(a, x, dtype)
    on = bitwise_not(_or(x_zero, domain, underflow, x_inf))
    out = select(
        use_cf,
        _c(1, a) - _continued_fraction(ax, x, a, bitwise_and(on, use_cf), dtype, _Mode.VALUE),
        _series(ax, x, a, bitwise_and(on, bitwise_not(use_cf)), dtype, _Mode.VALUE),
    )
    out = select(x_zero, full_like(a, 0), out)
    out = select(x_inf, full_like(a, 1), out)
    return select(domain, full_like(a, np.nan), out)


def _igammac_impl(a, x, *, dtype):
    nan = _or(_isnan(a), _isnan(x))
    a_zero, x_zero = eq(a, _c(0, a)), eq(x, _c(0, x))
    x_inf = eq(x, _c(np.inf, x))
    domain = _or(lt(x, _c(0, x)), lt(a, _c(0, a)), bitwise_and(a_zero, x_zero), nan)
    use_series = bitwise_or(lt(x, _c(1, x)), lt(x, a))
    underflow, ax = _prologue(a, x, dtype)
    on = bitwise_not(_or(domain, underflow, x_inf, a_zero))
    series = _series(ax, x, a, bitwise_and(on, use_series), dtype, _Mode.VALUE)
    cf = _continued_fraction(ax, x, a, bitwise_and(on, bitwise_not(use_series)), dtype, _Mode.VALUE)
    out = select(use_series, _c(1, a) - series, cf)
    out = select(bitwise_or(x_inf, a_zero), full_like(out, 0), out)
    return select(domain, full_like(a, np.nan), out)


def _derivative_impl(a, x, *, dtype, mode):
    nan = _or(_isnan(a), _isnan(x))
    x_zero = eq(x, full_like(x, 0))
    domain = bitwise_or(lt(x, full_like(x, 0)), le(a, full_like(a, 0)))
    use_cf = bitwise_and(gt(x, full_like(x, 1)), gt(x, a))
    underflow, ax = _prologue(a, x, dtype)
    on = bitwise_not(_or(x_zero, domain, underflow, nan))
    out = select(
        use_cf,
        neg(_continued_fraction(ax, x, a, bitwise_and(on, use_cf), dtype, mode)),
        _series(ax, x, a, bitwise_and(on, bitwise_not(use_cf)), dtype, mode),
    )
    out = select(x_zero, full_like(out, 0), out)
    return select(bitwise_or(domain, nan), full_like(a, np.nan), out)


_igamma_grad_a_impl = functools.partial(_derivative_impl, mode=_Mode.DERIVATIVE)
_random_gamma_grad_impl = functools.partial(_derivative_impl, mode=_Mode.SAMPLE_DERIVATIVE)


def _up_and_broadcast(impl, a, x):
    """Broadcast both operands to one shape; half-precision floats compute in float32."""
    shape = tuple(np.broadcast_shapes(a.shape, x.shape))
    a = a if a.shape == shape else broadcast_to_shape(a, shape)
    x = x if x.shape == shape else broadcast_to_shape(x, shape)
    dtype = a.dtype
    if dtype in (dtypes.bfloat16, np.float16):
        a, x = convert_element_type(a, np.float32), convert_element_type(x, np.float32)
        return convert_element_type(impl(a, x, dtype=np.dtype(np.float32)), dtype)
    return impl(a, x, dtype=np.dtype(dtype))


def _lower_as(impl):
    """A lowering that traces ``impl`` on the operands' avals and emits it inline."""

    def rule(ctx, a, x):
        avals = [ShapedArray(v.shape, v.dtype) for v in ctx.avals_in]
        closed = trace_to_jaxpr(lambda a, x: [_up_and_broadcast(impl, a, x)], avals, "igamma")
        return lowering.lower_jaxpr_inline(ctx, closed, [a, x])[0]

    return rule


_float = ("float",)
igamma_p = naryop("igamma", _float, None)
igammac_p = naryop("igammac", _float, None)
igamma_grad_a_p = naryop("igamma_grad_a", _float, None)
# (operands reach these lowerings unbroadcast: _up_and_broadcast broadcasts them)
for _p, _impl in (
    (igamma_p, _igamma_impl),
    (igammac_p, _igammac_impl),
    (igamma_grad_a_p, _igamma_grad_a_impl),
):
    _p.def_lowering(_lower_as(_impl))


def igamma(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    return _bind2(igamma_p, a, x)


def igammac(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return _bind2(igammac_p, a, x)


def igamma_grad_a(a, x):
    """dP(a, x)/da."""
    return _bind2(igamma_grad_a_p, a, x)


def random_gamma_grad(a, x):
    """d sample / d a for a sample ``x`` of Gamma(a, 1), by implicit differentiation of
    P(a, x) = const: -(dP/da) / (dP/dx). Built from lax ops (no primitive), as in JAX."""
    from .. import numpy as jnp

    a, x = promote_scalars(a, x)
    a, x = jnp.asarray(a), jnp.asarray(x)
    return _up_and_broadcast(_random_gamma_grad_impl, a, x)


def _igamma_dx(g, a, x):
    return g * exp(-x + (a - _c(1, a)) * log(x) - lgamma(a))


defjvp(igamma_p, lambda g, a, x: g * igamma_grad_a(a, x), _igamma_dx)
defjvp(
    igammac_p,
    lambda g, a, x: neg(g * igamma_grad_a(a, x)),
    lambda g, a, x: neg(_igamma_dx(g, a, x)),
)
# igamma_grad_a has no derivative rule, as in JAX.
