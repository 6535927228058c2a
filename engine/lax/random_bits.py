"""The counter-based hash under ``engine.random``: threefry2x32, and the 64-bit counter
iota (as two uint32 halves) that feeds it.

Threefry-2x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
the Random123 library) with 20 rounds: a key (k0, k1) and a counter block (x0, x1) of
uint32 words give two uint32 words, elementwise over broadcast arrays."""

from __future__ import annotations

import numpy as np
from jaxlib.mlir.dialects import stablehlo as hlo

from ..core import Primitive, ShapedArray
from ..interpreters import batching, lowering
from ..interpreters.jvp import zero_jvp
from ._base import broadcast_shapes_lax

__all__ = ["threefry2x32", "iota_2x32_shape", "threefry2x32_p", "iota_2x32_shape_p"]

# Rotation distances of Threefry-2x32, one group of four rounds at a time (alternating).
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# The key-schedule parity constant of Threefish/Threefry for 32-bit words.
_PARITY = 0x1BD11BDA
# Platforms that get the hash as a 5-trip loop: on CPU it compiles far faster than 20
# unrolled rounds (JAX does the same there); the others get the unrolled form.
ROLLED_LOOP_PLATFORMS = ("cpu",)


# ---------------------------------------------------------------------------- threefry2x32

threefry2x32_p = Primitive("threefry2x32", multiple_results=True)


def threefry2x32(k1, k2, x1, x2):
    """Hash the counter words (x1, x2) under the key (k1, k2); all uint32, broadcast
    together (rank 0, or equal rank with size-1 dimensions). Returns two arrays."""
    return threefry2x32_p.bind(k1, k2, x1, x2)


@threefry2x32_p.def_abstract_eval
def _threefry2x32_abstract_eval(*args):
    if any(a.dtype != np.uint32 for a in args):
        raise TypeError(
            "Arguments to threefry2x32 must have uint32 type, got "
            f"{', '.join(a.str_short() for a in args)}."
        )
    shape = broadcast_shapes_lax("threefry2x32", *[a.shape for a in args])
    return [ShapedArray(shape, np.uint32)] * 2


def _rotate_left(v, r, const):
    return hlo.or_(hlo.shift_left(v, r), hlo.shift_right_logical(v, hlo.subtract(const(32), r)))


def _round_group(x0, x1, rotations, const):
    """Four rounds: mix the words, rotate the second by the next distance, xor."""
    for r in rotations:
        x0 = hlo.add(x0, x1)
        x1 = hlo.xor(x0, _rotate_left(x1, r, const))
    return x0, x1


@threefry2x32_p.def_lowering
def _threefry2x32_lowering(ctx, k1, k2, x1, x2):
    out = ctx.avals_out[0]
    k1, k2, x1, x2 = [
        lowering.broadcast_to(v, a, out.shape) for v, a in zip((k1, k2, x1, x2), ctx.avals_in)
    ]

    def const(c):
        return lowering.full_like_aval(c, out)

    # The extended key: k0, k1 and their parity word.
    ks = [k1, k2, hlo.xor(hlo.xor(k1, k2), const(_PARITY))]
    x0, x1 = hlo.add(x1, ks[0]), hlo.add(x2, ks[1])
    if ctx.platform in ROLLED_LOOP_PLATFORMS:
        return _rolled_groups(x0, x1, ks, out)
    for group in range(5):
        rotations = [const(r) for r in _ROTATIONS[group % 2]]
        x0, x1 = _round_group(x0, x1, rotations, const)
        # Key injection after every four rounds: the key words rotate, and the
        # injection count is added to the second word.
        x0 = hlo.add(x0, ks[(group + 1) % 3])
        x1 = hlo.add(x1, hlo.add(ks[(group + 2) % 3], const(group + 1)))
    return [x0, x1]


def _rolled_groups(x0, x1, ks, out):
    """The five round groups as a loop carrying (group, x0, x1, next key words)."""
    from jaxlib.mlir import ir

    count = ShapedArray((), np.uint32)
    types = [lowering.ir_type(count)] + [lowering.ir_type(out)] * 5
    init = [lowering.full_like_aval(0, count), x0, x1, ks[1], ks[2], ks[0]]
    op = hlo.WhileOp(types, init)
    cond = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(cond):
        hlo.return_(
            [lowering.compare(cond.arguments[0], lowering.full_like_aval(5, count), "LT", count)]
        )
    body = op.regions[1].blocks.append(*types)
    with ir.InsertionPoint(body):
        i, x0, x1, ka, kb, kc = body.arguments

        def const(c):
            return lowering.full_like_aval(c, out)

        # groups alternate between the two sets of rotation distances
        odd = lowering.compare(
            hlo.and_(i, lowering.full_like_aval(1, count)),
            lowering.full_like_aval(1, count),
            "EQ",
            count,
        )
        rotations = [
            lowering.broadcast_to(
                hlo.select(
                    odd, lowering.full_like_aval(r1, count), lowering.full_like_aval(r0, count)
                ),
                count,
                out.shape,
            )
            for r0, r1 in zip(*_ROTATIONS)
        ]
        x0, x1 = _round_group(x0, x1, rotations, const)
        i = hlo.add(i, lowering.full_like_aval(1, count))
        x0 = hlo.add(x0, ka)
        x1 = hlo.add(x1, hlo.add(kb, lowering.broadcast_to(i, count, out.shape)))
        hlo.return_([i, x0, x1, kb, kc, ka])
    return list(op.results)[1:3]


zero_jvp(threefry2x32_p)
batching.broadcast_batcher(threefry2x32_p)


# ---------------------------------------------------------------------------- iota_2x32_shape

iota_2x32_shape_p = Primitive("iota_2x32_shape", multiple_results=True)


def iota_2x32_shape(shape):
    """The row-major index of each position of ``shape`` as a 64-bit count, returned as
    two uint32 arrays of that shape: (high words, low words)."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        from .structural import full

        zero = full((), 0, np.uint32)
        return [zero, zero]
    return iota_2x32_shape_p.bind(shape=shape)


@iota_2x32_shape_p.def_abstract_eval
def _iota_2x32_shape_abstract_eval(*, shape):
    return [ShapedArray(shape, np.uint32)] * 2


@iota_2x32_shape_p.def_lowering
def _iota_2x32_shape_lowering(ctx, *, shape):
    u64 = ShapedArray(shape, np.uint64)
    u64_type = lowering.ir_type(u64)
    strides = [int(np.prod(shape[i + 1 :], dtype=np.uint64)) for i in range(len(shape))]
    count = None
    for dim, stride in enumerate(strides):
        term = hlo.iota(u64_type, dim)
        if stride != 1:
            term = hlo.multiply(term, lowering.full_like_aval(stride, u64))
        count = term if count is None else hlo.add(count, term)
    u32_type = lowering.ir_type(ctx.avals_out[0])
    high = hlo.shift_right_logical(count, lowering.full_like_aval(32, u64))
    return [hlo.convert(u32_type, high), hlo.convert(u32_type, count)]


zero_jvp(iota_2x32_shape_p)
