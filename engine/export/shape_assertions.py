"""The checks a polymorphic export makes on its callers' shapes, with JAX's messages.

Solving the dimension variables from the argument shapes (as JAX does: repeatedly use
an input dimension that is linear in one unknown variable) yields the checks a call
must pass: each variable is >= 1, a division by a variable's coefficient leaves no
remainder, dimensions that need no solving agree with the specification, and the
scope's explicit constraints hold. Each check is a comparison of dimension expressions
over the variables and over the actual argument sizes (named like
``args[0].shape[1]``), with a message made of text and expressions.

The same checks are made in Python on concrete shapes (``check_call_shapes``) and
emitted into the exported module as ``stablehlo.custom_call @shape_assertion``
(``emit_shape_assertions``), so JAX, calling an engine artifact, reports a bad shape
with the same words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from . import shape_poly
from .shape_poly import DimExpr

_TRAILER = (
    ". Please see https://docs.jax.dev/en/latest/export/shape_poly.html"
    "#shape-assertion-errors for more details."
)


class Check(NamedTuple):
    op: str  # "==" or ">="
    left: Any  # dimension expressions (or ints)
    right: Any
    pieces: tuple  # message text (str) and expressions whose values it shows


def _var(name: str, scope: Any) -> DimExpr:
    return DimExpr(((((name, 1),), 1),), scope)


def _spec_text(shape: Sequence[Any]) -> str:
    dims = ", ".join(str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def _explicit_constraints(scope: Any) -> list[tuple[str, str, Any]]:
    """(text, op, difference) of each constraint, as JAX words it: ``a >= b`` gives
    ``a - b``, ``a <= b`` gives ``b - a``, ``a == b`` gives ``a - b``."""
    from .shape_parse import parse_expr

    free = shape_poly.SymbolicScope()  # without the rules, so ``a == b`` is not reduced
    out = []
    for c in scope._constraints_str:
        op = next(o for o in ("==", ">=", "<=") if o in c)
        left, right = c.split(op, 1)
        e1, e2 = parse_expr(left, free, c), parse_expr(right, free, c)
        diff = shape_poly._sub(e2, e1) if op == "<=" else shape_poly._sub(e1, e2)
        out.append((c.strip(), "==" if op == "==" else ">=", diff))
    return out


def shape_checks(avals: Sequence[Any], arg_names: Sequence[str]) -> list[Check]:
    """The checks on the argument sizes that a call of a module with these (possibly
    symbolic) input avals must pass."""
    eqns = [
        (d, f"{arg_names[i]}.shape[{j}]")
        for i, a in enumerate(avals)
        for j, d in enumerate(a.shape)
        if isinstance(d, DimExpr)
    ]
    if not eqns:
        return []
    scope = eqns[0][0].scope
    specs = ",".join(
        f"{arg_names[i]}.shape = {_spec_text(a.shape)}"
        for i, a in enumerate(avals)
        if not shape_poly.is_constant_shape(a.shape)
    )
    specs = " Using the following polymorphic shapes specifications: " + specs + "."
    solution: list = [" Obtained dimension variables: "]
    env: dict = {}
    checks: list[Check] = []
    pending = list(eqns)
    while pending:
        left = []
        for e, name in pending:
            if not _solve_one(e, name, scope, env, solution, specs, checks):
                left.append((e, name))
        if len(left) == len(pending):
            break  # unsolvable; the export already refused such shapes
        pending = left
    for text, op, diff in _explicit_constraints(scope):
        value = shape_poly.evaluate(diff, env) if isinstance(diff, DimExpr) else diff
        words = "greater or equal" if op == ">=" else "equal"
        msg = [
            f"Input shapes do not match the symbolic shape constraint {text}. "
            f"Expected '{diff}' to be {words} to 0, but found ",
            value,
            ". " + specs,
        ]
        checks.append(Check(op, value, 0, tuple(msg + solution + [_TRAILER])))
    return checks


def _solve_one(e, name, scope, env, solution, specs, checks) -> bool:
    size = _var(name, scope)
    var = coeff = None
    for m, k in e._terms:
        term = DimExpr._build({m: k}, scope) if m else k
        try:
            size = size - shape_poly.evaluate(term, env)
            continue
        except KeyError:
            pass
        if var is None and len(m) == 1 and m[0][1] == 1 and isinstance(m[0][0], str):
            var, coeff = m[0][0], k
            continue
        return False
    if var is None:
        expected = shape_poly.evaluate(e, env)
        msg = [
            "Input shapes do not match the polymorphic shapes specification. "
            f"Found inconsistency between dimension size {name} (= ",
            _var(name, scope),
            f") and the specification '{e}' (= ",
            expected,
            ")." + specs,
        ]
        checks.append(Check("==", _var(name, scope), expected, tuple(msg + solution + [_TRAILER])))
        return True
    if coeff == 1:
        value = size
    else:
        value, rem = shape_poly._divmod(size, coeff)
        msg = [
            "Input shapes do not match the polymorphic shapes specification. "
            "Division had remainder ",
            rem,
            f" when computing the value of '{var}'." + specs,
        ]
        checks.append(Check("==", rem, 0, tuple(msg + solution + [_TRAILER])))
    env[var] = value
    solution.extend(
        [
            f"'{var}' = ",
            value,
            f" from specification '{e}' for dimension {name} (= ",
            _var(name, scope),
            "), ",
        ]
    )
    msg = [
        "Input shapes do not match the polymorphic shapes specification. "
        f"Expected value >= 1 for dimension variable '{var}'." + specs
    ]
    checks.append(Check(">=", value, 1, tuple(msg + solution + [_TRAILER])))
    return True


def _message(pieces: Sequence[Any]) -> tuple[str, list]:
    """The message with ``{k}`` for the k-th distinct expression, and the expressions."""
    index: dict = {}
    text, inputs = [], []
    for p in pieces:
        if isinstance(p, str):
            text.append(p)
            continue
        key = str(p)
        if key not in index:
            index[key] = len(inputs)
            inputs.append(p)
        text.append("{" + str(index[key]) + "}")
    return "".join(text), inputs


def _evaluate(e: Any, sizes: dict) -> Any:
    return shape_poly.evaluate(e, sizes) if isinstance(e, DimExpr) else e


def check_call_shapes(checks: Sequence[Check], sizes: dict) -> None:
    """Raise JAX's ValueError for the first check that concrete ``sizes`` (a name
    like ``args[0].shape[1]`` -> int) fail."""
    for c in checks:
        left, right = _evaluate(c.left, sizes), _evaluate(c.right, sizes)
        if (left == right) if c.op == "==" else (left >= right):
            continue
        text, inputs = _message(c.pieces)
        raise ValueError(text.format(*[_evaluate(x, sizes) for x in inputs]))


def emit_shape_assertions(checks: Sequence[Check], sizes: dict) -> None:
    """One ``stablehlo.custom_call @shape_assertion`` per check, at the insertion point;
    ``sizes`` maps each argument size name to its value (``dim_dtype()``)."""
    from .poly_lowering import _I64

    env = {k: _I64(v, weak=True, named=True) for k, v in sizes.items()}
    for c in checks:
        left = _I64.lift(_evaluate(c.left, env)).v
        right = _I64.lift(_evaluate(c.right, env)).v
        direction = hlo.ComparisonDirectionAttr.get("EQ" if c.op == "==" else "GE")
        with ir.Location.name("eq" if c.op == "==" else "ge"):  # JAX's locations
            ok = hlo.compare(
                left, right, direction, compare_type=hlo.ComparisonTypeAttr.get("SIGNED")
            )
        text, inputs = _message(c.pieces)
        # the values as they are (int64 under x64), as JAX passes them
        values = [_I64.lift(_evaluate(x, env)).v for x in inputs]
        with ir.Location.name("shape_assertion"):
            hlo.CustomCallOp(
                [],
                [ok, *values],
                "shape_assertion",
                has_side_effect=ir.BoolAttr.get(True),
                api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 2),
                backend_config=None,
            ).attributes["error_message"] = ir.StringAttr.get(text)
