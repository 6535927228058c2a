"""Transposing a linear program that uses refs (a linearized function's tangent refs),
as JAX's ``backward_pass``: each linear value has an accumulator; a ref's accumulator
is itself a ref, made when the first cotangent reaches it (``new_ref ct``), and the
ref operations transpose into ref operations (a read into an accumulation, a write
into a swap that hands back the written value's cotangent), so the transposed jaxpr
reads as JAX's. Programs whose refs reach other higher-order operations are
transposed in discharged form instead (``discharge.transpose_hook``)."""

from __future__ import annotations

from typing import Any

from .. import core
from ..ad_util import Zero, add_tangents, instantiate, zeros_like_aval
from ..core import Literal
from .primitives import (
    addupdate_p,
    empty_ref_p,
    free_ref_p,
    freeze_p,
    get_p,
    new_ref_p,
    swap_p,
)
from .types import AbstractRef

_MAKERS = (new_ref_p, empty_ref_p)
_OWN = frozenset({new_ref_p, empty_ref_p, freeze_p, get_p, swap_p, addupdate_p, free_ref_p})


class _ValAccum:
    __slots__ = ("aval", "val")

    def __init__(self, aval, val=None):
        self.aval = aval
        self.val = Zero(aval) if val is None else val

    def accum(self, x):
        if x is not None:
            self.val = add_tangents(self.val, x)

    def freeze(self):
        return self.val


class _RefAccum:
    __slots__ = ("aval", "ref")

    def __init__(self, aval):
        self.aval = aval  # the cotangent type of the ref's value
        self.ref = None

    def accum(self, x):
        if x is None or type(x) is Zero:
            return
        if self.ref is None:
            self.ref = new_ref_p.bind(x, memory_space=None, kind=None)
        else:
            addupdate_p.bind(self.ref, x, tree=None)

    def freeze(self):
        return Zero(self.aval) if self.ref is None else freeze_p.bind(self.ref)

    def inst(self):
        if self.ref is None:
            self.ref = new_ref_p.bind(zeros_like_aval(self.aval), memory_space=None, kind=None)
        return self


_ACCUMS = (_ValAccum, _RefAccum)


def handles(jaxpr: core.Jaxpr) -> bool:
    """Whether refs in ``jaxpr`` meet only the ref operations (no loop or call)."""
    refs = {v for v in jaxpr.invars if type(v.aval) is AbstractRef}
    for eqn in jaxpr.eqns:
        if eqn.primitive not in _OWN and any(
            type(v) is not Literal and (v in refs or type(v.aval) is AbstractRef)
            for v in eqn.invars
        ):
            return False
        refs.update(v for v in eqn.outvars if type(v.aval) is AbstractRef)
    return not any(type(v.aval) is AbstractRef for v in jaxpr.invars)


def _linear_vars(jaxpr, linear_in):
    """The variables that carry tangents: a ref is linear once a linear value is put in
    it (a recomputed primal ref, as under remat, is not), and so is what is read from
    it; other outputs are linear when an input is (a fixed point: writes come later)."""
    lin = set(linear_in)
    changed = True
    while changed:
        changed = False
        for eqn in jaxpr.eqns:
            ins = [v for v in eqn.invars if type(v) is not Literal]
            p = eqn.primitive
            if p in (swap_p, addupdate_p):
                ref, val = eqn.invars[0], eqn.invars[1]
                new = [ref] if type(val) is not Literal and val in lin else []
                if ref in lin or new:
                    new += eqn.outvars
            elif p is get_p or p is freeze_p:
                new = list(eqn.outvars) if eqn.invars[0] in lin else []
            else:
                new = list(eqn.outvars) if any(v in lin for v in ins) else []
            for v in new:
                if v not in lin:
                    lin.add(v)
                    changed = True
    return lin


