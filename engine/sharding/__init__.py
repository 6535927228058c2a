"""``jax.sharding``: meshes of devices and how arrays are laid out over them."""

from . import spmd as _spmd  # noqa: F401,E402  (registers eager SPMD compiles)
from .constraint import reshard  # noqa: F401
from .in_types import auto_axes, explicit_axes, use_abstract_mesh  # noqa: F401
from .mesh import (  # noqa: F401
    AbstractMesh,
    AxisType,
    Mesh,
    get_abstract_mesh,
    get_mesh,
    make_mesh,
    set_mesh,
)
from .named import (  # noqa: F401
    UNCONSTRAINED,
    DuplicateSpecError,
    NamedSharding,
    P,
    PartitionSpec,
    Sharding,
    SingleDeviceSharding,
    make_single_device_sharding,
)
