"""A change to a method's code makes the notebooks that show its results fail `./run_all.sh test`, naming
the notebook and the command that refreshes it; re-running that notebook makes the check pass again.

Done on a temporary copy of the repository: the package, `run_all.sh` and the pytest configuration are
copied, the shipped model and concept registry linked, the result store empty. The notebook is a small
one of the test's own (one ActErase result at a few images), so that recomputing it takes seconds; the
committed notebooks' own entries are checked against the same edit without running them.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from erasure.paths import REPO_ROOT
from erasure.store import DEFAULT_ROOT, PACKAGE_DIR, module_digests

PROBE = """\
from erasure.experiments import run_erasure
from erasure.methods import ActErase
from erasure.profiles import load_profile

tiny = load_profile("tiny")
eraser = ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4)
row = run_erasure(tiny, eraser, tiny.concepts["fire"], n=2)
"""
TABLE = """\
# NBVAL_CHECK_OUTPUT
print("erased rate", row["erased_rate_before"], "->", row["erased_rate_after"], "of", row["erased_rate_n"])
"""


def repository_copy(root: Path) -> Path:
    for name in ("run_all.sh", "pyproject.toml", "conftest.py"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / ".venv").symlink_to(Path(sys.prefix))  # the environment the tests run in
    shutil.copytree(PACKAGE_DIR, root / "src" / "erasure", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data" / "results" / "store").mkdir(parents=True)
    for shipped in ("models", "concepts"):
        (root / "data" / shipped).symlink_to(REPO_ROOT / "data" / shipped)
    (root / "notebooks").mkdir()
    shutil.copy(REPO_ROOT / "notebooks" / "nbval_sanitize.cfg", root / "notebooks")
    nb = new_notebook(cells=[new_code_cell(PROBE), new_code_cell(TABLE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "09_probe.ipynb")
    return root


def run_all(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`./run_all.sh ARGS` in the copy, importing the copy's package, outside this test run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERASURE_")}
    env |= {"PYTHONPATH": str(root / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(["bash", "run_all.sh", *args], cwd=root, capture_output=True, text=True, timeout=600, env=env)


def test_a_method_change_fails_the_notebook_check_until_the_notebook_is_rerun(tmp_path):
    root = repository_copy(tmp_path)
    out = run_all(root, "--only", "09")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "erased rate" in (root / "notebooks" / "09_probe.ipynb").read_text()

    acterase = root / "src" / "erasure" / "methods" / "acterase.py"
    acterase.write_text(acterase.read_text() + "\nEDITED = 1\n")
    out = run_all(root, "test", "--only", "09")
    assert out.returncode != 0
    assert "notebooks/09_probe.ipynb shows results computed by code that has since changed" in out.stdout
    assert "./run_all.sh --only 09" in out.stdout
    assert "computed before a change to erasure.methods.acterase" in out.stdout

    assert run_all(root, "--only", "09").returncode == 0
    out = run_all(root, "test", "--only", "09")
    assert out.returncode == 0, out.stdout[-3000:]


def test_the_same_edit_stales_the_committed_acterase_entries_and_no_others(tmp_path):
    """Every committed entry recorded the digests of the modules it ran: after an edit to ActErase's file,
    exactly the entries that ran it (ActErase's rows, 02's cost measurement) no longer match, and ESD's,
    AEGIS's and the base model's still do."""
    copy = tmp_path / "erasure"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    acterase = copy / "methods" / "acterase.py"
    acterase.write_text(acterase.read_text() + "\nEDITED = 1\n")
    entries = [json.loads(f.read_text()) for f in DEFAULT_ROOT.glob("*.json")]
    methods = {e["key"].get("method") for e in entries}
    assert {"acterase", "esd", "aegis"} <= methods, "the committed store lacks a method's results: run ./run_all.sh"
    for entry in entries:
        ran_acterase = "erasure.methods.acterase" in entry["modules"]
        if entry["key"].get("method"):  # a method's row ran ActErase's file exactly when it is ActErase's
            assert ran_acterase == (entry["key"]["method"] == "acterase"), entry["key"]
        still = module_digests(entry["modules"], copy) == entry["modules"]
        assert still == (not ran_acterase), entry["key"]
