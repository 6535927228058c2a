"""``jax.checkpoint``'s trace of a function is kept per function, argument structure,
avals, static values and config, as JAX 0.10.2 keeps it: a checkpointed function traced
again after a global it reads was redefined reuses the first trace (JAX's docs page
autodiff_remat.md shows this: ``checkpoint_name`` added to ``predict`` after
``jax.checkpoint(loss)`` was traced leaves the names out). Checked against real JAX."""

import contextlib
import io

import numpy as np
from helpers import real_jax

import engine
import engine.ad_checkpoint as ead

jax, jnp = real_jax()
from jax import ad_checkpoint as jad  # noqa: E402


def _program(m, adc):
    """Returns (printed text, jaxpr text, gradient) for one backend, running the page's
    sequence: trace checkpoint(loss) once, redefine predict with names, trace again."""
    ns: dict = {}

    def loss(params, x, y):
        return m.numpy.sum((ns["predict"](params, x) - y) ** 2)

    def layer(W, x):
        return m.numpy.sin(m.numpy.dot(W, x))

    def predict_plain(params, x):
        *Ws, Wlast = params
        for W in Ws:
            x = layer(W, x)
        return m.numpy.dot(Wlast, x)

    def predict_named(params, x):
        *Ws, Wlast = params
        for i, W in enumerate(Ws):
            x = adc.checkpoint_name(layer(W, x), name=f"layer{i}_output")
        return m.numpy.dot(Wlast, x)

    P = m.checkpoint_policies
    params = [np.full((4, 4), 0.5, np.float32) * (k + 1) for k in range(3)]
    x, y = np.ones(4, np.float32), np.arange(4, dtype=np.float32)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ns["predict"] = predict_plain
        adc.print_saved_residuals(
            m.checkpoint(loss, policy=P.dots_with_no_batch_dims_saveable), params, x, y
        )
        ns["predict"] = predict_named
        print("--")
        adc.print_saved_residuals(
            m.checkpoint(loss, policy=P.save_any_names_but_these("layer1_output")), params, x, y
        )
        print("-- a new function object traces anew")
        adc.print_saved_residuals(
            m.checkpoint(
                lambda p, x, y: loss(p, x, y), policy=P.save_only_these_names("layer0_output")
            ),
            params,
            x,
            y,
        )
    jaxpr = str(m.make_jaxpr(m.checkpoint(loss))(params, x, y))
    grad = m.grad(m.checkpoint(loss, policy=P.save_any_names_but_these("layer1_output")))(
        params, x, y
    )
    return out.getvalue(), jaxpr, [np.asarray(g) for g in grad]


def test_checkpoint_reuses_its_trace_of_a_function_as_jax():
    t_e, j_e, g_e = _program(engine, ead)
    t_j, j_j, g_j = _program(jax, jad)
    assert t_e == t_j
    assert "named 'layer0_output'" in t_e.split("-- a new function")[1]
    assert "named" not in t_e.split("--")[1]
    assert j_e == j_j
    assert "name[" not in j_e  # the first trace, before predict had names
    for a, b in zip(g_e, g_j):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def _count_traces(m, *calls):
    traces = []

    def f(x, k):
        traces.append(k)
        return m.numpy.sin(x) * k

    g = m.checkpoint(f, static_argnums=(1,))
    for x, k in calls:
        m.block_until_ready(g(x, k))
    return traces


def test_static_arguments_and_avals_key_the_trace():
    calls = [
        (np.float32(1.0), 2.0),
        (np.float32(3.0), 2.0),  # same static value, same aval: reused
        (np.float32(1.0), 3.0),  # another static value: traced again
        (np.ones(2, np.float32), 3.0),  # another shape: traced again
        (np.ones(2, np.float32), 3.0),
    ]
    assert _count_traces(engine, *calls) == _count_traces(jax, *calls) == [2.0, 3.0, 3.0]


def test_unhashable_static_argument_keys_by_identity():
    arr = [1.0, 2.0]  # a list: unhashable, compared by identity
    calls = [(np.float32(1.0), arr), (np.float32(2.0), arr), (np.float32(2.0), [1.0, 2.0])]

    def run(m):
        traces = []

        def f(x, k):
            traces.append(len(k))
            return x * k[0]

        g = m.checkpoint(f, static_argnums=(1,))
        for x, k in calls:
            m.block_until_ready(g(x, k))
        return traces

    assert run(engine) == run(jax) == [2, 2]
