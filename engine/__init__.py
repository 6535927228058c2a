"""Glassjax's engine: a JAX-style transform engine on jaxlib.

    import engine as jax
    import engine.numpy as jnp
"""
from .config import config, enable_x64  # noqa: F401
from . import dtypes  # noqa: F401
from . import errors  # noqa: F401
from . import tree_util  # noqa: F401
from .array import Array  # noqa: F401
from . import array_methods as _array_methods  # noqa: F401
from . import lax  # noqa: F401
from . import numpy  # noqa: F401
from .core import ClosedJaxpr, Jaxpr, ShapedArray  # noqa: F401
from .jit import jit, all_jitted  # noqa: F401
from .api import (jvp, linearize, vjp, grad, value_and_grad, vmap, jacfwd, jacrev,  # noqa: F401
                  jacobian, hessian, make_jaxpr, eval_shape, ShapeDtypeStruct, devices,
                  local_devices, device_count, local_device_count, default_backend,
                  device_put, device_get, block_until_ready, disable_jit, clear_caches,
                  live_arrays)
from .dtypes import float0  # noqa: F401
from . import random  # noqa: F401

__version__ = "0.1.0"
