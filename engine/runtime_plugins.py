"""PJRT plugins (CUDA, ROCm, TPU): finding them, loading NVIDIA's libraries, making their
clients and registering their custom calls. Part of engine.runtime's fence around jaxlib;
``runtime.backends()`` calls in here."""

import ctypes
import glob
import importlib.metadata
import importlib.util
import os
import sys
import warnings

import jaxlib
import jaxlib.version
from jaxlib import xla_client as xc

from .runtime import _GPU_PLATFORMS, _JAXLIB_VERSION, _linalg_targets, _parse_version, _require


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
