"""Segment reductions, as ``jax.ops``: ``segment_sum(data, segment_ids, num_segments)``
reduces the rows of ``data`` that share a segment id, by a scatter into an array of the
reduction's identity (out-of-range ids are dropped, as JAX's default mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import core, dtypes, errors

__all__ = ["segment_max", "segment_min", "segment_prod", "segment_sum"]


def _identity(kind: str, dtype: np.dtype) -> Any:
    if kind == "add":
        return 0
    if kind == "mul":
        return 1
    if dtype == np.bool_:
        return kind == "min"
    if dtypes.is_inexact(dtype):
        return -np.inf if kind == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if kind == "max" else info.max


def _segment_reduce(
    name: str,
    kind: str,
    data: Any,
    segment_ids: Any,
    num_segments: int | None,
    indices_are_sorted: bool,
    unique_indices: bool,
    bucket_size: int | None,
    mode: Any,
) -> Any:
    from . import numpy as jnp

    for pos, arg in enumerate((data, segment_ids)):
        if isinstance(arg, (list, tuple)):
            raise TypeError(
                f"{name} requires ndarray or scalar arguments, got {type(arg)} at position {pos}."
            )
    data, segment_ids = jnp.asarray(data), jnp.asarray(segment_ids)
    if num_segments is None:
        ids = core.concrete_or_none(segment_ids)
        if ids is None:
            raise errors.ConcretizationTypeError(
                f"{name}: num_segments must be given when segment_ids are traced "
                "(the output's size has to be known while tracing)"
            )
        num_segments = int(np.max(np.asarray(ids))) + 1
    num_segments = int(num_segments)
    if num_segments < 0:
        raise ValueError("num_segments must be non-negative.")
    mode = "drop" if mode is None else mode
    init = _identity(kind, data.dtype)
    kw = dict(indices_are_sorted=indices_are_sorted, unique_indices=unique_indices, mode=mode)
    if bucket_size is None:
        out = jnp.full((num_segments,) + data.shape[1:], init, dtype=data.dtype)
        return getattr(out.at[segment_ids], kind)(data, **kw)
    n = segment_ids.shape[0]
    buckets = -(-n // bucket_size)
    out = jnp.full((buckets, num_segments) + data.shape[1:], init, dtype=data.dtype)
    out = getattr(out.at[jnp.arange(n) // bucket_size, segment_ids], kind)(data, **kw)
    reducers: dict[str, Callable[..., Any]] = {
        "add": jnp.sum,
        "mul": jnp.prod,
        "max": jnp.max,
        "min": jnp.min,
    }
    reduce = reducers[kind]
    return reduce(out, axis=0).astype(data.dtype)


def segment_sum(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    bucket_size: int | None = None,
    mode: Any = None,
) -> Any:
    """Sum of the rows of ``data`` in each segment (0 where a segment is empty)."""
    return _segment_reduce(
        "segment_sum",
        "add",
        data,
        segment_ids,
        num_segments,
        indices_are_sorted,
        unique_indices,
        bucket_size,
        mode,
    )


def segment_prod(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    bucket_size: int | None = None,
    mode: Any = None,
) -> Any:
    """Product of the rows of ``data`` in each segment (1 where a segment is empty)."""
    return _segment_reduce(
        "segment_prod",
        "mul",
        data,
        segment_ids,
        num_segments,
        indices_are_sorted,
        unique_indices,
        bucket_size,
        mode,
    )


def segment_max(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    bucket_size: int | None = None,
    mode: Any = None,
) -> Any:
    """Maximum of the rows of ``data`` in each segment (-inf, or the dtype's minimum,
    where a segment is empty)."""
    return _segment_reduce(
        "segment_max",
        "max",
        data,
        segment_ids,
        num_segments,
        indices_are_sorted,
        unique_indices,
        bucket_size,
        mode,
    )


def segment_min(
    data: Any,
    segment_ids: Any,
    num_segments: int | None = None,
    indices_are_sorted: bool = False,
    unique_indices: bool = False,
    bucket_size: int | None = None,
    mode: Any = None,
) -> Any:
    """Minimum of the rows of ``data`` in each segment (+inf, or the dtype's maximum,
    where a segment is empty)."""
    return _segment_reduce(
        "segment_min",
        "min",
        data,
        segment_ids,
        num_segments,
        indices_are_sorted,
        unique_indices,
        bucket_size,
        mode,
    )
