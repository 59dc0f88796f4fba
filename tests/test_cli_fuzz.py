"""Malformed arguments and files fed to the command line: each must end with a non-zero exit, one
line `error: …` that says what to do, no traceback, and no file changed or created anywhere (the
repository's data, notebooks and figures, the inputs, the named output)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from erasure.cli import main
from erasure.methods import ESD, ActErase
from erasure.methods.finetune import DELTA_FILE
from erasure.paths import REPO_ROOT

#: Words with which an error says what to do.
FIX = re.compile(
    r"\b(give|use|choose|pass|see|delete|re-create|restore|set|move|must|load it|erase again|run|sample from|make|"
    r"say what)\b"
)


@pytest.fixture(scope="module")
def files(tiny, tmp_path_factory):
    """Input files for the cases: a good saved ESD model, damaged copies of it, and other obstacles."""
    root = tmp_path_factory.mktemp("fuzz")
    erased = ESD.for_profile(tiny, iterations=1, ddim_steps=4).erase(tiny.pipe, tiny.concepts["house"])
    erased.info["profile"] = "tiny"
    good = erased.save(root / "good")
    patched = ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4).erase(tiny.pipe, tiny.concepts["fire"])
    patched.info["profile"] = "tiny"
    patched.save(root / "acterase")

    def damaged(name: str, edit) -> None:
        shutil.copytree(good, root / name)
        edit(root / name)

    record = json.loads((good / "erased.json").read_text())
    damaged("malformed_json", lambda p: (p / "erased.json").write_text("{not json"))
    damaged("no_keys", lambda p: (p / "erased.json").write_text(json.dumps({"method": "esd"})))
    damaged("wrong_types", lambda p: (p / "erased.json").write_text(json.dumps({**record, "info": [1]})))
    damaged("unknown_method", lambda p: (p / "erased.json").write_text(json.dumps({**record, "method": "xyz"})))
    damaged("unknown_concept", lambda p: (p / "erased.json").write_text(json.dumps({**record, "concept": "unicorn"})))
    damaged(
        "bad_hyperparameters",
        lambda p: (p / "erased.json").write_text(json.dumps({**record, "hyperparameters": {"nosuch": 1}})),
    )
    damaged("truncated", lambda p: (p / DELTA_FILE).write_bytes((p / DELTA_FILE).read_bytes()[:1000]))
    damaged("garbage", lambda p: (p / DELTA_FILE).write_bytes(b"\x00garbage" * 100))
    damaged("no_weights", lambda p: (p / DELTA_FILE).unlink())
    (root / "not_a_model").mkdir()
    (root / "users_folder").mkdir()
    (root / "users_folder" / "notes.txt").write_text("mine")
    (root / "a_file").write_text("x")
    (root / "a_dir").mkdir()
    return root


ERASE = ["erase", "--method", "esd", "--concept", "house", "--out", "{out}/new"]
ACTERASE = ["erase", "--method", "acterase", "--concept", "house", "--out", "{out}/new"]
AEGIS = ["erase", "--method", "aegis", "--concept", "house", "--out", "{out}/new"]
ATTACK_BASE = ["attack", "--base", "--concept", "house", "--out", "{out}/r"]
CASES = {
    "generate --n 0": ["generate", "--prompt", "a house", "--n", "0", "--out", "{out}/g.png"],
    "generate --n -3": ["generate", "--prompt", "a house", "--n", "-3", "--out", "{out}/g.png"],
    "generate --n x": ["generate", "--prompt", "a house", "--n", "x", "--out", "{out}/g.png"],
    "generate --steps 0": ["generate", "--prompt", "a house", "--steps", "0", "--out", "{out}/g.png"],
    "generate --steps -1": ["generate", "--prompt", "a house", "--steps", "-1", "--out", "{out}/g.png"],
    "generate --guidance -2": ["generate", "--prompt", "a house", "--guidance", "-2", "--out", "{out}/g.png"],
    "generate --guidance nan": ["generate", "--prompt", "a house", "--guidance", "nan", "--out", "{out}/g.png"],
    "generate --seed -1": ["generate", "--prompt", "a house", "--seed", "-1", "--out", "{out}/g.png"],
    "generate --out noext": ["generate", "--prompt", "a house", "--out", "{out}/noext"],
    "generate --out a folder": ["generate", "--prompt", "a house", "--out", "{files}/a_dir.png/.."],
    "generate --out under a file": ["generate", "--prompt", "a house", "--out", "{files}/a_file/g.png"],
    "generate without --prompt": ["generate", "--out", "{out}/g.png"],
    "generate --erased garbage": ["generate", "--erased", "{files}/garbage", "--prompt", "a", "--out", "{out}/g.png"],
    "evaluate --n 0": ["evaluate", "--base", "--n", "0"],
    "evaluate --n -5": ["evaluate", "--erased", "{files}/good", "--n", "-5"],
    "evaluate --n-related 0": ["evaluate", "--base", "--n-related", "0"],
    "evaluate with nothing": ["evaluate"],
    "evaluate --base --erased": ["evaluate", "--base", "--erased", "{files}/good"],
    "evaluate a missing path": ["evaluate", "--erased", "{files}/nowhere"],
    "evaluate a folder that is no model": ["evaluate", "--erased", "{files}/not_a_model"],
    "evaluate malformed erased.json": ["evaluate", "--erased", "{files}/malformed_json"],
    "evaluate incomplete erased.json": ["evaluate", "--erased", "{files}/no_keys"],
    "evaluate erased.json of wrong types": ["evaluate", "--erased", "{files}/wrong_types"],
    "evaluate an unknown method": ["evaluate", "--erased", "{files}/unknown_method"],
    "evaluate an unknown concept": ["evaluate", "--erased", "{files}/unknown_concept"],
    "evaluate bad hyperparameters": ["evaluate", "--erased", "{files}/bad_hyperparameters"],
    "evaluate truncated safetensors": ["evaluate", "--erased", "{files}/truncated"],
    "evaluate garbage safetensors": ["evaluate", "--erased", "{files}/garbage"],
    "evaluate missing weights": ["evaluate", "--erased", "{files}/no_weights"],
    "erase iterations=-5": [*ERASE, "--set", "iterations=-5"],
    "erase iterations=1.5": [*ERASE, "--set", "iterations=1.5"],
    "erase lr=abc": [*ERASE, "--set", "lr=abc"],
    "erase lr=nan": [*ERASE, "--set", "lr=nan"],
    "erase checkpoint_every=0": [*ERASE, "--set", "checkpoint_every=0"],
    "erase ddim_steps=0": [*ERASE, "--set", "ddim_steps=0"],
    "erase trainable=everything": [*ERASE, "--set", "trainable=everything"],
    "erase nosuch=1": [*ERASE, "--set", "nosuch=1"],
    "erase --set without =": [*ERASE, "--set", "novalue"],
    "erase rho=abc": [*ACTERASE, "--set", "rho=abc"],
    "erase rho=2": [*ACTERASE, "--set", "rho=2"],
    "erase gate=1": [*ACTERASE, "--set", "gate=1"],
    "erase aegis preset=paper": [*AEGIS, "--set", "preset=paper"],
    "erase aegis pr=false alone": [*AEGIS, "--set", "pr=false"],
    "erase an unknown method": ["erase", "--method", "xyz", "--concept", "house", "--out", "{out}/n"],
    "erase an unknown concept": ["erase", "--method", "esd", "--concept", "unicorn", "--out", "{out}/n"],
    "erase --out a file": ["erase", "--method", "esd", "--concept", "house", "--out", "{files}/a_file"],
    "erase --out a user's folder": ["erase", "--method", "esd", "--concept", "house", "--out", "{files}/users_folder"],
    "erase --out over a model": ["erase", "--method", "esd", "--concept", "fish", "--out", "{files}/good"],
    "erase --profile sd14": [*ERASE, "--profile", "sd14"],
    "erase --profile nosuch": [*ERASE, "--profile", "nosuch"],
    "export ActErase": ["export", "--erased", "{files}/acterase", "--out", "{out}/pipe"],
    "export over a user's folder": ["export", "--erased", "{files}/good", "--out", "{files}/users_folder"],
    "export a damaged model": ["export", "--erased", "{files}/truncated", "--out", "{out}/pipe"],
    "an unknown command": ["frobnicate"],
    "attack an unknown attack": [*ATTACK_BASE, "--attack", "xyz"],
    "attack without a model": ["attack", "--concept", "house", "--attack", "p4d", "--out", "{out}/r"],
    "attack --base and --erased": [*ATTACK_BASE, "--erased", "{files}/good", "--attack", "p4d"],
    "attack --base without --concept": ["attack", "--base", "--attack", "p4d", "--out", "{out}/r"],
    "attack an unknown concept": ["attack", "--base", "--concept", "unicorn", "--attack", "p4d", "--out", "{out}/r"],
    "attack paraphrase --budget": [*ATTACK_BASE, "--attack", "paraphrase", "--budget", "2"],
    "attack --n 0": [*ATTACK_BASE, "--attack", "p4d", "--n", "0"],
    "attack --out a user's folder": [
        "attack",
        "--base",
        "--concept",
        "fire",
        "--attack",
        "p4d",
        "--out",
        "{files}/users_folder",
    ],
    "attack another concept than the model's": [
        "attack",
        "--erased",
        "{files}/good",
        "--concept",
        "fish",
        "--attack",
        "p4d",
        "--out",
        "{out}/r",
    ],
    "attack a damaged model": ["attack", "--erased", "{files}/truncated", "--attack", "p4d", "--out", "{out}/r"],
}


def snapshot(*roots: Path) -> dict:
    """Every file under `roots`, with its size and modification time."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for root in roots for p in root.rglob("*") if p.is_file()}


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_input_is_one_clear_line_and_changes_nothing(case, files, tmp_path, capsys):
    argv = [a.format(out=tmp_path / "out", files=files) for a in CASES[case]]
    watched = (files, REPO_ROOT / "data", REPO_ROOT / "notebooks", REPO_ROOT / "figures")
    before = snapshot(*watched)
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's refusals
        rc = e.code
    err = capsys.readouterr().err
    assert rc not in (0, None), err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert FIX.search(errors[0]), f"the error names no fix: {errors[0]}"
    assert snapshot(*watched) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["generate --steps -1", "erase nosuch=1"])  # the rest: in-process above
def test_as_a_real_process_too(case, files, tmp_path):
    argv = [a.format(out=tmp_path / "out", files=files) for a in CASES[case]]
    out = subprocess.run([sys.executable, "-m", "erasure", *argv], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")]
