"""Order statistics and counting: ``quantile``/``percentile``/``median`` (and their NaN-
ignoring forms), ``cov``/``corrcoef``, ``bincount``, ``unique``, ``interp``."""

from __future__ import annotations

import math

import numpy as np

from .. import dtypes, lax
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    check_arraylike,
    concrete_value,
    dtype_of,
    ndim_of,
    promote_args_inexact,
    promote_dtypes_inexact,
    reduction_axes,
    shape_of,
    weak_scalar,
)
from .creation import zeros
from .indexing import take, take_along_axis
from .linalg_ops import dot
from .misc import diagonal
from .reductions import any as any_
from .reductions import mean
from .reductions import sum as sum_
from .shape_ops import atleast_2d, concatenate, moveaxis, reshape
from .sorting import argsort, searchsorted
from .ufuncs import add, clip, remainder, sqrt, subtract, where

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
    "unique",
    "interp",
]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    """The ``q``-th quantiles along ``axis``: sort, then interpolate between the two
    neighbouring order statistics. Output axes: those of ``q``, then the kept axes."""
    return _quantile("quantile", a, q, axis, method, keepdims, nan_aware=False)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    check_arraylike("percentile", a, q)
    (q,) = promote_dtypes_inexact(q)
    return _quantile(
        "percentile",
        a,
        lax.div(q, weak_scalar(100, dtype_of(q))),
        axis,
        method,
        keepdims,
        nan_aware=False,
    )


@as_jax_jits("median", ("axis", "overwrite_input", "keepdims"))
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims, nan_aware=False)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False):
    return _quantile("nanquantile", a, q, axis, method, keepdims, nan_aware=True)


def nanpercentile(
    a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False
):
    check_arraylike("nanpercentile", a, q)
    (q,) = promote_dtypes_inexact(q)
    return _quantile(
        "nanpercentile",
        a,
        lax.div(q, weak_scalar(100, dtype_of(q))),
        axis,
        method,
        keepdims,
        nan_aware=True,
    )


@as_jax_jits("nanmedian", ("axis", "overwrite_input", "keepdims"))
def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, nan_aware=True)


