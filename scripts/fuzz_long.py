"""Long profile of the differential fuzzer: random programs x transformations through the
engine and real JAX 0.10.2 for a time budget, every program reproducible from its seed.

    .venv/bin/python scripts/fuzz_long.py --minutes 20 --start-seed 100000
    .venv/bin/python scripts/fuzz_long.py --seed 100123     # rerun one program, print it
    .venv/bin/python scripts/fuzz_long.py --seed 100123 --only jax   # one side alone

Prints one block per mismatch (seed, transformation, program, differences) and a summary:
programs run, mismatches, accepted divergences, known (pinned) bugs hit, aborted programs
and counts per transformation.

The programs run in a worker process. XLA aborts the whole process on some programs (a
CHECK failure inside an optimization pass), so when the worker dies the supervisor replays
the program in flight through real JAX alone and through the engine alone, each in a fresh
process: an abort in JAX too is an accepted XLA abort; an abort in the engine only is a
mismatch. Then a new worker carries on from the next seed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fuzz_compare import (  # noqa: E402
    Case,
    check_case,
    draw_case,
    known_bug,
    known_divergence,
    run_case,
)
from tests.fuzz_programs import RandomChooser, engine_backend, jax_backend  # noqa: E402

# Test hook, a comma-separated list: "SEED" makes that seed's program abort the process on
# both sides (as an XLA CHECK failure would), "SEED:engine" or "SEED:jax" on that side only.
ABORT_AT_ENV = "GLASSJAX_FUZZ_ABORT_AT"
REPLAY_TIMEOUT_S = 600
# Accepted: real JAX alone aborts on the program too, so the abort is XLA's.
XLA_ABORT = "aborts in JAX too"
ENGINE_ABORT = "aborts in the engine only"
NOT_REPRODUCED = "no abort when replayed alone"


def _abort_if_asked(seed: int, side: str) -> None:
    for spec in filter(None, os.environ.get(ABORT_AT_ENV, "").split(",")):
        at, _, where = spec.strip().partition(":")
        if int(at) == seed and (side == "both" or where in ("", side)):
            sys.stderr.write(
                f"F0000 00:00:00.000000 fuzz_long.py] {ABORT_AT_ENV} abort at {seed}\n"
            )
            sys.stderr.flush()
            os.abort()


def _case(seed: int, max_ops: int) -> Case:
    return draw_case(RandomChooser(seed), max_ops=max_ops)


def _transform_name(case: Case) -> str:
    return "+".join(case.transform) or "eager"


def run_one(seed: int, max_ops: int):
    """(case, problems) of the program drawn from ``seed``."""
    case = _case(seed, max_ops)
    _abort_if_asked(seed, "both")
    try:
        problems = check_case(case)
    except Exception as e:  # noqa: BLE001 - a harness failure is a finding too
        problems = [f"harness error {type(e).__name__}: {e}"]
    return case, problems


def run_side(seed: int, max_ops: int, side: str) -> int:
    """Run one seed's program through one backend only (to see which side aborts)."""
    case = _case(seed, max_ops)
    print(f"seed {seed} ({side} only)\n{case.text()}")
    _abort_if_asked(seed, side)
    outcome = run_case(jax_backend() if side == "jax" else engine_backend(), case)
    if outcome.error is not None:
        print(f"raised {type(outcome.error).__name__}: {outcome.error}")
    else:
        print("returned", [(v.dtype.name, v.shape) for v, _, _ in outcome.value])
    return 0


def _clear_caches() -> None:
    import engine
    from tests.helpers import real_jax

    engine.clear_caches()
    real_jax()[0].clear_caches()


def _verdict(case: Case, problems: list[str]) -> str:
    if not problems:
        return "ok"
    if known_divergence(case, problems):
        return "accepted"
    if known_bug(problems):
        return "known_bug"
    return "mismatch"


def work(args: argparse.Namespace) -> int:
    """The worker: run seeds from --start-seed until --until (epoch seconds) or
    --max-programs, appending one JSON line per finished program to --worker-results
    and a final {"done": ...} line; --progress names the seed in flight."""
    seed, runs = args.start_seed, 0
    with open(args.worker_results, "a") as results:
        while time.time() < args.until and (args.max_programs is None or runs < args.max_programs):
            with open(args.progress, "w") as f:
                f.write(f"{seed}\n")
            case, problems = run_one(seed, args.max_ops)
            verdict = _verdict(case, problems)
            record = {"seed": seed, "transform": _transform_name(case), "verdict": verdict}
            if verdict == "known_bug":
                record["bug"] = (known_bug(problems) or "")[:60]
            if verdict == "mismatch":
                record["problems"] = problems
                print(f"=== seed {seed} [{record['transform']}]\n{case.text()}\n  ", end="")
                print("\n  ".join(problems), flush=True)
            results.write(json.dumps(record) + "\n")
            results.flush()
            seed, runs = seed + 1, runs + 1
            if args.clear_every and runs % args.clear_every == 0:
                _clear_caches()
        results.write(json.dumps({"done": True}) + "\n")
    return 0


