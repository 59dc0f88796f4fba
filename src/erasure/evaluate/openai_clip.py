"""OpenAI's CLIP models on sd14, through open_clip, offline: the style judge's ViT-L/14 and the CLIP score's
ViT-B/32.

The CLIP score is the one AdvUnlearn and AEGIS report (computed with T2IBenchmark): the mean cosine between
each image's and its prompt's ViT-B/32 embeddings, on the 0.3 scale (not x100). open_clip's tokenizer
truncates a prompt past 77 tokens, where OpenAI's `clip.tokenize` would refuse it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

#: The CLIP score's model, and the style judge's.
CLIP_SCORE_ARCH = "ViT-B-32"
STYLE_JUDGE_ARCH = "ViT-L-14"
#: The random stand-in's towers (a smoke run without the weights): the architecture's family (OpenAI's tokenizer,
#: 224-pixel preprocessing, 32-pixel patches) at 2 layers of width 64, so that a smoke run's CPU time goes to the
#: code it checks rather than to judging with an untrained model.
RANDOM_TOWERS = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def load_openai_clip(arch: str = STYLE_JUDGE_ARCH, path: str | Path | None = None, device: str = "cpu"):
    """open_clip `arch` with OpenAI's weights, from `path` or open_clip's cache, offline:
    (model, tokenizer, preprocess). `path="random"`: small towers of the same family with random weights
    (`RANDOM_TOWERS`, the smoke run's)."""
    import open_clip

    if path == "random":
        torch.manual_seed(0)
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=None, device=device, **RANDOM_TOWERS
        )
        return model.eval(), open_clip.get_tokenizer(arch), preprocess
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


class ScoringClip:
    """An OpenAI CLIP behind the tiny CLIP's interface, so that `erasure.evaluate.clip_score` computes the sd14
    CLIP score: `encode_image` takes the pipeline's images as float (N, 3, H, W) in [-1, 1] (exactly the uint8
    images, rescaled) and passes each through OpenAI's preprocessing (bicubic resize to 224, centre crop, CLIP
    normalisation) as a PIL image; `encode_text` takes the tokenizer's ids."""

    def __init__(self, model, preprocess):
        self.model, self.preprocess = model, preprocess
        self.device = next(model.parameters()).device

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        images = ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        batch = torch.stack([self.preprocess(Image.fromarray(im)) for im in images]).to(self.device)
        return self.model.encode_image(batch).float().cpu()

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens.to(self.device)).float().cpu()


def load_scoring_clip(path: str | Path | None = None, device: str = "cpu"):
    """The CLIP score's model as the profile's `clip`: (ScoringClip of ViT-B/32, tokenizer)."""
    model, tokenizer, preprocess = load_openai_clip(CLIP_SCORE_ARCH, path, device)
    return ScoringClip(model, preprocess), tokenizer


class LazyScoringClip:
    """The pair `load_scoring_clip` gives, loaded the first time it is unpacked (`model, tokenizer = clip`), so
    that a profile loads without CLIP ViT-B/32 until a CLIP score is asked for."""

    def __init__(self, device: str = "cpu", path: str | None = None):
        self.device, self.path, self._pair = device, path, None

    def __iter__(self):
        if self._pair is None:
            self._pair = load_scoring_clip(self.path, self.device)
        return iter(self._pair)
