"""SLD, Safe Latent Diffusion (Schramowski et al., CVPR 2023): safety guidance at inference time, no
weight changed. Beside classifier-free guidance's eps_u + s_g (eps_c - eps_u), SLD predicts the noise
for a safety concept S (eps_S) and subtracts, element by element, a guidance term towards it:

    mu = where(eps_c - eps_S < threshold, min(s_S |eps_c - eps_S|, 1), 0)           (Eq. 4-5)
    gamma = mu (eps_S - eps_u) + s_m nu,   nu <- beta_m nu + (1 - beta_m) gamma       (Eq. 6-7, momentum)
    eps = eps_u + s_g (eps_c - eps_u - gamma)   from the warm-up step on

The pinned diffusers keeps `StableDiffusionPipelineSafe` only among its deprecated pipelines, without
prompt embeddings or the text encoder's attention mask, so SLD is implemented here as a forward hook on
the UNet: it returns eps_c - gamma for the conditional rows, and the pipeline's own CFG then gives Eq. 7
exactly, for any pipeline and for an attack's single denoising calls alike. Presets: docs/baselines.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from erasure.methods.base import ErasedModel
from erasure.methods.defaults import ProfileDefaults
from erasure.methods.hooks import integer_timestep, prompted_rows, unet_inputs
from erasure.methods.options import finite, require
from erasure.text import encode_prompts

#: The SLD paper's configurations (its Table 1; diffusers' `SafetyConfig`), warm-up in steps of 50.
PRESETS = {
    "weak": {
        "sld_guidance_scale": 200.0,
        "warmup_steps": 15,
        "threshold": 0.0,
        "momentum_scale": 0.0,
        "momentum_beta": 0.0,
    },
    "medium": {
        "sld_guidance_scale": 1000.0,
        "warmup_steps": 10,
        "threshold": 0.01,
        "momentum_scale": 0.3,
        "momentum_beta": 0.4,
    },
    "strong": {
        "sld_guidance_scale": 2000.0,
        "warmup_steps": 7,
        "threshold": 0.025,
        "momentum_scale": 0.5,
        "momentum_beta": 0.7,
    },
    "max": {
        "sld_guidance_scale": 5000.0,
        "warmup_steps": 0,
        "threshold": 1.0,
        "momentum_scale": 0.5,
        "momentum_beta": 0.7,
    },
}
#: The schedule length the presets' warm-up counts in.
PRESET_STEPS = 50


@dataclass(frozen=True)
class SLD(ProfileDefaults):
    """SLD; defaults are the paper's Medium preset (`preset=` picks another). The safety concept is the
    concept's training words, comma-separated, unless `safety_concept` is given (the paper's I2P text for
    nudity on sd14)."""

    name: ClassVar[str] = "sld"
    profile_options: ClassVar[tuple[str, ...]] = ("preset",)
    sld_guidance_scale: float = 1000.0  # s_S
    warmup_steps: int = 10  # delta, in steps of a 50-step schedule (scaled to the sampler's)
    threshold: float = 0.01  # lambda
    momentum_scale: float = 0.3  # s_m
    momentum_beta: float = 0.4  # beta_m
    safety_concept: str | None = None

    def __post_init__(self):
        require(
            finite(self.sld_guidance_scale) and self.sld_guidance_scale >= 0,
            self.name,
            f"sld_guidance_scale must be >= 0, got {self.sld_guidance_scale}",
        )
        require(self.warmup_steps >= 0, self.name, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        require(finite(self.threshold), self.name, f"threshold must be finite, got {self.threshold}")
        require(
            finite(self.momentum_scale) and self.momentum_scale >= 0,
            self.name,
            f"momentum_scale must be >= 0, got {self.momentum_scale}",
        )
        require(0 <= self.momentum_beta < 1, self.name, f"momentum_beta must be in [0, 1), got {self.momentum_beta}")

    @classmethod
    def preset(cls, level: str, **overrides) -> SLD:
        require(level in PRESETS, cls.name, f"preset must be one of {', '.join(PRESETS)}, got {level!r}")
        return cls(**{**PRESETS[level], **overrides})

    @classmethod
    def for_profile(cls, profile, **overrides) -> SLD:
        level = overrides.pop("preset", None)
        return cls.preset(level, **overrides) if level else super().for_profile(profile, **overrides)

    def safety_text(self, concept) -> str:
        return self.safety_concept if self.safety_concept is not None else ", ".join(concept.erase)

    def erase(self, pipe, concept) -> SLDModel:
        start = time.perf_counter()
        info = {"erase_seconds": time.perf_counter() - start, "safety_concept": self.safety_text(concept)}
        return SLDModel(pipe, concept.name, asdict(self), info)


class SafetyGuidance:
    """The forward hook that turns a UNet's conditional predictions into SLD's (see the module docstring).

    In a sampling run (a CFG batch: empty-prompt rows first, the same latents again with prompts) it keeps
    the momentum and counts steps for the warm-up; a run starts whenever the timestep does not decrease.
    Outside one (an attack's single call, or guidance off) each conditional row gets gamma without momentum
    or warm-up, its eps_u computed by one more UNet call."""

    def __init__(self, pipe, hp: dict, null: torch.Tensor, safety: torch.Tensor):
        self.unet, self.scheduler, self.hp, self.null, self.safety = pipe.unet, pipe.scheduler, hp, null, safety
        self.warmup = hp["warmup_steps"]
        self.inner = False
        self.last_t: int | None = None
        self.step = 0
        self.momentum: torch.Tensor | None = None
        self.handle = self.unet.register_forward_hook(self.hook, with_kwargs=True)

    def predict(self, x: torch.Tensor, t, embedding: torch.Tensor) -> torch.Tensor:
        self.inner = True
        try:
            return self.unet(x, t, encoder_hidden_states=embedding.expand(len(x), -1, -1).to(x.dtype)).sample
        finally:
            self.inner = False

    def gamma(self, eps_u: torch.Tensor, eps_c: torch.Tensor, eps_s: torch.Tensor, momentum) -> torch.Tensor:
        """Eq. 4-6: the element-wise safety guidance term, with momentum when given."""
        h = self.hp
        scale = torch.clamp((eps_c - eps_s).abs() * h["sld_guidance_scale"], max=1.0)
        mu = torch.where(eps_c - eps_s >= h["threshold"], torch.zeros_like(scale), scale)
        g = mu * (eps_s - eps_u)
        return g if momentum is None else g + h["momentum_scale"] * momentum

    def hook(self, module, args, kwargs, output):
        if self.inner:
            return output
        x, t, c = unet_inputs(args, kwargs)
        eps = output[0] if isinstance(output, tuple) else output.sample
        cond = prompted_rows(c, self.null)
        if not cond.any():
            return output
        h = len(x) // 2
        cfg = len(x) % 2 == 0 and not cond[:h].any() and cond[h:].all() and torch.equal(x[:h], x[h:])
        rows = cond.nonzero().flatten()
        eps_s = self.predict(x[rows], t, self.safety)
        new = eps.clone()
        if cfg:
            step_t = integer_timestep(t)
            fresh = (
                self.last_t is None
                or step_t >= self.last_t
                or self.momentum is None
                or self.momentum.shape != eps_s.shape
            )
            if fresh:  # a new sampling run: the warm-up in this schedule's steps
                self.step, self.momentum = 0, torch.zeros_like(eps_s)
                steps = self.scheduler.num_inference_steps or PRESET_STEPS
                self.warmup = round(self.hp["warmup_steps"] * steps / PRESET_STEPS)
            else:
                self.step += 1
            self.last_t = step_t
            g = self.gamma(eps[:h], eps[h:], eps_s, self.momentum)
            beta = self.hp["momentum_beta"]
            self.momentum = beta * self.momentum + (1 - beta) * g
            if self.step >= self.warmup:
                new[h:] = eps[h:] - g
        else:
            eps_u = self.predict(x[rows], t, self.null)
            new[rows] = eps[rows] - self.gamma(eps_u, eps[rows], eps_s, None)
        return (new, *output[1:]) if isinstance(output, tuple) else type(output)(sample=new)

    def remove(self) -> None:
        self.handle.remove()


@ErasedModel.register
class SLDModel(ErasedModel):
    """The base pipeline sampled with safety guidance: nothing is stored but the settings."""

    method = "sld"
    export_refusal = (
        "SLD changes no weights: its safety guidance acts while sampling, which a diffusers pipeline folder "
        "cannot carry; sample from the saved folder instead: `python -m erasure generate --erased PATH …`"
    )

    @contextmanager
    def applied(self) -> Iterator:
        pipe = self.base
        null = encode_prompts(pipe.tokenizer, pipe.text_encoder, [""])
        safety = encode_prompts(pipe.tokenizer, pipe.text_encoder, [self.info["safety_concept"]])
        guidance = SafetyGuidance(pipe, self.hyperparameters, null, safety)
        try:
            yield pipe
        finally:
            guidance.remove()

    def _save_files(self, folder) -> None:
        return None

    @classmethod
    def _load_files(cls, folder, base, record: dict) -> SLDModel:
        return cls(base, record["concept"], record["hyperparameters"], record["info"])
