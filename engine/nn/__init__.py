"""``engine.nn``: JAX's ``jax.nn`` (activations, softmax family, attention) and
``jax.nn.initializers``."""

from . import initializers  # noqa: F401
from .attention import dot_product_attention  # noqa: F401
from .functions import *  # noqa: F401,F403
from .functions import __all__ as _functions_all

__all__ = [*_functions_all, "dot_product_attention", "initializers"]
