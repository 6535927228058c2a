"""Issue 12's figures for a closing note, as a table: counts, not timings.

    .venv/bin/python scripts/reliability_figures.py [--sigint-runs 4] [--fuzz-json F ...]

SIGINTs sent during XLA compiles (child processes, 3 each) and how many crashed, signed-zero
results that were silently wrong, compiles for 8 threads x 1,000 calls of a closure,
compiles for 3 rounds over 300 shapes with the 256-entry limit, allocated blocks per 1,000
jitted calls and eager ops, int8 + 1000, and the long fuzz profile's runs (the JSON files
scripts/fuzz_long.py --json writes). The "issue 12" column is what the issue measured
before any fix; the "now" column is measured by this run.
"""

import argparse
import gc
import json
import os
import sys
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import engine  # noqa: E402
import engine.numpy as jnp  # noqa: E402

# The child is tests/test_interrupt.py's: it lowers a program whose compile takes seconds,
# sends itself SIGINT at three points of three compiles, then runs a small jit; it must
# exit 0 and print "alive".
_SIGINT_BODY = """
for delay in (0.05, 0.3, 0.8):
    sigint_in(delay)
    try:
        lowered.compile()
        print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    time.sleep(0.1)
print("alive", jax.jit(lambda x: x * 2 + 1)(jnp.arange(3.0)).tolist(), flush=True)
"""


def sigint_crashes(runs: int) -> tuple[int, int, int]:
    """(SIGINTs sent, processes that crashed or lost control, compiles interrupted)."""
    from tests.test_interrupt import run_interrupted_child

    crashed = interrupted = 0
    for _ in range(runs):
        r = run_interrupted_child(_SIGINT_BODY, timeout=None)
        ok = r.returncode == 0 and "alive [1.0, 3.0, 5.0]" in r.stdout
        crashed += not ok
        interrupted += r.stdout.count("interrupted") - r.stdout.count("not interrupted")
    return 3 * runs, crashed, interrupted


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


def int8_plus_1000() -> str:
    try:
        return str(jnp.arange(3, dtype=jnp.int8) + 1000)
    except Exception as e:  # noqa: BLE001 - the figure is what happens
        return type(e).__name__


def fuzz_rows(paths: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        lo, hi = run["seeds"]
        rows.append(
            (
                f"long fuzz profile, seeds {lo}-{hi}",
                "",
                f"{run['programs']:,} programs, {run['mismatches']} mismatches "
                f"({run['accepted_divergences']} accepted divergences)",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigint-runs", type=int, default=4, help="child processes, 3 each")
    parser.add_argument("--fuzz-json", nargs="*", default=[], help="fuzz_long.py --json files")
    args = parser.parse_args(argv)

    rows = []
    if args.sigint_runs:
        sent, crashed, interrupted = sigint_crashes(args.sigint_runs)
        rows.append(
            (
                "SIGINT during compile: crashes",
                "12 of 12",
                f"{crashed} of {sent} ({interrupted} compiles interrupted)",
            )
        )
    rows.append(("signed-zero results silently wrong", "5 of 5", f"{signed_zero_wrong()} of 5"))
    info = thread_compiles()
    rows.append(
        (
            "compiles, 8 threads x 1,000 calls of a closure",
            "8,000",
            f"{info.compile_count} ({info.hits:,} hits counted)",
        )
    )
    info = eviction_compiles()
    rows.append(
        (
            f"compiles, 3 rounds x 300 shapes, limit {info.maxsize}",
            "900",
            f"{info.compile_count} ({info.compile_count - 300} after the first round)",
        )
    )
    jitted, eager = blocks_per_thousand()
    rows.append(
        (
            "allocated blocks per 1,000 calls",
            "~1,000 (one object a call)",
            f"{jitted:.1f} jitted, {eager:.1f} eager",
        )
    )
    rows.append(("jnp.arange(3, dtype=int8) + 1000", "OverflowError", int8_plus_1000()))
    rows += fuzz_rows(args.fuzz_json)
    print("| figure | issue 12 | now |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nlive arrays at the end: {len(engine.live_arrays())}")


if __name__ == "__main__":
    main()
