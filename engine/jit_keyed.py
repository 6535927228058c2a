"""A jitted function's keyed calls: calls with static, keyword or Python-scalar arguments,
or builtin containers of Arrays (``jnp.round(x, 2)``, ``jnp.clip(x, 0.0, 1.0)``,
``step(params, x, y)``), which the all-Array inline caches in engine/jit.py do not take.

Each wrapper keeps a small LRU dict of ``KeyedCall`` records, keyed by what decides the
signature and costs nothing to hash: each Array's aval, each Python scalar's type, each
static value with its type, each container's type and length or key names. A repeat
skips splitting, flattening and the avals of the scalars. A record used again gets a
matcher generated for its argument structure (``make_matcher``): straight-line code
that checks a call against the record's avals, static values and containers and runs
it; the wrapper tries its last record's matcher first, so a call like the last one
builds no key at all. Every record is valid while
``dispatch._gate`` holds the object it was filled under."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from . import dispatch, runtime, tree_util
from .array import Array
from .config import config
from .jit_arguments import call_avals
from .jit_cache import entry_results, run_entry
from .sharding.jit_shardings import constrained_target, resolve_target
from .transfer_guard import sites as _tg

# Types whose values key the cache exactly: ``==`` between two of the same type means the
# same program (so no floats: 0.0 == -0.0), and a value cannot change after the call (no
# mutable objects hashed by content).
STATIC_TYPES = frozenset(
    {int, bool, str, type(None), type, types.FunctionType, types.BuiltinFunctionType}
    | {type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"}
)
TUPLE_ITEMS = frozenset({int, str, type(None)})  # never equal across these types
SCALAR_TYPES = frozenset({int, float, bool, complex})
CONTAINERS = frozenset({list, tuple, dict})  # exact types: no subclass's own flattening
MAX_DEPTH = 16
CACHE_SIZE = 16  # signatures each wrapper's keyed cache keeps (LRU)
MISS = object()  # what a matcher returns for a call it does not answer


def key_container(x, t, key, dyn, depth=0):
    """Extend a keyed call's key by a list, tuple or dict (its type, length or key
    names, then its leaves' keys, recursively) and ``dyn`` by its dynamic leaves in
    tree_flatten's order. False where something is not keyable this way (also past
    ``MAX_DEPTH`` levels: a cyclic container then gets tree_flatten's error)."""
    if depth > MAX_DEPTH:
        return False
    key.append(t)
    if t is dict:
        names = list(x)
        for n in names:
            if type(n) is not str:  # 1, 1.0 and True are equal dict keys but other trees
                return False
        names.sort()  # tree_flatten's order for a dict
        key.append(tuple(names))
        items = [x[n] for n in names]
    else:
        key.append(len(x))
        items = x
    for a in items:
        t = type(a)
        if t is Array:
            if a._buf.is_deleted():  # checked before PJRT, which logs on a deleted one
                return False
            key.append(a.aval)
            dyn.append(a)
        elif t in SCALAR_TYPES:
            key.append(t)
            dyn.append(a)
        elif a is None:
            key.append(None)
        elif t in CONTAINERS:
            if not key_container(a, t, key, dyn, depth + 1):
                return False
        else:
            return False
    return True


def _no_match(args, kwargs):
    return MISS


class KeyedCall:
    """One signature in a wrapper's keyed cache: the cache entry it runs, where, per
    dynamic leaf the last Python scalar passed there with its device buffer, and, once
    it answers a second call, the matcher for calls shaped like that one."""

    __slots__ = ("entry", "device", "scalars", "key", "gate", "call")

    def __init__(self, entry, device, n_leaves, has_scalars, gate=None):
        self.entry, self.device, self.gate = entry, device, gate
        self.key: list = []  # the key of the last call it answered (see call_keyed)
        self.scalars = [None] * n_leaves if has_scalars else None
        self.call = _no_match  # (args, kwargs) -> the result, or MISS


NO_CALL = KeyedCall(None, None, 0, False, object())  # an empty cache: its gate is never current


