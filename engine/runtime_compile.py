"""Compiling StableHLO and running the result on one device, Ctrl-C-safe compiles, host
callbacks and XLA's profiler. Part of engine.runtime's fence around jaxlib (its names are
also importable from engine.runtime)."""

import atexit
import os
import queue
import re
import threading
import time

import jaxlib
import numpy as np
from jaxlib import xla_client as xc
from jaxlib.mlir import ir

from . import compilation_cache as _pcache
from . import errors as _errors
from .runtime import DeviceGroup, _require, _sharding, jaxlib_version, make_mlir_context


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
    if hasattr(aval.dtype, "physical_shape"):  # a typed key array: its data's buffer
        from .core import physical_aval

        aval = physical_aval(aval)
    try:
        return xc.array_result_handler(aval, sharding, True, True)
    except TypeError:
        return xc.array_result_handler(aval, sharding, True)


def output_memory_kinds(loaded, n: int) -> list:
    """The kind of memory (``device``, ``pinned_host``) each result is written to."""
    try:
        kinds = loaded.get_output_memory_kinds()
    except Exception:  # a client without memory kinds: all in the device's memory
        return ["device"] * n
    kinds = list(kinds[0]) if kinds and isinstance(kinds[0], (list, tuple)) else list(kinds)
    return kinds if len(kinds) == n else ["device"] * n


class Executable:
    """A compiled program on one device. ``exe(bufs) -> list of result arrays``."""

    loaded_from_cache = False  # True when read from the persistent compilation cache

    def __init__(self, loaded, device, out_avals, mlir_text, dump_dir=None):
        self._loaded = loaded
        self._execute = loaded.execute_sharded
        kinds = ["device"] * len(out_avals)
        if "mhlo.memory_kind" in mlir_text:  # (a result placed in another memory)
            kinds = output_memory_kinds(loaded, len(out_avals))
        self.output_memory_kinds = kinds
        self._handlers = [
            _result_handler(a, _sharding(device, None if k == "device" else k))
            for a, k in zip(out_avals, kinds)
        ]
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
        from .runtime_spmd import compile_spmd

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
