"""Concept inversion (Pham et al., "Circumventing concept erasure methods for text-to-image generative models",
ICLR 2024): textual inversion on the *erased* model. One new word embedding v* is learned, with the erased
model frozen, so that prompts holding it denoise the base model's images of the concept (Gal et al. 2023's
loss, on the erased model):

    min_{v*}  E_{i, t, ε} || ε_θ*(x_t^i, t, E([v*] ⊕ c_i \\ w)) - ε ||²,

where c_i \\ w is prompt i without the concept's word. If the erasure only cut the word's path, v* finds another
way in: the strongest white-box probe, since it learns from images rather than from the word. v* is universal
(one vector for every prompt), so unlike the per-prompt attacks its records depend on the set of prompts. After
each block of steps every prompt not yet broken is judged with v* in place of the word; the records keep v* as it
was at every check, so each prompt's image can be regenerated with the vector that was judged.

Our deviations (docs/attacks.md): v* is put first in the prompt (the word's own place varies by task); it starts
at a random vocabulary token's embedding (textual inversion starts at a chosen coarse word, which could leak
the concept); on tiny 4 blocks of 25 Adam steps (lr 0.01) on batches of 8 target images (the paper: 1000
steps at textual inversion's settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from erasure.attacks.base import Adversarial, Attack, Victim, prompt_generator
from erasure.attacks.vocabulary import attack_vocabulary
from erasure.diffusion import diffuse


def without_word(prompt: str, concept) -> str:
    """`prompt` with the concept's canonical word taken out."""
    return " ".join(prompt.replace(concept.erase[0], " ").split())


@dataclass(frozen=True)
class ConceptInversion(Attack):
    """k: learned vectors (one new word: 1); checks: blocks, each followed by one judged generation per prompt;
    iterations: Adam steps per block; batch: target images per step; lr: Adam's step."""

    name: ClassVar[str] = "inversion"
    continuous: ClassVar[bool] = True
    k: int = 1
    checks: int = 4
    iterations: int = 25
    batch: int = 8
    lr: float = 0.01
    seed: int = 0

    @property
    def budget_per_check(self) -> int:
        return self.iterations

    def start(self, victim: Victim, active: list[int]) -> dict:
        generator = prompt_generator(victim.seed, 2_000 + self.seed)
        vocabulary = attack_vocabulary(victim.tokenizer)
        start_ids = vocabulary[torch.randint(len(vocabulary), (self.k,), generator=generator)]
        v = torch.nn.Parameter(victim.word_embeddings(start_ids).clone())
        return {
            "x0": victim.target_latents(),
            "texts": [without_word(p, victim.concept) for p in victim.prompts],
            "v": v,
            "optimizer": torch.optim.Adam([v], lr=self.lr),
            "generator": generator,
            "snapshots": [],
        }

    def advance(self, victim: Victim, pipe, state: dict, active: list[int], check: int) -> None:
        scheduler, g = pipe.scheduler, state["generator"]
        n = len(state["x0"])
        for _ in range(self.iterations):
            which = torch.randint(n, (min(self.batch, n),), generator=g)
            t = torch.randint(scheduler.config.num_train_timesteps, (len(which),), generator=g)
            x0 = state["x0"][which]
            eps = torch.randn(x0.shape, generator=g)
            x_t, t, eps = diffuse(scheduler, x0, t, eps)
            prompts = [state["texts"][i] for i in which.tolist()]
            conditioning = victim.with_tokens(prompts, state["v"].expand(len(which), -1, -1))
            loss = (pipe.unet(x_t, t, encoder_hidden_states=conditioning).sample - eps).pow(2).mean()
            state["optimizer"].zero_grad(set_to_none=True)
            loss.backward()
            state["optimizer"].step()

    @torch.no_grad()
    def current(self, victim: Victim, state: dict, active: list[int]) -> Adversarial:
        prompts = [state["texts"][i] for i in active]
        state["snapshots"].append(state["v"].detach().clone())
        return Adversarial(victim.with_tokens(prompts, state["snapshots"][-1].expand(len(active), -1, -1)))

    def embeddings(self, state: dict) -> torch.Tensor:
        """v* at every check (checks, k, d): prompt i was judged last with the one of its last checkpoint."""
        return torch.stack(state["snapshots"])

    def control(self):
        """Random tokens in the learned word's place, judged as often."""
        from erasure.attacks.random_tokens import RandomTokens

        return RandomTokens(k=self.k, draws=self.checks, seed=self.seed)
