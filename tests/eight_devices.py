"""Cases that need 8 CPU devices run in one child process (the device count is fixed
when a backend starts, and this worker's engine and JAX already have one device).

A test file makes its registry with ``CASES, case = case_registry()``, decorates each
case with ``@case``, parametrizes its tests over ``CASES`` with
``outcome(__file__, name)``, and ends with ``if __name__ == "__main__": main(CASES)``.
A case may call ``pytest.skip``; its test then skips with the same reason. Inside a
case, ``both(fn)`` runs ``fn(lib)`` on the engine and on real JAX."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
_results: dict[str, dict] = {}


def case_registry() -> tuple[dict[str, Callable[[], None]], Callable]:
    """A test file's cases (name -> function) and the decorator that adds one."""
    cases: dict[str, Callable[[], None]] = {}

    def case(fn: Callable[[], None]) -> Callable[[], None]:
        cases[fn.__name__] = fn
        return fn

    return cases, case


def libs():
    """(engine, jax), imported in the child only: the parent never starts a backend."""
    import jax

    import engine

    return engine, jax


def both(fn: Callable) -> tuple:
    """fn(lib) on the engine and on JAX: (engine's result, JAX's result)."""
    engine, jax = libs()
    return fn(engine), fn(jax)


def main(cases: dict) -> None:
    """The child: run the named cases (all by default) on 8 devices, print the outcomes."""
    sys.path[:0] = [TESTS, ROOT]
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax

    jax.config.update("jax_num_cpu_devices", 8)
    import engine

    engine.config.update("jax_num_cpu_devices", 8)
    out = {}
    for name in sys.argv[1:] or sorted(cases):
        try:
            cases[name]()
            out[name] = "ok"
        except pytest.skip.Exception as e:
            out[name] = f"skip: {e}"
        except Exception:
            out[name] = traceback.format_exc()
    print(json.dumps(out))


def outcome(test_file: str, name: str) -> str:
    """Case ``name``'s outcome ("ok" or a traceback), running every case of
    ``test_file`` in one child the first time; skips the test if the case skipped."""
    results = _results.get(test_file)
    if results is None:
        proc = subprocess.run(
            [sys.executable, test_file],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
            env=dict(os.environ, JAX_PLATFORMS="cpu"),
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise AssertionError(f"the cases did not run:\n{proc.stdout}\n{proc.stderr}")
        results = _results[test_file] = json.loads(lines[-1])
    got = results.get(name)
    if got is not None and got.startswith("skip: "):
        pytest.skip(got[len("skip: ") :])
    return got
