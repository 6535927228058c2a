"""``jit``: trace once per input signature, compile with XLA, call the executable.

A jitted function called inside another transformation binds the ``jit`` primitive,
whose parameter is the traced jaxpr; its rules transform that jaxpr (JVP, partial
evaluation, transposition, batching) and lower it as a called function."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import core, dispatch, errors, monitoring, runtime, traceback_util, tree_util
from .array import Array
from .config import config
from .core import Primitive
from .interpreters import batching, lowering, transpose
from .interpreters import jaxpr_transforms as jt
from .interpreters import jvp as jvp_mod
from .interpreters import partial_eval as pe
from .interpreters.tracing import convert_constvars_to_invars, trace_to_jaxpr
from .sharding.constraint import constraint_mesh
from .sharding.jit_shardings import ConstrainedProgram, constrained_target, resolve_target
from .stages import Lowered, Traced, compile_lowered

jit_p = Primitive("jit", multiple_results=True)
jit_p.pp_params = lambda p: {"name": p["name"], "jaxpr": p["jaxpr"]}
jit_p.subjaxprs_rule = lambda p: (p["jaxpr"],)
jit_p.pp_alias_subjaxpr = True


def bind_jit(args, jaxpr, name, donated=None):
    donated = donated or (False,) * len(args)
    return jit_p.bind(*args, jaxpr=jaxpr, name=name, donated_invars=tuple(donated))


@jit_p.def_abstract_eval
def _jit_abstract_eval(*avals, jaxpr, **_):
    return jaxpr.out_avals


_jaxpr_exe_cache: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()
# ClosedJaxpr (bound by a transformation) -> {device: executable}


@jit_p.def_impl
def _jit_impl(*args, jaxpr, name, donated_invars):
    device = dispatch._pick_device(args)
    per = _jaxpr_exe_cache.setdefault(jaxpr, {})
    exe = per.get(device)
    if exe is None:
        donated = tuple(i for i, d in enumerate(donated_invars) if d)
        mesh = constraint_mesh(jaxpr)
        if mesh is not None:  # it constrains shardings: compiled over that mesh
            exe = per[device] = ConstrainedProgram(jaxpr, mesh, name, donated)
        else:
            exe = per[device] = dispatch.compile_closed_jaxpr(jaxpr, device, name, donated)
    if type(exe) is ConstrainedProgram:
        return exe(args)
    return dispatch.run_executable(exe, jaxpr.out_avals, args, device)


def _jit_jvp(primals, tangents, jaxpr, name, donated_invars):
    nonzeros = tuple(type(t) is not jvp_mod.Zero for t in tangents)
    new, out_nz = jt.jvp_jaxpr(jaxpr, nonzeros, (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    tans = [t for t in tangents if type(t) is not jvp_mod.Zero]
    outs = bind_jit(consts + list(primals) + tans, new, name)
    n = len(jaxpr.out_avals)
    touts = iter(outs[n:])
    return outs[:n], [
        next(touts) if nz else jvp_mod.Zero(jvp_mod.tangent_aval(a))
        for nz, a in zip(out_nz, jaxpr.out_avals)
    ]


jit_p.def_jvp(_jit_jvp)


def _jit_partial_eval(trace, args, unknowns, params):
    jaxpr, name = params["jaxpr"], params["name"]
    known_j, unknown_j, out_unknowns, nres = pe.partial_eval_jaxpr(jaxpr, unknowns)
    known_args = [x for x, u in zip(args, unknowns) if not u]
    # residuals that are known inputs are passed from outside, not returned (JAX's _fwd)
    known_j, fwd = pe.forward_input_residuals(known_j, nres)
    known_j, kconsts = convert_constvars_to_invars(known_j)
    with core.set_current_trace(trace.parent):
        known_outs = bind_jit(kconsts + known_args, known_j, name)
    n_known = len(known_outs) - (nres - sum(f is not None for f in fwd))
    known_vals, it_res = known_outs[:n_known], iter(known_outs[n_known:])
    residuals = [next(it_res) if f is None else known_args[f] for f in fwd]
    ins = [trace.instantiate_const(r) for r in residuals]
    ins += [trace.instantiate_const(x) for x, u in zip(args, unknowns) if u]
    unknown_outs = trace.record(
        jit_p, ins, dict(jaxpr=unknown_j, name=name, donated_invars=(False,) * len(ins))
    )
    it_k, it_u = iter(known_vals), iter(unknown_outs)
    return [next(it_u) if u else next(it_k) for u in out_unknowns]


jit_p.partial_eval = _jit_partial_eval


def _jit_dce(used_outputs, eqn):
    """Outputs nothing reads leave the called jaxpr, with the inputs only they needed (as
    JAX's pjit DCE rule): a linearized call's unused tangents never reach its transpose,
    where their zero cotangents would meet the residuals (0 * nan = nan)."""
    if not any(used_outputs):
        return [False] * len(eqn.invars), None
    jaxpr, donated = eqn.params["jaxpr"], eqn.params["donated_invars"]
    body, used_in = pe.dce_jaxpr(jaxpr.jaxpr, used_outputs)
    params = dict(
        eqn.params,
        jaxpr=core.ClosedJaxpr(body, jaxpr.consts),
        donated_invars=tuple(d for d, u in zip(donated, used_in) if u),
    )
    new = eqn.replace(
        invars=[v for v, u in zip(eqn.invars, used_in) if u],
        outvars=[v for v, u in zip(eqn.outvars, used_outputs) if u],
        params=params,
    )
    return used_in, new


pe.dce_rules[jit_p] = _jit_dce


def _jit_transpose(cts, *args, jaxpr, name, donated_invars):
    linear = tuple(transpose.is_undefined_primal(x) for x in args)
    tj = jt.transpose_jaxpr(jaxpr, linear)
    tj, consts = convert_constvars_to_invars(tj)
    nonlin = [x for x in args if not transpose.is_undefined_primal(x)]
    cts = [jvp_mod.instantiate(c) for c in cts]
    outs = iter(bind_jit(consts + nonlin + cts, tj, name))
    return [next(outs) if lin else None for lin in linear]


jit_p.def_transpose(_jit_transpose)


def _jit_batch(size, vals, dims, jaxpr, name, donated_invars):
    new, out_b = jt.batch_jaxpr(jaxpr, size, tuple(dims), (False,) * len(jaxpr.out_avals))
    new, consts = convert_constvars_to_invars(new)
    outs = bind_jit(consts + list(vals), new, name)
    return outs, [0 if b else None for b in out_b]


jit_p.def_batch(_jit_batch)


@jit_p.def_lowering
def _jit_lowering(ctx, *args, jaxpr, name, donated_invars):
    return lowering.call_function(ctx, jaxpr, name, args)


# ---------------------------------------------------------------------------- the user's jit
#
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
#
# Before the dict, each wrapper checks its inline cache (``_last1``/``_last``): the last
# all-Array signature it ran, compared by identity (avals, device) and valid while
# ``dispatch._gate`` holds the object it was filled under; config changes, evictions and
# clears replace that object. A hit counts in the entry's ``hits`` like any other.

CACHE_SIZE = 256  # signatures kept per function (dispatch.evict_one says which go)

_all_jitted: weakref.WeakValueDictionary[int, JitFunction] = weakref.WeakValueDictionary()
_caches: weakref.WeakKeyDictionary[Any, _FunctionCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
_serial = itertools.count(1)


class _Options:
    """A wrapper's options beyond the function: how arguments split into static and
    dynamic ones, what is donated, where and how it compiles. Holds no reference to
    the function (the stage objects in the weakly keyed cache keep one of these)."""

    __slots__ = (
        "name",
        "static_argnums",
        "static_argnames",
        "donate_argnums",
        "device",
        "backend",
        "compiler_options",
        "shardings",
        "key",
    )

    def __init__(
        self,
        name,
        static_argnums,
        static_argnames,
        donate_argnums,
        device,
        backend,
        copts,
        shardings=(None, None),
    ):
        self.name = name
        self.static_argnums = frozenset(static_argnums)
        self.static_argnames = frozenset(static_argnames)
        self.donate_argnums = tuple(sorted(set(donate_argnums)))
        self.device, self.backend = device, backend
        self.compiler_options = dict(copts) if copts else None
        # (in_shardings, out_shardings) as the user gave them: resolved per call into an
        # SpmdTarget (engine/sharding/jit_shardings.py); part of the key.
        self.shardings = shardings
        try:
            hash(shardings)
        except TypeError:
            shardings = repr(shardings)
        self.key = (
            self.static_argnums,
            self.static_argnames,
            self.donate_argnums,
            device,
            backend,
            _freeze_options(self.compiler_options),
            shardings,
        )

    def split(self, args, kwargs):
        """(static, dynamic positional args, dynamic keyword args); ``static`` is a
        hashable tuple of (position or name, _Static)."""
        static, dyn_args = [], []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                static.append((i, _hashable_static(a, i)))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in self.static_argnames:
                static.append((k, _hashable_static(v, k)))
            else:
                dyn_kwargs[k] = v
        return tuple(static), tuple(dyn_args), dyn_kwargs

    @staticmethod
    def rebuild(static, dyn_args, dyn_kwargs):
        pos = {k: v.value for k, v in static if isinstance(k, int)}
        kw = {k: v.value for k, v in static if not isinstance(k, int)}
        it = iter(dyn_args)
        args = [pos[i] if i in pos else next(it) for i in range(len(dyn_args) + len(pos))]
        return args, {**kw, **dyn_kwargs}

    def donated_leaves(self, static, in_tree):
        """Indices, among the dynamic leaves, of the donated positional arguments'."""
        if not self.donate_argnums:
            return ()
        args_tree, _ = tree_util.treedef_children(in_tree)
        arg_trees = tree_util.treedef_children(args_tree)
        static_pos = {k for k, _ in static if isinstance(k, int)}
        positions = [i for i in range(len(arg_trees) + len(static_pos)) if i not in static_pos]
        out, offset = [], 0
        for pos, t in zip(positions, arg_trees):
            n = t.num_leaves
            if pos in self.donate_argnums:
                out.extend(range(offset, offset + n))
            offset += n
        return tuple(out)

    def resolve_device(self, flat):
        if self.device is not None:
            return self.device
        if self.backend is not None:
            return runtime.local_devices(self.backend)[0]
        return dispatch._pick_device(flat)


def _freeze_options(options):
    if not options:
        return ()
    try:
        frozen = tuple(sorted(options.items()))
        hash(frozen)
        return frozen
    except TypeError:
        return tuple(sorted((k, repr(v)) for k, v in options.items()))


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
        static = tuple((k, _Static(v, None)) for k, v in self.static)
        args, kwargs = _Options.rebuild(static, list(dyn_args), dict(dyn_kwargs))
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
    )

    def __init__(self, key, traced):
        self.key, self.traced = key, traced
        self.serial = next(_serial)
        self.lowered = self.compiled = None
        self.extra = {}  # frozen compiler options -> Compiled (Lowered.compile(options))
        self.hits = self.seen = 0
        self.fast_dict = self.fast_key = None

    def set_compiled(self, compiled):
        self.execute, self.handlers = compiled._execute, compiled._handlers
        self.const_args, self.out_avals = compiled._const_bufs, compiled.out_avals
        self.out_tree = self.traced.out_tree
        self.single_out = self.out_tree == _LEAF_TREE  # returns one bare array
        self.compiled = compiled


