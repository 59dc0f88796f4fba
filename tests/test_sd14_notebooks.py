"""The sd14 smoke run, as `./run_all.sh --profile sd14 --smoke` runs it: every notebook end to end on the sd14
profile on the CPU, with SD v1.4's architecture at random weights when its weights are not on the machine, at
the sizes of `notebooks/parameters/sd14.yaml`. Nothing of it is written over the committed notebooks, results
or store."""

import json
import os
import subprocess

from erasure.check import sd14_weights_path
from erasure.notebook_parameters import notebook_parameters, skip_reason
from erasure.paths import REPO_ROOT

NOTEBOOKS = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def outputs_text(notebook: dict) -> str:
    return "".join(
        "".join(o.get("text", "")) for cell in notebook["cells"] if cell["cell_type"] == "code" for o in cell["outputs"]
    )


def test_every_notebook_has_sd14_parameters_or_a_reason_not_to_run():
    for name in NOTEBOOKS:
        assert skip_reason("sd14", name) or notebook_parameters("sd14", name, smoke=True) is not None


def test_the_sd14_smoke_run_executes_every_notebook_and_says_it_uses_random_weights():
    committed = {name: (REPO_ROOT / "notebooks" / f"{name}.ipynb").read_bytes() for name in NOTEBOOKS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERASURE_")}
    done = subprocess.run(
        ["./run_all.sh", "--profile", "sd14", "--smoke"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for name in NOTEBOOKS:
        assert (REPO_ROOT / "notebooks" / f"{name}.ipynb").read_bytes() == committed[name], name
        if skip_reason("sd14", name):
            assert f"{name}.ipynb does not run on sd14" in done.stderr
            continue
        executed = json.loads((REPO_ROOT / ".cache/smoke/notebooks/sd14" / f"{name}.ipynb").read_text())
        if name != "00_setup" and sd14_weights_path() is None:  # loading the profile says what stands in
            assert "sd14 smoke run: SD v1.4's weights are not on this machine" in outputs_text(executed), name
