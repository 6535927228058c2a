"""More elementwise and numerical functions, as JAX computes them: ``gcd``/``lcm``
(Euclid's algorithm in a ``while_loop``), ``frexp``/``ldexp``/``modf``/``spacing``
(bit manipulation and ``nextafter``), ``bitwise_count``, ``gradient``, ``unwrap``,
``geomspace``, ``packbits``/``unpackbits``."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from .. import dtypes
from ._jitted import as_jax_jits

__all__ = [
    "gcd",
    "lcm",
    "frexp",
    "ldexp",
    "modf",
    "spacing",
    "bitwise_count",
    "gradient",
    "unwrap",
    "geomspace",
    "packbits",
    "unpackbits",
]


def _jnp():
    from .. import numpy as jnp

    return jnp


def _int_args(name, x1, x2):
    from ._util import promote_args

    x1, x2 = promote_args(name, x1, x2)
    if not dtypes.is_int(_jnp().asarray(x1).dtype) and _jnp().asarray(x1).dtype != np.bool_:
        raise ValueError(f"Arguments to jax.numpy.{name} must be integers.")
    return x1, x2


def _gcd_cond(xs):
    return _jnp().any(xs[1] != 0)


def _gcd_body(xs):
    jnp = _jnp()
    x1, x2 = xs
    x1, x2 = jnp.where(x2 != 0, x2, x1), jnp.where(x2 != 0, _lax().rem(x1, x2), _lax_zero(x2))
    return jnp.where(x1 < x2, x2, x1), jnp.where(x1 < x2, x1, x2)


def _lax():
    from .. import lax

    return lax


def _lax_zero(x):
    from .ufuncs_logic import _lax_const

    return _lax_const(x, 0)


def _int_operands(name, x1, x2):
    from ._util import check_arraylike, promote_dtypes

    check_arraylike(name, x1, x2)
    x1, x2 = promote_dtypes(x1, x2)
    if not dtypes.is_int(x1.dtype):
        raise ValueError(f"Arguments to jax.numpy.{name} must be integers.")
    return x1, x2


@as_jax_jits("gcd")
def gcd(x1, x2, /):
    """The greatest common divisor of ``|x1|`` and ``|x2|``: Euclid's algorithm in a
    ``while_loop``, as JAX's."""
    jnp = _jnp()
    x1, x2 = jnp.broadcast_arrays(*_int_operands("gcd", x1, x2))
    return _lax().while_loop(_gcd_cond, _gcd_body, (jnp.abs(x1), jnp.abs(x2)))[0]


@as_jax_jits("lcm")
def lcm(x1, x2, /):
    """The least common multiple of ``|x1|`` and ``|x2|``."""
    jnp = _jnp()
    x1, x2 = _int_operands("lcm", x1, x2)
    x1, x2 = jnp.abs(x1), jnp.abs(x2)
    d = gcd(x1, x2)
    return jnp.where(d == 0, _lax_zero(d), jnp.multiply(x1, jnp.floor_divide(x2, d)))


# frexp and ldexp run as one XLA computation eagerly, as JAX's: op by op, XLA's denormal
# flushing between ops would change the values for subnormals
@as_jax_jits("frexp")
def frexp(x, /):
    """Mantissa in ``[0.5, 1)`` and integer exponent with ``x == m * 2**e``."""
    from ._util import check_arraylike, promote_args_inexact

    check_arraylike("frexp", x)
    (x,) = promote_args_inexact("frexp", x)
    if dtypes.is_complex(_jnp().asarray(x).dtype):
        raise TypeError("frexp does not support complex-valued inputs")
    return _frexp(x)


def _frexp_impl(x):
    from .. import lax

    jnp = _jnp()
    x = jnp.asarray(x)
    info = dtypes.finfo(x.dtype)
    itype = {16: np.int16, 32: np.int32, 64: np.int64}[int(info.bits)]
    nmant, mask, bias = int(info.nmant), (1 << int(info.nexp)) - 1, 1 - int(info.minexp)
    # scale subnormals into the normal range first
    tiny = lax.abs(x) < float(info.tiny)
    scaled = jnp.where(tiny, x * np.asarray(1 << nmant, x.dtype), x)
    e = jnp.where(tiny, itype(-nmant), itype(0))
    bits = lax.bitcast_convert_type(scaled, itype)
    e = e + (((bits >> nmant) & mask) - bias + 1)
    m = lax.bitcast_convert_type((bits & ~(mask << nmant)) | ((bias - 1) << nmant), x.dtype)
    special = jnp.isinf(x) | jnp.isnan(x) | (x == 0)
    e = jnp.where(special, lax.full_like(e, 0), e)
    return jnp.where(special, x, m), lax.convert_element_type(e, np.int32)


