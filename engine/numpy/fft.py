"""``jnp.fft``: NumPy's discrete Fourier transforms on ``lax.fft``, with JAX's handling
of ``n``/``s`` (crop or zero-pad the input), ``axis``/``axes`` and ``norm``."""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import core, dtypes
from .. import lax as _lax
from ..lax.fft import FftType

__all__ = [
    "fft",
    "ifft",
    "fft2",
    "ifft2",
    "fftn",
    "ifftn",
    "rfft",
    "irfft",
    "rfft2",
    "irfft2",
    "rfftn",
    "irfftn",
    "hfft",
    "ihfft",
    "fftfreq",
    "rfftfreq",
    "fftshift",
    "ifftshift",
]


def _user_errors(fn):
    """Argument errors of a jnp.fft function name the user's line."""
    import functools

    @functools.wraps(fn)
    def wrapper(name, fft_type, a, *args):
        from ..lax.convolution import user_errors
        from ..lax.fft import fft_p

        with user_errors(fft_p, a):
            return fn(name, fft_type, a, *args)

    return wrapper


def _jnp():
    from .. import numpy as jnp

    return jnp


def _norm_factor(s, func_name, norm):
    """The factor applied after lax.fft (whose inverse transforms already divide by n)."""
    if norm is None or norm == "backward":
        return None
    n = float(math.prod(s))
    inverse = func_name.startswith("i")
    if norm == "ortho":
        return math.sqrt(n) if inverse else 1 / math.sqrt(n)
    if norm == "forward":
        return n if inverse else 1 / n
    raise ValueError(f'Invalid norm value {norm}; should be "backward","ortho" or "forward".')


def _scale(x, factor):
    if factor is None:
        return x
    return _lax.mul(x, np.asarray(factor, core.get_aval(x).dtype))


@_user_errors
def _fft_core(func_name, fft_type, a, s, axes, norm):
    jnp = _jnp()
    full_name = f"jax.numpy.fft.{func_name}"
    from ._util import as_operand, check_arraylike

    check_arraylike(full_name, a)
    arr = as_operand(a)
    ndim = len(core.get_aval(arr).shape)
    if s is not None:
        s = tuple(operator.index(d) for d in s)
        if any(d <= 0 for d in s):
            raise ValueError("Shape should be positive.")
    if s is not None and axes is not None and len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    orig_axes = axes
    if axes is None:
        axes = range(ndim) if s is None else range(ndim - len(s), ndim)
    axes = tuple(axes)
    if len(axes) != len(set(axes)):
        raise ValueError(f"{full_name} does not support repeated axes. Got axes {axes}.")
    if orig_axes is not None:
        new_axes = tuple(range(ndim - len(axes), ndim))
        arr = jnp.moveaxis(arr, orig_axes, new_axes)
        axes = new_axes
    shape = core.get_aval(arr).shape
    if s is not None:
        in_s = list(shape)
        for ax, d in zip(axes, s):
            in_s[ax] = d
        if fft_type == FftType.IRFFT:
            in_s[-1] = in_s[-1] // 2 + 1
        if any(want < have for want, have in zip(in_s, shape)):
            arr = _lax.slice(arr, (0,) * ndim, [min(w, h) for w, h in zip(in_s, shape)])
        cur = core.get_aval(arr).shape
        if any(want > have for want, have in zip(in_s, cur)):
            zero = np.zeros((), core.get_aval(arr).dtype)
            arr = _lax.pad(arr, zero, [(0, w - h, 0) for w, h in zip(in_s, cur)])
    elif fft_type == FftType.IRFFT:
        s = [shape[ax] for ax in axes[:-1]]
        if axes:
            s += [max(0, 2 * (shape[axes[-1]] - 1))]
    else:
        s = [shape[ax] for ax in axes]
    out = _fft_nd(arr, fft_type, tuple(s))
    out = _scale(out, _norm_factor(s, func_name, norm))
    if orig_axes is not None:
        out = jnp.moveaxis(out, axes, orig_axes)
    return out


def _fft_nd(arr, fft_type, s):
    """XLA's Fft takes at most 3 axes; more are done 3 (or 2) at a time, as JAX."""
    jnp = _jnp()
    if len(s) <= 3:
        return _lax.fft(arr, fft_type, s)
    ndim = len(core.get_aval(arr).shape)
    n = 2 if len(s) == 4 else 3
    src = tuple(range(ndim - len(s), ndim - n))
    dst = tuple(range(ndim - len(s) + n, ndim))
    if fft_type in (FftType.RFFT, FftType.FFT):
        arr = _lax.fft(arr, fft_type, s[-n:])
        arr = jnp.moveaxis(arr, src, dst)
        arr = _fft_nd(arr, FftType.FFT, s[:-n])
        return jnp.moveaxis(arr, dst, src)
    arr = jnp.moveaxis(arr, src, dst)
    arr = _fft_nd(arr, FftType.IFFT, s[:-n])
    arr = jnp.moveaxis(arr, dst, src)
    return _lax.fft(arr, fft_type, s[-n:])


