"""The wrapped Cauchy distribution on [0, 2 pi] (``jax.scipy.stats.wrapcauchy``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args
from ._util import c as _c


def logpdf(x, c):
    x, cc = args("wrapcauchy.logpdf", x, c)
    dens = jnp.log(1 - cc * cc) - jnp.log(2 * np.pi) - jnp.log(1 + cc * cc - 2 * cc * jnp.cos(x))
    on_circle = lax.ge(x, _c(x, 0)) & lax.le(x, _c(x, np.pi * 2))
    val = jnp.where(on_circle, dens, lax.full_like(dens, -np.inf))
    ok = lax.gt(cc, _c(cc, 0)) & lax.lt(cc, _c(cc, 1))
    return jnp.where(ok, val, lax.full_like(val, np.nan))


def pdf(x, c):
    return lax.exp(logpdf(x, c))
