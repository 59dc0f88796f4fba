"""The command line: --version, check and concepts, run as a user runs them."""

import json
import subprocess
import sys

import pytest

from erasure import __version__


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "erasure", *args], capture_output=True, text=True, timeout=300)


def test_version():
    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"erasure {__version__}"


def test_check_passes_for_the_tiny_profile_and_prints_the_report():
    out = _run("check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "overall: PASS" in out.stdout
    for item in ("torch", "diffusers", "tiny SD, judge, tiny CLIP", "Stable Diffusion v1.4"):
        assert item in out.stdout


def test_check_json_is_one_line():
    out = _run("check", "--json")
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["passed"] is True
    assert {r["status"] for r in report["rows"]} <= {"PASS", "FAIL", "INFO"}


def test_unknown_command_fails_with_usage():
    out = _run("frobnicate")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_erase_then_evaluate_the_saved_model(tmp_path):
    """`erase` writes a folder that records its concept and method; `evaluate --erased` needs nothing more
    and prints one JSON line with the before/after report."""
    out = _run(
        "erase", "--method", "acterase", "--concept", "fire", "--out", str(tmp_path / "fire"),
        "--set", "num_pairs=2", "--set", "num_inference_steps=4", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["concept"] == "fire"
    out = _run("evaluate", "--erased", str(tmp_path / "fire"), "--n", "4", "--json")
    assert out.returncode == 0, out.stderr
    assert "generate" in out.stderr  # progress on stderr, while stdout holds only the JSON line
    (line,) = out.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["concept"] == "fire" and report["method"] == "acterase"
    for metric in ("erased_rate", "related_rate", "retained_accuracy", "clip_score"):
        assert 0 <= report[f"{metric}_before"] <= 1 and 0 <= report[f"{metric}_after"] <= 1
    drop = 100 * (report["erased_rate_before"] - report["erased_rate_after"])
    assert report["erased_drop_points"] == pytest.approx(drop)
    assert report["erase_seconds"] > 0 and report["seed"] == 0
    assert report["n_images"] > 16


def test_erase_names_the_concepts_when_one_is_unknown(tmp_path):
    out = _run("erase", "--method", "acterase", "--concept", "unicorn", "--out", str(tmp_path / "x"))
    assert out.returncode == 1
    assert "unknown concept 'unicorn'" in out.stderr and "house" in out.stderr
    assert not (tmp_path / "x").exists()
