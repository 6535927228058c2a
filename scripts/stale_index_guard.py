#!/usr/bin/env python3
"""A pre-commit hook for several people committing in one working tree, each from their
own git index: refuse a commit that would put back an older version of a file (an index
read before someone else's commit) or delete a file that still exists.

    ln -s ../../scripts/stale_index_guard.py .git/hooks/pre-commit

(The repository's pre-commit tools, `pre-commit install`, use the same hook slot; chain
them if you use both.)"""

from __future__ import annotations

import os
import subprocess
import sys


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout


def problems() -> list[str]:
    bad = []
    for line in _git("diff", "--cached", "--name-status", "HEAD").splitlines():
        status, *paths = line.split("\t")
        path = paths[-1]
        if status.startswith("D"):
            if os.path.exists(path):
                bad.append(f"{path}: the commit deletes it, but it exists in the working tree")
            continue
        staged = _git("rev-parse", f":{path}").strip()
        for commit in _git("log", "-n", "40", "--format=%H", "HEAD", "--", path).split()[1:]:
            if _git("rev-parse", f"{commit}:{path}").strip() == staged:
                bad.append(
                    f"{path}: the staged version is commit {commit[:7]}'s, older than HEAD's"
                )
                break
    return bad


if __name__ == "__main__":
    found = problems()
    if found:
        sys.stderr.write(
            "stale index: run `git read-tree HEAD` on your index, add only your own files or "
            "hunks again, and commit:\n  " + "\n  ".join(found) + "\n"
        )
        sys.exit(1)
