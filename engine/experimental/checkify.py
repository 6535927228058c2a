"""``jax.experimental.checkify``: functionalized run-time checks.

``checkify(f, errors=...)`` returns a function giving ``(err, out)``: ``err`` records the
first ``check`` that failed (and, with the automatic error sets, the first NaN,
out-of-bounds index or division by zero); ``err.get()`` gives its message, ``err.throw()``
raises it. The machinery is in checkify_core.py, the primitives' rules in
checkify_rules.py and checkify_hop_rules.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .. import core, traceback_util
from ..interpreters.tracing import trace_to_jaxpr
from ..tree_util import tree_flatten, tree_leaves, tree_unflatten
from . import checkify_hop_rules as _hop_rules  # noqa: F401 (registers the rules)
from . import checkify_rules as _rules  # noqa: F401 (registers the rules)
from .checkify_core import (
    DivisionByZeroError,
    Error,
    FailedCheckError,
    JaxException,
    JaxRuntimeError,
    NaNError,
    OOBError,
    _check_error,
    assert_func,
    checkify_jaxpr,
    get_traceback,
    init_error,
    is_array,
)

__all__ = [
    "Error",
    "ErrorCategory",
    "JaxRuntimeError",
    "all_checks",
    "automatic_checks",
    "check",
    "check_error",
    "checkify",
    "debug_check",
    "div_checks",
    "float_checks",
    "index_checks",
    "init_error",
    "nan_checks",
    "user_checks",
]

ErrorCategory = type[JaxException]
Out = TypeVar("Out")

user_checks = frozenset({FailedCheckError})
nan_checks = frozenset({NaNError})
index_checks = frozenset({OOBError})
div_checks = frozenset({DivisionByZeroError})
float_checks = nan_checks | div_checks
automatic_checks = float_checks | index_checks
all_checks = automatic_checks | user_checks


def checkify(
    f: Callable[..., Out], errors: frozenset = user_checks
) -> Callable[..., tuple[Error, Out]]:
    """``f`` with its ``check``s functionalized (and the ``errors`` categories checked
    automatically): the new function returns ``(error, f's output)``."""

    @traceback_util.api_boundary
    def checked_fun(*args: Any, **kwargs: Any) -> tuple[Error, Out]:
        store = []

        def closed_f():  # the arguments are closed over: concrete ones stay concrete
            leaves, tree = tree_flatten(f(*args, **kwargs))
            core.check_traced_outputs(f, leaves, "checkify")
            store.append(tree)
            return leaves

        closed = trace_to_jaxpr(closed_f, [], debug_name=getattr(f, "__name__", "checkify"))
        error, out_flat = checkify_jaxpr(closed, errors, init_error)
        return error, tree_unflatten(store[0], [_host_literal(x) for x in out_flat])

    return checked_fun


def _host_literal(x: Any) -> Any:
    """An output that was a literal of the jaxpr, as the value the function returned."""
    if type(x) is core.WeakScalar:
        return x.value
    return x


def check(pred: Any, msg: str, *fmt_args: Any, debug: bool = False, **fmt_kwargs: Any) -> None:
    """Add an error with ``msg`` (formatted with the run-time values ``fmt_args`` and
    ``fmt_kwargs``) where ``pred`` is False. Effectful: functionalize it with
    ``checkify`` before staging it (jit/scan/pmap)."""
    _check(pred, msg, debug, *fmt_args, **fmt_kwargs)


def _check(pred, msg, debug, *fmt_args, **fmt_kwargs):
    if not is_scalar_pred(pred):
        name = "debug_check" if debug else "check"
        raise TypeError(f"{name} takes a scalar pred as argument, got {pred}")
    for arg in tree_leaves((fmt_args, fmt_kwargs)):
        if not (is_array(arg) or isinstance(arg, np.ndarray)):
            raise TypeError(
                "Formatting arguments to checkify.check need to be PyTrees of arrays, but "
                f"got {arg!r} of type {type(arg)}."
            )
    from .. import numpy as jnp

    new_error = FailedCheckError(get_traceback(), msg, *fmt_args, **fmt_kwargs)
    error = assert_func(init_error, jnp.logical_not(pred), new_error)
    _check_error(error, debug=debug)


def is_scalar_pred(pred: Any) -> bool:
    return isinstance(pred, bool) or (
        is_array(pred) and pred.shape == () and pred.dtype == np.dtype("bool")
    )


def debug_check(pred: Any, msg: str, *fmt_args: Any, **fmt_kwargs: Any) -> None:
    """A ``check`` that runs only under ``checkify`` (elsewhere it does nothing)."""
    _check(pred, msg, True, *fmt_args, **fmt_kwargs)


def check_error(error: Error) -> None:
    """Raise if ``error`` records a failure; ``checkify`` functionalizes it again."""
    if not isinstance(error, Error):
        raise TypeError(f"check_error takes an Error as argument, got type {type(error)} instead.")
    _check_error(error, debug=False)
