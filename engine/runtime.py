"""The one module that touches jaxlib's internals.

Clients and devices, moving arrays, compiling StableHLO text and running the
result all go through here and the three modules beside it (``runtime_compile``:
executables and compiling; ``runtime_spmd``: programs and arrays over many devices;
``runtime_plugins``: PJRT plugins), so that a jaxlib upgrade touches only these files.
Their public names are importable from here.
Nothing here imports ``jax``: some jaxlib paths import it lazily (for example
``LoadedExecutable.execute``), so those paths are avoided on purpose.

Tested on jaxlib 0.10.2 (CPU, Python 3.11) and jaxlib 0.11.2 with the CUDA 13
PJRT plugin (H200, Python 3.12). Calls whose names or signatures may move between
versions are looked up with ``getattr`` and fail with a message naming what is
missing.
"""

import importlib
import os
import re
import sys
import threading
import warnings

import jaxlib
import jaxlib.version
import numpy as np
from jaxlib import xla_client as xc
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import chlo, stablehlo

from .config import config

_TESTED = ((0, 10), (0, 11))  # (major, minor) pairs this module was run against


def _parse_version(text):
    """'0.10.2rc1' -> (0, 10, 2)."""
    return tuple(
        int(m.group()) if (m := re.match(r"\d+", piece)) else 0 for piece in text.split(".")[:3]
    )


_JAXLIB_VERSION = _parse_version(jaxlib.version.__version__)
if _JAXLIB_VERSION[:2] < (0, 10):
    raise ImportError(
        f"engine.runtime needs jaxlib >= 0.10 (found {jaxlib.version.__version__}); "
        "upgrade with `pip install -U jaxlib`."
    )
if _JAXLIB_VERSION[:2] not in _TESTED:
    warnings.warn(
        f"engine.runtime was tested with jaxlib {', '.join('%d.%d' % v for v in _TESTED)}; "
        f"found {jaxlib.version.__version__}. If something breaks, the fix belongs in "
        "engine/runtime.py.",
        RuntimeWarning,
        stacklevel=2,
    )


# jaxlib records a Python traceback with every execution (for its profiler and buffer
# provenance). Without ``jax`` imported, that path leaks one small object per call (about
# 56 bytes: 10,000 calls of a jitted function left 10,001 more allocated blocks). The
# engine never reads these tracebacks, so it turns them off, unless real JAX shares the
# process and may want them.
_set_tracebacks = getattr(getattr(jaxlib, "_jax", None), "set_tracebacks_enabled", None)
if _set_tracebacks is not None and "jax" not in sys.modules:
    _set_tracebacks(False)


def jaxlib_version() -> tuple:
    return _JAXLIB_VERSION


def portable_artifact_serializer():
    """jaxlib's ``serialize_portable_artifact`` (JAX's export writer, which also hoists
    constants to the top of each block), or None when this jaxlib lacks it."""
    return getattr(
        getattr(getattr(jaxlib, "_jax", None), "mlir", None), "serialize_portable_artifact", None
    )


def _require(obj, name, what):
    """getattr that names the missing jaxlib API instead of a bare AttributeError."""
    value = getattr(obj, name, None)
    if value is None:
        raise RuntimeError(
            f"jaxlib {jaxlib.version.__version__} has no {what} ({name}); "
            "engine/runtime.py needs updating for this jaxlib."
        )
    return value


# ---------------------------------------------------------------------------
# MLIR contexts

_registry = None
_registry_lock = threading.Lock()
_RawContext = ir.Context.__bases__[0] if ir.Context.__bases__[0] is not object else ir.Context


class _Context(ir.Context):
    """An ir.Context that skips jaxlib's Python __init__, which loads every dialect
    linked into jaxlib (~1.5 ms a context); make_mlir_context loads what we use."""

    def __init__(self):
        _RawContext.__init__(self)


