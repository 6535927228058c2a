"""Sharding rules of gather/scatter (jnp indexing, ``.at[]``), convolution, windowed
reductions (and their grads), loop carries, scan slices and cond branches, and
reshape's one-split-or-merge rule, against real JAX 0.10.2 on 8 CPU devices: the
``typeof`` of intermediates inside jit, the values, and the errors (class and key
phrases). The cases run in one child process (tests/eight_devices.py)."""

from __future__ import annotations

import eight_devices
import numpy as np
import pytest
from eight_devices import both

CASES, case = eight_devices.case_registry()


def _arr(shape, dtype=np.float32):
    return (np.arange(int(np.prod(shape))) % 7 - 3).astype(dtype).reshape(shape)


def _run(lib, fn, inputs):
    """fn(lib, note, *args), jitted, under a (4, 2) mesh ('X', 'Y') of Explicit axes,
    args put with their specs: (noted types, error or None, result or None)."""
    seen: list = []

    def note(v):
        seen.append(str(lib.typeof(v)))
        return v

    with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"))):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        try:
            out = lib.jit(lambda *a: fn(lib, note, *a))(*args)
        except Exception as e:  # compared by class and phrases
            return seen, (type(e).__name__, str(e)), None
        seen.append(str(lib.typeof(out)))
        return seen, None, np.asarray(out)


def _same(fn, *inputs, phrases=(), exact=False):
    """The engine and JAX note the same types and give the same values, or raise the
    same class of error whose messages both contain ``phrases`` (are equal if exact)."""
    (e_seen, e_err, e_out), (j_seen, j_err, j_out) = both(lambda lib: _run(lib, fn, inputs))
    assert e_seen == j_seen, (e_seen, j_seen, e_err, j_err)
    if j_err is None:
        assert e_err is None, e_err
        np.testing.assert_allclose(e_out, j_out, rtol=1e-5, atol=1e-5)
        assert e_out.dtype == j_out.dtype
        return
    eight_devices.assert_same_error(e_err, j_err, phrases)
    if exact:
        assert e_err[1] == j_err[1], (e_err[1], j_err[1])


X = ("X", None)
Y = (None, "Y")
RESHAPE = "This reshape is not supported. Please specify the sharding of the output"
GATHER = "Use `.at[...].get(out_sharding=)` to provide output PartitionSpec"
SCATTER = "Use `.at[...].set/add/mul/...(out_sharding=)` to provide output PartitionSpec"
CONV = "Please specify the output sharding via `out_sharding` parameter of `conv_general_dilated`"
CARRY = "carry input and carry output must have equal types, but they differ"


# ---------------------------------------------------------------------------- reshape


def _reshaped(shape):
    return lambda lib, note, x: note(x.reshape(shape)) * 2.0


@case
def reshape_splits_or_merges_one_group_only():
    ok = [
        ((8, 4), (("X", "Y"), None), (4, 2, 4)),  # one split: the axes dealt out
        ((8, 4), X, (32,)),  # one merge keeps the major axis
        ((4, 2), X, (8,)),  # merged trailing dims may be unsharded
        ((4, 2, 4), ("X", "Y", None), (8, 4)),  # merge (X, Y)
        ((8, 4), X, (4, 1, 2, 4)),  # a split taking the 1 that follows it
        ((8, 4), X, (4, 1, 2, 1, 4)),
        ((8, 4), Y, (2, 1, 4, 4)),
        ((4, 2, 1, 4), ("X", None, None, "Y"), (8, 1, 4)),
        ((8, 1, 4), ("X", None, None), (8, 4)),  # only singletons dropped
        ((8, 4), (None, None), (2, 4, 2, 2)),  # unsharded: anything goes
    ]
    for shape, spec, new in ok:
        _same(_reshaped(new), (_arr(shape), spec))
    errors = [
        ((8, 4), Y, (2, 4, 2, 2), "float32[8,4@Y], new sizes: (2, 4, 2, 2)"),  # two splits
        ((4, 2, 2, 2), ("X", None, None, None), (8, 4), "float32[4@X,2,2,2]"),  # two merges
        ((4, 2, 2, 2), (None, None, "Y", None), (8, 4), "new sizes: (8, 4)"),
        ((8, 4), X, (4, 8), "float32[8@X,4], new sizes: (4, 8)"),  # neither
        ((8, 4), X, (2, 4, 4), "new sizes: (2, 4, 4)"),  # 2 does not take X (4)
        ((8, 4), X, (2, 2, 2, 4), "new sizes: (2, 2, 2, 4)"),
        ((8, 1, 4), ("X", None, None), (2, 4, 4), "float32[8@X,1,4]"),
        ((4, 2), Y, (8,), "float32[4,2@Y]"),  # a sharded minor dim merged
        ((4, 2, 2), ("X", None, "Y"), (16,), "float32[4@X,2,2@Y]"),
    ]
    for shape, spec, new, phrase in errors:
        _same(_reshaped(new), (_arr(shape), spec), phrases=(RESHAPE, phrase))


