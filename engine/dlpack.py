"""Zero-copy exchange with other array libraries through DLPack, as ``jax.dlpack``:
``from_dlpack(x)`` takes any object with ``__dlpack__``/``__dlpack_device__`` (NumPy,
PyTorch, CuPy, another engine Array) and engine Arrays get both methods, so
``np.from_dlpack(array)`` and ``torch.from_dlpack(array)`` read them. The capsules
are jaxlib's (``buffer_to_dlpack_managed_tensor`` / ``dlpack_managed_tensor_to_buffer``)."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from . import api, core, dtypes, runtime
from .array import Array

__all__ = ["from_dlpack", "is_supported_dtype"]


class DLDeviceType(enum.IntEnum):
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLROCM = 10


_PLATFORM_OF = {
    DLDeviceType.kDLCPU: "cpu",
    DLDeviceType.kDLCUDA: "cuda",
    DLDeviceType.kDLCUDAHost: "cpu",
    DLDeviceType.kDLROCM: "rocm",
}

_SUPPORTED = frozenset(
    np.dtype(d)
    for d in (
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        dtypes.bfloat16,
        np.float32,
        np.float64,
        np.complex64,
        np.complex128,
        np.bool_,
    )
)


def _jax_ext() -> Any:
    import jaxlib._jax as ext

    return ext


def is_supported_dtype(dtype: Any) -> bool:
    """Whether arrays of ``dtype`` can cross DLPack."""
    if dtype is None:
        raise TypeError(f"Expected a string or dtype-like object; got {dtype=}")
    return np.dtype(dtype) in _SUPPORTED


def _dl_device_type(device: Any) -> DLDeviceType:
    platform = runtime.platform_of(device)
    if platform == "cpu":
        return DLDeviceType.kDLCPU
    if platform == "gpu":
        return DLDeviceType.kDLROCM if "rocm" in device.client.platform else DLDeviceType.kDLCUDA
    raise BufferError(f"DLPack does not support arrays on {platform} devices ({device})")


def _device_of(dl_type: int, device_id: int, array: Any) -> Any:
    try:
        platform = _PLATFORM_OF[DLDeviceType(dl_type)]
    except (KeyError, ValueError):
        raise TypeError(
            "Array passed to from_dlpack is on unsupported device type "
            f"(DLDeviceType: {dl_type}, array: {array!r})"
        ) from None
    for d in runtime.devices(platform):
        if _hardware_id(d) == device_id:
            return d
    raise TypeError(f"from_dlpack: no {platform} device with hardware id {device_id}")


def from_dlpack(external_array: Any, device: Any = None, copy: bool | None = None) -> Array:
    """An engine Array on the memory of ``external_array`` (any object with
    ``__dlpack__`` and ``__dlpack_device__``), shared without a copy where possible.

    ``device``: where the result should live (a copy if elsewhere; ``copy=False`` then
    raises); ``copy=True`` always copies. Writing to the source afterwards is undefined."""
    if not hasattr(external_array, "__dlpack__") or not hasattr(
        external_array, "__dlpack_device__"
    ):
        raise TypeError(
            "The array passed to from_dlpack must have __dlpack__ and __dlpack_device__ methods."
        )
    dl_type, device_id = external_array.__dlpack_device__()
    src = _device_of(dl_type, device_id, external_array)
    if device is not None and device != src and copy is False:
        raise ValueError(
            f"Specified {device=} which requires a copy since the source device is "
            f"{src!r}, however copy=False. Set copy=True or copy=None to perform the "
            "requested operation."
        )
    # A GPU producer must order its writes before our reads: hand it our stream.
    stream = None
    if dl_type in (DLDeviceType.kDLCUDA, DLDeviceType.kDLROCM):
        stream = src.get_stream_for_external_ready_events()
    capsule = external_array.__dlpack__(stream=stream)
    try:
        buf = _jax_ext().dlpack_managed_tensor_to_buffer(capsule, src, stream, copy, int(dl_type))
    except Exception as e:
        if "is not aligned to" in str(e):
            raise ValueError(
                f"from_dlpack needs a copy ({str(e)[str(e).index('is not aligned to') :]}) "
                "but copy=False; set copy=True or copy=None."
            ) from None
        raise
    aval = core.ShapedArray(buf.shape, np.dtype(buf.dtype))
    out = Array(buf, aval, src)
    canonical = dtypes.canonicalize_dtype(aval.dtype)
    if canonical != aval.dtype:  # float64 data without x64: as JAX, convert
        from . import numpy as jnp

        out = jnp.asarray(out, dtype=canonical)
    if device is not None and device != src:
        return api.device_put(out, device)
    return out


def _array_dlpack(
    self: Array,
    *,
    stream: int | None = None,
    max_version: tuple[int, int] | None = None,
    dl_device: tuple[int, int] | None = None,
    copy: bool | None = None,
) -> Any:
    """The array as a DLPack capsule (the array-API protocol)."""
    if dl_device is not None and tuple(dl_device) != _array_dlpack_device(self):
        raise BufferError(
            f"__dlpack__: this array is on {_array_dlpack_device(self)}, not {tuple(dl_device)}"
        )
    if not is_supported_dtype(self.dtype):
        raise BufferError(f"DLPack does not support dtype {self.dtype}")
    src = self
    if copy:
        from . import numpy as jnp

        src = jnp.array(self, copy=True)
    return _jax_ext().buffer_to_dlpack_managed_tensor(src._buf, stream=stream)


def _array_dlpack_device(self: Array) -> tuple[int, int]:
    return int(_dl_device_type(self._device)), _hardware_id(self._device)


def _hardware_id(device: Any) -> int:
    hid = getattr(device, "local_hardware_id", None)
    return int(device.id if hid is None else hid)


Array.__dlpack__ = _array_dlpack  # type: ignore[attr-defined,method-assign]
Array.__dlpack_device__ = _array_dlpack_device  # type: ignore[attr-defined,method-assign]