def _dialect_registry():
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                from jaxlib.mlir._mlir_libs import _jax_mlir_ext

                registry = ir.DialectRegistry()
                _require(_jax_mlir_ext, "register_dialects", "MLIR dialect registration")(registry)
                _registry = registry
    return _registry


def _optional_dialect_registrars():
    registrars = []
    for module_name, fn_name in (("sdy", "register_dialect"), ("mhlo", "register_mhlo_dialect")):
        try:
            module = __import__(f"jaxlib.mlir.dialects.{module_name}", fromlist=[fn_name])
        except ImportError:
            continue
        fn = getattr(module, fn_name, None)
        if fn is not None:
            registrars.append(fn)
    return registrars


_REGISTRARS = [stablehlo.register_dialect, chlo.register_dialect] + _optional_dialect_registrars()


def make_mlir_context() -> ir.Context:
    """A fresh MLIR context with func, StableHLO, CHLO (and Shardy, MHLO) loaded."""
    ctx = _Context()
    ctx.enable_multithreading(False)  # a per-context thread pool costs more than it saves here
    ctx.append_dialect_registry(_dialect_registry())
    ctx.dialects["builtin"]
    ctx.dialects["func"]  # registered lazily otherwise: func ops would be built unverified
    for register in _REGISTRARS:
        register(ctx)
    return ctx


def inline_func_call(func_op, args) -> list:
    """The body of ``func_op`` (a func.func) emitted at the current insertion point on
    ``args``, as jaxlib inlines a cached lowering; returns its results."""
    from jaxlib.mlir._mlir_libs import _jax_mlir_ext

    inline = _require(_jax_mlir_ext, "inlined_func_call", "MLIR function inlining")
    return list(inline(func_op.operation, list(args)))


# ---------------------------------------------------------------------------
# Backends, plugins, devices

_backends = None
_backend_errors = {}
_backend_lock = threading.RLock()
_cpu_device_count = None
_default_device = None
_GPU_PLATFORMS = ("cuda", "rocm")


def set_cpu_device_count(n: int | None):
    """Make the CPU client with ``n`` devices; only before the first backend use.

    The environment variable JAX_NUM_CPU_DEVICES does the same.
    """
    global _cpu_device_count
    if n is None:
        _cpu_device_count = None
        return
    if _backends is not None:
        raise RuntimeError(
            "set_cpu_device_count() must be called before the CPU backend is "
            "first used (devices, device_put, compile ...)."
        )
    _cpu_device_count = int(n)


_linalg_targets = {}  # platform -> names of registered linear-algebra custom calls


def register_lapack_targets():
    """Register jaxlib's LAPACK kernels (``lapack_spotrf_ffi`` & co) as CPU custom-call
    targets, typed FFI for the ``*_ffi`` names, as jaxlib expects. Idempotent."""
    if "cpu" in _linalg_targets:
        return _linalg_targets["cpu"]
    from jaxlib.cpu import _lapack

    _lapack.initialize()
    names = set()
    for name, fn in _lapack.registrations().items():
        xc.register_custom_call_target(
            name, fn, platform="cpu", api_version=int(name.endswith("_ffi"))
        )
        names.add(name)
    _linalg_targets["cpu"] = frozenset(names)
    return _linalg_targets["cpu"]


def linalg_targets(platform: str) -> frozenset:
    """Names of the linear-algebra custom calls registered for ``platform``
    ('cpu', 'cuda'); empty where none are (e.g. a CUDA plugin without solvers)."""
    if platform == "cpu":
        return register_lapack_targets()
    backends()
    return _linalg_targets.get(platform, frozenset())


def _on_config_change(name, value):
    if name == "jax_num_cpu_devices":
        if _backends is not None:
            # the flag keeps the count the backend was made with
            config._values[name] = object.__getattribute__(config, "_started_cpu_devices")
            object.__setattr__(config, name, config._values[name])
            raise RuntimeError(
                "jax_num_cpu_devices config should be updated before backends are "
                "initialized (before the first devices(), device_put or compile)."
            )
        set_cpu_device_count(value if value is not None and value >= 0 else None)
        object.__setattr__(config, "_started_cpu_devices", value)