def backward_pass(jaxpr, consts, linear_args, cotangents_out, initial_cts=None):
    from ..interpreters.transpose import UndefinedPrimal, is_undefined_primal

    env: dict[Any, Any] = dict(zip(jaxpr.constvars, consts))
    for i, (v, x) in enumerate(zip(jaxpr.invars, linear_args)):
        if is_undefined_primal(x):
            seed = None if initial_cts is None else initial_cts[i]
            env[v] = _ValAccum(x.aval, seed)
        else:
            env[v] = x

    def read(v):
        return v.val if type(v) is Literal else env[v]

    linear = _linear_vars(
        jaxpr, [v for v, x in zip(jaxpr.invars, linear_args) if is_undefined_primal(x)]
    )
    lin = []
    for eqn in jaxpr.eqns:
        if not any(v in linear for v in eqn.outvars) and not any(
            isinstance(read(v), _ACCUMS) for v in eqn.invars
        ):
            with core.source_info_context(eqn.source_info):
                outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
            env.update(zip(eqn.outvars, outs))
        elif eqn.primitive in _MAKERS:
            env[eqn.outvars[0]] = _RefAccum(eqn.outvars[0].aval.inner_aval)
            lin.append(eqn)
        elif eqn.primitive is freeze_p and isinstance(read(eqn.invars[0]), _ACCUMS):
            env[eqn.outvars[0]] = _ValAccum(eqn.outvars[0].aval)
            lin.append(eqn)
        elif any(isinstance(read(v), _ACCUMS) for v in eqn.invars):
            for v in eqn.outvars:
                env[v] = _ValAccum(v.aval)
            lin.append(eqn)
        else:
            with core.source_info_context(eqn.source_info):
                outs = eqn.primitive.bind(*map(read, eqn.invars), **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
            env.update(zip(eqn.outvars, outs))

    for v, ct in zip(jaxpr.outvars, cotangents_out):
        acc = read(v)
        if isinstance(acc, _ACCUMS):
            acc.accum(ct)

    for eqn in reversed(lin):
        prim = eqn.primitive
        with core.source_info_context(eqn.source_info):
            if prim in _MAKERS:
                ct = env.pop(eqn.outvars[0]).freeze()
                if prim is new_ref_p:
                    acc = read(eqn.invars[0])
                    if isinstance(acc, _ACCUMS):
                        acc.accum(ct)
            elif prim is freeze_p:
                ct = env.pop(eqn.outvars[0]).freeze()
                acc = read(eqn.invars[0])
                if isinstance(acc, _RefAccum):
                    acc.accum(ct)
            elif prim is get_p:
                _get_transpose(
                    env.pop(eqn.outvars[0]).freeze(), *map(read, eqn.invars), **eqn.params
                )
            elif prim is swap_p:
                _swap_transpose(
                    env.pop(eqn.outvars[0]).freeze(), *map(read, eqn.invars), **eqn.params
                )
            elif prim is addupdate_p:
                _addupdate_transpose(*map(read, eqn.invars), **eqn.params)
            elif prim is free_ref_p:
                pass
            else:
                cts = [env.pop(v).freeze() for v in eqn.outvars]
                if all(type(c) is Zero for c in cts):
                    continue
                ins = [read(v) for v in eqn.invars]
                args = [UndefinedPrimal(x.aval) if isinstance(x, _ACCUMS) else x for x in ins]
                if prim.transpose is None:
                    raise NotImplementedError(
                        f"Transpose rule (for reverse-mode differentiation) for "
                        f"'{prim.name}' not implemented"
                    )
                outs = prim.transpose(cts if prim.multiple_results else cts[0], *args, **eqn.params)
                for x, ct in zip(ins, outs):
                    if isinstance(x, _ACCUMS):
                        x.accum(ct)

    return [
        env[v].freeze() if is_undefined_primal(x) else None
        for v, x in zip(jaxpr.invars, linear_args)
    ]


def _get_transpose(g, ref_, *idx, tree):
    if not isinstance(ref_, _RefAccum):
        return
    if tree is not None and type(g) is not Zero:
        addupdate_p.bind(ref_.inst().ref, g, *idx, tree=tree)
    else:
        ref_.accum(g)


def _swap_transpose(g, ref_, x, *idx, tree):
    if not isinstance(ref_, _RefAccum):
        return
    if ref_.ref is None and type(g) is Zero:
        return
    read_later = ref_.ref is not None  # (else the value written is never read)
    out = swap_p.bind(ref_.inst().ref, instantiate(g), *idx, tree=tree)
    if read_later and isinstance(x, _ACCUMS):
        x.accum(out)


def _addupdate_transpose(ref_, x, *idx, tree):
    if isinstance(ref_, _RefAccum) and ref_.ref is not None and isinstance(x, _ACCUMS):
        x.accum(get_p.bind(ref_.ref, *idx, tree=tree))