@case
def reshape_with_dimensions_and_grads():
    def with_dims(lib, note, x):
        return note(lib.lax.reshape(x, (4, 2, 4), dimensions=(1, 0)))

    _same(with_dims, (_arr((4, 8)), (None, "X")), phrases=(RESHAPE, "float32[4,8@X]"))

    def grad(lib, note, x):
        return note(lib.grad(lambda x: (lib.numpy.sin(x.reshape(4, 2, 4)) ** 2).sum())(x))

    _same(grad, (_arr((8, 4)), (("X", "Y"), None)))

    def trailing_one(lib, note, x):
        return note(x.reshape(2, 4, 4, 1))

    (_, e_err, _), (_, j_err, _) = both(lambda lib: _run(lib, trailing_one, [(_arr((8, 4)), X)]))
    # JAX 0.10.2's rule indexes past the operand's shape here (IndexError); the engine
    # gives its reshape error (accepted divergence)
    assert j_err[0] == "IndexError" and e_err[0] == "ShardingTypeError", (e_err, j_err)
    assert RESHAPE in e_err[1]


# ---------------------------------------------------------------------------- gather / scatter


@case
def indexing_gathers_follow_jax():
    idx = np.array([0, 2, 3])
    ok = [
        (lambda lib, n, x: n(x[:, idx]) * 1.0, [(_arr((8, 4)), X)]),
        (lambda lib, n, x: n(x[:, 1:3][:, np.array([1, 0])]), [(_arr((8, 4)), X)]),
        (lambda lib, n, x, i: n(x[i]), [(_arr((8, 4)), Y), (np.array(3, np.int32), ())]),
        (
            lambda lib, n, x, i: n(lib.numpy.take_along_axis(x, i, axis=1)),
            [(_arr((8, 4)), X), (np.arange(32, dtype=np.int32).reshape(8, 4) % 4, X)],
        ),
        (
            lambda lib, n, x, i: n(lib.numpy.take_along_axis(x, i, axis=1)),
            [(_arr((8, 4)), X), (np.arange(32, dtype=np.int32).reshape(8, 4) % 4, (None,))],
        ),
        (lambda lib, n, x: n(x[idx]), [(_arr((8, 4)), (None, None))]),
    ]
    for fn, inputs in ok:
        _same(fn, *inputs)
    errors = [
        (lambda lib, n, x: n(x[idx]), [(_arr((8, 4)), X)], "float32[8@X,4]"),
        (lambda lib, n, x: n(x[:, np.array([0, 1])]), [(_arr((8, 4)), Y)], "int32[2,1]"),
        (
            lambda lib, n, x, i: n(x[i]),
            [(_arr((8, 4)), Y), (np.array([1, 2, 3, 0] * 2, np.int32), ("X",))],
            "indices=ShapedArray(int32[8@X,1])",
        ),
    ]
    for fn, inputs, phrase in errors:
        _same(fn, *inputs, phrases=(GATHER, phrase))


@case
def lax_gather_with_batching_dims():
    def batched(lib, note, x, i):
        dnums = lib.lax.GatherDimensionNumbers(
            offset_dims=(),
            collapsed_slice_dims=(1,),
            start_index_map=(1,),
            operand_batching_dims=(0,),
            start_indices_batching_dims=(0,),
        )
        return note(lib.lax.gather(x, i, dnums, (1, 1), mode="clip"))

    ints = np.array([[1], [0], [3], [2]] * 2, np.int32)
    _same(batched, (_arr((8, 4)), X), (ints, (None, None)))
    _same(batched, (_arr((8, 4)), (None, None)), (ints, X))
    _same(batched, (_arr((8, 4)), X), (ints, X))
    _same(batched, (_arr((8, 4)), ("Y", None)), (ints, X), phrases=(GATHER, "float32[8@Y,4]"))


