"""Special functions lowered through CHLO: erf, erfc, erf_inv, lgamma, digamma,
polygamma, zeta, nextafter."""

from __future__ import annotations

import math

from jaxlib.mlir.dialects import chlo

from ..interpreters.jvp import defjvp, defjvp2
from .elementwise import _bind2, _const, _plain, add, exp, mul, naryop, neg, square

__all__ = [
    "erf",
    "erfc",
    "erf_inv",
    "lgamma",
    "digamma",
    "polygamma",
    "zeta",
    "nextafter",
    "erf_p",
    "erfc_p",
    "erf_inv_p",
    "lgamma_p",
    "digamma_p",
    "polygamma_p",
    "zeta_p",
    "nextafter_p",
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
