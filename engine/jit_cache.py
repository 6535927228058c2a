"""The per-function jit cache: what ``jit`` traced, lowered and compiled for one callable,
shared by every ``jit`` wrapper of it, and the ``cache_info()`` records describing it."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import weakref
from typing import Any

from . import core, dispatch, errors, monitoring, tree_util
from .array import Array
from .config import config
from .interpreters.tracing import trace_to_jaxpr
from .jit_options import Options, Static, freeze_options
from .stages import Lowered, Traced, compile_lowered

# One compile path. A call, ``.trace``, ``.lower`` and ``.compile`` all go through one
# per-function cache (``_FunctionCache``), weakly keyed on the Python callable and so
# shared by every ``jit`` wrapper of it, as in JAX:
#
#   jaxprs   (static args, input structure, avals, trace context) -> the traced jaxpr;
#            shared by wrappers with any options (donation or XLA options do not change
#            what tracing produces).
#   entries  (options, static args, input structure, avals, device, trace context)
#            -> _Entry holding the Traced / Lowered / Compiled stage objects.
#   fast     per options: (args' structure, avals, device, trace context) -> _Entry,
#            what a call without static or keyword arguments looks up.
#
# A call is one dict lookup then an execute; on a miss it traces, lowers and compiles
# through the same methods ``Traced.lower`` and ``Lowered.compile`` use, so both ways
# honour donation, compiler options, static arguments and devices identically.

CACHE_SIZE = 256  # signatures kept per function (dispatch.evict_one says which go)

_caches: weakref.WeakKeyDictionary[Any, _FunctionCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
serial = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Signature:
    """What one cache entry was traced and compiled for."""

    in_avals: tuple  # ShapedArray per dynamic leaf (weak types included)
    in_tree: Any  # PyTreeDef of (dynamic positional args, dynamic keyword args)
    static: tuple  # ((position or name, value), ...) of the static arguments
    device: Any  # where it runs
    config: tuple  # ((flag, value), ...): the program-changing config flags
    donate_argnums: tuple
    compiler_options: tuple  # ((name, value), ...)

    def __str__(self) -> str:
        parts = [a.str_short() for a in self.in_avals]
        parts += [f"{k}={v!r}" for k, v in self.static]
        return "(" + ", ".join(parts) + ")"

    def example_arguments(self) -> tuple[tuple, dict]:
        """``(args, kwargs)`` of this signature: a ``ShapeDtypeStruct`` where an array
        went, the static arguments as they were (enough to ``trace`` it again)."""
        from .api import ShapeDtypeStruct

        leaves = [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in self.in_avals]
        dyn_args, dyn_kwargs = tree_util.tree_unflatten(self.in_tree, leaves)
        static = tuple((k, Static(v, None)) for k, v in self.static)
        args, kwargs = Options.rebuild(static, list(dyn_args), dict(dyn_kwargs))
        return tuple(args), kwargs


@dataclasses.dataclass(frozen=True)
class CacheEntryInfo:
    """One signature in a jitted function's cache: its stage objects (``lowered`` and
    ``compiled`` are None until made) and how many calls it answered."""

    signature: Signature
    traced: Any  # stages.Traced
    lowered: Any  # stages.Lowered | None
    compiled: Any  # stages.Compiled | None
    hits: int


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """What ``jitted.cache_info()`` returns. The cache is shared by every ``jit`` wrapper
    of the same function (``cache_id`` tells which), so are the counts: ``trace_count``
    jaxprs traced, ``lower_count`` StableHLO modules lowered, ``compile_count`` XLA
    compiles, ``hits`` calls answered from the cache, ``compile_seconds`` spent in XLA.
    A compile with ``dump_passes``/``dump_dir`` (uncached, for a view) is not counted."""

    name: str
    cache_id: int
    entries: tuple  # CacheEntryInfo, oldest first
    trace_count: int
    lower_count: int
    compile_count: int
    hits: int
    compile_seconds: float
    maxsize: int

    @property
    def currsize(self) -> int:
        return len(self.entries)


class _Entry:
    """One signature's stage objects plus what the call path needs to run it."""

    __slots__ = (
        "key",
        "serial",
        "traced",
        "lowered",
        "compiled",
        "extra",
        "hits",
        "seen",
        "fast_dict",
        "fast_key",
        "execute",
        "handlers",
        "const_args",
        "out_avals",
        "out_tree",
        "single_out",
        "build_out",
    )

    def __init__(self, key, traced):
        self.key, self.traced = key, traced
        self.serial = next(serial)
        self.lowered = self.compiled = None
        self.extra = {}  # frozen compiler options -> Compiled (Lowered.compile(options))
        self.hits = self.seen = 0
        self.fast_dict = self.fast_key = None

    def set_compiled(self, compiled):
        self.execute, self.handlers = compiled._execute, compiled._handlers
        self.const_args, self.out_avals = compiled._const_bufs, compiled.out_avals
        self.out_tree = self.traced.out_tree
        self.single_out = self.out_tree == _LEAF_TREE  # returns one bare array
        self.build_out = _out_builder(self.out_tree)
        self.compiled = compiled


