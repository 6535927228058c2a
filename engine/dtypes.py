"""JAX's dtype rules: x64 canonicalization, weak types and the promotion lattice.

Python scalars (``int``, ``float``, ``complex``) are *weakly typed*: they take
the width of whatever strongly typed value they meet, so ``f16_array + 1.0``
stays float16.  Promotion is the least upper bound on a small lattice rather
than NumPy's value-based tables.  The x64 flag is read from ``config`` on
every call: with it off, 64-bit types are squeezed to 32 bits.
"""

import sys
import warnings

import ml_dtypes
import numpy as np

from .config import config

bool_ = np.dtype(np.bool_)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
uint16 = np.dtype(np.uint16)
uint32 = np.dtype(np.uint32)
uint64 = np.dtype(np.uint64)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
# The tangent type of integer and boolean primals: a zero-sized dtype.
float0 = np.dtype([("float0", np.void, 0)])

NUMERIC_DTYPES = (
    bool_,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    bfloat16,
    float16,
    float32,
    float64,
    complex64,
    complex128,
)
_VALID_DTYPES = frozenset(NUMERIC_DTYPES + (float0,))

_TO_32_BIT = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}
_PYTHON_SCALAR_TYPES = (bool, int, float, complex)
_WEAK_PYTHON_TYPES = (int, float, complex)

# ml_dtypes' narrow types are not subclasses of np.floating/np.integer, so
# np.issubdtype gets them wrong; we place them in the hierarchy by hand.
_CUSTOM_FLOAT_TYPES = frozenset(
    getattr(ml_dtypes, name)
    for name in (
        "bfloat16",
        "float4_e2m1fn",
        "float6_e2m3fn",
        "float6_e3m2fn",
        "float8_e3m4",
        "float8_e4m3",
        "float8_e4m3b11fnuz",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
        "float8_e8m0fnu",
    )
    if hasattr(ml_dtypes, name)
)
_CUSTOM_SIGNED_TYPES = frozenset(
    getattr(ml_dtypes, n) for n in ("int1", "int2", "int4") if hasattr(ml_dtypes, n)
)
_CUSTOM_UNSIGNED_TYPES = frozenset(
    getattr(ml_dtypes, n) for n in ("uint1", "uint2", "uint4") if hasattr(ml_dtypes, n)
)

_SHORT_NAMES = {
    bool_: "bool",
    int8: "i8",
    int16: "i16",
    int32: "i32",
    int64: "i64",
    uint8: "u8",
    uint16: "u16",
    uint32: "u32",
    uint64: "u64",
    bfloat16: "bf16",
    float16: "f16",
    float32: "f32",
    float64: "f64",
    complex64: "c64",
    complex128: "c128",
    float0: "float0",
}
_STRING_ALIASES = {"bf16": bfloat16, "bfloat16": bfloat16, "float0": float0}


# ---------------------------------------------------------------- extended dtypes


class extended(np.generic):  # noqa: N801 - JAX's name
    """The scalar type of extended dtypes (dtypes with no NumPy counterpart, such as
    typed PRNG keys): ``issubdtype(d, extended)`` is how code asks for one."""


class prng_key(extended):  # noqa: N801 - JAX's name
    """The scalar type of typed PRNG key dtypes (``key<fry>``)."""


class ExtendedDType:
    """A dtype that is not a NumPy dtype. Values of it are stored as arrays of
    ``physical_dtype`` with ``physical_shape`` appended to their own shape (a threefry
    key as two uint32 words); ``type`` is its scalar type (a subclass of ``extended``)."""

    type: type = extended
    name: str = "extended"
    physical_shape: tuple = ()
    physical_dtype: np.dtype = uint8
    kind = "V"
    itemsize = 0

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def is_extended(dtype) -> bool:
    return isinstance(dtype, ExtendedDType)


class TypePromotionError(ValueError):
    """Raised when two dtypes have no common type on the promotion lattice."""


# ---------------------------------------------------------------- defaults


