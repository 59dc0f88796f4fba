"""The sd14 object judge without the real weights: both loaders read local copies (randomly initialised
here, saved in each library's own format), preprocess as ImageNet classifiers expect, and report top-1
against the papers' class indices; missing weights are one clear error."""

import numpy as np
import pytest
import torch

from erasure.evaluate.imagenet_judge import IMAGENET_CLASS, ImageNetJudge, _preprocess


def test_the_papers_objects_have_their_imagenet_indices():
    assert IMAGENET_CLASS == {"church": 497, "garbage truck": 569, "parachute": 701, "tench": 0}


def test_preprocessing_resizes_crops_and_normalises():
    x = _preprocess(np.full((2, 64, 96, 3), 255, np.uint8))
    assert x.shape == (2, 3, 224, 224)
    assert torch.allclose(x[:, 0], torch.tensor((1 - 0.485) / 0.229), atol=1e-4)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)


def test_torchvision_weights_load_from_a_state_dict_and_judge(tmp_path, images):
    from torchvision.models import resnet50

    torch.manual_seed(0)
    model = resnet50()
    torch.save(model.state_dict(), tmp_path / "resnet50.pth")
    judge = ImageNetJudge("torchvision IMAGENET1K_V2", tmp_path / "resnet50.pth")
    expected = model.eval()(_preprocess(images)).argmax(1).numpy()
    assert np.array_equal(judge.top1(images), expected)
    report = judge.report(images, "church")
    assert report["weights"] == "torchvision IMAGENET1K_V2" and report["n_images"] == 3 and report["top_k"] == 1
    assert report["rate"] == np.mean(expected == 497)


def test_transformers_weights_load_from_a_folder(tmp_path, images):
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    ResNetForImageClassification(ResNetConfig(num_labels=1000)).save_pretrained(tmp_path / "resnet-50")
    judge = ImageNetJudge("microsoft/resnet-50", tmp_path / "resnet-50")
    assert judge.logits(images).shape == (3, 1000)
    with pytest.raises(ValueError, match="no ImageNet class for 'dog'"):
        judge.report(images, "dog")


def test_missing_weights_and_unknown_weights_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="IMAGENET1K_V2 weights are not at"):
        ImageNetJudge("torchvision IMAGENET1K_V2", tmp_path / "none.pth")
    with pytest.raises(FileNotFoundError, match="huggingface-cli download microsoft/resnet-50"):
        ImageNetJudge("microsoft/resnet-50", tmp_path / "no-folder")
    with pytest.raises(ValueError, match="unknown ResNet-50 weights"):
        ImageNetJudge("resnet-18")
