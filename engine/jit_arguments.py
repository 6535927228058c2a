"""A jitted call's dynamic arguments as the compiler sees them: each leaf's abstract value,
and for a leaf that has none (a string, an arbitrary object, a Python int too large for
the default integer type) JAX's error, naming the function and where the value was
passed: ``x``, ``x['b']['c']``, ``rest[0]``, ``kw['k']``, as JAX's argument paths."""

from __future__ import annotations

import re
import types
from typing import Any

import numpy as np

from . import core, dtypes, tree_util
from .array import Array


def _arg_aval(x):
    if isinstance(x, Array) or isinstance(x, core.Tracer):
        return x.aval
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "__array__"):
        return core.ShapedArray(
            x.shape, dtypes.canonicalize_dtype(x.dtype), getattr(x, "weak_type", False)
        )
    try:
        return core.get_aval(x)
    except TypeError:
        if isinstance(x, (np.ndarray, np.generic)):
            raise  # a NumPy array of strings, objects, ...: core's message says so
        raise TypeError(
            f"Error interpreting argument to a jitted function as an abstract array: the "
            f"value {x!r} of type {type(x).__name__} is not a valid JAX type; pass arrays, "
            "or mark it static with static_argnums/static_argnames"
        ) from None


def call_avals(flat, fun, signature, opts, args, kwargs) -> tuple:
    """The abstract value of each dynamic leaf of a call ``fun(*args, **kwargs)``."""
    try:
        return tuple([x.aval if type(x) is Array else _leaf_aval(x) for x in flat])
    except (TypeError, OverflowError):
        pass
    for i, x in enumerate(flat):  # the first leaf that has none
        try:
            _leaf_aval(x)
        except OverflowError:
            raise OverflowError(
                "An overflow was encountered while parsing an argument to a jitted "
                f"computation, whose argument path is "
                f"{_leaf_name(i, signature, opts, args, kwargs)}. Got {type(x)} with value {x}"
            ) from None
        except TypeError:
            raise TypeError(
                f"Error interpreting argument to {fun} as an abstract array. The problematic "
                f"value is of type {type(x)} and was passed to the function at path "
                f"{_leaf_name(i, signature, opts, args, kwargs)}.\nOnly arrays (and Python "
                "scalars) can be traced: pass this value as an array, or name its argument "
                "in jit's static_argnums or static_argnames to make it part of the program."
            ) from None
    raise AssertionError("unreachable: a leaf failed once and then passed")


def _leaf_aval(x):
    if type(x) is int:  # JAX's range check (the value is converted to int32 or int64)
        dtypes.check_python_int(x)
    return _arg_aval(x)


_STATIC = object()  # stands for a static argument: a leaf left out of the names
_FLAT_INDEX = re.compile(r"<flat index ([^>]+)>")


def _leaf_name(i, signature, opts, args, kwargs) -> str:
    """The argument path of dynamic leaf ``i``: the parameter's name when ``signature``
    binds the call, then the key path inside it; keywords after positionals, sorted."""
    statics = opts.static_set
    args_ = [_STATIC if j in statics else a for j, a in enumerate(args)]
    kwargs_ = {k: _STATIC if k in statics else v for k, v in kwargs.items()}
    named: list[tuple[str, Any]] | None = None
    if signature is not None:
        try:
            bound = signature.bind(*args_, **kwargs_)
        except (TypeError, ValueError):
            pass
        else:
            var_kw = next(
                (n for n, p in signature.parameters.items() if p.kind == p.VAR_KEYWORD), None
            )
            named = [(n, v) for n, v in bound.arguments.items() if n not in kwargs and n != var_kw]
            named += [
                (k if k in bound.arguments else f"{var_kw}['{k}']", v)
                for k, v in sorted(kwargs_.items())
            ]
    if named is None:
        named = [("args", args_)]
        named += sorted((f"kwargs['{k}']", v) for k, v in kwargs_.items() if v is not _STATIC)
    names = [
        name + _FLAT_INDEX.sub(r"\1", tree_util.keystr(path))
        for name, value in named
        for path, leaf in tree_util.tree_flatten_with_path(value)[0]
        if leaf is not _STATIC
    ]
    return names[i] if i < len(names) else "unknown"


# Types whose values key the keyed inline cache exactly: ``==`` between two of the same
# type means the same program (so no floats: 0.0 == -0.0), and a value cannot change
# after the call (no mutable objects hashed by content).
_KEYED_STATIC_TYPES = frozenset(
    {int, bool, str, type(None), type, types.FunctionType, types.BuiltinFunctionType}
    | {type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"}
)
_KEYED_TUPLE_ITEMS = frozenset({int, str, type(None)})  # never equal across these types
_KEYED_SCALAR_TYPES = frozenset({int, float, bool, complex})
_KEYED_CONTAINERS = frozenset({list, tuple, dict})  # exact types: no subclass's own flattening


_KEYED_DEPTH = 16


def _key_container(x, t, key, dyn, depth=0):
    """Extend a keyed call's key by a list, tuple or dict (its type, length or key
    names, then its leaves' keys, recursively) and ``dyn`` by its dynamic leaves in
    tree_flatten's order. False where something is not keyable this way (also past
    ``_KEYED_DEPTH`` levels: a cyclic container then gets tree_flatten's error)."""
    if depth > _KEYED_DEPTH:
        return False
    key.append(t)
    if t is dict:
        names = list(x)
        for n in names:
            if type(n) is not str:  # 1, 1.0 and True are equal dict keys but other trees
                return False
        names.sort()  # tree_flatten's order for a dict
        key.append(tuple(names))
        items = [x[n] for n in names]
    else:
        key.append(len(x))
        items = x
    for a in items:
        t = type(a)
        if t is Array:
            if a._buf.is_deleted():  # checked before PJRT, which logs on a deleted one
                return False
            key.append(a.aval)
            dyn.append(a)
        elif t in _KEYED_SCALAR_TYPES:
            key.append(t)
            dyn.append(a)
        elif a is None:
            key.append(None)
        elif t in _KEYED_CONTAINERS:
            if not _key_container(a, t, key, dyn, depth + 1):
                return False
        else:
            return False
    return True


class _KeyedCall:
    """One signature in a wrapper's keyed inline cache: the cache entry it runs, where,
    and per dynamic leaf the last Python scalar passed there with its device buffer."""

    __slots__ = ("entry", "device", "scalars", "key")

    def __init__(self, entry, device, n_leaves, has_scalars):
        self.entry, self.device = entry, device
        self.key: list = []  # the key of the last call it answered (see _call_keyed)
        self.scalars = [None] * n_leaves if has_scalars else None
