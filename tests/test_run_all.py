"""run_all.sh stops on a failing notebook, names it, and leaves the committed notebook untouched."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from erasure.paths import REPO_ROOT


def test_a_broken_notebook_stops_run_all_and_is_named(tmp_path: Path):
    for name in ("run_all.sh", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the venv the tests run in
    (tmp_path / "notebooks").mkdir()
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("raise RuntimeError('deliberately broken')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "notebooks" / "99_broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()

    out = subprocess.run(
        ["bash", "run_all.sh", "--only", "99"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )

    assert out.returncode != 0
    assert "FAILED in notebook notebooks/99_broken.ipynb" in out.stderr
    assert "deliberately broken" in out.stdout + out.stderr
    assert path.read_text() == before
    assert (tmp_path / ".cache" / "failed" / "99_broken.ipynb").is_file()


def test_unknown_option_is_refused(tmp_path: Path):
    out = subprocess.run(["bash", str(REPO_ROOT / "run_all.sh"), "--frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "unknown argument" in out.stderr


def test_executed_notebooks_leave_smoke_to_the_environment():
    """nbval re-runs the committed notebooks with their injected parameters: if those set `smoke`, the
    test suite would run at full size and overwrite the real results."""
    for path in sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        injected = [c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert not any("smoke" in src for src in injected), path.name
