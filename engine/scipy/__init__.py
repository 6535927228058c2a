"""``engine.scipy``: JAX's ``jax.scipy`` on engine arrays.

Submodules load on first use (``engine.scipy.special``, ``engine.scipy.stats``, ...), so
``import engine`` stays cheap; ``import engine.scipy.special`` works as well."""

import importlib as _importlib

_SUBMODULES = {
    "special",
    "stats",
    "optimize",
    "integrate",
    "interpolate",
    "signal",
    "linalg",
}


def __getattr__(name):
    if name in _SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)
