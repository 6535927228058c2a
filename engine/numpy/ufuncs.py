"""Elementwise functions (``jnp``'s ufuncs), gathered from the modules by theme:
``ufuncs_logic`` (comparisons, logic and bits, min/max, ``where``, ``clip``),
``ufuncs_arith`` (arithmetic, division, remainders, ``power``) and ``ufuncs_math``
(exponentials, logarithms, trigonometry, rounding, float predicates, complex parts,
composites such as ``logaddexp``, ``hypot`` and ``sinc``)."""

from . import ufuncs_arith, ufuncs_logic, ufuncs_math
from .ufuncs_arith import *  # noqa: F401,F403
from .ufuncs_logic import *  # noqa: F401,F403
from .ufuncs_logic import where as where  # the three-argument form (misc's jnp.where adds one)
from .ufuncs_math import *  # noqa: F401,F403
from .ufuncs_math import _logaddexp as _logaddexp  # cumlogsumexp's JVP (engine.lax)

__all__ = [*ufuncs_arith.__all__, *ufuncs_logic.__all__, *ufuncs_math.__all__]
