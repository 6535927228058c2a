"""The long fuzz profile's supervisor (scripts/fuzz_long.py): when XLA aborts the worker
process on a program, the run records the seed, replays it through each side alone to
classify the abort, and carries on from the next seed. The aborts here come from the
script's test hook (GLASSJAX_FUZZ_ABORT_AT), which kills the process as XLA's fatal
CHECK does (a log line, then SIGABRT), so no real XLA crash is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "fuzz_long.py")
START = 360000  # seeds whose programs run clean on both sides


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_aborted_programs_are_classified_and_the_run_goes_on(tmp_path):
    out = tmp_path / "summary.json"
    # START aborts on both sides (as XLA does in real JAX too); START+1 in the engine only
    env = {
        **os.environ,
        "GLASSJAX_FUZZ_ABORT_AT": f"{START},{START + 1}:engine",
        "PYTHONPATH": ROOT,
    }
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--minutes", "2", "--start-seed", str(START)]
        + ["--max-programs", "3", "--json", str(out), "--progress", str(tmp_path / "p.txt")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    summary = json.loads(out.read_text())
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the engine-only abort
    assert summary["programs"] == 3
    assert summary["seeds"] == [START, START + 2]
    assert summary["worker_restarts"] == 2
    assert summary["mismatches"] == 1
    assert summary["accepted_xla_aborts"] == 1
    in_jax_too, in_engine_only = summary["aborted"]

    assert in_jax_too["seed"] == START
    assert in_jax_too["verdict"] == "aborts in JAX too"
    assert in_jax_too["accepted"] is True
    assert in_jax_too["worker"] == in_jax_too["jax_alone"] == "SIGABRT"
    assert f"abort at {START}" in in_jax_too["reason"]
    assert in_jax_too["program"].count("\n") >= 2  # the program text, to reproduce it
    assert f"seed {START} [{in_jax_too['transform']}] killed the worker" in proc.stdout

    assert in_engine_only["seed"] == START + 1
    assert in_engine_only["verdict"] == "aborts in the engine only"
    assert in_engine_only["accepted"] is False
    assert in_engine_only["jax_alone"] == "exit status 0"
    assert in_engine_only["engine_alone"] == "SIGABRT"
    assert f"abort at {START + 1}" in in_engine_only["reason"]
    # START+2 ran to the end in the third worker: a finished program, not an abort
    assert sum(summary["per_transform"].values()) == 3


def test_abort_reason_is_xlas_fatal_line():
    sys.path.insert(0, ROOT)
    from scripts.fuzz_long import _abort_reason

    stderr = (
        "W1206 10:59:59.000000 1234 something.cc:1] earlier warning\n"
        "F1206 11:00:00.000000 1234 hlo_instruction.cc:1615] Invalid binary instruction "
        "opcode map\n"
        "*** Check failure stack trace: ***\n"
        "    @ 0x7f0000000000 (unknown)\n"
    )
    assert _abort_reason(stderr) == (
        "F1206 11:00:00.000000 1234 hlo_instruction.cc:1615] Invalid binary instruction opcode map"
    )
    assert _abort_reason("first\nlast words\n") == "last words"
    assert _abort_reason("") == ""
