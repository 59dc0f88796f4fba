"""run_all.sh stops on a failing notebook, names it, and leaves the committed notebook untouched."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from erasure.paths import REPO_ROOT


def run_all(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`run_all.sh` copied into `tmp_path`, run there with its result store there too, so that its pruning never
    touches the repository's store (the `erasure` package it imports is the repository's)."""
    env = os.environ | {"PYTHONUNBUFFERED": "1", "ERASURE_STORE": str(tmp_path / "store")}
    return subprocess.run(
        ["bash", "run_all.sh", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )


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

    out = run_all(tmp_path, "--only", "99")

    assert out.returncode != 0
    assert "FAILED in notebook notebooks/99_broken.ipynb" in out.stderr
    assert "deliberately broken" in out.stdout + out.stderr
    assert path.read_text() == before
    assert (tmp_path / ".cache" / "failed" / "99_broken.ipynb").is_file()


def test_a_full_run_records_each_notebooks_seconds_in_cost_csv(tmp_path: Path):
    for name in ("run_all.sh", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "notebooks").mkdir()
    nb = new_notebook(cells=[new_code_cell("import time; time.sleep(1)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "98_sleep.ipynb")
    (tmp_path / "data" / "results").mkdir(parents=True)
    (tmp_path / "data" / "results" / "cost.csv").write_text(
        "notebook,seconds,profile,finished_utc,cores\n98_sleep.ipynb,999,tiny,x,2\n"
    )
    repository_store = sorted((REPO_ROOT / "data" / "results" / "store").glob("*.json"))
    for _ in range(2):  # a rerun replaces the notebook's row
        out = run_all(tmp_path, "--only", "98")
        assert out.returncode == 0, out.stderr
    rows = (tmp_path / "data" / "results" / "cost.csv").read_text().splitlines()
    assert rows[0] == "notebook,seconds,profile,finished_utc,cores"
    (row,) = rows[1:]
    name, seconds, profile, _, _ = row.split(",")
    assert name == "98_sleep.ipynb" and 1 <= int(seconds) < 999 and profile == "tiny"
    # The run pruned its own store ($ERASURE_STORE), never the repository's, whatever that one holds.
    assert sorted((REPO_ROOT / "data" / "results" / "store").glob("*.json")) == repository_store


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
