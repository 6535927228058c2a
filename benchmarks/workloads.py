"""Workloads run identically through the engine and through real JAX.

Each ``run_*`` takes the API module pair (``jax``-like, ``jnp``-like) and returns the
best time in seconds of its measured unit. ``compare.py`` calls these in separate
processes (the engine's without ``jax`` installed) and prints ratios.
"""

import time

import numpy as np


def _best(fn, number, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def run_jit_dispatch(jax, jnp):
    """One call of a jitted x + 1 on a 1-element array (dispatch overhead)."""
    f = jax.jit(lambda x: x + 1.0)
    x = jnp.ones((1,), jnp.float32)
    f(x).block_until_ready()
    return _best(lambda: f(x), 2000, 7)


def run_eager_op(jax, jnp):
    """One un-jitted elementwise op on a small array (op-by-op latency)."""
    x = jnp.ones((8,), jnp.float32)
    y = jnp.ones((8,), jnp.float32)
    (x * y).block_until_ready()
    return _best(lambda: x * y, 2000, 7)


def run_keyed_round(jax, jnp):
    """Eager ``jnp.round(x, 2)`` on 8 elements: a jitted call with a static argument."""
    x = jnp.linspace(0.0, 1.0, 8, dtype=jnp.float32)
    jnp.round(x, 2).block_until_ready()
    return _best(lambda: jnp.round(x, 2), 2000, 7)


def run_keyed_clip(jax, jnp):
    """Eager ``jnp.clip(x, 0.0, 1.0)`` on 8 elements: a jitted call with Python scalars."""
    x = jnp.linspace(-1.0, 2.0, 8, dtype=jnp.float32)
    jnp.clip(x, 0.0, 1.0).block_until_ready()
    return _best(lambda: jnp.clip(x, 0.0, 1.0), 2000, 7)


def run_eager_sum_axis(jax, jnp):
    """Eager ``jnp.sum(x, axis=0)`` on a (4, 8) array: a reduction with a static axis."""
    x = jnp.ones((4, 8), jnp.float32)
    jnp.sum(x, axis=0).block_until_ready()
    return _best(lambda: jnp.sum(x, axis=0), 2000, 7)


def run_eager_where(jax, jnp):
    """Eager ``jnp.where(c, x, y)`` on 8 elements: a jitted select with a bool mask."""
    x = jnp.linspace(-1.0, 2.0, 8, dtype=jnp.float32)
    y = jnp.zeros((8,), jnp.float32)
    c = x > 0.5
    jnp.where(c, x, y).block_until_ready()
    return _best(lambda: jnp.where(c, x, y), 2000, 7)


def _long_program(jnp):
    def f(x):
        for _ in range(400):
            x = jnp.sin(x) * 1.01 + x * x - 0.5  # 5 ops per iteration
        return x

    return f


def run_trace_lower(jax, jnp):
    """Trace and lower a 2,000-op program to StableHLO (no compile)."""
    x = jnp.ones((4,), jnp.float32)

    def once():
        # a new function each time: JAX caches traces (and lowerings) per function object
        jax.jit(_long_program(jnp)).lower(x).as_text()

    once()
    return _best(once, 1, 5)


def _mlp_step(jax, jnp):
    def init(seed):
        r = np.random.RandomState(seed)
        sizes = [784, 512, 512, 10]
        return [
            (
                jnp.asarray(r.randn(m, n).astype(np.float32) * np.sqrt(2.0 / m)),
                jnp.zeros((n,), jnp.float32),
            )
            for m, n in zip(sizes[:-1], sizes[1:])
        ]

    def predict(params, x):
        for w, b in params[:-1]:
            x = jnp.maximum(x @ w + b, 0.0)
        w, b = params[-1]
        return x @ w + b

    def loss(params, x, y):
        logits = predict(params, x)
        m = jnp.max(logits, axis=1, keepdims=True)
        lse = jnp.log(jnp.sum(jnp.exp(logits - m), axis=1, keepdims=True)) + m
        return -jnp.mean(jnp.sum((logits - lse) * y, axis=1))

    @jax.jit
    def step(params, x, y):
        g = jax.grad(loss)(params, x, y)
        return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(params, g)]

    r = np.random.RandomState(1)
    x = jnp.asarray(r.randn(128, 784).astype(np.float32))
    y = jnp.asarray(np.eye(10, dtype=np.float32)[r.randint(0, 10, 128)])
    return step, init(0), x, y


