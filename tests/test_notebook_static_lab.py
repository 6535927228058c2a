"""`glassjax lab` / `python -m notebook_ext lab` (issue 13 item 8): JupyterLab opens on a
copy of the tutorials in the user's folder, made on first run, never on the
repository's tutorials/."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from notebook_ext import lab

ROOT = Path(__file__).resolve().parent.parent


def test_first_run_copies_the_tutorials_and_later_runs_keep_user_edits(tmp_path):
    target = tmp_path / "glassjax-notebooks"
    copied = lab.prepare(target)
    names = sorted(p.name for p in copied)
    want = sorted(p.name for p in (ROOT / "tutorials").iterdir() if p.suffix in (".ipynb", ".md"))
    assert names == want and any(n.endswith(".ipynb") for n in names)
    for name in names:
        assert (target / name).read_bytes() == (ROOT / "tutorials" / name).read_bytes()
    edited = target / names[0]
    edited.write_text("my edits")
    (target / names[1]).unlink()
    again = lab.prepare(target)
    assert [p.name for p in again] == [names[1]]  # only the missing one comes back
    assert edited.read_text() == "my edits"


def test_refuses_the_repositorys_tutorials(tmp_path):
    with pytest.raises(ValueError, match="repository's tutorials folder"):
        lab.prepare(ROOT / "tutorials")
    with pytest.raises(ValueError, match="repository's tutorials folder"):
        lab.prepare(ROOT / "tutorials" / "sub")
    assert not (ROOT / "tutorials" / "sub").exists()


def test_lab_command_roots_jupyterlab_at_the_copy(tmp_path):
    cmd = lab.lab_command(tmp_path, ["--no-browser"])
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd and cmd[-1] == "--no-browser"


def test_python_m_notebook_ext_lab_prepare_only(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "notebook_ext", "lab", "--prepare-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / lab.DEFAULT_DIR
    assert proc.stdout.strip().splitlines()[-1] == str(folder)
    assert sorted(folder.glob("*.ipynb"))
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "notebook_ext",
            "lab",
            "--prepare-only",
            "--dir",
            str(ROOT / "tutorials"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "pick a folder of your own" in bad.stderr


def test_console_script_and_readme_commands():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["glassjax"] == "notebook_ext.lab:main"
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("## Using it", 1)[0]
    blocks = [b.split("```", 1)[0].strip() for b in setup.split("```bash")[1:]]
    assert blocks[0].endswith("glassjax lab") and "jupyter lab tutorials" not in setup
    assert "pip install -e ." in blocks[0]
    assert 'pip install -e ".[test]"' in blocks[1] and "pytest" in blocks[1]
