"""Making arrays: ``array``/``asarray``, filled arrays, ranges, ``eye``, ``meshgrid``."""

from __future__ import annotations

import builtins
import operator
import warnings

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ._jitted import as_jax_jits
from ._util import (
    _user_dtype,
    array,
    as_array,
    asarray,
    check_arraylike,
    concrete_value,
    dtype_of,
    ndim_of,
    shape_of,
    to_inexact_dtype,
)
from .shape_ops import broadcast_to
from .ufuncs import add, power

__all__ = [
    "array",
    "asarray",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "identity",
    "meshgrid",
    "tri",
    "copy",
    "astype",
    "from_dlpack",
    "frombuffer",
]


def copy(a, order=None):
    return array(a, copy=True)


def astype(x, dtype, /, *, copy=False, device=None):
    """As JAX's: complex to bool is ``x != 0`` (a convert would keep the real part only)
    and complex to a real type warns that it will become an error."""
    check_arraylike("astype", x)
    if dtype is None:
        dtype = dtypes.default_float_dtype()
    else:
        dtype = dtypes.canonicalize_user_dtype(dtype, "astype")
    old = np.result_type(x) if dtypes.is_python_scalar(x) else core.get_aval(x).dtype
    if dtypes.is_complex(old):
        if dtypes.is_int(dtype) or dtypes.is_float(dtype):
            warnings.warn(
                "Casting from complex to real dtypes will soon raise a ValueError. Please "
                "first use jnp.real or jnp.imag to take the real/imaginary component of "
                "your input.",
                DeprecationWarning,
                stacklevel=2,
            )
        elif dtype == np.bool_:
            x = lax.ne(x, lax.convert_element_type(0, old))
    with warnings.catch_warnings():  # the warning above is the one JAX gives
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        result = lax.convert_element_type(x, dtype)
    if device is not None:
        from ..api import device_put

        result = device_put(result, device)
    return lax.copy_p.bind(result) if copy else result


def from_dlpack(x, *, device=None, copy=None):
    return array(np.from_dlpack(x))


def frombuffer(buffer, dtype=float, count=-1, offset=0):
    return array(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset))


# ---------------------------------------------------------------------------- filled arrays


def _has_tracer(shape):
    return isinstance(shape, (tuple, list)) and any(isinstance(s, core.Tracer) for s in shape)


def _shape(shape, fun_name):
    if (
        isinstance(shape, (Array, core.Tracer))
        and ndim_of(shape) == 0
        or isinstance(shape, (int, np.integer))
    ):
        shape = (shape,)
    try:
        out = tuple(
            (s if hasattr(s, "_is_symbolic_dim") else operator.index(s))
            if not isinstance(s, core.Tracer)
            else int(concrete_value(s, f"{fun_name}'s shape"))
            for s in shape
        )
    except TypeError:
        raise TypeError(
            f"Shapes must be 1D sequences of concrete values of integer type, got {shape}."
            + (core.user_line_note() if _has_tracer(shape) else "")
        ) from None
    if not all(d >= 0 for d in out):  # JAX's comparison when a dimension is symbolic
        raise TypeError(  # JAX's class and words (its zeros/ones/full broadcast a scalar)
            f"broadcast_in_dim shape must have every element be nonnegative, got {out}. "
            f"{fun_name}: negative dimensions are not allowed."
        )
    return out


def _out_sharding(device, out_sharding, name):
    """JAX's ``choose_device_or_out_sharding``: one of ``device`` (a Sharding; a Device is
    left to the caller, as before) or ``out_sharding``, the latter as a type sharding over
    the abstract mesh (so a traced result carries it)."""
    if device is not None and out_sharding is not None:
        raise ValueError(
            f"Only one of `device` or `out_sharding` can be set. Got {device=} and {out_sharding=}"
        )
    if out_sharding is not None:
        from ..sharding.constraint import canonicalize_sharding
        from ..sharding.named import NamedSharding

        s = canonicalize_sharding(out_sharding, name)
        return None if s is None else NamedSharding(s.mesh.abstract_mesh, s.spec)
    from ..sharding.named import NamedSharding

    return device if isinstance(device, NamedSharding) else None


