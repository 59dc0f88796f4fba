"""What the closed-form methods share (UCE, RECE): the cross-attention key and value projections they
edit, the text embeddings they edit them with, and UCE's closed-form solution (Gandikota et al., WACV 2024,
Eq. 7), which RECE reuses for its adversarial rounds:

    W = (lambda W_old + s_e sum_i v*_i c_i^T + s_p sum_j (W_old c_j) c_j^T)
        (lambda I + s_e sum_i c_i c_i^T + s_p sum_j c_j c_j^T)^-1

c_i are the embeddings to erase, v*_i the outputs they must now give (the guide's), c_j the embeddings to
preserve; every erased model keeps only the projections it changed (`FineTunedModel`'s format).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from erasure.methods.options import finite, require
from erasure.text import encode_prompts

#: The modules a closed-form edit changes: every cross-attention's key and value projection.
PROJECTIONS = ("attn2.to_k", "attn2.to_v")


def cross_attention_projections(unet) -> dict[str, torch.nn.Linear]:
    """The key and value projections of every cross-attention of a diffusers UNet, by module name."""
    found = {name: m for name, m in unet.named_modules() if name.endswith(PROJECTIONS)}
    if not found:
        raise ValueError("this UNet has no cross-attention (no module ends in attn2.to_k / attn2.to_v)")
    return found


def last_word_embeddings(pipe, prompts: list[str]) -> torch.Tensor:
    """(N, d): each prompt's embedding at its last word token, the one before the end token (UCE's c_i;
    the empty prompt gives its start token)."""
    tokens = pipe.tokenizer(prompts, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True)
    last = torch.tensor([sum(mask) - 2 for mask in tokens["attention_mask"]]).clamp_min(0)
    embeddings = encode_prompts(pipe.tokenizer, pipe.text_encoder, prompts)
    return embeddings[torch.arange(len(prompts)), last]


@torch.no_grad()
def closed_form_edit(
    w_old: torch.Tensor,
    erase: torch.Tensor,
    targets: torch.Tensor,
    preserve: torch.Tensor,
    preserve_targets: torch.Tensor,
    lamb: float,
    erase_scale: float,
    preserve_scale: float,
) -> torch.Tensor:
    """Eq. 7 for one projection W (d_out, d_in): `erase` (n, d_in) must map to `targets` (n, d_out),
    `preserve` (m, d_in) to `preserve_targets` (m, d_out); solved in float64."""
    w, c_e, v_e, c_p, v_p = (x.double() for x in (w_old, erase, targets, preserve, preserve_targets))
    left = lamb * w + erase_scale * v_e.T @ c_e + preserve_scale * v_p.T @ c_p
    right = (
        lamb * torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
        + erase_scale * c_e.T @ c_e
        + preserve_scale * c_p.T @ c_p
    )
    return torch.linalg.solve(right, left.T).T.to(w_old.dtype)  # right is symmetric: W = left right^-1


@dataclass
class ProjectionEdit:
    """Edited copies of the projections' weights, applied to a UNet only through `outputs` and `changed`."""

    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, unet) -> ProjectionEdit:
        return cls({n: m.weight.detach().clone() for n, m in cross_attention_projections(unet).items()})

    def outputs(self, name: str, embeddings: torch.Tensor) -> torch.Tensor:
        """W c for the current weights of projection `name`."""
        return embeddings.to(self.weights[name].dtype) @ self.weights[name].T

    def changed(self) -> dict[str, torch.Tensor]:
        """The edited tensors, named as in the UNet's state dict."""
        return {f"{n}.weight": w for n, w in self.weights.items()}


@dataclass(frozen=True)
class ClosedFormHyperparameters:
    """Eq. 7's weights: lambda (keep W_old), s_e (erase), s_p (preserve)."""

    name: ClassVar[str] = "closed_form"
    lamb: float = 0.5
    erase_scale: float = 1.0
    preserve_scale: float = 1.0

    def __post_init__(self):
        for key in ("lamb", "erase_scale", "preserve_scale"):
            value = getattr(self, key)
            require(finite(value) and value >= 0, self.name, f"{key} must be a number >= 0, got {value}")
        require(self.lamb > 0 or self.erase_scale > 0, self.name, "lamb and erase_scale cannot both be 0")
