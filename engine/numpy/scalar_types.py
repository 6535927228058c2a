"""``jnp.float32`` and friends: scalar types that are also callable constructors.

``jnp.float32(x)`` gives an Array of that dtype; the type also works wherever a dtype is
expected (``dtype=jnp.float32``, ``np.dtype(jnp.float32)``, ``jnp.issubdtype``), and
``isinstance(np.float32(1), jnp.float32)`` holds, as in JAX. The abstract NumPy classes
(``jnp.floating`` etc.) are NumPy's own."""

from __future__ import annotations

import numpy as np

from .. import dtypes
from .creation import asarray

__all__ = [
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bfloat16",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "float_",
    "int_",
    "uint",
    "complex_",
    "double",
    "single",
    "half",
    "csingle",
    "cdouble",
    "generic",
    "number",
    "inexact",
    "floating",
    "complexfloating",
    "integer",
    "signedinteger",
    "unsignedinteger",
    "character",
    "flexible",
    "dtype",
    "finfo",
    "iinfo",
    "issubdtype",
    "result_type",
    "promote_types",
    "can_cast",
    "isdtype",
    "float0",
]


class _ScalarType(type):
    """Metaclass of the scalar types: holds ``dtype`` and makes the class callable."""

    @property
    def __numpy_dtype__(cls):  # NumPy >= 2.4 asks for this in np.dtype(...)
        return cls.dtype

    def __call__(cls, x):

        return asarray(x, dtype=cls.dtype)

    def __eq__(cls, other):
        return cls is other or cls.dtype.type == other

    def __ne__(cls, other):
        return not cls == other

    def __hash__(cls):
        return hash(cls.dtype.type)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls.dtype.type)

    def __repr__(cls):
        return f"<class 'engine.numpy.{cls.__name__}'>"


def _scalar_type(name, dtype):
    return _ScalarType(name, (object,), {"dtype": np.dtype(dtype), "__module__": __name__})


bool_ = _scalar_type("bool", dtypes.bool_)
int8 = _scalar_type("int8", dtypes.int8)
int16 = _scalar_type("int16", dtypes.int16)
int32 = _scalar_type("int32", dtypes.int32)
int64 = _scalar_type("int64", dtypes.int64)
uint8 = _scalar_type("uint8", dtypes.uint8)
uint16 = _scalar_type("uint16", dtypes.uint16)
uint32 = _scalar_type("uint32", dtypes.uint32)
uint64 = _scalar_type("uint64", dtypes.uint64)
bfloat16 = _scalar_type("bfloat16", dtypes.bfloat16)
float16 = _scalar_type("float16", dtypes.float16)
float32 = _scalar_type("float32", dtypes.float32)
float64 = _scalar_type("float64", dtypes.float64)
complex64 = _scalar_type("complex64", dtypes.complex64)
complex128 = _scalar_type("complex128", dtypes.complex128)

# NumPy's aliases: the 64-bit types (canonicalized to 32 bits without x64)
float_ = double = float64
single = float32
half = float16
int_ = int64
uint = uint64
complex_ = cdouble = complex128
csingle = complex64

generic = np.generic
number = np.number
inexact = np.inexact
floating = np.floating
complexfloating = np.complexfloating
integer = np.integer
signedinteger = np.signedinteger
unsignedinteger = np.unsignedinteger
character = np.character
flexible = np.flexible

dtype = np.dtype
float0 = dtypes.float0
finfo = dtypes.finfo
iinfo = dtypes.iinfo
issubdtype = dtypes.issubdtype
promote_types = dtypes.promote_types


def result_type(*args, return_weak_type_flag=False):
    return dtypes.result_type(*args, return_weak_type_flag=return_weak_type_flag)


def can_cast(from_, to, casting="safe"):
    """NumPy's casting table on the canonical dtypes (values are not inspected)."""
    return bool(
        np.can_cast(
            dtypes.dtype_of(from_) if not isinstance(from_, np.dtype) else from_,
            np.dtype(to),
            casting=casting,
        )
    )


_KINDS = {
    "bool": lambda d: d == np.bool_,
    "signed integer": lambda d: dtypes.is_int(d) and not dtypes.is_unsigned(d),
    "unsigned integer": dtypes.is_unsigned,
    "integral": dtypes.is_int,
    "real floating": dtypes.is_float,
    "complex floating": dtypes.is_complex,
    "numeric": lambda d: d != np.bool_,
}


def isdtype(dtype, kind):
    """The array API's ``isdtype``: ``kind`` is a dtype, a kind name, or a tuple of them."""
    dt = np.dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if k not in _KINDS:
                raise ValueError(f"Unrecognized {k=!r}")
            if _KINDS[k](dt):
                return True
        elif np.dtype(k) == dt:
            return True
    return False