def _signal_name(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _abort_reason(stderr: str) -> str:
    """XLA's fatal log line (F<date> ... file:line] message) when there is one, else the
    last line the process wrote."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if re.match(r"F\d{4} ", line) or "Check failed" in line]
    return ((fatal or lines or [""])[-1 if not fatal else 0])[:300]


def _replay(seed: int, max_ops: int, side: str) -> dict[str, Any]:
    """Replay one seed through one side in a fresh process: did it abort, and why."""
    cmd = [sys.executable, os.path.abspath(__file__), "--seed", str(seed), "--only", side]
    cmd += ["--max-ops", str(max_ops)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=REPLAY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"aborted": False, "how": f"still running after {REPLAY_TIMEOUT_S} s"}
    if proc.returncode < 0:
        return {
            "aborted": True,
            "how": _signal_name(proc.returncode),
            "reason": _abort_reason(proc.stderr),
        }
    return {"aborted": False, "how": _signal_name(proc.returncode)}


def classify_abort(seed: int, max_ops: int, worker_returncode: int) -> dict[str, Any]:
    """The record of a seed whose program killed the worker."""
    case = _case(seed, max_ops)
    jax_side = _replay(seed, max_ops, "jax")
    engine_side = _replay(seed, max_ops, "engine")
    if jax_side["aborted"]:
        verdict, reason = XLA_ABORT, jax_side["reason"]
    elif engine_side["aborted"]:
        verdict, reason = ENGINE_ABORT, engine_side["reason"]
    else:
        verdict, reason = NOT_REPRODUCED, "the worker died only in the long run"
    return {
        "seed": seed,
        "transform": _transform_name(case),
        "worker": _signal_name(worker_returncode),
        "verdict": verdict,
        "accepted": verdict == XLA_ABORT,
        "reason": reason,
        "jax_alone": jax_side["how"],
        "engine_alone": engine_side["how"],
        "program": case.text(),
    }


def _read_records(path: str) -> tuple[list[dict[str, Any]], bool]:
    records, done = [], False
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by the abort
                continue
            if record.get("done"):
                done = True
            else:
                records.append(record)
    return records, done


def _read_seed(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def supervise(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="fuzz_long_") as scratch:
        return _supervise(args, scratch)


def _supervise(args: argparse.Namespace, scratch: str) -> int:
    until = time.time() + args.minutes * 60
    progress = args.progress or os.path.join(scratch, "progress.txt")
    results_path = os.path.join(scratch, "results.jsonl")
    records: list[dict[str, Any]] = []
    aborted: list[dict[str, Any]] = []
    seed, restarts, failure = args.start_seed, 0, None
    while True:
        ran = len(records) + len(aborted)
        remaining = None if args.max_programs is None else args.max_programs - ran
        if time.time() >= until or (remaining is not None and remaining <= 0):
            break
        open(progress, "w").close()
        open(results_path, "w").close()
        cmd = [sys.executable, os.path.abspath(__file__), "--worker-results", results_path]
        cmd += ["--until", repr(until), "--start-seed", str(seed), "--progress", progress]
        cmd += ["--max-ops", str(args.max_ops), "--clear-every", str(args.clear_every)]
        if remaining is not None:
            cmd += ["--max-programs", str(remaining)]
        returncode = subprocess.run(cmd).returncode
        finished, done = _read_records(results_path)
        records += finished
        if done and returncode == 0:
            break
        in_flight = _read_seed(progress)
        if in_flight is None or (finished and in_flight <= finished[-1]["seed"]):
            failure = f"worker failed before running a program ({_signal_name(returncode)})"
            break
        entry = classify_abort(in_flight, args.max_ops, returncode)
        aborted.append(entry)
        print(
            f"=== seed {in_flight} [{entry['transform']}] killed the worker "
            f"({entry['worker']}): {entry['verdict']}\n  {entry['reason']}\n{entry['program']}",
            flush=True,
        )
        seed, restarts = in_flight + 1, restarts + 1
    return _report(args, records, aborted, restarts, failure)


def _report(args, records, aborted, restarts, failure) -> int:
    per_transform = collections.Counter(r["transform"] for r in records + aborted)
    verdicts = collections.Counter(r["verdict"] for r in records)
    mismatches = [r for r in records if r["verdict"] == "mismatch"]
    bad_aborts = [a for a in aborted if not a["accepted"]]
    last = max([r["seed"] for r in records + aborted], default=args.start_seed - 1)
    summary: dict[str, Any] = {
        "programs": len(records) + len(aborted),
        "mismatches": len(mismatches) + len(bad_aborts),
        "accepted_divergences": verdicts["accepted"],
        "known_bugs": dict(collections.Counter(r["bug"] for r in records if "bug" in r)),
        "accepted_xla_aborts": len(aborted) - len(bad_aborts),
        "worker_restarts": restarts,
        "seeds": [args.start_seed, last],
        "per_transform": dict(per_transform),
        "aborted": [{k: v for k, v in a.items() if k != "program"} for a in aborted],
    }
    if failure:
        summary["failure"] = failure
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**summary, "mismatch_list": mismatches, "aborted": aborted}, f, indent=1)
    return 2 if failure else 1 if summary["mismatches"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--start-seed", type=int, default=100_000)
    parser.add_argument("--max-ops", type=int, default=6)
    parser.add_argument("--max-programs", type=int, help="stop after this many programs")
    parser.add_argument("--seed", type=int, help="run only this seed and print its program")
    parser.add_argument(
        "--only",
        choices=("jax", "engine"),
        help="with --seed: run the program through this side alone (to see which aborts)",
    )
    parser.add_argument("--json", help="write the summary (and mismatch seeds) here")
    parser.add_argument(
        "--progress",
        help="rewrite this file with each seed before running it (names the program in "
        "flight when XLA kills the worker)",
    )
    parser.add_argument(
        "--clear-every",
        type=int,
        default=200,
        help="clear both sides' compile caches every N programs (each program compiles "
        "its own executables; thousands of them exhaust the process's memory maps)",
    )
    parser.add_argument("--worker-results", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.seed is not None:
        if args.only:
            return run_side(args.seed, args.max_ops, args.only)
        case, problems = run_one(args.seed, args.max_ops)
        print(f"seed {args.seed}\n{case.text()}")
        print("\n".join(problems) if problems else "no differences")
        return 1 if problems else 0
    if args.worker_results:
        return work(args)
    return supervise(args)


if __name__ == "__main__":
    sys.exit(main())
