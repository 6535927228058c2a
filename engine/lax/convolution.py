"""conv_general_dilated (XLA's Convolution) with its dimension numbers and padding rules;
the helpers built on it (conv, conv_transpose, ...) are in ``conv_helpers``.

A convolution is bilinear: its JVP applies it to each tangent; its transposes are
convolutions again (w.r.t. lhs: the cotangent convolved with the spatially reversed
kernel, strides turned into lhs dilation; w.r.t. rhs: lhs convolved with the cotangent,
strides turned into rhs dilation), as in JAX."""

from __future__ import annotations

import contextlib
import math
import operator
from typing import NamedTuple

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import Zero, defjvp, zeros_like_aval
from ..interpreters.transpose import is_undefined_primal
from .convert import convert_element_type
from .dot import Precision, canonicalize_precision
from .structural import full, reshape, rev

__all__ = [
    "ConvDimensionNumbers",
    "ConvGeneralDilatedDimensionNumbers",
    "conv_general_dilated",
    "conv_dimension_numbers",
    "conv_general_permutations",
    "conv_shape_tuple",
    "conv_general_shape_tuple",
    "padtype_to_pads",
    "PaddingType",
    "conv_general_dilated_p",
]


class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial dimensions sit: ``lhs_spec`` and ``out_spec``
    are (batch, feature, spatial...), ``rhs_spec`` is (out feature, in feature, spatial...)."""

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


ConvGeneralDilatedDimensionNumbers = tuple | ConvDimensionNumbers | None


class PaddingType:
    """The padding names understood by padtype_to_pads."""

    VALID = "VALID"
    SAME = "SAME"
    SAME_LOWER = "SAME_LOWER"


def _dim(d):
    """An int, or a symbolic dimension (shape-polymorphic export) as it is."""
    return d if hasattr(d, "_is_symbolic_dim") else int(d)


def _max_dim(a, b):
    if type(a) is int and type(b) is int:
        return max(a, b)
    from ..export.shape_poly import max_dim

    return max_dim(a, b)


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """(low, high) pads per spatial dimension for 'VALID', 'SAME' or 'SAME_LOWER'. For
    SAME the output has ceil(in / stride) entries; an odd pad puts the extra one at the
    end (SAME) or at the start (SAME_LOWER)."""
    if isinstance(padding, str):
        name = padding.upper()
        if name not in ("VALID", "SAME", "SAME_LOWER"):
            raise RuntimeError(
                "Unrecognized padding type: expected 'VALID', 'SAME', or 'SAME_LOWER', "
                f"got {padding}."
            )
    else:
        raise TypeError(f"Unknown padding type: {padding}.")
    if name == "VALID":
        return [(0, 0)] * len(in_shape)
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        n, k, s = _dim(n), _dim(k), int(s)
        out = -(-n // s)
        total = _max_dim((out - 1) * s + k - n, 0)
        small, big = total // 2, total - total // 2
        pads.append((small, big) if name == "SAME" else (big, small))
    return pads


# ---------------------------------------------------------------------------- dimension numbers


def conv_general_permutations(dimension_numbers):
    """Strings like ('NCHW', 'OIHW', 'NCHW') -> the three permutations that put each
    operand in (batch/out-feature, feature/in-feature, spatial...) order; spatial
    dimensions are ordered as they appear in the rhs string."""
    lhs_s, rhs_s, out_s = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for i, (a, b) in enumerate(pairs):
        spec = dimension_numbers[i]
        if not spec.count(a) == spec.count(b) == 1:
            raise TypeError(
                f"convolution dimension_numbers[{i}] must contain the characters "
                f"'{a}' and '{b}' exactly once, got {spec}."
            )
        if len(spec) != len(set(spec)):
            raise TypeError(
                f"convolution dimension_numbers[{i}] cannot have duplicate characters, got {spec}."
            )
    spatial = [set(s) - set(p) for s, p in zip(dimension_numbers, pairs)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise TypeError(
            "convolution dimension_numbers elements must each have the same set of "
            f"spatial characters, got {dimension_numbers}."
        )

    def perm(spec, pair):
        sp = [i for i, c in enumerate(spec) if c not in pair]
        if spec is not rhs_s:
            sp.sort(key=lambda i: rhs_s.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(sp)

    return tuple(perm(s, p) for s, p in zip(dimension_numbers, pairs))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers):
    """None, a ConvDimensionNumbers or a triple of strings -> ConvDimensionNumbers."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(
            "convolution requires lhs and rhs ndim to be equal, got "
            f"{len(lhs_shape)} and {len(rhs_shape)}."
        )
    if dimension_numbers is None:
        iota = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, (list, tuple)):
        if len(dimension_numbers) != 3:
            raise TypeError(
                "convolution dimension_numbers list/tuple must be length 3, got "
                f"{len(dimension_numbers)}."
            )
        if not all(isinstance(s, str) for s in dimension_numbers):
            raise TypeError(
                "convolution dimension_numbers elements must be strings, got "
                f"{tuple(map(type, dimension_numbers))}."
            )
        for i, s in enumerate(dimension_numbers):
            if len(s) != len(lhs_shape):
                raise TypeError(
                    f"convolution dimension_numbers[{i}] must have len equal to the ndim "
                    f"of lhs and rhs, got {len(s)} for lhs and rhs shapes {tuple(lhs_shape)} "
                    f"and {tuple(rhs_shape)}."
                )
        return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))
    raise TypeError(
        f"convolution dimension_numbers must be tuple/list or None, got {type(dimension_numbers)}."
    )


