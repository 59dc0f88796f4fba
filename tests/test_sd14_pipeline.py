"""The sd14 profile's model loading, without SD v1.4's weights: a random SD-1.4-architecture folder loads
and samples, its tokenizer gives OpenAI CLIP's ids, and a missing or broken folder is one clear error."""

import json

import numpy as np
import pytest
import torch

from erasure.check import sd14_folder_problems
from erasure.pipeline import generate
from erasure.sd14 import MAX_LENGTH, clip_tokenizer, load_sd14_pipeline, write_sd14_shaped_pipeline


@pytest.fixture(scope="module")
def sd14_folder(tmp_path_factory):
    return write_sd14_shaped_pipeline(tmp_path_factory.mktemp("sd14") / "stable-diffusion-v1-4")


def test_the_tokenizer_gives_open_clips_ids_padded_to_77():
    import open_clip

    tokenizer = clip_tokenizer()
    text = "a photo of a church, painted by Van Gogh"
    ours = tokenizer(text, padding="max_length", max_length=MAX_LENGTH).input_ids
    theirs = open_clip.get_tokenizer("ViT-L-14")([text])[0].tolist()
    assert len(ours) == MAX_LENGTH == len(theirs)
    n = theirs.index(49407) + 1  # open_clip pads with 0, SD's tokenizer with the end token
    assert ours[:n] == theirs[:n] and set(ours[n:]) == {49407}
    assert len(tokenizer) == 49408


def test_the_random_folder_is_an_sd14_layout_that_loads_and_samples(sd14_folder):
    assert sd14_folder_problems(sd14_folder) == []
    index = json.loads((sd14_folder / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    pipe = load_sd14_pipeline(sd14_folder, device="cpu")
    assert type(pipe.scheduler).__name__ == "DDIMScheduler" and pipe.unet.dtype == torch.float32
    down = [type(b).__name__ for b in pipe.unet.down_blocks]
    assert down == ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"]
    assert pipe.text_encoder.config.num_hidden_layers == 12 and pipe.tokenizer.model_max_length == 77
    assert sum(1 for n, _ in pipe.unet.named_modules() if n.endswith("attn2")) == 16  # SD v1.4's 16 cross-attentions
    images = generate(pipe, ["a photo of a church"], seed=0, num_inference_steps=2, guidance_scale=7.5, progress=False)
    again = generate(pipe, ["a photo of a church"], seed=0, num_inference_steps=2, guidance_scale=7.5, progress=False)
    assert images.shape == (1, 64, 64, 3) and np.array_equal(images, again)


def test_a_missing_or_broken_folder_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ERASURE_SD14_PATH", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(FileNotFoundError, match="set ERASURE_SD14_PATH"):
        load_sd14_pipeline()
    (tmp_path / "broken").mkdir()
    with pytest.raises(FileNotFoundError, match=r"not a usable SD v1\.4 folder: no model_index\.json"):
        load_sd14_pipeline(tmp_path / "broken")


def test_the_environment_variable_names_the_folder(sd14_folder, monkeypatch):
    monkeypatch.setenv("ERASURE_SD14_PATH", str(sd14_folder))
    assert load_sd14_pipeline(device="cpu").unet.config.cross_attention_dim == 96
