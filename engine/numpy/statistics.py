"""Order statistics and counting: ``quantile``/``percentile``/``median`` (and their NaN-
ignoring forms), ``cov``/``corrcoef``, ``bincount``, ``unique``, ``interp``."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes, lax
from ._jitted import _renamed, as_jax_jits
from ._util import (
    array,
    as_array,
    as_operand,
    asarray,
    canonicalize_axis,
    check_arraylike,
    dtype_of,
    ndim_of,
    promote_args_inexact,
    promote_dtypes_inexact,
    shape_of,
)
from .creation import full
from .indexing import _getitem, take_along_axis
from .linalg_ops import dot
from .misc import bincount, diag
from .reductions import any as any_
from .reductions import average, cumsum
from .reductions import sum as sum_
from .shape_ops import atleast_2d, concatenate, ravel, reshape, squeeze
from .sorting import searchsorted
from .ufuncs import abs as abs_
from .ufuncs import (
    clip,
    conj,
    imag,
    multiply,
    real,
    sqrt,
    subtract,
    true_divide,
    where,
)

__all__ = [
    "quantile",
    "percentile",
    "median",
    "nanquantile",
    "nanpercentile",
    "nanmedian",
    "cov",
    "corrcoef",
    "bincount",
    "interp",
]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest", "inverted_cdf")


@as_jax_jits("quantile", ("axis", "overwrite_input", "keepdims", "method"))
def quantile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """The ``q``-th quantiles along ``axis``: sort, then interpolate between the two
    neighbouring order statistics (``weights`` with ``method='inverted_cdf'`` only).
    Output axes: those of ``q``, then the kept axes."""
    check_arraylike("quantile", a, q)
    if weights is not None:
        check_arraylike("quantile", weights)
    if overwrite_input or out is not None:
        raise ValueError("jax.numpy.quantile does not support overwrite_input=True or out != None")
    return _quantile(as_operand(a), as_operand(q), axis, method, keepdims, False, weights)


@as_jax_jits("nanquantile", ("axis", "overwrite_input", "keepdims", "method"))
def nanquantile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    """``quantile`` of the non-NaN values."""
    check_arraylike("nanquantile", a, q)
    if weights is not None:
        check_arraylike("nanquantile", weights)
    if overwrite_input or out is not None:
        raise ValueError(
            "jax.numpy.nanquantile does not support overwrite_input=True or out != None"
        )
    return _quantile(as_operand(a), as_operand(q), axis, method, keepdims, True, weights)


@as_jax_jits("percentile", ("axis", "overwrite_input", "keepdims", "method"))
def percentile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    check_arraylike("percentile", a, q)
    if weights is not None:
        check_arraylike("percentile", weights)
    (q,) = promote_dtypes_inexact(q)
    return quantile(
        a,
        true_divide(q, 100),
        axis=axis,
        out=out,
        overwrite_input=overwrite_input,
        method=method,
        keepdims=keepdims,
        weights=weights,
    )


@as_jax_jits("nanpercentile", ("axis", "overwrite_input", "keepdims", "method"))
def nanpercentile(
    a,
    q,
    axis=None,
    out=None,
    overwrite_input=False,
    method="linear",
    keepdims=False,
    *,
    weights=None,
):
    check_arraylike("nanpercentile", a, q)
    if weights is not None:
        check_arraylike("nanpercentile", weights)
    (q,) = promote_dtypes_inexact(q)
    return nanquantile(
        a,
        true_divide(q, 100),
        axis=axis,
        out=out,
        overwrite_input=overwrite_input,
        method=method,
        weights=weights,
        keepdims=keepdims,
    )


@as_jax_jits("median", ("axis", "overwrite_input", "keepdims"))
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    check_arraylike("median", a)
    return quantile(
        a,
        0.5,
        axis=axis,
        out=out,
        overwrite_input=overwrite_input,
        keepdims=keepdims,
        method="midpoint",
    )


@as_jax_jits("nanmedian", ("axis", "overwrite_input", "keepdims"))
def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    check_arraylike("nanmedian", a)
    return nanquantile(
        a,
        0.5,
        axis=axis,
        out=out,
        overwrite_input=overwrite_input,
        keepdims=keepdims,
        method="midpoint",
    )


def _const(x, value):
    """A strong constant of ``x``'s dtype (JAX's lax._const for arrays)."""
    return np.asarray(value, dtype_of(x))


def _quantile(a, q, axis, method, keepdims, squash_nans, weights=None):
    """JAX's algorithm: the reduced axes merged into the last, NaNs sorted last (or the
    whole slice NaN), then the two neighbouring order statistics gathered."""
    if method not in _METHODS:
        raise ValueError(
            "method can only be 'linear', 'lower', 'higher', 'midpoint', 'nearest' or "
            "'inverted_cdf'"
        )
    if weights is not None:
        if dtypes.is_complex(dtype_of(weights)):
            raise ValueError("Weights cannot be complex types.")
        if method != "inverted_cdf":
            raise NotImplementedError(
                f"{method} doesn't support weights. Only method 'inverted_cdf' supports weights."
            )
        a, weights = promote_dtypes_inexact(a, weights)
        if shape_of(weights) != shape_of(a):
            if axis is None:
                raise ValueError("Weights shape must match 'a' shape when axis is None.")
            ax_tuple = _axis_tuple(axis, ndim_of(a))
            reduced = tuple(shape_of(a)[ax] for ax in ax_tuple)
            if shape_of(weights) != reduced:
                raise ValueError(
                    f"Weights shape {shape_of(weights)} must match reduction axes {reduced}"
                )
            weights = lax.broadcast_in_dim(weights, shape_of(a), ax_tuple)
    else:
        (a,) = promote_dtypes_inexact(a)
    keepdim = []
    if dtypes.is_complex(dtype_of(a)):
        raise ValueError(
            "quantile does not support complex input, as the operation is poorly defined."
        )
    if axis is None:
        if keepdims:
            keepdim = [1] * ndim_of(a)
        a = ravel(a)
        weights = ravel(weights) if weights is not None else None
        axis = 0
    elif isinstance(axis, tuple):
        nd = ndim_of(a)
        keepdim = list(shape_of(a))
        axis = tuple(canonicalize_axis(ax, nd) for ax in axis)
        if len(set(axis)) != len(axis):
            raise ValueError("repeated axis")
        for ax in axis:
            keepdim[ax] = 1
        dimensions = list(range(nd))
        for i, s in enumerate(sorted(set(range(nd)) - set(axis))):
            dimensions[i], dimensions[s] = dimensions[s], dimensions[i]
        kept = tuple(d for i, d in enumerate(shape_of(a)) if i not in axis)
        merged = kept + (math.prod(d for i, d in enumerate(shape_of(a)) if i in axis),)
        a = lax.reshape(a, merged, tuple(dimensions))
        if weights is not None:
            weights = lax.reshape(weights, merged, tuple(dimensions))
        axis = ndim_of(a) - 1
    else:
        axis = canonicalize_axis(axis, ndim_of(a))
    q_shape, q_ndim = shape_of(q), ndim_of(q)
    if q_ndim > 1:
        raise ValueError(f"q must be have rank <= 1, got shape {q_shape}")
    a_shape = shape_of(a)
    q_orig = q
    if squash_nans:
        a = where(lax.ne(a, a), np.nan, a)  # NaNs positive: they sort last
        if weights is not None:
            a, weights = lax.sort_key_val(a, weights, dimension=axis)
        else:
            a = lax.sort(a, dimension=axis)
        counts = sum_(
            lax.bitwise_not(lax.ne(a, a)), axis=axis, dtype=dtype_of(q), keepdims=keepdims
        )
        reduced_shape = shape_of(counts)
        q = lax.expand_dims(q, tuple(range(q_ndim, len(reduced_shape) + q_ndim)))
        counts = lax.expand_dims(counts, tuple(range(q_ndim)))
        q = lax.mul(q, lax.sub(counts, _const(q, 1)))
        low, high = lax.floor(q), lax.ceil(q)
        high_weight = lax.sub(q, low)
        low_weight = lax.sub(_const(high_weight, 1), high_weight)
        low = lax.max(_const(low, 0), lax.min(low, subtract(counts, 1)))
        high = lax.max(_const(high, 0), lax.min(high, subtract(counts, 1)))
        idt = dtypes.default_int_dtype()
        low, high = lax.convert_element_type(low, idt), lax.convert_element_type(high, idt)
        out_shape = q_shape + reduced_shape
        index = [
            lax.broadcasted_iota(idt, out_shape, dim + q_ndim) for dim in range(len(reduced_shape))
        ]
        if keepdims:
            index[axis] = low
        else:
            index.insert(axis, low)
        low_value = _getitem(a, tuple(index))
        index[axis] = high
        high_value = _getitem(a, tuple(index))
    else:
        a = where(any_(lax.ne(a, a), axis=axis, keepdims=True), np.nan, a)
        if weights is not None:
            a, weights = lax.sort_key_val(a, weights, dimension=axis)
        else:
            a = lax.sort(a, dimension=axis)
        n = a_shape[axis]  # an int, or a symbolic dimension (engine.export)
        n = lax.convert_element_type(n if type(n) is int else n.__jax_array__(), dtype_of(q))
        q = lax.mul(q, subtract(n, 1))
        low, high = lax.floor(q), lax.ceil(q)
        high_weight = lax.sub(q, low)
        low_weight = lax.sub(_const(high_weight, 1), high_weight)
        low = lax.clamp(_const(low, 0), low, subtract(n, 1))
        high = lax.clamp(_const(high, 0), high, subtract(n, 1))
        idt = dtypes.default_int_dtype()
        low, high = lax.convert_element_type(low, idt), lax.convert_element_type(high, idt)
        slice_sizes = list(a_shape)
        slice_sizes[axis] = 1
        rank = len(a_shape) + q_ndim
        dnums = lax.GatherDimensionNumbers(
            offset_dims=tuple(range(q_ndim, rank if keepdims else rank - 1)),
            collapsed_slice_dims=() if keepdims else (axis,),
            start_index_map=(axis,),
        )
        low_value = lax.gather(a, _getitem(low, (Ellipsis, None)), dnums, tuple(slice_sizes))
        high_value = lax.gather(a, _getitem(high, (Ellipsis, None)), dnums, tuple(slice_sizes))
        if q_ndim == 1:
            low_weight = lax.broadcast_in_dim(low_weight, shape_of(low_value), (0,))
            high_weight = lax.broadcast_in_dim(high_weight, shape_of(high_value), (0,))
    if method == "linear":
        result = lax.add(
            lax.mul(lax.convert_element_type(low_value, dtype_of(q)), low_weight),
            lax.mul(lax.convert_element_type(high_value, dtype_of(q)), high_weight),
        )
    elif method == "lower":
        result = low_value
    elif method == "higher":
        result = high_value
    elif method == "nearest":
        result = _select(lax.le(high_weight, _const(high_weight, 0.5)), low_value, high_value)
    elif method == "midpoint":
        result = lax.mul(lax.add(low_value, high_value), _const(low_value, 0.5))
    else:
        result = _inverted_cdf(a, weights, q_orig, axis, keepdims, squash_nans, a_shape)
    if keepdims and keepdim:
        if q_ndim > 0:
            keepdim = [q_shape[0], *keepdim]
        result = reshape(result, keepdim)
    return lax.convert_element_type(result, dtype_of(a))


def _select(pred, on_true, on_false):
    return lax.select_n(pred, on_false, on_true)


def _axis_tuple(axis, nd):
    return tuple(canonicalize_axis(ax, nd) for ax in (axis if isinstance(axis, tuple) else (axis,)))


def _inverted_cdf(a, weights, q, axis, keepdims, squash_nans, a_shape):
    """The first sorted value whose cumulative weight reaches ``q`` of the total (NaN
    where a weight is negative or NaN, or the data is NaN)."""
    q_ndim = ndim_of(q)
    if weights is None:
        weights = lax.full_like(a, 1.0)
    zeros_ = lax.full_like(weights, 0)
    bad_weights = lax.bitwise_or(lax.lt(weights, zeros_), lax.ne(weights, weights))
    nan_data = lax.ne(a, a)
    clean = _select(lax.bitwise_or(bad_weights, nan_data), zeros_, weights)
    cum_weights = cumsum(clean, axis=axis)
    total_weight = lax.index_in_dim(cum_weights, -1, axis=axis, keepdims=keepdims)
    target = lax.mul(
        lax.reshape(q, shape_of(q) + (1,) * ndim_of(total_weight)),
        lax.expand_dims(total_weight, tuple(range(q_ndim))),
    )
    if not keepdims:
        target = lax.expand_dims(target, (axis + q_ndim,))
    is_less = lax.lt(lax.expand_dims(cum_weights, tuple(range(q_ndim))), target)
    idx = sum_(
        lax.convert_element_type(is_less, dtypes.default_int_dtype()),
        axis=axis + q_ndim,
        keepdims=keepdims,
    )
    if squash_nans:
        valid_counts = sum_(
            lax.bitwise_not(nan_data), axis=axis, dtype=dtype_of(q), keepdims=keepdims
        )
    else:
        valid_counts = lax.full_like(total_weight, a_shape[axis], dtype=dtype_of(q))
    max_idx = lax.convert_element_type(
        lax.sub(valid_counts, _const(valid_counts, 1)), dtypes.default_int_dtype()
    )
    max_idx = lax.convert_element_type(
        lax.expand_dims(max_idx, tuple(range(q_ndim))), dtype_of(idx)
    )
    idx = lax.max(_const(idx, 0), lax.min(idx, max_idx))
    idx_take = lax.squeeze(idx, (q_ndim + axis,)) if keepdims else idx
    if q_ndim == 0:
        result = take_along_axis(a, lax.expand_dims(idx_take, (axis,)), axis=axis)
        result = lax.squeeze(result, (axis,))
    else:
        perm = [
            *range(q_ndim, q_ndim + axis),
            *range(q_ndim),
            *range(q_ndim + axis, ndim_of(idx_take)),
        ]
        result = take_along_axis(a, lax.transpose(idx_take, tuple(perm)), axis=axis)
        result = lax.transpose(result, tuple(perm.index(i) for i in range(len(perm))))
    if keepdims:
        result = lax.expand_dims(result, (q_ndim + axis,))
    all_nan = lax.eq(valid_counts, lax.full_like(valid_counts, 0))
    any_bad = any_(bad_weights, axis=axis, keepdims=keepdims)
    if squash_nans:
        force_nan = lax.bitwise_or(any_bad, all_nan)
    else:
        force_nan = lax.bitwise_or(any_bad, any_(nan_data, axis=axis, keepdims=keepdims))
    force_nan = lax.expand_dims(force_nan, tuple(range(q_ndim)))
    return where(force_nan, lax.full_like(result, np.nan), result)


@as_jax_jits("cov", ("rowvar", "bias", "ddof", "dtype"))
def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None):
    """Covariance of the variables in the rows (or columns) of ``m`` (and ``y``), with
    integer frequency and real observation weights."""
    if y is not None:
        m, y = promote_args_inexact("cov", m, y)
        if ndim_of(y) > 2:
            raise ValueError("y has more than 2 dimensions")
    else:
        (m,) = promote_args_inexact("cov", m)
    if ndim_of(m) > 2:
        raise ValueError("m has more than 2 dimensions")
    if dtype is not None and not dtypes.is_inexact(dtype):
        raise ValueError(f"cov: dtype must be a subclass of float or complex; got {dtype=}")
    x = atleast_2d(m)
    if not rowvar and ndim_of(m) != 1:
        x = lax.transpose(x, (1, 0))
    if shape_of(x)[0] == 0:
        return reshape(array([]), (0, 0))
    if y is not None:
        y = atleast_2d(y)
        if not rowvar and shape_of(y)[0] != 1:
            y = lax.transpose(y, (1, 0))
        x = concatenate((x, y), axis=0)
    if shape_of(x)[1] == 0:
        n = shape_of(x)[0]
        return full(() if n == 1 else (n, n), np.nan, dtype=dtype_of(x))
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w = None
    if fweights is not None:
        check_arraylike("cov", fweights)
        if np.ndim(fweights) > 1:
            raise RuntimeError("cannot handle multidimensional fweights")
        if np.shape(fweights)[0] != shape_of(x)[1]:
            raise RuntimeError("incompatible numbers of samples and fweights")
        if not dtypes.is_int(dtype_of(fweights)):
            raise TypeError("fweights must be integer.")
        w = abs_(fweights)  # NumPy raises for negative weights
    if aweights is not None:
        check_arraylike("cov", aweights)
        if np.ndim(aweights) > 1:
            raise RuntimeError("cannot handle multidimensional aweights")
        if np.shape(aweights)[0] != shape_of(x)[1]:
            raise RuntimeError("incompatible numbers of samples and aweights")
        aweights = abs_(aweights)
        w = asarray(aweights if w is None else multiply(w, aweights))
    if dtype is not None:
        x = lax.convert_element_type(x, dtype)
        w = lax.convert_element_type(w, dtype) if w is not None else w
    avg, w_sum = average(x, axis=1, weights=w, returned=True)
    w_sum = _getitem(w_sum, 0)
    if w is None:
        f = shape_of(x)[1] - ddof
    elif ddof == 0:
        f = w_sum
    elif aweights is None:
        f = subtract(w_sum, ddof)
    else:
        f = subtract(w_sum, true_divide(multiply(ddof, sum_(multiply(w, aweights))), w_sum))
    x = subtract(x, _getitem(avg, (slice(None), None)))
    x_t = lax.transpose(
        x if w is None else multiply(x, lax.broadcast_to_rank(w, ndim_of(x))), (1, 0)
    )
    return squeeze(true_divide(dot(x, conj(x_t)), f))


@as_jax_jits("corrcoef", ("rowvar", "dtype"))
def corrcoef(x, y=None, rowvar=True, dtype=None):
    """Pearson correlation coefficients: ``cov`` over the outer product of its standard
    deviations, clipped to [-1, 1] (each part of a complex value)."""
    check_arraylike("corrcoef", x)
    if dtype is not None and not dtypes.is_inexact(dtype):
        raise ValueError(f"corrcoef: dtype must be a subclass of float or complex; got {dtype=}")
    c = cov(x, y, rowvar, dtype=dtype)
    if ndim_of(c) == 0:  # nan for nan/nan, inf/inf or 0/0; else 1
        return true_divide(c, c)
    stddev = lax.convert_element_type(sqrt(real(diag(c))), dtype_of(c))
    c = true_divide(
        true_divide(c, _getitem(stddev, (slice(None), None))), _getitem(stddev, (None, slice(None)))
    )
    real_part = clip(real(c), -1, 1)
    if dtypes.is_complex(dtype_of(c)):
        return lax.complex(real_part, clip(imag(c), -1, 1))
    return real_part


def _interp(x, xp, fp, left=None, right=None, period=None):
    check_arraylike("interp", x, xp, fp)
    if np.shape(xp) != np.shape(fp) or np.ndim(xp) != 1:
        raise ValueError("xp and fp must be one-dimensional arrays of equal size")
    x_arr, xp_arr = promote_dtypes_inexact(x, xp)
    (fp_arr,) = promote_dtypes_inexact(fp)
    x_arr, xp_arr, fp_arr = as_array(x_arr), as_array(xp_arr), as_array(fp_arr)
    extrapolate = []
    for name, side in (("left", left), ("right", right)):
        if isinstance(side, str) and side != "extrapolate":
            raise ValueError(
                f"the only valid string value of `{name}` is 'extrapolate', but got: {side!r}"
            )
        extrapolate.append(isinstance(side, str))
    if dtypes.is_complex(dtype_of(x_arr)):
        raise ValueError("jnp.interp: complex x values not supported.")
    if period is not None:
        if np.ndim(period) != 0:
            raise ValueError(f"period must be a scalar; got {period}")
        period = abs_(period)
        x_arr = x_arr % period
        xp_arr = xp_arr % period
        xp_arr, fp_arr = lax.sort_key_val(xp_arr, fp_arr)
        xp_arr = concatenate([xp_arr[-1:] - period, xp_arr, xp_arr[:1] + period])
        fp_arr = concatenate([fp_arr[-1:], fp_arr, fp_arr[:1]])
    i = clip(searchsorted(xp_arr, x_arr, side="right"), 1, len(xp_arr) - 1)
    df = fp_arr[i] - fp_arr[i - 1]
    dx = xp_arr[i] - xp_arr[i - 1]
    delta = x_arr - xp_arr[i - 1]
    epsilon = np.spacing(np.finfo(dtype_of(xp_arr)).eps)
    dx0 = lax.abs(dx) <= epsilon  # no NaN gradients where dx is (nearly) zero
    f = where(dx0, fp_arr[i - 1], fp_arr[i - 1] + (delta / where(dx0, 1, dx)) * df)
    if not extrapolate[0]:
        left_arr = fp_arr[0] if left is None else left
        if period is None:
            f = where(x_arr < xp_arr[0], left_arr, f)
    if not extrapolate[1]:
        right_arr = fp_arr[-1] if right is None else right
        if period is None:
            f = where(x_arr > xp_arr[-1], right_arr, f)
    return f


_INTERP_JITS: dict = {}


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (``xp``, ``fp``) at ``x`` (``xp`` increasing);
    JAX's ``jit`` of ``_interp``, with ``left``/``right`` static when strings or None
    and ``period`` static when None."""
    from ..jit import jit

    static = []
    if isinstance(left, str) or left is None:
        static.append("left")
    if isinstance(right, str) or right is None:
        static.append("right")
    if period is None:
        static.append("period")
    key = tuple(static)
    if key not in _INTERP_JITS:
        _INTERP_JITS[key] = jit(_renamed(_interp, "_interp"), static_argnames=key)
    return _INTERP_JITS[key](x, xp, fp, left, right, period)
