"""``jax_debug_key_reuse``: an error when a typed PRNG key (``random.key``) is used twice.

Off by default, and then free: the random functions read one folded flag and ``jit``'s
fast path reads the flag list it already reads. Turned on (``config.update``, the
:func:`debug_key_reuse` context manager, or ``JAX_DEBUG_KEY_REUSE=1``), it tracks a
*consumed* state per key array (legacy ``uint32`` keys from ``PRNGKey`` are not
checked, as in JAX):

* A key's state lives beside its uint32 data: for concrete data the ``Array`` object,
  while tracing a jaxpr the ``Var`` its tracer stands for (batching and JVP tracers are
  unwrapped to the value they carry). A state is a bool mask over the key shape, so
  ``keys[0]`` consumes only row 0 of ``keys``. Forwarded keys share one state object.
* ``random`` functions consume their key (``split`` too; ``fold_in`` and ``key_data``
  do not); ``clone`` and ``wrap_key_data`` make fresh keys; indexing consumes the rows
  it reads and returns a fresh key.
* Jaxprs need no analysis pass: what a traced function consumed is already recorded on
  its input ``Var``s. When a ``jit``/``scan``/``cond``/``while`` equation is bound (or a
  ``jit`` runs eagerly), the rules below read its sub-jaxprs' input states and consume
  the outer operands, raising JAX's ``KeyReuseError`` messages.
"""

from __future__ import annotations

import contextlib
import os
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


# Concrete data: id -> (weakref, state); traced data: Var -> state (Vars have no weakrefs;
# the table is emptied when checking is turned off).
_concrete: dict[int, tuple[weakref.ref, _State]] = {}
_vars: dict[core.Var, _State] = {}


def _forget(ref: weakref.ref, ident: int) -> None:
    entry = _concrete.get(ident)
    if entry is not None and entry[0] is ref:
        del _concrete[ident]


def _slot(data: Any) -> tuple[Any, bool]:
    """(what the state hangs on, whether it is traced) for key data (or tracer) ``data``."""
    from .interpreters.batching import BatchTracer
    from .interpreters.jvp import JVPTracer
    from .interpreters.tracing import JaxprTrace, JaxprTracer

    cur = core._ctx.trace
    if isinstance(cur, JaxprTrace) and not (isinstance(data, JaxprTracer) and data._trace is cur):
        # a key from outside this jaxpr (closed over): its constant Var inside it
        atom = cur.to_atom(data)
        if isinstance(atom, core.Var):
            return atom, True
    while True:
        if isinstance(data, BatchTracer):
            data = data.val
        elif isinstance(data, JVPTracer):
            data = data.primal
        else:
            break
    if isinstance(data, JaxprTracer):
        return data.var, True
    if isinstance(data, core.Tracer):  # another trace (partial eval): not tracked
        return None, True
    return data, False


def state_of(data: Any, create: bool = True) -> tuple[_State | None, bool]:
    slot, traced = _slot(data)
    if slot is None:
        return None, traced
    if traced:
        st = _vars.get(slot)
        if st is None and create:
            st = _vars[slot] = _State()
        return st, traced
    entry = _concrete.get(id(slot))
    if entry is not None and entry[0]() is slot:
        return entry[1], False
    if not create:
        return None, False
    st = _State()
    try:
        ref = weakref.ref(slot, lambda r, i=id(slot): _forget(r, i))
    except TypeError:  # a NumPy array or scalar: nothing to hang a state on
        return None, False
    _concrete[id(slot)] = (ref, st)
    return st, False


def _share(data: Any, st: _State | None) -> None:
    """Make ``data``'s key state ``st`` (a forwarded key)."""
    if st is None:
        return
    slot, traced = _slot(data)
    if slot is None:
        return
    if traced:
        _vars[slot] = st
    else:
        try:
            ref = weakref.ref(slot, lambda r, i=id(slot): _forget(r, i))
        except TypeError:
            return
        _concrete[id(slot)] = (ref, st)


def _reuse_error(name: str, index: int, traced: bool) -> KeyReuseError:
    if traced:
        return KeyReuseError(f"In {name}, argument {index} is already consumed.")
    shown = "jit-compiled function" if name == "jit" else name
    return KeyReuseError(f"Previously-consumed key passed to {shown} at index {index}")


def _sink(data: Any, name: str, index: int, where: Any = True) -> None:
    st, traced = state_of(data)
    if st is None:
        return
    if st.any(where):
        raise _reuse_error(name, index, traced)
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
    mask[idx[: len(key_shape)] if Ellipsis not in idx else idx[:-1]] = True
    _sink(parent_data, "slice", 0, mask)


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
    sinks = {i: st.mask for i, st in enumerate(states) if st is not None and np.any(st.mask)}
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


def _apply(name: str, args: tuple, outs: Any, sinks: dict, forwards: dict) -> None:
    for i, mask in sorted(sinks.items()):
        _sink(args[i], name, i, mask)
    if not forwards:
        return
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    for o, i in forwards.items():
        st, _ = state_of(args[i], create=False)
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


_RULES = {
    "jit": _jit_rule,
    "cond": _cond_rule,
    "scan": _scan_rule,
    "while": _while_rule,
    "remat2": _remat_rule,
}


def _checked_bind(prim: core.Primitive, args: tuple, params: dict) -> Any:
    sinks, forwards = _RULES[prim.name](args, params)
    # an already-consumed operand raises before the primitive runs
    for i, mask in sinks.items():
        st, traced = state_of(args[i], create=False)
        if st is not None and st.any(mask):
            raise _reuse_error(prim.name, i, traced)
    outs = core.Primitive.bind(prim, *args, **params)
    _apply(prim.name, args, outs, sinks, forwards)
    return outs


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
    from .jit import jit_p
    from .lax.control_flow.cond_switch import cond_p
    from .lax.control_flow.scan_map import scan_p
    from .lax.control_flow.while_fori import while_p

    return [jit_p, cond_p, scan_p, while_p, remat_p]


def _on_config(name: str | None = None, value: Any = None) -> None:
    if name not in (None, "jax_debug_key_reuse"):
        return
    on = bool(config.jax_debug_key_reuse)
    if on == checking[0]:
        return
    checking[0] = on
    for prim in _primitives():
        if on:
            prim.bind = lambda *a, _p=prim, **kw: _checked_bind(_p, a, kw)
        else:
            prim.__dict__.pop("bind", None)
    if not on:
        _vars.clear()


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