def _out_builder(tree):
    """A function from a result's leaves to its tree: for a list or tuple of leaves and
    of lists/tuples of leaves (a step's new parameters), slices put together without
    walking the tree per call; for a dict of leaves, the dict of its sorted names;
    otherwise ``tree.unflatten``."""
    node = tree._node
    if node is not None and node[0] is dict and node[2] and not any(node[2]):
        names = node[1]
        return lambda leaves: dict(zip(names, leaves))
    if node is None or node[0] not in (list, tuple):
        return tree.unflatten
    parts = []  # per child: (None, index) for a leaf, (list or tuple, start, stop)
    i = 0
    for kid in node[2]:
        if kid is None:
            parts.append((None, i, i + 1))
            i += 1
        elif kid[0] in (list, tuple) and all([k is None for k in kid[2]]):
            parts.append((kid[0], i, i + len(kid[2])))
            i += len(kid[2])
        else:
            return tree.unflatten
    outer = node[0]

    def build(leaves):
        out = [leaves[a] if t is None else t(leaves[a:b]) for t, a, b in parts]
        return out if outer is list else tuple(out)

    return build


class _Jaxpr:
    __slots__ = ("closed", "out_tree", "hits", "seen")

    def __init__(self, closed, out_tree):
        self.closed, self.out_tree = closed, out_tree
        self.hits = self.seen = 0


class _FunctionCache:
    """Everything ``jit`` traced, lowered and compiled for one callable (see above)."""

    def __init__(self):
        self.id = next(serial)
        self.lock = threading.RLock()  # held on misses only: one thread traces/compiles
        self.jaxprs = {}
        self.entries = {}
        self.fast = {}
        self.tracing = set()  # jaxpr keys being traced (under self.lock): recursion check
        self.trace_count = self.lower_count = self.compile_count = 0
        self.evicted_hits = 0
        self.compile_seconds = 0.0

    def fast_dict(self, options_key):
        return self.fast.setdefault(options_key, {})

    def jaxpr(self, fun, opts, static, in_tree, avals, ctx):
        key = (static, in_tree, avals, ctx)
        rec = self.jaxprs.get(key)
        if rec is None:
            with self.lock:
                rec = self.jaxprs.get(key)
                if rec is None:
                    if key in self.tracing:  # the lock is ours: this thread re-entered
                        raise errors.recursive_jit_error(opts.name)
                    self.tracing.add(key)
                    try:
                        rec = _Jaxpr(*_trace(fun, opts, static, in_tree, avals))
                    finally:
                        self.tracing.discard(key)
                    self.trace_count += 1
                    if len(self.jaxprs) >= CACHE_SIZE:
                        dispatch.evict_one(self.jaxprs)
                    self.jaxprs[key] = rec
                    return rec
        rec.hits += 1
        return rec

    def entry(self, fun, opts, static, in_tree, avals, device, ctx):
        key = (opts.key, static, in_tree, avals, device, ctx)
        e = self.entries.get(key)
        if e is None:
            with self.lock:
                e = self.entries.get(key)
                if e is None:
                    rec = self.jaxpr(fun, opts, static, in_tree, avals, ctx)
                    traced = Traced(
                        opts.name, rec.closed, in_tree, rec.out_tree, static, avals, device, opts
                    )
                    traced._owner = self
                    e = traced._entry = _Entry(key, traced)
                    if len(self.entries) >= CACHE_SIZE:
                        self._evict()
                    self.entries[key] = e
        return e

    def _evict(self):
        dispatch.invalidate_fast_paths()
        _, old = dispatch.evict_one(self.entries)
        self.evicted_hits += old.hits
        if old.fast_dict is not None and old.fast_dict.get(old.fast_key) is old:
            del old.fast_dict[old.fast_key]

    def call_entry(self, fun, opts, static, in_tree, avals, device, ctx, fast=None):
        """The entry a call runs (compiled now if it was not), registered for the fast
        path under ``fast = (fast dict, key)``."""
        e = self.entry(fun, opts, static, in_tree, avals, device, ctx)
        if e.compiled is None:
            with self.lock:
                if e.compiled is None:
                    self.compile(e)
                else:
                    e.hits += 1
        else:
            e.hits += 1
        if fast is not None and self.entries.get(e.key) is e:
            e.fast_dict, e.fast_key = fast
            fast[0][fast[1]] = e
        return e

    def lower(self, e):
        if e.lowered is None:
            with self.lock:
                if e.lowered is None:
                    t = e.traced
                    donated = t._options.donated_leaves(t.static, t.in_tree)
                    e.lowered = Lowered(t, donated)
                    self.lower_count += 1
        return e.lowered

    def compile(self, e, compiler_options=None, dump_passes=False, dump_dir=None):
        """``e``'s Compiled for the wrapper's XLA options updated by ``compiler_options``
        (cached by options); with ``dump_passes``/``dump_dir`` always a fresh compile."""
        lowered = self.lower(e)
        base = e.traced._options.compiler_options
        options = {**(base or {}), **(compiler_options or {})} or None
        dumping = dump_passes or dump_dir is not None
        extra = None
        if not dumping and compiler_options:
            extra = freeze_options(options)
            if extra == freeze_options(base):
                extra = None
            else:
                hit = e.extra.get(extra)
                if hit is not None:
                    return hit
        elif not dumping and e.compiled is not None:
            return e.compiled
        with self.lock:
            if not dumping and extra is None and e.compiled is not None:
                return e.compiled
            t0 = time.perf_counter()
            compiled = compile_lowered(lowered, options, dump_passes, dump_dir)
            seconds = time.perf_counter() - t0
            if monitoring._duration_listeners:
                monitoring.record_event_duration_secs(
                    monitoring.BACKEND_COMPILE_EVENT, seconds, fun_name=f"jit({lowered.fun_name})"
                )
            compiled.compile_seconds = seconds
            if dumping:  # a view's compile (the pass stepper's), not one of the function's
                return compiled
            self.compile_seconds += seconds
            self.compile_count += 1
            if extra is not None:
                if len(e.extra) >= 8:
                    del e.extra[next(iter(e.extra))]
                e.extra[extra] = compiled
            else:
                e.set_compiled(compiled)
            return compiled

    def clear(self):
        dispatch.invalidate_fast_paths()
        with self.lock:
            for e in self.entries.values():
                self.evicted_hits += e.hits
            self.jaxprs.clear()
            self.entries.clear()
            for d in self.fast.values():
                d.clear()

    def info(self, name):
        entries = []
        for key, e in sorted(list(self.entries.items()), key=lambda kv: kv[1].serial):
            okey, static, in_tree, avals, device, ctx = key
            t = e.traced
            sig = Signature(
                avals,
                in_tree,
                tuple((k, v.value) for k, v in static),
                device,
                tuple(config.trace_context(ctx).items()),
                t._options.donate_argnums,
                okey[5],  # the frozen compiler options
            )
            entries.append(CacheEntryInfo(sig, t, e.lowered, e.compiled, e.hits))
        return CacheInfo(
            name,
            self.id,
            tuple(entries),
            self.trace_count,
            self.lower_count,
            self.compile_count,
            self.evicted_hits + sum(e.hits for e in entries),
            self.compile_seconds,
            CACHE_SIZE,
        )