config.define("jax_num_cpu_devices", -1)
object.__setattr__(config, "_started_cpu_devices", -1)
config.on_change(_on_config_change)


_distributed = None  # (client, process_id, num_processes) once distributed.initialize ran


def set_distributed(state) -> None:
    """engine.distributed's hook: ``(DistributedRuntimeClient, process_id, num_processes)``
    makes the CPU client one node of that job, with gloo TCP collectives (as JAX's
    xla_bridge does); None goes back to one process. Only before the backends exist."""
    global _distributed
    if state is not None and _backends is not None:
        raise RuntimeError("the distributed runtime must be set before the backends are made")
    _distributed = state


def backends_are_initialized() -> bool:
    return _backends is not None


def distributed_runtime(name: str):
    """jaxlib's distributed-runtime entry point ``name`` (get_distributed_runtime_service,
    get_distributed_runtime_client, create_preemption_sync_manager)."""
    return _require(xc._xla, name, "distributed runtime")


def _make_cpu_client():
    register_lapack_targets()
    n = _cpu_device_count
    if n is None and os.environ.get("JAX_NUM_CPU_DEVICES"):
        n = int(os.environ["JAX_NUM_CPU_DEVICES"])
    if _distributed is not None:
        client, process_id, num_processes = _distributed
        return xc.make_cpu_client(
            distributed_client=client,
            node_id=process_id,
            num_nodes=num_processes,
            collectives=_require(xc._xla, "make_gloo_tcp_collectives", "gloo collectives")(
                distributed_client=client
            ),
            num_devices=n,
        )
    if n is None:
        return xc.make_cpu_client()
    return xc.make_cpu_client(num_devices=n)


def _requested_platforms():
    """Names in config.jax_platforms (lower case, 'gpu' kept as is), or None if unset."""
    text = (config.jax_platforms or "").strip()
    if not text:
        return None
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in ("cpu", "gpu", "cuda", "rocm", "tpu"):
            raise ValueError(
                f"jax_platforms names unknown platform {n!r}; use cpu, gpu, cuda, rocm or tpu."
            )
    return names


def _expand(names):
    out = []
    for n in names:
        for p in _GPU_PLATFORMS if n == "gpu" else (n,):
            if p not in out:
                out.append(p)
    return out


