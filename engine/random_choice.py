"""Samplers of ``engine.random`` that pick among values: bernoulli, gumbel (and the
Gumbel-max trick of categorical), permutation and choice."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from . import core, dtypes, lax
from .jit import jit
from .random import (
    _broadcasting,
    _canonical_shape,
    _check_shape,
    _float_dtype,
    _key_data_of,
    _ndim,
    _random_bits,
    _split,
    _uniform,
    randint,
    uniform,
)

__all__ = ["bernoulli", "gumbel", "categorical", "permutation", "choice"]


# ---------------------------------------------------------------------------- discrete samplers


def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Booleans that are True with probability ``p``."""

    if mode not in ("high", "low"):
        raise ValueError(f"got {mode=}, expected 'high' or 'low'")
    data, _ = _key_data_of("bernoulli", key)
    dtype = dtypes.dtype_of(p)
    if not dtypes.is_float(dtype):
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got {dtype}.")
    p = lax.convert_element_type(p, dtype)
    if shape is not None:
        shape = _canonical_shape(shape)
    return _bernoulli_jit(data, p, shape, mode)


def _bernoulli(data, p, shape, mode):
    if shape is None:
        shape = core.get_aval(p).shape
    else:
        _check_shape("bernoulli", shape, core.get_aval(p).shape)
    dtype = core.get_aval(p).dtype
    if mode == "high":
        u = _uniform(data, 0.0, 1.0, (2, *shape), dtype)
        u1, u2 = (lax.index_in_dim(u, i, keepdims=False) for i in range(2))
        u2 = lax.mul(u2, np.array(2.0 ** -dtypes.finfo(dtype).nmant, dtype))
        return _broadcasting(lax.lt, u2, _broadcasting(lax.sub, p, u1))
    u = _uniform(data, 0.0, 1.0, shape, dtype)
    if not core.get_aval(p).shape:  # a scalar p compares as it is (as JAX's lax.lt)
        return lax.lt(u, p)
    return _broadcasting(lax.lt, u, p)


_bernoulli_jit = jit(_bernoulli, static_argnums=(2, 3))


def _gumbel(data, shape, dtype, mode):
    info = dtypes.finfo(dtype)
    if mode == "high":
        u = _uniform(data, 0.0, 1.0, (2,) + shape, dtype)
        high, low = (lax.index_in_dim(u, i, keepdims=False) for i in range(2))
        finer = lax.add(
            lax.add(high, lax.mul(np.array(2.0**-info.nmant, dtype), low)),
            np.array(info.tiny, dtype),
        )
        x = lax.select(lax.ge(high, np.array(0.5, dtype)), high, finer)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = _uniform(data, float(info.tiny), 1.0, shape, dtype)
    return lax.neg(lax.log(lax.neg(lax.log(u))))


_gumbel_jit = jit(_gumbel, static_argnums=(1, 2, 3))


def gumbel(key, shape=(), dtype=None, mode=None):
    """Standard Gumbel floats: -log(-log(u))."""
    data, _ = _key_data_of("gumbel", key)
    dtype = _float_dtype("gumbel", dtype)
    mode = "low" if mode is None else mode
    if mode not in ("high", "low"):
        raise ValueError("Must provide valid mode for gumbel got: %s" % mode)
    return _gumbel_jit(data, _canonical_shape(shape), dtype, mode)


