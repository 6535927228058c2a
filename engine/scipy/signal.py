"""``jax.scipy.signal``'s convolutions: convolve/correlate (n-d, direct or by FFT),
convolve2d/correlate2d and fftconvolve, computed as JAX computes them."""

from __future__ import annotations

import numpy as np

from .. import core, lax
from ..numpy import fft as _fft
from ..numpy._util import check_arraylike, promote_dtypes_inexact, shape_of

__all__ = ["convolve", "convolve2d", "correlate", "correlate2d", "fftconvolve"]


def _flip(x):
    return lax.rev(x, tuple(range(len(shape_of(x)))))


def _conj(x):
    from .. import dtypes

    return lax.conj(x) if dtypes.is_complex(core.get_aval(x).dtype) else x


def _convolve_nd(in1, in2, mode, precision):
    if mode not in ("full", "same", "valid"):
        raise ValueError("mode must be one of ['full', 'same', 'valid']")
    if len(shape_of(in1)) != len(shape_of(in2)):
        raise ValueError("in1 and in2 must have the same number of dimensions")
    if 0 in shape_of(in1) or 0 in shape_of(in2):
        raise ValueError(
            "zero-size arrays not supported in convolutions, got shapes "
            f"{shape_of(in1)} and {shape_of(in2)}."
        )
    in1, in2 = promote_dtypes_inexact(in1, in2)
    s1, s2 = shape_of(in1), shape_of(in2)
    no_swap = all(a >= b for a, b in zip(s1, s2))
    swap = all(a <= b for a, b in zip(s1, s2))
    if not (no_swap or swap):
        raise ValueError("One input must be smaller than the other in every dimension.")
    shape_o = s2
    if swap:
        in1, in2 = in2, in1
    shape = shape_of(in2)
    in2 = _flip(in2)
    if mode == "valid":
        padding = [(0, 0) for _ in shape]
    elif mode == "same":
        padding = [(s - 1 - (so - 1) // 2, s - so + (so - 1) // 2) for s, so in zip(shape, shape_o)]
    else:
        padding = [(s - 1, s - 1) for s in shape]
    nd = len(shape)
    out = lax.conv_general_dilated(
        lax.expand_dims(in1, (0, 1)),
        lax.expand_dims(in2, (0, 1)),
        (1,) * nd,
        padding,
        precision=precision,
    )
    return lax.squeeze(out, (0, 1))


def fftconvolve(in1, in2, mode="full", axes=None):
    """Convolution by FFT (rfftn for real inputs), over all axes or ``axes`` (the others
    are mapped, and must match)."""
    from ..api import vmap

    check_arraylike("fftconvolve", in1, in2)
    in1, in2 = promote_dtypes_inexact(in1, in2)
    ndim = len(shape_of(in1))
    if ndim != len(shape_of(in2)):
        raise ValueError("in1 and in2 should have the same dimensionality")
    if mode not in ("same", "full", "valid"):
        raise ValueError("mode must be one of ['same', 'full', 'valid']")
    fn = lambda a, b: _fftconvolve_unbatched(a, b, mode)  # noqa: E731
    if axes is None:
        return fn(in1, in2)
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    axes = tuple(a % ndim for a in axes)
    mapped = set(range(ndim)) - set(axes)
    if any(shape_of(in1)[i] != shape_of(in2)[i] for i in mapped):
        raise ValueError(
            f"mapped axes must have same shape; got in1.shape={shape_of(in1)} "
            f"in2.shape={shape_of(in2)} axes={axes}"
        )
    for ax in sorted(mapped):
        fn = vmap(fn, in_axes=ax, out_axes=ax)
    return fn(in1, in2)


def _fftconvolve_unbatched(in1, in2, mode):
    from .. import dtypes

    s1, s2 = shape_of(in1), shape_of(in2)
    full_shape = tuple(a + b - 1 for a, b in zip(s1, s2))
    if mode == "valid":
        no_swap = all(a >= b for a, b in zip(s1, s2))
        swap = all(a <= b for a, b in zip(s1, s2))
        if not (no_swap or swap):
            raise ValueError(
                "For 'valid' mode, One input must be at least as large as the other in "
                "every dimension."
            )
        if swap:
            in1, in2 = in2, in1
            s1, s2 = s2, s1
    if all(a == 1 or b == 1 for a, b in zip(s1, s2)):
        conv = lax.mul(*_bcast(in1, in2))
    else:
        if dtypes.is_complex(core.get_aval(in1).dtype):
            fwd, inv = _fft.fftn, _fft.ifftn
        else:
            fwd, inv = _fft.rfftn, _fft.irfftn
        conv = inv(lax.mul(fwd(in1, full_shape), fwd(in2, full_shape)), full_shape)
    if mode == "full":
        out_shape = full_shape
    elif mode == "same":
        out_shape = s1
    else:
        out_shape = tuple(a - b + 1 for a, b in zip(s1, s2))
    starts = tuple((f - o) // 2 for f, o in zip(full_shape, out_shape))
    return lax.slice(conv, starts, tuple(s + o for s, o in zip(starts, out_shape)))


def _bcast(a, b):
    from ..numpy import broadcast_arrays

    return broadcast_arrays(a, b)


def convolve(in1, in2, mode="full", method="auto", precision=None):
    """N-d convolution ('full', 'same', 'valid'); method 'direct'/'auto' (XLA's
    convolution) or 'fft'."""
    if method == "fft":
        return fftconvolve(in1, in2, mode=mode)
    if method in ("direct", "auto"):
        return _convolve_nd(in1, in2, mode, precision)
    raise ValueError(f"Got method={method!r}; expected 'auto', 'fft', or 'direct'.")


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, precision=None):
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError("convolve2d() only supports boundary='fill', fillvalue=0")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError("convolve2d() only supports 2-dimensional inputs.")
    return _convolve_nd(in1, in2, mode, precision)


def correlate(in1, in2, mode="full", method="auto", precision=None):
    """N-d cross-correlation: convolution with the flipped, conjugated ``in2``."""
    from ..numpy._util import as_operand

    return convolve(in1, _flip(_conj(as_operand(in2))), mode, method=method, precision=precision)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, precision=None):
    from ..numpy._util import as_operand

    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError("correlate2d() only supports boundary='fill', fillvalue=0")
    if np.ndim(in1) != 2 or np.ndim(in2) != 2:
        raise ValueError("correlate2d() only supports 2-dimensional inputs.")
    in1, in2 = as_operand(in1), as_operand(in2)
    s1, s2 = shape_of(in1), shape_of(in2)
    swap = all(a <= b for a, b in zip(s1, s2))
    same = all(a == b for a, b in zip(s1, s2))
    if mode == "same":
        return _flip(_convolve_nd(_flip(in1), _conj(in2), mode, precision))
    if mode == "valid":
        if swap and not same:
            return _convolve_nd(_flip(in2), _conj(in1), mode, precision)
        return _flip(_convolve_nd(_flip(in1), _conj(in2), mode, precision))
    if swap:
        return _conj(_convolve_nd(_flip(in2), _conj(in1), mode, precision))
    return _flip(_convolve_nd(_flip(in1), _conj(in2), mode, precision))
