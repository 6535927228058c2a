"""Safety checks on a module before it is exported, as JAX's: custom calls must target
kernels whose behaviour is guaranteed stable across releases (a list that mirrors JAX
0.10.2's), unless the caller disables the check for a target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jaxlib.mlir import ir

_LAPACK = [
    f"lapack_{p}{op}_ffi"
    for op in ("potrf", "geqrf", "geev", "gesdd", "getrf", "gehrd", "gees", "trsm", "gtsv")
    for p in "sdcz"
] + [
    f"lapack_{p}{real if p in 'sd' else cplx}_ffi"
    for real, cplx in (("orgqr", "ungqr"), ("syevd", "heevd"), ("sytrd", "hetrd"))
    for p in "sdcz"
]
_GPU = [
    *(f"{v}_lu_pivots_to_permutation" for v in ("cu", "hip")),
    *(
        f"{v}_{op}_ffi"
        for v in ("cusolver", "hipsolver")
        for op in ("getrf", "geqrf", "orgqr", "potrf", "syevd", "gesvd", "gesvdj", "sytrd")
    ),
    "hipsolver_gesdd_ffi",
    "cusparse_gtsv2_ffi",
]
STABLE_CUSTOM_CALL_TARGETS = frozenset(
    [
        *_LAPACK,
        *_GPU,
        "Sharding",
        "SPMDFullToShardShape",
        "SPMDShardToFullShape",
        "annotate_device_placement",
        "cu_threefry2x32_ffi",
        "hip_threefry2x32_ffi",
        "Eigh",
        "Qr",
        "ProductOfElementaryHouseholderReflectors",
        "LuDecomposition",
        "ApproxTopK",
        "stablehlo.dynamic_approx_top_k",
        "tf.call_tf_function",
        "tpu_custom_call",
        "AllocateBuffer",
        "mosaic_gpu_v2",
        "stablehlo.dynamic_reduce_window",
        "stablehlo.dynamic_rng_bit_generator",
        "stablehlo.dynamic_top_k",
        "shape_assertion",
    ]
)


def check_no_host_callbacks(module: ir.Module) -> None:
    """Python callbacks live in this process only: an exported module cannot carry them
    (JAX raises the same error)."""
    from ..runtime import HOST_CALLBACKS_ATTR

    if HOST_CALLBACKS_ATTR in module.operation.attributes:
        raise NotImplementedError("serialization of host_callbacks is not yet implemented")


def check_custom_calls(module: ir.Module, disabled_checks: Sequence[Any]) -> None:
    """Raise JAX's ValueError when the module calls a custom-call target without a
    compatibility guarantee (host callbacks, user FFI kernels, ...)."""
    allowed = set(STABLE_CUSTOM_CALL_TARGETS)
    for check in disabled_checks:
        target = check.is_custom_call()
        if target is not None:
            allowed.add(target)
    if "ALL" in allowed:
        return
    bad: list[str] = []

    def visit(op: Any) -> Any:
        op = op.operation
        if op.name == "stablehlo.custom_call":
            target = ir.StringAttr(op.attributes["call_target_name"]).value
            if target not in allowed:
                bad.append(f"{op} at {op.location}")
        return ir.WalkResult.ADVANCE

    with module.context:
        module.operation.walk(visit)
    if bad:
        examples = "\n".join(bad)
        raise ValueError(
            "Cannot serialize code with custom calls whose targets have no compatibility "
            "guarantees. See https://docs.jax.dev/en/latest/export/export.html"
            f"#compatibility-guarantees-for-custom-calls. Examples are:\n{examples}.\n"
        )
