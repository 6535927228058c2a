"""Shape-changing primitives: broadcast_in_dim, reshape, transpose, squeeze, rev, pad,
concatenate, copy and iota; and the helpers built on them (expand_dims, full, collapse)."""

from __future__ import annotations

import math
import operator

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import deflinear
from ..interpreters.transpose import is_undefined_primal
from ._base import aval_of, check_dtypes

__all__ = [
    "broadcast_in_dim",
    "broadcast",
    "broadcast_to_shape",
    "broadcast_shardings",
    "broadcast_to_rank",
    "reshape",
    "transpose",
    "squeeze",
    "expand_dims",
    "collapse",
    "rev",
    "pad",
    "concatenate",
    "iota",
    "broadcasted_iota",
    "full",
    "full_like",
    "broadcast_in_dim_p",
    "reshape_p",
    "transpose_p",
    "squeeze_p",
    "rev_p",
    "pad_p",
    "concatenate_p",
    "iota_p",
    "copy_p",
]


def canonicalize_axis(axis, ndim):
    """A possibly negative axis as an index in ``range(ndim)``, or a JAX-like ValueError."""
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim if ndim else axis


# ---------------------------------------------------------------------------- broadcast_in_dim

broadcast_in_dim_p = Primitive("broadcast_in_dim")
broadcast_in_dim_p.pp_params = lambda p: (
    {"broadcast_dimensions": p["broadcast_dimensions"]} if p["broadcast_dimensions"] else {}
)


def broadcast_in_dim(operand, shape, broadcast_dimensions, *, out_sharding=None):
    """Place operand dimension i at output dimension ``broadcast_dimensions[i]``; the
    result's type takes ``out_sharding`` when given (JAX's sharding in types)."""
    shape = core.canonical_shape(shape)
    broadcast_dimensions = tuple(int(d) for d in broadcast_dimensions)
    if out_sharding is not None and not _is_abstract(out_sharding):
        # (a sharding over the abstract mesh is a type's, made by the engine's callers)
        from ..sharding.constraint import canonicalize_sharding

        out_sharding = canonicalize_sharding(out_sharding, "broadcast_in_dim")
    if dtypes.is_python_scalar(operand):
        operand = core.python_scalar_operand(operand)
    aval = core.get_aval(operand)
    if aval.shape == shape and broadcast_dimensions == tuple(range(len(shape))):
        if out_sharding is None or _same_type_sharding(aval, out_sharding):
            return operand
        from ..sharding.constraint import reshard

        if _is_abstract(out_sharding):  # a type's sharding: over the mesh in context
            from ..sharding.in_types import concrete_mesh_for
            from ..sharding.named import NamedSharding

            mesh = concrete_mesh_for(out_sharding.mesh)
            out_sharding = NamedSharding(mesh, out_sharding.spec)
        return reshard(operand, out_sharding)  # as JAX: a change of layout only
    out = broadcast_in_dim_p.bind(
        operand, shape=shape, broadcast_dimensions=broadcast_dimensions, sharding=out_sharding
    )
    return _placed(out)


def _placed(out):
    """An eager result whose type names a mesh layout, put there (as JAX's eager op
    leaves it) when it was computed on one device; traced values pass through."""
    if isinstance(out, core.Tracer):
        return out
    typed = getattr(core.get_aval(out), "sharding", None)
    if typed is None:
        return out
    from .sharding_rules import placed_as_typed

    return placed_as_typed(out, typed)


def _same_type_sharding(aval, sharding) -> bool:
    from ..sharding.in_types import type_sharding

    return aval.sharding == type_sharding(sharding, len(aval.shape))


def broadcast(operand, sizes, *, out_sharding=None):
    """Prepend dimensions of the given sizes."""
    aval = core.get_aval(operand)
    sizes = tuple(int(s) for s in sizes)
    return broadcast_in_dim(
        operand,
        sizes + aval.shape,
        tuple(range(len(sizes), len(sizes) + aval.ndim)),
        out_sharding=out_sharding,
    )


def broadcast_to_shape(x, shape, sharding=None):
    """NumPy-style broadcast to ``shape`` (rank-promoting from the left), typed
    ``sharding`` when given (jnp's broadcasts pass their operands' merged sharding)."""
    aval = core.get_aval(x)
    shape = tuple(shape)
    if aval.shape == shape and (sharding is None or _same_type_sharding(aval, sharding)):
        return x
    nlead = len(shape) - aval.ndim
    return broadcast_in_dim(x, shape, tuple(range(nlead, len(shape))), out_sharding=sharding)


