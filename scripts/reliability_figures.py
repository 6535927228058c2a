"""Issue 12's figures for a closing note: counts, not timings.

    .venv/bin/python scripts/reliability_figures.py

Signed-zero results that were silently wrong, compiles for 8 threads x 1,000 calls of a
closure, compiles for 3 rounds over 300 shapes with the 256-entry limit, and allocated
blocks per 1,000 jitted calls and eager ops.
"""

import gc
import sys
import threading

import numpy as np

import engine
import engine.numpy as jnp


def signed_zero_wrong() -> int:
    f = engine.jit(lambda x: 1.0 / x)
    f(0.0)
    checks = [
        float(jnp.arctan2(0.0, -1.0)) == float(np.float32(np.pi)),
        float(f(-0.0)) == -np.inf,
        bool(np.signbit(np.asarray(jnp.full(2, -0.0))).all()),
        bool(np.signbit(float(jnp.maximum(-1, -0.0)))),
        bool(np.signbit(float(jnp.ones(()) * -0.0))),
    ]
    return checks.count(False)


def thread_compiles():
    c = jnp.arange(4.0)
    g = engine.jit(lambda x: x * c)
    x = jnp.ones(4)
    barrier = threading.Barrier(8)

    def run():
        barrier.wait()
        for _ in range(1000):
            g(x)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return g.cache_info()


def eviction_compiles():
    h = engine.jit(lambda x: x + 1)
    for _round in range(3):
        for n in range(1, 301):
            h(np.ones(n, np.float32))
    return h.cache_info()


def blocks_per_thousand():
    k = engine.jit(lambda x: x + 1)
    y = jnp.ones(3)
    for _ in range(2000):
        k(y)
        y * 2
    counts = []
    for step in (lambda: k(y), lambda: y * 2):
        gc.collect()
        before = sys.getallocatedblocks()
        for _ in range(10000):
            step()
        gc.collect()
        counts.append((sys.getallocatedblocks() - before) / 10)
    return counts


if __name__ == "__main__":
    print("signed-zero results silently wrong:", signed_zero_wrong(), "of 5")
    info = thread_compiles()
    print("8 threads x 1000 calls: compiles", info.compile_count, "hits", info.hits)
    info = eviction_compiles()
    print(f"3 rounds x 300 shapes, limit {info.maxsize}: compiles {info.compile_count}")
    jitted, eager = blocks_per_thousand()
    print(f"allocated blocks per 1000 jitted calls: {jitted:.1f}; per 1000 eager ops: {eager:.1f}")
    print("live arrays:", len(engine.live_arrays()))
