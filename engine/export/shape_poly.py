"""Symbolic dimensions for shape-polymorphic export, as ``jax.export.symbolic_shape``.

A dimension expression is a polynomial with integer coefficients over *factors*: dimension
variables (``b``), the non-exact ``floordiv(e, k)`` / ``mod(e, k)`` of an expression, and
undecided ``max``/``min`` of two. Expressions that turn out constant are plain ``int`` s
(the parser of shape specifications is ``shape_parse.py``). Every variable is ``>= 1``; a
``SymbolicScope`` may add constraints (``"b >= 4"``, ``"a <= b"``, ``"a == 2*b"``), which
narrow the bounds used to decide comparisons. A comparison whose answer depends on the
variables' values raises ``InconclusiveDimensionOperation`` (equality answers ``False``,
as JAX's does, since hashing relies on it)."""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Sequence
from typing import Any, Union

DimSize = Union[int, "DimExpr"]

_HELP = (
    "\nThis error arises for comparison operations with shapes that\n"
    "are non-constant, and the result of the operation cannot be represented as\n"
    "a boolean value for all values of the symbolic dimensions involved.\n"
    "\nPlease see https://docs.jax.dev/en/latest/export/shape_poly.html"
    "#comparison-of-symbolic-dimensions-is-partially-supported\n"
    "for more details.\n"
)


