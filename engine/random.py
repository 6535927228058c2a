"""``engine.random``: JAX's default pseudo-random numbers, bit for bit.

The generator is threefry2x32 (``engine.lax.random_bits``) in JAX's "partitionable"
counter layout (``jax_threefry_partitionable=True``, the default):

* a key is two uint32 words; a seed becomes (high 32 bits, low 32 bits) of the
  seed's integer value (the high word is 0 for seeds narrower than 64 bits);
* ``split(key, shape)`` and ``bits(key, shape)`` hash the row-major index ``i`` of each
  output position, as the counter pair (i >> 32, i & 0xFFFFFFFF), under the key;
  ``split`` keeps both output words as the new key, 32-bit ``bits`` xor them, 64-bit
  ``bits`` put the first word high, and 8/16-bit ``bits`` keep the low bits of the xor;
* ``fold_in(key, d)`` hashes the counter pair (0, uint32(d)).

Keys come in two forms, as in JAX. ``PRNGKey(seed)`` returns the raw key data, a
``uint32[2]`` array ("legacy" keys). ``key(seed)`` returns a typed key: an array of
the extended dtype ``key<fry>`` (``engine.prng``), which jaxprs print as JAX does
(``key<fry>[]``) and which passes through ``jit``, ``vmap`` and ``grad`` like any array.
Every function works on typed keys through the ``random_*`` primitives (raw keys are
wrapped by ``random_wrap`` first) and returns keys in the form it was given.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from . import core, dtypes, key_reuse, lax, prng
from .array import Array
from .config import config
from .jit import jit

__all__ = [
    "PRNGKey",
    "key",
    "key_data",
    "wrap_key_data",
    "key_impl",
    "PRNGKeyArray",
    "split",
    "fold_in",
    "bits",
    "uniform",
    "normal",
    "randint",
    "truncated_normal",
]

# jax_debug_key_reuse (engine/key_reuse.py): one folded flag read per random call
_checking = key_reuse.checking
_NOT_CONSUMING = frozenset({"key_data", "key_impl", "fold_in"})

_UINT_BY_BITS = {8: dtypes.uint8, 16: dtypes.uint16, 32: dtypes.uint32, 64: dtypes.uint64}


# ---------------------------------------------------------------------------- typed keys


class _KeyArrayMeta(type):
    def __instancecheck__(cls, x):
        aval = getattr(x, "aval", None) if isinstance(x, (Array, core.Tracer)) else None
        return aval is not None and prng.is_key_dtype(aval.dtype)


class PRNGKeyArray(metaclass=_KeyArrayMeta):
    """Typed key arrays: any array (or tracer) whose dtype is a key dtype such as
    ``key<fry>``. ``PRNGKeyArray(data)`` wraps threefry key data (as ``wrap_key_data``)."""

    def __new__(cls, data):
        return prng.random_wrap(data, impl=prng.threefry_prng_impl)


_KEY_DTYPE = prng.key_dtype_of(prng.threefry_prng_impl)
KeyDType = prng.KeyTy


def _is_typed_key(x):
    return isinstance(x, (Array, core.Tracer)) and prng.is_key_dtype(x.aval.dtype)


_EvalTrace = core.EvalTrace
_raw_aval: list = [None, None]  # (a raw key's aval, its typed key's aval), last wrapped


def _check_key_data(data):
    prng.check_key_data(core.get_aval(data), prng.threefry_prng_impl)


def _key_data_of(name, key, allow_batched=False):
    """(typed key, was_wrapped): a typed key as it is, raw uint32 key data wrapped
    (``random_wrap``) as JAX's ``_check_prng_key`` does."""
    if type(key) is Array and key.aval is _raw_aval[0] and type(core._ctx.trace) is _EvalTrace:
        # an eager raw key of the shape last seen: random_wrap's impl, without the bind
        typed, wrapped = Array(key._buf, _raw_aval[1], key._device, key._committed), True
        shape = key.aval.shape
    elif _is_typed_key(key):
        typed, wrapped = key, False
        shape = key.aval.shape
    else:
        if dtypes.is_python_scalar(key) or key is None:
            raise TypeError(
                "JAX encountered invalid PRNG key data: expected key_data to have ndim, "
                f"shape, and dtype attributes. Got {key!r}"
            )
        data = key
        if not core.valid_array_value(data):
            data = np.asarray(data)
        _check_key_data(data)
        shape = core.get_aval(data).shape
        typed, wrapped = prng.random_wrap(data, impl=prng.threefry_prng_impl), True
        if type(data) is Array and type(typed) is Array:
            _raw_aval[:] = [data.aval, typed.aval]
    if not allow_batched and core.get_aval(typed).ndim:
        raise ValueError(
            f"{name} accepts a single key, but was given a key array of shape "
            f"{shape} != (). Use jax.vmap for batching."
        )
    if _checking[0] and not wrapped and name not in _NOT_CONSUMING:
        key_reuse.consume(typed, "random_split" if name == "split" else "jit")
    return typed, wrapped


