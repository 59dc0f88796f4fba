"""The command line: --version, check and concepts, run as a user runs them."""

import json
import subprocess
import sys

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


def test_erase_names_the_concepts_when_one_is_unknown(tmp_path):
    out = _run("erase", "--method", "acterase", "--concept", "unicorn", "--out", str(tmp_path / "x"))
    assert out.returncode == 1
    assert "unknown concept 'unicorn'" in out.stderr and "house" in out.stderr
    assert not (tmp_path / "x").exists()
