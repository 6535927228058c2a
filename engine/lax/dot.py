"""dot_general (with precision and preferred element type), and lax.dot on top of it.

The output's dimensions are (batch dims, lhs free dims, rhs free dims), each group in
increasing axis order of its operand, as in XLA's DotGeneral."""

from __future__ import annotations

import enum

import numpy as np
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo as hlo

from .. import core, dtypes
from ..config import config
from ..core import Primitive, ShapedArray
from ..interpreters import lowering
from ..interpreters.jvp import Zero, defjvp
from ..interpreters.transpose import is_undefined_primal
from .convert import convert_element_type
from .structural import transpose

__all__ = ["dot_general", "dot", "Precision", "dot_general_p"]


class Precision(enum.Enum):
    """How much precision an accelerator spends on f32 matmuls (no effect on CPU)."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        return _PRECISION_NAMES.get(value)

    def __repr__(self):
        return f"Precision.{self.name}"

    def __str__(self):
        return self.name


_PRECISION_NAMES = {
    "default": Precision.DEFAULT,
    "fastest": Precision.DEFAULT,
    "bfloat16": Precision.DEFAULT,
    "high": Precision.HIGH,
    "bfloat16_3x": Precision.HIGH,
    "tensorfloat32": Precision.HIGH,
    "highest": Precision.HIGHEST,
    "float32": Precision.HIGHEST,
}


def canonicalize_precision(precision):
    """None, a name, a Precision, or a pair of either -> None or (Precision, Precision)."""
    if precision is None:
        default = config.jax_default_matmul_precision
        return None if default is None else canonicalize_precision(default)
    if isinstance(precision, str) and precision in _PRECISION_NAMES:
        p = _PRECISION_NAMES[precision]
        return (p, p)
    if isinstance(precision, Precision):
        return (precision, precision)
    if isinstance(precision, (list, tuple)) and len(precision) == 2:
        pair = []
        for p in precision:
            if isinstance(p, Precision):
                pair.append(p)
            elif isinstance(p, str) and p in _PRECISION_NAMES:
                pair.append(_PRECISION_NAMES[p])
            else:
                break
        else:
            return tuple(pair)
    raise ValueError(
        "Precision argument must be one of:\n- None,\n"
        f"- a string in {list(_PRECISION_NAMES)},\n- a lax.Precision value,\n"
        f"- a tuple of two lax.Precision values or strings;\nbut got {precision}."
    )


# ---------------------------------------------------------------------------- public functions

dot_general_p = Primitive("dot_general")


def _index_tuple(dims):
    if isinstance(dims, (int, np.integer)):
        return (int(dims),)
    return tuple(int(d) for d in dims)


def dot_general(
    lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, out_sharding=None
):
    """Contract ``lhs`` and ``rhs`` over ``dimension_numbers =
    ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))``."""
    (lc, rc), (lb, rb) = dimension_numbers
    dims = ((_index_tuple(lc), _index_tuple(rc)), (_index_tuple(lb), _index_tuple(rb)))
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize_user_dtype(preferred_element_type, "dot")
    if out_sharding is not None:  # a NamedSharding (its type decides the result's)
        from ..sharding.constraint import _as_sharding

        out_sharding = _as_sharding(out_sharding, "dot_general")
    return dot_general_p.bind(
        lhs,
        rhs,
        dimension_numbers=dims,
        precision=canonicalize_precision(precision),
        preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )


def dot(
    lhs,
    rhs,
    *,
    dimension_numbers=None,
    precision=None,
    preferred_element_type=None,
    out_sharding=None,
):
    """Vector/matrix products: contract the last axis of ``lhs`` with the first of ``rhs``."""
    lshape, rshape = np.shape(lhs), np.shape(rhs)
    if dimension_numbers is None:
        if 1 <= len(lshape) <= 2 and 1 <= len(rshape) <= 2 and lshape[-1] == rshape[0]:
            dimension_numbers = (((len(lshape) - 1,), (0,)), ((), ()))
        else:
            raise ValueError(
                "jax.lax.dot: dimension_numbers must be specified when not "
                "performing simple un-batched matrix-matrix, matrix-vector, or "
                f"vector-vector products; got lhs_shape={lshape} rhs_shape={rshape}"
            )
    return dot_general(lhs, rhs, dimension_numbers, precision, preferred_element_type, out_sharding)


def _dims_text(dims):
    (lc, rc), (lb, rb) = dims
    return f"(({list(lc)}, {list(rc)}), ({list(lb)}, {list(rb)}))"


def _pp_params(params):
    out = {"dimension_numbers": _dims_text(params["dimension_numbers"])}
    for k in ("precision", "preferred_element_type"):  # out_sharding: the result's type
        if params[k] is not None:
            out[k] = params[k]
    return out


dot_general_p.pp_params = _pp_params


# ---------------------------------------------------------------------------- shape and dtype rules


def _free_dims(ndim, contracting, batch):
    return tuple(i for i in range(ndim) if i not in contracting and i not in batch)


def _check_dims(lhs, rhs, dims):
    (lc, rc), (lb, rb) = dims
    for side, aval, c, b in (("lhs", lhs, lc, lb), ("rhs", rhs, rc, rb)):
        if not all(0 <= d < aval.ndim for d in c + b):
            raise TypeError(
                f"dot_general requires {side} dimension numbers to be nonnegative and "
                f"less than the number of axes of the {side} value, got {side}_batch "
                f"of {b} and {side}_contracting of {c} for {side} of rank {aval.ndim}"
            )
    if len(lb) != len(rb):
        raise TypeError(
            f"dot_general requires equal numbers of lhs_batch and rhs_batch "
            f"dimensions, got lhs_batch {lb} and rhs_batch {rb}."
        )
    for side, b in (("lhs", lb), ("rhs", rb)):
        if len(set(b)) != len(b):
            raise TypeError(
                f"dot_general requires {side} batch dimensions to be distinct, got "
                f"{side}_batch {b}."
            )
    for side, c in (("lhs", lc), ("rhs", rc)):
        if len(set(c)) != len(c):
            raise TypeError(
                f"dot_general requires {side} contracting dimensions to be distinct, "
                f"got {side}_contracting {c}."
            )
    for side, c, b in (("lhs", lc, lb), ("rhs", rc, rb)):
        if set(c) & set(b):
            raise TypeError(
                f"dot_general requires {side} batch dimensions to be disjoint from "
                f"contracting dimensions, got {side}_batch {b} and {side}_contracting "
                f"{c}."
            )
    lbs, rbs = tuple(lhs.shape[d] for d in lb), tuple(rhs.shape[d] for d in rb)
    if lbs != rbs:
        raise TypeError(
            f"dot_general requires lhs batch dimensions and rhs batch dimensions to "
            f"have the same shape, got {lbs} and {rbs}."
        )
    lcs, rcs = tuple(lhs.shape[d] for d in lc), tuple(rhs.shape[d] for d in rc)
    if lcs != rcs:
        raise TypeError(
            f"dot_general requires contracting dimensions to have the same shape, "
            f"got {lcs} and {rcs}."
        )


def _type_rank(dtype):
    """XLA's order for picking the wider of two operand types: complex, then float range
    and mantissa, then bit width, signed above unsigned."""
    real = dtypes.real_dtype(dtype) if dtypes.is_complex(dtype) else dtype
    is_fp = dtypes.is_float(real)
    fi = dtypes.finfo(real) if is_fp else None
    if dtype == np.bool_:
        bits = 1
    else:
        bits = fi.bits if is_fp else dtypes.iinfo(real).bits
    return (
        dtypes.is_complex(dtype),
        fi.maxexp if is_fp else -1,
        fi.nmant if is_fp else -1,
        bits,
        not dtypes.is_unsigned(real),
    )


def _bit_width(dtype):
    if dtype == np.bool_:
        return 1
    return dtypes.finfo(dtype).bits if dtypes.is_inexact(dtype) else dtypes.iinfo(dtype).bits


def _operand_dtype(lhs_dtype, rhs_dtype):
    """The dtype the product is computed in, before any preferred_element_type."""
    lr, rr = _type_rank(lhs_dtype), _type_rank(rhs_dtype)
    if lr > rr:
        return lhs_dtype
    if rr > lr:
        return rhs_dtype
    if lhs_dtype != rhs_dtype:
        raise TypeError(f"lax.dot_general argument type error: {lhs_dtype}, {rhs_dtype}")
    return lhs_dtype


def _result_dtype(lhs_dtype, rhs_dtype, preferred):
    dtype = _operand_dtype(lhs_dtype, rhs_dtype)
    if preferred is None or preferred == dtype:
        return dtype
    if not dtypes.is_float(dtype) and _bit_width(preferred) < _bit_width(dtype):
        raise TypeError(
            f"`preferred_element_type` must not be narrower than the original type, "
            f"got preferred_element_type of {preferred} for result type of {dtype}."
        )
    return np.dtype(preferred)


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(
    lhs, rhs, *, dimension_numbers, precision, preferred_element_type, out_sharding
):
    _check_dims(lhs, rhs, dimension_numbers)
    (lc, rc), (lb, rb) = dimension_numbers
    shape = (
        tuple(lhs.shape[d] for d in lb)
        + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
        + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb))
    )
    dtype = _result_dtype(lhs.dtype, rhs.dtype, preferred_element_type)
    return ShapedArray(shape, dtype, lhs.weak_type and rhs.weak_type)


# ---------------------------------------------------------------------------- lowering


@dot_general_p.def_lowering
def _dot_general_lowering(
    ctx, lhs, rhs, *, dimension_numbers, precision, preferred_element_type, out_sharding
):
    (lc, rc), (lb, rb) = dimension_numbers
    la, ra = ctx.avals_in
    # mixed operand types are computed in the wider one (as JAX lowers them)
    common = _operand_dtype(la.dtype, ra.dtype)
    out_dtype = ctx.avals_out[0].dtype
    if la.dtype != ra.dtype and _type_rank(out_dtype) > _type_rank(common):
        # a wider preferred type takes both (f16 x bf16 -> f32 must not round f16 to bf16)
        common = out_dtype
    if la.dtype != ra.dtype:
        lhs = lowering.convert(lhs, la, common)
        rhs = lowering.convert(rhs, ra, common)
    dnums = hlo.DotDimensionNumbers.get(
        lhs_batching_dimensions=list(lb),
        rhs_batching_dimensions=list(rb),
        lhs_contracting_dimensions=list(lc),
        rhs_contracting_dimensions=list(rc),
    )
    prec = precision or (Precision.DEFAULT, Precision.DEFAULT)
    config_attr = ir.ArrayAttr.get([hlo.PrecisionAttr.get(p.name) for p in prec])
    return hlo.dot_general(
        lowering.ir_type(ctx.avals_out[0]), lhs, rhs, dnums, precision_config=config_attr
    )


# ---------------------------------------------------------------------------- JVP and transpose

defjvp(
    dot_general_p,
    lambda g, lhs, rhs, **params: dot_general_p.bind(g, rhs, **params),
    lambda g, lhs, rhs, **params: dot_general_p.bind(lhs, g, **params),
)


def _transpose_one(ct, other, self_aval, dims, self_is_lhs, params):
    """Cotangent of one operand: contract ``ct`` with the other operand over the other's
    free dims and the batch dims, then put the axes back in this operand's order."""
    (lc, rc), (lb, rb) = dims
    other_aval = core.get_aval(other)
    if self_is_lhs:
        s_contract, o_contract, s_batch, o_batch = lc, rc, lb, rb
    else:
        s_contract, o_contract, s_batch, o_batch = rc, lc, rb, lb
    nb = len(s_batch)
    s_free = _free_dims(self_aval.ndim, s_contract, s_batch)
    o_free = _free_dims(other_aval.ndim, o_contract, o_batch)
    # ct's axes: batch, lhs free, rhs free
    if self_is_lhs:
        ct_o_free = tuple(range(nb + len(s_free), nb + len(s_free) + len(o_free)))
    else:
        ct_o_free = tuple(range(nb, nb + len(o_free)))
    ct_dims = ((ct_o_free, o_free), (tuple(range(nb)), o_batch))
    # out's axes: batch (in s_batch order), self free, then other's contracting dims in
    # increasing order; each of those stands for the paired self contracting dim.
    o_rest = sorted(range(len(o_contract)), key=lambda i: o_contract[i])
    where = {}
    for i, d in enumerate(s_batch):
        where[d] = i
    for i, d in enumerate(s_free):
        where[d] = nb + i
    for pos, i in enumerate(o_rest):
        where[s_contract[i]] = nb + len(s_free) + pos
    if self_aval.sharding is not None:  # the cotangent is sharded as its primal (JAX)
        from .sharding_rules import permuted_sharding

        params = {**params, "out_sharding": permuted_sharding(self_aval.sharding, where)}
    out = dot_general_p.bind(ct, other, dimension_numbers=ct_dims, **params)
    out = transpose(out, tuple(where[d] for d in range(self_aval.ndim)))
    if core.get_aval(out).dtype != self_aval.dtype:
        out = convert_element_type(out, self_aval.dtype)
    return out


