"""sd14's FID and CLIP score without the real weights: the FID Inception, assembled here and loaded safely,
gives exactly pytorch-fid's own features for the same weights file; "clean" resizing crops the centre;
statistics of a folder are cached; the CLIP score, through ScoringClip, is the tiny profile's computation."""

import numpy as np
import pytest
import torch
from PIL import Image

from erasure.evaluate.clip_score import clip_cosines, clip_score
from erasure.evaluate.fid import (
    INCEPTION_FILE,
    clean_resize,
    fid,
    fid_inception_v3,
    image_files,
    inception_features,
    load_fid_inception,
    reference_statistics,
    to_inception_input,
)
from erasure.evaluate.frechet import gaussian_statistics
from erasure.evaluate.openai_clip import ScoringClip, load_openai_clip


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A torch hub folder holding a randomly initialised FID Inception under the real file's name (He-initialised
    convolutions, so that features do not vanish through its 94 layers)."""
    torch.manual_seed(0)
    net = fid_inception_v3()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    home = tmp_path_factory.mktemp("torch_home")
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(net.state_dict(), home / "hub" / "checkpoints" / INCEPTION_FILE)
    return home


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4)]


def test_clean_resize_crops_the_centre_square_then_resizes_to_299():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :10] = (255, 0, 0)  # left and right margins: cropped away
    image[:, 50:] = (255, 0, 0)
    image[:, 10:50] = (0, 200, 0)
    out = clean_resize(image)
    assert out.shape == (299, 299, 3) and out.dtype == np.uint8
    assert (out == (0, 200, 0)).all()
    assert np.array_equal(clean_resize(Image.fromarray(image)), out)
    x = to_inception_input([image])
    assert x.shape == (1, 3, 299, 299) and x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match="RGB uint8"):
        clean_resize(image.astype(np.float32))


def test_features_are_pytorch_fids_for_the_same_weights_file(monkeypatch, random_weights, images):
    from pytorch_fid.inception import InceptionV3

    monkeypatch.setenv("TORCH_HOME", str(random_weights))
    monkeypatch.delenv("ERASURE_FID_INCEPTION", raising=False)
    ours = load_fid_inception()  # finds the file in torch's hub cache, as pytorch-fid does
    theirs = InceptionV3([3], resize_input=False, normalize_input=False).eval()
    x = to_inception_input(images[:2])
    with torch.no_grad():
        expected = theirs(x)[0].flatten(1).double().numpy()
    got = inception_features(ours, images[:2])
    assert got.shape == (2, 2048) and (got > 0).mean() > 0.5 and not np.allclose(got[0], got[1])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_missing_weights_say_how_to_download_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_url_to_file"):
        load_fid_inception(tmp_path / INCEPTION_FILE)


def test_reference_statistics_are_computed_once_per_folder(monkeypatch, random_weights, images, tmp_path):
    monkeypatch.setenv("ERASURE_FID_INCEPTION", str(random_weights / "hub" / "checkpoints" / INCEPTION_FILE))
    net = load_fid_inception()
    folder = tmp_path / "coco"
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im).save(folder / f"{i:05d}.png")
    (folder / "captions.txt").write_text("not an image")
    assert len(image_files(folder)) == len(images)

    cache = tmp_path / "cache"
    mu, sigma = reference_statistics(net, folder, cache)
    expected_mu, expected_sigma = gaussian_statistics(inception_features(net, images))
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-6)
    np.testing.assert_allclose(sigma, expected_sigma, rtol=1e-5, atol=1e-9)
    (written,) = cache.glob("*.npz")
    mtime = written.stat().st_mtime_ns
    mu2, _ = reference_statistics(net, folder, cache)  # read back, not recomputed
    assert written.stat().st_mtime_ns == mtime and np.array_equal(mu, mu2)

    # FID against a reference: the Fréchet distance of the two Gaussians. A few images in 2048 dimensions give
    # singular covariances (FID is for thousands of images), so the reference here is a point mass at μ, where
    # the distance has the closed form ||μ_a − μ||² + Tr Σ_a.
    features = inception_features(net, images[:2])
    expected = np.sum((features.mean(0) - mu) ** 2) + np.trace(np.cov(features, rowvar=False))
    assert fid(net, images[:2], (mu, np.zeros_like(sigma))) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(FileNotFoundError, match="no images"):
        image_files(tmp_path / "cache")


def test_the_scoring_clip_gives_the_tiny_clip_score_its_preprocessing(tiny):
    """Behind ScoringClip, `clip_score` passes each uint8 image through the model's own preprocessing: with the
    tiny CLIP and its [-1, 1] scaling as that preprocessing, the cosines are the tiny profile's exactly."""
    model, tokenizer = tiny.clip
    prompts = ["a red circle", "a blue square", "a striped fish"]
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)

    def preprocess(image):
        return torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 127.5 - 1

    scoring = ScoringClip(model, preprocess)
    cosines = clip_cosines(scoring, tokenizer, images, prompts, batch_size=2)
    np.testing.assert_allclose(cosines, clip_cosines(model, tokenizer, images, prompts), rtol=1e-5, atol=1e-6)
    assert clip_score(scoring, tokenizer, images, prompts) == pytest.approx(cosines.mean())


def test_openai_clip_weights_missing_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ViT-B-32"):
        load_openai_clip("ViT-B-32", tmp_path / "absent.bin")


def test_check_reports_the_fid_assets_present_or_missing_with_the_fix(monkeypatch, random_weights, images, tmp_path):
    from erasure.check import run_checks

    def fid_rows(profile="sd14"):
        return {r.item: r for r in run_checks(profile) if r.item.startswith("FID")}

    monkeypatch.setenv("ERASURE_FID_INCEPTION", str(tmp_path / INCEPTION_FILE))
    monkeypatch.delenv("ERASURE_COCO_IMAGES", raising=False)
    rows = fid_rows()
    assert rows["FID Inception-v3 (pytorch-fid)"].status == "FAIL"
    assert "download_url_to_file" in rows["FID Inception-v3 (pytorch-fid)"].detail
    assert (
        rows["FID real images (COCO-10k)"].status == "FAIL"
        and "ERASURE_COCO_IMAGES" in rows["FID real images (COCO-10k)"].detail
    )
    assert {r.status for r in fid_rows("tiny").values()} == {"INFO"}  # reported, not required, on tiny

    folder = tmp_path / "coco"
    folder.mkdir()
    Image.fromarray(images[0]).save(folder / "0.jpg")
    monkeypatch.setenv("ERASURE_FID_INCEPTION", str(random_weights / "hub" / "checkpoints" / INCEPTION_FILE))
    monkeypatch.setenv("ERASURE_COCO_IMAGES", str(folder))
    rows = fid_rows()
    assert rows["FID Inception-v3 (pytorch-fid)"].status == "PASS"
    assert (
        rows["FID real images (COCO-10k)"].status == "PASS" and "1 images" in rows["FID real images (COCO-10k)"].detail
    )
