"""lax.fft: XLA's Fft over the trailing ``len(fft_lengths)`` axes (FFT, IFFT, RFFT, IRFFT).

Every variant is linear. FFT and IFFT are their own transposes (the DFT matrix is
symmetric); the transposes of RFFT and IRFFT are an IRFFT/RFFT with the bins that stand
for two conjugate frequencies weighted by 2, as JAX does."""

from __future__ import annotations

import enum
import math

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching
from ..interpreters.jvp import deflinear
from . import elementwise as ew
from .convert import convert_element_type

__all__ = ["fft", "FftType", "fft_p"]


class FftType(enum.IntEnum):
    """Which transform lax.fft computes."""

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


_NAMES = {"fft": FftType.FFT, "ifft": FftType.IFFT, "rfft": FftType.RFFT, "irfft": FftType.IRFFT}

fft_p = Primitive("fft")


def _complex_dtype(dtype):
    return (
        np.dtype(np.complex128)
        if np.dtype(dtype) in (np.float64, np.complex128)
        else np.dtype(np.complex64)
    )


def _real_dtype(dtype):
    return (
        np.dtype(np.float64)
        if np.dtype(dtype) in (np.float64, np.complex128)
        else np.dtype(np.float32)
    )


def fft(x, fft_type, fft_lengths):
    """The transform ``fft_type`` ('fft', 'ifft', 'rfft', 'irfft' or an FftType) over
    the last ``len(fft_lengths)`` axes of ``x``."""
    from .convolution import user_errors

    with user_errors(fft_p, x):
        from ..numpy._util import as_operand

        if isinstance(fft_type, str):
            if fft_type.lower() not in _NAMES or fft_type not in (
                fft_type.lower(),
                fft_type.upper(),
            ):
                raise ValueError(f"Unknown FFT type '{fft_type}'")
            typ = _NAMES[fft_type.lower()]
        elif isinstance(fft_type, FftType):
            typ = fft_type
        else:
            raise TypeError(f"Unknown FFT type value '{fft_type}'")
        x = as_operand(x)
        dtype = core.get_aval(x).dtype
        if typ == FftType.RFFT:
            if dtypes.is_complex(dtype):
                raise ValueError("only real valued inputs supported for rfft")
            target = (
                dtypes.canonicalize_dtype(np.float64) if not dtypes.is_inexact(dtype) else dtype
            )
        else:
            target = (
                dtype
                if dtypes.is_complex(dtype)
                else dtypes.canonicalize_dtype(
                    _complex_dtype(dtype) if dtypes.is_inexact(dtype) else np.complex128
                )
            )
        if target != dtype:
            x = convert_element_type(x, target)
        fft_lengths = tuple(int(n) for n in fft_lengths)
        if not fft_lengths:
            return x
    return fft_p.bind(x, fft_type=typ, fft_lengths=fft_lengths)


fft_p.pp_params = lambda p: {"fft_lengths": p["fft_lengths"], "fft_type": int(p["fft_type"])}