def broadcast_shardings(*avals):
    """The sharding operands broadcast together end with, as JAX's
    ``lax.broadcast_shardings``: the highest-rank operand's when the others only
    lack leading dimensions, else JAX's broadcasting rule over rank-promoted types.
    None when no operand carries a sharding in its type."""
    typed = [a for a in avals if getattr(a, "sharding", None) is not None]
    if not typed:
        return None
    from ..sharding.named import NamedSharding, PartitionSpec
    from .sharding_rules import _broadcasting, _entries, _mesh_of

    mesh = _mesh_of(avals)
    first = max(avals, key=lambda a: a.ndim)
    ndim = first.ndim
    entries = [(None,) * (ndim - a.ndim) + tuple(_entries(a)) for a in avals]
    top = entries[avals.index(first)]
    if ndim == 0 or all(e == top for e in entries):
        spec = top
    else:
        padded = [
            ShapedArray((1,) * (ndim - a.ndim) + a.shape, a.dtype).update(
                sharding=NamedSharding(mesh, PartitionSpec(*e))
            )
            for a, e in zip(avals, entries)
        ]
        spec = _broadcasting("broadcast_shardings", padded, None, mesh)
    return NamedSharding(mesh, PartitionSpec(*spec))


def broadcast_to_rank(x, rank):
    """Prepend size-1 dimensions up to ``rank``."""
    ndim = core.get_aval(x).ndim
    if ndim == rank:
        return x
    return broadcast(x, (1,) * (rank - ndim))


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions, sharding):
    if any(d < 0 for d in shape):
        raise TypeError(
            f"broadcast_in_dim shape must have every element be nonnegative, got {shape}."
        )
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(
            f"broadcast_in_dim broadcast_dimensions must have length equal to operand "
            f"ndim; got broadcast_dimensions {broadcast_dimensions} for operand ndim "
            f"{x.ndim}."
        )
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape):
            raise TypeError(
                f"broadcast_in_dim broadcast_dimensions {broadcast_dimensions} out of "
                f"range for shape {shape}"
            )
        if x.shape[i] != 1 and x.shape[i] != shape[d]:
            raise TypeError(
                f"broadcast_in_dim operand dimension sizes must either be 1, or be "
                f"equal to their corresponding dimensions in the target broadcast "
                f"shape; got operand of shape {x.shape}, target broadcast shape "
                f"{shape}, broadcast_dimensions {broadcast_dimensions}"
            )
    if list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(
            f"broadcast_in_dim broadcast_dimensions must be strictly increasing; got "
            f"broadcast_dimensions {broadcast_dimensions}"
        )
    if sharding is not None:  # a result typed as asked must split evenly (JAX's check)
        from ..sharding.constraint import check_type_divisible

        check_type_divisible(sharding, shape)
    return ShapedArray(shape, x.dtype, x.weak_type)


@broadcast_in_dim_p.def_lowering
def _broadcast_in_dim_lowering(ctx, x, *, shape, broadcast_dimensions, sharding):
    return lowering.broadcast_in_dim(x, ctx.avals_out[0], broadcast_dimensions)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions, sharding):
    from .reductions import reduce_sum

    in_shape = x.aval.shape
    unit = tuple(
        i for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1
    )
    bdims = tuple(d for i, d in enumerate(broadcast_dimensions) if i not in unit)
    summed = tuple(i for i in range(len(shape)) if i not in bdims)
    out = reduce_sum(ct, summed) if summed else ct
    target = x.aval.sharding
    if target is not None and core.get_aval(out).sharding != target:
        # the cotangent gets its operand's type (sharding in types), as JAX's
        from .sharding_rules import placed_as_typed

        out = reshape_p.bind(out, new_sizes=in_shape, dimensions=None, sharding=target)
        return [placed_as_typed(out, target)]
    if unit:
        out = expand_dims(out, unit)
    return [out]


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


def _broadcast_in_dim_batch(size, vals, dims, *, shape, broadcast_dimensions, sharding):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    # NumPy integers, as JAX's rule builds them (its jaxprs print np.int64(2))
    new_dims = (0,) + tuple(np.add(1, broadcast_dimensions))
    return broadcast_in_dim_p.bind(
        x,
        shape=(size,) + shape,
        broadcast_dimensions=new_dims,
        sharding=_batched_sharding(sharding, len(shape)),
    ), 0


