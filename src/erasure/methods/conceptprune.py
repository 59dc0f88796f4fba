"""ConceptPrune (Chavhan et al., ICLR 2025): training-free erasure by pruning the UNet's "skilled neurons",
the weights of each feed-forward output layer (`ff.net.2`) that matter for the concept's prompts and not
for the concept-free ones, found with the Wanda score |W| * ||X|| (Sun et al., 2024).

1. Run the sampler on the concept's prompt pairs (with / without the concept, same seeds); at every
   timestep, for every `ff.net.2`, the column norms ||X_j|| of its input (the GEGLU output), each token's
   activation first scaled to unit length (the released code's normalisation).
2. Per timestep and layer, S = |W| * ||X|| for both prompt sets; a weight is skilled when it is in its
   row's top `skill_ratio` share by S_with, and S_with > S_without.
3. The union over the first `timesteps` steps of the schedule (a weight skilled in more than
   `select_ratio * timesteps` of them) is set to zero, once: the pruned UNet is a plain UNet.
Values and deviations: docs/baselines.md.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from erasure.methods.base import ErasedModel
from erasure.methods.defaults import ProfileDefaults
from erasure.methods.finetune import FineTunedModel
from erasure.methods.hooks import CurrentTimestep
from erasure.methods.options import finite, require
from erasure.methods.sampling import sample_latents

#: The pruned layers: the second linear layer of every transformer block's feed-forward.
SITE = ".ff.net.2"


def pruning_sites(unet) -> dict[str, torch.nn.Linear]:
    sites = {name: m for name, m in unet.named_modules() if name.endswith(SITE)}
    if not sites:
        raise ValueError(f"this UNet has no module ending in {SITE!r}: it has no feed-forward layers to prune")
    return sites


@torch.no_grad()
def column_norms(pipe, prompts: list[str], seeds: list[int], steps: int, guidance: float, batch_size: int = 16):
    """Step 1: per layer, {timestep: ||X_j|| over every token of every prompt} for each `ff.net.2` input."""
    sites = pruning_sites(pipe.unet)
    sums: dict[str, dict[int, torch.Tensor]] = {name: {} for name in sites}
    tracker = CurrentTimestep(pipe.unet)

    def recorder(name):
        def hook(module, args):
            x = args[0].float().flatten(0, -2)
            x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
            sums[name][tracker.t] = sums[name].get(tracker.t, 0) + (x * x).sum(0).double()

        return hook

    handles = [m.register_forward_pre_hook(recorder(n)) for n, m in sites.items()]
    try:
        sample_latents(pipe, prompts, seeds, steps, guidance, batch_size, desc="conceptprune activations")
    finally:
        for h in handles:
            h.remove()
        tracker.remove()
    return {name: {t: s.sqrt().float() for t, s in by_t.items()} for name, by_t in sums.items()}


def skilled_weights(
    weight: torch.Tensor, norm_with: torch.Tensor, norm_without: torch.Tensor, ratio: float
) -> torch.Tensor:
    """Step 2 for one layer and timestep: the (d_out, d_in) bool mask of skilled weights."""
    s_with, s_without = weight.abs() * norm_with, weight.abs() * norm_without
    k = max(1, int(ratio * weight.shape[1]))
    top = torch.zeros_like(s_with, dtype=torch.bool).scatter_(1, s_with.topk(k, dim=1).indices, True)
    return top & (s_with > s_without)


@dataclass(frozen=True)
class ConceptPrune(ProfileDefaults):
    """ConceptPrune; sd14 defaults are the released scripts' (skill ratio 0.01 for styles, 0.02 for objects:
    0.01 here; the union over the first 10 of 50 steps; select ratio 0; the README's prompt pairs, here the
    concept's own)."""

    name: ClassVar[str] = "conceptprune"
    #: Chosen on the tuning concepts heart and checkered (notebook 06): the largest pruning tried, which still
    #: erases little (docs/baselines.md).
    tiny: ClassVar[dict] = {"skill_ratio": 0.2, "timesteps": 20}
    skill_ratio: float = 0.01
    timesteps: int = 10  # tau: the first steps of the schedule whose skilled weights are pruned
    select_ratio: float = 0.0
    num_pairs: int = 20
    num_inference_steps: int = 50
    guidance_scale: float = 7.5
    seed: int = 0

    def __post_init__(self):
        require(0 < self.skill_ratio <= 1, self.name, f"skill_ratio must be in (0, 1], got {self.skill_ratio}")
        require(self.timesteps >= 1, self.name, f"timesteps must be at least 1, got {self.timesteps}")
        require(0 <= self.select_ratio < 1, self.name, f"select_ratio must be in [0, 1), got {self.select_ratio}")
        require(self.num_pairs >= 1, self.name, f"num_pairs must be at least 1, got {self.num_pairs}")
        require(self.num_inference_steps >= 1, self.name, "num_inference_steps must be at least 1")
        require(finite(self.guidance_scale) and self.guidance_scale >= 0, self.name, "guidance_scale must be >= 0")

    @classmethod
    def for_profile(cls, profile, **overrides) -> ConceptPrune:
        """The profile's sampler for the activations, the tiny overrides on tiny, then the overrides."""
        return super().for_profile(profile, **{**profile.sampler, **overrides})

    def concept_inputs(self, concept) -> dict:
        """What the erasure reads from the concept besides its name (part of the store's key)."""
        pairs = concept.prompt_pairs(self.num_pairs, self.seed)
        return {"prompt_pairs_sha256": hashlib.sha256(json.dumps(pairs).encode()).hexdigest()}

    def mask(self, pipe, concept) -> dict[str, torch.Tensor]:
        """Steps 1-3: per layer, the weights to prune."""
        pairs = concept.prompt_pairs(self.num_pairs, self.seed)
        seeds = [self.seed + i for i in range(len(pairs))]
        run = (self.num_inference_steps, self.guidance_scale)
        with_concept = column_norms(pipe, [w for w, _ in pairs], seeds, *run)
        without = column_norms(pipe, [wo for _, wo in pairs], seeds, *run)
        masks = {}
        for name, module in pruning_sites(pipe.unet).items():
            first = sorted(with_concept[name], reverse=True)[: self.timesteps]
            counts = sum(
                skilled_weights(module.weight, with_concept[name][t], without[name][t], self.skill_ratio).int()
                for t in first
            )
            masks[name] = counts > self.select_ratio * len(first)
        return masks

    def erase(self, pipe, concept) -> ConceptPruneModel:
        start = time.perf_counter()
        masks = self.mask(pipe, concept)
        sites = pruning_sites(pipe.unet)
        changed = {f"{n}.weight": sites[n].weight.detach().masked_fill(m, 0.0) for n, m in masks.items()}
        pruned = int(sum(m.sum() for m in masks.values()))
        total = sum(p.numel() for p in pipe.unet.parameters())
        info = {
            "erase_seconds": time.perf_counter() - start,
            "pruned_weights": pruned,
            "pruned_share_of_unet": pruned / total,
            **self.concept_inputs(concept),
        }
        return ConceptPruneModel(pipe, concept.name, asdict(self), info, changed)


@ErasedModel.register
class ConceptPruneModel(FineTunedModel):
    """The base pipeline with the skilled weights of its feed-forward output layers set to zero."""

    method = "conceptprune"
