"""engine.example_libraries (stax, optimizers) differential against JAX's: every
optimizer's parameter trajectory on a pytree under jit, every schedule, the utilities
and the packed state; every stax layer's output shape, initial parameters (bit-exact
on the same key) and outputs with those parameters; and a small CNN's training steps."""

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.example_libraries import optimizers as jo  # noqa: E402
from jax.example_libraries import stax as js  # noqa: E402

import engine  # noqa: E402
import engine.numpy as enp  # noqa: E402
from engine.example_libraries import optimizers as eo  # noqa: E402
from engine.example_libraries import stax as es  # noqa: E402

R = np.random.RandomState(0)
PARAMS = {
    "w": R.randn(3, 4).astype(np.float32),
    "b": (R.randn(4).astype(np.float32), R.randn(2, 1).astype(np.float32)),
}
TARGET = {
    "w": R.randn(3, 4).astype(np.float32),
    "b": (R.randn(4).astype(np.float32), R.randn(2, 1).astype(np.float32)),
}


def _leaves_close(a, b, rtol=1e-6, atol=1e-7):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def _trajectory(lib, jnp_, opt_mod, name, args, kwargs, steps=6):
    """Minimizes a quartic distance to TARGET; returns the params after each step."""
    init, update, get_params = getattr(opt_mod, name)(*args, **kwargs)

    def loss(p):
        sq = jax.tree.map(lambda x, t: jnp_.sum((x - t) ** 2) + jnp_.sum((x - t) ** 4), p, TARGET)
        return sum(jax.tree.leaves(sq))

    def step(i, state):
        return update(i, lib.grad(loss)(get_params(state)), state)

    # sm3's state holds the parameter's shape as leaves, which jit would trace (and
    # reshape cannot take a traced shape, in JAX as here): it runs eagerly
    step = step if name == "sm3" else lib.jit(step)

    state = init(PARAMS)
    out = []
    for i in range(steps):
        state = step(i, state)
        out.append(get_params(state))
    return out


OPTIMIZERS = [
    ("sgd", (0.05,), {}),
    ("sgd", ("exponential_decay", 0.1, 3, 0.5), {}),
    ("momentum", (0.05,), {"mass": 0.9}),
    ("nesterov", (0.05, 0.8), {}),
    ("adagrad", (0.1,), {}),
    ("adagrad", ("inverse_time_decay", 0.1, 2, 0.5, True), {"momentum": 0.5}),
    ("rmsprop", (0.01,), {}),
    ("rmsprop", ("polynomial_decay", 0.02, 4, 0.001, 2.0), {"gamma": 0.8, "eps": 1e-6}),
    ("rmsprop_momentum", (0.01,), {}),
    ("adam", (0.05,), {}),
    ("adam", ("piecewise_constant", [2, 4], [0.1, 0.05, 0.01]), {"b1": 0.8, "b2": 0.99}),
    ("adamax", (0.05,), {}),
    ("sm3", (0.1,), {}),
    ("sm3", ("inverse_time_decay", 0.1, 2, 0.5), {"momentum": 0.0}),
]


def _step_size(mod, arg):
    if isinstance(arg, tuple):
        return getattr(mod, arg[0])(*arg[1:])
    return arg


@pytest.mark.parametrize(
    "name,args,kwargs", OPTIMIZERS, ids=[f"{o[0]}-{i}" for i, o in enumerate(OPTIMIZERS)]
)
def test_optimizer_trajectories(name, args, kwargs):
    traj_e = _trajectory(
        engine,
        enp,
        eo,
        name,
        (_step_size(eo, args[0]),) + args[1:]
        if not isinstance(args[0], str)
        else (_step_size(eo, args),),
        kwargs,
    )
    traj_j = _trajectory(
        jax,
        jnp,
        jo,
        name,
        (_step_size(jo, args[0]),) + args[1:]
        if not isinstance(args[0], str)
        else (_step_size(jo, args),),
        kwargs,
    )
    for pe, pj in zip(traj_e, traj_j):
        _leaves_close(pe, pj, rtol=2e-6, atol=1e-7)


