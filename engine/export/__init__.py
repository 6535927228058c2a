"""``engine.export``: JAX's ``jax.export`` on this engine. Export a jitted function to a
serializable ``Exported`` (StableHLO plus its calling signature), optionally with
symbolic (shape-polymorphic) dimensions; call one, eagerly or under ``jit``; read and
write JAX's serialized format, so artifacts move between this engine and JAX."""

from .exported import (
    DisabledSafetyCheck,
    Exported,
    call_exported,
    default_export_platform,
    export,
    maximum_supported_calling_convention_version,
    minimum_supported_calling_convention_version,
)
from .pytree_serialization import (
    register_namedtuple_serialization,
    register_pytree_node_serialization,
)
from .serialization import deserialize
from .shape_parse import symbolic_args_specs, symbolic_shape
from .shape_poly import DimExpr, InconclusiveDimensionOperation, SymbolicScope, is_symbolic_dim


def call(exported: Exported):  # type: ignore[no-untyped-def]
    """``exported.call`` as a function (JAX's ``export.call``)."""
    return call_exported(exported)


__all__ = [
    "DimExpr",
    "DisabledSafetyCheck",
    "Exported",
    "InconclusiveDimensionOperation",
    "SymbolicScope",
    "call",
    "default_export_platform",
    "deserialize",
    "export",
    "is_symbolic_dim",
    "maximum_supported_calling_convention_version",
    "minimum_supported_calling_convention_version",
    "register_namedtuple_serialization",
    "register_pytree_node_serialization",
    "symbolic_args_specs",
    "symbolic_shape",
]
