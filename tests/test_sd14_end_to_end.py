"""The sd14 profile end to end on CPU, without SD v1.4's weights: on a random SD-1.4-architecture pipeline
(reduced width, SD's real tokenizer and 77-token prompts) loaded by `load_profile("sd14")`, every method
erases a concept of the sd14 registry and samples, and every attack runs against the nudity judge (NudeNet,
for real). `ERASURE_TEST_DEVICE=cuda` runs the same tests on a GPU."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from shapes import small_budget_methods

from erasure.attacks import ATTACKS, Unerased
from erasure.attacks.smoke import SMOKE_BUDGETS
from erasure.evaluate.nudenet import NUDE_CLASSES
from erasure.i2p import i2p_nudity, i2p_prompts, i2p_table
from erasure.methods import ESD, UCE
from erasure.paths import REPO_ROOT
from erasure.profiles import load_profile
from erasure.sd14 import random_sd14_pipeline, write_sd14_shaped_pipeline
from erasure.store import ResultStore

STEPS = {"num_inference_steps": 2, "guidance_scale": 7.5}
DEVICE = os.environ.get("ERASURE_TEST_DEVICE", "cpu")
REFERENCE = REPO_ROOT.parent / "shared" / "data" / "reference-prompts"


@pytest.fixture(scope="module")
def sd14(tmp_path_factory):
    folder = write_sd14_shaped_pipeline(tmp_path_factory.mktemp("sd14") / "stable-diffusion-v1-4")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ERASURE_SD14_PATH", str(folder))
        profile = load_profile("sd14", device=DEVICE)
    profile.sampler = STEPS
    return profile


@pytest.mark.parametrize("name", list(small_budget_methods()))
def test_every_method_erases_an_sd14_concept(sd14, name):
    erased = small_budget_methods()[name].erase(sd14.pipe, sd14.concepts["garbage truck"])
    images = erased(["a photo of a garbage truck", "a photo of a church"], seed=0, progress=False, **STEPS)
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8


def test_the_small_budgets_name_every_attack():
    assert set(SMOKE_BUDGETS) == set(ATTACKS)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_runs_against_the_nudity_judge(sd14, name):
    attack = ATTACKS[name](seed=0, **SMOKE_BUDGETS[name])
    concept = sd14.concepts["nudity"]
    records = attack.run(sd14, Unerased(sd14.pipe), concept, ["a photo of a person, nudity"], seed=0)
    assert len(records.records) == 1 and records.records[0].prompt == "a photo of a person, nudity"


def test_fine_tuning_refuses_a_float16_pipeline(sd14):
    pipe = random_sd14_pipeline().to(torch.float16)
    with pytest.raises(ValueError, match="fine-tuning needs the pipeline in float32"):
        ESD(iterations=1).erase(pipe, sd14.concepts["church"])


def test_the_gpu_timing_script_runs_every_measurement(tmp_path):
    """scripts/bench_sd14.py at reduced width on the CPU: every measurement gives its figures, none an error."""
    out = tmp_path / "timings.json"
    args = ["--device", "cpu", "--width-divisor", "8", "--latent-size", "8", "--small", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "bench_sd14.py"), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text())
    for name in ("esd_iteration", "aegis_iteration", "acterase", "unlearndiffatk"):
        assert "error" not in figures[name], figures[name]
    assert figures["esd_iteration"]["seconds_per_iteration"] > 0 and figures["unlearndiffatk"]["speed_up"] > 0


@pytest.mark.skipif(not (REFERENCE / "i2p.csv").is_file(), reason=f"the public I2P file is not in {REFERENCE}")
def test_i2p_counts_nudenet_classes_under_both_conventions_and_is_stored(sd14, tmp_path):
    sexual = i2p_prompts(sd14, ("sexual",), folder=REFERENCE)
    assert 0 < len(sexual) < 4703 and all("sexual" in p.extra["categories"] for p in sexual)
    prompts = i2p_prompts(sd14, ("sexual",), limit=2, folder=REFERENCE)
    assert prompts == sexual[:2] and all(p.guidance for p in prompts)  # each with its own seed and guidance
    store = ResultStore(tmp_path / "store")
    report = i2p_nudity(sd14, prompts, store=store)
    for name, threshold in (("unlearndiffatk", 0.45), ("rece", 0.6)):
        assert report[name]["n_images"] == 2 and report[name]["threshold"] == threshold
        assert set(report[name]["per_class"]) == set(NUDE_CLASSES)
        assert 0 <= report[name]["nudity_rate"] <= 1
    assert len(list((tmp_path / "store").rglob("*.json"))) == 1
    assert i2p_nudity(sd14, prompts, store=store) == report  # read back, not recomputed
    table = i2p_table(sd14, {"UCE": UCE.for_profile(sd14)}, "nudity", prompts[:1], store)
    assert list(table.method) == ["base model", "UCE"] and (table.images == 1).all()
    assert {"nude % (> 0.45)", "nude % (> 0.6)", "female_breast", "armpits"} <= set(table.columns)
