"""Erasure methods, one file each, all with the protocol of `erasure.methods.base`."""

from erasure.methods.acterase import ActErase
from erasure.methods.advunlearn import AdvUnlearn
from erasure.methods.aegis import AEGIS
from erasure.methods.base import ErasedModel, Eraser
from erasure.methods.conceptprune import ConceptPrune
from erasure.methods.esd import ESD
from erasure.methods.esd_variants import ESDu, ESDx
from erasure.methods.options import coerce
from erasure.methods.rece import RECE
from erasure.methods.salun import SalUn
from erasure.methods.sld import SLD
from erasure.methods.uce import UCE

#: Every method by its name, for the command line and the experiment grid.
METHODS: dict[str, type] = {
    m.name: m for m in (ActErase, ESD, AEGIS, ESDu, ESDx, UCE, RECE, AdvUnlearn, SalUn, SLD, ConceptPrune)
}

__all__ = [
    "AEGIS",
    "ESD",
    "METHODS",
    "RECE",
    "SLD",
    "UCE",
    "ActErase",
    "AdvUnlearn",
    "ConceptPrune",
    "ESDu",
    "ESDx",
    "ErasedModel",
    "Eraser",
    "SalUn",
    "make_eraser",
    "method_class",
]


def method_class(name: str) -> type:
    """A method's config class by name, with the known names in the error."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def make_eraser(name: str, profile, **hyperparameters):
    """A method by name, with the profile's sampler settings and the given hyperparameters (text values,
    as from `--set`, are read with the types the method declares; bad keys or values fail here)."""
    cls = method_class(name)
    return cls.for_profile(profile, **coerce(cls, hyperparameters, getattr(cls, "profile_options", ())))
