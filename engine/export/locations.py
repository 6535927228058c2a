"""JAX's MLIR locations in an exported module: argument names (``loc("x")``), and each
op's ``loc("jit(f)/scope/prim"(callsite(...)))`` built from the user's frames.

JAX names an equation's ops after its name stack and primitive, around the call-site
chain of the user's frames (innermost first, at most a hundred, each ``qualname`` around a
``file:line:col to :endcol`` range): the frames inside the traced function, then those
of the code that called ``export``. Ops made outside any equation (literal constants,
closed-over constants, the ``return``) carry ``jit(f)`` around the caller's frames.

The engine records only the innermost user frame of an equation, so while ``export``
traces, ``TracebackRecorder`` listens for each equation emitted and keeps the frames
between it and ``export``'s caller."""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from types import FrameType
from typing import Any

import numpy as np
from jaxlib.mlir import ir

from .. import events, source_info, tree_util

FRAME_LIMIT = 100  # JAX's jax_traceback_in_locations_limit
_STDLIB = tuple(p for p in {sysconfig.get_path("stdlib"), os.path.dirname(os.__file__)} if p)

Frame = tuple  # (code, lasti)


def is_user_file(filename: str) -> bool:
    """Neither the engine's code (nor a layer registered as internal) nor Python's
    standard library: JAX's rule, with the engine in place of JAX's own folder (frozen
    modules such as ``<frozen runpy>`` count as the user's, as in JAX)."""
    prefixes = tuple(source_info._internal_prefixes)
    key = (filename, len(prefixes))
    r = _user_cache.get(key)
    if r is None:
        if len(_user_cache) > 4096:
            _user_cache.clear()
        r = _user_cache[key] = not filename.startswith(prefixes + _STDLIB)
    return r


_user_cache: dict[tuple, bool] = {}


def user_frames(frame: FrameType | None, stop: FrameType | None = None) -> list[Frame]:
    """(code, lasti) of each user frame from ``frame`` outwards, up to ``stop``."""
    out = []
    while frame is not None and frame is not stop:
        code = frame.f_code
        if is_user_file(code.co_filename):
            out.append((code, frame.f_lasti))
        frame = frame.f_back
    return out


def caller_frame(depth: int = 1) -> FrameType | None:
    """The innermost user frame above the caller (the frame that called ``export``)."""
    f: FrameType | None = sys._getframe(depth + 1)
    while f is not None and not is_user_file(f.f_code.co_filename):
        f = f.f_back
    return f