def _batched_sharding(sharding, ndim):
    """A result sharding parameter with a leading batch dimension split over the mesh
    axes the vmapped values are (JAX's ``get_sharding_for_vmap``, which drops the
    unreduced and reduced axes)."""
    if sharding is None:
        return None
    from ..sharding.named import NamedSharding, PartitionSpec

    batch = batching.current_explicit_mesh_axis()
    entry = None if batch is None else batch[0] if len(batch) == 1 else tuple(batch)
    spec = PartitionSpec(entry, *sharding.spec._normalized(ndim))
    return NamedSharding(sharding.mesh, spec)


broadcast_in_dim_p.def_batch(_broadcast_in_dim_batch)


# ---------------------------------------------------------------------------- reshape

reshape_p = Primitive("reshape")


def reshape(operand, new_sizes, dimensions=None, *, out_sharding=None):
    """Reshape (in row-major order) after transposing by ``dimensions`` if given."""
    new_sizes = core.canonical_shape(new_sizes)
    aval = core.get_aval(operand)
    if dimensions is not None:
        dimensions = tuple(int(d) for d in dimensions)
        if dimensions == tuple(range(aval.ndim)):
            dimensions = None
    if out_sharding is not None and not _is_abstract(out_sharding):
        from ..sharding.constraint import canonicalize_sharding

        out_sharding = canonicalize_sharding(out_sharding, "reshape")
    same = out_sharding is None or _same_type_sharding(aval, out_sharding)
    if aval.shape == new_sizes and dimensions is None and same:
        return operand
    return reshape_p.bind(
        operand, new_sizes=new_sizes, dimensions=dimensions, sharding=out_sharding
    )


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes, dimensions, sharding):
    if any(d < 0 for d in new_sizes):
        raise TypeError(f"reshape new_sizes must all be nonnegative, got {new_sizes}.")
    if math.prod(new_sizes) != x.size:
        raise TypeError(
            f"reshape total size must be unchanged, got new_sizes {new_sizes} (of "
            f"total size {int(np.prod(new_sizes, dtype=np.int64))}) for shape "
            f"{x.shape} (of total size {x.size})."
        )
    if dimensions is not None and sorted(dimensions) != list(range(x.ndim)):
        raise TypeError(
            f"reshape dimensions must be a permutation of operand dimensions, got "
            f"dimensions {dimensions} for shape {x.shape}."
        )
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


@reshape_p.def_lowering
def _reshape_lowering(ctx, x, *, new_sizes, dimensions, sharding):
    if dimensions is not None:
        x = hlo.transpose(x, list(dimensions))
    return lowering.reshape(x, ctx.avals_out[0])


def _reshape_transpose(ct, x, *, new_sizes, dimensions, sharding):
    typed = x.aval.sharding  # the cotangent takes the operand's type, as JAX's
    if dimensions is None:
        return [reshape(ct, x.aval.shape, out_sharding=typed)]
    permuted = tuple(x.aval.shape[d] for d in dimensions)
    if typed is not None:
        from ..sharding.named import NamedSharding, PartitionSpec

        entries = typed.spec._normalized(len(permuted))
        typed = NamedSharding(typed.mesh, PartitionSpec(*[entries[d] for d in dimensions]))
    out = reshape(ct, permuted, out_sharding=typed)
    return [transpose(out, tuple(np.argsort(dimensions)))]


deflinear(reshape_p, _reshape_transpose)


def _reshape_batch(size, vals, dims, *, new_sizes, dimensions, sharding):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    if dimensions is not None:
        dimensions = (0,) + tuple(i + 1 for i in dimensions)
    sharding = _batched_sharding(sharding, len(new_sizes))
    return reshape(x, (size,) + new_sizes, dimensions, out_sharding=sharding), 0


reshape_p.def_batch(_reshape_batch)


def collapse(operand, start_dimension, stop_dimension=None):
    """Merge dimensions ``[start_dimension, stop_dimension)`` into one."""
    shape = core.get_aval(operand).shape
    lo = canonicalize_axis(start_dimension, len(shape) + 1) if shape else 0
    hi = len(shape) if stop_dimension is None else canonicalize_axis(stop_dimension, len(shape) + 1)
    size = int(np.prod(shape[lo:hi], dtype=np.int64))
    return reshape(operand, shape[:lo] + (size,) + shape[hi:])


# ---------------------------------------------------------------------------- transpose

transpose_p = Primitive("transpose")


