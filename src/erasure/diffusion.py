"""The forward diffusion every attack's denoising loss draws: x_t = sqrt(ᾱ_t) x₀ + sqrt(1 − ᾱ_t) ε
(DDPM, Ho et al. 2020, Eq. 4).

t and ε are drawn on the CPU by the caller's generator, so a seed gives the same draw on every device; they are
moved to x₀'s device here, and ᾱ is read from the scheduler on the CPU.
"""

from __future__ import annotations

import torch


def diffuse(
    scheduler, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_t, t, ε), all on x₀'s device, for x₀ (B, ...) and t (B,) or (1,)."""
    a = scheduler.alphas_cumprod[t.cpu()].view(-1, *([1] * (x0.dim() - 1))).to(x0.device)
    eps = eps.to(x0.device)
    return a.sqrt() * x0 + (1 - a).sqrt() * eps, t.to(x0.device), eps
