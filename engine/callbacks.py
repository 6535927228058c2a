"""Host callbacks: Python functions that run while a compiled program runs.

Four primitives, each with all its rules here, as in JAX 0.10.2:

- ``pure_callback``: a pure function of its operands with declared results (may be
  dropped by XLA when unused, called again or batched under ``vmap``; no derivative).
- ``io_callback``: a function with side effects, optionally *ordered* (its calls keep
  program order, through a token threaded from one call to the next).
- ``debug_callback`` / ``debug_print``: no results; under ``vmap`` they run once per
  batch element, under ``jvp``/``grad`` on the primal values only.

Under ``jit`` each call becomes a ``stablehlo.custom_call`` to jaxlib's FFI target
``xla_ffi_python_{cpu,gpu}_callback`` whose ``index`` attribute points into the
module's list of host callbacks (kept by ``engine.runtime``). Eager ``pure_callback``
and ``io_callback`` run as one-equation programs (as JAX's do, so a callback that raises
gives jaxlib's ``JaxRuntimeError`` both ways); eager debug callbacks call Python
directly.
"""

from __future__ import annotations

import logging
import string
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import core, dtypes, runtime, tree_util
from .core import Primitive, ShapedArray
from .host_callback import emit_python_callback
from .lax import control_flow, slicing, structural

logger = logging.getLogger("engine.callbacks")

# ---------------------------------------------------------------------------- shared pieces


class _FlatCallback:
    """A Python callable taking flat arguments and returning flat results; equal for
    the same function and argument structure (so jaxprs and caches compare it)."""

    __slots__ = ("callback_func", "in_tree", "__weakref__")

    def __init__(self, callback_func: Callable[..., Any], in_tree: Any) -> None:
        self.callback_func, self.in_tree = callback_func, in_tree

    def __call__(self, *flat_args: Any) -> list[Any]:
        args, kwargs = tree_util.tree_unflatten(self.in_tree, list(flat_args))
        return tree_util.tree_leaves(self.callback_func(*args, **kwargs))

    def __eq__(self, other: Any) -> bool:
        return (
            type(other) is _FlatCallback
            and self.callback_func == other.callback_func
            and self.in_tree == other.in_tree
        )

    def __hash__(self) -> int:
        return hash((self.callback_func, self.in_tree))

    def __repr__(self) -> str:
        return f"_FlatCallback(callback_func={self.callback_func!r}, in_tree={self.in_tree})"


class Effect:
    """The kind of side effect a debug callback has (printed in jaxprs as JAX does)."""

    __slots__ = ("name", "ordered")

    def __init__(self, name: str, ordered: bool) -> None:
        self.name, self.ordered = name, ordered

    def __repr__(self) -> str:
        return self.name


