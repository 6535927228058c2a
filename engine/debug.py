"""``jax.debug``: printing and callbacks that work eagerly and inside transformed,
compiled code (see ``engine/callbacks.py``)."""

from .callbacks import debug_callback, debug_log, debug_print
from .debugger import breakpoint
from .sharding.visual import inspect_array_sharding, visualize_array_sharding, visualize_sharding

callback = debug_callback
print = debug_print  # noqa: A001 - JAX's name
log = debug_log

__all__ = [
    "breakpoint",
    "callback",
    "inspect_array_sharding",
    "log",
    "print",
    "visualize_array_sharding",
    "visualize_sharding",
]
