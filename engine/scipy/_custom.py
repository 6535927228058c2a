"""Elementwise functions whose derivative JAX defines by hand (with ``custom_jvp``).

The engine has no ``custom_jvp`` yet, so each such function is an elementwise primitive
here: its value lowers to the ops of a lax-level implementation (as JAX's inner function
would), and its JVP rule is JAX's hand-written derivative. Values and derivatives of every
order match JAX's; the jaxpr shows one equation named after the function where JAX shows a
``custom_jvp_call``. Low-precision floats compute in their own dtype, as JAX's
functions do."""

from __future__ import annotations

from .. import core, dispatch, dtypes
from ..interpreters.jvp import defjvp2
from ..lax.elementwise import naryop
from ..lax.special import lower_via


def elementwise(name, impl, *jvps, kinds=("float",)):
    """A float elementwise primitive computing ``impl(*operands, **params)`` (operands of
    one dtype, broadcast to one shape); ``jvps[i](g, ans, *operands, **params)`` is the
    tangent contributed by operand i (None: not differentiable in it)."""
    p = naryop(name, kinds, lower_via(impl, upcast=False))
    defjvp2(p, *(None if fn is None else _on_arrays(fn) for fn in jvps))
    return p


def _on_arrays(jvp):
    # Eagerly, a Python-number operand reaches the rule as itself or as a WeakScalar, and
    # neither mixes with the rule's weak constants: make it a (weakly typed) Array first.
    def rule(g, ans, *operands, **params):
        operands = [
            dispatch.device_put_value(x)
            if type(x) is core.WeakScalar or dtypes.is_python_scalar(x)
            else x
            for x in operands
        ]
        return jvp(g, ans, *operands, **params)

    return rule
