"""``x.at[idx].set/add/multiply/divide/power/min/max/get``: the update half of NumPy
indexing on engine arrays (the index plans are ``indexing``'s), with JAX 0.10.2's
``out_sharding=`` for gathers and scatters whose result sharding is ambiguous."""

from __future__ import annotations

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ..lax import ScatterDimensionNumbers
from ..lax.structural import broadcast_in_dim_p
from ..sharding.constraint import canonicalize_sharding
from ..sharding.in_types import auto_axes
from ..sharding.named import NamedSharding, PartitionSpec
from ._util import _broadcast_shapes, check_arraylike, promote_dtypes
from .creation import asarray
from .indexing import (
    _as_array,
    _expand_bools,
    _explicit_axes,
    _gather_plan,
    _jnp_array,
    _parse,
    _rewriting_take,
)
from .ufuncs import divide, power


class _IndexUpdateHelper:
    """``x.at``: ``x.at[idx]`` gives an _IndexUpdateRef for functional updates."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


def _out_sharding(out_sharding, method):
    """JAX asserts the type (an AssertionError, no message), then canonicalizes."""
    if out_sharding is None:
        return None
    assert isinstance(out_sharding, (NamedSharding, PartitionSpec))
    return canonicalize_sharding(out_sharding, method)


class _IndexUpdateRef:
    """``x.at[idx]``: each method returns an updated copy of x (``get`` reads)."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array, self.index = array, index

    def __repr__(self):
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"

    def get(
        self,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        fill_value=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        return _rewriting_take(
            self.array,
            self.index,
            indices_are_sorted=indices_are_sorted,
            unique_indices=unique_indices,
            mode=mode,
            fill_value=fill_value,
            normalize_indices=wrap_negative_indices,
            out_sharding=_out_sharding(out_sharding, ".get"),
        )

    def _update(self, op, values, options, method, array=None):
        out_sharding = _out_sharding(options.pop("out_sharding"), method)
        x = self.array if array is None else array
        return _scatter_update(x, self.index, values, op, **options, out_sharding=out_sharding)

    def set(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter, values, options, ".set")

    def add(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter_add, values, options, ".add")

    def subtract(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter_sub, values, options, ".subtract")

    def multiply(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter_mul, values, options, ".multiply")

    mul = multiply

    def divide(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        ones = self._update(
            lax.scatter_mul, values, options, ".divide", array=_ones_like(self.array)
        )
        return divide(self.array, ones)

    def power(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        ones = self._update(
            lax.scatter_mul, values, options, ".power", array=_ones_like(self.array)
        )
        return power(self.array, ones)

    def min(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter_min, values, options, ".min")

    def max(
        self,
        values,
        *,
        indices_are_sorted=False,
        unique_indices=False,
        mode=None,
        out_sharding=None,
        wrap_negative_indices=True,
    ):
        options = _scatter_options(
            indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding
        )
        return self._update(lax.scatter_max, values, options, ".max")


def _ones_like(x):
    aval = core.get_aval(x)
    return lax.convert_element_type(lax.full(aval.shape, 1, aval.dtype), aval.dtype, aval.weak_type)


# ---------------------------------------------------------------------------- updates


def _scatter_update(
    x,
    idx,
    y,
    scatter_op,
    indices_are_sorted=False,
    unique_indices=False,
    mode=None,
    normalize_indices=True,
    out_sharding=None,
):
    """x with ``x[idx] (op)= y`` applied, functionally."""

    x = _as_array(x, "scatter")
    x_aval = core.get_aval(x)
    y = _update_operand(x_aval, y)
    parsed = _expand_bools(_parse(idx, x_aval.shape), x_aval.shape)
    options = (scatter_op, indices_are_sorted, unique_indices, mode, normalize_indices)
    if out_sharding is None:
        return _scatter(parsed, *options, x, y)
    # as JAX's: scattered with the mesh's Explicit axes made Auto, then resharded; the
    # updates and index arrays go in as arguments so that their types lose those axes
    leaves = [i for i, p in enumerate(parsed) if isinstance(p.value, (Array, core.Tracer))]
    y_is_array = isinstance(y, (Array, core.Tracer))

    def scatter_with(x, *values):
        given = dict(zip(leaves, values[1:] if y_is_array else values))
        at = [p._replace(value=given[i]) if i in given else p for i, p in enumerate(parsed)]
        return _scatter(at, *options, x, values[0] if y_is_array else y)

    run = auto_axes(scatter_with, out_sharding=out_sharding, axes=_explicit_axes(out_sharding))
    return run(x, *([y] if y_is_array else []), *[parsed[i].value for i in leaves])


def _scatter(parsed, scatter_op, indices_are_sorted, unique_indices, mode, normalize, x, y):
    x_aval = core.get_aval(x)
    x_sharding = getattr(x_aval, "sharding", None)
    x_entries = x_sharding.spec._normalized(x_aval.ndim) if x_sharding is not None else None
    plan = _gather_plan(parsed, x_aval.shape, normalize, x_entries)
    if any(d == 0 for d in plan.slice_shape):
        return x
    if dtypes.is_python_scalar(y):
        # a literal of the promoted type (no conversion equation for a constant)
        dtype, weak = dtypes.result_type(x, y, return_weak_type_flag=True)
        xp = lax.convert_element_type(x, dtype, weak)
        y = dtypes.python_scalar_as(y, dtype)
    else:
        xp, y = promote_dtypes(x, y)
    slice_sharding = None
    if x_sharding is not None:
        slice_sharding = NamedSharding(x_sharding.mesh, PartitionSpec(*plan.slice_entries))
    y = _broadcast_update(y, plan.slice_shape, slice_sharding)
    if plan.newaxis_dims:
        y = lax.squeeze(y, plan.newaxis_dims)
    if plan.reversed_dims:
        y = lax.rev(y, plan.reversed_dims)
    if plan.bool_dims:
        xp = lax.expand_dims(xp, plan.bool_dims)
    d = plan.dnums
    dnums = ScatterDimensionNumbers(
        update_window_dims=d.offset_dims,
        inserted_window_dims=d.collapsed_slice_dims,
        scatter_dims_to_operand_dims=d.start_index_map,
    )
    out = scatter_op(
        xp,
        plan.indices,
        y,
        dnums,
        indices_are_sorted=indices_are_sorted or not plan.advanced,
        unique_indices=unique_indices or not plan.advanced,
        mode=mode,
    )
    if plan.bool_dims:
        out = lax.squeeze(out, plan.bool_dims)
    return lax.convert_element_type(out, x_aval.dtype, x_aval.weak_type)


def _scatter_options(indices_are_sorted, unique_indices, mode, wrap_negative_indices, out_sharding):
    """The scatter keywords every ``.at[]`` update method takes (JAX spells each out)."""
    return dict(
        indices_are_sorted=indices_are_sorted,
        unique_indices=unique_indices,
        mode=mode,
        normalize_indices=wrap_negative_indices,
        out_sharding=out_sharding,
    )


def _update_operand(x_aval, y):
    """The update values as an operand: Python ints that fit take x's integer dtype;
    other Python scalars are weakly typed."""

    if isinstance(y, (Array, core.Tracer)):
        return y
    if (
        isinstance(y, int)
        and not isinstance(y, bool)
        and dtypes.is_int(x_aval.dtype)
        and np.iinfo(x_aval.dtype).min <= y <= np.iinfo(x_aval.dtype).max
    ):
        return np.asarray(y, x_aval.dtype)
    if dtypes.is_python_scalar(y):
        return y
    if isinstance(y, (list, tuple)):
        return _jnp_array(y)
    check_arraylike("scatter", y)

    return asarray(y)


def _broadcast_update(y, shape, sharding):
    """``y`` broadcast to ``x[idx]``'s shape and, where x's type has a sharding, to its
    sharding (JAX's typed ``lax.broadcast_to``: a sharded axis of y must be the slice's)."""
    y_aval = core.get_aval(y)
    shape = tuple(shape)
    try:
        ok = tuple(_broadcast_shapes(y_aval.shape, shape)) == shape
    except ValueError:
        ok = False
    y_sharding = getattr(y_aval, "sharding", None)
    if sharding is None or y_sharding is None:  # untyped: the scatter's rule places it
        if not ok:  # JAX's lax.broadcast_to messages
            if len(shape) < y_aval.ndim:
                raise ValueError(
                    "Cannot broadcast to shape with fewer dimensions: "
                    f"arr_shape={y_aval.shape} shape={shape}"
                )
            raise ValueError(
                f"Incompatible types for broadcasting: input type={_long(y_aval)} and "
                f"requested type={_long(y_aval.update(shape=shape, weak_type=False))}"
            )
        # an untyped y (a scalar) takes the slice's sharding, as JAX's typed broadcast
        return lax.broadcast_to_shape(y, shape, sharding if y_aval.shape != shape else None)
    entries = sharding.spec._normalized(len(shape))
    nlead = len(shape) - y_aval.ndim
    y_entries = y_sharding.spec._normalized(y_aval.ndim)
    if y_aval.shape == shape and tuple(y_entries) == tuple(entries):
        return y
    if not ok or any(e not in (None, s) for e, s in zip(y_entries, entries[nlead:])):
        wanted = y_aval.update(shape=shape, sharding=sharding)
        raise ValueError(
            f"Incompatible types for broadcasting: input type={_long(y_aval)} and requested "
            f"type={_long(wanted)}"
        )
    return broadcast_in_dim_p.bind(
        y, shape=shape, broadcast_dimensions=tuple(range(nlead, len(shape))), sharding=sharding
    )


def _long(aval):
    """A type as JAX's messages print it: the dtype's full name, no weak-type mark."""
    return aval.str_long().lstrip("~")