def test_schedules():
    cases = [
        ("constant", (0.3,)),
        ("exponential_decay", (0.1, 3, 0.5)),
        ("inverse_time_decay", (0.1, 3, 0.5)),
        ("inverse_time_decay", (0.1, 3, 0.5, True)),
        ("polynomial_decay", (0.1, 5, 0.01)),
        ("polynomial_decay", (0.1, 5, 0.01, 0.5)),
        ("piecewise_constant", ([2, 5], [1.0, 0.5, 0.1])),
    ]
    for name, args in cases:
        se, sj = getattr(eo, name)(*args), getattr(jo, name)(*args)
        for i in (0, 1, 2, 3, 5, 7):
            np.testing.assert_allclose(np.asarray(se(i)), np.asarray(sj(i)), rtol=1e-6)
            np.testing.assert_allclose(engine.jit(se)(i), jax.jit(sj)(i), rtol=1e-6)
    assert eo.make_schedule(0.1)(5) == 0.1
    with pytest.raises(TypeError):
        eo.make_schedule(np.ones(2))
    with pytest.raises(ValueError, match="one shorter"):
        eo.piecewise_constant([1, 2], [1.0])


def test_utilities_and_packed_state():
    grads = jax.tree.map(lambda x: 3 * x, PARAMS)
    np.testing.assert_allclose(eo.l2_norm(grads), jo.l2_norm(grads), rtol=1e-6)
    for max_norm in (0.5, 1e3):
        _leaves_close(eo.clip_grads(grads, max_norm), jo.clip_grads(grads, max_norm))
    init, update, get_params = eo.adam(0.1)
    state = init(PARAMS)
    # an OptimizerState is a pytree whose leaves are the per-parameter states
    leaves, treedef = engine.tree_util.tree_flatten(state)
    assert len(leaves) == 3 * len(jax.tree.leaves(PARAMS))
    rebuilt = engine.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(rebuilt, eo.OptimizerState)
    unpacked = eo.unpack_optimizer_state(state)
    assert isinstance(unpacked["w"], eo.JoinPoint)
    repacked = eo.pack_optimizer_state(unpacked)
    _leaves_close(get_params(repacked), PARAMS)
    assert repacked.tree_def == state.tree_def
    # the unpacked form holds the same arrays as JAX's
    ju = jo.unpack_optimizer_state(jo.adam(0.1)[0](PARAMS))
    _leaves_close(
        [
            j.subtree
            for j in jax.tree.leaves(unpacked, is_leaf=lambda x: isinstance(x, eo.JoinPoint))
        ],
        [j.subtree for j in jax.tree.leaves(ju, is_leaf=lambda x: isinstance(x, jo.JoinPoint))],
    )
    with pytest.raises(TypeError, match="did not match the parameter tree"):
        update(0, {"w": PARAMS["w"]}, state)
    # optimizer states go through jit as arguments and results
    state2 = engine.jit(lambda s: update(0, PARAMS, s))(state)
    assert isinstance(state2, eo.OptimizerState)


# ---------------------------------------------------------------------------- stax


