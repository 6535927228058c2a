"""``jax._src.lib.mlir.dialects``: jaxlib's MLIR dialects; ``hlo`` is StableHLO, as in JAX."""

from jaxlib.mlir.dialects import func  # noqa: F401
from jaxlib.mlir.dialects import stablehlo as hlo  # noqa: F401
