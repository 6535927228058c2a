"""``jax._src.core``, as JAX's docs pages use it (defining a primitive, typing its
results): the engine's core names."""

from ..core import (  # noqa: F401
    ClosedJaxpr,
    Jaxpr,
    JaxprEqn,
    Literal,
    Primitive,
    ShapedArray,
    Tracer,
    Var,
    eval_jaxpr,
    get_aval,
    jaxpr_as_fun,
)
