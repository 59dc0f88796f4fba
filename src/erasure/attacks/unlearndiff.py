"""UnlearnDiffAtk (Zhang et al., "To generate or not? Safety-driven unlearned diffusion models are still easy
to generate unsafe images … for now", ECCV 2024): k discrete prefix tokens found by gradient descent on the
erased model's own denoising loss, with the base model's image of the prompt as the target (eq. 3):

    min_{a in V^k}  E_ε || ε_θ*(x_t, t, E([a] ⊕ c)) - ε ||²,   x_t = noised x_0 (the base model's image).

As in the authors' code, each token is a distribution u over the vocabulary (a point of the simplex, uniform
at the start); each step samples a one-hot token from u (the straight-through estimator passes the gradient,
clipped to [-1, 1], to u), takes an Adam step (lr 0.01, weight decay 0.1), and projects u back onto the
simplex. The search runs in blocks, one timestep per block (T/n/2, T/n/2 + T/n, …); after each block the most
likely tokens (argmax u) are judged, and a prompt stops at its first success.

Our deviations (docs/attacks.md): the vocabulary is the whole-word tokens that re-tokenise to themselves (so a
released prompt reproduces); the simplex projection is the exact sort-based one, where the code bisects to the
same point; on tiny, 4 blocks of 10 steps (the paper's sd14: 50 blocks of 40).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from erasure.attacks.token_search import SearchState, TokenSearch


class SampledOneHot(torch.autograd.Function):
    """A one-hot row sampled from each row of u; backward: the straight-through gradient, clipped to [-1, 1]."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return F.one_hot(torch.multinomial(u, 1, generator=generator).squeeze(1), u.shape[-1]).to(u.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return F.hardtanh(grad), None


def project_to_simplex(u: torch.Tensor) -> torch.Tensor:
    """The Euclidean projection of each row of u onto the probability simplex (Duchi et al. 2008)."""
    sorted_u, _ = u.sort(dim=-1, descending=True)
    cumulative = sorted_u.cumsum(-1) - 1
    ranks = torch.arange(1, u.shape[-1] + 1, dtype=u.dtype, device=u.device)
    support = (sorted_u - cumulative / ranks > 0).sum(-1, keepdim=True)
    theta = cumulative.gather(-1, support - 1) / support.to(u.dtype)
    return (u - theta).clamp_min(0)


@dataclass(frozen=True)
class UnlearnDiffAtk(TokenSearch):
    """k: prefix tokens (paper: 5 for nudity, 3 for objects and styles); checks: blocks, each one timestep and
    one judged generation; iterations: Adam steps per block; lr, weight_decay: the paper's 0.01 and 0.1."""

    name: ClassVar[str] = "unlearndiffatk"
    k: int = 3
    checks: int = 4
    iterations: int = 10
    lr: float = 0.01
    weight_decay: float = 0.1
    seed: int = 0

    def init(self, victim, state: SearchState, generator) -> torch.Tensor:
        return torch.full((self.k, len(state.vocabulary)), 1.0 / len(state.vocabulary))

    def tokens(self, state: SearchState, active: list[int]) -> torch.Tensor:
        one_hot = torch.stack([SampledOneHot.apply(state.parameters[i], state.generators[i]) for i in active])
        return one_hot @ state.table

    @torch.no_grad()
    def after_step(self, state: SearchState, active: list[int]) -> None:
        for i in active:
            state.parameters[i].copy_(project_to_simplex(state.parameters[i]))

    def ids(self, state: SearchState, active: list[int]) -> torch.Tensor:
        return state.vocabulary[torch.stack([state.parameters[i].argmax(-1) for i in active])]
