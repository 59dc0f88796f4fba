"""AdvUnlearn (Zhang et al., NeurIPS 2024): robust erasure by adversarial training of the *text encoder*;
the UNet is untouched, so the erased text encoder plugs into any pipeline that shares it.

Per iteration, with the frozen UNet eps_0 and the text encoder E_theta being trained (E_0 the original):
1. z, t from the UNet under the concept's original embedding c_e = E_0(w) (ESD's data-free draw);
2. after `warmup` iterations, the attack: a soft prefix a (k word embeddings, fresh random tokens)
   optimised by Adam for `attack_steps` steps to min_a ||eps_0(z, t, E_theta([a] + w)) - eps_0(z, t, c_e)||^2
   (the unlearned model made to draw the concept again);
3. the unlearning loss at the adversarial prompt (ESD's target, Eq. 2):
   ||eps_0(z, t, E_theta([a] + w)) - (eps_0(z,t,null) - eta (eps_0(z,t,c_e) - eps_0(z,t,null)))||^2,
   plus `retain_weight` times the utility term ||eps_0(z_r, t_r, E_theta(r)) - eps_0(z_r, t_r, E_0(r))||^2
   on `retain_batch` retain prompts r; one Adam step on E_theta's chosen layers.
Values and deviations: docs/baselines.md.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from erasure.methods.base import ErasedModel
from erasure.methods.defaults import ProfileDefaults
from erasure.methods.finetune import FineTunedModel, Finetuner, finish, train
from erasure.methods.options import finite, require
from erasure.text import encode_with_prefix, random_token_embeddings

LAYERS = ("all", "first")
TEXT_DELTA_FILE = "text_encoder_changed.safetensors"


def text_encoder_parameters(text_encoder, layers: str) -> dict[str, torch.nn.Parameter]:
    """The parameters AdvUnlearn trains: every parameter of the encoder ("all", the released command's
    `text_encoder_full`), or those of its first transformer layer ("first", `text_encoder_layer0`)."""
    if layers == "all":
        return dict(text_encoder.named_parameters())
    blocks = next(
        (
            name
            for name, m in text_encoder.named_modules()
            if isinstance(m, torch.nn.ModuleList) and name.endswith(("layer", "layers"))
        ),
        None,
    )
    if blocks is None:
        raise ValueError("this text encoder has no list of transformer layers (…encoder.layer or …encoder.layers)")
    return {n: p for n, p in text_encoder.named_parameters() if n.startswith(f"{blocks}.0.")}


class TextEncoderFinetuner(Finetuner):
    """ESD's loop (`Finetuner`) with a trainable copy of the text encoder instead of the UNet: the UNet is
    the frozen base one, both for drawing z and for every prediction."""

    def __init__(self, pipe, hp, concept):
        from diffusers import DDIMScheduler

        self.pipe, self.hp, self.concept = pipe, hp, concept
        self.resumed_seconds = 0.0
        self.frozen = self.unet = pipe.unet.eval().requires_grad_(False)
        self.text_encoder = copy.deepcopy(pipe.text_encoder).eval().requires_grad_(False)
        self.params = text_encoder_parameters(self.text_encoder, hp.layers)
        for p in self.params.values():
            p.requires_grad_(True)
        self.initial = {n: p.detach().clone() for n, p in self.params.items()}
        self.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        self.scheduler.set_timesteps(hp.ddim_steps)
        self.generator = torch.Generator().manual_seed(hp.seed)
        self.null = self.encode([""])
        self.run_fingerprint = self._fingerprint()

    def encode_trained(self, prompts: list[str], prefix: torch.Tensor | None = None) -> torch.Tensor:
        """E_theta([a] + prompt), differentiable in E_theta's parameters and in the prefix a (B, k, d)."""
        if prefix is None:
            prefix = torch.zeros(len(prompts), 0, self.text_encoder.get_input_embeddings().embedding_dim)
        return encode_with_prefix(self.pipe.tokenizer, self.text_encoder, prompts, prefix)


