"""``jax.interpreters.ad``: the rule tables and values of differentiation that code
defining its own primitives uses. ``primitive_jvps[p]`` is ``p``'s JVP rule and
``primitive_transposes[p]`` its transpose rule: the very rules the engine's JVP trace
(``jvp.py``) and backward pass (``transpose.py``) run, so a rule set here drives ``jvp``,
``grad``, ``vjp`` and ``linearize`` of ``p`` (and ``jit`` of them)."""

from __future__ import annotations

from typing import Any

from .. import core
from ..ad_util import Zero, add_tangents, zeros_like_aval  # noqa: F401
from ..ad_util import instantiate as instantiate_zeros  # noqa: F401
from ..core import RuleTable
from .jvp import JVPTrace, JVPTracer, defjvp, defjvp2, deflinear  # noqa: F401
from .transpose import UndefinedPrimal, is_undefined_primal  # noqa: F401

# rule(primals, tangents, **params) -> (primal_out, tangent_out); a tangent may be a Zero
primitive_jvps = RuleTable("jvp")
# rule(cotangent, *args, **params) -> a cotangent per argument (None for a non-linear
# one); a linear argument comes as an UndefinedPrimal
primitive_transposes = RuleTable("transpose")

add_jaxvals = add_tangents


def get_primitive_transpose(p: core.Primitive) -> Any:
    """``p``'s transpose rule, with JAX's error when it has none."""
    try:
        return primitive_transposes[p]
    except KeyError as err:
        raise NotImplementedError(
            f"Transpose rule (for reverse-mode differentiation) for '{p}' not implemented"
        ) from err