# ---------------------------------------------------------------------------- shapes


def _dilate(shape, dilation):
    return tuple(0 if d == 0 else 1 + r * (d - 1) for d, r in zip(shape, dilation))


def _stride_dim(n, k, s):
    if type(n) is not int or type(k) is not int:
        return _max_dim((n - k) // s + 1, 0)  # JAX's form for symbolic sizes
    return max(0, (n - k) // s + 1) if n >= k else 0


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count=1):
    """Output shape of a convolution with operands in canonical (N, C, spatial) order."""
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads)
    if len(pads) != len(lhs_shape) - 2:
        raise TypeError(
            "Wrong number of explicit pads for convolution: expected "
            f"{len(lhs_shape) - 2}, got {len(pads)}."
        )
    padded = [n + lo + hi for n, (lo, hi) in zip(lhs_shape[2:], pads)]
    if any(p < 0 for p in padded):
        raise ValueError(
            "Negative padding is larger than the size of the corresponding dimension: "
            f"got padding={pads} for lhs_shape[2:]={tuple(lhs_shape[2:])}"
        )
    space = tuple(_stride_dim(n, k, s) for n, k, s in zip(padded, rhs_shape[2:], strides))
    batch = lhs_shape[0] // batch_group_count if batch_group_count > 1 else lhs_shape[0]
    return (_dim(batch), _dim(rhs_shape[0])) + tuple(_dim(d) for d in space)


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
    lp, rp, op = conv_general_permutations(dimension_numbers)
    out = conv_shape_tuple(
        [lhs_shape[i] for i in lp], [rhs_shape[i] for i in rp], window_strides, padding
    )
    return tuple(out[i] for i in np.argsort(op))


# ---------------------------------------------------------------------------- public functions

conv_general_dilated_p = Primitive("conv_general_dilated")


@contextlib.contextmanager
def user_errors(prim, *operands):
    """Argument errors found before binding ``prim`` name the primitive, the operand
    types and the user's line, like the errors of its shape rule."""
    try:
        yield
    except (TypeError, ValueError, RuntimeError) as e:
        avals = []
        for x in operands:
            try:
                avals.append(core.get_aval(x))
            except Exception:
                pass
        raise core._annotate(e, prim, avals) from None


