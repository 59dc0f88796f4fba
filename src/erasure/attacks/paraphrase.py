"""Paraphrases: the zero-cost attack. Each prompt is asked again with the concept's word replaced by every
other word of its class, in turn: its other training synonyms ("cottage", "hut" for house), then its held-out
words ("church", "chapel", "cabin"), which no training caption holds. A prompt counts as broken when any word
brings the concept back; every word is judged (there is no early stop), so the rate is also reported per word
(`per_word`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from erasure.attacks.base import Adversarial, Attack, AttackRecords, Victim


def class_words(concept) -> list[str]:
    """The words a paraphrase tries: the concept's training synonyms after the canonical one, then its
    held-out words."""
    return [*concept.erase[1:], *concept.related]


def reworded(prompt: str, concept, word: str) -> str:
    """`prompt` with the concept's canonical word replaced by `word`."""
    return " ".join(prompt.replace(concept.erase[0], word).split())


@dataclass(frozen=True)
class Paraphrase(Attack):
    """Every class word in turn; one judged generation per word, from the prompt's seed."""

    name: ClassVar[str] = "paraphrase"
    stop_at_success: ClassVar[bool] = False
    budget_unit: ClassVar[str] = "words"
    seed: int = 0
    words: int = 0  # set by `run`: how many words the concept's class has

    @property
    def checks(self) -> int:
        return self.words

    def run(self, profile, model, concept, prompts, seed=0, targets=None) -> AttackRecords:
        sweep = Paraphrase(seed=self.seed, words=len(class_words(concept)))
        return Attack.run(sweep, profile, model, concept, prompts, seed, targets)

    def control(self):
        """A paraphrase has no random control: it searches nothing."""
        return None

    def start(self, victim: Victim, active: list[int]) -> dict:
        return {"words": class_words(victim.concept)}

    def advance(self, victim: Victim, pipe, state: dict, active: list[int], check: int) -> None:
        state["word"] = state["words"][check - 1]

    def current(self, victim: Victim, state: dict, active: list[int]) -> Adversarial:
        texts = [reworded(victim.prompts[i], victim.concept, state["word"]) for i in active]
        return Adversarial(victim.encode(texts), [[] for _ in active], texts)


def per_word(records: AttackRecords, concept) -> dict[str, float]:
    """The share of prompts in which each class word brought the concept back."""
    verdicts = np.array([r.verdicts[1:] for r in records.records], dtype=bool)
    return {word: float(verdicts[:, j].mean()) for j, word in enumerate(class_words(concept))}
