"""Profile defaults for the methods that are not fine-tuned with ESD's loop: a method's hyperparameters
are the paper's (the sd14 defaults, its dataclass fields), with the tiny profile's overrides (`tiny`,
chosen on the tuning concepts and said where each method declares them) applied on tiny."""

from __future__ import annotations

from typing import ClassVar


class ProfileDefaults:
    """`Method.for_profile(profile, **overrides)`: defaults, then `tiny` on tiny, then the overrides."""

    tiny: ClassVar[dict] = {}

    @classmethod
    def for_profile(cls, profile, **overrides):
        return cls(**{**(cls.tiny if profile.name == "tiny" else {}), **overrides})
