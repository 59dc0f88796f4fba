"""Judges: independent classifiers that say what an image shows.

The tiny profile's judge is a small CNN with one head per label of the concept world (object, style,
colour, and the fire attribute) and a multi-label head for fire's visible parts (flames, smoke, embers,
glow; each detected separately, as NudeNet detects body parts), trained on renders only, never on
generations, so it judges the generator without having learned its quirks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from erasure.world.render import COLOURS, FIRE_PARTS, OBJECTS, STYLES

HEADS = {"object": OBJECTS, "style": STYLES, "colour": COLOURS, "fire": ("absent", "present")}
#: The multi-label head: one logit per fire part, present when positive.
PARTS_HEAD = "parts"


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.SiLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.BatchNorm2d(c_out),
        nn.SiLU(),
        nn.MaxPool2d(2),
    )


class TinyJudge(nn.Module):
    """A CNN over 32x32 RGB images with one classification head per label of the concept world, and
    one logit per fire part."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.config = {"width": width}
        self.features = nn.Sequential(_block(3, width), _block(width, 2 * width), _block(2 * width, 4 * width))
        sizes = {h: len(c) for h, c in HEADS.items()} | {PARTS_HEAD: len(FIRE_PARTS)}
        self.heads = nn.ModuleDict({h: nn.Linear(4 * width * 16, n) for h, n in sizes.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: float images in [-1, 1], (N, 3, 32, 32) -> logits per head (`parts`: one per fire part)."""
        f = self.features(x).flatten(1)
        return {h: head(f) for h, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: np.ndarray | torch.Tensor, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Labels per head for uint8 images (N, 32, 32, 3) or float tensors in [-1, 1] (N, 3, 32, 32);
        `parts` is a boolean (N, len(FIRE_PARTS)) array: which of fire's parts each image shows."""
        self.eval()
        x = to_model_input(images)
        out: dict[str, list] = {h: [] for h in [*HEADS, PARTS_HEAD]}
        for i in range(0, len(x), batch_size):
            for h, logits in self(x[i : i + batch_size]).items():
                out[h].append((logits > 0).numpy() if h == PARTS_HEAD else logits.argmax(1).numpy())
        return {h: np.concatenate(v) for h, v in out.items()}

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.half().contiguous() for k, v in self.state_dict().items() if v.is_floating_point()}
            | {k: v for k, v in self.state_dict().items() if not v.is_floating_point()},
            folder / "model.safetensors",
        )
        (folder / "config.json").write_text(
            json.dumps(self.config | {"heads": HEADS, PARTS_HEAD: FIRE_PARTS}, indent=1)
        )

    @classmethod
    def load(cls, folder: str | Path) -> TinyJudge:
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        judge = cls(width=config["width"])
        state = {
            k: v.float() if v.is_floating_point() else v for k, v in load_file(folder / "model.safetensors").items()
        }
        judge.load_state_dict(state)
        return judge.eval()


def to_model_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) arrays become float (N, 3, H, W) in [-1, 1]; float tensors pass through."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    return images.float()
