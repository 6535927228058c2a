"""``Array``: an immutable array backed by a PJRT device buffer."""

from __future__ import annotations

import numpy as np

from . import core, dtypes, runtime
from .sharding.named import SingleDeviceSharding
from .transfer_guard import sites as _tg


class Array:
    """A concrete array on one device, like ``jax.Array``.

    It is immutable: update with ``x.at[idx].set(v)``. Operators, indexing and
    reductions run as XLA computations on the array's device.
    """

    # ``_device``: a jaxlib Device, or for an array sharded over a mesh the runtime's
    # DeviceGroup of its devices; ``_sharding`` (unset until read) caches its sharding.
    __slots__ = ("_buf", "aval", "_device", "_committed", "_npy", "_sharding", "__weakref__")
    __array_priority__ = 100

    def __init__(self, buf, aval, device, committed=False):
        self._buf = buf
        self.aval = aval
        self._device = device
        self._committed = committed
        self._npy = None

    # -- metadata
    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: len(self.aval.shape))
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def device(self):
        if type(self._device) is runtime.DeviceGroup:
            return self.sharding
        return self._device

    def devices(self):
        if type(self._device) is runtime.DeviceGroup:
            return set(self._device.devices)
        return {self._device}

    @property
    def committed(self):
        # an array on a mesh is always committed to it (as JAX's sharded arrays)
        return self._committed or type(self._device) is runtime.DeviceGroup

    @property
    def sharding(self):
        group = self._device
        if type(group) is not runtime.DeviceGroup:
            s = SingleDeviceSharding(group)
            kind = runtime.buffer_memory_kind(self._buf)
            if kind != "device":
                s.memory_kind = kind
            return s
        try:
            return self._sharding
        except AttributeError:
            from .sharding.arrays import sharding_of_buffer

            s = self._sharding = sharding_of_buffer(self._buf, group, self.ndim)
            return s

    @property
    def format(self):
        """The layout of its buffer and its sharding (``jax.experimental.layout``)."""
        from .experimental.layout import array_format

        return array_format(self)

    @property
    def addressable_shards(self):
        from .sharding.arrays import addressable_shards

        return addressable_shards(self)

    global_shards = addressable_shards

    @property
    def is_fully_replicated(self):
        return self.sharding.is_fully_replicated

    @property
    def is_fully_addressable(self):
        if type(self._device) is not runtime.DeviceGroup:
            return True
        devices = self._device.devices
        return len(runtime.addressable(devices)) == len(devices)

    # -- host transfer
    def _value(self, explicit=False):
        v = self._npy
        if v is None:
            if self._buf.is_deleted():
                raise deleted_error(self)
            if _tg.d2h:
                _tg.check_device_to_host(self, explicit)
            if self.aval.dtype == dtypes.float0:  # its buffer is bool: float0 has no data
                v = np.zeros(self.aval.shape, dtypes.float0)
            else:
                v = runtime.to_numpy(self._buf)
            v.flags.writeable = False
            self._npy = v
        return v

    def __array__(self, dtype=None, copy=None):
        if isinstance(self.aval.dtype, dtypes.ExtendedDType):
            raise TypeError(
                "JAX array with PRNGKey dtype cannot be converted to a NumPy array. Use "
                "jax.random.key_data(arr) if you wish to extract the underlying integer array."
            )
        v = self._value()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        return v

    def tolist(self):
        return self._value().tolist()

    def item(self, *args):
        return self._value().item(*args)

    def block_until_ready(self):
        self._buf.block_until_ready()
        return self

    def copy_to_host_async(self):
        if self._buf.is_deleted():
            raise deleted_error(self)
        if self._npy is None and type(self._device) is not runtime.DeviceGroup:
            runtime.copy_to_host_async(self._buf)

    def delete(self):
        self._buf.delete()
        self._npy = None
        _forget_cached(self)

    def is_deleted(self):
        return self._buf.is_deleted()

    # -- Python protocol
    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self._value())

    def _scalar_value(self):
        if self.ndim:  # JAX (unlike NumPy) refuses size-1 arrays too
            raise TypeError(
                f"Only scalar arrays can be converted to Python scalars; got arr.ndim={self.ndim}"
            )
        return self._value()

    def __int__(self):
        return int(self._scalar_value())

    def __float__(self):
        return float(self._scalar_value())

    def __complex__(self):
        return complex(self._scalar_value())

    def __index__(self):
        if self.ndim or (not dtypes.is_int(self.dtype) and self.dtype != np.bool_):
            raise TypeError(
                "Only integer scalar arrays can be converted to a scalar index; got an array "
                f"of shape {self.shape} and dtype {self.dtype}"
            )
        return self._value().__index__()

    def __hash__(self):
        raise TypeError("unhashable type: 'Array'")

    def __setitem__(self, idx, value):
        raise TypeError(core.IMMUTABLE_SETITEM)

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self._value()[()], spec)
        return format(self._value(), spec)

    def __reduce__(self):
        return (_reconstruct, (np.array(self._value()), self.weak_type))

    def __repr__(self):
        if not self.is_fully_addressable:  # its blocks live in several processes
            return f"Array(shape={self.shape}, dtype={self.dtype.name})"
        s = self.aval.sharding
        if s is not None and s.spec.unreduced:  # partial sums: no one value to show
            weak = ", weak_type=True" if self.weak_type else ""
            return f"Array(shape={self.shape}, dtype={self.dtype.name}{weak}, sharding={self.sharding})"
        if isinstance(self.aval.dtype, dtypes.ExtendedDType):  # typed keys: their data
            return f"Array({self.shape}, dtype={self.dtype.name}) overlaying:\n{self._value()}"
        v = self._value()
        prefix = "Array("
        dtype_str = f"dtype={self.dtype.name}" + (", weak_type=True" if self.weak_type else "")
        width = np.get_printoptions()["linewidth"]
        if v.size == 0:
            body = f"[], shape={v.shape}"
        else:
            body = np.array2string(
                v, separator=", ", prefix=prefix, suffix=",", max_line_width=width
            )
        # as JAX's: the values wrap on their own; a dtype that does not fit on the last
        # line is set off by spaces (not a new line), so reprs read the same in both
        last_line_len = len(body) - body.rfind("\n") + 1
        sep = " " * len(prefix) if last_line_len + len(dtype_str) + 2 > width else " "
        return f"{prefix}{body},{sep}{dtype_str})"

    def __str__(self):
        if isinstance(self.aval.dtype, dtypes.ExtendedDType):
            return repr(self)
        return str(self._value())

    def __dlpack__(self, *a, **k):
        return self._value().__dlpack__(*a, **k)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _forget_cached(x):
    """Drop a deleted array from the engine's scalar caches (``device_put(1.0)`` and
    ``jnp.float32(2)`` hand out cached arrays), so later calls never meet it."""
    from . import dispatch
    from .numpy import _util

    for cache in (dispatch._scalar_cache, _util._strong_scalars):
        for key in [k for k, v in cache.items() if v is x]:
            del cache[key]


def deleted_error(x):
    """JAX's error for reading a deleted (or donated) array."""
    from .sharding.arrays import typeof

    # JAX's str_short: the type with its sharding (float32[16@x]), no weak-type mark
    return RuntimeError(f"Array has been deleted with shape={str(typeof(x)).lstrip('~')}.")


def _reconstruct(value, weak_type):
    from .dispatch import device_put_value

    return device_put_value(value, None, weak_type=weak_type)


core.Array = Array
