"""Glassjax's engine: a JAX-style transform engine on jaxlib.

import engine as jax
import engine.numpy as jnp
"""

import os as _os

# jaxlib's C++ logs INFO lines (device counts, profiler sessions, dump paths) unless told
# otherwise before it loads; keep them out of notebooks and terminals as JAX does. Set
# TF_CPP_MIN_LOG_LEVEL=0 to see them.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


from . import (  # noqa: F401,E402
    ad_checkpoint,  # noqa: F401,E402
    compilation_cache,  # noqa: F401
    custom_batching,  # noqa: F401
    custom_derivatives,  # noqa: F401,E402
    debug,
    distributed,  # noqa: F401
    dlpack,  # noqa: F401  (gives Array __dlpack__ / __dlpack_device__)
    dtypes,  # noqa: F401
    errors,  # noqa: F401
    experimental,
    export,  # noqa: F401
    ffi,  # noqa: F401
    image,  # noqa: F401
    lax,  # noqa: F401
    monitoring,  # noqa: F401
    nn,  # noqa: F401
    numpy,  # noqa: F401
    ops,  # noqa: F401
    random,  # noqa: F401
    scipy,  # noqa: F401
    sharding,  # noqa: F401
    tree,
    tree_util,  # noqa: F401
    typing,
    version,
)
from . import array_methods as _array_methods  # noqa: F401
from . import state as ref  # noqa: F401,E402  (jax.ref: get, swap, addupdate, ...)
from .ad_checkpoint import checkpoint, checkpoint_policies, remat  # noqa: F401,E402
from .api import (  # noqa: F401
    ShapeDtypeStruct,
    block_until_ready,
    clear_caches,
    default_backend,
    device_count,
    device_get,
    device_put,
    devices,
    disable_jit,
    eval_shape,
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    live_arrays,
    local_device_count,
    local_devices,
    make_jaxpr,
    value_and_grad,
    vjp,
    vmap,
)
from .array import Array  # noqa: F401
from .callbacks import pure_callback  # noqa: F401,E402
from .config import config, enable_x64  # noqa: F401
from .core import ClosedJaxpr, Jaxpr, ShapedArray  # noqa: F401
from .custom_derivatives import (  # noqa: F401,E402
    closure_convert,
    custom_gradient,
    custom_jvp,
    custom_vjp,
    linear_transpose,
)
from .debugging import (  # noqa: F401,E402
    check_tracer_leaks,
    checking_leaks,
    debug_infs,
    debug_nans,
    effects_barrier,
    ensure_compile_time_eval,
    named_call,
    named_scope,
)
from .dtypes import float0  # noqa: F401
from .environment import (  # noqa: F401,E402
    copy_to_host_async,
    default_device,
    default_matmul_precision,
    enable_checks,
    host_count,
    host_id,
    host_ids,
    print_environment_info,
    process_count,
    process_index,
    process_indices,
)
from .jit import all_jitted, jit  # noqa: F401
from .key_reuse import debug_key_reuse  # noqa: F401,E402
from .pmap import pmap  # noqa: F401,E402
from .shard_map import shard_map, smap  # noqa: F401,E402
from .sharding import NamedSharding, P, make_mesh, reshard, set_mesh  # noqa: F401,E402
from .sharding.arrays import (  # noqa: F401,E402
    make_array_from_callback,
    make_array_from_process_local_data,
    make_array_from_single_device_arrays,
    typeof,
)
from .sharding.placement import memory  # noqa: F401,E402  (jax.memory.Space)
from .state import Ref, empty_ref, free_ref, freeze, new_ref  # noqa: F401,E402
from .transfer_guard import (  # noqa: F401,E402
    transfer_guard,
    transfer_guard_device_to_device,
    transfer_guard_device_to_host,
    transfer_guard_host_to_device,
)
from .version import __version__  # noqa: F401,E402

# Submodules JAX's top level also exposes, imported on first use (they cost import time
# and most programs never touch them).
_LAZY_SUBMODULES = frozenset({"extend", "profiler"})


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY_SUBMODULES)
