"""The sd14 profile without SD v1.4's weights: its registry holds the papers' concepts with their judges'
labels and prompt sets, `load_profile("sd14")` loads a random SD-1.4-shaped folder and samples from it, and its
judge runs NudeNet for real, loading no other model for it; a head whose weights are missing is a clear error."""

from pathlib import Path

import numpy as np
import pytest

from erasure.evaluate.imagenet_judge import IMAGENET_CLASS
from erasure.evaluate.sd14_judge import Sd14Judge
from erasure.pipeline import generate
from erasure.profiles import load_profile, profile_spec
from erasure.sd14 import write_sd14_shaped_pipeline

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference-prompts"
needs_copies = pytest.mark.skipif(not REFERENCE.is_dir(), reason="the reference prompt copies are not on this machine")


@pytest.fixture(scope="module")
def registry():
    return profile_spec("sd14").concepts


def test_the_registry_has_the_papers_concepts_with_their_judges_labels(registry):
    for name, label in IMAGENET_CLASS.items():
        assert registry[name].task == "object" and registry[name].judge_label == label
        assert registry[name].judge_head == "object"
    assert registry["Van Gogh"].judge_head == "style" and registry["Van Gogh"].judge_label == 0
    assert registry["nudity"].judge_head == "nudity" and registry["nudity"].erase_prompt == "nudity"
    assert sum(c.task == "object" for c in registry) == 10  # Imagenette, ESD's object benchmark


def test_prompt_pairs_differ_by_the_concept_alone(registry):
    for concept in registry:
        pairs = concept.prompt_pairs()
        assert len(set(pairs)) == 20, concept.name  # ActErase's default number of pairs
        for with_concept, without in pairs:
            assert any(w in with_concept for w in concept.erase) and not any(w in without for w in concept.erase)


def test_retained_prompts_are_the_other_objects_with_their_labels(registry):
    retained = registry["church"].retained(registry, n_per_concept=1)
    assert len(retained) == 9 and {r.label for r in retained} == {
        c.judge_label for c in registry if c.task == "object" and c.name != "church"
    }
    assert all(r.head == "object" for r in retained)
    assert len(registry["nudity"].retained(registry, n_per_concept=1)) == 10


@needs_copies
def test_evaluation_prompts_come_from_the_public_prompt_sets(registry, monkeypatch):
    monkeypatch.setenv("ERASURE_PROMPTS", str(REFERENCE))
    church = registry["church"].evaluation_prompts()
    assert len(church) == 50 and church[0] == "Old stone church in countryside."
    assert len(registry["nudity"].evaluation_prompts()) == 142
    assert len(registry["Van Gogh"].evaluation_prompts(n=10)) == 10
    assert registry["tench"].evaluation_prompts() == ["a photo of a tench"]  # no prompt set: the template


def test_load_profile_samples_from_a_random_sd14_shaped_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ERASURE_SD14_PATH", str(write_sd14_shaped_pipeline(tmp_path / "sd14")))
    profile = load_profile("sd14", device="cpu")
    assert profile.name == "sd14" and profile.sampler["guidance_scale"] == 7.5
    images = generate(profile.pipe, ["a photo of a church"], seed=0, progress=False, num_inference_steps=2)
    assert images.shape == (1, 64, 64, 3) and images.dtype == np.uint8
    pred = profile.judge.predict(images)
    assert pred["nudity"].shape == (1,) and set(pred["nudity"]) <= {0, 1}
    assert set(profile.judge._models) == {"nudity"}  # reading one head loads one model
    with pytest.raises(KeyError, match="no head 'fire'"):
        pred["fire"]


def test_a_head_without_its_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pred = Sd14Judge().predict(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(FileNotFoundError, match="huggingface-cli download microsoft/resnet-50"):
        pred["object"]
    with pytest.raises(ValueError, match="unknown nudity convention"):
        Sd14Judge(nudity_convention="strict")


def test_the_cli_lists_the_sd14_concepts(capsys):
    from erasure.cli import main

    assert main(["concepts", "--profile", "sd14"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(profile_spec("sd14").concepts)
    assert lines[1].startswith("garbage truck    object") and "erase: nudity, nude, naked" in lines[-1]


def test_a_smoke_run_without_the_weights_gets_random_stand_ins_and_says_so(monkeypatch, capsys):
    monkeypatch.setattr("erasure.check.sd14_weights_path", lambda: None)
    profile = load_profile("sd14", device="cpu", smoke=True)
    assert "random weights" in capsys.readouterr().out
    images = generate(
        profile.pipe, ["a photo of a church", "a painting"], seed=0, progress=False, num_inference_steps=2
    )
    pred = profile.judge.predict(images)
    assert pred["object"].shape == (2,) and pred["object"].max() < 1000
    assert pred["style"].shape == (2,) and pred["style"].max() < 16
    model, tokenizer = profile.clip
    assert model.encode_text(tokenizer(["a photo"])).shape[-1] == 64  # the small random stand-in's embedding
