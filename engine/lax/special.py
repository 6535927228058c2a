"""Special functions: erf, erfc, erf_inv, lgamma, digamma, polygamma, zeta, nextafter,
bessel_i1e (each one CHLO op), and bessel_i0e, regularized_incomplete_beta (betainc),
which lower, as in JAX, to the ops of a lax-level implementation (a Chebyshev series; a
continued fraction evaluated in a while loop)."""

from __future__ import annotations

import math

import numpy as np
from jaxlib.mlir.dialects import chlo

from .. import dtypes
from ..core import ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import defjvp, defjvp2
from .elementwise import (
    _bind2,
    _const,
    _plain,
    abs,
    add,
    div,
    exp,
    log,
    log1p,
    mul,
    naryop,
    neg,
    promote_scalars,
    reciprocal,
    sign,
    sqrt,
    square,
    sub,
)

__all__ = [
    "erf",
    "erfc",
    "erf_inv",
    "lgamma",
    "digamma",
    "polygamma",
    "zeta",
    "nextafter",
    "betainc",
    "bessel_i0e",
    "bessel_i1e",
    "erf_p",
    "erfc_p",
    "erf_inv_p",
    "lgamma_p",
    "digamma_p",
    "polygamma_p",
    "zeta_p",
    "nextafter_p",
    "regularized_incomplete_beta_p",
    "bessel_i0e_p",
    "bessel_i1e_p",
]


_float = ("float",)

erf_p = naryop("erf", _float, _plain(chlo.erf))
erfc_p = naryop("erfc", _float, _plain(chlo.erfc))
erf_inv_p = naryop("erf_inv", _float, _plain(chlo.erf_inv))
lgamma_p = naryop("lgamma", _float, _plain(chlo.lgamma))
digamma_p = naryop("digamma", _float, _plain(chlo.digamma))
polygamma_p = naryop("polygamma", _float, _plain(chlo.polygamma))
zeta_p = naryop("zeta", _float, _plain(chlo.zeta))
nextafter_p = naryop("nextafter", _float, _plain(chlo.next_after))


def erf(x):
    return erf_p.bind(x)


def erfc(x):
    """1 - erf(x), accurate where erf(x) is near 1."""
    return erfc_p.bind(x)


def erf_inv(x):
    return erf_inv_p.bind(x)


def lgamma(x):
    """log |Gamma(x)|."""
    return lgamma_p.bind(x)


def digamma(x):
    """d/dx lgamma(x)."""
    return digamma_p.bind(x)


def polygamma(m, x):
    """The m-th derivative of digamma (m a whole number, given as a float)."""
    return _bind2(polygamma_p, m, x)


def zeta(x, q):
    """Hurwitz zeta: sum over n >= 0 of (n + q) ** -x."""
    return _bind2(zeta_p, x, q)


def nextafter(x1, x2):
    """The next representable number after ``x1`` in the direction of ``x2``."""
    return _bind2(nextafter_p, x1, x2)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _gaussian(x):
    return exp(neg(square(x)))


defjvp(erf_p, lambda g, x: mul(_const(_TWO_OVER_SQRT_PI, x), mul(g, _gaussian(x))))
defjvp(erfc_p, lambda g, x: mul(_const(-_TWO_OVER_SQRT_PI, x), mul(g, _gaussian(x))))
# erf_inv' (x) = 1 / erf'(erf_inv x) = sqrt(pi)/2 * exp(erf_inv(x)**2)
defjvp2(
    erf_inv_p, lambda g, ans, x: mul(_const(1 / _TWO_OVER_SQRT_PI, ans), mul(g, exp(square(ans))))
)
defjvp(lgamma_p, lambda g, x: mul(g, digamma(x)))
defjvp(digamma_p, lambda g, x: mul(g, polygamma(_const(1, x), x)))


def _polygamma_jvp_m(g, m, x):
    raise ValueError("polygamma gradient with respect to m is not supported")


defjvp(polygamma_p, _polygamma_jvp_m, lambda g, m, x: mul(g, polygamma(add(m, _const(1, m)), x)))
# zeta and nextafter have no derivative rules, as in JAX.


# ---------------------------------------------------------------------------- lax-level lowerings


def lower_via(impl, upcast=True):
    """The lowering, for ``naryop``, that emits the ops of ``impl(*operands, **params)``
    (lax functions on operands broadcast to the output shape), traced once per shape/dtype/params. float16
    and bfloat16 compute in float32 (unless ``upcast`` is False), as in JAX."""
    cache = {}

    def rule(ctx, *args, **params):
        from ..interpreters.tracing import trace_to_jaxpr

        out = ctx.avals_out[0]
        key = (out.shape, out.dtype, tuple(a.dtype for a in ctx.avals_in), tuple(params.items()))
        closed = cache.get(key)
        if closed is None:
            in_avals = [ShapedArray(out.shape, a.dtype) for a in ctx.avals_in]

            def traced(*xs):
                from .convert import convert_element_type

                low = upcast and out.dtype in (np.dtype(np.float16), dtypes.bfloat16)
                if low:
                    xs = [convert_element_type(x, np.float32) for x in xs]
                y = impl(*xs, **params)
                return [convert_element_type(y, out.dtype) if low else y]

            closed = cache[key] = trace_to_jaxpr(traced, in_avals)
        return lowering.lower_jaxpr_inline(ctx, closed, args)[0]

    return rule  # naryop's lowering broadcasts the operands to the output shape first


