"""stop_gradient and other small primitives."""

from __future__ import annotations

from ..core import Primitive, ShapedArray
from ..interpreters.jvp import zero_jvp

__all__ = ["stop_gradient", "stop_gradient_p"]


# ---------------------------------------------------------------------------- stop_gradient

stop_gradient_p = Primitive("stop_gradient")


def stop_gradient(x):
    """The identity on every leaf of the pytree ``x``, with a zero derivative: gradients
    do not flow through it, under any number of nested differentiations."""
    from ..tree_util import tree_map

    return tree_map(stop_gradient_p.bind, x)


@stop_gradient_p.def_impl
def _stop_gradient_impl(x):
    from ..dispatch import device_put_value

    return device_put_value(x)  # the identity needs no XLA program


@stop_gradient_p.def_abstract_eval
def _stop_gradient_abstract_eval(x):
    return ShapedArray(x.shape, x.dtype, x.weak_type)


stop_gradient_p.def_lowering(lambda ctx, x: x)
# binds again, as JAX's rule (a vmapped stop_gradient stays in the jaxpr)
stop_gradient_p.def_batch(lambda size, vals, dims: (stop_gradient_p.bind(vals[0]), dims[0]))
zero_jvp(stop_gradient_p)