class InconclusiveDimensionOperation(Exception):
    """A computation with symbolic dimensions whose result depends on their values."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}{_HELP}")


# A factor: a variable name, ("floordiv" | "mod", operand, divisor), or
# ("max" | "min", e1, e2).
# A monomial: tuple of (factor, power) sorted; () is the constant monomial.


# Ordering (JAX's syntactic order, so expressions print alike): by size first (a
# variable 1, an operation 1 + its operands' sizes, a term the sum of 1 + power * size
# over its factors, an expression the sum of 1 + |coefficient| * size over its terms),
# then by names, operations and operands.


def _factor_size(f: Any) -> int:
    if isinstance(f, str):
        return 1
    return 1 + _expr_size(f[1]) + _expr_size(f[2])


def _expr_size(e: Any) -> int:
    if not isinstance(e, DimExpr):
        return 1
    return sum(1 + abs(k) * _mono_size(m) for m, k in e._terms)


def _mono_size(m: tuple) -> int:
    return sum(1 + p * _factor_size(f) for f, p in m)


def _expr_key(e: Any) -> tuple:
    if not isinstance(e, DimExpr):
        return (1, (((0, ()), e),))
    return (_expr_size(e), tuple((_mono_sort_key(m), k) for m, k in e._terms))


def _factor_key(f: Any) -> tuple:
    if isinstance(f, str):
        return (1, f)
    return (_factor_size(f), "", f[0], _expr_key(f[1]), _expr_key(f[2]))


def _operand_str(x: Any) -> str:
    return f"- {-x}" if isinstance(x, int) and x < 0 else str(x)  # as JAX prints it


def _factor_str(f: Any) -> str:
    return f if isinstance(f, str) else f"{f[0]}({_operand_str(f[1])}, {_operand_str(f[2])})"


def _mono_str(m: tuple) -> str:
    return "*".join(_factor_str(f) + (f"^{p}" if p > 1 else "") for f, p in m)


def _mono_degree(m: tuple) -> int:
    return sum(p for _, p in m)


def _mono_mul(m1: tuple, m2: tuple) -> tuple:
    powers: dict = {}
    keys: dict = {}
    for f, p in m1 + m2:
        k = _factor_key(f)
        powers[k] = powers.get(k, 0) + p
        keys[k] = f
    return tuple((keys[k], powers[k]) for k in sorted(powers))


def _mono_sort_key(m: tuple) -> tuple:
    # terms are sorted in reverse: larger terms first, the constant last
    # (a term's factors are compared largest first)
    return (_mono_size(m), tuple(sorted(((_factor_key(f), p) for f, p in m), reverse=True)))


class SymbolicScope:
    """The constraints under which a set of symbolic dimensions is reasoned about."""

    def __init__(self, constraints_str: Sequence[str] = ()) -> None:
        if isinstance(constraints_str, str):
            raise ValueError(
                f"The symbolic constraints should be a sequence of strings. Got {constraints_str!r}"
            )
        self._constraints_str = tuple(constraints_str)
        self._origin = _calling_frames()
        self._geq0: list[DimExpr] = []  # expressions known to be >= 0
        self._var_lb: dict[str, float] = {}
        self._var_ub: dict[str, float] = {}
        self._rules: dict[tuple, Any] = {}  # monomial -> the expression it equals
        for c in self._constraints_str:
            self._add_constraint(c)

    def _add_constraint(self, c: str) -> None:
        if not isinstance(c, str):
            raise ValueError(f"SymbolicScope constraint must be a string: got {c!r}")
        for op in ("==", ">=", "<="):
            if op in c:
                left, right = c.split(op, 1)
                break
        else:
            raise ValueError("Constraint parsing error: must contain one of '==' or '>=' or '<='")
        from .shape_parse import parse_expr

        e1 = parse_expr(left, self, c)
        e2 = parse_expr(right, self, c)
        if op == "==":
            if not isinstance(e1, DimExpr) or len(e1._terms) != 1 or e1._terms[0][1] != 1:
                raise ValueError(
                    f"Invalid equality constraint: {e1} == {e2}. "
                    "The left-hand-side must be of the form `term * coefficient`."
                )
            self._rules[e1._terms[0][0]] = e2
            return
        diff = _sub(e1, e2) if op == ">=" else _sub(e2, e1)
        if not isinstance(diff, DimExpr):
            if diff < 0:
                raise ValueError(f"Unsatisfiable explicit constraint: {c}")
            return
        self._geq0.append(diff)
        # a bound on one variable: +-v + k >= 0
        if len(diff._terms) <= 2:
            var_terms = [(m, k) for m, k in diff._terms if m]
            const = sum(k for m, k in diff._terms if not m)
            if len(var_terms) == 1:
                (m, k) = var_terms[0]
                if len(m) == 1 and m[0][1] == 1 and isinstance(m[0][0], str) and abs(k) == 1:
                    v = m[0][0]
                    if k == 1:
                        self._var_lb[v] = max(self._var_lb.get(v, 1), -const)
                    else:
                        self._var_ub[v] = min(self._var_ub.get(v, math.inf), const)

    def __str__(self) -> str:
        return ", ".join(self._constraints_str)

    __repr__ = __str__

    def _describe(self) -> str:
        """The scope as JAX's mixing errors name it: its id, where the user created it,
        and its constraints."""
        text = f"{id(self)} created at {_user_location(self._origin)}"
        if self._constraints_str:
            text += " with constraints:\n" + "\n".join(f"  {c}" for c in self._constraints_str)
        return text

    def _check_same_scope(self, other: DimExpr, when: str) -> None:
        if other.scope is not self:
            raise ValueError(
                f"Invalid mixing of symbolic scopes {when}.\n"
                f"Expected  scope {self._describe()}\n"
                f"and found for '{other}' (unknown) scope {other.scope._describe()}\n"
                "See https://docs.jax.dev/en/latest/export/shape_poly.html"
                "#user-specified-symbolic-constraints."
            )


def _calling_frames(limit: int = 32) -> tuple:
    """(code, lasti) of the frames that called in (kept cheaply: the user's frame among
    them is found only when an error names it)."""
    out = []
    f = sys._getframe(2)
    while f is not None and len(out) < limit:
        out.append((f.f_code, f.f_lasti))
        f = f.f_back
    return tuple(out)


def _user_location(frames: tuple) -> str:
    """'file:line:col (function)' of the innermost user frame, as JAX summarizes one."""
    from .locations import _positions, is_user_file

    for code, lasti in frames:
        if is_user_file(code.co_filename):
            pos = _positions(code, lasti)
            line = pos[0] if pos and pos[0] is not None else code.co_firstlineno
            col = pos[2] if pos and pos[2] else 0
            where = f"{code.co_filename}:{line}" + (f":{col}" if col else "")
            return f"{where} ({code.co_qualname})"
    return "unknown"


_DEFAULT_SCOPE = SymbolicScope()


class DimExpr:
    """A symbolic dimension: a normalized polynomial over dimension variables."""

    __slots__ = ("_terms", "scope", "_hash")
    _is_symbolic_dim = True

    def __init__(self, terms: tuple, scope: SymbolicScope) -> None:
        self._terms = terms  # ((monomial, coefficient), ...) sorted, no zero coefficients
        self.scope = scope
        self._hash: int | None = None

    # -------------------------------------------------------------- construction
    @staticmethod
    def _build(coeffs: dict, scope: SymbolicScope) -> DimSize:
        order = sorted(coeffs, key=_mono_sort_key, reverse=True)
        terms = tuple((m, coeffs[m]) for m in order if coeffs[m])
        if not terms:
            return 0
        if len(terms) == 1 and terms[0][0] == ():
            return terms[0][1]
        if scope._rules:
            for m, _k in terms:
                if m in scope._rules:
                    rest = dict(coeffs)
                    k = rest.pop(m)
                    return _add(DimExpr._build(rest, scope), _mul(scope._rules[m], k))
        return DimExpr(terms, scope)

    @staticmethod
    def _factor(f: Any, scope: SymbolicScope) -> DimSize:
        return DimExpr._build({((f, 1),): 1}, scope)

    def _coeffs(self) -> dict:
        return dict(self._terms)

    # -------------------------------------------------------------- queries
    def _vars(self) -> set:
        out: set = set()
        for m, _ in self._terms:
            for f, _p in m:
                if isinstance(f, str):
                    out.add(f)
                else:
                    for x in f[1:]:
                        if isinstance(x, DimExpr):
                            out |= x._vars()
        return out

    def _as_var(self) -> str | None:
        """The variable's name when this expression is exactly one variable."""
        if len(self._terms) == 1:
            m, k = self._terms[0]
            if k == 1 and len(m) == 1 and m[0][1] == 1 and isinstance(m[0][0], str):
                return m[0][0]
        return None

    def bounds(self) -> tuple[float, float]:
        lb, ub = _direct_bounds(self)
        for g in self.scope._geq0:  # self = (self - g) + g >= lb(self - g)
            lb = max(lb, _bounds_of(_sub(self, g), direct=True)[0])
            ub = min(ub, _bounds_of(_add(self, g), direct=True)[1])
        return lb, ub

    # -------------------------------------------------------------- Python protocol
    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._terms)
        return self._hash

    def __str__(self) -> str:
        parts = []
        for m, k in self._terms:
            sign = "+" if k > 0 else "-"
            if not m:
                parts.append(f"{sign} {abs(k)}")
            elif abs(k) == 1:
                parts.append(f"{sign} {_mono_str(m)}")
            else:
                parts.append(f"{sign} {abs(k)}*{_mono_str(m)}")
        s = " ".join(parts)
        return s[2:] if s.startswith("+ ") else s

    __repr__ = __str__

    def __int__(self) -> int:
        raise InconclusiveDimensionOperation(
            f"Symbolic dimension '{self}' used in a context that requires a constant"
        )

    __index__ = __int__

    def __bool__(self) -> bool:
        return True

    def __jax_array__(self) -> Any:
        # used as an array operand (e.g. a mean's divisor): a traced integer scalar
        from .poly_lowering import dimension_as_value

        return dimension_as_value(self)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DimExpr):
            if other.scope is not self.scope:
                return False
        elif not isinstance(other, (int,)) and not _is_int(other):
            return False
        diff = _sub(self, other)
        return not isinstance(diff, DimExpr) and diff == 0

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __ge__(self, other: Any) -> Any:
        if not _is_dim(other):  # an array: compare the dimension's value
            return self.__jax_array__() >= other
        return _geq(self, other, lambda: f"'{self}' >= '{other}'")

    def __le__(self, other: Any) -> Any:
        if not _is_dim(other):
            return self.__jax_array__() <= other
        return _geq(other, self, lambda: f"'{self}' <= '{other}'")

    def __gt__(self, other: Any) -> Any:
        if not _is_dim(other):
            return self.__jax_array__() > other
        return not _geq(other, self, lambda: f"'{self}' > '{other}'")

    def __lt__(self, other: Any) -> Any:
        if not _is_dim(other):
            return self.__jax_array__() < other
        return not _geq(self, other, lambda: f"'{self}' < '{other}'")

    # Combined with a dimension or an integer the result is a dimension; with anything
    # else (a float, an array, a tracer) the dimension's value takes part (as in JAX).
    def __add__(self, other: Any) -> Any:
        return _add(self, other) if _is_dim(other) else _as_value(self, other, "__add__")

    def __radd__(self, other: Any) -> Any:
        return _add(self, other) if _is_dim(other) else _as_value(self, other, "__radd__")

    def __sub__(self, other: Any) -> Any:
        return _sub(self, other) if _is_dim(other) else _as_value(self, other, "__sub__")

    def __rsub__(self, other: Any) -> Any:
        return _sub(other, self) if _is_dim(other) else _as_value(self, other, "__rsub__")

    def __neg__(self) -> DimSize:
        return _mul(self, -1)

    def __mul__(self, other: Any) -> Any:
        return _mul(self, other) if _is_dim(other) else _as_value(self, other, "__mul__")

    def __rmul__(self, other: Any) -> Any:
        return _mul(self, other) if _is_dim(other) else _as_value(self, other, "__rmul__")

    def __pow__(self, power: Any) -> DimSize:
        if isinstance(power, DimExpr):
            return power.__rpow__(self)
        if power != int(power):
            raise ValueError(
                f"Symbolic dimension cannot be raised to non-integer powers: '{self}' ** '{power}'"
            )
        if power < 0:
            raise ValueError(
                f"Symbolic dimension cannot be raised to negative powers: '{self}' ** '{power}'"
            )
        out: DimSize = 1
        for _ in range(int(power)):
            out = _mul(out, self)
        return out

    def __rpow__(self, other: Any) -> Any:
        return _as_value(self, other, "__rpow__")

    def __floordiv__(self, other: Any) -> Any:
        return _divmod(self, other)[0] if _is_dim(other) else _as_value(self, other, "__floordiv__")

    def __rfloordiv__(self, other: Any) -> Any:
        return (
            _divmod(other, self)[0] if _is_dim(other) else _as_value(self, other, "__rfloordiv__")
        )

    def __mod__(self, other: Any) -> Any:
        return _divmod(self, other)[1] if _is_dim(other) else _as_value(self, other, "__mod__")

    def __rmod__(self, other: Any) -> Any:
        return _divmod(other, self)[1] if _is_dim(other) else _as_value(self, other, "__rmod__")

    def __divmod__(self, other: Any) -> Any:
        return _divmod(self, other) if _is_dim(other) else _as_value(self, other, "__divmod__")

    def __rdivmod__(self, other: Any) -> Any:
        return _divmod(other, self) if _is_dim(other) else _as_value(self, other, "__rdivmod__")

    # "/" always gives a float: computed on the dimension's value
    def __truediv__(self, other: Any) -> Any:
        return _as_value(self, other, "__truediv__")

    def __rtruediv__(self, other: Any) -> Any:
        return _as_value(self, other, "__rtruediv__")


