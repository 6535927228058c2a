"""``jax.experimental``: the names real programs import from it (loaded on first use)."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "io_callback":
        from ..callbacks import io_callback

        return io_callback
    raise AttributeError(f"module 'engine.experimental' has no attribute {name!r}")


__all__ = ["io_callback"]
