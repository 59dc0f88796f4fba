"""Every table a notebook shows is checked by nbval: a code cell whose committed output holds a table
(a DataFrame's HTML) carries `# NBVAL_CHECK_OUTPUT`. Notebook 00 is exempt: its table is this machine's
report (versions, devices), not a result."""

import json
from pathlib import Path

import pytest

from erasure.paths import REPO_ROOT

MARK = "# NBVAL_CHECK_OUTPUT"
NOTEBOOKS = sorted(p for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00"))


def shows_table(cell: dict) -> bool:
    return any("<table" in "".join(out.get("data", {}).get("text/html", "")) for out in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_table_cell_is_checked(path: Path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    tables = [c for c in cells if shows_table(c)]
    assert tables, f"{path.name} shows no table: was it executed? (./run_all.sh --only {path.name[:2]})"
    unchecked = ["".join(c["source"])[:80] for c in tables if MARK not in "".join(c["source"])]
    assert not unchecked, f"{path.name}: table cells without {MARK}: {unchecked}"