def transpose(operand, permutation):
    permutation = tuple(int(p) for p in permutation)
    if (
        permutation == tuple(range(len(permutation)))
        and len(permutation) == core.get_aval(operand).ndim
    ):
        return operand
    return transpose_p.bind(operand, permutation=permutation)


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(
            f"transpose permutation isn't a permutation of operand dimensions, got "
            f"permutation {permutation} for operand shape {x.shape}."
        )
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


@transpose_p.def_lowering
def _transpose_lowering(ctx, x, *, permutation):
    return hlo.transpose(x, list(permutation))


deflinear(
    transpose_p, lambda ct, x, *, permutation: [transpose(ct, tuple(np.argsort(permutation)))]
)


def _transpose_batch(size, vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    # one transpose that also brings the batch axis to the front
    perm = (d,) + tuple(p if p < d else p + 1 for p in permutation)
    return transpose(x, perm), 0


transpose_p.def_batch(_transpose_batch)


# ---------------------------------------------------------------------------- squeeze / expand_dims

squeeze_p = Primitive("squeeze")


def squeeze(array, dimensions):
    """Remove the given size-1 dimensions."""
    ndim = core.get_aval(array).ndim
    dimensions = tuple(sorted({canonicalize_axis(d, ndim) for d in dimensions}))
    if not dimensions:
        return array
    return squeeze_p.bind(array, dimensions=dimensions)


@squeeze_p.def_abstract_eval
def _squeeze_abstract_eval(x, *, dimensions):
    for d in dimensions:
        if not 0 <= d < x.ndim:
            raise ValueError(f"axis {d} is out of bounds for array of dimension {x.ndim}")
    if any(x.shape[d] != 1 for d in dimensions):
        raise ValueError(
            f"cannot select an axis to squeeze out which has size not equal to "
            f"one, got shape={x.shape} and dimensions={dimensions}"
        )
    return ShapedArray(
        tuple(s for i, s in enumerate(x.shape) if i not in dimensions), x.dtype, x.weak_type
    )


@squeeze_p.def_lowering
def _squeeze_lowering(ctx, x, *, dimensions):
    return lowering.reshape(x, ctx.avals_out[0])  # dynamic_reshape if symbolic


deflinear(squeeze_p, lambda ct, x, *, dimensions: [expand_dims(ct, dimensions)])


def _squeeze_batch(size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    x = batching.move_batch_axis(size, d, 0, x)
    return squeeze(x, tuple(i + 1 for i in dimensions)), 0


squeeze_p.def_batch(_squeeze_batch)


def expand_dims(array, dimensions):
    """Insert size-1 axes (a broadcast_in_dim; JAX has no separate primitive)."""
    dimensions = tuple(int(d) for d in dimensions)
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"repeated axis in lax.expand_dims: {dimensions}")
    aval = core.get_aval(array)
    ndim_out = aval.ndim + len(dimensions)
    dims = [canonicalize_axis(d, ndim_out) for d in dimensions]
    if len(set(dims)) != len(dims):
        raise ValueError(f"repeated axis in lax.expand_dims: {dims}")
    dims = sorted(dims)
    shape = list(aval.shape)
    for d in dims:
        shape.insert(d, 1)
    return broadcast_in_dim(array, tuple(shape), tuple(i for i in range(ndim_out) if i not in dims))


# ---------------------------------------------------------------------------- rev

rev_p = Primitive("rev")


def rev(operand, dimensions):
    """Reverse the order of elements along each of ``dimensions``."""
    return rev_p.bind(operand, dimensions=tuple(int(d) for d in dimensions))


@rev_p.def_abstract_eval
def _rev_abstract_eval(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions):
        raise TypeError(f"rev dimensions must be unique, got {dimensions}.")
    if any(d < 0 for d in dimensions):
        raise TypeError(f"rev dimensions must have every element be nonnegative, got {dimensions}.")
    if any(d >= x.ndim for d in dimensions):
        raise TypeError(
            f"rev dimensions must all be less than operand ndim, got dimensions "
            f"{dimensions} for operand ndim {x.ndim}."
        )
    return x


@rev_p.def_lowering
def _rev_lowering(ctx, x, *, dimensions):
    return hlo.reverse(x, list(dimensions))


deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])


def _rev_batch(size, vals, dims, *, dimensions):
    (x,), (d,) = vals, dims
    return rev(x, tuple(i + 1 if i >= d else i for i in dimensions)), d


rev_p.def_batch(_rev_batch)


# ---------------------------------------------------------------------------- pad

pad_p = Primitive("pad")


