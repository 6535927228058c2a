"""Random small programs for the differential fuzzer (tests/test_fuzz_differential.py and
scripts/fuzz_long.py).

A program is data: inputs (arrays of a dtype, or Python scalars, which are weak typed) and
a list of operations on earlier values. The same program runs through the engine and
through real JAX (`Backend`), so neither side's code builds the other's. Choices come
from a `Chooser`: hypothesis's `data.draw` in the test suite, a seeded `random.Random`
in the long script, so every program of the long run is reproducible from its seed.

Shapes and dtypes of intermediate values are tracked with real JAX's `eval_shape`
(the oracle's abstract evaluation), so most drawn operations are valid; a few invalid
ones are kept on purpose, to compare error classes.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import random
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES = ("float32", "float16", "bfloat16")
INPUT_DTYPES = ("float32", "float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool")
# NumPy's 64-bit inputs are canonicalised to 32 bits with x64 off, in both.
RARE_DTYPES = ("float64", "int64", "uint32", "int16")
CAST_DTYPES = ("float32", "float16", "bfloat16", "int32", "int8", "uint8", "bool", "uint32")


def np_dtype(name: str) -> np.dtype:
    return BF16 if name == "bfloat16" else np.dtype(name)


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, options: Sequence[Any]) -> Any: ...
    def boolean(self, p: float = 0.5) -> bool: ...


class RandomChooser:
    """Choices from a seeded random.Random (the long profile)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def boolean(self, p: float = 0.5) -> bool:
        return self.rng.random() < p


class HypothesisChooser:
    """Choices drawn through hypothesis (the fast, derandomized CI profile)."""

    def __init__(self, data: Any):
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.data.draw(self.st.integers(0, len(options) - 1))]

    def boolean(self, p: float = 0.5) -> bool:
        return self.data.draw(self.st.integers(0, 999)) < int(p * 1000)


@dataclasses.dataclass(frozen=True)
class Backend:
    """One side of the comparison: the engine or real JAX."""

    name: str
    api: Any
    jnp: Any
    lax: Any


def engine_backend() -> Backend:
    import engine

    return Backend("engine", engine, engine.numpy, engine.lax)


def jax_backend() -> Backend:
    from tests.helpers import real_jax

    jax, jnp = real_jax()
    return Backend("jax", jax, jnp, jax.lax)


@dataclasses.dataclass
class Input:
    """A program input: a NumPy array (kind 'array') or a Python scalar (kind 'scalar')."""

    kind: str
    dtype: str
    shape: tuple[int, ...]
    value: Any

    def text(self) -> str:
        if self.kind == "scalar":
            return repr(self.value)
        flat = np.asarray(self.value).astype(np.float64 if self.dtype != "bool" else bool)
        return f"np.array({flat.tolist()!r}, {self.dtype})"


@dataclasses.dataclass
class Op:
    name: str
    args: tuple[int, ...]
    params: dict[str, Any]

    def text(self, out: int) -> str:
        args = ", ".join(f"v{i}" for i in self.args)
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"v{out} = {self.name}({args}{', ' if params and args else ''}{params})"


@dataclasses.dataclass
class Program:
    """Nodes in value-id order: each an Input (the next argument) or an Op on earlier ids."""

    nodes: list[Input | Op]
    outputs: tuple[int, ...]

    @property
    def inputs(self) -> list[Input]:
        return [n for n in self.nodes if isinstance(n, Input)]

    @property
    def ops(self) -> list[Op]:
        return [n for n in self.nodes if isinstance(n, Op)]

    def text(self) -> str:
        lines = [
            n.text(i) if isinstance(n, Op) else f"v{i} = {n.text()}"
            for i, n in enumerate(self.nodes)
        ]
        lines.append("return " + ", ".join(f"v{i}" for i in self.outputs))
        return "\n".join(lines)

    def run(self, backend: Backend, *args: Any) -> Any:
        arg_iter, values = iter(args), []
        for n in self.nodes:
            if isinstance(n, Input):
                values.append(next(arg_iter))
            else:
                values.append(OPS[n.name].apply(backend, [values[i] for i in n.args], n.params))
        outs = tuple(values[i] for i in self.outputs)
        return outs[0] if len(outs) == 1 else outs


