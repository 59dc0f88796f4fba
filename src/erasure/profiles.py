"""A profile is everything an experiment runs on: the pipeline, the judges, the CLIP model, the
concept registry and the sampler settings. `load_profile("tiny")` is the offline CPU default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from erasure.concepts import Registry
from erasure.paths import CONCEPTS_DIR, TINY_MODEL_DIR
from erasure.pipeline import TINY_SAMPLER, load_tiny_pipeline

PROFILES = ("tiny", "sd14")


@dataclass
class Profile:
    name: str
    pipe: Any  # a diffusers StableDiffusionPipeline
    judge: Any  # tiny: TinyJudge
    clip: Any  # (model, tokenizer)
    concepts: Registry
    sampler: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileSpec:
    """What is known of a profile before its models load: its name, sampler and concept registry
    (enough to check a command's arguments before any work starts)."""

    name: str
    sampler: dict
    concepts: Registry


def profile_spec(name: str) -> ProfileSpec:
    """The profile's settings without its models; an unknown or unavailable profile fails here."""
    if name == "tiny":
        return ProfileSpec("tiny", dict(TINY_SAMPLER), Registry.from_yaml(CONCEPTS_DIR / "tiny.yaml"))
    if name == "sd14":
        raise NotImplementedError(
            "the sd14 profile is not available yet in this version of the artifact (its judges and prompt "
            "loaders are still to come); use --profile tiny, and `python -m erasure check --profile sd14` "
            "to see what it will need"
        )
    raise ValueError(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}")


def load_profile(name: str = "tiny", device: str | None = None) -> Profile:
    """Loads a profile by name. Only `tiny` is complete in this version; `sd14` needs its judges
    (NudeNet, classifiers), which come with the sd14 evaluation."""
    from erasure.evaluate.clip_score import load_tiny_clip
    from erasure.evaluate.judges import TinyJudge

    spec = profile_spec(name)  # only tiny gets past this in this version
    return Profile(
        name=spec.name,
        pipe=load_tiny_pipeline(TINY_MODEL_DIR, device=device or "cpu"),
        judge=TinyJudge.load(TINY_MODEL_DIR / "judge"),
        clip=load_tiny_clip(TINY_MODEL_DIR / "clip"),
        concepts=spec.concepts,
        sampler=spec.sampler,
    )
