"""``jax._src.lib.mlir``: jaxlib's MLIR bindings, as lowering rules use them."""

import jaxlib.mlir.ir as ir  # noqa: F401