def call_keyed(f, args, kwargs):
    """A keyed call of JitFunction ``f`` that its last record's matcher did not take:
    the key is built and looked up in the LRU dict; a miss goes to ``call_miss``."""
    gate = dispatch._gate[0]  # read before the signature: a config change after it is not missed
    statics = f._opts.static_set
    key = [len(args)]
    dyn = []  # the dynamic leaves, in the order tree_flatten gives them
    device = None  # the Arrays' one device
    committed = f._commit_out
    items = enumerate(args)
    if kwargs:  # flattened in sorted order of their names
        names = sorted(kwargs) if len(kwargs) > 1 else list(kwargs)
        key.append(tuple(names))
        items = (*items, *[(k, kwargs[k]) for k in names])
    for k, a in items:
        t = type(a)
        if k in statics:
            if t in STATIC_TYPES or (t is tuple and all([type(v) in TUPLE_ITEMS for v in a])):
                key.append(t)  # the type apart: 1, 1.0 and True are different keys
                key.append(a)
                continue
            break
        if t is Array:
            if a._device is not device:
                if device is not None:
                    break
                device = a._device
            if a._buf.is_deleted():  # the general path's error (or none, if pruned)
                break
            key.append(a.aval)
            dyn.append(a)
            committed = committed or a._committed
        elif t in SCALAR_TYPES:  # its aval: weak, of its type's default dtype
            key.append(t)
            dyn.append(a)
        elif a is None:  # an empty subtree
            key.append(None)
        elif t in CONTAINERS:  # builtin containers: their leaves after them
            n_dyn = len(dyn)
            if not key_container(a, t, key, dyn):
                break
            for a in dyn[n_dyn:]:
                if type(a) is Array:
                    if a._device is not device:
                        if device is not None:
                            break
                        device = a._device
                    committed = committed or a._committed
            else:
                continue
            break
        else:
            break
    else:
        key.append(device)
        ic_key = None
        if f._keyed_gate is gate:
            ic = f._keyed_last
            # the last signature again: compared as a list (mostly the same objects, so
            # no aval hashed), else by the dict
            if ic is NO_CALL or key != ic.key:
                ic_key = tuple(key)
                ic = f._keyed.get(ic_key)
                if ic is not None:  # least recently used first in the dict
                    cache = f._keyed
                    if cache.pop(ic_key, None) is ic:
                        cache[ic_key] = ic
                    f._keyed_last = ic
            if ic is not None:
                ic.key = key  # this call's objects, compared first next time
                e = ic.entry
                e.hits += 1
                scalars = ic.scalars  # position -> (the last scalar, its buffer)
                if scalars is None:  # Arrays only
                    bufs = [a._buf for a in dyn]
                else:
                    bufs = []
                    for j, a in enumerate(dyn):
                        if type(a) is Array:
                            bufs.append(a._buf)
                            continue
                        last = scalars[j]
                        if last is None or last[0] is not a:  # the same object: same bits
                            try:
                                buf = dispatch.device_put_value(a, ic.device)._buf
                            except OverflowError:  # an int out of range: JAX's error
                                return call_miss(f, args, kwargs, gate)
                            last = scalars[j] = (a, buf)
                        bufs.append(last[1])
                if ic.call is _no_match:  # used twice: worth its matcher (~20 us)
                    ic.call = make_matcher(ic, args, kwargs, statics, f._commit_out)
                if e.const_args:
                    bufs = e.const_args + bufs
                try:
                    outs = e.execute(bufs).consume_with_handlers(e.handlers)
                except Exception:
                    e.compiled._check_deleted(dyn)
                    raise
                return entry_results(e, outs, ic.device, committed)
        if ic_key is None:
            ic_key = tuple(key)
        return call_miss(f, args, kwargs, gate, ic_key, dyn, device)
    return call_miss(f, args, kwargs, gate)


def _closed_has_refs(closed):
    from .state.discharge import closed_has_refs

    return closed_has_refs(closed)