def zeros(shape, dtype=None, *, device=None, out_sharding=None):
    dtype = _user_dtype(dtype, "zeros") or dtypes.default_float_dtype()
    sharding = _out_sharding(device, out_sharding, "jnp.zeros")
    return lax.full(_shape(shape, "zeros"), 0, dtype, sharding=sharding)


def ones(shape, dtype=None, *, device=None, out_sharding=None):
    dtype = _user_dtype(dtype, "ones") or dtypes.default_float_dtype()
    sharding = _out_sharding(device, out_sharding, "jnp.ones")
    return lax.full(_shape(shape, "ones"), 1, dtype, sharding=sharding)


def empty(shape, dtype=None, *, device=None, out_sharding=None):
    return zeros(shape, dtype, device=device, out_sharding=out_sharding)


def full(shape, fill_value, dtype=None, *, device=None, out_sharding=None):
    check_arraylike("full", fill_value)
    dtype = _user_dtype(dtype, "full")
    sharding = _out_sharding(device, out_sharding, "full")
    shape = _shape(shape, "full")
    if ndim_of(fill_value) == 0:
        return lax.full(shape, fill_value, dtype, sharding=sharding)
    return broadcast_array(asarray(fill_value, dtype=dtype), shape, sharding)


def broadcast_array(x, shape, sharding=None):
    if sharding is not None and not _is_abstract(sharding):
        from ..sharding.arrays import put

        out = broadcast_to(x, shape)
        return put(out, sharding) if core.current_trace() is core.eval_trace else out
    return broadcast_to(x, shape, out_sharding=sharding)


def _is_abstract(sharding):
    from ..sharding.mesh import AbstractMesh

    return isinstance(sharding.mesh, AbstractMesh)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None, out_sharding=None):
    check_arraylike("full_like", a, fill_value)
    dtype = _user_dtype(dtype, "full_like")
    if shape is not None:
        shape = _shape(shape, "full_like")
    sharding = _out_sharding(device, out_sharding, "full_like")
    if ndim_of(fill_value) == 0:
        return as_array(lax.full_like(a, fill_value, dtype, shape, sharding=sharding))
    out_shape = shape_of(a) if shape is None else shape
    fill = asarray(fill_value, dtype=dtype or core.get_aval(a).dtype)
    return broadcast_array(fill, out_shape, sharding)


def _filled_like(name, value, a, dtype, shape, sharding):
    check_arraylike(name, a)
    dtype = _user_dtype(dtype, name)
    shape = None if shape is None else _shape(shape, name)
    return as_array(lax.full_like(a, value, dtype, shape, sharding=sharding))


def zeros_like(a, dtype=None, shape=None, *, device=None, out_sharding=None):
    sharding = _out_sharding(device, out_sharding, "jnp.zeros_like")
    return _filled_like("zeros_like", 0, a, dtype, shape, sharding)


def ones_like(a, dtype=None, shape=None, *, device=None, out_sharding=None):
    sharding = _out_sharding(device, out_sharding, "jnp.ones_like")
    return _filled_like("ones_like", 1, a, dtype, shape, sharding)


def empty_like(prototype, dtype=None, shape=None, *, device=None):
    return _filled_like("empty_like", 0, prototype, dtype, shape, _out_sharding(device, None, ""))