def _check_1d(func_name, axis):
    if isinstance(axis, (list, tuple)):
        full = f"jax.numpy.fft.{func_name}"
        raise ValueError(
            f"{full} does not support multiple axes. Please use {full}n. Got axis = {axis!r}."
        )


@_user_errors
def _fft_1d(func_name, fft_type, a, n, axis, norm):
    _check_1d(func_name, axis)
    return _fft_core(
        func_name, fft_type, a, None if n is None else [n], None if axis is None else [axis], norm
    )


@_user_errors
def _fft_2d(func_name, fft_type, a, s, axes, norm):
    if len(axes) != 2:
        raise ValueError(f"jax.numpy.fft.{func_name} only supports 2 axes. Got axes = {axes!r}.")
    return _fft_core(func_name, fft_type, a, s, axes, norm)


def fft(a, n=None, axis=-1, norm=None):
    return _fft_1d("fft", FftType.FFT, a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None):
    return _fft_1d("ifft", FftType.IFFT, a, n, axis, norm)


def rfft(a, n=None, axis=-1, norm=None):
    return _fft_1d("rfft", FftType.RFFT, a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None):
    return _fft_1d("irfft", FftType.IRFFT, a, n, axis, norm)


def hfft(a, n=None, axis=-1, norm=None):
    """The FFT of a signal with Hermitian symmetry (given by its first half): real output."""
    jnp = _jnp()
    conj_a = jnp.conj(a)
    _check_1d("hfft", axis)
    nn = (core.get_aval(conj_a).shape[axis] - 1) * 2 if n is None else n
    out = _fft_1d("hfft", FftType.IRFFT, conj_a, n, axis, norm)
    return _scale(out, nn)


def ihfft(a, n=None, axis=-1, norm=None):
    jnp = _jnp()
    _check_1d("ihfft", axis)
    arr = jnp.asarray(a)
    nn = core.get_aval(arr).shape[axis] if n is None else n
    out = _fft_1d("ihfft", FftType.RFFT, arr, n, axis, norm)
    return _scale(jnp.conj(out), 1 / nn)


def fftn(a, s=None, axes=None, norm=None):
    return _fft_core("fftn", FftType.FFT, a, s, axes, norm)


def ifftn(a, s=None, axes=None, norm=None):
    return _fft_core("ifftn", FftType.IFFT, a, s, axes, norm)


def rfftn(a, s=None, axes=None, norm=None):
    return _fft_core("rfftn", FftType.RFFT, a, s, axes, norm)


def irfftn(a, s=None, axes=None, norm=None):
    return _fft_core("irfftn", FftType.IRFFT, a, s, axes, norm)


def fft2(a, s=None, axes=(-2, -1), norm=None):
    return _fft_2d("fft2", FftType.FFT, a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    return _fft_2d("ifft2", FftType.IFFT, a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    return _fft_2d("rfft2", FftType.RFFT, a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    return _fft_2d("irfft2", FftType.IRFFT, a, s, axes, norm)


def _freq_args(name, n, d):
    if isinstance(n, (list, tuple)):
        raise ValueError(
            f"The n argument of jax.numpy.fft.{name} only takes an int. Got n = {list(n)}."
        )
    if isinstance(d, (list, tuple)):
        raise ValueError(
            f"The d argument of jax.numpy.fft.{name} only takes a single value. Got d = {list(d)}."
        )


def fftfreq(n, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an n-point FFT with sample spacing d: [0, 1, ..., -1] / (d n)."""
    jnp = _jnp()
    _freq_args("fftfreq", n, d)
    out_dtype = dtypes.canonicalize_dtype(dtype or dtypes.canonicalize_dtype(np.float64))
    work = out_dtype if dtypes.is_inexact(out_dtype) else dtypes.canonicalize_dtype(np.float64)
    if dtypes.is_complex(work):
        work = dtypes.real_dtype(work)
    i = jnp.arange(n, dtype=work)
    k = jnp.remainder(i + n // 2, n) - n // 2
    out = k / jnp.asarray(d * n, dtype=work)
    return out.astype(out_dtype)


def rfftfreq(n, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (d n)."""
    jnp = _jnp()
    _freq_args("rfftfreq", n, d)
    dtype = dtypes.canonicalize_dtype(dtype or dtypes.canonicalize_dtype(np.float64))
    k = jnp.arange(0, n // 2 + 1, dtype=dtype)
    return k / jnp.asarray(d * n, dtype=dtype)


def _shift(x, axes, sign, name):
    jnp = _jnp()
    from ._util import ensure_array

    x = ensure_array(name, x)
    shape = core.get_aval(x).shape
    if axes is None:
        axes = tuple(range(len(shape)))
        shift = [sign * (d // 2) for d in shape]
    elif isinstance(axes, int):
        shift = sign * (shape[axes] // 2)
    else:
        shift = [sign * (shape[ax] // 2) for ax in axes]
    return jnp.roll(x, shift, axes)


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre."""
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """The inverse of fftshift."""
    return _shift(x, axes, -1, "ifftshift")