@case
def scatters_follow_jax():
    cols = np.array([1, 2])

    def add_cols(lib, n, x, u):
        return n(x.at[:, cols].add(u))

    _same(add_cols, (_arr((8, 4)), X), (_arr((8, 2)), X))
    _same(lambda lib, n, x: n(x.at[cols].set(0.0)), (_arr((8, 4)), (None, None)))
    _same(
        lambda lib, n, x: n(x.at[cols].set(0.0)),
        (_arr((8, 4)), ("X", "Y")),
        phrases=(SCATTER, "operand=ShapedArray(float32[8@X,4@Y])"),
    )

    def lax_scatter(lib, n, x, i, u):
        dnums = lib.lax.ScatterDimensionNumbers(
            update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
        )
        return n(lib.lax.scatter_add(x, i, u, dnums))

    rows = np.array([[1], [5]], np.int32)
    _same(lax_scatter, (_arr((8, 4)), Y), (rows, ()), (_arr((2, 4)), Y))
    _same(  # queries that may overlap, split over devices
        lax_scatter,
        (_arr((8, 4)), Y),
        (np.array([[1], [5], [1], [0]], np.int32), ()),
        (_arr((4, 4)), ("X", None)),
        phrases=(SCATTER, "updates=ShapedArray(float32[4@X,4])"),
    )
    _same(
        lax_scatter,
        (_arr((8, 4)), (None, None)),
        (rows, ("Y",)),
        (_arr((2, 4)), (None, None)),
        phrases=(SCATTER, "indices=ShapedArray(int32[2@Y,1])"),
    )


@case
def gather_grads_scatter_into_typed_zeros():
    def grad_rows(lib, n, x):
        return n(lib.grad(lambda x: (x[np.array([0, 2, 2])] ** 2).sum())(x))

    _same(grad_rows, (_arr((8, 4)), Y))

    def grad_cols(lib, n, x):
        return n(lib.grad(lambda x: lib.numpy.sin(x[:, np.array([3, 1])]).sum())(x))

    _same(grad_cols, (_arr((8, 4)), X))


@case
def at_updates_take_the_slice_type():
    """JAX's ``.at[]`` broadcasts the updates to the type of ``x[idx]`` (its sharding
    included) before scattering; the engine's untyped updates take that layout."""
    rows, cols = np.array([1, 2]), np.array([3, 0])
    programs = [
        (lambda lib, n, x: n(x.at[rows].set(0.0)), Y),
        (lambda lib, n, x: n(x.at[:, 1:3].set(0.0)), X),
        (lambda lib, n, x: n(x.at[:, 1].add(1.0)), X),
        (lambda lib, n, x: n(x.at[:, cols].multiply(2.0)), X),
        (lambda lib, n, x: n(x.at[rows].max(np.ones(4, np.float32))), Y),
    ]
    for fn, spec in programs:
        _same(fn, (_arr((8, 4)), spec))

    def mismatched(lib, n, x, u):
        return n(x.at[:, cols].add(u))

    (_, e_err, _), (_, j_err, _) = both(
        lambda lib: _run(lib, mismatched, [(_arr((8, 4)), X), (_arr((8, 2)), Y)])
    )
    # both fail broadcasting the updates to the slice type, before the scatter
    assert j_err[0] == "ValueError" and "Incompatible types for broadcasting" in j_err[1]
    assert e_err[0] == "ValueError" and "Incompatible types for broadcasting" in e_err[1], e_err


# ---------------------------------------------------------------------------- split, stack, ...