def _is_int(x: Any) -> bool:
    """Whether ``x`` combines with a dimension as an integer (``operator.index`` works on
    it and it is not a tracer), as JAX's ``_convertible_to_int``."""
    if isinstance(x, int):
        return True
    if isinstance(x, DimExpr) or _is_tracer(x):
        return False
    try:
        operator.index(x)
    except Exception:
        return False
    return True


def _is_tracer(x: Any) -> bool:
    from ..core import Tracer

    return isinstance(x, Tracer)


def _as_value(d: DimExpr, other: Any, op: str) -> Any:
    """``d op other`` computed on the dimension's value (a traced integer scalar)."""
    return getattr(d.__jax_array__(), op)(other)


def _is_dim(x: Any) -> bool:
    return isinstance(x, DimExpr) or _is_int(x)


def is_symbolic_dim(d: Any) -> bool:
    return isinstance(d, DimExpr)


def is_constant_shape(shape: Sequence[Any]) -> bool:
    return not any(isinstance(d, DimExpr) for d in shape)


def _scope_of(a: Any, b: Any, when: str = "for linear combination") -> SymbolicScope:
    """The scope two operands share (JAX's ValueError, naming ``when``, if they do not)."""
    if isinstance(a, DimExpr):
        if isinstance(b, DimExpr):
            a.scope._check_same_scope(b, when)
        return a.scope
    return b.scope if isinstance(b, DimExpr) else _DEFAULT_SCOPE


