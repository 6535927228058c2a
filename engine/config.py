"""Global flags, read and set like JAX's: ``engine.config.update("jax_enable_x64", True)``.

Some flags change the program a function traces to (``jax_enable_x64`` changes the
dtypes of Python scalars and of ``arange``/``zeros``; ``jax_default_matmul_precision``
goes into every ``dot_general``). Their current values form the *trace context*, a
small integer (``config.trace_context_id``) that every trace and compile cache puts in
its keys, so flipping a flag never reuses a program traced under the other value, and
flipping it back finds the old one again (as JAX does)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any


class Config:
    _defaults = {
        "jax_enable_x64": os.environ.get("JAX_ENABLE_X64", "0").lower() in ("1", "true"),
        "jax_platforms": os.environ.get("JAX_PLATFORMS", ""),
        "jax_disable_jit": False,
        "jax_default_matmul_precision": None,
        # engine/debugging.py: check outputs for NaN / Inf; leaked tracers
        "jax_debug_nans": os.environ.get("JAX_DEBUG_NANS", "0").lower() in ("1", "true"),
        "jax_debug_infs": os.environ.get("JAX_DEBUG_INFS", "0").lower() in ("1", "true"),
        "jax_check_tracer_leaks": False,
        # engine/compilation_cache.py: the persistent compilation cache (JAX's names)
        "jax_compilation_cache_dir": os.environ.get("JAX_COMPILATION_CACHE_DIR") or None,
        "jax_enable_compilation_cache": os.environ.get("JAX_ENABLE_COMPILATION_CACHE", "1").lower()
        in ("1", "true"),
        "jax_persistent_cache_min_compile_time_secs": 1.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
        "jax_persistent_cache_enable_xla_caches": "xla_gpu_per_fusion_autotune_cache_dir",
        "jax_compilation_cache_max_size": -1,
        "jax_compilation_cache_include_metadata_in_key": False,
        "jax_raise_persistent_cache_errors": False,
        # engine/export: the calling convention version an export writes
        "jax_export_calling_convention_version": int(
            os.environ.get("JAX_EXPORT_CALLING_CONVENTION_VERSION", "10")
        ),
    }
    # Flags whose value changes what tracing or lowering produces (part of cache keys).
    # ``jax_disable_jit`` is not one: it bypasses the caches altogether.
    _default_program_flags = ("jax_enable_x64", "jax_default_matmul_precision", "jax_platforms")

    def __init__(self):
        object.__setattr__(self, "_values", dict(self._defaults))
        object.__setattr__(self, "_listeners", [])
        object.__setattr__(self, "_program_flags", list(self._default_program_flags))
        object.__setattr__(self, "_contexts", {})  # values tuple -> id
        object.__setattr__(self, "_context_values", [])  # id -> values tuple
        for name, value in self._values.items():
            object.__setattr__(self, name, value)  # plain attribute reads on hot paths
        self._refresh_context()

    def define(self, name: str, default: Any, *, affects_program: bool = False) -> None:
        """Add a flag (for modules that introduce one). ``affects_program=True`` when its
        value changes what tracing or lowering produces: it then joins the cache keys."""
        if name in self._values:
            raise ValueError(f"config option {name!r} is already defined")
        self._values[name] = default
        object.__setattr__(self, name, default)
        if affects_program:
            self._program_flags.append(name)
            self._refresh_context()

    def update(self, name: str, value: Any) -> None:
        if name not in self._values:
            raise AttributeError(
                f"Unrecognized config option: {name!r}; known: {sorted(self._values)}"
            )
        self._values[name] = value
        object.__setattr__(self, name, value)
        if name in self._program_flags:
            self._refresh_context()
        for fn in self._listeners:
            fn(name, value)

    def _refresh_context(self):
        values = tuple(self._values[n] for n in self._program_flags)
        try:
            cid = self._contexts.get(values)
        except TypeError:  # an unhashable flag value: key it by its repr
            values = tuple(map(repr, values))
            cid = self._contexts.get(values)
        if cid is None:
            cid = self._contexts[values] = len(self._context_values)
            self._context_values.append(values)
        object.__setattr__(self, "trace_context_id", cid)

    def trace_context(self, context_id: int | None = None) -> dict[str, Any]:
        """The program-changing flags and their values, now or for an earlier
        ``trace_context_id`` (as a cache entry's signature records it)."""
        cid = self.trace_context_id if context_id is None else context_id
        return dict(zip(self._program_flags, self._context_values[cid]))

    def on_change(self, fn: Callable[[str, Any], None]) -> None:
        """Register ``fn(name, value)``, called after every ``update``."""
        self._listeners.append(fn)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("use config.update(name, value)")

    @property
    def x64_enabled(self) -> bool:
        return self._values["jax_enable_x64"]


config = Config()


@contextlib.contextmanager
def enable_x64(new_val: bool = True):
    old = config.jax_enable_x64
    config.update("jax_enable_x64", new_val)
    try:
        yield
    finally:
        config.update("jax_enable_x64", old)
