"""``engine.image``: JAX's ``jax.image``: ``resize`` and ``scale_and_translate``.

Resampling is separable: for each spatial dimension that changes size, a dense
``(input_size, output_size)`` weight matrix is built from the kernel (triangle for
linear, Keys cubic, Lanczos 3/5, box overlap for area), each column normalized to sum
to one, and all of them are contracted with the image in one ``einsum``. With
``antialias`` the kernel is widened by the downscaling factor so that shrinking an
image averages over every input pixel it covers. ``nearest`` gathers instead."""

from __future__ import annotations

import enum
import math
import string

import numpy as np

from . import lax
from . import numpy as jnp
from .jit import jit
from .numpy._util import canonicalize_axis, promote_dtypes_inexact, shape_of

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]


class ResizeMethod(enum.Enum):
    """The interpolation kernels, with the names ``resize`` accepts as strings."""

    NEAREST = 0
    LINEAR = 1
    LANCZOS3 = 2
    LANCZOS5 = 3
    CUBIC = 4
    CUBIC_PYTORCH = 5
    AREA = 6

    @staticmethod
    def from_string(s):
        method = _NAMES.get(s)
        if method is None:
            raise ValueError(f'Unknown resize method "{s}"')
        return method


_NAMES = {
    "nearest": ResizeMethod.NEAREST,
    "linear": ResizeMethod.LINEAR,
    "bilinear": ResizeMethod.LINEAR,
    "trilinear": ResizeMethod.LINEAR,
    "triangle": ResizeMethod.LINEAR,
    "lanczos3": ResizeMethod.LANCZOS3,
    "lanczos5": ResizeMethod.LANCZOS5,
    "cubic": ResizeMethod.CUBIC,
    "bicubic": ResizeMethod.CUBIC,
    "tricubic": ResizeMethod.CUBIC,
    "cubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
    "bicubic-pytorch": ResizeMethod.CUBIC_PYTORCH,
    "area": ResizeMethod.AREA,
}


# ---------------------------------------------------------------------------- kernels
# Each takes |distance| (already divided by the antialiasing widening) and gives weights.


def _lanczos(radius):
    def kernel(x):
        y = radius * jnp.sin(np.pi * x) * jnp.sin(np.pi * x / radius)
        safe_denominator = jnp.where(x != 0, np.pi**2 * x**2, 1)
        out = jnp.where(x > 1e-3, jnp.divide(y, safe_denominator), 1)
        return jnp.where(x > radius, 0.0, out)

    return kernel


def _keys_cubic(x):
    """Keys' cubic convolution kernel with a = -0.5."""
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = jnp.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return jnp.where(x >= 2.0, 0.0, out)


def _opencv_cubic(x):
    """The cubic kernel with a = -0.75 (OpenCV's and PyTorch's)."""
    a = -0.75
    out = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    out = jnp.where(x >= 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a, out)
    return jnp.where(x >= 2.0, 0.0, out)


def _triangle(x):
    return jnp.maximum(0, 1 - jnp.abs(x))


_AREA = object()  # box overlap, computed from interval ends rather than distances

_KERNELS = {
    ResizeMethod.LINEAR: (1, _triangle),
    ResizeMethod.LANCZOS3: (3, _lanczos(3.0)),
    ResizeMethod.LANCZOS5: (5, _lanczos(5.0)),
    ResizeMethod.CUBIC: (2, _keys_cubic),
    ResizeMethod.CUBIC_PYTORCH: (2, _opencv_cubic),
    ResizeMethod.AREA: (1, _AREA),
}


def _normalize_columns(weights):
    """Columns scaled to sum to one; columns summing to (almost) nothing become zero."""
    total = jnp.sum(weights, axis=0, keepdims=True)
    tiny = 1000.0 * float(np.finfo(np.float32).eps)
    return jnp.where(jnp.abs(total) > tiny, jnp.divide(weights, jnp.where(total != 0, total, 1)), 0)


def _weight_matrix(in_size, out_size, scale, translation, kernel, antialias, edge_padding,
                   radius):  # fmt: skip
    """The ``(in_size, out_size)`` matrix taking one spatial axis of the input to the
    output: output sample ``j`` sits at input coordinate
    ``(j + 0.5 - translation) / scale - 0.5``."""
    dtype = jnp.result_type(scale, translation)
    inv_scale = 1.0 / scale
    kernel_scale = jnp.maximum(inv_scale, 1.0) if antialias else 1.0
    sample_f = (jnp.arange(out_size, dtype=dtype) + 0.5) * inv_scale - translation * inv_scale - 0.5
    if edge_padding:
        if antialias:
            widen = max(1.0 / float(scale), 1.0)
            k = math.ceil(radius * widen)
        else:
            k = radius
    else:
        k = 0
    positions = jnp.arange(-k, in_size + k, dtype=dtype)
    if kernel is _AREA:
        left_out = jnp.arange(out_size, dtype=dtype) * inv_scale - translation * inv_scale
        right_out = left_out + inv_scale
        left_in = jnp.arange(in_size, dtype=dtype)
        right_in = left_in + 1.0
        weights = jnp.maximum(
            0.0,
            jnp.minimum(right_out[np.newaxis, :], right_in[:, np.newaxis])
            - jnp.maximum(left_out[np.newaxis, :], left_in[:, np.newaxis]),
        )
    else:
        x = jnp.abs(sample_f[np.newaxis, :] - positions[:, np.newaxis])
        weights = kernel(x / kernel_scale)
    if edge_padding:
        # taps that fall outside the image pile onto the edge pixel they clamp to
        clamped = jnp.clip(positions.astype(jnp.int32), 0, in_size - 1)
        columns = lax.broadcast_in_dim(
            jnp.arange(out_size), (shape_of(positions)[0], out_size), (1,)
        )
        weight_mat = jnp.zeros((in_size, out_size), dtype=dtype)
        weight_mat = weight_mat.at[clamped[:, np.newaxis], columns].add(weights)
        return _normalize_columns(weight_mat)
    weights = _normalize_columns(weights)
    inside = jnp.logical_and(sample_f >= -0.5, sample_f <= in_size - 0.5)
    return jnp.where(inside[np.newaxis, :], weights, 0)