class _ShownAs:
    """A callable parameter printed in jaxprs as the function it wraps (JAX's text)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return repr(self.fn)


debug_effect = Effect("Debug", False)
ordered_debug_effect = Effect("OrderedDebug", True)


def _cpu_device():
    try:
        return runtime.local_devices("cpu")[0]
    except Exception as e:  # no CPU backend
        raise RuntimeError(
            "host callbacks need a local CPU device to place their inputs on; make sure "
            '"cpu" is in jax_platforms / JAX_PLATFORMS.'
        ) from e


def _to_arrays(values: Sequence[Any]) -> list[Any]:
    """Callback inputs as engine Arrays on the CPU (what JAX hands its callbacks)."""
    from .dispatch import device_put_value

    dev = _cpu_device()
    # Python scalars stay weakly typed (as JAX's device_put keeps them); NumPy values
    # (what XLA hands a compiled program's callback) are copied, their buffer is XLA's.
    return [
        device_put_value(
            v if hasattr(v, "aval") or dtypes.is_python_scalar(v) else np.asarray(v), dev
        )
        for v in values
    ]


def _canonical(x: Any) -> np.ndarray:
    x = np.asarray(x)
    dt = dtypes.canonicalize_dtype(x.dtype)
    return x if dt == x.dtype else x.astype(dt)


def _check_results(outs: Sequence[Any], result_avals: Sequence[ShapedArray]) -> tuple:
    """The callback's results as NumPy arrays of the declared shapes and dtypes (JAX's
    checks and messages)."""
    if len(outs) != len(result_avals):
        raise RuntimeError(
            "Mismatched number of outputs from callback. "
            f"Expected: {len(result_avals)}, Actual: {len(outs)}"
        )
    vals = tuple(_canonical(a) for a in outs)
    for i, (v, aval) in enumerate(zip(vals, result_avals)):
        if v.shape != aval.shape:
            raise RuntimeError(
                f"Incorrect output shape for return value #{i}: "
                f"Expected: {aval.shape}, Actual: {v.shape}"
            )
        if v.dtype != aval.dtype:
            raise RuntimeError(
                f"Incorrect output dtype for return value #{i}: "
                f"Expected: {aval.dtype}, Actual: {v.dtype}"
            )
    return vals


def _call_logged(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except BaseException:
        logger.exception("%s failed", what)
        raise


def _moveaxis0(x: Any, d: int) -> Any:
    if d == 0:
        return x
    perm = (d,) + tuple(i for i in range(np.ndim(x)) if i != d)
    return structural.transpose(x, perm)


def _index(x: Any, i: int, d: int | None) -> Any:
    if d is None:
        return x
    return slicing.index_in_dim(x, i, axis=d, keepdims=False)


def _split_static(args: Sequence[Any], kwargs: dict) -> tuple[Any, list, dict]:
    """Flatten (args, kwargs): array leaves are operands, the rest stay Python values."""
    leaves, in_tree = tree_util.tree_flatten((tuple(args), dict(kwargs)))
    dyn, static = [], {}
    for i, x in enumerate(leaves):
        if core.valid_array_value(x) or hasattr(x, "__jax_array__"):
            dyn.append(x)
        else:
            static[i] = x
    return in_tree, dyn, static


def _merge_static(in_tree: Any, dyn: Sequence[Any], static: dict) -> tuple[Any, Any]:
    it = iter(dyn)
    leaves = [static[i] if i in static else next(it) for i in range(len(static) + len(dyn))]
    return tree_util.tree_unflatten(in_tree, leaves)


# ---------------------------------------------------------------------------- pure_callback

pure_callback_p = Primitive("pure_callback", multiple_results=True)

_VMAP_METHODS = ("sequential", "sequential_unrolled", "expand_dims", "broadcast_all")
_ALLOWED_VMAP_METHODS = [*_VMAP_METHODS, "legacy_vectorized", None]


@pure_callback_p.def_abstract_eval
def _pure_callback_abstract_eval(*avals, callback, result_avals, sharding, vmap_method):
    return list(result_avals)


def _pure_callback_jvp(primals, tangents, **params):
    raise ValueError(
        "Pure callbacks do not support JVP. "
        "Please use `jax.custom_jvp` to use callbacks while taking gradients."
    )


def _pure_callback_transpose(cts, *args, **params):
    raise ValueError(
        "Pure callbacks do not support transpose. "
        "Please use `jax.custom_vjp` to use callbacks while taking gradients."
    )


pure_callback_p.def_jvp(_pure_callback_jvp)
pure_callback_p.def_transpose(_pure_callback_transpose)


def _callback_batch(prim, axis_size, args, dims, *, vmap_method, result_avals, **params):
    """vmap of a pure_callback, by ``vmap_method`` (JAX's five ways)."""
    args = [x if d is None else _moveaxis0(x, d) for x, d in zip(args, dims)]
    batched_avals = tuple(core.unmapped_aval(axis_size, 0, a) for a in result_avals)
    if vmap_method == "legacy_vectorized":
        outs = prim.bind(*args, vmap_method=vmap_method, result_avals=batched_avals, **params)
    elif vmap_method in ("expand_dims", "broadcast_all"):
        size = axis_size if vmap_method == "broadcast_all" else 1
        args = [structural.broadcast(x, (size,)) if d is None else x for x, d in zip(args, dims)]
        outs = prim.bind(*args, vmap_method=vmap_method, result_avals=batched_avals, **params)
    elif vmap_method in ("sequential", "sequential_unrolled"):
        batched = [d is not None for d in dims]
        fixed = [x for x, b in zip(args, batched) if not b]
        moving = [x for x, b in zip(args, batched) if b]

        def body(carry, xs):
            it_f, it_m = iter(fixed), iter(xs)
            merged = [next(it_m) if b else next(it_f) for b in batched]
            out = prim.bind(*merged, vmap_method=vmap_method, result_avals=result_avals, **params)
            return carry, list(out)

        unroll = True if vmap_method == "sequential_unrolled" else 1
        _, outs = control_flow.scan(body, (), moving, unroll=unroll)
    else:
        raise NotImplementedError(
            f"vmap is only supported for the {prim.name} primitive when vmap_method "
            "is one of 'sequential', 'sequential_unrolled', 'expand_dims', "
            f"'broadcast_all', or 'legacy_vectorized'. Got vmap_method={vmap_method!r}."
        )
    outs = list(outs)
    return outs, [0] * len(outs)


pure_callback_p.def_batch(
    lambda size, args, dims, **p: _callback_batch(pure_callback_p, size, args, dims, **p)
)


def _host_pure(callback, result_avals, what):
    def host(*np_args):
        outs = _call_logged(what, lambda: callback(*_to_arrays(np_args)))
        try:
            return _check_results(outs, result_avals)
        except RuntimeError as e:
            user_fn = getattr(callback, "callback_func", callback)
            where = core.fun_location(user_fn)
            raise RuntimeError(f"{e} (from the {what} callback {where})") from None

    return host


@pure_callback_p.def_lowering
def _pure_callback_lowering(ctx, *args, callback, result_avals, sharding, vmap_method):
    host = _host_pure(callback, result_avals, "jax.pure_callback")
    return emit_python_callback(ctx, host, args, result_avals, has_side_effect=False)


def _check_shape_dtype(x: Any) -> None:
    dt = np.dtype(x.dtype)
    if dtypes.canonicalize_dtype(dt) != dt:
        raise ValueError(
            "result_shape_dtypes cannot specify 64-bit types when `jax_enable_x64` is disabled"
        )


def _result_avals(result_shape_dtypes: Any) -> tuple[list[ShapedArray], Any]:
    leaves, tree = tree_util.tree_flatten(result_shape_dtypes)
    for x in leaves:
        _check_shape_dtype(x)
    return [ShapedArray(x.shape, x.dtype) for x in leaves], tree


def pure_callback(
    callback: Callable[..., Any],
    result_shape_dtypes: Any,
    *args: Any,
    sharding: Any = None,
    vmap_method: str | None = None,
    **kwargs: Any,
) -> Any:
    """Call a pure Python function from (possibly transformed, compiled) code.

    ``callback`` gets engine Arrays on the CPU and returns a pytree matching
    ``result_shape_dtypes`` (leaves with ``shape`` and ``dtype``). Under ``vmap`` its
    behaviour is set by ``vmap_method`` ('sequential', 'sequential_unrolled',
    'expand_dims', 'broadcast_all' or 'legacy_vectorized'; None: vmap raises)."""
    if vmap_method not in _ALLOWED_VMAP_METHODS:
        raise ValueError(
            f"vmap_method must be on of the allowed methods {_ALLOWED_VMAP_METHODS}, "
            f"but got: {vmap_method}"
        )
    flat_args, in_tree = tree_util.tree_flatten((args, kwargs))
    avals, out_tree = _result_avals(result_shape_dtypes)
    outs = pure_callback_p.bind(
        *flat_args,
        callback=_FlatCallback(callback, in_tree),
        result_avals=tuple(avals),
        sharding=sharding,
        vmap_method=vmap_method,
    )
    return tree_util.tree_unflatten(out_tree, list(outs))


# ---------------------------------------------------------------------------- io_callback

io_callback_p = Primitive("io_callback", multiple_results=True)
io_callback_p.effectful = True  # has side effects: never drop or merge it
io_callback_p.ordered_by_token = lambda params: True


@io_callback_p.def_abstract_eval
def _io_callback_abstract_eval(*avals, callback, result_avals, sharding, ordered):
    return list(result_avals)


def _io_callback_jvp(primals, tangents, **params):
    raise ValueError("IO callbacks do not support JVP.")


def _io_callback_transpose(cts, *args, **params):
    raise ValueError("IO callbacks do not support transpose.")


io_callback_p.def_jvp(_io_callback_jvp)
io_callback_p.def_transpose(_io_callback_transpose)


@io_callback_p.def_batch
def _io_callback_batch(axis_size, args, dims, *, callback, result_avals, sharding, ordered):
    if ordered:
        raise ValueError("Cannot `vmap` ordered IO callback.")
    args = [x if d is None else _moveaxis0(x, d) for x, d in zip(args, dims)]
    batched = [d is not None for d in dims]
    fixed = [x for x, b in zip(args, batched) if not b]

    def body(carry, xs):
        it_f, it_m = iter(fixed), iter(xs)
        merged = [next(it_m) if b else next(it_f) for b in batched]
        out = io_callback_p.bind(
            *merged, callback=callback, result_avals=result_avals, sharding=sharding, ordered=False
        )
        return carry, list(out)

    _, outs = control_flow.scan(body, (), [x for x, b in zip(args, batched) if b])
    outs = list(outs)
    return outs, [0] * len(outs)


@io_callback_p.def_lowering
def _io_callback_lowering(ctx, *args, callback, result_avals, sharding, ordered):
    host = _host_pure(callback, result_avals, "jax.io_callback")
    return emit_python_callback(ctx, host, args, result_avals, has_side_effect=True, ordered=True)


def io_callback(
    callback: Callable[..., Any],
    result_shape_dtypes: Any,
    *args: Any,
    sharding: Any = None,
    ordered: bool = False,
    **kwargs: Any,
) -> Any:
    """Call a Python function with side effects from (possibly compiled) code.
    ``ordered=True`` keeps the calls in program order (and forbids ``vmap``)."""
    flat_args, in_tree = tree_util.tree_flatten((args, kwargs))
    avals, out_tree = _result_avals(result_shape_dtypes)
    outs = io_callback_p.bind(
        *flat_args,
        callback=_FlatCallback(callback, in_tree),
        result_avals=tuple(avals),
        sharding=sharding,
        ordered=ordered,
    )
    return tree_util.tree_unflatten(out_tree, list(outs))


# ---------------------------------------------------------------------------- debug_callback

debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.effectful = True  # has side effects: never drop or merge it
debug_callback_p.ordered_by_token = lambda params: params["effect"].ordered


def _run_debug(callback: Callable[..., Any], args: Sequence[Any]) -> None:
    _call_logged("jax.debug.callback", callback, *_to_arrays(args))


@debug_callback_p.def_impl
def _debug_callback_impl(*args, callback, effect, partitioned):
    _run_debug(callback, args)
    return []


@debug_callback_p.def_abstract_eval
def _debug_callback_abstract_eval(*avals, callback, effect, partitioned):
    return []


def _debug_batch(prim):
    """Run the callback once per batch element (unrolled), as JAX does."""

    def rule(axis_size, args, dims, **params):
        for i in range(axis_size):
            prim.bind(*[_index(x, i, d) for x, d in zip(args, dims)], **params)
        return [], []

    return rule


def _debug_jvp(prim):
    def rule(primals, tangents, **params):
        return prim.bind(*primals, **params), []

    return rule


def _debug_transpose(cts, *args, **params):
    return [None] * len(args)


debug_callback_p.def_batch(_debug_batch(debug_callback_p))
debug_callback_p.def_jvp(_debug_jvp(debug_callback_p))
debug_callback_p.def_transpose(_debug_transpose)


def _host_debug(callback):
    def host(*np_args):
        _run_debug(callback, np_args)
        return ()

    return host


@debug_callback_p.def_lowering
def _debug_callback_lowering(ctx, *args, callback, effect, partitioned):
    return emit_python_callback(
        ctx, _host_debug(callback), args, [], has_side_effect=True, ordered=effect.ordered
    )


def debug_callback(
    callback: Callable[..., None] | None = None,
    *args: Any,
    ordered: bool = False,
    partitioned: bool = False,
    **kwargs: Any,
) -> Any:
    """Call ``callback(*args, **kwargs)`` for its side effects, eagerly or from compiled
    code; under ``vmap`` once per batch element. ``debug_callback(ordered=True)`` with no
    callback returns the function to call (JAX's two-call form)."""

    def _debug_callback(callback, *c_args, **c_kwargs):
        if not callable(callback):
            raise TypeError(
                "first argument to jax.debug.callback must be callable, "
                f"but got an object of type {type(callback)}"
            )
        in_tree, dyn, static = _split_static(c_args, c_kwargs)

        def _flat_callback(*flat):
            a, k = _merge_static(in_tree, flat, static)
            callback(*a, **k)
            return ()

        debug_callback_p.bind(
            *dyn,
            callback=_ShownAs(_flat_callback),
            effect=ordered_debug_effect if ordered else debug_effect,
            partitioned=partitioned,
        )

    if callback is not None:
        _debug_callback(callback, *args, **kwargs)
        return None
    if args or kwargs:
        raise TypeError(
            f"debug_callback received unexpected arguments in the two-call form: {args=} {kwargs=}"
        )
    return _debug_callback


# ---------------------------------------------------------------------------- debug_print

debug_print_p = Primitive("debug_print", multiple_results=True)
debug_print_p.effectful = True  # has side effects: never drop or merge it
debug_print_p.ordered_by_token = lambda params: params["ordered"]


class _FormatChecker(string.Formatter):
    """Checks a format string against its arguments without formatting any value."""

    def format_field(self, value, format_spec):
        return ""

    def check_unused_args(self, used_args, args, kwargs):
        unused_args = [a for i, a in enumerate(args) if i not in used_args]
        unused_kwargs = [k for k in kwargs if k not in used_args]
        if unused_args:
            raise ValueError(f"Unused positional arguments to `jax.debug.print`: {unused_args}")
        if unused_kwargs:
            raise ValueError(
                f"Unused keyword arguments to `jax.debug.print`: {unused_kwargs}. "
                'You may be passing an f-string (i.e, `f"{x}"`) into '
                "`jax.debug.print` and instead should pass in a regular string."
            )


_format_checker = _FormatChecker()


def _print_message(fmt, np_printoptions, has_placeholders, logging_record, *args, **kwargs):
    if has_placeholders:
        with np.printoptions(**np_printoptions):
            msg = fmt.format(*args, **kwargs)
    else:
        msg = " ".join((fmt, *(str(a) for a in args)))
    if logging_record is not None:
        import copy

        record = copy.copy(logging_record)
        record.msg = msg
        logger.handle(record)
    else:
        sys.stdout.write(msg + "\n")


def _print_callback(params: dict) -> Callable[..., Any]:
    in_tree, static = params["in_tree"], dict(params["static_args"])
    opts = dict(params["np_printoptions"])

    def flat(*dyn):
        a, k = _merge_static(in_tree, dyn, static)
        _print_message(
            params["fmt"], opts, params["has_placeholders"], params["logging_record"], *a, **k
        )
        return ()

    return flat


@debug_print_p.def_impl
def _debug_print_impl(*args, **params):
    _run_debug(_print_callback(params), args)
    return []


@debug_print_p.def_abstract_eval
def _debug_print_abstract_eval(*avals, **params):
    return []


debug_print_p.def_batch(_debug_batch(debug_print_p))
debug_print_p.def_jvp(_debug_jvp(debug_print_p))
debug_print_p.def_transpose(_debug_transpose)


@debug_print_p.def_lowering
def _debug_print_lowering(ctx, *args, **params):
    host = _host_debug(_print_callback(params))
    return emit_python_callback(
        ctx, host, args, [], has_side_effect=True, ordered=params["ordered"]
    )


def debug_print(
    fmt: str | None = None,
    *args: Any,
    ordered: bool = False,
    partitioned: bool = False,
    skip_format_check: bool = False,
    _use_logging: bool = False,
    **kwargs: Any,
) -> Any:
    """Print ``fmt.format(*args, **kwargs)`` when the program runs (eagerly, or from
    compiled code), with the values the arrays have then. Not an f-string: the
    formatting happens later. Under ``vmap`` prints once per batch element; under
    ``grad`` prints the primal values."""

    def call(fmt, *c_args, **c_kwargs):
        if not skip_format_check:
            _format_checker.format(fmt, *c_args, **c_kwargs)
        has_placeholders = False
        if fmt:
            _, field_name, *_ = next(iter(string.Formatter().parse(fmt)))
            has_placeholders = field_name is not None
        in_tree, dyn, static = _split_static(c_args, c_kwargs)
        record = None
        if _use_logging:
            src = core.current_source_info()
            record = logger.makeRecord(
                logger.name,
                logging.INFO,
                src.file if src else "(unknown file)",
                src.line if src else 0,
                "",
                (),
                None,
            )
        debug_print_p.bind(
            *dyn,
            fmt=fmt,
            has_placeholders=has_placeholders,
            in_tree=in_tree,
            logging_record=record,
            np_printoptions=tuple(np.get_printoptions().items()),
            ordered=ordered,
            partitioned=partitioned,
            static_args=tuple(static.items()),
        )

    if fmt is not None:
        call(fmt, *args, **kwargs)
        return None
    if args or kwargs:
        raise TypeError(
            f"debug_print received unexpected arguments in the two-call form: {args=} {kwargs=}"
        )
    return call


def debug_log(fmt: str, *args: Any, **kwargs: Any) -> None:
    """``debug_print`` through the ``logging`` module (INFO level)."""
    debug_print(fmt, *args, _use_logging=True, **kwargs)
