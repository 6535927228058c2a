"""``jnp.convolve`` and ``jnp.correlate``: 1-d discrete convolution and correlation as a
``lax.conv_general_dilated`` over a one-element batch and channel, as JAX computes them."""

from __future__ import annotations

from .. import lax
from ._util import check_arraylike, promote_dtypes, promote_dtypes_inexact, shape_of

__all__ = ["convolve", "correlate"]


def _conv(x, y, mode, op, precision, preferred_element_type):
    if len(shape_of(x)) != 1 or len(shape_of(y)) != 1:
        raise ValueError(f"{op}() only support 1-dimensional inputs.")
    if preferred_element_type is None:
        x, y = promote_dtypes_inexact(x, y)
    else:
        x, y = promote_dtypes(x, y)
    nx, ny = shape_of(x)[0], shape_of(y)[0]
    if nx == 0 or ny == 0:
        raise ValueError(
            f"{op}: inputs cannot be empty, got shapes {shape_of(x)} and {shape_of(y)}."
        )
    reverse_out = False
    if op == "correlate":
        y = lax.conj(y) if _is_complex(y) else y
        if nx < ny:
            x, y = y, x
            reverse_out = True
    else:
        if nx < ny:
            x, y = y, x
        y = lax.rev(y, (0,))
    k = shape_of(y)[0]
    if mode == "valid":
        padding = [(0, 0)]
    elif mode == "same":
        padding = [(k // 2, k - k // 2 - 1)]
    elif mode == "full":
        padding = [(k - 1, k - 1)]
    else:
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    out = lax.conv_general_dilated(
        lax.expand_dims(x, (0, 1)),
        lax.expand_dims(y, (0, 1)),
        (1,),
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )
    out = lax.squeeze(out, (0, 1))
    return lax.rev(out, (0,)) if reverse_out else out


def _is_complex(x):
    from .. import core, dtypes

    return dtypes.is_complex(core.get_aval(x).dtype)


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """Discrete linear convolution of two 1-d arrays ('full', 'same' or 'valid')."""
    check_arraylike("convolve", a, v)
    return _conv(a, v, mode, "convolve", precision, preferred_element_type)


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """Cross-correlation of two 1-d arrays ('valid', 'same' or 'full'), v conjugated."""
    check_arraylike("correlate", a, v)
    return _conv(a, v, mode, "correlate", precision, preferred_element_type)
