"""Loading a Stable Diffusion pipeline, and seeded, batched, deterministic generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from erasure.manifest import verify_manifest
from erasure.paths import TINY_MODEL_DIR
from erasure.text import load_minilm

# The tiny profile's sampler: DDIM, 20 steps, guidance 5 (see notebooks/01_concept_world.ipynb).
TINY_SAMPLER = {"num_inference_steps": 20, "guidance_scale": 5.0}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def quiet(factory, *args, **kwargs):
    """Builds a diffusers object without its warnings (e.g. the one for `safety_checker=None`, which
    the tiny profile has no use for)."""
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        return factory(*args, **kwargs)
    finally:
        diffusers_logging.set_verbosity(verbosity)


def load_tiny_pipeline(folder: str | Path = TINY_MODEL_DIR, device: str = "cpu"):
    """The tiny Stable Diffusion as a real diffusers `StableDiffusionPipeline` (DDIM, no safety
    checker): the shipped UNet, VAE and scheduler (sha256-checked against MANIFEST.json) and the
    frozen MiniLM text encoder from its package."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    folder = Path(folder)
    verify_manifest(folder)
    tokenizer, text_encoder = load_minilm()
    pipe = quiet(
        StableDiffusionPipeline,
        vae=AutoencoderKL.from_pretrained(folder / "vae", dtype=torch.float32),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=UNet2DConditionModel.from_pretrained(folder / "unet", dtype=torch.float32),
        scheduler=DDIMScheduler.from_pretrained(folder / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


@torch.no_grad()
def generate(
    pipe,
    prompts: list[str] | torch.Tensor,
    seed: int = 0,
    batch_size: int = 32,
    num_inference_steps: int = TINY_SAMPLER["num_inference_steps"],
    guidance_scale: float = TINY_SAMPLER["guidance_scale"],
    progress: bool = True,
) -> np.ndarray:
    """Images for `prompts` (strings, or prompt embeddings (N, L, d) such as an attack's) as uint8
    (N, H, W, 3). Image i's initial noise comes from its own generator seeded `seed + i`, so it does
    not depend on the batch it falls in."""
    out = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="generate", disable=not progress, leave=False):
        batch = prompts[start : start + batch_size]
        generators = [torch.Generator("cpu").manual_seed(seed + start + i) for i in range(len(batch))]
        given = {"prompt_embeds": batch} if torch.is_tensor(batch) else {"prompt": batch}
        images = pipe(
            **given,
            generator=generators,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            output_type="np",
        ).images
        out.append((np.asarray(images) * 255).round().astype(np.uint8))
    return np.concatenate(out) if out else np.zeros((0, 0, 0, 3), np.uint8)
