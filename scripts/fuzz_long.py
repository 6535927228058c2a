"""Long profile of the differential fuzzer: random programs x transformations through the
engine and real JAX 0.10.2 for a time budget, every program reproducible from its seed.

    .venv/bin/python scripts/fuzz_long.py --minutes 20 --start-seed 100000
    .venv/bin/python scripts/fuzz_long.py --seed 100123     # rerun one program, print it

Prints one block per mismatch (seed, transformation, program, differences) and a summary:
programs run, mismatches, accepted divergences, known (pinned) bugs hit, and counts per
transformation.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fuzz_compare import check_case, draw_case, known_bug, known_divergence  # noqa: E402
from tests.fuzz_programs import RandomChooser  # noqa: E402


def run_one(seed: int, max_ops: int):
    """(case, problems) of the program drawn from ``seed``."""
    case = draw_case(RandomChooser(seed), max_ops=max_ops)
    try:
        problems = check_case(case)
    except Exception as e:  # noqa: BLE001 - a harness failure is a finding too
        problems = [f"harness error {type(e).__name__}: {e}"]
    return case, problems


def _clear_caches() -> None:
    import engine
    from tests.helpers import real_jax

    engine.clear_caches()
    real_jax()[0].clear_caches()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--start-seed", type=int, default=100_000)
    parser.add_argument("--max-ops", type=int, default=6)
    parser.add_argument("--seed", type=int, help="run only this seed and print its program")
    parser.add_argument("--json", help="write the summary (and mismatch seeds) here")
    parser.add_argument(
        "--progress",
        help="rewrite this file with each seed before running it (a crash inside XLA "
        "kills the process: the file then names the program that did it)",
    )
    parser.add_argument(
        "--clear-every",
        type=int,
        default=200,
        help="clear both sides' compile caches every N programs (each program compiles "
        "its own executables; thousands of them exhaust the process's memory maps)",
    )
    args = parser.parse_args(argv)

    if args.seed is not None:
        case, problems = run_one(args.seed, args.max_ops)
        print(f"seed {args.seed}\n{case.text()}")
        print("\n".join(problems) if problems else "no differences")
        return 1 if problems else 0

    deadline = time.monotonic() + args.minutes * 60
    seed, runs, per_transform = args.start_seed, 0, collections.Counter()
    mismatches: list[dict] = []
    accepted, known_bugs = 0, collections.Counter()
    while time.monotonic() < deadline:
        if args.progress:
            with open(args.progress, "w") as f:
                f.write(f"{seed}\n")
        case, problems = run_one(seed, args.max_ops)
        name = "+".join(case.transform) or "eager"
        runs += 1
        per_transform[name] += 1
        if problems and known_divergence(case, problems):
            accepted += 1
        elif problems and known_bug(problems):
            known_bugs[known_bug(problems)[:60]] += 1
        elif problems:
            mismatches.append({"seed": seed, "transform": name, "problems": problems})
            print(f"=== seed {seed} [{name}]\n{case.text()}\n  " + "\n  ".join(problems))
            sys.stdout.flush()
        seed += 1
        if args.clear_every and runs % args.clear_every == 0:
            _clear_caches()

    summary = {
        "programs": runs,
        "mismatches": len(mismatches),
        "accepted_divergences": accepted,
        "known_bugs": dict(known_bugs),
        "seeds": [args.start_seed, seed - 1],
        "per_transform": dict(per_transform),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**summary, "mismatch_list": mismatches}, f, indent=1)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
