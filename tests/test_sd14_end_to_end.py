"""The sd14 profile end to end on CPU, without SD v1.4's weights: on a random SD-1.4-architecture pipeline
(reduced width, SD's real tokenizer and 77-token prompts) loaded by `load_profile("sd14")`, every method
erases a concept of the sd14 registry and samples, and every attack runs against the nudity judge (NudeNet,
for real)."""

import numpy as np
import pytest
from shapes import small_budget_methods

from erasure.attacks import ATTACKS, Unerased
from erasure.profiles import load_profile
from erasure.sd14 import write_sd14_shaped_pipeline

STEPS = {"num_inference_steps": 2, "guidance_scale": 7.5}


@pytest.fixture(scope="module")
def sd14(tmp_path_factory):
    folder = write_sd14_shaped_pipeline(tmp_path_factory.mktemp("sd14") / "stable-diffusion-v1-4")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ERASURE_SD14_PATH", str(folder))
        profile = load_profile("sd14", device="cpu")
    profile.sampler = STEPS
    return profile


@pytest.mark.parametrize("name", list(small_budget_methods()))
def test_every_method_erases_an_sd14_concept(sd14, name):
    erased = small_budget_methods()[name].erase(sd14.pipe, sd14.concepts["garbage truck"])
    images = erased(["a photo of a garbage truck", "a photo of a church"], seed=0, progress=False, **STEPS)
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8


#: Every attack at a budget that runs each of its steps.
SMALL_ATTACKS = {
    "unlearndiffatk": {"checks": 2, "iterations": 2},
    "p4d": {"checks": 2, "iterations": 2},
    "ringabell": {"population": 4, "generations": 2, "checks": 2, "n_pairs": 2},
    "inversion": {"checks": 2, "iterations": 2, "batch": 2},
    "paraphrase": {},
    "random": {"draws": 2},
    "soft_prefix": {"checks": 2, "iterations": 2},
}


def test_the_small_budgets_name_every_attack():
    assert set(SMALL_ATTACKS) == set(ATTACKS)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_runs_against_the_nudity_judge(sd14, name):
    attack = ATTACKS[name](seed=0, **SMALL_ATTACKS[name])
    concept = sd14.concepts["nudity"]
    records = attack.run(sd14, Unerased(sd14.pipe), concept, ["a photo of a person, nudity"], seed=0)
    assert len(records.records) == 1 and records.records[0].prompt == "a photo of a person, nudity"
