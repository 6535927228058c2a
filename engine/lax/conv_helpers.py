"""The convolution helpers JAX builds on conv_general_dilated: conv,
conv_with_general_padding, conv_transpose (Keras-style transposed convolution) and
conv_general_dilated_patches (im2col as a grouped convolution with an identity kernel)
and conv_general_dilated_local (unshared weights: patches, then a batched dot)."""

from __future__ import annotations

import math

import numpy as np

from .. import core
from .convolution import (
    _dilate,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_permutations,
)
from .dot import Precision
from .structural import rev

__all__ = [
    "conv",
    "conv_with_general_padding",
    "conv_transpose",
    "conv_general_dilated_patches",
    "conv_general_dilated_local",
    "conv_transpose_shape_tuple",
]


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
    lp, rp, op = conv_general_permutations(dimension_numbers)
    lt, rt = [lhs_shape[i] for i in lp], [rhs_shape[i] for i in rp]
    if isinstance(padding, str):
        padding = [_conv_transpose_padding(k, s, padding) for k, s in zip(rt[2:], window_strides)]
    space = [
        (i - 1) * s - k + 2 + sum(p) for i, k, s, p in zip(lt[2:], rt[2:], window_strides, padding)
    ]
    out = (lt[0], rt[0]) + tuple(space)
    return tuple(out[i] for i in np.argsort(op))


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """NCHW/OIHW convolution with strides and 'SAME'/'VALID' padding."""
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def conv_with_general_padding(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    precision=None,
    preferred_element_type=None,
):
    return conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def _conv_transpose_padding(k, s, padding):
    """Padding of a fractionally strided convolution equal to the gradient of a forward
    convolution with kernel size ``k``, stride ``s`` and ``padding``."""
    if padding == "SAME":
        total = k + s - 2
        before = k - 1 if s > k - 1 else int(math.ceil(total / 2))
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        before = k - 1
    elif isinstance(padding, tuple):
        pads = tuple(k - p - 1 for p in padding)
        before, total = pads[0], sum(pads)
    else:
        raise ValueError(f"Invalid padding mode: {padding}")
    return before, total - before


def conv_transpose(
    lhs,
    rhs,
    strides,
    padding,
    rhs_dilation=None,
    dimension_numbers=None,
    transpose_kernel=False,
    precision=None,
    preferred_element_type=None,
    use_consistent_padding=False,
):
    """Transposed ("fractionally strided") convolution, Keras' Conv2DTranspose padding."""
    from .structural import transpose

    lshape, rshape = np.shape(lhs), np.shape(rhs)
    ndims = len(lshape)
    if dimension_numbers is None:
        defaults = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC")}
        defaults[5] = ("NHWDC", "HWDIO", "NHWDC")
        if ndims not in defaults:
            raise ValueError("No 4+ dimensional dimension_number defaults.")
        dimension_numbers = defaults[ndims]
    dn = conv_dimension_numbers(lshape, rshape, dimension_numbers)
    k_sdims = [rshape[i] for i in dn.rhs_spec[2:]]
    if rhs_dilation is None:
        rhs_dilation = (1,) * (ndims - 2)
    if use_consistent_padding or (isinstance(padding, str) and padding in ("SAME", "VALID")):
        eff = _dilate(k_sdims, rhs_dilation)
        reps = [padding] * len(strides) if isinstance(padding, str) else padding
        pads = tuple(
            _conv_transpose_padding(k, s, tuple(p) if not isinstance(p, str) else p)
            for k, s, p in zip(eff, strides, reps)
        )
    else:
        pads = padding
    if transpose_kernel:
        rhs = rev(rhs, dn.rhs_spec[2:])
        perm = list(range(ndims))
        a, b = dn.rhs_spec[0], dn.rhs_spec[1]
        perm[a], perm[b] = b, a
        rhs = transpose(rhs, perm)
    return conv_general_dilated(
        lhs,
        rhs,
        (1,) * (ndims - 2),
        pads,
        strides,
        rhs_dilation,
        dn,
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


def conv_general_dilated_patches(
    lhs,
    filter_shape,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    precision=None,
    preferred_element_type=None,
):
    """The patches a convolution with a ``filter_shape`` kernel would see, flattened into
    the feature dimension (channel-major): a grouped convolution with an identity kernel."""
    from ..numpy._util import as_operand

    lhs = as_operand(lhs)
    aval = core.get_aval(lhs)
    filter_shape = tuple(int(d) for d in filter_shape)
    dn = conv_dimension_numbers(aval.shape, (1, 1) + filter_shape, dimension_numbers)
    size = math.prod(filter_shape)
    channels = aval.shape[dn.lhs_spec[1]]
    eye = np.broadcast_to(np.eye(size, dtype=aval.dtype), (channels, size, size))
    kernel = eye.reshape((channels * size, 1) + filter_shape)
    kernel = np.moveaxis(kernel, (0, 1), (dn.rhs_spec[0], dn.rhs_spec[1]))
    return conv_general_dilated(
        lhs,
        np.ascontiguousarray(kernel),
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dn,
        precision=None if precision is None else (precision, Precision.DEFAULT),
        feature_group_count=channels,
        preferred_element_type=preferred_element_type,
    )


def conv_general_dilated_local(
    lhs,
    rhs,
    window_strides,
    padding,
    filter_shape,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    precision=None,
):
    """A locally connected (unshared) convolution: every output position has its own
    filter. ``rhs`` holds, per spatial output position, a (C * prod(filter_shape), O)
    matrix (its spatial dimensions are the output's). Patches, then a batched dot."""
    from ..numpy._util import as_operand
    from .dot import canonicalize_precision, dot_general
    from .structural import transpose

    lhs = as_operand(lhs)
    c_precision = canonicalize_precision(precision)
    lhs_precision = None if c_precision is None else c_precision[0]
    patches = conv_general_dilated_patches(
        lhs,
        filter_shape,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        precision=lhs_precision,
    )
    shape = core.get_aval(lhs).shape
    _, rhs_spec, out_spec = conv_dimension_numbers(
        shape, (1, 1) + tuple(filter_shape), dimension_numbers
    )
    lhs_b = list(out_spec[2:])
    rhs_b = list(rhs_spec[2:])
    rhs_b = [rhs_b[i] for i in sorted(range(len(rhs_b)), key=lambda k: lhs_b[k])]
    lhs_b = sorted(lhs_b)
    dn = (([out_spec[1]], [rhs_spec[1]]), (lhs_b, rhs_b))
    out = dot_general(patches, rhs, dn, precision=precision)
    # (batch..., N, O) -> N and O back at out_spec's batch and feature positions
    ndim = len(core.get_aval(out).shape)
    perm = [i for i in range(ndim) if i not in (ndim - 2, ndim - 1)]
    for dst, src in sorted(((out_spec[0], ndim - 2), (out_spec[1], ndim - 1))):
        perm.insert(dst, src)
    return transpose(out, perm)
