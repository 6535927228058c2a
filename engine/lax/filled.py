"""``full`` and ``full_like`` (and AD's zeros) as broadcasts of a scalar, typed as JAX
0.10.2's under a mesh with Explicit axes: a sharding over the abstract mesh (jnp's
``out_sharding``, a traced operand's type) types the result; a concrete one places an
eager result and is ignored while tracing."""

from __future__ import annotations

import numpy as np

from .. import ad_util, core, dtypes
from .structural import _is_abstract, _placed, broadcast_in_dim, broadcast_in_dim_p


def _canonical_shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return core.canonical_shape(shape)


def full(shape, fill_value, dtype=None, *, sharding=None):
    """An array of ``shape`` filled with the scalar ``fill_value``. As JAX's: a sharding
    over an abstract mesh types the result (jnp's ``out_sharding``); a concrete one
    places an eager result there and is ignored while tracing."""
    if dtype is None:
        dtype, weak = dtypes.dtype_of(fill_value), dtypes.is_weakly_typed(fill_value)
    else:
        dtype, weak = dtypes.canonicalize_dtype(dtype), False
    return _full(shape, fill_value, dtype, weak, sharding)


# AD's zeros (engine.ad_util) are lax's: a broadcast literal, weakly typed where the
# aval is, as JAX's (an unused weak input's gradient is a weak zero), and typed with
# the aval's sharding (JAX's zeros_like_shaped_array)
ad_util.register_zeros_maker(
    lambda aval: _full(
        aval.shape,
        0,
        dtypes.canonicalize_dtype(aval.dtype),
        aval.weak_type,
        getattr(aval, "sharding", None),
    )
)


def full_like(x, fill_value, dtype=None, shape=None, sharding=None):
    """``full`` with the shape and dtype of ``x`` (and its weak type when dtype is None);
    a traced ``x`` of the same shape lends its type's sharding, as JAX's."""
    aval = core.get_aval(x)
    if dtype is None:
        dtype, weak = aval.dtype, aval.weak_type
    else:
        dtype, weak = dtypes.canonicalize_dtype(dtype), False
    if sharding is None and shape is None and isinstance(x, core.Tracer):
        sharding = getattr(aval, "sharding", None)
    elif sharding is None and not weak:
        # as JAX's: a concrete x lends its (concrete) sharding, which places an eager
        # result and is ignored while tracing
        have = getattr(x, "sharding", None)
        from ..sharding.named import NamedSharding

        if isinstance(have, NamedSharding) and getattr(x, "_committed", True):
            if shape is None or tuple(shape) == aval.shape or have.is_fully_replicated:
                sharding = have
    return _full(aval.shape if shape is None else shape, fill_value, dtype, weak, sharding)


def _full(shape, fill_value, dtype, weak, sharding=None):
    shape = _canonical_shape(shape)
    fshape = () if dtypes.is_python_scalar(fill_value) else core.get_aval(fill_value).shape
    if fshape:
        raise TypeError(
            f"full must be called with scalar fill_value, got fill_value.shape {fshape}."
        )
    eager = core.current_trace() is core.eval_trace
    if isinstance(fill_value, core.Tracer) or hasattr(fill_value, "_buf"):
        from .convert import convert_element_type

        value = convert_element_type(fill_value, dtype, weak)
    else:
        if dtypes.is_python_scalar(fill_value):  # as convert_element_type (no range check)
            value = dtypes.host_convert(np.asarray(fill_value), dtype)
        else:
            value = np.asarray(fill_value, dtype)
        if weak:
            value = core.WeakScalar(value.item(), dtype)
        if not shape and sharding is None and eager:
            from ..dispatch import device_put_value

            return device_put_value(value)  # an Array, not the host literal
    if sharding is not None and not _is_abstract(sharding):
        if not eager:
            return broadcast_in_dim(value, shape, ())  # ignored while tracing, as JAX's
        from ..sharding.arrays import put

        # JAX builds it on the devices the sharding names, of the fill's dtype (not weak)
        out = broadcast_in_dim(dtypes.host_convert(np.asarray(value), dtype), shape, ())
        return put(out, sharding)
    if sharding is not None:
        sharding = _typed_for(sharding, len(shape))
        if sharding is not None:
            return _placed(
                broadcast_in_dim_p.bind(
                    value, shape=shape, broadcast_dimensions=(), sharding=sharding
                )
            )
    return broadcast_in_dim(value, shape, ())


def _typed_for(sharding, ndim):
    """A type sharding as broadcast_in_dim's ``sharding`` parameter (None when it has no
    Explicit axis over a mesh: then the result is typed as the ambient mesh says)."""
    from ..sharding.in_types import type_sharding

    return type_sharding(sharding, ndim)
