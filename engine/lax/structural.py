"""Shape-changing primitives: broadcast_in_dim, reshape, transpose, squeeze,
expand_dims; and the array-creation helpers built on them (full, iota-based)."""
from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core
from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import deflinear
from ._base import aval_of

__all__ = ['broadcast_in_dim', 'broadcast', 'broadcast_to_shape', 'reshape', 'transpose', 'squeeze', 'expand_dims', 'full', 'full_like', 'broadcast_in_dim_p', 'reshape_p', 'transpose_p', 'squeeze_p']


# ---------------------------------------------------------------------------- broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")
broadcast_in_dim_p.pp_params = lambda p: (
    {"broadcast_dimensions": p["broadcast_dimensions"]} if p["broadcast_dimensions"] else {})


def broadcast_in_dim(x, shape, broadcast_dimensions):
    """Place operand dimension i at output dimension ``broadcast_dimensions[i]``."""
    shape = tuple(int(d) for d in shape)
    broadcast_dimensions = tuple(int(d) for d in broadcast_dimensions)
    if dtypes.is_python_scalar(x):
        x = core.WeakScalar(x, dtypes.python_scalar_dtype(x))
    aval = core.get_aval(x)
    if aval.shape == shape and broadcast_dimensions == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=broadcast_dimensions,
                                   sharding=None)


def broadcast(x, sizes):
    """Prepend dimensions of the given sizes."""
    aval = core.get_aval(x)
    sizes = tuple(sizes)
    return broadcast_in_dim(x, sizes + aval.shape,
                            tuple(range(len(sizes), len(sizes) + aval.ndim)))


def broadcast_to_shape(x, shape):
    """NumPy-style broadcast to ``shape`` (rank-promoting from the left)."""
    aval = core.get_aval(x)
    shape = tuple(shape)
    if aval.shape == shape:
        return x
    nlead = len(shape) - aval.ndim
    return broadcast_in_dim(x, shape, tuple(range(nlead, len(shape))))


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions, sharding):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim broadcast_dimensions must have length equal to operand "
                        f"ndim; got broadcast_dimensions {broadcast_dimensions} for operand ndim "
                        f"{x.ndim}.")
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape):
            raise TypeError(f"broadcast_in_dim broadcast_dimensions {broadcast_dimensions} out of "
                            f"range for shape {shape}")
        if x.shape[i] != 1 and x.shape[i] != shape[d]:
            raise TypeError(f"broadcast_in_dim operand dimension sizes must either be 1, or be "
                            f"equal to their corresponding dimensions in the target broadcast "
                            f"shape; got operand of shape {x.shape}, target broadcast shape "
                            f"{shape}, broadcast_dimensions {broadcast_dimensions}")
    if list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(f"broadcast_in_dim broadcast_dimensions must be strictly increasing; got "
                        f"broadcast_dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype, x.weak_type)


@broadcast_in_dim_p.def_lowering
def _broadcast_in_dim_lowering(ctx, x, *, shape, broadcast_dimensions, sharding):
    return hlo.broadcast_in_dim(lowering.ir_type(ctx.avals_out[0]), x, list(broadcast_dimensions))


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions, sharding):
    from .reductions import reduce_sum
    in_shape = x.aval.shape
    unit = tuple(i for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1)
    bdims = tuple(d for i, d in enumerate(broadcast_dimensions) if i not in unit)
    summed = tuple(i for i in range(len(shape)) if i not in bdims)
    out = reduce_sum(ct, summed) if summed else ct
    if unit:
        out = expand_dims(out, unit)
    return [out]


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


def _broadcast_in_dim_batch(size, vals, dims, *, shape, broadcast_dimensions, sharding):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    new_dims = (0,) + tuple(b + 1 for b in broadcast_dimensions)
    return broadcast_in_dim_p.bind(x, shape=(size,) + shape, broadcast_dimensions=new_dims,
                                   sharding=None), 0


broadcast_in_dim_p.def_batch(_broadcast_in_dim_batch)


# ---------------------------------------------------------------------------- reshape

reshape_p = Primitive("reshape")


