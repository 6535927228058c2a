"""checkify's rules for first-order primitives (JAX's): NaN checks on the primitives that
can make a NaN, out-of-bounds checks on indexing, division-by-zero checks on ``div``,
and ``check`` itself (merged into the running error: functionalized)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import dtypes, lax
from .. import numpy as jnp
from .checkify_core import (
    DivisionByZeroError,
    Error,
    NaNError,
    OOBError,
    assert_func,
    check_p,
    error_checks,
    get_traceback,
    update_error,
)


def _array(x: Any) -> Any:
    """A jaxpr literal's value (a weakly typed scalar) as an operand jnp accepts."""
    from ..core import WeakScalar

    return x.value if type(x) is WeakScalar else x


def nan_error_check(prim, error, enabled_errors, *in_vals, **params):
    out = prim.bind(*in_vals, **params)
    return check_nans(prim, error, enabled_errors, out), out


def check_nans(prim, error, enabled_errors, out):
    if NaNError not in enabled_errors:
        return error

    def isnan(x):
        if dtypes.issubdtype(x.dtype, dtypes.prng_key):
            return False
        return jnp.any(jnp.isnan(x))

    if prim.multiple_results:
        any_nans = jnp.any(jnp.array([isnan(x) for x in out]))
    else:
        any_nans = isnan(out)
    return assert_func(error, any_nans, NaNError(get_traceback(), prim.name))


_NAN_PRIMITIVES = """acos acosh add asin asinh atan2 atan atanh bessel_i0e bessel_i1e cbrt
conv_general_dilated cos cosh cumlogsumexp cummax cummin cumprod cumsum digamma dot_general
erf_inv erf erfc exp expm1 fft igamma_grad_a igamma igammac integer_pow lgamma log1p log
logistic mul pad pow psum reduce reduce_prod reduce_sum reduce_window reduce_window_sum
regularized_incomplete_beta rem rng_uniform rsqrt sin sinh sqrt sub tan tanh""".split()

for _name in _NAN_PRIMITIVES:
    _prim = getattr(lax, f"{_name}_p")
    error_checks[_prim] = functools.partial(nan_error_check, _prim)


def _register_linear_solve() -> None:
    from ..lax.custom_solve import custom_linear_solve_p

    error_checks[custom_linear_solve_p] = functools.partial(nan_error_check, custom_linear_solve_p)


_register_linear_solve()


def oob_payload(oob_mask, indices, dims_map, operand_shape):
    """[index, axis, axis size] of the first out-of-bounds index."""
    flat_idx = jnp.argmin(jnp.logical_not(oob_mask))
    multi_idx = jnp.unravel_index(flat_idx, indices.shape)
    oob_axis = jnp.array(dims_map)[multi_idx[-1]]
    oob_axis_size = jnp.array(operand_shape)[oob_axis]
    oob_index = jnp.ravel(indices)[flat_idx]
    return jnp.array([oob_index, oob_axis, oob_axis_size], dtype=np.int32)


def dynamic_slice_error_check(error, enabled_errors, operand, *start_indices, **params):
    out = lax.dynamic_slice_p.bind(operand, *start_indices, **params)
    if OOBError not in enabled_errors:
        return error, out
    starts = jnp.array([_array(s) for s in start_indices])
    operand_dims = np.array(operand.shape, dtype=starts.dtype)
    slice_sizes = np.array(params["slice_sizes"], dtype=starts.dtype)
    oob_mask = (starts < 0) | (starts + slice_sizes > operand_dims)
    payload = oob_payload(oob_mask, starts, range(operand.ndim), operand.shape)
    err = OOBError(get_traceback(), "dynamic_slice", operand.shape, payload)
    return assert_func(error, jnp.any(oob_mask), err), out


error_checks[lax.dynamic_slice_p] = dynamic_slice_error_check


def dynamic_update_slice_error_check(
    error, enabled_errors, operand, update, *start_indices, **params
):
    out = lax.dynamic_update_slice_p.bind(operand, update, *start_indices, **params)
    if OOBError not in enabled_errors:
        return error, out
    operand_dims = np.array(operand.shape)
    update_dims = np.array(update.shape)
    starts = jnp.array([_array(s) for s in start_indices])
    oob_mask = (starts < 0) | (starts + update_dims > operand_dims)
    payload = oob_payload(oob_mask, starts, range(operand.ndim), operand.shape)
    err = OOBError(get_traceback(), "dynamic_update_slice", operand.shape, payload)
    return assert_func(error, jnp.any(oob_mask), err), out


