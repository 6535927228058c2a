"""Running work on devices: eager primitives as cached one-equation XLA executables,
compiling jaxprs, and moving values onto devices."""

from __future__ import annotations

import struct

import numpy as np

from . import core, dtypes, runtime
from .array import Array
from .array import deleted_error as array_deleted_error
from .config import config
from .core import ClosedJaxpr, Jaxpr, JaxprEqn, Var
from .transfer_guard import sites as _tg

_CACHE_LIMIT = 4096  # eager one-primitive executables kept (see evict_one)
_SCALAR_CACHE_LIMIT = 1024


class Stats:
    """Counters the tests and the session inspector read."""

    eager_compiles = 0
    jaxpr_compiles = 0


stats = Stats()


def default_device():
    return runtime.default_device()


# ---------------------------------------------------------------------------- cache keys

_pack_double = struct.Struct("<d").pack


def scalar_key(v):
    """A cache key for a Python or NumPy scalar that tells apart every value a program
    can tell apart: ``0.0 == -0.0`` and ``1 == 1.0 == True`` in Python, but they are
    different programs' inputs. Floats are keyed by their bits (so NaN payloads too)."""
    t = type(v)
    if t is float:
        return (t, _pack_double(v))
    if t is complex:
        return (t, _pack_double(v.real), _pack_double(v.imag))
    if isinstance(v, np.generic):
        return (t, v.tobytes())
    return (t, v)


def evict_one(cache):
    """Make room in ``cache`` (a dict whose values count ``hits``, plus a ``seen`` mark)
    with no bookkeeping on a hit beyond ``entry.hits += 1``. Returns (key, entry).

    - An entry never hit since it was made goes first, the newest such first. So a
      cycle over more signatures than fit keeps most of them and recompiles only those
      that did not fit (plain LRU would evict each one just before it came back).
    - Otherwise the least recently used goes, as a second-chance sweep approximates
      it: in insertion order, an entry hit since the last sweep moves to the back, the
      first one that was not is evicted."""
    for key in reversed(cache):
        if cache[key].hits == 0:
            return key, cache.pop(key)
    for _ in range(len(cache)):
        key = next(iter(cache))
        entry = cache.pop(key)
        if entry.hits == entry.seen:
            return key, entry
        entry.seen = entry.hits
        cache[key] = entry
    key = next(iter(cache))  # every entry was hit since: the oldest goes
    return key, cache.pop(key)


# ---------------------------------------------------------------------------- putting values

_scalar_cache: dict[tuple, Array] = {}


def device_put_value(x, device=None, weak_type=None, committed=False, explicit=False, guard=True):
    """A concrete value (NumPy, Python scalar, Array) as an Array on ``device``.
    For the transfer guard: ``explicit`` says a user's ``device_put`` made it, not an
    implicit conversion; ``guard=False`` that it is no transfer the user sees (a jitted
    program's constants, embedded in the program in JAX)."""
    if isinstance(x, Array):
        if device is None or x._device == device:
            if committed and not x._committed:
                return Array(x._buf, x.aval, x._device, True)
            return x
        if _tg.d2d:
            _tg.check_device_to_device(x, device, explicit)
        buf = runtime.copy_to_device(x._buf, device)
        return Array(buf, x.aval, device, committed=True)
    if isinstance(x, core.Tracer):
        raise (
            core.escaped_tracer_error(x)
            if not x._trace.valid
            else TypeError(
                f"device_put of a traced value {x._short_repr()} outside its transformation"
            )
        )
    device = device or runtime.default_device()
    aval = core.get_aval(x)
    if weak_type is not None:
        aval = aval.update(weak_type=weak_type)
    if _tg.h2d and guard:
        _tg.check_host_to_device(aval, device, explicit)
    if type(x) is core.WeakScalar or dtypes.is_python_scalar(x):
        v = x.value if type(x) is core.WeakScalar else x
        if type(v) is int and aval.dtype == dtypes.default_int_dtype():
            dtypes.check_python_int(v)
        key = (scalar_key(v), aval.dtype, aval.weak_type, device)
        arr = _scalar_cache.get(key)
        if arr is None:
            if len(_scalar_cache) >= _SCALAR_CACHE_LIMIT:  # the oldest goes (cheap to redo)
                del _scalar_cache[next(iter(_scalar_cache))]
            arr = _scalar_cache[key] = Array(
                runtime.device_put(np.asarray(x, aval.dtype), device, aval.weak_type), aval, device
            )
        return arr
    val = np.asarray(x)
    if val.dtype != aval.dtype:
        val = val.astype(aval.dtype)
    return Array(runtime.device_put(val, device, aval.weak_type), aval, device, committed)


