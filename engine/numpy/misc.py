"""Everything else: closeness tests, ``diff``, triangles and diagonals, ``nonzero``,
``select``, ``nan_to_num``, ``isin``, polynomials and small predicates on arrays."""

from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from .. import core, dtypes, lax
from ..array import Array
from ..transfer_guard import jitted_in_jax
from ._jitted import as_jax_jits
from ._util import (
    as_array,
    as_operand,
    asarray,
    canonicalize_axis,
    check_arraylike,
    concrete_value,
    dtype_of,
    ndim_of,
    promote_args,
    promote_dtypes,
    promote_dtypes_inexact,
    shape_of,
    weak_scalar,
)
from .creation import arange, eye, zeros, zeros_like
from .indexing import _getitem
from .reductions import all as all_
from .reductions import any as any_
from .reductions import argmax, cumsum
from .reductions import sum as sum_
from .shape_broadcast import broadcast_arrays
from .shape_ops import (
    atleast_1d,
    broadcast_to,
    concatenate,
    moveaxis,
    ravel,
    reshape,
    stack,
    transpose,
    vstack,
)
from .sorting import searchsorted
from .ufuncs import (
    add,
    clip,
    floor_divide,
    imag,
    isfinite,
    isnan,
    isneginf,
    isposinf,
    multiply,
    remainder,
    subtract,
)
from .ufuncs import where as _where3

__all__ = [
    "where",
    "isclose",
    "allclose",
    "array_equal",
    "array_equiv",
    "diff",
    "ediff1d",
    "tril",
    "triu",
    "trace",
    "diagonal",
    "diag",
    "diagflat",
    "ndim",
    "shape",
    "size",
    "nonzero",
    "flatnonzero",
    "argwhere",
    "count_nonzero_static",
    "select",
    "isscalar",
    "iscomplexobj",
    "isrealobj",
    "iscomplex",
    "isreal",
    "nan_to_num",
    "isin",
    "trapezoid",
    "iterable",
]


# ---------------------------------------------------------------------------- closeness


@as_jax_jits("isclose", ("equal_nan",))
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|a - b| <= atol + rtol * |b|`` (infinities equal only to themselves)."""
    a, b = promote_args("isclose", a, b)
    dt = dtype_of(a)
    if not dtypes.is_inexact(dt):
        return lax.eq(a, b)
    real = dtypes.real_dtype(dt)
    rtol = (
        weak_scalar(rtol, real)
        if dtypes.is_python_scalar(rtol)
        else lax.convert_element_type(rtol, real)
    )
    atol = (
        weak_scalar(atol, real)
        if dtypes.is_python_scalar(atol)
        else lax.convert_element_type(atol, real)
    )
    both_nan = lax.bitwise_and(lax.ne(a, a), lax.ne(b, b))

    finite = isfinite(b)
    close = lax.le(lax.abs(lax.sub(a, b)), lax.add(atol, lax.mul(rtol, lax.abs(b))))
    out = lax.bitwise_or(lax.eq(a, b), lax.bitwise_and(finite, close))
    if equal_nan:
        out = lax.bitwise_or(out, both_nan)
    return out


@jitted_in_jax(4)  # JAX jits it: its constants are no transfers
@as_jax_jits("allclose", ("equal_nan",))
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):

    return all_(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):

    try:
        a1, a2 = as_operand(a1), as_operand(a2)
        s1, s2 = shape_of(a1), shape_of(a2)
    except TypeError:
        return False
    if s1 != s2:
        return as_array(np.bool_(False))
    a1, a2 = promote_dtypes(a1, a2)
    eq = lax.eq(a1, a2)
    if equal_nan and dtypes.is_inexact(dtype_of(a1)):
        eq = lax.bitwise_or(eq, lax.bitwise_and(lax.ne(a1, a1), lax.ne(a2, a2)))
    return all_(eq)


def array_equiv(a1, a2):

    a1, a2 = as_operand(a1), as_operand(a2)
    try:
        np.broadcast_shapes(shape_of(a1), shape_of(a2))
    except ValueError:
        return as_array(np.bool_(False))
    a1, a2 = promote_args("array_equiv", a1, a2)
    return all_(lax.eq(a1, a2))


# ---------------------------------------------------------------------------- differences


@as_jax_jits("diff", ("n", "axis"))
def diff(a, n=1, axis=-1, prepend=None, append=None):
    """``n``-th discrete difference along ``axis`` (``not_equal`` for booleans)."""
    check_arraylike("diff", a)

    a = as_array(as_operand(a))
    nd = ndim_of(a)
    if nd == 0:
        raise ValueError(f"diff requires input that is at least one dimensional; got {a}")
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if n == 0:
        return a
    ax = canonicalize_axis(axis, nd)
    parts = [a]
    if prepend is not None:
        parts.insert(0, _diff_extra(prepend, a, ax))
    if append is not None:
        parts.append(_diff_extra(append, a, ax))
    if len(parts) > 1:
        a = concatenate(parts, ax)
    for _ in range(n):
        shape = list(shape_of(a))
        starts, his, los = [0] * len(shape), list(shape), list(shape)
        starts[ax], los[ax] = 1, shape[ax] - 1
        # basic slices (strides=None), as JAX's a[1:] - a[:-1]
        hi = lax.slice(a, starts, his)
        lo = lax.slice(a, [0] * len(shape), los)
        a = lax.ne(hi, lo) if dtype_of(a) == np.bool_ else lax.sub(hi, lo)
    return a


def _diff_extra(extra, a, ax):
    """A ``prepend``/``append`` value: scalars become a size-1 slab along ``ax``."""

    extra = as_operand(extra)
    if ndim_of(extra) == 0:
        shape = list(shape_of(a))
        shape[ax] = 1
        extra = broadcast_to(extra, tuple(shape))
    return extra


@as_jax_jits("ediff1d")
def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened ``ary``, with ``to_begin``
    and ``to_end`` (cast to its dtype) around them."""
    check_arraylike("ediff1d", ary)
    arr = ravel(ary)
    result = lax.sub(_getitem(arr, slice(1, None)), _getitem(arr, slice(None, -1)))
    if to_begin is not None:
        check_arraylike("ediff1d", to_begin)
        result = concatenate(
            (ravel(lax.convert_element_type(as_operand(to_begin), dtype_of(arr))), result)
        )
    if to_end is not None:
        check_arraylike("ediff1d", to_end)
        result = concatenate(
            (result, ravel(lax.convert_element_type(as_operand(to_end), dtype_of(arr))))
        )
    return result


