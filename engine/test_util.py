"""Gradient checks against finite differences, as ``jax.test_util``: ``check_grads``,
``check_jvp`` and ``check_vjp``.

Each check probes one random direction (NumPy's RandomState(0), so runs repeat): the
JVP's tangent is compared with a central difference along it, and the VJP through the
identity <tangent, vjp(cotangent)> == <jvp(tangent), cotangent>. Tolerances are per
dtype and scale with the array's size, as JAX's do."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import api, dtypes
from .tree_util import tree_leaves, tree_map, tree_reduce

__all__ = ["check_grads", "check_jvp", "check_vjp"]

EPS = 1e-4

# Absolute and relative tolerance of a gradient check, by dtype (before scaling by size).
_GRADIENT_TOL = {
    np.dtype(dtypes.bfloat16): 1e-1,
    np.dtype(np.float16): 1e-2,
    np.dtype(np.float32): 2e-3,
    np.dtype(np.float64): 1e-5,
    np.dtype(np.complex64): 1e-3,
    np.dtype(np.complex128): 1e-5,
}


def _dtype(x: Any) -> np.dtype:
    if hasattr(x, "dtype"):
        return np.dtype(x.dtype)
    if dtypes.is_python_scalar(x):
        return np.dtype(dtypes.python_scalar_dtype(x))
    return np.asarray(x).dtype


def _is_py_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)


def _same_kind(f: Callable[..., Any]) -> Callable[..., Any]:
    """An elementwise NumPy op whose result keeps the first operand's dtype (and stays
    a Python scalar when every operand is one)."""

    def op(*xs):
        out = np.asarray(f(*xs), dtype=_dtype(xs[0]))
        return out.item() if all(map(_is_py_scalar, xs)) else out

    return op


def _scale(xs: Any, a: float) -> Any:
    def one(x):
        dt = _dtype(x)
        out = np.multiply(x, np.asarray(a, dt), dtype=dt)
        return out.item() if _is_py_scalar(x) else out

    return tree_map(one, xs)


def _add(xs, ys):
    return tree_map(_same_kind(np.add), xs, ys)


def _sub(xs, ys):
    return tree_map(_same_kind(np.subtract), xs, ys)


def _conj(xs):
    return tree_map(_same_kind(np.conj), xs)


def _diff(xs, ys):
    """xs - ys where equal entries (inf and inf included) give exactly 0."""

    def one(x, y):
        dt = _dtype(x)
        with np.errstate(invalid="ignore"):
            return np.where(np.equal(x, y), np.zeros((), dt), np.subtract(x, y, dtype=dt))

    return tree_map(one, xs, ys)


def _random_like(rng: np.random.RandomState, x: Any) -> Any:
    dt, shape = _dtype(x), np.shape(x)
    out = np.asarray(rng.randn(*shape), dt)
    if np.issubdtype(dt, np.complexfloating):
        out = out + dt.type(1j) * np.asarray(rng.randn(*shape), dt)
    return out.item() if _is_py_scalar(x) else out


def numerical_jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Any, eps=EPS) -> Any:
    """Central difference of ``f`` at ``primals`` along ``tangents``."""
    step = _scale(tangents, eps)
    up, down = f(*_add(primals, step)), f(*_sub(primals, step))
    return _scale(_diff(up, down), 0.5 / eps)


def _tol(dtype: np.dtype, tol: Any) -> float:
    if tol is None:
        tol = _GRADIENT_TOL
    if not isinstance(tol, dict):
        return tol
    table = {**_GRADIENT_TOL, **{np.dtype(k): v for k, v in tol.items()}}
    return table.get(_canonical(dtype), 0)  # float64 without x64 is checked as float32


def _assert_close(xs: Any, ys: Any, atol: Any, rtol: Any, err_msg: str) -> None:
    def one(x, y):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, f"{err_msg}: shapes {x.shape} and {y.shape} differ"
        if x.dtype == dtypes.float0 and y.dtype == dtypes.float0:
            return
        a = max(_tol(x.dtype, atol), _tol(y.dtype, atol)) * x.size
        r = max(_tol(x.dtype, rtol), _tol(y.dtype, rtol)) * y.size
        as_float = lambda v: v.astype(np.float32) if v.dtype == dtypes.bfloat16 else v  # noqa: E731
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(as_float(x), as_float(y), atol=a, rtol=r, err_msg=err_msg)

    tree_map(one, xs, ys)


def _inner(xs: Any, ys: Any) -> Any:
    dot = lambda x, y: np.real(np.dot(np.conj(np.asarray(x)).ravel(), np.asarray(y).ravel()))  # noqa: E731
    return tree_reduce(np.add, tree_map(dot, xs, ys))


def check_jvp(
    f: Callable[..., Any],
    f_jvp: Callable[..., Any],
    args: Sequence[Any],
    atol: Any = None,
    rtol: Any = None,
    eps: float = EPS,
    err_msg: str = "",
) -> None:
    """``f_jvp(args, tangents)`` (usually ``partial(jvp, f)``) agrees with ``f`` and with
    a central difference along one random direction; AssertionError if not."""
    tangents = tree_map(functools.partial(_random_like, np.random.RandomState(0)), args)
    out, t_out = f_jvp(args, tangents)
    expected = f(*args)
    for x, y in zip(tree_leaves(out), tree_leaves(t_out)):
        assert _canonical(_dtype(x)) == _canonical(_dtype(y)), (
            f"{err_msg}: primal dtype {_dtype(x)}, tangent dtype {_dtype(y)}"
        )
    _assert_close(out, expected, atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    fd = numerical_jvp(f, args, tangents, eps)
    _assert_close(t_out, fd, atol, rtol, f"{err_msg} tangent" if err_msg else "tangent")


def check_vjp(
    f: Callable[..., Any],
    f_vjp: Callable[..., Any],
    args: Sequence[Any],
    atol: Any = None,
    rtol: Any = None,
    eps: float = EPS,
    err_msg: str = "",
) -> None:
    """``f_vjp(*args)`` (usually ``partial(vjp, f)``) agrees with ``f``, and its pullback
    of a random cotangent, projected on a random tangent, with a central difference."""
    rng = np.random.RandomState(0)
    out, pullback = f_vjp(*args)
    _assert_close(out, f(*args), atol, rtol, f"{err_msg} primal" if err_msg else "primal")
    tangents = tree_map(functools.partial(_random_like, rng), args)
    t_out = numerical_jvp(f, args, tangents, eps)
    cotangent = tree_map(functools.partial(_random_like, rng), out)
    ct_in = _conj(pullback(_conj(cotangent)))
    what = f"{err_msg} cotangent projection" if err_msg else "cotangent projection"
    _assert_close(_inner(tangents, ct_in), _inner(t_out, cotangent), atol, rtol, what)


def check_grads(
    f: Callable[..., Any],
    args: Sequence[Any],
    order: int,
    modes: Sequence[str] = ("fwd", "rev"),
    atol: Any = None,
    rtol: Any = None,
    eps: float | None = None,
) -> None:
    """Check ``f``'s forward (``"fwd"``), reverse (``"rev"``) and linearized (``"lin"``)
    derivatives at ``args`` against finite differences, up to ``order``; raises
    AssertionError naming the failing derivative (``"VJP of JVP tangent"``, ...)."""
    eps = eps or EPS

    def check(f, args, order, what=""):
        if "fwd" in modes:
            msg = f"JVP of {what}" if what else "JVP"
            check_jvp(f, functools.partial(api.jvp, f), args, atol, rtol, eps, msg)
            if order > 1:
                check(functools.partial(api.jvp, f), (args, args), order - 1, msg)
        if "rev" in modes:
            msg = f"VJP of {what}" if what else "VJP"
            check_vjp(f, functools.partial(api.vjp, f), args, atol, rtol, eps, msg)
            if order > 1:

                def pulled_back(*xs):
                    out, pullback = api.vjp(f, *xs)
                    return pullback(out)

                check(pulled_back, args, order - 1, msg)
        if "lin" in modes:
            msg = f"LIN of {what}" if what else "LIN"
            check_jvp(f, functools.partial(_jvp_by_linearize, f), args, atol, rtol, eps, msg)
            if order > 1:
                check(functools.partial(_jvp_by_linearize, f), (args, args), order - 1, msg)

    check(f, tuple(args), order)


def _jvp_by_linearize(f, primals, tangents):
    out, f_lin = api.linearize(f, *primals)
    return out, f_lin(*tangents)


def _canonical(dt: np.dtype) -> np.dtype:
    return np.dtype(dtypes.canonicalize_dtype(dt))