class _Jaxpr:
    __slots__ = ("closed", "out_tree", "hits", "seen")

    def __init__(self, closed, out_tree):
        self.closed, self.out_tree = closed, out_tree
        self.hits = self.seen = 0


class _FunctionCache:
    """Everything ``jit`` traced, lowered and compiled for one callable (see above)."""

    def __init__(self):
        self.id = next(_serial)
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
            extra = _freeze_options(options)
            if extra == _freeze_options(base):
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


def _cache_for(fun):
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
        core.check_traced_outputs(fun, leaves, "jit")
        return leaves

    closed = trace_to_jaxpr(flat_fun, list(avals), debug_name=name)
    return closed, store[0]


_NO_ARG = object()  # JitFunction.__call__ without positional arguments


class JitFunction:
    """What ``jit(f)`` returns: call it, or step through ``.trace``, ``.lower``,
    ``.compile`` (the same cached stage objects a call uses). ``cache_info()`` says
    what is cached and how often it was used."""

    def __init__(
        self,
        fun: Callable,
        static_argnums: int | Sequence[int] = (),
        static_argnames: str | Iterable[str] = (),
        donate_argnums: int | Sequence[int] = (),
        device: Any = None,
        backend: str | None = None,
        compiler_options: dict[str, Any] | None = None,
        in_shardings: Any = None,
        out_shardings: Any = None,
    ):
        functools.update_wrapper(self, fun)
        self.fun = fun
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        if isinstance(donate_argnums, int):
            donate_argnums = (donate_argnums,)
        self._signature = _try_signature(fun)
        static_argnums, static_argnames = _resolve_statics(
            self._signature, static_argnums, static_argnames
        )
        self.__name__ = getattr(fun, "__name__", "fun")
        opts = _Options(
            self.__name__,
            static_argnums,
            static_argnames,
            donate_argnums,
            device,
            backend,
            compiler_options,
            (in_shardings, out_shardings),
        )
        self._opts = opts
        self.static_argnums = opts.static_argnums
        self.static_argnames = opts.static_argnames
        self.donate_argnums = opts.donate_argnums
        self.compiler_options = opts.compiler_options
        self._device = device
        self._backend = backend
        # Static arguments and shardings take the general path (never the fast one).
        self._has_static = bool(opts.static_argnums or opts.static_argnames) or (
            in_shardings is not None or out_shardings is not None
        )
        self._pick_first = device is None and backend is None  # one Array: its device
        self._commit_out = not self._pick_first  # a named device commits the results
        self._last: Any = _NO_CALL  # the inline caches (see __call__)
        self._last1: Any = _NO_CALL
        self._cache = _cache_for(fun)
        self._fast = self._cache.fast_dict(opts.key)
        _all_jitted[next(_serial)] = self

    def __repr__(self):
        return f"<jitted function {self.__name__}>"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    # -- what is cached
    def cache_info(self) -> CacheInfo:
        """The signatures cached for this function (by every ``jit`` of it), each with
        its Traced/Lowered/Compiled objects, and the trace/lower/compile/hit counts."""
        return self._cache.info(self.__name__)

    @property
    def trace_count(self) -> int:
        return self._cache.trace_count

    @property
    def lower_count(self) -> int:
        return self._cache.lower_count

    @property
    def compile_count(self) -> int:
        return self._cache.compile_count

    @property
    def cache_hits(self) -> int:
        c = self._cache
        return c.evicted_hits + sum(e.hits for e in list(c.entries.values()))

    @property
    def compile_seconds(self) -> float:
        return self._cache.compile_seconds

    def clear_cache(self) -> None:
        """Forget every trace and executable of this function (for all its wrappers)."""
        self._cache.clear()

    # -- calling
    def __call__(self, x: Any = _NO_ARG, /, *rest: Any, **kwargs: Any) -> Any:
        # The hot path, inlined (one Python frame; the first argument apart saves building
        # a tuple). First the inline caches: the last all-Array signature this wrapper ran,
        # valid while dispatch's gate object is the one it was filled under (any config
        # change, eviction or clear_caches replaces it).
        try:
            c = self._last1  # one Array in, one out, no constants: the commonest call
            if c[0] is _gate[0] and not rest and not kwargs:
                if (
                    type(x) is Array
                    and x.aval is c[1]
                    and x._device is c[2]
                    and _ctx.trace is _eval_trace
                ):
                    c[3].hits += 1
                    try:
                        outs = c[4]([x._buf]).consume_with_handlers(c[5])
                    except Exception:
                        dispatch.check_not_deleted((x,))
                        raise
                    # Array(outs[0], c[6], c[2], x._committed) without an __init__ frame
                    out = _new_array(Array)
                    out._buf, out.aval, out._device = outs[0], c[6], c[2]
                    out._committed, out._npy = x._committed, None
                    return out
            args = () if x is _NO_ARG else (x, *rest)
            c = self._last
            if (
                c[0] is _gate[0]
                and not kwargs
                and len(args) == len(c[1])
                and _ctx.trace is _eval_trace
            ):
                device, committed = c[2], False
                for x, a in zip(args, c[1]):
                    if type(x) is not Array or x.aval is not a or x._device is not device:
                        break
                    committed = committed or x._committed
                else:
                    e = c[3]
                    e.hits += 1
                    bufs = e.const_args + [x._buf for x in args]
                    try:
                        outs = e.execute(bufs).consume_with_handlers(e.handlers)
                    except Exception:
                        dispatch.check_not_deleted(args)
                        raise
                    return _unflatten(e, outs, device, committed)
            return self._call_fast(args, kwargs)
        except Exception as e:
            traceback_util.filter_exception(e)
            raise

    def _call_fast(self, args, kwargs):
        """A call the inline cache did not take: one dict lookup by signature, then run."""
        if _general_flags[0] or _ctx.trace is not _eval_trace:
            return self._call_general(args, kwargs)
        if kwargs or self._has_static:
            return self._call_keyed(args, kwargs)
        gate = _gate[0]  # read before the signature: a config change after it is not missed
        n = len(args)
        if n == 1 and type(args[0]) is Array:
            flat, x = args, args[0]
            in_tree, avals = 1, (x.aval,)
            device = x._device if self._pick_first else self._device or self._pick(flat)
        else:
            arg_avals = [x.aval for x in args if type(x) is Array]
            if len(arg_avals) == n:  # all Arrays: the tree is n positional leaves
                flat = args
                in_tree = n  # an int stands for the tuple of n leaves (cheap to hash)
                avals = tuple(arg_avals)
            else:
                flat, in_tree = tree_util.tree_flatten(args)
                avals = tuple([x.aval if type(x) is Array else _arg_aval(x) for x in flat])
                if in_tree == (_flat_trees.get(len(flat)) or _flat_tree(len(flat))):
                    in_tree = len(flat)  # the key the all-Array call uses
            device = self._device or self._pick(flat)
        key = (in_tree, avals, device, config.trace_context_id)
        entry = self._fast.get(key)
        if entry is None:
            return self._call_miss(args, flat, avals, device, key)
        entry.hits += 1
        outs = _run(entry, flat, device)
        if flat is args and self._pick_first and type(device) is not runtime.DeviceGroup:
            # every argument an Array on ``device``: fill the inline cache (see __call__)
            if n == 1 and entry.single_out and not entry.const_args:
                self._last1 = (
                    gate,
                    avals[0],
                    device,
                    entry,
                    entry.execute,
                    entry.handlers,
                    entry.out_avals[0],
                )
            else:
                self._last = (gate, avals, device, entry)
        return _unflatten(entry, outs, device, self._commit_out or dispatch.any_committed(flat))

    def _call_keyed(self, args, kwargs):
        """A call with static or keyword arguments (``jnp.round(x, 2)`` is one): the fast
        path's dict lookup, keyed by the static values and the argument tree as well.
        Calls over a mesh and the first call of a signature take the general path."""
        opts = self._opts
        static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple([x.aval if type(x) is Array else _arg_aval(x) for x in flat])
        device = opts.resolve_device(flat)
        key = (static, in_tree, avals, device, config.trace_context_id)
        entry = self._fast.get(key)
        if entry is None:
            if (
                type(device) is runtime.DeviceGroup
                or resolve_target(self.fun, opts, flat, in_tree, avals) is not None
            ):
                return self._call_general(args, kwargs)
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, key[4])
            if constrained_target(rec.closed, len(flat), None) is not None:
                return self._call_general(args, kwargs)
            entry = self._cache.call_entry(
                self.fun, opts, static, in_tree, avals, device, key[4], (self._fast, key)
            )
        else:
            entry.hits += 1
        outs = _run(entry, flat, device)
        return _unflatten(entry, outs, device, self._committed(flat))

    def _call_miss(self, args, flat, avals, device, key):
        """A call whose signature the fast path has not seen: trace/compile, then run."""
        if type(device) is runtime.DeviceGroup:  # a sharded argument: over its mesh
            return self._call_general(args, {})
        in_tree = tree_util.tree_structure((args, {}))
        rec = self._cache.jaxpr(self.fun, self._opts, (), in_tree, avals, key[3])
        if constrained_target(rec.closed, len(flat), None) is not None:
            return self._call_general(args, {})  # over its constraints' mesh
        entry = self._cache.call_entry(
            self.fun, self._opts, (), in_tree, avals, device, key[3], (self._fast, key)
        )
        return _unflatten(entry, _run(entry, flat, device), device, self._committed(flat))

    def _committed(self, flat):
        """Whether this call's results are committed: as in JAX, when an argument is, or
        when the wrapper names a device or backend."""
        return self._commit_out or dispatch.any_committed(flat)

    def _pick(self, flat):
        if self._backend is not None:
            return runtime.local_devices(self._backend)[0]
        for x in flat:
            if type(x) is Array:
                if x._committed or len(flat) == 1:
                    return x._device
                return dispatch._pick_device(flat)
        return runtime.default_device()

    def _call_general(self, args, kwargs):
        if config.jax_disable_jit:
            return self.fun(*args, **kwargs)
        opts = self._opts
        static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(x.aval if type(x) is Array else _arg_aval(x) for x in flat)
        ctx = config.trace_context_id
        if core._ctx.trace is not core.eval_trace:  # inside a transformation: bind
            # (named axes in scope change collectives' shapes: part of the trace key)
            named = batching.axis_env_key()
            key_ctx = (ctx, named) if named else ctx
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, key_ctx)
            closed, consts = convert_constvars_to_invars(rec.closed)
            outs = bind_jit(consts + list(flat), closed, self.__name__)
            return tree_util.tree_unflatten(rec.out_tree, outs)
        device = opts.resolve_device(flat)
        target = resolve_target(self.fun, opts, flat, in_tree, avals)
        if target is None:
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, ctx)
            target = constrained_target(rec.closed, len(flat), opts.shardings[1])
        if target is not None:
            e = self._cache.call_entry(self.fun, opts, static, in_tree, avals, target, ctx)
            return e.compiled._run_partitioned(flat)
        e = self._cache.call_entry(self.fun, opts, static, in_tree, avals, device, ctx)
        if config.jax_debug_key_reuse:  # engine/key_reuse.py: raises before running
            from . import key_reuse

            pending = key_reuse.check_jit_call(e.traced.jaxpr, flat)
        bufs = e.const_args + dispatch._buffers(flat, device)
        outs = dispatch.execute(e.compiled._exe, flat, bufs)
        committed = self._committed(flat)
        outs = [Array(b, a, device, committed) for b, a in zip(outs, e.out_avals)]
        if config.jax_debug_key_reuse:
            key_reuse.after_jit_call(pending, outs)
        result = tree_util.tree_unflatten(e.out_tree, outs)
        if config.jax_debug_nans or config.jax_debug_infs:
            from .debugging import check_jit_outputs

            check_jit_outputs(self.__name__, self.fun, args, kwargs, result)
        return result

    # -- stages
    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """The traced jaxpr for these arguments (cached: the same object a call uses)."""
        opts = self._opts
        static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
        flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(_arg_aval(x) for x in flat)
        device = opts.resolve_device([x for x in flat if isinstance(x, Array)])
        target = resolve_target(self.fun, opts, flat, in_tree, avals)
        if target is None:
            rec = self._cache.jaxpr(self.fun, opts, static, in_tree, avals, config.trace_context_id)
            target = constrained_target(rec.closed, len(flat), opts.shardings[1])
        if target is not None:
            device = target
        e = self._cache.entry(
            self.fun, opts, static, in_tree, avals, device, config.trace_context_id
        )
        return e.traced

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """``trace(...).lower()``: the StableHLO module (cached)."""
        return self.trace(*args, **kwargs).lower()

    def eval_shape(self, *args: Any, **kwargs: Any) -> Any:
        """The output's ``ShapeDtypeStruct`` pytree (traces, never compiles)."""
        t = self.trace(*args, **kwargs)
        from .api import ShapeDtypeStruct

        return tree_util.tree_unflatten(
            t.out_tree,
            [ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in t.jaxpr.out_avals],
        )

    # Public entry points: exceptions leave them with the engine's frames filtered out
    # (engine/traceback_util.py, config ``jax_traceback_filtering``).
    trace = traceback_util.api_boundary(trace)
    lower = traceback_util.api_boundary(lower)
    eval_shape = traceback_util.api_boundary(eval_shape)