def call_miss(f, args, kwargs, gate, ic_key=None, dyn=(), arrays_device=None):
    """A keyed call the keyed cache did not answer: the fast path's dict lookup, keyed by
    the static values and the argument tree as well (tracing and compiling on a first
    call); then the keyed cache is filled under ``ic_key``. Calls over a mesh take the
    general path."""
    opts = f._opts
    static, dyn_args, dyn_kwargs = opts.split(args, kwargs)
    flat, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
    avals = call_avals(flat, f.fun, f._signature, opts, args, kwargs)
    if f._uses_refs or any(getattr(type(a), "is_ref", False) for a in avals):
        return f._call_general(args, kwargs)  # array refs (engine/state)
    device = opts.resolve_device(flat)
    key = (static, in_tree, avals, device, config.trace_context_id)
    entry = f._fast.get(key)
    if entry is None:
        if (
            type(device) is runtime.DeviceGroup
            or resolve_target(f.fun, opts, flat, in_tree, avals) is not None
        ):
            return f._call_general(args, kwargs)
        rec = f._cache.jaxpr(f.fun, opts, static, in_tree, avals, key[4])
        if _closed_has_refs(rec.closed):
            f._uses_refs = True
            return f._call_general(args, kwargs)
        if constrained_target(rec.closed, len(flat), None) is not None:
            return f._call_general(args, kwargs)
        entry = f._cache.call_entry(
            f.fun, opts, static, in_tree, avals, device, key[4], (f._fast, key)
        )
    else:
        entry.hits += 1
    outs = run_entry(entry, flat, device)
    if (
        ic_key is not None
        and (arrays_device is None or arrays_device is device)
        and not opts.donate_argnums  # a scalar's buffer is reused: never donate one
        and _tg.h2d is None  # the guard checks every scalar's transfer
        and len(flat) == len(dyn)
        and all([a is b for a, b in zip(flat, dyn)])
    ):
        if f._keyed_gate is not gate:
            f._keyed, f._keyed_gate = {}, gate
        cache = f._keyed
        if len(cache) >= CACHE_SIZE:
            del cache[next(iter(cache))]  # the least recently used (hits move to the end)
        scalars = any(type(a) is not Array for a in dyn)
        ic = KeyedCall(entry, device, len(dyn), scalars, gate)
        ic.key = list(ic_key)
        cache[ic_key] = f._keyed_last = ic
    return entry_results(entry, outs, device, f._committed(flat))


def cache_buffers(f):
    """The device buffers JitFunction ``f``'s keyed cache holds (Python scalars' and
    constants'): the engine's, not the user's arrays."""
    for ic in list(f._keyed.values()):
        yield from ic.entry.const_args or ()
        for last in ic.scalars or ():
            if last is not None:
                yield last[1]


# ---------------------------------------------------------------------------- matchers
# A matcher is generated from the call that a record answers a second time, walking its
# arguments as call_keyed does: for ``jnp.round(x, 2)``
#
#     def call(args, kwargs):
#         if len(args) != 2 or kwargs:
#             return MISS
#         v1, v2, = args
#         if type(v1) is not Array or (v1.aval is not AV[0] and not SAME(v1, AV, 0)) or ...
#             return MISS
#         if v2 is not C0 and (type(v2) is not C1 or v2 != C0):
#             return MISS
#         ... ENTRY.hits += 1; run the executable on [v1._buf]; build the result
#
# The source depends only on the arguments' structure (the values it checks against are
# the factory's parameters: AV, the avals, and C0, C1, ...), so each structure is
# compiled once per process.

_factories: dict[str, Any] = {}
# statics compared by value after an exact type check (the others by identity)
_EQ_STATICS = (int, str)