def _as_keys(keys, wrapped):
    """Keys in the form the caller gave: raw data back for a wrapped raw key."""
    return prng.random_unwrap(keys) if wrapped else keys


# ---------------------------------------------------------------------------- seeding


def _seed(ctor_name, seed, impl):
    if _is_typed_key(seed):
        raise TypeError(f"{ctor_name} accepts a scalar seed, but was given a PRNG key.")
    if _ndim(seed):
        raise TypeError(
            f"{ctor_name} accepts a scalar seed, but was given an array of shape "
            f"{np.shape(seed)} != (). Use jax.vmap for batching"
        )
    if isinstance(seed, int):
        # As JAX does: go through int64 (OverflowError beyond it), then wrap to the
        # default integer width.
        arr = np.asarray(np.int64(seed))
        if not config.jax_enable_x64:
            arr = arr.astype(np.int32)
        seed = arr
    elif not core.valid_array_value(seed) or isinstance(seed, (np.ndarray, np.generic)):
        from . import numpy as jnp

        seed = jnp.asarray(seed)
    aval = core.get_aval(seed)
    if not dtypes.is_int(aval.dtype):
        raise TypeError(f"PRNG key seed must be an integer; got {seed!r}")
    return prng.random_seed(seed, impl=impl)


def _ndim(x):
    return core.get_aval(x).ndim if core.valid_array_value(x) else np.ndim(x)


def PRNGKey(seed, *, impl=None):  # noqa: N802 - JAX's name
    """A raw ``uint32[2]`` key for an integer seed."""
    return prng.random_unwrap(_seed("PRNGKey", seed, prng.resolve_impl(impl)))


def key(seed, *, impl=None, dtype=None):
    """A typed key (an array of dtype ``key<fry>`` and shape ``()``) for an integer seed."""
    if dtype is not None:
        if impl is not None:
            raise ValueError("Cannot specify both `impl` and `dtype` arguments to jax.random.key")
        impl = dtype
    return _seed("key", seed, prng.resolve_impl(impl))


def _check_impl(impl):
    prng.resolve_impl(impl)


def key_data(keys):
    """The uint32 data of typed keys (``random_unwrap``)."""
    typed, _ = _key_data_of("key_data", keys, allow_batched=True)
    return prng.random_unwrap(typed)


def wrap_key_data(key_bits_array, *, impl=None, dtype=None):
    """Typed keys over uint32 data of shape ``(*key_shape, 2)``."""
    if dtype is not None:
        if impl is not None:
            raise ValueError("Cannot specify both `impl` and `dtype` arguments")
        impl = dtype
    impl = prng.resolve_impl(impl)
    data = key_bits_array
    if _is_typed_key(data):
        raise TypeError("wrap_key_data expects uint32 key data, got a typed key array")
    if not core.valid_array_value(data):
        data = np.asarray(data)
    _check_key_data(data)
    out = prng.random_wrap(data, impl=impl)
    if _checking[0]:  # a new key, whatever the data's key was
        out = key_reuse.fresh_copy(out)
    return out


def key_impl(keys):
    typed, _ = _key_data_of("key_impl", keys, allow_batched=True)
    return typed.aval.dtype._impl.name


# ---------------------------------------------------------------------------- split, fold_in, bits


def _split(keys, shape=(2,)):
    """``random_split`` of one typed key (the samplers' helper)."""
    return prng.random_split(keys, shape=tuple(shape))


def _num_to_shape(num):
    shape = (
        tuple(operator.index(d) for d in num)
        if isinstance(num, Sequence)
        else (operator.index(num),)
    )
    if any(d < 0 for d in shape):  # JAX: an MLIRError deep in lowering
        raise TypeError(f"split: the number of keys must be non-negative, got {num}.")
    return shape


def split(key, num=2):
    """``num`` new keys (or an array of keys of shape ``num``) from one key."""
    typed, wrapped = _key_data_of("split", key)
    return _as_keys(_split(typed, _num_to_shape(num)), wrapped)


