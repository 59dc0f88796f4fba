"""ESD-u and ESD-x (Gandikota et al., ICCV 2023) as two named methods: ESD's loss (`esd.py`) on the two
parameter groups the paper compares. ESD-u fine-tunes everything but the cross-attention (the paper's
choice for nudity and objects: erasure that does not depend on the prompt's wording); ESD-x fine-tunes
only the cross-attention (its choice for artistic styles: erasure tied to the words, kinder to the rest).
Their erased models are ESD's (saved as method `esd`, the group in their hyperparameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from erasure.methods.esd import ESD


@dataclass(frozen=True)
class ESDVariant(ESD):
    """ESD with its parameter group fixed by the variant, whatever the profile's shared defaults say."""

    #: The variant's tiny overrides besides the shared ones (`finetune.TINY`).
    tiny_overrides: ClassVar[dict] = {}

    @classmethod
    def for_profile(cls, profile, **overrides) -> ESDVariant:
        fixed = {"trainable": cls.trainable, **(cls.tiny_overrides if profile.name == "tiny" else {})}
        return super().for_profile(profile, **{**fixed, **overrides})


@dataclass(frozen=True)
class ESDu(ESDVariant):
    """ESD-u: the non-cross-attention parameters (sd14: the paper's 1000 iterations at lr 1e-5). On tiny,
    lr 1e-4: on the first version of the tiny world this group diverged at 2e-4 (the shared tiny lr is 5e-4)."""

    name: ClassVar[str] = "esd_u"
    tiny_overrides: ClassVar[dict] = {"lr": 1e-4}
    trainable: str = "unet_noncross"


@dataclass(frozen=True)
class ESDx(ESDVariant):
    """ESD-x: the cross-attention parameters only (sd14: the paper's 1000 iterations at lr 1e-5; tiny: the
    shared tiny values, which are ESD's own there)."""

    name: ClassVar[str] = "esd_x"
    trainable: str = "unet_cross"