def default_int_dtype():
    return int64 if config.jax_enable_x64 else int32


def default_uint_dtype():
    return uint64 if config.jax_enable_x64 else uint32


def default_float_dtype():
    return float64 if config.jax_enable_x64 else float32


def default_complex_dtype():
    return complex128 if config.jax_enable_x64 else complex64


_DEFAULT_FOR_KIND = {
    "b": lambda: bool_,
    "i": default_int_dtype,
    "u": default_uint_dtype,
    "f": default_float_dtype,
    "c": default_complex_dtype,
}


def _default_for(dtype):
    kind = "f" if dtype.type in _CUSTOM_FLOAT_TYPES else dtype.kind
    return _DEFAULT_FOR_KIND[kind]()


# ---------------------------------------------------------------- conversion


def _as_dtype(x):
    """Any dtype-like (dtype, scalar type, string, or a value with .dtype) -> np.dtype."""
    if isinstance(x, np.dtype):
        return x
    if isinstance(x, ExtendedDType):
        return x
    if isinstance(x, str):
        alias = _STRING_ALIASES.get(x)
        return alias if alias is not None else np.dtype(x)
    if isinstance(x, type):
        return np.dtype(x)
    if hasattr(x, "dtype"):
        return _as_dtype(x.dtype)
    return np.dtype(x)


def canonicalize_dtype(dtype):
    """The dtype JAX would actually use: 64-bit types become 32-bit unless x64 is on."""
    dt = _as_dtype(dtype)
    if config.jax_enable_x64:
        return dt
    return _TO_32_BIT.get(dt, dt)


def canonicalize_user_dtype(dtype, fun_name=None):
    """Canonicalize a dtype the user asked for, warning (as JAX does) when x64 truncates it."""
    if dtype is None:
        raise ValueError("dtype must be specified.")
    if isinstance(dtype, type) and dtype in _PYTHON_SCALAR_TYPES:
        return _default_for(np.dtype(dtype))
    dt = _as_dtype(dtype)
    if dt not in _VALID_DTYPES:
        where = f" in {fun_name}" if fun_name else ""
        raise TypeError(f"JAX only supports number and bool dtypes, got dtype {dt}{where}")
    canonical = canonicalize_dtype(dt)
    if canonical != dt:
        where = f" requested in {fun_name}" if fun_name else ""
        warnings.warn(
            f"Explicitly requested dtype {dt}{where} is not available, and will be "
            f"truncated to dtype {canonical}. To enable more dtypes, set the "
            "jax_enable_x64 configuration option or the JAX_ENABLE_X64 shell "
            "environment variable. See https://github.com/jax-ml/jax#current-gotchas "
            "for more.",
            UserWarning,
            stacklevel=_user_stacklevel(),
        )
    return canonical


def _user_stacklevel() -> int:
    """``warnings.warn``'s stacklevel, in the function calling this, that names the first
    frame outside the engine: the user's line, wherever the engine's call chain starts."""
    from .source_info import is_internal

    f, level = sys._getframe(1), 1
    while f.f_back is not None and is_internal(f.f_code.co_filename):
        f, level = f.f_back, level + 1
    return level


check_user_dtype = canonicalize_user_dtype


def _check_valid(dt, value):
    if dt not in _VALID_DTYPES:
        raise TypeError(
            f"Value '{value}' with dtype {dt} is not a valid JAX array type. "
            "Only arrays of numeric types are supported by JAX."
        )
    return dt


# ---------------------------------------------------------------- values


def is_python_scalar(x):
    return type(x) in _PYTHON_SCALAR_TYPES


def python_scalar_dtype(x):
    """Default dtype of a Python bool/int/float/complex (int32/float32/complex64 without x64)."""
    if isinstance(x, np.generic) or not isinstance(x, _PYTHON_SCALAR_TYPES):
        raise TypeError(f"{x!r} of type {type(x).__name__} is not a Python scalar")
    for typ in _PYTHON_SCALAR_TYPES:  # bool before int: bool is an int subclass
        if isinstance(x, typ):
            return _default_for(np.dtype(typ))


