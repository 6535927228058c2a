"""A jitted call's dynamic arguments as the compiler sees them: each leaf's abstract value,
and for a leaf that has none (a string, an arbitrary object, a Python int too large for
the default integer type) JAX's error, naming the function and where the value was
passed: ``x``, ``x['b']['c']``, ``rest[0]``, ``kw['k']``, as JAX's argument paths."""

from __future__ import annotations

import re
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
