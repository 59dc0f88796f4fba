"""Profile defaults: a method's hyperparameters are the paper's (the sd14 defaults, its dataclass fields), with
the tiny profile's overrides (chosen on the tuning concepts and said where each method declares them) on tiny,
and the smallest budgets that run each of a method's stages on an sd14 smoke run."""

from __future__ import annotations

from typing import ClassVar

#: The sd14 smoke run's budgets, by method: the fewest iterations, images and steps that run every stage.
SMOKE_BUDGETS = {
    "uce": {},
    "rece": {"rounds": 1},
    "sld": {},
    "conceptprune": {"num_pairs": 2, "num_inference_steps": 2, "timesteps": 2},
    "salun": {"iterations": 2, "n_images": 2, "batch_size": 2, "ddim_steps": 2},
    "advunlearn": {"iterations": 2, "warmup": 1, "attack_steps": 1, "retain_batch": 1, "ddim_steps": 2},
    "esd_u": {"iterations": 2, "ddim_steps": 2},
    "esd_x": {"iterations": 2, "ddim_steps": 2},
    "esd": {"iterations": 2, "ddim_steps": 2},
    "aegis": {"iterations": 2, "ddim_steps": 2},
    "acterase": {"num_pairs": 2, "num_inference_steps": 2},
}


def profile_overrides(name: str, profile, tiny: dict) -> dict:
    """What the profile changes in method `name`'s defaults: `tiny` on tiny, the smoke budget on an sd14 smoke
    run, nothing on sd14."""
    if profile.name == "tiny":
        return tiny
    return SMOKE_BUDGETS[name] if getattr(profile, "smoke", False) else {}


class ProfileDefaults:
    """`Method.for_profile(profile, **overrides)`: defaults, then the profile's overrides, then the overrides."""

    tiny: ClassVar[dict] = {}

    @classmethod
    def for_profile(cls, profile, **overrides):
        return cls(**{**profile_overrides(cls.name, profile, cls.tiny), **overrides})
