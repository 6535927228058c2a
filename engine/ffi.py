"""Foreign functions (``jax.ffi``): call compiled C/C++/CUDA kernels from engine code.

    lib = ctypes.cdll.LoadLibrary("./libkernels.so")
    engine.ffi.register_ffi_target("scale", engine.ffi.pycapsule(lib.Scale), platform="cpu")
    y = engine.ffi.ffi_call("scale", engine.ShapeDtypeStruct(x.shape, x.dtype),
                            vmap_method="broadcast_all")(x, factor=np.float32(2.0))

A kernel is written against XLA's typed FFI headers, which jaxlib ships
(``include_dir()``). Each call becomes one ``ffi_call`` equation, lowered to a
``stablehlo.custom_call`` whose ``mhlo.backend_config`` carries the keyword arguments as
the handler's attributes (as JAX lowers it). Under ``vmap`` the ``vmap_method`` decides
what the kernel sees; ``ffi_call`` has no derivative (wrap it in ``custom_jvp``/
``custom_vjp``).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jaxlib
import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from . import core
from .core import Primitive, ShapedArray
from .interpreters import lowering
from .lax import control_flow, structural
from .runtime import xc

__all__ = [
    "ffi_call",
    "ffi_lowering",
    "include_dir",
    "pycapsule",
    "register_ffi_target",
    "register_ffi_target_as_batch_partitionable",
    "register_ffi_type",
]

# ---------------------------------------------------------------------------- registration


def register_ffi_target(
    name: str, fn: Any, platform: str = "cpu", api_version: int = 1, **kwargs: Any
) -> None:
    """Register a handler under ``name`` for ``platform``: ``fn`` is a PyCapsule holding
    the handler's pointer, or a dict of stage name -> PyCapsule (``"execute"``,
    ``"instantiate"``, ...). ``api_version``: 1 typed FFI (default), 0 the old custom
    call ABI. Extra keyword arguments go to jaxlib's ``register_custom_call_target``."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_ffi_target needs a non-empty target name, got {name!r}")
    xc.register_custom_call_target(name, fn, platform, api_version, **kwargs)


def register_ffi_type(name: str, type_registration: Mapping[str, Any], platform: str = "cpu"):
    """Register a user type (``{"type_id": capsule, "type_info": capsule}``) for FFI
    handlers' state."""
    return xc.register_custom_type(name, type_registration, platform=platform)


def register_ffi_target_as_batch_partitionable(name: str) -> None:
    xc.register_custom_call_as_batch_partitionable(name)


def pycapsule(funcptr: Any) -> Any:
    """A PyCapsule around a ctypes function pointer (e.g. ``ctypes.CDLL(path).Handler``),
    the form ``register_ffi_target`` takes."""
    address = ctypes.cast(funcptr, ctypes.c_void_p).value
    if not address:
        raise ValueError(f"pycapsule needs a non-null function pointer, got {funcptr!r}")
    new = ctypes.pythonapi.PyCapsule_New
    new.restype = ctypes.py_object
    new.argtypes = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
    return new(address, None, None)


def include_dir() -> str:
    """The folder of the C++ headers jaxlib ships (``xla/ffi/api/ffi.h``): pass it to
    the compiler as ``-I``."""
    base = jaxlib.__file__ and os.path.dirname(os.path.abspath(jaxlib.__file__))
    if not base:
        paths = list(getattr(jaxlib, "__path__", []))
        if not paths:
            raise RuntimeError("cannot locate the jaxlib package to find its include folder")
        base = paths[0]
    return os.path.join(base, "include")


# ---------------------------------------------------------------------------- attributes


class HashableArray:
    """A NumPy array keyword argument, compared and hashed by value (it becomes a dense
    attribute of the custom call, and part of the equation's parameters)."""

    __slots__ = ("val",)

    def __init__(self, val: np.ndarray) -> None:
        self.val = np.array(val, copy=True)
        self.val.flags.writeable = False

    def __repr__(self) -> str:
        return f"HashableArray({self.val!r})"

    def __hash__(self) -> int:
        return hash((self.val.shape, self.val.dtype, self.val.tobytes()))

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, HashableArray)
            and self.val.dtype == other.val.dtype
            and np.array_equal(self.val, other.val)
        )


class FrozenDict(Mapping):
    """A dict keyword argument, hashed by its (sorted) items."""

    __slots__ = ("_d",)

    def __init__(self, d: Mapping[str, Any]) -> None:
        self._d = dict(d)

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._d.items())))

    def __repr__(self) -> str:
        return f"FrozenDict({self._d!r})"