def _full(x, v):
    from .structural import full_like

    return full_like(x, v)


def _finfo(x):
    from .. import core

    return np.finfo(core.get_aval(x).dtype)


# ---------------------------------------------------------------------------- bessel_i0e / i1e

# Cephes' Chebyshev coefficients of exp(-x) I0(x): on [0, 8] in 0.5 x - 2, and of
# sqrt(x) exp(-x) I0(x) on (8, inf) in 32 / x - 2 (float32 uses the shorter tails).
_I0E_A = (
    -4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
    1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
    -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
    9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
    -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
    1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
    -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
    1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
    -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
    1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1,
)  # fmt: skip
_I0E_B = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
    2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
    8.04490411014108831608e-1,
)  # fmt: skip


def _chebyshev(t, coeffs):
    """Clenshaw's recurrence for sum' c_k T_k(t / 2) (Cephes' chbevl)."""
    b0, b1 = _full(t, 0.0), _full(t, 0.0)
    b2 = b1
    for c in coeffs:
        b2, b1 = b1, b0
        b0 = add(sub(mul(t, b1), b2), _const(c, t))
    return mul(_const(0.5, t), sub(b0, b2))


def _i0e_impl(x):
    from .logic import le, select

    wide = np.dtype(_finfo(x).dtype) == np.float64
    coeffs_a = _I0E_A if wide else _I0E_A[12:]
    coeffs_b = _I0E_B if wide else _I0E_B[18:]
    x = abs(x)
    small = _chebyshev(sub(mul(_const(0.5, x), x), _const(2.0, x)), coeffs_a)
    large = div(_chebyshev(sub(div(_const(32.0, x), x), _const(2.0, x)), coeffs_b), sqrt(x))
    return select(le(x, _const(8.0, x)), small, large)


bessel_i0e_p = naryop("bessel_i0e", _float, lower_via(_i0e_impl))
bessel_i1e_p = naryop("bessel_i1e", _float, _plain(chlo.bessel_i1e))


def bessel_i0e(x):
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""
    return bessel_i0e_p.bind(x)


def bessel_i1e(x):
    """exp(-|x|) I1(x), the exponentially scaled modified Bessel function of order 1."""
    return bessel_i1e_p.bind(x)


defjvp2(bessel_i0e_p, lambda g, ans, x: mul(g, sub(bessel_i1e(x), mul(sign(x), ans))))


def _i1e_jvp(g, ans, x):
    # i1e' = i0e - i1e (sign(x) + 1/x); its limit at 0 is 1/2
    from .logic import gt, select

    eps = float(_finfo(x).eps)
    not_tiny = gt(abs(x), _const(eps, x))
    safe_x = select(not_tiny, x, _full(x, eps))
    d = sub(bessel_i0e(safe_x), mul(ans, add(sign(safe_x), reciprocal(safe_x))))
    return mul(g, select(not_tiny, d, _full(x, 0.5)))


defjvp2(bessel_i1e_p, _i1e_jvp)


# ---------------------------------------------------------------------------- betainc


def _continued_fraction(numerator, a, b, x, iterations, tol):
    """Modified Lentz evaluation of 1 / (1 + d_1 / (1 + d_2 / (1 + ...))), the terms
    ``numerator(n)`` for n >= 1; stops when every element's last factor is within
    ``tol`` of 1, or after ``iterations`` steps."""
    from .control_flow import while_loop
    from .logic import bitwise_and, ge, lt, select
    from .reductions import reduce_or

    tiny = _full(x, tol)

    def nonzero(v):
        return select(lt(abs(v), tiny), tiny, v)

    def cond(carry):
        n, going, *_ = carry
        return bitwise_and(lt(n, np.int32(iterations)), going)

    def body(carry):
        n, _, c, d, h = carry
        an = numerator(n, a, b, x)
        c = nonzero(add(_const(1.0, x), div(an, c)))
        d = reciprocal(nonzero(add(_const(1.0, x), mul(an, d))))
        delta = mul(c, d)
        going = ge(abs(sub(delta, _const(1.0, delta))), _full(x, tol))
        going = reduce_or(going, tuple(range(len(going.aval.shape))))
        return add(n, np.int32(1)), going, c, d, mul(h, delta)

    # b_0 = 0 is replaced by the tiny value, as Lentz's method prescribes
    init = (np.int32(1), np.bool_(True), tiny, _full(x, 0.0), tiny)
    return while_loop(cond, body, init)[4]