def pad(operand, padding_value, padding_config):
    """Pad each dimension with ``(low, high, interior)`` copies of ``padding_value``;
    negative low/high padding removes elements."""
    # the entries are kept as given (NumPy ints print as np.int64(1) in jaxprs, as JAX's)
    config = tuple((lo, hi, it) for lo, hi, it in padding_config)
    for entry in config:
        for v in entry:
            operator.index(v)
    return pad_p.bind(operand, padding_value, padding_config=config)


def _padded_size(n, lo, hi, interior):
    return lo + hi + n + max(n - 1, 0) * interior


@pad_p.def_abstract_eval
def _pad_abstract_eval(x, padding_value, *, padding_config):
    if x.dtype != padding_value.dtype:
        raise TypeError(
            f"pad operand and padding_value must be same dtype: got "
            f"{x.dtype.name} and {padding_value.dtype.name}."
        )
    if padding_value.ndim != 0:
        raise ValueError(
            f"padding_value must be a scalar; got np.shape(padding_value)={padding_value.shape}"
        )
    if len(padding_config) != x.ndim:
        raise ValueError(
            f"length of padding_config must equal the number of axes of operand, "
            f"got padding_config {padding_config} for operand shape {x.shape}"
        )
    if any(it < 0 for _, _, it in padding_config):
        raise ValueError(
            f"interior padding in padding_config must be nonnegative, got "
            f"padding_config {padding_config}"
        )
    shape = tuple(int(_padded_size(n, *c)) for n, c in zip(x.shape, padding_config))
    if any(s < 0 for s in shape):
        raise ValueError(
            f"Dimension size after padding is not at least 0, got result shape "
            f"{shape}, for padding_config {padding_config} and operand shape "
            f"{x.shape}"
        )
    return ShapedArray(shape, x.dtype, x.weak_type and padding_value.weak_type)


@pad_p.def_lowering
def _pad_lowering(ctx, x, padding_value, *, padding_config):
    lo, hi, interior = zip(*padding_config) if padding_config else ((), (), ())
    return hlo.pad(
        x, padding_value, [int(v) for v in lo], [int(v) for v in hi], [int(v) for v in interior]
    )


def _pad_transpose(ct, x, padding_value, *, padding_config):
    from .reductions import reduce_sum
    from .slicing import slice as slice_

    shape = aval_of(ct).shape
    zero = np.zeros((), aval_of(ct).dtype)
    # Undo the edge padding (negative edges come back as zeros), then step over the
    # interior padding with a strided slice.
    unpadded = pad(ct, zero, tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    ushape = aval_of(unpadded).shape
    ct_x = slice_(unpadded, (0,) * len(shape), ushape, tuple(it + 1 for _, _, it in padding_config))
    ct_pad = None
    if is_undefined_primal(padding_value):
        axes = tuple(range(len(shape)))
        if axes:
            from .elementwise import sub

            ct_pad = sub(reduce_sum(ct, axes), reduce_sum(ct_x, axes))
        else:
            ct_pad = full_like(ct, 0)
    return [ct_x if is_undefined_primal(x) else None, ct_pad]


deflinear(pad_p, _pad_transpose)


def _pad_batch(size, vals, dims, *, padding_config):
    from .logic import select_n

    (x, padding_value), (xd, pd) = vals, dims
    if pd is None:
        config = list(padding_config)
        config.insert(xd, (0, 0, 0))
        return pad(x, padding_value, tuple(config)), xd
    # A batched padding value: pad with zeros, then select the padding positions
    # from the (broadcast) padding values with a padded mask.
    x = batching.move_batch_axis(size, xd, 0, x)
    config = ((0, 0, 0),) + tuple(padding_config)
    aval = aval_of(x)
    padded = pad(x, np.zeros((), aval.dtype), config)
    is_padding = pad(full(aval.shape, False), True, config)
    out_shape = aval_of(padded).shape
    pv = broadcast_in_dim(batching.move_batch_axis(size, pd, 0, padding_value), out_shape, (0,))
    return select_n(is_padding, padded, pv), 0


pad_p.def_batch(_pad_batch)


# ---------------------------------------------------------------------------- concatenate

concatenate_p = Primitive("concatenate")


def concatenate(operands, dimension):
    """Join arrays of equal rank and dtype along ``dimension``."""
    operands = tuple(operands)
    if len(operands) == 0:
        raise ValueError("concatenate requires a non-empty sequences of arrays")
    if (
        len(operands) == 1
        and not dtypes.is_python_scalar(operands[0])
        and not isinstance(operands[0], (np.ndarray, np.generic))
    ):
        return operands[0]
    return concatenate_p.bind(*operands, dimension=int(dimension))


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*xs, dimension):
    if len({x.dtype for x in xs}) > 1:
        raise TypeError(
            f"lax.concatenate requires arguments to have the same dtypes, got "
            f"{', '.join(x.dtype.name for x in xs)}. (Tip: jnp.concatenate is a "
            f"similar function that does automatic type promotion on inputs)."
        )
    shapes = ", ".join(str(x.shape) for x in xs)
    if len({x.ndim for x in xs}) > 1:
        raise TypeError(
            f"Cannot concatenate arrays with different numbers of dimensions: got {shapes}."
        )
    if not 0 <= dimension < xs[0].ndim:
        raise TypeError(
            f"concatenate dimension out of bounds: dimension {dimension} for shapes {shapes}."
        )
    others = {x.shape[:dimension] + x.shape[dimension + 1 :] for x in xs}
    if len(others) > 1:
        raise TypeError(
            f"Cannot concatenate arrays with shapes that differ in dimensions other "
            f"than the one being concatenated: concatenating along dimension "
            f"{dimension} for shapes {shapes}."
        )
    shape = list(xs[0].shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, xs[0].dtype, all(x.weak_type for x in xs))


