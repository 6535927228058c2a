"""``jax._src.lax.lax``, which JAX's "How JAX primitives work" page imports: the engine's
``lax`` functions and primitives."""

from ...lax import *  # noqa: F401,F403
