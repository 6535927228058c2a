"""``engine.lax``: the primitives under JAX's names and signatures.

Each module declares its primitives with all their rules, and lists its public
functions and ``*_p`` primitive objects in ``__all__``."""

from . import linalg  # noqa: F401,E402
from ._base import broadcast_shapes_lax  # noqa: F401
from .control_flow import *  # noqa: F401,F403
from .conv_helpers import *  # noqa: F401,F403
from .convert import *  # noqa: F401,F403
from .convolution import *  # noqa: F401,F403
from .cumulative import *  # noqa: F401,F403
from .custom_solve import custom_linear_solve, custom_root  # noqa: F401,E402
from .dot import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .fft import *  # noqa: F401,F403
from .gather_scatter import *  # noqa: F401,F403
from .generic_reductions import *  # noqa: F401,F403
from .logic import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .reductions import *  # noqa: F401,F403
from .slicing import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .special_gamma import *  # noqa: F401,F403
from .structural import *  # noqa: F401,F403
from .windowed_reductions import *  # noqa: F401,F403

# isort: split
# (last on purpose: their names win over older modules' of the same name)
from .extra_ops import *  # noqa: F401,F403,E402
from .parallel import *  # noqa: F401,F403,E402
from .shape_extra import *  # noqa: F401,F403,E402

# isort: split
from ..sharding.constraint import sharding_constraint_p, with_sharding_constraint  # noqa: F401,E402
from . import sharding_rules as _sharding_rules  # noqa: F401,E402  (sharding in types)
