"""The conventions' tools are wired in: .ci/run lints, format-checks and type-checks in
the venv before the README's test command; pyproject configures them; pre-commit runs
the same tools offline from the venv."""

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_ci_runs_ruff_and_mypy_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text()
    steps = [
        '.venv/bin/pip install -q -e ".[test]"',
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/mypy",
        ".venv/bin/python -m pytest -q -n 2 tests",
    ]
    at = [ci.index(s) for s in steps]
    assert at == sorted(at)
    assert "set -euo pipefail" in ci
    readme = (ROOT / "README.md").read_text()
    assert ".venv/bin/python -m pytest -q -n 2 tests" in readme


def test_pyproject_configures_the_tools():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    test_extra = " ".join(conf["project"]["optional-dependencies"]["test"])
    assert re.search(r"\bruff\b", test_extra) and re.search(r"\bmypy\b", test_extra)
    mypy = conf["tool"]["mypy"]
    for path in ["engine/core.py", "engine/interpreters", "engine/events.py", "engine/api.py",
                 "engine/jit.py", "engine/stages.py"]:  # fmt: skip
        assert path in mypy["files"]
    assert "select" in conf["tool"]["ruff"]["lint"]


def test_pre_commit_uses_the_venv_tools():
    text = (ROOT / ".pre-commit-config.yaml").read_text()
    assert "repo: local" in text
    for entry in [".venv/bin/ruff check", ".venv/bin/ruff format", ".venv/bin/mypy"]:
        assert f"entry: {entry}" in text