def _layers(s):
    """Each stax layer (by name) with an input shape, built from module ``s``."""
    return {
        "Dense": (s.Dense(5), (2, 3)),
        "Dense-3d": (s.Dense(4, W_init=s.randn(0.1), b_init=s.zeros), (2, 3, 6)),
        "Conv": (s.Conv(4, (3, 3), padding="SAME"), (2, 7, 6, 3)),
        "Conv-strided": (s.Conv(5, (2, 3), strides=(2, 1), padding="VALID"), (2, 7, 6, 3)),
        "GeneralConv": (s.GeneralConv(("NCHW", "OIHW", "NHWC"), 4, (3, 2)), (2, 3, 7, 6)),
        "Conv1DTranspose": (s.Conv1DTranspose(3, (3,), strides=(2,), padding="SAME"), (2, 5, 2)),
        "ConvTranspose": (s.ConvTranspose(3, (2, 3), strides=(2, 2)), (2, 4, 5, 2)),
        "GeneralConvTranspose": (
            s.GeneralConvTranspose(("NHWC", "HWIO", "NHWC"), 2, (3, 3), padding="SAME"),
            (1, 4, 4, 3),
        ),
        "BatchNorm": (s.BatchNorm(), (4, 3, 3, 2)),
        "BatchNorm-axis": (s.BatchNorm(axis=0, center=False), (4, 3)),
        "BatchNorm-noscale": (s.BatchNorm(axis=(0,), scale=False), (4, 3)),
        "BatchNorm-neither": (s.BatchNorm(axis=(0, 1), center=False, scale=False), (4, 3, 2)),
        "MaxPool": (s.MaxPool((2, 2), strides=(2, 2)), (2, 6, 6, 3)),
        "MaxPool-same": (s.MaxPool((3, 3), padding="SAME"), (2, 5, 5, 1)),
        "AvgPool": (s.AvgPool((2, 2)), (2, 5, 5, 3)),
        "AvgPool-same-spec": (
            s.AvgPool((3, 2), strides=(2, 1), padding="SAME", spec="NCHW"),
            (2, 3, 5, 4),
        ),
        "SumPool": (s.SumPool((2, 3), strides=(1, 2)), (2, 5, 6, 2)),
        "Flatten": (s.Flatten, (2, 3, 4)),
        "Identity": (s.Identity, (2, 3)),
        **{
            n: (getattr(s, n), (2, 5))
            for n in (
                "Tanh",
                "Relu",
                "Exp",
                "LogSoftmax",
                "Softmax",
                "Softplus",
                "Sigmoid",
                "Elu",
                "LeakyRelu",
                "Selu",
                "Gelu",
            )
        },
        "elementwise": (s.elementwise(s.leaky_relu, negative_slope=0.3), (2, 5)),
        "serial": (s.serial(s.Dense(4), s.Relu, s.Dense(2), s.LogSoftmax), (3, 5)),
        "parallel": (
            s.serial(s.FanOut(2), s.parallel(s.Dense(3), s.Tanh), s.FanInConcat()),
            (2, 3),
        ),
        "FanInSum": (
            s.serial(s.FanOut(3), s.parallel(s.Dense(3), s.Dense(3), s.Identity), s.FanInSum),
            (2, 3),
        ),
        "FanInConcat-axis": (s.serial(s.FanOut(2), s.FanInConcat(axis=0)), (2, 3)),
        "shape_dependent": (s.shape_dependent(lambda shape: s.Dense(shape[-1] * 2)), (2, 3)),
        "Dropout-test": (s.Dropout(0.5, mode="test"), (2, 5)),
    }


NAMES = list(_layers(es))


@pytest.mark.parametrize("name", NAMES)
def test_stax_layer(name):
    (init_e, apply_e), shape = _layers(es)[name]
    (init_j, apply_j), _ = _layers(js)[name]
    out_shape_e, params_e = init_e(engine.random.PRNGKey(1), shape)
    out_shape_j, params_j = init_j(jax.random.PRNGKey(1), shape)
    assert jax.tree.map(int, out_shape_e) == jax.tree.map(int, out_shape_j)
    for pe, pj in zip(jax.tree.leaves(params_e), jax.tree.leaves(params_j)):
        assert np.array_equal(np.asarray(pe), np.asarray(pj))  # same key, same weights
    x = np.random.RandomState(2).randn(*shape).astype(np.float32)
    y_e = apply_e(params_e, x, rng=engine.random.PRNGKey(3))
    y_j = apply_j(params_j, x, rng=jax.random.PRNGKey(3))
    _leaves_close(y_e, y_j, rtol=1e-5, atol=1e-6)
    assert jax.tree.map(lambda a: tuple(np.shape(a)), y_e) == jax.tree.map(
        lambda a: tuple(np.shape(a)), y_j
    )


