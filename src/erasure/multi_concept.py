"""Several concepts erased at once (ActErase's appendix erases ten): one model erases every concept of a list,
and each concept is then measured as its own table row is (erased, related and retained rates, CLIP score),
with retained accuracy over the concepts of its task that were *not* erased, before and after (stored).

ActErase erases a list by merging one patch per concept (`Patch.merge`: the masks OR-ed, targets averaged where
they overlap); any method whose `erase` takes a list of concepts works the same way.
"""

from __future__ import annotations

from dataclasses import replace

from erasure.concepts import Registry
from erasure.evaluate.erasure import base_sampler, erased_sampler, erasure_report, measure
from erasure.experiments import eraser_key, evaluation_modules, stored
from erasure.store import ResultStore


def without(profile, names: list[str]):
    """The profile with `names` left out of its registry: the retained sets then hold no erased concept."""
    return replace(profile, concepts=Registry([c for c in profile.concepts if c.name not in names]))


def multi_erasure(profile, eraser, names: list[str], n: int, seed: int, store: ResultStore | None = None) -> list:
    """Erases every concept of `names` with one model, then one `erasure_report` per concept (stored)."""
    concepts = [profile.concepts[name] for name in names]
    modules = [*evaluation_modules(profile), type(eraser).__module__, __name__]
    params = {
        "model": [eraser_key(profile, eraser, c) for c in concepts],
        "n": n,
        "seed": seed,
        "sampler": profile.sampler,
    }

    def compute() -> dict:
        erased = eraser.erase(profile.pipe, concepts)
        kept = without(profile, names)
        rows = []
        for c in concepts:
            before = measure(kept, base_sampler(profile), c, n, seed)
            after = measure(kept, erased_sampler(profile, erased), c, n, seed)
            rows.append(erasure_report(c.name, eraser.name, before, after, erased.info, seed))
        return {"rows": rows}

    return stored(profile, "multi_erasure", modules, params, compute, store)["rows"]