class TracebackRecorder:
    """While active, the user frames of each equation traced below ``stop`` (the frame
    that called ``export``), keyed by the identity of the equation's source info.

    As JAX's, an equation's frames are relative to the trace that recorded it: those
    between the equation and where that trace (the function's, a nested ``jit``'s, a
    branch's) started."""

    def __init__(self, stop: FrameType | None) -> None:
        self.stop = stop
        self.frames: dict[int, tuple[Any, list[Frame]]] = {}
        self._starts: dict[int, FrameType] = {}
        self._by_site: dict[Frame, list[Frame]] = {}  # a call site's first frames
        # the transformations an equation was recorded under: id(eqn) -> (eqn, name)
        self.transforms: dict[int, tuple[Any, str]] = {}
        self._scopes: dict[int, str] = {}  # a span's named scope when it started
        self._traced_in: dict[int, Any] = {}  # id(src) -> the trace that first used it
        # an equation whose source another trace's equation recorded first: its own
        self.eqn_frames: dict[int, tuple[Any, list[Frame]]] = {}
        self._listener = events.listen(
            kinds=[events.EqnEmitted, events.Begin], on_event=self._on_event
        )

    def _on_event(self, ev: Any) -> None:
        if self.stop is None:
            return
        f: FrameType | None = sys._getframe(1)
        if isinstance(ev, events.TraceStarted):
            self._scopes[ev.call] = _current_scope()
            # the innermost user frame when the trace starts (the one calling the traced
            # function): the trace's equations keep only the user frames below it
            while f is not None and not is_user_file(f.f_code.co_filename):
                f = f.f_back
            if f is not None:
                self._starts[ev.trace] = f
            return
        if not isinstance(ev, events.EqnEmitted):  # another span (recorded for ancestry)
            return
        src = getattr(ev, "source_info", None)
        eqn = getattr(ev, "eqn", None)
        if src is not None and eqn is not None:
            name = self._transform_name(ev, src)
            if name is not None:
                self.transforms[id(eqn)] = (eqn, name)
        if src is None:
            return
        if id(src) in self.frames:  # a source shared by equations of different traces
            if (
                eqn is not None
                and id(src) in self._traced_in
                and (self._traced_in[id(src)] != getattr(ev, "trace", None))
            ):
                frames = self._walk(sys._getframe(1), ev, src)
                if frames is not None:
                    self.eqn_frames[id(eqn)] = (eqn, frames)
            return
        frames = self._walk(sys._getframe(1), ev, src)
        if frames is None:  # traced elsewhere (another thread): only the recorded frame
            return
        self._traced_in[id(src)] = getattr(ev, "trace", None)
        self.frames[id(src)] = (src, frames)  # keeps src alive: its id stays unique

    def _walk(self, f: FrameType | None, ev: Any, src: Any) -> list[Frame] | None:
        start = self._starts.get(getattr(ev, "trace", None))
        frames: list[Frame] = []
        while f is not None and f is not self.stop and f is not start:
            code = f.f_code
            if is_user_file(code.co_filename):
                frames.append((code, f.f_lasti))
            f = f.f_back
        if f is None:
            return None
        code = getattr(src, "_code", None)
        if code is not None and not _on_stack(code, sys._getframe(2)):
            # an equation re-bound under its original source (a derivative's): JAX keeps
            # that equation's frames (as first recorded from that line)
            site = (code, src._lasti)
            frames = self._by_site.get(site, [site])
        elif frames:
            self._by_site.setdefault(frames[0], frames)
        return frames

    def _transform_name(self, ev: Any, src: Any) -> str | None:
        """JAX's name stack for an equation recorded under transformations (jvp(),
        transpose(jvp()), vmap()), with the named scopes inside and outside them; None
        when no transformation was active."""
        spans = [
            a
            for a in self._listener.ancestors(ev, events.TraceStarted)
            if a.interpreter in _TRANSFORMS
        ]
        if not spans:
            return None
        names: list[str] = []
        for a in reversed(spans):  # outermost first
            names += _TRANSFORMS[a.interpreter]
        outer = self._scopes.get(spans[-1].call, "")
        scope = getattr(src, "name_stack", "") or ""
        if outer and (scope == outer or scope.startswith(outer + "/")):
            inner = scope[len(outer) :].strip("/")
        else:
            outer, inner = "", scope
        text = inner
        for n in reversed(names):
            text = f"{n}({text})"
        return f"{outer}/{text}" if outer else text

    def __enter__(self) -> TracebackRecorder:
        self._listener.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.__exit__(*exc)

    def inner_frames(self, src: Any, eqn: Any = None) -> list[Frame]:
        own = self.eqn_frames.get(id(eqn))
        if own is not None and own[0] is eqn:
            return own[1]
        got = self.frames.get(id(src))
        if got is not None and got[0] is src:
            return got[1]
        code = getattr(src, "_code", None)  # traced before: the one frame it recorded
        if code is None:
            return []
        return [(code, src._lasti)]


# the interpreters whose equations JAX names after a transformation
_TRANSFORMS = {"jvp": ["jvp"], "batching": ["vmap"], "transpose": ["transpose", "jvp"]}


def _current_scope() -> str:
    from .. import core

    return getattr(core._ctx, "name_stack", "") or ""


def _on_stack(code: Any, f: FrameType | None) -> bool:
    while f is not None:
        if f.f_code is code:
            return True
        f = f.f_back
    return False


