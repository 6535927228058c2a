"""Small top-level names about the process and its environment, as JAX has them:
``process_count``/``process_index``/``process_indices`` (one process until multi-process
exists; ``host_*`` are JAX's older names), ``print_environment_info``, the
``default_device``, ``enable_checks`` and ``default_matmul_precision`` flags (config
options that are also context managers), and ``copy_to_host_async``."""

from __future__ import annotations

import contextlib
import functools
import platform
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import runtime, tree_util
from .config import config
from .version import __version__


class ConfigFlag:
    """A config option seen as JAX's ``config.State``: ``flag.value`` reads it and
    ``with flag(new_value):`` sets it for a block (``config.update`` sets it for good)."""

    def __init__(self, name: str, default: Any, doc: str) -> None:
        self.name = name
        self.__doc__ = doc
        if name not in config._values:
            config.define(name, default)

    @property
    def value(self) -> Any:
        return getattr(config, self.name)

    @contextlib.contextmanager
    def __call__(self, new_value: Any) -> Iterator[None]:
        old = self.value
        config.update(self.name, new_value)
        try:
            yield
        finally:
            config.update(self.name, old)

    def __repr__(self):
        return f"<config flag {self.name}={self.value!r}>"


default_device = ConfigFlag(
    "jax_default_device",
    None,
    "The device (or platform name, 'cpu', 'gpu', ...) that uncommitted computations "
    "and device_put without a device use; None: the first device of the default backend.",
)
enable_checks = ConfigFlag(
    "jax_enable_checks",
    False,
    "Type-check every traced jaxpr (variables defined before use, each equation's "
    "output types as its primitive's shape rule gives); slower, for debugging the engine.",
)

default_matmul_precision = ConfigFlag(
    "jax_default_matmul_precision",
    None,
    "The precision dot_general uses when none is given: None (the backend's default), "
    "'bfloat16', 'tensorfloat32', 'float32', or JAX's other names ('highest', ...).",
)


def _check_default_device(name: str, value: Any) -> None:
    if name == "jax_default_device" and value is not None:
        if isinstance(value, str):
            runtime.devices(value)  # an unknown platform raises here, not at the next op
        elif not hasattr(value, "platform"):
            raise ValueError(
                f"jax_default_device must be a Device or a platform name, got "
                f"{type(value).__name__}: {value!r}"
            )


config.on_change(_check_default_device)


def process_count(backend: str | None = None) -> int:
    """The number of processes of the computation (1 unless ``distributed.initialize``
    made this one of several): one more than the highest device's process index."""
    return max((d.process_index for d in runtime.devices(backend)), default=0) + 1


def process_index(backend: str | None = None) -> int:
    """This process's index among ``process_count()`` (0 in a one-process run)."""
    return runtime.process_index(backend)


def process_indices(backend: str | None = None) -> list[int]:
    """The indices of the processes of the computation: ``range(process_count())``."""
    return list(range(process_count(backend)))


def _renamed(new: Any, old_name: str) -> Any:
    """JAX's older name for ``new``: same result, with JAX's UserWarning."""

    @functools.wraps(new)
    def old(backend: str | None = None) -> Any:
        warnings.warn(
            f"jax.{old_name} has been renamed to jax.{new.__name__}. This alias will "
            "eventually be removed; please update your code.",
            UserWarning,
            stacklevel=2,
        )
        return new(backend)

    old.__name__ = old_name
    return old


host_count = _renamed(process_count, "host_count")
host_id = _renamed(process_index, "host_id")
host_ids = _renamed(process_indices, "host_ids")


def copy_to_host_async(x: Any) -> Any:
    """Start copying every array leaf of ``x`` to the host; returns ``x``."""
    for leaf in tree_util.tree_leaves(x):
        start = getattr(leaf, "copy_to_host_async", None)
        if start is not None:
            start()
    return x


def environment_info() -> str:
    """The text print_environment_info prints."""
    import jaxlib.version

    devs = runtime.devices()
    lines = [
        f"glassjax engine: {__version__}",
        f"jaxlib: {jaxlib.version.__version__}",
        f"numpy:  {np.__version__}",
        f"python: {sys.version.replace(chr(10), ' ')}",
        f"device info: {devs[0].device_kind}-{len(devs)}, {len(devs)} local devices",
        f"process_count: {process_count()}",
        f"platform: {platform.uname()}",
    ]
    return "\n".join(lines) + "\n"


def print_environment_info(return_string: bool = False) -> str | None:
    """Print (or return) the versions, devices and platform, as JAX's does."""
    info = environment_info()
    if return_string:
        return info
    print(info)
    return None
