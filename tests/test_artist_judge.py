"""The sd14 style judges without real weights: the CLIP zero-shot judge ranks artists by cosine (checked
against a direct computation with the project's tiny CLIP), and a WikiArt classifier folder loads and
reports its top-k; bad inputs are clear errors."""

import numpy as np
import pytest
import torch

from erasure.evaluate.artist_judge import ARTISTS, ClipArtistJudge, WikiArtJudge


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)


def _tiny_clip_preprocess(image):
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 127.5 - 1


def test_clip_zero_shot_ranks_artists_by_cosine(tiny, images):
    model, tokenizer = tiny.clip
    judge = ClipArtistJudge(model, tokenizer, _tiny_clip_preprocess, top_k=3)
    with torch.no_grad():
        f = model.encode_image(torch.stack([_tiny_clip_preprocess(im) for im in images]))
        t = model.encode_text(tokenizer([f"a painting by {a}" for a in ARTISTS]))
    cos = torch.nn.functional.normalize(f, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).T
    assert np.array_equal(judge.ranks(images)[:, 0], cos.argmax(1).numpy())
    report = judge.report(images, "Claude Monet")
    expected = np.mean([ARTISTS.index("Claude Monet") in row[:3] for row in cos.argsort(1, descending=True).numpy()])
    assert report["rate"] == expected and report["top_k"] == 3 and report["judge"] == "CLIP zero-shot"
    with pytest.raises(ValueError, match="not among the judge's artists"):
        judge.report(images, "Banksy")


def test_a_wikiart_classifier_folder_reports_its_top_k(tmp_path, images):
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    labels = ["vincent-van-gogh", "claude-monet", "pablo-picasso"]
    config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(tmp_path / "wikiart")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "wikiart")
    every = WikiArtJudge(tmp_path / "wikiart", top_k=3).report(images)
    assert every["rate"] == 1.0 and every["n_images"] == 4  # top 3 of 3 labels always holds it
    assert 0 <= WikiArtJudge(tmp_path / "wikiart", top_k=1).report(images)["rate"] <= 1
    with pytest.raises(ValueError, match="no label 'van-gogh'"):
        WikiArtJudge(tmp_path / "wikiart").report(images, "van-gogh")
    with pytest.raises(FileNotFoundError, match="no WikiArt classifier folder"):
        WikiArtJudge(tmp_path / "missing")