def backends() -> dict:
    """{'cpu': client, and 'cuda'/'rocm'/'tpu' where a plugin loaded}, made once.

    With config.jax_platforms set, only the plugins it names are loaded, and a named
    one that cannot start raises; otherwise a failing plugin only warns.
    """
    global _backends
    if _backends is not None:
        return _backends
    with _backend_lock:
        if _backends is not None:
            return _backends
        requested = _requested_platforms()
        wanted = [
            p for p in ("tpu", "cuda", "rocm") if requested is None or p in _expand(requested)
        ]
        made = {"cpu": _make_cpu_client()}
        from .runtime_plugins import _make_plugin_client, find_plugins

        plugins = find_plugins()
        for platform in wanted:
            if platform not in plugins:
                continue
            try:
                made[platform] = _make_plugin_client(platform, plugins[platform])
            except Exception as e:
                _backend_errors[platform] = e
                if requested is None:
                    warnings.warn(
                        f"{platform} PJRT plugin at {plugins[platform]} failed to "
                        f"start; continuing without it: {e}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        for name in requested or ():
            if name != "cpu" and not any(p in made for p in _expand([name])):
                errors = {p: _backend_errors[p] for p in _expand([name]) if p in _backend_errors}
                why = (
                    f"its plugin failed to start: {errors}"
                    if errors
                    else "no plugin for it is installed (looked for jax_plugins/xla_cuda*/, "
                    "jax_plugins/xla_rocm*/ and libtpu on sys.path)"
                )
                raise RuntimeError(f"jax_platforms asks for {name!r} but {why}")
        _backends = made
        return _backends


def backend_errors() -> dict:
    """Why an installed plugin did not start: {platform: exception}."""
    return dict(_backend_errors)


def _order():
    requested = _requested_platforms()
    if requested is not None:
        return _expand(requested) + ["cpu"]
    return ["tpu", "cuda", "rocm", "cpu"]


def _canonical_platform(backend):
    """'gpu' -> whichever of cuda/rocm is up; others as named."""
    available = backends()
    name = backend.lower()
    if name == "gpu":
        for p in _GPU_PLATFORMS:
            if p in available:
                return p
    elif name in available:
        return name
    raise RuntimeError(
        f"Backend {backend!r} is not available; available: "
        f"{sorted(_jax_style(p) for p in available)}"
        + (f" (failed: {sorted(_backend_errors)})" if _backend_errors else "")
    )


def _jax_style(platform):
    return "gpu" if platform in _GPU_PLATFORMS else platform


def default_backend() -> str:
    available = backends()
    for p in _order():
        if p in available:
            return _jax_style(p)
    return "cpu"


def devices(backend: str | None = None) -> list:
    platform = _canonical_platform(backend or default_backend())
    return list(backends()[platform].devices())


def local_devices(backend: str | None = None) -> list:
    """This process's devices of ``backend`` (all of them unless distributed.initialize
    made this process one of several)."""
    platform = _canonical_platform(backend or default_backend())
    return list(backends()[platform].local_devices())


def process_index(backend: str | None = None) -> int:
    platform = _canonical_platform(backend or default_backend())
    return backends()[platform].process_index()


def addressable(devices) -> list:
    """Those of ``devices`` this process can hold buffers on."""
    return [d for d in devices if d.process_index == d.client.process_index()]


def default_device():
    global _default_device
    chosen = getattr(config, "jax_default_device", None)  # engine/environment.py
    if chosen is not None:
        return devices(chosen)[0] if isinstance(chosen, str) else chosen
    if _default_device is None:
        _default_device = local_devices()[0]
    return _default_device


def platform_of(device) -> str:
    """'cpu', 'gpu' or 'tpu' for a jaxlib Device."""
    p = device.platform
    if p in ("gpu",) + _GPU_PLATFORMS:
        return "gpu"
    return p


def live_buffer_count(backend: str = "cpu") -> int:
    client = backends()[_canonical_platform(backend)]
    live = getattr(client, "live_arrays", None) or _require(
        client, "live_buffers", "live buffer list"
    )
    return len(live())


def live_buffers(backend: str = "cpu") -> list:
    """jaxlib's live (not deleted, not collected) arrays of ``backend``'s client."""
    client = backends()[_canonical_platform(backend)]
    live = getattr(client, "live_arrays", None) or _require(
        client, "live_buffers", "live buffer list"
    )
    return list(live())


# ---------------------------------------------------------------------------
# Arrays


class _Aval:
    """What jaxlib's array constructors read: shape, dtype, weak_type."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = shape  # a tuple of ints
        self.dtype = dtype  # a np.dtype
        self.weak_type = weak_type

    def __repr__(self):
        return f"_Aval({self.shape}, {self.dtype}, weak_type={self.weak_type})"


_shardings = {}


def _sharding(device, memory_kind=None):
    """A one-device sharding jaxlib accepts without JAX's Python Sharding methods
    (in ``memory_kind``'s memory of the device, its default memory if None)."""
    s = _shardings.get((device, memory_kind))
    if s is None:
        s = _shardings[(device, memory_kind)] = xc.GSPMDSharding(
            (device,), xc.OpSharding(), memory_kind=memory_kind
        )
    return s


def buffer_memory_kind(buf) -> str:
    """The kind of memory (``device``, ``pinned_host``, ...) a jaxlib array lives in."""
    return getattr(buf._sharding, "_memory_kind", None) or "device"


def copy_to_memory(buf, memory_kind: str):
    """A copy of the one-device array ``buf`` in its device's ``memory_kind`` memory."""
    device = buffer_device(buf)
    return xc.batched_copy_array_to_devices_with_sharding(
        [buf],
        [xc.DeviceList((device,))],
        [_sharding(device, memory_kind)],
        [xc.ArrayCopySemantics.ALWAYS_COPY],
    )[0]


_put = xc.batched_device_put
# ZERO_COPY, jaxlib's default, aliases large CPU numpy arrays: a later write to the
# numpy array would show through. Copy during the call instead (same cost for small arrays).
_COPY = xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL
_ALIAS = xc.HostBufferSemantics.ZERO_COPY


def device_put(
    x, device, weak_type: bool = False, *, aval=None, copy: bool = True, memory_kind=None
):
    """x (a numpy array of its final dtype) onto ``device``; returns jaxlib's ArrayImpl.

    ``aval``, if given, is attached to the array as is (needs .shape/.dtype/.weak_type).
    ``copy=False`` lets a CPU array alias x; only for arrays nobody will mutate.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype.kind == "V" and x.dtype.names:  # float0 (a tangent with no data): a bool
        # buffer, as lowered (ml_dtypes' bfloat16, float8, int4 ... are kind "V" too)
        x, aval = np.zeros(x.shape, np.bool_), None
    if aval is None:
        aval = _Aval(x.shape, x.dtype, weak_type)
    if type(device) is DeviceGroup:
        from .runtime_spmd import put_sharded

        return put_sharded(x, device, None, aval, memory_kind=memory_kind)
    # enable_x64=True: x already has its final dtype, so no 64->32 narrowing.
    return _put(
        aval,
        _sharding(device, memory_kind),
        [x],
        [device],
        True,
        False,
        _COPY if copy else _ALIAS,
        enable_x64=True,
    )


# Reading arrays back. jaxlib's _single_device_array_to_np_array_did_copy (what JAX's
# np.asarray uses) does `import jax.core` the first time it runs, so it is used only
# when jax is already loaded. np.asarray(buf) uses the buffer protocol instead: no
# import, zero-copy, but CPU buffers of numpy's own dtypes only (bfloat16 silently
# becomes a 0-d object array). Other dtypes are reinterpreted as integers on the
# device first; other devices copy to the CPU client first.
_DID_COPY = getattr(xc.ArrayImpl, "_single_device_array_to_np_array_did_copy", None)

# ml_dtypes name -> (MLIR element type, stablehlo op, MLIR type and numpy dtype read back)
_REINTERPRET = {
    "bfloat16": ("bf16", "bitcast_convert", "ui16", np.uint16),
    "float8_e4m3fn": ("f8E4M3FN", "bitcast_convert", "ui8", np.uint8),
    "float8_e5m2": ("f8E5M2", "bitcast_convert", "ui8", np.uint8),
    "float8_e4m3fnuz": ("f8E4M3FNUZ", "bitcast_convert", "ui8", np.uint8),
    "float8_e5m2fnuz": ("f8E5M2FNUZ", "bitcast_convert", "ui8", np.uint8),
    "float8_e4m3b11fnuz": ("f8E4M3B11FNUZ", "bitcast_convert", "ui8", np.uint8),
    "float8_e4m3": ("f8E4M3", "bitcast_convert", "ui8", np.uint8),
    "float8_e3m4": ("f8E3M4", "bitcast_convert", "ui8", np.uint8),
    "float8_e8m0fnu": ("f8E8M0FNU", "bitcast_convert", "ui8", np.uint8),
    # Sub-byte types have no same-width integer to bitcast to; widening is exact.
    "int4": ("i4", "convert", "i8", np.int8),
    "uint4": ("ui4", "convert", "ui8", np.uint8),
    "int2": ("i2", "convert", "i8", np.int8),
    "uint2": ("ui2", "convert", "ui8", np.uint8),
    "float4_e2m1fn": ("f4E2M1FN", "convert", "f32", np.float32),
}
_reinterpreters = {}


def _tensor_type(shape, element):
    return "tensor<" + "".join(f"{d}x" for d in shape) + element + ">"


def _reinterpret_on_device(buf, dtype):
    """buf (an ml_dtypes array) as integers/floats numpy reads natively, same device."""
    try:
        element, op, out_element, out_dtype = _REINTERPRET[dtype.name]
    except KeyError:
        raise TypeError(f"cannot read arrays of dtype {dtype} back to the host") from None
    shape = tuple(buf.aval.shape)
    device = buffer_device(buf)
    key = (device, shape, dtype.name)
    exe = _reinterpreters.get(key)
    if exe is None:
        src, dst = _tensor_type(shape, element), _tensor_type(shape, out_element)
        text = (
            f"func.func public @main(%arg0: {src}) -> {dst} {{\n"
            f'  %0 = "stablehlo.{op}"(%arg0) : ({src}) -> {dst}\n'
            f"  return %0 : {dst}\n}}\n"
        )
        from .runtime_compile import compile

        exe = _reinterpreters[key] = compile(text, device, [_Aval(shape, np.dtype(out_dtype))])
    return exe([buf])[0], out_dtype


def _to_cpu(buf):
    cpu = backends()["cpu"].local_devices()[0]
    copy_fn = _require(xc, "batched_copy_array_to_devices_with_sharding", "array copy")
    return copy_fn(
        [buf], [xc.DeviceList((cpu,))], [_sharding(cpu)], [xc.ArrayCopySemantics.ALWAYS_COPY]
    )[0]


def to_numpy(buf) -> np.ndarray:
    """The host value of ``buf``, read-only (like JAX's); zero-copy where possible."""
    out = np.asarray(buf)
    if out.dtype != object:
        return out
    return _to_numpy_slow(buf)


def _to_numpy_slow(buf):
    if buf.is_deleted():
        raise RuntimeError("cannot read an array that has been deleted or donated")
    if len(buffer_devices(buf)) > 1:
        from .runtime_spmd import _gather_shards

        return _gather_shards(buf, shard_buffers(buf))
    if _DID_COPY is not None and "jax" in sys.modules:
        out = _DID_COPY(buf)[0]
        out.flags.writeable = False
        return out
    dtype = np.dtype(buf.aval.dtype)
    host_dtype = dtype
    if dtype.name in _REINTERPRET:
        buf, host_dtype = _reinterpret_on_device(buf, dtype)
    if buffer_device(buf).platform != "cpu":
        buf = _to_cpu(buf)
    out = np.asarray(buf)
    if out.dtype == object:
        raise RuntimeError(f"could not read an array of dtype {dtype} back to the host")
    if host_dtype is not dtype:
        out = (
            out.view(dtype)
            if np.dtype(host_dtype).itemsize == dtype.itemsize
            else out.astype(dtype)
        )
        out.flags.writeable = False
    return out


def buffer_device(buf):
    sharding = buf._sharding
    try:
        return sharding._devices[0]  # GSPMDSharding, what this module makes
    except AttributeError:
        return sharding._internal_device_list[0]


def copy_to_device(buf, device):
    """A copy of ``buf`` on ``device`` (same aval); falls back to a host round trip."""
    if type(device) is DeviceGroup or len(buffer_devices(buf)) > 1:
        return device_put(to_numpy(buf), device, aval=buf.aval)
    copy_fn = getattr(xc, "batched_copy_array_to_devices_with_sharding", None)
    if copy_fn is not None and buffer_device(buf).client is device.client:
        return copy_fn(
            [buf],
            [xc.DeviceList((device,))],
            [_sharding(device)],
            [xc.ArrayCopySemantics.ALWAYS_COPY],
        )[0]
    return device_put(to_numpy(buf), device, aval=buf.aval)


def delete(buf):
    buf.delete()


def block_until_ready(buf):
    buf.block_until_ready()
    return buf


def copy_to_host_async(buf):
    """Start copying ``buf`` to the host (a later read finds it there); no-op where
    jaxlib has no such call."""
    start = getattr(buf, "_copy_single_device_array_to_host_async", None)
    if start is not None:
        start()


# ---------------------------------------------------------------------------
# Many devices (engine/sharding): a sharded array is one jaxlib ArrayImpl made of
# per-device buffers with a GSPMDSharding; an SPMD program is compiled once for all the
# devices of a mesh (num_partitions = number of devices) by XLA's SPMD partitioner.
# Shardings here are HloShardings whose tile assignment holds *positions* in the
# group's device tuple (XLA's logical device ids for the program's device assignment).


class DeviceGroup:
    """Devices acting together as one placement: where a sharded array lives and an
    SPMD program runs (a mesh's devices in the mesh's order). One object per tuple and
    ``tag`` (engine.sharding tags each group with its mesh, kept in ``meshes``)."""

    _groups: dict = {}
    __slots__ = ("devices", "platform", "client", "replicated", "meshes", "__weakref__")

    def __new__(cls, devices, tag=None):
        devices = tuple(devices)
        group = cls._groups.get((devices, tag))
        if group is None:
            group = object.__new__(cls)
            group.devices = devices
            group.platform = devices[0].platform
            group.client = devices[0].client
            group.replicated = xc.GSPMDSharding(devices, xc.HloSharding.replicate())
            group.meshes = [] if tag is None else [tag]
            cls._groups[(devices, tag)] = group
        return group

    @property
    def id(self):
        return tuple(d.id for d in self.devices)

    def __repr__(self):
        return f"DeviceGroup(device ids {[d.id for d in self.devices]} on {self.platform})"


def shard_buffers(buf) -> list:
    """The per-device buffers of a jaxlib array (itself for a one-device array).
    jaxlib imports jax the first time it splits an array (``_arrays``); one-device
    arrays never get there."""
    if len(buffer_devices(buf)) == 1:
        return [buf]
    return list(buf._arrays)


def buffer_devices(buf) -> tuple:
    sharding = buf._sharding
    devices = getattr(sharding, "_devices", None)
    if devices is None:
        devices = sharding._internal_device_list
    return tuple(devices)


# ---------------------------------------------------------------------------
# The rest of the fence lives beside this module (those modules import this one); their
# names stay importable from here, fetched on first use (PEP 562).
_BESIDE = {
    "HOST_CALLBACKS_ATTR": "runtime_compile",
    "Executable": "runtime_compile",
    "JaxRuntimeError": "runtime_compile",
    "MemoryStats": "runtime_compile",
    "_check_sizes": "runtime_compile",
    "_compile_options": "runtime_compile",
    "_result_handler": "runtime_compile",
    "_set_donors": "runtime_compile",
    "background_calls": "runtime_compile",
    "compile": "runtime_compile",
    "mlir_to_hlo_text": "runtime_compile",
    "python_callback_target": "runtime_compile",
    "register_host_callbacks": "runtime_compile",
    "run_interruptibly": "runtime_compile",
    "trace_events": "runtime_compile",
    "_make_plugin_client": "runtime_plugins",
    "find_plugins": "runtime_plugins",
    "SpmdExecutable": "runtime_spmd",
    "_gather_shards": "runtime_spmd",
    "assemble": "runtime_spmd",
    "compile_spmd": "runtime_spmd",
    "group_sharding": "runtime_spmd",
    "hlo_device_indices": "runtime_spmd",
    "hlo_of_buffer": "runtime_spmd",
    "put_sharded": "runtime_spmd",
    "set_spmd_specializer": "runtime_spmd",
}


def __getattr__(name):
    module = _BESIDE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(f"engine.{module}"), name)
    return value
