"""``jax_debug_key_reuse``: an error when a typed PRNG key (``random.key``) is used twice.

Off by default, and then free: the random functions read one folded flag and ``jit``'s
fast path reads the flag list it already reads. Turned on (``config.update``, the
:func:`debug_key_reuse` context manager, or ``JAX_DEBUG_KEY_REUSE=1``), it tracks a
*consumed* state per key array (legacy ``uint32`` keys from ``PRNGKey`` are not
checked, as in JAX):

* A key's state lives beside its uint32 data: for concrete data the ``Array`` object,
  while tracing a jaxpr the ``Var`` its tracer stands for (batching and JVP tracers are
  unwrapped to the value they carry). A state is a bool mask over the key shape, so
  ``keys[0]`` consumes only row 0 of ``keys``. In a jaxpr forwarded keys share one
  state object; run eagerly, a forwarded key starts from a copy (as JAX's key arrays).
* ``random`` functions consume their key (``split`` too; ``fold_in`` and ``key_data``
  do not); ``clone`` and ``wrap_key_data`` make fresh keys; indexing consumes the rows
  it reads and returns a fresh key (indexing every key, a squeeze in JAX, forwards).
* Jaxprs need no analysis pass: what a traced function consumed is already recorded on
  its input ``Var``s. When a ``jit``/``scan``/``cond``/``while``/``shard_map`` equation
  is bound (or a ``jit`` runs eagerly; ``pmap`` is a jit of a shard_map), the rules
  below read its sub-jaxprs' input states and consume the outer operands, raising JAX's
  ``KeyReuseError`` messages.
* Two bodies JAX treats apart: a custom_jvp/custom_vjp function traced for its
  primitive is not looked into (the call consumes every key operand), and an eagerly run
  shard_map body works on copies of its operands' states (what it consumes stays in it).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import core
from .config import config
from .errors import KeyReuseError

config.define(
    "jax_debug_key_reuse",
    os.environ.get("JAX_DEBUG_KEY_REUSE", "0").lower() in ("1", "true"),
    affects_program=True,
)

# The folded flag random.py reads (one list read when off).
checking = [False]


class _State:
    """Which keys of one key array are consumed (a bool, or a bool mask over its shape)."""

    __slots__ = ("mask",)

    def __init__(self, mask: Any = False) -> None:
        self.mask = mask

    def any(self, where: Any = True) -> bool:
        return bool(np.any(np.logical_and(self.mask, where)))

    def add(self, where: Any = True) -> None:
        self.mask = np.logical_or(self.mask, where)


def _over(mask: Any, shape: tuple) -> Any:
    """A sink mask over the keys of ``shape``: a mask over one shard_map block holds on
    every block (tiled); one that does not fit consumes every key."""
    mask = np.asarray(mask)
    if mask.ndim == 0 or mask.shape == shape:
        return mask
    if mask.ndim == len(shape) and all(b and n % b == 0 for b, n in zip(mask.shape, shape)):
        return np.tile(mask, [n // b for b, n in zip(mask.shape, shape)])
    return np.any(mask)


# Concrete data: id -> (weakref, state); traced data: Var -> state (Vars have no weakrefs;
# the table is emptied when checking is turned off).
_concrete: dict[int, tuple[weakref.ref, _State]] = {}
_vars: dict[core.Var, _State] = {}
# an eagerly run shard_map body's trace -> id -> (its value, state), while it runs
_blocks: dict[Any, dict[int, tuple[Any, _State]]] = {}
# custom_jvp/custom_vjp bodies being traced -> the key data they were seen using (by id)
_custom_bodies: weakref.WeakKeyDictionary[Any, dict] = weakref.WeakKeyDictionary()
# a staged custom function's call_jaxpr -> (its key operands, its key outputs); None for
# one called eagerly (under vmap or grad), whose body is checked like a jit's
_custom_keys: weakref.WeakKeyDictionary[Any, tuple | None] = weakref.WeakKeyDictionary()
# the traces of custom function bodies called eagerly: errors in them read as eager ones
_eager_custom_bodies: weakref.WeakSet[Any] = weakref.WeakSet()


def _forget(ref: weakref.ref, ident: int) -> None:
    entry = _concrete.get(ident)
    if entry is not None and entry[0] is ref:
        del _concrete[ident]


def _slot(data: Any) -> tuple[Any, str]:
    """(what key data ``data``'s state hangs on, how): "var", a jaxpr's Var (traced);
    "array", concrete data; "block", a value of an eagerly run shard_map body; "copy", a
    concrete key read inside such a body (checked, never marked: JAX lifts a fresh copy
    of it at each use). (None, ...) when it is not tracked."""
    from .interpreters.batching import BatchTracer
    from .interpreters.jvp import JVPTracer
    from .interpreters.tracing import JaxprTrace, JaxprTracer
    from .shard_map_eager import ShardMapTracer

    cur = core._ctx.trace
    if cur in _custom_bodies:
        # JAX never analyzes a custom_jvp/custom_vjp body traced for its primitive (its
        # call consumes the key operands whole): note the keys it uses, track nothing
        _custom_bodies[cur][id(data)] = data
        return None, "var"
    if isinstance(cur, JaxprTrace) and not (isinstance(data, JaxprTracer) and data._trace is cur):
        # a key from outside this jaxpr (closed over): its constant Var inside it
        atom = cur.to_atom(data)
        if isinstance(atom, core.Var):
            return atom, "var"
    while True:
        if isinstance(data, BatchTracer):
            data = data.val
        elif isinstance(data, JVPTracer):
            data = data.primal
        else:
            break
    if isinstance(data, JaxprTracer):
        return data.var, "var"
    if isinstance(data, ShardMapTracer):
        return (data, "block") if _blocks.get(data._trace) is not None else (None, "block")
    if isinstance(data, core.Tracer):  # another trace (partial eval): not tracked
        return None, "var"
    return data, "copy" if _in_eager_shard_map(cur) else "array"


def _in_eager_shard_map(cur: Any) -> bool:
    """Whether an eagerly run shard_map body is under trace ``cur`` (a jit traced in one
    is a fresh trace with no parent: checked as any jaxpr)."""
    while cur is not None:
        if cur.interpreter == "shard_map":
            return True
        cur = cur.parent
    return False


def state_of(data: Any, create: bool = True) -> tuple[_State | None, bool]:
    """(``data``'s key state, whether it is traced)."""
    slot, how = _slot(data)
    if slot is None:
        return None, how == "var"
    if how == "var":
        st = _vars.get(slot)
        if st is None and create:
            st = _vars[slot] = _State()
        return st, True
    if how == "block":
        table = _blocks[slot._trace]
        entry = table.get(id(slot))
        if entry is not None:
            return entry[1], False
        if not create:
            return None, False
        st = _State()
        table[id(slot)] = (slot, st)
        return st, False
    entry = _concrete.get(id(slot))
    found = entry[1] if entry is not None and entry[0]() is slot else None
    if how == "copy":
        return _State(False if found is None else found.mask), False
    if found is not None or not create:
        return found, False
    st = _State()
    return (st if _hang(slot, st) else None), False


def _hang(slot: Any, st: _State) -> bool:
    """Hang ``st`` on concrete data ``slot`` (dropped with it); False when ``slot`` takes
    no weak reference (a NumPy array or scalar: nothing to hang a state on)."""
    ident = id(slot)
    try:
        ref = weakref.ref(slot, lambda r: _forget(r, ident))
    except TypeError:
        return False
    _concrete[ident] = (ref, st)
    return True


def _share(data: Any, st: _State | None) -> None:
    """``data`` is the key ``st`` is the state of (forwarded): in a jaxpr the same key (JAX
    resolves a forward to its source); run eagerly, a key starting from ``st`` as it is
    now (JAX copies the consumed flag to the new key array)."""
    if st is None:
        return
    slot, how = _slot(data)
    if slot is None or how == "copy":
        return
    if how == "var":
        _vars[slot] = st
    elif how == "block":
        _blocks[slot._trace][id(slot)] = (slot, _State(st.mask))
    else:
        _hang(slot, _State(st.mask))


def _reuse_error(name: str, index: int, traced: bool) -> KeyReuseError:
    if traced:
        return KeyReuseError(f"In {name}, argument {index} is already consumed.")
    shown = "jit-compiled function" if name == "jit" else name
    return KeyReuseError(f"Previously-consumed key passed to {shown} at index {index}")


def _sink(data: Any, name: str, index: int, where: Any = True) -> None:
    st, traced = state_of(data)
    if st is None:
        return
    where = _over(where, _key_shape(data))
    if st.any(where):
        # a custom function's body run for an eager call: JAX runs it op by op
        raise _reuse_error(name, index, traced and core._ctx.trace not in _eager_custom_bodies)
    st.add(where)


# ---------------------------------------------------------------------------- random functions


def consume(key_data: Any, name: str = "jit") -> None:
    """A random function uses the key with data ``key_data``. ``name`` is what JAX's
    error calls it: a ``jit`` (JAX's random functions are jitted) or ``random_split``."""
    _sink(key_data, name, 0)


def index_key(parent_data: Any, out_data: Any, idx: tuple, key_shape: tuple) -> None:
    """``keys[idx]`` with static indices (JAX's ``slice``) consumes the rows it reads and
    gives a fresh key; traced or array indices (``dynamic_slice``/``gather``) forward
    ``keys`` itself, as in JAX."""
    if not all(_is_static_index(i) for i in idx):
        forward(out_data, parent_data)
        return
    mask = np.zeros(key_shape, dtype=bool)
    mask[idx] = True
    if mask.all():  # no slice in JAX's program (keys[0] of one key is a squeeze)
        forward(out_data, parent_data)
        return
    _sink(parent_data, "slice", 0, mask)


def _key_shape(data: Any) -> tuple:
    return tuple(core.get_aval(data).shape)


def _is_static_index(i: Any) -> bool:
    if i is None or i is Ellipsis or isinstance(i, (int, np.integer)):
        return True
    if isinstance(i, slice):
        return all(v is None or isinstance(v, (int, np.integer)) for v in (i.start, i.stop, i.step))
    return False


def forward(out_data: Any, in_data: Any) -> None:
    """``out_data`` is the same keys as ``in_data`` (reshape): one shared state."""
    st, _ = state_of(in_data)
    _share(out_data, st)


def fresh_copy(data: Any) -> Any:
    """Key data equal to ``data`` but with its own (unconsumed) state."""
    from .lax.structural import copy_p

    return copy_p.bind(data)


# ---------------------------------------------------------------------------- sub-jaxprs


def _jaxpr_of(j: Any) -> core.Jaxpr:
    return j.jaxpr if isinstance(j, core.ClosedJaxpr) else j


def _signature(jaxpr: core.Jaxpr) -> tuple[dict[int, Any], dict[int, int], set[int]]:
    """(consumed inputs -> mask, output -> input it forwards, fresh outputs) of a traced
    jaxpr, inputs numbered over invars then constvars (as JAX numbers them)."""
    inputs = [*jaxpr.invars, *jaxpr.constvars]
    states = [_vars.get(v) for v in inputs]
    viewed = _consumed_through_views(jaxpr)
    sinks = {}
    for i, (var, st) in enumerate(zip(inputs, states)):
        mask = np.logical_or(False if st is None else st.mask, viewed.get(var, False))
        if np.any(mask):
            sinks[i] = mask
    by_state = {id(st): i for i, st in enumerate(states) if st is not None}
    by_var = {v: i for i, v in enumerate(inputs)}
    forwards, sources = {}, set()
    for o, v in enumerate(jaxpr.outvars):
        if not isinstance(v, core.Var):
            continue
        if v in by_var:
            forwards[o] = by_var[v]
            continue
        st = _vars.get(v)
        if st is not None and id(st) in by_state:
            forwards[o] = by_state[id(st)]
        elif st is None or not np.any(st.mask):
            sources.add(o)
    return sinks, forwards, sources


# the engine's own views of key data (pmap gives each member its keys squeezed): what
# consumes the view consumes the key, as a squeeze or reshape forwards a key in JAX
_VIEWS = ("squeeze", "reshape")


def _consumed_through_views(jaxpr: core.Jaxpr) -> dict[core.Var, Any]:
    """Var -> mask consumed through a squeeze/reshape of it, over the var's key shape."""
    consumed: dict[core.Var, Any] = {}
    for eqn in reversed(jaxpr.eqns):
        src = eqn.invars[0] if eqn.invars else None
        if eqn.primitive.name not in _VIEWS or not isinstance(src, core.Var):
            continue
        out = eqn.outvars[0]
        st = _vars.get(out)
        mask = np.logical_or(False if st is None else st.mask, consumed.get(out, False))
        if not np.any(mask):
            continue
        shape = tuple(src.aval.shape)
        mask = np.reshape(mask, shape) if np.size(mask) == math.prod(shape) else np.any(mask)
        consumed[src] = np.logical_or(consumed.get(src, False), mask)
    return consumed


def _apply(name: str, args: tuple, outs: Any, sinks: dict, forwards: dict) -> None:
    for i, mask in sorted(sinks.items()):
        _sink(args[i], name, i, mask)
    if not forwards:
        return
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    for o, i in forwards.items():
        # in a jaxpr a forwarded key is the same key (JAX resolves forwards to their
        # source); an eager call's output starts with the input's state as it is now
        traced = _slot(args[i])[1] == "var"
        st, _ = state_of(args[i], create=traced)
        _share(outs[o], st)


def _jit_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    sinks, forwards, _ = _signature(_jaxpr_of(params["jaxpr"]))
    return sinks, forwards


def _remat_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    # the differentiated pass consumes only what the forward pass already did (as JAX)
    return ({}, {}) if params.get("differentiated") else _jit_rule(args, params)


def _cond_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    sigs = [_signature(_jaxpr_of(b)) for b in params["branches"]]
    sinks: dict[int, Any] = {}
    for s, _, _ in sigs:
        for i, m in s.items():
            sinks[i + 1] = np.logical_or(sinks.get(i + 1, False), m)
    common = set.intersection(*(set(f.items()) for _, f, _ in sigs)) if sigs else set()
    return sinks, {o: i + 1 for o, i in common}


def _scan_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    nconsts, ncarry = params["num_consts"], params["num_carry"]
    sinks, forwards, sources = _signature(_jaxpr_of(params["jaxpr"]))
    why = "scan body function leads to key reuse when repeatedly executed, because "
    # a carry the body returns unchanged is loop-invariant: JAX hoists it into the constants
    invariant = {o + nconsts for o, i in forwards.items() if o < ncarry and i == o + nconsts}
    if any(i < nconsts or i in invariant for i in sinks):
        raise KeyReuseError(why + "key constants are repeatedly consumed.")
    carry_sinks = {i - nconsts for i in sinks if nconsts <= i < nconsts + ncarry}
    if not carry_sinks <= {o for o in sources if o < ncarry}:
        raise KeyReuseError(why + "consumed inputs don't match sourced outputs.")
    return sinks, forwards


def _while_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    cn, bn = params["cond_nconsts"], params["body_nconsts"]
    c_sinks, _, _ = _signature(_jaxpr_of(params["cond_jaxpr"]))
    b_sinks, b_forwards, b_sources = _signature(_jaxpr_of(params["body_jaxpr"]))
    repeat = " function leads to key reuse when repeatedly executed."
    if any(i < cn for i in c_sinks):
        raise KeyReuseError("while_loop cond" + repeat)
    if any(i < bn for i in b_sinks):
        raise KeyReuseError("while_loop body" + repeat)
    c_carry = {i - cn for i in c_sinks}
    b_carry = {i - bn for i in b_sinks}
    if not c_carry <= b_sources:
        raise KeyReuseError("while_loop cond" + repeat)
    if not b_carry <= b_sources:
        raise KeyReuseError("while_loop body" + repeat)
    if c_carry & b_carry:
        raise KeyReuseError("while_loop cond and body functions both use the same key.")
    # operands are (cond consts, body consts, carry); the body numbers (body consts, carry)
    return {i - bn + cn + bn: m for i, m in b_sinks.items()}, {
        o: i - bn + cn + bn for o, i in b_forwards.items() if i >= bn
    }


def _custom_call_rule(args: tuple, params: dict) -> tuple[dict, dict]:
    keys = _custom_keys.get(params["call_jaxpr"], ((), ()))
    if keys is None:  # called eagerly: JAX runs the body, consuming what it consumes
        return _jit_rule(args, {"jaxpr": params["call_jaxpr"]})
    # staged, JAX has no rule for these: its default consumes every key operand, whatever
    # the function does with it, and forwards none
    return {i: True for i in keys[0]}, {}


def _consume_custom_key_outputs(params: dict, outs: Any) -> None:
    # ... and a staged call's key results come out consumed (JAX's default rule)
    keys = _custom_keys.get(params["call_jaxpr"])
    for o in keys[1] if keys else ():
        st, traced = state_of(outs[o])
        if st is not None and traced:
            st.add(True)


_RULES = {
    "jit": _jit_rule,
    "shard_map": _jit_rule,  # pmap is a jit of a shard_map: both rules apply
    "cond": _cond_rule,
    "scan": _scan_rule,
    "while": _while_rule,
    "remat2": _remat_rule,
    "custom_jvp_call": _custom_call_rule,
    "custom_vjp_call": _custom_call_rule,
}


def _run_shard_map_eagerly(original: Any, f: Any, mesh: Any, *rest: Any) -> Any:
    """shard_map_eager.run_eagerly: the body's operands start as copies of the keys
    passed in (JAX's eager shard_map gives the body new key arrays with the same consumed
    flags); what the body consumes stays inside it."""
    from .tree_util import tree_leaves

    all_flat = rest[2]
    initial = [state_of(x, create=False)[0] for x in all_flat]  # (read outside the body)

    def body(*args):
        trace = core._ctx.trace
        table = _blocks[trace] = {}
        for st, operand, leaf in zip(initial, all_flat, tree_leaves(args)):
            if st is not None and leaf is not operand:  # (not a closed-over value)
                table[id(leaf)] = (leaf, _State(np.any(st.mask)))
        try:
            return f(*args)
        finally:
            del _blocks[trace]

    return original(body, mesh, *rest)


def _trace_custom_body(original: Any, fun: Any, in_tree: Any, in_avals: Any, name: str) -> Any:
    """custom_rules_base._trace_flat for a custom_jvp/custom_vjp call. Staged into a
    jaxpr (the trace it is called at stands on a jaxpr trace), its body's key uses go
    unchecked and its call_jaxpr remembers which operands and results are keys; called
    eagerly (under vmap, say), its body is checked and its call consumes what it did."""
    from .interpreters.tracing import JaxprTrace
    from .random import PRNGKeyArray
    from .tree_util import tree_leaves

    root = core._ctx.trace
    while root.parent is not None:
        root = root.parent
    staged = isinstance(root, JaxprTrace)
    is_key = lambda x: isinstance(x, PRNGKeyArray)  # noqa: E731
    seen: dict[int, Any] = {}
    key_outs: list[int] = []

    def body(*args):
        if not staged:
            _eager_custom_bodies.add(core._ctx.trace)
            return fun(*args)
        _custom_bodies[core._ctx.trace] = seen
        seen.update((id(k), k) for k in tree_leaves(args, is_leaf=is_key) if is_key(k))
        out = fun(*args)
        key_outs.extend(i for i, x in enumerate(tree_leaves(out, is_leaf=is_key)) if is_key(x))
        return out

    call_jaxpr, consts, out_tree = original(body, in_tree, in_avals, name)
    if not staged:
        _custom_keys[call_jaxpr] = None
        return call_jaxpr, consts, out_tree
    inputs = call_jaxpr.jaxpr.invars  # the consts' variables, then the arguments'
    n_consts = len(consts)
    keys = []
    for i, v in enumerate(inputs):
        outer = consts[i] if i < n_consts else None
        if any(_is_atom_of(d, v, outer) for d in seen.values()):
            keys.append(i)
    _custom_keys[call_jaxpr] = (tuple(keys), tuple(key_outs))
    return call_jaxpr, consts, out_tree


def _is_atom_of(data: Any, var: core.Var, outer: Any) -> bool:
    """Whether key data ``data`` seen in a custom body is input ``var`` (an argument's
    tracer) or the closed-over value ``outer`` bound to it."""
    if outer is not None and data is outer:
        return True
    return getattr(data, "var", None) is var


def _checked_bind(prim: core.Primitive, args: tuple, params: dict) -> Any:
    # a trace that binds the same equation again on its parent (partial evaluation of a
    # custom function's call, say): one use of the keys, checked once
    call = (prim, *map(id, params.values()))
    binding = _binding.calls
    if call in binding:
        return core.Primitive.bind(prim, *args, **params)
    sinks, forwards = _RULES[prim.name](args, params)
    # an already-consumed operand raises before the primitive runs
    for i, mask in sinks.items():
        st, traced = state_of(args[i], create=False)
        if st is not None and st.any(mask):
            raise _reuse_error(prim.name, i, traced)
    binding.append(call)
    try:
        outs = core.Primitive.bind(prim, *args, **params)
    finally:
        binding.pop()
    _apply(prim.name, args, outs, sinks, forwards)
    if prim.name in ("custom_jvp_call", "custom_vjp_call"):
        _consume_custom_key_outputs(params, outs)
    return outs


class _Binding(threading.local):
    def __init__(self) -> None:
        self.calls: list[tuple] = []  # the calls this thread is binding, innermost last


_binding = _Binding()


def check_jit_call(closed: core.ClosedJaxpr, flat_args: list) -> dict:
    """Before an eager ``jit`` call runs: raise if it consumes an already-consumed key
    argument (or closed-over key). Returns what :func:`after_jit_call` needs."""
    sinks, forwards, _ = _signature(closed.jaxpr)
    values = [*flat_args, *closed.consts]
    for i, mask in sinks.items():
        st, _ = state_of(values[i], create=False)
        if st is not None and st.any(mask):
            raise _reuse_error("jit", i, False)
    return {"values": values, "sinks": sinks, "forwards": forwards}


def after_jit_call(pending: dict, flat_outs: list) -> None:
    _apply("jit", pending["values"], flat_outs, pending["sinks"], pending["forwards"])


# ---------------------------------------------------------------------------- the flag


def _primitives() -> list[core.Primitive]:
    from .ad_checkpoint import remat_p
    from .custom_derivatives import custom_jvp_call_p, custom_vjp_call_p
    from .jit import jit_p
    from .lax.control_flow.cond_switch import cond_p
    from .lax.control_flow.scan_map import scan_p
    from .lax.control_flow.while_fori import while_p
    from .shard_map import shard_map_p

    return [
        jit_p,
        cond_p,
        scan_p,
        while_p,
        remat_p,
        shard_map_p,
        custom_jvp_call_p,
        custom_vjp_call_p,
    ]


def _on_config(name: str | None = None, value: Any = None) -> None:
    if name not in (None, "jax_debug_key_reuse"):
        return
    on = bool(config.jax_debug_key_reuse)
    if on == checking[0]:
        return
    checking[0] = on
    for prim in _primitives():
        if on:
            prim.bind = lambda *a, _p=prim, **kw: _checked_bind(_p, a, kw)  # type: ignore[method-assign]
        else:
            prim.__dict__.pop("bind", None)
    from . import custom_rules_base, shard_map_eager

    if on:
        # the two calls whose bodies JAX checks differently from other code (above)
        trace_flat = custom_rules_base._trace_flat
        custom_rules_base._trace_flat = lambda *a: _trace_custom_body(trace_flat, *a)
        run_eagerly = shard_map_eager.run_eagerly
        shard_map_eager.run_eagerly = lambda *a: _run_shard_map_eagerly(run_eagerly, *a)
        _unpatch.append(lambda: setattr(custom_rules_base, "_trace_flat", trace_flat))
        _unpatch.append(lambda: setattr(shard_map_eager, "run_eagerly", run_eagerly))
    else:
        while _unpatch:
            _unpatch.pop()()
        _vars.clear()


_unpatch: list[Any] = []


config.on_change(_on_config)


@contextlib.contextmanager
def debug_key_reuse(value: bool = True) -> Iterator[None]:
    """``with debug_key_reuse():`` turns ``jax_debug_key_reuse`` on for the block."""
    old = config.jax_debug_key_reuse
    config.update("jax_debug_key_reuse", value)
    try:
        yield
    finally:
        config.update("jax_debug_key_reuse", old)