@fft_p.def_abstract_eval
def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    if k > x.ndim:
        raise ValueError(
            f"FFT input shape {x.shape} must have at least as many input dimensions as "
            f"fft_lengths {fft_lengths}."
        )
    if fft_type == FftType.RFFT:
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"RFFT input must be float32 or float64, got {x.dtype}")
        if x.shape[-k:] != fft_lengths:
            raise ValueError(
                f"RFFT input shape {x.shape} minor dimensions must be equal to fft_lengths "
                f"{fft_lengths}"
            )
        shape = x.shape[:-k] + fft_lengths[:-1] + (fft_lengths[-1] // 2 + 1,)
        dtype = _complex_dtype(x.dtype)
    elif fft_type == FftType.IRFFT:
        if not dtypes.is_complex(x.dtype):
            raise ValueError(f"IRFFT input must be complex64 or complex128, got {x.dtype}")
        if x.shape[-k:-1] != fft_lengths[:-1]:
            raise ValueError(
                f"IRFFT input shape {x.shape} minor dimensions must be equal to all except "
                f"the last fft_length, got fft_lengths={fft_lengths}"
            )
        shape = x.shape[:-k] + fft_lengths
        dtype = _real_dtype(x.dtype)
    else:
        if not dtypes.is_complex(x.dtype):
            raise ValueError(f"FFT input must be complex64 or complex128, got {x.dtype}")
        if x.shape[-k:] != fft_lengths:
            raise ValueError(
                f"FFT input shape {x.shape} minor dimensions must be equal to fft_lengths "
                f"{fft_lengths}"
            )
        shape, dtype = x.shape, x.dtype
    return ShapedArray(shape, dtype)


@fft_p.def_lowering
def _fft_lowering(ctx, x, *, fft_type, fft_lengths):
    if (
        ctx.platform in ("cuda", "rocm", "gpu")
        and fft_type == FftType.IRFFT
        and len(fft_lengths) > 1
    ):
        # As JAX on GPU: a multi-axis IRFFT is an IFFT over the outer axes (with the last
        # axis moved out of the way), then a 1-d IRFFT over the last axis.
        rank = ctx.avals_in[0].ndim
        at = rank - len(fft_lengths)
        perm_out = list(range(rank))
        perm_out.insert(at, perm_out.pop(-1))
        x = hlo.transpose(x, perm_out)
        x = hlo.fft(x, hlo.FftTypeAttr.get("IFFT"), list(fft_lengths[:-1]))
        perm_in = list(range(rank))
        perm_in.append(perm_in.pop(at))
        x = hlo.transpose(x, perm_in)
        return hlo.fft(x, hlo.FftTypeAttr.get("IRFFT"), [fft_lengths[-1]])
    return hlo.fft(x, hlo.FftTypeAttr.get(fft_type.name), list(fft_lengths))


def _two_sided_mask(n_bins, n, dtype, ndim):
    """1 for the bins without a conjugate partner (DC, and Nyquist when n is even), 2
    for the rest: how often each rfft bin appears in the full spectrum. Built in the
    program as JAX builds it (a folded-in NumPy constant became a parameter of a
    partitioned program, and XLA CPU's FFT then refused the layout it was given)."""
    from .slicing import dynamic_update_slice
    from .structural import expand_dims, full

    mask = full((n_bins,), 2.0, dtype)
    mask = dynamic_update_slice(mask, full((1,), 1.0, dtype), (0,))
    if n % 2 == 0:
        mask = dynamic_update_slice(mask, full((1,), 1.0, dtype), (n_bins - 1,))
    return expand_dims(mask, tuple(range(ndim - 1)))


def _rfft_transpose(t, fft_lengths):
    aval = core.get_aval(t)
    mask = _two_sided_mask(aval.shape[-1], fft_lengths[-1], aval.dtype, aval.ndim)
    out = fft(ew.div(ew.conj(t), mask), FftType.IRFFT, fft_lengths)
    n = math.prod(fft_lengths)
    return ew.mul(np.asarray(n, core.get_aval(out).dtype), out)


def _irfft_transpose(t, fft_lengths):
    x = fft(t, FftType.RFFT, fft_lengths)
    aval = core.get_aval(x)
    mask = _two_sided_mask(aval.shape[-1], fft_lengths[-1], aval.dtype, aval.ndim)
    scale = np.asarray(1 / math.prod(fft_lengths), aval.dtype)
    return ew.conj(ew.mul(ew.mul(scale, mask), x))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    return [fft(ct, fft_type, fft_lengths)]


deflinear(fft_p, _fft_transpose)


def _fft_batch(size, vals, dims, *, fft_type, fft_lengths):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    return fft_p.bind(x, fft_type=fft_type, fft_lengths=fft_lengths), 0


fft_p.def_batch(_fft_batch)
