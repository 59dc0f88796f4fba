"""The erased rate over a concept's whole class: its evaluation prompts asked with each of its training words
("house", "cottage", "hut"), not only the canonical one that fine-tuning methods erase. An erasure that only
cuts the canonical word's path leaves its training synonyms drawing the concept (after ESD on house, "hut"
still draws a house in most images): the class rate shows it, per word and pooled over the words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from erasure.evaluate.fidelity import judged_rate
from erasure.evaluate.intervals import wilson


def word_prompts(concept, word: str, n: int | None = None, seed: int = 0) -> list[str]:
    """The concept's evaluation prompts with `word` in the place of its canonical word."""
    return concept._sample(concept._fill(concept.templates["evaluation"], word), n, seed)


def class_rates(profile, sample: Callable[[list[str], int], np.ndarray], concept, n: int, seed: int = 0) -> dict:
    """Per training word, the share of images (of at most n prompts) in which the judge sees the concept, with
    its number of images; and the pooled share over every word's images."""
    head, label = concept.judge_head, concept.judge_label
    by_word = {}
    for word in concept.erase:
        prompts = word_prompts(concept, word, n, seed)
        by_word[word] = {"rate": judged_rate(profile.judge, sample(prompts, seed), head, label), "n": len(prompts)}
    total = sum(w["n"] for w in by_word.values())
    pooled = sum(w["rate"] * w["n"] for w in by_word.values()) / total
    low, high = wilson(pooled, total)
    return {"by_word": by_word, "rate": pooled, "n": total, "low": low, "high": high}


def class_report(before: dict, after: dict) -> dict:
    """The `evaluate --erased` keys of the class rate, before and after."""
    return {
        "erased_rate_class_before": before["rate"],
        "erased_rate_class_after": after["rate"],
        "erased_rate_class_n": after["n"],
        "erased_rate_class_after_low": after["low"],
        "erased_rate_class_after_high": after["high"],
        "erased_rate_by_word": {
            word: {"before": before["by_word"][word]["rate"], "after": w["rate"], "n": w["n"]}
            for word, w in after["by_word"].items()
        },
    }