def _ints(xs):
    return tuple(int(x) for x in xs)


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
    out_sharding=None,
):
    """General n-d convolution (XLA's Convolution) with strides, padding ('SAME',
    'SAME_LOWER', 'VALID' or (low, high) pairs), lhs dilation (transposed convolution),
    rhs dilation (atrous), feature/batch groups and dimension numbers."""
    with user_errors(conv_general_dilated_p, lhs, rhs):
        lshape, rshape = np.shape(lhs), np.shape(rhs)
        dnums = conv_dimension_numbers(lshape, rshape, dimension_numbers)
        nsp = len(lshape) - 2
        if lhs_dilation is None:
            lhs_dilation = (1,) * nsp
        elif isinstance(padding, str) and any(d != 1 for d in lhs_dilation):
            raise ValueError(
                "String padding is not implemented for transposed convolution using this "
                "op. Please either exactly specify the required padding or use conv_transpose."
            )
        if rhs_dilation is None:
            rhs_dilation = (1,) * (len(rshape) - 2)
        if isinstance(padding, str):
            lp, rp, _ = dnums
            kernel = [rshape[i] for i in rp[2:]]
            padding = padtype_to_pads(
                [lshape[i] for i in lp[2:]], _dilate(kernel, rhs_dilation), window_strides, padding
            )
        else:
            try:
                padding = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    "padding argument to conv_general_dilated should be a string or a "
                    f"sequence of (low, high) pairs, got {padding}"
                ) from e
        if preferred_element_type is not None:
            preferred_element_type = dtypes.canonicalize_user_dtype(
                preferred_element_type, "conv_general_dilated"
            )
        if out_sharding is not None:  # a NamedSharding (its type decides the result's)
            from ..sharding.constraint import canonicalize_sharding

            out_sharding = canonicalize_sharding(out_sharding, "dot_general")
    return conv_general_dilated_p.bind(
        lhs,
        rhs,
        window_strides=_ints(window_strides),
        padding=tuple((_dim(lo), _dim(hi)) for lo, hi in padding),
        lhs_dilation=_ints(lhs_dilation),
        rhs_dilation=_ints(rhs_dilation),
        dimension_numbers=dnums,
        feature_group_count=int(feature_group_count),
        batch_group_count=int(batch_group_count),
        precision=canonicalize_precision(precision),
        preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )


# ---------------------------------------------------------------------------- shape and dtype rule


