"""FID on sd14, as the AdvUnlearn and AEGIS papers compute it on COCO-10k (with T2IBenchmark):

1. each image is centre-cropped to a square, resized to 299x299 with PIL's bicubic filter and quantized to
   8 bits ("clean" resizing), then scaled to [-1, 1];
2. its feature is the 2048-d final pool of the FID Inception-v3: TensorFlow's 2015-12-05 Inception graph
   as pytorch-fid ports it (its patched blocks and its weights file `pt_inception-2015-12-05-6726825d.pth`);
3. FID is the Fréchet distance between the Gaussians of the generated and the real images' features
   (`erasure.evaluate.frechet`).

The weights are read from `$ERASURE_FID_INCEPTION` or torch's hub cache (where pytorch-fid and T2IBenchmark
keep them), with `torch.load(weights_only=True)`; nothing downloads at run time. The real images are
COCO-10k's (`$ERASURE_COCO_IMAGES`: the folder AdvUnlearn's README calls `data/imgs/coco_10k`); their
statistics are computed once per folder and kept in `.cache/fid/`, keyed by the folder's file names and sizes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_fid import inception as pytorch_fid
from tqdm.auto import tqdm

from erasure.evaluate.frechet import frechet_distance, gaussian_statistics
from erasure.paths import REPO_ROOT

INCEPTION_URL = pytorch_fid.FID_WEIGHTS_URL
INCEPTION_FILE = INCEPTION_URL.rsplit("/", 1)[-1]
INPUT_SIZE = 299
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
STATISTICS_CACHE = REPO_ROOT / ".cache" / "fid"


def inception_weights_path() -> Path:
    """`$ERASURE_FID_INCEPTION`, else torch's hub cache (`<torch hub>/checkpoints/pt_inception-...pth`)."""
    explicit = os.environ.get("ERASURE_FID_INCEPTION")
    return Path(explicit) if explicit else Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def missing_weights_message(path: Path) -> str:
    """What to do when the FID Inception weights are not at `path`."""
    return (
        f"the FID Inception weights are not at {path}; where there is a network, download them with "
        f"`python -c \"import torch; torch.hub.download_url_to_file('{INCEPTION_URL}', '{path}')\"`, "
        "or set ERASURE_FID_INCEPTION to a copy of that file"
    )


def fid_inception_v3() -> torch.nn.Module:
    """torchvision's Inception-v3 with pytorch-fid's TensorFlow-compatible blocks (1008 classes, no aux
    head), without weights."""
    net = pytorch_fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pytorch_fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pytorch_fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pytorch_fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pytorch_fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pytorch_fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pytorch_fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pytorch_fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pytorch_fid.FIDInceptionE_1(1280)
    net.Mixed_7c = pytorch_fid.FIDInceptionE_2(2048)
    return net


def load_fid_inception(path: str | Path | None = None, device: str = "cpu") -> torch.nn.Module:
    """The FID Inception-v3 with its weights (safe loading), its classifier removed: (N, 3, 299, 299) in
    [-1, 1] -> (N, 2048) pool features."""
    path = Path(path) if path else inception_weights_path()
    if not path.is_file():
        raise FileNotFoundError(missing_weights_message(path))
    net = fid_inception_v3()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.fc = torch.nn.Identity()
    return net.eval().requires_grad_(False).to(device)


def clean_resize(image: np.ndarray | Image.Image) -> np.ndarray:
    """Centre square crop, PIL bicubic to 299x299, quantized: (299, 299, 3) uint8."""
    x = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if x.ndim != 3 or x.shape[2] != 3 or x.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {x.dtype} {x.shape}")
    h, w = x.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(x[top : top + side, left : left + side])
    return np.asarray(square.resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC))


def to_inception_input(images: Iterable[np.ndarray | Image.Image]) -> torch.Tensor:
    """(N, 3, 299, 299) float in [-1, 1]."""
    x = torch.from_numpy(np.stack([clean_resize(im) for im in images])).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1


@torch.no_grad()
def inception_features(net: torch.nn.Module, images, batch_size: int = 50) -> np.ndarray:
    """(N, 2048) float64 features of a sequence of images (uint8 arrays or PIL images)."""
    device = next(net.parameters()).device
    images = list(images)
    batches = range(0, len(images), batch_size)
    out = [
        net(to_inception_input(images[i : i + batch_size]).to(device)).double().cpu().numpy()
        for i in tqdm(batches, desc="Inception features", leave=False)
    ]
    return np.concatenate(out) if out else np.zeros((0, 2048))


def image_files(folder: str | Path) -> list[Path]:
    """The images of `folder`, in name order; an error when there are none."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def folder_statistics(net: torch.nn.Module, folder: str | Path, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """μ, Σ of the features of every image in `folder`."""
    files = image_files(folder)

    def read(path: Path) -> Image.Image:
        with Image.open(path) as im:
            return im.convert("RGB")

    chunks = (files[i : i + 500] for i in range(0, len(files), 500))  # 500 decoded images at a time
    return gaussian_statistics(np.concatenate([inception_features(net, map(read, c), batch_size) for c in chunks]))


def coco_images_folder() -> Path | None:
    """`$ERASURE_COCO_IMAGES`, the real COCO-10k images; None when unset."""
    folder = os.environ.get("ERASURE_COCO_IMAGES")
    return Path(folder) if folder else None


def reference_statistics(
    net: torch.nn.Module, folder: str | Path, cache: str | Path = STATISTICS_CACHE
) -> tuple[np.ndarray, np.ndarray]:
    """`folder_statistics`, read from `cache` when this folder's files (names and sizes) were seen before,
    else computed and written there (whole or not at all)."""
    listing = "\n".join(f"{p.name}:{p.stat().st_size}" for p in image_files(folder))
    path = Path(cache) / f"{Path(folder).name}-{hashlib.sha256(listing.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stats:
            return stats["mu"], stats["sigma"]
    mu, sigma = folder_statistics(net, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, mu=mu, sigma=sigma)
    tmp.replace(path)
    return mu, sigma


def fid(net: torch.nn.Module, images, reference: tuple[np.ndarray, np.ndarray]) -> float:
    """FID of generated `images` against the reference statistics (μ, Σ) of the real images."""
    return frechet_distance(*gaussian_statistics(inception_features(net, images)), *reference)