def _quantile(name, a, q, axis, method, keepdims, nan_aware):

    check_arraylike(name, a, q)
    if method not in _METHODS:
        raise ValueError(f"method can only be one of {list(_METHODS)}, got {method!r}")
    a, q = (
        promote_args_inexact(name, a, q)
        if ndim_of(q) == 0
        else [as_array(x) for x in promote_dtypes_inexact(a, q)]
    )
    a, q = as_array(a), as_array(q)
    if ndim_of(q) > 1:
        raise ValueError(f"q must be have rank <= 1, got shape {shape_of(q)}")
    dt = dtype_of(a)
    nd = ndim_of(a)
    axes = reduction_axes(axis, nd)
    # move the reduced axes to the end and merge them into one
    kept = [i for i in range(nd) if i not in axes]
    a = moveaxis(a, axes, tuple(range(len(kept), nd))) if axes else a
    kept_shape = tuple(shape_of(a)[: len(kept)])
    n = math.prod(shape_of(a)[len(kept) :])  # an int, or a symbolic size (engine.export)
    a = reshape(a, kept_shape + (n,))
    is_nan = lax.ne(a, a)
    a = lax.sort(a, dimension=len(kept_shape))  # NaNs sort last
    if nan_aware:
        count = sum_(lax.bitwise_not(is_nan), axis=-1, keepdims=True, dtype=dt)
    else:
        count = (
            lax.full(kept_shape + (1,), n, dt)
            if type(n) is int
            else lax.broadcast_in_dim(
                lax.convert_element_type(n.__jax_array__(), dt), kept_shape + (1,), ()
            )
        )
    q_shape = shape_of(q)
    qb = lax.broadcast_in_dim(
        q,
        kept_shape + (1,) + q_shape,
        tuple(range(len(kept_shape) + 1, len(kept_shape) + 1 + len(q_shape))),
    )
    count_b = lax.broadcast_in_dim(
        count, kept_shape + (1,) + q_shape, tuple(range(len(kept_shape) + 1))
    )
    last = lax.max(lax.sub(count_b, weak_scalar(1, dt)), weak_scalar(0, dt))
    pos = lax.mul(qb, last)
    low, high = lax.floor(pos), lax.ceil(pos)
    idt = dtypes.default_int_dtype()
    flat_q = int(np.prod(q_shape, dtype=np.int64))
    lead = kept_shape + (flat_q,)

    def gather(idx):
        idx = reshape(lax.convert_element_type(idx, idt), lead)
        return take_along_axis(a, idx, axis=-1)

    lo_val, hi_val = gather(low), gather(high)
    frac = reshape(lax.sub(pos, low), lead)
    if method == "linear":
        out = lax.add(lo_val, lax.mul(frac, lax.sub(hi_val, lo_val)))
    elif method == "lower":
        out = lo_val
    elif method == "higher":
        out = hi_val
    elif method == "midpoint":
        out = lax.mul(lax.add(lo_val, hi_val), weak_scalar(0.5, dt))
    else:  # nearest: the lower neighbour unless the position is past the midpoint
        out = lax.select_n(lax.le(frac, weak_scalar(0.5, dt)), hi_val, lo_val)
    if not nan_aware:
        has_nan = any_(is_nan, axis=-1, keepdims=True)
        out = where(has_nan, weak_scalar(np.nan, dt), out)
    # (kept..., q...) -> (q..., kept...), with reduced axes as size 1 when keepdims
    out = reshape(out, kept_shape + q_shape)
    out = (
        moveaxis(
            out,
            tuple(range(len(kept_shape), len(kept_shape) + len(q_shape))),
            tuple(range(len(q_shape))),
        )
        if q_shape and kept_shape
        else out
    )
    if keepdims:
        full = list(shape_of(as_operand(out))[len(q_shape) :])
        for ax in axes:
            full.insert(ax, 1)
        out = reshape(out, q_shape + tuple(full))
    return lax.convert_element_type(out, dt, False)  # reductions are never weakly typed


