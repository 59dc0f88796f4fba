"""Stable Diffusion v1.4 for the sd14 profile: loading a user's copy, and a random SD-1.4-architecture
pipeline for tests and smoke runs where no weights are present.

- `load_sd14_pipeline`: a diffusers folder (`$ERASURE_SD14_PATH`, else the Hugging Face cache's
  `CompVis/stable-diffusion-v1-4` snapshot), offline, fp16 on a GPU and fp32 on a CPU, with DDIM as the
  papers' evaluations sample; a missing or broken folder is one error that says what to do.
- `write_sd14_shaped_pipeline`: SD v1.4's architecture (its UNet, VAE and CLIP text encoder configurations:
  block types, layer counts, attention layout, module names) with every width divided, random weights, and
  SD's own tokenizer, rebuilt from the OpenAI CLIP BPE file that `open_clip` ships (the same ids).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import torch

from erasure.check import SD14_REPO, sd14_folder_problems, sd14_weights_path

#: SD v1.4's text length and scheduler (its scheduler_config.json: PNDM over the scaled-linear betas).
MAX_LENGTH = 77
SCHEDULER_CONFIG = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "set_alpha_to_one": False,
}


def load_sd14_pipeline(folder: str | Path | None = None, device: str | None = None, dtype: torch.dtype = torch.float32):
    """SD v1.4 from `folder` (default: `$ERASURE_SD14_PATH` or the HF cache), on `device` (default: the
    GPU when there is one), DDIM sampler, no safety checker. float32 by default, as the authors' code trains
    and samples (the fine-tuning methods refuse anything else); float16 halves the memory of a run that only
    samples."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    path = Path(folder) if folder else sd14_weights_path()
    if path is None:
        raise FileNotFoundError(
            f"Stable Diffusion v1.4 was not found: set ERASURE_SD14_PATH to a diffusers folder of it, or put "
            f"{SD14_REPO} in the Hugging Face cache (`huggingface-cli download {SD14_REPO}` where there is a network)"
        )
    problems = sd14_folder_problems(path)
    if problems:
        raise FileNotFoundError(f"{path} is not a usable SD v1.4 folder: {'; '.join(problems)}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipe = StableDiffusionPipeline.from_pretrained(
        path, dtype=dtype, local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def clip_tokenizer():
    """SD v1.4's tokenizer (OpenAI CLIP's BPE, 49,408 tokens, 77 positions) built offline from the BPE
    merges file that `open_clip` ships; its ids are open_clip's (and so SD's)."""
    from open_clip.tokenizer import SimpleTokenizer, default_bpe
    from transformers import CLIPTokenizer

    names = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {names.get(token, token): i for token, i in SimpleTokenizer().encoder.items()}
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]  # open_clip's rows, header skipped
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_LENGTH)


def sd14_shaped_components(width_divisor: int = 8, seed: int = 0, latent_size: int = 8) -> dict:
    """The components of SD v1.4 with every channel width divided by `width_divisor` and random weights, for
    images of 8 x `latent_size` pixels (64x64 by default). `width_divisor=1, latent_size=64` is SD v1.4's full
    architecture at 512x512 (its 32 normalisation groups too)."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    def width(channels: int) -> int:
        return channels // width_divisor

    torch.manual_seed(seed)
    hidden = width(768)
    groups = 32 if width_divisor == 1 else 8
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=hidden,
            intermediate_size=4 * hidden,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=MAX_LENGTH,
            hidden_act="quick_gelu",
        )
    )
    unet = UNet2DConditionModel(
        sample_size=latent_size,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=tuple(width(c) for c in (320, 640, 1280, 1280)),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=hidden,
        attention_head_dim=8,
        norm_num_groups=groups,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=tuple(width(c) for c in (128, 256, 512, 512)),
        layers_per_block=2,
        latent_channels=4,
        norm_num_groups=groups,
        sample_size=8 * latent_size,
        scaling_factor=0.18215,
    )
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": clip_tokenizer(),
        "scheduler": PNDMScheduler(**SCHEDULER_CONFIG),
    }


def _pipeline(components: dict):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        **components, safety_checker=None, feature_extractor=None, requires_safety_checker=False
    )


def write_sd14_shaped_pipeline(folder: str | Path, width_divisor: int = 8, seed: int = 0) -> Path:
    """Saves the random SD-1.4-shaped pipeline as a diffusers folder (safetensors), as a user's copy of SD
    v1.4 would be laid out."""
    _pipeline(sd14_shaped_components(width_divisor, seed)).save_pretrained(folder, safe_serialization=True)
    return Path(folder)


def random_sd14_pipeline(width_divisor: int = 8, latent_size: int = 8, device: str = "cpu", seed: int = 0):
    """The random SD-1.4-shaped pipeline in memory, float32, with the DDIM sampler `load_sd14_pipeline` sets
    (for timings on the full architecture: `width_divisor=1, latent_size=64`)."""
    from diffusers import DDIMScheduler

    pipe = _pipeline(sd14_shaped_components(width_divisor, seed, latent_size))
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