class _Source:
    """A matcher's body being written: its lines, and the values it checks against."""

    def __init__(self):
        self.lines: list[str] = []
        self.consts: list[Any] = []
        self.leaves: list[str] = []  # per dynamic leaf, the expression of its buffer
        self.dyn: list[str] = []  # per dynamic leaf, its variable
        self.arrays: list[str] = []  # the variables holding Arrays
        self.avals: list[Any] = []  # their avals (the last objects seen, see _same_aval)
        self.n = 0

    def const(self, value):
        self.consts.append(value)
        return f"C{len(self.consts) - 1}"

    def var(self):
        self.n += 1
        return f"v{self.n}"

    def miss_if(self, cond, indent):
        self.lines.append(" " * indent + f"if {cond}:")
        self.lines.append(" " * indent + "    return MISS")

    def unpack(self, names, expr, indent):
        if names:
            self.lines.append(" " * indent + f"{', '.join(names)}, = {expr}")

    def static(self, v, a, indent):
        c = self.const(a)
        if type(a) in _EQ_STATICS:
            t = self.const(type(a))
            self.miss_if(f"{v} is not {c} and (type({v}) is not {t} or {v} != {c})", indent)
        else:
            self.miss_if(f"{v} is not {c}", indent)

    def value(self, v, a, indent):
        t = type(a)
        if t is Array:
            j = len(self.avals)
            self.avals.append(a.aval)
            self.miss_if(
                f"type({v}) is not Array or ({v}.aval is not AV[{j}] and not SAME({v}, AV, {j}))"
                f" or {v}._device is not DEV or {v}._buf.is_deleted()",
                indent,
            )
            self.leaves.append(f"{v}._buf")
            self.dyn.append(v)
            self.arrays.append(v)
        elif t in SCALAR_TYPES:
            j = len(self.dyn)
            s, ty = f"s{j}", self.const(t)
            self.lines.append(" " * indent + f"{s} = SC[{j}]")
            self.lines.append(" " * indent + f"if {s} is None or {v} is not {s}[0]:")
            self.lines.append(" " * indent + f"    {s} = REFRESH(SC, {j}, {v}, {ty}, DEV)")
            self.miss_if(f"{s} is None", indent + 4)
            self.leaves.append(f"{s}[1]")
            self.dyn.append(v)
        elif a is None:
            self.miss_if(f"{v} is not None", indent)
        elif t is dict:
            names = sorted(a)
            self.miss_if(f"type({v}) is not dict or len({v}) != {len(names)}", indent)
            ws = [self.var() for _ in names]
            if ws:  # its values in sorted order of the names; at once where it is so ordered
                c, pad = self.const(tuple(names)), " " * indent
                self.lines.append(pad + f"if tuple({v}) == {c}:")
                self.unpack(ws, f"{v}.values()", indent + 4)
                self.lines.append(pad + "else:")
                self.lines.append(pad + f"    {v} = SORTED_VALUES({v}, {c})")
                self.miss_if(f"{v} is None", indent + 4)
                self.unpack(ws, v, indent + 4)
            for w, n in zip(ws, names):
                self.value(w, a[n], indent)
        else:  # list or tuple
            self.miss_if(f"type({v}) is not {t.__name__} or len({v}) != {len(a)}", indent)
            ws = [self.var() for _ in a]
            self.unpack(ws, v, indent)
            for w, x in zip(ws, a):
                self.value(w, x, indent)


def _sorted_values(d, names):
    """The values of dict ``d`` under ``names`` (its keys, as ``len(d)`` says), or None
    where one is missing."""
    try:
        return [d[n] for n in names]
    except KeyError:
        return None


def _same_aval(x, avals, j):
    """Whether Array ``x`` has the aval ``avals[j]`` though not that object (an equal one
    made elsewhere): then its object is kept, so the next such call is an identity check."""
    if x.aval != avals[j]:
        return False
    avals[j] = x.aval
    return True


def _refresh(scalars, j, x, t, device):
    """A scalar at dynamic leaf ``j`` other than the last one there: its buffer, kept as
    the last one (None where it is of another type or out of range: not this record's)."""
    if type(x) is not t:
        return None
    try:
        buf = dispatch.device_put_value(x, device)._buf
    except OverflowError:
        return None
    scalars[j] = last = (x, buf)
    return last


