"""Transformations of fuzzed programs and the engine-vs-JAX comparison.

A `Case` is a program, a stack of transformations (innermost first) and the arguments
(batched when vmap is in the stack, with tangents appended when jvp is). `run_case` builds
the same transformed function from each backend's own API and calls it; `compare` checks
values (tolerance per dtype), dtypes, weak types and error classes.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

import numpy as np

from tests.fuzz_programs import (
    Backend,
    Chooser,
    Input,
    Program,
    array_data,
    draw_program,
    engine_backend,
    jax_backend,
)

# Innermost first: ("grad", "jit") is jit(grad(f)).
TRANSFORMS: tuple[tuple[str, ...], ...] = (
    (),
    ("jit",),
    ("grad",),
    ("vmap",),
    ("jvp",),
    ("grad", "jit"),
    ("jit", "grad"),
    ("grad", "vmap"),
    ("vmap", "grad"),
    ("vmap", "jit"),
    ("jit", "vmap"),
    ("jvp", "jit"),
    ("jit", "jvp"),
    ("jvp", "vmap"),
    ("vmap", "jvp"),
    ("grad", "vmap", "jit"),
    ("jvp", "grad"),
    ("grad", "jvp"),
)
DIFF_DTYPES = ("float32", "float16", "bfloat16", "float64")
RTOL = {"float32": 2e-5, "float64": 2e-5, "float16": 2e-3, "bfloat16": 1.6e-2}


@dataclasses.dataclass
class Case:
    program: Program
    transform: tuple[str, ...]
    args: list[Any]  # one per program input, then one tangent per diff input under jvp
    diff: tuple[int, ...]  # argument positions that grad / jvp differentiate
    in_axes: tuple[Any, ...]

    def text(self) -> str:
        name = "f"
        for layer in self.transform:
            name = f"{layer}({name})"
        text = f"{name} with in_axes={self.in_axes}, diff={self.diff}\n{self.program.text()}"
        if "vmap" in self.transform or "jvp" in self.transform:  # the arguments differ
            args = [
                repr(a) if not isinstance(a, np.ndarray) else f"{a.dtype}{a.shape} {a.tolist()}"
                for a in self.args
            ]
            text += "\nwith arguments (inputs, then tangents):\n  " + "\n  ".join(args)
        return text


def draw_case(ch: Chooser, max_ops: int = 5, transforms=TRANSFORMS) -> Case:
    transform = ch.choice(transforms)
    differentiating = "grad" in transform or "jvp" in transform
    # extreme values give NaN derivatives everywhere; keep them mostly for the primal
    program = draw_program(ch, max_ops, specials=not differentiating or ch.boolean(0.2))
    inputs = program.inputs
    diff = tuple(
        i for i, inp in enumerate(inputs) if inp.kind == "array" and inp.dtype in DIFF_DTYPES
    )
    if differentiating and not diff:
        transform = tuple(t for t in transform if t not in ("grad", "jvp"))
    batch = ch.choice((2, 3)) if "vmap" in transform else 0
    in_axes: list[Any] = []
    args: list[Any] = []
    for inp in inputs:
        batched = batch and inp.kind == "array" and ch.boolean(0.75)
        in_axes.append(0 if batched else None)
        args.append(_data(ch, inp, batch if batched else 0))
    if batch and all(a is None for a in in_axes):
        first = next((i for i, inp in enumerate(inputs) if inp.kind == "array"), None)
        if first is None:
            transform = tuple(t for t in transform if t != "vmap")
        else:
            in_axes[first] = 0
            args[first] = _data(ch, inputs[first], batch)
    if "jvp" in transform:
        for i in diff:
            in_axes.append(in_axes[i])
            args.append(_data(ch, inputs[i], batch if in_axes[i] == 0 else 0, specials=False))
    return Case(
        program,
        transform,
        args,
        diff if "grad" in transform or "jvp" in transform else (),
        tuple(in_axes),
    )


def _data(ch: Chooser, inp: Input, batch: int, specials: bool = True) -> Any:
    if inp.kind == "scalar":
        return inp.value
    if not batch:
        return inp.value if specials else array_data(ch, inp.dtype, inp.shape, False)
    return array_data(ch, inp.dtype, (batch,) + inp.shape, specials)


def _loss(b: Backend, out: Any) -> Any:
    total = 0.0
    for leaf in b.api.tree_util.tree_leaves(out):
        if np.dtype(getattr(leaf, "dtype", np.float32)).kind == "V":
            continue  # a float0 tangent (of an integer or bool output) carries nothing
        leaf = b.jnp.asarray(leaf)
        if not b.jnp.issubdtype(leaf.dtype, b.jnp.floating):
            leaf = leaf.astype("float32")
        total = total + b.jnp.sum(leaf)
    return total


def build(b: Backend, case: Case):
    n_inputs = len(case.program.inputs)
    diff = case.diff

    def base(*all_args):
        args = all_args[:n_inputs]
        if not case.transform:  # eager: start from device arrays, not NumPy's
            args = [b.jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        return case.program.run(b, *args)

    def with_diff(f, all_args, d):
        merged = list(all_args)
        for i, v in zip(diff, d):
            merged[i] = v
        return f(*merged)

    f = base
    for layer in case.transform:
        if layer == "jit":
            f = b.api.jit(f)
        elif layer == "vmap":
            f = b.api.vmap(f, in_axes=case.in_axes)
        elif layer == "grad":

            def f(*all_args, _f=f):
                g = b.api.grad(
                    lambda *d: _loss(b, with_diff(_f, all_args, d)), argnums=tuple(range(len(diff)))
                )
                return g(*[all_args[i] for i in diff])

        elif layer == "jvp":

            def f(*all_args, _f=f):
                primals = [all_args[i] for i in diff]
                tangents = [all_args[n_inputs + k] for k in range(len(diff))]
                return b.api.jvp(lambda *d: with_diff(_f, all_args, d), primals, tangents)

    return f


@dataclasses.dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run_case(b: Backend, case: Case) -> Outcome:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = build(b, case)(*case.args)
            leaves = b.api.tree_util.tree_leaves(out)
            return Outcome(
                [(np.asarray(x), getattr(x, "weak_type", None), type(x).__name__) for x in leaves]
            )
        except Exception as e:  # noqa: BLE001 - errors are part of what is compared
            return Outcome(error=e)


BUILTIN_ERRORS = (
    IndexError,
    KeyError,
    ZeroDivisionError,
    OverflowError,
    NotImplementedError,
    FloatingPointError,
    TypeError,
    ValueError,
    RuntimeError,
)


def _error_family(e: BaseException) -> str:
    for cls in BUILTIN_ERRORS:
        if isinstance(e, cls):
            return cls.__name__
    return type(e).__name__


def compare(case: Case, eng: Outcome, ref: Outcome) -> list[str]:
    """Differences between the engine's outcome and JAX's, as readable lines."""
    if ref.error is not None or eng.error is not None:
        if eng.error is None:
            return [f"JAX raised {type(ref.error).__name__}: {_short(ref.error)}; engine did not"]
        if ref.error is None:
            return [f"engine raised {type(eng.error).__name__}: {_short(eng.error)}; JAX did not"]
        same = type(eng.error).__name__ == type(ref.error).__name__
        if not same and _error_family(eng.error) != _error_family(ref.error):
            return [
                f"error class: engine {type(eng.error).__name__}: {_short(eng.error)} | "
                f"JAX {type(ref.error).__name__}: {_short(ref.error)}"
            ]
        return []
    problems: list[str] = []
    if len(eng.value) != len(ref.value):
        return [f"output count: engine {len(eng.value)}, JAX {len(ref.value)}"]
    exact_zeros = not any(t in ("grad", "jvp") for t in case.transform)
    for k, ((a, a_weak, a_type), (e, e_weak, e_type)) in enumerate(zip(eng.value, ref.value)):
        where = f"output {k}"
        if a.shape != e.shape:
            problems.append(f"{where} shape: engine {a.shape}, JAX {e.shape}")
            continue
        if a.dtype != e.dtype:
            problems.append(f"{where} dtype: engine {a.dtype}, JAX {e.dtype}")
            continue
        if bool(a_weak) != bool(e_weak):
            problems.append(f"{where} weak_type: engine {a_weak}, JAX {e_weak}")
        if (a_type in ("float", "int", "bool")) != (e_type in ("float", "int", "bool")):
            problems.append(f"{where} type: engine {a_type}, JAX {e_type}")
        problems += _values(where, a, e, exact_zeros)
    return problems


def _values(where: str, a: np.ndarray, e: np.ndarray, exact_zeros: bool) -> list[str]:
    if a.dtype.kind not in "fcV" and str(a.dtype) != "bfloat16":
        if not np.array_equal(a, e):
            return [f"{where} values: engine {a.tolist()} JAX {e.tolist()}"]
        return []
    if a.dtype.kind == "V":
        return []
    with np.errstate(all="ignore"):
        return _float_values(where, a, e, exact_zeros)


def _float_values(where: str, a: np.ndarray, e: np.ndarray, exact_zeros: bool) -> list[str]:
    rtol = RTOL.get(str(a.dtype), 2e-5)
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    finite = np.isfinite(e64)
    scale = max(1.0, float(np.max(np.abs(e64[finite]), initial=0.0)))
    bad = ~(
        (np.isnan(a64) & np.isnan(e64))
        | (a64 == e64)
        | (np.abs(a64 - e64) <= rtol * np.abs(e64) + 4 * rtol * scale * 1e-2)
    )
    problems = []
    if exact_zeros:
        zeros = (a64 == 0) & (e64 == 0)
        wrong_sign = zeros & (np.signbit(a64) != np.signbit(e64))
        if wrong_sign.any():
            idx = tuple(int(i) for i in np.argwhere(wrong_sign)[0])
            problems.append(
                f"{where} zero sign differs at {idx}: engine {a64[idx]!r} JAX {e64[idx]!r}"
            )
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        problems.append(
            f"{where} values differ at {idx}: engine {a64[idx]!r} JAX {e64[idx]!r} "
            f"({int(bad.sum())} of {bad.size}, dtype {a.dtype})"
        )
    return problems


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text[:160]


def check_case(case: Case) -> list[str]:
    """Run a case through both backends; the list of differences (empty when equal)."""
    ref = run_case(jax_backend(), case)
    eng = run_case(engine_backend(), case)
    return compare(case, eng, ref)


# Divergences accepted on purpose: (an op in the program, regex a problem line must match, why).
KNOWN_DIVERGENCES = (
    (
        "lax.select",
        r"error class: engine TypeError: select (cases must have the same shapes|`which` must)"
        r".* \| JAX AssertionError",
        "lax.select whose cases differ in shape, under vmap: JAX's select batching rule "
        "fails an internal assert (AssertionError, a JAX bug); the engine raises the "
        "TypeError that JAX itself raises for the same call unbatched",
    ),
    (
        "lax.cumlogsumexp",
        r"error class: engine TypeError: cumlogsumexp does not accept dtype .* \| JAX OverflowError"
        r"|engine raised TypeError: cumlogsumexp does not accept dtype .*; JAX did not",
        "on integers JAX fails by accident (its -inf initial value cast to an integer) or, "
        "under vmap, computes; the engine always raises a TypeError naming the dtype",
    ),
)


def known_divergence(case: Case, problems: list[str]) -> str | None:
    """The reason, when the problems are exactly accepted divergences."""
    names = {n.name for n in case.program.ops}
    for op_name, pattern, why in KNOWN_DIVERGENCES:
        if op_name in names and all(re.match(pattern, p) for p in problems):
            return why
    return None


# Engine bugs the fuzzer found that need more than a local fix, each pinned by an xfail
# test in tests/test_fuzz_differential.py: (regex every problem line matches, why). Empty
# since session 4 fixed the three it held (float0 across jit, grad of a scan with an
# unused output, grad past an unused while_loop; tests/test_known_bugs_s4.py).
KNOWN_BUGS: tuple[tuple[str, str], ...] = ()


def known_bug(problems: list[str]) -> str | None:
    for pattern, why in KNOWN_BUGS:
        if problems and all(re.search(pattern, p) for p in problems):
            return why
    return None