# ---------------------------------------------------------------------------- ranges


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values: an ``iota``, scaled by ``step`` and shifted by ``start``."""
    dtype = _user_dtype(dtype, "arange")
    if hasattr(start, "_is_symbolic_dim") and stop is None and step is None:
        return lax.iota(dtype or dtypes.default_int_dtype(), start)  # arange(batch size)
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None:
            concrete_value(v, f"arange's {name} argument")
    args = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        dtype = dtypes.result_type(*args)
    if stop is None and step is None:
        size = int(np.ceil(np.asarray(concrete_value(start, "arange"))))
        return lax.iota(dtype, builtins.max(size, 0))
    vals = [
        np.asarray(concrete_value(v, "arange")).item() if v is not None else None
        for v in (start, stop, step)
    ]
    start_v, stop_v, step_v = vals
    if stop_v is None:
        start_v, stop_v = 0, start_v
    if step_v is not None:
        # as JAX: start + step * iota, computed in float32 for narrower floats
        work = dtype
        if dtypes.is_inexact(dtype) and not dtypes.is_complex(dtype) and dtype.itemsize < 4:
            work = np.dtype(np.float32)
        size = builtins.max(0, int(np.ceil((stop_v - start_v) / step_v)))
        out = lax.add(
            np.asarray(start_v).astype(work),
            lax.mul(np.asarray(step_v).astype(work), lax.iota(work, size)),
        )
        return out if work == dtype else lax.convert_element_type(out, dtype)
    if start_v == 0:
        return lax.iota(dtype, builtins.max(0, int(np.ceil(stop_v))))
    size = builtins.max(0, int(np.ceil(stop_v - start_v)))
    return lax.add(np.asarray(start_v).astype(dtype), lax.iota(dtype, size))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` as ``start*(1-t) + stop*t``."""
    num = (
        operator.index(concrete_value(num, "linspace's num argument").item())
        if isinstance(num, (Array, core.Tracer))
        else operator.index(num)
    )
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    check_arraylike("linspace", start, stop)
    dtype = _user_dtype(dtype, "linspace")
    return _linspace(start, stop, num, endpoint, retstep, dtype, axis)


# JAX compiles linspace's body: XLA then computes its values as JAX's (op by op they can
# differ in the last bit)
@as_jax_jits("_linspace", ("num", "endpoint", "retstep", "dtype", "axis"))
def _linspace(start, stop, num, endpoint, retstep, dtype, axis):
    start, stop = asarray(start), asarray(stop)
    if dtype is None:
        dtype = to_inexact_dtype(dtypes.result_type(start, stop))
    comp = to_inexact_dtype(dtype)
    start = lax.convert_element_type(start, comp)
    stop = lax.convert_element_type(stop, comp)
    bounds_shape = list(np.broadcast_shapes(shape_of(start), shape_of(stop)))
    start_b = lax.broadcast_to_shape(start, tuple(bounds_shape))
    stop_b = lax.broadcast_to_shape(stop, tuple(bounds_shape))
    axis = len(bounds_shape) + axis + 1 if axis < 0 else axis
    bounds_shape.insert(axis, 1)
    expand = tuple(bounds_shape)
    div = num - 1 if endpoint else num
    if num > 1:
        step = lax.div(lax.sub(stop, start), np.asarray(div, comp))
        real_dtype = dtypes.finfo(comp).dtype
        iota_shape = [1] * len(expand)
        iota_shape[axis] = div
        t = _reshaped(lax.iota(real_dtype, div), tuple(iota_shape))
        t = lax.convert_element_type(lax.div(t, np.asarray(div, real_dtype)), comp)
        out = lax.add(
            lax.mul(_reshaped(start_b, expand), lax.sub(core.WeakScalar(1.0, comp), t)),
            lax.mul(_reshaped(stop_b, expand), t),
        )
        if endpoint:
            out = lax.concatenate(
                [out, lax.broadcast_in_dim(stop_b, expand, _skip(len(expand), axis))], axis
            )
    elif num == 1:
        step = lax.full((), np.nan, comp) if endpoint else lax.sub(stop, start)
        out = _reshaped(start_b, expand)
    else:
        step = lax.full((), np.nan, comp)
        empty_shape = list(np.broadcast_shapes(shape_of(start), shape_of(stop)))
        empty_shape.insert(axis, 0)
        out = lax.full(tuple(empty_shape), 0, dtype)
    if dtypes.is_int(dtype) and not dtypes.is_int(out.dtype):
        out = lax.floor(out)
    out = lax.convert_element_type(out, dtype)
    return (out, step) if retstep else out


