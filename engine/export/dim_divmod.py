"""Floor division and remainder of dimension values, as JAX lowers them: JAX evaluates
``floordiv``/``mod`` of a shape through ``divmod`` on traced integers, that is through
``jnp.divmod``'s jitted helpers, so its module holds private functions ``@divmod``,
``@floor_divide``, ``@remainder`` and ``@_where`` (each taking the dimension variables
first where the caller has them, as every nested function of a polymorphic module
does) and each evaluation calls ``@divmod`` again. The engine emits the same functions,
ops, order and locations, so an exported module reads as JAX's.

``context(module, dims, names)`` says where the calls go: ``dims``, the values of the
dimension variables to pass first (none in the wrapper @main, where JAX marks every
argument a global constant)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from jaxlib.mlir import ir
from jaxlib.mlir.dialects import func as func_dialect
from jaxlib.mlir.dialects import stablehlo as hlo

_state = threading.local()


@contextlib.contextmanager
def context(module: Any, dims: Sequence[Any], names: Sequence[str]) -> Iterator[None]:
    prev = getattr(_state, "ctx", None)
    cache = prev[3] if prev is not None and prev[0] is module else {}
    _state.ctx = (module, list(dims), list(names), cache)
    try:
        yield
    finally:
        _state.ctx = prev


def active() -> bool:
    return getattr(_state, "ctx", None) is not None


def _named(name: str) -> Any:
    return ir.Location.name(name)


def _signed(direction: str, a: Any, b: Any, kind: str = "SIGNED") -> Any:
    return hlo.compare(
        a,
        b,
        hlo.ComparisonDirectionAttr.get(direction),
        compare_type=hlo.ComparisonTypeAttr.get(kind),
    )


def _const(value: int, t: Any) -> Any:
    with ir.Location.unknown():
        attr = ir.DenseElementsAttr.get_splat(t, ir.IntegerAttr.get(t.element_type, value))
        return hlo.constant(attr)


class _Helpers:
    """The module's helper functions for one argument layout."""

    def __init__(self, module: Any, names: Sequence[str], t: Any, weak: tuple) -> None:
        self.module, self.names, self.t, self.weak = module, list(names), t, weak
        self.main = not names  # in the wrapper @main: every argument a global constant
        self.made: dict[str, str] = {}

    def _func(self, name: str, in_types: list, out_types: list) -> tuple[Any, list, list]:
        """A new private function (appended to the module), its dimension arguments and
        its value arguments."""
        n = len(self.names)
        dim_t = [self.t] * n
        with ir.Location.name("jit:", childLoc=_named("jit")):
            with ir.InsertionPoint(self.module.body):
                fn = func_dialect.FuncOp(name, ir.FunctionType.get(dim_t + in_types, out_types))
        fn.attributes["sym_visibility"] = ir.StringAttr.get("private")
        ir.SymbolTable(self.module.operation).insert(fn)  # renamed if the name is taken
        attrs = [ir.DictAttr.get({"jax.global_constant": ir.StringAttr.get(v)}) for v in self.names]
        if self.main:
            gc = ir.DictAttr.get({"jax.global_constant": ir.StringAttr.get("")})
            attrs += [gc] * len(in_types)
        else:
            attrs += [ir.DictAttr.get({}) for _ in in_types]
        fn.arg_attrs = ir.ArrayAttr.get(attrs)
        unknown = ir.Location.unknown()
        block = fn.add_entry_block([unknown] * (n + len(in_types)))
        args = list(block.arguments)
        self.made[name] = ir.StringAttr(fn.attributes["sym_name"]).value
        return block, args[:n], args[n:]

    def _call(self, name: str, dims: list, args: list, out_types: list, loc: str) -> list:
        with _named(loc):
            return list(
                func_dialect.CallOp(out_types, ir.FlatSymbolRefAttr.get(name), dims + args).results
            )

    def where(self) -> str:
        if "_where" not in self.made:
            i1 = ir.RankedTensorType.get([], ir.IntegerType.get_signless(1))
            block, _dims, (c, x, y) = self._func("_where", [i1, self.t, self.t], [self.t])
            with ir.InsertionPoint(block):
                with _named("select_n"):
                    out = hlo.select(c, x, y)
                with ir.Location.unknown():
                    func_dialect.ReturnOp([out])
        return self.made["_where"]

    def floor_divide(self) -> str:
        if "floor_divide" not in self.made:
            block, dims, (x, y) = self._func("floor_divide", [self.t, self.t], [self.t])
            with ir.InsertionPoint(block):
                one = _const(1, self.t)
                zero = _const(0, self.t)
                with _named("div"):
                    q = hlo.divide(x, y)
                with _named("sign"):
                    sx, sy = hlo.sign(x), hlo.sign(y)
                with _named("ne"):
                    differ = _signed("NE", sx, sy)
                with _named("rem"):
                    r = hlo.remainder(x, y)
                with _named("ne"):
                    inexact = _signed("NE", r, zero)
                with _named("and"):
                    fix = hlo.and_(differ, inexact)
                with _named("sub"):
                    q1 = hlo.subtract(q, one)
                where = self.where()
                (out,) = self._call(where, dims, [fix, q1, q], [self.t], "jit(_where)")
                with ir.Location.unknown():
                    func_dialect.ReturnOp([out])
        return self.made["floor_divide"]

    def remainder(self) -> str:
        if "remainder" not in self.made:
            block, dims, (x, y) = self._func("remainder", [self.t, self.t], [self.t])
            with ir.InsertionPoint(block):
                one = _const(1, self.t)
                zero = _const(0, self.t)
                with _named("eq"):
                    is_zero = _signed("EQ", y, zero)
                where = self.where()
                (y1,) = self._call(where, dims, [is_zero, one, y], [self.t], "jit(_where)")
                with _named("rem"):
                    r = hlo.remainder(x, y1)
                with _named("ne"):
                    nonzero = _signed("NE", r, zero)
                with _named("lt"):
                    r_neg = _signed("LT", r, zero)
                    y_neg = _signed("LT", y1, zero)
                with _named("ne"):
                    signs = _signed("NE", r_neg, y_neg, "UNSIGNED")
                with _named("and"):
                    fix = hlo.and_(signs, nonzero)
                with _named("add"):
                    r1 = hlo.add(r, y1)
                with _named("select_n"):
                    out = hlo.select(fix, r1, r)
                with ir.Location.unknown():
                    func_dialect.ReturnOp([out])
        return self.made["remainder"]

    def divmod(self) -> str:
        if "divmod" not in self.made:
            block, dims, (x, y) = self._func("divmod", [self.t, self.t], [self.t, self.t])
            with ir.InsertionPoint(block):
                if self.weak[0]:
                    with _named("convert_element_type"):
                        x = hlo.convert(self.t, x)
                if self.weak[1]:
                    with _named("convert_element_type"):
                        y = hlo.convert(self.t, y)
                fd, rm = self.floor_divide(), self.remainder()
                (q,) = self._call(fd, dims, [x, y], [self.t], "jit(floor_divide)")
                (r,) = self._call(rm, dims, [x, y], [self.t], "jit(remainder)")
                with ir.Location.unknown():
                    func_dialect.ReturnOp([q, r])
        return self.made["divmod"]


def divmod_values(a: Any, b: Any, weak: tuple) -> tuple[Any, Any]:
    """(a // b, a % b) through a call of ``@divmod`` at the current insertion point."""
    module, dims, names, cache = _state.ctx
    t = a.type
    key = (len(names), weak, str(t))
    helpers = cache.get(key)
    if helpers is None:
        helpers = cache[key] = _Helpers(module, names, t, weak)
    name = helpers.divmod()
    with ir.Location.name("jit(divmod)", childLoc=ir.Location.current):
        call = func_dialect.CallOp([t, t], ir.FlatSymbolRefAttr.get(name), list(dims) + [a, b])
    return call.results[0], call.results[1]