def check_python_int(x: int) -> None:
    """OverflowError (JAX's) for a Python int outside the default integer type."""
    bound = 2**63 if config.jax_enable_x64 else 2**31
    if not -bound <= x < bound:
        name = "int64" if bound == 2**63 else "int32"
        raise OverflowError(f"Python int {x} too large to convert to {name}")


def python_scalar_as(x, dtype) -> np.ndarray:
    """A Python number as a NumPy scalar of ``dtype``, converted as JAX converts it: first
    to its default type (int32/float32/... or the 64-bit ones under x64; an int that does
    not fit raises OverflowError), then cast like ``convert_element_type`` (ints wrap)."""
    canonical = python_scalar_dtype(x)
    if type(x) is int:
        check_python_int(x)
    value = np.asarray(x, canonical)
    dtype = np.dtype(dtype)
    if dtype == canonical:
        return value
    return host_convert(value, dtype)


def host_convert(value: np.ndarray, dtype) -> np.ndarray:
    """``value.astype(dtype)`` with XLA's convert semantics, which NumPy's cast lacks:
    float to integer truncates and saturates (NaN gives 0); integers wrap."""
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        if value.dtype.kind not in "fc" or dtype.kind not in "iu":
            return value.astype(dtype)
        real = np.real(value).astype(np.float64)
        info = np.iinfo(dtype)
        above, below = real >= float(info.max), real <= float(info.min)
        inside = np.where(above | below | np.isnan(real), 0.0, real).astype(dtype)
        return np.where(above, info.max, np.where(below, info.min, inside)).astype(dtype)


def _is_engine_value(x):
    return hasattr(x, "weak_type") or hasattr(x, "aval")


def dtype_of(x):
    """The (canonical) dtype JAX gives a value, dtype, or scalar type.

    Values of the engine (anything carrying ``weak_type`` or ``aval``) keep their
    dtype as is: once a 64-bit array exists, turning x64 off does not shrink it.
    """
    if x is None:
        raise ValueError("Invalid argument to dtype: None.")
    if isinstance(x, type):
        if x in _PYTHON_SCALAR_TYPES:
            return _default_for(np.dtype(x))
        return _check_valid(canonicalize_dtype(x), x)
    if isinstance(x, (str, np.dtype)):
        return _check_valid(canonicalize_dtype(x), x)
    if is_python_scalar(x):
        return python_scalar_dtype(x)
    dt = getattr(x, "dtype", None)
    if isinstance(dt, np.dtype):
        if _is_engine_value(x):
            return _check_valid(dt, x)
        return _check_valid(canonicalize_dtype(dt), x)
    if isinstance(x, _PYTHON_SCALAR_TYPES):  # e.g. an IntEnum member
        return python_scalar_dtype(x)
    return _check_valid(canonicalize_dtype(np.asarray(x).dtype), x)


def is_weakly_typed(x):
    """Python int/float/complex values, and engine values flagged ``weak_type``."""
    if type(x) in _WEAK_PYTHON_TYPES:
        return True
    weak = getattr(x, "weak_type", None)
    if weak is None:
        weak = getattr(getattr(x, "aval", None), "weak_type", False)
    return bool(weak)


def _dtype_and_weak(x):
    aval = getattr(x, "aval", None)  # engine arrays, tracers and avals-carrying values
    if aval is not None and hasattr(aval, "weak_type"):
        return aval.dtype, aval.weak_type
    # The types int/float/complex themselves also count as weak in promotion.
    weak = any(x is typ for typ in _WEAK_PYTHON_TYPES) or is_weakly_typed(x)
    return dtype_of(x), weak


# ---------------------------------------------------------------- the lattice
# Nodes are dtype names, plus "int*", "float*", "complex*" for weak Python types.
# An edge a -> b means b is the next type up from a.