# ---------------------------------------------------------------------------- locations


class _LocationMaker:
    def __init__(self, context: ir.Context) -> None:
        self.context = context
        self._frames: dict[Frame, Any] = {}

    def frame(self, fr: Frame) -> Any:
        loc = self._frames.get(fr)
        if loc is None:
            code, lasti = fr
            pos = _positions(code, lasti)
            if pos is None or pos[0] is None:
                rng = ir.Location.file(code.co_filename, code.co_firstlineno, 0)
            else:
                line, end_line, col, end_col = pos
                rng = ir.Location.file(
                    code.co_filename,
                    line,
                    col or 0,
                    end_line if end_line is not None else line,
                    end_col if end_col is not None else (col or 0),
                )
            loc = self._frames[fr] = ir.Location.name(code.co_qualname, childLoc=rng)
        return loc

    def chain(self, frames: Sequence[Frame]) -> Any:
        frames = list(frames)[:FRAME_LIMIT]
        if not frames:
            return ir.Location.unknown()
        loc = self.frame(frames[-1])
        for fr in reversed(frames[:-1]):
            loc = ir.Location.callsite(self.frame(fr), [loc])
        return loc


_pos_cache: dict[Any, list] = {}


def _positions(code: Any, lasti: int) -> tuple | None:
    pos = _pos_cache.get(code)
    if pos is None:
        if len(_pos_cache) > 1024:
            _pos_cache.clear()
        pos = _pos_cache[code] = list(code.co_positions())
    i = lasti // 2
    return pos[i] if 0 <= i < len(pos) else None


def _walk(op: Any) -> Iterable[Any]:
    for region in op.regions:
        for block in region.blocks:
            for inner in block.operations:
                yield inner
                yield from _walk(inner.operation)


def _literal_attrs(eqn: Any) -> set[str]:
    """The text of the constant attributes a literal operand of ``eqn`` lowers to."""
    from ..core import Literal

    out = set()
    for v in eqn.invars:
        if type(v) is Literal:
            try:
                arr = np.asarray(v.val, dtype=v.aval.dtype)
                out.add(str(ir.DenseElementsAttr.get(arr)))
            except Exception:  # an extended dtype: never a plain constant
                pass
    return out


def apply_jax_locations(
    module: ir.Module,
    records: Sequence[tuple],
    fun_name: str,
    recorder: TracebackRecorder | None,
    outer: Sequence[Frame],
) -> None:
    """Rewrite the locations of ``module``'s ops (as the engine's lowering set them, one
    name per equation) to JAX's: see the module docstring."""
    make = _LocationMaker(module.context)
    jit_name = f"jit({fun_name})"
    with module.context:
        func_loc = ir.Location.name(jit_name, childLoc=make.chain(outer))
        by_loc: dict[str, _Eqn] = {}
        by_path: dict[tuple, _Eqn] = {}
        for path, prim, _tag, loc, _fn, eqn in records:
            key = str(loc)
            src = eqn.source_info
            inner = recorder.inner_frames(src, eqn) if recorder is not None else []
            if recorder is None and getattr(src, "_code", None) is not None:
                inner = [(src._code, src._lasti)]
            base, tail = jit_name, list(outer)
            if len(path) == 3 and path[:1] in by_path:  # in a branch or a loop's body
                parent = by_path[path[:1]]
                piece = _SUB_JAXPR_NAMES.get(parent.prim, lambda s: None)(path[1])
                if piece is not None:  # JAX's name stack there, after its parent's frames
                    base, tail = f"{parent.prefix}{parent.prim}/{piece}", parent.frames
            transformed = recorder.transforms.get(id(eqn)) if recorder is not None else None
            scope = None
            if transformed is not None and transformed[0] is eqn:
                scope = transformed[1]
            made = _Eqn(make, base, prim, eqn, list(inner), tail, scope)
            by_path.setdefault(tuple(path), made)
            by_loc.setdefault(key, made)
        unknown = str(ir.Location.unknown())
        symbols = [_symbol(fop) for fop in module.body.operations]
        for fop, sym in zip(module.body.operations, symbols):
            if sym == "main" and WRAPPED in symbols:
                continue  # JAX's wrapper: its own locations (see poly_lowering)
            if fop.operation.name == "sdy.mesh":
                continue
            fkey = str(fop.location)
            if _RULE_FUNCTION.match(fkey):  # a function a rule made (a reducer)
                for op in _walk(fop.operation):
                    got = by_loc.get(str(op.location))
                    if got is not None:
                        _set_location(op, got.bare)
                continue
            if sym in ("main", WRAPPED) or (sym or "").startswith("_main_"):
                _relocate_body(fop, by_loc, make, func_loc, unknown)
                continue
            # a nested jit's function: JAX lowers it out of context (no name stack, the
            # equations' own frames, unknown arguments and return), named after the call
            owner = by_loc.get(fkey)
            if owner is not None:
                _set_location(fop, ir.Location.name(f"{owner.prim}:", childLoc=owner.loc))
            for arg in fop.regions[0].blocks[0].arguments:
                arg.set_location(ir.Location.unknown())
            for op in _walk(fop.operation):
                got = by_loc.get(str(op.location))
                if op.name == "func.return" or (got is not None and got.is_literal(op)):
                    _set_location(op, ir.Location.unknown())
                elif got is not None:
                    _set_location(op, got.bare)