def _frexp_jvp(primals, tangents):
    ((x,), (t,)) = primals, tangents
    m, e = _frexp(x)
    m_dot = t * _jnp().exp2(-e.astype(t.dtype))
    return (m, e), (m_dot, np.zeros(np.shape(e), dtypes.float0))


def _custom_frexp():
    from ..custom_derivatives import custom_jvp

    _frexp_impl.__name__ = "_frexp"
    f = custom_jvp(_frexp_impl)
    f.defjvp(_frexp_jvp)
    return f


def _frexp(x):
    global _frexp_fn
    if _frexp_fn is None:  # custom_derivatives imports engine.numpy: build it on first use
        _frexp_fn = _custom_frexp()
    return _frexp_fn(x)


_frexp_fn = None


@as_jax_jits("ldexp")
def ldexp(x1, x2, /):
    """``x1 * 2**x2`` (``x2`` integer), split through frexp so that ``x1 * 2**x2`` may be
    finite where ``2**x2`` is not; zeros and infinities pass through (derivative 1)."""
    from .. import lax
    from ._util import check_arraylike, promote_args_inexact

    jnp = _jnp()
    check_arraylike("ldexp", x1, x2)
    x1_dtype, x2_dtype = jnp.asarray(x1).dtype, jnp.asarray(x2).dtype
    # as JAX: bool exponents are fine; complex mantissas and inexact exponents are not
    if dtypes.is_complex(x1_dtype) or dtypes.is_inexact(x2_dtype):
        raise ValueError(f"ldexp not supported for input types {(x1_dtype, x2_dtype)}")
    (x1,) = promote_args_inexact("ldexp", x1)
    x1 = jnp.asarray(x1)
    x2 = lax.convert_element_type(x2, x1.dtype)
    m, e = frexp(x1)
    e = (e.astype(x2.dtype) + x2).astype(x1.dtype)
    # the exponent may overflow by 1 and the result still be finite
    m = jnp.where(e > 0, m * 2, m)
    e = jnp.where(e > 0, e - 1, e)
    x = m * (2 ** e.astype(m.dtype))
    return jnp.where(jnp.isinf(x1) | (x1 == 0), x1, x)


@as_jax_jits("modf")
def modf(x, /, out=None):
    """Fractional and integral parts, both with the sign of ``x``."""
    from ._util import promote_args_inexact

    jnp = _jnp()
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.modf is not supported.")
    (x,) = promote_args_inexact("modf", x)
    whole = jnp.where(jnp.greater_equal(x, 0), jnp.floor(x), jnp.ceil(x))
    return x - whole, whole


@as_jax_jits("spacing", inline=True)
def spacing(x, /):
    """The distance from ``x`` to the next representable value away from zero (the
    smallest subnormal, signed as ``x``, where the difference flushes to zero)."""
    from ..lax import nextafter
    from ._util import promote_args_inexact

    jnp = _jnp()
    (arr,) = promote_args_inexact("spacing", x)
    arr = jnp.asarray(arr)
    if dtypes.is_complex(arr.dtype):
        raise ValueError("jnp.spacing is not defined for complex inputs.")
    inf = np.asarray(np.inf, arr.dtype)
    if arr.dtype == np.float16:
        return nextafter(arr, inf) - arr
    result = nextafter(arr, jnp.copysign(inf, arr)) - arr
    tiny = dtypes.finfo(arr.dtype).smallest_subnormal
    return jnp.where(result == 0, jnp.copysign(tiny, arr), result)


@as_jax_jits("bitwise_count")
def bitwise_count(x, /):
    """The number of 1 bits in ``|x|``, as uint8."""
    from ..lax import population_count

    jnp = _jnp()
    x = jnp.asarray(x)
    if not (dtypes.is_int(x.dtype) or x.dtype == np.bool_):
        raise TypeError(f"bitwise_count requires integer or boolean input, got {x.dtype}")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    return population_count(jnp.abs(x)).astype(np.uint8)