@case
def split_stack_tile_top_k_reduce_and_dynamic_update_slice():
    x = _arr((8, 4))
    ok = [
        lambda lib, n, x: [n(a) for a in lib.lax.split(x, (1, 3), axis=1)][1],
        lambda lib, n, x: n(lib.lax.split(x, (4, 4), axis=0)[0]),
        lambda lib, n, x: n(lib.numpy.stack([x, x * 2.0], axis=1)),
        lambda lib, n, x: n(lib.lax.top_k(x, 2)[1]),
        lambda lib, n, x: n(
            lib.lax.reduce((x, x), (0.0, 1.0), lambda a, b: (a[0] + b[0], a[1] * b[1]), (1,))[1]
        ),
        lambda lib, n, x: n(
            lib.grad(lambda x: (lib.lax.split(x, (1, 3), axis=1)[1] ** 2).sum())(x)
        ),
        lambda lib, n, x: n(lib.grad(lambda x: (lib.numpy.stack([x, 2 * x]) ** 2).sum())(x)),
        lambda lib, n, x: n(lib.grad(lambda x: (lib.lax.top_k(x, 2)[0] ** 2).sum())(x)),
        lambda lib, n, x: n(lib.numpy.concatenate([x, x], axis=1)),
    ]
    for fn in ok:
        _same(fn, (x, X))
    _same(
        lambda lib, n, x: n(lib.lax.split(x, (2, 6), axis=0)[0]),
        (x, X),
        phrases=("split on sharded dims where out dim (2) is not divisible by mesh axes (4)",),
    )
    _same(
        lambda lib, n, x: n(lib.lax.top_k(x, 2)[0]),
        (x, Y),
        phrases=(
            "The input should be unsharded over the axis along which to compute the top_k",
            "Got input type=float32[8,4@Y] and axis=1",
        ),
    )
    _same(
        lambda lib, n, x: n(lib.numpy.tile(x, (2, 1))),
        (x, X),
        phrases=("Operand cannot be sharded on dimension 0 when the tiling is non-trivial",),
    )
    _same(
        lambda lib, n, x, y: n(lib.numpy.stack([x, y])),
        (x, X),
        (x, Y),
        phrases=("All operands should have the same sharding",),
    )

    def dus(lib, n, x, u):
        f = lambda x, u: (lib.lax.dynamic_update_slice(x, u, (0, 1)) ** 2).sum()  # noqa: E731
        gx, gu = lib.grad(f, argnums=(0, 1))(x, u)
        n(gx)
        return n(gu)

    _same(dus, (x, X), (_arr((8, 2)), X))
    # dynamic_slice's transpose updates zeros typed as its operand, as JAX's
    i = (np.float32(1.0), ())
    grads = [
        lambda lib, n, x, i: n(
            lib.grad(lambda x: (lib.lax.dynamic_slice(x, (0, i.astype(int)), (8, 2)) ** 2).sum())(x)
        ),
        lambda lib, n, x, i: n(lib.grad(lambda x: (x[:, i.astype(int)] ** 2).sum())(x)),
    ]
    for fn in grads:
        _same(fn, (x, X), i)
    _same(lambda lib, n, x, i: n(lib.grad(lambda x: (x[i.astype(int)] ** 2).sum())(x)), (x, Y), i)
    _same(
        lambda lib, n, x, u: n(lib.lax.dynamic_update_slice(x, u, (0, 1))),
        (x, X),
        (_arr((8, 2)), Y),
        phrases=(
            "dynamic_update_slice operand sharding must be equal to update sharding",
            "float32[8@X,4]({Explicit: ('X', 'Y')})",
            "float32[8,2@Y]({Explicit: ('X', 'Y')})",
        ),
    )
    # tile's result keeps the operand's sharding; its transpose reshapes with it
    _same(lambda lib, n, x: n(lib.numpy.tile(x, (1, 2))), (x, X))
    _same(
        lambda lib, n, x: n(lib.grad(lambda x: (lib.numpy.tile(x, (1, 2)) ** 2).sum())(x)), (x, X)
    )


@case
def select_cases_and_which_must_agree():
    x, y = _arr((8, 4)), _arr((8, 4)) + 1.0
    ok = [
        (lambda lib, n, x: n(lib.numpy.where(x > 1, x, 0.0)), [(x, X)]),
        (lambda lib, n, x, b: n(lib.numpy.where(x > 0, x, b)), [(x, X), (_arr((1, 4)), Y)]),
        (lambda lib, n, x: n(lib.grad(lambda x: lib.nn.relu(x).sum())(x)), [(x, X)]),
        (lambda lib, n, x: n(lib.grad(lambda x: lib.numpy.clip(x, 0.0, 2.0).sum())(x)), [(x, Y)]),
    ]
    for fn, inputs in ok:
        _same(fn, *inputs)
    other = (y, ("Y", None))
    _same(
        lambda lib, n, x, y: n(lib.numpy.where(x > 1, x, y)),
        (x, X),
        other,
        phrases=("select cases must have the same shardings, got [NamedSharding(",),
    )
    _same(
        lambda lib, n, x, y: n(lib.lax.select(y > 1, x, x)),
        (x, X),
        other,
        phrases=("select `which` must be scalar or have the same sharding as cases",),
    )


# ---------------------------------------------------------------------------- convolution


def _conv(lib, x, w, **kw):
    return lib.lax.conv_general_dilated(x, w, (1, 1), "SAME", **kw)