def run_mlp_step(jax, jnp):
    """Steady-state time of one MLP (784-512-512-10, batch 128) SGD step."""
    step, params, x, y = _mlp_step(jax, jnp)
    params = step(params, x, y)
    jax.block_until_ready(params)

    def once():
        jax.block_until_ready(step(params, x, y))

    return _best(once, 20, 7)


def mlp_step_result(jax, jnp):
    """The updated params after one step, for a correctness check."""
    step, params, x, y = _mlp_step(jax, jnp)
    return [np.asarray(w) for wb in step(params, x, y) for w in wb]


def _transformer_step(jax, jnp):
    """One pre-LN decoder block (token + position embedding, causal multi-head attention
    through einsum and softmax, a GELU MLP, a tied output projection) trained by
    cross-entropy: jax.grad and an SGD update over a dict of parameters."""
    vocab, d, heads, hidden, batch, seq = 256, 128, 4, 512, 8, 64
    dh = d // heads
    r = np.random.RandomState(0)

    def w(*shape, scale):
        return jnp.asarray((r.randn(*shape) * scale).astype(np.float32))

    params = {
        "embed": w(vocab, d, scale=0.02),
        "pos": w(seq, d, scale=0.02),
        "ln1_g": jnp.ones((d,), jnp.float32),
        "ln1_b": jnp.zeros((d,), jnp.float32),
        "wqkv": w(d, 3 * d, scale=d**-0.5),
        "wo": w(d, d, scale=d**-0.5),
        "ln2_g": jnp.ones((d,), jnp.float32),
        "ln2_b": jnp.zeros((d,), jnp.float32),
        "w1": w(d, hidden, scale=d**-0.5),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "w2": w(hidden, d, scale=hidden**-0.5),
        "b2": jnp.zeros((d,), jnp.float32),
        "lnf_g": jnp.ones((d,), jnp.float32),
        "lnf_b": jnp.zeros((d,), jnp.float32),
    }

    def layer_norm(x, g, b):
        m = jnp.mean(x, axis=-1, keepdims=True)
        v = jnp.mean(jnp.square(x - m), axis=-1, keepdims=True)
        return (x - m) * jax.lax.rsqrt(v + 1e-5) * g + b

    def forward(p, tokens):
        x = p["embed"][tokens] + p["pos"]
        h = layer_norm(x, p["ln1_g"], p["ln1_b"])
        q, k, v = jnp.split(h @ p["wqkv"], 3, axis=-1)
        q, k, v = (t.reshape(batch, seq, heads, dh) for t in (q, k, v))
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(dh).astype(np.float32)
        causal = jnp.tril(jnp.ones((seq, seq), bool))
        a = jax.nn.softmax(jnp.where(causal, s, -1e9), axis=-1)
        o = jnp.einsum("bhqk,bkhd->bqhd", a, v).reshape(batch, seq, d)
        x = x + o @ p["wo"]
        h = layer_norm(x, p["ln2_g"], p["ln2_b"])
        x = x + jax.nn.gelu(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return layer_norm(x, p["lnf_g"], p["lnf_b"]) @ p["embed"].T

    def loss(p, tokens, targets):
        logp = jax.nn.log_softmax(forward(p, tokens), axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))

    @jax.jit
    def step(p, tokens, targets):
        g = jax.grad(loss)(p, tokens, targets)
        return {k: p[k] - 0.05 * g[k] for k in p}

    data = r.randint(0, vocab, (batch, seq + 1)).astype(np.int32)
    return step, params, jnp.asarray(data[:, :-1]), jnp.asarray(data[:, 1:])


def run_transformer_step(jax, jnp):
    """Steady-state time of one decoder-block SGD step (d=128, 4 heads, MLP 512, vocab
    256, batch 8 x 64 tokens)."""
    step, params, tokens, targets = _transformer_step(jax, jnp)
    params = step(params, tokens, targets)
    jax.block_until_ready(params)
    return _best(lambda: jax.block_until_ready(step(params, tokens, targets)), 20, 7)


def transformer_step_result(jax, jnp):
    """The updated params after one decoder-block step, for a correctness check."""
    step, params, tokens, targets = _transformer_step(jax, jnp)
    out = step(params, tokens, targets)
    return {k: np.asarray(v) for k, v in out.items()}


