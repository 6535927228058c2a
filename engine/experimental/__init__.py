"""``jax.experimental``: the names real programs import from it (loaded on first use)."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "io_callback":
        from ..callbacks import io_callback

        return io_callback
    if name in ("multihost_utils", "checkify", "layout"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'engine.experimental' has no attribute {name!r}")


__all__ = ["checkify", "io_callback", "layout"]