def _dot_general_transpose(ct, lhs, rhs, *, dimension_numbers, **params):
    if type(ct) is Zero:
        return [None, None]
    lhs_ct = rhs_ct = None
    if is_undefined_primal(lhs):
        lhs_ct = _transpose_one(ct, rhs, lhs.aval, dimension_numbers, True, params)
    if is_undefined_primal(rhs):
        rhs_ct = _transpose_one(ct, lhs, rhs.aval, dimension_numbers, False, params)
    return [lhs_ct, rhs_ct]


dot_general_p.def_transpose(_dot_general_transpose)


# ---------------------------------------------------------------------------- batching


def _shift(dims, at):
    """Renumber axes after inserting a new axis at ``at``."""
    return tuple(d + 1 if d >= at else d for d in dims)


def _dot_general_batch(size, vals, dims_in, *, dimension_numbers, **params):
    (lhs, rhs), (ld, rd) = vals, dims_in
    (lc, rc), (lb, rb) = dimension_numbers
    if ld is not None and rd is not None:
        # both batched: the vmapped axis becomes a new leading batch dimension
        lc, lb = _shift(lc, ld), (ld,) + _shift(lb, ld)
        rc, rb = _shift(rc, rd), (rd,) + _shift(rb, rd)
        out_dim = 0
    elif ld is not None:
        lc, lb = _shift(lc, ld), _shift(lb, ld)
        lhs_ndim = core.get_aval(lhs).ndim
        free = _free_dims(lhs_ndim, lc, lb)
        out_dim = len(lb) + free.index(ld)
    else:
        rc, rb = _shift(rc, rd), _shift(rb, rd)
        lhs_aval = core.get_aval(lhs)
        n_lhs_free = lhs_aval.ndim - len(lc) - len(lb)
        free = _free_dims(core.get_aval(rhs).ndim, rc, rb)
        out_dim = len(rb) + n_lhs_free + free.index(rd)
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=((lc, rc), (lb, rb)), **params)
    return out, out_dim


dot_general_p.def_batch(_dot_general_batch)
