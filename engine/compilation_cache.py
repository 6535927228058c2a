"""Persistent compilation cache: XLA executables kept on disk across processes.

    engine.config.update("jax_compilation_cache_dir", "/tmp/gjx_cache")
    engine.config.update("jax_persistent_cache_min_compile_time_secs", 0)

Options (JAX's names and defaults): ``jax_compilation_cache_dir`` (None: off; also read
from ``JAX_COMPILATION_CACHE_DIR``), ``jax_enable_compilation_cache``,
``jax_persistent_cache_min_compile_time_secs`` (1.0: only slower compiles are written),
``jax_persistent_cache_min_entry_size_bytes`` (smaller entries are not written),
``jax_compilation_cache_max_size`` (bytes; -1 no limit, 0 disables the cache; the least
recently used entries go first), ``jax_persistent_cache_enable_xla_caches`` (GPU only:
XLA's own autotuning / kernel caches under the same folder),
``jax_compilation_cache_include_metadata_in_key`` and ``jax_raise_persistent_cache_errors``.

An entry's key hashes, as JAX's does: the StableHLO module without its source locations,
the serialized compile options (dump settings cleared), the platform, its version and
device kind, and jaxlib's version. Entries are written to a temporary file and renamed
into place, so processes sharing a folder never read a half-written entry; an entry that
fails its checksum or cannot be loaded is reported with a warning and compiled again.

Loading an entry runs code the compiler produced: point the cache only at folders that
you (and programs you trust) write to.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import time
import warnings
import zlib
from typing import Any

from .config import config

logger = logging.getLogger(__name__)

_MAGIC = b"GJXPCC1\n"
_HEADER = struct.Struct(">Q32s")  # compile time in ns, sha256 of the compressed payload
_TMP_PREFIX = ".tmp-"
_KEY_FORMAT = b"glassjax persistent cache key v1"

# Debug options that change where XLA writes files, not what it compiles (as JAX clears).
_CLEARED_DEBUG_OPTIONS = {
    "xla_force_host_platform_device_count": 0,
    "xla_dump_to": "",
    "xla_dump_hlo_module_re": "",
    "xla_dump_hlo_pass_re": "",
    "xla_dump_hlo_as_text": False,
    "xla_dump_hlo_as_proto": False,
    "xla_dump_hlo_as_dot": False,
    "xla_dump_hlo_as_url": False,
    "xla_dump_hlo_as_html": False,
    "xla_dump_fusion_visualization": False,
    "xla_dump_hlo_snapshots": False,
    "xla_dump_max_hlo_modules": False,
    "xla_dump_module_metadata": False,
    "xla_dump_compress_protos": False,
    "xla_dump_hlo_as_long_text": False,
    "xla_dump_disable_metadata": False,
    "xla_dump_hlo_pipeline_re": "",
    "xla_gpu_experimental_autotune_cache_mode": 0,
    "xla_gpu_cuda_data_dir": "",
}

stats = {"hits": 0, "misses": 0, "writes": 0, "errors": 0}


def cache_dir() -> str | None:
    """The folder in use, or None when the persistent cache is off."""
    path = config.jax_compilation_cache_dir
    if not path or not config.jax_enable_compilation_cache:
        return None
    if config.jax_compilation_cache_max_size == 0:
        return None
    return os.fspath(path)


def is_persistent_cache_enabled() -> bool:
    return cache_dir() is not None


def set_cache_dir(path: str | os.PathLike | None) -> None:
    """Same as ``config.update("jax_compilation_cache_dir", path)``."""
    config.update("jax_compilation_cache_dir", None if path is None else os.fspath(path))


def reset_cache() -> None:
    """Zero the hit/miss counters (``stats``). The folder in use is read from the config
    at every compile, so there is no other state to reset; entries stay on disk."""
    for k in stats:
        stats[k] = 0


def enable_xla_caches(debug_options: Any, platform: str) -> None:
    """Point XLA's own GPU caches (per-fusion autotuning, kernels) into the cache folder,
    as ``jax_persistent_cache_enable_xla_caches`` names them. Nothing to do on CPU."""
    path = cache_dir()
    if path is None or platform not in ("cuda", "rocm", "gpu"):
        return
    wanted = config.jax_persistent_cache_enable_xla_caches or ""
    for flag in ("xla_gpu_kernel_cache_file", "xla_gpu_per_fusion_autotune_cache_dir"):
        if (wanted == "all" or flag in wanted) and hasattr(debug_options, flag):
            setattr(debug_options, flag, os.path.join(path, flag))


def cache_key(
    mlir_text: str, module_name: str, device: Any, compile_options: Any, jaxlib_version: tuple
) -> str:
    """``<module name>-<sha256 hex>`` of everything that changes the compiled program."""
    h = hashlib.sha256(_KEY_FORMAT)

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)

    part(_canonical_module(mlir_text).encode())
    part(".".join(map(str, jaxlib_version)).encode())
    client = device.client
    part(f"{client.platform}|{client.platform_version}|{device.device_kind}".encode())
    part(_canonical_options(compile_options))
    part(b"zlib")
    safe_name = "".join(c if c.isalnum() or c in "_." else "_" for c in module_name)[:80]
    return f"{safe_name or 'module'}-{h.hexdigest()}"


def _canonical_module(mlir_text: str) -> str:
    if config.jax_compilation_cache_include_metadata_in_key:
        return mlir_text
    from jaxlib.mlir import ir

    from .runtime import make_mlir_context

    try:
        with make_mlir_context():
            module = ir.Module.parse(mlir_text)
            return str(module.operation.get_asm(enable_debug_info=False))
    except Exception:  # a module this context cannot parse: key it with its locations
        logger.debug("cache key: module not parsed; source locations stay in the key")
        return mlir_text


def _canonical_options(compile_options: Any) -> bytes:
    from jaxlib import xla_client as xc

    copy = xc.CompileOptions.ParseFromString(compile_options.SerializeAsString())
    debug = copy.executable_build_options.debug_options
    for name, value in _CLEARED_DEBUG_OPTIONS.items():
        if hasattr(debug, name):
            setattr(debug, name, value)
    return copy.SerializeAsString()


def _path(key: str) -> str:
    return os.path.join(cache_dir() or "", key)


def _report(kind: str, key: str, error: BaseException) -> None:
    stats["errors"] += 1
    if config.jax_raise_persistent_cache_errors:
        raise error
    warnings.warn(
        f"Error {kind} persistent compilation cache entry for '{key}': "
        f"{type(error).__name__}: {error}",
        stacklevel=4,
    )


def load(key: str, client: Any, devices: Any, compile_options: Any) -> tuple[Any, float] | None:
    """(loaded executable, its original compile seconds) for ``key``, or None on a miss.
    A damaged entry warns (names the key and the problem) and counts as a miss."""
    path = _path(key)
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        stats["misses"] += 1
        return None
    except OSError as e:
        _report("reading", key, e)
        return None
    try:
        payload, compile_ns = _unpack(blob)
        loaded = client.deserialize_executable(payload, devices, compile_options)
    except Exception as e:
        _report("reading", key, e)
        stats["misses"] += 1
        return None
    try:
        os.utime(path)  # the access time the size bound evicts by
    except OSError:
        pass
    stats["hits"] += 1
    logger.debug("persistent compilation cache hit for %s", key)
    return loaded, compile_ns * 1e-9


def store(key: str, loaded: Any, compile_seconds: float) -> bool:
    """Write ``loaded`` under ``key`` if it passes the time and size thresholds; True when
    written. Failures warn (or raise under ``jax_raise_persistent_cache_errors``)."""
    path = cache_dir()
    if path is None:
        return False
    if compile_seconds < config.jax_persistent_cache_min_compile_time_secs:
        logger.debug("not caching %s: compiled in %.3fs", key, compile_seconds)
        return False
    try:
        serialize = getattr(loaded, "serialize", None)
        payload = (
            serialize() if serialize is not None else loaded.client.serialize_executable(loaded)
        )
        blob = _pack(payload, int(compile_seconds * 1e9))
        if len(blob) < config.jax_persistent_cache_min_entry_size_bytes:
            return False
        max_size = config.jax_compilation_cache_max_size
        if max_size > 0 and len(blob) > max_size:
            logger.debug("not caching %s: %d bytes > max size %d", key, len(blob), max_size)
            return False
        os.makedirs(path, exist_ok=True)
        _atomic_write(os.path.join(path, key), blob)
        stats["writes"] += 1
        if max_size > 0:
            _evict(path, max_size, keep=key)
    except Exception as e:
        _report("writing", key, e)
        return False
    return True


def _pack(payload: bytes, compile_ns: int) -> bytes:
    body = zlib.compress(payload)
    return _MAGIC + _HEADER.pack(compile_ns, hashlib.sha256(body).digest()) + body


def _unpack(blob: bytes) -> tuple[bytes, int]:
    head = len(_MAGIC) + _HEADER.size
    if len(blob) < head or not blob.startswith(_MAGIC):
        raise ValueError(f"not a Glassjax cache entry or truncated header ({len(blob)} bytes)")
    compile_ns, digest = _HEADER.unpack_from(blob, len(_MAGIC))
    body = blob[head:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch (truncated or corrupted entry)")
    return zlib.decompress(body), compile_ns


def _atomic_write(dest: str, data: bytes) -> None:
    folder = os.path.dirname(dest)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def entries(path: str | None = None) -> list[tuple[str, int, float]]:
    """(key, bytes, last access) of every entry in the folder, oldest access first."""
    folder = path or cache_dir()
    out: list[tuple[str, int, float]] = []
    if not folder or not os.path.isdir(folder):
        return out
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(_TMP_PREFIX) or not e.is_file():
                continue
            try:
                st = e.stat()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            out.append((e.name, st.st_size, st.st_mtime))
    out.sort(key=lambda r: r[2])
    return out


def _evict(folder: str, max_size: int, keep: str) -> None:
    rows = entries(folder)
    total = sum(size for _, size, _ in rows)
    for name, size, _ in rows:
        if total <= max_size:
            break
        if name == keep:
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass
        total -= size
    # temporary files a crashed writer left behind for over an hour
    cutoff = time.time() - 3600
    with os.scandir(folder) as it:
        for e in it:
            if e.name.startswith(_TMP_PREFIX):
                try:
                    if e.stat().st_mtime < cutoff:
                        os.unlink(e.path)
                except OSError:
                    pass