traceback_util.register_boundary(JitFunction.__call__)

# Flags that send every call down the general path, folded into one read per call.
_general_flags = [False]


def _update_general_flags(name=None, value=None):
    _general_flags[0] = bool(
        config.jax_disable_jit
        or config.jax_debug_nans
        or config.jax_debug_infs
        or getattr(config, "jax_debug_key_reuse", False)  # defined by engine/key_reuse.py
    )


_update_general_flags()
config.on_change(_update_general_flags)

_LEAF_TREE = tree_util.tree_structure(0)
_NO_CALL = (None, (), None, None)  # an empty inline cache (its gate is never current)
_gate = dispatch._gate
_ctx, _eval_trace = core._ctx, core.eval_trace
_new_array = object.__new__


def _run(entry, flat, device):
    """Run a cache entry on the flat arguments (put on ``device`` where they are not)."""
    bufs = [x._buf if type(x) is Array and x._device is device else _put(x, device) for x in flat]
    if entry.const_args:
        bufs = entry.const_args + bufs
    try:
        return entry.execute(bufs).consume_with_handlers(entry.handlers)
    except Exception:
        dispatch.check_not_deleted(flat)
        raise


def _unflatten(e, outs, device, committed):
    if e.single_out:
        return Array(outs[0], e.out_avals[0], device, committed)
    return e.out_tree.unflatten([Array(b, a, device, committed) for b, a in zip(outs, e.out_avals)])


