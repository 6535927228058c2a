"""``jax.extend.core.primitives``: each primitive object by JAX's name (``exp_p``,
``dot_general_p``, ``name_p``, ...), looked up where the engine declares it."""

import importlib

from ..core import Primitive

# where the engine declares primitives that are not lax's
_MODULES = ("lax", "ad_checkpoint", "custom_derivatives", "ad_util", "jit", "lax.control_flow")


def __getattr__(name: str) -> Primitive:
    if name.endswith("_p"):
        for module in _MODULES:
            found = getattr(importlib.import_module(f"engine.{module}"), name, None)
            if isinstance(found, Primitive):
                return found
        raise NotImplementedError(
            f"jax.extend.core.primitives.{name}: the engine has no such primitive"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