def _betainc_term(n, a, b, x):
    """d_n of DLMF 8.17.22: d_{2m+1} = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)),
    d_{2m} = m(b-m)x / ((a+2m-1)(a+2m)); the first partial numerator is 1."""
    from .convert import convert_element_type
    from .elementwise import rem
    from .logic import eq, select

    k = sub(n, np.int32(1))
    m = convert_element_type(div(k, np.int32(2)), a.dtype)
    two_m = add(m, m)
    odd = mul(
        neg(mul(add(a, m), add(add(a, b), m))),
        div(x, mul(add(a, two_m), add(add(a, two_m), _const(1.0, a)))),
    )
    even = mul(mul(m, sub(b, m)), div(x, mul(sub(add(a, two_m), _const(1.0, a)), add(a, two_m))))
    term = select(eq(rem(k, np.int32(2)), np.int32(1)), odd, even)
    return select(eq(n, np.int32(1)), _full(x, 1.0), term)


def _betainc_impl(a, b, x):
    from .logic import bitwise_and, bitwise_not, bitwise_or, eq, gt, lt, ne, select

    dt = _finfo(x)
    inf = _full(a, np.inf)
    zero, one = _full(x, 0.0), _full(x, 1.0)
    a_zero = bitwise_or(eq(a, zero), eq(b, inf))  # the mass sits at 0
    b_zero = bitwise_or(eq(b, zero), eq(a, inf))  # the mass sits at 1
    x_zero, x_one = eq(x, zero), eq(x, one)
    nan_in = bitwise_or(bitwise_or(ne(a, a), ne(b, b)), ne(x, x))
    out_of_domain = bitwise_or(bitwise_or(lt(a, zero), lt(b, zero)), lt(x, zero))
    out_of_domain = bitwise_or(bitwise_or(out_of_domain, gt(x, one)), nan_in)
    out_of_domain = bitwise_or(out_of_domain, bitwise_and(a_zero, b_zero))

    # the fraction converges fast for x < (a + 1) / (a + b + 2); else use
    # I_x(a, b) = 1 - I_{1-x}(b, a)
    direct = lt(x, div(add(a, one), add(add(a, b), _const(2.0, b))))
    a2, b2 = select(direct, a, b), select(direct, b, a)
    x2 = select(direct, x, sub(one, x))
    steps = 600 if np.dtype(dt.dtype) == np.float64 else 200
    eps_half = float(dt.eps) / 2
    cf = _continued_fraction(_betainc_term, a2, b2, x2, steps, eps_half)

    log_beta_no_a = sub(lgamma(b2), lgamma(add(a2, b2)))
    log_beta = add(lgamma(a2), log_beta_no_a)
    log_1mx_b = mul(log1p(neg(x2)), b2)
    # a -> 0+: a Gamma(a) -> 1, so x^a (1-x)^b / (a B(a, b)) -> (1-x)^b / (Gamma(b)/Gamma(a+b))
    prefactor = select(
        lt(a2, _const(float(dt.tiny) * 2, a2)),
        exp(sub(log_1mx_b, log_beta_no_a)),
        div(exp(sub(add(mul(log(x2), a2), log_1mx_b), log_beta)), a2),
    )
    y = mul(cf, prefactor)
    y = select(direct, y, sub(one, y))
    y = select(bitwise_or(bitwise_and(b_zero, bitwise_not(x_one)), bitwise_and(a_zero, x_zero)),
               zero, y)  # fmt: skip
    y = select(bitwise_or(bitwise_and(a_zero, bitwise_not(x_zero)), bitwise_and(b_zero, x_one)),
               one, y)  # fmt: skip
    return select(out_of_domain, _full(x, np.nan), y)


regularized_incomplete_beta_p = naryop(
    "regularized_incomplete_beta", _float, lower_via(_betainc_impl)
)


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b)."""
    a, b, x = promote_scalars(a, b, x)
    return regularized_incomplete_beta_p.bind(a, b, x)


def _betainc_jvp_ab(g, a, b, x):
    raise ValueError("Betainc gradient with respect to a and b not supported.")


def _betainc_jvp_x(g, a, b, x):
    # d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b)
    log_beta = sub(add(lgamma(a), lgamma(b)), lgamma(add(a, b)))
    log_density = add(mul(sub(b, _const(1, b)), log1p(neg(x))), mul(sub(a, _const(1, a)), log(x)))
    return mul(exp(sub(log_density, log_beta)), g)


defjvp(regularized_incomplete_beta_p, _betainc_jvp_ab, _betainc_jvp_ab, _betainc_jvp_x)