@as_jax_jits("cov", ("rowvar", "bias", "ddof", "dtype"))
def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """Covariance of the variables in the rows (or columns) of ``m`` (and ``y``)."""

    check_arraylike("cov", m)
    if fweights is not None or aweights is not None:
        raise NotImplementedError("jnp.cov: fweights/aweights are not supported")
    (m,) = promote_dtypes_inexact(m)
    x = atleast_2d(m)
    if not rowvar and shape_of(x)[0] != 1:
        x = lax.transpose(x, (1, 0))
    if y is not None:
        (y,) = promote_dtypes_inexact(y)
        y = atleast_2d(y)
        if not rowvar and shape_of(y)[0] != 1:
            y = lax.transpose(y, (1, 0))
        x = concatenate([x, y], 0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = shape_of(x)[1]
    centered = lax.sub(x, mean(x, axis=1, keepdims=True))
    c = dot(
        centered,
        lax.conj(lax.transpose(centered, (1, 0)))
        if dtypes.is_complex(dtype_of(centered))
        else lax.transpose(centered, (1, 0)),
    )
    out = lax.div(c, weak_scalar(n - ddof, dtype_of(c)))
    return (
        lax.squeeze(out, tuple(i for i, d in enumerate(shape_of(out)) if d == 1))
        if shape_of(out) == (1, 1)
        else out
    )


@as_jax_jits("corrcoef", ("rowvar", "dtype"))
def corrcoef(x, y=None, rowvar=True):

    c = as_array(cov(x, y, rowvar))
    if ndim_of(c) == 0:
        return lax.div(c, c)
    d = lax.reshape(_diag(c), (shape_of(c)[0],))
    std = sqrt(d)
    out = lax.div(lax.div(c, lax.expand_dims(std, (1,))), lax.expand_dims(std, (0,)))
    return clip(out, -1, 1) if not dtypes.is_complex(dtype_of(out)) else out


def _diag(c):

    return diagonal(c)


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed ``weights``) of each non-negative integer in ``x``. Under a
    transformation the output size must be given as ``length``."""

    check_arraylike("bincount", x)
    x = as_array(as_operand(x))
    if not dtypes.is_int(dtype_of(x)):
        raise TypeError(f"x argument to bincount must have an integer type; got {dtype_of(x)}")
    if ndim_of(x) != 1:
        raise ValueError("only 1-dimensional input supported for bincount.")
    if length is None:
        xv = concrete_value(
            x,
            "The error occurred because of argument 'x' of jnp.bincount. "
            "To avoid this error, pass a static `length` argument.",
        )
        length = max(int(minlength), int(xv.max()) + 1 if xv.size else 0)
    length = int(length)
    if weights is None:
        w = lax.full(shape_of(x), 1, dtypes.default_int_dtype())
    else:
        w = as_array(as_operand(weights))
    out = zeros(length, dtype_of(w))
    return out.at[lax.clamp(weak_scalar(0, dtype_of(x)), x, weak_scalar(length, dtype_of(x)))].add(
        w, mode="drop"
    )


def unique(
    ar,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    *,
    equal_nan=True,
    size=None,
    fill_value=None,
    sorted=True,
):
    """Sorted unique elements of a concrete array (``size=`` is not supported yet)."""
    check_arraylike("unique", ar)
    if size is not None:
        raise NotImplementedError("jnp.unique with size= is not supported yet")
    val = concrete_value(as_operand(ar), "jnp.unique (pass a concrete array)")
    res = np.unique(
        val,
        return_index=return_index,
        return_inverse=return_inverse,
        return_counts=return_counts,
        axis=axis,
        equal_nan=equal_nan,
    )
    idt = dtypes.default_int_dtype()
    if not isinstance(res, tuple):
        return as_array(res)
    out = [as_array(res[0])] + [as_array(np.asarray(r).astype(idt)) for r in res[1:]]
    return tuple(out)


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (``xp``, ``fp``) at ``x`` (``xp`` increasing)."""

    check_arraylike("interp", x, xp, fp)
    x, xp, fp = (as_array(v) for v in promote_dtypes_inexact(x, xp, fp))
    if period is not None:
        # one period of samples, sorted, extended by a sample on each side

        x = remainder(x, period)
        xp = remainder(xp, period)
        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        m = shape_of(xp)[0]

        xp = concatenate(
            [
                subtract(lax.slice_in_dim(xp, m - 1, m), period),
                xp,
                add(lax.slice_in_dim(xp, 0, 1), period),
            ]
        )
        fp = concatenate([lax.slice_in_dim(fp, m - 1, m), fp, lax.slice_in_dim(fp, 0, 1)])
    n = shape_of(xp)[0]
    i = lax.clamp(
        weak_scalar(1, dtypes.default_int_dtype()),
        searchsorted(xp, x, side="right"),
        weak_scalar(n - 1, dtypes.default_int_dtype()),
    )
    im1 = lax.sub(i, weak_scalar(1, dtype_of(i)))
    x0, x1 = take(xp, im1), take(xp, i)
    y0, y1 = take(fp, im1), take(fp, i)
    dx = lax.sub(x1, x0)
    t = lax.div(lax.sub(x, x0), where(lax.eq(dx, lax.full_like(dx, 0)), 1, dx))
    out = lax.add(y0, lax.mul(t, lax.sub(y1, y0)))
    if period is None:
        lo = take(fp, 0) if left is None else left
        hi = take(fp, n - 1) if right is None else right
        out = where(lax.lt(x, take(xp, 0)), lo, out)
        out = where(lax.gt(x, take(xp, n - 1)), hi, out)
    return out
