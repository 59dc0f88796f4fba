"""Every command line the README prints runs, in order, as a user pastes it (in a fresh folder, so its
relative paths land there), with smaller sizes appended where the full command takes minutes."""

import json
import re
import shlex
import subprocess
import sys

import pytest

from erasure.paths import REPO_ROOT

#: Arguments appended to a README command (matched by its start) to run it at smoke size.
SMOKE = {
    "-m erasure evaluate --base": ["--n", "8", "--n-related", "2", "--implicit-per-context", "1"],
    "-m erasure evaluate --erased": ["--n", "4"],
    "-m erasure generate": ["--n", "4"],
    "-m erasure erase --method acterase": ["--set", "num_pairs=4"],
    "-m erasure erase --method esd": ["--set", "iterations=3"],
    "-m erasure attack": ["--n", "2", "--budget", "1"],
}
#: README commands not run here, and why.
NOT_RUN = {
    "-m erasure.world.train": "the release training takes 76 minutes; its --quick build runs",
    "-m erasure.world.train --quick": "run as written (with --out) by test_tiny_profile's quick-training test",
}
#: Commands that must fail on this machine, and why.
EXPECTED_FAILURE = {"-m erasure check --profile sd14": "no SD v1.4 weights here"}


def readme_commands() -> list[list[str]]:
    """The command lines of the README's "Command line" block, optional `[...]` parts dropped."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.strip().splitlines():
        line = line.split("  #", 1)[0]
        optional = re.findall(r"\[([^\]]*)\]", line)
        plain = shlex.split(re.sub(r"\s*\[[^\]]*\]", "", line))
        commands.append(plain)
        if optional and optional[0].startswith("--profile"):  # the other profile is a command of its own
            commands.append(plain + shlex.split(optional[0]))
    return commands


def smoke(argv: list[str]) -> list[str] | None:
    """The command with its smoke arguments, or None when it is not run."""
    line = " ".join(argv[1:])
    if any(line == skip for skip in NOT_RUN):
        return None
    extra = next((v for k, v in SMOKE.items() if line.startswith(k)), [])
    return [sys.executable, *argv[1:], *extra]


def test_the_readme_lists_the_commands_it_documents():
    lines = [" ".join(c[1:]) for c in readme_commands()]
    for verb in ("check", "concepts", "generate", "evaluate", "erase", "export", "attack"):
        assert any(line.startswith(f"-m erasure {verb}") for line in lines), verb
    assert all(c[0] == ".venv/bin/python" for c in readme_commands())


def test_every_readme_command_runs(tmp_path):
    stdout = {}
    for argv in readme_commands():
        command = smoke(argv)
        if command is None:
            continue
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        line = " ".join(argv[1:])
        if line in EXPECTED_FAILURE:
            assert done.returncode == 1 and "Traceback" not in done.stderr, (line, done.stderr[-2000:])
        else:
            assert done.returncode == 0, (line, done.stderr[-2000:])
        stdout[line] = done
    assert (tmp_path / "grid.png").stat().st_size > 0 and (tmp_path / "erased.png").stat().st_size > 0
    assert (tmp_path / "pipelines" / "house-esd" / "model_index.json").is_file()

    def ran(start: str) -> subprocess.CompletedProcess:
        return next(done for line, done in stdout.items() if line.startswith(start))

    concepts = json.loads(ran("-m erasure concepts --json").stdout)
    assert {"name": "house", "task": "object", "stands_for": "church"} in concepts
    (line,) = ran("-m erasure evaluate --base").stdout.strip().splitlines()  # one JSON line
    base = json.loads(line)
    for key in ("object_accuracy", "style_accuracy", "attribute_rate_prompted", "attribute_rate_unprompted"):
        assert 0 <= base[key] <= 1
    assert set(base["related_prompt_rate"]) == {c["name"] for c in concepts}
    for group in ("strong", "weak", "none", "heldout"):
        assert 0 <= base[f"implicit_rate_{group}"] <= 1
    assert base["images_per_second"] > 0 and base["seed"] == 0
    done = ran("-m erasure evaluate --erased")
    assert "generate" in done.stderr  # progress on stderr, while stdout holds only the JSON line
    (line,) = done.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["concept"] == "house" and report["method"] == "acterase"
    for metric in ("erased_rate", "related_rate", "retained_accuracy", "clip_score"):
        assert 0 <= report[f"{metric}_before"] <= 1 and 0 <= report[f"{metric}_after"] <= 1
    drop = 100 * (report["erased_rate_before"] - report["erased_rate_after"])
    assert report["erased_drop_points"] == pytest.approx(drop)
    assert report["erase_seconds"] > 0 and report["n_images"] > 16
    # The erased rate over the class: every training word, and pooled.
    assert set(report["erased_rate_by_word"]) == {"house", "cottage", "hut"}
    assert report["erased_rate_class_n"] == sum(w["n"] for w in report["erased_rate_by_word"].values())
    assert 0 <= report["erased_rate_class_after_low"] <= report["erased_rate_class_after"] <= 1
    for start, prompt_set in (("-m erasure attack --erased", "attack"), ("-m erasure attack --base", "power")):
        (line,) = ran(start).stdout.strip().splitlines()
        attack = json.loads(line)
        assert attack["n_prompts"] == 2 and attack["prompt_set"] == prompt_set
        assert attack["pre_asr"] <= attack["asr"] <= 1 and attack["asr_low"] <= attack["asr"] <= attack["asr_high"]
        assert attack["control_asr"] is not None and attack["seconds"] > 0
        assert (tmp_path / attack["records"] / "records.csv").is_file()
        assert (tmp_path / attack["records"] / "control" / "records.csv").is_file()