# ---------------------------------------------------------------------------- triangles, diagonals


def _tri_mask(shape, k, lower):
    idt = dtypes.default_int_dtype()
    rows = lax.add(lax.broadcasted_iota(idt, shape, len(shape) - 2), weak_scalar(k, idt))
    cols = lax.broadcasted_iota(idt, shape, len(shape) - 1)
    return lax.ge(rows, cols) if lower else lax.le(rows, cols)


@jitted_in_jax(1)  # JAX jits it: its constants are no transfers
@as_jax_jits("tril", ("k",))
def tril(m, k=0):
    """Zero the elements above the ``k``-th diagonal (of the last two axes)."""
    return _triangle("tril", m, k, True)


@as_jax_jits("triu", ("k",))
def triu(m, k=0):
    return _triangle("triu", m, k, False)


def _triangle(name, m, k, lower):
    check_arraylike(name, m)
    m = as_array(as_operand(m))
    if ndim_of(m) < 2:
        raise ValueError(f"Argument to jax.numpy.{name} must be at least 2D")
    if not lower:  # the upper triangle is what the lower one of k - 1 leaves out
        mask = lax.broadcast_to_shape(_tri_mask(shape_of(m)[-2:], k - 1, True), shape_of(m))
        return lax.select_n(mask, m, lax.full_like(m, 0))
    mask = lax.broadcast_to_shape(_tri_mask(shape_of(m)[-2:], k, lower), shape_of(m))
    return lax.select_n(mask, lax.full_like(m, 0), m)


