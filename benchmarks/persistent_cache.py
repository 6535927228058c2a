"""Persistent compilation cache: compile time of the MLP step in a first process (empty
cache folder) and in a second process (the first one's entry on disk).

    .venv/bin/python benchmarks/persistent_cache.py [--rounds 3] [--no-jax]

Each round uses a fresh folder and two fresh processes; the time is that of
``jit(step).lower(...).compile()`` alone (tracing and lowering excluded). The minimum
compile time to write an entry is set to 0 in both engines (JAX's default, 1 s, would
skip a compile this short). Real JAX runs the same workload the same way for reference.
Exits with status 1 if the engine's second compile takes more than 10% of its first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_CHILD = """
import json, sys, time
sys.path[:0] = [{root!r}, {here!r}]
if {use_jax}:
    import jax, jax.numpy as jnp
else:
    import engine as jax, engine.numpy as jnp
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
from workloads import _mlp_step
step, params, x, y = _mlp_step(jax, jnp)
lowered = step.lower(params, x, y)
t0 = time.perf_counter()
compiled = lowered.compile()
seconds = time.perf_counter() - t0
jax.block_until_ready(compiled(params, x, y))
print(json.dumps({{"seconds": seconds, "loaded": getattr(compiled, "loaded_from_cache", None)}}))
"""


def _child(folder: str, use_jax: bool) -> dict:
    code = _CHILD.format(root=ROOT, here=HERE, use_jax=use_jax)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", code, folder], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(use_jax: bool, rounds: int) -> tuple[float, float, object]:
    """(best first-process compile s, best second-process compile s, loaded flag)."""
    firsts, seconds, loaded = [], [], None
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="gjx_pcache_bench_") as folder:
            firsts.append(_child(folder, use_jax)["seconds"])
            second = _child(folder, use_jax)
            seconds.append(second["seconds"])
            loaded = second["loaded"]
    return min(firsts), min(seconds), loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-jax", action="store_true", help="skip real JAX's reference run")
    args = parser.parse_args()
    rows = [("glassjax", *measure(False, args.rounds))]
    if not args.no_jax:
        try:
            rows.append(("jax", *measure(True, args.rounds)))
        except RuntimeError as e:
            print(f"jax reference skipped: {e}", file=sys.stderr)
    print(f"MLP step (784-512-512-10, batch 128), best of {args.rounds} rounds, CPU")
    print(f"{'engine':10} {'1st process':>14} {'2nd process':>14} {'2nd/1st':>8}  loaded")
    for name, first, second, loaded in rows:
        print(
            f"{name:10} {first * 1e3:11.1f} ms {second * 1e3:11.1f} ms "
            f"{second / first:8.3f}  {loaded}"
        )
    ratio = rows[0][2] / rows[0][1]
    ok = ratio <= 0.10 and rows[0][3] is True
    print(f"glassjax second/first = {ratio:.3f} ({'ok' if ok else 'FAIL'}: needs <= 0.10)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
