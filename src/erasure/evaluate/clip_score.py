"""CLIP score, and the tiny CLIP that computes it in the tiny profile.

CLIP score here is the mean cosine between image and prompt embeddings, *not* multiplied by 100
(the 0.3-scale that AdvUnlearn and AEGIS report). The tiny CLIP is an `open_clip.CLIP` with a small
custom configuration, trained by `erasure.world.train` on renders and captions; its image features
also serve as the feature space of the Fréchet distance (FD) in the tiny profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from erasure.evaluate.judges import to_model_input

TINY_CLIP_CONFIG = {
    "embed_dim": 128,
    "vision_cfg": {"layers": 4, "width": 128, "head_width": 32, "patch_size": 8, "image_size": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 3},
}


def build_tiny_clip(config: dict = TINY_CLIP_CONFIG):
    """A fresh tiny CLIP and its tokenizer (open_clip's BPE tokenizer, shipped inside open_clip)."""
    import open_clip

    model = open_clip.CLIP(**config)
    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=config["text_cfg"]["context_length"])
    return model, tokenizer


def save_tiny_clip(model, folder: str | Path, config: dict = TINY_CLIP_CONFIG) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config, indent=1))


def load_tiny_clip(folder: str | Path):
    folder = Path(folder)
    model, tokenizer = build_tiny_clip(json.loads((folder / "config.json").read_text()))
    model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()})
    return model.eval(), tokenizer


@torch.no_grad()
def clip_score(model, tokenizer, images: np.ndarray | torch.Tensor, prompts: list[str], batch_size: int = 256) -> float:
    """Mean cosine similarity between each image and its prompt (0.3-scale, not x100)."""
    return float(np.mean(clip_cosines(model, tokenizer, images, prompts, batch_size)))


@torch.no_grad()
def clip_cosines(model, tokenizer, images, prompts: list[str], batch_size: int = 256) -> np.ndarray:
    """Per-image cosine similarity between image and prompt embeddings."""
    x = to_model_input(images)
    out = []
    for i in range(0, len(x), batch_size):
        img = torch.nn.functional.normalize(model.encode_image(x[i : i + batch_size]), dim=-1)
        txt = torch.nn.functional.normalize(model.encode_text(tokenizer(prompts[i : i + batch_size])), dim=-1)
        out.append((img * txt).sum(-1).numpy())
    return np.concatenate(out)
