"""The rest of ``jnp``'s namespace: the narrow ml_dtypes scalar types (float8/float6/
float4, int4/int2/int1 and unsigned), ``bool``/``object_``, ``ComplexWarning``,
printing (``array_str``, ``array_repr``, NumPy's print options), file I/O (``load``;
``save``/``savez`` are NumPy's, as in JAX), ``fromstring``, the impure ``fromiter``/
``fromfile`` (which raise, as in JAX) and ``einsum_path``."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .scalar_types import _scalar_type

__all__ = [
    "bool",
    "object_",
    "ComplexWarning",
    "float4_e2m1fn",
    "float6_e2m3fn",
    "float6_e3m2fn",
    "float8_e3m4",
    "float8_e4m3",
    "float8_e4m3b11fnuz",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "int1",
    "int2",
    "int4",
    "uint1",
    "uint2",
    "uint4",
    "array_str",
    "array_repr",
    "get_printoptions",
    "set_printoptions",
    "printoptions",
    "load",
    "save",
    "savez",
    "fromstring",
    "fromiter",
    "fromfile",
    "einsum_path",
]

bool = _scalar_type("bool", np.bool_)  # noqa: A001
object_ = np.object_
ComplexWarning = np.exceptions.ComplexWarning

float4_e2m1fn = _scalar_type("float4_e2m1fn", ml_dtypes.float4_e2m1fn)
float6_e2m3fn = _scalar_type("float6_e2m3fn", ml_dtypes.float6_e2m3fn)
float6_e3m2fn = _scalar_type("float6_e3m2fn", ml_dtypes.float6_e3m2fn)
float8_e3m4 = _scalar_type("float8_e3m4", ml_dtypes.float8_e3m4)
float8_e4m3 = _scalar_type("float8_e4m3", ml_dtypes.float8_e4m3)
float8_e4m3b11fnuz = _scalar_type("float8_e4m3b11fnuz", ml_dtypes.float8_e4m3b11fnuz)
float8_e4m3fn = _scalar_type("float8_e4m3fn", ml_dtypes.float8_e4m3fn)
float8_e4m3fnuz = _scalar_type("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz)
float8_e5m2 = _scalar_type("float8_e5m2", ml_dtypes.float8_e5m2)
float8_e5m2fnuz = _scalar_type("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz)
float8_e8m0fnu = _scalar_type("float8_e8m0fnu", ml_dtypes.float8_e8m0fnu)
int1 = _scalar_type("int1", ml_dtypes.int1)
int2 = _scalar_type("int2", ml_dtypes.int2)
int4 = _scalar_type("int4", ml_dtypes.int4)
uint1 = _scalar_type("uint1", ml_dtypes.uint1)
uint2 = _scalar_type("uint2", ml_dtypes.uint2)
uint4 = _scalar_type("uint4", ml_dtypes.uint4)

get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions
printoptions = np.printoptions
save = np.save
savez = np.savez


def array_str(a, max_line_width=None, precision=None, suppress_small=None):
    """NumPy's ``array_str`` of the array's value."""
    return np.array_str(np.asarray(a), max_line_width, precision, suppress_small)


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None):
    """The array's repr, like NumPy's but named ``Array``."""
    return repr(_jnp().asarray(arr))


def _jnp():
    from .. import numpy as jnp

    return jnp


def load(file, *args, **kwargs):
    """``np.load``, with the result placed on the device (NpzFiles are returned as is)."""
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray) and out.dtype != np.object_:
        return _jnp().asarray(out)
    return out


def fromstring(string, dtype=float, count=-1, *, sep):
    """``np.fromstring`` (text mode) placed on the device."""
    return _jnp().asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def _impure(name):
    return NotImplementedError(
        f"jnp.{name}() is not implemented because it may be non-pure and thus unsafe for use "
        f"with JIT and other JAX transformations. Consider using jnp.asarray(np.{name}(...)) "
        "instead."
    )


def fromiter(*args, **kwargs):
    raise _impure("fromiter")


def fromfile(*args, **kwargs):
    raise _impure("fromfile")


def einsum_path(subscripts, /, *operands, optimize="auto"):
    """A contraction order for ``einsum``: (the list of operand pairs, a description).
    Computed by NumPy's path search on the operands' shapes."""
    opt = {"auto": "optimal" if len(operands) <= 4 else "greedy", True: "greedy"}.get(
        optimize, optimize
    )
    if opt is False:
        opt = [(i, i + 1) for i in range(0)]
        path = [tuple(range(len(operands)))]
        return path, ""
    shaped = [np.empty(np.shape(o), dtype=np.float32) for o in operands]
    path, text = np.einsum_path(subscripts, *shaped, optimize=opt)
    return [tuple(p) for p in path[1:]], text