@case
def convolutions_follow_jax():
    x, w = _arr((8, 2, 4, 4)), _arr((3, 2, 3, 3))
    none4 = (None,) * 4
    _same(lambda lib, n, x, w: n(_conv(lib, x, w)), (x, ("X", None, None, None)), (w, none4))
    _same(lambda lib, n, x, w: n(_conv(lib, x, w)), (x, (None, None, "X", None)), (w, none4))
    _same(
        lambda lib, n, x, w: n(
            lib.lax.conv_general_dilated(
                x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NCHW")
            )
        ),
        (_arr((8, 4, 4, 2)), ("X", None, None, None)),
        (_arr((3, 3, 2, 5)), none4),
    )
    _same(
        lambda lib, n, x, w: n(_conv(lib, x, w)),
        (x, (None, "Y", None, None)),
        (w, none4),
        phrases=(CONV,),
    )
    _same(
        lambda lib, n, x, w: n(_conv(lib, x, w)),
        (x, ("X", None, None, None)),
        (_arr((4, 2, 3, 3)), ("Y", None, None, None)),
        phrases=(CONV,),
    )
    _same(
        lambda lib, n, x, w: n(_conv(lib, x, w, out_sharding=lib.P("X", "Y"))),
        (x, ("X", None, None, None)),
        (_arr((4, 2, 3, 3)), ("Y", None, None, None)),
    )
    _same(
        lambda lib, n, x, w: n(lib.lax.conv_general_dilated(x, w, (1, 2), "VALID")),
        (_arr((2, 2, 8, 8)), (None, None, None, "X")),
        (w, none4),
        phrases=("conv_general_dilated on sharded dims where out dim (3) is not divisible",),
    )


@case
def convolution_grads_keep_their_operands_types():
    x, w = _arr((8, 2, 4, 4)), _arr((3, 2, 3, 3))

    def grads(lib, n, x, w):
        gx, gw = lib.grad(lambda x, w: (_conv(lib, x, w) ** 2).sum(), argnums=(0, 1))(x, w)
        n(gx)
        return n(gw)

    _same(grads, (x, ("X", None, None, None)), (w, (None,) * 4))
    _same(grads, (x, (None, None, None, "Y")), (w, (None,) * 4))


# ---------------------------------------------------------------------------- windowed reductions


@case
def windowed_reductions_and_their_grads():
    x = _arr((8, 8))

    def pool(kind):
        def f(lib, n, x):
            op, init = {"sum": (lib.lax.add, 0.0), "max": (lib.lax.max, -np.inf)}[kind]
            return n(lib.lax.reduce_window(x, init, op, (1, 2), (1, 2), "VALID"))

        return f

    def generic(lib, n, x):
        return n(lib.lax.reduce_window(x, 1.0, lib.lax.mul, (2, 1), (2, 1), "VALID"))

    for spec in (X, (None, "X"), ("Y", "X")):
        for fn in (pool("sum"), pool("max"), generic):
            _same(fn, (x, spec))

    def uneven(lib, n, x):
        return n(lib.lax.reduce_window(x, 0.0, lib.lax.add, (1, 3), (1, 3), "VALID"))

    _same(
        uneven,
        (x, (None, "X")),
        phrases=("reduce_window on sharded dims where out dim (2) is not divisible",),
    )

    def grads(kind):
        def f(lib, n, x):
            return n(lib.grad(lambda x: (pool(kind)(lib, lambda v: v, x) ** 2).sum())(x))

        return f

    for spec in (X, (None, "X")):
        _same(grads("max"), (x, spec))  # select_and_scatter_add
    _same(grads("sum"), (x, X))
    # the sum's transpose pads the cotangent (4@X -> 9): JAX's padding error, both sides
    _same(
        grads("sum"),
        (x, (None, "X")),
        phrases=("padding on sharded dims where out dim (9) is not divisible by mesh axes (4)",),
    )

    def jvp_max(lib, n, x):
        return n(lib.jvp(lambda x: pool("max")(lib, lambda v: v, x), (x,), (x * 2.0,))[1])

    _same(jvp_max, (x, X))  # select_and_gather_add's rule in JVPs of max pooling


# ---------------------------------------------------------------------------- control flow


@case
def loop_carries_keep_their_types():
    def while_ok(lib, n, x):
        def body(c):
            n(c)
            return c * 1.5

        return lib.lax.while_loop(lambda c: c.sum() < 1e4, body, x + 1.0)

    _same(while_ok, (_arr((8, 4)) + 4.0, X))

    def fori_grad(lib, n, x):
        f = lambda x: lib.lax.fori_loop(0, 3, lambda i, c: lib.numpy.sin(c) * x, x).sum()  # noqa: E731
        return n(lib.grad(f)(x))

    _same(fori_grad, (_arr((8, 4)), X))

    def resharded(lib, c):
        return lib.reshard(c, lib.P(None, "Y"))

    errors = [
        lambda lib, n, x: lib.lax.while_loop(
            lambda c: c.sum() < 10.0, lambda c: resharded(lib, c + 1.0), x
        ),
        lambda lib, n, x: lib.lax.fori_loop(0, 3, lambda i, c: resharded(lib, c), x),
        lambda lib, n, x: lib.lax.scan(lambda c, a: (resharded(lib, c), a), x, None, length=2)[0],
    ]
    # the messages are JAX's to the letter: the carry named by the body's parameter
    # (loop_carry for fori_loop's own body) and the leaf's path
    for fn in errors:
        _same(fn, (_arr((8, 4)), X), phrases=(CARRY,), exact=True)

    def fori_dynamic(lib, n, x, k):
        return lib.lax.fori_loop(0, k.astype(np.int32), lambda i, c: resharded(lib, c), x)

    _same(fori_dynamic, (_arr((8, 4)), X), (np.float32(3.0), ()), phrases=(CARRY,), exact=True)

    def scan_pair(lib, n, x):
        body = lambda carry, _: ((carry[0], resharded(lib, carry[1])), None)  # noqa: E731
        return lib.lax.scan(body, (x, x), None, length=2)[0][1]

    _same(scan_pair, (_arr((8, 4)), X), phrases=(CARRY, "carry[1]"), exact=True)


