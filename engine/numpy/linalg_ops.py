"""Products: ``matmul`` (``@``), ``dot``, ``vdot``, ``inner``, ``outer``, ``tensordot``,
``einsum``, ``kron``, ``vecdot``/``matvec``/``vecmat``. All of them become
``dot_general`` (plus reshapes/transposes), as in JAX."""

from __future__ import annotations

import functools
import operator

import numpy as np

from .. import core, dtypes, lax
from ._jitted import as_jax_jits
from ._util import (
    array,
    as_array,
    as_operand,
    canonicalize_axis,
    check_arraylike,
    dtype_of,
    ndim_of,
    promote_dtypes,
    shape_of,
)
from .creation import zeros_like
from .indexing import _getitem
from .shape_ops import broadcast_arrays, moveaxis
from .ufuncs import multiply, subtract

__all__ = [
    "matmul",
    "dot",
    "vdot",
    "vecdot",
    "matvec",
    "vecmat",
    "inner",
    "outer",
    "tensordot",
    "einsum",
    "kron",
    "cross",
]


def _result_dtype(*args):
    return dtypes.lattice_result_type(*args)[0]


def _dot_general(a, b, contract, batch=((), ()), precision=None, preferred=None, out_sharding=None):
    from ..sharding.constraint import canonicalize_sharding, check_type_divisible

    out_sharding = canonicalize_sharding(out_sharding, "dot_general")
    out = lax.dot_general(
        as_array(a),
        as_array(b),
        (contract, batch),
        precision=precision,
        preferred_element_type=preferred,
        out_sharding=out_sharding,
    )
    if out_sharding is not None:
        check_type_divisible(out_sharding, shape_of(out))
    return out


def _operands(name, a, b):
    check_arraylike(name, a, b)
    a, b = as_operand(a), as_operand(b)
    return a, b, _result_dtype(a, b)


def _finish(out, dtype, preferred_element_type):
    """Results come out in the promoted dtype unless the caller asked for another."""
    target = (
        dtype
        if preferred_element_type is None
        else dtypes.canonicalize_user_dtype(preferred_element_type, "dot")
    )
    return lax.convert_element_type(out, target) if dtype_of(out) != target else out


def _weak_as_promoted(out, a, b, preferred_element_type):
    """dot_general's result is weak only when both operands are; JAX's matmul/dot/
    tensordot make it weak as their operands' promotion is (weak f32 @ int8 is weak f32)."""
    if preferred_element_type is not None or getattr(core.get_aval(out), "weak_type", True):
        return out
    dtype, weak = dtypes.lattice_result_type(a, b)
    return lax.convert_element_type(out, dtype, True) if weak else out


def _type_str(x):
    return f"{dtype_of(x).name}[{','.join(str(d) for d in shape_of(x))}]"


def _out_sharding(x, out_sharding):
    from ..sharding.constraint import apply_out_sharding

    if getattr(getattr(x, "aval", None), "sharding", None) is not None:
        return x  # dot_general typed its result with out_sharding (Explicit axes)
    return apply_out_sharding(x, out_sharding)


