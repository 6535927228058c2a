"""The von Mises distribution (``jax.scipy.stats.vonmises``)."""

from __future__ import annotations

import numpy as np

from ... import lax
from ... import numpy as jnp
from ._util import args, c


def logpdf(x, kappa):
    x, kappa = args("vonmises.logpdf", x, kappa)
    val = kappa * (jnp.cos(x) - 1) - jnp.log(2 * np.pi * lax.bessel_i0e(kappa))
    return jnp.where(lax.gt(kappa, c(kappa, 0)), val, lax.full_like(val, np.nan))


def pdf(x, kappa):
    return lax.exp(logpdf(x, kappa))
