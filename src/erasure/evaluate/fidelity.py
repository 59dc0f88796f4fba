"""Judged fidelity of a (tiny-profile) model: does it draw what it is asked for?

- object / style / colour accuracy: prompts naming all three ("a red striped house"), judged per head;
- attribute rate, prompted: the same prompts with a training phrase for fire appended; the share of
  images the judge sees fire in;
- attribute rate, unprompted: the share of images with fire among the prompts that never ask for it;
- concept rate and related-prompt rate, per concept: the share of images that show the concept when it
  is asked for with its training words, and with held-out words only (its `related_prompts`);
- implicit fire rates: the share of images with fire on the implicit prompt set, per context strength
  (`erasure.evaluate.implicit`).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from functools import partial

import numpy as np

from erasure.concepts import JudgedPrompt
from erasure.evaluate.implicit import implicit_rates, judge_implicit
from erasure.pipeline import generate
from erasure.world.captions import FIRE_PHRASES
from erasure.world.implicit_prompts import load_implicit_prompts
from erasure.world.render import COLOURS, OBJECTS, STYLES

ATTRIBUTE_HEADS = ("object", "style", "colour")


def attribute_prompts(n: int, seed: int = 0, fire: bool = False) -> tuple[list[str], np.ndarray]:
    """`n` prompts "a {colour} {style} {object}" (with a fire phrase if `fire`), cycling through every
    combination in a seeded order, and their (object, style, colour) labels, shape (n, 3)."""
    combos = list(itertools.product(range(len(OBJECTS)), range(len(STYLES)), range(len(COLOURS))))
    order = np.random.default_rng(seed).permutation(len(combos))
    labels = np.array([combos[order[i % len(combos)]] for i in range(n)]).reshape(-1, 3)
    prompts = [f"a {COLOURS[c]} {STYLES[s]} {OBJECTS[o]}" for o, s, c in labels]
    if fire:
        prompts = [f"{p} {FIRE_PHRASES[i % len(FIRE_PHRASES)]}" for i, p in enumerate(prompts)]
    return prompts, labels


def judged_rate(judge, images: np.ndarray, head: str, label: int) -> float:
    """Share of images whose judged `head` label is `label`."""
    return float(np.mean(judge.predict(images)[head] == label))


def judged_accuracy(judge, images: np.ndarray, items: list[JudgedPrompt]) -> float:
    """Share of images the judge labels as their prompt asked (each item names its head)."""
    pred = judge.predict(images)
    return float(np.mean([pred[it.head][i] == it.label for i, it in enumerate(items)]))


@dataclass
class JudgedGenerations:
    """Generations for attribute prompts, with what was asked (`labels`) and what the judge saw."""

    prompts: list[str]
    labels: np.ndarray  # (N, 3): object, style, colour indices
    images: np.ndarray
    pred: dict[str, np.ndarray]
    seconds: float

    def correct(self, head: str) -> np.ndarray:
        return self.pred[head] == self.labels[:, ATTRIBUTE_HEADS.index(head)]


def judge_attribute_prompts(
    profile, n: int, seed: int = 0, fire: bool = False, batch_size: int = 32, progress: bool = True
) -> JudgedGenerations:
    """Generates one image per attribute prompt (image i seeded `seed + i`) and judges it."""
    prompts, labels = attribute_prompts(n, seed, fire=fire)
    start = time.perf_counter()
    images = generate(profile.pipe, prompts, seed=seed, batch_size=batch_size, progress=progress, **profile.sampler)
    seconds = time.perf_counter() - start
    return JudgedGenerations(prompts, labels, images, profile.judge.predict(images), seconds)


def fidelity_summary(plain: JudgedGenerations, fire: JudgedGenerations) -> dict:
    """The fidelity numbers from generations without and with the fire attribute asked for."""
    return {
        "object_accuracy": float(np.mean(plain.correct("object"))),
        "style_accuracy": float(np.mean(plain.correct("style"))),
        "colour_accuracy": float(np.mean(plain.correct("colour"))),
        "all_three_accuracy": float(np.mean(np.all([plain.correct(h) for h in ATTRIBUTE_HEADS], axis=0))),
        "attribute_rate_prompted": float(np.mean(fire.pred["fire"] == 1)),
        "attribute_object_accuracy": float(np.mean(fire.correct("object"))),
        "attribute_rate_unprompted": float(np.mean(plain.pred["fire"] == 1)),
        "images_per_second": len(plain.prompts) / plain.seconds,
    }


def rate_on_prompts(
    profile, prompts: list[str], head: str, label: int, seed: int = 0, batch_size: int = 32, progress: bool = True
) -> float:
    """Judged rate of `label` on `head` over one image per prompt (image i seeded `seed + i`)."""
    images = generate(profile.pipe, prompts, seed=seed, batch_size=batch_size, progress=progress, **profile.sampler)
    return judged_rate(profile.judge, images, head, label)


def concept_activation(profile, n: int = 32, seed: int = 0, progress: bool = True) -> list[dict]:
    """Per concept: how often it appears when asked for with its training words (`concept_rate`)
    and with held-out words only (`related_rate`), on up to `n` images each: one per distinct prompt, so
    a concept with fewer prompts has fewer images (`concept_n`, `related_n`)."""
    rows = []
    for c in profile.concepts:
        training, held_out = c.evaluation_prompts(n, seed), c.related_prompts(n, seed)
        rows.append(
            {
                "concept": c.name,
                "task": c.task,
                "stands_for": c.stands_for or "",
                "concept_rate": rate_on_prompts(
                    profile, training, c.judge_head, c.judge_label, seed, progress=progress
                ),
                "related_rate": rate_on_prompts(
                    profile, held_out, c.judge_head, c.judge_label, seed, progress=progress
                ),
                "concept_n": len(training),
                "related_n": len(held_out),
            }
        )
    return rows


def base_fidelity(
    profile,
    n_images: int = 240,
    n_related: int = 32,
    implicit_per_context: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = True,
) -> dict:
    """The base model's judged fidelity and sampling speed at `batch_size` (the `evaluate --base` report),
    with the implicit prompt set's fire rates on `implicit_per_context` prompts per context (all: None)."""
    plain = judge_attribute_prompts(profile, n_images, seed, batch_size=batch_size, progress=progress)
    fire = judge_attribute_prompts(
        profile, max(1, n_images // 2), seed + 100_000, fire=True, batch_size=batch_size, progress=progress
    )
    activation = concept_activation(profile, n_related, seed + 200_000, progress=progress)
    sample = partial(generate, profile.pipe, batch_size=batch_size, progress=progress, **profile.sampler)
    rows = load_implicit_prompts(per_context=implicit_per_context)
    implicit = judge_implicit(profile, sample, rows, seed=seed + 300_000)
    return {
        **fidelity_summary(plain, fire),
        **implicit_rates(implicit),
        "related_prompt_rate": {r["concept"]: r["related_rate"] for r in activation},
        "concept_rate": {r["concept"]: r["concept_rate"] for r in activation},
        "batch_size": batch_size,
        "n_images": len(plain.prompts)
        + len(fire.prompts)
        + sum(r["concept_n"] + r["related_n"] for r in activation)
        + len(implicit.rows),
        "seed": seed,
        **profile.sampler,
    }