def _check_positive(name, xs):
    if any(int(x) <= 0 for x in xs):
        raise TypeError(f"conv_general_dilated {name} must be positive, got {tuple(xs)}.")


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract_eval(
    lhs,
    rhs,
    *,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision,
    preferred_element_type,
    out_sharding,
):
    dn = dimension_numbers
    if lhs.ndim != rhs.ndim:
        raise ValueError(
            "conv_general_dilated lhs and rhs must have the same number of dimensions, "
            f"but got {lhs.shape} and {rhs.shape}."
        )
    for name, spec in zip(("lhs_spec", "rhs_spec", "out_spec"), dn):
        if sorted(spec) != list(range(lhs.ndim)):
            raise TypeError(
                f"conv_general_dilated dimension_numbers.{name} must be a permutation of "
                f"range({lhs.ndim}), got {tuple(spec)}."
            )
    if feature_group_count <= 0:
        raise ValueError(
            "conv_general_dilated feature_group_count must be a positive integer, "
            f"got {feature_group_count}."
        )
    lhs_feat = lhs.shape[dn.lhs_spec[1]]
    quot, rem = divmod(lhs_feat, feature_group_count)
    if rem:
        raise ValueError(
            "conv_general_dilated feature_group_count must divide lhs feature dimension "
            f"size, but {feature_group_count} does not divide {lhs_feat}."
        )
    if quot != rhs.shape[dn.rhs_spec[1]]:
        raise ValueError(
            "conv_general_dilated lhs feature dimension size divided by "
            "feature_group_count must equal the rhs input feature dimension size, but "
            f"{lhs_feat} // {feature_group_count} != {rhs.shape[dn.rhs_spec[1]]}."
        )
    out_feat = rhs.shape[dn.rhs_spec[0]]
    if out_feat % feature_group_count:
        raise ValueError(
            "conv_general_dilated rhs output feature dimension size must be a multiple "
            f"of feature_group_count, but {out_feat} is not a multiple of {feature_group_count}."
        )
    if batch_group_count <= 0:
        raise ValueError(
            "conv_general_dilated batch_group_count must be a positive integer, "
            f"got {batch_group_count}."
        )
    lhs_batch = lhs.shape[dn.lhs_spec[0]]
    if batch_group_count > 1 and lhs_batch % batch_group_count:
        raise ValueError(
            "conv_general_dilated batch_group_count must divide lhs batch dimension "
            f"size, but {batch_group_count} does not divide {lhs_batch}."
        )
    if out_feat % batch_group_count:
        raise ValueError(
            "conv_general_dilated rhs output feature dimension size must be a multiple "
            f"of batch_group_count, but {out_feat} is not a multiple of {batch_group_count}."
        )
    if batch_group_count > 1 and feature_group_count > 1:
        raise ValueError(
            "At most one of batch_group_count and feature_group_count may be > 1, got "
            f"batch_group_count={batch_group_count} and "
            f"feature_group_count={feature_group_count}"
        )
    nsp = lhs.ndim - 2
    if nsp != len(window_strides):
        raise ValueError(
            "conv_general_dilated window and window_strides must have the same number "
            f"of dimensions, but got {nsp} and {len(window_strides)}"
        )
    for name, xs in (
        ("padding", padding),
        ("lhs_dilation", lhs_dilation),
        ("rhs_dilation", rhs_dilation),
    ):
        if len(xs) != nsp:
            raise ValueError(
                f"conv_general_dilated {name} must have {nsp} entries (one per spatial "
                f"dimension), got {len(xs)}: {xs}"
            )
    _check_positive("window_strides", window_strides)
    _check_positive("lhs_dilation", lhs_dilation)
    _check_positive("rhs_dilation", rhs_dilation)
    lt = [lhs.shape[i] for i in dn.lhs_spec]
    rt = [rhs.shape[i] for i in dn.rhs_spec]
    lt = lt[:2] + list(_dilate(lt[2:], lhs_dilation))
    rt = rt[:2] + list(_dilate(rt[2:], rhs_dilation))
    out_t = conv_shape_tuple(lt, rt, window_strides, padding, batch_group_count)
    shape = tuple(out_t[i] for i in np.argsort(dn.out_spec))
    if lhs.dtype != rhs.dtype:
        raise TypeError(
            "lax.conv_general_dilated requires arguments to have the same dtypes, got "
            f"{lhs.dtype.name}, {rhs.dtype.name}."
        )
    if lhs.dtype == np.bool_:
        raise TypeError("conv_general_dilated does not accept dtype bool.")
    dtype = lhs.dtype
    if preferred_element_type is not None:
        pref = np.dtype(preferred_element_type)
        if (dtypes.is_inexact(dtype) != dtypes.is_inexact(pref)) or (
            dtypes.is_complex(dtype) and not dtypes.is_complex(pref)
        ):
            raise TypeError(
                "Input type is incompatible with `preferred_element_type`. The "
                f"compatible combinations of (input_type, preferred_element_type) are "
                f"(integral, integral), (floating, floating), (complex, complex). Got "
                f"({dtype.name}, {pref.name})."
            )
        if pref.itemsize < dtype.itemsize:
            raise TypeError(
                "`preferred_element_type` must not be narrower than the original type, "
                f"got preferred_element_type of {pref.name} for result type of {dtype.name}."
            )
        dtype = pref
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


# ---------------------------------------------------------------------------- lowering


