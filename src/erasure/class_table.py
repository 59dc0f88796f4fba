"""The object tables' first column: the erased rate over the concept's whole class (every training word of
the concept, `erasure.evaluate.class_rate`), the base model's and each erased model's, stored.

The papers' object rows judge the erased class with a classifier (ImageNet's church class, whatever the
prompt calls it), so a method that cuts only the canonical word's path scores badly there; the class rate is
the tiny analogue.
"""

from __future__ import annotations

from erasure.evaluate.class_rate import class_rates
from erasure.evaluate.erasure import base_sampler, erased_sampler
from erasure.experiments import erased_model, eraser_key, stored
from erasure.store import ResultStore


def class_rate(profile, concept, eraser=None, n: int = 32, seed: int = 0, store: ResultStore | None = None) -> dict:
    """`class_rates` of the base model (`eraser=None`) or of `eraser`'s model of `concept` (stored): per word
    its rate and images, and the pooled rate with its 95% interval."""
    modules = ["erasure.evaluate.class_rate", __name__] + ([type(eraser).__module__] if eraser else [])
    model = eraser_key(profile, eraser, concept) if eraser else {"method": "base", "concept": concept.name}
    params = {"model": model, "n": n, "seed": seed, "sampler": profile.sampler}

    def compute() -> dict:
        if eraser is None:
            return class_rates(profile, base_sampler(profile), concept, n, seed)
        return class_rates(
            profile, erased_sampler(profile, erased_model(profile, eraser, concept, store)), concept, n, seed
        )

    return stored(profile, "class_rate", modules, params, compute, store)