@concatenate_p.def_lowering
def _concatenate_lowering(ctx, *xs, dimension):
    return hlo.concatenate(list(xs), dimension)


def _concatenate_transpose(ct, *xs, dimension):
    # one split of the cotangent into every operand's piece, as JAX's rule
    from .shape_extra import split

    sizes = [(x.aval if is_undefined_primal(x) else aval_of(x)).shape[dimension] for x in xs]
    pieces = split(ct, sizes, axis=dimension)
    return [p if is_undefined_primal(x) else None for p, x in zip(pieces, xs)]


deflinear(concatenate_p, _concatenate_transpose)


def _concatenate_batch(size, vals, dims, *, dimension):
    xs = []
    for x, d in zip(vals, dims):
        xs.append(batching.move_batch_axis(size, d, 0, x))
    return concatenate(xs, dimension + 1), 0


concatenate_p.def_batch(_concatenate_batch)


# ---------------------------------------------------------------------------- copy

copy_p = Primitive("copy")
copy_p.def_abstract_eval(lambda x: x)
copy_p.def_lowering(lambda ctx, x: x)
deflinear(copy_p, lambda ct, x: [copy_p.bind(ct)])
copy_p.def_batch(lambda size, vals, dims: (copy_p.bind(vals[0]), dims[0]))


# ---------------------------------------------------------------------------- iota

iota_p = Primitive("iota")


def iota(dtype, size):
    """``[0, 1, ..., size - 1]`` of ``dtype``."""
    return broadcasted_iota(dtype, (size,), 0)


def broadcasted_iota(dtype, shape, dimension, *, out_sharding=None):
    """An array of ``shape`` whose values count up along ``dimension``."""
    dtype = dtypes.canonicalize_dtype(dtype)
    shape = core.canonical_shape(shape)
    from ..sharding.constraint import canonicalize_sharding

    sharding = canonicalize_sharding(out_sharding, "broadcasted_iota")
    return _placed(
        iota_p.bind(dtype=dtype, shape=shape, dimension=int(dimension), sharding=sharding)
    )


@iota_p.def_abstract_eval
def _iota_abstract_eval(*, dtype, shape, dimension, sharding):
    check_dtypes("iota", [ShapedArray((), dtype)], ("int", "float", "complex"))
    if any(d < 0 for d in shape):
        raise TypeError(f"iota shape must have every element be nonnegative, got {shape}.")
    if not 0 <= dimension < len(shape):
        raise ValueError(
            f"iota dimension must be between 0 and len(shape), got "
            f"dimension={dimension} for shape={shape}"
        )
    return ShapedArray(shape, dtype)


@iota_p.def_lowering
def _iota_lowering(ctx, *, dtype, shape, dimension, sharding):
    out = ctx.avals_out[0]
    if dtypes.is_complex(dtype):  # count in the real type, then widen
        real = out.update(dtype=dtypes.real_dtype(dtype))
        return hlo.convert(lowering.ir_type(out), lowering.iota(real, dimension))
    return lowering.iota(out, dimension)


def _is_abstract(sharding) -> bool:
    from ..sharding.mesh import AbstractMesh

    return isinstance(getattr(sharding, "mesh", None), AbstractMesh)


# full, full_like and AD's zeros live beside (they type their results over a mesh)
from .filled import full, full_like  # noqa: E402