# ---- input data ---------------------------------------------------------------------

FLOAT_SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 0.5, 65504.0, 1e-8)
PY_LITERALS = (0, 1, -1, 2, 3, 0.5, -0.0, 2.5, 1e30, 300, -129, True, False, math.nan, math.inf)


def array_data(ch: Chooser, dtype: str, shape: tuple[int, ...], specials: bool) -> np.ndarray:
    rng = np.random.RandomState(ch.integer(0, 2**16))
    dt = np_dtype(dtype)
    if dtype == "bool":
        return rng.random_sample(shape) > 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = max(int(info.min), -20), min(int(info.max), 20)
        data = rng.randint(lo, hi + 1, size=shape).astype(dt)
        if specials and data.size:
            extremes = np.array([info.min, info.max, 0, 1], dtype=dt)
            mask = rng.random_sample(shape) < 0.3
            data[mask] = rng.choice(extremes, size=int(mask.sum()))
        return data
    data = rng.uniform(-3, 3, size=shape)
    if specials and data.size:
        mask = rng.random_sample(shape) < 0.25
        data[mask] = rng.choice(np.array(FLOAT_SPECIALS), size=int(mask.sum()))
    return data.astype(dt)


def draw_shape(ch: Chooser, max_rank: int = 3) -> tuple[int, ...]:
    rank = ch.choice((0, 1, 1, 2, 2, 3)[: max_rank * 2])
    return tuple(ch.choice((1, 2, 3, 4)) for _ in range(rank))


