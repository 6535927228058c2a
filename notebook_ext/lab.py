"""``glassjax lab`` / ``python -m notebook_ext lab``: JupyterLab on the user's own copy
of the tutorials, never on the repository's ``tutorials/`` (autosave would write outputs
into them, and new notebooks would land among the ones the test suite runs).

On first run the tutorials are copied into ``./glassjax-notebooks/`` (or ``--dir``);
later runs copy only tutorials that are new, never overwriting the user's edits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

DEFAULT_DIR = "glassjax-notebooks"


def tutorials_dir() -> Path:
    """The repository's tutorials (this package sits beside them in a checkout)."""
    here = Path(__file__).resolve().parent.parent / "tutorials"
    if not here.is_dir():
        raise FileNotFoundError(
            f"no tutorials folder at {here}: `glassjax lab` needs a checkout of the "
            "repository installed with `pip install -e .`"
        )
    return here


def prepare(target: str | os.PathLike = DEFAULT_DIR, source: Path | None = None) -> list[Path]:
    """Copies the tutorials missing from ``target`` into it (creating it); returns the
    files copied. Refuses a target inside the repository's tutorials folder."""
    source = Path(source) if source is not None else tutorials_dir()
    target = Path(target).resolve()
    src = source.resolve()
    if target == src or src in target.parents:
        raise ValueError(
            f"{target} is the repository's tutorials folder (or inside it): pick a folder "
            "of your own, e.g. ./glassjax-notebooks"
        )
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(src.iterdir()):
        if path.suffix not in (".ipynb", ".md") or not path.is_file():
            continue
        dest = target / path.name
        if not dest.exists():
            shutil.copy2(path, dest)
            copied.append(dest)
    return copied


def lab_command(target: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={target}", *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="glassjax",
        description="Glassjax's notebook face. `glassjax lab` opens JupyterLab on your copy "
        "of the tutorials (./glassjax-notebooks/, made on first run).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open JupyterLab on your copy of the tutorials")
    lab.add_argument("--dir", default=DEFAULT_DIR, help=f"your notebooks (default ./{DEFAULT_DIR})")
    lab.add_argument(
        "--prepare-only",
        action="store_true",
        help="copy the tutorials and print the folder, without starting JupyterLab",
    )
    args, extra = parser.parse_known_args(argv)
    target = Path(args.dir).resolve()
    try:
        copied = prepare(target)
    except (FileNotFoundError, ValueError) as e:
        print(f"glassjax: {e}", file=sys.stderr)
        return 2
    if copied:
        print(f"glassjax: copied {len(copied)} tutorial file(s) into {target}")
    if args.prepare_only:
        print(target)
        return 0
    cmd = lab_command(target, extra)
    os.execv(cmd[0], cmd)  # replaces this process: Ctrl-C stops JupyterLab as usual
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
