"""``jax.extend.core``: the engine's jaxpr types and primitives under JAX's names, for
programs that walk jaxprs (custom interpreters) or define primitives. Names JAX's module
has that the engine does not say so when used."""

from ..core import (  # noqa: F401
    ClosedJaxpr,
    DropVar,
    Jaxpr,
    JaxprEqn,
    JaxprTypeError,
    Literal,
    Primitive,
    Var,
    check_jaxpr,
    jaxpr_as_fun,
    mapped_aval,
    set_current_trace,
    unmapped_aval,
)
from . import primitives  # noqa: F401

# jax.extend.core's other names at jax 0.10.2
_NOT_BUILT = frozenset(
    {
        "AbstractToken",
        "CallPrimitive",
        "DebugInfo",
        "Effect",
        "Effects",
        "InconclusiveDimensionOperation",
        "Token",
        "TraceTag",
        "array_types",
        "call_impl",
        "concrete_or_error",
        "find_top_trace",
        "gensym",
        "get_opaque_trace_state",
        "jaxprs_in_params",
        "new_jaxpr_eqn",
        "no_effects",
        "primal_dtype_to_tangent_dtype",
        "subjaxprs",
        "take_current_trace",
        "valid_jaxtype",
    }
)


def __getattr__(name: str):
    if name in _NOT_BUILT:
        raise NotImplementedError(f"jax.extend.core.{name} is not built in this engine")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