def fold_in(key, data):
    """A new key from a key and a 32-bit integer."""
    from . import numpy as jnp

    typed, wrapped = _key_data_of("fold_in", key)
    if _ndim(data):
        raise TypeError(
            "fold_in accepts a scalar, but was given an array of"
            f"shape {np.shape(data)} != (). Use jax.vmap for batching."
        )
    return _as_keys(prng.random_fold_in(typed, jnp.asarray(data, dtype=np.uint32)), wrapped)


def _random_bits(keys, bit_width, shape):
    return prng.random_bits(keys, bit_width=bit_width, shape=tuple(shape))


def _canonical_shape(shape):
    if isinstance(shape, Sequence):
        shape = tuple(operator.index(d) for d in shape)
    else:
        shape = (operator.index(shape),)
    if any(d < 0 for d in shape):
        raise TypeError(
            f"Only non-negative dimensions are allowed in a random sample shape, got {shape}."
        )
    return shape


def bits(key, shape=(), dtype=None):
    """Uniform random bits as unsigned integers (uint32, or uint64 under x64)."""
    typed, _ = _key_data_of("bits", key)
    dtype = (
        dtypes.default_uint_dtype()
        if dtype is None
        else dtypes.canonicalize_user_dtype(dtype, "bits")
    )
    if not dtypes.is_unsigned(dtype):
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dtype}")
    shape = _canonical_shape(shape)
    if math.prod(shape) > 2**64:
        raise NotImplementedError("random bits array of size exceeding 2 ** 64")
    return _random_bits(typed, 8 * dtype.itemsize, shape)


# ---------------------------------------------------------------------------- floats


def _float_dtype(name, dtype, kinds=("float",)):
    dtype = dtypes.canonicalize_user_dtype(float if dtype is None else dtype)  # JAX names none
    ok = dtypes.is_float(dtype) or ("complex" in kinds and dtypes.is_complex(dtype))
    if not ok:
        what = "a float or complex" if "complex" in kinds else "a float"
        raise ValueError(f"dtype argument to `{name}` must be {what} dtype, got {dtype}")
    return dtype


def _uniform_body(key, minval, maxval, shape, dtype):
    """Floats in [minval, maxval): random mantissa bits under the exponent of 1.0 give
    [1, 2); subtract 1, scale and shift."""
    minval = lax.convert_element_type(minval, dtype)
    maxval = lax.convert_element_type(maxval, dtype)
    minval = lax.broadcast_to_rank(minval, len(shape))
    maxval = lax.broadcast_to_rank(maxval, len(shape))
    info = dtypes.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    if nbits not in (8, 16, 32, 64):
        raise TypeError(f"uniform only accepts 8-, 16-, 32-, or 64-bit dtypesgot {dtype}.")
    rng_bits = 8 if nmant < 8 else nbits  # e.g. bfloat16 draws 8 bits per value
    uint = _UINT_BY_BITS[nbits]
    random = _random_bits(key, rng_bits, shape)
    if rng_bits != nbits:
        random = lax.convert_element_type(random, uint)
    mantissa = lax.shift_right_logical(random, np.array(rng_bits - nmant, uint))
    one_bits = np.array(1.0, dtype).view(uint)
    floats = lax.sub(
        lax.bitcast_convert_type(lax.bitwise_or(mantissa, one_bits), dtype), np.array(1.0, dtype)
    )
    scaled = lax.add(lax.mul(floats, lax.sub(maxval, minval)), minval)
    return lax.max(minval, _reshape(scaled, shape))


def _reshape(x, shape):
    """``lax.reshape`` as JAX's: a rank-0 operand is reshaped (an equation) even to ()."""
    if core.get_aval(x).shape == ():
        from .lax.structural import reshape_p

        return reshape_p.bind(x, new_sizes=tuple(shape), dimensions=None, sharding=None)
    return lax.reshape(x, shape)