def _coeffs_of(x: DimSize) -> dict:
    if isinstance(x, DimExpr):
        return x._coeffs()
    return {(): operator.index(x)} if operator.index(x) else {}


def _add(a: DimSize, b: DimSize) -> DimSize:
    if not isinstance(a, DimExpr) and not isinstance(b, DimExpr):
        return operator.index(a) + operator.index(b)
    scope = _scope_of(a, b)
    c = _coeffs_of(a)
    for m, k in _coeffs_of(b).items():
        c[m] = c.get(m, 0) + k
    return DimExpr._build(c, scope)


def _sub(a: DimSize, b: DimSize) -> DimSize:
    _scope_of(a, b)
    return _add(a, _mul(b, -1))


def _mul(a: DimSize, b: DimSize) -> DimSize:
    if not isinstance(a, DimExpr) and not isinstance(b, DimExpr):
        return operator.index(a) * operator.index(b)
    scope = _scope_of(a, b, "for operation mul")
    c: dict = {}
    for m1, k1 in _coeffs_of(a).items():
        for m2, k2 in _coeffs_of(b).items():
            m = _mono_mul(m1, m2)
            c[m] = c.get(m, 0) + k1 * k2
    return DimExpr._build(c, scope)


def _divmod(a: DimSize, b: DimSize) -> tuple[DimSize, DimSize]:
    if not isinstance(a, DimExpr) and not isinstance(b, DimExpr):
        return divmod(operator.index(a), operator.index(b))
    scope = _scope_of(a, b)
    if not isinstance(b, DimExpr):
        b = operator.index(b)
        if b == 0:
            raise ZeroDivisionError("Symbolic dimension division by zero")
        qs: dict = {}
        rem = 0
        for m, k in _coeffs_of(a).items():
            q, r = divmod(k, b)
            if m == ():
                if q:
                    qs[m] = q
                rem = r
            elif r:
                break
            else:
                qs[m] = q
        else:
            return DimExpr._build(qs, scope), rem
    elif isinstance(a, DimExpr) and len(b._terms) == 1:
        # exact division by a single term, e.g. (2*a*b) // (a) = 2*b
        (bm, bk) = b._terms[0]
        qs = {}
        for m, k in a._terms:
            pm = dict((_factor_key(f), (f, p)) for f, p in m)
            ok = k % bk == 0
            for f, p in bm:
                got = pm.get(_factor_key(f))
                if not ok or got is None or got[1] < p:
                    ok = False
                    break
                pm[_factor_key(f)] = (f, got[1] - p)
            if not ok:
                break
            qm = tuple(v for key, v in sorted(pm.items()) if v[1] > 0)
            qs[qm] = k // bk
        else:
            return DimExpr._build(qs, scope), 0
    return (
        DimExpr._factor(("floordiv", a, b), scope),
        DimExpr._factor(("mod", a, b), scope),
    )