def _emit_conv(ctx, out_type, lhs, rhs, params):
    dn = params["dimension_numbers"]
    ls, rs, os_ = dn
    dnums = hlo.ConvDimensionNumbers.get(
        input_batch_dimension=ls[0],
        input_feature_dimension=ls[1],
        input_spatial_dimensions=list(ls[2:]),
        kernel_output_feature_dimension=rs[0],
        kernel_input_feature_dimension=rs[1],
        kernel_spatial_dimensions=list(rs[2:]),
        output_batch_dimension=os_[0],
        output_feature_dimension=os_[1],
        output_spatial_dimensions=list(os_[2:]),
    )
    nsp = len(rs) - 2
    prec = params["precision"] or (Precision.DEFAULT, Precision.DEFAULT)
    i64 = ir.IntegerType.get_signless(64)
    flat_pads = [p for pair in params["padding"] for p in pair]
    if not all(type(p) is int for p in flat_pads):  # symbolic padding, as JAX lowers it
        from ..export.dynamic_ops import dim_vector

        i32 = ir.IntegerType.get_signless(32)
        pads_v = hlo.reshape(ir.RankedTensorType.get([nsp, 2], i32), dim_vector(flat_pads))
        return hlo.dynamic_conv(
            out_type,
            lhs,
            rhs,
            pads_v,
            dimension_numbers=dnums,
            feature_group_count=ir.IntegerAttr.get(i64, params["feature_group_count"]),
            batch_group_count=ir.IntegerAttr.get(i64, params["batch_group_count"]),
            window_strides=list(params["window_strides"]),
            lhs_dilation=list(params["lhs_dilation"]),
            rhs_dilation=list(params["rhs_dilation"]),
            window_reversal=[False] * nsp,
            precision_config=ir.ArrayAttr.get([hlo.PrecisionAttr.get(p.name) for p in prec]),
        )
    pads = np.asarray(flat_pads, np.int64).reshape(nsp, 2)
    pad_attr = ir.DenseIntElementsAttr.get(
        pads, type=ir.RankedTensorType.get([nsp, 2], ir.IntegerType.get_signless(64))
    )
    return hlo.convolution(
        out_type,
        lhs,
        rhs,
        dimension_numbers=dnums,
        feature_group_count=ir.IntegerAttr.get(i64, params["feature_group_count"]),
        batch_group_count=ir.IntegerAttr.get(i64, params["batch_group_count"]),
        window_strides=list(params["window_strides"]),
        padding=pad_attr,
        lhs_dilation=list(params["lhs_dilation"]),
        rhs_dilation=list(params["rhs_dilation"]),
        window_reversal=ir.DenseBoolArrayAttr.get([False] * nsp),
        precision_config=ir.ArrayAttr.get([hlo.PrecisionAttr.get(p.name) for p in prec]),
    )


@conv_general_dilated_p.def_lowering
def _conv_lowering(ctx, lhs, rhs, **params):
    la, ra = ctx.avals_in
    out_aval = ctx.avals_out[0]
    if not dtypes.is_complex(la.dtype):
        return _emit_conv(ctx, lowering.ir_type(out_aval), lhs, rhs, params)
    # complex on CPU/GPU, as JAX: three real convolutions (Gauss's trick)
    real_out = lowering.ir_type(out_aval.update(dtype=dtypes.real_dtype(out_aval.dtype)))
    xr, xi = hlo.real(lhs), hlo.imag(lhs)
    yr, yi = hlo.real(rhs), hlo.imag(rhs)
    k1 = _emit_conv(ctx, real_out, hlo.add(xr, xi), yr, params)
    k2 = _emit_conv(ctx, real_out, xr, hlo.subtract(yi, yr), params)
    k3 = _emit_conv(ctx, real_out, xi, hlo.add(yr, yi), params)
    return hlo.complex(hlo.subtract(k1, k3), hlo.add(k1, k2))


# ---------------------------------------------------------------------------- JVP and transposes

defjvp(
    conv_general_dilated_p,
    lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
    lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params),
)


def _swap01(spec):
    return (spec[1], spec[0]) + tuple(spec[2:])