def _pick_device(args):
    device = None
    for x in args:
        if type(x) is Array:
            if x._committed:
                return x._device
            if device is None:
                device = x._device
            elif type(x._device) is runtime.DeviceGroup:  # a mesh's (sharded) array wins
                return x._device
    return device or runtime.default_device()


def _buffers(args, device):
    return [_buffer(x, device) for x in args]


# ---------------------------------------------------------------------------- fast-path gate
# Inline caches on hot paths (a jitted call's last signature, an operator's last operand
# avals: engine/jit.py, engine/array_methods.py) remember the ``_gate`` object they were
# filled under and are used only while it is still the current one. It is replaced on
# every config change (trace context, debug flags, disable_jit ...), on eviction and on
# clear_caches, so one identity check on a hit stands for all of those conditions.
_gate = [object()]


def invalidate_fast_paths(name=None, value=None):
    _gate[0] = object()


config.on_change(invalidate_fast_paths)

# While an operator's inline cache is being filled, apply_primitive notes each eager op it
# runs on Arrays of one device: (prim, args, entry, device, result).
_recorder: list = [None]


# ---------------------------------------------------------------------------- eager primitives

_prim_cache: dict[tuple, _PrimEntry] = {}  # (prim, params, avals, device, trace context)
# prim -> its last Array-operand call (gate, avals, device, params key, entry, cache key):
# a repeat skips building and hashing the cache key
_prim_last: dict = {}


class _PrimEntry:
    __slots__ = ("exe", "out_avals", "hits", "seen", "execute", "handlers")

    def __init__(self, exe, out_avals):
        self.exe, self.out_avals = exe, out_avals
        self.hits = self.seen = 0
        # the executable's jaxlib call and result handlers, so a hit runs them directly
        if type(exe).__call__ is runtime.Executable.__call__:
            self.execute, self.handlers = exe._execute, exe._handlers
        else:
            self.execute = self.handlers = None


def _buffer(x, device):
    """``x``'s buffer on ``device`` (put there if it is not an Array already there)."""
    if type(x) is Array:
        if x._device == device:
            return x._buf
        # (two meshes' groups over the same devices in one order are compatible, as
        # in JAX: an Auto region's mesh and the Explicit one it came from)
        same = getattr(x._device, "devices", None) == getattr(device, "devices", 0)
        if x._committed and not same:
            raise ValueError(
                f"Received incompatible devices for a computation: {x._device} "
                f"and {device}. Move arrays with device_put first."
            )
    return device_put_value(x, device)._buf


# (Ref, apply(prim, args, params)): eager primitives given array refs, set by engine/state
ref_apply_hook: tuple | None = None