def _factor_bounds(f: Any, scope: SymbolicScope) -> tuple[float, float]:
    if isinstance(f, str):
        return scope._var_lb.get(f, 1), scope._var_ub.get(f, math.inf)
    kind, e, d = f
    elb, eub = _bounds_of(e)
    if kind in ("max", "min"):
        dlb, dub = _bounds_of(d)
        pick = max if kind == "max" else min
        return pick(elb, dlb), pick(eub, dub)
    if isinstance(d, DimExpr):
        dlb, dub = d.bounds()
    else:
        dlb = dub = d
    if kind == "mod":
        if dlb > 0:
            return 0, dub - 1
        return -math.inf, math.inf
    if dlb > 0 and dlb == dub:
        return _floordiv_bound(elb, dlb), _floordiv_bound(eub, dlb)
    if dlb > 0 and elb >= 0:
        return 0, _floordiv_bound(eub, dlb)
    return -math.inf, math.inf


def _floordiv_bound(x: float, d: float) -> float:
    return x if math.isinf(x) else float(math.floor(x / d))


def _mul_bounds(a: tuple, b: tuple) -> tuple[float, float]:
    prods = []
    for x in a:
        for y in b:
            prods.append(0.0 if (x == 0 or y == 0) else x * y)
    return min(prods), max(prods)


