"""Lowering helpers for the linear-algebra primitives: LAPACK (CPU) and cuSOLVER (CUDA)
kernels called as typed-FFI custom calls, the way jaxlib's kernels expect them.

Matrices travel in column-major layout (XLA inserts the transposes), leading dimensions
are batch dimensions the kernel loops over (``num_batch_dims``), and most kernels report
an ``info`` status per matrix, which the caller turns into NaNs where it is not 0."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import dtypes, runtime
from ..core import ShapedArray
from ..interpreters import lowering
from ..interpreters.tracing import trace_to_jaxpr

_LAPACK_PREFIX = {
    np.dtype(np.float32): "s",
    np.dtype(np.float64): "d",
    np.dtype(np.complex64): "c",
    np.dtype(np.complex128): "z",
}


def lapack_target(base, dtype):
    """``lapack_{s,d,c,z}<base>``, e.g. lapack_spotrf_ffi for ("potrf_ffi", float32)."""
    prefix = _LAPACK_PREFIX.get(np.dtype(dtype))
    if prefix is None:
        raise NotImplementedError(f"LAPACK has no kernel {base!r} for dtype {np.dtype(dtype)}")
    return f"lapack_{prefix}{base}"


def gpu_platform(platform):
    return platform in ("cuda", "rocm", "gpu")


def require_target(name, platform, what):
    """Fail with a readable message where the backend did not register the kernel."""
    have = runtime.linalg_targets("cuda" if gpu_platform(platform) else platform)
    if name not in have:
        raise NotImplementedError(
            f"{what} needs the custom call {name!r}, which the {platform} backend does not "
            "provide (its plugin ships no solver library, or it failed to load)."
        )
    return name


def char_attr(c):
    return ir.IntegerAttr.get(ir.IntegerType.get_unsigned(8), ord(c))


def u8_attr(v):
    return ir.IntegerAttr.get(ir.IntegerType.get_unsigned(8), int(v))


def bool_attr(v):
    return ir.BoolAttr.get(bool(v))


def _layout(aval, column_major, max_ndim):
    nd = len(aval.shape)
    if column_major and nd == max_ndim and nd >= 2:
        dims = (nd - 2, nd - 1) + tuple(range(nd - 3, -1, -1))
    else:
        dims = tuple(range(nd - 1, -1, -1))
    return ir.DenseElementsAttr.get(np.asarray(dims, np.int64), type=ir.IndexType.get())


def ffi_call(
    target,
    operands,
    avals_in,
    avals_out,
    attrs=None,
    aliases=None,
    column_major=True,
    num_non_batch_dims=2,
):
    """Emit ``stablehlo.custom_call @target`` (api_version 1 with an
    ``mhlo.backend_config`` dictionary: jaxlib's typed-FFI convention); returns its
    results. ``aliases`` maps operand index -> result index (the kernel works in place)."""
    max_ndim = max(len(a.shape) for a in avals_in)
    op = hlo.CustomCallOp(
        [lowering.ir_type(a) for a in avals_out],
        list(operands),
        target,
        has_side_effect=False,
        backend_config=ir.StringAttr.get(""),
        api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 1),
        operand_layouts=ir.ArrayAttr.get([_layout(a, column_major, max_ndim) for a in avals_in]),
        result_layouts=ir.ArrayAttr.get([_layout(a, column_major, max_ndim) for a in avals_out]),
        output_operand_aliases=ir.ArrayAttr.get(
            [
                hlo.OutputOperandAlias.get([] if len(avals_out) == 1 else [res], opnd, [])
                for opnd, res in (aliases or {}).items()
            ]
        ),
    )
    op.attributes["mhlo.backend_config"] = ir.DictAttr.get(dict(attrs or {}))
    op.attributes["mhlo.frontend_attributes"] = ir.DictAttr.get(
        {"num_batch_dims": ir.StringAttr.get(str(max_ndim - num_non_batch_dims))}
    )
    return list(op.results)


def info_aval(batch_dims):
    return ShapedArray(tuple(batch_dims), np.dtype(np.int32))


def ok_where(info, batch_dims, direction="EQ"):
    """A boolean per matrix: the kernel's status ``info`` compared with 0."""
    aval = info_aval(batch_dims)
    return lowering.compare(info, lowering.full_like_aval(0, aval), direction, aval)


def nan_where_not_ok(x, aval, ok, batch_dims):
    """Replace the matrices whose factorization failed by NaNs (as JAX does)."""
    nb = len(batch_dims)
    ok_aval = ShapedArray(tuple(aval.shape), np.dtype(np.bool_))
    ok_full = hlo.broadcast_in_dim(lowering.ir_type(ok_aval), ok, list(range(nb)))
    nan = complex(np.nan, np.nan) if dtypes.is_complex(aval.dtype) else np.nan
    fill = lowering.full_like_aval(nan, aval.update(weak_type=False))
    return hlo.select(ok_full, x, fill)


def lower_fun(ctx, fn, args, avals_in, avals_out=None, multiple_results=True):
    """Lower ``fn`` (engine ops on traced arrays) inline, as JAX's ``mlir.lower_fun``."""
    closed = trace_to_jaxpr(
        lambda *xs: list(fn(*xs)) if multiple_results else [fn(*xs)], list(avals_in)
    )
    outs = lowering.lower_jaxpr_inline(ctx, closed, list(args))
    return outs if multiple_results else outs[0]