def _tree_expr(node, leaves):
    """Python source building a result tree of lists, tuples, dicts and None around the
    names in ``leaves``; None where the tree has another node type (built by BUILD)."""
    t, aux, kids = node
    if t is type(None):
        return "None"
    if t not in CONTAINERS:
        return None
    parts = []
    for k in kids:
        part = next(leaves) if k is None else _tree_expr(k, leaves)
        if part is None:
            return None
        parts.append(part)
    if t is list:
        return "[" + ", ".join(parts) + "]"
    if t is tuple:
        return "(" + "".join(p + ", " for p in parts) + ")"
    if any(type(n) is not str for n in aux):
        return None
    return "{" + ", ".join(f"{n!r}: {p}" for n, p in zip(aux, parts)) + "}"


def make_matcher(ic, args, kwargs, statics, commit_out):
    """The matcher of record ``ic`` for calls shaped like ``(args, kwargs)``: it runs such
    a call and returns its result, or returns MISS (nothing run) where the call differs
    in structure, aval, device, static value or scalar type, or an Array is deleted."""
    e = ic.entry
    src = _Source()
    body = src.lines
    body.append(f"if len(args) != {len(args)}" + (" or kwargs:" if not kwargs else ":"))
    body.append("    return MISS")
    pos = [src.var() for _ in args]
    src.unpack(pos, "args", 0)
    values = list(zip(range(len(args)), pos, args))
    if kwargs:
        names = sorted(kwargs)
        src.miss_if(f"len(kwargs) != {len(names)}", 0)
        for n in names:
            w = src.var()
            body.append(f"{w} = kwargs.get({n!r}, MISS)")
            src.miss_if(f"{w} is MISS", 0)
            values.append((n, w, kwargs[n]))
    for k, v, a in values:
        if k in statics:
            src.static(v, a, 0)
        else:
            src.value(v, a, 0)
    body.append("committed = " + " or ".join(["COMMIT", *[f"{v}._committed" for v in src.arrays]]))
    body.append("ENTRY.hits += 1")
    bufs = "[" + ", ".join(src.leaves) + "]"
    body.append("try:")
    body.append(
        f"    outs = EXEC({'CONSTS + ' if e.const_args else ''}{bufs})"
        ".consume_with_handlers(HANDLERS)"
    )
    body.append("except Exception:")
    body.append(f"    ENTRY.compiled._check_deleted([{', '.join(src.dyn)}])")
    body.append("    raise")
    # the results: Array(outs[i], ...) without an __init__ frame, in their tree
    outs = [f"o{i}" for i in range(len(e.out_avals))]
    src.unpack([f"b{i}" for i in range(len(outs))], "outs", 0)
    for i, o in enumerate(outs):
        body.append(f"{o} = NEW(Array)")
        body.append(f"{o}._buf, {o}.aval, {o}._device = b{i}, {src.const(e.out_avals[i])}, DEV")
        body.append(f"{o}._committed, {o}._npy = committed, None")
    tree = _tree_expr(e.out_tree._node, iter(outs)) if e.out_tree._node is not None else outs[0]
    body.append(f"return {tree or 'BUILD([' + ', '.join(outs) + '])'}")
    params = ["ENTRY", "EXEC", "HANDLERS", "CONSTS", "DEV", "COMMIT", "BUILD", "SC", "AV"]
    params += [f"C{i}" for i in range(len(src.consts))]
    text = (
        f"def factory({', '.join(params)}):\n    def call(args, kwargs):\n"
        + "".join(f"        {line}\n" for line in body)
        + "    return call\n"
    )
    factory = _factories.get(text)
    if factory is None:
        if len(_factories) >= 4096:  # structures seen once, long ago: compiled again if seen
            _factories.clear()
        scope = {
            "Array": Array,
            "MISS": MISS,
            "NEW": object.__new__,
            "REFRESH": _refresh,
            "SAME": _same_aval,
            "SORTED_VALUES": _sorted_values,
        }
        exec(compile(text, f"<jit matcher {len(_factories)}>", "exec"), scope)
        factory = _factories[text] = scope["factory"]
    return factory(
        e,
        e.execute,
        e.handlers,
        e.const_args,
        ic.device,
        commit_out,
        e.build_out,
        ic.scalars,
        src.avals,
        *src.consts,
    )
