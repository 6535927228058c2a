"""``jax._src.util``'s length-checked ``map`` and ``zip``, which JAX's "Writing custom
interpreters" tutorial imports."""

from collections.abc import Callable, Iterable
from typing import Any


def safe_map(f: Callable[..., Any], *iterables: Iterable[Any]) -> list[Any]:
    """``list(map(f, *iterables))``, raising ValueError when the lengths differ."""
    lists = [list(it) for it in iterables]
    for i, xs in enumerate(lists[1:], 1):
        if len(xs) != len(lists[0]):
            which = "shorter" if len(xs) < len(lists[0]) else "longer"
            raise ValueError(f"safe_map() argument {i + 1} is {which} than argument 1")
    return [f(*xs) for xs in zip(*lists)]


def safe_zip(*iterables: Iterable[Any]) -> list[tuple[Any, ...]]:
    """``list(zip(*iterables))``, raising ValueError when the lengths differ."""
    lists = [list(it) for it in iterables]
    lengths = tuple(len(xs) for xs in lists)
    for i, n in enumerate(lengths[1:], 1):
        if n != lengths[0]:
            raise ValueError(
                f"safe_zip() argument {i} has length {n} but argument 0 has length "
                f"{lengths[0]}. All lengths: {lengths}"
            )
    return list(zip(*lists))