def broadcastable_shape(ch: Chooser, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with `shape`: a suffix, with some dims set to 1."""
    suffix = shape[ch.integer(0, len(shape)) :] if shape else ()
    out = tuple(1 if ch.boolean(0.25) else d for d in suffix)
    if ch.boolean(0.15):
        out = (ch.choice((1, 2)),) + out
    return out


# ---- operations ---------------------------------------------------------------------


class Skip(Exception):
    """The drawn operation does not apply to the drawn operands."""


@dataclasses.dataclass
class Spec:
    shape: tuple[int, ...]
    dtype: str
    weak: bool


class Context:
    """What an operation's parameter chooser may do: read operand specs, add inputs."""

    def __init__(self, ch: Chooser, specials: bool):
        self.ch, self.specials = ch, specials
        self.nodes: list[Input | Op] = []
        self.specs: list[Spec] = []

    def truncate(self, n: int) -> None:
        del self.nodes[n:], self.specs[n:]

    def new_array(self, shape: tuple[int, ...], dtype: str | None = None) -> int:
        dtype = dtype or self.ch.choice(INPUT_DTYPES)
        data = array_data(self.ch, dtype, shape, self.specials)
        self.nodes.append(Input("array", dtype, shape, data))
        self.specs.append(Spec(shape, str(np_dtype(dtype)), False))
        return len(self.specs) - 1

    def new_scalar(self) -> int:
        value = self.ch.choice(PY_LITERALS)
        self.nodes.append(Input("scalar", type(value).__name__, (), value))
        dtype = {bool: "bool", int: "int32", float: "float32"}[type(value)]
        self.specs.append(Spec((), dtype, type(value) is not bool))
        return len(self.specs) - 1


@dataclasses.dataclass
class OpDef:
    name: str
    arity: int
    apply: Callable[[Backend, list[Any], dict[str, Any]], Any]
    params: Callable[[Context, list[Spec]], dict[str, Any]] = lambda ctx, specs: {}
    # extra operands this op adds as fresh inputs, given its first operand's spec
    extra: Callable[[Context, Spec], list[int]] | None = None
    weight: int = 1


OPS: dict[str, OpDef] = {}


def op(name: str, arity: int = 1, weight: int = 1, params=None, extra=None):
    def register(apply):
        OPS[name] = OpDef(name, arity, apply, params or (lambda ctx, specs: {}), extra, weight)
        return apply

    return register


UNARY_JNP = (
    "sin cos tan tanh exp log sqrt abs negative sign floor ceil round square log1p expm1 "
    "arctan arcsinh arcsin arccos arctanh sinh cosh reciprocal isnan isinf isfinite "
    "logical_not invert signbit exp2 log2 cbrt trunc positive sinc rint"
).split()
UNARY_LAX = "logistic rsqrt erf erf_inv lgamma digamma neg population_count clz".split()
UNARY_NN = "relu softplus sigmoid silu gelu".split()

for _name in UNARY_JNP:
    op(f"jnp.{_name}", weight=1)(lambda b, a, p, _n=_name: getattr(b.jnp, _n)(a[0]))
for _name in UNARY_LAX:
    op(f"lax.{_name}")(lambda b, a, p, _n=_name: getattr(b.lax, _n)(a[0]))
for _name in UNARY_NN:
    op(f"nn.{_name}")(lambda b, a, p, _n=_name: getattr(b.api.nn, _n)(a[0]))

op("lax.integer_pow", params=lambda ctx, s: {"y": ctx.ch.choice((-2, 0, 2, 3))})(
    lambda b, a, p: b.lax.integer_pow(a[0], p["y"])
)

BINARY_OPERATORS = "add sub mul truediv floordiv mod pow lt le eq ne gt and_ or_ xor".split()
BINARY_OPERATORS += ["lshift", "rshift"]
BINARY_JNP = (
    "maximum minimum arctan2 logaddexp hypot copysign fmod power nextafter divide "
    "floor_divide remainder bitwise_and logical_and logical_or logical_xor ldexp "
    "greater_equal not_equal right_shift"
).split()
BINARY_LAX = "add mul max min div rem pow atan2 shift_right_logical nextafter".split()


def second_operand(ctx: Context, first: Spec) -> list[int]:
    """The other operand of a binary op: an existing value, a fresh array that
    broadcasts, or a Python scalar (weak typed)."""
    how = ctx.ch.integer(0, 3)
    if how == 0:
        return [ctx.ch.integer(0, len(ctx.specs) - 1)]
    if how == 1:
        same = ctx.ch.boolean(0.5)
        dtype = first.dtype if same and first.dtype in INPUT_DTYPES else None
        return [ctx.new_array(broadcastable_shape(ctx.ch, first.shape), dtype)]
    return [ctx.new_scalar()]


def swap_param(ctx: Context, specs: list[Spec]) -> dict[str, Any]:
    return {"swap": ctx.ch.boolean(0.3)}


def _binary(fn):
    return lambda b, a, p: fn(b, a[1], a[0]) if p["swap"] else fn(b, a[0], a[1])


for _name in BINARY_OPERATORS:
    op(f"operator.{_name}", 2, weight=2, params=swap_param, extra=second_operand)(
        _binary(lambda b, x, y, _n=_name: getattr(operator, _n)(x, y))
    )
for _name in BINARY_JNP:
    op(f"jnp.{_name}", 2, params=swap_param, extra=second_operand)(
        _binary(lambda b, x, y, _n=_name: getattr(b.jnp, _n)(x, y))
    )
for _name in BINARY_LAX:
    op(f"lax.{_name}", 2, params=swap_param, extra=second_operand)(
        _binary(lambda b, x, y, _n=_name: getattr(b.lax, _n)(x, y))
    )


def axis_param(ctx: Context, specs: list[Spec], allow_none: bool = True) -> Any:
    ndim = len(specs[0].shape)
    if ndim == 0 or (allow_none and ctx.ch.boolean(0.3)):
        return None
    return ctx.ch.integer(-ndim, ndim - 1)


REDUCTIONS = "sum prod max min mean any all var std nansum".split()
for _name in REDUCTIONS:
    op(
        f"jnp.{_name}",
        weight=1,
        params=lambda ctx, s: {"axis": axis_param(ctx, s), "keepdims": ctx.ch.boolean(0.3)},
    )(lambda b, a, p, _n=_name: getattr(b.jnp, _n)(a[0], **p))
for _name in ("argmax", "argmin"):
    op(f"jnp.{_name}", params=lambda ctx, s: {"axis": axis_param(ctx, s)})(
        lambda b, a, p, _n=_name: getattr(b.jnp, _n)(a[0], **p)
    )
for _name in ("cumsum", "cumprod"):
    op(f"jnp.{_name}", params=lambda ctx, s: {"axis": axis_param(ctx, s)})(
        lambda b, a, p, _n=_name: getattr(b.jnp, _n)(a[0], **p)
    )
for _name in ("cummax", "cummin", "cumsum", "cumlogsumexp"):
    op(
        f"lax.{_name}",
        params=lambda ctx, s: {
            "axis": ctx.ch.integer(0, max(len(s[0].shape) - 1, 0)),
            "reverse": ctx.ch.boolean(0.3),
        },
    )(lambda b, a, p, _n=_name: getattr(b.lax, _n)(a[0], **p))
op("logsumexp", params=lambda ctx, s: {"axis": axis_param(ctx, s)})(
    lambda b, a, p: b.api.scipy.special.logsumexp(a[0], **p)
)


def reshape_params(ctx: Context, specs: list[Spec]) -> dict[str, Any]:
    size = math.prod(specs[0].shape)
    dims, rest = [], size
    for f in (2, 3, 2, 2):
        if rest % f == 0 and ctx.ch.boolean(0.5):
            dims.append(f)
            rest //= f
    dims.append(rest)
    random.Random(ctx.ch.integer(0, 99)).shuffle(dims)
    if ctx.ch.boolean(0.3):
        dims[ctx.ch.integer(0, len(dims) - 1)] = -1
    return {"shape": tuple(dims)}


def perm_params(ctx: Context, specs: list[Spec]) -> dict[str, Any]:
    perm = list(range(len(specs[0].shape)))
    random.Random(ctx.ch.integer(0, 99)).shuffle(perm)
    return {"axes": tuple(perm)}


op("reshape", params=reshape_params)(lambda b, a, p: b.jnp.reshape(a[0], p["shape"]))
op("transpose", params=perm_params)(lambda b, a, p: b.jnp.transpose(a[0], p["axes"]))
op("expand_dims", params=lambda ctx, s: {"axis": ctx.ch.integer(-1, len(s[0].shape))})(
    lambda b, a, p: b.jnp.expand_dims(a[0], p["axis"])
)
op("squeeze")(lambda b, a, p: b.jnp.squeeze(a[0]))
op("flip", params=lambda ctx, s: {"axis": axis_param(ctx, s)})(
    lambda b, a, p: b.jnp.flip(a[0], p["axis"])
)
op("roll", params=lambda ctx, s: {"shift": ctx.ch.integer(-3, 3), "axis": axis_param(ctx, s)})(
    lambda b, a, p: b.jnp.roll(a[0], p["shift"], p["axis"])
)
op("concatenate_self", params=lambda ctx, s: {"axis": axis_param(ctx, s, allow_none=False)})(
    lambda b, a, p: b.jnp.concatenate([a[0], a[0]], axis=p["axis"] or 0)
)
op("stack", 2, extra=second_operand)(lambda b, a, p: b.jnp.stack([a[0], a[1]]))
op("broadcast_to", params=lambda ctx, s: {"lead": ctx.ch.choice((1, 2, 3))})(
    lambda b, a, p: b.jnp.broadcast_to(a[0], (p["lead"],) + b.jnp.shape(a[0]))
)
op("sort", params=lambda ctx, s: {"axis": axis_param(ctx, s, allow_none=False) or -1})(
    lambda b, a, p: b.jnp.sort(a[0], axis=p["axis"])
)
op("argsort", params=lambda ctx, s: {"axis": axis_param(ctx, s, allow_none=False) or -1})(
    lambda b, a, p: b.jnp.argsort(a[0], axis=p["axis"])
)
op("pad", params=lambda ctx, s: {"w": ctx.ch.integer(0, 2), "v": ctx.ch.choice((0, 1.5, -1))})(
    lambda b, a, p: b.jnp.pad(a[0], p["w"], constant_values=p["v"])
)


def index_params(ctx: Context, specs: list[Spec]) -> dict[str, Any]:
    """A NumPy-style index: ints (sometimes out of range), slices, None, an int array."""
    index: list[Any] = []
    for d in specs[0].shape[: ctx.ch.integer(0, len(specs[0].shape))]:
        kind = ctx.ch.integer(0, 4)
        if kind == 0:
            index.append(ctx.ch.integer(-d - (1 if ctx.ch.boolean(0.05) else 0), d - 1))
        elif kind == 1:
            step = ctx.ch.choice((None, 1, 2, -1))
            index.append(slice(ctx.ch.choice((None, 0, 1, -1)), ctx.ch.choice((None, 2, -1)), step))
        elif kind == 2:
            index.append(None)
        elif kind == 3:
            index.append(tuple(ctx.ch.integer(-d, d - 1) for _ in range(ctx.ch.integer(1, 3))))
        else:
            index.append(slice(None))
    return {"index": tuple(index)}


def _index(index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(np.array(i, np.int32) if isinstance(i, tuple) else i for i in index)


op("getitem", weight=2, params=index_params)(lambda b, a, p: a[0][_index(p["index"])])
for _method in ("set", "add", "mul", "min", "max"):
    op(
        f"at.{_method}",
        params=lambda ctx, s: {
            **index_params(ctx, s),
            "value": ctx.ch.choice((0, 1, -2, 0.5, True)),
        },
    )(lambda b, a, p, _m=_method: getattr(a[0].at[_index(p["index"])], _m)(p["value"]))


def matmul_operand(ctx: Context, first: Spec) -> list[int]:
    if not first.shape:
        raise Skip
    k = first.shape[-1]
    shape = (k,) if ctx.ch.boolean(0.3) else (k, ctx.ch.choice((1, 2, 3)))
    dtype = first.dtype if first.dtype in INPUT_DTYPES and ctx.ch.boolean(0.7) else None
    return [ctx.new_array(shape, dtype)]


op("jnp.matmul", 2, weight=2, extra=matmul_operand)(lambda b, a, p: b.jnp.matmul(a[0], a[1]))
op("jnp.dot", 2, extra=matmul_operand)(lambda b, a, p: b.jnp.dot(a[0], a[1]))
op("operator.matmul", 2, extra=matmul_operand)(lambda b, a, p: a[0] @ a[1])


def where_operand(ctx: Context, first: Spec) -> list[int]:
    return second_operand(ctx, first)


op(
    "jnp.where",
    2,
    weight=2,
    params=lambda ctx, s: {"t": ctx.ch.choice((0, 1, 0.5, -1))},
    extra=where_operand,
)(lambda b, a, p: b.jnp.where(a[0] > p["t"], a[0], a[1]))
op("lax.select", 2, extra=where_operand)(
    lambda b, a, p: b.lax.select(b.jnp.broadcast_to(a[0] > 0, b.jnp.shape(a[0])), a[0], a[1])
)
op(
    "jnp.clip",
    params=lambda ctx, s: {
        "lo": ctx.ch.choice((-1, 0, -0.5, None)),
        "hi": ctx.ch.choice((1, 2.5, None)),
    },
)(lambda b, a, p: b.jnp.clip(a[0], p["lo"], p["hi"]))
op("astype", weight=2, params=lambda ctx, s: {"dtype": ctx.ch.choice(CAST_DTYPES)})(
    lambda b, a, p: b.jnp.asarray(a[0]).astype(p["dtype"])
)
op("lax.convert_element_type", params=lambda ctx, s: {"dtype": ctx.ch.choice(CAST_DTYPES)})(
    lambda b, a, p: b.lax.convert_element_type(a[0], np_dtype(p["dtype"]))
)

# ---- control flow: branch bodies are unary jnp functions ----------------------------

BODIES = ("sin", "cos", "negative", "abs", "square", "tanh", "floor", "exp", "sign")


def body_params(ctx: Context, specs: list[Spec]) -> dict[str, Any]:
    return {"f": ctx.ch.choice(BODIES), "g": ctx.ch.choice(BODIES), "n": ctx.ch.integer(0, 3)}


op("lax.cond", weight=2, params=body_params)(
    lambda b, a, p: b.lax.cond(
        b.jnp.sum(a[0]) > 0, getattr(b.jnp, p["f"]), getattr(b.jnp, p["g"]), a[0]
    )
)
op("lax.switch", params=body_params)(
    lambda b, a, p: b.lax.switch(
        b.jnp.sum(a[0]).astype("int32"),
        [getattr(b.jnp, p["f"]), getattr(b.jnp, p["g"]), b.jnp.negative],
        a[0],
    )
)
op("lax.fori_loop", weight=2, params=body_params)(
    lambda b, a, p: b.lax.fori_loop(0, p["n"], lambda i, c: getattr(b.jnp, p["f"])(c) * 0.5, a[0])
)
op("lax.while_loop", params=body_params)(
    lambda b, a, p: b.lax.while_loop(
        lambda s: s[0] < p["n"], lambda s: (s[0] + 1, getattr(b.jnp, p["f"])(s[1])), (0, a[0])
    )[1]
)
op("lax.scan", weight=2, params=body_params)(
    lambda b, a, p: b.lax.scan(lambda c, x: (c + x, getattr(b.jnp, p["f"])(c * x)), a[0][0], a[0])[
        p["n"] % 2
    ]
)
op("lax.map", params=body_params)(lambda b, a, p: b.lax.map(getattr(b.jnp, p["f"]), a[0]))

OP_NAMES = tuple(name for name, d in OPS.items() for _ in range(d.weight))


# ---- programs ------------------------------------------------------------------------


def draw_input(ctx: Context) -> int:
    if ctx.ch.boolean(0.15):
        return ctx.new_scalar()
    dtype = ctx.ch.choice(RARE_DTYPES) if ctx.ch.boolean(0.05) else ctx.ch.choice(INPUT_DTYPES)
    return ctx.new_array(draw_shape(ctx.ch), dtype)


def abstract_eval(opdef: OpDef, specs: list[Spec], params: dict[str, Any]) -> list[Spec]:
    """Specs of the op's outputs (one per leaf), by real JAX's eval_shape."""
    backend = jax_backend()
    structs = [
        backend.api.ShapeDtypeStruct(s.shape, np_dtype(s.dtype), weak_type=s.weak) for s in specs
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX's FutureWarnings on scatter casts, overflow...
        out = backend.api.eval_shape(lambda *xs: opdef.apply(backend, list(xs), params), *structs)
    return [
        Spec(tuple(o.shape), str(o.dtype), bool(o.weak_type))
        for o in backend.api.tree_util.tree_leaves(out)
    ]


def draw_program(ch: Chooser, max_ops: int = 5, specials: bool = True) -> Program:
    """A random program of up to max_ops operations; it may end in an invalid op (to
    compare errors) with a small probability."""
    ctx = Context(ch, specials)
    specs = ctx.specs
    for _ in range(ch.integer(1, 2)):
        draw_input(ctx)
    n_ops = 0
    for _ in range(ch.integer(1, max_ops)):
        for _attempt in range(6):
            opdef = OPS[ch.choice(OP_NAMES)]
            last = len(specs) - 1
            first = last if ch.boolean(0.6) else ch.integer(0, last)
            if specs[first].shape == () and opdef.name in ("lax.scan", "lax.map"):
                continue
            saved = len(specs)
            try:
                args = [first] + (opdef.extra(ctx, specs[first]) if opdef.extra else [])
                params = opdef.params(ctx, [specs[i] for i in args])
            except Skip:
                ctx.truncate(saved)
                continue
            try:
                out_specs = abstract_eval(opdef, [specs[i] for i in args], params)
            except Exception:
                if ch.boolean(0.1):  # keep an invalid program: errors are compared too
                    ctx.nodes.append(Op(opdef.name, tuple(args), params))
                    return Program(ctx.nodes, (len(ctx.nodes) - 1,))
                ctx.truncate(saved)
                continue
            if len(out_specs) != 1:
                ctx.truncate(saved)
                continue
            ctx.nodes.append(Op(opdef.name, tuple(args), params))
            specs.append(out_specs[0])
            n_ops += 1
            break
    if not n_ops:
        ctx.nodes.append(Op("jnp.negative", (len(specs) - 1,), {}))
        specs.append(specs[-1])
    out: tuple[int, ...] = (len(ctx.nodes) - 1,)
    if n_ops > 1 and ch.boolean(0.2) and isinstance(ctx.nodes[-2], Op):
        out = (len(ctx.nodes) - 2, len(ctx.nodes) - 1)
    return Program(ctx.nodes, out)
