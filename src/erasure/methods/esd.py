"""ESD, Erasing Concepts from Diffusion Models (Gandikota et al., ICCV 2023), on diffusers.

The UNet is fine-tuned so that, prompted with the concept c_e, it predicts what the frozen model
predicts when guided *away* from c_e (Eq. 2): eps_theta(z, t, c_e) -> eps_0(z, t, null) -
eta * (eps_0(z, t, c_e) - eps_0(z, t, null)), with z drawn from the current model, no data.
ESD-u fine-tunes the non-cross-attention parameters, ESD-x the cross-attention.
It is both a baseline and the base AEGIS extends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch.nn.functional as F

from erasure.methods.base import ErasedModel
from erasure.methods.finetune import FineTunedModel, FinetuneHyperparameters, Finetuner, finish, train


@dataclass(frozen=True)
class ESD(FinetuneHyperparameters):
    """ESD; sd14 defaults are the paper's (1000 iterations, lr 1e-5, eta 1, ESD-u); tiny: `finetune.TINY`."""

    name: ClassVar[str] = "esd"
    trainable: str = "unet_noncross"

    def erase(self, pipe, concept, checkpoint_dir: Path | None = None) -> ESDModel:
        start = time.perf_counter()
        ft = Finetuner(pipe, self, concept)
        c_e = ft.encode([concept.erase_prompt])

        def step(iteration: int) -> dict:
            z, t = ft.noisy_latent(c_e)
            loss = F.mse_loss(ft.unet(z, t, encoder_hidden_states=c_e).sample, ft.negative_target(z, t, c_e))
            loss.backward()
            return {"loss": loss.item()}

        rows = train(ft, step, {}, checkpoint_dir, desc=f"ESD {concept.name}")
        return finish(ft, ESDModel, concept, self, rows, time.perf_counter() - start)


@ErasedModel.register
class ESDModel(FineTunedModel):
    method = "esd"
