"""The random control: k tokens drawn uniformly from the attack vocabulary, a fresh draw at every checkpoint,
put where the attack it controls puts its tokens (before the prompt, or in its place). It is judged as often as
that attack, with the same seeds, and optimises nothing: what an attack reaches beyond its control is what its
search adds to a search over random contexts. (UnlearnDiffAtk's code has the same baseline, `random_`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from erasure.attacks.base import Adversarial, Attack, Victim, prompt_generator
from erasure.attacks.vocabulary import attack_vocabulary, decode_words


@dataclass(frozen=True)
class RandomTokens(Attack):
    """k: tokens per draw; draws: judged draws per prompt; replace: the tokens replace the prompt."""

    name: ClassVar[str] = "random"
    budget_unit: ClassVar[str] = "draws"
    k: int = 3
    draws: int = 4
    replace: bool = False
    seed: int = 0

    @property
    def checks(self) -> int:
        return self.draws

    def control(self):
        return self

    def start(self, victim: Victim, active: list[int]) -> dict:
        return {
            "vocabulary": attack_vocabulary(victim.tokenizer),
            "generators": {i: prompt_generator(victim.seed + i, 1_000 + self.seed) for i in active},
            "ids": None,
        }

    def advance(self, victim: Victim, pipe, state: dict, active: list[int], check: int) -> None:
        vocabulary = state["vocabulary"]
        state["ids"] = torch.stack(
            [vocabulary[torch.randint(len(vocabulary), (self.k,), generator=state["generators"][i])] for i in active]
        )

    @torch.no_grad()
    def current(self, victim: Victim, state: dict, active: list[int]) -> Adversarial:
        prompts = ["" if self.replace else victim.prompts[i] for i in active]
        ids = state["ids"]
        texts = [
            " ".join(f"{decode_words(victim.tokenizer, row.tolist())} {p}".split())
            for row, p in zip(ids, prompts, strict=True)
        ]
        return Adversarial(victim.with_tokens(prompts, victim.word_embeddings(ids)), ids.tolist(), texts)
