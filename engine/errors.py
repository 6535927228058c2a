"""Errors a person can act on, with JAX's class names and hierarchy."""

import sys

import numpy as np


class JAXTypeError(TypeError):
    pass


class ConcretizationTypeError(JAXTypeError):
    pass


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(JAXTypeError):
    pass


class TracerArrayConversionError(JAXTypeError):
    pass


class UnexpectedTracerError(JAXTypeError):
    pass


class KeyReuseError(JAXTypeError):
    """A typed PRNG key used twice under ``jax_debug_key_reuse`` (engine/key_reuse.py)."""


class JAXIndexError(IndexError):
    pass


class NonConcreteBooleanIndexError(JAXIndexError):
    pass


class JaxprTypeError(TypeError):
    pass


def __getattr__(name):
    # jaxlib's own class (a failing program, e.g. a host callback that raised).
    if name in ("JaxRuntimeError", "XlaRuntimeError"):
        from .runtime import JaxRuntimeError

        return JaxRuntimeError
    if name == "InconclusiveDimensionOperation":  # symbolic shapes (engine.export)
        from .export.shape_poly import InconclusiveDimensionOperation

        return InconclusiveDimensionOperation
    raise AttributeError(f"module 'engine.errors' has no attribute {name!r}")


# ---------------------------------------------------------------------------
# Messages shared by several modules (issue 12: errors a person can act on).

_DTYPE_KINDS = {
    "U": "strings",
    "S": "byte strings",
    "O": "Python objects",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "structured records",
}


_FLOAT0 = np.dtype([("float0", np.void, 0)])


def is_invalid_numpy_dtype(dtype) -> bool:
    """True for NumPy dtypes no JAX array can have (strings, objects, dates, records).
    ml_dtypes' types (bfloat16, float8_*) have kind 'V' too, but are not np.void."""
    kind = dtype.kind
    if kind in "USOMm":
        return True
    if (kind == "f" and dtype.itemsize > 8) or (kind == "c" and dtype.itemsize > 16):
        return True  # long double (float128, complex256): XLA has no such type
    if kind != "V" or dtype == _FLOAT0:  # float0: the dtype of integer inputs' tangents
        return False
    return dtype.fields is not None or dtype.type is np.void


def invalid_dtype_message(dtype, where="a JAX operation", as_what="an abstract array") -> str:
    what = "long doubles" if dtype.kind in "fc" else _DTYPE_KINDS.get(dtype.kind, "values")
    return (
        f"Error interpreting argument to {where} as {as_what}: a NumPy array of dtype "
        f"{dtype} ({what}) is not a valid JAX array type. JAX arrays hold booleans and "
        "numbers only; convert the data to a numeric dtype first, or keep it out of the "
        "traced function (e.g. as a static argument)."
    )


def _has_cycle(tree, limit=1_000_000) -> bool:
    """Whether a list/tuple/dict in ``tree`` contains itself (an iterative walk)."""
    on_path, stack, seen = set(), [(tree, False)], 0
    while stack and seen < limit:
        node, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, (list, tuple)):
            children = list(node)
        else:
            continue
        if id(node) in on_path:
            return True
        seen += 1
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children)
    return False


def pytree_recursion_error(tree) -> RecursionError:
    """The RecursionError for a pytree that cannot be flattened by recursion."""
    if _has_cycle(tree):
        reason = (
            "it contains a reference cycle (a list, tuple or dict that contains itself), "
            "so it is not a tree"
        )
    else:
        reason = (
            f"it is nested deeper than Python's recursion limit ({sys.getrecursionlimit()}); "
            "flatten the data into fewer levels (e.g. stack arrays instead of nesting lists)"
        )
    return RecursionError(f"Cannot flatten this pytree: {reason}.")


def recursive_jit_error(name) -> RecursionError:
    return RecursionError(
        f"Recursively calling {name}: the jit-compiled function {name} calls itself with "
        "the same argument types while it is being traced, so tracing would never end. "
        "Bound the recursion with a static argument (static_argnums) or use "
        "lax.while_loop / lax.fori_loop / lax.cond."
    )


def array_too_large_message(shape, dtype_name, nbytes) -> str:
    dims = ", ".join(str(d) for d in shape)
    return (
        f"Array of shape ({dims}) and dtype {dtype_name} would take {nbytes:,} bytes "
        f"(about 2^{nbytes.bit_length() - 1}); XLA cannot represent arrays of 2^63 bytes "
        "or more. Check the shape for a unit or arithmetic mistake."
    )
