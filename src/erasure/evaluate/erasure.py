"""How well an erased model erased its concept, and what it kept (the `evaluate --erased` report).

- erased rate: share of generations for the concept's evaluation prompts in which the judge sees it;
- related rate: the same on its held-out related prompts (words never seen in training);
- retained accuracy: judged accuracy on the concept's retained concepts (the other objects, styles…);
- CLIP score: tiny CLIP mean cosine (0.3-scale, not x100) between retained prompts and their images.
Each is measured before (the base pipeline) and after (the erased model), on the same prompts and seeds.
"""

from __future__ import annotations

import math

from erasure.evaluate.clip_score import clip_score
from erasure.evaluate.fidelity import judged_accuracy, judged_rate
from erasure.pipeline import generate


def evaluate_erasure(profile, erased, n: int = 32, seed: int = 0, progress: bool = True) -> dict:
    """Before/after report for one erased model; n images per prompt set."""
    concept = profile.concepts[erased.concept]
    evaluation = concept.evaluation_prompts(n, seed)
    related = concept.related_prompts(n, seed)
    others = {r.label for r in concept.retained(profile.concepts, 1, seed)}
    retained = concept.retained(profile.concepts, max(1, math.ceil(n / len(others))), seed)
    retained_prompts = [r.prompt for r in retained]
    report = {"concept": concept.name, "method": erased.method}
    models = {
        "before": lambda p, s: generate(profile.pipe, p, seed=s, progress=progress, **profile.sampler),
        "after": lambda p, s: erased(p, seed=s, progress=progress, **profile.sampler),
    }
    for when, sample in models.items():
        report[f"erased_rate_{when}"] = judged_rate(
            profile.judge, sample(evaluation, seed), concept.judge_head, concept.judge_label
        )
        report[f"related_rate_{when}"] = judged_rate(
            profile.judge, sample(related, seed + 1), concept.judge_head, concept.judge_label
        )
        images = sample(retained_prompts, seed + 2)
        report[f"retained_accuracy_{when}"] = judged_accuracy(profile.judge, images, retained)
        report[f"clip_score_{when}"] = clip_score(*profile.clip, images, retained_prompts)
    report |= {
        "erase_seconds": erased.info.get("erase_seconds"),
        "n_images": 2 * (len(evaluation) + len(related) + len(retained)),
        "seed": seed,
        "hyperparameters": erased.hyperparameters,
    }
    return report
