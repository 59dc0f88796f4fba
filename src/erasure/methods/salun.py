"""SalUn, Saliency Unlearning (Fan et al., ICLR 2024), for diffusion: fine-tune only the UNet weights most
salient to the concept, by random labelling on forget images, with a retain set.

Data: the base model's own images. The forget set D_f is one image per concept prompt (the concept's
prompt pairs, "with" side); the retain set D_r one per matching concept-free prompt ("without" side), the
same pairing the released NSFW recipe uses ("a photo of a nude person" / "... wearing clothes").
1. Saliency (Eq. 7): g = grad of -||eps - [(1 + w) eps_theta(x_t, c_f) - w eps_theta(x_t, null)]||^2 summed
   over D_f; the mask m keeps the `saliency_share` of weights with the largest |g|, over the whole UNet.
2. Unlearning (Eq. 8): per batch, L = ||eps_theta(x_t^f, c_f) - sg[eps_theta(x_t^f, c_pseudo)]||^2
   + alpha ||eps_theta(x_t^r, c_r) - eps||^2, c_pseudo the paired concept-free prompt (the random label);
   the gradient is multiplied by m before each Adam step, so weights outside the mask never change.
Values and deviations: docs/baselines.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from tqdm import tqdm

from erasure.methods.base import ErasedModel
from erasure.methods.defaults import profile_overrides
from erasure.methods.finetune import FineTunedModel, FinetuneHyperparameters, Finetuner, finish, train
from erasure.methods.options import finite, require
from erasure.methods.sampling import sample_latents

#: Tiny overrides, chosen on the tuning concepts heart and checkered (docs/baselines.md).
TINY = {"iterations": 200, "lr": 5e-5, "n_images": 64, "ddim_steps": 20, "image_guidance": 5.0, "checkpoint_every": 50}


def noised(scheduler, x0: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_t, t, eps) with t uniform over the training timesteps (the diffusion loss's draw)."""
    t = torch.randint(scheduler.config.num_train_timesteps, (len(x0),), generator=generator).to(x0.device)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device)
    return scheduler.add_noise(x0, eps, t), t, eps


@dataclass(frozen=True)
class SalUn(FinetuneHyperparameters):
    """SalUn; sd14 defaults are the released NSFW recipe's (800 forget and 800 retain images, batch 8,
    5 epochs = 500 steps, lr 1e-5, all of the UNet, alpha 0.5 as in its class-forgetting command, saliency
    from guidance 7.5, half of the weights kept)."""

    name: ClassVar[str] = "salun"
    iterations: int = 500
    trainable: str = "unet_all"
    batch_size: int = 8
    n_images: int = 800
    alpha: float = 0.5
    saliency_guidance: float = 7.5  # w in step 1
    saliency_share: float = 0.5  # the share of weights the mask keeps
    image_guidance: float = 7.5  # CFG of the base model's forget and retain images

    def __post_init__(self):
        super().__post_init__()
        require(self.batch_size >= 1, self.name, f"batch_size must be at least 1, got {self.batch_size}")
        require(self.n_images >= 1, self.name, f"n_images must be at least 1, got {self.n_images}")
        require(finite(self.alpha) and self.alpha >= 0, self.name, f"alpha must be >= 0, got {self.alpha}")
        require(0 < self.saliency_share <= 1, self.name, f"saliency_share must be in (0, 1], got {self.saliency_share}")
        require(finite(self.saliency_guidance), self.name, "saliency_guidance must be finite")

    @classmethod
    def for_profile(cls, profile, **overrides) -> SalUn:
        return cls(**{**profile_overrides(cls.name, profile, TINY), **overrides})

    def saliency_mask(self, ft: Finetuner, x_f: torch.Tensor, c_f: torch.Tensor) -> dict[str, torch.Tensor]:
        """Step 1: per trainable tensor, the bool mask of the salient weights."""
        g_sum = {n: torch.zeros_like(p) for n, p in ft.params.items()}
        w = self.saliency_guidance
        for i in tqdm(range(0, len(x_f), self.batch_size), desc="salun saliency", leave=False):
            x_t, t, eps = noised(ft.scheduler, x_f[i : i + self.batch_size], ft.generator)
            c = c_f[i : i + self.batch_size]
            guided = (1 + w) * ft.unet(x_t, t, encoder_hidden_states=c).sample - w * ft.unet(
                x_t, t, encoder_hidden_states=ft.null.expand_as(c)
            ).sample
            grads = torch.autograd.grad(-F.mse_loss(guided, eps), list(ft.params.values()), allow_unused=True)
            for (n, _), g in zip(ft.params.items(), grads, strict=True):
                if g is not None:
                    g_sum[n] += g
        magnitudes = torch.cat([g.abs().flatten() for g in g_sum.values()])
        keep = max(1, int(self.saliency_share * len(magnitudes)))
        threshold = magnitudes.topk(keep).values.min()
        return {n: g.abs() >= threshold for n, g in g_sum.items()}

    def erase(self, pipe, concept, checkpoint_dir: Path | None = None) -> SalUnModel:
        start = time.perf_counter()
        ft = Finetuner(pipe, self, concept)
        pairs = concept.prompt_pairs(self.n_images, self.seed)
        forget, retain = [w for w, _ in pairs], [wo for _, wo in pairs]
        seeds = [self.seed + i for i in range(len(pairs))]
        x_f = sample_latents(pipe, forget, seeds, self.ddim_steps, self.image_guidance, desc="salun forget set")
        x_r = sample_latents(pipe, retain, seeds, self.ddim_steps, self.image_guidance, desc="salun retain set")
        c_f, c_r = ft.encode(forget), ft.encode(retain)
        mask = self.saliency_mask(ft, x_f, c_f)

        def step(iteration: int) -> dict:
            f = torch.randint(len(x_f), (self.batch_size,), generator=ft.generator)
            r = torch.randint(len(x_r), (self.batch_size,), generator=ft.generator)
            x_t, t, _ = noised(ft.scheduler, x_f[f], ft.generator)
            with torch.no_grad():
                pseudo = ft.unet(x_t, t, encoder_hidden_states=c_r[f]).sample
            forget_loss = F.mse_loss(ft.unet(x_t, t, encoder_hidden_states=c_f[f]).sample, pseudo)
            x_rt, t_r, eps_r = noised(ft.scheduler, x_r[r], ft.generator)
            retain_loss = F.mse_loss(ft.unet(x_rt, t_r, encoder_hidden_states=c_r[r]).sample, eps_r)
            loss = forget_loss + self.alpha * retain_loss
            loss.backward()
            for n, p in ft.params.items():
                if p.grad is not None:
                    p.grad *= mask[n]
            return {"loss": loss.item(), "forget_loss": forget_loss.item(), "retain_loss": retain_loss.item()}

        rows = train(ft, step, {}, checkpoint_dir, desc=f"SalUn {concept.name}")
        erased = finish(ft, SalUnModel, concept, self, rows, time.perf_counter() - start)
        erased.info["mask_share"] = float(sum(m.sum() for m in mask.values()) / sum(m.numel() for m in mask.values()))
        return erased


@ErasedModel.register
class SalUnModel(FineTunedModel):
    """The base pipeline with SalUn's fine-tuned UNet tensors (changed only where the mask allowed)."""

    method = "salun"