def apply_primitive(prim, args, params):
    """Run one primitive now, as a compiled one-equation XLA program (cached)."""
    # Unary and binary ops on Arrays of one device, the commonest eager calls, skip the
    # general loops; the rest pick a device and convert operands as _pick_device says.
    n = len(args)
    if n == 2 and type(a := args[0]) is Array and type(b := args[1]) is Array:
        device = a._device
        if b._device is device:
            avals, bufs = (a.aval, b.aval), [a._buf, b._buf]
        else:
            device, bufs = _pick_device(args), None
            avals = (a.aval, b.aval)
    elif n == 1 and type(a := args[0]) is Array:
        device, avals, bufs = a._device, (a.aval,), [a._buf]
    else:
        if ref_apply_hook is not None and any(type(x) is ref_apply_hook[0] for x in args):
            return ref_apply_hook[1](prim, args, params)  # Ref operands (engine/state)
        device, bufs = _pick_device(args), None
        avals = tuple([x.aval if type(x) is Array else core.get_aval(x) for x in args])
    if params:
        pkey = tuple(params.items())
        for v in params.values():
            t = type(v)
            if t is float or t is complex:  # 0.0 == -0.0: key floats by bits
                pkey = tuple(
                    (k, scalar_key(v) if type(v) in (float, complex) else v)
                    for k, v in params.items()
                )
                break
    else:
        pkey = ()
    gate = _gate[0]  # read before the trace context is (see _gate)
    c = _prim_last.get(prim) if bufs is not None else None
    if c is not None and c[0] is gate and c[2] is device and c[1] == avals:
        try:
            same = c[3] == pkey
        except Exception:  # a parameter that compares elementwise (an array)
            same = False
    else:
        same = False
    if same:
        key, entry = c[5], c[4]  # this primitive's last signature again: no hashing
        entry.hits += 1
    else:
        key = (prim, pkey, avals, device, config.trace_context_id)
        try:
            entry = _prim_cache.get(key)
        except TypeError:  # an unhashable parameter: compiled each time, never cached
            key = entry = None
        if entry is None:
            entry = _PrimEntry(*_compile_primitive(prim, avals, params, device))
            if key is not None:
                if len(_prim_cache) >= _CACHE_LIMIT:
                    evict_one(_prim_cache)
                    invalidate_fast_paths()
                _prim_cache[key] = entry
        else:
            entry.hits += 1
        if bufs is not None and key is not None:
            _prim_last[prim] = (gate, avals, device, pkey, entry, key)
    simple = bufs is not None  # Arrays of one device: what an inline cache can replay
    if bufs is None:
        committed = False
        for x in args:
            if type(x) is Array and x._committed:
                committed = True
                break
        bufs = [
            x._buf if type(x) is Array and x._device is device else _buffer(x, device) for x in args
        ]
    else:  # an op on a committed array gives a committed array, as in JAX
        committed = a._committed or (n == 2 and b._committed)
    check_not_deleted(args)  # before PJRT, which logs to stderr on a deleted buffer
    try:
        if entry.execute is not None:
            outs = entry.execute(bufs).consume_with_handlers(entry.handlers)
        else:
            outs = entry.exe(bufs)
    except Exception:
        check_not_deleted(args)
        raise
    if prim.multiple_results:
        results = [Array(b, a, device, committed) for b, a in zip(outs, entry.out_avals)]
        if _debug_flags[0]:
            _check_outputs(prim, results)
        return results
    result = Array(outs[0], entry.out_avals[0], device, committed)
    if _debug_flags[0]:
        _check_outputs(prim, [result])
    elif _recorder[0] is not None and simple and key is not None:
        _recorder[0].append((prim, args, entry, device, result))
    return result


def _check_outputs(prim, results):
    from .debugging import check_primitive_outputs

    check_primitive_outputs(prim, results)


# jax_debug_nans or jax_debug_infs, kept current by a config listener (one read per op)
_debug_flags = [False]


def _update_debug_flags(name=None, value=None):
    _debug_flags[0] = bool(config.jax_debug_nans or config.jax_debug_infs)


_update_debug_flags()
config.on_change(_update_debug_flags)


