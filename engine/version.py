"""The engine's version (``engine.__version__``, as ``jax.version``) and the JAX release
whose semantics it follows."""

__version__ = "0.1.0"
_version = __version__
# The JAX release the engine's behaviour is checked against (tests use it as the oracle).
jax_semantics_version = "0.10.2"