_flat_trees: dict[int, Any] = {}  # n -> the treedef of a tuple of n leaves


def _flat_tree(n):
    t = _flat_trees[n] = tree_util.tree_structure((0,) * n)
    return t


def _put(x, device):
    if type(x) is Array and x._committed:
        raise ValueError(
            f"Received incompatible devices for jitted computation: an argument "
            f"is committed to {x._device}, the computation runs on {device}."
        )
    return dispatch.device_put_value(x, device)._buf


def _arg_aval(x):
    if isinstance(x, Array) or isinstance(x, core.Tracer):
        return x.aval
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__array__"):
        from . import dtypes

        return core.ShapedArray(
            x.shape, dtypes.canonicalize_dtype(x.dtype), getattr(x, "weak_type", False)
        )
    try:
        return core.get_aval(x)
    except TypeError:
        if isinstance(x, (np.ndarray, np.generic)):
            raise  # a NumPy array of strings, objects, ...: core's message says so
        raise TypeError(
            f"Error interpreting argument to a jitted function as an abstract array: the "
            f"value {x!r} of type {type(x).__name__} is not a valid JAX type; pass arrays, "
            "or mark it static with static_argnums/static_argnames"
        ) from None


class _Static:
    __slots__ = ("value", "key")

    def __init__(self, value, key):
        self.value, self.key = value, key

    def __eq__(self, other):
        return type(other) is _Static and self.key == other.key

    def __hash__(self):
        return hash(self.key)


