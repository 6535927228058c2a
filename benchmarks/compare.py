"""Run each workload through the engine and through real JAX and print the ratios.

    python benchmarks/compare.py [--engine-python PY] [--jax-python PY] [--rounds N]
                                 [--only NAME ...] [--clock wall|cpu]

The engine side runs in ``--engine-python`` (default: this interpreter), ideally an
environment WITHOUT jax installed, since jaxlib imports jax lazily where it can. Both
sides are pinned to one core (``taskset -c 1`` where available), rounds alternate
between them, and the best time of each side is kept: the machines are shared and noisy,
so read the ratios, not the absolute times.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, os, sys
sys.path.insert(0, {here!r})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if {side!r} == "engine":
    import engine as jax, engine.numpy as jnp
else:
    import jax, jax.numpy as jnp
import workloads
if {clock!r} == "cpu":  # the thread's CPU time: what other processes on the core do is not counted
    import time
    workloads.time = type("clock", (), {{"perf_counter": staticmethod(time.thread_time)}})
out = {{name: fn(jax, jnp) for name, fn in workloads.WORKLOADS.items() if name in {names!r}}}
if {side!r} == "engine":
    out["_jax_imported"] = any(m == "jax" or m.startswith("jax.") for m in sys.modules)
print("RESULT" + json.dumps(out))
"""


def run_side(python, side, names, clock="wall"):
    cmd = [python, "-c", CHILD.format(here=HERE, side=side, names=names, clock=clock)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "1"] + cmd
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{r.stderr[-3000:]}")
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT") :])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine-python", default=sys.executable)
    ap.add_argument("--jax-python", default=sys.executable)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=None, help="workload names (default: all)")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter; cpu: the measuring thread's CPU time (steadier on a "
        "shared machine, but blind to work on other threads, e.g. XLA's)",
    )
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    import workloads

    names = args.only or list(workloads.WORKLOADS)
    best = {"engine": {}, "jax": {}}
    jax_imported = False
    for rnd in range(args.rounds):
        for side, py in (("engine", args.engine_python), ("jax", args.jax_python)):
            res = run_side(py, side, names, args.clock)
            jax_imported |= bool(res.pop("_jax_imported", False))
            for k, v in res.items():
                best[side][k] = min(v, best[side].get(k, float("inf")))
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'workload':<20}{'engine':>14}{'jax':>14}{'ratio':>9}")
    for k in names:
        e, j = best["engine"][k], best["jax"][k]
        print(f"{k:<20}{e * 1e6:>11.1f} us{j * 1e6:>11.1f} us{e / j:>8.2f}x")
    print(f"(engine side imported jax: {jax_imported}; clock: {args.clock})")


if __name__ == "__main__":
    main()