def test_dropout():
    init_e, apply_e = es.serial(es.Dense(8), es.Dropout(0.7))
    init_j, apply_j = js.serial(js.Dense(8), js.Dropout(0.7))
    _, pe = init_e(engine.random.PRNGKey(0), (4, 3))
    _, pj = init_j(jax.random.PRNGKey(0), (4, 3))
    x = np.ones((4, 3), np.float32)
    for seed in (0, 1):
        _leaves_close(
            apply_e(pe, x, rng=engine.random.PRNGKey(seed)),
            apply_j(pj, x, rng=jax.random.PRNGKey(seed)),
        )
    with pytest.raises(ValueError, match="requires apply_fun to be called with a PRNG key"):
        es.Dropout(0.5)[1]((), x)


def _cnn(s):
    return s.serial(
        s.Conv(4, (3, 3), padding="SAME"), s.BatchNorm(), s.Relu,
        s.MaxPool((2, 2), strides=(2, 2)),
        s.Conv(6, (3, 3)), s.Relu, s.AvgPool((2, 2), padding="SAME"),
        s.Flatten, s.Dense(10), s.LogSoftmax,
    )  # fmt: skip


def _cnn_training(lib, s, opt, key, steps=4):
    init, apply = _cnn(s)
    _, params = init(key, (3, 10, 10, 2))
    x = np.random.RandomState(0).randn(3, 10, 10, 2).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 4, 7]]
    opt_init, opt_update, get_params = opt.adam(1e-2)

    def loss(p):
        return -(apply(p, x) * y).sum(1).mean()

    @lib.jit
    def step(i, state):
        value, grads = lib.value_and_grad(loss)(get_params(state))
        return value, opt_update(i, grads, state)

    state, losses = opt_init(params), []
    for i in range(steps):
        value, state = step(i, state)
        losses.append(float(value))
    return np.array(losses), get_params(state)


def test_cnn_training_steps_match_jax():
    """Conv, BatchNorm, MaxPool, AvgPool and Dense trained with adam, compiled: the same
    losses and parameters as JAX's."""
    le, pe = _cnn_training(engine, es, eo, engine.random.PRNGKey(0))
    lj, pj = _cnn_training(jax, js, jo, jax.random.PRNGKey(0))
    np.testing.assert_allclose(le, lj, rtol=1e-5)
    assert le[-1] < le[0]
    _leaves_close(pe, pj, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------- explorer links

CONV_INIT, CONV_APPLY = es.Conv(4, (3, 3), padding="SAME")
BN_INIT, BN_APPLY = es.BatchNorm()
POOL_INIT, POOL_APPLY = es.MaxPool((2, 2), strides=(2, 2))
DENSE_INIT, DENSE_APPLY = es.Dense(10)


def _cnn_forward(params, x):
    h = CONV_APPLY(params[0], x)  # the convolution's line
    h = BN_APPLY(params[1], h)
    h = POOL_APPLY((), es.relu(h))
    return DENSE_APPLY(params[3], enp.reshape(h, (h.shape[0], -1)))


def _cnn_sgd_step(params, x, y):
    def loss(p):
        return -enp.mean(enp.sum(es.log_softmax(_cnn_forward(p, x)) * y, axis=1))

    grads = engine.grad(loss)(params)
    return engine.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)


def _xla_lines(text):
    """{instruction: (file, line)} from XLA's own metadata in the optimized text (its
    FileNames / FileLocations / StackFrames tables and each stack_frame_id)."""
    import json
    import re

    def table(title):
        m = re.search(rf"^{title}\n((?:\d+ .*\n)+)", text, re.M)
        rows = m.group(1).strip().split("\n") if m else []
        return {int(r.split(" ", 1)[0]): r.split(" ", 1)[1] for r in rows}

    files = {k: json.loads(v) for k, v in table("FileNames").items()}
    locs = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("FileLocations").items()}
    frames = {k: dict(re.findall(r"(\w+)=(\d+)", v)) for k, v in table("StackFrames").items()}
    out = {}
    for name, fid in re.findall(r"%([\w.\-]+) = [^\n]*?stack_frame_id=(\d+)", text):
        loc = locs[int(frames[int(fid)]["file_location_id"])]
        out[name] = (files[int(loc["file_name_id"])], int(loc["line"]))
    return out