@as_jax_jits("gradient", ("axis", "edge_order"))
def gradient(f, *varargs, axis=None, edge_order=None):
    """Central differences inside, one-sided ones at the edges (``edge_order=1``); a
    spacing is a scalar or the coordinates along the axis."""
    from .. import lax
    from ._util import canonicalize_axis, check_arraylike, promote_dtypes_inexact

    jnp = _jnp()
    if edge_order is not None:
        raise NotImplementedError("The 'edge_order' argument to jnp.gradient is not supported.")
    check_arraylike("gradient", f, *varargs)
    a, *spacing = promote_dtypes_inexact(f, *varargs)
    if axis is None:
        axes = tuple(range(a.ndim))
    else:
        axes = tuple(canonicalize_axis(i, a.ndim) for i in np.atleast_1d(np.asarray(axis, object)))
    if len(axes) == 0:
        return []
    if builtins.min(s for i, s in enumerate(a.shape) if i in axes) < 2:
        raise ValueError(
            "Shape of array too small to calculate a numerical gradient, "
            "at least 2 elements are required."
        )
    if len(spacing) == 0:
        dx = [1.0] * len(axes)
    elif len(spacing) == 1:
        dx = list(spacing) * len(axes)
    elif len(spacing) == len(axes):
        dx = list(spacing)
    else:
        raise TypeError(f"Invalid number of spacing arguments {len(spacing)} for {axis=}")

    def along(a, h, axis):
        def sliced(start, stop):
            return lax.slice_in_dim(a, start, stop, axis=axis)

        upper_edge = sliced(1, 2) - sliced(0, 1)
        lower_edge = sliced(-1, None) - sliced(-2, -1)
        if np.ndim(h) == 0:
            inner = (sliced(2, None) - sliced(None, -2)) * 0.5 / h
            lower_edge = lower_edge / h
            return jnp.concatenate((upper_edge / h, inner, lower_edge), axis=axis)
        if np.ndim(h) != 1:
            raise ValueError("Spacing arrays must be 1D arrays or scalars.")
        if len(h) != a.shape[axis]:
            raise ValueError(
                "Spacing arrays must have the same length as the dimension along which the "
                "gradient is calculated."
            )
        h_shape = [1] * a.ndim
        h_shape[axis] = len(h)
        h = jnp.reshape(h, h_shape)

        def sliced_h(start, stop):
            return lax.slice_in_dim(h, start, stop, axis=axis)

        upper_edge = upper_edge / (sliced_h(1, 2) - sliced_h(0, 1))
        lower_edge = lower_edge / (sliced_h(-1, None) - sliced_h(-2, -1))
        dx1 = sliced_h(1, -1) - sliced_h(0, -2)
        dx2 = sliced_h(2, None) - sliced_h(1, -1)
        wa = -(dx2) / (dx1 * (dx1 + dx2))
        wb = (dx2 - dx1) / (dx1 * dx2)
        wc = dx1 / (dx2 * (dx1 + dx2))
        inner = wa * sliced(0, -2) + wb * sliced(1, -1) + wc * sliced(2, None)
        return jnp.concatenate((upper_edge, inner, lower_edge), axis=axis)

    grads = [along(a, h, ax) for ax, h in zip(axes, dx)]
    return grads[0] if len(axes) == 1 else grads


