"""``engine.numpy``: NumPy's API on engine arrays (the ``jnp`` of this engine)."""
import numpy as _np

from .. import dtypes as _dtypes
from ..array import Array as ndarray  # noqa: F401
from ..dtypes import (bool_, int8, int16, int32, int64, uint8, uint16, uint32,  # noqa: F401
                      uint64, bfloat16, float16, float32, float64, complex64, complex128,
                      float0, finfo, iinfo, issubdtype, result_type, promote_types)
from ._core import *  # noqa: F401,F403

pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
dtype = _np.dtype
integer = _np.integer
floating = _np.floating
inexact = _np.inexact
complexfloating = _np.complexfloating
signedinteger = _np.signedinteger
unsignedinteger = _np.unsignedinteger
number = _np.number
generic = _np.generic