def _scale_and_translate(x, output_shape, spatial_dims, scale, translation, kernel,
                         antialias, precision, edge_padding=False, radius=None):  # fmt: skip
    if not spatial_dims:
        return x
    in_shape = shape_of(x)
    ndim = len(in_shape)
    letters = iter(string.ascii_letters)
    x_labels = [next(letters) for _ in range(ndim)]
    out_labels = list(x_labels)
    terms, operands = ["".join(x_labels)], [x]
    for i, d in enumerate(spatial_dims):
        d = canonicalize_axis(d, ndim)
        w = _weight_matrix(
            in_shape[d], output_shape[d], scale[i], translation[i], kernel, antialias,
            edge_padding, radius,
        ).astype(x.dtype)  # fmt: skip
        new = next(letters)
        terms.append(x_labels[d] + new)
        operands.append(w)
        out_labels[d] = new
    spec = ",".join(terms) + "->" + "".join(out_labels)
    return jnp.einsum(spec, *operands, precision=precision)


def _canonical_shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _check_rank(shape, image_shape):
    if len(shape) != len(image_shape):
        raise ValueError(
            "shape must have length equal to the number of dimensions of x; "
            f" {shape} vs {tuple(image_shape)}"
        )


def _as_method(method):
    return ResizeMethod.from_string(method) if isinstance(method, str) else method


def scale_and_translate(image, shape, spatial_dims, scale, translation, method,
                        antialias=True, precision=lax.Precision.HIGHEST):  # fmt: skip
    """Resamples ``image`` to ``shape``: along each of ``spatial_dims``, output pixel
    ``j`` reads the input at ``(j + 0.5 - translation) / scale - 0.5``, through the
    kernel of ``method`` (not ``nearest``); ``scale``/``translation`` may be traced."""
    shape = _canonical_shape(shape)
    image = jnp.asarray(image)
    _check_rank(shape, shape_of(image))
    method = _as_method(method)
    if method == ResizeMethod.NEAREST:
        raise ValueError(
            "Nearest neighbor resampling is not currently supported for scale_and_translate."
        )
    if method == ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    edge_padding = method == ResizeMethod.CUBIC_PYTORCH and not antialias
    (image,) = promote_dtypes_inexact(image)
    scale, translation = promote_dtypes_inexact(scale, translation)
    return _scale_and_translate(
        image, shape, tuple(spatial_dims), scale, translation, kernel, antialias, precision,
        edge_padding=edge_padding, radius=radius,
    )  # fmt: skip


def _resize_nearest(x, output_shape):
    in_shape = shape_of(x)
    for d, (m, n) in enumerate(zip(in_shape, output_shape)):
        if m == n:
            continue
        offsets = (jnp.arange(n, dtype=np.float32) + 0.5) * m / n
        offsets = jnp.floor(offsets.astype(np.float32)).astype(np.int32)
        index = [slice(None)] * len(in_shape)
        index[d] = offsets
        x = x[tuple(index)]
    return x


def _resize(image, shape, method, antialias, precision):
    image = jnp.asarray(image)
    _check_rank(shape, shape_of(image))
    method = _as_method(method)
    if method == ResizeMethod.NEAREST:
        return _resize_nearest(image, shape)
    (image,) = promote_dtypes_inexact(image)
    in_shape = shape_of(image)
    spatial_dims = tuple(i for i in range(len(shape)) if in_shape[i] != shape[i])
    if method == ResizeMethod.CUBIC_PYTORCH and antialias:
        method = ResizeMethod.CUBIC
    radius, kernel = _KERNELS[method]
    scale = [1.0 if shape[d] == 0 else shape[d] / in_shape[d] for d in spatial_dims]
    edge_padding = method == ResizeMethod.CUBIC_PYTORCH and not antialias
    return _scale_and_translate(
        image, shape, spatial_dims, scale, [0.0] * len(spatial_dims), kernel, antialias,
        precision, edge_padding=edge_padding, radius=radius,
    )  # fmt: skip


_resize_jit = jit(_resize, static_argnums=(1, 2, 3, 4))


def resize(image, shape, method, antialias=True, precision=lax.Precision.HIGHEST):
    """Resizes ``image`` to ``shape`` with ``method``: ``nearest``, ``linear``
    (``bilinear``, ``trilinear``), ``cubic`` (``bicubic``), ``lanczos3``, ``lanczos5``,
    ``area``, or ``cubic-pytorch``, or a ``ResizeMethod``. Every dimension whose size
    changes is resampled (including batch or channel dimensions, as in JAX);
    ``antialias`` widens the kernel when downsampling."""
    return _resize_jit(image, _canonical_shape(shape), method, antialias, precision)
