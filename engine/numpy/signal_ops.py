"""``jnp.convolve`` and ``jnp.correlate``: 1-d discrete convolution and correlation as a
``lax.conv_general_dilated`` over a one-element batch and channel, as JAX computes them
(``jit`` of ``convolve``/``correlate`` around a ``jit`` of ``_conv``)."""

from __future__ import annotations

import numpy as np

from .. import lax
from ._jitted import as_jax_jits
from ._util import as_array, check_arraylike, promote_dtypes, promote_dtypes_inexact

__all__ = ["convolve", "correlate"]


@as_jax_jits("_conv", ("mode", "op", "precision", "preferred_element_type"))
def _conv(x, y, mode, op, precision, preferred_element_type=None):
    from .shape_ops import flip
    from .ufuncs import conj

    if np.ndim(x) != 1 or np.ndim(y) != 1:
        raise ValueError(f"{op}() only support 1-dimensional inputs.")
    if preferred_element_type is None:  # inexact, as NumPy's convolutions
        x, y = promote_dtypes_inexact(x, y)
    else:
        x, y = promote_dtypes(x, y)
    x, y = as_array(x), as_array(y)
    if len(x) == 0 or len(y) == 0:
        raise ValueError(f"{op}: inputs cannot be empty, got shapes {x.shape} and {y.shape}.")
    out_order = slice(None)
    if op == "correlate":
        y = conj(y)
        if len(x) < len(y):
            x, y = y, x
            out_order = slice(None, None, -1)
    elif op == "convolve":
        if len(x) < len(y):
            x, y = y, x
        y = flip(y)
    k = y.shape[0]
    if mode == "valid":
        padding = [(0, 0)]
    elif mode == "same":
        padding = [(k // 2, k - k // 2 - 1)]
    elif mode == "full":
        padding = [(k - 1, k - 1)]
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    result = lax.conv_general_dilated(
        x[None, None, :],
        y[None, None, :],
        (1,),
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    return result[0, 0, out_order]


@as_jax_jits("convolve", ("mode", "precision", "preferred_element_type"))
def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """Discrete linear convolution of two 1-d arrays ('full', 'same' or 'valid')."""
    check_arraylike("convolve", a, v)
    return _conv(
        a,
        v,
        mode=mode,
        op="convolve",
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


@as_jax_jits("correlate", ("mode", "precision", "preferred_element_type"))
def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """Cross-correlation of two 1-d arrays ('valid', 'same' or 'full'), v conjugated."""
    check_arraylike("correlate", a, v)
    return _conv(
        a,
        v,
        mode=mode,
        op="correlate",
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
