"""The sd14 style judge: is an image in an artist's style (Van Gogh, for the papers' style tables)?

Two judges, each named with its top-k in every report:

- **CLIP zero-shot** (the default): CLIP's image embedding against "a painting by {artist}" for every
  artist of a list; an image shows the artist when the artist is among the k most similar. Any open_clip
  model works; `erasure.evaluate.openai_clip.load_openai_clip` loads ViT-L/14 (OpenAI weights) offline.
- **a WikiArt classifier** (an option): a transformers image-classification model given by its folder, as
  UnlearnDiffAtk's `style_eval.py` runs one (`pipeline("image-classification")`, labels such as
  `vincent-van-gogh`); an image shows the artist when its label is among the top k.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

#: Artists to tell Van Gogh from (the classic style-erasure set of ESD and UCE, and Van Gogh's contemporaries).
ARTISTS = (
    "Vincent van Gogh",
    "Pablo Picasso",
    "Claude Monet",
    "Salvador Dali",
    "Leonardo da Vinci",
    "Rembrandt",
    "Andy Warhol",
    "Kelly McKernan",
    "Thomas Kinkade",
    "Tyler Edlin",
    "Kilian Eng",
    "Paul Cezanne",
    "Paul Gauguin",
    "Edvard Munch",
    "Georges Seurat",
    "Henri Matisse",
)


def top_k_report(judge: str, artist: str, top_k: int, hits: np.ndarray) -> dict:
    """The share of images in which `artist` is among the judge's top k, with the judge and k named."""
    return {"judge": judge, "artist": artist, "top_k": top_k, "n_images": len(hits), "rate": float(hits.mean())}


class ClipArtistJudge:
    """Zero-shot: cosine of each image to "a painting by {artist}", artist among the top `top_k`."""

    def __init__(self, model, tokenizer, preprocess, artists: tuple[str, ...] = ARTISTS, top_k: int = 1):
        self.model, self.preprocess, self.artists, self.top_k = model, preprocess, tuple(artists), top_k
        self.device = next(model.parameters()).device
        with torch.no_grad():
            text = model.encode_text(tokenizer([f"a painting by {a}" for a in self.artists]).to(self.device))
        self.text = (text / text.norm(dim=-1, keepdim=True)).float().cpu()

    @torch.no_grad()
    def ranks(self, images: np.ndarray) -> np.ndarray:
        """(N, len(artists)) artist indices, most similar first."""
        x = torch.stack([self.preprocess(Image.fromarray(im)) for im in images])
        f = self.model.encode_image(x.to(self.device)).float().cpu()
        f = f / f.norm(dim=-1, keepdim=True)
        return (f @ self.text.T).argsort(dim=1, descending=True).numpy()

    def report(self, images: np.ndarray, artist: str = "Vincent van Gogh") -> dict:
        if artist not in self.artists:
            raise ValueError(f"{artist!r} is not among the judge's artists")
        hits = (self.ranks(images)[:, : self.top_k] == self.artists.index(artist)).any(axis=1)
        return top_k_report("CLIP zero-shot", artist, self.top_k, hits)


class WikiArtJudge:
    """A user's WikiArt classifier (a transformers image-classification folder); label among the top `top_k`."""

    def __init__(self, path: str | Path, top_k: int = 1, device: str = "cpu"):
        from transformers import pipeline

        if not Path(path).is_dir():
            raise FileNotFoundError(f"no WikiArt classifier folder at {path}")
        self.classify = pipeline("image-classification", model=str(path), device=device)
        self.top_k = top_k

    def report(self, images: np.ndarray, label: str = "vincent-van-gogh") -> dict:
        known = set(self.classify.model.config.id2label.values())
        if label not in known:
            raise ValueError(f"the classifier has no label {label!r}")
        tops = self.classify([Image.fromarray(im) for im in images], top_k=self.top_k)
        hits = np.array([any(p["label"] == label for p in top) for top in tops])
        return top_k_report("WikiArt classifier", label, self.top_k, hits)