def _compile_primitive(prim, avals, params, device):
    from .interpreters import lowering

    out = prim.abstract_eval(*avals, **params)
    out_avals = list(out) if prim.multiple_results else [out]
    invars = [Var(a) for a in avals]
    outvars = [Var(a) for a in out_avals]
    eqn = JaxprEqn(prim, invars, outvars, params, None)
    closed = ClosedJaxpr(Jaxpr([], invars, outvars, [eqn], prim.name), [])
    mesh = _unreduced_mesh(device, avals, out_avals)
    if mesh is None:
        module, ctx = lowering.lower_jaxpr_to_module(closed, prim.name, runtime.platform_of(device))
    else:
        from .sharding.constraint import lowering_for_mesh

        with lowering_for_mesh(mesh):
            module, ctx = lowering.lower_jaxpr_to_module(
                closed, prim.name, runtime.platform_of(device)
            )
    device_memory = core.MemorySpace.Device
    if any(
        getattr(a, "memory_space", device_memory) is not device_memory for a in (*avals, *out_avals)
    ):
        _set_memory_kinds(module, closed)  # (a host value's result is left in host memory)
    text = lowering.module_to_text(module, debug_info=False)
    stats.eager_compiles += 1
    return runtime.compile(text, device, out_avals), out_avals


def _set_memory_kinds(module, closed):
    from .sharding.placement import module_memory_kinds
    from .sharding.spmd import set_memory_kinds

    kinds = module_memory_kinds(
        closed, [None] * len(closed.in_avals), [None] * len(closed.out_avals)
    )
    if kinds is not None:
        set_memory_kinds(module, *kinds)


def _unreduced_mesh(device, avals, out_avals):
    """The mesh of a sharded op on unreduced values, lowered with its type constraints
    (as JAX's jitted op): without them XLA's partitioner would sum the partial sums."""
    if type(device) is not runtime.DeviceGroup:
        return None
    for a in (*avals, *out_avals):
        s = getattr(a, "sharding", None)
        if s is not None and s.spec.unreduced:
            from .sharding.arrays import mesh_of_group

            return mesh_of_group(device)
    return None


# ---------------------------------------------------------------------------- jaxprs


def compile_closed_jaxpr(
    closed, device, name="main", donated=(), options=None, dump_dir=None, debug_info=True
):
    """Lower and compile ``closed`` (whose consts must already be invars or concrete)."""
    from .interpreters import lowering

    module, ctx = lowering.lower_jaxpr_to_module(
        closed, name, runtime.platform_of(device), donated=donated
    )
    text = lowering.module_to_text(module, debug_info=debug_info)
    return compile_text(
        text, device, closed.out_avals, options=options, dump_dir=dump_dir, donated=donated
    )


def compile_text(text, device, out_avals, donated=(), options=None, dump_dir=None):
    """Compile StableHLO text already lowered (e.g. by a ``Lowered`` stage)."""
    stats.jaxpr_compiles += 1
    return runtime.compile(
        text, device, out_avals, options=options, dump_dir=dump_dir, donated=donated
    )


def execute(exe, args, bufs, check_deleted=None):
    """Run ``exe``; a deleted (e.g. donated) input raises JAX's error before it runs
    (PJRT would log an ``E...`` line to stderr before failing). ``check_deleted``
    replaces the check over all ``args`` (a jit entry's looks at its kept ones only)."""
    check = check_not_deleted if check_deleted is None else check_deleted
    check(args)
    try:
        return exe(bufs)
    except Exception:
        check(args)
        raise


def check_not_deleted(args):
    for x in args:
        if type(x) is Array and x.is_deleted():
            raise array_deleted_error(x)


def any_committed(args) -> bool:
    """Whether a computation on ``args`` gives committed results (as JAX: any committed
    Array among them)."""
    for x in args:
        if type(x) is Array and x._committed:
            return True
    return False


def run_executable(exe, out_avals, args, device):
    outs = execute(exe, args, _buffers(args, device))
    committed = any_committed(args)
    return [Array(b, a, device, committed) for b, a in zip(outs, out_avals)]


def clear_caches():
    """Forget every eager executable and cached scalar buffer."""
    _prim_cache.clear()
    _prim_last.clear()
    _scalar_cache.clear()
    invalidate_fast_paths()


core.apply_primitive = apply_primitive