def _hashable_static(v, where):
    try:
        hash(v)
    except TypeError:
        raise ValueError(
            f"Non-hashable static arguments are not supported: static argument {where!r} "
            f"is a {type(v).__name__}, which cannot be hashed (use a tuple instead of a list)"
        ) from None
    return _Static(v, _static_key(v))


def _static_key(v):
    """Static values are keyed by type and, for floats, by bits: ``f(x, 0.0)`` and
    ``f(x, -0.0)`` are different programs (JAX keys them by ``==`` and shares them)."""
    t = type(v)
    if t is float or t is complex or isinstance(v, np.generic):
        return dispatch.scalar_key(v)
    if t is tuple:
        return (t, tuple(_static_key(x) for x in v))
    return (t, v)


def _try_signature(fun):
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def _validate_argnums(sig, argnums, option):
    """JAX's ValueError for argument numbers the function's signature cannot have."""
    params = list(sig.parameters.values())
    if not argnums or any(p.kind == p.VAR_POSITIONAL for p in params):
        return
    n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if any(not -n <= i < n for i in argnums):
        raise ValueError(
            f"Jitted function has {option}={tuple(argnums)}, but only accepts {n} "
            "positional arguments."
        )


def _validate_options(fun, static_argnums, static_argnames, donate_argnums):
    """What the user asked ``jit`` for must fit ``fun``'s signature (JAX's ValueErrors);
    the engine's own JitFunctions may name statics their function lacks."""
    sig = _try_signature(fun)
    if sig is None:
        return
    as_tuple = lambda v, t: (v,) if isinstance(v, t) else tuple(v)  # noqa: E731
    _validate_argnums(sig, as_tuple(static_argnums, int), "static_argnums")
    _validate_argnums(sig, as_tuple(donate_argnums, int), "donate_argnums")
    _validate_argnames(sig, as_tuple(static_argnames, str))


