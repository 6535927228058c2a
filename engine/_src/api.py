"""``jax._src.api``, which JAX's "How JAX primitives work" page imports: the engine's
transformations under the names ``jax._src.api`` gives them."""

from ..api import (  # noqa: F401
    eval_shape,
    grad,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    make_jaxpr,
    value_and_grad,
    vjp,
    vmap,
)
from ..jit import jit  # noqa: F401