def _reshape_axis_into(src, dst, x):
    """Merge axis ``src`` into axis ``dst`` (src becoming the major part of dst)."""
    shape = core.get_aval(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new = [shape[i] for i in range(len(shape)) if i != src]
    new[dst] *= shape[src]
    return reshape(x, tuple(new), tuple(perm))


def _reshape_axis_out_of(src, size1, x):
    """Split axis ``src`` into (size1, rest)."""
    shape = list(core.get_aval(x).shape)
    shape[src : src + 1] = [size1, shape[src] // size1]
    return reshape(x, tuple(shape))


def _vjp_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil):
    ld = _dilate(in_shape, lhs_dil)
    rd = _dilate(window, rhs_dil)
    od = _dilate(out_shape, strides)
    before = [r - lo - 1 for r, (lo, _) in zip(rd, padding)]
    after = [a + r - 1 - o - b for a, r, o, b in zip(ld, rd, od, before)]
    return tuple(zip(before, after))


def _vjp_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil):
    if not in_shape:
        return ()
    ld = _dilate(in_shape, lhs_dil)
    rd = _dilate(window, rhs_dil)
    od = _dilate(out_shape, strides)
    lo = [p[0] for p in padding]
    hi = [o - a + r - p - 1 for o, a, r, p in zip(od, ld, rd, lo)]
    return tuple(zip(lo, hi))


def _transpose_lhs(g, rhs, lhs_aval, params):
    dn = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    ls, rs, os_ = dn
    rhs_shape = core.get_aval(rhs).shape
    g_shape = core.get_aval(g).shape
    if fgc > 1:
        rhs = _reshape_axis_out_of(rs[0], fgc, rhs)
        rhs = _reshape_axis_into(rs[0], rs[1], rhs)
    elif bgc > 1:
        rhs = _reshape_axis_out_of(rs[0], bgc, rhs)
        rhs = _reshape_axis_into(rs[0], rs[1], rhs)
        fgc = bgc
    trans = ConvDimensionNumbers(os_, _swap01(rs), ls)
    pads = _vjp_lhs_padding(
        [lhs_aval.shape[i] for i in ls[2:]],
        [rhs_shape[i] for i in rs[2:]],
        params["window_strides"],
        [g_shape[i] for i in os_[2:]],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    )
    kernel = rev(rhs, rs[2:])
    g_dtype = core.get_aval(g).dtype
    if core.get_aval(kernel).dtype != g_dtype:
        kernel = convert_element_type(kernel, g_dtype)
    out = conv_general_dilated(
        g,
        kernel,
        window_strides=params["lhs_dilation"],
        padding=pads,
        lhs_dilation=params["window_strides"],
        rhs_dilation=params["rhs_dilation"],
        dimension_numbers=trans,
        feature_group_count=fgc,
        batch_group_count=1,
        precision=params["precision"],
        preferred_element_type=params["preferred_element_type"],
        out_sharding=getattr(lhs_aval, "sharding", None),  # the operand's type (JAX's)
    )
    if core.get_aval(out).dtype != lhs_aval.dtype:
        out = convert_element_type(out, lhs_aval.dtype)
    if bgc > 1:
        out = _reshape_axis_out_of(ls[1], bgc, out)
        out = _reshape_axis_into(ls[1], ls[0], out)
    return out


def _transpose_rhs(g, lhs, rhs_aval, params):
    dn = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    g_shape = core.get_aval(g).shape
    if math.prod(g_shape) == 0:
        return zeros_like_aval(rhs_aval)
    lhs_shape = core.get_aval(lhs).shape
    ls, rs, os_ = dn
    if bgc > 1:
        fgc, bgc = bgc, 1
    elif fgc > 1:
        fgc, bgc = 1, fgc
    trans = ConvDimensionNumbers(_swap01(ls), _swap01(os_), _swap01(rs))
    pads = _vjp_rhs_padding(
        [lhs_shape[i] for i in ls[2:]],
        [rhs_aval.shape[i] for i in rs[2:]],
        params["window_strides"],
        [g_shape[i] for i in os_[2:]],
        params["padding"],
        params["lhs_dilation"],
        params["rhs_dilation"],
    )
    g_dtype = core.get_aval(g).dtype
    if core.get_aval(lhs).dtype != g_dtype:
        lhs = convert_element_type(lhs, g_dtype)
    out = conv_general_dilated(
        lhs,
        g,
        window_strides=params["rhs_dilation"],
        padding=pads,
        lhs_dilation=params["lhs_dilation"],
        rhs_dilation=params["window_strides"],
        dimension_numbers=trans,
        feature_group_count=fgc,
        batch_group_count=bgc,
        precision=params["precision"],
        preferred_element_type=params["preferred_element_type"],
        out_sharding=getattr(rhs_aval, "sharding", None),
    )
    if core.get_aval(out).dtype != rhs_aval.dtype:
        out = convert_element_type(out, rhs_aval.dtype)
    return out


