"""A profile is everything an experiment runs on: the pipeline, the judges, the CLIP model, the
concept registry and the sampler settings. `load_profile("tiny")` is the offline CPU default;
`load_profile("sd14")` is Stable Diffusion v1.4 with the papers' judges."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from erasure.concepts import Registry
from erasure.paths import CONCEPTS_DIR, TINY_MODEL_DIR
from erasure.pipeline import TINY_SAMPLER, load_tiny_pipeline

#: The sd14 sampler: DDIM, 50 steps, guidance 7.5 (the papers sample with 50-100 DDIM steps at 7.5).
SD14_SAMPLER = {"num_inference_steps": 50, "guidance_scale": 7.5}

PROFILES = ("tiny", "sd14")


@dataclass
class Profile:
    name: str
    pipe: Any  # a diffusers StableDiffusionPipeline
    judge: Any  # tiny: TinyJudge; sd14: Sd14Judge
    clip: Any  # (model, tokenizer)
    concepts: Registry
    sampler: dict = field(default_factory=dict)
    #: An sd14 smoke run: every method at its smallest budget (`erasure.methods.defaults.SMOKE_BUDGETS`).
    smoke: bool = False


@dataclass(frozen=True)
class ProfileSpec:
    """What is known of a profile before its models load: its name, sampler and concept registry
    (enough to check a command's arguments before any work starts)."""

    name: str
    sampler: dict
    concepts: Registry


def profile_spec(name: str) -> ProfileSpec:
    """The profile's settings without its models; an unknown profile fails here."""
    if name == "tiny":
        return ProfileSpec("tiny", dict(TINY_SAMPLER), Registry.from_yaml(CONCEPTS_DIR / "tiny.yaml"))
    if name == "sd14":
        return ProfileSpec("sd14", dict(SD14_SAMPLER), Registry.from_yaml(CONCEPTS_DIR / "sd14.yaml"))
    raise ValueError(f"unknown profile {name!r}: use one of {', '.join(PROFILES)}")


def load_profile(name: str = "tiny", device: str | None = None, smoke: bool = False) -> Profile:
    """Loads a profile by name. tiny: the shipped model, judge and CLIP, on the CPU by default. sd14: SD v1.4
    from `$ERASURE_SD14_PATH` or the Hugging Face cache (float32, as the authors train), the sd14 judge (each
    of its models loads when first used) and CLIP ViT-B/32 for the CLIP score, on the GPU when there is one.
    A smoke run of sd14 without the SD v1.4 weights gets random stand-ins instead, and says so."""
    spec = profile_spec(name)
    if name == "sd14":
        return _load_sd14(spec, device, smoke)
    from erasure.evaluate.clip_score import load_tiny_clip
    from erasure.evaluate.judges import TinyJudge

    return Profile(
        name=spec.name,
        pipe=load_tiny_pipeline(TINY_MODEL_DIR, device=device or "cpu"),
        judge=TinyJudge.load(TINY_MODEL_DIR / "judge"),
        clip=load_tiny_clip(TINY_MODEL_DIR / "clip"),
        concepts=spec.concepts,
        sampler=spec.sampler,
    )


def _load_sd14(spec: ProfileSpec, device: str | None, smoke: bool) -> Profile:
    from erasure.check import sd14_weights_path
    from erasure.sd14 import load_sd14_pipeline, random_sd14_pipeline

    if smoke and sd14_weights_path() is None:
        print(
            "sd14 smoke run: SD v1.4's weights are not on this machine, so the pipeline (SD v1.4's architecture at "
            "1/8 width, 64x64) has random weights, and small random models stand in for ResNet-50 and CLIP; "
            "NudeNet is real. Every number below only shows that the code runs."
        )
        profile = sd14_profile(random_sd14_pipeline(device=device or "cpu"), spec, random_weights=True)
    else:
        profile = sd14_profile(load_sd14_pipeline(device=device), spec)
    if smoke:
        profile.smoke = True
        profile.sampler = {**profile.sampler, "num_inference_steps": 2}
        profile.concepts = templates_for_missing_prompt_sets(profile.concepts)
    return profile


def templates_for_missing_prompt_sets(concepts: Registry) -> Registry:
    """A smoke run's registry: a concept whose public prompt set is not on this machine is evaluated on its
    template prompts instead (said once per set), so that a smoke run never needs the network."""
    from erasure.prompt_sets import prompts_folder

    missing = sorted(
        {c.prompt_set for c in concepts if c.prompt_set} - {f.stem for f in prompts_folder().glob("*.csv")}
    )
    if missing:
        print(
            f"sd14 smoke run: the prompt sets {', '.join(missing)} are not in {prompts_folder()}; their concepts are "
            "evaluated on their template prompts instead."
        )
    return Registry([replace(c, prompt_set=None) if c.prompt_set in missing else c for c in concepts])


def sd14_profile(pipe, spec: ProfileSpec | None = None, random_weights: bool = False) -> Profile:
    """The sd14 profile around a given SD-1.4-architecture pipeline (the real one, or a random one for tests,
    timings and smoke runs, with random judges where `random_weights`)."""
    from erasure.evaluate.openai_clip import LazyScoringClip
    from erasure.evaluate.sd14_judge import Sd14Judge

    spec = spec or profile_spec("sd14")
    device = str(pipe.device)
    return Profile(
        name=spec.name,
        pipe=pipe,
        judge=Sd14Judge(device=device, random_weights=random_weights),
        clip=LazyScoringClip(device, "random" if random_weights else None),
        concepts=spec.concepts,
        sampler=spec.sampler,
    )
