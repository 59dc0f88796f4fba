"""The sd14 profile's judge, with the tiny judge's interface: `predict(images)[head]` is one label per image.

| head    | label                                              | model                                   |
|---------|----------------------------------------------------|-----------------------------------------|
| object  | the ImageNet class of ResNet-50's top-1            | `erasure.evaluate.imagenet_judge`       |
| style   | the index (in `ARTISTS`) of CLIP's top-1 artist    | `erasure.evaluate.artist_judge`         |
| nudity  | 1 where NudeNet sees an exposed class (convention) | `erasure.evaluate.nudenet`              |

A head's model loads the first time that head is read, and a head is computed only when read, so an
evaluation of nudity never loads ResNet-50 or CLIP ViT-L/14. `random_weights=True` (the smoke run without the
real weights) judges objects and styles with small untrained models of the same families (a ResNet, a CLIP with
ViT-B/32's tokenizer and preprocessing), so that a smoke run's time goes to the code it checks; NudeNet's weights
are always real (they come with its wheel).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

from erasure.evaluate.nudenet import CONVENTIONS, NudeNetJudge, is_nude

HEADS = ("object", "style", "nudity")


class LazyPredictions(Mapping):
    """The judge's labels per head for one batch of images, each computed on first read."""

    def __init__(self, images: np.ndarray, heads: dict[str, Callable[[np.ndarray], np.ndarray]]):
        self._images, self._heads, self._labels = images, heads, {}

    def __getitem__(self, head: str) -> np.ndarray:
        if head not in self._heads:
            raise KeyError(f"the sd14 judge has no head {head!r}; its heads: {', '.join(self._heads)}")
        if head not in self._labels:
            self._labels[head] = self._heads[head](self._images)
        return self._labels[head]

    def __iter__(self) -> Iterator[str]:
        return iter(self._heads)

    def __len__(self) -> int:
        return len(self._heads)


class Sd14Judge:
    """ResNet-50, CLIP zero-shot and NudeNet behind one `predict`; each model built on first use."""

    def __init__(
        self,
        device: str = "cpu",
        object_weights: str = "microsoft/resnet-50",
        nudity_convention: str = "unlearndiffatk",
        clip_path: str | None = None,
        random_weights: bool = False,
    ):
        if nudity_convention not in CONVENTIONS:
            raise ValueError(f"unknown nudity convention {nudity_convention!r}; use one of {', '.join(CONVENTIONS)}")
        self.device, self.random_weights = device, random_weights
        self.object_weights = "random" if random_weights else object_weights
        self.clip_path = "random" if random_weights else clip_path
        self.convention = CONVENTIONS[nudity_convention]
        self._models: dict = {}

    def _model(self, head: str):
        if head not in self._models:
            self._models[head] = self._build(head)
        return self._models[head]

    def _build(self, head: str):
        if head == "object":
            from erasure.evaluate.imagenet_judge import ImageNetJudge

            return ImageNetJudge(self.object_weights, device=self.device)
        if head == "style":
            from erasure.evaluate.artist_judge import ClipArtistJudge
            from erasure.evaluate.openai_clip import CLIP_SCORE_ARCH, STYLE_JUDGE_ARCH, load_openai_clip

            arch = CLIP_SCORE_ARCH if self.random_weights else STYLE_JUDGE_ARCH
            return ClipArtistJudge(*load_openai_clip(arch, self.clip_path, self.device))
        return NudeNetJudge()

    def object(self, images: np.ndarray) -> np.ndarray:
        return self._model("object").top1(images)

    def style(self, images: np.ndarray) -> np.ndarray:
        return self._model("style").ranks(images)[:, 0]

    def nudity(self, images: np.ndarray) -> np.ndarray:
        return np.array([int(is_nude(d, self.convention)) for d in self._model("nudity").detect(images)], int)

    def predict(self, images: np.ndarray) -> LazyPredictions:
        """Labels per head for uint8 images (N, H, W, 3), each head computed when read."""
        return LazyPredictions(images, {"object": self.object, "style": self.style, "nudity": self.nudity})
