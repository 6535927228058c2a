"""The one module that touches jaxlib's internals.

Clients and devices, moving arrays, compiling StableHLO text and running the
result all go through here, so that a jaxlib upgrade is a one-file change.
Nothing here imports ``jax``: some jaxlib paths import it lazily (for example
``LoadedExecutable.execute``), so those paths are avoided on purpose.

Tested on jaxlib 0.10.2 (CPU, Python 3.11) and jaxlib 0.11.2 with the CUDA 13
PJRT plugin (H200, Python 3.12). Calls whose names or signatures may move between
versions are looked up with ``getattr`` and fail with a message naming what is
missing.
"""

import atexit
import ctypes
import glob
import importlib.metadata
import importlib.util
import os
import queue
import re
import sys
import threading
import time
import warnings

import jaxlib
import jaxlib.version
import numpy as np
from jaxlib import xla_client as xc
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import chlo, stablehlo

from . import compilation_cache as _pcache
from . import errors as _errors
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


def _register_cuda_solver_targets():
    """cuSOLVER/cuBLAS kernels of the CUDA plugin (``cusolver_potrf_ffi`` & co), loaded
    from the plugin package's ``_solver``/``_linalg`` extension files (its package
    ``__init__`` may import jax)."""
    names = set()
    for pkg in ("jax_cuda13_plugin", "jax_cuda12_plugin"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        for mod in ("_solver", "_linalg"):
            paths = []
            for d in spec.submodule_search_locations:
                paths.extend(glob.glob(os.path.join(d, f"{mod}*.so")))
            if not paths:
                continue
            ext_spec = importlib.util.spec_from_file_location(f"{pkg}.{mod}", paths[0])
            ext = importlib.util.module_from_spec(ext_spec)
            ext_spec.loader.exec_module(ext)
            for name, fn in getattr(ext, "registrations", dict)().items():
                xc.register_custom_call_target(
                    name, fn, platform="CUDA", api_version=int(name.endswith("_ffi"))
                )
                names.add(name)
        if names:
            break
    _linalg_targets["cuda"] = frozenset(names)


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


def _plugin_dirs():
    """Folders that may hold ``jax_plugins/...`` without importing anything."""
    dirs = []
    spec = importlib.util.find_spec("jax_plugins")  # a namespace package; not executed
    if spec is not None and spec.submodule_search_locations:
        dirs.extend(spec.submodule_search_locations)
    for entry in sys.path:
        candidate = os.path.join(entry or ".", "jax_plugins")
        if os.path.isdir(candidate):
            dirs.append(candidate)
    seen, unique = set(), []
    for d in dirs:
        real = os.path.realpath(d)
        if real not in seen:
            seen.add(real)
            unique.append(d)
    return unique


def find_plugins() -> dict:
    """{'cuda'|'rocm'|'tpu': path of the PJRT plugin .so} for what is installed."""
    found = {}
    for base in _plugin_dirs():
        for platform, pattern in (
            ("cuda", "xla_cuda*/xla_cuda_plugin.so"),
            ("rocm", "xla_rocm*/xla_rocm_plugin.so"),
        ):
            # Newest first: xla_cuda13 before xla_cuda12.
            hits = sorted(glob.glob(os.path.join(base, pattern)), reverse=True)
            if hits and platform not in found:
                found[platform] = hits[0]
    tpu = os.environ.get("TPU_LIBRARY_PATH")
    if not tpu:
        spec = importlib.util.find_spec("libtpu")  # finds, does not import
        if spec is not None and spec.submodule_search_locations:
            for d in spec.submodule_search_locations:
                if os.path.isfile(os.path.join(d, "libtpu.so")):
                    tpu = os.path.join(d, "libtpu.so")
                    break
    if tpu and os.path.isfile(tpu):
        found["tpu"] = tpu
    return found


# Sonames of NVIDIA libraries the CUDA plugin dlopens; loaded from the nvidia.* wheels
# with RTLD_GLOBAL so the plugin finds them without LD_LIBRARY_PATH.
_NVIDIA_LIBS = (
    "libcudart.so",
    "libnvJitLink.so",
    "libnvrtc.so",
    "libcublasLt.so",
    "libcublas.so",
    "libcusparse.so",
    "libcusolver.so",
    "libcufft.so",
    "libcupti.so",
    "libnccl.so",
    "libnvshmem_host.so",
    "libcudnn.so",
)


def _preload_nvidia_libraries():
    """dlopen NVIDIA's pip-installed libraries; returns the paths loaded."""
    spec = importlib.util.find_spec("nvidia")  # namespace package; not executed
    if spec is None or not spec.submodule_search_locations:
        return []
    candidates = []
    for root in spec.submodule_search_locations:
        for path in sorted(glob.glob(os.path.join(root, "*", "lib", "lib*.so*"))):
            name = os.path.basename(path)
            for rank, prefix in enumerate(_NVIDIA_LIBS):
                if name.startswith(prefix + ".") and "_" not in name[len(prefix) :]:
                    candidates.append((rank, path))
    pending = [p for _, p in sorted(candidates)]
    loaded = []
    # Dependencies between them are resolved by retrying until no progress is made.
    while pending:
        failed = []
        for path in pending:
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                loaded.append(path)
            except OSError:
                failed.append(path)
        if len(failed) == len(pending):
            break
        pending = failed
    return loaded


def _plugin_version_note(platform):
    """A warning text if the installed plugin wheel's version differs from jaxlib's."""
    names = {
        "cuda": ("jax-cuda13-pjrt", "jax-cuda12-pjrt"),
        "rocm": ("jax-rocm7-pjrt", "jax-rocm60-pjrt"),
    }.get(platform, ())
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if _parse_version(version)[:2] != _JAXLIB_VERSION[:2]:
            return (
                f"{name} {version} does not match jaxlib {jaxlib.version.__version__}; "
                "the plugin may fail to load."
            )
    return None


def _register_cuda_extension(c_api):
    """Let xc.register_custom_call_target(..., platform='CUDA') reach the plugin.

    The extension lives in jax_cuda1x_plugin, whose package __init__ may import jax,
    so the extension file is loaded on its own.
    """
    for pkg in ("jax_cuda13_plugin", "jax_cuda12_plugin"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        paths = []
        for d in spec.submodule_search_locations:
            paths.extend(glob.glob(os.path.join(d, "cuda_plugin_extension*.so")))
        if not paths:
            continue
        ext_spec = importlib.util.spec_from_file_location("cuda_plugin_extension", paths[0])
        ext = importlib.util.module_from_spec(ext_spec)
        ext_spec.loader.exec_module(ext)
        register = getattr(xc, "register_custom_call_handler", None)
        if register is not None and hasattr(ext, "register_custom_call_target"):
            register(
                "CUDA", lambda *a, ext=ext, **k: ext.register_custom_call_target(c_api, *a, **k)
            )
        register_type = getattr(xc, "register_custom_type_handler", None)
        if register_type is not None and hasattr(ext, "register_custom_type"):
            register_type("CUDA", lambda *a, ext=ext, **k: ext.register_custom_type(c_api, *a, **k))
        # The plugin's own FFI handlers and types (e.g. GPU host callbacks).
        for name, value in getattr(ext, "ffi_types", dict)().items():
            xc.register_custom_type(name, value, platform="CUDA")
        for name, value in getattr(ext, "ffi_handlers", dict)().items():
            xc.register_custom_call_target(name, value, platform="CUDA", api_version=1)
        return ext
    return None


def _make_plugin_client(platform, path):
    if platform == "cuda":
        _preload_nvidia_libraries()
    note = _plugin_version_note(platform)
    if note:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    loaded = getattr(xc, "pjrt_plugin_loaded", lambda name: False)
    c_api = None
    if not loaded(platform):
        c_api = _require(xc, "load_pjrt_plugin_dynamically", "PJRT plugin loader")(platform, path)
    initialized = getattr(xc, "pjrt_plugin_initialized", None)
    initialize = getattr(xc, "initialize_pjrt_plugin", None)
    if initialized is not None and initialize is not None and not initialized(platform):
        initialize(platform)
    if platform in _GPU_PLATFORMS:
        options = dict(_require(xc, "generate_pjrt_gpu_plugin_options", "GPU plugin options")())
        if platform == "rocm":
            options["platform_name"] = "ROCM"
    else:
        options = {}
    client = _require(xc, "make_c_api_client", "PJRT C API client factory")(platform, options)
    if platform == "cuda" and c_api is not None:
        try:
            _register_cuda_extension(c_api)
        except Exception as e:  # custom calls only; plain programs still run
            warnings.warn(
                f"CUDA plugin extension not registered ({e}); "
                "custom calls (e.g. linear algebra) may be missing on GPU.",
                RuntimeWarning,
                stacklevel=3,
            )
    if platform == "cuda":
        try:
            _register_cuda_solver_targets()
        except Exception as e:  # linear algebra only; everything else still runs
            warnings.warn(
                f"CUDA solver kernels not registered ({e}); lax.linalg decompositions "
                "other than cholesky and triangular_solve are unavailable on GPU.",
                RuntimeWarning,
                stacklevel=3,
            )
    return client


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


def _sharding(device):
    """A one-device sharding jaxlib accepts without JAX's Python Sharding methods."""
    s = _shardings.get(device)
    if s is None:
        s = _shardings[device] = xc.GSPMDSharding((device,), xc.OpSharding())
    return s


_put = xc.batched_device_put
# ZERO_COPY, jaxlib's default, aliases large CPU numpy arrays: a later write to the
# numpy array would show through. Copy during the call instead (same cost for small arrays).
_COPY = xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL
_ALIAS = xc.HostBufferSemantics.ZERO_COPY


def device_put(x, device, weak_type: bool = False, *, aval=None, copy: bool = True):
    """x (a numpy array of its final dtype) onto ``device``; returns jaxlib's ArrayImpl.

    ``aval``, if given, is attached to the array as is (needs .shape/.dtype/.weak_type).
    ``copy=False`` lets a CPU array alias x; only for arrays nobody will mutate.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if aval is None:
        aval = _Aval(x.shape, x.dtype, weak_type)
    if type(device) is DeviceGroup:
        return put_sharded(x, device, None, aval)
    # enable_x64=True: x already has its final dtype, so no 64->32 narrowing.
    return _put(
        aval,
        _sharding(device),
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
# Compiling and running


class MemoryStats(dict):
    """get_compiled_memory_stats() as a dict whose keys also read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


_MEMORY_FIELDS = (
    "argument_size_in_bytes",
    "output_size_in_bytes",
    "alias_size_in_bytes",
    "temp_size_in_bytes",
    "generated_code_size_in_bytes",
    "host_argument_size_in_bytes",
    "host_output_size_in_bytes",
    "host_alias_size_in_bytes",
    "host_temp_size_in_bytes",
    "host_generated_code_size_in_bytes",
    "peak_memory_in_bytes",
)


def _result_handler(aval, sharding):
    """jaxlib <= 0.10 takes (aval, sharding, committed, _skip_checks); 0.11 drops the last."""
    try:
        return xc.array_result_handler(aval, sharding, True, True)
    except TypeError:
        return xc.array_result_handler(aval, sharding, True)


class Executable:
    """A compiled program on one device. ``exe(bufs) -> list of result arrays``."""

    loaded_from_cache = False  # True when read from the persistent compilation cache

    def __init__(self, loaded, device, out_avals, mlir_text, dump_dir=None):
        self._loaded = loaded
        self._execute = loaded.execute_sharded
        self._handlers = [_result_handler(a, _sharding(device)) for a in out_avals]
        self.device = device
        self.out_avals = list(out_avals)
        self.mlir_text = mlir_text
        self.dump_dir = dump_dir

    def __call__(self, bufs):
        return self._execute(bufs).consume_with_handlers(self._handlers)

    def fast_call_parts(self):
        """(execute, handlers) so a hot caller can run
        ``execute(bufs).consume_with_handlers(handlers)`` without a Python frame here."""
        return self._execute, self._handlers

    def hlo_text(self) -> str:
        get = getattr(self._loaded, "get_hlo_text", None)
        if get is not None:
            return get()
        return "\n".join(m.to_string() for m in self._loaded.hlo_modules())

    def cost_analysis(self) -> dict:
        cost = self._loaded.cost_analysis()
        if isinstance(cost, (list, tuple)):  # some versions: one dict per module
            cost = cost[0] if cost else {}
        return dict(cost)

    def memory_analysis(self) -> MemoryStats:
        stats = self._loaded.get_compiled_memory_stats()
        return MemoryStats({k: getattr(stats, k) for k in _MEMORY_FIELDS if hasattr(stats, k)})

    def __repr__(self):
        return f"<Executable on {self.device} -> {len(self.out_avals)} outputs>"


def _set_donors(mlir_text, donated):
    """Mark main's arguments ``donated`` as buffer donors (XLA picks the aliasing)."""
    ctx = make_mlir_context()
    with ctx:
        module = ir.Module.parse(mlir_text)
        main = None
        for op in module.body.operations:
            if (
                op.operation.name == "func.func"
                and ir.StringAttr(op.attributes["sym_name"]).value == "main"
            ):
                main = op
        if main is None:
            raise ValueError("donation needs a func.func named 'main' in the module")
        arg_count = len(main.regions[0].blocks[0].arguments)
        old = main.arg_attrs if "arg_attrs" in main.attributes else None
        attrs = []
        for i in range(arg_count):
            entries = {}
            if old is not None:
                d = ir.DictAttr(old[i])
                entries = {d[j].name: d[j].attr for j in range(len(d))}
            if i in donated:
                entries["jax.buffer_donor"] = ir.BoolAttr.get(True)
            attrs.append(ir.DictAttr.get(entries))
        main.arg_attrs = ir.ArrayAttr.get(attrs)
        return module.operation.get_asm(enable_debug_info=True)


def _compile_options(device, options, dump_dir):
    opts = xc.CompileOptions()
    opts.device_assignment = xc.DeviceAssignment.create(np.array([[device.id]], dtype=np.int32))
    build = opts.executable_build_options
    debug = build.debug_options
    overrides = []
    for name, value in (options or {}).items():
        target = (
            debug
            if hasattr(debug, name)
            else (build if name != "debug_options" and hasattr(build, name) else None)
        )
        if target is not None:
            try:
                setattr(target, name, value)
            except TypeError as e:
                raise ValueError(f"XLA option {name}={value!r} has the wrong type: {e}") from None
        elif name.startswith("xla_"):
            overrides.append((name, value))  # checked by XLA at compile time
        else:
            raise ValueError(
                f"Unknown XLA option {name!r}: not a DebugOptions field, not an "
                "ExecutableBuildOptions field, and not an xla_* flag."
            )
    if overrides:
        opts.env_option_overrides = overrides
    if dump_dir is not None:
        os.makedirs(dump_dir, exist_ok=True)
        debug.xla_dump_to = str(dump_dir)
        # ".*" writes the passes that changed the module; a caller may pass its own
        # pattern in ``options`` (e.g. ".+" writes every pass).
        debug.xla_dump_hlo_pass_re = (options or {}).get("xla_dump_hlo_pass_re", ".*")
        debug.xla_dump_hlo_as_text = True
    return opts


# ---------------------------------------------------------------------------
# Ctrl-C safety. A SIGINT that arrives while the main thread is inside a long jaxlib
# call (an XLA compile can take seconds) used to surface as a KeyboardInterrupt raised
# while XLA was still working on the call's data, and the process then crashed. So the
# main thread hands such calls to a worker thread and waits for them in short waits
# that a KeyboardInterrupt can break: the user gets control back at once, the call
# finishes in the background and its result is dropped. The worker is not a daemon, so
# an exiting interpreter waits for it instead of tearing XLA down under it.

_WAIT_SLICE_S = 0.05
_CALL_STACK_BYTES = 512 * 1024 * 1024
_background: set = set()  # calls abandoned by a Ctrl-C and still running
_background_lock = threading.Lock()


class _Call:
    """One jaxlib call handed to the worker thread, and its outcome."""

    def __init__(self, fn):
        self.fn = fn
        self.done = threading.Event()
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # handed to the waiting thread
            self.error = e
        finally:
            self.fn = None
            self.done.set()
            with _background_lock:
                _background.discard(self)


# One long-lived worker runs the main thread's compiles, one at a time, so that XLA sees
# the same thread every time (as it would the main thread) and never a thread that exits
# under its thread-local state. It is a daemon; at exit we wait for a call it is still
# running, so XLA is never torn down under a compile.
_calls: queue.SimpleQueue = queue.SimpleQueue()
_worker_thread: list = []


def _worker_loop():
    while True:
        _calls.get().run()


def _worker():
    if not _worker_thread:
        old_size = threading.stack_size()
        try:
            threading.stack_size(_CALL_STACK_BYTES)  # XLA's compiler recurses deeply
            t = threading.Thread(target=_worker_loop, name="glassjax-compile", daemon=True)
            t.start()
        finally:
            threading.stack_size(old_size)
        _worker_thread.append(t)
    return _worker_thread[0]


@atexit.register
def _wait_for_background_calls():
    with _background_lock:
        pending = list(_background)
    for call in pending:
        call.done.wait()


def run_interruptibly(fn, what="call"):
    """``fn()``, run so that Ctrl-C on the main thread returns promptly and safely.

    Off the main thread (where no SIGINT is delivered) this is a plain call."""
    if threading.current_thread() is not threading.main_thread():
        return fn()
    call = _Call(fn)
    try:
        _worker()
    except (RuntimeError, ValueError):  # no new threads (e.g. at shutdown): call directly
        return fn()
    _calls.put(call)
    try:
        while not call.done.wait(_WAIT_SLICE_S):
            pass
    except BaseException:
        # KeyboardInterrupt (or any exception a signal handler raised): leave the call
        # to finish on the worker; its result is discarded.
        with _background_lock:
            if not call.done.is_set():
                _background.add(call)
        raise
    if call.error is not None:
        error, call.error = call.error, None
        raise error
    result, call.result = call.result, None
    return result


def background_calls() -> int:
    """How many interrupted jaxlib calls are still finishing in the background."""
    with _background_lock:
        return len(_background)


# XLA aborts the whole process (an uncaught C++ exception) on a tensor of 2^63 bytes or
# more, so every tensor type of a module is checked before it is handed over.
_TENSOR_RE = re.compile(r"tensor<((?:\d+x)+)(complex<\w+>|\w+)")
_MAX_BYTES = 2**63
_MLIR_PREFIX = (
    ("complex<f", "complex"),
    ("bf", "bfloat"),
    ("ui", "uint"),
    ("f", "float"),
    ("i", "int"),
)


def _element_name_and_bytes(element):
    bits = int(re.search(r"\d+", element).group()) if re.search(r"\d+", element) else 8
    if element == "i1":
        return "bool", 1
    for prefix, name in _MLIR_PREFIX:
        if element.startswith(prefix):
            total = 2 * bits if name == "complex" else bits
            return f"{name}{total}", max(1, total // 8)
    return element, max(1, bits // 8)


def _check_sizes(mlir_text):
    for dims, element in set(_TENSOR_RE.findall(mlir_text)):
        shape = [int(d) for d in dims[:-1].split("x")]
        elements = 1
        for d in shape:
            elements *= d
        if elements < _MAX_BYTES // 16:
            continue
        name, size = _element_name_and_bytes(element)
        if elements * size >= _MAX_BYTES:
            raise ValueError(_errors.array_too_large_message(shape, name, elements * size))


def compile(
    mlir_text: str, device, out_avals, *, options=None, dump_dir=None, donated=()
) -> Executable:
    """Compile StableHLO text (debug locations allowed) for one device."""
    if type(device) is DeviceGroup:
        return compile_spmd(
            mlir_text, device, out_avals, options=options, dump_dir=dump_dir, donated=donated
        )
    _check_sizes(mlir_text)
    if donated:
        mlir_text = _set_donors(mlir_text, set(donated))
    opts = _compile_options(device, options, dump_dir)
    client = device.client
    # Persistent cache: not for pass dumps (their files are the point) nor for modules
    # calling Python callbacks (their callback lists live in this process only).
    key = None
    if dump_dir is None and HOST_CALLBACKS_ATTR not in mlir_text and _pcache.cache_dir():
        _pcache.enable_xla_caches(opts.executable_build_options.debug_options, client.platform)
        key = _pcache.cache_key(mlir_text, _module_name(mlir_text), device, opts, jaxlib_version())
        hit = _pcache.load(key, client, xc.DeviceList((device,)), opts)
        if hit is not None:
            exe = Executable(hit[0], device, out_avals, mlir_text, dump_dir)
            exe.loaded_from_cache = True
            return exe
    compile_fn = getattr(client, "compile_and_load", None) or _require(client, "compile", "compile")
    if HOST_CALLBACKS_ATTR in mlir_text:
        work = lambda: _compile_with_host_callbacks(compile_fn, mlir_text, device, opts)  # noqa: E731
    else:
        work = lambda: compile_fn(mlir_text, xc.DeviceList((device,)), opts)  # noqa: E731
    started = time.perf_counter()
    try:
        loaded = run_interruptibly(work, "XLA compile")
    except Exception as e:
        message = str(e)
        if "No such compile option" in message:
            raise ValueError(f"Unknown XLA option: {message}") from None
        raise
    if key is not None:
        _pcache.store(key, loaded, time.perf_counter() - started)
    return Executable(loaded, device, out_avals, mlir_text, dump_dir)


_MODULE_NAME_RE = re.compile(r"module @([\w.$-]+)")


def _module_name(mlir_text: str) -> str:
    m = _MODULE_NAME_RE.search(mlir_text[:4096])
    return m.group(1) if m else "module"


# ---------------------------------------------------------------------------
# Host callbacks (engine/callbacks.py): Python functions XLA calls while a program runs,
# through jaxlib's FFI targets ``xla_ffi_python_{cpu,gpu}_callback``. A lowered module
# names its callbacks' list by a key in a module attribute; the custom call's ``index``
# attribute points into that list, which ``compile`` hands to the client (jaxlib takes
# ``host_callbacks`` only with an ``ir.Module``, not with text).

HOST_CALLBACKS_ATTR = "glassjax.host_callbacks"
_HOST_CALLBACKS_RE = re.compile(re.escape(HOST_CALLBACKS_ATTR) + r' = "([^"]+)"')
_host_callback_lists: dict[str, list] = {}
_host_callback_lock = threading.Lock()

JaxRuntimeError = getattr(
    getattr(jaxlib, "_jax", None), "JaxRuntimeError", getattr(xc, "XlaRuntimeError", RuntimeError)
)


def python_callback_target(platform: str) -> str:
    """The FFI custom-call target that calls back into Python on ``platform``."""
    if platform in ("cuda", "rocm", "gpu"):
        return "xla_ffi_python_gpu_callback"
    if platform == "cpu":
        return "xla_ffi_python_cpu_callback"
    raise NotImplementedError(f"host callbacks are not supported on {platform!r}")


def register_host_callbacks(callbacks: list) -> str:
    """Keep ``callbacks`` (the list a module's custom calls index) under a fresh key,
    to be written into the module's ``glassjax.host_callbacks`` attribute."""
    with _host_callback_lock:
        key = f"cb{len(_host_callback_lists)}"
        _host_callback_lists[key] = callbacks
    return key


def _compile_with_host_callbacks(compile_fn, mlir_text, device, opts):
    m = _HOST_CALLBACKS_RE.search(mlir_text)
    callbacks = _host_callback_lists.get(m.group(1)) if m else None
    if callbacks is None:
        raise RuntimeError(
            "this module calls Python callbacks that are no longer registered "
            "(lower the function again in this session)"
        )
    with make_mlir_context():
        module = ir.Module.parse(mlir_text)
        return compile_fn(module, xc.DeviceList((device,)), opts, host_callbacks=list(callbacks))


def mlir_to_hlo_text(mlir_text: str) -> str:
    """XLA's HLO for the module before optimization, with op metadata printed."""
    from jaxlib import _jax

    mlir = _require(_jax, "mlir", "MLIR converters")
    convert = _require(mlir, "mlir_module_to_xla_computation", "MLIR->HLO converter")
    computation = convert(mlir_text, use_tuple_args=False, return_tuple=False)
    print_options = getattr(getattr(xc, "hlo", None), "HloPrintOptions", None)
    get_module = getattr(computation, "get_hlo_module", None)
    if print_options is not None and get_module is not None:
        opts = print_options()
        opts.print_metadata = True
        return get_module().to_string(opts)
    return computation.as_hlo_text()


# ---------------------------------------------------------------------------
# XLA's profiler (jaxlib's session and XSpace reader), for per-kernel run times.


def trace_events(fn):
    """Run ``fn`` under XLA's profiler; returns (events, None) or ([], reason). Each event:
    plane, line, name, start_ns, duration_ns."""
    try:
        from jaxlib import _profile_data, _profiler
    except ImportError as e:
        return [], f"jaxlib has no profiler module here ({e}); per-kernel times unavailable"
    options_cls = getattr(_profiler, "ProfileOptions", None)
    session_cls = getattr(_profiler, "ProfilerSession", None)
    reader = getattr(getattr(_profile_data, "ProfileData", None), "from_serialized_xspace", None)
    if options_cls is None or session_cls is None or reader is None:
        return [], "this jaxlib's profiler lacks ProfilerSession/ProfileData; not measured"
    options = options_cls()
    if hasattr(options, "python_tracer_level"):
        options.python_tracer_level = 0  # Python frames are noise here and slow the runs
    try:
        session = session_cls(options)
    except Exception as e:  # another session is active, or the profiler is unavailable
        return [], f"XLA's profiler could not start: {e}"
    try:
        fn()
    finally:
        xspace = session.stop()
    events = []
    for plane in reader(xspace).planes:
        for line in plane.lines:
            for ev in line.events:
                events.append(
                    {
                        "plane": plane.name,
                        "line": line.name,
                        "name": ev.name,
                        "start_ns": ev.start_ns,
                        "duration_ns": ev.duration_ns,
                    }
                )
    return events, None


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


def group_sharding(group: DeviceGroup, hlo):
    """jaxlib's sharding object for an array of ``group`` laid out as ``hlo``."""
    return xc.GSPMDSharding(group.devices, hlo)


def hlo_of_buffer(buf):
    """The HloSharding of a jaxlib array (replicated for a one-device array)."""
    sharding = buf._sharding
    hlo = getattr(sharding, "_hlo_sharding", None)
    if hlo is None:
        to_hlo = getattr(sharding, "_to_xla_hlo_sharding", None)
        hlo = to_hlo(len(buf.aval.shape)) if to_hlo is not None else xc.HloSharding.replicate()
    return hlo


def hlo_device_indices(hlo, shape) -> dict:
    """{position in the device tuple: index (tuple of slices)} of the block each device
    holds under ``hlo`` (XLA's tiles: ceil(n / parts) long, the last ones shorter)."""
    shape = tuple(shape)
    if hlo.is_replicated():
        return None
    if hlo.subgroup_types() and not hlo.replicate_on_last_tile_dim():
        raise NotImplementedError(f"sharding {hlo} has subgroups the engine cannot read")
    dims = list(hlo.tile_assignment_dimensions())
    positions = np.asarray(hlo.tile_assignment_devices()).reshape(dims)
    out = {}
    for tile in np.ndindex(*dims):
        index = []
        for d, n in enumerate(shape):
            parts = dims[d]
            if parts == 1:
                index.append(slice(None))
            else:
                block = -(-n // parts)
                start = min(tile[d] * block, n)
                index.append(slice(start, min(start + block, n)))
        out[int(positions[tile])] = tuple(index)
    return out


def put_sharded(x, group: DeviceGroup, hlo=None, aval=None, weak_type: bool = False):
    """Host value ``x`` onto ``group``'s devices, each holding its block under ``hlo``
    (replicated if None); returns one jaxlib array."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if aval is None:
        aval = _Aval(x.shape, x.dtype, weak_type)
    indices = None if hlo is None else hlo_device_indices(hlo, x.shape)
    shards = []
    for pos, device in enumerate(group.devices):
        if device.process_index != device.client.process_index():
            continue  # another process of a distributed job holds that block
        block = x if indices is None else np.ascontiguousarray(x[indices[pos]])
        shards.append(device_put(block, device, aval=_Aval(block.shape, x.dtype, aval.weak_type)))
    sharding = group.replicated if hlo is None else group_sharding(group, hlo)
    return xc.ArrayImpl(aval, sharding, shards, True, True)


def assemble(aval, group: DeviceGroup, hlo, shard_bufs):
    """One jaxlib array from per-device buffers (in ``group``'s device order)."""
    return xc.ArrayImpl(aval, group_sharding(group, hlo), list(shard_bufs), True, True)


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


_spmd_specializer = None


def set_spmd_specializer(fn):
    """``fn(mlir_text, group, out_avals, options, dump_dir, donated)`` makes what an
    un-annotated module over a DeviceGroup compiles to (engine.sharding registers an
    executable compiled per layout of its inputs, for eager ops on sharded arrays)."""
    global _spmd_specializer
    _spmd_specializer = fn


def _gather_shards(buf, shards):
    """The host value of a sharded array, put together from its devices' blocks."""
    aval = buf.aval
    if len(shards) != len(buffer_devices(buf)):
        raise RuntimeError(
            "Fetching value for `jax.Array` that spans non-addressable (non process local) "
            "devices is not possible. You can use "
            "`jax.experimental.multihost_utils.process_allgather` to print the global "
            "array or use `.addressable_shards` method of jax.Array to inspect the "
            "addressable (process local) shards."
        )
    indices = hlo_device_indices(hlo_of_buffer(buf), aval.shape)
    if indices is None:
        return to_numpy(shards[0])
    out = None
    for pos, shard in enumerate(shards):
        block = to_numpy(shard)
        if out is None:
            out = np.empty(tuple(aval.shape), dtype=block.dtype)
        out[indices[pos]] = block
    out.flags.writeable = False
    return out


class SpmdExecutable(Executable):
    """A program XLA partitioned over ``group``'s devices; called with jaxlib arrays laid
    out as ``input_hlo_shardings``, it returns arrays laid out as ``output_hlo_shardings``."""

    def __init__(self, loaded, group, out_avals, mlir_text, dump_dir=None):
        self._loaded = loaded
        self._execute = loaded.execute_sharded
        self.device = group
        self.group = group
        self.out_avals = list(out_avals)
        self.mlir_text = mlir_text
        self.dump_dir = dump_dir
        self.input_hlo_shardings = [
            xc.HloSharding.from_proto(s) for s in loaded.get_parameter_shardings() or ()
        ]
        outs = [xc.HloSharding.from_proto(s) for s in loaded.get_output_shardings() or ()]
        if len(outs) != len(self.out_avals):  # one tuple sharding, or none reported
            outs = [xc.HloSharding.replicate()] * len(self.out_avals)
        self.output_hlo_shardings = outs
        self._handlers = [
            _result_handler(a, group_sharding(group, h)) for a, h in zip(self.out_avals, outs)
        ]

    def __repr__(self):
        return f"<SpmdExecutable on {self.group} -> {len(self.out_avals)} outputs>"


def compile_spmd(
    mlir_text: str, group: DeviceGroup, out_avals, *, options=None, dump_dir=None, donated=()
) -> SpmdExecutable:
    """Compile StableHLO text annotated with shardings (Shardy ``sdy`` attributes, or
    GSPMD ``mhlo.sharding`` strings) for all of ``group``'s devices."""
    if "sdy.mesh" not in mlir_text and "mhlo.sharding" not in mlir_text:
        if _spmd_specializer is None:
            raise RuntimeError("engine.sharding is not loaded: cannot lay out this program")
        return _spmd_specializer(mlir_text, group, out_avals, options, dump_dir, donated)
    if HOST_CALLBACKS_ATTR in mlir_text:
        raise NotImplementedError(
            "host callbacks in a program partitioned over several devices are not supported"
        )
    _check_sizes(mlir_text)
    if donated:
        mlir_text = _set_donors(mlir_text, set(donated))
    opts = _compile_options(group.devices[0], options, dump_dir)
    n = len(group.devices)
    opts.num_replicas = 1
    opts.num_partitions = n
    opts.device_assignment = xc.DeviceAssignment.create(
        np.array([[d.id for d in group.devices]], dtype=np.int32)
    )
    build = opts.executable_build_options
    build.use_spmd_partitioning = True
    build.use_shardy_partitioner = "sdy.mesh" in mlir_text
    # Results without an annotation take the sharding XLA's propagation gives them.
    build.allow_spmd_sharding_propagation_to_output = [True]
    # Arguments without an annotation get what XLA's propagation chooses (as JAX's
    # unspecified in_shardings); callers read it from input_hlo_shardings.
    build.allow_spmd_sharding_propagation_to_parameters = [True]
    compile_fn = getattr(group.client, "compile_and_load", None) or _require(
        group.client, "compile", "compile"
    )
    work = lambda: compile_fn(mlir_text, xc.DeviceList(group.devices), opts)  # noqa: E731
    try:
        loaded = run_interruptibly(work, "XLA compile")
    except Exception as e:
        message = str(e)
        if "No such compile option" in message:
            raise ValueError(f"Unknown XLA option: {message}") from None
        raise
    return SpmdExecutable(loaded, group, out_avals, mlir_text, dump_dir)
