"""Global flags, read and set like JAX's: ``engine.config.update("jax_enable_x64", True)``."""

import contextlib
import os


class Config:
    _defaults = {
        "jax_enable_x64": os.environ.get("JAX_ENABLE_X64", "0").lower() in ("1", "true"),
        "jax_platforms": os.environ.get("JAX_PLATFORMS", ""),
        "jax_disable_jit": False,
        "jax_default_matmul_precision": None,
    }

    def __init__(self):
        object.__setattr__(self, "_values", dict(self._defaults))
        object.__setattr__(self, "_listeners", [])

    def update(self, name, value):
        if name not in self._values:
            raise AttributeError(
                f"Unrecognized config option: {name!r}; known: {sorted(self._values)}"
            )
        self._values[name] = value
        for fn in self._listeners:
            fn(name, value)

    def on_change(self, fn):
        """Register ``fn(name, value)``; caches that depend on flags use this to reset."""
        self._listeners.append(fn)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("use config.update(name, value)")

    @property
    def x64_enabled(self):
        return self._values["jax_enable_x64"]


config = Config()


@contextlib.contextmanager
def enable_x64(new_val: bool = True):
    old = config.jax_enable_x64
    config.update("jax_enable_x64", new_val)
    try:
        yield
    finally:
        config.update("jax_enable_x64", old)
