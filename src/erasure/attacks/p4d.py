"""P4D (Chin et al., "Prompting4Debugging: red-teaming text-to-image diffusion models by finding problematic
prompts", ICML 2024), P4D-N: N discrete tokens, which replace the prompt, optimised so that the erased
model's noise prediction under them matches the *base* model's under the original prompt (eq. 4):

    min_{P in V^N}  || ε_θ*(x_t, t, E(P)) - ε_θ(x_t, t, E(c)) ||²,   x_t = noised x_0 (the base model's image).

The tokens are found as in PEZ (Wen et al. 2023), on which the authors' code builds: continuous vectors start at
N random tokens' embeddings; each step projects them to their nearest vocabulary tokens (cosine), runs the
forward pass with the projected tokens and applies the gradient to the continuous vectors (AdamW, lr 0.1, weight
decay 0.1); t is uniform over the training timesteps at every step. The projected tokens are judged every
`iterations` steps and a prompt stops at its first success (the paper keeps the best prompt by CLIP similarity
to the target image over its 3000 steps; UnlearnDiffAtk's evaluation of P4D, which we follow, judges it).

Our deviations (docs/attacks.md): the attack vocabulary (whole words that re-tokenise); on tiny N = 6 tokens
(the paper: 16, of CLIP's 77 places; tiny prompts hold 16 tokens in all) and 4 checks of 10 steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from erasure.attacks.token_search import SearchState, TokenSearch, nearest_tokens, random_vocabulary_ids


class ProjectedTokens(torch.autograd.Function):
    """PEZ's straight-through projection: the forward pass uses the nearest vocabulary embeddings, the gradient
    goes to the continuous vectors unchanged."""

    @staticmethod
    def forward(ctx, vectors: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
        return projected

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


@dataclass(frozen=True)
class P4D(TokenSearch):
    """k: the N tokens of P4D-N; checks: judged checkpoints; iterations: AdamW steps between them; lr,
    weight_decay: the paper's 0.1 and 0.1."""

    name: ClassVar[str] = "p4d"
    replaces: ClassVar[bool] = True
    k: int = 6
    checks: int = 4
    iterations: int = 10
    lr: float = 0.1
    weight_decay: float = 0.1
    seed: int = 0

    def optimizer(self, parameters):
        return torch.optim.AdamW(parameters, lr=self.lr, weight_decay=self.weight_decay)

    def init(self, victim, state: SearchState, generator) -> torch.Tensor:
        return victim.word_embeddings(random_vocabulary_ids(state, self.k, generator)).clone()

    def projected(self, state: SearchState, active: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return nearest_tokens(torch.stack([state.parameters[i] for i in active]), state)

    def tokens(self, state: SearchState, active: list[int]) -> torch.Tensor:
        projected = state.table[torch.searchsorted(state.vocabulary, self.projected(state, active))]
        return torch.stack([ProjectedTokens.apply(state.parameters[i], projected[j]) for j, i in enumerate(active)])

    def ids(self, state: SearchState, active: list[int]) -> torch.Tensor:
        return self.projected(state, active)

    def timestep(self, generator, check: int, train_steps: int) -> int:
        return int(torch.randint(train_steps, (1,), generator=generator))

    @torch.no_grad()
    def teacher(self, victim, x_t: torch.Tensor, t: torch.Tensor, active: list[int]) -> torch.Tensor:
        """ε_θ(x_t, t, E(c)): the base model's prediction under the original (target) prompt."""
        conditioning = victim.encode([victim.targets[i] for i in active])
        return victim.profile.pipe.unet(x_t, t, encoder_hidden_states=conditioning).sample