@dataclass(frozen=True)
class AdvUnlearn(ProfileDefaults):
    """AdvUnlearn; sd14 defaults are the released code's and its README's command (1000 iterations, lr 1e-5,
    the whole text encoder, 200 warm-up iterations, a 1-token prefix attack of 30 Adam steps at 1e-3 from
    random tokens, retain weight 0.3 with 5 retain prompts per step)."""

    name: ClassVar[str] = "advunlearn"
    tiny: ClassVar[dict] = {
        "iterations": 200,
        "lr": 1e-4,
        "warmup": 50,
        "attack_steps": 10,
        "attack_lr": 1e-2,
        "retain_batch": 1,
        "ddim_steps": 20,
        "checkpoint_every": 50,
    }
    iterations: int = 1000
    lr: float = 1e-5
    layers: str = "all"
    warmup: int = 200
    attack_steps: int = 30
    attack_lr: float = 1e-3
    prefix_tokens: int = 1
    retain_weight: float = 0.3
    retain_batch: int = 5
    negative_guidance: float = 1.0  # eta
    ddim_steps: int = 50
    sample_guidance: float = 3.0
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self):
        require(self.layers in LAYERS, self.name, f"layers must be one of {', '.join(LAYERS)}, got {self.layers!r}")
        for key in ("iterations", "ddim_steps", "checkpoint_every", "prefix_tokens", "retain_batch"):
            require(getattr(self, key) >= 1, self.name, f"{key} must be at least 1, got {getattr(self, key)}")
        for key in ("warmup", "attack_steps", "seed"):
            require(getattr(self, key) >= 0, self.name, f"{key} must be >= 0, got {getattr(self, key)}")
        for key in ("lr", "attack_lr"):
            require(
                finite(getattr(self, key)) and getattr(self, key) > 0, self.name, f"{key} must be a positive number"
            )
        for key in ("retain_weight", "negative_guidance", "sample_guidance"):
            require(finite(getattr(self, key)) and getattr(self, key) >= 0, self.name, f"{key} must be a number >= 0")

    def erase(self, pipe, concept, checkpoint_dir: Path | None = None) -> AdvUnlearnModel:
        start = time.perf_counter()
        ft = TextEncoderFinetuner(pipe, self, concept)
        word = [concept.erase_prompt]
        c_e = ft.encode(word)
        retain = [wo for _, wo in concept.prompt_pairs(max(20, self.retain_batch), self.seed + 1)]
        state = {}

        def attack(z, t, y_concept) -> torch.Tensor:
            """Step 2: the adversarial prefix for this z, t (the text encoder as it is now)."""
            a = random_token_embeddings(ft.text_encoder, self.prefix_tokens, ft.generator)[None].requires_grad_(True)
            optimizer = torch.optim.Adam([a], lr=self.attack_lr)
            for _ in range(self.attack_steps):
                loss = F.mse_loss(ft.frozen(z, t, encoder_hidden_states=ft.encode_trained(word, a)).sample, y_concept)
                (grad,) = torch.autograd.grad(loss, [a])
                a.grad = grad
                optimizer.step()
            return a.detach()

        def retention() -> torch.Tensor:
            """The utility term on `retain_batch` retain prompts, each with its own z, t."""
            picks = torch.randint(len(retain), (self.retain_batch,), generator=ft.generator).tolist()
            losses = []
            for i in picks:
                c_r = ft.encode([retain[i]])
                z, t = ft.noisy_latent(c_r)
                with torch.no_grad():
                    reference = ft.frozen(z, t, encoder_hidden_states=c_r).sample
                trained = ft.frozen(z, t, encoder_hidden_states=ft.encode_trained([retain[i]])).sample
                losses.append(F.mse_loss(trained, reference))
            return torch.stack(losses).mean()

        def step(iteration: int) -> dict:
            z, t = ft.noisy_latent(c_e)
            target = ft.negative_target(z, t, c_e)
            prefix = None
            if iteration >= self.warmup and self.attack_steps > 0:
                with torch.no_grad():
                    y_concept = ft.frozen(z, t, encoder_hidden_states=c_e).sample
                prefix = attack(z, t, y_concept)
            unlearn = F.mse_loss(ft.frozen(z, t, encoder_hidden_states=ft.encode_trained(word, prefix)).sample, target)
            retain_loss = retention() if self.retain_weight > 0 else torch.zeros(())
            loss = unlearn + self.retain_weight * retain_loss
            loss.backward()
            return {"loss": loss.item(), "unlearn_loss": unlearn.item(), "retain_loss": retain_loss.item()}

        try:
            rows = train(ft, step, state, checkpoint_dir, desc=f"AdvUnlearn {concept.name}")
        finally:
            pipe.unet.eval()  # `noisy_latent` switches the model it samples with to train mode after a draw
        return finish(ft, AdvUnlearnModel, concept, self, rows, time.perf_counter() - start)


@ErasedModel.register
class AdvUnlearnModel(FineTunedModel):
    """The base pipeline with AdvUnlearn's text encoder (its changed tensors); the UNet is the base one."""

    method = "advunlearn"
    component = "text_encoder"
    delta_file = TEXT_DELTA_FILE
    files = (TEXT_DELTA_FILE,)