@as_jax_jits("diagonal", ("offset", "axis1", "axis2"))
def diagonal(a, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the plane (axis1, axis2), as the last axis: a gather of
    ``a[..., i, i + offset]``, as JAX's body on every platform but Mosaic."""
    check_arraylike("diagonal", a)
    a = as_array(as_operand(a))
    nd = ndim_of(a)
    if nd < 2:
        raise ValueError("diagonal requires an array of at least two dimensions.")
    if canonicalize_axis(axis1, nd) == canonicalize_axis(axis2, nd):
        raise ValueError("axis1 and axis2 must not be equal")
    offset = operator.index(offset)
    a_shape = shape_of(a)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    size = builtins.max(
        0,
        builtins.min(
            a_shape[axis1] + builtins.min(offset, 0), a_shape[axis2] - builtins.max(offset, 0)
        ),
    )
    i = arange(size)
    j = arange(builtins.abs(offset), builtins.abs(offset) + size)
    return _getitem(a, (Ellipsis, i, j) if offset >= 0 else (Ellipsis, j, i))


@as_jax_jits("trace", ("axis1", "axis2", "dtype"))
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum of the ``offset`` diagonal: the plane masked to its diagonal (``offset`` may be
    traced, as in JAX), then summed."""
    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.trace is not supported.")
    check_arraylike("trace", a)
    a = as_array(as_operand(a))
    nd = ndim_of(a)
    if nd < 2:
        raise ValueError("trace requires an array of at least two dimensions.")
    if canonicalize_axis(axis1, nd) == canonicalize_axis(axis2, nd):
        raise ValueError(f"axis1 and axis2 can not be same. axis1={axis1} and axis2={axis2}")
    a_shape = shape_of(a)
    a = moveaxis(a, (axis1, axis2), (-2, -1))
    mask = eye(a_shape[axis1], a_shape[axis2], k=offset, dtype=np.bool_)
    return sum_(_where3(mask, a, zeros_like(a)), axis=(-2, -1), dtype=dtype)


@as_jax_jits("_diag", ("k",))
def diag(v, k=0):
    """A 1-D ``v`` placed on the ``k``-th diagonal of a square matrix, or the ``k``-th
    diagonal of a 2-D ``v``."""
    check_arraylike("diag", v)
    v = as_array(as_operand(v))
    k = operator.index(k)
    if ndim_of(v) == 2:
        return diagonal(v, offset=k)
    if ndim_of(v) != 1:
        raise ValueError("diag input must be 1d or 2d")
    n = shape_of(v)[0] + builtins.abs(k)
    zero = lax.full_like(v, 0, shape=())
    v = lax.pad(v, zero, ((builtins.max(0, -k), builtins.max(0, k), 0),))
    return _where3(eye(n, k=k, dtype=np.bool_), _getitem(v, (slice(None), None)), zero)


def diagflat(v, k=0):
    """A square array with the flattened ``v`` on its ``k``-th diagonal: a scatter into
    the flat zeros (no ``diag`` jit), as JAX's."""
    check_arraylike("diagflat", v)
    flat = ravel(v)
    size = shape_of(flat)[0] + builtins.abs(k)
    out = zeros(size * size, dtype=dtype_of(flat))
    i = arange(0, size - builtins.abs(k))
    flat_index = i + k + i * size if k >= 0 else i + (i - k) * size
    return out.at[flat_index].set(flat).reshape(size, size)


# ---------------------------------------------------------------------------- shape queries


def ndim(a):
    return len(np.shape(a)) if not isinstance(a, (Array, core.Tracer)) else ndim_of(a)


def shape(a):
    return tuple(np.shape(a)) if not isinstance(a, (Array, core.Tracer)) else shape_of(a)


def size(a, axis=None):
    s = shape(a)
    if axis is None:
        return int(np.prod(s, dtype=np.int64))
    return s[axis]


def isscalar(element):
    if hasattr(element, "__jax_array__"):
        element = element.__jax_array__()
    if dtypes.is_python_scalar(element) or isinstance(element, np.generic):
        return True
    if isinstance(element, (Array, core.Tracer)):
        return ndim_of(element) == 0
    return False


def iscomplexobj(x):
    if x is None:
        return False
    try:
        return dtypes.is_complex(dtypes.dtype_of(x))
    except Exception:
        return np.iscomplexobj(x)


def isrealobj(x):
    return not iscomplexobj(x)


@as_jax_jits("iscomplex")
def iscomplex(x):

    x = as_operand(x)
    i = imag(x)
    return lax.ne(i, np.zeros((), i.dtype))


@as_jax_jits("isreal")
def isreal(x):

    x = as_operand(x)
    i = imag(x)
    return lax.eq(i, np.zeros((), i.dtype))


def iterable(y):
    try:
        iter(y)
    except TypeError:
        return False
    return True


# ---------------------------------------------------------------------------- nonzero


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the non-zero elements, one array per axis. The result's size must be
    known: ``a`` concrete, or ``size=`` given (padded with ``fill_value``, default 0)."""
    check_arraylike("nonzero", a)
    a = as_operand(a)
    if ndim_of(a) == 0:
        raise ValueError(
            "Calling nonzero on 0d arrays is not allowed. Use "
            "jnp.atleast_1d(scalar).nonzero() instead."
        )
    idt = dtypes.default_int_dtype()
    if size is None:
        val = concrete_value(a, "The size argument of jnp.nonzero")
        return tuple(as_array(np.asarray(i, idt)) for i in np.nonzero(val))
    return _nonzero_sized(a, int(size), fill_value, idt)


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """``x`` where ``condition`` holds, else ``y``; with one argument, ``nonzero``."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    return _where3(condition, x, y)


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed ``weights``) of each non-negative integer in ``x``. Under a
    transformation the output size must be given as ``length``."""

    check_arraylike("bincount", x)
    x = as_array(as_operand(x))
    if not dtypes.is_int(dtype_of(x)):
        raise TypeError(f"x argument to bincount must have an integer type; got {dtype_of(x)}")
    if ndim_of(x) != 1:
        raise ValueError("only 1-dimensional input supported for bincount.")
    if length is None:
        xv = concrete_value(
            x,
            "The error occurred because of argument 'x' of jnp.bincount. "
            "To avoid this error, pass a static `length` argument.",
        )
        length = max(int(minlength), int(xv.max()) + 1 if xv.size else 0)
    length = int(length)
    if weights is None:  # one scalar weight, broadcast by the scatter (as JAX's)
        w = np.array(1, dtypes.default_int_dtype())
    else:
        w = as_array(as_operand(weights))
    # negative values clipped to 0; those past the end are dropped by the scatter
    return zeros(length, dtype_of(w)).at[clip(x, 0)].add(w, mode="drop")


def _nonzero_sized(a, size, fill_value, idt):
    """JAX's body: the flat indices are the running sum of a bincount of the mask's
    running count, unravelled by floor division and remainder."""
    shape = shape_of(a)
    mask = a if dtype_of(a) == np.bool_ else (as_array(a) != 0)
    if int(np.prod(shape)) == 0 or size == 0:
        return tuple(lax.full((size,), 0, idt) for _ in shape)
    flat = cumsum(bincount(cumsum(mask), length=size))
    strides = (np.cumprod(shape[::-1])[::-1] // shape).astype(dtype_of(flat))
    out = tuple(remainder(floor_divide(flat, st), n) for st, n in zip(strides, shape))
    if fill_value is not None:
        fills = fill_value if isinstance(fill_value, tuple) else len(shape) * (fill_value,)
        if any(np.shape(v) != () for v in fills):
            raise ValueError(
                f"fill_value must be a scalar or a tuple of length {len(shape)}; got {fill_value}"
            )
        fill_mask = lax.ge(arange(size), sum_(mask))
        out = tuple(_where3(fill_mask, fv, e) for fv, e in zip(fills, out))
    return out


def flatnonzero(a, *, size=None, fill_value=None):

    return nonzero(ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):

    nd = np.ndim(a)
    result = transpose(vstack(nonzero(atleast_1d(as_operand(a)), size=size, fill_value=fill_value)))
    if nd == 0:  # JAX's: no index columns
        return result[:0].reshape(result.shape[0], 0)
    return result.reshape(result.shape[0], nd)


def count_nonzero_static(a):
    return int(np.count_nonzero(concrete_value(a, "count_nonzero_static")))


# ---------------------------------------------------------------------------- select etc.


def _host_scalar(x):
    return isinstance(x, (int, float, complex, np.generic))


def select(condlist, choicelist, default=0):
    """The first choice whose condition holds, elementwise (``default`` where none does):
    as JAX's, the index of the first true condition (argmax over the stacked conditions,
    behind a False for the default) picks among the choices with one ``select_n``."""
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"condlist must have length equal to choicelist ({len(condlist)} vs {len(choicelist)})"
        )
    if len(condlist) == 0:
        raise ValueError("condlist must be non-empty")
    check_arraylike("select", *condlist, *choicelist, default)
    condlist = [asarray(c) for c in condlist]
    # Python and NumPy scalars stay on the host, so that their conversions fold into
    # literals as JAX's (whose asarray of a scalar is a known constant)
    choicelist = [c if _host_scalar(c) else asarray(c) for c in choicelist]
    default = default if _host_scalar(default) else asarray(default)
    choicelist = promote_dtypes(default, *choicelist)
    conditions = stack(broadcast_arrays(False, *condlist))
    idx = argmax(lax.convert_element_type(conditions, np.bool_), axis=0)
    return lax.select_n(*broadcast_arrays(idx, *choicelist))


@as_jax_jits("nan_to_num")
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    check_arraylike("nan_to_num", x)

    x = as_operand(x)
    dt = dtype_of(x)
    if not dtypes.is_inexact(dt):
        return as_array(x)
    if dtypes.is_complex(dt):
        re = nan_to_num(lax.real(x), nan=nan, posinf=posinf, neginf=neginf)
        im = nan_to_num(lax.imag(x), nan=nan, posinf=posinf, neginf=neginf)
        return lax.complex(re, im)
    info = dtypes.finfo(dt)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    out = where(isnan(x), asarray(nan, dtype=dt), x)
    out = where(isposinf(out), asarray(posinf, dtype=dt), out)
    return where(isneginf(out), asarray(neginf, dtype=dt), out)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """Whether each element is in ``test_elements``; ``method`` as JAX's: 'compare_all'
    (the default 'auto': every pair compared), 'binary_search' or 'sort'."""
    check_arraylike("isin", element, test_elements)
    result = _in1d(
        element, test_elements, invert=invert, method=method, assume_unique=assume_unique
    )
    return reshape(result, np.shape(element))


@as_jax_jits("_in1d", ("assume_unique", "invert", "method"))
def _in1d(ar1, ar2, invert, method="auto", assume_unique=False):
    check_arraylike("in1d", ar1, ar2)
    arr1, arr2 = promote_dtypes(ar1, ar2)
    arr1, arr2 = ravel(arr1), ravel(arr2)
    if math.prod(shape_of(arr1)) == 0 or math.prod(shape_of(arr2)) == 0:
        return lax.full(shape_of(arr1), invert, np.bool_)
    if method in ("auto", "compare_all"):
        column, row = _getitem(arr1, (slice(None), None)), _getitem(arr2, (None, slice(None)))
        if invert:
            return all_(lax.ne(column, row), axis=-1)
        return any_(lax.eq(column, row), axis=-1)
    if method == "binary_search":
        arr2 = lax.sort(arr2)
        found = _getitem(arr2, searchsorted(arr2, arr1))
        return lax.ne(arr1, found) if invert else lax.eq(arr1, found)
    if method == "sort":
        return _in1d_by_sorting(arr1, arr2, invert, assume_unique)
    raise ValueError(
        f"{method=} is not implemented; options are 'compare_all', 'binary_search', 'sort', "
        "and 'auto'"
    )


def _in1d_by_sorting(arr1, arr2, invert, assume_unique):
    """Sort both together: an element of ``arr1`` is in ``arr2`` where it equals its
    successor (``arr1`` made unique first, unless ``assume_unique``)."""
    from .. import numpy as jnp  # unique lives above this module

    n1 = shape_of(arr1)[0]
    ind_out = slice(None)
    if not assume_unique:
        arr1, ind_out = jnp.unique(arr1, size=n1, return_inverse=True, fill_value=jnp.max(arr2))
    aux, ind = lax.sort_key_val(concatenate([arr1, arr2]), arange(n1 + shape_of(arr2)[0]))
    same = (lax.ne if invert else lax.eq)(
        _getitem(aux, slice(1, None)), _getitem(aux, slice(None, -1))
    )
    start = lax.full(shape_of(arr1), invert, np.bool_)
    marked = as_array(start).at[_getitem(ind, slice(None, -1))].set(same, mode="drop")
    return _getitem(marked, ind_out)


@as_jax_jits("trapezoid", ("axis",))
def trapezoid(y, x=None, dx=1.0, axis=-1):
    """Integral of ``y`` by the trapezoidal rule; a constant spacing takes JAX's fast
    path ``dx * (sum(y) - (y[0] + y[-1]) / 2)``."""
    if x is None:
        check_arraylike("trapezoid", y)
        (y,) = promote_dtypes_inexact(y)
        dx = dx if dtypes.is_python_scalar(dx) else asarray(dx)  # a scalar stays a literal
        if ndim_of(dx) > 0:
            dx = lax.expand_dims(dx, tuple(range(ndim_of(y) - ndim_of(dx))))
            dx = moveaxis(dx, axis, -1)
    else:
        check_arraylike("trapezoid", y, x)
        y, x = promote_dtypes_inexact(y, x)
        dx = diff(x) if ndim_of(x) == 1 else moveaxis(diff(x, axis=axis), axis, -1)
    y = moveaxis(as_array(y), axis, -1)
    if ndim_of(dx) == 0 or shape_of(dx)[-1] == 1:
        dx = dx if ndim_of(dx) == 0 else _getitem(dx, (Ellipsis, 0))
        total = sum_(y, axis=-1)
        ends = add(_getitem(y, (Ellipsis, 0)), _getitem(y, (Ellipsis, -1)))
        return multiply(dx, subtract(total, multiply(0.5, ends)))
    pairs = add(_getitem(y, (Ellipsis, slice(1, None))), _getitem(y, (Ellipsis, slice(None, -1))))
    return multiply(0.5, sum_(multiply(dx, pairs), axis=-1))