@case
def scan_slices_and_stacks_keep_shardings():
    def scan(lib, n, x, xs):
        def body(c, a):
            n(a)
            return c + a, c * a

        c, ys = lib.lax.scan(body, x, xs)
        n(c)
        return ys

    _same(scan, (_arr((8, 4)), X), (_arr((3, 8, 4)), (None, "X", None)))

    def grad_xs(lib, n, x, xs):
        f = lambda x, xs: lib.lax.scan(lambda c, a: (c * a, a.sum()), x, xs)[0].sum()  # noqa: E731
        gx, gxs = lib.grad(f, argnums=(0, 1))(x, xs)
        n(gx)
        return n(gxs)

    _same(grad_xs, (_arr((8, 4)), X), (_arr((3, 8, 4)) / 3.0, (None, "X", None)))

    def two_xs(lib, n, x, a, b):
        return lib.lax.scan(lambda c, ab: (c + ab[0] + ab[1], ab[0]), x, (a, b))[1]

    _same(
        two_xs,
        (_arr((8, 4)), (None, None)),
        (_arr((8, 8, 4)), ("X", None, None)),
        (_arr((8, 8, 4)), (None, None, "Y")),
        phrases=(
            "0th dimension of all xs should be replicated. Got P('X', None, None), "
            "P(None, None, 'Y')",
        ),
    )


@case
def cond_branches_must_agree():
    def cond(lib, n, x, p):
        return n(lib.lax.cond(p > 0, lambda x: x * 2.0, lambda x: x + 1.0, x))

    _same(cond, (_arr((8, 4)), X), (np.float32(1.0), ()))

    def grad_cond(lib, n, x, p):
        f = lambda x: lib.lax.cond(p > 0, lambda x: x * 2.0, lib.numpy.sin, x).sum()  # noqa: E731
        return n(lib.grad(f)(x))

    _same(grad_cond, (_arr((8, 4)), X), (np.float32(-1.0), ()))

    def zeros_branch(lib, n, x, p):
        return n(lib.lax.cond(p > 0, lambda x: x * 2.0, lib.numpy.zeros_like, x))

    _same(zeros_branch, (_arr((8, 4)), X), (np.float32(-1.0), ()))

    def grad_zeros_branch(lib, n, x, p):
        f = lambda x: zeros_branch(lib, lambda v: v, x, p).sum()  # noqa: E731
        return n(lib.grad(f)(x))

    _same(grad_zeros_branch, (_arr((8, 4)), X), (np.float32(1.0), ()))

    def cond_bad(lib, n, x, p):
        other = lambda x: lib.reshard(x, lib.P(None, "Y"))  # noqa: E731
        return lib.lax.cond(p > 0, lambda x: x * 2.0, other, x)

    phrases = (
        "branches must have equal output types but they differ",
        "has type float32[8@X,4] but the corresponding output of",
        "has type float32[8,4@Y]",
    )
    _same(cond_bad, (_arr((8, 4)), X), (np.float32(1.0), ()), phrases=phrases, exact=True)

    def switch_bad(lib, n, x, p):
        other = lambda x: lib.reshard(x, lib.P(None, "Y"))  # noqa: E731
        return lib.lax.switch(p.astype(np.int32), [lambda x: x * 2.0, other], x)

    _same(switch_bad, (_arr((8, 4)), X), (np.float32(1.0), ()), phrases=phrases, exact=True)

    def switch_third_bad(lib, n, x, p):
        other = lambda x: lib.reshard(x, lib.P(None, "Y"))  # noqa: E731
        return lib.lax.switch(p.astype(np.int32), [lambda x: x * 2.0, lambda x: x, other], x)

    # JAX compares branch 0 with each other branch, and names the others 'branch2'
    _same(switch_third_bad, (_arr((8, 4)), X), (np.float32(1.0), ()), phrases=phrases, exact=True)


