"""Judged fidelity of a (tiny-profile) model: does it draw what it is asked for?

- object / style / colour accuracy: prompts naming all three ("a red striped house"), judged per head;
- attribute rate, prompted: the same prompts with a training phrase for fire appended; the share of
  images the judge sees fire in;
- attribute rate, unprompted: the share of images with fire among the prompts that never ask for it;
- related-prompt rate, per concept: the share of images that show the concept when it is asked for
  with held-out words only (its `related_prompts`).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from erasure.concepts import JudgedPrompt
from erasure.pipeline import generate
from erasure.world.captions import FIRE_PHRASES
from erasure.world.render import COLOURS, OBJECTS, STYLES


def attribute_prompts(n: int, seed: int = 0, fire: bool = False) -> tuple[list[str], np.ndarray]:
    """`n` prompts "a {colour} {style} {object}" (with a fire phrase if `fire`), cycling through every
    combination in a seeded order, and their (object, style, colour) labels."""
    combos = list(itertools.product(range(len(COLOURS)), range(len(STYLES)), range(len(OBJECTS))))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(combos))
    labels, prompts = [], []
    for i in range(n):
        c, s, o = combos[order[i % len(combos)]]
        prompt = f"a {COLOURS[c]} {STYLES[s]} {OBJECTS[o]}"
        if fire:
            prompt += " " + FIRE_PHRASES[i % len(FIRE_PHRASES)]
        prompts.append(prompt)
        labels.append((o, s, c))
    return prompts, np.array(labels).reshape(-1, 3)


def judged_rate(judge, images: np.ndarray, head: str, label: int) -> float:
    """Share of images whose judged `head` label is `label`."""
    return float(np.mean(judge.predict(images)[head] == label)) if len(images) else float("nan")


def judged_accuracy(judge, images: np.ndarray, items: list[JudgedPrompt]) -> float:
    """Share of images the judge labels as their prompt asked (each item names its head)."""
    pred = judge.predict(images)
    return float(np.mean([pred[it.head][i] == it.label for i, it in enumerate(items)]))


def base_fidelity(
    profile, n_images: int = 240, n_related: int = 32, seed: int = 0, batch_size: int = 32, progress: bool = True
) -> dict:
    """The base model's judged fidelity and sampling speed (the `evaluate --base` report)."""
    pipe, judge, sampler = profile.pipe, profile.judge, profile.sampler
    prompts, labels = attribute_prompts(n_images, seed)
    start = time.perf_counter()
    images = generate(pipe, prompts, seed=seed, batch_size=batch_size, progress=progress, **sampler)
    seconds = time.perf_counter() - start
    pred = judge.predict(images)
    fire_prompts, fire_labels = attribute_prompts(max(1, n_images // 2), seed + 1, fire=True)
    fire_images = generate(pipe, fire_prompts, seed=seed + 100_000, batch_size=batch_size, progress=progress, **sampler)
    fire_pred = judge.predict(fire_images)
    related = {}
    for concept in profile.concepts:
        rel = concept.related_prompts(n_related, seed)
        rel_images = generate(pipe, rel, seed=seed + 200_000, batch_size=batch_size, progress=progress, **sampler)
        related[concept.name] = judged_rate(judge, rel_images, concept.judge_head, concept.judge_label)
    return {
        "object_accuracy": float(np.mean(pred["object"] == labels[:, 0])),
        "style_accuracy": float(np.mean(pred["style"] == labels[:, 1])),
        "colour_accuracy": float(np.mean(pred["colour"] == labels[:, 2])),
        "all_three_accuracy": float(
            np.mean(
                (pred["object"] == labels[:, 0]) & (pred["style"] == labels[:, 1]) & (pred["colour"] == labels[:, 2])
            )
        ),
        "attribute_rate_prompted": float(np.mean(fire_pred["fire"] == 1)),
        "attribute_object_accuracy": float(np.mean(fire_pred["object"] == fire_labels[:, 0])),
        "attribute_rate_unprompted": float(np.mean(pred["fire"] == 1)),
        "related_prompt_rate": related,
        "images_per_second": len(prompts) / seconds,
        "batch_size": batch_size,
        "n_images": len(prompts) + len(fire_prompts) + n_related * len(related),
        "seed": seed,
        **sampler,
    }