def test_cnn_step_report_links_convolutions_to_the_user_line():
    """A stax CNN training step in the static report: every convolution XLA emits (the
    forward one and the ones of the gradient) links back to the line that applied the
    Conv layer, as XLA's own metadata says, and the page's link table and elements
    carry those links."""
    import re

    import visualize

    key = engine.random.PRNGKey(0)
    shape = (2, 8, 8, 3)
    k = engine.random.split(key, 4)
    s1, p0 = CONV_INIT(k[0], shape)
    s2, p1 = BN_INIT(k[1], s1)
    s3, _ = POOL_INIT(k[2], s2)
    _, p3 = DENSE_INIT(k[3], (s3[0], int(np.prod(s3[1:]))))
    params = [p0, p1, (), p3]
    x = np.random.RandomState(0).randn(*shape).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 2]]

    r = visualize.build_report(_cnn_sgd_step, params, x, y, repeats=0, profile=False, passes=False)
    text = r.stages.compiled.as_text()
    conv_line = (__file__, _cnn_forward.__code__.co_firstlineno + 1)
    convs = re.findall(r"%([\w.\-]+) = \S+ convolution\(", text)
    assert len(convs) >= 2  # the forward convolution and the kernel gradient's
    xla = _xla_lines(text)
    sm = r.stages.source_map
    for name in convs:
        assert xla[name] == conv_line, name  # XLA's metadata: the user's Conv line
        assert sm.lines_for_instruction(name) == [conv_line], name
    # the kernels (a top-level convolution or a fusion holding one) of the Conv line
    assert set(convs) <= set(sm.kernels_for_line(*conv_line))
    # the page: link table and one element per convolution in the optimized pane
    table = json.loads(
        re.search(
            r'<script[^>]*class="[^"]*gj-links[^"]*"[^>]*>(.*?)</script>', r.html, re.S
        ).group(1)
    )
    linked = {
        o
        for e in table["lines"][f"{conv_line[0]}:{conv_line[1]}"]
        for o in table["eqns"][e].get("o", []) + table["eqns"][e].get("ok", [])
    }
    assert set(convs) <= linked
    for name in convs:
        assert f'data-hlo-opt="{name}"' in r.html


def test_unknown_batch_dimension_in_shapes():
    """``-1`` for the batch (as the MNIST example's ``(-1, 28 * 28)``) goes through shape
    rules as JAX's do."""
    makers = [
        lambda s: s.Conv(4, (3, 3)),
        lambda s: s.ConvTranspose(4, (3, 3), strides=(2, 2), padding="SAME"),
        lambda s: s.MaxPool((2, 2)),
        lambda s: s.serial(s.Conv(4, (3, 3)), s.Flatten, s.Dense(3)),
        lambda s: s.serial(s.Dense(5), s.Relu, s.BatchNorm(axis=0)),
    ]
    for make in makers:
        out_e, _ = make(es)[0](engine.random.key(0), (-1, 8, 8, 3))
        out_j, _ = make(js)[0](jax.random.key(0), (-1, 8, 8, 3))
        assert tuple(map(int, out_e)) == tuple(map(int, out_j))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop", "rmsprop_momentum"])
def test_optimizer_update_jaxpr_is_jax_s(name):
    """One update of these optimizers traces to JAX's jaxpr, equation for equation (up
    to line wrapping). The others differ for reasons outside this library: adagrad's
    ``jnp.where`` is a nested ``jit`` in JAX, adam/adamax raise to an integer power
    (JAX keeps the int exponent), and schedules' Python-float literals print as float32
    values here."""
    args = (0.1,) if name in ("sgd", "rmsprop", "rmsprop_momentum") else (0.1, 0.9)
    init_e, update_e, get_e = getattr(eo, name)(*args)
    init_j, update_j, get_j = getattr(jo, name)(*args)
    p = {"w": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)}
    g = {"w": np.full((3, 2), 0.5, np.float32), "b": np.ones(2, np.float32)}
    text_e = engine.make_jaxpr(lambda i, g, s: get_e(update_e(i, g, s)))(2, g, init_e(p))
    text_j = jax.make_jaxpr(lambda i, g, s: get_j(update_j(i, g, s)))(2, g, init_j(p))
    assert " ".join(str(text_e).split()) == " ".join(str(text_j).split())