# ---------------------------------------------------------------------------- linalg, fft


def _spd(lib, x):
    return x @ lib.numpy.swapaxes(x, -1, -2) + 4.0 * lib.numpy.eye(4, dtype=x.dtype)


@case
def linalg_shards_batch_dimensions_only():
    batch, rows, cols = ("X", None, None), (None, "Y", None), (None, None, "Y")
    x = _arr((8, 4, 4)) / 4.0
    ok = [
        lambda lib, n, x: n(lib.lax.linalg.eigh(_spd(lib, x))[1]),
        lambda lib, n, x: n(lib.lax.linalg.svd(x)[0]),
        lambda lib, n, x: n(lib.lax.linalg.lu(x)[2]),
        lambda lib, n, x: n(
            lib.lax.linalg.triangular_solve(_spd(lib, x), x, left_side=True, lower=True)
        ),
        lambda lib, n, x: n(lib.grad(lambda x: lib.numpy.linalg.eigh(_spd(lib, x))[0].sum())(x)),
        lambda lib, n, x: n(lib.grad(lambda x: lib.numpy.linalg.slogdet(_spd(lib, x))[1].sum())(x)),
    ]
    for fn in ok:
        _same(fn, (x, batch))
    for spec, where in ((rows, "P(None, 'Y', None)"), (cols, "P(None, None, 'Y')")):
        for fn, name in (
            (lambda lib, n, x: n(lib.lax.linalg.qr(x)[0]), "qr"),
            (lambda lib, n, x: n(lib.lax.linalg.svd(x)[1]), "svd"),
            (lambda lib, n, x: n(lib.lax.linalg.lu(x)[0]), "lu"),
        ):
            phrase = (
                f"Input 0 to {name} must be unsharded on non-batch dimensions, but got {where}."
            )
            _same(fn, (x, spec), phrases=(phrase,))


@case
def fft_keeps_its_operands_sharding():
    x = _arr((8, 4, 4))
    specs = [("X", None, None), (None, "Y", None), (None, None, "Y")]
    programs = [
        lambda lib, n, x: n(lib.numpy.fft.rfft(x, axis=1).real),
        lambda lib, n, x: n(lib.numpy.fft.irfft(x)),
        lambda lib, n, x: n(lib.numpy.fft.fft2(x).imag),
    ]
    for spec in specs:
        for fn in programs[1:] if spec == specs[1] else programs:
            _same(fn, (x, spec))
    # jnp's rfft moves its axis last: the halved length (3) is then a 'Y' one
    last = lambda lib, n, x: n(lib.numpy.fft.rfft(x).real)  # noqa: E731
    for fn, spec in ((programs[0], specs[1]), (last, specs[2])):
        _same(
            fn,
            (x, spec),
            phrases=("implies that array axis 2 is partitioned 2 times, but does not evenly",),
        )
    _same(
        lambda lib, n, x: n(
            lib.grad(lambda x: (lib.numpy.abs(lib.numpy.fft.rfft(x)) ** 2).sum())(x)
        ),
        (x, specs[0]),
    )


# ---------------------------------------------------------------------------- a sweep


def _sweep_programs(lib):
    jnp, lax = lib.numpy, lib.lax
    idx = np.array([0, 2, 1])
    return {
        "take": lambda x: x[idx].sum() + x[:, idx].sum(),
        "at": lambda x: x.at[idx].set(1.0).sum() + x.at[:, 1].add(2.0).sum(),
        "reshape": lambda x: (x.reshape(-1) ** 2).sum() + x.reshape(x.shape[0], 2, -1).sum(),
        "stack": lambda x: (jnp.stack([x, x * 2]) ** 2).sum(),
        "concat_zeros": lambda x: (jnp.concatenate([x, jnp.zeros_like(x)], 1) ** 2).sum(),
        "split": lambda x: sum((p**2).sum() for p in jnp.split(x, 2, axis=1)),
        "tile": lambda x: (jnp.tile(x, (1, 2)) ** 2).sum(),
        "pad": lambda x: (jnp.pad(x, ((0, 0), (1, 1))) ** 2).sum(),
        "where": lambda x: jnp.where(x > 1, x**2, 0.0).sum(),
        "top_k": lambda x: lax.top_k(x, 2)[0].sum(),
        "pool_max": lambda x: lax.reduce_window(x, -np.inf, lax.max, (1, 2), (1, 2), "VALID").sum(),
        "pool_avg": lambda x: lax.reduce_window(x, 0.0, lax.add, (2, 1), (2, 1), "VALID").sum(),
        "scan": lambda x: lax.scan(lambda c, a: (c * 0.5 + a, c), x[0] * 0, x)[0].sum(),
        "fori": lambda x: lax.fori_loop(0, 3, lambda i, c: jnp.sin(c), x).sum(),
        "cond": lambda x: lax.cond(True, lambda x: x * 2, jnp.sin, x).sum(),
        "map": lambda x: lax.map(lambda r: r**2, x).sum(),
        "dynamic_slice": lambda x: lax.dynamic_slice_in_dim(x, 1, 2, axis=1).sum(),
        "dus": lambda x: lax.dynamic_update_slice_in_dim(x, x[:, :2] * 3, 1, axis=1).sum(),
        "diag": lambda x: jnp.diagonal(x[:4, :4]).sum(),
        "broadcast": lambda x: (jnp.broadcast_to(x[:, None, :], (8, 2, 4)) ** 2).sum(),
    }