error_checks[lax.dynamic_update_slice_p] = dynamic_update_slice_error_check


def gather_error_check(error, enabled_errors, operand, start_indices, **params):
    out = lax.gather_p.bind(operand, start_indices, **params)
    if OOBError not in enabled_errors:
        return error, out
    dnums, slice_sizes = params["dimension_numbers"], params["slice_sizes"]
    operand_dims = np.array(operand.shape)
    num_batch_dims = len(start_indices.shape) - 1
    index_map = np.array(dnums.start_index_map)
    upper_bound = operand_dims[index_map] - np.array(slice_sizes)[index_map]
    upper_bound = jnp.expand_dims(upper_bound, axis=tuple(range(num_batch_dims)))
    oob_mask = (start_indices < 0) | (start_indices > upper_bound.astype(start_indices.dtype))
    payload = oob_payload(oob_mask, start_indices, dnums.start_index_map, operand.shape)
    err = OOBError(get_traceback(), "gather", operand.shape, payload)
    return assert_func(error, jnp.any(oob_mask), err), out


error_checks[lax.gather_p] = gather_error_check


def div_error_check(error, enabled_errors, x, y, **params):
    if DivisionByZeroError in enabled_errors:
        any_zero = jnp.any(jnp.equal(_array(y), 0))
        error = assert_func(error, any_zero, DivisionByZeroError(get_traceback()))
    return nan_error_check(lax.div_p, error, enabled_errors, x, y, **params)


error_checks[lax.div_p] = div_error_check


def scatter_oob(operand, indices, updates, dnums):
    slice_sizes = []
    pos = 0
    for i in range(len(operand.shape)):
        if i in dnums.inserted_window_dims:
            slice_sizes.append(1)
        else:
            slice_sizes.append(updates.shape[dnums.update_window_dims[pos]])
            pos += 1
    upper_bound = np.array(
        [operand.shape[i] - slice_sizes[i] for i in dnums.scatter_dims_to_operand_dims],
        np.int64,
    )
    upper_bound = np.minimum(upper_bound, np.iinfo(indices.dtype).max)
    upper_bound = lax.broadcast_in_dim(upper_bound, indices.shape, (len(indices.shape) - 1,))
    lower_oob = jnp.less(indices, 0)
    upper_oob = jnp.greater(indices, upper_bound.astype(indices.dtype))
    oob_mask = jnp.logical_or(lower_oob, upper_oob)
    payload = oob_payload(oob_mask, indices, dnums.scatter_dims_to_operand_dims, operand.shape)
    return jnp.any(oob_mask), payload


def scatter_error_check(prim, error, enabled_errors, operand, indices, updates, **params):
    out = prim.bind(operand, indices, updates, **params)
    if OOBError not in enabled_errors:
        return error, out
    out_of_bounds, payload = scatter_oob(operand, indices, updates, params["dimension_numbers"])
    error = assert_func(
        error, out_of_bounds, OOBError(get_traceback(), prim.name, operand.shape, payload)
    )
    return check_nans(prim, error, enabled_errors, out), out


for _name in ("scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max"):
    _prim = getattr(lax, f"{_name}_p")
    error_checks[_prim] = functools.partial(scatter_error_check, _prim)


def check_discharge_rule(error, enabled_errors, *args, err_tree, debug):
    """A ``check`` under checkify: its error joins the running one (for the enabled
    categories; JAX drops the others)."""
    from ..tree_util import tree_unflatten

    new_error = tree_unflatten(err_tree, args)
    discharged: Error = error
    for effect in new_error._pred:
        if effect.error_type in enabled_errors:
            discharged = update_error(
                discharged,
                new_error._pred[effect],
                new_error._code[effect],
                {},
                new_error._payload[effect],
                effect,
            )
    discharged = discharged._replace(_metadata={**new_error._metadata, **discharged._metadata})
    return discharged, []


error_checks[check_p] = check_discharge_rule