def categorical(key, logits, axis=-1, shape=None, replace=True, mode=None):
    """Category indices sampled with probabilities softmax(logits, axis) (Gumbel-max)."""
    from . import numpy as jnp

    data, _ = _key_data_of("categorical", key)
    logits = jnp.asarray(logits)
    ndim = logits.ndim
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise IndexError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    axis %= ndim
    batch_shape = tuple(np.delete(logits.shape, axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = _canonical_shape(shape)
        _check_shape("categorical", shape, batch_shape)
    mode = "low" if mode is None else mode
    if mode not in ("high", "low"):
        raise ValueError("Must provide valid mode for gumbel got: %s" % mode)
    if not dtypes.is_float(logits.dtype):
        raise ValueError(f"dtype argument to `gumbel` must be a float dtype, got {logits.dtype}")
    return _categorical_jit(data, logits, shape, batch_shape, axis, replace, mode)


def _categorical(data, logits, shape, batch_shape, axis, replace, mode):
    aval = core.get_aval(logits)
    prefix = shape[: len(shape) - len(batch_shape)]
    if replace:
        per_draw = list(shape[len(shape) - len(batch_shape) :])
        per_draw.insert(axis, aval.shape[axis])
        g = _gumbel(data, (*prefix, *per_draw), aval.dtype, mode)
        scores = _broadcasting(lax.add, g, lax.expand_dims(logits, tuple(range(len(prefix)))))
        return lax.argmax(scores, len(prefix) + axis, dtypes.default_int_dtype())
    scores = _broadcasting(lax.add, logits, _gumbel(data, aval.shape, aval.dtype, mode))
    k = math.prod(prefix)
    if k > aval.shape[axis]:
        raise ValueError(
            f"Number of samples without replacement ({k}) cannot exceed number "
            f"of categories ({aval.shape[axis]})."
        )
    perm = tuple(i for i in range(aval.ndim) if i != axis) + (axis,)
    _, indices = lax.top_k(lax.transpose(scores, perm), k)
    ndim = core.get_aval(indices).ndim
    return lax.reshape(indices, shape, (ndim - 1, *range(ndim - 1)))


_categorical_jit = jit(_categorical, static_argnums=(2, 3, 4, 5, 6))


def _shuffle(data, x, axis):
    """Sort by fresh 32-bit random keys, enough rounds that ties are unlikely."""
    size = core.get_aval(x).size
    num_rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(num_rounds):
        keys = _split(data, (2,))
        data, sub = (lax.index_in_dim(keys, i, keepdims=False) for i in range(2))
        sort_keys = _random_bits(sub, 32, core.get_aval(x).shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


_shuffle_jit = jit(_shuffle, static_argnums=(2,))


def permutation(key, x, axis=0, independent=False):
    """A shuffled ``arange(x)`` (x an integer) or ``x`` shuffled along ``axis``."""
    from . import numpy as jnp

    data, _ = _key_data_of("permutation", key)
    ndim = _ndim(x)
    axis = operator.index(axis)
    if not -(ndim or 1) <= axis < (ndim or 1):
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim or 1}")
    axis %= ndim or 1
    if not ndim:
        if not dtypes.is_int(dtypes.dtype_of(x)):
            raise TypeError("x must be an integer or at least 1-dimensional")
        if isinstance(x, core.Tracer):
            raise TypeError(
                "argument x of jax.random.permutation() must be a concrete "
                "integer, got a traced value"
            )
        r = int(x)
        return _shuffle_jit(data, lax.iota(dtypes.default_int_dtype(), r), axis)
    x = jnp.asarray(x)
    if independent or ndim == 1:
        return _shuffle_jit(data, x, axis)
    ind = _shuffle_jit(data, lax.iota(dtypes.default_int_dtype(), x.shape[axis]), 0)
    return jnp.take(x, ind, axis, unique_indices=True)


def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Random draws from ``a`` (or ``arange(a)``), optionally weighted by ``p``."""
    from . import numpy as jnp

    data, typed = _key_data_of("choice", key)
    if not isinstance(shape, Sequence):
        raise TypeError(f"shape argument of jax.random.choice must be a sequence, got {shape}")
    shape = tuple(operator.index(d) for d in shape)
    arr = jnp.asarray(a)
    if arr.ndim == 0:
        n_inputs = int(a)
    else:
        axis = operator.index(axis) % arr.ndim
        n_inputs = arr.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return jnp.zeros(shape, dtype=arr.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(
            f"Cannot take a larger sample (size {n_draws}) than population "
            f"(size {n_inputs}) when 'replace=False'"
        )
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
        else:
            perm = permutation(key, n_inputs if arr.ndim == 0 else arr, axis)
            result = lax.slice_in_dim(perm, 0, n_draws, axis=axis)
    else:
        p_arr = jnp.asarray(p)
        if not dtypes.is_inexact(p_arr.dtype):
            p_arr = lax.convert_element_type(p_arr, dtypes.default_float_dtype())
        if p_arr.shape != (n_inputs,):
            raise ValueError(
                "p must be None or a 1D vector with the same size as "
                f"a.shape[axis]. p has shape {p_arr.shape} and a.shape[axis] is "
                f"{n_inputs}."
            )
        if replace:
            cdf = lax.cumsum(p_arr, 0)
            u = uniform(key, shape, dtype=p_arr.dtype)
            total = lax.index_in_dim(cdf, n_inputs - 1, keepdims=False)
            r = lax.mul(total, lax.sub(np.array(1, p_arr.dtype), u))
            ind = _searchsorted_left(cdf, r)
        else:
            g = lax.add(gumbel(key, (n_inputs,), dtype=p_arr.dtype, mode=mode), lax.log(p_arr))
            ind = lax.convert_element_type(lax.top_k(g, n_draws)[1], dtypes.default_int_dtype())
        result = ind if arr.ndim == 0 else jnp.take(arr, ind, axis)
    out_shape = shape if arr.ndim == 0 else arr.shape[:axis] + shape + arr.shape[axis + 1 :]
    return lax.reshape(result, out_shape)


def _searchsorted_left(sorted_1d, values):
    """For each value, the number of entries of the sorted array below it."""
    n = core.get_aval(sorted_1d).shape[0]
    vshape = core.get_aval(values).shape
    below = lax.lt(
        lax.broadcast_in_dim(sorted_1d, vshape + (n,), (len(vshape),)),
        lax.expand_dims(values, (len(vshape),)),
    )
    count = lax.convert_element_type(below, dtypes.default_int_dtype())
    return lax.reduce_sum(count, (len(vshape),))
