"""``jax._src.interpreters``: only ``mlir`` (see ``engine.interpreters.mlir``)."""
