"""Type annotations for code written against the engine, as ``jax.typing``:
``ArrayLike`` (what converts to an Array implicitly: arrays and scalars, not lists) and
``DTypeLike`` (what names a dtype)."""

from __future__ import annotations

import typing
from typing import Any, Protocol, Union

import numpy as np

from .array import Array

__all__ = ["ArrayLike", "DTypeLike"]


@typing.runtime_checkable
class SupportsDType(Protocol):
    @property
    def dtype(self, /) -> np.dtype: ...


# Scalars that convert to arrays and can be static arguments.
StaticScalar = Union[np.bool_, np.number, bool, int, float, complex]  # noqa: UP007

# Arrays and scalars; unlike numpy.typing.ArrayLike, no sequences and no strings.
ArrayLike = Union[Array, np.ndarray, StaticScalar]  # noqa: UP007

# 'float32', np.float32, float, np.dtype('float32'), jnp.float32, an array's dtype owner.
DTypeLike = Union[str, type[Any], np.dtype, SupportsDType]  # noqa: UP007
