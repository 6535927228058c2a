"""Sample statistics of ``jax.scipy.stats``: ``mode``, ``rankdata``, ``sem``."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ... import api, dtypes, lax
from ... import numpy as jnp
from ...numpy._util import canonicalize_axis, check_arraylike
from ._util import args


class ModeResult(NamedTuple):
    mode: Any
    count: Any


def _check_nan_policy(nan_policy, fun):
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(
            f"Illegal nan_policy value {nan_policy!r}; expected one of "
            "{'propagate', 'omit', 'raise'}"
        )
    if nan_policy == "omit":
        raise NotImplementedError(f"Logic for `nan_policy` of {nan_policy} is not implemented")
    if nan_policy == "raise":
        raise NotImplementedError(
            f"In order to best JIT compile `{fun}`, we cannot know whether `x` contains nans. "
            f"Please check if nans exist in `x` outside of the `{fun}` function."
        )


def mode(a, axis=0, nan_policy="propagate", keepdims=False):
    """The most frequent value along ``axis`` (the smallest of equally frequent ones) and
    its count; NaNs count as equal to each other."""
    check_arraylike("mode", a)
    x = jnp.atleast_1d(a)
    _check_nan_policy(nan_policy, "mode")
    if axis is not None:
        axis = canonicalize_axis(axis, x.ndim)
    shape = x.shape
    if keepdims:
        out_shape = (
            tuple(1 for _ in shape)
            if axis is None
            else tuple(1 if i == axis else s for i, s in enumerate(shape))
        )
    else:
        out_shape = () if axis is None else tuple(s for i, s in enumerate(shape) if i != axis)
    if axis is None:
        axis, x = 0, x.ravel()
    x = jnp.moveaxis(x, axis, 0)
    x = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
    if x.shape[0] == 0:
        fdt = dtypes.default_float_dtype()
        return ModeResult(jnp.full(out_shape, np.nan, fdt), jnp.zeros(out_shape, fdt))

    def column(v):
        s = jnp.sort(v)
        nan = jnp.isnan(s) if dtypes.is_inexact(s.dtype) else jnp.zeros(s.shape, bool)
        same = (s[:, None] == s[None, :]) | (nan[:, None] & nan[None, :])
        counts = jnp.sum(same, axis=1).astype(dtypes.default_int_dtype())
        return s[jnp.argmax(counts)], counts.max()

    vals, counts = api.vmap(column, in_axes=1)(x)
    return ModeResult(vals.reshape(out_shape), counts.reshape(out_shape))


def _rank_1d(a, method):
    out_dtype = dtypes.default_float_dtype()
    n = a.size
    arr, order = lax.sort_key_val(a, jnp.arange(n))
    inv = jnp.zeros(n, order.dtype).at[order].set(jnp.arange(n, dtype=order.dtype))
    if method == "ordinal":
        ranks = (inv + 1).astype(out_dtype)
    else:
        first = jnp.concatenate([jnp.array([True]), arr[1:] != arr[:-1]])
        dense = jnp.cumsum(first)[inv]
        if method == "dense":
            ranks = dense.astype(out_dtype)
        else:
            # starts[k]: where the k-th run of equal values begins; then n (and padding)
            starts = jnp.nonzero(first, size=n + 1, fill_value=n)[0].astype(out_dtype)
            if method == "max":
                ranks = starts[dense]
            elif method == "min":
                ranks = starts[dense - 1] + 1
            else:
                ranks = 0.5 * (starts[dense] + starts[dense - 1] + 1)
    return jnp.where(jnp.any(jnp.isnan(a)), jnp.full_like(ranks, np.nan), ranks)


def rankdata(a, method="average", *, axis=None, nan_policy="propagate"):
    """Ranks (from 1) of the data, ties resolved by ``method``: average, min, max, dense
    or ordinal; all NaN if any value is NaN."""
    check_arraylike("rankdata", a)
    _check_nan_policy(nan_policy, "rankdata")
    if method not in ("average", "min", "max", "dense", "ordinal"):
        raise ValueError(f"unknown method '{method}'")
    a = jnp.asarray(a)
    if axis is not None:
        axis = canonicalize_axis(axis, a.ndim)
        moved = jnp.moveaxis(a, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        ranks = api.vmap(lambda r: _rank_1d(r, method))(flat)
        return jnp.moveaxis(ranks.reshape(moved.shape), -1, axis)
    return _rank_1d(jnp.ravel(a), method)


def sem(a, axis=0, ddof=1, nan_policy="propagate", *, keepdims=False):
    """The standard error of the mean along ``axis``."""
    (b,) = args("sem", a)
    if nan_policy == "propagate":
        size = b.size if axis is None else b.shape[axis]
        return b.std(axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(size).astype(b.dtype)
    if nan_policy == "omit":
        count = (~jnp.isnan(b)).sum(axis, keepdims=keepdims)
        return jnp.nanstd(b, axis, ddof=ddof, keepdims=keepdims) / jnp.sqrt(count).astype(b.dtype)
    raise ValueError(f"{nan_policy} is not supported")
