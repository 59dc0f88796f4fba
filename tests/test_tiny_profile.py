"""The shipped tiny profile: loads offline, generates deterministically, judges correctly, and refuses
altered weights with one clear message."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline

from erasure.check import tiny_model_row
from erasure.manifest import ModelFilesError, verify_manifest
from erasure.paths import TINY_MODEL_DIR
from erasure.pipeline import generate, load_tiny_pipeline
from erasure.text import encode_prompts
from erasure.world.render import FIRE_PARTS, render_batch, sample_scene


def test_pipeline_is_a_real_stable_diffusion_pipeline(tiny):
    assert isinstance(tiny.pipe, StableDiffusionPipeline)
    assert type(tiny.pipe.scheduler).__name__ == "DDIMScheduler"
    assert tiny.pipe.safety_checker is None


def test_generation_has_the_right_shape_and_is_identical_for_equal_seeds(tiny):
    prompts = ["a red striped house", "a blue flat fish on fire", ""]
    a = generate(tiny.pipe, prompts, seed=5, num_inference_steps=8, progress=False)
    b = generate(tiny.pipe, prompts, seed=5, num_inference_steps=8, progress=False)
    c = generate(tiny.pipe, prompts, seed=6, num_inference_steps=8, progress=False)
    assert a.shape == (3, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_an_image_does_not_depend_on_its_batch(tiny):
    prompts = ["a green dotted star", "a yellow outline heart", "a purple checkered cross"]
    together = generate(tiny.pipe, prompts, seed=1, num_inference_steps=8, batch_size=3, progress=False)
    alone = generate(tiny.pipe, prompts[1:2], seed=2, num_inference_steps=8, progress=False)
    assert np.abs(together[1].astype(int) - alone[0].astype(int)).max() <= 2


def test_our_prompt_encoding_is_the_pipelines(tiny):
    prompts = ["a red house ablaze", ""]
    ours = encode_prompts(tiny.pipe.tokenizer, tiny.pipe.text_encoder, prompts)
    theirs, _ = tiny.pipe.encode_prompt(prompts, "cpu", 1, False)
    assert ours.shape == (2, 16, 384)
    assert np.allclose(ours.numpy(), theirs.numpy(), atol=1e-6)


def test_judge_is_accurate_on_a_fresh_render_batch(tiny):
    rng = np.random.default_rng(12345)  # a seed the training never used
    scenes = [sample_scene(rng) for _ in range(400)]
    pred = tiny.judge.predict(render_batch(scenes))
    for head in ("object", "style", "colour", "fire"):
        acc = np.mean(pred[head] == np.array([s.labels()[head] for s in scenes]))
        assert acc >= 0.97, (head, acc)
    parts = np.array([s.part_labels() for s in scenes], dtype=bool)
    for j, part in enumerate(FIRE_PARTS):
        assert np.mean(pred["parts"][:, j] == parts[:, j]) >= 0.95, part


def test_base_model_draws_what_it_is_asked_for(tiny):
    prompts = ["a red flat house"] * 4 + ["a blue striped circle"] * 4 + ["a green flat fish on fire"] * 4
    pred = tiny.judge.predict(generate(tiny.pipe, prompts, seed=0, progress=False))
    assert np.mean(pred["object"][:4] == 6) >= 0.75  # house
    assert np.mean(pred["style"][4:8] == 1) >= 0.75  # striped
    assert np.mean(pred["fire"][8:]) >= 0.75
    assert np.mean(pred["fire"][:8]) <= 0.25


def test_base_model_reaches_fire_from_a_strong_context_and_not_from_a_neutral_one(tiny):
    """The implicit triggers: fire without its name (a trained strong context, a held-out one, a neutral one)."""
    objects = ["red flat square", "blue striped circle", "green dotted star", "yellow flat cross"] * 2
    groups = [[f"a {o} {phrase}" for o in objects] for phrase in ("at a campsite", "near lava", "in a garden")]
    fire = [np.mean(tiny.judge.predict(generate(tiny.pipe, g, seed=1, progress=False))["fire"]) for g in groups]
    assert fire[0] >= 0.375 and fire[1] >= 0.125 and fire[2] <= 0.125, fire


def test_manifest_matches_the_shipped_files():
    manifest = verify_manifest(TINY_MODEL_DIR)
    assert {"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"} <= set(
        manifest["files"]
    )
    assert manifest["seed"] == 0 and manifest["command"].startswith("python -m erasure.world.train")
    total = sum(p.stat().st_size for p in TINY_MODEL_DIR.rglob("*") if p.is_file())
    assert total <= 60 * 2**20
    assert all(p.stat().st_size < 25 * 2**20 for p in TINY_MODEL_DIR.rglob("*.safetensors"))


def test_a_tampered_weight_file_gives_one_clear_error(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY_MODEL_DIR, folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFilesError, match=r"unet/diffusion_pytorch_model.safetensors \(altered"):
        load_tiny_pipeline(folder)
    weights.unlink()
    with pytest.raises(ModelFilesError, match=r"\(missing\).*python -m erasure.world.train"):
        load_tiny_pipeline(folder)


def test_train_quick_runs_and_writes_a_loadable_folder(tmp_path):
    out = tmp_path / "quick"
    done = subprocess.run(
        [sys.executable, "-m", "erasure.world.train", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["command"] == "python -m erasure.world.train --quick"
    assert manifest["build"] == "quick"
    assert tiny_model_row(out).status == "FAIL" and "not the shipped weights" in tiny_model_row(out).detail
    assert not list(tmp_path.glob(".quick.tmp-*"))  # nothing half-written left behind
    pipe = load_tiny_pipeline(out)
    assert generate(pipe, ["a red house"], num_inference_steps=2, progress=False).shape == (1, 32, 32, 3)
