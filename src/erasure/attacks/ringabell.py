"""Ring-A-Bell (Tsai et al., "Ring-A-Bell! How reliable are concept removal methods for diffusion models?",
ICLR 2024): a model-agnostic attack that never queries the erased model. It learns the concept's direction in
the text encoder's output space from prompt pairs with and without the concept,

    v = mean_i [ E(c_i with the concept) - E(c_i without it) ],

aims at the prompt pushed along it, E(c) + η v, and searches K discrete tokens whose embedding is closest to
that target, by a genetic algorithm (fitness ||E(P) - (E(c) + η v)||², summed over every place of the
sequence; truncation selection of the better half, one-point crossover, one-token mutation). The K tokens
replace the prompt. The best individual is judged on the erased model every `generations // checks`
generations; a prompt stops at its first success. The search itself never asks the attacked model, so it runs
once per prompt set and every model attacked with it is judged on the same tokens.

Our deviations (docs/attacks.md): the elite is never mutated (the code may mutate a parent), so the best
fitness never worsens; the attack vocabulary; the concept's prompt pairs are the registry's (ActErase's);
on tiny K = 6 tokens, population 32, 20 generations in 4 checks (the paper: K = 16 or 77, population 200,
3000 generations), η = 3 as the paper's nudity setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from erasure.attacks.base import Adversarial, Attack, Victim
from erasure.attacks.vocabulary import attack_vocabulary, decode_words

#: The last genetic search, by attack settings, text encoder and prompt set (see `RingABell.search`).
_searched: dict = {}


def concept_vector(victim: Victim, n_pairs: int) -> torch.Tensor:
    """v: the mean difference of the text encoder's outputs (L, d) over the concept's prompt pairs."""
    pairs = victim.concept.prompt_pairs(n_pairs, victim.seed)
    with_concept = victim.encode([w for w, _ in pairs])
    without = victim.encode([wo for _, wo in pairs])
    return (with_concept - without).mean(0)


@dataclass(frozen=True)
class RingABell(Attack):
    """k: the K tokens; eta: the step along the concept vector; population, generations: the genetic search's
    size and length; checks: judged checkpoints; mutation, crossover: the paper's rates; n_pairs: prompt pairs
    for the concept vector."""

    name: ClassVar[str] = "ringabell"
    replaces: ClassVar[bool] = True
    budget_unit: ClassVar[str] = "generations"
    k: int = 6
    eta: float = 3.0
    population: int = 32
    generations: int = 20
    checks: int = 4
    mutation: float = 0.25
    crossover: float = 0.5
    n_pairs: int = 20
    seed: int = 0

    @property
    def budget_per_check(self) -> int:
        return self.generations // self.checks

    @torch.no_grad()
    def fitness(self, victim: Victim, population: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        """||E(P) - target||² for each individual P of `population` (P, K) and its target (P, L, d)."""
        losses = []
        for start in range(0, len(population), 256):
            chunk = population[start : start + 256]
            encoded = victim.with_tokens([""] * len(chunk), victim.word_embeddings(chunk))
            losses.append((encoded - target[start : start + 256]).pow(2).sum((1, 2)))
        return torch.cat(losses).cpu().numpy()

    def search(self, victim: Victim) -> dict:
        """The genetic search for every prompt: the best tokens after each check's generations (checks, N, K)
        and the best fitness after every generation (N, generations). It never asks the attacked model, so it
        is run once per prompt set and shared by every model attacked with it (`_searched`)."""
        key = (self, id(victim.text_encoder), victim.concept.name, tuple(victim.prompts), victim.seed)
        if key not in _searched:
            _searched.clear()
            _searched[key] = self._search(victim)
        return _searched[key]

    def _search(self, victim: Victim) -> dict:
        n = len(victim.prompts)
        vocabulary = attack_vocabulary(victim.tokenizer)
        targets = victim.encode(victim.prompts) + self.eta * concept_vector(victim, self.n_pairs)
        rngs = [np.random.default_rng([victim.seed + i, self.seed]) for i in range(n)]
        populations = [
            vocabulary[torch.from_numpy(r.integers(len(vocabulary), size=(self.population, self.k)))] for r in rngs
        ]
        best = torch.zeros(self.checks, n, self.k, dtype=torch.long)
        history = np.zeros((n, self.generations))
        for g in range(self.generations):
            sizes = torch.tensor([len(p) for p in populations], device=targets.device)
            scores = self.fitness(victim, torch.cat(populations), targets.repeat_interleave(sizes, dim=0))
            scores = np.split(scores, np.cumsum([len(p) for p in populations])[:-1])
            for i in range(n):
                populations[i], history[i, g] = self.generation(populations[i], scores[i], vocabulary, rngs[i])
                if (g + 1) % self.budget_per_check == 0:
                    best[(g + 1) // self.budget_per_check - 1, i] = populations[i][0]
        return {"best": best, "history": history}

    def generation(self, population, scores, vocabulary, rng) -> tuple[torch.Tensor, float]:
        """One generation from the population's fitness: keep the better half (best first), breed children from
        it by one-point crossover and mutate only the children (the elite is kept as it is). Returns the next
        population and the best fitness of this one."""
        order = np.argsort(scores, kind="stable")
        parents = population[torch.from_numpy(order[: self.population // 2])]
        children = []
        for a in range(len(parents)):
            if rng.random() < self.crossover:
                b, point = rng.integers(len(parents)), rng.integers(1, self.k) if self.k > 1 else 0
                children += [
                    torch.cat([parents[a][:point], parents[b][point:]]),
                    torch.cat([parents[b][:point], parents[a][point:]]),
                ]
        for child in children:
            if rng.random() < self.mutation:
                child[rng.integers(self.k)] = vocabulary[rng.integers(len(vocabulary))]
        return torch.cat([parents, *[c[None] for c in children]]), float(scores[order[0]])

    def start(self, victim: Victim, active: list[int]) -> dict:
        return self.search(victim)

    def advance(self, victim: Victim, pipe, state: dict, active: list[int], check: int) -> None:
        state["check"] = check

    @torch.no_grad()
    def current(self, victim: Victim, state: dict, active: list[int]) -> Adversarial:
        ids = state["best"][state["check"] - 1, active]
        texts = [decode_words(victim.tokenizer, row.tolist()) for row in ids]
        return Adversarial(victim.with_tokens([""] * len(active), victim.word_embeddings(ids)), ids.tolist(), texts)