def _branch(s: Any) -> str | None:
    return f"branch_{s[1:]}_fun" if isinstance(s, str) and s[1:].isdigit() else None


# the name JAX's lowering gives each sub-jaxpr of a primitive (the engine's lowering
# numbers them s0, s1, ...: a cond's branches in order; a while's body, then its cond)
_SUB_JAXPR_NAMES = {
    "cond": _branch,
    "while": lambda s: {"s0": "body", "s1": "cond"}.get(s),
}


class _Eqn:
    """JAX's locations for one equation's ops."""

    def __init__(
        self,
        make: Any,
        base: str,
        prim: str,
        eqn: Any,
        inner: list,
        outer: list,
        scope: str | None = None,
    ) -> None:
        if scope is None:  # a transformed equation's comes from the recorder
            scope = getattr(eqn.source_info, "name_stack", "") or ""
        self.prim, self.eqn = prim, eqn
        self.prefix = f"{base}/{scope}/" if scope else f"{base}/"
        self.frames = inner + outer
        chain = make.chain(self.frames)
        self.loc = ir.Location.name(self.prefix + prim, childLoc=chain)
        if prim == "jit" and "name" in eqn.params:  # the call of a nested jit's function
            call_name = f"{self.prefix}jit({eqn.params['name']})"
            self.call_loc = ir.Location.name(call_name, childLoc=chain)
        else:
            self.call_loc = self.loc
        self.literals = _literal_attrs(eqn)
        # what a rule lowers through traced steps of its own (a shape's arithmetic):
        # JAX traces them under the equation's frames, then adds its whole chain
        self.derived_frames = inner * 2 + outer
        # out of context (a reducer, a nested function): the primitive around the
        # equation's own frames, no name stack
        local = f"{scope}/{prim}" if scope else prim
        self.bare = ir.Location.name(local, childLoc=make.chain(inner))
        # a region's arguments: made where JAX lowers the rule, out of context
        self.region_args = ir.Location.name(f"{prim}:", childLoc=ir.Location.name(prim))

    def is_literal(self, op: Any) -> bool:
        return (
            op.name == "stablehlo.constant"
            and bool(self.literals)
            and str(op.attributes["value"]) in self.literals
        )


