"""Find work that a later commit silently undid: for each commit since BASE, the lines it
added that HEAD no longer has, and the lines it removed that HEAD has again (per file,
only where most of them are). Several people committing from their own git indexes in one
working tree undo each other this way when an index was read before someone else's commit.

    python scripts/git_lost_work.py BASE

A line reported may also have been changed on purpose later; read the commits named.
Install scripts/stale_index_guard.py as the pre-commit hook to stop it happening."""

from __future__ import annotations

import subprocess
import sys


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout


def _changed_lines(commit: str, sign: str) -> dict[str, list[str]]:
    """path -> the stripped lines ``commit`` added (sign '+') or removed ('-')."""
    out: dict[str, list[str]] = {}
    path = None
    header = "+++ b/" if sign == "+" else "--- a/"
    for line in _git("show", "--format=", "-U0", commit).splitlines():
        if line.startswith(("+++ ", "--- ")):
            if line.startswith(header[:4]):  # this side's file name (/dev/null: none)
                path = line[6:] if line.startswith(header) else None
            continue
        if path and line.startswith(sign) and len(line.strip()) > 12:
            out.setdefault(path, []).append(line[1:].strip())
    return out


def main(base: str) -> int:
    head: dict[str, set[str] | None] = {}

    def in_head(path: str) -> set[str] | None:
        if path not in head:
            r = subprocess.run(["git", "show", f"HEAD:{path}"], capture_output=True, text=True)
            head[path] = {x.strip() for x in r.stdout.splitlines()} if r.returncode == 0 else None
        return head[path]

    found = 0
    for commit in _git("rev-list", "--reverse", f"{base}..HEAD").split():
        for path, lines in _changed_lines(commit, "+").items():
            now = in_head(path)
            gone = lines if now is None else [x for x in lines if x not in now]
            if len(gone) > 5 and len(gone) > 0.3 * len(lines):
                print(f"{commit[:7]} {path}: {len(gone)}/{len(lines)} added lines gone")
                found += 1
        for path, lines in _changed_lines(commit, "-").items():
            now = in_head(path)
            back = [] if now is None else [x for x in lines if x in now]
            if len(back) > 5 and len(back) > 0.5 * len(lines):
                print(f"{commit[:7]} {path}: {len(back)}/{len(lines)} removed lines back")
                found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