def _sweep(lib):
    out = {}
    with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"))):
        for spec in (X, Y, (("X", "Y"), None)):
            x = lib.device_put(_arr((8, 4)) / 3.0 + 1.5, lib.P(*spec))
            for name, f in _sweep_programs(lib).items():
                for mode, g in (("fwd", f), ("grad", lib.grad(f))):
                    try:
                        r = lib.jit(g)(x)
                        out[name, spec, mode] = (str(lib.typeof(r)), np.asarray(r))
                    except Exception as e:  # compared by class below
                        out[name, spec, mode] = (type(e).__name__, None)
    return out


@case
def where_jax_runs_the_engine_runs_alike():
    """Common programs over three layouts, values and grads: wherever JAX runs one, the
    engine gives the same type and value; where JAX raises, the engine raises the same
    class of error."""
    ours, theirs = both(_sweep)
    raised = 0
    for key, (j_type, j_value) in theirs.items():
        e_type, e_value = ours[key]
        assert e_type == j_type, (key, e_type, j_type)
        if j_value is None:
            raised += 1
            assert e_value is None, key
            continue
        np.testing.assert_allclose(e_value, j_value, rtol=1e-5, atol=1e-5, err_msg=str(key))
    assert 0 < raised < len(theirs) / 2, raised  # both outcomes are exercised


# ---------------------------------------------------------------------------- eager


def _eager(lib, fn, inputs):
    with lib.set_mesh(lib.make_mesh((4, 2), ("X", "Y"))):
        args = [lib.device_put(value, lib.P(*spec)) for value, spec in inputs]
        out = fn(lib, *args)
        return str(lib.typeof(out)), repr(out.sharding.spec), np.asarray(out)


@case
def eager_results_are_typed_and_placed_as_jaxs():
    x, img, w = _arr((8, 4)), _arr((8, 2, 4, 4)), _arr((3, 2, 3, 3))
    conv_x = (img, ("X", None, None, None))
    programs = [
        (lambda lib, x: x[:, np.array([0, 2])], [(x, X)]),
        (lambda lib, x: x.at[:, 1:3].set(0.0), [(x, X)]),
        (lambda lib, x, w: _conv(lib, x, w), [conv_x, (w, (None,) * 4)]),
        (
            lambda lib, x: lib.lax.reduce_window(x, 0.0, lib.lax.add, (1, 2), (1, 2), "VALID"),
            [(x, X)],
        ),
        (lambda lib, x: lib.lax.scan(lambda c, a: (c + a, c * a), x[0], x)[1], [(x, Y)]),
        (lambda lib, x: lib.lax.split(x, (1, 3), axis=1)[1], [(x, X)]),
        (lambda lib, x: lib.grad(lambda x: x[np.array([1, 2])].sum())(x), [(x, Y)]),
        (
            lambda lib, x, w: lib.grad(lambda x, w: _conv(lib, x, w).sum(), argnums=1)(x, w),
            [conv_x, (w, (None,) * 4)],
        ),
    ]
    for fn, inputs in programs:
        (e_type, e_spec, e_out), (j_type, j_spec, j_out) = both(lambda lib: _eager(lib, fn, inputs))
        assert (e_type, e_spec) == (j_type, j_spec)
        np.testing.assert_allclose(e_out, j_out, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- the subprocess


@pytest.mark.parametrize("name", sorted(CASES))
def test_sharding_rules_case(name):
    result = eight_devices.outcome(__file__, name)
    assert result == "ok", result


if __name__ == "__main__":
    eight_devices.main(CASES)
