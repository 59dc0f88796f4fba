"""The FD column of the paper tables on tiny: how far a model's images of everyday captions are from real
images of the same captions, as the papers' FID on COCO-10k measures image quality after erasure.

The tiny world's COCO is its own training distribution: `n` scenes drawn as the training set draws them
(every object, style, colour, context and fire), each captioned as in training (never empty) and rendered:
the render is the real image. The model draws each caption once; the Fréchet distance (Heusel et al.
2017) is taken between the Gaussians of the two image sets' tiny CLIP image embeddings (128-d), so it is an
FD in another feature space than FID's Inception pool and is never compared with a paper's FID in value,
only in direction (erasure raising it or not). The base model's FD is the table's reference, and the
FD between two independent sets of renders is the floor that the finite `n` alone gives.
"""

from __future__ import annotations

import numpy as np
import torch

from erasure.evaluate.erasure import base_sampler, erased_sampler
from erasure.evaluate.frechet import feature_frechet_distance
from erasure.evaluate.judges import to_model_input
from erasure.experiments import erased_model, eraser_key, stored
from erasure.store import ResultStore
from erasure.world.captions import caption
from erasure.world.render import render_batch, sample_scene

#: The seed offset of the caption draw, apart from every other prompt set's.
CAPTION_SEED = 700_000
#: Random halves of the captions behind the FD's 95% interval (`half_sample_interval`).
HALF_SAMPLES = 100


def world_captions(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """`n` training-distribution captions and their renders (the real images), uint8 (n, H, W, 3)."""
    rng = np.random.default_rng(CAPTION_SEED + seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    captions = [caption(scene, rng, empty_rate=0.0) for scene in scenes]
    return captions, render_batch(scenes)


@torch.no_grad()
def clip_image_features(profile, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The tiny CLIP's image embeddings (not normalised), float64 (N, 128)."""
    model, _ = profile.clip
    x = to_model_input(images)
    return np.concatenate(
        [model.encode_image(x[i : i + batch_size]).double().numpy() for i in range(0, len(x), batch_size)]
    )


def half_sample_interval(
    fake: np.ndarray, real: np.ndarray, seed: int, draws: int = HALF_SAMPLES
) -> tuple[float, float]:
    """FD ± 1.96 σ̂: σ̂ is the spread of the FD over random halves of the captions (each with its two images,
    drawn without replacement, so no image repeats) divided by √2, the half-sampling estimate of the full
    sample's standard error. A resample with repeats (the bootstrap) would shift the FD upwards."""
    rng = np.random.default_rng(seed)
    half = len(fake) // 2
    values = []
    for _ in range(draws):
        pick = rng.permutation(len(fake))[:half]
        values.append(feature_frechet_distance(fake[pick], real[pick]))
    fd, spread = feature_frechet_distance(fake, real), float(np.std(values, ddof=1)) / np.sqrt(2)
    return fd - 1.96 * spread, fd + 1.96 * spread


def world_fd(profile, eraser=None, concept=None, n: int = 512, seed: int = 0, store: ResultStore | None = None) -> dict:
    """The FD between the model's images of `n` world captions and their renders (stored): the base model's,
    or with `eraser` and `concept` the erased model's; with the floor (renders against renders of another
    draw) alongside. {"fd", "fd_low", "fd_high" (its 95% interval), "floor", "n"}."""
    if profile.name != "tiny":
        raise ValueError(
            f"the world FD is the tiny profile's; on {profile.name} the papers' FID on COCO-10k is "
            "erasure.evaluate.fid (it needs the COCO-10k images and the FID Inception weights)"
        )
    modules = [__name__, "erasure.evaluate.frechet"] + ([type(eraser).__module__] if eraser else [])
    model = eraser_key(profile, eraser, concept) if eraser else {"method": "base"}
    params = {"model": model, "n": n, "seed": seed, "sampler": profile.sampler}

    def compute() -> dict:
        captions, real = world_captions(n, seed)
        _, other = world_captions(n, seed + 1)
        sample = (
            erased_sampler(profile, erased_model(profile, eraser, concept, store)) if eraser else base_sampler(profile)
        )
        made = sample(captions, seed)
        fake_f, real_f = clip_image_features(profile, made), clip_image_features(profile, real)
        low, high = half_sample_interval(fake_f, real_f, seed)
        return {
            "fd": feature_frechet_distance(fake_f, real_f),
            "fd_low": low,
            "fd_high": high,
            "floor": feature_frechet_distance(clip_image_features(profile, other), real_f),
            "n": n,
        }

    return stored(profile, "world_fd", modules, params, compute, store)
