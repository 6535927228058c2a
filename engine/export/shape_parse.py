"""Parsing symbolic shapes: ``symbolic_shape("b, 2*b + 1, ...")`` and
``symbolic_args_specs``, the grammar of JAX's specifications (sums, products, ``^``,
``floordiv``/``mod``/``max``/``min``, ``_`` and ``...`` taken from ``like``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .shape_poly import (
    DimExpr,
    DimSize,
    SymbolicScope,
    _add,
    _divmod,
    _mul,
    _sub,
    max_dim,
    min_dim,
)

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_.]*)|(\.\.\.)|(.))")


class _Parser:
    def __init__(self, text: str, scope: SymbolicScope, spec: str) -> None:
        self.spec = spec
        self.toks: list[tuple[str, str]] = []
        for num, name, dots, other in _TOKEN.findall(text):
            if num:
                self.toks.append(("int", num))
            elif name:
                self.toks.append(("name", name))
            elif dots:
                self.toks.append(("op", "..."))
            elif other.strip():
                self.toks.append(("op", other))
        self.i = 0
        self.scope = scope

    def error(self, detail: str) -> ValueError:
        return ValueError(f"syntax error in symbolic shape {self.spec!r}: {detail}")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise self.error("unexpected end of string")
        if value is not None and t[1] != value:
            raise self.error(f"expecting '{value}', found '{t[1]}'")
        self.i += 1
        return t

    def expr(self) -> DimSize:
        t = self.peek()
        sign = 1
        if t is not None and t[1] in "+-":
            self.take()
            sign = -1 if t[1] == "-" else 1
        acc = _mul(self.term(), sign)
        while (t := self.peek()) is not None and t[1] in ("+", "-"):
            self.take()
            rhs = self.term()
            acc = _add(acc, rhs) if t[1] == "+" else _sub(acc, rhs)
        return acc

    def term(self) -> DimSize:
        acc = self.power()
        while (t := self.peek()) is not None and t[1] == "*":
            self.take()
            acc = _mul(acc, self.power())
        return acc

    def power(self) -> DimSize:
        base = self.atom()
        t = self.peek()
        if t is not None and t[1] == "^":
            self.take()
            kind, val = self.take()
            if kind != "int":
                raise self.error(f"expecting integer, found {val}")
            return base ** int(val) if isinstance(base, DimExpr) else base ** int(val)
        return base

    def atom(self) -> DimSize:
        kind, val = self.take()
        if kind == "int":
            return int(val)
        if val == "(":
            e = self.expr()
            self.take(")")
            return e
        if kind == "name":
            if val in ("floordiv", "mod") and self.peek() == ("op", "("):
                self.take("(")
                a = self.expr()
                self.take(",")
                b = self.expr()
                self.take(")")
                q, r = _divmod(a, b)
                return q if val == "floordiv" else r
            if val in ("max", "min") and self.peek() == ("op", "("):
                self.take("(")
                a = self.expr()
                self.take(",")
                b = self.expr()
                self.take(")")
                return max_dim(a, b) if val == "max" else min_dim(a, b)
            return DimExpr._factor(val, self.scope)
        raise self.error(f"unexpected '{val}'")


def parse_expr(text: str, scope: SymbolicScope, spec: str) -> DimSize:
    p = _Parser(text, scope, spec)
    e = p.expr()
    if p.peek() is not None:
        raise p.error(f"unexpected '{p.peek()[1]}'")  # type: ignore[index]
    return e


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def symbolic_shape(
    shape_spec: str | None,
    *,
    constraints: Sequence[str] = (),
    scope: SymbolicScope | None = None,
    like: Sequence[int | None] | None = None,
) -> tuple[DimSize, ...]:
    """Parse a shape like ``"b, 4"`` or ``"(2*b, _, ...)"`` into a tuple of dimensions
    (``int`` or symbolic). ``_`` and ``...`` take their sizes from ``like``."""
    if scope is not None and constraints:
        raise ValueError("Cannot specify both a `scope` and `constraints`.")
    if scope is None:
        scope = SymbolicScope(constraints) if constraints else SymbolicScope()
    if shape_spec is None:
        shape_spec = "..."
    elif not isinstance(shape_spec, str):
        raise ValueError(
            f"polymorphic shape spec should be None or a string. Found {shape_spec!r}."
        )
    text = shape_spec.strip()
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    pieces = [p.strip() for p in _split_top_level(text)] if text.strip() else []
    if pieces and pieces[-1] == "":
        pieces.pop()  # "b," is a 1-tuple
    dims: list[DimSize] = []
    for k, piece in enumerate(pieces):
        if piece == "...":
            if like is None:
                raise ValueError(
                    f"syntax error in symbolic shape {shape_spec!r}: '...' requires `like`"
                )
            if k != len(pieces) - 1:
                raise ValueError(
                    f"syntax error in symbolic shape {shape_spec!r}: '...' must be last"
                )
            dims.extend(_like_dim(like, i, shape_spec) for i in range(len(dims), len(like)))
            continue
        if piece == "_":
            if like is None or k >= len(like):
                raise ValueError(
                    f"syntax error in symbolic shape {shape_spec!r}: '_' requires `like`"
                )
            dims.append(_like_dim(like, k, shape_spec))
            continue
        if piece == "":
            raise ValueError(f"syntax error in symbolic shape {shape_spec!r}: empty dimension")
        dims.append(parse_expr(piece, scope, shape_spec))
    if like is not None and len(dims) != len(like):
        raise ValueError(
            f"syntax error in symbolic shape {shape_spec!r}: "
            f"rank mismatch with `like` shape {tuple(like)}"
        )
    return tuple(dims)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _like_dim(like: Sequence[Any], i: int, spec: str) -> int:
    d = like[i]
    if d is None:
        raise ValueError(
            f"syntax error in symbolic shape {spec!r}: dimension {i} of `like` is unknown"
        )
    return int(d)


def symbolic_args_specs(
    args: Any,
    shapes_specs: Any,
    constraints: Sequence[str] = (),
    scope: SymbolicScope | None = None,
) -> Any:
    """``ShapeDtypeStruct`` s like ``args``, their shapes parsed from ``shapes_specs``
    (one string, or a pytree of strings like ``args``), all in one scope."""
    from .. import api, tree_util

    if scope is not None and constraints:
        raise ValueError("Cannot use both `scope` and `constraints`")
    if scope is None:
        scope = SymbolicScope(constraints)
    leaves, tree = tree_util.tree_flatten(args)
    if isinstance(shapes_specs, str) or shapes_specs is None:
        specs = [shapes_specs] * len(leaves)
    else:
        specs = tree_util.tree_leaves(shapes_specs, is_leaf=lambda x: x is None)
        if len(specs) != len(leaves):
            raise ValueError(f"shapes_specs has {len(specs)} entries for {len(leaves)} arguments")
    out = []
    for x, spec in zip(leaves, specs):
        shape = symbolic_shape(spec, scope=scope, like=tuple(x.shape))
        out.append(api.ShapeDtypeStruct(shape, x.dtype))  # type: ignore[arg-type]
    return tree_util.tree_unflatten(tree, out)