def _conv_transpose_rule(ct, lhs, rhs, **params):
    if type(ct) is Zero:
        return [None, None]
    lhs_ct = rhs_ct = None
    if is_undefined_primal(lhs):
        lhs_ct = _transpose_lhs(ct, rhs, lhs.aval, params)
    if is_undefined_primal(rhs):
        rhs_ct = _transpose_rhs(ct, lhs, rhs.aval, params)
    return [lhs_ct, rhs_ct]


conv_general_dilated_p.def_transpose(_conv_transpose_rule)


# ---------------------------------------------------------------------------- batching


def _conv_batch(size, vals, dims, **params):
    lhs, rhs = vals
    ld, rd = dims
    dn = params["dimension_numbers"]
    ls, rs, os_ = dn
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    rest = {
        k: v for k, v in params.items() if k not in ("feature_group_count", "batch_group_count")
    }

    def bind(lhs, rhs, fgc=fgc, bgc=bgc):
        return conv_general_dilated_p.bind(
            lhs, rhs, feature_group_count=fgc, batch_group_count=bgc, **rest
        )

    if size == 0:
        la, ra = core.get_aval(lhs), core.get_aval(rhs)
        lsh = [s for i, s in enumerate(la.shape) if i != ld] if ld is not None else la.shape
        rsh = [s for i, s in enumerate(ra.shape) if i != rd] if rd is not None else ra.shape
        out = conv_general_dilated_p.abstract_eval(
            ShapedArray(tuple(lsh), la.dtype), ShapedArray(tuple(rsh), ra.dtype), **params
        )
        return full((0,) + out.shape, 0, out.dtype), 0
    if ld is not None and rd is not None:
        if bgc > 1:
            new_lhs = _reshape_axis_into(ld, ls[0], lhs)
            bgc *= size
        else:
            new_lhs = _reshape_axis_into(ld, ls[1], lhs)
            fgc *= size
        new_rhs = _reshape_axis_into(rd, rs[0], rhs)
        out = bind(new_lhs, new_rhs, fgc, bgc)
        return _reshape_axis_out_of(os_[1], size, out), os_[1]
    if ld is not None:
        if bgc == 1:
            out = bind(_reshape_axis_into(ld, ls[0], lhs), rhs)
            return _reshape_axis_out_of(os_[0], size, out), os_[0]
        new_lhs = _reshape_axis_out_of(ls[0] + int(ld <= ls[0]), bgc, lhs)
        new_lhs = _reshape_axis_into(ld + int(ls[0] < ld), ls[0] + 1, new_lhs)
        new_lhs = _reshape_axis_into(ls[0], ls[0], new_lhs)
        out = bind(new_lhs, rhs)
        return _reshape_axis_out_of(os_[0], size, out), os_[0]
    if fgc == 1 and bgc == 1:
        out = bind(lhs, _reshape_axis_into(rd, rs[0], rhs))
        return _reshape_axis_out_of(os_[1], size, out), os_[1]
    groups = fgc if fgc > 1 else bgc
    new_rhs = _reshape_axis_out_of(rs[0] + int(rd <= rs[0]), groups, rhs)
    new_rhs = _reshape_axis_into(rd + int(rs[0] < rd), rs[0] + 1, new_rhs)
    new_rhs = _reshape_axis_into(rs[0], rs[0], new_rhs)
    out = bind(lhs, new_rhs)
    out = _reshape_axis_out_of(os_[1], groups, out)
    out = _reshape_axis_out_of(os_[1] + 1, size, out)
    out = _reshape_axis_into(os_[1], os_[1] + 1, out)
    return out, os_[1]


conv_general_dilated_p.def_batch(_conv_batch)
