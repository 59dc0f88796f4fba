"""OpenAI's CLIP models on sd14, through open_clip, offline: the style judge's ViT-L/14 and the CLIP score's
ViT-B/32.

The CLIP score is the one AdvUnlearn and AEGIS report (computed with T2IBenchmark): the mean cosine between
each image's and its prompt's ViT-B/32 embeddings, on the 0.3 scale (not x100). open_clip's tokenizer
truncates a prompt past 77 tokens, where OpenAI's `clip.tokenize` would refuse it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

#: The CLIP score's model, and the style judge's.
CLIP_SCORE_ARCH = "ViT-B-32"
STYLE_JUDGE_ARCH = "ViT-L-14"


def load_openai_clip(arch: str = STYLE_JUDGE_ARCH, path: str | Path | None = None, device: str = "cpu"):
    """open_clip `arch` with OpenAI's weights, from `path` or open_clip's cache, offline:
    (model, tokenizer, preprocess)."""
    import open_clip

    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=str(path) if path else "openai", device=device
        )
    except (RuntimeError, OSError, ValueError) as e:
        where = f"at {path}" if path else "in open_clip's cache"
        raise FileNotFoundError(
            f"CLIP {arch} (OpenAI weights) is not {where}; download it where there is a network or give the path "
            "to its weights file"
        ) from e
    return model.eval(), open_clip.get_tokenizer(arch), preprocess


@torch.no_grad()
def openai_clip_cosines(model, tokenizer, preprocess, images, prompts: list[str], batch_size: int = 64) -> np.ndarray:
    """Per-image cosine between the image's and its prompt's embeddings; images are uint8 (H, W, 3) arrays."""
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(prompts), batch_size):
        x = torch.stack([preprocess(Image.fromarray(np.asarray(im))) for im in images[i : i + batch_size]])
        img = torch.nn.functional.normalize(model.encode_image(x.to(device)).float(), dim=-1)
        txt = torch.nn.functional.normalize(
            model.encode_text(tokenizer(prompts[i : i + batch_size]).to(device)).float(), dim=-1
        )
        out.append((img * txt).sum(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def openai_clip_score(model, tokenizer, preprocess, images, prompts: list[str]) -> float:
    """The CLIP score: the mean of `openai_clip_cosines` (0.3 scale)."""
    return float(openai_clip_cosines(model, tokenizer, preprocess, images, prompts).mean())
