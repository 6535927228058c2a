"""Dtype conversions: convert_element_type (and bitcast_convert_type)."""
from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core
from .. import dtypes
from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import Zero, tangent_aval

__all__ = ['convert_element_type', 'convert_element_type_p']


convert_element_type_p = Primitive("convert_element_type")


def convert_element_type(x, new_dtype, weak_type=False):
    """Convert to ``new_dtype`` (canonicalized). A no-op when nothing changes."""
    new_dtype = dtypes.canonicalize_dtype(new_dtype)
    if dtypes.is_python_scalar(x):
        x = core.WeakScalar(x, dtypes.python_scalar_dtype(x))
    aval = core.get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type),
                                       sharding=None)


convert_element_type_p.pp_params = lambda p: {"new_dtype": p["new_dtype"],
                                              "weak_type": p["weak_type"]}


@convert_element_type_p.def_abstract_eval
def _convert_abstract_eval(x, *, new_dtype, weak_type, sharding):
    return ShapedArray(x.shape, new_dtype, weak_type)


@convert_element_type_p.def_lowering
def _convert_lowering(ctx, x, *, new_dtype, weak_type, sharding):
    a_in, a_out = ctx.avals_in[0], ctx.avals_out[0]
    if a_in.dtype == a_out.dtype:
        return x
    if dtypes.is_complex(a_in.dtype) and not dtypes.is_complex(a_out.dtype):
        x = hlo.real(x)  # JAX drops the imaginary part
        a_in = a_in.update(dtype=dtypes.real_dtype(a_in.dtype))
    if a_out.dtype == np.bool_ and a_in.dtype != np.bool_:
        zero = lowering.full_like_aval(0, a_in)
        return lowering.compare(x, zero, "NE", a_in)
    return hlo.convert(lowering.ir_type(a_out), x)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type, sharding):
    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type, sharding=sharding)
    in_inexact = dtypes.is_inexact(core.get_aval(x).dtype)
    if type(t) is Zero or not in_inexact or not dtypes.is_inexact(new_dtype):
        return out, Zero(tangent_aval(core.get_aval(out)))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type,
                                            sharding=sharding)


convert_element_type_p.def_jvp(_convert_jvp)


def _convert_transpose(ct, x, *, new_dtype, weak_type, sharding):
    old = x.aval
    if type(ct) is Zero:
        return [Zero(old)]
    return [convert_element_type_p.bind(ct, new_dtype=old.dtype, weak_type=old.weak_type,
                                        sharding=None)]


convert_element_type_p.def_transpose(_convert_transpose)
batching.broadcast_batcher(convert_element_type_p)
