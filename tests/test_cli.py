"""The command line: --version, check, concepts, erase and attack, through `python -m erasure`'s entry point.

The commands run in this process, so that the imports are paid once; `tests/test_readme.py` and
`tests/test_cli_fuzz.py` run the same entry point as real processes."""

import contextlib
import io
import json
import subprocess

import torch

from erasure import __version__
from erasure.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    """`python -m erasure ARGS`: its exit status and what it wrote to stdout and stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's --version, --help and usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["erasure", *args], code, stdout.getvalue(), stderr.getvalue())


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


def test_every_baseline_is_reachable_by_name_and_sld_takes_its_presets(tmp_path):
    out = _run("erase", "--method", "uce", "--concept", "heart", "--out", str(tmp_path / "uce"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["method"] == "uce"
    assert json.loads((tmp_path / "uce" / "erased.json").read_text())["method"] == "uce"
    out = _run("erase", "--method", "sld", "--set", "preset=max", "--concept", "heart", "--out", str(tmp_path / "sld"))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "sld" / "erased.json").read_text())["hyperparameters"]["sld_guidance_scale"] == 5000
    bad_preset = ["--set", "preset=extreme", "--concept", "heart", "--out", str(tmp_path / "x")]
    out = _run("erase", "--method", "sld", *bad_preset)
    assert out.returncode == 1 and "preset must be one of weak, medium, strong, max" in out.stderr


def test_an_advunlearn_model_is_attacked_through_its_own_text_encoder(tmp_path):
    """The attack suite encodes with the attacked model's text encoder, so AdvUnlearn's erasure is not bypassed."""
    from erasure.attacks.base import Victim
    from erasure.methods.base import ErasedModel
    from erasure.profiles import load_profile

    folder = tmp_path / "adv"
    set_fast = ["--set", "iterations=2", "--set", "warmup=1", "--set", "ddim_steps=2", "--set", "retain_batch=1"]
    out = _run("erase", "--method", "advunlearn", "--concept", "heart", "--out", str(folder), *set_fast)
    assert out.returncode == 0, out.stderr
    profile = load_profile("tiny")
    erased = ErasedModel.load(folder, base=profile.pipe)
    victim = Victim(profile, erased, profile.concepts["heart"], [], [], 0)
    prompts = ["a red flat heart"]
    with erased.applied() as pipe:
        theirs, _ = pipe.encode_prompt(prompts, "cpu", 1, False)
    assert torch.allclose(victim.encode(prompts), theirs, atol=1e-5)
    assert not torch.allclose(victim.encode(prompts), profile.pipe.encode_prompt(prompts, "cpu", 1, False)[0])
    out = _run(
        "attack",
        "--erased",
        str(folder),
        "--attack",
        "unlearndiffatk",
        "--n",
        "1",
        "--budget",
        "1",
        "--json",
        "--out",
        str(tmp_path / "records"),
    )
    assert out.returncode == 0, out.stderr
    assert 0 <= json.loads(out.stdout.strip().splitlines()[-1])["asr"] <= 1
