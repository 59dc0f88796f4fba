"""Erasure methods, one file each, all with the protocol of `erasure.methods.base`."""

from erasure.methods.acterase import ActErase
from erasure.methods.aegis import AEGIS
from erasure.methods.base import ErasedModel, Eraser
from erasure.methods.esd import ESD
from erasure.methods.options import coerce

#: Every method by its name, for the command line and the experiment grid.
METHODS: dict[str, type] = {m.name: m for m in (ActErase, ESD, AEGIS)}

__all__ = ["AEGIS", "ESD", "METHODS", "ActErase", "ErasedModel", "Eraser", "make_eraser", "method_class"]


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
