"""``engine.numpy``: NumPy's API on engine arrays (the ``jnp`` of this engine).

Modules by theme: ``creation`` (array, zeros, arange, ...), ``ufuncs`` (elementwise math,
comparisons, logic; gathered from ``ufuncs_logic`` < ``ufuncs_arith`` < ``ufuncs_math``),
``reductions`` (sum, mean, var, cumsum, ...), ``shape_ops`` (reshape, concatenate, split,
pad, ...), ``sorting``, ``linalg_ops`` (matmul, dot, einsum, ...),
``statistics`` (quantile, cov, bincount, ...), ``misc`` and ``indexing``; ``scalar_types``
holds the callable ``jnp.float32`` & co, ``linalg`` the norms.

Import order (acyclic; each module imports, at module level, only those before it):
``_util`` (helpers, ``array``/``asarray``) < ``ufuncs`` < ``shape_ops`` < ``reductions`` <
``creation`` < ``indexing`` < ``linalg_ops`` < ``sorting`` < ``misc`` (with ``where``, whose
one-argument form is ``nonzero``) < ``statistics`` < ``scalar_types``. A helper a lower
module needs moves down rather than being imported inside a function.
(tests/test_import_cycles.py checks it.)"""

import numpy as _np

from ..array import Array as ndarray  # noqa: F401
from . import fft, linalg  # noqa: F401
from .creation import *  # noqa: F401,F403
from .indexing import _getitem, _IndexUpdateHelper, take, take_along_axis  # noqa: F401
from .linalg_ops import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .scalar_types import *  # noqa: F401,F403
from .shape_ops import *  # noqa: F401,F403
from .shape_ops import flatten  # noqa: F401
from .signal_ops import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .statistics import *  # noqa: F401,F403
from .ufuncs import *  # noqa: F401,F403

# isort: split
# (after the modules above on purpose: a later star import wins a shared name)
from .array_edit import *  # noqa: F401,F403,E402
from .histograms import *  # noqa: F401,F403,E402
from .index_tricks import *  # noqa: F401,F403,E402
from .io_and_types import *  # noqa: F401,F403,E402
from .math_extra import *  # noqa: F401,F403,E402
from .polynomial import *  # noqa: F401,F403,E402
from .set_ops import *  # noqa: F401,F403,E402  (unique with size=, after statistics)
from .vectorize_ufunc import *  # noqa: F401,F403,E402

# isort: split
from .ufunc_objects import *  # noqa: F401,F403,E402  (jnp.add & co as ufuncs, as in JAX)
from .window_functions import *  # noqa: F401,F403,E402

pi = _np.pi
e = _np.e
euler_gamma = _np.euler_gamma
inf = _np.inf
nan = _np.nan
newaxis = None