def run_cholesky_solve(jax, jnp):
    """A jitted 512x512 Cholesky factorization and two triangular solves (8 right-hand
    sides): LAPACK potrf + trsm on CPU."""
    r = np.random.RandomState(0)
    m = r.randn(512, 512).astype(np.float32)
    a = jnp.asarray(m @ m.T + 512 * np.eye(512, dtype=np.float32))
    b = jnp.asarray(r.randn(512, 8).astype(np.float32))
    linalg = jax.lax.linalg

    @jax.jit
    def solve(a, b):
        L = linalg.cholesky(a)
        y = linalg.triangular_solve(L, b, left_side=True, lower=True)
        return linalg.triangular_solve(L, y, left_side=True, lower=True, transpose_a=True)

    solve(a, b).block_until_ready()
    return _best(lambda: solve(a, b).block_until_ready(), 20, 5)


def run_fft_65536(jax, jnp):
    """A jitted 2^16-point complex FFT (jnp.fft.fft, XLA's DUCC kernel on CPU)."""
    r = np.random.RandomState(0)
    x = jnp.asarray((r.randn(65536) + 1j * r.randn(65536)).astype(np.complex64))
    f = jax.jit(jnp.fft.fft)
    f(x).block_until_ready()
    return _best(lambda: f(x).block_until_ready(), 50, 7)


def _cnn_step(jax, jnp):
    """conv 3x3 (1->16) + relu + 2x2 max-pool (reduce_window) + conv 3x3 (16->32) + relu +
    2x2 avg-pool (reduce_window sum) + dense (->10) + softmax cross-entropy; one SGD step,
    written with lax directly (NHWC images, HWIO kernels)."""
    lax = jax.lax
    dn = ("NHWC", "HWIO", "NHWC")
    r = np.random.RandomState(0)
    params = [
        jnp.asarray(r.randn(3, 3, 1, 16).astype(np.float32) * 0.3),
        jnp.asarray(r.randn(3, 3, 16, 32).astype(np.float32) * 0.1),
        jnp.asarray(r.randn(7 * 7 * 32, 10).astype(np.float32) * 0.05),
    ]

    def loss(params, x, y):
        k1, k2, w = params
        h = lax.conv_general_dilated(x, k1, (1, 1), "SAME", dimension_numbers=dn)
        h = jnp.maximum(h, 0.0)
        h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = lax.conv_general_dilated(h, k2, (1, 1), "SAME", dimension_numbers=dn)
        h = jnp.maximum(h, 0.0)
        h = lax.reduce_window(h, 0.0, lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") * 0.25
        logits = h.reshape((h.shape[0], -1)) @ w
        m = jnp.max(logits, axis=1, keepdims=True)
        lse = jnp.log(jnp.sum(jnp.exp(logits - m), axis=1, keepdims=True)) + m
        return -jnp.mean(jnp.sum((logits - lse) * y, axis=1))

    @jax.jit
    def step(params, x, y):
        g = jax.grad(loss)(params, x, y)
        return [p - 0.05 * gp for p, gp in zip(params, g)]

    x = jnp.asarray(r.rand(32, 28, 28, 1).astype(np.float32))
    y = jnp.asarray(np.eye(10, dtype=np.float32)[r.randint(0, 10, 32)])
    return step, params, x, y


def run_cnn_step(jax, jnp):
    """Steady-state time of one small-CNN SGD step (batch 32, 28x28x1)."""
    step, params, x, y = _cnn_step(jax, jnp)
    params = step(params, x, y)
    jax.block_until_ready(params)
    return _best(lambda: jax.block_until_ready(step(params, x, y)), 20, 7)


def cnn_step_result(jax, jnp):
    """The updated params after one CNN step, for a correctness check."""
    step, params, x, y = _cnn_step(jax, jnp)
    return [np.asarray(p) for p in step(params, x, y)]


WORKLOADS = {
    "jit_dispatch": run_jit_dispatch,
    "eager_op": run_eager_op,
    "keyed_round": run_keyed_round,
    "keyed_clip": run_keyed_clip,
    "eager_sum_axis": run_eager_sum_axis,
    "eager_where": run_eager_where,
    "trace_lower_2000": run_trace_lower,
    "mlp_step": run_mlp_step,
    "cholesky_solve_512": run_cholesky_solve,
    "fft_65536": run_fft_65536,
    "cnn_step": run_cnn_step,
    "transformer_step": run_transformer_step,
}