def _direct_bounds(e: DimExpr) -> tuple[float, float]:
    lb = ub = 0.0
    for m, k in e._terms:
        mb: tuple[float, float] = (1.0, 1.0)
        for f, p in m:
            fb = _factor_bounds(f, e.scope)
            for _ in range(p):
                mb = _mul_bounds(mb, fb)
        tb = _mul_bounds(mb, (k, k))
        lb += tb[0]
        ub += tb[1]
    return lb, ub


def _bounds_of(e: DimSize, direct: bool = False) -> tuple[float, float]:
    if not isinstance(e, DimExpr):
        return e, e
    return _direct_bounds(e) if direct else e.bounds()


def _minmax_operands(e: Any) -> tuple[str, Any, Any] | None:
    """(kind, x, y) when ``e`` is exactly ``max(x, y)`` or ``min(x, y)``."""
    if isinstance(e, DimExpr) and len(e._terms) == 1:
        m, k = e._terms[0]
        if k == 1 and len(m) == 1 and m[0][1] == 1 and not isinstance(m[0][0], str):
            f = m[0][0]
            if f[0] in ("max", "min"):
                return f
    return None


def _decide_geq(e1: Any, e2: Any) -> bool | None:
    """``e1 >= e2`` when the bounds (or the max/min operands) decide it, else None."""
    lb, ub = _bounds_of(_sub(e1, e2))
    if lb >= 0:
        return True
    if ub < 0:
        return False
    # e1 >= max(x, y) iff e1 >= x and e1 >= y; e1 >= min(x, y) iff e1 >= x or e1 >= y;
    # and the mirrored forms when e1 is the max/min
    for side, other, flip in ((e2, e1, False), (e1, e2, True)):
        mm = _minmax_operands(side)
        if mm is None:
            continue
        kind, x, y = mm
        dx = _decide_geq(x, other) if flip else _decide_geq(other, x)
        dy = _decide_geq(y, other) if flip else _decide_geq(other, y)
        conj = (kind == "max") != flip  # a conjunction of the two comparisons
        if conj:
            if dx is False or dy is False:
                return False
            if dx and dy:
                return True
        else:
            if dx or dy:
                return True
            if dx is False and dy is False:
                return False
    return _decide_by_substitution(_sub(e1, e2))


