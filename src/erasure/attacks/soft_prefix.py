"""The soft prefix: UnlearnDiffAtk's objective and schedule with k *continuous* prefix vectors in the word-
embedding space instead of vocabulary tokens (a soft prompt, as AdvUnlearn's and AEGIS's inner attacks use
it). No text can carry such a prompt, so it is not an attack a user could type: it is the white-box upper
bound of what a k-token prefix can do through the text encoder, reported beside the discrete attacks.

    min_{a in R^{k x d}}  E_ε || ε_θ*(x_t, t, E([a] ⊕ c)) - ε ||²

The vectors start at the embeddings of k random vocabulary tokens and take Adam steps (lr 0.01); the search
runs in UnlearnDiffAtk's blocks, one timestep per block, with the current vectors judged after each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from erasure.attacks.token_search import SearchState, TokenSearch, random_vocabulary_ids


@dataclass(frozen=True)
class SoftPrefix(TokenSearch):
    """k: prefix vectors; checks: blocks (one timestep and one judged generation each); iterations: Adam steps
    per block; lr: Adam's step."""

    name: ClassVar[str] = "soft_prefix"
    continuous: ClassVar[bool] = True
    k: int = 3
    checks: int = 4
    iterations: int = 10
    lr: float = 0.01
    weight_decay: float = 0.0
    seed: int = 0

    def init(self, victim, state: SearchState, generator) -> torch.Tensor:
        return victim.word_embeddings(random_vocabulary_ids(state, self.k, generator)).clone()

    def tokens(self, state: SearchState, active: list[int]) -> torch.Tensor:
        return torch.stack([state.parameters[i] for i in active])

    def embeddings(self, state: SearchState) -> torch.Tensor:
        """Every attacked prompt's vectors (N, k, d); zeros for a prompt broken with no attack."""
        n = len(state.x0)
        out = torch.zeros(n, self.k, state.table.shape[-1])
        for i, p in state.parameters.items():
            out[i] = p.detach()
        return out
