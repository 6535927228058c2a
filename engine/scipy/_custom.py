"""Elementwise functions whose derivative JAX defines by hand (with ``custom_jvp``).

The engine has no ``custom_jvp`` yet, so each such function is an elementwise primitive
here: its value lowers to the ops of a lax-level implementation (as JAX's inner function
would), and its JVP rule is JAX's hand-written derivative. Values and derivatives of every
order match JAX's; the jaxpr shows one equation named after the function where JAX shows a
``custom_jvp_call``. Low-precision floats compute in their own dtype, as JAX's
functions do."""

from __future__ import annotations

from ..interpreters.jvp import defjvp2
from ..lax.elementwise import naryop
from ..lax.special import lower_via


def elementwise(name, impl, *jvps, kinds=("float",)):
    """A float elementwise primitive computing ``impl(*operands, **params)`` (operands of
    one dtype, broadcast to one shape); ``jvps[i](g, ans, *operands, **params)`` is the
    tangent contributed by operand i (None: not differentiable in it)."""
    p = naryop(name, kinds, lower_via(impl, upcast=False))
    defjvp2(p, *jvps)
    return p
