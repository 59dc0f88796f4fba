"""Attacks on erased models, one file each, all with the protocol of `erasure.attacks.base`."""

from erasure.attacks.base import Attack, AttackRecords, Unerased
from erasure.attacks.inversion import ConceptInversion
from erasure.attacks.p4d import P4D
from erasure.attacks.paraphrase import Paraphrase
from erasure.attacks.random_tokens import RandomTokens
from erasure.attacks.ringabell import RingABell
from erasure.attacks.soft_prefix import SoftPrefix
from erasure.attacks.unlearndiff import UnlearnDiffAtk

#: Every attack by its name, for the command line and the notebooks.
ATTACKS: dict[str, type] = {
    a.name: a for a in (UnlearnDiffAtk, P4D, RingABell, ConceptInversion, Paraphrase, RandomTokens, SoftPrefix)
}

__all__ = [
    "ATTACKS",
    "P4D",
    "Attack",
    "AttackRecords",
    "ConceptInversion",
    "Paraphrase",
    "RandomTokens",
    "RingABell",
    "SoftPrefix",
    "Unerased",
    "UnlearnDiffAtk",
    "attack_class",
]


def attack_class(name: str) -> type:
    """An attack's class by name, with the known names in the error."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[name]