def _relocate_body(fop: Any, by_loc: dict, make: Any, func_loc: Any, unknown: str) -> None:
    for op in _walk(fop.operation):
        key = str(op.location)
        hit = by_loc.get(key)
        derived = None
        if hit is None and key.startswith('loc("'):
            derived = _derived(key, by_loc, make)
        if hit is None and derived is None:
            if key == unknown or op.name == "func.return":
                _set_location(op, func_loc)
            continue
        if derived is not None:
            _set_location(op, derived)
            continue
        _relocate_region_args(op, key, hit.region_args)
        if hit.is_literal(op):
            _set_location(op, func_loc)  # a literal operand: read outside the equation
        elif op.name == "func.call":
            _set_location(op, hit.call_loc)
        else:
            _set_location(op, hit.loc)


WRAPPED = "_wrapped_jax_export_main"


def _symbol(op: Any) -> str | None:
    attr = op.attributes["sym_name"] if "sym_name" in op.attributes else None
    return ir.StringAttr(attr).value if attr is not None else None


def _derived(key: str, by_loc: dict, make: Any) -> Any:
    """An op an equation's rule made under a name of its own (``loc("mul"(EQN))``, a
    shape computation's step): JAX's location of that name in the equation's place."""
    m = _NAMED.match(key)
    if m is None:
        return None
    base = by_loc.get(f"loc({m.group(2)})")
    if base is None:
        return None
    return ir.Location.name(base.prefix + m.group(1), childLoc=make.chain(base.derived_frames))


_RULE_FUNCTION = re.compile(r'^loc\("[^"/]+:"')
_NAMED = re.compile(r'^loc\("([^"]+)"\((.*)\)\)$', re.S)


def _relocate_region_args(op: Any, key: str, loc: Any) -> None:
    for region in op.regions:
        for block in region.blocks:
            for arg in block.arguments:
                if str(arg.location) == key:
                    arg.set_location(loc)


def _set_location(op: Any, loc: Any) -> None:
    op.operation.location = loc


def set_arg_locations(func_op: Any, names: Sequence[str | None]) -> None:
    """``loc("name")`` on each block argument of ``func_op``'s body (None: unknown)."""
    block = func_op.regions[0].blocks[0]
    with func_op.context:
        for arg, n in zip(block.arguments, names):
            arg.set_location(ir.Location.name(n) if n else ir.Location.unknown())


# ---------------------------------------------------------------------------- names


def jax_arg_names(signature: Any, args: Sequence[Any], kwargs: dict, opts: Any) -> list[str]:
    """JAX's debug names of the non-static argument leaves: the parameter's name and the
    leaf's key path (``x``, ``d['p']``, ``k``), positional first then keywords sorted;
    ``args[i]``/``kwargs['k']`` when the signature is unknown or does not bind."""
    static = object()
    nums = {i if i >= 0 else i + len(args) for i in opts.static_argnums}
    args_ = [static if i in nums else x for i, x in enumerate(args)]
    kwargs_ = {k: static if k in opts.static_argnames else x for k, x in kwargs.items()}
    ordered: list[tuple[str, Any]] | None = None
    if signature is not None:
        try:
            ba = signature.bind(*args_, **kwargs_)
        except (TypeError, ValueError):
            ba = None
        if ba is not None:
            var_kw = next(
                (n for n, p in signature.parameters.items() if p.kind == p.VAR_KEYWORD), None
            )
            positional = [
                (n, x) for n, x in ba.arguments.items() if n not in kwargs and n != var_kw
            ]
            kws = sorted(kwargs_.items(), key=lambda kv: kv[0])
            ordered = positional + [
                (n if n in ba.arguments else f"{var_kw}['{n}']", x) for n, x in kws
            ]
    if ordered is None:
        ordered = [("args", args_)] + sorted(
            ((f"kwargs['{n}']", x) for n, x in kwargs_.items() if x is not static),
            key=lambda kv: kv[0],
        )
    names = []
    for name, x in ordered:
        if x is static:
            continue
        for path, leaf in tree_util.tree_flatten_with_path(x)[0]:
            if leaf is not static:
                names.append(f"{name}{tree_util.keystr(path)}")
    return names
