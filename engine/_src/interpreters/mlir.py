"""``jax._src.interpreters.mlir``: the public ``engine.interpreters.mlir``."""

from ...interpreters.mlir import *  # noqa: F401,F403