def matmul(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """Matrix product with NumPy's rules: 1-D operands are vectors, leading axes are batch
    axes that broadcast (size-1 batch axes are squeezed, not materialized)."""
    from ..sharding.constraint import canonicalize_sharding

    a, b, dtype = _operands("matmul", a, b)
    out_sharding = canonicalize_sharding(out_sharding, "dot_general")
    pref = (
        dtype
        if preferred_element_type is None
        else dtypes.canonicalize_user_dtype(preferred_element_type, "matmul")
    )
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if a_nd == 0 or b_nd == 0:
        raise ValueError(
            f"matmul input operand {0 if a_nd == 0 else 1} must have ndim at least 1, "
            "but it has ndim 0"
        )
    a_shape, b_shape = shape_of(a), shape_of(b)
    a_batch = a_shape[:-2] if a_nd > 1 else ()
    b_batch = b_shape[:-2] if b_nd > 1 else ()
    a_k = a_nd - 1
    b_k = b_nd - 2 if b_nd > 1 else 0
    if a_shape[a_k] != b_shape[b_k]:
        raise TypeError(  # JAX's class and words (its matmul is a dot_general)
            "dot_general requires contracting dimensions to have the same shape, got "
            f"({a_shape[a_k]},) and ({b_shape[b_k]},)."
        )
    nb = max(len(a_batch), len(b_batch))
    # classify every (right-aligned) output batch axis: shared by both operands, or a free
    # axis of one of them (the other's size-1 axis is squeezed away)
    a_squeeze, b_squeeze = [], []
    a_bdims, b_bdims = [], []
    roles = []  # per output batch axis: ("batch", i) / ("a", axis) / ("b", axis)
    for i in range(nb):
        ai = i - (nb - len(a_batch))
        bi = i - (nb - len(b_batch))
        sa = a_batch[ai] if ai >= 0 else None
        sb = b_batch[bi] if bi >= 0 else None
        if sa is not None and sb is not None and sa == sb:
            roles.append(("batch", len(a_bdims)))
            a_bdims.append(ai)
            b_bdims.append(bi)
        elif sa is not None and sb is not None and sa != 1 and sb != 1:
            raise ValueError(
                f"Incompatible types for matmul arguments: {_type_str(a)} and {_type_str(b)}"
            )
        elif sb is None:
            roles.append(("a", ai))
        elif sa is None:
            roles.append(("b", bi))
        elif sa == 1:
            a_squeeze.append(ai)
            roles.append(("b", bi))
        else:
            b_squeeze.append(bi)
            roles.append(("a", ai))
    a2 = lax.squeeze(as_array(a), a_squeeze) if a_squeeze else a
    b2 = lax.squeeze(as_array(b), b_squeeze) if b_squeeze else b

    def new_index(axis, squeezed):
        return axis - sum(1 for s in squeezed if s < axis)

    a_bd = tuple(new_index(d, a_squeeze) for d in a_bdims)
    b_bd = tuple(new_index(d, b_squeeze) for d in b_bdims)
    a_kd = new_index(a_k, a_squeeze)
    b_kd = new_index(b_k, b_squeeze)
    # as JAX: out_sharding types dot_general's result (batch axes first), then transposed
    out = _dot_general(a2, b2, ((a_kd,), (b_kd,)), (a_bd, b_bd), precision, pref, out_sharding)
    # dot_general's output: batch axes, a's free axes, b's free axes (each in order)
    a_free = [d for d in range(ndim_of(a2)) if d not in a_bd and d != a_kd]
    b_free = [d for d in range(ndim_of(b2)) if d not in b_bd and d != b_kd]
    pos = {("batch", i): i for i in range(len(a_bd))}
    for j, d in enumerate(a_free):
        pos[("a", d)] = len(a_bd) + j
    for j, d in enumerate(b_free):
        pos[("b", d)] = len(a_bd) + len(a_free) + j
    perm = []
    for role in roles:
        if role[0] == "batch":
            perm.append(pos[role])
        else:
            squeezed = a_squeeze if role[0] == "a" else b_squeeze
            perm.append(pos[(role[0], new_index(role[1], squeezed))])
    if a_nd > 1:
        perm.append(pos[("a", new_index(a_nd - 2, a_squeeze))])
    if b_nd > 1:
        perm.append(pos[("b", new_index(b_nd - 1, b_squeeze))])
    if perm != list(range(len(perm))):
        out = lax.transpose(out, tuple(perm))
    out = _weak_as_promoted(out, a, b, preferred_element_type)
    return _out_sharding(out, out_sharding)


def dot(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """NumPy's dot: scalars multiply, otherwise the last axis of ``a`` meets the
    second-to-last of ``b`` (its only axis if 1-D)."""
    a, b, dtype = _operands("dot", a, b)
    pref = (
        dtype
        if preferred_element_type is None
        else dtypes.canonicalize_user_dtype(preferred_element_type, "dot")
    )
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if a_nd == 0 or b_nd == 0:
        contract = ((), ())
    else:
        contract = ((a_nd - 1,), (max(b_nd - 2, 0),))
    out = _dot_general(a, b, contract, ((), ()), precision, pref, out_sharding)
    out = _weak_as_promoted(out, a, b, preferred_element_type)
    return _out_sharding(out, out_sharding)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    """Dot product of the flattened arrays, conjugating ``a``."""
    a, b, dtype = _operands("vdot", a, b)
    if dtypes.is_complex(dtype_of(a)):
        a = lax.conj(a)
    a = _ravel(a)
    b = _ravel(b)
    return dot(a, b, precision=precision, preferred_element_type=preferred_element_type)


def _ravel(x):
    x = as_array(x)
    return x if ndim_of(x) == 1 else lax.reshape(x, (int(np.prod(shape_of(x))),))


def vecdot(x1, x2, /, *, axis=-1, precision=None, preferred_element_type=None):
    """``sum(conj(x1) * x2, axis)`` with broadcasting over the other axes."""
    x1, x2, dtype = _operands("vecdot", x1, x2)
    if dtypes.is_complex(dtype_of(x1)):
        x1 = lax.conj(x1)

    x1, x2 = broadcast_arrays(x1, x2) if shape_of(x1) != shape_of(x2) else (x1, x2)
    nd = ndim_of(x1)
    ax = canonicalize_axis(axis, nd)
    x1, x2 = moveaxis(x1, ax, -1), moveaxis(x2, ax, -1)
    batch = tuple(range(nd - 1))
    pref = dtype if preferred_element_type is None else preferred_element_type
    return _dot_general(x1, x2, ((nd - 1,), (nd - 1,)), (batch, batch), precision, pref)


@as_jax_jits("matvec")
def matvec(x1, x2, /):
    """Matrix-vector products over the broadcast leading dimensions (``vectorize`` of
    ``matmul``, as JAX's)."""
    check_arraylike("matvec", x1, x2)
    return _vectorize(matmul, signature="(n,m),(m)->(n)")(x1, x2)


@as_jax_jits("vecmat")
def vecmat(x1, x2, /):
    """Conjugated vector-matrix products over the broadcast leading dimensions."""
    check_arraylike("matvec", x1, x2)  # JAX's name in its message
    x1 = as_operand(x1)
    if dtypes.is_complex(dtype_of(x1)):
        x1 = lax.conj(x1)
    return _vectorize(matmul, signature="(n),(n,m)->(m)")(x1, x2)


def _vectorize(fn, signature):
    # vectorize lives above this module (it maps with vmap over any engine.numpy function)
    from .. import numpy as jnp

    return jnp.vectorize(fn, signature=signature)


def inner(a, b, *, precision=None, preferred_element_type=None):
    a, b, dtype = _operands("inner", a, b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return _finish(multiply(a, b), dtype, preferred_element_type)
    pref = dtype if preferred_element_type is None else preferred_element_type
    return _dot_general(a, b, ((ndim_of(a) - 1,), (ndim_of(b) - 1,)), ((), ()), precision, pref)


def outer(a, b, out=None):
    check_arraylike("outer", a, b)

    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.outer is not supported.")
    a, b = promote_dtypes(a, b)
    # each operand raveled and expanded in turn (JAX's equation order)
    a = lax.expand_dims(_ravel(as_operand(a)), (1,))
    b = lax.expand_dims(_ravel(as_operand(b)), (0,))
    return multiply(a, b)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    """Contract the last ``axes`` axes of ``a`` with the first of ``b``, or the listed
    pairs ``axes=(a_axes, b_axes)``."""
    a, b, dtype = _operands("tensordot", a, b)
    a_nd, b_nd = ndim_of(a), ndim_of(b)
    if isinstance(axes, (int, np.integer)):
        n = operator.index(axes)
        if n < 0 or n > min(a_nd, b_nd):
            raise TypeError(
                f"Number of tensordot axes (axes {n}) exceeds input ranks ({a_nd} and {b_nd})"
            )
        ca, cb = tuple(range(a_nd - n, a_nd)), tuple(range(n))
    elif isinstance(axes, (list, tuple)) and len(axes) == 2:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise TypeError(
                f"tensordot requires axes lists to have equal length, got {ax_a} and {ax_b}."
            )
        ca = tuple(canonicalize_axis(x, a_nd) for x in ax_a)
        cb = tuple(canonicalize_axis(x, b_nd) for x in ax_b)
    else:
        raise TypeError(
            f"tensordot axes argument must be an int, a pair of ints, or a pair "
            f"of lists/tuples of ints; got {axes}"
        )
    pref = dtype if preferred_element_type is None else preferred_element_type
    out = _dot_general(a, b, (ca, cb), ((), ()), precision, pref)
    return _weak_as_promoted(out, a, b, preferred_element_type)


@as_jax_jits("kron")
def kron(a, b):
    check_arraylike("kron", a, b)

    a, b = promote_dtypes(a, b)
    a, b = as_array(a), as_array(b)
    nd = max(ndim_of(a), ndim_of(b))
    a, b = lax.broadcast_to_rank(a, nd), lax.broadcast_to_rank(b, nd)
    a_e = lax.expand_dims(a, tuple(range(1, 2 * nd, 2)))
    b_e = lax.expand_dims(b, tuple(range(0, 2 * nd, 2)))
    out_shape = tuple(x * y for x, y in zip(shape_of(a), shape_of(b)))
    return lax.reshape(multiply(a_e, b_e), out_shape)


@as_jax_jits("cross", ("axisa", "axisb", "axisc", "axis"))
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (2-vectors are padded with a zero z component)."""
    check_arraylike("cross", a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(as_array(a), axisa, -1), moveaxis(as_array(b), axisb, -1)
    if shape_of(a)[-1] not in (2, 3) or shape_of(b)[-1] not in (2, 3):
        raise ValueError("Dimension must be either 2 or 3 for cross product")
    if shape_of(a)[-1] == 2 and shape_of(b)[-1] == 2:
        first = multiply(_getitem(a, (Ellipsis, 0)), _getitem(b, (Ellipsis, 1)))
        return subtract(first, multiply(_getitem(a, (Ellipsis, 1)), _getitem(b, (Ellipsis, 0))))
    a0, a1 = _getitem(a, (Ellipsis, 0)), _getitem(a, (Ellipsis, 1))
    a2 = _getitem(a, (Ellipsis, 2)) if shape_of(a)[-1] == 3 else zeros_like(a0)
    b0, b1 = _getitem(b, (Ellipsis, 0)), _getitem(b, (Ellipsis, 1))
    b2 = _getitem(b, (Ellipsis, 2)) if shape_of(b)[-1] == 3 else zeros_like(b0)
    c = array(
        [
            subtract(multiply(a1, b2), multiply(a2, b1)),
            subtract(multiply(a2, b0), multiply(a0, b2)),
            subtract(multiply(a0, b1), multiply(a1, b0)),
        ]
    )
    return moveaxis(c, 0, axisc)


# ---------------------------------------------------------------------------- einsum


def einsum(
    subscripts,
    *operands,
    out=None,
    optimize="auto",
    precision=None,
    preferred_element_type=None,
    _dot_general=None,
    out_sharding=None,
):
    """Einstein summation: repeated labels within an operand take diagonals, labels missing
    from the output are summed, and pairs of operands contract (left to right) with
    ``dot_general``, batching over labels they share that are still needed.

    ``out_sharding`` (Explicit mesh axes) types the one contraction's result; with more
    than two operands the contractions run over Auto axes and the result is resharded
    to it, as in JAX."""
    from ..sharding.constraint import canonicalize_sharding

    if out is not None:
        raise NotImplementedError("The 'out' argument to jnp.einsum is not supported.")
    if not isinstance(subscripts, str):
        raise NotImplementedError("jnp.einsum supports only string subscripts")
    check_arraylike("einsum", *operands)
    out_sharding = canonicalize_sharding(out_sharding, "einsum")
    if out_sharding is not None and len(operands) > 2:
        from ..sharding.in_types import auto_axes

        mesh = out_sharding.mesh
        explicit = tuple(
            a for a, t in zip(mesh.axis_names, mesh.axis_types) if t.name == "Explicit"
        )
        contract = functools.partial(
            einsum, subscripts, precision=precision, preferred_element_type=preferred_element_type
        )
        return auto_axes(contract, axes=explicit, out_sharding=out_sharding)(*operands)
    # each operand keeps its dtype (dot_general takes mixed inputs; sums convert first),
    # as JAX's einsum
    ops = [as_operand(o) for o in operands]
    dtype = dtypes.canonicalize_dtype(dtypes.result_type(*ops))
    ops = [as_array(o) for o in ops]
    in_labels, out_labels = _parse_subscripts(subscripts, [shape_of(o) for o in ops])
    sizes = {}
    for labels, op in zip(in_labels, ops):
        for lab, n in zip(labels, shape_of(op)):
            if n != 1 and sizes.get(lab, 1) not in (1, n):
                raise ValueError(
                    f"Size of label '{lab}' for operand does not match previous "
                    f"terms ({sizes[lab]} vs {n})."
                )
            sizes[lab] = n if n != 1 else sizes.get(lab, 1)
    pref = (
        dtype
        if preferred_element_type is None
        else dtypes.canonicalize_user_dtype(preferred_element_type, "einsum")
    )
    terms = []
    for i, (labels, op) in enumerate(zip(in_labels, ops)):
        op, labels = _drop_broadcast_ones(op, labels, sizes)
        others = set(out_labels).union(*(set(l) for j, l in enumerate(in_labels) if j != i))
        op, labels = _diagonals_and_sums(op, labels, others, out_sharding, pref)
        terms.append((op, labels))
    while len(terms) > 1:
        (a, la), (b, lb) = terms[0], terms[1]
        rest = terms[2:]
        keep = set(out_labels).union(*(set(l) for _, l in rest))
        a, la = _sum_unique(a, la, keep | set(lb), pref)
        b, lb = _sum_unique(b, lb, keep | set(la), pref)
        final = not rest
        terms = [
            _contract(
                a, la, b, lb, keep, out_labels if final else None, precision, pref, out_sharding
            )
        ] + rest
    op, labels = terms[0]
    op, labels = _sum_unique(op, labels, set(out_labels), pref)
    if labels != list(out_labels):
        op = lax.transpose(op, tuple(labels.index(lab) for lab in out_labels))
    return lax.convert_element_type(op, pref) if dtype_of(op) != pref else op


def _parse_subscripts(subscripts, shapes):
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, rhs = spec.split("->")
    else:
        lhs, rhs = spec, None
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: {len(inputs)} subscript terms for {len(shapes)} operands")
    used = set(spec) - set(".,->")
    fresh = (chr(c) for c in range(0x100, 0x200) if chr(c) not in used)
    ell_labels = []
    nd_ell = 0
    parsed = []
    for term, shape in zip(inputs, shapes):
        if "..." in term:
            pre, post = term.split("...")
            n = len(shape) - len(pre) - len(post)
            if n < 0:
                raise ValueError(f"einsum: operand has too few dimensions for '{term}'")
            nd_ell = max(nd_ell, n)
            parsed.append((list(pre), n, list(post)))
        else:
            if len(term) != len(shape):
                raise ValueError(
                    f"einsum: subscript '{term}' does not match operand of rank {len(shape)}"
                )
            parsed.append((list(term), None, []))
    ell_labels = [next(fresh) for _ in range(nd_ell)]
    in_labels = []
    for pre, n, post in parsed:
        mid = ell_labels[nd_ell - n :] if n is not None else []
        in_labels.append(pre + mid + post)
    if rhs is None:
        counts = {}
        for term in in_labels:
            for lab in term:
                counts[lab] = counts.get(lab, 0) + 1
        named = sorted(lab for lab, c in counts.items() if c == 1 and lab not in ell_labels)
        out = ell_labels + named
    else:
        if "..." in rhs:
            pre, post = rhs.split("...")
            out = list(pre) + ell_labels + list(post)
        else:
            out = list(rhs)
    all_in = set().union(*map(set, in_labels)) if in_labels else set()
    for lab in out:
        if lab not in all_in:
            raise ValueError(f"einsum: output subscript '{lab}' does not appear in the inputs")
    return in_labels, out


def _drop_broadcast_ones(op, labels, sizes):
    """Squeeze size-1 axes whose label has a larger size elsewhere (they broadcast)."""
    drop = [i for i, lab in enumerate(labels) if shape_of(op)[i] == 1 and sizes[lab] != 1]
    if not drop:
        return op, labels
    return lax.squeeze(op, drop), [lab for i, lab in enumerate(labels) if i not in drop]


def _summable(op, pref):
    """An operand about to be summed, in the result type first when that is wider (JAX's
    einsum sums in the preferred element type)."""
    if pref is not None and dtypes.result_type(dtype_of(op), pref) != dtype_of(op):
        return lax.convert_element_type(op, pref)
    return op


def _diagonals_and_sums(op, labels, needed, out_sharding=None, pref=None):
    """Mask a label repeated within one operand to its diagonal, then sum away (in one
    reduction) the repeats and every label no other term needs."""
    shape = shape_of(op)
    mask = None
    drop = set()
    for lab in dict.fromkeys(labels):
        axes = [i for i, x in enumerate(labels) if x == lab]
        if len(axes) > 1:
            first = lax.broadcasted_iota(np.uint32, shape, axes[0])
            for ax in axes[1:]:
                eq = lax.eq(first, lax.broadcasted_iota(np.uint32, shape, ax))
                mask = eq if mask is None else lax.bitwise_and(mask, eq)
            drop.update(axes[1:])
        if lab not in needed:
            drop.add(axes[0])
    if mask is not None:
        op = lax.select_n(mask, lax.full(shape, 0, dtype_of(op)), op)
    if not drop:
        return op, labels
    axes = tuple(sorted(drop))
    op = _summable(op, pref)
    if out_sharding is None:
        return lax.reduce_sum(op, axes), [lab for i, lab in enumerate(labels) if i not in drop]
    # lax.reduce_sum does not take out_sharding yet; the primitive does (JAX's param)
    from ..lax.reductions import reduce_sum_p

    summed = reduce_sum_p.bind(op, axes=axes, out_sharding=out_sharding)
    return summed, [lab for i, lab in enumerate(labels) if i not in drop]


def _sum_unique(op, labels, needed, pref=None):
    axes = tuple(i for i, lab in enumerate(labels) if lab not in needed)
    if not axes:
        return op, labels
    return lax.reduce_sum(_summable(op, pref), axes), [
        lab for i, lab in enumerate(labels) if i not in axes
    ]


def _contract(a, la, b, lb, keep, out_labels, precision, pref, out_sharding=None):
    shared = [lab for lab in la if lab in lb]
    batch = [lab for lab in shared if lab in keep]
    contract = [lab for lab in shared if lab not in keep]

    def result_labels(l1, l2):
        return batch + [x for x in l1 if x not in shared] + [x for x in l2 if x not in shared]

    if out_labels is not None:  # the last contraction: JAX's batch and operand order
        # (opt_einsum hands JAX the pair as (b, a); JAX takes (a, b) where that result
        # needs no transpose, else (b, a) and transposes)
        batch = [lab for lab in out_labels if lab in batch]
        if result_labels(la, lb) != list(out_labels):
            a, la, b, lb = b, lb, a, la
    dims = (
        (tuple(la.index(x) for x in contract), tuple(lb.index(x) for x in contract)),
        (tuple(la.index(x) for x in batch), tuple(lb.index(x) for x in batch)),
    )
    labels = result_labels(la, lb)
    if out_sharding is not None and out_labels is not None and labels != list(out_labels):
        from ..sharding.named import NamedSharding, PartitionSpec

        # the result is transposed to out_labels afterwards: type it in its own order
        spec = out_sharding.spec._normalized(len(out_labels))
        inverse = PartitionSpec(
            *[spec[list(out_labels).index(lab)] for lab in labels],
            unreduced=out_sharding.spec.unreduced,
            reduced=out_sharding.spec.reduced,
        )
        out_sharding = NamedSharding(out_sharding.mesh, inverse)
    out_sharding = out_sharding if out_labels is not None else None
    out = lax.dot_general(
        a, b, dims, precision=precision, preferred_element_type=pref, out_sharding=out_sharding
    )
    if out_sharding is not None:
        from ..sharding.constraint import check_type_divisible

        check_type_divisible(out_sharding, shape_of(out))
    return out, labels
