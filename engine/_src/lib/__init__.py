"""``jax._src.lib``: only ``mlir`` (jaxlib's MLIR Python bindings)."""
