"""The FD column without the erased concept: `world_fd` restricted to the captions whose real image (the render)
does not show the concept, as the tiny judge sees it. About a tenth to a sixth of the world's captions show the
erased concept, whose images an eraser is meant to change; without them, a rise in FD measures damage to the
rest of the world, not the erasure itself (stored; `docs/world.md`).

The model draws every caption, as `world_fd` does (image i from seed + i), so the images are `world_fd`'s own;
only the kept (caption, render) pairs enter the distance.
"""

from __future__ import annotations

import numpy as np

from erasure.evaluate.erasure import base_sampler, erased_sampler
from erasure.evaluate.frechet import feature_frechet_distance
from erasure.experiments import erased_model, eraser_key, stored
from erasure.store import ResultStore
from erasure.world_fd import clip_image_features, half_sample_interval, world_captions


def shows_concept(profile, images: np.ndarray, concept) -> np.ndarray:
    """Whether the judge sees `concept` in each image, bool (N,)."""
    return np.asarray(profile.judge.predict(images)[concept.judge_head] == concept.judge_label)


def world_fd_kept(profile, concept, eraser=None, n: int = 512, seed: int = 0, store: ResultStore | None = None) -> dict:
    """The FD between the model's images and the renders of the world captions whose render does not show
    `concept`: the base model's, or with `eraser` the model that erased `concept` (stored).
    {"fd", "fd_low", "fd_high" (its 95% interval), "n" (the pairs kept), "n_drawn"}."""
    modules = [__name__, "erasure.world_fd", "erasure.evaluate.frechet", type(profile.judge).__module__]
    modules += [type(eraser).__module__] if eraser else []
    model = eraser_key(profile, eraser, concept) if eraser else {"method": "base"}
    params = {"model": model, "without": concept.name, "n": n, "seed": seed, "sampler": profile.sampler}

    def compute() -> dict:
        captions, real = world_captions(n, seed)
        kept = ~shows_concept(profile, real, concept)
        sample = (
            erased_sampler(profile, erased_model(profile, eraser, concept, store)) if eraser else base_sampler(profile)
        )
        made = sample(captions, seed)
        fake_f, real_f = clip_image_features(profile, made[kept]), clip_image_features(profile, real[kept])
        low, high = half_sample_interval(fake_f, real_f, seed)
        fd = feature_frechet_distance(fake_f, real_f)
        return {"fd": fd, "fd_low": low, "fd_high": high, "n": int(kept.sum()), "n_drawn": n}

    return stored(profile, "world_fd_kept", modules, params, compute, store)