@as_jax_jits("unwrap", ("axis",))
def unwrap(p, discont=None, axis=-1, period=2 * np.pi):
    """``p`` with jumps larger than ``discont`` replaced by their ``period`` complement."""
    from .. import lax
    from ._util import check_arraylike, promote_dtypes

    jnp = _jnp()
    check_arraylike("unwrap", p)
    p, period = promote_dtypes(p, period)
    if dtypes.is_complex(p.dtype):
        raise ValueError("jnp.unwrap does not support complex inputs.")
    if p.shape[axis] == 0:
        return p
    if discont is None:
        discont = jnp.true_divide(period, 2)
    if dtypes.is_int(p.dtype):
        interval = jnp.floor_divide(period, 2)
    else:
        interval = jnp.true_divide(period, 2)
    dd = jnp.diff(p, axis=axis)
    ddmod = jnp.mod(dd + interval, period) - interval
    ddmod = jnp.where((ddmod == -interval) & (dd > 0), interval, ddmod)
    correct = jnp.where(jnp.abs(dd) < discont, 0, ddmod - dd)
    first = lax.slice_in_dim(p, 0, 1, axis=axis)
    rest = lax.slice_in_dim(p, 1, None, axis=axis) + jnp.cumsum(correct, axis=axis)
    return jnp.concatenate((first, rest), axis=axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """Numbers spaced evenly on a log scale, from ``start`` to ``stop``."""
    num, axis = operator.index(num), operator.index(axis)
    return _geomspace(start, stop, num, endpoint, dtype, axis)


@as_jax_jits("_geomspace", ("num", "endpoint", "dtype", "axis"))
def _geomspace(start, stop, num, endpoint, dtype, axis):
    from .. import lax
    from ._util import _user_dtype, check_arraylike, to_inexact_dtype

    jnp = _jnp()
    dtype = _user_dtype(dtype, "geomspace")
    if dtype is None:
        dtype = to_inexact_dtype(dtypes.result_type(start, stop))
    comp = to_inexact_dtype(dtype)
    check_arraylike("geomspace", start, stop)
    start = lax.convert_element_type(jnp.asarray(start), comp)
    stop = lax.convert_element_type(jnp.asarray(stop), comp)
    sign = jnp.sign(start)
    res = sign * jnp.logspace(
        jnp.log10(start / sign),
        jnp.log10(stop / sign),
        num,
        endpoint=endpoint,
        base=10.0,
        dtype=comp,
        axis=0,
    )
    axis = axis + res.ndim if axis < 0 else axis
    if axis != 0:
        res = lax.transpose(res, (*range(1, axis + 1), 0, *range(axis + 1, res.ndim)))
    return lax.convert_element_type(res, dtype)


def packbits(a, axis=None, bitorder="big"):
    """Booleans (nonzero values) packed eight to a uint8."""
    jnp = _jnp()
    a = jnp.asarray(a)
    if not (dtypes.is_int(a.dtype) or a.dtype == np.bool_):
        raise TypeError("Expected an input array of integer or boolean data type")
    if bitorder not in ("little", "big"):
        raise ValueError("'order' must be either 'little' or 'big'")
    bits = (a > 0).astype(np.uint8)
    if axis is None:
        bits, axis = jnp.ravel(bits), 0
    bits = jnp.moveaxis(bits, axis, -1)
    n = bits.shape[-1]
    pad = (-n) % 8
    if pad:
        bits = jnp.concatenate([bits, jnp.zeros(bits.shape[:-1] + (pad,), np.uint8)], axis=-1)
    bits = jnp.reshape(bits, bits.shape[:-1] + (-1, 8))
    shifts = np.arange(8, dtype=np.uint8)
    if bitorder == "big":
        shifts = shifts[::-1]
    packed = (bits << jnp.asarray(shifts)).sum(axis=-1).astype(np.uint8)
    return jnp.moveaxis(packed, -1, axis)


def unpackbits(a, axis=None, count=None, bitorder="big"):
    """The bits of a uint8 array as 0/1 uint8 values."""
    jnp = _jnp()
    a = jnp.asarray(a)
    if a.dtype != np.uint8:
        raise TypeError("Expected an input array of unsigned byte data type")
    if bitorder not in ("little", "big"):
        raise ValueError("'order' must be either 'little' or 'big'")
    shifts = np.arange(8, dtype=np.uint8)
    if bitorder == "big":
        shifts = shifts[::-1]
    bits = (a[..., None] >> jnp.asarray(shifts)) & np.uint8(1)
    if axis is None:
        bits, axis = jnp.ravel(bits), 0
    else:
        axis = axis % a.ndim
        bits = jnp.moveaxis(bits, -1, axis + 1)
        shape = list(a.shape)
        shape[axis] *= 8
        bits = jnp.reshape(bits, shape)
    if count is not None:
        bits = jnp.take(bits, jnp.arange(min(count, bits.shape[axis])), axis=axis)
    return bits
