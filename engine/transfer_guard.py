"""``transfer_guard``: catch (log or refuse) copies between the host and devices, as JAX's.

Levels, per kind of transfer (host-to-device, device-to-device, device-to-host):

- ``allow``: nothing happens (the default).
- ``log`` / ``disallow``: an *implicit* transfer (a NumPy array or Python scalar passed to
  a jitted function or an eager op, an uncommitted array moved to another device, an
  array read on the host) is logged / raises; explicit ones (``device_put``,
  ``device_get``) pass silently.
- ``log_explicit`` / ``disallow_explicit``: explicit transfers are logged / raise too.

Set them with ``config.update("jax_transfer_guard", level)`` (which sets every kind, as
JAX's) or ``"jax_transfer_guard_host_to_device"`` etc. (one kind), with the environment
variables ``JAX_TRANSFER_GUARD``, ``JAX_TRANSFER_GUARD_HOST_TO_DEVICE``, ..., or for a
block with ``transfer_guard(level)`` / ``transfer_guard_host_to_device(level)`` etc.
(process-wide here; JAX's blocks are per thread).

The transfer sites read one attribute (``sites.h2d``, ``.d2d``, ``.d2h``: ``None`` when
allowed) and call :func:`check` only when it is set, so an unguarded program pays one
attribute read per transfer. As on JAX, reading a CPU array on the host is not a
transfer (the host reads the device's memory in place), so the device-to-host guard
fires only for arrays on other platforms.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator

import numpy as np

from .config import config

LEVELS = ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
_KINDS = {
    "host_to_device": "host-to-device",
    "device_to_device": "device-to-device",
    "device_to_host": "device-to-host",
}
_ATTR = {"host_to_device": "h2d", "device_to_device": "d2d", "device_to_host": "d2h"}
_GLOBAL = "jax_transfer_guard"
_OPTIONS = (_GLOBAL,) + tuple(f"{_GLOBAL}_{k}" for k in _KINDS)

logger = logging.getLogger("engine.transfer_guard")

# Effective level of each kind; None when transfers are allowed (what the sites test).


class _Sites:
    """What the transfer sites import (``from .transfer_guard import sites as _tg``; a
    plain ``from . import transfer_guard`` can get the function ``engine.transfer_guard``
    instead of this module): the effective level of each kind (None when allowed) and
    the checks."""

    __slots__ = ("h2d", "d2d", "d2h")

    def __init__(self):
        self.h2d = self.d2d = self.d2h = None

    @staticmethod
    def check_host_to_device(aval, device, explicit=False):
        check_host_to_device(aval, device, explicit)

    @staticmethod
    def check_device_to_device(array, device, explicit=False):
        check_device_to_device(array, device, explicit)

    @staticmethod
    def check_device_to_host(array, explicit=False):
        check_device_to_host(array, explicit)

    @staticmethod
    def check_static_index(idx, shape, device):
        check_static_index(idx, shape, device)


sites = _Sites()


def _validate(level):
    if level is not None and level not in LEVELS:
        raise ValueError(
            f"new enum value must be None or in {list(LEVELS)}, got {level} of type {type(level)}."
        )


def _refresh(name=None, value=None):
    if name is not None:
        if name not in _OPTIONS:
            return
        if value is not None and value not in LEVELS:  # refuse it, keep the old value
            old = _valid[name]
            config._values[name] = old
            object.__setattr__(config, name, old)
            _validate(value)
        _valid[name] = value
        if name == _GLOBAL:  # as JAX's: setting the global option sets every kind
            for n in _OPTIONS[1:]:
                config.update(n, value)
            return
    eff = [config._values[n] for n in _OPTIONS[1:]]
    sites.h2d, sites.d2d, sites.d2h = (None if v in (None, "allow") else v for v in eff)


# Defaults from JAX's environment variables (JAX_TRANSFER_GUARD sets every kind).
_env = {n: os.environ.get(n.upper()) or None for n in _OPTIONS}
for _name in _OPTIONS:
    if _name not in config._values:
        _validate(_env[_name])
        config.define(_name, _env[_name] or _env[_GLOBAL])
_valid = {n: config._values[n] for n in _OPTIONS}
config.on_change(_refresh)
_refresh()


def _set(name, level):
    _validate(level)
    config.update(name, level)


def check(kind: str, explicit: bool, describe) -> None:
    """Apply the guard of ``kind`` ('host_to_device', ...) to one transfer; ``describe()``
    gives the text after 'transfer: ' (called only when something is logged or raised)."""
    level = getattr(sites, _ATTR[kind])
    if level is None or (explicit and level in ("log", "disallow")):
        return
    what = _KINDS[kind]
    if level.startswith("log"):
        logger.warning("%s transfer: %s", what, describe())
        return
    from .runtime import JaxRuntimeError

    raise JaxRuntimeError(f"INVALID_ARGUMENT: Disallowed {what} transfer: {describe()}")


def _aval_text(aval):
    """As JAX prints an aval in these messages: ShapedArray(float32[2,3], weak_type=True)."""
    weak = ", weak_type=True" if aval.weak_type else ""
    return f"ShapedArray({aval.dtype.name}[{','.join(map(str, aval.shape))}]{weak})"


def _sharding_text(device):
    return f"SingleDeviceSharding(device={device!r}, memory_kind=device)"


def check_host_to_device(aval, device, explicit=False):
    check(
        "host_to_device",
        explicit,
        lambda: f"aval={_aval_text(aval)}, dst_sharding={_sharding_text(device)}",
    )


def check_device_to_device(array, device, explicit=False):
    def describe():
        src = "" if explicit else f", sharding={_sharding_text(array._device)}"
        return f"aval={_aval_text(array.aval)}{src}, dst_sharding={_sharding_text(device)}"

    check("device_to_device", explicit, describe)


def check_device_to_host(array, explicit=False):
    if array._device.platform == "cpu":  # read in place: no transfer (as JAX)
        return
    check(
        "device_to_host",
        explicit,
        lambda: f"aval={_aval_text(array.aval)}, sharding={_sharding_text(array._device)}",
    )


# ---------------------------------------------------------------------------- context managers


@contextlib.contextmanager
def _guard(names, level) -> Iterator[None]:
    _validate(level)
    old = [config._values[n] for n in names]
    for n in names:
        config.update(n, level)
    try:
        yield
    finally:
        for n, v in reversed(list(zip(names, old))):  # the global one first, as JAX's
            config.update(n, v)


def transfer_guard(level: str):
    """Guard every kind of transfer at ``level`` inside the block."""
    return _guard(_OPTIONS, level)


def transfer_guard_host_to_device(level: str):
    return _guard((f"{_GLOBAL}_host_to_device",), level)


def transfer_guard_device_to_device(level: str):
    return _guard((f"{_GLOBAL}_device_to_device",), level)


def transfer_guard_device_to_host(level: str):
    return _guard((f"{_GLOBAL}_device_to_host",), level)


# ---------------------------------------------------------------------------- library functions


def jitted_in_jax(n_dynamic: int = 1):
    """For a ``jnp``/``nn`` function that JAX runs under ``jit`` (so the constants it
    makes inside are part of the program, no transfers): run eagerly here, its own
    constants are not guarded, only its first ``n_dynamic`` positional arguments are (as
    jit's arguments are). Costs one attribute read when no guard is set."""

    def wrap(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            if sites.h2d is None:
                return fn(*args, **kwargs)
            from . import core, runtime

            for a in args[:n_dynamic]:
                if not isinstance(a, (core.Array, core.Tracer)):
                    try:
                        aval = core.get_aval(a)
                    except TypeError:
                        continue  # not array-like: fn raises its own error
                    check_host_to_device(aval, runtime.default_device())
            saved, sites.h2d = sites.h2d, None
            try:
                return fn(*args, **kwargs)
            finally:
                sites.h2d = saved

        return guarded

    return wrap


def check_static_index(idx, shape, device) -> None:
    """``x[idx]`` run eagerly with a static index: JAX turns each integer index, and the
    start of each unit-step slice that is not the whole axis, into an int32 array (a
    host-to-device transfer); a strided slice, ``None`` and ``...`` transfer nothing."""
    items = idx if isinstance(idx, tuple) else (idx,)
    n_axes = sum(1 for i in items if i is not None and i is not Ellipsis)
    axis = 0
    for i in items:
        if i is Ellipsis:
            axis += len(shape) - n_axes
            continue
        if i is None:
            continue
        dim = shape[axis] if axis < len(shape) else 0
        axis += 1
        if isinstance(i, slice):
            if i.step not in (None, 1) or i.indices(dim) == (0, dim, 1):
                continue
        elif isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            continue
        from . import core

        check_host_to_device(core.ShapedArray((), np.dtype(np.int32), True), device)
        return
