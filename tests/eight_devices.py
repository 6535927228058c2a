"""Cases that need 8 CPU devices run in one child process (the device count is fixed
when a backend starts, and this worker's engine and JAX already have one device).

A test file makes its registry with ``CASES, case = case_registry()``, decorates each
case with ``@case``, parametrizes its tests over ``CASES`` with
``outcome(__file__, name)``, and ends with ``if __name__ == "__main__": main(CASES)``.
A case may call ``pytest.skip``; its test then skips with the same reason. Inside a
case, ``both(fn)`` runs ``fn(lib)`` on the engine and on real JAX.

What a case compares of one snippet run under a mesh: ``mesh(lib)`` (the (4, 2) mesh
('X', 'Y') of the cases), ``attempt(fn)`` (its result, or its exception as (class,
message)), ``raised(fn)`` (the exception it must raise), ``typed(lib, x)`` (typeof and
value) and ``constraint_lines(text)`` (a lowered module's Shardy annotations)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
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


def assert_same_error(ours: tuple | None, theirs: tuple, phrases: Sequence[str]) -> None:
    """JAX raised ``theirs`` (class name, message): the engine raised the same class, and
    both messages contain every phrase (an error case must name at least one)."""
    assert ours is not None, f"JAX raised {theirs}, the engine did not"
    assert ours[0] == theirs[0], (ours, theirs)
    assert phrases, theirs
    for p in phrases:
        assert p in theirs[1], (p, theirs[1])
        assert p in ours[1], (p, ours[1])


def assert_same_by_name(run: Callable) -> None:
    """run(lib) gives {name: what was seen}: the engine's and JAX's have the same names
    and the same value under each."""
    ours, theirs = both(run)
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert ours[name] == theirs[name], name


def mesh(lib, axis_types: str = "Explicit"):
    """The cases' (4, 2) mesh over axes ('X', 'Y'), both of AxisType ``axis_types``."""
    kind = getattr(lib.sharding.AxisType, axis_types)
    return lib.make_mesh((4, 2), ("X", "Y"), (kind, kind))


def attempt(fn: Callable[[], Any], *, short_dtypes: bool = False) -> tuple:
    """(fn(), None), or (None, (class name, message)) when it raises. JAX spells dtypes
    in full in a ShapedArray's repr, the engine short: ``short_dtypes`` shortens
    float32 in the message so that the two compare."""
    try:
        return fn(), None
    except Exception as e:  # the class and message are what is compared
        message = str(e).replace("float32", "f32") if short_dtypes else str(e)
        return None, (type(e).__name__, message)


def raised(fn: Callable[[], Any], *, short_dtypes: bool = False) -> tuple[str, str]:
    """The (class name, message) of the exception ``fn()`` raises (it must raise)."""
    _, error = attempt(fn, short_dtypes=short_dtypes)
    if error is None:
        raise AssertionError("expected an exception")
    return error


def typed(lib, x, decimals: int | None = None) -> tuple[str, list]:
    """``x``'s type as ``typeof`` prints it (its sharding included) and its value."""
    value = np.asarray(x)
    return str(lib.typeof(x)), (value if decimals is None else value.round(decimals)).tolist()


def constraint_lines(text: str) -> list[str]:
    """The Shardy annotations of a lowered module: main's signature and each
    sdy.sharding_constraint (SSA names and locations dropped)."""
    out = []
    for line in text.splitlines():
        if "sdy.sharding_constraint" in line or "func.func public @main" in line:
            line = re.sub(r" loc\(.*\)", "", line)
            out.append(re.sub(r"%[\w#]+", "%", line).strip())
    return out


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
