"""A GPU smoke check of the engine (run on a machine with a CUDA PJRT plugin):
devices, the MLP training step on GPU against the same step on CPU, transformations
and control flow on GPU, and the names XLA's GPU pipeline gives its dump files."""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

import engine as jax  # noqa: E402
import engine.numpy as jnp  # noqa: E402


def main():
    print("backend:", jax.default_backend(), "devices:", jax.devices())
    gpu = jax.devices("gpu")[0]
    cpu = jax.devices("cpu")[0]
    step, params, x, y = workloads._mlp_step(jax, jnp)
    on = lambda tree, d: jax.device_put(tree, d)  # noqa: E731
    out_gpu = step(on(params, gpu), on(x, gpu), on(y, gpu))
    out_cpu = step(on(params, cpu), on(x, cpu), on(y, cpu))
    diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for pa, pb in zip(out_gpu, out_cpu)
        for a, b in zip(pa, pb)
    )
    print("MLP step GPU vs CPU max abs diff:", diff, "device:", out_gpu[0][0].device)
    p = on(params, gpu)
    xg, yg = on(x, gpu), on(y, gpu)
    jax.block_until_ready(step(p, xg, yg))
    t0 = time.perf_counter()
    for _ in range(50):
        p = step(p, xg, yg)
    jax.block_until_ready(p)
    print(f"MLP step on GPU: {(time.perf_counter() - t0) / 50 * 1e6:.1f} us/step")

    f = lambda v: jnp.sum(jnp.tanh(v) ** 2)  # noqa: E731
    v = jax.device_put(jnp.linspace(-1.0, 1.0, 8), gpu)
    g = jax.jit(jax.vmap(jax.grad(f)))(v.reshape(2, 4))
    expect = 2 * np.tanh(np.linspace(-1, 1, 8)) * (1 - np.tanh(np.linspace(-1, 1, 8)) ** 2)
    print(
        "jit(vmap(grad)) on GPU ok:",
        np.allclose(np.asarray(g).ravel(), expect, atol=1e-5),
        g.device,
    )
    s = lambda v: jax.lax.scan(lambda c, a: (c * a + 1.0, jnp.sin(c)), 1.0, v)  # noqa: E731
    print("grad(scan) on GPU:", jax.grad(lambda v: s(v)[0])(v))
    key = jax.random.PRNGKey(0)
    print("random.normal on GPU:", jax.random.normal(jax.device_put(key, gpu), (3,)))

    from visualize import passes

    tl = passes.compile_with_passes(
        jax.jit(lambda a, b: jnp.sum(jnp.sin(a) * b)),
        jax.device_put(jnp.ones(64), gpu),
        jax.device_put(jnp.ones(64), gpu),
    )
    print(
        "GPU pass timeline:",
        len(tl.passes),
        "changed passes; fusion passes:",
        [s.pass_name for s in tl.fusion_passes()][:6],
    )
    print("final matches compiled:", tl.final_matches_compiled())


if __name__ == "__main__":
    main()