def cache_for(fun):
    """The cache shared by every jit of ``fun`` (weakly keyed: it goes when ``fun``
    does); a private one for callables that cannot be weakly referenced or hashed."""
    try:
        with _caches_lock:
            cache = _caches.get(fun)
            if cache is None:
                cache = _caches[fun] = _FunctionCache()
        return cache
    except TypeError:
        return _FunctionCache()


def _trace(fun, opts, static, in_tree, avals):
    store = []
    name = opts.name

    def flat_fun(*flat):
        dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat)
        args, kwargs = opts.rebuild(static, dyn_args, dyn_kwargs)
        out = fun(*args, **kwargs)
        leaves, out_tree = tree_util.tree_flatten(out)
        store.append(out_tree)
        leaves = core.dims_as_values(leaves)
        core.check_traced_outputs(fun, leaves, "jit")
        return leaves

    closed = trace_to_jaxpr(flat_fun, list(avals), debug_name=name)
    return closed, store[0]


_LEAF_TREE = tree_util.tree_structure(0)


# ---------------------------------------------------------------------------- running an entry
_new_array = object.__new__


def run_entry(entry, flat, device):
    """Run a cache entry on the flat arguments (put on ``device`` where they are not)."""
    bufs = [
        x._buf if type(x) is Array and x._device is device else put_arg(x, device) for x in flat
    ]
    if entry.const_args:
        bufs = entry.const_args + bufs
    # before PJRT, which logs to stderr on one (only the arguments the module takes)
    entry.compiled._check_deleted(flat)
    try:
        return entry.execute(bufs).consume_with_handlers(entry.handlers)
    except Exception:
        entry.compiled._check_deleted(flat)
        raise


def entry_results(e, outs, device, committed):
    """The result tree of entry ``e`` from its output buffers."""
    if e.single_out:
        return Array(outs[0], e.out_avals[0], device, committed)
    arrays = []
    for b, a in zip(outs, e.out_avals):  # Array(b, a, device, committed) without __init__
        x = _new_array(Array)
        x._buf, x.aval, x._device, x._committed, x._npy = b, a, device, committed, None
        arrays.append(x)
    return e.build_out(arrays)


def put_arg(x, device):
    """An argument's buffer on ``device`` (a committed Array elsewhere is JAX's error)."""
    if type(x) is Array and x._committed:
        raise ValueError(
            f"Received incompatible devices for jitted computation: an argument "
            f"is committed to {x._device}, the computation runs on {device}."
        )
    return dispatch.device_put_value(x, device)._buf