def _validate_argnames(sig, argnames):
    params = sig.parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    invalid = set(argnames) - names
    if invalid:
        raise ValueError(
            f"Jitted function has invalid argnames {invalid} in static_argnames. Function "
            "does not take these args."
        )


def _resolve_statics(sig, argnums, argnames):
    argnums, argnames = set(argnums), set(argnames)
    if sig is None:
        return argnums, argnames
    params = list(sig.parameters.values())
    n = len(params)
    argnums = {i % n if i < 0 and n else i for i in argnums}
    for i in list(argnums):
        if i < n and params[i].kind in (params[i].POSITIONAL_OR_KEYWORD,):
            argnames.add(params[i].name)
    for name in list(argnames):
        for i, p in enumerate(params):
            if p.name == name and p.kind == p.POSITIONAL_OR_KEYWORD:
                argnums.add(i)
    return argnums, argnames


def jit(
    fun: Callable | None = None,
    *,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Iterable[str] = (),
    donate_argnums: int | Sequence[int] = (),
    device: Any = None,
    backend: str | None = None,
    compiler_options: dict[str, Any] | None = None,
    **unused: Any,
) -> JitFunction | Callable[[Callable], JitFunction]:
    """Compile ``fun`` with XLA. Usable as ``@jit`` or ``@jit(static_argnums=...)``.

    ``in_shardings``/``out_shardings`` (NamedShardings, or PartitionSpecs under
    ``set_mesh``) partition the program over their mesh with XLA's SPMD partitioner, as
    do arguments already sharded (engine/sharding/jit_shardings.py). JAX's layout
    options (``keep_unused``, ``inline``, ...) are accepted and have no effect."""
    unknown = set(unused) - _ACCEPTED_JAX_OPTIONS
    if unknown:
        raise TypeError(f"jit() got unexpected keyword argument(s): {sorted(unknown)}")
    shardings = {k: unused[k] for k in ("in_shardings", "out_shardings") if k in unused}

    def make(f: Callable) -> JitFunction:
        if not callable(f):
            raise TypeError(f"Expected a callable value, got {f!r}")
        _validate_options(f, static_argnums, static_argnames, donate_argnums)
        return JitFunction(
            f,
            static_argnums,
            static_argnames,
            donate_argnums,
            device,
            backend,
            compiler_options,
            **shardings,
        )

    return make if fun is None else make(fun)


_ACCEPTED_JAX_OPTIONS = frozenset(
    {"in_shardings", "out_shardings", "keep_unused", "inline", "abstracted_axes"}
)


def all_jitted() -> list[JitFunction]:
    """Every jitted function alive in this session, oldest first (for the session
    inspector)."""
    return list(_all_jitted.values())