def _hashable_kwargs(kwargs: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    out = []
    for k, v in sorted(kwargs.items()):
        if isinstance(v, np.ndarray):
            v = HashableArray(v)
        elif isinstance(v, dict):
            v = FrozenDict(v)
        else:
            try:
                hash(v)
            except TypeError:
                raise TypeError(
                    f"Non-hashable keyword argument to ffi_call {k}: {v!r} (pass NumPy "
                    "arrays, dicts, scalars or strings)"
                ) from None
        out.append((k, v))
    return tuple(out)


_PYTHON_SCALAR_DTYPES = {bool: np.bool_, int: np.int64, float: np.float64, complex: np.complex128}


def ir_attribute(val: Any) -> Any:
    """An MLIR attribute for an FFI keyword argument (JAX's typing: Python ``int`` -> i64,
    ``float`` -> f64, NumPy scalars keep their dtype, arrays -> dense attributes)."""
    if isinstance(val, ir.Attribute):
        return val
    if isinstance(val, HashableArray):
        val = val.val
    if isinstance(val, FrozenDict):
        val = val._d
    if isinstance(val, (str, bytes)):
        return ir.StringAttr.get(val)
    if isinstance(val, Mapping):
        return ir.DictAttr.get({k: ir_attribute(v) for k, v in val.items()})
    if isinstance(val, (list, tuple)):
        return ir.ArrayAttr.get([ir_attribute(v) for v in val])
    if isinstance(val, np.dtype) or (isinstance(val, type) and issubclass(val, np.generic)):
        return ir.TypeAttr.get(lowering.ir_element_type(np.dtype(val)))
    if type(val) in _PYTHON_SCALAR_DTYPES:
        val = np.array(val, _PYTHON_SCALAR_DTYPES[type(val)])
    if isinstance(val, (np.ndarray, np.generic)):
        arr = np.asarray(val)
        element = lowering.ir_element_type(arr.dtype)
        if arr.ndim == 0:
            if isinstance(element, ir.IntegerType):
                return ir.IntegerAttr.get(element, int(arr))
            if isinstance(element, ir.FloatType):
                return ir.FloatAttr.get(element, float(arr))
            raise TypeError(f"Unsupported scalar attribute type: {arr.dtype}")
        return _dense(np.ascontiguousarray(arr), element, arr.shape)
    raise TypeError(f"No attribute handler defined for type: {type(val)}")


# ---------------------------------------------------------------------------- lowering


def _default_layout(aval: Any) -> tuple[int, ...]:
    return tuple(reversed(range(len(aval.shape))))


def _dense(array: Any, element: Any, shape: Any = None) -> Any:
    return ir.DenseElementsAttr.get(array, type=element, shape=shape)


def _layout_attr(layouts: Sequence[Sequence[int]]) -> Any:
    index = ir.IndexType.get()
    return ir.ArrayAttr.get(
        [_dense(np.asarray(lay, dtype=np.int64).reshape(-1), index) for lay in layouts]
    )


def emit_custom_call(
    ctx: Any,
    operands: Sequence[Any],
    target_name: str,
    *,
    result_avals: Sequence[Any] | None = None,
    has_side_effect: bool = False,
    operand_layouts: Sequence[Sequence[int]] | None = None,
    result_layouts: Sequence[Sequence[int]] | None = None,
    operand_output_aliases: Mapping[int, int] | None = None,
    api_version: int = 4,
    backend_config: Mapping[str, Any] | str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Emit ``stablehlo.custom_call @target_name``; typed FFI (``api_version >= 4``)
    passes ``attributes`` in ``mhlo.backend_config``, older ABIs the opaque string."""
    avals_out = list(ctx.avals_out if result_avals is None else result_avals)
    result_types = [lowering.ir_type(a) for a in avals_out]
    if operand_layouts is None:
        operand_layouts = [_default_layout(a) for a in ctx.avals_in]
    if result_layouts is None:
        result_layouts = [_default_layout(a) for a in avals_out]
    attrs = {
        "call_target_name": ir.StringAttr.get(target_name),
        "has_side_effect": ir.BoolAttr.get(has_side_effect),
        "called_computations": ir.ArrayAttr.get([]),
        "operand_layouts": _layout_attr(operand_layouts),
        "result_layouts": _layout_attr(result_layouts),
    }
    if api_version >= 4:
        if backend_config is not None and not isinstance(backend_config, Mapping):
            raise ValueError("When api_version > 4, backend_config must be a dictionary.")
        config = {**(backend_config or {}), **(attributes or {})}
        attrs["backend_config"] = ir.StringAttr.get("")
        version = 1  # the typed FFI reads its attributes from mhlo.backend_config
    else:
        if attributes:
            raise ValueError(
                "The use of ffi_call attributes requires a custom call API version "
                f"of at least 4; got api_version={api_version}."
            )
        if isinstance(backend_config, Mapping):  # a dict needs mhlo.backend_config
            config, version = dict(backend_config), 1
            attrs["backend_config"] = ir.StringAttr.get("")
        else:
            config, version = None, api_version
            attrs["backend_config"] = ir.StringAttr.get(backend_config or "")
    attrs["api_version"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(32), version)
    if operand_output_aliases:
        attrs["output_operand_aliases"] = ir.ArrayAttr.get(
            [
                hlo.OutputOperandAlias.get(
                    output_tuple_indices=[o] if len(result_types) > 1 else [],
                    operand_index=i,
                    operand_tuple_indices=[],
                )
                for i, o in operand_output_aliases.items()
            ]
        )
    op = hlo.CustomCallOp.build_generic(
        results=result_types, operands=list(operands), attributes=attrs
    )
    if config is not None:
        op.operation.attributes["mhlo.backend_config"] = ir.DictAttr.get(
            {k: ir_attribute(v) for k, v in config.items()}
        )
    return list(op.results)


def ffi_lowering(
    call_target_name: str,
    *,
    operand_layouts: Sequence[Sequence[int]] | None = None,
    result_layouts: Sequence[Sequence[int]] | None = None,
    backend_config: Mapping[str, Any] | str | None = None,
    **lowering_args: Any,
) -> Callable[..., list[Any]]:
    """A lowering rule (``Primitive.def_lowering``) that calls FFI target
    ``call_target_name``; the equation's parameters become the handler's attributes.
    Layouts here are minor-to-major (XLA's order), default row-major."""

    def rule(ctx: Any, *operands: Any, **params: Any) -> list[Any]:
        return emit_custom_call(
            ctx,
            operands,
            call_target_name,
            operand_layouts=operand_layouts,
            result_layouts=result_layouts,
            backend_config=backend_config,
            attributes=params,
            **lowering_args,
        )

    return rule


# ---------------------------------------------------------------------------- ffi_call_p

ffi_call_p = Primitive("ffi_call", multiple_results=True)
# has_side_effect=True binds this twin (same name, same rules): never dropped or merged
ffi_call_effectful_p = Primitive("ffi_call", multiple_results=True)
ffi_call_effectful_p.effectful = True  # type: ignore[attr-defined]

_VMAP_METHODS = ["sequential", "sequential_unrolled", "expand_dims", "broadcast_all"]
_ALLOWED_VMAP_METHODS = [*_VMAP_METHODS, "legacy_vectorized", None]


def _abstract_eval(*avals: Any, result_avals: tuple, **_: Any) -> list[Any]:
    return list(result_avals)


def _not_differentiable(*_: Any, target_name: str, **__: Any) -> Any:
    raise ValueError(
        f"The FFI call to `{target_name}` cannot be differentiated. "
        "Give it a derivative with `jax.custom_jvp` or `jax.custom_vjp`."
    )


def _lower(
    ctx: Any,
    *operands: Any,
    target_name: str,
    has_side_effect: bool,
    input_layouts: tuple,
    output_layouts: tuple,
    input_output_aliases: tuple,
    custom_call_api_version: int,
    legacy_backend_config: str | None,
    attributes: tuple,
    **_: Any,
) -> list[Any]:
    return emit_custom_call(
        ctx,
        operands,
        target_name,
        has_side_effect=has_side_effect,
        operand_layouts=input_layouts,
        result_layouts=output_layouts,
        operand_output_aliases=dict(input_output_aliases),
        api_version=custom_call_api_version,
        backend_config=legacy_backend_config,
        attributes=dict(attributes),
    )


def _batched_layout(layout: tuple | None) -> tuple | None:
    """A minor-to-major layout with a new major-most (leading) batch dimension."""
    return None if layout is None else tuple(n + 1 for n in layout) + (0,)


def _moveaxis0(x: Any, d: int) -> Any:
    if d == 0:
        return x
    perm = (d,) + tuple(i for i in range(len(core.get_aval(x).shape)) if i != d)
    return structural.transpose(x, perm)


def _make_batch(prim: Primitive) -> Callable[..., Any]:
    def batch(
        axis_size: int, args: Sequence[Any], dims: Sequence[int | None], **params: Any
    ) -> tuple[list[Any], list[int]]:
        vmap_method = params.pop("vmap_method")
        result_avals = params.pop("result_avals")
        args = [x if d is None else _moveaxis0(x, d) for x, d in zip(args, dims)]
        batched_avals = tuple(core.unmapped_aval(axis_size, 0, a) for a in result_avals)
        if vmap_method in ("sequential", "sequential_unrolled"):
            batched = [d is not None for d in dims]
            fixed = [x for x, b in zip(args, batched) if not b]

            def body(carry: Any, xs: Any) -> tuple[Any, list[Any]]:
                it_f, it_m = iter(fixed), iter(xs)
                merged = [next(it_m) if b else next(it_f) for b in batched]
                out = prim.bind(
                    *merged, vmap_method=vmap_method, result_avals=result_avals, **params
                )
                return carry, list(out)

            moving = [x for x, b in zip(args, batched) if b]
            unroll = True if vmap_method == "sequential_unrolled" else 1
            _, outs = control_flow.scan(body, (), moving, unroll=unroll)
        elif vmap_method in ("expand_dims", "broadcast_all", "legacy_vectorized"):
            params["output_layouts"] = tuple(map(_batched_layout, params["output_layouts"]))
            if vmap_method == "legacy_vectorized":
                params["input_layouts"] = tuple(
                    lay if d is None else _batched_layout(lay)
                    for lay, d in zip(params["input_layouts"], dims)
                )
            else:
                size = axis_size if vmap_method == "broadcast_all" else 1
                args = [
                    structural.broadcast(x, (size,)) if d is None else x for x, d in zip(args, dims)
                ]
                params["input_layouts"] = tuple(map(_batched_layout, params["input_layouts"]))
            outs = prim.bind(*args, vmap_method=vmap_method, result_avals=batched_avals, **params)
        else:
            raise NotImplementedError(
                f"vmap is only supported for the {prim.name} primitive when vmap_method "
                "is one of 'sequential', 'sequential_unrolled', 'expand_dims', "
                f"'broadcast_all', or 'legacy_vectorized'. Got vmap_method={vmap_method!r}."
            )
        outs = list(outs)
        return outs, [0] * len(outs)

    return batch


for _p in (ffi_call_p, ffi_call_effectful_p):
    _p.def_abstract_eval(_abstract_eval)
    _p.def_jvp(_not_differentiable)
    _p.def_transpose(lambda cts, *args, **params: _not_differentiable(**params))
    _p.def_batch(_make_batch(_p))
    _p.def_lowering(_lower)


# ---------------------------------------------------------------------------- ffi_call


def _result_avals(results: Sequence[Any]) -> tuple[ShapedArray, ...]:
    avals = []
    for i, r in enumerate(results):
        if not hasattr(r, "shape") or not hasattr(r, "dtype"):
            raise ValueError(
                "All elements of result_shape_dtypes must have 'shape' and 'dtype' "
                f"attributes. Got {r} at position {i}."
            )
        avals.append(ShapedArray(tuple(r.shape), np.dtype(r.dtype)))
    return tuple(avals)


def _to_minor_major(avals: Sequence[Any], layouts: Sequence[Any], what: str) -> tuple:
    """Layouts given major-to-minor (None: row-major) in XLA's minor-to-major order."""
    out = []
    for aval, lay in zip(avals, layouts):
        if lay is None:
            out.append(_default_layout(aval))
            continue
        if getattr(lay, "tiling", None) is not None:
            raise ValueError("The FFI does not support layouts with tiling")
        major_to_minor = getattr(lay, "major_to_minor", lay)
        lay = tuple(int(i) for i in major_to_minor)
        if sorted(lay) != list(range(len(aval.shape))):
            raise ValueError(
                f"{what} layout {lay} is not a permutation of the {len(aval.shape)} "
                f"dimensions of {aval.str_short()}"
            )
        out.append(lay[::-1])
    return tuple(out)


def ffi_call(
    target_name: str,
    result_shape_dtypes: Any,
    *,
    has_side_effect: bool = False,
    vmap_method: str | None = None,
    input_layouts: Sequence[Any] | None = None,
    output_layouts: Any = None,
    input_output_aliases: dict[int, int] | None = None,
    custom_call_api_version: int = 4,
    legacy_backend_config: str | None = None,
) -> Callable[..., Any]:
    """A function calling FFI target ``target_name`` (registered with
    ``register_ffi_target``) on its positional array arguments; its keyword arguments
    become the handler's attributes.

    ``result_shape_dtypes``: one object with ``shape`` and ``dtype`` (one result) or a
    sequence of them (a list of results; a tuple gives a tuple).
    ``vmap_method``: how ``vmap`` calls the kernel: 'sequential' (a loop over the batch),
    'sequential_unrolled', 'expand_dims' (unbatched inputs get a leading 1),
    'broadcast_all' (every input gets the batch dimension), 'legacy_vectorized'; None:
    ``vmap`` raises. ``input_layouts``/``output_layouts``: per array, its dimensions
    major-to-minor (None: row-major). ``input_output_aliases``: {input: output} buffers
    the kernel updates in place. ``has_side_effect``: keep the call even when its results
    are unused."""
    if vmap_method not in _ALLOWED_VMAP_METHODS:
        raise ValueError(
            f"vmap_method must be on of the allowed methods {_ALLOWED_VMAP_METHODS}, "
            f"but got: {vmap_method}"
        )
    multiple = isinstance(result_shape_dtypes, Sequence)
    results = list(result_shape_dtypes) if multiple else [result_shape_dtypes]
    result_avals = _result_avals(results)
    out_layouts_given = output_layouts if multiple else (output_layouts,)
    if custom_call_api_version >= 4 and legacy_backend_config is not None:
        raise ValueError(
            "The use of the legacy_backend_config parameter requires "
            f"custom_call_api_version < 4; got {custom_call_api_version}."
        )
    prim = ffi_call_effectful_p if has_side_effect else ffi_call_p

    def call(*args: Any, **kwargs: Any) -> Any:
        in_avals = [core.get_aval(x) for x in args]
        if input_layouts is None:
            in_layouts = tuple(map(_default_layout, in_avals))
        else:
            if len(input_layouts) != len(in_avals):
                raise ValueError(
                    f"The number of input arguments ({len(in_avals)}) must equal the "
                    f"number of input layouts ({len(input_layouts)})."
                )
            in_layouts = _to_minor_major(in_avals, input_layouts, "input")
        if out_layouts_given is None:
            out_layouts = tuple(map(_default_layout, result_avals))
        else:
            if len(out_layouts_given) != len(result_avals):
                raise ValueError(
                    f"The number of outputs ({len(result_avals)}) must equal the "
                    f"number of output layouts ({len(out_layouts_given)})."
                )
            out_layouts = _to_minor_major(result_avals, out_layouts_given, "output")
        aliases = _check_aliases(input_output_aliases, in_avals, result_avals, in_layouts,
                                 out_layouts)  # fmt: skip
        outs = prim.bind(
            *args,
            result_avals=result_avals,
            vmap_method=vmap_method,
            target_name=target_name,
            has_side_effect=has_side_effect,
            input_layouts=in_layouts,
            output_layouts=out_layouts,
            input_output_aliases=aliases,
            custom_call_api_version=custom_call_api_version,
            legacy_backend_config=legacy_backend_config,
            attributes=_hashable_kwargs(kwargs),
        )
        if multiple:
            return tuple(outs) if isinstance(result_shape_dtypes, tuple) else list(outs)
        return outs[0]

    return call


def _check_aliases(aliases, in_avals, result_avals, in_layouts, out_layouts) -> tuple:
    out = []
    for i, o in sorted((aliases or {}).items()):
        i, o = int(i), int(o)
        if i >= len(in_avals):
            raise ValueError(
                f"input_output_aliases contains the mapping '{i}:{o}' with input index "
                f"{i} outside the range [0, {len(in_avals)})."
            )
        if o >= len(result_avals):
            raise ValueError(
                f"input_output_aliases contains the mapping '{i}:{o}' with output index "
                f"{o} outside the range [0, {len(result_avals)})."
            )
        a, b = in_avals[i], result_avals[o]
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise ValueError(
                f"input_output_aliases contains the mapping '{i}:{o}' referring to an "
                f"input with abstract value {a.str_short()} and an output with a "
                f"different abstract value {b.str_short()}."
            )
        if in_layouts[i] != out_layouts[o]:
            raise ValueError(
                f"input_output_aliases contains the mapping '{i}:{o}' referring to an "
                f"input with layout {in_layouts[i]} and an output with a different "
                f"layout {out_layouts[o]}."
            )
        out.append((i, o))
    return tuple(out)