def _reshaped(x, shape):
    return x if shape_of(x) == shape else lax.reshape(x, shape)


def _skip(ndim, axis):
    return tuple(i for i in range(ndim) if i != axis)


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """Numbers spaced evenly on a log scale: ``base ** linspace(start, stop)``."""
    num, axis = operator.index(num), operator.index(axis)
    return _logspace(start, stop, num, endpoint, base, dtype, axis)


@as_jax_jits("_logspace", ("num", "endpoint", "dtype", "axis"))
def _logspace(start, stop, num, endpoint, base, dtype, axis):
    dtype = _user_dtype(dtype, "logspace")
    if dtype is None:
        dtype = to_inexact_dtype(dtypes.result_type(start, stop))
    comp = to_inexact_dtype(dtype)
    check_arraylike("logspace", start, stop)
    start = lax.convert_element_type(asarray(start), comp)
    stop = lax.convert_element_type(asarray(stop), comp)
    lin = linspace(start, stop, num, endpoint=endpoint, retstep=False, dtype=None, axis=axis)
    return lax.convert_element_type(power(base, lin), dtype)


def eye(N, M=None, k=0, dtype=None, *, device=None):
    """Ones on the ``k``-th diagonal: ``iota_row + k == iota_col``."""
    dtype = _user_dtype(dtype, "eye") or dtypes.default_float_dtype()
    N = N if hasattr(N, "_is_symbolic_dim") else operator.index(N)  # symbolic: engine.export
    M = N if M is None else (M if hasattr(M, "_is_symbolic_dim") else operator.index(M))
    if N < 0 or M < 0:
        raise ValueError(f"negative dimensions are not allowed, got {N} and {M}")
    if isinstance(k, (Array, core.Tracer, np.ndarray)):  # a traced offset too (jnp.trace's)
        offset = k
        idt = dtype_of(k)
        if np.shape(k) != () or not dtypes.is_int(idt):
            raise ValueError(f"k must be a scalar integer; got {k}")
    else:
        idt = dtypes.default_int_dtype()
        offset = core.WeakScalar(operator.index(k), idt)
    rows = lax.broadcasted_iota(idt, (N, M), 0)
    cols = lax.broadcasted_iota(idt, (N, M), 1)
    return lax.convert_element_type(lax.eq(add(rows, offset), cols), dtype)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the ``k``-th diagonal."""
    dtype = _user_dtype(dtype, "tri") or dtypes.default_float_dtype()
    M = N if M is None else M
    idt = dtypes.default_int_dtype()
    rows = lax.broadcasted_iota(idt, (N, M), 0)
    cols = lax.broadcasted_iota(idt, (N, M), 1)
    return lax.convert_element_type(lax.ge(lax.add(rows, core.WeakScalar(k, idt)), cols), dtype)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    check_arraylike("meshgrid", *xi)
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for indexing are 'xy' and 'ij', got {indexing}")
    args = [asarray(x) for x in xi]
    if any(ndim_of(a) != 1 for a in args):
        raise ValueError(
            f"Arguments to jax.numpy.meshgrid must be 1D, got shapes {[shape_of(a) for a in args]}"
        )
    sizes = [shape_of(a)[0] for a in args]
    if indexing == "xy" and len(args) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    n = len(args)
    out = []
    for i, a in enumerate(args):
        dim = i
        if indexing == "xy" and n >= 2 and i < 2:
            dim = 1 - i
        if sparse:
            shape = [1] * n
            shape[dim] = shape_of(a)[0]
            out.append(lax.reshape(a, tuple(shape)))
        else:
            out.append(lax.broadcast_in_dim(a, tuple(sizes), (dim,)))
    return out