_uniform_body.__name__ = _uniform_body.__qualname__ = "_uniform"
_uniform = jit(_uniform_body, static_argnums=(3, 4))


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval)."""
    typed, _ = _key_data_of("uniform", key)
    dtype = _float_dtype("uniform", dtype)
    return _uniform(typed, minval, maxval, _canonical_shape(shape), dtype)


def _normal_real_body(key, shape, dtype):
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
    u = _uniform(key, lo, np.array(1.0, dtype), shape, dtype)
    return lax.mul(np.array(np.sqrt(2), dtype), lax.erf_inv(u))


_normal_real_body.__name__ = _normal_real_body.__qualname__ = "_normal_real"
_normal_real = jit(_normal_real_body, static_argnums=(1, 2))


def _normal_body(key, shape, dtype):
    if not dtypes.is_complex(dtype):
        return _normal_real(key, shape, dtype)
    real = dtypes.real_dtype(dtype)
    keys = _split(key, (2,))
    k_re, k_im = (lax.index_in_dim(keys, i, keepdims=False) for i in range(2))
    re = lax.convert_element_type(_normal_real(k_re, shape, real), dtype)
    im = lax.convert_element_type(_normal_real(k_im, shape, real), dtype)
    z = lax.add(re, lax.mul(np.array(1j, dtype), im))
    return lax.div(z, np.array(np.sqrt(2), dtype))


_normal_body.__name__ = _normal_body.__qualname__ = "_normal"
_normal = jit(_normal_body, static_argnums=(1, 2))


def normal(key, shape=(), dtype=None, *, out_sharding=None):
    """Standard normal floats: sqrt(2) * erfinv(u) for u uniform in (-1, 1)."""
    from .sharding.constraint import apply_out_sharding

    typed, _ = _key_data_of("normal", key)
    dtype = _float_dtype("normal", dtype, ("float", "complex"))
    return apply_out_sharding(_normal(typed, _canonical_shape(shape), dtype), out_sharding)


def _truncated_normal(data, lower, upper, shape, dtype):
    if shape is None:
        shape = tuple(np.broadcast_shapes(np.shape(lower), np.shape(upper)))
    sqrt2 = np.array(np.sqrt(2), dtype)
    lower = lax.convert_element_type(lower, dtype)
    upper = lax.convert_element_type(upper, dtype)
    a = lax.erf(lax.div(lower, sqrt2))
    b = lax.erf(lax.div(upper, sqrt2))
    u = _uniform(data, a, b, shape, dtype)
    out = lax.mul(sqrt2, lax.erf_inv(u))
    lo = lax.nextafter(lax.stop_gradient(lower), np.array(np.inf, dtype))
    hi = lax.nextafter(lax.stop_gradient(upper), np.array(-np.inf, dtype))
    # clip to the open interval (rounding could reach the bounds)
    out = _bmax(lax.broadcast_to_rank(lo, len(shape)), out)
    return _bmin(lax.broadcast_to_rank(hi, len(shape)), out)


_truncated_normal_jit = jit(_truncated_normal, static_argnums=(3, 4))


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal floats conditioned on lower < x < upper."""
    typed, _ = _key_data_of("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    if shape is not None:
        shape = _canonical_shape(shape)
        _check_shape("truncated_normal", shape, np.shape(lower), np.shape(upper))
    return _truncated_normal_jit(typed, lower, upper, shape, dtype)


def _bmax(x, y):
    return _broadcasting(lax.max, x, y)


def _bmin(x, y):
    return _broadcasting(lax.min, x, y)


def _broadcasting(op, x, y):
    """``op`` with NumPy broadcasting (rank promotion and size-1 axes)."""
    sx, sy = core.get_aval(x).shape, core.get_aval(y).shape
    shape = tuple(np.broadcast_shapes(sx, sy))
    return op(
        lax.broadcast_to_shape(x, shape) if sx != shape else x,
        lax.broadcast_to_shape(y, shape) if sy != shape else y,
    )


def _check_shape(name, shape, *param_shapes):
    if param_shapes:
        try:
            joint = tuple(np.broadcast_shapes(shape, *param_shapes))
        except ValueError:
            shapes = [tuple(shape), *map(tuple, param_shapes)]
            raise ValueError(f"Incompatible shapes for broadcasting: shapes={shapes}") from None
        if joint != tuple(shape):
            raise ValueError(
                f"{name} parameter shapes must be broadcast-compatible with shape "
                "argument, and the result of broadcasting the shapes must equal "
                f"the shape argument, but got result {joint} for shape argument "
                f"{tuple(shape)}."
            )


# ---------------------------------------------------------------------------- integers


def _convert_and_clip_integer(val, dtype):
    """Convert to ``dtype`` saturating at its range instead of wrapping."""
    from . import numpy as jnp

    vdt = core.get_aval(val).dtype
    lo, hi = _clip_bounds(dtype, vdt)
    return jnp.clip(val, np.array(lo, vdt), np.array(hi, vdt)).astype(dtype)


def _clip_bounds(dtype, vdt):
    """The range of ``dtype`` intersected with that of ``vdt``."""
    return (
        max(int(np.iinfo(dtype).min), int(np.iinfo(vdt).min)),
        min(int(np.iinfo(dtype).max), int(np.iinfo(vdt).max)),
    )


def _randint(key, minval, maxval, shape, dtype):
    """Integers in [minval, maxval): two words of random bits per value, reduced modulo
    the span (biased only when the span is not a power of two)."""
    from . import numpy as jnp

    _check_shape("randint", shape, np.shape(minval), np.shape(maxval))
    minval, maxval = jnp.asarray(minval), jnp.asarray(maxval)
    if not dtypes.is_int(minval.dtype):
        minval = minval.astype(int)
    if not dtypes.is_int(maxval.dtype):
        maxval = maxval.astype(int)
    # maxval beyond dtype's range (randint(k, s, 0, 256, uint8)) extends the span by one
    # (the largest value of dtype, clipped to maxval's dtype)
    dmax = _convert_and_clip_integer(jnp.array(np.iinfo(dtype).max, dtype), maxval.dtype)
    max_out_of_range = lax.gt(maxval, dmax)
    minval = _convert_and_clip_integer(minval, dtype)
    maxval = _convert_and_clip_integer(maxval, dtype)
    minval = lax.broadcast_to_rank(minval, len(shape))
    maxval = lax.broadcast_to_rank(maxval, len(shape))
    nbits = np.iinfo(dtype).bits
    if nbits not in (8, 16, 32, 64):
        raise TypeError(f"randint only accepts 8-, 16-, 32-, or 64-bit dtypes, got {dtype}")

    keys = _split(key, (2,))
    k1, k2 = (lax.index_in_dim(keys, i, keepdims=False) for i in range(2))
    higher, lower = _random_bits(k1, nbits, shape), _random_bits(k2, nbits, shape)

    unsigned = _UINT_BY_BITS[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), unsigned)
    empty = lax.le(maxval, minval)  # then minval is always returned
    span = lax.select(empty, lax.full_like(span, 1), span)
    widen = max_out_of_range & (maxval > minval)
    span = lax.select(widen, lax.add(span, np.array(1, unsigned)), span)
    # (higher * 2**nbits + lower) % span without overflow: 2**nbits % span as a square
    multiplier = lax.rem(np.array(2 ** (nbits // 2), unsigned), span)
    multiplier = lax.rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(lax.rem(higher, span), multiplier), lax.rem(lower, span))
    offset = lax.rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


def _broadcast_like(x, like):
    shape = core.get_aval(like).shape
    return x if core.get_aval(x).shape == shape else lax.broadcast_to_shape(x, shape)


_randint_jit = jit(_randint, static_argnums=(3, 4))


def randint(key, shape, minval, maxval, dtype=None):
    """Uniform integers in [minval, maxval)."""
    from . import numpy as jnp

    typed, _ = _key_data_of("randint", key)
    dtype = dtypes.canonicalize_user_dtype(int if dtype is None else dtype, "randint")
    if not dtypes.is_int(dtype):
        raise TypeError(f"randint only accepts integer dtypes, got {dtype}")
    shape = _canonical_shape(shape)
    info = np.iinfo(dtype)
    sampling = dtype
    if info.bits < 32:  # sample 8/16-bit integers in 32 bits (less bias)
        sampling = dtypes.int32

        def clipped(v, hi):
            v = lax.convert_element_type(jnp.asarray(v), dtypes.int32)
            return _bmin(np.array(hi, np.int32), _bmax(np.array(int(info.min), np.int32), v))

        minval = clipped(minval, int(info.max))
        maxval = clipped(maxval, int(info.max) + 1)
    out = _randint_jit(typed, minval, maxval, shape, sampling)
    return out if sampling == dtype else lax.convert_element_type(out, dtype)


def key_dtype(impl_spec=None):
    """The dtype of typed keys (``key<fry>``)."""
    return prng.key_dtype_of(prng.resolve_impl(impl_spec))


# The distributions live in sibling modules (each imports the helpers above).
from .random_choice import *  # noqa: E402,F401,F403
from .random_choice import __all__ as _choice_all  # noqa: E402
from .random_discrete import *  # noqa: E402,F401,F403
from .random_discrete import __all__ as _discrete_all  # noqa: E402
from .random_distributions import *  # noqa: E402,F401,F403
from .random_distributions import __all__ as _dist_all  # noqa: E402
from .random_gamma import *  # noqa: E402,F401,F403
from .random_gamma import __all__ as _gamma_all  # noqa: E402

key_reuse._on_config()  # JAX_DEBUG_KEY_REUSE=1 in the environment

__all__ += ["key_dtype"] + _choice_all + _gamma_all + _dist_all + _discrete_all