def _lattice_edges(x64):
    return {
        "bool": ["int*"],
        "int*": ["uint8", "int8"],
        "uint8": ["int16", "uint16"],
        "uint16": ["int32", "uint32"],
        # Without x64 uint32 meets int32 at int32, so no 64-bit type is ever
        # formed from 32-bit inputs.
        "uint32": ["int64", "uint64"] if x64 else ["int32", "uint64"],
        "uint64": ["float*"],
        "int8": ["int16"],
        "int16": ["int32"],
        "int32": ["int64"],
        "int64": ["float*"],
        "float*": ["bfloat16", "float16", "complex*"],
        "bfloat16": ["float32"],
        "float16": ["float32"],
        "float32": ["float64", "complex64"],
        "float64": ["complex128"],
        "complex*": ["complex64"],
        "complex64": ["complex128"],
        "complex128": [],
    }


def _upper_bounds(edges):
    ubs = {}
    for node in edges:
        seen, todo = {node}, [node]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        ubs[node] = frozenset(seen)
    return ubs


_UPPER_BOUNDS = {x64: _upper_bounds(_lattice_edges(x64)) for x64 in (False, True)}
_WEAK_NODE_FOR_KIND = {"b": "bool", "i": "int*", "u": "int*", "f": "float*", "c": "complex*"}
_NODE_TO_DTYPE = {dt.name: dt for dt in NUMERIC_DTYPES}


def _node(dtype, weak):
    if dtype not in NUMERIC_DTYPES:
        raise TypePromotionError(f"dtype {dtype} does not take part in type promotion")
    if weak:
        kind = "f" if dtype.type in _CUSTOM_FLOAT_TYPES else dtype.kind
        return _WEAK_NODE_FOR_KIND[kind]
    return dtype.name


def _least_upper_bound(nodes):
    ubs = _UPPER_BOUNDS[bool(config.jax_enable_x64)]
    common = frozenset.intersection(*(ubs[n] for n in nodes))
    for candidate in common:
        if ubs[candidate] == common:
            return candidate
    raise TypePromotionError(f"no common type for {sorted(nodes)}")


def _node_dtype(node):
    """A lattice node -> (canonical dtype, is the node weak)."""
    if node.endswith("*"):
        return _DEFAULT_FOR_KIND[node[0]](), True
    return canonicalize_dtype(_NODE_TO_DTYPE[node]), False


def lattice_result_type(*args):
    """(dtype, weak_type) that a binary/n-ary op gives its operands.

    Unlike :func:`result_type`, a weak result keeps its width: a weak float16
    plus a Python int is a weak float16.  Ops (``x + y``) use this one.
    """
    if not args:
        raise ValueError("at least one array or dtype is required")
    dts, weaks = zip(*(_dtype_and_weak(a) for a in args))
    key = (dts, weaks, config.jax_enable_x64)
    hit = _lattice_memo.get(key)
    if hit is None:
        if len(_lattice_memo) > 4096:
            _lattice_memo.clear()
        hit = _lattice_memo[key] = _lattice_result(dts, weaks)
    return hit


_lattice_memo = {}


def _lattice_result(dts, weaks):
    if len(dts) == 1:
        dtype, weak = dts[0], weaks[0]
    elif len(set(dts)) == 1 and not all(weaks):
        dtype, weak = dts[0], False
    elif all(weaks):
        # Promote the strong counterparts, then mark weak: two weak values keep
        # their own widths rather than collapsing to Python's default types.
        dtype, _ = _node_dtype(_least_upper_bound({_node(d, False) for d in dts}))
        weak = True
    else:
        dtype, weak = _node_dtype(_least_upper_bound({_node(d, w) for d, w in zip(dts, weaks)}))
    return dtype, weak and dtype != bool_