def reshape(x, new_sizes, dimensions=None):
    new_sizes = tuple(int(d) for d in new_sizes)
    aval = core.get_aval(x)
    if aval.shape == new_sizes and dimensions is None:
        return x
    if dimensions is not None:
        dimensions = tuple(dimensions)
        if dimensions == tuple(range(aval.ndim)):
            dimensions = None
    return reshape_p.bind(x, new_sizes=new_sizes, dimensions=dimensions, sharding=None)


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes, dimensions, sharding):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
        raise TypeError(f"reshape total size must be unchanged, got new_sizes {new_sizes} (of "
                        f"total size {int(np.prod(new_sizes, dtype=np.int64))}) for shape "
                        f"{x.shape} (of total size {x.size}).")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


@reshape_p.def_lowering
def _reshape_lowering(ctx, x, *, new_sizes, dimensions, sharding):
    if dimensions is not None:
        x = hlo.transpose(x, list(dimensions))
    return hlo.reshape(lowering.ir_type(ctx.avals_out[0]), x)


def _reshape_transpose(ct, x, *, new_sizes, dimensions, sharding):
    assert dimensions is None
    return [reshape(ct, x.aval.shape)]


deflinear(reshape_p, _reshape_transpose)


def _reshape_batch(size, vals, dims, *, new_sizes, dimensions, sharding):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    if dimensions is not None:
        x = transpose(x, (0,) + tuple(i + 1 for i in dimensions))
    return reshape(x, (size,) + new_sizes), 0


reshape_p.def_batch(_reshape_batch)


# ---------------------------------------------------------------------------- transpose

transpose_p = Primitive("transpose")


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose permutation isn't a permutation of operand dimensions, got "
                        f"permutation {permutation} for operand shape {x.shape}.")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


@transpose_p.def_lowering
def _transpose_lowering(ctx, x, *, permutation):
    return hlo.transpose(x, list(permutation))


deflinear(transpose_p, lambda ct, x, *, permutation: [transpose(ct, tuple(np.argsort(permutation)))])


def _transpose_batch(size, vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    return transpose(x, (0,) + tuple(p + 1 for p in permutation)), 0


transpose_p.def_batch(_transpose_batch)


# ---------------------------------------------------------------------------- squeeze / expand_dims

squeeze_p = Primitive("squeeze")


def squeeze(x, dimensions):
    aval = core.get_aval(x)
    dimensions = tuple(sorted(int(d) % aval.ndim for d in dimensions)) if aval.ndim else ()
    if not dimensions:
        return x
    return squeeze_p.bind(x, dimensions=dimensions)


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x, *, dimensions):
    for d in dimensions:
        if x.shape[d] != 1:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to "
                             f"one, got shape={x.shape} and dimensions={dimensions}")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dimensions), x.dtype,
                       x.weak_type)


@squeeze_p.def_lowering
def _squeeze_lowering(ctx, x, *, dimensions):
    return hlo.reshape(lowering.ir_type(ctx.avals_out[0]), x)


deflinear(squeeze_p, lambda ct, x, *, dimensions: [expand_dims(ct, dimensions)])


def _squeeze_batch(size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    return squeeze(x, tuple(i + 1 for i in dimensions)), 0


squeeze_p.def_batch(_squeeze_batch)


def expand_dims(x, dimensions):
    """Insert size-1 axes (a reshape; JAX has no separate primitive)."""
    aval = core.get_aval(x)
    ndim_out = aval.ndim + len(dimensions)
    dims = sorted(int(d) % ndim_out for d in dimensions)
    shape = list(aval.shape)
    for d in dims:
        shape.insert(d, 1)
    return broadcast_in_dim(x, tuple(shape), tuple(i for i in range(ndim_out) if i not in dims))


# ---------------------------------------------------------------------------- creation helpers

def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (a broadcast scalar)."""
    shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    if dtype is None:
        dtype = dtypes.dtype_of(fill_value)
        weak = dtypes.is_weakly_typed(fill_value)
    else:
        dtype = dtypes.canonicalize_dtype(dtype)
        weak = False
    if isinstance(fill_value, core.Tracer) or hasattr(fill_value, "_buf"):
        from .convert import convert_element_type
        v = convert_element_type(fill_value, dtype, weak)
    else:
        v = np.asarray(fill_value, dtype) if not weak else core.WeakScalar(
            np.asarray(fill_value).item(), dtype)
    return broadcast_in_dim(v, shape, ())


def full_like(x, fill_value, dtype=None, shape=None):
    aval = core.get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value, dtype or aval.dtype)
