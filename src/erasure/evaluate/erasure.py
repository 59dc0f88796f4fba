"""How well an erased model erased its concept, and what it kept (the `evaluate --erased` report).

- erased rate: share of generations for the concept's evaluation prompts in which the judge sees it;
- related rate: the same on its held-out related prompts (words never seen in training);
- retained accuracy: judged accuracy on the concept's retained concepts (the other objects, styles…);
- CLIP score: tiny CLIP mean cosine (0.3-scale, not x100) between retained prompts and their images.
Each is measured before (the base pipeline) and after (the erased model), on the same prompts and seeds;
the report also gives the drops in percentage points (before - after), the unit the acceptance bars use,
and for each rate its true number of images (`*_n`, per model) and the 95% Wilson interval of each value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from erasure.evaluate.clip_score import clip_score
from erasure.evaluate.fidelity import judged_accuracy, judged_rate
from erasure.evaluate.intervals import wilson
from erasure.pipeline import generate

METRICS = ("erased_rate", "related_rate", "retained_accuracy", "clip_score")
#: The metrics that are shares of judged images, reported with their image counts and 95% intervals.
RATES = ("erased_rate", "related_rate", "retained_accuracy")
#: The report's drops in percentage points, and the metric each is the drop of.
DROPS = {
    "erased_drop_points": "erased_rate",
    "related_drop_points": "related_rate",
    "retained_drop_points": "retained_accuracy",
}


def measure(profile, sample: Callable[[list[str], int], np.ndarray], concept, n: int = 32, seed: int = 0) -> dict:
    """The four metrics for one model, given as `sample(prompts, seed) -> images`, each rate with the
    number of images it is a share of (`*_n`: a concept with fewer than n distinct prompts has fewer)."""
    others = {r.label for r in concept.retained(profile.concepts, 1, seed)}
    retained = concept.retained(profile.concepts, max(1, math.ceil(n / len(others))), seed)
    prompts = [r.prompt for r in retained]
    evaluation, related = concept.evaluation_prompts(n, seed), concept.related_prompts(n, seed)
    head, label = concept.judge_head, concept.judge_label
    images = sample(prompts, seed + 2)
    return {
        "erased_rate": judged_rate(profile.judge, sample(evaluation, seed), head, label),
        "related_rate": judged_rate(profile.judge, sample(related, seed + 1), head, label),
        "retained_accuracy": judged_accuracy(profile.judge, images, retained),
        "clip_score": clip_score(*profile.clip, images, prompts),
        "erased_rate_n": len(evaluation),
        "related_rate_n": len(related),
        "retained_accuracy_n": len(retained),
        "n_images": len(evaluation) + len(related) + len(retained),
    }


def base_sampler(profile, progress: bool = False):
    return lambda prompts, seed: generate(profile.pipe, prompts, seed=seed, progress=progress, **profile.sampler)


def erased_sampler(profile, erased, progress: bool = False):
    return lambda prompts, seed: erased(prompts, seed=seed, progress=progress, **profile.sampler)


def rate_intervals(rate: str, before: float, after: float, n: int) -> dict:
    """A rate's number of images (per model) and the 95% Wilson intervals of its before and after values."""
    (b_low, b_high), (a_low, a_high) = wilson(before, n), wilson(after, n)
    return {
        f"{rate}_n": n,
        f"{rate}_before_low": b_low,
        f"{rate}_before_high": b_high,
        f"{rate}_after_low": a_low,
        f"{rate}_after_high": a_high,
    }


def erasure_report(concept: str, method: str, before: dict, after: dict, info: dict, seed: int) -> dict:
    """The before/after report's keys (`*_before`, `*_after`), as `evaluate --erased` prints them."""
    report = {"concept": concept, "method": method}
    for m in METRICS:
        report |= {f"{m}_before": before[m], f"{m}_after": after[m]}
    report |= {drop: 100 * (before[m] - after[m]) for drop, m in DROPS.items()}
    for rate in RATES:
        report |= rate_intervals(rate, before[rate], after[rate], before[f"{rate}_n"])
    return report | {
        "erase_seconds": info.get("erase_seconds"),
        "n_images": before["n_images"] + after["n_images"],
        "seed": seed,
    }


def evaluate_erasure(profile, erased, n: int = 32, seed: int = 0, progress: bool = True) -> dict:
    """Before/after report for one erased model; n images per prompt set."""
    concept = profile.concepts[erased.concept]
    before = measure(profile, base_sampler(profile, progress), concept, n, seed)
    after = measure(profile, erased_sampler(profile, erased, progress), concept, n, seed)
    return erasure_report(concept.name, erased.method, before, after, erased.info, seed) | {
        "hyperparameters": erased.hyperparameters
    }