def _decide_by_substitution(diff: Any) -> bool | None:
    """``diff >= 0`` decided through a max/min term: its value is one of its operands,
    and (with the coefficient's sign) one substitution bounds ``diff`` from below."""
    if not isinstance(diff, DimExpr):
        return None
    for m, k in diff._terms:
        if len(m) == 1 and m[0][1] == 1 and not isinstance(m[0][0], str):
            kind, x, y = m[0][0]
            rest = _sub(diff, _mul(DimExpr._factor(m[0][0], diff.scope), k))
            if kind == "floordiv" and isinstance(y, int) and y > 0 and k % y == 0:
                # y*floordiv(x, y) = x - mod(x, y), with 0 <= mod(x, y) <= y - 1
                low = _add(rest, _mul(x, k // y))
                if _decide_geq(_add(low, 0 if k < 0 else -(k // y) * (y - 1)), 0):
                    return True
                continue
            if kind == "mod" and _decide_geq(y, 1):
                # 0 <= mod(x, y) <= y - 1: the bound on the side that lowers diff
                if _decide_geq(_add(rest, 0 if k > 0 else _mul(_sub(y, 1), k)), 0):
                    return True
                continue
            if kind not in ("max", "min"):
                continue
            dx = _decide_geq(_add(rest, _mul(x, k)), 0)
            dy = _decide_geq(_add(rest, _mul(y, k)), 0)
            lower = (kind == "max") == (k > 0)  # each substitution is then <= diff
            if (lower and (dx or dy)) or (dx and dy):
                return True
            if (dx is False and dy is False) or (not lower and False in (dx, dy)):
                return False
            return None
    return None


def max_dim(a: DimSize, b: DimSize) -> DimSize:
    """``max(a, b)``: one of them when the comparison is decided, else symbolic."""
    if not isinstance(a, DimExpr) and not isinstance(b, DimExpr):
        return max(operator.index(a), operator.index(b))
    if _decide_geq(a, b):
        return a
    if _decide_geq(b, a):
        return b
    return DimExpr._factor(("max", a, b), _scope_of(a, b, "for operation max"))


def min_dim(a: DimSize, b: DimSize) -> DimSize:
    """``min(a, b)``: one of them when the comparison is decided, else symbolic."""
    if not isinstance(a, DimExpr) and not isinstance(b, DimExpr):
        return min(operator.index(a), operator.index(b))
    if _decide_geq(a, b):
        return b
    if _decide_geq(b, a):
        return a
    return DimExpr._factor(("min", a, b), _scope_of(a, b, "for operation min"))


def _geq(e1: Any, e2: Any, describe: Any) -> bool:
    if not isinstance(e1, DimExpr) and not isinstance(e2, DimExpr):
        return operator.index(e1) >= operator.index(e2)
    if isinstance(e1, DimExpr) and isinstance(e2, DimExpr) and e1.scope is not e2.scope:
        e1.scope._check_same_scope(e2, f"when comparing {describe()}")
    scope = _scope_of(e1, e2)
    decided = _decide_geq(e1, e2)
    if decided is not None:
        return decided
    where = ""
    if scope._constraints_str:
        listed = "".join(f"\n  {c}" for c in scope._constraints_str)
        where = f"\nUsing symbolic scope with constraints:{listed}"
    raise InconclusiveDimensionOperation(
        f"Symbolic dimension comparison {describe()} is inconclusive.{where}"
    )


# ---------------------------------------------------------------------------- shapes


def broadcast_shapes(*shapes: Sequence[DimSize]) -> tuple[DimSize, ...]:
    """NumPy's broadcasting of shapes that may hold symbolic dimensions."""
    nd = max((len(s) for s in shapes), default=0)
    out: list[DimSize] = []
    for i in range(nd):
        dims = [s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0]
        res: DimSize = 1
        for d in dims:
            if isinstance(d, int) and d == 1:
                continue
            if isinstance(res, int) and res == 1:
                res = d
            elif not (res == d):
                raise ValueError(
                    f"Incompatible shapes for broadcasting: shapes={[tuple(s) for s in shapes]}"
                )
        out.append(res)
    return tuple(out)


def solve_dim_vars(pairs: Sequence[tuple[Any, Any]]) -> dict:
    """Values of the dimension variables from (expression, its actual size) pairs: each
    step solves an expression linear in its one unknown variable (``b``, ``2*b + 1``),
    as JAX does; variables no such expression determines are left out. Sizes may be
    ints or any values with ``-`` and ``//`` (IR builders)."""
    env: dict = {}
    todo = sorted(
        ((e, v) for e, v in pairs if isinstance(e, DimExpr)), key=lambda p: len(p[0]._terms)
    )
    progress = True
    while progress:
        progress = False
        for e, value in todo:
            unknown = e._vars() - env.keys()
            if len(unknown) != 1:
                continue
            (var,) = unknown
            mono = ((var, 1),)
            k = dict(e._terms).get(mono)
            rest = {m: c for m, c in e._terms if m != mono}
            if k is None or any(var in DimExpr(((m, 1),), e.scope)._vars() for m in rest):
                continue
            rest_value = evaluate(DimExpr._build(rest, e.scope), env)
            # value - rest, as JAX evaluates it (adding the negated constant)
            diff = value + (-rest_value) if isinstance(rest_value, int) else value - rest_value
            if k == 1:
                env[var] = diff
                progress = True
                continue
            if isinstance(value, int) and isinstance(rest_value, int):
                remainder = (value - rest_value) % k
                if remainder:
                    raise ValueError(
                        "Input shapes do not match the polymorphic shapes specification. "
                        f"Division had remainder {remainder} when computing the value of "
                        f"'{var}'."
                    )
            env[var] = diff // k
            progress = True
    return env


def slice_indices(
    start: int | None, stop: int | None, step: int | None, size: DimSize
) -> tuple[DimSize, DimSize, int, DimSize]:
    """``slice(start, stop, step).indices(size)`` and the length, for a symbolic
    ``size``: bounds are clamped with ``min``/``max`` of dimensions (as JAX's), so the
    length of ``x[1:-1]`` is ``max(0, b - 2)``. A negative step's ``stop`` may be -1."""
    step = 1 if step is None else step
    if step == 0:
        raise ValueError("slice step cannot be zero")
    forward = step > 0

    def clamp(i: int, which: str) -> DimSize:
        try:
            nonneg = i >= 0
        except InconclusiveDimensionOperation as e:
            raise InconclusiveDimensionOperation(
                f"In slice with non-constant elements the {which} ({i}) must be "
                f"resolved statically if it is >= 0.\nDetails: {e}"
            ) from None
        if nonneg:
            return min_dim(size if forward else _sub(size, 1), i)
        return max_dim(0 if forward else -1, _add(size, i))

    lo = (0 if forward else _sub(size, 1)) if start is None else clamp(start, "start")
    hi = (size if forward else -1) if stop is None else clamp(stop, "stop")
    gap = abs(step)
    distance = _sub(hi, lo) if forward else _sub(lo, hi)
    n = _divmod(max_dim(0, _add(distance, gap - 1)), gap)[0]
    return lo, hi, step, n


def _minmax_value(kind: str, a: Any, b: Any) -> Any:
    if _is_dim(a) and _is_dim(b):
        return max_dim(a, b) if kind == "max" else min_dim(a, b)
    builder = a if not _is_dim(a) else b  # an IR value with minmax()
    return builder.minmax(kind, b if builder is a else a)


def all_dim_vars(shapes: Sequence[Sequence[Any]]) -> list[str]:
    """The dimension variables of ``shapes``, sorted by name (JAX's order)."""
    found: set = set()
    for shape in shapes:
        for d in shape:
            if isinstance(d, DimExpr):
                found |= d._vars()
    return sorted(found)


def evaluate(d: DimSize, env: dict) -> Any:
    """``d`` with each variable replaced from ``env`` (ints, or any values with +, *,
    // and % such as IR builders)."""
    if not isinstance(d, DimExpr):
        return d
    total: Any = None
    for m, k in d._terms:
        acc: Any = None
        for f, p in reversed(m):  # JAX keeps a term's factors in descending order
            if isinstance(f, str):
                if f not in env:
                    raise KeyError(f"dimension variable '{f}' has no value")
                v = env[f]
            else:
                a, b = evaluate(f[1], env), evaluate(f[2], env)
                if f[0] in ("max", "min"):
                    v = _minmax_value(f[0], a, b)
                else:
                    v = a // b if f[0] == "floordiv" else a % b
            for _ in range(p):
                acc = v if acc is None else acc * v
        acc = k if acc is None else (acc if k == 1 else acc * k)
        total = acc if total is None else total + acc
    return total
