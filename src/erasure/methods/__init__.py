"""Erasure methods, one file each, all with the protocol of `erasure.methods.base`."""

from erasure.methods.acterase import ActErase
from erasure.methods.aegis import AEGIS
from erasure.methods.base import ErasedModel, Eraser
from erasure.methods.esd import ESD

#: Every method by its name, for the command line and the experiment grid.
METHODS: dict[str, type] = {m.name: m for m in (ActErase, ESD, AEGIS)}

__all__ = ["AEGIS", "ESD", "METHODS", "ActErase", "ErasedModel", "Eraser", "make_eraser"]


def make_eraser(name: str, profile, **hyperparameters):
    """A method by name, with the profile's sampler settings and the given hyperparameters."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name].for_profile(profile, **hyperparameters)
