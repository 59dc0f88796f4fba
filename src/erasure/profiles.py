"""A profile is everything an experiment runs on: the pipeline, the judges, the CLIP model, the
concept registry and the sampler settings. `load_profile("tiny")` is the offline CPU default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from erasure.concepts import Registry
from erasure.paths import CONCEPTS_DIR, TINY_MODEL_DIR
from erasure.pipeline import TINY_SAMPLER, default_device, load_tiny_pipeline

PROFILES = ("tiny", "sd14")


@dataclass
class Profile:
    name: str
    pipe: Any  # a diffusers StableDiffusionPipeline
    judge: Any  # tiny: TinyJudge
    clip: Any  # (model, tokenizer)
    concepts: Registry
    sampler: dict = field(default_factory=dict)


def load_profile(name: str = "tiny", device: str | None = None) -> Profile:
    """Loads a profile by name. Only `tiny` is complete in this version; `sd14` needs its judges
    (NudeNet, classifiers), which come with the sd14 evaluation."""
    if name == "tiny":
        from erasure.evaluate.clip_score import load_tiny_clip
        from erasure.evaluate.judges import TinyJudge

        return Profile(
            name="tiny",
            pipe=load_tiny_pipeline(TINY_MODEL_DIR, device=device or "cpu"),
            judge=TinyJudge.load(TINY_MODEL_DIR / "judge"),
            clip=load_tiny_clip(TINY_MODEL_DIR / "clip"),
            concepts=Registry.from_yaml(CONCEPTS_DIR / "tiny.yaml"),
            sampler=dict(TINY_SAMPLER),
        )
    if name == "sd14":
        raise NotImplementedError(
            "the sd14 profile is not available yet in this version of the artifact (its judges and prompt "
            f"loaders are still to come); `python -m erasure check --profile sd14` reports what it will need "
            f"(device would be {device or default_device()})"
        )
    raise ValueError(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}")