def result_type(*args, return_weak_type_flag=False):
    """``jnp.result_type``: the promoted dtype of values, dtypes and scalar types.

    Python scalars and the types int/float/complex are weak.  ``None`` means the
    default float.  A weak result is reported as the default dtype of its kind.
    """
    if not args:
        raise ValueError("at least one array or dtype is required")
    args = tuple(default_float_dtype() if a is None else a for a in args)
    dtype, weak = lattice_result_type(*args)
    if weak:
        dtype = _default_for(dtype)
    return (dtype, weak) if return_weak_type_flag else dtype


def promote_types(a, b):
    """``jnp.promote_types``: like NumPy's, but int/float/complex are weak.

    As in JAX, the result is not canonicalized (int64 + int32 is int64).
    """
    nodes = {
        (t.__name__ + "*")
        if any(t is w for w in _WEAK_PYTHON_TYPES)
        else _node(_as_dtype(t), False)
        for t in (a, b)
    }
    node = _least_upper_bound(nodes)
    return np.dtype(node[:-1]) if node.endswith("*") else _NODE_TO_DTYPE[node]


# ---------------------------------------------------------------- predicates


def _scalar_type(x):
    if isinstance(x, type) and issubclass(x, np.generic):
        return x
    return _as_dtype(x).type


def issubdtype(a, b):
    """np.issubdtype, with ml_dtypes' bfloat16 (and friends) placed where they belong."""
    if isinstance(a, ExtendedDType) or isinstance(b, ExtendedDType):
        if isinstance(b, ExtendedDType):
            return a == b
        return isinstance(a, ExtendedDType) and issubclass(a.type, _scalar_type(b))
    a_t, b_t = _scalar_type(a), _scalar_type(b)
    if a_t in _CUSTOM_FLOAT_TYPES:
        return b_t in (a_t, np.floating, np.inexact, np.number, np.generic)
    if a_t in _CUSTOM_SIGNED_TYPES:
        return b_t in (a_t, np.signedinteger, np.integer, np.number, np.generic)
    if a_t in _CUSTOM_UNSIGNED_TYPES:
        return b_t in (a_t, np.unsignedinteger, np.integer, np.number, np.generic)
    return bool(np.issubdtype(a_t, b_t))


def _memo_predicate(abstract):
    """A fast predicate on dtypes: np.dtype instances hit a dict, the rest compute."""
    cache = {}

    def pred(dtype):
        r = cache.get(dtype) if isinstance(dtype, np.dtype) else None
        if r is None:
            r = issubdtype(dtype, abstract)
            if isinstance(dtype, np.dtype):
                cache[dtype] = r
        return r

    return pred


def is_bool(dtype):
    return _as_dtype(dtype) == bool_


is_float = _memo_predicate(np.floating)
is_complex = _memo_predicate(np.complexfloating)
is_inexact = _memo_predicate(np.inexact)
is_int = _memo_predicate(np.integer)
is_unsigned = _memo_predicate(np.unsignedinteger)


def finfo(dtype):
    return ml_dtypes.finfo(_as_dtype(dtype))


def iinfo(dtype):
    return ml_dtypes.iinfo(_as_dtype(dtype))


def real_dtype(dtype):
    """complex64 -> float32, complex128 -> float64; other dtypes unchanged."""
    dt = _as_dtype(dtype)
    return {complex64: float32, complex128: float64}.get(dt, dt)


def to_complex_dtype(dtype):
    """The complex dtype holding ``dtype``: 64-bit types -> complex128, all others -> complex64.

    Not canonicalized, as in JAX.
    """
    dt = _as_dtype(dtype)
    return complex128 if dt in (float64, complex128, int64, uint64) else complex64


def short_name(dtype):
    """The name the jaxpr printer uses: f32, i64, bf16, c64, bool, float0, ..."""
    dt = _as_dtype(dtype)
    if isinstance(dt, ExtendedDType):
        return dt.name
    name = _SHORT_NAMES.get(dt)
    if name is not None:
        return name
    return (
        dt.name.replace("float", "f")
        .replace("uint", "u")
        .replace("int", "i")
        .replace("complex", "c")
    )
